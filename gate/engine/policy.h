/*
 * gate/engine/policy.h - the policy engine: Lua 5.4 safety policies judge what an
 * action would do (its diff and measured impact, simulated in the twin) and
 * answer allow, review or deny, each with a reason an agent can read.
 *
 * A policy set is a directory, or a directory inside a git commit:
 *
 *   config.lua      returns one table of thresholds (plain data: tables,
 *                   strings, numbers, booleans); policies see it as ctx.config
 *                   with the caller's config_overrides merged over it
 *   lib/NAME.lua    helper modules, seen by policies as lib.NAME
 *   NAME.lua        every other file is a policy, returning
 *                   { name = "NAME", description = "...",
 *                     evaluate = function(ctx) return allow() end }
 *
 * Policies load in file-name order (strcmp) and are judged in that order;
 * "first denying policy" in a message means first in that order.
 *
 * Sources. A set is read whole into memory, then loaded; the same rules
 * and messages apply whichever source it came from:
 *   DIR                      a directory (files as gate_policy_load reads them)
 *   git:REPO[@REF][:DIR]     the tree of a commit, read through libgit2 with
 *                            no checkout and no temporary files. REPO is the
 *                            path of a repository, bare or not (it may not
 *                            contain '@' or ':'; nothing above it is searched);
 *                            REF a branch, tag, commit or anything
 *                            git rev-parse takes without ':' (default HEAD),
 *                            peeled to a commit; DIR a directory of its tree
 *                            (default the root). Only blobs are read: a
 *                            *.lua that is a symbolic link or a submodule is
 *                            an error, never followed.
 * Errors from a git source start with git:REPO@REF[:DIR] (REF as given, or
 * HEAD) and name the file within DIR:
 *   git:/x/repo@main:policies: no such ref "main"
 *   git:/x/repo@main:policies: cost.lua:12: unexpected symbol near 'end'
 * while the Lua chunk names, which tracebacks and runtime errors show, say
 * which commit a file came from: git:REPO@<7-hex commit>:DIR/cost.lua (Lua
 * shortens names longer than LUA_IDSIZE to "...<tail>").
 * A set's version says what was loaded: "git:<40-hex commit>", or for a
 * directory "sha256:<64 hex>" over every file loaded (config.lua, lib/, the
 * policies) sorted by path relative to the directory (strcmp), each hashed
 * as PATH NUL DECIMAL-LENGTH NUL CONTENTS; it changes when any of them does.
 *
 * The sandbox. One lua_State per set holds every policy; it is created once
 * and reused for every evaluation, so a set is NOT thread-safe: use one set
 * per thread (they are independent; there are no hidden globals).
 *   - Each policy chunk runs with its own environment table built from an
 *     allow-list: assert error getmetatable ipairs next pairs pcall rawequal
 *     rawget rawlen rawset select setmetatable tonumber tostring type xpcall
 *     _VERSION _G, private copies of string (without string.dump), table,
 *     math and utf8, the verdict helpers allow([fmt, ...]), review(fmt, ...)
 *     and deny(fmt, ...) (fmt always goes through string.format), print
 *     (writes "airlock policy NAME: ..." to stderr, 1 KiB per call), and lib.
 *     Not there: io, os, debug, package, coroutine, require, load, loadfile,
 *     dofile, collectgarbage, warn. setmetatable refuses __gc metamethods
 *     (a finalizer would run later, outside the policy and its budgets), and
 *     the string metatable is locked. next, rawget and rawlen see through
 *     ctx's read-only tables (below) to their contents; rawset and
 *     setmetatable refuse them.
 *   - lib: each policy gets its own instance of every lib/ module, loaded in
 *     environments of the same shape, behind read-only tables; nothing one
 *     policy does to its globals or its lib is visible to another, and ctx
 *     cannot be changed at all (below). A module may use another as
 *     lib.OTHER at call time. A policy's own globals do persist from one
 *     evaluation to the next (its environment is loaded once); verdicts
 *     should not depend on them.
 *   - Files are loaded as text only (mode "t"); binary chunks are refused.
 *   - Budgets, per run of one chunk (loading) or of one evaluate(ctx):
 *     10,000,000 Lua instructions (a count hook every 1000 instructions; once
 *     exceeded it re-arms to fire on every instruction, so pcall inside the
 *     policy cannot swallow it), and memory: the allocator refuses to go more
 *     than 32 MiB above what is in use when evaluate is called, and the whole
 *     state never holds more than 256 MiB (this bounds converting a very
 *     large diff). Converting ctx is not charged to the policy that happens
 *     to read a part first: ctx is converted lazily, and whatever reading it
 *     adds raises that policy's cap by as much. ctx.twin / ctx.history
 *     answers are charged to the policy that asks first (later ones get the
 *     same tables for free). "In use" may include up to about 1 MiB of
 *     garbage from earlier policies: the engine runs a full collection
 *     between policies only once they have grown the heap by more than that.
 *     A refusal that a garbage collection cannot cure counts as exhausted
 *     even if the policy catches the error; garbage never does (Lua's core
 *     collects before giving up, and the sandbox's string.rep, string.format,
 *     table.concat and the other buffer-building functions collect first
 *     near the cap).
 *   - Time: a run ends within its time limit (default 250 ms;
 *     gate_policy_set_time_limit) whatever it does. The count hook reads
 *     the clock, so does the allocator (a loop of t = t .. x copies a
 *     growing string inside one instruction), and the library functions
 *     that can run long inside one C call without allocating are guarded:
 *     string.find/match/gmatch/gsub refuse a pattern whose worst case on
 *     that subject is beyond 2^25 steps (the bound counts, for each
 *     repeated single-character class, the longest run of the subject it
 *     matches, so ordinary patterns on large text pass and catastrophic
 *     ones such as ".-.-.-x" on a long subject are refused), plain find
 *     refuses a needle and subject whose product is beyond it,
 *     string.rep of an empty string with no separator answers "" at once,
 *     table.sort without a comparison function refuses more than 2^20
 *     elements, table.move a range of more than 2^24. A refused call is an
 *     error naming the function; the time limit exceeded denies "time
 *     limit exceeded (limit N ms)", even if the policy catches the error.
 *   - Every run is a lua_pcall with a traceback message handler. A policy
 *     that errors, exhausts a budget, tries to change ctx (even if it
 *     catches the error) or returns anything but a verdict made by
 *     allow/review/deny is judged deny (fail closed), naming the policy.
 *
 * What a policy sees:
 *   ctx.action, ctx.diff, ctx.impact, ctx.agent   the request JSON as Lua
 *       tables: null -> nil, arrays -> 1-based sequences, integers stay
 *       integers; a missing diff/impact/agent is an empty table
 *   ctx.config                                    see above
 *   ctx.twin.get(kind, ns, name [, when])         -> table or nil
 *   ctx.twin.list(kind, ns, selector [, when])    -> array (ns nil = all)
 *   ctx.twin.count(kind, ns, selector [, when])   -> #list, without
 *       converting the objects (use it when only the number matters)
 *       when is "before" or "after" (the default); ns "" means nil
 *   ctx.history.totals(window_seconds)            -> {pods_disrupted,
 *       cost_added, actions} for ctx.agent.name
 *
 * ctx is read-only and shared. One evaluation builds one ctx and every
 * policy reads the same tables, so a policy author must know:
 *   - Every table reachable from ctx, including what ctx.twin and
 *     ctx.history return, is a read-only view. Writing into one (t.k = v,
 *     rawset, table.insert/remove/sort/move into it, setmetatable) raises
 *     "attempt to modify read-only ctx (key 'k')" and the policy is denied
 *     with that reason even if it catches the error. To change something,
 *     copy it into a table of your own first.
 *   - Reading works as on plain tables: t.k, t[i], #t, ipairs, pairs, next,
 *     rawget, rawlen, table.concat and table.unpack. type(t) is "table";
 *     getmetatable(t) is false. # of an array is the position of its last
 *     non-null element.
 *   - Reading the same thing twice gives the same table (ctx.diff[1] ==
 *     ctx.diff[1]); within one evaluation, the same ctx.twin / ctx.history
 *     call gives the same table to every policy (the view is asked once).
 *   - ctx is converted lazily: a part no policy reads is never built, so
 *     reading only what a rule needs is what keeps a large diff cheap.
 *   - ctx is valid during its evaluation only. Keeping it (or a part of it)
 *     in a global and reading it in a later evaluation raises ("ctx from an
 *     earlier evaluation"), except for parts already read; keep values, not
 *     ctx.
 *
 * Ownership. jansson values follow one rule here: every json_t passed in is
 * borrowed (the engine never keeps or decrefs it; ctx is read lazily while
 * gate_policy_eval runs, so it must not change during the call, and the
 * engine never reads it after the call returns), every json_t handed out
 * through an out-parameter is a new reference the caller decrefs. Strings
 * passed in are borrowed and copied if kept. Errors go to the caller's
 * buffer err[errlen] (may be NULL/0); out-parameters are set only on success.
 */
#ifndef GATE_POLICY_H
#define GATE_POLICY_H

#include <stddef.h>
#include <jansson.h>

typedef struct gate_policy_set gate_policy_set;

/* Callbacks through which policies read the twin and the agent's history.
 * All returned json_t are NEW references (the engine decrefs them); NULL
 * means "not found" (get) and is never returned by list (an empty array
 * instead; the engine treats NULL from list or history as a failure, which
 * fails the policy closed). when: 0 = state before the action, 1 = after
 * (settled). The view is borrowed for the duration of one gate_policy_eval;
 * it may be NULL, in which case every ctx.twin / ctx.history call raises an
 * error inside the policy (and so denies). Within one evaluation the engine
 * asks each distinct question (callback and arguments) at most once and
 * hands the answer to every policy that asks it (ctx.twin.count asks list
 * and keeps only the length), so the twin and history must not change
 * while gate_policy_eval runs. */
typedef struct gate_policy_view {
    json_t *(*get)(void *ud, int when, const char *kind, const char *ns, const char *name);
    json_t *(*list)(void *ud, int when, const char *kind, const char *ns /*NULL=all*/,
                    const char *label_selector /*NULL or "" = all; kubectl syntax*/);
    /* totals for this agent over the last window_seconds, from allowed actions
     * already recorded (this action NOT included):
     * {"pods_disrupted": int, "cost_added": number, "actions": int} */
    json_t *(*history)(void *ud, const char *agent, double window_seconds);
    void *ud;
} gate_policy_view;

/* Loads every *.lua in dir (except config.lua) as a policy, config.lua as the
 * config table, lib/ *.lua as helper modules (both optional). A broken file is
 * an error naming the file and line (luaL_loadbuffer's message); so is a
 * policy whose name differs from its file name or that has no evaluate
 * function. An empty dir (no policies) is valid and allows everything.
 * Returns 0 and sets *out (caller frees with gate_policy_free), or -1 with
 * err filled. Files larger than 1 MiB are refused. The set's source is dir
 * and its version the sha256 of its files (see "Sources"). */
int gate_policy_load(gate_policy_set **out, const char *dir, char *err, size_t errlen);

/* Loads a set from spec: a directory (as gate_policy_load; a directory whose
 * name starts with "git:" is spelt ./git:...) or git:REPO[@REF][:DIR] (see
 * "Sources" above). Same results and ownership as gate_policy_load; a git
 * error names the repository, ref and path. Safe to call from several
 * threads (libgit2 is initialised and shut down around each use; its
 * refcount lets other modules hold it meanwhile). */
int gate_policy_load_spec(gate_policy_set **out, const char *spec, char *err, size_t errlen);

/* What the set is: "git:<40-hex commit>" or "sha256:<hex>" (see "Sources").
 * Borrowed, valid as long as the set; NULL for a NULL set. */
const char *gate_policy_version(const gate_policy_set *set);

/* The spec (or directory) the set was loaded from, as given. Borrowed,
 * valid as long as the set; NULL for a NULL set. */
const char *gate_policy_source(const gate_policy_set *set);

/* 1 if a policy named name is loaded (config and lib modules are not
 * policies), else 0 (also for NULL arguments). */
int gate_policy_has(const gate_policy_set *set, const char *name);

/* The wall-clock limit of one run (loading a file, one policy's evaluate):
 * seconds, 0 for the default (0.25). Applies to the set's evaluations from
 * the next one on (a copy evaluating takes the primary's). */
void gate_policy_set_time_limit(gate_policy_set *set, double seconds);
double gate_policy_time_limit(const gate_policy_set *set);

/* Frees the set and its Lua state. NULL is a no-op. */
void gate_policy_free(gate_policy_set *set);

/* Lua states the set has made for evaluations so far (1 + its copies). */
size_t gate_policy_states(gate_policy_set *set);

/* Number of policies loaded (config.lua and lib/ not counted). */
size_t gate_policy_count(const gate_policy_set *set);

/* Judges one action. ctx is borrowed JSON:
 *   {"action": {...}, "diff": [...], "impact": {...}, "agent": {"name": ...},
 *    "config_overrides": {...}?, "policies": ["cost", ...]?}
 * action must be an object; diff (array), impact, agent and config_overrides
 * (objects) and policies (array) may be absent. config_overrides is merged
 * over config.lua's table recursively (objects merge key by key; any other
 * value replaces; null removes the key).
 * policies names the policies that judge this action (an agent's subset):
 * only those run and have results, still in load order; the order and
 * repetitions of the list do not matter, and an empty list judges nothing
 * (allow). Absent or null means every policy. A name that is not a loaded
 * policy is an engine-level error: -1, "unknown policy \"NAME\"".
 *
 * On success returns 0 and *verdict is a new object:
 *   {"verdict": "allow|review|deny", "message": "...",
 *    "results": [{"policy": "cost", "verdict": "review", "reason": "...",
 *                 "traceback": "..." (only for policy errors)}, ...]}
 * results has one entry per policy judged, in load order. "message" is for
 * the agent:
 *   deny    "airlock: denied by <policy>: <reason>" for the first denying
 *           policy, then "; also denied by <p2>: <r2>" for each other one
 *   review  "airlock: needs approval (<p1>: <r1>; <p2>: <r2>)"
 *   allow   "allowed"
 * Reasons are capped at 1 KiB each and made valid UTF-8.
 *
 * Returns -1 (err filled, *verdict untouched) only for engine-level failures:
 * bad arguments, a malformed ctx. A policy's own failure is a deny result
 * with reason "policy error: <lua message>", "policy error: instruction
 * budget exhausted (...)", "policy error: memory budget exhausted (...)" or,
 * for a write into ctx the policy caught, "policy error: attempt to modify
 * read-only ctx (...)".
 *
 * Threads: a set may be evaluated on several threads at once.  A Lua state
 * runs one evaluation at a time, so an evaluation that finds the set's own
 * state busy runs on a copy built from the same sources the set was loaded
 * from (made on first need and kept for the next one; -1 if it cannot be
 * built).  Each view is called on its evaluation's thread only: one that
 * several threads share must be safe for that (the server serializes its
 * twin reads).  Freeing a set while it evaluates is the caller's bug. */
int gate_policy_eval(gate_policy_set *set, const json_t *ctx, const gate_policy_view *view,
                     json_t **verdict, char *err, size_t errlen);

#endif
