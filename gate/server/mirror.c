/*
 * mirror.c - the twin as a mirror of production (enforce and shadow mode):
 * the freshness rule before a mutation is judged, and what the informer
 * reports of production's changes (drift, when no forwarded mutation
 * explains them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/base/clock.h"
#include "gate/base/log.h"
#include "gate/server/serve_int.h"

/* The freshness rule (enforce and shadow mode): a mutation is judged on a
 * twin that has seen production's state as of the moment it arrived.  One
 * constant-size probe, a limit=1 list of Namespaces, gives production's
 * resourceVersion now: a consistent list of any kind answers at least the
 * store's current revision (Kubernetes numbers every kind's changes from
 * one etcd revision), and Namespaces are few and always served.  Then the
 * watches must bring the twin there within --fresh-wait seconds
 * (serve_int.h). */
int gate_fresh(server *sv, char *err, size_t errlen)
{
    const twin_kind *k = twin_kind_by_name(sv->engine.twin, "Namespace");
    int absent;
    char *rv = NULL;
    json_t *items = gate_upstream_list_at(sv->up, k, NULL, NULL, NULL, 1, &rv, &absent, err, errlen);
    if (!items) {
        if (absent)
            snprintf(err, errlen, "production did not let the gate list namespaces to learn its current version");
        return -1;
    }
    json_decref(items);
    int rc = gate_informer_wait(sv->informer, rv, sv->fresh_wait, err, errlen);
    free(rv);
    return rc;
}

/* The version of a CRD the API serves its objects by: the storage
 * version if served, else the first served one (NULL: none). */
static const char *crd_version(const json_t *crd)
{
    const char *first = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(crd, "spec"), "versions"), i, v) {
        if (!json_is_true(json_object_get(v, "served")))
            continue;
        const char *name = json_string_value(json_object_get(v, "name"));
        if (name && json_is_true(json_object_get(v, "storage")))
            return name;
        if (name && !first)
            first = name;
    }
    return first;
}

static int crd_established(const json_t *crd)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(crd, "status"), "conditions"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if (type && st && !strcmp(type, "Established"))
            return !strcmp(st, "True");
    }
    return 0;
}

/* A CustomResourceDefinition production established after start: its kind
 * is learnt and watched, so its objects are mirrored and judged like those
 * of the CRDs there at start; a deleted one's watch ends.  (Under the
 * engine lock, from the informer.) */
static void follow_crd(server *sv, const json_t *before, const json_t *after)
{
    const json_t *crd = after ? after : before;
    if (strcmp(json_string_value(json_object_get(crd, "kind")) ?: "", "CustomResourceDefinition"))
        return;
    const json_t *spec = json_object_get(crd, "spec");
    const char *group = json_string_value(json_object_get(spec, "group"));
    const char *plural = json_string_value(json_object_get(json_object_get(spec, "names"), "plural"));
    const char *kind = json_string_value(json_object_get(json_object_get(spec, "names"), "kind"));
    const char *version = crd_version(crd);
    if (!group || !plural || !kind || !version)
        return;
    twin *t = sv->engine.twin;
    const twin_kind *k = twin_kind_by_resource(t, group, plural);
    if (!after || !crd_established(after)) {
        if (k && gate_informer_retire(sv->informer, k))
            gate_log("production no longer serves %s (%s.%s): its watch ends; its objects are refused", kind, plural,
                     group);
        return;
    }
    if (!k) {
        char *gv = twin_xasprintf("%s/%s", group, version);
        k = twin_learn_kind_as(t, gv, kind, plural, !strcmp(json_string_value(json_object_get(spec, "scope")) ?: "",
                                                             "Namespaced"));
        free(gv);
        if (!k) {
            gate_log("production serves %s (%s.%s) now, a kind name the twin has already: not mirrored, refused",
                     kind, plural, group);
            return;
        }
    }
    char err[256];
    int rc = gate_informer_add(sv->informer, k, err, sizeof err);
    if (rc > 0)
        gate_log("production serves %s (%s.%s) now (its CRD was established): mirrored and judged by the generic "
                 "rules",
                 kind, plural, group);
    else if (rc < 0)
        gate_log("production serves %s (%s.%s) now, but it cannot be watched: %s; its objects are refused", kind,
                 plural, group, err);
}

/* The informer's report of each change production made (under the engine
 * lock): a CRD's kind learnt or retired; drift, logged and recorded, unless
 * a mutation this gate forwarded explains it (drift.h). */
void gate_mirror_observe(void *ud, const char *type, const json_t *before, const json_t *after)
{
    server *sv = ud;
    if (sv->informer)
        follow_crd(sv, before, after);
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
