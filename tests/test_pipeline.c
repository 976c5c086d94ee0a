/*
 * test_pipeline.c - the pipeline of a Kubernetes call (gate/server/pipeline.c),
 * in-process: requests made with gate_req_init, no socket, and production
 * a fake (gate_upstream_open_fake) that answers 2xx, 4xx or 5xx, drops the
 * connection, or hangs.  The server is in enforce mode without watches
 * (the freshness rule has its own tests: tests/cli/informer*.sh).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "gate/base/fault.h"
#include "gate/server/serve_int.h"
#include "gate/engine/policy.h"
#include "gate/engine/history.h"
#include "twin/util.h"

/* ---- the fake production ---- */

enum fake_mode { ANSWER = 0, DROP, HANG, REFUSE };

typedef struct fake {
    pthread_mutex_t mu;
    enum fake_mode mode;          /* for mutations; reads are always answered at once */
    long status;                  /* what mutations get */
    int calls, mutations;
    char last_method[16], last_path[512];
    char last_body[4096];
    int hanging;                  /* a mutation is inside the fake now */
} fake;

static int fake_call(void *ud, const char *method, const char *path_query, const char *content_type,
                     const char *body, size_t len, gate_upstream_answer *ans, char *err, size_t errlen)
{
    (void)content_type;
    fake *f = ud;
    int mutation = strcmp(method, "GET") != 0;
    pthread_mutex_lock(&f->mu);
    f->calls++;
    enum fake_mode mode = mutation ? f->mode : ANSWER;
    long status = mutation ? f->status : 200;
    if (mutation) {
        f->mutations++;
        snprintf(f->last_method, sizeof f->last_method, "%s", method);
        snprintf(f->last_path, sizeof f->last_path, "%s", path_query);
        snprintf(f->last_body, sizeof f->last_body, "%.*s", (int)(len < 4000 ? len : 4000), body ? body : "");
        f->hanging = mode == HANG;
    }
    pthread_mutex_unlock(&f->mu);
    if (mode == DROP) {   /* the request went out, the answer never came */
        snprintf(err, errlen, "Failure when receiving data from the peer");
        ans->maybe_sent = 1;
        return -1;
    }
    if (mode == REFUSE) {   /* no connection: nothing sent */
        snprintf(err, errlen, "Could not connect to server");
        return -1;
    }
    if (mode == HANG) {   /* as libcurl's timeout would end it */
        usleep(400 * 1000);
        pthread_mutex_lock(&f->mu);
        f->hanging = 0;
        pthread_mutex_unlock(&f->mu);
        snprintf(err, errlen, "Operation timed out");
        ans->maybe_sent = 1;
        return -1;
    }
    ans->status = status;
    snprintf(ans->content_type, sizeof ans->content_type, "application/json");
    const char *text = status < 300 ? "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
                                      "\"cart\",\"namespace\":\"shop\"},\"spec\":{\"replicas\":4}}"
                                    : "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                      "\"message\":\"production says no\",\"code\":500}";
    if (!mutation)
        text = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[]}";
    twin_buf_add(&ans->body, text, strlen(text));
    return 0;
}

/* ---- the server ---- */

typedef struct fixture {
    char dir[64];
    server sv;
    fake f;
    gate_upstream_fake uf;
    gate_identity *agent;
} fixture;

static int setup(void **state)
{
    fixture *x = twin_xcalloc(1, sizeof *x);
    char err[1024];
    snprintf(x->dir, sizeof x->dir, "/tmp/test_pipeline.XXXXXX");
    if (!mkdtemp(x->dir))
        return -1;
    server *sv = &x->sv;
    twin *t;
    gate_policy_set *ps;
    gate_history *h;
    char *db = twin_xasprintf("%s/gate.db", x->dir), *repo = twin_xasprintf("%s/audit", x->dir),
         *key = twin_xasprintf("%s/audit.key", x->dir);
    int rc = twin_open(&t, NULL, err, sizeof err) < 0 || twin_load_pricing(t, "fixtures/pricing.json", err, sizeof err) < 0 ||
             twin_import_path(t, "fixtures/demo", err, sizeof err) < 0 ||
             gate_policy_load(&ps, "lua-policies", err, sizeof err) < 0 ||
             gate_history_open(&h, db, err, sizeof err) < 0 ||
             gate_approvals_open(&sv->approvals, db, 3600, 900, err, sizeof err) < 0 ||
             gate_audit_open(&sv->audit, repo, key, err, sizeof err) < 0;
    free(db);
    sv->audit_dir = repo;
    free(key);
    if (rc) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    gate_locks_init(sv);
    pthread_mutex_init(&x->f.mu, NULL);
    x->f.status = 200;
    x->uf = (gate_upstream_fake){.call = fake_call, .ud = &x->f};
    sv->up = gate_upstream_open_fake(&x->uf);
    sv->engine = (gate_engine){.twin = t, .policies = ps, .history = h, .hold = 1, .reads_elsewhere = 1,
                               .forwards = 1, .mirror = 1, .reads = &sv->reads};
    sv->watch = gate_watch_hub_new(100, twin_resource_version(t));
    sv->drift = gate_drift_new(100, 60);
    sv->recent = json_array();
    sv->max_waiting = 64;
    sv->policy_spec = "lua-policies";
    gate_agents_add(&sv->agents, "ops-bot", "00", GATE_ROLE_AGENT);
    x->agent = &sv->agents.v[0];
    x->agent->per_second = x->agent->per_minute = 0;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture *x = *state;
    server *sv = &x->sv;
    gate_watch_hub_free(sv->watch);
    gate_drift_free(sv->drift);
    gate_agents_free(&sv->agents);
    gate_approvals_close(sv->approvals);
    gate_audit_close(sv->audit);
    free(sv->audit_dir);
    json_decref(sv->unsettled);
    gate_upstream_close(sv->up);
    json_decref(sv->recent);
    gate_history_close(sv->engine.history);
    gate_policy_free(sv->engine.policies);
    twin_close(sv->engine.twin);
    gate_locks_destroy(sv);
    pthread_mutex_destroy(&x->f.mu);
    char *cmd = twin_xasprintf("rm -rf '%s'", x->dir);
    int rc = system(cmd);
    free(cmd);
    free(x);
    return rc == 0 ? 0 : -1;
}

/* One call through the pipeline; the answer in *r (free it). */
static void call(fixture *x, const char *method, const char *target, const char *ct, const char *body, gate_resp *r)
{
    json_t *headers = ct ? json_pack("{s:s}", "Content-Type", ct) : NULL;
    gate_req rq;
    gate_req_init(&rq, method, target, headers, body, body ? strlen(body) : 0);
    memset(r, 0, sizeof *r);
    gate_kube_call(&x->sv, &rq, r, x->agent);
    gate_call_done(&x->sv, rq.state);
    gate_req_free(&rq);
    json_decref(headers);
}

static const char *SCALE = "/apis/apps/v1/namespaces/shop/deployments/cart/scale";
static const char *MERGE = "application/merge-patch+json";

/* Where s is in the answer's body, or NULL. */
static const char *body_find(const gate_resp *r, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; r->body.s && i + n <= r->body.len; i++)
        if (!memcmp(r->body.s + i, s, n))
            return r->body.s + i;
    return NULL;
}

static int body_has(const gate_resp *r, const char *s)
{
    return body_find(r, s) != NULL;
}

/* An allowed mutation reaches production as the request built from the
 * action, and production's answer is the agent's. */
static void test_forward_2xx(void **state)
{
    fixture *x = *state;
    gate_resp r;
    call(x, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/cart/scale?timeout=10s", MERGE,
         "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 200);
    assert_true(body_has(&r, "\"replicas\":4"));
    assert_int_equal(x->f.mutations, 1);
    assert_string_equal(x->f.last_method, "PATCH");
    assert_string_equal(x->f.last_path, SCALE);   /* timeout is the gate's business, not forwarded */
    assert_non_null(strstr(x->f.last_body, "\"replicas\":4"));
    gate_resp_free(&r);
}

/* Production's refusal is passed on as it is. */
static void test_forward_5xx(void **state)
{
    fixture *x = *state;
    x->f.status = 500;
    gate_resp r;
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 500);
    assert_true(body_has(&r, "production says no"));
    gate_resp_free(&r);
}

/* How many decisions of the log are open (forwarded, no outcome). */
static size_t open_decisions(fixture *x)
{
    char err[256];
    json_t *open = gate_audit_open_decisions(x->sv.audit_dir, err, sizeof err);
    if (!open)
        fail_msg("%s", err);
    size_t n = json_array_size(open);
    json_decref(open);
    return n;
}

/* A dropped connection or a hang after the request went out: production
 * may have the change, so the answer is 504, outcome unknown, never an
 * answer from the twin as if production had taken it, and the decision
 * stays open (gate audit verify names it) until reconciled. No connection
 * at all: nothing was sent, 503, the outcome recorded (not committed). */
static void test_drop_and_hang(void **state)
{
    fixture *x = *state;
    x->f.mode = DROP;
    gate_resp r;
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 504);
    assert_true(body_has(&r, "treat the outcome as unknown"));
    gate_resp_free(&r);
    x->f.mode = HANG;
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 504);
    assert_true(body_has(&r, "timed out"));
    gate_resp_free(&r);
    assert_int_equal(open_decisions(x), 2);
    x->f.mode = REFUSE;
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 503);
    assert_true(body_has(&r, "nothing was sent"));
    gate_resp_free(&r);
    assert_int_equal(open_decisions(x), 2);

    char err[256];
    json_t *report = NULL;
    assert_int_equal(gate_audit__flush(x->sv.audit, err, sizeof err), 0);
    assert_int_equal(gate_audit_verify(x->sv.audit_dir, NULL, &report, err, sizeof err), 1);
    assert_int_equal(json_integer_value(json_object_get(report, "open_decisions")), 2);
    json_decref(report);

    /* reconciled against production's state (the twin): the fake took
     * nothing, so each closes as not committed, and the log verifies */
    assert_int_equal(gate_reconcile_open(&x->sv, 1, err, sizeof err), 2);
    assert_int_equal(open_decisions(x), 0);
    json_t *all = gate_audit_read(x->sv.audit_dir, err, sizeof err);
    json_t *last = json_array_get(all, json_array_size(all) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "type")), "outcome");
    assert_true(json_is_true(json_object_get(last, "reconciled")));
    assert_true(json_is_false(json_object_get(last, "committed")));
    assert_non_null(strstr(json_string_value(json_object_get(last, "evidence")), "from before"));
    json_decref(all);
    assert_int_equal(gate_audit_verify(x->sv.audit_dir, NULL, &report, err, sizeof err), 0);
    json_decref(report);
}

typedef struct bg {
    fixture *x;
    gate_resp r;
} bg;

static void *mutate(void *arg)
{
    bg *b = arg;
    call(b->x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":5}}", &b->r);
    return NULL;
}

/* Reads are judged while a mutation waits on production: its round trip
 * holds no lock a read needs. */
static void test_read_during_hang(void **state)
{
    fixture *x = *state;
    x->f.mode = HANG;
    bg b = {.x = x};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, mutate, &b), 0);
    for (int i = 0; i < 200; i++) {   /* until the mutation is inside production */
        pthread_mutex_lock(&x->f.mu);
        int in = x->f.hanging;
        pthread_mutex_unlock(&x->f.mu);
        if (in)
            break;
        usleep(2000);
    }
    gate_resp r;
    call(x, "GET", "/api/v1/namespaces/shop/pods", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    pthread_mutex_lock(&x->f.mu);
    int still = x->f.hanging;   /* the read was answered while the mutation still hung */
    pthread_mutex_unlock(&x->f.mu);
    assert_true(still);
    gate_resp_free(&r);
    pthread_join(th, NULL);
    assert_int_equal(b.r.status, 504);
    gate_resp_free(&b.r);
}

/* A reviewed action: its approval is used up only when production takes
 * it; a 5xx or a drop leaves it for the retry. */
static void test_approval_used_on_2xx_only(void **state)
{
    fixture *x = *state;
    server *sv = &x->sv;
    const char *big = "{\"spec\":{\"replicas\":300}}";
    const char *target = "/apis/apps/v1/namespaces/shop/deployments/checkout/scale";
    gate_resp r;
    call(x, "PATCH", target, MERGE, big, &r);
    assert_int_equal(r.status, 403);
    assert_true(body_has(&r, "approval id "));
    const char *at = body_find(&r, "approval id ");
    char id[32];
    assert_int_equal(sscanf(at + 12, "%12[0-9a-f]", id), 1);
    gate_resp_free(&r);
    assert_int_equal(x->f.mutations, 0);
    json_t *doc = NULL;
    char msg[256];
    assert_int_equal(gate_approvals_decide(sv->approvals, id, 1, "alice", "ok", gate_now(), &doc, msg, sizeof msg), 0);
    json_decref(doc);
    x->f.status = 503;
    call(x, "PATCH", target, MERGE, big, &r);
    assert_int_equal(r.status, 503);
    gate_resp_free(&r);
    x->f.mode = DROP;
    call(x, "PATCH", target, MERGE, big, &r);
    assert_int_equal(r.status, 504);
    gate_resp_free(&r);
    json_t *a = gate_approvals_get(sv->approvals, id, gate_now());
    assert_string_equal(json_string_value(json_object_get(a, "state")), "approved");
    json_decref(a);
    x->f.mode = ANSWER;
    x->f.status = 200;
    call(x, "PATCH", target, MERGE, big, &r);
    assert_int_equal(r.status, 200);
    gate_resp_free(&r);
    a = gate_approvals_get(sv->approvals, id, gate_now());
    assert_string_equal(json_string_value(json_object_get(a, "state")), "used");
    json_decref(a);
    assert_int_equal(x->f.mutations, 3);
}

/* The kill switch: no mutation reaches production; reads still do. */
static void test_freeze(void **state)
{
    fixture *x = *state;
    assert_int_equal(gate_freeze_set(x->sv.approvals, 1, "alice", "incident", gate_now()), 0);
    gate_resp r;
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 403);
    assert_true(body_has(&r, "denied by freeze: incident"));
    gate_resp_free(&r);
    assert_int_equal(x->f.mutations, 0);
    call(x, "GET", "/api/v1/namespaces/shop/pods", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    gate_resp_free(&r);
}

/* The agent's rate limit: 429 with Retry-After, nothing forwarded. */
static void test_rate_limit(void **state)
{
    fixture *x = *state;
    x->agent->per_second = 1;
    gate_resp r;
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 200);
    gate_resp_free(&r);
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 429);
    assert_non_null(json_object_get(r.headers, "Retry-After"));
    gate_resp_free(&r);
    assert_int_equal(x->f.mutations, 1);
}

/* What cannot be parsed is refused with the reason, never forwarded; a
 * denied mutation neither. */
static void test_refusals_not_forwarded(void **state)
{
    fixture *x = *state;
    gate_resp r;
    call(x, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/cart/scale?dryRun=All&dryRun=", MERGE,
         "{\"spec\":{\"replicas\":4}}", &r);
    assert_int_equal(r.status, 400);
    gate_resp_free(&r);
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":", &r);
    assert_int_equal(r.status, 400);
    gate_resp_free(&r);
    call(x, "DELETE", "/api/v1/namespaces/payments", NULL, NULL, &r);
    assert_int_equal(r.status, 403);
    assert_true(body_has(&r, "denied"));
    gate_resp_free(&r);
    assert_int_equal(x->f.mutations, 0);
}

/* ---- the torture loop: every injection point, every call in turn ----
 *
 * For each operation and each fault point (gate/base/fault.h), the 1st,
 * 2nd, ... call at that point is made to fail, each time on a fresh gate,
 * until the operation completes without reaching the armed call. After
 * each: the answer is the normal one or a clean refusal (a Status with a
 * message); nothing was forwarded without a durable decision; a 2xx
 * mutation has its outcome in the log and counts in the agent's budget;
 * the log's chain is intact and an
 * open decision remains only where the answer said the outcome is unknown
 * or the decision could not be recorded;
 * the twin is consistent (twin_check); and once the fault is gone the
 * log commits again (a failed journal sync excepted: the log then refuses
 * appends until the gate restarts, by design). */

typedef struct torture_op {
    const char *name;
    void (*prepare)(fixture *x, char *ctx);   /* before the fault is armed */
    void (*run)(fixture *x, const char *ctx, gate_resp *r);
    int mutation;                            /* a forwarded mutation */
} torture_op;

static void run_mutation(fixture *x, const char *ctx, gate_resp *r)
{
    (void)ctx;
    call(x, "PATCH", SCALE, MERGE, "{\"spec\":{\"replicas\":4}}", r);
}

/* An operators' API call as the approver alice. */
static void api_call(fixture *x, const char *method, const char *target, const char *body, gate_resp *r)
{
    gate_identity *alice = NULL;
    for (size_t i = 0; i < x->sv.agents.n; i++)
        if (!strcmp(x->sv.agents.v[i].name, "alice"))
            alice = &x->sv.agents.v[i];
    if (!alice) {
        gate_agents_add(&x->sv.agents, "alice", "11", GATE_ROLE_APPROVER);
        alice = &x->sv.agents.v[x->sv.agents.n - 1];
        x->agent = &x->sv.agents.v[0];   /* the array may have moved */
    }
    json_t *headers = json_pack("{s:s}", "Content-Type", "application/json");
    gate_req rq;
    gate_req_init(&rq, method, target, headers, body, body ? strlen(body) : 0);
    memset(r, 0, sizeof *r);
    gate_api(&x->sv, &rq, r, alice);
    gate_req_free(&rq);
    json_decref(headers);
}

static void run_freeze(fixture *x, const char *ctx, gate_resp *r)
{
    (void)ctx;
    api_call(x, "POST", "/airlock/v1/freeze", "{\"reason\":\"torture\"}", r);
}

static void prepare_review(fixture *x, char *ctx)
{
    gate_resp r;
    /* a review with a small diff (data-protection: deleting a PVC outside
     * a critical namespace): what the approval keeps stays small */
    call(x, "DELETE", "/api/v1/namespaces/analytics/persistentvolumeclaims/warehouse-scratch", NULL, NULL, &r);
    const char *at = body_find(&r, "approval id ");
    assert_non_null(at);
    assert_int_equal(sscanf(at + 12, "%12[0-9a-f]", ctx), 1);
    gate_resp_free(&r);
}

static void run_approve(fixture *x, const char *ctx, gate_resp *r)
{
    char *target = twin_xasprintf("/airlock/v1/approvals/%s/approve", ctx);
    api_call(x, "POST", target, "{\"comment\":\"ok\"}", r);
    free(target);
}

static void run_reload(fixture *x, const char *ctx, gate_resp *r)
{
    (void)ctx;
    char err[512];
    memset(r, 0, sizeof *r);
    if (gate_reload_policies(&x->sv, "torture", err, sizeof err) == 0)
        gate_resp_status(r, 200, "OK", "reloaded");
    else
        gate_resp_status(r, 503, "ServiceUnavailable", err);
}

static void run_append(fixture *x, const char *ctx, gate_resp *r)
{
    (void)ctx;
    char err[512];
    memset(r, 0, sizeof *r);
    json_t *rec = json_pack("{s:s, s:s, s:s}", "type", "freeze", "agent", "alice", "verdict", "frozen");
    if (gate_audit_event(&x->sv, rec, NULL, err, sizeof err) == 0)
        gate_resp_status(r, 200, "OK", "appended");
    else
        gate_resp_status(r, 503, "ServiceUnavailable", err);
    json_decref(rec);
}

static const torture_op OPS[] = {
    {"a judged mutation", NULL, run_mutation, 1},
    {"an approval", prepare_review, run_approve, 0},
    {"a freeze", NULL, run_freeze, 0},
    {"an audit append", NULL, run_append, 0},
    {"a policy reload", NULL, run_reload, 0},
};

/* A point an operation reaches thousands of times (every allocation of a
 * policy's Lua state) is sampled: each of the first 40 calls, then calls
 * about 15% apart, up to the last. */
static const struct {
    const char *point;
    int err, sampled;
} POINTS[] = {
    {"audit.journal.write", ENOSPC, 0}, {"audit.journal.sync", EIO, 0},        {"audit.commit", ENOSPC, 0},
    {"audit.ref", EIO, 0},              {"upstream.call", ECONNREFUSED, 0}, {"upstream.call", ETIMEDOUT, 0},
    {"sqlite.write", ENOSPC, 0},        {"sqlite.sync", EIO, 0},            {"lua.alloc", ENOMEM, 1},
};

/* The checks after one injected fault (see above). */
static void check_after_fault(fixture *x, const torture_op *op, const char *point, long n, const gate_resp *r)
{
    char err[512];
    const char *what = op->name;
    /* the answer: the normal one, or a refusal that says why */
    if (r->status < 200 || (r->status >= 300 && !body_has(r, "\"message\"")))
        fail_msg("%s, fault at %s call %ld: answered %u without a Status message", what, point, n, r->status);
    json_t *twin_problems = NULL;
    if (twin_check(x->sv.engine.twin, &twin_problems))
        fail_msg("%s, fault at %s call %ld: the twin is not consistent: %s", what, point, n,
                 json_dumps(twin_problems, JSON_COMPACT));
    json_decref(twin_problems);
    int flushed = gate_audit__flush(x->sv.audit, err, sizeof err);   /* the fault is gone: it commits */
    if (flushed < 0 && strcmp(point, "audit.journal.sync"))
        fail_msg("%s, fault at %s call %ld: the log does not recover: %s", what, point, n, err);
    json_t *recs = gate_audit_read(x->sv.audit_dir, err, sizeof err);
    if (!recs)
        fail_msg("%s, fault at %s call %ld: the log cannot be read: %s", what, point, n, err);
    size_t forwarded = 0, took = 0, i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
        const char *type = json_string_value(json_object_get(rec, "type"));
        forwarded += type && !strcmp(type, "decision") && json_object_get(rec, "forwarded");
        took += type && !strcmp(type, "outcome") && json_is_true(json_object_get(rec, "committed"));
    }
    json_decref(recs);
    if ((size_t)x->f.mutations > forwarded)
        fail_msg("%s, fault at %s call %ld: %d mutations reached production, %zu recorded as forwarded", what,
                 point, n, x->f.mutations, forwarded);
    if (op->mutation && r->status >= 200 && r->status < 300 && !took)
        fail_msg("%s, fault at %s call %ld: answered %u without its outcome in the log", what, point, n, r->status);
    if (op->mutation && r->status >= 200 && r->status < 300) {   /* the agent's budget counts it, whatever failed */
        json_t *t = gate_history_totals(x->sv.engine.history, x->agent->name, gate_now(), 3600);
        if (json_integer_value(json_object_get(t, "actions")) < 1)
            fail_msg("%s, fault at %s call %ld: answered %u but the agent's budget history does not count it", what,
                     point, n, r->status);
        json_decref(t);
    }
    json_t *report = NULL;
    int v = gate_audit_verify(x->sv.audit_dir, NULL, &report, err, sizeof err);
    if (v < 0)
        fail_msg("%s, fault at %s call %ld: verify: %s", what, point, n, err);
    json_int_t open = json_integer_value(json_object_get(report, "open_decisions"));
    size_t problems = json_array_size(json_object_get(report, "problems"));
    if (problems != (size_t)open)
        fail_msg("%s, fault at %s call %ld: the log has problems besides open decisions: %s", what, point, n,
                 json_dumps(report, JSON_COMPACT));
    /* open: the answer said the outcome is unknown, or that the decision
     * itself could not be made durable (then it was never forwarded, and
     * the next start closes it as not taken) */
    if (open && !body_has(r, "treat the outcome as unknown") && !body_has(r, "could not be recorded"))
        fail_msg("%s, fault at %s call %ld: an open decision, but the answer (%u) did not say the outcome is "
                 "unknown", what, point, n, r->status);
    json_decref(report);
}

static void torture_one(const torture_op *op, const char *point, int errnum, int sampled)
{
    long limit = sampled ? 1000000 : 100, tried = 0;
    for (long n = 1; n <= limit; n = sampled && n >= 40 ? n + n / 7 : n + 1) {
        tried++;
        void *st = NULL;
        assert_int_equal(setup(&st), 0);
        fixture *x = st;
        char ctx[64] = "";
        if (op->prepare)
            op->prepare(x, ctx);
        /* the flusher commits inside the armed window, deterministically */
        gate_audit__pause_flusher(x->sv.audit, 1);
        gate_fault_arm(point, n, errnum, 0);
        gate_resp r;
        op->run(x, ctx, &r);
        char ferr[256];
        (void)gate_audit__flush(x->sv.audit, ferr, sizeof ferr);
        int fired = gate_fault_fired();
        gate_fault_disarm();
        gate_audit__pause_flusher(x->sv.audit, 0);
        check_after_fault(x, op, point, n, &r);
        int ok = r.status >= 200 && r.status < 300;
        gate_resp_free(&r);
        teardown(&st);
        if (!fired) {   /* it ran to the end without reaching the nth call */
            if (!ok && strncmp(point, "upstream", 8))
                fail_msg("%s: without a fault (%s call %ld never reached) it was refused", op->name, point, n);
            printf("torture: %s, %s (%s): %ld faults injected in turn%s, each handled\n", op->name, point,
                   strerror(errnum), tried - 1, sampled && n > 40 ? " (sampled)" : "");
            return;
        }
    }
    fail_msg("%s: still reaching %s after %ld calls", op->name, point, limit);
}

static void test_torture(void **state)
{
    (void)state;
    if (!gate_fault_available())
        skip();   /* a build without fault injection (make test has it) */
    gate_fault_sqlite();   /* before the fixtures open gate.db */
    for (size_t o = 0; o < sizeof OPS / sizeof *OPS; o++)
        for (size_t p = 0; p < sizeof POINTS / sizeof *POINTS; p++)
            torture_one(&OPS[o], POINTS[p].point, POINTS[p].err, POINTS[p].sampled);
}

int main(void)
{
    json_set_alloc_funcs(twin_xmalloc, free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forward_2xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_5xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_and_hang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_during_hang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approval_used_on_2xx_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freeze, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_not_forwarded, setup, teardown),
        cmocka_unit_test(test_torture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
