/*
 * gate/server/serve_int.h - what the server's files share: the server itself
 * (serve.c: start-up, the main loop, the dispatch of a request), the
 * pipeline of a Kubernetes API call (pipeline.c), the operators' API under
 * /airlock/v1 and the approvals flow (api.c).  None of them knows the
 * transport: requests and answers are gate_req and gate_resp (http.h).
 * Not a public header.
 */
#ifndef GATE_SERVE_INT_H
#define GATE_SERVE_INT_H

#include <jansson.h>
#include <pthread.h>

#include "gate/ops/agents.h"
#include "gate/ops/approvals.h"
#include "gate/ops/audit.h"
#include "gate/ops/drift.h"
#include "gate/engine/engine.h"
#include "gate/upstream/aws_upstream.h"
#include "gate/upstream/forward.h"
#include "gate/http/http.h"
#include "gate/upstream/informer.h"
#include "gate/kube/k8s.h"
#include "gate/kube/watch.h"
#include "gate/ops/webhook.h"
#include "gate/base/clock.h"
#include "gate/base/tally.h"
#include "twin/util.h"

/* What a Kubernetes call keeps across a hold (gate_req.state). */
typedef struct request {
    /* a request held for a person (--review-wait): its connection is
     * suspended, holding no server thread, until the main loop resumes it
     * (decided, expired, the wait over, or the server stopping) */
    int held;                    /* 1 suspended, 2 resumed */
    char *approval_id, *message; /* the review's */
    double until;                /* the wait ends then */
    json_t *outcome;             /* the approval when resumed (owned) */
    int resumed;                 /* its answer is on the way: sv->resuming counts it until it is sent */
    gate_conn *conn;
    struct request *next_held;   /* the server's list of held requests (under `lock`) */
    /* a pass-through watch waiting for production's status line (its
     * connection suspended): the pass, and the agent whose watch slot it holds */
    gate_watch_pass *watch;
    char *watch_agent;
    /* an AWS call held for a person: what its front parsed, kept for its
     * resumption (owned) */
    gate_aws_action *aws;
    gate_identity *aws_who;
    char aws_request_id[40];
} request;

typedef struct server {
    const char *data_dir;
    const char *listen;
    gate_engine engine;
    pthread_rwlock_t lock;     /* the engine (twin, policies, history), approvals, agents' rate counters:
                                  written by mutations, syncs and the operators' API; read by calls that
                                  only read (judged several at once, writers first: gate_locks_init) */
    pthread_mutex_t reads;     /* a read's twin and history lookups, one at a time (engine.reads) */
    pthread_mutex_t write;     /* mutations, one at a time through production's answer */
    gate_watch_hub *watch;     /* twin mode: committed changes for watchers */
    gate_tally watches;        /* watches open per agent, each bounded by its profile's `watches` */
    gate_agents agents;
    gate_upstream *up;         /* production (enforce mode), NULL in twin mode */
    gate_aws_upstream *aws_up; /* production's AWS account (--aws-upstream), NULL in twin mode */
    pthread_mutex_t aws_lock;  /* aws_scaled */
    json_t *aws_scaled;        /* Auto Scaling groups a forwarded call changed: name -> when (aws_mirror.c) */
    pthread_t aws_refresher;   /* the account described again every AWS_REFRESH_SECONDS */
    int has_aws_refresher;
    gate_informer *informer;   /* with up: production's watches keep the twin current */
    json_t *served;            /* with up: {kind: resourceVersion of its first list}, the kinds production serves */
    double fresh_wait;         /* --fresh-wait: how long a mutation waits for the twin to catch up */
    gate_drift *drift;         /* with up: what production changed behind the gate's back */
    int shadow;                /* --mode shadow: forward everything, record the verdict */
    FILE *shadow_log;          /* <data-dir>/shadow.jsonl */
    gate_approvals *approvals; /* <data-dir>/gate.db: approvals and the freeze */
    gate_audit *audit;         /* --audit-repo: every decision, before it is answered */
    char *audit_dir;           /* its directory (open decisions are read from it) */
    json_t *unsettled;         /* ids of forwarded decisions whose outcome could not be recorded
                                  (under record.c's mutex): reconciled by the main loop */
    const char *policy_spec;   /* what --policies named: reloaded by SIGHUP and /airlock/v1/reload */
    double policy_timeout;     /* --policy-timeout (0: the default), kept across reloads */
    gate_webhook *hook;        /* --webhook URL: approval events are queued and POSTed there */
    double review_wait;        /* --review-wait: seconds a reviewed request is held for a person */
    request *held;             /* requests held for a person now, suspended (under `lock`) */
    int waiting;               /* how many */
    int resuming;              /* resumed, their answer not sent yet (shutdown waits for them) */
    int max_waiting;
    json_t *recent;            /* the last decisions, newest last, for /airlock/v1/decisions */
    volatile int stopping;
} server;




/* The server's locks (pipeline.c): the engine lock prefers writers, so a
 * steady stream of reads cannot starve a mutation or production's events;
 * and the watch tally, which has a lock of its own. */
void gate_locks_init(server *sv);
void gate_locks_destroy(server *sv);
/* The engine as it judges for one agent (its policies, config overrides
 * and read_secrets): a copy, so that calls judged at once never share one. */
gate_engine gate_agent_engine(server *sv, const gate_identity *who);
/* An engine set to the AWS account's own mode (--aws-upstream or not),
 * whatever the cluster's: how AWS calls are judged and settled. */
void gate_aws_mode(const server *sv, gate_engine *e);

/* The pipeline of one Kubernetes API call (pipeline.c): authenticated,
 * admitted, decided, reviewed, recorded, forwarded or answered from the
 * twin, settled, published.  Answers in resp (or holds it). */
void gate_kube_call(server *sv, gate_req *rq, gate_resp *resp, gate_identity *who);
/* The same pipeline for an AWS call (gate/aws/action.h) its front
 * authenticated and parsed (aws_front.c); request_id names the answer.
 * Takes a (allocated): freed once answered, kept in the call's state while
 * it is held for a person. */
void gate_aws_call(server *sv, gate_req *rq, gate_resp *resp, gate_identity *who, gate_aws_action *a,
                   const char *request_id);
/* aws_answer.c: an AWS error in the service's protocol (code NULL: the one
 * for the status, e.g. 403 UnauthorizedOperation for EC2, AccessDenied
 * elsewhere); an operation's output; the answer of a decided call (the
 * output, or the refusal). */
void gate_aws_refuse(gate_resp *resp, const char *service, unsigned status, const char *code, const char *msg,
                     const char *request_id);
void gate_aws_output(gate_resp *resp, const char *service, const char *operation, const json_t *output,
                     const char *request_id);
void gate_aws_answer(gate_resp *resp, const gate_aws_action *a, const gate_decision *d, const char *request_id);
/* aws_front.c: one request on the AWS listener: signature, identity,
 * parse, then gate_aws_call. */
void gate_aws_serve(server *sv, gate_req *rq, gate_resp *resp);

/* The main loop's round over held calls: resumes those whose person
 * decided, whose wait is over, or all when the server stops (pipeline.c). */
void gate_resume_held(server *sv);
/* A call's request is over (answered and sent, or its connection gone):
 * its state goes (the front's done hook). */
void gate_call_done(server *sv, request *st);

/* ---- mirror.c: the twin as production's mirror ---- */

/* The informer's observe hook (informer.h): drift is logged and recorded. */
void gate_mirror_observe(void *ud, const char *type, const json_t *before, const json_t *after);
/* The freshness rule, before a mutation (or an approval's) is judged:
 * waits, without the engine lock, until the twin has seen production's
 * state as of now.  0, or -1 with err (the caller refuses 503). */
int gate_fresh(server *sv, char *err, size_t errlen);

/* ---- aws_mirror.c: the AWS account as production's mirror ---- */

enum { AWS_REFRESH_SECONDS = 60 };
/* Before a mutation: what the call reaches, described by production now
 * (no lock held: network).  0 with *doc (an AWSState document) and *gone
 * ([{kind, id}] described and not found), or -1 with err. */
int gate_aws_reach(server *sv, const gate_aws_action *a, json_t **doc, json_t **gone, char *err, size_t errlen);
/* Under the engine lock: the twin follows what production described
 * (replace: doc is the whole account); what changed behind the gate's
 * back is drift. */
int gate_aws_follow(server *sv, const json_t *doc, const json_t *gone, int replace, char *err, size_t errlen);
/* A forwarded mutation production took: its changes are not drift. */
void gate_aws_expect(server *sv, const gate_decision *d);
/* The background refresh of the whole account; stopped once sv->stopping. */
int gate_aws_refresh_start(server *sv);
void gate_aws_refresh_stop(server *sv);

/* ---- api.c: the operators' API ---- */
/* GET and POST under /airlock/ (approver tokens only) */
int gate_api(server *sv, const gate_req *rq, gate_resp *resp, const gate_identity *who);

/* ---- record.c: what the server records ---- */

/* The last decisions' summaries, newest first, at most limit (1..200; out
 * of range: 200); new array. */
json_t *gate_recent_decisions(server *sv, long limit);
/* Records one decision in the audit log; extra (borrowed, may be NULL) is
 * merged over the record.  *id_out (may be NULL) gets the record's id.
 * Without ticket it is durable on return; with it, only journaled: the
 * caller waits (gate_audit_wait) before it answers or forwards, without
 * holding a lock others need (group commit).  Returns 0 or -1 (err). */
int gate_audit_decision(server *sv, const gate_identity *who, const char *method, const char *pq,
                        const char *content_type, const gate_decision *d, const json_t *extra, char **id_out,
                        unsigned long long *ticket, char *err, size_t errlen);
/* Appends a record not waited for (drift): the next sync makes it durable
 * (a crash before it loses this record only). A forwarded decision's
 * outcome is not such a record: it is durable before the agent is
 * answered (gate_audit_event). */
int gate_audit_note(server *sv, json_t *record, char *err, size_t errlen);
/* Appends a record of another type (approval, freeze, thaw, reload, start)
 * and keeps its summary for the decisions list. */
int gate_audit_event(server *sv, json_t *record, const json_t *attachments, char *err, size_t errlen);
/* Closes open decisions (gate_audit_open_decisions): for each, whether
 * production took its change is read from the twin, production's mirror
 * (call with the informer ready and no mutation in flight for them), and
 * an "outcome" record with "reconciled": true says so (committed true,
 * false, or null when production's state tells neither). all: every open
 * decision of the log (at start); else only those this process could not
 * record an outcome for (sv->unsettled). Returns how many were closed, or
 * -1 with err (the log could not be read or written). */
int gate_reconcile_open(server *sv, int all, char *err, size_t errlen);
/* A forwarded decision whose outcome could not be recorded: kept for
 * gate_reconcile_open. */
void gate_unsettled_add(server *sv, const char *id);
/* Reloads the policies from policy_spec: the new set replaces the old only
 * when it loads whole and every agent's policy names exist in it. */
int gate_reload_policies(server *sv, const char *by, char *err, size_t errlen);
/* Queues an approval event for the webhook, if one is set (never blocks:
 * a worker posts it). */
void gate_notify_approval(server *sv, const char *event, const json_t *approval);

#endif
