/*
 * model.c - the Kubernetes model: the kind table, small accessors over
 * object documents, readiness, owner references, template hashes, generated
 * names, and the hourly price of one object.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantity.h"
#include "aws_int.h"
#include "twin_int.h"

/* Built-in kinds with their API coordinates (k8s-api-facts.md §1). */
static const twin_kind KINDS[] = {
    {"Namespace", "", "v1", "namespaces", "namespace", "ns", 0, 0, 1, 0},
    {"Node", "", "v1", "nodes", "node", "no", 0, 0, 1, 0},
    {"Pod", "", "v1", "pods", "pod", "po", 1, 0, 1, 0},
    {"Service", "", "v1", "services", "service", "svc", 1, 0, 1, 0},
    {"Endpoints", "", "v1", "endpoints", "endpoints", "ep", 1, 0, 0, 0},
    {"ConfigMap", "", "v1", "configmaps", "configmap", "cm", 1, 0, 0, 0},
    {"Secret", "", "v1", "secrets", "secret", "", 1, 0, 0, 0},
    {"PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "pvc", 1, 0, 1, 0},
    {"PersistentVolume", "", "v1", "persistentvolumes", "persistentvolume", "pv", 0, 0, 1, 0},
    {"ServiceAccount", "", "v1", "serviceaccounts", "serviceaccount", "sa", 1, 0, 0, 0},
    /* stored and served without behaviour (reads agents make routinely) */
    {"Event", "", "v1", "events", "event", "ev", 1, 0, 0, 0},
    {"ResourceQuota", "", "v1", "resourcequotas", "resourcequota", "quota", 1, 0, 1, 0},
    {"LimitRange", "", "v1", "limitranges", "limitrange", "limits", 1, 0, 0, 0},
    {"ControllerRevision", "apps", "v1", "controllerrevisions", "controllerrevision", "", 1, 0, 0, 0},
    {"Lease", "coordination.k8s.io", "v1", "leases", "lease", "", 1, 0, 0, 0},
    {"PriorityClass", "scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "pc", 0, 0, 0, 0},
    {"StorageClass", "storage.k8s.io", "v1", "storageclasses", "storageclass", "sc", 0, 0, 0, 0},
    {"Deployment", "apps", "v1", "deployments", "deployment", "deploy", 1, 1, 1, 0},
    {"ReplicaSet", "apps", "v1", "replicasets", "replicaset", "rs", 1, 1, 1, 0},
    {"StatefulSet", "apps", "v1", "statefulsets", "statefulset", "sts", 1, 1, 1, 0},
    {"DaemonSet", "apps", "v1", "daemonsets", "daemonset", "ds", 1, 0, 1, 0},
    {"Job", "batch", "v1", "jobs", "job", "", 1, 0, 1, 0},
    {"CronJob", "batch", "v1", "cronjobs", "cronjob", "cj", 1, 0, 1, 0},
    {"HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "hpa",
     1, 0, 1, 0},
    {"NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "netpol", 1, 0, 0, 0},
    {"Ingress", "networking.k8s.io", "v1", "ingresses", "ingress", "ing", 1, 0, 1, 0},
    {"PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "pdb", 1, 0, 1, 0},
    {"Role", "rbac.authorization.k8s.io", "v1", "roles", "role", "", 1, 0, 0, 0},
    {"RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "", 1, 0, 0, 0},
    {"ClusterRole", "rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "", 0, 0, 0, 0},
    {"ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "", 0, 0,
     0, 0},
};

const twin_kind *twin_kinds(size_t *n)
{
    *n = sizeof KINDS / sizeof KINDS[0];
    return KINDS;
}

size_t twin_kind_count(const twin *t)
{
    return sizeof KINDS / sizeof KINDS[0] + (t ? t->ndyn : 0);
}

const twin_kind *twin_kind_at(const twin *t, size_t i)
{
    size_t n = sizeof KINDS / sizeof KINDS[0];
    return i < n ? &KINDS[i] : t && i - n < t->ndyn ? t->dyn[i - n] : NULL;
}

const twin_kind *twin_kind_by_resource(const twin *t, const char *group, const char *resource)
{
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
        /* autoscaling/v1 HPAs are the same resource as v2 */
        if (!strcmp(KINDS[i].group, group) && !strcmp(KINDS[i].resource, resource))
            return &KINDS[i];
    }
    for (size_t i = 0; t && i < t->ndyn; i++)
        if (!strcmp(t->dyn[i]->group, group) && !strcmp(t->dyn[i]->resource, resource))
            return t->dyn[i];
    return NULL;
}

/* The AWS kinds (aws.c) are found by name, for the store and the diff,
 * but never by resource nor listed: Kubernetes clients do not see them. */
const twin_kind *twin_kind_by_name(const twin *t, const char *kind)
{
    const twin_kind *aws = twin__aws_kind_by_name(kind);
    if (aws)
        return aws;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (!strcmp(KINDS[i].kind, kind))
            return &KINDS[i];
    for (size_t i = 0; t && i < t->ndyn; i++)
        if (!strcmp(t->dyn[i]->kind, kind))
            return t->dyn[i];
    return NULL;
}

/* Unknown kinds met on import are stored as they are and served under the
 * resource name Kubernetes would derive for them (lower-case plural). */
void twin__register_kind(twin *t, const char *api_version, const char *kind, int namespaced)
{
    if (twin_kind_by_name(t, kind))
        return;
    const char *slash = strchr(api_version, '/');
    /* each kind a block of its own: a kind handed out stays where it is
     * when more are learnt (a parsed action keeps its kind across a wait) */
    t->dyn = twin_xrealloc(t->dyn, (t->ndyn + 1) * sizeof(*t->dyn));
    twin_kind *k = t->dyn[t->ndyn++] = twin_xcalloc(1, sizeof *k);
    k->kind = twin_xstrdup(kind);
    k->group = slash ? twin_xasprintf("%.*s", (int)(slash - api_version), api_version) : twin_xstrdup("");
    k->version = twin_xstrdup(slash ? slash + 1 : api_version);
    char *lower = twin_xstrdup(kind);
    for (char *p = lower; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    size_t n = strlen(lower);
    if (n && lower[n - 1] == 's')
        k->resource = twin_xasprintf("%ses", lower);
    else if (n && lower[n - 1] == 'y')
        k->resource = twin_xasprintf("%.*sies", (int)n - 1, lower);
    else
        k->resource = twin_xasprintf("%ss", lower);
    k->singular = lower;
    k->short_names = "";
    k->namespaced = namespaced;
}

const twin_kind *twin_learn_kind_as(twin *t, const char *api_version, const char *kind, const char *resource,
                                    int namespaced)
{
    if (twin_kind_by_name(t, kind))
        return NULL;   /* a kind of that name is served already: which one a document means would be ambiguous */
    twin__register_kind(t, api_version, kind, namespaced);
    twin_kind *k = t->dyn[t->ndyn - 1];
    free((char *)k->resource);
    k->resource = twin_xstrdup(resource);   /* the plural production serves, not one derived */
    return k;
}

void twin_kind_mark_read_only(twin *t, const twin_kind *k)
{
    for (size_t i = 0; i < t->ndyn; i++)
        if (t->dyn[i] == k)
            t->dyn[i]->read_only = 1;
}

const twin_kind *twin_learn_kind(twin *t, const char *api_version, const char *kind, int namespaced)
{
    twin__register_kind(t, api_version, kind, namespaced);
    return twin_kind_by_name(t, kind);
}

/* ---- accessors ---- */

json_t *twin__path(const json_t *obj, const char *path)
{
    /* the hottest helper of all: each segment is looked up in place */
    const json_t *cur = obj;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= 128)   /* no key of the model is that long */
            return NULL;
        cur = json_object_getn(cur, p, n);
        p = dot ? dot + 1 : p + n;
    }
    return (json_t *)cur;
}

json_t *twin__path_make(json_t *obj, const char *path)
{
    /* a root that is not a map has nowhere to hold the path: NULL, which
     * jansson's setters ignore.  (json_object_set_new on a non-object frees
     * the new child, and the loop below then walked freed memory; found by
     * tests/fuzz/fuzz_import.) */
    if (!json_is_object(obj))
        return NULL;
    json_t *cur = obj;
    const char *p = path;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        json_t *next = json_object_get(cur, key);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(cur, key, next);
        }
        cur = next;
        p = dot ? dot + 1 : p + n;
    }
    return cur;
}

const char *twin__str(const json_t *obj, const char *path) { return json_string_value(twin__path(obj, path)); }

long twin__int(const json_t *obj, const char *path, long dflt)
{
    json_t *v = twin__path(obj, path);
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (json_is_real(v))
        return (long)json_real_value(v);
    return dflt;
}

const char *twin__kind(const json_t *obj) { return json_string_value(json_object_get(obj, "kind")); }
const char *twin__name(const json_t *obj) { return twin__str(obj, "metadata.name"); }
const char *twin__uid(const json_t *obj) { return twin__str(obj, "metadata.uid"); }

const char *twin__ns(const json_t *obj)
{
    const char *ns = twin__str(obj, "metadata.namespace");
    return ns ? ns : "";
}

int twin__pod_active(const json_t *pod)
{
    const char *phase = twin__str(pod, "status.phase");
    if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
        return 0;
    return twin__path(pod, "metadata.deletionTimestamp") == NULL;
}

int twin__pod_ready(const json_t *pod)
{
    if (!twin__pod_active(pod))
        return 0;
    const char *phase = twin__str(pod, "status.phase");
    if (!phase || strcmp(phase, "Running"))
        return 0;
    size_t i;
    json_t *c;
    json_array_foreach(twin__path(pod, "status.conditions"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type && !strcmp(type, "Ready"))
            return !strcmp(json_string_value(json_object_get(c, "status")) ?: "", "True");
    }
    return 0;
}

json_t *twin__controller_ref(const json_t *obj)
{
    size_t i;
    json_t *ref;
    json_array_foreach(twin__path(obj, "metadata.ownerReferences"), i, ref) {
        if (json_is_true(json_object_get(ref, "controller")))
            return ref;
    }
    return NULL;
}

const char *twin__controller_uid(const json_t *obj)
{
    return json_string_value(json_object_get(twin__controller_ref(obj), "uid"));
}

/* ---- what the API server and the kubelet always set on a pod ---- */

/* A resource of a container: its request, defaulted to its limit as the
 * API server does; NULL when neither is set. */
static const json_t *request_of(const json_t *c, const char *res)
{
    const json_t *r = json_object_get(json_object_get(json_object_get(c, "resources"), "requests"), res);
    return r ? r : json_object_get(json_object_get(json_object_get(c, "resources"), "limits"), res);
}

/* The pod's QoS class, as pkg/apis/core/helper/qos (GetPodQOS) computes it:
 * BestEffort when no container asks or limits cpu or memory; Guaranteed
 * when every container limits both and asks exactly its limits; else
 * Burstable.  (Simplified: pod-level resources, a 1.32 alpha, are ignored.) */
const char *twin__pod_qos(const json_t *pod)
{
    static const char *const RES[] = {"cpu", "memory"};
    static const char *const LISTS[] = {"containers", "initContainers"};
    int any = 0, guaranteed = 1;
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(twin__path(pod, "spec") ? json_object_get(json_object_get(pod, "spec"), LISTS[l]) : NULL,
                           i, c) {
            for (int r = 0; r < 2; r++) {
                const json_t *lim = json_object_get(json_object_get(json_object_get(c, "resources"), "limits"), RES[r]);
                const json_t *req = request_of(c, RES[r]);
                double a, b;
                if (req || lim)
                    any = 1;
                if (!lim || !req || twin_quantity_parse(req, &a) < 0 || twin_quantity_parse(lim, &b) < 0 || a != b)
                    guaranteed = 0;
            }
        }
    }
    return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

/* 64 hex digits that stand for s (an image's digest in the twin: the same
 * image, the same digest).  FNV-1a, four lanes. */
void twin__digest_hex(const char *s, char out[65])
{
    for (int lane = 0; lane < 4; lane++) {
        uint64_t h = 14695981039346656037ULL ^ (uint64_t)(lane + 1) * 0x9E3779B97F4A7C15ULL;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        snprintf(out + lane * 16, 17, "%016llx", (unsigned long long)h);
    }
}

json_t *twin__owner_ref(const json_t *owner)
{
    return json_pack("{s:s?, s:s?, s:s?, s:s?, s:b, s:b}", "apiVersion",
                     json_string_value(json_object_get(owner, "apiVersion")), "kind", twin__kind(owner), "name",
                     twin__name(owner), "uid", twin__uid(owner), "controller", 1, "blockOwnerDeletion", 1);
}

/* The workload a pod belongs to, for reachability groups and degradation:
 * the top controller, with a ReplicaSet owned by a Deployment resolved by
 * its pod-template-hash naming rule (no lookup on the hot path). */
char *twin__pod_group(const json_t *pod)
{
    json_t *ref = twin__controller_ref(pod);
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (!kind || !name)
        return twin_xasprintf("Pod/%s", twin__name(pod) ? twin__name(pod) : "");
    const char *hash = twin__str(pod, "metadata.labels.pod-template-hash");
    if (!strcmp(kind, "ReplicaSet") && hash) {
        size_t n = strlen(name), h = strlen(hash);
        if (n > h + 1 && name[n - h - 1] == '-' && !strcmp(name + n - h, hash))
            return twin_xasprintf("Deployment/%.*s", (int)(n - h - 1), name);
    }
    return twin_xasprintf("%s/%s", kind, name);
}

json_t *twin__pod_template_spec(const json_t *obj)
{
    const char *kind = twin__kind(obj);
    if (!kind)
        return NULL;
    if (!strcmp(kind, "Pod"))
        return twin__path(obj, "spec");
    if (!strcmp(kind, "CronJob"))
        return twin__path(obj, "spec.jobTemplate.spec.template.spec");
    return twin__path(obj, "spec.template.spec");
}

/* ---- names and hashes ---- */

static const char ALNUM[] = "bcdfghjklmnpqrstvwxz2456789";

char *twin__rand_suffix(twin *t, int n)
{
    char *s = twin_xmalloc((size_t)n + 1);
    for (int i = 0; i < n; i++)
        s[i] = ALNUM[twin__rand(t) % (sizeof ALNUM - 1)];
    s[n] = '\0';
    return s;
}

/* A stable hash of a pod template in the alphabet Kubernetes uses for
 * pod-template-hash (k8s-api-facts §3.2: the exact Go spew dump cannot be
 * reproduced; any stable hash of the template will do). The hash label itself
 * is removed first so a template hashes the same with or without it. */
char *twin__template_hash(const json_t *tmpl)
{
    /* the template without the two labels: copied only down to the labels
     * (the rest is shared, and only read) */
    json_t *view = json_incref((json_t *)tmpl);
    json_t *meta = json_object_get(tmpl, "metadata");
    json_t *labels = json_object_get(meta, "labels");
    if (json_object_get(labels, "pod-template-hash") || json_object_get(labels, "controller-revision-hash")) {
        json_decref(view);
        view = json_copy((json_t *)tmpl);
        meta = json_copy(meta);
        labels = json_copy(labels);
        json_object_del(labels, "pod-template-hash");
        json_object_del(labels, "controller-revision-hash");
        json_object_set_new(meta, "labels", labels);
        json_object_set_new(view, "metadata", meta);
    }
    /* the text json_dumps(view, JSON_COMPACT | JSON_SORT_KEYS) would give;
     * no template (NULL) hashes as "" (found by tests/fuzz/fuzz_import) */
    twin_buf b = {0};
    if (view)
        twin_buf_json(&b, view, 1);
    json_decref(view);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < b.len; i++) {
        h ^= (unsigned char)b.s[i];
        h *= 16777619u;
    }
    twin_buf_free(&b);
    char buf[16];
    int n = 0;
    uint64_t v = h;
    do {
        buf[n++] = ALNUM[v % (sizeof ALNUM - 1)];
        v /= (sizeof ALNUM - 1);
    } while (v && n < 10);
    buf[n] = '\0';
    return twin_xstrdup(buf);
}

/* True when the two objects are equal once `ignore_label` is dropped from
 * metadata.labels of both (used to find a Deployment's current ReplicaSet:
 * EqualIgnoreHash). */
int twin__json_equal_ignoring(const json_t *a, const json_t *b, const char *ignore_label)
{
    /* compared in place (this runs on every Deployment sync): every key but
     * metadata must be equal, metadata's keys but labels too, and the labels
     * but the ignored one */
    if (!json_is_object(a) || !json_is_object(b))
        return json_equal((json_t *)a, (json_t *)b);
    for (int depth = 0; depth < 3; depth++) {
        const char *skip = depth == 0 ? "metadata" : depth == 1 ? "labels" : ignore_label;
        size_t na = 0, nb = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            if (!strcmp(k, skip))
                continue;
            na++;
            if (!json_equal(v, json_object_get(b, k)))
                return 0;
        }
        json_object_foreach((json_t *)b, k, v) nb += strcmp(k, skip) != 0;
        if (na != nb)
            return 0;
        if (depth == 2)
            break;
        json_t *sa = json_object_get(a, skip), *sb = json_object_get(b, skip);
        /* a metadata or labels that is not a map (`labels: null` in a
         * manifest) counts as absent, as twin__path_make replaces it: else a
         * Deployment never recognises the ReplicaSet it made (whose template
         * got real labels) and makes a new one on every sync (found by
         * tests/fuzz/fuzz_import) */
        if (!json_is_object(sa))
            sa = NULL;
        if (!json_is_object(sb))
            sb = NULL;
        if (!sa || !sb) {
            /* an absent map equals an empty one (or one holding only the hash) */
            json_t *other = sa ? sa : sb;
            if (depth == 0 && other) {
                json_t *labels = json_object_get(other, "labels");
                size_t n = json_object_size(other);
                return n == 0 || (n == 1 && labels && (json_object_size(labels) == 0 ||
                                                       (json_object_size(labels) == 1 &&
                                                        json_object_get(labels, ignore_label))));
            }
            if (depth == 1 && other)
                return json_object_size(other) == 0 ||
                       (json_object_size(other) == 1 && json_object_get(other, ignore_label));
            return 1;
        }
        a = sa;
        b = sb;
        if (!json_is_object(a) || !json_is_object(b))
            return json_equal((json_t *)a, (json_t *)b);
    }
    return 1;
}

/* ---- cost ---- */

void twin__pod_requests(const json_t *pod, double *cpu, double *mem, double *gpu)
{
    *cpu = *mem = *gpu = 0;
    double icpu = 0, imem = 0, igpu = 0;
    const char *lists[] = {"containers", "initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(json_object_get(pod, "spec"), lists[l]), i, c) {
            json_t *req = twin__path(c, "resources.requests");
            json_t *lim = twin__path(c, "resources.limits");
            double v[3] = {0, 0, 0};
            const char *names[3] = {"cpu", "memory", "nvidia.com/gpu"};
            for (int k = 0; k < 3; k++) {
                json_t *q = json_object_get(req, names[k]);
                if (!q)   /* requests default to limits when only limits are set */
                    q = json_object_get(lim, names[k]);
                if (q)
                    twin_quantity_parse(q, &v[k]);
            }
            if (l == 0) {
                *cpu += v[0];
                *mem += v[1];
                *gpu += v[2];
            } else {
                icpu = fmax(icpu, v[0]);
                imem = fmax(imem, v[1]);
                igpu = fmax(igpu, v[2]);
            }
        }
    }
    /* init containers run before the app containers: the pod needs the max */
    *cpu = fmax(*cpu, icpu);
    *mem = fmax(*mem, imem);
    *gpu = fmax(*gpu, igpu);
}

static double price(const twin *t, const char *a, const char *b)
{
    json_t *v = json_object_get(t->pricing, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_number(v) ? json_number_value(v) : 0;
}

/* The hourly price of one object under the pricing table: nodes by instance
 * type, pods by their requests (serverless-container style, so a pod's cost
 * follows what it asks for even before a node is added for it), LoadBalancer
 * Services, and PVC storage. Everything else is free. */
double twin__object_cost(const twin *t, const json_t *obj)
{
    const char *kind = twin__kind(obj);
    if (!t->pricing || !kind)
        return 0;
    if (twin_aws_kind(kind))
        return twin__aws_cost(t, obj);
    if (!strcmp(kind, "Node")) {
        const char *type = twin__str(obj, "metadata.labels");
        json_t *labels = twin__path(obj, "metadata.labels");
        type = json_string_value(json_object_get(labels, "node.kubernetes.io/instance-type"));
        if (!type)
            type = json_string_value(json_object_get(labels, "beta.kubernetes.io/instance-type"));
        json_t *p = type ? json_object_get(json_object_get(t->pricing, "nodes"), type) : NULL;
        return json_is_number(p) ? json_number_value(p) : price(t, "default_node", NULL);
    }
    if (!strcmp(kind, "Pod")) {
        if (!twin__pod_active(obj))
            return 0;
        double cpu, mem, gpu;
        twin__pod_requests(obj, &cpu, &mem, &gpu);
        return cpu * price(t, "pod", "vcpu_hour") + mem / (1024.0 * 1024 * 1024) * price(t, "pod", "gib_hour") +
               gpu * price(t, "pod", "gpu_hour");
    }
    if (!strcmp(kind, "Service")) {
        const char *type = twin__str(obj, "spec.type");
        return type && !strcmp(type, "LoadBalancer") ? price(t, "load_balancer_hour", NULL) : 0;
    }
    if (!strcmp(kind, "PersistentVolumeClaim")) {
        double bytes = 0;
        json_t *q = twin__path(obj, "spec.resources.requests.storage");
        if (q)
            twin_quantity_parse(q, &bytes);
        return bytes / (1024.0 * 1024 * 1024) * price(t, "storage_gib_hour", NULL);
    }
    return 0;
}

int twin_load_pricing(twin *t, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *p = json_load_file(path, 0, &je);
    if (!p) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(p) || !json_is_object(json_object_get(p, "pod"))) {
        snprintf(err, errlen, "%s: pricing must be an object with a \"pod\" section", path);
        json_decref(p);
        return -1;
    }
    json_decref(t->pricing);
    t->pricing = p;
    t->pricing_gen++;
    return 0;
}

/* ---- Status objects ---- */

static const char *reason_for(int code)
{
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    default: return code >= 500 ? "InternalError" : code >= 400 ? "BadRequest" : "";
    }
}

json_t *twin_status(int code, const char *reason, const char *message)
{
    return twin__status(code, reason, "%s", message);
}

json_t *twin__status(int code, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = twin_xvasprintf(fmt, ap);
    va_end(ap);
    json_t *s = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1", "metadata",
                          "status", code < 300 ? "Success" : "Failure", "message", msg, "reason",
                          reason ? reason : reason_for(code), "code", code);
    /* the API server's NotFound always carries details (apierrors.NewNotFound),
     * and clients read them without a nil check (kubectl debug did panic) */
    if (code == 404)
        json_object_set_new(s, "details", json_object());
    free(msg);
    return s;
}
