/*
 * drift.c - what production changed behind the gate's back (see drift.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gate/ops/drift.h"
#include "twin/util.h"

enum { CHANGED_MAX = 8, DEPTH_MAX = 6 };

struct gate_drift {
    pthread_mutex_t mu;
    size_t capacity;
    double window;
    json_t *kept;       /* drift records, oldest first */
    long total;
    twin_map expected;  /* "Kind/ns/name" -> the time production took it (a double, malloc'd) */
};

gate_drift *gate_drift_new(size_t capacity, double window)
{
    gate_drift *g = twin_xcalloc(1, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    g->capacity = capacity ? capacity : 1;
    g->window = window;
    g->kept = json_array();
    return g;
}

void gate_drift_free(gate_drift *g)
{
    if (!g)
        return;
    twin_map_clear(&g->expected, free);
    json_decref(g->kept);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

static char *key3(const char *kind, const char *ns, const char *name)
{
    return twin_xasprintf("%s/%s/%s", kind ? kind : "", ns ? ns : "", name ? name : "");
}

void gate_drift_expect(gate_drift *g, const char *kind, const char *ns, const char *name, double now)
{
    if (!g || !kind || !name)
        return;
    char *key = key3(kind, ns, name);
    double *at = twin_xmalloc(sizeof *at);
    *at = now;
    pthread_mutex_lock(&g->mu);
    free(twin_map_put(&g->expected, key, at));
    /* the map stays small: what is older than the window goes, now and then */
    if (g->expected.count > 256 && g->expected.count % 64 == 0) {
        twin_map keep = {0};
        TWIN_MAP_FOREACH(&g->expected, e) {
            if (*(double *)e->value >= now - g->window)
                twin_map_put(&keep, e->key, e->value);
            else
                free(e->value);
        }
        twin_map_clear(&g->expected, NULL);
        g->expected = keep;
    }
    pthread_mutex_unlock(&g->mu);
    free(key);
}

/* under mu */
static int expected(gate_drift *g, const char *kind, const char *ns, const char *name, double now)
{
    char *key = key3(kind, ns, name);
    const double *at = twin_map_get(&g->expected, key);
    free(key);
    return at && *at >= now - g->window;
}

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(obj, a), b));
}

/* The controller owner reference of obj, or NULL. */
static const json_t *controller_of(const json_t *obj)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, ref)
        if (json_is_true(json_object_get(ref, "controller")))
            return ref;
    return NULL;
}

/* under mu: the object, its controller, or its controller's controller was
 * the object of a forwarded mutation; or its namespace was */
static int explained(gate_drift *g, twin *t, const char *kind, const json_t *obj, double now)
{
    const char *ns = str_at(obj, "metadata", "namespace"), *name = str_at(obj, "metadata", "name");
    if (expected(g, kind, ns, name, now) || (ns && expected(g, "Namespace", NULL, ns, now)))
        return 1;
    const json_t *ref = controller_of(obj);
    if (!ref)
        return 0;
    const char *ok = json_string_value(json_object_get(ref, "kind")), *on = json_string_value(json_object_get(ref, "name"));
    if (!ok || !on)
        return 0;
    if (expected(g, ok, ns, on, now))
        return 1;
    /* the owner's owner: a Deployment's ReplicaSet's pods */
    json_t *owner = twin_kind_by_name(t, ok) ? twin_get(t, TWIN_AFTER, ok, ns, on) : NULL;
    const json_t *up = owner ? controller_of(owner) : NULL;
    int hit = up && expected(g, json_string_value(json_object_get(up, "kind")), ns,
                             json_string_value(json_object_get(up, "name")), now);
    json_decref(owner);
    return hit;
}

json_t *gate_drift_substance(const json_t *obj)
{
    json_t *c = json_deep_copy(obj);
    json_object_del(c, "status");
    json_t *m = json_object_get(c, "metadata");
    static const char *const meta[] = {"resourceVersion", "managedFields", "generation"};
    for (size_t i = 0; i < sizeof meta / sizeof *meta; i++)
        json_object_del(m, meta[i]);
    json_t *ann = json_object_get(m, "annotations");
    static const char *const kept[] = {"deployment.kubernetes.io/revision", "deployment.kubernetes.io/desired-replicas",
                                       "deployment.kubernetes.io/max-replicas"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        json_object_del(ann, kept[i]);
    if (ann && !json_object_size(ann))
        json_object_del(m, "annotations");
    return c;
}

/* The dotted paths where a and b differ (objects compared key by key,
 * anything else whole), at most CHANGED_MAX. */
static void differ(const json_t *a, const json_t *b, const char *path, int depth, json_t *out)
{
    if (json_array_size(out) >= CHANGED_MAX || json_equal(a, b))
        return;
    if (!json_is_object(a) || !json_is_object(b) || depth >= DEPTH_MAX) {
        json_array_append_new(out, json_string(*path ? path : "(whole)"));
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v) {
        char *p = *path ? twin_xasprintf("%s.%s", path, k) : twin_xstrdup(k);
        differ(v, json_object_get(b, k), p, depth + 1, out);
        free(p);
    }
    json_object_foreach((json_t *)b, k, v) {
        if (json_object_get(a, k))
            continue;
        char *p = *path ? twin_xasprintf("%s.%s", path, k) : twin_xstrdup(k);
        differ(NULL, v, p, depth + 1, out);
        free(p);
    }
}

json_t *gate_drift_observe(gate_drift *g, twin *t, const char *type, const json_t *before, const json_t *after,
                           double now)
{
    const json_t *obj = after ? after : before;
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!g || !kind)
        return NULL;
    /* reports, not changes */
    if (!strcmp(kind, "Event") || !strcmp(kind, "Lease") || !strcmp(kind, "Endpoints"))
        return NULL;
    json_t *changed = json_array();
    if (before && after) {
        json_t *a = gate_drift_substance(before), *b = gate_drift_substance(after);
        differ(a, b, "", 0, changed);
        json_decref(a);
        json_decref(b);
        if (!json_array_size(changed)) {
            json_decref(changed);
            return NULL;
        }
    }
    pthread_mutex_lock(&g->mu);
    if (explained(g, t, kind, obj, now)) {
        pthread_mutex_unlock(&g->mu);
        json_decref(changed);
        return NULL;
    }
    const char *ns = str_at(obj, "metadata", "namespace");
    json_t *rec = json_pack("{s:s, s:f, s:s, s:s, s:s?, s:s?, s:s?, s:o}", "type", "drift", "time", now, "event",
                            type, "kind", kind, "namespace", ns && *ns ? ns : NULL, "name",
                            str_at(obj, "metadata", "name"), "resourceVersion",
                            str_at(obj, "metadata", "resourceVersion"), "changed", changed);
    if (rec) {
        json_array_append(g->kept, rec);
        while (json_array_size(g->kept) > g->capacity)
            json_array_remove(g->kept, 0);
        g->total++;
    }
    pthread_mutex_unlock(&g->mu);
    return rec;
}

json_t *gate_drift_list(gate_drift *g, double since)
{
    json_t *items = json_array();
    pthread_mutex_lock(&g->mu);
    size_t i;
    json_t *r;
    json_array_foreach(g->kept, i, r)
        if (json_real_value(json_object_get(r, "time")) >= since)
            json_array_append(items, r);
    json_t *out = json_pack("{s:I, s:o}", "total", (json_int_t)g->total, "items", items);
    pthread_mutex_unlock(&g->mu);
    return out;
}
