/*
 * tests/test_approvals.c - unit tests for gate/approvals: that one agent
 * cannot crowd out the others.  The cap on an agent's pending approvals
 * (the same change again still finds its approval; another agent, a
 * decided or expired approval frees a place), and the list filtered by
 * state before its limit, with expiry applied in the filter: a stored
 * pending row past its time is "expired", not "pending".
 *
 * Each test gets a scratch directory holding DIR/gate.db, opened with a
 * pending TTL of an hour and an approved TTL of a second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gate/ops/approvals.h"
#include "twin/util.h"

#define T0 1764000000.0
#define PENDING_TTL 3600.0
#define APPROVED_TTL 1.0

typedef struct fixture {
    char dir[64];
    char *db;   /* dir/gate.db */
    gate_approvals *ap;
} fixture;

static int setup(void **state)
{
    fixture *f = twin_xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_approvals.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->db = twin_xasprintf("%s/gate.db", f->dir);
    char err[512];
    if (gate_approvals_open(&f->ap, f->db, PENDING_TTL, APPROVED_TTL, err, sizeof err) < 0) {
        print_error("%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gate_approvals_close(f->ap);
    char *cmd = twin_xasprintf("rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        print_error("could not remove %s\n", f->dir);
    free(cmd);
    free(f->db);
    free(f);
    return 0;
}

/* The document of a review: what gate_approvals_add keeps. */
static json_t *review(const char *name)
{
    return json_pack("{s:{s:s, s:s, s:s, s:s}, s:s}", "action", "verb", "patch", "kind", "Deployment", "namespace",
                     "shop", "name", name, "message", "needs approval");
}

/* Adds the approval of `agent` for change `n` (its fingerprint "fp-N") at
 * `now`; returns the id (new, or NULL) and the outcome. */
static char *add(gate_approvals *ap, const char *agent, int n, double now, int *outcome)
{
    char fp[32], name[32];
    snprintf(fp, sizeof fp, "fp-%d", n);
    snprintf(name, sizeof name, "app-%d", n);
    json_t *doc = review(name);
    *outcome = 12345;
    char *id = gate_approvals_add(ap, agent, fp, doc, now, outcome);
    json_decref(doc);
    return id;
}

/* Like add, and the approval must be new. */
static char *add_made(gate_approvals *ap, const char *agent, int n, double now)
{
    int outcome;
    char *id = add(ap, agent, n, now, &outcome);
    if (!id || outcome != GATE_APPROVAL_MADE)
        fail_msg("%s change %d: want a new approval, got %s (outcome %d)", agent, n, id ? id : "NULL", outcome);
    return id;
}

static void decide(gate_approvals *ap, const char *id, int approve, double now)
{
    json_t *doc = NULL;
    char msg[256];
    int code = gate_approvals_decide(ap, id, approve, "alice", "", now, &doc, msg, sizeof msg);
    if (code)
        fail_msg("decide %s: %d %s", id, code, msg);
    json_decref(doc);
}

/* The ids of a list answer, in its order, and whether each is in `state`. */
static size_t list_ids(json_t *list, char ***ids, const char *state)
{
    json_t *items = json_object_get(list, "items");
    size_t n = json_array_size(items), i;
    json_t *a;
    *ids = twin_xcalloc(n ? n : 1, sizeof **ids);
    json_array_foreach(items, i, a) {
        (*ids)[i] = (char *)json_string_value(json_object_get(a, "id"));
        if (state && strcmp(json_string_value(json_object_get(a, "state")), state))
            fail_msg("list %s: item %s is %s", state, (*ids)[i], json_string_value(json_object_get(a, "state")));
    }
    return n;
}

static int has_id(json_t *list, const char *id)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(list, "items"), i, a) if (!strcmp(json_string_value(json_object_get(a, "id")),
                                                                         id)) return 1;
    return 0;
}

static void cap_is_twenty_by_default(void **state)
{
    fixture *f = *state;
    assert_int_equal(GATE_APPROVALS_MAX_PENDING, 20);
    assert_int_equal(gate_approvals_max_pending(f->ap), GATE_APPROVALS_MAX_PENDING);
    char *ids[GATE_APPROVALS_MAX_PENDING];
    for (int i = 0; i < GATE_APPROVALS_MAX_PENDING; i++)
        ids[i] = add_made(f->ap, "ops-bot", i, T0 + i);
    int outcome;
    char *id = add(f->ap, "ops-bot", 20, T0 + 30, &outcome);
    assert_null(id);
    assert_int_equal(outcome, GATE_APPROVAL_CAPPED);
    /* the same change again finds its approval, cap or no cap */
    id = add(f->ap, "ops-bot", 7, T0 + 31, &outcome);
    assert_non_null(id);
    assert_int_equal(outcome, GATE_APPROVAL_FOUND);
    assert_string_equal(id, ids[7]);
    free(id);
    /* another agent is not affected */
    id = add_made(f->ap, "other-bot", 20, T0 + 32);
    free(id);
    /* a NULL outcome is allowed */
    json_t *doc = review("x");
    assert_null(gate_approvals_add(f->ap, "ops-bot", "fp-99", doc, T0 + 33, NULL));
    json_decref(doc);
    /* a decision frees a place: denied or approved, it is pending no more */
    decide(f->ap, ids[0], 0, T0 + 40);
    id = add_made(f->ap, "ops-bot", 20, T0 + 41);
    free(id);
    assert_null(add(f->ap, "ops-bot", 21, T0 + 42, &outcome));
    assert_int_equal(outcome, GATE_APPROVAL_CAPPED);
    decide(f->ap, ids[1], 1, T0 + 43);
    id = add_made(f->ap, "ops-bot", 21, T0 + 44);
    free(id);
    for (int i = 0; i < GATE_APPROVALS_MAX_PENDING; i++)
        free(ids[i]);
}

static void expired_approvals_do_not_count(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < GATE_APPROVALS_MAX_PENDING; i++)
        free(add_made(f->ap, "ops-bot", i, T0));
    int outcome;
    assert_null(add(f->ap, "ops-bot", 100, T0 + PENDING_TTL, &outcome));   /* at its expiry: still pending */
    assert_int_equal(outcome, GATE_APPROVAL_CAPPED);
    /* past their time they are expired, though stored pending until read */
    char *id = add_made(f->ap, "ops-bot", 100, T0 + PENDING_TTL + 1);
    free(id);
}

static void cap_is_settable(void **state)
{
    fixture *f = *state;
    int outcome;
    gate_approvals_set_max_pending(f->ap, 2);
    assert_int_equal(gate_approvals_max_pending(f->ap), 2);
    free(add_made(f->ap, "ops-bot", 1, T0));
    free(add_made(f->ap, "ops-bot", 2, T0));
    assert_null(add(f->ap, "ops-bot", 3, T0, &outcome));
    assert_int_equal(outcome, GATE_APPROVAL_CAPPED);
    gate_approvals_set_max_pending(f->ap, 0);   /* no cap */
    assert_int_equal(gate_approvals_max_pending(f->ap), 0);
    for (int i = 3; i < 3 + 2 * GATE_APPROVALS_MAX_PENDING; i++)
        free(add_made(f->ap, "ops-bot", i, T0));
}

/* An older gate.db (without the new indexes) opens and gets them, and
 * the cap holds across a reopen: it counts what is stored. */
static void reopen_keeps_the_count(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < GATE_APPROVALS_MAX_PENDING; i++)
        free(add_made(f->ap, "ops-bot", i, T0));
    gate_approvals_close(f->ap);
    f->ap = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP INDEX approvals_state; DROP INDEX approvals_agent;", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    char err[512];
    if (gate_approvals_open(&f->ap, f->db, PENDING_TTL, APPROVED_TTL, err, sizeof err) < 0)
        fail_msg("reopen without the new indexes: %s", err);
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                        " AND name IN ('approvals_state', 'approvals_agent')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);   /* made again */
    sqlite3_finalize(st);
    sqlite3_close(db);
    int outcome;
    assert_null(add(f->ap, "ops-bot", 100, T0 + 1, &outcome));
    assert_int_equal(outcome, GATE_APPROVAL_CAPPED);
}

/* 600 newer rows of one agent in other states leave another agent's
 * pending approval on list("pending"): the filter is before the limit. */
static void pending_list_filters_before_the_limit(void **state)
{
    fixture *f = *state;
    char *theirs = add_made(f->ap, "other-bot", 0, T0);
    for (int i = 1; i <= 600; i++) {
        double t = T0 + i;
        char *id = add_made(f->ap, "ops-bot", i, t);
        if (i % 2) {
            decide(f->ap, id, 0, t);   /* denied */
        } else {
            decide(f->ap, id, 1, t);   /* approved, then expired unused */
            json_decref(gate_approvals_get(f->ap, id, t + APPROVED_TTL + 1));
        }
        free(id);
    }
    double now = T0 + 700;
    char **ids;
    json_t *list = gate_approvals_list(f->ap, "pending", now);
    size_t n = list_ids(list, &ids, "pending");
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], theirs);
    free(ids);
    json_decref(list);
    /* every state: the newest 500, newest first, so theirs is off it */
    list = gate_approvals_list(f->ap, "all", now);
    n = list_ids(list, &ids, NULL);
    assert_int_equal(n, GATE_APPROVALS_LIST_MAX);
    json_t *items = json_object_get(list, "items");
    for (size_t i = 1; i < n; i++)
        assert_true(json_number_value(json_object_get(json_array_get(items, i - 1), "requested_at")) >=
                    json_number_value(json_object_get(json_array_get(items, i), "requested_at")));
    assert_false(has_id(list, theirs));
    free(ids);
    json_decref(list);
    /* the other states are filtered before the limit too */
    list = gate_approvals_list(f->ap, "denied", now);
    assert_int_equal(list_ids(list, &ids, "denied"), 300);
    free(ids);
    json_decref(list);
    list = gate_approvals_list(f->ap, "expired", now);
    assert_int_equal(list_ids(list, &ids, "expired"), 300);
    free(ids);
    json_decref(list);
    free(theirs);
}

/* A row stored pending whose time passed is expired: list("expired") has
 * it, list("pending") has not, and reading it stores it so. */
static void expired_list_takes_stored_pending_rows(void **state)
{
    fixture *f = *state;
    char *old = add_made(f->ap, "ops-bot", 1, T0);
    char *young = add_made(f->ap, "ops-bot", 2, T0 + 100);
    char *approved = add_made(f->ap, "ops-bot", 3, T0 + 100);
    decide(f->ap, approved, 1, T0 + 100);
    double now = T0 + PENDING_TTL + 50;   /* old has expired, young has not */
    json_t *list = gate_approvals_list(f->ap, "pending", now);
    assert_false(has_id(list, old));
    assert_true(has_id(list, young));
    json_decref(list);
    list = gate_approvals_list(f->ap, "approved", now);   /* approved past its time: expired too */
    assert_false(has_id(list, approved));
    json_decref(list);
    char **ids;
    list = gate_approvals_list(f->ap, "expired", now);
    size_t n = list_ids(list, &ids, "expired");
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], approved);   /* newest first */
    assert_string_equal(ids[1], old);
    free(ids);
    json_decref(list);
    /* stored so: the same answer at any later time, and from get */
    json_t *a = gate_approvals_get(f->ap, old, T0);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "expired");
    json_decref(a);
    list = gate_approvals_list(f->ap, "all", now);
    n = list_ids(list, &ids, NULL);
    assert_int_equal(n, 3);
    free(ids);
    json_decref(list);
    free(old);
    free(young);
    free(approved);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(cap_is_twenty_by_default),
        T(expired_approvals_do_not_count),
        T(cap_is_settable),
        T(reopen_keeps_the_count),
        T(pending_list_filters_before_the_limit),
        T(expired_list_takes_stored_pending_rows),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
