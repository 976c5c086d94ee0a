/*
 * discovery.c - what kubectl reads before it calls: /version, discovery
 * (aggregated v2 to a client that asks for exactly it, the legacy lists
 * otherwise) and a minimal OpenAPI v3 (see discovery.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/kube/discovery.h"
#include "gate/kube/protobuf.h"
#include "twin/twin.h"
#include "twin/util.h"

/* Resources the gate serves itself, besides the twin's kinds: the
 * reviews an agent makes of itself (selfreview.c) and the metrics API
 * (metrics.c). */
static const struct {
    const char *group, *version, *resource, *kind;
    int namespaced;
    const char *verbs[8];
} SERVED[] = {
    {"authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", 0, {"create"}},
    {"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", 0, {"create"}},
    {"authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", 0, {"create"}},
    {"metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", 0, {"get", "list"}},
    {"metrics.k8s.io", "v1beta1", "pods", "PodMetrics", 1, {"get", "list"}},
    /* v2 is preferred; v1 is served by conversion (convert.h), without patch */
    {"autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", 1,
     {"create", "delete", "deletecollection", "get", "list", "update", "watch"}},
};
enum { NSERVED = sizeof SERVED / sizeof SERVED[0] };

/* The subresources Kubernetes has besides status and scale, as its
 * discovery lists them: the gate simulates evictions and serves logs, and
 * refuses the others (k8s.c), but lists them, so that kubectl reads
 * "pods/exec" as a subresource (auth can-i) and drains with evictions. */
static const struct {
    const char *kind, *sub, *group, *version, *response;
    const char *verbs[5];
} SUBS[] = {
    {"Pod", "eviction", "policy", "v1", "Eviction", {"create"}},
    {"Pod", "log", "", "v1", "Pod", {"get"}},
    {"Pod", "exec", "", "v1", "PodExecOptions", {"create", "get"}},
    {"Pod", "attach", "", "v1", "PodAttachOptions", {"create", "get"}},
    {"Pod", "portforward", "", "v1", "PodPortForwardOptions", {"create", "get"}},
    {"Pod", "proxy", "", "v1", "PodProxyOptions", {"create", "delete", "get", "patch", "update"}},
    {"Pod", "ephemeralcontainers", "", "v1", "Pod", {"get", "patch", "update"}},
    {"Pod", "binding", "", "v1", "Binding", {"create"}},
    {"Node", "proxy", "", "v1", "NodeProxyOptions", {"create", "delete", "get", "patch", "update"}},
    {"Service", "proxy", "", "v1", "ServiceProxyOptions", {"create", "delete", "get", "patch", "update"}},
    {"ServiceAccount", "token", "authentication.k8s.io", "v1", "TokenRequest", {"create"}},
    {"Namespace", "finalize", "", "v1", "Namespace", {"update"}},
};
enum { NSUBS = sizeof SUBS / sizeof SUBS[0] };

static json_t *sub_verbs(size_t i)
{
    json_t *v = json_array();
    for (int j = 0; j < 5 && SUBS[i].verbs[j]; j++)
        json_array_append_new(v, json_string(SUBS[i].verbs[j]));
    return v;
}

static json_t *served_verbs(size_t i)
{
    json_t *v = json_array();
    for (int j = 0; j < 8 && SERVED[i].verbs[j]; j++)
        json_array_append_new(v, json_string(SERVED[i].verbs[j]));
    return v;
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

static json_t *resource_list(const twin *t, const char *group, const char *version)
{
    size_t n = twin_kind_count(t);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(twin_kind_at(t, i)->group, group) || strcmp(twin_kind_at(t, i)->version, version))
            continue;
        json_t *verbs = verbs_of(twin_kind_at(t, i));
        json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", twin_kind_at(t, i)->resource, "singularName", twin_kind_at(t, i)->singular,
                              "namespaced", twin_kind_at(t, i)->namespaced, "kind", twin_kind_at(t, i)->kind, "verbs", verbs);
        if (*twin_kind_at(t, i)->short_names)
            json_object_set_new(r, "shortNames", json_pack("[s]", twin_kind_at(t, i)->short_names));
        json_array_append_new(res, r);
        if (twin_kind_at(t, i)->has_status) {
            char *sub = twin_xasprintf("%s/status", twin_kind_at(t, i)->resource);
            json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, s:[sss]}", "name", sub, "singularName", "",
                                                 "namespaced", twin_kind_at(t, i)->namespaced, "kind", twin_kind_at(t, i)->kind, "verbs", "get",
                                                 "patch", "update"));
            free(sub);
        }
        if (twin_kind_at(t, i)->has_scale) {
            char *sub = twin_xasprintf("%s/scale", twin_kind_at(t, i)->resource);
            json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:[sss]}", "name", sub, "singularName",
                                                 "", "namespaced", twin_kind_at(t, i)->namespaced, "group", "autoscaling", "version",
                                                 "v1", "kind", "Scale", "verbs", "get", "patch", "update"));
            free(sub);
        }
        for (size_t j = 0; j < NSUBS; j++) {
            if (strcmp(SUBS[j].kind, twin_kind_at(t, i)->kind))
                continue;
            char *sub = twin_xasprintf("%s/%s", twin_kind_at(t, i)->resource, SUBS[j].sub);
            json_t *e = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", sub, "singularName", "", "namespaced",
                                  twin_kind_at(t, i)->namespaced, "kind", SUBS[j].response, "verbs", sub_verbs(j));
            if (*SUBS[j].group) {
                json_object_set_new(e, "group", json_string(SUBS[j].group));
                json_object_set_new(e, "version", json_string(SUBS[j].version));
            }
            json_array_append_new(res, e);
            free(sub);
        }
    }
    for (size_t i = 0; i < NSERVED; i++)
        if (!strcmp(SERVED[i].group, group) && !strcmp(SERVED[i].version, version))
            json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", SERVED[i].resource,
                                                 "singularName", "", "namespaced", SERVED[i].namespaced, "kind",
                                                 SERVED[i].kind, "verbs", served_verbs(i)));
    char *gv = *group ? twin_xasprintf("%s/%s", group, version) : twin_xstrdup(version);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", gv,
                            "resources", res);
    free(gv);
    return doc;
}

/* Aggregated discovery (apidiscovery.k8s.io/v2): every group of `core`
 * (1: the legacy group at /api; 0: the named groups at /apis). */
/* The resources array of group/version in an aggregated list: the group's
 * item and the version's entry are made the first time (the first version
 * met is the preferred one). */
static json_t *gv_resources(json_t *items, json_t *seen, const char *group, const char *version)
{
    char *key = twin_xasprintf("%s/%s", group, version);
    json_t *res = json_object_get(seen, key);
    if (!res) {
        res = json_array();
        json_object_set_new(seen, key, res);
        json_t *item = json_object_get(seen, group);
        if (!item) {
            item = json_pack("{s:{s:s}, s:[]}", "metadata", "name", group, "versions");
            json_array_append_new(items, item);
            json_object_set(seen, group, item);
        }
        json_array_append_new(json_object_get(item, "versions"),
                              json_pack("{s:s, s:s, s:O}", "version", version, "freshness", "Current", "resources",
                                        res));
    }
    free(key);
    return res;
}

static json_t *aggregated(const twin *t, int core)
{
    size_t n = twin_kind_count(t);
    json_t *items = json_array();
    json_t *by_group = json_object();   /* group -> its item, group/version -> its resources (gv_resources) */
    for (size_t i = 0; i < n; i++) {
        if (core != !*twin_kind_at(t, i)->group)
            continue;
        json_t *res = gv_resources(items, by_group, twin_kind_at(t, i)->group, twin_kind_at(t, i)->version);
        json_t *verbs = verbs_of(twin_kind_at(t, i));
        json_t *r = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource", twin_kind_at(t, i)->resource, "responseKind",
                              "group", twin_kind_at(t, i)->group, "version", twin_kind_at(t, i)->version, "kind", twin_kind_at(t, i)->kind, "scope",
                              twin_kind_at(t, i)->namespaced ? "Namespaced" : "Cluster", "singularResource", twin_kind_at(t, i)->singular, "verbs",
                              verbs);
        if (*twin_kind_at(t, i)->short_names)
            json_object_set_new(r, "shortNames", json_pack("[s]", twin_kind_at(t, i)->short_names));
        json_t *subs = json_array();
        if (twin_kind_at(t, i)->has_status)
            json_array_append_new(subs, json_pack("{s:s, s:{s:s, s:s, s:s}, s:[sss]}", "subresource", "status",
                                                  "responseKind", "group", twin_kind_at(t, i)->group, "version", twin_kind_at(t, i)->version, "kind",
                                                  twin_kind_at(t, i)->kind, "verbs", "get", "patch", "update"));
        if (twin_kind_at(t, i)->has_scale)
            json_array_append_new(subs, json_pack("{s:s, s:{s:s, s:s, s:s}, s:[sss]}", "subresource", "scale",
                                                  "responseKind", "group", "autoscaling", "version", "v1", "kind",
                                                  "Scale", "verbs", "get", "patch", "update"));
        for (size_t j = 0; j < NSUBS; j++)
            if (!strcmp(SUBS[j].kind, twin_kind_at(t, i)->kind))
                json_array_append_new(subs, json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "subresource", SUBS[j].sub,
                                                      "responseKind", "group", SUBS[j].group, "version",
                                                      SUBS[j].version, "kind", SUBS[j].response, "verbs",
                                                      sub_verbs(j)));
        if (json_array_size(subs))
            json_object_set_new(r, "subresources", subs);
        else
            json_decref(subs);
        static const char *ALL[] = {"Pod", "Service", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
                                    "CronJob", "HorizontalPodAutoscaler", NULL};
        for (int a = 0; ALL[a]; a++)
            if (!strcmp(ALL[a], twin_kind_at(t, i)->kind))
                json_object_set_new(r, "categories", json_pack("[s]", "all"));
        json_array_append_new(res, r);
    }
    for (size_t i = 0; !core && i < NSERVED; i++) {
        json_t *res = gv_resources(items, by_group, SERVED[i].group, SERVED[i].version);
        json_array_append_new(res, json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource",
                                             SERVED[i].resource, "responseKind", "group", SERVED[i].group, "version",
                                             SERVED[i].version, "kind", SERVED[i].kind, "scope",
                                             SERVED[i].namespaced ? "Namespaced" : "Cluster", "singularResource", "",
                                             "verbs", served_verbs(i)));
    }
    json_decref(by_group);
    return json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion", "apidiscovery.k8s.io/v2",
                     "metadata", "items", items);
}

/* A group/version in the APIGroupList (the first version met preferred). */
static void add_group_version(json_t *groups, json_t *seen, const char *group, const char *version)
{
    char *gv = twin_xasprintf("%s/%s", group, version);
    json_t *g = json_object_get(seen, group);
    if (!g) {
        g = json_pack("{s:s, s:[], s:{s:s, s:s}}", "name", group, "versions", "preferredVersion", "groupVersion", gv,
                      "version", version);
        json_array_append_new(groups, g);
        json_object_set(seen, group, g);
    }
    json_t *versions = json_object_get(g, "versions");
    size_t i;
    json_t *v;
    int have = 0;
    json_array_foreach(versions, i, v) have |= !strcmp(json_string_value(json_object_get(v, "version")), version);
    if (!have)
        json_array_append_new(versions, json_pack("{s:s, s:s}", "groupVersion", gv, "version", version));
    free(gv);
}

static json_t *group_list(const twin *t)
{
    size_t n = twin_kind_count(t);
    json_t *groups = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; i < n; i++)
        if (*twin_kind_at(t, i)->group)
            add_group_version(groups, seen, twin_kind_at(t, i)->group, twin_kind_at(t, i)->version);
    for (size_t i = 0; i < NSERVED; i++)
        add_group_version(groups, seen, SERVED[i].group, SERVED[i].version);
    json_decref(seen);
    return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups);
}

/* ---- OpenAPI v3: just enough for kubectl's field validation (it checks
 * that PATCH takes fieldValidation, then leaves validation to the server;
 * kubectl-wire.md section 3) ---- */

static json_t *openapi_root(const twin *t)
{
    size_t n = twin_kind_count(t);
    json_t *paths = json_object();
    for (size_t i = 0; i < n; i++) {
        char *gv = *twin_kind_at(t, i)->group ? twin_xasprintf("apis/%s/%s", twin_kind_at(t, i)->group, twin_kind_at(t, i)->version)
                               : twin_xasprintf("api/%s", twin_kind_at(t, i)->version);
        char *url = twin_xasprintf("/openapi/v3/%s?hash=airlock", gv);
        json_object_set_new(paths, gv, json_pack("{s:s}", "serverRelativeURL", url));
        free(gv);
        free(url);
    }
    return json_pack("{s:o}", "paths", paths);
}

static json_t *openapi_group(const twin *t, const char *group, const char *version)
{
    size_t n = twin_kind_count(t);
    json_t *paths = json_object();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(twin_kind_at(t, i)->group, group) || strcmp(twin_kind_at(t, i)->version, version))
            continue;
        char *prefix = *group ? twin_xasprintf("/apis/%s/%s", group, version) : twin_xasprintf("/api/%s", version);
        char *path = twin_kind_at(t, i)->namespaced ? twin_xasprintf("%s/namespaces/{namespace}/%s/{name}", prefix, twin_kind_at(t, i)->resource)
                                     : twin_xasprintf("%s/%s/{name}", prefix, twin_kind_at(t, i)->resource);
        json_object_set_new(paths, path,
                            json_pack("{s:{s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:{s:s}}], s:{s:{s:s}}}}", "patch",
                                      "x-kubernetes-group-version-kind", "group", group, "version", version, "kind",
                                      twin_kind_at(t, i)->kind, "parameters", "name", "fieldValidation", "in", "query", "schema",
                                      "type", "string", "responses", "200", "description", "OK"));
        free(prefix);
        free(path);
    }
    if (!json_object_size(paths)) {
        json_decref(paths);
        return NULL;
    }
    /* the kinds' schemas, from the protobuf tables: kubectl explain reads them */
    return json_pack("{s:s, s:{s:s, s:s}, s:{s:o}, s:o}", "openapi", "3.0.0", "info", "title", "Kubernetes",
                     "version", "v1.32.0", "components", "schemas", gate_protobuf_schemas(group, version), "paths",
                     paths);
}

int gate_discovery_path(const char *url)
{
    const char *gv = !strncmp(url, "/apis/", 6) ? strchr(url + 6, '/') : NULL;
    return !strcmp(url, "/version") || !strcmp(url, "/version/") || !strcmp(url, "/api") || !strcmp(url, "/apis") ||
           !strcmp(url, "/api/v1") || (gv && !strchr(gv + 1, '/')) || !strncmp(url, "/openapi/", 9);
}

int gate_discovery(const gate_req *rq, gate_resp *resp, const twin *t)
{
    const char *url = rq->path;
    if (!gate_discovery_path(url))
        return 0;
    json_t *doc = NULL;
    const char *acc = gate_req_header(rq, "Accept");
    /* aggregated discovery only to a client that asks for exactly v2
     * (kubectl-wire.md section 2: v2 to a v2beta1 client breaks it) */
    if (acc && strstr(acc, "g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList") &&
        (!strcmp(url, "/api") || !strcmp(url, "/apis"))) {
        doc = aggregated(t, !strcmp(url, "/api"));
        gate_resp_json(resp, 200, doc);
        json_decref(doc);
        snprintf(resp->content_type, sizeof resp->content_type,
                 "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
        return 1;
    }
    if (!strcmp(url, "/version") || !strcmp(url, "/version/"))   /* the Python client asks with the slash */
        doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor", "32",
                        "gitVersion", "v1.32.0-airlock", "gitCommit", "airlock", "gitTreeState", "clean",
                        "buildDate", "2026-01-01T00:00:00Z", "goVersion", "n/a", "compiler", "gc", "platform",
                        "linux/amd64");
    else if (!strcmp(url, "/api"))
        doc = json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                        "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress", "127.0.0.1");
    else if (!strcmp(url, "/apis"))
        doc = group_list(t);
    else if (!strcmp(url, "/api/v1"))
        doc = resource_list(t, "", "v1");
    else if (!strncmp(url, "/apis/", 6) && strchr(url + 6, '/') && !strchr(strchr(url + 6, '/') + 1, '/')) {
        const char *slash = strchr(url + 6, '/');
        char *g = twin_xasprintf("%.*s", (int)(slash - url - 6), url + 6);
        doc = resource_list(t, g, slash + 1);
        free(g);
        if (!json_array_size(json_object_get(doc, "resources"))) {
            json_decref(doc);
            doc = NULL;
        }
    } else if (!strcmp(url, "/openapi/v3") || !strcmp(url, "/openapi/v3/")) {
        doc = openapi_root(t);
    } else if (!strncmp(url, "/openapi/v3/api/", 16)) {
        doc = openapi_group(t, "", url + 16);
    } else if (!strncmp(url, "/openapi/v3/apis/", 17) && strchr(url + 17, '/')) {
        const char *slash = strchr(url + 17, '/');
        char *g = twin_xasprintf("%.*s", (int)(slash - url - 17), url + 17);
        doc = openapi_group(t, g, slash + 1);
        free(g);
    }
    if (!doc && !strncmp(url, "/openapi/", 9)) {   /* v2 is protobuf-only for clients: 404 */
        gate_resp_status(resp, 404, NULL, "the server could not find the requested resource");
        return 1;
    }
    if (doc) {
        gate_resp_json(resp, 200, doc);
        json_decref(doc);
        return 1;
    }
    return 0;
}
