/*
 * gate/ops/audit.h - the tamper-evident record of every decision, kept in a git
 * repository through libgit2.
 *
 * One record is one commit on refs/heads/main.  The commit's tree holds
 * record.json (the record, canonical JSON: sorted keys, compact) and any
 * attachments (e.g. state.json, the twin's whole state at the gate's start).
 * The commit message's first line is a summary a person reads in `git log`
 * ("allow ops-bot PATCH apps/v1 deployments payments/api"); its body holds
 * the record's sha256 and, when a key is used, its HMAC.
 *
 * Every record carries, besides what the caller gave:
 *   seq   1, 2, 3, ... in commit order
 *   prev  the sha256 (hex) of the previous record's canonical bytes ("" for
 *         the first)
 *   id    a short unique id (hex)
 *   time  seconds since the epoch (a float), when the caller gave none
 *   attachments {name: sha256 hex of the attachment's bytes}
 * so that an edited, removed or reordered record breaks the chain, and the
 * MAC (key in a file outside the repository, normally <data-dir>/audit.key)
 * makes a chain recomputed by whoever edits the repository detectable too.
 * With a key, the last seq and hash are also kept beside it (KEY.tip,
 * replaced atomically after each batch of commits), so that cutting records
 * off the end is detected as well.
 *
 * Records written by the server (gate/server/serve.c), by field:
 *   type      "start" | "decision" | "approval" | "freeze" | "thaw" | "reload"
 *   agent     the agent (decision) or the approver (approval, freeze, thaw)
 *   verdict   decision: "allow" | "deny" | "review" | "error";
 *             approval: "approved" | "denied" | "expired" | "repending"
 *   request   {method, path, content_type, body}: body is the decoded JSON
 *             (protobuf bodies decoded), Secret values redacted
 *   action, diff, impact, results, message, code
 *   production_status   enforce mode: production's HTTP status (or 0)
 *   committed true when the twin (and production) took the change
 *   policy_version      "git:<commit>" or "sha256:<digest of the files>"
 *   profile   {policies: [...] | null, config_overrides: {...} | null}
 *   twin      {resource_version_before}: the twin's version it was judged on
 *             (the state after is the state before plus the diff)
 *   committed true / false; null when forwarded to production, whose answer
 *             follows as an "outcome" record: {type: "outcome", decision:
 *             <the decision's id>, production_status, committed}
 *   frozen    true on the refusals of the kill switch
 *   approval_id         review and approval records, and the approved retry
 * A "start" record has the attachment state.json: the twin's objects
 * (twin_export) when the gate started, from which `gate replay` rebuilds
 * the state each later decision was made on.
 *
 * Durability: gate_audit_append returns only once the record is on disk,
 * so the server answers nothing whose record could still be lost; a crash
 * loses no record whose append returned.  An append does not commit: it
 * writes the record (its canonical bytes, sha256 and MAC) as one line of a
 * write-ahead journal, DIR/airlock-journal, and fdatasyncs it (a fraction
 * of a millisecond, where a commit with its fsyncs costs several); appends
 * that come together share one fdatasync (group commit: the sync runs
 * without the log's lock and covers every line written before it).  A
 * flusher thread, started by gate_audit_open and ended by gate_audit_close
 * after it has committed everything, turns journaled records into their
 * commits in order and in batches (libgit2's fsyncs on), moves the branch
 * once per batch, writes the tip file, and empties the journal once all of
 * it is committed.  A record with attachments is committed by its append
 * itself, after everything journaled before it.  gate_audit_open recovers:
 * the journal's lines beyond the chain are committed when they continue it
 * (seq, prev, sha256, MAC) and refused, naming the line, when they do not;
 * a torn last line (an append a crash cut short, which never returned) is
 * cut off.  Readers (read, verify, in any process) read the journal too, so
 * a record is readable as soon as its append returns: before it is
 * committed, it has "commit": "".  The tip file lags behind the journal;
 * a tip behind the records is accepted, one beyond them refused.
 *
 * gate_audit_append is thread-safe (one lock per log); one process at a
 * time has a log open (an flock on the repository's directory).
 *
 * Modes: the log is private to the user running the gate, wherever it is
 * (not only inside a 0700 data directory): its directories are 0700 and
 * its files 0600 (git's read-only objects 0400), the journal, refs, lock
 * files and the objects the flusher writes later included; the key file
 * is 0600.  libgit2 takes the modes of what it writes from the process
 * umask, and the flusher writes while the caller's other threads run, so
 * gate_audit_open adds 077 to the process umask for good (audit.c, "File
 * modes").
 */
#ifndef GATE_AUDIT_H
#define GATE_AUDIT_H

#include <jansson.h>
#include <stddef.h>

typedef struct gate_audit gate_audit;

/* Limits in bytes: of record.json, and of each attachment.  An append over
 * them fails; a read over them is an error naming the commit. */
enum { GATE_AUDIT_MAX_RECORD = 64 << 20, GATE_AUDIT_MAX_ATTACHMENT = 1 << 30 };

/* Opens the repository at repo_dir, creating it (and the directory) when
 * missing, commits the records its journal holds beyond the chain (see
 * Durability) and starts the flusher.  key_path names the HMAC key file:
 * created (0600, 32 random bytes) when missing; NULL = records carry no
 * MAC.  Side effect on the whole process: its umask gets 077 added, and
 * keeps it after close, so every file the process creates from then on is
 * private to its user (see Modes).  A repository directory open to group
 * or others is made private with everything in it, and a key file open to
 * them is made 0600, each said in one line on stderr.  Returns 0 or -1
 * with err.  With a key, a log whose chain is behind its tip file or
 * disagrees with it (records cut off, commits rewritten) is refused:
 * appending would erase the evidence.  So is a journal line that does not
 * continue the chain, a directory that is neither empty nor a repository,
 * a repository or key open to group or others that cannot be made
 * private, and a log another process has open. */
int gate_audit_open(gate_audit **out, const char *repo_dir, const char *key_path, char *err, size_t errlen);
/* Commits what is pending, ends the flusher and frees a (NULL is a
 * no-op).  Not concurrent with appends.  Records it cannot commit stay in
 * the journal, for the next open. */
void gate_audit_close(gate_audit *a);

/* Appends one record (borrowed; an object) with optional attachments
 * (borrowed; NULL or an object name -> JSON value, written as compact
 * JSON with sorted keys, or a JSON string: the attachment's text as it is,
 * serialized by the caller; a name is a plain file name other than
 * record.json).  seq, prev, id and attachments are always
 * the log's (a caller's values are replaced); a caller's time (a number)
 * is kept.  Durable on return (journaled; committed by the flusher soon
 * after, or here when there are attachments).  *id_out (may be NULL) gets
 * the record's id (new string).  Returns 0 or -1 with err; on -1 nothing
 * was appended.  Once the flusher fails to commit (refs/heads/main moved by
 * someone else, the tip file not writable), appends fail with its error
 * until a retry succeeds: the records journaled before stay in the
 * journal. */
int gate_audit_append(gate_audit *a, const json_t *record, const json_t *attachments, char **id_out, char *err,
                      size_t errlen);

/* Group commit, for a caller that must not wait for the disk under a lock
 * of its own: appends as gate_audit_append does (no attachments), but
 * returns once the record is written to the journal, before it is
 * durable, with *ticket for gate_audit_wait.  The caller answers or acts
 * on the record only after gate_audit_wait returned 0.  Appends that
 * arrive together share one fdatasync (so does gate_audit_append). */
int gate_audit_append_nowait(gate_audit *a, const json_t *record, char **id_out, unsigned long long *ticket,
                             char *err, size_t errlen);
/* Returns once the journal is durable up to ticket (0: at once); -1 with
 * err when the sync failed (the log then refuses further appends). */
int gate_audit_wait(gate_audit *a, unsigned long long ticket, char *err, size_t errlen);
/* Whether appends succeed now: 0, or -1 with why (the journal broken, the
 * flusher failing, or the last append failed: a full disk, say; cleared by
 * the next append that succeeds). For readiness. */
int gate_audit_health(gate_audit *a, char *why, size_t n);
/* How many times the journal was fdatasynced (tests, benchmarks). */
unsigned long gate_audit_syncs(gate_audit *a);

/* Every record of the repository at repo_dir, oldest first, each with
 * "commit" (hex) added, "" for a record still in the journal: a new array,
 * or NULL with err. */
json_t *gate_audit_read(const char *repo_dir, char *err, size_t errlen);

/* The decisions forwarded to production whose outcome was never recorded
 * (type "decision", "forwarded" set, committed null, and no later
 * "outcome" record naming its id): the gate stopped, or could not record
 * the outcome, between forwarding and recording. A new array of the
 * records, oldest first, or NULL with err. The server reconciles them at
 * its start (an "outcome" with "reconciled": true closes one). */
json_t *gate_audit_open_decisions(const char *repo_dir, char *err, size_t errlen);

/* One attachment of the record in `commit` (new reference), or NULL with
 * err.  (A journaled record has no attachments.) */
json_t *gate_audit_attachment(const char *repo_dir, const char *commit, const char *name, char *err, size_t errlen);

/* Checks the whole chain: seq contiguous from 1, prev hashes, each
 * record's hash against its commit message, attachments' hashes, a single
 * line of first parents, and the MACs and the tip file when key_path is
 * given (NULL: not checked, and the report says so); then the journal's
 * records beyond the chain the same way (sha256 and MAC against the line,
 * seq, prev).  *report (new) is
 *   {"ok": bool, "records": N, "journaled": N (of them, in the journal),
 *    "macs_checked": bool, "open_decisions": N,
 *    "problems": [{"seq": N, "commit": hex, "problem": "..."}]}
 * Open decisions (gate_audit_open_decisions) are problems too, one each:
 * what production did with them is not in the log.
 * where commit is "" for a journaled record's problem, and seq 0 and
 * commit "" when a problem is not one record's (the tip file's, a
 * malformed journal line's).  Returns 0 when the chain is intact, 1 when a
 * problem was found, -1 when the repository or the key cannot be read
 * (err). */
int gate_audit_verify(const char *repo_dir, const char *key_path, json_t **report, char *err, size_t errlen);

/* 1 when err (an append's or a wait's error) says the log's disk is full
 * or read-only (ENOSPC, EDQUOT, EROFS): room, not the log, is missing. */
int gate_audit_storage_full(const char *err);

/* Reads a --since value: seconds since the epoch ("1764000000"), RFC 3339
 * UTC ("2026-11-24T10:00:00Z"), or a duration back from now ("90s", "30m",
 * "2h", "7d").  Returns 0 with *out (epoch seconds) or -1. */
int gate_audit_parse_time(const char *s, double now, double *out);
/* Writes t (seconds since the epoch) as RFC 3339 UTC, "2026-11-24T10:00:00Z",
 * or "-" when t is not a time. */
void gate_audit_format_time(double t, char out[32]);

/* For tests (tests/test_audit.c) only. */
/* Holds the flusher (1): appends stay in the journal; or lets it go (0).
 * Returns once the flusher is idle.  A drain (gate_audit__flush, an append
 * with attachments) or a close overrides it. */
void gate_audit__pause_flusher(gate_audit *a, int paused);
/* Has everything appended so far committed and the tip file written, and
 * waits for it: 0, or -1 with the flusher's error. */
int gate_audit__flush(gate_audit *a, char *err, size_t errlen);
/* Frees a as a crash would leave the log: the flusher ended at once,
 * nothing pending committed, the journal as it is. */
void gate_audit__abandon(gate_audit *a);

#endif
