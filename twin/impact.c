/*
 * impact.c - what an operation did, measured: the change records (diff) and
 * the impact record of DESIGN.md, at the instant and once settled.
 *
 * Everything here walks the change map of the open operation plus a few
 * indexed lookups, so the cost follows the size of the change, never the size
 * of the cluster: the committed totals (cost, pods) are kept incrementally.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "twin_int.h"

static int ready_addresses(const json_t *ep)
{
    int n = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(ep, "subsets"), i, s) n += (int)json_array_size(json_object_get(s, "addresses"));
    return n;
}

static long count_ready_in_group(twin *t, const char *ns, const char *grp)
{
    sqlite3_stmt *st = twin__stmt(t, 28, "SELECT count(*) FROM objects WHERE ns=? AND grp=? AND ready=1");
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, grp, -1, SQLITE_TRANSIENT);
    long n = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

typedef struct group_delta {
    char *ns, *grp;
    long before_ready;   /* ready pods of the group among the changed, before */
    long after_ready;    /* ... now */
} group_delta;

static void group_delta_free(void *p)
{
    group_delta *g = p;
    free(g->ns);
    free(g->grp);
    free(g);
}

static group_delta *group_of(twin_map *m, const char *ns, const char *grp)
{
    char *key = twin_xasprintf("%s/%s", ns, grp);
    group_delta *g = twin_map_get(m, key);
    if (!g) {
        g = twin_xcalloc(1, sizeof(*g));
        g->ns = twin_xstrdup(ns);
        g->grp = twin_xstrdup(grp);
        twin_map_put(m, key, g);
    }
    free(key);
    return g;
}

static int is_workload_kind(const char *k)
{
    return !strcmp(k, "Deployment") || !strcmp(k, "StatefulSet") || !strcmp(k, "DaemonSet") ||
           !strcmp(k, "ReplicaSet") || !strcmp(k, "Job");
}

static long desired_of(const json_t *w)
{
    if (!w)
        return 0;
    if (!strcmp(twin__kind(w), "DaemonSet"))
        return twin__int(w, "status.desiredNumberScheduled", 0);
    if (!strcmp(twin__kind(w), "Job"))
        return twin__int(w, "spec.parallelism", 1);
    return twin__int(w, "spec.replicas", 1);
}

/* An object deleted and created again under the same name within the
 * operation (a StatefulSet's pod on a rollout) keeps one change record, but
 * to Kubernetes it is two objects: its uid changed. */
static int replaced(const twin_change *c)
{
    return c->before && c->after && strcmp(twin__uid(c->before) ?: "", twin__uid(c->after) ?: "");
}

json_t *twin__impact_moment(twin *t)
{
    json_t *pods = json_array(), *emptied = json_array(), *degraded = json_array();
    twin_map groups = {0};
    double delta = 0;
    int pending = 0;   /* pods the operation left unscheduled */

    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (c->before)
            delta -= twin__change_cost(t, c, 0);
        if (c->after)
            delta += twin__change_cost(t, c, 1);
        if (!strcmp(c->kind, "Pod")) {
            int was = c->before && twin__pod_ready(c->before);
            int is = c->after && twin__pod_ready(c->after);
            pending += c->after && twin__pod_active(c->after) && !twin__str(c->after, "spec.nodeName");
            if (was && (!is || replaced(c))) {
                char *ref = twin_xasprintf("%s/%s", c->ns, c->name);
                json_array_append_new(pods, json_string(ref));
                free(ref);
            }
            if (c->before) {
                char *g = twin__pod_group(c->before);
                group_of(&groups, c->ns, g)->before_ready += was;
                free(g);
            }
            if (c->after) {
                char *g = twin__pod_group(c->after);
                group_of(&groups, c->ns, g)->after_ready += is;
                free(g);
            }
        } else if (!strcmp(c->kind, "Endpoints")) {
            int before = c->before ? ready_addresses(c->before) : 0;
            int after = c->after ? ready_addresses(c->after) : 0;
            if (before > 0 && after == 0) {
                json_t *svc = twin__get(t, "Service", c->ns, c->name);
                json_array_append_new(emptied, json_pack("{s:s, s:s, s:i, s:i, s:b}", "namespace", c->ns, "name",
                                                         c->name, "ready_before", before, "ready_after", after,
                                                         "deleted", svc == NULL));
                json_decref(svc);
            }
        } else if (is_workload_kind(c->kind) && !(twin__controller_ref(c->after ? c->after : c->before))) {
            char *g = twin_xasprintf("%s/%s", c->kind, c->name);
            group_of(&groups, c->ns, g);
            free(g);
        }
    }

    TWIN_MAP_FOREACH(&groups, e) {
        group_delta *g = e->value;
        long now = count_ready_in_group(t, g->ns, g->grp);
        long before = now - g->after_ready + g->before_ready;
        if (now >= before)
            continue;
        const char *slash = strchr(g->grp, '/');
        if (!slash)
            continue;
        char *kind = twin_xasprintf("%.*s", (int)(slash - g->grp), g->grp);
        const char *name = slash + 1;
        json_t *w = twin__get(t, kind, g->ns, name);
        long desired;
        if (w) {
            desired = desired_of(w);
        } else {
            twin_change *c = twin__change(t, kind, g->ns, name);
            desired = c ? desired_of(c->before) : 0;
        }
        json_array_append_new(degraded, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b}", "kind", kind, "namespace",
                                                  g->ns, "name", name, "ready_before", (int)before, "ready_after",
                                                  (int)now, "desired", (int)desired, "deleted", w == NULL));
        json_decref(w);
        free(kind);
    }
    twin_map_clear(&groups, group_delta_free);

    json_t *m = json_pack("{s:i, s:o, s:i, s:o, s:o, s:{s:f, s:f, s:f}}", "pods_disrupted", (int)json_array_size(pods),
                          "pods", pods, "pods_pending", pending, "services_emptied", emptied, "workloads_degraded",
                          degraded, "cost", "before", t->cost_total, "after", t->cost_total + delta, "delta", delta);
    twin__aws_moment(t, m);
    return m;
}

static int cmp_change(const void *a, const void *b)
{
    const twin_change *x = *(twin_change *const *)a, *y = *(twin_change *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The changes in the order they were first made, net of no-ops (an object
 * created and removed again, or written back to what it was). */
static twin_change **ordered_changes(twin *t, size_t *n)
{
    twin_change **v = twin_xmalloc((t->changes.count + 1) * sizeof(*v));
    *n = 0;
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (!c->before && !c->after)
            continue;
        if (c->before && c->after && json_equal(c->before, c->after))
            continue;
        if (c->quiet)   /* a controller's Event: never a change to judge (events.c) */
            continue;
        v[(*n)++] = c;
    }
    qsort(v, *n, sizeof(*v), cmp_change);
    return v;
}

static const char *op_of(const twin_change *c)
{
    return !c->before ? "create" : !c->after ? "delete" : "update";
}

json_t *twin__diff(twin *t)
{
    size_t n;
    twin_change **v = ordered_changes(t, &n);
    json_t *diff = json_array();
    for (size_t i = 0; i < n; i++) {
        twin_change *c = v[i];
        /* a replaced object is a delete and a create */
        int two = replaced(c);
        for (int k = 0; k <= two; k++) {
            const json_t *before = two && k == 1 ? NULL : c->before, *after = two && k == 0 ? NULL : c->after;
            const char *op = !two ? op_of(c) : k == 0 ? "delete" : "create";
            json_array_append_new(diff, json_pack("{s:s, s:s, s:s?, s:s, s:O?, s:O?, s:s, s:s?}", "op", op, "kind",
                                                  c->kind, "namespace", *c->ns ? c->ns : NULL, "name", c->name,
                                                  "before", before, "after", after, "cause",
                                                  c->parent ? "cascade" : "direct", "parent", c->parent));
        }
    }
    free(v);
    return diff;
}

json_t *twin__impact(twin *t, json_t *instant, json_t *settled)
{
    size_t n;
    twin_change **v = ordered_changes(t, &n);
    json_t *by_kind = json_object(), *by_op = json_pack("{s:i, s:i, s:i}", "create", 0, "update", 0, "delete", 0);
    json_t *nss = json_array();
    twin_map seen = {0};
    for (size_t i = 0; i < n; i++) {
        twin_change *c = v[i];
        json_t *k = json_object_get(by_kind, c->kind);
        if (!k) {
            k = json_object();
            json_object_set_new(by_kind, c->kind, k);
        }
        int two = replaced(c);   /* counted as the diff shows it: a delete and a create */
        for (int j = 0; j <= two; j++) {
            const char *op = !two ? op_of(c) : j == 0 ? "delete" : "create";
            json_object_set_new(k, op, json_integer(json_integer_value(json_object_get(k, op)) + 1));
            json_object_set_new(by_op, op, json_integer(json_integer_value(json_object_get(by_op, op)) + 1));
        }
        const char *ns = *c->ns ? c->ns : (!strcmp(c->kind, "Namespace") ? c->name : NULL);
        if (ns && !twin_map_has(&seen, ns)) {
            twin_map_put(&seen, ns, (void *)1);
            json_array_append_new(nss, json_string(ns));
        }
    }
    free(v);
    twin_map_clear(&seen, NULL);

    json_t *cost = json_incref(json_object_get(settled, "cost"));
    json_t *cost_instant = json_incref(json_object_get(instant, "cost"));
    json_object_del(settled, "cost");
    json_object_del(instant, "cost");
    json_t *impact = json_pack("{s:O, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:{s:i, s:i}}", "pods_disrupted",
                               json_object_get(instant, "pods_disrupted"), "instant", instant, "settled", settled,
                               "namespaces_touched", nss, "cost", cost, "cost_instant", cost_instant,
                               "reachability", twin__reachability(t), "counts", "by_kind", by_kind, "by_op", by_op,
                               "cluster", "running_pods_before", (int)t->pods_ready, "pods_before",
                               (int)t->pods_total);
    twin__aws_impact(t, impact);
    return impact;
}
