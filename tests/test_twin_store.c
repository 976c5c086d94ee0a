/*
 * test_twin_store.c - the twin's store as a user relies on it (twin/store.c,
 * twin/import.c, twin/read.c): importing Lists, YAML and directories;
 * identity fields and resourceVersions as the API server sets them; reads
 * with label and field selectors; the before/after views of an operation;
 * commit and rollback; copies; snapshots taken as they are.
 */
#include <sqlite3.h>

#include "twin_testlib.h"
#include "twin_int.h"

/* ---- import ---- */

static void test_import_list(void **state)
{
    (void)state;
    twin *t = tt_open();
    long n0 = twin_object_count(t);
    tt_import(t, tj("[{'apiVersion':'v1','kind':'List','items':["
                    " {'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'a','namespace':'shop'},'data':{'k':'v'}},"
                    " {'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'b','namespace':'shop'}},"
                    " {'apiVersion':'v1','kind':'ConfigMapList','items':["
                    "   {'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c'}}]}]}]"));
    /* a, b, c, plus the namespaces they live in (created as the import needs
     * them), each with its ServiceAccount "default" */
    assert_int_equal(twin_object_count(t), n0 + 7);
    json_decref(tt_get(t, TWIN_AFTER, "ServiceAccount", "default", "default"));
    json_t *a = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "a");
    assert_string_equal(tt_str(a, "data.k"), "v");
    json_decref(a);
    /* no namespace in the document: default */
    json_decref(tt_get(t, TWIN_AFTER, "ConfigMap", "default", "c"));
    json_t *ns = tt_get(t, TWIN_AFTER, "Namespace", NULL, "shop");
    assert_string_equal(tt_str(ns, "status.phase"), "Active");
    assert_string_equal(json_string_value(json_object_get(tt_path(ns, "metadata.labels"),
                                                          "kubernetes.io/metadata.name")),
                        "shop");
    json_decref(ns);
    assert_false(twin_in_operation(t));
    twin_close(t);
}

static void test_import_multidoc_yaml(void **state)
{
    (void)state;
    twin *t = tt_open();
    char err[512] = "";
    assert_int_equal(twin_import_path(t, "tests/data/twin/multi.yaml", err, sizeof err), 0);
    assert_int_equal(twin_object_count(t), 4);   /* and the namespace's ServiceAccount "default" */
    json_t *ns = tt_get(t, TWIN_AFTER, "Namespace", NULL, "shop");
    assert_string_equal(json_string_value(json_object_get(tt_path(ns, "metadata.labels"), "team")), "storefront");
    json_decref(ns);
    json_t *cm = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "settings");
    assert_string_equal(tt_str(cm, "data.mode"), "fast");
    json_decref(cm);
    /* the API server's default for an empty Secret type */
    json_t *s = tt_get(t, TWIN_AFTER, "Secret", "shop", "token");
    assert_string_equal(tt_str(s, "type"), "Opaque");
    json_decref(s);
    twin_close(t);
}

static void test_import_directory(void **state)
{
    (void)state;
    twin *t = tt_open();
    char err[512] = "";
    assert_int_equal(twin_import_path(t, "tests/data/twin/dir", err, sizeof err), 0);
    /* *.yaml, *.json (a List), *.yml in a subdirectory; README.txt skipped */
    json_t *cms = tt_list(t, TWIN_AFTER, "ConfigMap", "tools", NULL);
    assert_int_equal(json_array_size(cms), 4);
    const char *want[] = {"first", "fourth", "second", "third"};   /* sorted by name */
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(tt_str(json_array_get(cms, i), "metadata.name"), want[i]);
    json_decref(cms);
    twin_close(t);
}

static void test_unknown_kind_stored_as_is(void **state)
{
    (void)state;
    twin *t = tt_open();
    json_t *widget = tj("{'apiVersion':'example.com/v1alpha1','kind':'Widget','metadata':{'name':'w1','namespace':"
                        "'shop','labels':{'size':'big'}},'spec':{'gears':[1,2,3],'color':'red'},'status':{'ok':true}}");
    tt_import(t, json_pack("[O]", widget));
    json_t *got = tt_get(t, TWIN_AFTER, "Widget", "shop", "w1");
    assert_true(json_equal(json_object_get(got, "spec"), json_object_get(widget, "spec")));
    assert_true(json_equal(json_object_get(got, "status"), json_object_get(widget, "status")));
    assert_string_equal(tt_str(got, "apiVersion"), "example.com/v1alpha1");
    json_decref(got);
    /* learned: served under the plural Kubernetes would derive */
    const twin_kind *k = twin_kind_by_name(t, "Widget");
    assert_non_null(k);
    assert_string_equal(k->group, "example.com");
    assert_string_equal(k->version, "v1alpha1");
    assert_string_equal(k->resource, "widgets");
    assert_true(k->namespaced);
    assert_ptr_equal(twin_kind_by_resource(t, "example.com", "widgets"), k);
    /* and selectable like anything else */
    assert_int_equal(tt_count(t, TWIN_AFTER, "Widget", NULL, "size=big"), 1);
    json_decref(widget);
    twin_close(t);
}

/* Nothing is kept when any document is malformed: the object count and the
 * objects stay as they were, and the error names the problem. */
static void test_malformed_refused(void **state)
{
    (void)state;
    twin *t = tt_cluster(tj("[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'keep','namespace':'shop'}}]"));
    long n0 = twin_object_count(t);
    json_t *before = twin_export(t);
    const char *bad[] = {
        "[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'x1','namespace':'shop'}}, 42]",
        "[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'x2','namespace':'shop'}}, {'metadata':{'name':'y'}}]",
        "[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'x3','namespace':'new'}}, {'kind':'ConfigMap','metadata':{'name':'y'}}]",
        "[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'x4','namespace':'shop'}}, {'apiVersion':'v1','kind':'ConfigMap','metadata':{}}]",
        "[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'x5','namespace':'shop'}}, {'apiVersion':'apps/v1',"
        "'kind':'Deployment','metadata':{'name':'d'},'spec':{'replicas':'three'}}]",
    };
    const char *why[] = {"not an object", "no kind", "no apiVersion", "no metadata.name", "spec.replicas"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *docs = tj("%s", bad[i]);
        char err[512] = "";
        assert_int_equal(twin_import_docs(t, docs, "bad.json", err, sizeof err), -1);
        json_decref(docs);
        if (!strstr(err, why[i]) || !strstr(err, "bad.json"))
            fail_msg("case %zu: error \"%s\" does not say \"%s\" in bad.json", i, err, why[i]);
        assert_int_equal(twin_object_count(t), n0);
        assert_false(twin_in_operation(t));
    }
    /* a directory with one broken file: the good file is not kept either */
    char err[512] = "";
    assert_int_equal(twin_import_path(t, "tests/data/twin/bad-dir", err, sizeof err), -1);
    assert_non_null(strstr(err, "20-broken.yaml"));
    assert_int_equal(twin_object_count(t), n0);
    assert_null(twin_get(t, TWIN_AFTER, "ConfigMap", "tools", "good"));
    assert_int_equal(twin_import_path(t, "tests/data/twin/no-such-file.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "no-such-file.yaml"));
    json_t *after = twin_export(t);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    twin_close(t);
}

/* ---- identity ---- */

static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return 0;
    }
    return s[14] == '4';   /* version 4 */
}

static long rv_of(const json_t *obj)
{
    const char *rv = tt_str(obj, "metadata.resourceVersion");
    if (!rv || !*rv || strspn(rv, "0123456789") != strlen(rv))
        fail_msg("resourceVersion \"%s\" is not a decimal string", rv ? rv : "(none)");
    return atol(rv);
}

static void test_identity_fields(void **state)
{
    (void)state;
    twin *t = tt_cluster(tj("[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'a','namespace':'shop'}},"
                            " {'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'kept','namespace':'shop',"
                            "  'uid':'0b8e3c2a-1111-4222-8333-444455556666','creationTimestamp':'2020-01-02T03:04:05Z',"
                            "  'generation':7}}]"));
    json_t *a = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "a");
    assert_true(is_uuid(tt_str(a, "metadata.uid")));
    assert_string_equal(tt_str(a, "metadata.creationTimestamp"), "2023-11-14T22:13:20Z");
    rv_of(a);
    /* a snapshot's own identity is kept */
    json_t *k = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "kept");
    assert_string_equal(tt_str(k, "metadata.uid"), "0b8e3c2a-1111-4222-8333-444455556666");
    assert_string_equal(tt_str(k, "metadata.creationTimestamp"), "2020-01-02T03:04:05Z");
    assert_int_equal(tt_int(k, "metadata.generation"), 7);
    json_decref(k);

    /* created through the API: a fresh uid, the clock's time, generation 1 */
    twin_set_clock(t, TT_CLOCK + 3600);
    json_t *body = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'b','namespace':'shop',"
                      "'uid':'client-chosen','generation':9}}");
    twin_result res = tt_apply(t, tt_create(body));
    assert_int_equal(res.code, 201);
    assert_true(is_uuid(tt_str(res.object, "metadata.uid")));
    assert_string_not_equal(tt_str(res.object, "metadata.uid"), tt_str(a, "metadata.uid"));
    assert_string_equal(tt_str(res.object, "metadata.creationTimestamp"), "2023-11-14T23:13:20Z");
    assert_true(rv_of(res.object) > rv_of(a));
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    json_decref(body);

    /* generation: 1 on create, +1 for each change of spec, not for labels or status */
    body = tj("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d','namespace':'shop','generation':5},"
              "'spec':{'replicas':0,'selector':{'matchLabels':{'app':'d'}},'template':{'metadata':{'labels':"
              "{'app':'d'}},'spec':{'containers':[{'name':'c','image':'x'}]}}}}");
    res = tt_apply(t, tt_create(body));
    assert_int_equal(res.code, 201);
    assert_int_equal(tt_int(res.object, "metadata.generation"), 1);
    twin_result_free(&res);
    twin_commit(t);
    json_decref(body);
    const char *patches[] = {"{'spec':{'replicas':1}}", "{'metadata':{'labels':{'x':'y'}}}",
                             "{'metadata':{'annotations':{'note':'deployments count annotations'}}}"};
    const long gens[] = {2, 2, 3};
    for (int i = 0; i < 3; i++) {
        json_t *patch = tj("%s", patches[i]);
        res = tt_apply(t, tt_merge("Deployment", "shop", "d", patch));
        assert_int_equal(tt_int(res.object, "metadata.generation"), gens[i]);
        twin_result_free(&res);
        twin_commit(t);
        json_decref(patch);
    }
    json_t *st = tj("{'status':{'replicas':9}}");
    twin_request sreq = tt_merge("Deployment", "shop", "d", st);
    sreq.subresource = "status";
    res = tt_apply(t, sreq);
    assert_int_equal(res.code, 200);
    assert_int_equal(tt_int(res.object, "metadata.generation"), 3);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(st);

    /* an update with a stale resourceVersion is a conflict */
    json_t *cur = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "a");
    json_t *lpatch = tj("{'metadata':{'labels':{'v':'1'}}}");
    tt_do(t, tt_merge("ConfigMap", "shop", "a", lpatch), 200);
    json_object_set_new(cur, "data", tj("{'k':'v'}"));
    res = tt_apply(t, (twin_request){.verb = TWIN_UPDATE, .kind = "ConfigMap", .ns = "shop", .name = "a", .body = cur});
    assert_int_equal(res.code, 409);
    assert_string_equal(tt_str(res.object, "reason"), "Conflict");
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(lpatch);
    json_decref(cur);

    /* a create carrying a resourceVersion is refused */
    body = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c','namespace':'shop','resourceVersion':'5'}}");
    res = tt_apply(t, tt_create(body));
    assert_int_equal(res.code, 400);
    twin_result_free(&res);
    twin_rollback(t);
    json_decref(body);
    json_decref(a);
    twin_close(t);
}

/* resourceVersion is one counter for the whole twin: every write of any kind
 * takes a higher one, and an object's version changes with each write. */
static void test_resource_version_global_monotonic(void **state)
{
    (void)state;
    twin *t = tt_cluster(tj("[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'a','namespace':'shop'}},"
                            " {'apiVersion':'v1','kind':'Secret','metadata':{'name':'s','namespace':'shop'}},"
                            " {'apiVersion':'v1','kind':'Secret','metadata':{'name':'s','namespace':'other'}}]"));
    json_t *all = twin_export(t);
    long max = 0;
    size_t i;
    json_t *o;
    json_t *seen = json_object();
    json_array_foreach(json_object_get(all, "items"), i, o) {
        long rv = rv_of(o);
        char key[32];
        snprintf(key, sizeof key, "%ld", rv);
        if (json_object_get(seen, key))
            fail_msg("resourceVersion %ld given twice", rv);
        json_object_set_new(seen, key, json_true());
        if (rv > max)
            max = rv;
    }
    json_decref(seen);
    json_decref(all);

    long last = max;
    const char *kinds[] = {"Secret", "ConfigMap", "Secret"};
    const char *names[] = {"s", "a", "s"};
    for (int k = 0; k < 3; k++) {
        json_t *patch = tj("{'metadata':{'labels':{'round':'r%d'}}}", k);
        twin_result res = tt_apply(t, tt_merge(kinds[k], "shop", names[k], patch));
        assert_int_equal(res.code, 200);
        long rv = rv_of(res.object);
        assert_true(rv > last);
        last = rv;
        twin_result_free(&res);
        twin_commit(t);
        json_decref(patch);
    }
    /* a new object in another namespace continues the same sequence */
    json_t *body = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'z','namespace':'other'}}");
    twin_result res = tt_apply(t, tt_create(body));
    assert_int_equal(res.code, 201);
    assert_true(rv_of(res.object) > last);
    twin_result_free(&res);
    twin_commit(t);
    json_decref(body);
    twin_close(t);
}

/* ---- reads ---- */

static json_t *names_of(const json_t *arr)
{
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) json_array_append_new(out, json_string(tt_str(o, "metadata.name")));
    return out;
}

static void expect_names(twin *t, const char *kind, const char *ns, const char *lsel, const char *fsel,
                         const char *want_json)
{
    char err[512] = "";
    json_t *l = twin_list(t, TWIN_AFTER, kind, ns, lsel, fsel, err, sizeof err);
    if (!l)
        fail_msg("twin_list(%s, %s): %s", lsel ? lsel : "", fsel ? fsel : "", err);
    json_t *got = names_of(l), *want = tj("%s", want_json);
    if (!json_equal(got, want)) {
        tt_dump("got", got);
        fail_msg("selector \"%s\" / \"%s\": expected %s", lsel ? lsel : "", fsel ? fsel : "", want_json);
    }
    json_decref(got);
    json_decref(want);
    json_decref(l);
}

static void test_get_list_selectors(void **state)
{
    (void)state;
    twin *t = tt_cluster(tj(
        "[{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c1','namespace':'a','labels':{'tier':'web','env':'prod'}}},"
        " {'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c2','namespace':'a','labels':{'tier':'db','env':'prod'}}},"
        " {'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c3','namespace':'b','labels':{'tier':'web'}}},"
        " {'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c0','namespace':'b'}},"
        " {'apiVersion':'v1','kind':'Secret','metadata':{'name':'s1','namespace':'a','labels':{'tier':'web'}},'type':'kubernetes.io/tls'},"
        " {'apiVersion':'v1','kind':'Secret','metadata':{'name':'s2','namespace':'a'}}]"));
    /* all namespaces, sorted by namespace then name */
    expect_names(t, "ConfigMap", NULL, NULL, NULL, "['c1','c2','c0','c3']");
    expect_names(t, "ConfigMap", "b", NULL, NULL, "['c0','c3']");
    expect_names(t, "ConfigMap", NULL, "tier=web", NULL, "['c1','c3']");
    expect_names(t, "ConfigMap", NULL, "tier=web,env=prod", NULL, "['c1']");
    expect_names(t, "ConfigMap", NULL, "tier in (web,db)", NULL, "['c1','c2','c3']");
    expect_names(t, "ConfigMap", NULL, "tier notin (web)", NULL, "['c2','c0']");
    expect_names(t, "ConfigMap", NULL, "!env", NULL, "['c0','c3']");
    expect_names(t, "ConfigMap", NULL, "env", NULL, "['c1','c2']");
    expect_names(t, "ConfigMap", NULL, "tier!=web", NULL, "['c2','c0']");
    expect_names(t, "ConfigMap", NULL, NULL, "metadata.name=c3", "['c3']");
    expect_names(t, "ConfigMap", NULL, NULL, "metadata.namespace=a", "['c1','c2']");
    expect_names(t, "ConfigMap", NULL, "tier=web", "metadata.namespace!=a", "['c3']");
    expect_names(t, "Secret", "a", NULL, "type=kubernetes.io/tls", "['s1']");
    expect_names(t, "Secret", "a", NULL, "type=Opaque", "['s2']");
    expect_names(t, "Secret", "b", NULL, NULL, "[]");

    char err[512] = "";
    assert_null(twin_list(t, TWIN_AFTER, "ConfigMap", NULL, "tier in (web", NULL, err, sizeof err));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(twin_list(t, TWIN_AFTER, "ConfigMap", NULL, NULL, "metadata.name", err, sizeof err));
    assert_true(err[0] != '\0');

    json_t *c1 = twin_get(t, TWIN_AFTER, "ConfigMap", "a", "c1");
    assert_non_null(c1);
    json_decref(c1);
    assert_null(twin_get(t, TWIN_AFTER, "ConfigMap", "b", "c1"));   /* namespaces are part of the key */
    assert_null(twin_get(t, TWIN_AFTER, "ConfigMap", "a", "nope"));
    twin_close(t);
}

/* ---- operations ---- */

static twin *web_cluster(int replicas)
{
    return tt_cluster(json_pack("[o, o, o, o]", tt_node("n1", "4", "16Gi", NULL), tt_namespace("shop", NULL),
                                tt_deploy("shop", "web", replicas, NULL),
                                tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'old','namespace':'shop'}}")));
}

static void test_before_after_views(void **state)
{
    (void)state;
    twin *t = web_cluster(3);
    json_t *patch = tj("{'spec':{'replicas':1}}");
    twin_result res = tt_apply(t, tt_merge("Deployment", "shop", "web", patch));
    assert_int_equal(res.code, 200);
    twin_result_free(&res);
    json_decref(patch);
    /* a second change in the same operation is not possible; read the views */
    assert_int_equal(tt_field(t, TWIN_BEFORE, "Deployment", "shop", "web", "spec.replicas"), 3);
    assert_int_equal(tt_field(t, TWIN_AFTER, "Deployment", "shop", "web", "spec.replicas"), 1);
    assert_int_equal(tt_count(t, TWIN_BEFORE, "Pod", "shop", "app=web"), 3);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "shop", "app=web"), 1);
    /* pods that are gone are still there before, with their fields */
    json_t *pb = tt_list(t, TWIN_BEFORE, "Pod", "shop", "app=web");
    assert_int_equal(tt_ready(pb), 3);
    size_t i;
    json_t *p;
    int gone = 0;
    json_array_foreach(pb, i, p) {
        json_t *now = twin_get(t, TWIN_AFTER, "Pod", "shop", tt_str(p, "metadata.name"));
        json_t *then = twin_get(t, TWIN_BEFORE, "Pod", "shop", tt_str(p, "metadata.name"));
        assert_non_null(then);
        gone += now == NULL;
        json_decref(now);
        json_decref(then);
    }
    assert_int_equal(gone, 2);
    json_decref(pb);
    /* field selectors see the same views */
    char err[256];
    json_t *l = twin_list(t, TWIN_BEFORE, "Pod", "shop", NULL, "status.phase=Running", err, sizeof err);
    assert_int_equal(json_array_size(l), 3);
    json_decref(l);
    l = twin_list(t, TWIN_AFTER, "Pod", "shop", NULL, "status.phase=Running", err, sizeof err);
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    twin_rollback(t);

    /* created objects exist only after; deleted ones only before */
    json_t *body = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'new','namespace':'shop'}}");
    res = tt_apply(t, tt_create(body));
    assert_null(twin_get(t, TWIN_BEFORE, "ConfigMap", "shop", "new"));
    json_decref(tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "new"));
    assert_int_equal(tt_count(t, TWIN_BEFORE, "ConfigMap", "shop", NULL), 1);
    assert_int_equal(tt_count(t, TWIN_AFTER, "ConfigMap", "shop", NULL), 2);
    twin_result_free(&res);
    twin_commit(t);
    json_decref(body);
    res = tt_apply(t, tt_delete("ConfigMap", "shop", "old", NULL));
    assert_int_equal(res.code, 200);
    json_decref(tt_get(t, TWIN_BEFORE, "ConfigMap", "shop", "old"));
    assert_null(twin_get(t, TWIN_AFTER, "ConfigMap", "shop", "old"));
    twin_result_free(&res);
    twin_commit(t);
    /* outside an operation both views are the current state */
    assert_null(twin_get(t, TWIN_BEFORE, "ConfigMap", "shop", "old"));
    assert_int_equal(tt_count(t, TWIN_BEFORE, "ConfigMap", "shop", NULL), 1);
    twin_close(t);
}

static void test_commit_and_rollback(void **state)
{
    (void)state;
    twin *t = web_cluster(2);
    json_t *before = twin_export(t);
    long n0 = twin_object_count(t);
    double cost0 = twin_cost_total(t);

    /* rollback: every object as it was, and the next write takes the
     * resourceVersion it would have taken without the rolled-back operation */
    json_t *body = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'probe','namespace':'shop'}}");
    twin_result res = tt_apply(t, tt_create(body));
    long rv_first = rv_of(res.object);
    twin_result_free(&res);
    twin_rollback(t);

    /* kubectl set image and scale in one: a strategic merge keeps the
     * container's other fields (its requests, hence its cost) */
    json_t *patch = tj("{'spec':{'replicas':5,'template':{'spec':{'containers':[{'name':'app','image':'nginx:1.26'}]}}}}");
    twin_request req = tt_merge("Deployment", "shop", "web", patch);
    req.patch_type = TWIN_PATCH_STRATEGIC;
    res = tt_apply(t, req);
    assert_int_equal(res.code, 200);
    twin_result_free(&res);
    assert_int_equal(twin_rollback(t), 0);
    assert_false(twin_in_operation(t));
    assert_int_equal(twin_rollback(t), -1);   /* nothing open */
    assert_int_equal(twin_commit(t), -1);
    json_t *after = twin_export(t);
    assert_true(json_equal(before, after));
    json_decref(after);
    assert_int_equal(twin_object_count(t), n0);
    assert_true(fabs(twin_cost_total(t) - cost0) < 1e-9);
    res = tt_apply(t, tt_create(body));
    assert_int_equal(rv_of(res.object), rv_first);
    twin_result_free(&res);
    twin_rollback(t);

    /* an error status opens an operation too, with nothing in it */
    res = tt_apply(t, tt_merge("Deployment", "shop", "missing", patch));
    assert_int_equal(res.code, 404);
    assert_int_equal(json_array_size(res.diff), 0);
    twin_result_free(&res);
    twin_rollback(t);

    /* commit: the change stays */
    res = tt_apply(t, req);
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    assert_false(twin_in_operation(t));
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "shop", "app=web"), 5);
    assert_int_equal(tt_field(t, TWIN_BEFORE, "Deployment", "shop", "web", "spec.replicas"), 5);
    assert_true(twin_cost_total(t) > cost0);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "shop", "app=web");
    assert_string_equal(tt_str(json_array_get(pods, 0), "spec.containers.0.image"), "nginx:1.26");
    json_decref(pods);
    json_decref(patch);
    json_decref(body);
    json_decref(before);
    twin_close(t);
}

static void test_copy_independent(void **state)
{
    (void)state;
    twin *t = web_cluster(2);
    twin *c = NULL;
    char err[256];
    assert_int_equal(twin_copy(&c, t, err, sizeof err), 0);
    assert_int_equal(twin_object_count(c), twin_object_count(t));
    assert_true(fabs(twin_cost_total(c) - twin_cost_total(t)) < 1e-9);
    json_t *et = twin_export(t), *ec = twin_export(c);
    assert_true(json_equal(et, ec));
    json_decref(ec);

    /* changing the copy leaves the original alone */
    json_t *patch = tj("{'spec':{'replicas':4}}");
    tt_do(c, tt_merge("Deployment", "shop", "web", patch), 200);
    assert_int_equal(tt_count(c, TWIN_AFTER, "Pod", "shop", NULL), 4);
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "shop", NULL), 2);
    json_t *et2 = twin_export(t);
    assert_true(json_equal(et, et2));
    json_decref(et2);
    /* and the other way round */
    tt_do(t, tt_delete("ConfigMap", "shop", "old", NULL), 200);
    json_decref(tt_get(c, TWIN_AFTER, "ConfigMap", "shop", "old"));
    /* a copy cannot be taken in the middle of an operation */
    twin *c2 = NULL;
    twin_result res = tt_apply(t, tt_merge("Deployment", "shop", "web", patch));
    twin_result_free(&res);
    assert_int_equal(twin_copy(&c2, t, err, sizeof err), -1);
    assert_null(c2);
    twin_rollback(t);
    json_decref(patch);
    json_decref(et);
    twin_close(c);
    twin_close(t);
}

/* Inside an operation the store writes an object's JSON text only at the
 * commit (store.c, t->pending): what reads the text itself (an export, a
 * copy) still sees every write, and a rollback leaves the text as it was. */
static void test_stored_text_follows_writes(void **state)
{
    (void)state;
    twin *t = web_cluster(2);
    json_t *before = twin_export(t);
    json_t *patch = tj("{'spec':{'replicas':4}}");

    /* an export in the middle of an operation shows the operation's writes */
    twin_result res = tt_apply(t, tt_merge("Deployment", "shop", "web", patch));
    assert_int_equal(res.code, 200);
    twin_result_free(&res);
    json_t *during = twin_export(t);
    size_t pods = 0;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(during, "items"), i, o) {
        const char *kind = tt_str(o, "kind");
        pods += !strcmp(kind, "Pod");
        if (!strcmp(kind, "Deployment"))
            assert_int_equal(tt_int(o, "spec.replicas"), 4);
    }
    assert_int_equal(pods, 4);
    json_decref(during);
    /* and the rollback takes all of it back, the text included */
    twin_rollback(t);
    json_t *after = twin_export(t);
    assert_true(json_equal(before, after));
    json_decref(after);

    /* committed, the text is the objects': a copy (which has only the
     * store's text to go by) reads what the original reads */
    tt_do(t, tt_merge("Deployment", "shop", "web", patch), 200);
    twin *c = NULL;
    char err[256];
    assert_int_equal(twin_copy(&c, t, err, sizeof err), 0);
    json_t *et = twin_export(t), *ec = twin_export(c);
    assert_true(json_equal(et, ec));
    assert_int_equal(tt_field(c, TWIN_AFTER, "Deployment", "shop", "web", "spec.replicas"), 4);
    assert_int_equal(tt_count(c, TWIN_AFTER, "Pod", "shop", "app=web"), 4);
    assert_int_equal(tt_ready(json_object_get(ec, "items")), 4);

    /* later writes find their rows, in the original and in the copy */
    json_t *down = tj("{'spec':{'replicas':1}}");
    tt_do(t, tt_merge("Deployment", "shop", "web", down), 200);
    tt_do(c, tt_merge("Deployment", "shop", "web", down), 200);
    json_decref(et);
    json_decref(ec);
    et = twin_export(t);
    ec = twin_export(c);
    assert_true(json_equal(et, ec));
    assert_int_equal(tt_count(t, TWIN_AFTER, "Pod", "shop", "app=web"), 1);
    json_decref(down);
    json_decref(et);
    json_decref(ec);
    json_decref(patch);
    json_decref(before);
    twin_close(c);
    twin_close(t);
}

/* A snapshot (kubectl get -o json) holds the ReplicaSets and pods already:
 * the import keeps them, names and readiness included, and adds none. */
static const char *SNAPSHOT =
    "[{'apiVersion':'v1','kind':'Node','metadata':{'name':'n1'},'status':{'allocatable':{'cpu':'4','memory':'16Gi',"
    "  'pods':'110'}}},"
    " {'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'shop','uid':'uid-deploy',"
    "  'generation':4,'annotations':{'deployment.kubernetes.io/revision':'3'}},"
    "  'spec':{'replicas':3,'selector':{'matchLabels':{'app':'web'}},"
    "  'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'app','image':'nginx:1.25'}]}}},"
    "  'status':{'replicas':3,'readyReplicas':2}},"
    " {'apiVersion':'apps/v1','kind':'ReplicaSet','metadata':{'name':'web-5d4f8b7c9','namespace':'shop',"
    "  'uid':'uid-rs','labels':{'app':'web','pod-template-hash':'5d4f8b7c9'},"
    "  'annotations':{'deployment.kubernetes.io/revision':'3'},"
    "  'ownerReferences':[{'apiVersion':'apps/v1','kind':'Deployment','name':'web','uid':'uid-deploy',"
    "   'controller':true,'blockOwnerDeletion':true}]},"
    "  'spec':{'replicas':3,'selector':{'matchLabels':{'app':'web','pod-template-hash':'5d4f8b7c9'}},"
    "  'template':{'metadata':{'labels':{'app':'web','pod-template-hash':'5d4f8b7c9'}},"
    "   'spec':{'containers':[{'name':'app','image':'nginx:1.25'}]}}},"
    "  'status':{'replicas':3,'readyReplicas':2,'availableReplicas':2}},"
    " %s, %s, %s]";

static char *snapshot_pod(const char *name, int ready)
{
    json_t *p = tj("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'shop','uid':'uid-%s',"
                   "'labels':{'app':'web','pod-template-hash':'5d4f8b7c9'},"
                   "'ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'web-5d4f8b7c9',"
                   "'uid':'uid-rs','controller':true,'blockOwnerDeletion':true}]},"
                   "'spec':{'nodeName':'n1','containers':[{'name':'app','image':'nginx:1.25'}]},"
                   "'status':{'phase':'Running','podIP':'10.244.0.%d','conditions':[{'type':'Ready','status':'%s'}]}}",
                   name, name, (int)strlen(name), ready ? "True" : "False");
    char *s = json_dumps(p, JSON_COMPACT);
    for (char *q = s; *q; q++)
        if (*q == '"')
            *q = '\'';
    json_decref(p);
    return s;
}

static void test_snapshot_taken_as_is(void **state)
{
    (void)state;
    char *a = snapshot_pod("web-5d4f8b7c9-abcde", 1), *b = snapshot_pod("web-5d4f8b7c9-fghij", 1),
         *c = snapshot_pod("web-5d4f8b7c9-klmno", 0);
    twin *t = tt_cluster(tj(SNAPSHOT, a, b, c));
    free(a);
    free(b);
    free(c);
    json_t *rss = tt_list(t, TWIN_AFTER, "ReplicaSet", "shop", NULL);
    assert_int_equal(json_array_size(rss), 1);
    assert_string_equal(tt_str(json_array_get(rss, 0), "metadata.name"), "web-5d4f8b7c9");
    assert_int_equal(tt_int(json_array_get(rss, 0), "spec.replicas"), 3);
    json_decref(rss);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "shop", NULL);
    json_t *names = names_of(pods), *want = tj("['web-5d4f8b7c9-abcde','web-5d4f8b7c9-fghij','web-5d4f8b7c9-klmno']");
    assert_true(json_equal(names, want));
    /* the crash-looping pod of the snapshot is still not Ready */
    assert_int_equal(tt_ready(pods), 2);
    json_t *d = tt_get(t, TWIN_AFTER, "Deployment", "shop", "web");
    assert_string_equal(tt_str(d, "metadata.uid"), "uid-deploy");
    assert_int_equal(tt_int(d, "status.readyReplicas"), 2);
    json_decref(d);
    json_decref(names);
    json_decref(want);
    json_decref(pods);
    twin_close(t);
}

/* twin_check: the lookup indexes say what the documents say, through
 * creates, patches that change labels, a scale, deletes, commits and
 * rollbacks; and a damaged index is found. */
static void test_check_invariants(void **state)
{
    (void)state;
    twin *t = web_cluster(2);
    json_t *problems = NULL;
    assert_int_equal(twin_check(t, NULL), 0);
    json_t *body = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'probe','namespace':'shop',"
                      "'labels':{'a':'1'}}}");
    twin_result res = tt_apply(t, tt_create(body));
    twin_result_free(&res);
    assert_int_equal(twin_check(t, &problems), 1);   /* inside an operation */
    assert_non_null(strstr(json_string_value(json_array_get(problems, 0)), "inside an operation"));
    json_decref(problems);
    twin_commit(t);
    json_t *patch = tj("{'metadata':{'labels':{'a':null,'b':'2'}},'spec':{'replicas':4}}");
    res = tt_apply(t, tt_merge("Deployment", "shop", "web", patch));
    twin_result_free(&res);
    twin_commit(t);
    res = tt_apply(t, tt_merge("Deployment", "shop", "web", patch));
    twin_result_free(&res);
    twin_rollback(t);
    assert_int_equal(twin_check(t, &problems), 0);
    json_decref(problems);

    /* damage the label index behind the store's back */
    assert_int_equal(sqlite3_exec(t->db, "DELETE FROM labels WHERE rowid = (SELECT min(rowid) FROM labels)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(twin_check(t, &problems), 1);
    assert_non_null(strstr(json_string_value(json_array_get(problems, 0)), "missing from the label index"));
    json_decref(problems);
    assert_int_equal(sqlite3_exec(t->db, "UPDATE objects SET name = 'renamed' WHERE kind = 'ConfigMap' AND name = 'probe'", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    assert_true(twin_check(t, NULL) >= 2);
    json_decref(patch);
    json_decref(body);
    twin_close(t);
}

/* twin_check holds the endpoints controller to its work: a Service's
 * Endpoints list exactly its ready selected pods, through scaling, a
 * selector change and a deletion; an address edited behind the store's
 * back, or one dropped, is found. */
static void test_check_endpoints(void **state)
{
    (void)state;
    twin *t = web_cluster(2);
    json_t *svc = tj("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','namespace':'shop'},"
                     "'spec':{'selector':{'app':'web'},'ports':[{'port':80,'targetPort':8080}]}}");
    twin_result res = tt_apply(t, tt_create(svc));
    assert_int_equal(res.code, 201);
    twin_result_free(&res);
    twin_commit(t);
    json_t *problems = NULL;
    if (twin_check(t, &problems))
        fail_msg("after the Service: %s", json_string_value(json_array_get(problems, 0)));
    json_decref(problems);
    static const char *const PATCHES[] = {
        "{'spec':{'replicas':4}}",
        "{'spec':{'replicas':1}}",
        "{'spec':{'template':{'metadata':{'labels':{'tier':'front'}}}}}",
    };
    for (size_t i = 0; i < sizeof PATCHES / sizeof *PATCHES; i++) {
        json_t *patch = tj(PATCHES[i]);
        res = tt_apply(t, tt_merge("Deployment", "shop", "web", patch));
        twin_result_free(&res);
        twin_commit(t);
        json_decref(patch);
        if (twin_check(t, &problems))
            fail_msg("after %s: %s", PATCHES[i], json_string_value(json_array_get(problems, 0)));
        json_decref(problems);
    }
    assert_true(tt_count(t, TWIN_AFTER, "Pod", "shop", "app=web") >= 1);

    /* an address whose IP is not its pod's */
    assert_int_equal(sqlite3_exec(t->db,
                                  "UPDATE objects SET doc = json_set(doc, '$.subsets[0].addresses[0].ip', '10.9.9.9')"
                                  " WHERE kind = 'Endpoints' AND name = 'web'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(twin_check(t, &problems), 2);   /* a stranger listed, and its pod missing */
    assert_non_null(strstr(json_string_value(json_array_get(problems, 0)), "has another IP"));
    assert_non_null(strstr(json_string_value(json_array_get(problems, 1)), "Endpoints do not list"));
    json_decref(problems);
    /* no address at all */
    assert_int_equal(sqlite3_exec(t->db,
                                  "UPDATE objects SET doc = json_set(doc, '$.subsets', json('[]'))"
                                  " WHERE kind = 'Endpoints' AND name = 'web'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(twin_check(t, &problems), 1);
    assert_non_null(strstr(json_string_value(json_array_get(problems, 0)), "Endpoints do not list"));
    json_decref(problems);
    json_decref(svc);
    twin_close(t);
}

/* twin_utf8_ok (which checks every request's head without allocating)
 * takes exactly what jansson takes as a string: random short byte strings,
 * weighted towards lead and continuation bytes, against json_stringn. */
static void test_utf8_as_jansson(void **state)
{
    (void)state;
    unsigned seed = 7;
    unsigned char b[8];
    for (int it = 0; it < 300000; it++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % 6);
        for (size_t i = 0; i < n; i++) {
            int r = rand_r(&seed) % 4;
            b[i] = (unsigned char)(r == 0 ? rand_r(&seed) % 256 : r == 1 ? 0x80 + rand_r(&seed) % 64
                                   : r == 2 ? 0xC0 + rand_r(&seed) % 64 : rand_r(&seed) % 128);
        }
        json_t *j = json_stringn((const char *)b, n);
        int jansson = j != NULL;
        json_decref(j);
        if (jansson != twin_utf8_ok((const char *)b, n))
            fail_msg("input %d (%zu bytes, first %02x): jansson %d, twin_utf8_ok %d", it, n, b[0], jansson, !jansson);
    }
    assert_true(twin_utf8_ok("\xf0\x9f\x99\x82 ok", 7));
    assert_false(twin_utf8_ok("\xed\xa0\x80", 3));   /* a surrogate */
    assert_false(twin_utf8_ok("\xc0\xaf", 2));        /* overlong */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_list),
        cmocka_unit_test(test_import_multidoc_yaml),
        cmocka_unit_test(test_import_directory),
        cmocka_unit_test(test_unknown_kind_stored_as_is),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_identity_fields),
        cmocka_unit_test(test_resource_version_global_monotonic),
        cmocka_unit_test(test_get_list_selectors),
        cmocka_unit_test(test_before_after_views),
        cmocka_unit_test(test_commit_and_rollback),
        cmocka_unit_test(test_copy_independent),
        cmocka_unit_test(test_stored_text_follows_writes),
        cmocka_unit_test(test_snapshot_taken_as_is),
        cmocka_unit_test(test_check_invariants),
        cmocka_unit_test(test_check_endpoints),
        cmocka_unit_test(test_utf8_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
