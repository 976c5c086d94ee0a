/*
 * ops.c - one request against the twin, as the API server would take it:
 * admission defaults, validation of what the simulation depends on, the
 * write, then the controllers to the instant and to the settled state, the
 * diff and the impact.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws.h"
#include "patch.h"
#include "quantity.h"
#include "selector.h"
#include "aws_int.h"
#include "twin_int.h"


static const char *PROTECTED_NS[] = {"default", "kube-system", "kube-public", "kube-node-lease", NULL};

typedef struct op_ctx {
    twin *t;
    const twin_request *req;
    const twin_kind *kind;
    twin_result *res;
    char *err;
    size_t errlen;
    int applied;   /* a server-side apply: its field ownership is set already (managed.c) */
} op_ctx;

static int fail(op_ctx *o, int code, const char *reason, const char *msg)
{
    o->res->code = code;
    json_decref(o->res->object);
    o->res->object = twin__status(code, reason, "%s", msg);
    return 0;
}

static const char *resource_ref(op_ctx *o, char *buf, size_t n)
{
    const twin_kind *k = o->kind;
    if (k->group[0])
        snprintf(buf, n, "%s.%s", k->resource, k->group);
    else
        snprintf(buf, n, "%s", k->resource);
    return buf;
}

/* DNS-1123 subdomain, as metadata.name of most kinds. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '.'))
            return 0;
    }
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]);
}

static int bad(op_ctx *o, const char *name, const char *fmt, const char *detail)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s \"%s\" is invalid: ", o->kind->kind, name ? name : "");
    size_t l = strlen(msg);
    snprintf(msg + l, sizeof msg - l, fmt, detail);
    return fail(o, 422, "Invalid", msg);
}

static int check_replicas(op_ctx *o, const json_t *obj, const char *name)
{
    json_t *r = twin__path(obj, "spec.replicas");
    if (!r || json_is_null(r))
        return 1;
    if (!json_is_integer(r)) {
        bad(o, name, "spec.replicas: Invalid value: %s: must be an integer", json_is_string(r) ? json_string_value(r) : "non-integer");
        return 0;
    }
    if (json_integer_value(r) < 0) {
        bad(o, name, "%s", "spec.replicas: Invalid value: must be greater than or equal to 0");
        return 0;
    }
    if (json_integer_value(r) > TWIN_MAX_REPLICAS) {
        snprintf(o->err, o->errlen, "cannot simulate: %s %s asks for %lld replicas, above the twin's limit of %d",
                 o->kind->kind, name, (long long)json_integer_value(r), TWIN_MAX_REPLICAS);
        return -1;
    }
    return 1;
}

/* The JSON types of the fields the twin reads, for any kind (kind NULL) or
 * one: a value of another type is refused as the API server's decoder
 * refuses it (400 "cannot unmarshal ... into Go struct field"), before
 * anything reads it.  'o' object, 'm' object of strings, 'a' array,
 * 's' string. */
static const struct shape {
    const char *kind;
    const char *path;
    char type;
    const char *go_type;
} SHAPES[] = {
    {NULL, "metadata", 'o', "v1.ObjectMeta"},
    {NULL, "metadata.name", 's', "string"},
    {NULL, "metadata.namespace", 's', "string"},
    {NULL, "metadata.generateName", 's', "string"},
    {NULL, "metadata.labels", 'm', "map[string]string"},
    {NULL, "metadata.annotations", 'm', "map[string]string"},
    {NULL, "spec", 'o', "spec"},
    {NULL, "spec.template", 'o', "v1.PodTemplateSpec"},
    {NULL, "spec.template.spec", 'o', "v1.PodSpec"},
    {NULL, "spec.template.spec.containers", 'a', "[]v1.Container"},
    {NULL, "spec.selector", 'o', "selector"},
    {NULL, "spec.ports", 'a', "[]ports"},
    {"Pod", "spec.containers", 'a', "[]v1.Container"},
    {"ConfigMap", "data", 'm', "map[string]string"},
    {"ConfigMap", "binaryData", 'm', "map[string][]uint8"},
    {"Secret", "data", 'm', "map[string][]uint8"},
    {"Secret", "stringData", 'm', "map[string]string"},
    {"Secret", "type", 's', "v1.SecretType"},
};

static const char *json_type_name(const json_t *v)
{
    return json_is_object(v) ? "object" : json_is_array(v) ? "array" : json_is_string(v) ? "string"
         : json_is_number(v) ? "number" : json_is_boolean(v) ? "bool" : "null";
}

static int check_shapes(op_ctx *o, const json_t *obj)
{
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
        const struct shape *sh = &SHAPES[i];
        if (sh->kind && strcmp(sh->kind, o->kind->kind))
            continue;
        json_t *v = twin__path(obj, sh->path);
        if (!v || json_is_null(v))
            continue;
        int good = sh->type == 's' ? json_is_string(v) : sh->type == 'a' ? json_is_array(v) : json_is_object(v);
        int in_map = 0;   /* the map is one, a value in it is not a string */
        if (good && sh->type == 'm') {
            const char *key;
            json_t *member, *wrong = NULL;
            json_object_foreach(v, key, member) {
                if (!json_is_string(member)) {
                    wrong = member;
                    break;
                }
            }
            if (wrong)
                v = wrong, good = 0, in_map = 1;
        }
        if (!good) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "%s in version \"%s\" cannot be handled as a %s: json: cannot unmarshal %s into Go struct "
                     "field %s.%s of type %s",
                     o->kind->kind, o->kind->version, o->kind->kind, json_type_name(v), o->kind->kind, sh->path,
                     in_map ? "string" : sh->go_type);
            return fail(o, 400, "BadRequest", msg), 0;
        }
    }
    return 1;
}

/* The validation the simulation depends on: what would make the controllers
 * compute nonsense is refused as the API server would refuse it (422). */
static int validate(op_ctx *o, const json_t *obj)
{
    if (!check_shapes(o, obj))
        return 0;
    const char *name = twin__name(obj);
    if (!name || !valid_name(name)) {
        if (!name)
            return bad(o, "", "%s", "metadata.name: Required value: name or generateName is required"), 0;
        return bad(o, name, "metadata.name: Invalid value: \"%s\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'", name), 0;
    }
    /* labels are an object of strings here: check_shapes refused the rest */
    int rc = check_replicas(o, obj, name);
    if (rc <= 0)
        return rc;
    const char *kind = o->kind->kind;
    int is_workload = !strcmp(kind, "Deployment") || !strcmp(kind, "ReplicaSet") || !strcmp(kind, "StatefulSet") ||
                      !strcmp(kind, "DaemonSet");
    if (is_workload) {
        json_t *sel = twin__path(obj, "spec.selector");
        twin_selector *s = NULL;
        char serr[256];
        if (!sel)
            return bad(o, name, "%s", "spec.selector: Required value"), 0;
        if (twin_selector_from_json(&s, sel, serr, sizeof serr) < 0)
            return bad(o, name, "spec.selector: Invalid value: %s", serr), 0;
        int ok = !twin_selector_matches_nothing(s) &&
                 twin_selector_matches(s, twin__path(obj, "spec.template.metadata.labels"));
        twin_selector_free(s);
        if (!ok)
            return bad(o, name, "%s", "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"), 0;
    }
    json_t *pspec = twin__pod_template_spec(obj);
    if (is_workload || !strcmp(kind, "Pod") || !strcmp(kind, "Job")) {
        json_t *cs = json_object_get(pspec, "containers");
        if (!json_is_array(cs) || json_array_size(cs) == 0)
            return bad(o, name, "%s", "spec.template.spec.containers: Required value"), 0;
        size_t i;
        json_t *c;
        json_array_foreach(cs, i, c) {
            if (!json_is_string(json_object_get(c, "name")) || !json_is_string(json_object_get(c, "image")))
                return bad(o, name, "%s", "containers: each container needs a string name and image"), 0;
            json_t *req = twin__path(c, "resources.requests");
            const char *rk;
            json_t *rv;
            json_object_foreach(req, rk, rv) {
                double d;
                if (twin_quantity_parse(rv, &d) < 0)
                    return bad(o, name, "resources.requests.%s: Invalid value: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", rk), 0;
            }
        }
    }
    if (!strcmp(kind, "Service")) {
        const char *type = twin__str(obj, "spec.type");
        if (type && strcmp(type, "ClusterIP") && strcmp(type, "NodePort") && strcmp(type, "LoadBalancer") &&
            strcmp(type, "ExternalName"))
            return bad(o, name, "spec.type: Unsupported value: \"%s\"", type), 0;
    }
    return 1;
}

/* ---- defaults (admission and registry strategy) ---- */

static void set_default(json_t *obj, const char *path, const char *key, json_t *v)
{
    json_t *parent = twin__path_make(obj, path);
    if (!json_object_get(parent, key))
        json_object_set(parent, key, v);
    json_decref(v);
}

static void apply_defaults(twin *t, json_t *obj)
{
    const char *kind = twin__kind(obj);
    if (!strcmp(kind, "Deployment")) {
        set_default(obj, "spec", "replicas", json_integer(1));
        set_default(obj, "spec", "revisionHistoryLimit", json_integer(10));
        set_default(obj, "spec", "progressDeadlineSeconds", json_integer(600));
        set_default(obj, "spec.strategy", "type", json_string("RollingUpdate"));
        if (!strcmp(twin__str(obj, "spec.strategy.type"), "RollingUpdate")) {
            set_default(obj, "spec.strategy.rollingUpdate", "maxSurge", json_string("25%"));
            set_default(obj, "spec.strategy.rollingUpdate", "maxUnavailable", json_string("25%"));
        }
    } else if (!strcmp(kind, "ReplicaSet") || !strcmp(kind, "StatefulSet")) {
        set_default(obj, "spec", "replicas", json_integer(1));
        if (!strcmp(kind, "StatefulSet")) {
            set_default(obj, "spec", "podManagementPolicy", json_string("OrderedReady"));
            set_default(obj, "spec.updateStrategy", "type", json_string("RollingUpdate"));
        }
    } else if (!strcmp(kind, "Service")) {
        set_default(obj, "spec", "type", json_string("ClusterIP"));
        set_default(obj, "spec", "sessionAffinity", json_string("None"));
        const char *type = twin__str(obj, "spec.type");
        if (strcmp(type, "ExternalName") && !twin__str(obj, "spec.clusterIP")) {
            uint64_t r = twin__rand(t);
            char *ip = twin_xasprintf("10.96.%u.%u", (unsigned)(r >> 8) % 256, 1 + (unsigned)(r >> 16) % 254);
            json_object_set_new(twin__path_make(obj, "spec"), "clusterIP", json_string(ip));
            json_object_set_new(twin__path_make(obj, "spec"), "clusterIPs", json_pack("[s]", ip));
            free(ip);
        }
        size_t i;
        json_t *p;
        json_array_foreach(twin__path(obj, "spec.ports"), i, p) {
            if (!json_object_get(p, "protocol"))
                json_object_set_new(p, "protocol", json_string("TCP"));
            if (!json_object_get(p, "targetPort") && json_object_get(p, "port"))
                json_object_set(p, "targetPort", json_object_get(p, "port"));
            if ((!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer")) && !json_object_get(p, "nodePort"))
                json_object_set_new(p, "nodePort", json_integer(30000 + (long)(twin__rand(t) % 2768)));
        }
    } else if (!strcmp(kind, "Namespace")) {
        json_object_set_new(twin__path_make(obj, "metadata.labels"), "kubernetes.io/metadata.name",
                            json_string(twin__name(obj)));
        set_default(obj, "spec", "finalizers", json_pack("[s]", "kubernetes"));
        set_default(obj, "status", "phase", json_string("Active"));
    } else if (!strcmp(kind, "Secret")) {
        const char *type = twin__str(obj, "type");
        if (!type || !*type)
            json_object_set_new(obj, "type", json_string("Opaque"));
    } else if (!strcmp(kind, "Pod")) {
        set_default(obj, "spec", "restartPolicy", json_string("Always"));
        set_default(obj, "spec", "terminationGracePeriodSeconds", json_integer(30));
        set_default(obj, "spec", "serviceAccountName", json_string("default"));
        set_default(obj, "status", "phase", json_string("Pending"));
        set_default(obj, "status", "qosClass", json_string(twin__pod_qos(obj)));
    } else if (!strcmp(kind, "Node")) {
        /* what the kubelet reports of itself, always (strict clients
         * require every field); the ids stand for the node's name */
        char d[65];
        twin__digest_hex(twin__name(obj) ? twin__name(obj) : "", d);
        char *uuid = twin_xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", d, d + 8, d + 12, d + 16, d + 20);
        char *boot = twin_xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", d + 32, d + 40, d + 44, d + 48, d + 52);
        set_default(obj, "status.nodeInfo", "machineID", json_stringn(d, 32));
        set_default(obj, "status.nodeInfo", "systemUUID", json_string(uuid));
        set_default(obj, "status.nodeInfo", "bootID", json_string(boot));
        set_default(obj, "status.nodeInfo", "architecture", json_string("amd64"));
        set_default(obj, "status.nodeInfo", "operatingSystem", json_string("linux"));
        set_default(obj, "status.nodeInfo", "osImage", json_string("Debian GNU/Linux 12 (bookworm)"));
        set_default(obj, "status.nodeInfo", "kernelVersion", json_string("6.1.0-28-amd64"));
        set_default(obj, "status.nodeInfo", "containerRuntimeVersion", json_string("containerd://1.7.24"));
        set_default(obj, "status.nodeInfo", "kubeletVersion", json_string("v1.32.0"));
        set_default(obj, "status.nodeInfo", "kubeProxyVersion", json_string("v1.32.0"));
        free(uuid);
        free(boot);
    } else if (!strcmp(kind, "NetworkPolicy")) {
        /* policyTypes default: Ingress, plus Egress when an egress section is present */
        if (!twin__path(obj, "spec.policyTypes")) {
            json_t *types = json_pack("[s]", "Ingress");
            if (twin__path(obj, "spec.egress"))
                json_array_append_new(types, json_string("Egress"));
            json_object_set_new(twin__path_make(obj, "spec"), "policyTypes", types);
        }
    }
}

int twin__validate_import(twin *t, const json_t *obj, char *err, size_t errlen)
{
    const twin_kind *k = twin_kind_by_name(t, twin__kind(obj));
    if (!k)
        return 0;
    twin_request req = {0};
    twin_result res = {0};
    op_ctx o = {t, &req, k, &res, err, errlen, 0};
    int v = validate(&o, obj);
    if (v == 0)
        snprintf(err, errlen, "%s", json_string_value(json_object_get(res.object, "message")));
    twin_result_free(&res);
    return v > 0 ? 0 : -1;
}

void twin__prepare_import(twin *t, json_t *obj)
{
    json_t *meta = twin__path_make(obj, "metadata");
    if (!json_is_string(json_object_get(meta, "uid"))) {
        char *uid = twin__uuid(t);
        json_object_set_new(meta, "uid", json_string(uid));
        free(uid);
    }
    if (!json_is_string(json_object_get(meta, "creationTimestamp"))) {
        char *ts = twin__timestamp(t);
        json_object_set_new(meta, "creationTimestamp", json_string(ts));
        free(ts);
    }
    if (!json_object_get(meta, "generation"))
        json_object_set_new(meta, "generation", json_integer(1));
    apply_defaults(t, obj);
}

static void set_identity(twin *t, json_t *obj)
{
    json_t *meta = twin__path_make(obj, "metadata");
    char *uid = twin__uuid(t), *ts = twin__timestamp(t);
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(ts));
    json_object_set_new(meta, "generation", json_integer(1));
    free(uid);
    free(ts);
}

/* The generation rule: bumped when spec changes (Deployments: also metadata
 * annotations, k8s-api-facts §3.1). Status writes never bump it. */
static void bump_generation(json_t *next, const json_t *cur)
{
    int changed = !json_equal(json_object_get(next, "spec") ?: json_null(), json_object_get(cur, "spec") ?: json_null());
    if (!strcmp(twin__kind(cur), "Deployment"))
        changed |= !json_equal(twin__path(next, "metadata.annotations") ?: json_null(),
                               twin__path(cur, "metadata.annotations") ?: json_null());
    long gen = twin__int(cur, "metadata.generation", 1);
    json_object_set_new(twin__path_make(next, "metadata"), "generation", json_integer(changed ? gen + 1 : gen));
}

/* System fields a client cannot change on update. */
static void keep_system_fields(json_t *next, const json_t *cur)
{
    json_t *meta = twin__path_make(next, "metadata");
    const char *fields[] = {"uid", "creationTimestamp", "deletionTimestamp", "namespace", NULL};
    for (int i = 0; fields[i]; i++) {
        json_t *v = twin__path(cur, "metadata");
        v = json_object_get(v, fields[i]);
        if (v)
            json_object_set(meta, fields[i], v);
        else
            json_object_del(meta, fields[i]);
    }
    if (!json_object_get(next, "status") && json_object_get(cur, "status"))
        json_object_set(next, "status", json_object_get(cur, "status"));
}

static int namespace_ok(op_ctx *o, const char *ns, const char *name)
{
    if (!o->kind->namespaced)
        return 1;
    json_t *nsobj = twin__get(o->t, "Namespace", NULL, ns);
    if (!nsobj) {
        char msg[512];
        snprintf(msg, sizeof msg, "namespaces \"%s\" not found", ns);
        fail(o, 404, "NotFound", msg);
        return 0;
    }
    int terminating = twin__path(nsobj, "metadata.deletionTimestamp") != NULL;
    json_decref(nsobj);
    if (terminating) {
        char ref[160], msg[512];
        snprintf(msg, sizeof msg,
                 "%s \"%s\" is forbidden: unable to create new content in namespace %s because it is being terminated",
                 resource_ref(o, ref, sizeof ref), name, ns);
        fail(o, 403, "Forbidden", msg);
        return 0;
    }
    return 1;
}

static int not_found(op_ctx *o, const char *name)
{
    char ref[160], msg[512];
    snprintf(msg, sizeof msg, "%s \"%s\" not found", resource_ref(o, ref, sizeof ref), name);
    return fail(o, 404, "NotFound", msg);
}

/* Sets namespace/kind/apiVersion of a body from the URL, or refuses a body
 * that contradicts it. */
static int settle_identity(op_ctx *o, json_t *obj)
{
    const twin_request *r = o->req;
    const char *bkind = twin__kind(obj);
    if (bkind && strcmp(bkind, o->kind->kind)) {
        char msg[512];
        snprintf(msg, sizeof msg, "the body kind %s does not match the resource %s (kind %s)", bkind,
                 o->kind->resource, o->kind->kind);
        return fail(o, 400, "BadRequest", msg), 0;
    }
    json_object_set_new(obj, "kind", json_string(o->kind->kind));
    if (!json_is_string(json_object_get(obj, "apiVersion"))) {
        char *av = o->kind->group[0] ? twin_xasprintf("%s/%s", o->kind->group, o->kind->version)
                                     : twin_xstrdup(o->kind->version);
        json_object_set_new(obj, "apiVersion", json_string(av));
        free(av);
    }
    json_t *meta = twin__path_make(obj, "metadata");
    const char *bns = json_string_value(json_object_get(meta, "namespace"));
    if (o->kind->namespaced) {
        if (bns && *bns && r->ns && *r->ns && strcmp(bns, r->ns)) {
            return fail(o, 400, "BadRequest",
                        "the namespace of the provided object does not match the namespace sent on the request"),
                   0;
        }
        const char *ns = r->ns && *r->ns ? r->ns : bns;
        if (!ns || !*ns)
            return fail(o, 400, "BadRequest", "a namespace is required for a namespaced resource"), 0;
        json_object_set_new(meta, "namespace", json_string(ns));
    } else {
        json_object_del(meta, "namespace");
    }
    if (r->name && twin__name(obj) && strcmp(r->name, twin__name(obj)))
        return fail(o, 400, "BadRequest", "the name of the object does not match the name on the URL"), 0;
    if (r->name && !twin__name(obj))
        json_object_set_new(meta, "name", json_string(r->name));
    return 1;
}

/* ---- create ---- */

/* The field manager a write names (fieldManager), or "unknown" as the
 * API server says for a client that names none and sends no User-Agent. */
static const char *manager_of(const twin_request *r)
{
    return r->field_manager && *r->field_manager ? r->field_manager : "unknown";
}

static int do_create(op_ctx *o, json_t *obj)
{
    twin *t = o->t;
    if (!settle_identity(o, obj))
        return 0;
    json_t *meta = twin__path_make(obj, "metadata");
    if (!twin__name(obj) && json_is_string(json_object_get(meta, "generateName"))) {
        const char *gn = json_string_value(json_object_get(meta, "generateName"));
        char *sfx = twin__rand_suffix(t, 5);
        char *nm = twin_xasprintf("%.*s%s", 58, gn, sfx);
        json_object_set_new(meta, "name", json_string(nm));
        free(nm);
        free(sfx);
    }
    if (json_object_get(meta, "resourceVersion") && json_string_length(json_object_get(meta, "resourceVersion")))
        return fail(o, 400, "BadRequest", "resourceVersion should not be set on objects to be created");
    int v = validate(o, obj);
    if (v <= 0)
        return v;
    const char *ns = twin__ns(obj), *name = twin__name(obj);
    if (!namespace_ok(o, ns, name))
        return 0;
    json_t *cur = twin__get(t, o->kind->kind, ns, name);
    if (cur) {
        json_decref(cur);
        char ref[160], msg[512];
        snprintf(msg, sizeof msg, "%s \"%s\" already exists", resource_ref(o, ref, sizeof ref), name);
        return fail(o, 409, "AlreadyExists", msg);
    }
    set_identity(t, obj);
    apply_defaults(t, obj);
    char *now = twin__timestamp(t);
    if (o->applied)   /* what the apply configured, not what defaulting added */
        twin_managed_applied(obj, o->req->body, o->kind->kind, manager_of(o->req), now);
    else
        twin_managed_update(obj, NULL, o->kind->kind, manager_of(o->req), NULL, now);
    free(now);
    if (!strcmp(o->kind->kind, "Pod") && !twin__str(obj, "spec.nodeName"))
        twin__enqueue(t, "Pod", ns, name);
    twin__put(t, obj);
    o->res->code = 201;
    o->res->object = json_incref(obj);
    return 0;
}

/* ---- update / patch ---- */

/* Replaces the stored object by `next` (owned by the caller) after the
 * checks an update makes; `cur` is the stored version. */
static int write_update(op_ctx *o, json_t *next, json_t *cur, int status_only)
{
    twin *t = o->t;
    if (!settle_identity(o, next))
        return 0;
    if (strcmp(twin__name(next) ?: "", twin__name(cur)))
        return fail(o, 400, "BadRequest", "the name of the object cannot be changed");
    const char *rv = twin__str(next, "metadata.resourceVersion");
    const char *cur_rv = twin__str(cur, "metadata.resourceVersion");
    if (rv && *rv && cur_rv && strcmp(rv, cur_rv)) {
        char ref[160], msg[512];
        snprintf(msg, sizeof msg,
                 "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply your "
                 "changes to the latest version and try again",
                 resource_ref(o, ref, sizeof ref), twin__name(cur));
        return fail(o, 409, "Conflict", msg);
    }
    if (status_only) {
        json_t *st = json_object_get(next, "status");
        json_t *merged = json_deep_copy(cur);
        if (st)
            json_object_set(merged, "status", st);
        json_object_set_new(twin__path_make(next, "metadata"), "resourceVersion", json_string(cur_rv ? cur_rv : ""));
        twin__put(t, merged);
        o->res->code = 200;
        o->res->object = merged;
        return 0;
    }
    keep_system_fields(next, cur);
    if (twin__path(cur, "status") && o->req->verb == TWIN_UPDATE)
        json_object_set(next, "status", json_object_get(cur, "status"));   /* PUT on the main resource ignores status */
    int v = validate(o, next);
    if (v <= 0)
        return v;
    apply_defaults(t, next);
    if (!strcmp(o->kind->kind, "Namespace")) {
        /* the namespace name label cannot be dropped */
        json_object_set_new(twin__path_make(next, "metadata.labels"), "kubernetes.io/metadata.name",
                            json_string(twin__name(next)));
    }
    bump_generation(next, cur);
    if (!o->applied) {   /* an apply's field ownership is set already */
        char *now = twin__timestamp(t);
        twin_managed_update(next, cur, o->kind->kind, manager_of(o->req), o->req->subresource, now);
        free(now);
    }
    /* a write through /scale answers with a Scale made from next (see
     * do_update_or_patch), which only reads it: next can become the stored
     * version without a copy */
    if (o->req->subresource && !strcmp(o->req->subresource, "scale"))
        twin__put_shared(t, next);
    else
        twin__put(t, next);
    o->res->code = 200;
    o->res->object = json_incref(next);
    return 0;
}

json_t *twin_scale_of(const json_t *obj)
{
    json_t *sel = twin__path(obj, "spec.selector.matchLabels");
    twin_buf b = {0};
    const char *k;
    json_t *v;
    json_object_foreach(sel, k, v) twin_buf_addf(&b, "%s%s=%s", b.len ? "," : "", k, json_string_value(v));
    json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:s?, s:s?, s:s?}, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale",
                          "apiVersion", "autoscaling/v1", "metadata", "name", twin__name(obj), "namespace",
                          twin__ns(obj), "uid", twin__uid(obj), "resourceVersion",
                          twin__str(obj, "metadata.resourceVersion"), "creationTimestamp",
                          twin__str(obj, "metadata.creationTimestamp"), "spec", "replicas",
                          (json_int_t)twin__int(obj, "spec.replicas", 1), "status", "replicas",
                          (json_int_t)twin__int(obj, "status.replicas", 0), "selector", b.s ? b.s : "");
    twin_buf_free(&b);
    return s;
}

static int apply_patch(op_ctx *o, json_t **doc)
{
    const twin_request *r = o->req;
    char perr[512] = "";
    int rc;
    switch (r->patch_type) {
    case TWIN_PATCH_MERGE:
        rc = twin_patch_merge(doc, r->body, perr, sizeof perr);
        break;
    case TWIN_PATCH_JSON:
        rc = twin_patch_json(doc, r->body, perr, sizeof perr);
        break;
    case TWIN_PATCH_STRATEGIC:
        rc = twin_patch_strategic(doc, r->body, twin__kind(*doc) ? twin__kind(*doc) : o->kind->kind, perr,
                                  sizeof perr);
        break;
    case TWIN_PATCH_APPLY:
        rc = twin_patch_apply(doc, r->body, NULL, o->kind->kind, perr, sizeof perr);
        break;
    default:
        return fail(o, 415, "UnsupportedMediaType", "unsupported patch type"), 0;
    }
    if (rc < 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "the patch could not be applied: %s", perr);
        return fail(o, r->patch_type == TWIN_PATCH_JSON ? 422 : 400,
                    r->patch_type == TWIN_PATCH_JSON ? "Invalid" : "BadRequest", msg),
               0;
    }
    if (!json_is_object(*doc))
        return fail(o, 422, "Invalid", "the patch did not produce an object"), 0;
    return 1;
}

/* A server-side apply of the request's configuration onto *doc, with
 * field ownership (managed.c): 1, or 0 after failing the operation (409
 * naming the conflicts, 400 for a configuration that cannot be merged). */
static int apply_owned(op_ctx *o, json_t **doc)
{
    char perr[2048] = "";
    json_t *causes = NULL;
    char *now = twin__timestamp(o->t);
    int rc = twin_managed_apply(doc, o->req->body, o->kind->kind, manager_of(o->req), o->req->force, now, &causes,
                                perr, sizeof perr);
    free(now);
    if (rc == 409) {
        fail(o, 409, "Conflict", perr);
        json_object_set_new(o->res->object, "details", json_pack("{s:o}", "causes", causes));
        return 0;
    }
    if (rc < 0) {
        char msg[2100];
        snprintf(msg, sizeof msg, "the patch could not be applied: %s", perr);
        return fail(o, 400, "BadRequest", msg), 0;
    }
    o->applied = 1;
    return 1;
}

static int do_update_or_patch(op_ctx *o)
{
    const twin_request *r = o->req;
    twin *t = o->t;
    const char *ns = o->kind->namespaced ? r->ns : "";
    json_t *cur = twin__get(t, o->kind->kind, ns, r->name);
    int is_apply = r->verb == TWIN_PATCH && r->patch_type == TWIN_PATCH_APPLY;
    if (!cur) {
        if (is_apply && !r->subresource) {   /* server-side apply creates */
            json_t *obj = json_deep_copy(r->body);
            if (!json_is_object(obj)) {
                json_decref(obj);
                return fail(o, 400, "BadRequest", "apply body must be an object");
            }
            o->applied = 1;
            int rc = do_create(o, obj);
            json_decref(obj);
            return rc;
        }
        return not_found(o, r->name);
    }
    int rc = 0;
    const char *sub = r->subresource;
    if (sub && !strcmp(sub, "scale")) {
        if (!o->kind->has_scale) {
            json_decref(cur);
            return fail(o, 404, "NotFound", "the server could not find the requested resource");
        }
        json_t *scale = twin_scale_of(cur);
        if (r->verb == TWIN_UPDATE) {
            json_decref(scale);
            scale = json_deep_copy(r->body);
        } else if (!apply_patch(o, &scale)) {
            json_decref(scale);
            json_decref(cur);
            return 0;
        }
        json_t *rep = twin__path(scale, "spec.replicas");
        if (!rep) {
            /* Scale.spec.replicas is an int32 with omitempty: absent is 0
             * (kubectl scale --replicas=0 sends "spec":{}) */
            json_object_set_new(twin__path_make(scale, "spec"), "replicas", json_integer(0));
            rep = twin__path(scale, "spec.replicas");
        }
        if (!json_is_integer(rep) || json_integer_value(rep) < 0) {
            json_decref(scale);
            json_decref(cur);
            return bad(o, r->name, "%s", "spec.replicas: Invalid value: must be a non-negative integer");
        }
        const char *srv = twin__str(scale, "metadata.resourceVersion");
        json_t *next = json_deep_copy(cur);
        json_object_set(twin__path_make(next, "spec"), "replicas", rep);
        if (srv && *srv && r->verb == TWIN_UPDATE)
            json_object_set_new(twin__path_make(next, "metadata"), "resourceVersion", json_string(srv));
        json_decref(scale);
        rc = write_update(o, next, cur, 0);
        if (o->res->code == 200) {
            json_decref(o->res->object);
            o->res->object = twin_scale_of(next);
        }
        json_decref(next);
        json_decref(cur);
        return rc;
    }
    int status_only = sub && !strcmp(sub, "status");
    if (sub && !status_only) {
        json_decref(cur);
        char msg[256];
        snprintf(msg, sizeof msg, "the subresource %s cannot be written through the twin", sub);
        return fail(o, 404, "NotFound", msg);
    }
    json_t *next;
    if (r->verb == TWIN_UPDATE) {
        if (!json_is_object(r->body)) {
            json_decref(cur);
            return fail(o, 400, "BadRequest", "the request body must be a JSON object");
        }
        next = json_deep_copy(r->body);
    } else {
        next = json_deep_copy(cur);
        int ok = is_apply && !status_only ? apply_owned(o, &next) : apply_patch(o, &next);
        if (!ok) {
            json_decref(next);
            json_decref(cur);
            return 0;
        }
        /* a patch carries no resourceVersion precondition unless it sets one */
        const char *prv = NULL;
        if (r->patch_type != TWIN_PATCH_APPLY && json_is_object(r->body))
            prv = twin__str(r->body, "metadata.resourceVersion");
        if (!prv)
            json_object_set(twin__path_make(next, "metadata"), "resourceVersion",
                            twin__path(cur, "metadata.resourceVersion") ?: json_string(""));
    }
    rc = write_update(o, next, cur, status_only);
    json_decref(next);
    json_decref(cur);
    return rc;
}

/* ---- delete ---- */

static const char *propagation_of(op_ctx *o)
{
    const twin_request *r = o->req;
    const json_t *b = r->body;
    json_t *orphan = json_object_get(b, "orphanDependents");
    if (json_is_boolean(orphan))
        return json_is_true(orphan) ? "Orphan" : "Background";
    const char *p = json_string_value(json_object_get(b, "propagationPolicy"));
    if (p)
        return p;
    if (r->propagation)
        return r->propagation;
    /* kind defaults: Jobs orphan their pods when the request says nothing */
    if (!strcmp(o->kind->kind, "Job"))
        return "Orphan";
    return "Background";
}

static int check_propagation(op_ctx *o, const char *p)
{
    if (!strcmp(p, "Background") || !strcmp(p, "Foreground") || !strcmp(p, "Orphan"))
        return 1;
    char msg[256];
    snprintf(msg, sizeof msg, "propagationPolicy: Unsupported value: \"%s\": supported values: \"Orphan\", \"Foreground\", \"Background\"", p);
    fail(o, 422, "Invalid", msg);
    return 0;
}

static int delete_one(op_ctx *o, json_t *cur)
{
    twin *t = o->t;
    const json_t *pre = json_object_get(o->req->body, "preconditions");
    const char *puid = json_string_value(json_object_get(pre, "uid"));
    const char *prv = json_string_value(json_object_get(pre, "resourceVersion"));
    if ((puid && strcmp(puid, twin__uid(cur) ?: "")) ||
        (prv && strcmp(prv, twin__str(cur, "metadata.resourceVersion") ?: ""))) {
        char ref[160], msg[512];
        snprintf(msg, sizeof msg, "Operation cannot be fulfilled on %s \"%s\": the precondition does not hold",
                 resource_ref(o, ref, sizeof ref), twin__name(cur));
        return fail(o, 409, "Conflict", msg), 0;
    }
    if (!strcmp(o->kind->kind, "Namespace")) {
        for (int i = 0; PROTECTED_NS[i]; i++)
            if (!strcmp(PROTECTED_NS[i], twin__name(cur))) {
                char msg[256];
                snprintf(msg, sizeof msg, "namespaces \"%s\" is forbidden: this namespace may not be deleted",
                         twin__name(cur));
                return fail(o, 403, "Forbidden", msg), 0;
            }
        twin__delete_namespace(t, cur);
        return 1;
    }
    const char *p = propagation_of(o);
    if (!check_propagation(o, p))
        return 0;
    twin__delete_object(t, cur, p);
    return 1;
}

static int do_delete(op_ctx *o)
{
    const twin_request *r = o->req;
    json_t *cur = twin__get(o->t, o->kind->kind, o->kind->namespaced ? r->ns : "", r->name);
    if (!cur)
        return not_found(o, r->name);
    if (delete_one(o, cur)) {
        o->res->code = 200;
        o->res->object = json_incref(cur);
    }
    json_decref(cur);
    return 0;
}

static int do_delete_collection(op_ctx *o)
{
    const twin_request *r = o->req;
    if (!strcmp(o->kind->kind, "Namespace"))
        return fail(o, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    char lerr[512];
    json_t *items = twin_list(o->t, TWIN_AFTER, o->kind->kind, o->kind->namespaced ? r->ns : NULL,
                              r->label_selector, r->field_selector, lerr, sizeof lerr);
    if (!items) {
        char msg[600];
        snprintf(msg, sizeof msg, "unable to parse requirement: %s", lerr);
        return fail(o, 400, "BadRequest", msg);
    }
    json_t *deleted = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        /* an earlier cascade may already have taken this one */
        json_t *cur = twin__get(o->t, o->kind->kind, twin__ns(it), twin__name(it));
        if (!cur)
            continue;
        int ok = delete_one(o, cur);
        json_decref(cur);
        if (!ok)
            break;
        json_array_append(deleted, it);
    }
    json_decref(items);
    if (o->res->code >= 400) {
        json_decref(deleted);
        return 0;
    }
    char *av = o->kind->group[0] ? twin_xasprintf("%s/%s", o->kind->group, o->kind->version)
                                 : twin_xstrdup(o->kind->version);
    char *lk = twin_xasprintf("%sList", o->kind->kind);
    o->res->code = 200;
    o->res->object = json_pack("{s:s, s:s, s:{}, s:o}", "apiVersion", av, "kind", lk, "metadata", "items", deleted);
    free(av);
    free(lk);
    return 0;
}

/* ---- eviction (pods/eviction, k8s-api-facts §3.10) ---- */

static int do_evict(op_ctx *o)
{
    twin *t = o->t;
    const twin_request *r = o->req;
    json_t *pod = twin__get(t, "Pod", r->ns, r->name);
    if (!pod)
        return not_found(o, r->name);
    const char *bname = twin__str(r->body, "metadata.name");
    if (bname && strcmp(bname, r->name)) {
        json_decref(pod);
        return fail(o, 400, "BadRequest", "name in URL does not match name in Eviction object");
    }
    const char *phase = twin__str(pod, "status.phase");
    int skip_pdb = !phase || !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") || !strcmp(phase, "Pending") ||
                   twin__path(pod, "metadata.deletionTimestamp");
    if (!skip_pdb) {
        json_t *pdbs = twin__list(t, "PodDisruptionBudget", r->ns);
        json_t *match = NULL;
        int nmatch = 0;
        size_t i;
        json_t *pdb;
        json_array_foreach(pdbs, i, pdb) {
            twin_selector *sel = NULL;
            char serr[128];
            if (twin_selector_from_json(&sel, twin__path(pdb, "spec.selector"), serr, sizeof serr) < 0)
                continue;
            if (twin_selector_matches(sel, twin__path(pod, "metadata.labels"))) {
                match = pdb;
                nmatch++;
            }
            twin_selector_free(sel);
        }
        if (nmatch > 1) {
            json_decref(pdbs);
            json_decref(pod);
            return fail(o, 500, "InternalError",
                        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
        }
        if (match) {
            /* the disruption controller's arithmetic, computed on the spot */
            long expected, healthy, desired;
            twin__pdb_counts(t, match, &expected, &healthy, &desired);
            /* a pod that is not Ready goes without using the budget when
             * unhealthyPodEvictionPolicy is AlwaysAllow, or when the budget is
             * met (IfHealthyBudget, the default); under a budget already
             * broken it needs a disruption like any other pod, and there is
             * none to give (k8s-api-facts §3.10) */
            const char *upe = twin__str(match, "spec.unhealthyPodEvictionPolicy");
            int unready_pass = !twin__pod_ready(pod) &&
                               ((upe && !strcmp(upe, "AlwaysAllow")) || (healthy >= desired && desired > 0));
            if (!unready_pass && healthy - desired <= 0) {
                char msg[512];
                snprintf(msg, sizeof msg,
                         "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget %s "
                         "needs %ld healthy pods and has %ld currently",
                         twin__name(match), desired, healthy);
                json_decref(pdbs);
                json_decref(pod);
                fail(o, 429, "TooManyRequests", msg);
                json_object_set_new(o->res->object, "details",
                                    json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget", "message",
                                              msg + strlen("Cannot evict pod as it would violate the pod's disruption budget. ")));
                return 0;
            }
        }
        json_decref(pdbs);
    }
    twin__delete_object(t, pod, "Background");
    json_decref(pod);
    o->res->code = 201;
    o->res->object = twin__status(201, "", "evicted");
    json_object_set_new(o->res->object, "status", json_string("Success"));
    json_object_del(o->res->object, "reason");
    return 0;
}

/* ---- service account tokens (serviceaccounts/token) ---- */

/* A TokenRequest for an existing ServiceAccount: answered with a token
 * that stands for the account in the twin (synthetic: the twin signs
 * nothing), its expiry as the API server computes it.  Nothing is
 * written: the power it hands out is for the policies to judge
 * (privilege). */
static int do_token(op_ctx *o)
{
    twin *t = o->t;
    const twin_request *r = o->req;
    json_t *sa = twin__get(t, "ServiceAccount", r->ns, r->name);
    if (!sa)
        return not_found(o, r->name);
    if (!json_is_object(r->body)) {
        json_decref(sa);
        return fail(o, 400, "BadRequest", "the body of a token request must be a TokenRequest");
    }
    json_t *exp = twin__path(r->body, "spec.expirationSeconds");
    long long secs = json_is_integer(exp) ? json_integer_value(exp) : 3600;
    if (exp && !json_is_integer(exp)) {
        json_decref(sa);
        return bad(o, r->name, "%s", "spec.expirationSeconds: Invalid value: must be an integer");
    }
    if (secs < 600 || secs > 1LL << 32) {   /* ValidateTokenRequest: at least 10 minutes, at most 2^32 s */
        json_decref(sa);
        return bad(o, r->name, "%s", "spec.expirationSeconds: Invalid value: may not specify a duration less than 10 "
                                     "minutes or more than 2^32 seconds");
    }
    char digest[65];
    char *seed = twin_xasprintf("%s/%s/%lld/%llu", r->ns, r->name, (long long)t->rv, (unsigned long long)twin__rand(t));
    twin__digest_hex(seed, digest);
    free(seed);
    double now = t->clock ? t->clock : (double)time(NULL);
    time_t until = (time_t)now + (time_t)secs;
    struct tm tm;
    gmtime_r(&until, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *tr = json_deep_copy(r->body);
    json_object_set_new(tr, "apiVersion", json_string("authentication.k8s.io/v1"));
    json_object_set_new(tr, "kind", json_string("TokenRequest"));
    json_t *meta = twin__path_make(tr, "metadata");
    json_object_set_new(meta, "name", json_string(r->name));
    json_object_set_new(meta, "namespace", json_string(r->ns));
    json_object_set_new(twin__path_make(tr, "spec"), "expirationSeconds", json_integer(secs));
    char *token = twin_xasprintf("airlock-twin.%s", digest);
    json_object_set_new(tr, "status", json_pack("{s:s, s:s}", "token", token, "expirationTimestamp", ts));
    free(token);
    json_decref(sa);
    o->res->code = 201;
    o->res->object = tr;
    return 0;
}

/* ---- the operation ---- */

json_t *twin_impact_empty(void)
{
    return json_pack("{s:i, s:{s:i, s:[], s:i, s:[], s:[]}, s:{s:i, s:[], s:i, s:[], s:[]}, s:[], "
                     "s:{s:f, s:f, s:f}, s:{s:[], s:[]}, s:{s:{}, s:{}}}",
                     "pods_disrupted", 0, "instant", "pods_disrupted", 0, "pods", "pods_pending", 0,
                     "services_emptied", "workloads_degraded", "settled", "pods_disrupted", 0, "pods",
                     "pods_pending", 0, "services_emptied", "workloads_degraded", "namespaces_touched", "cost", "before", 0.0, "after", 0.0, "delta", 0.0,
                     "reachability", "added", "removed", "counts", "by_kind", "by_op");
}

void twin__op_begin(twin *t)
{
    twin__exec(t, "SAVEPOINT op");
    t->in_op = 1;
    t->op_rv = t->rv;
    t->op_rng = t->rng;
    t->parent = NULL;
}

int twin_apply(twin *t, const twin_request *req, twin_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (t->in_op) {
        snprintf(err, errlen, "the twin is already in an operation: commit or roll back first");
        return -1;
    }
    const twin_kind *kind = req->kind ? twin_kind_by_name(t, req->kind) : NULL;
    if (kind && twin_aws_kind(kind->kind)) {
        snprintf(err, errlen, "%s is an AWS resource: it changes through twin_aws_apply", kind->kind);
        return -1;
    }
    if (!kind) {
        snprintf(err, errlen, "unknown kind %s", req->kind ? req->kind : "(none)");
        return -1;
    }
    if (kind->namespaced && (!req->ns || !*req->ns) && req->verb != TWIN_CREATE &&
        req->verb != TWIN_DELETE_COLLECTION) {
        snprintf(err, errlen, "%s is namespaced: a namespace is required", kind->resource);
        return -1;
    }
    if ((req->verb == TWIN_UPDATE || req->verb == TWIN_PATCH || req->verb == TWIN_DELETE || req->verb == TWIN_EVICT ||
         req->verb == TWIN_TOKEN) &&
        (!req->name || !*req->name)) {
        snprintf(err, errlen, "a name is required for this request");
        return -1;
    }
    op_ctx o = {t, req, kind, res, err, errlen, 0};
    twin__op_begin(t);
    int rc = 0;
    switch (req->verb) {
    case TWIN_CREATE: {
        if (!json_is_object(req->body)) {
            rc = fail(&o, 400, "BadRequest", "the request body must be a JSON object");
            break;
        }
        json_t *obj = json_deep_copy(req->body);
        rc = do_create(&o, obj);
        json_decref(obj);
        break;
    }
    case TWIN_UPDATE:
    case TWIN_PATCH:
        rc = do_update_or_patch(&o);
        break;
    case TWIN_DELETE:
        rc = do_delete(&o);
        break;
    case TWIN_DELETE_COLLECTION:
        rc = do_delete_collection(&o);
        break;
    case TWIN_EVICT:
        rc = do_evict(&o);
        break;
    case TWIN_TOKEN:
        rc = do_token(&o);
        break;
    default:
        snprintf(err, errlen, "unsupported verb");
        rc = -1;
    }
    return twin__op_finish(t, rc, res, err, errlen);
}

int twin__op_finish(twin *t, int rc, twin_result *res, char *err, size_t errlen)
{
    if (rc < 0) {
        twin_rollback(t);
        twin_result_free(res);
        return -1;
    }
    if (res->code >= 400) {
        /* nothing was written: an empty diff, an empty impact (and should a
         * refusal come after a write, the caches read as before it) */
        TWIN_MAP_FOREACH(&t->changes, e) {
            twin_change *c = e->value;
            twin__docs_restore(t, c->kind, c->ns, c->name, c->before);
        }
        twin__docs_discard(t);
        twin__exec(t, "ROLLBACK TO op");
        twin__changes_free(t);
        t->rv = t->op_rv;
        t->rng = t->op_rng;
        /* what the refused writes queued goes with them */
        for (size_t i = t->qhead; i < t->qlen; i++)
            free(t->queue[i]);
        t->qhead = t->qlen = 0;
        twin_map_clear(&t->queued, NULL);
        res->diff = json_array();
        res->events = json_array();
        res->impact = twin_impact_empty();
        return 0;
    }
    if (twin__run_controllers(t, 0, err, errlen) < 0) {
        twin_rollback(t);
        twin_result_free(res);
        return -1;
    }
    json_t *instant = twin__impact_moment(t);
    if (twin__run_controllers(t, 1, err, errlen) < 0) {
        json_decref(instant);
        twin_rollback(t);
        twin_result_free(res);
        return -1;
    }
    json_t *settled = twin__impact_moment(t);
    res->impact = twin__impact(t, instant, settled);
    res->diff = twin__diff(t);
    res->events = twin__quiet_diff(t);
    return 0;
}

int twin_in_operation(const twin *t) { return t->in_op; }

int twin_commit(twin *t)
{
    if (!t->in_op)
        return -1;
    /* fold the operation into the committed totals (restored if the
     * release fails: then nothing of the operation stays) */
    double cost_was = t->cost_total;
    long ready_was = t->pods_ready, total_was = t->pods_total;
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (c->before)
            t->cost_total -= twin__change_cost(t, c, 0);
        if (c->after)
            t->cost_total += twin__change_cost(t, c, 1);
        if (!strcmp(c->kind, "Pod")) {
            t->pods_total += (c->after != NULL) - (c->before != NULL);
            t->pods_ready += (c->after && twin__pod_ready(c->after)) - (c->before && twin__pod_ready(c->before));
        }
    }
    if (t->marked) {
        /* remember what a later twin_reset must forget */
        TWIN_MAP_FOREACH(&t->changes, e) {
            twin_change *c = e->value;
            char *key = twin__key(c->kind, c->ns, c->name);
            char *val = twin_xasprintf("%s\x1f%s\x1f%s", c->kind, c->ns, c->name);
            free(twin_map_put(&t->mark_keys, key, val));
            free(key);
        }
    }
    twin__docs_flush(t);
    twin__meta_save(t);
    twin__aws_commit(t);
    if (twin__exec(t, "RELEASE op") < 0) {
        t->cost_total = cost_was;
        t->pods_ready = ready_was;
        t->pods_total = total_was;
        t->aws_counted = 0;
        twin_rollback(t);
        return -1;
    }
    twin__changes_free(t);
    t->in_op = 0;
    return 0;
}

int twin_mark(twin *t)
{
    if (t->in_op || t->marked)
        return -1;
    if (twin__exec(t, "SAVEPOINT mark") < 0)
        return -1;
    t->marked = 1;
    t->mark_rv = t->rv;
    t->mark_rng = t->rng;
    t->mark_cost = t->cost_total;
    t->mark_ready = t->pods_ready;
    t->mark_total = t->pods_total;
    return 0;
}

int twin_reset(twin *t)
{
    if (!t->marked)
        return -1;
    if (t->in_op)
        twin_rollback(t);
    int pods_or_nodes = 0;
    TWIN_MAP_FOREACH(&t->mark_keys, e) {
        char *kind = e->value, *ns = strchr(kind, '\x1f'), *name = ns ? strchr(ns + 1, '\x1f') : NULL;
        if (!ns || !name)
            continue;
        *ns++ = '\0';
        *name++ = '\0';
        twin__docs_forget(t, kind, ns, name);
        if (!strcmp(kind, "Pod") || !strcmp(kind, "Node"))
            pods_or_nodes = 1;
        if (!strcmp(kind, "Service") || !strcmp(kind, "HorizontalPodAutoscaler"))
            twin__caches_drop_ns(t, ns);
    }
    twin_map_clear(&t->mark_keys, free);
    if (pods_or_nodes)
        twin__sched_drop(t);
    twin__docs_discard(t);   /* empty outside an operation; kept in step all the same */
    int rc = twin__exec(t, "ROLLBACK TO mark");
    if (twin__exec(t, "RELEASE mark") < 0)
        rc = -1;
    t->rv = t->mark_rv;
    t->rng = t->mark_rng;
    t->cost_total = t->mark_cost;
    t->pods_ready = t->mark_ready;
    t->pods_total = t->mark_total;
    t->aws_counted = 0;
    t->marked = 0;
    return rc;
}

int twin_rollback(twin *t)
{
    if (!t->in_op)
        return -1;
    /* undo the scheduler cache's accounting from the change map */
    if (t->sched_loaded) {
        int nodes_changed = 0;
        TWIN_MAP_FOREACH(&t->changes, e) {
            twin_change *c = e->value;
            if (!strcmp(c->kind, "Node"))
                nodes_changed = 1;
        }
        if (nodes_changed)
            twin__sched_drop(t);
    }
    json_t *pods = json_array();
    if (t->sched_loaded) {
        TWIN_MAP_FOREACH(&t->changes, e) {
            twin_change *c = e->value;
            if (!strcmp(c->kind, "Pod")) {
                json_t *pair = json_array();
                json_array_append(pair, c->after ? c->after : json_null());
                json_array_append(pair, c->before ? c->before : json_null());
                json_array_append_new(pods, pair);
            }
        }
    }
    /* cached lookups built from rolled-back writes go with them; the
     * documents read as they did before the operation, which the change
     * map holds parsed */
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        twin__docs_restore(t, c->kind, c->ns, c->name, c->before);
        if (!strcmp(c->kind, "Service") || !strcmp(c->kind, "HorizontalPodAutoscaler"))
            twin__caches_drop_ns(t, c->ns);
    }
    twin__docs_discard(t);
    twin__exec(t, "ROLLBACK TO op");
    twin__exec(t, "RELEASE op");
    t->rv = t->op_rv;
    t->rng = t->op_rng;
    twin__changes_free(t);
    t->in_op = 0;
    t->settling = 0;
    twin_map_clear(&t->acted, NULL);
    twin_map_clear(&t->later, NULL);
    /* drop whatever is still queued */
    for (size_t i = t->qhead; i < t->qlen; i++)
        free(t->queue[i]);
    t->qhead = t->qlen = 0;
    twin_map_clear(&t->queued, NULL);
    if (json_array_size(pods))
        twin__sched_rollback(t, pods);
    json_decref(pods);
    return 0;
}

void twin_result_free(twin_result *res)
{
    if (!res)
        return;
    json_decref(res->object);
    json_decref(res->diff);
    json_decref(res->impact);
    json_decref(res->events);
    memset(res, 0, sizeof *res);
}
