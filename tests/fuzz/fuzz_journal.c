/*
 * fuzz_journal.c - the audit log's readers (gate/ops/audit.h) on a journal
 * of arbitrary bytes: gate_audit_read, gate_audit_verify,
 * gate_audit_open_decisions, and gate_audit_open's recovery, all of which
 * parse DIR/airlock-journal, the write-ahead journal a crash may leave
 * torn or a person may edit.
 *
 * Input: the journal file's bytes, put beside an empty audit repository
 * (made once).
 *
 * Invariants: a reader returns a result or an error with a message, never
 * half of one; verify reports a problem for whatever it cannot accept
 * (it returns 0 only when it found none); open either refuses the log with
 * a message or recovers it, and a recovered log then takes an append and
 * verifies, open decisions apart (nothing is committed that does not
 * continue the chain).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "gate/ops/audit.h"
#include "tests/fuzz/fuzz.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/fuzz_journal.XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
}

/* An empty audit repository at DIR/repo (made anew for each input: a
 * recovery may have committed the last input's lines). */
static char *fresh_repo(void)
{
    static int n;
    char *repo = malloc(128);
    FUZZ_CHECK(repo != NULL, "out of memory");
    snprintf(repo, 128, "%s/repo%d", dir, n++);
    char err[512];
    gate_audit *a = NULL;
    FUZZ_CHECK(gate_audit_open(&a, repo, NULL, err, sizeof err) == 0, "open: %s", err);
    gate_audit_close(a);
    return repo;
}

static void remove_tree(const char *path)
{
    char *cmd = malloc(strlen(path) + 16);
    FUZZ_CHECK(cmd != NULL, "out of memory");
    sprintf(cmd, "rm -rf '%s'", path);
    FUZZ_CHECK(system(cmd) == 0, "rm -rf %s", path);
    free(cmd);
}

FUZZ_TARGET(journal)
{
    if (!dir[0])
        setup();
    char *repo = fresh_repo();
    char path[192], err[1024];
    snprintf(path, sizeof path, "%s/airlock-journal", repo);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0, "writing %s", path);

    err[0] = '\0';
    json_t *recs = gate_audit_read(repo, err, sizeof err);
    FUZZ_CHECK(recs ? json_is_array(recs) : err[0] != '\0', "read: no result and no message");
    json_decref(recs);
    err[0] = '\0';
    json_t *open = gate_audit_open_decisions(repo, err, sizeof err);
    FUZZ_CHECK(open ? json_is_array(open) : err[0] != '\0', "open decisions: no result and no message");
    json_decref(open);
    json_t *report = NULL;
    err[0] = '\0';
    int v = gate_audit_verify(repo, NULL, &report, err, sizeof err);
    FUZZ_CHECK(v == -1 ? err[0] != '\0' : report != NULL, "verify %d without a report or a message", v);
    if (v >= 0)
        FUZZ_CHECK((v == 0) == (json_array_size(json_object_get(report, "problems")) == 0),
                   "verify said %d with %zu problems", v, json_array_size(json_object_get(report, "problems")));
    json_decref(report);

    /* recovery: refused with a message, or the log continues and verifies */
    gate_audit *a = NULL;
    err[0] = '\0';
    if (gate_audit_open(&a, repo, NULL, err, sizeof err) == 0) {
        json_t *rec = json_pack("{s:s}", "type", "fuzz");
        char *id = NULL;
        FUZZ_CHECK(gate_audit_append(a, rec, NULL, &id, err, sizeof err) == 0, "append after recovery: %s", err);
        free(id);
        json_decref(rec);
        gate_audit_close(a);
        report = NULL;
        v = gate_audit_verify(repo, NULL, &report, err, sizeof err);
        /* intact: its only problems may be open decisions the journal held */
        FUZZ_CHECK(v >= 0 && json_array_size(json_object_get(report, "problems")) ==
                                 (size_t)json_integer_value(json_object_get(report, "open_decisions")),
                   "a recovered log does not verify: %s",
                   report ? json_dumps(json_object_get(report, "problems"), JSON_COMPACT) : err);
        json_decref(report);
    } else {
        FUZZ_CHECK(err[0] != '\0', "open refused without a message");
    }
    remove_tree(repo);
    free(repo);
    return 0;
}
