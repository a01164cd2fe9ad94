/* SPDX-License-Identifier: MIT */
/* Unit tests for http: a real svc_http on 127.0.0.1 with a stub application, driven over raw
 * sockets: framing refused before the handler, admission before the body (a refused body is
 * never read), per-request caps, the body-memory budget, the lanes, and the port known before
 * serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

/* The stub application. */
static atomic_int handled;        /* handler calls */
static atomic_int listening_port; /* what the listening callback saw */
static atomic_int listening_before_serving;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open = true; /* /slow waits for it */

static void handler(void *ctx, const struct svc_request *req, struct svc_response *res)
{
    (void)ctx;
    atomic_fetch_add(&handled, 1);
    if (!strcmp(req->path, "/slow")) {
        pthread_mutex_lock(&gate_lock);
        while (!gate_open)
            pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
    }
    res->status = 200;
    res->content_type = "text/plain";
    tb_buf_addf(&res->body, "%s %zu %s", req->path, req->body_len,
                req->state ? (const char *)req->state : "-");
}

static bool admit(void *ctx, const struct svc_request *req, struct svc_response *res,
                  struct svc_admission *ret)
{
    (void)ctx;
    if (!strcmp(req->path, "/refuse")) {
        res->status = 401;
        tb_buf_adds(&res->body, "no");
        return false;
    }
    ret->body_max = !strcmp(req->path, "/small") ? 100 : 1000;
    ret->decoded_max = 0;
    ret->lane = !strcmp(req->path, "/slow")   ? SVC_LANE_SLOW
                : !strcmp(req->method, "GET") ? SVC_LANE_POOL
                                              : SVC_LANE_WRITE;
    ret->state = strdup("admitted");
    return true;
}

static struct svc_http *http;

static void on_listening(void *ctx, uint16_t port)
{
    (void)ctx;
    atomic_store(&listening_port, port);
    atomic_store(&listening_before_serving, atomic_load(&handled) == 0);
}

static int setup(void **state)
{
    (void)state;
    svc_log_set_quiet(true);
    struct svc_http_config cfg = {
        .host = "127.0.0.1",
        .threads = 2,
        .write_threads = 1,
        .slow_threads = 1,
        .conn_timeout_s = 10,
        .body_deadline_s = 10,
        .conns_per_ip = 100,
        .conn_limit = 100,
        .header_bytes = 16384,
        .body_max = 1000,
        .body_decoded_max = 1000,
        .body_memory = 1500,
        .handler = handler,
        .admit = admit,
        .listening = on_listening,
    };
    return svc_http_start(&cfg, &http);
}

static int teardown(void **state)
{
    (void)state;
    svc_http_stop(http, 2);
    return 0;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(svc_http_port(http))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void put(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads for up to ms (stopping early at the end of an answer's headers and Content-Length
 * body); returns the status, and what came in out. */
static int answer(int fd, int ms, char *out, size_t out_len)
{
    size_t got = 0;
    out[0] = 0;
    while (got + 1 < out_len) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0)
            break;
        ssize_t n = recv(fd, out + got, out_len - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        out[got] = 0;
        char *end = strstr(out, "\r\n\r\n");
        const char *cl = strstr(out, "Content-Length: ");
        if (end && cl && (size_t)(out + got - (end + 4)) >= strtoul(cl + 16, NULL, 10))
            break;
    }
    int status = 0;
    sscanf(out, "HTTP/1.%*d %d", &status);
    return status;
}

static int exchange(const char *request, char *out, size_t out_len)
{
    int fd = dial();
    put(fd, request);
    int st = answer(fd, 3000, out, out_len);
    close(fd);
    return st;
}

static void test_port_known_before_serving(void **state)
{
    (void)state;
    assert_int_equal(atomic_load(&listening_port), svc_http_port(http));
    assert_true(atomic_load(&listening_before_serving));
}

static void test_framing_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n"
        "0\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\n Transfer-Encoding: "
        "chunked\r\n\r\n0\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
    };
    char out[4096];
    int before = atomic_load(&handled);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(exchange(bad[i], out, sizeof(out)), 400);
        assert_non_null(strstr(out, "bad_request"));
    }
    assert_int_equal(atomic_load(&handled), before); /* the handler never saw them */
    assert_int_equal(exchange("GET /x HTTP/1.1\r\nHost: a\r\nX-Y: a b\r\n\r\n", out, sizeof(out)),
                     200);
    assert_non_null(strstr(out, "/x 0 admitted"));
}

static void test_refused_before_the_body(void **state)
{
    (void)state;
    char out[4096];
    int before = atomic_load(&handled);
    /* headers only, of a 1 MiB body: the answer comes without a byte of it */
    int fd = dial();
    put(fd, "POST /refuse HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n");
    assert_int_equal(answer(fd, 3000, out, sizeof(out)), 401);
    assert_non_null(strstr(out, "Connection: close"));
    close(fd);
    /* over the route's cap: 413 from the headers */
    fd = dial();
    put(fd, "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n");
    assert_int_equal(answer(fd, 3000, out, sizeof(out)), 413);
    close(fd);
    /* a compressed body where the route takes none: 415 */
    fd = dial();
    put(fd, "POST /small HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n"
            "\r\n");
    assert_int_equal(answer(fd, 3000, out, sizeof(out)), 415);
    close(fd);
    assert_int_equal(atomic_load(&handled), before);
    /* under the cap: read and handled, with the admission's state */
    assert_int_equal(exchange("POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"
                              "0123456789012345678901234567890123456789012345678901234567890123"
                              "456789012345678901234567890123456789",
                              out, sizeof(out)),
                     200);
    assert_non_null(strstr(out, "/small 100 admitted"));
    /* a chunked body past the cap: 413 after it */
    char chunked[512];
    int n = snprintf(chunked, sizeof(chunked),
                     "POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "96\r\n");
    memset(chunked + n, 'x', 150);
    snprintf(chunked + n + 150, sizeof(chunked) - (size_t)n - 150, "\r\n0\r\n\r\n");
    assert_int_equal(exchange(chunked, out, sizeof(out)), 413);
    assert_int_equal(atomic_load(&handled), before + 1);
}

static void test_body_memory_budget(void **state)
{
    (void)state;
    char out[4096];
    /* one 900-byte body in progress holds 901 of the 1500 bytes */
    int a = dial();
    put(a, "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\nhalf");
    usleep(200000);
    /* a second one would pass the budget: 503 with Retry-After, from its headers */
    int b = dial();
    put(b, "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\n");
    assert_int_equal(answer(b, 3000, out, sizeof(out)), 503);
    assert_non_null(strstr(out, "Retry-After: 1"));
    close(b);
    /* a small one still fits */
    assert_int_equal(
        exchange("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", out, sizeof(out)),
        200);
    /* the first one finishes, and gives its share back */
    char rest[897];
    memset(rest, 'x', sizeof(rest) - 1);
    rest[sizeof(rest) - 1] = 0;
    put(a, rest);
    assert_int_equal(answer(a, 3000, out, sizeof(out)), 200);
    assert_non_null(strstr(out, "/big 900 admitted"));
    close(a);
    usleep(100000);
    /* admitted again: no 503, the server waits for the body */
    int c = dial();
    put(c, "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\n0123456789");
    assert_int_equal(answer(c, 300, out, sizeof(out)), 0);
    close(c);
}

static void test_slow_lane_never_holds_writes(void **state)
{
    (void)state;
    char out[4096];
    pthread_mutex_lock(&gate_lock);
    gate_open = false;
    pthread_mutex_unlock(&gate_lock);
    /* the one slow thread is held by /slow */
    int s = dial();
    put(s, "POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    usleep(200000);
    /* a write still goes through its own thread */
    assert_int_equal(
        exchange("POST /w HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok", out, sizeof(out)),
        200);
    assert_non_null(strstr(out, "/w 2 admitted"));
    /* and so does a read */
    assert_int_equal(exchange("GET /r HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof(out)), 200);
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    assert_int_equal(answer(s, 3000, out, sizeof(out)), 200);
    assert_non_null(strstr(out, "/slow 0 admitted"));
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_known_before_serving),
        cmocka_unit_test(test_framing_refused),
        cmocka_unit_test(test_refused_before_the_body),
        cmocka_unit_test(test_body_memory_budget),
        cmocka_unit_test(test_slow_lane_never_holds_writes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
