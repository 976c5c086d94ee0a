/*
 * api.c - the operators' side of the gate: the approvals API under
 * /airlock/v1 (approver tokens only), the kill switch, policy reloads,
 * drift.  What each records goes through record.c.
 *
 *   GET  /airlock/v1/whoami
 *   GET  /airlock/v1/approvals[?state=pending|approved|denied|expired|used|all]
 *   GET  /airlock/v1/approvals/ID
 *   POST /airlock/v1/approvals/ID/approve   {"comment": "..."}
 *   POST /airlock/v1/approvals/ID/deny      {"comment": "..."}
 *   GET  /airlock/v1/decisions[?limit=N]
 *   GET  /airlock/v1/drift[?since=T]   (enforce and shadow mode)
 *   GET  /airlock/v1/freeze;  POST /airlock/v1/freeze {"reason": "..."};  POST /airlock/v1/thaw
 *   POST /airlock/v1/reload
 *
 * Errors are Kubernetes Status objects, like everything else the gate
 * answers.  Every change (approve, deny, freeze, thaw, reload) is recorded
 * in the audit log before it takes effect and before it is answered.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/base/log.h"
#include "gate/kube/k8s.h"
#include "gate/server/serve_int.h"

/* ---- the API ---- */

static int status_msg(gate_resp *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int status_msg(gate_resp *c, unsigned code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gate_resp_status(c, code, NULL, buf);
    return 0;
}

/* The body of a POST: {} when empty, else a JSON object; NULL after
 * answering 400. */
static json_t *post_body(gate_resp *c, const gate_req *rq, int *rc)
{
    if (!rq->len)
        return json_object();
    json_error_t je;
    json_t *b = json_loadb(rq->body, rq->len, 0, &je);
    if (!b) {
        *rc = status_msg(c, 400, "malformed JSON body: %s (line %d, column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(b)) {
        json_decref(b);
        *rc = status_msg(c, 400, "the body must be a JSON object, like {\"comment\": \"...\"}");
        return NULL;
    }
    return b;
}

/* A string field of a POST body, "" when absent; NULL after answering 400. */
static const char *body_string(gate_resp *c, const json_t *b, const char *key, int *rc)
{
    json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v))
        return "";
    if (!json_is_string(v)) {
        *rc = status_msg(c, 400, "\"%s\" must be a string", key);
        return NULL;
    }
    return json_string_value(v);
}

static gate_identity *agent_named(server *sv, const char *name)
{
    for (size_t i = 0; i < sv->agents.n; i++)
        if (!strcmp(sv->agents.v[i].name, name) && sv->agents.v[i].role == GATE_ROLE_AGENT)
            return &sv->agents.v[i];
    return NULL;
}

/* Enforce mode: the twin catches up with production before an approval's
 * action is simulated again.  Called with both locks; lets the engine's go
 * meanwhile (the watches need it). */
static int catch_up(server *sv, char *err, size_t errlen)
{
    pthread_rwlock_unlock(&sv->lock);
    int rc = gate_fresh(sv, err, errlen);
    pthread_rwlock_wrlock(&sv->lock);
    return rc;
}

/* The approval's action simulated again on the current twin (with its
 * agent's profile), then rolled back.  Returns 0 with *d filled, or an
 * HTTP status after writing msg. Called with both locks. */
/* An approval's AWS action as the engine takes it (input as recorded:
 * secrets redacted, which the twin does not keep anyway); 0, or -1 when
 * the action is not an AWS call. */
static int aws_action_of(const json_t *action, gate_aws_action *act)
{
    const char *provider = json_string_value(json_object_get(action, "provider"));
    const char *service = json_string_value(json_object_get(action, "service"));
    const char *op = json_string_value(json_object_get(action, "operation"));
    if (!provider || strcmp(provider, "aws") || !service || !op)
        return -1;
    memset(act, 0, sizeof *act);
    act->service = twin_xstrdup(service);
    act->operation = twin_xstrdup(op);
    act->input = json_is_object(json_object_get(action, "input")) ? json_deep_copy(json_object_get(action, "input"))
                                                                   : json_object();
    return 0;
}

/* Enforce mode on AWS: what the approval's call reaches is described again
 * (the engine lock let go meanwhile: network) and the twin follows it. */
static int aws_catch_up(server *sv, const gate_aws_action *act, char *err, size_t errlen)
{
    json_t *doc = NULL, *gone = NULL;
    pthread_rwlock_unlock(&sv->lock);
    int rc = gate_aws_reach(sv, act, &doc, &gone, err, errlen);
    pthread_rwlock_wrlock(&sv->lock);
    if (rc == 0)
        rc = gate_aws_follow(sv, doc, gone, 0, err, errlen);
    json_decref(doc);
    json_decref(gone);
    return rc;
}

static int resimulate(server *sv, const json_t *a, gate_decision *d, char *msg, size_t msglen)
{
    gate_aws_action act;
    if (aws_action_of(json_object_get(a, "action"), &act) == 0) {
        const char *agent = json_string_value(json_object_get(a, "agent"));
        gate_identity *who = agent_named(sv, agent ? agent : "");
        char err[512];
        int rc = 0;
        memset(d, 0, sizeof *d);
        if (!who) {
            snprintf(msg, msglen, "the approval's agent is no longer known");
            rc = 409;
        } else if (sv->aws_up && aws_catch_up(sv, &act, err, sizeof err) < 0) {
            snprintf(msg, msglen, "production's state could not be read: %s", err);
            rc = 503;
        } else {
            gate_engine e = gate_agent_engine(sv, who);
            gate_aws_mode(sv, &e);
            gate_decide_aws(&e, agent, &act, d);
            gate_finish(&e, d, 0);
            if (d->verdict == GATE_ERROR) {
                snprintf(msg, msglen, "the action cannot be simulated on the current state any more: %s",
                         d->message ? d->message : "error");
                rc = 409;
            }
        }
        gate_aws_action_free(&act);
        return rc;
    }
    const json_t *req = json_object_get(a, "request");
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *path = json_string_value(json_object_get(req, "path"));
    const char *ct = json_string_value(json_object_get(req, "content_type"));
    json_t *body = json_object_get(req, "body");
    const char *agent = json_string_value(json_object_get(a, "agent"));
    gate_identity *who = agent_named(sv, agent ? agent : "");
    if (!method || !path || !who) {
        snprintf(msg, msglen, "the approval's %s", who ? "request is incomplete" : "agent is no longer known");
        return 409;
    }
    json_t *headers = json_pack("{s:s}", "Content-Type", ct ? ct : "application/json");
    gate_engine e = gate_agent_engine(sv, who);
    gate_decide(&e, agent, method, path, headers, json_is_null(body) ? NULL : body, NULL, 0, d);
    gate_finish(&e, d, 0);
    json_decref(headers);
    if (d->verdict == GATE_ERROR) {
        snprintf(msg, msglen, "the action cannot be simulated on the current state any more: %s",
                 d->message ? d->message : "error");
        return 409;
    }
    return 0;
}

static int decide(server *sv, gate_resp *c, const gate_identity *who, const char *id,
                              int approve, const json_t *b)
{
    int rc = 0;
    const char *comment = body_string(c, b, "comment", &rc);
    if (!comment)
        return rc;
    char msg[1024];
    double now = gate_now();
    json_t *doc = NULL, *notify = NULL;
    const char *event = approve ? "approval.approved" : "approval.denied";
    pthread_mutex_lock(&sv->write);
    pthread_rwlock_wrlock(&sv->lock);
    json_t *a = gate_approvals_get(sv->approvals, id, now);
    const char *state = json_string_value(json_object_get(a, "state"));
    if (!a || !state || strcmp(state, "pending")) {   /* let the store say why not */
        int code = gate_approvals_decide(sv->approvals, id, approve, who->name, comment, now, &doc, msg, sizeof msg);
        rc = status_msg(c, (unsigned)code, "airlock: %s", msg);
        goto out;
    }
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O?}", "type", "approval", "agent", who->name,
                            "approval_id", id, "comment", comment, "for_agent", json_string_value(json_object_get(a,
                            "agent")), "action", json_object_get(a, "action"), "fingerprint",
                            json_object_get(a, "fingerprint"));
    if (approve) {
        /* simulated again on the current twin: approved only as it is now */
        char rerr[1024];
        if (sv->informer && catch_up(sv, rerr, sizeof rerr) < 0) {
            json_decref(rec);
            rc = status_msg(c, 503, "airlock: approval %s stays pending: %s; try again", id, rerr);
            goto out;
        }
        gate_decision d;
        int code = resimulate(sv, a, &d, msg, sizeof msg);
        char why[256];
        if (code) {
            json_decref(rec);
            gate_decision_free(&d);
            rc = status_msg(c, (unsigned)code, "airlock: approval %s stays pending: %s", id, msg);
            goto out;
        }
        if (gate_impact_changed(json_object_get(a, "impact"), d.impact, why, sizeof why)) {
            json_t *rdiff = gate_redact_diff(d.diff);
            json_object_set_new(rec, "verdict", json_string("repending"));
            json_object_set_new(rec, "changed", json_string(why));
            json_object_set(rec, "impact", d.impact);
            char aerr[256];
            if (gate_audit_event(sv, rec, NULL, aerr, sizeof aerr) < 0) {
                rc = status_msg(c, 500, "airlock: the approval could not be recorded: %s", aerr);
            } else {
                gate_approvals_repend(sv->approvals, id, d.impact, rdiff, why, now);
                rc = status_msg(c, 409,
                                "airlock: the action's impact changed since it was requested (%s): approval %s is "
                                "pending again, with both impacts",
                                why, id);
            }
            json_decref(rdiff);
            json_decref(rec);
            gate_decision_free(&d);
            goto out;
        }
        gate_decision_free(&d);
    }
    json_object_set_new(rec, "verdict", json_string(approve ? "approved" : "denied"));
    char aerr[256];
    if (gate_audit_event(sv, rec, NULL, aerr, sizeof aerr) < 0) {
        json_decref(rec);
        rc = status_msg(c, 500, "airlock: the approval could not be recorded: %s", aerr);
        goto out;
    }
    json_decref(rec);
    int code = gate_approvals_decide(sv->approvals, id, approve, who->name, comment, now, &doc, msg, sizeof msg);
    if (code) {
        rc = status_msg(c, (unsigned)code, "airlock: %s", msg);
        goto out;
    }
    gate_log("approval %s %s by %s", id, approve ? "approved" : "denied", who->name);
    /* a held request waiting for it is resumed by the main loop's next round (resume_held) */
    gate_resp_json(c, 200, doc);
    rc = 0;
    notify = json_incref(doc);
out:
    pthread_rwlock_unlock(&sv->lock);
    pthread_mutex_unlock(&sv->write);
    gate_notify_approval(sv, event, notify);
    json_decref(notify);
    json_decref(doc);
    json_decref(a);
    return rc;
}

static int freeze(server *sv, gate_resp *c, const gate_identity *who, int on,
                              const json_t *b)
{
    int rc = 0;
    const char *reason = body_string(c, b, "reason", &rc);
    if (!reason)
        return rc;
    if (on && !*reason)
        reason = "frozen by an approver";
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "type", on ? "freeze" : "thaw", "agent", who->name, "verdict",
                            on ? "frozen" : "thawed", "reason", reason);
    char err[256];
    pthread_rwlock_wrlock(&sv->lock);
    int ok = gate_audit_event(sv, rec, NULL, err, sizeof err) == 0 &&
             gate_freeze_set(sv->approvals, on, who->name, reason, gate_now()) == 0;
    json_t *st = gate_freeze_get(sv->approvals);
    pthread_rwlock_unlock(&sv->lock);
    json_decref(rec);
    if (!ok)
        rc = status_msg(c, 500, "airlock: the %s could not be recorded: %s", on ? "freeze" : "thaw", err);
    else
        gate_resp_json(c, 200, st);
    gate_log("%s by %s%s%s", on ? "frozen" : "thawed", who->name, on ? ": " : "", on ? reason : "");
    json_decref(st);
    return rc;
}

int gate_api(server *sv, const gate_req *rq, gate_resp *c, const gate_identity *who)
{
    const char *url = rq->path, *method = rq->method;
    if (who->role != GATE_ROLE_APPROVER)
        return status_msg(c, 403,
                          "airlock: %s is an agent: only an approver's token may use %s (an agent can never "
                          "approve)",
                          who->name, url);
    if (strncmp(url, "/airlock/v1/", 12))
        return status_msg(c, 404, "airlock: no such path %s (the API is under /airlock/v1/, the page at "
                                  "/airlock/ui/)",
                          url);
    const char *p = url + 12;
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    int rc = 0;
    json_t *doc = NULL;

    if (!strcmp(p, "whoami") && get) {
        doc = json_pack("{s:s, s:s}", "name", who->name, "role", "approver");
    } else if (!strcmp(p, "approvals") && get) {
        const char *state = gate_req_arg(rq, "state");
        static const char *STATES[] = {"pending", "approved", "denied", "expired", "used", "all", NULL};
        int known = !state;
        for (int i = 0; STATES[i] && !known; i++)
            known = !strcmp(STATES[i], state);
        if (!known)
            return status_msg(c, 400, "state must be pending, approved, denied, expired, used or all (got %s)",
                              state);
        pthread_rwlock_wrlock(&sv->lock);
        doc = gate_approvals_list(sv->approvals, state, gate_now());
        pthread_rwlock_unlock(&sv->lock);
    } else if (!strncmp(p, "approvals/", 10)) {
        char id[64];
        const char *rest = p + 10, *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
        if (!n || n >= sizeof id)
            return status_msg(c, 404, "airlock: approval %.*s not found", (int)(n < 64 ? n : 64), rest);
        memcpy(id, rest, n);
        id[n] = '\0';
        const char *verb = slash ? slash + 1 : "";
        if (!*verb && get) {
            pthread_rwlock_wrlock(&sv->lock);
            doc = gate_approvals_get(sv->approvals, id, gate_now());
            pthread_rwlock_unlock(&sv->lock);
            if (!doc)
                return status_msg(c, 404, "airlock: approval %s not found", id);
        } else if ((!strcmp(verb, "approve") || !strcmp(verb, "deny")) && post) {
            json_t *b = post_body(c, rq, &rc);
            if (!b)
                return rc;
            rc = decide(sv, c, who, id, !strcmp(verb, "approve"), b);
            json_decref(b);
            return rc;
        } else {
            return status_msg(c, 405, "airlock: %s %s: an approval is read with GET and decided with POST "
                                      ".../approve or .../deny",
                              method, url);
        }
    } else if (!strcmp(p, "decisions") && get) {
        const char *ls = gate_req_arg(rq, "limit");
        json_t *items = gate_recent_decisions(sv, ls ? atol(ls) : 50);
        doc = json_pack("{s:o}", "items", items);
    } else if (!strcmp(p, "drift") && get) {
        /* what production changed behind the gate's back, and where its
         * watches stand (enforce and shadow mode) */
        const char *ss = gate_req_arg(rq, "since");
        double since = 0;
        if (ss && gate_audit_parse_time(ss, gate_now(), &since) < 0)
            return status_msg(c, 400, "airlock: since=%s is not a time (RFC 3339, a Unix time, or an age like 1h)",
                              ss);
        if (!sv->drift)
            return status_msg(c, 404, "airlock: there is no drift in twin mode: the twin is the cluster");
        doc = gate_drift_list(sv->drift, since);
        json_object_set_new(doc, "watches", gate_informer_status(sv->informer));
    } else if (!strcmp(p, "freeze") && get) {
        pthread_rwlock_wrlock(&sv->lock);
        doc = gate_freeze_get(sv->approvals);
        pthread_rwlock_unlock(&sv->lock);
    } else if ((!strcmp(p, "freeze") || !strcmp(p, "thaw")) && post) {
        json_t *b = post_body(c, rq, &rc);
        if (!b)
            return rc;
        rc = freeze(sv, c, who, !strcmp(p, "freeze"), b);
        json_decref(b);
        return rc;
    } else if (!strcmp(p, "reload") && post) {
        char err[1024];
        if (gate_reload_policies(sv, who->name, err, sizeof err) < 0)
            return status_msg(c, 422, "airlock: reload refused, the policies in force stay: %s", err);
        pthread_rwlock_wrlock(&sv->lock);
        doc = json_pack("{s:s, s:s, s:I}", "policy_version", gate_policy_version(sv->engine.policies), "source",
                        sv->policy_spec, "policies", (json_int_t)gate_policy_count(sv->engine.policies));
        pthread_rwlock_unlock(&sv->lock);
    } else {
        return status_msg(c, 404, "airlock: no such API call: %s %s", method, url);
    }
    gate_resp_json(c, 200, doc);
    rc = 0;
    json_decref(doc);
    return rc;
}
