/*
 * store.c - the SQLite store of objects and the bookkeeping of one operation.
 *
 * Schema: `objects` holds each object's JSON document plus the columns that
 * make the controllers' lookups index-only: (kind, ns, name) unique, uid,
 * pods' node and workload group and readiness, and the object's hourly cost.
 * `labels` and `owners` are derived tables, rewritten with their object.
 * `meta` keeps the resourceVersion counter, the name generator's state and
 * the committed totals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "selector.h"
#include "aws_int.h"
#include "twin_int.h"

static const char *SCHEMA =
    "PRAGMA journal_mode=MEMORY;"
    "PRAGMA synchronous=OFF;"
    "PRAGMA temp_store=MEMORY;"
    "CREATE TABLE IF NOT EXISTS objects("
    " id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
    " uid TEXT NOT NULL, node TEXT, grp TEXT, ready INTEGER NOT NULL DEFAULT 0,"
    " cost REAL NOT NULL DEFAULT 0, doc TEXT NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS objects_key ON objects(kind, ns, name);"
    "CREATE INDEX IF NOT EXISTS objects_uid ON objects(uid);"
    "CREATE INDEX IF NOT EXISTS objects_node ON objects(node) WHERE node IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS objects_grp ON objects(ns, grp) WHERE grp IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS objects_ns ON objects(ns);"
    "CREATE TABLE IF NOT EXISTS labels(id INTEGER NOT NULL, kind TEXT NOT NULL, ns TEXT NOT NULL,"
    " key TEXT NOT NULL, value TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS labels_kv ON labels(kind, key, value, ns);"
    "CREATE INDEX IF NOT EXISTS labels_id ON labels(id);"
    "CREATE TABLE IF NOT EXISTS owners(uid TEXT NOT NULL, id INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS owners_uid ON owners(uid);"
    "CREATE INDEX IF NOT EXISTS owners_id ON owners(id);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);";

enum {
    S_GET = 0, S_GETID, S_INSERT, S_UPDATE, S_DELETE, S_LAB_DEL, S_LAB_INS, S_OWN_DEL,
    S_OWN_INS, S_LIST_KIND, S_LIST_KIND_NS, S_LIST_OWNED, S_PODS_NODE, S_LIST_LABEL,
    S_LIST_LABEL_NS, S_META_SET, S_COUNT, S_UPDATE_COLS, S_SET_DOC, S_PAGE_KIND, S_PAGE_KIND_NS,
};

/* The few statements run on every operation are kept prepared. */
static const char *HOT_SQL[] = {"SAVEPOINT op", "RELEASE op", "ROLLBACK TO op", "SAVEPOINT mark", "RELEASE mark",
                                "ROLLBACK TO mark"};

int twin__exec(twin *t, const char *sql)
{
    for (int i = 0; i < 6; i++) {
        if (strcmp(sql, HOT_SQL[i]))
            continue;
        sqlite3_stmt *st = twin__stmt(t, TWIN__NSTMT - 1 - i, sql);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            fprintf(stderr, "airlock: sqlite: %s (in %s)\n", sqlite3_errmsg(t->db), sql);
            return -1;
        }
        return 0;
    }
    char *msg = NULL;
    int rc = sqlite3_exec(t->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "airlock: sqlite: %s (in %.60s)\n", msg ? msg : "?", sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

sqlite3_stmt *twin__stmt(twin *t, int slot, const char *sql)
{
    if (!t->stmts[slot]) {
        if (sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->stmts[slot], NULL) != SQLITE_OK) {
            fprintf(stderr, "airlock: sqlite prepare: %s\n", sqlite3_errmsg(t->db));
            abort();   /* a bad statement in our own SQL is a programming error */
        }
    }
    sqlite3_reset(t->stmts[slot]);
    sqlite3_clear_bindings(t->stmts[slot]);
    return t->stmts[slot];
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

char *twin__key(const char *kind, const char *ns, const char *name)
{
    /* built by hand: this runs for every row every list returns */
    size_t a = strlen(kind), b = ns ? strlen(ns) : 0, c = strlen(name);
    char *k = twin_xmalloc(a + b + c + 3);
    memcpy(k, kind, a);
    k[a] = '/';
    if (b)
        memcpy(k + a + 1, ns, b);
    k[a + 1 + b] = '/';
    memcpy(k + a + b + 2, name, c + 1);
    return k;
}

/* Steps a write statement; a write to the in-memory store fails only when
 * SQLite runs out of memory, and a twin half-written is worse than none:
 * like the object write below, abort (the out-of-memory policy). */
static void step_write(twin *t, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "airlock: twin store write failed (%s): %s\n", what, sqlite3_errmsg(t->db));
        abort();
    }
}

/* ---- meta ---- */

static void meta_set(twin *t, const char *key, double v)
{
    sqlite3_stmt *st = twin__stmt(t, S_META_SET, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
    bind_text(st, 1, key);
    sqlite3_bind_double(st, 2, v);
    step_write(t, st, "meta");
}

void twin__meta_save(twin *t)
{
    meta_set(t, "rv", (double)t->rv);
    meta_set(t, "rng", (double)(t->rng >> 11));   /* 53 bits survive a double */
    meta_set(t, "cost_total", t->cost_total);
    meta_set(t, "pods_ready", (double)t->pods_ready);
    meta_set(t, "pods_total", (double)t->pods_total);
}

static void meta_load(twin *t)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(t->db, "SELECT key, value FROM meta", -1, &st, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        double v = sqlite3_column_double(st, 1);
        if (!strcmp(k, "rv"))
            t->rv = (long long)v;
        else if (!strcmp(k, "rng"))
            t->rng = ((uint64_t)v << 11) | 1;
        else if (!strcmp(k, "cost_total"))
            t->cost_total = v;
        else if (!strcmp(k, "pods_ready"))
            t->pods_ready = (long)v;
        else if (!strcmp(k, "pods_total"))
            t->pods_total = (long)v;
    }
    sqlite3_finalize(st);
}

/* ---- lifetime ---- */

int twin_open(twin **out, const char *db_path, char *err, size_t errlen)
{
    twin *t = twin_xcalloc(1, sizeof(*t));
    t->rng = 0x9e3779b97f4a7c15ULL;
    const char *trace = getenv("AIRLOCK_TRACE");
    t->trace = trace && *trace && strcmp(trace, "0");
    if (sqlite3_open(db_path ? db_path : ":memory:", &t->db) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open twin store %s: %s", db_path ? db_path : ":memory:",
                 sqlite3_errmsg(t->db));
        twin_close(t);
        return -1;
    }
    if (twin__exec(t, SCHEMA) < 0) {
        snprintf(err, errlen, "cannot create twin schema: %s", sqlite3_errmsg(t->db));
        twin_close(t);
        return -1;
    }
    meta_load(t);
    *out = t;
    return 0;
}

void twin_close(twin *t)
{
    if (!t)
        return;
    if (t->in_op)
        twin_rollback(t);
    for (int i = 0; i < TWIN__NSTMT; i++)
        sqlite3_finalize(t->stmts[i]);
    sqlite3_close(t->db);
    twin__changes_free(t);
    twin_map_clear(&t->queued, NULL);
    for (size_t i = t->qhead; i < t->qlen; i++)
        free(t->queue[i]);
    free(t->queue);
    twin_map_clear(&t->acted, NULL);
    twin_map_clear(&t->later, NULL);
    twin__sched_drop(t);
    twin__caches_drop(t);
    twin__docs_drop(t);
    twin__docs_discard(t);
    twin_map_clear(&t->mark_keys, free);
    twin_buf_free(&t->dump);
    json_decref(t->pricing);
    for (size_t i = 0; i < t->ndyn; i++) {
        free((char *)t->dyn[i]->kind);
        free((char *)t->dyn[i]->group);
        free((char *)t->dyn[i]->version);
        free((char *)t->dyn[i]->resource);
        free((char *)t->dyn[i]->singular);
        free(t->dyn[i]);
    }
    free(t->dyn);
    free(t);
}

int twin_copy(twin **out, twin *src, char *err, size_t errlen)
{
    if (src->in_op) {
        snprintf(err, errlen, "cannot copy a twin in the middle of an operation");
        return -1;
    }
    twin *t;
    if (twin_open(&t, NULL, err, errlen) < 0)
        return -1;
    sqlite3_backup *b = sqlite3_backup_init(t->db, "main", src->db, "main");
    if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE) {
        snprintf(err, errlen, "cannot copy twin store: %s", sqlite3_errmsg(t->db));
        sqlite3_backup_finish(b);
        twin_close(t);
        return -1;
    }
    sqlite3_backup_finish(b);
    t->rv = src->rv;
    t->rng = src->rng;
    t->clock = src->clock;
    t->cost_total = src->cost_total;
    t->pods_ready = src->pods_ready;
    t->pods_total = src->pods_total;
    t->pricing = json_deep_copy(src->pricing);   /* copies may live on other threads */
    memcpy(t->aws.account, src->aws.account, sizeof t->aws.account);
    memcpy(t->aws.region, src->aws.region, sizeof t->aws.region);
    for (size_t i = 0; i < src->ndyn; i++) {
        const twin_kind *k = src->dyn[i];
        twin__register_kind(t, k->group[0] ? twin_xasprintf("%s/%s", k->group, k->version) : k->version,
                            k->kind, k->namespaced);
    }
    *out = t;
    return 0;
}

void twin_set_clock(twin *t, double now) { t->clock = now; }

double twin__now(twin *t)
{
    if (t->clock)
        return t->clock;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

char *twin__timestamp(twin *t)
{
    /* every object an operation creates is stamped, mostly within the same
     * second: the text of the last second is kept */
    time_t s = (time_t)twin__now(t);
    if (!t->ts_text[0] || s != t->ts_sec) {
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(t->ts_text, sizeof t->ts_text, "%Y-%m-%dT%H:%M:%SZ", &tm);
        t->ts_sec = s;
    }
    return twin_xstrdup(t->ts_text);
}

uint64_t twin__rand(twin *t)
{
    /* deterministic for a given history of operations, so the same plan on
     * the same state yields the same names */
    return twin_xorshift(&t->rng);
}

/* n lowercase hex digits of v, zero-padded (printf's "%0*x"). */
static char *hex(char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 4)
        p[i] = "0123456789abcdef"[v & 15];
    return p + n;
}

/* a and b as the text of a version-4 uuid:
 * "%08x-%04x-4%03x-%04x-%012llx", written by hand (one per new object). */
static char *uuid_text(uint64_t a, uint64_t b)
{
    char *u = twin_xmalloc(37), *p = u;
    p = hex(p, a >> 32, 8);
    *p++ = '-';
    p = hex(p, (a >> 16) & 0xffff, 4);
    *p++ = '-';
    *p++ = '4';
    p = hex(p, a & 0xfff, 3);
    *p++ = '-';
    p = hex(p, ((b >> 48) & 0x3fff) | 0x8000, 4);
    *p++ = '-';
    p = hex(p, b & 0xffffffffffffULL, 12);
    *p = '\0';
    return u;
}

char *twin__uuid(twin *t)
{
    uint64_t a = twin__rand(t), b = twin__rand(t);
    return uuid_text(a, b);
}

char *twin__uuid_of(const char *seed)
{
    char d[65], half[17];
    twin__digest_hex(seed, d);   /* its first 128 bits */
    memcpy(half, d, 16);
    half[16] = '\0';
    uint64_t a = strtoull(half, NULL, 16);
    memcpy(half, d + 16, 16);
    uint64_t b = strtoull(half, NULL, 16);
    return uuid_text(a, b);
}

long long twin__next_rv(twin *t) { return ++t->rv; }

/* ---- reads ---- */

static json_t *load_doc(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (n == 0) {
        /* the placeholder of a document still in t->pending: every read
         * looks there first, so reaching this is our bug */
        fprintf(stderr, "airlock: twin store read a document not yet written\n");
        abort();
    }
    return json_loadb(s, (size_t)n, 0, NULL);
}

/* ---- the document cache ----
 * Parsed documents by key, so the controllers' many reads of the same few
 * objects do not parse JSON again.  Cached documents are shared: whoever
 * gets one must not modify it (twin__put stores its own copy).  Entries of
 * an operation's changes are dropped when it rolls back; the whole cache is
 * dropped when it grows past its cap, which bounds memory on big twins. */
enum { DOC_CACHE_CAP = 50000 };

static void doc_free(void *p) { json_decref(p); }

/* With the cache, what the rows of objects hold besides the document (key
 * -> row_info), so that a write finds its row without a query and skips the
 * UPDATE when none of the columns changes (a status write).  An entry is
 * forgotten whenever its row may have changed behind the twin's back (a
 * delete, a rollback, a reset); the writes of an import add none, since a
 * failed import takes them back without recording them. */
typedef struct row_info {
    sqlite3_int64 id;
    char *uid, *node, *grp;   /* node and grp NULL as in the row */
    int ready;
    double cost;
} row_info;

static void row_free(void *p)
{
    row_info *r = p;
    if (!r)
        return;
    free(r->uid);
    free(r->node);
    free(r->grp);
    free(r);
}

static void row_remember(twin *t, const char *key, sqlite3_int64 id, const char *uid, const char *node,
                         const char *grp, int ready, double cost)
{
    row_info *r = twin_xmalloc(sizeof *r);
    *r = (row_info){id, twin_xstrdup(uid), twin_xstrdup(node), twin_xstrdup(grp), ready, cost};
    row_free(twin_map_put(&t->rows, key, r));
}

static int same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

void twin__docs_drop(twin *t)
{
    twin_map_clear(&t->docs, doc_free);
    twin_map_clear(&t->rows, row_free);
    free(t->absent);
    t->absent = NULL;
}

static void doc_forget(twin *t, const char *key)
{
    json_decref(twin_map_del(&t->docs, key));
    row_free(twin_map_del(&t->rows, key));
}

static void doc_remember(twin *t, const char *key, json_t *doc)
{
    if (t->docs.count >= DOC_CACHE_CAP)
        twin__docs_drop(t);
    json_decref(twin_map_put(&t->docs, key, json_incref(doc)));
}

void twin__docs_forget(twin *t, const char *kind, const char *ns, const char *name)
{
    char *key = twin__key(kind, ns, name);
    doc_forget(t, key);
    free(key);
}

void twin__docs_restore(twin *t, const char *kind, const char *ns, const char *name, json_t *doc)
{
    char *key = twin__key(kind, ns, name);
    doc_forget(t, key);   /* and its id: the operation may have replaced the row */
    if (doc)
        doc_remember(t, key, doc);
    free(key);
}

/* ---- documents not yet written ----
 * Inside an operation a write stores the object's columns at once but not
 * its JSON text: the document waits in t->pending (key -> pending_doc) and
 * is serialised once, at commit, however many times the operation rewrote
 * it, and never if the operation is rolled back.  The row holds an empty
 * placeholder meanwhile, so every read of a document looks in the cache,
 * then in t->pending, and only then parses the stored text. */
typedef struct pending_doc {
    json_t *doc;              /* the current version (shared with the cache) */
    sqlite3_int64 id;         /* its row */
} pending_doc;

static void pending_free(void *p)
{
    pending_doc *d = p;
    if (!d)
        return;
    json_decref(d->doc);
    free(d);
}

static void pending_forget(twin *t, const char *key) { pending_free(twin_map_del(&t->pending, key)); }

static void pending_put(twin *t, const char *key, json_t *doc, sqlite3_int64 id)
{
    pending_doc *d = twin_xmalloc(sizeof *d);
    d->doc = json_incref(doc);
    d->id = id;
    pending_free(twin_map_put(&t->pending, key, d));
}

/* The document of `key` if the twin holds it parsed (borrowed), or NULL. */
static json_t *known_doc(twin *t, const char *key)
{
    json_t *d = twin_map_get(&t->docs, key);
    if (d)
        return d;
    pending_doc *p = twin_map_get(&t->pending, key);
    return p ? p->doc : NULL;
}

/* Serialises obj into t->dump.s (the text json_dumpb would write, into a
 * buffer the twin reuses); returns its length. */
static size_t serialise(twin *t, const json_t *obj)
{
    t->dump.len = 0;
    twin_buf_json(&t->dump, obj, 0);
    return t->dump.len;
}

void twin__docs_flush(twin *t)
{
    TWIN_MAP_FOREACH(&t->pending, e) {
        pending_doc *d = e->value;
        size_t n = serialise(t, d->doc);
        sqlite3_stmt *st = twin__stmt(t, S_SET_DOC, "UPDATE objects SET doc=? WHERE id=?");
        sqlite3_bind_text(st, 1, t->dump.s, (int)n, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, d->id);
        step_write(t, st, "document");
    }
    twin_map_clear(&t->pending, pending_free);
}

static void owned_free(void *p);

void twin__docs_discard(twin *t)
{
    free(t->absent);   /* the rollback may bring the row back */
    t->absent = NULL;
    twin_map_clear(&t->pending, pending_free);
    twin_map_clear(&t->owned, owned_free);   /* the rollback takes owners rows back */
}

/* The document in column `col` of a row whose kind/ns/name are in columns
 * 0..2: from the cache, or parsed and cached. New reference. */
json_t *twin__row_doc(twin *t, sqlite3_stmt *st, int col)
{
    char *key = twin__key((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                          (const char *)sqlite3_column_text(st, 2));
    json_t *d = known_doc(t, key);
    if (d) {
        json_incref(d);
    } else {
        d = load_doc(st, col);
        if (d)
            doc_remember(t, key, d);
    }
    free(key);
    return d;
}

json_t *twin__get(twin *t, const char *kind, const char *ns, const char *name)
{
    char *key = twin__key(kind, ns ? ns : "", name);
    json_t *doc = known_doc(t, key);
    if (doc) {
        free(key);
        return json_incref(doc);
    }
    sqlite3_stmt *st = twin__stmt(t, S_GET, "SELECT doc FROM objects WHERE kind=? AND ns=? AND name=?");
    bind_text(st, 1, kind);
    bind_text(st, 2, ns ? ns : "");
    bind_text(st, 3, name);
    if (sqlite3_step(st) == SQLITE_ROW) {
        doc = load_doc(st, 0);
        if (doc)
            doc_remember(t, key, doc);
        free(key);
    } else {
        /* a name checked free is usually created next (a generated name,
         * a create): its write need not ask again (find_row) */
        free(t->absent);
        t->absent = key;
    }
    sqlite3_reset(st);
    return doc;
}

static json_t *collect(twin *t, sqlite3_stmt *st)
{
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *d = twin__row_doc(t, st, 3);
        if (d)
            json_array_append_new(arr, d);
    }
    sqlite3_reset(st);
    return arr;
}

json_t *twin__list(twin *t, const char *kind, const char *ns)
{
    sqlite3_stmt *st;
    if (ns) {
        st = twin__stmt(t, S_LIST_KIND_NS, "SELECT kind, ns, name, doc FROM objects WHERE kind=? AND ns=? ORDER BY name");
        bind_text(st, 2, ns);
    } else {
        st = twin__stmt(t, S_LIST_KIND, "SELECT kind, ns, name, doc FROM objects WHERE kind=? ORDER BY ns, name");
    }
    bind_text(st, 1, kind);
    return collect(t, st);
}

json_t *twin_list_page(twin *t, const char *kind, const char *ns, const char *label_selector,
                       const char *field_selector, const char *after, long limit, char **next, char *err,
                       size_t errlen)
{
    *next = NULL;
    if (t->in_op) {
        snprintf(err, errlen, "a page is read outside an operation");
        return NULL;
    }
    twin_selector *sel;
    twin_fieldsel *fs;
    if (twin_selectors_parse(&sel, &fs, label_selector, field_selector, err, errlen) < 0)
        return NULL;
    /* after: "namespace/name" of the last object of the previous page */
    const char *slash = after ? strchr(after, '/') : NULL;
    char *ans = slash ? twin_xasprintf("%.*s", (int)(slash - after), after) : twin_xstrdup("");
    const char *aname = slash ? slash + 1 : "";
    sqlite3_stmt *st;
    if (ns && *ns) {
        st = twin__stmt(t, S_PAGE_KIND_NS,
                        "SELECT kind, ns, name, doc FROM objects WHERE kind=?1 AND ns=?2 AND name>?4 ORDER BY name");
        bind_text(st, 2, ns);
        if (strcmp(ans, ns))   /* a key of another namespace: from the first */
            aname = "";
    } else {
        st = twin__stmt(t, S_PAGE_KIND,
                        "SELECT kind, ns, name, doc FROM objects WHERE kind=?1 AND (ns>?3 OR (ns=?3 AND name>?4)) "
                        "ORDER BY ns, name");
        bind_text(st, 3, ans);
    }
    bind_text(st, 1, kind);
    bind_text(st, 4, aname);
    json_t *out = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *d = twin__row_doc(t, st, 3);
        if (!d)
            continue;
        int keep = twin_selector_matches(sel, json_object_get(json_object_get(d, "metadata"), "labels")) &&
                   (!fs || twin_fieldsel_matches(fs, d));
        if (keep && limit > 0 && (long)json_array_size(out) >= limit) {
            /* one more: the page ends at the last object it holds */
            const json_t *last = json_array_get(out, json_array_size(out) - 1);
            *next = twin_xasprintf("%s/%s", twin__ns(last), twin__name(last));
            json_decref(d);
            break;
        }
        if (keep)
            json_array_append_new(out, d);
        else
            json_decref(d);
    }
    sqlite3_reset(st);
    free(ans);
    twin_selector_free(sel);
    twin_fieldsel_free(fs);
    return out;
}

/* ---- what each owner owns ----
 * The controllers look up a workload's ReplicaSets or pods on every sync:
 * the answer of the owners query is kept as keys (uid -> owned_list, in the
 * query's order) and its documents read from the cache.  An entry goes as
 * soon as an owners row of its uid is written (index_object's callers
 * below), and every entry with a rollback or a reset, which take rows back
 * (twin__docs_discard): the query would answer the same rows in the same
 * order meanwhile. */
enum { OWNED_CACHE_CAP = 20000 };

typedef struct owned_list {
    size_t n;
    char **keys;              /* kind/ns/name */
} owned_list;

static void owned_free(void *p)
{
    owned_list *l = p;
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l);
}

static void owned_drop_refs(twin *t, const json_t *obj)
{
    size_t i;
    json_t *ref;
    json_array_foreach(twin__path(obj, "metadata.ownerReferences"), i, ref) {
        const char *uid = json_string_value(json_object_get(ref, "uid"));
        if (uid)
            owned_free(twin_map_del(&t->owned, uid));
    }
}

/* The document of key (kind/ns/name) from the cache or the store. */
static json_t *doc_of_key(twin *t, const char *key)
{
    json_t *d = known_doc(t, key);
    if (d)
        return json_incref(d);
    const char *a = strchr(key, '/'), *b = a ? strchr(a + 1, '/') : NULL;
    if (!b)
        return NULL;
    char *kind = twin_xasprintf("%.*s", (int)(a - key), key), *ns = twin_xasprintf("%.*s", (int)(b - a - 1), a + 1);
    d = twin__get(t, kind, ns, b + 1);
    free(kind);
    free(ns);
    return d;
}

json_t *twin__list_owned(twin *t, const char *uid)
{
    owned_list *l = twin_map_get(&t->owned, uid);
    json_t *arr = json_array();
    if (l) {
        for (size_t i = 0; i < l->n; i++) {
            json_t *d = doc_of_key(t, l->keys[i]);
            if (d)
                json_array_append_new(arr, d);
        }
        return arr;
    }
    sqlite3_stmt *st = twin__stmt(t, S_LIST_OWNED,
                                  "SELECT o.kind, o.ns, o.name, o.doc FROM owners w JOIN objects o ON o.id = w.id WHERE w.uid=? "
                                  "ORDER BY o.kind, o.name");
    bind_text(st, 1, uid);
    l = twin_xcalloc(1, sizeof *l);
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (l->n == cap) {
            cap = cap ? cap * 2 : 8;
            l->keys = twin_xrealloc(l->keys, cap * sizeof *l->keys);
        }
        l->keys[l->n++] = twin__key((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                                    (const char *)sqlite3_column_text(st, 2));
        json_t *d = twin__row_doc(t, st, 3);
        if (d)
            json_array_append_new(arr, d);
    }
    sqlite3_reset(st);
    if (t->owned.count >= OWNED_CACHE_CAP)
        twin_map_clear(&t->owned, owned_free);
    twin_map_put(&t->owned, uid, l);
    return arr;
}

json_t *twin__pods_on_node(twin *t, const char *node)
{
    sqlite3_stmt *st = twin__stmt(t, S_PODS_NODE, "SELECT kind, ns, name, doc FROM objects WHERE node=? ORDER BY ns, name");
    bind_text(st, 1, node);
    return collect(t, st);
}

json_t *twin__list_label(twin *t, const char *kind, const char *ns, const char *key, const char *value)
{
    sqlite3_stmt *st;
    if (ns) {
        st = twin__stmt(t, S_LIST_LABEL_NS,
                        "SELECT o.kind, o.ns, o.name, o.doc FROM labels l JOIN objects o ON o.id = l.id "
                        "WHERE l.kind=? AND l.key=? AND l.value=? AND l.ns=? ORDER BY o.name");
        bind_text(st, 4, ns);
    } else {
        st = twin__stmt(t, S_LIST_LABEL,
                        "SELECT o.kind, o.ns, o.name, o.doc FROM labels l JOIN objects o ON o.id = l.id "
                        "WHERE l.kind=? AND l.key=? AND l.value=? ORDER BY o.ns, o.name");
    }
    bind_text(st, 1, kind);
    bind_text(st, 2, key);
    bind_text(st, 3, value);
    return collect(t, st);
}

json_t *twin__list_selector(twin *t, const char *kind, const char *ns, const twin_selector *sel)
{
    if (twin_selector_matches_nothing(sel))
        return json_array();
    const char *k, *v;
    json_t *cand = twin_selector_equality(sel, &k, &v) ? twin__list_label(t, kind, ns, k, v)
                                                         : twin__list(t, kind, ns);
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(cand, i, o) {
        if (twin_selector_matches(sel, json_object_get(json_object_get(o, "metadata"), "labels")))
            json_array_append(out, o);
    }
    json_decref(cand);
    return out;
}

long long twin_resource_version(const twin *t) { return t->rv; }

void twin_keep_versions(twin *t, int on) { t->keep_versions = on; }

long twin_object_count(twin *t)
{
    sqlite3_stmt *st = twin__stmt(t, S_COUNT, "SELECT count(*) FROM objects");
    long n = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

double twin_cost_total(twin *t) { return t->cost_total; }

/* ---- change map ---- */

static void change_free(void *p)
{
    twin_change *c = p;
    if (!c)
        return;
    free(c->kind);
    free(c->ns);
    free(c->name);
    free(c->parent);
    json_decref(c->before);
    json_decref(c->after);
    free(c);
}

void twin__changes_free(twin *t)
{
    twin_map_clear(&t->changes, change_free);
    t->change_seq = 0;
}

twin_change *twin__change(twin *t, const char *kind, const char *ns, const char *name)
{
    char *key = twin__key(kind, ns, name);
    twin_change *c = twin_map_get(&t->changes, key);
    free(key);
    return c;
}

double twin__change_cost(twin *t, twin_change *c, int after)
{
    const json_t *obj = after ? c->after : c->before;
    if (!obj)
        return 0;
    if (c->cost_gen != t->pricing_gen) {
        c->cost_known = 0;
        c->cost_gen = t->pricing_gen;
    }
    if (!(c->cost_known & (1u << after))) {
        c->cost[after] = twin__object_cost(t, obj);
        c->cost_known |= 1u << after;
    }
    return c->cost[after];
}

/* Records that the object now reads `after` (NULL: deleted). `before` is the
 * version it replaces; only the first one seen in an operation is kept.
 * after_cost is twin__object_cost(t, after), which the write computed. */
static void record(twin *t, const char *kind, const char *ns, const char *name, const json_t *before,
                   const json_t *after, double after_cost)
{
    if (!t->in_op)
        return;
    char *key = twin__key(kind, ns, name);
    twin_change *c = twin_map_get(&t->changes, key);
    if (!c) {
        c = twin_xcalloc(1, sizeof(*c));
        c->kind = twin_xstrdup(kind);
        c->ns = twin_xstrdup(ns ? ns : "");
        c->name = twin_xstrdup(name);
        c->before = before ? json_incref((json_t *)before) : NULL;   /* shared, read-only */
        /* never its own cause: a controller writing the object it
         * reconciles (an Auto Scaling group's members list) */
        c->parent = t->parent && strcmp(t->parent, key) ? twin_xstrdup(t->parent) : NULL;
        c->seq = t->change_seq++;
        c->cost_gen = t->pricing_gen;
        c->quiet = t->quiet > 0;
        twin_map_put(&t->changes, key, c);
    } else if (!t->quiet) {
        c->quiet = 0;   /* written as a change too: judged */
    }
    json_decref(c->after);
    c->after = after ? json_incref((json_t *)after) : NULL;   /* the cached copy, read-only */
    if (c->cost_gen != t->pricing_gen) {
        c->cost_known = 0;
        c->cost_gen = t->pricing_gen;
    }
    c->cost[1] = after_cost;
    c->cost_known = after ? c->cost_known | 2u : c->cost_known & ~2u;
    free(key);
}

/* ---- writes ---- */

static void index_object(twin *t, sqlite3_int64 id, const char *kind, const char *ns, const json_t *obj, int fresh)
{
    sqlite3_stmt *st;
    if (!fresh) {   /* a new row has nothing to delete (and no index to find it by during a bulk import) */
        st = twin__stmt(t, S_LAB_DEL, "DELETE FROM labels WHERE id=?");
        sqlite3_bind_int64(st, 1, id);
        step_write(t, st, "labels");
        st = twin__stmt(t, S_OWN_DEL, "DELETE FROM owners WHERE id=?");
        sqlite3_bind_int64(st, 1, id);
        step_write(t, st, "owners");
    }
    if (!obj)
        return;
    json_t *meta = json_object_get(obj, "metadata");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(meta, "labels"), k, v) {
        if (!json_is_string(v))
            continue;
        st = twin__stmt(t, S_LAB_INS, "INSERT INTO labels(id, kind, ns, key, value) VALUES(?,?,?,?,?)");
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, kind);
        bind_text(st, 3, ns);
        bind_text(st, 4, k);
        bind_text(st, 5, json_string_value(v));
        step_write(t, st, "labels");
    }
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(meta, "ownerReferences"), i, ref) {
        const char *uid = json_string_value(json_object_get(ref, "uid"));
        if (!uid)
            continue;
        st = twin__stmt(t, S_OWN_INS, "INSERT INTO owners(uid, id) VALUES(?, ?)");
        bind_text(st, 1, uid);
        sqlite3_bind_int64(st, 2, id);
        step_write(t, st, "owners");
    }
}

/* The row of the object `key` (kind/ns/name): its id (0 if absent), its
 * current document (*doc, new reference, NULL if absent) and what the row
 * holds (*row, borrowed until the next write; NULL during an import). */
static sqlite3_int64 find_row(twin *t, const char *key, const char *kind, const char *ns, const char *name,
                              json_t **doc, const row_info **row)
{
    row_info *r = twin_map_get(&t->rows, key);
    json_t *c = r ? known_doc(t, key) : NULL;
    if (c) {
        *doc = json_incref(c);
        *row = r;
        return r->id;
    }
    *doc = NULL;
    *row = NULL;
    if (t->absent && !strcmp(t->absent, key))
        return 0;   /* twin__get found no row, and nothing was written since */
    sqlite3_stmt *st = twin__stmt(t, S_GETID, "SELECT id, doc, uid, node, grp, ready, cost FROM objects "
                                              "WHERE kind=? AND ns=? AND name=?");
    bind_text(st, 1, kind);
    bind_text(st, 2, ns);
    bind_text(st, 3, name);
    sqlite3_int64 id = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        c = known_doc(t, key);
        *doc = c ? json_incref(c) : load_doc(st, 1);
        if (!t->importing) {
            row_remember(t, key, id, (const char *)sqlite3_column_text(st, 2),
                         (const char *)sqlite3_column_text(st, 3), (const char *)sqlite3_column_text(st, 4),
                         sqlite3_column_int(st, 5), sqlite3_column_double(st, 6));
            *row = twin_map_get(&t->rows, key);
        }
    }
    sqlite3_reset(st);
    return id;
}

static void put(twin *t, json_t *obj, int copy);

void twin__put(twin *t, json_t *obj) { put(t, obj, 1); }

void twin__put_shared(twin *t, json_t *obj) { put(t, obj, 0); }

static void put(twin *t, json_t *obj, int copy_obj)
{
    const char *kind = twin__kind(obj), *ns = twin__ns(obj), *name = twin__name(obj);
    json_t *meta = twin__path_make(obj, "metadata");
    /* the source's version when following it (twin_keep_versions), else ours */
    const char *src = t->importing && t->keep_versions
                          ? json_string_value(json_object_get(meta, "resourceVersion"))
                          : NULL;
    char *end = NULL;
    long long srv = src && *src >= '1' && *src <= '9' && strlen(src) <= 18 ? strtoll(src, &end, 10) : 0;
    if (srv > 0 && end && !*end) {
        if (srv > t->rv)
            t->rv = srv;
    } else {
        char rv[32];
        snprintf(rv, sizeof rv, "%lld", twin__next_rv(t));
        json_object_set_new(meta, "resourceVersion", json_string(rv));
    }

    char *key = twin__key(kind, ns, name);
    json_t *before = NULL;
    const row_info *row;
    sqlite3_int64 id = find_row(t, key, kind, ns, name, &before, &row);
    free(t->absent);   /* every write ends what twin__get learnt */
    t->absent = NULL;

    const char *uid = twin__uid(obj) ? twin__uid(obj) : "";
    const char *node = NULL;
    char *grp = NULL;
    int ready = 0;
    if (!strcmp(kind, "Pod")) {
        node = twin__str(obj, "spec.nodeName");
        if (!node)
            node = "";
        grp = twin__pod_group(obj);
        ready = twin__pod_ready(obj);
    } else if (!strcmp(kind, "EC2Instance")) {
        ready = twin__aws_ready(obj);   /* running: what the impact counts (aws.c) */
    }
    double cost = twin__object_cost(t, obj);
    /* inside an operation the text waits for the commit (see pending_doc);
     * an import's objects are not cached, so theirs is written now */
    int lazy = t->in_op && !t->importing;
    size_t need = lazy ? 0 : serialise(t, obj);
    /* and a write that changes none of the columns (a status, a spec)
     * leaves the row as it is until then */
    int same = row && same_str(row->uid, uid) && same_str(row->node, node) && same_str(row->grp, grp) &&
               row->ready == ready && row->cost == cost;

    sqlite3_stmt *st = NULL;
    if (id && lazy && same) {
        /* nothing to write now */
    } else if (id && lazy) {
        st = twin__stmt(t, S_UPDATE_COLS, "UPDATE objects SET uid=?, node=?, grp=?, ready=?, cost=? WHERE id=?");
        sqlite3_bind_int64(st, 6, id);
    } else if (id) {
        st = twin__stmt(t, S_UPDATE, "UPDATE objects SET uid=?, node=?, grp=?, ready=?, cost=?, doc=? WHERE id=?");
        sqlite3_bind_int64(st, 7, id);
    } else {
        st = twin__stmt(t, S_INSERT,
                        "INSERT INTO objects(uid, node, grp, ready, cost, doc, kind, ns, name) VALUES(?,?,?,?,?,?,?,?,?)");
        bind_text(st, 7, kind);
        bind_text(st, 8, ns);
        bind_text(st, 9, name);
    }
    if (st) {
        bind_text(st, 1, uid);
        bind_text(st, 2, node);
        bind_text(st, 3, grp);
        sqlite3_bind_int(st, 4, ready);
        sqlite3_bind_double(st, 5, cost);
        if (!(id && lazy))
            sqlite3_bind_text(st, 6, lazy ? "" : t->dump.s, (int)need, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "airlock: twin store write failed for %s/%s/%s: %s\n", kind, ns, name,
                    sqlite3_errmsg(t->db));
            abort();
        }
    }
    int fresh = !id;
    if (!id)
        id = sqlite3_last_insert_rowid(t->db);
    if (t->importing)
        row_free(twin_map_del(&t->rows, key));   /* an import's writes keep no entry */
    else if (st)
        row_remember(t, key, id, uid, node, grp, ready, cost);
    free(grp);

    /* most writes are status or spec changes: labels and owners stay */
    int reindex = !before ||
                  !json_equal(twin__path(before, "metadata.labels") ?: json_null(),
                              twin__path(obj, "metadata.labels") ?: json_null()) ||
                  !json_equal(twin__path(before, "metadata.ownerReferences") ?: json_null(),
                              twin__path(obj, "metadata.ownerReferences") ?: json_null());
    if (reindex) {
        owned_drop_refs(t, before);
        owned_drop_refs(t, obj);
        index_object(t, id, kind, ns, obj, fresh);
    }
    if (!t->importing) {
        /* the caller keeps obj and may change it: the twin keeps a copy
         * (unless the caller hands it over with twin__put_shared) */
        json_t *copy = copy_obj ? json_deep_copy(obj) : json_incref(obj);
        doc_remember(t, key, copy);
        if (lazy)
            pending_put(t, key, copy, id);
        else
            pending_forget(t, key);
        record(t, kind, ns, name, before, copy, cost);
        twin__notify(t, kind, before, copy);
        json_decref(copy);
    }
    free(key);
    json_decref(before);
}

int twin__del(twin *t, const char *kind, const char *ns, const char *name)
{
    json_t *before = NULL;
    const row_info *row;
    char *key = twin__key(kind, ns ? ns : "", name);
    sqlite3_int64 id = find_row(t, key, kind, ns ? ns : "", name, &before, &row);
    free(t->absent);
    t->absent = NULL;
    if (!id) {
        free(key);
        return -1;
    }
    sqlite3_stmt *st = twin__stmt(t, S_DELETE, "DELETE FROM objects WHERE id=?");
    sqlite3_bind_int64(st, 1, id);
    step_write(t, st, "delete");
    owned_drop_refs(t, before);
    index_object(t, id, kind, ns, NULL, 0);
    doc_forget(t, key);
    pending_forget(t, key);   /* its row is gone: nothing to write */
    free(key);
    twin__next_rv(t);
    if (!t->importing) {
        record(t, kind, ns ? ns : "", name, before, NULL, 0);
        twin__notify(t, kind, before, NULL);
    }
    json_decref(before);
    return 0;
}
