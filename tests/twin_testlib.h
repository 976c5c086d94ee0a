/*
 * twin_testlib.h - what the twin's unit tests share: small clusters written
 * inline, requests, and reads, all through the public API (twin/twin.h).
 *
 * Inline JSON uses single quotes for double quotes ("{'kind':'Pod'}") and
 * printf formats, so a test reads like the manifest it stands for.  Every
 * helper fails the running cmocka test with a message on error; every json_t
 * returned is a new reference the test releases.  Included by one test file
 * each (static inline, so helpers a file does not use cost nothing).
 */
#ifndef TESTS_TWIN_TESTLIB_H
#define TESTS_TWIN_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin.h"

/* 2023-11-14T22:13:20Z: timestamps are fixed so names and times repeat. */
#define TT_CLOCK 1.7e9

/* JSON from a printf format with ' standing for " (new reference). */
static inline json_t *tj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline json_t *tj(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = malloc((size_t)n + 1);
    if (n < 0 || !text)
        fail_msg("out of memory");
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j) {
        print_error("bad test JSON at %d: %s\n%s\n", je.position, je.text, text);
        free(text);
        fail();
    }
    free(text);
    return j;
}

/* A node with the given allocatable cpu (cores) and memory (Gi), priced as
 * an m5.xlarge; extra (may be NULL, stolen) is merged in recursively. */
static inline json_t *tt_node(const char *name, const char *cpu, const char *mem, json_t *extra)
{
    json_t *n = tj("{'apiVersion':'v1','kind':'Node','metadata':{'name':'%s','labels':{'kubernetes.io/hostname':'%s',"
                   "'node.kubernetes.io/instance-type':'m5.xlarge'}},'spec':{},'status':{'allocatable':{'cpu':'%s',"
                   "'memory':'%s','pods':'110'},'capacity':{'cpu':'%s','memory':'%s','pods':'110'},"
                   "'conditions':[{'type':'Ready','status':'True'}],'addresses':[{'type':'InternalIP',"
                   "'address':'192.168.0.%d'}]}}",
                   name, name, cpu, mem, cpu, mem, (int)(strlen(name) * 7 % 250) + 1);
    if (extra) {
        json_object_update_recursive(n, extra);
        json_decref(extra);
    }
    return n;
}

static inline json_t *tt_namespace(const char *name, const char *labels_json)
{
    json_t *ns = tj("{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'%s'}}", name);
    if (labels_json)
        json_object_set_new(json_object_get(ns, "metadata"), "labels", tj("%s", labels_json));
    return ns;
}

/* A Deployment `name` in `ns`: pods labelled app=<name>, one container
 * "app" (image nginx:1.25) asking for cpu 100m and memory 128Mi, with a
 * container port 8080 named "http".  extra (may be NULL, stolen) is merged in. */
static inline json_t *tt_deploy(const char *ns, const char *name, int replicas, json_t *extra)
{
    json_t *d = tj("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'%s','namespace':'%s',"
                   "'labels':{'app':'%s'}},'spec':{'replicas':%d,'selector':{'matchLabels':{'app':'%s'}},"
                   "'template':{'metadata':{'labels':{'app':'%s'}},'spec':{'containers':[{'name':'app',"
                   "'image':'nginx:1.25','ports':[{'name':'http','containerPort':8080}],"
                   "'resources':{'requests':{'cpu':'100m','memory':'128Mi'}}}]}}}}",
                   name, ns, name, replicas, name, name);
    if (extra) {
        json_object_update_recursive(d, extra);
        json_decref(extra);
    }
    return d;
}

/* A ClusterIP Service selecting app=<app>, port 80 -> targetPort 8080. */
static inline json_t *tt_service(const char *ns, const char *name, const char *app)
{
    return tj("{'apiVersion':'v1','kind':'Service','metadata':{'name':'%s','namespace':'%s'},"
              "'spec':{'selector':{'app':'%s'},'ports':[{'name':'web','port':80,'targetPort':8080}]}}",
              name, ns, app);
}

/* Opens an in-memory twin with the fixed clock and fixtures/pricing.json. */
static inline twin *tt_open(void)
{
    twin *t = NULL;
    char err[512] = "";
    if (twin_open(&t, NULL, err, sizeof err) != 0)
        fail_msg("twin_open: %s", err);
    twin_set_clock(t, TT_CLOCK);
    if (twin_load_pricing(t, "fixtures/pricing.json", err, sizeof err) != 0)
        fail_msg("pricing: %s", err);
    return t;
}

/* Imports docs (an array of objects, stolen). */
static inline void tt_import(twin *t, json_t *docs)
{
    char err[1024] = "";
    if (twin_import_docs(t, docs, "test", err, sizeof err) != 0)
        fail_msg("import: %s", err);
    json_decref(docs);
}

/* A twin holding docs (stolen). */
static inline twin *tt_cluster(json_t *docs)
{
    twin *t = tt_open();
    tt_import(t, docs);
    return t;
}

/* Applies a request; the twin is then in an operation. */
static inline twin_result tt_apply(twin *t, twin_request req)
{
    twin_result res;
    char err[1024] = "";
    if (twin_apply(t, &req, &res, err, sizeof err) != 0)
        fail_msg("twin_apply: %s", err);
    assert_true(twin_in_operation(t));
    return res;
}

/* Applies, checks the status code, commits. */
static inline void tt_do(twin *t, twin_request req, int code)
{
    twin_result res = tt_apply(t, req);
    if (res.code != code) {
        char *s = json_dumps(res.object, JSON_COMPACT);
        print_error("%s\n", s ? s : "(null)");
        free(s);
    }
    assert_int_equal(res.code, code);
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
}

static inline twin_request tt_create(json_t *body)
{
    return (twin_request){.verb = TWIN_CREATE, .kind = json_string_value(json_object_get(body, "kind")),
                          .ns = json_string_value(json_object_get(json_object_get(body, "metadata"), "namespace")),
                          .body = body};
}

static inline twin_request tt_merge(const char *kind, const char *ns, const char *name, const json_t *patch)
{
    return (twin_request){.verb = TWIN_PATCH, .kind = kind, .ns = ns, .name = name, .body = patch,
                          .patch_type = TWIN_PATCH_MERGE};
}

static inline twin_request tt_delete(const char *kind, const char *ns, const char *name, const char *propagation)
{
    return (twin_request){.verb = TWIN_DELETE, .kind = kind, .ns = ns, .name = name, .propagation = propagation};
}

/* Objects of kind in ns (NULL: all) matching a label selector (may be NULL). */
static inline json_t *tt_list(twin *t, twin_when when, const char *kind, const char *ns, const char *sel)
{
    char err[512] = "";
    json_t *l = twin_list(t, when, kind, ns, sel, NULL, err, sizeof err);
    if (!l)
        fail_msg("twin_list %s %s: %s", kind, sel ? sel : "", err);
    return l;
}

static inline size_t tt_count(twin *t, twin_when when, const char *kind, const char *ns, const char *sel)
{
    json_t *l = tt_list(t, when, kind, ns, sel);
    size_t n = json_array_size(l);
    json_decref(l);
    return n;
}

/* The object, which must exist. */
static inline json_t *tt_get(twin *t, twin_when when, const char *kind, const char *ns, const char *name)
{
    json_t *o = twin_get(t, when, kind, ns, name);
    if (!o)
        fail_msg("%s %s/%s not found", kind, ns ? ns : "", name);
    return o;
}

/* A dotted path into obj (borrowed); NULL when absent. */
static inline json_t *tt_path(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    char key[256];
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(key)) : json_object_get(cur, key);
        path += n + (dot != NULL);
    }
    return (json_t *)cur;
}

static inline long tt_int(const json_t *obj, const char *path)
{
    json_t *v = tt_path(obj, path);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return (long)json_integer_value(v);
}

static inline const char *tt_str(const json_t *obj, const char *path)
{
    return json_string_value(tt_path(obj, path));
}

static inline double tt_num(const json_t *obj, const char *path)
{
    json_t *v = tt_path(obj, path);
    if (!json_is_number(v))
        fail_msg("%s is not a number", path);
    return json_number_value(v);
}

/* An integer field of one object, read through twin_get. */
static inline long tt_field(twin *t, twin_when when, const char *kind, const char *ns, const char *name,
                            const char *path)
{
    json_t *o = tt_get(t, when, kind, ns, name);
    long v = tt_int(o, path);
    json_decref(o);
    return v;
}

/* Pods that are Running with condition Ready=True. */
static inline size_t tt_ready(const json_t *pods)
{
    size_t n = 0, i, k;
    json_t *p, *c;
    json_array_foreach(pods, i, p) {
        const char *phase = tt_str(p, "status.phase");
        if (!phase || strcmp(phase, "Running"))
            continue;
        json_array_foreach(tt_path(p, "status.conditions"), k, c) {
            if (!strcmp(tt_str(c, "type") ?: "", "Ready") && !strcmp(tt_str(c, "status") ?: "", "True"))
                n++;
        }
    }
    return n;
}

/* The ReplicaSets of Deployment `name`, oldest first (by revision). */
static inline json_t *tt_replicasets(twin *t, twin_when when, const char *ns, const char *name)
{
    char sel[256];
    snprintf(sel, sizeof sel, "app=%s", name);
    json_t *all = tt_list(t, when, "ReplicaSet", ns, sel);
    json_t *out = json_array();
    for (long rev = 1; rev < 100 && json_array_size(out) < json_array_size(all); rev++) {
        size_t i;
        json_t *rs;
        json_array_foreach(all, i, rs) {
            const char *r = json_string_value(
                json_object_get(tt_path(rs, "metadata.annotations"), "deployment.kubernetes.io/revision"));
            if (r && atol(r) == rev)
                json_array_append(out, rs);
        }
    }
    json_decref(all);
    return out;
}

/* Does the array hold an object whose string fields equal the given
 * key/value pairs (NULL-terminated)? */
static inline int tt_has(const json_t *arr, ...) __attribute__((sentinel));
static inline int tt_has(const json_t *arr, ...)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        va_list ap;
        va_start(ap, arr);
        int ok = 1;
        const char *k;
        while ((k = va_arg(ap, const char *))) {
            const char *v = va_arg(ap, const char *);
            const char *have = tt_str(o, k);
            if (v ? !have || strcmp(have, v) : have != NULL)
                ok = 0;
        }
        va_end(ap);
        if (ok)
            return 1;
    }
    return 0;
}

/* Prints a JSON value, for a failing test's story. */
static inline void tt_dump(const char *what, const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(1) | JSON_SORT_KEYS);
    print_message("%s: %s\n", what, s ? s : "(null)");
    free(s);
}

#endif
