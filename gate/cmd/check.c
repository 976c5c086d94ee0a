/*
 * check.c - `gate check`, the CI pipeline check: simulate manifests and/or
 * recorded API calls against a state snapshot, judge each, report, and exit
 * 0 (all allowed), 1 (a deny), 2 (review needed, no deny) or 3 (bad input).
 *
 * Every input is read and parsed before the first simulation, so bad input
 * stops the run with nothing half-applied.  Actions run in order on one
 * twin; an allowed action is committed before the next one runs (a plan is
 * a sequence), a denied or reviewed one is rolled back, as the gate would
 * leave production.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gate/cmd/cli.h"
#include "gate/cmd/commands.h"
#include "gate/engine/engine.h"
#include "gate/http/http.h"
#include "gate/cmd/report.h"
#include "twin/util.h"
#include "twin/yaml.h"

enum { EXIT_ALLOW = 0, EXIT_DENY = 1, EXIT_REVIEW = 2, EXIT_BAD = 3 };

static void usage(FILE *out)
{
    fputs("usage: gate check --state FILE|DIR [--state ...] [-f FILE|DIR ...] [--actions FILE]\n"
          "                  [--policies DIR|git:REPO[@REF][:DIR]] [--pricing FILE] [--agent NAME] [--format text|json|junit]\n"
          "                  [--policy-timeout SECONDS]\n"
          "\n"
          "Simulates the manifests (-f, applied as kubectl apply would) and then the API calls of\n"
          "--actions (a JSON array of {\"method\", \"path\", \"headers\"?, \"body\"?}, or of AWS calls:\n"
          "{\"aws\": \"ec2 terminate-instances\", \"input\": {...}} or {\"service\", \"method\", \"path\", \"body\"})\n"
          "on the state, in order, judges each with the policies, and prints the verdicts.\n"
          "Exit: 0 all allowed, 1 a deny, 2 review needed and no deny, 3 bad input or usage.\n",
          out);
}

static int load_actions(const char *path, json_t *actions, char *err, size_t errlen)
{
    json_error_t je;
    json_t *arr = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!arr) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "%s: an actions file is a JSON array of {\"method\", \"path\", \"headers\"?, \"body\"?}",
                 path);
        json_decref(arr);
        return -1;
    }
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a) {
        if (json_is_object(a) && json_object_get(a, "aws")) {   /* an AWS call in the CLI's form: read when judged */
            json_array_append(actions, a);
            continue;
        }
        if (!json_is_object(a) || !json_is_string(json_object_get(a, "method")) ||
            !json_is_string(json_object_get(a, "path"))) {
            snprintf(err, errlen, "%s: action %zu needs a string \"method\" and a string \"path\" (or, for AWS, "
                                  "\"aws\" and \"input\")",
                     path, i + 1);
            json_decref(arr);
            return -1;
        }
        json_t *h = json_object_get(a, "headers");
        if (h && !json_is_object(h)) {
            snprintf(err, errlen, "%s: action %zu: \"headers\" must be an object of strings", path, i + 1);
            json_decref(arr);
            return -1;
        }
        const char *k;
        json_t *v;
        json_object_foreach(h, k, v) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "%s: action %zu: header %s must be a string", path, i + 1, k);
                json_decref(arr);
                return -1;
            }
        }
        json_array_append(actions, a);
    }
    json_decref(arr);
    return 0;
}

static void print_junit(FILE *out, gate_decision *ds, size_t n, double seconds)
{
    size_t failures = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        failures += ds[i].verdict == GATE_DENY || ds[i].verdict == GATE_REVIEW;
        errors += ds[i].verdict == GATE_ERROR;
    }
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<testsuites name=\"airlock\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.6f\">\n", n,
            failures, errors, seconds);
    fprintf(out, "  <testsuite name=\"gate check\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" "
                 "time=\"%.6f\">\n",
            n, failures, errors, seconds);
    for (size_t i = 0; i < n; i++) {
        gate_decision *d = &ds[i];
        fprintf(out, "    <testcase classname=\"airlock.check\" name=\"[%zu] ", i + 1);
        char title[1024];
        gate_report_title(d, title, sizeof title);
        gate_report_xml_escape(out, title);
        fprintf(out, "\" time=\"%.6f\"", d->micros / 1e6);
        if (d->verdict == GATE_ALLOW) {
            fputs("/>\n", out);
            continue;
        }
        const char *tag = d->verdict == GATE_ERROR ? "error" : "failure";
        fprintf(out, ">\n      <%s type=\"%s\" message=\"", tag, gate_verdict_name(d->verdict));
        gate_report_xml_escape(out, d->message);
        fputs("\">", out);
        char line[1024];
        gate_report_impact_line(d->impact, line, sizeof line);
        gate_report_xml_escape(out, line);
        fprintf(out, "</%s>\n    </testcase>\n", tag);
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
}

/* An AWS call of an actions file: the CLI's form ({"aws": "ec2
 * terminate-instances", "input": {...}}) or the wire's ({"service": "ec2",
 * "method": "POST", "path": "/", "headers"?, "body": "Action=..."}), read
 * by the same parsers as the gate's AWS front (no signature: offline). */
static void decide_aws(gate_engine *e, const char *agent, const json_t *j, gate_decision *d)
{
    char err[1024];
    gate_aws_action act;
    int rc = gate_aws_action_from_json(j, &act, err, sizeof err);
    if (rc == 1) {
        const char *service = json_string_value(json_object_get(j, "service"));
        const json_t *body = json_object_get(j, "body");
        const char *b = json_is_string(body) ? json_string_value(body) : "";
        if (!service || (body && !json_is_string(body))) {
            snprintf(err, sizeof err, "an AWS call in the wire's form has a string \"service\" and a string \"body\"");
            rc = -1;
        } else {
            const char *target = json_string_value(json_object_get(j, "path"));
            gate_req rq;
            gate_req_init(&rq, json_string_value(json_object_get(j, "method")), target, json_object_get(j, "headers"), b,
                          strlen(b));
            rc = gate_aws_action_parse(&act, service, rq.method, target, rq.args, rq.headers, b, strlen(b), err,
                                       sizeof err) ? -1 : 0;
            gate_req_free(&rq);
        }
    }
    if (rc < 0) {
        memset(d, 0, sizeof *d);
        d->verdict = GATE_ERROR;
        d->code = 400;
        d->message = twin_xasprintf("airlock: %s", err);
        d->action = json_deep_copy(j);
        d->diff = json_array();
        d->results = json_array();
        return;
    }
    gate_decide_aws(e, agent, &act, d);
    gate_aws_action_free(&act);
}

int gate_cmd_check(int argc, char **argv)
{
    gate_cli_opts o;
    char err[2048];
    int rc = EXIT_BAD;
    twin *t = NULL;
    gate_policy_set *ps = NULL;
    gate_history *hist = NULL;
    json_t *actions = json_array();
    gate_decision *ds = NULL;
    size_t nd = 0;

    int start = gate_cli_start(&o, argc, argv, "check", usage);
    if (start) {
        rc = start > 0 ? 0 : rc;
        goto out;
    }
    if (o.nstate == 0) {
        fprintf(stderr, "gate check: --state is required\n");
        usage(stderr);
        goto out;
    }
    if (!o.nmanifests && !o.actions) {
        fprintf(stderr, "gate check: nothing to check: give -f FILE|DIR and/or --actions FILE\n");
        usage(stderr);
        goto out;
    }
    if (gate_cli_open_twin(&o, &t, err, sizeof err) < 0 || gate_cli_load_policies(&o, &ps, err, sizeof err) < 0) {
        fprintf(stderr, "gate check: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < o.nmanifests; i++)
        if (gate_cli_manifest_actions(t, o.manifests[i], actions, err, sizeof err) < 0) {
            fprintf(stderr, "gate check: %s\n", err);
            goto out;
        }
    if (o.actions && load_actions(o.actions, actions, err, sizeof err) < 0) {
        fprintf(stderr, "gate check: %s\n", err);
        goto out;
    }
    if (gate_history_open(&hist, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "gate check: %s\n", err);
        goto out;
    }

    gate_engine e = {.twin = t, .policies = ps, .history = hist};
    nd = json_array_size(actions);
    ds = twin_xcalloc(nd + 1, sizeof(*ds));
    double total_us = 0;
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a) {
        if (json_object_get(a, "aws") || json_object_get(a, "service"))
            decide_aws(&e, o.agent, a, &ds[i]);
        else
            gate_decide(&e, o.agent, json_string_value(json_object_get(a, "method")),
                        json_string_value(json_object_get(a, "path")), json_object_get(a, "headers"),
                        json_object_get(a, "body"), NULL, 0, &ds[i]);
        total_us += ds[i].micros;
    }

    size_t count[4] = {0};
    for (i = 0; i < nd; i++)
        count[ds[i].verdict]++;
    rc = count[GATE_ERROR] ? EXIT_BAD : count[GATE_DENY] ? EXIT_DENY : count[GATE_REVIEW] ? EXIT_REVIEW : EXIT_ALLOW;

    if (!strcmp(o.format, "json")) {
        json_t *arr = json_array();
        for (i = 0; i < nd; i++)
            json_array_append_new(arr, gate_report_decision_json(&ds[i], i + 1));
        json_t *doc = json_pack("{s:{s:I, s:I, s:I, s:I, s:I}, s:i, s:o}", "summary", "actions", (json_int_t)nd,
                                "allow", (json_int_t)count[GATE_ALLOW], "review", (json_int_t)count[GATE_REVIEW],
                                "deny", (json_int_t)count[GATE_DENY], "error", (json_int_t)count[GATE_ERROR],
                                "exit_code", rc, "decisions", arr);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
        json_decref(doc);
    } else if (!strcmp(o.format, "junit")) {
        print_junit(stdout, ds, nd, total_us / 1e6);
    } else {
        printf("airlock gate check: %ld objects in the twin, %zu policies, cluster cost %.2f/h, agent %s\n\n",
               twin_object_count(t), ps ? gate_policy_count(ps) : 0, twin_cost_total(t), o.agent);
        for (i = 0; i < nd; i++) {
            gate_report_text(stdout, &ds[i], i + 1);
            putchar('\n');
        }
        printf("%zu allowed, %zu need review, %zu denied, %zu errors\n", count[GATE_ALLOW], count[GATE_REVIEW],
               count[GATE_DENY], count[GATE_ERROR]);
    }

out:
    for (size_t k = 0; k < nd; k++)
        gate_decision_free(&ds[k]);
    free(ds);
    json_decref(actions);
    gate_history_close(hist);
    gate_policy_free(ps);
    twin_close(t);
    gate_cli_free(&o);
    return rc;
}
