/*
 * gate/ops/drift.h - changes production made that did not come through the gate.
 *
 * The informer reports every change production's watches bring (gate/
 * informer.h).  One is *explained*, and not drift, when it is
 *   - the object of a mutation this gate forwarded and production took, in
 *     the window after it (production's own event for it);
 *   - the work of production's controllers on such an object: an object
 *     whose controller owner (or the owner's owner) is one, or anything in
 *     a namespace the gate deleted;
 *   - a report, not a change: status, resourceVersion, managedFields and
 *     the counters controllers keep; and the kinds that are only reports
 *     (Events, Leases, Endpoints).
 * Everything else is drift: kept (the last `capacity`), counted, and handed
 * back for the audit log.
 *
 * Threads: every function may be called from any thread (one mutex).
 */
#ifndef GATE_DRIFT_H
#define GATE_DRIFT_H

#include <jansson.h>

#include "twin/twin.h"

typedef struct gate_drift gate_drift;

/* capacity: drift records kept; window: seconds after a forwarded mutation
 * during which production's events for it (and its controllers' work) are
 * explained by it. */
gate_drift *gate_drift_new(size_t capacity, double window);
void gate_drift_free(gate_drift *g);   /* NULL is a no-op */

/* A mutation the gate forwarded and production took, on kind/ns/name (ns
 * NULL or "" for cluster-scoped). */
void gate_drift_expect(gate_drift *g, const char *kind, const char *ns, const char *name, double now);

/* One change production made (the informer's observation: type ADDED,
 * MODIFIED or DELETED, what the twin held and what it holds now, either
 * NULL).  t looks up owners (call under the engine lock).  Returns the
 * drift record (new reference: {type: "drift", time, event, kind,
 * namespace, name, resourceVersion, changed: [paths]}), kept and counted,
 * or NULL when the change is explained. */
json_t *gate_drift_observe(gate_drift *g, twin *t, const char *type, const json_t *before, const json_t *after,
                           double now);

/* obj without what controllers and the API server keep moving (status,
 * resourceVersion, managedFields, generation, the revision annotations):
 * what a change by a client is made of. New reference. */
json_t *gate_drift_substance(const json_t *obj);

/* The drift records at or after since (0: all kept), oldest first, and the
 * count since start: {total, items: [...]} (new reference). */
json_t *gate_drift_list(gate_drift *g, double since);

#endif
