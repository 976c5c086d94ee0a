/*
 * twin_int.h - what the twin's modules share and the outside never sees.
 *
 * Layout of the twin:
 *   store.c        SQLite schema, object reads/writes, indexes (labels,
 *                  owners, pods by node and by workload group), the change
 *                  map of the open operation, before/after views.
 *   model.c        the kind table, object helpers (keys, labels, readiness,
 *                  pod templates, hashes, names), pricing of one object.
 *   controllers.c  the work queue and every simulated controller.
 *   ops.c          requests -> writes: create, update, the four patches,
 *                  delete with propagation, delete-collection, scale, eviction.
 *   impact.c       the impact record, instant and settled.
 *   netpol.c       reachability between workload groups from NetworkPolicies.
 *   import.c       import of Lists, YAML manifests and directories.
 *
 * Invariants:
 *   - Every write goes through twin__put / twin__del, which keep the index
 *     tables in step with the document, bump the global resourceVersion, and
 *     record the change (first `before` wins, `after` always the latest).
 *   - Inside an operation all writes happen under the SAVEPOINT "op"; the
 *     change map plus the current tables are enough to answer any read of the
 *     state before the operation (the overlay), so nothing is copied up front.
 *   - Inside an operation a row's columns are current but its JSON text may
 *     not be: the document is in t->pending until the commit writes it
 *     (twin__docs_flush), so documents are read through the cache, then
 *     t->pending, then the stored text, never the text alone.
 */
#ifndef TWIN_TWIN_INT_H
#define TWIN_TWIN_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "twin.h"
#include "util.h"

/* One object the open operation touched. */
typedef struct twin_change {
    char *kind, *ns, *name;   /* ns is "" for cluster-scoped objects */
    json_t *before;           /* at the start of the operation, NULL if absent */
    json_t *after;            /* now, NULL if deleted */
    char *parent;             /* "Kind/ns/name" of the cause, NULL if direct */
    size_t seq;               /* order of first touch */
    int quiet;                /* only a controller's Event wrote it: not in the diff (events.c) */
    /* the hourly costs of before [0] and after [1], each computed once
     * under the pricing of generation cost_gen (twin__change_cost) */
    double cost[2];
    unsigned cost_known;      /* bit k: cost[k] holds */
    unsigned cost_gen;
} twin_change;

enum { TWIN__NSTMT = 40 };   /* prepared statement slots: store.c 0-23, modules 24-31, hot 34-39 */

/* Above this many replicas the twin refuses to simulate rather than
 * materialise the pods (the gate fails closed on a refusal). */
enum { TWIN_MAX_REPLICAS = 5000 };

typedef struct twin_sched_node twin_sched_node;

struct twin {
    sqlite3 *db;
    sqlite3_stmt *stmts[TWIN__NSTMT];

    long long rv;             /* last resourceVersion handed out */
    uint64_t rng;             /* names and uids: deterministic per twin */
    double clock;             /* 0 = real time */
    long long ts_sec;         /* the second ts_text shows (twin__timestamp) */
    char ts_text[32];

    /* the open operation */
    int in_op;
    long long op_rv;
    uint64_t op_rng;
    twin_map changes;         /* key -> twin_change* */
    size_t change_seq;
    const char *parent;       /* cause of the writes being made now, NULL = direct */

    /* twin_mark/twin_reset: what the committed operations since the mark
     * changed (key -> "kind\x1fns\x1fname") and the totals at the mark */
    int marked;
    twin_map mark_keys;
    long long mark_rv;
    uint64_t mark_rng;
    double mark_cost;
    long mark_ready, mark_total;

    /* controller work queue */
    twin_map queued;          /* key -> (void*)1 */
    char **queue;
    size_t qhead, qlen, qcap;
    int settling;             /* 0 while reaching the instant, 1 after */
    int importing;            /* writes of imported objects: no notify, no record */
    int keep_versions;        /* imports and syncs keep the source's resourceVersions (twin_keep_versions) */
    int trace;                /* AIRLOCK_TRACE=1: each reconcile on stderr */
    int events;               /* controllers emit Events (twin_set_events) */
    int quiet;                /* > 0 while an Event is written: its change is quiet (events.c) */
    int tick;
    twin_map acted;           /* owner key -> tick of its last one-at-a-time step */
    twin_map later;           /* keys to reconcile at the next tick: controllers with
                               * work left that no write will wake (see run_later) */

    /* scheduler cache, dropped at every commit/rollback */
    twin_map sched;           /* node name -> twin_sched_node* */
    /* per-namespace lookups the controllers make on every pod or workload
     * write, so a write costs the same in a big cluster: ns -> json_t* array
     * of Services ([name, compiled selector]) and of HPAs ([name, kind,
     * target]); dropped for a namespace when one of its Services or HPAs is
     * written, and wholesale on rollback */
    twin_map svc_cache, hpa_cache;
    twin_map pdb_cache;       /* ns -> the PodDisruptionBudgets' names and selectors (as svc_cache) */
    twin_map docs;            /* key -> parsed document (store.c), read-only */
    twin_map rows;            /* key -> what the row of a cached document holds (store.c) */
    twin_map owned;           /* owner uid -> keys of what it owns (store.c) */
    char *absent;             /* key twin__get found no row for, until the next write (store.c) */
    twin_map pending;         /* key -> document written in the open operation
                               * whose JSON text is not stored yet (store.c) */
    int sched_loaded;

    json_t *pricing;
    unsigned pricing_gen;     /* bumped by twin_load_pricing: cached costs of older ones are stale */
    twin_buf dump;            /* serialisation buffer of the store's writes */

    /* committed totals (kept in the meta table too) */
    double cost_total;
    long pods_ready, pods_total;

    /* kinds learned from imported objects (CRDs and the like) */
    twin_kind **dyn;           /* kinds learnt (imports, CRDs), each its own block */
    size_t ndyn;

    /* the AWS account the twin models (aws.c): "" until a state names one
     * (twin_aws_account answers the default then); aws_call while
     * twin_aws_apply simulates a call (the impact then has its AWS fields) */
    struct twin_aws_where {
        char account[16], region[32];
        int call;
    } aws;
    /* while twin_aws_sync runs: key -> what the resource was before its
     * first write (a json_t, or the twin_aws_absent marker) */
    twin_map *aws_sync_log;
    /* the committed count of EC2 instances and of those running, for the
     * impact (aws.c): counted once, then kept by each commit; any other
     * change of the store (import, sync, reset, a copy) forgets them */
    long aws_instances, aws_running;
    int aws_counted;
};

/* The marker of a resource absent before a sync wrote it (aws.c). */
extern json_t *const twin_aws_absent;

/* ---- store.c ---- */
int twin__exec(twin *t, const char *sql);
sqlite3_stmt *twin__stmt(twin *t, int slot, const char *sql);
char *twin__key(const char *kind, const char *ns, const char *name);
/* Returns a SHARED document (from the cache): read it, never modify it;
 * json_deep_copy it to make a new version. The same holds for every list. */
json_t *twin__get(twin *t, const char *kind, const char *ns, const char *name);
void twin__docs_drop(twin *t);
/* The document in column col of a result row whose columns 0..2 are kind,
 * ns, name: from the cache or parsed and cached. New (shared) reference. */
json_t *twin__row_doc(twin *t, sqlite3_stmt *st, int col);
void twin__docs_forget(twin *t, const char *kind, const char *ns, const char *name);
/* The cache entry of an object set back to doc (borrowed; NULL: absent), the
 * version the store holds again after a rollback. */
void twin__docs_restore(twin *t, const char *kind, const char *ns, const char *name, json_t *doc);
/* Writes the JSON text of the documents the open operation wrote (once
 * each, the latest version): before the operation is released, and before
 * anything reads the stored text directly (twin_export). */
void twin__docs_flush(twin *t);
/* Forgets them unwritten, and what the owners query answered: with ROLLBACK
 * TO op or mark, which take rows back. */
void twin__docs_discard(twin *t);
/* Writes obj (borrowed) as the current version: bumps resourceVersion (set in
 * obj too), maintains indexes, records the change with t->parent as cause,
 * and notifies the controllers. */
void twin__put(twin *t, json_t *obj);
/* The same without the copy: obj becomes the stored version, shared with
 * the cache; the caller must not modify it afterwards (it may decref it). */
void twin__put_shared(twin *t, json_t *obj);
/* Removes an object; returns 0 if it existed. */
int twin__del(twin *t, const char *kind, const char *ns, const char *name);
/* Lists current objects: by kind (ns NULL = all). New array. */
json_t *twin__list(twin *t, const char *kind, const char *ns);
/* Objects with an ownerReference to uid. */
json_t *twin__list_owned(twin *t, const char *uid);
/* Pods on a node ("" = unscheduled). */
json_t *twin__pods_on_node(twin *t, const char *node);
/* Objects of kind in ns (NULL = all) with label key=value. */
json_t *twin__list_label(twin *t, const char *kind, const char *ns, const char *key, const char *value);
/* Current objects of kind in ns (NULL = all) matching a compiled selector. */
struct twin_selector;
json_t *twin__list_selector(twin *t, const char *kind, const char *ns, const struct twin_selector *sel);
long long twin__next_rv(twin *t);
uint64_t twin__rand(twin *t);
double twin__now(twin *t);
char *twin__timestamp(twin *t);          /* RFC 3339, UTC, new string */

/* ---- managed.c: field ownership (metadata.managedFields) ----
 * manager: the write's field manager, never NULL (ops.c's manager_of).
 * After a write that is not an apply (create: cur NULL; subresource "scale"
 * or NULL): the fields it set or changed become manager's, operation
 * Update, and no one else's; every entry is pruned to what next holds. */
void twin_managed_update(json_t *next, const json_t *cur, const char *kind, const char *manager,
                         const char *subresource, const char *now);
/* Server-side apply of config onto *doc (replaced by the result): 0; 409
 * when fields another manager owns would change, with err the API server's
 * message and *causes its causes (new array), unless force takes them
 * over; -1 with err when config cannot be merged. */
int twin_managed_apply(json_t **doc, const json_t *config, const char *kind, const char *manager, int force,
                       const char *now, json_t **causes, char *err, size_t errlen);
/* An object an apply creates: config's fields are manager's (Apply). */
void twin_managed_applied(json_t *obj, const json_t *config, const char *kind, const char *manager, const char *now);
char *twin__uuid(twin *t);               /* random v4 uuid */
/* A uuid of the same shape made from seed, not from the twin's random
 * stream: for what controllers add beside an import (the default
 * ServiceAccount), so that the names and uids an import generates stay
 * what they were. */
char *twin__uuid_of(const char *seed);
const char *twin__pod_qos(const json_t *pod);   /* BestEffort, Burstable or Guaranteed */
/* events.c: an Event about obj from a controller (component), when the
 * twin emits them; its write is quiet (not in the diff). */
void twin__event(twin *t, const json_t *obj, const char *type, const char *reason, const char *component,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The quiet changes of the operation, as diff records (the Events to tell
 * watchers). */
json_t *twin__quiet_diff(twin *t);
/* The disruption controller's arithmetic for one PodDisruptionBudget: the
 * pods it selects that are active (expected), those Ready (healthy), and
 * how many must stay Ready (desired). */
void twin__pdb_counts(twin *t, const json_t *pdb, long *expected, long *healthy, long *desired);
void twin__digest_hex(const char *s, char out[65]);
void twin__meta_save(twin *t);
void twin__changes_free(twin *t);
twin_change *twin__change(twin *t, const char *kind, const char *ns, const char *name);
/* twin__object_cost of c->before (after 0) or c->after (after 1), 0 if
 * absent: what impact and commit sum, computed once per version. */
double twin__change_cost(twin *t, twin_change *c, int after);

/* ---- model.c ---- */
const char *twin__str(const json_t *obj, const char *path);   /* dotted path; NULL if absent */
json_t *twin__path(const json_t *obj, const char *path);      /* borrowed */
json_t *twin__path_make(json_t *obj, const char *path);       /* creates objects on the way; borrowed; NULL if obj is no object */
long twin__int(const json_t *obj, const char *path, long dflt);
const char *twin__kind(const json_t *obj);
const char *twin__name(const json_t *obj);
const char *twin__ns(const json_t *obj);                      /* "" if none */
const char *twin__uid(const json_t *obj);
int twin__pod_ready(const json_t *pod);
int twin__pod_active(const json_t *pod);   /* not Succeeded/Failed, not deleting */
const char *twin__controller_uid(const json_t *obj);
json_t *twin__controller_ref(const json_t *obj);              /* borrowed */
json_t *twin__owner_ref(const json_t *owner);                 /* new ref */
char *twin__pod_group(const json_t *pod);                     /* "Deployment/web"; new string */
char *twin__template_hash(const json_t *tmpl);                /* 10 chars, new string */
char *twin__rand_suffix(twin *t, int n);                      /* new string */
double twin__object_cost(const twin *t, const json_t *obj);
/* Pod requests summed: cpu cores, memory bytes, gpus. */
void twin__pod_requests(const json_t *pod, double *cpu, double *mem, double *gpu);
json_t *twin__pod_template_spec(const json_t *obj);           /* borrowed, may be NULL */
int twin__json_equal_ignoring(const json_t *a, const json_t *b, const char *ignore_label);
void twin__register_kind(twin *t, const char *api_version, const char *kind, int namespaced);
json_t *twin__status(int code, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- controllers.c ---- */
void twin__enqueue(twin *t, const char *kind, const char *ns, const char *name);
/* Called by twin__put/twin__del for every write. */
void twin__notify(twin *t, const char *kind, const json_t *before, const json_t *after);
/* Runs queued reconciles to a fixpoint (instant) and, if settle, then lets
 * new pods become Ready tick by tick until nothing changes. */
int twin__run_controllers(twin *t, int settle, char *err, size_t errlen);
void twin__sched_drop(twin *t);
void twin__caches_drop(twin *t);
void twin__caches_drop_ns(twin *t, const char *ns);
/* Undoes the scheduler cache's accounting of pods: pairs [after, before]. */
void twin__sched_rollback(twin *t, const json_t *pairs);
/* A Pod or a Node written or removed by a sync (production's change, no
 * controller run): the scheduler's cache follows it, one object's cost,
 * instead of being rebuilt from every pod. */
void twin__sched_sync(twin *t, const char *kind, const json_t *before, const json_t *after);
/* Deletes an object with a propagation policy (Background/Foreground/Orphan). */
void twin__delete_object(twin *t, const json_t *obj, const char *propagation);
/* Deletes every object in a namespace, then the namespace. */
void twin__delete_namespace(twin *t, const json_t *ns_obj);

/* ---- ops.c ---- */
/* An operation opened (SAVEPOINT op) and finished, for twin_apply and
 * twin_aws_apply alike: with rc < 0 rolled back (-1); with res->code >= 400
 * every write undone (an empty diff and impact, the operation left open);
 * else the controllers run to the instant and to the settled state, and
 * res gets the impact, the diff and the events. */
void twin__op_begin(twin *t);
int twin__op_finish(twin *t, int rc, twin_result *res, char *err, size_t errlen);
/* Identity (uid, creationTimestamp, generation) where missing, and the API
 * server's defaults, for an object arriving by import. */
void twin__prepare_import(twin *t, json_t *obj);
/* The checks a create makes (names, labels, replicas, selectors matching
 * templates, containers, quantities); -1 with the API server's message. */
int twin__validate_import(twin *t, const json_t *obj, char *err, size_t errlen);

/* ---- impact.c ---- */
json_t *twin__impact_moment(twin *t);                 /* pods/services/workloads/cost at now */
json_t *twin__impact(twin *t, json_t *instant, json_t *settled);  /* steals both */
json_t *twin__diff(twin *t);
int twin__overlay_before(twin *t, const char *kind, const char *ns, json_t *list_current, json_t *out);

/* ---- netpol.c ---- */
json_t *twin__reachability(twin *t);                  /* {"added":[], "removed":[]} */

#endif
