/*
 * metrics.c - metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, synthetic,
 * from the twin's pods (metrics.h says what the numbers are).
 *
 * The shapes are metrics-server's (k8s.io/metrics/pkg/apis/metrics/v1beta1):
 * {metadata, timestamp, window, usage} for a node, {metadata, timestamp,
 * window, containers: [{name, usage}]} for a pod; cpu in nanocores ("n"),
 * memory in KiB ("Ki"), as metrics-server writes them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate/kube/k8s.h"
#include "gate/kube/metrics.h"
#include "twin/quantity.h"
#include "twin/util.h"

#define PREFIX "/apis/metrics.k8s.io/v1beta1"

typedef struct target {
    int nodes;          /* NodeMetrics, else PodMetrics */
    const char *ns;     /* pods in one namespace, or NULL (all) */
    const char *name;   /* one object, or NULL (a list) */
    char *buf;          /* what ns and name point into */
} target;

/* A name or a namespace as Kubernetes allows them (DNS-1123 subdomain
 * characters): anything else is not a metrics path the gate serves. */
static int plain(const char *s)
{
    if (!*s || strlen(s) > 253)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

/* The path after PREFIX: nodes[/N], pods, namespaces/NS/pods[/N].
 * 1 when understood. */
static int parse(const char *path, target *t)
{
    memset(t, 0, sizeof *t);
    if (strncmp(path, PREFIX "/", sizeof PREFIX))
        return 0;
    t->buf = twin_xstrdup(path + sizeof PREFIX);
    char *seg[5] = {0};
    int n = 0;
    for (char *p = t->buf, *save = NULL, *s; n < 5 && (s = strtok_r(p, "/", &save)); p = NULL)
        seg[n++] = s;
    int ok = 0;
    if (n >= 1 && n <= 2 && !strcmp(seg[0], "nodes")) {
        t->nodes = 1;
        t->name = seg[1];
        ok = !t->name || plain(t->name);
    } else if (n == 1 && !strcmp(seg[0], "pods")) {
        ok = 1;
    } else if ((n == 3 || n == 4) && !strcmp(seg[0], "namespaces") && !strcmp(seg[2], "pods")) {
        t->ns = seg[1];
        t->name = seg[3];
        ok = plain(t->ns) && (!t->name || plain(t->name));
    }
    /* a trailing slash, an empty or a sixth segment: not a path of this API */
    if (ok && (path[strlen(path) - 1] == '/' || n == 5 || strstr(path + sizeof PREFIX, "//")))
        ok = 0;
    if (!ok) {
        free(t->buf);
        t->buf = NULL;
    }
    return ok;
}

/* ---- the numbers ---- */

typedef struct usage {
    double cpu, memory;   /* cores, bytes */
} usage;

static void container_usage(const json_t *c, usage *u)
{
    const json_t *req = json_object_get(json_object_get(c, "resources"), "requests");
    double v;
    u->cpu = twin_quantity_parse(json_object_get(req, "cpu"), &v) == 0 && v > 0 ? v : 0.001;
    u->memory = twin_quantity_parse(json_object_get(req, "memory"), &v) == 0 && v > 0 ? v : 4.0 * 1024 * 1024;
}

static json_t *usage_json(const usage *u)
{
    char cpu[32], mem[32];
    snprintf(cpu, sizeof cpu, "%.0fn", round(u->cpu * 1e9));
    snprintf(mem, sizeof mem, "%.0fKi", ceil(u->memory / 1024));
    return json_pack("{s:s, s:s}", "cpu", cpu, "memory", mem);
}

static int running(const json_t *pod)
{
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    return phase && !strcmp(phase, "Running");
}

static json_t *meta_of(const json_t *obj, int namespaced)
{
    const json_t *m = json_object_get(obj, "metadata");
    json_t *out = json_pack("{s:O*, s:O*}", "name", json_object_get(m, "name"), "creationTimestamp",
                            json_object_get(m, "creationTimestamp"));
    if (namespaced)
        json_object_set(out, "namespace", json_object_get(m, "namespace"));
    if (json_object_get(m, "labels"))
        json_object_set(out, "labels", json_object_get(m, "labels"));
    return out;
}

static json_t *pod_metrics(const json_t *pod, const char *now)
{
    json_t *cs = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
        usage u;
        container_usage(c, &u);
        json_array_append_new(cs, json_pack("{s:O*, s:o}", "name", json_object_get(c, "name"), "usage",
                                            usage_json(&u)));
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o}", "kind", "PodMetrics", "apiVersion", "metrics.k8s.io/v1beta1",
                     "metadata", meta_of(pod, 1), "timestamp", now, "window", "30s", "containers", cs);
}

static json_t *node_metrics(const json_t *node, const json_t *pods, const char *now)
{
    const char *name = json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
    usage sum = {0, 0};
    size_t i, j;
    json_t *p, *c;
    json_array_foreach(pods, i, p) {
        const char *on = json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
        if (!running(p) || !on || !name || strcmp(on, name))
            continue;
        json_array_foreach(json_object_get(json_object_get(p, "spec"), "containers"), j, c) {
            usage u;
            container_usage(c, &u);
            sum.cpu += u.cpu;
            sum.memory += u.memory;
        }
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o}", "kind", "NodeMetrics", "apiVersion", "metrics.k8s.io/v1beta1",
                     "metadata", meta_of(node, 0), "timestamp", now, "window", "30s", "usage", usage_json(&sum));
}

/* ---- the request ---- */

static void not_found(gate_resp *resp, const target *t)
{
    char *msg = twin_xasprintf("%s.metrics.k8s.io \"%s\" not found", t->nodes ? "nodes" : "pods", t->name);
    json_t *st = twin_status(404, "NotFound", msg);
    json_object_set_new(st, "details", json_pack("{s:s, s:s, s:s}", "name", t->name, "group", "metrics.k8s.io",
                                                 "kind", t->nodes ? "nodes" : "pods"));
    gate_resp_json(resp, 404, st);
    json_decref(st);
    free(msg);
}

int gate_metrics(const gate_req *rq, gate_resp *resp, twin *t)
{
    target tg;
    if (!parse(rq->path, &tg))
        return 0;
    if (strcmp(rq->method, "GET")) {
        gate_resp_status(resp, 405, "MethodNotAllowed", "the metrics API is read-only (GET)");
        free(tg.buf);
        return 1;
    }
    const char *ls = gate_req_arg(rq, "labelSelector"), *fs = gate_req_arg(rq, "fieldSelector");
    char err[512], now[32];
    time_t secs = time(NULL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *pods = twin_list(t, TWIN_AFTER, "Pod", tg.nodes ? NULL : tg.ns, tg.nodes ? NULL : ls,
                             tg.nodes ? NULL : fs, err, sizeof err);
    json_t *nodes = tg.nodes && pods ? twin_list(t, TWIN_AFTER, "Node", NULL, ls, fs, err, sizeof err) : NULL;
    if (!pods || (tg.nodes && !nodes)) {
        gate_resp_status(resp, 400, "BadRequest", err);
        goto out;
    }
    json_t *items = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(tg.nodes ? nodes : pods, i, o) {
        const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
        if (tg.name && (!name || strcmp(name, tg.name)))
            continue;
        if (tg.nodes)
            json_array_append_new(items, node_metrics(o, pods, now));
        else if (running(o))
            json_array_append_new(items, pod_metrics(o, now));
    }
    if (tg.name) {
        if (json_array_size(items))
            gate_resp_json(resp, 200, json_array_get(items, 0));
        else
            not_found(resp, &tg);
    } else {
        json_t *list = json_pack("{s:s, s:s, s:{}, s:O}", "kind", tg.nodes ? "NodeMetricsList" : "PodMetricsList",
                                 "apiVersion", "metrics.k8s.io/v1beta1", "metadata", "items", items);
        gate_resp_json(resp, 200, list);
        json_decref(list);
    }
    json_decref(items);
out:
    json_decref(pods);
    json_decref(nodes);
    free(tg.buf);
    return 1;
}

char *gate_metrics_wire(const gate_req *rq)
{
    target tg;
    if (!parse(rq->path, &tg))
        return NULL;
    twin_buf b = {0};
    twin_buf_add(&b, PREFIX, sizeof PREFIX - 1);
    if (tg.nodes) {
        twin_buf_add(&b, "/nodes", 6);
    } else if (tg.ns) {
        twin_buf_add(&b, "/namespaces/", 12);
        twin_buf_add(&b, tg.ns, strlen(tg.ns));
        twin_buf_add(&b, "/pods", 5);
    } else {
        twin_buf_add(&b, "/pods", 5);
    }
    if (tg.name) {
        twin_buf_add(&b, "/", 1);
        twin_buf_add(&b, tg.name, strlen(tg.name));
    }
    static const char *const OPTS[] = {"labelSelector", "fieldSelector", NULL};
    for (int i = 0; OPTS[i]; i++) {
        const char *v = gate_req_arg(rq, OPTS[i]);
        if (!v)
            continue;
        twin_buf_add(&b, memchr(b.s, '?', b.len) ? "&" : "?", 1);
        twin_buf_add(&b, OPTS[i], strlen(OPTS[i]));
        twin_buf_add(&b, "=", 1);
        gate_url_encode(&b, v);
    }
    free(tg.buf);
    return b.s;
}
