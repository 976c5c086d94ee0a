/*
 * fuzz_action.c - one raw request through the whole decision pipeline
 * (gate/engine/engine.h: parse -> simulate -> judge -> commit or roll back) on the
 * demo cluster with the default policies.
 *
 * Input: the first line is the method, the second the path with its query,
 * the third the Content-Type ("" sends no header), and the rest the body,
 * read as raw bytes (gate_decide's body=NULL, raw/rawlen path).  A missing
 * line is a missing method, path or header.
 *
 * The demo twin is imported once; each input runs on its own copy
 * (twin_copy), so inputs are independent and a crash reproduces alone.
 *
 * Invariants, fail closed (gate/engine/engine.h): every decision has a verdict, a
 * message and an action, and can be reported as JSON (the audit trail must
 * hold every decision, whatever bytes the request carried); an allowed
 * action was parsed (its action has a "verb") and answers 2xx, anything else
 * answers 4xx/5xx; the twin is never left inside an operation and its
 * indexes always say what its objects do (twin_check); and an action
 * not allowed, or a dry run, leaves the twin as it was.
 */
#include <string.h>

#include <jansson.h>

#include "gate/engine/engine.h"
#include "gate/cmd/report.h"
#include "tests/fuzz/fuzz.h"
#include "twin/twin.h"

static twin *base;
static gate_policy_set *policies;
static json_t *base_export;   /* every object of the demo, to compare with */

static void setup(void)
{
    char err[1024];
    FUZZ_CHECK(twin_open(&base, NULL, err, sizeof err) == 0, "twin_open: %s", err);
    twin_set_clock(base, 1.7e9);
    FUZZ_CHECK(twin_load_pricing(base, "fixtures/pricing.json", err, sizeof err) == 0, "pricing: %s", err);
    FUZZ_CHECK(twin_import_path(base, "fixtures/demo", err, sizeof err) == 0, "fixtures/demo: %s", err);
    FUZZ_CHECK(gate_policy_load(&policies, "lua-policies", err, sizeof err) == 0, "lua-policies: %s", err);
    base_export = twin_export(base);
}

/* True when t holds exactly the objects of the demo. */
static int unchanged(twin *t)
{
    json_t *now = twin_export(t);
    int same = json_equal(now, base_export);
    json_decref(now);
    return same;
}

/* The next line of data[*pos..size) as a new string, or NULL at the end. */
static char *next_line(const uint8_t *data, size_t size, size_t *pos)
{
    if (*pos >= size)
        return NULL;
    const uint8_t *start = data + *pos;
    const uint8_t *nl = memchr(start, '\n', size - *pos);
    size_t n = nl ? (size_t)(nl - start) : size - *pos;
    *pos += n + (nl != NULL);
    char *s = malloc(n + 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, start, n);
    s[n] = '\0';
    return s;
}

FUZZ_TARGET(action)
{
    if (!base)
        setup();
    size_t pos = 0;
    char *method = next_line(data, size, &pos);
    char *path = next_line(data, size, &pos);
    char *ct = next_line(data, size, &pos);
    /* (json_pack refuses a header that is not UTF-8: it is sent as none) */
    json_t *headers = ct && *ct ? json_pack("{s:s}", "Content-Type", ct) : NULL;

    twin *t;
    char err[1024];
    FUZZ_CHECK(twin_copy(&t, base, err, sizeof err) == 0, "twin_copy: %s", err);
    gate_engine e = {.twin = t, .policies = policies, .now = 1.7e9};
    gate_decision d;
    gate_decide(&e, "fuzz-bot", method, path, headers, NULL, (const char *)data + pos, size - pos, &d);

    FUZZ_CHECK(d.verdict >= GATE_ALLOW && d.verdict <= GATE_ERROR, "verdict %d", (int)d.verdict);
    FUZZ_CHECK(d.message != NULL, "a decision without a message");
    FUZZ_CHECK(json_is_object(d.action), "a decision without an action");
    FUZZ_CHECK(json_is_array(d.results), "a decision without results");
    json_t *report = gate_report_decision_json(&d, 0);
    FUZZ_CHECK(report != NULL, "the decision cannot be reported as JSON: %s", d.message);
    json_decref(report);
    json_t *problems = NULL;
    FUZZ_CHECK(twin_check(t, &problems) == 0, "the twin is not consistent after %s (%d): %s",
               gate_verdict_name(d.verdict), d.code, json_dumps(problems, JSON_COMPACT));
    json_decref(problems);
    int parsed = json_is_string(json_object_get(d.action, "verb"));
    if (d.verdict == GATE_ALLOW) {
        FUZZ_CHECK(parsed, "allowed without a parsed action: %s", d.message);
        FUZZ_CHECK(d.code >= 200 && d.code < 300, "allowed with code %d", d.code);
    } else {
        FUZZ_CHECK(d.code >= 400 && d.code < 600, "%s with code %d", gate_verdict_name(d.verdict), d.code);
    }
    /* (an action that did not parse never reached the twin: no need to look) */
    if (parsed && (d.verdict != GATE_ALLOW || json_is_true(json_object_get(d.action, "dry_run"))))
        FUZZ_CHECK(unchanged(t), "%s (%d) changed the twin: %s", gate_verdict_name(d.verdict), d.code, d.message);
    FUZZ_CHECK(!twin_in_operation(base), "the shared twin is in an operation");

    gate_decision_free(&d);
    twin_close(t);
    json_decref(headers);
    free(method);
    free(path);
    free(ct);
    return 0;
}
