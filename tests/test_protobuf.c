/* Tests for gate/kube/protobuf.c: kubectl's protobuf bodies to JSON, strictly.
 * Bodies are built with the small encoder below (varint, key,
 * length-delimited), the way gogo's generated Marshal writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/kube/protobuf.h"

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

    envelope(&body, "v1", "Pod", &ns);
    decode_bad(body.d, body.n, "not v1 Pod", "send JSON", NULL);
    envelope(&body, "batch/v1", "Job", &ns);   /* tabled, not accepted yet */
    decode_bad(body.d, body.n, "not batch/v1 Job", NULL);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_privileges),
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
