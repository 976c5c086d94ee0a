/*
 * twin.h - the digital twin of a Kubernetes cluster: the public surface.
 *
 * The twin is a SQLite-backed copy of a cluster's objects plus simulated
 * controllers (Deployment -> ReplicaSet -> Pods, StatefulSet, DaemonSet, Job,
 * scheduler, Service -> Endpoints, garbage collection, namespace and node
 * deletion, HPA bounds).  It knows nothing of HTTP, Lua or agents.
 *
 * The life of one operation:
 *
 *     twin_apply(t, &req, &res)   SAVEPOINT; apply the request; run the
 *                                 controllers to the *instant* (no pod has had
 *                                 time to become Ready) and measure; run them
 *                                 to the *settled* state and measure again.
 *     ... judge res.diff / res.impact; read with twin_get/twin_list ...
 *     twin_commit(t) or twin_rollback(t)
 *
 * Between twin_apply and commit/rollback the twin is "in an operation": reads
 * with TWIN_BEFORE see the state the operation started from, TWIN_AFTER the
 * settled state.  Outside an operation both see the current state.
 *
 * Ownership (jansson): arguments are borrowed unless stated; every json_t a
 * function returns is a new reference the caller must json_decref.  Objects
 * returned by twin_get and twin_list may be shared with the twin's document
 * cache: treat them as read-only (json_deep_copy one to change it).
 * Errors: functions return 0 on success and -1 on failure with a message
 * naming what failed (file, line, object) in the caller's buffer.
 * Threads: a twin is used by one thread at a time.
 *
 * Public headers (what the gate may include): twin.h; util.h (the string
 * buffer, the map, allocation that aborts when memory runs out: the base
 * the gate builds on); selector.h (label and field selectors); yaml.h
 * (YAML read into JSON); quantity.h (Kubernetes quantities: the metrics
 * API reads requests).  twin_int.h and patch.h are the twin's own.
 */
#ifndef TWIN_TWIN_H
#define TWIN_TWIN_H

#include <jansson.h>

#include "twin/util.h"
#include <stddef.h>

typedef struct twin twin;

/* ---- kinds ---- */

/* What the twin knows of one kind of object (built-in or learned on import). */
typedef struct twin_kind {
    const char *kind;        /* "Deployment" */
    const char *group;       /* "apps"; "" for the core group */
    const char *version;     /* "v1" */
    const char *resource;    /* "deployments" */
    const char *singular;    /* "deployment" */
    const char *short_names; /* comma-separated, may be "" */
    int namespaced;
    int has_scale;           /* serves the scale subresource */
    int has_status;
    int read_only;           /* production serves it but it cannot be watched (an aggregated API): not mirrored;
                                reads are judged and passed through, writes refused (twin_kind_mark_read_only) */
} twin_kind;

/* Borrowed, valid for the twin's lifetime; NULL when unknown. */
const twin_kind *twin_kind_by_resource(const twin *t, const char *group, const char *resource);
const twin_kind *twin_kind_by_name(const twin *t, const char *kind);
/* Marks a learnt kind read-only (see twin_kind.read_only). */
void twin_kind_mark_read_only(twin *t, const twin_kind *k);
/* Learns a kind the twin has no model of (a CRD named in a manifest), so it
 * can be stored and served as it is; returns the kind (borrowed). */
const twin_kind *twin_learn_kind(twin *t, const char *api_version, const char *kind, int namespaced);
/* The same under the resource name a server serves it by (a CRD's plural);
 * NULL when a kind of that name is served already. */
const twin_kind *twin_learn_kind_as(twin *t, const char *api_version, const char *kind, const char *resource,
                                    int namespaced);
/* The built-in kinds, for discovery: *n receives the count. */
const twin_kind *twin_kinds(size_t *n);
/* Every kind the twin serves: the built-in ones (twin_kinds), then those it
 * learnt (CRDs met in a state or a manifest).  Borrowed; valid while no
 * kind is learnt (the caller's lock). */
size_t twin_kind_count(const twin *t);
const twin_kind *twin_kind_at(const twin *t, size_t i);

/* ---- lifetime ---- */

/* db_path NULL keeps the store in memory. */
int twin_open(twin **out, const char *db_path, char *err, size_t errlen);
void twin_close(twin *t);                     /* NULL is a no-op */
/* A cheap independent copy (SQLite backup of the store), for runners that
 * start many scenarios from one imported state. */
int twin_copy(twin **out, twin *src, char *err, size_t errlen);

/* Prices per hour (fixtures/pricing.json format). Without it, cost is 0. */
int twin_load_pricing(twin *t, const char *path, char *err, size_t errlen);

/* Fixes the clock (seconds since the epoch) used for timestamps; 0 = real time. */
void twin_set_clock(twin *t, double now);

/* ---- import ---- */

/* Imports a file (JSON object, JSON List, or multi-document YAML) or a
 * directory of them (files sorted by name; *.json, *.yaml, *.yml), then
 * reconciles: workloads without pods get their ReplicaSets and pods, Services
 * their Endpoints; all of it settled and committed.  Nothing is kept if any
 * document is malformed. */
int twin_import_path(twin *t, const char *path, char *err, size_t errlen);
/* Reads a file or a directory (as twin_import_path does) into a new array of
 * documents, without importing them; NULL with err naming file:line:col. */
json_t *twin_load_docs(const char *path, char *err, size_t errlen);
/* The same for documents already parsed: an array of objects and/or Lists.
 * The documents are taken as they are and completed in place (identity,
 * defaults): the caller must not rely on them staying unchanged. */
int twin_import_docs(twin *t, json_t *docs, const char *name, char *err, size_t errlen);

/* Replaces what the twin holds of `kind` in namespace ns (NULL or "" = all)
 * by `items`, the complete current list from the source of truth (objects
 * with kind and metadata), without running controllers or recording
 * changes: how the gate's informer lists a kind again (after a 410 Gone). */

int twin_sync(twin *t, const char *kind, const char *ns, json_t *items, char *err, size_t errlen);
/* Following the source of truth change by change (production's watch
 * events), without controllers or change records:
 *     twin_sync_begin(t); twin_sync_event(t, ...) ...; twin_sync_end(t);
 * twin_sync_event applies one event: deleted (a DELETED event) or not
 * (ADDED, MODIFIED: the object as it is now; kind and apiVersion set).
 * Events are ordered by resourceVersion: one older than what the twin holds
 * of the object (or, for a delete, of another object by the same name) is
 * ignored, so an event seen twice, or after a newer read, changes nothing.
 * Returns 1 applied, 0 ignored, -1 with err; *old (may be NULL) receives
 * what the twin held before (new reference, or NULL). */
int twin_sync_begin(twin *t, char *err, size_t errlen);
int twin_sync_event(twin *t, int deleted, json_t *obj, json_t **old, char *err, size_t errlen);
void twin_sync_end(twin *t);
/* With on, imports and syncs keep the resourceVersions their objects carry
 * (production's, in the gate's enforce mode) instead of numbering them, and
 * the twin's counter follows the largest: events can then be ordered
 * against what the twin holds.  Off by default (files, scenarios). */
void twin_keep_versions(twin *t, int on);
/* Compares two resourceVersions as the twin orders them (etcd revisions,
 * decimal): <0, 0, >0; one that is not a decimal number sorts first. */
int twin_rv_cmp(const char *a, const char *b);

/* One page of twin_list, read by its index (committed state, outside an
 * operation): the objects after `after` ("namespace/name" of the previous
 * page's last object; NULL or "" from the first), at most limit (<= 0: all).
 * *next receives the key of this page's last object when more follow (new
 * string), else NULL.  A page costs its own size, not the kind's. */
json_t *twin_list_page(twin *t, const char *kind, const char *ns, const char *label_selector,
                       const char *field_selector, const char *after, long limit, char **next, char *err,
                       size_t errlen);

/* The autoscaling/v1 Scale of a workload object, as GET .../scale answers
 * (new reference). */
json_t *twin_scale_of(const json_t *obj);

/* Every object as a v1 List (new reference). */
json_t *twin_export(twin *t);
/* The same List as JSON text (keys sorted, compact) appended to out, one
 * object parsed at a time: a large twin is never held twice.  each (may be
 * NULL) may change every object before it is written (redaction). */
void twin_export_text(twin *t, void (*each)(json_t *obj, void *ud), void *ud, twin_buf *out);

/* ---- operations ---- */

typedef enum twin_verb {
    TWIN_CREATE = 1,
    TWIN_UPDATE,            /* PUT */
    TWIN_PATCH,
    TWIN_DELETE,
    TWIN_DELETE_COLLECTION,
    TWIN_EVICT,             /* pods/eviction */
    TWIN_TOKEN,             /* serviceaccounts/token: a TokenRequest; changes nothing */
} twin_verb;

typedef enum twin_patch_type {
    TWIN_PATCH_MERGE = 1,   /* application/merge-patch+json */
    TWIN_PATCH_JSON,        /* application/json-patch+json */
    TWIN_PATCH_STRATEGIC,   /* application/strategic-merge-patch+json */
    TWIN_PATCH_APPLY,       /* application/apply-patch+yaml (server-side apply) */
} twin_patch_type;

typedef struct twin_request {
    twin_verb verb;
    const char *kind;            /* resolved kind name, e.g. "Deployment" */
    const char *ns;              /* NULL or "" for cluster-scoped / all */
    const char *name;            /* NULL for collections and create */
    const char *subresource;     /* NULL, "scale" or "status" */
    const json_t *body;          /* object, patch, DeleteOptions; may be NULL */
    twin_patch_type patch_type;
    const char *label_selector;  /* delete-collection */
    const char *field_selector;
    const char *propagation;     /* "Background" | "Foreground" | "Orphan" | NULL */
    const char *field_manager;   /* server-side apply */
    int force;                   /* server-side apply force */
} twin_request;

typedef struct twin_result {
    int code;        /* HTTP status the API server would answer: 200, 201, 404, ... */
    json_t *object;  /* the answer: the object, a Status, or a Scale; new ref */
    json_t *diff;    /* array of change records (DESIGN.md); new ref, NULL on error */
    json_t *impact;  /* impact record; new ref, NULL on error */
    json_t *events;  /* the Events the controllers emitted, as diff records (not in diff: nothing to
                        judge); new ref, an empty array when the twin emits none (twin_set_events) */
} twin_result;

/* Whether the twin's controllers emit Events (events.c); off by default. */
void twin_set_events(twin *t, int on);

/*
 * Simulates one request.  On return 0 the twin is in an operation (commit or
 * roll back) even when res->code is an error status (a 404 has an empty diff).
 * Returns -1 (twin left as before, no operation open) only when the request
 * itself is unusable (err says why).
 */
int twin_apply(twin *t, const twin_request *req, twin_result *res, char *err, size_t errlen);
int twin_commit(twin *t);
int twin_rollback(twin *t);
int twin_in_operation(const twin *t);
/* The twin's invariants: not inside an operation, every lookup index
 * (key columns, labels, owners) saying what the objects' documents say,
 * and each selecting Service's Endpoints listing exactly its ready pods.
 * Returns how many checks failed (0: consistent); *problems (may be NULL)
 * gets a new array of their descriptions. Read-only; for tests, the
 * torture loop and the fuzzers. */
int twin_check(twin *t, json_t **problems);
/* A mark to come back to: operations committed after twin_mark are undone
 * by twin_reset (the store, the totals, the caches), so one twin can run
 * many independent sequences from the same state without copying it. */
int twin_mark(twin *t);
int twin_reset(twin *t);
/* An impact record of an action that changed nothing (new reference). */
json_t *twin_impact_empty(void);
void twin_result_free(twin_result *res);

/* ---- reads ---- */

typedef enum twin_when { TWIN_BEFORE = 0, TWIN_AFTER = 1 } twin_when;

/* One object or NULL. ns NULL or "" for cluster-scoped kinds. */
json_t *twin_get(twin *t, twin_when when, const char *kind, const char *ns, const char *name);
/* A JSON array of objects of kind (ns NULL = all namespaces), filtered by a
 * label selector and a field selector in kubectl syntax (either may be NULL).
 * Returns NULL with err set on a malformed selector. Sorted by namespace, name. */
json_t *twin_list(twin *t, twin_when when, const char *kind, const char *ns,
                  const char *label_selector, const char *field_selector,
                  char *err, size_t errlen);

/* A Kubernetes Status object (new reference) as the API server answers an
 * error: reason NULL takes the usual one for the code. */
json_t *twin_status(int code, const char *reason, const char *message);

/* The last resourceVersion given out: what a LIST answered now reports,
 * and where a watch from it starts. */
long long twin_resource_version(const twin *t);

/* Counts for reports and benchmarks. */
long twin_object_count(twin *t);
/* The cluster's hourly cost now (committed state). */
double twin_cost_total(twin *t);

#endif
