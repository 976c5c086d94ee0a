/*
 * test_engine.c - the request as the gate reads it and as production
 * receives it (gate/kube/k8s.c: gate_action_parse, gate_action_wire), and the
 * engine's view for policies (gate/engine/engine.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gate/engine/engine.h"
#include "gate/kube/k8s.h"
#include "twin/util.h"

typedef struct fixture {
    twin *t;
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = twin_xcalloc(1, sizeof *f);
    char err[1024];
    snprintf(f->dir, sizeof f->dir, "/tmp/test_engine.XXXXXX");
    if (!mkdtemp(f->dir) || twin_open(&f->t, NULL, err, sizeof err) < 0 ||
        twin_load_pricing(f->t, "fixtures/pricing.json", err, sizeof err) < 0 ||
        twin_import_path(f->t, "fixtures/demo", err, sizeof err) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    twin_close(f->t);
    char *cmd = twin_xasprintf("rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Parses one request as the server would receive it (ct and body may be
 * NULL); the status, 0 with *a filled. */
static int parse(const fixture *f, gate_action *a, const char *method, const char *path, const char *ct,
                 const char *body, char *err, size_t errlen)
{
    json_t *headers = ct ? json_pack("{s:s}", "Content-Type", ct) : json_object();
    int code = gate_action_parse(a, f->t, method, path, headers, NULL, body, body ? strlen(body) : 0, err, errlen);
    json_decref(headers);
    return code;
}

/* ---- what the parser refuses, and why ---- */

static const struct refusal {
    const char *method, *path, *ct, *body;
    int code;
    const char *says;
} REFUSALS[] = {
    /* the security review's forms */
    {"DELETE", "/api/v1/namespaces/payments/pods%3Fx%3D%23%26fieldSelector%3Dmetadata.name%253Dnone", NULL, NULL, 400,
     "encoded '/', '?' or '#'"},
    {"DELETE", "/api/v1/namespaces/payments/pods#?labelSelector=x", NULL, NULL, 400, "fragment"},
    {"DELETE", "/api/v1/namespaces/payments/pods?labelSelector=&labelSelector=app%3Dnothing", NULL, NULL, 400,
     "more than once"},
    {"DELETE", "/apis/apps/v1/namespaces/shop/deployments/cart?propagationPolicy=Orphan", "application/json",
     "{\"kind\":\"DeleteOptions\"}", 400, "differs from the body"},
    {"GET", "/api/v1/namespaces/shop/configmaps/x%0Aairlock:%20forged", NULL, NULL, 400, "control character"},
    /* read two ways otherwise */
    {"DELETE", "/api/v1/namespaces/payments/pods?labelSelector=app%3Dx;y", NULL, NULL, 400, "';'"},
    {"PATCH", "/api/v1/namespaces/shop/configmaps/frontend-config?fieldManagr=x", "application/merge-patch+json",
     "{}", 400, "fieldManagr"},
    {"GET", "/api/v1/namespaces/shop/pods?watch=yes", NULL, NULL, 400, "send true or false"},
    {"GET", "/api/v1/namespaces/shop/pods?watch=", NULL, NULL, 400, "send true or false"},
    {"DELETE", "/api/v1/namespaces/shop/pods/x?gracePeriodSeconds=1e3", NULL, NULL, 400, "decimal integer"},
    {"GET", "/api/v1/namespaces/shop/pods/x?watch=true", NULL, NULL, 400, "fieldSelector=metadata.name"},
    {"DELETE", "/api/v1/namespaces/shop/pods/x", "application/json", "{\"ignoreStoreReadErrorWithClusterBreakingPotential\":true}",
     400, "no field"},
    {"DELETE", "/api/v1/namespaces/shop/pods/x", "application/json",
     "{\"orphanDependents\":true,\"propagationPolicy\":\"Background\"}", 422, "cannot be both set"},
    {"PATCH", "/api/v1/namespaces/shop/configmaps/x?force=true", "application/merge-patch+json", "{}", 400,
     "only allowed for apply"},
    {"GET", "/api/v1/namespaces/shop/pods?timeout=10x", NULL, NULL, 400, "duration"},
    {"GET", "/api/v1/namespaces/shop/configmaps", "application/json", "{}", 400, "carries no body"},
};

static void parse_refuses_what_could_be_read_two_ways(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof REFUSALS / sizeof REFUSALS[0]; i++) {
        const struct refusal *r = &REFUSALS[i];
        gate_action a;
        char err[1024];
        int code = parse(f, &a, r->method, r->path, r->ct, r->body, err, sizeof err);
        if (code != r->code || !strstr(err, r->says))
            fail_msg("%s %s: got %d (%s), want %d saying \"%s\"", r->method, r->path, code, code ? err : "accepted",
                     r->code, r->says);
    }
}

static void parse_accepts_what_kubectl_sends(void **state)
{
    fixture *f = *state;
    static const char *OK[] = {
        "/api/v1/namespaces/shop/pods?limit=500&timeout=32s",
        "/api/v1/namespaces/shop/pods?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dx&resourceVersion=5"
        "&timeoutSeconds=386&watch=true",
        "/api/v1/namespaces/shop/pods/x/log?container=c&follow=true&tailLines=10",
        "/api/v1/namespaces/shop/pods?includeObject=Object&pretty=true",
    };
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++) {
        gate_action a;
        char err[1024];
        int code = parse(f, &a, "GET", OK[i], NULL, NULL, err, sizeof err);
        if (code)
            fail_msg("GET %s: %d %s", OK[i], code, err);
        gate_action_free(&a);
    }
    /* the same propagation in body and query says one thing: accepted */
    gate_action a;
    char err[1024];
    assert_int_equal(parse(f, &a, "DELETE", "/api/v1/namespaces/monitoring?propagationPolicy=Foreground",
                           "application/json", "{\"kind\":\"DeleteOptions\",\"propagationPolicy\":\"Foreground\"}",
                           err, sizeof err),
                     0);
    gate_action_free(&a);
}

/* ---- what production receives ---- */

static const struct wire_case {
    const char *method, *path, *ct, *body;
    const char *want_path, *want_ct, *want_body;
} WIRES[] = {
    /* the query's DeleteOptions become the body; no query remains */
    {"DELETE", "/apis/apps/v1/namespaces/shop/deployments/cart?propagationPolicy=Orphan", NULL, NULL,
     "/apis/apps/v1/namespaces/shop/deployments/cart", "application/json",
     "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Orphan\"}"},
    /* a Job's default propagation, made explicit (the API server orphans a Job's pods) */
    {"DELETE", "/apis/batch/v1/namespaces/shop/jobs/x", NULL, NULL, "/apis/batch/v1/namespaces/shop/jobs/x",
     "application/json", "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Orphan\"}"},
    /* orphanDependents and the grace period, read from the body */
    {"DELETE", "/api/v1/namespaces/shop/pods/x", "application/json",
     "{\"orphanDependents\":false,\"gracePeriodSeconds\":0,\"preconditions\":{\"uid\":\"u1\"}}",
     "/api/v1/namespaces/shop/pods/x", "application/json",
     "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Background\",\"gracePeriodSeconds\":0,"
     "\"preconditions\":{\"uid\":\"u1\"}}"},
    /* a collection delete keeps its selectors, re-encoded */
    {"DELETE", "/api/v1/namespaces/shop/pods?labelSelector=app+in+(a%2Cb)", NULL, NULL,
     "/api/v1/namespaces/shop/pods?labelSelector=app%20in%20%28a%2Cb%29", "application/json",
     "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Background\"}"},
    /* YAML goes as the JSON it was read to (YAML 1.1, as the API server's
     * sigs.k8s.io/yaml reads it: the key `on` is true); a segment is re-encoded */
    {"PATCH", "/api/v1/namespaces/shop/configmaps/a%3Ab?fieldManager=kubectl&force=True&fieldValidation=Strict",
     "application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 'a:b'}\ndata: {on: 'yes'}\n",
     "/api/v1/namespaces/shop/configmaps/a%3Ab?fieldManager=kubectl&fieldValidation=Strict&force=true",
     "application/apply-patch+yaml",
     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a:b\"},\"data\":{\"true\":\"yes\"}}"},
    /* reads: the known options in a fixed order, pretty dropped */
    {"GET", "/api/v1/namespaces/shop/pods?watch=1&pretty=true&labelSelector=app%3Dweb&timeout=5s", NULL, NULL,
     "/api/v1/namespaces/shop/pods?timeout=5s&labelSelector=app%3Dweb&watch=true", NULL, NULL},
};

static void wire_is_built_from_the_action(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof WIRES / sizeof WIRES[0]; i++) {
        const struct wire_case *c = &WIRES[i];
        gate_action a;
        char err[1024];
        int code = parse(f, &a, c->method, c->path, c->ct, c->body, err, sizeof err);
        if (code)
            fail_msg("%s %s: %d %s", c->method, c->path, code, err);
        gate_wire w;
        gate_action_wire(&a, &w);
        if (strcmp(w.path_query, c->want_path))
            fail_msg("%s %s: forwarded as %s, want %s", c->method, c->path, w.path_query, c->want_path);
        if ((c->want_ct || w.content_type) && (!c->want_ct || !w.content_type || strcmp(c->want_ct, w.content_type)))
            fail_msg("%s %s: content type %s, want %s", c->method, c->path, w.content_type ? w.content_type : "none",
                     c->want_ct ? c->want_ct : "none");
        if (c->want_body) {
            json_t *got = json_loadb(w.body, w.len, 0, NULL), *want = json_loads(c->want_body, 0, NULL);
            if (!json_equal(got, want))
                fail_msg("%s %s: body %.*s, want %s", c->method, c->path, (int)w.len, w.body, c->want_body);
            json_decref(got);
            json_decref(want);
        } else {
            assert_null(w.body);
        }
        gate_wire_free(&w);
        gate_action_free(&a);
    }
}

/* ---- the policies' view ---- */

/* A read judged while a forwarded mutation is held open (enforce mode lets
 * reads in during production's round trip) sees the committed state, not
 * the change production has not taken yet. */
static void a_read_never_sees_a_held_mutation(void **state)
{
    fixture *f = *state;
    char *dir = twin_xasprintf("%s/probe", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    char *file = twin_xasprintf("%s/probe.lua", dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("return { name = \"probe\", description = \"test\", evaluate = function(ctx)\n"
          "  if ctx.action.verb == \"get\" or ctx.action.verb == \"list\" then\n"
          "    for _, when in ipairs({\"before\", \"after\"}) do\n"
          "      local d = ctx.twin.get(\"Deployment\", \"shop\", \"cart\", when)\n"
          "      if d and d.spec.replicas == 7 then return deny(\"saw the held change (\" .. when .. \")\") end\n"
          "      for _, x in ipairs(ctx.twin.list(\"Deployment\", \"shop\", \"\", when)) do\n"
          "        if x.metadata.name == \"cart\" and x.spec.replicas == 7 then return deny(\"listed it\") end\n"
          "      end\n"
          "    end\n"
          "  end\n"
          "  return allow()\n"
          "end }\n",
          fp);
    fclose(fp);
    gate_policy_set *ps;
    char err[1024];
    if (gate_policy_load(&ps, dir, err, sizeof err) < 0)
        fail_msg("%s", err);
    gate_engine e = {.twin = f->t, .policies = ps, .hold = 1, .reads_elsewhere = 1};
    json_t *h = json_pack("{s:s}", "Content-Type", "application/merge-patch+json");
    const char *scale = "{\"spec\":{\"replicas\":7}}";
    gate_decision m, r;
    gate_decide(&e, "ops-bot", "PATCH", "/apis/apps/v1/namespaces/shop/deployments/cart/scale", h, NULL, scale,
                strlen(scale), &m);
    assert_int_equal(m.verdict, GATE_ALLOW);
    assert_true(m.held);
    gate_decide(&e, "ops-bot", "GET", "/api/v1/namespaces/shop/configmaps", NULL, NULL, NULL, 0, &r);
    if (r.verdict != GATE_ALLOW)
        fail_msg("the read was judged on the held change: %s", r.message);
    assert_int_equal(gate_finish(&e, &m, 0), 0);   /* production refused it: rolled back */
    gate_decision_free(&r);
    gate_decision_free(&m);
    json_t *d = twin_get(f->t, TWIN_AFTER, "Deployment", "shop", "cart");
    assert_int_not_equal(json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas")), 7);
    json_decref(d);
    json_decref(h);
    gate_policy_free(ps);
    free(file);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(parse_refuses_what_could_be_read_two_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(parse_accepts_what_kubectl_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(wire_is_built_from_the_action, setup, teardown),
        cmocka_unit_test_setup_teardown(a_read_never_sees_a_held_mutation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
