/*
 * gate/engine/policy.c - the policy engine (contract, sandbox and ownership rules
 * are in gate/engine/policy.h).
 *
 * Layout of this file, in the order a call meets it:
 *   budgets and caps; small C helpers (abort-on-OOM allocation, string
 *   buffers, UTF-8 cleaning); the Lua allocator (memory budget) and count
 *   hook (instruction budget); JSON <-> Lua conversion; read-only views
 *   (how one ctx is shared by every policy of an evaluation); the sandbox
 *   (environments, verdict helpers, ctx.twin / ctx.history); running a chunk
 *   under the budgets; loading: a set's files read into memory by a source
 *   (a directory, or a git commit through libgit2), then the state, libs,
 *   config and policies built from them; evaluating (ctx, the policies
 *   ctx.policies selects, one policy, combining verdicts).
 *
 * Two rules keep the C side safe around Lua's longjmp-based errors:
 *   - every Lua API call that can raise (allocate, call metamethods) runs
 *     inside a protected C function (a *_cf called through lua_pcall), and
 *   - such functions do all their Lua work before touching the C heap, so an
 *     error never skips a free. The one exception, a json_t from the view
 *     being converted, is parked in set->pending and freed by the caller.
 *   The JSON a view reads lazily (the caller's ctx, the effective config)
 *   is borrowed or owned by gate_policy_eval for the whole call; views
 *   check set->gen before reading it (see "read-only views").
 */

#include "gate/base/clock.h"
#include "gate/base/fault.h"
#include "gate/base/log.h"
#include "gate/engine/policy.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* ---- budgets and caps ------------------------------------------------- */

#define POLICY_INSTR_LIMIT 10000000L          /* Lua instructions per run */
#define POLICY_INSTR_STEP  1000               /* count hook period */
#define POLICY_MEM_STATE   ((size_t)256 << 20) /* whole state, always */
#define POLICY_MEM_EVAL    ((size_t)32 << 20)  /* above in-use at evaluate() */
#define POLICY_FILE_MAX    ((size_t)1 << 20)   /* one .lua file */
#define POLICY_REASON_MAX  1024               /* bytes of one reason */
#define POLICY_TRACE_MAX   4096               /* bytes of one traceback */
#define POLICY_PRINT_MAX   1024               /* bytes of one print() */
#define POLICY_JSON_DEPTH  200                /* nesting of twin results / config */
#define POLICY_GC_ROOM     ((size_t)8 << 20)   /* see gc_guarded() */
#define POLICY_GC_SLACK    ((size_t)1 << 20)   /* see collect_if_grown() */
#define POLICY_RO_MSG      192                /* bytes of a refused write's message */
#define POLICY_TIME        0.25               /* seconds of one run, by default */
#define POLICY_TIME_BIG    ((size_t)16 << 10)  /* an allocation this big reads the clock */
#define POLICY_TIME_SMALL  64                 /* so does every 64th smaller one */
#define POLICY_STEPS       ((double)(1 << 24)) /* worst-case steps of one C call (the guards) */

/* ---- application heap: one OOM policy, abort (STYLE item 8) ----------- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fputs("airlock: out of memory (gate/policy)\n", stderr);
        abort();
    }
    return q;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        fputs("airlock: out of memory (gate/policy)\n", stderr);
        abort();
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xrealloc(NULL, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

/* jansson constructors return NULL only on OOM (strings here are always
 * valid UTF-8 by construction), so the same policy applies. */
static json_t *jcheck(json_t *j)
{
    if (j == NULL) {
        fputs("airlock: out of memory (gate/policy, jansson)\n", stderr);
        abort();
    }
    return j;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A growable string; s is NUL-terminated whenever it is non-NULL. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sbuf_puts(sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

static const char *sbuf_str(const sbuf *b)
{
    return b->s ? b->s : "";
}

static void sbuf_free(sbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 if the
 * bytes there are not one (NUL counts as invalid: messages are C strings). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0], cp, min;
    size_t len, i;

    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    cp = c & (0x7Fu >> len);
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Appends at most max bytes of s[0..n) as valid UTF-8: invalid bytes become
 * '?', and a cut (never inside a character) is marked with "...". Text from
 * policies is arbitrary bytes; JSON strings must be UTF-8. */
static void sbuf_add_text(sbuf *b, const char *s, size_t n, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, used = 0;

    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (used + (k ? k : 1) > max) {
            sbuf_puts(b, "...");
            return;
        }
        if (k == 0) {
            sbuf_add(b, "?", 1);
            i++, used++;
        } else {
            sbuf_add(b, s + i, k);
            i += k, used += k;
        }
    }
}

/* ---- the set ---------------------------------------------------------- */

typedef struct source {
    char *name;    /* module / policy name: the file name without .lua */
    char *rel;
    char *chunk;
    char *label;
    char *text;    /* NUL-terminated; len bytes */
    size_t len;
} source;

typedef struct source_list {
    source *v;
    size_t n, cap;
} source_list;

typedef struct policy_files {
    source_list libs;       /* lib/ *.lua, by name */
    source_list policies;   /* *.lua except config.lua, by name */
    source config;          /* config.lua; text NULL when there is none */
} policy_files;


typedef struct policy {
    char *name;     /* = file name without .lua; used in messages */
    char *path;     /* its chunk name: where it was read from */
    int eval_ref;   /* registry reference to its evaluate function */
    int skips_reads;   /* declared `reads = false`: not called for get/list/watch */
} policy;

struct gate_policy_set {
    lua_State *L;

    /* Memory budget. The lua_Alloc's ud is the set itself. A refusal is
     * remembered (refused, refused_*) until the next growing request: if
     * that is Lua's retry of the same request after its emergency
     * collection and it fits, the refusal is forgiven; anything else (the
     * retry refused too, or no retry at all, as when lauxlib's buffers call
     * the allocator directly) means the budget is exhausted. */
    size_t mem_used, mem_cap;
    int refused;
    void *refused_ptr;
    size_t refused_osize, refused_nsize;
    int mem_exhausted;

    size_t gc_mark;            /* in use after gc_guarded's last collection */
    size_t gc_debt;            /* heap growth since the last full collection
                                  that may be garbage (collect_if_grown) */

    /* Instruction budget (count hook). */
    long instr_used;
    int instr_step;
    int instr_exhausted;

    /* Time bound: the count hook and the allocator read the clock (see
     * "the time bound"); time_limit is the primary's, copied to a copy
     * before it evaluates. */
    double time_limit;         /* seconds of one run; 0 = POLICY_TIME */
    double deadline;           /* gate_mono() at which this run is over */
    unsigned alloc_tick;
    int time_exhausted;

    policy *policies;          /* load order */
    size_t npolicies;
    json_t *config;            /* config.lua as JSON; owned */
    char *source;              /* the spec loaded, as given */
    char *version;             /* git:<commit> or sha256:<hex> */

    /* Read-only views (see "read-only views"). */
    lua_Integer gen;           /* JSON read by views of this number is alive */
    size_t fill_bytes;         /* heap added by filling views, ever */
    int fill_failed;           /* filling a view failed in this run */
    int ro_violation;          /* this run tried to write into a view ... */
    char ro_msg[POLICY_RO_MSG]; /* ... and the first such attempt */

    /* Valid only inside gate_policy_eval. */
    const gate_policy_view *view;
    const char *agent;         /* borrowed from ctx */
    json_t *pending;           /* a view result being converted; owned */

    /* Judging on several threads (see "the pool"): a Lua state runs one
     * evaluation at a time, so the set loaded (the primary) keeps its
     * sources and lends out copies built from them.  Only the primary's
     * fields below are used. */
    policy_files files;        /* the sources every copy is built from */
    pthread_mutex_t pool_mu;
    int pooled;                /* pool_mu is initialized (the primary, loaded) */
    int busy;                  /* the primary's own state is evaluating */
    gate_policy_set *idle;     /* copies not evaluating now */
    gate_policy_set *next_idle;
    size_t copies;             /* made, ever (gate_policy_states) */
};

/* Registry keys (their addresses are the keys). */
static const char verdict_mt_key = 0;   /* metatable marking verdict tables */
static const char sandbox_libs_key = 0; /* {string=, table=, math=, utf8=} as
                                           policies get them (see state_setup_cf) */
static const char ctx_statics_key = 0;  /* {twin=, history=, config=}: views
                                           made once (push_statics) */
static const char twin_cache_key = 0;   /* this evaluation's ctx.twin answers */

enum { V_ALLOW, V_REVIEW, V_DENY };
static const char *const verdict_names[] = { "allow", "review", "deny" };

/* The set a state belongs to (the allocator's ud). */
static gate_policy_set *state_set(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* ---- memory budget: the allocator ------------------------------------- */

static int is_retry(const gate_policy_set *set, void *ptr, size_t osize, size_t nsize)
{
    return set->refused_ptr == ptr && set->refused_osize == osize &&
           set->refused_nsize == nsize;
}

static void *alloc_refuse(gate_policy_set *set, void *ptr, size_t osize, size_t nsize)
{
    if (set->refused)
        set->mem_exhausted = 1;   /* the earlier refusal was not cured */
    set->refused = 1;
    set->refused_ptr = ptr;
    set->refused_osize = osize;
    set->refused_nsize = nsize;
    return NULL;
}

/* ---- the time bound ---------------------------------------------------
 *
 * A run (loading a chunk, or one policy's evaluate) ends within its time
 * limit whatever it does.  Three things make that so:
 *   - the count hook reads the clock every POLICY_INSTR_STEP instructions;
 *   - the allocator reads it on every large allocation and every
 *     POLICY_TIME_SMALL-th small one, and once the time is up refuses every
 *     growth beyond a small block, so one instruction that copies a growing
 *     string (t = t .. x in a loop) cannot go on: Lua raises "not enough
 *     memory" and the hook, now firing on every instruction, ends the run
 *     even if the policy catches that;
 *   - the few library functions that can run long inside one C call
 *     without allocating (pattern matching, plain find, string.rep of an
 *     empty string, table.sort without a comparison function, table.move)
 *     are wrapped by guards that refuse a call whose worst case is beyond
 *     POLICY_STEPS (see "the guards").
 * A policy whose run is over is denied "time limit exceeded", naming it. */

/* 1 once this run's time is over (and stays so until the next run). */
static int time_over(gate_policy_set *set)
{
    if (!set->time_exhausted && set->deadline > 0 && gate_mono() > set->deadline)
        set->time_exhausted = 1;
    return set->time_exhausted;
}

/* Whether the allocator refuses a growth to nsize for the time bound: read
 * the clock on a large block or every POLICY_TIME_SMALL-th; once over,
 * only small blocks (room for the error and its traceback) are given. */
static int time_refuses(gate_policy_set *set, size_t nsize)
{
    if (!set->time_exhausted &&
        (nsize >= POLICY_TIME_BIG || ++set->alloc_tick % POLICY_TIME_SMALL == 0))
        time_over(set);
    return set->time_exhausted && nsize > 1024;
}

/* Lua's allocator contract: nsize 0 frees; when ptr is NULL osize is a type
 * tag, not a size; shrinking must not fail. Growth beyond mem_cap fails. */
static void *policy_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    gate_policy_set *set = ud;
    size_t old = ptr ? osize : 0;
    int retry;
    void *p;

    if (nsize == 0) {
        free(ptr);
        set->mem_used -= old;
        return NULL;
    }
    if (nsize > old &&
        (set->mem_used > set->mem_cap || nsize - old > set->mem_cap - set->mem_used))
        return alloc_refuse(set, ptr, osize, nsize);
    if (nsize > old && set->deadline > 0 && time_refuses(set, nsize))
        return NULL;   /* not a memory refusal: Lua raises, the hook ends the run */
    if (nsize > old && gate_fault("lua.alloc"))
        return NULL;   /* as the system running out: Lua raises "not enough memory" */
    retry = set->refused && is_retry(set, ptr, osize, nsize);
    p = realloc(ptr, nsize);
    if (p == NULL) {
        if (nsize > old)
            return alloc_refuse(set, ptr, osize, nsize);
        p = ptr;   /* a failed shrink keeps the block; Lua now calls it nsize */
    }
    set->mem_used = set->mem_used - old + nsize;
    if (nsize > old && set->refused) {
        if (!retry)
            set->mem_exhausted = 1;   /* the refused request was never retried */
        set->refused = 0;
    }
    return p;
}

/* ---- instruction budget: the count hook -------------------------------- */

/* Counts instructions in steps of POLICY_INSTR_STEP. Once a budget is gone
 * it re-arms to fire on every instruction and raises each time, so a pcall
 * in the policy that catches the error is interrupted again at its next
 * instruction until the error reaches our own lua_pcall. */
static void budget_hook(lua_State *L, lua_Debug *ar)
{
    gate_policy_set *set = state_set(L);

    (void)ar;
    set->instr_used += set->instr_step;
    if (set->instr_used > POLICY_INSTR_LIMIT)
        set->instr_exhausted = 1;
    time_over(set);
    if (!set->instr_exhausted && !set->mem_exhausted && !set->time_exhausted)
        return;
    if (set->instr_step != 1) {
        set->instr_step = 1;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushstring(L, set->time_exhausted    ? "time limit exceeded"
                      : set->instr_exhausted ? "instruction budget exhausted"
                                             : "memory budget exhausted");
    lua_error(L);
}

/* ---- JSON -> Lua ------------------------------------------------------ */

/* Pushes a JSON string, number, boolean or null (as nil). */
static void push_scalar(lua_State *L, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

/* Pushes j as a Lua value: objects and arrays become tables (arrays 1-based),
 * null becomes nil (so null members and elements are simply absent),
 * integers stay integers. Raises on memory or nesting beyond the cap. */
static void push_json(lua_State *L, const json_t *j, int depth)
{
    if (depth > POLICY_JSON_DEPTH)
        luaL_error(L, "JSON nested deeper than %d levels", POLICY_JSON_DEPTH);
    luaL_checkstack(L, 4, "converting JSON");

    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        void *it = json_object_iter((json_t *)j);
        lua_createtable(L, 0, (int)json_object_size(j));
        for (; it != NULL; it = json_object_iter_next((json_t *)j, it)) {
            const json_t *v = json_object_iter_value(it);
            if (json_is_null(v))
                continue;
            lua_pushstring(L, json_object_iter_key(it));
            push_json(L, v, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i, n = json_array_size(j);
        lua_createtable(L, (int)n, 0);
        for (i = 0; i < n; i++) {
            const json_t *v = json_array_get(j, i);
            if (json_is_null(v))
                continue;
            push_json(L, v, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    default:
        push_scalar(L, j);
        break;
    }
}

/* Pushes a json_t the view handed us (a new reference we own): parked in
 * set->pending while converting, so a Lua error does not leak it. */
static void push_owned_json(lua_State *L, gate_policy_set *set, json_t *j)
{
    set->pending = j;
    push_json(L, j, 0);
    set->pending = NULL;
    json_decref(j);
}

/* ---- read-only views ---------------------------------------------------
 *
 * One evaluation builds one ctx and every policy reads the same tables,
 * through views that refuse writes, so nothing one policy does to ctx can
 * change what the next one sees. A view is an empty table whose metatable
 * (locked: getmetatable(view) is false; a fresh one per view) holds
 *   __index         ro_index until the view is filled, then its data table,
 *                   so every read after the first is a plain table lookup
 *   __newindex      ro_newindex: refuses (and fails the policy, see below)
 *   __len, __pairs  answer from the data (# of a JSON array needs no fill)
 *   [&ro_src_key]   what the data is made from: a json_t (light userdata)
 *                   read lazily, or a table already converted (twin results)
 *   [&ro_gen_key]   for a json_t: the evaluation it belongs to (absent: it
 *                   is owned by the set and lives as long as the state)
 *   [&ro_data_key]  the data table, once filled
 * Filling converts one level: members that are objects or arrays become
 * views of their own, so a part of ctx no policy touches is never built.
 * The data table never reaches policy code: reads hand out scalars or
 * views, pairs and next iterate it from C, and the sandbox's rawset and
 * setmetatable refuse views.
 *
 * A write attempt raises, and also marks the run (set->ro_violation): the
 * policy is denied even if it catches the error, as with the budgets.
 *
 * Lifetime. The caller's ctx is borrowed for one gate_policy_eval only;
 * set->gen changes when an evaluation starts and when it ends, and a view
 * whose json_t belongs to another evaluation raises instead of reading it
 * (a policy may keep ctx in a global). Filled views need no source.
 *
 * Memory. Filling happens inside a policy's evaluate but is not charged to
 * it (ctx used to be converted before evaluate): while filling, the cap is
 * the state cap, and afterwards the policy's cap grows by what filling
 * added. Twin results are converted when asked for and charged to the
 * policy that asked, as before; views over them add little. */

static const char ro_src_key = 0, ro_gen_key = 0, ro_data_key = 0;

static int ro_index(lua_State *L);
static int ro_newindex(lua_State *L);
static int ro_len(lua_State *L);
static int ro_pairs(lua_State *L);

/* Pushes a new empty view and, above it, its metatable with the
 * metamethods set; the caller adds the private fields and calls
 * lua_setmetatable(L, -2). */
static void ro_push_shell(lua_State *L)
{
    lua_createtable(L, 0, 0);
    lua_createtable(L, 0, 8);
    lua_pushcfunction(L, ro_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, ro_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, ro_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
}

/* Pushes an unfilled view of the object or array j, read while set->gen is
 * gen (0: j lives as long as the state). */
static void ro_push_json(lua_State *L, const json_t *j, lua_Integer gen)
{
    ro_push_shell(L);
    lua_pushlightuserdata(L, (void *)j);
    lua_rawsetp(L, -2, &ro_src_key);
    if (gen != 0) {
        lua_pushinteger(L, gen);
        lua_rawsetp(L, -2, &ro_gen_key);
    }
    lua_setmetatable(L, -2);
}

/* Pushes an unfilled view of the table at idx, which the view takes: its
 * tables are replaced by views in place when the view is filled, so no one
 * else may hold it. */
static void ro_push_table(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    ro_push_shell(L);
    lua_pushvalue(L, idx);
    lua_rawsetp(L, -2, &ro_src_key);
    lua_setmetatable(L, -2);
}

/* Pushes a filled view whose data is the table at idx (taken likewise; its
 * values must already be scalars, functions or views). */
static void ro_push_filled(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    ro_push_shell(L);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, idx);
    lua_rawsetp(L, -2, &ro_data_key);
    lua_setmetatable(L, -2);
}

/* Whether the value at idx is a view. Only C can make a metatable whose
 * __newindex is ro_newindex. */
static int ro_is_view(lua_State *L, int idx)
{
    int yes;
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx))
        return 0;
    lua_pushliteral(L, "__newindex");
    lua_rawget(L, -2);
    yes = lua_tocfunction(L, -1) == ro_newindex;
    lua_pop(L, 2);
    return yes;
}

/* Raises unless the json_t source of the view whose metatable is at mt is
 * alive (belongs to this evaluation or to the set). */
static void ro_check_alive(lua_State *L, int mt)
{
    lua_Integer gen;
    lua_rawgetp(L, mt, &ro_gen_key);
    gen = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (gen != 0 && gen != state_set(L)->gen)
        luaL_error(L, "ctx from an earlier evaluation can no longer be read "
                      "(keep values from ctx, not ctx itself, across evaluations)");
}

/* Number of elements of a JSON array as Lua sees it: trailing nulls are
 * absent, so # is the last non-null position. */
static size_t ro_json_len(const json_t *a)
{
    size_t n = json_array_size(a);
    while (n > 0 && json_is_null(json_array_get(a, n - 1)))
        n--;
    return n;
}

/* Fills the view whose metatable is argument 1 and returns its data. */
static int ro_fill_cf(lua_State *L)
{
    lua_Integer gen;
    int data;

    lua_rawgetp(L, 1, &ro_gen_key);
    gen = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (lua_rawgetp(L, 1, &ro_src_key) == LUA_TTABLE) {
        /* converted already: wrap its tables, in place */
        data = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, data)) {
            if (lua_type(L, -1) == LUA_TTABLE) {
                ro_push_table(L, -1);
                lua_remove(L, -2);
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, data);   /* an existing key: next stays valid */
            } else {
                lua_pop(L, 1);
            }
        }
    } else {
        const json_t *j = lua_touserdata(L, -1);
        lua_pop(L, 1);
        if (json_is_object(j)) {
            const char *key;
            const json_t *v;
            lua_createtable(L, 0, (int)json_object_size(j));
            data = lua_gettop(L);
            json_object_foreach((json_t *)j, key, v) {
                if (json_is_null(v))
                    continue;
                lua_pushstring(L, key);
                if (json_is_object(v) || json_is_array(v))
                    ro_push_json(L, v, gen);
                else
                    push_scalar(L, v);
                lua_rawset(L, data);
            }
        } else {
            size_t i, n = ro_json_len(j);
            lua_createtable(L, (int)n, 0);
            data = lua_gettop(L);
            for (i = 0; i < n; i++) {
                const json_t *v = json_array_get(j, i);
                if (json_is_null(v))
                    continue;
                if (json_is_object(v) || json_is_array(v))
                    ro_push_json(L, v, gen);
                else
                    push_scalar(L, v);
                lua_rawseti(L, data, (lua_Integer)i + 1);
            }
        }
    }
    lua_pushvalue(L, data);
    lua_setfield(L, 1, "__index");
    lua_pushvalue(L, data);
    lua_rawsetp(L, 1, &ro_data_key);
    lua_pushnil(L);
    lua_rawsetp(L, 1, &ro_src_key);
    return 1;
}

/* Pushes the data table of the view at idx (a view: callers check),
 * filling it first if needed, outside the policy's memory budget. */
static void ro_push_data(lua_State *L, int idx)
{
    gate_policy_set *set = state_set(L);
    size_t cap, used;
    int status;

    lua_getmetatable(L, idx);
    if (lua_rawgetp(L, -1, &ro_data_key) == LUA_TTABLE) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    ro_check_alive(L, lua_gettop(L));
    lua_pushcfunction(L, ro_fill_cf);
    lua_insert(L, -2);
    cap = set->mem_cap;
    used = set->mem_used;
    set->mem_cap = POLICY_MEM_STATE;
    status = lua_pcall(L, 1, 1, 0);
    if (set->mem_used > used) {
        size_t grown = set->mem_used - used;
        set->fill_bytes += grown;
        cap = grown < POLICY_MEM_STATE - cap ? cap + grown : POLICY_MEM_STATE;
    }
    set->mem_cap = cap;
    if (status != LUA_OK) {
        set->fill_failed = 1;
        lua_error(L);
    }
}

/* __index before the view is filled (afterwards __index is the data). */
static int ro_index(lua_State *L)
{
    ro_push_data(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

/* Refuses a change to a view: raises "attempt to modify read-only ctx
 * (<what>)" at the caller's line and marks the run, so that catching the
 * error does not save the policy. */
static int ro_refuse(lua_State *L, const char *what)
{
    gate_policy_set *set = state_set(L);
    char msg[POLICY_RO_MSG];

    snprintf(msg, sizeof msg, "attempt to modify read-only ctx (%s)", what);
    if (!set->ro_violation)
        memcpy(set->ro_msg, msg, sizeof msg);
    set->ro_violation = 1;
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    return lua_error(L);
}

/* ro_refuse for a write of key (at idx). */
static int ro_refuse_key(lua_State *L, int idx)
{
    char what[96];
    if (lua_type(L, idx) == LUA_TSTRING)
        snprintf(what, sizeof what, "key '%.60s'", lua_tostring(L, idx));
    else if (lua_isinteger(L, idx))
        snprintf(what, sizeof what, "key %lld", (long long)lua_tointeger(L, idx));
    else
        snprintf(what, sizeof what, "a %s key", luaL_typename(L, idx));
    return ro_refuse(L, what);
}

static int ro_newindex(lua_State *L)
{
    return ro_refuse_key(L, 2);
}

/* # of a view: that of its data, which filling does not change, so an
 * unfilled view answers from its source. */
static int ro_len(lua_State *L)
{
    lua_getmetatable(L, 1);
    if (lua_rawgetp(L, -1, &ro_data_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        if (lua_rawgetp(L, -1, &ro_src_key) == LUA_TLIGHTUSERDATA) {
            const json_t *j = lua_touserdata(L, -1);
            ro_check_alive(L, -2);
            lua_pushinteger(L, json_is_array(j) ? (lua_Integer)ro_json_len(j) : 0);
            return 1;
        }
    }
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/* The iterator pairs(view) returns: next over the data, which stays in C. */
static int ro_next(lua_State *L)
{
    luaL_argexpected(L, ro_is_view(L, 1), 1, "read-only ctx table");
    lua_settop(L, 2);
    ro_push_data(L, 1);
    lua_pushvalue(L, 2);
    if (lua_next(L, 3))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int ro_pairs(lua_State *L)
{
    lua_pushcfunction(L, ro_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* ---- Lua -> JSON (config.lua) ----------------------------------------- */

/* Converts the plain-data Lua value at idx to JSON. Raises nothing (only
 * raw, non-allocating reads), so it may run unprotected. A table whose keys
 * are exactly 1..n becomes an array, one with only string keys an object
 * (the empty table is {}). On failure returns NULL and names the key path. */
static json_t *lua_to_json(lua_State *L, int idx, const char *path, int depth,
                           char *err, size_t errlen)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        return jcheck(json_boolean(lua_toboolean(L, idx)));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return jcheck(json_integer((json_int_t)lua_tointeger(L, idx)));
        if (!isfinite(lua_tonumber(L, idx))) {
            fail(err, errlen, "%s: not a finite number", path);
            return NULL;
        }
        return jcheck(json_real(lua_tonumber(L, idx)));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        json_t *j = json_stringn(s, n);
        if (j == NULL)
            fail(err, errlen, "%s: string is not valid UTF-8", path);
        return j;
    }
    case LUA_TTABLE:
        break;
    default:
        fail(err, errlen, "%s: a %s cannot be a config value", path,
             luaL_typename(L, idx));
        return NULL;
    }

    if (depth >= POLICY_JSON_DEPTH || !lua_checkstack(L, 4)) {
        fail(err, errlen, "%s: nested deeper than %d levels", path, POLICY_JSON_DEPTH);
        return NULL;
    }

    size_t count = 0, n = (size_t)lua_rawlen(L, idx);
    int all_strings = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (lua_type(L, -2) != LUA_TSTRING)
            all_strings = 0;
        lua_pop(L, 1);
    }

    char sub[256];
    json_t *out;
    if (!all_strings && count == n) {
        out = jcheck(json_array());
        for (size_t i = 1; i <= n; i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            lua_rawgeti(L, idx, (lua_Integer)i);
            json_t *v = lua_to_json(L, -1, sub, depth + 1, err, errlen);
            lua_pop(L, 1);
            if (v == NULL) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, v);
        }
        return out;
    }
    if (!all_strings) {
        fail(err, errlen, "%s: a table must be a sequence or have only string keys", path);
        return NULL;
    }
    out = jcheck(json_object());
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *key = lua_tostring(L, -2);   /* a string: no conversion */
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        json_t *v = lua_to_json(L, -1, sub, depth + 1, err, errlen);
        if (v == NULL) {
            lua_pop(L, 2);
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, key, v);
        lua_pop(L, 1);
    }
    return out;
}

/* Merges over into base (which we own): objects merge key by key, null
 * removes a key, anything else replaces. over is borrowed and never
 * modified (values from it may be shared into base by reference). */
static void json_merge(json_t *base, const json_t *over)
{
    void *it;
    for (it = json_object_iter((json_t *)over); it != NULL;
         it = json_object_iter_next((json_t *)over, it)) {
        const char *key = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        json_t *cur = json_object_get(base, key);
        if (json_is_null(v)) {
            json_object_del(base, key);
        } else if (json_is_object(v) && json_is_object(cur)) {
            json_merge(cur, v);
        } else {
            json_object_set(base, key, v);
        }
    }
}

/* ---- the sandbox ------------------------------------------------------ */

/* Calls upvalue 1 with this call's arguments and returns what it returns. */
static int call_guarded(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* lauxlib's string buffers (string.rep, string.format, table.concat, ...)
 * call the allocator directly, without the emergency collection Lua's core
 * runs before giving up, so near the cap such a function could be refused
 * room that is only garbage, and whether it is would depend on where the
 * collector happens to be (on earlier evaluations, say). The sandbox's
 * copies of those functions are wrapped: within POLICY_GC_ROOM of the cap,
 * collect first (again only once the heap has grown by a quarter of that
 * room, so a policy really holding its budget does not collect per call).
 * Upvalue 1 is the original function. */
static int gc_guarded(lua_State *L)
{
    gate_policy_set *set = state_set(L);

    if (set->mem_used + POLICY_GC_ROOM > set->mem_cap &&
        set->mem_used >= set->gc_mark + POLICY_GC_ROOM / 4) {
        lua_gc(L, LUA_GCCOLLECT);
        set->gc_mark = set->mem_used;
    }
    return call_guarded(L);
}

/* The library functions gc_guarded wraps: those building results in a
 * luaL_Buffer. */
static const char *const gc_guarded_names[] = {
    "string.rep", "string.format", "string.gsub", "string.upper", "string.lower",
    "string.reverse", "string.char", "string.pack", "table.concat", "utf8.char", NULL
};

/* ---- the guards: C calls that could outlast the time bound -------------
 *
 * The hook and the allocator cannot stop a C function that loops without
 * allocating. Of the sandbox's functions, these can: pattern matching
 * (backtracking over repeated classes), plain find (needle times subject),
 * string.rep of "" (a loop of n empty copies), table.sort without a
 * comparison function, table.move. Each is wrapped by a guard that
 * bounds the call's worst case before it starts and refuses it (an error
 * naming the function) when that is beyond POLICY_STEPS. Upvalue 1 is the
 * function guarded. */

/* Lua 5.4's pattern classes, as lstrlib.c reads them (match_class,
 * matchbracketclass, classEnd), for bounding a match; the match itself is
 * Lua's. */
static int pat_class(int c, int cl)
{
    int res;
    switch (tolower(cl)) {
    case 'a': res = isalpha(c); break;
    case 'c': res = iscntrl(c); break;
    case 'd': res = isdigit(c); break;
    case 'g': res = isgraph(c); break;
    case 'l': res = islower(c); break;
    case 'p': res = ispunct(c); break;
    case 's': res = isspace(c); break;
    case 'u': res = isupper(c); break;
    case 'w': res = isalnum(c); break;
    case 'x': res = isxdigit(c); break;
    default: return cl == c;
    }
    return isupper(cl) ? !res : res != 0;
}

/* p at '[', ec at its ']'. */
static int pat_bracket(int c, const char *p, const char *ec)
{
    int sig = 1;
    if (p[1] == '^') {
        sig = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == '%') {
            p++;
            if (pat_class(c, (unsigned char)*p))
                return sig;
        } else if (p[1] == '-' && p + 2 < ec) {
            p += 2;
            if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p)
                return sig;
        } else if ((unsigned char)*p == c) {
            return sig;
        }
    }
    return !sig;
}

/* The end of the single-character class at p, or NULL if malformed (Lua
 * raises then; the bound stops there). */
static const char *pat_class_end(const char *p, const char *pe)
{
    switch (*p++) {
    case '%':
        return p < pe ? p + 1 : NULL;
    case '[':
        if (p < pe && *p == '^')
            p++;
        do {
            if (p >= pe)
                return NULL;
            if (*p++ == '%' && p < pe)
                p++;
        } while (p >= pe || *p != ']');
        return p + 1;
    default:
        return p;
    }
}

static int pat_single(int c, const char *p, const char *ep)
{
    switch (*p) {
    case '.': return 1;
    case '%': return pat_class(c, (unsigned char)p[1]);
    case '[': return pat_bracket(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

/* One item of a pattern, as do_match (lstrlib.c) reads it. */
typedef struct pat_item {
    enum { PI_SINGLE, PI_PASS, PI_END, PI_FRONTIER, PI_SCAN } kind;
    const char *p, *ep;   /* PI_SINGLE: the class [p, ep) */
    char quant;           /* PI_SINGLE: '*', '+', '-', '?' or 0 */
} pat_item;

/* Parses pat into items (at most max); stops at what Lua would find
 * malformed (it raises there, on the first descent). */
static size_t pat_parse(const char *pat, size_t m, pat_item *it, size_t max)
{
    const char *p = pat, *pe = pat + m;
    size_t k = 0;
    while (p < pe && k < max) {
        pat_item *i = &it[k];
        memset(i, 0, sizeof *i);
        if (*p == '(' || *p == ')') {
            i->kind = PI_PASS;   /* a capture's start or end: one step */
            p += (*p == '(' && p + 1 < pe && p[1] == ')') ? 2 : 1;
        } else if (*p == '$' && p + 1 == pe) {
            i->kind = PI_END;
            p++;
        } else if (*p == '%' && p + 1 < pe && p[1] == 'b') {
            i->kind = PI_SCAN;   /* %bxy: scans to the balancing y */
            if (p + 4 > pe)
                break;
            p += 4;
        } else if (*p == '%' && p + 1 < pe && p[1] == 'f') {
            i->kind = PI_FRONTIER;
            p += 2;
            if (p >= pe || *p != '[' || (p = pat_class_end(p, pe)) == NULL)
                break;
        } else if (*p == '%' && p + 1 < pe && isdigit((unsigned char)p[1])) {
            i->kind = PI_SCAN;   /* a back-reference: compares up to its length */
            p += 2;
        } else {
            const char *ep = pat_class_end(p, pe);
            if (ep == NULL)
                break;
            i->kind = PI_SINGLE;
            i->p = p;
            i->ep = ep;
            if (ep < pe && strchr("*+-?", *ep) != NULL)
                i->quant = *ep++;
            p = ep;
        }
        k++;
    }
    return k;
}

#define PAT_ITEMS   256                   /* more and Lua's matchdepth (200) refuses */
#define PAT_DP_MAX  ((size_t)1 << 20)      /* subjects longer: the cruder bound */
#define PAT_DP_WORK ((double)(1 << 24))    /* items times subject: beyond, the cruder bound */

/* A bound on the steps do_match takes for pattern pat on subject s (n
 * bytes): at the first position only (anchored), or summed over every
 * start (n + 1 of them), as find, match, gmatch and gsub try them.
 *
 * Worked backwards over the items: W[j] bounds matching the items from
 * this one on at position j. A single class: one step, and if it matches
 * s[j] the rest at j + 1. Repeated ('*', '+', '-'): the run r of s from j
 * that the class matches, then the rest at each of j .. j + r. '?': the
 * rest at j and, if it matches, at j + 1. A capture's start or end, a
 * frontier: one step, the rest at j. %b and a back-reference: a scan to
 * the end of the subject, then the rest at the worst position. This counts
 * every branch the matcher could try, so real matches (which stop at the
 * first success, and whose branches mostly fail at once) take fewer.
 *
 * The cruder bound comes first, with no arrays: each repeated class may
 * branch (n + 1) ways. It is the answer when it is low enough, and when
 * the walk would be too long itself (a subject over PAT_DP_MAX bytes, more
 * than PAT_ITEMS items, items times bytes over PAT_DP_WORK). */
static double pat_cost(const char *s, size_t n, const char *pat, size_t m, int anchored)
{
    pat_item it[PAT_ITEMS];
    size_t k = pat_parse(pat, m, it, PAT_ITEMS);
    double total = 0;

    /* the cruder bound first: when it is low enough (short subjects, few
     * repeats) there is no need for more */
    double ways = anchored ? 1 : (double)n + 1;
    for (size_t i = 0; i < k && ways <= POLICY_STEPS; i++) {
        if (it[i].kind == PI_SCAN || (it[i].kind == PI_SINGLE && it[i].quant && it[i].quant != '?'))
            ways *= (double)n + 1;
        else if (it[i].kind == PI_SINGLE && it[i].quant == '?')
            ways *= 2;
    }
    ways *= (double)(k + 1);
    if (ways <= POLICY_STEPS || k == PAT_ITEMS || n > PAT_DP_MAX || (double)k * (double)n > PAT_DP_WORK)
        return ways;

    /* w: the items after this one (W'), v: this one's (W); sum[j] = the sum
     * of w[j..n] (the rest tried at each position of a run) */
    double *w = xcalloc(n + 2, sizeof *w), *v = xcalloc(n + 2, sizeof *v);
    double *sum = xcalloc(n + 3, sizeof *sum);
    for (size_t j = 0; j <= n; j++)
        w[j] = 1;   /* past the last item: the match is found */
    for (size_t i = k; i-- > 0;) {
        const pat_item *pi = &it[i];
        double worst = 0;
        sum[n + 1] = 0;
        for (size_t j = n + 1; j-- > 0;) {
            sum[j] = sum[j + 1] + w[j];
            if (w[j] > worst)
                worst = w[j];
        }
        size_t run = 0;   /* the run of s from j the class matches */
        for (size_t j = n + 1; j-- > 0;) {
            int hit = 0;
            if (pi->kind == PI_SINGLE) {
                hit = j < n && pat_single((unsigned char)s[j], pi->p, pi->ep);
                run = hit ? run + 1 : 0;
            }
            switch (pi->kind) {
            case PI_PASS:
            case PI_FRONTIER:
                v[j] = 1 + w[j];
                break;
            case PI_END:
                v[j] = 1;
                break;
            case PI_SCAN:
                v[j] = (double)(n - j) + 1 + worst;
                break;
            case PI_SINGLE:
                switch (pi->quant) {
                case '*':
                case '-':
                    v[j] = (double)run + 1 + sum[j] - sum[j + run + 1];
                    break;
                case '+':
                    v[j] = 1 + (run ? (double)run + sum[j + 1] - sum[j + run + 1] : 0);
                    break;
                case '?':
                    v[j] = 1 + w[j] + (hit ? w[j + 1] : 0);
                    break;
                default:
                    v[j] = 1 + (hit ? w[j + 1] : 0);
                }
            }
        }
        double *t = w;
        w = v;
        v = t;
    }
    if (anchored) {
        total = w[0];
    } else {
        for (size_t j = 0; j <= n; j++)
            total += w[j];
    }
    free(w);
    free(v);
    free(sum);
    return total;
}

/* Lua's "no specials": find takes such a pattern as plain text. */
static int pat_plain(const char *pat, size_t m)
{
    for (size_t i = 0; i < m; i++)
        if (strchr("^$*+?.([%-", pat[i]) != NULL)
            return 0;
    return 1;
}

/* The start of a subject of n bytes at Lua's init (1-based, negative from
 * the end; lstrlib's posrelatI), or n + 1 when it is past the end. */
static size_t pat_init(lua_State *L, int arg, size_t n)
{
    lua_Integer init = luaL_optinteger(L, arg, 1);
    if (init > 0)
        return (size_t)init <= n + 1 ? (size_t)init - 1 : n + 1;
    if (init == 0 || (lua_Unsigned)-init > n)
        return 0;
    return n - (size_t)-init;
}

/* Refuses a call to `name` (s, pattern [, init]) whose worst case is beyond
 * POLICY_STEPS. find: plain (4th argument, or no specials) costs needle
 * times subject. gmatch and gsub try every start. */
static void pat_check(lua_State *L, const char *name, int is_find, int has_init, int anchor_ok)
{
    size_t n, m;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *pat = luaL_checklstring(L, 2, &m);
    size_t at = has_init ? pat_init(L, 3, n) : 0;
    double cost;

    if (at > n)
        return;   /* Lua answers nil at once */
    s += at;
    n -= at;
    if (is_find && (lua_toboolean(L, 4) || pat_plain(pat, m))) {
        cost = m <= n ? ((double)n - (double)m + 1) * (double)m : 0;
        if (cost <= POLICY_STEPS * 16)
            return;
        luaL_error(L, "%s: a plain search for %d bytes in %d could outlast the policy's time limit",
                   name, (int)m, (int)n);
    }
    int anchored = anchor_ok && m > 0 && *pat == '^';
    cost = anchored ? pat_cost(s, n, pat + 1, m - 1, 1) : pat_cost(s, n, pat, m, 0);
    if (cost > POLICY_STEPS)
        luaL_error(L, "%s: pattern \"%s\" on a subject of %d bytes could outlast the policy's time "
                      "limit (it backtracks too much; anchor it, or make its repeated classes "
                      "narrower)", name, m > 64 ? "(long)" : pat, (int)n);
}

static int guard_find(lua_State *L)
{
    pat_check(L, "string.find", 1, 1, 1);
    return call_guarded(L);
}

static int guard_match(lua_State *L)
{
    pat_check(L, "string.match", 0, 1, 1);
    return call_guarded(L);
}

static int guard_gmatch(lua_State *L)
{
    pat_check(L, "string.gmatch", 0, 1, 0);   /* gmatch takes '^' literally */
    return call_guarded(L);
}

static int guard_gsub(lua_State *L)
{
    pat_check(L, "string.gsub", 0, 0, 1);
    return call_guarded(L);
}

/* string.rep(s, n [, sep]) copies n times; with s and sep both empty that
 * is a loop of n empty copies (n may be 2^62): the answer is "" at once. */
static int guard_rep(lua_State *L)
{
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0 && l == 0 && lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    return call_guarded(L);
}

/* table.sort without a comparison function compares in C, out of the
 * hook's sight: at most 2^20 elements (n log n is then about POLICY_STEPS
 * / 2). With one, each comparison runs Lua and the hook sees it. */
static int guard_sort(lua_State *L)
{
    if (lua_isnoneornil(L, 2) && lua_type(L, 1) == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, 1);
        if (n > ((lua_Integer)1 << 20))
            return luaL_error(L, "table.sort: %I elements without a comparison function could "
                                 "outlast the policy's time limit (at most 1048576)", (LUAI_UACINT)n);
    }
    return call_guarded(L);
}

/* table.move(a1, f, e, t [, a2]) loops e - f + 1 times even over nils. */
static int guard_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    if (e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= ((lua_Unsigned)1 << 24))
        return luaL_error(L, "table.move: a range of more than 16777216 elements could outlast "
                             "the policy's time limit");
    return call_guarded(L);
}

static const struct {
    const char *name;
    lua_CFunction guard;
} guarded_calls[] = {
    { "string.find", guard_find }, { "string.match", guard_match },
    { "string.gmatch", guard_gmatch }, { "string.gsub", guard_gsub },
    { "string.rep", guard_rep }, { "table.sort", guard_sort }, { "table.move", guard_move },
};

/* Base functions a policy may use (the allow-list; cf. linit.c). */
static const char *const sandbox_base[] = {
    "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
    "rawequal", "rawget", "rawlen", "rawset", "select", "tonumber",
    "tostring", "type", "xpcall", "_VERSION", NULL
};
/* Libraries a policy gets its own shallow copy of. */
static const char *const sandbox_libs[] = { "string", "table", "math", "utf8", NULL };

/* setmetatable without __gc: a finalizer would run at some later collection,
 * outside this policy's evaluation and budgets. Otherwise as the base one
 * (a view's metatable is protected; trying counts as a write to ctx). */
static int sandbox_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (ro_is_view(L, 1))
        return ro_refuse(L, "setmetatable");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed in policies");
        lua_pop(L, 1);
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* The raw functions see through views to their data (next, rawget,
 * rawlen) or refuse them (rawset); otherwise they are the base ones. */
static int sandbox_next(lua_State *L)
{
    if (ro_is_view(L, 1))
        return ro_next(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int sandbox_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    if (ro_is_view(L, 1)) {
        ro_push_data(L, 1);
        lua_replace(L, 1);
    }
    lua_rawget(L, 1);
    return 1;
}

static int sandbox_rawlen(lua_State *L)
{
    int t = lua_type(L, 1);
    luaL_argexpected(L, t == LUA_TTABLE || t == LUA_TSTRING, 1, "table or string");
    if (ro_is_view(L, 1)) {
        lua_settop(L, 1);
        return ro_len(L);
    }
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
    return 1;
}

static int sandbox_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (ro_is_view(L, 1))
        return ro_refuse_key(L, 2);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* print: one line of the gate's log, "airlock: policy NAME: a<TAB>b",
 * capped, control characters escaped (gate_log): a value a policy prints
 * from a request cannot forge a line of its own. */
static int sandbox_print(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    int i, n = lua_gettop(L);
    size_t room = POLICY_PRINT_MAX, used = 0;
    char line[POLICY_PRINT_MAX];   /* on the stack: a __tostring that errors leaks nothing */
    for (i = 1; i <= n && room > 0; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1) {
            line[used++] = '\t';
            room--;
        }
        if (len > room)
            len = room;
        memcpy(line + used, s, len);
        used += len;
        room -= len;
        lua_pop(L, 1);
    }
    char *esc = gate_log_escape(line, used);   /* an embedded NUL is written escaped, not cut */
    gate_log("policy %s: %s%s", name, esc, room == 0 ? "..." : "");
    free(esc);
    return 0;
}

/* allow([fmt, ...]) / review(fmt, ...) / deny(fmt, ...): a verdict table
 * {verdict=, reason=} marked by a metatable only C can reach, so a policy
 * cannot forge one from a plain table. Upvalue 1 is the sandbox's
 * string.format (a policy's own string table may have been changed). */
static int make_verdict(lua_State *L, const char *verdict, int reason_required)
{
    int n = lua_gettop(L);

    if (n == 0) {
        if (reason_required)
            return luaL_error(L, "%s() needs a reason: %s(fmt, ...)", verdict, verdict);
        lua_pushliteral(L, "");
    } else {
        luaL_checktype(L, 1, LUA_TSTRING);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, n, 1);
    }
    lua_createtable(L, 0, 2);
    lua_pushstring(L, verdict);
    lua_setfield(L, -2, "verdict");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "reason");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &verdict_mt_key);
    lua_setmetatable(L, -2);
    return 1;
}

static int verdict_allow(lua_State *L) { return make_verdict(L, "allow", 0); }
static int verdict_review(lua_State *L) { return make_verdict(L, "review", 1); }
static int verdict_deny(lua_State *L) { return make_verdict(L, "deny", 1); }

/* Read-only proxies (lib and its modules): an empty table whose locked
 * metatable reads through to the real one and refuses writes. */
static int readonly_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify read-only table (key '%s')",
                      luaL_tolstring(L, 2, NULL));
}

static int readonly_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, lua_upvalueindex(1)));
    return 1;
}

static int readonly_pairs(lua_State *L)
{
    lua_getglobal(L, "next");   /* the state's real globals, not the sandbox */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushnil(L);
    return 3;
}

static void push_readonly(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_createtable(L, 0, 5);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, readonly_len, 1);
    lua_setfield(L, -2, "__len");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, readonly_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* Pushes a fresh environment table for a chunk owned by policy `owner`
 * (used in print's prefix). Everything in it is either an immutable value,
 * a C function, or a private copy, so changing it affects nothing else. */
static void push_env(lua_State *L, const char *owner)
{
    int env, i;

    lua_createtable(L, 0, 32);
    env = lua_gettop(L);
    for (i = 0; sandbox_base[i] != NULL; i++) {
        lua_getglobal(L, sandbox_base[i]);
        lua_setfield(L, env, sandbox_base[i]);
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sandbox_libs_key);
    for (i = 0; sandbox_libs[i] != NULL; i++) {
        int src;
        lua_getfield(L, -1, sandbox_libs[i]);
        src = lua_gettop(L);
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, src)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, src + 1);
        }
        lua_setfield(L, env, sandbox_libs[i]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, sandbox_setmetatable);
    lua_setfield(L, env, "setmetatable");
    lua_pushcfunction(L, sandbox_next);
    lua_setfield(L, env, "next");
    lua_pushcfunction(L, sandbox_rawget);
    lua_setfield(L, env, "rawget");
    lua_pushcfunction(L, sandbox_rawlen);
    lua_setfield(L, env, "rawlen");
    lua_pushcfunction(L, sandbox_rawset);
    lua_setfield(L, env, "rawset");
    lua_pushstring(L, owner);
    lua_pushcclosure(L, sandbox_print, 1);
    lua_setfield(L, env, "print");

    lua_rawgetp(L, LUA_REGISTRYINDEX, &sandbox_libs_key);
    lua_getfield(L, -1, "string");
    lua_getfield(L, -1, "format");
    lua_remove(L, -2);
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, verdict_allow, 1);
    lua_setfield(L, env, "allow");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, verdict_review, 1);
    lua_setfield(L, env, "review");
    lua_pushcclosure(L, verdict_deny, 1);
    lua_setfield(L, env, "deny");
    lua_pop(L, 1);

    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
}

/* ---- ctx.twin and ctx.history ----------------------------------------- */

static gate_policy_set *upvalue_set(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* nil or "" -> NULL */
static const char *opt_name(lua_State *L, int arg)
{
    const char *s = luaL_optstring(L, arg, NULL);
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static int opt_when(lua_State *L, int arg)
{
    const char *w = luaL_optstring(L, arg, "after");
    if (strcmp(w, "after") == 0)
        return 1;
    if (strcmp(w, "before") == 0)
        return 0;
    return luaL_argerror(L, arg, "expected \"before\" or \"after\"");
}

/* The view's answers are kept for the rest of the evaluation, keyed by the
 * call (the twin and the history do not change during one evaluation), and
 * handed to every policy that asks again: the same read-only table.
 * cache_find: with the key on top, pushes the kept answer above it and
 * returns 1, or returns 0 and leaves the stack as it was. */
static int cache_find(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &twin_cache_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, -2);
    if (lua_rawget(L, -2) == LUA_TNIL) {
        lua_pop(L, 2);
        return 0;
    }
    lua_remove(L, -2);
    return 1;
}

/* With the key below the answer on top: keeps the answer (left on top). */
static void cache_keep(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &twin_cache_key) == LUA_TTABLE) {
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
}

/* Converts j (a new reference, taken) and pushes it as a read-only view
 * (scalars as they are). The conversion is charged to the running policy. */
static void push_owned_view(lua_State *L, gate_policy_set *set, json_t *j)
{
    push_owned_json(L, set, j);
    if (lua_type(L, -1) == LUA_TTABLE) {
        ro_push_table(L, -1);
        lua_remove(L, -2);
    }
}

/* Pushes the cache key of a twin call: its arguments, unambiguously. */
static void push_twin_key(lua_State *L, const char *fn, int when, const char *kind,
                          const char *ns, const char *last)
{
    lua_pushfstring(L, "%s %d %d:%s %d:%s %s", fn, when, (int)strlen(kind), kind,
                    ns ? (int)strlen(ns) : 0, ns ? ns : "", last ? last : "");
}

/* ctx.twin.get(kind, ns, name [, when]) -> table or nil */
static int twin_get_cf(lua_State *L)
{
    gate_policy_set *set = upvalue_set(L);
    const char *kind = luaL_checkstring(L, 1);
    const char *ns = opt_name(L, 2);
    const char *name = luaL_checkstring(L, 3);
    int when = opt_when(L, 4);
    const gate_policy_view *v = set->view;

    if (v == NULL || v->get == NULL)
        return luaL_error(L, "ctx.twin.get: no twin in this evaluation");
    push_twin_key(L, "get", when, kind, ns, name);
    if (!cache_find(L)) {
        json_t *j = v->get(v->ud, when, kind, ns, name);
        if (j == NULL)
            lua_pushboolean(L, 0);   /* kept as false, answered as nil */
        else
            push_owned_view(L, set, j);
        cache_keep(L);
    }
    if (lua_type(L, -1) == LUA_TBOOLEAN)
        lua_pushnil(L);
    return 1;
}

/* Calls the view's list and checks the answer (a new reference, or raises
 * naming fn). */
static json_t *twin_list_call(lua_State *L, const gate_policy_set *set, const char *fn,
                              int when, const char *kind, const char *ns, const char *selector)
{
    const gate_policy_view *v = set->view;
    json_t *j;

    if (v == NULL || v->list == NULL)
        luaL_error(L, "ctx.twin.%s: no twin in this evaluation", fn);
    j = v->list(v->ud, when, kind, ns, selector);
    if (!json_is_array(j)) {
        json_decref(j);
        luaL_error(L, "ctx.twin.%s(%s): the twin returned no list", fn, kind);
    }
    return j;
}

/* ctx.twin.list(kind, ns, selector [, when]) -> array */
static int twin_list_cf(lua_State *L)
{
    gate_policy_set *set = upvalue_set(L);
    const char *kind = luaL_checkstring(L, 1);
    const char *ns = opt_name(L, 2);
    const char *selector = opt_name(L, 3);
    int when = opt_when(L, 4);

    push_twin_key(L, "list", when, kind, ns, selector);
    if (!cache_find(L)) {
        json_t *j = twin_list_call(L, set, "list", when, kind, ns, selector);
        push_owned_view(L, set, j);
        cache_keep(L);
    }
    return 1;
}

/* ctx.twin.count(kind, ns, selector [, when]) -> integer: #list, without
 * converting the objects. */
static int twin_count_cf(lua_State *L)
{
    gate_policy_set *set = upvalue_set(L);
    const char *kind = luaL_checkstring(L, 1);
    const char *ns = opt_name(L, 2);
    const char *selector = opt_name(L, 3);
    int when = opt_when(L, 4);

    push_twin_key(L, "count", when, kind, ns, selector);
    if (!cache_find(L)) {
        json_t *j = twin_list_call(L, set, "count", when, kind, ns, selector);
        size_t n = json_array_size(j);
        json_decref(j);
        lua_pushinteger(L, (lua_Integer)n);
        cache_keep(L);
    }
    return 1;
}

/* ctx.history.totals(window_seconds) -> {pods_disrupted, cost_added, actions} */
static int history_totals_cf(lua_State *L)
{
    gate_policy_set *set = upvalue_set(L);
    lua_Number window = luaL_checknumber(L, 1);
    const gate_policy_view *v = set->view;

    luaL_argcheck(L, window >= 0 && isfinite(window), 1, "window must be >= 0 seconds");
    if (set->agent == NULL)
        return luaL_error(L, "ctx.history.totals: ctx.agent.name is missing");
    if (v == NULL || v->history == NULL)
        return luaL_error(L, "ctx.history.totals: no history in this evaluation");
    lua_pushnumber(L, window);
    if (!cache_find(L)) {
        json_t *j = v->history(v->ud, set->agent, (double)window);
        if (!json_is_object(j)) {
            json_decref(j);
            return luaL_error(L, "ctx.history.totals: history unavailable for agent %s",
                              set->agent);
        }
        push_owned_view(L, set, j);
        cache_keep(L);
    }
    return 1;
}

/* ---- running a chunk under the budgets -------------------------------- */

/* Message handler: the message plus a traceback. Never runs policy code
 * (no __tostring): it may be called with the budgets already exhausted. */
static int traceback_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls the function below its nargs arguments with fresh budgets, under
 * lua_pcall with the traceback handler. The memory cap is the caller's
 * (set->mem_cap). Returns the lua_pcall status; set->instr_exhausted and
 * set->mem_exhausted say whether a budget ran out (even if the policy
 * caught the error). */
static int run_budgeted(gate_policy_set *set, int nargs, int nresults)
{
    lua_State *L = set->L;
    int handler = lua_gettop(L) - nargs;
    int status;

    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, handler);
    set->instr_used = 0;
    set->instr_step = POLICY_INSTR_STEP;
    set->instr_exhausted = 0;
    set->mem_exhausted = 0;
    set->time_exhausted = 0;
    set->refused = 0;
    set->gc_mark = 0;
    set->deadline = gate_mono() + (set->time_limit > 0 ? set->time_limit : POLICY_TIME);
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, POLICY_INSTR_STEP);
    status = lua_pcall(L, nargs, nresults, handler);
    lua_sethook(L, NULL, 0, 0);
    time_over(set);      /* a run that ended late is over time too */
    set->deadline = 0;   /* outside a run (ctx conversion, collections): no bound */
    if (set->refused)
        set->mem_exhausted = 1;
    set->refused = 0;
    lua_remove(L, handler);
    return status;
}

/* Length of msg without the "stack traceback:" part the handler added. */
static size_t without_traceback(const char *msg)
{
    const char *t = strstr(msg, "\nstack traceback:");
    return t ? (size_t)(t - msg) : strlen(msg);
}

/* How Lua shows the chunk named "@name" in messages (luaO_chunkid): the
 * name, or "..." and its tail when longer than LUA_IDSIZE - 1. */
static void chunk_id(char out[LUA_IDSIZE], const char *name)
{
    size_t n = strlen(name), keep = LUA_IDSIZE - 4;

    if (n < LUA_IDSIZE) {
        memcpy(out, name, n + 1);
    } else {
        memcpy(out, "...", 3);
        memcpy(out + 3, name + n - keep, keep + 1);
    }
}

/* Raises the error message on top of the stack without its traceback and
 * starting with the file's label (the parser's messages start with its
 * chunk name, shown as the label when the two differ; a few messages, like
 * refusing a binary chunk, start with neither). */
static void raise_with_path(lua_State *L, const char *chunk, const char *label)
{
    const char *msg = lua_tostring(L, -1);
    char id[LUA_IDSIZE];
    size_t n, idn;

    if (msg == NULL)
        msg = "(error object is not a string)";
    n = without_traceback(msg);
    chunk_id(id, chunk);
    idn = strlen(id);
    if (strcmp(chunk, label) != 0 && n > idn && strncmp(msg, id, idn) == 0 && msg[idn] == ':') {
        lua_pushstring(L, label);
        lua_pushlstring(L, msg + idn, n - idn);
        lua_concat(L, 2);
        lua_error(L);
    }
    lua_pushlstring(L, msg, n);
    if (strncmp(msg, label, strlen(label)) != 0)
        lua_pushfstring(L, "%s: %s", label, lua_tostring(L, -1));
    lua_error(L);
}

/* ---- loading: a set's files ------------------------------------------
 *
 * A source (a directory, a git commit) reads a whole set into memory first,
 * as policy_files; loading then works on that alone, so every rule and
 * message below is the same whichever source the files came from. Each
 * file has three names: rel, its path within the set ("lib/k8s.lua"; what
 * the version hash covers); chunk, the Lua chunk name, which says where the
 * file came from in tracebacks and runtime errors; label, how load errors
 * name it. A directory's files have DIR/rel for both (the path opened); a
 * commit's have git:REPO@SHORT:DIR/rel and rel, its spec being put in front
 * of the whole message (gate_policy_load_spec).
 */

static void source_free(source *s)
{
    free(s->name);
    free(s->rel);
    free(s->chunk);
    free(s->label);
    free(s->text);
    memset(s, 0, sizeof *s);
}

/* A new, zeroed entry at the end of l. */
static source *source_push(source_list *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    memset(&l->v[l->n], 0, sizeof l->v[l->n]);
    return &l->v[l->n++];
}

static void source_list_free(source_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        source_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void policy_files_free(policy_files *pf)
{
    source_list_free(&pf->libs);
    source_list_free(&pf->policies);
    source_free(&pf->config);
}

/* Loads src's text as a chunk named src->chunk, gives it the environment at
 * index env, runs it under the budgets and leaves its first result on the
 * stack. Raises an error naming the file (its label) on failure, so it is
 * only called from protected C functions. */
static void run_chunk(gate_policy_set *set, const source *src, int env)
{
    lua_State *L = set->L;
    int status;

    env = lua_absindex(L, env);
    lua_pushfstring(L, "@%s", src->chunk);
    status = luaL_loadbufferx(L, src->text, src->len, lua_tostring(L, -1), "t");
    lua_remove(L, -2);
    if (status != LUA_OK)
        raise_with_path(L, src->chunk, src->label);   /* "chunk:line: message" */
    lua_pushvalue(L, env);
    if (lua_setupvalue(L, -2, 1) == NULL)   /* a main chunk's only upvalue is _ENV */
        lua_pop(L, 1);
    status = run_budgeted(set, 0, 1);
    if (set->mem_exhausted || status == LUA_ERRMEM)
        luaL_error(L, "%s: memory budget exhausted while loading (limit %d MiB)", src->label,
                   (int)(POLICY_MEM_STATE >> 20));
    if (set->time_exhausted)
        luaL_error(L, "%s: time limit exceeded while loading (limit %.0f ms)", src->label,
                   1000 * (set->time_limit > 0 ? set->time_limit : POLICY_TIME));
    if (set->instr_exhausted)
        luaL_error(L, "%s: instruction budget exhausted while loading (limit %d instructions)",
                   src->label, (int)POLICY_INSTR_LIMIT);
    if (status != LUA_OK)
        raise_with_path(L, src->chunk, src->label);
}

/* ---- the directory source --------------------------------------------- */

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static void strlist_push(strlist *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = xrealloc(NULL, a + b + 2);
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* The *.lua regular files of dir (no hidden ones), sorted by name. A
 * missing dir is an error unless missing_ok. */
static int list_lua_files(const char *dir, int missing_ok, strlist *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL) {
        if (missing_ok && errno == ENOENT)
            return 0;
        return fail(err, errlen, "%s: cannot open policy directory: %s", dir, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        struct stat st;
        char *path;
        if (de->d_name[0] == '.' || n <= 4 || strcmp(de->d_name + n - 4, ".lua") != 0)
            continue;
        path = path_join(dir, de->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            strlist_push(out, xstrdup(de->d_name));
        free(path);
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return 0;
}

/* Reads a whole file of at most POLICY_FILE_MAX bytes. */
static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    buf = xrealloc(NULL, POLICY_FILE_MAX + 1);
    n = fread(buf, 1, POLICY_FILE_MAX + 1, f);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return fail(err, errlen, "%s: read error", path);
    }
    fclose(f);
    if (n > POLICY_FILE_MAX) {
        free(buf);
        return fail(err, errlen, "%s: larger than %zu bytes", path, POLICY_FILE_MAX);
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

/* Names s as file of the set's subdirectory sub ("" = the top) and reads
 * it from dir; chunk and label are the path opened. */
static int dir_read_source(source *s, const char *dir, const char *sub, const char *file,
                           char *err, size_t errlen)
{
    s->name = xstrndup(file, strlen(file) - 4);
    if (sub[0] != '\0') {
        char *subdir = path_join(dir, sub);
        s->rel = path_join(sub, file);
        s->chunk = path_join(subdir, file);
        free(subdir);
    } else {
        s->rel = xstrdup(file);
        s->chunk = path_join(dir, file);
    }
    s->label = xstrdup(s->chunk);
    return read_file(s->chunk, &s->text, &s->len, err, errlen);
}

/* Reads the set in dir: its *.lua files, lib/ *.lua (lib/ may be missing)
 * and config.lua if there is one. */
static int dir_read_files(const char *dir, policy_files *pf, char *err, size_t errlen)
{
    strlist files = { 0 }, libs = { 0 };
    char *libdir = path_join(dir, "lib"), *config = path_join(dir, "config.lua");
    struct stat st;
    size_t i;
    int rc = -1;

    if (list_lua_files(dir, 0, &files, err, errlen) < 0 ||
        list_lua_files(libdir, 1, &libs, err, errlen) < 0)
        goto cleanup;
    for (i = 0; i < libs.n; i++)
        if (dir_read_source(source_push(&pf->libs), dir, "lib", libs.v[i], err, errlen) < 0)
            goto cleanup;
    if (stat(config, &st) == 0 &&
        dir_read_source(&pf->config, dir, "", "config.lua", err, errlen) < 0)
        goto cleanup;
    for (i = 0; i < files.n; i++) {
        if (strcmp(files.v[i], "config.lua") == 0)
            continue;
        if (dir_read_source(source_push(&pf->policies), dir, "", files.v[i], err, errlen) < 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    strlist_free(&files);
    strlist_free(&libs);
    free(libdir);
    free(config);
    return rc;
}

static int cmp_source_rel(const void *a, const void *b)
{
    return strcmp((*(const source *const *)a)->rel, (*(const source *const *)b)->rel);
}

/* A directory's version: "sha256:<hex>" over every file of pf sorted by rel,
 * each as rel NUL decimal-length NUL text (gate/engine/policy.h, "Sources"). */
static int files_digest(const policy_files *pf, char **out, char *err, size_t errlen)
{
    size_t n = pf->libs.n + pf->policies.n + (pf->config.text != NULL), k = 0, i;
    const source **all = xcalloc(n, sizeof *all);
    unsigned char digest[32];
    char num[32], *hex;
    sbuf b = { 0 };
    int rc;

    for (i = 0; i < pf->libs.n; i++)
        all[k++] = &pf->libs.v[i];
    for (i = 0; i < pf->policies.n; i++)
        all[k++] = &pf->policies.v[i];
    if (pf->config.text != NULL)
        all[k++] = &pf->config;
    qsort(all, n, sizeof *all, cmp_source_rel);
    for (i = 0; i < n; i++) {
        sbuf_add(&b, all[i]->rel, strlen(all[i]->rel) + 1);
        snprintf(num, sizeof num, "%zu", all[i]->len);
        sbuf_add(&b, num, strlen(num) + 1);
        sbuf_add(&b, all[i]->text, all[i]->len);
    }
    rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, sbuf_str(&b), b.len, digest);
    free(all);
    sbuf_free(&b);
    if (rc < 0)
        return fail(err, errlen, "cannot compute the set's sha256: %s", gnutls_strerror(rc));
    hex = xrealloc(NULL, sizeof "sha256:" + 2 * sizeof digest);
    memcpy(hex, "sha256:", 7);
    for (i = 0; i < sizeof digest; i++)
        snprintf(hex + 7 + 2 * i, 3, "%02x", digest[i]);
    *out = hex;
    return 0;
}

/* ---- the git source --------------------------------------------------- */

/* git:REPO[@REF][:DIR], taken apart. */
typedef struct git_spec {
    char *repo;
    char *ref;       /* "HEAD" when not given */
    char *dir;       /* NULL: the root of the commit's tree */
    char *display;   /* git:REPO@REF[:DIR], how errors name the set */
} git_spec;

static void git_spec_free(git_spec *g)
{
    free(g->repo);
    free(g->ref);
    free(g->dir);
    free(g->display);
    memset(g, 0, sizeof *g);
}

/* REPO runs to the first '@' or ':' (so it cannot contain them), REF to the
 * next ':' (git refuses ':' in ref names); DIR is the rest, without leading
 * or trailing '/' ("" means the root). */
static int git_spec_parse(const char *spec, git_spec *g, char *err, size_t errlen)
{
    const char *p = spec + 4;   /* after "git:" */
    size_t n = strcspn(p, "@:");
    sbuf d = { 0 };

    memset(g, 0, sizeof *g);
    if (n == 0)
        goto bad;
    g->repo = xstrndup(p, n);
    p += n;
    if (*p == '@') {
        p++;
        n = strcspn(p, ":");
        if (n == 0)
            goto bad;
        g->ref = xstrndup(p, n);
        p += n;
    } else {
        g->ref = xstrdup("HEAD");
    }
    if (*p == ':') {
        p++;
        p += strspn(p, "/");
        n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
            n--;
        if (n > 0)
            g->dir = xstrndup(p, n);
    }
    sbuf_puts(&d, "git:");
    sbuf_puts(&d, g->repo);
    sbuf_puts(&d, "@");
    sbuf_puts(&d, g->ref);
    if (g->dir != NULL) {
        sbuf_puts(&d, ":");
        sbuf_puts(&d, g->dir);
    }
    g->display = d.s;
    return 0;
bad:
    git_spec_free(g);
    return fail(err, errlen, "%s: expected git:REPO[@REF][:DIR]", spec);
}

static const char *git_msg(void)
{
    const git_error *e = git_error_last();
    return e != NULL && e->message != NULL ? e->message : "unknown libgit2 error";
}

/* What reading one commit's tree needs. */
typedef struct git_reader {
    git_repository *repo;
    git_odb *odb;
    const char *chunk_prefix;   /* git:REPO@SHORT:[DIR/] */
} git_reader;

/* Reads blob id as s->text, refusing it before reading when too large. */
static int git_read_blob(const git_reader *r, const git_oid *id, source *s, char *err,
                         size_t errlen)
{
    size_t size;
    git_object_t type;
    git_blob *blob;

    if (git_odb_read_header(&size, &type, r->odb, id) < 0)
        return fail(err, errlen, "%s: cannot read: %s", s->label, git_msg());
    if (size > POLICY_FILE_MAX)
        return fail(err, errlen, "%s: larger than %zu bytes", s->label, POLICY_FILE_MAX);
    if (git_blob_lookup(&blob, r->repo, id) < 0)
        return fail(err, errlen, "%s: cannot read: %s", s->label, git_msg());
    s->len = (size_t)git_blob_rawsize(blob);
    s->text = xstrndup(s->len > 0 ? git_blob_rawcontent(blob) : "", s->len);
    git_blob_free(blob);
    return 0;
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(git_tree_entry_name(*(const git_tree_entry *const *)a),
                  git_tree_entry_name(*(const git_tree_entry *const *)b));
}

/* Reads the *.lua blobs of tree (no hidden ones), the set's subdirectory
 * sub ("" = the top: config.lua and policies; "lib": modules), in name
 * order. A tree named *.lua is skipped, as a directory is; a symbolic link
 * or a submodule is an error (never followed). */
static int git_read_tree(const git_reader *r, const git_tree *tree, const char *sub,
                         policy_files *pf, char *err, size_t errlen)
{
    size_t count = git_tree_entrycount(tree), n = 0, i;
    const git_tree_entry **lua = xcalloc(count, sizeof *lua);
    int rc = -1;

    for (i = 0; i < count; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(tree, i);
        const char *name = git_tree_entry_name(e);
        size_t len = strlen(name);
        const char *what = NULL;

        if (name[0] == '.' || len <= 4 || strcmp(name + len - 4, ".lua") != 0)
            continue;
        switch (git_tree_entry_filemode(e)) {
        case GIT_FILEMODE_BLOB:
        case GIT_FILEMODE_BLOB_EXECUTABLE:
            lua[n++] = e;
            break;
        case GIT_FILEMODE_LINK:
            what = "a symbolic link";
            break;
        case GIT_FILEMODE_COMMIT:
            what = "a submodule";
            break;
        default:   /* a tree */
            break;
        }
        if (what != NULL) {
            fail(err, errlen, "%s%s%s: %s; only regular files are loaded from git", sub,
                 sub[0] ? "/" : "", name, what);
            goto cleanup;
        }
    }
    if (n > 1)
        qsort(lua, n, sizeof *lua, cmp_entry_name);
    for (i = 0; i < n; i++) {
        const char *name = git_tree_entry_name(lua[i]);
        int is_config = sub[0] == '\0' && strcmp(name, "config.lua") == 0;
        source *s = sub[0] != '\0' ? source_push(&pf->libs)
                    : is_config    ? &pf->config
                                   : source_push(&pf->policies);
        sbuf chunk = { 0 };

        s->name = xstrndup(name, strlen(name) - 4);
        s->rel = sub[0] != '\0' ? path_join(sub, name) : xstrdup(name);
        sbuf_puts(&chunk, r->chunk_prefix);
        sbuf_puts(&chunk, s->rel);
        s->chunk = chunk.s;
        s->label = xstrdup(s->rel);
        if (git_read_blob(r, git_tree_entry_id(lua[i]), s, err, errlen) < 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    free(lua);
    return rc;
}

/* Reads the set at g from its commit's tree into pf; *version is
 * "git:<commit>". Messages do not name the spec (the caller does). */
static int git_read_files(const git_spec *g, policy_files *pf, char **version, char *err,
                          size_t errlen)
{
    git_reader r = { 0 };
    git_object *obj = NULL, *commit = NULL;
    git_tree *root = NULL, *sub = NULL, *lib = NULL;
    git_tree_entry *entry = NULL;
    const git_tree *top;
    const git_tree_entry *libent;
    char hex[GIT_OID_HEXSZ + 1];
    sbuf prefix = { 0 };
    int rc = -1, e;

    if (git_libgit2_init() < 0)
        return fail(err, errlen, "cannot initialise libgit2: %s", git_msg());

    /* phase: the repository and the commit REF names */
    if (git_repository_open_ext(&r.repo, g->repo, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        fail(err, errlen, "cannot open repository: %s", git_msg());
        goto cleanup;
    }
    if (git_repository_odb(&r.odb, r.repo) < 0) {
        fail(err, errlen, "cannot open the object database: %s", git_msg());
        goto cleanup;
    }
    e = git_revparse_single(&obj, r.repo, g->ref);
    if (e == GIT_ENOTFOUND || e == GIT_EUNBORNBRANCH) {
        fail(err, errlen, "no such ref \"%s\"", g->ref);
        goto cleanup;
    }
    if (e < 0) {
        fail(err, errlen, "cannot resolve ref \"%s\": %s", g->ref, git_msg());
        goto cleanup;
    }
    if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
        fail(err, errlen, "ref \"%s\" does not name a commit", g->ref);
        goto cleanup;
    }
    git_oid_tostr(hex, sizeof hex, git_object_id(commit));
    if (git_commit_tree(&root, (git_commit *)commit) < 0) {
        fail(err, errlen, "commit %s: cannot read its tree: %s", hex, git_msg());
        goto cleanup;
    }

    /* phase: DIR within its tree */
    top = root;
    if (g->dir != NULL) {
        e = git_tree_entry_bypath(&entry, root, g->dir);
        if (e == GIT_ENOTFOUND) {
            fail(err, errlen, "no such directory \"%s\" in commit %.7s", g->dir, hex);
            goto cleanup;
        }
        if (e < 0) {
            fail(err, errlen, "\"%s\": %s", g->dir, git_msg());
            goto cleanup;
        }
        if (git_tree_entry_filemode(entry) != GIT_FILEMODE_TREE) {
            fail(err, errlen, "\"%s\" in commit %.7s is not a directory", g->dir, hex);
            goto cleanup;
        }
        if (git_tree_lookup(&sub, r.repo, git_tree_entry_id(entry)) < 0) {
            fail(err, errlen, "\"%s\": %s", g->dir, git_msg());
            goto cleanup;
        }
        top = sub;
    }

    /* phase: the files, lib/ first as a directory's are */
    sbuf_puts(&prefix, "git:");
    sbuf_puts(&prefix, g->repo);
    sbuf_puts(&prefix, "@");
    sbuf_add(&prefix, hex, 7);
    sbuf_puts(&prefix, ":");
    if (g->dir != NULL) {
        sbuf_puts(&prefix, g->dir);
        sbuf_puts(&prefix, "/");
    }
    r.chunk_prefix = prefix.s;
    libent = git_tree_entry_byname(top, "lib");
    if (libent != NULL) {
        if (git_tree_entry_filemode(libent) != GIT_FILEMODE_TREE) {
            fail(err, errlen, "lib: not a directory");
            goto cleanup;
        }
        if (git_tree_lookup(&lib, r.repo, git_tree_entry_id(libent)) < 0) {
            fail(err, errlen, "lib: %s", git_msg());
            goto cleanup;
        }
        if (git_read_tree(&r, lib, "lib", pf, err, errlen) < 0)
            goto cleanup;
    }
    if (git_read_tree(&r, top, "", pf, err, errlen) < 0)
        goto cleanup;

    *version = xrealloc(NULL, sizeof "git:" + GIT_OID_HEXSZ);
    snprintf(*version, sizeof "git:" + GIT_OID_HEXSZ, "git:%s", hex);
    rc = 0;
cleanup:
    sbuf_free(&prefix);
    git_tree_free(lib);
    git_tree_free(sub);
    git_tree_entry_free(entry);
    git_tree_free(root);
    git_object_free(commit);
    git_object_free(obj);
    git_odb_free(r.odb);
    git_repository_free(r.repo);
    git_libgit2_shutdown();
    return rc;
}

/* ---- loading: from files to a set ------------------------------------- */

/* Creates the state: the allowed libraries; their sandbox versions in the
 * registry (copies without string.dump, with gc_guarded wrappers); the
 * string metatable reading from the sandbox string table and locked; the
 * verdict metatable in the registry. The real library tables keep the
 * original functions, so error messages still name them ("string.rep"). */
static int state_setup_cf(lua_State *L)
{
    int i, libs;

    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_pop(L, 5);

    lua_newtable(L);
    libs = lua_gettop(L);
    for (i = 0; sandbox_libs[i] != NULL; i++) {
        lua_getglobal(L, sandbox_libs[i]);
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, -3)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        lua_setfield(L, libs, sandbox_libs[i]);
        lua_pop(L, 1);
    }
    lua_getfield(L, libs, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    for (i = 0; gc_guarded_names[i] != NULL; i++) {
        const char *dot = strchr(gc_guarded_names[i], '.');
        lua_pushlstring(L, gc_guarded_names[i], (size_t)(dot - gc_guarded_names[i]));
        lua_rawget(L, libs);
        lua_getfield(L, -1, dot + 1);
        lua_pushcclosure(L, gc_guarded, 1);
        lua_setfield(L, -2, dot + 1);
        lua_pop(L, 1);
    }

    for (i = 0; i < (int)(sizeof guarded_calls / sizeof *guarded_calls); i++) {
        const char *name = guarded_calls[i].name, *dot = strchr(name, '.');
        lua_pushlstring(L, name, (size_t)(dot - name));
        lua_rawget(L, libs);
        lua_getfield(L, -1, dot + 1);
        lua_pushcclosure(L, guarded_calls[i].guard, 1);
        lua_setfield(L, -2, dot + 1);
        lua_pop(L, 1);
    }

    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, libs, "string");
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sandbox_libs_key);

    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &verdict_mt_key);
    return 0;
}

static int state_open(gate_policy_set *set, char *err, size_t errlen)
{
    set->mem_cap = POLICY_MEM_STATE;
    set->L = lua_newstate(policy_alloc, set);
    if (set->L == NULL)
        return fail(err, errlen, "cannot create a Lua state");
    lua_pushcfunction(set->L, state_setup_cf);
    if (lua_pcall(set->L, 0, 0, 0) != LUA_OK) {
        fail(err, errlen, "cannot set up the Lua state: %s", lua_tostring(set->L, -1));
        lua_pop(set->L, 1);
        return -1;
    }
    return 0;
}

/* What load_policy_cf / load_config_cf work on (passed as light userdata). */
typedef struct load_job {
    gate_policy_set *set;
    const source *src;
    const source *libs;
    size_t nlibs;
    int eval_ref;   /* out: the policy's evaluate function */
    int skips_reads;   /* out: the policy declared reads = false */
} load_job;

/* Gives the environment at env its own `lib`: a fresh instance of every
 * module, each loaded in an environment of its own that shares the same
 * read-only lib (so modules can use each other at call time). */
static void install_libs(load_job *job, int env)
{
    lua_State *L = job->set->L;
    int real, proxy;

    lua_createtable(L, 0, (int)job->nlibs);
    real = lua_gettop(L);
    push_readonly(L, real);
    proxy = lua_gettop(L);
    lua_pushvalue(L, proxy);
    lua_setfield(L, env, "lib");
    for (size_t i = 0; i < job->nlibs; i++) {
        const source *m = &job->libs[i];
        push_env(L, job->src->name);
        lua_pushvalue(L, proxy);
        lua_setfield(L, -2, "lib");
        run_chunk(job->set, m, -1);
        if (!lua_istable(L, -1))
            luaL_error(L, "%s: a lib module must return a table, not a %s", m->label,
                       luaL_typename(L, -1));
        push_readonly(L, -1);
        lua_setfield(L, real, m->name);
        lua_pop(L, 2);   /* module, its env */
    }
    lua_pop(L, 2);
}

static int load_policy_cf(lua_State *L)
{
    load_job *job = lua_touserdata(L, 1);
    const source *src = job->src;
    int env, ptab;

    push_env(L, src->name);
    env = lua_gettop(L);
    install_libs(job, env);
    run_chunk(job->set, src, env);
    ptab = lua_gettop(L);
    if (!lua_istable(L, ptab))
        return luaL_error(L, "%s: a policy must return a table {name=, description=, "
                             "evaluate=function(ctx)}, not a %s",
                          src->label, luaL_typename(L, ptab));
    lua_pushliteral(L, "name");
    if (lua_rawget(L, ptab) != LUA_TSTRING || strcmp(lua_tostring(L, -1), src->name) != 0)
        return luaL_error(L, "%s: the policy's name must be \"%s\" (its file name)",
                          src->label, src->name);
    /* `reads = false`: the policy has nothing to say about get, list and
     * watch, so reads (the bulk of an agent's calls) skip it */
    lua_pushliteral(L, "reads");
    int rt = lua_rawget(L, ptab);
    if (rt != LUA_TNIL && rt != LUA_TBOOLEAN)
        return luaL_error(L, "%s: the policy's reads must be true or false, not a %s",
                          src->label, luaL_typename(L, -1));
    job->skips_reads = rt == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_pushliteral(L, "evaluate");
    if (lua_rawget(L, ptab) != LUA_TFUNCTION)
        return luaL_error(L, "%s: the policy has no evaluate function", src->label);
    job->eval_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int load_config_cf(lua_State *L)
{
    load_job *job = lua_touserdata(L, 1);

    push_env(L, "config");
    run_chunk(job->set, job->src, -1);
    if (!lua_istable(L, -1))
        return luaL_error(L, "%s: config must return a table, not a %s", job->src->label,
                          luaL_typename(L, -1));
    return 1;
}

/* Compiles a source without running it: syntax errors name file and line. */
static int compile_cf(lua_State *L)
{
    load_job *job = lua_touserdata(L, 1);
    lua_pushfstring(L, "@%s", job->src->chunk);
    if (luaL_loadbufferx(L, job->src->text, job->src->len, lua_tostring(L, -1), "t") != LUA_OK)
        raise_with_path(L, job->src->chunk, job->src->label);
    return 0;
}

/* Runs a load_*_cf; on failure copies its message to err. */
static int run_loader(gate_policy_set *set, lua_CFunction fn, load_job *job, int nresults,
                      char *err, size_t errlen)
{
    lua_State *L = set->L;
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, job);
    if (lua_pcall(L, 1, nresults, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fail(err, errlen, "%s", msg ? msg : "error while loading policies");
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* Runs config.lua (if there is one) into set->config. */
static int load_config(gate_policy_set *set, const source *src, char *err, size_t errlen)
{
    load_job job = { set, src, NULL, 0, LUA_NOREF, 0 };

    if (src->text == NULL) {   /* no config.lua: an empty config */
        set->config = jcheck(json_object());
        return 0;
    }
    if (run_loader(set, load_config_cf, &job, 1, err, errlen) < 0)
        return -1;
    set->config = lua_to_json(set->L, -1, "config", 0, err, errlen);
    lua_pop(set->L, 1);
    if (set->config == NULL || !json_is_object(set->config)) {
        if (set->config != NULL)
            fail(err, errlen, "%s: config must be a table with string keys", src->label);
        json_decref(set->config);
        set->config = NULL;
        return -1;
    }
    return 0;
}

/* Builds a set from the files a source read: lib modules compiled (so a
 * broken module is reported even when no policy is there to load it),
 * config.lua run, then each policy in file-name order. spec is copied;
 * version is taken, whatever happens. */
static int load_set(gate_policy_set **out, const char *spec, const policy_files *pf,
                    char *version, char *err, size_t errlen)
{
    gate_policy_set *set = xcalloc(1, sizeof *set);
    size_t i;
    int rc = -1;

    set->source = xstrdup(spec);
    set->version = version;

    /* phase: an empty state with the allowed libraries */
    if (state_open(set, err, errlen) < 0)
        goto cleanup;

    /* phase: lib/ compiles */
    for (i = 0; i < pf->libs.n; i++) {
        load_job job = { set, &pf->libs.v[i], NULL, 0, LUA_NOREF, 0 };
        if (run_loader(set, compile_cf, &job, 0, err, errlen) < 0)
            goto cleanup;
    }

    /* phase: config.lua */
    if (load_config(set, &pf->config, err, errlen) < 0)
        goto cleanup;

    /* phase: each policy, in file-name order */
    set->policies = xcalloc(pf->policies.n, sizeof *set->policies);
    for (i = 0; i < pf->policies.n; i++) {
        const source *src = &pf->policies.v[i];
        load_job job = { set, src, pf->libs.v, pf->libs.n, LUA_NOREF, 0 };
        if (run_loader(set, load_policy_cf, &job, 0, err, errlen) < 0)
            goto cleanup;
        set->policies[set->npolicies].name = xstrdup(src->name);
        set->policies[set->npolicies].path = xstrdup(src->chunk);
        set->policies[set->npolicies].eval_ref = job.eval_ref;
        set->policies[set->npolicies].skips_reads = job.skips_reads;
        set->npolicies++;
    }
    lua_gc(set->L, LUA_GCCOLLECT);

    *out = set;
    set = NULL;
    rc = 0;
cleanup:
    gate_policy_free(set);
    return rc;
}

/* ---- the pool: one evaluation per Lua state ----------------------------
 *
 * A server judges on several threads at once.  The set loaded keeps the
 * sources it was built from; an evaluation that finds its state busy takes
 * an idle copy, or builds one from those same sources (so every copy is
 * the same policies, config and version, whatever the files hold by then).
 * Copies live as long as the set; a reload makes a new set, and the old
 * one is freed when nothing evaluates on it (the caller's lock). */

/* The primary keeps pf (taken: pf is emptied). */
static void pool_init(gate_policy_set *set, policy_files *pf)
{
    set->files = *pf;
    memset(pf, 0, sizeof *pf);
    pthread_mutex_init(&set->pool_mu, NULL);
    set->pooled = 1;
}

/* A state to evaluate on: the primary's, an idle copy, or a new copy.
 * NULL (err) only when a copy could not be built. */
static gate_policy_set *pool_take(gate_policy_set *set, char *err, size_t errlen)
{
    gate_policy_set *s = NULL;
    if (!set->pooled)
        return set;   /* a copy, or a set built by hand: its own state */
    pthread_mutex_lock(&set->pool_mu);
    if (!set->busy) {
        set->busy = 1;
        s = set;
    } else if (set->idle) {
        s = set->idle;
        set->idle = s->next_idle;
        s->next_idle = NULL;
    }
    pthread_mutex_unlock(&set->pool_mu);
    if (s)
        return s;
    char msg[512];
    if (load_set(&s, set->source, &set->files, xstrdup(set->version), msg, sizeof msg) < 0) {
        fail(err, errlen, "another Lua state for the policies could not be built: %s", msg);
        return NULL;
    }
    pthread_mutex_lock(&set->pool_mu);
    set->copies++;
    pthread_mutex_unlock(&set->pool_mu);
    return s;
}

static void pool_give(gate_policy_set *set, gate_policy_set *s)
{
    if (!set->pooled)
        return;
    pthread_mutex_lock(&set->pool_mu);
    if (s == set) {
        set->busy = 0;
    } else {
        s->next_idle = set->idle;
        set->idle = s;
    }
    pthread_mutex_unlock(&set->pool_mu);
}

void gate_policy_set_time_limit(gate_policy_set *set, double seconds)
{
    if (set != NULL)
        set->time_limit = seconds > 0 ? seconds : 0;
}

double gate_policy_time_limit(const gate_policy_set *set)
{
    return set != NULL && set->time_limit > 0 ? set->time_limit : POLICY_TIME;
}

size_t gate_policy_states(gate_policy_set *set)
{
    if (set == NULL)
        return 0;
    if (!set->pooled)
        return 1;
    pthread_mutex_lock(&set->pool_mu);
    size_t n = 1 + set->copies;
    pthread_mutex_unlock(&set->pool_mu);
    return n;
}

int gate_policy_load(gate_policy_set **out, const char *dir, char *err, size_t errlen)
{
    policy_files pf = { 0 };
    char *version = NULL;
    int rc = -1;

    if (out == NULL || dir == NULL)
        return fail(err, errlen, "gate_policy_load: out and dir are required");
    if (dir_read_files(dir, &pf, err, errlen) < 0 || files_digest(&pf, &version, err, errlen) < 0)
        goto cleanup;
    rc = load_set(out, dir, &pf, version, err, errlen);
    if (rc == 0)
        pool_init(*out, &pf);
cleanup:
    policy_files_free(&pf);
    return rc;
}

int gate_policy_load_spec(gate_policy_set **out, const char *spec, char *err, size_t errlen)
{
    policy_files pf = { 0 };
    git_spec g;
    char *version = NULL, *msg = NULL;
    size_t msglen = err != NULL ? errlen : 0;
    int rc = -1;

    if (out == NULL || spec == NULL)
        return fail(err, errlen, "gate_policy_load_spec: out and spec are required");
    if (strncmp(spec, "git:", 4) != 0)
        return gate_policy_load(out, spec, err, errlen);
    if (git_spec_parse(spec, &g, err, errlen) < 0)
        return -1;
    /* every message from here on is put after the spec */
    if (msglen > 0)
        msg = xcalloc(1, msglen);
    if (git_read_files(&g, &pf, &version, msg, msglen) < 0 ||
        load_set(out, spec, &pf, version, msg, msglen) < 0) {
        fail(err, errlen, "%s: %s", g.display, msg ? msg : "");
        goto cleanup;
    }
    pool_init(*out, &pf);
    rc = 0;
cleanup:
    free(msg);
    policy_files_free(&pf);
    git_spec_free(&g);
    return rc;
}

void gate_policy_free(gate_policy_set *set)
{
    if (set == NULL)
        return;
    if (set->pooled) {   /* nothing evaluates on it now: the caller's lock */
        while (set->idle) {
            gate_policy_set *c = set->idle;
            set->idle = c->next_idle;
            gate_policy_free(c);
        }
        policy_files_free(&set->files);
        pthread_mutex_destroy(&set->pool_mu);
    }
    if (set->L != NULL)
        lua_close(set->L);
    for (size_t i = 0; i < set->npolicies; i++) {
        free(set->policies[i].name);
        free(set->policies[i].path);
    }
    free(set->policies);
    json_decref(set->config);
    json_decref(set->pending);
    free(set->source);
    free(set->version);
    free(set);
}

const char *gate_policy_version(const gate_policy_set *set)
{
    return set ? set->version : NULL;
}

const char *gate_policy_source(const gate_policy_set *set)
{
    return set ? set->source : NULL;
}

int gate_policy_has(const gate_policy_set *set, const char *name)
{
    if (set == NULL || name == NULL)
        return 0;
    for (size_t i = 0; i < set->npolicies; i++)
        if (strcmp(set->policies[i].name, name) == 0)
            return 1;
    return 0;
}

size_t gate_policy_count(const gate_policy_set *set)
{
    return set ? set->npolicies : 0;
}

/* ---- evaluating ------------------------------------------------------- */

/* The parts of one request, borrowed from the caller's ctx (NULL = absent). */
typedef struct ctx_parts {
    gate_policy_set *set;
    const json_t *action, *diff, *impact, *agent;
    const json_t *config;   /* config.lua + overrides, owned by the evaluation;
                               NULL: no overrides, set->config as it is */
} ctx_parts;

/* One policy's judgement. */
typedef struct outcome {
    int verdict;
    sbuf reason;
    sbuf traceback;   /* policy errors only */
} outcome;

/* Sets field of the table on top to a view of j (gen: as ro_push_json), or
 * to an empty read-only table when j is NULL. */
static void set_part(lua_State *L, const json_t *j, lua_Integer gen, const char *field)
{
    if (j != NULL) {
        ro_push_json(L, j, gen);
    } else {
        lua_newtable(L);
        ro_push_filled(L, -1);
        lua_remove(L, -2);
    }
    lua_setfield(L, -2, field);
}

static void set_closure(lua_State *L, gate_policy_set *set, lua_CFunction fn, const char *field)
{
    lua_pushlightuserdata(L, set);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, field);
}

/* Pushes the views that are the same in every evaluation: {twin=, history=}
 * and the view of set->config (made on first use, then kept). */
static void push_statics(lua_State *L, gate_policy_set *set)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ctx_statics_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 3);
        lua_createtable(L, 0, 3);
        set_closure(L, set, twin_get_cf, "get");
        set_closure(L, set, twin_list_cf, "list");
        set_closure(L, set, twin_count_cf, "count");
        ro_push_filled(L, -1);
        lua_setfield(L, -3, "twin");
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        set_closure(L, set, history_totals_cf, "totals");
        ro_push_filled(L, -1);
        lua_setfield(L, -3, "history");
        lua_pop(L, 1);
        ro_push_json(L, set->config, 0);
        lua_setfield(L, -2, "config");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &ctx_statics_key);
    }
}

/* Builds this evaluation's ctx, the one every policy reads, and an empty
 * cache for ctx.twin / ctx.history answers. Only the top level is built
 * here; the rest is filled as policies read it. */
static int build_ctx_cf(lua_State *L)
{
    const ctx_parts *p = lua_touserdata(L, 1);
    lua_Integer gen = p->set->gen;

    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &twin_cache_key);
    push_statics(L, p->set);
    lua_createtable(L, 0, 8);
    set_part(L, p->action, gen, "action");
    set_part(L, p->diff, gen, "diff");
    set_part(L, p->impact, gen, "impact");
    set_part(L, p->agent, gen, "agent");
    if (p->config != NULL)
        set_part(L, p->config, gen, "config");
    else {
        lua_getfield(L, -2, "config");
        lua_setfield(L, -2, "config");
    }
    lua_getfield(L, -2, "twin");
    lua_setfield(L, -2, "twin");
    lua_getfield(L, -2, "history");
    lua_setfield(L, -2, "history");
    ro_push_filled(L, -1);
    return 1;
}

/* Reads the value evaluate returned (argument 2) into the outcome (argument
 * 1). All Lua reads happen before any C allocation. */
static int read_verdict_cf(lua_State *L)
{
    outcome *o = lua_touserdata(L, 1);
    const char *got = NULL, *v = NULL, *r = NULL;
    size_t rlen = 0;
    int verdict = -1, marked = 0;

    if (lua_type(L, 2) == LUA_TTABLE && lua_getmetatable(L, 2)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &verdict_mt_key);
        marked = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (marked) {
        lua_pushliteral(L, "verdict");
        if (lua_rawget(L, 2) == LUA_TSTRING)
            v = lua_tostring(L, -1);
        lua_pushliteral(L, "reason");
        if (lua_rawget(L, 2) == LUA_TSTRING)
            r = lua_tolstring(L, -1, &rlen);
        for (int i = V_ALLOW; v != NULL && i <= V_DENY; i++)
            if (strcmp(v, verdict_names[i]) == 0)
                verdict = i;
        if (verdict < 0)
            got = "a verdict whose verdict field was changed";
    } else {
        got = lua_type(L, 2) == LUA_TTABLE ? "a table not made by allow(), review() or deny()"
                                           : luaL_typename(L, 2);
    }

    /* C only from here on */
    if (got != NULL) {
        o->verdict = V_DENY;
        sbuf_puts(&o->reason, "policy error: evaluate must return allow(), review(...) or "
                              "deny(...), it returned ");
        sbuf_puts(&o->reason, got);
        return 0;
    }
    o->verdict = verdict;
    if (r != NULL)
        sbuf_add_text(&o->reason, r, rlen, POLICY_REASON_MAX);
    return 0;
}

/* Turns a failed run (status, budget flags, error message on top of the
 * stack) into a deny outcome: fail closed. where is "" or " while ...";
 * mem_limit is the memory cap that applied. */
static void outcome_failed(outcome *o, gate_policy_set *set, int status, const char *where,
                           size_t mem_limit)
{
    lua_State *L = set->L;
    char buf[160];

    o->verdict = V_DENY;
    sbuf_free(&o->reason);
    sbuf_free(&o->traceback);
    if (set->time_exhausted) {
        snprintf(buf, sizeof buf, "policy error: time limit exceeded%s (limit %.0f ms)", where,
                 1000 * (set->time_limit > 0 ? set->time_limit : POLICY_TIME));
        sbuf_puts(&o->reason, buf);
    } else if (set->mem_exhausted || status == LUA_ERRMEM) {
        snprintf(buf, sizeof buf, "policy error: memory budget exhausted%s (limit %zu MiB)",
                 where, mem_limit >> 20);
        sbuf_puts(&o->reason, buf);
    } else if (set->instr_exhausted) {
        snprintf(buf, sizeof buf,
                 "policy error: instruction budget exhausted%s (limit %ld instructions)",
                 where, POLICY_INSTR_LIMIT);
        sbuf_puts(&o->reason, buf);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *msg = lua_tolstring(L, -1, &len);
        size_t n = without_traceback(msg);
        sbuf_puts(&o->reason, "policy error: ");
        sbuf_add_text(&o->reason, msg, n, POLICY_REASON_MAX);
        if (n < len)
            sbuf_add_text(&o->traceback, msg + n + 1, len - n - 1, POLICY_TRACE_MAX);
    } else {
        sbuf_puts(&o->reason, "policy error: (no message)");
    }
}

/* Full collection when the heap has grown by more than POLICY_GC_SLACK
 * since the last one (growth from filling views included only once the
 * evaluation is over and they are garbage), so what a policy sees as "in
 * use" at its evaluate holds at most that much garbage from earlier ones,
 * without a full collection per policy. grown is the growth just seen. */
static void collect_if_grown(gate_policy_set *set, size_t grown)
{
    set->gc_debt += grown;
    if (set->gc_debt > POLICY_GC_SLACK) {
        lua_gc(set->L, LUA_GCCOLLECT);
        set->gc_debt = 0;
    }
}

/* Judges one policy: evaluate(ctx) under the budgets (ctx is the view at
 * index ctx), then the verdict it returned. Leaves the stack as it found
 * it. */
static void judge_one(gate_policy_set *set, const policy *p, int ctx, outcome *out)
{
    lua_State *L = set->L;
    int base = lua_gettop(L), status;
    size_t used0 = set->mem_used, fill0 = set->fill_bytes, grown, filled;

    /* phase: evaluate(ctx), with POLICY_MEM_EVAL above what is in use now */
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->eval_ref);
    lua_pushvalue(L, ctx);
    set->mem_cap = set->mem_used < POLICY_MEM_STATE - POLICY_MEM_EVAL
                       ? set->mem_used + POLICY_MEM_EVAL : POLICY_MEM_STATE;
    set->fill_failed = set->ro_violation = 0;
    status = run_budgeted(set, 1, 1);
    set->mem_cap = POLICY_MEM_STATE;
    if (status != LUA_OK || set->mem_exhausted || set->instr_exhausted || set->time_exhausted) {
        if (set->fill_failed)
            outcome_failed(out, set, status, " while converting ctx", POLICY_MEM_STATE);
        else
            outcome_failed(out, set, status, "", POLICY_MEM_EVAL);
        goto cleanup;
    }
    if (set->ro_violation) {   /* the policy caught the error: still a failure */
        out->verdict = V_DENY;
        sbuf_puts(&out->reason, "policy error: ");
        sbuf_add_text(&out->reason, set->ro_msg, strlen(set->ro_msg), POLICY_REASON_MAX);
        goto cleanup;
    }

    /* phase: the verdict it returned */
    lua_pushcfunction(L, read_verdict_cf);
    lua_pushlightuserdata(L, out);
    lua_pushvalue(L, -3);
    status = lua_pcall(L, 2, 0, 0);
    if (status != LUA_OK)
        outcome_failed(out, set, status, " while reading the verdict", POLICY_MEM_STATE);

cleanup:
    lua_settop(L, base);
    json_decref(set->pending);
    set->pending = NULL;
    /* what the policy itself added: garbage, or kept in its globals */
    grown = set->mem_used > used0 ? set->mem_used - used0 : 0;
    filled = set->fill_bytes - fill0;
    collect_if_grown(set, grown > filled ? grown - filled : 0);
}

/* Combines the outcomes of the selected policies: any deny -> deny; else
 * any review -> review; else allow; with the message format of
 * gate/engine/policy.h. */
static json_t *combine(const gate_policy_set *set, const outcome *oc,
                       const unsigned char *selected)
{
    json_t *results = jcheck(json_array()), *out;
    sbuf deny = { 0 }, review = { 0 }, msg = { 0 };
    size_t ndeny = 0, nreview = 0;
    const char *verdict;

    for (size_t i = 0; i < set->npolicies; i++) {
        const char *name = set->policies[i].name;
        sbuf safe = { 0 };
        json_t *r;

        if (!selected[i])
            continue;
        r = jcheck(json_object());

        sbuf_add_text(&safe, name, strlen(name), POLICY_REASON_MAX);
        json_object_set_new(r, "policy", jcheck(json_string(sbuf_str(&safe))));
        json_object_set_new(r, "verdict", jcheck(json_string(verdict_names[oc[i].verdict])));
        json_object_set_new(r, "reason", jcheck(json_string(sbuf_str(&oc[i].reason))));
        if (oc[i].traceback.len > 0)
            json_object_set_new(r, "traceback", jcheck(json_string(sbuf_str(&oc[i].traceback))));
        json_array_append_new(results, r);

        if (oc[i].verdict == V_DENY) {
            sbuf_puts(&deny, ndeny++ ? "; also denied by " : "airlock: denied by ");
            sbuf_puts(&deny, sbuf_str(&safe));
            sbuf_puts(&deny, ": ");
            sbuf_puts(&deny, sbuf_str(&oc[i].reason));
        } else if (oc[i].verdict == V_REVIEW) {
            sbuf_puts(&review, nreview++ ? "; " : "");
            sbuf_puts(&review, sbuf_str(&safe));
            sbuf_puts(&review, ": ");
            sbuf_puts(&review, sbuf_str(&oc[i].reason));
        }
        sbuf_free(&safe);
    }

    if (ndeny > 0) {
        verdict = "deny";
        sbuf_puts(&msg, sbuf_str(&deny));
    } else if (nreview > 0) {
        verdict = "review";
        sbuf_puts(&msg, "airlock: needs approval (");
        sbuf_puts(&msg, sbuf_str(&review));
        sbuf_puts(&msg, ")");
    } else {
        verdict = "allow";
        sbuf_puts(&msg, "allowed");
    }
    out = jcheck(json_object());
    json_object_set_new(out, "verdict", jcheck(json_string(verdict)));
    json_object_set_new(out, "message", jcheck(json_string(sbuf_str(&msg))));
    json_object_set_new(out, "results", results);
    sbuf_free(&deny);
    sbuf_free(&review);
    sbuf_free(&msg);
    return out;
}

/* Checks that ctx.field is absent or of the wanted type. */
static int ctx_field(const json_t *ctx, const char *field, json_type type, int required,
                     const json_t **out, char *err, size_t errlen)
{
    const json_t *j = json_object_get(ctx, field);
    static const char *const names[] = { "an object", "an array" };
    if (j == NULL || json_is_null(j)) {
        *out = NULL;
        if (required)
            return fail(err, errlen, "ctx.%s is missing", field);
        return 0;
    }
    if (json_typeof(j) != type)
        return fail(err, errlen, "ctx.%s must be %s", field, names[type == JSON_ARRAY]);
    *out = j;
    return 0;
}

/* Marks in selected[] the policies ctx.policies names (an array). */
static int select_policies(const gate_policy_set *set, const json_t *names,
                           unsigned char *selected, char *err, size_t errlen)
{
    size_t i, k;
    const json_t *name;

    json_array_foreach(names, i, name) {
        const char *s = json_string_value(name);
        if (s == NULL)
            return fail(err, errlen, "ctx.policies[%zu] must be a string", i);
        for (k = 0; k < set->npolicies; k++)
            if (strlen(s) == json_string_length(name) && strcmp(set->policies[k].name, s) == 0)
                break;
        if (k == set->npolicies)
            return fail(err, errlen, "unknown policy \"%s\"", s);
        selected[k] = 1;
    }
    return 0;
}

static int eval_on(gate_policy_set *set, const json_t *ctx, const gate_policy_view *view, json_t **verdict,
                   char *err, size_t errlen);

int gate_policy_eval(gate_policy_set *set, const json_t *ctx, const gate_policy_view *view,
                     json_t **verdict, char *err, size_t errlen)
{
    if (set == NULL || ctx == NULL || verdict == NULL)
        return fail(err, errlen, "gate_policy_eval: set, ctx and verdict are required");
    gate_policy_set *s = pool_take(set, err, errlen);
    if (s == NULL)
        return -1;
    s->time_limit = set->time_limit;
    int rc = eval_on(s, ctx, view, verdict, err, errlen);
    pool_give(set, s);
    return rc;
}

/* One evaluation on one state (the set's own, or a copy's). */
static int eval_on(gate_policy_set *set, const json_t *ctx, const gate_policy_view *view, json_t **verdict,
                   char *err, size_t errlen)
{
    ctx_parts parts = { 0 };
    const json_t *overrides = NULL, *names = NULL;
    json_t *config = NULL;
    unsigned char *selected = NULL;
    outcome *oc = NULL;
    lua_State *L;
    size_t i, fill0;
    int base, status;

    if (set == NULL || ctx == NULL || verdict == NULL)
        return fail(err, errlen, "gate_policy_eval: set, ctx and verdict are required");

    /* phase: check the shape of ctx */
    if (!json_is_object(ctx))
        return fail(err, errlen, "ctx must be a JSON object");
    if (ctx_field(ctx, "action", JSON_OBJECT, 1, &parts.action, err, errlen) < 0 ||
        ctx_field(ctx, "diff", JSON_ARRAY, 0, &parts.diff, err, errlen) < 0 ||
        ctx_field(ctx, "impact", JSON_OBJECT, 0, &parts.impact, err, errlen) < 0 ||
        ctx_field(ctx, "agent", JSON_OBJECT, 0, &parts.agent, err, errlen) < 0 ||
        ctx_field(ctx, "config_overrides", JSON_OBJECT, 0, &overrides, err, errlen) < 0 ||
        ctx_field(ctx, "policies", JSON_ARRAY, 0, &names, err, errlen) < 0)
        return -1;

    /* phase: which policies judge (ctx.policies, or all) */
    selected = xcalloc(set->npolicies, 1);
    if (names == NULL)
        memset(selected, 1, set->npolicies);
    else if (select_policies(set, names, selected, err, errlen) < 0) {
        free(selected);
        return -1;
    }

    /* phase: the effective config */
    if (overrides != NULL) {
        config = jcheck(json_deep_copy(set->config));
        json_merge(config, overrides);
    }
    parts.set = set;
    parts.config = config;

    /* phase: this evaluation's ctx, one for every policy (the JSON it reads
     * is alive while set->gen stays as set here) */
    L = set->L;
    base = lua_gettop(L);
    oc = xcalloc(set->npolicies, sizeof *oc);
    set->gen++;
    set->view = view;
    set->agent = parts.agent ? json_string_value(json_object_get(parts.agent, "name")) : NULL;
    fill0 = set->fill_bytes;
    set->mem_cap = POLICY_MEM_STATE;
    set->mem_exhausted = set->instr_exhausted = set->time_exhausted = set->refused = 0;
    const char *verb = json_string_value(json_object_get(parts.action, "verb"));
    int is_read = verb && (!strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch"));
    size_t judged = 0;
    for (i = 0; i < set->npolicies; i++)
        judged += selected[i] && !(is_read && set->policies[i].skips_reads);
    status = LUA_OK;
    if (judged) {   /* ctx only when a policy will read it */
        lua_pushcfunction(L, build_ctx_cf);
        lua_pushlightuserdata(L, &parts);
        status = lua_pcall(L, 1, 1, 0);
    }

    /* phase: judge each policy (one that skips reads allows them) */
    for (i = 0; i < set->npolicies; i++) {
        if (!selected[i])
            continue;
        if (is_read && set->policies[i].skips_reads)
            oc[i].verdict = V_ALLOW;
        else if (status == LUA_OK)
            judge_one(set, &set->policies[i], base + 1, &oc[i]);
        else
            outcome_failed(&oc[i], set, status, " while building ctx", POLICY_MEM_STATE);
    }

    /* phase: drop ctx; from here on no view reads this evaluation's JSON */
    lua_settop(L, base);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &twin_cache_key);
    set->gen++;
    set->view = NULL;
    set->agent = NULL;
    collect_if_grown(set, set->fill_bytes - fill0);

    /* phase: combine */
    *verdict = combine(set, oc, selected);

    for (i = 0; i < set->npolicies; i++) {
        sbuf_free(&oc[i].reason);
        sbuf_free(&oc[i].traceback);
    }
    free(oc);
    free(selected);
    json_decref(config);
    return 0;
}
