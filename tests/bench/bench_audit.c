/*
 * bench_audit.c - figures for `make bench`: the latency of gate_audit_append
 * (what the server pays before answering each mutation), and how long
 * closing the log takes to commit what is still pending.
 *
 *   bench_audit DIR [APPENDS]
 *
 * Makes a fresh log (keyed, as the server's) in a new directory under DIR,
 * which should be on the disk the server uses (not a tmpfs: the figure is
 * mostly fsync), appends APPENDS small decision records (default 500) one
 * after another, and prints their median and p99 latency and appends/s.
 * Uses only gate/ops/audit.h's public calls, so that it builds against any
 * version of gate/ops/audit.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gate/ops/audit.h"
#include "tests/bench/bench.h"
#include "twin/util.h"


int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_audit DIR [APPENDS]\n");
        return 3;
    }
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 500;
    if (n == 0)
        n = 1;
    char *dir = twin_xasprintf("%s/audit-bench.XXXXXX", argv[1]);
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    char *repo = twin_xasprintf("%s/audit", dir), *key = twin_xasprintf("%s/audit.key", dir);
    char err[1024];
    gate_audit *a;
    if (gate_audit_open(&a, repo, key, err, sizeof err) < 0) {
        fprintf(stderr, "bench_audit: %s\n", err);
        return 1;
    }
    double *lat = twin_xmalloc(n * sizeof *lat);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s}", "type", "decision", "agent", "bench-bot",
                                "verdict", i % 7 ? "allow" : "deny", "request", "method", "PATCH", "path",
                                "/apis/apps/v1/namespaces/shop/deployments/cart", "message", "ok");
        double s = now_s();
        int rc = gate_audit_append(a, rec, NULL, NULL, err, sizeof err);
        lat[i] = now_s() - s;
        json_decref(rec);
        if (rc < 0) {
            fprintf(stderr, "bench_audit: append %zu: %s\n", i + 1, err);
            return 1;
        }
    }
    double total = now_s() - t0;
    double c0 = now_s();
    gate_audit_close(a);
    double closing = now_s() - c0;
    qsort(lat, n, sizeof *lat, cmp_d);
    printf("audit append (%zu small records, keyed): p50 %.3f ms  p99 %.3f ms  max %.3f ms  %.0f appends/s; "
           "close (commits what is pending) %.1f ms\n",
           n, pct(lat, n, 0.5) * 1e3, pct(lat, n, 0.99) * 1e3, lat[n - 1] * 1e3, (double)n / total, closing * 1e3);
    json_t *recs = gate_audit_read(repo, err, sizeof err);
    if (!recs || json_array_size(recs) != n) {
        fprintf(stderr, "bench_audit: read back %zu records, wanted %zu%s%s\n", recs ? json_array_size(recs) : 0, n,
                recs ? "" : ": ", recs ? "" : err);
        return 1;
    }
    json_decref(recs);
    char *cmd = twin_xasprintf("rm -rf '%s'", dir);
    int rc = system(cmd);
    free(cmd);
    free(lat);
    free(repo);
    free(key);
    free(dir);
    return rc == 0 ? 0 : 1;
}
