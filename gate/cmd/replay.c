/*
 * replay.c - `gate replay`: the audit log's decisions judged again under
 * new policies (gate/cmd/replay.h), and the command around it.
 *
 * Each decision is judged on the twin it was made on: a start record
 * rebuilds the twin from its state.json, and every decision, once judged,
 * is settled to what really happened (committed or not), not to what the
 * new policies say, so a later decision sees the state the gate saw.  The
 * twin is held open (engine.hold) for that: a change the new policies allow
 * is committed or rolled back as the record says; a committed change they
 * do not allow is rolled back and applied again with no policies at all.
 * "Committed" is the decision record's, or in enforce and shadow modes (where
 * it is null: the record is written before forwarding) that of the outcome
 * record naming it.  The budgets' history is not reset by a start record
 * (the gate keeps it in gate.db); decisions before the replay's first start
 * record feed it from their recorded impact.
 *
 * Fidelity: in enforce mode, changes production made outside the gate
 * between decisions are not in the record (only as the "before" of the
 * objects in each decision's diff); the replay judges on the twin rebuilt
 * from the start snapshot plus the committed decisions.  When that twin
 * refuses a change production took, the record is reported as "could not
 * be replayed" and the replay goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gate/base/clock.h"
#include "gate/ops/audit.h"
#include "gate/cmd/cli.h"
#include "gate/cmd/commands.h"
#include "gate/engine/engine.h"
#include "gate/kube/k8s.h"
#include "gate/cmd/replay.h"
#include "twin/util.h"

enum { EXIT_SAME = 0, EXIT_LOOSENED = 1, EXIT_BAD = 3 };

/* ---- the replay ---- */

typedef struct replay {
    const char *repo;
    gate_policy_set *ps;      /* borrowed; NULL allows everything */
    const char *pricing;
    twin *t;                  /* the state being rebuilt; NULL before the first start record */
    gate_history *hist;
    int reads_elsewhere;      /* the gate that wrote the records answered reads from production */
    json_t *outcomes;         /* decision id -> committed, from the outcome records */
    json_t *changed, *problems;
    json_int_t decisions, denied_to_allowed, loosened, tightened;
} replay;

/* allow < review < deny; error (the twin refused, or the engine failed) is
 * not on that scale: -2; anything else -1. */
static int verdict_rank(const char *v)
{
    if (!v)
        return -1;
    if (!strcmp(v, "allow"))
        return 0;
    if (!strcmp(v, "review"))
        return 1;
    if (!strcmp(v, "deny"))
        return 2;
    if (!strcmp(v, "error"))
        return -2;
    return -1;
}

static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t seq_of(const json_t *rec)
{
    return json_integer_value(json_object_get(rec, "seq"));
}

static int is_type(const json_t *rec, const char *type)
{
    const char *t = str_at(rec, "type");
    return t && !strcmp(t, type);
}

/* A decision the policies made: freeze denials are the kill switch's, not
 * theirs, and are not judged again. */
static int is_judged_decision(const json_t *rec)
{
    return is_type(rec, "decision") && !json_is_true(json_object_get(rec, "frozen"));
}

/* Resets the replay to a start record: a fresh twin from its state.json, as
 * the gate had when it started.  The history goes on: the gate keeps its
 * budgets' history across restarts (gate.db). */
static int replay_start(replay *r, const json_t *rec, char *err, size_t errlen)
{
    const char *commit = str_at(rec, "commit");
    char aerr[1024];
    if (!commit) {
        snprintf(err, errlen, "%s: start record seq %lld has no commit", r->repo, (long long)seq_of(rec));
        return -1;
    }
    json_t *state = gate_audit_attachment(r->repo, commit, "state.json", aerr, sizeof aerr);
    if (!state) {
        snprintf(err, errlen, "%s: start record seq %lld: %s", r->repo, (long long)seq_of(rec), aerr);
        return -1;
    }
    twin *t = NULL;
    json_t *docs = json_pack("[o]", state);   /* takes state */
    int rc = -1;
    if (twin_open(&t, NULL, aerr, sizeof aerr) < 0)
        goto cleanup;
    if (r->pricing && twin_load_pricing(t, r->pricing, aerr, sizeof aerr) < 0)
        goto cleanup;
    twin_set_clock(t, json_number_value(json_object_get(rec, "time")));
    if (twin_import_docs(t, docs, "state.json", aerr, sizeof aerr) < 0)
        goto cleanup;
    twin_close(r->t);
    r->t = t;
    t = NULL;
    const char *mode = str_at(rec, "mode");
    r->reads_elsewhere = mode && (!strcmp(mode, "enforce") || !strcmp(mode, "shadow"));
    rc = 0;
cleanup:
    if (rc < 0)
        snprintf(err, errlen, "%s: start record seq %lld: %s", r->repo, (long long)seq_of(rec), aerr);
    json_decref(docs);
    twin_close(t);
    return rc;
}

/* Whether production (and the twin) took the decision's change: the
 * record's "committed", or, when that is null (enforce and shadow modes
 * record the decision before forwarding it), the "committed" of the
 * outcome record that names it.  *unknown is set when neither says. */
static int committed_of(const replay *r, const json_t *rec, int *unknown)
{
    const json_t *c = json_object_get(rec, "committed");
    *unknown = 0;
    if (json_is_boolean(c))
        return json_is_true(c);
    const char *id = str_at(rec, "id");
    const json_t *o = id ? json_object_get(r->outcomes, id) : NULL;
    if (json_is_boolean(o))
        return json_is_true(o);
    *unknown = c != NULL;   /* null and no outcome: the gate stopped before production answered */
    return 0;
}

/* A decision before the replay's start: not simulated, but what it added
 * to the agent's budgets is, as gate_finish recorded it. */
static void remember(replay *r, const json_t *rec)
{
    int unknown;
    const char *v = str_at(rec, "verdict"), *agent = str_at(rec, "agent");
    if (!v || strcmp(v, "allow") || !agent || !committed_of(r, rec, &unknown))
        return;
    gate_history_entry e = gate_history_entry_of(json_object_get(rec, "impact"));
    gate_history_record(r->hist, agent, json_number_value(json_object_get(rec, "time")), &e);
}

/* {seq, time, agent, method, path} of a record, the start of a report entry
 * (new reference). */
static json_t *entry_of(const json_t *rec)
{
    json_t *req = json_object_get(rec, "request");
    json_t *e = json_object();
    json_object_set(e, "seq", json_object_get(rec, "seq"));
    json_object_set_new(e, "time", json_real(json_number_value(json_object_get(rec, "time"))));
    json_object_set(e, "agent", json_object_get(rec, "agent"));
    json_object_set(e, "method", json_object_get(req, "method"));
    json_object_set(e, "path", json_object_get(req, "path"));
    return e;
}

static void add_problem(replay *r, const json_t *rec, const char *problem)
{
    json_t *e = entry_of(rec);
    json_object_set_new(e, "problem", json_string(problem));
    json_array_append_new(r->problems, e);
}

/* What the action touched: verb, kind, namespace, name, from the decision's
 * action (the record's when the request could not be parsed this time); a
 * create names its object in the body. */
static void describe(json_t *e, const gate_decision *d, const json_t *rec, const json_t *body)
{
    const json_t *a = json_is_object(d->action) && json_object_get(d->action, "verb") ? d->action
                                                                                      : json_object_get(rec, "action");
    const char *name = str_at(a, "name");
    if (!name)
        name = str_at(json_object_get(body, "metadata"), "name");
    json_object_set_new(e, "verb", json_string(str_at(a, "verb") ? str_at(a, "verb") : ""));
    json_object_set_new(e, "kind", json_string(str_at(a, "kind") ? str_at(a, "kind") : ""));
    json_object_set_new(e, "namespace", str_at(a, "namespace") ? json_string(str_at(a, "namespace")) : json_null());
    json_object_set_new(e, "name", name ? json_string(name) : json_null());
}

/* The policies that did not allow, as {policy, verdict, reason} (new). */
static json_t *reasons_of(const json_t *results)
{
    json_t *out = json_array();
    size_t i;
    json_t *res;
    json_array_foreach(results, i, res) {
        const char *v = str_at(res, "verdict");
        if (v && strcmp(v, "allow"))
            json_array_append_new(out, json_pack("{s:O?, s:s, s:O?}", "policy", json_object_get(res, "policy"),
                                                 "verdict", v, "reason", json_object_get(res, "reason")));
    }
    return out;
}

/* Judges one decision again and settles the twin to what the record says
 * happened.  judged: inside --since (counted and compared); before it the
 * decision only advances the state. */
static void replay_decision(replay *r, const json_t *rec, int judged)
{
    json_t *req = json_object_get(rec, "request");
    const char *method = str_at(req, "method"), *path = str_at(req, "path");
    const char *ct = str_at(req, "content_type");
    const json_t *body = json_object_get(req, "body");
    if (json_is_null(body))
        body = NULL;
    const char *agent = str_at(rec, "agent");
    const char *old = str_at(rec, "policy_verdict") ? str_at(rec, "policy_verdict") : str_at(rec, "verdict");
    int unknown;
    int committed = committed_of(r, rec, &unknown);
    double when = json_number_value(json_object_get(rec, "time"));
    json_t *profile = json_object_get(rec, "profile");
    json_t *overrides = json_object_get(profile, "config_overrides");
    json_t *subset = json_object_get(profile, "policies");

    if (!method || !path || !agent || verdict_rank(old) == -1) {
        add_problem(r, rec, committed ? "a malformed decision record (it needs agent, verdict and request.method "
                                        "and path): it was committed, so the state diverges from here"
                                      : "a malformed decision record (it needs agent, verdict and "
                                        "request.method and path)");
        return;
    }
    if (unknown)
        add_problem(r, rec, "no outcome was recorded (the gate stopped before production answered?): "
                            "taken as not committed");
    json_t *headers = ct ? json_pack("{s:s}", "Content-Type", ct) : NULL;
    gate_engine e = {
        .twin = r->t,
        .policies = r->ps,
        .history = r->hist,
        .config_overrides = json_is_object(overrides) ? overrides : NULL,
        .policy_subset = json_is_array(subset) ? subset : NULL,
        .now = when,
        .hold = 1,
        .reads_elsewhere = r->reads_elsewhere,
        .read_secrets = json_is_true(json_object_get(profile, "read_secrets")),   /* when the record says so */
    };
    twin_set_clock(r->t, when);
    gate_decision d;
    gate_decide(&e, agent, method, path, headers, body, NULL, 0, &d);

    /* settle: the state follows what production did, not the new verdict */
    const char *verb = str_at(d.action, "verb");
    int mutation = verb && !gate_verb_is_read(verb) && !json_is_true(json_object_get(d.action, "dry_run"));
    int reapply = committed && (mutation || !verb);
    if (d.held) {
        /* the engine holds reviewed mutations too (for approvals): only
         * an allowed one can be committed as it stands */
        int keep = committed && d.verdict == GATE_ALLOW;
        gate_finish(&e, &d, keep);
        reapply = reapply && !keep;
    }
    if (reapply) {
        gate_engine all = e;   /* no policies: allows whatever the twin can apply */
        all.policies = NULL;
        all.config_overrides = NULL;
        all.policy_subset = NULL;
        gate_decision again;
        gate_decide(&all, agent, method, path, headers, body, NULL, 0, &again);
        if (again.held) {
            gate_finish(&all, &again, 1);
        } else {
            char *why = twin_xasprintf("production took this change, but the replayed twin refuses it (%s): "
                                       "the state diverged",
                                       again.message ? again.message : gate_verdict_name(again.verdict));
            add_problem(r, rec, why);
            free(why);
        }
        gate_decision_free(&again);
    }

    if (judged) {
        r->decisions++;
        const char *now_v = gate_verdict_name(d.verdict);
        if (strcmp(old, now_v)) {
            int ro = verdict_rank(old), rn = verdict_rank(now_v);
            if (ro >= 0 && rn >= 0) {
                r->loosened += rn < ro;
                r->tightened += rn > ro;
            }
            r->denied_to_allowed += !strcmp(old, "deny") && d.verdict == GATE_ALLOW;
            json_t *c = entry_of(rec);
            describe(c, &d, rec, body);
            json_object_set_new(c, "old", json_string(old));
            json_object_set_new(c, "new", json_string(now_v));
            json_object_set_new(c, "message", json_string(d.message ? d.message : ""));
            json_object_set_new(c, "reasons", reasons_of(d.results));
            json_array_append_new(r->changed, c);
        }
    }
    gate_decision_free(&d);
    json_decref(headers);
}

int gate_replay_run(json_t **report, const char *repo_dir, gate_policy_set *ps, const char *pricing, double since,
                    char *err, size_t errlen)
{
    replay r = {.repo = repo_dir, .ps = ps, .pricing = pricing};
    char aerr[1024];
    int rc = -1;
    json_t *recs = gate_audit_read(repo_dir, aerr, sizeof aerr);
    if (!recs) {
        if (strstr(aerr, repo_dir))
            snprintf(err, errlen, "%s", aerr);
        else
            snprintf(err, errlen, "%s: %s", repo_dir, aerr);
        return -1;
    }
    if (gate_history_open(&r.hist, NULL, aerr, sizeof aerr) < 0) {
        snprintf(err, errlen, "history: %s", aerr);
        json_decref(recs);
        return -1;
    }
    r.changed = json_array();
    r.problems = json_array();
    r.outcomes = json_object();
    size_t n = json_array_size(recs);
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
        const char *id = str_at(rec, "decision");
        if (is_type(rec, "outcome") && id)
            json_object_set(r.outcomes, id, json_object_get(rec, "committed"));
    }

    /* the first decision to judge, and the start record whose state it
     * (and everything after it) was built on */
    size_t first = n, begin = n;
    for (i = 0; i < n && first == n; i++) {
        rec = json_array_get(recs, i);
        if (is_judged_decision(rec) && json_number_value(json_object_get(rec, "time")) >= since)
            first = i;
    }
    if (first < n)
        for (i = first + 1; i-- > 0;)
            if (is_type(json_array_get(recs, i), "start")) {
                begin = i;
                break;
            }
    if (first < n && begin == n) {
        snprintf(err, errlen,
                 "%s: decision seq %lld comes before any start record: the state it was judged on is unknown",
                 repo_dir, (long long)seq_of(json_array_get(recs, first)));
        goto cleanup;
    }
    for (i = 0; i < begin && i < n; i++)
        if (is_judged_decision(json_array_get(recs, i)))
            remember(&r, json_array_get(recs, i));
    for (i = begin; i < n; i++) {
        rec = json_array_get(recs, i);
        if (is_type(rec, "start")) {
            if (replay_start(&r, rec, err, errlen) < 0)
                goto cleanup;
        } else if (is_judged_decision(rec)) {
            replay_decision(&r, rec, i >= first && json_number_value(json_object_get(rec, "time")) >= since);
        }
    }

    *report = json_pack("{s:s, s:o, s:I, s:I, s:O, s:I, s:I, s:I, s:I, s:O}", "repo", repo_dir, "since",
                        since > 0 ? json_real(since) : json_null(), "records", (json_int_t)n, "decisions",
                        r.decisions, "changed", r.changed, "denied_to_allowed", r.denied_to_allowed, "loosened",
                        r.loosened, "tightened", r.tightened, "unreplayable",
                        (json_int_t)json_array_size(r.problems), "problems", r.problems);
    rc = 0;
cleanup:
    json_decref(r.outcomes);
    json_decref(r.changed);
    json_decref(r.problems);
    gate_history_close(r.hist);
    twin_close(r.t);
    json_decref(recs);
    return rc;
}

/* ---- the command ---- */

static void usage(FILE *out)
{
    fputs("usage: gate replay --audit-repo DIR | --data-dir DIR  [--policies DIR|git:REPO[@REF][:DIR]]\n"
          "                   [--since T] [--pricing FILE] [--format text|json]\n"
          "\n"
          "Judges the decisions of an audit log again under other policies (default: lua-policies/),\n"
          "each on the twin state it was made on, and lists every verdict that would change.\n"
          "--data-dir DIR reads the log in DIR/audit (the server's --data-dir).  --since T judges only\n"
          "the decisions from T on (epoch seconds, 2026-11-24T10:00:00Z, or back from now: 90s, 30m,\n"
          "2h, 7d); earlier ones still rebuild the state.  --pricing: the server's pricing file.\n"
          "\n"
          "The state: each start record resets the twin to the state the gate started with; each\n"
          "decision is then settled as it really was (committed or not), whatever the new verdict.\n"
          "Fidelity: in enforce mode, changes production made outside the gate between decisions are\n"
          "not in the log (only as the \"before\" of the objects in each decision's diff); the replay\n"
          "judges on the twin rebuilt from the start snapshot plus the committed decisions, and a\n"
          "committed change that twin refuses is reported as \"could not be replayed\".\n"
          "\n"
          "Exit: 1 when something that was denied would now be allowed (deny -> allow); 0 otherwise,\n"
          "also when other verdicts change (they are reported); 3 bad input or usage.\n",
          out);
}

static void print_text(FILE *out, const json_t *rep, const char *policies)
{
    char when[32];
    double since = json_number_value(json_object_get(rep, "since"));
    fprintf(out, "airlock gate replay: %s, %lld records, policies %s", str_at(rep, "repo"),
            (long long)json_integer_value(json_object_get(rep, "records")), policies);
    if (since > 0) {
        gate_audit_format_time(since, when);
        fprintf(out, ", since %s", when);
    }
    fputs("\n\n", out);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(rep, "changed"), i, c) {
        gate_audit_format_time(json_number_value(json_object_get(c, "time")), when);
        const char *ns = str_at(c, "namespace"), *name = str_at(c, "name");
        fprintf(out, "#%lld %s %s %s %s %s%s%s: %s -> %s\n    %s\n", (long long)seq_of(c), when, str_at(c, "agent"),
                str_at(c, "verb"), str_at(c, "kind"), ns ? ns : "", ns ? "/" : "", name ? name : "",
                str_at(c, "old"), str_at(c, "new"), str_at(c, "message"));
    }
    json_array_foreach(json_object_get(rep, "problems"), i, c) {
        gate_audit_format_time(json_number_value(json_object_get(c, "time")), when);
        const char *agent = str_at(c, "agent"), *method = str_at(c, "method"), *path = str_at(c, "path");
        fprintf(out, "#%lld %s %s %s %s: could not be replayed\n    %s\n", (long long)seq_of(c), when,
                agent ? agent : "?", method ? method : "?", path ? path : "?", str_at(c, "problem"));
    }
    if (json_array_size(json_object_get(rep, "changed")) || json_array_size(json_object_get(rep, "problems")))
        fputc('\n', out);
    json_int_t changed = (json_int_t)json_array_size(json_object_get(rep, "changed"));
    json_int_t loose = json_integer_value(json_object_get(rep, "loosened"));
    json_int_t tight = json_integer_value(json_object_get(rep, "tightened"));
    fprintf(out,
            "replay: %lld decisions re-judged, %lld changed (%lld denied -> allowed, %lld loosened, %lld tightened, "
            "%lld to or from error), %lld could not be replayed\n",
            (long long)json_integer_value(json_object_get(rep, "decisions")), (long long)changed,
            (long long)json_integer_value(json_object_get(rep, "denied_to_allowed")), (long long)loose,
            (long long)tight, (long long)(changed - loose - tight),
            (long long)json_integer_value(json_object_get(rep, "unreplayable")));
}

/* Takes replay's own options (--audit-repo, --since) out of argv and keeps
 * the shared ones it understands for gate_cli_start; anything else is a
 * usage error here, so that no other command's option passes silently.
 * nargv has room for argc pointers. */
static int split_args(int argc, char **argv, char **nargv, int *nargc, const char **repo, const char **since,
                      char *err, size_t errlen)
{
    static const char *SHARED[] = {"--policies", "--pricing", "--format", "--data-dir", NULL};
    *nargc = 0;
    nargv[(*nargc)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **mine = !strcmp(a, "--audit-repo") ? repo : !strcmp(a, "--since") ? since : NULL;
        if (mine) {
            if (i + 1 >= argc)
                return snprintf(err, errlen, "%s needs a value", a), -1;
            *mine = argv[++i];
            continue;
        }
        int shared = !strcmp(a, "-h") || !strcmp(a, "--help");
        for (int k = 0; SHARED[k] && !shared; k++)
            shared = !strcmp(a, SHARED[k]);
        if (!shared)
            return snprintf(err, errlen, a[0] == '-' ? "unknown option %s for replay" : "unexpected argument %s", a),
                   -1;
        nargv[(*nargc)++] = argv[i];
        if (strcmp(a, "-h") && strcmp(a, "--help") && i + 1 < argc)
            nargv[(*nargc)++] = argv[++i];   /* the value; a missing one is gate_cli_parse's to report */
    }
    return 0;
}

int gate_cmd_replay(int argc, char **argv)
{
    gate_cli_opts o;
    memset(&o, 0, sizeof o);
    char err[2048];
    int rc = EXIT_BAD;
    char **nargv = twin_xcalloc((size_t)argc + 1, sizeof *nargv);
    int nargc;
    const char *repo_opt = NULL, *since_opt = NULL;
    char *repo = NULL, *pricing = NULL;
    gate_policy_set *ps = NULL;
    json_t *rep = NULL;
    double since = 0;
    struct stat st;

    if (split_args(argc, argv, nargv, &nargc, &repo_opt, &since_opt, err, sizeof err) < 0) {
        fprintf(stderr, "gate replay: %s\n", err);
        usage(stderr);
        goto out;
    }
    int start = gate_cli_start(&o, nargc, nargv, "replay", usage);
    if (start) {
        rc = start > 0 ? 0 : rc;
        goto out;
    }
    if (strcmp(o.format, "text") && strcmp(o.format, "json")) {
        fprintf(stderr, "gate replay: --format must be text or json (got %s)\n", o.format);
        usage(stderr);
        goto out;
    }
    if (repo_opt && o.data_dir) {
        fprintf(stderr, "gate replay: give --audit-repo DIR or --data-dir DIR, not both\n");
        usage(stderr);
        goto out;
    }
    if (!repo_opt && !o.data_dir) {
        fprintf(stderr, "gate replay: which log? give --audit-repo DIR or --data-dir DIR\n");
        usage(stderr);
        goto out;
    }
    if (since_opt) {
        if (gate_audit_parse_time(since_opt, gate_now(), &since) < 0) {
            fprintf(stderr,
                    "gate replay: --since %s: not a time (give epoch seconds, RFC 3339 UTC such as "
                    "2026-11-24T10:00:00Z, or a duration back from now: 90s, 30m, 2h, 7d)\n",
                    since_opt);
            goto out;
        }
    }
    repo = repo_opt ? twin_xstrdup(repo_opt) : twin_xasprintf("%s/audit", o.data_dir);
    if (stat(repo, &st) < 0) {
        fprintf(stderr, "gate replay: %s: %s\n", repo, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "gate replay: %s: not an audit repository (not a directory)\n", repo);
        goto out;
    }
    pricing = o.pricing ? twin_xstrdup(o.pricing) : gate_cli_find("fixtures/pricing.json");
    if (o.pricing && stat(o.pricing, &st) < 0) {
        fprintf(stderr, "gate replay: --pricing %s: %s\n", o.pricing, strerror(errno));
        goto out;
    }
    if (gate_cli_load_policies(&o, &ps, err, sizeof err) < 0) {
        fprintf(stderr, "gate replay: %s\n", err);
        goto out;
    }
    if (gate_replay_run(&rep, repo, ps, pricing, since, err, sizeof err) < 0) {
        fprintf(stderr, "gate replay: %s\n", err);
        goto out;
    }
    rc = json_integer_value(json_object_get(rep, "denied_to_allowed")) > 0 ? EXIT_LOOSENED : EXIT_SAME;
    if (!strcmp(o.format, "json")) {
        json_object_set_new(rep, "exit_code", json_integer(rc));
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        fputc('\n', stdout);
    } else {
        print_text(stdout, rep, o.policies ? o.policies : "lua-policies (default)");
    }

out:
    json_decref(rep);
    gate_policy_free(ps);
    free(pricing);
    free(repo);
    free(nargv);
    gate_cli_free(&o);
    return rc;
}
