/* SPDX-License-Identifier: MIT */
/* Unit tests for localopts: local mode's options, logdir specs, paths and run names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localopts.h"

/* Parses argv (after the command name) into o; returns tb_opts_parse's result. */
static int parse(struct tb_local_options *o, const char *const *args, int n)
{
    char *argv[16];
    argv[0] = "serve";
    for (int i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    tb_local_options_defaults(o);
    int optind_ = 0;
    char err[200];
    return tb_opts_parse(tb_local_options, tb_local_options_n, n + 1, argv, o, &optind_, err,
                         sizeof(err));
}

static void test_defaults_and_flags(void **state)
{
    (void)state;
    struct tb_local_options o;
    const char *a[] = {"--logdir", "logs"};
    assert_int_equal(parse(&o, a, 2), 0);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 6006);
    assert_int_equal(o.poll_interval, 1);
    assert_null(o.db);
    assert_false(o.quiet);
    const char *b[] = {"--logdir=x", "--port", "0",  "--host",          "0.0.0.0",
                       "--db",       "f.db",   "-q", "--poll_interval", "7"};
    assert_int_equal(parse(&o, b, 10), 0);
    assert_string_equal(o.logdir, "x");
    assert_int_equal(o.port, 0);
    assert_string_equal(o.host, "0.0.0.0");
    assert_string_equal(o.db, "f.db");
    assert_true(o.quiet);
    assert_int_equal(o.poll_interval, 7);
    const char *c[] = {"--help"};
    assert_int_equal(parse(&o, c, 1), 1);
}

static void test_abs_path(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(tb_local_abs_path("/home/ann", "logs", out, sizeof(out)), 0);
    assert_string_equal(out, "/home/ann/logs");
    assert_int_equal(tb_local_abs_path("/home/ann", "./logs/", out, sizeof(out)), 0);
    assert_string_equal(out, "/home/ann/logs");
    assert_int_equal(tb_local_abs_path("/home/ann", "../bob//x/./y/..", out, sizeof(out)), 0);
    assert_string_equal(out, "/home/bob/x");
    assert_int_equal(tb_local_abs_path("/home/ann", "/abs", out, sizeof(out)), 0);
    assert_string_equal(out, "/abs");
    assert_int_equal(tb_local_abs_path("/", "../../..", out, sizeof(out)), 0);
    assert_string_equal(out, "/");
    assert_int_equal(tb_local_abs_path("/a", "", out, sizeof(out)), -EINVAL);
    char small[8];
    assert_int_equal(tb_local_abs_path("/home/ann", "logs", small, sizeof(small)), -E2BIG);
}

/* Checks o and returns the logdirs (or NULL with err set). */
static struct tb_local_logdir *dirs(struct tb_local_options *o, size_t *n, char *err)
{
    struct tb_local_logdir *l = NULL;
    err[0] = 0;
    if (tb_local_logdirs(o, "/w", &l, n, err, 200) < 0)
        return NULL;
    return l;
}

static void test_logdirs(void **state)
{
    (void)state;
    struct tb_local_options o;
    char err[200];
    size_t n = 0;
    tb_local_options_defaults(&o);
    assert_null(dirs(&o, &n, err));
    assert_non_null(strstr(err, "missing --logdir"));
    o.logdir = "logs/";
    struct tb_local_logdir *l = dirs(&o, &n, err);
    assert_non_null(l);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].name, "");
    assert_string_equal(l[0].path, "/w/logs");
    tb_local_logdirs_free(l, n);
    o.logdir_spec = "a:x";
    assert_null(dirs(&o, &n, err));
    assert_non_null(strstr(err, "not both"));
    o.logdir = NULL;
    o.logdir_spec = "train:runs/a,eval:/data/b,base";
    l = dirs(&o, &n, err);
    assert_non_null(l);
    assert_int_equal(n, 3);
    assert_string_equal(l[0].name, "train");
    assert_string_equal(l[0].path, "/w/runs/a");
    assert_string_equal(l[1].name, "eval");
    assert_string_equal(l[1].path, "/data/b");
    assert_string_equal(l[2].name, "");
    assert_string_equal(l[2].path, "/w/base");
    tb_local_logdirs_free(l, n);
    /* a path with ':' after the name keeps it */
    o.logdir_spec = "t:/data/a:b";
    l = dirs(&o, &n, err);
    assert_non_null(l);
    assert_string_equal(l[0].path, "/data/a:b");
    tb_local_logdirs_free(l, n);
    const char *bad[][2] = {
        {"a:x,a:y", "twice"},           {"a:x,,b:y", "empty entry"},
        {"a:", "no directory"},         {":x", "the name"},
        {"a/b:x", "the name"},          {"x,y", "give each logdir"},
        {"ok:x,bad\x01name:y", "name"}, {",", "empty entry"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.logdir_spec = bad[i][0];
        assert_null(dirs(&o, &n, err));
        if (!strstr(err, bad[i][1]))
            fail_msg("spec '%s': '%s' does not say '%s'", bad[i][0], err, bad[i][1]);
    }
    o.logdir_spec = NULL;
    o.logdir = "x";
    o.port = 65536;
    assert_null(dirs(&o, &n, err));
    assert_non_null(strstr(err, "--port"));
    o.port = 6006;
    o.poll_interval = 0;
    assert_null(dirs(&o, &n, err));
    assert_non_null(strstr(err, "--poll_interval"));
    o.poll_interval = 1;
    o.host = "";
    assert_null(dirs(&o, &n, err));
    assert_non_null(strstr(err, "--host"));
}

static void test_run_names_and_loopback(void **state)
{
    (void)state;
    char *s = tb_local_run_name("train", ".");
    assert_string_equal(s, "train");
    free(s);
    s = tb_local_run_name("train", "a/b");
    assert_string_equal(s, "train/a/b");
    free(s);
    s = tb_local_run_name("", "a/b");
    assert_string_equal(s, "a/b");
    free(s);
    s = tb_local_run_name(NULL, ".");
    assert_string_equal(s, ".");
    free(s);
    assert_true(tb_local_is_loopback("127.0.0.1"));
    assert_true(tb_local_is_loopback("127.1.2.3"));
    assert_true(tb_local_is_loopback("::1"));
    assert_true(tb_local_is_loopback("localhost"));
    assert_false(tb_local_is_loopback("0.0.0.0"));
    assert_false(tb_local_is_loopback("::"));
    assert_false(tb_local_is_loopback("10.0.0.1"));
    assert_false(tb_local_is_loopback("127.0.0.1x"));
    assert_false(tb_local_is_loopback("127.0.0.300"));
}

static void test_usage_names_every_option(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tb_local_usage(f);
    fclose(f);
    for (size_t i = 0; i < tb_local_options_n; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", tb_local_options[i].name);
        if (!strstr(buf, flag))
            fail_msg("usage does not name %s", flag);
    }
    assert_non_null(strstr(buf, "Exit status"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_flags),
        cmocka_unit_test(test_abs_path),
        cmocka_unit_test(test_logdirs),
        cmocka_unit_test(test_run_names_and_loopback),
        cmocka_unit_test(test_usage_names_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
