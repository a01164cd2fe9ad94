/* SPDX-License-Identifier: MIT */
/* The pass-through part of a test SQLite VFS: see shim_vfs.h. */
#include "shim_vfs.h"

#include <string.h>

sqlite3_vfs *shim_real;

#define REAL(f) (((struct shim_file *)(f))->real)

static int s_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int s_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int s_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int s_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int s_sync(sqlite3_file *f, int flags)
{
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int s_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int s_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int s_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int s_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int s_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int s_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int s_device_characteristics(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int s_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), region, size, extend, pp);
}

static int s_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void s_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int s_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int s_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}

static int s_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

int shim_open(struct shim_file *f, size_t file_struct_size, sqlite3_filename name, int flags,
              int *out_flags)
{
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)((char *)f + file_struct_size);
    /* The same name pointer: SQLite finds URI parameters and the database behind it. */
    int rc = shim_real->xOpen(shim_real, name, f->real, flags, out_flags);
    const sqlite3_io_methods *rm = f->real->pMethods;
    if (rc != SQLITE_OK || !rm)
        return rc == SQLITE_OK ? SQLITE_CANTOPEN : rc;
    sqlite3_io_methods *m = &f->methods;
    m->iVersion = rm->iVersion;
    m->xClose = s_close;
    m->xRead = s_read;
    m->xWrite = s_write;
    m->xTruncate = s_truncate;
    m->xSync = s_sync;
    m->xFileSize = s_file_size;
    m->xLock = s_lock;
    m->xUnlock = s_unlock;
    m->xCheckReservedLock = s_check_reserved;
    m->xFileControl = s_file_control;
    m->xSectorSize = s_sector_size;
    m->xDeviceCharacteristics = s_device_characteristics;
    if (rm->iVersion >= 2 && rm->xShmMap) {
        m->xShmMap = s_shm_map;
        m->xShmLock = s_shm_lock;
        m->xShmBarrier = s_shm_barrier;
        m->xShmUnmap = s_shm_unmap;
    }
    if (rm->iVersion >= 3 && rm->xFetch) {
        m->xFetch = s_fetch;
        m->xUnfetch = s_unfetch;
    }
    return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return shim_real->xDelete(shim_real, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return shim_real->xAccess(shim_real, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return shim_real->xFullPathname(shim_real, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    return shim_real->xDlOpen(shim_real, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    shim_real->xDlError(shim_real, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return shim_real->xDlSym(shim_real, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
    shim_real->xDlClose(shim_real, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return shim_real->xRandomness(shim_real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    return shim_real->xSleep(shim_real, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    return shim_real->xCurrentTime(shim_real, out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return shim_real->xGetLastError ? shim_real->xGetLastError(shim_real, n, out) : 0;
}

static int v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return shim_real->xCurrentTimeInt64(shim_real, out);
}

int shim_vfs_init(sqlite3_vfs *v, const char *name, size_t file_struct_size)
{
    shim_real = sqlite3_vfs_find("unix");
    if (!shim_real)
        return SQLITE_ERROR;
    memset(v, 0, sizeof(*v));
    v->iVersion = 2; /* no xSetSystemCall: a test VFS has no use for it */
    v->szOsFile = (int)file_struct_size + shim_real->szOsFile;
    v->mxPathname = shim_real->mxPathname;
    v->zName = name;
    v->xDelete = v_delete;
    v->xAccess = v_access;
    v->xFullPathname = v_full_pathname;
    if (shim_real->xDlOpen) {
        v->xDlOpen = v_dlopen;
        v->xDlError = v_dlerror;
        v->xDlSym = v_dlsym;
        v->xDlClose = v_dlclose;
    }
    v->xRandomness = v_randomness;
    v->xSleep = v_sleep;
    v->xCurrentTime = v_current_time;
    v->xGetLastError = v_get_last_error;
    if (shim_real->iVersion >= 2 && shim_real->xCurrentTimeInt64)
        v->xCurrentTimeInt64 = v_current_time_int64;
    return SQLITE_OK;
}
