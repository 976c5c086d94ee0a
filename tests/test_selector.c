/* Tests for twin/selector.c: label selectors (string, LabelSelector JSON, maps) and field selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return j;
}

static twin_selector *parse_ok(const char *s)
{
    char err[256] = "";
    twin_selector *sel = NULL;
    if (twin_selector_parse(&sel, s, err, sizeof err) != 0)
        fail_msg("\"%s\": %s", s, err);
    return sel;
}

static void parse_err(const char *s, const char *want)
{
    char err[512] = "";
    twin_selector *sel = (twin_selector *)(uintptr_t)1;
    assert_int_equal(twin_selector_parse(&sel, s, err, sizeof err), -1);
    assert_ptr_equal(sel, (twin_selector *)(uintptr_t)1);   /* untouched on error */
    assert_string_equal(err, want);
}

static void check_string(const twin_selector *sel, const char *want)
{
    char *s = twin_selector_string(sel);
    assert_string_equal(s, want);
    free(s);
}

/* 1/0 for `labels` (JSON text, or NULL for no labels at all). */
static int matches(const char *sel_text, const char *labels)
{
    twin_selector *sel = parse_ok(sel_text);
    json_t *l = labels ? js(labels) : NULL;
    int m = twin_selector_matches(sel, l);
    json_decref(l);
    twin_selector_free(sel);
    return m;
}

static void test_match_semantics(void **state)
{
    (void)state;
    assert_int_equal(matches("a=b", "{\"a\":\"b\"}"), 1);
    assert_int_equal(matches("a==b", "{\"a\":\"b\"}"), 1);
    assert_int_equal(matches("a=b", "{\"a\":\"c\"}"), 0);
    assert_int_equal(matches("a=b", "{}"), 0);
    assert_int_equal(matches("a=b", NULL), 0);

    assert_int_equal(matches("a!=b", "{\"a\":\"b\"}"), 0);
    assert_int_equal(matches("a!=b", "{\"a\":\"c\"}"), 1);
    assert_int_equal(matches("a!=b", "{}"), 1);   /* absent satisfies != */

    assert_int_equal(matches("a in (x,y)", "{\"a\":\"y\"}"), 1);
    assert_int_equal(matches("a in (x,y)", "{\"a\":\"z\"}"), 0);
    assert_int_equal(matches("a in (x,y)", "{}"), 0);
    assert_int_equal(matches("a notin (x)", "{\"a\":\"x\"}"), 0);
    assert_int_equal(matches("a notin (x)", "{\"a\":\"z\"}"), 1);
    assert_int_equal(matches("a notin (x)", NULL), 1);

    assert_int_equal(matches("a", "{\"a\":\"\"}"), 1);
    assert_int_equal(matches("a", "{\"b\":\"x\"}"), 0);
    assert_int_equal(matches("!a", "{\"b\":\"x\"}"), 1);
    assert_int_equal(matches("!a", "{\"a\":\"x\"}"), 0);

    assert_int_equal(matches("a=", "{\"a\":\"\"}"), 1);   /* empty value */
    assert_int_equal(matches("a=", "{}"), 0);
    assert_int_equal(matches("a in ()", "{\"a\":\"\"}"), 1);   /* () is the set {""} */
    assert_int_equal(matches("a in (x,)", "{\"a\":\"\"}"), 1);

    /* AND of everything */
    assert_int_equal(matches("app=web,tier in (fe,be),!canary",
                             "{\"app\":\"web\",\"tier\":\"be\"}"), 1);
    assert_int_equal(matches("app=web,tier in (fe,be),!canary",
                             "{\"app\":\"web\",\"tier\":\"be\",\"canary\":\"1\"}"), 0);

    /* a non-string label value exists but equals nothing */
    assert_int_equal(matches("a", "{\"a\":1}"), 1);
    assert_int_equal(matches("a=1", "{\"a\":1}"), 0);
    assert_int_equal(matches("a!=1", "{\"a\":1}"), 1);

    /* labels that are not an object: no labels */
    assert_int_equal(matches("!a", "[1]"), 1);
    assert_int_equal(matches("", NULL), 1);
}

static void test_canonical_string(void **state)
{
    (void)state;
    twin_selector *sel = parse_ok("  d , b == 2 ,!c, a in ( y , x , x ) ,e notin (z)  ");
    check_string(sel, "a in (x,y),b=2,!c,d,e notin (z)");
    assert_int_equal(twin_selector_matches_everything(sel), 0);
    assert_int_equal(twin_selector_matches_nothing(sel), 0);
    twin_selector_free(sel);

    sel = parse_ok("x!=1,x!=2");   /* same key keeps written order */
    check_string(sel, "x!=1,x!=2");
    twin_selector_free(sel);

    sel = parse_ok("a in (,b,)");
    check_string(sel, "a in (,b)");
    twin_selector_free(sel);

    sel = parse_ok("example.com/app=web,k8s.io/x_y.z=A-b_c.1,in=notin");
    check_string(sel, "example.com/app=web,in=notin,k8s.io/x_y.z=A-b_c.1");
    twin_selector_free(sel);
}

static void test_everything(void **state)
{
    (void)state;
    const char *empties[] = {"", "   ", "\t\n"};
    for (size_t i = 0; i < 3; i++) {
        twin_selector *sel = parse_ok(empties[i]);
        assert_int_equal(twin_selector_matches_everything(sel), 1);
        assert_int_equal(twin_selector_matches_nothing(sel), 0);
        assert_int_equal(twin_selector_matches(sel, NULL), 1);
        check_string(sel, "");
        twin_selector_free(sel);
    }
    twin_selector *sel = NULL;
    assert_int_equal(twin_selector_parse(&sel, NULL, NULL, 0), 0);
    assert_int_equal(twin_selector_matches_everything(sel), 1);
    twin_selector_free(sel);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_err("a in x", "label selector \"a in x\": found 'x' at column 6, expected '('");
    parse_err("a=b,", "label selector \"a=b,\": found end of string, expected a label key after ','");
    parse_err("a=b c", "label selector \"a=b c\": found 'c' at column 5, expected ',' or end of string");
    parse_err(",a", "label selector \",a\": found ',' at column 1, expected a label key");
    parse_err("a=(b)", "label selector \"a=(b)\": found '(' at column 3, expected a value");
    parse_err("a in (x", "label selector \"a in (x\": found end of string, expected ',', ')' or a value");
    parse_err("a in (x y)", "label selector \"a in (x y)\": found 'y' at column 9, expected ',' or ')'");
    parse_err("!a=b", "label selector \"!a=b\": found '=' at column 3, expected ',' or end of string");
    parse_err("a b", "label selector \"a b\": found 'b' at column 3, expected one of 'in', 'notin', "
                     "'=', '==', '!=', ',' or end of string");
    parse_err("a>1", "label selector \"a>1\": operator '>' at column 2 is not supported by the twin");
    parse_err("-a=b", "label selector \"-a=b\": invalid label key \"-a\" at column 1: name part must "
                      "consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                      "with an alphanumeric character");
    parse_err("a=b-", "label selector \"a=b-\": invalid label value \"b-\" at column 3: must be empty or "
                      "consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                      "with an alphanumeric character");
    parse_err("a in (x,-y)", "label selector \"a in (x,-y)\": invalid label value \"-y\" at column 9: "
                             "must be empty or consist of alphanumeric characters, '-', '_' or '.', "
                             "and must start and end with an alphanumeric character");
    parse_err("Example.com/a", "label selector \"Example.com/a\": invalid label key \"Example.com/a\" at "
                               "column 1: prefix part must be a lowercase RFC 1123 subdomain (e.g. "
                               "'example.com')");
    parse_err("a/b/c", "label selector \"a/b/c\": invalid label key \"a/b/c\" at column 1: a qualified "
                       "name may contain at most one '/'");
    parse_err("/a", "label selector \"/a\": invalid label key \"/a\" at column 1: prefix part must be "
                    "non-empty");
    parse_err("a/", "label selector \"a/\": invalid label key \"a/\" at column 1: name part must be "
                    "non-empty");

    char s[128], want[512];
    memset(s, 'k', 64);
    strcpy(s + 64, "=v");
    snprintf(want, sizeof want, "label selector \"%s\": invalid label key \"%.64s\" at column 1: name "
             "part must be no more than 63 characters", s, s);
    parse_err(s, want);
    strcpy(s, "k=");
    memset(s + 2, 'v', 64);
    s[66] = '\0';
    snprintf(want, sizeof want, "label selector \"%s\": invalid label value \"%s\" at column 3: must be "
             "no more than 63 characters", s, s + 2);
    parse_err(s, want);

    /* a 63-character name and value are fine */
    memset(s, 'k', 63);
    s[63] = '=';
    memset(s + 64, 'v', 63);
    s[127] = '\0';
    twin_selector_free(parse_ok(s));

    /* a NULL error buffer is allowed */
    twin_selector *sel = NULL;
    assert_int_equal(twin_selector_parse(&sel, "a in", NULL, 0), -1);
}

static void test_equality(void **state)
{
    (void)state;
    const char *k = NULL, *v = NULL;
    twin_selector *sel = parse_ok("x notin (a),b in (c)");
    assert_int_equal(twin_selector_equality(sel, &k, &v), 1);
    assert_string_equal(k, "b");
    assert_string_equal(v, "c");
    twin_selector_free(sel);

    sel = parse_ok("z==1,y=2");   /* sorted: y first */
    assert_int_equal(twin_selector_equality(sel, &k, &v), 1);
    assert_string_equal(k, "y");
    assert_string_equal(v, "2");
    twin_selector_free(sel);

    sel = parse_ok("a in (x,y),b!=c,d");
    assert_int_equal(twin_selector_equality(sel, &k, &v), 0);
    twin_selector_free(sel);

    sel = parse_ok("");
    assert_int_equal(twin_selector_equality(sel, &k, &v), 0);
    twin_selector_free(sel);
    assert_int_equal(twin_selector_equality(NULL, &k, &v), 0);
}

static twin_selector *from_json_ok(const char *text)
{
    char err[256] = "";
    json_t *j = text ? js(text) : NULL;
    twin_selector *sel = NULL;
    if (twin_selector_from_json(&sel, j, err, sizeof err) != 0)
        fail_msg("%s: %s", text, err);
    json_decref(j);
    return sel;
}

static void from_json_err(const char *text, const char *want)
{
    char err[512] = "";
    json_t *j = js(text);
    twin_selector *sel = NULL;
    assert_int_equal(twin_selector_from_json(&sel, j, err, sizeof err), -1);
    assert_null(sel);
    assert_string_equal(err, want);
    json_decref(j);
}

static void test_from_json(void **state)
{
    (void)state;
    twin_selector *sel = from_json_ok(NULL);
    assert_int_equal(twin_selector_matches_nothing(sel), 1);
    assert_int_equal(twin_selector_matches(sel, NULL), 0);
    check_string(sel, "<nothing>");
    twin_selector_free(sel);

    sel = from_json_ok("null");
    assert_int_equal(twin_selector_matches_nothing(sel), 1);
    twin_selector_free(sel);

    const char *everything[] = {"{}", "{\"matchLabels\":{}}",
                                "{\"matchLabels\":null,\"matchExpressions\":[]}"};
    for (size_t i = 0; i < 3; i++) {
        sel = from_json_ok(everything[i]);
        assert_int_equal(twin_selector_matches_everything(sel), 1);
        json_t *l = js("{\"x\":\"y\"}");
        assert_int_equal(twin_selector_matches(sel, l), 1);
        json_decref(l);
        twin_selector_free(sel);
    }

    sel = from_json_ok("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
                       "{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"fe\",\"be\"]},"
                       "{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"dev\"]},"
                       "{\"key\":\"canary\",\"operator\":\"DoesNotExist\"},"
                       "{\"key\":\"team\",\"operator\":\"Exists\",\"values\":null}]}");
    check_string(sel, "app=web,!canary,env notin (dev),team,tier in (be,fe)");
    json_t *l = js("{\"app\":\"web\",\"tier\":\"fe\",\"team\":\"a\"}");
    assert_int_equal(twin_selector_matches(sel, l), 1);
    json_decref(l);
    l = js("{\"app\":\"web\",\"tier\":\"fe\",\"team\":\"a\",\"env\":\"dev\"}");
    assert_int_equal(twin_selector_matches(sel, l), 0);
    json_decref(l);
    const char *k, *v;
    assert_int_equal(twin_selector_equality(sel, &k, &v), 1);
    assert_string_equal(k, "app");
    assert_string_equal(v, "web");
    twin_selector_free(sel);
}

static void test_from_json_errors(void **state)
{
    (void)state;
    from_json_err("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"},"
                  "{\"key\":\"a\",\"operator\":\"Foo\"}]}",
                  "matchExpressions[1].operator: \"Foo\" is not a valid label selector operator "
                  "(In, NotIn, Exists, DoesNotExist)");
    from_json_err("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}",
                  "matchExpressions[0].values: must be non-empty for operator In");
    from_json_err("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\",\"values\":[]}]}",
                  "matchExpressions[0].values: must be non-empty for operator NotIn");
    from_json_err("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
                  "matchExpressions[0].values: must be empty for operator Exists");
    from_json_err("{\"matchExpressions\":[{\"operator\":\"Exists\"}]}",
                  "matchExpressions[0].key: required value");
    from_json_err("{\"matchExpressions\":[{\"key\":\"a\"}]}",
                  "matchExpressions[0].operator: required value");
    from_json_err("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\",1]}]}",
                  "matchExpressions[0].values[1]: must be a string");
    from_json_err("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":\"x\"}]}",
                  "matchExpressions[0].values: must be an array of strings");
    from_json_err("{\"matchExpressions\":[{\"key\":\"a b\",\"operator\":\"Exists\"}]}",
                  "matchExpressions[0].key: invalid label key \"a b\": name part must consist of "
                  "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                  "alphanumeric character");
    from_json_err("{\"matchExpressions\":{}}", "matchExpressions: must be an array");
    from_json_err("{\"matchExpressions\":[3]}", "matchExpressions[0]: must be an object");
    from_json_err("{\"matchLabels\":[]}", "matchLabels: must be an object");
    from_json_err("{\"matchLabels\":{\"app\":3}}", "matchLabels.app: value must be a string");
    from_json_err("{\"matchLabels\":{\"app\":\"we b\"}}",
                  "matchLabels.app: invalid label value \"we b\": must be empty or consist of "
                  "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                  "alphanumeric character");
    from_json_err("{\"matchLabels\":{\"_app\":\"x\"}}",
                  "matchLabels: invalid label key \"_app\": name part must consist of alphanumeric "
                  "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                  "character");
    from_json_err("\"app=web\"", "label selector: must be an object");
}

static void test_from_map(void **state)
{
    (void)state;
    twin_selector *sel = NULL;
    assert_int_equal(twin_selector_from_map(&sel, NULL), 0);
    assert_int_equal(twin_selector_matches_nothing(sel), 1);
    twin_selector_free(sel);

    json_t *m = js("{}");
    assert_int_equal(twin_selector_from_map(&sel, m), 0);   /* a Service without selector */
    assert_int_equal(twin_selector_matches_nothing(sel), 1);
    json_t *l = js("{\"app\":\"web\"}");
    assert_int_equal(twin_selector_matches(sel, l), 0);
    twin_selector_free(sel);
    json_decref(m);

    assert_int_equal(twin_selector_from_map(&sel, json_null()), 0);
    assert_int_equal(twin_selector_matches_nothing(sel), 1);
    twin_selector_free(sel);

    m = js("{\"app\":\"web\",\"tier\":\"fe\"}");
    assert_int_equal(twin_selector_from_map(&sel, m), 0);
    check_string(sel, "app=web,tier=fe");
    assert_int_equal(twin_selector_matches(sel, l), 0);
    json_t *l2 = js("{\"app\":\"web\",\"tier\":\"fe\",\"x\":\"y\"}");
    assert_int_equal(twin_selector_matches(sel, l2), 1);
    json_decref(l2);
    twin_selector_free(sel);
    json_decref(m);
    json_decref(l);

    sel = (twin_selector *)(uintptr_t)1;
    m = js("{\"app\":1}");
    assert_int_equal(twin_selector_from_map(&sel, m), -1);
    json_decref(m);
    m = js("[\"app\"]");
    assert_int_equal(twin_selector_from_map(&sel, m), -1);
    json_decref(m);
    assert_ptr_equal(sel, (twin_selector *)(uintptr_t)1);
}

static void test_null_selector(void **state)
{
    (void)state;
    assert_int_equal(twin_selector_matches(NULL, NULL), 0);
    assert_int_equal(twin_selector_matches_nothing(NULL), 1);
    assert_int_equal(twin_selector_matches_everything(NULL), 0);
    check_string(NULL, "<nothing>");
    twin_selector_free(NULL);
}

/* ---- field selectors ---- */

static const char *pod_json =
    "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
    "\"annotations\":{\"note\":\"a,b=c\\\\d\"}},"
    "\"spec\":{\"nodeName\":\"node-a\",\"replicas\":3,\"unschedulable\":true,\"x\":null},"
    "\"status\":{\"phase\":\"Running\"}}";

static int fs_matches(const char *text, const char *obj)
{
    char err[256] = "";
    twin_fieldsel *fs = NULL;
    if (twin_fieldsel_parse(&fs, text, err, sizeof err) != 0)
        fail_msg("\"%s\": %s", text, err);
    json_t *o = obj ? js(obj) : NULL;
    int m = twin_fieldsel_matches(fs, o);
    json_decref(o);
    twin_fieldsel_free(fs);
    return m;
}

static void fs_err(const char *text, const char *want)
{
    char err[256] = "";
    twin_fieldsel *fs = (twin_fieldsel *)(uintptr_t)1;
    assert_int_equal(twin_fieldsel_parse(&fs, text, err, sizeof err), -1);
    assert_ptr_equal(fs, (twin_fieldsel *)(uintptr_t)1);
    assert_string_equal(err, want);
}

static void test_fieldsel_match(void **state)
{
    (void)state;
    assert_int_equal(fs_matches("metadata.name=web-1,spec.nodeName!=y,status.phase=Running", pod_json), 1);
    assert_int_equal(fs_matches("metadata.name==web-1", pod_json), 1);
    assert_int_equal(fs_matches("metadata.name=web-2", pod_json), 0);
    assert_int_equal(fs_matches("metadata.name!=web-1", pod_json), 0);
    assert_int_equal(fs_matches("metadata.namespace=default,status.phase!=Running", pod_json), 0);
    /* missing fields and null compare as "" */
    assert_int_equal(fs_matches("spec.hostname=", pod_json), 1);
    assert_int_equal(fs_matches("spec.x=", pod_json), 1);
    assert_int_equal(fs_matches("spec.nodeName=", "{\"spec\":{}}"), 1);
    assert_int_equal(fs_matches("spec.nodeName!=", pod_json), 1);
    assert_int_equal(fs_matches("metadata.name.deeper=", pod_json), 1);
    assert_int_equal(fs_matches("metadata.name=", NULL), 1);
    /* scalars by their JSON text; objects equal nothing */
    assert_int_equal(fs_matches("spec.replicas=3", pod_json), 1);
    assert_int_equal(fs_matches("spec.unschedulable=true", pod_json), 1);
    assert_int_equal(fs_matches("metadata=x", pod_json), 0);
    assert_int_equal(fs_matches("metadata!=x", pod_json), 1);
    /* escapes */
    assert_int_equal(fs_matches("metadata.annotations.note=a\\,b\\=c\\\\d", pod_json), 1);
    /* empty terms, whitespace */
    assert_int_equal(fs_matches("", pod_json), 1);
    assert_int_equal(fs_matches(" , ,", pod_json), 1);
    assert_int_equal(fs_matches(" metadata.name = web-1 , status.phase==Running ", pod_json), 1);
    assert_int_equal(twin_fieldsel_matches(NULL, NULL), 0);
    twin_fieldsel_free(NULL);
}

static void test_fieldsel_errors(void **state)
{
    (void)state;
    fs_err("metadata.name=x,spec.nodeName",
           "field selector \"metadata.name=x,spec.nodeName\": can't understand \"spec.nodeName\" "
           "(expected field=value, field==value or field!=value)");
    fs_err("=x", "field selector \"=x\": bad field path \"\" in \"=x\"");
    fs_err("a..b=x", "field selector \"a..b=x\": bad field path \"a..b\" in \"a..b=x\"");
    fs_err("a.=x", "field selector \"a.=x\": bad field path \"a.\" in \"a.=x\"");
    fs_err("a=b=c", "field selector \"a=b=c\": value of a: unescaped '=' or ',' in the value "
                    "(escape it with '\\')");
    fs_err("a=b\\", "field selector \"a=b\\\": value of a: invalid escape sequence (only \\\\, \\, "
                    "and \\= are allowed)");
    fs_err("a=\\q", "field selector \"a=\\q\": value of a: invalid escape sequence (only \\\\, \\, "
                    "and \\= are allowed)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_semantics),
        cmocka_unit_test(test_canonical_string),
        cmocka_unit_test(test_everything),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_equality),
        cmocka_unit_test(test_from_json),
        cmocka_unit_test(test_from_json_errors),
        cmocka_unit_test(test_from_map),
        cmocka_unit_test(test_null_selector),
        cmocka_unit_test(test_fieldsel_match),
        cmocka_unit_test(test_fieldsel_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
