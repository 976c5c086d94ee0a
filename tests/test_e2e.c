/*
 * test_e2e.c - `gate check`'s engine end to end on the demo cluster: every
 * case in tests/e2e/cases/ is data (state, agent, manifests, actions, and
 * the expected verdict, policy and message of each action), run through the
 * same decision pipeline the CLI uses, against the real default policies.
 *
 * The state of each case is imported once and copied per case.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gate/cmd/cli.h"
#include "gate/engine/engine.h"
#include "twin/util.h"

static twin_map snapshots;   /* state key -> twin* */
static gate_policy_set *policies;

static void twin_free_v(void *p) { twin_close(p); }

static twin *state_for(const json_t *states)
{
    char *key = json_dumps(states, JSON_COMPACT);
    twin *t = twin_map_get(&snapshots, key);
    if (!t) {
        char err[1024];
        assert_int_equal(twin_open(&t, NULL, err, sizeof err), 0);
        assert_int_equal(twin_load_pricing(t, "fixtures/pricing.json", err, sizeof err), 0);
        size_t i;
        json_t *s;
        json_array_foreach(states, i, s) {
            if (twin_import_path(t, json_string_value(s), err, sizeof err) < 0)
                fail_msg("import %s: %s", json_string_value(s), err);
        }
        twin_map_put(&snapshots, key, t);
    }
    free(key);
    twin *copy;
    char err[256];
    assert_int_equal(twin_copy(&copy, t, err, sizeof err), 0);
    return copy;
}

static void run_case(void **state)
{
    const char *path = *state;
    json_error_t je;
    json_t *c = json_load_file(path, 0, &je);
    if (!c)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    json_t *states = json_object_get(c, "state");
    twin *t = state_for(states);
    json_t *actions = json_array();
    char err[1024];
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c, "manifests"), i, m) {
        if (gate_cli_manifest_actions(t, json_string_value(m), actions, err, sizeof err) < 0)
            fail_msg("%s: %s", path, err);
    }
    json_array_extend(actions, json_object_get(c, "actions"));
    json_t *expect = json_object_get(c, "expect");
    if (json_array_size(expect) != json_array_size(actions))
        fail_msg("%s: %zu expectations for %zu actions", path, json_array_size(expect), json_array_size(actions));

    gate_history *h;
    assert_int_equal(gate_history_open(&h, NULL, err, sizeof err), 0);
    gate_engine e = {.twin = t, .policies = policies, .history = h, .now = 1.7e9};
    const char *agent = json_string_value(json_object_get(c, "agent"));
    int failed = 0;
    json_t *a;
    json_array_foreach(actions, i, a) {
        gate_decision d;
        e.now += 60;   /* a minute apart: inside every budget window */
        gate_decide(&e, agent ? agent : "ops-bot", json_string_value(json_object_get(a, "method")),
                    json_string_value(json_object_get(a, "path")), json_object_get(a, "headers"),
                    json_object_get(a, "body"), NULL, 0, &d);
        json_t *x = json_array_get(expect, i);
        const char *want = json_string_value(json_object_get(x, "verdict"));
        const char *got = gate_verdict_name(d.verdict);
        const char *pol = json_string_value(json_object_get(x, "policy"));
        const char *sub = json_string_value(json_object_get(x, "message_contains"));
        int ok = !strcmp(want, got);
        if (ok && pol) {
            int found = 0;
            size_t k;
            json_t *r;
            json_array_foreach(d.results, k, r) {
                const char *rp = json_string_value(json_object_get(r, "policy"));
                const char *rv = json_string_value(json_object_get(r, "verdict"));
                if (rp && !strcmp(rp, pol) && rv && !strcmp(rv, want))
                    found = 1;
            }
            ok = found;
        }
        if (ok && sub)
            ok = d.message && strstr(d.message, sub);
        if (!ok) {
            print_error("%s: action %zu (%s %s): expected %s%s%s, got %s: %s\n", path, i + 1,
                        json_string_value(json_object_get(a, "method")),
                        json_string_value(json_object_get(a, "path")), want, pol ? " by " : "", pol ? pol : "", got,
                        d.message ? d.message : "");
            failed = 1;
        }
        gate_decision_free(&d);
    }
    gate_history_close(h);
    json_decref(actions);
    json_decref(c);
    twin_close(t);
    if (failed)
        fail();
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void)
{
    char err[1024];
    if (gate_policy_load(&policies, "lua-policies", err, sizeof err) < 0) {
        fprintf(stderr, "cannot load lua-policies: %s\n", err);
        return 1;
    }
    const char *dir = getenv("E2E_DIR") ? getenv("E2E_DIR") : "tests/e2e/cases";
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) {
            names = twin_xrealloc(names, (n + 1) * sizeof(char *));
            names[n++] = twin_xasprintf("%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "no cases in %s\n", dir);
        return 1;
    }
    qsort(names, n, sizeof(char *), cmp);
    struct CMUnitTest *tests = twin_xcalloc(n, sizeof(*tests));
    for (size_t i = 0; i < n; i++) {
        tests[i].name = strrchr(names[i], '/') + 1;
        tests[i].test_func = run_case;
        tests[i].initial_state = names[i];
    }
    int rc = _cmocka_run_group_tests("e2e", tests, n, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(tests);
    twin_map_clear(&snapshots, twin_free_v);
    gate_policy_free(policies);
    return rc;
}
