/*
 * controllers.c - the simulated controllers and the work queue that drives
 * them.
 *
 * Every write (twin__put / twin__del) calls twin__notify, which queues the
 * objects whose controllers must look again, as the informers of the real
 * controller manager would.  twin__run_controllers drains the queue:
 *
 *   phase 0 (instant): run to a fixpoint with no pod becoming Ready.  This is
 *   the cluster a moment after the API call: old pods deleted, replacements
 *   created and scheduled but not Ready, a rolling update at its first step.
 *   phase 1 (settled): tick by tick, pods the operation created become Ready
 *   (or stay Pending when unschedulable), HPAs clamp their targets, and the
 *   controllers run again, until nothing changes: rollouts finished, or
 *   stalled where Kubernetes would leave them.
 *
 * Deliberate simplifications (each says where the twin differs):
 *   - graceful termination is collapsed: a deleted pod is gone at once;
 *   - finalizers other than the GC's are not waited for;
 *   - the HPA has no metrics: it only enforces its min/max bounds;
 *   - Job pods never complete.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantity.h"
#include "selector.h"
#include "aws_int.h"
#include "twin_int.h"

enum { MAX_POPS = 500000, MAX_TICKS = 5000 };   /* bounds a simulation that never settles */

/* ---- queue ---- */

static void push(twin *t, char *key)
{
    if (twin_map_has(&t->queued, key)) {
        free(key);
        return;
    }
    twin_map_put(&t->queued, key, (void *)1);
    if (t->qlen == t->qcap) {
        /* compact consumed slots before growing */
        if (t->qhead > 0) {
            memmove(t->queue, t->queue + t->qhead, (t->qlen - t->qhead) * sizeof(char *));
            t->qlen -= t->qhead;
            t->qhead = 0;
        }
        if (t->qlen == t->qcap) {
            t->qcap = t->qcap ? t->qcap * 2 : 64;
            t->queue = twin_xrealloc(t->queue, t->qcap * sizeof(char *));
        }
    }
    t->queue[t->qlen++] = key;
}

void twin__enqueue(twin *t, const char *kind, const char *ns, const char *name)
{
    push(t, twin__key(kind, ns, name));
}

static char *pop(twin *t)
{
    if (t->qhead == t->qlen)
        return NULL;
    char *key = t->queue[t->qhead++];
    twin_map_del(&t->queued, key);
    if (t->qhead == t->qlen)
        t->qhead = t->qlen = 0;
    return key;
}

/* ---- scheduler cache ---- */

struct twin_sched_node {
    char *name;
    double cpu_alloc, mem_alloc;
    long pods_alloc;
    double cpu_used, mem_used;
    long pods_used;
    int unschedulable, not_ready;
    json_t *node;   /* the Node document (labels, taints) */
};

static void sched_node_free(void *p)
{
    twin_sched_node *n = p;
    if (!n)
        return;
    free(n->name);
    json_decref(n->node);
    free(n);
}

void twin__sched_drop(twin *t)
{
    twin_map_clear(&t->sched, sched_node_free);
    t->sched_loaded = 0;
}

static double qty(const json_t *obj, const char *path, const char *key, double dflt)
{
    json_t *q = json_object_get(twin__path(obj, path), key);
    double v;
    return q && twin_quantity_parse(q, &v) == 0 ? v : dflt;
}

static void sched_account(twin *t, const json_t *pod, int sign)
{
    if (!t->sched_loaded || !pod || !twin__pod_active(pod))
        return;
    const char *node = twin__str(pod, "spec.nodeName");
    twin_sched_node *n = node ? twin_map_get(&t->sched, node) : NULL;
    if (!n)
        return;
    double cpu, mem, gpu;
    twin__pod_requests(pod, &cpu, &mem, &gpu);
    n->cpu_used += sign * cpu;
    n->mem_used += sign * mem;
    n->pods_used += sign;
}

void twin__sched_rollback(twin *t, const json_t *pairs)
{
    size_t i;
    json_t *pair;
    json_array_foreach(pairs, i, pair) {
        json_t *after = json_array_get(pair, 0), *before = json_array_get(pair, 1);
        sched_account(t, json_is_null(after) ? NULL : after, -1);
        sched_account(t, json_is_null(before) ? NULL : before, +1);
    }
}

static void sched_add_node(twin *t, const json_t *node)
{
    twin_sched_node *n = twin_xcalloc(1, sizeof(*n));
    n->name = twin_xstrdup(twin__name(node));
    n->node = json_incref((json_t *)node);
    n->cpu_alloc = qty(node, "status.allocatable", "cpu", 0);
    n->mem_alloc = qty(node, "status.allocatable", "memory", 0);
    n->pods_alloc = (long)qty(node, "status.allocatable", "pods", 110);
    n->unschedulable = json_is_true(twin__path(node, "spec.unschedulable"));
    size_t i;
    json_t *c;
    json_array_foreach(twin__path(node, "status.conditions"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if (type && st && !strcmp(type, "Ready") && strcmp(st, "True"))
            n->not_ready = 1;
    }
    twin_sched_node *old = twin_map_put(&t->sched, n->name, n);
    if (old)
        sched_node_free(old);
    json_t *pods = twin__pods_on_node(t, n->name);
    size_t k;
    json_t *p;
    json_array_foreach(pods, k, p) sched_account(t, p, +1);
    json_decref(pods);
}

void twin__sched_sync(twin *t, const char *kind, const json_t *before, const json_t *after)
{
    if (!t->sched_loaded)
        return;
    if (!strcmp(kind, "Pod")) {
        sched_account(t, before, -1);
        sched_account(t, after, +1);
    } else if (!strcmp(kind, "Node") && after) {
        sched_add_node(t, after);   /* its allocatable, taints and pods read again */
    } else if (!strcmp(kind, "Node") && before) {
        sched_node_free(twin_map_del(&t->sched, twin__name(before)));
    }
}

static void sched_load(twin *t)
{
    if (t->sched_loaded)
        return;
    t->sched_loaded = 1;
    json_t *nodes = twin__list(t, "Node", NULL);
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) sched_add_node(t, n);
    json_decref(nodes);
}

/* ---- taints, tolerations, affinity ---- */

static int tolerates(const json_t *tolerations, const json_t *taint)
{
    const char *tkey = json_string_value(json_object_get(taint, "key"));
    const char *tval = json_string_value(json_object_get(taint, "value"));
    const char *teff = json_string_value(json_object_get(taint, "effect"));
    size_t i;
    json_t *tol;
    json_array_foreach(tolerations, i, tol) {
        const char *key = json_string_value(json_object_get(tol, "key"));
        const char *op = json_string_value(json_object_get(tol, "operator"));
        const char *val = json_string_value(json_object_get(tol, "value"));
        const char *eff = json_string_value(json_object_get(tol, "effect"));
        int exists = op && !strcmp(op, "Exists");
        if (eff && *eff && teff && strcmp(eff, teff))
            continue;
        if (key && *key) {
            if (!tkey || strcmp(key, tkey))
                continue;
        } else if (!exists) {
            continue;   /* an empty key only makes sense with Exists */
        }
        if (exists || !strcmp(val ? val : "", tval ? tval : ""))
            return 1;
    }
    return 0;
}

/* Returns the first taint with one of the given effects the pod does not
 * tolerate, or NULL. */
static json_t *untolerated(const json_t *node, const json_t *pod_spec, int noschedule, int noexecute,
                           int *with_seconds)
{
    json_t *tols = json_object_get(pod_spec, "tolerations");
    size_t i;
    json_t *taint;
    if (with_seconds)
        *with_seconds = 0;
    json_array_foreach(twin__path(node, "spec.taints"), i, taint) {
        const char *eff = json_string_value(json_object_get(taint, "effect"));
        if (!eff)
            continue;
        if (!((noschedule && !strcmp(eff, "NoSchedule")) || (noexecute && !strcmp(eff, "NoExecute"))))
            continue;
        if (!tolerates(tols, taint))
            return taint;
        if (with_seconds && !strcmp(eff, "NoExecute")) {
            /* tolerated for a while only: evicted once the settled state is reached */
            size_t k;
            json_t *tol;
            json_array_foreach(tols, k, tol) {
                if (!json_is_integer(json_object_get(tol, "tolerationSeconds")))
                    continue;
                json_t *one = json_pack("[O]", tol);
                if (tolerates(one, taint))
                    *with_seconds = 1;
                json_decref(one);
            }
        }
    }
    return NULL;
}

static int expr_matches(const json_t *expr, const json_t *labels, const char *node_name, int fields)
{
    const char *key = json_string_value(json_object_get(expr, "key"));
    const char *op = json_string_value(json_object_get(expr, "operator"));
    if (!key || !op)
        return 0;
    const char *val = fields ? (!strcmp(key, "metadata.name") ? node_name : NULL)
                             : json_string_value(json_object_get(labels, key));
    json_t *values = json_object_get(expr, "values");
    int in = 0;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) if (val && json_string_value(v) && !strcmp(val, json_string_value(v))) in = 1;
    if (!strcmp(op, "In"))
        return in;
    if (!strcmp(op, "NotIn"))
        return !in;
    if (!strcmp(op, "Exists"))
        return val != NULL;
    if (!strcmp(op, "DoesNotExist"))
        return val == NULL;
    if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
        if (!val || json_array_size(values) != 1)
            return 0;
        long a = atol(val), b = atol(json_string_value(json_array_get(values, 0)) ?: "0");
        return !strcmp(op, "Gt") ? a > b : a < b;
    }
    return 0;
}

/* nodeSelector and required node affinity (terms ORed, expressions ANDed). */
static int affinity_matches(const json_t *spec, const json_t *node)
{
    json_t *labels = twin__path(node, "metadata.labels");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(spec, "nodeSelector"), k, v) {
        const char *have = json_string_value(json_object_get(labels, k));
        if (!have || !json_string_value(v) || strcmp(have, json_string_value(v)))
            return 0;
    }
    json_t *terms =
        twin__path(spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
    if (json_array_size(terms) == 0)
        return 1;
    size_t i;
    json_t *term;
    json_array_foreach(terms, i, term) {
        int ok = 1;
        size_t j;
        json_t *e;
        json_array_foreach(json_object_get(term, "matchExpressions"), j, e) ok &= expr_matches(e, labels, NULL, 0);
        json_array_foreach(json_object_get(term, "matchFields"), j, e) ok &= expr_matches(e, NULL, twin__name(node), 1);
        if (ok)
            return 1;
    }
    return 0;
}

static int tolerates_unschedulable(const json_t *spec)
{
    json_t *taint = json_pack("{s:s, s:s}", "key", "node.kubernetes.io/unschedulable", "effect", "NoSchedule");
    int ok = tolerates(json_object_get(spec, "tolerations"), taint);
    json_decref(taint);
    return ok;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* snprintf(buf + *len, cap - *len, "%s", s) with *len the length so far,
 * as snprintf counts it (what would have been written): for the
 * scheduler's message, built for every pod that does not fit. */
static void text_add(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len < cap) {
        size_t room = cap - *len - 1, k = n < room ? n : room;
        memcpy(buf + *len, s, k);
        buf[*len + k] = '\0';
    }
    *len += n;
}

/* "%d" of a count. */
static const char *count_text(char *buf, size_t cap, int v)
{
    char *p = buf + cap;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    *--p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return p;
}

/* Picks a node for the pod, or NULL with the reason in why (the scheduler's
 * filters: unschedulable, not ready, affinity, taints, resources).  Among the
 * nodes that fit, the least allocated by CPU wins, ties by name, so the
 * result is deterministic. */
static twin_sched_node *schedule(twin *t, const json_t *pod, char *why, size_t whylen)
{
    sched_load(t);
    json_t *spec = json_object_get(pod, "spec");
    double cpu, mem, gpu;
    twin__pod_requests(pod, &cpu, &mem, &gpu);
    int n_unsched = 0, n_affinity = 0, n_taint = 0, n_cpu = 0, n_mem = 0, n_pods = 0, total = 0;
    twin_sched_node *best = NULL;
    double best_score = -1;
    TWIN_MAP_FOREACH(&t->sched, e) {
        twin_sched_node *n = e->value;
        total++;
        if (n->not_ready) {
            n_taint++;
            continue;
        }
        if (n->unschedulable && !tolerates_unschedulable(spec)) {
            n_unsched++;
            continue;
        }
        if (!affinity_matches(spec, n->node)) {
            n_affinity++;
            continue;
        }
        if (untolerated(n->node, spec, 1, 1, NULL)) {
            n_taint++;
            continue;
        }
        int fit = 1;
        if (n->cpu_used + cpu > n->cpu_alloc + 1e-9) {
            n_cpu++;
            fit = 0;
        }
        if (n->mem_used + mem > n->mem_alloc + 0.5) {
            n_mem++;
            fit = 0;
        }
        if (n->pods_used + 1 > n->pods_alloc) {
            n_pods++;
            fit = 0;
        }
        if (gpu > 0 && gpu > qty(n->node, "status.allocatable", "nvidia.com/gpu", 0)) {
            n_cpu++;
            fit = 0;
        }
        if (!fit)
            continue;
        double free_frac = n->cpu_alloc > 0 ? (n->cpu_alloc - n->cpu_used) / n->cpu_alloc : 0;
        if (free_frac > best_score + 1e-12) {
            best = n;
            best_score = free_frac;
        }
    }
    if (!best) {
        /* the scheduler's FitError: "<count> <reason>" entries sorted as
         * strings and joined with ", " (k8s-api-facts §3.12) */
        const int counts[] = {n_cpu, n_mem, n_pods, n_unsched, n_affinity, n_taint};
        const char *reasons[] = {"Insufficient cpu", "Insufficient memory", "Too many pods",
                                 "node(s) were unschedulable", "node(s) didn't match Pod's node affinity/selector",
                                 "node(s) had untolerated taint"};
        char text[6][80], num[16];   /* "%d %s" of the longest reason fits */
        char *items[6];
        size_t n = 0;
        for (size_t i = 0; i < 6; i++)
            if (counts[i]) {
                size_t len = 0;
                text_add(text[n], sizeof text[n], &len, count_text(num, sizeof num, counts[i]));
                text_add(text[n], sizeof text[n], &len, " ");
                text_add(text[n], sizeof text[n], &len, reasons[i]);
                items[n] = text[n];
                n++;
            }
        qsort(items, n, sizeof(char *), cmp_cstr);
        size_t l = 0;
        if (whylen)
            why[0] = '\0';
        text_add(why, whylen, &l, "0/");
        text_add(why, whylen, &l, count_text(num, sizeof num, total));
        text_add(why, whylen, &l, " nodes are available:");
        for (size_t i = 0; i < n; i++) {
            if (l < whylen) {
                text_add(why, whylen, &l, i ? ", " : " ");
                text_add(why, whylen, &l, items[i]);
            }
        }
        if (l < whylen)
            text_add(why, whylen, &l, ".");
    }
    return best;
}

static void set_condition(json_t *pod, const char *type, const char *status, const char *reason,
                          const char *message, const char *ts)
{
    json_t *conds = twin__path(pod, "status.conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(twin__path_make(pod, "status"), "conditions", conds);
    }
    json_t *c = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(conds, i, x) {
        const char *ty = json_string_value(json_object_get(x, "type"));
        if (ty && !strcmp(ty, type))
            c = x;
    }
    if (!c) {
        c = json_object();
        json_array_append_new(conds, c);
    }
    /* lastTransitionTime moves only when the status does (as the kubelet
     * and scheduler set it), so re-evaluating an unchanged pod is a no-op */
    const char *was = json_string_value(json_object_get(c, "status"));
    int transition = !was || strcmp(was, status);
    json_object_set_new(c, "type", json_string(type));
    json_object_set_new(c, "status", json_string(status));
    if (ts && (transition || !json_object_get(c, "lastTransitionTime")))
        json_object_set_new(c, "lastTransitionTime", json_string(ts));
    if (reason)
        json_object_set_new(c, "reason", json_string(reason));
    else
        json_object_del(c, "reason");
    if (message)
        json_object_set_new(c, "message", json_string(message));
    else
        json_object_del(c, "message");
}

/* Binds a pod to a node (in place): the node, a pod IP, and the conditions
 * of a scheduled pod whose containers are starting. */
static void place_pod(twin *t, json_t *pod, const char *node, const char *host_ip, const char *ts)
{
    json_object_set_new(twin__path_make(pod, "spec"), "nodeName", json_string(node));
    json_t *status = twin__path_make(pod, "status");
    json_object_set_new(status, "phase", json_string("Pending"));
    uint64_t r = twin__rand(t);
    char *ip = twin_xasprintf("10.%u.%u.%u", 244 + (unsigned)(r % 8), (unsigned)(r >> 8) % 256,
                              1 + (unsigned)(r >> 16) % 254);
    json_object_set_new(status, "podIP", json_string(ip));
    json_object_set_new(status, "podIPs", json_pack("[{s:s}]", "ip", ip));
    free(ip);
    if (host_ip)
        json_object_set_new(status, "hostIP", json_string(host_ip));
    set_condition(pod, "PodScheduled", "True", NULL, NULL, ts);
    set_condition(pod, "Ready", "False", "ContainersNotReady", "containers with unready status", ts);
}

/* bind_pod with the scheduler's answer for pod already known: the node n,
 * or NULL and the reason in why. */
static int bind_pod_to(twin *t, json_t *pod, twin_sched_node *n, const char *why)
{
    char *ts = twin__timestamp(t);
    if (!n) {
        json_object_set_new(twin__path_make(pod, "status"), "phase", json_string("Pending"));
        set_condition(pod, "PodScheduled", "False", "Unschedulable", why, ts);
        twin__event(t, pod, "Warning", "FailedScheduling", "default-scheduler", "%s", why);
        free(ts);
        return 0;
    }
    json_t *addrs = twin__path(n->node, "status.addresses");
    place_pod(t, pod, n->name, json_string_value(json_object_get(json_array_get(addrs, 0), "address")), ts);
    twin__event(t, pod, "Normal", "Scheduled", "default-scheduler", "Successfully assigned %s/%s to %s", twin__ns(pod),
                twin__name(pod), n->name);
    free(ts);
    return 1;
}

/* Assigns a node to an unscheduled pod (in place).  Returns 1 if bound. */
static int bind_pod(twin *t, json_t *pod)
{
    char why[512] = "";
    twin_sched_node *n = schedule(t, pod, why, sizeof why);
    return bind_pod_to(t, pod, n, why);
}

/* Whether bind_pod_to(pod, NULL, why) would leave pod as it is: Pending,
 * and its (last) PodScheduled condition already False for Unschedulable
 * with this message and a transition time (set_condition's rules). */
static int unschedulable_already(const json_t *pod, const char *why)
{
    json_t *st = json_object_get(pod, "status");
    const char *phase = json_string_value(json_object_get(st, "phase"));
    json_t *conds = json_object_get(st, "conditions");
    if (!phase || strcmp(phase, "Pending") || !json_is_array(conds))
        return 0;
    json_t *c = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(conds, i, x) {
        const char *ty = json_string_value(json_object_get(x, "type"));
        if (ty && !strcmp(ty, "PodScheduled"))
            c = x;
    }
    const char *status = json_string_value(json_object_get(c, "status"));
    const char *reason = json_string_value(json_object_get(c, "reason"));
    const char *message = json_string_value(json_object_get(c, "message"));
    return status && !strcmp(status, "False") && json_object_get(c, "lastTransitionTime") && reason &&
           !strcmp(reason, "Unschedulable") && message && !strcmp(message, why);
}

/* The kubelet's part: a scheduled pod's containers start and pass readiness. */
static void make_ready(twin *t, json_t *pod)
{
    char *ts = twin__timestamp(t);
    json_t *status = twin__path_make(pod, "status");
    json_object_set_new(status, "phase", json_string("Running"));
    if (!json_object_get(status, "startTime"))
        json_object_set_new(status, "startTime", json_string(ts));
    set_condition(pod, "Initialized", "True", NULL, NULL, ts);
    set_condition(pod, "Ready", "True", NULL, NULL, ts);
    set_condition(pod, "ContainersReady", "True", NULL, NULL, ts);
    json_t *cs = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(twin__path(pod, "spec.containers"), i, c) {
        /* as the kubelet reports it: the runtime's container id and the
         * image's digest (strict clients require both) */
        const char *image = json_string_value(json_object_get(c, "image"));
        char digest[65], id[65];
        twin__digest_hex(image ? image : "", digest);
        /* from the pod's uid and the container's name: stable, and the
         * twin's random names stay as they were */
        const char *uid = twin__str(pod, "metadata.uid"), *cname = json_string_value(json_object_get(c, "name"));
        char *seed = twin_xasprintf("%s/%s", uid ? uid : "", cname ? cname : "");
        twin__digest_hex(seed, id);
        free(seed);
        /* the repository without its tag or digest (nginx:1.25 -> nginx@sha256:...) */
        const char *img = image ? image : "";
        size_t repo = strcspn(img, "@");
        const char *slash = strrchr(img, '/'), *colon = strrchr(img, ':');
        if (colon && (size_t)(colon - img) < repo && (!slash || colon > slash))
            repo = (size_t)(colon - img);
        char *image_id = twin_xasprintf("%.*s@sha256:%s", (int)repo, img, digest);
        char *container_id = twin_xasprintf("containerd://%s", id);
        json_array_append_new(cs, json_pack("{s:O*, s:O*, s:s, s:s, s:b, s:b, s:i, s:{s:{s:s}}, s:{}}", "name",
                                            json_object_get(c, "name"), "image", json_object_get(c, "image"),
                                            "imageID", image_id, "containerID", container_id, "ready", 1, "started",
                                            1, "restartCount", 0, "state", "running", "startedAt", ts, "lastState"));
        free(image_id);
        free(container_id);
    }
    json_object_set_new(status, "containerStatuses", cs);
    free(ts);
}

/* ---- writing helpers ---- */

enum { COPY_SPEC = 1, COPY_STATUS = 2 };

/* A new version of a stored object for a controller to change, without
 * copying what it does not change: the top level and metadata's top level
 * are new (twin__put sets metadata.resourceVersion), spec's top level too
 * with COPY_SPEC, status is copied whole with COPY_STATUS; every other
 * member is shared with obj.  Stored documents are read-only, so the shared
 * parts never change under either version: the result reads as
 * json_deep_copy's would, as long as the caller changes only what it asked
 * to have copied. */
static json_t *copy_to_write(const json_t *obj, int what)
{
    json_t *next = json_copy((json_t *)obj);
    json_t *meta = json_object_get(next, "metadata");
    if (json_is_object(meta))
        json_object_set_new(next, "metadata", json_copy(meta));
    json_t *spec = json_object_get(next, "spec");
    if ((what & COPY_SPEC) && json_is_object(spec))
        json_object_set_new(next, "spec", json_copy(spec));
    json_t *status = json_object_get(next, "status");
    if ((what & COPY_STATUS) && status)
        json_object_set_new(next, "status", json_deep_copy(status));
    return next;
}

/* Whether obj's status already holds each of keys[i] as the integer
 * vals[i]: then setting them in a copy would give a version equal to obj,
 * which put_if_changed would not write, and the copy can be skipped. */
static int status_holds(const json_t *obj, const char *const *keys, const long *vals, size_t n)
{
    json_t *st = json_object_get(obj, "status");
    if (!json_is_object(st))
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(st, keys[i]);
        if (!json_is_integer(v) || json_integer_value(v) != (json_int_t)vals[i])
            return 0;
    }
    return 1;
}

/* Writes `next` if it differs from `cur`; returns 1 if written.  next is
 * stored as it is (no copy): callers build it, hand it over, and drop it. */
static int put_if_changed(twin *t, const json_t *cur, json_t *next)
{
    if (cur && json_equal((json_t *)cur, next))
        return 0;
    twin__put_shared(t, next);
    return 1;
}

static char *obj_key(const json_t *obj) { return twin__key(twin__kind(obj), twin__ns(obj), twin__name(obj)); }

/* Runs `fn` with writes attributed to `cause` (an object key). */
#define AS_CAUSED_BY(t, key, body)          \
    do {                                    \
        const char *saved_ = (t)->parent;   \
        (t)->parent = (key);                \
        body;                               \
        (t)->parent = saved_;               \
    } while (0)

/* A new pod from a template, owned by `owner`, scheduled.  refs, if not
 * NULL, is the ownerReferences array naming owner (borrowed: a controller
 * creating many pods makes it once and they share it, read-only). */
static void create_pod(twin *t, const json_t *owner, const json_t *tmpl, const char *name, json_t *extra_labels,
                       const char *node, json_t *refs)
{
    /* not `"O", x ?: json_object()`, which leaked the new map of a template
     * without a spec (found by tests/fuzz/fuzz_import) */
    json_t *tspec = json_object_get(tmpl, "spec");
    /* the pod changes only spec's top level (defaults below, nodeName when
     * bound): the containers and the rest are shared with the template, as
     * copy_to_write shares them */
    json_t *spec = json_is_object(tspec) ? json_copy(tspec) : json_object();
    json_t *pod = json_pack("{s:s, s:s, s:{}, s:o, s:{s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "spec",
                            spec, "status", "phase", "Pending");
    json_t *meta = json_object_get(pod, "metadata");
    json_object_set_new(meta, "name", json_string(name));
    json_object_set_new(meta, "namespace", json_string(twin__ns(owner)));
    /* not `json_deep_copy(x ?: json_object())`, which leaked the empty map
     * (found by tests/fuzz/fuzz_import); labels that are not a map (null)
     * count as none */
    json_t *tlabels = twin__path(tmpl, "metadata.labels");
    json_t *labels = json_is_object(tlabels) ? json_copy(tlabels) : json_object();
    if (extra_labels)
        json_object_update(labels, extra_labels);
    json_object_set_new(meta, "labels", labels);
    json_t *ann = twin__path(tmpl, "metadata.annotations");
    if (ann)
        json_object_set_new(meta, "annotations", json_is_object(ann) ? json_copy(ann) : json_deep_copy(ann));
    if (refs)
        json_object_set(meta, "ownerReferences", refs);
    else
        json_object_set_new(meta, "ownerReferences", json_pack("[o]", twin__owner_ref(owner)));
    char *uid = twin__uuid(t), *ts = twin__timestamp(t);
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(ts));
    free(uid);
    free(ts);
    if (!json_object_get(spec, "restartPolicy"))
        json_object_set_new(spec, "restartPolicy", json_string("Always"));
    if (!json_object_get(spec, "terminationGracePeriodSeconds"))
        json_object_set_new(spec, "terminationGracePeriodSeconds", json_integer(30));
    if (!json_object_get(spec, "schedulerName"))
        json_object_set_new(spec, "schedulerName", json_string("default-scheduler"));
    if (!json_object_get(spec, "serviceAccountName"))
        json_object_set_new(spec, "serviceAccountName", json_string("default"));
    json_object_set_new(twin__path_make(pod, "status"), "qosClass", json_string(twin__pod_qos(pod)));
    if (node) {
        /* DaemonSet pods are bound to their node by affinity; the twin binds
         * them directly (no resource check, as the DaemonSet controller of
         * old did). */
        twin_sched_node *n = twin_map_get(&t->sched, node);
        json_t *addrs = n ? twin__path(n->node, "status.addresses") : NULL;
        char *now = twin__timestamp(t);
        place_pod(t, pod, node, json_string_value(json_object_get(json_array_get(addrs, 0), "address")), now);
        free(now);
    } else {
        bind_pod(t, pod);
    }
    twin__put_shared(t, pod);
    const char *ok = twin__kind(owner);
    if (!strcmp(ok, "StatefulSet"))
        twin__event(t, owner, "Normal", "SuccessfulCreate", "statefulset-controller",
                    "create Pod %s in StatefulSet %s successful", name, twin__name(owner));
    else
        twin__event(t, owner, "Normal", "SuccessfulCreate",
                    !strcmp(ok, "Job") ? "job-controller" : !strcmp(ok, "DaemonSet") ? "daemonset-controller"
                                                                                     : "replicaset-controller",
                    "Created pod: %s", name);
    json_decref(pod);
}

/* Pods whose controller is `owner` and that still count (active). */
static json_t *owned_pods(twin *t, const json_t *owner)
{
    json_t *all = twin__list_owned(t, twin__uid(owner));
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) {
        const char *cu = twin__controller_uid(o);
        if (!strcmp(twin__kind(o), "Pod") && cu && !strcmp(cu, twin__uid(owner)) && twin__pod_active(o))
            json_array_append(out, o);
    }
    json_decref(all);
    return out;
}

static json_t *owned_of_kind(twin *t, const json_t *owner, const char *kind)
{
    json_t *all = twin__list_owned(t, twin__uid(owner));
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) {
        const char *cu = twin__controller_uid(o);
        if (!strcmp(twin__kind(o), kind) && cu && !strcmp(cu, twin__uid(owner)))
            json_array_append(out, o);
    }
    json_decref(all);
    return out;
}

static void delete_pod(twin *t, const json_t *pod)
{
    twin__del(t, "Pod", twin__ns(pod), twin__name(pod));
}

static long replicas_of(const json_t *obj) { return twin__int(obj, "spec.replicas", 1); }

/* The controller.kubernetes.io/pod-deletion-cost annotation (an int32 as a
 * string; absent or malformed counts as 0). */
static long deletion_cost(const json_t *pod)
{
    const char *v = json_string_value(
        json_object_get(twin__path(pod, "metadata.annotations"), "controller.kubernetes.io/pod-deletion-cost"));
    if (!v || !*v)
        return 0;
    char *end;
    long c = strtol(v, &end, 10);
    return *end || c < INT32_MIN || c > INT32_MAX ? 0 : c;
}

/* Scale-down victim order, after ActivePodsWithRanks (k8s-api-facts §3.3):
 * unassigned first, Pending before Running, not Ready before Ready, lower
 * deletion cost first, newer first; the name breaks the last tie. */
static int victim_cmp(const void *pa, const void *pb)
{
    const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    int ua = twin__str(a, "spec.nodeName") != NULL, ub = twin__str(b, "spec.nodeName") != NULL;
    if (ua != ub)
        return ua - ub;
    const char *pha = twin__str(a, "status.phase"), *phb = twin__str(b, "status.phase");
    int ra = pha && !strcmp(pha, "Running"), rb = phb && !strcmp(phb, "Running");
    if (ra != rb)
        return ra - rb;
    int rda = twin__pod_ready(a), rdb = twin__pod_ready(b);
    if (rda != rdb)
        return rda - rdb;
    long ca = deletion_cost(a), cb = deletion_cost(b);
    if (ca != cb)
        return ca < cb ? -1 : 1;
    const char *ta = twin__str(a, "metadata.creationTimestamp"), *tb = twin__str(b, "metadata.creationTimestamp");
    int c = strcmp(tb ? tb : "", ta ? ta : "");
    if (c)
        return c;
    return strcmp(twin__name(b), twin__name(a));
}

static json_t **sorted_victims(json_t *pods, size_t *n)
{
    *n = json_array_size(pods);
    json_t **v = twin_xmalloc(*n * sizeof(json_t *) + 1);
    for (size_t i = 0; i < *n; i++)
        v[i] = json_array_get(pods, i);
    qsort(v, *n, sizeof(json_t *), victim_cmp);
    return v;
}

/* Deletes the first `n` pods in scale-down order. */
/* Deletes the first `n` pods in scale-down order; returns how many of them
 * were Ready. */
static long delete_victims(twin *t, const json_t *owner, json_t *pods, long n)
{
    size_t count;
    long ready = 0;
    json_t **v = sorted_victims(pods, &count);
    for (long i = 0; i < n && (size_t)i < count; i++) {
        ready += twin__pod_ready(v[i]);
        delete_pod(t, v[i]);
        twin__event(t, owner, "Normal", "SuccessfulDelete",
                    !strcmp(twin__kind(owner), "Job") ? "job-controller" : "replicaset-controller", "Deleted pod: %s",
                    twin__name(v[i]));
    }
    free(v);
    return ready;
}

static int count_ready(const json_t *pods)
{
    int n = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) n += twin__pod_ready(p);
    return n;
}

static void set_int(json_t *obj, const char *key, long v) { json_object_set_new(obj, key, json_integer(v)); }

/* ---- ReplicaSet ---- */

static void reconcile_replicaset(twin *t, json_t *rs, const char *key)
{
    if (twin__path(rs, "metadata.deletionTimestamp"))
        return;
    json_t *pods = owned_pods(t, rs);
    long want = replicas_of(rs);
    long have = (long)json_array_size(pods);
    /* the status follows from the pods and what this sync did to them (new
     * pods are not Ready yet), without listing them again */
    long ready = count_ready(pods), now = have;
    AS_CAUSED_BY(t, key, {
        if (have < want) {
            json_t *tmpl = twin__path(rs, "spec.template");
            json_t *refs = json_pack("[o]", twin__owner_ref(rs));
            for (long i = have; i < want; i++) {
                char *name = NULL;
                for (int tries = 0; tries < 16; tries++) {
                    char *sfx = twin__rand_suffix(t, 5);
                    free(name);
                    name = twin_xasprintf("%s-%s", twin__name(rs), sfx);
                    free(sfx);
                    json_t *clash = twin__get(t, "Pod", twin__ns(rs), name);
                    json_decref(clash);
                    if (!clash)
                        break;
                }
                create_pod(t, rs, tmpl, name, NULL, NULL, refs);
                free(name);
            }
            json_decref(refs);
            now = want;
        } else if (have > want) {
            ready -= delete_victims(t, rs, pods, have - want);
            now = want;
        }
    });
    json_decref(pods);
    static const char *const keys[] = {"replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                                       "observedGeneration"};
    const long vals[] = {now, now, ready, ready, twin__int(rs, "metadata.generation", 1)};
    if (status_holds(rs, keys, vals, 5))
        return;   /* the usual sync: nothing to write */
    json_t *next = copy_to_write(rs, COPY_STATUS);
    json_t *st = twin__path_make(next, "status");
    for (size_t i = 0; i < 5; i++)
        set_int(st, keys[i], vals[i]);
    AS_CAUSED_BY(t, key, put_if_changed(t, rs, next));
    json_decref(next);
}

/* ---- Deployment ---- */

static long rs_spec(const json_t *rs) { return twin__int(rs, "spec.replicas", 0); }
static long rs_avail(const json_t *rs) { return twin__int(rs, "status.availableReplicas", 0); }

/* Scales the ReplicaSet in *slot to n: a new version is written and
 * replaces the (shared, read-only) one in the slot. */
static void scale_rs(twin *t, const json_t *d, json_t **slot, long n, const char *dkey)
{
    long was = rs_spec(*slot);
    if (was == n)
        return;
    json_t *rs = copy_to_write(*slot, COPY_SPEC);
    json_object_set_new(twin__path_make(rs, "spec"), "replicas", json_integer(n));
    AS_CAUSED_BY(t, dkey, twin__put_shared(t, rs));
    twin__event(t, d, "Normal", "ScalingReplicaSet", "deployment-controller", "Scaled %s replica set %s from %ld to %ld",
                n > was ? "up" : "down", twin__name(rs), was, n);
    json_decref(*slot);
    *slot = rs;
}

static int rs_older(const void *pa, const void *pb)
{
    const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    const char *ta = twin__str(a, "metadata.creationTimestamp"), *tb = twin__str(b, "metadata.creationTimestamp");
    int c = strcmp(ta ? ta : "", tb ? tb : "");
    return c ? c : strcmp(twin__name(a), twin__name(b));
}

static json_t *new_replicaset(twin *t, json_t *d, long replicas, long revision, long surge)
{
    /* the twin does not validate workloads: a Deployment without a template
     * or selector map still gets a ReplicaSet, rather than a NULL one from
     * json_pack (found by tests/fuzz/fuzz_import) */
    json_t *tmpl = json_deep_copy(twin__path(d, "spec.template"));
    if (!json_is_object(tmpl)) {
        json_decref(tmpl);
        tmpl = json_object();
    }
    char *hash = twin__template_hash(tmpl);
    json_object_set_new(twin__path_make(tmpl, "metadata.labels"), "pod-template-hash", json_string(hash));
    char *name = twin_xasprintf("%s-%s", twin__name(d), hash);
    json_t *clash = twin__get(t, "ReplicaSet", twin__ns(d), name);
    if (clash) {   /* collisionCount: a different template under the same hash */
        free(name);
        name = twin_xasprintf("%s-%s%d", twin__name(d), hash, (int)(twin__rand(t) % 9) + 1);
        json_decref(clash);
    }
    json_t *sel = json_deep_copy(twin__path(d, "spec.selector"));
    if (!json_is_object(sel)) {
        json_decref(sel);
        sel = json_object();
    }
    json_object_set_new(twin__path_make(sel, "matchLabels"), "pod-template-hash", json_string(hash));
    json_t *labels = json_deep_copy(twin__path(tmpl, "metadata.labels"));
    char *uid = twin__uuid(t), *ts = twin__timestamp(t);
    char rev[24], desired[24], maxr[24];
    snprintf(rev, sizeof rev, "%ld", revision);
    snprintf(desired, sizeof desired, "%ld", replicas_of(d));
    snprintf(maxr, sizeof maxr, "%ld", replicas_of(d) + surge);
    json_t *rs = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s, s:s}, s:[o]}, s:{s:i, s:i, s:o, s:o}}",
                           "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", name, "namespace",
                           twin__ns(d), "uid", uid, "creationTimestamp", ts, "labels", labels, "annotations",
                           "deployment.kubernetes.io/revision", rev, "deployment.kubernetes.io/desired-replicas",
                           desired, "deployment.kubernetes.io/max-replicas", maxr, "ownerReferences",
                           twin__owner_ref(d), "spec", "replicas", (int)replicas, "minReadySeconds",
                           (int)twin__int(d, "spec.minReadySeconds", 0), "selector", sel, "template", tmpl);
    json_object_set_new(rs, "status", json_pack("{s:i}", "replicas", 0));
    free(uid);
    free(ts);
    free(name);
    free(hash);
    return rs;
}

static void deployment_fenceposts(const json_t *d, long replicas, long *surge, long *unavail)
{
    json_t *ru = twin__path(d, "spec.strategy.rollingUpdate");
    json_t *ms = json_object_get(ru, "maxSurge"), *mu = json_object_get(ru, "maxUnavailable");
    json_t *dflt = json_string("25%");
    int s = 0, u = 0;
    if (twin_intstr_scaled(ms ? ms : dflt, (int)replicas, 1, &s) < 0)
        s = 0;
    if (twin_intstr_scaled(mu ? mu : dflt, (int)replicas, 0, &u) < 0)
        u = 0;
    json_decref(dflt);
    if (s == 0 && u == 0)
        u = 1;
    if (u > replicas)
        u = (int)replicas;
    *surge = s;
    *unavail = u;
}

static void reconcile_deployment(twin *t, json_t *d, const char *key)
{
    if (twin__path(d, "metadata.deletionTimestamp"))
        return;
    json_t *all = owned_of_kind(t, d, "ReplicaSet");
    size_t n = json_array_size(all);
    json_t **rss = twin_xmalloc((n + 1) * sizeof(json_t *));
    for (size_t i = 0; i < n; i++)
        rss[i] = json_incref(json_array_get(all, i));   /* shared: replaced, never changed */
    json_decref(all);
    qsort(rss, n, sizeof(json_t *), rs_older);

    json_t *tmpl = twin__path(d, "spec.template");
    long ni = -1;   /* the new ReplicaSet's index in rss, if any */
    long max_rev = 0;
    for (size_t i = 0; i < n; i++) {
        if (twin__json_equal_ignoring(twin__path(rss[i], "spec.template"), tmpl, "pod-template-hash"))
            ni = (long)i;
        json_t *ann = twin__path(rss[i], "metadata.annotations");
        const char *rev = json_string_value(json_object_get(ann, "deployment.kubernetes.io/revision"));
        if (rev && atol(rev) > max_rev)
            max_rev = atol(rev);
    }
    if (ni >= 0) {
        /* an older ReplicaSet that is the new one again (kubectl rollout
         * undo) takes the next revision: getNewReplicaSet sets it to the
         * highest revision of the others plus one */
        long max_old = 0;
        for (size_t i = 0; i < n; i++) {
            const char *rev = json_string_value(
                json_object_get(twin__path(rss[i], "metadata.annotations"), "deployment.kubernetes.io/revision"));
            if ((long)i != ni && rev && atol(rev) > max_old)
                max_old = atol(rev);
        }
        const char *rev = json_string_value(
            json_object_get(twin__path(rss[ni], "metadata.annotations"), "deployment.kubernetes.io/revision"));
        if (!rev || atol(rev) < max_old + 1) {
            char buf[24];
            snprintf(buf, sizeof buf, "%ld", max_old + 1);
            json_t *next = json_deep_copy(rss[ni]);
            json_object_set_new(twin__path_make(next, "metadata.annotations"), "deployment.kubernetes.io/revision",
                                json_string(buf));
            AS_CAUSED_BY(t, key, twin__put_shared(t, next));
            json_decref(rss[ni]);
            rss[ni] = next;
            if (max_old + 1 > max_rev)
                max_rev = max_old + 1;
        }
    }
    long replicas = replicas_of(d);
    const char *stype = twin__str(d, "spec.strategy.type");
    int recreate = stype && !strcmp(stype, "Recreate");
    long surge = 0, unavail = 0;
    if (!recreate)
        deployment_fenceposts(d, replicas, &surge, &unavail);
    int paused = json_is_true(twin__path(d, "spec.paused"));

    if (!paused) {
        long old_active = 0, old_pods = 0;
        for (size_t i = 0; i < n; i++)
            if ((long)i != ni) {
                old_active += rs_spec(rss[i]);
                old_pods += twin__int(rss[i], "status.replicas", 0);
            }
        if (ni < 0) {
            long start;
            if (recreate)
                start = old_active || old_pods ? 0 : replicas;
            else if (!old_active)
                start = replicas;
            else {
                long cur = old_active;
                start = replicas + surge - cur;
                if (start < 0)
                    start = 0;
                if (start > replicas)
                    start = replicas;
            }
            json_t *rs = new_replicaset(t, d, start, max_rev + 1, surge);
            AS_CAUSED_BY(t, key, twin__put(t, rs));
            if (start > 0)
                twin__event(t, d, "Normal", "ScalingReplicaSet", "deployment-controller",
                            "Scaled up replica set %s from 0 to %ld", twin__name(rs), start);
            rss = twin_xrealloc(rss, (n + 2) * sizeof(json_t *));
            rss[n++] = rs;
            ni = (long)n - 1;
        } else if (recreate) {
            if (old_active) {
                for (size_t i = 0; i < n; i++)
                    if ((long)i != ni)
                        scale_rs(t, d, &rss[i], 0, key);
            } else if (!old_pods) {
                scale_rs(t, d, &rss[ni], replicas, key);
            }
        } else {
            /* rolling update, one sync (k8s-api-facts §3.2) */
            long nr = rs_spec(rss[ni]);
            if (nr > replicas) {
                scale_rs(t, d, &rss[ni], replicas, key);
            } else {
                long total = 0;
                for (size_t i = 0; i < n; i++)
                    total += rs_spec(rss[i]);
                long max_total = replicas + surge;
                if (total < max_total && nr < replicas) {
                    long up = max_total - total;
                    if (up > replicas - nr)
                        up = replicas - nr;
                    scale_rs(t, d, &rss[ni], nr + up, key);
                }
            }
            /* scale down old ReplicaSets */
            long all_pods = 0, avail = 0;
            for (size_t i = 0; i < n; i++) {
                all_pods += rs_spec(rss[i]);
                avail += rs_avail(rss[i]);
            }
            long min_avail = replicas - unavail;
            long new_unavail = rs_spec(rss[ni]) - rs_avail(rss[ni]);
            long max_down = all_pods - min_avail - new_unavail;
            if (max_down > 0) {
                /* unhealthy old replicas first */
                for (size_t i = 0; i < n && max_down > 0; i++) {
                    if ((long)i == ni)
                        continue;
                    long unhealthy = rs_spec(rss[i]) - rs_avail(rss[i]);
                    if (unhealthy <= 0)
                        continue;
                    long cut = unhealthy < max_down ? unhealthy : max_down;
                    scale_rs(t, d, &rss[i], rs_spec(rss[i]) - cut, key);
                    max_down -= cut;
                }
                long down = avail - min_avail;
                if (down > max_down)
                    down = max_down;
                for (size_t i = 0; i < n && down > 0; i++) {
                    if ((long)i == ni || rs_spec(rss[i]) == 0)
                        continue;
                    long cut = rs_spec(rss[i]) < down ? rs_spec(rss[i]) : down;
                    scale_rs(t, d, &rss[i], rs_spec(rss[i]) - cut, key);
                    down -= cut;
                }
            }
        }
    } else {
        /* paused: no rollout, but a scale still applies (sync's scale(),
         * FindActiveOrLatest): the one active ReplicaSet, or the newest when
         * none is active, takes the new count.  With several active ones
         * Kubernetes scales them proportionally; the twin leaves them. */
        json_t **target = NULL;
        int active = 0;
        for (size_t i = 0; i < n; i++)
            if (rs_spec(rss[i]) > 0) {
                active++;
                target = &rss[i];
            }
        if (active == 0 && n)
            target = ni >= 0 ? &rss[ni] : &rss[n - 1];
        if (active <= 1 && target)
            scale_rs(t, d, target, replicas, key);
    }

    /* status (calculateStatus) */
    long st_repl = 0, st_ready = 0, st_avail = 0, st_spec = 0;
    for (size_t i = 0; i < n; i++) {
        st_repl += twin__int(rss[i], "status.replicas", 0);
        st_ready += twin__int(rss[i], "status.readyReplicas", 0);
        st_avail += rs_avail(rss[i]);
        st_spec += rs_spec(rss[i]);
    }
    static const char *const keys[] = {"observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                                       "availableReplicas", "unavailableReplicas"};
    const long vals[] = {twin__int(d, "metadata.generation", 1), st_repl,
                         ni >= 0 ? twin__int(rss[ni], "status.replicas", 0) : 0, st_ready, st_avail,
                         st_spec - st_avail > 0 ? st_spec - st_avail : 0};
    int available = st_avail >= replicas - unavail;
    json_t *conds = json_pack("[{s:s, s:s, s:s, s:s}]", "type", "Available", "status", available ? "True" : "False",
                              "reason", available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                              "message",
                              available ? "Deployment has minimum availability."
                                        : "Deployment does not have minimum availability.");
    json_t *rev = ni >= 0 ? json_object_get(twin__path(rss[ni], "metadata.annotations"),
                                            "deployment.kubernetes.io/revision")
                          : NULL;
    /* the usual sync changes nothing: no copy to compare */
    int same = status_holds(d, keys, vals, 6) && json_equal(twin__path(d, "status.conditions"), conds) &&
               (!rev || json_equal(json_object_get(twin__path(d, "metadata.annotations"),
                                                   "deployment.kubernetes.io/revision"),
                                   rev));
    if (same) {
        json_decref(conds);
    } else {
        json_t *next = copy_to_write(d, COPY_STATUS);
        json_t *st = twin__path_make(next, "status");
        for (size_t i = 0; i < 6; i++)
            set_int(st, keys[i], vals[i]);
        json_object_set_new(st, "conditions", conds);
        if (rev) {
            json_t *nmeta = twin__path_make(next, "metadata");
            json_t *nann = json_object_get(nmeta, "annotations");
            if (json_is_object(nann))   /* shared with d: changed in a copy */
                json_object_set_new(nmeta, "annotations", json_copy(nann));
            json_object_set(twin__path_make(next, "metadata.annotations"), "deployment.kubernetes.io/revision", rev);
        }
        AS_CAUSED_BY(t, key, put_if_changed(t, d, next));
        json_decref(next);
    }

    /* history cleanup once complete: old ReplicaSets at 0 beyond the limit */
    long limit = twin__int(d, "spec.revisionHistoryLimit", 10);
    if (ni >= 0 && rs_avail(rss[ni]) == replicas && rs_spec(rss[ni]) == replicas) {
        long zero = 0;
        for (size_t i = 0; i < n; i++)
            if ((long)i != ni && rs_spec(rss[i]) == 0 && twin__int(rss[i], "status.replicas", 0) == 0)
                zero++;
        for (size_t i = 0; i < n && zero > limit; i++) {
            if ((long)i != ni && rs_spec(rss[i]) == 0 && twin__int(rss[i], "status.replicas", 0) == 0) {
                AS_CAUSED_BY(t, key, twin__del(t, "ReplicaSet", twin__ns(rss[i]), twin__name(rss[i])));
                zero--;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        json_decref(rss[i]);
    free(rss);
}

/* ---- StatefulSet ---- */

static int acted_this_tick(twin *t, const char *key)
{
    void *v = twin_map_get(&t->acted, key);
    return v && (intptr_t)v == t->tick + 1;
}

static void mark_acted(twin *t, const char *key) { twin_map_put(&t->acted, key, (void *)(intptr_t)(t->tick + 1)); }

/* Asks for another turn at the next tick, for a controller that has work
 * left but may not do it now (one step per tick, or not before the settled
 * state) and that no write would wake again: a StatefulSet scaling down
 * deletes pods and creates none, so no pod becoming Ready calls it back. */
static void run_later(twin *t, const char *key) { twin_map_put(&t->later, key, (void *)1); }

static void ensure_claims(twin *t, const json_t *sts, long ordinal, const char *key)
{
    size_t i;
    json_t *ct;
    const char *when_deleted = twin__str(sts, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted");
    json_array_foreach(twin__path(sts, "spec.volumeClaimTemplates"), i, ct) {
        char *name = twin_xasprintf("%s-%s-%ld", twin__name(ct), twin__name(sts), ordinal);
        json_t *cur = twin__get(t, "PersistentVolumeClaim", twin__ns(sts), name);
        if (!cur) {
            /* as in create_pod: a claim template without a spec leaked a map */
            json_t *cspec = json_object_get(ct, "spec");
            json_t *spec = json_is_object(cspec) ? json_deep_copy(cspec) : json_object();
            json_t *pvc = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:{s:s}}", "apiVersion", "v1", "kind",
                                    "PersistentVolumeClaim", "metadata", "name", name, "namespace", twin__ns(sts),
                                    "spec", spec, "status", "phase", "Bound");
            json_t *meta = json_object_get(pvc, "metadata");
            json_t *labels = twin__path(ct, "metadata.labels");
            if (labels)
                json_object_set_new(meta, "labels", json_deep_copy(labels));
            char *uid = twin__uuid(t), *ts = twin__timestamp(t);
            json_object_set_new(meta, "uid", json_string(uid));
            json_object_set_new(meta, "creationTimestamp", json_string(ts));
            free(uid);
            free(ts);
            if (when_deleted && !strcmp(when_deleted, "Delete"))
                json_object_set_new(meta, "ownerReferences", json_pack("[o]", twin__owner_ref(sts)));
            AS_CAUSED_BY(t, key, twin__put(t, pvc));
            json_decref(pvc);
        }
        json_decref(cur);
        free(name);
    }
}

/* persistentVolumeClaimRetentionPolicy.whenScaled: Delete - the claims of an
 * ordinal a scale-down removes go with its pod (Kubernetes makes the pod
 * their owner and the GC deletes them); Retain, the default, keeps them for
 * a later scale-up. */
static void drop_claims(twin *t, const json_t *sts, long ordinal, const char *key)
{
    const char *when_scaled = twin__str(sts, "spec.persistentVolumeClaimRetentionPolicy.whenScaled");
    if (!when_scaled || strcmp(when_scaled, "Delete"))
        return;
    size_t i;
    json_t *ct;
    json_array_foreach(twin__path(sts, "spec.volumeClaimTemplates"), i, ct) {
        char *name = twin_xasprintf("%s-%s-%ld", twin__name(ct), twin__name(sts), ordinal);
        AS_CAUSED_BY(t, key, twin__del(t, "PersistentVolumeClaim", twin__ns(sts), name));
        free(name);
    }
}

static void reconcile_statefulset(twin *t, json_t *sts, const char *key)
{
    if (twin__path(sts, "metadata.deletionTimestamp"))
        return;
    long replicas = replicas_of(sts);
    long start = twin__int(sts, "spec.ordinals.start", 0);
    const char *policy = twin__str(sts, "spec.podManagementPolicy");
    int parallel = policy && !strcmp(policy, "Parallel");
    const char *ustrategy = twin__str(sts, "spec.updateStrategy.type");
    int on_delete = ustrategy && !strcmp(ustrategy, "OnDelete");
    long partition = twin__int(sts, "spec.updateStrategy.rollingUpdate.partition", 0);
    char *rev = twin__template_hash(twin__path(sts, "spec.template"));
    char *revision = twin_xasprintf("%s-%s", twin__name(sts), rev);
    free(rev);

    json_t *pods = owned_pods(t, sts);
    /* scale down: highest ordinal first; one at a time unless Parallel */
    size_t i;
    json_t *p;
    long highest = -1;
    json_t *highest_pod = NULL;
    int all_ready = 1;
    json_array_foreach(pods, i, p) {
        const char *nm = twin__name(p);
        const char *dash = strrchr(nm, '-');
        long ord = dash ? atol(dash + 1) : -1;
        if (!twin__pod_ready(p))
            all_ready = 0;
        if (ord >= start + replicas || ord < start) {
            if (parallel) {
                AS_CAUSED_BY(t, key, delete_pod(t, p));
                drop_claims(t, sts, ord, key);
            } else if (ord > highest) {
                highest = ord;
                highest_pod = p;
            }
        }
    }
    if (highest_pod && !acted_this_tick(t, key)) {
        AS_CAUSED_BY(t, key, delete_pod(t, highest_pod));
        drop_claims(t, sts, highest, key);
        mark_acted(t, key);
    } else if (highest_pod) {
        run_later(t, key);
    }
    json_decref(pods);

    /* create missing ordinals, in order; OrderedReady waits for readiness */
    for (long ord = start; ord < start + replicas; ord++) {
        char *name = twin_xasprintf("%s-%ld", twin__name(sts), ord);
        json_t *cur = twin__get(t, "Pod", twin__ns(sts), name);
        if (!cur) {
            ensure_claims(t, sts, ord, key);
            json_t *extra = json_pack("{s:s, s:s, s:s}", "controller-revision-hash", revision,
                                      "statefulset.kubernetes.io/pod-name", name, "apps.kubernetes.io/pod-index", "");
            char idx[24];
            snprintf(idx, sizeof idx, "%ld", ord);
            json_object_set_new(extra, "apps.kubernetes.io/pod-index", json_string(idx));
            json_t *tmpl = json_deep_copy(twin__path(sts, "spec.template"));
            json_t *spec = twin__path_make(tmpl, "spec");
            json_object_set_new(spec, "hostname", json_string(name));
            if (twin__str(sts, "spec.serviceName"))
                json_object_set_new(spec, "subdomain", json_string(twin__str(sts, "spec.serviceName")));
            /* claims become volumes named after the template */
            size_t k;
            json_t *ct;
            json_array_foreach(twin__path(sts, "spec.volumeClaimTemplates"), k, ct) {
                json_t *vols = json_object_get(spec, "volumes");
                if (!json_is_array(vols)) {
                    vols = json_array();
                    json_object_set_new(spec, "volumes", vols);
                }
                char *claim = twin_xasprintf("%s-%s", twin__name(ct), name);
                json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", twin__name(ct),
                                                      "persistentVolumeClaim", "claimName", claim));
                free(claim);
            }
            AS_CAUSED_BY(t, key, create_pod(t, sts, tmpl, name, extra, NULL, NULL));
            json_decref(tmpl);
            json_decref(extra);
            free(name);
            if (!parallel) {
                all_ready = 0;
                break;
            }
            continue;
        }
        int ready = twin__pod_ready(cur);
        json_decref(cur);
        free(name);
        if (!parallel && !ready) {
            all_ready = 0;
            break;
        }
    }

    /* rolling update: highest ordinal first, one at a time, down to the partition */
    if (!on_delete && all_ready && !acted_this_tick(t, key)) {
        for (long ord = start + replicas - 1; ord >= start + partition; ord--) {
            char *name = twin_xasprintf("%s-%ld", twin__name(sts), ord);
            json_t *cur = twin__get(t, "Pod", twin__ns(sts), name);
            free(name);
            if (!cur)
                continue;
            const char *h = twin__str(cur, "metadata.labels.controller-revision-hash");
            json_t *labels = twin__path(cur, "metadata.labels");
            h = json_string_value(json_object_get(labels, "controller-revision-hash"));
            if (h && strcmp(h, revision)) {
                AS_CAUSED_BY(t, key, delete_pod(t, cur));
                mark_acted(t, key);
                json_decref(cur);
                twin__enqueue(t, "StatefulSet", twin__ns(sts), twin__name(sts));
                break;
            }
            json_decref(cur);
        }
    }

    pods = owned_pods(t, sts);
    long ready = count_ready(pods), updated = 0;
    json_array_foreach(pods, i, p) {
        json_t *labels = twin__path(p, "metadata.labels");
        const char *h = json_string_value(json_object_get(labels, "controller-revision-hash"));
        if (h && !strcmp(h, revision))
            updated++;
    }
    json_t *next = copy_to_write(sts, COPY_STATUS);
    json_t *st = twin__path_make(next, "status");
    set_int(st, "observedGeneration", twin__int(sts, "metadata.generation", 1));
    set_int(st, "replicas", (long)json_array_size(pods));
    set_int(st, "readyReplicas", ready);
    set_int(st, "availableReplicas", ready);
    set_int(st, "currentReplicas", updated);
    set_int(st, "updatedReplicas", updated);
    json_object_set_new(st, "updateRevision", json_string(revision));
    AS_CAUSED_BY(t, key, put_if_changed(t, sts, next));
    json_decref(next);
    json_decref(pods);
    free(revision);
}

/* ---- DaemonSet ---- */

/* nodeShouldRunDaemonPod: affinity and nodeSelector match, no untolerated
 * NoSchedule/NoExecute taint (DaemonSet pods tolerate unschedulable and the
 * not-ready/unreachable taints, k8s-api-facts §3.5). */
static int should_run(const json_t *spec, const json_t *node, int existing)
{
    if (!affinity_matches(spec, node))
        return 0;
    if (untolerated(node, spec, 0, 1, NULL))
        return 0;
    if (!existing && untolerated(node, spec, 1, 0, NULL))
        return 0;
    return 1;
}

static void reconcile_daemonset(twin *t, json_t *ds, const char *key)
{
    if (twin__path(ds, "metadata.deletionTimestamp"))
        return;
    sched_load(t);
    json_t *tmpl = twin__path(ds, "spec.template");
    json_t *spec = json_object_get(tmpl, "spec");
    char *hash = twin__template_hash(tmpl);
    json_t *pods = owned_pods(t, ds);
    twin_map by_node = {0};
    size_t i;
    json_t *p;
    int unready = 0;
    json_array_foreach(pods, i, p) {
        const char *nn = twin__str(p, "spec.nodeName");
        if (!nn)
            continue;
        if (twin_map_has(&by_node, nn)) {   /* duplicates: keep one */
            AS_CAUSED_BY(t, key, delete_pod(t, p));
            continue;
        }
        twin_map_put(&by_node, nn, p);
        if (!twin__pod_ready(p))
            unready++;
    }
    long desired = 0, updated = 0;
    TWIN_MAP_FOREACH(&t->sched, e) {
        twin_sched_node *n = e->value;
        json_t *pod = twin_map_get(&by_node, n->name);
        int run = should_run(spec, n->node, pod != NULL);
        if (run)
            desired++;
        if (run && !pod) {
            json_t *extra = json_pack("{s:s, s:s}", "controller-revision-hash", hash, "pod-template-generation", "1");
            char *sfx = twin__rand_suffix(t, 5);
            char *name = twin_xasprintf("%s-%s", twin__name(ds), sfx);
            AS_CAUSED_BY(t, key, create_pod(t, ds, tmpl, name, extra, n->name, NULL));
            free(name);
            free(sfx);
            json_decref(extra);
            unready++;
        } else if (!run && pod) {
            AS_CAUSED_BY(t, key, delete_pod(t, pod));
            twin_map_del(&by_node, n->name);
        }
    }
    /* pods on nodes that no longer exist */
    TWIN_MAP_FOREACH(&by_node, e) {
        if (!twin_map_has(&t->sched, e->key)) {
            AS_CAUSED_BY(t, key, delete_pod(t, e->value));
            e->value = NULL;
        }
    }
    /* rolling update, maxUnavailable 1: replace one old pod when all are Ready */
    TWIN_MAP_FOREACH(&by_node, e) {
        json_t *pod = e->value;
        if (!pod)
            continue;
        json_t *labels = twin__path(pod, "metadata.labels");
        const char *h = json_string_value(json_object_get(labels, "controller-revision-hash"));
        if (h && !strcmp(h, hash)) {
            updated++;
            continue;
        }
        if (unready == 0 && !acted_this_tick(t, key)) {
            AS_CAUSED_BY(t, key, delete_pod(t, pod));
            mark_acted(t, key);
            twin__enqueue(t, "DaemonSet", twin__ns(ds), twin__name(ds));
            unready++;
        }
    }
    twin_map_clear(&by_node, NULL);
    json_decref(pods);
    pods = owned_pods(t, ds);
    long ready = count_ready(pods);
    json_t *next = copy_to_write(ds, COPY_STATUS);
    json_t *st = twin__path_make(next, "status");
    set_int(st, "desiredNumberScheduled", desired);
    set_int(st, "currentNumberScheduled", (long)json_array_size(pods));
    set_int(st, "numberReady", ready);
    set_int(st, "numberAvailable", ready);
    set_int(st, "numberMisscheduled", 0);   /* the twin binds a DaemonSet's pods to their own nodes only */
    set_int(st, "updatedNumberScheduled", updated);
    set_int(st, "observedGeneration", twin__int(ds, "metadata.generation", 1));
    AS_CAUSED_BY(t, key, put_if_changed(t, ds, next));
    json_decref(next);
    json_decref(pods);
    free(hash);
}

/* ---- Job ---- */

static void reconcile_job(twin *t, json_t *job, const char *key)
{
    if (twin__path(job, "metadata.deletionTimestamp"))
        return;
    long completions = twin__int(job, "spec.completions", 1);
    long parallelism = twin__int(job, "spec.parallelism", 1);
    long succeeded = twin__int(job, "status.succeeded", 0);
    int suspended = json_is_true(twin__path(job, "spec.suspend"));
    json_t *pods = owned_pods(t, job);
    long want = suspended ? 0 : completions - succeeded;
    if (want > parallelism)
        want = parallelism;
    if (want < 0)
        want = 0;
    long have = (long)json_array_size(pods);
    AS_CAUSED_BY(t, key, {
        for (long i = have; i < want; i++) {
            char *sfx = twin__rand_suffix(t, 5);
            char *name = twin_xasprintf("%s-%s", twin__name(job), sfx);
            json_t *extra = json_pack("{s:s, s:s}", "job-name", twin__name(job), "batch.kubernetes.io/job-name",
                                      twin__name(job));
            create_pod(t, job, twin__path(job, "spec.template"), name, extra, NULL, NULL);
            json_decref(extra);
            free(name);
            free(sfx);
        }
        if (have > want) {
            delete_victims(t, job, pods, have - want);
        }
    });
    json_decref(pods);
    pods = owned_pods(t, job);
    json_t *next = copy_to_write(job, COPY_STATUS);
    json_t *st = twin__path_make(next, "status");
    set_int(st, "active", (long)json_array_size(pods));
    set_int(st, "ready", count_ready(pods));
    AS_CAUSED_BY(t, key, put_if_changed(t, job, next));
    json_decref(next);
    json_decref(pods);
}

/* ---- Service -> Endpoints ---- */

static json_t *resolve_port(const json_t *svc_port, const json_t *pod)
{
    json_t *tp = json_object_get(svc_port, "targetPort");
    if (json_is_integer(tp))
        return json_incref(tp);
    if (!json_is_string(tp))
        return json_incref(json_object_get(svc_port, "port"));
    const char *proto = json_string_value(json_object_get(svc_port, "protocol")) ?: "TCP";
    size_t i, k;
    json_t *c, *cp;
    json_array_foreach(twin__path(pod, "spec.containers"), i, c) {
        json_array_foreach(json_object_get(c, "ports"), k, cp) {
            const char *n = json_string_value(json_object_get(cp, "name"));
            const char *cproto = json_string_value(json_object_get(cp, "protocol")) ?: "TCP";
            if (n && !strcmp(n, json_string_value(tp)) && !strcmp(cproto, proto))
                return json_incref(json_object_get(cp, "containerPort"));
        }
    }
    /* a numeric string is a port number too */
    const char *s = json_string_value(tp);
    if (*s >= '0' && *s <= '9')
        return json_integer(atol(s));
    return NULL;
}

/* ---- the disruption controller (pkg/controller/disruption) ---- */

void twin__pdb_counts(twin *t, const json_t *pdb, long *expected, long *healthy, long *desired)
{
    twin_selector *sel = NULL;
    char serr[128];
    *expected = *healthy = *desired = 0;
    if (twin_selector_from_json(&sel, twin__path(pdb, "spec.selector"), serr, sizeof serr) < 0)
        return;
    json_t *pods = twin__list_selector(t, "Pod", twin__ns(pdb), sel);
    twin_selector_free(sel);
    size_t k;
    json_t *p;
    json_array_foreach(pods, k, p) {
        if (!twin__pod_active(p))
            continue;
        (*expected)++;
        *healthy += twin__pod_ready(p);
    }
    json_decref(pods);
    json_t *min = twin__path(pdb, "spec.minAvailable"), *maxu = twin__path(pdb, "spec.maxUnavailable");
    int v = 0;
    if (min && twin_intstr_scaled(min, (int)*expected, 1, &v) == 0)
        *desired = v;
    else if (maxu && twin_intstr_scaled(maxu, (int)*expected, 1, &v) == 0)
        *desired = *expected - v > 0 ? *expected - v : 0;
}

/* A budget's status, as the disruption controller writes it: the counts,
 * how many pods may go now, and the DisruptionAllowed condition.
 * (Simplified: expectedPods counts the selected active pods, not the
 * scale of their controllers; disruptedPods stays empty.) */
static void reconcile_pdb(twin *t, const json_t *pdb, const char *key)
{
    long expected, healthy, desired;
    twin__pdb_counts(t, pdb, &expected, &healthy, &desired);
    long allowed = healthy - desired > 0 ? healthy - desired : 0;
    json_t *next = copy_to_write(pdb, COPY_STATUS);
    json_t *st = twin__path_make(next, "status");
    set_int(st, "observedGeneration", twin__int(pdb, "metadata.generation", 1));
    set_int(st, "expectedPods", expected);
    set_int(st, "currentHealthy", healthy);
    set_int(st, "desiredHealthy", desired);
    set_int(st, "disruptionsAllowed", allowed);
    char *ts = twin__timestamp(t);
    set_condition(next, "DisruptionAllowed", allowed > 0 ? "True" : "False",
                  allowed > 0 ? "SufficientPods" : "InsufficientPods", "", ts);
    free(ts);
    AS_CAUSED_BY(t, key, put_if_changed(t, pdb, next));
    json_decref(next);
}

static void reconcile_service(twin *t, const char *ns, const char *name, const char *key)
{
    json_t *svc = twin__get(t, "Service", ns, name);
    json_t *ep = twin__get(t, "Endpoints", ns, name);
    if (!svc) {
        /* the endpoints controller removes the Endpoints of a deleted Service */
        if (ep && twin__path(ep, "metadata.labels.endpoints\\.airlock/managed") == NULL)
            AS_CAUSED_BY(t, key, twin__del(t, "Endpoints", ns, name));
        json_decref(ep);
        return;
    }
    json_t *selmap = twin__path(svc, "spec.selector");
    if (json_object_size(selmap) == 0) {   /* no selector: Endpoints are the user's */
        json_decref(svc);
        json_decref(ep);
        return;
    }
    twin_selector *sel = NULL;
    twin_selector_from_map(&sel, selmap);
    json_t *pods = twin__list_selector(t, "Pod", ns, sel);
    twin_selector_free(sel);
    int publish = json_is_true(twin__path(svc, "spec.publishNotReadyAddresses"));
    json_t *svc_ports = twin__path(svc, "spec.ports");
    json_t *subsets = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        const char *ip = twin__str(p, "status.podIP");
        if (!ip || !twin__pod_active(p))
            continue;
        /* every service port resolved on this pod (FindPort): a pod on which
         * none resolves is no endpoint at all (a named targetPort its
         * containers do not declare), and pods resolving to different
         * numbers go to different subsets, as RepackSubsets groups them */
        json_t *ports = json_array();
        size_t k;
        json_t *sp;
        json_array_foreach(svc_ports, k, sp) {
            json_t *port = resolve_port(sp, p);
            if (!port)
                continue;
            json_t *entry = json_pack("{s:o, s:s}", "port", port, "protocol",
                                      json_string_value(json_object_get(sp, "protocol")) ?: "TCP");
            if (json_object_get(sp, "name"))
                json_object_set(entry, "name", json_object_get(sp, "name"));
            json_array_append_new(ports, entry);
        }
        if (json_array_size(svc_ports) && !json_array_size(ports)) {
            json_decref(ports);
            continue;
        }
        json_t *sub = NULL, *s;
        json_array_foreach(subsets, k, s) {
            if (json_equal(json_object_get(s, "ports"), ports)) {
                sub = s;
                break;
            }
        }
        if (!sub) {
            sub = json_pack("{s:o}", "ports", ports);
            json_array_append_new(subsets, sub);
        } else {
            json_decref(ports);
        }
        const char *field = publish || twin__pod_ready(p) ? "addresses" : "notReadyAddresses";
        json_t *list = json_object_get(sub, field);
        if (!list) {
            list = json_array();
            json_object_set_new(sub, field, list);
        }
        json_array_append_new(list, json_pack("{s:s, s:s?, s:{s:s, s:s, s:s, s:s?}}", "ip", ip, "nodeName",
                                              twin__str(p, "spec.nodeName"), "targetRef", "kind", "Pod",
                                              "namespace", ns, "name", twin__name(p), "uid", twin__uid(p)));
    }
    json_decref(pods);

    json_t *next = ep ? copy_to_write(ep, 0) : NULL;   /* its subsets are replaced below */
    if (!next) {
        char *uid = twin__uuid(t), *ts = twin__timestamp(t);
        next = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Endpoints", "metadata",
                         "name", name, "namespace", ns, "uid", uid, "creationTimestamp", ts);
        free(uid);
        free(ts);
        json_t *labels = twin__path(svc, "metadata.labels");
        if (labels)
            json_object_set_new(json_object_get(next, "metadata"), "labels", json_deep_copy(labels));
    }
    json_object_set_new(next, "subsets", subsets);
    AS_CAUSED_BY(t, key, put_if_changed(t, ep, next));
    json_decref(next);
    json_decref(svc);
    json_decref(ep);
}

/* ---- the service account controller (pkg/controller/serviceaccount) ----
 * Every namespace that is not terminating has a ServiceAccount "default";
 * a deleted one comes back.  (Since 1.24 no token Secret goes with it.) */
static void reconcile_namespace(twin *t, const char *name, const char *key)
{
    json_t *ns = twin__get(t, "Namespace", "", name);
    json_t *sa = ns ? twin__get(t, "ServiceAccount", name, "default") : NULL;
    if (ns && !sa && !twin__path(ns, "metadata.deletionTimestamp")) {
        /* unique: the namespace's uid and the version now */
        char *seed = twin_xasprintf("ServiceAccount/%s/%s/%lld", twin__uid(ns) ?: name, name, t->rv);
        char *uid = twin__uuid_of(seed), *ts = twin__timestamp(t);
        free(seed);
        json_t *next = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
                                 "metadata", "name", "default", "namespace", name, "uid", uid, "creationTimestamp", ts);
        free(uid);
        free(ts);
        AS_CAUSED_BY(t, key, twin__put(t, next));
        json_decref(next);
    }
    json_decref(sa);
    json_decref(ns);
}

/* ---- HPA (bounds only) ---- */

static void reconcile_hpa(twin *t, json_t *hpa, const char *key)
{
    json_t *ref = twin__path(hpa, "spec.scaleTargetRef");
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (!kind || !name)
        return;
    json_t *target = twin__get(t, kind, twin__ns(hpa), name);
    if (!target)
        return;
    long cur = replicas_of(target);
    long min = twin__int(hpa, "spec.minReplicas", 1), max = twin__int(hpa, "spec.maxReplicas", cur);
    long want = cur;
    /* reconcileAutoscaler's order: 0 replicas with min != 0 disables scaling */
    if (cur == 0 && min != 0)
        want = 0;
    else if (cur > max)
        want = max;
    else if (cur < min)
        want = min;
    if (want != cur) {
        twin__event(t, hpa, "Normal", "SuccessfulRescale", "horizontal-pod-autoscaler", "New size: %ld; reason: %s",
                    want, want < cur ? "Current number of replicas above Spec.MaxReplicas"
                                     : "Current number of replicas below Spec.MinReplicas");
        json_t *next = copy_to_write(target, COPY_SPEC);
        json_object_set_new(twin__path_make(next, "spec"), "replicas", json_integer(want));
        json_t *meta = twin__path_make(next, "metadata");
        json_object_set_new(meta, "generation", json_integer(twin__int(target, "metadata.generation", 1) + 1));
        AS_CAUSED_BY(t, key, twin__put(t, next));
        json_decref(next);
    }
    json_t *next = copy_to_write(hpa, COPY_STATUS);
    json_t *st = twin__path_make(next, "status");
    set_int(st, "currentReplicas", cur);
    set_int(st, "desiredReplicas", want);
    /* the conditions the HPA controller always sets; the twin has no
     * metrics, so it scales only into [minReplicas, maxReplicas] */
    char *ts = twin__timestamp(t);
    set_condition(next, "AbleToScale", "True", "SucceededGetScale",
                  "the HPA controller was able to get the target's current scale", ts);
    set_condition(next, "ScalingActive", "False", "FailedGetResourceMetric",
                  "the twin has no resource metrics: the replicas are kept within minReplicas and maxReplicas", ts);
    set_condition(next, "ScalingLimited", want != cur ? "True" : "False",
                  want != cur ? (want < cur ? "TooManyReplicas" : "TooFewReplicas") : "DesiredWithinRange",
                  want != cur ? "the desired replica count is outside the range" : "the desired count is within the "
                                                                                    "acceptable range",
                  ts);
    free(ts);
    AS_CAUSED_BY(t, key, put_if_changed(t, hpa, next));
    json_decref(next);
    json_decref(target);
}

/* ---- per-namespace caches ---- */

typedef struct svc_entry {
    char *name;
    twin_selector *sel;
} svc_entry;

typedef struct ns_cache {
    svc_entry *v;
    size_t n;
} ns_cache;

static void svc_cache_free(void *p)
{
    ns_cache *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].name);
        twin_selector_free(c->v[i].sel);
    }
    free(c->v);
    free(c);
}

static void hpa_cache_free(void *p) { json_decref(p); }

void twin__caches_drop(twin *t)
{
    twin_map_clear(&t->svc_cache, svc_cache_free);
    twin_map_clear(&t->hpa_cache, hpa_cache_free);
    twin_map_clear(&t->pdb_cache, svc_cache_free);
}

void twin__caches_drop_ns(twin *t, const char *ns)
{
    svc_cache_free(twin_map_del(&t->svc_cache, ns));
    hpa_cache_free(twin_map_del(&t->hpa_cache, ns));
    svc_cache_free(twin_map_del(&t->pdb_cache, ns));
}

/* The objects of a kind in a namespace that select pods, with their
 * compiled selectors: Services (spec.selector, a map; none selects
 * nothing) or PodDisruptionBudgets (spec.selector, a LabelSelector). */
static ns_cache *selectors_of(twin *t, twin_map *cache, const char *kind, const char *ns)
{
    ns_cache *c = twin_map_get(cache, ns);
    if (c)
        return c;
    c = twin_xcalloc(1, sizeof(*c));
    json_t *objs = twin__list(t, kind, ns);
    int svc = !strcmp(kind, "Service");
    size_t i;
    json_t *s;
    c->v = twin_xcalloc(json_array_size(objs) + 1, sizeof(svc_entry));
    json_array_foreach(objs, i, s) {
        json_t *selector = twin__path(s, "spec.selector");
        twin_selector *sel = NULL;
        char serr[128];
        if (svc ? json_object_size(selector) == 0 : !json_is_object(selector))
            continue;
        if (svc)
            twin_selector_from_map(&sel, selector);
        else if (twin_selector_from_json(&sel, selector, serr, sizeof serr) < 0)
            continue;
        c->v[c->n].name = twin_xstrdup(twin__name(s));
        c->v[c->n].sel = sel;
        c->n++;
    }
    json_decref(objs);
    twin_map_put(cache, ns, c);
    return c;
}

/* The Services of a namespace with their compiled selectors. */
static ns_cache *services_of(twin *t, const char *ns)
{
    return selectors_of(t, &t->svc_cache, "Service", ns);
}

/* [name, target kind, target name] of each HPA of a namespace. */
static json_t *hpas_of(twin *t, const char *ns)
{
    json_t *c = twin_map_get(&t->hpa_cache, ns);
    if (c)
        return c;
    c = json_array();
    json_t *hpas = twin__list(t, "HorizontalPodAutoscaler", ns);
    size_t i;
    json_t *h;
    json_array_foreach(hpas, i, h) {
        json_t *ref = twin__path(h, "spec.scaleTargetRef");
        const char *k = json_string_value(json_object_get(ref, "kind"));
        const char *n = json_string_value(json_object_get(ref, "name"));
        if (k && n)
            json_array_append_new(c, json_pack("[sss]", twin__name(h), k, n));
    }
    json_decref(hpas);
    twin_map_put(&t->hpa_cache, ns, c);
    return c;
}

static void enqueue_hpas_for(twin *t, const char *kind, const char *ns, const char *name)
{
    json_t *hpas = hpas_of(t, ns);
    size_t i;
    json_t *h;
    json_array_foreach(hpas, i, h) {
        if (!strcmp(json_string_value(json_array_get(h, 1)), kind) &&
            !strcmp(json_string_value(json_array_get(h, 2)), name))
            twin__enqueue(t, "HorizontalPodAutoscaler", ns, json_string_value(json_array_get(h, 0)));
    }
}

/* ---- Node: deletion and NoExecute taints evict ---- */

static void reconcile_node(twin *t, const char *name, const char *key)
{
    json_t *node = twin__get(t, "Node", NULL, name);
    json_t *pods = twin__pods_on_node(t, name);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        int evict;
        if (!node) {
            evict = 1;   /* the pod GC removes pods bound to a node that is gone */
        } else {
            int with_seconds = 0;
            evict = untolerated(node, json_object_get(p, "spec"), 0, 1, &with_seconds) != NULL;
            if (!evict && with_seconds && t->settling)
                evict = 1;
            else if (!evict && with_seconds)
                run_later(t, key);   /* tolerationSeconds run out before the settled state */
        }
        if (evict)
            AS_CAUSED_BY(t, key, delete_pod(t, p));
    }
    json_decref(pods);
    json_decref(node);
}

/* ---- Pod: scheduling ---- */

static void reconcile_pod(twin *t, json_t *pod)
{
    if (!twin__pod_active(pod) || twin__str(pod, "spec.nodeName"))
        return;
    char why[512] = "";
    twin_sched_node *n = schedule(t, pod, why, sizeof why);   /* reads the pod only */
    if (!n && unschedulable_already(pod, why))
        return;   /* a pod that stays unschedulable: the copy would be equal */
    json_t *next = copy_to_write(pod, COPY_SPEC | COPY_STATUS);   /* binding sets spec.nodeName and status */
    bind_pod_to(t, next, n, why);
    put_if_changed(t, pod, next);
    json_decref(next);
}

/* ---- garbage collection ---- */

static int owner_alive(twin *t, const char *uid)
{
    sqlite3_stmt *st = twin__stmt(t, 30, "SELECT 1 FROM objects WHERE uid=? LIMIT 1");
    sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
    int alive = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return alive;
}

static void collect_garbage(twin *t, const char *uid, const char *parent)
{
    json_t *deps = twin__list_owned(t, uid);
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        int orphan_left = 0;
        size_t k;
        json_t *ref;
        json_array_foreach(twin__path(d, "metadata.ownerReferences"), k, ref) {
            const char *u = json_string_value(json_object_get(ref, "uid"));
            if (u && strcmp(u, uid) && owner_alive(t, u))
                orphan_left = 1;
        }
        if (orphan_left) {
            /* other owners remain: only the dangling reference goes */
            json_t *next = json_deep_copy(d);
            json_t *refs = twin__path(next, "metadata.ownerReferences");
            for (size_t j = json_array_size(refs); j-- > 0;) {
                const char *u = json_string_value(json_object_get(json_array_get(refs, j), "uid"));
                if (u && !strcmp(u, uid))
                    json_array_remove(refs, j);
            }
            AS_CAUSED_BY(t, parent, twin__put(t, next));
            json_decref(next);
        } else {
            AS_CAUSED_BY(t, parent, twin__delete_object(t, d, "Background"));
        }
    }
    json_decref(deps);
}

void twin__delete_object(twin *t, const json_t *obj, const char *propagation)
{
    const char *kind = twin__kind(obj), *ns = twin__ns(obj), *name = twin__name(obj);
    char *key = obj_key(obj);
    if (!strcmp(kind, "Namespace")) {
        twin__delete_namespace(t, obj);
        free(key);
        return;
    }
    if (propagation && !strcmp(propagation, "Orphan")) {
        json_t *deps = twin__list_owned(t, twin__uid(obj));
        size_t i;
        json_t *d;
        json_array_foreach(deps, i, d) {
            json_t *next = json_deep_copy(d);
            json_t *refs = twin__path(next, "metadata.ownerReferences");
            for (size_t j = json_array_size(refs); j-- > 0;) {
                const char *u = json_string_value(json_object_get(json_array_get(refs, j), "uid"));
                if (u && !strcmp(u, twin__uid(obj)))
                    json_array_remove(refs, j);
            }
            if (json_array_size(refs) == 0)
                json_object_del(twin__path(next, "metadata"), "ownerReferences");
            AS_CAUSED_BY(t, key, twin__put(t, next));
            json_decref(next);
        }
        json_decref(deps);
    } else if (propagation && !strcmp(propagation, "Foreground")) {
        json_t *deps = twin__list_owned(t, twin__uid(obj));
        size_t i;
        json_t *d;
        json_array_foreach(deps, i, d) AS_CAUSED_BY(t, key, twin__delete_object(t, d, "Foreground"));
        json_decref(deps);
    }
    /* Background (and what Foreground left): the GC follows the owner refs */
    twin__del(t, kind, ns, name);
    free(key);
}

static const char *WORKLOAD_FIRST[] = {"CronJob", "Deployment", "StatefulSet", "DaemonSet", "Job",
                                       "ReplicaSet", "HorizontalPodAutoscaler", NULL};

void twin__delete_namespace(twin *t, const json_t *ns_obj)
{
    const char *ns = twin__name(ns_obj);
    char *key = obj_key(ns_obj);
    AS_CAUSED_BY(t, key, {
        /* Controllers first so nothing recreates what is being removed (1.32
         * leaves the order unspecified; the settled result is the same). */
        for (int k = 0; WORKLOAD_FIRST[k]; k++) {
            json_t *objs = twin__list(t, WORKLOAD_FIRST[k], ns);
            size_t i;
            json_t *o;
            json_array_foreach(objs, i, o) twin__del(t, WORKLOAD_FIRST[k], ns, twin__name(o));
            json_decref(objs);
        }
        sqlite3_stmt *st = twin__stmt(t, 31, "SELECT kind, name FROM objects WHERE ns=? ORDER BY kind, name");
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_TRANSIENT);
        json_t *rest = json_array();
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(rest, json_pack("[ss]", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1)));
        sqlite3_reset(st);
        size_t i;
        json_t *kn;
        json_array_foreach(rest, i, kn) twin__del(t, json_string_value(json_array_get(kn, 0)), ns,
                                                  json_string_value(json_array_get(kn, 1)));
        json_decref(rest);
    });
    twin__del(t, "Namespace", NULL, ns);
    free(key);
}

/* ---- notify: what each write makes controllers look at ---- */

static void enqueue_owner(twin *t, const json_t *obj)
{
    json_t *ref = twin__controller_ref(obj);
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (kind && name)
        twin__enqueue(t, kind, twin__ns(obj), name);
}

static void enqueue_services_for_pod(twin *t, const json_t *pod)
{
    ns_cache *c = services_of(t, twin__ns(pod));
    json_t *labels = twin__path(pod, "metadata.labels");
    for (size_t i = 0; i < c->n; i++)
        if (twin_selector_matches(c->v[i].sel, labels))
            twin__enqueue(t, "Service", twin__ns(pod), c->v[i].name);
}

/* Every write of a pod a budget selects changes the budget's counts. */
static void enqueue_pdbs_for_pod(twin *t, const json_t *pod)
{
    ns_cache *c = selectors_of(t, &t->pdb_cache, "PodDisruptionBudget", twin__ns(pod));
    json_t *labels = twin__path(pod, "metadata.labels");
    for (size_t i = 0; i < c->n; i++)
        if (twin_selector_matches(c->v[i].sel, labels))
            twin__enqueue(t, "PodDisruptionBudget", twin__ns(pod), c->v[i].name);
}

static void enqueue_all(twin *t, const char *kind)
{
    sqlite3_stmt *st = twin__stmt(t, 29, "SELECT ns, name FROM objects WHERE kind=?");
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
    json_t *keys = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(keys, json_pack("[ss]", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1)));
    sqlite3_reset(st);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) twin__enqueue(t, kind, json_string_value(json_array_get(k, 0)),
                                                 json_string_value(json_array_get(k, 1)));
    json_decref(keys);
}

static void kubelet_events(twin *t, const json_t *pod, int start);

void twin__notify(twin *t, const char *kind, const json_t *before, const json_t *after)
{
    if (twin_aws_kind(kind)) {   /* AWS resources have controllers of their own (aws.c) and no dependents to collect */
        twin__aws_notify(t, kind, before, after);
        return;
    }
    const json_t *obj = after ? after : before;
    const char *ns = twin__ns(obj), *name = twin__name(obj);
    if (!strcmp(kind, "Pod")) {
        sched_account(t, before, -1);
        sched_account(t, after, +1);
        if (before && !after && twin__pod_ready(before))
            kubelet_events(t, before, 0);   /* its containers are stopped */
        if (before)
            enqueue_owner(t, before);
        if (after)
            enqueue_owner(t, after);
        if (before)
            enqueue_services_for_pod(t, before);
        if (after && (!before || !json_equal(twin__path(before, "metadata.labels"), twin__path(after, "metadata.labels"))))
            enqueue_services_for_pod(t, after);
        if (before)
            enqueue_pdbs_for_pod(t, before);
        if (after)
            enqueue_pdbs_for_pod(t, after);
        if (after && !twin__str(after, "spec.nodeName") && twin__pod_active(after))
            twin__enqueue(t, "Pod", ns, name);
    } else if (!strcmp(kind, "ReplicaSet") || !strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet") ||
               !strcmp(kind, "DaemonSet") || !strcmp(kind, "Job")) {
        if (after)
            twin__enqueue(t, kind, ns, name);
        if (obj)
            enqueue_owner(t, obj);
        if (after && strcmp(kind, "DaemonSet") && strcmp(kind, "Job"))
            enqueue_hpas_for(t, kind, ns, name);
    } else if (!strcmp(kind, "Service")) {
        svc_cache_free(twin_map_del(&t->svc_cache, ns));
        twin__enqueue(t, "Service", ns, name);
    } else if (!strcmp(kind, "PodDisruptionBudget")) {
        svc_cache_free(twin_map_del(&t->pdb_cache, ns));
        if (after)
            twin__enqueue(t, kind, ns, name);
    } else if (!strcmp(kind, "HorizontalPodAutoscaler")) {
        hpa_cache_free(twin_map_del(&t->hpa_cache, ns));
        if (after)
            twin__enqueue(t, kind, ns, name);
    } else if (!strcmp(kind, "Namespace")) {
        if (after)
            twin__enqueue(t, "Namespace", "", name);
    } else if (!strcmp(kind, "ServiceAccount")) {
        if (!after && name && !strcmp(name, "default"))
            twin__enqueue(t, "Namespace", "", ns);
    } else if (!strcmp(kind, "Node")) {
        if (t->sched_loaded) {
            sched_node_free(twin_map_del(&t->sched, name));
            if (after)
                sched_add_node(t, after);
        }
        twin__enqueue(t, "Node", "", name);
        enqueue_all(t, "DaemonSet");
        /* unscheduled pods may fit now */
        json_t *pending = twin__pods_on_node(t, "");
        size_t i;
        json_t *p;
        json_array_foreach(pending, i, p) twin__enqueue(t, "Pod", twin__ns(p), twin__name(p));
        json_decref(pending);
    }
    /* garbage collection of dependents of anything deleted */
    if (before && !after && twin__uid(before) && *twin__uid(before)) {
        char *parent = obj_key(before);
        push(t, twin_xasprintf("~gc %s %s", twin__uid(before), parent));
        free(parent);
    }
}

/* ---- the run loop ---- */

static void reconcile_key(twin *t, const char *key)
{
    if (t->trace)
        fprintf(stderr, "airlock twin: %s reconcile %s\n", t->settling ? "settle" : "instant", key);
    if (!strncmp(key, "~gc ", 4)) {
        char *uid = twin_xstrdup(key + 4);
        char *sp = strchr(uid, ' ');
        const char *parent = "";
        if (sp) {
            *sp = '\0';
            parent = sp + 1;
        }
        collect_garbage(t, uid, parent);
        free(uid);
        return;
    }
    char *copy = twin_xstrdup(key);
    char *s1 = strchr(copy, '/');
    char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2) {
        free(copy);
        return;
    }
    *s1 = *s2 = '\0';
    const char *kind = copy, *ns = s1 + 1, *name = s2 + 1;
    if (twin_aws_kind(kind)) {
        twin__aws_reconcile(t, kind, name);
    } else if (!strcmp(kind, "Service")) {
        reconcile_service(t, ns, name, key);
    } else if (!strcmp(kind, "Namespace")) {
        reconcile_namespace(t, name, key);
    } else if (!strcmp(kind, "Node")) {
        reconcile_node(t, name, key);
    } else if (!strcmp(kind, "HorizontalPodAutoscaler") && !t->settling) {
        /* the HPA acts on its next sync, after the instant */
        twin_map_put(&t->acted, key, (void *)(intptr_t)-1);
    } else {
        json_t *obj = twin__get(t, kind, ns, name);
        if (obj) {
            if (!strcmp(kind, "ReplicaSet"))
                reconcile_replicaset(t, obj, key);
            else if (!strcmp(kind, "Deployment"))
                reconcile_deployment(t, obj, key);
            else if (!strcmp(kind, "StatefulSet"))
                reconcile_statefulset(t, obj, key);
            else if (!strcmp(kind, "DaemonSet"))
                reconcile_daemonset(t, obj, key);
            else if (!strcmp(kind, "Job"))
                reconcile_job(t, obj, key);
            else if (!strcmp(kind, "HorizontalPodAutoscaler"))
                reconcile_hpa(t, obj, key);
            else if (!strcmp(kind, "PodDisruptionBudget"))
                reconcile_pdb(t, obj, key);
            else if (!strcmp(kind, "Pod"))
                reconcile_pod(t, obj);
            json_decref(obj);
        }
    }
    free(copy);
}

static int drain(twin *t, long *pops, char *err, size_t errlen)
{
    char *key;
    while ((key = pop(t))) {
        if (++*pops > MAX_POPS) {
            free(key);
            snprintf(err, errlen, "cannot simulate: the controllers did not converge after %d steps", MAX_POPS);
            return -1;
        }
        reconcile_key(t, key);
        free(key);
    }
    return 0;
}

/* The kubelet's Events of a pod's containers: pulled, created and started
 * (start), or stopped as the pod goes.  (Simplified: the image is always
 * present on the node; no Pulling.) */
static void kubelet_events(twin *t, const json_t *pod, int start)
{
    size_t i;
    json_t *c;
    json_array_foreach(twin__path(pod, "spec.containers"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *image = json_string_value(json_object_get(c, "image"));
        if (!name)
            continue;
        if (!start) {
            twin__event(t, pod, "Normal", "Killing", "kubelet", "Stopping container %s", name);
            continue;
        }
        twin__event(t, pod, "Normal", "Pulled", "kubelet", "Container image \"%s\" already present on machine",
                    image ? image : "");
        twin__event(t, pod, "Normal", "Created", "kubelet", "Created container %s", name);
        twin__event(t, pod, "Normal", "Started", "kubelet", "Started container %s", name);
    }
}

/* Pods this operation created or changed that are scheduled and waiting:
 * their containers start. Returns how many became Ready. */
static int start_pods(twin *t)
{
    json_t *ready = json_array();
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (strcmp(c->kind, "Pod") || !c->after)
            continue;
        if (!twin__pod_active(c->after) || !twin__str(c->after, "spec.nodeName") || twin__pod_ready(c->after))
            continue;
        /* a pod that was already placed and not Ready before (crash-looping in
         * the snapshot, say) does not heal because the operation touched it;
         * but a pod recreated under the same name (a StatefulSet's ordinal)
         * is a new pod, with a new uid, and starts */
        if (c->before && twin__str(c->before, "spec.nodeName") &&
            !strcmp(twin__uid(c->before) ?: "", twin__uid(c->after) ?: ""))
            continue;
        json_array_append_new(ready, copy_to_write(c->after, COPY_STATUS));   /* make_ready changes status only */
    }
    size_t i;
    json_t *p;
    json_array_foreach(ready, i, p) {
        make_ready(t, p);
        twin__put_shared(t, p);   /* our own copy, not touched again */
        kubelet_events(t, p, 1);
    }
    int n = (int)json_array_size(ready);
    json_decref(ready);
    return n;
}

int twin__run_controllers(twin *t, int settle, char *err, size_t errlen)
{
    long pops = 0;
    if (!settle) {
        t->settling = 0;
        t->tick = 0;
        return drain(t, &pops, err, errlen);
    }
    t->settling = 1;
    /* HPAs deferred during the instant take their turn now */
    TWIN_MAP_FOREACH(&t->acted, e) {
        if ((intptr_t)e->value == -1)
            push(t, twin_xstrdup(e->key));
    }
    for (t->tick = 1; t->tick < MAX_TICKS; t->tick++) {
        TWIN_MAP_FOREACH(&t->later, e) push(t, twin_xstrdup(e->key));
        twin_map_clear(&t->later, NULL);
        if (drain(t, &pops, err, errlen) < 0)
            return -1;
        /* pods start, and AWS resources take their next step (pending ->
         * running, targets initial -> healthy), until nothing moves */
        int moved = start_pods(t);
        moved += twin__aws_settle_tick(t);
        if (moved == 0 && t->qhead == t->qlen && t->later.count == 0)
            break;
    }
    twin_map_clear(&t->acted, NULL);
    twin_map_clear(&t->later, NULL);
    t->settling = 0;
    if (t->tick >= MAX_TICKS) {
        snprintf(err, errlen, "cannot simulate: the cluster did not settle after %d rounds", MAX_TICKS);
        return -1;
    }
    return 0;
}
