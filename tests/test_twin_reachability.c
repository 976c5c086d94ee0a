/*
 * test_twin_reachability.c - network reachability from NetworkPolicies
 * (twin/netpol.c, k8s-api-facts §4): the pairs `from -> to:port` between
 * workloads ("namespace/name", or "outside") that an operation adds or
 * removes, in res.impact.reachability.
 *
 * The cluster: namespaces frontend (team=fe), backend (team=be) and other
 * (team=ops); workloads frontend/web, frontend/admin, backend/api (container
 * port 8080 named "http"), backend/web (app=web, like frontend's) and
 * other/tool.
 */
#include "twin_testlib.h"

static twin *cluster(void)
{
    return tt_cluster(json_pack(
        "[o, o, o, o, o, o, o, o, o]", tt_node("n1", "8", "32Gi", NULL), tt_namespace("frontend", "{'team':'fe'}"),
        tt_namespace("backend", "{'team':'be'}"), tt_namespace("other", "{'team':'ops'}"),
        tt_deploy("frontend", "web", 1, NULL), tt_deploy("frontend", "admin", 1, NULL),
        tt_deploy("backend", "api", 1, NULL), tt_deploy("backend", "web", 1, NULL), tt_deploy("other", "tool", 1, NULL)));
}

/* A NetworkPolicy `name` in ns with the given spec (JSON text). */
static json_t *netpol(const char *ns, const char *name, const char *spec)
{
    json_t *np = tj("{'apiVersion':'networking.k8s.io/v1','kind':'NetworkPolicy','metadata':{'name':'%s',"
                    "'namespace':'%s'}}",
                    name, ns);
    json_object_set_new(np, "spec", tj("%s", spec));
    return np;
}

static const char *DENY_INGRESS = "{'podSelector':{},'policyTypes':['Ingress']}";

/* Compares res.impact.reachability.<which> with want (a JSON array of
 * [from, to, port] triples), as sets. */
static void expect_pairs(const twin_result *res, const char *which, const char *want_json)
{
    json_t *got = json_object_get(tt_path(res->impact, "reachability"), which);
    json_t *want = tj("%s", want_json);
    int ok = json_array_size(got) == json_array_size(want);
    size_t i;
    json_t *w;
    json_array_foreach(want, i, w) {
        if (!tt_has(got, "from", json_string_value(json_array_get(w, 0)), "to", json_string_value(json_array_get(w, 1)),
                    "port", json_string_value(json_array_get(w, 2)), NULL))
            ok = 0;
    }
    if (!ok) {
        tt_dump(which, got);
        fail_msg("reachability.%s: expected %s", which, want_json);
    }
    json_decref(want);
}

/* Applies a request, checks it succeeded, returns the result (operation open). */
static twin_result run(twin *t, twin_request req)
{
    twin_result res = tt_apply(t, req);
    if (res.code >= 300) {
        tt_dump("answer", res.object);
        fail_msg("request failed with %d", res.code);
    }
    return res;
}

/* Creates the NetworkPolicy np (taken), checks the pairs it adds, and rolls
 * the twin back for the next case. */
static void expect_added(twin *t, json_t *np, const char *want_json)
{
    twin_result res = run(t, tt_create(np));
    expect_pairs(&res, "added", want_json);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(np);
}

static void commit_policy(twin *t, const char *ns, const char *name, const char *spec)
{
    json_t *np = netpol(ns, name, spec);
    tt_do(t, tt_create(np), 201);
    json_decref(np);
}

static void test_default_deny_then_allow_namespace(void **state)
{
    (void)state;
    twin *t = cluster();
    /* deny all ingress in backend: everything into it goes */
    json_t *np = netpol("backend", "deny", DENY_INGRESS);
    twin_result res = run(t, tt_create(np));
    expect_pairs(&res, "added", "[]");
    expect_pairs(&res, "removed",
                 "[['frontend/web','backend/api','*'],['frontend/admin','backend/api','*'],['other/tool','backend/api','*'],"
                 " ['backend/web','backend/api','*'],"
                 " ['frontend/web','backend/web','*'],['frontend/admin','backend/web','*'],['other/tool','backend/web','*'],"
                 " ['backend/api','backend/web','*']]");
    /* policyTypes given: kept as given */
    json_t *stored = tt_get(t, TWIN_AFTER, "NetworkPolicy", "backend", "deny");
    assert_int_equal(json_array_size(tt_path(stored, "spec.policyTypes")), 1);
    json_decref(stored);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(np);

    /* podSelector left out decodes as {}: the same policy */
    np = netpol("backend", "deny", "{'policyTypes':['Ingress']}");
    res = run(t, tt_create(np));
    assert_int_equal(json_array_size(tt_path(res.impact, "reachability.removed")), 8);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(np);
    commit_policy(t, "backend", "deny", DENY_INGRESS);

    /* then allow api from every pod of team=fe namespaces */
    np = netpol("backend", "allow-fe",
                "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'namespaceSelector':"
                "{'matchLabels':{'team':'fe'}}}]}]}");
    res = run(t, tt_create(np));
    expect_pairs(&res, "added", "[['frontend/web','backend/api','*'],['frontend/admin','backend/api','*']]");
    expect_pairs(&res, "removed", "[]");
    /* policyTypes defaulted to Ingress */
    stored = tt_get(t, TWIN_AFTER, "NetworkPolicy", "backend", "allow-fe");
    json_t *want = tj("['Ingress']");
    assert_true(json_equal(tt_path(stored, "spec.policyTypes"), want));
    json_decref(want);
    json_decref(stored);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(np);
    twin_close(t);
}

/* One peer with both selectors means AND; two peers mean OR. */
static void test_peer_and_versus_or(void **state)
{
    (void)state;
    twin *t = cluster();
    commit_policy(t, "backend", "deny", DENY_INGRESS);

    json_t *and_np = netpol("backend", "and",
                            "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'namespaceSelector':"
                            "{'matchLabels':{'team':'fe'}},'podSelector':{'matchLabels':{'app':'web'}}}]}]}");
    twin_result res = run(t, tt_create(and_np));
    expect_pairs(&res, "added", "[['frontend/web','backend/api','*']]");
    twin_result_free(&res);
    twin_rollback(t);

    /* OR: any pod of team=fe namespaces, or app=web pods of the policy's own namespace */
    json_t *or_np = netpol("backend", "or",
                           "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'namespaceSelector':"
                           "{'matchLabels':{'team':'fe'}}},{'podSelector':{'matchLabels':{'app':'web'}}}]}]}");
    res = run(t, tt_create(or_np));
    expect_pairs(&res, "added",
                 "[['frontend/web','backend/api','*'],['frontend/admin','backend/api','*'],['backend/web','backend/api','*']]");
    twin_result_free(&res);
    twin_rollback(t);

    /* an empty namespaceSelector is every namespace */
    json_t *all_np = netpol("backend", "all",
                            "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'namespaceSelector':{},"
                            "'podSelector':{'matchLabels':{'app':'web'}}}]}]}");
    res = run(t, tt_create(all_np));
    expect_pairs(&res, "added", "[['frontend/web','backend/api','*'],['backend/web','backend/api','*']]");
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(and_np);
    json_decref(or_np);
    json_decref(all_np);
    twin_close(t);
}

/* A named port resolves against the target's container ports. */
static void test_named_ports(void **state)
{
    (void)state;
    twin *t = cluster();
    commit_policy(t, "backend", "deny", DENY_INGRESS);
    json_t *np = netpol("backend", "http",
                        "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'namespaceSelector':"
                        "{'matchLabels':{'team':'fe'}}}],'ports':[{'port':'http'}]}]}");
    twin_result res = run(t, tt_create(np));
    expect_pairs(&res, "added", "[['frontend/web','backend/api','TCP/8080'],['frontend/admin','backend/api','TCP/8080']]");
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(np);

    /* numbers, ranges and protocols as written */
    np = netpol("backend", "range",
                "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'podSelector':{'matchLabels':"
                "{'app':'web'}}}],'ports':[{'port':8000,'endPort':8100},{'protocol':'UDP','port':53}]}]}");
    expect_added(t, np, "[['backend/web','backend/api','TCP/8000-8100'],['backend/web','backend/api','UDP/53']]");

    /* a name no container of the target declares allows nothing */
    np = netpol("backend", "grpc",
                "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'ports':[{'port':'grpc'}]}]}");
    expect_added(t, np, "[]");
    twin_close(t);
}

/* Egress isolates the source side; a connection needs both ends to allow it. */
static void test_egress(void **state)
{
    (void)state;
    twin *t = cluster();
    json_t *np = netpol("frontend", "no-egress", "{'podSelector':{'matchLabels':{'app':'web'}},'policyTypes':['Egress']}");
    twin_result res = run(t, tt_create(np));
    expect_pairs(&res, "removed",
                 "[['frontend/web','frontend/admin','*'],['frontend/web','backend/api','*'],"
                 " ['frontend/web','backend/web','*'],['frontend/web','other/tool','*']]");
    expect_pairs(&res, "added", "[]");
    twin_result_free(&res);
    twin_commit(t);
    json_decref(np);

    /* allow web out to team=be on 8080 */
    np = netpol("frontend", "to-backend",
                "{'podSelector':{'matchLabels':{'app':'web'}},'policyTypes':['Egress'],'egress':[{'to':"
                "[{'namespaceSelector':{'matchLabels':{'team':'be'}}}],'ports':[{'port':8080}]}]}");
    expect_added(t, np, "[['frontend/web','backend/api','TCP/8080'],['frontend/web','backend/web','TCP/8080']]");

    /* an egress section without policyTypes defaults to Ingress and Egress:
     * the selected pods are isolated for ingress too */
    np = netpol("other", "both",
                "{'podSelector':{'matchLabels':{'app':'tool'}},'egress':[{'to':[{'namespaceSelector':{}}]}]}");
    res = run(t, tt_create(np));
    json_t *stored = tt_get(t, TWIN_AFTER, "NetworkPolicy", "other", "both");
    json_t *want = tj("['Ingress','Egress']");
    assert_true(json_equal(tt_path(stored, "spec.policyTypes"), want));
    json_decref(want);
    json_decref(stored);
    expect_pairs(&res, "removed", "[['frontend/admin','other/tool','*'],['backend/api','other/tool','*'],"
                                  " ['backend/web','other/tool','*']]");   /* frontend/web had lost it already */
    expect_pairs(&res, "added", "[]");
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(np);
    twin_close(t);
}

static void test_delete_policy_adds_pairs(void **state)
{
    (void)state;
    twin *t = cluster();
    commit_policy(t, "backend", "deny", DENY_INGRESS);
    commit_policy(t, "backend", "allow-fe",
                  "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'namespaceSelector':"
                  "{'matchLabels':{'team':'fe'}}}]}]}");
    twin_result res = run(t, tt_delete("NetworkPolicy", "backend", "deny", NULL));
    /* api is still isolated by allow-fe; backend/web is open again */
    expect_pairs(&res, "added",
                 "[['frontend/web','backend/web','*'],['frontend/admin','backend/web','*'],['other/tool','backend/web','*'],"
                 " ['backend/api','backend/web','*']]");
    expect_pairs(&res, "removed", "[]");
    twin_result_free(&res);
    twin_commit(t);
    res = run(t, tt_delete("NetworkPolicy", "backend", "allow-fe", NULL));
    expect_pairs(&res, "added", "[['other/tool','backend/api','*'],['backend/web','backend/api','*']]");
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
}

/* ipBlock peers stand for the outside world (pod IPs are not matched against
 * CIDRs, a stated approximation): allowing 0.0.0.0/0 exposes the target. */
static void test_ipblock_outside(void **state)
{
    (void)state;
    twin *t = cluster();
    json_t *np = netpol("backend", "public",
                        "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'ipBlock':{'cidr':'0.0.0.0/0'}}],"
                        "'ports':[{'port':8080}]}]}");
    twin_result res = run(t, tt_create(np));
    json_t *added = tt_path(res.impact, "reachability.added");
    assert_true(tt_has(added, "from", "outside", "to", "backend/api", "port", "TCP/8080", NULL));
    assert_int_equal(json_array_size(added), 1);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(np);
    /* without a policy nothing is reachable from outside (exposure through
     * Services is judged on the Services) */
    commit_policy(t, "backend", "deny", DENY_INGRESS);
    np = netpol("backend", "open", "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{}]}");
    res = run(t, tt_create(np));
    /* an empty rule admits every source, outside included */
    assert_true(tt_has(tt_path(res.impact, "reachability.added"), "from", "outside", "to", "backend/api", NULL));
    assert_true(tt_has(tt_path(res.impact, "reachability.added"), "from", "frontend/web", "to", "backend/api", NULL));
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(np);
    twin_close(t);
}

/* Operations that change no pod's labels, ports or policies change no pair. */
static void test_scale_and_image_change_add_none(void **state)
{
    (void)state;
    twin *t = cluster();
    commit_policy(t, "backend", "deny", DENY_INGRESS);
    commit_policy(t, "backend", "allow-fe",
                  "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'namespaceSelector':"
                  "{'matchLabels':{'team':'fe'}}}],'ports':[{'port':'http'}]}]}");
    json_t *patch = tj("{'spec':{'replicas':3}}");
    const char *who[][2] = {{"backend", "api"}, {"frontend", "web"}};
    for (int k = 0; k < 2; k++) {
        twin_result res = run(t, tt_merge("Deployment", who[k][0], who[k][1], patch));
        expect_pairs(&res, "added", "[]");
        expect_pairs(&res, "removed", "[]");
        twin_result_free(&res);
        twin_rollback(t);
    }
    json_decref(patch);
    patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','image':'nginx:1.26'}]}}}}");
    twin_request req = tt_merge("Deployment", "backend", "api", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    twin_result res = run(t, req);
    expect_pairs(&res, "added", "[]");
    expect_pairs(&res, "removed", "[]");
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    /* but renaming the port the policy names does */
    patch = tj("{'spec':{'template':{'spec':{'containers':[{'name':'app','ports':[{'name':'web','containerPort':8080}]}]}}}}");
    req.body = patch;
    res = run(t, req);
    expect_pairs(&res, "removed", "[['frontend/web','backend/api','TCP/8080'],['frontend/admin','backend/api','TCP/8080']]");
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);
    twin_close(t);
}

/* Namespace labels are what namespaceSelectors see. */
static void test_namespace_labels_change_pairs(void **state)
{
    (void)state;
    twin *t = cluster();
    commit_policy(t, "backend", "deny", DENY_INGRESS);
    commit_policy(t, "backend", "allow-fe",
                  "{'podSelector':{'matchLabels':{'app':'api'}},'ingress':[{'from':[{'namespaceSelector':"
                  "{'matchLabels':{'team':'fe'}}}]}]}");
    json_t *patch = tj("{'metadata':{'labels':{'team':'fe'}}}");
    twin_result res = run(t, tt_merge("Namespace", NULL, "other", patch));
    expect_pairs(&res, "added", "[['other/tool','backend/api','*']]");
    expect_pairs(&res, "removed", "[]");
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    patch = tj("{'metadata':{'labels':{'team':null}}}");
    res = run(t, tt_merge("Namespace", NULL, "frontend", patch));
    expect_pairs(&res, "removed", "[['frontend/web','backend/api','*'],['frontend/admin','backend/api','*']]");
    expect_pairs(&res, "added", "[]");
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(patch);

    /* kubernetes.io/metadata.name is always there to select a namespace by */
    json_t *np = netpol("backend", "by-name",
                        "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{'namespaceSelector':"
                        "{'matchLabels':{'kubernetes.io/metadata.name':'other'}}}]}]}");
    expect_added(t, np, "[['other/tool','backend/web','*']]");
    twin_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_deny_then_allow_namespace),
        cmocka_unit_test(test_peer_and_versus_or),
        cmocka_unit_test(test_named_ports),
        cmocka_unit_test(test_egress),
        cmocka_unit_test(test_delete_policy_adds_pairs),
        cmocka_unit_test(test_ipblock_outside),
        cmocka_unit_test(test_scale_and_image_change_add_none),
        cmocka_unit_test(test_namespace_labels_change_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
