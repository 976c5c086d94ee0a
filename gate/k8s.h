/*
 * gate/k8s.h - the Kubernetes adapter: one REST request (method, path with
 * query, headers, body) understood as an API action: which resource, which
 * namespace and name, which verb, which patch type, with which options.
 *
 * Anything that cannot be understood is refused here with the HTTP status
 * and message the API server would give (404 for a path that names no
 * resource, 415 for a body type we cannot read, 400 for a malformed body),
 * so nothing unparsed reaches the twin or production.
 */
#ifndef GATE_K8S_H
#define GATE_K8S_H

#include <jansson.h>
#include <stddef.h>

#include "twin/twin.h"

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
    char *label_selector, *field_selector, *field_manager, *propagation;
    int dry_run, force, watch;
    twin_patch_type patch_type;
    json_t *body;            /* owned; NULL when the request has none */
} gate_action;

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

/* True for get/list/watch (the verb of an action, or ctx.action.verb;
 * NULL is not a read). */
int gate_verb_is_read(const char *verb);
int gate_action_is_read(const gate_action *a);

/* ctx.action for policies (new reference). */
json_t *gate_action_json(const gate_action *a);

/* The twin request for a mutation (borrows from a). */
void gate_action_request(const gate_action *a, twin_request *req);

/* Case-insensitive header lookup in a JSON object; NULL when absent. */
const char *gate_header(const json_t *headers, const char *name);

#endif
