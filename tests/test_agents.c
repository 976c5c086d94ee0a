/*
 * tests/test_agents.c - unit tests for gate/agents' rate limits: the
 * defaults an agent gets when its profile sets none (from the agents file
 * and from gate_agents_add), an explicit 0 that turns a limit off, one key
 * given and the other kept, approvers without limits, and the limits
 * counted by gate_agents_rate; and the agents' AWS key pairs.
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

#include "gate/ops/agents.h"
#include "twin/util.h"

#define T0 1764000000.0
/* 64 hex digits each: tokens only need to differ */
#define H(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static char path[64];

/* Writes `text` to a scratch agents file and loads it: 0 or -1 with err. */
static int load(gate_agents *a, const char *text, char *err, size_t errlen)
{
    snprintf(path, sizeof path, "/tmp/test_agents.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    int rc = gate_agents_load(a, path, err, errlen);
    unlink(path);
    return rc;
}

static const gate_identity *named(const gate_agents *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].name, name))
            return &a->v[i];
    fail_msg("no agent %s", name);
    return NULL;
}

static void defaults_unless_set(void **state)
{
    (void)state;
    gate_agents a;
    char err[512];
    static const char FILE_[] = "agents:\n"
                                "  - {name: plain, token_sha256: '" H("1") "'}\n"
                                "  - {name: empty, token_sha256: '" H("2") "', rate_limit: {}}\n"
                                "  - {name: unlimited, token_sha256: '" H("3") "',\n"
                                "     rate_limit: {per_second: 0, per_minute: 0}}\n"
                                "  - {name: slow, token_sha256: '" H("4") "', rate_limit: {per_minute: 2}}\n"
                                "  - {name: burst, token_sha256: '" H("5") "', rate_limit: {per_second: 50}}\n"
                                "  - {name: no-second, token_sha256: '" H("6") "', rate_limit: {per_second: 0}}\n"
                                "  - {name: alice, token_sha256: '" H("7") "', role: approver}\n"
                                "  - {name: bob, token_sha256: '" H("8") "', role: approver,\n"
                                "     rate_limit: {per_second: 0}}\n";
    if (load(&a, FILE_, err, sizeof err) < 0)
        fail_msg("%s", err);
    static const struct {
        const char *name;
        long per_second, per_minute;
    } want[] = {
        {"plain", GATE_AGENTS_PER_SECOND, GATE_AGENTS_PER_MINUTE},
        {"empty", GATE_AGENTS_PER_SECOND, GATE_AGENTS_PER_MINUTE},
        {"unlimited", 0, 0},
        {"slow", GATE_AGENTS_PER_SECOND, 2},
        {"burst", 50, GATE_AGENTS_PER_MINUTE},
        {"no-second", 0, GATE_AGENTS_PER_MINUTE},
        {"alice", 0, 0},
        {"bob", 0, 0},
    };
    assert_int_equal(a.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const gate_identity *id = named(&a, want[i].name);
        if (id->per_second != want[i].per_second || id->per_minute != want[i].per_minute)
            fail_msg("%s: %ld/s %ld/min, want %ld/s %ld/min", want[i].name, id->per_second, id->per_minute,
                     want[i].per_second, want[i].per_minute);
    }
    gate_agents_free(&a);
    assert_int_equal(GATE_AGENTS_PER_SECOND, 20);
    assert_int_equal(GATE_AGENTS_PER_MINUTE, 600);
}

static void made_agents_get_the_defaults(void **state)
{
    (void)state;
    gate_agents a = {0};
    gate_agents_add(&a, "ops-bot", H("a"), GATE_ROLE_AGENT);
    gate_agents_add(&a, "approver", H("b"), GATE_ROLE_APPROVER);
    assert_int_equal(a.v[0].per_second, GATE_AGENTS_PER_SECOND);
    assert_int_equal(a.v[0].per_minute, GATE_AGENTS_PER_MINUTE);
    assert_int_equal(a.v[1].per_second, 0);
    assert_int_equal(a.v[1].per_minute, 0);
    gate_agents_free(&a);
}

/* Open connections and watches: each identity has the defaults unless
 * its profile says otherwise (0 = no limit); an approver has no watches. */
static void connection_and_watch_caps(void **state)
{
    (void)state;
    gate_agents a;
    char err[512];
    static const char FILE_[] = "agents:\n"
                                "  - {name: plain, token_sha256: '" H("1") "'}\n"
                                "  - {name: few, token_sha256: '" H("2") "', connections: 4, watches: 2}\n"
                                "  - {name: open, token_sha256: '" H("3") "', connections: 0, watches: 0}\n"
                                "  - {name: alice, token_sha256: '" H("4") "', role: approver, connections: 8}\n";
    if (load(&a, FILE_, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(named(&a, "plain")->connections, GATE_AGENTS_CONNECTIONS);
    assert_int_equal(named(&a, "plain")->watches, GATE_AGENTS_WATCHES);
    assert_int_equal(named(&a, "few")->connections, 4);
    assert_int_equal(named(&a, "few")->watches, 2);
    assert_int_equal(named(&a, "open")->connections, 0);
    assert_int_equal(named(&a, "open")->watches, 0);
    assert_int_equal(named(&a, "alice")->connections, 8);
    assert_int_equal(named(&a, "alice")->watches, 0);
    gate_agents_free(&a);
    gate_agents m = {0};
    gate_agents_add(&m, "ops-bot", H("a"), GATE_ROLE_AGENT);
    gate_agents_add(&m, "approver", H("b"), GATE_ROLE_APPROVER);
    assert_int_equal(m.v[0].connections, GATE_AGENTS_CONNECTIONS);
    assert_int_equal(m.v[0].watches, GATE_AGENTS_WATCHES);
    assert_int_equal(m.v[1].connections, GATE_AGENTS_CONNECTIONS);
    assert_int_equal(m.v[1].watches, 0);
    gate_agents_free(&m);
    assert_int_equal(load(&a, "agents:\n  - {name: x, token_sha256: '" H("1") "', connections: -3}\n", err,
                          sizeof err),
                     -1);
    assert_non_null(strstr(err, "agent x: connections must be a non-negative integer (0 = no limit)"));
    assert_int_equal(load(&a, "agents:\n  - {name: x, token_sha256: '" H("1") "', watches: many}\n", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "agent x: watches must be a non-negative integer (0 = no limit)"));
    assert_int_equal(load(&a, "agents:\n  - {name: x, token_sha256: '" H("1") "', role: approver, watches: 1}\n", err,
                          sizeof err),
                     -1);
    assert_non_null(strstr(err, "an approver is not an agent"));
}

static void errors_say_zero_is_no_limit(void **state)
{
    (void)state;
    gate_agents a;
    char err[512];
    assert_int_equal(load(&a, "agents:\n  - {name: x, token_sha256: '" H("1") "', rate_limit: {per_second: -1}}\n",
                          err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "agent x: rate_limit.per_second must be a non-negative integer (0 = no limit)"));
    assert_int_equal(load(&a, "agents:\n  - {name: x, token_sha256: '" H("1") "', rate_limit: 5}\n", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "0 = no limit"));
    /* an approver with a real limit is still an agent setting */
    assert_int_equal(load(&a,
                          "agents:\n  - {name: x, token_sha256: '" H("1") "'"
                          ", role: approver, rate_limit: {per_minute: 5}}\n",
                          err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "an approver is not an agent"));
}

/* The default limits as gate_agents_rate counts them: 20 in one second,
 * then 600 in one minute; 0/0 never refuses. */
static void default_limits_stop_a_loop(void **state)
{
    (void)state;
    gate_agents a = {0};
    gate_agents_add(&a, "ops-bot", H("a"), GATE_ROLE_AGENT);
    gate_identity *id = &a.v[0];
    const char *which = "";
    for (int i = 0; i < GATE_AGENTS_PER_SECOND; i++)
        assert_int_equal(gate_agents_rate(id, T0 + 0.001 * i, &which), 0);
    assert_int_equal(gate_agents_rate(id, T0 + 0.5, &which), 1);
    assert_string_equal(which, "per second");
    /* 20 each second and a half after that: the minute's 600 run out after 45 s */
    double t = T0 + 1;
    int passed = GATE_AGENTS_PER_SECOND;
    while (passed < GATE_AGENTS_PER_MINUTE) {
        for (int i = 0; i < GATE_AGENTS_PER_SECOND; i++, passed++)
            if (gate_agents_rate(id, t + 0.01 * i, &which))
                fail_msg("refused after %d (%s)", passed, which);
        t += 1.5;
    }
    long wait = gate_agents_rate(id, t, &which);
    assert_true(wait > 1 && wait <= 60);
    assert_string_equal(which, "per minute");
    assert_int_equal(gate_agents_rate(id, T0 + 61, &which), 0);   /* the minute has moved on */

    id->per_second = id->per_minute = 0;   /* as rate_limit: {per_second: 0, per_minute: 0} */
    for (int i = 0; i < 5000; i++)
        assert_int_equal(gate_agents_rate(id, T0 + 100, &which), 0);
    gate_agents_free(&a);
}

/* An agent's AWS key pair: the secret read from its file (relative to
 * the agents file, white space around it dropped), found by its key id;
 * every way of getting it wrong is an error naming the agent and the key,
 * never the secret. */
static void aws_key_pairs(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_agents_aws.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char secret_path[128], agents_path[128];
    snprintf(secret_path, sizeof secret_path, "%s/bot.aws", dir);
    FILE *f = fopen(secret_path, "w");
    fputs("  wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n", f);
    fclose(f);
    snprintf(agents_path, sizeof agents_path, "%s/agents.yaml", dir);
    struct {
        const char *aws;
        const char *error;   /* NULL: loads */
    } cases[] = {
        {"{access_key_id: AKIAIOSFODNN7EXAMPLE, secret_access_key_file: bot.aws}", NULL},
        {"{access_key_id: akiaiosfodnn7example, secret_access_key_file: bot.aws}", "upper-case letters and digits"},
        {"{access_key_id: AKIAIOSFODNN7EXAMPLE}", "aws is {access_key_id"},
        {"{access_key_id: AKIAIOSFODNN7EXAMPLE, secret_access_key_file: missing.aws}", "cannot read"},
        {"{access_key_id: AKIAIOSFODNN7EXAMPLE, secret_access_key_file: bot.aws, extra: 1}", "aws is {access_key_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        f = fopen(agents_path, "w");
        fprintf(f, "agents:\n  - {name: bot, token_sha256: '" H("1") "', aws: %s}\n", cases[i].aws);
        fclose(f);
        gate_agents a;
        char err[512] = "";
        int rc = gate_agents_load(&a, agents_path, err, sizeof err);
        if (!cases[i].error) {
            assert_int_equal(rc, 0);
            gate_identity *who = gate_agents_find_aws(&a, "AKIAIOSFODNN7EXAMPLE");
            assert_non_null(who);
            assert_string_equal(who->name, "bot");
            assert_string_equal(who->aws_secret, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
            assert_null(gate_agents_find_aws(&a, "AKIAOTHERKEY00000000"));
            gate_agents_free(&a);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, cases[i].error));
            assert_non_null(strstr(err, "agent bot"));
            assert_null(strstr(err, "wJalrXUtnFEMI"));
        }
    }
    /* two agents with one key id, and an approver with a key: refused */
    f = fopen(agents_path, "w");
    fputs("agents:\n"
          "  - {name: a, token_sha256: '" H("1") "', aws: {access_key_id: AKIAIOSFODNN7EXAMPLE, secret_access_key_file: bot.aws}}\n"
          "  - {name: b, token_sha256: '" H("2") "', aws: {access_key_id: AKIAIOSFODNN7EXAMPLE, secret_access_key_file: bot.aws}}\n",
          f);
    fclose(f);
    gate_agents a;
    char err[512];
    assert_int_equal(gate_agents_load(&a, agents_path, err, sizeof err), -1);
    assert_non_null(strstr(err, "the same aws.access_key_id as a"));
    f = fopen(agents_path, "w");
    fputs("agents:\n"
          "  - {name: boss, role: approver, token_sha256: '" H("1") "', aws: {access_key_id: AKIAIOSFODNN7EXAMPLE, secret_access_key_file: bot.aws}}\n",
          f);
    fclose(f);
    assert_int_equal(gate_agents_load(&a, agents_path, err, sizeof err), -1);
    assert_non_null(strstr(err, "an approver is not an agent"));
    unlink(agents_path);
    unlink(secret_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_unless_set),
        cmocka_unit_test(made_agents_get_the_defaults),
        cmocka_unit_test(connection_and_watch_caps),
        cmocka_unit_test(errors_say_zero_is_no_limit),
        cmocka_unit_test(default_limits_stop_a_loop),
        cmocka_unit_test(aws_key_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
