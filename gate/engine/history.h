/*
 * gate/engine/history.h - what each agent has already done, for budgets: one row per
 * allowed mutation (time, pods and AWS instances disrupted at the instant,
 * hourly cost added),
 * kept in SQLite so a rolling window survives the process when the store is
 * a file.
 */
#ifndef GATE_HISTORY_H
#define GATE_HISTORY_H

#include <jansson.h>
#include <stddef.h>

typedef struct gate_history gate_history;

/* path NULL keeps the history in memory. */
int gate_history_open(gate_history **out, const char *path, char *err, size_t errlen);
void gate_history_close(gate_history *h);   /* NULL is a no-op */
/* Forgets every record (a runner starting the next independent scenario). */
int gate_history_clear(gate_history *h);
typedef struct gate_history_entry {
    long pods_disrupted;        /* at the instant */
    long instances_disrupted;   /* AWS instances, at the instant */
    double cost_added;          /* hourly, settled; > 0 */
} gate_history_entry;

/* What an impact record adds to a budget. */
gate_history_entry gate_history_entry_of(const json_t *impact);
int gate_history_record(gate_history *h, const char *agent, double when, const gate_history_entry *e);
/* A record the database refused (-1 above) is not lost: it is kept in
 * memory, counted by gate_history_totals, and written before the next
 * record. How many are waiting so. */
size_t gate_history_unwritten(const gate_history *h);
/* {"pods_disrupted": int, "instances_disrupted": int, "cost_added": number,
 * "actions": int} over
 * (now - window, now]; new reference. */
json_t *gate_history_totals(gate_history *h, const char *agent, double now, double window_seconds);

#endif
