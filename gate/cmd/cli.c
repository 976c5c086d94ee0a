/*
 * cli.c - shared plumbing of the command-line commands.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gate/cmd/cli.h"
#include "twin/util.h"

static int want_value(int argc, char **argv, int *i, const char **out, char *err, size_t errlen)
{
    if (*i + 1 >= argc) {
        snprintf(err, errlen, "%s needs a value", argv[*i]);
        return -1;
    }
    *out = argv[++*i];
    return 0;
}

static int want_long(int argc, char **argv, int *i, long *out, char *err, size_t errlen)
{
    const char *v;
    if (want_value(argc, argv, i, &v, err, errlen) < 0)
        return -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v) {
        snprintf(err, errlen, "%s needs a whole number (got %s)", argv[*i - 1], v);
        return -1;
    }
    *out = n;
    return 0;
}

int gate_cli_parse(gate_cli_opts *o, int argc, char **argv, const char *cmd, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->agent = "ci";
    o->format = "text";
    o->jobs = 1;
    o->count = -1;
    o->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (!strcmp(a, "--aws") && !strcmp(cmd, "export")) {
            o->aws = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
        } else if (!strcmp(a, "--state")) {
            if (want_value(argc, argv, &i, &v, err, errlen) < 0)
                return -1;
            if (o->nstate == GATE_CLI_MAX)
                return snprintf(err, errlen, "too many --state"), -1;
            o->state[o->nstate++] = v;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--filename")) {
            if (want_value(argc, argv, &i, &v, err, errlen) < 0)
                return -1;
            if (o->nmanifests == GATE_CLI_MAX)
                return snprintf(err, errlen, "too many -f"), -1;
            o->manifests[o->nmanifests++] = v;
        } else if (!strcmp(a, "--actions")) {
            if (want_value(argc, argv, &i, &o->actions, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--policies")) {
            if (want_value(argc, argv, &i, &o->policies, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--pricing")) {
            if (want_value(argc, argv, &i, &o->pricing, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--agent")) {
            if (want_value(argc, argv, &i, &o->agent, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--format")) {
            if (want_value(argc, argv, &i, &o->format, err, errlen) < 0)
                return -1;
            if (strcmp(o->format, "text") && strcmp(o->format, "json") && strcmp(o->format, "junit"))
                return snprintf(err, errlen, "--format must be text, json or junit (got %s)", o->format), -1;
        } else if (!strcmp(a, "--listen")) {
            if (want_value(argc, argv, &i, &o->listen, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--aws-upstream")) {
            if (want_value(argc, argv, &i, &o->aws_upstream, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--aws-upstream-credentials")) {
            if (want_value(argc, argv, &i, &o->aws_upstream_credentials, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--aws-upstream-profile")) {
            if (want_value(argc, argv, &i, &o->aws_upstream_profile, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--aws-upstream-ca")) {
            if (want_value(argc, argv, &i, &o->aws_upstream_ca, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--aws-listen")) {
            if (want_value(argc, argv, &i, &o->aws_listen, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--agents")) {
            if (want_value(argc, argv, &i, &o->agents, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--tls-cert")) {
            if (want_value(argc, argv, &i, &o->tls_cert, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--tls-key")) {
            if (want_value(argc, argv, &i, &o->tls_key, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--upstream")) {
            if (want_value(argc, argv, &i, &o->upstream, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--upstream-token-file")) {
            if (want_value(argc, argv, &i, &o->upstream_token_file, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--upstream-ca")) {
            if (want_value(argc, argv, &i, &o->upstream_ca, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--upstream-insecure")) {
            o->upstream_insecure = 1;
        } else if (!strcmp(a, "--mode")) {
            if (want_value(argc, argv, &i, &o->mode, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--fresh-wait")) {
            if (want_value(argc, argv, &i, &o->fresh_wait, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--upstream-timeout")) {
            if (want_value(argc, argv, &i, &o->upstream_timeout, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--policy-timeout")) {
            if (want_value(argc, argv, &i, &o->policy_timeout, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--review-wait")) {
            if (want_value(argc, argv, &i, &o->review_wait, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--audit-repo")) {
            if (want_value(argc, argv, &i, &o->audit_repo, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--webhook")) {
            if (want_value(argc, argv, &i, &o->webhook, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--approval-ttl")) {
            if (want_value(argc, argv, &i, &o->approval_ttl, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--approved-ttl")) {
            if (want_value(argc, argv, &i, &o->approved_ttl, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--data-dir")) {
            if (want_value(argc, argv, &i, &o->data_dir, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--config") && !strcmp(cmd, "serve")) {
            if (want_value(argc, argv, &i, &o->config, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (want_value(argc, argv, &i, &o->output, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--count")) {
            if (want_long(argc, argv, &i, &o->count, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "--seed")) {
            if (want_long(argc, argv, &i, &o->seed, err, errlen) < 0)
                return -1;
        } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
            if (want_long(argc, argv, &i, &o->jobs, err, errlen) < 0)
                return -1;
            if (o->jobs < 1 || o->jobs > 256)
                return snprintf(err, errlen, "-j must be between 1 and 256"), -1;
        } else if (a[0] == '-' && a[1]) {
            snprintf(err, errlen, "unknown option %s for %s", a, cmd);
            return -1;
        } else {
            if (o->npositional == GATE_CLI_MAX)
                return snprintf(err, errlen, "too many arguments"), -1;
            o->positional[o->npositional++] = twin_xstrdup(a);
        }
    }
    return 0;
}

int gate_cli_start(gate_cli_opts *o, int argc, char **argv, const char *cmd, void (*usage)(FILE *))
{
    char err[1024];
    if (gate_cli_parse(o, argc, argv, cmd, err, sizeof err) < 0) {
        fprintf(stderr, "gate %s: %s\n", cmd, err);
        usage(stderr);
        return -1;
    }
    if (o->help) {
        usage(stdout);
        return 1;
    }
    if (o->config && gate_cli_load_config(o, o->config, err, sizeof err) < 0) {
        fprintf(stderr, "gate %s: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

void gate_cli_free(gate_cli_opts *o)
{
    for (size_t i = 0; i < o->npositional; i++)
        free(o->positional[i]);
    o->npositional = 0;
    json_decref(o->config_doc);
    o->config_doc = NULL;
}

/* A relative path read from the config file `file`, made relative to the
 * file's directory (kept as it is for a bare file name: the directory is the
 * working one); a new JSON string. */
static json_t *config_path(const char *file, const char *v)
{
    const char *slash = strrchr(file, '/');
    if (v[0] == '/' || !slash || !strncmp(v, "git:", 4))
        return json_string(v);
    char *p = twin_xasprintf("%.*s/%s", (int)(slash - file), file, v);
    json_t *j = json_string(p);
    free(p);
    return j;
}

/* The string at `key` of the config file, or (is_path) the path it names
 * resolved against the file's directory, stored back in `doc` so that what
 * the options borrow lives as long as the document; NULL if not a string. */
static const char *config_string(const char *file, json_t *doc, void *it, int is_path)
{
    json_t *num = json_object_iter_value(it);
    if (json_is_number(num)) {   /* review-wait: 30 */
        char text[64];
        snprintf(text, sizeof text, json_is_integer(num) ? "%.0f" : "%g", json_number_value(num));
        json_object_iter_set_new(doc, it, json_string(text));
    }
    const char *v = json_string_value(json_object_iter_value(it));
    if (!v || !v[0])
        return NULL;
    if (!is_path)
        return v;
    json_object_iter_set_new(doc, it, config_path(file, v));
    return json_string_value(json_object_iter_value(it));
}

int gate_cli_load_config(gate_cli_opts *o, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return snprintf(err, errlen, "%s: is a directory, not a config file", path), -1;
    json_t *docs = twin_load_docs(path, err, errlen);   /* file:line:col on malformed YAML or JSON */
    if (!docs)
        return -1;
    json_t *doc = json_array_get(docs, 0);
    size_t ndocs = json_array_size(docs);
    if (ndocs != 1 || !json_is_object(doc)) {
        snprintf(err, errlen, "%s: %s; want one mapping of serve options (flag names without the \"--\")", path,
                 ndocs == 0 ? "no settings" : ndocs > 1 ? "several documents" : "not a mapping");
        json_decref(docs);
        return -1;
    }
    json_decref(o->config_doc);
    o->config_doc = json_incref(doc);   /* the options borrow from it from here on, error or not */
    json_decref(docs);

    /* the string options; is_path: relative to the file's directory */
    const struct {
        const char *key;
        const char **field;
        int is_path;
    } keys[] = {
        {"listen", &o->listen, 0},
        {"aws-listen", &o->aws_listen, 0},
        {"aws-upstream", &o->aws_upstream, 0},
        {"aws-upstream-credentials", &o->aws_upstream_credentials, 1},
        {"aws-upstream-profile", &o->aws_upstream_profile, 0},
        {"aws-upstream-ca", &o->aws_upstream_ca, 1},
        {"tls-cert", &o->tls_cert, 1},
        {"tls-key", &o->tls_key, 1},
        {"policies", &o->policies, 1},
        {"pricing", &o->pricing, 1},
        {"agents", &o->agents, 1},
        {"upstream", &o->upstream, 0},
        {"upstream-token-file", &o->upstream_token_file, 1},
        {"upstream-ca", &o->upstream_ca, 1},
        {"mode", &o->mode, 0},
        {"data-dir", &o->data_dir, 1},
        {"review-wait", &o->review_wait, 0},
        {"fresh-wait", &o->fresh_wait, 0},
        {"policy-timeout", &o->policy_timeout, 0},
        {"upstream-timeout", &o->upstream_timeout, 0},
        {"audit-repo", &o->audit_repo, 1},
        {"webhook", &o->webhook, 0},
        {"approval-ttl", &o->approval_ttl, 0},
        {"approved-ttl", &o->approved_ttl, 0},
    };
    int cli_state = o->nstate > 0;   /* the command line's --state replaces the file's list */
    for (void *it = json_object_iter(doc); it; it = json_object_iter_next(doc, it)) {
        const char *key = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && strcmp(keys[k].key, key))
            k++;
        if (k < sizeof keys / sizeof keys[0]) {
            if (json_is_null(v))
                continue;   /* `key:` with nothing: not set */
            const char *s = config_string(path, doc, it, keys[k].is_path);
            if (!s)
                return snprintf(err, errlen, "%s: \"%s\" must be a non-empty string", path, key), -1;
            if (!*keys[k].field)
                *keys[k].field = s;
        } else if (!strcmp(key, "upstream-insecure")) {
            if (json_is_null(v))
                continue;
            if (!json_is_boolean(v))
                return snprintf(err, errlen, "%s: \"upstream-insecure\" must be true or false", path), -1;
            o->upstream_insecure |= json_is_true(v);
        } else if (!strcmp(key, "state")) {
            if (json_is_null(v))
                continue;
            if (json_is_string(v)) {   /* one path: a list of one, so both forms resolve alike */
                json_object_iter_set_new(doc, it, json_pack("[O]", v));
                v = json_object_iter_value(it);
            }
            if (!json_is_array(v))
                return snprintf(err, errlen, "%s: \"state\" must be a path or a list of paths", path), -1;
            if (json_array_size(v) > GATE_CLI_MAX)
                return snprintf(err, errlen, "%s: \"state\" lists more than %d paths", path, GATE_CLI_MAX), -1;
            for (size_t i = 0; i < json_array_size(v); i++) {
                const char *p = json_string_value(json_array_get(v, i));
                if (!p || !p[0])
                    return snprintf(err, errlen, "%s: \"state\" item %zu must be a non-empty path", path, i + 1), -1;
                json_array_set_new(v, i, config_path(path, p));
                if (!cli_state)
                    o->state[o->nstate++] = json_string_value(json_array_get(v, i));
            }
        } else {
            return snprintf(err, errlen, "%s: unknown key \"%s\"", path, key), -1;
        }
    }
    return 0;
}

char *gate_cli_find(const char *rel)
{
    struct stat st;
    if (stat(rel, &st) == 0)
        return twin_xstrdup(rel);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    /* bin/gate -> the project root is two levels up; build/<mode>/gate is three */
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            break;
        *slash = '\0';
        char *cand = twin_xasprintf("%s/%s", exe, rel);
        if (stat(cand, &st) == 0)
            return cand;
        free(cand);
    }
    return NULL;
}

int gate_cli_open_twin(const gate_cli_opts *o, twin **out, char *err, size_t errlen)
{
    twin *t;
    if (twin_open(&t, NULL, err, errlen) < 0)
        return -1;
    char *pricing = o->pricing ? twin_xstrdup(o->pricing) : gate_cli_find("fixtures/pricing.json");
    if (pricing && twin_load_pricing(t, pricing, err, errlen) < 0) {
        free(pricing);
        twin_close(t);
        return -1;
    }
    if (!pricing && o->pricing) {
        snprintf(err, errlen, "%s: not found", o->pricing);
        twin_close(t);
        return -1;
    }
    free(pricing);
    for (size_t i = 0; i < o->nstate; i++) {
        if (twin_import_path(t, o->state[i], err, errlen) < 0) {
            twin_close(t);
            return -1;
        }
    }
    *out = t;
    return 0;
}

/* --policy-timeout: seconds, more than 0 and at most 60; unset is 0 (the
 * default). -1 with err otherwise. */
int gate_cli_seconds(const char *flag, const char *value, double max, double *out, char *err, size_t errlen)
{
    *out = 0;
    if (!value)
        return 0;
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end || !(v > 0 && v <= max)) {
        snprintf(err, errlen, "--%s is more than 0 and at most %g seconds (got %s)", flag, max, value);
        return -1;
    }
    *out = v;
    return 0;
}

int gate_cli_policy_timeout(const gate_cli_opts *o, double *out, char *err, size_t errlen)
{
    return gate_cli_seconds("policy-timeout", o->policy_timeout, 60, out, err, errlen);
}

static int load_policies(const gate_cli_opts *o, gate_policy_set **out, char *err, size_t errlen);

int gate_cli_load_policies(const gate_cli_opts *o, gate_policy_set **out, char *err, size_t errlen)
{
    double limit;
    if (gate_cli_policy_timeout(o, &limit, err, errlen) < 0 || load_policies(o, out, err, errlen) < 0)
        return -1;
    gate_policy_set_time_limit(*out, limit);
    return 0;
}

static int load_policies(const gate_cli_opts *o, gate_policy_set **out, char *err, size_t errlen)
{
    /* a commit's tree: gate_policy_load_spec names repo, ref and path in its errors */
    if (o->policies && strncmp(o->policies, "git:", 4) == 0)
        return gate_policy_load_spec(out, o->policies, err, errlen);
    char *dir = o->policies ? twin_xstrdup(o->policies) : gate_cli_find("lua-policies");
    if (!dir) {
        snprintf(err, errlen, "no policy directory: give --policies DIR (the default lua-policies/ was not found)");
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a policy directory", dir);
        free(dir);
        return -1;
    }
    int rc = gate_policy_load(out, dir, err, errlen);
    free(dir);
    return rc;
}


/* Manifests become server-side apply calls, one per object. */
int gate_cli_manifest_actions(twin *t, const char *path, json_t *actions, char *err, size_t errlen)
{
    json_t *docs = twin_load_docs(path, err, errlen);
    if (!docs)
        return -1;
    int rc = gate_cli_docs_actions(t, docs, path, actions, err, errlen);
    json_decref(docs);
    return rc;
}

char *gate_cli_object_path(const twin_kind *k, const char *ns, const char *name)
{
    char *prefix = k->group[0] ? twin_xasprintf("/apis/%s/%s", k->group, k->version)
                               : twin_xasprintf("/api/%s", k->version);
    char *path = k->namespaced ? twin_xasprintf("%s/namespaces/%s/%s/%s", prefix, ns ? ns : "default", k->resource,
                                                name)
                               : twin_xasprintf("%s/%s/%s", prefix, k->resource, name);
    free(prefix);
    return path;
}

json_t *gate_cli_request_of(const json_t *m)
{
    json_t *a = json_pack("{s:O, s:O}", "method", json_object_get(m, "method"), "path", json_object_get(m, "path"));
    if (json_object_get(m, "headers"))
        json_object_set(a, "headers", json_object_get(m, "headers"));
    if (json_object_get(m, "body"))
        json_object_set(a, "body", json_object_get(m, "body"));
    return a;
}

int gate_cli_docs_actions(twin *t, const json_t *docs, const char *path, json_t *actions, char *err, size_t errlen)
{
    size_t i;
    json_t *d;
    json_t *flat = json_array();
    json_array_foreach(docs, i, d) {
        const char *kind = json_string_value(json_object_get(d, "kind"));
        json_t *items = json_object_get(d, "items");
        if (kind && strlen(kind) > 4 && !strcmp(kind + strlen(kind) - 4, "List") && json_is_array(items))
            json_array_extend(flat, items);
        else if (!json_is_null(d))
            json_array_append(flat, d);
    }
    int rc = 0;
    json_array_foreach(flat, i, d) {
        const char *kind = json_string_value(json_object_get(d, "kind"));
        const char *av = json_string_value(json_object_get(d, "apiVersion"));
        json_t *meta = json_object_get(d, "metadata");
        const char *name = json_string_value(json_object_get(meta, "name"));
        const char *ns = json_string_value(json_object_get(meta, "namespace"));
        if (!json_is_object(d) || !kind || !av || !name || !json_is_object(meta)) {
            snprintf(err, errlen, "%s: document %zu needs apiVersion, kind and metadata.name", path, i + 1);
            rc = -1;
            break;
        }
        const twin_kind *k = twin_kind_by_name(t, kind);
        if (!k)
            k = twin_learn_kind(t, av, kind, ns != NULL);
        char *item = gate_cli_object_path(k, ns, name);
        char *full = twin_xasprintf("%s?fieldManager=kubectl&force=true", item);
        free(item);
        json_array_append_new(actions, json_pack("{s:s, s:s, s:{s:s}, s:O, s:s}", "method", "PATCH", "path", full,
                                                 "headers", "Content-Type", "application/apply-patch+yaml", "body", d,
                                                 "source", path));
        free(full);
    }
    json_decref(flat);
    return rc;
}

