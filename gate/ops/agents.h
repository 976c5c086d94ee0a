/*
 * gate/ops/agents.h - who may talk to the gate: agents and approvers, read from
 * the agents file (JSON or YAML), and the agents' rate limits.
 *
 * The file is a list of entries:
 *
 *   - name: ops-bot                 # required, unique
 *     token_sha256: 9f86d0...       # required: hex SHA-256 of the bearer token
 *     role: agent                   # agent (default) | approver
 *     expires: 2026-12-31T00:00:00Z # optional: the token is refused after it
 *     # agents only:
 *     policies: [cost, blast-radius]     # the policies that judge it (default: all)
 *     config: {cost: {review_delta_above: 1}}   # overrides of config.lua
 *     rate_limit: {per_second: 5, per_minute: 60}   # mutations; 429 beyond
 *     watches: 100                  # open at once; 429 beyond
 *     read_secrets: false           # may get/list/watch Secrets
 *     aws:                          # the key pair it signs AWS calls with (SigV4)
 *       access_key_id: AKIA...      #   16 to 128 upper-case letters and digits
 *       secret_access_key_file: ops-bot.aws   # the secret alone; relative to this file
 *     # both:
 *     connections: 200              # open at once; 429 and closed beyond
 *
 * Every agent is rate limited: a key rate_limit leaves out has its default
 * (GATE_AGENTS_PER_SECOND, GATE_AGENTS_PER_MINUTE), and 0 turns that limit
 * off, so {per_second: 0, per_minute: 0} is unlimited.  Approvers make no
 * mutations and have no limit.  So are the open watches and connections
 * of each identity bounded (GATE_AGENTS_WATCHES, GATE_AGENTS_CONNECTIONS;
 * 0 = no limit): one agent cannot take every socket and every byte of
 * memory from the others.
 *
 * An approver token is never an agent (it cannot call the Kubernetes API)
 * and an agent token can never approve.  Every key is checked: a misspelt
 * key, a wrong type, a duplicate name or token, or an approver with agent
 * settings is an error naming the file and the entry.
 */
#ifndef GATE_AGENTS_H
#define GATE_AGENTS_H

#include <jansson.h>
#include <stddef.h>

#include "gate/engine/policy.h"

/* The default limits on an agent's mutations: well above what a person at
 * kubectl or an agent acting on what it reads sends, while a runaway loop
 * meets them within a second and then cannot crowd the other agents out
 * (mutations pass the gate one at a time).  A refusal is a 429 with
 * Retry-After. */
#define GATE_AGENTS_PER_SECOND 20
#define GATE_AGENTS_PER_MINUTE 600
/* Open at once: watches (each a stream, and in enforce mode a connection
 * to production), and connections (a client opens one per watch and a few
 * for its calls: kubectl's informers use HTTP/1.1 here). */
#define GATE_AGENTS_WATCHES 100
#define GATE_AGENTS_CONNECTIONS 200

typedef enum gate_role { GATE_ROLE_AGENT = 0, GATE_ROLE_APPROVER } gate_role;

typedef struct gate_identity {
    char *name;
    char token_sha256[65];
    gate_role role;
    double expires;           /* 0 = never */
    json_t *policies;         /* array of names, or NULL = all */
    json_t *config;           /* config.lua overrides, or NULL */
    long per_second, per_minute;   /* 0 = unlimited */
    long watches, connections;     /* open at once; 0 = unlimited */
    int read_secrets;
    char *aws_key_id, *aws_secret;   /* the agent's AWS key pair, or NULL */
    /* rate limiting: the times of this agent's recent mutations (a ring) */
    double *recent;
    size_t nrecent, head;
} gate_identity;

typedef struct gate_agents {
    gate_identity *v;
    size_t n;
} gate_agents;

/* Reads the agents file.  Returns 0, or -1 with err naming file and entry. */
int gate_agents_load(gate_agents *out, const char *path, char *err, size_t errlen);
/* One identity made in code (the server's default ops-bot and approver):
 * token_sha256 hex.  An agent gets the default rate limits. */
void gate_agents_add(gate_agents *a, const char *name, const char *token_sha256, gate_role role);
void gate_agents_free(gate_agents *a);
/* The identity a bearer token (the token itself) belongs to, or NULL. */
gate_identity *gate_agents_find(gate_agents *a, const char *token);
/* The agent whose AWS access key id this is, or NULL. */
gate_identity *gate_agents_find_aws(gate_agents *a, const char *key_id);
/* Gives an identity an AWS key pair (the server's default ops-bot). */
void gate_agents_set_aws(gate_identity *id, const char *key_id, const char *secret);
/* Every policy name in the agents' profiles must be one of `set`'s: -1
 * with err naming the agent and the policy otherwise. */
int gate_agents_check_policies(const gate_agents *a, const gate_policy_set *set, char *err, size_t errlen);
/* Counts one mutation at `now` against the identity's limits.  Returns 0
 * when it is within them, or the whole seconds (>= 1) to wait before the
 * next one would be; the refused attempt is not counted.  *which gets
 * "per second" or "per minute".  Not thread-safe: call under the caller's
 * lock. */
long gate_agents_rate(gate_identity *id, double now, const char **which);
/* The hex SHA-256 of s (new string). */
char *gate_sha256_hex(const void *s, size_t n);

#endif
