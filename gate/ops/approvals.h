/*
 * gate/ops/approvals.h - pending approvals and the kill switch, kept in SQLite
 * (<data-dir>/gate.db) so that both survive a restart.
 *
 * An approval is made from a `review` decision: the whole decision (the
 * request with Secret values redacted, the diff, the impact, each policy's
 * reason), the agent, the time, and the fingerprint of the action (agent +
 * canonical effect, gate_fingerprint).  Its life:
 *
 *   pending --approve--> approved --the agent's retry--> used
 *      |  \--deny------> denied
 *      \--TTL----------> expired      approved --approved TTL--> expired
 *   approved/pending --impact changed beyond the tolerance--> pending again,
 *      with "previous" (the impact and diff it was requested with)
 *
 * Documents are the JSON the API serves (the approval "A" of /airlock/v1).
 * Not thread-safe: the server calls under its own lock.
 *
 * One agent cannot crowd out the others: it may have at most max_pending
 * approvals pending at a time (GATE_APPROVALS_MAX_PENDING unless set), and
 * the list filters by state before it takes its newest 500 rows.
 */
#ifndef GATE_APPROVALS_H
#define GATE_APPROVALS_H

#include <jansson.h>
#include <stddef.h>

#include "gate/kube/redact.h"

typedef struct gate_approvals gate_approvals;

/* The pending approvals (unexpired) one agent may have at a time, unless
 * gate_approvals_set_max_pending says otherwise.  More than a person works
 * through in one sitting; an agent that needs more is looping. */
#define GATE_APPROVALS_MAX_PENDING 20
/* The most rows gate_approvals_list returns. */
#define GATE_APPROVALS_LIST_MAX 500

/* What gate_approvals_add did (its *outcome). */
enum {
    GATE_APPROVAL_FOUND = 0,    /* the same change was pending already: its id */
    GATE_APPROVAL_MADE = 1,     /* a new pending approval: its id */
    GATE_APPROVAL_FAILED = -1,  /* NULL: the store failed */
    GATE_APPROVAL_CAPPED = -2   /* NULL: the agent has max_pending pending already */
};

/* pending_ttl: seconds a pending approval waits for a person; approved_ttl:
 * seconds an approval waits for the agent's retry.  max_pending starts at
 * GATE_APPROVALS_MAX_PENDING.  The schema is made if missing, indexes
 * included, so an older gate.db opens as it is. */
int gate_approvals_open(gate_approvals **out, const char *db_path, double pending_ttl, double approved_ttl,
                        char *err, size_t errlen);
void gate_approvals_close(gate_approvals *ap);
/* The cap on each agent's pending approvals; 0 = none. */
void gate_approvals_set_max_pending(gate_approvals *ap, long max_pending);
long gate_approvals_max_pending(const gate_approvals *ap);

/* A pending approval for `doc` (borrowed: action, request, message,
 * results, impact, diff) unless one with the same agent and fingerprint is
 * already pending: returns its id then, cap or no cap.  A new one is
 * refused while the agent has max_pending unexpired pending approvals.
 * Returns the id (new string), or NULL; *outcome (may be NULL) is a
 * GATE_APPROVAL_* value saying which: MADE or FOUND with an id, CAPPED or
 * FAILED with NULL. */
char *gate_approvals_add(gate_approvals *ap, const char *agent, const char *fingerprint, const json_t *doc,
                         double now, int *outcome);
/* The approval (new reference; expiry applied), or NULL. */
json_t *gate_approvals_get(gate_approvals *ap, const char *id, double now);
/* {"items": [...]}: the newest GATE_APPROVALS_LIST_MAX approvals in
 * `state` as of `now` (expiry applied: "pending" leaves out and "expired"
 * takes in a pending or approved approval past its time), newest first;
 * state NULL or "all" = every state. */
json_t *gate_approvals_list(gate_approvals *ap, const char *state, double now);
/* A person's decision.  Returns 0 with *doc (new), or an HTTP status with
 * msg: 404 unknown id, 409 already decided (msg says how), 410 expired. */
int gate_approvals_decide(gate_approvals *ap, const char *id, int approve, const char *by, const char *comment,
                          double now, json_t **doc, char *msg, size_t msglen);
/* Back to pending: the action's impact changed.  current_impact/diff
 * (borrowed) replace the document's; the old ones go to "previous", `why`
 * says what changed. */
int gate_approvals_repend(gate_approvals *ap, const char *id, const json_t *current_impact,
                          const json_t *current_diff, const char *why, double now);
/* The approved, unexpired approval of agent + fingerprint (new reference),
 * or NULL.  gate_approvals_use marks it used (it passes once). */
json_t *gate_approvals_find_approved(gate_approvals *ap, const char *agent, const char *fingerprint, double now);
int gate_approvals_use(gate_approvals *ap, const char *id, double now);

/* The kill switch: {"frozen": bool, "reason", "by", "since"} (new). */
json_t *gate_freeze_get(gate_approvals *ap);
int gate_freeze_set(gate_approvals *ap, int frozen, const char *by, const char *reason, double now);

/* The fingerprint of an action: SHA-256 (hex, new string) of the agent and
 * the canonical effect: the direct changes of the diff (op, kind,
 * namespace, name, and the object after it without status and the fields
 * the server sets: resourceVersion, uid, generation, creationTimestamp,
 * managedFields), with sorted keys.  The same change asked again, by the
 * same or another request form (kubectl scale or a patch), has the same
 * fingerprint; what its cascade happens to generate does not count. */
char *gate_fingerprint(const char *agent, const json_t *diff);

/* Whether `now_impact` differs from `then` beyond the tolerance: pods
 * disrupted by more than 10% (at least 1), the hourly cost delta by more
 * than 10% (at least 0.01), or any other service emptied, workload degraded
 * or reachability path added or removed.  Returns 1 and `why` ("pods
 * disrupted 3 -> 7"), or 0. */
int gate_impact_changed(const json_t *then, const json_t *now_impact, char *why, size_t whylen);

#endif
