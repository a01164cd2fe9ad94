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

#include "shim_vfs.h"

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
    struct shim_file shim; /* base, methods, real (the unix file, right after this struct) */
    struct plog *log;      /* NULL: not logged */
};

static sqlite3_vfs pl_vfs;
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

static int pl_close(sqlite3_file *f)
{
    struct pl_file *p = (struct pl_file *)f;
    int rc = p->shim.real->pMethods->xClose(p->shim.real);
    plog_put(p->log);
    p->log = NULL;
    return rc;
}

static int pl_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    struct pl_file *p = (struct pl_file *)f;
    sqlite3_file *r = p->shim.real;
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
    sqlite3_file *r = p->shim.real;
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
    sqlite3_file *r = p->shim.real;
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

/* --- the VFS methods --- */

static int pl_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                   int *out_flags)
{
    struct pl_file *p = (struct pl_file *)f;
    p->log = NULL;
    int rc = shim_open(&p->shim, sizeof(*p), name, flags, out_flags);
    if (rc != SQLITE_OK)
        return rc;
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
        p->log = plog_get(name);
        if (!p->log) {
            p->shim.real->pMethods->xClose(p->shim.real);
            return SQLITE_CANTOPEN;
        }
    }
    p->shim.methods.xClose = pl_close;
    p->shim.methods.xWrite = pl_write;
    p->shim.methods.xTruncate = pl_truncate;
    p->shim.methods.xSync = pl_sync;
    p->shim.base.pMethods = &p->shim.methods;
    return SQLITE_OK;
}

static int pl_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    int rc = shim_real->xDelete(shim_real, name, sync_dir);
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

__attribute__((constructor)) static void powerloss_vfs_register(void)
{
    sqlite3_vfs *v = &pl_vfs;
    if (shim_vfs_init(v, "powerloss", sizeof(struct pl_file)) != SQLITE_OK) {
        fprintf(stderr, "powerloss_vfs: no \"unix\" VFS to wrap\n");
        abort();
    }
    v->xOpen = pl_open;
    v->xDelete = pl_delete;
    if (sqlite3_vfs_register(v, 1) != SQLITE_OK) {
        fprintf(stderr, "powerloss_vfs: cannot register the VFS\n");
        abort();
    }
}
