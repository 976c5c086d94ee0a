/*
 * bench_twin.c - figures for `make bench`: import time of a snapshot, the
 * twin's own write path, simulate+judge latency of small actions, peak
 * memory.
 *
 *   bench_twin SNAPSHOT [ACTIONS]
 *
 * SNAPSHOT is a JSON file (a List, as bin/gen-cluster writes) or anything
 * twin_import_path reads (a YAML file, a directory such as fixtures/demo).
 * One process per snapshot size, so the peak RSS it prints is that size's.
 *
 * The twin alone (no policies, no HTTP parsing): a scale of one Deployment
 * by one pod through /scale, applied and committed (then scaled back, also
 * timed), and applied and rolled back; an annotation on one Pod (a single
 * pod write and the controllers it wakes), rolled back.  Each figure is
 * twin_apply + twin_commit or twin_rollback + twin_result_free.
 *
 * Then the gate: actions are dry runs (dryRun=All): simulated, judged by
 * the default policies, rolled back, so every action sees the same twin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "gate/engine/engine.h"
#include "tests/bench/bench.h"
#include "twin/twin.h"


typedef struct kind_bench {
    const char *label;
    const char *method, *fmt, *ctype, *body;
} kind_bench;

/* One operation on the twin alone, timed (microseconds): apply, then
 * commit or roll back, then free the result.  *code receives the status. */
static double timed_op(twin *t, const twin_request *req, int commit, int *code)
{
    char err[512];
    twin_result res;
    double t0 = now_s();
    if (twin_apply(t, req, &res, err, sizeof err) < 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    *code = res.code;
    if (commit)
        twin_commit(t);
    else
        twin_rollback(t);
    twin_result_free(&res);
    return (now_s() - t0) * 1e6;
}

static void report(const char *label, double *lat, size_t n, size_t bad)
{
    qsort(lat, n, sizeof(double), cmp_d);
    printf("  %-36s p50 %7.1f us  p99 %7.1f us  (%zu actions", label, pct(lat, n, 0.5), pct(lat, n, 0.99), n);
    if (bad)
        printf(", %zu not 2xx", bad);
    printf(")\n");
}

/* The twin's write path without the gate: see the header. */
static void bench_twin_alone(twin *t, const json_t *deps, size_t nact)
{
    char err[512];
    size_t ndep = json_array_size(deps);
    double *up = calloc(nact, sizeof(double)), *down = calloc(nact, sizeof(double));
    double *rb = calloc(nact, sizeof(double));
    size_t bad_up = 0, bad_down = 0, bad_rb = 0;
    for (size_t i = 0; i < nact && ndep; i++) {
        const json_t *d = json_array_get(deps, (i * 7919) % ndep);
        const char *ns = json_string_value(json_object_get(json_object_get(d, "metadata"), "namespace"));
        const char *name = json_string_value(json_object_get(json_object_get(d, "metadata"), "name"));
        json_t *cur = twin_get(t, TWIN_AFTER, "Deployment", ns, name);
        json_int_t r = json_integer_value(json_object_get(json_object_get(cur, "spec"), "replicas"));
        json_decref(cur);
        json_t *more = json_pack("{s:{s:I}}", "spec", "replicas", r + 1);
        json_t *less = json_pack("{s:{s:I}}", "spec", "replicas", r);
        twin_request req = {.verb = TWIN_PATCH, .kind = "Deployment", .ns = ns, .name = name,
                            .subresource = "scale", .patch_type = TWIN_PATCH_MERGE, .body = more};
        int code;
        rb[i] = timed_op(t, &req, 0, &code);
        bad_rb += code / 100 != 2;
        up[i] = timed_op(t, &req, 1, &code);
        bad_up += code / 100 != 2;
        req.body = less;
        down[i] = timed_op(t, &req, 1, &code);
        bad_down += code / 100 != 2;
        json_decref(more);
        json_decref(less);
    }
    if (ndep) {
        report("twin: scale +1 pod, rollback", rb, nact, bad_rb);
        report("twin: scale +1 pod, commit", up, nact, bad_up);
        report("twin: scale -1 pod, commit", down, nact, bad_down);
    }

    json_t *pods = twin_list(t, TWIN_AFTER, "Pod", NULL, NULL, NULL, err, sizeof err);
    size_t npod = json_array_size(pods), bad = 0;
    json_t *body = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "airlock.dev/bench", "touched");
    for (size_t i = 0; i < nact && npod; i++) {
        const json_t *p = json_array_get(pods, (i * 7919) % npod);
        twin_request req = {.verb = TWIN_PATCH, .kind = "Pod", .patch_type = TWIN_PATCH_MERGE, .body = body,
                            .ns = json_string_value(json_object_get(json_object_get(p, "metadata"), "namespace")),
                            .name = json_string_value(json_object_get(json_object_get(p, "metadata"), "name"))};
        int code;
        rb[i] = timed_op(t, &req, 0, &code);
        bad += code / 100 != 2;
    }
    if (npod)
        report("twin: annotate a Pod, rollback", rb, nact, bad);
    json_decref(body);
    json_decref(pods);
    free(up);
    free(down);
    free(rb);
}

/* Reads a JSON snapshot whole (jansson's file reader goes a character at
 * a time); NULL after printing why. */
static json_t *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long fsize = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)fsize + 1);
    if (!text || fread(text, 1, (size_t)fsize, f) != (size_t)fsize) {
        fprintf(stderr, "%s: read error\n", path);
        fclose(f);
        free(text);
        return NULL;
    }
    fclose(f);
    json_error_t je;
    json_t *doc = json_loadb(text, (size_t)fsize, 0, &je);
    free(text);
    if (!doc)
        fprintf(stderr, "%s:%d: %s\n", path, je.line, je.text);
    return doc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_twin SNAPSHOT [ACTIONS]\n");
        return 3;
    }
    size_t nact = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    char err[1024];
    struct stat sb;
    size_t len = strlen(argv[1]);
    int is_json = stat(argv[1], &sb) == 0 && S_ISREG(sb.st_mode) && len > 5 && !strcmp(argv[1] + len - 5, ".json");
    double t0 = now_s();
    json_t *doc = NULL;
    if (is_json && !(doc = read_json(argv[1])))
        return 1;
    double t_parse = now_s() - t0;
    twin *t;
    if (twin_open(&t, NULL, err, sizeof err) < 0 || twin_load_pricing(t, "fixtures/pricing.json", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double t1 = now_s();
    if (doc) {
        json_t *docs = json_pack("[O]", doc);
        if (twin_import_docs(t, docs, argv[1], err, sizeof err) < 0) {
            fprintf(stderr, "import: %s\n", err);
            return 1;
        }
        json_decref(docs);
    } else if (twin_import_path(t, argv[1], err, sizeof err) < 0) {
        fprintf(stderr, "import: %s\n", err);
        return 1;
    }
    double t_import = now_s() - t1;
    long nobj = twin_object_count(t);

    /* the deployments to act on: spread over the cluster */
    json_t *deps = twin_list(t, TWIN_AFTER, "Deployment", NULL, NULL, NULL, err, sizeof err);
    size_t ndep = json_array_size(deps);
    gate_policy_set *ps;
    if (gate_policy_load(&ps, "lua-policies", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    gate_history *h;
    gate_history_open(&h, NULL, err, sizeof err);
    gate_engine e = {.twin = t, .policies = ps, .history = h};

    static const kind_bench benches[] = {
        {"label a ConfigMap (1 object)", "PATCH", "/api/v1/namespaces/%s/configmaps/%s?dryRun=All",
         "application/merge-patch+json", "{\"metadata\":{\"labels\":{\"touched\":\"yes\"}}}"},
        {"scale a Deployment 3->4 (+1 pod)", "PATCH", "/apis/apps/v1/namespaces/%s/deployments/%s/scale?dryRun=All",
         "application/merge-patch+json", "{\"spec\":{\"replicas\":4}}"},
        {"scale a Deployment 3->2 (-1 pod)", "PATCH", "/apis/apps/v1/namespaces/%s/deployments/%s/scale?dryRun=All",
         "application/merge-patch+json", "{\"spec\":{\"replicas\":2}}"},
    };
    printf("snapshot %s: %ld objects; read+parse %.2f s, import %.2f s (%.0f objects/s), total %.2f s\n", argv[1],
           nobj, t_parse, t_import, nobj / t_import, t_parse + t_import);
    /* BENCH_TWIN_ONLY=1 or BENCH_GATE_ONLY=1 runs one half (profiles) */
    if (!getenv("BENCH_GATE_ONLY"))
        bench_twin_alone(t, deps, nact);
    int gate_half = !getenv("BENCH_TWIN_ONLY");
    double *lat = calloc(nact, sizeof(double));
    for (size_t b = 0; gate_half && b < sizeof benches / sizeof benches[0]; b++) {
        const kind_bench *kb = &benches[b];
        json_t *headers = json_pack("{s:s}", "Content-Type", kb->ctype);
        json_t *body = json_loads(kb->body, 0, NULL);
        size_t allowed = 0;
        for (size_t i = 0; i < nact; i++) {
            json_t *d = json_array_get(deps, (i * 7919) % ndep);
            const char *ns = json_string_value(json_object_get(json_object_get(d, "metadata"), "namespace"));
            const char *name = json_string_value(json_object_get(json_object_get(d, "metadata"), "name"));
            char path[512];
            snprintf(path, sizeof path, kb->fmt, ns, name);
            gate_decision dec;
            gate_decide(&e, "bench", kb->method, path, headers, body, NULL, 0, &dec);
            lat[i] = dec.micros;
            allowed += dec.verdict == GATE_ALLOW;
            gate_decision_free(&dec);
        }
        qsort(lat, nact, sizeof(double), cmp_d);
        printf("  %-36s p50 %7.1f us  p99 %7.1f us  (%zu actions, %zu allowed)\n", kb->label, pct(lat, nact, 0.5),
               pct(lat, nact, 0.99), nact, allowed);
        json_decref(headers);
        json_decref(body);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  peak RSS %.1f MiB\n", ru.ru_maxrss / 1024.0);
    free(lat);
    json_decref(deps);
    json_decref(doc);
    gate_history_close(h);
    gate_policy_free(ps);
    twin_close(t);
    return 0;
}
