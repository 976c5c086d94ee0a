/*
 * gate/engine/engine.h - the decision pipeline for one action, shared by `gate
 * check`, the scenario runner and (later) the server:
 *
 *   parse -> simulate (twin) -> judge (policies) -> commit or roll back
 *
 * An engine owns nothing: it borrows a twin, a policy set and a history, so
 * a test can build two side by side.  Fail closed: an action that cannot be
 * parsed or simulated gets the verdict "error" and is never counted as
 * allowed.
 */
#ifndef GATE_ENGINE_H
#define GATE_ENGINE_H

#include <jansson.h>
#include <pthread.h>

#include "gate/aws/action.h"
#include "gate/engine/history.h"
#include "gate/kube/k8s.h"
#include "gate/engine/policy.h"
#include "twin/twin.h"

typedef struct gate_engine {
    twin *twin;
    gate_policy_set *policies;
    gate_history *history;
    json_t *config_overrides;   /* borrowed, may be NULL: the agent's overrides of config.lua */
    json_t *policy_subset;      /* borrowed, may be NULL (all): the names of the policies that judge */
    double now;                 /* 0 = real time; fixed by tests and replays */
    int hold;                   /* leave allowed (and reviewed) mutations open for gate_finish */
    int follow;                 /* shadow mode: every simulated mutation is held, whatever the verdict, and
                                   committed if production took it (the twin follows production) */
    int mirror;                 /* the twin mirrors production (fed by its watches): a simulation is never
                                   committed, only judged; gate_release rolls it back before forwarding and
                                   gate_finish then counts the agent's history if production took it */
    int read_secrets;           /* the agent may read Secrets: ctx.agent.read_secrets */
    int reads_elsewhere;        /* reads are judged only: production answers them */
    int forwards;               /* build decision.wire, the request production would receive (the server
                                   in enforce and shadow mode; the fuzzer's forwarding property) */
    pthread_mutex_t *reads;     /* may be NULL: taken around every read of the twin and the history, for a
                                   caller that judges reads on several threads at once (the server: the
                                   twin's connection and caches serve one reader at a time; the policies
                                   run in parallel, each on its own Lua state) */
} gate_engine;

typedef enum gate_verdict { GATE_ALLOW = 0, GATE_REVIEW, GATE_DENY, GATE_ERROR } gate_verdict;

typedef struct gate_decision {
    gate_verdict verdict;
    int code;           /* HTTP status the agent gets: 200/201 allowed, 403 deny/review, 4xx error */
    char *message;      /* for the agent */
    json_t *action;     /* ctx.action, or {method, path} when unparsed */
    json_t *body;       /* the request's body as JSON (protobuf decoded), NULL when none or unparsed */
    json_t *results;    /* per-policy results */
    json_t *diff;
    json_t *events;     /* the Events the twin's controllers emitted (not judged); NULL when none */
    json_t *impact;
    json_t *object;     /* the twin's answer (object, list, Status) */
    double micros;      /* simulate + judge */
    int held;           /* a mutation left open (engine.hold): call gate_finish */
    int twin_code;      /* what the twin answered (200/201), whatever the verdict */
    char *agent;
    gate_wire wire;     /* with engine.forwards: what production receives for this action (built from
                           the parsed action); method NULL when it is not built, the request could not
                           be parsed, or it is a connect (never forwarded) */
    int secret;         /* the action's resource is Secrets: answers are redacted for agents without read_secrets */
    int paged;          /* a list read a page at a time (limit, continue): object holds the page */
    char *list_next;    /* paged: the next page's continue token, NULL on the last page */
} gate_decision;

/*
 * Decides one action for `agent`.  Mutations that are allowed (and not dry
 * runs) are committed to the twin and recorded in the history; everything
 * else leaves the twin as it was.  Returns 0 (the decision says the rest).
 */
int gate_decide(gate_engine *e, const char *agent, const char *method, const char *path, const json_t *headers,
                const json_t *body, const char *raw, size_t rawlen, gate_decision *d);
/* The same in two steps, for a caller that needs the parsed action before
 * it is judged (the server refreshes the twin from it): gate_decide_parse
 * returns 0 with *a filled (free it with gate_action_free after
 * gate_decide_action), or -1 with *d holding the refusal. */
int gate_decide_parse(gate_engine *e, const char *method, const char *path, const json_t *headers,
                      const json_t *body, const char *raw, size_t rawlen, gate_action *a, gate_decision *d);
int gate_decide_action(gate_engine *e, const char *agent, const gate_action *a, gate_decision *d);
/* An AWS call (gate/aws/action.h), judged as a Kubernetes action is: a
 * read answered from the twin (d->object the output shape), a mutation
 * simulated, judged, committed or held; an error AWS would answer leaves
 * d->object as {"Code", "Message"} with d->code its HTTP status.  ctx.action
 * is {provider = "aws", service, operation, input (secrets redacted), verb =
 * "get" | "call", dry_run, region}. */
int gate_decide_aws(gate_engine *e, const char *agent, const gate_aws_action *a, gate_decision *d);
void gate_decision_free(gate_decision *d);
/* Settles a held decision: commit the twin and record the agent's history
 * when the decision allows (or the engine follows production) and
 * production took the change (ok), roll back otherwise.  Returns 0, or -1 when the twin could not commit (then nothing
 * of the change stays in the twin, and the caller says so).  With engine.hold, a reviewed mutation is held too, so that an
 * approval found for it can let it through (gate_allow_reviewed) without
 * simulating it again. */
int gate_finish(gate_engine *e, gate_decision *d, int ok);
/* With engine.mirror: the held simulation is rolled back now (the twin
 * takes production's own events instead); d stays held for gate_finish. */
void gate_release(gate_engine *e, gate_decision *d);

/* A held review that a person approved: the decision becomes an allow with
 * the twin's own answer; `message` says by which approval. */
void gate_allow_reviewed(gate_decision *d, const char *message);
const char *gate_verdict_name(gate_verdict v);

#endif
