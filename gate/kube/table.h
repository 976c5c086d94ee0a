/*
 * table.h - server-side printing: the meta.k8s.io/v1 Table that `kubectl get`
 * asks for (Accept: application/json;as=Table;v=v1;g=meta.k8s.io), with the
 * columns and cells the Kubernetes 1.32 API server prints for each built-in
 * kind (pkg/printers/internalversion/printers.go; k8s-api-facts.md section 6).
 *
 * Invariants:
 *   - every row has exactly one cell per column definition, in order;
 *   - the priority-1 (-o wide) columns and their cells are always present, as
 *     the API server always prints with Wide set and leaves kubectl to hide
 *     them; so no cell is clipped the way a narrow client-side print would;
 *   - a kind without a printer in Kubernetes (Role, ClusterRole, LimitRange)
 *     gets the apiserver's default convertor: Name and Created At (type date,
 *     RFC 3339 UTC); a kind unknown here (a CRD) gets Name and Age;
 *   - each row's object is the item's PartialObjectMetadata (kubectl's
 *     default includeObject=Metadata); rows of Succeeded/Failed pods carry a
 *     Completed row condition, as Kubernetes sets.
 * Cells read the object as stored and apply no API defaulting of their own,
 * except where serve.c already did (Deployment/ReplicaSet/StatefulSet replicas
 * 1, Service type ClusterIP, Secret type Opaque, Namespace phase Active, Pod
 * and PVC phase Pending).  Quantities print as the object spells them, not in
 * apimachinery's canonical form.
 *
 * Ownership (jansson): arguments are borrowed and never kept; the returned
 * Table is a new reference the caller must json_decref.  No function fails:
 * missing or mistyped fields print as Kubernetes prints their zero value.
 */
#ifndef GATE_TABLE_H
#define GATE_TABLE_H

#include <jansson.h>
#include <time.h>

/*
 * The Table for `obj`, one object or a JSON array of objects of `kind` (the
 * kind's name, e.g. "Deployment"; NULL is treated as an unknown kind). Ages
 * are measured from the current time.
 */
json_t *gate_table(const char *kind, const json_t *obj);

/* The same, with ages (AGE, LAST SEEN, DURATION, ...) measured from `now`:
 * deterministic output for tests. */
json_t *gate_table_at(const char *kind, const json_t *obj, time_t now);

#endif
