/*
 * pipeline.c - one Kubernetes API call, phase by phase, without its
 * transport (requests and answers are gate_req and gate_resp, http.h):
 *
 *   resume   a call held for a person comes back with the person's answer
 *   admit    the kill switch and the agent's rate limit
 *   decide   parsed once; in enforce mode the twin catches up with
 *            production (the freshness rule); admitted again (a freeze
 *            that landed meanwhile stops it); simulated and judged
 *   review   a review verdict finds its approval, or makes one
 *   record   the decision journaled in the audit log (durable before
 *            anything is answered or forwarded); twin mode commits
 *   hold     a pending review waits for a person, its connection suspended
 *   forward  production receives the request built from the judged action
 *   answer   or the twin answers (an object, a list, a Table, a watch)
 *   publish  the team hears of a new approval
 *
 * One struct carries the call through; each phase returns 1 once the call
 * is answered.  The locks are taken and let go by lock() and unlock() only,
 * and the one cleanup path lets go whatever is still held: `write`
 * serializes mutations end to end (through production's answer), the
 * engine lock guards the twin, the policies and the approvals while they
 * work, and is never held across a round trip, a durability wait or a
 * freshness wait.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate/kube/convert.h"
#include "gate/kube/k8s.h"
#include "gate/base/log.h"
#include "gate/kube/redact.h"
#include "gate/server/serve_int.h"
#include "gate/kube/table.h"
#include "twin/util.h"

/* A list's resourceVersion, where a watch from it starts. */
static void set_list_version(json_t *list, long long rv)
{
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%lld", rv);
    json_t *meta = json_object_get(list, "metadata");
    if (!json_is_object(meta))
        json_object_set_new(list, "metadata", meta = json_object());
    json_object_set_new(meta, "resourceVersion", json_string(rvs));
}

/* ---- the last phase: forwarded to production, or answered from the twin ---- */

/* A paged list's continue token (the engine read the page). */
static void set_continue(json_t *list, const gate_decision *d)
{
    if (!d->paged || !d->list_next)
        return;
    char *tok = twin_xasprintf("airlock:%s", d->list_next);
    json_t *meta = json_object_get(list, "metadata");
    if (!json_is_object(meta))
        json_object_set_new(list, "metadata", meta = json_object());
    json_object_set_new(meta, "continue", json_string(tok));
    free(tok);
}

/* A List of what the engine read (a page, with the next page's token,
 * when the client asked for pages). */
static json_t *wrap_list(const gate_decision *d, const char *kind, const char *api_version, long long rv)
{
    char *lk = twin_xasprintf("%sList", kind);
    json_t *l = json_pack("{s:s, s:s, s:{}, s:O}", "kind", lk, "apiVersion", api_version, "metadata", "items",
                          d->object);
    free(lk);
    set_list_version(l, rv);
    set_continue(l, d);
    return l;
}

/* The Accept header production is asked with: kubectl may ask for
 * protobuf, which the gate never forwards as such; an answer about Secrets
 * that the gate must redact is asked for as JSON (a Table stays a Table). */
static const char *production_accept(const gate_req *rq, int redact)
{
    const char *accept = gate_req_header(rq, "Accept");
    int table = accept && strstr(accept, "as=Table");
    if (redact)
        return table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json";
    for (const char *p = accept; p && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            return "application/json";
    return accept && strstr(accept, "protobuf") ? "application/json" : accept;
}

/* An answer from the twin, its Secret values redacted: on a copy of its
 * own, for the twin hands out its objects shared (its cache, every reader):
 * redacting them in place would change the Secret itself for everyone. */
static void redact_own(json_t **obj)
{
    json_t *c = json_deep_copy(*obj);
    json_decref(*obj);
    *obj = c;
    gate_redact_secret_answer(c);
}

static int wants_table(const gate_req *rq)
{
    const char *accept = gate_req_header(rq, "Accept");
    return accept && strstr(accept, "as=Table") != NULL;
}

/* Production's answer about Secrets, redacted for an agent without
 * read_secrets.  0, or -1 when the answer is not JSON (then it is withheld:
 * it could hold what may not be read). */
static int redact_answer(gate_upstream_answer *ans)
{
    if (!ans->body.len)
        return 0;
    json_t *doc = json_loadb(ans->body.s, ans->body.len, 0, NULL);
    if (!doc)
        return -1;
    gate_redact_secret_answer(doc);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return -1;
    twin_buf_free(&ans->body);
    twin_buf_add(&ans->body, text, strlen(text));
    free(text);
    return 0;
}

/* A mutation about to be forwarded (ans NULL), or that production took:
 * what it changes is told to the drift watch, so that production's events
 * for it are not drift.  Before: the action's target (a create's name from
 * its body) and what the twin saw it change (a collection delete's objects,
 * a cascade).  After: only what production's answer names that could not
 * be known before (a generated name, a collection delete's list), so the
 * answer is parsed only then. */
static void expect_change(server *sv, const gate_decision *d, const gate_upstream_answer *ans)
{
    const json_t *a = d->action;
    const char *kind = json_string_value(json_object_get(a, "kind"));
    const char *ns = json_string_value(json_object_get(a, "namespace"));
    const char *name = json_string_value(json_object_get(a, "name"));
    if (!name)
        name = json_string_value(json_object_get(json_object_get(d->body, "metadata"), "name"));
    size_t i;
    json_t *ch;
    if (!ans) {
        gate_drift_expect(sv->drift, kind, ns, name, gate_now());
        json_array_foreach(d->diff, i, ch)
            gate_drift_expect(sv->drift, json_string_value(json_object_get(ch, "kind")),
                              json_string_value(json_object_get(ch, "namespace")),
                              json_string_value(json_object_get(ch, "name")), gate_now());
        return;
    }
    const char *verb = json_string_value(json_object_get(a, "verb"));
    if (name && !(verb && !strcmp(verb, "deletecollection")))
        return;   /* expected in full before it was sent */
    json_t *obj = ans->body.len ? json_loadb(ans->body.s, ans->body.len, 0, NULL) : NULL;
    const json_t *meta = json_object_get(obj, "metadata");
    const char *okind = json_string_value(json_object_get(obj, "kind"));
    if (okind && kind && !strcmp(okind, kind))   /* a create's generated name */
        gate_drift_expect(sv->drift, kind, ns, json_string_value(json_object_get(meta, "name")), gate_now());
    json_array_foreach(json_object_get(obj, "items"), i, ch)   /* a collection delete: every object it named */
        gate_drift_expect(sv->drift, kind, json_string_value(json_object_get(json_object_get(ch, "metadata"), "namespace")),
                          json_string_value(json_object_get(json_object_get(ch, "metadata"), "name")), gate_now());
    json_decref(obj);
}

/* The request's Content-Type as the record keeps it: protobuf bodies are
 * recorded decoded, as JSON. */
static const char *record_content_type(const gate_req *rq)
{
    const char *ct = gate_req_header(rq, "Content-Type");
    return !ct || strstr(ct, "protobuf") ? "application/json" : ct;
}

/* A JSON string's text, or "" (never NULL, for messages). */
static const char *str_of(const json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "";
}

/* A review: an approval of the same action by the same agent lets it
 * through once (and only if its impact is still what was approved; it is
 * used up by the caller, once production took the change: *use);
 * otherwise the action waits as a pending approval.  Called with the
 * engine lock, the decision held open.  Returns the approval id (new) and
 * sets *pending when the action is (still, or again) waiting, *created when
 * its approval is new.  A dry run (never held) gets or finds its approval
 * like the real call, so an agent may ask first; an approval lets a dry
 * run through without being used up. */
static char *settle_review(server *sv, gate_engine *eng, const gate_identity *who, const char *method,
                           const char *pq, const char *ctype, int dry, gate_decision *d, int *pending, int *created,
                           int *use)
{
    double now = gate_now();
    char *fp = gate_fingerprint(who->name, d->diff);
    char *id = NULL;
    *pending = 1;
    *created = 0;
    *use = 0;
    json_t *ok = gate_approvals_find_approved(sv->approvals, who->name, fp, now);
    json_t *rdiff = gate_redact_diff(d->diff);
    if (ok) {
        char why[256];
        id = twin_xstrdup(json_string_value(json_object_get(ok, "id")));
        if (gate_impact_changed(json_object_get(ok, "impact"), d->impact, why, sizeof why)) {
            gate_approvals_repend(sv->approvals, id, d->impact, rdiff, why, now);
            gate_finish(eng, d, 0);
            char *msg = twin_xasprintf("%s; the impact changed since it was approved (%s): approval id %s is "
                                       "pending again",
                                       d->message, why, id);
            free(d->message);
            d->message = msg;
        } else {
            const char *by = json_string_value(json_object_get(ok, "decided_by"));
            char *msg = twin_xasprintf("allowed by approval id %s (approved by %s)", id, by ? by : "?");
            *use = !dry;
            gate_allow_reviewed(d, msg);
            free(msg);
            *pending = 0;
        }
        json_decref(ok);
    } else {
        gate_finish(eng, d, 0);
        const char *kind = json_string_value(json_object_get(d->action, "kind"));
        json_t *body = gate_redact(d->body, kind);
        json_t *doc = json_pack("{s:O, s:{s:s, s:s, s:s, s:o}, s:s, s:O, s:O, s:O}", "action", d->action,
                                "request", "method", method, "path", pq, "content_type", ctype, "body",
                                body ? body : json_null(), "message", d->message, "results", d->results, "impact",
                                d->impact ? d->impact : json_null(), "diff", rdiff);
        int fresh = 0;
        id = gate_approvals_add(sv->approvals, who->name, fp, doc, now, &fresh);
        json_decref(doc);
        char *msg;
        if (id) {
            msg = twin_xasprintf("%s; approval id %s", d->message, id);
        } else if (fresh == GATE_APPROVAL_CAPPED) {
            /* one agent cannot crowd the approvers' list: no new approval
             * until some of its own are decided or expire */
            msg = twin_xasprintf("airlock: agent %s has %ld approvals pending (the cap): no new one is made until "
                                 "some are decided or expire (%s)",
                                 who->name, gate_approvals_max_pending(sv->approvals), d->message);
            d->code = 429;
            *pending = 0;
        } else {
            msg = twin_xasprintf("%s; the pending approval could not be stored", d->message);
        }
        free(d->message);
        d->message = msg;
        *created = id && fresh == GATE_APPROVAL_MADE;
    }
    json_decref(rdiff);
    free(fp);
    return id;
}

/* A held request, resumed: the person's answer, as a refusal (approved:
 * NULL, the caller judges it again). */
static char *held_refusal(server *sv, const request *rq)
{
    const json_t *a = rq->outcome;
    const char *state = json_string_value(json_object_get(a, "state"));
    if (state && !strcmp(state, "approved"))
        return NULL;
    if (state && !strcmp(state, "denied")) {
        const char *cm = json_string_value(json_object_get(a, "comment"));
        return twin_xasprintf("airlock: denied by approver %s%s%s; approval id %s",
                              str_of(json_object_get(a, "decided_by")), cm && *cm ? ": " : "", cm && *cm ? cm : "",
                              rq->approval_id);
    }
    if (state && !strcmp(state, "expired"))
        return twin_xasprintf("%s (no approver answered: it expired)", rq->message);
    if (sv->stopping)
        return twin_xasprintf("%s (the gate is stopping; it stays pending)", rq->message);
    return twin_xasprintf("%s (no approver answered within %g s; it stays pending)", rq->message, sv->review_wait);
}

/* ---- the call ---- */

typedef struct call {
    server *sv;
    gate_req *rq;
    gate_resp *resp;
    request *st;             /* kept across a hold */
    gate_identity *who;
    const char *method, *pq, *agent, *ctype;
    const gate_aws_action *aws;  /* an AWS call (parsed by its front), else a Kubernetes one */
    char request_id[40];         /* AWS: the answer's RequestId */
    int mutation, redact;
    int has_write, has_engine;   /* the locks held now (lock, unlock) */
    gate_engine eng;             /* how a held decision settles: the server's engine, with this provider's mode */
    /* decide */
    gate_decision d;
    long long rv_before, rv;
    const char *verb, *kind;
    int is_read, is_watch, dry;
    /* review */
    char *approval_id;
    int pending, created, use_approval, waited, notify;
    /* record */
    char *record_id;
    unsigned long long ticket;   /* the decision's record, until it is durable */
    int forward;
    /* where the time went (gate_mono), for the log line of a forwarded call */
    double t0, t_fresh, t_judged, t_durable;
} call;

/* LOCK_ENGINE is the engine lock for writing; LOCK_SHARED for reading (a
 * call that only reads: judged beside other reads, each on its own Lua
 * state, its twin lookups one at a time under sv->reads).  unlock(k,
 * LOCK_ENGINE) lets go of either. */
enum { LOCK_WRITE = 1, LOCK_ENGINE = 2, LOCK_SHARED = 4 };

void gate_locks_init(server *sv)
{
    pthread_rwlockattr_t at;
    pthread_rwlockattr_init(&at);
    /* glibc prefers readers by default: under a steady stream of reads a
     * mutation (or production's events) would wait for ever */
    pthread_rwlockattr_setkind_np(&at, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&sv->lock, &at);
    pthread_rwlockattr_destroy(&at);
    pthread_mutex_init(&sv->reads, NULL);
    pthread_mutex_init(&sv->write, NULL);
    gate_tally_init(&sv->watches);
}

void gate_locks_destroy(server *sv)
{
    pthread_rwlock_destroy(&sv->lock);
    pthread_mutex_destroy(&sv->reads);
    pthread_mutex_destroy(&sv->write);
    gate_tally_destroy(&sv->watches);
}

void gate_aws_mode(const server *sv, gate_engine *e)
{
    /* enforce mode: production answers reads, and the twin mirrors it: a
     * simulation is rolled back before forwarding; what production took
     * reaches the twin when it is described again (aws_mirror.c) */
    e->reads_elsewhere = e->mirror = sv->aws_up != NULL;
    e->follow = 0;   /* shadow mode is the cluster's */
}

gate_engine gate_agent_engine(server *sv, const gate_identity *who)
{
    gate_engine e = sv->engine;
    e.config_overrides = who->config;
    e.policy_subset = who->policies;
    e.read_secrets = who->read_secrets;
    return e;
}

/* The only places the call's locks are taken and let go: `write` before
 * the engine lock, never the other way.  A call holding the engine lock
 * for reading never asks for it for writing (a read is never held open). */
static void lock(call *k, int which)
{
    if ((which & LOCK_WRITE) && !k->has_write) {
        pthread_mutex_lock(&k->sv->write);
        k->has_write = 1;
    }
    if ((which & (LOCK_ENGINE | LOCK_SHARED)) && !k->has_engine) {
        if (which & LOCK_ENGINE)
            pthread_rwlock_wrlock(&k->sv->lock);
        else
            pthread_rwlock_rdlock(&k->sv->lock);
        k->has_engine = which & LOCK_ENGINE ? LOCK_ENGINE : LOCK_SHARED;
    }
}

static void unlock(call *k, int which)
{
    if ((which & LOCK_ENGINE) && k->has_engine) {
        pthread_rwlock_unlock(&k->sv->lock);
        k->has_engine = 0;
    }
    if ((which & LOCK_WRITE) && k->has_write) {
        pthread_mutex_unlock(&k->sv->write);
        k->has_write = 0;
    }
}

/* A refusal in the protocol's own shape: a Kubernetes Status (reason
 * NULL: the usual one for the code), or an AWS error (gate_aws_refuse
 * picks the code for the status). */
static int refuse_as(call *k, unsigned code, const char *reason, const char *msg)
{
    if (k->aws)
        gate_aws_refuse(k->resp, k->aws->service, code, NULL, msg, k->request_id);
    else
        gate_resp_status(k->resp, code, reason, msg);
    return 1;
}

/* Whether production stands behind this call (enforce or shadow mode):
 * the Kubernetes API's or the AWS account's. */
static int upstream(const call *k)
{
    return k->aws ? k->sv->aws_up != NULL : k->sv->up != NULL;
}

static int refuse(call *k, unsigned code, const char *msg)
{
    return refuse_as(k, code, NULL, msg);
}

/* A call refused because its decision could not be recorded: 507 when the
 * audit log's disk is full or read-only (it passes again by itself once
 * there is room), 503 for any other failure; logged, since the log itself
 * cannot hold it. Returns 1. */
static int refuse_unrecorded(call *k, const char *why)
{
    unsigned code = gate_audit_storage_full(why) ? 507 : 503;
    char *msg = twin_xasprintf("airlock: denied: the decision could not be recorded: %s", why);
    gate_log("%s %s %s -> refused %u: the decision could not be recorded: %s", k->agent, k->method, k->pq, code,
             why);
    refuse_as(k, code, code == 507 ? "InsufficientStorage" : "ServiceUnavailable", msg);
    free(msg);
    return 1;
}

/* Waits until the decision's record is durable (group commit: without the
 * engine lock).  0, or 1 after refusing (refuse_unrecorded): nothing is
 * answered or forwarded whose decision could still be lost. */
static int durable(call *k)
{
    char err[256];
    if (gate_audit_wait(k->sv->audit, k->ticket, err, sizeof err) == 0)
        return 0;
    return refuse_unrecorded(k, err);
}

/* A mutation while the gate is frozen: refused and recorded. */
static int refuse_frozen(call *k, const json_t *freeze)
{
    server *sv = k->sv;
    char since[32];
    gate_audit_format_time(json_number_value(json_object_get(freeze, "since")), since);
    gate_decision d = {
        .verdict = GATE_DENY,
        .code = 403,
        .message = twin_xasprintf("airlock: denied by freeze: %s (frozen by %s since %s); reads still work",
                                  str_of(json_object_get(freeze, "reason")), str_of(json_object_get(freeze, "by")),
                                  since),
        .action = json_pack("{s:s, s:s}", "method", k->method, "path", k->pq),
        .results = json_pack("[{s:s, s:s, s:s}]", "policy", "freeze", "verdict", "deny", "reason",
                             "the gate is frozen: no mutation passes until an approver thaws it"),
    };
    char err[256];
    json_t *extra = json_pack("{s:b}", "frozen", 1);
    unsigned long long ticket = 0;
    lock(k, LOCK_ENGINE);   /* the record names the policy set, which a reload may swap */
    int arc = gate_audit_decision(sv, k->who, k->method, k->pq, k->ctype, &d, extra, NULL, upstream(k) ? &ticket : NULL,
                                  err, sizeof err);
    unlock(k, LOCK_ENGINE | LOCK_WRITE);
    if (arc == 0)
        arc = gate_audit_wait(sv->audit, ticket, err, sizeof err);   /* durable before the answer */
    if (arc < 0) {
        refuse_unrecorded(k, err);
    } else {
        gate_log("%s %s %s -> deny (frozen)", k->agent, k->method, k->pq);
        refuse(k, 403, d.message);
    }
    json_decref(extra);
    gate_decision_free(&d);
    return 1;
}

/* The kill switch (and, once per call, the agent's rate limit): before
 * any work, again after a person approved, and again just before the
 * decision (a freeze that landed while the call waited for `write`, for
 * production's state or for a person stops it).  1 when refused. */
static int admitted_not(call *k, int count)
{
    server *sv = k->sv;
    int had = k->has_engine;
    lock(k, LOCK_ENGINE);
    json_t *freeze = gate_freeze_get(sv->approvals);
    int frozen = json_is_true(json_object_get(freeze, "frozen"));
    const char *which = "";
    long wait = frozen || !count ? 0 : gate_agents_rate(k->who, gate_now(), &which);
    if (!had)
        unlock(k, LOCK_ENGINE);
    if (frozen) {
        refuse_frozen(k, freeze);
        json_decref(freeze);
        return 1;
    }
    json_decref(freeze);
    if (!wait)
        return 0;
    long limit = !strcmp(which, "per second") ? k->who->per_second : k->who->per_minute;
    char *msg = twin_xasprintf("airlock: rate limit: agent %s may make %ld mutations %s; retry after %ld s",
                               k->agent, limit, which, wait);
    if (k->aws) {
        gate_aws_refuse(k->resp, k->aws->service, 429, NULL, msg, k->request_id);
    } else {
        json_t *st = twin_status(429, "TooManyRequests", msg);
        json_object_set_new(st, "details", json_pack("{s:I}", "retryAfterSeconds", (json_int_t)wait));
        gate_resp_json(k->resp, 429, st);
        json_decref(st);
    }
    char after[24];
    snprintf(after, sizeof after, "%ld", wait);
    gate_resp_header(k->resp, "Retry-After", after);
    gate_log("%s %s %s -> 429 (%s)", k->agent, k->method, k->pq, msg);
    free(msg);
    return 1;
}

/* ---- the phases ---- */

/* A call held for a person comes back: refused unless approved; an
 * approved one is judged again on the current twin. */
static int phase_resume(call *k)
{
    request *st = k->st;
    if (!st || st->held != 2)
        return 0;
    st->resumed = 1;   /* counted out of sv->resuming once its answer is sent (gate_call_done) */
    char *msg = held_refusal(k->sv, st);
    gate_log("%s %s %s -> %s after waiting", k->agent, k->method, k->pq, str_of(json_object_get(st->outcome, "state")));
    st->held = 0;
    if (msg) {
        refuse(k, 403, msg);
        free(msg);
        return 1;
    }
    k->waited = 1;   /* the approval lets it through once */
    return 0;
}

static int phase_admit(call *k)
{
    return k->mutation && !k->waited && admitted_not(k, 1);
}

static int decide_aws(call *k, gate_engine *e);

/* Parsed once; the twin made current (enforce mode); admitted again;
 * simulated and judged under the agent's profile.  Leaves `write` (a
 * mutation) and the engine lock held. */
static int phase_decide(call *k)
{
    server *sv = k->sv;
    /* parsed beside the reads (the twin is only asked for its kinds) */
    lock(k, k->mutation ? LOCK_WRITE | LOCK_SHARED : LOCK_SHARED);
    gate_engine e = gate_agent_engine(sv, k->who);   /* the agent's profile */
    if (k->aws)
        return decide_aws(k, &e);
    gate_action act;
    json_t *headers = k->rq->headers;
    int parsed = gate_decide_parse(&e, k->method, k->pq, headers, NULL, k->rq->body, k->rq->len, &act,
                                   &k->d) == 0;
    if (k->mutation) {
        unlock(k, LOCK_ENGINE);
        if (parsed && sv->informer) {
            /* judged on production's state as of now: the watches must
             * have brought it (no engine lock meanwhile: they need it) */
            char ferr[1024];
            double f0 = gate_mono();
            int stale = gate_fresh(sv, ferr, sizeof ferr);
            k->t_fresh = gate_mono() - f0;
            if (stale) {
                gate_action_free(&act);
                gate_log("%s %s %s -> refused: %s", k->agent, k->method, k->pq, ferr);
                char *msg = twin_xasprintf("airlock: refused: %s; try again", ferr);
                gate_resp_status(k->resp, 503, "ServiceUnavailable", msg);
                free(msg);
                return 1;
            }
        }
        lock(k, LOCK_ENGINE);   /* simulated alone */
        e = gate_agent_engine(sv, k->who);   /* a reload may have swapped the policies meanwhile */
    }
    if (k->mutation && admitted_not(k, 0)) {
        if (parsed)
            gate_action_free(&act);
        return 1;
    }
    k->rv_before = twin_resource_version(sv->engine.twin);
    if (parsed) {
        gate_decide_action(&e, k->agent, &act, &k->d);
        gate_action_free(&act);
        gate_release(&e, &k->d);   /* a mirror of production: its events bring the change, if it takes it */
    }
    k->t_judged = gate_mono();
    k->verb = json_string_value(json_object_get(k->d.action, "verb"));
    k->kind = json_string_value(json_object_get(k->d.action, "kind"));
    k->is_read = gate_verb_is_read(k->verb);
    k->is_watch = k->verb && !strcmp(k->verb, "watch");
    k->dry = json_is_true(json_object_get(k->d.action, "dry_run"));
    return 0;
}

/* An AWS call, parsed by its front: simulated alone (a mutation) or beside
 * the other reads, and judged.  (Twin mode only in this version: the gate
 * refuses --aws-listen with --upstream at start.) */
static int decide_aws(call *k, gate_engine *e)
{
    server *sv = k->sv;
    if (k->mutation) {
        unlock(k, LOCK_ENGINE);
        json_t *doc = NULL, *gone = NULL;
        char ferr[1024];
        if (sv->aws_up && !k->dry) {
            /* judged on production's state as of now: what the call reaches
             * is described again (no engine lock meanwhile) */
            double f0 = gate_mono();
            int rc = gate_aws_reach(sv, k->aws, &doc, &gone, ferr, sizeof ferr);
            k->t_fresh = gate_mono() - f0;
            if (rc < 0) {
                gate_log("%s %s %s -> refused: production could not be described: %s", k->agent, k->method, k->pq,
                         ferr);
                char *msg = twin_xasprintf("airlock: refused: production's state could not be read (%s); try again",
                                           ferr);
                refuse_as(k, 503, "ServiceUnavailable", msg);
                free(msg);
                return 1;
            }
        }
        lock(k, LOCK_ENGINE);   /* simulated alone */
        int frc = doc ? gate_aws_follow(sv, doc, gone, 0, ferr, sizeof ferr) : 0;
        json_decref(doc);
        json_decref(gone);
        if (frc < 0) {
            char *msg = twin_xasprintf("airlock: refused: production's state could not be followed (%s)", ferr);
            refuse_as(k, 503, "ServiceUnavailable", msg);
            free(msg);
            return 1;
        }
        *e = gate_agent_engine(sv, k->who);
        if (admitted_not(k, 0))
            return 1;
    }
    k->rv_before = twin_resource_version(sv->engine.twin);
    gate_aws_mode(sv, e);
    gate_decide_aws(e, k->agent, k->aws, &k->d);
    gate_release(e, &k->d);
    k->t_judged = gate_mono();
    k->verb = json_string_value(json_object_get(k->d.action, "verb"));
    k->is_read = k->aws->read;
    k->dry = k->aws->dry_run;
    return 0;
}

/* A review verdict: an approval lets it through once, or it waits as a
 * pending approval.  Then whether production receives it: only what was
 * parsed is ever forwarded (d.wire), in shadow mode too. */
static int phase_review(call *k)
{
    server *sv = k->sv;
    gate_decision *d = &k->d;
    if (d->verdict == GATE_REVIEW && (d->held || k->dry) && !sv->shadow)   /* shadow mode only records */
        k->approval_id = settle_review(sv, &k->eng, k->who, k->method, k->pq, k->ctype, k->dry, d, &k->pending, &k->created,
                                       &k->use_approval);
    k->notify |= k->created;
    if (k->aws)   /* production answers reads; takes what is allowed; never a dry run */
        k->forward = sv->aws_up && d->verdict == GATE_ALLOW && !k->dry && (d->held || k->is_read);
    else
        k->forward = sv->up && d->wire.method &&
                     ((d->verdict == GATE_ALLOW && (d->held || k->is_read)) || (sv->shadow && !k->dry));
    return 0;
}

/* An AWS read of data rather than of the account's shape (an S3 object):
 * recorded like a read of Secrets, whoever may make it. */
static int aws_data_read(const gate_aws_action *a)
{
    return !strcmp(a->service, "s3") && (!strcmp(a->operation, "GetObject") || !strcmp(a->operation, "HeadObject"));
}

/* The record: every mutation, every refusal, every read of Secrets (and of
 * S3 objects);
 * journaled under the engine lock, durable (group commit) before anything
 * is answered or forwarded.  Twin mode commits what is allowed and tells
 * the watchers. */
static int phase_record(call *k)
{
    server *sv = k->sv;
    gate_decision *d = &k->d;
    if (upstream(k) && k->has_engine == LOCK_ENGINE) {
        /* enforce and shadow mode: the twin holds nothing of the call any
         * more (gate_release), so the record is made beside the reads */
        unlock(k, LOCK_ENGINE);
        lock(k, LOCK_SHARED);
    }
    int record = k->mutation || d->verdict != GATE_ALLOW || (k->kind && !strcmp(k->kind, "Secret")) ||
                 (k->aws && aws_data_read(k->aws));
    if (record) {
        char aerr[256];
        json_t *extra = json_pack("{s:{s:I}}", "twin", "resource_version_before", (json_int_t)k->rv_before);
        if (k->approval_id)
            json_object_set_new(extra, "approval_id", json_string(k->approval_id));
        if (k->forward && !k->is_read)
            json_object_set_new(extra, "committed", json_null());   /* production will tell: see "outcome" */
        else
            json_object_set_new(extra, "committed",
                                json_boolean(!k->is_read && d->verdict == GATE_ALLOW && !k->dry && d->held));
        if (k->forward && !k->is_read)   /* what production receives, as it is sent */
            json_object_set_new(extra, "forwarded",
                                json_pack("{s:s, s:s}", "method", d->wire.method, "path", d->wire.path_query));
        int rc = gate_audit_decision(sv, k->who, k->method, k->pq, k->ctype, d, extra, &k->record_id,
                                     upstream(k) ? &k->ticket : NULL, aerr, sizeof aerr);
        json_decref(extra);
        if (rc < 0) {
            gate_finish(&k->eng, d, 0);
            return refuse_unrecorded(k, aerr);
        }
    }
    if (!upstream(k) && d->held) {
        /* twin mode: the twin is the cluster; commit what is allowed */
        if (gate_finish(&k->eng, d, 1) < 0) {
            d->code = 500;
            d->verdict = GATE_ERROR;
            free(d->message);
            d->message = twin_xstrdup("airlock: the twin could not commit the change: nothing of it stays");
        } else if (k->use_approval) {
            gate_approvals_use(sv->approvals, k->approval_id, gate_now());
        }
    }
    k->rv = twin_resource_version(sv->engine.twin);
    if (!k->aws && !sv->up && !k->is_read && d->verdict == GATE_ALLOW && !k->dry && d->code < 300) {
        /* committed: tell the watchers, the controllers' Events too (one
         * batch: the hub keeps versions in order) */
        json_t *batch = json_array();
        json_array_extend(batch, d->diff);
        if (d->events)
            json_array_extend(batch, d->events);
        gate_watch_publish(sv->watch, batch, k->rv);
        json_decref(batch);
    }
    return 0;
}

/* A pending review waits for a person (--review-wait): the connection is
 * suspended, no thread and no lock held, until the main loop resumes it. */
static int phase_hold(call *k)
{
    server *sv = k->sv;
    if (!(k->pending && k->approval_id && sv->review_wait > 0 && !k->waited && sv->waiting < sv->max_waiting &&
          k->rq->conn))
        return 0;
    unlock(k, LOCK_WRITE | LOCK_ENGINE);
    if (k->ticket && durable(k))
        return 1;
    if (k->notify) {   /* the team hears of it before the wait, not after (queued: no wait) */
        lock(k, LOCK_ENGINE);
        json_t *pa = gate_approvals_get(sv->approvals, k->approval_id, gate_now());
        unlock(k, LOCK_ENGINE);
        gate_notify_approval(sv, "approval.pending", pa);
        json_decref(pa);
        k->notify = 0;
    }
    request *st = k->st;
    if (!st)
        k->rq->state = st = k->st = twin_xcalloc(1, sizeof *st);
    free(st->approval_id);
    free(st->message);
    st->held = 1;
    st->approval_id = twin_xstrdup(k->approval_id);
    st->message = twin_xstrdup(k->d.message);
    st->until = gate_now() + sv->review_wait;
    st->conn = k->rq->conn;
    lock(k, LOCK_ENGINE);   /* suspended before gate_resume_held can see it */
    st->next_held = sv->held;
    sv->held = st;
    sv->waiting++;
    gate_conn_suspend(st->conn);
    unlock(k, LOCK_ENGINE);
    gate_log("%s %s %s -> review: held for a person (approval id %s)", k->agent, k->method, k->pq, k->approval_id);
    k->resp->held = 1;
    return 1;
}

/* ---- watches: at most the agent's `watches` open (agents.h) ----
 * A watch holds a stream (and in enforce mode an upstream connection) for
 * as long as the client keeps it: one agent opening them without end would
 * take the gate's memory and production's connections from every other.
 * The slot is taken before the stream starts and given back when its
 * response is done (the client gone, the timeout, the shutdown). */

static int watch_take(call *k)
{
    return gate_tally_take(&k->sv->watches, k->agent, k->who->watches);
}

/* The stream a watch answers with, its slot given back when it is done. */
typedef struct watch_slot {
    ssize_t (*read)(void *ctx, char *buf, size_t max);
    void (*done)(void *ctx);
    void *ctx;
    gate_tally *tally;
    char *agent;
} watch_slot;

static ssize_t slot_read(void *p, char *buf, size_t max)
{
    watch_slot *w = p;
    return w->read(w->ctx, buf, max);
}

static void slot_done(void *p)
{
    watch_slot *w = p;
    if (w->done)
        w->done(w->ctx);
    gate_tally_give(w->tally, w->agent);
    free(w->agent);
    free(w);
}

/* After a watch was started into resp: a stream keeps the slot until it
 * is done; anything else (a refusal) gives it back now. */
static void watch_keep(call *k)
{
    gate_resp *r = k->resp;
    if (!r->read) {
        gate_tally_give(&k->sv->watches, k->agent);
        return;
    }
    watch_slot *w = twin_xcalloc(1, sizeof *w);
    *w = (watch_slot){r->read, r->done, r->ctx, &k->sv->watches, twin_xstrdup(k->agent)};
    r->read = slot_read;
    r->done = slot_done;
    r->ctx = w;
}

static int refuse_watch(call *k)
{
    char *msg = twin_xasprintf("airlock: agent %s has %ld watches open, the most it may (its profile's "
                               "\"watches\"): close one first",
                               k->agent, k->who->watches);
    gate_log("%s GET %s -> 429 (watches)", k->agent, k->pq);
    gate_resp_status(k->resp, 429, "TooManyRequests", msg);
    gate_resp_header(k->resp, "Retry-After", "1");
    free(msg);
    return 1;
}

/* Production's stream, passed through (enforce mode): after the record.
 * Production's status line is waited for with the connection suspended
 * (no thread held); the handler runs again when it came (phase_watch_head). */
static int phase_watch_head(call *k);

static int phase_pass_watch(call *k)
{
    server *sv = k->sv;
    int redact = k->d.secret && !k->who->read_secrets;
    if (!watch_take(k))
        return refuse_watch(k);
    request *st = k->st;
    if (!st)
        k->rq->state = st = k->st = twin_xcalloc(1, sizeof *st);
    st->watch = gate_watch_upstream_start(sv->watch, k->rq->conn, sv->up, k->d.wire.path_query,
                                          production_accept(k->rq, redact), redact);
    st->watch_agent = twin_xstrdup(k->agent);
    return phase_watch_head(k);
}

/* A pass-through watch whose production answered (or never will): its
 * stream, or 502; not yet: held again. */
static int phase_watch_head(call *k)
{
    request *st = k->st;
    if (!st || !st->watch)
        return 0;
    char err[512];
    int rc = gate_watch_upstream_answer(st->watch, k->resp, err, sizeof err);
    if (rc == 0) {
        k->resp->held = 1;
        return 1;
    }
    st->watch = NULL;
    free(st->watch_agent);
    st->watch_agent = NULL;
    if (rc > 0) {
        watch_keep(k);   /* the slot goes with the stream */
        gate_log("%s GET %s -> allow, production %u (watch)", k->agent, k->pq, k->resp->status);
        return 1;
    }
    gate_tally_give(&k->sv->watches, k->agent);
    gate_log("%s GET %s -> allowed, 502 (watch): production could not be reached: %s", k->agent, k->pq, err);
    char *msg = twin_xasprintf("airlock: production could not be reached: %s", err);
    refuse(k, 502, msg);
    free(msg);
    return 1;
}

/* forward: production receives the request built from the judged action
 * (d.wire, never the agent's bytes); its status and body go back (Secret
 * values redacted for an agent without read_secrets); shadow mode records
 * the would-be verdict.  `write` is kept until production answered, so
 * mutations are serialized end to end; the engine lock is not held: reads
 * are judged meanwhile. */
static int phase_forward(call *k)
{
    server *sv = k->sv;
    gate_decision *d = &k->d;
    if (!k->forward)
        return 0;
    unlock(k, LOCK_ENGINE);
    if (durable(k)) {
        lock(k, LOCK_ENGINE);
        gate_finish(&k->eng, d, 0);
        return 1;
    }
    k->t_durable = gate_mono();
    if (k->is_watch)
        return phase_pass_watch(k);
    gate_upstream_answer ans;
    char ferr[512];
    const gate_wire *w = &d->wire;
    const char *sent_method = k->aws ? "POST" : w->method;
    int redact = d->secret && !k->who->read_secrets;
    int fr;
    if (k->aws) {
        /* rebuilt from the parsed input and signed with production's key
         * (the agent's signature never leaves the gate) */
        fr = gate_aws_upstream_call(sv->aws_up, k->aws->service, k->aws->operation, k->aws->input, &ans, ferr,
                                    sizeof ferr);
    } else {
        /* production's events for it may come before its answer: what it
         * changes is expected before it is sent (a refusal leaves an
         * expectation that nothing matches, for the window) */
        if (strcmp(w->method, "GET"))
            expect_change(sv, d, NULL);
        fr = gate_upstream_call(sv->up, w->method, w->path_query, w->content_type, production_accept(k->rq, redact),
                                w->body, w->len, &ans, ferr, sizeof ferr);
    }
    int took = fr == 0 && ans.status >= 200 && ans.status < 300;
    if (!k->aws && took && strcmp(w->method, "GET"))   /* a create's generated name, known only now */
        expect_change(sv, d, &ans);
    if (k->aws && took && !k->is_read)
        gate_aws_expect(sv, d);
    /* settle: the twin follows production (enforce mode: its events bring
     * the change; the agent's history counts it if production took it) */
    if (d->held) {
        lock(k, LOCK_ENGINE);
        if (gate_finish(&k->eng, d, took) < 0)   /* production has it, the twin does not: say so loudly */
            gate_log("the twin could not commit what production took (%s %s): the twin misses this change",
                     sent_method, k->pq);
        if (k->use_approval && took)
            /* used up only now that production took it (a 502 leaves it for
             * the retry); `write` is still held, so no twin of this request
             * can pass on the same approval meanwhile */
            gate_approvals_use(sv->approvals, k->approval_id, gate_now());
        unlock(k, LOCK_ENGINE);
    }
    unlock(k, LOCK_WRITE);
    int unknown = 0;   /* 1: production answered, its outcome is not in the log;
                          2: production may have the change and did not answer */
    char aerr[256] = "";
    if (k->record_id && !k->is_read && fr < 0 && ans.maybe_sent) {
        gate_log("decision %s: production did not answer (%s) after the request went out: the outcome is unknown; "
                 "it stays open until reconciled",
                 k->record_id, ferr);
        gate_unsettled_add(sv, k->record_id);
        unknown = 2;
    } else if (k->record_id && !k->is_read) {
        /* the decision was recorded before it was forwarded; now what
         * production did with it, durable before the agent hears of it */
        json_t *outcome = json_pack("{s:s, s:s, s:s, s:I, s:b}", "type", "outcome", "agent", k->agent, "decision",
                                    k->record_id, "production_status", (json_int_t)(fr == 0 ? ans.status : 0),
                                    "committed", took && d->verdict == GATE_ALLOW);
        if (gate_audit_event(sv, outcome, NULL, aerr, sizeof aerr) < 0) {
            gate_log("the outcome of decision %s could not be recorded: %s; it stays open until reconciled",
                     k->record_id, aerr);
            gate_unsettled_add(sv, k->record_id);
            unknown = 1;
        }
        json_decref(outcome);
    }
    /* where the time went: waiting for production's state, judging
     * (parse, simulate, policies), recording (until durable), production */
    double now = gate_mono();
    gate_log("%s %s %s -> %s%s, production %ld (ms: fresh %.2f, judge %.2f, record %.2f, production %.2f)", k->agent,
             sent_method, k->pq, gate_verdict_name(d->verdict), sv->shadow ? " (shadow: forwarded anyway)" : "",
             fr == 0 ? ans.status : 0L, k->t_fresh * 1e3, (k->t_judged - k->t0 - k->t_fresh) * 1e3,
             (k->t_durable - k->t_judged) * 1e3, (now - k->t_durable) * 1e3);
    if (sv->shadow && sv->shadow_log) {
        /* what the gate would have done, for rolling out policies (the
         * file's lock keeps each record one line) */
        json_t *line = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:O}", "time", (json_int_t)time(NULL),
                                 "agent", k->agent, "method", sent_method, "path", k->pq, "verdict",
                                 gate_verdict_name(d->verdict), "message", d->message ? d->message : "",
                                 "production_status", (json_int_t)(fr == 0 ? ans.status : 0), "results",
                                 d->results);
        if (line) {
            flockfile(sv->shadow_log);
            json_dumpf(line, sv->shadow_log, JSON_COMPACT);
            fputc('\n', sv->shadow_log);
            fflush(sv->shadow_log);
            funlockfile(sv->shadow_log);
        }
        json_decref(line);
    }
    if (fr < 0 && unknown == 2) {
        char *msg = twin_xasprintf("airlock: production did not answer (%s) after the request went out: it may have "
                                   "taken the change, so treat the outcome as unknown; decision %s stays open until "
                                   "the gate reconciles it with production",
                                   ferr, k->record_id);
        refuse(k, 504, msg);
        free(msg);
        return 1;
    }
    if (fr < 0) {
        char *msg = twin_xasprintf(ans.maybe_sent ? "airlock: production did not answer: %s"
                                                  : "airlock: production could not be reached, nothing was sent: %s",
                                   ferr);
        refuse(k, ans.maybe_sent ? 502 : 503, msg);
        free(msg);
        return 1;
    }
    if (unknown) {
        /* the agent must not act on an answer the log does not hold */
        char *msg = twin_xasprintf("airlock: production answered %ld, but that outcome could not be recorded (%s): "
                                   "treat the outcome as unknown; decision %s stays open until the gate reconciles "
                                   "it with production",
                                   ans.status, aerr, k->record_id);
        refuse(k, 500, msg);
        free(msg);
        gate_upstream_answer_free(&ans);
        return 1;
    }
    if (k->aws)   /* production's own answer, in its protocol */
        gate_resp_text(k->resp, (unsigned)ans.status, ans.content_type[0] ? ans.content_type : "text/xml",
                       ans.body.s ? ans.body.s : "", ans.body.len);
    else if (redact && redact_answer(&ans) < 0)
        refuse(k, 502, "airlock: production's answer about Secrets is not JSON: it is withheld");
    else
        gate_resp_text(k->resp, (unsigned)ans.status, redact || !ans.content_type[0] ? "application/json"
                                                                                     : ans.content_type,
                       ans.body.s ? ans.body.s : "", ans.body.len);
    gate_upstream_answer_free(&ans);
    return 1;
}

/* Twin mode: a stream of the twin's committed changes from the version the
 * client names (or the current objects first). */
static void twin_watch(call *k, int redact)
{
    const gate_req *rq = k->rq;
    gate_decision *d = &k->d;
    const char *ts = gate_req_arg(rq, "timeoutSeconds");
    const char *bookmarks = gate_req_arg(rq, "allowWatchBookmarks");
    if (redact)
        redact_own(&d->object);
    gate_watch_opts o = {
        .kind = json_string_value(json_object_get(d->action, "kind")),
        .ns = json_string_value(json_object_get(d->action, "namespace")),
        .label_selector = json_string_value(json_object_get(d->action, "label_selector")),
        .field_selector = json_string_value(json_object_get(d->action, "field_selector")),
        .resource_version = gate_req_arg(rq, "resourceVersion"),
        .timeout_seconds = ts ? atol(ts) : 0,
        .render = wants_table(rq)                                                    ? gate_table
                  : gate_convert_v1_hpa(str_of(json_object_get(d->action, "group")),
                                        str_of(json_object_get(d->action, "version")), k->kind) ? gate_hpa_render_v1
                                                                                                : NULL,
        .redact_secrets = redact,
        .bookmarks = bookmarks && (!strcmp(bookmarks, "true") || !strcmp(bookmarks, "1")),
    };
    char err[512];
    if (gate_watch_twin(k->sv->watch, rq->conn, &o, d->object, k->rv, k->resp, err, sizeof err) < 0)
        refuse(k, 400, err);
}

/* Answered from the twin: the object, a List (paged), a Table, a log, a
 * watch, or the refusal as a Status (a review's message carries its
 * approval id).  Secret values are redacted for an agent without
 * read_secrets. */
static int phase_answer(call *k)
{
    gate_decision *d = &k->d;
    const gate_req *rq = k->rq;
    gate_finish(&k->eng, d, 0);   /* enforce mode: not forwarded, nothing stays */
    unlock(k, LOCK_ENGINE | LOCK_WRITE);
    if (k->ticket && durable(k))
        return 1;
    gate_log("%s %s %s -> %s %d", k->agent, k->method, k->pq, gate_verdict_name(d->verdict), d->code);
    if (k->aws) {
        gate_aws_answer(k->resp, k->aws, d, k->request_id);
        return 1;
    }
    int redact = k->redact && d->secret;
    if (k->is_watch && d->verdict == GATE_ALLOW && json_is_array(d->object)) {
        if (!watch_take(k))
            return refuse_watch(k);
        twin_watch(k, redact);   /* the current objects and every event after them */
        watch_keep(k);
        return 1;
    }
    if (redact && d->object)
        redact_own(&d->object);
    if (d->verdict == GATE_ALLOW && d->object && !wants_table(rq) &&
        gate_convert_v1_hpa(str_of(json_object_get(d->action, "group")), str_of(json_object_get(d->action, "version")),
                            k->kind)) {
        json_t *v1 = gate_hpa_to_v1(d->object);   /* the twin keeps v2; the client asked for v1 */
        json_decref(d->object);
        d->object = v1;
    }
    if (d->verdict == GATE_ALLOW && d->object && k->kind && k->is_read && wants_table(rq) &&
               (json_is_array(d->object) || json_is_object(d->object))) {
        json_t *tab = gate_table(k->kind, d->object);
        if (json_is_array(d->object))
            set_list_version(tab, k->rv);
        set_continue(tab, d);
        gate_resp_json(k->resp, 200, tab);
        json_decref(tab);
    } else if (d->verdict == GATE_ALLOW && d->object && json_is_array(d->object)) {
        const char *g = json_string_value(json_object_get(d->action, "group"));
        const char *v = json_string_value(json_object_get(d->action, "version"));
        char *av = g && *g ? twin_xasprintf("%s/%s", g, v) : twin_xstrdup(v ? v : "v1");
        json_t *list = wrap_list(d, k->kind ? k->kind : "", av, k->rv);
        free(av);
        gate_resp_json(k->resp, d->code ? (unsigned)d->code : 200, list);
        json_decref(list);
    } else if (d->verdict == GATE_ALLOW && json_is_string(d->object)) {
        /* a pod's log: text, as the API server sends it */
        gate_resp_text(k->resp, 200, "text/plain", json_string_value(d->object), json_string_length(d->object));
    } else if (d->verdict == GATE_ALLOW && d->object) {
        gate_resp_json(k->resp, d->code ? (unsigned)d->code : 200, d->object);
    } else {
        refuse(k, d->code ? (unsigned)d->code : 500, d->message ? d->message : "refused");
    }
    return 1;
}

/* A new approval: the team hears of it (no lock is held here). */
static void phase_publish(call *k)
{
    if (!k->notify || !k->approval_id)
        return;
    pthread_rwlock_wrlock(&k->sv->lock);
    json_t *a = gate_approvals_get(k->sv->approvals, k->approval_id, gate_now());
    pthread_rwlock_unlock(&k->sv->lock);
    gate_notify_approval(k->sv, "approval.pending", a);
    json_decref(a);
}

/* The phases, in order, and the one cleanup path. */
static void run_call(call *k)
{
    server *sv = k->sv;
    k->eng = sv->engine;
    if (k->aws)
        gate_aws_mode(sv, &k->eng);
    if (phase_watch_head(k)) {   /* a resumed watch: judged and recorded before it was held */
        unlock(k, LOCK_ENGINE | LOCK_WRITE);
        return;
    }
    if (phase_resume(k) || phase_admit(k) || phase_decide(k) || phase_review(k) || phase_record(k) ||
        phase_hold(k) || phase_forward(k) || phase_answer(k)) {
        /* answered (or held) */
    }
    phase_publish(k);
    if (k->d.held) {   /* a decision still open (a refusal on the way): nothing of it stays */
        lock(k, LOCK_ENGINE);
        gate_finish(&k->eng, &k->d, 0);
    }
    unlock(k, LOCK_ENGINE | LOCK_WRITE);
    free(k->approval_id);
    free(k->record_id);
    gate_decision_free(&k->d);
}

static call call_of(server *sv, gate_req *rq, gate_resp *resp, gate_identity *who, const char *pq, const char *ctype,
                    int mutation)
{
    call k = {
        .sv = sv,
        .rq = rq,
        .resp = resp,
        .st = rq->state,
        .who = who,
        .method = rq->method,
        .pq = pq,
        .agent = who->name,
        .ctype = ctype,
        .mutation = mutation,
        .redact = !who->read_secrets,
        .t0 = gate_mono(),
    };
    return k;
}

void gate_aws_call(server *sv, gate_req *rq, gate_resp *resp, gate_identity *who, gate_aws_action *a,
                   const char *request_id)
{
    char *pq = twin_xasprintf("aws %s %s", a->service, a->operation);
    /* pq is what the record, the approval and the log show */
    call k = call_of(sv, rq, resp, who, pq, "application/x-amz-json", !a->read);
    k.aws = a;
    snprintf(k.request_id, sizeof k.request_id, "%s", request_id);
    run_call(&k);
    free(pq);
    /* the action goes with the call, or stays with it while it is held */
    request *st = rq->state;
    if (st && st->aws == a)
        return;   /* a resumed call: its state frees it (gate_call_done) */
    if (resp->held && st) {
        st->aws = a;
        st->aws_who = who;
        snprintf(st->aws_request_id, sizeof st->aws_request_id, "%s", request_id);
        return;
    }
    gate_aws_action_free(a);
    free(a);
}

void gate_kube_call(server *sv, gate_req *rq, gate_resp *resp, gate_identity *who)
{
    /* the target as received: the one text parsed, recorded and logged (escaped) */
    call k = call_of(sv, rq, resp, who, rq->target, record_content_type(rq),
                     strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD"));
    run_call(&k);
}

/* ---- held calls ---- */

void gate_resume_held(server *sv)
{
    /* each held call whose approval was decided or expired, whose wait is
     * over, or all when the server stops, is resumed (its handler runs
     * again and answers); resumed outside the engine lock: the transport
     * takes locks of its own */
    request *ready = NULL;
    pthread_rwlock_wrlock(&sv->lock);
    double now = gate_now();
    for (request **p = &sv->held; *p;) {
        request *r = *p;
        json_t *a = gate_approvals_get(sv->approvals, r->approval_id, now);   /* expiry applies here */
        const char *state = json_string_value(json_object_get(a, "state"));
        if (!state || strcmp(state, "pending") || sv->stopping || now >= r->until) {
            *p = r->next_held;
            json_decref(r->outcome);
            r->outcome = a;
            r->held = 2;
            r->next_held = ready;
            ready = r;
            sv->waiting--;
            sv->resuming++;
        } else {
            json_decref(a);
            p = &r->next_held;
        }
    }
    pthread_rwlock_unlock(&sv->lock);
    while (ready) {
        request *r = ready;
        ready = r->next_held;
        r->next_held = NULL;
        gate_conn_resume(r->conn);
    }
}

void gate_call_done(server *sv, request *st)
{
    if (!st)
        return;
    if (st->resumed) {   /* the shutdown waits for resumed calls to be answered */
        pthread_rwlock_wrlock(&sv->lock);
        sv->resuming--;
        pthread_rwlock_unlock(&sv->lock);
    }
    if (st->watch) {   /* its connection went before production answered */
        gate_watch_upstream_drop(st->watch);
        gate_tally_give(&sv->watches, st->watch_agent);
    }
    if (st->aws) {
        gate_aws_action_free(st->aws);
        free(st->aws);
    }
    free(st->watch_agent);
    free(st->approval_id);
    free(st->message);
    json_decref(st->outcome);
    free(st);
}
