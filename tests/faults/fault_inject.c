/* SPDX-License-Identifier: MIT */
/* Injected failures: see fault_inject.h. */
#include "fault_inject.h"

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

static void record_site(void)
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

static bool should_fail(int kind)
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

/* --- SQLite's files: a VFS around "unix" --- */

struct fi_file {
    sqlite3_file base;
    sqlite3_file *real; /* right after this struct, szOsFile of the real VFS */
};

static sqlite3_vfs *real_vfs;

#define REAL(f) (((struct fi_file *)(f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

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

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int f_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int f_device_characteristics(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), region, size, extend, pp);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
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

static const sqlite3_io_methods fi_io = {
    .iVersion = 3,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_file_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_check_reserved,
    .xFileControl = f_file_control,
    .xSectorSize = f_sector_size,
    .xDeviceCharacteristics = f_device_characteristics,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
    .xFetch = f_fetch,
    .xUnfetch = f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    struct fi_file *ff = (struct fi_file *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    ff->base.pMethods = ff->real->pMethods ? &fi_io : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    return real_vfs->xDlOpen(real_vfs, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    real_vfs->xDlError(real_vfs, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
    real_vfs->xDlClose(real_vfs, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    return real_vfs->xSleep(real_vfs, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static sqlite3_vfs fi_vfs = {
    .iVersion = 2,
    .mxPathname = 0, /* set from the real VFS */
    .zName = "fault-inject",
    .xOpen = v_open,
    .xDelete = v_delete,
    .xAccess = v_access,
    .xFullPathname = v_full_pathname,
    .xDlOpen = v_dlopen,
    .xDlError = v_dlerror,
    .xDlSym = v_dlsym,
    .xDlClose = v_dlclose,
    .xRandomness = v_randomness,
    .xSleep = v_sleep,
    .xCurrentTime = v_current_time,
    .xGetLastError = v_get_last_error,
    .xCurrentTimeInt64 = v_current_time_int64,
};

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
    real_vfs = sqlite3_vfs_find("unix");
    if (!real_vfs) {
        fprintf(stderr, "fault_inject: no \"unix\" SQLite VFS\n");
        return -1;
    }
    fi_vfs.szOsFile = (int)sizeof(struct fi_file) + real_vfs->szOsFile;
    fi_vfs.mxPathname = real_vfs->mxPathname;
    if (sqlite3_vfs_register(&fi_vfs, 1) != SQLITE_OK) {
        fprintf(stderr, "fault_inject: sqlite3_vfs_register failed\n");
        return -1;
    }
    return 0;
}
