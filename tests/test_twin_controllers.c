/*
 * test_twin_controllers.c - the simulated controllers (twin/controllers.c,
 * with the requests of twin/ops.c that drive them), held to how Kubernetes
 * 1.32 behaves (/work/shared/reference/k8s-api-facts.md §3): Deployments
 * and their rollouts, StatefulSets, DaemonSets, Jobs, the scheduler,
 * Endpoints, garbage collection, namespace and node deletion, NoExecute
 * taints, HPA bounds and the Eviction API.
 *
 * "Instant" is the cluster a moment after the call (controllers have acted,
 * no new pod is Ready yet), "settled" once every rollout has finished; the
 * public API shows the instant through res.impact.instant and cost_instant,
 * and the settled state through TWIN_AFTER.
 */
#include "twin_testlib.h"

/* The hourly price of one tt_deploy pod (100m cpu, 128Mi) under
 * fixtures/pricing.json: 0.1 vCPU x 0.04048 + 0.125 GiB x 0.004445. */
#define POD_COST (0.1 * 0.04048 + 0.125 * 0.004445)

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

/* Three 4-cpu nodes and the namespaces every cluster has, plus `more`
 * (an array, stolen; may be NULL). */
static twin *cluster(json_t *more)
{
    json_t *docs = json_pack("[o, o, o, o, o, o]", tt_node("n1", "4", "16Gi", NULL), tt_node("n2", "4", "16Gi", NULL),
                             tt_node("n3", "4", "16Gi", NULL), tt_namespace("default", NULL),
                             tt_namespace("kube-system", NULL), tt_namespace("app", NULL));
    if (more) {
        json_array_extend(docs, more);
        json_decref(more);
    }
    return tt_cluster(docs);
}

static json_t *names_of(const json_t *arr)
{
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) json_array_append_new(out, json_string(tt_str(o, "metadata.name")));
    return out;
}

static size_t pods_on(twin *t, const char *node)
{
    char fs[128], err[256];
    snprintf(fs, sizeof fs, "spec.nodeName=%s", node);
    json_t *l = twin_list(t, TWIN_AFTER, "Pod", NULL, NULL, fs, err, sizeof err);
    assert_non_null(l);
    size_t n = json_array_size(l);
    json_decref(l);
    return n;
}

static const char *owner_name(const json_t *obj)
{
    return tt_str(obj, "metadata.ownerReferences.0.name");
}

/* ---- Deployment -> ReplicaSet -> Pods ---- */

static void test_deployment_creates_replicaset_and_pods(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 3, NULL)));
    json_t *d = tt_get(t, TWIN_AFTER, "Deployment", "app", "web");
    json_t *rss = tt_list(t, TWIN_AFTER, "ReplicaSet", "app", NULL);
    assert_int_equal(json_array_size(rss), 1);
    json_t *rs = json_array_get(rss, 0);
    const char *hash = json_string_value(json_object_get(tt_path(rs, "metadata.labels"), "pod-template-hash"));
    assert_non_null(hash);
    char want[128];
    snprintf(want, sizeof want, "web-%s", hash);
    assert_string_equal(tt_str(rs, "metadata.name"), want);
    /* owned by the Deployment as its controller */
    assert_string_equal(tt_str(rs, "metadata.ownerReferences.0.kind"), "Deployment");
    assert_string_equal(tt_str(rs, "metadata.ownerReferences.0.uid"), tt_str(d, "metadata.uid"));
    assert_true(json_is_true(tt_path(rs, "metadata.ownerReferences.0.controller")));
    assert_string_equal(json_string_value(json_object_get(tt_path(rs, "spec.selector.matchLabels"), "pod-template-hash")),
                        hash);
    assert_string_equal(json_string_value(json_object_get(tt_path(rs, "metadata.annotations"),
                                                          "deployment.kubernetes.io/revision")),
                        "1");
    assert_int_equal(tt_int(rs, "spec.replicas"), 3);

    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(pods), 3);
    assert_int_equal(tt_ready(pods), 3);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        const char *name = tt_str(p, "metadata.name");
        /* <rs>-<5 characters of the generated-name alphabet> */
        assert_int_equal(strlen(name), strlen(want) + 6);
        assert_memory_equal(name, want, strlen(want));
        assert_int_equal(name[strlen(want)], '-');
        assert_int_equal(strspn(name + strlen(want) + 1, "bcdfghjklmnpqrstvwxz2456789"), 5);
        assert_string_equal(owner_name(p), want);
        assert_string_equal(json_string_value(json_object_get(tt_path(p, "metadata.labels"), "pod-template-hash")),
                            hash);
        assert_non_null(tt_str(p, "spec.nodeName"));
        assert_non_null(tt_str(p, "status.podIP"));
    }
    json_decref(pods);
    json_decref(d);
    d = tt_get(t, TWIN_AFTER, "Deployment", "app", "web");
    assert_int_equal(tt_int(d, "status.replicas"), 3);
    assert_int_equal(tt_int(d, "status.readyReplicas"), 3);
    assert_int_equal(tt_int(d, "status.availableReplicas"), 3);
    assert_int_equal(tt_int(d, "status.updatedReplicas"), 3);
    /* API server defaults */
    assert_string_equal(tt_str(d, "spec.strategy.type"), "RollingUpdate");
    assert_string_equal(tt_str(d, "spec.strategy.rollingUpdate.maxSurge"), "25%");
    assert_int_equal(tt_int(d, "spec.revisionHistoryLimit"), 10);
    json_decref(d);
    json_decref(rss);
    twin_close(t);
}

/* The same input gives the same names, uids and placements. */
static void test_deployment_names_deterministic(void **state)
{
    (void)state;
    twin *a = cluster(json_pack("[o]", tt_deploy("app", "web", 3, NULL)));
    twin *b = cluster(json_pack("[o]", tt_deploy("app", "web", 3, NULL)));
    json_t *ea = twin_export(a), *eb = twin_export(b);
    assert_true(json_equal(ea, eb));
    json_decref(ea);
    json_decref(eb);
    /* and the same operation on both names the new pods alike */
    json_t *patch = tj("{'spec':{'replicas':5}}");
    tt_do(a, tt_merge("Deployment", "app", "web", patch), 200);
    tt_do(b, tt_merge("Deployment", "app", "web", patch), 200);
    json_t *pa = tt_list(a, TWIN_AFTER, "Pod", "app", NULL), *pb = tt_list(b, TWIN_AFTER, "Pod", "app", NULL);
    json_t *na = names_of(pa), *nb = names_of(pb);
    assert_int_equal(json_array_size(na), 5);
    assert_true(json_equal(na, nb));
    json_decref(na);
    json_decref(nb);
    json_decref(pa);
    json_decref(pb);
    json_decref(patch);
    twin_close(a);
    twin_close(b);
}

static void test_scale_subresource(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 2, NULL)));
    json_t *rs0 = tt_list(t, TWIN_AFTER, "ReplicaSet", "app", NULL);

    /* PUT .../deployments/web/scale (kubectl scale) */
    json_t *scale = tj("{'apiVersion':'autoscaling/v1','kind':'Scale','metadata':{'name':'web','namespace':'app'},"
                       "'spec':{'replicas':5}}");
    twin_result res = tt_apply(t, (twin_request){.verb = TWIN_UPDATE, .kind = "Deployment", .ns = "app",
                                                 .name = "web", .subresource = "scale", .body = scale});
    assert_int_equal(res.code, 200);
    assert_string_equal(tt_str(res.object, "kind"), "Scale");
    assert_int_equal(tt_int(res.object, "spec.replicas"), 5);
    assert_string_equal(tt_str(res.object, "status.selector"), "app=web");
    twin_result_free(&res);
    twin_commit(t);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(pods), 5);
    assert_int_equal(tt_ready(pods), 5);
    json_decref(pods);
    /* scaling is not a rollout: the same ReplicaSet */
    json_t *rs1 = tt_list(t, TWIN_AFTER, "ReplicaSet", "app", NULL);
    assert_int_equal(json_array_size(rs1), 1);
    assert_string_equal(tt_str(json_array_get(rs1, 0), "metadata.name"), tt_str(json_array_get(rs0, 0), "metadata.name"));
    assert_int_equal(tt_int(json_array_get(rs1, 0), "spec.replicas"), 5);
    json_decref(rs1);

    /* PATCH .../scale */
    json_t *patch = tj("{'spec':{'replicas':1}}");
    twin_request req = tt_merge("Deployment", "app", "web", patch);
    req.subresource = "scale";
    res = tt_apply(t, req);
    assert_int_equal(res.code, 200);
    assert_int_equal(tt_int(res.object, "spec.replicas"), 1);
    twin_result_free(&res);
    twin_commit(t);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=web"), 1);
    assert_int_equal(tt_field(t, TWIN_AFTER, "Deployment", "app", "web", "status.readyReplicas"), 1);

    /* a negative count is invalid; a DaemonSet has no scale subresource */
    json_decref(patch);
    patch = tj("{'spec':{'replicas':-1}}");
    req.body = patch;
    res = tt_apply(t, req);
    assert_int_equal(res.code, 422);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    json_decref(scale);
    json_decref(rs0);
    twin_close(t);
}

static void test_scale_by_patch(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 3, NULL)));
    json_t *patch = tj("{'spec':{'replicas':1}}");
    tt_do(t, tt_merge("Deployment", "app", "web", patch), 200);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=web"), 1);
    json_decref(patch);
    patch = tj("{'spec':{'replicas':4}}");
    twin_request req = tt_merge("Deployment", "app", "web", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    tt_do(t, req, 200);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(pods), 4);
    assert_int_equal(tt_ready(pods), 4);
    json_decref(pods);
    assert_int_equal(tt_count(t, TWIN_AFTER, "ReplicaSet", "app", NULL), 1);
    /* a scale changes spec: the generation moves, the revision does not */
    json_t *d = tt_get(t, TWIN_AFTER, "Deployment", "app", "web");
    assert_int_equal(tt_int(d, "metadata.generation"), 3);
    assert_int_equal(tt_int(d, "status.observedGeneration"), 3);
    assert_string_equal(json_string_value(json_object_get(tt_path(d, "metadata.annotations"),
                                                          "deployment.kubernetes.io/revision")),
                        "1");
    json_decref(d);
    json_decref(patch);
    twin_close(t);
}

/* ---- rollouts ---- */

static twin_result set_image(twin *t, const char *name, const char *image)
{
    json_t *patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','image':'%s'}]}}}}", image);
    twin_request req = tt_merge("Deployment", "app", name, patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    twin_result res = tt_apply(t, req);
    json_decref(patch);
    assert_int_equal(res.code, 200);
    return res;
}

/* New pods at the instant, from the instant's cost: every pod of these
 * Deployments costs POD_COST, so (delta / POD_COST) = created - deleted. */
static long instant_pod_delta(const twin_result *res)
{
    return lround(tt_num(res->impact, "cost_instant.delta") / POD_COST);
}

/* The settled end of every rollout: the new ReplicaSet holds every replica,
 * all Ready; the old one is scaled to 0 and kept as history. */
static void check_rolled_out(twin *t, int replicas, const char *image)
{
    json_t *rss = tt_replicasets(t, TWIN_AFTER, "app", "web");
    assert_int_equal(json_array_size(rss), 2);
    json_t *old = json_array_get(rss, 0), *cur = json_array_get(rss, 1);
    assert_int_equal(tt_int(old, "spec.replicas"), 0);
    assert_int_equal(tt_int(old, "status.replicas"), 0);
    assert_int_equal(tt_int(cur, "spec.replicas"), replicas);
    assert_int_equal(tt_int(cur, "status.readyReplicas"), replicas);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(pods), (size_t)replicas);
    assert_int_equal(tt_ready(pods), (size_t)replicas);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        assert_string_equal(owner_name(p), tt_str(cur, "metadata.name"));
        assert_string_equal(tt_str(p, "spec.containers.0.image"), image);
    }
    json_decref(pods);
    json_t *d = tt_get(t, TWIN_AFTER, "Deployment", "app", "web");
    assert_int_equal(tt_int(d, "status.updatedReplicas"), replicas);
    assert_int_equal(tt_int(d, "status.readyReplicas"), replicas);
    assert_int_equal(tt_int(d, "status.unavailableReplicas"), 0);
    assert_string_equal(json_string_value(json_object_get(tt_path(d, "metadata.annotations"),
                                                          "deployment.kubernetes.io/revision")),
                        "2");
    json_decref(d);
    json_decref(rss);
}

/*
 * replicas 4, maxSurge 25% -> 1 (rounded up), maxUnavailable 25% -> 1
 * (rounded down).  The controller's syncs right after the template change
 * (k8s-api-facts §3.2): new RS created at 1 (total 5 = 4 + surge); old RS
 * scaled down to 3 (available 4 > minAvailable 3); then, with room under
 * maxTotal again, the new RS goes to 2 and nothing more happens until a new
 * pod is Ready.  So the instant has 3 old pods and 2 new (unready) ones.
 */
static void test_rolling_update_defaults(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 4, NULL)));
    twin_result res = set_image(t, "web", "nginx:1.26");
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 1);   /* 4 -> 3 old */
    assert_int_equal(instant_pod_delta(&res), 2 - 1);                     /* 2 new, 1 old gone */
    assert_true(tt_has(tt_path(res.impact, "instant.workloads_degraded"), "kind", "Deployment", "name", "web", NULL));
    assert_int_equal(tt_int(res.impact, "instant.workloads_degraded.0.ready_after"), 3);
    /* never below 3 available, never above 5 pods: the settled state lost all 4 old pods */
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 4);
    assert_int_equal(json_array_size(tt_path(res.impact, "settled.workloads_degraded")), 0);
    assert_true(near(tt_num(res.impact, "cost.delta"), 0));
    twin_result_free(&res);
    check_rolled_out(t, 4, "nginx:1.26");
    twin_commit(t);
    check_rolled_out(t, 4, "nginx:1.26");
    twin_close(t);
}

/* replicas 3: surge 1, unavailable 0 (floor of 0.75): the docs' example -
 * one new pod, no old pod touched until it is Ready. */
static void test_rolling_update_three_replicas(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 3, NULL)));
    twin_result res = set_image(t, "web", "nginx:1.26");
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 0);
    assert_int_equal(instant_pod_delta(&res), 1);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 3);
    twin_result_free(&res);
    check_rolled_out(t, 3, "nginx:1.26");
    twin_rollback(t);
    twin_close(t);
}

/* maxUnavailable 0, maxSurge 1: capacity never drops; one extra pod first. */
static void test_rolling_update_surge_only(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o]", tt_deploy("app", "web", 4,
                         tj("{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxUnavailable':0,'maxSurge':1}}}}"))));
    twin_result res = set_image(t, "web", "nginx:1.26");
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 0);
    assert_int_equal(json_array_size(tt_path(res.impact, "instant.workloads_degraded")), 0);
    assert_int_equal(instant_pod_delta(&res), 1);   /* new RS at 1, old RS still 4 */
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 4);
    twin_result_free(&res);
    check_rolled_out(t, 4, "nginx:1.26");
    twin_rollback(t);
    twin_close(t);
}

/* maxUnavailable 1, maxSurge 0: no extra pod; one old pod goes first. */
static void test_rolling_update_unavailable_only(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o]", tt_deploy("app", "web", 4,
                         tj("{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxUnavailable':1,'maxSurge':0}}}}"))));
    twin_result res = set_image(t, "web", "nginx:1.26");
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 1);
    assert_int_equal(instant_pod_delta(&res), 0);   /* old 3 + new 1 */
    twin_result_free(&res);
    check_rolled_out(t, 4, "nginx:1.26");
    twin_rollback(t);
    twin_close(t);
}

/* Recreate: every old pod goes at once, then the new ReplicaSet at full size. */
static void test_recreate(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 3, tj("{'spec':{'strategy':{'type':'Recreate'}}}"))));
    json_t *d = tt_get(t, TWIN_AFTER, "Deployment", "app", "web");
    assert_null(tt_path(d, "spec.strategy.rollingUpdate"));   /* no rollingUpdate defaults for Recreate */
    json_decref(d);
    twin_result res = set_image(t, "web", "nginx:1.26");
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 3);
    assert_int_equal(tt_int(res.impact, "instant.workloads_degraded.0.ready_after"), 0);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 3);
    assert_int_equal(json_array_size(tt_path(res.impact, "settled.workloads_degraded")), 0);
    twin_result_free(&res);
    check_rolled_out(t, 3, "nginx:1.26");
    twin_rollback(t);
    twin_close(t);
}

/* kubectl rollout undo: the template goes back, the old ReplicaSet is the new
 * one again (no third one) and takes the next revision; history beyond
 * revisionHistoryLimit is cleaned up once the rollout is complete. */
static void test_rollout_undo_and_history(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 2, tj("{'spec':{'revisionHistoryLimit':1}}"))));
    json_t *rs1 = tt_replicasets(t, TWIN_AFTER, "app", "web");
    char first[128];
    snprintf(first, sizeof first, "%s", tt_str(json_array_get(rs1, 0), "metadata.name"));
    json_decref(rs1);
    twin_result res = set_image(t, "web", "nginx:1.26");
    twin_result_free(&res);
    twin_commit(t);
    res = set_image(t, "web", "nginx:1.25");   /* undo */
    twin_result_free(&res);
    twin_commit(t);
    json_t *rss = tt_list(t, TWIN_AFTER, "ReplicaSet", "app", NULL);
    assert_int_equal(json_array_size(rss), 2);
    json_t *cur = NULL;
    size_t i;
    json_t *rs;
    json_array_foreach(rss, i, rs) if (tt_int(rs, "spec.replicas") == 2) cur = rs;
    assert_non_null(cur);
    assert_string_equal(tt_str(cur, "metadata.name"), first);
    assert_string_equal(json_string_value(json_object_get(tt_path(cur, "metadata.annotations"),
                                                          "deployment.kubernetes.io/revision")),
                        "3");
    json_t *d = tt_get(t, TWIN_AFTER, "Deployment", "app", "web");
    assert_string_equal(json_string_value(json_object_get(tt_path(d, "metadata.annotations"),
                                                          "deployment.kubernetes.io/revision")),
                        "3");
    json_decref(d);
    json_decref(rss);
    /* a third template: revision 4; of the two old ReplicaSets at 0, only one is kept */
    res = set_image(t, "web", "nginx:1.27");
    twin_result_free(&res);
    twin_commit(t);
    assert_int_equal(tt_count(t, TWIN_AFTER, "ReplicaSet", "app", NULL), 2);
    twin_close(t);
}

/* A ReplicaSet scaled by hand is scaled back by its Deployment. */
static void test_owned_replicaset_scaled_back(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 3, NULL)));
    json_t *rs = tt_replicasets(t, TWIN_AFTER, "app", "web");
    char name[128];
    snprintf(name, sizeof name, "%s", tt_str(json_array_get(rs, 0), "metadata.name"));
    json_decref(rs);
    json_t *patch = tj("{'spec':{'replicas':1}}");
    twin_request req = tt_merge("ReplicaSet", "app", name, patch);
    req.subresource = "scale";
    twin_result res = tt_apply(t, req);
    assert_int_equal(res.code, 200);
    assert_int_equal(tt_field(t, TWIN_AFTER, "ReplicaSet", "app", name, "spec.replicas"), 3);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=web"), 3);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    twin_close(t);
}

/* A paused Deployment records a template change and rolls nothing out; a
 * scale still applies to its ReplicaSet.  Created paused, it makes none. */
static void test_paused_deployment(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 2, NULL)));
    json_t *pause = tj("{'spec':{'paused':true}}");
    tt_do(t, tt_merge("Deployment", "app", "web", pause), 200);
    twin_result res = set_image(t, "web", "nginx:1.26");
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 0);
    assert_int_equal(json_array_size(res.diff), 1);   /* the Deployment alone */
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_string_equal(tt_str(json_array_get(pods, 0), "spec.containers.0.image"), "nginx:1.25");
    json_decref(pods);
    twin_result_free(&res);
    twin_commit(t);

    json_t *patch = tj("{'spec':{'replicas':4}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_int_equal(tt_count(t, TWIN_AFTER, "ReplicaSet", "app", NULL), 1);
    pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(pods), 4);
    assert_int_equal(tt_ready(pods), 4);
    assert_string_equal(tt_str(json_array_get(pods, 3), "spec.containers.0.image"), "nginx:1.25");
    json_decref(pods);
    twin_result_free(&res);
    twin_commit(t);

    /* resumed: the pending template rolls out */
    json_t *resume = tj("{'spec':{'paused':false}}");
    tt_do(t, tt_merge("Deployment", "app", "web", resume), 200);
    check_rolled_out(t, 4, "nginx:1.26");

    json_t *d = tt_deploy("app", "later", 2, tj("{'spec':{'paused':true}}"));
    tt_do(t, tt_create(d), 201);
    assert_int_equal(tt_count(t, TWIN_AFTER, "ReplicaSet", "app", "app=later"), 0);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=later"), 0);
    json_decref(d);
    json_decref(patch);
    json_decref(pause);
    json_decref(resume);
    twin_close(t);
}

/* ---- StatefulSet ---- */

static json_t *statefulset(int replicas)
{
    return tj("{'apiVersion':'apps/v1','kind':'StatefulSet','metadata':{'name':'db','namespace':'app'},"
              "'spec':{'replicas':%d,'serviceName':'db','selector':{'matchLabels':{'app':'db'}},"
              "'template':{'metadata':{'labels':{'app':'db'}},'spec':{'containers':[{'name':'db','image':'postgres:16',"
              "'resources':{'requests':{'cpu':'100m','memory':'128Mi'}}}]}},"
              "'volumeClaimTemplates':[{'metadata':{'name':'data'},'spec':{'accessModes':['ReadWriteOnce'],"
              "'resources':{'requests':{'storage':'10Gi'}}}}]}}",
              replicas);
}

static void test_statefulset_ordinals_and_claims(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", statefulset(3)));
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=db");
    json_t *names = names_of(pods), *want = tj("['db-0','db-1','db-2']");
    assert_true(json_equal(names, want));
    assert_int_equal(tt_ready(pods), 3);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        char idx[24], claim[48];
        snprintf(idx, sizeof idx, "%zu", i);
        snprintf(claim, sizeof claim, "data-db-%zu", i);
        json_t *labels = tt_path(p, "metadata.labels");
        assert_string_equal(json_string_value(json_object_get(labels, "statefulset.kubernetes.io/pod-name")),
                            tt_str(p, "metadata.name"));
        assert_string_equal(json_string_value(json_object_get(labels, "apps.kubernetes.io/pod-index")), idx);
        assert_non_null(json_object_get(labels, "controller-revision-hash"));
        assert_string_equal(tt_str(p, "spec.hostname"), tt_str(p, "metadata.name"));
        assert_string_equal(tt_str(p, "spec.subdomain"), "db");
        assert_string_equal(tt_str(p, "spec.volumes.0.persistentVolumeClaim.claimName"), claim);
        json_t *pvc = tt_get(t, TWIN_AFTER, "PersistentVolumeClaim", "app", claim);
        assert_string_equal(tt_str(pvc, "spec.resources.requests.storage"), "10Gi");
        json_decref(pvc);
    }
    json_decref(names);
    json_decref(want);
    json_decref(pods);
    json_t *sts = tt_get(t, TWIN_AFTER, "StatefulSet", "app", "db");
    assert_string_equal(tt_str(sts, "spec.podManagementPolicy"), "OrderedReady");
    assert_int_equal(tt_int(sts, "status.readyReplicas"), 3);
    json_decref(sts);
    twin_close(t);
}

/* OrderedReady: ordinal i+1 only once ordinal i is Ready, so the instant after
 * creating a StatefulSet holds one pod (and its claim); settled, all three. */
static void test_statefulset_ordered_creation(void **state)
{
    (void)state;
    twin *t = cluster(NULL);
    json_t *sts = statefulset(3);
    twin_result res = tt_apply(t, tt_create(sts));
    assert_int_equal(res.code, 201);
    double per_ordinal = POD_COST + 10 * 0.000137;   /* a pod and its 10Gi claim */
    assert_true(near(tt_num(res.impact, "cost_instant.delta"), per_ordinal));
    assert_true(near(tt_num(res.impact, "cost.delta"), 3 * per_ordinal));
    /* the diff creates them in order */
    json_t *created = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(res.diff, i, c) {
        if (!strcmp(tt_str(c, "kind"), "Pod") && !strcmp(tt_str(c, "op"), "create"))
            json_array_append_new(created, json_string(tt_str(c, "name")));
    }
    json_t *want = tj("['db-0','db-1','db-2']");
    assert_true(json_equal(created, want));
    json_decref(want);
    json_decref(created);
    twin_result_free(&res);
    twin_commit(t);
    json_decref(sts);

    /* Parallel: all at once */
    json_t *par = statefulset(3);
    json_object_set_new(json_object_get(par, "metadata"), "name", json_string("cache"));
    json_object_set_new(json_object_get(par, "spec"), "podManagementPolicy", json_string("Parallel"));
    res = tt_apply(t, tt_create(par));
    assert_true(near(tt_num(res.impact, "cost_instant.delta"), 3 * per_ordinal));
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(par);
    twin_close(t);
}

/* Scale down removes the highest ordinal first, one at a time, and keeps the
 * claims (whenScaled: Retain); scaling back up reuses them. */
static void test_statefulset_scale_down_highest_first(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", statefulset(3)));
    json_t *patch = tj("{'spec':{'replicas':1}}");
    twin_result res = tt_apply(t, tt_merge("StatefulSet", "app", "db", patch));
    assert_int_equal(res.code, 200);
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 1);
    assert_string_equal(tt_str(res.impact, "instant.pods.0"), "app/db-2");
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 2);
    json_t *deleted = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(res.diff, i, c) {
        if (!strcmp(tt_str(c, "kind"), "Pod") && !strcmp(tt_str(c, "op"), "delete"))
            json_array_append_new(deleted, json_string(tt_str(c, "name")));
    }
    json_t *want = tj("['db-2','db-1']");
    assert_true(json_equal(deleted, want));
    json_decref(want);
    json_decref(deleted);
    twin_result_free(&res);
    twin_commit(t);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=db"), 1);
    json_decref(tt_get(t, TWIN_AFTER, "Pod", "app", "db-0"));
    assert_int_equal(tt_count(t, TWIN_AFTER, "PersistentVolumeClaim", "app", NULL), 3);

    json_decref(patch);
    patch = tj("{'spec':{'replicas':3}}");
    res = tt_apply(t, tt_merge("StatefulSet", "app", "db", patch));
    assert_true(near(tt_num(res.impact, "cost_instant.delta"), POD_COST));   /* db-1 only, claim kept */
    twin_result_free(&res);
    twin_commit(t);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=db"), 3);
    assert_int_equal(tt_count(t, TWIN_AFTER, "PersistentVolumeClaim", "app", NULL), 3);
    json_decref(patch);
    twin_close(t);
}

/* persistentVolumeClaimRetentionPolicy: Retain (the default) keeps the
 * claims when the StatefulSet is deleted or scaled down; whenDeleted: Delete
 * removes them with the StatefulSet, whenScaled: Delete with the ordinal. */
static void test_statefulset_claim_retention(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", statefulset(3)));
    twin_result res = tt_apply(t, tt_delete("StatefulSet", "app", "db", NULL));
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", NULL), 0);
    assert_int_equal(tt_count(t, TWIN_AFTER, "PersistentVolumeClaim", "app", NULL), 3);
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);

    json_t *sts = statefulset(3);
    json_object_set_new(json_object_get(sts, "spec"), "persistentVolumeClaimRetentionPolicy",
                        tj("{'whenDeleted':'Delete','whenScaled':'Retain'}"));
    t = cluster(json_pack("[O]", sts));
    json_t *pvc = tt_get(t, TWIN_AFTER, "PersistentVolumeClaim", "app", "data-db-0");
    assert_string_equal(tt_str(pvc, "metadata.ownerReferences.0.kind"), "StatefulSet");
    json_decref(pvc);
    json_t *patch = tj("{'spec':{'replicas':1}}");
    res = tt_apply(t, tt_merge("StatefulSet", "app", "db", patch));
    assert_int_equal(tt_count(t, TWIN_AFTER, "PersistentVolumeClaim", "app", NULL), 3);
    twin_result_free(&res);
    twin_rollback(t);
    res = tt_apply(t, tt_delete("StatefulSet", "app", "db", NULL));
    assert_int_equal(tt_count(t, TWIN_AFTER, "PersistentVolumeClaim", "app", NULL), 0);
    json_t *pvcs = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(res.diff, i, c) {
        if (!strcmp(tt_str(c, "kind"), "PersistentVolumeClaim")) {
            assert_string_equal(tt_str(c, "op"), "delete");
            assert_string_equal(tt_str(c, "cause"), "cascade");
            json_array_append(pvcs, c);
        }
    }
    assert_int_equal(json_array_size(pvcs), 3);
    json_decref(pvcs);
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
    json_decref(sts);

    sts = statefulset(3);
    json_object_set_new(json_object_get(sts, "spec"), "persistentVolumeClaimRetentionPolicy",
                        tj("{'whenDeleted':'Retain','whenScaled':'Delete'}"));
    t = cluster(json_pack("[O]", sts));
    res = tt_apply(t, tt_merge("StatefulSet", "app", "db", patch));
    json_t *left = tt_list(t, TWIN_AFTER, "PersistentVolumeClaim", "app", NULL);
    assert_int_equal(json_array_size(left), 1);
    assert_string_equal(tt_str(json_array_get(left, 0), "metadata.name"), "data-db-0");
    json_decref(left);
    /* the diff says what goes: a claim is data */
    assert_int_equal(tt_int(res.impact, "counts.by_kind.PersistentVolumeClaim.delete"), 2);
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
    json_decref(sts);
    json_decref(patch);
}

/* RollingUpdate replaces pods from the highest ordinal down, one at a time,
 * and only ordinals at or above the partition. */
static void test_statefulset_rolling_update(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", statefulset(3)));
    json_t *patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'db','image':'postgres:17'}]}}}}");
    twin_request req = tt_merge("StatefulSet", "app", "db", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    twin_result res = tt_apply(t, req);
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 1);
    assert_string_equal(tt_str(res.impact, "instant.pods.0"), "app/db-2");
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 3);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=db");
    assert_int_equal(json_array_size(pods), 3);
    assert_int_equal(tt_ready(pods), 3);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) assert_string_equal(tt_str(p, "spec.containers.0.image"), "postgres:17");
    json_decref(pods);
    json_t *sts = tt_get(t, TWIN_AFTER, "StatefulSet", "app", "db");
    assert_int_equal(tt_int(sts, "status.updatedReplicas"), 3);
    json_decref(sts);
    twin_result_free(&res);
    twin_rollback(t);

    /* partition 2: db-2 only */
    json_t *part = tj("{'spec':{'updateStrategy':{'type':'RollingUpdate','rollingUpdate':{'partition':2}}}}");
    tt_do(t, tt_merge("StatefulSet", "app", "db", part), 200);
    res = tt_apply(t, req);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 1);
    json_t *db2 = tt_get(t, TWIN_AFTER, "Pod", "app", "db-2"), *db1 = tt_get(t, TWIN_AFTER, "Pod", "app", "db-1");
    assert_string_equal(tt_str(db2, "spec.containers.0.image"), "postgres:17");
    assert_string_equal(tt_str(db1, "spec.containers.0.image"), "postgres:16");
    json_decref(db1);
    json_decref(db2);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(part);

    /* OnDelete: nothing until a pod is deleted by hand */
    part = tj("{'spec':{'updateStrategy':{'type':'OnDelete','rollingUpdate':null}}}");
    tt_do(t, tt_merge("StatefulSet", "app", "db", part), 200);
    res = tt_apply(t, req);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 0);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(part);
    json_decref(patch);
    twin_close(t);
}

/* ---- DaemonSet ---- */

static json_t *daemonset(const char *name, const char *extra_spec)
{
    json_t *ds = tj("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'name':'%s','namespace':'kube-system'},"
                    "'spec':{'selector':{'matchLabels':{'app':'%s'}},'template':{'metadata':{'labels':{'app':'%s'}},"
                    "'spec':{'containers':[{'name':'agent','image':'agent:1'}]}}}}",
                    name, name, name);
    if (extra_spec) {
        json_t *extra = tj("%s", extra_spec);
        json_object_update_recursive(tt_path(ds, "spec.template.spec"), extra);
        json_decref(extra);
    }
    return ds;
}

static json_t *ds_nodes(twin *t, const char *app)
{
    char sel[64];
    snprintf(sel, sizeof sel, "app=%s", app);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "kube-system", sel);
    json_t *nodes = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) json_array_append_new(nodes, json_string(tt_str(p, "spec.nodeName")));
    json_decref(pods);
    /* sort for comparison */
    size_t n = json_array_size(nodes);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (strcmp(json_string_value(json_array_get(nodes, a)), json_string_value(json_array_get(nodes, b))) > 0) {
                json_t *x = json_incref(json_array_get(nodes, a));
                json_array_set(nodes, a, json_array_get(nodes, b));
                json_array_set_new(nodes, b, x);
            }
    return nodes;
}

static void expect_ds_nodes(twin *t, const char *app, const char *want_json)
{
    json_t *got = ds_nodes(t, app), *want = tj("%s", want_json);
    if (!json_equal(got, want)) {
        tt_dump("nodes", got);
        fail_msg("DaemonSet %s: expected pods on %s", app, want_json);
    }
    json_decref(got);
    json_decref(want);
}

static void test_daemonset_one_pod_per_eligible_node(void **state)
{
    (void)state;
    twin *t = tt_cluster(json_pack(
        "[o, o, o, o, o, o, o, o]", tt_namespace("kube-system", NULL),
        tt_node("n1", "4", "16Gi", tj("{'metadata':{'labels':{'disk':'ssd'}}}")),
        tt_node("n2", "4", "16Gi", tj("{'metadata':{'labels':{'disk':'hdd'}}}")),
        tt_node("n3", "4", "16Gi", tj("{'spec':{'taints':[{'key':'dedicated','value':'db','effect':'NoSchedule'}]}}")),
        tt_node("n4", "4", "16Gi", tj("{'spec':{'unschedulable':true}}")),   /* cordoned */
        daemonset("agent", NULL), daemonset("ssd-agent", "{'nodeSelector':{'disk':'ssd'}}"),
        daemonset("everywhere", "{'tolerations':[{'key':'dedicated','operator':'Exists'}]}")));
    /* cordoned nodes still run DaemonSet pods; a NoSchedule taint keeps them off */
    expect_ds_nodes(t, "agent", "['n1','n2','n4']");
    expect_ds_nodes(t, "ssd-agent", "['n1']");
    expect_ds_nodes(t, "everywhere", "['n1','n2','n3','n4']");
    json_t *ds = tt_get(t, TWIN_AFTER, "DaemonSet", "kube-system", "agent");
    assert_int_equal(tt_int(ds, "status.desiredNumberScheduled"), 3);
    assert_int_equal(tt_int(ds, "status.numberReady"), 3);
    json_decref(ds);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "kube-system", "app=agent");
    assert_int_equal(tt_ready(pods), 3);
    json_decref(pods);

    /* a new node gets one pod of each DaemonSet that should run there */
    json_t *n5 = tt_node("n5", "4", "16Gi", tj("{'metadata':{'labels':{'disk':'ssd'}}}"));
    twin_result res = tt_apply(t, tt_create(n5));
    assert_int_equal(res.code, 201);
    twin_result_free(&res);
    twin_commit(t);
    expect_ds_nodes(t, "agent", "['n1','n2','n4','n5']");
    expect_ds_nodes(t, "ssd-agent", "['n1','n5']");
    /* a node that stops matching the selector loses its pod */
    json_t *patch = tj("{'metadata':{'labels':{'disk':'hdd'}}}");
    tt_do(t, tt_merge("Node", NULL, "n1", patch), 200);
    expect_ds_nodes(t, "ssd-agent", "['n5']");
    json_decref(patch);
    json_decref(n5);
    twin_close(t);
}

/* A DaemonSet's RollingUpdate (maxUnavailable 1): one node's pod at a time. */
static void test_daemonset_rolling_update(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", daemonset("agent", NULL)));
    expect_ds_nodes(t, "agent", "['n1','n2','n3']");
    json_t *patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'agent','image':'agent:2'}]}}}}");
    twin_request req = tt_merge("DaemonSet", "kube-system", "agent", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    twin_result res = tt_apply(t, req);
    assert_int_equal(res.code, 200);
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 1);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 3);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "kube-system", "app=agent");
    assert_int_equal(json_array_size(pods), 3);
    assert_int_equal(tt_ready(pods), 3);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) assert_string_equal(tt_str(p, "spec.containers.0.image"), "agent:2");
    json_decref(pods);
    expect_ds_nodes(t, "agent", "['n1','n2','n3']");
    json_t *ds = tt_get(t, TWIN_AFTER, "DaemonSet", "kube-system", "agent");
    assert_int_equal(tt_int(ds, "status.updatedNumberScheduled"), 3);
    json_decref(ds);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    twin_close(t);
}

/* ---- Job ---- */

static void test_job_pods(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o]", tj("{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'migrate','namespace':'app'},"
                  "'spec':{'parallelism':2,'completions':5,'template':{'spec':{'restartPolicy':'Never',"
                  "'containers':[{'name':'m','image':'migrate:1'}]}}}}")));
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "job-name=migrate");
    assert_int_equal(json_array_size(pods), 2);   /* parallelism */
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        assert_string_equal(owner_name(p), "migrate");
        assert_string_equal(tt_str(p, "metadata.ownerReferences.0.kind"), "Job");
        assert_string_equal(json_string_value(json_object_get(tt_path(p, "metadata.labels"),
                                                              "batch.kubernetes.io/job-name")),
                            "migrate");
        assert_string_equal(tt_str(p, "spec.restartPolicy"), "Never");
    }
    /* documented simplification: Job pods never complete, so the Job keeps
     * `parallelism` pods active and counts no success */
    assert_int_equal(tt_ready(pods), 2);
    json_decref(pods);
    json_t *job = tt_get(t, TWIN_AFTER, "Job", "app", "migrate");
    assert_int_equal(tt_int(job, "status.active"), 2);
    assert_null(tt_path(job, "status.succeeded"));
    json_decref(job);
    twin_close(t);
}

/* ---- scheduler ---- */

static json_t *pod(const char *name, const char *cpu, const char *extra_spec)
{
    json_t *p = tj("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'app','labels':{'app':'%s'}},"
                   "'spec':{'containers':[{'name':'c','image':'busybox','resources':{'requests':{'cpu':'%s',"
                   "'memory':'64Mi'}}}]}}",
                   name, name, cpu);
    if (extra_spec) {
        json_t *extra = tj("%s", extra_spec);
        json_object_update_recursive(json_object_get(p, "spec"), extra);
        json_decref(extra);
    }
    return p;
}

/* Creates a pod and returns it as settled (new reference). */
static json_t *place(twin *t, json_t *p)
{
    twin_result res = tt_apply(t, tt_create(p));
    assert_int_equal(res.code, 201);
    twin_result_free(&res);
    twin_commit(t);
    json_t *got = tt_get(t, TWIN_AFTER, "Pod", "app", tt_str(p, "metadata.name"));
    json_decref(p);
    return got;
}

static const json_t *condition(const json_t *pod_obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(tt_path(pod_obj, "status.conditions"), i, c) if (!strcmp(tt_str(c, "type") ?: "", type)) return c;
    return NULL;
}

static void expect_node(json_t *p, const char *node)
{
    const char *got = tt_str(p, "spec.nodeName");
    if (!got || strcmp(got, node))
        fail_msg("pod %s on %s, expected %s", tt_str(p, "metadata.name"), got ? got : "(none)", node);
    assert_string_equal(tt_str(condition(p, "PodScheduled"), "status"), "True");
    assert_string_equal(tt_str(p, "status.phase"), "Running");
    json_decref(p);
}

static void expect_pending(json_t *p, const char *why)
{
    assert_null(tt_path(p, "spec.nodeName"));
    assert_null(tt_path(p, "status.podIP"));
    assert_string_equal(tt_str(p, "status.phase"), "Pending");
    const json_t *c = condition(p, "PodScheduled");
    assert_non_null(c);
    assert_string_equal(tt_str(c, "status"), "False");
    assert_string_equal(tt_str(c, "reason"), "Unschedulable");
    if (!strstr(tt_str(c, "message") ?: "", why))
        fail_msg("message \"%s\" does not say \"%s\"", tt_str(c, "message"), why);
    json_decref(p);
}

static void test_scheduler(void **state)
{
    (void)state;
    twin *t = tt_cluster(json_pack(
        "[o, o, o, o]", tt_namespace("app", NULL), tt_node("small", "1", "4Gi", tj("{'metadata':{'labels':{'disk':'ssd'}}}")),
        tt_node("big", "4", "16Gi", NULL),
        tt_node("tainted", "8", "32Gi", tj("{'spec':{'taints':[{'key':'gpu','value':'true','effect':'NoSchedule'}]}}"))));
    /* requests fit allocatable: 1.5 cores only fit on big (tainted is off limits) */
    expect_node(place(t, pod("p1", "1500m", NULL)), "big");
    /* least allocated wins: small is idle, big is 3/8 used */
    expect_node(place(t, pod("p2", "500m", NULL)), "small");
    /* a toleration opens the tainted node (the least allocated) */
    expect_node(place(t, pod("p3", "100m", "{'tolerations':[{'key':'gpu','operator':'Equal','value':'true',"
                                           "'effect':'NoSchedule'}]}")),
                "tainted");
    /* nodeSelector: only small carries disk=ssd, though big is freer */
    expect_node(place(t, pod("p4", "200m", "{'nodeSelector':{'disk':'ssd'}}")), "small");
    /* nothing fits: Pending, PodScheduled=False/Unschedulable with the scheduler's message */
    expect_pending(place(t, pod("p5", "3", NULL)), "0/3 nodes are available: 1 node(s) had untolerated taint, 2 Insufficient cpu.");
    expect_pending(place(t, pod("p6", "100m", "{'nodeSelector':{'disk':'nvme'}}")),
                   "node(s) didn't match Pod's node affinity/selector");

    /* cordon big: nothing new lands there */
    json_t *cordon = tj("{'spec':{'unschedulable':true}}");
    tt_do(t, tt_merge("Node", NULL, "big", cordon), 200);
    expect_pending(place(t, pod("p7", "1500m", NULL)), "node(s) were unschedulable");
    /* pods already there stay (cordon is not drain) */
    expect_node(tt_get(t, TWIN_AFTER, "Pod", "app", "p1"), "big");
    /* uncordon: the pending pods that fit now are scheduled */
    json_t *uncordon = tj("{'spec':{'unschedulable':false}}");
    tt_do(t, tt_merge("Node", NULL, "big", uncordon), 200);
    expect_node(tt_get(t, TWIN_AFTER, "Pod", "app", "p7"), "big");
    json_decref(cordon);
    json_decref(uncordon);
    twin_close(t);
}

/* A Deployment whose pods do not fit stays partly Pending, not Ready. */
static void test_scheduler_deployment_pending(void **state)
{
    (void)state;
    twin *t = tt_cluster(json_pack(
        "[o, o, o]", tt_namespace("app", NULL), tt_node("n1", "1", "4Gi", NULL),
        tt_deploy("app", "web", 4, tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','image':'nginx:1.25',"
                                      "'resources':{'requests':{'cpu':'300m'}}}]}}}}"))));
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(pods), 4);
    assert_int_equal(tt_ready(pods), 3);
    json_decref(pods);
    char err[128];
    json_t *pending = twin_list(t, TWIN_AFTER, "Pod", "app", NULL, "status.phase=Pending", err, sizeof err);
    assert_int_equal(json_array_size(pending), 1);
    expect_pending(json_incref(json_array_get(pending, 0)), "1 Insufficient cpu");
    json_decref(pending);
    assert_int_equal(tt_field(t, TWIN_AFTER, "Deployment", "app", "web", "status.readyReplicas"), 3);
    twin_close(t);
}

/* Which pods a scale-down removes (ActivePodsWithRanks): an unscheduled one
 * before any scheduled one, then the lowest pod-deletion-cost. */
static void test_scale_down_victims(void **state)
{
    (void)state;
    twin *t = tt_cluster(json_pack(
        "[o, o, o]", tt_namespace("app", NULL), tt_node("n1", "1", "4Gi", NULL),
        tt_deploy("app", "web", 4, tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','image':'nginx:1.25',"
                                      "'resources':{'requests':{'cpu':'300m'}}}]}}}}"))));
    char err[128];
    json_t *pending = twin_list(t, TWIN_AFTER, "Pod", "app", NULL, "status.phase=Pending", err, sizeof err);
    assert_int_equal(json_array_size(pending), 1);
    char name[128];
    snprintf(name, sizeof name, "%s", tt_str(json_array_get(pending, 0), "metadata.name"));
    json_decref(pending);
    json_t *patch = tj("{'spec':{'replicas':3}}");
    twin_result res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_null(twin_get(t, TWIN_AFTER, "Pod", "app", name));
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 0);
    twin_result_free(&res);
    twin_commit(t);
    json_decref(patch);

    /* all three Running and Ready: the cheapest to delete goes first */
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(pods), 3);
    const char *cost[] = {"100", "-5", "7"};
    for (size_t i = 0; i < 3; i++) {
        json_t *ann = tj("{'metadata':{'annotations':{'controller.kubernetes.io/pod-deletion-cost':'%s'}}}", cost[i]);
        tt_do(t, tt_merge("Pod", "app", tt_str(json_array_get(pods, i), "metadata.name"), ann), 200);
        json_decref(ann);
    }
    patch = tj("{'spec':{'replicas':1}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    json_t *left = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(left), 1);
    assert_string_equal(tt_str(json_array_get(left, 0), "metadata.name"), tt_str(json_array_get(pods, 0), "metadata.name"));
    json_decref(left);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    json_decref(pods);
    twin_close(t);
}

/* ---- Service -> Endpoints ---- */

static json_t *bare_pod(const char *name, const char *app, const char *phase, int ready, const char *ip)
{
    return tj("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'app','labels':{'app':'%s'}},"
              "'spec':{'nodeName':'n1','containers':[{'name':'c','image':'web:1','ports':[{'name':'http',"
              "'containerPort':8080},{'name':'metrics','containerPort':9090}]}]},"
              "'status':{'phase':'%s','podIP':'%s','conditions':[{'type':'Ready','status':'%s'}]}}",
              name, app, phase, ip, ready ? "True" : "False");
}

static void test_endpoints_from_ready_pods(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o, o, o, o, o, o, o, o]", bare_pod("ready", "web", "Running", 1, "10.244.0.10"),
        bare_pod("unready", "web", "Running", 0, "10.244.0.11"), bare_pod("done", "web", "Succeeded", 0, "10.244.0.12"),
        bare_pod("other", "api", "Running", 1, "10.244.0.13"), tt_service("app", "web", "web"),
        tj("{'apiVersion':'v1','kind':'Service','metadata':{'name':'named','namespace':'app'},'spec':{'selector':"
           "{'app':'web'},'ports':[{'name':'web','port':80,'targetPort':'http'},{'name':'m','port':9100,'targetPort':'metrics'}]}}"),
        tj("{'apiVersion':'v1','kind':'Service','metadata':{'name':'manual','namespace':'app'},'spec':{'ports':[{'port':80}]}}"),
        tj("{'apiVersion':'v1','kind':'Service','metadata':{'name':'all','namespace':'app'},'spec':{'selector':"
           "{'app':'web'},'publishNotReadyAddresses':true,'ports':[{'port':80,'targetPort':8080}]}}")));
    json_t *ep = tt_get(t, TWIN_AFTER, "Endpoints", "app", "web");
    json_t *subsets = json_object_get(ep, "subsets");
    assert_int_equal(json_array_size(subsets), 1);
    json_t *s = json_array_get(subsets, 0);
    /* Ready pods are addresses, unready ones notReadyAddresses, finished ones nothing */
    assert_int_equal(json_array_size(json_object_get(s, "addresses")), 1);
    assert_string_equal(tt_str(s, "addresses.0.ip"), "10.244.0.10");
    assert_string_equal(tt_str(s, "addresses.0.targetRef.name"), "ready");
    assert_string_equal(tt_str(s, "addresses.0.nodeName"), "n1");
    assert_int_equal(json_array_size(json_object_get(s, "notReadyAddresses")), 1);
    assert_string_equal(tt_str(s, "notReadyAddresses.0.ip"), "10.244.0.11");
    assert_int_equal(tt_int(s, "ports.0.port"), 8080);
    assert_string_equal(tt_str(s, "ports.0.protocol"), "TCP");
    json_decref(ep);

    /* a named targetPort resolves to the container port of that name */
    ep = tt_get(t, TWIN_AFTER, "Endpoints", "app", "named");
    json_t *ports = tt_path(ep, "subsets.0.ports");
    assert_int_equal(json_array_size(ports), 2);
    assert_true(tt_has(ports, "name", "web", NULL));
    assert_true(tt_has(ports, "name", "m", NULL));
    size_t i;
    json_t *pt;
    json_array_foreach(ports, i, pt) assert_int_equal(tt_int(pt, "port"), !strcmp(tt_str(pt, "name"), "web") ? 8080 : 9090);
    json_decref(ep);

    /* no selector: the Endpoints are the user's, none are made */
    assert_null(twin_get(t, TWIN_AFTER, "Endpoints", "app", "manual"));
    /* publishNotReadyAddresses: every live pod is an address */
    ep = tt_get(t, TWIN_AFTER, "Endpoints", "app", "all");
    assert_int_equal(json_array_size(tt_path(ep, "subsets.0.addresses")), 2);
    assert_null(tt_path(ep, "subsets.0.notReadyAddresses"));
    json_decref(ep);

    /* deleting the Service deletes its Endpoints */
    tt_do(t, tt_delete("Service", "app", "web", NULL), 200);
    assert_null(twin_get(t, TWIN_AFTER, "Endpoints", "app", "web"));
    twin_close(t);
}

/* Endpoints follow the pods: a Deployment's pods appear as they become
 * Ready; a pod without the named port is not an endpoint at all. */
static void test_endpoints_follow_deployment(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o, o]", tt_deploy("app", "web", 2, NULL),
        tj("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','namespace':'app'},'spec':{'selector':"
           "{'app':'web'},'ports':[{'port':80,'targetPort':'http'}]}}")));
    json_t *ep = tt_get(t, TWIN_AFTER, "Endpoints", "app", "web");
    assert_int_equal(json_array_size(tt_path(ep, "subsets.0.addresses")), 2);
    assert_int_equal(tt_int(ep, "subsets.0.ports.0.port"), 8080);
    json_decref(ep);
    /* the template renames the port: no pod has "http" any more */
    json_t *patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','ports':[{'name':'web',"
                       "'containerPort':8080}]}]}}}}");
    twin_request req = tt_merge("Deployment", "app", "web", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    tt_do(t, req, 200);
    ep = tt_get(t, TWIN_AFTER, "Endpoints", "app", "web");
    assert_int_equal(json_array_size(json_object_get(ep, "subsets")), 0);
    json_decref(ep);
    json_decref(patch);
    twin_close(t);
}

/* ---- garbage collection ---- */

static void test_delete_deployment_propagation(void **state)
{
    (void)state;
    const char *policies[] = {"Background", "Foreground", NULL};
    for (int k = 0; k < 3; k++) {
        twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 3, NULL)));
        twin_result res = tt_apply(t, tt_delete("Deployment", "app", "web", policies[k]));
        assert_int_equal(res.code, 200);
        assert_null(twin_get(t, TWIN_AFTER, "Deployment", "app", "web"));
        assert_int_equal(tt_count(t, TWIN_AFTER, "ReplicaSet", "app", NULL), 0);
        assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", NULL), 0);
        assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 3);
        twin_result_free(&res);
        twin_commit(t);
        assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", NULL), 0);
        twin_close(t);
    }

    /* Orphan: the ReplicaSet stays, no longer owned, and keeps its pods */
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 3, NULL)));
    json_t *pods_before = tt_list(t, TWIN_AFTER, "Pod", "app", NULL);
    twin_result res = tt_apply(t, tt_delete("Deployment", "app", "web", "Orphan"));
    assert_int_equal(res.code, 200);
    assert_int_equal(tt_int(res.impact, "settled.pods_disrupted"), 0);
    twin_result_free(&res);
    twin_commit(t);
    assert_null(twin_get(t, TWIN_AFTER, "Deployment", "app", "web"));
    json_t *rss = tt_list(t, TWIN_AFTER, "ReplicaSet", "app", NULL);
    assert_int_equal(json_array_size(rss), 1);
    assert_null(tt_path(json_array_get(rss, 0), "metadata.ownerReferences"));
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", NULL);
    json_t *na = names_of(pods_before), *nb = names_of(pods);
    assert_true(json_equal(na, nb));
    assert_int_equal(tt_ready(pods), 3);
    assert_string_equal(owner_name(json_array_get(pods, 0)), tt_str(json_array_get(rss, 0), "metadata.name"));
    /* the orphaned ReplicaSet still keeps its count */
    tt_do(t, tt_delete("Pod", "app", tt_str(json_array_get(pods, 0), "metadata.name"), NULL), 200);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", NULL), 3);

    /* the body's propagationPolicy counts as well, and a bad one is refused */
    json_t *opts = tj("{'kind':'DeleteOptions','apiVersion':'v1','propagationPolicy':'Sideways'}");
    twin_request req = tt_delete("ReplicaSet", "app", tt_str(json_array_get(rss, 0), "metadata.name"), NULL);
    req.body = opts;
    res = tt_apply(t, req);
    assert_int_equal(res.code, 422);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(opts);
    json_decref(na);
    json_decref(nb);
    json_decref(pods);
    json_decref(pods_before);
    json_decref(rss);
    twin_close(t);
}

/* A raw DELETE of a Job orphans its pods (the kind's default, kept for
 * backward compatibility); kubectl sends Background and cascades. */
static void test_delete_job_orphans_by_default(void **state)
{
    (void)state;
    json_t *job = tj("{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'migrate','namespace':'app'},"
                     "'spec':{'parallelism':2,'completions':2,'template':{'spec':{'restartPolicy':'Never',"
                     "'containers':[{'name':'m','image':'migrate:1'}]}}}}");
    twin *t = cluster(json_pack("[O]", job));
    twin_result res = tt_apply(t, tt_delete("Job", "app", "migrate", NULL));
    assert_int_equal(res.code, 200);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "job-name=migrate");
    assert_int_equal(json_array_size(pods), 2);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) assert_null(tt_path(p, "metadata.ownerReferences"));
    json_decref(pods);
    twin_result_free(&res);
    twin_rollback(t);
    res = tt_apply(t, tt_delete("Job", "app", "migrate", "Background"));
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", NULL), 0);
    twin_result_free(&res);
    twin_rollback(t);
    /* DeleteOptions.orphanDependents=false means cascade too */
    json_t *opts = tj("{'orphanDependents':false}");
    twin_request req = tt_delete("Job", "app", "migrate", NULL);
    req.body = opts;
    res = tt_apply(t, req);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", NULL), 0);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(opts);
    json_decref(job);
    twin_close(t);
}

/* ---- namespaces and nodes ---- */

static void test_namespace_deletion_cascades(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o, o, o, o, o, o, o]", tt_deploy("app", "web", 2, NULL), tt_service("app", "web", "web"), statefulset(1),
        tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cfg','namespace':'app'}}"),
        tj("{'apiVersion':'v1','kind':'Secret','metadata':{'name':'s','namespace':'app'}}"),
        tt_namespace("other", NULL), tt_deploy("other", "keep", 1, NULL)));
    twin_result res = tt_apply(t, tt_delete("Namespace", NULL, "app", NULL));
    assert_int_equal(res.code, 200);
    twin_result_free(&res);
    twin_commit(t);
    assert_null(twin_get(t, TWIN_AFTER, "Namespace", NULL, "app"));
    const char *kinds[] = {"Deployment", "ReplicaSet", "Pod", "Service", "Endpoints", "StatefulSet",
                           "PersistentVolumeClaim", "ConfigMap", "Secret", NULL};
    for (int k = 0; kinds[k]; k++) {
        if (tt_count(t, TWIN_AFTER, kinds[k], "app", NULL) != 0)
            fail_msg("%s left in the deleted namespace", kinds[k]);
    }
    /* other namespaces are untouched */
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "other", NULL), 1);

    /* default and kube-system cannot be deleted */
    const char *prot[] = {"default", "kube-system"};
    for (int k = 0; k < 2; k++) {
        res = tt_apply(t, tt_delete("Namespace", NULL, prot[k], NULL));
        assert_int_equal(res.code, 403);
        assert_string_equal(tt_str(res.object, "reason"), "Forbidden");
        assert_int_equal(json_array_size(res.diff), 0);
        twin_result_free(&res);
        twin_rollback(t);
        json_decref(tt_get(t, TWIN_AFTER, "Namespace", NULL, prot[k]));
    }
    twin_close(t);
}

static void test_node_deletion_reschedules(void **state)
{
    (void)state;
    twin *t = tt_cluster(json_pack("[o, o, o, o, o]", tt_namespace("app", NULL), tt_namespace("kube-system", NULL),
                                   tt_node("n1", "4", "16Gi", NULL), tt_node("n2", "4", "16Gi", NULL),
                                   tt_deploy("app", "web", 4, NULL)));
    json_t *ds = daemonset("agent", NULL);
    tt_do(t, tt_create(ds), 201);
    json_decref(ds);
    assert_int_equal(pods_on(t, "n1"), 3);   /* 2 of web (spread), 1 agent */
    twin_result res = tt_apply(t, tt_delete("Node", NULL, "n1", NULL));
    assert_int_equal(res.code, 200);
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 3);
    twin_result_free(&res);
    twin_commit(t);
    assert_int_equal(pods_on(t, "n1"), 0);
    /* the Deployment's pods were replaced on n2; the DaemonSet's were not */
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(pods), 4);
    assert_int_equal(tt_ready(pods), 4);
    json_decref(pods);
    assert_int_equal(pods_on(t, "n2"), 5);
    expect_ds_nodes(t, "agent", "['n2']");
    twin_close(t);
}

/* A NoExecute taint evicts what does not tolerate it: at once without a
 * toleration, once settled with tolerationSeconds, never with a plain
 * toleration. */
static void test_noexecute_taint_evicts(void **state)
{
    (void)state;
    twin *t = tt_cluster(json_pack(
        "[o, o, o, o, o, o, o]", tt_namespace("app", NULL), tt_node("n1", "4", "16Gi", NULL),
        tt_node("n2", "4", "16Gi", NULL), tt_deploy("app", "web", 4, NULL),
        tj("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'stays','namespace':'app'},'spec':{'nodeName':'n1',"
           "'tolerations':[{'key':'maint','operator':'Exists','effect':'NoExecute'}],'containers':[{'name':'c','image':'x'}]},"
           "'status':{'phase':'Running','podIP':'10.244.1.1','conditions':[{'type':'Ready','status':'True'}]}}"),
        tj("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'lingers','namespace':'app'},'spec':{'nodeName':'n1',"
           "'tolerations':[{'key':'maint','operator':'Exists','effect':'NoExecute','tolerationSeconds':300}],"
           "'containers':[{'name':'c','image':'x'}]},"
           "'status':{'phase':'Running','podIP':'10.244.1.2','conditions':[{'type':'Ready','status':'True'}]}}"),
        tj("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'goes','namespace':'app'},'spec':{'nodeName':'n1',"
           "'containers':[{'name':'c','image':'x'}]},"
           "'status':{'phase':'Running','podIP':'10.244.1.3','conditions':[{'type':'Ready','status':'True'}]}}")));
    json_t *web_on_n1 = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    json_t *taint = tj("{'spec':{'taints':[{'key':'maint','effect':'NoExecute'}]}}");
    twin_result res = tt_apply(t, tt_merge("Node", NULL, "n1", taint));
    assert_int_equal(res.code, 200);
    json_t *instant = tt_path(res.impact, "instant.pods");
    assert_true(json_array_size(instant) >= 2);
    int has_goes = 0, has_lingers = 0, has_stays = 0;
    size_t i;
    json_t *p;
    json_array_foreach(instant, i, p) {
        has_goes |= !strcmp(json_string_value(p), "app/goes");
        has_lingers |= !strcmp(json_string_value(p), "app/lingers");
        has_stays |= !strcmp(json_string_value(p), "app/stays");
    }
    assert_true(has_goes);
    assert_false(has_lingers);
    assert_false(has_stays);
    /* settled: tolerationSeconds ran out; the plain toleration stays */
    assert_null(twin_get(t, TWIN_AFTER, "Pod", "app", "goes"));
    assert_null(twin_get(t, TWIN_AFTER, "Pod", "app", "lingers"));
    json_decref(tt_get(t, TWIN_AFTER, "Pod", "app", "stays"));
    twin_result_free(&res);
    twin_commit(t);
    /* web's pods were evicted from n1 and replaced on n2 */
    json_t *web = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    assert_int_equal(json_array_size(web), 4);
    assert_int_equal(tt_ready(web), 4);
    json_array_foreach(web, i, p) assert_string_equal(tt_str(p, "spec.nodeName"), "n2");
    json_decref(web);
    json_decref(web_on_n1);
    json_decref(taint);
    twin_close(t);
}

/* ---- HPA ---- */

static void test_hpa_bounds_settled_only(void **state)
{
    (void)state;
    twin *t = cluster(json_pack(
        "[o, o]", tt_deploy("app", "web", 2, NULL),
        tj("{'apiVersion':'autoscaling/v2','kind':'HorizontalPodAutoscaler','metadata':{'name':'web','namespace':'app'},"
           "'spec':{'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},'minReplicas':3,"
           "'maxReplicas':5}}")));
    /* below min on import: raised to 3 */
    assert_int_equal(tt_field(t, TWIN_AFTER, "Deployment", "app", "web", "spec.replicas"), 3);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=web"), 3);

    /* scale to 10: the instant has 10 (7 more pods), the HPA brings it to 5 */
    json_t *patch = tj("{'spec':{'replicas':10}}");
    twin_result res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_true(near(tt_num(res.impact, "cost_instant.delta"), 7 * POD_COST));
    assert_true(near(tt_num(res.impact, "cost.delta"), 2 * POD_COST));
    assert_int_equal(tt_field(t, TWIN_AFTER, "Deployment", "app", "web", "spec.replicas"), 5);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=web"), 5);
    json_t *hpa = tt_get(t, TWIN_AFTER, "HorizontalPodAutoscaler", "app", "web");
    assert_int_equal(tt_int(hpa, "status.desiredReplicas"), 5);
    json_decref(hpa);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* scale to 1: one pod gone at the instant, back to 3 once settled */
    patch = tj("{'spec':{'replicas':1}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 2);
    assert_int_equal(tt_field(t, TWIN_AFTER, "Deployment", "app", "web", "spec.replicas"), 3);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=web"), 3);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* within bounds: left alone; 0 with minReplicas 1 disables the HPA */
    const int keep[] = {4, 0};
    for (int k = 0; k < 2; k++) {
        patch = tj("{'spec':{'replicas':%d}}", keep[k]);
        res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
        assert_int_equal(tt_field(t, TWIN_AFTER, "Deployment", "app", "web", "spec.replicas"), keep[k]);
        assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=web"), (size_t)keep[k]);
        twin_result_free(&res);
        twin_rollback(t);
        json_decref(patch);
    }
    twin_close(t);
}

/* ---- Eviction API and PodDisruptionBudgets ---- */

static json_t *pdb(const char *name, const char *field, const char *value_json)
{
    return tj("{'apiVersion':'policy/v1','kind':'PodDisruptionBudget','metadata':{'name':'%s','namespace':'app'},"
              "'spec':{'selector':{'matchLabels':{'app':'web'}},'%s':%s}}",
              name, field, value_json);
}

static twin_result evict(twin *t, const char *name)
{
    json_t *body = tj("{'apiVersion':'policy/v1','kind':'Eviction','metadata':{'name':'%s','namespace':'app'}}", name);
    twin_result res = tt_apply(t, (twin_request){.verb = TWIN_EVICT, .kind = "Pod", .ns = "app", .name = name,
                                                 .body = body});
    json_decref(body);
    return res;
}

static char *first_pod(twin *t)
{
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    char *name = strdup(tt_str(json_array_get(pods, 0), "metadata.name"));
    json_decref(pods);
    return name;
}

static void test_eviction_respects_pdb(void **state)
{
    (void)state;
    struct {
        const char *field, *value;
        int code;
    } cases[] = {
        {"minAvailable", "3", 429}, {"minAvailable", "2", 201},   {"minAvailable", "'100%'", 429},
        {"minAvailable", "'50%'", 201}, {"maxUnavailable", "0", 429}, {"maxUnavailable", "1", 201},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        twin *t = cluster(json_pack("[o, o]", tt_deploy("app", "web", 3, NULL), pdb("web", cases[k].field, cases[k].value)));
        char *victim = first_pod(t);
        twin_result res = evict(t, victim);
        if (res.code != cases[k].code)
            fail_msg("%s %s: evict answered %d, expected %d", cases[k].field, cases[k].value, res.code, cases[k].code);
        if (res.code == 429) {
            assert_string_equal(tt_str(res.object, "reason"), "TooManyRequests");
            assert_non_null(strstr(tt_str(res.object, "message"),
                                   "Cannot evict pod as it would violate the pod's disruption budget."));
            assert_string_equal(tt_str(res.object, "details.causes.0.reason"), "DisruptionBudget");
            assert_int_equal(json_array_size(res.diff), 0);
            json_decref(tt_get(t, TWIN_AFTER, "Pod", "app", victim));
        } else {
            assert_string_equal(tt_str(res.object, "status"), "Success");
            assert_null(twin_get(t, TWIN_AFTER, "Pod", "app", victim));
            assert_int_equal(tt_int(res.impact, "instant.pods_disrupted"), 1);
            /* the ReplicaSet replaces it */
            assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "app", "app=web"), 3);
        }
        twin_result_free(&res);
        twin_rollback(t);
        free(victim);
        twin_close(t);
    }

    /* two budgets for one pod: the eviction subresource refuses (500) */
    twin *t = cluster(json_pack("[o, o, o]", tt_deploy("app", "web", 3, NULL), pdb("a", "minAvailable", "1"),
                                pdb("b", "maxUnavailable", "1")));
    char *victim = first_pod(t);
    twin_result res = evict(t, victim);
    assert_int_equal(res.code, 500);
    twin_result_free(&res);
    twin_rollback(t);
    /* no budget: evicted */
    tt_do(t, tt_delete("PodDisruptionBudget", "app", "a", NULL), 200);
    tt_do(t, tt_delete("PodDisruptionBudget", "app", "b", NULL), 200);
    res = evict(t, victim);
    assert_int_equal(res.code, 201);
    twin_result_free(&res);
    twin_rollback(t);
    res = evict(t, "no-such-pod");
    assert_int_equal(res.code, 404);
    twin_result_free(&res);
    twin_rollback(t);
    free(victim);
    twin_close(t);
}

/* A pod that is not Ready: evicted without using the budget while the budget
 * is met (IfHealthyBudget) or always (AlwaysAllow); under a broken budget,
 * refused like any other. */
static void test_eviction_unready_pod(void **state)
{
    (void)state;
    struct {
        const char *min, *policy;
        int code;
    } cases[] = {
        {"2", NULL, 201},            /* 2 healthy >= 2 desired: the budget is met */
        {"3", NULL, 429},            /* 2 healthy < 3: broken budget, no disruption allowed */
        {"3", "AlwaysAllow", 201},
        {"3", "IfHealthyBudget", 429},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_t *budget = pdb("web", "minAvailable", cases[k].min);
        if (cases[k].policy)
            json_object_set_new(json_object_get(budget, "spec"), "unhealthyPodEvictionPolicy",
                                json_string(cases[k].policy));
        json_t *docs = json_pack("[o]", budget);
        const char *names[] = {"web-a", "web-b", "web-c"};
        for (int i = 0; i < 3; i++) {
            json_t *p = bare_pod(names[i], "web", "Running", i != 2, "10.244.0.20");
            json_array_append_new(docs, p);
        }
        twin *t = cluster(docs);
        twin_result res = evict(t, "web-c");
        if (res.code != cases[k].code)
            fail_msg("minAvailable %s, %s: evicting the unready pod answered %d, expected %d", cases[k].min,
                     cases[k].policy ? cases[k].policy : "default", res.code, cases[k].code);
        twin_result_free(&res);
        twin_rollback(t);
        /* a Ready pod under the same budget */
        res = evict(t, "web-a");
        assert_int_equal(res.code, 429);
        twin_result_free(&res);
        twin_rollback(t);
        twin_close(t);
    }
}

/* The controllers' Events (twin_set_events): off, none is written; on, a
 * scale writes the Deployment's ScalingReplicaSet, the ReplicaSet's
 * SuccessfulCreate per pod and the scheduler's Scheduled per pod, never in
 * the diff or its counts (nothing to judge) but in res.events; an
 * unschedulable pod gets a Warning FailedScheduling with the scheduler's
 * message; the same Event again counts up; a rollback takes them back. */
static size_t events_where(twin *t, const char *reason, const char *kind, const char *name)
{
    json_t *evs = tt_list(t, TWIN_AFTER, "Event", "app", NULL);
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(evs, i, e) {
        if (!strcmp(tt_str(e, "reason"), reason) && !strcmp(tt_str(e, "involvedObject.kind"), kind) &&
            (!name || !strcmp(tt_str(e, "involvedObject.name"), name)))
            n++;
    }
    json_decref(evs);
    return n;
}

static void test_controller_events(void **state)
{
    (void)state;
    twin *t = cluster(json_pack("[o]", tt_deploy("app", "web", 2, NULL)));
    json_t *scale = tj("{'spec':{'replicas':3}}");
    twin_result res = tt_apply(t, tt_merge("Deployment", "app", "web", scale));
    assert_int_equal(json_array_size(res.events), 0);   /* off by default */
    twin_result_free(&res);
    twin_rollback(t);

    twin_set_events(t, 1);
    res = tt_apply(t, tt_merge("Deployment", "app", "web", scale));
    assert_int_equal(res.code, 200);
    size_t i;
    json_t *c;
    json_array_foreach(res.diff, i, c) assert_string_not_equal(tt_str(c, "kind"), "Event");
    assert_null(json_object_get(json_object_get(json_object_get(res.impact, "counts"), "by_kind"), "Event"));
    assert_true(json_array_size(res.events) >= 3);
    twin_result_free(&res);
    twin_rollback(t);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Event", "app", NULL), 0);   /* rolled back with the operation */

    res = tt_apply(t, tt_merge("Deployment", "app", "web", scale));
    twin_result_free(&res);
    twin_commit(t);
    assert_int_equal(events_where(t, "ScalingReplicaSet", "Deployment", "web"), 1);
    assert_int_equal(events_where(t, "SuccessfulCreate", "ReplicaSet", NULL), 1);
    assert_int_equal(events_where(t, "Scheduled", "Pod", NULL), 1);
    /* the kubelet's: the new pod's container pulled, created, started */
    assert_int_equal(events_where(t, "Pulled", "Pod", NULL), 1);
    assert_int_equal(events_where(t, "Created", "Pod", NULL), 1);
    assert_int_equal(events_where(t, "Started", "Pod", NULL), 1);
    json_t *evs = tt_list(t, TWIN_AFTER, "Event", "app", NULL);
    json_array_foreach(evs, i, c) {
        if (strcmp(tt_str(c, "reason"), "ScalingReplicaSet"))
            continue;
        assert_string_equal(tt_str(c, "type"), "Normal");
        assert_string_equal(tt_str(c, "source.component"), "deployment-controller");
        assert_non_null(strstr(tt_str(c, "message"), "from 2 to 3"));
        assert_int_equal(tt_int(c, "count"), 1);
    }
    json_decref(evs);

    /* a deleted running pod: the kubelet stops its container */
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", NULL);
    const char *victim = tt_str(json_array_get(pods, 0), "metadata.name");
    tt_do(t, tt_delete("Pod", "app", victim, NULL), 200);
    assert_int_equal(events_where(t, "Killing", "Pod", victim), 1);
    evs = tt_list(t, TWIN_AFTER, "Event", "app", NULL);
    json_array_foreach(evs, i, c) {
        if (!strcmp(tt_str(c, "reason"), "Killing")) {
            assert_string_equal(tt_str(c, "source.component"), "kubelet");
            assert_non_null(strstr(tt_str(c, "message"), "Stopping container "));
        }
    }
    json_decref(evs);
    json_decref(pods);

    /* the same Event again counts up (3 -> 4 -> 3 -> 4 ...); an object keeps
     * its 20 newest (then every size up to 30, each a new message) */
    for (int n = 0; n < 30; n++) {
        json_t *to = json_pack("{s:{s:i}}", "spec", "replicas", n < 6 ? 4 - n % 2 : n);
        res = tt_apply(t, tt_merge("Deployment", "app", "web", to));
        twin_result_free(&res);
        twin_commit(t);
        json_decref(to);
        if (n == 5) {
            long counted = 0;
            evs = tt_list(t, TWIN_AFTER, "Event", "app", NULL);
            json_array_foreach(evs, i, c) {
                if (!strcmp(tt_str(c, "reason"), "ScalingReplicaSet") && strstr(tt_str(c, "message"), "from 3 to 4"))
                    counted = tt_int(c, "count");
            }
            json_decref(evs);
            assert_int_equal(counted, 3);   /* 3 -> 4 three times: one Event */
        }
    }
    assert_int_equal(events_where(t, "ScalingReplicaSet", "Deployment", "web"), 20);

    /* a pod that fits nowhere: the scheduler says why, as a Warning */
    json_t *huge = tj("{'spec':{'template':{'spec':{'containers':[{'name':'web','image':'nginx',"
                      "'resources':{'requests':{'cpu':'64'}}}]}}}}");
    res = tt_apply(t, tt_merge("Deployment", "app", "web", huge));
    twin_result_free(&res);
    twin_commit(t);
    evs = tt_list(t, TWIN_AFTER, "Event", "app", NULL);
    int warned = 0;
    json_array_foreach(evs, i, c) {
        if (!strcmp(tt_str(c, "reason"), "FailedScheduling")) {
            warned = 1;
            assert_string_equal(tt_str(c, "type"), "Warning");
            assert_non_null(strstr(tt_str(c, "message"), "Insufficient cpu"));
        }
    }
    assert_true(warned);
    json_decref(evs);

    json_decref(huge);
    json_decref(scale);
    twin_close(t);
}

/* The service account controller: a namespace gets its ServiceAccount
 * "default", which comes back when deleted and goes with the namespace. */
static void test_default_service_account(void **state)
{
    (void)state;
    twin *t = tt_cluster(json_pack("[o]", tt_node("n1", "4", "16Gi", NULL)));
    json_t *ns = tj("{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'team-a'}}");
    tt_do(t, tt_create(ns), 201);
    json_t *sa = tt_get(t, TWIN_AFTER, "ServiceAccount", "team-a", "default");
    assert_non_null(tt_str(sa, "metadata.uid"));
    json_decref(sa);
    tt_do(t, tt_delete("ServiceAccount", "team-a", "default", NULL), 200);
    json_decref(tt_get(t, TWIN_AFTER, "ServiceAccount", "team-a", "default"));   /* back at once */
    tt_do(t, tt_delete("Namespace", NULL, "team-a", NULL), 200);
    assert_null(twin_get(t, TWIN_AFTER, "ServiceAccount", "team-a", "default"));
    json_decref(ns);
    twin_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deployment_creates_replicaset_and_pods),
        cmocka_unit_test(test_deployment_names_deterministic),
        cmocka_unit_test(test_scale_subresource),
        cmocka_unit_test(test_controller_events),
        cmocka_unit_test(test_scale_by_patch),
        cmocka_unit_test(test_rolling_update_defaults),
        cmocka_unit_test(test_rolling_update_three_replicas),
        cmocka_unit_test(test_rolling_update_surge_only),
        cmocka_unit_test(test_rolling_update_unavailable_only),
        cmocka_unit_test(test_recreate),
        cmocka_unit_test(test_rollout_undo_and_history),
        cmocka_unit_test(test_owned_replicaset_scaled_back),
        cmocka_unit_test(test_paused_deployment),
        cmocka_unit_test(test_statefulset_ordinals_and_claims),
        cmocka_unit_test(test_statefulset_ordered_creation),
        cmocka_unit_test(test_statefulset_scale_down_highest_first),
        cmocka_unit_test(test_statefulset_claim_retention),
        cmocka_unit_test(test_statefulset_rolling_update),
        cmocka_unit_test(test_daemonset_one_pod_per_eligible_node),
        cmocka_unit_test(test_daemonset_rolling_update),
        cmocka_unit_test(test_job_pods),
        cmocka_unit_test(test_scheduler),
        cmocka_unit_test(test_scheduler_deployment_pending),
        cmocka_unit_test(test_scale_down_victims),
        cmocka_unit_test(test_endpoints_from_ready_pods),
        cmocka_unit_test(test_endpoints_follow_deployment),
        cmocka_unit_test(test_delete_deployment_propagation),
        cmocka_unit_test(test_delete_job_orphans_by_default),
        cmocka_unit_test(test_namespace_deletion_cascades),
        cmocka_unit_test(test_node_deletion_reschedules),
        cmocka_unit_test(test_noexecute_taint_evicts),
        cmocka_unit_test(test_hpa_bounds_settled_only),
        cmocka_unit_test(test_eviction_respects_pdb),
        cmocka_unit_test(test_eviction_unready_pod),
        cmocka_unit_test(test_default_service_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
