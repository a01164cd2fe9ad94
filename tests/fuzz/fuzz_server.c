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

#if defined(FUZZ_WRITE_EVENTS) || defined(FUZZ_CREATE)
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
