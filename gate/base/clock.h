/*
 * gate/base/clock.h - the clocks the gate reads: the wall clock (records,
 * approvals, expiries), a monotonic one (durations, timeouts), and a
 * deadline for pthread_cond_timedwait.
 */
#ifndef GATE_BASE_CLOCK_H
#define GATE_BASE_CLOCK_H

#include <time.h>

/* Seconds since the epoch (CLOCK_REALTIME). */
double gate_now(void);
/* Seconds on CLOCK_MONOTONIC: only differences mean anything. */
double gate_mono(void);
/* CLOCK_REALTIME `seconds` from now, for pthread_cond_timedwait. */
struct timespec gate_deadline(double seconds);

#endif
