/*
 * gate/cli.h - what the command-line commands share: option parsing, opening
 * the twin from --state, loading --policies, and reading manifest files.
 */
#ifndef GATE_CLI_H
#define GATE_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "gate/policy.h"
#include "twin/twin.h"

enum { GATE_CLI_MAX = 64 };

typedef struct gate_cli_opts {
    const char *state[GATE_CLI_MAX];
    size_t nstate;
    const char *manifests[GATE_CLI_MAX];
    size_t nmanifests;
    const char *actions;
    const char *policies;   /* NULL = the default lua-policies/ */
    const char *pricing;    /* NULL = the default fixtures/pricing.json */
    const char *agent;
    const char *format;
    const char *output;
    const char *listen, *agents, *tls_cert, *tls_key, *data_dir;   /* serve */
    const char *upstream, *upstream_token_file, *upstream_ca, *mode;
    int upstream_insecure;
    long count, seed, jobs;
    int help;
    char *positional[GATE_CLI_MAX];
    size_t npositional;
} gate_cli_opts;

/* Parses argv (argv[0] is the command name). Returns -1 with err on a usage error. */
int gate_cli_parse(gate_cli_opts *o, int argc, char **argv, const char *cmd, char *err, size_t errlen);
void gate_cli_free(gate_cli_opts *o);
/* The start every command shares: parse, print the usage on a usage error
 * (-1) or for --help (1); 0 to go on. */
int gate_cli_start(gate_cli_opts *o, int argc, char **argv, const char *cmd, void (*usage)(FILE *));
/* Opens an in-memory twin, loads pricing and every --state. */
int gate_cli_open_twin(const gate_cli_opts *o, twin **out, char *err, size_t errlen);
/* Loads --policies (or the default directory). */
int gate_cli_load_policies(const gate_cli_opts *o, gate_policy_set **out, char *err, size_t errlen);
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
