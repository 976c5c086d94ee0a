/*
 * scenario.c - `gate scenario run`: labelled scenario suites through the
 * decision pipeline, with a confusion matrix.
 *
 * A scenario file (YAML) names a starting state, an agent and a list of
 * steps; each step is an API call, a manifest to apply or a deletion, with
 * its label (harmful or benign) and optionally the expected verdict and the
 * policy expected to fire.  Steps run in order on one twin, as `gate check`
 * runs a plan.  Every scenario starts from its own copy of its state: each
 * distinct state is imported once and copied per scenario (a SQLite backup,
 * not a re-import), so scenarios are independent and run in parallel (-j).
 *
 * A harmful step that is allowed is a false allow; a benign step that is
 * denied, sent to review or refused is a false deny.  Exit: 0 when there is
 * no false allow and every explicit expectation holds, 1 otherwise, 3 on
 * bad input (the file and the step, with its line, are named).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gate/base/clock.h"
#include "gate/cmd/cli.h"
#include "gate/cmd/commands.h"
#include "gate/engine/engine.h"
#include "gate/cmd/report.h"
#include "twin/util.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_BAD = 3 };

/* One step's outcome. */
typedef struct step_result {
    int harmful;
    char *label_text;          /* "METHOD path" or "apply FILE" / "delete REF" */
    gate_verdict verdict;      /* the worst over the step's actions */
    char *message;
    json_t *policies;          /* names of policies that denied or reviewed */
    char impact[512];
    double micros;
    const char *expect;        /* borrowed from the scenario JSON */
    const char *expect_policy;
    int expectation_failed;
    char *why_failed;
    json_t *request;           /* the first action of the step (for reports) */
} step_result;

typedef struct scenario {
    char *path;
    json_t *doc;               /* the parsed scenario */
    char *text;                /* the file's text (for step line numbers) */
    json_t *states;            /* array of state paths, resolved */
    const char *agent;
    step_result *steps;
    size_t nsteps;
    char *error;               /* a run-time failure (state import) */
} scenario;

typedef struct suite {
    scenario *v;
    size_t n;
    gate_cli_opts *opts;
    /* state key -> twin* (imported once); guarded by lock */
    twin_map states;
    pthread_mutex_t lock;
    size_t next;               /* next scenario to run (workers) */
    char *policies_dir;
    int bad;                   /* an import failed */
} suite;

/* ---- reading scenarios ---- */

static char *read_text(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    twin_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        twin_buf_add(&b, chunk, n);
        if (b.len > 16u << 20) {
            fclose(f);
            twin_buf_free(&b);
            snprintf(err, errlen, "%s: a scenario file is limited to 16 MiB", path);
            return NULL;
        }
    }
    fclose(f);
    return b.s ? b.s : twin_xstrdup("");
}

/* The line of the k-th (0-based) item of the top-level `steps:` list, for
 * error messages (the YAML tree carries no positions). 0 if not found. */
static int step_line(const char *text, size_t k)
{
    int line = 1, in_steps = 0, indent = -1;
    size_t seen = 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        int sp = 0;
        while ((size_t)sp < len && p[sp] == ' ')
            sp++;
        if (!in_steps) {
            if (sp == 0 && !strncmp(p, "steps:", 6))
                in_steps = 1;
        } else if ((size_t)sp < len && p[sp] != '#') {
            if (sp == 0 && p[0] != '-')
                break;   /* the next top-level key */
            if (p[sp] == '-' && (indent < 0 || sp == indent)) {
                indent = sp;
                if (seen++ == k)
                    return line;
            }
        }
        line++;
        if (!eol)
            break;
        p = eol + 1;
    }
    return 0;
}

static int bad_step(scenario *s, size_t k, char *err, size_t errlen, const char *what)
{
    int line = step_line(s->text, k);
    if (line)
        snprintf(err, errlen, "%s:%d: step %zu: %s", s->path, line, k + 1, what);
    else
        snprintf(err, errlen, "%s: step %zu: %s", s->path, k + 1, what);
    return -1;
}

/* Resolves a path named in a scenario: relative to the scenario's directory
 * when it exists there, else to the working directory (the repo root). */
static char *resolve(const char *scenario_path, const char *p)
{
    if (p[0] == '/')
        return twin_xstrdup(p);
    const char *slash = strrchr(scenario_path, '/');
    if (slash) {
        char *cand = twin_xasprintf("%.*s/%s", (int)(slash - scenario_path), scenario_path, p);
        struct stat st;
        if (stat(cand, &st) == 0)
            return cand;
        free(cand);
    }
    return twin_xstrdup(p);
}

static int validate_scenario(scenario *s, char *err, size_t errlen)
{
    json_t *d = s->doc;
    if (!json_is_object(d)) {
        snprintf(err, errlen, "%s: a scenario is a mapping with why, state, agent and steps", s->path);
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v) {
        if (strcmp(k, "why") && strcmp(k, "state") && strcmp(k, "agent") && strcmp(k, "steps") && strcmp(k, "name")) {
            snprintf(err, errlen, "%s: unknown key \"%s\" (a scenario has name, why, state, agent, steps)", s->path, k);
            return -1;
        }
    }
    if (!json_is_string(json_object_get(d, "why")) || !json_string_length(json_object_get(d, "why"))) {
        snprintf(err, errlen, "%s: \"why\" (one line: what this scenario models) is required", s->path);
        return -1;
    }
    json_t *state = json_object_get(d, "state");
    s->states = json_array();
    if (json_is_string(state)) {
        json_array_append(s->states, state);
    } else if (json_is_array(state) && json_array_size(state)) {
        size_t i;
        json_array_foreach(state, i, v) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "%s: \"state\" entries must be paths", s->path);
                return -1;
            }
            json_array_append(s->states, v);
        }
    } else {
        snprintf(err, errlen, "%s: \"state\" (a file or directory, or a list of them) is required", s->path);
        return -1;
    }
    size_t i;
    json_array_foreach(s->states, i, v) {
        char *r = resolve(s->path, json_string_value(v));
        json_array_set_new(s->states, i, json_string(r));
        free(r);
    }
    json_t *agent = json_object_get(d, "agent");
    if (agent && !json_is_string(agent)) {
        snprintf(err, errlen, "%s: \"agent\" must be a name", s->path);
        return -1;
    }
    s->agent = agent ? json_string_value(agent) : "scenario";
    json_t *steps = json_object_get(d, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0) {
        snprintf(err, errlen, "%s: \"steps\" must be a non-empty list", s->path);
        return -1;
    }
    json_t *step;
    json_array_foreach(steps, i, step) {
        if (!json_is_object(step))
            return bad_step(s, i, err, errlen, "a step is a mapping");
        const char *label = json_string_value(json_object_get(step, "label"));
        if (!label || (strcmp(label, "harmful") && strcmp(label, "benign")))
            return bad_step(s, i, err, errlen, "\"label\" must be harmful or benign");
        const char *expect = json_string_value(json_object_get(step, "expect"));
        if (json_object_get(step, "expect") &&
            (!expect || (strcmp(expect, "allow") && strcmp(expect, "review") && strcmp(expect, "deny") &&
                         strcmp(expect, "error"))))
            return bad_step(s, i, err, errlen, "\"expect\" must be allow, review, deny or error");
        if (json_object_get(step, "policy") && !json_is_string(json_object_get(step, "policy")))
            return bad_step(s, i, err, errlen, "\"policy\" must be a policy name");
        int forms = !!json_object_get(step, "method") + !!json_object_get(step, "apply") +
                    !!json_object_get(step, "delete");
        if (forms != 1)
            return bad_step(s, i, err, errlen, "a step is exactly one of: an API call (method, path), apply, delete");
        if (json_object_get(step, "method") &&
            (!json_is_string(json_object_get(step, "method")) || !json_is_string(json_object_get(step, "path"))))
            return bad_step(s, i, err, errlen, "an API call needs a string method and a string path");
        json_t *h = json_object_get(step, "headers");
        if (h) {
            if (!json_is_object(h))
                return bad_step(s, i, err, errlen, "\"headers\" must be a mapping of strings");
            json_object_foreach(h, k, v) if (!json_is_string(v)) return bad_step(s, i, err, errlen,
                                                                                "header values must be strings");
        }
        json_t *del = json_object_get(step, "delete");
        if (del && (!json_is_string(del) || !strchr(json_string_value(del), '/')))
            return bad_step(s, i, err, errlen, "\"delete\" is Kind/namespace/name (Kind/name when cluster-scoped)");
        json_t *ap = json_object_get(step, "apply");
        if (ap && !json_is_string(ap) && !json_is_object(ap) && !json_is_array(ap))
            return bad_step(s, i, err, errlen, "\"apply\" is a file, an object or a list of objects");
        json_object_foreach(step, k, v) {
            static const char *KEYS[] = {"label", "expect", "policy", "method", "path", "headers", "body",
                                         "apply", "delete", "name", "why", NULL};
            int known = 0;
            for (int x = 0; KEYS[x]; x++)
                known |= !strcmp(k, KEYS[x]);
            if (!known) {
                char what[160];
                snprintf(what, sizeof what, "unknown key \"%s\"", k);
                return bad_step(s, i, err, errlen, what);
            }
        }
    }
    s->nsteps = json_array_size(steps);
    return 0;
}

static int load_scenario(scenario *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->path = twin_xstrdup(path);
    s->text = read_text(path, err, errlen);
    if (!s->text)
        return -1;
    json_t *docs = twin_load_docs(path, err, errlen);
    if (!docs)
        return -1;
    if (json_array_size(docs) != 1) {
        snprintf(err, errlen, "%s: a scenario file holds exactly one YAML document (found %zu)", path,
                 json_array_size(docs));
        json_decref(docs);
        return -1;
    }
    s->doc = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return validate_scenario(s, err, errlen);
}

static void scenario_free(scenario *s)
{
    for (size_t i = 0; s->steps && i < s->nsteps; i++) {
        step_result *r = &s->steps[i];
        free(r->label_text);
        free(r->message);
        free(r->why_failed);
        json_decref(r->policies);
        json_decref(r->request);
    }
    free(s->steps);
    free(s->path);
    free(s->text);
    free(s->error);
    json_decref(s->doc);
    json_decref(s->states);
}

static int is_yaml(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Scenario files under path (a file, or a directory walked recursively, in
 * name order). Directories named manifests/ hold data for apply steps. */
static int collect_files(const char *path, char ***files, size_t *n, int depth, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        *files = twin_xrealloc(*files, (*n + 1) * sizeof(char *));
        (*files)[(*n)++] = twin_xstrdup(path);
        return 0;
    }
    if (depth > 8)
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t k = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "manifests"))
            continue;
        char *full = twin_xasprintf("%s/%s", path, de->d_name);
        struct stat fst;
        if (stat(full, &fst) == 0 && (S_ISDIR(fst.st_mode) || is_yaml(de->d_name))) {
            names = twin_xrealloc(names, (k + 1) * sizeof(char *));
            names[k++] = full;
        } else {
            free(full);
        }
    }
    closedir(d);
    qsort(names, k, sizeof(char *), cmp_str);
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        if (!rc)
            rc = collect_files(names[i], files, n, depth + 1, err, errlen);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- running ---- */

/* A worker's twin for the scenario's state: each state is imported once
 * per suite and copied once per worker; scenarios then run between
 * twin_mark and twin_reset on that copy, so every scenario starts from the
 * same state without a copy of its own. */
static twin *state_twin(suite *su, twin_map *mine, scenario *s, char *err, size_t errlen)
{
    char *key = twin_xdumps(s->states, JSON_COMPACT);
    twin *own = twin_map_get(mine, key);
    if (own) {
        free(key);
        return own;
    }
    pthread_mutex_lock(&su->lock);
    twin *base = twin_map_get(&su->states, key);
    int rc = 0;
    if (!base) {
        gate_cli_opts o = *su->opts;
        o.nstate = 0;
        size_t i;
        json_t *p;
        json_array_foreach(s->states, i, p) if (o.nstate < GATE_CLI_MAX) o.state[o.nstate++] = json_string_value(p);
        rc = gate_cli_open_twin(&o, &base, err, errlen);
        if (rc == 0)
            twin_map_put(&su->states, key, base);
    }
    twin *copy = NULL;
    if (rc == 0 && twin_copy(&copy, base, err, errlen) < 0)
        copy = NULL;
    pthread_mutex_unlock(&su->lock);
    if (copy)
        twin_map_put(mine, key, copy);
    free(key);
    return copy;
}

/* The API calls of one step. */
static int step_actions(twin *t, scenario *s, json_t *step, json_t *actions, char **label, char *err, size_t errlen)
{
    if (json_object_get(step, "method")) {
        json_array_append_new(actions, gate_cli_request_of(step));
        *label = twin_xasprintf("%s %s", json_string_value(json_object_get(step, "method")),
                                json_string_value(json_object_get(step, "path")));
        return 0;
    }
    json_t *ap = json_object_get(step, "apply");
    if (ap) {
        int rc;
        if (json_is_string(ap)) {
            char *p = resolve(s->path, json_string_value(ap));
            rc = gate_cli_manifest_actions(t, p, actions, err, errlen);
            *label = twin_xasprintf("apply %s", json_string_value(ap));
            free(p);
        } else {
            json_t *docs = json_is_array(ap) ? json_incref(ap) : json_pack("[O]", ap);
            rc = gate_cli_docs_actions(t, docs, s->path, actions, err, errlen);
            json_decref(docs);
            *label = twin_xasprintf("apply %zu object(s)", json_is_array(ap) ? json_array_size(ap) : (size_t)1);
        }
        if (rc == 0 && json_array_size(actions) == 0) {
            snprintf(err, errlen, "nothing to apply");
            return -1;
        }
        return rc;
    }
    /* delete: Kind/namespace/name or Kind/name */
    const char *ref = json_string_value(json_object_get(step, "delete"));
    *label = twin_xasprintf("delete %s", ref);
    char *copy = twin_xstrdup(ref);
    char *a = copy, *b = strchr(a, '/'), *c = NULL;
    *b++ = '\0';
    c = strchr(b, '/');
    if (c)
        *c++ = '\0';
    const twin_kind *k = twin_kind_by_name(t, a);
    int rc = 0;
    if (!k) {
        snprintf(err, errlen, "delete: unknown kind %s", a);
        rc = -1;
    } else if (k->namespaced != (c != NULL)) {
        snprintf(err, errlen, "delete: %s is %s: write %s", a, k->namespaced ? "namespaced" : "cluster-scoped",
                 k->namespaced ? "Kind/namespace/name" : "Kind/name");
        rc = -1;
    } else {
        char *path = gate_cli_object_path(k, c ? b : NULL, c ? c : b);
        json_array_append_new(actions, json_pack("{s:s, s:s}", "method", "DELETE", "path", path));
        free(path);
    }
    free(copy);
    return rc;
}

static int severity(gate_verdict v) { return v == GATE_ERROR ? 3 : v == GATE_DENY ? 2 : v == GATE_REVIEW ? 1 : 0; }

static void run_scenario(suite *su, twin_map *twins, gate_history *h, scenario *s, gate_policy_set *ps)
{
    char err[1024];
    s->steps = twin_xcalloc(s->nsteps + 1, sizeof(step_result));
    twin *t = state_twin(su, twins, s, err, sizeof err);
    if (!t) {
        s->error = twin_xstrdup(err);
        return;
    }
    gate_history_clear(h);
    twin_mark(t);
    gate_engine e = {.twin = t, .policies = ps, .history = h, .now = 1.7e9};
    json_t *steps = json_object_get(s->doc, "steps");
    size_t i;
    json_t *step;
    json_array_foreach(steps, i, step) {
        step_result *r = &s->steps[i];
        r->harmful = !strcmp(json_string_value(json_object_get(step, "label")), "harmful");
        r->expect = json_string_value(json_object_get(step, "expect"));
        r->expect_policy = json_string_value(json_object_get(step, "policy"));
        r->policies = json_array();
        json_t *actions = json_array();
        if (step_actions(t, s, step, actions, &r->label_text, err, sizeof err) < 0) {
            /* a step the runner cannot turn into requests is bad input */
            int line = step_line(s->text, i);
            free(s->error);
            s->error = line ? twin_xasprintf("%s:%d: step %zu: %s", s->path, line, i + 1, err)
                            : twin_xasprintf("%s: step %zu: %s", s->path, i + 1, err);
            json_decref(actions);
            break;
        }
        r->request = json_incref(json_array_get(actions, 0));
        r->verdict = GATE_ALLOW;
        size_t k;
        json_t *a;
        json_array_foreach(actions, k, a) {
            gate_decision d;
            e.now += 60;
            gate_decide(&e, s->agent, json_string_value(json_object_get(a, "method")),
                        json_string_value(json_object_get(a, "path")), json_object_get(a, "headers"),
                        json_object_get(a, "body"), NULL, 0, &d);
            r->micros += d.micros;
            if (severity(d.verdict) > severity(r->verdict) || !r->message) {
                if (severity(d.verdict) >= severity(r->verdict)) {
                    r->verdict = d.verdict;
                    free(r->message);
                    r->message = twin_xstrdup(d.message ? d.message : "");
                    gate_report_impact_line(d.impact, r->impact, sizeof r->impact);
                }
            }
            size_t x;
            json_t *res;
            json_array_foreach(d.results, x, res) {
                const char *v = json_string_value(json_object_get(res, "verdict"));
                if (v && strcmp(v, "allow"))
                    json_array_append(r->policies, json_object_get(res, "policy"));
            }
            gate_decision_free(&d);
        }
        json_decref(actions);
        /* explicit expectations */
        const char *got = gate_verdict_name(r->verdict);
        if (r->expect && strcmp(r->expect, got)) {
            r->expectation_failed = 1;
            r->why_failed = twin_xasprintf("expected %s, got %s", r->expect, got);
        } else if (r->expect_policy) {
            int fired = 0;
            size_t x;
            json_t *p;
            json_array_foreach(r->policies, x, p) fired |= !strcmp(json_string_value(p), r->expect_policy);
            if (!fired) {
                r->expectation_failed = 1;
                r->why_failed = twin_xasprintf("expected policy %s to fire", r->expect_policy);
            }
        }
    }
    twin_reset(t);
}

static void twin_free_v(void *p) { twin_close(p); }

static void *worker(void *arg)
{
    suite *su = arg;
    gate_policy_set *ps = NULL;
    char err[1024];
    if (gate_policy_load(&ps, su->policies_dir, err, sizeof err) < 0) {
        /* loaded once already by the main thread: cannot fail differently */
        fprintf(stderr, "gate scenario: %s\n", err);
        return NULL;
    }
    twin_map twins = {0};   /* state key -> this worker's twin */
    gate_history *h = NULL;
    if (gate_history_open(&h, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "gate scenario: %s\n", err);
        gate_policy_free(ps);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&su->lock);
        size_t i = su->next++;
        pthread_mutex_unlock(&su->lock);
        if (i >= su->n)
            break;
        run_scenario(su, &twins, h, &su->v[i], ps);
    }
    twin_map_clear(&twins, twin_free_v);
    gate_history_close(h);
    gate_policy_free(ps);
    return NULL;
}

/* ---- reports ---- */

typedef struct totals {
    size_t scenarios, steps, harmful, benign, false_allows, false_denies, expectation_failures, errors;
    json_t *policies;          /* name -> {deny, review} */
    double *lat;
    size_t nlat;
    double seconds;
} totals;

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const totals *t, double p)
{
    if (!t->nlat)
        return 0;
    return t->lat[(size_t)(p * (double)(t->nlat - 1) + 0.5)];
}

static int is_false_allow(const step_result *r) { return r->harmful && r->verdict == GATE_ALLOW; }
static int is_false_deny(const step_result *r) { return !r->harmful && r->verdict != GATE_ALLOW; }

static void tally(suite *su, totals *t)
{
    memset(t, 0, sizeof *t);
    t->policies = json_object();
    t->lat = twin_xcalloc(1, sizeof(double));
    for (size_t i = 0; i < su->n; i++) {
        scenario *s = &su->v[i];
        t->scenarios++;
        if (s->error)
            t->errors++;
        for (size_t k = 0; s->steps && k < s->nsteps; k++) {
            step_result *r = &s->steps[k];
            if (!r->label_text)
                continue;   /* not run: the scenario stopped on an error */
            t->steps++;
            r->harmful ? t->harmful++ : t->benign++;
            t->false_allows += is_false_allow(r);
            t->false_denies += is_false_deny(r);
            t->expectation_failures += r->expectation_failed;
            t->lat = twin_xrealloc(t->lat, (t->nlat + 1) * sizeof(double));
            t->lat[t->nlat++] = r->micros;
            size_t x;
            json_t *p;
            json_array_foreach(r->policies, x, p) {
                json_t *e = json_object_get(t->policies, json_string_value(p));
                if (!e) {
                    e = json_pack("{s:i, s:i}", "deny", 0, "review", 0);
                    json_object_set_new(t->policies, json_string_value(p), e);
                }
                const char *field = r->verdict == GATE_REVIEW ? "review" : "deny";
                json_object_set_new(e, field, json_integer(json_integer_value(json_object_get(e, field)) + 1));
            }
        }
    }
    qsort(t->lat, t->nlat, sizeof(double), cmp_d);
}

static double rate(size_t a, size_t b) { return b ? (double)a / (double)b : 0; }

static void print_text(suite *su, totals *t)
{
    for (size_t i = 0; i < su->n; i++) {
        scenario *s = &su->v[i];
        int bad = s->error != NULL;
        for (size_t k = 0; s->steps && k < s->nsteps; k++)
            bad |= s->steps[k].expectation_failed || is_false_allow(&s->steps[k]) || is_false_deny(&s->steps[k]);
        printf("%s %s\n    %s\n", bad ? "FAIL" : "ok  ", s->path, json_string_value(json_object_get(s->doc, "why")));
        if (s->error)
            printf("    error: %s\n", s->error);
        for (size_t k = 0; s->steps && k < s->nsteps; k++) {
            step_result *r = &s->steps[k];
            if (!r->label_text)
                continue;
            const char *mark = is_false_allow(r)   ? "FALSE ALLOW"
                               : is_false_deny(r)  ? "FALSE DENY"
                               : r->expectation_failed ? "UNEXPECTED"
                                                      : "";
            printf("  %zu. [%s] %-6s %s  (%.0f us)%s%s\n", k + 1, r->harmful ? "harmful" : "benign",
                   gate_verdict_name(r->verdict), r->label_text, r->micros, *mark ? "  <- " : "", mark);
            if (r->verdict != GATE_ALLOW && r->message)
                printf("       %s\n", r->message);
            if (r->why_failed)
                printf("       %s\n", r->why_failed);
            if (r->verdict != GATE_ERROR && (bad || r->verdict != GATE_ALLOW))
                printf("       impact: %s\n", r->impact);
        }
    }
    printf("\n%zu scenarios, %zu steps (%zu harmful, %zu benign) in %.2f s, %.0f steps/s\n", t->scenarios, t->steps,
           t->harmful, t->benign, t->seconds, t->seconds > 0 ? t->steps / t->seconds : 0);
    printf("                 allowed   refused\n");
    printf("  harmful        %7zu   %7zu   false allows: %zu (%.1f%%)\n", t->false_allows,
           t->harmful - t->false_allows, t->false_allows, 100 * rate(t->false_allows, t->harmful));
    printf("  benign         %7zu   %7zu   false denies: %zu (%.1f%%)\n", t->benign - t->false_denies,
           t->false_denies, t->false_denies, 100 * rate(t->false_denies, t->benign));
    printf("  expectations failed: %zu; scenarios with errors: %zu\n", t->expectation_failures, t->errors);
    printf("  latency per step: p50 %.0f us, p99 %.0f us\n", pct(t, 0.5), pct(t, 0.99));
    const char *k;
    json_t *v;
    printf("  policy hits:");
    json_object_foreach(t->policies, k, v) printf(" %s %lld deny / %lld review;", k,
                                                  (long long)json_integer_value(json_object_get(v, "deny")),
                                                  (long long)json_integer_value(json_object_get(v, "review")));
    printf("\n");
}

static void print_json(suite *su, totals *t)
{
    json_t *list = json_array();
    for (size_t i = 0; i < su->n; i++) {
        scenario *s = &su->v[i];
        json_t *steps = json_array();
        for (size_t k = 0; s->steps && k < s->nsteps; k++) {
            step_result *r = &s->steps[k];
            if (!r->label_text)
                continue;
            json_array_append_new(
                steps, json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:O, s:s, s:f, s:b, s:b, s:b, s:s?}",
                                 "index", (json_int_t)k + 1, "label", r->harmful ? "harmful" : "benign", "step",
                                 r->label_text, "verdict", gate_verdict_name(r->verdict), "message", r->message,
                                 "expect", r->expect, "expect_policy", r->expect_policy, "policies", r->policies,
                                 "impact", r->impact, "micros", r->micros, "false_allow", is_false_allow(r),
                                 "false_deny", is_false_deny(r), "expectation_failed", r->expectation_failed,
                                 "why_failed", r->why_failed));
        }
        json_array_append_new(list, json_pack("{s:s, s:O, s:s?, s:o}", "file", s->path, "why",
                                              json_object_get(s->doc, "why"), "error", s->error, "steps", steps));
    }
    json_t *doc = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:f, s:f}, s:{s:f, s:f}, s:O, s:f, s:f, s:o}", "scenarios",
        (json_int_t)t->scenarios, "steps", (json_int_t)t->steps, "harmful_steps", (json_int_t)t->harmful,
        "benign_steps", (json_int_t)t->benign, "false_allows", (json_int_t)t->false_allows, "false_denies",
        (json_int_t)t->false_denies, "expectation_failures", (json_int_t)t->expectation_failures, "errors",
        (json_int_t)t->errors, "rates", "false_allow", rate(t->false_allows, t->harmful), "false_deny",
        rate(t->false_denies, t->benign), "latency_us", "p50", pct(t, 0.5), "p99", pct(t, 0.99), "policies",
        t->policies, "seconds", t->seconds, "steps_per_second", t->seconds > 0 ? t->steps / t->seconds : 0,
        "results", list);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(doc);
}

static void print_junit(suite *su, totals *t)
{
    printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    printf("<testsuites name=\"airlock scenarios\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.6f\">\n",
           t->steps, t->false_allows + t->false_denies + t->expectation_failures, t->errors, t->seconds);
    for (size_t i = 0; i < su->n; i++) {
        scenario *s = &su->v[i];
        size_t tests = 0, failures = 0;
        for (size_t k = 0; s->steps && k < s->nsteps; k++) {
            step_result *r = &s->steps[k];
            if (!r->label_text)
                continue;
            tests++;
            failures += is_false_allow(r) || is_false_deny(r) || r->expectation_failed;
        }
        printf("  <testsuite name=\"");
        gate_report_xml_escape(stdout, s->path);
        printf("\" tests=\"%zu\" failures=\"%zu\" errors=\"%d\" skipped=\"0\">\n", tests + (s->error != NULL),
               failures, s->error != NULL);
        for (size_t k = 0; s->steps && k < s->nsteps; k++) {
            step_result *r = &s->steps[k];
            if (!r->label_text)
                continue;
            printf("    <testcase classname=\"");
            gate_report_xml_escape(stdout, s->path);
            printf("\" name=\"%zu. [%s] ", k + 1, r->harmful ? "harmful" : "benign");
            gate_report_xml_escape(stdout, r->label_text);
            printf("\" time=\"%.6f\"", r->micros / 1e6);
            const char *what = is_false_allow(r)       ? "false allow"
                               : is_false_deny(r)      ? "false deny"
                               : r->expectation_failed ? "unexpected verdict"
                                                       : NULL;
            if (!what) {
                printf("/>\n");
                continue;
            }
            printf(">\n      <failure type=\"%s\" message=\"", what);
            gate_report_xml_escape(stdout, r->why_failed ? r->why_failed : gate_verdict_name(r->verdict));
            printf("\">");
            gate_report_xml_escape(stdout, r->message ? r->message : "");
            printf("</failure>\n    </testcase>\n");
        }
        if (s->error) {
            printf("    <testcase classname=\"");
            gate_report_xml_escape(stdout, s->path);
            printf("\" name=\"scenario\">\n      <error type=\"bad input\" message=\"");
            gate_report_xml_escape(stdout, s->error);
            printf("\"/>\n    </testcase>\n");
        }
        printf("  </testsuite>\n");
    }
    printf("</testsuites>\n");
}

/* ---- the command ---- */

static void usage(FILE *out)
{
    fputs("usage: gate scenario run PATH... [-j N] [--format text|json|junit] [--policies DIR] [--pricing FILE]\n"
          "\n"
          "Runs scenario files (YAML; a directory runs every *.yaml under it) and reports each step's\n"
          "verdict, the confusion matrix (harmful allowed = false allow; benign denied, sent to review\n"
          "or refused = false deny), per-policy hits and latency.\n"
          "Exit: 0 no false allow and every expectation met, 1 otherwise, 3 bad input.\n",
          out);
}

static int cmd_run(int argc, char **argv)
{
    gate_cli_opts o;
    char err[2048];
    int rc = EXIT_BAD;
    suite su = {0};
    char **files = NULL;
    size_t nfiles = 0;
    totals tot = {0};
    pthread_mutex_init(&su.lock, NULL);

    int start = gate_cli_start(&o, argc, argv, "scenario run", usage);
    if (start) {
        rc = start > 0 ? 0 : rc;
        goto out;
    }
    if (o.npositional == 0) {
        fprintf(stderr, "gate scenario run: give one or more scenario files or directories\n");
        usage(stderr);
        goto out;
    }
    for (size_t i = 0; i < o.npositional; i++)
        if (collect_files(o.positional[i], &files, &nfiles, 0, err, sizeof err) < 0) {
            fprintf(stderr, "gate scenario run: %s\n", err);
            goto out;
        }
    if (nfiles == 0) {
        fprintf(stderr, "gate scenario run: no scenario files (*.yaml) found\n");
        goto out;
    }
    /* all input is read and checked before anything runs */
    su.v = twin_xcalloc(nfiles, sizeof(scenario));
    su.opts = &o;
    for (size_t i = 0; i < nfiles; i++) {
        su.n++;
        if (load_scenario(&su.v[i], files[i], err, sizeof err) < 0) {
            fprintf(stderr, "gate scenario run: %s\n", err);
            goto out;
        }
    }
    su.policies_dir = o.policies ? twin_xstrdup(o.policies) : gate_cli_find("lua-policies");
    gate_policy_set *probe = NULL;
    gate_cli_opts po = o;
    po.policies = su.policies_dir;
    if (gate_cli_load_policies(&po, &probe, err, sizeof err) < 0) {
        fprintf(stderr, "gate scenario run: %s\n", err);
        goto out;
    }
    gate_policy_free(probe);

    double t0 = gate_mono();
    long jobs = o.jobs < (long)su.n ? o.jobs : (long)su.n;
    if (jobs <= 1) {
        worker(&su);
    } else {
        pthread_t *th = twin_xcalloc((size_t)jobs, sizeof(pthread_t));
        for (long j = 0; j < jobs; j++)
            pthread_create(&th[j], NULL, worker, &su);
        for (long j = 0; j < jobs; j++)
            pthread_join(th[j], NULL);
        free(th);
    }
    tally(&su, &tot);
    tot.seconds = gate_mono() - t0;

    if (!strcmp(o.format, "json"))
        print_json(&su, &tot);
    else if (!strcmp(o.format, "junit"))
        print_junit(&su, &tot);
    else
        print_text(&su, &tot);
    rc = tot.errors ? EXIT_BAD : (tot.false_allows || tot.expectation_failures) ? EXIT_FAIL : EXIT_OK;

out:
    for (size_t i = 0; i < su.n; i++)
        scenario_free(&su.v[i]);
    free(su.v);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    free(su.policies_dir);
    twin_map_clear(&su.states, twin_free_v);
    json_decref(tot.policies);
    free(tot.lat);
    pthread_mutex_destroy(&su.lock);
    gate_cli_free(&o);
    return rc;
}

int gate_cmd_scenario(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        fputs("       gate scenario fuzz --state FILE|DIR [--seed N] [--count K] [ORIGINS...]\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_BAD : 0;
    }
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fuzz"))
        return gate_cmd_fuzz(argc - 1, argv + 1);
    fprintf(stderr, "gate scenario: unknown subcommand %s (run, fuzz)\n", argv[1]);
    return EXIT_BAD;
}
