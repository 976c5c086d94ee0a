/*
 * test_twin_sync.c - the twin following production event by event
 * (twin_sync_begin/event/end, twin_keep_versions): ordering by
 * resourceVersion, and the scheduler's cache kept by each event instead of
 * rebuilt from every pod.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "twin_testlib.h"
#include "twin/util.h"

/* A pod bound to node (NULL: unbound), requesting cpu. */
static json_t *pod(const char *name, const char *node, const char *cpu, const char *rv)
{
    json_t *p = tj("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'app','uid':'uid-%s',"
                   "'resourceVersion':'%s','labels':{'app':'other'}},'spec':{'containers':[{'name':'c',"
                   "'image':'nginx','resources':{'requests':{'cpu':'%s','memory':'64Mi'}}}]},"
                   "'status':{'phase':'Running','conditions':[{'type':'Ready','status':'True'}]}}",
                   name, name, rv, cpu);
    if (node)
        json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
    return p;
}

/* Applies one event (deleted or not) in its own sync; the result. */
static int event(twin *t, int deleted, json_t *obj)
{
    char err[512];
    assert_int_equal(twin_sync_begin(t, err, sizeof err), 0);
    int rc = twin_sync_event(t, deleted, obj, NULL, err, sizeof err);
    twin_sync_end(t);
    json_decref(obj);
    return rc;
}

static twin *base(void)
{
    twin *t = tt_cluster(json_pack("[o, o, o, o, o]", tt_node("n1", "4", "16Gi", NULL), tt_node("n2", "4", "16Gi", NULL),
                                   tt_node("n3", "4", "16Gi", NULL), tt_namespace("app", NULL),
                                   tt_deploy("app", "web", 1, NULL)));
    twin_keep_versions(t, 1);
    return t;
}

/* Newer wins, older and repeated events change nothing; production's
 * versions are kept and the twin's counter follows them. */
static void test_ordering(void **state)
{
    (void)state;
    twin *t = base();
    assert_int_equal(event(t, 0, pod("p", "n1", "100m", "5000")), 1);
    json_t *got = tt_get(t, TWIN_AFTER, "Pod", "app", "p");
    assert_string_equal(tt_str(got, "metadata.resourceVersion"), "5000");
    json_decref(got);
    assert_true(twin_resource_version(t) >= 5000);
    assert_int_equal(event(t, 0, pod("p", "n2", "100m", "4999")), 0);   /* older: ignored */
    assert_int_equal(event(t, 0, pod("p", "n1", "100m", "5000")), 0);   /* seen: ignored */
    assert_int_equal(event(t, 1, pod("p", "n1", "100m", "4000")), 0);   /* an old delete: ignored */
    got = tt_get(t, TWIN_AFTER, "Pod", "app", "p");
    assert_string_equal(tt_str(got, "spec.nodeName"), "n1");
    json_decref(got);
    assert_int_equal(event(t, 0, pod("p", "n2", "100m", "5001")), 1);
    assert_int_equal(event(t, 1, pod("p", "n2", "100m", "5002")), 1);
    assert_null(twin_get(t, TWIN_AFTER, "Pod", "app", "p"));
    /* 10 > 9: numbers, not text */
    assert_int_equal(twin_rv_cmp("10", "9"), 1);
    assert_int_equal(twin_rv_cmp("0010", "10"), 0);
    assert_true(twin_rv_cmp("abc", "1") < 0);
    twin_close(t);
}

/* Where `web` scaled to 6 puts its new pods: name -> node. */
static json_t *placements(twin *t)
{
    json_t *patch = tj("{'spec':{'replicas':6}}");
    twin_result res = tt_apply(t, tt_merge("Deployment", "app", "web", patch));
    json_decref(patch);
    assert_int_equal(res.code, 200);
    twin_result_free(&res);
    json_t *pods = tt_list(t, TWIN_AFTER, "Pod", "app", "app=web");
    json_t *out = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        const char *node = tt_str(p, "spec.nodeName");
        json_object_set_new(out, tt_str(p, "metadata.name"), json_string(node ? node : "(pending)"));
    }
    json_decref(pods);
    twin_rollback(t);
    return out;
}

/* The same production changes, applied to a twin whose scheduler cache was
 * loaded before them (kept event by event) and to one that builds it
 * after them: the scheduler places the same pods on the same nodes. */
static void test_scheduler_follows_events(void **state)
{
    (void)state;
    twin *kept = base(), *built = base();
    json_decref(placements(kept));   /* loads kept's cache (the rollback keeps it) */
    twin *ts[2] = {kept, built};
    for (int i = 0; i < 2; i++) {
        twin *t = ts[i];
        /* n1 filled by a pod production scheduled there */
        assert_int_equal(event(t, 0, pod("big", "n1", "3900m", "6000")), 1);
        /* a pod moves in and out of n2 */
        assert_int_equal(event(t, 0, pod("mid", "n2", "2", "6001")), 1);
        assert_int_equal(event(t, 0, pod("mid", "n3", "2", "6002")), 1);
        /* n2 cordoned */
        json_t *n2 = tt_node("n2", "4", "16Gi", tj("{'spec':{'unschedulable':true}}"));
        json_object_set_new(json_object_get(n2, "metadata"), "resourceVersion", json_string("6003"));
        assert_int_equal(event(t, 0, n2), 1);
        /* a node added, then one removed */
        json_t *n4 = tt_node("n4", "8", "32Gi", NULL);
        json_object_set_new(json_object_get(n4, "metadata"), "resourceVersion", json_string("6004"));
        assert_int_equal(event(t, 0, n4), 1);
        json_t *n3 = tt_get(t, TWIN_AFTER, "Node", NULL, "n3");
        json_t *gone = json_deep_copy(n3);
        json_decref(n3);
        json_object_set_new(json_object_get(gone, "metadata"), "resourceVersion", json_string("6005"));
        assert_int_equal(event(t, 1, gone), 1);
    }
    json_t *a = placements(kept), *b = placements(built);
    if (!json_equal(a, b)) {
        tt_dump("kept", a);
        tt_dump("built", b);
    }
    assert_true(json_equal(a, b));
    /* and the cache was right, not just equal: nothing new went to the
     * full n1, the cordoned n2 or the removed n3 */
    const char *k;
    json_t *v;
    json_t *before = tt_list(kept, TWIN_AFTER, "Pod", "app", "app=web");
    json_object_foreach(a, k, v) {
        int old = 0;
        size_t i;
        json_t *p;
        json_array_foreach(before, i, p) old |= !strcmp(tt_str(p, "metadata.name"), k);
        if (!old)
            assert_string_equal(json_string_value(v), "n4");
    }
    json_decref(before);
    json_decref(a);
    json_decref(b);
    twin_close(kept);
    twin_close(built);
}

/* The start state as text, written one object at a time, is the List
 * twin_export makes. */
static void test_export_text(void **state)
{
    (void)state;
    twin *t = base();
    twin_buf text = {0};
    twin_export_text(t, NULL, NULL, &text);
    json_error_t je;
    json_t *parsed = json_loadb(text.s, text.len, 0, &je);
    assert_non_null(parsed);
    json_t *whole = twin_export(t);
    assert_true(json_equal(parsed, whole));
    assert_true(json_array_size(json_object_get(whole, "items")) > 5);
    json_decref(parsed);
    json_decref(whole);
    twin_buf_free(&text);
    twin_close(t);
}

int main(void)
{
    json_set_alloc_funcs(twin_xmalloc, free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_scheduler_follows_events),
        cmocka_unit_test(test_export_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
