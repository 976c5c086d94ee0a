/*
 * fuzz_aws_action.c - one AWS call through the whole decision pipeline
 * (gate_decide_aws: simulate -> judge -> commit or roll back) on the demo
 * cluster and account with the default policies.
 *
 * Input: a JSON document, an AWS call in the CLI's form as `gate check`
 * takes it ({"aws": "ec2 terminate-instances", "input": {...}}), read by
 * the same code (gate_aws_action_from_json: the input must fit the
 * operation's shape), or not JSON at all (then nothing more happens).
 * The call can name any resource of the demo account, with any values the
 * shape allows: what the twin's handlers see from a real agent.
 *
 * The demo twin is imported once; each input runs on its own copy.
 *
 * Invariants, fail closed: every decision has a verdict, a message and an
 * action and can be reported as JSON; an allowed call answers 2xx and
 * anything else 4xx/5xx; the twin is never left inside an operation and
 * passes twin_check; a call not allowed, a read or a dry run leaves the
 * account as it was.
 */
#include <string.h>

#include <jansson.h>

#include "gate/aws/action.h"
#include "gate/cmd/report.h"
#include "gate/engine/engine.h"
#include "tests/fuzz/fuzz.h"
#include "twin/aws.h"
#include "twin/twin.h"

static twin *base;
static gate_policy_set *policies;
static json_t *base_account;

static void setup(void)
{
    char err[1024];
    FUZZ_CHECK(twin_open(&base, NULL, err, sizeof err) == 0, "twin_open: %s", err);
    twin_set_clock(base, 1.7e9);
    FUZZ_CHECK(twin_load_pricing(base, "fixtures/pricing.json", err, sizeof err) == 0, "pricing: %s", err);
    FUZZ_CHECK(twin_import_path(base, "fixtures/demo", err, sizeof err) == 0, "fixtures/demo: %s", err);
    FUZZ_CHECK(gate_policy_load(&policies, "lua-policies", err, sizeof err) == 0, "lua-policies: %s", err);
    base_account = twin_aws_export(base);
}

FUZZ_TARGET(aws_action)
{
    if (!base)
        setup();
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    char err[1024];
    gate_aws_action act;
    if (gate_aws_action_from_json(j, &act, err, sizeof err) != 0) {
        json_decref(j);
        return 0;
    }
    twin *t;
    FUZZ_CHECK(twin_copy(&t, base, err, sizeof err) == 0, "twin_copy: %s", err);
    gate_engine e = {.twin = t, .policies = policies, .now = 1.7e9};
    gate_decision d;
    gate_decide_aws(&e, "fuzz-bot", &act, &d);

    FUZZ_CHECK(d.verdict >= GATE_ALLOW && d.verdict <= GATE_ERROR, "verdict %d", (int)d.verdict);
    FUZZ_CHECK(d.message != NULL || d.verdict == GATE_ALLOW, "a refusal without a message");
    FUZZ_CHECK(json_is_object(d.action), "a decision without an action");
    json_t *report = gate_report_decision_json(&d, 0);
    FUZZ_CHECK(report != NULL, "the decision cannot be reported as JSON: %s", d.message ? d.message : "");
    json_decref(report);
    FUZZ_CHECK(!twin_in_operation(t), "the twin is left in an operation by %s %s", act.service, act.operation);
    json_t *problems = NULL;
    FUZZ_CHECK(twin_check(t, &problems) == 0, "the twin is not consistent after %s %s: %s", act.service,
               act.operation, json_dumps(problems, JSON_COMPACT));
    json_decref(problems);
    if (d.verdict == GATE_ALLOW)
        FUZZ_CHECK(d.code >= 200 && d.code < 300, "allowed with code %d", d.code);
    else
        FUZZ_CHECK(d.code >= 400 && d.code < 600, "%s with code %d", gate_verdict_name(d.verdict), d.code);
    if (d.verdict != GATE_ALLOW || act.read || act.dry_run) {
        json_t *now = twin_aws_export(t);
        FUZZ_CHECK(json_equal(now, base_account), "%s %s (%s, %d) changed the account", act.service, act.operation,
                   gate_verdict_name(d.verdict), d.code);
        json_decref(now);
    }
    gate_decision_free(&d);
    gate_aws_action_free(&act);
    twin_close(t);
    json_decref(j);
    return 0;
}
