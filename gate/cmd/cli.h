/*
 * gate/cmd/cli.h - what the command-line commands share: option parsing (and
 * serve's --config file, the file form of its flags), opening the twin from
 * --state, loading --policies, and reading manifest files.
 *
 * The options borrow their strings: from argv, or from config_doc, which
 * gate_cli_free releases, so opts must not outlive argv nor be used after
 * gate_cli_free.  Copies of the struct borrow too; only the original is freed.
 */
#ifndef GATE_CLI_H
#define GATE_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "gate/engine/policy.h"
#include "twin/twin.h"

enum { GATE_CLI_MAX = 64 };

typedef struct gate_cli_opts {
    const char *state[GATE_CLI_MAX];
    size_t nstate;
    const char *manifests[GATE_CLI_MAX];
    size_t nmanifests;
    const char *actions;
    const char *policies;   /* a dir or git:REPO[@REF][:DIR]; NULL = lua-policies/ */
    const char *pricing;    /* NULL = the default fixtures/pricing.json */
    const char *agent;
    const char *format;
    const char *output;
    const char *listen, *agents, *tls_cert, *tls_key, *data_dir;   /* serve */
    const char *aws_listen;   /* serve: the AWS APIs' listener */
    const char *aws_upstream, *aws_upstream_credentials, *aws_upstream_profile, *aws_upstream_ca;
    const char *upstream, *upstream_token_file, *upstream_ca, *mode;
    const char *fresh_wait;   /* serve: how long a mutation waits for the watches */
    const char *policy_timeout;   /* seconds one policy run may take (gate_policy_set_time_limit) */
    const char *upstream_timeout; /* serve: seconds one call to production may take */
    const char *review_wait, *audit_repo, *webhook, *approval_ttl, *approved_ttl;   /* serve: approvals, audit */
    int upstream_insecure;
    const char *config;     /* serve: --config FILE (borrowed from argv) */
    json_t *config_doc;     /* the loaded --config mapping; owns the strings taken from it */
    long count, seed, jobs;
    int help;
    int aws;                /* export: the twin's AWS state, not its Kubernetes objects */
    char *positional[GATE_CLI_MAX];
    size_t npositional;
} gate_cli_opts;

/* Parses argv (argv[0] is the command name). Returns -1 with err on a usage
 * error. --config is only an option of serve and is recorded, not read:
 * gate_cli_start reads it (gate_cli_load_config). */
int gate_cli_parse(gate_cli_opts *o, int argc, char **argv, const char *cmd, char *err, size_t errlen);
/* Frees what the options own (positionals, config_doc); the struct itself is
 * the caller's. */
void gate_cli_free(gate_cli_opts *o);
/* The start every command shares: parse, print the usage on a usage error
 * (-1) or for --help (1); then read --config if given (its errors are -1
 * too, printed without the usage: the file is at fault, not the command
 * line); 0 to go on. */
int gate_cli_start(gate_cli_opts *o, int argc, char **argv, const char *cmd, void (*usage)(FILE *));
/* Reads serve's config file at `path`, YAML or JSON: one mapping whose keys
 * are the long flag names without the leading "--" (listen, tls-cert,
 * tls-key, state, policies, pricing, agents, upstream, upstream-token-file,
 * upstream-ca, upstream-insecure, upstream-timeout, mode, fresh-wait, policy-timeout, data-dir, review-wait, audit-repo,
 * webhook, approval-ttl, approved-ttl).  Values are strings,
 * except state (a string or a list of strings) and upstream-insecure (a
 * boolean); null means not set.  Relative paths in the file are taken
 * relative to the file's directory.  Options already set (by the command
 * line) are kept: a command-line --state replaces the file's whole list;
 * upstream-insecure is on if either turns it on (no flag turns it off).
 * Every key is checked, set or not.  The strings are owned by
 * o->config_doc (released by gate_cli_free, also after an error).  Returns
 * -1 with err naming the file and the key, or file:line:col for malformed
 * YAML/JSON. */
int gate_cli_load_config(gate_cli_opts *o, const char *path, char *err, size_t errlen);
/* Opens an in-memory twin, loads pricing and every --state. */
int gate_cli_open_twin(const gate_cli_opts *o, twin **out, char *err, size_t errlen);
/* Loads --policies: a directory or git:REPO[@REF][:DIR] (gate/engine/policy.h),
 * or the default lua-policies/ directory, with --policy-timeout's limit. */
int gate_cli_load_policies(const gate_cli_opts *o, gate_policy_set **out, char *err, size_t errlen);
/* A duration flag's value (NULL: not given, *out 0) into *out: -1 with err
 * naming --flag when it is not a number of seconds above 0 and at most max. */
int gate_cli_seconds(const char *flag, const char *value, double max, double *out, char *err, size_t errlen);
/* --policy-timeout (gate_cli_seconds, at most 60). */
int gate_cli_policy_timeout(const gate_cli_opts *o, double *out, char *err, size_t errlen);
/* Turns the objects of a manifest file or directory into server-side apply
 * calls (PATCH ... application/apply-patch+yaml), appended to actions, as
 * kubectl apply would create or update them. */
int gate_cli_manifest_actions(twin *t, const char *path, json_t *actions, char *err, size_t errlen);
/* The same for documents already read (objects and Lists); `path` names
 * them in errors. */
int gate_cli_docs_actions(twin *t, const json_t *docs, const char *path, json_t *actions, char *err, size_t errlen);
/* The item path of an object: /api/v1/namespaces/NS/RESOURCE/NAME or the
 * group's /apis/G/V/... form (cluster-scoped kinds without namespace). */
char *gate_cli_object_path(const twin_kind *k, const char *ns, const char *name);
/* {method, path, headers?, body?} of a step or an action (new reference). */
json_t *gate_cli_request_of(const json_t *m);
/* Finds a bundled file (fixtures/pricing.json, lua-policies): relative to
 * the working directory first, then to the binary's directory's parent.
 * Returns a new string or NULL. */
char *gate_cli_find(const char *rel);

#endif
