/*
 * watch.c - watch streams from the twin's committed changes, or passed
 * through from production (see watch.h for the contract).
 *
 * A stream is a byte queue read by the front's stream reader (http.h).  The
 * reader takes what is queued; when nothing is, it suspends the connection
 * and returns 0; whoever adds to the queue (a publish, production, the tick,
 * the shutdown) resumes it.  Suspension and resumption both happen under the
 * hub's mutex, so a resume can never come before the suspend it answers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gate/base/clock.h"
#include "gate/kube/watch.h"
#include "twin/selector.h"
#include "gate/kube/redact.h"
#include "twin/twin.h"
#include "twin/util.h"

enum { WATCH_QUEUE_MAX = 8 * 1024 * 1024 };   /* a client that reads slower than this loses its stream */
#define WATCH_HEAD_LIMIT 30.0   /* seconds production has to answer a watch (its connect is bounded at 10) */

typedef struct event {
    long long rv;
    const char *type;   /* static */
    char *kind;
    json_t *obj;
} event;

typedef struct stream stream;
struct stream {
    gate_watch_hub *hub;
    gate_conn *conn;       /* NULL in-process */
    stream *next;
    int refs;              /* the response, and the production reader's thread */
    int suspended, done;
    double deadline;       /* 0 = none */
    twin_buf out;          /* queued bytes */
    size_t off;            /* of them, already sent */
    /* twin streams */
    char *kind, *ns;
    twin_selector *sel;
    twin_fieldsel *fs;
    long long cursor;      /* events up to this version were considered */
    int bookmarks;         /* allowWatchBookmarks: progress is told as BOOKMARK events */
    long long told;        /* the version of the last event or bookmark queued */
    gate_watch_render render;
    int redact;            /* Secret values are redacted (an agent without read_secrets) */
    twin_buf line;         /* production streams being redacted: the incomplete last line */
    /* production streams */
    int upstream;
    long status;
    char content_type[256];
    int headed;            /* production's status line arrived (or never will: err) */
    int head_wait;         /* the connection is suspended until it does */
    double head_until;     /* it is not waited for after this (gate_mono) */
    char err[256];
};

struct gate_watch_hub {
    pthread_mutex_t lock;
    pthread_cond_t headed;
    event *ring;
    size_t cap, start, len;   /* ring[start .. start+len) mod cap, oldest first */
    long long floor;          /* the ring holds every event after this version */
    long long now;            /* the twin's version at the last publish: a stream past the ring's end is there */
    stream *streams;
    size_t nstreams;
    int stopping;
};

gate_watch_hub *gate_watch_hub_new(size_t capacity, long long rv)
{
    gate_watch_hub *h = twin_xcalloc(1, sizeof(*h));
    h->floor = h->now = rv;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->headed, NULL);
    h->cap = capacity ? capacity : 1;
    h->ring = twin_xcalloc(h->cap, sizeof(event));
    return h;
}

static void event_clear(event *e)
{
    free(e->kind);
    json_decref(e->obj);
    memset(e, 0, sizeof *e);
}

void gate_watch_hub_free(gate_watch_hub *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->len; i++)
        event_clear(&h->ring[(h->start + i) % h->cap]);
    free(h->ring);
    pthread_cond_destroy(&h->headed);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* Wakes a suspended stream; the hub's lock is held. */
static void wake(stream *s)
{
    if (s->suspended) {
        s->suspended = 0;
        gate_conn_resume(s->conn);
    }
}

static void stream_unref(stream *s)
{
    gate_watch_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    int last = --s->refs == 0;
    if (last) {
        for (stream **p = &h->streams; *p; p = &(*p)->next)
            if (*p == s) {
                *p = s->next;
                h->nstreams--;
                break;
            }
    }
    pthread_mutex_unlock(&h->lock);
    if (!last)
        return;
    twin_buf_free(&s->out);
    twin_buf_free(&s->line);
    free(s->kind);
    free(s->ns);
    twin_selector_free(s->sel);
    twin_fieldsel_free(s->fs);
    free(s);
}

/* One line of the stream: {"type": T, "object": O}\n, O rendered as the
 * client asked (an ERROR event's Status and a BOOKMARK never are). The
 * lock is held. */
static void queue_event(stream *s, const char *type, const char *kind, const json_t *obj)
{
    int object = strcmp(type, "ERROR") && strcmp(type, "BOOKMARK");
    json_t *redacted = NULL;
    if (s->redact && object) {
        redacted = json_deep_copy(obj);
        gate_redact_secret_answer(redacted);
        obj = redacted;
    }
    json_t *rendered = s->render && object ? s->render(kind, obj) : NULL;
    json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", rendered ? rendered : obj);
    char *line = twin_xdumps(ev, JSON_COMPACT);
    twin_buf_add(&s->out, line, strlen(line));
    twin_buf_add(&s->out, "\n", 1);
    free(line);
    json_decref(ev);
    json_decref(rendered);
    json_decref(redacted);
}

static int matches(const stream *s, const event *e)
{
    if (strcmp(e->kind, s->kind))
        return 0;
    const char *ns = json_string_value(json_object_get(json_object_get(e->obj, "metadata"), "namespace"));
    if (s->ns && (!ns || strcmp(ns, s->ns)))
        return 0;
    if (!twin_selector_matches(s->sel, json_object_get(json_object_get(e->obj, "metadata"), "labels")))
        return 0;
    return !s->fs || twin_fieldsel_matches(s->fs, e->obj);
}

/* Moves what the ring holds past the stream's cursor into its queue; the
 * lock is held.  A cursor the ring has moved past gets 410 and ends. */
static void catch_up(stream *s)
{
    gate_watch_hub *h = s->hub;
    if (s->done)
        return;
    if (s->cursor < h->floor) {
        char *msg = twin_xasprintf("too old resource version: %lld (%lld)", s->cursor, h->floor);
        json_t *st = twin_status(410, "Expired", msg);
        queue_event(s, "ERROR", s->kind, st);
        json_decref(st);
        free(msg);
        s->done = 1;
        return;
    }
    /* the ring is in version order: start at the first event past the
     * cursor instead of walking the whole ring on every wake */
    size_t lo = 0, hi = h->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->ring[(h->start + mid) % h->cap].rv <= s->cursor)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i;
    for (i = lo; i < h->len && s->out.len - s->off < WATCH_QUEUE_MAX; i++) {
        event *e = &h->ring[(h->start + i) % h->cap];
        if (matches(s, e)) {
            queue_event(s, e->type, e->kind, e->obj);
            s->told = e->rv;
        }
        s->cursor = e->rv;
    }
    if (i == h->len && h->now > s->cursor)
        s->cursor = h->now;   /* every change up to now was considered */
    if (s->bookmarks && s->cursor > s->told) {
        /* progress without a change of this stream's: a bookmark, so that a
         * client (an informer) knows it has seen everything up to here.
         * The API server sends them about once a minute; this one after
         * every commit, which costs a line and spares its clients waiting */
        char rvs[32];
        snprintf(rvs, sizeof rvs, "%lld", s->cursor);
        json_t *mark = json_pack("{s:s, s:{s:s}}", "kind", s->kind, "metadata", "resourceVersion", rvs);
        queue_event(s, "BOOKMARK", s->kind, mark);
        json_decref(mark);
        s->told = s->cursor;
    }
}

static ssize_t reader(void *cls, char *buf, size_t max)
{
    stream *s = cls;
    gate_watch_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    if (!s->upstream && !h->stopping)
        catch_up(s);
    if (s->off < s->out.len) {
        size_t n = s->out.len - s->off < max ? s->out.len - s->off : max;
        memcpy(buf, s->out.s + s->off, n);
        s->off += n;
        if (s->off == s->out.len)
            s->off = s->out.len = 0;
        pthread_mutex_unlock(&h->lock);
        return (ssize_t)n;
    }
    if (s->done || h->stopping || (s->deadline && gate_mono() >= s->deadline)) {
        s->done = 1;
        pthread_mutex_unlock(&h->lock);
        return GATE_STREAM_END;
    }
    s->suspended = 1;
    gate_conn_suspend(s->conn);
    pthread_mutex_unlock(&h->lock);
    return GATE_STREAM_WAIT;
}

static void reader_free(void *cls)
{
    stream *s = cls;
    pthread_mutex_lock(&s->hub->lock);
    s->done = 1;   /* tells the production reader to stop */
    s->conn = NULL;   /* the connection goes with the response */
    pthread_mutex_unlock(&s->hub->lock);
    stream_unref(s);
}

static stream *stream_new(gate_watch_hub *h, gate_conn *c, long timeout_seconds)
{
    stream *s = twin_xcalloc(1, sizeof(*s));
    s->hub = h;
    s->conn = c;
    s->refs = 1;
    if (timeout_seconds > 0)
        s->deadline = gate_mono() + (double)timeout_seconds;
    return s;
}

static void stream_link(gate_watch_hub *h, stream *s)
{
    pthread_mutex_lock(&h->lock);
    s->next = h->streams;
    h->streams = s;
    h->nstreams++;
    pthread_mutex_unlock(&h->lock);
}

/* The response reads the stream. */
static void stream_response(stream *s, unsigned status, const char *content_type, gate_resp *r)
{
    r->status = status;
    snprintf(r->content_type, sizeof r->content_type, "%s", content_type);
    gate_resp_header(r, "Cache-Control", "no-cache, private");
    r->read = reader;
    r->done = reader_free;
    r->ctx = s;
}

/* ---- the twin's events ---- */

static int cmp_event(const void *a, const void *b)
{
    const event *x = a, *y = b;
    return x->rv < y->rv ? -1 : x->rv > y->rv;
}

void gate_watch_publish(gate_watch_hub *h, const json_t *diff, long long rv)
{
    size_t n = json_array_size(diff), k = 0;
    if (!n)
        return;
    event *v = twin_xcalloc(n, sizeof(event));
    size_t i;
    const json_t *c;
    json_array_foreach(diff, i, c) {
        const char *op = json_string_value(json_object_get(c, "op"));
        const char *kind = json_string_value(json_object_get(c, "kind"));
        const json_t *obj = json_object_get(c, op && !strcmp(op, "delete") ? "before" : "after");
        if (!op || !kind || !json_is_object(obj))
            continue;
        event *e = &v[k++];
        e->kind = twin_xstrdup(kind);
        if (!strcmp(op, "delete")) {
            /* a deleted object is sent as it was last, at the version of
             * its deletion (as the API server does) */
            e->obj = json_deep_copy(obj);
            char rvs[32];
            snprintf(rvs, sizeof rvs, "%lld", rv);
            json_t *meta = json_object_get(e->obj, "metadata");
            if (json_is_object(meta))
                json_object_set_new(meta, "resourceVersion", json_string(rvs));
            e->type = "DELETED";
            e->rv = rv;
        } else {
            e->obj = json_incref((json_t *)obj);
            e->type = !strcmp(op, "create") ? "ADDED" : "MODIFIED";
            const char *ov = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
            e->rv = ov ? atoll(ov) : rv;
        }
    }
    /* the change records are in name order; the ring is in version order */
    qsort(v, k, sizeof(event), cmp_event);
    pthread_mutex_lock(&h->lock);
    for (i = 0; i < k; i++) {
        long long last = h->len ? h->ring[(h->start + h->len - 1) % h->cap].rv : h->floor;
        if (v[i].rv < last)
            v[i].rv = last;
        if (h->len == h->cap) {
            h->floor = h->ring[h->start].rv;
            event_clear(&h->ring[h->start]);
            h->start = (h->start + 1) % h->cap;
            h->len--;
        }
        h->ring[(h->start + h->len) % h->cap] = v[i];
        h->len++;
    }
    if (rv > h->now)
        h->now = rv;
    for (stream *s = h->streams; s; s = s->next)
        if (!s->upstream)
            wake(s);
    pthread_mutex_unlock(&h->lock);
    free(v);
}

int gate_watch_twin(gate_watch_hub *h, gate_conn *c, const gate_watch_opts *o, const json_t *current,
                    long long current_rv, gate_resp *resp, char *err, size_t errlen)
{
    twin_selector *sel;
    twin_fieldsel *fs;
    if (twin_selectors_parse(&sel, &fs, o->label_selector, o->field_selector, err, errlen) < 0)
        return -1;
    const char *rv = o->resource_version;
    char *end = NULL;
    long long from = rv && *rv ? strtoll(rv, &end, 10) : 0;
    if (rv && *rv && (*end || from < 0)) {
        snprintf(err, errlen, "resourceVersion \"%s\" is not a version this server gave out", rv);
        twin_selector_free(sel);
        twin_fieldsel_free(fs);
        return -1;
    }
    stream *s = stream_new(h, c, o->timeout_seconds);
    s->kind = twin_xstrdup(o->kind);
    s->ns = o->ns && *o->ns ? twin_xstrdup(o->ns) : NULL;
    s->sel = sel;
    s->fs = fs;
    s->render = o->render;
    s->redact = o->redact_secrets;
    s->bookmarks = o->bookmarks;
    if (from == 0) {
        /* no version (or "0", any version): the current objects first, as
         * synthetic ADDED events, then what changes after them */
        size_t i;
        const json_t *obj;
        json_array_foreach(current, i, obj)
            queue_event(s, "ADDED", o->kind, obj);
        s->cursor = s->told = current_rv;
    } else {
        s->cursor = s->told = from;
    }
    stream_link(h, s);
    stream_response(s, 200, "application/json", resp);
    return 0;
}

/* ---- production's stream ---- */

static int up_data(void *ud, const char *p, size_t n)
{
    stream *s = ud;
    pthread_mutex_lock(&s->hub->lock);
    int stop = s->done || s->hub->stopping || s->out.len - s->off + n > WATCH_QUEUE_MAX ||
               s->line.len + n > WATCH_QUEUE_MAX;
    if (!stop && !s->redact) {
        twin_buf_add(&s->out, p, n);
        wake(s);
    } else if (!stop) {
        /* one event a line: each complete line is parsed, redacted and
         * passed on; anything that is not a JSON event ends the stream
         * (fail closed: it could carry what may not be read) */
        twin_buf_add(&s->line, p, n);
        size_t start = 0;
        for (size_t i = 0; i < s->line.len && !stop; i++) {
            if (s->line.s[i] != '\n')
                continue;
            json_t *ev = i > start ? json_loadb(s->line.s + start, i - start, 0, NULL) : NULL;
            if (i > start && !json_is_object(ev)) {
                stop = 1;
            } else if (ev) {
                gate_redact_secret_answer(ev);
                char *text = json_dumps(ev, JSON_COMPACT);
                if (text) {
                    twin_buf_add(&s->out, text, strlen(text));
                    twin_buf_add(&s->out, "\n", 1);
                    free(text);
                } else {
                    stop = 1;
                }
            }
            json_decref(ev);
            start = i + 1;
        }
        memmove(s->line.s, s->line.s + start, s->line.len - start);
        s->line.len -= start;
        wake(s);
    }
    pthread_mutex_unlock(&s->hub->lock);
    return stop;
}

static int up_cancelled(void *ud)
{
    stream *s = ud;
    pthread_mutex_lock(&s->hub->lock);
    int stop = s->done || s->hub->stopping || (s->deadline && gate_mono() >= s->deadline) ||
               (s->conn && gate_conn_gone(s->conn));   /* the client went: so does production's stream */
    pthread_mutex_unlock(&s->hub->lock);
    return stop;
}

/* Production's status line arrived, or it never will: a connection
 * waiting for it is resumed (the lock is held). */
static void headed(stream *s, const char *why)
{
    if (s->headed)
        return;
    if (why)
        snprintf(s->err, sizeof s->err, "%s", why);
    s->headed = 1;
    pthread_cond_broadcast(&s->hub->headed);
    if (s->head_wait) {
        s->head_wait = 0;
        gate_conn_resume(s->conn);
    }
}

static void up_head(void *ud, long status, const char *content_type)
{
    stream *s = ud;
    pthread_mutex_lock(&s->hub->lock);
    s->status = status;
    snprintf(s->content_type, sizeof s->content_type, "%s", content_type);
    headed(s, NULL);
    pthread_mutex_unlock(&s->hub->lock);
}

static void up_end(void *ud, int rc, const char *why)
{
    stream *s = ud;
    pthread_mutex_lock(&s->hub->lock);
    headed(s, rc < 0 && why ? why : "production closed the connection");
    s->done = 1;
    wake(s);
    pthread_mutex_unlock(&s->hub->lock);
    stream_unref(s);
}

gate_watch_pass *gate_watch_upstream_start(gate_watch_hub *h, gate_conn *c, gate_upstream *u,
                                           const char *path_query, const char *accept, int redact_secrets)
{
    stream *s = stream_new(h, c, 0);
    s->upstream = 1;
    s->redact = redact_secrets;
    s->refs = 2;   /* the caller (then the response), and the pump until on_end */
    s->head_until = gate_mono() + WATCH_HEAD_LIMIT;
    stream_link(h, s);
    gate_upstream_sink sink = {up_head, up_data, up_cancelled, s, up_end};
    gate_upstream_stream_start(u, path_query, accept ? accept : "application/json", &sink);
    return (gate_watch_pass *)s;
}

int gate_watch_upstream_answer(gate_watch_pass *p, gate_resp *resp, char *err, size_t errlen)
{
    stream *s = (stream *)p;
    gate_watch_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    if (!s->headed && s->conn) {   /* no thread waits: the connection does, resumed by headed() */
        s->head_wait = 1;
        gate_conn_suspend(s->conn);
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    struct timespec until = gate_deadline(WATCH_HEAD_LIMIT);   /* in-process: the caller waits */
    int rc = 0;
    while (!s->headed && rc == 0)
        rc = pthread_cond_timedwait(&h->headed, &h->lock, &until);
    headed(s, "production did not answer the watch within 30 s");
    int failed = s->err[0] != 0;
    if (failed) {
        snprintf(err, errlen, "%s", s->err);
        s->done = 1;   /* the pump ends it at its next round */
    }
    unsigned status = (unsigned)s->status;
    pthread_mutex_unlock(&h->lock);
    if (failed) {
        stream_unref(s);
        return -1;
    }
    stream_response(s, status, s->content_type[0] ? s->content_type : "application/json", resp);
    return 1;
}

void gate_watch_upstream_drop(gate_watch_pass *p)
{
    stream *s = (stream *)p;
    pthread_mutex_lock(&s->hub->lock);
    s->done = 1;
    s->head_wait = 0;
    s->conn = NULL;
    pthread_mutex_unlock(&s->hub->lock);
    stream_unref(s);
}

/* ---- time and shutdown ---- */

void gate_watch_tick(gate_watch_hub *h)
{
    double t = gate_mono();
    pthread_mutex_lock(&h->lock);
    for (stream *s = h->streams; s; s = s->next) {
        if (s->head_wait && t >= s->head_until)
            headed(s, "production did not answer the watch within 30 s");
        else if (s->head_wait && gate_conn_gone(s->conn))
            headed(s, "the client went before production answered");
        if (s->deadline && t >= s->deadline) {
            wake(s);
        } else if (s->suspended && s->conn && gate_conn_gone(s->conn)) {
            s->done = 1;   /* the client went while nothing was sent: end it */
            wake(s);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

void gate_watch_stop(gate_watch_hub *h)
{
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    for (stream *s = h->streams; s; s = s->next) {
        if (s->upstream)
            headed(s, "the gate is stopping");
        wake(s);
    }
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < 100 && gate_watch_count(h); i++)
        usleep(10 * 1000);
}

size_t gate_watch_count(gate_watch_hub *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->nstreams;
    pthread_mutex_unlock(&h->lock);
    return n;
}
