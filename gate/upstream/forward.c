/*
 * forward.c - production, through libcurl: one reused handle (connection
 * reuse), Airlock's own credentials, timeouts, and the answer passed back
 * unchanged.  The agent's token never leaves the gate and production's
 * token is never logged.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/base/clock.h"
#include "gate/base/fault.h"
#include "gate/upstream/forward.h"
#include "twin/util.h"

enum { POOL = 8 };

/* A streamed GET (a watch): see "streams" below. */
typedef struct stream_ctx {
    CURL *c;
    struct curl_slist *h;
    char *url;
    gate_upstream_sink s;   /* a copy */
    char content_type[256];
    int headed;
    struct stream_ctx *next;   /* the pump's lists */
} stream_ctx;
static void stream_free(stream_ctx *x);

struct gate_upstream {
    /* handles kept between calls (connection reuse), one per concurrent
     * caller at most; a caller beyond the pool gets a fresh one */
    pthread_mutex_t lock;
    CURL *idle[POOL];
    int nidle;
    char *url;         /* without a trailing slash */
    char *auth;        /* "Authorization: Bearer ..." */
    char *ca;
    int insecure;
    const gate_upstream_fake *fake;   /* in-process production (tests): no network */
    volatile int aborted;             /* gate_upstream_abort: every call ends at once */
    double timeout;                   /* seconds of one call; 0: 10 */
    /* under lock: production known down since (gate_now; 0 = up), and why */
    double down_since;
    char down_why[200];
    /* the pump (gate_upstream_stream_start), started with the first stream */
    CURLM *multi;
    pthread_t pump;
    int pumping, pump_stop;
    stream_ctx *incoming, *active;   /* incoming under lock; active the pump's own */
    int nactive;                             /* under lock */
    pthread_cond_t drained;                  /* no stream is left */
};

void gate_upstream_set_timeout(gate_upstream *u, double seconds)
{
    if (u)
        u->timeout = seconds > 0 ? seconds : 0;
}

int gate_upstream_down(gate_upstream *u, char *why, size_t n)
{
    if (!u)
        return 0;
    pthread_mutex_lock(&u->lock);
    int down = u->down_since > 0;
    if (down && why)
        snprintf(why, n, "production is down (for %.0f s: %s)", gate_now() - u->down_since, u->down_why);
    pthread_mutex_unlock(&u->lock);
    return down;
}

/* What a failed call says of production: down when it could not be
 * reached or did not answer (not when the gate is stopping). */
static void mark_down(gate_upstream *u, CURLcode rc)
{
    if (rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST && rc != CURLE_OPERATION_TIMEDOUT &&
        rc != CURLE_SSL_CONNECT_ERROR && rc != CURLE_SEND_ERROR && rc != CURLE_RECV_ERROR && rc != CURLE_GOT_NOTHING)
        return;
    pthread_mutex_lock(&u->lock);
    if (!u->down_since) {
        u->down_since = gate_now();
        snprintf(u->down_why, sizeof u->down_why, "%s", curl_easy_strerror(rc));
    }
    pthread_mutex_unlock(&u->lock);
}

static char *read_token(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read the upstream token file %s", path);
        return NULL;
    }
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (!n) {
        snprintf(err, errlen, "the upstream token file %s is empty", path);
        return NULL;
    }
    return twin_xstrdup(buf);
}

int gate_upstream_open(gate_upstream **out, const char *url, const char *token_file, const char *ca_file,
                       int insecure, char *err, size_t errlen)
{
    if (strncmp(url, "https://", 8)) {
        snprintf(err, errlen, "--upstream must be an https:// URL (got %s)", url);
        return -1;
    }
    if (!token_file) {
        snprintf(err, errlen, "--upstream needs --upstream-token-file");
        return -1;
    }
    if (!ca_file && !insecure) {
        snprintf(err, errlen, "--upstream needs --upstream-ca FILE or --upstream-insecure");
        return -1;
    }
    char *token = read_token(token_file, err, errlen);
    if (!token)
        return -1;
    gate_upstream *u = twin_xcalloc(1, sizeof(*u));
    pthread_mutex_init(&u->lock, NULL);
    u->url = twin_xstrdup(url);
    size_t n = strlen(u->url);
    while (n && u->url[n - 1] == '/')
        u->url[--n] = '\0';
    u->auth = twin_xasprintf("Authorization: Bearer %s", token);
    memset(token, 0, strlen(token));
    free(token);
    u->ca = twin_xstrdup(ca_file);
    u->insecure = insecure;
    pthread_cond_init(&u->drained, NULL);
    *out = u;
    return 0;
}

gate_upstream *gate_upstream_open_fake(const gate_upstream_fake *fake)
{
    gate_upstream *u = twin_xcalloc(1, sizeof *u);
    pthread_mutex_init(&u->lock, NULL);
    u->url = twin_xstrdup("https://production.invalid");
    u->fake = fake;
    pthread_cond_init(&u->drained, NULL);
    return u;
}

void gate_upstream_close(gate_upstream *u)
{
    if (!u)
        return;
    if (u->pumping) {   /* what it still runs ends (on_end) */
        pthread_mutex_lock(&u->lock);
        u->pump_stop = 1;
        pthread_mutex_unlock(&u->lock);
        curl_multi_wakeup(u->multi);
        pthread_join(u->pump, NULL);
    }
    while (u->incoming) {   /* started after the pump stopped: never added */
        stream_ctx *x = u->incoming;
        u->incoming = x->next;
        x->s.on_end(x->s.ud, -1, "the gate is stopping");
        stream_free(x);
    }
    if (u->multi)
        curl_multi_cleanup(u->multi);
    for (int i = 0; i < u->nidle; i++)
        curl_easy_cleanup(u->idle[i]);
    pthread_cond_destroy(&u->drained);
    pthread_mutex_destroy(&u->lock);
    free(u->url);
    if (u->auth)
        memset(u->auth, 0, strlen(u->auth));
    free(u->auth);
    free(u->ca);
    free(u);
}

/* How every call reaches production: https only, its CA (or none, when
 * insecure was asked for), a bounded connect, no signals from threads. */
static void set_connection(const gate_upstream *u, CURL *c)
{
    /* the TLS handshake included: a production busy with reconnecting
     * watches (after a network fault) may take seconds */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    if (u->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        /* production's CA and no other: not the system's directory of
         * public CAs as well (libcurl's default CA path), which GnuTLS
         * would also load for every connection, about 3.8 MiB each */
        curl_easy_setopt(c, CURLOPT_CAINFO, u->ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    gate_upstream_sinkbuf *s = ud;
    size_t n = size * nmemb;
    if (s->body->len + n > s->max) {
        s->too_big = 1;
        return 0;
    }
    twin_buf_add(s->body, p, n);
    return n;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
    size_t n = size * nitems;
    char *ct = ud;
    if (n > 13 && !strncasecmp(p, "Content-Type:", 13)) {
        const char *v = p + 13;
        while (*v == ' ')
            v++;
        size_t l = n - (size_t)(v - p);
        while (l && (v[l - 1] == '\r' || v[l - 1] == '\n'))
            l--;
        snprintf(ct, 256, "%.*s", (int)l, v);
    }
    return n;
}

void gate_upstream_collect(void *easy, gate_upstream_answer *ans, gate_upstream_sinkbuf *s, size_t max)
{
    *s = (gate_upstream_sinkbuf){&ans->body, max, 0};
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, (void *)ans->content_type);
}

void gate_upstream_abort(gate_upstream *u)
{
    if (!u)
        return;
    __atomic_store_n(&u->aborted, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&u->lock);
    if (u->pumping) {   /* the pump ends its streams at its next round */
        curl_multi_wakeup(u->multi);
        struct timespec until = gate_deadline(5);
        int rc = 0;
        while ((u->nactive || u->incoming) && rc == 0)
            rc = pthread_cond_timedwait(&u->drained, &u->lock, &until);
    }
    pthread_mutex_unlock(&u->lock);
}

/* libcurl's progress callback, at least once a second: an aborted
 * upstream ends its calls. */
static int call_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const gate_upstream *u = ud;
    return __atomic_load_n(&u->aborted, __ATOMIC_RELAXED);
}

static int call(gate_upstream *u, const char *method, const char *path_query, const char *content_type,
                const char *accept, const char *body, size_t len, gate_upstream_answer *ans, long timeout_ms,
                char *err, size_t errlen);

int gate_upstream_call(gate_upstream *u, const char *method, const char *path_query, const char *content_type,
                       const char *accept, const char *body, size_t len, gate_upstream_answer *ans, char *err,
                       size_t errlen)
{
    memset(ans, 0, sizeof *ans);
    int fault = gate_fault("upstream.call");
    if (fault) {   /* refused before anything was sent, or cut after it went out */
        snprintf(err, errlen, "%s", strerror(fault));
        ans->maybe_sent = fault != ECONNREFUSED;
        return -1;
    }
    if (u->fake)
        return u->fake->call(u->fake->ud, method, path_query, content_type, body, len, ans, err, errlen);
    if (gate_upstream_down(u, err, errlen))
        return -1;   /* fail fast: nothing sent */
    long ms = (long)(1000 * (u->timeout > 0 ? u->timeout : 10));
    return call(u, method, path_query, content_type, accept, body, len, ans, ms, err, errlen);
}

int gate_upstream_probe(gate_upstream *u)
{
    if (!u || u->fake || !gate_upstream_down(u, NULL, 0))
        return 0;
    gate_upstream_answer a;
    char e[256];
    memset(&a, 0, sizeof a);
    if (call(u, "GET", "/version", NULL, "application/json", NULL, 0, &a, 2000L, e, sizeof e) < 0)
        return 0;
    gate_upstream_answer_free(&a);
    pthread_mutex_lock(&u->lock);
    u->down_since = 0;
    pthread_mutex_unlock(&u->lock);
    return 1;
}

static int call(gate_upstream *u, const char *method, const char *path_query, const char *content_type,
                const char *accept, const char *body, size_t len, gate_upstream_answer *ans, long timeout_ms,
                char *err, size_t errlen)
{
    pthread_mutex_lock(&u->lock);
    CURL *c = u->nidle ? u->idle[--u->nidle] : NULL;
    pthread_mutex_unlock(&u->lock);
    if (!c)
        c = curl_easy_init();
    else
        curl_easy_reset(c);
    char *url = twin_xasprintf("%s%s", u->url, path_query);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, u->auth);
    char *ct = content_type ? twin_xasprintf("Content-Type: %s", content_type) : NULL;
    char *ac = twin_xasprintf("Accept: %s", accept ? accept : "application/json");
    if (ct)
        h = curl_slist_append(h, ct);
    h = curl_slist_append(h, ac);
    h = curl_slist_append(h, "Expect:");
    gate_upstream_sinkbuf s;
    gate_upstream_collect(c, ans, &s, GATE_UPSTREAM_MAX);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, call_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, u);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    set_connection(u, c);
    if (body && len) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") && strcmp(method, "DELETE")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
    } else {
        long sent = 0;   /* bytes of request headers sent */
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
        ans->maybe_sent = sent > 0;
        if (!u->aborted)
            mark_down(u, rc);
    }
    pthread_mutex_lock(&u->lock);
    if (u->nidle < POOL)
        u->idle[u->nidle++] = c;
    else
        curl_easy_cleanup(c);
    pthread_mutex_unlock(&u->lock);
    curl_slist_free_all(h);
    free(url);
    free(ct);
    free(ac);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s",
                 s.too_big             ? "production's answer is larger than the gate accepts"
                 : rc == CURLE_ABORTED_BY_CALLBACK ? "the gate is stopping"
                                                   : curl_easy_strerror(rc));
        twin_buf_free(&ans->body);
        return -1;
    }
    return 0;
}

void gate_upstream_answer_free(gate_upstream_answer *a) { twin_buf_free(&a->body); }

/* ---- streams ---- */


static size_t stream_header(char *p, size_t size, size_t nitems, void *ud)
{
    stream_ctx *x = ud;
    size_t n = size * nitems;
    on_header(p, size, nitems, x->content_type);
    if (n <= 2 && !x->headed) {   /* the blank line: the headers are complete */
        long status = 0;
        curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) {      /* not a 100 Continue */
            x->headed = 1;
            x->s.on_head(x->s.ud, status, x->content_type);
        }
    }
    return n;
}

static size_t stream_data(char *p, size_t size, size_t nmemb, void *ud)
{
    stream_ctx *x = ud;
    size_t n = size * nmemb;
    return x->s.on_data(x->s.ud, p, n) ? 0 : n;
}

static int stream_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    stream_ctx *x = ud;
    return x->s.cancelled(x->s.ud);
}

/* A handle for a streamed GET of path_query into s: no overall timeout,
 * a handle of its own (a watch holds it for minutes; the pool is for short
 * calls). */
static stream_ctx *stream_new(gate_upstream *u, const char *path_query, const char *accept,
                              const gate_upstream_sink *s)
{
    stream_ctx *x = twin_xcalloc(1, sizeof *x);
    x->c = curl_easy_init();
    if (!x->c)
        abort();   /* libcurl fails only for lack of memory here: as twin_xmalloc */
    x->s = *s;
    x->url = twin_xasprintf("%s%s", u->url, path_query);
    char *ac = twin_xasprintf("Accept: %s", accept ? accept : "application/json");
    x->h = curl_slist_append(NULL, u->auth);
    x->h = curl_slist_append(x->h, ac);
    free(ac);
    curl_easy_setopt(x->c, CURLOPT_URL, x->url);
    curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, x->h);
    curl_easy_setopt(x->c, CURLOPT_WRITEFUNCTION, stream_data);
    curl_easy_setopt(x->c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->c, CURLOPT_HEADERFUNCTION, stream_header);
    curl_easy_setopt(x->c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->c, CURLOPT_PRIVATE, x);
    set_connection(u, x->c);
    return x;
}

static void stream_free(stream_ctx *x)
{
    curl_easy_cleanup(x->c);
    curl_slist_free_all(x->h);
    free(x->url);
    free(x);
}

int gate_upstream_stream(gate_upstream *u, const char *path_query, const char *accept, const gate_upstream_sink *s,
                         char *err, size_t errlen)
{
    if (u->fake) {
        snprintf(err, errlen, "an in-process production has no streams");
        return -1;
    }
    stream_ctx *x = stream_new(u, path_query, accept, s);
    curl_easy_setopt(x->c, CURLOPT_XFERINFOFUNCTION, stream_progress);
    curl_easy_setopt(x->c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(x->c, CURLOPT_NOPROGRESS, 0L);
    CURLcode rc = curl_easy_perform(x->c);
    stream_free(x);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* ---- the pump: every stream started with gate_upstream_stream_start ----
 * One thread drives them all through one multi handle: it adds what was
 * started (u->incoming, under u->lock), reads what arrives, ends what
 * finished, and four times a second asks each stream's sink whether it is
 * cancelled.  Only the pump touches the multi handle and the active list;
 * others reach it through u->incoming and curl_multi_wakeup. */

#define PUMP_TICK_MS 250

static void stream_end(gate_upstream *u, stream_ctx *x, CURLcode rc, const char *why)
{
    curl_multi_remove_handle(u->multi, x->c);
    if (!why && rc != CURLE_OK)
        why = rc == CURLE_WRITE_ERROR ? "stopped by the gate" : curl_easy_strerror(rc);
    x->s.on_end(x->s.ud, why ? -1 : 0, why);
    stream_free(x);
}

/* Takes x off the active list. */
static void unlink_active(gate_upstream *u, stream_ctx *x)
{
    for (stream_ctx **p = &u->active; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            break;
        }
}

static void *pump(void *arg)
{
    gate_upstream *u = arg;
    double next_check = 0;
    pthread_mutex_lock(&u->lock);
    for (;;) {
        while (u->incoming) {
            stream_ctx *x = u->incoming;
            u->incoming = x->next;
            x->next = u->active;
            u->active = x;
            u->nactive++;
            curl_multi_add_handle(u->multi, x->c);
        }
        int closing = u->pump_stop, aborted = __atomic_load_n(&u->aborted, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&u->lock);
        if (closing || aborted) {
            while (u->active) {
                stream_ctx *x = u->active;
                u->active = x->next;
                stream_end(u, x, CURLE_ABORTED_BY_CALLBACK, "the gate is stopping");
            }
        } else {
            int running;
            curl_multi_perform(u->multi, &running);
            CURLMsg *m;
            int left;
            while ((m = curl_multi_info_read(u->multi, &left))) {
                if (m->msg != CURLMSG_DONE)
                    continue;
                stream_ctx *x = NULL;
                CURL *c = m->easy_handle;
                CURLcode rc = m->data.result;   /* m is invalid once the handle is removed */
                curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&x);
                unlink_active(u, x);
                stream_end(u, x, rc, NULL);
            }
            double now = gate_mono();
            if (now >= next_check) {
                next_check = now + PUMP_TICK_MS / 1000.0;
                for (stream_ctx **p = &u->active; *p;) {
                    stream_ctx *x = *p;
                    if (x->s.cancelled(x->s.ud)) {
                        *p = x->next;
                        stream_end(u, x, CURLE_ABORTED_BY_CALLBACK, "cancelled");
                    } else {
                        p = &x->next;
                    }
                }
            }
        }
        pthread_mutex_lock(&u->lock);
        u->nactive = 0;
        for (stream_ctx *x = u->active; x; x = x->next)
            u->nactive++;
        if (!u->nactive && !u->incoming)
            pthread_cond_broadcast(&u->drained);
        if (closing)
            break;
        if (u->incoming)
            continue;
        pthread_mutex_unlock(&u->lock);
        curl_multi_poll(u->multi, NULL, 0, PUMP_TICK_MS, NULL);
        pthread_mutex_lock(&u->lock);
    }
    pthread_mutex_unlock(&u->lock);
    return NULL;
}

void gate_upstream_stream_start(gate_upstream *u, const char *path_query, const char *accept,
                                const gate_upstream_sink *s)
{
    if (u->fake) {
        s->on_end(s->ud, -1, "an in-process production has no streams");
        return;
    }
    stream_ctx *x = stream_new(u, path_query, accept, s);
    curl_easy_setopt(x->c, CURLOPT_FORBID_REUSE, 1L);   /* a watch's connection ends with it */
    pthread_mutex_lock(&u->lock);
    if (!u->multi) {
        u->multi = curl_multi_init();
        if (!u->multi)
            abort();
        u->pumping = pthread_create(&u->pump, NULL, pump, u) == 0;
    }
    int ok = u->pumping && !u->pump_stop;
    if (ok) {
        x->next = u->incoming;
        u->incoming = x;
    }
    pthread_mutex_unlock(&u->lock);
    if (!ok) {
        s->on_end(s->ud, -1, "the gate cannot run production's streams (no thread)");
        stream_free(x);
        return;
    }
    curl_multi_wakeup(u->multi);
}

int gate_upstream_streams(gate_upstream *u)
{
    pthread_mutex_lock(&u->lock);
    int n = u->nactive;
    for (stream_ctx *x = u->incoming; x; x = x->next)
        n++;
    pthread_mutex_unlock(&u->lock);
    return n;
}

void gate_upstream_typed(const twin_kind *k, json_t *obj)
{
    if (!json_object_get(obj, "kind"))
        json_object_set_new(obj, "kind", json_string(k->kind));
    if (!json_object_get(obj, "apiVersion"))
        json_object_set_new(obj, "apiVersion",
                            *k->group ? json_sprintf("%s/%s", k->group, k->version) : json_string(k->version));
}

/* One page of a list: limit > 0 asks for at most that many, cont (may be
 * NULL) continues a paged list; *cont_out (may be NULL) receives the next
 * page's token (new string, NULL on the last page). */
static json_t *list_page(gate_upstream *u, const twin_kind *k, const char *ns, const char *label_selector,
                         const char *field_selector, long limit, const char *cont, char **rv_out, char **cont_out,
                         int *absent, char *err, size_t errlen)
{
    if (rv_out)
        *rv_out = NULL;
    if (cont_out)
        *cont_out = NULL;
    char *prefix = *k->group ? twin_xasprintf("/apis/%s/%s", k->group, k->version) : twin_xasprintf("/api/%s", k->version);
    char *ens = ns && *ns ? curl_easy_escape(NULL, ns, 0) : NULL;
    char *base = ens ? twin_xasprintf("%s/namespaces/%s/%s", prefix, ens, k->resource)
                     : twin_xasprintf("%s/%s", prefix, k->resource);
    curl_free(ens);
    free(prefix);
    twin_buf q = {0};
    const char *sels[2][2] = {{"labelSelector", label_selector}, {"fieldSelector", field_selector}};
    for (int i = 0; i < 2; i++) {
        if (!sels[i][1] || !*sels[i][1])
            continue;
        char *e = curl_easy_escape(NULL, sels[i][1], 0);
        twin_buf_addf(&q, "%s%s=%s", q.len ? "&" : "?", sels[i][0], e ? e : "");
        curl_free(e);
    }
    if (limit > 0)
        twin_buf_addf(&q, "%slimit=%ld", q.len ? "&" : "?", limit);
    if (cont && *cont) {
        char *e = curl_easy_escape(NULL, cont, 0);
        twin_buf_addf(&q, "%scontinue=%s", q.len ? "&" : "?", e ? e : "");
        curl_free(e);
    }
    char *path = twin_xasprintf("%s%s", base, q.s ? q.s : "");
    free(base);
    twin_buf_free(&q);
    gate_upstream_answer a;
    char e[512];
    *absent = 0;
    if (gate_upstream_call(u, "GET", path, NULL, "application/json", NULL, 0, &a, e, sizeof e) < 0) {
        snprintf(err, errlen, "cannot list %s from production: %s", path, e);
        free(path);
        return NULL;
    }
    if (a.status == 404 || a.status == 403) {   /* a kind production does not serve, or we may not read */
        *absent = 1;
        gate_upstream_answer_free(&a);
        free(path);
        return NULL;
    }
    json_error_t je;
    json_t *list = a.status == 200 ? json_loadb(a.body.s ? a.body.s : "", a.body.len, 0, &je) : NULL;
    json_t *items = json_incref(json_object_get(list, "items"));
    const char *lrv = json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
    if (json_is_array(items) && rv_out && !lrv) {
        snprintf(err, errlen, "cannot list %s from production: its list has no resourceVersion", path);
        json_decref(items);
        items = NULL;
    } else if (!json_is_array(items)) {
        snprintf(err, errlen, "cannot list %s from production: status %ld", path, a.status);
        json_decref(items);
        items = NULL;
    } else {
        /* items of a List carry no kind: put it back */
        size_t j;
        json_t *it;
        json_array_foreach(items, j, it)
            gate_upstream_typed(k, it);
        if (rv_out)
            *rv_out = twin_xstrdup(lrv);
        const char *next = json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"));
        if (cont_out && next && *next)
            *cont_out = twin_xstrdup(next);
    }
    json_decref(list);
    gate_upstream_answer_free(&a);
    free(path);
    return items;
}

json_t *gate_upstream_get_json(gate_upstream *u, const char *path_query)
{
    gate_upstream_answer ans;
    char err[256];
    if (gate_upstream_call(u, "GET", path_query, NULL, "application/json", NULL, 0, &ans, err, sizeof err) < 0)
        return NULL;
    json_t *doc = ans.status == 200 ? json_loadb(ans.body.s ? ans.body.s : "", ans.body.len, 0, NULL) : NULL;
    gate_upstream_answer_free(&ans);
    return doc;
}

json_t *gate_upstream_list_at(gate_upstream *u, const twin_kind *k, const char *ns, const char *label_selector,
                              const char *field_selector, long limit, char **rv_out, int *absent, char *err,
                              size_t errlen)
{
    return list_page(u, k, ns, label_selector, field_selector, limit, NULL, rv_out, NULL, absent, err, errlen);
}

int gate_upstream_list_paged(gate_upstream *u, const twin_kind *k, long page,
                             int (*on_page)(void *ud, json_t *items, char *err, size_t errlen), void *ud,
                             char **rv_out, int *absent, char *err, size_t errlen)
{
    char *cont = NULL, *rv = NULL;
    int rc = 0;
    *rv_out = NULL;
    do {
        char *next = NULL, *prv = NULL;
        json_t *items = list_page(u, k, NULL, NULL, NULL, page, cont, &prv, &next, absent, err, errlen);
        free(cont);
        cont = next;
        if (!items) {
            free(prv);
            rc = -1;
            break;
        }
        if (!rv)   /* the first page's: every page is of that snapshot */
            rv = prv;
        else
            free(prv);
        rc = on_page(ud, items, err, errlen);
        json_decref(items);
    } while (rc == 0 && cont);
    free(cont);
    if (rc == 0)
        *rv_out = rv;
    else
        free(rv);
    return rc;
}
