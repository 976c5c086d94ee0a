/* Tests for twin/yaml.c: YAML manifests to JSON, typed as kubectl (sigs.k8s.io/yaml, go-yaml v2) does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml.h"

/* Parses yaml and compares with the JSON text `want` (exact: integer 1 != real 1.0). */
static void check_yaml(const char *yaml, const char *want)
{
    char err[512] = "";
    json_t *got = NULL;
    if (twin_yaml_parse(&got, yaml, strlen(yaml), "t.yaml", err, sizeof err) != 0)
        fail_msg("rejected:\n%s\nerror: %s", yaml, err);
    json_error_t je;
    json_t *exp = json_loads(want, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!exp)
        fail_msg("bad expected JSON %s: %s", want, je.text);
    if (!json_equal(got, exp)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        char msg[4096];
        snprintf(msg, sizeof msg, "yaml:\n%s\ngot:  %s\nwant: %s", yaml, g, want);
        free(g);
        json_decref(got);
        json_decref(exp);
        fail_msg("%s", msg);
    }
    json_decref(got);
    json_decref(exp);
}

/* The value of key v in "v: <scalar>", compared with JSON text. */
static void check_scalar(const char *scalar, const char *want)
{
    char yaml[256], doc[256];
    snprintf(yaml, sizeof yaml, "v: %s\n", scalar);
    snprintf(doc, sizeof doc, "[{\"v\": %s}]", want);
    check_yaml(yaml, doc);
}

static void check_err(const char *yaml, const char *want)
{
    char err[512] = "";
    json_t *got = (json_t *)(uintptr_t)1;
    assert_int_equal(twin_yaml_parse(&got, yaml, strlen(yaml), "t.yaml", err, sizeof err), -1);
    assert_ptr_equal(got, (json_t *)(uintptr_t)1);   /* untouched on error */
    assert_string_equal(err, want);
}

static void test_multi_document(void **state)
{
    (void)state;
    check_yaml("# a comment before anything\n"
               "---\n"
               "apiVersion: v1   # trailing comment\n"
               "kind: ConfigMap\n"
               "metadata: {name: one}\n"
               "---\n"
               "---\n"
               "# only a comment\n"
               "---\n"
               "null\n"
               "---\n"
               "~\n"
               "...\n"
               "---\n"
               "kind: Secret\n"
               "...\n",
               "[{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"one\"}},"
               " {\"kind\": \"Secret\"}]");
    check_yaml("a: 1\n", "[{\"a\": 1}]");   /* no --- at all */
    check_yaml("", "[]");
    check_yaml("# nothing\n", "[]");
    check_yaml("---\n", "[]");
    check_yaml("a:\n  b:\n    - c: 1\n      d: [x, {e: f}]\n",
               "[{\"a\": {\"b\": [{\"c\": 1, \"d\": [\"x\", {\"e\": \"f\"}]}]}}]");

    /* NULL buffer with length 0, NULL name and error buffer */
    json_t *out = NULL;
    assert_int_equal(twin_yaml_parse(&out, NULL, 0, NULL, NULL, 0), 0);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
    /* not NUL-terminated: only len bytes are read */
    assert_int_equal(twin_yaml_parse(&out, "a: 1\nb: 2\n", 5, "x", NULL, 0), 0);
    char *s = json_dumps(out, JSON_COMPACT);
    assert_string_equal(s, "[{\"a\":1}]");
    free(s);
    json_decref(out);
}

static void test_null_and_bool(void **state)
{
    (void)state;
    const char *nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        check_scalar(nulls[i], "null");
    const char *trues[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
    for (size_t i = 0; i < sizeof trues / sizeof trues[0]; i++)
        check_scalar(trues[i], "true");
    const char *falses[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};
    for (size_t i = 0; i < sizeof falses / sizeof falses[0]; i++)
        check_scalar(falses[i], "false");
    /* other spellings are strings */
    check_scalar("tRUE", "\"tRUE\"");
    check_scalar("nULL", "\"nULL\"");
    check_scalar("yES", "\"yES\"");
    check_scalar("none", "\"none\"");
}

static void test_numbers(void **state)
{
    (void)state;
    check_scalar("0", "0");
    check_scalar("42", "42");
    check_scalar("-17", "-17");
    check_scalar("+5", "5");
    check_scalar("1_000_000", "1000000");
    check_scalar("0x1F", "31");
    check_scalar("0XfF", "255");
    check_scalar("-0x10", "-16");
    check_scalar("0o17", "15");
    check_scalar("0755", "493");
    check_scalar("0b101", "5");
    check_scalar("9223372036854775807", "9223372036854775807");
    check_scalar("-9223372036854775808", "-9223372036854775808");
    /* beyond int64: real */
    check_scalar("9223372036854775808", "9223372036854775808.0");
    check_scalar("18446744073709551615", "18446744073709551615.0");
    check_scalar("-9223372036854775809", "-9223372036854775809.0");
    check_scalar("123456789012345678901234567890", "1.2345678901234568e29");
    /* reals */
    check_scalar("1.5", "1.5");
    check_scalar("-0.25", "-0.25");
    check_scalar("1e3", "1000.0");
    check_scalar("1E-2", "0.01");
    check_scalar("+1.5e+2", "150.0");
    check_scalar(".5", "0.5");
    check_scalar("-.5", "-0.5");
    check_scalar("1.", "1.0");
    check_scalar("1_000.5", "1000.5");
    check_scalar("08", "8.0");   /* not octal, so go-yaml takes it as a float */
    /* not numbers */
    check_scalar("1e400", "\"1e400\"");   /* overflows: go-yaml keeps the text */
    check_scalar("0x", "\"0x\"");
    check_scalar("0xG", "\"0xG\"");
    check_scalar("1.2.3", "\"1.2.3\"");
    check_scalar("10.0.0.1", "\"10.0.0.1\"");
    check_scalar("1.5e", "\"1.5e\"");
    check_scalar("12:30", "\"12:30\"");
    check_scalar("1Gi", "\"1Gi\"");
    check_scalar("-x", "\"-x\"");
    check_scalar(".", "\".\"");
    check_scalar("+x", "\"+x\"");
    check_scalar("2001-12-14", "\"2001-12-14\"");
    check_scalar("2001-12-14T21:59:43.10Z", "\"2001-12-14T21:59:43.10Z\"");
}

static void test_strings(void **state)
{
    (void)state;
    check_scalar("hello world", "\"hello world\"");
    check_scalar("\"true\"", "\"true\"");
    check_scalar("'123'", "\"123\"");
    check_scalar("\"\"", "\"\"");
    check_scalar("''", "\"\"");
    check_scalar("\"null\"", "\"null\"");
    check_scalar("'it''s'", "\"it's\"");
    check_scalar("\"tab\\there\"", "\"tab\\there\"");
    check_scalar("\"\\u00e9\"", "\"\\u00e9\"");
    check_scalar("\"a\\0b\"", "\"a\\u0000b\"");
    check_scalar("<<", "\"<<\"");
    check_scalar("nginx:1.25", "\"nginx:1.25\"");
    check_scalar("http://x/y", "\"http://x/y\"");
}

static void test_block_scalars(void **state)
{
    (void)state;
    check_yaml("lit: |\n  line1\n   line2\n\n  line3\nnext: 1\n",
               "[{\"lit\": \"line1\\n line2\\n\\nline3\\n\", \"next\": 1}]");
    check_yaml("fold: >\n  a\n  b\n\n  c\n", "[{\"fold\": \"a b\\nc\\n\"}]");
    check_yaml("strip: |-\n  x\n\nkeep: |+\n  y\n\nnum: |\n  123\n",
               "[{\"strip\": \"x\", \"keep\": \"y\\n\\n\", \"num\": \"123\\n\"}]");
    check_yaml("f: >-\n  true\n", "[{\"f\": \"true\"}]");
}

static void test_tags(void **state)
{
    (void)state;
    check_scalar("!!str 12", "\"12\"");
    check_scalar("!!str true", "\"true\"");
    check_scalar("!!int \"12\"", "12");
    check_scalar("!!int 0x10", "16");
    check_scalar("!!float 3", "3.0");
    check_scalar("!!float \"1.5\"", "1.5");
    check_scalar("!!bool \"yes\"", "true");
    check_scalar("!!null \"\"", "null");
    check_scalar("!!null ~", "null");
    check_scalar("!!timestamp 2001-01-01", "\"2001-01-01\"");
    check_scalar("!custom 12", "\"12\"");
    check_scalar("! 12", "\"12\"");
    check_yaml("%TAG !k! tag:yaml.org,2002:\n---\na: !k!int \"5\"\n", "[{\"a\": 5}]");
    check_yaml("a: !!map {b: 1}\nc: !!seq [1]\n", "[{\"a\": {\"b\": 1}, \"c\": [1]}]");

    check_err("a: !!int abc\n", "t.yaml:1:4: cannot decode !!str `abc` as a !!int");
    check_err("a: !!int 1.5\n", "t.yaml:1:4: cannot decode !!float `1.5` as a !!int");
    check_err("a: !!bool 1\n", "t.yaml:1:4: cannot decode !!int `1` as a !!bool");
    check_err("a: !!null x\n", "t.yaml:1:4: cannot decode !!str `x` as a !!null");
    check_err("a: !!binary aGk=\n", "t.yaml:1:4: !!binary scalars are not supported");
}

static void test_non_finite(void **state)
{
    (void)state;
    check_err("a: 1\nb: .inf\n", "t.yaml:2:4: .inf: infinity and NaN cannot be represented in JSON");
    check_err("a:\n  - -.Inf\n", "t.yaml:2:5: -.Inf: infinity and NaN cannot be represented in JSON");
    check_err("a: .nan\n", "t.yaml:1:4: .nan: infinity and NaN cannot be represented in JSON");
    check_err("a: !!float .NaN\n", "t.yaml:1:4: .NaN: infinity and NaN cannot be represented in JSON");
    check_scalar("\".inf\"", "\".inf\"");
    check_scalar(".infinity", "\".infinity\"");
}

static void test_keys(void **state)
{
    (void)state;
    check_yaml("1: a\n-2: b\n0x10: c\n1.50: d\n1e6: e\n123456.7: f\n0.0001: g\n1e-5: h\n100.0: i\n"
               "false: j\non: k\n.inf: l\n\"x y\": m\n'3': nn\n",
               "[{\"1\": \"a\", \"-2\": \"b\", \"16\": \"c\", \"1.5\": \"d\", \"1e+06\": \"e\","
               " \"123456.7\": \"f\", \"0.0001\": \"g\", \"1e-05\": \"h\", \"100\": \"i\","
               " \"false\": \"j\", \"true\": \"k\", \".inf\": \"l\", \"x y\": \"m\", \"3\": \"nn\"}]");
    /* `y`, `n`, `on`, `off` are booleans in keys too (the YAML 1.1 gotcha, as kubectl has it) */
    check_yaml("y: 1\nn: 2\n", "[{\"true\": 1, \"false\": 2}]");
    check_yaml("a: &k key\n*k : v\n", "[{\"a\": \"key\", \"key\": \"v\"}]");
    check_yaml("? &k 7\n: *k\n", "[{\"7\": 7}]");

    check_err("~: 1\n", "t.yaml:1:1: mapping key is null");
    check_err("a: 1\n? [x]\n: 2\n", "t.yaml:2:3: mapping key must be a scalar, not a sequence");
    check_err("? {x: 1}\n: 2\n", "t.yaml:1:3: mapping key must be a scalar, not a mapping");
    check_err("a: &m {b: 1}\n*m : 2\n", "t.yaml:2:1: mapping key must be a scalar, not a mapping");
    check_err("18446744073709551615: x\n",
              "t.yaml:1:1: mapping key 18446744073709551615 is an integer beyond int64");
    check_err("\"a\\0b\": 1\n", "t.yaml:1:1: mapping key contains a NUL character");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    check_err("metadata:\n  name: a\n  labels: {}\n  name: b\n", "t.yaml:4:3: duplicate key \"name\"");
    check_err("a: 1\n\"a\": 2\n", "t.yaml:2:1: duplicate key \"a\"");
    check_err("1: x\n\"1\": y\n", "t.yaml:2:1: duplicate key \"1\"");
    check_err("{a: 1, b: 2, a: 3}\n", "t.yaml:1:14: duplicate key \"a\"");
    check_err("on: push\ntrue: x\n", "t.yaml:2:1: duplicate key \"true\"");
    /* same key in different mappings or documents is fine */
    check_yaml("a: {x: 1}\nb: {x: 2}\n---\na: 3\n",
               "[{\"a\": {\"x\": 1}, \"b\": {\"x\": 2}}, {\"a\": 3}]");
}

static void test_anchors_aliases(void **state)
{
    (void)state;
    check_yaml("labels: &l {app: web, tier: fe}\n"
               "selector: {matchLabels: *l}\n"
               "ports: &p [80, 443]\n"
               "more: [*p, *p]\n"
               "name: &n web\n"
               "host: *n\n",
               "[{\"labels\": {\"app\": \"web\", \"tier\": \"fe\"},"
               " \"selector\": {\"matchLabels\": {\"app\": \"web\", \"tier\": \"fe\"}},"
               " \"ports\": [80, 443], \"more\": [[80, 443], [80, 443]],"
               " \"name\": \"web\", \"host\": \"web\"}]");
    /* an anchor can be redefined; an alias takes the latest definition */
    check_yaml("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", "[{\"a\": 1, \"b\": 1, \"c\": 2, \"d\": 2}]");
    /* anchors are per document */
    check_err("a: &x 1\n---\nb: *x\n", "t.yaml:3:4: unknown anchor 'x' referenced");
    check_err("a: &a [1, *a]\n", "t.yaml:1:11: anchor 'a' value contains itself");
    check_err("a: &a {b: *a}\n", "t.yaml:1:11: anchor 'a' value contains itself");

    /* each alias is a deep copy: editing one copy leaves the others alone */
    json_t *out;
    const char *y = "a: &a {k: [1]}\nb: *a\nc: *a\n";
    assert_int_equal(twin_yaml_parse(&out, y, strlen(y), "t", NULL, 0), 0);
    json_t *doc = json_array_get(out, 0);
    json_array_append_new(json_object_get(json_object_get(doc, "b"), "k"), json_integer(2));
    json_object_set_new(json_object_get(doc, "c"), "z", json_true());
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "[{\"a\":{\"k\":[1]},\"b\":{\"k\":[1,2]},\"c\":{\"k\":[1],\"z\":true}}]");
    free(s);
    json_decref(out);
}

static void test_merge_keys(void **state)
{
    (void)state;
    check_yaml("base: &base {a: 1, b: 2}\n"
               "over: &over {b: 3, c: 4}\n"
               "one:\n"
               "  <<: *base\n"
               "  b: 20\n"
               "two:\n"
               "  b: 20\n"
               "  <<: *base\n"   /* explicit keys win, whatever their order */
               "three:\n"
               "  <<: [*over, *base]\n"   /* earlier sources win */
               "four:\n"
               "  <<: [*base, {d: 5, a: 0}]\n"
               "  d: 6\n"
               "five:\n"
               "  !!merge <<: *over\n"
               "six:\n"
               "  \"<<\": literal\n",
               "[{\"base\": {\"a\": 1, \"b\": 2}, \"over\": {\"b\": 3, \"c\": 4},"
               " \"one\": {\"a\": 1, \"b\": 20}, \"two\": {\"a\": 1, \"b\": 20},"
               " \"three\": {\"a\": 1, \"b\": 3, \"c\": 4},"
               " \"four\": {\"a\": 1, \"b\": 2, \"d\": 6},"
               " \"five\": {\"b\": 3, \"c\": 4}, \"six\": {\"<<\": \"literal\"}}]");
    /* a merged key is not a duplicate of an explicit one */
    check_yaml("b: &b {x: 1}\nm: {<<: *b, x: 2}\n", "[{\"b\": {\"x\": 1}, \"m\": {\"x\": 2}}]");
    check_err("a: {<<: 1}\n", "t.yaml:1:9: merge key '<<' needs a mapping or a sequence of mappings");
    check_err("a: &s [1]\nb:\n  <<: [*s]\n",
              "t.yaml:3:7: merge key '<<' needs a mapping or a sequence of mappings (item 0 is not "
              "a mapping)");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    check_err("metadata:\n\tname: x\n",
              "t.yaml:2:1: found character that cannot start any token (while scanning for the "
              "next token); YAML indentation must use spaces, not tabs");
    check_err("metadata:\n  name: \"web\n  labels: {}\n",
              "t.yaml:4:1: found unexpected end of stream (while scanning a quoted scalar at 2:9)");
    check_err("a: 'it\n", "t.yaml:2:1: found unexpected end of stream (while scanning a quoted "
                          "scalar at 1:4)");
    check_err("a: [1, 2\n", "t.yaml:2:1: did not find expected ',' or ']' (while parsing a flow "
                            "sequence at 1:4)");
    check_err("a: 1\n  b: 2\n", "t.yaml:2:4: mapping values are not allowed in this context");
    check_err("a: b\n\x01", "t.yaml:2:1: control characters are not allowed (0x01)");
    check_err("a: x\nb: \xff\n", "t.yaml:2:4: invalid leading UTF-8 octet (0xFF)");

    /* the name defaults to <input>; a NULL error buffer is fine */
    char err[128];
    json_t *out = NULL;
    assert_int_equal(twin_yaml_parse(&out, "a: [", 4, NULL, err, sizeof err), -1);
    assert_string_equal(err, "<input>:2:1: did not find expected node content (while parsing a "
                             "flow node)");
    assert_int_equal(twin_yaml_parse(&out, "a: [", 4, NULL, NULL, 0), -1);
    assert_null(out);
    /* a short buffer truncates the message, never overruns it */
    char tiny[8];
    assert_int_equal(twin_yaml_parse(&out, "a: [", 4, "long-name.yaml", tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "long-na");
}

static void test_document_roots(void **state)
{
    (void)state;
    check_err("a: 1\n---\nhello\n", "t.yaml:3:1: document 2 is not a mapping");
    check_err("---\n42\n", "t.yaml:2:1: document 1 is not a mapping");
    check_err("---\n- a\n- b\n", "t.yaml:2:1: document 1 is not a mapping (it is a sequence)");
    check_err("[]\n", "t.yaml:1:1: document 1 is not a mapping (it is a sequence)");
    check_err("\"\"\n", "t.yaml:1:1: document 1 is not a mapping");   /* a quoted "" is a string */
    check_yaml("{}\n", "[{}]");
}

static char *nested(int levels)
{
    /* "a: " + levels flow sequences: the root mapping is level 1 */
    char *s = malloc((size_t)levels * 2 + 8);
    strcpy(s, "a: ");
    size_t n = 3;
    for (int i = 0; i < levels; i++)
        s[n++] = '[';
    for (int i = 0; i < levels; i++)
        s[n++] = ']';
    s[n++] = '\n';
    s[n] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char err[256];
    json_t *out;
    char *ok = nested(199);   /* 200 levels with the root */
    assert_int_equal(twin_yaml_parse(&out, ok, strlen(ok), "t.yaml", err, sizeof err), 0);
    json_decref(out);
    free(ok);

    char *deep = nested(200);
    check_err(deep, "t.yaml:1:203: nesting deeper than 200 levels");
    free(deep);

    /* block mappings count the same */
    size_t cap = 200 * 300, n = 0;
    char *blk = malloc(cap);
    for (int i = 0; i < 201; i++)
        n += (size_t)snprintf(blk + n, cap - n, "%*sk:\n", 2 * i, "");
    check_err(blk, "t.yaml:201:401: nesting deeper than 200 levels");
    free(blk);

    /* and through aliases: 150 + 60 levels */
    char y[1024];
    n = (size_t)snprintf(y, sizeof y, "x: &x ");
    for (int i = 0; i < 150; i++)
        y[n++] = '[';
    for (int i = 0; i < 150; i++)
        y[n++] = ']';
    n += (size_t)snprintf(y + n, sizeof y - n, "\ny: ");
    for (int i = 0; i < 60; i++)
        y[n++] = '[';
    n += (size_t)snprintf(y + n, sizeof y - n, "*x");
    for (int i = 0; i < 60; i++)
        y[n++] = ']';
    y[n++] = '\n';
    y[n] = '\0';
    check_err(y, "t.yaml:2:64: nesting deeper than 200 levels (through alias '*x')");
}

static void test_alias_bomb(void **state)
{
    (void)state;
    check_err("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
              "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
              "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
              "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
              "t.yaml:5:8: alias '*d' exceeds the limit of 10000 nodes copied by aliases in "
              "document 1");

    /* the budget is per document: the same aliases in two documents are fine */
    check_yaml("a: &a [1, 2, 3]\nb: [*a, *a]\n---\na: &a [1, 2, 3]\nb: [*a, *a]\n",
               "[{\"a\": [1, 2, 3], \"b\": [[1, 2, 3], [1, 2, 3]]},"
               " {\"a\": [1, 2, 3], \"b\": [[1, 2, 3], [1, 2, 3]]}]");

    /* few nodes, many bytes: a 100 KB string aliased 50 times */
    size_t big = 100000, cap = big + 512, n = 0;
    char *y = malloc(cap);
    n += (size_t)snprintf(y, cap, "a: &a \"");
    memset(y + n, 'x', big);
    n += big;
    n += (size_t)snprintf(y + n, cap - n, "\"\nb: [");
    for (int i = 0; i < 50; i++)
        n += (size_t)snprintf(y + n, cap - n, "%s*a", i ? "," : "");
    snprintf(y + n, cap - n, "]\n");
    check_err(y, "t.yaml:2:128: alias '*a' exceeds the limit of 4194304 bytes copied by aliases "
                 "in document 1");
    free(y);
}

static void test_kubernetes_manifest(void **state)
{
    (void)state;
    check_yaml("apiVersion: apps/v1\n"
               "kind: Deployment\n"
               "metadata:\n"
               "  name: web\n"
               "  labels: {app: web, version: \"1.0\"}\n"
               "  annotations:\n"
               "    note: |\n"
               "      multi\n"
               "      line\n"
               "spec:\n"
               "  replicas: 3\n"
               "  strategy:\n"
               "    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}\n"
               "  template:\n"
               "    spec:\n"
               "      containers:\n"
               "        - name: web\n"
               "          image: nginx:1.25\n"
               "          ports: [{containerPort: 80}]\n"
               "          resources:\n"
               "            requests: {cpu: 250m, memory: 64Mi}\n"
               "          env:\n"
               "            - {name: DEBUG, value: \"false\"}\n"
               "            - name: EMPTY\n"
               "              value:\n",
               "[{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
               " \"metadata\": {\"name\": \"web\", \"labels\": {\"app\": \"web\", \"version\": \"1.0\"},"
               "  \"annotations\": {\"note\": \"multi\\nline\\n\"}},"
               " \"spec\": {\"replicas\": 3,"
               "  \"strategy\": {\"rollingUpdate\": {\"maxSurge\": \"25%\", \"maxUnavailable\": 0}},"
               "  \"template\": {\"spec\": {\"containers\": [{\"name\": \"web\", \"image\": \"nginx:1.25\","
               "   \"ports\": [{\"containerPort\": 80}],"
               "   \"resources\": {\"requests\": {\"cpu\": \"250m\", \"memory\": \"64Mi\"}},"
               "   \"env\": [{\"name\": \"DEBUG\", \"value\": \"false\"}, {\"name\": \"EMPTY\", \"value\": null}]"
               "  }]}}}}]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_null_and_bool),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_block_scalars),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_anchors_aliases),
        cmocka_unit_test(test_merge_keys),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_document_roots),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_kubernetes_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
