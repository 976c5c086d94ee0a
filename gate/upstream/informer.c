/*
 * informer.c - production's watches feeding the twin (see informer.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate/base/clock.h"
#include "gate/upstream/informer.h"
#include "gate/base/log.h"
#include "twin/util.h"

enum { LINE_MAX_BYTES = 64 * 1024 * 1024 };   /* one event; a larger one ends the stream */

typedef struct kind_watch {
    struct gate_informer *inf;
    const twin_kind *k;
    pthread_t thread;
    int started;
    /* under inf->mu */
    int retired;       /* production stopped serving the kind (its CRD went): the thread ends, nothing waits for it */
    char *rv;          /* where the next watch starts: the last event's or bookmark's version; NULL: list again */
    int watching;      /* a stream is open and production answered 200 */
    long events, bookmarks, relists, errors;
    char last_error[640];
    /* the stream being read (the kind's thread only) */
    twin_buf line;
    long status;
    twin_buf errbody;  /* a non-200 answer's body, for the message */
    int gone, failed;
} kind_watch;

struct gate_informer {
    gate_informer_opts o;
    pthread_mutex_t mu;
    pthread_cond_t moved;   /* a kind's version moved, or the informer is stopping */
    int stopping;
    kind_watch **w;   /* each allocated once: a thread holds its own (kinds are added while others run) */
    size_t n, cap;
};

/* Whether w's thread should end (under nothing). */
static int done_with(kind_watch *w)
{
    pthread_mutex_lock(&w->inf->mu);
    int d = w->inf->stopping || w->retired;
    pthread_mutex_unlock(&w->inf->mu);
    return d;
}

static void set_error(kind_watch *w, const char *fmt, const char *what)
{
    pthread_mutex_lock(&w->inf->mu);
    w->errors++;
    w->watching = 0;
    snprintf(w->last_error, sizeof w->last_error, fmt, what);
    gate_log("watch of %s: %s", w->k->kind, w->last_error);
    pthread_mutex_unlock(&w->inf->mu);
}

/* The version an object, a bookmark or a list carries. */
static const char *rv_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* ---- listing (at start the server did it; after a 410, here) ---- */

/* "namespace/name" of an object (caller frees). */
static char *key_of(const json_t *d)
{
    const json_t *m = json_object_get(d, "metadata");
    const char *ns = json_string_value(json_object_get(m, "namespace")), *name = json_string_value(json_object_get(m, "name"));
    return twin_xasprintf("%s/%s", ns ? ns : "", name ? name : "");
}

/* What changed while the watch was away, told as its events would have. */
static void observe_relist(gate_informer *inf, const json_t *before, const json_t *items)
{
    twin_map old = {0};
    size_t i;
    json_t *d;
    json_array_foreach(before, i, d) {
        char *key = key_of(d);
        twin_map_put(&old, key, d);
        free(key);
    }
    json_array_foreach(items, i, d) {
        char *key = key_of(d);
        json_t *was = twin_map_del(&old, key);
        free(key);
        if (!was || !json_equal(was, d))
            inf->o.observe(inf->o.ud, was ? "MODIFIED" : "ADDED", was, d);
    }
    TWIN_MAP_FOREACH(&old, e)
        inf->o.observe(inf->o.ud, "DELETED", e->value, NULL);
    twin_map_clear(&old, NULL);
}

/* A page of a relist, gathered (the sync below needs the whole list to
 * find what production no longer has; the pages keep each answer small). */
static int gather(void *ud, json_t *items, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    json_array_extend(ud, items);
    return 0;
}

static int relist(kind_watch *w)
{
    gate_informer *inf = w->inf;
    char err[512], *rv = NULL;
    int absent = 0;
    json_t *items = json_array();
    if (gate_upstream_list_paged(inf->o.up, w->k, 500, gather, items, &rv, &absent, err, sizeof err) < 0) {
        json_decref(items);
        set_error(w, "list: %s", absent ? "production no longer serves this kind" : err);
        return -1;
    }
    pthread_rwlock_wrlock(inf->o.lock);
    json_t *before = inf->o.observe ? twin_list(inf->o.twin, TWIN_AFTER, w->k->kind, NULL, NULL, NULL, err, sizeof err)
                                    : NULL;
    int rc = twin_sync(inf->o.twin, w->k->kind, NULL, items, err, sizeof err);
    if (rc == 0 && inf->o.observe)
        observe_relist(inf, before, items);
    pthread_rwlock_unlock(inf->o.lock);
    json_decref(before);
    json_decref(items);
    if (rc < 0) {
        set_error(w, "list: %s", err);
        free(rv);
        return -1;
    }
    pthread_mutex_lock(&inf->mu);
    free(w->rv);
    w->rv = rv;
    w->relists++;
    pthread_cond_broadcast(&inf->moved);
    pthread_mutex_unlock(&inf->mu);
    return 0;
}

/* ---- one watch stream ---- */

static void on_head(void *ud, long status, const char *content_type)
{
    kind_watch *w = ud;
    (void)content_type;
    w->status = status;
    if (status == 410)
        w->gone = 1;
    if (status == 200) {
        pthread_mutex_lock(&w->inf->mu);
        w->watching = 1;
        w->last_error[0] = '\0';   /* recovered: a refusal must not repeat an old fault */
        pthread_cond_broadcast(&w->inf->moved);
        pthread_mutex_unlock(&w->inf->mu);
    }
}

/* Applies the events of complete lines: under the engine lock, once for
 * the lines one chunk brought. */
static int apply_lines(kind_watch *w, json_t *events)
{
    gate_informer *inf = w->inf;
    char err[512];
    const char *last = NULL;
    long applied = 0, marks = 0;
    size_t i;
    json_t *ev;
    int opened = 0, rc = 0;
    json_array_foreach(events, i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *obj = json_object_get(ev, "object");
        if (!type || !json_is_object(obj)) {
            snprintf(err, sizeof err, "an event without a type or an object");
            rc = -1;
            break;
        }
        if (!strcmp(type, "BOOKMARK")) {
            if (rv_of(obj))
                last = rv_of(obj), marks++;
            continue;
        }
        if (!strcmp(type, "ERROR")) {
            long code = (long)json_integer_value(json_object_get(obj, "code"));
            if (code == 410) {
                w->gone = 1;   /* too old: list again */
            } else {
                snprintf(err, sizeof err, "production's watch said %ld: %s", code,
                         json_string_value(json_object_get(obj, "message")) ? json_string_value(json_object_get(obj, "message")) : "");
                rc = -1;
            }
            break;
        }
        int deleted = !strcmp(type, "DELETED");
        if (!deleted && strcmp(type, "ADDED") && strcmp(type, "MODIFIED")) {
            snprintf(err, sizeof err, "an event of unknown type %s", type);
            rc = -1;
            break;
        }
        gate_upstream_typed(w->k, obj);
        if (!opened) {
            pthread_rwlock_wrlock(inf->o.lock);
            if (twin_sync_begin(inf->o.twin, err, sizeof err) < 0) {
                pthread_rwlock_unlock(inf->o.lock);
                rc = -1;
                break;
            }
            opened = 1;
        }
        json_t *before = NULL;
        int a = twin_sync_event(inf->o.twin, deleted, obj, &before, err, sizeof err);
        if (a < 0) {
            json_decref(before);
            rc = -1;
            break;
        }
        if (a > 0 && inf->o.observe)
            inf->o.observe(inf->o.ud, type, before, deleted ? NULL : obj);
        json_decref(before);
        applied++;
        if (rv_of(obj))
            last = rv_of(obj);
    }
    if (opened) {
        twin_sync_end(inf->o.twin);
        pthread_rwlock_unlock(inf->o.lock);
    }
    pthread_mutex_lock(&inf->mu);
    w->events += applied;
    w->bookmarks += marks;
    if (last && rc == 0 && !w->gone) {
        free(w->rv);
        w->rv = twin_xstrdup(last);
        pthread_cond_broadcast(&inf->moved);
    }
    if (rc < 0) {
        w->errors++;
        snprintf(w->last_error, sizeof w->last_error, "watch: %s", err);
        gate_log("watch of %s: %s", w->k->kind, w->last_error);
    }
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

static int on_data(void *ud, const char *p, size_t n)
{
    kind_watch *w = ud;
    if (w->status != 200) {   /* production's Status, for the message */
        if (w->errbody.len < 4096)
            twin_buf_add(&w->errbody, p, n);
        return 0;
    }
    twin_buf_add(&w->line, p, n);
    json_t *events = json_array();
    size_t start = 0;
    for (size_t i = 0; i < w->line.len; i++) {
        if (w->line.s[i] != '\n')
            continue;
        if (i > start) {
            json_error_t je;
            json_t *ev = json_loadb(w->line.s + start, i - start, 0, &je);
            if (!ev) {
                json_decref(events);
                set_error(w, "watch: a line that is not JSON: %s", je.text);
                w->failed = 1;
                return 1;
            }
            json_array_append_new(events, ev);
        }
        start = i + 1;
    }
    if (start) {
        memmove(w->line.s, w->line.s + start, w->line.len - start);
        w->line.len -= start;
    }
    int rc = json_array_size(events) ? apply_lines(w, events) : 0;
    json_decref(events);
    if (rc < 0)
        w->failed = 1;
    if (w->line.len > LINE_MAX_BYTES) {
        set_error(w, "watch: %s", "an event larger than 64 MiB");
        w->failed = 1;
    }
    return w->failed || w->gone;   /* non-zero ends the stream */
}

static int cancelled(void *ud)
{
    return done_with(ud);
}

static char *watch_path(const kind_watch *w, const char *rv, long seconds)
{
    const twin_kind *k = w->k;
    return *k->group ? twin_xasprintf("/apis/%s/%s/%s?watch=true&resourceVersion=%s&allowWatchBookmarks=true"
                                      "&timeoutSeconds=%ld",
                                      k->group, k->version, k->resource, rv, seconds)
                     : twin_xasprintf("/api/%s/%s?watch=true&resourceVersion=%s&allowWatchBookmarks=true"
                                      "&timeoutSeconds=%ld",
                                      k->version, k->resource, rv, seconds);
}

/* Sleeps up to seconds, or until the informer stops. */
static void pause_for(gate_informer *inf, double seconds)
{
    struct timespec until = gate_deadline(seconds);
    pthread_mutex_lock(&inf->mu);
    while (!inf->stopping && pthread_cond_timedwait(&inf->moved, &inf->mu, &until) == 0) {
        /* woken by another kind's progress: sleep on */
    }
    pthread_mutex_unlock(&inf->mu);
}

static void *run(void *arg)
{
    kind_watch *w = arg;
    gate_informer *inf = w->inf;
    double lo = inf->o.backoff_min > 0 ? inf->o.backoff_min : 0.8;
    double hi = inf->o.backoff_max > 0 ? inf->o.backoff_max : 30;
    double backoff = lo;
    unsigned seed = (unsigned)(uintptr_t)w ^ (unsigned)time(NULL);
    while (!done_with(w)) {
        pthread_mutex_lock(&inf->mu);
        char *rv = w->rv ? twin_xstrdup(w->rv) : NULL;
        pthread_mutex_unlock(&inf->mu);
        if (!rv) {
            if (relist(w) < 0) {
                pause_for(inf, backoff * (0.5 + (double)rand_r(&seed) / RAND_MAX));
                backoff = backoff * 2 < hi ? backoff * 2 : hi;
            }
            continue;
        }
        long seconds = inf->o.watch_seconds > 0 ? inf->o.watch_seconds : 300 + rand_r(&seed) % 300;
        char *path = watch_path(w, rv, seconds);
        free(rv);
        w->status = 0;
        w->gone = w->failed = 0;
        w->line.len = 0;
        w->errbody.len = 0;
        gate_upstream_sink sink = {on_head, on_data, cancelled, w, NULL};
        char err[512];
        double began = gate_mono();
        int rc = gate_upstream_stream(inf->o.up, path, "application/json", &sink, err, sizeof err);
        free(path);
        pthread_mutex_lock(&inf->mu);
        w->watching = 0;
        if (w->gone) {          /* 410 Gone: production no longer has our version */
            free(w->rv);
            w->rv = NULL;
        }
        pthread_mutex_unlock(&inf->mu);
        if (done_with(w))
            break;
        if (w->gone) {
            backoff = lo;
            continue;
        }
        if (rc == 0 && w->status == 200 && !w->failed) {
            /* the stream ran its time: watch again from where it ended */
            backoff = lo;
            if (gate_mono() - began > 1)
                continue;
            /* an immediate end is a fault, however clean: do not spin */
        } else if (w->status && w->status != 200) {
            char what[160];
            twin_buf_add(&w->errbody, "", 1);
            json_t *st = json_loads(w->errbody.s, 0, NULL);
            const char *msg = json_string_value(json_object_get(st, "message"));
            snprintf(what, sizeof what, "%ld %s", w->status, msg ? msg : "");
            json_decref(st);
            set_error(w, "watch: production answered %s", what);
        } else if (!w->failed) {
            set_error(w, "watch: %s", rc < 0 ? err : "the stream ended at once");
        }
        pause_for(inf, backoff * (0.5 + (double)rand_r(&seed) / RAND_MAX));
        backoff = backoff * 2 < hi ? backoff * 2 : hi;
    }
    return NULL;
}

/* ---- the informer ---- */

/* A new watch of k from rv (NULL: list first), in inf->w (under mu). */
static kind_watch *watch_new(gate_informer *inf, const twin_kind *k, const char *rv)
{
    if (inf->n == inf->cap) {
        inf->cap = inf->cap ? 2 * inf->cap : 16;
        inf->w = twin_xrealloc(inf->w, inf->cap * sizeof *inf->w);
    }
    kind_watch *w = twin_xcalloc(1, sizeof *w);
    w->inf = inf;
    w->k = k;
    w->rv = rv ? twin_xstrdup(rv) : NULL;
    inf->w[inf->n++] = w;
    return w;
}

int gate_informer_start(gate_informer **out, const gate_informer_opts *o, char *err, size_t errlen)
{
    gate_informer *inf = twin_xcalloc(1, sizeof *inf);
    inf->o = *o;
    pthread_mutex_init(&inf->mu, NULL);
    pthread_cond_init(&inf->moved, NULL);
    size_t n = twin_kind_count(o->twin);   /* the built-in kinds and those learnt from production */
    for (size_t i = 0; i < n; i++) {
        const twin_kind *k = twin_kind_at(o->twin, i);
        const char *rv = json_string_value(json_object_get(o->versions, k->kind));
        if (rv)   /* else production does not serve it: not watched */
            watch_new(inf, k, rv);
    }
    *out = inf;   /* before the threads: their observe hook may reach it (gate_informer_add) */
    for (size_t i = 0; i < inf->n; i++) {
        if (pthread_create(&inf->w[i]->thread, NULL, run, inf->w[i]) != 0) {
            snprintf(err, errlen, "cannot start the watch of %s", inf->w[i]->k->kind);
            gate_informer_stop(inf);
            *out = NULL;
            return -1;
        }
        inf->w[i]->started = 1;
    }
    return 0;
}

int gate_informer_add(gate_informer *inf, const twin_kind *k, char *err, size_t errlen)
{
    pthread_mutex_lock(&inf->mu);
    for (size_t i = 0; i < inf->n; i++)
        if (inf->w[i]->k == k && !inf->w[i]->retired) {
            pthread_mutex_unlock(&inf->mu);
            return 0;
        }
    if (inf->stopping) {
        pthread_mutex_unlock(&inf->mu);
        return snprintf(err, errlen, "the informer is stopping"), -1;
    }
    kind_watch *w = watch_new(inf, k, NULL);   /* listed first, then watched */
    w->started = pthread_create(&w->thread, NULL, run, w) == 0;
    int rc = w->started ? 1 : -1;
    if (!w->started) {
        w->retired = 1;
        snprintf(err, errlen, "cannot start the watch of %s", k->kind);
    }
    pthread_cond_broadcast(&inf->moved);
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

int gate_informer_retire(gate_informer *inf, const twin_kind *k)
{
    int n = 0;
    pthread_mutex_lock(&inf->mu);
    for (size_t i = 0; i < inf->n; i++)
        if (inf->w[i]->k == k && !inf->w[i]->retired) {
            inf->w[i]->retired = 1;
            inf->w[i]->watching = 0;
            n++;
        }
    pthread_cond_broadcast(&inf->moved);
    pthread_mutex_unlock(&inf->mu);
    return n;
}

void gate_informer_stop(gate_informer *inf)
{
    if (!inf)
        return;
    pthread_mutex_lock(&inf->mu);
    inf->stopping = 1;
    pthread_cond_broadcast(&inf->moved);
    pthread_mutex_unlock(&inf->mu);
    for (size_t i = 0; i < inf->n; i++) {
        kind_watch *w = inf->w[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        free(w->rv);
        twin_buf_free(&w->line);
        twin_buf_free(&w->errbody);
        free(w);
    }
    free(inf->w);
    pthread_cond_destroy(&inf->moved);
    pthread_mutex_destroy(&inf->mu);
    free(inf);
}

/* The first kind not watching (under mu), or NULL. */
static kind_watch *not_watching(gate_informer *inf)
{
    for (size_t i = 0; i < inf->n; i++)
        if (!inf->w[i]->retired && !inf->w[i]->watching)
            return inf->w[i];
    return NULL;
}

int gate_informer_ready(gate_informer *inf, double timeout, char *err, size_t errlen)
{
    struct timespec until = gate_deadline(timeout);
    pthread_mutex_lock(&inf->mu);
    kind_watch *w;
    while ((w = not_watching(inf)) && !inf->stopping)
        if (pthread_cond_timedwait(&inf->moved, &inf->mu, &until) != 0)
            break;
    w = not_watching(inf);
    if (w)
        snprintf(err, errlen, "the watch of %s is not open after %g s%s%s", w->k->kind, timeout,
                 w->last_error[0] ? ": " : "", w->last_error);
    pthread_mutex_unlock(&inf->mu);
    return w ? -1 : 0;
}

/* The first kind behind rv (under mu), or NULL. */
static kind_watch *behind(gate_informer *inf, const char *rv)
{
    for (size_t i = 0; i < inf->n; i++)
        if (!inf->w[i]->retired && (!inf->w[i]->rv || twin_rv_cmp(inf->w[i]->rv, rv) < 0))
            return inf->w[i];
    return NULL;
}

int gate_informer_wait(gate_informer *inf, const char *rv, double timeout, char *err, size_t errlen)
{
    struct timespec until = gate_deadline(timeout);
    pthread_mutex_lock(&inf->mu);
    kind_watch *w;
    int rc = 0;
    while ((w = behind(inf, rv)) && !inf->stopping) {
        if (pthread_cond_timedwait(&inf->moved, &inf->mu, &until) != 0) {
            w = behind(inf, rv);
            break;
        }
    }
    if (w) {
        snprintf(err, errlen,
                 "the twin has not caught up with production within %g s: %s is at resourceVersion %s, "
                 "production at %s%s%s",
                 timeout, w->k->kind, w->rv ? w->rv : "(listing again)", rv, w->last_error[0] ? "; " : "",
                 w->last_error);
        rc = -1;
    }
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

json_t *gate_informer_status(gate_informer *inf)
{
    json_t *out = json_array();
    pthread_mutex_lock(&inf->mu);
    for (size_t i = 0; i < inf->n; i++) {
        kind_watch *w = inf->w[i];
        if (w->retired)
            continue;
        json_array_append_new(out, json_pack("{s:s, s:s?, s:b, s:I, s:I, s:I, s:I, s:s?}", "kind", w->k->kind,
                                             "resourceVersion", w->rv, "watching", w->watching, "events",
                                             (json_int_t)w->events, "bookmarks", (json_int_t)w->bookmarks,
                                             "relists", (json_int_t)w->relists, "errors", (json_int_t)w->errors,
                                             "last_error", w->last_error[0] ? w->last_error : NULL));
    }
    pthread_mutex_unlock(&inf->mu);
    return out;
}
