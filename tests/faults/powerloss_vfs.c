/* SPDX-License-Identifier: MIT */
/* A test SQLite VFS that logs every write not yet made durable, for a power-loss simulator. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Linked into tbdev-server-powerloss only (a test build of the server; the one other file of
 * that binary that includes sqlite3.h). A constructor registers "powerloss", a shim around
 * "unix", as the default VFS. For the database, its WAL and a rollback journal, every write and
 * truncate is first appended to "<file>-plog" with the bytes it replaces, and every successful
 * xSync appends a marker saying which records it made durable. After a SIGKILL,
 * tests/soak/power_loss.py reads the logs, undoes what was not durable and re-applies a random
 * part of it (dropped, torn or whole), as a power cut could have left the disk. The format is
 * in tests/faults/README.md. Everything else passes through.
 *
 * Records are little-endian; each is appended with one write() on an O_APPEND descriptor:
 *   'W' u64 offset, u32 len, u64 old_size, u32 old_len, old bytes, new bytes
 *   'T' u64 new_size, u64 old_size, u32 old_len, old bytes (those past new_size)
 *   'S' u64 pos: every record that starts before byte pos of the log is durable
 */

#define PLOG_SUFFIX "-plog"

/* One per logged path, shared by every handle of that path in this process. */
struct plog {
    struct plog *next;
    char *path;           /* the data file */
    unsigned refs;        /* open handles; guarded by table_lock */
    pthread_mutex_t lock; /* held from a record to the end of its real write or truncate */
    int log_fd;           /* <path>-plog, O_APPEND */
    int data_fd;          /* the data file, read-only, for the old bytes; -1 until needed */
    uint64_t epoch;       /* bumped each time the log is emptied */
    uint64_t synced;      /* highest 'S' position written in this epoch */
};

struct pl_file {
    sqlite3_file base;
    sqlite3_io_methods methods; /* ours, with the real file's iVersion */
    struct plog *log;           /* NULL: not logged */
    sqlite3_file *real;         /* the unix file, right after this struct */
};

static sqlite3_vfs pl_vfs;
static sqlite3_vfs *real_vfs;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct plog *table;

static void complain(const char *what, const char *path, int err)
{
    fprintf(stderr, "powerloss_vfs: %s %s: %s\n", what, path, strerror(err));
}

/* --- the log --- */

static void put_u32(unsigned char **p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *(*p)++ = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char **p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *(*p)++ = (unsigned char)(v >> (8 * i));
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, unsigned char *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pread(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        buf += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* The data file's size, with l->lock held. */
static int data_size(struct plog *l, uint64_t *ret_size)
{
    if (l->data_fd < 0) {
        l->data_fd = open(l->path, O_RDONLY | O_CLOEXEC);
        if (l->data_fd < 0)
            return -errno;
    }
    struct stat st;
    if (fstat(l->data_fd, &st) < 0)
        return -errno;
    *ret_size = (uint64_t)st.st_size;
    return 0;
}

static int log_length(struct plog *l, uint64_t *ret_len)
{
    struct stat st;
    if (fstat(l->log_fd, &st) < 0)
        return -errno;
    *ret_len = (uint64_t)st.st_size;
    return 0;
}

/* Empties the log (everything in it is durable or moot), with l->lock held. */
static int log_clear(struct plog *l)
{
    l->epoch++;
    l->synced = 0;
    return ftruncate(l->log_fd, 0) < 0 ? -errno : 0;
}

/* Appends a 'W' record for writing len bytes of buf at off, with l->lock held. */
static int log_write(struct plog *l, const void *buf, uint32_t len, uint64_t off)
{
    uint64_t old_size;
    int err = data_size(l, &old_size);
    if (err < 0)
        return err;
    uint64_t have = old_size > off ? old_size - off : 0;
    uint32_t old_len = have < len ? (uint32_t)have : len;
    size_t n = 1 + 8 + 4 + 8 + 4 + (size_t)old_len + len;
    unsigned char *rec = malloc(n);
    if (!rec)
        return -ENOMEM;
    unsigned char *p = rec;
    *p++ = 'W';
    put_u64(&p, off);
    put_u32(&p, len);
    put_u64(&p, old_size);
    put_u32(&p, old_len);
    err = read_all(l->data_fd, p, old_len, off);
    if (err == 0) {
        memcpy(p + old_len, buf, len);
        err = write_all(l->log_fd, rec, n);
    }
    free(rec);
    return err;
}

/* Appends a 'T' record for truncating to new_size, with l->lock held. */
static int log_truncate(struct plog *l, uint64_t new_size)
{
    uint64_t old_size;
    int err = data_size(l, &old_size);
    if (err < 0)
        return err;
    uint64_t cut = old_size > new_size ? old_size - new_size : 0;
    if (cut > UINT32_MAX)
        return -E2BIG;
    size_t n = 1 + 8 + 8 + 4 + (size_t)cut;
    unsigned char *rec = malloc(n);
    if (!rec)
        return -ENOMEM;
    unsigned char *p = rec;
    *p++ = 'T';
    put_u64(&p, new_size);
    put_u64(&p, old_size);
    put_u32(&p, (uint32_t)cut);
    err = read_all(l->data_fd, p, (size_t)cut, new_size);
    if (err == 0)
        err = write_all(l->log_fd, rec, n);
    free(rec);
    return err;
}

/* Appends an 'S' record, with l->lock held. */
static int log_synced(struct plog *l, uint64_t pos)
{
    unsigned char rec[9], *p = rec;
    *p++ = 'S';
    put_u64(&p, pos);
    return write_all(l->log_fd, rec, sizeof(rec));
}

static char *plog_path(const char *path)
{
    size_t n = strlen(path);
    char *s = malloc(n + sizeof(PLOG_SUFFIX));
    if (s) {
        memcpy(s, path, n);
        memcpy(s + n, PLOG_SUFFIX, sizeof(PLOG_SUFFIX));
    }
    return s;
}

/* The shared log of path, created on first use; NULL on failure (said on stderr). */
static struct plog *plog_get(const char *path)
{
    struct plog *l = NULL;
    char *lp = NULL;
    pthread_mutex_lock(&table_lock);
    for (l = table; l; l = l->next) {
        if (!strcmp(l->path, path)) {
            l->refs++;
            goto out;
        }
    }
    lp = plog_path(path);
    l = calloc(1, sizeof(*l));
    if (!lp || !l || !(l->path = strdup(path))) {
        complain("out of memory for", path, ENOMEM);
        goto fail;
    }
    l->log_fd = open(lp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (l->log_fd < 0) {
        complain("cannot open", lp, errno);
        goto fail;
    }
    l->data_fd = -1;
    l->refs = 1;
    pthread_mutex_init(&l->lock, NULL);
    l->next = table;
    table = l;
    goto out;
fail:
    if (l)
        free(l->path);
    free(l);
    l = NULL;
out:
    pthread_mutex_unlock(&table_lock);
    free(lp);
    return l;
}

static void plog_put(struct plog *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&table_lock);
    if (--l->refs == 0) {
        for (struct plog **pp = &table; *pp; pp = &(*pp)->next) {
            if (*pp == l) {
                *pp = l->next;
                break;
            }
        }
        close(l->log_fd);
        if (l->data_fd >= 0)
            close(l->data_fd);
        pthread_mutex_destroy(&l->lock);
        free(l->path);
        free(l);
    }
    pthread_mutex_unlock(&table_lock);
}

/* --- the file methods --- */

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((struct pl_file *)f)->real;
}

static int pl_close(sqlite3_file *f)
{
    struct pl_file *p = (struct pl_file *)f;
    int rc = p->real->pMethods->xClose(p->real);
    plog_put(p->log);
    p->log = NULL;
    return rc;
}

static int pl_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xRead(r, buf, amt, off);
}

static int pl_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    struct pl_file *p = (struct pl_file *)f;
    sqlite3_file *r = p->real;
    if (!p->log || amt <= 0 || off < 0)
        return r->pMethods->xWrite(r, buf, amt, off);
    pthread_mutex_lock(&p->log->lock);
    int err = log_write(p->log, buf, (uint32_t)amt, (uint64_t)off);
    int rc = err < 0 ? SQLITE_IOERR_WRITE : r->pMethods->xWrite(r, buf, amt, off);
    pthread_mutex_unlock(&p->log->lock);
    if (err < 0)
        complain("cannot log a write to", p->log->path, -err);
    return rc;
}

static int pl_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct pl_file *p = (struct pl_file *)f;
    sqlite3_file *r = p->real;
    if (!p->log || size < 0)
        return r->pMethods->xTruncate(r, size);
    pthread_mutex_lock(&p->log->lock);
    int err = log_truncate(p->log, (uint64_t)size);
    int rc = err < 0 ? SQLITE_IOERR_TRUNCATE : r->pMethods->xTruncate(r, size);
    pthread_mutex_unlock(&p->log->lock);
    if (err < 0)
        complain("cannot log a truncate of", p->log->path, -err);
    return rc;
}

static int pl_sync(sqlite3_file *f, int flags)
{
    struct pl_file *p = (struct pl_file *)f;
    sqlite3_file *r = p->real;
    struct plog *l = p->log;
    if (!l)
        return r->pMethods->xSync(r, flags);
    /* The fsync covers at least every record already in the log when it starts; a write that
     * races with it may or may not be covered, so it stays non-durable. */
    pthread_mutex_lock(&l->lock);
    uint64_t pos = 0, epoch = l->epoch;
    int err = log_length(l, &pos);
    pthread_mutex_unlock(&l->lock);
    int rc = r->pMethods->xSync(r, flags);
    if (rc != SQLITE_OK || err < 0)
        goto out;
    pthread_mutex_lock(&l->lock);
    /* A changed epoch: another sync emptied the log after we measured pos, so the records
     * before pos were already declared durable. */
    if (epoch == l->epoch && pos > l->synced) {
        uint64_t now = 0;
        err = log_length(l, &now);
        if (err == 0)
            err = now == pos ? log_clear(l) : log_synced(l, pos);
        if (err == 0 && now != pos)
            l->synced = pos;
    }
    pthread_mutex_unlock(&l->lock);
out:
    if (err < 0) {
        complain("cannot log a sync of", l->path, -err);
        if (rc == SQLITE_OK)
            rc = SQLITE_IOERR_FSYNC;
    }
    return rc;
}

static int pl_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xFileSize(r, size);
}

static int pl_lock(sqlite3_file *f, int level)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xLock(r, level);
}

static int pl_unlock(sqlite3_file *f, int level)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xUnlock(r, level);
}

static int pl_check_reserved_lock(sqlite3_file *f, int *out)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xCheckReservedLock(r, out);
}

static int pl_file_control(sqlite3_file *f, int op, void *arg)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xFileControl(r, op, arg);
}

static int pl_sector_size(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xSectorSize(r);
}

static int pl_device_characteristics(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xDeviceCharacteristics(r);
}

static int pl_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmMap(r, region, size, extend, pp);
}

static int pl_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmLock(r, offset, n, flags);
}

static void pl_shm_barrier(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    r->pMethods->xShmBarrier(r);
}

static int pl_shm_unmap(sqlite3_file *f, int delete_flag)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmUnmap(r, delete_flag);
}

/* Memory-mapped reads only: SQLite writes through xWrite unless built with MMAP_READWRITE. */
static int pl_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xFetch(r, off, amt, pp);
}

static int pl_unfetch(sqlite3_file *f, sqlite3_int64 off, void *ptr)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xUnfetch(r, off, ptr);
}

/* --- the VFS methods --- */

static int pl_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                   int *out_flags)
{
    struct pl_file *p = (struct pl_file *)f;
    memset(p, 0, sizeof(*p));
    p->real = (sqlite3_file *)(p + 1);
    /* The same name pointer: SQLite finds URI parameters and the database behind it. */
    int rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out_flags);
    if (rc != SQLITE_OK)
        return rc; /* base.pMethods stays NULL, so SQLite will not call xClose */
    const sqlite3_io_methods *rm = p->real->pMethods;
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
        p->log = plog_get(name);
        if (!p->log) {
            rm->xClose(p->real);
            return SQLITE_CANTOPEN;
        }
    }
    sqlite3_io_methods *m = &p->methods;
    m->iVersion = rm->iVersion;
    m->xClose = pl_close;
    m->xRead = pl_read;
    m->xWrite = pl_write;
    m->xTruncate = pl_truncate;
    m->xSync = pl_sync;
    m->xFileSize = pl_file_size;
    m->xLock = pl_lock;
    m->xUnlock = pl_unlock;
    m->xCheckReservedLock = pl_check_reserved_lock;
    m->xFileControl = pl_file_control;
    m->xSectorSize = pl_sector_size;
    m->xDeviceCharacteristics = pl_device_characteristics;
    if (rm->iVersion >= 2 && rm->xShmMap) {
        m->xShmMap = pl_shm_map;
        m->xShmLock = pl_shm_lock;
        m->xShmBarrier = pl_shm_barrier;
        m->xShmUnmap = pl_shm_unmap;
    }
    if (rm->iVersion >= 3 && rm->xFetch) {
        m->xFetch = pl_fetch;
        m->xUnfetch = pl_unfetch;
    }
    p->base.pMethods = m;
    return SQLITE_OK;
}

static int pl_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    int rc = real_vfs->xDelete(real_vfs, name, sync_dir);
    if (rc != SQLITE_OK)
        return rc;
    /* Still open here (unusual): empty its log rather than orphan the descriptor, and read
     * from whatever file takes the name next. */
    pthread_mutex_lock(&table_lock);
    struct plog *l = table;
    while (l && strcmp(l->path, name))
        l = l->next;
    if (l) {
        pthread_mutex_lock(&l->lock);
        log_clear(l);
        if (l->data_fd >= 0)
            close(l->data_fd);
        l->data_fd = -1;
        pthread_mutex_unlock(&l->lock);
    }
    pthread_mutex_unlock(&table_lock);
    if (!l) {
        char *lp = plog_path(name);
        if (lp && unlink(lp) < 0 && errno != ENOENT)
            complain("cannot delete", lp, errno);
        free(lp);
    }
    return SQLITE_OK;
}

static int pl_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int pl_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *pl_dl_open(sqlite3_vfs *vfs, const char *path)
{
    return real_vfs->xDlOpen(real_vfs, path);
}

static void pl_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    real_vfs->xDlError(real_vfs, n, msg);
}

static void (*pl_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void pl_dl_close(sqlite3_vfs *vfs, void *h)
{
    real_vfs->xDlClose(real_vfs, h);
}

static int pl_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int pl_sleep(sqlite3_vfs *vfs, int us)
{
    return real_vfs->xSleep(real_vfs, us);
}

static int pl_current_time(sqlite3_vfs *vfs, double *out)
{
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int pl_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}

static int pl_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static int pl_set_system_call(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr fn)
{
    return real_vfs->xSetSystemCall(real_vfs, name, fn);
}

static sqlite3_syscall_ptr pl_get_system_call(sqlite3_vfs *vfs, const char *name)
{
    return real_vfs->xGetSystemCall(real_vfs, name);
}

static const char *pl_next_system_call(sqlite3_vfs *vfs, const char *name)
{
    return real_vfs->xNextSystemCall(real_vfs, name);
}

__attribute__((constructor)) static void powerloss_vfs_register(void)
{
    real_vfs = sqlite3_vfs_find("unix");
    if (!real_vfs) {
        fprintf(stderr, "powerloss_vfs: no \"unix\" VFS to wrap\n");
        abort();
    }
    sqlite3_vfs *v = &pl_vfs;
    v->iVersion = real_vfs->iVersion;
    v->szOsFile = (int)sizeof(struct pl_file) + real_vfs->szOsFile;
    v->mxPathname = real_vfs->mxPathname;
    v->zName = "powerloss";
    v->xOpen = pl_open;
    v->xDelete = pl_delete;
    v->xAccess = pl_access;
    v->xFullPathname = pl_full_pathname;
    if (real_vfs->xDlOpen) {
        v->xDlOpen = pl_dl_open;
        v->xDlError = pl_dl_error;
        v->xDlSym = pl_dl_sym;
        v->xDlClose = pl_dl_close;
    }
    v->xRandomness = pl_randomness;
    v->xSleep = pl_sleep;
    v->xCurrentTime = pl_current_time;
    v->xGetLastError = pl_get_last_error;
    if (real_vfs->iVersion >= 2 && real_vfs->xCurrentTimeInt64)
        v->xCurrentTimeInt64 = pl_current_time_int64;
    if (real_vfs->iVersion >= 3 && real_vfs->xSetSystemCall) {
        v->xSetSystemCall = pl_set_system_call;
        v->xGetSystemCall = pl_get_system_call;
        v->xNextSystemCall = pl_next_system_call;
    }
    if (sqlite3_vfs_register(v, 1) != SQLITE_OK) {
        fprintf(stderr, "powerloss_vfs: cannot register the VFS\n");
        abort();
    }
}
