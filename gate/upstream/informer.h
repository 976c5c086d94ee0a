/*
 * gate/upstream/informer.h - the twin kept current by production's watches (enforce
 * and shadow mode), as client-go's reflector keeps an informer's store.
 *
 * Each kind production serves was listed once at start (the snapshot the
 * server imported, with each list's resourceVersion); from there a thread
 * per kind WATCHes it (allowWatchBookmarks=true) and applies every event to
 * the twin without running its controllers: production's controllers are
 * real, and their work arrives as events like anyone else's.  A 410 Gone
 * (the version is older than production keeps) lists the kind again; a
 * dropped stream, a 429 or a 5xx waits (0.8 s doubling to 30 s, jittered)
 * and watches again from the last version seen.  Events are ordered against
 * the twin by resourceVersion (twin_sync_event): one seen twice, or older
 * than what the twin holds, changes nothing.
 *
 * Freshness: gate_informer_wait blocks until every watched kind has
 * delivered production's state as of a version (by an event or a bookmark
 * at or past it), or refuses when a bound passes.
 *
 * Kinds are added (gate_informer_add) and retired while it runs: a CRD
 * production establishes or deletes after start.
 *
 * Threads: the informer's own, one per kind; the engine lock given at start
 * is taken while events are applied.  Every function may be called from any
 * thread.
 */
#ifndef GATE_INFORMER_H
#define GATE_INFORMER_H

#include <jansson.h>
#include <pthread.h>

#include "gate/upstream/forward.h"
#include "twin/twin.h"

typedef struct gate_informer gate_informer;

/* Called under the engine lock for each change applied to the twin: type
 * is ADDED, MODIFIED or DELETED; before is what the twin held (NULL for
 * none), after the object now (NULL when deleted).  Borrowed. */
typedef void (*gate_informer_observe)(void *ud, const char *type, const json_t *before, const json_t *after);

typedef struct gate_informer_opts {
    gate_upstream *up;
    twin *twin;
    pthread_rwlock_t *lock;         /* the engine's: held (for writing) while events are applied */
    const json_t *versions;         /* {kind: list resourceVersion}; a kind not in it is not served: not watched */
    gate_informer_observe observe;  /* may be NULL */
    void *ud;
    double backoff_min, backoff_max;   /* seconds; 0: 0.8 and 30 */
    long watch_seconds;             /* timeoutSeconds asked of each watch; 0: 300 to 600, random */
} gate_informer_opts;

/* Starts the watches; -1 with err when no thread could be made. */
int gate_informer_start(gate_informer **out, const gate_informer_opts *o, char *err, size_t errlen);
/* A kind production began to serve after start (a CRD it established,
 * learnt by the twin): listed, then watched, as the others; readiness and
 * freshness wait for it from now on.  1 when a watch started, 0 when the
 * kind is watched already, -1 with err. */
int gate_informer_add(gate_informer *inf, const twin_kind *k, char *err, size_t errlen);
/* A kind production no longer serves (its CRD deleted): its watch ends
 * and nothing waits for it any more.  How many watches were retired. */
int gate_informer_retire(gate_informer *inf, const twin_kind *k);
/* Ends every watch and joins the threads (up to about a second each, in
 * parallel).  NULL is a no-op. */
void gate_informer_stop(gate_informer *inf);

/* Waits until every kind's watch is open (production answered 200), up to
 * timeout seconds: the server starts serving after it.  0, or -1 with err
 * naming a kind still not watched (its mutations wait, then are refused,
 * until it is). */
int gate_informer_ready(gate_informer *inf, double timeout, char *err, size_t errlen);

/* Waits until every watched kind has seen production's state as of
 * resource_version (production's list version, from a probe), up to
 * timeout seconds.  0, or -1 with err naming the kinds behind. */
int gate_informer_wait(gate_informer *inf, const char *resource_version, double timeout, char *err, size_t errlen);

/* Per kind: where its watch stands (new reference): [{kind,
 * resourceVersion, watching, events, bookmarks, relists, errors,
 * last_error}]. */
json_t *gate_informer_status(gate_informer *inf);

#endif
