/*
 * http.c - the HTTP front (see http.h): libmicrohttpd with GnuTLS, an epoll
 * thread pool, suspend/resume for held requests and streams.  Nothing else
 * in the gate includes microhttpd.h.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* ---- the front ---- */

struct gate_http {
    struct MHD_Daemon *daemon;
    gate_http_opts o;
};

typedef struct exchange {
    gate_req rq;
    twin_buf body;
    int started, built;
} exchange;

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

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    gate_http *h = cls;
    exchange *x = *con_cls;
    if (!x) {   /* made by on_uri; kept for a caller without it */
        x = twin_xcalloc(1, sizeof *x);
        x->rq.target = twin_xstrdup(url);
        *con_cls = x;
    }
    if (!x->started) {   /* the headers: the body, if any, comes next */
        x->started = 1;
        return MHD_YES;
    }
    if (*upload_size) {
        if (x->body.len + *upload_size > GATE_HTTP_MAX_BODY)
            x->rq.too_big = 1;
        else
            twin_buf_add(&x->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!x->built) {
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
    (void)cls;
    (void)c;
    exchange *x = twin_xcalloc(1, sizeof *x);
    x->rq.target = twin_xstrdup(uri ? uri : "");
    return x;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    gate_http *h = cls;
    exchange *x = *con_cls;
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

gate_http *gate_http_start(const gate_http_opts *o)
{
    gate_http *h = twin_xcalloc(1, sizeof *h);
    h->o = *o;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    if (inet_pton(AF_INET, o->listen_host ? o->listen_host : "127.0.0.1", &addr.sin_addr) != 1) {
        free(h);
        return NULL;
    }
    /* an epoll thread pool: TLS handshakes and round trips to production
     * run side by side */
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG |
                                     MHD_ALLOW_SUSPEND_RESUME,
                                 (uint16_t)o->port, NULL, NULL, handle, h, MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
                                 MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
                                 MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                 MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : 8u,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        return NULL;
    }
    return h;
}

void gate_http_stop(gate_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);   /* finishes the requests in flight */
    free(h);
}
