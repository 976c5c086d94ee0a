/*
 * http.c - the HTTP front (see http.h): libmicrohttpd with GnuTLS, an epoll
 * thread pool, suspend/resume for held requests and streams.  Nothing else
 * in the gate includes microhttpd.h.
 */
#define _GNU_SOURCE   /* POLLRDHUP */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "gate/base/clock.h"
#include "gate/base/log.h"
#include "gate/base/tally.h"
#include "gate/http/http.h"
#include "twin/twin.h"

/* ---- the exchange, transport-free ---- */

const char *gate_req_header(const gate_req *rq, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach(rq->headers, k, v)
        if (!strcasecmp(k, name))
            return json_string_value(v);
    return NULL;
}

const char *gate_req_arg(const gate_req *rq, const char *name)
{
    return json_string_value(json_object_get(rq->args, name));
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* %XX decoded (and '+' as a space in a query, as libmicrohttpd does). */
static char *decode(const char *p, size_t n, int plus)
{
    char *out = twin_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            *o++ = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        } else {
            *o++ = plus && p[i] == '+' ? ' ' : p[i];
        }
    }
    *o = '\0';
    return out;
}

void gate_req_init(gate_req *rq, const char *method, const char *target, const json_t *headers, const char *body,
                   size_t len)
{
    memset(rq, 0, sizeof *rq);
    rq->method = twin_xstrdup(method);
    rq->target = twin_xstrdup(target);
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    rq->path = decode(target, plen, 0);
    rq->args = json_object();
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        char *k = decode(p, (size_t)((eq ? eq : end) - p), 1);
        char *v = eq ? decode(eq + 1, (size_t)(end - eq - 1), 1) : twin_xstrdup("");
        if (*k && !json_object_get(rq->args, k))
            json_object_set_new(rq->args, k, json_string(v));
        free(k);
        free(v);
        p = amp ? amp + 1 : NULL;
    }
    rq->headers = headers ? json_deep_copy(headers) : json_object();
    rq->body = len ? memcpy(twin_xmalloc(len), body, len) : NULL;
    rq->len = len;
}

void gate_req_free(gate_req *rq)
{
    free((char *)rq->method);
    free((char *)rq->target);
    free((char *)rq->path);
    free((char *)rq->body);
    json_decref(rq->headers);
    json_decref(rq->args);
    memset(rq, 0, sizeof *rq);
}

void gate_resp_text(gate_resp *r, unsigned status, const char *content_type, const char *p, size_t n)
{
    r->status = status;
    snprintf(r->content_type, sizeof r->content_type, "%s", content_type);
    r->body.len = 0;
    twin_buf_add(&r->body, p, n);
}

void gate_resp_json(gate_resp *r, unsigned status, const json_t *doc)
{
    /* any JSON value (a pod's log is a string); no document is a 500,
     * never a crash */
    static const char FAIL[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                               "\"Failure\",\"message\":\"airlock: the answer could not be written as JSON\","
                               "\"reason\":\"InternalError\",\"code\":500}";
    r->body.len = 0;
    if (doc)
        twin_buf_json(&r->body, doc, 0);
    else
        twin_buf_add(&r->body, FAIL, sizeof FAIL - 1);
    r->status = doc ? status : 500;
    snprintf(r->content_type, sizeof r->content_type, "application/json");
}

void gate_resp_status(gate_resp *r, unsigned status, const char *reason, const char *message)
{
    json_t *st = twin_status((int)status, reason, message);
    gate_resp_json(r, status, st);
    json_decref(st);
}

void gate_resp_header(gate_resp *r, const char *name, const char *value)
{
    if (!r->headers)
        r->headers = json_object();
    json_object_set_new(r->headers, name, json_string(value));
}

void gate_resp_free(gate_resp *r)
{
    if (r->done)
        r->done(r->ctx);
    twin_buf_free(&r->body);
    json_decref(r->headers);
    memset(r, 0, sizeof *r);
}

void gate_conn_suspend(gate_conn *c)
{
    if (c)
        MHD_suspend_connection((struct MHD_Connection *)c);
}

void gate_conn_resume(gate_conn *c)
{
    if (c)
        MHD_resume_connection((struct MHD_Connection *)c);
}

int gate_conn_gone(gate_conn *c)
{
    if (!c)
        return 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info((struct MHD_Connection *)c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || ci->connect_fd < 0)
        return 0;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* ---- the front ----
 *
 * Reading a request is bounded in time, not only in size. libmicrohttpd's
 * own timeout is an idle one: a client sending one byte every few seconds
 * keeps a connection (and its memory) for ever. So every connection is
 * watched (conn_watch) through its phases:
 *   waiting  from the accept, and from the end of each answer, until the
 *            next request line: at most IDLE_LIMIT (TLS handshake included);
 *   reading  from the request line until the body is whole: at most
 *            READ_LIMIT, headers and body together;
 *   busy     the server has the request (judging, forwarding, a held review,
 *            a watch's stream): not bounded here.
 * A sweeper thread shuts down (shutdown(2), both ways) the socket of a
 * connection over its limit; libmicrohttpd then sees the end and closes it
 * as usual. A body arriving after READ_LIMIT is answered 408 at once.
 * Before a byte of body is read, the head is checked: a Content-Length
 * over GATE_HTTP_MAX_BODY is a 413, a NUL byte in a header or text that is
 * not UTF-8 (header, request target, query argument) a 400. */

#define READ_LIMIT 10.0    /* seconds from the request line to the whole body */
#define IDLE_LIMIT 30.0    /* seconds waiting for a request line */
#define SWEEP_EVERY 0.25   /* seconds between the sweeper's rounds */

enum { CW_WAITING, CW_READING, CW_BUSY };

typedef struct conn_watch {
    struct MHD_Connection *c;
    struct gate_http *h;
    char *owner;           /* the identity that claimed it (gate_conn_claim), or NULL */
    int fd;
    int phase;
    int cut;               /* shut down by the sweeper */
    double since;          /* when this phase began (gate_mono) */
    struct conn_watch *prev, *next;
} conn_watch;

struct gate_http {
    struct MHD_Daemon *daemon;
    gate_http_opts o;
    pthread_mutex_t mu;    /* conns, and every watch's phase and since */
    pthread_cond_t wake;
    conn_watch *conns;
    gate_tally owners;     /* connections claimed per owner */
    pthread_t sweeper;
    int sweeping, stop;
};

typedef struct exchange {
    gate_req rq;
    twin_buf body;
    int started, built;
    int answered;          /* refused while reading: the rest of the body is dropped */
    double t0;             /* the request line's arrival (gate_mono) */
} exchange;

static void set_phase(gate_http *h, struct MHD_Connection *c, int phase)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_watch *cw = ci ? ci->socket_context : NULL;
    if (!cw)
        return;
    pthread_mutex_lock(&h->mu);
    cw->phase = phase;
    cw->since = gate_mono();
    pthread_mutex_unlock(&h->mu);
}

/* The connection's owner lets go of it (mu is held). */
static void disown(gate_http *h, conn_watch *cw)
{
    if (!cw->owner)
        return;
    gate_tally_give(&h->owners, cw->owner);
    free(cw->owner);
    cw->owner = NULL;
}

int gate_conn_claim(gate_conn *c, const char *owner, long max)
{
    if (!c)
        return 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info((struct MHD_Connection *)c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_watch *cw = ci ? ci->socket_context : NULL;
    if (!cw)
        return 0;
    gate_http *h = cw->h;
    int ok = 1;
    pthread_mutex_lock(&h->mu);
    if (!cw->owner || strcmp(cw->owner, owner)) {
        disown(h, cw);
        ok = gate_tally_take(&h->owners, owner, max);
        if (ok)
            cw->owner = twin_xstrdup(owner);
    }
    pthread_mutex_unlock(&h->mu);
    return ok ? 0 : -1;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    gate_http *h = cls;
    conn_watch *cw = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        cw = twin_xcalloc(1, sizeof *cw);
        cw->c = c;
        cw->h = h;
        cw->fd = ci ? ci->connect_fd : -1;
        cw->phase = CW_WAITING;
        cw->since = gate_mono();
        pthread_mutex_lock(&h->mu);
        cw->next = h->conns;
        if (h->conns)
            h->conns->prev = cw;
        h->conns = cw;
        pthread_mutex_unlock(&h->mu);
        *socket_context = cw;
    } else if (cw) {   /* closed: before libmicrohttpd closes the socket */
        pthread_mutex_lock(&h->mu);
        if (cw->prev)
            cw->prev->next = cw->next;
        else
            h->conns = cw->next;
        if (cw->next)
            cw->next->prev = cw->prev;
        disown(h, cw);
        pthread_mutex_unlock(&h->mu);
        free(cw);
        *socket_context = NULL;
    }
}

static void *sweep(void *arg)
{
    gate_http *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        double now = gate_mono();
        for (conn_watch *cw = h->conns; cw; cw = cw->next) {
            double limit = cw->phase == CW_WAITING ? IDLE_LIMIT : cw->phase == CW_READING ? READ_LIMIT : 0;
            if (!limit || cw->cut || cw->fd < 0 || now - cw->since <= limit)
                continue;
            cw->cut = 1;   /* the socket is still open: its close waits for mu (on_connection) */
            shutdown(cw->fd, SHUT_RDWR);
            if (cw->phase == CW_READING)
                gate_log("closed a connection whose request was not read within %.0f s", READ_LIMIT);
        }
        struct timespec until = gate_deadline(SWEEP_EVERY);
        pthread_cond_timedwait(&h->wake, &h->mu, &until);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

typedef struct stream {
    ssize_t (*read)(void *ctx, char *buf, size_t max);
    void (*done)(void *ctx);
    void *ctx;
} stream;

static enum MHD_Result add_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    if (key && !json_object_get(cls, key))   /* the first of each */
        json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    ssize_t n = s->read(s->ctx, buf, max);
    return n == GATE_STREAM_END ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    if (s->done)
        s->done(s->ctx);
    free(s);
}

/* Queues what the server answered. */
static enum MHD_Result queue(struct MHD_Connection *c, gate_resp *r)
{
    struct MHD_Response *m;
    if (r->read) {
        stream *s = twin_xcalloc(1, sizeof *s);
        *s = (stream){r->read, r->done, r->ctx};
        r->read = NULL;
        r->done = NULL;   /* libmicrohttpd owns the stream now */
        m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, s, stream_free);
    } else {
        m = MHD_create_response_from_buffer(r->body.len, r->body.s ? r->body.s : (void *)"", MHD_RESPMEM_MUST_COPY);
    }
    if (!m)
        return MHD_NO;
    if (r->content_type[0])
        MHD_add_response_header(m, "Content-Type", r->content_type);
    const char *k;
    json_t *v;
    json_object_foreach(r->headers, k, v)
        MHD_add_response_header(m, k, json_string_value(v));
    enum MHD_Result rc = MHD_queue_response(c, r->status ? r->status : 500, m);
    MHD_destroy_response(m);
    return rc;
}

/* What the head check found wrong (status 0: nothing). */
typedef struct head_check {
    unsigned status;
    char why[200];
} head_check;

static enum MHD_Result check_value(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
    head_check *hc = cls;
    const char *what = kind == MHD_HEADER_KIND ? "a header" : "a query argument";
    /* the name is said when it can be (valid, short) */
    int key_ok = key && twin_utf8_ok(key, key_size) && !memchr(key, 0, key_size);
    const char *name = key_ok && key_size < 64 ? key : "";
    if (!key_ok || (value && memchr(value, 0, value_size))) {
        hc->status = 400;
        snprintf(hc->why, sizeof hc->why, "airlock: %s %s holds a NUL byte or is not UTF-8", what, name);
    } else if (value && !twin_utf8_ok(value, value_size)) {
        hc->status = 400;
        snprintf(hc->why, sizeof hc->why, "airlock: the value of %s %s is not valid UTF-8", what, name);
    }
    return hc->status ? MHD_NO : MHD_YES;
}

/* NUL bytes. libmicrohttpd (0.9.75) keeps the head in its read buffer and
 * hands out C strings into it, so a NUL inside a header value ends the
 * value there ("Bearer TOKEN\0junk" reads as "Bearer TOKEN") and the rest
 * of the line is silently dropped: two readings of one request. The layout
 * of the buffer tells: from the method's first byte, the head is the
 * request line, then each header as KEY ':' [SP/HT...] VALUE CR LF (CR and
 * LF, the colon and the request line's spaces overwritten with NULs), then
 * CR LF; MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE is its length. A header
 * whose value does not end where the next line begins held more than its C
 * string: a NUL byte (or a bare LF, or a folded line, which RFC 9112 lets a
 * server refuse); so is a request target shorter than the bytes between
 * the method and the version. Any of those is refused. */
struct layout {
    const char *at;     /* where the next header line must begin */
    const char *end;    /* the end of the head */
    int bad;
};

static enum MHD_Result check_line(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                  const char *value, size_t value_size)
{
    struct layout *l = cls;
    (void)kind;
    const char *colon = key + key_size;
    if (key != l->at || !value || value <= colon || value + value_size + 2 > l->end || *colon != '\0') {
        l->bad = 1;
        return MHD_NO;
    }
    for (const char *p = colon + 1; p < value; p++)
        if (*p != ' ' && *p != '\t') {
            l->bad = 1;
            return MHD_NO;
        }
    if (value[value_size] != '\0' || value[value_size + 1] != '\0') {
        l->bad = 1;
        return MHD_NO;
    }
    l->at = value + value_size + 2;
    return MHD_YES;
}

static int head_has_nul(struct MHD_Connection *c, const char *target, const char *url, const char *method,
                        const char *version)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!ci || !method || !url || !version || url <= method || version <= url)
        return 1;
    struct layout l = {.at = version + strlen(version) + 2, .end = method + ci->header_size};
    if ((size_t)(version - 1 - url) != strlen(target) || l.at > l.end)
        return 1;
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, check_line, &l);
    return l.bad || l.at + 2 != l.end;
}

/* The head, before a byte of body is read: 413 for a declared body over
 * the cap, 400 for a NUL byte or text that is not UTF-8. */
static void check_head(struct MHD_Connection *c, const exchange *x, const char *url, const char *method,
                       const char *version, head_check *hc)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (!errno && end != cl && !*end && n > GATE_HTTP_MAX_BODY) {
            hc->status = 413;
            snprintf(hc->why, sizeof hc->why, "the request body (%llu bytes) is larger than the 3 MiB limit", n);
            return;
        }
    }
    if (!twin_utf8_ok(x->rq.target, strlen(x->rq.target)) || !twin_utf8_ok(url, strlen(url))) {
        hc->status = 400;
        snprintf(hc->why, sizeof hc->why, "airlock: the request's path is not valid UTF-8");
        return;
    }
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, check_value, hc);
    if (!hc->status)
        MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, check_value, hc);
    if (!hc->status && head_has_nul(c, x->rq.target, url, method, version)) {
        hc->status = 400;
        snprintf(hc->why, sizeof hc->why, "airlock: the request's head holds a NUL byte, a bare LF or a folded "
                                          "header line");
    }
}

/* Answers a request refused while it is read: the rest of its body is
 * never taken (libmicrohttpd closes the connection after the answer). */
static enum MHD_Result refuse(struct MHD_Connection *c, exchange *x, unsigned status, const char *reason,
                              const char *why)
{
    gate_resp r = {0};
    x->answered = 1;
    gate_resp_status(&r, status, reason, why);
    enum MHD_Result rc = queue(c, &r);
    gate_resp_free(&r);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    gate_http *h = cls;
    exchange *x = *con_cls;
    if (!x) {   /* made by on_uri; kept for a caller without it */
        x = twin_xcalloc(1, sizeof *x);
        x->rq.target = twin_xstrdup(url);
        x->t0 = gate_mono();
        *con_cls = x;
    }
    if (!x->started) {   /* the headers: the body, if any, comes next */
        x->started = 1;
        head_check hc = {0};
        check_head(c, x, url, method, version, &hc);
        if (hc.status)
            return refuse(c, x, hc.status, hc.status == 413 ? "RequestEntityTooLarge" : "BadRequest", hc.why);
        return MHD_YES;
    }
    if (x->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (x->body.len + n > GATE_HTTP_MAX_BODY) {
            x->rq.too_big = 1;
            return refuse(c, x, 413, "RequestEntityTooLarge", "the request body is larger than the 3 MiB limit");
        }
        if (gate_mono() - x->t0 > READ_LIMIT)
            return refuse(c, x, 408, "Timeout", "airlock: the request was not read within 10 s");
        twin_buf_add(&x->body, upload, n);
        return MHD_YES;
    }
    if (!x->built) {
        set_phase(h, c, CW_BUSY);
        x->built = 1;
        x->rq.method = twin_xstrdup(method);
        x->rq.path = twin_xstrdup(url);
        x->rq.headers = json_object();
        x->rq.args = json_object();
        MHD_get_connection_values(c, MHD_HEADER_KIND, add_value, x->rq.headers);
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_value, x->rq.args);
        x->rq.body = x->body.s;
        x->rq.len = x->body.len;
        x->rq.conn = (gate_conn *)c;
    }
    gate_resp r = {0};
    h->o.handle(h->o.app, &x->rq, &r);
    enum MHD_Result rc = r.held ? MHD_YES : queue(c, &r);   /* held: the server suspended it */
    gate_resp_free(&r);
    return rc;
}

/* The request target exactly as the client sent it (libmicrohttpd gives
 * the handler a decoded path): the one text the Kubernetes adapter parses. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    exchange *x = twin_xcalloc(1, sizeof *x);
    x->rq.target = twin_xstrdup(uri ? uri : "");
    x->t0 = gate_mono();
    set_phase(cls, c, CW_READING);
    return x;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    gate_http *h = cls;
    exchange *x = *con_cls;
    set_phase(h, c, CW_WAITING);   /* until the next request line */
    if (!x)
        return;
    if (h->o.done)
        h->o.done(h->o.app, &x->rq);
    x->rq.body = NULL;   /* the exchange's buffer, freed below */
    gate_req_free(&x->rq);
    twin_buf_free(&x->body);
    free(x);
    *con_cls = NULL;
}

static void free_front(gate_http *h)
{
    gate_tally_destroy(&h->owners);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->wake);
    free(h);
}

gate_http *gate_http_start(const gate_http_opts *o)
{
    gate_http *h = twin_xcalloc(1, sizeof *h);
    h->o = *o;
    gate_tally_init(&h->owners);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->wake, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    if (inet_pton(AF_INET, o->listen_host ? o->listen_host : "127.0.0.1", &addr.sin_addr) != 1) {
        free_front(h);
        return NULL;
    }
    /* an epoll thread pool: TLS handshakes and round trips to production
     * run side by side */
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG |
                                     MHD_ALLOW_SUSPEND_RESUME,
                                 (uint16_t)o->port, NULL, NULL, handle, h, MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
                                 MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
                                 MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_LIMIT,
                                 MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : 8u,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
    if (!h->daemon) {
        free_front(h);
        return NULL;
    }
    h->sweeping = pthread_create(&h->sweeper, NULL, sweep, h) == 0;
    return h;
}

void gate_http_stop(gate_http *h)
{
    if (!h)
        return;
    if (h->sweeping) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->sweeper, NULL);
    }
    MHD_stop_daemon(h->daemon);   /* finishes the requests in flight; every connection's close is notified */
    free_front(h);
}
