/*
 * report.c - decisions rendered for people and machines.
 */
#include <stdlib.h>
#include <string.h>

#include "gate/cmd/report.h"
#include "twin/util.h"

json_t *gate_report_decision_json(const gate_decision *d, size_t index)
{
    return json_pack("{s:I, s:O, s:s, s:i, s:s, s:O, s:O*, s:O*, s:f}", "index", (json_int_t)index, "action",
                     d->action, "verdict", gate_verdict_name(d->verdict), "code", d->code, "message",
                     d->message ? d->message : "", "results", d->results, "impact", d->impact, "diff", d->diff,
                     "micros", d->micros);
}

static long ival(const json_t *o, const char *k) { return (long)json_integer_value(json_object_get(o, k)); }

void gate_report_impact_line(const json_t *impact, char *buf, size_t n)
{
    if (!impact || !json_object_get(impact, "instant")) {
        snprintf(buf, n, "no changes");
        return;
    }
    json_t *in = json_object_get(impact, "instant"), *st = json_object_get(impact, "settled");
    json_t *cost = json_object_get(impact, "cost");
    json_t *reach = json_object_get(impact, "reachability");
    snprintf(buf, n,
             "pods disrupted %ld now / %ld settled; services emptied %zu; workloads degraded %zu; "
             "cost %+.4f/h (%.2f -> %.2f); reachability +%zu -%zu%s",
             ival(in, "pods_disrupted"), ival(st, "pods_disrupted"),
             json_array_size(json_object_get(st, "services_emptied")) >
                     json_array_size(json_object_get(in, "services_emptied"))
                 ? json_array_size(json_object_get(st, "services_emptied"))
                 : json_array_size(json_object_get(in, "services_emptied")),
             json_array_size(json_object_get(st, "workloads_degraded")) >
                     json_array_size(json_object_get(in, "workloads_degraded"))
                 ? json_array_size(json_object_get(st, "workloads_degraded"))
                 : json_array_size(json_object_get(in, "workloads_degraded")),
             json_real_value(json_object_get(cost, "delta")), json_real_value(json_object_get(cost, "before")),
             json_real_value(json_object_get(cost, "after")), json_array_size(json_object_get(reach, "added")),
             json_array_size(json_object_get(reach, "removed")), "");
    long pending = ival(st, "pods_pending");
    if (pending > 0) {
        size_t l = strlen(buf);
        snprintf(buf + l, n > l ? n - l : 0, "; %ld pods left Pending (unschedulable)", pending);
    }
    if (json_object_get(impact, "aws")) {
        /* the account's part of the same record */
        size_t l = strlen(buf);
        json_t *exp = json_object_get(impact, "exposure"), *pub = json_object_get(impact, "buckets_public");
        snprintf(buf + l, n > l ? n - l : 0,
                 "; aws: instances disrupted %ld now / %ld settled; target groups emptied %zu; auto scaling groups "
                 "degraded %zu; internet exposure +%zu -%zu; buckets made public %zu; IAM grants %zu; data at risk %zu",
                 (long)json_array_size(json_object_get(in, "instances_disrupted")),
                 (long)json_array_size(json_object_get(st, "instances_disrupted")),
                 json_array_size(json_object_get(st, "target_groups_emptied")) >
                         json_array_size(json_object_get(in, "target_groups_emptied"))
                     ? json_array_size(json_object_get(st, "target_groups_emptied"))
                     : json_array_size(json_object_get(in, "target_groups_emptied")),
                 json_array_size(json_object_get(st, "asgs_degraded")) >
                         json_array_size(json_object_get(in, "asgs_degraded"))
                     ? json_array_size(json_object_get(st, "asgs_degraded"))
                     : json_array_size(json_object_get(in, "asgs_degraded")),
                 json_array_size(json_object_get(exp, "added")), json_array_size(json_object_get(exp, "removed")),
                 json_array_size(json_object_get(pub, "made_public")),
                 json_array_size(json_object_get(impact, "iam_grants")),
                 json_array_size(json_object_get(impact, "data_at_risk")));
    }
}

void gate_report_title(const gate_decision *d, char *buf, size_t n)
{
    const json_t *a = d->action;
    const char *provider = json_string_value(json_object_get(a, "provider"));
    const char *x = NULL, *y = NULL;
    if (provider && !strcmp(provider, "aws")) {
        x = json_string_value(json_object_get(a, "service"));
        y = json_string_value(json_object_get(a, "operation"));
        snprintf(buf, n, "aws %s %s%s", x ? x : "", y ? y : "", json_is_true(json_object_get(a, "dry_run")) ? " (dry run)" : "");
        return;
    }
    x = json_string_value(json_object_get(a, "method"));
    y = json_string_value(json_object_get(a, "path"));
    snprintf(buf, n, "%s %s", x ? x : "", y ? y : "");
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void ref_of(const json_t *c, char *buf, size_t n)
{
    const char *ns = str(c, "namespace");
    if (*ns)
        snprintf(buf, n, "%s %s/%s", str(c, "kind"), ns, str(c, "name"));
    else
        snprintf(buf, n, "%s %s", str(c, "kind"), str(c, "name"));
}

static void key_of(const json_t *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/%s", str(c, "kind"), str(c, "namespace"), str(c, "name"));
}

/* Prints the changes caused by `parent` (NULL: the roots, i.e. direct
 * changes and those whose cause did not change itself), nested. */
static void print_tree(FILE *out, const json_t *diff, const twin_map *keys, const char *parent, int depth,
                       int *budget)
{
    size_t i;
    json_t *c;
    size_t shown = 0, hidden = 0;
    json_array_foreach(diff, i, c) {
        const char *p = json_string_value(json_object_get(c, "parent"));
        if (parent ? (!p || strcmp(p, parent)) : (p != NULL && twin_map_has(keys, p)))
            continue;
        if (*budget <= 0 || shown >= 8) {
            hidden++;
            continue;
        }
        char ref[300];
        ref_of(c, ref, sizeof ref);
        const char *p2 = json_string_value(json_object_get(c, "parent"));
        if (!parent && p2)
            fprintf(out, "      %*s%s %s (by %s)\n", depth * 2, "", str(c, "op"), ref, p2);
        else
            fprintf(out, "      %*s%s %s\n", depth * 2, "", str(c, "op"), ref);
        shown++;
        (*budget)--;
        char key[300];
        key_of(c, key, sizeof key);
        if (depth < 6)
            print_tree(out, diff, keys, key, depth + 1, budget);
    }
    if (hidden)
        fprintf(out, "      %*s... and %zu more\n", depth * 2, "", hidden);
}

void gate_report_text(FILE *out, const gate_decision *d, size_t index)
{
    static const char *MARK[] = {"ALLOW ", "REVIEW", "DENY  ", "ERROR "};
    char title[1024];
    gate_report_title(d, title, sizeof title);
    fprintf(out, "[%zu] %s %s\n", index, MARK[d->verdict], title);
    if (d->verdict != GATE_ALLOW || (d->message && strcmp(d->message, "allowed")))
        fprintf(out, "    %s\n", d->message ? d->message : "");
    size_t i;
    json_t *r;
    json_array_foreach(d->results, i, r) {
        const char *v = str(r, "verdict");
        if (strcmp(v, "allow"))
            fprintf(out, "    - %s: %s: %s\n", str(r, "policy"), v, str(r, "reason"));
    }
    if (d->verdict == GATE_ERROR || !json_array_size(d->diff))
        return;
    char line[1024];
    gate_report_impact_line(d->impact, line, sizeof line);
    fprintf(out, "    impact: %s\n", line);
    if (json_array_size(d->diff)) {
        fprintf(out, "    diff (%zu changes):\n", json_array_size(d->diff));
        /* the objects that changed, by key: a cascade is nested under its
         * cause when the cause changed too */
        twin_map keys = {0};
        size_t k;
        json_t *c;
        json_array_foreach(d->diff, k, c) {
            char key[300];
            key_of(c, key, sizeof key);
            twin_map_put(&keys, key, (void *)1);
        }
        int budget = 40;
        print_tree(out, d->diff, &keys, NULL, 0, &budget);
        twin_map_clear(&keys, NULL);
    }
}

void gate_report_xml_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                fputc(' ', out);   /* control characters are not allowed in XML 1.0 */
            else
                fputc(*s, out);
        }
    }
}
