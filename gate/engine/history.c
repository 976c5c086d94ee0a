#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/engine/history.h"
#include "twin/util.h"

/* A record the database refused (a full disk, an I/O error): kept in
 * memory, counted by the totals, and written before the next record, so a
 * storage fault never lets an agent's budget forget what it spent. */
typedef struct unwritten {
    char *agent;
    double at, cost_added;
    long pods_disrupted;
} unwritten;

struct gate_history {
    sqlite3 *db;
    sqlite3_stmt *ins, *sum;
    unwritten *pending;
    size_t npending, cappending;
};

static int insert(gate_history *h, const char *agent, double when, long pods_disrupted, double cost_added)
{
    sqlite3_reset(h->ins);
    sqlite3_bind_text(h->ins, 1, agent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(h->ins, 2, when);
    sqlite3_bind_int64(h->ins, 3, pods_disrupted);
    sqlite3_bind_double(h->ins, 4, cost_added);
    int rc = sqlite3_step(h->ins) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(h->ins);
    return rc;
}

static void pending_clear(gate_history *h)
{
    for (size_t i = 0; i < h->npending; i++)
        free(h->pending[i].agent);
    h->npending = 0;
}

int gate_history_open(gate_history **out, const char *path, char *err, size_t errlen)
{
    gate_history *h = twin_xcalloc(1, sizeof(*h));
    const char *sql = "CREATE TABLE IF NOT EXISTS history(agent TEXT NOT NULL, at REAL NOT NULL,"
                      " pods_disrupted INTEGER NOT NULL, cost_added REAL NOT NULL);"
                      "CREATE INDEX IF NOT EXISTS history_agent ON history(agent, at);";
    if (sqlite3_open(path ? path : ":memory:", &h->db) != SQLITE_OK ||
        sqlite3_exec(h->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db, "INSERT INTO history(agent, at, pods_disrupted, cost_added) VALUES(?,?,?,?)", -1,
                           &h->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db,
                           "SELECT coalesce(sum(pods_disrupted),0), coalesce(sum(cost_added),0), count(*) "
                           "FROM history WHERE agent=? AND at > ?",
                           -1, &h->sum, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open history %s: %s", path ? path : ":memory:", sqlite3_errmsg(h->db));
        gate_history_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

void gate_history_close(gate_history *h)
{
    if (!h)
        return;
    sqlite3_finalize(h->ins);
    sqlite3_finalize(h->sum);
    sqlite3_close(h->db);
    pending_clear(h);
    free(h->pending);
    free(h);
}

int gate_history_clear(gate_history *h)
{
    pending_clear(h);
    return sqlite3_exec(h->db, "DELETE FROM history", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int gate_history_record(gate_history *h, const char *agent, double when, long pods_disrupted, double cost_added)
{
    /* what an earlier fault left in memory goes first, in order */
    size_t done = 0;
    while (done < h->npending && insert(h, h->pending[done].agent, h->pending[done].at,
                                        h->pending[done].pods_disrupted, h->pending[done].cost_added) == 0)
        free(h->pending[done++].agent);
    if (done) {
        memmove(h->pending, h->pending + done, (h->npending - done) * sizeof *h->pending);
        h->npending -= done;
    }
    if (!h->npending && insert(h, agent, when, pods_disrupted, cost_added) == 0)
        return 0;
    if (h->npending == h->cappending) {
        h->cappending = h->cappending ? 2 * h->cappending : 16;
        h->pending = twin_xrealloc(h->pending, h->cappending * sizeof *h->pending);
    }
    h->pending[h->npending++] = (unwritten){twin_xstrdup(agent), when, cost_added, pods_disrupted};
    return -1;
}

size_t gate_history_unwritten(const gate_history *h)
{
    return h ? h->npending : 0;
}

json_t *gate_history_totals(gate_history *h, const char *agent, double now, double window_seconds)
{
    sqlite3_reset(h->sum);
    sqlite3_bind_text(h->sum, 1, agent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(h->sum, 2, now - window_seconds);
    json_t *out = NULL;
    if (sqlite3_step(h->sum) == SQLITE_ROW) {
        json_int_t pods = sqlite3_column_int64(h->sum, 0), actions = sqlite3_column_int64(h->sum, 2);
        double cost = sqlite3_column_double(h->sum, 1);
        for (size_t i = 0; i < h->npending; i++) {
            const unwritten *u = &h->pending[i];
            if (!strcmp(u->agent, agent) && u->at > now - window_seconds) {
                pods += u->pods_disrupted;
                cost += u->cost_added;
                actions++;
            }
        }
        out = json_pack("{s:I, s:f, s:I}", "pods_disrupted", pods, "cost_added", cost, "actions", actions);
    }
    sqlite3_reset(h->sum);
    return out;
}
