/*
 * test_twin_managed.c - field ownership (twin/managed.c): metadata.managedFields
 * as the API server keeps it through creates, patches, /scale and
 * server-side apply, the conflicts an apply meets, --force-conflicts, the
 * removal of fields a manager stops applying, and kubectl's move from
 * client-side to server-side apply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/twin_testlib.h"

static twin *cluster(void)
{
    return tt_cluster(json_pack("[o, o]", tt_node("n1", "8", "32Gi", NULL), tt_namespace("shop", NULL)));
}

static twin_request apply_req(const json_t *cfg, const char *manager, int force)
{
    return (twin_request){.verb = TWIN_PATCH, .kind = json_string_value(json_object_get(cfg, "kind")), .ns = "shop",
                          .name = tt_str(cfg, "metadata.name"), .body = cfg, .patch_type = TWIN_PATCH_APPLY,
                          .field_manager = manager, .force = force};
}

/* The managedFields entry of manager (and operation), or NULL. */
static json_t *entry(const json_t *obj, const char *manager, const char *operation)
{
    size_t i;
    json_t *e;
    json_array_foreach(tt_path(obj, "metadata.managedFields"), i, e) {
        if (!strcmp(tt_str(e, "manager"), manager) && !strcmp(tt_str(e, "operation"), operation))
            return e;
    }
    return NULL;
}

static const char *DEPLOY = "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'shop'},"
                            "'spec':{'replicas':2,'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':"
                            "{'labels':{'app':'web'}},'spec':{'containers':[{'name':'web','image':'nginx:1.26',"
                            "'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]}]}}}}";

/* An apply owns what it names, as FieldsV1; a later write by another
 * manager takes the fields it changed; an apply that would change them
 * back conflicts with a 409 naming manager and field; force takes them. */
static void test_apply_conflict_force(void **state)
{
    (void)state;
    twin *t = cluster();
    json_t *cfg = tj(DEPLOY);
    tt_do(t, apply_req(cfg, "deployer", 0), 201);
    json_t *d = tt_get(t, TWIN_AFTER, "Deployment", "shop", "web");
    json_t *mine = entry(d, "deployer", "Apply");
    assert_non_null(mine);
    assert_string_equal(tt_str(mine, "fieldsType"), "FieldsV1");
    json_t *set = json_object_get(mine, "fieldsV1");
    assert_non_null(tt_path(set, "f:spec.f:replicas"));
    json_t *ctr = json_object_get(tt_path(set, "f:spec.f:template.f:spec.f:containers"), "k:{\"name\":\"web\"}");
    assert_non_null(json_object_get(ctr, "."));
    assert_non_null(json_object_get(ctr, "f:image"));
    assert_null(tt_path(set, "f:status"));   /* never tracked */
    assert_null(json_object_get(tt_path(d, "metadata.annotations"), "airlock.dev/last-applied"));
    json_decref(d);

    /* another manager scales through /scale */
    json_t *scale = tj("{'spec':{'replicas':5}}");
    twin_request sr = tt_merge("Deployment", "shop", "web", scale);
    sr.subresource = "scale";
    sr.field_manager = "kubectl";
    tt_do(t, sr, 200);
    d = tt_get(t, TWIN_AFTER, "Deployment", "shop", "web");
    json_t *sc = entry(d, "kubectl", "Update");
    assert_non_null(sc);
    assert_string_equal(tt_str(sc, "subresource"), "scale");
    assert_non_null(tt_path(json_object_get(sc, "fieldsV1"), "f:spec.f:replicas"));
    assert_null(tt_path(json_object_get(entry(d, "deployer", "Apply"), "fieldsV1"), "f:spec.f:replicas"));
    json_decref(d);

    /* the same apply again: replicas 2 against the live 5 */
    twin_result res = tt_apply(t, apply_req(cfg, "deployer", 0));
    assert_int_equal(res.code, 409);
    assert_string_equal(tt_str(res.object, "reason"), "Conflict");
    assert_string_equal(tt_str(res.object, "message"), "Apply failed with 1 conflict: conflict with \"kubectl\" "
                                                       "with subresource \"scale\" using apps/v1: .spec.replicas");
    json_t *cause = json_array_get(tt_path(res.object, "details.causes"), 0);
    assert_string_equal(tt_str(cause, "type"), "FieldManagerConflict");
    assert_string_equal(tt_str(cause, "field"), ".spec.replicas");
    twin_result_free(&res);
    twin_rollback(t);
    assert_int_equal(tt_field(t, TWIN_AFTER, "Deployment", "shop", "web", "spec.replicas"), 5);

    /* a value equal to the live one is shared, not a conflict */
    json_object_set_new(tt_path(cfg, "spec"), "replicas", json_integer(5));
    tt_do(t, apply_req(cfg, "deployer", 0), 200);
    /* force takes the field over */
    json_object_set_new(tt_path(cfg, "spec"), "replicas", json_integer(3));
    tt_do(t, apply_req(cfg, "deployer", 1), 200);
    d = tt_get(t, TWIN_AFTER, "Deployment", "shop", "web");
    assert_int_equal(tt_int(d, "spec.replicas"), 3);
    assert_null(entry(d, "kubectl", "Update"));   /* its only field went: the entry goes */
    json_decref(d);
    json_decref(scale);
    json_decref(cfg);
    twin_close(t);
}

/* A field the manager stops applying leaves the object, unless another
 * manager owns it too; what others wrote stays. */
static void test_apply_removes_only_its_own(void **state)
{
    (void)state;
    twin *t = cluster();
    json_t *cfg = tj(DEPLOY);
    tt_do(t, apply_req(cfg, "deployer", 0), 201);
    json_t *label = tj("{'metadata':{'labels':{'team':'shop'}}}");
    twin_request lr = tt_merge("Deployment", "shop", "web", label);
    lr.field_manager = "kubectl-label";
    tt_do(t, lr, 200);
    /* env B dropped from the configuration */
    json_t *env = tt_path(cfg, "spec.template.spec.containers");
    json_array_remove(json_object_get(json_array_get(env, 0), "env"), 1);
    tt_do(t, apply_req(cfg, "deployer", 0), 200);
    json_t *d = tt_get(t, TWIN_AFTER, "Deployment", "shop", "web");
    json_t *e = tt_path(json_array_get(tt_path(d, "spec.template.spec.containers"), 0), "env");
    assert_int_equal(json_array_size(e), 1);
    assert_string_equal(tt_str(json_array_get(e, 0), "name"), "A");
    assert_string_equal(tt_str(d, "metadata.labels.team"), "shop");   /* the label's manager still has it */
    json_decref(d);
    /* another apply manager sharing a field keeps it when the first drops it */
    json_t *other = tj("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'shop'},"
                       "'spec':{'template':{'spec':{'containers':[{'name':'web','image':'nginx:1.26'}]}}}}");
    tt_do(t, apply_req(other, "sidecar-bot", 0), 200);
    json_object_del(json_array_get(tt_path(cfg, "spec.template.spec.containers"), 0), "image");
    tt_do(t, apply_req(cfg, "deployer", 0), 200);
    d = tt_get(t, TWIN_AFTER, "Deployment", "shop", "web");
    assert_string_equal(tt_str(json_array_get(tt_path(d, "spec.template.spec.containers"), 0), "image"),
                        "nginx:1.26");
    json_decref(d);
    json_decref(other);
    json_decref(label);
    json_decref(cfg);
    twin_close(t);
}

/* kubectl's server-side apply over its own client-side apply: the fields
 * the last-applied annotation holds at their live value are taken over
 * without a conflict; any other manager's still conflict. */
static void test_kubectl_upgrade_from_client_side(void **state)
{
    (void)state;
    twin *t = cluster();
    json_t *cm = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cfg','namespace':'shop'},"
                    "'data':{'mode':'two'}}");
    json_object_set_new(tt_path(cm, "metadata"), "annotations",
                        json_pack("{s:s}", "kubectl.kubernetes.io/last-applied-configuration",
                                  "{\"apiVersion\":\"v1\",\"data\":{\"mode\":\"two\"},\"kind\":\"ConfigMap\","
                                  "\"metadata\":{\"name\":\"cfg\",\"namespace\":\"shop\"}}"));
    twin_request cr = tt_create(cm);
    cr.field_manager = "kubectl-client-side-apply";
    tt_do(t, cr, 201);
    json_t *cfg = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cfg','namespace':'shop'},"
                     "'data':{'mode':'three'}}");
    twin_result res = tt_apply(t, apply_req(cfg, "other-tool", 0));
    assert_int_equal(res.code, 409);   /* only kubectl's own apply may */
    twin_result_free(&res);
    twin_rollback(t);
    tt_do(t, apply_req(cfg, "kubectl", 0), 200);
    json_t *d = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "cfg");
    assert_string_equal(tt_str(d, "data.mode"), "three");
    assert_non_null(tt_path(json_object_get(entry(d, "kubectl", "Apply"), "fieldsV1"), "f:data.f:mode"));
    json_decref(d);
    json_decref(cfg);
    json_decref(cm);
    twin_close(t);
}

/* A create's fields are its manager's; another write takes what it
 * changed; a write's body may rewrite managedFields (kubectl moves
 * ownership so); [{}] resets them. */
static void test_update_ownership(void **state)
{
    (void)state;
    twin *t = cluster();
    json_t *cm = tj("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c','namespace':'shop'},"
                    "'data':{'a':'1','b':'2'}}");
    twin_request cr = tt_create(cm);
    cr.field_manager = "creator";
    tt_do(t, cr, 201);
    json_t *d = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "c");
    json_t *set = json_object_get(entry(d, "creator", "Update"), "fieldsV1");
    assert_non_null(tt_path(set, "f:data.f:a"));
    assert_non_null(tt_path(set, "f:data.f:b"));
    json_decref(d);
    json_t *p = tj("{'data':{'a':'9','b':null}}");
    twin_request pr = tt_merge("ConfigMap", "shop", "c", p);
    pr.field_manager = "editor";
    tt_do(t, pr, 200);
    d = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "c");
    assert_null(entry(d, "creator", "Update"));   /* a taken, b gone: nothing left */
    assert_non_null(tt_path(json_object_get(entry(d, "editor", "Update"), "fieldsV1"), "f:data.f:a"));
    json_decref(d);
    /* a body carrying other managedFields rewrites ownership (kubectl moves
     * a client-side apply's fields so): data.a becomes "mover"'s */
    json_t *move = tj("{'metadata':{'managedFields':[{'manager':'mover','operation':'Apply','apiVersion':'v1',"
                      "'fieldsType':'FieldsV1','fieldsV1':{'f:data':{'f:a':{}}}}]}}");
    twin_request mr = tt_merge("ConfigMap", "shop", "c", move);
    mr.field_manager = "kubectl-client-side-apply";
    tt_do(t, mr, 200);
    d = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "c");
    assert_non_null(tt_path(json_object_get(entry(d, "mover", "Apply"), "fieldsV1"), "f:data.f:a"));
    assert_null(entry(d, "editor", "Update"));
    json_decref(d);
    json_decref(move);
    json_t *reset = tj("{'metadata':{'managedFields':[{}]}}");
    twin_request rr = tt_merge("ConfigMap", "shop", "c", reset);
    tt_do(t, rr, 200);
    d = tt_get(t, TWIN_AFTER, "ConfigMap", "shop", "c");
    assert_null(tt_path(d, "metadata.managedFields"));
    json_decref(d);
    json_decref(reset);
    json_decref(p);
    json_decref(cm);
    twin_close(t);
}

int main(void)
{
    json_set_alloc_funcs(twin_xmalloc, free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_conflict_force),
        cmocka_unit_test(test_apply_removes_only_its_own),
        cmocka_unit_test(test_kubectl_upgrade_from_client_side),
        cmocka_unit_test(test_update_ownership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
