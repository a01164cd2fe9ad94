/* SPDX-License-Identifier: MIT */
/*
 * Injected failures on the ingest path: fails the Nth allocation, storage read, storage write
 * or fsync (fault_inject.h) while real event files are uploaded to a real tbdev-server (the
 * server library, libmicrohttpd on 127.0.0.1, a SQLite file), once or from then on.
 *
 *   fault_ingest [--small] [--kinds alloc,read,write,sync] [--modes once,persistent]
 *                [--max_per_case N] [--data DIR] [--verbose]
 *
 * First a run with nothing failing counts each kind of operation the workload makes (C of
 * them) and takes the reference fingerprint. Then, for each kind and mode, one forked child per
 * N in 1..C (spread over at most --max_per_case values of N; --small: 24) does:
 *
 *   1. copies a template database (migrated; a user, a token, an experiment), opens the store
 *      and starts the HTTP server;
 *   2. arms the failure and uploads, as the uploader does: GET cursors, then six
 *      POST .../events bodies (three files: images, audio, histograms, PR curves, scalars, a
 *      graph; one body zstd-compressed), each retried up to 3 times, and a checkpoint from a
 *      server thread halfway;
 *   3. disarms, then checks, without restarting: every acknowledged body's records are
 *      committed (cursors), every body sent again is accepted, and the experiment's content
 *      (usage counts and each run's export, byte for byte) equals the reference: no point lost,
 *      none stored twice;
 *   4. restarts the store (close, open), runs PRAGMA integrity_check, and compares the content
 *      again.
 *
 * A child that crashes, hangs (120 s), fails a check, or leaks (LeakSanitizer at exit, in a
 * sanitizer build) fails the run. The figures: iterations, failures injected, and the
 * distinct injection points (caller stacks) per kind. Ends with "RESULT: PASS|FAIL ...";
 * exit 0, 1, or 77 when the real event files are missing.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "app.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "fault_inject.h"
#include "http.h"
#include "log.h"
#include "store.h"
#include "tbdev/v1/api.pb-c.h"

enum { MAX_REQS = 16, MAX_FILES = 4, SITES_PER_CHILD = 256, ATTEMPTS = 3 };

/* One upload request: records [offset, end) of one file of one run. */
struct req {
    int file; /* index into files[] */
    uint64_t offset, end;
    uint8_t *body;
    size_t len;
    bool zstd;
};

static struct {
    const char *run, *rel; /* run name, path under the data folder */
    char name[256];        /* the file's basename */
    uint8_t *data;
    size_t size;
} files[MAX_FILES] = {
    {"media", "pytorch-1.13/media", "", NULL, 0},
    {"scalars", "pytorch-1.13/scalars/run_a/split_sin", "", NULL, 0},
    {"graph", "pytorch-1.13/graph", "", NULL, 0},
};
static size_t nfiles = 3;

static struct req reqs[MAX_REQS];
static size_t nreqs;

static char workdir[128];
static char template_db[192];
static char exp_id[SVC_EXP_ID_LEN + 1];
static char auth_header[128];
static bool verbose;

/* What a child reports to the parent through a pipe. */
struct result {
    int ok;
    uint64_t counts[FI_NKINDS];
    uint64_t injected;
    uint64_t fingerprint;
    char content[300]; /* what the fingerprint hashed: usage, and each run's export size+hash */
    unsigned acked, failed_requests;
    size_t nsites;
    uint64_t sites[SITES_PER_CHILD];
    char problem[600];
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fault_ingest: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* --- the workload, built once in the parent --- */

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0) {
        close(fd);
        return -EINVAL;
    }
    *data = malloc((size_t)st.st_size);
    ssize_t n = *data ? read(fd, *data, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size)
        return -EIO;
    *size = (size_t)st.st_size;
    return 0;
}

/* The event file in dir (the first name containing "tfevents"). */
static int find_event_file(const char *dir, char *name, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int err = -ENOENT;
    for (struct dirent *e; (e = readdir(d));) {
        if (strstr(e->d_name, "tfevents")) {
            snprintf(name, size, "%s", e->d_name);
            err = 0;
            break;
        }
    }
    closedir(d);
    return err;
}

/* Offsets of the record boundaries of a TFRecord file (length, CRC, data, CRC). */
static size_t record_ends(const uint8_t *d, size_t size, uint64_t *ends, size_t max)
{
    size_t n = 0, at = 0;
    while (at + 12 <= size && n < max) {
        uint64_t len;
        memcpy(&len, d + at, 8);
        if (len > size || at + 16 + len > size)
            break;
        at += 16 + len;
        ends[n++] = at;
    }
    return n;
}

static void add_request(int file, uint64_t offset, uint64_t end, bool zstd)
{
    if (nreqs == MAX_REQS)
        die("too many requests");
    Tbdev__V1__RecordGroup g = TBDEV__V1__RECORD_GROUP__INIT;
    g.run.data = (uint8_t *)files[file].run;
    g.run.len = strlen(files[file].run);
    g.file.data = (uint8_t *)files[file].name;
    g.file.len = strlen(files[file].name);
    g.offset = offset;
    g.records.data = files[file].data + offset;
    g.records.len = end - offset;
    Tbdev__V1__RecordGroup *gp = &g;
    Tbdev__V1__WriteEventsRequest w = TBDEV__V1__WRITE_EVENTS_REQUEST__INIT;
    w.n_groups = 1;
    w.groups = &gp;
    struct req *r = &reqs[nreqs++];
    r->file = file;
    r->offset = offset;
    r->end = end;
    r->len = tbdev__v1__write_events_request__get_packed_size(&w);
    r->body = malloc(r->len);
    if (!r->body)
        die("out of memory");
    tbdev__v1__write_events_request__pack(&w, r->body);
    if (zstd) {
        size_t cap = ZSTD_compressBound(r->len);
        uint8_t *z = malloc(cap);
        size_t zn = z ? ZSTD_compress(z, cap, r->body, r->len, 3) : 0;
        if (!z || ZSTD_isError(zn))
            die("zstd");
        free(r->body);
        r->body = z;
        r->len = zn;
        r->zstd = true;
    }
}

/* Splits each file at record boundaries: media in 3 bodies, scalars in 2 (the second one
 * zstd-compressed), the graph in 1. */
static int build_workload(const char *data_dir)
{
    static const int parts[MAX_FILES] = {3, 2, 1};
    for (size_t f = 0; f < nfiles; f++) {
        char dir[512], path[1024];
        snprintf(dir, sizeof(dir), "%s/%s", data_dir, files[f].rel);
        int err = find_event_file(dir, files[f].name, sizeof(files[f].name));
        if (err < 0)
            return err;
        snprintf(path, sizeof(path), "%s/%s", dir, files[f].name);
        if ((err = read_file(path, &files[f].data, &files[f].size)) < 0)
            return err;
        uint64_t ends[8192];
        size_t n = record_ends(files[f].data, files[f].size, ends, 8192);
        if (n == 0 || ends[n - 1] != files[f].size)
            die("%s: not a whole TFRecord file", path);
        uint64_t at = 0;
        for (int p = 1; p <= parts[f]; p++) {
            size_t k = n * (size_t)p / (size_t)parts[f];
            uint64_t end = ends[k - 1];
            if (end > at)
                add_request((int)f, at, end, f == 1 && p == 2);
            at = end;
        }
    }
    return 0;
}

/* --- a server in this process --- */

struct server {
    char db[192];
    struct svc_config cfg;
    struct svc_app app;
    struct svc_http *http;
    uint16_t port;
};

static int server_open(struct server *s, char *why, size_t why_len)
{
    s->app.cfg = &s->cfg;
    s->app.ops = &svc_store_sqlite;
    struct svc_store_options o = {.busy_timeout_ms = 5000};
    int err = s->app.ops->open(s->db, &o, &s->app.store);
    if (err < 0) {
        snprintf(why, why_len, "store open: %s", strerror(-err));
        return err;
    }
    struct svc_http_config hc;
    svc_app_http_config(&s->app, &hc);
    hc.threads = 2;
    if ((err = svc_http_start(&hc, &s->http)) < 0) {
        snprintf(why, why_len, "svc_http_start: %s", strerror(-err));
        s->app.ops->close(s->app.store);
        return err;
    }
    s->port = svc_http_port(s->http);
    return 0;
}

static void server_close(struct server *s)
{
    svc_http_stop(s->http, 5);
    s->app.ops->close(s->app.store);
    s->http = NULL;
    s->app.store = NULL;
}

static void config_init(struct server *s, const char *db)
{
    snprintf(s->db, sizeof(s->db), "%s", db);
    svc_config_defaults(&s->cfg);
    s->cfg.db = s->db;
    s->cfg.listen = "127.0.0.1:0";
    s->cfg.quiet = true;
    s->cfg.points_per_second = 0;
    char err[200];
    if (svc_config_validate(&s->cfg, err, sizeof(err)) < 0)
        die("config: %s", err);
    pthread_mutex_init(&s->app.rate_lock, NULL);
}

/* --- HTTP client (the test's thread, never counted) --- */

static size_t sink(char *p, size_t sz, size_t n, void *ctx)
{
    tb_buf_add(ctx, p, sz * n);
    return sz * n;
}

/* Returns the status, or -1 for a transport error; the body in *answer. */
static long http(CURL *h, uint16_t port, const char *method, const char *path, const struct req *r,
                 struct tb_buf *answer)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    struct curl_slist *hdr = curl_slist_append(NULL, auth_header);
    hdr = curl_slist_append(hdr, "Expect:");
    if (r) {
        hdr = curl_slist_append(hdr, "Content-Type: application/x-protobuf");
        if (r->zstd)
            hdr = curl_slist_append(hdr, "Content-Encoding: zstd");
    }
    answer->len = 0;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (r) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const void *)r->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    } else if (strcmp(method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    long status = -1;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    return status;
}

/* The committed cursor of each file (0 when the server has none), from GET .../cursors. */
static int get_cursors(CURL *h, uint16_t port, uint64_t cursor[MAX_FILES], char *why, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/cursors", exp_id);
    struct tb_buf b;
    tb_buf_init(&b, 0);
    long st = http(h, port, "GET", path, NULL, &b);
    int err = -1;
    json_t *root = NULL;
    if (st != 200) {
        snprintf(why, n, "GET cursors: status %ld: %.200s", st, b.len ? (char *)b.data : "");
        goto out;
    }
    root = json_loadb((const char *)b.data, b.len, 0, NULL);
    json_t *list = json_object_get(root, "cursors");
    if (!json_is_array(list)) {
        snprintf(why, n, "GET cursors: no \"cursors\" array");
        goto out;
    }
    memset(cursor, 0, sizeof(uint64_t) * MAX_FILES);
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        const char *run = json_string_value(json_object_get(c, "run"));
        const char *file = json_string_value(json_object_get(c, "file"));
        json_t *off = json_object_get(c, "offset");
        for (size_t f = 0; f < nfiles && run && file; f++)
            if (!strcmp(run, files[f].run) && !strcmp(file, files[f].name))
                cursor[f] = json_is_integer(off) ? (uint64_t)json_integer_value(off)
                                                 : (uint64_t)json_number_value(off);
    }
    err = 0;
out:
    json_decref(root);
    tb_buf_done(&b);
    return err;
}

/* The experiment's content: its usage counts and every run's export, hashed. */
static int fingerprint(CURL *h, uint16_t port, uint64_t *fp, char *what, size_t what_len, char *why,
                       size_t n)
{
    uint64_t x = 1469598103934665603ull;
    struct tb_buf b;
    tb_buf_init(&b, 0);
    char path[256];
    int err = -1;
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", exp_id);
    long st = http(h, port, "GET", path, NULL, &b);
    json_t *root = st == 200 ? json_loadb((const char *)b.data, b.len, 0, NULL) : NULL;
    json_t *usage = json_object_get(root, "usage");
    if (!usage) {
        snprintf(why, n, "GET experiment: status %ld, no usage", st);
        goto out;
    }
    char *u = json_dumps(usage, JSON_SORT_KEYS | JSON_COMPACT);
    if (verbose)
        fprintf(stderr, "fault_ingest: usage %s\n", u ? u : "?");
    x = fnv(x, u, u ? strlen(u) : 0);
    size_t at = (size_t)snprintf(what, what_len, "%s", u ? u : "?");
    free(u);
    for (size_t f = 0; f < nfiles; f++) {
        snprintf(path, sizeof(path), "/api/v1/experiments/%s/export?run=%s", exp_id, files[f].run);
        st = http(h, port, "GET", path, NULL, &b);
        if (st != 200) {
            snprintf(why, n, "GET export of run %s: status %ld", files[f].run, st);
            goto out;
        }
        uint64_t one = fnv(1469598103934665603ull, b.data, b.len);
        x = fnv(x, b.data, b.len);
        if (at < what_len)
            at += (size_t)snprintf(what + at, what_len - at, " %s:%zu:%08x", files[f].run, b.len,
                                   (unsigned)one);
    }
    *fp = x;
    err = 0;
out:
    json_decref(root);
    tb_buf_done(&b);
    return err;
}

/* --- one child: one injected failure --- */

static void *checkpoint_thread(void *arg)
{
    struct server *s = arg;
    s->app.ops->checkpoint(s->app.store);
    return NULL;
}

#define PROBLEM(...)                                                                               \
    do {                                                                                           \
        if (!res->problem[0])                                                                      \
            snprintf(res->problem, sizeof(res->problem), __VA_ARGS__);                             \
    } while (0)

static int copy_file(const char *from, const char *to)
{
    uint8_t *d;
    size_t n;
    int err = read_file(from, &d, &n);
    if (err < 0)
        return err;
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t w = fd >= 0 ? write(fd, d, n) : -1;
    free(d);
    if (fd >= 0)
        close(fd);
    return w == (ssize_t)n ? 0 : -EIO;
}

static void remove_db(const char *db)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[256];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", db, suffixes[i]);
        unlink(p);
    }
}

static void child(int kind, uint64_t nth, bool persistent, struct result *res)
{
    fi_exempt_thread(true);
    char db[192], why[300] = "";
    snprintf(db, sizeof(db), "%s/child-%d.db", workdir, (int)getpid());
    if (copy_file(template_db, db) < 0) {
        PROBLEM("copying the template database");
        return;
    }
    struct server s = {0};
    config_init(&s, db);
    if (server_open(&s, why, sizeof(why)) < 0) {
        PROBLEM("%s", why);
        remove_db(db);
        return;
    }
    CURL *h = curl_easy_init();
    struct tb_buf b;
    tb_buf_init(&b, 0);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/events", exp_id);
    uint64_t acked_end[MAX_FILES] = {0}, cursor[MAX_FILES];

    /* 2. the upload, with the failure armed */
    fi_arm(kind < 0 ? FI_ALLOC : kind, kind < 0 ? 0 : nth, persistent);
    get_cursors(h, s.port, cursor, why, sizeof(why));
    for (size_t i = 0; i < nreqs; i++) {
        long st = -1;
        for (int a = 0; a < ATTEMPTS && st != 200; a++)
            st = http(h, s.port, "POST", path, &reqs[i], &b);
        if (st == 200) {
            res->acked++;
            if (reqs[i].end > acked_end[reqs[i].file])
                acked_end[reqs[i].file] = reqs[i].end;
        } else {
            res->failed_requests++;
            if (verbose)
                fprintf(stderr, "fault_ingest: %s %" PRIu64 ": request %zu: %ld %.*s\n",
                        fi_kind_name(kind), nth, i, st, (int)(b.len > 200 ? 200 : b.len),
                        b.data ? (char *)b.data : "");
        }
        if (i == nreqs / 2) {
            pthread_t t;
            if (pthread_create(&t, NULL, checkpoint_thread, &s) == 0)
                pthread_join(t, NULL);
        }
    }
    fi_disarm();
    for (int k = 0; k < FI_NKINDS; k++)
        res->counts[k] = fi_count(k);
    res->injected = fi_injected();
    res->nsites = fi_sites(res->sites, SITES_PER_CHILD);
    if (res->nsites > SITES_PER_CHILD)
        res->nsites = SITES_PER_CHILD;

    /* 3. acknowledged means committed; everything is accepted again; the content is exact */
    if (get_cursors(h, s.port, cursor, why, sizeof(why)) < 0)
        PROBLEM("after the failure: %s", why);
    for (size_t f = 0; f < nfiles && !res->problem[0]; f++)
        if (cursor[f] < acked_end[f])
            PROBLEM("acknowledged records lost: run %s cursor %" PRIu64 " < acknowledged end "
                    "%" PRIu64,
                    files[f].run, cursor[f], acked_end[f]);
    for (size_t i = 0; i < nreqs && !res->problem[0]; i++) {
        long st = http(h, s.port, "POST", path, &reqs[i], &b);
        if (st != 200)
            PROBLEM("after the failure, without a restart: body %zu answered %ld: %.200s", i, st,
                    b.len ? (char *)b.data : "");
    }
    uint64_t fp = 0, fp2 = 0;
    if (!res->problem[0] &&
        fingerprint(h, s.port, &fp, res->content, sizeof(res->content), why, sizeof(why)) < 0)
        PROBLEM("%s", why);
    res->fingerprint = fp;

    /* 4. restart: close, reopen, integrity, same content. The client's keep-alive connection
     * goes first, so that the server's stop does not wait for it. */
    curl_easy_cleanup(h);
    h = curl_easy_init();
    server_close(&s);
    if (server_open(&s, why, sizeof(why)) < 0) {
        PROBLEM("reopening after the failure: %s", why);
    } else {
        char msg[512] = "";
        int err = s.app.ops->integrity_check(s.app.store, msg, sizeof(msg));
        if (err < 0)
            PROBLEM("integrity_check after restart: %s", msg);
        char again[sizeof(res->content)];
        if (!res->problem[0] &&
            fingerprint(h, s.port, &fp2, again, sizeof(again), why, sizeof(why)) < 0)
            PROBLEM("after restart: %s", why);
        if (!res->problem[0] && fp2 != fp)
            PROBLEM("content changed across the restart");
        if (get_cursors(h, s.port, cursor, why, sizeof(why)) < 0)
            PROBLEM("after restart: %s", why);
        for (size_t f = 0; f < nfiles && !res->problem[0]; f++)
            if (cursor[f] != files[f].size)
                PROBLEM("run %s: cursor %" PRIu64 " after everything was sent, file size %zu",
                        files[f].run, cursor[f], files[f].size);
        curl_easy_cleanup(h);
        h = NULL;
        server_close(&s);
    }
    svc_app_done(&s.app);
    pthread_mutex_destroy(&s.app.rate_lock);
    tb_buf_done(&b);
    curl_easy_cleanup(h);
    remove_db(db);
    res->ok = !res->problem[0];
}

static void show_tail(const char *path, size_t max)
{
    uint8_t *d;
    size_t n;
    if (read_file(path, &d, &n) < 0) {
        fprintf(stderr, "fault_ingest: the failing child wrote nothing to stderr\n");
        return;
    }
    size_t from = n > max ? n - max : 0;
    fprintf(stderr, "fault_ingest: the failing child's stderr (last %zu bytes):\n%.*s\n", n - from,
            (int)(n - from), (const char *)d + from);
    free(d);
}

/* Runs child() in a fork; a crash, a hang, a sanitizer report at exit becomes a problem. */
static void run_forked(int kind, uint64_t nth, bool persistent, struct result *res)
{
    memset(res, 0, sizeof(*res));
    int p[2];
    if (pipe(p) < 0)
        die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    char err_path[256];
    snprintf(err_path, sizeof(err_path), "%s/child.err", workdir);
    if (pid == 0) {
        close(p[0]);
        alarm(120);
        if (!verbose && !freopen(err_path, "w", stderr))
            _exit(3);
        setvbuf(stderr, NULL, _IONBF, 0); /* an abort() must not lose what was said before */
        struct result *r = calloc(1, sizeof(*r));
        if (r) {
            child(kind, nth, persistent, r);
            ssize_t w = write(p[1], r, sizeof(*r));
            (void)w;
            free(r);
        }
        close(p[1]);
        curl_global_cleanup();
        exit(0); /* LeakSanitizer runs here: a leak changes the status */
    }
    close(p[1]);
    size_t got = 0;
    while (got < sizeof(*res)) {
        ssize_t n = read(p[0], (char *)res + got, sizeof(*res) - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got != sizeof(*res)) {
        memset(res, 0, sizeof(*res));
        snprintf(res->problem, sizeof(res->problem), "child died before reporting (%s %d)",
                 WIFSIGNALED(status) ? "signal" : "exit",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        res->ok = 0;
        snprintf(res->problem, sizeof(res->problem),
                 "child %s %d at exit (a leak or sanitizer report: see stderr)",
                 WIFSIGNALED(status) ? "signal" : "exit",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    if (!res->ok && !verbose)
        show_tail(err_path, 4000);
    unlink(err_path);
}

/* --- the template database, made once --- */

static void make_template(void)
{
    struct server s = {0};
    config_init(&s, template_db);
    struct svc_store_options o = {.busy_timeout_ms = 5000};
    const struct svc_store_ops *ops = &svc_store_sqlite;
    struct svc_store *st;
    int64_t uid;
    char token[SVC_TOKEN_LEN + 1];
    uint8_t hash[32];
    if (ops->open(template_db, &o, &st) < 0 || ops->migrate(st, NULL, NULL) < 0 ||
        ops->user_add(st, "faults", "", false, &uid) < 0 || svc_token_new(token) < 0)
        die("making the template database %s", template_db);
    svc_hash_secret(token, hash);
    if (ops->token_add(st, uid, hash, "faults", "tbdev_", NULL) < 0)
        die("token_add");
    struct svc_experiment e = {0};
    if (svc_experiment_id_new(e.id) < 0)
        die("experiment id");
    e.owner_id = uid;
    e.visibility = SVC_VIS_UNLISTED;
    snprintf(e.name, sizeof(e.name), "injected failures");
    if (ops->experiment_create(st, &e) < 0)
        die("experiment_create");
    memcpy(exp_id, e.id, sizeof(exp_id));
    snprintf(auth_header, sizeof(auth_header), "Authorization: Bearer %s", token);
    ops->close(st); /* the last connection: the WAL is checkpointed into the file */
    pthread_mutex_destroy(&s.app.rate_lock);
}

/* --- the parent --- */

struct site_set {
    uint64_t *v;
    size_t n, cap;
};

static void sites_add(struct site_set *s, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < s->n && !seen; j++)
            seen = s->v[j] == v[i];
        if (seen)
            continue;
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 256;
            s->v = realloc(s->v, s->cap * sizeof(*s->v));
            if (!s->v)
                die("out of memory");
        }
        s->v[s->n++] = v[i];
    }
}

static void usage(FILE *f)
{
    fputs("usage: fault_ingest [--small] [--kinds alloc,read,write,sync] [--modes "
          "once,persistent]\n"
          "                    [--max_per_case N] [--nth N] [--data DIR] [--verbose]\n"
          "Fails the Nth allocation / storage read / write / fsync of an upload to an "
          "in-process\n"
          "tbdev-server, for every N (or --max_per_case values of N), once and persistently, and\n"
          "checks: no crash, no leak, acknowledged data kept, exact content, integrity_check ok.\n"
          "--data: the real event files (default $TBDEV_REAL_DATA or ../shared/testdata/real).\n"
          "--small: at most 24 values of N per kind and mode (the CI size).\n"
          "--nth N: only that N (with --verbose, to look at one failure).\n",
          f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (fi_install() < 0)
        return 1;
    const char *data = getenv("TBDEV_REAL_DATA");
    if (!data || !*data)
        data = "../shared/testdata/real";
    char kinds_arg[64] = "alloc,read,write,sync", modes_arg[64] = "once,persistent";
    uint64_t max_per_case = 0, only_nth = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--small")) {
            max_per_case = 24;
        } else if (!strcmp(a, "--verbose")) {
            verbose = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (v && !strcmp(a, "--kinds")) {
            snprintf(kinds_arg, sizeof(kinds_arg), "%s", v);
            i++;
        } else if (v && !strcmp(a, "--modes")) {
            snprintf(modes_arg, sizeof(modes_arg), "%s", v);
            i++;
        } else if (v && !strcmp(a, "--max_per_case")) {
            max_per_case = strtoull(v, NULL, 10);
            i++;
        } else if (v && !strcmp(a, "--nth")) {
            only_nth = strtoull(v, NULL, 10);
            i++;
        } else if (v && !strcmp(a, "--data")) {
            data = v;
            i++;
        } else {
            fprintf(stderr, "fault_ingest: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    struct stat st;
    if (stat(data, &st) < 0 || !S_ISDIR(st.st_mode)) {
        printf("# SKIP: no real event files at %s (set TBDEV_REAL_DATA)\n", data);
        return 77;
    }
    int err = build_workload(data);
    if (err < 0) {
        printf("# SKIP: the event files this test uploads are missing under %s: %s\n", data,
               strerror(-err));
        return 77;
    }
    svc_log_set_quiet(true);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        die("curl_global_init");
    const char *tmp = getenv("TMPDIR");
    snprintf(workdir, sizeof(workdir), "%s/tbdev-faults-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(workdir))
        die("mkdtemp: %s", strerror(errno));
    snprintf(template_db, sizeof(template_db), "%s/template.db", workdir);
    make_template();

    double t0 = now_s();
    struct result *ref = calloc(1, sizeof(*ref)), *res = calloc(1, sizeof(*res));
    if (!ref || !res)
        die("out of memory");
    run_forked(-1, 0, false, ref);
    if (!ref->ok) {
        printf("not ok - the run without failures: %s\n", ref->problem);
        printf("RESULT: FAIL the run without failures failed: %s\n", ref->problem);
        remove_db(template_db);
        rmdir(workdir);
        return 1;
    }
    printf("# reference content: %s\n", ref->content);
    printf("ok - the run without failures: %zu bodies, %u acknowledged; operations counted: "
           "alloc %" PRIu64 ", read %" PRIu64 ", write %" PRIu64 ", sync %" PRIu64 "\n",
           nreqs, ref->acked, ref->counts[FI_ALLOC], ref->counts[FI_READ], ref->counts[FI_WRITE],
           ref->counts[FI_SYNC]);

    unsigned iterations = 0, failures = 0, crashes = 0, mismatches = 0, lost = 0, hit_total = 0;
    uint64_t injected_total = 0;
    struct site_set sites[FI_NKINDS] = {{0}};
    char kinds_copy[64];
    snprintf(kinds_copy, sizeof(kinds_copy), "%s", kinds_arg);
    for (char *ks = NULL, *k = strtok_r(kinds_copy, ",", &ks); k; k = strtok_r(NULL, ",", &ks)) {
        int kind = fi_kind_parse(k);
        if (kind < 0)
            die("unknown kind %s (alloc, read, write, sync)", k);
        for (int persistent = 0; persistent <= 1; persistent++) {
            if (!strstr(modes_arg, persistent ? "persistent" : "once"))
                continue;
            uint64_t total = ref->counts[kind];
            uint64_t n_values = max_per_case && max_per_case < total ? max_per_case : total;
            if (only_nth)
                n_values = 1;
            unsigned case_fail = 0, case_hit = 0;
            uint64_t case_injected = 0;
            char first[700] = "";
            for (uint64_t j = 0; j < n_values; j++) {
                /* spread over 1..total, first and last included */
                uint64_t nth = n_values == total
                                   ? j + 1
                                   : 1 + (n_values > 1 ? j * (total - 1) / (n_values - 1) : 0);
                run_forked(kind, nth, persistent, res);
                iterations++;
                case_injected += res->injected;
                if (res->injected)
                    case_hit++;
                sites_add(&sites[kind], res->sites, res->nsites);
                bool mismatch = res->ok && res->fingerprint != ref->fingerprint;
                if (!res->ok || mismatch) {
                    case_fail++;
                    if (strstr(res->problem, "child "))
                        crashes++;
                    if (strstr(res->problem, "acknowledged"))
                        lost++;
                    if (mismatch)
                        mismatches++;
                    if (!first[0])
                        snprintf(first, sizeof(first), "N=%" PRIu64 ": %s", nth,
                                 mismatch ? "the content differs from the run without failures"
                                          : res->problem);
                    if (!res->ok || mismatch)
                        printf("# %s %s N=%" PRIu64 ": %s%s%s\n", k,
                               persistent ? "persistent" : "once", nth,
                               mismatch ? "content " : res->problem, mismatch ? res->content : "",
                               mismatch ? "" : "");
                }
                if (verbose)
                    fprintf(stderr,
                            "fault_ingest: %s %s N=%" PRIu64 ": injected %" PRIu64
                            ", acked %u, failed %u%s%s\n",
                            k, persistent ? "persistent" : "once", nth, res->injected, res->acked,
                            res->failed_requests, res->problem[0] ? ": " : "", res->problem);
            }
            failures += case_fail;
            hit_total += case_hit;
            injected_total += case_injected;
            printf("%s - %s, %s: %" PRIu64 " values of N in 1..%" PRIu64 ", %u injected at "
                   "least one failure (%" PRIu64 " in all)%s%s\n",
                   case_fail ? "not ok" : "ok", k, persistent ? "persistent" : "once", n_values,
                   total, case_hit, case_injected, case_fail ? "; first problem: " : "", first);
            fflush(stdout);
        }
    }
    size_t nsites = 0;
    for (int k = 0; k < FI_NKINDS; k++)
        nsites += sites[k].n;
    printf("RESULT: %s iterations=%u with_failure_injected=%u failures_injected=%" PRIu64
           " injection_points=%zu (alloc %zu, read %zu, write %zu, sync %zu) crashes_or_leaks=%u "
           "acked_lost=%u content_mismatches=%u failed=%u time=%.0fs\n",
           failures ? "FAIL" : "PASS", iterations, hit_total, injected_total, nsites,
           sites[FI_ALLOC].n, sites[FI_READ].n, sites[FI_WRITE].n, sites[FI_SYNC].n, crashes, lost,
           mismatches, failures, now_s() - t0);
    for (int k = 0; k < FI_NKINDS; k++)
        free(sites[k].v);
    free(ref);
    free(res);
    remove_db(template_db);
    rmdir(workdir);
    curl_global_cleanup();
    return failures ? 1 : 0;
}
