/*
 * serve.c - `gate serve`: the Kubernetes API front.
 *
 * The path of one request, in named phases:
 *   receive (libmicrohttpd over TLS, body capped at GATE_MAX_BODY)
 *   -> authenticate (bearer token, SHA-256 against the agents file)
 *   -> discovery, version and OpenAPI (served here)
 *   -> refresh (enforce mode, mutations: what the action and its cascade
 *      reach is listed again from production)
 *   -> decide (gate_decide: parse, simulate, judge)
 *   -> forward (enforce mode: allowed calls go to production, held open in
 *      the twin and committed only on 2xx) or answer from the twin
 *   -> answer (the object, a List, a Table, a watch stream, or a Status)
 *
 * Without --upstream the twin answers as the cluster (twin mode).  Watches
 * are streams (watch.c) fed by the twin's committed changes, or passed
 * through from production.  An epoll thread pool serves the connections;
 * `write` serializes mutations through production's answer, the engine
 * lock guards the twin and the policies and is let go during round trips,
 * so reads never wait on production for a mutation.
 */
#include <errno.h>
#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gate/cli.h"
#include "gate/serve_int.h"
#include "gate/ui.h"
#include "gate/commands.h"
#include "gate/engine.h"
#include "gate/forward.h"
#include "gate/k8s.h"
#include "gate/log.h"
#include "gate/redact.h"
#include "gate/table.h"
#include "gate/watch.h"
#include "twin/util.h"

/* ---- answers ---- */

enum MHD_Result gate_send_json(struct MHD_Connection *c, unsigned code, const json_t *doc)
{
    /* any JSON value (a pod's log is a string); a document that cannot be
     * written (NULL, or not UTF-8) is a 500, never a crash */
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!text) {
        static const char FAIL[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                                   "\"Failure\",\"message\":\"airlock: the answer could not be written as JSON\","
                                   "\"reason\":\"InternalError\",\"code\":500}";
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof FAIL - 1, (void *)FAIL, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result rc = MHD_queue_response(c, 500, r);
        MHD_destroy_response(r);
        return rc;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result gate_send_status(struct MHD_Connection *c, unsigned code, const char *reason, const char *msg)
{
    json_t *s = twin_status((int)code, reason, msg);
    enum MHD_Result rc = gate_send_json(c, code, s);
    json_decref(s);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, const json_t *doc)
{
    return gate_send_json(c, code, doc);
}

static enum MHD_Result send_status(struct MHD_Connection *c, unsigned code, const char *msg)
{
    return gate_send_status(c, code, NULL, msg);
}

double gate_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- discovery (the legacy form; kubectl falls back to it) ---- */

/* The verbs a resource serves: every one, but Namespaces have no
 * deletecollection (k8s-api-facts section 1). New reference. */
static json_t *verbs_of(const twin_kind *k)
{
    json_t *verbs = json_pack("[ssssssss]", "create", "delete", "deletecollection", "get", "list", "patch", "update",
                              "watch");
    if (!strcmp(k->kind, "Namespace"))
        json_array_remove(verbs, 2);
    return verbs;
}

static json_t *resource_list(const char *group, const char *version)
{
    size_t n;
    const twin_kind *k = twin_kinds(&n);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k[i].group, group) || strcmp(k[i].version, version))
            continue;
        json_t *verbs = verbs_of(&k[i]);
        json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", k[i].resource, "singularName", k[i].singular,
                              "namespaced", k[i].namespaced, "kind", k[i].kind, "verbs", verbs);
        if (*k[i].short_names)
            json_object_set_new(r, "shortNames", json_pack("[s]", k[i].short_names));
        json_array_append_new(res, r);
        if (k[i].has_scale) {
            char *sub = twin_xasprintf("%s/scale", k[i].resource);
            json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:[sss]}", "name", sub, "singularName",
                                                 "", "namespaced", k[i].namespaced, "group", "autoscaling", "version",
                                                 "v1", "kind", "Scale", "verbs", "get", "patch", "update"));
            free(sub);
        }
    }
    char *gv = *group ? twin_xasprintf("%s/%s", group, version) : twin_xstrdup(version);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", gv,
                            "resources", res);
    free(gv);
    return doc;
}

/* Aggregated discovery (apidiscovery.k8s.io/v2): every group of `core`
 * (1: the legacy group at /api; 0: the named groups at /apis). */
static json_t *aggregated(int core)
{
    size_t n;
    const twin_kind *k = twin_kinds(&n);
    json_t *items = json_array();
    json_t *by_group = json_object();   /* group -> resources array */
    for (size_t i = 0; i < n; i++) {
        if (core != !*k[i].group)
            continue;
        json_t *res = json_object_get(by_group, k[i].group);
        if (!res) {
            res = json_array();
            json_object_set_new(by_group, k[i].group, res);
            char *gv_version = twin_xstrdup(k[i].version);
            json_array_append_new(items, json_pack("{s:{s:s}, s:[{s:s, s:s, s:O}]}", "metadata", "name", k[i].group,
                                                   "versions", "version", gv_version, "freshness", "Current",
                                                   "resources", res));
            free(gv_version);
        }
        json_t *verbs = verbs_of(&k[i]);
        json_t *r = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource", k[i].resource, "responseKind",
                              "group", k[i].group, "version", k[i].version, "kind", k[i].kind, "scope",
                              k[i].namespaced ? "Namespaced" : "Cluster", "singularResource", k[i].singular, "verbs",
                              verbs);
        if (*k[i].short_names)
            json_object_set_new(r, "shortNames", json_pack("[s]", k[i].short_names));
        json_t *subs = json_array();
        if (k[i].has_status)
            json_array_append_new(subs, json_pack("{s:s, s:{s:s, s:s, s:s}, s:[sss]}", "subresource", "status",
                                                  "responseKind", "group", k[i].group, "version", k[i].version, "kind",
                                                  k[i].kind, "verbs", "get", "patch", "update"));
        if (k[i].has_scale)
            json_array_append_new(subs, json_pack("{s:s, s:{s:s, s:s, s:s}, s:[sss]}", "subresource", "scale",
                                                  "responseKind", "group", "autoscaling", "version", "v1", "kind",
                                                  "Scale", "verbs", "get", "patch", "update"));
        if (json_array_size(subs))
            json_object_set_new(r, "subresources", subs);
        else
            json_decref(subs);
        static const char *ALL[] = {"Pod", "Service", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
                                    "CronJob", "HorizontalPodAutoscaler", NULL};
        for (int a = 0; ALL[a]; a++)
            if (!strcmp(ALL[a], k[i].kind))
                json_object_set_new(r, "categories", json_pack("[s]", "all"));
        json_array_append_new(res, r);
    }
    json_decref(by_group);
    return json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion", "apidiscovery.k8s.io/v2",
                     "metadata", "items", items);
}

static json_t *group_list(void)
{
    size_t n;
    const twin_kind *k = twin_kinds(&n);
    json_t *groups = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; i < n; i++) {
        if (!*k[i].group || json_object_get(seen, k[i].group))
            continue;
        json_object_set_new(seen, k[i].group, json_true());
        char *gv = twin_xasprintf("%s/%s", k[i].group, k[i].version);
        json_array_append_new(groups, json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name", k[i].group,
                                                "versions", "groupVersion", gv, "version", k[i].version,
                                                "preferredVersion", "groupVersion", gv, "version", k[i].version));
        free(gv);
    }
    json_decref(seen);
    return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups);
}

/* ---- OpenAPI v3: just enough for kubectl's field validation (it checks
 * that PATCH takes fieldValidation, then leaves validation to the server;
 * kubectl-wire.md section 3) ---- */

static json_t *openapi_root(void)
{
    size_t n;
    const twin_kind *k = twin_kinds(&n);
    json_t *paths = json_object();
    for (size_t i = 0; i < n; i++) {
        char *gv = *k[i].group ? twin_xasprintf("apis/%s/%s", k[i].group, k[i].version)
                               : twin_xasprintf("api/%s", k[i].version);
        char *url = twin_xasprintf("/openapi/v3/%s?hash=airlock", gv);
        json_object_set_new(paths, gv, json_pack("{s:s}", "serverRelativeURL", url));
        free(gv);
        free(url);
    }
    return json_pack("{s:o}", "paths", paths);
}

static json_t *openapi_group(const char *group, const char *version)
{
    size_t n;
    const twin_kind *k = twin_kinds(&n);
    json_t *paths = json_object();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k[i].group, group) || strcmp(k[i].version, version))
            continue;
        char *prefix = *group ? twin_xasprintf("/apis/%s/%s", group, version) : twin_xasprintf("/api/%s", version);
        char *path = k[i].namespaced ? twin_xasprintf("%s/namespaces/{namespace}/%s/{name}", prefix, k[i].resource)
                                     : twin_xasprintf("%s/%s/{name}", prefix, k[i].resource);
        json_object_set_new(paths, path,
                            json_pack("{s:{s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:{s:s}}], s:{s:{s:s}}}}", "patch",
                                      "x-kubernetes-group-version-kind", "group", group, "version", version, "kind",
                                      k[i].kind, "parameters", "name", "fieldValidation", "in", "query", "schema",
                                      "type", "string", "responses", "200", "description", "OK"));
        free(prefix);
        free(path);
    }
    if (!json_object_size(paths)) {
        json_decref(paths);
        return NULL;
    }
    return json_pack("{s:s, s:{s:s, s:s}, s:{s:{}}, s:o}", "openapi", "3.0.0", "info", "title", "Kubernetes",
                     "version", "v1.32.0", "components", "schemas", "paths", paths);
}

/* ---- production's state ---- */

/* The freshness rule (enforce and shadow mode): a mutation is judged on a
 * twin that has seen production's state as of the moment it arrived.  One
 * constant-size probe -- a limit=1 list of the target's kind (of
 * Namespaces when production does not serve it) -- gives production's
 * resourceVersion now; the watches must bring the twin there within
 * --fresh-wait seconds (serve_int.h). */
int gate_fresh(server *sv, const gate_action *a, char *err, size_t errlen)
{
    const twin_kind *k = a->kind;
    if (!json_object_get(sv->served, k->kind))
        k = twin_kind_by_name(sv->engine.twin, "Namespace");
    int absent;
    char *rv = NULL;
    json_t *items = gate_upstream_list_at(sv->up, k, k->namespaced ? a->ns : NULL, NULL, NULL, 1, &rv, &absent, err,
                                          errlen);
    if (!items) {
        if (absent)
            snprintf(err, errlen, "production did not let the gate list %s to learn its current version",
                     k->resource);
        return -1;
    }
    json_decref(items);
    int rc = gate_informer_wait(sv->informer, rv, sv->fresh_wait, err, errlen);
    free(rv);
    return rc;
}

/* The informer's report of each change production made: drift unless a
 * mutation this gate forwarded explains it (under the engine lock). */
static void on_change(void *ud, const char *type, const json_t *before, const json_t *after)
{
    server *sv = ud;
    json_t *rec = gate_drift_observe(sv->drift, sv->engine.twin, type, before, after, gate_now());
    if (!rec)
        return;
    const json_t *obj = after ? after : before;
    const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    gate_log("drift: production %s %s %s%s%s, not through the gate", type, json_string_value(json_object_get(rec, "kind")),
             ns ? ns : "", ns ? "/" : "", json_string_value(json_object_get(rec, "name")));
    char aerr[256];
    if (gate_audit_note(sv, rec, aerr, sizeof aerr) < 0)
        gate_log("drift could not be recorded: %s", aerr);
    json_decref(rec);
}

/* ---- the request path ---- */

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

/* The identity of the bearer token, or NULL; *expired when the token is
 * known but past its time (the identity is returned so the refusal can
 * name it). */
static gate_identity *authenticate(server *sv, struct MHD_Connection *c, int *expired)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    *expired = 0;
    if (!auth || strncmp(auth, "Bearer ", 7))
        return NULL;
    gate_identity *id = gate_agents_find(&sv->agents, auth + 7);
    if (id && id->expires && gate_now() > id->expires)
        *expired = 1;
    return id;
}

/* A list's resourceVersion, where a watch from it starts. */
static void set_list_version(json_t *list, long long rv)
{
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%lld", rv);
    json_t *meta = json_object_get(list, "metadata");
    if (!json_is_object(meta))
        json_object_set_new(list, "metadata", meta = json_object());
    json_object_set_new(meta, "resourceVersion", json_string(rvs));
}

/* A List, paged by limit/continue: the continue token is the offset into
 * the list (sorted by namespace and name), so a client walks it in order. */
static json_t *wrap_list(struct MHD_Connection *c, json_t *items, const char *kind, const char *api_version,
                         long long rv, int *bad)
{
    const char *limit_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
    long limit = limit_s ? atol(limit_s) : 0, from = 0;
    *bad = 0;
    if (cont && *cont) {
        char *end;
        if (strncmp(cont, "airlock-", 8) || (from = strtol(cont + 8, &end, 10)) < 0 || *end) {
            *bad = 1;
            return NULL;
        }
    }
    size_t n = json_array_size(items);
    json_t *page = json_array();
    size_t upto = limit > 0 && (size_t)from + (size_t)limit < n ? (size_t)from + (size_t)limit : n;
    for (size_t i = (size_t)from; i < upto; i++)
        json_array_append(page, json_array_get(items, i));
    char *lk = twin_xasprintf("%sList", kind);
    json_t *l = json_pack("{s:s, s:s, s:{}, s:o}", "kind", lk, "apiVersion", api_version, "metadata", "items", page);
    set_list_version(l, rv);
    if (upto < n) {
        char *tok = twin_xasprintf("airlock-%zu", upto);
        json_object_set_new(json_object_get(l, "metadata"), "continue", json_string(tok));
        json_object_set_new(json_object_get(l, "metadata"), "remainingItemCount", json_integer((json_int_t)(n - upto)));
        free(tok);
    }
    free(lk);
    return l;
}

/* ---- the last phase: forwarded to production, or answered from the twin ---- */

/* The Accept header production is asked with: kubectl may ask for
 * protobuf, which the gate never forwards as such; an answer about Secrets
 * that the gate must redact is asked for as JSON (a Table stays a Table). */
static const char *production_accept(struct MHD_Connection *c, int redact)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    int table = accept && strstr(accept, "as=Table");
    if (redact)
        return table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json";
    for (const char *p = accept; p && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            return "application/json";
    return accept && strstr(accept, "protobuf") ? "application/json" : accept;
}

static int wants_table(struct MHD_Connection *c)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    return accept && strstr(accept, "as=Table") != NULL;
}

/* Production's answer about Secrets, redacted for an agent without
 * read_secrets.  0, or -1 when the answer is not JSON (then it is withheld:
 * it could hold what may not be read). */
static int redact_answer(gate_upstream_answer *ans)
{
    if (!ans->body.len)
        return 0;
    json_t *doc = json_loadb(ans->body.s, ans->body.len, 0, NULL);
    if (!doc)
        return -1;
    gate_redact_secret_answer(doc);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return -1;
    twin_buf_free(&ans->body);
    twin_buf_add(&ans->body, text, strlen(text));
    free(text);
    return 0;
}

/* A mutation about to be forwarded (ans NULL), or that production took:
 * what it changes -- the action's target, a create's name from its body,
 * then from production's answer; a collection delete's objects -- is told
 * to the drift watch, so that production's events for it are not drift. */
static void expect_change(server *sv, const gate_decision *d, const gate_upstream_answer *ans)
{
    const json_t *a = d->action;
    const char *kind = json_string_value(json_object_get(a, "kind"));
    const char *ns = json_string_value(json_object_get(a, "namespace"));
    const char *name = json_string_value(json_object_get(a, "name"));
    if (!name)
        name = json_string_value(json_object_get(json_object_get(d->body, "metadata"), "name"));
    json_t *obj = ans && ans->body.len ? json_loadb(ans->body.s, ans->body.len, 0, NULL) : NULL;
    const char *oname = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    const char *okind = json_string_value(json_object_get(obj, "kind"));
    if (oname && okind && kind && !strcmp(okind, kind))
        name = oname;   /* a create's name, generated or not */
    gate_drift_expect(sv->drift, kind, ns, name, gate_now());
    size_t i;
    json_t *ch;
    if (!ans)   /* what the twin saw it change: a collection delete's objects, a cascade */
        json_array_foreach(d->diff, i, ch)
            gate_drift_expect(sv->drift, json_string_value(json_object_get(ch, "kind")),
                              json_string_value(json_object_get(ch, "namespace")),
                              json_string_value(json_object_get(ch, "name")), gate_now());
    if (json_is_array(json_object_get(obj, "items"))) {   /* a collection delete: every object it named */
        json_t *it;
        json_array_foreach(json_object_get(obj, "items"), i, it)
            gate_drift_expect(sv->drift, kind, json_string_value(json_object_get(json_object_get(it, "metadata"), "namespace")),
                              json_string_value(json_object_get(json_object_get(it, "metadata"), "name")), gate_now());
    }
    json_decref(obj);
}

/* forward: production receives the request built from the judged action
 * (d->wire, never the agent's bytes); its status and body go back (Secret
 * values redacted for an agent without read_secrets), the twin follows what
 * it did, and shadow mode records the would-be verdict. */
static enum MHD_Result forward_call(server *sv, struct MHD_Connection *c, const gate_identity *who, const char *pq,
                                   gate_decision *d, const char *record_id, int *took_out)
{
    gate_upstream_answer ans;
    char ferr[512];
    enum MHD_Result rc;
    const gate_wire *w = &d->wire;
    const char *agent = who->name;
    int redact = d->secret && !who->read_secrets;
    /* production's events for it may come before its answer: what it
     * changes is expected before it is sent (a refusal leaves an
     * expectation that nothing matches, for the window) */
    if (strcmp(w->method, "GET"))
        expect_change(sv, d, NULL);
    int fr = gate_upstream_call(sv->up, w->method, w->path_query, w->content_type, production_accept(c, redact),
                                w->body, w->len, &ans, ferr, sizeof ferr);
    int took = fr == 0 && ans.status >= 200 && ans.status < 300;
    *took_out = took;
    if (took && strcmp(w->method, "GET"))   /* a create's generated name, known only now */
        expect_change(sv, d, &ans);
    if (d->held) {
        pthread_mutex_lock(&sv->lock);
        if (gate_finish(&sv->engine, d, took) < 0)   /* production has it, the twin does not: say so loudly */
            gate_log("the twin could not commit what production took (%s %s): the twin misses this change",
                     w->method, pq);
        pthread_mutex_unlock(&sv->lock);
    }
    if (record_id) {
        /* the decision was recorded before it was forwarded; now what
         * production did with it */
        json_t *outcome = json_pack("{s:s, s:s, s:s, s:I, s:b}", "type", "outcome", "agent", agent, "decision",
                                    record_id, "production_status", (json_int_t)(fr == 0 ? ans.status : 0),
                                    "committed", took && d->verdict == GATE_ALLOW);
        char aerr[256];
        if (gate_audit_outcome(sv, outcome, aerr, sizeof aerr) < 0)
            gate_log("the outcome of decision %s could not be recorded: %s", record_id, aerr);
        json_decref(outcome);
    }
    gate_log("%s %s %s -> %s%s, production %ld", agent, w->method, pq, gate_verdict_name(d->verdict),
             sv->shadow ? " (shadow: forwarded anyway)" : "", fr == 0 ? ans.status : 0L);
    if (sv->shadow && sv->shadow_log) {
        /* what the gate would have done, for rolling out policies (the
         * file's lock keeps each record one line) */
        json_t *line = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:O}", "time", (json_int_t)time(NULL),
                                 "agent", agent, "method", w->method, "path", pq, "verdict",
                                 gate_verdict_name(d->verdict), "message", d->message ? d->message : "",
                                 "production_status", (json_int_t)(fr == 0 ? ans.status : 0), "results",
                                 d->results);
        if (line) {
            flockfile(sv->shadow_log);
            json_dumpf(line, sv->shadow_log, JSON_COMPACT);
            fputc('\n', sv->shadow_log);
            fflush(sv->shadow_log);
            funlockfile(sv->shadow_log);
        }
        json_decref(line);
    }
    if (fr < 0) {
        char *msg = twin_xasprintf("airlock: production could not be reached: %s", ferr);
        rc = send_status(c, 502, msg);
        free(msg);
        return rc;
    }
    if (redact && redact_answer(&ans) < 0) {
        gate_upstream_answer_free(&ans);
        return send_status(c, 502, "airlock: production's answer about Secrets is not JSON: it is withheld");
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(ans.body.len, ans.body.s ? ans.body.s : (void *)"",
                                                             MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type",
                            redact || !ans.content_type[0] ? "application/json" : ans.content_type);
    rc = MHD_queue_response(c, (unsigned)ans.status, r);
    MHD_destroy_response(r);
    gate_upstream_answer_free(&ans);
    return rc;
}

/* answer from the twin: the object, a List (paged), a Table, or the
 * refusal as a Status (a review's message carries its approval id).
 * Secret values are redacted for an agent without read_secrets. */
static enum MHD_Result answer(struct MHD_Connection *c, gate_decision *d, long long rv, int redact)
{
    enum MHD_Result rc;
    const char *kind = json_string_value(json_object_get(d->action, "kind"));
    const char *verb = json_string_value(json_object_get(d->action, "verb"));
    if (redact && d->object)
        gate_redact_secret_answer(d->object);
    if (d->verdict == GATE_ALLOW && d->object && kind && gate_verb_is_read(verb) && wants_table(c) &&
        (json_is_array(d->object) || json_is_object(d->object))) {
        json_t *tab = gate_table(kind, d->object);
        if (json_is_array(d->object))
            set_list_version(tab, rv);
        rc = send_json(c, 200, tab);
        json_decref(tab);
    } else if (d->verdict == GATE_ALLOW && d->object && json_is_array(d->object)) {
        const char *g = json_string_value(json_object_get(d->action, "group"));
        const char *v = json_string_value(json_object_get(d->action, "version"));
        char *av = g && *g ? twin_xasprintf("%s/%s", g, v) : twin_xstrdup(v ? v : "v1");
        int bad_token;
        json_t *list = wrap_list(c, d->object, kind ? kind : "", av, rv, &bad_token);
        free(av);
        if (bad_token)
            return gate_send_status(c, 410, "Expired",   /* as the API server names an old continue */
                                      "the continue token is not one this server gave out: list again");
        rc = send_json(c, d->code ? (unsigned)d->code : 200, list);
        json_decref(list);
    } else if (d->verdict == GATE_ALLOW && json_is_string(d->object)) {
        /* a pod's log: text, as the API server sends it */
        struct MHD_Response *r = MHD_create_response_from_buffer(json_string_length(d->object),
                                                                 (void *)json_string_value(d->object),
                                                                 MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "Content-Type", "text/plain");
        rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
    } else if (d->verdict == GATE_ALLOW && d->object) {
        rc = send_json(c, d->code ? (unsigned)d->code : 200, d->object);
    } else {
        unsigned code = d->code ? (unsigned)d->code : 500;
        rc = send_status(c, code, d->message ? d->message : "refused");
    }
    return rc;
}

/* ---- watch ---- */

/* Twin mode: a stream of the twin's committed changes from the version the
 * client names (or the current objects first). */
static enum MHD_Result twin_watch(server *sv, struct MHD_Connection *c, gate_decision *d, long long rv, int redact)
{
    const char *ts = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "timeoutSeconds");
    const char *bookmarks = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "allowWatchBookmarks");
    if (redact)
        gate_redact_secret_answer(d->object);
    gate_watch_opts o = {
        .kind = json_string_value(json_object_get(d->action, "kind")),
        .ns = json_string_value(json_object_get(d->action, "namespace")),
        .label_selector = json_string_value(json_object_get(d->action, "label_selector")),
        .field_selector = json_string_value(json_object_get(d->action, "field_selector")),
        .resource_version = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion"),
        .timeout_seconds = ts ? atol(ts) : 0,
        .render = wants_table(c) ? gate_table : NULL,
        .redact_secrets = redact,
        .bookmarks = bookmarks && (!strcmp(bookmarks, "true") || !strcmp(bookmarks, "1")),
    };
    char err[512];
    struct MHD_Response *r = gate_watch_twin(sv->watch, c, &o, d->object, rv, err, sizeof err);
    if (!r)
        return send_status(c, 400, err);
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

/* Enforce mode: production's stream (of the request built from the judged
 * action), passed through as it comes, or event by event with Secret
 * values redacted. */
static enum MHD_Result pass_watch(server *sv, struct MHD_Connection *c, const gate_identity *who, const char *pq,
                                  const gate_decision *d)
{
    unsigned status = 0;
    char err[512];
    int redact = d->secret && !who->read_secrets;
    struct MHD_Response *r = gate_watch_upstream(sv->watch, c, sv->up, d->wire.path_query,
                                                 production_accept(c, redact), redact, &status, err, sizeof err);
    gate_log("%s GET %s -> allow, production %u (watch)", who->name, pq, r ? status : 0);
    if (!r) {
        char *msg = twin_xasprintf("airlock: production could not be reached: %s", err);
        enum MHD_Result rc = send_status(c, 502, msg);
        free(msg);
        return rc;
    }
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- the Kubernetes API path of an agent's call ---- */

/* The request's Content-Type as the record keeps it: protobuf bodies are
 * recorded decoded, as JSON. */
static const char *record_content_type(struct MHD_Connection *c)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    return !ct || strstr(ct, "protobuf") ? "application/json" : ct;
}

/* A JSON string's text, or "" (never NULL, for messages). */
static const char *str_of(const json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "";
}

/* A mutation while the gate is frozen: refused and recorded. */
static enum MHD_Result refuse_frozen(server *sv, struct MHD_Connection *c, const gate_identity *who,
                                     const char *method, const char *pq, const json_t *freeze)
{
    char since[32];
    gate_audit_format_time(json_number_value(json_object_get(freeze, "since")), since);
    gate_decision d = {
        .verdict = GATE_DENY,
        .code = 403,
        .message = twin_xasprintf("airlock: denied by freeze: %s (frozen by %s since %s); reads still work",
                                  str_of(json_object_get(freeze, "reason")), str_of(json_object_get(freeze, "by")),
                                  since),
        .action = json_pack("{s:s, s:s}", "method", method, "path", pq),
        .results = json_pack("[{s:s, s:s, s:s}]", "policy", "freeze", "verdict", "deny", "reason",
                             "the gate is frozen: no mutation passes until an approver thaws it"),
    };
    char err[256];
    json_t *extra = json_pack("{s:b}", "frozen", 1);
    enum MHD_Result rc;
    unsigned long long ticket = 0;
    pthread_mutex_lock(&sv->lock);   /* the record names the policy set, which a reload may swap */
    int arc = gate_audit_decision(sv, who, method, pq, record_content_type(c), &d, extra, NULL,
                                  sv->up ? &ticket : NULL, err, sizeof err);
    pthread_mutex_unlock(&sv->lock);
    if (arc == 0)
        arc = gate_audit_wait(sv->audit, ticket, err, sizeof err);   /* durable before the answer */
    if (arc < 0) {
        char *msg = twin_xasprintf("airlock: denied: the decision could not be recorded: %s", err);
        rc = send_status(c, 500, msg);
        free(msg);
    } else {
        gate_log("%s %s %s -> deny (frozen)", who->name, method, pq);
        rc = send_status(c, 403, d.message);
    }
    json_decref(extra);
    gate_decision_free(&d);
    return rc;
}

/* A review: an approval of the same action by the same agent lets it
 * through once (and only if its impact is still what was approved; it is
 * used up by the caller, once production took the change: *use);
 * otherwise the action waits as a pending approval.  Called with the
 * engine lock, the decision held open.  Returns the approval id (new) and
 * sets *pending when the action is (still, or again) waiting, *created when
 * its approval is new.  A dry run (never held) gets or finds its approval
 * like the real call, so an agent may ask first; an approval lets a dry
 * run through without being used up. */
static char *settle_review(server *sv, const gate_identity *who, const char *method, const char *pq,
                           const char *ctype, int dry, gate_decision *d, int *pending, int *created, int *use)
{
    double now = gate_now();
    char *fp = gate_fingerprint(who->name, d->diff);
    char *id = NULL;
    *pending = 1;
    *created = 0;
    *use = 0;
    json_t *ok = gate_approvals_find_approved(sv->approvals, who->name, fp, now);
    json_t *rdiff = gate_redact_diff(d->diff);
    if (ok) {
        char why[256];
        id = twin_xstrdup(json_string_value(json_object_get(ok, "id")));
        if (gate_impact_changed(json_object_get(ok, "impact"), d->impact, why, sizeof why)) {
            gate_approvals_repend(sv->approvals, id, d->impact, rdiff, why, now);
            gate_finish(&sv->engine, d, 0);
            char *msg = twin_xasprintf("%s; the impact changed since it was approved (%s): approval id %s is "
                                       "pending again",
                                       d->message, why, id);
            free(d->message);
            d->message = msg;
        } else {
            const char *by = json_string_value(json_object_get(ok, "decided_by"));
            char *msg = twin_xasprintf("allowed by approval id %s (approved by %s)", id, by ? by : "?");
            *use = !dry;
            gate_allow_reviewed(d, msg);
            free(msg);
            *pending = 0;
        }
        json_decref(ok);
    } else {
        gate_finish(&sv->engine, d, 0);
        const char *kind = json_string_value(json_object_get(d->action, "kind"));
        json_t *body = gate_redact(d->body, kind);
        json_t *doc = json_pack("{s:O, s:{s:s, s:s, s:s, s:o}, s:s, s:O, s:O, s:O}", "action", d->action,
                                "request", "method", method, "path", pq, "content_type", ctype, "body",
                                body ? body : json_null(), "message", d->message, "results", d->results, "impact",
                                d->impact ? d->impact : json_null(), "diff", rdiff);
        int fresh = 0;
        id = gate_approvals_add(sv->approvals, who->name, fp, doc, now, &fresh);
        json_decref(doc);
        char *msg;
        if (id) {
            msg = twin_xasprintf("%s; approval id %s", d->message, id);
        } else if (fresh == GATE_APPROVAL_CAPPED) {
            /* one agent cannot crowd the approvers' list: no new approval
             * until some of its own are decided or expire */
            msg = twin_xasprintf("airlock: agent %s has %ld approvals pending (the cap): no new one is made until "
                                 "some are decided or expire (%s)",
                                 who->name, gate_approvals_max_pending(sv->approvals), d->message);
            d->code = 429;
            *pending = 0;
        } else {
            msg = twin_xasprintf("%s; the pending approval could not be stored", d->message);
        }
        free(d->message);
        d->message = msg;
        *created = id && fresh == GATE_APPROVAL_MADE;
    }
    json_decref(rdiff);
    free(fp);
    return id;
}

/* The main loop's round over the held requests: each whose approval was
 * decided or expired, whose wait is over, or all when the server stops, is
 * resumed (its handler runs again and answers).  Resumed outside the
 * engine lock: libmicrohttpd takes locks of its own. */
static void resume_held(server *sv)
{
    request *ready = NULL;
    pthread_mutex_lock(&sv->lock);
    double now = gate_now();
    for (request **p = &sv->held; *p;) {
        request *r = *p;
        json_t *a = gate_approvals_get(sv->approvals, r->approval_id, now);   /* expiry applies here */
        const char *state = json_string_value(json_object_get(a, "state"));
        if (!state || strcmp(state, "pending") || sv->stopping || now >= r->until) {
            *p = r->next_held;
            r->outcome = a;
            r->held = 2;
            r->next_held = ready;
            ready = r;
            sv->waiting--;
            sv->resuming++;
        } else {
            json_decref(a);
            p = &r->next_held;
        }
    }
    pthread_mutex_unlock(&sv->lock);
    while (ready) {
        request *r = ready;
        ready = r->next_held;
        r->next_held = NULL;
        MHD_resume_connection(r->conn);
    }
}

/* A held request, resumed: the person's answer, as a refusal (approved:
 * NULL, the caller judges it again). */
static char *held_refusal(server *sv, const request *rq)
{
    const json_t *a = rq->outcome;
    const char *state = json_string_value(json_object_get(a, "state"));
    if (state && !strcmp(state, "approved"))
        return NULL;
    if (state && !strcmp(state, "denied")) {
        const char *cm = json_string_value(json_object_get(a, "comment"));
        return twin_xasprintf("airlock: denied by approver %s%s%s; approval id %s",
                              str_of(json_object_get(a, "decided_by")), cm && *cm ? ": " : "", cm && *cm ? cm : "",
                              rq->approval_id);
    }
    if (state && !strcmp(state, "expired"))
        return twin_xasprintf("%s (no approver answered: it expired)", rq->message);
    if (sv->stopping)
        return twin_xasprintf("%s (the gate is stopping; it stays pending)", rq->message);
    return twin_xasprintf("%s (no approver answered within %g s; it stays pending)", rq->message, sv->review_wait);
}

/* Waits until a decision's record is durable (group commit: called
 * without the engine lock).  0, or -1 with a 500 queued in *rc: nothing is
 * answered or forwarded whose decision could still be lost. */
static int durable(server *sv, struct MHD_Connection *c, unsigned long long ticket, enum MHD_Result *rc)
{
    char err[256];
    if (gate_audit_wait(sv->audit, ticket, err, sizeof err) == 0)
        return 0;
    char *msg = twin_xasprintf("airlock: denied: the decision could not be recorded: %s", err);
    *rc = send_status(c, 500, msg);
    free(msg);
    return -1;
}

/* The kill switch and the agent's rate limit: checked before any work, and
 * again each time the request is judged anew (after a person approved it),
 * so that a freeze stops what was not yet forwarded.  Returns 1 with the
 * refusal queued in *rc, or 0 to go on.  Called without a lock. */
static int admit(server *sv, struct MHD_Connection *c, const gate_identity *who, const char *method,
                 const char *pq, int count, enum MHD_Result *rc)
{
    pthread_mutex_lock(&sv->lock);
    json_t *freeze = gate_freeze_get(sv->approvals);
    int frozen = json_is_true(json_object_get(freeze, "frozen"));
    const char *which = "";
    long wait = frozen || !count ? 0 : gate_agents_rate((gate_identity *)who, gate_now(), &which);
    pthread_mutex_unlock(&sv->lock);
    if (frozen) {
        *rc = refuse_frozen(sv, c, who, method, pq, freeze);
        json_decref(freeze);
        return 1;
    }
    json_decref(freeze);
    if (!wait)
        return 0;
    long limit = !strcmp(which, "per second") ? who->per_second : who->per_minute;
    char *msg = twin_xasprintf("airlock: rate limit: agent %s may make %ld mutations %s; retry after %ld s",
                               who->name, limit, which, wait);
    json_t *st = twin_status(429, "TooManyRequests", msg);
    json_object_set_new(st, "details", json_pack("{s:I}", "retryAfterSeconds", (json_int_t)wait));
    char *text = twin_xdumps(st, JSON_COMPACT);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    char after[24];
    snprintf(after, sizeof after, "%ld", wait);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Retry-After", after);
    *rc = MHD_queue_response(c, 429, r);
    MHD_destroy_response(r);
    gate_log("%s %s %s -> 429 (%s)", who->name, method, pq, msg);
    json_decref(st);
    free(msg);
    return 1;
}

static enum MHD_Result kube_call(server *sv, struct MHD_Connection *c, request *rq, gate_identity *who,
                                 const char *method)
{
    /* the request target as received: the one text the twin parses, the
     * audit records and the log shows (escaped); production receives the
     * request rebuilt from what was parsed (d.wire) */
    const char *pq = rq->uri;
    json_t *headers = json_object();
    MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, headers);
    const char *agent = who->name, *ctype = record_content_type(c);
    int redact = !who->read_secrets;
    gate_decision d = {0};
    enum MHD_Result rc;
    char *approval_id = NULL, *record_id = NULL;
    unsigned long long ticket = 0;   /* the decision's record, until it is durable */
    int mutation = strcmp(method, "GET") && strcmp(method, "HEAD"), waited = 0, notify = 0;

    if (rq->held == 2) {
        /* resumed after a hold: the person's answer */
        pthread_mutex_lock(&sv->lock);
        sv->resuming--;
        pthread_mutex_unlock(&sv->lock);
        char *msg = held_refusal(sv, rq);
        gate_log("%s %s %s -> %s after waiting", agent, method, pq,
                 str_of(json_object_get(rq->outcome, "state")));
        rq->held = 0;
        if (msg) {
            rc = send_status(c, 403, msg);
            free(msg);
            goto done;
        }
        waited = 1;   /* approved: judged again on the current twin; the approval lets it through once */
    } else if (mutation && admit(sv, c, who, method, pq, 1, &rc)) {
        goto done;
    }

    /* judge (again, after a person approved a held request) */
    /* Mutations take `write` first and keep it until production has
     * answered, so they are serialized end to end; the engine lock is held
     * only while the twin and the policies work, so reads (judged under it)
     * never wait on a mutation's round trip to production. */
    if (mutation)
        pthread_mutex_lock(&sv->write);
    pthread_mutex_lock(&sv->lock);
    gate_decision_free(&d);
    gate_action act;
    int parsed = gate_decide_parse(&sv->engine, method, pq, headers, NULL, rq->body.s, rq->body.len, &act, &d) == 0;
    if (parsed && mutation && sv->informer) {
        /* judged on production's state as of now: the watches must have
         * brought it (the engine lock is let go meanwhile: they need it) */
        char ferr[1024];
        pthread_mutex_unlock(&sv->lock);
        int stale = gate_fresh(sv, &act, ferr, sizeof ferr);
        pthread_mutex_lock(&sv->lock);
        if (stale) {
            gate_action_free(&act);
            pthread_mutex_unlock(&sv->lock);
            pthread_mutex_unlock(&sv->write);
            gate_log("%s %s %s -> refused: %s", agent, method, pq, ferr);
            char *msg = twin_xasprintf("airlock: refused: %s; try again", ferr);
            rc = gate_send_status(c, 503, "ServiceUnavailable", msg);
            free(msg);
            goto done;
        }
    }
    if (mutation) {
        /* a freeze that landed while this request waited for the write
         * lock, for production's state, or for a person, still stops it */
        json_t *freeze = gate_freeze_get(sv->approvals);
        if (json_is_true(json_object_get(freeze, "frozen"))) {
            if (parsed)
                gate_action_free(&act);
            pthread_mutex_unlock(&sv->lock);
            pthread_mutex_unlock(&sv->write);
            rc = refuse_frozen(sv, c, who, method, pq, freeze);
            json_decref(freeze);
            goto done;
        }
        json_decref(freeze);
    }
    /* the agent's profile */
    sv->engine.config_overrides = who->config;
    sv->engine.policy_subset = who->policies;
    sv->engine.read_secrets = who->read_secrets;
    long long rv_before = twin_resource_version(sv->engine.twin);
    if (parsed) {
        gate_decide_action(&sv->engine, agent, &act, &d);
        gate_action_free(&act);
        gate_release(&sv->engine, &d);   /* a mirror of production: its events bring the change, if it takes it */
    }
    const char *verb = json_string_value(json_object_get(d.action, "verb"));
    const char *kind = json_string_value(json_object_get(d.action, "kind"));
    int is_read = gate_verb_is_read(verb), is_watch = verb && !strcmp(verb, "watch");
    int dry = json_is_true(json_object_get(d.action, "dry_run"));
    int pending = 0, created = 0, use_approval = 0;
    free(approval_id);
    approval_id = NULL;
    if (d.verdict == GATE_REVIEW && (d.held || dry) && !sv->shadow)   /* shadow mode only records */
        approval_id = settle_review(sv, who, method, pq, ctype, dry, &d, &pending, &created, &use_approval);
    notify |= created;
    /* only what was parsed is ever forwarded (d.wire): in shadow mode too */
    int forward = sv->up && d.wire.method &&
                  ((d.verdict == GATE_ALLOW && (d.held || is_read)) || (sv->shadow && !dry));

    /* the record: every mutation, every refusal, every read of Secrets;
     * durable before anything is answered or forwarded */
    int record = mutation || d.verdict != GATE_ALLOW || (kind && !strcmp(kind, "Secret"));
    if (record) {
        char aerr[256];
        json_t *extra = json_pack("{s:{s:I}}", "twin", "resource_version_before", (json_int_t)rv_before);
        if (approval_id)
            json_object_set_new(extra, "approval_id", json_string(approval_id));
        if (forward && !is_read)
            json_object_set_new(extra, "committed", json_null());   /* production will tell: see "outcome" */
        else
            json_object_set_new(extra, "committed",
                                json_boolean(!is_read && d.verdict == GATE_ALLOW && !dry && d.held));
        if (forward && !is_read)   /* what production receives, as it is sent */
            json_object_set_new(extra, "forwarded",
                                json_pack("{s:s, s:s}", "method", d.wire.method, "path", d.wire.path_query));
        free(record_id);
        record_id = NULL;
        /* enforce and shadow mode: journaled under the lock, made durable
         * (group commit) once the lock is let go, before anything is
         * answered or forwarded; twin mode commits the twin under the lock
         * right after, so it waits here */
        if (gate_audit_decision(sv, who, method, pq, ctype, &d, extra, &record_id, sv->up ? &ticket : NULL, aerr,
                                sizeof aerr) < 0) {
            json_decref(extra);
            gate_finish(&sv->engine, &d, 0);
            pthread_mutex_unlock(&sv->lock);
            if (mutation)
                pthread_mutex_unlock(&sv->write);
            char *msg = twin_xasprintf("airlock: denied: the decision could not be recorded: %s", aerr);
            rc = send_status(c, 500, msg);
            free(msg);
            goto done;
        }
        json_decref(extra);
    }
    if (!sv->up && d.held) {
        /* twin mode: the twin is the cluster; commit what is allowed */
        if (gate_finish(&sv->engine, &d, 1) < 0) {
            d.code = 500;
            d.verdict = GATE_ERROR;
            free(d.message);
            d.message = twin_xstrdup("airlock: the twin could not commit the change: nothing of it stays");
        } else if (use_approval) {
            gate_approvals_use(sv->approvals, approval_id, gate_now());
        }
    }
    long long rv = twin_resource_version(sv->engine.twin);
    if (!sv->up && !is_read && d.verdict == GATE_ALLOW && !dry && d.code < 300)
        gate_watch_publish(sv->watch, d.diff, rv);   /* committed: tell the watchers */

    if (pending && approval_id && sv->review_wait > 0 && !waited && sv->waiting < sv->max_waiting) {
        /* hold the agent's request for a person: nothing stays open meanwhile */
        if (mutation)
            pthread_mutex_unlock(&sv->write);
        if (ticket) {
            pthread_mutex_unlock(&sv->lock);
            int bad = durable(sv, c, ticket, &rc);
            pthread_mutex_lock(&sv->lock);
            if (bad) {
                pthread_mutex_unlock(&sv->lock);
                goto done;
            }
        }
        if (notify) {   /* the team hears of it before the wait, not after (queued: no wait) */
            json_t *pa = gate_approvals_get(sv->approvals, approval_id, gate_now());
            gate_notify_approval(sv, "approval.pending", pa);
            json_decref(pa);
            notify = 0;
        }
        /* the connection waits, not a thread: resume_held answers it */
        rq->held = 1;
        rq->approval_id = twin_xstrdup(approval_id);
        rq->message = twin_xstrdup(d.message);
        rq->until = gate_now() + sv->review_wait;
        rq->conn = c;
        rq->next_held = sv->held;
        sv->held = rq;
        sv->waiting++;
        MHD_suspend_connection(c);
        pthread_mutex_unlock(&sv->lock);
        gate_log("%s %s %s -> review: held for a person (approval id %s)", agent, method, pq, approval_id);
        rc = MHD_YES;
        goto done;
    }

    if (forward && is_watch) {
        pthread_mutex_unlock(&sv->lock);
        if (!durable(sv, c, ticket, &rc))
            rc = pass_watch(sv, c, who, pq, &d);
    } else if (forward) {
        /* the mutation stays open in the twin while its record is made
         * durable and production answers (`write` keeps the next one
         * waiting; the engine lock is let go, so reads are judged
         * meanwhile, on the committed state), then is committed if
         * production took it and rolled back otherwise */
        pthread_mutex_unlock(&sv->lock);
        if (durable(sv, c, ticket, &rc)) {
            pthread_mutex_lock(&sv->lock);
            gate_finish(&sv->engine, &d, 0);
            pthread_mutex_unlock(&sv->lock);
            if (mutation)
                pthread_mutex_unlock(&sv->write);
            goto done;
        }
        int took = 0;
        rc = forward_call(sv, c, who, pq, &d, is_read ? NULL : record_id, &took);
        if (use_approval && took) {
            /* used up only now that production took it (a 502 leaves it for
             * the retry); `write` is still held, so no twin of this
             * request can pass on the same approval meanwhile */
            pthread_mutex_lock(&sv->lock);
            gate_approvals_use(sv->approvals, approval_id, gate_now());
            pthread_mutex_unlock(&sv->lock);
        }
        if (mutation)
            pthread_mutex_unlock(&sv->write);
    } else {
        gate_finish(&sv->engine, &d, 0);   /* enforce mode: not forwarded, nothing stays */
        pthread_mutex_unlock(&sv->lock);
        if (mutation)
            pthread_mutex_unlock(&sv->write);
        if (durable(sv, c, ticket, &rc))
            goto done;
        gate_log("%s %s %s -> %s %d", agent, method, pq, gate_verdict_name(d.verdict), d.code);
        int secret = redact && d.secret;
        rc = is_watch && d.verdict == GATE_ALLOW && json_is_array(d.object) ? twin_watch(sv, c, &d, rv, secret)
                                                                           : answer(c, &d, rv, secret);
    }
done:
    if (notify && approval_id) {   /* a new approval: tell the team (no lock is held here) */
        pthread_mutex_lock(&sv->lock);
        json_t *a = gate_approvals_get(sv->approvals, approval_id, gate_now());
        pthread_mutex_unlock(&sv->lock);
        gate_notify_approval(sv, "approval.pending", a);
        json_decref(a);
    }
    free(approval_id);
    free(record_id);
    gate_decision_free(&d);
    json_decref(headers);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    server *sv = cls;
    request *rq = *con_cls;
    if (!rq) {   /* made by on_uri; kept for a caller without it */
        rq = twin_xcalloc(1, sizeof(*rq));
        rq->uri = twin_xstrdup(url);
        *con_cls = rq;
    }
    if (!rq->started) {   /* the headers: the body, if any, comes next */
        rq->started = 1;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->body.len + *upload_size > GATE_MAX_BODY)
            rq->too_big = 1;
        else
            twin_buf_add(&rq->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }

    /* the approvals page holds no data (it asks for a token): no token needed */
    if (!strcmp(method, "GET") && (!strcmp(url, "/airlock/ui") || !strcmp(url, "/airlock/ui/") ||
                                   !strcmp(url, "/airlock/ui/index.html"))) {
        size_t n;
        const char *page = gate_ui_page(&n);
        struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)page, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                "img-src 'self' data:; frame-ancestors 'none'");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        enum MHD_Result prc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return prc;
    }

    /* authenticate */
    int expired;
    gate_identity *who = authenticate(sv, c, &expired);
    if (!who)
        return send_status(c, 401, "Unauthorized: a known bearer token is required");
    if (expired) {
        char when[32];
        gate_audit_format_time(who->expires, when);
        char *msg = twin_xasprintf("Unauthorized: the token of %s expired at %s", who->name, when);
        enum MHD_Result erc = send_status(c, 401, msg);
        free(msg);
        return erc;
    }
    if (rq->too_big)
        return send_status(c, 413, "the request body is larger than the 3 MiB limit");
    if (!strncmp(url, "/airlock/", 9) || !strcmp(url, "/airlock"))
        return gate_api(sv, c, who, url, method, rq);
    if (who->role == GATE_ROLE_APPROVER) {
        char *msg = twin_xasprintf("airlock: %s is an approver, not an agent: an approver's token serves the "
                                   "approvals (/airlock/v1, /airlock/ui), never the Kubernetes API",
                                   who->name);
        enum MHD_Result arc = send_status(c, 403, msg);
        free(msg);
        return arc;
    }

    /* discovery and version */
    if (!strcmp(method, "GET")) {
        json_t *doc = NULL;
        const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        /* aggregated discovery only to a client that asks for exactly v2
         * (kubectl-wire.md section 2: v2 to a v2beta1 client breaks it) */
        if (acc && strstr(acc, "g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList") &&
            (!strcmp(url, "/api") || !strcmp(url, "/apis"))) {
            doc = aggregated(!strcmp(url, "/api"));
            char *text = twin_xdumps(doc, JSON_COMPACT);
            json_decref(doc);
            struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
            MHD_add_response_header(r, "Content-Type", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
            enum MHD_Result arc = MHD_queue_response(c, 200, r);
            MHD_destroy_response(r);
            return arc;
        }
        if (!strcmp(url, "/version"))
            doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor", "32",
                            "gitVersion", "v1.32.0-airlock", "gitCommit", "airlock", "gitTreeState", "clean",
                            "buildDate", "2026-01-01T00:00:00Z", "goVersion", "n/a", "compiler", "gc", "platform",
                            "linux/amd64");
        else if (!strcmp(url, "/api"))
            doc = json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                            "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress", "127.0.0.1");
        else if (!strcmp(url, "/apis"))
            doc = group_list();
        else if (!strcmp(url, "/api/v1"))
            doc = resource_list("", "v1");
        else if (!strncmp(url, "/apis/", 6) && strchr(url + 6, '/') && !strchr(strchr(url + 6, '/') + 1, '/')) {
            const char *slash = strchr(url + 6, '/');
            char *g = twin_xasprintf("%.*s", (int)(slash - url - 6), url + 6);
            doc = resource_list(g, slash + 1);
            free(g);
            if (!json_array_size(json_object_get(doc, "resources"))) {
                json_decref(doc);
                doc = NULL;
            }
        } else if (!strcmp(url, "/openapi/v3") || !strcmp(url, "/openapi/v3/")) {
            doc = openapi_root();
        } else if (!strncmp(url, "/openapi/v3/api/", 16)) {
            doc = openapi_group("", url + 16);
        } else if (!strncmp(url, "/openapi/v3/apis/", 17) && strchr(url + 17, '/')) {
            const char *slash = strchr(url + 17, '/');
            char *g = twin_xasprintf("%.*s", (int)(slash - url - 17), url + 17);
            doc = openapi_group(g, slash + 1);
            free(g);
        }
        if (!doc && !strncmp(url, "/openapi/", 9))   /* v2 is protobuf-only for clients: 404 */
            return send_status(c, 404, "the server could not find the requested resource");
        if (doc) {
            enum MHD_Result rc = send_json(c, 200, doc);
            json_decref(doc);
            return rc;
        }
    }

    return kube_call(sv, c, rq, who, method);
}

/* The request target exactly as the client sent it (libmicrohttpd gives
 * the handler a decoded path): the one text the Kubernetes adapter parses. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    request *rq = twin_xcalloc(1, sizeof(*rq));
    rq->uri = twin_xstrdup(uri ? uri : "");
    return rq;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    request *rq = *con_cls;
    if (rq) {
        twin_buf_free(&rq->body);
        free(rq->uri);
        free(rq->approval_id);
        free(rq->message);
        json_decref(rq->outcome);
        free(rq);
    }
    *con_cls = NULL;
}

/* ---- certificates and agents ---- */

/* The snapshot into the twin, kind by kind, as production has it. */
static int load_production(twin *t, const json_t *docs, char *err, size_t errlen)
{
    json_t *by_kind = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        const char *kind = json_string_value(json_object_get(d, "kind"));
        json_t *arr = json_object_get(by_kind, kind);
        if (!arr)
            json_object_set_new(by_kind, kind, arr = json_array());
        json_array_append(arr, d);
    }
    const char *kind;
    json_t *items;
    int rc = 0;
    json_object_foreach(by_kind, kind, items) {
        if ((rc = twin_sync(t, kind, NULL, items, err, errlen)) < 0)
            break;
    }
    json_decref(by_kind);
    return rc;
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, n, f) == n;
    ok &= fclose(f) == 0;
    chmod(path, mode);
    return ok ? 0 : -1;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    twin_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        twin_buf_add(&b, chunk, n);
    fclose(f);
    return b.s ? b.s : twin_xstrdup("");
}

/* A self-signed certificate for 127.0.0.1 and localhost, made once and kept
 * in the data directory. */
static int make_cert(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    int rc = -1;
    unsigned char buf[16384];
    size_t len;
    if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_privkey_generate(key, GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
        gnutls_x509_crt_init(&crt) < 0) {
        snprintf(err, errlen, "cannot generate a TLS key");
        goto out;
    }
    time_t now = time(NULL);
    unsigned char serial[8];
    gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
    serial[0] &= 0x7f;
    unsigned char ip[4] = {127, 0, 0, 1};
    gnutls_x509_crt_set_version(crt, 3);
    gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
    gnutls_x509_crt_set_activation_time(crt, now - 3600);
    gnutls_x509_crt_set_expiration_time(crt, now + 365L * 24 * 3600);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "airlock", 7);
    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_APPEND);
    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_APPEND);
    gnutls_x509_crt_set_basic_constraints(crt, 1, -1);   /* its own CA, so clients can pin it */
    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN);
    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    gnutls_x509_crt_set_key(crt, key);
    if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0) {
        snprintf(err, errlen, "cannot sign the TLS certificate");
        goto out;
    }
    len = sizeof buf;
    if (gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_PEM, buf, &len) < 0 || write_file(cert_path, buf, len, 0644) < 0) {
        snprintf(err, errlen, "cannot write %s", cert_path);
        goto out;
    }
    len = sizeof buf;
    if (gnutls_x509_privkey_export_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, buf, &len) < 0 ||
        write_file(key_path, buf, len, 0600) < 0) {
        snprintf(err, errlen, "cannot write %s", key_path);
        goto out;
    }
    rc = 0;
out:
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return rc;
}

static char *base64(const char *s)
{
    gnutls_datum_t in = {(unsigned char *)s, (unsigned)strlen(s)}, out = {NULL, 0};
    if (gnutls_base64_encode2(&in, &out) < 0)
        return twin_xstrdup("");
    char *r = twin_xasprintf("%.*s", (int)out.size, out.data);
    gnutls_free(out.data);
    return r;
}

static volatile sig_atomic_t stopping, reload_asked;
static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_asked = 1;
}

enum { POOL = 8 };   /* server threads */

static void usage(FILE *out)
{
    fputs("usage: gate serve [--listen HOST:PORT] [--state FILE|DIR ...] [--policies DIR|git:REPO[@REF][:DIR]]\n"
          "                  [--agents FILE]\n"
          "                  [--tls-cert FILE --tls-key FILE] [--data-dir DIR]\n"
          "                  [--upstream URL --upstream-token-file FILE (--upstream-ca FILE | --upstream-insecure)]\n"
          "                  [--mode enforce|shadow] [--fresh-wait SECONDS] [--pricing FILE]\n"
          "                  [--review-wait SECONDS] [--approval-ttl SECONDS] [--approved-ttl SECONDS]\n"
          "                  [--audit-repo DIR] [--webhook URL]\n"
          "                  [--config FILE]   (these options as a YAML/JSON file; flags given here win)\n"
          "\n"
          "Serves the Kubernetes API. Every call is authenticated, simulated in the twin and\n"
          "judged by the policies. Without --upstream the twin answers as the cluster (twin\n"
          "mode); with it, allowed calls are forwarded to production and the twin follows\n"
          "(enforce mode), or every call is forwarded and the verdict only recorded (shadow).\n"
          "With --upstream the twin is fed by production's watches; a mutation waits up to\n"
          "--fresh-wait seconds (default 2) for them to reach production's state as of its\n"
          "arrival, else it is refused 503. What production changes behind the gate's back is\n"
          "drift: logged, recorded, and listed by `gate drift`.\n"
          "Without --agents, an agent 'ops-bot' and its token are made in the data directory,\n"
          "with a kubeconfig for it, and an approver with its token in approver.token.\n"
          "\n"
          "A review verdict makes a pending approval (its id is in the refusal). The request is\n"
          "held up to --review-wait seconds (default 0) for a person; after an approval the same\n"
          "action from the same agent passes once within --approved-ttl (default 900 s); a\n"
          "pending approval expires after --approval-ttl (default 3600 s). Approvers use\n"
          "https://HOST/airlock/ui/, the API under /airlock/v1/ or `gate approvals`. Every\n"
          "decision is committed to the audit repository (default DATA-DIR/audit) before it is\n"
          "answered. SIGHUP reloads the policies (a broken set is refused, the old one stays).\n",
          out);
}

int gate_cmd_serve(int argc, char **argv)
{
    gate_cli_opts o;
    int rc = 3;
    server sv = {0};
    twin *t = NULL;
    gate_policy_set *ps = NULL;
    gate_history *h = NULL;
    char *cert = NULL, *key = NULL, *cert_path = NULL, *key_path = NULL;
    struct MHD_Daemon *daemon = NULL;
    char *demo = NULL, *policy_default = NULL;
    char err[2048];
    pthread_mutex_init(&sv.lock, NULL);
    pthread_mutex_init(&sv.write, NULL);

    int start = gate_cli_start(&o, argc, argv, "serve", usage);
    if (start) {
        rc = start > 0 ? 0 : rc;
        goto out;
    }
    const char *listen = o.listen ? o.listen : "127.0.0.1:8443";
    const char *colon = strrchr(listen, ':');
    long port = colon ? atol(colon + 1) : 0;
    if (!colon || port <= 0 || port > 65535 || strncmp(listen, "127.0.0.1:", 10)) {
        fprintf(stderr, "gate serve: --listen must be 127.0.0.1:PORT in this version (got %s)\n", listen);
        goto out;
    }
    const char *dir = o.data_dir ? o.data_dir : ".airlock";
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "gate serve: cannot create %s: %s\n", dir, strerror(errno));
        goto out;
    }
    if (o.mode && strcmp(o.mode, "enforce") && strcmp(o.mode, "shadow")) {
        fprintf(stderr, "gate serve: --mode is enforce or shadow (got %s)\n", o.mode);
        goto out;
    }
    sv.shadow = o.mode && !strcmp(o.mode, "shadow");
    if (sv.shadow && !o.upstream) {
        fprintf(stderr, "gate serve: --mode shadow needs --upstream (it forwards everything to production)\n");
        goto out;
    }
    if (o.upstream && o.nstate) {
        fprintf(stderr, "gate serve: --state and --upstream exclude each other: with --upstream the twin "
                        "starts from production\n");
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (o.upstream && gate_upstream_open(&sv.up, o.upstream, o.upstream_token_file, o.upstream_ca,
                                         o.upstream_insecure, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        goto out;
    }
    demo = o.nstate || o.upstream ? NULL : gate_cli_find("fixtures/demo");
    if (demo)
        o.state[o.nstate++] = demo;   /* without --state: the bundled demo cluster */
    if (gate_cli_open_twin(&o, &t, err, sizeof err) < 0 || gate_cli_load_policies(&o, &ps, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        goto out;
    }
    if (sv.up) {
        /* the twin mirrors production: each kind as listed, with its
         * versions (its watch starts from the list's), no controller run */
        twin_keep_versions(t, 1);
        sv.served = json_object();
        json_t *snap = gate_upstream_snapshot(sv.up, sv.served, err, sizeof err);
        if (!snap || load_production(t, snap, err, sizeof err) < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            json_decref(snap);
            goto out;
        }
        json_decref(snap);
        sv.fresh_wait = o.fresh_wait ? atof(o.fresh_wait) : 2;
        if (sv.fresh_wait <= 0 || sv.fresh_wait > 60) {
            fprintf(stderr, "gate serve: --fresh-wait is 0 to 60 seconds (got %s)\n", o.fresh_wait);
            goto out;
        }
    }
    /* TLS */
    if (o.tls_cert && o.tls_key) {
        cert_path = twin_xstrdup(o.tls_cert);
        key_path = twin_xstrdup(o.tls_key);
    } else {
        cert_path = twin_xasprintf("%s/tls.crt", dir);
        key_path = twin_xasprintf("%s/tls.key", dir);
        if (access(cert_path, R_OK) != 0 || access(key_path, R_OK) != 0) {
            if (make_cert(cert_path, key_path, err, sizeof err) < 0) {
                fprintf(stderr, "gate serve: %s\n", err);
                goto out;
            }
            gate_log("made a self-signed TLS certificate: %s", cert_path);
        }
    }
    cert = read_all(cert_path);
    key = read_all(key_path);
    if (!cert || !key) {
        fprintf(stderr, "gate serve: cannot read %s or %s\n", cert_path, key_path);
        goto out;
    }
    /* agents */
    if (o.agents) {
        if (gate_agents_load(&sv.agents, o.agents, err, sizeof err) < 0 ||
            gate_agents_check_policies(&sv.agents, ps, err, sizeof err) < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            goto out;
        }
    } else {
        unsigned char rnd[24];
        gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd);
        char token[49];
        for (int i = 0; i < 24; i++)
            snprintf(token + 2 * i, 3, "%02x", rnd[i]);
        char *h256 = gate_sha256_hex(token, strlen(token));
        gate_agents_add(&sv.agents, "ops-bot", h256, GATE_ROLE_AGENT);
        free(h256);
        char *ca = base64(cert);
        char *kc = twin_xasprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: airlock\n  cluster:\n"
                                  "    server: https://%s\n    certificate-authority-data: %s\n"
                                  "users:\n- name: ops-bot\n  user:\n    token: %s\n"
                                  "contexts:\n- name: airlock\n  context: {cluster: airlock, user: ops-bot}\n"
                                  "current-context: airlock\n",
                                  listen, ca, token);
        char *kc_path = twin_xasprintf("%s/kubeconfig", dir);
        write_file(kc_path, kc, strlen(kc), 0600);
        /* the line to paste: absolute, so it works from any directory */
        char *abs = realpath(kc_path, NULL);
        gate_log("agent ops-bot, paste: export KUBECONFIG=%s; kubectl get pods -A",
                abs ? abs : kc_path);
        free(abs);
        free(ca);
        free(kc);
        free(kc_path);
        /* and an approver, for the approvals page and `gate approvals` */
        gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd);
        for (int i = 0; i < 24; i++)
            snprintf(token + 2 * i, 3, "%02x", rnd[i]);
        h256 = gate_sha256_hex(token, strlen(token));
        gate_agents_add(&sv.agents, "approver", h256, GATE_ROLE_APPROVER);
        free(h256);
        char *tok_path = twin_xasprintf("%s/approver.token", dir);
        write_file(tok_path, token, strlen(token), 0600);
        gate_log("approver token in %s: open https://%s/airlock/ui/ or run "
                        "gate approvals list --server https://%s --token-file %s --ca %s",
                tok_path, listen, listen, tok_path, cert_path);
        free(tok_path);
    }
    /* approvals, the freeze and the budgets' history: one SQLite file */
    char *db = twin_xasprintf("%s/gate.db", dir);
    double pending_ttl = o.approval_ttl ? atof(o.approval_ttl) : 3600, approved_ttl = o.approved_ttl ? atof(o.approved_ttl) : 900;
    sv.review_wait = o.review_wait ? atof(o.review_wait) : 0;
    if (pending_ttl <= 0 || approved_ttl <= 0 || sv.review_wait < 0 || sv.review_wait > 3600) {
        fprintf(stderr, "gate serve: --approval-ttl and --approved-ttl are positive seconds, --review-wait 0..3600 "
                        "seconds\n");
        free(db);
        goto out;
    }
    if (gate_approvals_open(&sv.approvals, db, pending_ttl, approved_ttl, err, sizeof err) < 0 ||
        gate_history_open(&h, db, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        free(db);
        goto out;
    }
    free(db);
    /* the audit log */
    char *repo = o.audit_repo ? twin_xstrdup(o.audit_repo) : twin_xasprintf("%s/audit", dir);
    char *keyfile = twin_xasprintf("%s/audit.key", dir);
    int arc = gate_audit_open(&sv.audit, repo, keyfile, err, sizeof err);
    free(keyfile);
    if (arc < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        free(repo);
        goto out;
    }
    gate_log("decisions are recorded in the git repository %s (gate audit log --audit-repo %s)",
            repo, repo);
    free(repo);
    sv.engine = (gate_engine){.twin = t, .policies = ps, .history = h, .hold = 1, .reads_elsewhere = sv.up != NULL,
                             .forwards = sv.up != NULL, .mirror = sv.up != NULL, .follow = sv.shadow};
    sv.watch = gate_watch_hub_new(10000, twin_resource_version(t));
    sv.data_dir = dir;
    sv.listen = listen;
    if (o.webhook && gate_webhook_start(&sv.hook, o.webhook, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        goto out;
    }
    if (!o.policies)
        policy_default = gate_cli_find("lua-policies");
    sv.policy_spec = o.policies ? o.policies : policy_default;
    sv.recent = json_array();
    sv.max_waiting = 64;   /* held reviews are suspended connections: bounded all the same */
    /* the first record of this run: the state the twin starts from, so
     * that `gate replay` can rebuild what each decision was made on */
    {
        json_t *state = twin_export(t);   /* Secret values never enter the audit */
        gate_redact_secret_answer(state);
        json_t *first = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "start", "agent", "airlock", "mode",
                                  !sv.up ? "twin" : sv.shadow ? "shadow" : "enforce", "policy_version",
                                  gate_policy_version(ps), "objects", (json_int_t)twin_object_count(t));
        json_t *att = json_pack("{s:o}", "state.json", state);
        int src = gate_audit_event(&sv, first, att, err, sizeof err);
        json_decref(first);
        json_decref(att);
        if (src < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            goto out;
        }
    }
    if (sv.shadow) {
        char *log = twin_xasprintf("%s/shadow.jsonl", dir);
        sv.shadow_log = fopen(log, "a");
        if (!sv.shadow_log) {
            fprintf(stderr, "gate serve: cannot open %s: %s\n", log, strerror(errno));
            free(log);
            goto out;
        }
        gate_log("shadow mode: every call goes to production; verdicts are recorded in %s", log);
        free(log);
    }

    if (sv.up) {
        sv.drift = gate_drift_new(10000, 60);
        gate_informer_opts io = {.up = sv.up, .twin = t, .lock = &sv.lock, .versions = sv.served,
                                 .observe = on_change, .ud = &sv};
        if (gate_informer_start(&sv.informer, &io, err, sizeof err) < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            goto out;
        }
        double began = gate_now();
        if (gate_informer_ready(sv.informer, 30, err, sizeof err) < 0)
            gate_log("%s", err);
        else
            gate_log("watching production: %zu kinds, open in %.2f s", json_object_size(sv.served),
                     gate_now() - began);
    }

    /* an epoll thread pool: TLS handshakes and round trips to production run
     * side by side; the engine itself takes one request at a time */
    daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG |
                                  MHD_ALLOW_SUSPEND_RESUME,
                              (uint16_t)port, NULL, NULL, handle, &sv, MHD_OPTION_HTTPS_MEM_KEY, key,
                              MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL,
                              MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "gate serve: cannot listen on %s (in use?)\n", listen);
        goto out;
    }
    gate_log("serving the Kubernetes API on https://%s (%s, %ld objects in the twin)", listen,
            sv.up ? "enforce mode: allowed calls go to production" : "twin mode", twin_object_count(t));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_hup);
    for (int tick = 0; !stopping; tick++) {
        usleep(100 * 1000);
        resume_held(&sv);                /* held requests whose person decided, or whose wait is over */
        if (tick % 10 == 9)
            gate_watch_tick(sv.watch);   /* ends watches whose timeout passed */
        if (reload_asked) {
            reload_asked = 0;
            if (gate_reload_policies(&sv, "SIGHUP", err, sizeof err) < 0)
                gate_log("reload refused, the policies in force stay: %s", err);
        }
    }
    gate_log("stopping");
    pthread_mutex_lock(&sv.lock);
    sv.stopping = 1;   /* held reviews are answered now */
    pthread_mutex_unlock(&sv.lock);
    resume_held(&sv);
    for (int i = 0; i < 50; i++) {   /* up to 5 s for their handlers to answer them */
        pthread_mutex_lock(&sv.lock);
        int left = sv.resuming;
        pthread_mutex_unlock(&sv.lock);
        if (!left)
            break;
        usleep(100 * 1000);
    }
    rc = 0;
out:
    if (sv.watch)
        gate_watch_stop(sv.watch);   /* streams end; their connections resume */
    if (daemon)
        MHD_stop_daemon(daemon);     /* finishes the request in flight */
    gate_informer_stop(sv.informer);   /* after the daemon: no request waits on it any more */
    gate_watch_hub_free(sv.watch);
    gate_webhook_stop(sv.hook);   /* after the daemon: nothing queues any more */
    free(cert);
    free(key);
    free(cert_path);
    free(key_path);
    gate_agents_free(&sv.agents);
    gate_approvals_close(sv.approvals);
    gate_audit_close(sv.audit);
    json_decref(sv.recent);
    gate_drift_free(sv.drift);
    json_decref(sv.served);
    gate_upstream_close(sv.up);
    if (sv.shadow_log)
        fclose(sv.shadow_log);
    curl_global_cleanup();
    gate_history_close(h);
    gate_policy_free(sv.engine.policies ? sv.engine.policies : ps);   /* a reload may have replaced it */
    twin_close(t);
    pthread_mutex_destroy(&sv.lock);
    pthread_mutex_destroy(&sv.write);
    free(demo);
    free(policy_default);
    gate_cli_free(&o);
    return rc;
}
