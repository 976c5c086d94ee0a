/*
 * test_twin_impact.c - what an operation did, as policies read it
 * (twin/impact.c): the change records of DESIGN.md (op, kind, cause,
 * parent), and the impact record at the instant and once settled - pods
 * disrupted, Services emptied, workloads degraded, hourly cost, counts,
 * namespaces touched, the cluster before.
 */
#include "twin_testlib.h"

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

static twin *cluster(json_t *more)
{
    json_t *docs = json_pack("[o, o, o, o]", tt_node("n1", "4", "16Gi", NULL), tt_node("n2", "4", "16Gi", NULL),
                             tt_namespace("default", NULL), tt_namespace("app", NULL));
    if (more) {
        json_array_extend(docs, more);
        json_decref(more);
    }
    return tt_cluster(docs);
}

static const char *rs_name(twin *t, const char *app)
{
    static char name[128];
    char sel[64];
    snprintf(sel, sizeof sel, "app=%s", app);
    json_t *rss = tt_list(t, TWIN_AFTER, "ReplicaSet", "app", sel);
    assert_int_equal(json_array_size(rss), 1);
    snprintf(name, sizeof name, "%s", tt_str(json_array_get(rss, 0), "metadata.name"));
    json_decref(rss);
    return name;
}

/* The records of res->diff for kind (all of them when name is NULL). */
static json_t *records(const twin_result *res, const char *kind, const char *name)
{
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(res->diff, i, r) {
        if (!strcmp(tt_str(r, "kind"), kind) && (!name || !strcmp(tt_str(r, "name"), name)))
            json_array_append(out, r);
    }
    return out;
}

static void expect_record(const json_t *r, const char *op, const char *cause, const char *parent)
{
    assert_string_equal(tt_str(r, "op"), op);
    assert_string_equal(tt_str(r, "cause"), cause);
    if (parent)
        assert_string_equal(tt_str(r, "parent"), parent);
    else
        assert_true(tt_path(r, "parent") == NULL || json_is_null(tt_path(r, "parent")));
    /* before and after as the op says */
    json_t *before = tt_path(r, "before"), *after = tt_path(r, "after");
    assert_int_equal(json_is_object(before), strcmp(op, "create") != 0);
    assert_int_equal(json_is_object(after), strcmp(op, "delete") != 0);
}

/* ---- diff ---- */

static void test_diff_scale_down(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o, o]", tt_deploy("app", "web", 3, NULL), tt_service("app", "web", "web")));
    char rs[128], rs_parent[160];
    snprintf(rs, sizeof rs, "%s", rs_name(t, "web"));
    snprintf(rs_parent, sizeof rs_parent, "ReplicaSet/app/%s", rs);
    json_t *patch = tj("{'spec':{'replicas':1}}");
    twin_result res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_int_equal(res.code, 200);

    json_t *d = records(&res, "Deployment", "web");
    assert_int_equal(json_array_size(d), 1);
    expect_record(json_array_get(d, 0), "update", "direct", NULL);
    assert_string_equal(tt_str(json_array_get(d, 0), "namespace"), "app");
    assert_int_equal(tt_int(json_array_get(d, 0), "before.spec.replicas"), 3);
    assert_int_equal(tt_int(json_array_get(d, 0), "after.spec.replicas"), 1);
    json_decref(d);

    json_t *r = records(&res, "ReplicaSet", rs);
    assert_int_equal(json_array_size(r), 1);
    expect_record(json_array_get(r, 0), "update", "cascade", "Deployment/app/web");
    assert_int_equal(tt_int(json_array_get(r, 0), "after.spec.replicas"), 1);
    json_decref(r);

    json_t *pods = records(&res, "Pod", NULL);
    assert_int_equal(json_array_size(pods), 2);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        expect_record(p, "delete", "cascade", rs_parent);
        assert_null(twin_get(t, TWIN_AFTER, "Pod", "app", tt_str(p, "name")));
    }
    json_decref(pods);

    json_t *ep = records(&res, "Endpoints", "web");
    assert_int_equal(json_array_size(ep), 1);
    expect_record(json_array_get(ep, 0), "update", "cascade", "Service/app/web");
    json_decref(ep);
    /* and nothing else */
    assert_int_equal(json_array_size(res.diff), 5);

    /* the counts say the same */
    json_t *want = tj("{'Deployment':{'update':1},'ReplicaSet':{'update':1},'Pod':{'delete':2},'Endpoints':{'update':1}}");
    if (!json_equal(tt_path(res.impact, "counts.by_kind"), want)) {
        tt_dump("by_kind", tt_path(res.impact, "counts.by_kind"));
        fail();
    }
    json_decref(want);
    want = tj("{'create':0,'update':3,'delete':2}");
    assert_true(json_equal(tt_path(res.impact, "counts.by_op"), want));
    json_decref(want);
    want = tj("['app']");
    assert_true(json_equal(tt_path(res.impact, "namespaces_touched"), want));
    json_decref(want);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    twin_close(t);
}

static void test_diff_namespace_deletion(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o, o, o, o]", tt_deploy("app", "web", 2, NULL), tt_service("app", "web", "web"),
        tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cfg','namespace':'app'}}"),
        tt_deploy("default", "other", 1, NULL)));
    twin_result res = tt_apply(t, tt_delete("Namespace", NULL, "app", NULL));
    assert_int_equal(res.code, 200);
    /* the namespace itself: direct; everything in it: a cascade from it */
    json_t *ns = records(&res, "Namespace", "app");
    assert_int_equal(json_array_size(ns), 1);
    expect_record(json_array_get(ns, 0), "delete", "direct", NULL);
    assert_true(tt_path(json_array_get(ns, 0), "namespace") == NULL ||
                json_is_null(tt_path(json_array_get(ns, 0), "namespace")));
    json_decref(ns);
    size_t i;
    json_t *r;
    int seen_pod = 0, seen_rs = 0, seen_ep = 0, seen_cm = 0;
    json_array_foreach(res.diff, i, r) {
        if (!strcmp(tt_str(r, "kind"), "Namespace"))
            continue;
        assert_string_equal(tt_str(r, "namespace"), "app");
        expect_record(r, "delete", "cascade", "Namespace//app");
        seen_pod += !strcmp(tt_str(r, "kind"), "Pod");
        seen_rs += !strcmp(tt_str(r, "kind"), "ReplicaSet");
        seen_ep += !strcmp(tt_str(r, "kind"), "Endpoints");
        seen_cm += !strcmp(tt_str(r, "kind"), "ConfigMap");
    }
    assert_int_equal(seen_pod, 2);
    assert_int_equal(seen_rs, 1);
    assert_int_equal(seen_ep, 1);
    assert_int_equal(seen_cm, 1);
    json_t *want = tj("['app']");
    assert_true(json_equal(tt_path(res.impact, "namespaces_touched"), want));
    json_decref(want);
    assert_int_equal(tt_int(res.impact, "counts.by_op.delete"), (long)json_array_size(res.diff));
    assert_int_equal(tt_int(res.impact, "counts.by_kind.Pod.delete"), 2);
    assert_int_equal(tt_int(res.impact, "pods_disrupted"), 2);
    assert_true(tt_has(tt_path(res.impact, "settled.services_emptied"), "name", "web", NULL));
    assert_true(json_is_true(tt_path(res.impact, "settled.services_emptied.0.deleted")));
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
}

/* A StatefulSet's rollout deletes db-2 and creates db-2 again: two objects
 * (two uids) under one name, so a delete and a create, and a disruption. */
static void test_diff_replaced_pod(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o]", tj("{'apiVersion':'apps/v1','kind':'StatefulSet','metadata':{'name':'db','namespace':'app'},"
                  "'spec':{'replicas':2,'serviceName':'db','selector':{'matchLabels':{'app':'db'}},"
                  "'template':{'metadata':{'labels':{'app':'db'}},'spec':{'containers':[{'name':'db',"
                  "'image':'postgres:16'}]}}}}")));
    json_t *patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'db','image':'postgres:17'}]}}}}");
    twin_request req = tt_merge("StatefulSet", "app", "db", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    twin_result res = tt_apply(t, req);
    json_t *recs = records(&res, "Pod", "db-1");
    assert_int_equal(json_array_size(recs), 2);
    json_t *del = json_array_get(recs, 0), *cre = json_array_get(recs, 1);
    expect_record(del, "delete", "cascade", "StatefulSet/app/db");
    expect_record(cre, "create", "cascade", "StatefulSet/app/db");
    assert_string_equal(tt_str(del, "before.spec.containers.0.image"), "postgres:16");
    assert_string_equal(tt_str(cre, "after.spec.containers.0.image"), "postgres:17");
    assert_string_not_equal(tt_str(del, "before.metadata.uid"), tt_str(cre, "after.metadata.uid"));
    json_decref(recs);
    assert_int_equal(tt_int(res.impact, "counts.by_kind.Pod.delete"), 2);
    assert_int_equal(tt_int(res.impact, "counts.by_kind.Pod.create"), 2);
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 1);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 2);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    twin_close(t);
}

/* ---- pods disrupted ---- */

static void test_pods_disrupted_instant_vs_settled(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 4, NULL)));
    /* rolling update (25%/25%): one old pod goes at once, all four by the end */
    json_t *patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','image':'nginx:1.26'}]}}}}");
    twin_request req = tt_merge("Deployment", "app", "web", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    twin_result res = tt_apply(t, req);
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 1);
    assert_int_equal(json_array_size(tt_path(res.impact, "instant.pods")), 1);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 4);
    assert_int_equal(json_array_size(tt_path(res.impact, "settled.pods")), 4);
    /* the headline number is the instant's */
    assert_int_equal(tt_int(res.impact, "pods_disrupted"), 1);
    /* the pods named are "namespace/name" of pods that were Ready before */
    json_t *before = tt_list(t, TWIN_BEFORE, "Pod", "app", NULL);
    size_t i;
    json_t *p;
    json_array_foreach(tt_path(res.impact, "settled.pods"), i, p) {
        const char *ref = json_string_value(p);
        assert_memory_equal(ref, "app/", 4);
        assert_true(tt_has(before, "metadata.name", ref + 4, NULL));
    }
    json_decref(before);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* scale to zero: all at once */
    patch = tj("{'spec':{'replicas':0}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 4);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 4);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* a scale-up disrupts nothing */
    patch = tj("{'spec':{'replicas':6}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 0);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 0);
    assert_int_equal(json_array_size(tt_path(res.impact, "settled.workloads_degraded")), 0);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    twin_close(t);
}

/* ---- services emptied ---- */

static void test_services_emptied(void **state)
{
    (void)state;
    /* pods labelled track=v1, selected by the Service on app and track */
    twin *t = cluster(json_pack(
        "[o, o]", tt_deploy("app", "web", 4, tj("{'spec':{'template':{'metadata':{'labels':{'track':'v1'}}}}}")),
        tj("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','namespace':'app'},'spec':{'selector':"
           "{'app':'web','track':'v1'},'ports':[{'port':80,'targetPort':8080}]}}")));
    /* a template change whose pods no longer match: the old pods still serve
     * at the instant, none are left once the rollout is done */
    json_t *patch = tj("{'spec':{'template':{'metadata':{'labels':{'track':'v2'}}}}}");
    twin_result res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_int_equal(res.code, 200);
    assert_int_equal(json_array_size(tt_path(res.impact, "instant.services_emptied")), 0);
    json_t *emptied = tt_path(res.impact, "settled.services_emptied");
    assert_int_equal(json_array_size(emptied), 1);
    json_t *e = json_array_get(emptied, 0);
    assert_string_equal(tt_str(e, "namespace"), "app");
    assert_string_equal(tt_str(e, "name"), "web");
    assert_int_equal(tt_int(e, "ready_before"), 4);
    assert_int_equal(tt_int(e, "ready_after"), 0);
    assert_true(json_is_false(tt_path(e, "deleted")));
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* an image change keeps the labels: never emptied */
    patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','image':'nginx:1.26'}]}}}}");
    twin_request req = tt_merge("Deployment", "app", "web", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    res = tt_apply(t, req);
    assert_int_equal(json_array_size(tt_path(res.impact, "instant.services_emptied")), 0);
    assert_int_equal(json_array_size(tt_path(res.impact, "settled.services_emptied")), 0);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* scale to zero: emptied at once */
    patch = tj("{'spec':{'replicas':0}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_true(tt_has(tt_path(res.impact, "instant.services_emptied"), "name", "web", NULL));
    assert_true(tt_has(tt_path(res.impact, "settled.services_emptied"), "name", "web", NULL));
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    twin_close(t);
}

/* ---- workloads degraded ---- */

static void test_workloads_degraded(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o, o]", tt_deploy("app", "web", 4, NULL), tt_deploy("app", "api", 2, NULL)));
    json_t *patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','image':'nginx:1.26'}]}}}}");
    twin_request req = tt_merge("Deployment", "app", "web", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    twin_result res = tt_apply(t, req);
    json_t *deg = tt_path(res.impact, "instant.workloads_degraded");
    assert_int_equal(json_array_size(deg), 1);
    json_t *w = json_array_get(deg, 0);
    assert_string_equal(tt_str(w, "kind"), "Deployment");
    assert_string_equal(tt_str(w, "namespace"), "app");
    assert_string_equal(tt_str(w, "name"), "web");
    assert_int_equal(tt_int(w, "ready_before"), 4);
    assert_int_equal(tt_int(w, "ready_after"), 3);
    assert_int_equal(tt_int(w, "desired"), 4);
    assert_true(json_is_false(tt_path(w, "deleted")));
    /* once rolled out, back to 4 Ready: not degraded */
    assert_int_equal(json_array_size(tt_path(res.impact, "settled.workloads_degraded")), 0);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* a scale-down degrades to the new count */
    patch = tj("{'spec':{'replicas':1}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "api", patch));
    w = tt_path(res.impact, "settled.workloads_degraded.0");
    assert_string_equal(tt_str(w, "name"), "api");
    assert_int_equal(tt_int(w, "ready_before"), 2);
    assert_int_equal(tt_int(w, "ready_after"), 1);
    assert_int_equal(tt_int(w, "desired"), 1);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* deleted: named as deleted, with what it wanted before */
    res = tt_apply(t, tt_delete("Deployment", "app", "web", NULL));
    deg = tt_path(res.impact, "settled.workloads_degraded");
    assert_int_equal(json_array_size(deg), 1);
    w = json_array_get(deg, 0);
    assert_string_equal(tt_str(w, "name"), "web");
    assert_int_equal(tt_int(w, "ready_before"), 4);
    assert_int_equal(tt_int(w, "ready_after"), 0);
    assert_int_equal(tt_int(w, "desired"), 4);
    assert_true(json_is_true(tt_path(w, "deleted")));
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
}

/* ---- cost ---- */

/* fixtures/pricing.json: m5.xlarge 0.192/h; pods 0.04048 per vCPU-hour and
 * 0.004445 per GiB-hour; 0.0225 per LoadBalancer; 0.000137 per GiB of claim. */
#define NODE_HOUR 0.192
#define BIG_POD (0.25 * 0.04048 + 0.5 * 0.004445)   /* 250m, 512Mi */

static void test_cost_scale_up(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o]", tt_deploy("app", "web", 2, tj("{'spec':{'template':{'spec':{'containers':[{'name':'app',"
                                             "'image':'nginx:1.25','resources':{'requests':{'cpu':'250m',"
                                             "'memory':'512Mi'}}}]}}}}"))));
    double base = 2 * NODE_HOUR + 2 * BIG_POD;
    assert_true(near(twin_cost_total(t), base));
    json_t *patch = tj("{'spec':{'replicas':5}}");
    twin_result res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_true(near(tt_num(res.impact, "cost.before"), base));
    assert_true(near(tt_num(res.impact, "cost.after"), base + 3 * BIG_POD));
    assert_true(near(tt_num(res.impact, "cost.delta"), 3 * BIG_POD));
    /* the new pods exist at the instant already (they cost from creation) */
    assert_true(near(tt_num(res.impact, "cost_instant.delta"), 3 * BIG_POD));
    twin_result_free(&res);
    twin_commit(t);
    assert_true(near(twin_cost_total(t), base + 3 * BIG_POD));
    json_decref(patch);

    /* a pod that cannot be scheduled still costs what it asks for */
    patch = tj("{'spec':{'replicas':100}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_true(near(tt_num(res.impact, "cost.delta"), 95 * BIG_POD));
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    twin_close(t);
}

static void test_cost_load_balancer(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 1, NULL)));
    double base = twin_cost_total(t);
    json_t *lb = tj("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web-lb','namespace':'app'},'spec':{"
                    "'type':'LoadBalancer','selector':{'app':'web'},'ports':[{'port':80,'targetPort':8080}]}}");
    twin_result res = tt_apply(t, tt_create(lb));
    assert_int_equal(res.code, 201);
    assert_true(near(tt_num(res.impact, "cost.before"), base));
    assert_true(near(tt_num(res.impact, "cost.delta"), 0.0225));
    assert_true(near(tt_num(res.impact, "cost.after"), base + 0.0225));
    assert_int_equal(tt_int(res.impact, "counts.by_kind.Service.create"), 1);
    assert_int_equal(tt_int(res.impact, "counts.by_kind.Endpoints.create"), 1);
    twin_result_free(&res);
    twin_commit(t);
    /* a ClusterIP Service is free; turning it into a LoadBalancer is not */
    json_t *svc = tt_service("app", "web", "web");
    res = tt_apply(t, tt_create(svc));
    assert_true(near(tt_num(res.impact, "cost.delta"), 0));
    twin_result_free(&res);
    twin_commit(t);
    json_t *patch = tj("{'spec':{'type':'LoadBalancer'}}");
    res = tt_apply(t, tt_merge("Service", "app", "web", patch));
    assert_true(near(tt_num(res.impact, "cost.delta"), 0.0225));
    twin_result_free(&res);
    twin_rollback(t);
    /* deleting the LoadBalancer saves it */
    res = tt_apply(t, tt_delete("Service", "app", "web-lb", NULL));
    assert_true(near(tt_num(res.impact, "cost.delta"), -0.0225));
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    json_decref(svc);
    json_decref(lb);
    twin_close(t);
}

/* ---- namespaces touched, the cluster before, an empty impact ---- */

static void test_namespaces_touched_and_cluster(void **state)
{
    (void)state;
    /* one node holds pods of two namespaces; deleting it touches both */
    twin *t = tt_cluster(json_pack(
        "[o, o, o, o, o]", tt_node("n1", "4", "16Gi", NULL), tt_namespace("a", NULL), tt_namespace("b", NULL),
        tt_deploy("a", "web", 2, NULL),
        tt_deploy("b", "big", 2, tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','image':'x',"
                                    "'resources':{'requests':{'cpu':'3'}}}]}}}}"))));
    /* big does not fit twice: 3 pods Running and Ready, 1 Pending */
    twin_result res = tt_apply(t, tt_delete("Node", NULL, "n1", NULL));
    assert_int_equal(res.code, 200);
    json_t *nss = tt_path(res.impact, "namespaces_touched");
    assert_int_equal(json_array_size(nss), 2);
    json_t *want1 = tj("['a','b']"), *want2 = tj("['b','a']");
    assert_true(json_equal(nss, want1) || json_equal(nss, want2));
    json_decref(want1);
    json_decref(want2);
    assert_int_equal(tt_int(res.impact, "cluster.running_pods_before"), 3);
    assert_int_equal(tt_int(res.impact, "cluster.pods_before"), 4);
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 3);
    assert_int_equal(tt_int(res.impact, "counts.by_kind.Node.delete"), 1);
    /* the node's own price goes with it */
    assert_true(tt_num(res.impact, "cost.delta") < -NODE_HOUR + 1e-9);
    twin_result_free(&res);
    twin_rollback(t);

    /* a cluster-scoped change with no namespaced consequence touches none */
    json_t *patch = tj("{'metadata':{'labels':{'zone':'z1'}}}");
    res = tt_apply(t, tt_merge("Node", NULL, "n1", patch));
    assert_int_equal(json_array_size(tt_path(res.impact, "namespaces_touched")), 0);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* an error changes nothing: the empty impact, with every field present */
    res = tt_apply(t, tt_delete("Deployment", "a", "nope", NULL));
    assert_int_equal(res.code, 404);
    json_t *empty = twin_impact_empty();
    assert_true(json_equal(res.impact, empty));
    assert_int_equal(tt_int(empty, "pods_disrupted"), 0);
    assert_non_null(tt_path(empty, "instant.services_emptied"));
    assert_non_null(tt_path(empty, "settled.workloads_degraded"));
    assert_non_null(tt_path(empty, "cost.delta"));
    assert_non_null(tt_path(empty, "reachability.added"));
    assert_non_null(tt_path(empty, "counts.by_kind"));
    json_decref(empty);
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_scale_down),
        cmocka_unit_test(test_diff_namespace_deletion),
        cmocka_unit_test(test_diff_replaced_pod),
        cmocka_unit_test(test_pods_disrupted_instant_vs_settled),
        cmocka_unit_test(test_services_emptied),
        cmocka_unit_test(test_workloads_degraded),
        cmocka_unit_test(test_cost_scale_up),
        cmocka_unit_test(test_cost_load_balancer),
        cmocka_unit_test(test_namespaces_touched_and_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
