/*
 * patch.h - the four patch bodies kubectl sends, applied to Kubernetes objects
 * held as jansson values:
 *
 *   application/merge-patch+json            twin_patch_merge      (RFC 7386)
 *   application/json-patch+json             twin_patch_json       (RFC 6902)
 *   application/strategic-merge-patch+json  twin_patch_strategic  (Kubernetes)
 *   application/apply-patch+yaml            twin_patch_apply      (server-side
 *                                           apply, body already parsed to JSON)
 *
 * The strategic merge metadata (which lists merge by which key, which are
 * sets, which maps keep only $retainKeys or are replaced whole) lives in one
 * table in patch.c, taken from api@v0.32.13's patchStrategy/patchMergeKey
 * tags (shared/reference/k8s-api-facts.md section 2).  Pod-spec fields are
 * written once and apply under every pod template: Pod `spec`,
 * `spec.template.spec` of Deployment, ReplicaSet, StatefulSet, DaemonSet, Job
 * and ReplicationController, `spec.jobTemplate.spec.template.spec` of CronJob,
 * `template.spec` of PodTemplate.  ObjectMeta fields (finalizers,
 * ownerReferences) apply to every kind, including kinds the table does not
 * name; every other list of an unnamed kind is replaced.
 *
 * Ownership, for every function below:
 *   - `*doc` is owned by the caller.  On success it may be replaced by a new
 *     value (the old one is json_decref'd) or modified; the caller keeps
 *     owning whatever `*doc` holds afterwards.
 *   - `patch`, `ops`, `applied` and `prev_applied` are borrowed and never
 *     modified; nothing in the result shares structure with them.
 *   - On error the function returns -1, `*doc` is left exactly as it was (the
 *     same pointer, untouched contents: all work happens on a deep copy that
 *     is swapped in only on success), and a human message naming what was
 *     wrong (the JSON pointer or dotted field path, the op index) is written
 *     into `err` (truncated to `errlen`; `err` may be NULL).
 *   Returned strings are static.
 *
 * Limits: patches (and prev_applied) nested deeper than TWIN_PATCH_MAX_DEPTH
 * are rejected before any work; a merged list (keyed or set) may not exceed
 * TWIN_PATCH_MAX_LIST elements, which bounds the quadratic ordering work.
 *
 * Out of memory inside jansson aborts the process (the project's one OOM
 * policy, as twin_xmalloc in util.h).
 */
#ifndef TWIN_PATCH_H
#define TWIN_PATCH_H

#include <jansson.h>
#include <stddef.h>

#define TWIN_PATCH_MAX_DEPTH 200
#define TWIN_PATCH_MAX_LIST 2048

/* RFC 7386 JSON merge patch (application/merge-patch+json).  A patch that is
 * not an object replaces the whole document, as the RFC says. */
int twin_patch_merge(json_t **doc, const json_t *patch, char *err, size_t errlen);

/* RFC 6902 JSON patch (application/json-patch+json): add, remove, replace,
 * move, copy, test; RFC 6901 pointers with ~0 ~1 escapes and "-" for append.
 * Atomic: all ops or none.  Errors name the op by its 0-based index, e.g.
 * `op 2 (remove /spec/foo): path not found`. */
int twin_patch_json(json_t **doc, const json_t *ops, char *err, size_t errlen);

/* Kubernetes strategic merge patch (application/strategic-merge-patch+json)
 * for the object of the given kind (e.g. "Deployment", "Pod", "Service";
 * unknown kinds -> plain merge semantics: lists replaced).  Directives
 * $patch (replace|delete|merge), $retainKeys, $deleteFromPrimitiveList/<f>
 * and $setElementOrder/<f> are applied and never left in the result. */
int twin_patch_strategic(json_t **doc, const json_t *patch, const char *kind, char *err,
                         size_t errlen);

/* Server-side apply's merge (application/apply-patch+yaml, body already
 * parsed to JSON): merge `applied` onto `*doc` using the same list merge
 * keys as strategic merge (lists of maps keyed by their merge key are
 * merged element by element; atomic lists replaced); fields that were
 * present in `prev_applied` (may be NULL) and are absent from `applied` are
 * removed from the result.  Field ownership (who may remove what, and the
 * conflicts) is twin/managed.c's: it calls this with prev_applied NULL. */
int twin_patch_apply(json_t **doc, const json_t *applied, const json_t *prev_applied,
                     const char *kind, char *err, size_t errlen);

/* The strategic merge key for a list field, or NULL if that list is atomic
 * (replaced).  "" (an empty, non-NULL string) means a list of scalars merged
 * as a set (metadata.finalizers, Node spec.podCIDRs).  `path` is the dotted
 * path of the list field inside the object of `kind`, with list elements
 * written as "[]" e.g. "spec.template.spec.containers",
 * "spec.template.spec.containers[].ports", "spec.ports",
 * "metadata.ownerReferences".  `kind` may be NULL (unknown kind).  Exposed so
 * the diff printer and tests can use it. */
const char *twin_patch_merge_key(const char *kind, const char *path);
/* 1 when the map at `path` (as for twin_patch_merge_key) is replaced
 * whole rather than merged (patchStrategy replace: a PodDisruptionBudget's
 * spec.selector). */
int twin_patch_atomic_map(const char *kind, const char *path);

/* A field path as the strategic-merge metadata names it
 * ("spec.template.spec.containers[].ports"), grown and shrunk as a walk
 * descends an object (patch.c, managed.c: the twin's own walks).  A path that outgrows the
 * buffer is truncated: no metadata matches it. */
typedef struct twin_fpath {
    char s[512];
    size_t len;
    int truncated;
} twin_fpath;
typedef struct twin_fmark {
    size_t len;
    int truncated;
} twin_fmark;
/* Into member `field`, or a list element when NULL; the mark to go back to. */
twin_fmark twin__fpath_push(twin_fpath *p, const char *field);
void twin__fpath_pop(twin_fpath *p, twin_fmark m);

#endif
