/* SPDX-License-Identifier: MIT */
/* Fuzz targets that reach tbdev-server's parsers over real HTTP (see README.md). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "store.h"

/*
 * One server per process: the real svc_app with the SQLite store on a temporary database,
 * served by the real svc_http on 127.0.0.1 and a free port, started on the first input and
 * stopped at exit. A user "fuzz" with a token owns the experiment the inputs write to; a
 * second user "alice" exists so that sharing can succeed.
 *
 * Build with one of:
 *   -DFUZZ_WRITE_EVENTS     the input is a POST /api/v1/experiments/ID/events body
 *   -DFUZZ_CREATE           the first byte picks POST /api/v1/experiments (even) or
 *                           PATCH /api/v1/experiments/ID (odd); the rest is the body
 *   -DFUZZ_HTTP             the input is a raw request (line, headers, body)
 *   -DFUZZ_STORED           the input is stored as hparams, custom-scalars, text, tensor,
 *                           histogram, PR-curve and image series, through the upload path and
 *                           straight into the store (as an older server would have stored it),
 *                           and then every read route is asked for them, signed out
 *
 * In the first two, a body starting with the gzip or zstd magic is sent with that
 * Content-Encoding, so that the decoders are fuzzed too.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_server: check failed: %s: ", #cond);                             \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct {
    bool up;
    char dir[64];
    char db[128];
    struct svc_config cfg;
    struct svc_app app;
    struct svc_http *http;
    uint16_t port;
    char token[SVC_TOKEN_LEN + 1];
    char auth[128];
    int64_t uid;
    char exp[SVC_EXP_ID_LEN + 1];
    unsigned long inputs;
    CURL *curl;
} S;

static void make_experiment(void)
{
    struct svc_experiment e = {0};
    CHECK(svc_experiment_id_new(e.id) == 0, "experiment id");
    e.owner_id = S.uid;
    e.visibility = SVC_VIS_UNLISTED;
    snprintf(e.name, sizeof(e.name), "fuzz");
    CHECK(S.app.ops->experiment_create(S.app.store, &e) == 0, "experiment_create");
    memcpy(S.exp, e.id, sizeof(S.exp));
}

static void integrity(void)
{
    char msg[512] = "";
    int err = S.app.ops->integrity_check(S.app.store, msg, sizeof(msg));
    CHECK(err == 0, "PRAGMA integrity_check: %d %s", err, msg);
}

static void teardown(void)
{
    if (!S.up)
        return;
    if (S.curl)
        curl_easy_cleanup(S.curl);
    svc_http_stop(S.http, 2);
    integrity();
    S.app.ops->close(S.app.store);
    svc_app_done(&S.app);
    char path[256];
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", S.db, suffixes[i]);
        unlink(path);
    }
    rmdir(S.dir);
    curl_global_cleanup();
    S.up = false;
}

static void setup(void)
{
    if (S.up)
        return;
    svc_log_set_quiet(true);
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0, "curl_global_init");
    const char *tmp = getenv("TMPDIR");
    snprintf(S.dir, sizeof(S.dir), "%s/tbdev-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(S.dir), "mkdtemp %s: %s", S.dir, strerror(errno));
    snprintf(S.db, sizeof(S.db), "%s/fuzz.db", S.dir);

    svc_config_defaults(&S.cfg);
    S.cfg.db = S.db;
    S.cfg.listen = "127.0.0.1:0";
    S.cfg.quiet = true;
    S.cfg.points_per_second = 0; /* no 429: every input is judged on its own bytes */
    S.cfg.quota_bytes = 0;
    char err[200];
    CHECK(svc_config_validate(&S.cfg, err, sizeof(err)) == 0, "config: %s", err);
    S.app.cfg = &S.cfg;
    S.app.ops = &svc_store_sqlite;
    pthread_mutex_init(&S.app.rate_lock, NULL);
    struct svc_store_options o = {.busy_timeout_ms = 5000};
    CHECK(S.app.ops->open(S.db, &o, &S.app.store) == 0, "store open");
    CHECK(S.app.ops->migrate(S.app.store, NULL, NULL) == 0, "migrate");
    CHECK(S.app.ops->user_add(S.app.store, "fuzz", "", false, &S.uid) == 0, "user_add");
    int64_t alice;
    CHECK(S.app.ops->user_add(S.app.store, "alice", "", false, &alice) == 0, "user_add");
    uint8_t hash[32];
    CHECK(svc_token_new(S.token) == 0, "token");
    svc_hash_secret(S.token, hash);
    CHECK(S.app.ops->token_add(S.app.store, S.uid, hash, "fuzz", "tbdev_", NULL) == 0, "token_add");
    snprintf(S.auth, sizeof(S.auth), "Authorization: Bearer %s", S.token);
    make_experiment();

    /* The limits of a default tbdev-server, on fewer threads. */
    struct svc_http_config hc;
    svc_app_http_config(&S.app, &hc);
    hc.threads = 2;
    hc.conn_timeout_s = hc.body_deadline_s = 10;
    hc.conns_per_ip = hc.conn_limit = 1000;
    hc.header_bytes = 16384;
    CHECK(svc_http_start(&hc, &S.http) == 0, "svc_http_start");
    S.port = svc_http_port(S.http);
    S.up = true;
    atexit(teardown);
}

/* --- through libcurl (one keep-alive connection) --- */

#if defined(FUZZ_WRITE_EVENTS) || defined(FUZZ_CREATE) || defined(FUZZ_STORED)
static size_t sink(char *p, size_t s, size_t n, void *ctx)
{
    tb_buf_add(ctx, p, s * n);
    return s * n;
}

static long send_body(const char *method, const char *path, const uint8_t *body, size_t len,
                      struct tb_buf *answer)
{
    if (!S.curl) {
        S.curl = curl_easy_init();
        CHECK(S.curl, "curl_easy_init");
    }
    CURL *h = S.curl;
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", S.port, path);
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, S.auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/x-protobuf");
    hdr = curl_slist_append(hdr, "Accept: application/x-protobuf");
    hdr = curl_slist_append(hdr, "Expect:");
    if (len >= 2 && body[0] == 0x1f && body[1] == 0x8b)
        hdr = curl_slist_append(hdr, "Content-Encoding: gzip");
    else if (len >= 4 && !memcmp(body, "\x28\xb5\x2f\xfd", 4))
        hdr = curl_slist_append(hdr, "Content-Encoding: zstd");
    static const uint8_t empty[1];
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") ? method : NULL);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, len ? (const void *)body : (const void *)empty);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    CURLcode rc = curl_easy_perform(h);
    CHECK(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    return status;
}
#endif

#ifdef FUZZ_WRITE_EVENTS
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/events", S.exp);
    struct tb_buf answer;
    tb_buf_init(&answer, 0);
    long status = send_body("POST", path, data, size, &answer);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%ld %.*s\n", status, (int)answer.len, (const char *)answer.data);
    CHECK(status == 200 || status == 400 || status == 409 || status == 413,
          "status %ld for a %zu-byte body: %.*s", status, size, (int)answer.len,
          answer.data ? (const char *)answer.data : "");
    tb_buf_done(&answer);
    /* Every 1000 inputs: the database is sound, and a fresh experiment keeps the run and tag
     * limits from turning every later input into a 413. */
    if (++S.inputs % 1000 == 0) {
        integrity();
        make_experiment();
    }
    return 0;
}
#endif

#ifdef FUZZ_CREATE
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    bool patch = size > 0 && (data[0] & 1);
    char path[128];
    if (patch)
        snprintf(path, sizeof(path), "/api/v1/experiments/%s", S.exp);
    else
        snprintf(path, sizeof(path), "/api/v1/experiments");
    struct tb_buf answer;
    tb_buf_init(&answer, 0);
    size_t len = size ? size - 1 : 0;
    long status = send_body(patch ? "PATCH" : "POST", path, size ? data + 1 : data, len, &answer);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%ld %.*s\n", status, (int)answer.len, (const char *)answer.data);
    CHECK(status == (patch ? 200 : 201) || status == 400 || status == 413,
          "status %ld for a %zu-byte %s body: %.*s", status, len, patch ? "PATCH" : "POST",
          (int)answer.len, answer.data ? (const char *)answer.data : "");
    tb_buf_done(&answer);
    if (++S.inputs % 1000 == 0)
        integrity();
    return 0;
}
#endif

#ifdef FUZZ_STORED
#include "json.h"
#include "tbdev/v1/api.pb-c.h"
#include "tfrecord.h"

/* A signed-out GET; the answer's status, with its Content-Type into ctype (may be NULL). */
static long get_path(const char *path, struct tb_buf *answer, char *ctype, size_t ctype_len)
{
    CURL *h = S.curl;
    char url[2048];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", S.port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(h);
    CHECK(rc == CURLE_OK, "GET %s: %s", path, curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    if (ctype)
        snprintf(ctype, ctype_len, "%s", ct ? ct : "");
    return status;
}

/* GETs path, checks the answer (never a 5xx; JSON that is one valid value), and leaves its
 * body in *ret (caller frees) when ret is not NULL. */
static long get_checked(const char *path, struct tb_buf *ret)
{
    struct tb_buf a;
    tb_buf_init(&a, 0);
    char ct[128];
    long status = get_path(path, &a, ct, sizeof(ct));
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "GET %s: %ld %zu bytes\n", path, status, a.len);
    CHECK(status == 200 || status == 400 || status == 404 || status == 413, "GET %s: %ld %.*s",
          path, status, (int)(a.len < 500 ? a.len : 500), a.data ? (const char *)a.data : "");
    if (!strncmp(ct, "application/json", 16))
        CHECK(tb_json_valid(a.data, a.len, TB_JSON_DEPTH_MAX),
              "GET %s: %ld with invalid JSON: %.*s", path, status, (int)(a.len < 500 ? a.len : 500),
              a.data ? (const char *)a.data : "");
    if (ret)
        *ret = a;
    else
        tb_buf_done(&a);
    return status;
}

/* A very small reader of our own JSON answers: the first string value of "key" after *from. */
static bool json_string_after(const struct tb_buf *b, const char *key, size_t *from, char *out,
                              size_t out_len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    if (!b->data || *from >= b->len)
        return false;
    const char *p = memmem(b->data + *from, b->len - *from, pat, strlen(pat));
    if (!p)
        return false;
    p += strlen(pat);
    const char *e = memchr(p, '"', (size_t)((const char *)b->data + b->len - p));
    if (!e || (size_t)(e - p) >= out_len)
        return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = 0;
    *from = (size_t)(e - (const char *)b->data);
    return true;
}

static void put_varint(struct tb_buf *b, uint64_t v)
{
    do {
        tb_buf_addc(b, (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}

static void put_bytes(struct tb_buf *b, unsigned field, const void *p, size_t n)
{
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, n);
    tb_buf_add(b, p, n);
}

/* A Summary.Value: tag, plugin (NULL: no metadata) with content, and its value field (`field`,
 * length-delimited, holding `v`). */
static void value(struct tb_buf *out, const char *tag, const char *plugin, const void *content,
                  size_t content_len, unsigned field, const struct tb_buf *v)
{
    struct tb_buf pd, md;
    tb_buf_init(&pd, 0);
    tb_buf_init(&md, 0);
    put_bytes(out, 1, tag, strlen(tag));
    if (plugin) {
        put_bytes(&pd, 1, plugin, strlen(plugin));
        put_bytes(&pd, 2, content, content_len);
        put_bytes(&md, 1, pd.data, pd.len);
        put_bytes(out, 9, md.data, md.len);
    }
    if (field)
        put_bytes(out, field, v->data, v->len);
    tb_buf_done(&pd);
    tb_buf_done(&md);
}

/* A string TensorProto of the given dims (up to 2) holding strs. */
static void string_tensor(struct tb_buf *t, int rank, const size_t *dims,
                          const struct tb_bytes *strs, size_t n)
{
    struct tb_buf shape, dim;
    tb_buf_init(&shape, 0);
    tb_buf_init(&dim, 0);
    put_varint(t, 1 << 3);
    put_varint(t, 7); /* DT_STRING */
    for (int i = 0; i < rank; i++) {
        tb_buf_reset(&dim);
        put_varint(&dim, 1 << 3);
        put_varint(&dim, dims[i]);
        put_bytes(&shape, 2, dim.data, dim.len);
    }
    put_bytes(t, 2, shape.data ? (const void *)shape.data : "", shape.len);
    for (size_t i = 0; i < n; i++)
        put_bytes(t, 8, strs[i].data, strs[i].len);
    tb_buf_done(&shape);
    tb_buf_done(&dim);
}

/* One event holding the value in v, framed onto file. */
static void event(struct tb_buf *file, int64_t step, const struct tb_buf *v)
{
    struct tb_buf ev, sum;
    tb_buf_init(&ev, 0);
    tb_buf_init(&sum, 0);
    double wall = 1.7e9 + (double)step;
    put_varint(&ev, 1 << 3 | 1);
    tb_buf_add(&ev, &wall, 8);
    put_varint(&ev, 2 << 3);
    put_varint(&ev, (uint64_t)step);
    put_bytes(&sum, 1, v->data, v->len);
    put_bytes(&ev, 5, sum.data, sum.len);
    tb_tfrecord_append(file, ev.data, ev.len);
    tb_buf_done(&ev);
    tb_buf_done(&sum);
}

/* The input in every form the read side decodes, as an event file. */
static void upload(const uint8_t *data, size_t size, const char *run)
{
    struct tb_buf file, v, t;
    tb_buf_init(&file, 0);
    tb_buf_init(&v, 0);
    tb_buf_init(&t, 0);
    static const char empty[1];
    const void *d = size ? (const void *)data : empty;
    struct tb_bytes whole = {d, size}, none = {(const uint8_t *)empty, 0};
    struct tb_bytes halves[2] = {{d, size / 2}, {(const uint8_t *)d + size / 2, size - size / 2}};
    size_t dims[2] = {2, 1};
    /* hparams: the input is the plugin content */
    string_tensor(&t, 0, NULL, &none, 1);
    value(&v, "_hparams_/session_start_info", "hparams", d, size, 8, &t);
    event(&file, 0, &v);
    /* custom scalars: the input is the layout */
    tb_buf_reset(&v);
    tb_buf_reset(&t);
    string_tensor(&t, 0, NULL, &whole, 1);
    value(&v, "custom_scalars__config__", "custom_scalars", "", 0, 8, &t);
    event(&file, 0, &v);
    /* text: the input as markdown, whole and as a [2, 1] table */
    tb_buf_reset(&v);
    tb_buf_reset(&t);
    string_tensor(&t, 0, NULL, &whole, 1);
    value(&v, "text", "text", "", 0, 8, &t);
    event(&file, 1, &v);
    tb_buf_reset(&v);
    tb_buf_reset(&t);
    string_tensor(&t, 2, dims, halves, 2);
    value(&v, "table", "text", "", 0, 8, &t);
    event(&file, 1, &v);
    /* the input as the TensorProto of a tensor, a histogram and a PR curve */
    static const char *const plugins[3] = {"custom", "histograms", "pr_curves"};
    static const char *const tags[3] = {"tensor", "histogram", "pr"};
    struct tb_buf raw = {(uint8_t *)d, size, size, size, 0};
    for (int i = 0; i < 3; i++) {
        tb_buf_reset(&v);
        value(&v, tags[i], plugins[i], "", 0, 8, &raw);
        event(&file, 2, &v);
    }
    /* the input as a TF1 image (Summary.Image with encoded_image_string) */
    tb_buf_reset(&v);
    tb_buf_reset(&t);
    put_bytes(&t, 4, d, size);
    value(&v, "image", NULL, NULL, 0, 4, &t);
    event(&file, 3, &v);
    /* and as a whole Summary.Value */
    tb_buf_reset(&v);
    tb_buf_add(&v, d, size);
    event(&file, 4, &v);

    Tbdev__V1__RecordGroup g = TBDEV__V1__RECORD_GROUP__INIT;
    g.run = (ProtobufCBinaryData){strlen(run), (uint8_t *)run};
    g.file = (ProtobufCBinaryData){20, (uint8_t *)"events.out.tfevents."};
    g.records = (ProtobufCBinaryData){file.len, file.data};
    Tbdev__V1__RecordGroup *gp = &g;
    Tbdev__V1__WriteEventsRequest req = TBDEV__V1__WRITE_EVENTS_REQUEST__INIT;
    req.n_groups = 1;
    req.groups = &gp;
    size_t n = tbdev__v1__write_events_request__get_packed_size(&req);
    uint8_t *body = malloc(n ? n : 1);
    CHECK(body, "malloc");
    tbdev__v1__write_events_request__pack(&req, body);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/events", S.exp);
    struct tb_buf answer;
    tb_buf_init(&answer, 0);
    long status = send_body("POST", path, body, n, &answer);
    CHECK(status == 200 || status == 413, "upload of the stored forms: %ld %.*s", status,
          (int)answer.len, answer.data ? (const char *)answer.data : "");
    tb_buf_done(&answer);
    free(body);
    tb_buf_done(&file);
    tb_buf_done(&v);
    tb_buf_done(&t);
}

/* The input stored with no check at all, as an older server (or a hand in the database) might
 * have left it: plugin content, raw tensor data of any dtype, blob metadata text. */
static void store_directly(const uint8_t *data, size_t size, const char *run)
{
    static const char empty[1];
    const uint8_t *d = size ? data : (const uint8_t *)empty;
    char meta[256];
    size_t ml = size < sizeof(meta) - 1 ? size : sizeof(meta) - 1;
    memcpy(meta, d, ml);
    meta[ml] = 0;
    int dtype = size ? data[0] % 26 : 1;
    static const char *const shapes[4] = {"[]", "[2,2]", "[6,3]", "?"};
    const char *shape = shapes[size > 1 ? data[1] % 4 : 0];
    const char *runs[1] = {run};
    struct svc_series_def sd[7];
    static const char *const tags[7] = {"hp", "cs", "txt", "num", "hist", "pr", "img"};
    static const char *const plugins[7] = {"hparams",    "custom_scalars", "text",  "custom",
                                           "histograms", "pr_curves",      "images"};
    static const int dtypes[7] = {7, 7, 7, -1, 2, -1, 0};
    struct svc_item it[7];
    struct svc_item_data xd[7];
    uint8_t sha[1][32];
    struct tb_bytes blob = {d, size};
    svc_sha256(d, size, sha[0]);
    memset(sd, 0, sizeof(sd));
    memset(it, 0, sizeof(it));
    memset(xd, 0, sizeof(xd));
    for (int i = 0; i < 7; i++) {
        sd[i].tag = tags[i];
        sd[i].plugin = plugins[i];
        sd[i].display_name = sd[i].description = "";
        sd[i].plugin_content = i == 0 ? blob : (struct tb_bytes){NULL, 0};
        sd[i].kind = i == 6 ? TB_KIND_BLOB_SEQUENCE : TB_KIND_TENSOR;
        it[i].type = i == 6 ? SVC_ITEM_BLOBS : SVC_ITEM_TENSOR;
        it[i].series = (uint32_t)i;
        it[i].x = &xd[i];
        it[i].step = i;
        xd[i].dtype = dtypes[i] < 0 ? dtype : dtypes[i];
        xd[i].shape = shape;
        xd[i].data = blob;
        xd[i].value_pb = blob;
    }
    xd[6].n_blobs = 1;
    xd[6].blobs = &blob;
    xd[6].shas = sha;
    xd[6].meta = meta;
    struct svc_group g = {.file = "stored", .end_offset = 1, .n_items = 7};
    struct svc_batch b = {.runs = runs,
                          .n_runs = 1,
                          .series = sd,
                          .n_series = 7,
                          .items = it,
                          .n_items = 7,
                          .groups = &g,
                          .n_groups = 1};
    int err = S.app.ops->write_batch(S.app.store, S.exp, S.uid, 0, &b);
    CHECK(err == 0, "write_batch of the input as stored data: %d", err);
}

/* Every read route for the run, signed out; tensor answers paged small, pages followed. */
static void read_all(const char *run)
{
    char path[2048], esc_run[512];
    char *e = curl_easy_escape(S.curl, run, 0);
    snprintf(esc_run, sizeof(esc_run), "%s", e);
    curl_free(e);
    const char *base = "/api/v1/experiments";
    snprintf(path, sizeof(path), "%s/%s", base, S.exp);
    get_checked(path, NULL);
    static const char *const lists[] = {"runs", "tags", "hparams", "custom_scalars"};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s/%s?run=%s", base, S.exp, lists[i], esc_run);
        get_checked(path, NULL);
    }
    /* each tag with the route that shows it (the upload's names, then the direct store's) */
    static const char *const pairs[][2] = {
        {"_hparams_/session_start_info", "tensors"},
        {"custom_scalars__config__", "tensors"},
        {"text", "text"},
        {"table", "text"},
        {"tensor", "tensors"},
        {"histogram", "histograms"},
        {"pr", "pr_curves"},
        {"hp", "tensors"},
        {"cs", "tensors"},
        {"txt", "text"},
        {"num", "tensors"},
        {"num", "histograms"},
        {"hist", "histograms"},
        {"pr", "tensors"},
    };
    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        char tok[128] = "";
        for (int page = 0; page < 4; page++) {
            snprintf(path, sizeof(path), "%s/%s/%s?tag=%s&run=%s&points=all&page_bytes=4096%s%s",
                     base, S.exp, pairs[k][1], pairs[k][0], esc_run, tok[0] ? "&page_token=" : "",
                     tok);
            struct tb_buf a;
            get_checked(path, &a);
            size_t at = 0;
            bool more = json_string_after(&a, "next_page_token", &at, tok, sizeof(tok));
            tb_buf_done(&a);
            if (!more)
                break;
        }
    }
    static const char *const blob_tags[] = {"image", "img"};
    for (size_t t = 0; t < 2; t++) {
        snprintf(path, sizeof(path), "%s/%s/blobs?tag=%s&run=%s", base, S.exp, blob_tags[t],
                 esc_run);
        struct tb_buf a;
        get_checked(path, &a);
        char url[256];
        size_t at = 0;
        while (json_string_after(&a, "url", &at, url, sizeof(url)))
            get_checked(url, NULL);
        tb_buf_done(&a);
    }
    /* the run exported: the event file it answers reads back with our own decoder */
    snprintf(path, sizeof(path), "%s/%s/export?run=%s", base, S.exp, esc_run);
    struct tb_buf x;
    if (get_checked(path, &x) == 200 && x.len) {
        struct tb_tfrecord_reader *r = NULL;
        CHECK(tb_tfrecord_open_mem(x.data, x.len, 0, 0, &r) == 0, "export reader");
        struct tb_arena arena;
        tb_arena_init(&arena, 0);
        struct tb_record rec;
        int n;
        while ((n = tb_tfrecord_next(r, &rec, NULL)) != 0) {
            CHECK(n > 0, "the export of run '%s' has a bad record", run);
            struct tb_event ev;
            tb_arena_reset(&arena);
            tb_event_decode(rec.data, rec.len, &arena, &ev, NULL);
        }
        CHECK(tb_tfrecord_tail(r, NULL) == TB_PROBLEM_NONE, "the export ends inside a record");
        tb_arena_done(&arena);
        tb_tfrecord_close(r);
    }
    tb_buf_done(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (!S.curl) {
        S.curl = curl_easy_init();
        CHECK(S.curl, "curl_easy_init");
    }
    char up[32], direct[32];
    snprintf(up, sizeof(up), "up%lu", S.inputs);
    snprintf(direct, sizeof(direct), "stored%lu", S.inputs);
    upload(data, size, up);
    store_directly(data, size, direct);
    read_all(up);
    read_all(direct);
    /* Every 25 inputs: the database is sound, and the experiment is deleted for a fresh one, as
     * every read lists the whole experiment (which would slow every later input down). */
    if (++S.inputs % 25 == 0) {
        integrity();
        CHECK(S.app.ops->experiment_delete(S.app.store, S.exp) == 0, "experiment_delete");
        make_experiment();
    }
    return 0;
}
#endif

/* --- raw requests over a socket --- */

#ifdef FUZZ_HTTP
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(S.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s", strerror(errno));
    return fd;
}

/* Sends req, then reads until the server closes or `timeout` seconds pass. */
static void exchange(const struct tb_buf *req, struct tb_buf *answer, double timeout)
{
    int fd = connect_server();
    size_t off = 0;
    while (off < req->len) {
        ssize_t n = send(fd, req->data + off, req->len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close before reading everything */
        off += (size_t)n;
    }
    /* No more bytes come from us: a request waiting for more ends now. */
    shutdown(fd, SHUT_WR);
    double end = now() + timeout;
    for (;;) {
        double left = end - now();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            break;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        tb_buf_add(answer, buf, (size_t)n);
    }
    close(fd);
}

static bool is_header(const uint8_t *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && !strncasecmp((const char *)line, name, n) && line[n] == ':';
}

/* Appends src to out, with "@TOKEN@" and "@EXP@" replaced by the real token and experiment. */
static void add_subst(struct tb_buf *out, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < len;) {
        if (len - i >= 7 && !memcmp(src + i, "@TOKEN@", 7)) {
            tb_buf_adds(out, S.token);
            i += 7;
        } else if (len - i >= 5 && !memcmp(src + i, "@EXP@", 5)) {
            tb_buf_adds(out, S.exp);
            i += 5;
        } else {
            tb_buf_add(out, src + i, 1);
            i++;
        }
    }
}

static void check_answer(const struct tb_buf *a, const char *what)
{
    if (a->len == 0)
        return; /* closed without an answer (or no answer in time) */
    const char *s = (const char *)a->data;
    CHECK(a->len >= 12 && (!memcmp(s, "HTTP/1.1 ", 9) || !memcmp(s, "HTTP/1.0 ", 9)) &&
              s[9] >= '1' && s[9] <= '5' && s[10] >= '0' && s[10] <= '9' && s[11] >= '0' &&
              s[11] <= '9',
          "%s: not an HTTP response: %.*s", what, (int)(a->len < 200 ? a->len : 200), s);
    CHECK(memcmp(s + 9, "500", 3), "%s: 500: %.*s", what, (int)(a->len < 2000 ? a->len : 2000), s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    /* The head is the input up to its first blank line; what follows is sent as the body. */
    size_t head = size, body = size;
    for (size_t i = 0; i + 4 <= size; i++)
        if (!memcmp(data + i, "\r\n\r\n", 4)) {
            head = i + 2;
            body = i + 4;
            break;
        }
    struct tb_buf req;
    tb_buf_init(&req, 0);
    /* The request line, then our Host and Connection headers, then the input's other headers
     * (its own Host and Connection headers are dropped: the Host check is tested elsewhere, and
     * a kept-alive connection would only wait for the timeout). */
    bool first = true;
    for (size_t i = 0; i < head || first;) {
        size_t j = i;
        while (j < head && data[j] != '\n')
            j++;
        size_t end = j < head ? j + 1 : j;
        if (first) {
            add_subst(&req, data + i, end - i);
            if (end == i || data[end - 1] != '\n')
                tb_buf_adds(&req, "\r\n");
            tb_buf_adds(&req, "Host: 127.0.0.1\r\nConnection: close\r\n");
            first = false;
        } else if (!is_header(data + i, end - i, "host") &&
                   !is_header(data + i, end - i, "connection")) {
            add_subst(&req, data + i, end - i);
            if (data[end - 1] != '\n')
                tb_buf_adds(&req, "\r\n");
        }
        i = end;
    }
    tb_buf_adds(&req, "\r\n");
    if (body < size)
        add_subst(&req, data + body, size - body);

    struct tb_buf answer;
    tb_buf_init(&answer, 0);
    exchange(&req, &answer, 2.0);
    check_answer(&answer, "the input");
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%.*s\n---\n", (int)(answer.len < 300 ? answer.len : 300),
                (const char *)answer.data);

    /* The server still answers on a fresh connection. */
    struct tb_buf health, ok;
    tb_buf_init(&health, 0);
    tb_buf_init(&ok, 0);
    tb_buf_adds(&health,
                "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    exchange(&health, &ok, 10.0);
    CHECK(ok.len >= 12 && !memcmp(ok.data, "HTTP/1.1 200", 12), "health after the input: %.*s",
          (int)ok.len, ok.data ? (const char *)ok.data : "");
    tb_buf_done(&health);
    tb_buf_done(&ok);
    tb_buf_done(&answer);
    tb_buf_done(&req);
    return 0;
}
#endif
