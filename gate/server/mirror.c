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

/* The informer's report of each change production made (under the engine
 * lock): drift, logged and recorded, unless a mutation this gate forwarded
 * explains it (drift.h). */
void gate_mirror_observe(void *ud, const char *type, const json_t *before, const json_t *after)
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
