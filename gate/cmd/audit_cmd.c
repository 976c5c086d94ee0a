/*
 * audit_cmd.c - `gate audit log|show|verify`: the audit log (gate/ops/audit.h)
 * read and checked from the command line.
 *
 * The log is found from --data-dir (DIR/audit, keyed by DIR/audit.key when
 * that file exists; the default DIR is .airlock, serve's) or named with
 * --audit-repo (no key unless --key is given).  Exit: 0 fine, 1 verify
 * found a problem or show found no such record, 3 usage or an unreadable
 * repository.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gate/base/clock.h"
#include "gate/ops/audit.h"
#include "gate/cmd/commands.h"
#include "twin/util.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_BAD = 3 };
enum { MESSAGE_MAX = 80 };   /* bytes of a message in a log line */

static void usage(FILE *out)
{
    fputs("usage: gate audit log    [--agent A] [--since T] [--verdict V] [--type T] [--format text|json] [WHERE]\n"
          "       gate audit show   ID [WHERE]\n"
          "       gate audit verify [--format text|json] [WHERE]\n"
          "\n"
          "WHERE is --data-dir DIR (the log DIR/audit, its key DIR/audit.key; default .airlock)\n"
          "      or --audit-repo DIR [--key FILE] (the repository itself; MACs checked only with a key)\n"
          "\n"
          "log     one line per record, oldest first: seq, time (UTC), type, verdict, agent,\n"
          "        action, approval id, message.  --since takes seconds since the epoch,\n"
          "        RFC 3339 (2026-11-24T10:00:00Z) or a duration back from now (90s, 30m, 2h, 7d).\n"
          "show    one record as JSON; ID is its id, its seq or a prefix of its commit.\n"
          "verify  checks the chain: seq and prev hashes, each record against its commit, the\n"
          "        attachments, one line of commits, the MACs and the tip file (with a key).\n"
          "Exit: 0 fine, 1 verify found a problem (or show no record), 3 usage or unreadable log.\n",
          out);
}

typedef struct audit_opts {
    const char *sub, *id;
    const char *data_dir, *repo, *key;
    const char *agent, *since, *verdict, *type, *format;
    int help;
} audit_opts;

static int parse(audit_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->format = "text";
    static const struct {
        const char *flag;
        size_t offset;
        const char *subs;   /* the subcommands taking it */
    } V[] = {
        {"--data-dir", offsetof(audit_opts, data_dir), "log show verify"},
        {"--audit-repo", offsetof(audit_opts, repo), "log show verify"},
        {"--key", offsetof(audit_opts, key), "log show verify"},
        {"--agent", offsetof(audit_opts, agent), "log"},
        {"--since", offsetof(audit_opts, since), "log"},
        {"--verdict", offsetof(audit_opts, verdict), "log"},
        {"--type", offsetof(audit_opts, type), "log"},
        {"--format", offsetof(audit_opts, format), "log verify"},
    };
    const char *seen[sizeof V / sizeof V[0]] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
            continue;
        }
        if (a[0] == '-' && a[1]) {
            size_t k = 0;
            while (k < sizeof V / sizeof V[0] && strcmp(a, V[k].flag))
                k++;
            if (k == sizeof V / sizeof V[0])
                return snprintf(err, errlen, "unknown option %s", a), -1;
            if (i + 1 >= argc)
                return snprintf(err, errlen, "%s needs a value", a), -1;
            *(const char **)((char *)o + V[k].offset) = argv[++i];
            seen[k] = a;
            continue;
        }
        if (!o->sub)
            o->sub = a;
        else if (!o->id && !strcmp(o->sub, "show"))
            o->id = a;
        else
            return snprintf(err, errlen, "unexpected argument %s", a), -1;
    }
    if (o->help)
        return 0;
    if (!o->sub)
        return snprintf(err, errlen, "which one: log, show or verify?"), -1;
    if (strcmp(o->sub, "log") && strcmp(o->sub, "show") && strcmp(o->sub, "verify"))
        return snprintf(err, errlen, "unknown subcommand %s (log, show or verify)", o->sub), -1;
    for (size_t k = 0; k < sizeof V / sizeof V[0]; k++)
        if (seen[k] && !strstr(V[k].subs, o->sub))
            return snprintf(err, errlen, "%s is not an option of `gate audit %s`", seen[k], o->sub), -1;
    if (!strcmp(o->sub, "show") && !o->id)
        return snprintf(err, errlen, "show needs a record: its id, its seq or a commit prefix"), -1;
    if (o->data_dir && o->repo)
        return snprintf(err, errlen, "give --data-dir or --audit-repo, not both"), -1;
    if (strcmp(o->format, "text") && strcmp(o->format, "json"))
        return snprintf(err, errlen, "--format must be text or json (got %s)", o->format), -1;
    return 0;
}

/* ---- log ---------------------------------------------------------------- */

static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* s with control characters made spaces, cut at `max` bytes on a UTF-8
 * boundary with "..." (a new string). */
static char *clean(const char *s, size_t max)
{
    size_t n = strlen(s);
    int cut = n > max;
    if (cut) {
        n = max - 3;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    char *out = twin_xmalloc(n + 4);
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    strcpy(out + n, cut ? "..." : "");
    return out;
}

/* "verb Kind ns/name[/subresource]", or "METHOD path" without an action,
 * or "-" (a new string). */
static char *action_summary(const json_t *rec)
{
    const json_t *act = json_object_get(rec, "action");
    const char *verb = str_at(act, "verb"), *kind = str_at(act, "kind");
    if (verb && kind) {
        const char *ns = str_at(act, "namespace"), *name = str_at(act, "name"), *sub = str_at(act, "subresource");
        return twin_xasprintf("%s %s %s%s%s%s%s", verb, kind, ns ? ns : "", ns && name ? "/" : "", name ? name : "",
                              sub ? "/" : "", sub ? sub : "");
    }
    const json_t *req = json_object_get(rec, "request");
    const char *method = str_at(req, "method") ? str_at(req, "method") : str_at(act, "method");
    const char *path = str_at(req, "path") ? str_at(req, "path") : str_at(act, "path");
    if (method && path)
        return twin_xasprintf("%s %s", method, path);
    return twin_xstrdup("-");
}

static void print_line(const json_t *rec)
{
    char when[32];
    gate_audit_format_time(json_number_value(json_object_get(rec, "time")), when);
    const char *type = str_at(rec, "type"), *verdict = str_at(rec, "verdict"), *agent = str_at(rec, "agent");
    const char *approval = str_at(rec, "approval_id"), *message = str_at(rec, "message");
    if (message && !message[0])
        message = NULL;
    char *action = action_summary(rec);
    char *act = clean(action, 200);
    char *msg = message ? clean(message, MESSAGE_MAX) : NULL;
    char *who = clean(agent ? agent : "-", 64);
    printf("%5lld  %s  %-8s  %-9s  %-12s  %s%s%s%s%s\n", (long long)json_integer_value(json_object_get(rec, "seq")),
           when, type ? type : "-", verdict ? verdict : "-", who, act, approval ? "  approval " : "",
           approval ? approval : "", msg ? "  " : "", msg ? msg : "");
    free(who);
    free(msg);
    free(act);
    free(action);
}

static int keep(const audit_opts *o, const json_t *rec, double since)
{
    if (o->agent && (!str_at(rec, "agent") || strcmp(str_at(rec, "agent"), o->agent)))
        return 0;
    if (o->verdict && (!str_at(rec, "verdict") || strcmp(str_at(rec, "verdict"), o->verdict)))
        return 0;
    if (o->type && (!str_at(rec, "type") || strcmp(str_at(rec, "type"), o->type)))
        return 0;
    if (o->since && json_number_value(json_object_get(rec, "time")) < since)
        return 0;
    return 1;
}

static int cmd_log(const audit_opts *o, const char *repo)
{
    double since = 0;
    if (o->since && gate_audit_parse_time(o->since, gate_now(), &since) < 0) {
        fprintf(stderr,
                "gate audit: --since %s: want seconds since the epoch, RFC 3339 (2026-11-24T10:00:00Z) or a duration "
                "(90s, 30m, 2h, 7d)\n",
                o->since);
        return EXIT_BAD;
    }
    char err[1024];
    json_t *all = gate_audit_read(repo, err, sizeof err);
    if (!all) {
        fprintf(stderr, "gate audit: %s\n", err);
        return EXIT_BAD;
    }
    json_t *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec) {
        if (keep(o, rec, since))
            json_array_append(out, rec);
    }
    if (!strcmp(o->format, "json")) {
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
    } else {
        json_array_foreach(out, i, rec)
            print_line(rec);
    }
    json_decref(out);
    json_decref(all);
    return EXIT_OK;
}

/* ---- show --------------------------------------------------------------- */

static int all_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

static int is_hex_prefix(const char *s)
{
    return strlen(s) >= 4 && strspn(s, "0123456789abcdef") == strlen(s);
}

static int cmd_show(const audit_opts *o, const char *repo)
{
    char err[1024];
    json_t *all = gate_audit_read(repo, err, sizeof err);
    if (!all) {
        fprintf(stderr, "gate audit: %s\n", err);
        return EXIT_BAD;
    }
    const json_t *found = NULL;
    size_t i, matches = 0;
    json_t *rec;
    json_array_foreach(all, i, rec) {   /* an id first: ids are exact */
        if (str_at(rec, "id") && !strcmp(str_at(rec, "id"), o->id))
            found = rec;
    }
    if (!found && all_digits(o->id)) {
        long long seq = strtoll(o->id, NULL, 10);
        json_array_foreach(all, i, rec) {
            if (json_integer_value(json_object_get(rec, "seq")) == seq)
                found = rec;
        }
    }
    if (!found && is_hex_prefix(o->id)) {
        json_array_foreach(all, i, rec) {
            const char *c = str_at(rec, "commit");
            if (c && !strncmp(c, o->id, strlen(o->id))) {
                found = rec;
                matches++;
            }
        }
        if (matches > 1) {
            fprintf(stderr, "gate audit: %s: the commit prefix %s is ambiguous (%zu commits); give more digits\n", repo,
                    o->id, matches);
            json_decref(all);
            return EXIT_BAD;
        }
    }
    if (!found) {
        fprintf(stderr, "gate audit: %s: no record %s (neither an id, a seq nor a commit prefix)\n", repo, o->id);
        json_decref(all);
        return EXIT_FAIL;
    }
    json_dumpf(found, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    putchar('\n');
    json_decref(all);
    return EXIT_OK;
}

/* ---- verify ------------------------------------------------------------- */

static int cmd_verify(const audit_opts *o, const char *repo, const char *key, const char *no_key)
{
    char err[1024];
    json_t *report = NULL;
    int rc = gate_audit_verify(repo, key, &report, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "gate audit: %s\n", err);
        return EXIT_BAD;
    }
    if (!strcmp(o->format, "json")) {
        json_dumpf(report, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(report);
        return rc ? EXIT_FAIL : EXIT_OK;
    }
    long long n = json_integer_value(json_object_get(report, "records"));
    const json_t *problems = json_object_get(report, "problems");
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p) {
        const char *commit = str_at(p, "commit");
        long long seq = json_integer_value(json_object_get(p, "seq"));
        char where[64] = "";
        if (seq && commit && commit[0])
            snprintf(where, sizeof where, "record %lld (commit %.12s): ", seq, commit);
        else if (seq)
            snprintf(where, sizeof where, "record %lld: ", seq);
        else if (commit && commit[0])
            snprintf(where, sizeof where, "commit %.12s: ", commit);
        printf("audit: %s%s\n", where, str_at(p, "problem"));
    }
    if (rc == 0)
        printf("audit: %lld record%s, chain intact\n", n, n == 1 ? "" : "s");
    else
        printf("audit: %lld record%s, %zu problem%s found\n", n, n == 1 ? "" : "s", json_array_size(problems),
               json_array_size(problems) == 1 ? "" : "s");
    if (key)
        printf("audit: MACs checked (key %s)\n", key);
    else
        printf("audit: MACs not checked (%s)\n", no_key);
    json_decref(report);
    return rc ? EXIT_FAIL : EXIT_OK;
}

int gate_cmd_audit(int argc, char **argv)
{
    audit_opts o;
    char err[1024];
    if (parse(&o, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "gate audit: %s\n", err);
        usage(stderr);
        return EXIT_BAD;
    }
    if (o.help) {
        usage(stdout);
        return EXIT_OK;
    }
    char *repo, *key = NULL, *no_key;
    if (o.repo) {
        repo = twin_xstrdup(o.repo);
        no_key = twin_xstrdup("no key: give --data-dir or --key");
    } else {
        const char *dir = o.data_dir ? o.data_dir : ".airlock";
        repo = twin_xasprintf("%s/audit", dir);
        char *k = twin_xasprintf("%s/audit.key", dir);
        if (!o.key && access(k, F_OK) == 0)
            key = twin_xstrdup(k);
        no_key = twin_xasprintf("no key at %s: give --key", k);
        free(k);
    }
    if (o.key)
        key = twin_xstrdup(o.key);
    int rc;
    if (!strcmp(o.sub, "log"))
        rc = cmd_log(&o, repo);
    else if (!strcmp(o.sub, "show"))
        rc = cmd_show(&o, repo);
    else
        rc = cmd_verify(&o, repo, key, no_key);
    free(no_key);
    free(key);
    free(repo);
    return rc;
}
