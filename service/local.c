/* SPDX-License-Identifier: MIT */
/* tbdev-server local: read a logdir into a cached database while its page is served. */
#include "local.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "follow.h"
#include "http.h"
#include "ingest.h"
#include "json.h"
#include "localopts.h"
#include "log.h"
#include "logdir.h"
#include "store.h"
#include "tblimits.h"
#include "tfrecord.h"

#define EXIT_USAGE 2
#define LOCAL_USER "local"
#define BATCH_FIRST (1u << 20)      /* the first batch is small: the page has data at once */
#define BATCH_MAX (8u << 20)        /* record bytes per transaction */
#define BATCH_MIN (64u << 10)       /* after refusals as too large to decode */
#define FILE_SLICE_MIN (512u << 10) /* a file's share of a batch: all runs grow together */
#define WARNINGS_SHOWN 50           /* distinct warnings printed; the rest are counted */
#define PROGRESS_EVERY 0.5          /* seconds between progress lines on a terminal */
#define FIRST_LOOK_WAIT 2           /* seconds the link waits for the first batch, at most */

enum state { ST_STARTING, ST_WAITING, ST_READING, ST_WATCHING };
static const char *const state_names[] = {"starting", "waiting", "reading", "watching"};

struct svc_local {
    struct svc_app *app;
    const struct tb_local_options *opt;
    struct tb_local_logdir *logdirs;
    size_t n_logdirs;
    char db[PATH_MAX];
    char exp_id[SVC_EXP_ID_LEN + 1];
    int64_t owner_id;
    char page_url[600]; /* what is printed: http://localhost:PORT/ */
    atomic_bool stop;
    /* the ingest thread's own: */
    struct tb_follow fl;
    size_t budget;
    struct tb_map said;   /* warnings printed once */
    bool *missing_said;   /* per logdir: "waiting for it" printed */
    double last_progress; /* when the progress line was drawn */
    bool announced;       /* "up to date" printed since the last batch */
    /* progress, for GET /api/v1/local; guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t looked; /* signalled once the first batch is stored (or there is none) */
    bool first_look;       /* ... and set */
    struct local_progress {
        enum state state;
        uint64_t done, all; /* bytes of event files committed, and their sizes */
        uint64_t resumed;   /* committed before this start, from the cache */
        uint64_t runs, files;
        uint64_t records;    /* read and stored since this start */
        uint64_t values;     /* stored since this start */
        uint64_t batches;    /* transactions since this start */
        uint64_t warnings;   /* problems met (files, records, values not stored) */
        double started;      /* wall clock */
        double read_seconds; /* from the start until everything was read the first time */
        double up_to_date;   /* wall clock of the last time everything was read; 0: reading */
        char last_warning[600];
    } p;
};

/* ---- messages: what a person at the terminal sees ---- */

static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;
static bool progress_line; /* a progress line is on the terminal (guarded by say_lock) */

static void vsay(const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void vsay(const char *prefix, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&say_lock);
    if (progress_line) {
        fputs("\r\033[K", stderr);
        progress_line = false;
    }
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&say_lock);
}

static void notef(const struct svc_local *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void notef(const struct svc_local *L, const char *fmt, ...)
{
    if (L->opt->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsay("tbdev: ", fmt, ap);
    va_end(ap);
}

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("tbdev serve: ", fmt, ap);
    va_end(ap);
}

/* A warning, printed the first time its text is seen (WARNINGS_SHOWN at most), counted and
 * kept for the page every time. */
static void warnf(struct svc_local *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct svc_local *L, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&L->lock);
    L->p.warnings++;
    snprintf(L->p.last_warning, sizeof(L->p.last_warning), "%s", msg);
    pthread_mutex_unlock(&L->lock);
    if (tb_map_get(&L->said, msg))
        return;
    if (L->said.len == WARNINGS_SHOWN) {
        tb_map_put(&L->said, msg, (void *)1);
        pthread_mutex_lock(&say_lock);
        fprintf(stderr, "tbdev: warning: more problems than shown here; GET /api/v1/local "
                        "counts them\n");
        pthread_mutex_unlock(&say_lock);
        return;
    }
    if (L->said.len > WARNINGS_SHOWN)
        return;
    tb_map_put(&L->said, msg, (void *)1);
    pthread_mutex_lock(&say_lock);
    if (progress_line) {
        fputs("\r\033[K", stderr);
        progress_line = false;
    }
    fprintf(stderr, "tbdev: warning: %s\n", msg);
    pthread_mutex_unlock(&say_lock);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void human_bytes(char *buf, size_t len, double n)
{
    if (n < 1024)
        snprintf(buf, len, "%.0f B", n);
    else if (n < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", n / 1024);
    else if (n < 1024.0 * 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", n / 1048576);
    else
        snprintf(buf, len, "%.2f GiB", n / 1073741824);
}

/* Sleeps up to secs, waking early when asked to stop. */
static void nap(struct svc_local *L, double secs)
{
    for (double t = 0; t < secs && !atomic_load(&L->stop); t += 0.05)
        usleep(50000);
}

/* ---- the cache file, its lock, and the experiment in it ---- */

static int mkdirs(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int svc_local_cache_path(const struct tb_local_logdir *l, size_t n_dirs, const char *xdg,
                         const char *home, char *out, size_t len, char *err, size_t elen)
{
    char dir[PATH_MAX];
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof(dir), "%s/tbdev", xdg);
    else if (home && home[0] == '/')
        snprintf(dir, sizeof(dir), "%s/.cache/tbdev", home);
    else {
        snprintf(err, elen,
                 "there is no cache folder (neither XDG_CACHE_HOME nor HOME is set): give "
                 "--db FILE for the file that keeps what was read");
        return -ENOENT;
    }
    int rc = mkdirs(dir);
    if (rc < 0) {
        snprintf(err, elen, "cannot make the cache folder %s: %s; give --db FILE elsewhere", dir,
                 strerror(-rc));
        return rc;
    }
    struct tb_buf key;
    tb_buf_init(&key, 0);
    for (size_t i = 0; i < n_dirs; i++) {
        tb_buf_add(&key, l[i].name, strlen(l[i].name) + 1);
        tb_buf_add(&key, l[i].path, strlen(l[i].path) + 1);
    }
    uint8_t sha[32];
    char hex[65];
    svc_sha256(key.data ? (const void *)key.data : "", key.len, sha);
    svc_hex32(sha, hex);
    tb_buf_done(&key);
    const char *path = l[0].path;
    const char *slash = strrchr(path, '/');
    const char *base = n_dirs > 1 ? "logdirs" : slash ? slash + 1 : path;
    char label[41];
    size_t n = 0;
    for (const char *s = *base ? base : "root"; *s && n < sizeof(label) - 1; s++)
        label[n++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                                    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'
                                ? *s
                                : '_');
    label[n] = 0;
    int w = snprintf(out, len, "%s/%s-%.16s.db", dir, label, hex);
    if (w < 0 || (size_t)w >= len) {
        snprintf(err, elen, "the cache folder's path is too long; give --db FILE");
        return -E2BIG;
    }
    return 0;
}

/* Takes DB.lock; -EBUSY (with what the holder wrote: its pid and link) if another process has
 * it. */
static int lock_cache(const char *db, int *ret_fd, char *holder, size_t hlen)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s.lock", db);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        ssize_t n = pread(fd, holder, hlen - 1, 0);
        holder[n > 0 ? n : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        close(fd);
        return e == EWOULDBLOCK ? -EBUSY : -e;
    }
    *ret_fd = fd;
    return 0;
}

static void lock_note(int fd, const char *url)
{
    char line[700];
    int n = snprintf(line, sizeof(line), "pid %ld at %s\n", (long)getpid(), url);
    if (ftruncate(fd, 0) == 0 && n > 0 && pwrite(fd, line, (size_t)n, 0) < 0)
        return; /* only a hint for a second tbdev serve */
}

static int first_experiment(void *ctx, const struct svc_experiment *e)
{
    struct svc_local *L = ctx;
    if (!L->exp_id[0])
        snprintf(L->exp_id, sizeof(L->exp_id), "%s", e->id);
    return 0;
}

/* A name of at most 100 characters: the end of s when it is longer ("...end"). */
static void short_name(char *out, size_t len, const char *s)
{
    size_t chars = 0, n = strlen(s), start = n;
    while (start > 0 && chars < 97) {
        start--;
        if (((unsigned char)s[start] & 0xc0) != 0x80)
            chars++;
    }
    snprintf(out, len, "%s%s", start > 0 ? "..." : "", s + start);
}

/* The local user and its one experiment, made on the first start. */
static int setup_experiment(struct svc_local *L, char *err, size_t elen)
{
    const struct svc_store_ops *ops = L->app->ops;
    struct svc_store *st = L->app->store;
    struct svc_user u;
    int rc = ops->user_get(st, LOCAL_USER, &u);
    if (rc == -ENOENT)
        rc = ops->user_add(st, LOCAL_USER, "", false, NULL) < 0 ? -EIO
                                                                : ops->user_get(st, LOCAL_USER, &u);
    if (rc == 0)
        rc = ops->experiment_list(st, u.id, false, first_experiment, L);
    if (rc < 0) {
        snprintf(err, elen, "cannot read the cache %s (%s): remove it, or give --db FILE", L->db,
                 strerror(-rc));
        return rc;
    }
    L->owner_id = u.id;
    if (L->exp_id[0])
        return 0;
    struct svc_experiment e = {0};
    svc_experiment_id_new(e.id);
    e.owner_id = u.id;
    e.visibility = SVC_VIS_UNLISTED;
    e.created = e.updated = now_wall();
    /* The name: the logdir's path, or the spec's names; the description: every path. */
    struct tb_buf name, desc;
    tb_buf_init(&name, 0);
    tb_buf_init(&desc, 0);
    tb_buf_add(&desc, "Read by tbdev serve from", 24);
    for (size_t i = 0; i < L->n_logdirs; i++) {
        const struct tb_local_logdir *d = &L->logdirs[i];
        const char *shown = d->name[0] ? d->name : d->path;
        if (i)
            tb_buf_add(&name, ", ", 2);
        tb_buf_add(&name, shown, strlen(shown));
        tb_buf_add(&desc, i ? ", " : " ", i ? 2 : 1);
        if (d->name[0]) {
            tb_buf_add(&desc, d->name, strlen(d->name));
            tb_buf_add(&desc, ": ", 2);
        }
        tb_buf_add(&desc, d->path, strlen(d->path));
    }
    tb_buf_addc(&name, 0);
    tb_buf_addc(&desc, 0);
    short_name(e.name, sizeof(e.name), name.err ? "logdir" : (const char *)name.data);
    /* at most 600 characters: the end is cut, on a character boundary */
    size_t dl = desc.err ? 0 : strlen((const char *)desc.data), chars = 0, k = 0;
    while (k < dl && k < sizeof(e.description) - 1 && chars < 600) {
        k++;
        while (k < dl && (desc.data[k] & 0xc0) == 0x80)
            k++;
        chars++;
    }
    if (k >= sizeof(e.description))
        k = 0;
    memcpy(e.description, desc.err ? "" : (const char *)desc.data, k);
    e.description[k] = 0;
    tb_buf_done(&name);
    tb_buf_done(&desc);
    rc = ops->experiment_create(st, &e);
    if (rc < 0) {
        snprintf(err, elen, "cannot write the cache %s (%s)", L->db, strerror(-rc));
        return rc;
    }
    snprintf(L->exp_id, sizeof(L->exp_id), "%s", e.id);
    return 0;
}

static int load_cursor(void *ctx, const char *run, const char *file, uint64_t offset,
                       uint32_t fp_len, uint32_t fp)
{
    struct svc_local *L = ctx;
    return tb_follow_cursor_set(&L->fl, run, file, (struct tb_follow_cursor){offset, fp_len, fp});
}

/* ---- reading and storing ---- */

static void file_event(void *ctx, enum tb_follow_event ev, const struct tb_follow_file *f,
                       uint64_t a, uint64_t b)
{
    struct svc_local *L = ctx;
    if (ev == TB_FOLLOW_RENAMED)
        warnf(L,
              "%s is not the file read before under that name in run '%s' (its first bytes "
              "differ); it is shown as '%s' beside it, as TensorBoard reads both",
              f->path, f->run, f->name);
    else if (ev == TB_FOLLOW_TRUNCATED)
        warnf(L,
              "%s was cut to %llu bytes after %llu bytes of it were read; it is no longer read, "
              "so nothing is shown twice or torn. Write new data to a new file",
              f->path, (unsigned long long)a, (unsigned long long)b);
    else
        warnf(L,
              "%s is %llu bytes, but %llu bytes of it were read before: it was truncated, and "
              "is not read again (remove the cache %s to read everything afresh)",
              f->path, (unsigned long long)a, (unsigned long long)b, L->db);
}

/* The progress line on a terminal, at most every PROGRESS_EVERY seconds. */
static void progress(struct svc_local *L, bool force)
{
    double t = now_mono();
    if (L->opt->quiet || !isatty(STDERR_FILENO) ||
        (!force && t - L->last_progress < PROGRESS_EVERY))
        return;
    L->last_progress = t;
    pthread_mutex_lock(&L->lock);
    uint64_t done = L->p.done, all = L->p.all, values = L->p.values;
    double since = now_wall() - L->p.started;
    pthread_mutex_unlock(&L->lock);
    char d[32], a[32];
    human_bytes(d, sizeof(d), (double)done);
    human_bytes(a, sizeof(a), (double)all);
    pthread_mutex_lock(&say_lock);
    fprintf(stderr, "\r\033[Kreading: %3.0f%% %s of %s, %llu values (%.0f values/s)",
            all ? 100.0 * (double)done / (double)all : 100.0, d, a, (unsigned long long)values,
            since > 0 ? (double)values / since : 0.0);
    progress_line = true;
    pthread_mutex_unlock(&say_lock);
}

/* Reads whole records of f from its read offset into buf, up to `limit` bytes of buf (the first
 * record may pass it). Returns the records added; *ret_end is where the next read starts. */
static size_t read_records(struct svc_local *L, struct tb_follow_file *f, struct tb_buf *buf,
                           size_t limit, uint64_t *ret_end)
{
    *ret_end = f->read_offset;
    struct tb_tfrecord_reader *r = NULL;
    int err = tb_tfrecord_open(f->path, f->read_offset, L->fl.max_record, &r);
    if (err < 0) {
        if (err != -ENOENT)
            warnf(L, "cannot read %s: %s", f->path, strerror(-err));
        return 0;
    }
    size_t added = 0;
    for (;;) {
        struct tb_record rec;
        struct tb_problem p;
        int n = tb_tfrecord_next(r, &rec, &p);
        if (n == 0)
            break;
        if (n < 0) {
            if (p.kind == TB_PROBLEM_IO || p.kind == TB_PROBLEM_NONE)
                break;
            warnf(L, "%s: %s", f->path, p.message);
            *ret_end = tb_tfrecord_offset(r);
            continue;
        }
        if (added && buf->len + rec.frame_len > limit)
            break;
        tb_buf_add(buf, rec.frame, rec.frame_len);
        if (buf->err)
            break;
        added++;
        *ret_end = tb_tfrecord_offset(r);
        if (buf->len >= limit)
            break;
    }
    uint64_t bytes = 0;
    enum tb_problem_kind tail = tb_tfrecord_tail(r, &bytes);
    if (tail != TB_PROBLEM_NONE && tail != TB_PROBLEM_TRUNCATED && !f->warned_tail) {
        f->warned_tail = true;
        warnf(L, "%s: %s at offset %llu (%llu bytes); waiting for good records after it", f->path,
              tail == TB_PROBLEM_ZERO_FILLED ? "zero bytes where records should be"
              : tail == TB_PROBLEM_TOO_LARGE ? "a record over the size limit"
                                             : "corrupt bytes",
              (unsigned long long)tb_tfrecord_offset(r), (unsigned long long)bytes);
    }
    tb_tfrecord_close(r);
    return added;
}

struct pending {
    struct tb_follow_file *f;
    size_t at, len;      /* the group's records in the batch buffer */
    uint64_t start, end; /* the file offsets the group covers */
    size_t n_records;
};

static void update_totals(struct svc_local *L)
{
    uint64_t done, all;
    tb_follow_totals(&L->fl, &done, &all);
    pthread_mutex_lock(&L->lock);
    L->p.done = done;
    L->p.all = all;
    L->p.files = L->fl.files.len;
    pthread_mutex_unlock(&L->lock);
}

/* What the store said of the batch's groups. */
static void results(struct svc_local *L, struct svc_ingest *in, struct pending *pend, size_t ng)
{
    uint64_t values = 0, records = 0;
    for (size_t g = 0; g < ng; g++) {
        const struct svc_group *gr = &in->b.groups[g];
        struct tb_follow_file *f = pend[g].f;
        for (size_t k = 0; k < in->n_problems[g]; k++)
            warnf(L, "%s: %s", f->path, in->problems[g * SVC_INGEST_PROBLEMS_PER_GROUP + k]);
        if (gr->refused && !strcmp(gr->refused, "file_changed")) {
            tb_follow_name_taken(&L->fl, f, gr->cursor);
            continue;
        }
        if (gr->refused) {
            f->dead = true; /* its name: the problem above says why */
            continue;
        }
        tb_follow_committed(&L->fl, f, gr->cursor, pend[g].end);
        values += gr->values;
        records += pend[g].n_records;
    }
    pthread_mutex_lock(&L->lock);
    L->p.values += values;
    L->p.records += records;
    L->p.batches++;
    pthread_mutex_unlock(&L->lock);
}

/* A store error while writing a batch: say it, wait as it needs, read again from the cursors. */
static void write_failed(struct svc_local *L, struct svc_ingest *in, int err)
{
    tb_follow_rewind(&L->fl);
    if (err == -ESTALE) {
        /* The cache's cursors moved under us (it should not: the lock keeps other readers
         * out): take them again, and go on from there. */
        L->app->ops->cursors(L->app->store, L->exp_id, load_cursor, L);
        tb_follow_sync(&L->fl);
        return;
    }
    if (err == -EBUSY) {
        nap(L, 1);
        return;
    }
    if (err == -ENOSPC) {
        warnf(L, "the disk that holds the cache %s is full: reading stops until there is room",
              L->db);
        nap(L, 15);
        return;
    }
    warnf(L, "cannot store what was read (%s%s%s); trying again in 5 s", strerror(-err),
          in->message[0] ? ": " : "", in->message);
    nap(L, 5);
}

/* Reads one batch from the files with new data and stores it. Returns 1 when something was
 * done (or is to be tried again), 0 when nothing is new. */
static int one_batch(struct svc_local *L, struct tb_buf *buf)
{
    struct tb_follow_file **order = NULL;
    size_t n = 0;
    if (tb_follow_sorted(&L->fl, &order, &n) < 0)
        return 0;
    uint64_t *sizes = calloc(n ? n : 1, sizeof(*sizes));
    struct pending *pend = calloc(n ? n : 1, sizeof(*pend));
    Tbdev__V1__RecordGroup *groups = calloc(n ? n : 1, sizeof(*groups));
    Tbdev__V1__RecordGroup **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    int rc = 0;
    if (!sizes || !pend || !groups || !ptrs)
        goto out;
    size_t ready = 0;
    for (size_t i = 0; i < n; i++)
        if (tb_follow_ready(order[i], &sizes[i]))
            ready++;
        else
            sizes[i] = UINT64_MAX;
    if (!ready)
        goto out;
    size_t slice = L->budget / ready > FILE_SLICE_MIN ? L->budget / ready : FILE_SLICE_MIN;
    tb_buf_reset(buf);
    size_t ng = 0;
    for (size_t i = 0; i < n && buf->len < L->budget; i++) {
        struct tb_follow_file *f = order[i];
        if (sizes[i] == UINT64_MAX)
            continue;
        tb_follow_take_fingerprint(&L->fl, f);
        size_t at = buf->len;
        uint64_t end;
        size_t added = read_records(L, f, buf, at + slice, &end);
        if (added == 0 && end == f->read_offset) {
            tb_follow_idle(f, sizes[i]); /* an incomplete or damaged tail: wait */
            continue;
        }
        f->idle_size = 0;
        pend[ng] = (struct pending){f, at, buf->len - at, f->read_offset, end, added};
        f->read_offset = end;
        ng++;
    }
    if (buf->err) {
        warnf(L, "out of memory reading a batch; trying again");
        tb_follow_rewind(&L->fl);
        nap(L, 1);
        rc = 1;
        goto out;
    }
    if (!ng)
        goto out;
    rc = 1;
    for (size_t g = 0; g < ng; g++) {
        struct tb_follow_file *f = pend[g].f;
        tbdev__v1__record_group__init(&groups[g]);
        groups[g].run = (ProtobufCBinaryData){strlen(f->run), (uint8_t *)f->run};
        groups[g].file = (ProtobufCBinaryData){strlen(f->name), (uint8_t *)f->name};
        groups[g].offset = pend[g].start;
        groups[g].records = (ProtobufCBinaryData){pend[g].len, buf->data + pend[g].at};
        groups[g].end_offset = pend[g].end;
        groups[g].fingerprint_len = f->fp_len;
        groups[g].fingerprint = f->fp;
        ptrs[g] = &groups[g];
    }
    struct svc_ingest in;
    svc_ingest_init(&in, L->app, L->exp_id, buf->len);
    if (svc_ingest_decode(&in, ptrs, ng) < 0) {
        tb_follow_rewind(&L->fl);
        if (in.status == 413 && L->budget > BATCH_MIN) {
            L->budget /= 2; /* more decoded data than its size allows: read less at once */
        } else {
            /* What the reader took as whole records, the decoder does not: never loop on it. */
            for (size_t g = 0; g < ng; g++)
                pend[g].f->dead = true;
            warnf(L, "cannot store what was read (%s); %zu file%s no longer read", in.message, ng,
                  ng == 1 ? " is" : "s are");
        }
        svc_ingest_done(&in);
        goto out;
    }
    int err = svc_ingest_write(&in, L->owner_id, 0);
    if (err < 0)
        write_failed(L, &in, err);
    else
        results(L, &in, pend, ng);
    svc_ingest_done(&in);
    if (err == 0 && L->budget < BATCH_MAX)
        L->budget *= 2;
    update_totals(L);
    progress(L, false);
out:
    free(order);
    free(sizes);
    free(pend);
    free(groups);
    free(ptrs);
    return rc;
}

/* A scan of one logdir, its runs named as local mode shows them. */
static int scan(struct svc_local *L, const struct tb_local_logdir *d, struct tb_logdir **ret)
{
    struct tb_logdir *ld = NULL;
    int rc = tb_logdir_scan(d->path, &ld);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < ld->n_runs; i++) {
        char *name = tb_local_run_name(d->name, ld->runs[i].name);
        if (!name) {
            tb_logdir_free(ld);
            return -ENOMEM;
        }
        free(ld->runs[i].name);
        ld->runs[i].name = name;
    }
    for (size_t i = 0; i < ld->n_problems; i++)
        warnf(L, "%s: %s", ld->problems[i].path, ld->problems[i].problem.message);
    *ret = ld;
    return 0;
}

/* The first look at the logdir is over: its first batch is stored, or there is nothing to
 * read yet. The link is printed after this, so that a page opened from it has data. */
static void first_look_done(struct svc_local *L)
{
    pthread_mutex_lock(&L->lock);
    if (!L->first_look) {
        L->first_look = true;
        pthread_cond_broadcast(&L->looked);
    }
    pthread_mutex_unlock(&L->lock);
}

static void *ingest_thread(void *arg)
{
    struct svc_local *L = arg;
    struct tb_buf buf;
    tb_buf_init(&buf, 0);
    bool first = true;
    double read_started = now_mono();
    while (!atomic_load(&L->stop)) {
        double t0 = now_mono();
        size_t present = 0;
        uint64_t runs = 0;
        for (size_t i = 0; i < L->n_logdirs; i++) {
            const struct tb_local_logdir *d = &L->logdirs[i];
            struct tb_logdir *ld = NULL;
            int rc = scan(L, d, &ld);
            if (rc == -ENOENT) {
                if (!L->missing_said[i])
                    notef(L, "waiting for %s to appear (Ctrl-C to stop)", d->path);
                L->missing_said[i] = true;
                continue;
            }
            if (rc < 0) {
                warnf(L, "cannot read logdir %s: %s", d->path,
                      rc == -ENOTDIR ? "it is not a directory" : strerror(-rc));
                continue;
            }
            if (L->missing_said[i])
                notef(L, "%s is there: reading it", d->path);
            L->missing_said[i] = false;
            present++;
            runs += ld->n_runs;
            if (tb_follow_refresh(&L->fl, ld) < 0)
                warnf(L, "out of memory following %s", d->path);
            tb_logdir_free(ld);
        }
        update_totals(L);
        pthread_mutex_lock(&L->lock);
        L->p.runs = runs;
        if (first)
            L->p.resumed = L->p.done;
        uint64_t resumed = L->p.resumed;
        pthread_mutex_unlock(&L->lock);
        if (first && resumed) {
            char b[32];
            human_bytes(b, sizeof(b), (double)resumed);
            notef(L, "%s of event files were read before (cache %s): reading only what is new", b,
                  L->db);
        }
        first = false;
        bool any = false;
        if (present) {
            pthread_mutex_lock(&L->lock);
            if (L->p.done < L->p.all || L->p.state != ST_WATCHING)
                L->p.state = ST_READING;
            pthread_mutex_unlock(&L->lock);
            while (!atomic_load(&L->stop) && one_batch(L, &buf) > 0) {
                any = true;
                first_look_done(L);
            }
        }
        first_look_done(L);
        if (atomic_load(&L->stop))
            break;
        double scan_secs = now_mono() - t0;
        /* Everything readable is read (a tail not written in full waits for its writer). */
        pthread_mutex_lock(&L->lock);
        uint64_t values = L->p.values, all = L->p.all;
        L->p.state = present ? ST_WATCHING : ST_WAITING;
        if (present && L->p.read_seconds == 0)
            L->p.read_seconds = now_mono() - read_started;
        if (present)
            L->p.up_to_date = now_wall();
        pthread_mutex_unlock(&L->lock);
        if (any)
            L->announced = false;
        if (present && !L->announced) {
            char b[32];
            human_bytes(b, sizeof(b), (double)all);
            struct svc_experiment e;
            uint64_t stored = L->app->ops->experiment_get(L->app->store, L->exp_id, &e) == 0
                                  ? e.usage.scalars + e.usage.tensors + e.usage.blobs
                                  : values;
            notef(L,
                  "up to date: %llu values in %llu run%s (%s of event files; %llu new since the "
                  "start); watching for new data (Ctrl-C to stop)",
                  (unsigned long long)stored, (unsigned long long)runs, runs == 1 ? "" : "s", b,
                  (unsigned long long)values);
            L->announced = true;
        }
        /* A large logdir takes a while to scan: look less often than it takes, at most. */
        double wait = (double)L->opt->poll_interval;
        if (scan_secs * 10 > wait)
            wait = scan_secs * 10 > 60 ? 60 : scan_secs * 10;
        nap(L, wait);
    }
    tb_buf_done(&buf);
    first_look_done(L);
    return NULL;
}

/* ---- the read API's part ---- */

void svc_local_upload_command(struct tb_buf *b, const char *s)
{
    tb_buf_adds(b, "tbdev upload --logdir ");
    if (s[0] &&
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@") ==
            strlen(s)) {
        tb_buf_add(b, s, strlen(s));
        return;
    }
    tb_buf_addc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            tb_buf_add(b, "'\\''", 4);
        else
            tb_buf_addc(b, *s);
    }
    tb_buf_addc(b, '\'');
}

void svc_h_local(struct svc_call *c)
{
    struct svc_local *L = c->app->local;
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "local");
    tb_json_bool(&j, L != NULL);
    if (!L) { /* a server: the page has no local bar */
        tb_json_obj_close(&j);
        return;
    }
    pthread_mutex_lock(&L->lock);
    struct local_progress p = L->p;
    pthread_mutex_unlock(&L->lock);
    tb_json_key(&j, "experiment_id");
    tb_json_str(&j, L->exp_id);
    char url[700];
    snprintf(url, sizeof(url), "/experiment/%s/", L->exp_id);
    tb_json_key(&j, "path");
    tb_json_str(&j, url);
    tb_json_key(&j, "logdirs");
    tb_json_arr_open(&j);
    for (size_t i = 0; i < L->n_logdirs; i++) {
        tb_json_obj_open(&j);
        tb_json_key(&j, "name");
        tb_json_str(&j, L->logdirs[i].name);
        tb_json_key(&j, "path");
        tb_json_str(&j, L->logdirs[i].path);
        /* how to share it: each logdir is an experiment of its own on a server */
        struct tb_buf cmd;
        tb_buf_init(&cmd, 0);
        svc_local_upload_command(&cmd, L->logdirs[i].path);
        tb_json_key(&j, "upload_command");
        tb_json_strn(&j, cmd.data ? (const char *)cmd.data : "", cmd.len);
        tb_buf_done(&cmd);
        tb_json_obj_close(&j);
    }
    tb_json_arr_close(&j);
    tb_json_key(&j, "state");
    tb_json_str(&j, state_names[p.state]);
    tb_json_key(&j, "bytes_read");
    tb_json_uint(&j, p.done);
    tb_json_key(&j, "bytes_total");
    tb_json_uint(&j, p.all);
    tb_json_key(&j, "bytes_resumed");
    tb_json_uint(&j, p.resumed);
    tb_json_key(&j, "runs");
    tb_json_uint(&j, p.runs);
    tb_json_key(&j, "files");
    tb_json_uint(&j, p.files);
    tb_json_key(&j, "records_read");
    tb_json_uint(&j, p.records);
    tb_json_key(&j, "values_stored");
    tb_json_uint(&j, p.values);
    tb_json_key(&j, "batches");
    tb_json_uint(&j, p.batches);
    tb_json_key(&j, "warnings");
    tb_json_uint(&j, p.warnings);
    tb_json_key(&j, "last_warning");
    tb_json_str(&j, p.last_warning);
    tb_json_key(&j, "started");
    tb_json_double(&j, p.started);
    tb_json_key(&j, "read_seconds");
    tb_json_double(&j, p.read_seconds);
    tb_json_key(&j, "up_to_date");
    tb_json_double(&j, p.up_to_date);
    tb_json_key(&j, "cache");
    tb_json_str(&j, L->db);
    tb_json_obj_close(&j);
}

void svc_h_local_root(struct svc_call *c)
{
    struct svc_local *L = c->app->local;
    char loc[64];
    snprintf(loc, sizeof(loc), "/experiment/%s/", L ? L->exp_id : "");
    svc_res_header(c->res, "Location", loc);
    c->res->status = 302;
}

/* ---- the command ---- */

/* The link base with the bound port, before any request is served. */
static void on_listening(void *ctx, uint16_t port)
{
    struct svc_config *cfg = ctx;
    const char *h = cfg->host;
    bool lo_or_any = tb_local_is_loopback(h) || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !h[0];
    snprintf(cfg->url_base, sizeof(cfg->url_base), "http://%s%s%s:%u",
             !lo_or_any && strchr(h, ':') ? "[" : "", lo_or_any ? "localhost" : h,
             !lo_or_any && strchr(h, ':') ? "]" : "", port);
}

/* The address a --host means: itself when numeric, else what the name resolves to (its first
 * IPv4 address, else its first, as the server picks), into out. -EINVAL if it does not resolve. */
static int resolve_host(const char *host, char *out, size_t len)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_ADDRCONFIG};
    struct addrinfo *all = NULL;
    if (getaddrinfo(host, NULL, &hints, &all) != 0 || !all)
        return -EINVAL;
    struct addrinfo *pick = all;
    for (struct addrinfo *p = all; p; p = p->ai_next)
        if (p->ai_family == AF_INET) {
            pick = p;
            break;
        }
    int bad =
        getnameinfo(pick->ai_addr, pick->ai_addrlen, out, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(all);
    return bad ? -EINVAL : 0;
}

/* Tries the (numeric) address before the server takes it, for a message that says what to do:
 * -EADDRNOTAVAIL (not this machine's), -EADDRINUSE, -EACCES, or 0. */
static int probe_listen(const char *host, long long port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%lld", port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
        return -EINVAL;
    int rc = 0, one = 1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        rc = -errno;
    else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
             bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}

/* Says why the address cannot be listened on, from probe_listen's or the server's error. */
static void listen_failed(const struct tb_local_options *o, int rc)
{
    if (rc == -EADDRINUSE)
        errorf("port %lld is in use (another tbdev serve or TensorBoard?): stop it, or choose "
               "another port with --port %lld",
               o->port, o->port == 65535 ? 6007 : o->port + 1);
    else if (rc == -EACCES)
        errorf("not allowed to listen on port %lld%s: choose another with --port 6006", o->port,
               o->port < 1024 ? " (ports below 1024 need root)" : "");
    else if (rc == -EINVAL)
        errorf("--host '%s' does not resolve: give an address of this machine, such as "
               "127.0.0.1 (the default), ::1 or 0.0.0.0 for every address, or its name",
               o->host);
    else if (rc == -EADDRNOTAVAIL)
        errorf("--host %s is not an address of this machine: give one of its own, such as "
               "127.0.0.1 (the default), or 0.0.0.0 for every address",
               o->host);
    else
        errorf("cannot listen on %s port %lld: %s", o->host, o->port, strerror(-rc));
}

static int open_store(const struct svc_store_ops *ops, const char *db, struct svc_store **ret)
{
    /* The logs are the user's own: the file (and so its -wal and -shm, which SQLite makes with
     * the file's mode) is theirs alone. */
    int fd = open(db, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    /* Resident memory stays low beside a training job: no memory map of a database that grows
     * with the logdir (the kernel's page cache still holds what is read often). */
    struct svc_store_options so = {.busy_timeout_ms = 5000, .lean_memory = true};
    int rc = ops->open(db, &so, ret);
    if (rc < 0) {
        errorf("cannot open the cache %s: %s; give --db FILE on a local disk", db,
               rc == -EINVAL ? "it is on a network filesystem" : strerror(-rc));
        return rc;
    }
    int from = 0, to = 0;
    rc = ops->migrate(*ret, &from, &to);
    if (rc < 0) {
        errorf("cannot use the cache %s (%s): remove it, and the next start reads the logdir "
               "again",
               db, rc == -EPROTO ? "a newer tbdev made it" : strerror(-rc));
        ops->close(*ret);
        return rc;
    }
    return 0;
}

int svc_local_main(int argc, char **argv)
{
    struct tb_local_options o;
    tb_local_options_defaults(&o);
    char err[PATH_MAX + 200] = "";
    int optind_ = 0;
    int rc = tb_opts_parse(tb_local_options, tb_local_options_n, argc, argv, &o, &optind_, err,
                           sizeof(err));
    if (rc == 1) {
        tb_local_usage(stdout);
        return 0;
    }
    if (rc == 0 && optind_ < argc)
        snprintf(err, sizeof(err), "unexpected argument '%s'", argv[optind_]), rc = -EINVAL;
    char cwd[PATH_MAX];
    if (rc == 0 && !getcwd(cwd, sizeof(cwd)))
        snprintf(err, sizeof(err), "cannot tell the current folder: %s", strerror(errno)),
            rc = -EINVAL;
    struct svc_local L = {.opt = &o, .budget = BATCH_FIRST};
    if (rc == 0)
        rc = tb_local_logdirs(&o, cwd, &L.logdirs, &L.n_logdirs, err, sizeof(err));
    if (rc < 0) {
        errorf("%s\nRun 'tbdev serve --help' for usage.", err);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < L.n_logdirs; i++) {
        struct stat st;
        if (stat(L.logdirs[i].path, &st) == 0 && !S_ISDIR(st.st_mode)) {
            errorf("%s is not a directory: give the folder your training writes event files to",
                   L.logdirs[i].path);
            tb_local_logdirs_free(L.logdirs, L.n_logdirs);
            return 1;
        }
    }
    int ret = 1, lock_fd = -1;
    struct svc_store *store = NULL;
    struct svc_http *http = NULL;
    const struct svc_store_ops *ops = &svc_store_sqlite;
    pthread_mutex_init(&L.lock, NULL);
    pthread_cond_init(&L.looked, NULL);
    tb_map_init(&L.said);
    tb_follow_init(&L.fl, TB_RECORD_MAX);
    L.fl.event = file_event;
    L.fl.ctx = &L;
    L.missing_said = calloc(L.n_logdirs, sizeof(*L.missing_said));
    L.p.started = now_wall();
    if (!L.missing_said)
        goto out;
    if (o.db)
        rc = tb_local_abs_path(cwd, o.db, L.db, sizeof(L.db));
    else
        rc = svc_local_cache_path(L.logdirs, L.n_logdirs, getenv("XDG_CACHE_HOME"), getenv("HOME"),
                                  L.db, sizeof(L.db), err, sizeof(err));
    if (rc < 0) {
        errorf("%s", o.db ? "--db: the path is too long" : err);
        goto out;
    }
    char holder[700] = "";
    rc = lock_cache(L.db, &lock_fd, holder, sizeof(holder));
    if (rc == -EBUSY) {
        errorf("another tbdev serve (%s) is showing this logdir already, with the cache %s: "
               "open its page, or stop it first (Ctrl-C where it runs)",
               holder[0] ? holder : "its pid is unknown", L.db);
        goto out;
    }
    if (rc < 0) {
        errorf("cannot lock the cache %s.lock: %s; give --db FILE elsewhere", L.db, strerror(-rc));
        goto out;
    }

    char addr[INET6_ADDRSTRLEN + 1];
    rc = resolve_host(o.host, addr, sizeof(addr));
    if (rc == 0)
        rc = probe_listen(addr, o.port);
    if (rc < 0) {
        listen_failed(&o, rc);
        ret = rc == -EINVAL ? EXIT_USAGE : 1;
        goto out;
    }
    struct svc_config cfg;
    svc_config_defaults(&cfg);
    char listen[300];
    snprintf(listen, sizeof(listen), "%s%s%s:%lld", strchr(addr, ':') ? "[" : "", addr,
             strchr(addr, ':') ? "]" : "", o.port);
    cfg.db = L.db;
    cfg.listen = listen;
    cfg.threads = 2;
    cfg.write_threads = 0;
    cfg.auth_threads = 1;
    cfg.login_per_minute = 0;
    cfg.record_bytes = TB_RECORD_MAX; /* nothing of a local logdir is too large to show */
    cfg.blob_bytes = TB_RECORD_MAX;
    cfg.runs_per_experiment = 0;
    cfg.tags_per_run = 0;
    cfg.quiet = true;
    if (svc_config_validate(&cfg, err, sizeof(err)) < 0) {
        errorf("--host '%s' is not an address to listen on (%s)", o.host, err);
        ret = EXIT_USAGE;
        goto out;
    }
    bool wildcard = !strcmp(cfg.host, "0.0.0.0") || !strcmp(cfg.host, "::");
    if (wildcard) {
        cfg.allowed_hosts[0] = NULL; /* reached by whatever name the machine has */
    } else if (strcmp(o.host, addr)) {
        /* --host NAME: the browser sends that name */
        size_t k = 0;
        while (cfg.allowed_hosts[k])
            k++;
        snprintf(cfg.allowed_host_buf[2], sizeof(cfg.allowed_host_buf[2]), "%s", o.host);
        cfg.allowed_hosts[k] = cfg.allowed_host_buf[2];
        cfg.allowed_hosts[k + 1] = NULL;
    }
    svc_log_set_quiet(true);
    /* Signals are taken by sigwait below, never by the other threads. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (open_store(ops, L.db, &store) < 0)
        goto out;
    struct svc_app app = {.cfg = &cfg, .ops = ops, .store = store, .local = &L};
    pthread_mutex_init(&app.rate_lock, NULL);
    L.app = &app;
    if (setup_experiment(&L, err, sizeof(err)) < 0) {
        errorf("%s", err);
        goto out_app;
    }
    if (ops->cursors(store, L.exp_id, load_cursor, &L) < 0) {
        errorf("cannot read the cache %s: remove it, or give --db FILE", L.db);
        goto out_app;
    }
    struct svc_http_config hc;
    svc_app_http_config(&app, &hc);
    hc.listening = on_listening;
    hc.listening_ctx = &cfg;
    rc = svc_http_start(&hc, &http);
    if (rc < 0) {
        listen_failed(&o, rc);
        goto out_app;
    }
    if (!tb_local_is_loopback(addr) && !wildcard && strcmp(o.host, addr))
        snprintf(L.page_url, sizeof(L.page_url), "http://%s:%u/", o.host, svc_http_port(http));
    else
        snprintf(L.page_url, sizeof(L.page_url), "%s/", cfg.url_base);
    lock_note(lock_fd, L.page_url);
    if (!tb_local_is_loopback(addr))
        errorf("warning: listening on %s: anyone who can reach this machine on port %u can "
               "read these logs (there is no sign-in in local mode); leave out --host to keep "
               "them to this machine",
               o.host, svc_http_port(http));
    for (size_t i = 0; i < L.n_logdirs; i++)
        notef(&L, "reading %s%s%s (cache %s)", L.logdirs[i].name, L.logdirs[i].name[0] ? ": " : "",
              L.logdirs[i].path, L.db);
    pthread_t th;
    if (pthread_create(&th, NULL, ingest_thread, &L) != 0) {
        errorf("cannot start reading: out of threads");
        svc_http_stop(http, 1);
        goto out_app;
    }
    /* The link once a page opened from it has something to show: the first batch stored (a
     * fraction of a second), or nothing to read yet; FIRST_LOOK_WAIT seconds at most. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += FIRST_LOOK_WAIT;
    pthread_mutex_lock(&L.lock);
    while (!L.first_look && pthread_cond_timedwait(&L.looked, &L.lock, &until) == 0)
        ;
    pthread_mutex_unlock(&L.lock);
    printf("TensorBoard-style page at %s\n", L.page_url);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    notef(&L, "stopping: the batch being read is stored first");
    atomic_store(&L.stop, true);
    pthread_join(th, NULL);
    svc_http_stop(http, 2);
    ops->checkpoint(store);
    ret = 0;
    pthread_mutex_lock(&L.lock);
    uint64_t values = L.p.values;
    pthread_mutex_unlock(&L.lock);
    notef(&L,
          "stopped; %llu values stored since the start. Share this logdir with: tbdev upload "
          "--logdir %s",
          (unsigned long long)values, L.logdirs[0].path);
out_app:
    ops->close(store);
    store = NULL;
    svc_app_done(&app);
out:
    if (store)
        ops->close(store);
    if (lock_fd >= 0)
        close(lock_fd);
    tb_follow_done(&L.fl);
    tb_map_done(&L.said);
    free(L.missing_said);
    tb_local_logdirs_free(L.logdirs, L.n_logdirs);
    pthread_cond_destroy(&L.looked);
    pthread_mutex_destroy(&L.lock);
    return ret;
}
