/* SPDX-License-Identifier: MIT */
/* Injected failures: see fault_inject.h. */
#include "fault_inject.h"
#include "shim_vfs.h"

#include <execinfo.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the decision --- */

enum { SITES_MAX = 4096, STACK_FRAMES = 8 };

static struct {
    atomic_bool armed;
    int kind;
    uint64_t nth;
    bool persistent;
    atomic_uint_fast64_t count[FI_NKINDS];
    atomic_uint_fast64_t injected;
    pthread_mutex_t lock; /* sites */
    uint64_t sites[SITES_MAX];
    size_t nsites;
} F = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local bool tl_exempt;
static _Thread_local bool tl_inside; /* recording a site: backtrace() may allocate */

__attribute__((noinline)) static void record_site(void)
{
    void *frames[STACK_FRAMES];
    tl_inside = true;
    int n = backtrace(frames, STACK_FRAMES);
    tl_inside = false;
    /* frames[0] is record_site, [1] should_fail, [2] the wrapper: hash the callers above. */
    uint64_t h = 1469598103934665603ull;
    for (int i = 3; i < n; i++) {
        h ^= (uint64_t)(uintptr_t)frames[i];
        h *= 1099511628211ull;
    }
    pthread_mutex_lock(&F.lock);
    bool seen = false;
    for (size_t i = 0; i < F.nsites && !seen; i++)
        seen = F.sites[i] == h;
    if (!seen && F.nsites < SITES_MAX)
        F.sites[F.nsites++] = h;
    pthread_mutex_unlock(&F.lock);
}

__attribute__((noinline)) static bool should_fail(int kind)
{
    if (!atomic_load_explicit(&F.armed, memory_order_acquire) || tl_exempt || tl_inside)
        return false;
    uint64_t n = atomic_fetch_add(&F.count[kind], 1) + 1;
    if (kind != F.kind || F.nth == 0 || n < F.nth || (n > F.nth && !F.persistent))
        return false;
    /* Persistent failures are many: the stacks of the first 256 are enough to tell sites. */
    if (atomic_fetch_add(&F.injected, 1) < 256)
        record_site();
    return true;
}

void fi_arm(int kind, uint64_t nth, bool persistent)
{
    atomic_store(&F.armed, false);
    F.kind = kind;
    F.nth = nth;
    F.persistent = persistent;
    for (int k = 0; k < FI_NKINDS; k++)
        atomic_store(&F.count[k], 0);
    atomic_store(&F.injected, 0);
    pthread_mutex_lock(&F.lock);
    F.nsites = 0;
    pthread_mutex_unlock(&F.lock);
    atomic_store_explicit(&F.armed, true, memory_order_release);
}

void fi_disarm(void)
{
    atomic_store(&F.armed, false);
}

uint64_t fi_count(int kind)
{
    return kind >= 0 && kind < FI_NKINDS ? atomic_load(&F.count[kind]) : 0;
}

uint64_t fi_injected(void)
{
    return atomic_load(&F.injected);
}

size_t fi_sites(uint64_t *out, size_t max)
{
    pthread_mutex_lock(&F.lock);
    size_t n = F.nsites;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = F.sites[i];
    pthread_mutex_unlock(&F.lock);
    return n;
}

void fi_exempt_thread(bool exempt)
{
    tl_exempt = exempt;
}

static const char *const kind_names[FI_NKINDS] = {"alloc", "read", "write", "sync"};

int fi_kind_parse(const char *name)
{
    for (int k = 0; k < FI_NKINDS; k++)
        if (!strcmp(name, kind_names[k]))
            return k;
    return -1;
}

const char *fi_kind_name(int kind)
{
    return kind >= 0 && kind < FI_NKINDS ? kind_names[kind] : "none";
}

/* --- our code's allocations (-Wl,--wrap=...) --- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

void *__wrap_malloc(size_t n)
{
    return should_fail(FI_ALLOC) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail(FI_ALLOC) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail(FI_ALLOC) ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail(FI_ALLOC) ? NULL : __real_strdup(s);
}

/* --- SQLite's allocations --- */

static sqlite3_mem_methods real_mem;

static void *mem_malloc(int n)
{
    return should_fail(FI_ALLOC) ? NULL : real_mem.xMalloc(n);
}

static void *mem_realloc(void *p, int n)
{
    return should_fail(FI_ALLOC) ? NULL : real_mem.xRealloc(p, n);
}

/* --- SQLite's files: a VFS around "unix" (shim_vfs.h) that counts and fails --- */

#define REAL(f) (((struct shim_file *)(f))->real)

static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    if (should_fail(FI_READ))
        return SQLITE_IOERR_READ;
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    if (should_fail(FI_WRITE))
        return SQLITE_IOERR_WRITE;
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (should_fail(FI_WRITE))
        return SQLITE_IOERR_TRUNCATE;
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    if (should_fail(FI_SYNC))
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

/* No memory maps: every read goes through f_read, where it can be counted and failed. */
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    *pp = NULL;
    return SQLITE_OK;
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return SQLITE_OK;
}

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                  int *out_flags)
{
    struct shim_file *sf = (struct shim_file *)f;
    int rc = shim_open(sf, sizeof(*sf), name, flags, out_flags);
    if (rc != SQLITE_OK)
        return rc;
    sf->methods.xRead = f_read;
    sf->methods.xWrite = f_write;
    sf->methods.xTruncate = f_truncate;
    sf->methods.xSync = f_sync;
    if (sf->methods.iVersion >= 3) {
        sf->methods.xFetch = f_fetch;
        sf->methods.xUnfetch = f_unfetch;
    }
    sf->base.pMethods = &sf->methods;
    return SQLITE_OK;
}

static sqlite3_vfs fi_vfs;

int fi_install(void)
{
    /* backtrace() loads libgcc_s on first use: do that now, not while failing a call. */
    void *frames[2];
    backtrace(frames, 2);
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem) != SQLITE_OK) {
        fprintf(stderr, "fault_inject: SQLITE_CONFIG_GETMALLOC failed (SQLite already used?)\n");
        return -1;
    }
    sqlite3_mem_methods m = real_mem;
    m.xMalloc = mem_malloc;
    m.xRealloc = mem_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK) {
        fprintf(stderr, "fault_inject: SQLITE_CONFIG_MALLOC failed\n");
        return -1;
    }
    if (shim_vfs_init(&fi_vfs, "fault-inject", sizeof(struct shim_file)) != SQLITE_OK) {
        fprintf(stderr, "fault_inject: no \"unix\" SQLite VFS\n");
        return -1;
    }
    fi_vfs.xOpen = v_open;
    if (sqlite3_vfs_register(&fi_vfs, 1) != SQLITE_OK) {
        fprintf(stderr, "fault_inject: sqlite3_vfs_register failed\n");
        return -1;
    }
    return 0;
}
