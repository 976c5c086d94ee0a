/*
 * engine.c - parse -> simulate -> judge -> commit, for one action.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate/base/clock.h"
#include "gate/base/log.h"
#include "gate/engine/engine.h"
#include "gate/kube/k8s.h"
#include "twin/aws.h"
#include "twin/util.h"

const char *gate_verdict_name(gate_verdict v)
{
    static const char *names[] = {"allow", "review", "deny", "error"};
    return names[v];
}

static double now_seconds(const gate_engine *e)
{
    return e->now ? e->now : gate_now();
}

/* ---- the policies' view of the twin and the history ---- */

typedef struct view_ud {
    gate_engine *e;
    int committed;   /* a read: only the committed state, whatever `when` asks (see view_when) */
} view_ud;

/* A read changes nothing, so its "after" is its "before"; and a read may be
 * judged while a forwarded mutation is held open in the twin (enforce mode
 * lets reads in during production's round trip): it must not see that
 * uncommitted change, so it sees TWIN_BEFORE, the committed state. */
static twin_when view_when(const view_ud *u, int when)
{
    return u->committed || !when ? TWIN_BEFORE : TWIN_AFTER;
}

/* The twin and the history are read by one thread at a time (e->reads). */
static void reads_begin(const gate_engine *e)
{
    if (e->reads)
        pthread_mutex_lock(e->reads);
}

static void reads_end(const gate_engine *e)
{
    if (e->reads)
        pthread_mutex_unlock(e->reads);
}

static json_t *view_get(void *ud, int when, const char *kind, const char *ns, const char *name)
{
    view_ud *u = ud;
    reads_begin(u->e);
    json_t *o = twin_get(u->e->twin, view_when(u, when), kind, ns, name);
    reads_end(u->e);
    return o;
}

static json_t *view_list(void *ud, int when, const char *kind, const char *ns, const char *selector)
{
    view_ud *u = ud;
    char err[256];
    reads_begin(u->e);
    json_t *l = twin_list(u->e->twin, view_when(u, when), kind, ns, selector, NULL, err, sizeof err);
    reads_end(u->e);
    return l;
}

static json_t *view_history(void *ud, const char *agent, double window)
{
    gate_engine *e = ((view_ud *)ud)->e;
    if (!e->history)
        return json_pack("{s:i, s:i, s:f, s:i}", "pods_disrupted", 0, "instances_disrupted", 0, "cost_added", 0.0,
                         "actions", 0);
    reads_begin(e);
    json_t *t = gate_history_totals(e->history, agent, now_seconds(e), window);
    reads_end(e);
    return t;
}

/* Error texts are written with snprintf into fixed buffers, which may cut
 * the last character of a long path or name in two: drop such an incomplete
 * tail, so that the message (which becomes JSON for the agent and the
 * report) stays UTF-8 (found by tests/fuzz/fuzz_action). */
static void trim_utf8_tail(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (i - 1) < need)
        s[i - 1] = '\0';
}

static void set_error(gate_decision *d, int code, const char *msg)
{
    d->verdict = GATE_ERROR;
    d->code = code;
    free(d->message);
    d->message = twin_xstrdup(msg);
    trim_utf8_tail(d->message);
}

/* A mutation the twin could not simulate: refused, never forwarded. */
static void unsimulated(gate_decision *d, const char *why)
{
    char *msg = twin_xasprintf("airlock: denied: %s", why);
    set_error(d, 422, msg);
    free(msg);
    d->diff = json_array();
}

static int judge(gate_engine *e, const char *agent, gate_decision *d)
{
    json_t *ctx = json_pack("{s:O, s:O, s:O, s:{s:s, s:b}}", "action", d->action, "diff", d->diff, "impact",
                            d->impact, "agent", "name", agent, "read_secrets", e->read_secrets);
    if (e->config_overrides)
        json_object_set(ctx, "config_overrides", e->config_overrides);
    if (e->policy_subset)
        json_object_set(ctx, "policies", e->policy_subset);
    view_ud ud = {e, gate_verb_is_read(json_string_value(json_object_get(d->action, "verb")))};
    gate_policy_view view = {view_get, view_list, view_history, &ud};
    json_t *verdict = NULL;
    char err[512];
    int rc = e->policies ? gate_policy_eval(e->policies, ctx, &view, &verdict, err, sizeof err) : 0;
    json_decref(ctx);
    if (rc < 0) {
        char *msg = twin_xasprintf("airlock: denied: the policy engine failed: %s", err);
        set_error(d, 500, msg);
        free(msg);
        return -1;
    }
    if (!verdict) {
        d->verdict = GATE_ALLOW;
        d->message = twin_xstrdup("allowed");
        d->results = json_array();
        return 0;
    }
    const char *v = json_string_value(json_object_get(verdict, "verdict"));
    if (!v) {   /* never: gate_policy_eval always names one; fail closed all the same */
        json_decref(verdict);
        set_error(d, 500, "airlock: denied: the policy engine gave no verdict");
        return -1;
    }
    d->verdict = !strcmp(v, "deny") ? GATE_DENY : !strcmp(v, "review") ? GATE_REVIEW : GATE_ALLOW;
    d->message = twin_xstrdup(json_string_value(json_object_get(verdict, "message")));
    d->results = json_incref(json_object_get(verdict, "results"));
    json_decref(verdict);
    if (d->verdict != GATE_ALLOW)
        d->code = 403;
    return 0;
}

static void set_aws_error(gate_decision *d, int code, json_t *err_doc);

/* A mutation the twin simulated (its operation open; res taken into d):
 * what the API would refuse (a Kubernetes Status, an AWS error, aws) is
 * an error, nothing to judge or forward; the rest is judged, then
 * committed (allowed, not a dry run), left open for the caller
 * (engine.hold), or rolled back. */
static void judge_simulated(gate_engine *e, const char *agent, gate_decision *d, twin_result *res, int dry_run,
                            int aws)
{
    d->diff = res->diff;
    d->events = res->events;
    d->impact = res->impact;
    int twin_code = res->code;
    if (twin_code >= (aws ? 300 : 400)) {
        if (aws) {
            set_aws_error(d, twin_code, res->object);
        } else {
            d->object = res->object;
            const char *m = json_string_value(json_object_get(res->object, "message"));
            set_error(d, twin_code, m ? m : "refused");
        }
        twin_rollback(e->twin);
        return;
    }
    d->object = res->object;
    if (judge(e, agent, d) < 0) {
        twin_rollback(e->twin);
        return;
    }
    d->twin_code = twin_code;
    if (d->verdict == GATE_ALLOW || (d->verdict == GATE_REVIEW && e->hold) || (e->follow && e->hold)) {
        if (d->verdict == GATE_ALLOW)
            d->code = twin_code;
        free(d->agent);
        d->agent = twin_xstrdup(agent);
        if (dry_run) {
            twin_rollback(e->twin);
        } else if (e->hold) {
            d->held = 1;   /* the caller forwards it first, then settles with gate_finish */
        } else {
            d->held = 1;
            gate_finish(e, d, 1);
        }
    } else {
        twin_rollback(e->twin);
    }
}

int gate_decide_parse(gate_engine *e, const char *method, const char *path, const json_t *headers,
                      const json_t *body, const char *raw, size_t rawlen, gate_action *a, gate_decision *d)
{
    memset(d, 0, sizeof *d);
    double t0 = gate_mono() * 1e6;
    char err[1024];
    int code = gate_action_parse(a, e->twin, method, path, headers, body, raw, rawlen, err, sizeof err);
    if (!code)
        return 0;
    /* not json_pack, which gives NULL when the method or the path is not
     * UTF-8: leave such a field out but keep the action (found by
     * tests/fuzz/fuzz_action) */
    d->action = json_object();
    json_object_set_new(d->action, "method", method ? json_string(method) : NULL);
    json_object_set_new(d->action, "path", path ? json_string(path) : NULL);
    set_error(d, code, err);
    d->diff = json_array();
    d->results = json_array();
    d->micros = gate_mono() * 1e6 - t0;
    return -1;
}

int gate_decide(gate_engine *e, const char *agent, const char *method, const char *path, const json_t *headers,
                const json_t *body, const char *raw, size_t rawlen, gate_decision *d)
{
    gate_action a;
    if (gate_decide_parse(e, method, path, headers, body, raw, rawlen, &a, d) < 0)
        return 0;
    gate_decide_action(e, agent, &a, d);
    gate_action_free(&a);
    return 0;
}

/* A watch from a version (neither absent, "" nor "0"): it starts with the
 * events after it, not with the current objects. */
static int from_version(const json_t *read_opts)
{
    const char *rv = json_string_value(json_object_get(read_opts, "resourceVersion"));
    return rv && *rv && strcmp(rv, "0");
}

int gate_decide_action(gate_engine *e, const char *agent, const gate_action *pa, gate_decision *d)
{
    memset(d, 0, sizeof *d);
    double t0 = gate_mono() * 1e6;
    const gate_action a = *pa;   /* borrowed: the caller frees it */
    char err[1024];
    d->action = gate_action_json(&a);
    d->body = a.body ? json_incref(a.body) : NULL;
    d->secret = !strcmp(a.kind->kind, "Secret");
    if (e->forwards && strcmp(a.verb, "connect"))   /* connect is refused whatever the policies say */
        gate_action_wire(&a, &d->wire);

    if (!strcmp(a.verb, "connect")) {
        char *msg = twin_xasprintf("airlock: denied: %s into pods cannot be simulated and is refused "
                                   "(pods/%s is a connect subresource)",
                                   a.subresource, a.subresource);
        d->verdict = GATE_DENY;
        d->code = 403;
        d->message = msg;
        d->results = json_pack("[{s:s, s:s, s:s}]", "policy", "airlock", "verdict", "deny", "reason",
                               "connect subresources cannot be simulated");
        d->diff = json_array();
        goto done;
    }

    if (gate_action_is_read(&a)) {
        d->diff = json_array();
        d->impact = twin_impact_empty();
        if (judge(e, agent, d) < 0 || d->verdict != GATE_ALLOW)
            goto done;
        d->code = 200;
        if (e->reads_elsewhere)
            goto done;
        reads_begin(e);
        if (a.subresource && !strcmp(a.subresource, "log")) {
            d->object = json_string("");
        } else if (!strcmp(a.verb, "get")) {
            d->object = twin_get(e->twin, TWIN_AFTER, a.kind->kind, a.ns, a.name);
            if (!d->object) {
                char *msg = twin_xasprintf("%s \"%s\" not found", a.resource, a.name);
                set_error(d, 404, msg);
                free(msg);
            } else if (a.subresource && !strcmp(a.subresource, "scale")) {
                json_t *scale = twin_scale_of(d->object);   /* GET .../scale answers a Scale */
                json_decref(d->object);
                d->object = scale;
            }
        } else if (!strcmp(a.verb, "watch") && from_version(a.read_opts)) {
            /* a watch from a version starts with the events after it: the
             * current objects are not read (an informer's watch of 100,000
             * pods costs nothing more than one of ten) */
            d->object = json_array();
        } else if (!strcmp(a.verb, "list") && !twin_in_operation(e->twin) &&
                   (json_object_get(a.read_opts, "limit") || json_object_get(a.read_opts, "continue"))) {
            /* a page, read by the twin's index: its own cost, not the
             * kind's (kubectl and informers list 500 at a time).  The
             * continue token is "airlock:" and the last key given out */
            const char *lim = json_string_value(json_object_get(a.read_opts, "limit"));
            const char *cont = json_string_value(json_object_get(a.read_opts, "continue"));
            if (cont && *cont && (strncmp(cont, "airlock:", 8) || !strchr(cont + 8, '/'))) {
                set_error(d, 410, "the continue token is not one this server gave out: list again");
            } else {
                d->paged = 1;
                d->object = twin_list_page(e->twin, a.kind->kind, a.ns, a.label_selector, a.field_selector,
                                           cont && *cont ? cont + 8 : NULL, lim ? atol(lim) : 0, &d->list_next, err,
                                           sizeof err);
                if (!d->object)
                    set_error(d, 400, err);
            }
        } else {
            d->object = twin_list(e->twin, TWIN_AFTER, a.kind->kind, a.ns, a.label_selector, a.field_selector, err,
                                  sizeof err);
            if (!d->object)
                set_error(d, 400, err);
        }
        reads_end(e);
        goto done;
    }

    twin_request req;
    gate_action_request(&a, &req);
    twin_result res;
    if (twin_apply(e->twin, &req, &res, err, sizeof err) < 0) {
        unsimulated(d, err);
        goto done;
    }
    judge_simulated(e, agent, d, &res, a.dry_run, 0);

done:
    if (!d->results)
        d->results = json_array();
    d->micros = gate_mono() * 1e6 - t0;
    return 0;
}

/* ---- AWS calls ---- */

/* An AWS error the twin answered ({"Code", "Message"}): the decision is an
 * error with the protocol's code kept in d->object for the answer. */
static void set_aws_error(gate_decision *d, int code, json_t *err_doc)
{
    const char *m = json_string_value(json_object_get(err_doc, "Message"));
    set_error(d, code, m ? m : "refused");
    json_decref(d->object);
    d->object = err_doc;
}

int gate_decide_aws(gate_engine *e, const char *agent, const gate_aws_action *a, gate_decision *d)
{
    memset(d, 0, sizeof *d);
    double t0 = gate_mono() * 1e6;
    char err[1024];
    int kind = twin_aws_op_kind(a->service, a->operation);
    json_t *input = gate_aws_redacted_input(a->input);
    d->action = json_pack("{s:s, s:s, s:s, s:o, s:s, s:b, s:s}", "provider", "aws", "service", a->service,
                          "operation", a->operation, "input", input, "verb", kind == 1 ? "get" : "call", "dry_run",
                          a->dry_run, "region", a->region ? a->region : twin_aws_region(e->twin));
    if (!d->action)   /* a name that is not UTF-8 (never from the adapter, which knows every name) */
        d->action = json_pack("{s:s}", "provider", "aws");
    if (!kind) {
        char *msg = twin_xasprintf("airlock: denied: %s %s cannot be simulated by the twin, so it is refused",
                                   a->service, a->operation);
        set_error(d, 400, msg);
        free(msg);
        d->diff = json_array();
        goto done;
    }
    if (kind == 1) {
        d->diff = json_array();
        d->impact = twin_impact_empty();
        if (judge(e, agent, d) < 0 || d->verdict != GATE_ALLOW)
            goto done;
        d->code = 200;
        if (e->reads_elsewhere)
            goto done;
        twin_aws_call c = {a->service, a->operation, a->input};
        json_t *out = NULL;
        int code = 0;
        reads_begin(e);
        int rc = twin_aws_read(e->twin, &c, &out, &code, err, sizeof err);
        reads_end(e);
        if (rc < 0) {
            char *msg = twin_xasprintf("airlock: denied: %s", err);
            set_error(d, 400, msg);
            free(msg);
        } else if (code >= 300) {
            set_aws_error(d, code, out);
        } else {
            d->object = out;
        }
        goto done;
    }
    twin_aws_call c = {a->service, a->operation, a->input};
    twin_result res;
    if (twin_aws_apply(e->twin, &c, &res, err, sizeof err) < 0) {
        unsimulated(d, err);
        goto done;
    }
    judge_simulated(e, agent, d, &res, a->dry_run, 1);

done:
    if (!d->results)
        d->results = json_array();
    d->micros = gate_mono() * 1e6 - t0;
    return 0;
}

int gate_finish(gate_engine *e, gate_decision *d, int ok)
{
    if (!d->held)
        return 0;
    d->held = 0;
    int counts = ok && (d->verdict == GATE_ALLOW || e->follow);
    if (e->mirror) {
        /* production's events bring the change; the history counts it */
        if (twin_in_operation(e->twin))
            twin_rollback(e->twin);
    } else if (!counts || !twin_in_operation(e->twin)) {
        if (twin_in_operation(e->twin))
            twin_rollback(e->twin);
        return 0;
    } else if (twin_commit(e->twin) < 0) {
        return -1;   /* rolled back: the budget does not count what the twin does not hold */
    }
    if (counts && e->history) {
        gate_history_entry he = gate_history_entry_of(d->impact);
        if (gate_history_record(e->history, d->agent ? d->agent : "", now_seconds(e), &he) < 0)
            gate_log("the budget history could not be written (%zu records kept in memory, counted, written "
                     "before the next)", gate_history_unwritten(e->history));
    }
    return 0;
}

void gate_release(gate_engine *e, gate_decision *d)
{
    if (e->mirror && d->held && twin_in_operation(e->twin))
        twin_rollback(e->twin);
}

void gate_allow_reviewed(gate_decision *d, const char *message)
{
    d->verdict = GATE_ALLOW;
    d->code = d->twin_code ? d->twin_code : 200;
    free(d->message);
    d->message = twin_xstrdup(message);
}

void gate_decision_free(gate_decision *d)
{
    if (!d)
        return;
    free(d->message);
    free(d->agent);
    json_decref(d->action);
    json_decref(d->body);
    json_decref(d->results);
    json_decref(d->diff);
    json_decref(d->events);
    json_decref(d->impact);
    json_decref(d->object);
    free(d->list_next);
    gate_wire_free(&d->wire);
    memset(d, 0, sizeof *d);
}
