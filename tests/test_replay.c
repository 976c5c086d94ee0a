/*
 * test_replay.c - gate replay (gate/cmd/replay.h): audit logs written here as
 * the server writes them (a start record with the twin's state, then one
 * decision record per call, made by the real engine on a "server" twin with
 * the default policies), judged again under other policies.
 *
 * The log of most tests, on fixtures/demo (shop/catalog has 2 replicas):
 *   start
 *   scale shop/catalog to 3           allow, committed
 *   delete namespace payments         deny (blast-radius)
 *   label payments/api-config         allow, committed (would fail had the deletion been kept)
 *   scale shop/catalog to 4           allow, committed
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gate/ops/audit.h"
#include "gate/engine/engine.h"
#include "gate/kube/k8s.h"
#include "gate/cmd/replay.h"
#include "twin/util.h"

#define T0 1.7e9

typedef struct fixture {
    char dir[64];           /* scratch directory */
    char *repo;             /* dir/audit */
    gate_audit *audit;
    twin *t;                /* the "server's" twin */
    gate_history *hist;
    gate_policy_set *ps;    /* the default policies, as the server judged */
    double clock;
    char *last_id;          /* of the last record appended */
} fixture;

static const char *SCALE = "/apis/apps/v1/namespaces/shop/deployments/catalog/scale";
static const char *MERGE = "application/merge-patch+json";

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = twin_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* A policy directory dir/NAME holding one policy NAME.lua (the body of its
 * evaluate function); returns the loaded set. */
static gate_policy_set *policy_dir(fixture *f, const char *name, const char *evaluate)
{
    char *dir = twin_xasprintf("%s/%s", f->dir, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    char *file = twin_xasprintf("%s.lua", name);
    char *text = twin_xasprintf("return { name = \"%s\", description = \"test\",\n"
                                "  evaluate = function(ctx)\n%s\n  end }\n",
                                name, evaluate);
    write_file(dir, file, text);
    gate_policy_set *ps;
    char err[1024];
    if (gate_policy_load(&ps, dir, err, sizeof err) < 0)
        fail_msg("%s: %s", dir, err);
    free(text);
    free(file);
    free(dir);
    return ps;
}

/* The server starting on fixtures/demo: a fresh twin (the history goes on,
 * as the server's gate.db does), and a start record with the twin's state. */
static void server_start(fixture *f, const char *mode)
{
    char err[1024];
    twin_close(f->t);
    assert_int_equal(twin_open(&f->t, NULL, err, sizeof err), 0);
    assert_int_equal(twin_load_pricing(f->t, "fixtures/pricing.json", err, sizeof err), 0);
    if (twin_import_path(f->t, "fixtures/demo", err, sizeof err) < 0)
        fail_msg("fixtures/demo: %s", err);
    if (!f->hist)
        assert_int_equal(gate_history_open(&f->hist, NULL, err, sizeof err), 0);
    f->clock += 10;
    json_t *rec = json_pack("{s:s, s:s, s:s, s:f}", "type", "start", "mode", mode, "policy_version", "test",
                            "time", f->clock);
    json_t *att = json_pack("{s:o}", "state.json", twin_export(f->t));
    if (gate_audit_append(f->audit, rec, att, NULL, err, sizeof err) < 0)
        fail_msg("append start: %s", err);
    json_decref(att);
    json_decref(rec);
}

static void append(fixture *f, json_t *rec)
{
    char err[1024];
    free(f->last_id);
    f->last_id = NULL;
    if (gate_audit_append(f->audit, rec, NULL, &f->last_id, err, sizeof err) < 0)
        fail_msg("append: %s", err);
    json_decref(rec);
}

/* One call through the server's engine (ps: the policies that judge it,
 * NULL for none), recorded as the server records it; `extra` (taken, may
 * be NULL) is merged over the record.  Returns the verdict. */
static gate_verdict server_call(fixture *f, gate_policy_set *ps, const char *method, const char *path,
                                const char *ct, const char *body_json, json_t *extra)
{
    json_t *body = body_json ? json_loads(body_json, 0, NULL) : NULL;
    json_t *headers = ct ? json_pack("{s:s}", "Content-Type", ct) : json_object();
    f->clock += 10;
    gate_engine e = {.twin = f->t, .policies = ps, .history = f->hist, .now = f->clock};
    long long before = twin_resource_version(f->t);
    gate_decision d;
    gate_decide(&e, "ops-bot", method, path, headers, body, NULL, 0, &d);
    const char *verb = json_string_value(json_object_get(d.action, "verb"));
    int committed = d.verdict == GATE_ALLOW && verb && !gate_verb_is_read(verb);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s?, s:O?}, s:O, s:O, s:O, s:O, s:s, s:b, "
                            "s:{s:n, s:n}, s:f, s:{s:I, s:I}, s:s}",
                            "type", "decision", "agent", "ops-bot", "verdict", gate_verdict_name(d.verdict),
                            "policy_verdict", gate_verdict_name(d.verdict), "request", "method", method, "path",
                            path, "content_type", ct, "body", body, "action", d.action, "diff", d.diff, "impact",
                            d.impact ? d.impact : json_null(), "results", d.results, "message", d.message,
                            "committed", committed, "profile", "policies", "config_overrides", "time", f->clock,
                            "twin", "resource_version_before", (json_int_t)before, "resource_version_after",
                            (json_int_t)twin_resource_version(f->t), "policy_version", "test");
    assert_non_null(rec);
    if (extra) {
        json_object_update(rec, extra);
        json_decref(extra);
    }
    append(f, rec);
    gate_verdict v = d.verdict;
    gate_decision_free(&d);
    json_decref(headers);
    json_decref(body);
    return v;
}

static void scale(fixture *f, int replicas, gate_verdict want)
{
    char body[64];
    snprintf(body, sizeof body, "{\"spec\": {\"replicas\": %d}}", replicas);
    assert_int_equal(server_call(f, f->ps, "PATCH", SCALE, MERGE, body, NULL), want);
}

/* the log of the header comment */
static void usual_log(fixture *f)
{
    server_start(f, "twin");
    scale(f, 3, GATE_ALLOW);
    assert_int_equal(server_call(f, f->ps, "DELETE", "/api/v1/namespaces/payments", NULL, NULL, NULL), GATE_DENY);
    assert_int_equal(server_call(f, f->ps, "PATCH", "/api/v1/namespaces/payments/configmaps/api-config", MERGE,
                                 "{\"metadata\": {\"labels\": {\"touched\": \"yes\"}}}", NULL),
                     GATE_ALLOW);
    scale(f, 4, GATE_ALLOW);
}

static int setup(void **state)
{
    fixture *f = twin_xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_replay.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->repo = twin_xasprintf("%s/audit", f->dir);
    char err[1024];
    if (gate_audit_open(&f->audit, f->repo, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (gate_policy_load(&f->ps, "lua-policies", err, sizeof err) < 0) {
        fprintf(stderr, "lua-policies: %s\n", err);
        return -1;
    }
    f->clock = T0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gate_audit_close(f->audit);
    gate_policy_free(f->ps);
    gate_history_close(f->hist);
    twin_close(f->t);
    char *cmd = twin_xasprintf("rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(cmd);
    free(f->repo);
    free(f->last_id);
    free(f);
    return rc == 0 ? 0 : -1;
}

static json_t *run(fixture *f, gate_policy_set *ps, double since)
{
    json_t *rep = NULL;
    char err[1024];
    if (gate_replay_run(&rep, f->repo, ps, "fixtures/pricing.json", since, err, sizeof err) < 0)
        fail_msg("replay: %s", err);
    return rep;
}

static json_int_t num(const json_t *rep, const char *key)
{
    return json_integer_value(json_object_get(rep, key));
}

static const json_t *change(const json_t *rep, size_t i)
{
    return json_array_get(json_object_get(rep, "changed"), i);
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void print_problems(const json_t *rep)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(rep, "problems"), i, p)
        print_error("problem: seq %lld: %s\n", (long long)num(p, "seq"), str(p, "problem"));
}

/* (a) the policies the log was written under: nothing changes */
static void same_policies_change_nothing(void **state)
{
    fixture *f = *state;
    usual_log(f);
    json_t *rep = run(f, f->ps, 0);
    print_problems(rep);
    assert_int_equal(num(rep, "records"), 5);
    assert_int_equal(num(rep, "decisions"), 4);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 0);
    assert_int_equal(num(rep, "unreplayable"), 0);
    assert_int_equal(num(rep, "denied_to_allowed"), 0);
    json_decref(rep);
}

/* (b) policies that allow everything: the deny becomes an allow, and the
 * deletion is still rolled back (production never took it), so the later
 * change in payments replays */
static void permissive_policies_loosen(void **state)
{
    fixture *f = *state;
    usual_log(f);
    gate_policy_set *yes = policy_dir(f, "yes", "return allow()");
    json_t *rep = run(f, yes, 0);
    print_problems(rep);
    assert_int_equal(num(rep, "decisions"), 4);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 1);
    assert_int_equal(num(rep, "loosened"), 1);
    assert_int_equal(num(rep, "tightened"), 0);
    assert_int_equal(num(rep, "denied_to_allowed"), 1);
    assert_int_equal(num(rep, "unreplayable"), 0);
    const json_t *c = change(rep, 0);
    assert_int_equal(num(c, "seq"), 3);
    assert_string_equal(str(c, "old"), "deny");
    assert_string_equal(str(c, "new"), "allow");
    assert_string_equal(str(c, "verb"), "delete");
    assert_string_equal(str(c, "kind"), "Namespace");
    assert_string_equal(str(c, "name"), "payments");
    assert_string_equal(str(c, "agent"), "ops-bot");
    json_decref(rep);
    gate_policy_free(yes);
}

/* (c) stricter policies: every allowed mutation is now denied, and still
 * applied (production took them), so the state keeps up */
static void strict_policies_tighten(void **state)
{
    fixture *f = *state;
    usual_log(f);
    gate_policy_set *no = policy_dir(f, "no", "if ctx.action.verb == 'get' or ctx.action.verb == 'list' then\n"
                                              "  return allow() end\n"
                                              "return deny('no changes on %s', ctx.action.kind)");
    json_t *rep = run(f, no, 0);
    print_problems(rep);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 3);
    assert_int_equal(num(rep, "tightened"), 3);
    assert_int_equal(num(rep, "loosened"), 0);
    assert_int_equal(num(rep, "denied_to_allowed"), 0);
    assert_int_equal(num(rep, "unreplayable"), 0);
    assert_string_equal(str(change(rep, 0), "new"), "deny");
    assert_non_null(strstr(str(change(rep, 0), "message"), "denied by no: no changes on Deployment"));
    const json_t *reasons = json_object_get(change(rep, 0), "reasons");
    assert_int_equal(json_array_size(reasons), 1);
    assert_string_equal(str(json_array_get(reasons, 0), "policy"), "no");
    json_decref(rep);
    gate_policy_free(no);
}

/* The start of a policy that reads the state before the action: how many
 * replicas shop/catalog had (n); namespaces stay, as the default policies
 * keep payments. */
#define CATALOG_REPLICAS                                                                                               \
    "local a = ctx.action\n"                                                                                           \
    "if a.kind == 'Namespace' then return deny('namespaces stay') end\n"                                             \
    "if a.namespace ~= 'shop' or a.name ~= 'catalog' then return allow() end\n"                                      \
    "local n = ctx.twin.get('Deployment', 'shop', 'catalog', 'before').spec.replicas\n"

/* (d) the state advances: the second scale is judged on the first one's
 * result, whether the new policies allow the first (held, committed) ... */
static void state_follows_committed_decisions(void **state)
{
    fixture *f = *state;
    usual_log(f);
    gate_policy_set *ps = policy_dir(f, "watch", CATALOG_REPLICAS "if n == 3 then return deny('had %d replicas', n) end\n"
                                                                  "return allow()");
    json_t *rep = run(f, ps, 0);
    print_problems(rep);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 1);
    assert_int_equal(num(change(rep, 0), "seq"), 5);
    assert_non_null(strstr(str(change(rep, 0), "message"), "had 3 replicas"));
    json_decref(rep);

    /* ... or deny it (applied again without policies) */
    gate_policy_set *ps2 = policy_dir(f, "always", CATALOG_REPLICAS "return review('had %d replicas', n)");
    rep = run(f, ps2, 0);
    print_problems(rep);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 2);
    assert_non_null(strstr(str(change(rep, 0), "message"), "had 2 replicas"));
    assert_non_null(strstr(str(change(rep, 1), "message"), "had 3 replicas"));
    assert_int_equal(num(rep, "tightened"), 2);
    assert_int_equal(num(rep, "unreplayable"), 0);
    json_decref(rep);

    /* --since the last scale: only it is judged, on the state the earlier
     * ones built */
    rep = run(f, ps, T0 + 50);
    assert_int_equal(num(rep, "decisions"), 1);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 1);
    assert_int_equal(num(change(rep, 0), "seq"), 5);
    assert_non_null(strstr(str(change(rep, 0), "message"), "had 3 replicas"));
    json_decref(rep);
    gate_policy_free(ps);
    gate_policy_free(ps2);
}

/* A start record resets the state (the gate restarted on the demo again);
 * --since judges from the start before it */
static void start_resets_the_state(void **state)
{
    fixture *f = *state;
    server_start(f, "twin");
    scale(f, 3, GATE_ALLOW);
    server_start(f, "twin");
    scale(f, 4, GATE_ALLOW);   /* on 2 replicas again */
    gate_policy_set *ps = policy_dir(f, "watch", CATALOG_REPLICAS "if n == 3 then return deny('had %d replicas', n) end\n"
                                                                  "return allow()");
    json_t *rep = run(f, ps, 0);
    assert_int_equal(num(rep, "decisions"), 2);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 0);
    json_decref(rep);
    rep = run(f, ps, T0 + 40);
    assert_int_equal(num(rep, "decisions"), 1);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 0);
    json_decref(rep);
    gate_policy_free(ps);
}

/* Records that are not the policies' verdicts are skipped; an approved
 * retry is compared with what the policies said (review); a committed
 * change the rebuilt twin refuses is reported and the replay goes on */
static void approvals_freezes_and_divergence(void **state)
{
    fixture *f = *state;
    server_start(f, "twin");
    const char *big = "{\"spec\": {\"replicas\": 200}}";
    const char *checkout = "/apis/apps/v1/namespaces/shop/deployments/checkout/scale";
    assert_int_equal(server_call(f, f->ps, "PATCH", checkout, MERGE, big, NULL), GATE_REVIEW);
    append(f, json_pack("{s:s, s:s, s:s, s:s, s:f}", "type", "approval", "agent", "alice", "verdict", "approved",
                        "approval_id", "a1", "time", f->clock + 1));
    /* the retry, let through by the approval */
    assert_int_equal(server_call(f, NULL, "PATCH", checkout, MERGE, big,
                                 json_pack("{s:s, s:s}", "policy_verdict", "review", "approval_id", "a1")),
                     GATE_ALLOW);
    append(f, json_pack("{s:s, s:s, s:f}", "type", "freeze", "agent", "alice", "time", f->clock + 1));
    append(f, json_pack("{s:s, s:s, s:s, s:b, s:b, s:{s:s, s:s}, s:f}", "type", "decision", "agent", "ops-bot",
                        "verdict", "deny", "frozen", 1, "committed", 0, "request", "method", "DELETE", "path",
                        "/api/v1/namespaces/shop", "time", f->clock + 2));
    /* production took a change this twin cannot make (an object made outside the gate) */
    append(f, json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:s, s:s, s:{s:{s:i}}}, s:f}", "type", "decision", "agent",
                        "ops-bot", "verdict", "allow", "committed", 1, "request", "method", "PATCH", "path",
                        "/apis/apps/v1/namespaces/shop/deployments/ghost", "content_type", MERGE, "body", "spec",
                        "replicas", 2, "time", f->clock + 3));
    f->clock += 10;
    scale(f, 3, GATE_ALLOW);

    json_t *rep = run(f, f->ps, 0);
    assert_int_equal(num(rep, "decisions"), 4);   /* the freeze denial is not one */
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 1);
    const json_t *c = change(rep, 0);   /* the ghost: allowed then, a 404 now */
    assert_string_equal(str(c, "old"), "allow");
    assert_string_equal(str(c, "new"), "error");
    assert_int_equal(num(rep, "loosened") + num(rep, "tightened"), 0);
    assert_int_equal(num(rep, "unreplayable"), 1);
    const json_t *p = json_array_get(json_object_get(rep, "problems"), 0);
    assert_int_equal(num(p, "seq"), num(c, "seq"));
    assert_non_null(strstr(str(p, "problem"), "the state diverged"));
    json_decref(rep);

    gate_policy_set *yes = policy_dir(f, "yes", "return allow()");
    rep = run(f, yes, 0);
    assert_int_equal(num(rep, "loosened"), 2);   /* the review and its approved retry */
    assert_int_equal(num(rep, "denied_to_allowed"), 0);
    json_decref(rep);
    gate_policy_free(yes);
}

/* The budgets' history survives a restart (the server keeps it in
 * gate.db): it is rebuilt across start records, and from the recorded
 * impact of decisions before the start --since replays from */
static void history_survives_restarts(void **state)
{
    fixture *f = *state;
    server_start(f, "twin");
    scale(f, 3, GATE_ALLOW);
    server_start(f, "twin");
    scale(f, 4, GATE_ALLOW);
    gate_policy_set *ps = policy_dir(f, "once", "local n = ctx.history.totals(86400).actions\n"
                                                "if n > 0 then return deny('%d earlier actions', n) end\n"
                                                "return allow()");
    json_t *rep = run(f, ps, 0);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 1);
    assert_int_equal(num(change(rep, 0), "seq"), 4);
    assert_non_null(strstr(str(change(rep, 0), "message"), "1 earlier actions"));
    json_decref(rep);
    rep = run(f, ps, T0 + 40);   /* from the second start: the first scale only in the history */
    assert_int_equal(num(rep, "decisions"), 1);
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 1);
    assert_non_null(strstr(str(change(rep, 0), "message"), "1 earlier actions"));
    json_decref(rep);
    gate_policy_free(ps);
}

/* Enforce mode records a forwarded decision with "committed": null and
 * what production did in a later outcome record naming it */
static void outcomes_settle_forwarded_decisions(void **state)
{
    fixture *f = *state;
    server_start(f, "enforce");
    json_t *pending = json_pack("{s:n}", "committed");
    assert_int_equal(server_call(f, f->ps, "PATCH", SCALE, MERGE, "{\"spec\": {\"replicas\": 3}}", pending),
                     GATE_ALLOW);
    append(f, json_pack("{s:s, s:s, s:s, s:i, s:b}", "type", "outcome", "agent", "ops-bot", "decision", f->last_id,
                        "production_status", 200, "committed", 1));
    /* one production refused: not committed */
    assert_int_equal(server_call(f, f->ps, "PATCH", SCALE, MERGE, "{\"spec\": {\"replicas\": 5}}",
                                 json_pack("{s:n}", "committed")),
                     GATE_ALLOW);
    append(f, json_pack("{s:s, s:s, s:s, s:i, s:b}", "type", "outcome", "agent", "ops-bot", "decision", f->last_id,
                        "production_status", 409, "committed", 0));
    /* and one whose outcome never came */
    assert_int_equal(server_call(f, f->ps, "PATCH", SCALE, MERGE, "{\"spec\": {\"replicas\": 6}}",
                                 json_pack("{s:n}", "committed")),
                     GATE_ALLOW);
    json_int_t lost = 6;
    scale(f, 4, GATE_ALLOW);
    gate_policy_set *ps = policy_dir(f, "watch", CATALOG_REPLICAS "if n ~= 2 then return deny('had %d replicas', n) end\n"
                                                                  "return allow()");
    json_t *rep = run(f, ps, 0);
    /* the 5 and the 6 were not kept: every later scale starts from 3 */
    assert_int_equal(json_array_size(json_object_get(rep, "changed")), 3);
    for (size_t i = 0; i < 3; i++)
        assert_non_null(strstr(str(change(rep, i), "message"), "had 3 replicas"));
    assert_int_equal(num(rep, "unreplayable"), 1);
    const json_t *p = json_array_get(json_object_get(rep, "problems"), 0);
    assert_int_equal(num(p, "seq"), lost);
    assert_non_null(strstr(str(p, "problem"), "no outcome was recorded"));
    json_decref(rep);
    gate_policy_free(ps);
}

static void bad_logs(void **state)
{
    fixture *f = *state;
    json_t *rep = NULL;
    char err[1024];
    char *missing = twin_xasprintf("%s/nope", f->dir);
    assert_int_equal(gate_replay_run(&rep, missing, f->ps, NULL, 0, err, sizeof err), -1);
    assert_null(rep);
    assert_non_null(strstr(err, missing));
    free(missing);

    /* a decision before any start record: its state is unknown */
    append(f, json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:s}, s:f}", "type", "decision", "agent", "ops-bot",
                        "verdict", "allow", "committed", 0, "request", "method", "GET", "path", "/api/v1/pods",
                        "time", T0));
    assert_int_equal(gate_replay_run(&rep, f->repo, f->ps, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "before any start record"));
    /* ... unless --since leaves it out */
    server_start(f, "twin");
    scale(f, 3, GATE_ALLOW);
    assert_int_equal(gate_replay_run(&rep, f->repo, f->ps, NULL, T0 + 1, err, sizeof err), 0);
    assert_int_equal(num(rep, "decisions"), 1);
    json_decref(rep);
    /* an empty window */
    assert_int_equal(gate_replay_run(&rep, f->repo, f->ps, NULL, T0 + 1e6, err, sizeof err), 0);
    assert_int_equal(num(rep, "decisions"), 0);
    json_decref(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(same_policies_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(permissive_policies_loosen, setup, teardown),
        cmocka_unit_test_setup_teardown(strict_policies_tighten, setup, teardown),
        cmocka_unit_test_setup_teardown(state_follows_committed_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(start_resets_the_state, setup, teardown),
        cmocka_unit_test_setup_teardown(approvals_freezes_and_divergence, setup, teardown),
        cmocka_unit_test_setup_teardown(history_survives_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(outcomes_settle_forwarded_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_logs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
