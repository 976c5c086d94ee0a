/*
 * tests/bench/bench.h - what the benchmarks share: a monotonic clock in
 * seconds and percentiles of sorted samples (sort with bench_cmp first).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <time.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0..1) of n sorted samples, nearest rank. */
static inline double pct(const double *v, size_t n, double p)
{
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

#endif
