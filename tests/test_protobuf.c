/* Tests for gate/kube/protobuf.c: kubectl's protobuf bodies to JSON, strictly.
 * Bodies are built with the small encoder below (varint, key,
 * length-delimited), the way gogo's generated Marshal writes them, or are
 * bytes kubectl 1.32.4 sent.  The last case parses and simulates requests
 * with a protobuf body beside their JSON form (gate/kube/k8s.c, the twin on
 * fixtures/demo) and checks they come out the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/kube/k8s.h"
#include "gate/kube/protobuf.h"
#include "twin/twin.h"

/* ---- the encoder ---- */

typedef struct pbuf {
    unsigned char d[4096];
    size_t n;
} pbuf;

static void put_raw(pbuf *b, const void *s, size_t n)
{
    if (b->n + n > sizeof b->d)
        fail_msg("test encoder: message larger than %zu bytes", sizeof b->d);
    memcpy(b->d + b->n, s, n);
    b->n += n;
}

static void put_varint(pbuf *b, uint64_t v)
{
    do {
        unsigned char c = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            c |= 0x80;
        put_raw(b, &c, 1);
    } while (v);
}

static void put_key(pbuf *b, uint32_t num, int wt) { put_varint(b, (uint64_t)num << 3 | (unsigned)wt); }

/* varint field (int32 negatives sign-extended, as gogo writes them) */
static void put_int(pbuf *b, uint32_t num, int64_t v)
{
    put_key(b, num, 0);
    put_varint(b, (uint64_t)v);
}

static void put_bytes(pbuf *b, uint32_t num, const void *s, size_t n)
{
    put_key(b, num, 2);
    put_varint(b, n);
    put_raw(b, s, n);
}

static void put_str(pbuf *b, uint32_t num, const char *s) { put_bytes(b, num, s, strlen(s)); }
static void put_msg(pbuf *b, uint32_t num, const pbuf *m) { put_bytes(b, num, m->d, m->n); }

/* a map<string,string> entry */
static void put_map(pbuf *b, uint32_t num, const char *k, const char *v)
{
    pbuf e = {0};
    put_str(&e, 1, k);
    put_str(&e, 2, v);
    put_msg(b, num, &e);
}

/* "k8s\0" + runtime.Unknown{typeMeta{apiVersion, kind}, raw, contentEncoding, contentType} */
static void envelope_with(pbuf *out, const char *api_version, const char *kind, const pbuf *raw, const char *encoding,
                          const char *type)
{
    pbuf tm = {0};
    put_str(&tm, 1, api_version);
    put_str(&tm, 2, kind);
    out->n = 0;
    put_raw(out, "k8s\0", 4);
    put_msg(out, 1, &tm);
    put_msg(out, 2, raw);
    put_str(out, 3, encoding);
    put_str(out, 4, type);
}

/* as client-go writes it: contentEncoding and contentType empty */
static void envelope(pbuf *out, const char *api_version, const char *kind, const pbuf *raw)
{
    envelope_with(out, api_version, kind, raw, "", "");
}

/* ObjectMeta as gogo writes it for a new object: every non-pointer string
 * and int, an empty creationTimestamp, then labels */
static void put_meta(pbuf *b, uint32_t num, const char *name, const char *app)
{
    pbuf m = {0}, ts = {0};
    put_str(&m, 1, name);
    for (uint32_t f = 2; f <= 6; f++)
        put_str(&m, f, "");
    put_int(&m, 7, 0);
    put_msg(&m, 8, &ts);
    if (app)
        put_map(&m, 11, "app", app);
    put_msg(b, num, &m);
}

/* ---- decoding ---- */

/* Decodes a copy of exactly n bytes (the sanitizers see any read past it). */
static int decode(const unsigned char *d, size_t n, json_t **out, char *err, size_t errlen)
{
    unsigned char *copy = malloc(n ? n : 1);
    memcpy(copy, d, n);
    int rc = gate_protobuf_decode(copy, n, out, err, errlen);
    free(copy);
    return rc;
}

static json_t *decode_ok(const pbuf *b)
{
    json_t *out = NULL;
    char err[512] = "";
    if (decode(b->d, b->n, &out, err, sizeof err) != 0)
        fail_msg("refused: %s", err);
    if (!json_is_object(out))
        fail_msg("no object");
    return out;
}

/* Refused, with an error holding each of the NULL-terminated strings, and
 * out left as it was. */
static void decode_bad(const unsigned char *d, size_t n, ...)
{
    json_t *sentinel = json_string("sentinel"), *out = sentinel;
    char err[512] = "";
    if (decode(d, n, &out, err, sizeof err) != -1) {
        char *s = json_dumps(out, JSON_COMPACT);
        fail_msg("accepted as %s", s ? s : "?");
    }
    if (out != sentinel)
        fail_msg("out written on error");
    json_decref(sentinel);
    va_list ap;
    va_start(ap, n);
    for (const char *want; (want = va_arg(ap, const char *));)
        if (!strstr(err, want))
            fail_msg("error \"%s\" does not say \"%s\"", err, want);
    va_end(ap);
}

/* obj at a dotted path ("spec.template.spec.hostNetwork"; a number picks an
 * array element). Borrowed, NULL when absent. */
static json_t *at(json_t *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *j = obj;
    for (char *save = NULL, *p = strtok_r(buf, ".", &save); p && j; p = strtok_r(NULL, ".", &save))
        j = json_is_array(j) ? json_array_get(j, strtoul(p, NULL, 10)) : json_object_get(j, p);
    return j;
}

static void check_json(json_t *got, const char *path, const char *want)
{
    json_error_t je;
    json_t *exp = json_loads(want, JSON_DECODE_ANY, &je);
    if (!exp)
        fail_msg("bad expected JSON %s: %s", want, je.text);
    json_t *j = at(got, path);
    if (!j || !json_equal(j, exp)) {
        char *g = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        char *all = json_dumps(got, JSON_COMPACT);
        char msg[4096];
        snprintf(msg, sizeof msg, "%s: got %s, want %s\nin %s", path, g ? g : "(absent)", want, all);
        free(g);
        free(all);
        json_decref(exp);
        fail_msg("%s", msg);
    }
    json_decref(exp);
}

/* A Deployment whose pod spec is the given bytes (fields of PodSpec). */
static void deployment_with_podspec(pbuf *body, const pbuf *podspec)
{
    pbuf tmpl = {0}, spec = {0}, dep = {0};
    put_msg(&tmpl, 2, podspec);
    put_msg(&spec, 3, &tmpl);
    put_meta(&dep, 1, "web", NULL);
    put_msg(&dep, 2, &spec);
    envelope(body, "apps/v1", "Deployment", &dep);
}

/* ---- the cases ---- */

/* The body the old decoder skipped through: all three now reach the JSON. */
static void test_host_privileges(void **state)
{
    (void)state;
    pbuf sc = {0}, c = {0}, ps = {0}, body = {0};
    put_int(&sc, 2, 1);   /* privileged */
    put_str(&c, 1, "web");
    put_str(&c, 2, "nginx");
    put_msg(&c, 15, &sc);   /* securityContext */
    put_msg(&ps, 2, &c);
    put_int(&ps, 11, 1);   /* hostNetwork */
    put_int(&ps, 12, 1);   /* hostPID */
    deployment_with_podspec(&body, &ps);
    json_t *j = decode_ok(&body);
    check_json(j, "apiVersion", "\"apps/v1\"");
    check_json(j, "kind", "\"Deployment\"");
    check_json(j, "spec.template.spec.hostNetwork", "true");
    check_json(j, "spec.template.spec.hostPID", "true");
    check_json(j, "spec.template.spec.containers.0.securityContext.privileged", "true");
    check_json(j, "spec.template.spec.containers", "[{\"name\":\"web\",\"image\":\"nginx\","
                                                  "\"securityContext\":{\"privileged\":true}}]");
    json_decref(j);
}

static void test_zero_is_kept(void **state)
{
    (void)state;
    pbuf spec = {0}, dep = {0}, body = {0};
    put_int(&spec, 1, 0);    /* replicas: 0 means none */
    put_int(&spec, 7, 0);    /* paused: false */
    put_int(&spec, 6, -1);   /* revisionHistoryLimit: a negative int32, 10 bytes on the wire */
    put_meta(&dep, 1, "web", NULL);
    put_msg(&dep, 2, &spec);
    envelope(&body, "apps/v1", "Deployment", &dep);
    json_t *j = decode_ok(&body);
    check_json(j, "spec", "{\"replicas\": 0, \"paused\": false, \"revisionHistoryLimit\": -1}");
    /* the empty strings of ObjectMeta are left out, its int64 kept, the zero creationTimestamp left out */
    check_json(j, "metadata", "{\"name\": \"web\", \"generation\": 0}");
    json_decref(j);
}

static void test_secret_bytes_base64(void **state)
{
    (void)state;
    pbuf e1 = {0}, e2 = {0}, sec = {0}, body = {0};
    put_str(&e1, 1, "bin");
    put_bytes(&e1, 2, "\x00\x01\xffhi", 5);
    put_str(&e2, 1, "empty");
    put_bytes(&e2, 2, "", 0);
    put_meta(&sec, 1, "s", NULL);
    put_msg(&sec, 2, &e1);
    put_msg(&sec, 2, &e2);
    put_str(&sec, 3, "Opaque");
    put_map(&sec, 4, "plain", "text");
    envelope(&body, "v1", "Secret", &sec);
    json_t *j = decode_ok(&body);
    check_json(j, "data", "{\"bin\": \"AAH/aGk=\", \"empty\": \"\"}");
    check_json(j, "stringData", "{\"plain\": \"text\"}");
    check_json(j, "type", "\"Opaque\"");
    json_decref(j);

    pbuf cm = {0}, e3 = {0};
    put_str(&e3, 1, "k");
    put_bytes(&e3, 2, "ab", 2);
    put_meta(&cm, 1, "c", NULL);
    put_map(&cm, 2, "a", "1");
    put_msg(&cm, 3, &e3);
    put_int(&cm, 4, 1);
    envelope(&body, "v1", "ConfigMap", &cm);
    j = decode_ok(&body);
    check_json(j, "data", "{\"a\": \"1\"}");
    check_json(j, "binaryData", "{\"k\": \"YWI=\"}");
    check_json(j, "immutable", "true");
    json_decref(j);
}

/* ServicePort with targetPort {type, intVal, strVal} as gogo writes it */
static void service_port(pbuf *ports, const char *name, int port, int type, int ival, const char *sval)
{
    pbuf p = {0}, tp = {0};
    put_int(&tp, 1, type);
    put_int(&tp, 2, ival);
    put_str(&tp, 3, sval);
    put_str(&p, 1, name);
    put_str(&p, 2, "TCP");
    put_int(&p, 3, port);
    put_msg(&p, 4, &tp);
    put_int(&p, 5, 0);
    put_msg(ports, 1, &p);
}

static void test_service_target_port(void **state)
{
    (void)state;
    pbuf spec = {0}, svc = {0}, body = {0};
    service_port(&spec, "a", 80, 0, 8080, "");
    service_port(&spec, "b", 443, 1, 0, "https");
    put_map(&spec, 2, "app", "web");
    put_str(&spec, 4, "ClusterIP");
    put_meta(&svc, 1, "web", "web");
    put_msg(&svc, 2, &spec);
    envelope(&body, "v1", "Service", &svc);
    json_t *j = decode_ok(&body);
    check_json(j, "spec.ports", "[{\"name\": \"a\", \"protocol\": \"TCP\", \"port\": 80, \"targetPort\": 8080, \"nodePort\": 0},"
                                " {\"name\": \"b\", \"protocol\": \"TCP\", \"port\": 443, \"targetPort\": \"https\", \"nodePort\": 0}]");
    check_json(j, "spec.selector", "{\"app\": \"web\"}");
    json_decref(j);

    /* IntOrString type 2 is neither */
    pbuf spec2 = {0}, svc2 = {0};
    service_port(&spec2, "a", 80, 2, 8080, "");
    put_msg(&svc2, 2, &spec2);
    envelope(&body, "v1", "Service", &svc2);
    decode_bad(body.d, body.n, "io.k8s.apimachinery.pkg.util.intstr.IntOrString field 1 (type)", "spec.ports[0].targetPort",
               NULL);
}

static void test_labels_map(void **state)
{
    (void)state;
    pbuf m = {0}, ns = {0}, body = {0};
    put_str(&m, 1, "n1");
    put_map(&m, 11, "app", "web");
    put_map(&m, 11, "tier", "");
    put_map(&m, 12, "note", "hello");
    put_str(&m, 14, "");   /* a repeated string keeps its "" */
    put_msg(&ns, 1, &m);
    envelope(&body, "v1", "Namespace", &ns);
    json_t *j = decode_ok(&body);
    check_json(j, "metadata", "{\"name\": \"n1\", \"labels\": {\"app\": \"web\", \"tier\": \"\"},"
                              " \"annotations\": {\"note\": \"hello\"}, \"finalizers\": [\"\"]}");
    json_decref(j);
}

static void test_unknown_field(void **state)
{
    (void)state;
    pbuf dep = {0}, body = {0};
    put_meta(&dep, 1, "web", NULL);
    put_int(&dep, 99, 1);
    envelope(&body, "apps/v1", "Deployment", &dep);
    decode_bad(body.d, body.n, "protobuf: io.k8s.api.apps.v1.Deployment has no field 99", NULL);

    pbuf ps = {0};
    put_int(&ps, 11, 1);
    put_str(&ps, 99, "hidden");
    deployment_with_podspec(&body, &ps);
    decode_bad(body.d, body.n, "protobuf: io.k8s.api.core.v1.PodSpec has no field 99", "at spec.template.spec", NULL);

    /* field 15 of ObjectMeta (clusterName, removed) and a number past the table */
    pbuf m = {0}, ns = {0};
    put_str(&m, 15, "x");
    put_msg(&ns, 1, &m);
    envelope(&body, "v1", "Namespace", &ns);
    decode_bad(body.d, body.n, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta has no field 15", NULL);

    /* inside a map entry */
    pbuf e = {0}, cm = {0};
    put_str(&e, 1, "k");
    put_str(&e, 2, "v");
    put_str(&e, 3, "extra");
    put_msg(&cm, 2, &e);
    envelope(&body, "v1", "ConfigMap", &cm);
    decode_bad(body.d, body.n, "io.k8s.api.core.v1.ConfigMap.data map entry has no field 3", NULL);

    /* in the envelope */
    pbuf raw = {0};
    envelope(&body, "v1", "Namespace", &raw);
    put_str(&body, 5, "x");
    decode_bad(body.d, body.n, "io.k8s.apimachinery.pkg.runtime.Unknown has no field 5", NULL);
}

static void test_wrong_wire_type(void **state)
{
    (void)state;
    pbuf ps = {0}, body = {0};
    put_str(&ps, 11, "\x01");   /* hostNetwork as bytes */
    deployment_with_podspec(&body, &ps);
    decode_bad(body.d, body.n, "io.k8s.api.core.v1.PodSpec field 11 (hostNetwork): wire type 2, want 0", NULL);

    pbuf ps2 = {0};
    put_int(&ps2, 2, 5);   /* containers as a varint */
    deployment_with_podspec(&body, &ps2);
    decode_bad(body.d, body.n, "PodSpec field 2 (containers): wire type 0, want 2", NULL);

    pbuf ps3 = {0};   /* fixed64 and groups */
    put_key(&ps3, 4, 1);
    put_raw(&ps3, "12345678", 8);
    deployment_with_podspec(&body, &ps3);
    decode_bad(body.d, body.n, "PodSpec field 4 (terminationGracePeriodSeconds): wire type 1, want 0", NULL);
    pbuf ps4 = {0};
    put_key(&ps4, 11, 3);
    deployment_with_podspec(&body, &ps4);
    decode_bad(body.d, body.n, "PodSpec field 11 (hostNetwork): wire type 3", NULL);
}

/* The bytes kubectl 1.32.4 sent for `kubectl create deployment web
 * --image=nginx` (captured from its POST). */
static const unsigned char KUBECTL_DEPLOYMENT[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x15, 0x0a, 0x07, 0x61, 0x70, 0x70, 0x73, 0x2f, 0x76, 0x31, 0x12, 0x0a, 0x44, 0x65,
    0x70, 0x6c, 0x6f, 0x79, 0x6d, 0x65, 0x6e, 0x74, 0x12, 0xab, 0x01, 0x0a, 0x1f, 0x0a, 0x03, 0x77, 0x65, 0x62, 0x12,
    0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x5a, 0x0a, 0x0a, 0x03, 0x61, 0x70,
    0x70, 0x12, 0x03, 0x77, 0x65, 0x62, 0x12, 0x7a, 0x08, 0x01, 0x12, 0x0c, 0x0a, 0x0a, 0x0a, 0x03, 0x61, 0x70, 0x70,
    0x12, 0x03, 0x77, 0x65, 0x62, 0x1a, 0x60, 0x0a, 0x1c, 0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00,
    0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x5a, 0x0a, 0x0a, 0x03, 0x61, 0x70, 0x70, 0x12, 0x03, 0x77, 0x65, 0x62, 0x12,
    0x40, 0x12, 0x22, 0x0a, 0x05, 0x6e, 0x67, 0x69, 0x6e, 0x78, 0x12, 0x05, 0x6e, 0x67, 0x69, 0x6e, 0x78, 0x2a, 0x00,
    0x42, 0x00, 0x6a, 0x00, 0x72, 0x00, 0x80, 0x01, 0x00, 0x88, 0x01, 0x00, 0x90, 0x01, 0x00, 0xa2, 0x01, 0x00, 0x1a,
    0x00, 0x32, 0x00, 0x42, 0x00, 0x4a, 0x00, 0x52, 0x00, 0x58, 0x00, 0x60, 0x00, 0x68, 0x00, 0x82, 0x01, 0x00, 0x8a,
    0x01, 0x00, 0x9a, 0x01, 0x00, 0xc2, 0x01, 0x00, 0x22, 0x02, 0x0a, 0x00, 0x28, 0x00, 0x38, 0x00, 0x1a, 0x0c, 0x08,
    0x00, 0x10, 0x00, 0x18, 0x00, 0x20, 0x00, 0x28, 0x00, 0x38, 0x00, 0x1a, 0x00, 0x22, 0x00,
};

/* The same body built field by field as gogo's Marshal writes it: every
 * non-pointer string and scalar, in field order. */
static void kubectl_deployment(pbuf *body)
{
    pbuf sel = {0}, res = {0}, c = {0}, ps = {0}, tmpl = {0}, strat = {0}, spec = {0}, status = {0}, dep = {0};
    put_map(&sel, 1, "app", "web");   /* selector.matchLabels */

    put_str(&c, 1, "nginx");   /* name */
    put_str(&c, 2, "nginx");   /* image */
    put_str(&c, 5, "");        /* workingDir */
    put_msg(&c, 8, &res);      /* resources {} */
    put_str(&c, 13, "");       /* terminationMessagePath */
    put_str(&c, 14, "");       /* imagePullPolicy */
    put_int(&c, 16, 0);        /* stdin */
    put_int(&c, 17, 0);        /* stdinOnce */
    put_int(&c, 18, 0);        /* tty */
    put_str(&c, 20, "");       /* terminationMessagePolicy */

    put_msg(&ps, 2, &c);   /* containers */
    put_str(&ps, 3, "");   /* restartPolicy */
    const uint32_t ps_strings[] = {6, 8, 9, 10};   /* dnsPolicy, serviceAccountName, serviceAccount, nodeName */
    for (size_t i = 0; i < 4; i++)
        put_str(&ps, ps_strings[i], "");
    put_int(&ps, 11, 0);   /* hostNetwork */
    put_int(&ps, 12, 0);   /* hostPID */
    put_int(&ps, 13, 0);   /* hostIPC */
    const uint32_t ps_strings2[] = {16, 17, 19, 24};   /* hostname, subdomain, schedulerName, priorityClassName */
    for (size_t i = 0; i < 4; i++)
        put_str(&ps, ps_strings2[i], "");

    put_meta(&tmpl, 1, "", "web");
    put_msg(&tmpl, 2, &ps);
    put_str(&strat, 1, "");   /* strategy.type */

    put_int(&spec, 1, 1);   /* replicas */
    put_msg(&spec, 2, &sel);
    put_msg(&spec, 3, &tmpl);
    put_msg(&spec, 4, &strat);
    put_int(&spec, 5, 0);   /* minReadySeconds */
    put_int(&spec, 7, 0);   /* paused */

    const uint32_t st[] = {1, 2, 3, 4, 5, 7};   /* observedGeneration, replicas, updated, available, unavailable, ready */
    for (size_t i = 0; i < 6; i++)
        put_int(&status, st[i], 0);

    put_meta(&dep, 1, "web", "web");
    put_msg(&dep, 2, &spec);
    put_msg(&dep, 3, &status);
    envelope(body, "apps/v1", "Deployment", &dep);
}

static void test_kubectl_create_deployment(void **state)
{
    (void)state;
    pbuf body = {0};
    kubectl_deployment(&body);
    if (body.n != sizeof KUBECTL_DEPLOYMENT || memcmp(body.d, KUBECTL_DEPLOYMENT, body.n))
        fail_msg("the encoder does not build what kubectl sent (%zu bytes, want %zu)", body.n, sizeof KUBECTL_DEPLOYMENT);
    json_t *j = decode_ok(&body);
    check_json(j, "", "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
                      " \"metadata\": {\"name\": \"web\", \"generation\": 0, \"labels\": {\"app\": \"web\"}},"
                      " \"spec\": {\"replicas\": 1, \"selector\": {\"matchLabels\": {\"app\": \"web\"}},"
                      "  \"template\": {\"metadata\": {\"generation\": 0, \"labels\": {\"app\": \"web\"}},"
                      "   \"spec\": {\"containers\": [{\"name\": \"nginx\", \"image\": \"nginx\", \"resources\": {},"
                      "     \"stdin\": false, \"stdinOnce\": false, \"tty\": false}],"
                      "    \"hostNetwork\": false, \"hostPID\": false, \"hostIPC\": false}},"
                      "  \"strategy\": {}, \"minReadySeconds\": 0, \"paused\": false},"
                      " \"status\": {\"observedGeneration\": 0, \"replicas\": 0, \"updatedReplicas\": 0,"
                      "  \"availableReplicas\": 0, \"unavailableReplicas\": 0, \"readyReplicas\": 0}}");
    json_decref(j);
}

/* Every prefix of a real body is refused but the two that end between the
 * envelope's trailing fields (contentEncoding and contentType are optional). */
static void test_truncated(void **state)
{
    (void)state;
    size_t n = sizeof KUBECTL_DEPLOYMENT;
    for (size_t i = 0; i < n; i++) {
        json_t *out = NULL;
        char err[512];
        int rc = decode(KUBECTL_DEPLOYMENT, i, &out, err, sizeof err);
        int want = i == n - 4 || i == n - 2 ? 0 : -1;
        if (rc != want)
            fail_msg("%zu of %zu bytes: rc %d, want %d (%s)", i, n, rc, want, rc ? err : "accepted");
        json_decref(out);
    }
    /* a nested length past its message's end */
    pbuf m = {0}, ns = {0}, body = {0};
    put_str(&m, 1, "n1");
    put_msg(&ns, 1, &m);
    ns.d[1] = (unsigned char)(m.n + 1);   /* metadata's length, one too many */
    envelope(&body, "v1", "Namespace", &ns);
    decode_bad(body.d, body.n, "io.k8s.api.core.v1.Namespace field 1 (metadata): malformed length or truncated value", NULL);
    /* a varint of 11 bytes */
    pbuf spec = {0}, dep = {0};
    put_key(&spec, 1, 0);
    put_raw(&spec, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    put_msg(&dep, 2, &spec);
    envelope(&body, "apps/v1", "Deployment", &dep);
    decode_bad(body.d, body.n, "DeploymentSpec field 1 (replicas): malformed or truncated varint", NULL);
}

static void test_duplicates(void **state)
{
    (void)state;
    pbuf m = {0}, ns = {0}, body = {0};
    put_map(&m, 11, "app", "a");
    put_map(&m, 11, "app", "b");
    put_msg(&ns, 1, &m);
    envelope(&body, "v1", "Namespace", &ns);
    decode_bad(body.d, body.n, "ObjectMeta field 11 (labels): map key \"app\" given twice", NULL);

    /* a singular field twice: refused, not merged or overwritten */
    pbuf ps = {0};
    put_int(&ps, 11, 1);
    put_int(&ps, 11, 0);
    deployment_with_podspec(&body, &ps);
    decode_bad(body.d, body.n, "PodSpec field 11 (hostNetwork) given twice", NULL);
    pbuf ns2 = {0}, m1 = {0}, m2 = {0};
    put_str(&m1, 1, "a");
    put_str(&m2, 12, "b");
    put_msg(&ns2, 1, &m1);
    put_msg(&ns2, 1, &m2);
    envelope(&body, "v1", "Namespace", &ns2);
    decode_bad(body.d, body.n, "Namespace field 1 (metadata) given twice", NULL);

    /* a repeated field twice appends */
    pbuf ps2 = {0}, c1 = {0}, c2 = {0};
    put_str(&c1, 1, "a");
    put_str(&c2, 1, "b");
    put_msg(&ps2, 2, &c1);
    put_int(&ps2, 11, 0);
    put_msg(&ps2, 2, &c2);
    deployment_with_podspec(&body, &ps2);
    json_t *j = decode_ok(&body);
    check_json(j, "spec.template.spec.containers", "[{\"name\": \"a\"}, {\"name\": \"b\"}]");
    json_decref(j);
}

static void test_strings_checked(void **state)
{
    (void)state;
    static const char *bad[] = {"a\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pbuf m = {0}, ns = {0}, body = {0};
        put_str(&m, 1, bad[i]);
        put_msg(&ns, 1, &m);
        envelope(&body, "v1", "Namespace", &ns);
        decode_bad(body.d, body.n, "ObjectMeta field 1 (name): not valid UTF-8", NULL);
    }
    pbuf m = {0}, ns = {0}, body = {0};
    put_bytes(&m, 1, "a\0b", 3);
    put_msg(&ns, 1, &m);
    envelope(&body, "v1", "Namespace", &ns);
    decode_bad(body.d, body.n, "ObjectMeta field 1 (name): a NUL byte", NULL);
    /* map keys are checked too */
    pbuf m2 = {0}, ns2 = {0};
    put_map(&m2, 11, "k\xfe", "v");
    put_msg(&ns2, 1, &m2);
    envelope(&body, "v1", "Namespace", &ns2);
    decode_bad(body.d, body.n, "labels map entry field 1 (key): not valid UTF-8", NULL);
    /* and valid multibyte text passes */
    pbuf m3 = {0}, ns3 = {0};
    put_str(&m3, 1, "caf\xc3\xa9-\xf0\x9f\x90\xb3");
    put_msg(&ns3, 1, &m3);
    envelope(&body, "v1", "Namespace", &ns3);
    json_t *j = decode_ok(&body);
    check_json(j, "metadata.name", "\"caf\\u00e9-\\ud83d\\udc33\"");
    json_decref(j);
}

static void test_envelope(void **state)
{
    (void)state;
    pbuf ns = {0}, body = {0};
    put_meta(&ns, 1, "n1", NULL);
    envelope_with(&body, "v1", "Namespace", &ns, "gzip", "");
    decode_bad(body.d, body.n, "io.k8s.apimachinery.pkg.runtime.Unknown field 3 (contentEncoding) is not empty", NULL);
    envelope_with(&body, "v1", "Namespace", &ns, "", "application/json");
    decode_bad(body.d, body.n, "Unknown field 4 (contentType) is not empty", NULL);

    envelope(&body, "v1", "ReplicationController", &ns);
    decode_bad(body.d, body.n, "not v1 ReplicationController", "send JSON", NULL);
    envelope(&body, "apps/v1", "Namespace", &ns);
    decode_bad(body.d, body.n, "not apps/v1 Namespace", NULL);

    decode_bad((const unsigned char *)"k8s", 3, "no k8s envelope", NULL);
    decode_bad((const unsigned char *)"{\"kind\": 1}", 11, "no k8s envelope", NULL);
    decode_bad((const unsigned char *)"k8s\0", 4, "(no apiVersion) (no kind)", NULL);
    /* no raw object */
    pbuf tm = {0};
    put_str(&tm, 1, "v1");
    put_str(&tm, 2, "Namespace");
    body.n = 0;
    put_raw(&body, "k8s\0", 4);
    put_msg(&body, 1, &tm);
    decode_bad(body.d, body.n, "no field 2 (raw)", NULL);
}

static void test_scalar_ranges(void **state)
{
    (void)state;
    pbuf ps = {0}, body = {0};
    put_int(&ps, 11, 2);   /* a bool of 2 */
    deployment_with_podspec(&body, &ps);
    decode_bad(body.d, body.n, "PodSpec field 11 (hostNetwork): bool 2 is neither 0 nor 1", NULL);
    pbuf spec = {0}, dep = {0};
    put_int(&spec, 1, (int64_t)1 << 31);   /* replicas past int32 */
    put_msg(&dep, 2, &spec);
    envelope(&body, "apps/v1", "Deployment", &dep);
    decode_bad(body.d, body.n, "DeploymentSpec field 1 (replicas): 2147483648 is out of int32 range", NULL);
}

/* supplementalGroups (repeated int64) packed and not; a repeated string */
static void test_repeated_scalars(void **state)
{
    (void)state;
    pbuf psc = {0}, packed = {0}, ps = {0}, c = {0}, body = {0};
    put_int(&psc, 4, 1000);
    put_varint(&packed, 2000);
    put_varint(&packed, (uint64_t)-1);
    put_msg(&psc, 4, &packed);
    put_msg(&ps, 14, &psc);   /* securityContext */
    put_str(&c, 1, "a");
    put_str(&c, 3, "sh");   /* command */
    put_str(&c, 3, "-c");
    put_msg(&ps, 2, &c);
    deployment_with_podspec(&body, &ps);
    json_t *j = decode_ok(&body);
    check_json(j, "spec.template.spec.securityContext.supplementalGroups", "[1000, 2000, -1]");
    check_json(j, "spec.template.spec.containers.0.command", "[\"sh\", \"-c\"]");
    json_decref(j);

    pbuf psc2 = {0}, ps2 = {0}, bad = {0};
    put_raw(&bad, "\x80", 1);   /* a packed varint cut short */
    put_msg(&psc2, 4, &bad);
    put_msg(&ps2, 14, &psc2);
    deployment_with_podspec(&body, &ps2);
    decode_bad(body.d, body.n, "PodSecurityContext field 4 (supplementalGroups): malformed packed varint", NULL);
}

/* Quantity maps, Time, FieldsV1 */
static void test_special_types(void **state)
{
    (void)state;
    pbuf q = {0}, e = {0}, res = {0}, c = {0}, ps = {0}, body = {0};
    put_str(&q, 1, "500m");
    put_str(&e, 1, "cpu");
    put_msg(&e, 2, &q);
    put_msg(&res, 1, &e);   /* limits */
    put_str(&c, 1, "a");
    put_msg(&c, 8, &res);
    put_msg(&ps, 2, &c);
    deployment_with_podspec(&body, &ps);
    json_t *j = decode_ok(&body);
    check_json(j, "spec.template.spec.containers.0.resources", "{\"limits\": {\"cpu\": \"500m\"}}");
    json_decref(j);

    pbuf q0 = {0}, e0 = {0}, res0 = {0}, c0 = {0}, ps0 = {0};
    put_str(&e0, 1, "cpu");
    put_msg(&e0, 2, &q0);   /* a Quantity without its string */
    put_msg(&res0, 2, &e0);
    put_msg(&c0, 8, &res0);
    put_msg(&ps0, 2, &c0);
    deployment_with_podspec(&body, &ps0);
    decode_bad(body.d, body.n, "io.k8s.apimachinery.pkg.api.resource.Quantity: no quantity string",
               "spec.template.spec.containers[0].resources.requests.cpu", NULL);

    /* Time: seconds to RFC 3339, nanos dropped as metav1.Time drops them */
    pbuf ts = {0}, mf = {0}, mfts = {0}, fv = {0}, m = {0}, ns = {0};
    put_int(&ts, 1, 1767323045);
    put_int(&ts, 2, 5);
    put_int(&mfts, 1, -86400);
    put_str(&fv, 1, "{\"f:data\":{}}");
    put_str(&mf, 1, "kubectl");
    put_msg(&mf, 4, &mfts);
    put_msg(&mf, 7, &fv);
    put_str(&m, 1, "n1");
    put_msg(&m, 9, &ts);   /* deletionTimestamp */
    put_msg(&m, 17, &mf);
    put_msg(&ns, 1, &m);
    envelope(&body, "v1", "Namespace", &ns);
    j = decode_ok(&body);
    check_json(j, "metadata", "{\"name\": \"n1\", \"deletionTimestamp\": \"2026-01-02T03:04:05Z\","
                              " \"managedFields\": [{\"manager\": \"kubectl\", \"time\": \"1969-12-31T00:00:00Z\","
                              " \"fieldsV1\": {\"f:data\": {}}}]}");
    json_decref(j);

    static const struct {
        int64_t secs;
        const char *want;   /* NULL: left out */
    } times[] = {
        {951782400, "2000-02-29T00:00:00Z"},  {-2203846200, "1900-03-01T12:30:00Z"},
        {0, "1970-01-01T00:00:00Z"},          {-62135596799, "0001-01-01T00:00:01Z"},
        {253402300799, "9999-12-31T23:59:59Z"}, {-62135596800, NULL},   /* Go's zero time: null */
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        pbuf t = {0}, tm = {0}, tns = {0};
        put_int(&t, 1, times[i].secs);
        put_str(&tm, 1, "n");
        put_msg(&tm, 8, &t);
        put_msg(&tns, 1, &tm);
        envelope(&body, "v1", "Namespace", &tns);
        j = decode_ok(&body);
        const char *got = json_string_value(at(j, "metadata.creationTimestamp"));
        if (times[i].want ? !got || strcmp(got, times[i].want) : at(j, "metadata.creationTimestamp") != NULL)
            fail_msg("%" PRId64 ": %s, want %s", times[i].secs, got ? got : "(absent)",
                     times[i].want ? times[i].want : "(absent)");
        json_decref(j);
    }

    pbuf ts2 = {0}, m2 = {0}, ns2 = {0};
    put_int(&ts2, 1, 253402300800);   /* year 10000 */
    put_msg(&m2, 8, &ts2);
    put_msg(&ns2, 1, &m2);
    envelope(&body, "v1", "Namespace", &ns2);
    decode_bad(body.d, body.n, "io.k8s.apimachinery.pkg.apis.meta.v1.Time field 1 (seconds)", NULL);

    pbuf fv3 = {0}, mf3 = {0}, m3 = {0}, ns3 = {0};
    put_str(&fv3, 1, "{\"f:data\":");
    put_msg(&mf3, 7, &fv3);
    put_msg(&m3, 17, &mf3);
    put_msg(&ns3, 1, &m3);
    envelope(&body, "v1", "Namespace", &ns3);
    decode_bad(body.d, body.n, "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1 field 1 (Raw): not JSON",
               "metadata.managedFields[0].fieldsV1", NULL);
}

/* Go structs embedded json:",inline": Volume's source, ConfigMapVolumeSource's
 * LocalObjectReference; and a *string whose "" is kept */
static void test_inline_and_pointer_strings(void **state)
{
    (void)state;
    pbuf ed = {0}, vs1 = {0}, v1 = {0}, lor = {0}, cmv = {0}, vs2 = {0}, v2 = {0};
    put_msg(&vs1, 2, &ed);   /* emptyDir {} */
    put_str(&v1, 1, "scratch");
    put_msg(&v1, 2, &vs1);
    put_str(&lor, 1, "cm");
    put_msg(&cmv, 1, &lor);
    put_msg(&vs2, 19, &cmv);
    put_str(&v2, 1, "conf");
    put_msg(&v2, 2, &vs2);

    pbuf pvc = {0}, tmpl = {0}, eph = {0}, vs3 = {0}, v3 = {0};
    put_str(&pvc, 5, "");   /* storageClassName: "" means no class */
    put_str(&pvc, 3, "");   /* volumeName: a plain string, "" left out */
    put_msg(&tmpl, 2, &pvc);
    put_msg(&eph, 1, &tmpl);
    put_msg(&vs3, 29, &eph);
    put_str(&v3, 1, "eph");
    put_msg(&v3, 2, &vs3);

    pbuf ps = {0}, body = {0};
    put_msg(&ps, 1, &v1);
    put_msg(&ps, 1, &v2);
    put_msg(&ps, 1, &v3);
    deployment_with_podspec(&body, &ps);
    json_t *j = decode_ok(&body);
    check_json(j, "spec.template.spec.volumes",
               "[{\"name\": \"scratch\", \"emptyDir\": {}}, {\"name\": \"conf\", \"configMap\": {\"name\": \"cm\"}},"
               " {\"name\": \"eph\", \"ephemeral\": {\"volumeClaimTemplate\": {\"spec\": {\"storageClassName\": \"\"}}}}]");
    json_decref(j);

    /* ServicePort.appProtocol is a *string, its name is not */
    pbuf p = {0}, spec = {0}, svc = {0};
    put_str(&p, 1, "");
    put_int(&p, 3, 80);
    put_str(&p, 6, "");
    put_msg(&spec, 1, &p);
    put_msg(&svc, 2, &spec);
    envelope(&body, "v1", "Service", &svc);
    j = decode_ok(&body);
    check_json(j, "spec.ports", "[{\"port\": 80, \"appProtocol\": \"\"}]");
    json_decref(j);
}

/* ---- the kinds of client-go's typed clients beyond kubectl create's ---- */

/* ObjectMeta as gogo writes it for an object with a namespace: every
 * non-pointer string and int, an empty creationTimestamp */
static void put_meta_ns(pbuf *b, uint32_t num, const char *name, const char *ns)
{
    pbuf m = {0}, ts = {0};
    put_str(&m, 1, name);
    put_str(&m, 2, "");
    put_str(&m, 3, ns);
    for (uint32_t f = 4; f <= 6; f++)
        put_str(&m, f, "");
    put_int(&m, 7, 0);
    put_msg(&m, 8, &ts);
    put_msg(b, num, &m);
}

/* A PodTemplateSpec whose one container runs image; extra holds more
 * PodSpec fields (may be NULL). */
static void put_template(pbuf *b, uint32_t num, const char *image, const pbuf *extra)
{
    pbuf c = {0}, ps = {0}, tmpl = {0};
    put_str(&c, 1, "main");
    put_str(&c, 2, image);
    put_msg(&ps, 2, &c);
    if (extra)
        put_raw(&ps, extra->d, extra->n);
    put_msg(&tmpl, 2, &ps);
    put_msg(b, num, &tmpl);
}

/* the object of kind under api_version whose fields are raw, decoded */
static json_t *decode_kind(const char *api_version, const char *kind, const pbuf *raw)
{
    pbuf body = {0};
    envelope(&body, api_version, kind, raw);
    return decode_ok(&body);
}

/* IntOrString as gogo writes it: {type, intVal, strVal} */
static void put_intstr(pbuf *b, uint32_t num, int is_str, int ival, const char *sval)
{
    pbuf v = {0};
    put_int(&v, 1, is_str);
    put_int(&v, 2, ival);
    put_str(&v, 3, sval);
    put_msg(b, num, &v);
}

/* a map<string, Quantity> entry */
static void put_quantity(pbuf *b, uint32_t num, const char *k, const char *q)
{
    pbuf e = {0}, v = {0};
    put_str(&v, 1, q);
    put_str(&e, 1, k);
    put_msg(&e, 2, &v);
    put_msg(b, num, &e);
}

/* Every kind gate/kube/protobuf.c accepts, as its envelope names it. */
static const struct {
    const char *api_version, *kind;
} ACCEPTED_KINDS[] = {
    {"v1", "Pod"},
    {"v1", "Service"},
    {"v1", "ConfigMap"},
    {"v1", "Secret"},
    {"v1", "Namespace"},
    {"v1", "ServiceAccount"},
    {"v1", "ResourceQuota"},
    {"v1", "LimitRange"},
    {"v1", "PersistentVolumeClaim"},
    {"v1", "Node"},
    {"apps/v1", "Deployment"},
    {"apps/v1", "ReplicaSet"},
    {"apps/v1", "StatefulSet"},
    {"apps/v1", "DaemonSet"},
    {"batch/v1", "Job"},
    {"batch/v1", "CronJob"},
    {"autoscaling/v1", "HorizontalPodAutoscaler"},
    {"autoscaling/v1", "Scale"},
    {"autoscaling/v2", "HorizontalPodAutoscaler"},
    {"policy/v1", "Eviction"},
    {"policy/v1", "PodDisruptionBudget"},
    {"networking.k8s.io/v1", "Ingress"},
    {"networking.k8s.io/v1", "NetworkPolicy"},
    {"rbac.authorization.k8s.io/v1", "Role"},
    {"rbac.authorization.k8s.io/v1", "RoleBinding"},
    {"rbac.authorization.k8s.io/v1", "ClusterRole"},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding"},
    {"scheduling.k8s.io/v1", "PriorityClass"},
    {"authentication.k8s.io/v1", "TokenRequest"},
    {"authentication.k8s.io/v1", "SelfSubjectReview"},
    {"authorization.k8s.io/v1", "SelfSubjectAccessReview"},
    {"authorization.k8s.io/v1", "SelfSubjectRulesReview"},
    {"v1", "DeleteOptions"},
    {"apps/v1", "DeleteOptions"},
    {"batch/v1", "DeleteOptions"},
    {"autoscaling/v1", "DeleteOptions"},
    {"autoscaling/v2", "DeleteOptions"},
    {"policy/v1", "DeleteOptions"},
    {"networking.k8s.io/v1", "DeleteOptions"},
    {"rbac.authorization.k8s.io/v1", "DeleteOptions"},
    {"scheduling.k8s.io/v1", "DeleteOptions"},
    {"authentication.k8s.io/v1", "DeleteOptions"},
};

/* Each accepted kind decodes (an object without fields is its type alone);
 * kinds of the same groups that are not listed, other versions, and kinds
 * named under the wrong group stay refused. */
static void test_accepted_kinds(void **state)
{
    (void)state;
    pbuf raw = {0};
    for (size_t i = 0; i < sizeof ACCEPTED_KINDS / sizeof ACCEPTED_KINDS[0]; i++) {
        json_t *j = decode_kind(ACCEPTED_KINDS[i].api_version, ACCEPTED_KINDS[i].kind, &raw);
        int del = !strcmp(ACCEPTED_KINDS[i].kind, "DeleteOptions");
        const char *av = json_string_value(json_object_get(j, "apiVersion"));
        const char *kind = json_string_value(json_object_get(j, "kind"));
        if (json_object_size(j) != 2 || !av || strcmp(av, del ? "meta.k8s.io/v1" : ACCEPTED_KINDS[i].api_version) ||
            !kind || strcmp(kind, ACCEPTED_KINDS[i].kind))
            fail_msg("%s %s: decoded as %s %s", ACCEPTED_KINDS[i].api_version, ACCEPTED_KINDS[i].kind,
                     av ? av : "?", kind ? kind : "?");
        json_decref(j);
    }
    static const struct {
        const char *api_version, *kind, *says;
    } refused[] = {
        {"v1", "ReplicationController", "not v1 ReplicationController"},
        {"v1", "PersistentVolume", "not v1 PersistentVolume"},
        {"v1", "Endpoints", "not v1 Endpoints"},
        {"v1", "Binding", "not v1 Binding"},
        {"v1", "Eviction", "not v1 Eviction"},   /* Eviction is policy/v1's */
        {"apps/v1", "ControllerRevision", "not apps/v1 ControllerRevision"},
        {"apps/v1", "Scale", "not apps/v1 Scale"},   /* the scale subresource speaks autoscaling/v1 */
        {"autoscaling/v2", "Scale", "not autoscaling/v2 Scale"},
        {"policy/v1beta1", "PodDisruptionBudget", "not policy/v1beta1 PodDisruptionBudget"},
        {"extensions/v1beta1", "Ingress", "not extensions/v1beta1 Ingress"},
        {"networking.k8s.io/v1", "IngressClass", "not networking.k8s.io/v1 IngressClass"},
        {"rbac.authorization.k8s.io/v1beta1", "Role", "not rbac.authorization.k8s.io/v1beta1 Role"},
        {"authentication.k8s.io/v1", "TokenReview", "not authentication.k8s.io/v1 TokenReview"},
        {"authorization.k8s.io/v1", "SubjectAccessReview", "not authorization.k8s.io/v1 SubjectAccessReview"},
        {"storage.k8s.io/v1", "DeleteOptions", "not storage.k8s.io/v1 DeleteOptions"},
        {"meta.k8s.io/v1", "DeleteOptions", "not meta.k8s.io/v1 DeleteOptions"},
        {"v1", "Status", "not v1 Status"},
        {"", "Pod", "not (no apiVersion) Pod"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        pbuf body = {0};
        envelope(&body, refused[i].api_version, refused[i].kind, &raw);
        decode_bad(body.d, body.n, "protobuf: bodies are decoded for the common built-in kinds of core/v1, apps/v1, "
                   "batch/v1, autoscaling/v1, autoscaling/v2, policy/v1, networking.k8s.io/v1, "
                   "rbac.authorization.k8s.io/v1, scheduling.k8s.io/v1, authentication.k8s.io/v1 and "
                   "authorization.k8s.io/v1",
                   refused[i].says, "send JSON", NULL);
    }
}

/* POST pods/NAME/eviction: the pod's name and namespace and the
 * DeleteOptions the eviction deletes it with. */
static void test_eviction(void **state)
{
    (void)state;
    pbuf pre = {0}, opts = {0}, ev = {0};
    put_int(&opts, 1, 30);   /* gracePeriodSeconds */
    put_str(&pre, 1, "9b4f0c6e");
    put_msg(&opts, 2, &pre);
    put_str(&opts, 4, "Foreground");
    put_str(&opts, 5, "All");   /* dryRun */
    put_meta_ns(&ev, 1, "api-0", "payments");
    put_msg(&ev, 2, &opts);
    json_t *j = decode_kind("policy/v1", "Eviction", &ev);
    check_json(j, "", "{\"apiVersion\": \"policy/v1\", \"kind\": \"Eviction\","
                      " \"metadata\": {\"name\": \"api-0\", \"namespace\": \"payments\", \"generation\": 0},"
                      " \"deleteOptions\": {\"gracePeriodSeconds\": 30, \"preconditions\": {\"uid\": \"9b4f0c6e\"},"
                      "  \"propagationPolicy\": \"Foreground\", \"dryRun\": [\"All\"]}}");
    json_decref(j);

    /* kubectl drain's: empty DeleteOptions, {} as in its JSON form */
    pbuf empty = {0}, ev2 = {0};
    put_meta_ns(&ev2, 1, "api-0", "payments");
    put_msg(&ev2, 2, &empty);
    j = decode_kind("policy/v1", "Eviction", &ev2);
    check_json(j, "deleteOptions", "{}");
    json_decref(j);

    /* an unknown field of the DeleteOptions inside */
    pbuf opts3 = {0}, ev3 = {0}, body = {0};
    put_int(&opts3, 7, 1);
    put_msg(&ev3, 2, &opts3);
    envelope(&body, "policy/v1", "Eviction", &ev3);
    decode_bad(body.d, body.n, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions has no field 7",
               "at deleteOptions", NULL);
}

/* PUT .../scale: spec.replicas, 0 included (gogo writes the int32 even
 * when 0, so the decoded body says zero where Go's JSON would leave
 * replicas out) */
static void test_scale(void **state)
{
    (void)state;
    pbuf m = {0}, spec = {0}, status = {0}, sc = {0};
    put_str(&m, 1, "api");
    put_str(&m, 3, "payments");
    put_str(&m, 6, "4711");   /* resourceVersion */
    put_int(&spec, 1, 0);
    put_int(&status, 1, 3);
    put_str(&status, 2, "app=api");
    put_msg(&sc, 1, &m);
    put_msg(&sc, 2, &spec);
    put_msg(&sc, 3, &status);
    json_t *j = decode_kind("autoscaling/v1", "Scale", &sc);
    check_json(j, "", "{\"apiVersion\": \"autoscaling/v1\", \"kind\": \"Scale\","
                      " \"metadata\": {\"name\": \"api\", \"namespace\": \"payments\", \"resourceVersion\": \"4711\"},"
                      " \"spec\": {\"replicas\": 0}, \"status\": {\"replicas\": 3, \"selector\": \"app=api\"}}");
    json_decref(j);

    pbuf spec2 = {0}, sc2 = {0};
    put_int(&spec2, 1, 7);
    put_msg(&sc2, 2, &spec2);
    j = decode_kind("autoscaling/v1", "Scale", &sc2);
    check_json(j, "spec.replicas", "7");
    json_decref(j);
}

/* The bytes kubectl 1.32.4 sent for each pod `kubectl drain` deleted (its
 * fallback when discovery lists no pods/eviction): an empty v1
 * DeleteOptions. */
static const unsigned char KUBECTL_DRAIN_DELETE[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x13, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x0d, 0x44, 0x65, 0x6c, 0x65, 0x74, 0x65, 0x4f,
    0x70, 0x74, 0x69, 0x6f, 0x6e, 0x73, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00,
};

/* DELETE bodies: DeleteOptions under the group version of what is deleted,
 * decoded as the one meta.k8s.io/v1 type it is */
static void test_delete_options(void **state)
{
    (void)state;
    pbuf pre = {0}, opts = {0};
    put_int(&opts, 1, 0);   /* gracePeriodSeconds: 0 is a value */
    put_str(&pre, 1, "");   /* a *string: "" kept */
    put_str(&pre, 2, "812");
    put_msg(&opts, 2, &pre);
    put_str(&opts, 4, "Foreground");
    put_str(&opts, 5, "All");
    json_t *j = decode_kind("apps/v1", "DeleteOptions", &opts);
    check_json(j, "", "{\"apiVersion\": \"meta.k8s.io/v1\", \"kind\": \"DeleteOptions\", \"gracePeriodSeconds\": 0,"
                      " \"preconditions\": {\"uid\": \"\", \"resourceVersion\": \"812\"},"
                      " \"propagationPolicy\": \"Foreground\", \"dryRun\": [\"All\"]}");
    json_decref(j);

    /* the same under every group version; orphanDependents false is a value */
    for (size_t i = 0; i < sizeof ACCEPTED_KINDS / sizeof ACCEPTED_KINDS[0]; i++) {
        if (strcmp(ACCEPTED_KINDS[i].kind, "DeleteOptions"))
            continue;
        pbuf o = {0};
        put_int(&o, 3, 0);
        put_str(&o, 4, "");   /* *DeletionPropagation: "" is sent, and refused downstream as JSON's "" is */
        j = decode_kind(ACCEPTED_KINDS[i].api_version, "DeleteOptions", &o);
        check_json(j, "", "{\"apiVersion\": \"meta.k8s.io/v1\", \"kind\": \"DeleteOptions\","
                          " \"orphanDependents\": false, \"propagationPolicy\": \"\"}");
        json_decref(j);
    }

    json_t *out = NULL;
    char err[512];
    if (decode(KUBECTL_DRAIN_DELETE, sizeof KUBECTL_DRAIN_DELETE, &out, err, sizeof err) < 0)
        fail_msg("kubectl drain's DELETE body refused: %s", err);
    check_json(out, "", "{\"apiVersion\": \"meta.k8s.io/v1\", \"kind\": \"DeleteOptions\"}");
    json_decref(out);

    pbuf bad = {0}, body = {0};
    put_int(&bad, 9, 1);
    envelope(&body, "batch/v1", "DeleteOptions", &bad);
    decode_bad(body.d, body.n, "protobuf: io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions has no field 9", NULL);
}

/* The bytes kubectl 1.32.4 sent for `kubectl create job j1 --image=busybox
 * -n analytics -- echo hi`. */
static const unsigned char KUBECTL_JOB[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x08, 0x62, 0x61, 0x74, 0x63, 0x68, 0x2f, 0x76, 0x31, 0x12, 0x03, 0x4a,
    0x6f, 0x62, 0x12, 0x8d, 0x01, 0x0a, 0x1b, 0x0a, 0x02, 0x6a, 0x31, 0x12, 0x00, 0x1a, 0x09, 0x61, 0x6e, 0x61, 0x6c,
    0x79, 0x74, 0x69, 0x63, 0x73, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x64, 0x32, 0x62,
    0x0a, 0x10, 0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12,
    0x4e, 0x12, 0x2b, 0x0a, 0x02, 0x6a, 0x31, 0x12, 0x07, 0x62, 0x75, 0x73, 0x79, 0x62, 0x6f, 0x78, 0x1a, 0x04, 0x65,
    0x63, 0x68, 0x6f, 0x1a, 0x02, 0x68, 0x69, 0x2a, 0x00, 0x42, 0x00, 0x6a, 0x00, 0x72, 0x00, 0x80, 0x01, 0x00, 0x88,
    0x01, 0x00, 0x90, 0x01, 0x00, 0xa2, 0x01, 0x00, 0x1a, 0x05, 0x4e, 0x65, 0x76, 0x65, 0x72, 0x32, 0x00, 0x42, 0x00,
    0x4a, 0x00, 0x52, 0x00, 0x58, 0x00, 0x60, 0x00, 0x68, 0x00, 0x82, 0x01, 0x00, 0x8a, 0x01, 0x00, 0x9a, 0x01, 0x00,
    0xc2, 0x01, 0x00, 0x1a, 0x08, 0x20, 0x00, 0x28, 0x00, 0x30, 0x00, 0x3a, 0x00, 0x1a, 0x00, 0x22, 0x00,
};

static void test_job_and_cronjob(void **state)
{
    (void)state;
    json_t *out = NULL;
    char err[512];
    if (decode(KUBECTL_JOB, sizeof KUBECTL_JOB, &out, err, sizeof err) < 0)
        fail_msg("kubectl create job's body refused: %s", err);
    check_json(out, "", "{\"apiVersion\": \"batch/v1\", \"kind\": \"Job\","
                        " \"metadata\": {\"name\": \"j1\", \"namespace\": \"analytics\", \"generation\": 0},"
                        " \"spec\": {\"template\": {\"metadata\": {\"generation\": 0}, \"spec\": {"
                        "   \"containers\": [{\"name\": \"j1\", \"image\": \"busybox\", \"command\": [\"echo\", \"hi\"],"
                        "     \"resources\": {}, \"stdin\": false, \"stdinOnce\": false, \"tty\": false}],"
                        "   \"restartPolicy\": \"Never\", \"hostNetwork\": false, \"hostPID\": false, \"hostIPC\": false}}},"
                        " \"status\": {\"active\": 0, \"succeeded\": 0, \"failed\": 0}}");
    check_json(out, "spec.template.spec.containers.0.image", "\"busybox\"");
    json_decref(out);

    /* a CronJob's job template; timeZone is a *string, its "" kept */
    pbuf js = {0}, jt = {0}, spec = {0}, cj = {0}, rp = {0};
    put_str(&rp, 3, "OnFailure");
    put_template(&js, 6, "registry.example.com/rollup:1", &rp);
    put_int(&js, 7, 2);   /* backoffLimit */
    put_msg(&jt, 2, &js);
    put_str(&spec, 1, "0 2 * * *");
    put_int(&spec, 4, 0);   /* suspend */
    put_msg(&spec, 5, &jt);
    put_str(&spec, 8, "");
    put_meta_ns(&cj, 1, "rollup", "analytics");
    put_msg(&cj, 2, &spec);
    json_t *j = decode_kind("batch/v1", "CronJob", &cj);
    check_json(j, "spec", "{\"schedule\": \"0 2 * * *\", \"suspend\": false, \"timeZone\": \"\","
                          " \"jobTemplate\": {\"spec\": {\"backoffLimit\": 2, \"template\": {\"spec\": {"
                          "  \"containers\": [{\"name\": \"main\", \"image\": \"registry.example.com/rollup:1\"}],"
                          "  \"restartPolicy\": \"OnFailure\"}}}}}");
    json_decref(j);

    /* an unknown field in a new kind, deep down */
    pbuf js2 = {0}, job = {0}, body = {0};
    put_int(&js2, 99, 1);
    put_msg(&job, 2, &js2);
    envelope(&body, "batch/v1", "Job", &job);
    decode_bad(body.d, body.n, "protobuf: io.k8s.api.batch.v1.JobSpec has no field 99", "(at spec)", NULL);
}

/* The bytes kubectl 1.32.4 sent for `kubectl autoscale deployment reports
 * -n analytics --min=2 --max=5 --cpu-percent=70`. */
static const unsigned char KUBECTL_HPA[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x29, 0x0a, 0x0e, 0x61, 0x75, 0x74, 0x6f, 0x73, 0x63, 0x61, 0x6c, 0x69, 0x6e, 0x67,
    0x2f, 0x76, 0x31, 0x12, 0x17, 0x48, 0x6f, 0x72, 0x69, 0x7a, 0x6f, 0x6e, 0x74, 0x61, 0x6c, 0x50, 0x6f, 0x64, 0x41,
    0x75, 0x74, 0x6f, 0x73, 0x63, 0x61, 0x6c, 0x65, 0x72, 0x12, 0x47, 0x0a, 0x17, 0x0a, 0x07, 0x72, 0x65, 0x70, 0x6f,
    0x72, 0x74, 0x73, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x26,
    0x0a, 0x1e, 0x0a, 0x0a, 0x44, 0x65, 0x70, 0x6c, 0x6f, 0x79, 0x6d, 0x65, 0x6e, 0x74, 0x12, 0x07, 0x72, 0x65, 0x70,
    0x6f, 0x72, 0x74, 0x73, 0x1a, 0x07, 0x61, 0x70, 0x70, 0x73, 0x2f, 0x76, 0x31, 0x10, 0x02, 0x18, 0x05, 0x20, 0x46,
    0x1a, 0x04, 0x18, 0x00, 0x20, 0x00, 0x1a, 0x00, 0x22, 0x00,
};

static void test_hpa(void **state)
{
    (void)state;
    json_t *out = NULL;
    char err[512];
    if (decode(KUBECTL_HPA, sizeof KUBECTL_HPA, &out, err, sizeof err) < 0)
        fail_msg("kubectl autoscale's body refused: %s", err);
    check_json(out, "apiVersion", "\"autoscaling/v1\"");
    check_json(out, "spec",
               "{\"scaleTargetRef\": {\"kind\": \"Deployment\", \"name\": \"reports\", \"apiVersion\": \"apps/v1\"},"
               " \"minReplicas\": 2, \"maxReplicas\": 5, \"targetCPUUtilizationPercentage\": 70}");
    json_decref(out);

    /* autoscaling/v2: a Resource metric by utilization, a Pods metric by a
     * Quantity */
    pbuf ref = {0}, t1 = {0}, r1 = {0}, m1 = {0}, id = {0}, q = {0}, t2 = {0}, p2 = {0}, m2 = {0};
    pbuf spec = {0}, hpa = {0};
    put_str(&ref, 1, "Deployment");
    put_str(&ref, 2, "api");
    put_str(&ref, 3, "apps/v1");
    put_str(&t1, 1, "Utilization");
    put_int(&t1, 4, 60);
    put_str(&r1, 1, "cpu");
    put_msg(&r1, 2, &t1);
    put_str(&m1, 1, "Resource");
    put_msg(&m1, 4, &r1);
    put_str(&id, 1, "requests_per_second");
    put_str(&q, 1, "1k");
    put_str(&t2, 1, "AverageValue");
    put_msg(&t2, 3, &q);
    put_msg(&p2, 1, &id);
    put_msg(&p2, 2, &t2);
    put_str(&m2, 1, "Pods");
    put_msg(&m2, 3, &p2);
    put_msg(&spec, 1, &ref);
    put_int(&spec, 2, 2);
    put_int(&spec, 3, 10);
    put_msg(&spec, 4, &m1);
    put_msg(&spec, 4, &m2);
    put_meta_ns(&hpa, 1, "api", "payments");
    put_msg(&hpa, 2, &spec);
    json_t *j = decode_kind("autoscaling/v2", "HorizontalPodAutoscaler", &hpa);
    check_json(j, "spec.metrics",
               "[{\"type\": \"Resource\", \"resource\": {\"name\": \"cpu\","
               "   \"target\": {\"type\": \"Utilization\", \"averageUtilization\": 60}}},"
               " {\"type\": \"Pods\", \"pods\": {\"metric\": {\"name\": \"requests_per_second\"},"
               "   \"target\": {\"type\": \"AverageValue\", \"averageValue\": \"1k\"}}}]");
    check_json(j, "spec.maxReplicas", "10");
    json_decref(j);
}

/* The bytes kubectl 1.32.4 sent for `kubectl create rolebinding rb1
 * --role=r1 --serviceaccount=analytics:default --user=alice -n analytics`. */
static const unsigned char KUBECTL_ROLEBINDING[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x2b, 0x0a, 0x1c, 0x72, 0x62, 0x61, 0x63, 0x2e, 0x61, 0x75, 0x74, 0x68, 0x6f, 0x72,
    0x69, 0x7a, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2e, 0x6b, 0x38, 0x73, 0x2e, 0x69, 0x6f, 0x2f, 0x76, 0x31, 0x12, 0x0b,
    0x52, 0x6f, 0x6c, 0x65, 0x42, 0x69, 0x6e, 0x64, 0x69, 0x6e, 0x67, 0x12, 0x99, 0x01, 0x0a, 0x1c, 0x0a, 0x03, 0x72,
    0x62, 0x31, 0x12, 0x00, 0x1a, 0x09, 0x61, 0x6e, 0x61, 0x6c, 0x79, 0x74, 0x69, 0x63, 0x73, 0x22, 0x00, 0x2a, 0x00,
    0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x2a, 0x0a, 0x04, 0x55, 0x73, 0x65, 0x72, 0x12, 0x19, 0x72, 0x62, 0x61,
    0x63, 0x2e, 0x61, 0x75, 0x74, 0x68, 0x6f, 0x72, 0x69, 0x7a, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2e, 0x6b, 0x38, 0x73,
    0x2e, 0x69, 0x6f, 0x1a, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x22, 0x00, 0x12, 0x26, 0x0a, 0x0e, 0x53, 0x65, 0x72,
    0x76, 0x69, 0x63, 0x65, 0x41, 0x63, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x12, 0x00, 0x1a, 0x07, 0x64, 0x65, 0x66, 0x61,
    0x75, 0x6c, 0x74, 0x22, 0x09, 0x61, 0x6e, 0x61, 0x6c, 0x79, 0x74, 0x69, 0x63, 0x73, 0x1a, 0x25, 0x0a, 0x19, 0x72,
    0x62, 0x61, 0x63, 0x2e, 0x61, 0x75, 0x74, 0x68, 0x6f, 0x72, 0x69, 0x7a, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2e, 0x6b,
    0x38, 0x73, 0x2e, 0x69, 0x6f, 0x12, 0x04, 0x52, 0x6f, 0x6c, 0x65, 0x1a, 0x02, 0x72, 0x31, 0x1a, 0x00, 0x22, 0x00,
};

static void test_rbac(void **state)
{
    (void)state;
    json_t *out = NULL;
    char err[512];
    if (decode(KUBECTL_ROLEBINDING, sizeof KUBECTL_ROLEBINDING, &out, err, sizeof err) < 0)
        fail_msg("kubectl create rolebinding's body refused: %s", err);
    check_json(out, "subjects", "[{\"kind\": \"User\", \"apiGroup\": \"rbac.authorization.k8s.io\", \"name\": \"alice\"},"
                                " {\"kind\": \"ServiceAccount\", \"name\": \"default\", \"namespace\": \"analytics\"}]");
    check_json(out, "roleRef", "{\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"Role\", \"name\": \"r1\"}");
    json_decref(out);

    /* a Role's rules: the core group is "", kept in a repeated string */
    pbuf rule = {0}, role = {0};
    put_str(&rule, 1, "get");
    put_str(&rule, 1, "list");
    put_str(&rule, 2, "");
    put_str(&rule, 3, "secrets");
    put_meta_ns(&role, 1, "reader", "payments");
    put_msg(&role, 2, &rule);
    json_t *j = decode_kind("rbac.authorization.k8s.io/v1", "Role", &role);
    check_json(j, "rules", "[{\"verbs\": [\"get\", \"list\"], \"apiGroups\": [\"\"], \"resources\": [\"secrets\"]}]");
    json_decref(j);

    /* a ClusterRole with non-resource URLs and an aggregation rule */
    pbuf rule2 = {0}, sel = {0}, agg = {0}, cr = {0};
    put_str(&rule2, 1, "*");
    put_str(&rule2, 5, "/metrics");
    put_map(&sel, 1, "rbac.example.com/aggregate-to-view", "true");
    put_msg(&agg, 1, &sel);
    put_meta(&cr, 1, "viewer", NULL);
    put_msg(&cr, 2, &rule2);
    put_msg(&cr, 3, &agg);
    j = decode_kind("rbac.authorization.k8s.io/v1", "ClusterRole", &cr);
    check_json(j, "rules", "[{\"verbs\": [\"*\"], \"nonResourceURLs\": [\"/metrics\"]}]");
    check_json(j, "aggregationRule",
               "{\"clusterRoleSelectors\": [{\"matchLabels\": {\"rbac.example.com/aggregate-to-view\": \"true\"}}]}");
    json_decref(j);

    /* a ClusterRoleBinding to cluster-admin */
    pbuf sub = {0}, ref = {0}, crb = {0};
    put_str(&sub, 1, "Group");
    put_str(&sub, 2, "rbac.authorization.k8s.io");
    put_str(&sub, 3, "devs");
    put_str(&sub, 4, "");
    put_str(&ref, 1, "rbac.authorization.k8s.io");
    put_str(&ref, 2, "ClusterRole");
    put_str(&ref, 3, "cluster-admin");
    put_meta(&crb, 1, "devs-admin", NULL);
    put_msg(&crb, 2, &sub);
    put_msg(&crb, 3, &ref);
    j = decode_kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &crb);
    check_json(j, "subjects", "[{\"kind\": \"Group\", \"apiGroup\": \"rbac.authorization.k8s.io\", \"name\": \"devs\"}]");
    check_json(j, "roleRef.name", "\"cluster-admin\"");
    json_decref(j);

    /* an unknown field in a new kind: Subject has four */
    pbuf sub2 = {0}, rb = {0}, body = {0};
    put_str(&sub2, 1, "User");
    put_str(&sub2, 5, "hidden");
    put_msg(&rb, 2, &sub2);
    envelope(&body, "rbac.authorization.k8s.io/v1", "RoleBinding", &rb);
    decode_bad(body.d, body.n, "protobuf: io.k8s.api.rbac.v1.Subject has no field 5", "(at subjects[0])", NULL);
}

/* The bytes kubectl 1.32.4 sent for `kubectl create pdb pdb1
 * --selector=app=x --min-available=50% -n analytics`. */
static const unsigned char KUBECTL_PDB[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x20, 0x0a, 0x09, 0x70, 0x6f, 0x6c, 0x69, 0x63, 0x79, 0x2f, 0x76, 0x31, 0x12, 0x13,
    0x50, 0x6f, 0x64, 0x44, 0x69, 0x73, 0x72, 0x75, 0x70, 0x74, 0x69, 0x6f, 0x6e, 0x42, 0x75, 0x64, 0x67, 0x65, 0x74,
    0x12, 0x44, 0x0a, 0x1d, 0x0a, 0x04, 0x70, 0x64, 0x62, 0x31, 0x12, 0x00, 0x1a, 0x09, 0x61, 0x6e, 0x61, 0x6c, 0x79,
    0x74, 0x69, 0x63, 0x73, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x17, 0x0a, 0x09, 0x08,
    0x01, 0x10, 0x00, 0x1a, 0x03, 0x35, 0x30, 0x25, 0x12, 0x0a, 0x0a, 0x08, 0x0a, 0x03, 0x61, 0x70, 0x70, 0x12, 0x01,
    0x78, 0x1a, 0x0a, 0x08, 0x00, 0x18, 0x00, 0x20, 0x00, 0x28, 0x00, 0x30, 0x00, 0x1a, 0x00, 0x22, 0x00,
};

static void test_pdb_and_networkpolicy(void **state)
{
    (void)state;
    json_t *out = NULL;
    char err[512];
    if (decode(KUBECTL_PDB, sizeof KUBECTL_PDB, &out, err, sizeof err) < 0)
        fail_msg("kubectl create pdb's body refused: %s", err);
    check_json(out, "spec", "{\"minAvailable\": \"50%\", \"selector\": {\"matchLabels\": {\"app\": \"x\"}}}");
    json_decref(out);

    /* minAvailable as an integer; unhealthyPodEvictionPolicy a *string */
    pbuf sel = {0}, spec = {0}, pdb = {0};
    put_intstr(&spec, 1, 0, 2, "");
    put_map(&sel, 1, "app", "api");
    put_msg(&spec, 2, &sel);
    put_str(&spec, 4, "AlwaysAllow");
    put_meta_ns(&pdb, 1, "api", "payments");
    put_msg(&pdb, 2, &spec);
    json_t *j = decode_kind("policy/v1", "PodDisruptionBudget", &pdb);
    check_json(j, "spec", "{\"minAvailable\": 2, \"selector\": {\"matchLabels\": {\"app\": \"api\"}},"
                          " \"unhealthyPodEvictionPolicy\": \"AlwaysAllow\"}");
    json_decref(j);

    /* NetworkPolicy: ingress from an ipBlock to a port; an empty
     * podSelector is {} (every pod) */
    pbuf ps = {0}, ipb = {0}, peer = {0}, port = {0}, rule = {0}, nspec = {0}, np = {0};
    put_str(&ipb, 1, "10.0.0.0/8");
    put_str(&ipb, 2, "10.1.0.0/16");
    put_msg(&peer, 3, &ipb);
    put_str(&port, 1, "TCP");
    put_intstr(&port, 2, 0, 5432, "");
    put_msg(&rule, 1, &port);
    put_msg(&rule, 2, &peer);
    put_msg(&nspec, 1, &ps);
    put_msg(&nspec, 2, &rule);
    put_str(&nspec, 4, "Ingress");
    put_meta_ns(&np, 1, "db", "payments");
    put_msg(&np, 2, &nspec);
    j = decode_kind("networking.k8s.io/v1", "NetworkPolicy", &np);
    check_json(j, "spec", "{\"podSelector\": {}, \"ingress\": [{\"ports\": [{\"protocol\": \"TCP\", \"port\": 5432}],"
                          " \"from\": [{\"ipBlock\": {\"cidr\": \"10.0.0.0/8\", \"except\": [\"10.1.0.0/16\"]}}]}],"
                          " \"policyTypes\": [\"Ingress\"]}");
    check_json(j, "spec.ingress.0.from.0.ipBlock.cidr", "\"10.0.0.0/8\"");
    json_decref(j);
}

/* The bytes kubectl 1.32.4 sent for `kubectl create ingress ing1
 * --rule=foo.com/bar=svc1:8080 -n analytics`. */
static const unsigned char KUBECTL_INGRESS[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x1f, 0x0a, 0x14, 0x6e, 0x65, 0x74, 0x77, 0x6f, 0x72, 0x6b, 0x69, 0x6e, 0x67, 0x2e,
    0x6b, 0x38, 0x73, 0x2e, 0x69, 0x6f, 0x2f, 0x76, 0x31, 0x12, 0x07, 0x49, 0x6e, 0x67, 0x72, 0x65, 0x73, 0x73, 0x12,
    0x54, 0x0a, 0x1d, 0x0a, 0x04, 0x69, 0x6e, 0x67, 0x31, 0x12, 0x00, 0x1a, 0x09, 0x61, 0x6e, 0x61, 0x6c, 0x79, 0x74,
    0x69, 0x63, 0x73, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x2f, 0x1a, 0x2d, 0x0a, 0x07,
    0x66, 0x6f, 0x6f, 0x2e, 0x63, 0x6f, 0x6d, 0x12, 0x22, 0x0a, 0x20, 0x0a, 0x1e, 0x0a, 0x04, 0x2f, 0x62, 0x61, 0x72,
    0x12, 0x0f, 0x22, 0x0d, 0x0a, 0x04, 0x73, 0x76, 0x63, 0x31, 0x12, 0x05, 0x0a, 0x00, 0x10, 0x90, 0x3f, 0x1a, 0x05,
    0x45, 0x78, 0x61, 0x63, 0x74, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00,
};

/* IngressRule's IngressRuleValue is embedded json:",inline": its http is
 * the rule's own member */
static void test_ingress(void **state)
{
    (void)state;
    json_t *out = NULL;
    char err[512];
    if (decode(KUBECTL_INGRESS, sizeof KUBECTL_INGRESS, &out, err, sizeof err) < 0)
        fail_msg("kubectl create ingress's body refused: %s", err);
    check_json(out, "spec", "{\"rules\": [{\"host\": \"foo.com\", \"http\": {\"paths\": [{\"path\": \"/bar\","
                            " \"pathType\": \"Exact\", \"backend\": {\"service\": {\"name\": \"svc1\","
                            " \"port\": {\"number\": 8080}}}}]}}]}");
    json_decref(out);

    pbuf spec = {0}, ing = {0};
    put_str(&spec, 4, "");   /* ingressClassName: "" is not the default class */
    put_meta_ns(&ing, 1, "web", "shop");
    put_msg(&ing, 2, &spec);
    json_t *j = decode_kind("networking.k8s.io/v1", "Ingress", &ing);
    check_json(j, "spec", "{\"ingressClassName\": \"\"}");
    json_decref(j);
}

/* Pod, ReplicaSet, StatefulSet, DaemonSet: what their pods run and how */
static void test_workloads(void **state)
{
    (void)state;
    pbuf c = {0}, tol = {0}, ps = {0}, pod = {0};
    put_str(&c, 1, "debug");
    put_str(&c, 2, "busybox:1.36");
    put_msg(&ps, 2, &c);
    put_str(&ps, 10, "node-a1");   /* nodeName */
    put_int(&ps, 11, 1);           /* hostNetwork */
    put_str(&tol, 2, "Exists");
    put_msg(&ps, 22, &tol);
    put_meta_ns(&pod, 1, "debug", "default");
    put_msg(&pod, 2, &ps);
    json_t *j = decode_kind("v1", "Pod", &pod);
    check_json(j, "spec", "{\"containers\": [{\"name\": \"debug\", \"image\": \"busybox:1.36\"}], \"nodeName\": \"node-a1\","
                          " \"hostNetwork\": true, \"tolerations\": [{\"operator\": \"Exists\"}]}");
    json_decref(j);

    pbuf sel = {0}, rspec = {0}, rs = {0};
    put_int(&rspec, 1, 3);
    put_map(&sel, 1, "app", "web");
    put_msg(&rspec, 2, &sel);
    put_template(&rspec, 3, "nginx:1.27", NULL);
    put_meta_ns(&rs, 1, "web-5d8f", "shop");
    put_msg(&rs, 2, &rspec);
    j = decode_kind("apps/v1", "ReplicaSet", &rs);
    check_json(j, "spec.replicas", "3");
    check_json(j, "spec.template.spec.containers.0.image", "\"nginx:1.27\"");
    json_decref(j);

    /* a StatefulSet's volume claim templates: storageClassName "" kept */
    pbuf q = {0}, vrr = {0}, pvcs = {0}, pvc = {0}, sspec = {0}, sts = {0};
    put_quantity(&vrr, 2, "storage", "1Gi");
    put_str(&pvcs, 1, "ReadWriteOnce");
    put_msg(&pvcs, 2, &vrr);
    put_str(&pvcs, 5, "");
    put_str(&q, 1, "data");
    put_msg(&pvc, 1, &q);
    put_msg(&pvc, 2, &pvcs);
    put_int(&sspec, 1, 2);
    put_template(&sspec, 3, "postgres:16", NULL);
    put_msg(&sspec, 4, &pvc);
    put_str(&sspec, 5, "db");
    put_meta_ns(&sts, 1, "db", "payments");
    put_msg(&sts, 2, &sspec);
    j = decode_kind("apps/v1", "StatefulSet", &sts);
    check_json(j, "spec.volumeClaimTemplates",
               "[{\"metadata\": {\"name\": \"data\"}, \"spec\": {\"accessModes\": [\"ReadWriteOnce\"],"
               " \"resources\": {\"requests\": {\"storage\": \"1Gi\"}}, \"storageClassName\": \"\"}}]");
    check_json(j, "spec.serviceName", "\"db\"");
    json_decref(j);

    /* a DaemonSet on the host network, updated 10% at a time */
    pbuf hn = {0}, ru = {0}, us = {0}, dspec = {0}, ds = {0};
    put_int(&hn, 11, 1);
    put_intstr(&ru, 1, 1, 0, "10%");
    put_str(&us, 1, "RollingUpdate");
    put_msg(&us, 2, &ru);
    put_template(&dspec, 2, "node-exporter:1.8", &hn);
    put_msg(&dspec, 3, &us);
    put_meta_ns(&ds, 1, "node-exporter", "monitoring");
    put_msg(&ds, 2, &dspec);
    j = decode_kind("apps/v1", "DaemonSet", &ds);
    check_json(j, "spec.template.spec.hostNetwork", "true");
    check_json(j, "spec.updateStrategy", "{\"type\": \"RollingUpdate\", \"rollingUpdate\": {\"maxUnavailable\": \"10%\"}}");
    json_decref(j);
}

/* The bytes kubectl 1.32.4 sent for `kubectl create token default -n
 * analytics --duration=10m`. */
static const unsigned char KUBECTL_TOKEN[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x28, 0x0a, 0x18, 0x61, 0x75, 0x74, 0x68, 0x65, 0x6e, 0x74, 0x69, 0x63, 0x61, 0x74,
    0x69, 0x6f, 0x6e, 0x2e, 0x6b, 0x38, 0x73, 0x2e, 0x69, 0x6f, 0x2f, 0x76, 0x31, 0x12, 0x0c, 0x54, 0x6f, 0x6b, 0x65,
    0x6e, 0x52, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74, 0x12, 0x1d, 0x0a, 0x10, 0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22,
    0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x03, 0x20, 0xd8, 0x04, 0x1a, 0x04, 0x0a, 0x00, 0x12,
    0x00, 0x1a, 0x00, 0x22, 0x00,
};

/* the remaining core/v1 kinds, PriorityClass and TokenRequest */
static void test_cluster_and_quota_kinds(void **state)
{
    (void)state;
    json_t *out = NULL;
    char err[512];
    if (decode(KUBECTL_TOKEN, sizeof KUBECTL_TOKEN, &out, err, sizeof err) < 0)
        fail_msg("kubectl create token's body refused: %s", err);
    check_json(out, "", "{\"apiVersion\": \"authentication.k8s.io/v1\", \"kind\": \"TokenRequest\","
                        " \"metadata\": {\"generation\": 0}, \"spec\": {\"expirationSeconds\": 600}, \"status\": {}}");
    json_decref(out);

    /* BoundObjectReference's proto field uID is JSON's uid */
    pbuf bor = {0}, tspec = {0}, tr = {0};
    put_str(&bor, 1, "Pod");
    put_str(&bor, 2, "v1");
    put_str(&bor, 3, "web-0");
    put_str(&bor, 4, "1f2e");
    put_str(&tspec, 1, "https://vault.example.com");
    put_msg(&tspec, 3, &bor);
    put_int(&tspec, 4, 3600);
    put_msg(&tr, 2, &tspec);
    json_t *j = decode_kind("authentication.k8s.io/v1", "TokenRequest", &tr);
    check_json(j, "spec", "{\"audiences\": [\"https://vault.example.com\"], \"expirationSeconds\": 3600,"
                          " \"boundObjectRef\": {\"kind\": \"Pod\", \"apiVersion\": \"v1\", \"name\": \"web-0\","
                          " \"uid\": \"1f2e\"}}");
    json_decref(j);

    pbuf sa = {0}, lor = {0};
    put_str(&lor, 1, "regcred");
    put_meta_ns(&sa, 1, "builder", "ci");
    put_msg(&sa, 3, &lor);
    put_int(&sa, 4, 0);
    j = decode_kind("v1", "ServiceAccount", &sa);
    check_json(j, "imagePullSecrets", "[{\"name\": \"regcred\"}]");
    check_json(j, "automountServiceAccountToken", "false");
    json_decref(j);

    pbuf rq = {0}, rqs = {0};
    put_quantity(&rqs, 1, "pods", "10");
    put_quantity(&rqs, 1, "requests.cpu", "4");
    put_str(&rqs, 2, "NotTerminating");
    put_meta_ns(&rq, 1, "compute", "shop");
    put_msg(&rq, 2, &rqs);
    j = decode_kind("v1", "ResourceQuota", &rq);
    check_json(j, "spec", "{\"hard\": {\"pods\": \"10\", \"requests.cpu\": \"4\"}, \"scopes\": [\"NotTerminating\"]}");
    json_decref(j);

    pbuf item = {0}, lrs = {0}, lr = {0};
    put_str(&item, 1, "Container");
    put_quantity(&item, 4, "cpu", "500m");
    put_quantity(&item, 5, "memory", "128Mi");
    put_msg(&lrs, 1, &item);
    put_meta_ns(&lr, 1, "defaults", "shop");
    put_msg(&lr, 2, &lrs);
    j = decode_kind("v1", "LimitRange", &lr);
    check_json(j, "spec.limits", "[{\"type\": \"Container\", \"default\": {\"cpu\": \"500m\"},"
                                 " \"defaultRequest\": {\"memory\": \"128Mi\"}}]");
    json_decref(j);

    pbuf vrr = {0}, pspec = {0}, pvc = {0};
    put_quantity(&vrr, 2, "storage", "10Gi");
    put_str(&pspec, 1, "ReadWriteOnce");
    put_msg(&pspec, 2, &vrr);
    put_str(&pspec, 5, "gp3");
    put_meta_ns(&pvc, 1, "data", "payments");
    put_msg(&pvc, 2, &pspec);
    j = decode_kind("v1", "PersistentVolumeClaim", &pvc);
    check_json(j, "spec", "{\"accessModes\": [\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": \"10Gi\"}},"
                          " \"storageClassName\": \"gp3\"}");
    json_decref(j);

    pbuf pc = {0};
    put_meta(&pc, 1, "critical", NULL);
    put_int(&pc, 2, 1000000);
    put_int(&pc, 3, 0);
    put_str(&pc, 4, "");
    put_str(&pc, 5, "Never");
    j = decode_kind("scheduling.k8s.io/v1", "PriorityClass", &pc);
    check_json(j, "value", "1000000");
    check_json(j, "globalDefault", "false");
    check_json(j, "preemptionPolicy", "\"Never\"");
    if (at(j, "description"))
        fail_msg("an empty description (a plain string) is left out");
    json_decref(j);

    /* a Node cordoned with a taint added at a time */
    pbuf ts = {0}, taint = {0}, nspec = {0}, node = {0};
    put_int(&ts, 1, 1767323045);
    put_str(&taint, 1, "node.kubernetes.io/unschedulable");
    put_str(&taint, 3, "NoSchedule");
    put_msg(&taint, 4, &ts);
    put_int(&nspec, 4, 1);
    put_msg(&nspec, 5, &taint);
    put_meta(&node, 1, "node-a1", NULL);
    put_msg(&node, 2, &nspec);
    j = decode_kind("v1", "Node", &node);
    check_json(j, "spec", "{\"unschedulable\": true, \"taints\": [{\"key\": \"node.kubernetes.io/unschedulable\","
                          " \"effect\": \"NoSchedule\", \"timeAdded\": \"2026-01-02T03:04:05Z\"}]}");
    json_decref(j);
}

/* ---- what a decoded body becomes: the same action as its JSON ---- */

/* The demo cluster, once for the cases below (each change is rolled back). */
static twin *demo;

static int demo_setup(void **state)
{
    (void)state;
    char err[1024];
    if (twin_open(&demo, NULL, err, sizeof err) < 0 ||
        twin_load_pricing(demo, "fixtures/pricing.json", err, sizeof err) < 0 ||
        twin_import_path(demo, "fixtures/demo", err, sizeof err) < 0) {
        fprintf(stderr, "demo: %s\n", err);
        return -1;
    }
    twin_set_clock(demo, 1.7e9);
    return 0;
}

static int demo_teardown(void **state)
{
    (void)state;
    twin_close(demo);
    demo = NULL;
    return 0;
}

/* One request parsed as the gate parses it (0 and *a filled, or the
 * refusal's status). */
static int parse_as_gate(gate_action *a, const char *method, const char *path, const char *ct, const void *body,
                         size_t len, char *err, size_t errlen)
{
    json_t *headers = json_pack("{s:s}", "Content-Type", ct);
    int rc = gate_action_parse(a, demo, method, path, headers, NULL, body, len, err, errlen);
    json_decref(headers);
    return rc;
}

/* What the twin makes of a parsed action: its status, answer and changes,
 * rolled back after. New reference. */
static json_t *simulate(const gate_action *a)
{
    twin_request req;
    twin_result res;
    char err[512];
    gate_action_request(a, &req);
    if (twin_apply(demo, &req, &res, err, sizeof err) < 0)
        fail_msg("twin_apply: %s", err);
    json_t *out = json_pack("{s:i, s:O?, s:O?}", "code", res.code, "object", res.object, "diff", res.diff);
    twin_result_free(&res);
    twin_rollback(demo);
    return out;
}

/* The wire request production would receive, as JSON (the body parsed).
 * New reference. */
static json_t *wire_of(const gate_action *a)
{
    gate_wire w;
    gate_action_wire(a, &w);
    json_error_t je;
    json_t *body = w.body ? json_loadb(w.body, w.len, 0, &je) : json_null();
    json_t *out = json_pack("{s:s, s:s, s:s?, s:o}", "method", w.method, "path", w.path_query, "content_type",
                            w.content_type, "body", body ? body : json_string("(not JSON)"));
    gate_wire_free(&w);
    return out;
}

static void check_equal(const char *what, json_t *pb, json_t *js)
{
    if (json_equal(pb, js))
        return;
    char *a = json_dumps(pb, JSON_COMPACT | JSON_SORT_KEYS), *b = json_dumps(js, JSON_COMPACT | JSON_SORT_KEYS);
    char msg[8192];
    snprintf(msg, sizeof msg, "%s differs:\nprotobuf %s\njson     %s", what, a, b);
    free(a);
    free(b);
    fail_msg("%s", msg);
}

/* The same request sent as protobuf and as the JSON a client sends for it:
 * parsed (ctx.action), simulated (status, answer, changes) and forwarded
 * (method, path, body) alike, and accepted by the twin.  drop_pb and drop_json name one
 * body member each (a dotted path, or NULL) that Go reads as absent: the
 * protobuf body's metadata.generation 0 (gogo writes the int64), the JSON
 * one's creationTimestamp null (encoding/json writes the zero Time). */
static void same_as_json(const char *method, const char *path, const pbuf *pb, const char *json, const char *drop_pb,
                         const char *drop_json)
{
    gate_action a, b;
    char err[512];
    int rc = parse_as_gate(&a, method, path, "application/vnd.kubernetes.protobuf", pb->d, pb->n, err, sizeof err);
    if (rc)
        fail_msg("%s %s as protobuf: %d %s", method, path, rc, err);
    rc = parse_as_gate(&b, method, path, "application/json", json, strlen(json), err, sizeof err);
    if (rc)
        fail_msg("%s %s as JSON: %d %s", method, path, rc, err);
    json_t *wa = wire_of(&a), *wb = wire_of(&b);
    const char *drops[2] = {drop_pb, drop_json};
    json_t *bodies[2] = {json_object_get(wa, "body"), json_object_get(wb, "body")};
    for (int i = 0; i < 2; i++) {
        if (!drops[i])
            continue;
        char buf[128];
        snprintf(buf, sizeof buf, "%s", drops[i]);
        char *dot = strrchr(buf, '.');
        *dot = '\0';
        if (json_object_del(at(bodies[i], buf), dot + 1) < 0)
            fail_msg("%s: no %s in the %s body", path, drops[i], i ? "JSON" : "protobuf");
    }
    check_equal("the forwarded request", wa, wb);
    json_t *ja = gate_action_json(&a), *jb = gate_action_json(&b);
    check_equal("ctx.action", ja, jb);
    json_t *sa = simulate(&a), *sb = simulate(&b);
    check_equal("the simulation", sa, sb);
    /* two refusals would compare equal and prove little */
    if (json_integer_value(json_object_get(sa, "code")) >= 300)
        fail_msg("%s %s: the twin answered %" JSON_INTEGER_FORMAT, method, path,
                 json_integer_value(json_object_get(sa, "code")));
    json_decref(wa);
    json_decref(wb);
    json_decref(ja);
    json_decref(jb);
    json_decref(sa);
    json_decref(sb);
    gate_action_free(&a);
    gate_action_free(&b);
}

/* The name of the first pod of ns labelled app=app in the demo. New string. */
static char *demo_pod(const char *ns, const char *app)
{
    char err[256], sel[64];
    snprintf(sel, sizeof sel, "app=%s", app);
    json_t *pods = twin_list(demo, TWIN_BEFORE, "Pod", ns, sel, NULL, err, sizeof err);
    const char *name = json_string_value(at(json_array_get(pods, 0), "metadata.name"));
    if (!name)
        fail_msg("no pod app=%s in %s", app, ns);
    char *out = strdup(name);
    json_decref(pods);
    return out;
}

static void test_same_action_as_json(void **state)
{
    (void)state;
    char path[256], json[1024];

    /* kubectl drain's eviction of a pod under a PDB and of one without,
     * against its JSON form (captured from kubectl 1.32.4) */
    static const char *const EVICT[][2] = {{"payments", "api"}, {"payments", "ledger"}};
    for (size_t i = 0; i < 2; i++) {
        char *pod = demo_pod(EVICT[i][0], EVICT[i][1]);
        pbuf opts = {0}, ev = {0}, body = {0};
        put_meta_ns(&ev, 1, pod, EVICT[i][0]);
        put_msg(&ev, 2, &opts);
        envelope(&body, "policy/v1", "Eviction", &ev);
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/eviction", EVICT[i][0], pod);
        snprintf(json, sizeof json,
                 "{\"kind\":\"Eviction\",\"apiVersion\":\"policy/v1\",\"metadata\":{\"name\":\"%s\",\"namespace\":"
                 "\"%s\",\"creationTimestamp\":null},\"deleteOptions\":{}}",
                 pod, EVICT[i][0]);
        same_as_json("POST", path, &body, json, "metadata.generation", "metadata.creationTimestamp");
        free(pod);
    }

    /* kubectl autoscale's autoscaling/v1 HPA (the twin keeps it as v2) */
    pbuf hpa = {0};
    put_raw(&hpa, KUBECTL_HPA, sizeof KUBECTL_HPA);
    same_as_json("POST", "/apis/autoscaling/v1/namespaces/analytics/horizontalpodautoscalers", &hpa,
                 "{\"kind\":\"HorizontalPodAutoscaler\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
                 "\"reports\",\"creationTimestamp\":null},\"spec\":{\"scaleTargetRef\":{\"kind\":\"Deployment\","
                 "\"name\":\"reports\",\"apiVersion\":\"apps/v1\"},\"minReplicas\":2,\"maxReplicas\":5,"
                 "\"targetCPUUtilizationPercentage\":70},\"status\":{\"currentReplicas\":0,\"desiredReplicas\":0}}",
                 "metadata.generation", "metadata.creationTimestamp");

    /* PUT deployments/NAME/scale, at the object's resourceVersion */
    json_t *dep = twin_get(demo, TWIN_BEFORE, "Deployment", "payments", "api");
    const char *rv = json_string_value(at(dep, "metadata.resourceVersion"));
    pbuf m = {0}, spec = {0}, sc = {0}, body = {0};
    put_str(&m, 1, "api");
    put_str(&m, 3, "payments");
    put_str(&m, 6, rv);
    put_int(&spec, 1, 5);
    put_msg(&sc, 1, &m);
    put_msg(&sc, 2, &spec);
    envelope(&body, "autoscaling/v1", "Scale", &sc);
    snprintf(json, sizeof json,
             "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":\"api\",\"namespace\":"
             "\"payments\",\"resourceVersion\":\"%s\"},\"spec\":{\"replicas\":5}}",
             rv);
    same_as_json("PUT", "/apis/apps/v1/namespaces/payments/deployments/api/scale", &body, json, NULL, NULL);

    /* to zero: the protobuf body says replicas 0, which the twin applies */
    pbuf m0 = {0}, spec0 = {0}, sc0 = {0};
    put_str(&m0, 1, "api");
    put_str(&m0, 3, "payments");
    put_str(&m0, 6, rv);
    put_int(&spec0, 1, 0);
    put_msg(&sc0, 1, &m0);
    put_msg(&sc0, 2, &spec0);
    envelope(&body, "autoscaling/v1", "Scale", &sc0);
    gate_action a;
    char err[512];
    if (parse_as_gate(&a, "PUT", "/apis/apps/v1/namespaces/payments/deployments/api/scale",
                      "application/vnd.kubernetes.protobuf", body.d, body.n, err, sizeof err))
        fail_msg("scale to zero refused: %s", err);
    json_t *sim = simulate(&a);
    check_json(sim, "code", "200");
    check_json(sim, "object.spec.replicas", "0");
    json_decref(sim);
    gate_action_free(&a);
    json_decref(dep);

    /* DELETE bodies under the resource's group version: the canonical
     * DeleteOptions the gate rebuilds, the propagation, dry run, grace
     * period and preconditions come out the same */
    json_t *ledger = twin_get(demo, TWIN_BEFORE, "Deployment", "payments", "ledger");
    const char *lrv = json_string_value(at(ledger, "metadata.resourceVersion"));
    pbuf pre = {0}, opts = {0};
    put_int(&opts, 1, 10);
    put_str(&pre, 2, lrv);
    put_msg(&opts, 2, &pre);
    put_str(&opts, 4, "Foreground");
    put_str(&opts, 5, "All");
    envelope(&body, "apps/v1", "DeleteOptions", &opts);
    snprintf(json, sizeof json,
             "{\"propagationPolicy\":\"Foreground\",\"gracePeriodSeconds\":10,"
             "\"preconditions\":{\"resourceVersion\":\"%s\"},\"dryRun\":[\"All\"]}",
             lrv);
    same_as_json("DELETE", "/apis/apps/v1/namespaces/payments/deployments/ledger", &body, json, NULL, NULL);
    json_decref(ledger);
    pbuf orphan = {0};
    put_int(&orphan, 3, 1);
    envelope(&body, "policy/v1", "DeleteOptions", &orphan);
    same_as_json("DELETE", "/apis/policy/v1/namespaces/payments/poddisruptionbudgets/api", &body,
                 "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"orphanDependents\":true}", NULL, NULL);
    /* kubectl drain's DELETE of a pod: no options, the kind's default */
    char *pod = demo_pod("shop", "cart");
    snprintf(path, sizeof path, "/api/v1/namespaces/shop/pods/%s", pod);
    pbuf drain = {0};
    put_raw(&drain, KUBECTL_DRAIN_DELETE, sizeof KUBECTL_DRAIN_DELETE);
    same_as_json("DELETE", path, &drain, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\"}", NULL, NULL);
    free(pod);

    /* PUT of a whole object (update), at its resourceVersion */
    json_t *cm = twin_get(demo, TWIN_BEFORE, "ConfigMap", "payments", "api-config");
    const char *cmrv = json_string_value(at(cm, "metadata.resourceVersion"));
    pbuf meta = {0}, cmb = {0};
    put_str(&meta, 1, "api-config");
    put_str(&meta, 3, "payments");
    put_str(&meta, 6, cmrv);
    put_int(&meta, 7, 0);
    put_map(&meta, 11, "app", "api");
    put_msg(&cmb, 1, &meta);
    put_map(&cmb, 2, "LOG_LEVEL", "debug");
    envelope(&body, "v1", "ConfigMap", &cmb);
    snprintf(json, sizeof json,
             "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"api-config\",\"namespace\":"
             "\"payments\",\"resourceVersion\":\"%s\",\"labels\":{\"app\":\"api\"}},\"data\":{\"LOG_LEVEL\":\"debug\"}}",
             cmrv);
    same_as_json("PUT", "/api/v1/namespaces/payments/configmaps/api-config", &body, json, "metadata.generation", NULL);
    json_decref(cm);

    /* PATCH stays JSON or YAML: Kubernetes has no protobuf patch */
    pbuf patch = {0};
    envelope(&patch, "v1", "ConfigMap", &cmb);
    int rc = parse_as_gate(&a, "PATCH", "/api/v1/namespaces/payments/configmaps/api-config",
                           "application/vnd.kubernetes.protobuf", patch.d, patch.n, err, sizeof err);
    if (rc != 415)
        fail_msg("a protobuf PATCH: %d, want 415", rc);
    /* and an unknown kind is refused before anything is simulated */
    envelope(&body, "v1", "ReplicationController", &cmb);
    rc = parse_as_gate(&a, "PUT", "/api/v1/namespaces/payments/configmaps/api-config",
                       "application/vnd.kubernetes.protobuf", body.d, body.n, err, sizeof err);
    if (rc != 415 || !strstr(err, "not v1 ReplicationController"))
        fail_msg("an unknown kind in a PUT: %d %s, want 415", rc, err);
}

/* A JSON body checked with the same tables, as the API server's decoder
 * reads it: wrong types refused naming the field, unknown members refused
 * under Strict and dropped otherwise; inlined members (a volume's source),
 * TypeMeta in a claim template, quantities as numbers, int-or-strings and
 * nulls pass; a kind the tables lack is not checked. */
static void check_json_case(const char *body, int strict, int want_rc, const char *want_err)
{
    json_error_t je;
    json_t *obj = json_loads(body, 0, &je);
    if (!obj)
        fail_msg("bad test JSON %s: %s", body, je.text);
    char err[512] = "";
    int rc = gate_protobuf_check_json(obj, NULL, NULL, strict, err, sizeof err);
    if (rc != want_rc || (want_err && !strstr(err, want_err)))
        fail_msg("%s (strict %d): got %d \"%s\", want %d \"%s\"", body, strict, rc, err, want_rc,
                 want_err ? want_err : "");
    json_decref(obj);
}

static void test_check_json(void **state)
{
    (void)state;
    const char *sts = "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"s\",\"labels\":{\"a\":\"b\"}},"
                      "\"spec\":{\"replicas\":2,\"serviceName\":\"s\",\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
                      "\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
                      "\"image\":\"i\",\"resources\":{\"requests\":{\"cpu\":0.5,\"memory\":\"1Gi\"}},"
                      "\"ports\":[{\"containerPort\":80}],\"livenessProbe\":{\"httpGet\":{\"port\":\"http\"}}}],"
                      "\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\"}}],\"nodeSelector\":null}},"
                      "\"volumeClaimTemplates\":[{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\","
                      "\"metadata\":{\"name\":\"data\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],"
                      "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}]}}";
    check_json_case(sts, 1, 0, NULL);
    check_json_case("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"replicas\":\"2\"}}", 0, -1,
                    "cannot unmarshal string into Go struct field Deployment.spec.replicas of type int32");
    check_json_case("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{"
                    "\"containerPort\":80.5}]}]}}",
                    0, -1, "Pod.spec.containers[0].ports[0].containerPort of type int32");
    check_json_case("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":1}}", 0, -1,
                    "cannot unmarshal number into Go struct field ConfigMap.data[a] of type string");
    check_json_case("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"hostNetwork\":\"true\"}}", 0, -1,
                    "Pod.spec.hostNetwork of type bool");
    check_json_case("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":{}}}", 0, -1,
                    "cannot unmarshal object into Go struct field Pod.spec.containers of type []v1.Container");
    check_json_case("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"bogus\":1}", 1, -1,
                    "strict decoding error: unknown field \"bogus\"");
    check_json_case("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"hostnetwork\":true}}", 1, -1,
                    "unknown field \"spec.hostnetwork\"");   /* case matters, as in the API server */
    /* without Strict an unknown member is dropped from the body */
    json_t *obj = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"hostnetwork\":true,\"hostPID\":true}}",
                             0, NULL);
    char err[256];
    assert_int_equal(gate_protobuf_check_json(obj, NULL, NULL, 0, err, sizeof err), 0);
    assert_null(json_object_get(json_object_get(obj, "spec"), "hostnetwork"));
    assert_true(json_is_true(json_object_get(json_object_get(obj, "spec"), "hostPID")));
    json_decref(obj);
    /* the URL's kind when the body names none; a kind without tables passes */
    obj = json_loads("{\"spec\":{\"replicas\":\"x\"}}", 0, NULL);
    assert_int_equal(gate_protobuf_check_json(obj, "apps/v1", "Deployment", 0, err, sizeof err), -1);
    json_decref(obj);
    check_json_case("{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"subsets\":\"anything\"}", 1, 0, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_privileges),
        cmocka_unit_test(test_check_json),
        cmocka_unit_test(test_zero_is_kept),
        cmocka_unit_test(test_secret_bytes_base64),
        cmocka_unit_test(test_service_target_port),
        cmocka_unit_test(test_labels_map),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_wrong_wire_type),
        cmocka_unit_test(test_kubectl_create_deployment),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_strings_checked),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_scalar_ranges),
        cmocka_unit_test(test_repeated_scalars),
        cmocka_unit_test(test_special_types),
        cmocka_unit_test(test_inline_and_pointer_strings),
        cmocka_unit_test(test_accepted_kinds),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_delete_options),
        cmocka_unit_test(test_job_and_cronjob),
        cmocka_unit_test(test_hpa),
        cmocka_unit_test(test_rbac),
        cmocka_unit_test(test_pdb_and_networkpolicy),
        cmocka_unit_test(test_ingress),
        cmocka_unit_test(test_workloads),
        cmocka_unit_test(test_cluster_and_quota_kinds),
        cmocka_unit_test_setup_teardown(test_same_action_as_json, demo_setup, demo_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
