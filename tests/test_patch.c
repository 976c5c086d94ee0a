/*
 * test_patch.c - unit tests for twin/patch.c: RFC 7386 merge patch (the RFC's
 * appendix), RFC 6902 JSON patch (the RFC's appendix A, errors, atomicity),
 * Kubernetes strategic merge patch and the simplified server-side apply.
 *
 * JSON literals in this file use single quotes for readability; parse()
 * turns them into double quotes (no test string needs a real single quote).
 * Every check compares a whole document with json_equal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static json_t *parse(const char *text)
{
    json_error_t e;
    char *s = strdup(text);
    json_t *v;
    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    v = json_loads(s, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("test JSON does not parse (%s, column %d): %s", e.text, e.column, s);
    free(s);
    return v;
}

static void assert_json_equal(const json_t *got, const json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        print_error("got:  %s\nwant: %s\n", g ? g : "(null)", w ? w : "(null)");
        free(g);
        free(w);
        fail();
    }
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = parse(want);
    assert_json_equal(got, w);
    json_decref(w);
}

static void assert_mentions(const char *err, const char *needle)
{
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

/* No key starting with '$' anywhere: every directive was consumed. */
static void assert_no_directives(const json_t *v)
{
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c) {
            if (k[0] == '$')
                fail_msg("directive key \"%s\" left in the result", k);
            assert_no_directives(c);
        }
    } else if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, c)
            assert_no_directives(c);
    }
}

/* The document `base` with changes: pairs of a slash path through object
 * members ("spec/template/spec/containers") and a JSON literal, or NULL to
 * delete the member; a NULL path ends the list. */
static json_t *doc_with(const char *base, va_list ap)
{
    json_t *doc = parse(base);
    const char *path;
    while ((path = va_arg(ap, const char *))) {
        const char *lit = va_arg(ap, const char *);
        char *p = strdup(path), *seg = p, *slash;
        json_t *at = doc;
        while ((slash = strchr(seg, '/'))) {
            *slash = '\0';
            at = json_object_get(at, seg);
            assert_non_null(at);
            seg = slash + 1;
        }
        if (lit)
            json_object_set_new(at, seg, parse(lit));
        else
            json_object_del(at, seg);
        free(p);
    }
    return doc;
}

/* Strategic merge of `patch` into `doc`; the result must equal `want`. */
static void smp_ok(const char *kind, const char *doc, const char *patch, const char *want)
{
    json_t *d = parse(doc), *p = parse(patch);
    char err[256] = "";
    if (twin_patch_strategic(&d, p, kind, err, sizeof err))
        fail_msg("unexpected error: %s", err);
    assert_json(d, want);
    assert_no_directives(d);
    json_decref(d);
    json_decref(p);
}

/* Runs `fn`-style patcher expectations for errors: -1, the message mentions
 * `needle`, and *doc is the very same, unchanged value. */
static void smp_err(const char *kind, const char *doc, const char *patch, const char *needle)
{
    json_t *d = parse(doc), *before = d, *orig = parse(doc), *p = parse(patch);
    char err[256] = "";
    assert_int_equal(twin_patch_strategic(&d, p, kind, err, sizeof err), -1);
    assert_ptr_equal(d, before);
    assert_json_equal(d, orig);
    assert_mentions(err, needle);
    json_decref(d);
    json_decref(orig);
    json_decref(p);
}

/* ------------------------------------------------------------------------ */
/* RFC 7386                                                                  */
/* ------------------------------------------------------------------------ */

static void merge_case(const char *target, const char *patch, const char *want)
{
    json_t *t = parse(target), *p = parse(patch);
    char err[128] = "";
    if (twin_patch_merge(&t, p, err, sizeof err))
        fail_msg("unexpected error: %s", err);
    assert_json(t, want);
    json_decref(t);
    json_decref(p);
}

/* RFC 7386 appendix A, every row. */
static void test_merge_rfc7386_appendix(void **state)
{
    static const char *const rows[][3] = {
        {"{'a':'b'}", "{'a':'c'}", "{'a':'c'}"},
        {"{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}"},
        {"{'a':'b'}", "{'a':null}", "{}"},
        {"{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}"},
        {"{'a':['b']}", "{'a':'c'}", "{'a':'c'}"},
        {"{'a':'c'}", "{'a':['b']}", "{'a':['b']}"},
        {"{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}"},
        {"{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}"},
        {"['a','b']", "['c','d']", "['c','d']"},
        {"{'a':'b'}", "['c']", "['c']"},
        {"{'a':'foo'}", "null", "null"},
        {"{'a':'foo'}", "'bar'", "'bar'"},
        {"{'e':null}", "{'a':1}", "{'e':null,'a':1}"},
        {"[1,2]", "{'a':'b','c':null}", "{'a':'b'}"},
        {"{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        merge_case(rows[i][0], rows[i][1], rows[i][2]);
}

/* RFC 7386 section 3, the worked example. */
static void test_merge_rfc7386_example(void **state)
{
    (void)state;
    merge_case("{'title':'Goodbye!','author':{'givenName':'John','familyName':'Doe'},"
               "'tags':['example','sample'],'content':'This will be unchanged'}",
               "{'title':'Hello!','phoneNumber':'+01-123-456-7890',"
               "'author':{'familyName':null},'tags':['example']}",
               "{'title':'Hello!','author':{'givenName':'John'},'tags':['example'],"
               "'content':'This will be unchanged','phoneNumber':'+01-123-456-7890'}");
}

static json_t *nested(int depth)
{
    json_t *v = json_object();
    for (int i = 0; i < depth; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "a", v);
        v = o;
    }
    return v;
}

static void test_merge_depth_limit(void **state)
{
    json_t *d = parse("{'x':1}"), *before = d, *p = nested(TWIN_PATCH_MAX_DEPTH + 5);
    char err[128] = "";
    (void)state;
    assert_int_equal(twin_patch_merge(&d, p, err, sizeof err), -1);
    assert_ptr_equal(d, before);
    assert_json(d, "{'x':1}");
    assert_mentions(err, "deeper");
    json_decref(d);
    json_decref(p);
}

/* ------------------------------------------------------------------------ */
/* RFC 6902                                                                  */
/* ------------------------------------------------------------------------ */

static void jp_ok(const char *doc, const char *ops, const char *want)
{
    json_t *d = parse(doc), *o = parse(ops);
    char err[256] = "";
    if (twin_patch_json(&d, o, err, sizeof err))
        fail_msg("unexpected error: %s", err);
    assert_json(d, want);
    json_decref(d);
    json_decref(o);
}

/* Expects an error whose message is exactly `msg`, with *doc untouched. */
static void jp_err(const char *doc, const char *ops, const char *msg)
{
    json_t *d = parse(doc), *before = d, *orig = parse(doc), *o = parse(ops);
    char err[256] = "";
    assert_int_equal(twin_patch_json(&d, o, err, sizeof err), -1);
    assert_ptr_equal(d, before);
    assert_json_equal(d, orig);
    assert_string_equal(err, msg);
    json_decref(d);
    json_decref(orig);
    json_decref(o);
}

/* RFC 6902 appendix A: the examples that succeed. */
static void test_json_rfc6902_appendix_ok(void **state)
{
    (void)state;
    /* A.1 */ jp_ok("{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]",
                    "{'baz':'qux','foo':'bar'}");
    /* A.2 */ jp_ok("{'foo':['bar','baz']}", "[{'op':'add','path':'/foo/1','value':'qux'}]",
                    "{'foo':['bar','qux','baz']}");
    /* A.3 */ jp_ok("{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]",
                    "{'foo':'bar'}");
    /* A.4 */ jp_ok("{'foo':['bar','qux','baz']}", "[{'op':'remove','path':'/foo/1'}]",
                    "{'foo':['bar','baz']}");
    /* A.5 */ jp_ok("{'baz':'qux','foo':'bar'}", "[{'op':'replace','path':'/baz','value':'boo'}]",
                    "{'baz':'boo','foo':'bar'}");
    /* A.6 */ jp_ok("{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}",
                    "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]",
                    "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}");
    /* A.7 */ jp_ok("{'foo':['all','grass','cows','eat']}",
                    "[{'op':'move','from':'/foo/1','path':'/foo/3'}]",
                    "{'foo':['all','cows','eat','grass']}");
    /* A.8 */ jp_ok("{'baz':'qux','foo':['a',2,'c']}",
                    "[{'op':'test','path':'/baz','value':'qux'},"
                    "{'op':'test','path':'/foo/1','value':2}]",
                    "{'baz':'qux','foo':['a',2,'c']}");
    /* A.10 */ jp_ok("{'foo':'bar'}",
                     "[{'op':'add','path':'/child','value':{'grandchild':{}}}]",
                     "{'foo':'bar','child':{'grandchild':{}}}");
    /* A.11 */ jp_ok("{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux','xyz':123}]",
                     "{'foo':'bar','baz':'qux'}");
    /* A.14 */ jp_ok("{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':10}]",
                     "{'/':9,'~1':10}");
    /* A.16 */ jp_ok("{'foo':['bar']}", "[{'op':'add','path':'/foo/-','value':['abc','def']}]",
                     "{'foo':['bar',['abc','def']]}");
}

/* RFC 6902 appendix A: the examples that must fail. */
static void test_json_rfc6902_appendix_errors(void **state)
{
    (void)state;
    /* A.9 */ jp_err("{'baz':'qux'}", "[{'op':'test','path':'/baz','value':'bar'}]",
                     "op 0 (test /baz): test failed: the value differs");
    /* A.12 */ jp_err("{'foo':'bar'}", "[{'op':'add','path':'/baz/bat','value':'qux'}]",
                      "op 0 (add /baz/bat): path not found");
    /* A.15 */ jp_err("{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':'10'}]",
                      "op 0 (test /~01): test failed: the value differs");
}

static void test_json_ops(void **state)
{
    (void)state;
    /* copy, escapes, "-" append, replace of the root, numbers compare by value */
    jp_ok("{'a':{'b':[1]}}", "[{'op':'copy','from':'/a/b','path':'/c'},"
                             "{'op':'add','path':'/c/-','value':2}]",
          "{'a':{'b':[1]},'c':[1,2]}");
    jp_ok("{}", "[{'op':'add','path':'/a~1b','value':1},{'op':'add','path':'/m~0n','value':2}]",
          "{'a/b':1,'m~n':2}");
    jp_ok("{'a':1}", "[{'op':'replace','path':'','value':[1]}]", "[1]");
    jp_ok("{'a':1}", "[{'op':'test','path':'/a','value':1.0}]", "{'a':1}");
    jp_ok("{'a':[1,2,3]}", "[{'op':'add','path':'/a/3','value':4},{'op':'remove','path':'/a/0'}]",
          "{'a':[2,3,4]}");
    jp_ok("{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a'}]", "{'a':{'b':1}}");
    jp_ok("{'metadata':{'labels':{'app.kubernetes.io/name':'web'}}}",
          "[{'op':'remove','path':'/metadata/labels/app.kubernetes.io~1name'}]",
          "{'metadata':{'labels':{}}}");
}

static void test_json_errors(void **state)
{
    (void)state;
    jp_err("{'spec':{}}", "[{'op':'test','path':'/spec','value':{}},{'op':'add','path':'/x','value':1},"
                          "{'op':'remove','path':'/spec/foo'}]",
           "op 2 (remove /spec/foo): path not found");
    jp_err("{'a':[1,2]}", "[{'op':'add','path':'/a/3','value':0}]",
           "op 0 (add /a/3): array index out of range");
    jp_err("{'a':[1,2]}", "[{'op':'replace','path':'/a/2','value':0}]",
           "op 0 (replace /a/2): array index out of range");
    jp_err("{'a':[1,2]}", "[{'op':'remove','path':'/a/01'}]",
           "op 0 (remove /a/01): invalid array index");
    jp_err("{'a':[1,2]}", "[{'op':'remove','path':'/a/-'}]",
           "op 0 (remove /a/-): \"-\" names no existing array element");
    jp_err("{}", "[{'op':'frobnicate','path':'/a'}]", "op 0 (frobnicate /a): unknown op");
    jp_err("{}", "[{'op':'add','path':'/a'}]", "op 0 (add /a): missing \"value\"");
    jp_err("{}", "[{'path':'/a'}]", "op 0: missing \"op\" string");
    jp_err("{}", "[{'op':'remove'}]", "op 0 (remove): missing \"path\" string");
    jp_err("{}", "[{'op':'copy','path':'/a'}]", "op 0 (copy /a): missing \"from\" string");
    jp_err("{}", "[1]", "op 0: not a JSON object");
    jp_err("{'a':1}", "[{'op':'remove','path':'a'}]",
           "op 0 (remove a): a JSON pointer must be empty or start with '/'");
    jp_err("{'a':1}", "[{'op':'remove','path':'/~2'}]", "op 0 (remove /~2): bad '~' escape in JSON pointer");
    jp_err("{'a':1}", "[{'op':'remove','path':''}]", "op 0 (remove ): cannot remove the whole document");
    jp_err("{'a':{'b':{}}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]",
           "op 0 (move /a -> /a/b/c): cannot move a value into one of its own children");
    jp_err("{'a':1}", "[{'op':'move','from':'/nope','path':'/b'}]",
           "op 0 (move /nope -> /b): \"from\" path not found");
    jp_err("{'a':1}", "[{'op':'add','path':'/a/b','value':1}]",
           "op 0 (add /a/b): parent of path is not an object or array");
    jp_err("{'a':1}", "{'op':'add'}", "JSON patch must be a JSON array of operations");
}

/* All ops or none: a failure at op 3 leaves no trace of ops 0-2. */
static void test_json_atomic(void **state)
{
    (void)state;
    jp_err("{'a':1,'b':[1,2]}",
           "[{'op':'add','path':'/c','value':3},{'op':'remove','path':'/a'},"
           "{'op':'replace','path':'/b/0','value':9},{'op':'remove','path':'/b/5'}]",
           "op 3 (remove /b/5): array index out of range");
}

/* The patch's values are copied, never shared: changing the result does not
 * change the patch. */
static void test_json_no_sharing(void **state)
{
    json_t *d = parse("{}"), *o = parse("[{'op':'add','path':'/a','value':{'x':1}}]");
    char err[64];
    (void)state;
    assert_int_equal(twin_patch_json(&d, o, err, sizeof err), 0);
    json_object_set_new(json_object_get(d, "a"), "x", json_integer(2));
    assert_json(o, "[{'op':'add','path':'/a','value':{'x':1}}]");
    json_decref(d);
    json_decref(o);
}

/* ------------------------------------------------------------------------ */
/* Strategic merge patch: a Deployment                                       */
/* ------------------------------------------------------------------------ */

#define APP_ENV "[{'name':'MODE','value':'prod'},{'name':'PORT','value':'8080'}]"
#define APP_PORTS "[{'containerPort':8080,'protocol':'TCP'}]"
#define APP_WITH_ENV(env) \
    "{'name':'app','image':'shop/web:1.0','env':" env ",'ports':" APP_PORTS "}"
#define APP APP_WITH_ENV(APP_ENV)
#define LOG "{'name':'log','image':'fluent-bit:2.1'}"
#define CONTAINERS "spec/template/spec/containers"

static const char DEPLOY[] =
    "{'apiVersion':'apps/v1','kind':'Deployment',"
    " 'metadata':{'name':'web','namespace':'shop','labels':{'app':'web','tier':'frontend'}},"
    " 'spec':{'replicas':2,'selector':{'matchLabels':{'app':'web'}},"
    "  'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':'25%','maxUnavailable':'25%'}},"
    "  'template':{'metadata':{'labels':{'app':'web'}},"
    "   'spec':{'containers':[" APP "," LOG "],"
    "    'tolerations':[{'key':'dedicated','operator':'Equal','value':'web','effect':'NoSchedule'}]}}}}";

/* Patches DEPLOY and checks the whole result against DEPLOY with the listed
 * (path, literal) changes -- so everything not listed must be untouched. */
static void deploy_ok(const char *patch, ...)
{
    va_list ap;
    json_t *d = parse(DEPLOY), *p = parse(patch), *want;
    char err[256] = "";
    if (twin_patch_strategic(&d, p, "Deployment", err, sizeof err))
        fail_msg("unexpected error: %s", err);
    va_start(ap, patch);
    want = doc_with(DEPLOY, ap);
    va_end(ap);
    assert_json_equal(d, want);
    assert_no_directives(d);
    json_decref(want);
    json_decref(d);
    json_decref(p);
}

#define PODSPEC_PATCH(inner) "{'spec':{'template':{'spec':" inner "}}}"

static void test_smp_change_image_keeps_other_container(void **state)
{
    (void)state;
    deploy_ok(PODSPEC_PATCH("{'containers':[{'name':'log','image':'fluent-bit:3.0'}]}"),
              CONTAINERS, "[" APP ",{'name':'log','image':'fluent-bit:3.0'}]", NULL);
}

static void test_smp_change_env_value(void **state)
{
    (void)state;
    deploy_ok(PODSPEC_PATCH("{'containers':[{'name':'app','env':[{'name':'PORT','value':'9090'}]}]}"),
              CONTAINERS,
              "[" APP_WITH_ENV("[{'name':'MODE','value':'prod'},{'name':'PORT','value':'9090'}]") ","
              LOG "]",
              NULL);
}

/* A new env var.  Kubernetes (apimachinery mergeSortedSlice) places an element
 * the live list cannot order before the live elements, so without
 * $setElementOrder the new variable comes first -- as on a real cluster. */
static void test_smp_add_env_by_name(void **state)
{
    (void)state;
    deploy_ok(PODSPEC_PATCH("{'containers':[{'name':'app','env':[{'name':'DEBUG','value':'1'}]}]}"),
              CONTAINERS,
              "[" APP_WITH_ENV("[{'name':'DEBUG','value':'1'},{'name':'MODE','value':'prod'},"
                               "{'name':'PORT','value':'8080'}]") "," LOG "]",
              NULL);
}

/* What kubectl apply/edit send: the same addition with $setElementOrder puts
 * it where the directive says. */
static void test_smp_add_env_with_set_element_order(void **state)
{
    (void)state;
    deploy_ok(PODSPEC_PATCH("{'$setElementOrder/containers':[{'name':'app'},{'name':'log'}],"
                            " 'containers':[{'name':'app',"
                            "  '$setElementOrder/env':[{'name':'MODE'},{'name':'PORT'},{'name':'DEBUG'}],"
                            "  'env':[{'name':'DEBUG','value':'1'}]}]}"),
              CONTAINERS,
              "[" APP_WITH_ENV("[{'name':'MODE','value':'prod'},{'name':'PORT','value':'8080'},"
                               "{'name':'DEBUG','value':'1'}]") "," LOG "]",
              NULL);
}

static void test_smp_set_element_order_reorders(void **state)
{
    (void)state;
    /* order only, no list in the patch */
    deploy_ok(PODSPEC_PATCH("{'$setElementOrder/containers':[{'name':'log'},{'name':'app'}]}"),
              CONTAINERS, "[" LOG "," APP "]", NULL);
    /* a new container placed last by the directive */
    deploy_ok(PODSPEC_PATCH("{'$setElementOrder/containers':[{'name':'app'},{'name':'log'},{'name':'side'}],"
                            " 'containers':[{'name':'side','image':'envoy:1'}]}"),
              CONTAINERS, "[" APP "," LOG ",{'name':'side','image':'envoy:1'}]", NULL);
}

static void test_smp_new_container_goes_first(void **state)
{
    (void)state;
    deploy_ok(PODSPEC_PATCH("{'containers':[{'name':'side','image':'envoy:1'}]}"),
              CONTAINERS, "[{'name':'side','image':'envoy:1'}," APP "," LOG "]", NULL);
}

static void test_smp_delete_container(void **state)
{
    (void)state;
    deploy_ok(PODSPEC_PATCH("{'containers':[{'name':'app','$patch':'delete'}]}"),
              CONTAINERS, "[" LOG "]", NULL);
}

static void test_smp_tolerations_replaced(void **state)
{
    (void)state;
    deploy_ok(PODSPEC_PATCH("{'tolerations':[{'key':'gpu','operator':'Exists'}]}"),
              "spec/template/spec/tolerations", "[{'key':'gpu','operator':'Exists'}]", NULL);
}

static void test_smp_label_removed_with_null(void **state)
{
    (void)state;
    deploy_ok("{'metadata':{'labels':{'tier':null,'team':'payments'}}}",
              "metadata/labels", "{'app':'web','team':'payments'}", NULL);
}

/* kubernetes.io "Use strategic merge patch ... using the retainKeys strategy". */
static void test_smp_retain_keys_strategy(void **state)
{
    (void)state;
    deploy_ok("{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate'}}}",
              "spec/strategy", "{'type':'Recreate'}", NULL);
}

static void test_smp_patch_replace_and_delete(void **state)
{
    (void)state;
    /* replace on a list: only the patch's elements remain */
    deploy_ok(PODSPEC_PATCH("{'containers':[{'$patch':'replace'},{'name':'only','image':'x'}]}"),
              CONTAINERS, "[{'name':'only','image':'x'}]", NULL);
    /* replace on a map */
    deploy_ok("{'metadata':{'labels':{'$patch':'replace','app':'shop'}}}",
              "metadata/labels", "{'app':'shop'}", NULL);
    /* delete on a map leaves it empty, as apimachinery does */
    deploy_ok("{'spec':{'strategy':{'$patch':'delete'}}}", "spec/strategy", "{}", NULL);
    /* merge is the default made explicit */
    deploy_ok("{'spec':{'selector':{'$patch':'merge','matchLabels':{'x':'y'}}}}",
              "spec/selector", "{'matchLabels':{'app':'web','x':'y'}}", NULL);
}

/* Directives inside values the object did not have yet are applied too, and
 * nulls there mean nothing: no '$' key and no null reaches the result. */
static void test_smp_directives_in_new_values(void **state)
{
    (void)state;
    deploy_ok(PODSPEC_PATCH("{'containers':[{'name':'side','image':'envoy:1','resources':null,"
                            "  'env':[{'name':'A','value':'1'},{'name':'B','$patch':'delete'}],"
                            "  'securityContext':{'$retainKeys':['runAsUser'],'runAsUser':1000}}],"
                            " 'volumes':[{'name':'cache','emptyDir':{'$patch':'replace'}}]}"),
              CONTAINERS,
              "[{'name':'side','image':'envoy:1','env':[{'name':'A','value':'1'}],"
              "  'securityContext':{'runAsUser':1000}}," APP "," LOG "]",
              "spec/template/spec/volumes", "[{'name':'cache','emptyDir':{}}]", NULL);
}

/* ------------------------------------------------------------------------ */
/* Strategic merge patch: other kinds                                        */
/* ------------------------------------------------------------------------ */

static const char SERVICE[] =
    "{'kind':'Service','spec':{'ports':[{'name':'http','port':80,'targetPort':8080},"
    "{'name':'https','port':443,'targetPort':8443}],'clusterIPs':['10.0.0.1']}}";

static void test_smp_service_ports_by_port(void **state)
{
    (void)state;
    smp_ok("Service", SERVICE, "{'spec':{'ports':[{'port':443,'targetPort':9443}]}}",
           "{'kind':'Service','spec':{'ports':[{'name':'http','port':80,'targetPort':8080},"
           "{'name':'https','port':443,'targetPort':9443}],'clusterIPs':['10.0.0.1']}}");
    /* after a patched element, a new one follows it */
    smp_ok("Service", SERVICE,
           "{'spec':{'ports':[{'port':443,'targetPort':9443},{'name':'admin','port':9000}]}}",
           "{'kind':'Service','spec':{'ports':[{'name':'http','port':80,'targetPort':8080},"
           "{'name':'https','port':443,'targetPort':9443},{'name':'admin','port':9000}],"
           "'clusterIPs':['10.0.0.1']}}");
    smp_ok("Service", SERVICE, "{'spec':{'ports':[{'port':80,'$patch':'delete'}]}}",
           "{'kind':'Service','spec':{'ports':[{'name':'https','port':443,'targetPort':8443}],"
           "'clusterIPs':['10.0.0.1']}}");
}

static const char CM_FIN[] =
    "{'kind':'ConfigMap','metadata':{'name':'c','finalizers':['a.io/x','b.io/y']}}";

static void test_smp_finalizers_set_merge(void **state)
{
    (void)state;
    smp_ok("ConfigMap", CM_FIN, "{'metadata':{'finalizers':['b.io/y','c.io/z','c.io/z']}}",
           "{'kind':'ConfigMap','metadata':{'name':'c','finalizers':['a.io/x','b.io/y','c.io/z']}}");
    smp_ok("ConfigMap", CM_FIN, "{'metadata':{'finalizers':['c.io/z']}}",
           "{'kind':'ConfigMap','metadata':{'name':'c','finalizers':['c.io/z','a.io/x','b.io/y']}}");
    smp_ok("ConfigMap", CM_FIN, "{'metadata':{'$deleteFromPrimitiveList/finalizers':['a.io/x']}}",
           "{'kind':'ConfigMap','metadata':{'name':'c','finalizers':['b.io/y']}}");
    smp_ok("ConfigMap", CM_FIN,
           "{'metadata':{'$setElementOrder/finalizers':['b.io/y','c.io/z'],"
           "'$deleteFromPrimitiveList/finalizers':['a.io/x'],'finalizers':['c.io/z']}}",
           "{'kind':'ConfigMap','metadata':{'name':'c','finalizers':['b.io/y','c.io/z']}}");
}

static void test_smp_owner_references_by_uid(void **state)
{
    (void)state;
    smp_ok("ReplicaSet",
           "{'metadata':{'ownerReferences':[{'uid':'u1','kind':'Deployment','name':'a'},"
           "{'uid':'u2','kind':'Deployment','name':'b'}]}}",
           "{'metadata':{'ownerReferences':[{'uid':'u2','controller':true}]}}",
           "{'metadata':{'ownerReferences':[{'uid':'u1','kind':'Deployment','name':'a'},"
           "{'uid':'u2','kind':'Deployment','name':'b','controller':true}]}}");
}

/* The pod-spec rows apply at every pod template location. */
static void test_smp_pod_template_locations(void **state)
{
    (void)state;
    smp_ok("Pod", "{'spec':{'containers':[{'name':'a','image':'1'},{'name':'b','image':'1'}]}}",
           "{'spec':{'containers':[{'name':'b','image':'2'}]}}",
           "{'spec':{'containers':[{'name':'a','image':'1'},{'name':'b','image':'2'}]}}");
    smp_ok("CronJob",
           "{'spec':{'jobTemplate':{'spec':{'template':{'spec':{'initContainers':"
           "[{'name':'i','env':[{'name':'X','value':'1'},{'name':'Y','value':'1'}]}]}}}}}}",
           "{'spec':{'jobTemplate':{'spec':{'template':{'spec':{'initContainers':"
           "[{'name':'i','env':[{'name':'Y','value':'2'}]}]}}}}}}",
           "{'spec':{'jobTemplate':{'spec':{'template':{'spec':{'initContainers':"
           "[{'name':'i','env':[{'name':'X','value':'1'},{'name':'Y','value':'2'}]}]}}}}}}");
    smp_ok("Pod",
           "{'status':{'conditions':[{'type':'Ready','status':'False'},"
           "{'type':'PodScheduled','status':'True'}]}}",
           "{'status':{'conditions':[{'type':'Ready','status':'True'}]}}",
           "{'status':{'conditions':[{'type':'Ready','status':'True'},"
           "{'type':'PodScheduled','status':'True'}]}}");
}

/* A kind the table does not know: lists are replaced, as with a merge patch,
 * except ObjectMeta's, which every kind shares. */
static void test_smp_unknown_kind(void **state)
{
    (void)state;
    smp_ok("Widget",
           "{'metadata':{'finalizers':['a']},'spec':{'template':{'spec':{'containers':"
           "[{'name':'a'},{'name':'b'}]}}}}",
           "{'metadata':{'finalizers':['b']},'spec':{'template':{'spec':{'containers':"
           "[{'name':'b','image':'x'}]}}}}",
           "{'metadata':{'finalizers':['b','a']},'spec':{'template':{'spec':{'containers':"
           "[{'name':'b','image':'x'}]}}}}");
    smp_ok(NULL, "{'a':[1,2]}", "{'a':[3]}", "{'a':[3]}");
}

static void test_smp_bad_input(void **state)
{
    (void)state;
    smp_err("Deployment", DEPLOY, "['not','an','object']", "strategic merge patch must be a JSON object");
    smp_err("Deployment", DEPLOY, "'text'", "strategic merge patch must be a JSON object");
    smp_err("Deployment", DEPLOY, "null", "strategic merge patch must be a JSON object");
    smp_err("Deployment", DEPLOY, PODSPEC_PATCH("{'containers':[{'image':'x'}]}"),
            "spec.template.spec.containers: element 0 has no merge key \"name\"");
    smp_err("Deployment", DEPLOY,
            PODSPEC_PATCH("{'containers':[{'name':'app','env':[{'value':'1'}]}]}"),
            "spec.template.spec.containers[].env: element 0 has no merge key \"name\"");
    smp_err("Deployment", DEPLOY, PODSPEC_PATCH("{'containers':[{'$patch':'delete'}]}"),
            "$patch: delete needs the merge key \"name\"");
    smp_err("Deployment", DEPLOY, PODSPEC_PATCH("{'containers':['app']}"),
            "spec.template.spec.containers: element 0 is not an object");
    smp_err("Deployment", DEPLOY, "{'spec':{'strategy':{'$patch':'explode'}}}",
            "spec.strategy: unknown $patch directive \"explode\"");
    smp_err("Deployment", DEPLOY,
            "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate','rollingUpdate':{}}}}",
            "spec.strategy: field \"rollingUpdate\" is set but not listed in $retainKeys");
    smp_err("Deployment", DEPLOY,
            PODSPEC_PATCH("{'$setElementOrder/containers':[{'name':'app'}],"
                          "'containers':[{'name':'log','image':'x'}]}"),
            "spec.template.spec.containers: element 0 is missing from, or out of order with, "
            "$setElementOrder");
    smp_err("ConfigMap", CM_FIN, "{'metadata':{'finalizers':[{'a':1}]}}",
            "metadata.finalizers: element 0 is not a scalar");
}

/* A merged list may not outgrow TWIN_PATCH_MAX_LIST: the ordering work is
 * quadratic. */
static void test_smp_list_limit(void **state)
{
    json_t *d = parse("{'metadata':{'finalizers':[]}}"), *p = parse("{'metadata':{'finalizers':['new']}}");
    json_t *fin = json_object_get(json_object_get(d, "metadata"), "finalizers");
    char err[256] = "", name[32];
    (void)state;
    for (int i = 0; i < TWIN_PATCH_MAX_LIST; i++) {
        snprintf(name, sizeof name, "f%d", i);
        json_array_append_new(fin, json_string(name));
    }
    assert_int_equal(twin_patch_strategic(&d, p, "Pod", err, sizeof err), -1);
    assert_mentions(err, "metadata.finalizers: merged list has 2049 elements (limit 2048)");
    json_decref(d);
    json_decref(p);
}

static void test_smp_merge_key_table(void **state)
{
    (void)state;
    assert_string_equal(twin_patch_merge_key("Deployment", "spec.template.spec.containers"), "name");
    assert_string_equal(twin_patch_merge_key("Deployment", "spec.template.spec.containers[].ports"),
                        "containerPort");
    assert_string_equal(twin_patch_merge_key("StatefulSet", "spec.template.spec.volumes"), "name");
    assert_string_equal(
        twin_patch_merge_key("CronJob", "spec.jobTemplate.spec.template.spec.initContainers[].env"),
        "name");
    assert_string_equal(twin_patch_merge_key("Pod", "spec.ephemeralContainers[].volumeMounts"),
                        "mountPath");
    assert_string_equal(twin_patch_merge_key("PodTemplate", "template.spec.hostAliases"), "ip");
    assert_string_equal(twin_patch_merge_key("Pod", "status.containerStatuses[].volumeMounts"),
                        "mountPath");
    assert_string_equal(twin_patch_merge_key("Service", "spec.ports"), "port");
    assert_string_equal(twin_patch_merge_key("ServiceAccount", "secrets"), "name");
    assert_string_equal(twin_patch_merge_key("Node", "status.conditions"), "type");
    assert_string_equal(twin_patch_merge_key("Job", "status.conditions"), "type");
    assert_string_equal(twin_patch_merge_key("ConfigMap", "metadata.ownerReferences"), "uid");
    assert_string_equal(twin_patch_merge_key(NULL, "metadata.finalizers"), "");
    assert_string_equal(twin_patch_merge_key("Node", "spec.podCIDRs"), "");
    assert_null(twin_patch_merge_key("Deployment", "spec.template.spec.tolerations"));
    assert_null(twin_patch_merge_key("Pod", "spec.containers[].command"));
    assert_null(twin_patch_merge_key("Node", "spec.taints"));
    assert_null(twin_patch_merge_key("NetworkPolicy", "spec.ingress"));
    assert_null(twin_patch_merge_key("Deployment", "spec.ports"));
    assert_null(twin_patch_merge_key("Deployment", "spec.strategy"));
    assert_null(twin_patch_merge_key("Widget", "spec.template.spec.containers"));
    assert_null(twin_patch_merge_key("CronJob", "spec.template.spec.containers"));
    assert_null(twin_patch_merge_key("Deployment", NULL));
}

/* ------------------------------------------------------------------------ */
/* Server-side apply                                                         */
/* ------------------------------------------------------------------------ */

static void apply_ok(const char *kind, const char *doc, const char *applied, const char *prev,
                     const char *want)
{
    json_t *d = parse(doc), *a = parse(applied), *p = prev ? parse(prev) : NULL;
    char err[256] = "";
    if (twin_patch_apply(&d, a, p, kind, err, sizeof err))
        fail_msg("unexpected error: %s", err);
    assert_json(d, want);
    json_decref(d);
    json_decref(a);
    json_decref(p);
}

/* Live object: what the manager applied last time, plus a label someone else
 * added with kubectl label and a default the API server filled in. */
static const char LIVE[] =
    "{'metadata':{'name':'web','labels':{'app':'web','tier':'frontend','team':'pay'}},"
    " 'spec':{'replicas':2,'template':{'spec':{'containers':["
    "   {'name':'app','image':'web:1','imagePullPolicy':'IfNotPresent',"
    "    'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]},"
    "   {'name':'log','image':'log:1'}]}}}}";
static const char PREV[] =
    "{'metadata':{'name':'web','labels':{'app':'web','tier':'frontend'}},"
    " 'spec':{'replicas':2,'template':{'spec':{'containers':["
    "   {'name':'app','image':'web:1','env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]},"
    "   {'name':'log','image':'log:1'}]}}}}";

static void test_apply_prev_removes_dropped_fields(void **state)
{
    (void)state;
    apply_ok("Deployment", LIVE,
             "{'metadata':{'name':'web','labels':{'app':'web'}},"
             " 'spec':{'replicas':2,'template':{'spec':{'containers':["
             "   {'name':'app','image':'web:2','env':[{'name':'A','value':'1'}]}]}}}}",
             PREV,
             "{'metadata':{'name':'web','labels':{'app':'web','team':'pay'}},"
             " 'spec':{'replicas':2,'template':{'spec':{'containers':["
             "   {'name':'app','image':'web:2','imagePullPolicy':'IfNotPresent',"
             "    'env':[{'name':'A','value':'1'}]}]}}}}");
}

/* Without a previous configuration nothing is removed; new list elements are
 * appended (structured-merge-diff keeps the live order). */
static void test_apply_without_prev_merges(void **state)
{
    (void)state;
    apply_ok("Deployment", LIVE,
             "{'metadata':{'name':'web','labels':{'env':'prod'}},"
             " 'spec':{'template':{'spec':{'containers':[{'name':'side','image':'envoy:1'},"
             "   {'name':'app','image':'web:2'}]}}}}",
             NULL,
             "{'metadata':{'name':'web','labels':{'app':'web','tier':'frontend','team':'pay','env':'prod'}},"
             " 'spec':{'replicas':2,'template':{'spec':{'containers':["
             "   {'name':'app','image':'web:2','imagePullPolicy':'IfNotPresent',"
             "    'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]},"
             "   {'name':'log','image':'log:1'},{'name':'side','image':'envoy:1'}]}}}}");
}

/* A whole map dropped from the configuration takes only what this manager
 * set; a set list drops what it applied before. */
static void test_apply_drops_only_owned_parts(void **state)
{
    (void)state;
    apply_ok("Deployment",
             "{'metadata':{'name':'w','labels':{'a':'1','b':'2'},'finalizers':['x','y']},"
             " 'spec':{'replicas':3,'paused':false}}",
             "{'metadata':{'name':'w','finalizers':['z']},'spec':{}}",
             "{'metadata':{'name':'w','labels':{'a':'1'},'finalizers':['x']},"
             " 'spec':{'replicas':3}}",
             "{'metadata':{'name':'w','labels':{'b':'2'},'finalizers':['y','z']},"
             " 'spec':{'paused':false}}");
}

static void test_apply_bad_input(void **state)
{
    json_t *d = parse(LIVE), *before = d, *orig = parse(LIVE), *a, *p;
    char err[256] = "";
    (void)state;

    a = parse("[1]");
    assert_int_equal(twin_patch_apply(&d, a, NULL, "Deployment", err, sizeof err), -1);
    assert_string_equal(err, "apply configuration must be a JSON object");
    json_decref(a);

    a = parse("{'spec':{'template':{'spec':{'containers':[{'image':'x'}]}}}}");
    assert_int_equal(twin_patch_apply(&d, a, NULL, "Deployment", err, sizeof err), -1);
    assert_string_equal(err, "spec.template.spec.containers: element 0 has no merge key \"name\"");
    json_decref(a);

    a = parse("{'metadata':{'$patch':'replace'}}");
    assert_int_equal(twin_patch_apply(&d, a, NULL, "Deployment", err, sizeof err), -1);
    assert_mentions(err, "metadata.$patch: patch directives are not allowed");
    json_decref(a);

    a = parse("{}");
    p = parse("'x'");
    assert_int_equal(twin_patch_apply(&d, a, p, "Deployment", err, sizeof err), -1);
    assert_mentions(err, "previous applied configuration");
    json_decref(a);
    json_decref(p);

    assert_ptr_equal(d, before);
    assert_json_equal(d, orig);
    json_decref(d);
    json_decref(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_rfc7386_appendix),
        cmocka_unit_test(test_merge_rfc7386_example),
        cmocka_unit_test(test_merge_depth_limit),
        cmocka_unit_test(test_json_rfc6902_appendix_ok),
        cmocka_unit_test(test_json_rfc6902_appendix_errors),
        cmocka_unit_test(test_json_ops),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_atomic),
        cmocka_unit_test(test_json_no_sharing),
        cmocka_unit_test(test_smp_change_image_keeps_other_container),
        cmocka_unit_test(test_smp_change_env_value),
        cmocka_unit_test(test_smp_add_env_by_name),
        cmocka_unit_test(test_smp_add_env_with_set_element_order),
        cmocka_unit_test(test_smp_set_element_order_reorders),
        cmocka_unit_test(test_smp_new_container_goes_first),
        cmocka_unit_test(test_smp_delete_container),
        cmocka_unit_test(test_smp_tolerations_replaced),
        cmocka_unit_test(test_smp_label_removed_with_null),
        cmocka_unit_test(test_smp_retain_keys_strategy),
        cmocka_unit_test(test_smp_patch_replace_and_delete),
        cmocka_unit_test(test_smp_directives_in_new_values),
        cmocka_unit_test(test_smp_service_ports_by_port),
        cmocka_unit_test(test_smp_finalizers_set_merge),
        cmocka_unit_test(test_smp_owner_references_by_uid),
        cmocka_unit_test(test_smp_pod_template_locations),
        cmocka_unit_test(test_smp_unknown_kind),
        cmocka_unit_test(test_smp_bad_input),
        cmocka_unit_test(test_smp_list_limit),
        cmocka_unit_test(test_smp_merge_key_table),
        cmocka_unit_test(test_apply_prev_removes_dropped_fields),
        cmocka_unit_test(test_apply_without_prev_merges),
        cmocka_unit_test(test_apply_drops_only_owned_parts),
        cmocka_unit_test(test_apply_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
