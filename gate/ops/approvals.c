/*
 * approvals.c - pending approvals, the kill switch, fingerprints.
 */
#include <gnutls/crypto.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/ops/agents.h"
#include "gate/ops/approvals.h"
#include "twin/util.h"

struct gate_approvals {
    sqlite3 *db;
    double pending_ttl, approved_ttl;
    long max_pending;   /* each agent's pending approvals; 0 = no cap */
    json_t *freeze;   /* the freeze row as gate_freeze_get answers it: read once, kept with each set */
};

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS approvals(id TEXT PRIMARY KEY, agent TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " state TEXT NOT NULL, requested_at REAL NOT NULL, expires_at REAL NOT NULL, doc TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS approvals_fp ON approvals(agent, fingerprint, state);"
    /* the list by state, newest first; an agent's pending count */
    "CREATE INDEX IF NOT EXISTS approvals_state ON approvals(state, requested_at);"
    "CREATE INDEX IF NOT EXISTS approvals_agent ON approvals(agent, state, expires_at);"
    "CREATE TABLE IF NOT EXISTS freeze(one INTEGER PRIMARY KEY CHECK(one = 1), frozen INTEGER NOT NULL,"
    " reason TEXT, who TEXT, since REAL);";

static json_t *freeze_load(gate_approvals *ap);

int gate_approvals_open(gate_approvals **out, const char *db_path, double pending_ttl, double approved_ttl,
                        char *err, size_t errlen)
{
    gate_approvals *ap = twin_xcalloc(1, sizeof *ap);
    ap->pending_ttl = pending_ttl;
    ap->approved_ttl = approved_ttl;
    ap->max_pending = GATE_APPROVALS_MAX_PENDING;
    if (sqlite3_open(db_path, &ap->db) != SQLITE_OK || sqlite3_busy_timeout(ap->db, 5000) != SQLITE_OK ||
        sqlite3_exec(ap->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", db_path, sqlite3_errmsg(ap->db));
        gate_approvals_close(ap);
        return -1;
    }
    ap->freeze = freeze_load(ap);
    *out = ap;
    return 0;
}

void gate_approvals_close(gate_approvals *ap)
{
    if (!ap)
        return;
    json_decref(ap->freeze);
    sqlite3_close(ap->db);
    free(ap);
}

void gate_approvals_set_max_pending(gate_approvals *ap, long max_pending)
{
    ap->max_pending = max_pending > 0 ? max_pending : 0;
}

long gate_approvals_max_pending(const gate_approvals *ap)
{
    return ap->max_pending;
}

/* ---- storage ---- */

static json_t *load_doc(sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    return text ? json_loads(text, 0, NULL) : NULL;
}

static int save(gate_approvals *ap, const json_t *doc)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ap->db,
                           "INSERT OR REPLACE INTO approvals(id, agent, fingerprint, state, requested_at, expires_at,"
                           " doc) VALUES(?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    char *text = twin_xdumps(doc, JSON_COMPACT);
    sqlite3_bind_text(st, 1, json_string_value(json_object_get(doc, "id")), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, json_string_value(json_object_get(doc, "agent")), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, json_string_value(json_object_get(doc, "fingerprint")), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, json_string_value(json_object_get(doc, "state")), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 5, json_number_value(json_object_get(doc, "requested_at")));
    sqlite3_bind_double(st, 6, json_number_value(json_object_get(doc, "expires_at")));
    sqlite3_bind_text(st, 7, text, -1, free);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* Pending or approved past its time: expired (stored so). */
static json_t *settle(gate_approvals *ap, json_t *doc, double now)
{
    if (!doc)
        return NULL;
    const char *state = json_string_value(json_object_get(doc, "state"));
    double until = json_number_value(json_object_get(doc, "expires_at"));
    if (state && (!strcmp(state, "pending") || !strcmp(state, "approved")) && now > until) {
        json_object_set_new(doc, "state", json_string("expired"));
        save(ap, doc);
    }
    return doc;
}

json_t *gate_approvals_get(gate_approvals *ap, const char *id, double now)
{
    sqlite3_stmt *st;
    json_t *doc = NULL;
    if (sqlite3_prepare_v2(ap->db, "SELECT doc FROM approvals WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        doc = load_doc(st, 0);
    sqlite3_finalize(st);
    return settle(ap, doc, now);
}

/* The state filter is SQL's, ahead of the LIMIT, so that one agent's many
 * rows in other states cannot push another agent's pending approval off
 * the list.  A pending or approved row past its time is expired, whatever
 * its column says until settle() stores it so: the filters ask for the
 * time too (settle: expired when now > expires_at).  ?1 state, ?2 now,
 * ?3 limit. */
static const char *list_query(const char *state)
{
    if (!state || !strcmp(state, "all"))
        return "SELECT doc FROM approvals ORDER BY requested_at DESC, id LIMIT ?3";
    if (!strcmp(state, "pending") || !strcmp(state, "approved"))
        return "SELECT doc FROM approvals WHERE state = ?1 AND expires_at >= ?2"
               " ORDER BY requested_at DESC, id LIMIT ?3";
    if (!strcmp(state, "expired"))
        return "SELECT doc FROM approvals WHERE state = 'expired'"
               " OR (state IN ('pending', 'approved') AND expires_at < ?2)"
               " ORDER BY requested_at DESC, id LIMIT ?3";
    return "SELECT doc FROM approvals WHERE state = ?1 ORDER BY requested_at DESC, id LIMIT ?3";
}

json_t *gate_approvals_list(gate_approvals *ap, const char *state, double now)
{
    sqlite3_stmt *st;
    json_t *rows = json_array(), *items = json_array();
    /* read first, settle after: settle writes rows the query would be walking */
    if (sqlite3_prepare_v2(ap->db, list_query(state), -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, state ? state : "all", -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 2, now);
        sqlite3_bind_int(st, 3, GATE_APPROVALS_LIST_MAX);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *doc = load_doc(st, 0);
            if (doc)
                json_array_append_new(rows, doc);
        }
        sqlite3_finalize(st);
    }
    /* the rows that expire here are stored in one transaction, not one sync each */
    int tx = sqlite3_exec(ap->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    size_t i;
    json_t *doc;
    json_array_foreach(rows, i, doc) {
        settle(ap, doc, now);
        const char *s = json_string_value(json_object_get(doc, "state"));
        if (!state || !strcmp(state, "all") || (s && !strcmp(s, state)))
            json_array_append(items, doc);
    }
    if (tx && sqlite3_exec(ap->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(ap->db, "ROLLBACK", NULL, NULL, NULL);
    json_decref(rows);
    return json_pack("{s:o}", "items", items);
}

/* The approval of agent + fingerprint in `state`, newest first (new), or
 * NULL. */
static json_t *find(gate_approvals *ap, const char *agent, const char *fp, const char *state, double now)
{
    sqlite3_stmt *st;
    json_t *doc = NULL;
    if (sqlite3_prepare_v2(ap->db,
                           "SELECT doc FROM approvals WHERE agent = ? AND fingerprint = ? AND state = ?"
                           " ORDER BY requested_at DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, agent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, fp, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, state, -1, SQLITE_TRANSIENT);
    while (!doc && sqlite3_step(st) == SQLITE_ROW) {
        doc = settle(ap, load_doc(st, 0), now);
        if (doc && strcmp(json_string_value(json_object_get(doc, "state")), state)) {
            json_decref(doc);   /* it expired just now */
            doc = NULL;
        }
    }
    sqlite3_finalize(st);
    return doc;
}

/* The agent's pending approvals not yet past their time, or -1. */
static long count_pending(gate_approvals *ap, const char *agent, double now)
{
    sqlite3_stmt *st;
    long n = -1;
    if (sqlite3_prepare_v2(ap->db,
                           "SELECT count(*) FROM approvals WHERE agent = ? AND state = 'pending' AND expires_at >= ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, agent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, now);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

char *gate_approvals_add(gate_approvals *ap, const char *agent, const char *fingerprint, const json_t *doc,
                         double now, int *outcome)
{
    int dummy;
    if (!outcome)
        outcome = &dummy;
    json_t *old = find(ap, agent, fingerprint, "pending", now);
    if (old) {
        char *id = twin_xstrdup(json_string_value(json_object_get(old, "id")));
        json_decref(old);
        *outcome = GATE_APPROVAL_FOUND;
        return id;
    }
    if (ap->max_pending) {
        long n = count_pending(ap, agent, now);
        if (n < 0 || n >= ap->max_pending) {
            *outcome = n < 0 ? GATE_APPROVAL_FAILED : GATE_APPROVAL_CAPPED;
            return NULL;
        }
    }
    unsigned char r[6];
    gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r);
    char *id = twin_xasprintf("%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
    json_t *a = json_deep_copy(doc);
    json_object_set_new(a, "id", json_string(id));
    json_object_set_new(a, "agent", json_string(agent));
    json_object_set_new(a, "state", json_string("pending"));
    json_object_set_new(a, "fingerprint", json_string(fingerprint));
    json_object_set_new(a, "requested_at", json_real(now));
    json_object_set_new(a, "expires_at", json_real(now + ap->pending_ttl));
    int rc = save(ap, a);
    json_decref(a);
    if (rc < 0) {
        free(id);
        *outcome = GATE_APPROVAL_FAILED;
        return NULL;
    }
    *outcome = GATE_APPROVAL_MADE;
    return id;
}

int gate_approvals_decide(gate_approvals *ap, const char *id, int approve, const char *by, const char *comment,
                          double now, json_t **doc, char *msg, size_t msglen)
{
    json_t *a = gate_approvals_get(ap, id, now);
    if (!a) {
        snprintf(msg, msglen, "approval %s not found", id);
        return 404;
    }
    const char *state = json_string_value(json_object_get(a, "state"));
    if (!strcmp(state, "expired")) {
        snprintf(msg, msglen, "approval %s expired unanswered", id);
        json_decref(a);
        return 410;
    }
    if (strcmp(state, "pending")) {
        const char *who = json_string_value(json_object_get(a, "decided_by"));
        snprintf(msg, msglen, "approval %s is already %s%s%s", id, state, who ? " by " : "", who ? who : "");
        json_decref(a);
        return 409;
    }
    json_object_set_new(a, "state", json_string(approve ? "approved" : "denied"));
    json_object_set_new(a, "decided_by", json_string(by));
    json_object_set_new(a, "decided_at", json_real(now));
    json_object_set_new(a, "comment", json_string(comment ? comment : ""));
    if (approve)
        json_object_set_new(a, "expires_at", json_real(now + ap->approved_ttl));
    if (save(ap, a) < 0) {
        snprintf(msg, msglen, "approval %s could not be stored: %s", id, sqlite3_errmsg(ap->db));
        json_decref(a);
        return 500;
    }
    *doc = a;
    return 0;
}

int gate_approvals_repend(gate_approvals *ap, const char *id, const json_t *current_impact,
                          const json_t *current_diff, const char *why, double now)
{
    json_t *a = gate_approvals_get(ap, id, now);
    if (!a)
        return -1;
    if (!json_object_get(a, "previous"))   /* keep what it was first requested with */
        json_object_set_new(a, "previous", json_pack("{s:O, s:O}", "impact", json_object_get(a, "impact"), "diff",
                                                     json_object_get(a, "diff")));
    json_object_set(a, "impact", (json_t *)current_impact);
    json_object_set(a, "diff", (json_t *)current_diff);
    json_object_set_new(a, "changed", json_string(why));
    json_object_set_new(a, "state", json_string("pending"));
    json_object_del(a, "decided_by");
    json_object_del(a, "decided_at");
    json_object_set_new(a, "expires_at", json_real(now + ap->pending_ttl));
    int rc = save(ap, a);
    json_decref(a);
    return rc;
}

json_t *gate_approvals_find_approved(gate_approvals *ap, const char *agent, const char *fingerprint, double now)
{
    return find(ap, agent, fingerprint, "approved", now);
}

int gate_approvals_use(gate_approvals *ap, const char *id, double now)
{
    json_t *a = gate_approvals_get(ap, id, now);
    if (!a)
        return -1;
    json_object_set_new(a, "state", json_string("used"));
    json_object_set_new(a, "used_at", json_real(now));
    int rc = save(ap, a);
    json_decref(a);
    return rc;
}

/* ---- the kill switch ---- */

/* The freeze row from the database (new reference). */
static json_t *freeze_load(gate_approvals *ap)
{
    sqlite3_stmt *st;
    json_t *out = NULL;
    if (sqlite3_prepare_v2(ap->db, "SELECT frozen, reason, who, since FROM freeze WHERE one = 1", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0))
            out = json_pack("{s:b, s:s, s:s, s:f}", "frozen", 1, "reason",
                            sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "", "by",
                            sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "", "since",
                            sqlite3_column_double(st, 3));
        sqlite3_finalize(st);
    }
    return out ? out : json_pack("{s:b}", "frozen", 0);
}

/* Asked on every mutation: answered from memory (one gate owns gate.db;
 * gate_freeze_set keeps the copy current). */
json_t *gate_freeze_get(gate_approvals *ap)
{
    return json_deep_copy(ap->freeze);
}

int gate_freeze_set(gate_approvals *ap, int frozen, const char *by, const char *reason, double now)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ap->db, "INSERT OR REPLACE INTO freeze(one, frozen, reason, who, since) VALUES(1,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, frozen);
    sqlite3_bind_text(st, 2, reason ? reason : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, by, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 4, now);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    if (rc == 0) {
        json_decref(ap->freeze);
        ap->freeze = freeze_load(ap);
    }
    return rc;
}

/* ---- fingerprints, tolerance, redaction ---- */

static json_t *canonical_object(const json_t *obj)
{
    if (!json_is_object(obj))
        return json_null();
    json_t *c = json_deep_copy(obj);
    json_object_del(c, "status");
    json_t *meta = json_object_get(c, "metadata");
    static const char *SERVER_SET[] = {"resourceVersion", "uid", "generation", "creationTimestamp", "managedFields",
                                       "selfLink", NULL};
    for (int i = 0; SERVER_SET[i] && json_is_object(meta); i++)
        json_object_del(meta, SERVER_SET[i]);
    return c;
}

char *gate_fingerprint(const char *agent, const json_t *diff)
{
    json_t *effect = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(diff, i, c) {
        const char *cause = json_string_value(json_object_get(c, "cause"));
        if (cause && strcmp(cause, "direct"))
            continue;
        json_array_append_new(effect, json_pack("{s:O, s:O, s:O, s:O, s:o}", "op", json_object_get(c, "op"), "kind",
                                                json_object_get(c, "kind"), "namespace",
                                                json_object_get(c, "namespace") ? json_object_get(c, "namespace")
                                                                                : json_null(),
                                                "name", json_object_get(c, "name"), "after",
                                                canonical_object(json_object_get(c, "after"))));
    }
    json_t *doc = json_pack("{s:s, s:o}", "agent", agent, "effect", effect);
    char *text = twin_xdumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    char *fp = gate_sha256_hex(text, strlen(text));
    free(text);
    return fp;
}

static json_t *at(const json_t *impact, const char *a, const char *b)
{
    json_t *v = json_object_get(impact, a);
    return b ? json_object_get(v, b) : v;
}

/* The names of a list of {namespace, name} or {from, to, port} entries, as
 * one sorted string, so that sets compare as strings. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *set_of(const json_t *list)
{
    size_t n = json_array_size(list), i;
    char **v = twin_xcalloc(n ? n : 1, sizeof *v);
    for (i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i);
        v[i] = twin_xdumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    }
    qsort(v, n, sizeof *v, cmp_str);
    twin_buf b = {0};
    for (i = 0; i < n; i++) {
        twin_buf_addf(&b, "%s\n", v[i]);
        free(v[i]);
    }
    free(v);
    return b.s ? b.s : twin_xstrdup("");
}

static int same_set(const json_t *a, const json_t *b)
{
    char *x = set_of(a), *y = set_of(b);
    int same = !strcmp(x, y);
    free(x);
    free(y);
    return same;
}

int gate_impact_changed(const json_t *then, const json_t *now_impact, char *why, size_t whylen)
{
    long p0 = (long)json_integer_value(at(then, "pods_disrupted", NULL));
    long p1 = (long)json_integer_value(at(now_impact, "pods_disrupted", NULL));
    double tol = fmax(1.0, 0.1 * (double)labs(p0));
    if (fabs((double)(p1 - p0)) > tol)
        return snprintf(why, whylen, "pods disrupted %ld -> %ld", p0, p1), 1;
    double c0 = json_number_value(at(then, "cost", "delta")), c1 = json_number_value(at(now_impact, "cost", "delta"));
    if (fabs(c1 - c0) > fmax(0.01, 0.1 * fabs(c0)))
        return snprintf(why, whylen, "hourly cost delta %.2f -> %.2f", c0, c1), 1;
    static const char *SETS[][2] = {{"settled", "services_emptied"},
                                    {"settled", "workloads_degraded"},
                                    {"reachability", "added"},
                                    {"reachability", "removed"}};
    for (size_t i = 0; i < sizeof SETS / sizeof SETS[0]; i++)
        if (!same_set(at(then, SETS[i][0], SETS[i][1]), at(now_impact, SETS[i][0], SETS[i][1])))
            return snprintf(why, whylen, "%s %s %zu -> %zu", SETS[i][0], SETS[i][1],
                            json_array_size(at(then, SETS[i][0], SETS[i][1])),
                            json_array_size(at(now_impact, SETS[i][0], SETS[i][1]))),
                   1;
    return 0;
}

