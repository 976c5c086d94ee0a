/*
 * gate/cmd/replay.h - `gate replay`: the decisions of an audit log (gate/ops/audit.h)
 * judged again under other policies, each on the twin state it was made on,
 * to see what a policy change would have changed before it is rolled out.
 *
 * The state is rebuilt, not trusted: a "start" record resets the twin to
 * its state.json attachment, as a gate start does; each decision is then
 * judged by the new policies and the twin settled to what really happened
 * (the record's "committed", or in enforce and shadow modes that of the
 * "outcome" record naming it), whatever the new verdict, so the next
 * decision sees the state the gate saw.  The agents' budget history, which
 * the gate keeps across restarts, is rebuilt from every committed decision,
 * also those before the replay's start record (from their recorded impact).
 *
 * Fidelity: in enforce mode, changes production made outside the gate
 * between two decisions are not in the log (only as the "before" of the
 * objects each decision's diff touched): the replay judges on the twin
 * rebuilt from the start snapshot plus the committed decisions.  A committed
 * decision that this twin refuses is reported as "could not be replayed"
 * (the state diverged) and the replay goes on.
 */
#ifndef GATE_REPLAY_H
#define GATE_REPLAY_H

#include <jansson.h>
#include <stddef.h>

#include "gate/engine/policy.h"

/*
 * Replays the log of the audit repository at repo_dir under the policies ps
 * (borrowed; NULL allows everything).  pricing: the pricing file each
 * rebuilt twin loads (NULL: costs are 0).  since: epoch seconds; decisions
 * made before it still advance the state (the replay starts at the last
 * start record before the first decision at or after since) but are not
 * judged in the report; 0 = all.
 *
 * On success returns 0 and *report (new) is
 *   {"repo": DIR, "since": T | null, "records": R, "decisions": N,
 *    "changed": [{"seq", "time", "agent", "method", "path", "verb", "kind",
 *                 "namespace", "name", "old", "new", "message",
 *                 "reasons": [{policy, verdict, reason}] (not allow)}],
 *    "denied_to_allowed": n, "loosened": n, "tightened": n,
 *    "unreplayable": n,
 *    "problems": [{"seq", "time", "agent", "method", "path", "problem"}]}
 * where old is the policies' verdict then ("policy_verdict", else
 * "verdict"), loosened counts deny -> review|allow and review -> allow,
 * tightened the reverse (changes to or from "error" are in "changed" but in
 * neither), and problems lists the records that could not be replayed (a
 * malformed decision record, a committed change the twin refuses, a
 * forwarded one whose outcome was never recorded), including those before
 * since, since they make the state diverge.
 * Returns -1 with err (naming the repository, the record's seq or the
 * attachment) when the log cannot be read, a start record's state cannot
 * be imported, or a decision to judge comes before any start record.
 */
int gate_replay_run(json_t **report, const char *repo_dir, gate_policy_set *ps, const char *pricing, double since,
                    char *err, size_t errlen);

#endif
