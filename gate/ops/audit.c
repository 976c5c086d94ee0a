/*
 * audit.c - the audit log in git (the record format and its guarantees are
 * in audit.h).
 *
 * The repository is bare (HEAD -> refs/heads/main), so `git -C DIR log`
 * and `git show` read it and there is no working tree to drift.  A record's
 * canonical bytes are the jansson dump (JSON_COMPACT | JSON_SORT_KEYS) of
 * the record with seq, prev, id, time and attachments set; those exact
 * bytes are the record.json blob, and both the sha256 in the commit message
 * and the next record's prev are computed over them.  The HMAC is
 * HMAC-SHA256(key, the same bytes).
 *
 * The write-ahead journal.  A commit costs milliseconds (loose objects, the
 * ref's lock file, the reflog, each fsynced), one fdatasync a fraction of
 * one, so an append does not commit: it writes the record as one line to
 * DIR/airlock-journal (a file in a bare repository's directory is no
 * concern of git's) and fdatasyncs it, under the lock that orders seq and
 * prev.  A line is
 *
 *     <seq> <sha256 hex> <hmac hex, or "-" without a key> <canonical bytes>\n
 *
 * (the canonical bytes hold no newline: jansson escapes control
 * characters).  The record is durable when the append returns.  A flusher
 * thread then turns the journaled records into commits, in seq order and in
 * batches: it wakes when lines are added, writes a commit per record (the
 * same tree, message, author and chain as when appends committed
 * themselves; loose objects are not fsynced one by one), syncs the file
 * system once (syncfs), moves refs/heads/main once per batch (only from
 * where this process left it), syncs again, then writes the tip file.  Once every line of the
 * journal is committed it empties the journal, taking an exclusive flock
 * on it (a reader in another process holds a shared one while it reads, so
 * that it never reads a journal being cut).  The repository is the
 * flusher's while it is busy with a batch and otherwise belongs to whoever
 * holds the lock; a failure of the flusher (the branch moved, the tip
 * file not writable) makes later appends fail until a retry (every
 * RETRY_MS, or when a drain asks) succeeds: the journaled records stay in
 * the journal.
 *
 * A record with attachments (the start record's state.json, possibly a
 * hundred megabytes) is not journaled: its append has the flusher commit
 * everything pending first, keeps other appends waiting, and commits it
 * itself as appends did before the journal (commit, ref, tip file; the ref
 * moved back when the tip cannot be written).
 *
 * Recovery.  Open reads the journal: a last line cut short (no newline, or
 * not parseable) is an append that never returned and is cut off; any
 * other malformed line, or a line beyond the chain's last record that does
 * not continue it (seq, prev, sha256, MAC), is refused with its line
 * number: nothing is appended to such a log.  The lines beyond the chain
 * are committed before open returns.  Readers (gate_audit_read, verify) read
 * the journal before the chain, so that records the flusher commits in
 * between are seen in git, and take the journal's lines beyond the chain's
 * last record as the records that follow it ("commit": "").
 *
 * One writer: open takes an exclusive flock on the repository's directory,
 * so a second process (another `gate serve` on the same data directory) is
 * refused instead of interleaving its journal lines with this one's.
 *
 * The tip file (KEY.tip) is one JSON line {"seq", "sha256", "commit",
 * "hmac"}, the MAC being over "airlock-audit-tip <seq> <sha256> <commit>".
 * It is written after the ref (temporary file, fsync, rename, fsync of the
 * directory), by the flusher after each batch, so it lags behind the
 * journal and may lag behind the chain (a crash between the ref and the
 * tip); open and verify accept a tip behind the records, never one beyond
 * them (the journal's records count: a tip beyond the chain but matching a
 * journaled record is fine) nor one that disagrees with them.  Open refuses
 * a log that is behind the tip or disagrees with it: appending to it would
 * overwrite the evidence that records were cut off.  What the tip does not
 * cover is a record still only in the journal: lines cut off the journal's
 * end before the flusher commits them (milliseconds while the server runs;
 * until the next open after a crash) are not detected.
 *
 * File modes.  The log is private to the gate's user: directories 0700,
 * files 0600 (git's read-only loose objects 0400), wherever --audit-repo
 * points, not only inside a 0700 data directory.  libgit2 has no per-
 * repository mode for what it writes after init: loose objects (0444),
 * their directories (0777), refs, reflogs, packed-refs and every lock file
 * (0666) are created with those modes less the process umask;
 * git_repository_init_ext's `mode` covers only the directories init makes
 * (GIT_REPOSITORY_INIT_SHARED_UMASK, the default, leaves it all to the
 * umask), and a loose-object backend given its own modes
 * (git_odb_backend_loose) would cover objects but not refs, reflogs and
 * their lock files.  The flusher thread creates objects while other threads of the
 * server run, and a umask is per process, not per thread: a umask set
 * around each libgit2 call would be restored under the feet of the flusher
 * (or of another thread creating its own files).  So gate_audit_open adds
 * 077 to the process umask and leaves it there (audit.h says so): every
 * file the process creates from then on is private to its user, which for
 * the server, whose other files sit in its 0700 data directory, is what it
 * wants anyway.  Init also asks for 0700 directories (`mode`), and writes
 * core.sharedRepository = 0600 into the repository's config so that git
 * itself (an operator's `git gc`, which repacks) keeps them private too.
 * A repository directory found open to group or others (made by an older
 * gate, or an empty directory made by hand) is tightened at open, with
 * everything in it, once, saying so on stderr; so is a key file.
 *
 * libgit2 is initialised per use (git_libgit2_init counts references): an
 * open log holds one reference, each path-based call holds one for its
 * duration.
 */
#define _GNU_SOURCE   /* syncfs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "gate/base/clock.h"
#include "gate/base/fault.h"
#include "gate/base/log.h"
#include "gate/ops/audit.h"
#include "twin/util.h"

#define MAIN_REF "refs/heads/main"
#define RECORD_FILE "record.json"
#define JOURNAL_FILE "airlock-journal"
#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define SHA_HEX 65   /* 64 hex digits and the NUL */

enum {
    KEY_BYTES = 32,        /* a new key */
    KEY_MAX = 4096,        /* a key file larger than this is not a key */
    TIP_MAX = 4096,
    SUMMARY_MAX = 100,     /* bytes of the commit message's first line */
    ID_BYTES = 8,          /* 16 hex digits */
    JOURNAL_MAX = 1 << 30, /* bytes: an append that would make the journal larger fails */
    BATCH_MAX = 1024,      /* records per batch (one ref update, one tip write) */
    RETRY_MS = 1000,       /* a failed batch is tried again after this */
    FULL_AFTERMATH = 30,   /* seconds after a full disk in which a failed commit is put down to it */
};

/* A journaled record not yet committed: what its commit is made of. */
typedef struct pending {
    long long seq;
    char sha[SHA_HEX];
    char mac[SHA_HEX];   /* "" without a key */
    char *bytes;         /* the canonical bytes (owned) */
    size_t len;
    char *summary;       /* the commit message's first line (owned) */
    double when;         /* the record's time: the commit's date */
} pending;

struct gate_audit {
    /* Set by open, read-only after. */
    char *dir;
    char *journal_path;
    unsigned char *key;     /* NULL: records carry no MAC */
    size_t keylen;
    char *tip_path;         /* KEY.tip, NULL without a key */
    int dirfd;              /* the repository's directory, flocked: one writer */
    pthread_t flusher;
    int flusher_running;

    pthread_mutex_t lock;   /* guards the fields below */
    pthread_cond_t wake;    /* the flusher waits on it for work */
    pthread_cond_t done;    /* a flusher round ended, or an attachment record's append did */
    long long seq;          /* the last record appended (journaled or committed), 0 when empty */
    char prev[SHA_HEX];     /* its sha256, "" when empty */
    int jfd;                /* the journal, O_APPEND */
    off_t jlen;             /* its length */
    pending *pending;       /* journaled, not committed, in seq order */
    size_t npending, cappending;
    char broken[1024];      /* why the flusher's last round failed, "" when it did not */
    unsigned long asked;    /* drains asked for ... */
    unsigned long answered; /* ... and the last one a finished round started after */
    int busy;               /* the flusher is committing a batch (and owns the repository) */
    int paused;             /* tests: the flusher leaves pending records alone */
    int stopping;           /* close: commit what is pending, then end */
    int abandoned;          /* tests: end now, commit nothing */
    int exclusive;          /* an attachment record is being appended: others wait */
    int retry;              /* the flusher's RETRY_MS passed since a failure */
    int jbroken;            /* a failed journal write could not be cut back: no more appends */
    char failing[256];      /* why the last append failed, "" once one succeeds (gate_audit_health) */
    double full_at;         /* when a write last met a full (or read-only) disk (gate_mono), 0: never */
    /* group commit: journal bytes ever written (a ticket is the count after
     * a record's line) and ever made durable; one fdatasync at a time, run
     * without the lock, covers every line written before it started */
    unsigned long long jwritten, jsynced;
    int syncing;
    pthread_cond_t synced;  /* a sync ended */
    unsigned long nsyncs;   /* fdatasyncs of the journal (tests, benchmarks) */

    /* The repository's side: the flusher's while busy, otherwise the
     * lock holder's (and open's and close's, with no flusher running). */
    git_repository *repo;
    git_oid tip;            /* refs/heads/main as this process left it */
    int has_tip;
    long long git_seq;      /* the last committed record, 0 when none */
    char git_sha[SHA_HEX];  /* its sha256 */
    long long tip_seq;      /* the seq the tip file records, 0 when none */
};

/* ---- small helpers ------------------------------------------------------ */

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char H[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = H[d[i] >> 4];
        out[2 * i + 1] = H[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *p, size_t n, char out[SHA_HEX])
{
    unsigned char d[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, n ? p : "", n, d) < 0)
        abort();   /* a built-in digest cannot fail short of a broken library */
    hex_of(d, sizeof d, out);
}

static void hmac_hex(const unsigned char *key, size_t keylen, const void *p, size_t n, char out[SHA_HEX])
{
    unsigned char d[32];
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, n ? p : "", n, d) < 0)
        abort();
    hex_of(d, sizeof d, out);
}

/* err gets "<what>: <libgit2's last error>"; returns -1. */
static int git_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int git_fail(char *err, size_t errlen, const char *fmt, ...)
{
    int sys = errno;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* libgit2 does not always set its error (a failed write may leave
     * only errno): say what the system said then */
    const git_error *e = git_error_last();
    snprintf(err, errlen, "%s: %s%s%s", what, e && e->message ? e->message : "libgit2 gave no reason",
             e && e->message ? "" : "; the system's last error: ", e && e->message ? "" : strerror(sys));
    return -1;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync of the directory holding `path`, so that a rename or a creation
 * in it is durable. */
static int fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? twin_xasprintf("%.*s", (int)(slash == path ? 1 : slash - path), path) : twin_xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Reads at most `max` bytes of `path` into a new NUL-terminated buffer.
 * Returns 0, -1 with errno (ENOENT for a missing file), or -2 when the file
 * is larger than max. */
static int read_small(const char *path, size_t max, char **out, size_t *outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *buf = twin_xmalloc(max + 2);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            close(fd);
            free(buf);
            return -2;
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

/* ---- the key and the tip file ------------------------------------------- */

/* Reads the key at `path`; when it is missing and `create`, makes one (0600,
 * KEY_BYTES random bytes, durable).  *out is a new buffer. */
static int key_load(const char *path, int create, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    char *buf;
    size_t n;
    int rc = read_small(path, KEY_MAX, &buf, &n);
    if (rc == -1 && errno == ENOENT && create) {
        unsigned char k[KEY_BYTES];
        if (gnutls_rnd(GNUTLS_RND_KEY, k, sizeof k) < 0) {
            snprintf(err, errlen, "%s: no random bytes for a new key", path);
            return -1;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create the audit key: %s", path, strerror(errno));
            return -1;
        }
        if (fd >= 0) {   /* EEXIST: another process made it first; read theirs */
            if (write_all(fd, k, sizeof k) < 0 || fsync(fd) < 0) {
                snprintf(err, errlen, "%s: cannot write the audit key: %s", path, strerror(errno));
                close(fd);
                unlink(path);
                return -1;
            }
            close(fd);
            fsync_parent(path);
        }
        rc = read_small(path, KEY_MAX, &buf, &n);
    }
    if (rc == -2) {
        snprintf(err, errlen, "%s: not an audit key (larger than %d bytes)", path, KEY_MAX);
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read the audit key: %s", path, strerror(errno));
        return -1;
    }
    if (n == 0) {
        free(buf);
        snprintf(err, errlen, "%s: the audit key is empty", path);
        return -1;
    }
    *out = (unsigned char *)buf;
    *outlen = n;
    return 0;
}

typedef struct tip_file {
    int present;
    long long seq;
    char sha[SHA_HEX];
    char commit[GIT_OID_HEXSZ + 1];
} tip_file;

static void tip_mac(const unsigned char *key, size_t keylen, long long seq, const char *sha, const char *commit,
                    char out[SHA_HEX])
{
    char *msg = twin_xasprintf("airlock-audit-tip %lld %s %s", seq, sha, commit);
    hmac_hex(key, keylen, msg, strlen(msg), out);
    free(msg);
}

static int is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Reads the tip file: 0 with t->present 0 when it is missing, 0 with the
 * tip, or -1 with err when it is unreadable, malformed or its MAC is
 * wrong. */
static int tip_read(const char *path, const unsigned char *key, size_t keylen, tip_file *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    char *buf;
    size_t n;
    int rc = read_small(path, TIP_MAX, &buf, &n);
    if (rc == -1 && errno == ENOENT)
        return 0;
    if (rc == -2)
        return snprintf(err, errlen, "tip file %s is larger than %d bytes", path, TIP_MAX), -1;
    if (rc < 0)
        return snprintf(err, errlen, "tip file %s: %s", path, strerror(errno)), -1;
    json_error_t je;
    json_t *doc = json_loadb(buf, n, 0, &je);
    free(buf);
    json_t *seq = json_object_get(doc, "seq");
    const char *sha = json_string_value(json_object_get(doc, "sha256"));
    const char *commit = json_string_value(json_object_get(doc, "commit"));
    const char *mac = json_string_value(json_object_get(doc, "hmac"));
    if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !is_hex(sha, 64) || !is_hex(commit, GIT_OID_HEXSZ) ||
        !mac) {
        json_decref(doc);
        return snprintf(err, errlen, "tip file %s is malformed (want {\"seq\", \"sha256\", \"commit\", \"hmac\"})",
                        path),
               -1;
    }
    char want[SHA_HEX];
    tip_mac(key, keylen, json_integer_value(seq), sha, commit, want);
    if (strcmp(want, mac)) {
        json_decref(doc);
        return snprintf(err, errlen, "tip file %s was edited (its MAC does not match)", path), -1;
    }
    t->present = 1;
    t->seq = json_integer_value(seq);
    snprintf(t->sha, sizeof t->sha, "%s", sha);
    snprintf(t->commit, sizeof t->commit, "%s", commit);
    json_decref(doc);
    return 0;
}

/* Replaces the tip file atomically and durably. */
static int tip_write(const gate_audit *a, long long seq, const char *sha, const git_oid *commit, char *err,
                     size_t errlen)
{
    char chex[GIT_OID_HEXSZ + 1], mac[SHA_HEX];
    git_oid_tostr(chex, sizeof chex, commit);
    tip_mac(a->key, a->keylen, seq, sha, chex, mac);
    char *line = twin_xasprintf("{\"commit\":\"%s\",\"hmac\":\"%s\",\"seq\":%lld,\"sha256\":\"%s\"}\n", chex, mac,
                                seq, sha);
    char *tmp = twin_xasprintf("%s.tmp", a->tip_path);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write the tip file %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "cannot write the tip file %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto cleanup;
    }
    close(fd);
    if (rename(tmp, a->tip_path) < 0 || fsync_parent(a->tip_path) < 0) {
        snprintf(err, errlen, "cannot replace the tip file %s: %s", a->tip_path, strerror(errno));
        unlink(tmp);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(tmp);
    free(line);
    return rc;
}

/* ---- reading the repository --------------------------------------------- */

static int repo_open(git_repository **out, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return snprintf(err, errlen, "%s: no audit repository (%s)", dir, strerror(errno)), -1;
    int rc = git_repository_open_ext(out, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (rc == GIT_ENOTFOUND)
        return snprintf(err, errlen, "%s: not an audit repository (no git repository there)", dir), -1;
    if (rc < 0)
        return git_fail(err, errlen, "%s: cannot open the audit repository", dir);
    return 0;
}

/* The commits of refs/heads/main along first parents, oldest first (a new
 * array in *out, *n of them; none when the branch does not exist yet). */
static int chain_load(git_repository *repo, const char *dir, git_oid **out, size_t *n, char *err, size_t errlen)
{
    git_oid oid;
    int rc = git_reference_name_to_id(&oid, repo, MAIN_REF);
    if (rc == GIT_ENOTFOUND) {
        *out = NULL;
        *n = 0;
        return 0;
    }
    if (rc < 0)
        return git_fail(err, errlen, "%s: cannot read %s", dir, MAIN_REF);
    git_oid *v = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        git_commit *c;
        if (git_commit_lookup(&c, repo, &oid) < 0) {
            char hex[GIT_OID_HEXSZ + 1];
            git_oid_tostr(hex, sizeof hex, &oid);
            free(v);
            return git_fail(err, errlen, "%s: commit %s of %s", dir, hex, MAIN_REF);
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 64;
            v = twin_xrealloc(v, cap * sizeof *v);
        }
        v[len++] = oid;
        unsigned parents = git_commit_parentcount(c);
        if (parents)
            git_oid_cpy(&oid, git_commit_parent_id(c, 0));
        git_commit_free(c);
        if (!parents)
            break;
    }
    for (size_t i = 0; i < len / 2; i++) {
        git_oid t = v[i];
        v[i] = v[len - 1 - i];
        v[len - 1 - i] = t;
    }
    *out = v;
    *n = len;
    return 0;
}

/* The blob named `name` at the top of the commit's tree; *out is NULL (and
 * 0 returned) when there is no such file.  -1 with err for another failure
 * (a directory by that name counts as missing for the callers). */
static int tree_blob(git_repository *repo, const git_tree *tree, const char *name, git_blob **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    const git_tree_entry *e = git_tree_entry_byname(tree, name);
    if (!e || git_tree_entry_type(e) != GIT_OBJECT_BLOB)
        return 0;
    if (git_blob_lookup(out, repo, git_tree_entry_id(e)) < 0)
        return git_fail(err, errlen, "blob %s", name);
    return 0;
}

/* The record of commit `oid`: its canonical bytes' sha256 and the parsed
 * record (a new reference).  -1 with err naming the commit. */
static int record_load(git_repository *repo, const git_oid *oid, char sha[SHA_HEX], json_t **out, char *err,
                       size_t errlen)
{
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, oid);
    git_commit *c = NULL;
    git_tree *tree = NULL;
    git_blob *blob = NULL;
    int rc = -1;
    char why[256];
    if (git_commit_lookup(&c, repo, oid) < 0 || git_commit_tree(&tree, c) < 0) {
        git_fail(err, errlen, "commit %s", hex);
        goto cleanup;
    }
    if (tree_blob(repo, tree, RECORD_FILE, &blob, why, sizeof why) < 0) {
        snprintf(err, errlen, "commit %s: %s", hex, why);
        goto cleanup;
    }
    if (!blob) {
        snprintf(err, errlen, "commit %s has no %s", hex, RECORD_FILE);
        goto cleanup;
    }
    size_t n = (size_t)git_blob_rawsize(blob);
    if (n > GATE_AUDIT_MAX_RECORD) {
        snprintf(err, errlen, "commit %s: %s is larger than %d bytes", hex, RECORD_FILE, GATE_AUDIT_MAX_RECORD);
        goto cleanup;
    }
    json_error_t je;
    json_t *rec = json_loadb(git_blob_rawcontent(blob), n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(rec)) {
        if (rec)
            snprintf(err, errlen, "commit %s: %s is not a JSON object", hex, RECORD_FILE);
        else
            snprintf(err, errlen, "commit %s: %s:%d:%d: %s", hex, RECORD_FILE, je.line, je.column, je.text);
        json_decref(rec);
        goto cleanup;
    }
    sha256_hex(git_blob_rawcontent(blob), n, sha);
    *out = rec;
    rc = 0;
cleanup:
    git_blob_free(blob);
    git_tree_free(tree);
    git_commit_free(c);
    return rc;
}

static long long record_seq(const json_t *rec)
{
    json_t *s = json_object_get(rec, "seq");
    return json_is_integer(s) ? (long long)json_integer_value(s) : -1;
}

/* The values of "record-sha256: " and "record-hmac: " in the message's
 * body (after the summary line); "" when absent. */
static void message_fields(const char *msg, char sha[SHA_HEX], char mac[SHA_HEX])
{
    sha[0] = mac[0] = '\0';
    const char *p = msg ? strchr(msg, '\n') : NULL;
    while (p) {
        p++;
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        static const char S[] = "record-sha256: ", H[] = "record-hmac: ";
        if (len > sizeof S - 1 && !strncmp(p, S, sizeof S - 1) && len - (sizeof S - 1) < SHA_HEX)
            snprintf(sha, SHA_HEX, "%.*s", (int)(len - (sizeof S - 1)), p + sizeof S - 1);
        else if (len > sizeof H - 1 && !strncmp(p, H, sizeof H - 1) && len - (sizeof H - 1) < SHA_HEX)
            snprintf(mac, SHA_HEX, "%.*s", (int)(len - (sizeof H - 1)), p + sizeof H - 1);
        p = end;
    }
}

/* ---- problems: verify's report, the journal's checks -------------------- */

static void problem(json_t *problems, long long seq, const git_oid *commit, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(json_t *problems, long long seq, const git_oid *commit, const char *fmt, ...)
{
    char hex[GIT_OID_HEXSZ + 1] = "";
    if (commit)
        git_oid_tostr(hex, sizeof hex, commit);
    va_list ap;
    va_start(ap, fmt);
    char *text = twin_xvasprintf(fmt, ap);
    va_end(ap);
    json_array_append_new(problems, json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)seq, "commit", hex, "problem", text));
    free(text);
}

/* ---- the journal (its format and its life are at the top of this file) --- */

/* One complete line of the journal. */
typedef struct jline {
    size_t lineno;       /* 1-based */
    size_t off;          /* where it starts in the file */
    long long seq;       /* the line's seq */
    char sha[SHA_HEX];   /* the line's sha256 of its record */
    char mac[SHA_HEX];   /* the line's HMAC, "" for "-" */
    const char *bytes;   /* the record's canonical bytes, in the journal's buffer */
    size_t len;
    const char *bad;     /* why the line is malformed; NULL when it is not */
} jline;

typedef struct journal {
    char *buf;           /* the file as read */
    size_t len;
    jline *lines;        /* its lines, but a torn last one */
    size_t n;
    size_t good;         /* bytes up to the end of the last line kept */
} journal;

static void journal_free(journal *j)
{
    free(j->buf);
    free(j->lines);
    memset(j, 0, sizeof *j);
}

static char *journal_path_of(git_repository *repo)
{
    return twin_xasprintf("%s%s", git_repository_path(repo), JOURNAL_FILE);   /* the path ends in '/' */
}

static int hex_span(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Parses one line (s[0..n), without its newline) into l: "<seq> <sha256>
 * <hmac|-> <record>".  Returns NULL, or why it is malformed. */
static const char *jline_parse(const char *s, size_t n, jline *l)
{
    size_t i = 0;
    long long seq = 0;
    while (i < n && i < 18 && s[i] >= '0' && s[i] <= '9')
        seq = seq * 10 + (s[i++] - '0');
    if (i == 0 || i >= n || s[i] != ' ' || seq < 1)
        return "no seq at its start";
    i++;
    if (n - i < 65 || !hex_span(s + i, 64) || s[i + 64] != ' ')
        return "no sha256 after its seq";
    memcpy(l->sha, s + i, 64);
    l->sha[64] = '\0';
    i += 65;
    if (n - i >= 2 && s[i] == '-' && s[i + 1] == ' ') {
        l->mac[0] = '\0';
        i += 2;
    } else if (n - i >= 65 && hex_span(s + i, 64) && s[i + 64] == ' ') {
        memcpy(l->mac, s + i, 64);
        l->mac[64] = '\0';
        i += 65;
    } else {
        return "no MAC (or -) after its sha256";
    }
    if (i >= n)
        return "no record";
    l->seq = seq;
    l->bytes = s + i;
    l->len = n - i;
    return NULL;
}

/* Splits j->buf into lines.  A last line without its newline, or one that
 * cannot be parsed, is an append a crash cut short (the append never
 * returned): it is left out, and j->good ends before it.  Other malformed
 * lines are kept, with `bad` saying why. */
static void journal_parse(journal *j)
{
    size_t start = 0, cap = 0, lineno = 0;
    while (start < j->len) {
        const char *nl = memchr(j->buf + start, '\n', j->len - start);
        if (!nl)
            break;
        size_t end = (size_t)(nl - j->buf);
        if (j->n == cap) {
            cap = cap ? 2 * cap : 16;
            j->lines = twin_xrealloc(j->lines, cap * sizeof *j->lines);
        }
        jline *l = &j->lines[j->n++];
        memset(l, 0, sizeof *l);
        l->lineno = ++lineno;
        l->off = start;
        l->bad = jline_parse(j->buf + start, end - start, l);
        start = end + 1;
    }
    j->good = start;
    if (j->n && j->lines[j->n - 1].bad)
        j->good = j->lines[--j->n].off;
}

/* Reads the journal open at fd, from its start, into j (what the file
 * holds now: lines appended meanwhile are left for a later read). */
static int journal_read_fd(int fd, const char *path, journal *j, char *err, size_t errlen)
{
    memset(j, 0, sizeof *j);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return snprintf(err, errlen, "cannot read the journal %s: %s", path, strerror(errno)), -1;
    if (st.st_size > JOURNAL_MAX)
        return snprintf(err, errlen, "the journal %s is larger than %d bytes", path, JOURNAL_MAX), -1;
    size_t size = (size_t)st.st_size;
    j->buf = twin_xmalloc(size + 1);
    while (j->len < size) {
        ssize_t r = pread(fd, j->buf + j->len, size - j->len, (off_t)j->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read the journal %s: %s", path, strerror(errno));
            journal_free(j);
            return -1;
        }
        if (r == 0)
            break;   /* emptied meanwhile: what was read is a prefix */
        j->len += (size_t)r;
    }
    j->buf[j->len] = '\0';
    journal_parse(j);
    return 0;
}

/* Reads the journal at path for a reader (another process, or a reader
 * beside the writer): under a shared flock, so that the writer does not
 * empty it mid-read.  A missing journal is an empty one. */
static int journal_load(const char *path, journal *j, char *err, size_t errlen)
{
    memset(j, 0, sizeof *j);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0 || flock(fd, LOCK_SH) < 0) {
        snprintf(err, errlen, "cannot read the journal %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = journal_read_fd(fd, path, j, err, errlen);
    close(fd);   /* and the lock with it */
    return rc;
}

/* The checks of journal line l, which should hold record `want` and follow
 * a record hashing to `prev` (NULL: unknown, not checked): its bytes
 * against the line's sha256 and (with a key) its MAC, its record's seq and
 * prev, and no attachments (the journal holds none).  Each problem goes to
 * `problems`.  sha gets the sha256 of the line's bytes; *out (may be NULL)
 * the record (new) when it is a JSON object, else NULL. */
static void jline_check(const jline *l, const unsigned char *key, size_t keylen, long long want, const char *prev,
                        json_t *problems, char sha[SHA_HEX], json_t **out)
{
    if (out)
        *out = NULL;
    sha256_hex(l->bytes, l->len, sha);
    if (strcmp(sha, l->sha))
        problem(problems, l->seq, NULL,
                "journal line %zu: the record was edited: its sha256 is %.12s, the line says %.12s", l->lineno, sha,
                l->sha);
    if (key) {
        char mac[SHA_HEX];
        hmac_hex(key, keylen, l->bytes, l->len, mac);
        if (!l->mac[0])
            problem(problems, l->seq, NULL, "journal line %zu has no MAC (written without the key)", l->lineno);
        else if (strcmp(mac, l->mac))
            problem(problems, l->seq, NULL,
                    "journal line %zu: the MAC does not match: the record was written or rewritten without the key",
                    l->lineno);
    }
    json_error_t je;
    json_t *rec = l->len <= GATE_AUDIT_MAX_RECORD ? json_loadb(l->bytes, l->len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(rec)) {
        if (l->len > GATE_AUDIT_MAX_RECORD)
            problem(problems, l->seq, NULL, "journal line %zu: the record is larger than %d bytes", l->lineno,
                    GATE_AUDIT_MAX_RECORD);
        else if (rec)
            problem(problems, l->seq, NULL, "journal line %zu: the record is not a JSON object", l->lineno);
        else
            problem(problems, l->seq, NULL, "journal line %zu: the record is not valid JSON (%d:%d: %s)", l->lineno,
                    je.line, je.column, je.text);
        json_decref(rec);
        return;
    }
    const json_t *s = json_object_get(rec, "seq");
    if (!json_is_integer(s))
        problem(problems, l->seq, NULL, "journal line %zu: the record has no integer seq", l->lineno);
    else if (json_integer_value(s) != l->seq)
        problem(problems, l->seq, NULL, "journal line %zu says seq %lld but holds record %lld", l->lineno, l->seq,
                (long long)json_integer_value(s));
    if (l->seq != want)
        problem(problems, l->seq, NULL, "journal line %zu: seq %lld does not continue the chain, which ends at %lld",
                l->lineno, l->seq, want - 1);
    const char *p = json_string_value(json_object_get(rec, "prev"));
    if (!p)
        problem(problems, l->seq, NULL, "journal line %zu: the record has no prev", l->lineno);
    else if (prev && !prev[0] && p[0])
        problem(problems, l->seq, NULL, "journal line %zu: the first record's prev is %.12s, not empty", l->lineno, p);
    else if (prev && strcmp(p, prev))
        problem(problems, l->seq, NULL,
                "journal line %zu: prev is %.12s but the record before it hashes to %.12s: a record before it was "
                "edited, removed or reordered",
                l->lineno, p, prev);
    const json_t *att = json_object_get(rec, "attachments");
    if (att && (!json_is_object(att) || json_object_size(att)))
        problem(problems, l->seq, NULL,
                "journal line %zu: the record lists attachments, which the journal does not hold", l->lineno);
    if (out)
        *out = rec;
    else
        json_decref(rec);
}

/* ---- writing: the repository, a record's commit ------------------------- */

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

/* Opens the repository at dir, or makes a bare one (HEAD -> main) when dir
 * is missing or empty. */
static int repo_open_or_init(git_repository **out, const char *dir, char *err, size_t errlen)
{
    int rc = git_repository_open_ext(out, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (rc == 0)
        return 0;
    if (rc != GIT_ENOTFOUND)
        return git_fail(err, errlen, "%s: cannot open the audit repository", dir);
    if (!dir_is_empty(dir))
        return snprintf(err, errlen, "%s: not empty and not a git repository: not making the audit log there", dir),
               -1;
    git_repository_init_options o;
    git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
    o.mode = 0700;   /* the directories init makes; later files follow the umask (see File modes) */
    o.initial_head = "main";
    o.description = "Airlock's audit log: one commit per decision (gate audit log|show|verify).";
    if (git_repository_init_ext(out, dir, &o) < 0)
        return git_fail(err, errlen, "%s: cannot create the audit repository", dir);
    git_config *cfg = NULL;
    rc = git_repository_config(&cfg, *out);
    if (rc == 0)
        rc = git_config_set_string(cfg, "core.sharedRepository", "0600");   /* for git itself */
    git_config_free(cfg);
    if (rc < 0) {
        git_fail(err, errlen, "%s: cannot write the audit repository's config", dir);
        git_repository_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* An attachment's name: a plain file name beside record.json. */
static int attachment_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255 || !strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, RECORD_FILE) ||
        !strcmp(name, ".git"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '/' || name[i] == '\\' || (unsigned char)name[i] < 0x20)
            return 0;
    return 1;
}

/* Appends s to b with control characters made spaces. */
static void add_clean(twin_buf *b, const char *s)
{
    for (; s && *s; s++) {
        char c = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
        twin_buf_add(b, &c, 1);
    }
}

static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The commit message's first line (a new string), at most SUMMARY_MAX
 * bytes, cut on a UTF-8 character boundary. */
static char *summary_of(const json_t *rec)
{
    twin_buf b = {0};
    const char *type = str_at(rec, "type");
    const char *agent = str_at(rec, "agent");
    const char *verdict = str_at(rec, "verdict");
    const json_t *req = json_object_get(rec, "request");
    const json_t *act = json_object_get(rec, "action");
    const char *parts[4];
    int np = 0;
    if (type && !strcmp(type, "decision")) {
        parts[np++] = verdict ? verdict : "?";
        parts[np++] = agent ? agent : "?";
        const char *method = str_at(req, "method") ? str_at(req, "method") : str_at(act, "method");
        const char *path = str_at(req, "path") ? str_at(req, "path") : str_at(act, "path");
        if (method)
            parts[np++] = method;
        if (path)
            parts[np++] = path;
    } else {
        parts[np++] = type ? type : "record";
        if (agent)
            parts[np++] = agent;
        const char *why = verdict ? verdict : str_at(rec, "reason") ? str_at(rec, "reason") : str_at(rec, "message");
        if (why)
            parts[np++] = why;
    }
    for (int i = 0; i < np; i++) {
        if (i)
            twin_buf_add(&b, " ", 1);
        add_clean(&b, parts[i]);
    }
    if (b.len > SUMMARY_MAX) {
        size_t cut = SUMMARY_MAX - 3;
        while (cut > 0 && ((unsigned char)b.s[cut] & 0xc0) == 0x80)
            cut--;
        b.len = cut;
        twin_buf_add(&b, "...", 3);
    }
    twin_buf_add(&b, "", 0);
    if (!b.s)
        return twin_xstrdup("record");
    b.s[b.len] = '\0';
    return b.s;
}

typedef struct dumped {
    const char *name;   /* borrowed from the attachments object */
    char *bytes;
    size_t len;
} dumped;

static void dumped_free(dumped *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(d[i].bytes);
    free(d);
}

static void pending_clear(pending *p)
{
    free(p->bytes);
    free(p->summary);
    p->bytes = p->summary = NULL;
}

static void pending_free(pending *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pending_clear(&v[i]);
    free(v);
}

/* The commit of one record, its tree record.json and the attachments, on
 * top of `parent` (NULL for the first record); *out gets it.  The branch
 * is not moved.  The caller holds the repository. */
static int commit_write(gate_audit *a, const pending *p, const dumped *att, size_t natt, const git_oid *parent_id,
                        git_oid *out, char *err, size_t errlen)
{
    git_treebuilder *bld = NULL;
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    char *msg = a->key ? twin_xasprintf("%s\n\nrecord-sha256: %s\nrecord-hmac: %s\n", p->summary, p->sha, p->mac)
                       : twin_xasprintf("%s\n\nrecord-sha256: %s\n", p->summary, p->sha);
    int rc = -1;
    git_oid oid, tree_oid;
    int fault = gate_fault("audit.commit");
    if (fault) {
        snprintf(err, errlen, "%s: writing record %lld: %s", a->dir, p->seq, strerror(fault));
        goto cleanup;
    }
    if (git_treebuilder_new(&bld, a->repo, NULL) < 0 ||
        git_blob_create_from_buffer(&oid, a->repo, p->bytes, p->len) < 0 ||
        git_treebuilder_insert(NULL, bld, RECORD_FILE, &oid, GIT_FILEMODE_BLOB) < 0) {
        git_fail(err, errlen, "%s: writing record %lld", a->dir, p->seq);
        goto cleanup;
    }
    for (size_t i = 0; i < natt; i++)
        if (git_blob_create_from_buffer(&oid, a->repo, att[i].bytes, att[i].len) < 0 ||
            git_treebuilder_insert(NULL, bld, att[i].name, &oid, GIT_FILEMODE_BLOB) < 0) {
            git_fail(err, errlen, "%s: writing attachment %s", a->dir, att[i].name);
            goto cleanup;
        }
    if (git_treebuilder_write(&tree_oid, bld) < 0 || git_tree_lookup(&tree, a->repo, &tree_oid) < 0) {
        git_fail(err, errlen, "%s: writing the tree of record %lld", a->dir, p->seq);
        goto cleanup;
    }
    if (parent_id && git_commit_lookup(&parent, a->repo, parent_id) < 0) {
        git_fail(err, errlen, "%s: the commit before record %lld", a->dir, p->seq);
        goto cleanup;
    }
    git_time_t secs = p->when > 0 && p->when < 9e15 ? (git_time_t)floor(p->when) : 0;
    if (git_signature_new(&sig, "airlock", "airlock@localhost", secs, 0) < 0) {
        git_fail(err, errlen, "%s: the commit's signature", a->dir);
        goto cleanup;
    }
    const git_commit *parents[1] = {parent};
    if (git_commit_create(out, a->repo, NULL, sig, sig, NULL, msg, tree, parent ? 1 : 0, parents) < 0) {
        git_fail(err, errlen, "%s: writing the commit of record %lld", a->dir, p->seq);
        goto cleanup;
    }
    rc = 0;
cleanup:
    git_signature_free(sig);
    git_commit_free(parent);
    git_tree_free(tree);
    git_treebuilder_free(bld);
    free(msg);
    return rc;
}

/* Moves refs/heads/main to `to`, only if it is still where this process
 * left it. */
static int ref_move(gate_audit *a, const git_oid *to, char *err, size_t errlen)
{
    /* libgit2 writes loose objects without an fsync each (the journal holds
     * the records meanwhile): one syncfs makes a whole batch's objects
     * durable before the branch names them, and one more makes the branch
     * durable before the tip file follows it and the journal is emptied */
    int fault = gate_fault("audit.ref");
    if (fault)
        return snprintf(err, errlen, "%s: updating %s: %s", a->dir, MAIN_REF, strerror(fault)), -1;
    if (syncfs(a->dirfd) < 0)
        return snprintf(err, errlen, "%s: syncing the objects: %s", a->dir, strerror(errno)), -1;
    git_reference *ref = NULL;
    int r = git_reference_create_matching(&ref, a->repo, MAIN_REF, to, a->has_tip, a->has_tip ? &a->tip : NULL,
                                          "audit: append");
    git_reference_free(ref);
    if (r == GIT_EMODIFIED || r == GIT_EEXISTS)
        return snprintf(err, errlen, "%s: %s moved under the gate (another writer, or an edit); not appending", a->dir,
                        MAIN_REF),
               -1;
    if (r < 0)
        return git_fail(err, errlen, "%s: updating %s", a->dir, MAIN_REF);
    if (syncfs(a->dirfd) < 0)
        return snprintf(err, errlen, "%s: syncing %s: %s", a->dir, MAIN_REF, strerror(errno)), -1;
    a->tip = *to;
    a->has_tip = 1;
    return 0;
}

/* Moves the branch back from `appended` to `old` (or removes it when
 * `old` is NULL: the append was the first record); best effort. */
static void ref_undo(gate_audit *a, const git_oid *appended, const git_oid *old)
{
    git_reference *ref = NULL;
    if (old)
        git_reference_create_matching(&ref, a->repo, MAIN_REF, old, 1, appended, "audit: undo append");
    else
        git_reference_remove(a->repo, MAIN_REF);
    git_reference_free(ref);
    if (old)
        a->tip = *old;
    a->has_tip = old != NULL;
}

/* Commits v[0..n) (n > 0, in seq order, continuing the chain) and moves
 * the branch once, to the last.  All or nothing: on -1 the branch has not
 * moved (objects written before the failure are unreferenced). */
static int commit_batch(gate_audit *a, const pending *v, size_t n, char *err, size_t errlen)
{
    git_oid head = a->tip, oid;
    int has = a->has_tip;
    for (size_t i = 0; i < n; i++) {
        if (commit_write(a, &v[i], NULL, 0, has ? &head : NULL, &oid, err, errlen) < 0)
            return -1;
        head = oid;
        has = 1;
    }
    if (ref_move(a, &head, err, errlen) < 0)
        return -1;
    a->git_seq = v[n - 1].seq;
    snprintf(a->git_sha, sizeof a->git_sha, "%s", v[n - 1].sha);
    return 0;
}

/* Writes the tip file when it is behind the chain. */
static int tip_sync(gate_audit *a, char *err, size_t errlen)
{
    if (!a->key || !a->has_tip || a->tip_seq == a->git_seq)
        return 0;
    if (tip_write(a, a->git_seq, a->git_sha, &a->tip, err, errlen) < 0)
        return -1;
    a->tip_seq = a->git_seq;
    return 0;
}

/* ---- open, close, the flusher, append ----------------------------------- */

/* Checks the tip file t against the chain (t->seq <= a->git_seq): the
 * record the tip names, found walking back from the branch, must be the one
 * it recorded, in the commit it recorded. */
static int check_tip_in_git(gate_audit *a, const tip_file *t, char *err, size_t errlen)
{
    git_oid oid = a->tip;
    char sha[SHA_HEX], why[512];
    snprintf(sha, sizeof sha, "%s", a->git_sha);
    long long seq = a->git_seq;
    while (seq > t->seq) {
        git_commit *c;
        if (git_commit_lookup(&c, a->repo, &oid) < 0)
            return git_fail(err, errlen, "%s: walking back to record %lld", a->dir, t->seq);
        int ok = git_commit_parentcount(c) > 0;
        if (ok)
            git_oid_cpy(&oid, git_commit_parent_id(c, 0));
        git_commit_free(c);
        json_t *rec = NULL;
        if (!ok || record_load(a->repo, &oid, sha, &rec, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: record %lld of the tip file %s cannot be found in the chain%s%s", a->dir,
                     t->seq, a->tip_path, ok ? ": " : "", ok ? why : "");
            return -1;
        }
        seq = record_seq(rec);
        json_decref(rec);
    }
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &oid);
    if (seq != t->seq || strcmp(sha, t->sha)) {
        snprintf(err, errlen,
                 "%s: record %lld is not the one the tip file %s recorded (sha256 %.12s, the tip says %.12s): the "
                 "chain was rewritten; not appending to this log (run `gate audit verify`)",
                 a->dir, t->seq, a->tip_path, sha, t->sha);
        return -1;
    }
    if (strcmp(hex, t->commit)) {
        snprintf(err, errlen,
                 "%s: record %lld is in commit %.12s but the tip file %s recorded commit %.12s: the chain was "
                 "rewritten; not appending to this log (run `gate audit verify`)",
                 a->dir, t->seq, hex, a->tip_path, t->commit);
        return -1;
    }
    return 0;
}

/* Takes the writer's lock: an exclusive flock on the repository's
 * directory, held while the log is open. */
static int writer_lock(gate_audit *a, char *err, size_t errlen)
{
    const char *gitdir = git_repository_path(a->repo);
    a->dirfd = open(gitdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a->dirfd < 0)
        return snprintf(err, errlen, "%s: cannot open the audit repository's directory: %s", gitdir, strerror(errno)),
               -1;
    if (flock(a->dirfd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return snprintf(err, errlen,
                            "%s: the audit log is open in another process (another gate serve on the same data "
                            "directory?)",
                            a->dir),
                   -1;
        return snprintf(err, errlen, "%s: cannot lock the audit log: %s", a->dir, strerror(errno)), -1;
    }
    return 0;
}

/* ---- file modes (see "File modes" above) -------------------------------- */

enum { TREE_DEPTH_MAX = 64 };   /* objects/xx/, refs/heads/a/b/...: a few levels, never this many */

/* Adds 077 to the process umask, for the rest of the process.  umask has no
 * read-only form: the first call reads it, the second sets the union. */
static void private_umask(void)
{
    mode_t old = umask(077);
    umask(old | 077);
}

/* err gets "<path>: cannot <what>: <errno's text>"; returns -1. */
static int tree_fail(char *err, size_t errlen, const char *path, const char *what)
{
    snprintf(err, errlen, "%s: cannot %s: %s", path, what, strerror(errno));
    return -1;
}

/* Takes the group and other permissions off every directory and regular
 * file under the directory dfd (borrowed) names, `path` in errors.
 * Symbolic links are neither changed nor followed.  0, or -1 with err. */
static int tighten_tree(int dfd, const char *path, int depth, char *err, size_t errlen)
{
    if (depth > TREE_DEPTH_MAX)
        return snprintf(err, errlen, "%s: directories nested more than %d deep", path, TREE_DEPTH_MAX), -1;
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* its own offset: dfd's is left alone */
    if (fd < 0)
        return tree_fail(err, errlen, path, "read the directory");
    DIR *d = fdopendir(fd);
    if (!d) {
        tree_fail(err, errlen, path, "read the directory");
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (errno = 0, e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *sub = twin_xasprintf("%s/%s", path, e->d_name);
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = tree_fail(err, errlen, sub, "stat");
        } else if (S_ISDIR(st.st_mode)) {
            int cfd = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd < 0) {
                rc = tree_fail(err, errlen, sub, "open the directory");
            } else {
                rc = tighten_tree(cfd, sub, depth + 1, err, errlen);
                if (rc == 0 && (st.st_mode & 077) && fchmod(cfd, st.st_mode & 07700) < 0)
                    rc = tree_fail(err, errlen, sub, "take group and other permissions off");
                close(cfd);
            }
        } else if (S_ISREG(st.st_mode) && (st.st_mode & 077) && fchmodat(dfd, e->d_name, st.st_mode & 07700, 0) < 0) {
            rc = tree_fail(err, errlen, sub, "take group and other permissions off");
        }
        free(sub);
    }
    if (rc == 0 && errno)
        rc = tree_fail(err, errlen, path, "read the directory");
    closedir(d);
    return rc;
}

/* A repository directory open to group or others (a log made by an older
 * gate, or in a directory made by hand) is made private with everything in
 * it, and stderr says so.  One walk, at the first open that finds the
 * directory so; a private directory is not walked (nothing under it can be
 * reached by others).  0, or -1 with err. */
static int repo_private(gate_audit *a, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(a->dirfd, &st) < 0)
        return snprintf(err, errlen, "%s: cannot stat the audit repository: %s", a->dir, strerror(errno)), -1;
    if (!(st.st_mode & 077))
        return 0;
    char why[1024];
    if (tighten_tree(a->dirfd, a->dir, 0, why, sizeof why) < 0)
        return snprintf(err, errlen, "%s: the audit repository is open to group or others (mode %04o) and cannot be "
                                     "made private: %s", a->dir, (unsigned)(st.st_mode & 07777), why), -1;
    if (fchmod(a->dirfd, st.st_mode & 07700) < 0)
        return snprintf(err, errlen, "%s: the audit repository is open to group or others (mode %04o) and cannot be "
                                     "made private: %s", a->dir, (unsigned)(st.st_mode & 07777), strerror(errno)), -1;
    gate_log("the audit repository %s was open to group or others (mode %04o): made it %04o, and "
                    "nothing in it readable by group or others",
            a->dir, (unsigned)(st.st_mode & 07777), (unsigned)(st.st_mode & 07700));
    return 0;
}

/* A key file open to group or others is made 0600, and stderr says so.
 * 0, or -1 with err. */
static int key_private(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return snprintf(err, errlen, "%s: cannot stat the audit key: %s", path, strerror(errno)), -1;
    if (!(st.st_mode & 077))
        return 0;
    if (chmod(path, 0600) < 0)
        return snprintf(err, errlen, "%s: the audit key is open to group or others (mode %04o) and cannot be made "
                                     "0600: %s", path, (unsigned)(st.st_mode & 07777), strerror(errno)), -1;
    gate_log("the audit key %s was open to group or others (mode %04o): made it 0600 (whoever "
                    "read it meanwhile can forge the log's MACs)",
            path, (unsigned)(st.st_mode & 07777));
    return 0;
}

/* The chain's last record: a->tip, git_seq, git_sha (none when the branch
 * does not exist yet). */
static int chain_tip(gate_audit *a, char *err, size_t errlen)
{
    int rc = git_reference_name_to_id(&a->tip, a->repo, MAIN_REF);
    if (rc == GIT_ENOTFOUND)
        return 0;
    if (rc < 0)
        return git_fail(err, errlen, "%s: cannot read %s", a->dir, MAIN_REF);
    json_t *rec;
    char why[512];
    if (record_load(a->repo, &a->tip, a->git_sha, &rec, why, sizeof why) < 0)
        return snprintf(err, errlen, "%s: cannot continue the chain: %s", a->dir, why), -1;
    a->git_seq = record_seq(rec);
    json_decref(rec);
    if (a->git_seq < 1)
        return snprintf(err, errlen, "%s: cannot continue the chain: the last record has no seq", a->dir), -1;
    a->has_tip = 1;
    return 0;
}

/* Opens the journal for appending (creating it, durably) and reads it into
 * j; a torn last line is cut off. */
static int journal_open(gate_audit *a, journal *j, char *err, size_t errlen)
{
    a->journal_path = journal_path_of(a->repo);
    int created = 0;
    a->jfd = open(a->journal_path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (a->jfd < 0 && errno == ENOENT) {
        a->jfd = open(a->journal_path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        created = 1;
    }
    if (a->jfd < 0)
        return snprintf(err, errlen, "cannot open the journal %s: %s", a->journal_path, strerror(errno)), -1;
    if (created && (fsync(a->jfd) < 0 || fsync(a->dirfd) < 0))
        return snprintf(err, errlen, "cannot create the journal %s: %s", a->journal_path, strerror(errno)), -1;
    if (journal_read_fd(a->jfd, a->journal_path, j, err, errlen) < 0)
        return -1;
    if (j->good < j->len && (ftruncate(a->jfd, (off_t)j->good) < 0 || fdatasync(a->jfd) < 0))
        return snprintf(err, errlen, "cannot cut the torn last line off the journal %s: %s", a->journal_path,
                        strerror(errno)),
               -1;
    a->jlen = (off_t)j->good;
    return 0;
}

/* Empties the journal when every line of it is committed (the lock held,
 * or no flusher running).  `wait`: for readers to finish reading it;
 * otherwise a journal being read is left for a later round. */
static void journal_trim(gate_audit *a, int wait)
{
    if (a->jfd < 0 || a->jlen == 0 || a->npending || a->git_seq != a->seq)
        return;
    if (flock(a->jfd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0)
        return;
    if (ftruncate(a->jfd, 0) == 0)
        a->jlen = 0;
    flock(a->jfd, LOCK_UN);
}

/* Open's recovery: the journal's lines beyond the chain's last record are
 * records whose appends returned before the process ended (a crash, or a
 * close that could not commit them).  Each must continue the chain, and the
 * tip file must be neither beyond them nor disagree with them; they are
 * then committed and the tip file brought up to date.  Nothing is written
 * when a check fails. */
static int recover(gate_audit *a, const journal *j, char *err, size_t errlen)
{
    pending *v = NULL;
    size_t n = 0;
    json_t *problems = json_array();
    long long seq = a->git_seq, git_seq = a->git_seq;
    char prev[SHA_HEX], why[1024];
    snprintf(prev, sizeof prev, "%s", a->git_sha);
    tip_file t = {0};
    int rc = -1;
    for (size_t i = 0; i < j->n; i++) {
        const jline *l = &j->lines[i];
        if (l->bad) {
            snprintf(err, errlen, "%s: line %zu is malformed (%s); not appending to this log (run `gate audit verify`)",
                     a->journal_path, l->lineno, l->bad);
            goto cleanup;
        }
        if (l->seq <= git_seq)
            continue;   /* committed before the journal was emptied */
        char sha[SHA_HEX];
        json_t *rec;
        jline_check(l, a->key, a->keylen, seq + 1, prev, problems, sha, &rec);
        if (json_array_size(problems)) {
            snprintf(err, errlen, "%s: %s; not appending to this log (run `gate audit verify`)", a->journal_path,
                     json_string_value(json_object_get(json_array_get(problems, 0), "problem")));
            json_decref(rec);
            goto cleanup;
        }
        v = twin_xrealloc(v, (n + 1) * sizeof *v);
        pending *p = &v[n++];
        memset(p, 0, sizeof *p);
        p->seq = l->seq;
        snprintf(p->sha, sizeof p->sha, "%s", sha);
        snprintf(p->mac, sizeof p->mac, "%s", l->mac);
        p->bytes = twin_xmalloc(l->len + 1);
        memcpy(p->bytes, l->bytes, l->len);
        p->bytes[l->len] = '\0';
        p->len = l->len;
        p->summary = summary_of(rec);
        p->when = json_number_value(json_object_get(rec, "time"));
        json_decref(rec);
        seq = l->seq;
        snprintf(prev, sizeof prev, "%s", sha);
    }
    if (a->key) {
        if (tip_read(a->tip_path, a->key, a->keylen, &t, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s; not appending to this log (run `gate audit verify`)", a->dir, why);
            goto cleanup;
        }
        a->tip_seq = t.present ? t.seq : 0;
        if (t.present && t.seq > seq) {
            snprintf(err, errlen,
                     "%s: the chain ends at record %lld but the tip file %s says %lld: records were cut off the end; "
                     "not appending to this log (run `gate audit verify`)",
                     a->dir, seq, a->tip_path, t.seq);
            goto cleanup;
        }
        if (t.present && t.seq <= git_seq && check_tip_in_git(a, &t, err, errlen) < 0)
            goto cleanup;
        if (t.present && t.seq > git_seq && strcmp(v[t.seq - git_seq - 1].sha, t.sha)) {
            snprintf(err, errlen,
                     "%s: record %lld is not the one the tip file %s recorded (sha256 %.12s, the tip says %.12s): the "
                     "chain was rewritten; not appending to this log (run `gate audit verify`)",
                     a->dir, t.seq, a->tip_path, v[t.seq - git_seq - 1].sha, t.sha);
            goto cleanup;
        }
    }
    if (n && commit_batch(a, v, n, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: committing the journal's records %lld to %lld: %s", a->dir, v[0].seq,
                 v[n - 1].seq, why);
        goto cleanup;
    }
    /* a tip among the journal's records: its commit can be compared now */
    if (t.present && t.seq > git_seq && check_tip_in_git(a, &t, err, errlen) < 0)
        goto cleanup;
    if (tip_sync(a, err, errlen) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    pending_free(v, n);
    json_decref(problems);
    return rc;
}

/* Whether there is something to commit or a tip file to write (the lock
 * held and the flusher not busy). */
static int flush_work(const gate_audit *a)
{
    return a->npending > 0 || (a->key && a->has_tip && a->tip_seq != a->git_seq);
}

/* Whether the flusher has a round to run (the lock held). */
static int flusher_turn(const gate_audit *a)
{
    if (a->abandoned || a->stopping || a->asked != a->answered)
        return 1;
    if (a->broken[0])
        return a->retry;
    return !a->paused && flush_work(a);
}

/* Puts v[0..n) back at the front of the pending records (the queue owns
 * them again). */
static void pending_prepend(gate_audit *a, const pending *v, size_t n)
{
    if (a->npending + n > a->cappending) {
        a->cappending = a->npending + n;
        a->pending = twin_xrealloc(a->pending, a->cappending * sizeof *a->pending);
    }
    if (a->npending)
        memmove(a->pending + n, a->pending, a->npending * sizeof *a->pending);
    memcpy(a->pending, v, n * sizeof *v);
    a->npending += n;
}

/* One round of the flusher (entered and left with the lock held): up to
 * BATCH_MAX pending records committed and the tip file written, the
 * repository used without the lock (busy).  Returns 1 when it all
 * succeeded; otherwise a->broken says why and the records are pending
 * again. */
static int flusher_round(gate_audit *a)
{
    unsigned long gen = a->asked;
    size_t n = a->npending < BATCH_MAX ? a->npending : BATCH_MAX;
    pending *batch = NULL;
    if (n) {
        batch = twin_xmalloc(n * sizeof *batch);
        memcpy(batch, a->pending, n * sizeof *batch);
        a->npending -= n;
        if (a->npending)
            memmove(a->pending, a->pending + n, a->npending * sizeof *a->pending);
    }
    a->busy = 1;
    a->retry = 0;
    pthread_mutex_unlock(&a->lock);

    char why[sizeof a->broken] = "";
    int rc = 0;
    if (a->broken[0]) {
        /* a retry after a failure (a full disk, an I/O error): libgit2's
         * state of the repository (its object and reference caches) may
         * hold what the failure left half-done, so it starts afresh */
        git_repository *fresh = NULL;
        rc = repo_open(&fresh, a->dir, why, sizeof why);
        if (rc == 0) {
            git_repository_free(a->repo);
            a->repo = fresh;
        }
    }
    if (rc == 0 && n)
        rc = commit_batch(a, batch, n, why, sizeof why);
    if (rc == 0)
        rc = tip_sync(a, why, sizeof why);

    pthread_mutex_lock(&a->lock);
    a->busy = 0;
    if (n && a->git_seq < batch[n - 1].seq)
        pending_prepend(a, batch, n);   /* not committed: tried again */
    else if (n)
        for (size_t i = 0; i < n; i++)
            pending_clear(&batch[i]);
    free(batch);
    if (rc < 0 && gate_audit_storage_full(why))
        a->full_at = gate_mono();
    else if (rc < 0 && a->full_at > 0 && gate_mono() - a->full_at < FULL_AFTERMATH) {
        /* what a full disk left behind (libgit2 may then miss an object it
         * believes written): the disk is the cause, and the answer says so
         * (507, which passes again by itself) */
        size_t len = strlen(why);
        snprintf(why + len, sizeof why - len, " (after the disk filled up: %s)", strerror(ENOSPC));
    }
    snprintf(a->broken, sizeof a->broken, "%s", rc < 0 ? why : "");
    a->answered = gen;
    if (rc == 0)
        journal_trim(a, 0);
    pthread_cond_broadcast(&a->done);
    return rc == 0;
}

static void *flusher_main(void *arg)
{
    gate_audit *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!flusher_turn(a)) {
            if (!a->broken[0]) {
                pthread_cond_wait(&a->wake, &a->lock);
                continue;
            }
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += RETRY_MS / 1000;
            ts.tv_nsec += (long)(RETRY_MS % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&a->wake, &a->lock, &ts) == ETIMEDOUT)
                a->retry = 1;
        }
        if (a->abandoned || (a->stopping && !flush_work(a)))
            break;
        if (!flusher_round(a) && a->stopping)
            break;   /* closing: what is left stays in the journal, for the next open */
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Starts the flusher with the process's signals blocked in it, so that
 * they reach the threads that wait for them. */
static int flusher_start(gate_audit *a, char *err, size_t errlen)
{
    sigset_t all, old;
    sigfillset(&all);
    static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
    for (size_t i = 0; i < sizeof sync_signals / sizeof sync_signals[0]; i++)
        sigdelset(&all, sync_signals[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&a->flusher, NULL, flusher_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return snprintf(err, errlen, "%s: cannot start the audit log's flusher: %s", a->dir, strerror(rc)), -1;
    a->flusher_running = 1;
    return 0;
}

/* Ends the flusher: after it commits what is pending (close), or at once
 * (abandon). */
static void flusher_stop(gate_audit *a, int abandon)
{
    if (!a->flusher_running)
        return;
    pthread_mutex_lock(&a->lock);
    if (abandon)
        a->abandoned = 1;
    else
        a->stopping = 1;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->flusher, NULL);
    a->flusher_running = 0;
}

/* With the lock held: has the flusher commit every journaled record and
 * bring the tip file up to date (a pause notwithstanding), and waits for
 * it.  0: done, the flusher idle, and the repository the caller's while it
 * keeps the lock; -1 with the flusher's error. */
static int drain(gate_audit *a, char *err, size_t errlen)
{
    for (;;) {
        unsigned long my = ++a->asked;
        pthread_cond_signal(&a->wake);
        while (a->busy || (flush_work(a) && a->answered < my))
            pthread_cond_wait(&a->done, &a->lock);
        if (!flush_work(a))
            return 0;
        if (a->broken[0])
            return snprintf(err, errlen, "%s", a->broken), -1;
        /* more than a batch, or records appended meanwhile: again */
    }
}

/* Frees everything; no flusher runs. */
static void audit_free(gate_audit *a)
{
    pending_free(a->pending, a->npending);
    if (a->jfd >= 0)
        close(a->jfd);
    if (a->dirfd >= 0)
        close(a->dirfd);   /* and the writer's lock with it */
    git_repository_free(a->repo);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->done);
    pthread_cond_destroy(&a->synced);
    pthread_mutex_destroy(&a->lock);
    if (a->key)
        memset(a->key, 0, a->keylen);
    free(a->key);
    free(a->tip_path);
    free(a->journal_path);
    free(a->dir);
    free(a);
    git_libgit2_shutdown();
}

int gate_audit_open(gate_audit **out, const char *repo_dir, const char *key_path, char *err, size_t errlen)
{
    git_libgit2_init();
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 0);   /* ref_move syncs once per batch */
    /* libgit2 keeps the objects it reads (each commit's parent, its tree)
     * in a cache of up to 256 MiB by default: a log that only appends would
     * grow the process by that much for nothing */
    git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(4 << 20));
    gate_audit *a = twin_xcalloc(1, sizeof *a);
    a->dirfd = a->jfd = -1;
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* the retry's timed wait */
    pthread_cond_init(&a->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&a->done, NULL);
    pthread_cond_init(&a->synced, NULL);
    a->dir = twin_xstrdup(repo_dir);
    journal j = {0};
    private_umask();   /* before anything is created; for the flusher too (see File modes) */
    if (repo_open_or_init(&a->repo, repo_dir, err, errlen) < 0 || writer_lock(a, err, errlen) < 0 ||
        repo_private(a, err, errlen) < 0)
        goto fail;
    if (key_path) {
        if (key_load(key_path, 1, &a->key, &a->keylen, err, errlen) < 0 || key_private(key_path, err, errlen) < 0)
            goto fail;
        a->tip_path = twin_xasprintf("%s.tip", key_path);
    }
    if (chain_tip(a, err, errlen) < 0 || journal_open(a, &j, err, errlen) < 0 || recover(a, &j, err, errlen) < 0)
        goto fail;
    a->seq = a->git_seq;
    snprintf(a->prev, sizeof a->prev, "%s", a->git_sha);
    journal_trim(a, 1);
    if (flusher_start(a, err, errlen) < 0)
        goto fail;
    journal_free(&j);
    *out = a;
    return 0;
fail:
    journal_free(&j);
    audit_free(a);   /* the journal as it was: nothing was recovered from it */
    return -1;
}

void gate_audit_close(gate_audit *a)
{
    if (!a)
        return;
    flusher_stop(a, 0);
    journal_trim(a, 1);   /* unless the flusher could not commit everything */
    audit_free(a);
}

void gate_audit__pause_flusher(gate_audit *a, int paused)
{
    pthread_mutex_lock(&a->lock);
    a->paused = paused;
    pthread_cond_signal(&a->wake);
    while (a->busy)
        pthread_cond_wait(&a->done, &a->lock);
    pthread_mutex_unlock(&a->lock);
}

int gate_audit__flush(gate_audit *a, char *err, size_t errlen)
{
    pthread_mutex_lock(&a->lock);
    int rc = drain(a, err, errlen);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

void gate_audit__abandon(gate_audit *a)
{
    if (!a)
        return;
    flusher_stop(a, 1);
    audit_free(a);
}

/* Writes p as one journal line (the lock held), not yet synced: *ticket
 * gets the journal's byte count after it, for sync_to.  p's strings belong
 * to the pending queue then (p's pointers are cleared).  On -1 the journal
 * is as it was. */
static int append_journal(gate_audit *a, pending *p, unsigned long long *ticket, char *err, size_t errlen)
{
    char head[160];
    int hl = snprintf(head, sizeof head, "%lld %s %s ", p->seq, p->sha, p->mac[0] ? p->mac : "-");
    size_t n = (size_t)hl + p->len + 1;
    if ((off_t)n > JOURNAL_MAX - a->jlen)
        return snprintf(err, errlen,
                        "%s: the journal %s would grow beyond %d bytes: the flusher is behind by %zu records; not "
                        "appending",
                        a->dir, a->journal_path, JOURNAL_MAX, a->npending),
               -1;
    char *line = twin_xmalloc(n);
    memcpy(line, head, (size_t)hl);
    memcpy(line + hl, p->bytes, p->len);
    line[n - 1] = '\n';
    int rc = 0;
    int fault = gate_fault("audit.journal.write");
    if (fault) {   /* as a disk that fills mid-line: half the line written, then the error */
        (void)!write_all(a->jfd, line, n / 2);
        errno = fault;
    }
    if (fault || write_all(a->jfd, line, n) < 0) {
        snprintf(err, errlen, "%s: cannot write the journal %s: %s", a->dir, a->journal_path, strerror(errno));
        if (ftruncate(a->jfd, a->jlen) < 0)
            a->jbroken = 1;   /* a record the caller is told failed may be in it: no more appends */
        rc = -1;
    }
    free(line);
    if (rc < 0)
        return -1;
    a->jlen += (off_t)n;
    a->jwritten += n;
    *ticket = a->jwritten;
    if (a->npending == a->cappending) {
        a->cappending = a->cappending ? 2 * a->cappending : 64;
        a->pending = twin_xrealloc(a->pending, a->cappending * sizeof *a->pending);
    }
    a->pending[a->npending++] = *p;
    p->bytes = p->summary = NULL;
    pthread_cond_signal(&a->wake);
    return 0;
}

/* Makes the journal durable up to ticket (the lock held on entry and on
 * return; let go during the fdatasync).  Group commit: one sync at a time
 * covers every line written before it started, so appends that come
 * together share it.  A failed sync breaks the journal (the lines it did
 * not make durable may be there or not): no more appends. */
static int sync_to(gate_audit *a, unsigned long long ticket, char *err, size_t errlen)
{
    while (a->jsynced < ticket) {
        if (a->jbroken)
            return snprintf(err, errlen, "%s: the journal %s could not be synced; not appending", a->dir,
                            a->journal_path),
                   -1;
        if (a->syncing) {
            pthread_cond_wait(&a->synced, &a->lock);
            continue;
        }
        a->syncing = 1;
        unsigned long long target = a->jwritten;
        int fd = a->jfd;
        pthread_mutex_unlock(&a->lock);
        int fault = gate_fault("audit.journal.sync");
        int ok = !fault && fdatasync(fd) == 0, e = fault ? fault : errno;
        pthread_mutex_lock(&a->lock);
        a->syncing = 0;
        a->nsyncs++;
        if (ok && target > a->jsynced)
            a->jsynced = target;
        if (!ok) {
            a->jbroken = 1;
            snprintf(err, errlen, "%s: cannot sync the journal %s: %s", a->dir, a->journal_path, strerror(e));
        }
        pthread_cond_broadcast(&a->synced);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Commits p with its attachments at once, as appends did before the
 * journal (the lock held, the journal drained): commit, ref, tip file, the
 * ref moved back when the tip file cannot be written. */
static int append_commit(gate_audit *a, const pending *p, const dumped *att, size_t natt, char *err, size_t errlen)
{
    git_oid commit, old = a->tip;
    int had = a->has_tip;
    if (commit_write(a, p, att, natt, had ? &old : NULL, &commit, err, errlen) < 0 ||
        ref_move(a, &commit, err, errlen) < 0)
        return -1;
    if (a->key && tip_write(a, p->seq, p->sha, &commit, err, errlen) < 0) {
        ref_undo(a, &commit, had ? &old : NULL);
        return -1;
    }
    a->git_seq = p->seq;
    snprintf(a->git_sha, sizeof a->git_sha, "%s", p->sha);
    if (a->key)
        a->tip_seq = p->seq;
    return 0;
}

/* gate_audit_append and gate_audit_append_nowait: *ticket (NULL: wait)
 * gets what gate_audit_wait needs; with it, the record is journaled but
 * not waited for. */
static int append_record(gate_audit *a, const json_t *record, const json_t *attachments, char **id_out,
                         unsigned long long *ticket_out, char *err, size_t errlen)
{
    if (!json_is_object(record))
        return snprintf(err, errlen, "an audit record is a JSON object"), -1;
    if (attachments && !json_is_object(attachments))
        return snprintf(err, errlen, "audit attachments are a JSON object (name -> value)"), -1;
    json_t *t = json_object_get(record, "time");
    if (t && !json_is_number(t))
        return snprintf(err, errlen, "an audit record's time is a number (seconds since the epoch)"), -1;

    /* What needs no lock: the attachments' bytes and the record's copy. */
    size_t natt = attachments ? json_object_size(attachments) : 0;
    dumped *att = twin_xcalloc(natt ? natt : 1, sizeof *att);
    json_t *rec = json_deep_copy(record);
    json_t *shas = json_object();
    char *id = NULL;
    pending p = {0};
    int locked = 0, exclusive = 0, rc = -1;
    size_t k = 0;
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)attachments, name, value) {
        if (!attachment_name_ok(name)) {
            snprintf(err, errlen, "audit attachment name \"%s\" is not a plain file name (nor record.json)", name);
            goto cleanup;
        }
        att[k].name = name;
        /* a JSON string is the attachment's text, written already (a large
         * state, serialized as it was read); anything else is dumped */
        att[k].bytes = json_is_string(value) ? twin_xstrdup(json_string_value(value))
                                             : json_dumps(value, DUMP_FLAGS | JSON_ENCODE_ANY);
        if (!att[k].bytes) {
            snprintf(err, errlen, "audit attachment %s cannot be written as JSON", name);
            goto cleanup;
        }
        att[k].len = strlen(att[k].bytes);
        if (att[k].len > GATE_AUDIT_MAX_ATTACHMENT) {
            snprintf(err, errlen, "audit attachment %s is %zu bytes (limit %d)", name, att[k].len,
                     GATE_AUDIT_MAX_ATTACHMENT);
            k++;
            goto cleanup;
        }
        char sha[SHA_HEX];
        sha256_hex(att[k].bytes, att[k].len, sha);
        json_object_set_new(shas, name, json_string(sha));
        k++;
    }
    unsigned char raw[ID_BYTES];
    char idhex[2 * ID_BYTES + 1];
    if (gnutls_rnd(GNUTLS_RND_NONCE, raw, sizeof raw) < 0) {
        snprintf(err, errlen, "no random bytes for an audit record id");
        goto cleanup;
    }
    hex_of(raw, sizeof raw, idhex);
    id = twin_xstrdup(idhex);
    p.when = t ? json_number_value(t) : gate_now();
    json_object_set_new(rec, "id", json_string(id));
    if (!t)
        json_object_set_new(rec, "time", json_real(p.when));
    json_object_set(rec, "attachments", shas);

    pthread_mutex_lock(&a->lock);
    locked = 1;
    while (a->exclusive)
        pthread_cond_wait(&a->done, &a->lock);
    if (a->jbroken) {
        snprintf(err, errlen, "%s: the journal %s could not be cut back after a failed write; not appending", a->dir,
                 a->journal_path);
        goto cleanup;
    }
    if (a->broken[0]) {
        snprintf(err, errlen, "%s (the journal cannot be committed; not appending until it can)", a->broken);
        goto cleanup;
    }
    if (natt) {   /* committed here, after everything journaled before it */
        a->exclusive = exclusive = 1;
        if (drain(a, err, errlen) < 0)
            goto cleanup;
    }
    p.seq = a->seq + 1;
    json_object_set_new(rec, "seq", json_integer(p.seq));
    json_object_set_new(rec, "prev", json_string(a->prev));
    p.bytes = json_dumps(rec, DUMP_FLAGS);
    if (!p.bytes) {
        snprintf(err, errlen, "the audit record cannot be written as JSON");
        goto cleanup;
    }
    p.len = strlen(p.bytes);
    if (p.len > GATE_AUDIT_MAX_RECORD) {
        snprintf(err, errlen, "the audit record is %zu bytes (limit %d)", p.len, GATE_AUDIT_MAX_RECORD);
        goto cleanup;
    }
    sha256_hex(p.bytes, p.len, p.sha);
    if (a->key)
        hmac_hex(a->key, a->keylen, p.bytes, p.len, p.mac);
    p.summary = summary_of(rec);
    unsigned long long ticket = 0;
    if ((natt ? append_commit(a, &p, att, natt, err, errlen) : append_journal(a, &p, &ticket, err, errlen)) < 0)
        goto cleanup;
    a->seq = p.seq;
    snprintf(a->prev, sizeof a->prev, "%s", p.sha);
    if (natt)
        journal_trim(a, 0);
    if (ticket_out)
        *ticket_out = ticket;   /* 0 for a committed record: durable already */
    else if (ticket && sync_to(a, ticket, err, errlen) < 0)
        goto cleanup;
    if (id_out) {
        *id_out = id;
        id = NULL;
    }
    rc = 0;
cleanup:
    if (exclusive) {
        a->exclusive = 0;
        pthread_cond_broadcast(&a->done);
    }
    if (locked) {
        snprintf(a->failing, sizeof a->failing, "%s", rc < 0 ? err : "");
        if (rc < 0 && gate_audit_storage_full(err))
            a->full_at = gate_mono();
        pthread_mutex_unlock(&a->lock);
    }
    pending_clear(&p);
    free(id);
    json_decref(shas);
    json_decref(rec);
    dumped_free(att, k);
    return rc;
}

/* Whether the repository's disk takes 64 KiB now: a file written and
 * removed (readiness after a failed append, so that a gate taken out of a
 * load balancer's rotation comes back once there is room). */
static int room_now(gate_audit *a)
{
    static const char probe[] = ".airlock-room-probe";
    int fd = openat(a->dirfd, probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    static const char zeros[64 * 1024];
    int ok = write_all(fd, zeros, sizeof zeros) == 0 && fdatasync(fd) == 0;
    close(fd);
    unlinkat(a->dirfd, probe, 0);
    return ok;
}

int gate_audit_health(gate_audit *a, char *why, size_t n)
{
    pthread_mutex_lock(&a->lock);
    if (!a->jbroken && !a->broken[0] && a->failing[0] && room_now(a))
        a->failing[0] = '\0';
    if (a->jbroken)
        snprintf(why, n, "the journal %s failed to be written or synced: appends are refused until a restart",
                 a->journal_path);
    else if (a->broken[0])
        snprintf(why, n, "%s", a->broken);
    else
        snprintf(why, n, "%s", a->failing);
    pthread_mutex_unlock(&a->lock);
    return why[0] ? -1 : 0;
}

int gate_audit_append(gate_audit *a, const json_t *record, const json_t *attachments, char **id_out, char *err,
                      size_t errlen)
{
    return append_record(a, record, attachments, id_out, NULL, err, errlen);
}

int gate_audit_append_nowait(gate_audit *a, const json_t *record, char **id_out, unsigned long long *ticket,
                             char *err, size_t errlen)
{
    return append_record(a, record, NULL, id_out, ticket, err, errlen);
}

int gate_audit_wait(gate_audit *a, unsigned long long ticket, char *err, size_t errlen)
{
    if (!ticket)
        return 0;
    pthread_mutex_lock(&a->lock);
    int rc = sync_to(a, ticket, err, errlen);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

unsigned long gate_audit_syncs(gate_audit *a)
{
    pthread_mutex_lock(&a->lock);
    unsigned long n = a->nsyncs;
    pthread_mutex_unlock(&a->lock);
    return n;
}

/* ---- reading ------------------------------------------------------------ */

/* ---- open decisions ---------------------------------------------------
 *
 * A mutation forwarded to production is recorded before it goes (committed
 * null, "forwarded" set), and production's answer follows as an "outcome"
 * record naming it. A decision with no outcome is open: the gate died, or
 * could not record the outcome, between the two. Readers track them in
 * record order: a decision opens, its outcome closes it. */

static int opens_decision(const json_t *rec)
{
    const char *type = str_at(rec, "type");
    return type && !strcmp(type, "decision") && json_object_get(rec, "forwarded") &&
           json_is_null(json_object_get(rec, "committed")) && str_at(rec, "id");
}

/* Follows rec: open is {id: value} of the decisions open so far; value is
 * what the caller keeps for each (borrowed, increfed). */
static void track_open(json_t *open, const json_t *rec, json_t *value)
{
    const char *type = str_at(rec, "type");
    if (opens_decision(rec))
        json_object_set(open, str_at(rec, "id"), value);
    else if (type && !strcmp(type, "outcome") && str_at(rec, "decision"))
        json_object_del(open, str_at(rec, "decision"));
}

int gate_audit_storage_full(const char *err)
{
    static const int full[] = {ENOSPC, EDQUOT, EROFS};
    for (size_t i = 0; err && i < sizeof full / sizeof *full; i++)
        if (strstr(err, strerror(full[i])))
            return 1;
    return 0;
}

json_t *gate_audit_open_decisions(const char *repo_dir, char *err, size_t errlen)
{
    json_t *all = gate_audit_read(repo_dir, err, errlen);
    if (!all)
        return NULL;
    json_t *open = json_object(), *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
        track_open(open, rec, rec);
    json_array_foreach(all, i, rec)   /* in log order */
        if (opens_decision(rec) && json_object_get(open, str_at(rec, "id")) == rec)
            json_array_append(out, rec);
    json_decref(open);
    json_decref(all);
    return out;
}

json_t *gate_audit_read(const char *repo_dir, char *err, size_t errlen)
{
    git_libgit2_init();
    git_repository *repo = NULL;
    git_oid *chain = NULL;
    size_t n = 0;
    json_t *out = NULL;
    journal j = {0};
    char *jpath = NULL;
    if (repo_open(&repo, repo_dir, err, errlen) < 0)
        goto cleanup;
    /* the journal before the chain: what is committed in between is then in the chain */
    jpath = journal_path_of(repo);
    if (journal_load(jpath, &j, err, errlen) < 0 || chain_load(repo, repo_dir, &chain, &n, err, errlen) < 0)
        goto cleanup;
    out = json_array();
    long long last = 0;
    for (size_t i = 0; i < n; i++) {
        char sha[SHA_HEX], why[512], hex[GIT_OID_HEXSZ + 1];
        json_t *rec;
        if (record_load(repo, &chain[i], sha, &rec, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s", repo_dir, why);
            goto fail;
        }
        git_oid_tostr(hex, sizeof hex, &chain[i]);
        json_object_set_new(rec, "commit", json_string(hex));
        json_array_append_new(out, rec);
        last = record_seq(rec);
    }
    /* then the records journaled but not committed yet */
    for (size_t i = 0; i < j.n; i++) {
        const jline *l = &j.lines[i];
        if (l->bad) {
            snprintf(err, errlen, "%s: line %zu is malformed (%s)", jpath, l->lineno, l->bad);
            goto fail;
        }
        if (l->seq <= last)
            continue;
        json_error_t je;
        json_t *rec =
            l->len <= GATE_AUDIT_MAX_RECORD ? json_loadb(l->bytes, l->len, JSON_REJECT_DUPLICATES, &je) : NULL;
        if (!json_is_object(rec)) {
            if (l->len > GATE_AUDIT_MAX_RECORD)
                snprintf(err, errlen, "%s: line %zu: the record is larger than %d bytes", jpath, l->lineno,
                         GATE_AUDIT_MAX_RECORD);
            else if (rec)
                snprintf(err, errlen, "%s: line %zu: the record is not a JSON object", jpath, l->lineno);
            else
                snprintf(err, errlen, "%s: line %zu: %d:%d: %s", jpath, l->lineno, je.line, je.column, je.text);
            json_decref(rec);
            goto fail;
        }
        json_object_set_new(rec, "commit", json_string(""));
        json_array_append_new(out, rec);
        last = l->seq;
    }
    goto cleanup;
fail:
    json_decref(out);
    out = NULL;
cleanup:
    journal_free(&j);
    free(jpath);
    free(chain);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return out;
}

json_t *gate_audit_attachment(const char *repo_dir, const char *commit, const char *name, char *err, size_t errlen)
{
    git_libgit2_init();
    git_repository *repo = NULL;
    git_commit *c = NULL;
    git_tree *tree = NULL;
    git_blob *blob = NULL;
    json_t *rec = NULL, *out = NULL;
    git_oid oid;
    size_t clen = commit ? strlen(commit) : 0;
    char sha[SHA_HEX], why[512];
    if (repo_open(&repo, repo_dir, err, errlen) < 0)
        goto cleanup;
    if (clen < 4 || clen > GIT_OID_HEXSZ || git_oid_fromstrn(&oid, commit, clen) < 0) {
        snprintf(err, errlen, "%s: \"%s\" does not name a commit (4 to 40 hex digits)", repo_dir, commit ? commit : "");
        goto cleanup;
    }
    if (git_commit_lookup_prefix(&c, repo, &oid, clen) < 0) {
        git_fail(err, errlen, "%s: commit %s", repo_dir, commit);
        goto cleanup;
    }
    if (record_load(repo, git_commit_id(c), sha, &rec, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", repo_dir, why);
        goto cleanup;
    }
    const char *want = str_at(json_object_get(rec, "attachments"), name);
    if (!want) {
        snprintf(err, errlen, "%s: the record of commit %s has no attachment %s", repo_dir, commit, name);
        goto cleanup;
    }
    if (git_commit_tree(&tree, c) < 0) {
        git_fail(err, errlen, "%s: commit %s", repo_dir, commit);
        goto cleanup;
    }
    if (tree_blob(repo, tree, name, &blob, why, sizeof why) < 0 || !blob) {
        snprintf(err, errlen, "%s: commit %s: attachment %s is missing from the tree", repo_dir, commit, name);
        goto cleanup;
    }
    size_t n = (size_t)git_blob_rawsize(blob);
    if (n > GATE_AUDIT_MAX_ATTACHMENT) {
        snprintf(err, errlen, "%s: commit %s: attachment %s is larger than %d bytes", repo_dir, commit, name,
                 GATE_AUDIT_MAX_ATTACHMENT);
        goto cleanup;
    }
    sha256_hex(git_blob_rawcontent(blob), n, sha);
    if (strcmp(sha, want)) {
        snprintf(err, errlen, "%s: commit %s: attachment %s was edited (sha256 %.12s, its record says %.12s)", repo_dir,
                 commit, name, sha, want);
        goto cleanup;
    }
    json_error_t je;
    out = json_loadb(git_blob_rawcontent(blob), n, JSON_DECODE_ANY, &je);
    if (!out)
        snprintf(err, errlen, "%s: commit %s: %s:%d:%d: %s", repo_dir, commit, name, je.line, je.column, je.text);
cleanup:
    json_decref(rec);
    git_blob_free(blob);
    git_tree_free(tree);
    git_commit_free(c);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return out;
}

/* ---- verify ------------------------------------------------------------- */

/* The checks of one tree beyond record.json: every other file is a listed
 * attachment with its recorded sha256, every listed attachment is there. */
static void verify_attachments(git_repository *repo, const git_tree *tree, const json_t *rec, long long seq,
                               const git_oid *oid, json_t *problems)
{
    const json_t *listed = json_object_get(rec, "attachments");
    if (listed && !json_is_object(listed)) {
        problem(problems, seq, oid, "the record's attachments field is not an object");
        listed = NULL;
    }
    size_t n = git_tree_entrycount(tree);
    for (size_t i = 0; i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(tree, i);
        const char *name = git_tree_entry_name(e);
        if (!strcmp(name, RECORD_FILE))
            continue;
        if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
            problem(problems, seq, oid, "unexpected %s \"%s\" in the record's tree",
                    git_object_type2string(git_tree_entry_type(e)), name);
            continue;
        }
        const char *want = str_at(listed, name);
        if (!want) {
            problem(problems, seq, oid, "file \"%s\" in the record's tree is not listed in its attachments", name);
            continue;
        }
        git_blob *b;
        if (git_blob_lookup(&b, repo, git_tree_entry_id(e)) < 0) {
            problem(problems, seq, oid, "attachment \"%s\" cannot be read", name);
            continue;
        }
        char sha[SHA_HEX];
        sha256_hex(git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), sha);
        git_blob_free(b);
        if (strcmp(sha, want))
            problem(problems, seq, oid, "attachment \"%s\" was edited: its sha256 is %.12s, the record says %.12s", name,
                    sha, want);
    }
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)listed, name, v) {
        const git_tree_entry *e = git_tree_entry_byname(tree, name);
        if (!e)
            problem(problems, seq, oid, "attachment \"%s\" is listed in the record but missing from its tree", name);
    }
}

/* A jump in seq: the records between are removed, or elsewhere in the
 * chain (reordered), which only the whole chain tells. */
typedef struct gap {
    json_t *problem;   /* borrowed from the problems array */
    long long after, seq;
} gap;

static int cmp_seq(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The first index of sorted v[0..n) whose value is >= x. */
static size_t lower_bound(const long long *v, size_t n, long long x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void word_gaps(gap *gaps, size_t ngaps, long long *seqs, size_t nseqs)
{
    if (!ngaps)
        return;
    qsort(seqs, nseqs, sizeof *seqs, cmp_seq);
    size_t u = 0;   /* distinct values */
    for (size_t i = 0; i < nseqs; i++)
        if (u == 0 || seqs[u - 1] != seqs[i])
            seqs[u++] = seqs[i];
    for (size_t i = 0; i < ngaps; i++) {
        long long from = gaps[i].after + 1, to = gaps[i].seq - 1;
        long long present = (long long)(lower_bound(seqs, u, to + 1) - lower_bound(seqs, u, from));
        char range[96];
        if (from == to)
            snprintf(range, sizeof range, "record %lld", from);
        else
            snprintf(range, sizeof range, "records %lld to %lld", from, to);
        char *text;
        if (present == 0)
            text = twin_xasprintf("seq %lld follows %lld: %s %s missing (removed)", gaps[i].seq, gaps[i].after, range,
                                  from == to ? "is" : "are");
        else if (present == to - from + 1)
            text = twin_xasprintf("seq %lld follows %lld: records out of order (%s %s elsewhere in the chain)",
                                  gaps[i].seq, gaps[i].after, range, from == to ? "is" : "are");
        else
            text = twin_xasprintf("seq %lld follows %lld: of %s, %lld %s missing (removed), the others out of order",
                                  gaps[i].seq, gaps[i].after, range, to - from + 1 - present,
                                  to - from + 1 - present == 1 ? "is" : "are");
        json_object_set_new(gaps[i].problem, "problem", json_string(text));
        free(text);
    }
}

int gate_audit_verify(const char *repo_dir, const char *key_path, json_t **report, char *err, size_t errlen)
{
    git_libgit2_init();
    git_repository *repo = NULL;
    git_oid *chain = NULL;
    size_t n = 0;
    unsigned char *key = NULL;
    size_t keylen = 0;
    json_t *problems = json_array();
    json_t *open = json_object();   /* decisions without their outcome: id -> {seq, chain} */
    char *tip_path = NULL;
    long long *seqs = NULL;   /* every record's seq, chain order */
    size_t nseqs = 0;
    gap *gaps = NULL;
    size_t ngaps = 0, capgaps = 0;
    journal j = {0};
    char *jpath = NULL;
    tip_file t = {0};
    char tip_why[512] = "";   /* why the tip file could not be read, "" when it could */
    int rc = -1;
    if (repo_open(&repo, repo_dir, err, errlen) < 0)
        goto cleanup;
    if (key_path && key_load(key_path, 0, &key, &keylen, err, errlen) < 0)
        goto cleanup;
    /* The tip file, then the journal, then the chain: a server appending
     * meanwhile writes the tip after the chain and empties the journal
     * only once it is in the chain, so what each read misses the next one
     * sees. */
    if (key) {
        tip_path = twin_xasprintf("%s.tip", key_path);
        if (tip_read(tip_path, key, keylen, &t, tip_why, sizeof tip_why) < 0 && !tip_why[0])
            snprintf(tip_why, sizeof tip_why, "the tip file %s cannot be read", tip_path);
    }
    jpath = journal_path_of(repo);
    if (journal_load(jpath, &j, err, errlen) < 0)
        goto cleanup;
    if (chain_load(repo, repo_dir, &chain, &n, err, errlen) < 0)
        goto cleanup;

    seqs = twin_xmalloc((n ? n : 1) * sizeof *seqs);
    char prev[SHA_HEX] = "";   /* the sha256 of the record before, computed */
    int have_prev = 1;         /* 0 after a record whose bytes could not be read */
    long long last_seq = 0;
    for (size_t i = 0; i < n; i++) {
        const git_oid *oid = &chain[i];
        long long seq = last_seq + 1;   /* until the record says */
        git_commit *c = NULL;
        git_tree *tree = NULL;
        git_blob *blob = NULL;
        json_t *rec = NULL;
        if (git_commit_lookup(&c, repo, oid) < 0 || git_commit_tree(&tree, c) < 0) {
            problem(problems, seq, oid, "the commit or its tree cannot be read");
            have_prev = 0;
            goto next;
        }
        if (git_commit_parentcount(c) > 1)
            problem(problems, seq, oid, "merge commit (%u parents): the log is a single line of commits",
                    git_commit_parentcount(c));
        char why[256];
        if (tree_blob(repo, tree, RECORD_FILE, &blob, why, sizeof why) < 0 || !blob) {
            problem(problems, seq, oid, "the commit has no %s", RECORD_FILE);
            have_prev = 0;
            goto next;
        }
        size_t len = (size_t)git_blob_rawsize(blob);
        const char *bytes = git_blob_rawcontent(blob);
        char sha[SHA_HEX], msg_sha[SHA_HEX], msg_mac[SHA_HEX];
        sha256_hex(bytes, len, sha);
        message_fields(git_commit_message(c), msg_sha, msg_mac);
        json_error_t je;
        rec = len <= GATE_AUDIT_MAX_RECORD ? json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je) : NULL;
        if (rec && json_is_integer(json_object_get(rec, "seq")))
            seq = record_seq(rec);

        if (!msg_sha[0])
            problem(problems, seq, oid, "the commit message has no record-sha256 line");
        else if (strcmp(sha, msg_sha))
            problem(problems, seq, oid, "record.json was edited: its sha256 is %.12s, its commit message says %.12s", sha,
                    msg_sha);
        if (key) {
            char mac[SHA_HEX];
            hmac_hex(key, keylen, bytes, len, mac);
            if (!msg_mac[0])
                problem(problems, seq, oid, "the commit message has no record-hmac line (written without the key)");
            else if (strcmp(mac, msg_mac))
                problem(problems, seq, oid, "the MAC does not match: the record was written or rewritten without the key");
        }
        if (!json_is_object(rec)) {
            if (len > GATE_AUDIT_MAX_RECORD)
                problem(problems, seq, oid, "record.json is larger than %d bytes", GATE_AUDIT_MAX_RECORD);
            else if (rec)
                problem(problems, seq, oid, "record.json is not a JSON object");
            else
                problem(problems, seq, oid, "record.json is not valid JSON (%d:%d: %s)", je.line, je.column, je.text);
            snprintf(prev, sizeof prev, "%s", sha);
            have_prev = 1;
            last_seq = seq;
            goto next;
        }
        if (json_is_integer(json_object_get(rec, "seq")))
            seqs[nseqs++] = seq;
        if (!json_is_integer(json_object_get(rec, "seq")))
            problem(problems, seq, oid, "the record has no integer seq");
        else if (seq > last_seq + 1) {   /* worded once the whole chain is seen */
            problem(problems, seq, oid, "seq %lld follows %lld", seq, last_seq);
            if (ngaps == capgaps) {
                capgaps = capgaps ? 2 * capgaps : 8;
                gaps = twin_xrealloc(gaps, capgaps * sizeof *gaps);
            }
            gaps[ngaps++] = (gap){json_array_get(problems, json_array_size(problems) - 1), last_seq, seq};
        } else if (seq <= last_seq)
            problem(problems, seq, oid, "seq %lld follows %lld: records out of order (reordered or duplicated)", seq,
                    last_seq);
        const char *p = str_at(rec, "prev");
        if (!p)
            problem(problems, seq, oid, "the record has no prev");
        else if (i == 0 && p[0])
            problem(problems, seq, oid,
                    "the first record's prev is %.12s, not empty: the records before it were removed", p);
        else if (i > 0 && have_prev && strcmp(p, prev))
            problem(problems, seq, oid,
                    "prev is %.12s but the record before it hashes to %.12s: a record before it was edited, removed or "
                    "reordered",
                    p, prev);
        verify_attachments(repo, tree, rec, seq, oid, problems);
        json_t *where = json_pack("{s:I, s:I}", "seq", (json_int_t)seq, "chain", (json_int_t)i);
        track_open(open, rec, where);
        json_decref(where);
        snprintf(prev, sizeof prev, "%s", sha);
        have_prev = 1;
        last_seq = seq;
    next:
        json_decref(rec);
        git_blob_free(blob);
        git_tree_free(tree);
        git_commit_free(c);
    }

    word_gaps(gaps, ngaps, seqs, nseqs);

    /* the journal's records beyond the chain: the records that follow it */
    long long git_last = last_seq;
    size_t njournal = 0;
    for (size_t i = 0; i < j.n; i++) {
        const jline *l = &j.lines[i];
        if (l->bad) {
            problem(problems, 0, NULL, "journal line %zu is malformed (%s)", l->lineno, l->bad);
            continue;
        }
        if (l->seq <= git_last)
            continue;   /* committed, the journal not emptied yet */
        char sha[SHA_HEX];
        jline_check(l, key, keylen, last_seq + 1, have_prev ? prev : NULL, problems, sha, NULL);
        json_t *rec = l->len <= GATE_AUDIT_MAX_RECORD ? json_loadb(l->bytes, l->len, 0, NULL) : NULL;
        if (json_is_object(rec)) {
            json_t *where = json_pack("{s:I, s:I}", "seq", (json_int_t)l->seq, "chain", (json_int_t)-1);
            track_open(open, rec, where);
            json_decref(where);
        }
        json_decref(rec);
        njournal++;
        last_seq = l->seq;
        snprintf(prev, sizeof prev, "%s", sha);
        have_prev = 1;
    }

    if (key) {
        char why[512];
        if (tip_why[0]) {
            problem(problems, 0, NULL, "%s", tip_why);
        } else if (!t.present) {
            if (n + njournal)
                problem(problems, 0, NULL,
                        "the tip file %s is missing: records cut off the end of the log cannot be detected", tip_path);
        } else if (last_seq < t.seq) {
            problem(problems, t.seq, NULL,
                    "the tip file %s records %lld records but the chain ends at %lld: records were cut off the end",
                    tip_path, t.seq, last_seq);
        } else if (t.seq > git_last) {
            /* a tip beyond the commits but among the journal's records (the
             * commits after it cut off, the journal still holding them) */
            for (size_t i = 0; i < j.n; i++) {
                const jline *l = &j.lines[i];
                char sha[SHA_HEX];
                if (l->bad || l->seq != t.seq)
                    continue;
                sha256_hex(l->bytes, l->len, sha);
                if (strcmp(sha, t.sha))
                    problem(problems, t.seq, NULL,
                            "record %lld (journal line %zu) is not the one the tip file %s recorded (sha256 %.12s, the "
                            "tip says %.12s): the chain was rewritten",
                            t.seq, l->lineno, tip_path, sha, t.sha);
                break;
            }
        } else {
            /* the record the tip names, by seq, must hash as the tip says */
            int found = 0;
            for (size_t i = n; i-- > 0 && !found;) {
                char sha[SHA_HEX];
                json_t *rec;
                if (record_load(repo, &chain[i], sha, &rec, why, sizeof why) < 0)
                    continue;
                if (record_seq(rec) == t.seq) {
                    found = 1;
                    char hex[GIT_OID_HEXSZ + 1];
                    git_oid_tostr(hex, sizeof hex, &chain[i]);
                    if (strcmp(sha, t.sha))
                        problem(problems, t.seq, &chain[i],
                                "record %lld is not the one the tip file %s recorded (sha256 %.12s, the tip says "
                                "%.12s): the chain was rewritten",
                                t.seq, tip_path, sha, t.sha);
                    else if (strcmp(hex, t.commit))
                        problem(problems, t.seq, &chain[i],
                                "record %lld is in commit %.12s but the tip file %s recorded commit %.12s: the "
                                "history was rewritten",
                                t.seq, hex, tip_path, t.commit);
                }
                json_decref(rec);
            }
            if (!found)
                problem(problems, t.seq, NULL, "record %lld, the last one the tip file %s recorded, is not in the chain",
                        t.seq, tip_path);
        }
    }

    /* decisions forwarded to production with no outcome: what production
     * did is not in the log */
    const char *oid_hex;
    json_t *where;
    json_object_foreach(open, oid_hex, where) {
        json_int_t at = json_integer_value(json_object_get(where, "chain"));
        problem(problems, (long long)json_integer_value(json_object_get(where, "seq")),
                at >= 0 && (size_t)at < n ? &chain[at] : NULL,
                "open decision %s: forwarded to production with no outcome recorded (the gate reconciles it against "
                "production when it next starts in enforce mode)",
                oid_hex);
    }
    rc = json_array_size(problems) ? 1 : 0;
    *report = json_pack("{s:b, s:I, s:I, s:b, s:I, s:O}", "ok", rc == 0, "records", (json_int_t)(n + njournal),
                        "journaled", (json_int_t)njournal, "macs_checked", key != NULL, "open_decisions",
                        (json_int_t)json_object_size(open), "problems", problems);
cleanup:
    if (key)
        memset(key, 0, keylen);
    free(key);
    free(tip_path);
    journal_free(&j);
    free(jpath);
    free(chain);
    free(seqs);
    free(gaps);
    json_decref(problems);
    json_decref(open);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return rc;
}

/* ---- --since ------------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* n digits at *p into *out; advances *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int parse_rfc3339(const char *s, double *out)
{
    int y, mo, d, h, mi, sec;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d) ||
        (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    double frac = 0;
    if (*p == '.') {
        double scale = 0.1;
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *out = (double)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - offset) + frac;
    return 0;
}

int gate_audit_parse_time(const char *s, double now, double *out)
{
    if (!s || !*s)
        return -1;
    size_t n = strlen(s);
    size_t nd = strspn(s, "0123456789");
    if (nd == 0)
        return -1;
    if (nd == n || (s[nd] == '.' && nd + 1 < n && strspn(s + nd + 1, "0123456789") == n - nd - 1)) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || *end || !isfinite(v))
            return -1;
        *out = v;
        return 0;
    }
    if (nd == n - 1 && nd <= 12) {
        static const struct { char c; double secs; } U[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
        for (size_t i = 0; i < sizeof U / sizeof U[0]; i++)
            if (s[nd] == U[i].c) {
                *out = now - strtod(s, NULL) * U[i].secs;
                return 0;
            }
        return -1;
    }
    return parse_rfc3339(s, out);
}

void gate_audit_format_time(double t, char out[32])
{
    time_t secs = (time_t)floor(t);
    struct tm tm;
    if (!isfinite(t) || t <= 0 || !gmtime_r(&secs, &tm)) {
        snprintf(out, 32, "-");
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
