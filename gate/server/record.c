/*
 * record.c - what the server records: decisions, production's outcomes,
 * events (approvals, freezes, reloads, drift) in the audit log, the last
 * decisions for /airlock/v1/decisions, the approvals webhook, and policy
 * reloads (recorded before they take effect).  Used by the pipeline, the
 * operators' API and the start-up; uses nothing of theirs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/base/clock.h"
#include "gate/base/log.h"
#include "gate/server/serve_int.h"

enum { RECENT_MAX = 200 };   /* decisions kept for the list */
static pthread_mutex_t recent_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the audit records ---- */

/* The one-line summary of a record the decisions list shows. */
static void remember(server *sv, const json_t *record, const char *id)
{
    const json_t *a = json_object_get(record, "action");
    json_t *s = json_pack("{s:s, s:O, s:O, s:O?, s:O?, s:O?, s:{s:O?, s:O?, s:O?, s:O?}, s:O?}", "id", id ? id : "",
                          "time", json_object_get(record, "time"), "type", json_object_get(record, "type"),
                          "agent", json_object_get(record, "agent"), "verdict", json_object_get(record, "verdict"),
                          "message", json_object_get(record, "message"), "action", "verb", json_object_get(a, "verb"),
                          "kind", json_object_get(a, "kind"), "namespace", json_object_get(a, "namespace"), "name",
                          json_object_get(a, "name"), "approval_id", json_object_get(record, "approval_id"));
    if (!s)
        return;
    pthread_mutex_lock(&recent_mu);
    json_array_append_new(sv->recent, s);
    while (json_array_size(sv->recent) > RECENT_MAX)
        json_array_remove(sv->recent, 0);
    pthread_mutex_unlock(&recent_mu);
}

/* Appends a record; with ticket (and no attachments) it is journaled but
 * not waited for (gate_audit_append_nowait). */
static int append_as(server *sv, json_t *record, const json_t *attachments, char **id_out,
                     unsigned long long *ticket, char *err, size_t errlen)
{
    if (!json_object_get(record, "time"))
        json_object_set_new(record, "time", json_real(gate_now()));
    char *id = NULL;
    int rc = ticket && !attachments ? gate_audit_append_nowait(sv->audit, record, &id, ticket, err, errlen)
                                    : gate_audit_append(sv->audit, record, attachments, &id, err, errlen);
    if (rc < 0)
        return -1;
    const char *type = json_string_value(json_object_get(record, "type"));
    if (!type || strcmp(type, "outcome"))
        remember(sv, record, id);
    if (id_out)
        *id_out = id;
    else
        free(id);
    return 0;
}

static int append(server *sv, json_t *record, const json_t *attachments, char **id_out, char *err, size_t errlen)
{
    return append_as(sv, record, attachments, id_out, NULL, err, errlen);
}

int gate_audit_event(server *sv, json_t *record, const json_t *attachments, char *err, size_t errlen)
{
    return append(sv, record, attachments, NULL, err, errlen);
}

int gate_audit_note(server *sv, json_t *record, char *err, size_t errlen)
{
    unsigned long long ticket;   /* not waited for: the next sync, or the flusher's commit, makes it durable */
    return append_as(sv, record, NULL, NULL, &ticket, err, errlen);
}

int gate_audit_decision(server *sv, const gate_identity *who, const char *method, const char *pq,
                        const char *content_type, const gate_decision *d, const json_t *extra, char **id_out,
                        unsigned long long *ticket, char *err, size_t errlen)
{
    const char *kind = json_string_value(json_object_get(d->action, "kind"));
    json_t *body = gate_redact(d->body, kind), *diff = gate_redact_diff(d->diff);
    const char *verdict = gate_verdict_name(d->verdict);
    const char *policy_verdict = d->verdict == GATE_ALLOW && json_object_get(extra, "approval_id") ? "review"
                                                                                                   : verdict;
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:o}, s:O, s:o, s:O, s:O, s:s, s:i, s:s,"
                          " s:{s:O, s:O, s:b}}",
                          "type", "decision", "agent", who->name, "verdict", verdict, "policy_verdict",
                          policy_verdict, "request", "method", method, "path", pq, "content_type",
                          content_type ? content_type : "application/json", "body", body ? body : json_null(),
                          "action", d->action ? d->action : json_null(), "diff", diff ? diff : json_array(),
                          "impact", d->impact ? d->impact : json_null(), "results",
                          d->results ? d->results : json_null(), "message", d->message ? d->message : "", "code",
                          d->code, "policy_version", gate_policy_version(sv->engine.policies), "profile",
                          "policies", who->policies ? who->policies : json_null(), "config_overrides",
                          who->config ? who->config : json_null(), "read_secrets", who->read_secrets);
    if (!r) {
        snprintf(err, errlen, "the decision could not be put into JSON (a field is not UTF-8)");
        return -1;
    }
    if (extra)
        json_object_update(r, (json_t *)extra);
    int rc = append_as(sv, r, NULL, id_out, ticket, err, errlen);
    json_decref(r);
    return rc;
}

/* ---- reloads and the webhook ---- */

int gate_reload_policies(server *sv, const char *by, char *err, size_t errlen)
{
    gate_policy_set *fresh = NULL;
    if (gate_policy_load_spec(&fresh, sv->policy_spec, err, errlen) < 0)
        return -1;
    gate_policy_set_time_limit(fresh, sv->policy_timeout);
    if (gate_agents_check_policies(&sv->agents, fresh, err, errlen) < 0) {
        gate_policy_free(fresh);
        return -1;
    }
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "reload", "agent", by, "verdict", "reloaded",
                          "policy_source", sv->policy_spec, "policy_version", gate_policy_version(fresh));
    pthread_mutex_lock(&sv->write);
    pthread_rwlock_wrlock(&sv->lock);
    int rc = append(sv, r, NULL, NULL, err, errlen);
    gate_policy_set *old = sv->engine.policies;
    if (rc == 0)
        sv->engine.policies = fresh;   /* no evaluation runs: the engine lock is ours */
    pthread_rwlock_unlock(&sv->lock);
    pthread_mutex_unlock(&sv->write);
    json_decref(r);
    if (rc < 0) {
        gate_policy_free(fresh);
        return -1;
    }
    gate_log("policies reloaded by %s: %s (%zu policies)", by, gate_policy_version(fresh),
            gate_policy_count(fresh));
    gate_policy_free(old);
    return 0;
}

void gate_notify_approval(server *sv, const char *event, const json_t *approval)
{
    if (!sv->hook || !approval)
        return;
    const char *id = json_string_value(json_object_get(approval, "id"));
    char *url = twin_xasprintf("https://%s/airlock/ui/#%s", sv->listen, id ? id : "");
    const json_t *a = json_object_get(approval, "action");
    const json_t *im = json_object_get(approval, "impact");
    json_t *doc = json_pack("{s:s, s:s, s:{s:O?, s:O?, s:O?, s:O?, s:O?, s:{s:O?, s:O?, s:O?, s:O?}, s:O?, s:O?},"
                            " s:{s:O?, s:O?}}",
                            "event", event, "url", url, "approval", "id", json_object_get(approval, "id"), "state",
                            json_object_get(approval, "state"), "agent", json_object_get(approval, "agent"),
                            "message", json_object_get(approval, "message"), "decided_by",
                            json_object_get(approval, "decided_by"), "action", "verb", json_object_get(a, "verb"),
                            "kind", json_object_get(a, "kind"), "namespace", json_object_get(a, "namespace"),
                            "name", json_object_get(a, "name"), "comment", json_object_get(approval, "comment"),
                            "expires_at", json_object_get(approval, "expires_at"), "impact", "pods_disrupted",
                            json_object_get(im, "pods_disrupted"), "cost", json_object_get(im, "cost"));
    free(url);
    if (!doc)
        return;
    gate_webhook_post(sv->hook, doc);   /* queued: the worker posts it, off the request path */
}

json_t *gate_recent_decisions(server *sv, long limit)
{
    if (limit <= 0 || limit > RECENT_MAX)
        limit = RECENT_MAX;
    json_t *items = json_array();
    pthread_mutex_lock(&recent_mu);
    for (size_t i = json_array_size(sv->recent); i > 0 && json_array_size(items) < (size_t)limit; i--)
        json_array_append(items, json_array_get(sv->recent, i - 1));
    pthread_mutex_unlock(&recent_mu);
    return items;
}

/* ---- open decisions: reconciled against production ---- */

static pthread_mutex_t unsettled_mu = PTHREAD_MUTEX_INITIALIZER;
#define UNSETTLED_GRACE 10.0   /* seconds before one of this process's open decisions is reconciled */

void gate_unsettled_add(server *sv, const char *id)
{
    pthread_mutex_lock(&unsettled_mu);
    if (!sv->unsettled)
        sv->unsettled = json_object();
    json_object_set_new(sv->unsettled, id, json_real(gate_now()));
    pthread_mutex_unlock(&unsettled_mu);
}

/* Compares, leaf by leaf where the judged change made a difference (before
 * -> after), what production holds now: counts the leaves now as after
 * (yes), as before (no), or neither (other). */
static void vote(const json_t *before, const json_t *after, const json_t *now, int *yes, int *no, int *other)
{
    if (json_equal(before, after))
        return;
    if (json_is_object(before) && json_is_object(after)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)before, k, v)
            vote(v, json_object_get(after, k), json_object_get(now, k), yes, no, other);
        json_object_foreach((json_t *)after, k, v)
            if (!json_object_get(before, k))
                vote(NULL, v, json_object_get(now, k), yes, no, other);
        return;
    }
    if (after ? now && json_equal(now, after) : !now)
        ++*yes;
    else if (before ? now && json_equal(now, before) : !now)
        ++*no;
    else
        ++*other;
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

/* Whether production took one direct change of a decision: 1, 0, or -1
 * when its state now tells neither (changed again since, a value the
 * record holds redacted). Under the engine lock. */
static int change_landed(twin *t, const json_t *c)
{
    const char *op = json_string_value(json_object_get(c, "op"));
    const char *kind = json_string_value(json_object_get(c, "kind"));
    const char *ns = json_string_value(json_object_get(c, "namespace"));
    const char *name = json_string_value(json_object_get(c, "name"));
    const json_t *before = json_object_get(c, "before"), *after = json_object_get(c, "after");
    if (!op || !kind || !name)
        return -1;
    json_t *now = twin_get(t, TWIN_AFTER, kind, ns, name);
    int r = -1;
    if (!strcmp(op, "create")) {
        r = now != NULL;
    } else if (!strcmp(op, "delete")) {
        const char *uid = meta_str(before, "uid"), *uid_now = meta_str(now, "uid");
        r = !now || (uid && uid_now && strcmp(uid, uid_now)) || meta_str(now, "deletionTimestamp") ? 1 : 0;
    } else if (!strcmp(op, "update") && now) {
        json_t *b = gate_drift_substance(before), *a = gate_drift_substance(after), *n = gate_drift_substance(now);
        int yes = 0, no = 0, other = 0;
        vote(b, a, n, &yes, &no, &other);
        r = other || (yes && no) ? -1 : yes ? 1 : no ? 0 : -1;
        json_decref(b);
        json_decref(a);
        json_decref(n);
    }
    json_decref(now);
    return r;
}

/* The outcome record closing an open decision (new), under the engine lock. */
static json_t *reconcile_one(server *sv, const json_t *dec)
{
    int landed = -2;   /* -2: no direct change seen */
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(dec, "diff"), i, c) {
        const char *cause = json_string_value(json_object_get(c, "cause"));
        if (!cause || strcmp(cause, "direct"))
            continue;
        int r = change_landed(sv->engine.twin, c);
        landed = landed == -2 ? r : landed == r ? r : -1;
    }
    const char *evidence = landed == 1    ? "production holds the judged change"
                           : landed == 0  ? "production holds the state from before the judged change"
                           : landed == -1 ? "production's state is neither the judged change nor what was before it "
                                            "(changed since, or values the record holds redacted)"
                                          : "the decision records no direct change to look for";
    return json_pack("{s:s, s:s?, s:s, s:i, s:o, s:b, s:s, s:I}", "type", "outcome", "agent",
                     json_string_value(json_object_get(dec, "agent")), "decision",
                     json_string_value(json_object_get(dec, "id")), "production_status", 0, "committed",
                     landed == 1 ? json_true() : landed == 0 ? json_false() : json_null(), "reconciled", 1,
                     "evidence", evidence, "twin_resource_version",
                     (json_int_t)twin_resource_version(sv->engine.twin));
}

int gate_reconcile_open(server *sv, int all, char *err, size_t errlen)
{
    if (!all) {
        /* one of this process's: once production answers again, the twin
         * has caught up with it, and UNSETTLED_GRACE has passed (a request
         * production held may still land after the gate gave up on it) */
        pthread_mutex_lock(&unsettled_mu);
        int due = 0;
        const char *id;
        json_t *since;
        json_object_foreach(sv->unsettled, id, since)
            due |= gate_now() - json_real_value(since) > UNSETTLED_GRACE;
        pthread_mutex_unlock(&unsettled_mu);
        if (!due || gate_upstream_down(sv->up, NULL, 0) || gate_fresh(sv, err, errlen) < 0)
            return 0;
    }
    json_t *open = gate_audit_open_decisions(sv->audit_dir, err, errlen);
    if (!open)
        return -1;
    json_t *outcomes = json_array();
    size_t i;
    json_t *dec;
    pthread_rwlock_rdlock(&sv->lock);
    json_array_foreach(open, i, dec) {
        const char *id = json_string_value(json_object_get(dec, "id"));
        pthread_mutex_lock(&unsettled_mu);
        json_t *since = json_object_get(sv->unsettled, id);
        int mine = since && gate_now() - json_real_value(since) > UNSETTLED_GRACE;
        pthread_mutex_unlock(&unsettled_mu);
        if (all || mine)
            json_array_append_new(outcomes, reconcile_one(sv, dec));
    }
    pthread_rwlock_unlock(&sv->lock);
    int closed = 0, rc = 0;
    json_t *o;
    json_array_foreach(outcomes, i, o) {
        const char *id = json_string_value(json_object_get(o, "decision"));
        const json_t *committed = json_object_get(o, "committed");
        if (append(sv, o, NULL, NULL, err, errlen) < 0) {
            rc = -1;
            break;
        }
        gate_log("open decision %s reconciled: %s (%s)", id,
                 json_is_true(committed) ? "production took it" : json_is_false(committed) ? "production did not take it"
                                                                                            : "unknown",
                 json_string_value(json_object_get(o, "evidence")));
        pthread_mutex_lock(&unsettled_mu);
        json_object_del(sv->unsettled, id);
        pthread_mutex_unlock(&unsettled_mu);
        closed++;
    }
    json_decref(outcomes);
    json_decref(open);
    return rc < 0 ? -1 : closed;
}
