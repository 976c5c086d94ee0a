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
    double at;
    gate_history_entry e;
} unwritten;

struct gate_history {
    sqlite3 *db;
    sqlite3_stmt *ins, *sum;
    unwritten *pending;
    size_t npending, cappending;
};

static int insert(gate_history *h, const char *agent, double when, const gate_history_entry *e)
{
    sqlite3_reset(h->ins);
    sqlite3_bind_text(h->ins, 1, agent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(h->ins, 2, when);
    sqlite3_bind_int64(h->ins, 3, e->pods_disrupted);
    sqlite3_bind_double(h->ins, 4, e->cost_added);
    sqlite3_bind_int64(h->ins, 5, e->instances_disrupted);
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

/* A history written before AWS instances were counted gains their column. */
static int add_instances(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('history') WHERE name='instances_disrupted'", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    int has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (has)
        return 0;
    return sqlite3_exec(db, "ALTER TABLE history ADD COLUMN instances_disrupted INTEGER NOT NULL DEFAULT 0", NULL,
                        NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
}

int gate_history_open(gate_history **out, const char *path, char *err, size_t errlen)
{
    gate_history *h = twin_xcalloc(1, sizeof(*h));
    const char *sql = "CREATE TABLE IF NOT EXISTS history(agent TEXT NOT NULL, at REAL NOT NULL,"
                      " pods_disrupted INTEGER NOT NULL, cost_added REAL NOT NULL);"
                      "CREATE INDEX IF NOT EXISTS history_agent ON history(agent, at);";
    if (sqlite3_open(path ? path : ":memory:", &h->db) != SQLITE_OK ||
        sqlite3_exec(h->db, sql, NULL, NULL, NULL) != SQLITE_OK || add_instances(h->db) < 0 ||
        sqlite3_prepare_v2(h->db,
                           "INSERT INTO history(agent, at, pods_disrupted, cost_added, instances_disrupted) "
                           "VALUES(?,?,?,?,?)",
                           -1, &h->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db,
                           "SELECT coalesce(sum(pods_disrupted),0), coalesce(sum(cost_added),0), count(*), "
                           "coalesce(sum(instances_disrupted),0) FROM history WHERE agent=? AND at > ?",
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

gate_history_entry gate_history_entry_of(const json_t *impact)
{
    double delta = json_number_value(json_object_get(json_object_get(impact, "cost"), "delta"));
    gate_history_entry e = {
        .pods_disrupted = (long)json_integer_value(json_object_get(impact, "pods_disrupted")),
        .instances_disrupted = (long)json_integer_value(json_object_get(impact, "instances_disrupted")),
        .cost_added = delta > 0 ? delta : 0,
    };
    return e;
}

int gate_history_record(gate_history *h, const char *agent, double when, const gate_history_entry *e)
{
    /* what an earlier fault left in memory goes first, in order */
    size_t done = 0;
    while (done < h->npending && insert(h, h->pending[done].agent, h->pending[done].at, &h->pending[done].e) == 0)
        free(h->pending[done++].agent);
    if (done) {
        memmove(h->pending, h->pending + done, (h->npending - done) * sizeof *h->pending);
        h->npending -= done;
    }
    if (!h->npending && insert(h, agent, when, e) == 0)
        return 0;
    if (h->npending == h->cappending) {
        h->cappending = h->cappending ? 2 * h->cappending : 16;
        h->pending = twin_xrealloc(h->pending, h->cappending * sizeof *h->pending);
    }
    h->pending[h->npending++] = (unwritten){twin_xstrdup(agent), when, *e};
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
        json_int_t instances = sqlite3_column_int64(h->sum, 3);
        double cost = sqlite3_column_double(h->sum, 1);
        for (size_t i = 0; i < h->npending; i++) {
            const unwritten *u = &h->pending[i];
            if (!strcmp(u->agent, agent) && u->at > now - window_seconds) {
                pods += u->e.pods_disrupted;
                instances += u->e.instances_disrupted;
                cost += u->e.cost_added;
                actions++;
            }
        }
        out = json_pack("{s:I, s:I, s:f, s:I}", "pods_disrupted", pods, "instances_disrupted", instances, "cost_added",
                        cost, "actions", actions);
    }
    sqlite3_reset(h->sum);
    return out;
}
