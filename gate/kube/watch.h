/*
 * gate/kube/watch.h - watch streams (`?watch=true`): chunked JSON lines of
 * {"type": ADDED|MODIFIED|DELETED|ERROR, "object": ...}, as the API server
 * sends them.
 *
 * Two sources feed a stream:
 *   - the twin (twin mode): the server publishes the diff of every committed
 *     change; the hub keeps the last events in a ring, so a watch may start
 *     from a resourceVersion the client got from a LIST.  A version older
 *     than the ring gets an ERROR event with a 410 Expired Status, as the API
 *     server answers "too old resource version";
 *   - production (enforce mode): the stream is passed through as it comes,
 *     read by the upstream's pump (forward.h: one thread for every stream).
 *
 * The connection is never held by a waiting thread: a stream with nothing to
 * send suspends its connection (gate_conn_suspend, http.h) and a
 * publish, a production chunk, a deadline or the shutdown resumes it.
 *
 * Threads: every function may be called from any thread; one mutex in the
 * hub guards the ring, the streams and their buffers.
 */
#ifndef GATE_WATCH_H
#define GATE_WATCH_H

#include <jansson.h>

#include "gate/upstream/forward.h"
#include "gate/http/http.h"

typedef struct gate_watch_hub gate_watch_hub;

/* Renders one object as the client asked (a Table row, say): new
 * reference; NULL in a stream's options sends objects as they are. */
typedef json_t *(*gate_watch_render)(const char *kind, const json_t *obj);

typedef struct gate_watch_opts {
    const char *kind;              /* the twin's kind name */
    const char *ns;                /* NULL = every namespace */
    const char *label_selector;    /* kubectl syntax, may be NULL */
    const char *field_selector;
    const char *resource_version;  /* NULL, "" or "0": start with the current objects as ADDED */
    long timeout_seconds;          /* 0: until the client or the server goes */
    gate_watch_render render;
    int redact_secrets;            /* objects are Secrets the client may not read: values redacted */
    int bookmarks;                 /* allowWatchBookmarks: BOOKMARK events tell the stream's progress */
} gate_watch_opts;

/* capacity: how many events the ring keeps (older ones are gone: 410);
 * rv: the twin's resourceVersion now (the ring is complete after it). */
gate_watch_hub *gate_watch_hub_new(size_t capacity, long long rv);
void gate_watch_hub_free(gate_watch_hub *h);   /* after the daemon stopped; NULL is a no-op */

/* Records the committed change records of one decision (DESIGN.md change
 * records: op, kind, namespace, name, before, after); rv is the twin's
 * resourceVersion after the commit, given to deleted objects. Borrowed. */
void gate_watch_publish(gate_watch_hub *h, const json_t *diff, long long rv);

/* Streams twin events for o into resp (strings copied).  current: the
 * objects that match now (borrowed; sent as ADDED when o asks for them),
 * current_rv: the twin's resourceVersion they were read at.  -1 with a
 * 400-worthy message in err on a malformed selector. */
int gate_watch_twin(gate_watch_hub *h, gate_conn *c, const gate_watch_opts *o, const json_t *current,
                    long long current_rv, gate_resp *resp, char *err, size_t errlen);

/* Passes production's watch at path_query through, in two steps.  start
 * opens production's stream (on the upstream's pump: no thread of its
 * own); answer then answers resp with production's status and content type
 * and streams its body: 1, or -1 with err when production could not be
 * reached or did not answer within 30 s; or 0: production has not answered
 * yet, and the connection is suspended until it does (or the 30 s pass, or
 * the client goes), when the server's handler runs again and calls answer
 * again.  Without a connection (in-process) answer waits.  A pass that
 * was never answered (its connection gone) is dropped.  With
 * redact_secrets the stream is read line by line (JSON events; accept must
 * ask for JSON) and each event is passed on with its Secret values
 * redacted; a line that is not JSON ends the stream. */
typedef struct gate_watch_pass gate_watch_pass;
gate_watch_pass *gate_watch_upstream_start(gate_watch_hub *h, gate_conn *c, gate_upstream *u,
                                           const char *path_query, const char *accept, int redact_secrets);
int gate_watch_upstream_answer(gate_watch_pass *p, gate_resp *resp, char *err, size_t errlen);
void gate_watch_upstream_drop(gate_watch_pass *p);

/* Once a second: ends streams whose timeout passed or whose client went
 * (a suspended stream sends nothing, so its connection's end would
 * otherwise be seen only at the next event), and resumes the connections
 * of passes whose production did not answer in time or whose client went. */
void gate_watch_tick(gate_watch_hub *h);
/* Shutdown: every stream ends and its connection is resumed, so the daemon
 * can stop; waits up to a second for them to drain. */
void gate_watch_stop(gate_watch_hub *h);
/* Streams open now (for logs and tests). */
size_t gate_watch_count(gate_watch_hub *h);

#endif
