/*
 * check.c - twin_check: the twin's invariants, for tests, the torture loop
 * and the fuzzers (see twin.h).
 *
 * The store keeps each object's document and, beside it, what lookups
 * need: the key columns (kind, namespace, name, uid), a labels table and an
 * owners table. Every one of those must say what the document says, or a
 * selector or a garbage collection would see another cluster than the one
 * the twin shows. Each check is one SQL query over the store (SQLite's
 * JSON functions read the documents).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "twin_int.h"

/* A pod the endpoints controller counts as ready (twin__pod_ready), or
 * active (twin__pod_active); a Service whose selector selects a pod (every
 * key and value of it among the pod's labels); a Service with a selector,
 * whose Endpoints the controller keeps. */
#define POD_ACTIVE(p)                                                                                               \
    "(coalesce(json_extract(" p ".doc, '$.status.phase'), '') NOT IN ('Succeeded', 'Failed')"                        \
    " AND json_extract(" p ".doc, '$.metadata.deletionTimestamp') IS NULL)"
#define POD_READY(p)                                                                                                \
    "(" POD_ACTIVE(p) " AND json_extract(" p ".doc, '$.status.phase') = 'Running' AND"                               \
    " (SELECT json_extract(c.value, '$.status') FROM json_each(" p ".doc, '$.status.conditions') c"                  \
    " WHERE json_extract(c.value, '$.type') = 'Ready' LIMIT 1) = 'True')"
#define SELECTS(s, p)                                                                                               \
    "NOT EXISTS (SELECT 1 FROM json_each(" s ".doc, '$.spec.selector') k WHERE NOT EXISTS"                         \
    " (SELECT 1 FROM labels l WHERE l.id = " p ".id AND l.key = k.key AND l.value = k.value))"
#define MANAGED(s) "EXISTS (SELECT 1 FROM json_each(" s ".doc, '$.spec.selector'))"

static const struct {
    const char *what;
    const char *sql;   /* counts the violations */
} CHECKS[] = {
    {"an object whose key columns differ from its document (kind, name, namespace or uid)",
     "SELECT count(*) FROM objects WHERE json_valid(doc) = 0"
     " OR json_extract(doc, '$.kind') IS NOT kind"
     " OR json_extract(doc, '$.metadata.name') IS NOT name"
     " OR coalesce(json_extract(doc, '$.metadata.namespace'), '') IS NOT ns"
     " OR json_extract(doc, '$.metadata.uid') IS NOT uid"},
    {"a label of an object's document missing from the label index",
     "SELECT count(*) FROM (SELECT o.id, o.kind, o.ns, j.key, j.value FROM objects o,"
     " json_each(o.doc, '$.metadata.labels') j WHERE j.type = 'text'"
     " EXCEPT SELECT id, kind, ns, key, value FROM labels)"},
    {"a row of the label index that no object's labels hold",
     "SELECT count(*) FROM (SELECT id, kind, ns, key, value FROM labels EXCEPT"
     " SELECT o.id, o.kind, o.ns, j.key, j.value FROM objects o,"
     " json_each(o.doc, '$.metadata.labels') j WHERE j.type = 'text')"},
    {"an owner reference of an object's document missing from the owner index",
     "SELECT count(*) FROM (SELECT json_extract(j.value, '$.uid'), o.id FROM objects o,"
     " json_each(o.doc, '$.metadata.ownerReferences') j WHERE json_extract(j.value, '$.uid') IS NOT NULL"
     " EXCEPT SELECT uid, id FROM owners)"},
    {"a row of the owner index that no object's owner references hold",
     "SELECT count(*) FROM (SELECT uid, id FROM owners EXCEPT SELECT json_extract(j.value, '$.uid'), o.id"
     " FROM objects o, json_each(o.doc, '$.metadata.ownerReferences') j)"},
    {"two objects with one uid", "SELECT count(*) FROM (SELECT uid FROM objects GROUP BY uid HAVING count(*) > 1)"},
    /* the endpoints controller's work, both ways (a Service without a
     * selector has Endpoints of its user's, not checked) */
    {"an address of a Service's Endpoints whose pod is gone, has another IP, is not selected or is not ready",
     "SELECT count(*) FROM objects e JOIN objects s ON s.kind = 'Service' AND s.ns = e.ns AND s.name = e.name,"
     " json_each(e.doc, '$.subsets') sub, json_each(sub.value, '$.addresses') a"
     " WHERE e.kind = 'Endpoints' AND " MANAGED("s") " AND NOT EXISTS (SELECT 1 FROM objects p"
     " WHERE p.kind = 'Pod' AND p.ns = e.ns AND p.uid = json_extract(a.value, '$.targetRef.uid')"
     " AND json_extract(p.doc, '$.status.podIP') = json_extract(a.value, '$.ip') AND " SELECTS("s", "p")
     " AND (" POD_READY("p") " OR (json_extract(s.doc, '$.spec.publishNotReadyAddresses') = 1 AND "
     POD_ACTIVE("p") ")))"},
    {"a ready pod with an IP that its Service selects and whose Endpoints do not list (with that IP)",
     "SELECT count(*) FROM objects s JOIN objects p ON p.kind = 'Pod' AND p.ns = s.ns"
     " WHERE s.kind = 'Service' AND " MANAGED("s") " AND " SELECTS("s", "p") " AND " POD_READY("p")
     " AND json_extract(p.doc, '$.status.podIP') IS NOT NULL"
     /* a named targetPort the pod does not declare leaves it out: not judged here */
     " AND NOT EXISTS (SELECT 1 FROM json_each(s.doc, '$.spec.ports') sp"
     " WHERE json_type(sp.value, '$.targetPort') = 'text')"
     " AND NOT EXISTS (SELECT 1 FROM objects e, json_each(e.doc, '$.subsets') sub,"
     " json_each(sub.value, '$.addresses') a WHERE e.kind = 'Endpoints' AND e.ns = s.ns AND e.name = s.name"
     " AND json_extract(a.value, '$.targetRef.uid') = p.uid"
     " AND json_extract(a.value, '$.ip') = json_extract(p.doc, '$.status.podIP'))"},
};

int twin_check(twin *t, json_t **problems)
{
    json_t *out = json_array();
    /* inside an operation the store holds work in progress (the indexes
     * are brought up to date as the operation settles): only that is said */
    if (twin_in_operation(t))
        json_array_append_new(out, json_string("the twin is inside an operation (neither committed nor rolled back)"));
    int busy = json_array_size(out) > 0;
    for (size_t i = 0; !busy && i < sizeof CHECKS / sizeof *CHECKS; i++) {
        sqlite3_stmt *st = NULL;
        long long n = -1;
        if (sqlite3_prepare_v2(t->db, CHECKS[i].sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (n < 0) {   /* (a check that cannot run is a problem too) */
            json_array_append_new(out, json_sprintf("the check for %s could not run: %s", CHECKS[i].what,
                                                    sqlite3_errmsg(t->db)));
        } else if (n > 0) {
            json_array_append_new(out, json_sprintf("%lld times: %s", n, CHECKS[i].what));
        }
    }
    int count = (int)json_array_size(out);
    if (problems)
        *problems = out;
    else
        json_decref(out);
    return count;
}
