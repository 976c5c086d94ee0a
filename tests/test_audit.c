/*
 * tests/test_audit.c - unit tests for gate/audit: records in, records out
 * (seq, prev, id, time, attachments, the commit message), reopening, the
 * chain under concurrent appends, and verify against every kind of
 * tampering, done here with libgit2 as someone with write access to the
 * repository would: a record edited (with and without its hash fixed in the
 * commit message), removed (first, middle, last), reordered, a merge
 * commit, a file slipped into a tree, an attachment edited.  And the
 * write-ahead journal: records readable before the flusher commits them,
 * a crash (the handle dropped with records only journaled) recovered by
 * the next open, a torn last line ignored, a journal line that breaks the
 * chain or was edited refused by open and reported by verify.  And the
 * files' modes: a log made under a permissive umask is private all the
 * same (nothing in it open to group or others, the flusher's objects
 * included), and one found open is tightened at open.
 *
 * Each test gets a scratch directory with the log at DIR/audit and its key
 * at DIR/audit.key, and a log of four records already written (record 1
 * carries the attachment state.json).
 */
#define _XOPEN_SOURCE 700   /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <git2.h>
#include <gnutls/crypto.h>
#include <pthread.h>

#include "gate/base/fault.h"
#include "gate/ops/audit.h"
#include "twin/util.h"

#define T0 1764000000.0

typedef struct fixture {
    char dir[64];
    char *repo;   /* dir/audit */
    char *key;    /* dir/audit.key */
    char *tip;    /* dir/audit.key.tip */
} fixture;

static json_t *decision(const char *agent, const char *verdict, const char *method, const char *path, double time)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:o}, s:{s:s, s:s, s:s, s:s}, s:s, s:f}", "type",
                     "decision", "agent", agent, "verdict", verdict, "request", "method", method, "path", path,
                     "content_type", "application/merge-patch+json", "body", json_pack("{s:{s:i}}", "spec", "replicas",
                                                                                       3),
                     "action", "verb", "patch", "kind", "Deployment", "namespace", "shop", "name", "cart", "message",
                     "ok", "time", time);
}

static void append_ok(gate_audit *a, json_t *rec, const json_t *att)
{
    char err[1024];
    char *id = NULL;
    int rc = gate_audit_append(a, rec, att, &id, err, sizeof err);
    if (rc < 0)
        fail_msg("append: %s", err);
    assert_non_null(id);
    assert_int_equal(strlen(id), 16);
    free(id);
    json_decref(rec);
}

/* The standard log: start (with state.json), allow, deny, allow. */
static void write_log(fixture *f)
{
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    json_t *att = json_pack("{s:{s:[{s:s}]}}", "state.json", "items", "kind", "Namespace");
    append_ok(a, json_pack("{s:s, s:s, s:f}", "type", "start", "agent", "airlock", "time", T0), att);
    json_decref(att);
    append_ok(a, decision("ops-bot", "allow", "PATCH", "/apis/apps/v1/namespaces/shop/deployments/cart", T0 + 1),
              NULL);
    append_ok(a, decision("ops-bot", "deny", "DELETE", "/api/v1/namespaces/payments", T0 + 2), NULL);
    append_ok(a, decision("ci", "allow", "PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", T0 + 3), NULL);
    gate_audit_close(a);
}

static int setup(void **state)
{
    fixture *f = twin_xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_audit.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->repo = twin_xasprintf("%s/audit", f->dir);
    f->key = twin_xasprintf("%s/audit.key", f->dir);
    f->tip = twin_xasprintf("%s/audit.key.tip", f->dir);
    write_log(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char *cmd = twin_xasprintf("rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(cmd);
    free(f->repo);
    free(f->key);
    free(f->tip);
    free(f);
    return rc == 0 ? 0 : -1;
}

static json_t *read_ok(const char *repo)
{
    char err[1024];
    json_t *recs = gate_audit_read(repo, err, sizeof err);
    if (!recs)
        fail_msg("read: %s", err);
    return recs;
}

static void sha256_of(const char *s, char out[65])
{
    unsigned char d[32];
    assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, s, strlen(s), d), 0);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The sha256 of a record as read back (without "commit"), dumped again in
 * the canonical form. */
static void record_sha(const json_t *rec, char out[65])
{
    json_t *c = json_deep_copy(rec);
    json_object_del(c, "commit");
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    sha256_of(s, out);
    free(s);
    json_decref(c);
}

/* verify's report, checked to hold `want` problems (0: intact), each of
 * `needles` found in some problem's text. */
static json_t *verify_expect(fixture *f, const char *key, int want_rc, const char *const *needles)
{
    char err[1024];
    json_t *report = NULL;
    int rc = gate_audit_verify(f->repo, key, &report, err, sizeof err);
    if (rc < 0)
        fail_msg("verify: %s", err);
    char *text = json_dumps(report, JSON_INDENT(1));
    if (rc != want_rc)
        fail_msg("verify returned %d, wanted %d: %s", rc, want_rc, text);
    for (; needles && *needles; needles++)
        if (!strstr(text, *needles))
            fail_msg("no problem mentions \"%s\": %s", *needles, text);
    free(text);
    assert_int_equal(json_is_true(json_object_get(report, "ok")), want_rc == 0);
    return report;
}

/* ---- tampering, with libgit2 as an intruder would ---------------------- */

typedef struct tamper {
    int order[8];          /* the seqs of the original records kept, in their new order */
    size_t n;
    int edit;              /* this record gets verdict "allow" and agent "intruder" (0: none) */
    int fix_sha;           /* and its commit message the new sha256 */
    int extra_file;        /* this record's tree gets notes.txt (0: none) */
    int edit_attachment;   /* this record's state.json is changed (0: none) */
    int merge;             /* this record's commit gets a second parent, the root (0: none) */
} tamper;

#define TAMPER(...) ((tamper){__VA_ARGS__})

static void check(int rc, const char *what)
{
    if (rc < 0)
        fail_msg("%s: %s", what, git_error_last() ? git_error_last()->message : "?");
}

/* Rewrites refs/heads/main as the tamper says, keeping every commit's
 * author, committer and message (but for a fixed sha). */
static void rewrite(fixture *f, tamper t)
{
    git_libgit2_init();
    git_repository *repo;
    check(git_repository_open(&repo, f->repo), "open");
    git_oid chain[16], oid;
    size_t n = 0;
    check(git_reference_name_to_id(&oid, repo, "refs/heads/main"), "main");
    for (;;) {
        git_commit *c;
        check(git_commit_lookup(&c, repo, &oid), "lookup");
        chain[n++] = oid;
        int more = git_commit_parentcount(c) > 0;
        if (more)
            git_oid_cpy(&oid, git_commit_parent_id(c, 0));
        git_commit_free(c);
        if (!more)
            break;
    }
    for (size_t i = 0; i < n / 2; i++) {
        git_oid x = chain[i];
        chain[i] = chain[n - 1 - i];
        chain[n - 1 - i] = x;
    }
    git_commit *prev = NULL, *root = NULL;
    check(git_commit_lookup(&root, repo, &chain[0]), "root");
    for (size_t k = 0; k < t.n; k++) {
        int seq = t.order[k];
        git_commit *c;
        git_tree *tree;
        git_treebuilder *b;
        check(git_commit_lookup(&c, repo, &chain[seq - 1]), "lookup");
        check(git_commit_tree(&tree, c), "tree");
        check(git_treebuilder_new(&b, repo, tree), "builder");
        char *msg = twin_xstrdup(git_commit_message(c));
        if (seq == t.edit) {
            const git_tree_entry *e = git_tree_entry_byname(tree, "record.json");
            git_blob *blob;
            check(git_blob_lookup(&blob, repo, git_tree_entry_id(e)), "blob");
            json_t *rec = json_loadb(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), 0, NULL);
            git_blob_free(blob);
            json_object_set_new(rec, "verdict", json_string("allow"));
            json_object_set_new(rec, "agent", json_string("intruder"));
            char *bytes = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(rec);
            check(git_blob_create_from_buffer(&oid, repo, bytes, strlen(bytes)), "new blob");
            check(git_treebuilder_insert(NULL, b, "record.json", &oid, GIT_FILEMODE_BLOB), "insert");
            if (t.fix_sha) {
                char sha[65];
                sha256_of(bytes, sha);
                char *at = strstr(msg, "record-sha256: ");
                assert_non_null(at);
                memcpy(at + strlen("record-sha256: "), sha, 64);
            }
            free(bytes);
        }
        if (seq == t.extra_file) {
            check(git_blob_create_from_buffer(&oid, repo, "hello", 5), "extra blob");
            check(git_treebuilder_insert(NULL, b, "notes.txt", &oid, GIT_FILEMODE_BLOB), "insert extra");
        }
        if (seq == t.edit_attachment) {
            const char *s = "{\"items\":[]}";
            check(git_blob_create_from_buffer(&oid, repo, s, strlen(s)), "attachment blob");
            check(git_treebuilder_insert(NULL, b, "state.json", &oid, GIT_FILEMODE_BLOB), "insert attachment");
        }
        git_oid tree_oid, commit_oid;
        git_tree *nt;
        check(git_treebuilder_write(&tree_oid, b), "write tree");
        check(git_tree_lookup(&nt, repo, &tree_oid), "new tree");
        const git_commit *parents[2] = {prev, root};
        size_t np = prev ? (seq == t.merge ? 2 : 1) : 0;
        check(git_commit_create(&commit_oid, repo, NULL, git_commit_author(c), git_commit_committer(c), NULL, msg, nt,
                                np, parents),
              "commit");
        free(msg);
        git_tree_free(nt);
        git_treebuilder_free(b);
        git_tree_free(tree);
        git_commit_free(c);
        git_commit_free(prev);
        check(git_commit_lookup(&prev, repo, &commit_oid), "new commit");
    }
    git_reference *ref;
    check(git_reference_create(&ref, repo, "refs/heads/main", git_commit_id(prev), 1, "tamper"), "ref");
    git_reference_free(ref);
    git_commit_free(prev);
    git_commit_free(root);
    git_repository_free(repo);
    git_libgit2_shutdown();
}

/* ---- the record and the chain ------------------------------------------ */

static void records_round_trip(void **state)
{
    fixture *f = *state;
    json_t *recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), 4);
    char prev[65] = "";
    const char *ids[4];
    for (size_t i = 0; i < 4; i++) {
        json_t *r = json_array_get(recs, i);
        assert_int_equal(json_integer_value(json_object_get(r, "seq")), i + 1);
        assert_string_equal(json_string_value(json_object_get(r, "prev")), prev);
        assert_true(json_real_value(json_object_get(r, "time")) == T0 + (double)i);
        assert_int_equal(strlen(json_string_value(json_object_get(r, "commit"))), 40);
        assert_true(json_is_object(json_object_get(r, "attachments")));
        ids[i] = json_string_value(json_object_get(r, "id"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
        record_sha(r, prev);
    }
    json_t *r2 = json_array_get(recs, 1);
    assert_string_equal(json_string_value(json_object_get(r2, "agent")), "ops-bot");
    json_t *body = json_object_get(json_object_get(r2, "request"), "body");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "spec"), "replicas")), 3);
    json_decref(recs);
}

static void commit_message_names_the_record(void **state)
{
    fixture *f = *state;
    json_t *recs = read_ok(f->repo);
    json_t *r = json_array_get(recs, 2);
    char sha[65];
    record_sha(r, sha);
    git_libgit2_init();
    git_repository *repo;
    git_commit *c;
    git_oid oid;
    check(git_repository_open(&repo, f->repo), "open");
    assert_true(git_repository_is_bare(repo));
    check(git_oid_fromstr(&oid, json_string_value(json_object_get(r, "commit"))), "oid");
    check(git_commit_lookup(&c, repo, &oid), "lookup");
    assert_string_equal(git_commit_summary(c), "deny ops-bot DELETE /api/v1/namespaces/payments");
    char *want = twin_xasprintf("record-sha256: %s\nrecord-hmac: ", sha);
    assert_non_null(strstr(git_commit_message(c), want));
    free(want);
    assert_string_equal(git_commit_author(c)->name, "airlock");
    assert_string_equal(git_commit_author(c)->email, "airlock@localhost");
    assert_int_equal(git_commit_time(c), (git_time_t)T0 + 2);
    git_reference *head;
    check(git_repository_head(&head, repo), "HEAD");
    assert_string_equal(git_reference_name(head), "refs/heads/main");
    git_reference_free(head);
    git_commit_free(c);
    git_repository_free(repo);
    git_libgit2_shutdown();
    json_decref(recs);
}

static void summary_is_capped(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024], path[400];
    memset(path, 'x', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    append_ok(a, decision("ops\nbot", "allow", "GET", path, T0 + 5), NULL);
    append_ok(a, json_pack("{s:s, s:s, s:s}", "type", "freeze", "agent", "alice", "reason", "incident 42"), NULL);
    gate_audit_close(a);
    json_t *recs = read_ok(f->repo);
    git_libgit2_init();
    git_repository *repo;
    git_commit *c;
    git_oid oid;
    check(git_repository_open(&repo, f->repo), "open");
    check(git_oid_fromstr(&oid, json_string_value(json_object_get(json_array_get(recs, 4), "commit"))), "oid");
    check(git_commit_lookup(&c, repo, &oid), "lookup");
    const char *s = git_commit_summary(c);
    assert_true(strlen(s) <= 100);
    assert_int_equal(strncmp(s, "allow ops bot GET xxx", 21), 0);
    assert_string_equal(s + strlen(s) - 3, "...");
    git_commit_free(c);
    check(git_oid_fromstr(&oid, json_string_value(json_object_get(json_array_get(recs, 5), "commit"))), "oid");
    check(git_commit_lookup(&c, repo, &oid), "lookup");
    assert_string_equal(git_commit_summary(c), "freeze alice incident 42");
    /* a record without time gets the current one */
    assert_true(json_real_value(json_object_get(json_array_get(recs, 5), "time")) > T0);
    git_commit_free(c);
    git_repository_free(repo);
    git_libgit2_shutdown();
    json_decref(recs);
}

static void attachments_are_kept_and_checked(void **state)
{
    fixture *f = *state;
    json_t *recs = read_ok(f->repo);
    json_t *start = json_array_get(recs, 0);
    const char *commit = json_string_value(json_object_get(start, "commit"));
    const char *sha = json_string_value(json_object_get(json_object_get(start, "attachments"), "state.json"));
    assert_non_null(sha);
    char want[65];
    sha256_of("{\"items\":[{\"kind\":\"Namespace\"}]}", want);
    assert_string_equal(sha, want);
    char err[1024];
    json_t *st = gate_audit_attachment(f->repo, commit, "state.json", err, sizeof err);
    if (!st)
        fail_msg("attachment: %s", err);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(st, "items"), 0), "kind")),
                        "Namespace");
    json_decref(st);
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%s", commit);
    st = gate_audit_attachment(f->repo, prefix, "state.json", err, sizeof err);
    assert_non_null(st);   /* a prefix names the commit too */
    json_decref(st);
    assert_null(gate_audit_attachment(f->repo, commit, "other.json", err, sizeof err));
    assert_non_null(strstr(err, "no attachment other.json"));
    assert_null(gate_audit_attachment(f->repo, "zz", "state.json", err, sizeof err));
    assert_non_null(strstr(err, "does not name a commit"));
    /* a decision without attachments lists none */
    assert_int_equal(json_object_size(json_object_get(json_array_get(recs, 1), "attachments")), 0);
    json_decref(recs);
}

static void bad_input_appends_nothing(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    json_t *arr = json_array();
    assert_int_equal(gate_audit_append(a, arr, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "JSON object"));
    json_decref(arr);
    json_t *rec = json_pack("{s:s}", "type", "start");
    const char *bad[] = {"record.json", "a/b", "..", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *att = json_pack("{s:i}", bad[i], 1);
        assert_int_equal(gate_audit_append(a, rec, att, NULL, err, sizeof err), -1);
        assert_non_null(strstr(err, "not a plain file name"));
        json_decref(att);
    }
    json_object_set_new(rec, "time", json_string("yesterday"));
    assert_int_equal(gate_audit_append(a, rec, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "time is a number"));
    json_decref(rec);
    gate_audit_close(a);
    json_t *recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), 4);
    json_decref(recs);
    json_decref(verify_expect(f, f->key, 0, NULL));
}

static void reopen_continues_the_chain(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    append_ok(a, decision("ops-bot", "review", "PATCH", "/apis/apps/v1/namespaces/shop/deployments/x", T0 + 9),
              NULL);
    gate_audit_close(a);
    json_t *recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), 5);
    char sha[65];
    record_sha(json_array_get(recs, 3), sha);
    json_t *last = json_array_get(recs, 4);
    assert_int_equal(json_integer_value(json_object_get(last, "seq")), 5);
    assert_string_equal(json_string_value(json_object_get(last, "prev")), sha);
    json_decref(recs);
    json_decref(verify_expect(f, f->key, 0, NULL));
}

static void key_and_tip_files(void **state)
{
    fixture *f = *state;
    struct stat st;
    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    FILE *fp = fopen(f->tip, "r");
    assert_non_null(fp);
    json_t *tip = json_loadf(fp, 0, NULL);
    fclose(fp);
    assert_int_equal(json_integer_value(json_object_get(tip, "seq")), 4);
    json_t *recs = read_ok(f->repo);
    char sha[65];
    record_sha(json_array_get(recs, 3), sha);
    assert_string_equal(json_string_value(json_object_get(tip, "sha256")), sha);
    json_decref(recs);
    json_decref(tip);
}

static void without_a_key_there_are_no_macs(void **state)
{
    fixture *f = *state;
    char *repo = twin_xasprintf("%s/plain", f->dir);
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, repo, NULL, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    append_ok(a, decision("ops-bot", "allow", "GET", "/api/v1/pods", T0), NULL);
    gate_audit_close(a);
    json_t *report = NULL;
    assert_int_equal(gate_audit_verify(repo, NULL, &report, err, sizeof err), 0);
    assert_true(json_is_false(json_object_get(report, "macs_checked")));
    json_decref(report);
    /* the key of another log does not sign this one */
    assert_int_equal(gate_audit_verify(repo, f->key, &report, err, sizeof err), 1);
    char *text = json_dumps(report, 0);
    assert_non_null(strstr(text, "no record-hmac line"));
    free(text);
    json_decref(report);
    free(repo);
}

static void verify_accepts_an_intact_log(void **state)
{
    fixture *f = *state;
    json_t *report = verify_expect(f, f->key, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(report, "records")), 4);
    assert_true(json_is_true(json_object_get(report, "macs_checked")));
    assert_int_equal(json_array_size(json_object_get(report, "problems")), 0);
    json_decref(report);
    report = verify_expect(f, NULL, 0, NULL);
    assert_true(json_is_false(json_object_get(report, "macs_checked")));
    json_decref(report);
    /* a log never written to is intact and empty */
    char *empty = twin_xasprintf("%s/empty", f->dir);
    gate_audit *a;
    char err[1024];
    assert_int_equal(gate_audit_open(&a, empty, NULL, err, sizeof err), 0);
    gate_audit_close(a);
    assert_int_equal(gate_audit_verify(empty, NULL, &report, err, sizeof err), 0);
    assert_int_equal(json_integer_value(json_object_get(report, "records")), 0);
    json_decref(report);
    json_t *recs = read_ok(empty);
    assert_int_equal(json_array_size(recs), 0);
    json_decref(recs);
    free(empty);
}

static void unreadable_logs_are_named(void **state)
{
    fixture *f = *state;
    char err[1024];
    char *missing = twin_xasprintf("%s/nowhere", f->dir);
    assert_null(gate_audit_read(missing, err, sizeof err));
    assert_non_null(strstr(err, missing));
    json_t *report = NULL;
    assert_int_equal(gate_audit_verify(missing, NULL, &report, err, sizeof err), -1);
    assert_null(report);
    assert_non_null(strstr(err, missing));
    /* a directory of other things is not made into a log */
    char *other = twin_xasprintf("%s/other", f->dir), *file = twin_xasprintf("%s/other/x", f->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    gate_audit *a = NULL;
    assert_int_equal(gate_audit_open(&a, other, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "not empty and not a git repository"));
    assert_null(gate_audit_read(other, err, sizeof err));
    assert_non_null(strstr(err, "not an audit repository"));
    /* verify with a key file that is not there */
    char *nokey = twin_xasprintf("%s/nokey", f->dir);
    assert_int_equal(gate_audit_verify(f->repo, nokey, &report, err, sizeof err), -1);
    assert_non_null(strstr(err, nokey));
    free(nokey);
    free(file);
    free(other);
    free(missing);
}

/* ---- tampering ---------------------------------------------------------- */

static void edited_record_is_detected(void **state)
{
    fixture *f = *state;
    rewrite(f, TAMPER(.order = {1, 2, 3, 4}, .n = 4, .edit = 3));
    const char *want[] = {"record.json was edited", NULL};
    json_t *report = verify_expect(f, f->key, 1, want);
    json_t *p = json_array_get(json_object_get(report, "problems"), 0);
    assert_int_equal(json_integer_value(json_object_get(p, "seq")), 3);
    assert_int_equal(strlen(json_string_value(json_object_get(p, "commit"))), 40);
    json_decref(report);
    /* without the key too: the hash in the commit message */
    json_decref(verify_expect(f, NULL, 1, want));
    /* the commits changed under the tip file: the server refuses to append */
    gate_audit *a = NULL;
    char err[1024];
    assert_int_equal(gate_audit_open(&a, f->repo, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "the chain was rewritten"));
    assert_null(a);
    const char *want_tip[] = {"record.json was edited", "the history was rewritten", NULL};
    json_decref(verify_expect(f, f->key, 1, want_tip));
}

static void edited_record_with_its_hash_fixed_is_detected(void **state)
{
    fixture *f = *state;
    rewrite(f, TAMPER(.order = {1, 2, 3, 4}, .n = 4, .edit = 2, .fix_sha = 1));
    const char *want[] = {"MAC does not match", "prev is", NULL};
    json_t *report = verify_expect(f, f->key, 1, want);
    json_decref(report);
    const char *want_nokey[] = {"a record before it was edited, removed or reordered", NULL};
    json_decref(verify_expect(f, NULL, 1, want_nokey));
}

static void edited_last_record_needs_the_key(void **state)
{
    fixture *f = *state;
    /* the last record, its hash fixed: nothing after it to disagree */
    rewrite(f, TAMPER(.order = {1, 2, 3, 4}, .n = 4, .edit = 4, .fix_sha = 1));
    json_decref(verify_expect(f, NULL, 0, NULL));
    const char *want[] = {"MAC does not match", "not the one the tip file", NULL};
    json_decref(verify_expect(f, f->key, 1, want));
}

static void removed_record_is_detected(void **state)
{
    fixture *f = *state;
    /* each rewrite picks from the chain the one before left (positions) */
    rewrite(f, TAMPER(.order = {1, 3, 4}, .n = 3));   /* seqs 1 3 4 */
    const char *want[] = {"seq 3 follows 1: record 2 is missing (removed)", "prev is", NULL};
    json_t *report = verify_expect(f, f->key, 1, want);
    assert_int_equal(json_integer_value(json_object_get(report, "records")), 3);
    json_decref(report);
    rewrite(f, TAMPER(.order = {1, 3, 2}, .n = 3));   /* seqs 1 4 3 */
    const char *mixed[] = {"seq 4 follows 1: of records 2 to 3, 1 is missing (removed), the others out of order",
                           "seq 3 follows 4: records out of order", NULL};
    json_decref(verify_expect(f, NULL, 1, mixed));
    rewrite(f, TAMPER(.order = {1, 2}, .n = 2));   /* seqs 1 4 */
    const char *two[] = {"seq 4 follows 1: records 2 to 3 are missing (removed)", NULL};
    json_decref(verify_expect(f, NULL, 1, two));
}

static void removed_first_record_is_detected(void **state)
{
    fixture *f = *state;
    rewrite(f, TAMPER(.order = {2, 3, 4}, .n = 3));
    const char *want[] = {"the first record's prev", "record 1 is missing", NULL};
    json_decref(verify_expect(f, NULL, 1, want));
}

static void reordered_records_are_detected(void **state)
{
    fixture *f = *state;
    rewrite(f, TAMPER(.order = {1, 3, 2, 4}, .n = 4));
    const char *want[] = {"seq 3 follows 1: records out of order (record 2 is elsewhere in the chain)",
                          "seq 2 follows 3: records out of order", "prev is", NULL};
    json_decref(verify_expect(f, NULL, 1, want));
}

static void truncation_is_detected_by_the_tip(void **state)
{
    fixture *f = *state;
    rewrite(f, TAMPER(.order = {1, 2, 3}, .n = 3));
    /* without the key the shorter chain looks whole */
    json_decref(verify_expect(f, NULL, 0, NULL));
    const char *want[] = {"records 4 records but the chain ends at 3: records were cut off the end", NULL};
    json_decref(verify_expect(f, f->key, 1, want));
    gate_audit *a = NULL;
    char err[1024];
    assert_int_equal(gate_audit_open(&a, f->repo, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "cut off the end"));
    assert_null(a);
    /* the tip file itself edited */
    FILE *fp = fopen(f->tip, "w");
    fputs("{\"seq\":3,\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
          "\"commit\":\"0000000000000000000000000000000000000000\",\"hmac\":\"00\"}\n",
          fp);
    fclose(fp);
    const char *want_mac[] = {"was edited (its MAC does not match)", NULL};
    json_decref(verify_expect(f, f->key, 1, want_mac));
    unlink(f->tip);
    const char *want_gone[] = {"is missing: records cut off", NULL};
    json_decref(verify_expect(f, f->key, 1, want_gone));
}

static void merge_commits_and_extra_files_are_detected(void **state)
{
    fixture *f = *state;
    rewrite(f, TAMPER(.order = {1, 2, 3, 4}, .n = 4, .merge = 3, .extra_file = 4));
    const char *want[] = {"merge commit (2 parents)", "file \\\"notes.txt\\\" in the record's tree is not listed", NULL};
    json_decref(verify_expect(f, NULL, 1, want));
}

static void edited_attachment_is_detected(void **state)
{
    fixture *f = *state;
    rewrite(f, TAMPER(.order = {1, 2, 3, 4}, .n = 4, .edit_attachment = 1));
    const char *want[] = {"attachment \\\"state.json\\\" was edited", NULL};
    json_decref(verify_expect(f, NULL, 1, want));
    json_t *recs = read_ok(f->repo);
    char err[1024];
    assert_null(gate_audit_attachment(f->repo, json_string_value(json_object_get(json_array_get(recs, 0), "commit")),
                                      "state.json", err, sizeof err));
    assert_non_null(strstr(err, "was edited"));
    json_decref(recs);
}

/* The branch moved under a running log: the append is journaled (durable)
 * before the flusher finds out; then appends fail, and the record stays in
 * the journal, readable, for whoever looks into the rewrite. */
static void moved_ref_stops_a_running_log(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    rewrite(f, TAMPER(.order = {1, 2, 3, 4}, .n = 4, .extra_file = 4));   /* new commits, same records */
    json_t *rec = decision("ops-bot", "allow", "GET", "/api/v1/pods", T0 + 10);
    assert_int_equal(gate_audit_append(a, rec, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(gate_audit__flush(a, err, sizeof err), -1);
    assert_non_null(strstr(err, "moved under the gate"));
    assert_int_equal(gate_audit_append(a, rec, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "moved under the gate"));
    json_decref(rec);
    gate_audit_close(a);
    json_t *recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 4), "commit")), "");
    json_decref(recs);
    /* the journaled record continues the chain; the rewrite is what is reported */
    const char *want[] = {"notes.txt", "the history was rewritten", NULL};
    json_t *report = verify_expect(f, f->key, 1, want);
    assert_int_equal(json_integer_value(json_object_get(report, "journaled")), 1);
    json_decref(report);
    assert_int_equal(gate_audit_open(&a, f->repo, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "the chain was rewritten"));
}

/* The tip file cannot be written (its temporary name is taken by a
 * directory): the flusher's round fails after the commit, appends fail
 * until the tip can be written again, and the chain goes on from there. */
static void failed_tip_write_stops_appends(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    char *tmp = twin_xasprintf("%s.tmp", f->tip);
    assert_int_equal(mkdir(tmp, 0700), 0);
    json_t *rec = decision("ops-bot", "allow", "GET", "/api/v1/pods", T0 + 10);
    assert_int_equal(gate_audit_append(a, rec, NULL, NULL, err, sizeof err), 0);   /* journaled */
    assert_int_equal(gate_audit__flush(a, err, sizeof err), -1);
    assert_non_null(strstr(err, "tip file"));
    assert_int_equal(gate_audit_append(a, rec, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "tip file"));
    assert_false(gate_audit_storage_full(err));   /* no full disk before it: not put down to one */
    json_t *recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), 5);   /* committed; only the tip lags */
    assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(recs, 4), "commit"))), 40);
    json_decref(recs);
    /* once the tip can be written again, appends go on from record 5 */
    assert_int_equal(rmdir(tmp), 0);
    if (gate_audit__flush(a, err, sizeof err) < 0)
        fail_msg("flush: %s", err);
    append_ok(a, rec, NULL);
    gate_audit_close(a);
    recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), 6);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 5), "seq")), 6);
    json_decref(recs);
    json_decref(verify_expect(f, f->key, 0, NULL));
    free(tmp);
}

/* A commit that fails soon after a write met a full disk is put down to
 * the full disk (the refusal is then a 507 that passes by itself); the same
 * failure without a full disk before it is not. */
static void failure_after_a_full_disk_names_it(void **state)
{
    fixture *f = *state;
    if (!gate_fault_available())
        skip();   /* a build without fault injection (make test has it) */
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    json_t *rec = decision("ops-bot", "allow", "GET", "/api/v1/pods", T0 + 10);
    gate_fault_arm("audit.journal.write", 1, ENOSPC, 0);
    assert_int_equal(gate_audit_append(a, rec, NULL, NULL, err, sizeof err), -1);
    gate_fault_disarm();
    assert_true(gate_audit_storage_full(err));
    char *tmp = twin_xasprintf("%s.tmp", f->tip);   /* the tip file cannot be written: the commit fails */
    assert_int_equal(mkdir(tmp, 0700), 0);
    assert_int_equal(gate_audit_append(a, rec, NULL, NULL, err, sizeof err), 0);   /* journaled */
    assert_int_equal(gate_audit__flush(a, err, sizeof err), -1);
    assert_int_equal(gate_audit_append(a, rec, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "tip file"));
    assert_non_null(strstr(err, "after the disk filled up"));
    assert_true(gate_audit_storage_full(err));
    assert_int_equal(rmdir(tmp), 0);
    if (gate_audit__flush(a, err, sizeof err) < 0)
        fail_msg("flush: %s", err);
    gate_audit_close(a);
    free(tmp);
    json_decref(rec);
}

/* ---- the journal -------------------------------------------------------- */

static char *journal_path(const fixture *f)
{
    return twin_xasprintf("%s/airlock-journal", f->repo);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    twin_buf b = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, fp)) > 0)
        twin_buf_add(&b, chunk, r);
    fclose(fp);
    twin_buf_add(&b, "", 1);
    *n = b.len - 1;
    return b.s;
}

static void spit(const char *path, const char *s, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(s, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Opens the log, holds its flusher, appends n decisions (seq 5, 6, ...)
 * and drops the handle as a crash would: they are in the journal only. */
static void crash_after(fixture *f, int n)
{
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    gate_audit__pause_flusher(a, 1);
    for (int i = 0; i < n; i++)
        append_ok(a, decision("ops-bot", "allow", "PATCH", "/apis/apps/v1/namespaces/shop/deployments/cart",
                              T0 + 10 + i),
                  NULL);
    gate_audit__abandon(a);
}

/* The records read back: n of them, the last `journaled` with commit "",
 * the others with a commit; seq 1..n, chained. */
static void expect_records(fixture *f, size_t n, size_t journaled)
{
    json_t *recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), n);
    char prev[65] = "";
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        assert_int_equal(json_integer_value(json_object_get(r, "seq")), i + 1);
        assert_string_equal(json_string_value(json_object_get(r, "prev")), prev);
        record_sha(r, prev);
        size_t clen = strlen(json_string_value(json_object_get(r, "commit")));
        if (clen != (i >= n - journaled ? 0 : 40))
            fail_msg("record %zu has a commit of %zu digits", i + 1, clen);
    }
    json_decref(recs);
}

/* Line `k` (1-based) of the journal, edited: `from` replaced by `to` (same
 * length) in its record, and the line's sha256 fixed when asked. */
static void edit_journal_line(fixture *f, int k, const char *from, const char *to, int fix_sha)
{
    char *path = journal_path(f);
    size_t n;
    char *s = slurp(path, &n);
    char *line = s;
    for (int i = 1; i < k; i++)
        line = strchr(line, '\n') + 1;
    char *end = strchr(line, '\n');
    char *rec = line;
    for (int i = 0; i < 3; i++)
        rec = strchr(rec, ' ') + 1;
    *end = '\0';
    char *at = strstr(rec, from);
    assert_non_null(at);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(at, to, strlen(to));
    if (fix_sha) {
        char sha[65];
        sha256_of(rec, sha);
        memcpy(strchr(line, ' ') + 1, sha, 64);
    }
    *end = '\n';
    spit(path, s, n);
    free(s);
    free(path);
}

static void appends_are_readable_at_once(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    gate_audit__pause_flusher(a, 1);
    for (int i = 0; i < 3; i++)
        append_ok(a, decision("ci", "deny", "DELETE", "/api/v1/namespaces/shop", T0 + 10 + i), NULL);
    expect_records(f, 7, 3);
    json_t *report = verify_expect(f, f->key, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(report, "records")), 7);
    assert_int_equal(json_integer_value(json_object_get(report, "journaled")), 3);
    json_decref(report);
    /* let go, the flusher commits them in a batch and empties the journal */
    gate_audit__pause_flusher(a, 0);
    if (gate_audit__flush(a, err, sizeof err) < 0)
        fail_msg("flush: %s", err);
    expect_records(f, 7, 0);
    gate_audit_close(a);
    char *path = journal_path(f);
    assert_int_equal(file_size(path), 0);
    free(path);
    report = verify_expect(f, f->key, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(report, "journaled")), 0);
    json_decref(report);
}

static void crash_loses_no_record(void **state)
{
    fixture *f = *state;
    crash_after(f, 5);
    char *path = journal_path(f);
    assert_true(file_size(path) > 0);
    /* the records are there before any recovery */
    expect_records(f, 9, 5);
    json_decref(verify_expect(f, f->key, 0, NULL));
    /* open commits them */
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    expect_records(f, 9, 0);
    assert_int_equal(file_size(path), 0);
    append_ok(a, decision("ci", "allow", "GET", "/api/v1/pods", T0 + 20), NULL);
    gate_audit_close(a);
    expect_records(f, 10, 0);
    json_t *report = verify_expect(f, f->key, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(report, "records")), 10);
    json_decref(report);
    FILE *fp = fopen(f->tip, "r");
    json_t *tip = json_loadf(fp, 0, NULL);
    fclose(fp);
    assert_int_equal(json_integer_value(json_object_get(tip, "seq")), 10);
    json_decref(tip);
    free(path);
}

static void torn_last_line_is_ignored(void **state)
{
    fixture *f = *state;
    crash_after(f, 2);
    char *path = journal_path(f);
    size_t n;
    char *s = slurp(path, &n);
    spit(path, s, n - 10);   /* the second line cut short, as a crash mid-write would */
    expect_records(f, 5, 1);
    json_decref(verify_expect(f, f->key, 0, NULL));
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    assert_int_equal(file_size(path), 0);
    gate_audit_close(a);
    expect_records(f, 5, 0);
    /* a complete last line that cannot be parsed is taken as torn too */
    crash_after(f, 1);
    FILE *fp = fopen(path, "ab");
    fputs("6 garbage\n", fp);
    fclose(fp);
    expect_records(f, 6, 1);
    json_decref(verify_expect(f, f->key, 0, NULL));
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    append_ok(a, decision("ci", "allow", "GET", "/api/v1/pods", T0 + 20), NULL);
    gate_audit_close(a);
    expect_records(f, 7, 0);
    json_decref(verify_expect(f, f->key, 0, NULL));
    free(s);
    free(path);
}

static void journal_breaking_the_chain_is_refused(void **state)
{
    fixture *f = *state;
    crash_after(f, 2);
    char *path = journal_path(f);
    size_t n;
    char *s = slurp(path, &n);
    char *second = strchr(s, '\n') + 1;
    spit(path, second, n - (size_t)(second - s));   /* record 5 removed: 6 follows 4 */
    gate_audit *a = NULL;
    char err[1024];
    assert_int_equal(gate_audit_open(&a, f->repo, f->key, err, sizeof err), -1);
    assert_null(a);
    assert_non_null(strstr(err, "airlock-journal"));
    assert_non_null(strstr(err, "journal line 1: seq 6 does not continue the chain, which ends at 4"));
    const char *want[] = {"journal line 1: seq 6 does not continue the chain", NULL};
    json_decref(verify_expect(f, f->key, 1, want));
    /* nothing was committed: the journal is as it was */
    assert_int_equal(file_size(path), (off_t)(n - (size_t)(second - s)));
    /* a malformed line before the last one is refused too */
    spit(path, s, n);
    FILE *fp = fopen(path, "r+b");
    fputs("xx", fp);
    fclose(fp);
    assert_int_equal(gate_audit_open(&a, f->repo, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1 is malformed"));
    const char *bad[] = {"journal line 1 is malformed", NULL};
    json_decref(verify_expect(f, f->key, 1, bad));
    free(s);
    free(path);
}

static void edited_journal_line_is_detected(void **state)
{
    fixture *f = *state;
    crash_after(f, 2);
    /* the last line edited, its sha256 left: the line's hash tells */
    edit_journal_line(f, 2, "ops-bot", "intrudr", 0);
    const char *want[] = {"journal line 2: the record was edited", NULL};
    json_t *report = verify_expect(f, f->key, 1, want);
    json_t *p = json_array_get(json_object_get(report, "problems"), 0);
    assert_int_equal(json_integer_value(json_object_get(p, "seq")), 6);
    assert_string_equal(json_string_value(json_object_get(p, "commit")), "");
    json_decref(report);
    json_decref(verify_expect(f, NULL, 1, want));
    gate_audit *a = NULL;
    char err[1024];
    assert_int_equal(gate_audit_open(&a, f->repo, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "the record was edited"));
    edit_journal_line(f, 2, "intrudr", "ops-bot", 0);
    json_decref(verify_expect(f, f->key, 0, NULL));
    /* the first line edited with its sha256 fixed: the MAC, and the next prev */
    edit_journal_line(f, 1, "ops-bot", "intrudr", 1);
    const char *fixed[] = {"journal line 1: the MAC does not match", "journal line 2: prev is", NULL};
    json_decref(verify_expect(f, f->key, 1, fixed));
    const char *nokey[] = {"journal line 2: prev is", NULL};
    json_decref(verify_expect(f, NULL, 1, nokey));
    assert_int_equal(gate_audit_open(&a, f->repo, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "MAC does not match"));
}

/* The tip file beyond the commits but among the journal's records (the
 * flusher committed them and wrote the tip, the journal was not emptied
 * yet, and the commits were cut off): nothing is lost, verify accepts it,
 * and open commits the records again, to the same commits. */
static void tip_covered_by_the_journal(void **state)
{
    fixture *f = *state;
    crash_after(f, 2);
    char *path = journal_path(f);
    size_t n;
    char *s = slurp(path, &n);
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    gate_audit_close(a);
    json_t *recs = read_ok(f->repo);
    char *c4 = twin_xstrdup(json_string_value(json_object_get(json_array_get(recs, 3), "commit")));
    char *c6 = twin_xstrdup(json_string_value(json_object_get(json_array_get(recs, 5), "commit")));
    json_decref(recs);
    spit(path, s, n);
    git_libgit2_init();
    git_repository *repo;
    git_reference *ref;
    git_oid oid;
    check(git_repository_open(&repo, f->repo), "open");
    check(git_oid_fromstr(&oid, c4), "oid");
    check(git_reference_create(&ref, repo, "refs/heads/main", &oid, 1, "cut"), "cut");
    git_reference_free(ref);
    git_repository_free(repo);
    git_libgit2_shutdown();
    expect_records(f, 6, 2);
    json_decref(verify_expect(f, f->key, 0, NULL));
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    gate_audit_close(a);
    expect_records(f, 6, 0);
    recs = read_ok(f->repo);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 5), "commit")), c6);
    json_decref(recs);
    json_decref(verify_expect(f, f->key, 0, NULL));
    /* the same with the journal cut too: records were cut off */
    git_libgit2_init();
    check(git_repository_open(&repo, f->repo), "open");
    check(git_reference_create(&ref, repo, "refs/heads/main", &oid, 1, "cut"), "cut");
    git_reference_free(ref);
    git_repository_free(repo);
    git_libgit2_shutdown();
    spit(path, s, (size_t)(strchr(s, '\n') + 1 - s));   /* record 5 only */
    const char *want[] = {"records 6 records but the chain ends at 5: records were cut off the end", NULL};
    json_decref(verify_expect(f, f->key, 1, want));
    assert_int_equal(gate_audit_open(&a, f->repo, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "cut off the end"));
    free(c4);
    free(c6);
    free(s);
    free(path);
}

/* A record with attachments is committed by its append, after what is
 * journaled before it (a held flusher notwithstanding). */
static void attachments_commit_the_journal_first(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    gate_audit__pause_flusher(a, 1);
    append_ok(a, decision("ci", "allow", "GET", "/api/v1/pods", T0 + 10), NULL);
    append_ok(a, decision("ci", "allow", "GET", "/api/v1/pods", T0 + 11), NULL);
    json_t *att = json_pack("{s:{s:[]}}", "state.json", "items");
    append_ok(a, json_pack("{s:s, s:s, s:f}", "type", "start", "agent", "airlock", "time", T0 + 12), att);
    json_decref(att);
    expect_records(f, 7, 0);
    append_ok(a, decision("ci", "allow", "GET", "/api/v1/pods", T0 + 13), NULL);
    expect_records(f, 8, 1);
    json_t *recs = read_ok(f->repo);
    json_t *st = gate_audit_attachment(f->repo, json_string_value(json_object_get(json_array_get(recs, 6), "commit")),
                                       "state.json", err, sizeof err);
    if (!st)
        fail_msg("attachment: %s", err);
    json_decref(st);
    json_decref(recs);
    gate_audit_close(a);
    expect_records(f, 8, 0);
    json_decref(verify_expect(f, f->key, 0, NULL));
}

static void one_process_writes(void **state)
{
    fixture *f = *state;
    gate_audit *a, *b = NULL;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    assert_int_equal(gate_audit_open(&b, f->repo, f->key, err, sizeof err), -1);
    assert_null(b);
    assert_non_null(strstr(err, "open in another process"));
    gate_audit_close(a);
    if (gate_audit_open(&b, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open after close: %s", err);
    gate_audit_close(b);
}

/* ---- file modes --------------------------------------------------------- */

/* What a walk of a directory found: entries, and the first few open to
 * group or others.  (nftw passes no context: the walk's state is here.) */
static struct {
    int entries, loose;
    char first[4][PATH_MAX + 16];
} walked;

static int walk_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_SL)
        return 0;
    walked.entries++;
    if (st->st_mode & 077) {
        if (walked.loose < 4)
            snprintf(walked.first[walked.loose], sizeof walked.first[0], "%04o %s", (unsigned)(st->st_mode & 07777),
                     path);
        walked.loose++;
    }
    return 0;
}

/* Fails naming what under dir (itself included) is open to group or
 * others; returns how many entries there are. */
static int assert_private_tree(const char *dir)
{
    memset(&walked, 0, sizeof walked);
    assert_int_equal(nftw(dir, walk_entry, 16, FTW_PHYS), 0);
    if (walked.loose)
        fail_msg("%d of %d entries under %s are open to group or others, e.g. %s; %s", walked.loose, walked.entries,
                 dir, walked.first[0], walked.loose > 1 ? walked.first[1] : "");
    return walked.entries;
}

static int loosen_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_D || type == FTW_DP)
        return chmod(path, 0755);
    if (type == FTW_F)
        return chmod(path, (st->st_mode & 0777) | 0044);   /* 0444 objects stay, 0600 files become 0644 */
    return 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* Runs fn with stderr going to `path`. */
static void stderr_to(const char *path, void (*fn)(void *), void *arg)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* A log made where the umask would leave files open to all (022), outside
 * any private directory, the flusher committing: directories 0700, files
 * 0600 or 0400, the journal, refs and key included; the process umask
 * keeps 077 from then on (audit.h's contract). */
static void a_new_log_is_private(void **state)
{
    fixture *f = *state;
    umask(022);
    char *outside = twin_xasprintf("%s/shared", f->dir);
    assert_int_equal(mkdir(outside, 0755), 0);
    assert_int_equal(mode_of(outside), 0755);
    char *repo = twin_xasprintf("%s/audit", outside), *key = twin_xasprintf("%s/audit.key", outside);
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, repo, key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    json_t *att = json_pack("{s:{s:[]}}", "state.json", "items");
    append_ok(a, json_pack("{s:s, s:s, s:f}", "type", "start", "agent", "airlock", "time", T0), att);   /* the caller's commit */
    json_decref(att);
    for (int i = 0; i < 5; i++)
        append_ok(a, decision("ops-bot", "allow", "GET", "/api/v1/pods", T0 + 1 + i), NULL);
    if (gate_audit__flush(a, err, sizeof err) < 0)   /* the flusher's commits, the branch moved, the tip */
        fail_msg("flush: %s", err);
    int entries = assert_private_tree(repo);   /* while open: the journal, the writer's files */
    assert_true(entries > 20);   /* six commits: trees, blobs, refs, a reflog: the walk saw them */
    append_ok(a, decision("ops-bot", "allow", "GET", "/api/v1/pods", T0 + 9), NULL);
    gate_audit_close(a);
    assert_private_tree(repo);
    mode_t m = umask(0);
    umask(m);
    assert_int_equal(m & 077, 077);
    assert_int_equal(mode_of(repo), 0700);
    assert_int_equal(mode_of(key), 0600);
    char *tip = twin_xasprintf("%s.tip", key);
    assert_int_equal(mode_of(tip), 0600);
    /* and git itself is told to keep it private (an operator's git gc) */
    git_libgit2_init();
    git_repository *r;
    git_config *cfg;
    git_buf v = {0};
    check(git_repository_open(&r, repo), "open");
    check(git_repository_config_snapshot(&cfg, r), "config");
    check(git_config_get_string_buf(&v, cfg, "core.sharedRepository"), "core.sharedRepository");
    assert_string_equal(v.ptr, "0600");
    git_buf_dispose(&v);
    git_config_free(cfg);
    git_repository_free(r);
    git_libgit2_shutdown();
    free(tip);
    free(key);
    free(repo);
    free(outside);
}

typedef struct reopen {
    const char *repo, *key;
} reopen;

static void open_and_close(void *arg)
{
    reopen *r = arg;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, r->repo, r->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    append_ok(a, decision("ops-bot", "allow", "GET", "/api/v1/pods", T0 + 20), NULL);
    gate_audit_close(a);
}

/* The log of an older gate: repository 0755, files 0644, key 0644.  Open
 * makes all of it private, says so on stderr once, and the chain is
 * intact; the next open has nothing to say. */
static void a_loose_log_is_tightened_at_open(void **state)
{
    fixture *f = *state;
    umask(022);
    assert_int_equal(nftw(f->repo, loosen_entry, 16, FTW_PHYS), 0);
    assert_int_equal(chmod(f->key, 0644), 0);
    assert_int_equal(mode_of(f->repo), 0755);
    char *log = twin_xasprintf("%s/stderr", f->dir);
    reopen r = {f->repo, f->key};
    stderr_to(log, open_and_close, &r);
    size_t n;
    char *text = slurp(log, &n);
    assert_int_equal(count_of(text, "was open to group or others"), 2);   /* one line for the repository, one for the key */
    assert_int_equal(count_of(text, "the audit repository"), 1);
    assert_non_null(strstr(text, "(mode 0755): made it 0700"));
    assert_non_null(strstr(text, "the audit key"));
    free(text);
    assert_int_equal(mode_of(f->repo), 0700);
    assert_private_tree(f->repo);
    assert_int_equal(mode_of(f->key), 0600);
    expect_records(f, 5, 0);
    json_decref(verify_expect(f, f->key, 0, NULL));
    /* private now: nothing to say */
    stderr_to(log, open_and_close, &r);
    text = slurp(log, &n);
    assert_int_equal(n, 0);
    free(text);
    free(log);
}

/* --audit-repo naming an empty directory made by hand, 0755: the log is
 * made in it, and it is tightened. */
static void an_empty_loose_directory_is_tightened(void **state)
{
    fixture *f = *state;
    umask(022);
    char *repo = twin_xasprintf("%s/by-hand", f->dir);
    assert_int_equal(mkdir(repo, 0755), 0);
    char *log = twin_xasprintf("%s/stderr", f->dir);
    reopen r = {repo, NULL};
    stderr_to(log, open_and_close, &r);
    size_t n;
    char *text = slurp(log, &n);
    assert_int_equal(count_of(text, "the audit repository"), 1);
    free(text);
    assert_int_equal(mode_of(repo), 0700);
    assert_private_tree(repo);
    free(log);
    free(repo);
}

/* ---- concurrency -------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 25 };

typedef struct worker {
    gate_audit *a;
    int n;
    int failed;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char err[1024], agent[16];
    snprintf(agent, sizeof agent, "agent-%d", w->n);
    for (int i = 0; i < PER_THREAD; i++) {
        json_t *rec = decision(agent, "allow", "PATCH", "/apis/apps/v1/namespaces/shop/deployments/cart", T0 + i);
        if (gate_audit_append(w->a, rec, NULL, NULL, err, sizeof err) < 0)
            w->failed++;
        json_decref(rec);
    }
    return NULL;
}

static void concurrent_appends_keep_one_chain(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.a = a, .n = i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failed, 0);
    }
    gate_audit_close(a);
    json_t *recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), 4 + THREADS * PER_THREAD);
    int per_agent[THREADS] = {0};
    char prev[65] = "";
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        assert_int_equal(json_integer_value(json_object_get(r, "seq")), i + 1);
        assert_string_equal(json_string_value(json_object_get(r, "prev")), prev);
        assert_int_equal(strlen(json_string_value(json_object_get(r, "commit"))), 40);   /* close committed all */
        record_sha(r, prev);
        const char *agent = json_string_value(json_object_get(r, "agent"));
        if (!strncmp(agent, "agent-", 6))
            per_agent[agent[6] - '0']++;
    }
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(per_agent[k], PER_THREAD);
    json_decref(recs);
    json_decref(verify_expect(f, f->key, 0, NULL));
}

/* Group commit: records journaled together are made durable by one
 * fdatasync; each is readable (and in the chain) after its wait. */
static void appends_together_share_one_sync(void **state)
{
    fixture *f = *state;
    gate_audit *a;
    char err[1024];
    if (gate_audit_open(&a, f->repo, f->key, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    unsigned long before = gate_audit_syncs(a);
    unsigned long long tickets[10];
    for (int i = 0; i < 10; i++) {
        json_t *rec = decision("ops-bot", "allow", "PATCH", "/apis/apps/v1/namespaces/shop/deployments/cart", T0 + i);
        if (gate_audit_append_nowait(a, rec, NULL, &tickets[i], err, sizeof err) < 0)
            fail_msg("append: %s", err);
        json_decref(rec);
        assert_true(tickets[i] > (i ? tickets[i - 1] : 0));
    }
    assert_int_equal(gate_audit_wait(a, tickets[9], err, sizeof err), 0);
    assert_int_equal(gate_audit_syncs(a) - before, 1);   /* one sync for the ten */
    for (int i = 0; i < 10; i++)                           /* the others: durable already, no sync */
        assert_int_equal(gate_audit_wait(a, tickets[i], err, sizeof err), 0);
    assert_int_equal(gate_audit_syncs(a) - before, 1);
    /* the plain append waits for its own: one more sync */
    append_ok(a, decision("ops-bot", "deny", "DELETE", "/api/v1/namespaces/payments", T0 + 20), NULL);
    assert_int_equal(gate_audit_syncs(a) - before, 2);
    gate_audit_close(a);
    json_t *recs = read_ok(f->repo);
    assert_int_equal(json_array_size(recs), 4 + 11);   /* the fixture's log, then these */
    json_decref(recs);
    json_decref(verify_expect(f, f->key, 0, NULL));
}

/* ---- --since ------------------------------------------------------------ */

static void parse_time_forms(void **state)
{
    (void)state;
    double now = 1764000000.0, t = -1;
    assert_int_equal(gate_audit_parse_time("1764000000", now, &t), 0);
    assert_true(t == 1764000000.0);
    assert_int_equal(gate_audit_parse_time("1764000000.5", now, &t), 0);
    assert_true(t == 1764000000.5);
    assert_int_equal(gate_audit_parse_time("2025-11-24T16:00:00Z", now, &t), 0);
    assert_true(t == 1764000000.0);
    assert_int_equal(gate_audit_parse_time("1970-01-01T00:00:00Z", now, &t), 0);
    assert_true(t == 0);
    assert_int_equal(gate_audit_parse_time("2024-02-29T12:30:15.25Z", now, &t), 0);
    assert_true(t == 1709209815.25);
    assert_int_equal(gate_audit_parse_time("2025-11-24T18:00:00+02:00", now, &t), 0);
    assert_true(t == 1764000000.0);
    assert_int_equal(gate_audit_parse_time("90s", now, &t), 0);
    assert_true(t == now - 90);
    assert_int_equal(gate_audit_parse_time("30m", now, &t), 0);
    assert_true(t == now - 1800);
    assert_int_equal(gate_audit_parse_time("2h", now, &t), 0);
    assert_true(t == now - 7200);
    assert_int_equal(gate_audit_parse_time("7d", now, &t), 0);
    assert_true(t == now - 7 * 86400);
    const char *bad[] = {"", "yesterday", "2h30m", "-5m", "7w", "s", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
                         "2025-11-24T16:00:00", "2025-11-24", "2025-11-24T24:00:00Z", "1764000000.", "12 h",
                         "2025-11-24T16:00:00Zjunk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = -1;
        if (gate_audit_parse_time(bad[i], now, &t) != -1)
            fail_msg("\"%s\" was taken as %f", bad[i], t);
        assert_true(t == -1);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(records_round_trip),
        T(commit_message_names_the_record),
        T(summary_is_capped),
        T(attachments_are_kept_and_checked),
        T(bad_input_appends_nothing),
        T(reopen_continues_the_chain),
        T(key_and_tip_files),
        T(without_a_key_there_are_no_macs),
        T(verify_accepts_an_intact_log),
        T(unreadable_logs_are_named),
        T(edited_record_is_detected),
        T(edited_record_with_its_hash_fixed_is_detected),
        T(edited_last_record_needs_the_key),
        T(removed_record_is_detected),
        T(removed_first_record_is_detected),
        T(reordered_records_are_detected),
        T(truncation_is_detected_by_the_tip),
        T(merge_commits_and_extra_files_are_detected),
        T(edited_attachment_is_detected),
        T(moved_ref_stops_a_running_log),
        T(failed_tip_write_stops_appends),
        T(failure_after_a_full_disk_names_it),
        T(appends_are_readable_at_once),
        T(crash_loses_no_record),
        T(torn_last_line_is_ignored),
        T(journal_breaking_the_chain_is_refused),
        T(edited_journal_line_is_detected),
        T(tip_covered_by_the_journal),
        T(attachments_commit_the_journal_first),
        T(one_process_writes),
        T(a_new_log_is_private),
        T(a_loose_log_is_tightened_at_open),
        T(an_empty_loose_directory_is_tightened),
        T(concurrent_appends_keep_one_chain),
        T(appends_together_share_one_sync),
        cmocka_unit_test(parse_time_forms),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
