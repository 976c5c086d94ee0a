/*
 * gate/kube/k8s.h - the Kubernetes adapter: one REST request (method, path with
 * query, headers, body) understood as an API action: which resource, which
 * namespace and name, which verb, which patch type, with which options.
 *
 * Anything that cannot be understood is refused here with the HTTP status
 * and message the API server would give (404 for a path that names no
 * resource, 415 for a body type we cannot read, 400 for a malformed body),
 * so nothing unparsed reaches the twin or production.
 *
 * Production receives exactly what was judged: the request forwarded to it
 * is built from the parsed action (gate_action_wire), never from the raw
 * one.  So that the twin and the API server cannot read one request two
 * ways, the parser refuses (400) what they could: a fragment (#), a decoded
 * path segment holding '/', '?', '#', NUL or a control character, a ';' in
 * the query (Go drops such pairs), a duplicate query parameter (the API
 * server takes the first, the gate refuses instead of choosing), a query
 * parameter the gate does not know for the verb, a boolean or integer
 * option in a form the API server reads differently, a DeleteOptions option
 * in the query that the body does not say the same way (the API server
 * ignores the query when a body is sent), and a watch of a named object
 * (the API server serves a get).
 */
#ifndef GATE_K8S_H
#define GATE_K8S_H

#include <jansson.h>
#include <stddef.h>

#include "twin/twin.h"
#include "twin/util.h"

/* Limits on what an action may carry. */
enum {
    GATE_MAX_BODY = 3 * 1024 * 1024,   /* the API server's default request size limit */
    GATE_MAX_PATH = 8192,
    GATE_MAX_DEPTH = 100,              /* JSON nesting */
};

typedef struct gate_action {
    char *method;            /* upper case */
    char *path;              /* decoded path, without the query */
    char *verb;              /* get list watch create update patch delete deletecollection connect */
    char *group, *version, *resource, *subresource, *ns, *name;
    const twin_kind *kind;   /* borrowed from the twin */
    char *label_selector, *field_selector, *field_manager, *field_validation;
    char *propagation;       /* delete: the policy the twin applies, always explicit (the kind's default filled in) */
    int dry_run, watch;
    int force;               /* -1 not given, 0 false, 1 true */
    long long grace_period;  /* delete: gracePeriodSeconds, -1 when not given */
    char *pre_uid, *pre_rv;  /* delete: preconditions, NULL when not given */
    json_t *read_opts;       /* get/list/watch/log: the understood options, name -> decoded value (owned) */
    twin_patch_type patch_type;
    json_t *body;            /* owned; the body as received (parsed), NULL when the request has none */
    json_t *delete_opts;     /* delete: the canonical DeleteOptions (owned): what the twin applies and
                                production receives */
    json_t *twin_body;       /* owned, NULL when the twin takes body as it is: an autoscaling/v1 HPA's
                                body converted to the v2 the twin keeps (convert.h) */
} gate_action;

/* A request for production, built from a parsed action. */
typedef struct gate_wire {
    char *method;
    char *path_query;         /* every segment and value percent-encoded */
    const char *content_type; /* static; NULL when there is no body */
    char *body;               /* NULL when none */
    size_t len;
} gate_wire;

/*
 * Parses one request. `body` is the parsed JSON body when the caller has one
 * (gate check's action files), else NULL and `raw`/`rawlen` hold the bytes
 * (read according to Content-Type). headers is a JSON object of header name
 * -> string value (names compared case-insensitively), may be NULL.
 * Returns 0 and fills *a (free with gate_action_free), or the HTTP status of
 * the refusal (400, 404, 405, 413, 415) with the message in err.
 */
int gate_action_parse(gate_action *a, const twin *t, const char *method, const char *path_query,
                      const json_t *headers, const json_t *body, const char *raw, size_t rawlen, char *err,
                      size_t errlen);
void gate_action_free(gate_action *a);

/* How the gate treats a subresource: simulated (status, scale, eviction,
 * log, token), connect (exec, attach, portforward, proxy: a process or a
 * stream, refused), unmodelled (one Kubernetes has that the twin cannot
 * simulate, refused 403 naming it) or unknown (404).  The parser and the
 * self access review both ask it. */
typedef enum { GATE_SUB_SIMULATED, GATE_SUB_CONNECT, GATE_SUB_UNMODELLED, GATE_SUB_UNKNOWN } gate_sub_class;
gate_sub_class gate_subresource_class(const char *sub);

/* True for get/list/watch (the verb of an action, or ctx.action.verb;
 * NULL is not a read). */
int gate_verb_is_read(const char *verb);
int gate_action_is_read(const gate_action *a);

/* ctx.action for policies (new reference). */
json_t *gate_action_json(const gate_action *a);

/* The request production receives for action a: the method; a path made
 * from the action's parts (group, version, namespace, resource, name,
 * subresource); a query made only of the options the twin understood; the
 * body the twin judged, as JSON (a decoded protobuf or YAML body is sent as
 * its JSON; a delete's DeleteOptions are rebuilt with the propagation made
 * explicit).  Fills *w (free with gate_wire_free). */
void gate_action_wire(const gate_action *a, gate_wire *w);
/* Percent-encodes s onto b: only RFC 3986's unreserved characters stay
 * (a forwarded path's segments and query values). */
void gate_url_encode(twin_buf *b, const char *s);
void gate_wire_free(gate_wire *w);   /* NULL and a zeroed wire are no-ops */

/* The twin request for a mutation (borrows from a). */
void gate_action_request(const gate_action *a, twin_request *req);

/* Case-insensitive header lookup in a JSON object; NULL when absent. */
const char *gate_header(const json_t *headers, const char *name);

#endif
