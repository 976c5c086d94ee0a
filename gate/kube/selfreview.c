/*
 * selfreview.c - SelfSubjectReview, SelfSubjectAccessReview and
 * SelfSubjectRulesReview, answered for the calling agent (selfreview.h).
 *
 * The shapes are authentication.k8s.io/v1 and authorization.k8s.io/v1 as
 * Kubernetes 1.32 serves them (staging/src/k8s.io/api/authorization/v1/
 * types.go, authentication/v1/types.go): a review is created (POST, 201)
 * and comes back with its spec and a status; nothing is stored.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/kube/k8s.h"
#include "gate/kube/protobuf.h"
#include "gate/kube/selfreview.h"
#include "twin/util.h"

/* The three reviews (discovery.c lists them too). */
typedef struct gate_review_resource {
    const char *group, *version, *resource, *kind;
} gate_review_resource;

static const gate_review_resource REVIEWS[] = {
    {"authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview"},
    {"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview"},
    {"authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview"},
    {NULL, NULL, NULL, NULL},
};

/* The verbs a served kind takes through the gate. */
static const char *const VERBS[] = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
                                    NULL};

static int in(const char *s, const char *const *list)
{
    for (int i = 0; s && list[i]; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

static int is_read(const char *verb)
{
    return !strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch");
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* ---- the answers ---- */

static void decide(json_t *status, int allowed, const char *reason)
{
    json_object_set_new(status, "allowed", json_boolean(allowed));
    if (!allowed)
        json_object_set_new(status, "denied", json_true());
    json_object_set_new(status, "reason", json_string(reason));
}

/* resourceAttributes: what the gate does with such a call. */
static void access_resource(json_t *status, const json_t *ra, const gate_subject *who, const twin *t)
{
    const char *verb = str(ra, "verb"), *group = str(ra, "group"), *resource = str(ra, "resource");
    const char *sub = str(ra, "subresource");
    char *why = NULL;
    const twin_kind *k = twin_kind_by_resource(t, group, resource);
    if (!strcmp(verb, "*") || !strcmp(resource, "*") || !strcmp(group, "*")) {
        decide(status, 0, "airlock judges each call on its own effect: ask about one verb and one resource");
    } else if (!in(verb, VERBS)) {
        why = twin_xasprintf("airlock passes only get, list, watch, create, update, patch, delete and "
                             "deletecollection, not %s",
                             verb);
        decide(status, 0, why);
    } else if (!k) {
        why = twin_xasprintf("airlock serves no resource %s%s%s", resource, *group ? "." : "", group);
        decide(status, 0, why);
    } else if (*sub && (gate_subresource_class(sub) == GATE_SUB_CONNECT ||
                        gate_subresource_class(sub) == GATE_SUB_UNMODELLED)) {
        why = twin_xasprintf("airlock refuses %s/%s: it cannot be simulated", resource, sub);
        decide(status, 0, why);
    } else if (*sub && gate_subresource_class(sub) != GATE_SUB_SIMULATED) {
        why = twin_xasprintf("airlock serves no subresource %s/%s", resource, sub);
        decide(status, 0, why);
    } else if (is_read(verb) && !strcmp(k->kind, "Secret") && !who->read_secrets) {
        why = twin_xasprintf("agent %s has no read_secrets: Secret values are never shown to it", who->name);
        decide(status, 0, why);
    } else if (is_read(verb)) {
        decide(status, 1, "airlock: reads are judged by the policies, then answered");
    } else {
        decide(status, 1, "airlock: the call is simulated on the twin and judged by the policies on its effect; "
                          "it passes only if they allow it");
    }
    free(why);
}

/* nonResourceAttributes: discovery, the version and OpenAPI are read. */
static void access_path(json_t *status, const json_t *na)
{
    const char *path = str(na, "path"), *verb = str(na, "verb");
    static const char *const READ[] = {"/version", "/api", "/apis", "/openapi", NULL};
    int known = 0;
    for (int i = 0; READ[i]; i++) {
        size_t n = strlen(READ[i]);
        if (!strncmp(path, READ[i], n) && (!path[n] || path[n] == '/'))
            known = 1;
    }
    if (known && !strcmp(verb, "get"))
        decide(status, 1, "airlock serves discovery, the version and OpenAPI to every agent");
    else
        decide(status, 0, "airlock serves only get of /version, /api, /apis and /openapi outside the resources");
}

/* The rules: every kind the twin serves with the verbs the agent may send
 * (the policies still judge each call: incomplete, and it says so). */
static void rules(json_t *status, const gate_subject *who, const twin *t)
{
    json_t *rr = json_array();
    size_t n = twin_kind_count(t);
    for (size_t i = 0; i < n; i++) {
        const twin_kind *k = twin_kind_at(t, i);
        json_t *verbs = json_array();
        for (int v = 0; VERBS[v]; v++)
            if (!(is_read(VERBS[v]) && !strcmp(k->kind, "Secret") && !who->read_secrets))
                json_array_append_new(verbs, json_string(VERBS[v]));
        json_array_append_new(rr, json_pack("{s:o, s:[s], s:[s]}", "verbs", verbs, "apiGroups", k->group,
                                            "resources", k->resource));
    }
    json_array_append_new(rr, json_pack("{s:[s], s:[s], s:[s]}", "verbs", "create", "apiGroups", "", "resources",
                                        "pods/eviction"));
    json_array_append_new(rr, json_pack("{s:[s], s:[s], s:[s]}", "verbs", "get", "apiGroups", "", "resources",
                                        "pods/log"));
    for (int r = 0; REVIEWS[r].group; r++)
        json_array_append_new(rr, json_pack("{s:[s], s:[s], s:[s]}", "verbs", "create", "apiGroups",
                                            REVIEWS[r].group, "resources",
                                            REVIEWS[r].resource));
    json_object_set_new(status, "resourceRules", rr);
    json_object_set_new(status, "nonResourceRules",
                        json_pack("[{s:[s], s:[ssssss]}]", "verbs", "get", "nonResourceURLs", "/version", "/api",
                                  "/api/*", "/apis", "/apis/*", "/openapi/*"));
    json_object_set_new(status, "incomplete", json_true());
    json_object_set_new(status, "evaluationError",
                        json_string("airlock simulates these calls and its policies judge each one on its effect: a "
                                    "rule here does not mean a call passes"));
}

/* ---- the request ---- */

/* The review in the body: JSON or Kubernetes protobuf.  NULL after
 * answering what was wrong. */
static json_t *body_of(const gate_req *rq, gate_resp *resp, const gate_review_resource *r)
{
    const char *ct = gate_req_header(rq, "Content-Type");
    char err[512];
    json_t *doc = NULL;
    if (ct && strstr(ct, "protobuf")) {
        if (gate_protobuf_decode((const unsigned char *)rq->body, rq->len, &doc, err, sizeof err) < 0) {
            gate_resp_status(resp, 400, "BadRequest", err);
            return NULL;
        }
    } else if (!ct || !strncasecmp(ct, "application/json", 16)) {
        json_error_t je;
        doc = json_loadb(rq->body ? rq->body : "", rq->len, JSON_REJECT_DUPLICATES, &je);
        if (!doc) {
            char *msg = twin_xasprintf("the body of a %s is not JSON: %s", r->kind, je.text);
            gate_resp_status(resp, 400, "BadRequest", msg);
            free(msg);
            return NULL;
        }
    } else {
        char *msg = twin_xasprintf("the content type %.200s is not supported: send application/json", ct);
        gate_resp_status(resp, 415, "UnsupportedMediaType", msg);
        free(msg);
        return NULL;
    }
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *av = json_string_value(json_object_get(doc, "apiVersion"));
    char *want = twin_xasprintf("%s/%s", r->group, r->version);
    int ok = json_is_object(doc) && (!kind || !strcmp(kind, r->kind)) && (!av || !strcmp(av, want));
    free(want);
    if (!ok) {
        char *msg = twin_xasprintf("the body must be a %s.%s/%s", r->kind, r->group, r->version);
        gate_resp_status(resp, 400, "BadRequest", msg);
        free(msg);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int gate_selfreview(const gate_req *rq, gate_resp *resp, const gate_subject *who, const twin *t)
{
    const gate_review_resource *r = NULL;
    for (int i = 0; REVIEWS[i].group; i++) {
        char *path = twin_xasprintf("/apis/%s/%s/%s", REVIEWS[i].group,
                                    REVIEWS[i].version, REVIEWS[i].resource);
        int match = !strcmp(rq->path, path);
        free(path);
        if (match)
            r = &REVIEWS[i];
    }
    if (!r)
        return 0;
    if (strcmp(rq->method, "POST")) {
        char *msg = twin_xasprintf("a %s is only created (POST): nothing is stored", r->kind);
        gate_resp_status(resp, 405, "MethodNotAllowed", msg);
        free(msg);
        return 1;
    }
    json_t *doc = body_of(rq, resp, r);
    if (!doc)
        return 1;
    json_t *spec = json_object_get(doc, "spec");
    char *av = twin_xasprintf("%s/%s", r->group, r->version);
    json_t *out = json_pack("{s:s, s:s, s:{s:n}}", "kind", r->kind, "apiVersion", av, "metadata",
                            "creationTimestamp");
    free(av);
    json_t *status = json_object();
    if (!strcmp(r->resource, "selfsubjectreviews")) {
        json_t *extra = json_pack("{s:[s]}", "airlock.dev/read-secrets", who->read_secrets ? "true" : "false");
        if (json_is_array(who->policies))
            json_object_set(extra, "airlock.dev/policies", (json_t *)who->policies);
        json_object_set_new(status, "userInfo", json_pack("{s:s, s:[ss], s:o}", "username", who->name, "groups",
                                                           "airlock:agents", "system:authenticated", "extra", extra));
    } else if (!json_is_object(spec)) {
        gate_resp_status(resp, 400, "BadRequest", "the review has no spec");
        goto out;
    } else if (!strcmp(r->resource, "selfsubjectaccessreviews")) {
        const json_t *ra = json_object_get(spec, "resourceAttributes");
        const json_t *na = json_object_get(spec, "nonResourceAttributes");
        if (json_is_object(ra) == json_is_object(na)) {
            gate_resp_status(resp, 422, "Invalid",
                             "exactly one of spec.resourceAttributes and spec.nonResourceAttributes must be set");
            goto out;
        }
        static const char *const STRINGS[] = {"namespace", "verb", "group", "version", "resource", "subresource",
                                              "name", "path", NULL};
        for (int i = 0; STRINGS[i]; i++) {
            const json_t *v = json_object_get(json_is_object(ra) ? ra : na, STRINGS[i]);
            if (v && !json_is_string(v)) {   /* as the API server's decoder refuses it */
                char *msg = twin_xasprintf("spec.%s.%s must be a string",
                                           json_is_object(ra) ? "resourceAttributes" : "nonResourceAttributes",
                                           STRINGS[i]);
                gate_resp_status(resp, 400, "BadRequest", msg);
                free(msg);
                goto out;
            }
        }
        if (json_is_object(ra))
            access_resource(status, ra, who, t);
        else
            access_path(status, na);
        json_object_set(out, "spec", spec);
    } else {
        rules(status, who, t);
        json_object_set(out, "spec", spec);
    }
    json_object_set(out, "status", status);
    gate_resp_json(resp, 201, out);
out:
    json_decref(status);
    json_decref(out);
    json_decref(doc);
    return 1;
}
