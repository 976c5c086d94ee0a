/*
 * gate/base/tally.h - counts of what each identity holds open (its watches,
 * its connections), each bounded by a maximum: one agent cannot take every
 * stream or socket from the others.
 *
 * Threads: every function may be called from any thread (one mutex).
 */
#ifndef GATE_BASE_TALLY_H
#define GATE_BASE_TALLY_H

#include <jansson.h>
#include <pthread.h>

typedef struct gate_tally {
    pthread_mutex_t mu;
    json_t *counts;   /* {key: open}, only keys with one or more */
} gate_tally;

void gate_tally_init(gate_tally *t);
void gate_tally_destroy(gate_tally *t);
/* One more for key, unless it holds max already (max <= 0: no limit):
 * 1 when taken, 0 when refused. */
int gate_tally_take(gate_tally *t, const char *key, long max);
/* One fewer for key (one it took). */
void gate_tally_give(gate_tally *t, const char *key);

#endif
