/*
 * fault.c - fault injection for tests (see fault.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gate/base/fault.h"

#ifdef GATE_FAULTS

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char armed[64];      /* "" = nothing armed */
static long nth, calls;
static int error_no, sticky, fired, env_read;
/* the environment was read and nothing is armed: gate_fault returns at
 * once, without the lock (it sits on hot paths such as Lua's allocator) */
static int quiet;

static void arm_locked(const char *point, long n, int err, int st)
{
    snprintf(armed, sizeof armed, "%s", point ? point : "");
    nth = n;
    error_no = err ? err : EIO;
    sticky = st;
    calls = 0;
    fired = 0;
    __atomic_store_n(&quiet, !armed[0], __ATOMIC_RELEASE);
}

/* AIRLOCK_FAULT="POINT:N[+][:ERRNO]", once. */
static void read_env(void)
{
    env_read = 1;
    __atomic_store_n(&quiet, 1, __ATOMIC_RELEASE);   /* unless armed below */
    const char *e = getenv("AIRLOCK_FAULT");
    if (!e || !*e)
        return;
    char point[64];
    long n = 0;
    int err = EIO, n_read = 0;
    const char *colon = strchr(e, ':');
    if (!colon || (size_t)(colon - e) >= sizeof point)
        return;
    memcpy(point, e, (size_t)(colon - e));
    point[colon - e] = '\0';
    if (sscanf(colon + 1, "%ld%n", &n, &n_read) != 1 || n < 1)
        return;
    const char *rest = colon + 1 + n_read;
    int st = *rest == '+';
    rest += st;
    if (*rest == ':')
        err = atoi(rest + 1);
    arm_locked(point, n, err, st);
}

static int matches(const char *point)
{
    size_t n = strlen(armed);
    if (n && armed[n - 1] == '*')
        return !strncmp(point, armed, n - 1);
    return !strcmp(point, armed);
}

int gate_fault(const char *point)
{
    if (__atomic_load_n(&quiet, __ATOMIC_ACQUIRE))
        return 0;
    pthread_mutex_lock(&mu);
    if (!env_read)
        read_env();
    int rc = 0;
    if (armed[0] && matches(point)) {
        calls++;
        if (calls == nth || (sticky && calls > nth)) {
            rc = error_no;
            fired = 1;
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void gate_fault_arm(const char *point, long n, int err, int st)
{
    pthread_mutex_lock(&mu);
    env_read = 1;
    arm_locked(point, n, err, st);
    pthread_mutex_unlock(&mu);
}

void gate_fault_disarm(void)
{
    gate_fault_arm("", 0, 0, 0);
}

long gate_fault_calls(void)
{
    pthread_mutex_lock(&mu);
    long n = calls;
    pthread_mutex_unlock(&mu);
    return n;
}

int gate_fault_fired(void)
{
    pthread_mutex_lock(&mu);
    int f = fired;
    pthread_mutex_unlock(&mu);
    return f;
}

int gate_fault_available(void)
{
    return 1;
}

/* ---- SQLite: a VFS over the default one that fails writes and syncs ---- */

typedef struct fault_file {
    sqlite3_file base;
    sqlite3_file *real;   /* right after this struct (szOsFile covers both) */
    int durable;          /* a database file, its journal or WAL: not a temporary one */
} fault_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;

#define REAL(f) (((fault_file *)(f))->real)

static int f_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off) { return REAL(f)->pMethods->xRead(REAL(f), p, n, off); }
static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    int e = ((fault_file *)f)->durable ? gate_fault("sqlite.write") : 0;
    if (e)
        return e == ENOSPC ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size) { return REAL(f)->pMethods->xTruncate(REAL(f), size); }
static int f_sync(sqlite3_file *f, int flags)
{
    if (((fault_file *)f)->durable && gate_fault("sqlite.sync"))
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size) { return REAL(f)->pMethods->xFileSize(REAL(f), size); }
static int f_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int f_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int f_check(sqlite3_file *f, int *out) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }
static int f_control(sqlite3_file *f, int op, void *arg) { return REAL(f)->pMethods->xFileControl(REAL(f), op, arg); }
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_chars(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags) { return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags); }
static void f_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) { return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp); }
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), off, p); }

static const sqlite3_io_methods fault_io = {
    3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_check, f_control, f_sector,
    f_chars, f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch,
};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    fault_file *f = (fault_file *)file;
    f->real = (sqlite3_file *)(f + 1);
    f->durable = name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL));
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    /* a version-1 or -2 file (no shared memory, no mmap) would need a
     * table of its own; the unix VFS's are version 3 */
    if (f->real->pMethods && f->real->pMethods->iVersion < 3) {
        f->real->pMethods->xClose(f->real);
        f->real->pMethods = NULL;
        rc = SQLITE_CANTOPEN;
    }
    /* whatever the real open left to close (even on failure) is closed
     * through ours */
    f->base.pMethods = f->real->pMethods ? &fault_io : NULL;
    return rc;
}

static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;

static void vfs_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    fault_vfs = *real_vfs;
    fault_vfs.szOsFile = (int)sizeof(fault_file) + real_vfs->szOsFile;
    fault_vfs.zName = "airlock-fault";
    fault_vfs.pNext = NULL;
    fault_vfs.xOpen = f_open;
    sqlite3_vfs_register(&fault_vfs, 1);
}

void gate_fault_sqlite(void)
{
    pthread_once(&vfs_once, vfs_register);
}

#else /* a release build: nothing armed, ever */

void gate_fault_arm(const char *point, long n, int err, int st)
{
    (void)point, (void)n, (void)err, (void)st;
}

void gate_fault_disarm(void) {}
long gate_fault_calls(void) { return 0; }
int gate_fault_fired(void) { return 0; }
int gate_fault_available(void) { return 0; }
void gate_fault_sqlite(void) {}

#endif
