/*
 * bench_twin.c - figures for `make bench`: import time of a snapshot,
 * simulate+judge latency of small actions, peak memory.
 *
 *   bench_twin SNAPSHOT.json [ACTIONS]
 *
 * One process per snapshot size, so the peak RSS it prints is that size's.
 * Actions are dry runs (dryRun=All): simulated, judged by the default
 * policies, rolled back, so every action sees the same twin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gate/engine.h"
#include "tests/bench/bench.h"
#include "twin/twin.h"


typedef struct kind_bench {
    const char *label;
    const char *method, *fmt, *ctype, *body;
} kind_bench;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_twin SNAPSHOT.json [ACTIONS]\n");
        return 3;
    }
    size_t nact = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    char err[1024];
    double t0 = now_s();
    json_error_t je;
    /* read whole, then parse: jansson's file reader goes a character at a time */
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long fsize = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)fsize + 1);
    if (!text || fread(text, 1, (size_t)fsize, f) != (size_t)fsize) {
        fprintf(stderr, "%s: read error\n", argv[1]);
        return 1;
    }
    fclose(f);
    json_t *doc = json_loadb(text, (size_t)fsize, 0, &je);
    free(text);
    if (!doc) {
        fprintf(stderr, "%s:%d: %s\n", argv[1], je.line, je.text);
        return 1;
    }
    double t_parse = now_s() - t0;
    twin *t;
    if (twin_open(&t, NULL, err, sizeof err) < 0 || twin_load_pricing(t, "fixtures/pricing.json", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    json_t *docs = json_pack("[O]", doc);
    double t1 = now_s();
    if (twin_import_docs(t, docs, argv[1], err, sizeof err) < 0) {
        fprintf(stderr, "import: %s\n", err);
        return 1;
    }
    double t_import = now_s() - t1;
    long nobj = twin_object_count(t);
    json_decref(docs);

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
    double *lat = calloc(nact, sizeof(double));
    for (size_t b = 0; b < sizeof benches / sizeof benches[0]; b++) {
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
