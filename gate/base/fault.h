/*
 * gate/base/fault.h - fault injection, for tests: the Nth call at a named
 * point fails, so that every write, sync and call to production can be made
 * to fail in turn and the outcome checked each time (the SQLite and curl
 * "torture" loop; tests/test_pipeline.c runs it).
 *
 * Compiled in only in test builds (GATE_FAULTS, which make test's sanitizer
 * build defines): in a release build gate_fault is 0, a constant, and the
 * environment is never read.
 *
 * Armed by gate_fault_arm (in-process tests) or, for a whole process, by
 * AIRLOCK_FAULT="POINT:N[+][:ERRNO]" read at the first call: the Nth call
 * of gate_fault(POINT) (1-based), and with '+' every later one too,
 * returns ERRNO (default EIO); every other call returns 0. A POINT ending
 * in '*' names every point it prefixes ("audit.*").
 *
 * The points:
 *   audit.journal.write  a record's line written to the journal
 *   audit.journal.sync   the journal's fdatasync
 *   audit.commit         a record's objects written to git (the flusher)
 *   audit.ref            the branch moved to a batch of commits
 *   upstream.call        a call to production: ECONNREFUSED fails before
 *                        anything is sent, ETIMEDOUT or ECONNRESET after
 *                        the request went out (maybe_sent)
 *   lua.alloc            a growth of a policy's memory (its Lua allocator;
 *                        Lua raises "not enough memory" in the policy)
 *   sqlite.write, sqlite.sync   a write or sync of a database file, its
 *                        journal or WAL (gate.db: history, approvals, the
 *                        freeze; not temporary files), once
 *                        gate_fault_sqlite has put its VFS in place
 *
 * Thread-safe (one mutex).
 */
#ifndef GATE_BASE_FAULT_H
#define GATE_BASE_FAULT_H

#ifdef GATE_FAULTS
/* The errno to fail this call with, or 0. */
int gate_fault(const char *point);
#else
#define gate_fault(point) 0
#endif

/* Arms point (as AIRLOCK_FAULT reads it): the nth call fails with err
 * (every later one too when sticky). Replaces what was armed. */
void gate_fault_arm(const char *point, long n, int err, int sticky);
void gate_fault_disarm(void);
/* Calls of the armed point so far, and whether one failed. */
long gate_fault_calls(void);
int gate_fault_fired(void);
/* 1 in a build with fault injection compiled in. */
int gate_fault_available(void);
/* Makes SQLite's default VFS one that asks sqlite.write and sqlite.sync
 * (over the one it replaces), for databases opened from then on. Once; a
 * no-op in a release build. */
void gate_fault_sqlite(void);

#endif
