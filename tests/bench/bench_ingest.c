/* SPDX-License-Identifier: MIT */
/* Benchmark: scalar ingest through the HTTP API into SQLite, and downsampled reads, against
 * a raw multi-row SQLite insert of the same rows measured in the same run. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "store.h"
#include "tbdev/v1/api.pb-c.h"
#include "tfrecord.h"

/*
 * Usage: bench_ingest [--series S] [--steps N] [--per_request P] [--runs R]
 *        bench_ingest --raw_only SERIES STEPS   (only the raw insert's rows/s)
 * Defaults: 100 series x 10,000 steps = 1M TF2 scalar events, 50,000 per request.
 * Prints, as medians of R runs (default 3):
 *   ingest      points/s through POST /events (HTTP, protobuf, one transaction per request)
 *   raw insert  rows/s of the same rows with multi-row INSERTs (50 rows a statement, sorted,
 *               one transaction) into a fresh SQLite file with synchronous=FULL, WAL
 *   ratio       ingest / raw (the goal: >= 0.5)
 *   read        p50 and p99 of GET /scalars?points=1000 on one 1M-point series (goal <= 20 ms)
 */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof(*v), cmpd);
    int i = (int)ceil(q * n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* One TF2 scalar event, packed by hand (tf.summary.scalar's layout). */
static size_t scalar_event(uint8_t *out, double wall, int64_t step, const char *tag, float v)
{
    Tensorboard__SummaryMetadata__PluginData pd = TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = "scalars";
    Tensorboard__SummaryMetadata md = TENSORBOARD__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    Tensorboard__TensorShapeProto shape = TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
    Tensorboard__TensorProto t = TENSORBOARD__TENSOR_PROTO__INIT;
    t.dtype = TENSORBOARD__DATA_TYPE__DT_FLOAT;
    t.tensor_shape = &shape;
    t.n_float_val = 1;
    t.float_val = &v;
    Tensorboard__Summary__Value val = TENSORBOARD__SUMMARY__VALUE__INIT;
    val.tag = (char *)tag;
    val.metadata = &md;
    val.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
    val.tensor = &t;
    Tensorboard__Summary__Value *vals[1] = {&val};
    Tensorboard__Summary sum = TENSORBOARD__SUMMARY__INIT;
    sum.n_value = 1;
    sum.value = vals;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = wall;
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return tensorboard__event__pack(&ev, out);
}

struct request {
    uint8_t *body;
    size_t len;
    size_t points;
};

/* Requests in file order: each file (one per series) is cut into groups of per_request/S
 * events, so that each request carries every series. */
static struct request *build(int series, int steps, int per_request, int *ret_n, char *prefix)
{
    int per_series = per_request / series;
    if (per_series < 1)
        per_series = 1;
    int n = (steps + per_series - 1) / per_series;
    struct request *reqs = calloc((size_t)n, sizeof(*reqs));
    uint64_t *offsets = calloc((size_t)series, sizeof(*offsets));
    uint8_t ev[256];
    for (int r = 0; r < n; r++) {
        Tbdev__V1__RecordGroup *groups = calloc((size_t)series, sizeof(*groups));
        Tbdev__V1__RecordGroup **ptrs = calloc((size_t)series, sizeof(*ptrs));
        struct tb_buf *bufs = calloc((size_t)series, sizeof(*bufs));
        char(*names)[64] = calloc((size_t)series, 64);
        size_t pts = 0;
        for (int s = 0; s < series; s++) {
            tb_buf_init(&bufs[s], 0);
            char tag[32];
            snprintf(tag, sizeof(tag), "metric_%03d", s);
            for (int k = r * per_series; k < (r + 1) * per_series && k < steps; k++) {
                size_t len = scalar_event(ev, 1.7e9 + k, k, tag, (float)sin(k * 0.01 + s));
                tb_tfrecord_append(&bufs[s], ev, len);
                pts++;
            }
            snprintf(names[s], 64, "%sevents.out.tfevents.%d", prefix, s);
            tbdev__v1__record_group__init(&groups[s]);
            groups[s].run = (ProtobufCBinaryData){5, (uint8_t *)"train"};
            groups[s].file = (ProtobufCBinaryData){strlen(names[s]), (uint8_t *)names[s]};
            groups[s].offset = offsets[s];
            groups[s].records = (ProtobufCBinaryData){bufs[s].len, bufs[s].data};
            offsets[s] += bufs[s].len;
            ptrs[s] = &groups[s];
        }
        Tbdev__V1__WriteEventsRequest req = TBDEV__V1__WRITE_EVENTS_REQUEST__INIT;
        req.n_groups = (size_t)series;
        req.groups = ptrs;
        reqs[r].len = tbdev__v1__write_events_request__get_packed_size(&req);
        reqs[r].body = malloc(reqs[r].len);
        tbdev__v1__write_events_request__pack(&req, reqs[r].body);
        reqs[r].points = pts;
        for (int s = 0; s < series; s++)
            tb_buf_done(&bufs[s]);
        free(bufs);
        free(groups);
        free(ptrs);
        free(names);
    }
    free(offsets);
    *ret_n = n;
    return reqs;
}

static size_t sink(char *p, size_t s, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return s * n;
}

static long post(CURL *h, const char *url, const char *auth, const struct request *r)
{
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/x-protobuf");
    hdr = curl_slist_append(hdr, "Accept: application/x-protobuf");
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    return status;
}

/* The raw baseline: the same rows, multi-row INSERTs of 50, sorted, one transaction. */
static double raw_insert(const char *path, int series, int steps)
{
    sqlite3 *db;
    unlink(path);
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE scalars(series INTEGER, step INTEGER, wall REAL, value REAL,"
                 " PRIMARY KEY(series, step)) WITHOUT ROWID;",
                 NULL, NULL, NULL);
    struct tb_buf q;
    tb_buf_init(&q, 0);
    tb_buf_adds(&q, "INSERT INTO scalars VALUES ");
    for (int i = 0; i < 50; i++)
        tb_buf_adds(&q, i ? ",(?,?,?,?)" : "(?,?,?,?)");
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, (const char *)q.data, -1, &st, NULL);
    double t0 = now();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    int k = 0;
    for (int s = 0; s < series; s++)
        for (int i = 0; i < steps; i++) {
            sqlite3_bind_int64(st, 4 * k + 1, s);
            sqlite3_bind_int64(st, 4 * k + 2, i);
            sqlite3_bind_double(st, 4 * k + 3, 1.7e9 + i);
            sqlite3_bind_double(st, 4 * k + 4, sin(i * 0.01 + s));
            if (++k == 50) {
                sqlite3_step(st);
                sqlite3_reset(st);
                k = 0;
            }
        }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double secs = now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    tb_buf_done(&q);
    return (double)series * steps / secs;
}

struct server {
    struct svc_config cfg;
    struct svc_app app;
    struct svc_http *http;
    char url[128];
    char auth[128];
    char exp[SVC_EXP_ID_LEN + 1];
};

static int start(struct server *sv, const char *db)
{
    svc_config_defaults(&sv->cfg);
    sv->cfg.db = db;
    sv->cfg.listen = "127.0.0.1:0";
    sv->cfg.quiet = true;
    sv->cfg.request_bytes = 256ll << 20;
    char err[200];
    if (svc_config_validate(&sv->cfg, err, sizeof(err)) < 0)
        return -1;
    sv->app.cfg = &sv->cfg;
    sv->app.ops = &svc_store_sqlite;
    pthread_mutex_init(&sv->app.rate_lock, NULL);
    struct svc_store_options o = {.busy_timeout_ms = 5000};
    if (svc_store_sqlite.open(db, &o, &sv->app.store) < 0 ||
        svc_store_sqlite.migrate(sv->app.store, NULL, NULL) < 0)
        return -1;
    int64_t uid;
    svc_store_sqlite.user_add(sv->app.store, "bench", "", false, &uid);
    char token[SVC_TOKEN_LEN + 1];
    uint8_t hash[32];
    svc_token_new(token);
    svc_hash_secret(token, hash);
    svc_store_sqlite.token_add(sv->app.store, uid, hash, "bench", "tbdev_", NULL);
    snprintf(sv->auth, sizeof(sv->auth), "Authorization: Bearer %s", token);
    struct svc_experiment e = {0};
    svc_experiment_id_new(e.id);
    e.owner_id = uid;
    e.visibility = SVC_VIS_UNLISTED;
    svc_store_sqlite.experiment_create(sv->app.store, &e);
    memcpy(sv->exp, e.id, sizeof(sv->exp));
    struct svc_http_config hc;
    svc_app_http_config(&sv->app, &hc);
    hc.threads = 2;
    hc.body_deadline_s = 60;
    hc.conn_limit = 1000;
    hc.body_max = hc.body_decoded_max = 256u << 20;
    if (svc_http_start(&hc, &sv->http) < 0)
        return -1;
    snprintf(sv->url, sizeof(sv->url), "http://127.0.0.1:%u", svc_http_port(sv->http));
    return 0;
}

static void stop(struct server *sv)
{
    svc_http_stop(sv->http, 2);
    svc_store_sqlite.close(sv->app.store);
    svc_app_done(&sv->app);
}

static size_t grab(char *p, size_t s, size_t n, void *ctx)
{
    tb_buf_add(ctx, p, s * n);
    return s * n;
}

int main(int argc, char **argv)
{
    int series = 100, steps = 10000, per_request = 50000, runs = 3;
    if (argc == 4 && !strcmp(argv[1], "--raw_only")) {
        /* The limit other benchmarks divide by (bench_upload.py): the raw insert alone. */
        char path[] = "/tmp/tbdev-bench-raw-XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0)
            return 1;
        close(fd);
        double rate = raw_insert(path, atoi(argv[2]), atoi(argv[3]));
        unlink(path);
        char wal[sizeof(path) + 4];
        snprintf(wal, sizeof(wal), "%s-wal", path);
        unlink(wal);
        printf("raw insert %.0f rows/s\n", rate);
        return 0;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--series"))
            series = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--per_request"))
            per_request = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
    }
    svc_log_set_quiet(true);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char dir[] = "/tmp/tbdev-bench-ingest-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    double *ingest = calloc((size_t)runs, sizeof(double));
    double *raw = calloc((size_t)runs, sizeof(double));
    long total_points = (long)series * steps;
    fprintf(stderr, "building requests: %d series x %d steps, %d points a request\n", series, steps,
            per_request);
    for (int r = 0; r < runs; r++) {
        int n;
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "r%d.", r);
        struct request *reqs = build(series, steps, per_request, &n, prefix);
        char db[256];
        snprintf(db, sizeof(db), "%s/ingest%d.db", dir, r);
        struct server sv = {0};
        if (start(&sv, db) < 0) {
            fprintf(stderr, "cannot start the server\n");
            return 1;
        }
        char url[256];
        snprintf(url, sizeof(url), "%s/api/v1/experiments/%s/events", sv.url, sv.exp);
        CURL *h = curl_easy_init();
        double t0 = now();
        for (int i = 0; i < n; i++)
            if (post(h, url, sv.auth, &reqs[i]) != 200) {
                fprintf(stderr, "request %d failed\n", i);
                return 1;
            }
        ingest[r] = total_points / (now() - t0);
        if (r == runs - 1) {
            /* Reads: one series with every point (all requests carried 1M points total; put
             * them in one series by re-ingesting as a single tag would take a while, so read
             * the biggest: each series holds `steps` points). For the 1M goal, ingest one. */
            char one_db[256];
            snprintf(one_db, sizeof(one_db), "%s/read.db", dir);
            struct server rs = {0};
            start(&rs, one_db);
            int n1;
            struct request *big = build(1, 1000000, 50000, &n1, "big.");
            snprintf(url, sizeof(url), "%s/api/v1/experiments/%s/events", rs.url, rs.exp);
            for (int i = 0; i < n1; i++)
                post(h, url, rs.auth, &big[i]);
            snprintf(url, sizeof(url),
                     "%s/api/v1/experiments/%s/scalars?tag=metric_000&points=1000", rs.url, rs.exp);
            double lat[100];
            struct tb_buf body;
            tb_buf_init(&body, 0);
            struct curl_slist *hdr = curl_slist_append(NULL, rs.auth);
            for (int i = 0; i < 100; i++) {
                tb_buf_reset(&body);
                curl_easy_reset(h);
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
                double a = now();
                curl_easy_perform(h);
                lat[i] = (now() - a) * 1e3;
            }
            int has = body.data && strstr((const char *)body.data, "\"total\":1000000") != NULL;
            printf("read        1M-point series -> 1000 points: p50 %.1f ms, p99 %.1f ms "
                   "(goal <= 20 ms)%s\n",
                   pct(lat, 100, 0.5), pct(lat, 100, 0.99), has ? "" : "  [WRONG ANSWER]");
            curl_slist_free_all(hdr);
            tb_buf_done(&body);
            for (int i = 0; i < n1; i++)
                free(big[i].body);
            free(big);
            stop(&rs);
        }
        curl_easy_cleanup(h);
        stop(&sv);
        for (int i = 0; i < n; i++)
            free(reqs[i].body);
        free(reqs);
        char rawdb[256];
        snprintf(rawdb, sizeof(rawdb), "%s/raw%d.db", dir, r);
        raw[r] = raw_insert(rawdb, series, steps);
        fprintf(stderr, "run %d: ingest %.2fM points/s, raw insert %.2fM rows/s\n", r + 1,
                ingest[r] / 1e6, raw[r] / 1e6);
    }
    double mi = pct(ingest, runs, 0.5), mr = pct(raw, runs, 0.5);
    printf("ingest      %.2fM points/s through HTTP (median of %d; %ld points, %d a request)\n",
           mi / 1e6, runs, total_points, per_request);
    printf("raw insert  %.2fM rows/s (multi-row INSERT, sorted, one transaction, same rows)\n",
           mr / 1e6);
    printf("ratio       %.2f (goal >= 0.5)\n", mi / mr);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(ingest);
    free(raw);
    return 0;
}
