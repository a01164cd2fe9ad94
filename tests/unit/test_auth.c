/* SPDX-License-Identifier: MIT */
/* Unit tests for auth: password hashes, and the dummy hash that makes every failed sign-in
 * cost the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_hash_and_check(void **state)
{
    (void)state;
    char h[256];
    assert_int_equal(svc_password_hash("short", h, sizeof(h)), -22); /* -EINVAL */
    assert_int_equal(svc_password_hash("a good password", h, sizeof(h)), 0);
    assert_true(!strncmp(h, "scrypt$1024$8$1$", 16));
    assert_true(svc_password_check("a good password", h));
    assert_false(svc_password_check("a good passwore", h));
    assert_false(svc_password_check("a good password", "scrypt$bad"));
    assert_false(svc_password_check(NULL, h));
}

static void test_dummy_matches_nothing_and_costs_the_same(void **state)
{
    (void)state;
    const char *d = svc_password_dummy();
    assert_true(!strncmp(d, "scrypt$1024$8$1$", 16)); /* today's parameters */
    assert_ptr_equal(d, svc_password_dummy());        /* made once */
    assert_false(svc_password_check("", d));
    assert_false(svc_password_check("a good password", d));
    char h[256];
    assert_int_equal(svc_password_hash("a good password", h, sizeof(h)), 0);
    /* The same scrypt runs for both: at N=1024 each takes about a millisecond; the ratio of
     * the fastest of many runs stays near 1 (the old dummy used N=1024 against 32768). */
    double best_real = 1e9, best_dummy = 1e9;
    for (int i = 0; i < 15; i++) {
        double t0 = now();
        svc_password_check("wrong password", h);
        double t1 = now();
        svc_password_check("wrong password", d);
        double t2 = now();
        best_real = t1 - t0 < best_real ? t1 - t0 : best_real;
        best_dummy = t2 - t1 < best_dummy ? t2 - t1 : best_dummy;
    }
    double ratio = best_dummy / best_real;
    assert_true(ratio > 0.5 && ratio < 2.0);
}

static void test_secrets(void **state)
{
    (void)state;
    char t[SVC_TOKEN_LEN + 1], u[10];
    assert_int_equal(svc_token_new(t), 0);
    assert_int_equal(strlen(t), SVC_TOKEN_LEN);
    assert_true(!strncmp(t, SVC_TOKEN_PREFIX, strlen(SVC_TOKEN_PREFIX)));
    assert_int_equal(svc_user_code_new(u), 0);
    assert_int_equal(strlen(u), 9);
    assert_int_equal(u[4], '-');
}

int main(void)
{
    /* Cheap hashes for the test; the dummy follows whatever N hashing uses. */
    setenv("TBDEV_SCRYPT_N", "1024", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_check),
        cmocka_unit_test(test_dummy_matches_nothing_and_costs_the_same),
        cmocka_unit_test(test_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
