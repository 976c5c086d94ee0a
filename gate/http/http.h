/*
 * gate/http/http.h - one HTTP exchange without its transport, and the front that
 * carries it (gate/http/http.c: the only code that knows libmicrohttpd).
 *
 * The front receives a request (headers, the body up to a cap, the request
 * target exactly as sent), hands the server a gate_req, and sends back the
 * gate_resp the server filled: a status, headers and a body, or a stream
 * (a watch), or nothing yet: a held response suspends the connection, no
 * thread waiting, until gate_conn_resume, when the server's handler runs
 * again with the same request (its per-request state in rq->state).
 *
 * A gate_req made in-process (tests, gate_req_init) has no connection: the
 * handlers run the same, a stream is read by the caller.
 */
#ifndef GATE_HTTP_H
#define GATE_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "twin/util.h"

enum { GATE_HTTP_MAX_BODY = 3 * 1024 * 1024 };   /* the API server's own request limit */

typedef struct gate_conn gate_conn;   /* the transport's connection (opaque) */

typedef struct gate_req {
    const char *method;
    const char *target;   /* the request target as received: percent-encoded path and query */
    const char *path;     /* the path, decoded */
    json_t *headers;      /* {name: value} as received (the first of each name) */
    json_t *args;         /* the query's arguments, decoded ({name: value}, the first of each) */
    const char *body;
    size_t len;
    int too_big;          /* the body was larger than GATE_HTTP_MAX_BODY (and is not kept) */
    gate_conn *conn;      /* NULL in-process */
    void *state;          /* the server's, kept across a hold (freed by the server's done hook) */
} gate_req;

/* A header's value (names compare without case), or NULL. */
const char *gate_req_header(const gate_req *rq, const char *name);
/* A query argument's decoded value, or NULL. */
const char *gate_req_arg(const gate_req *rq, const char *name);
/* An in-process request: target parsed into path and args (decoded), the
 * headers copied from headers ({name: value}, may be NULL). Free with
 * gate_req_free. */
void gate_req_init(gate_req *rq, const char *method, const char *target, const json_t *headers, const char *body,
                   size_t len);
void gate_req_free(gate_req *rq);

/* What a stream's read answers besides a byte count. */
enum { GATE_STREAM_END = -1, GATE_STREAM_WAIT = 0 };

typedef struct gate_resp {
    unsigned status;           /* 0: nothing queued yet */
    char content_type[256];
    json_t *headers;           /* more headers {name: value}, or NULL */
    twin_buf body;
    /* a stream instead of a body: read fills buf (up to max) and returns the
     * count, GATE_STREAM_END, or GATE_STREAM_WAIT after suspending the
     * connection (gate_conn_suspend: a writer resumes it); done frees ctx */
    ssize_t (*read)(void *ctx, char *buf, size_t max);
    void (*done)(void *ctx);
    void *ctx;
    int held;                  /* no answer yet: the connection waits for gate_conn_resume */
} gate_resp;

/* The answer as JSON (doc borrowed), text, or a Kubernetes Status. */
void gate_resp_json(gate_resp *r, unsigned status, const json_t *doc);
void gate_resp_text(gate_resp *r, unsigned status, const char *content_type, const char *p, size_t n);
void gate_resp_status(gate_resp *r, unsigned status, const char *reason, const char *message);
/* One more header. */
void gate_resp_header(gate_resp *r, const char *name, const char *value);
void gate_resp_free(gate_resp *r);   /* an unsent stream's done runs */

/* Suspends or resumes the connection of a held response or a waiting
 * stream (no-ops without a connection). */
void gate_conn_suspend(gate_conn *c);
void gate_conn_resume(gate_conn *c);
/* 1 when the client has closed or reset the connection (its socket hung
 * up), without reading from it; for streams, whose client sends nothing. */
int gate_conn_gone(gate_conn *c);
/* Counts the connection as owner's (an identity's name) while it is open:
 * 0, or -1 when owner has max connections counted already (max 0: no
 * limit); a connection counted for another owner before moves to this one.
 * 0 without a connection. */
int gate_conn_claim(gate_conn *c, const char *owner, long max);

/* ---- the front ---- */

typedef struct gate_http gate_http;

typedef struct gate_http_opts {
    const char *listen_host;   /* 127.0.0.1 */
    unsigned port;
    const char *cert_pem, *key_pem;
    unsigned threads;
    /* the server: answers rq in resp (called again after a hold is resumed) */
    void (*handle)(void *app, gate_req *rq, gate_resp *resp);
    /* the request is over (answered, or its connection gone): rq->state goes */
    void (*done)(void *app, gate_req *rq);
    void *app;
} gate_http_opts;

/* Listens; NULL when the port cannot be had. */
gate_http *gate_http_start(const gate_http_opts *o);
/* Stops listening and ends the connections (after the streams were ended). */
void gate_http_stop(gate_http *h);

#endif
