/*
 * gate/upstream/forward.h - the production cluster behind the gate (libcurl): calls
 * with Airlock's own credentials, and the snapshot the twin starts from.
 */
#ifndef GATE_FORWARD_H
#define GATE_FORWARD_H

#include <jansson.h>

#include "twin/twin.h"
#include "twin/util.h"

enum { GATE_UPSTREAM_MAX = 256 * 1024 * 1024 };   /* the largest answer accepted (a big LIST) */

typedef struct gate_upstream gate_upstream;

typedef struct gate_upstream_answer {
    long status;
    char content_type[256];
    twin_buf body;
    int maybe_sent;    /* on an error: bytes of the request went out, so production may have acted on it */
} gate_upstream_answer;

/* url: https://host:port; the token is read from token_file; either ca_file
 * or insecure must be given. -1 with err on bad settings. */
int gate_upstream_open(gate_upstream **out, const char *url, const char *token_file, const char *ca_file,
                       int insecure, char *err, size_t errlen);
void gate_upstream_close(gate_upstream *u);   /* NULL is a no-op */
/* Shutdown: every call in flight, and every call after, ends at once with
 * an error (a slow production cannot hold the gate's stop); the pump's
 * streams end (their on_end has run when this returns). */
void gate_upstream_abort(gate_upstream *u);

/* One request; 0 with the answer (free it), -1 with err when production
 * could not be reached (ans->maybe_sent then says whether any of the
 * request went out). Each call may take the timeout (gate_upstream_set_timeout,
 * default 10 s; a list is read in pages). Once a call finds production
 * down (no connection, a timeout, a connection dropped before the
 * answer), every call fails at once, nothing sent, until
 * gate_upstream_probe sees production answer again. */
int gate_upstream_call(gate_upstream *u, const char *method, const char *path_query, const char *content_type,
                       const char *accept, const char *body, size_t len, gate_upstream_answer *ans, char *err,
                       size_t errlen);
void gate_upstream_answer_free(gate_upstream_answer *a);
/* Where a libcurl easy handle (easy: a CURL *) puts an answer: the body
 * into ans->body up to max bytes (beyond, the transfer stops and too_big
 * is set), the Content-Type into ans->content_type.  s must outlive the
 * transfer. */
typedef struct gate_upstream_sinkbuf {
    twin_buf *body;
    size_t max;
    int too_big;
} gate_upstream_sinkbuf;
void gate_upstream_collect(void *easy, gate_upstream_answer *ans, gate_upstream_sinkbuf *s, size_t max);
/* Seconds one call may take (0: the default, 10). */
void gate_upstream_set_timeout(gate_upstream *u, double seconds);
/* 1 when production is known down (why gets the reason), else 0. */
int gate_upstream_down(gate_upstream *u, char *why, size_t n);
/* When production is known down: one GET /version (2 s at most); if it
 * answers, calls go through again. Returns 1 when it came back. Call it
 * about once a second (the main loop). */
int gate_upstream_probe(gate_upstream *u);
/* A GET of production that answered 200 with JSON: the document (new
 * reference), or NULL (unreachable, another status, not JSON). */
json_t *gate_upstream_get_json(gate_upstream *u, const char *path_query);

/* Where a streamed answer (a watch) goes: on_head once, with production's
 * status and content type, before the first on_data; on_data for each
 * chunk (non-zero stops the stream); cancelled is polled about once a
 * second (non-zero stops it); on_end (streams started with
 * gate_upstream_stream_start only) once, last: rc 0 when production ended
 * the stream, -1 with why otherwise. */
typedef struct gate_upstream_sink {
    void (*on_head)(void *ud, long status, const char *content_type);
    int (*on_data)(void *ud, const char *p, size_t n);
    int (*cancelled)(void *ud);
    void *ud;
    void (*on_end)(void *ud, int rc, const char *why);
} gate_upstream_sink;
/* A GET streamed into s, without an overall timeout; blocks until the
 * stream ends. 0 when production ended it, -1 with err otherwise (stopped
 * by the sink, or production unreachable: on_head not called then). */
int gate_upstream_stream(gate_upstream *u, const char *path_query, const char *accept, const gate_upstream_sink *s,
                         char *err, size_t errlen);
/* The same GET, returning at once: the upstream's pump (one thread,
 * libcurl's multi interface) runs every stream started so, so a stream
 * holds a connection to production and no thread.  s is copied; its
 * callbacks run on the pump's thread, cancelled four times a second, and
 * on_end exactly once (also when production could not be reached, without
 * on_head then).  The connection is not reused after the stream. */
void gate_upstream_stream_start(gate_upstream *u, const char *path_query, const char *accept,
                                const gate_upstream_sink *s);
/* Streams the pump runs now (for tests and the soak). */
int gate_upstream_streams(gate_upstream *u);
/* An in-process production, for tests of the pipeline: every call goes
 * to call instead of the network; it fills ans (status, content_type,
 * body) and returns 0, or -1 with err (a dropped connection, a timeout).
 * It has no streams (a watch through it fails). */
typedef struct gate_upstream_fake {
    int (*call)(void *ud, const char *method, const char *path_query, const char *content_type, const char *body,
                size_t len, gate_upstream_answer *ans, char *err, size_t errlen);
    void *ud;
} gate_upstream_fake;
/* fake is borrowed: it outlives the upstream. */
gate_upstream *gate_upstream_open_fake(const gate_upstream_fake *fake);

/* obj (of kind k) with its kind and apiVersion, which a List's items and
 * may omit: set where missing. */
void gate_upstream_typed(const twin_kind *k, json_t *obj);
/* A list of kind k (in ns, NULL = all) from production, with label and
 * field selectors (kubectl syntax, NULL for none) and a limit (> 0: at most
 * that many items): new array of objects with kind and apiVersion; the
 * list's resourceVersion in *rv_out (may be NULL; new string): a limit=1
 * list is the constant-size probe of production's current version.  NULL
 * with *absent set when production does not serve the kind (404/403), NULL
 * with err otherwise. */
json_t *gate_upstream_list_at(gate_upstream *u, const twin_kind *k, const char *ns, const char *label_selector,
                              const char *field_selector, long limit, char **rv_out, int *absent, char *err,
                              size_t errlen);
/* Every object of kind k, page by page (`page` objects a page, continue
 * tokens), each page handed to on_page (items borrowed; it returns 0, or
 * -1 with err to stop): a large kind is never held whole.  0 with *rv_out
 * (new: the first page's version, where a watch starts), or -1 with err;
 * *absent when production does not serve the kind (404/403). */
int gate_upstream_list_paged(gate_upstream *u, const twin_kind *k, long page,
                             int (*on_page)(void *ud, json_t *items, char *err, size_t errlen), void *ud,
                             char **rv_out, int *absent, char *err, size_t errlen);

#endif
