/* SPDX-License-Identifier: MIT */
/* Unit tests for uploader/cli (common options, checks, formats) and uploader/creds (logins
 * per server in the credentials file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "creds.h"

static void test_url_normalise(void **state)
{
    (void)state;
    char out[256];
    assert_true(up_url_normalise("HTTPS://TB.Example.org:443/", out, sizeof(out)));
    assert_string_equal(out, "https://tb.example.org");
    assert_true(up_url_normalise("http://127.0.0.1:8080//", out, sizeof(out)));
    assert_string_equal(out, "http://127.0.0.1:8080");
    assert_true(up_url_normalise("http://host:80/tb/", out, sizeof(out)));
    assert_string_equal(out, "http://host/tb");
    assert_true(up_url_normalise("https://[::1]:8443", out, sizeof(out)));
    assert_string_equal(out, "https://[::1]:8443");
    assert_false(up_url_normalise("ftp://x", out, sizeof(out)));
    assert_false(up_url_normalise("https://", out, sizeof(out)));
    assert_false(up_url_normalise("tb.example.org", out, sizeof(out)));
}

static void test_experiment_ids(void **state)
{
    (void)state;
    assert_true(up_experiment_id_ok("0U9EqFROOfsnWQ9X7iu4Fg"));
    assert_true(up_experiment_id_ok("a-b_cdefghijklmnopqrst"));
    assert_false(up_experiment_id_ok("x/y"));
    assert_false(up_experiment_id_ok("bad id!"));
    assert_false(up_experiment_id_ok("0U9EqFROOfsnWQ9X7iu4F"));   /* 21 */
    assert_false(up_experiment_id_ok("0U9EqFROOfsnWQ9X7iu4Fgg")); /* 23 */
    assert_false(up_experiment_id_ok("0U9EqFROOfsnWQ9X7iu4F/"));
    assert_false(up_experiment_id_ok(""));
    assert_false(up_experiment_id_ok(NULL));
}

static void test_formats(void **state)
{
    (void)state;
    char b[64];
    up_human_bytes(b, sizeof(b), 32768);
    assert_string_equal(b, "32.0 KiB");
    up_human_bytes(b, sizeof(b), 999);
    assert_string_equal(b, "999 B");
    up_human_bytes(b, sizeof(b), 3.5 * 1048576);
    assert_string_equal(b, "3.5 MiB");
    assert_string_equal(up_plural(1, "run", "runs", b, sizeof(b)), "1 run");
    assert_string_equal(up_plural(0, "run", "runs", b, sizeof(b)), "0 runs");
    assert_string_equal(up_plural(12, "file", "files", b, sizeof(b)), "12 files");
}

struct vcfg {
    struct up_common c;
    const char *logdir;
};

static const struct tb_opt own[] = {
    {"logdir", 0, TB_OPT_STRING, offsetof(struct vcfg, logdir), "DIR", NULL, "x"},
};

static void no_help(void) {}

static long long verbose_of(int argc, char **argv, int *ret_rc)
{
    struct vcfg c = {0};
    *ret_rc = up_cli_parse("t", own, 1, no_help, argc, argv, &c, true, NULL);
    return c.c.verbose;
}

/* --verbose 0 and 1 as TensorBoard.dev; -v alone and 2 for every request; -q; --origin. */
static void test_common_options(void **state)
{
    (void)state;
    int rc;
    char *a1[] = {"t", "--verbose", "0", "--logdir", "d", NULL};
    assert_int_equal(verbose_of(5, a1, &rc), 0);
    assert_int_equal(rc, -1);
    char *a2[] = {"t", "--logdir", "d", NULL};
    assert_int_equal(verbose_of(3, a2, &rc), 1);
    char *a3[] = {"t", "-v", "--logdir", "d", NULL};
    assert_int_equal(verbose_of(4, a3, &rc), 2);
    char *a4[] = {"t", "--verbose=1", NULL};
    assert_int_equal(verbose_of(2, a4, &rc), 1);
    char *a5[] = {"t", "-q", NULL};
    assert_int_equal(verbose_of(2, a5, &rc), 0);
    char *a6[] = {"t", "--verbose", "7", NULL};
    verbose_of(3, a6, &rc);
    assert_int_equal(rc, 2); /* a usage error */
    struct vcfg c = {0};
    char *a7[] = {"t", "--origin", "https://tb.example.org", NULL};
    assert_int_equal(up_cli_parse("t", own, 1, no_help, 3, a7, &c, true, NULL), -1);
    assert_string_equal(c.c.server, "https://tb.example.org");
    char *a8[] = {"t", "stray", NULL};
    assert_int_equal(up_cli_parse("t", own, 1, no_help, 2, a8, &c, true, NULL), 2);
}

/* ---- creds ---- */

static char dir[64];

static int creds_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tbdev-test-creds-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    setenv("XDG_CONFIG_HOME", dir, 1);
    unsetenv("TBDEV_SERVER");
    unsetenv("TBDEV_TOKEN");
    unsetenv("TBDEV_CACERT");
    return 0;
}

static int creds_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void save(const char *server, const char *token, const char *user)
{
    struct up_creds c = {0};
    snprintf(c.server, sizeof(c.server), "%s", server);
    snprintf(c.token, sizeof(c.token), "%s", token);
    snprintf(c.user, sizeof(c.user), "%s", user);
    assert_int_equal(up_creds_save(&c), 0);
}

static int count(void *ctx, const struct up_creds *c, bool is_default)
{
    (void)c;
    (void)is_default;
    (*(int *)ctx)++;
    return 0;
}

static void test_creds_per_server(void **state)
{
    (void)state;
    char err[300];
    struct up_creds c;
    assert_int_equal(up_creds_load(&c, NULL, err, sizeof(err)), 0); /* no file yet */
    assert_string_equal(c.server, "");
    save("https://A.example.org/", "tbdev_a", "ann");
    save("http://127.0.0.1:8080", "tbdev_b", "bob");
    /* the last login is the default; each server keeps its own token */
    assert_int_equal(up_creds_load(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.server, "http://127.0.0.1:8080");
    assert_string_equal(c.token, "tbdev_b");
    assert_string_equal(c.token_source, "file");
    assert_int_equal(up_creds_load(&c, "https://a.example.org:443", err, sizeof(err)), 0);
    assert_string_equal(c.token, "tbdev_a");
    assert_string_equal(c.user, "ann");
    /* a server without a login: no token, whatever the default holds */
    assert_int_equal(up_creds_load(&c, "https://other.example.org", err, sizeof(err)), 0);
    assert_string_equal(c.token, "");
    int n = 0;
    assert_int_equal(up_creds_each(count, &n, err, sizeof(err)), 2);
    assert_int_equal(n, 2);
    /* the same server again replaces its entry */
    save("HTTPS://a.example.org", "tbdev_a2", "ann");
    n = 0;
    assert_int_equal(up_creds_each(count, &n, err, sizeof(err)), 2);
    assert_int_equal(up_creds_load(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.token, "tbdev_a2"); /* and becomes the default */
    /* TBDEV_TOKEN wins, and says so */
    setenv("TBDEV_TOKEN", "tbdev_env", 1);
    assert_int_equal(up_creds_load(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.token, "tbdev_env");
    assert_string_equal(c.token_source, "TBDEV_TOKEN");
    unsetenv("TBDEV_TOKEN");
    /* logout of one server keeps the other, which becomes the default */
    assert_int_equal(up_creds_load(&c, NULL, err, sizeof(err)), 0);
    assert_int_equal(up_creds_remove(&c), 1);
    assert_int_equal(up_creds_load(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.server, "http://127.0.0.1:8080");
    assert_int_equal(up_creds_remove(&c), 1);
    n = 0;
    assert_int_equal(up_creds_each(count, &n, err, sizeof(err)), 0);
}

/* The file older versions wrote (one server, no sections) is read, and a file others can
 * read is refused. */
static void test_creds_old_format_and_mode(void **state)
{
    (void)state;
    char path[256], sub[200];
    snprintf(sub, sizeof(sub), "%s/tbdev", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof(path), "%s/credentials", sub);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# old\nserver=https://tb.example.org/\ntoken=tbdev_old\nuser=carl\n");
    fclose(f);
    chmod(path, 0600);
    char err[300];
    struct up_creds c;
    assert_int_equal(up_creds_load(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://tb.example.org");
    assert_string_equal(c.token, "tbdev_old");
    chmod(path, 0644);
    assert_int_equal(up_creds_load(&c, NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "chmod 600"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_normalise),
        cmocka_unit_test(test_experiment_ids),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_common_options),
        cmocka_unit_test_setup_teardown(test_creds_per_server, creds_setup, creds_teardown),
        cmocka_unit_test_setup_teardown(test_creds_old_format_and_mode, creds_setup,
                                        creds_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
