/* SPDX-License-Identifier: MIT */
/* Unit tests for service/local: the cache path, the upload command, and svc_local_main run in
 * a child process (its link, its routes, the lock, Ctrl-C). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "local.h"
#include "localopts.h"
#include "tfrecord.h"

struct fx {
    char dir[64];
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/tbdev-test-local-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static const char *at(struct fx *f, const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", f->dir, rel);
    return buf[k];
}

/* ---- the cache path ---- */

static void test_cache_path(void **state)
{
    struct fx *f = *state;
    char xdg[256], out[1024], out2[1024], err[300];
    snprintf(xdg, sizeof(xdg), "%s", at(f, "xdg"));
    struct tb_local_logdir one = {"", "/home/ann/my logs!"};
    assert_int_equal(
        svc_local_cache_path(&one, 1, xdg, "/nonexistent", out, sizeof(out), err, sizeof(err)), 0);
    char want[600];
    snprintf(want, sizeof(want), "%s/tbdev/my_logs_-", xdg);
    assert_memory_equal(out, want, strlen(want));
    assert_int_equal(strlen(out), strlen(want) + 16 + 3); /* 16 hex digits, ".db" */
    struct stat st;
    assert_int_equal(stat(at(f, "xdg/tbdev"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* the same logdir: the same file; another one: another file */
    assert_int_equal(svc_local_cache_path(&one, 1, xdg, NULL, out2, sizeof(out2), err, sizeof(err)),
                     0);
    assert_string_equal(out, out2);
    struct tb_local_logdir other = {"", "/home/ann/my logs?"};
    assert_int_equal(
        svc_local_cache_path(&other, 1, xdg, NULL, out2, sizeof(out2), err, sizeof(err)), 0);
    assert_string_not_equal(out, out2);
    /* the same path under a name (a spec) is another cache */
    struct tb_local_logdir named = {"a", "/home/ann/my logs!"};
    assert_int_equal(
        svc_local_cache_path(&named, 1, xdg, NULL, out2, sizeof(out2), err, sizeof(err)), 0);
    assert_string_not_equal(out, out2);
    struct tb_local_logdir two[2] = {{"a", "/x"}, {"b", "/y"}};
    assert_int_equal(svc_local_cache_path(two, 2, xdg, NULL, out2, sizeof(out2), err, sizeof(err)),
                     0);
    assert_non_null(strstr(out2, "/tbdev/logdirs-"));
    struct tb_local_logdir root = {"", "/"};
    assert_int_equal(
        svc_local_cache_path(&root, 1, xdg, NULL, out2, sizeof(out2), err, sizeof(err)), 0);
    assert_non_null(strstr(out2, "/tbdev/root-"));
    /* no XDG_CACHE_HOME (or a relative one): ~/.cache/tbdev */
    assert_int_equal(svc_local_cache_path(&one, 1, "relative", at(f, "home"), out2, sizeof(out2),
                                          err, sizeof(err)),
                     0);
    snprintf(want, sizeof(want), "%s/.cache/tbdev/my_logs_-", at(f, "home"));
    assert_memory_equal(out2, want, strlen(want));
    /* neither: say what to do */
    assert_int_equal(
        svc_local_cache_path(&one, 1, NULL, NULL, out2, sizeof(out2), err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "--db FILE"));
    char small[16];
    assert_int_equal(
        svc_local_cache_path(&one, 1, xdg, NULL, small, sizeof(small), err, sizeof(err)), -E2BIG);
}

static void test_upload_command(void **state)
{
    (void)state;
    struct {
        const char *path, *want;
    } cases[] = {
        {"/home/ann/logs", "tbdev upload --logdir /home/ann/logs"},
        {"/home/ann/my logs", "tbdev upload --logdir '/home/ann/my logs'"},
        {"/x/it's", "tbdev upload --logdir '/x/it'\\''s'"},
        {"/x/$(rm -rf ~)", "tbdev upload --logdir '/x/$(rm -rf ~)'"},
        {"/a/b-c_d.e+f,g:h@i", "tbdev upload --logdir /a/b-c_d.e+f,g:h@i"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tb_buf b;
        tb_buf_init(&b, 0);
        svc_local_upload_command(&b, cases[i].path);
        tb_buf_addc(&b, 0);
        assert_string_equal((const char *)b.data, cases[i].want);
        tb_buf_done(&b);
    }
}

/* ---- svc_local_main, in a child process ---- */

struct child {
    pid_t pid;
    int out; /* its stdout */
    char text[4096];
    size_t len;
};

static void child_start(struct child *c, const char *const *args, int n)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    c->len = 0;
    c->text[0] = 0;
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        char *argv[24];
        argv[0] = "local";
        for (int i = 0; i < n; i++)
            argv[i + 1] = (char *)args[i];
        argv[n + 1] = NULL;
        fflush(stdout);
        _exit(svc_local_main(n + 1, argv));
    }
    close(p[1]);
    c->out = p[0];
}

/* Reads the child's stdout until its link line; returns the port, or 0 if it exited first. */
static int child_port(struct child *c)
{
    for (int i = 0; i < 600; i++) {
        ssize_t n = read(c->out, c->text + c->len, sizeof(c->text) - 1 - c->len);
        if (n <= 0)
            return 0;
        c->len += (size_t)n;
        c->text[c->len] = 0;
        const char *m = strstr(c->text, "TensorBoard-style page at http://localhost:");
        if (m && strchr(m, '\n'))
            return atoi(m + strlen("TensorBoard-style page at http://localhost:"));
    }
    return 0;
}

static int child_wait(struct child *c)
{
    int st = 0;
    for (int i = 0; i < 600; i++) {
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid) {
            close(c->out);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(50000);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    close(c->out);
    return -1;
}

/* One HTTP/1.0 request to 127.0.0.1:port; returns the status, the whole answer in out. */
static int http(int port, const char *method, const char *path, char *out, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[600];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.0\r\nHost: localhost:%d\r\nContent-Length: 0\r\n\r\n", method,
                     path, port);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    ssize_t k;
    while (got < len - 1 && (k = read(fd, out + got, len - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = 0;
    close(fd);
    int status = 0;
    sscanf(out, "HTTP/1.%*d %d", &status);
    return status;
}

/* Writes a run with n scalar events (TF1 simple values) to path. */
static void write_run(const char *path, int n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int s = 0; s < n; s++) {
        /* Event{wall_time=1.7e9+s (1), step=s (2), summary (5){value (1){tag "t" (1),
         * simple_value (2)}}} */
        uint8_t ev[32];
        size_t k = 0;
        double w = 1.7e9 + s;
        ev[k++] = 0x09;
        memcpy(ev + k, &w, 8);
        k += 8;
        ev[k++] = 0x10;
        ev[k++] = (uint8_t)s;
        uint8_t val[] = {0x0a, 0x01, 't', 0x15, 0, 0, 0x80, 0x3f};
        ev[k++] = 0x2a;
        ev[k++] = (uint8_t)(sizeof(val) + 2);
        ev[k++] = 0x0a;
        ev[k++] = (uint8_t)sizeof(val);
        memcpy(ev + k, val, sizeof(val));
        k += sizeof(val);
        uint8_t framed[64];
        tb_tfrecord_frame(ev, k, framed);
        assert_int_equal(fwrite(framed, 1, k + 16, fp), k + 16);
    }
    fclose(fp);
}

static void test_usage(void **state)
{
    (void)state;
    char *none[] = {"local", NULL};
    assert_int_equal(svc_local_main(1, none), 2);
    char *both[] = {"local", "--logdir", "a", "--logdir_spec", "b:c", NULL};
    assert_int_equal(svc_local_main(5, both), 2);
    char *extra[] = {"local", "--logdir", "a", "stray", NULL};
    assert_int_equal(svc_local_main(4, extra), 2);
}

/* A whole run: the link once the first batch is stored, the read API and the page, nothing
 * else, a second one on the same cache refused, Ctrl-C: exit 0. */
static void test_main(void **state)
{
    struct fx *f = *state;
    mkdir(at(f, "logs"), 0755);
    mkdir(at(f, "logs/run"), 0755);
    write_run(at(f, "logs/run/events.out.tfevents.1.x"), 20);
    char db[512];
    snprintf(db, sizeof(db), "%s", at(f, "cache.db"));
    const char *args[] = {"--logdir", at(f, "logs"), "--port", "0", "--db", db, "-q"};
    struct child c;
    child_start(&c, args, 7);
    int port = child_port(&c);
    assert_true(port > 0);
    static char out[65536];
    assert_int_equal(http(port, "GET", "/api/v1/local", out, sizeof(out)), 200);
    assert_non_null(strstr(out, "\"values_stored\":20"));
    char *id = strstr(out, "\"experiment_id\":\"");
    assert_non_null(id);
    char exp[23];
    memcpy(exp, id + 17, 22);
    exp[22] = 0;
    char path[200];
    assert_int_equal(http(port, "GET", "/", out, sizeof(out)), 302);
    snprintf(path, sizeof(path), "Location: /experiment/%s/", exp);
    assert_non_null(strstr(out, path));
    snprintf(path, sizeof(path), "/experiment/%s/", exp);
    assert_int_equal(http(port, "GET", path, out, sizeof(out)), 200);
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/scalars?tag=t&points=all", exp);
    assert_int_equal(http(port, "GET", path, out, sizeof(out)), 200);
    assert_non_null(strstr(out, "\"total\":20"));
    /* not routed in local mode */
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/events", exp);
    assert_int_equal(http(port, "POST", path, out, sizeof(out)), 404);
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", exp);
    assert_int_equal(http(port, "DELETE", path, out, sizeof(out)), 405);
    assert_int_equal(http(port, "POST", "/api/v1/login", out, sizeof(out)), 404);
    assert_int_equal(http(port, "GET", "/api/v1/me", out, sizeof(out)), 404);
    assert_int_equal(http(port, "GET", "/api/v1/experiments", out, sizeof(out)), 404);
    assert_int_equal(http(port, "GET", "/device", out, sizeof(out)), 404);
    /* the same cache again: refused while the first one runs */
    const char *again[] = {"--logdir", at(f, "logs"), "--port", "0", "--db", db, "-q"};
    struct child c2;
    child_start(&c2, again, 7);
    assert_int_equal(child_port(&c2), 0);
    assert_int_equal(child_wait(&c2), 1);
    kill(c.pid, SIGINT);
    assert_int_equal(child_wait(&c), 0);
    /* a restart reads nothing again */
    child_start(&c, args, 7);
    port = child_port(&c);
    assert_true(port > 0);
    assert_int_equal(http(port, "GET", "/api/v1/local", out, sizeof(out)), 200);
    assert_non_null(strstr(out, "\"records_read\":0"));
    kill(c.pid, SIGTERM);
    assert_int_equal(child_wait(&c), 0);
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_path, setup, teardown),
        cmocka_unit_test(test_upload_command),
        cmocka_unit_test(test_usage),
        cmocka_unit_test_setup_teardown(test_main, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
