/* SPDX-License-Identifier: MIT */
/* Unit tests for throttle: bursts, refill, give-back, a full table that keeps the buckets of
 * keys under attack, and address keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "throttle.h"

static void test_burst_then_wait(void **state)
{
    (void)state;
    struct svc_throttle *t = svc_throttle_new(16, 10, 60); /* 10 a minute */
    assert_non_null(t);
    for (int i = 0; i < 10; i++)
        assert_int_equal(svc_throttle_take(t, "1.2.3.4", 100.0), 0);
    unsigned wait = svc_throttle_take(t, "1.2.3.4", 100.0);
    assert_true(wait >= 1 && wait <= 6); /* one attempt comes back every 6 s */
    /* other keys are not affected */
    assert_int_equal(svc_throttle_take(t, "1.2.3.5", 100.0), 0);
    /* after 6 s one more attempt, and only one */
    assert_int_equal(svc_throttle_take(t, "1.2.3.4", 106.1), 0);
    assert_true(svc_throttle_take(t, "1.2.3.4", 106.2) >= 1);
    /* after a minute, a full burst again, never more */
    for (int i = 0; i < 10; i++)
        assert_int_equal(svc_throttle_take(t, "1.2.3.4", 1000.0), 0);
    assert_true(svc_throttle_take(t, "1.2.3.4", 1000.0) >= 1);
    svc_throttle_free(t);
    svc_throttle_free(NULL);
}

static void test_give_back(void **state)
{
    (void)state;
    struct svc_throttle *t = svc_throttle_new(16, 3, 60);
    for (int i = 0; i < 3; i++)
        assert_int_equal(svc_throttle_take(t, "alice", 5.0), 0);
    assert_true(svc_throttle_take(t, "alice", 5.0) >= 1);
    svc_throttle_give(t, "alice", 5.0);
    assert_int_equal(svc_throttle_take(t, "alice", 5.0), 0);
    /* giving back never goes above the burst */
    for (int i = 0; i < 10; i++)
        svc_throttle_give(t, "bob", 5.0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(svc_throttle_take(t, "bob", 5.0), 0);
    assert_true(svc_throttle_take(t, "bob", 5.0) >= 1);
    svc_throttle_free(t);
}

static void test_full_table_keeps_attacked_keys(void **state)
{
    (void)state;
    struct svc_throttle *t = svc_throttle_new(8, 5, 60);
    /* "victim" is under attack: its bucket is empty */
    for (int i = 0; i < 5; i++)
        svc_throttle_take(t, "victim", 10.0);
    assert_true(svc_throttle_take(t, "victim", 10.0) >= 1);
    /* a thousand fresh keys, one attempt each, fill the table many times over */
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "fresh-%d", i);
        assert_int_equal(svc_throttle_take(t, key, 10.0), 0);
    }
    /* the victim's bucket was never the one to make room */
    assert_true(svc_throttle_take(t, "victim", 10.0) >= 1);
    /* and the table still works for the keys it holds */
    assert_int_equal(svc_throttle_take(t, "fresh-999", 10.0), 0);
    svc_throttle_free(t);
}

static void test_long_keys(void **state)
{
    (void)state;
    struct svc_throttle *t = svc_throttle_new(4, 1, 60);
    char a[300], b[300];
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = 0;
    memcpy(b, a, sizeof(b));
    b[200] = 'y'; /* differs past the 95 bytes kept: the same bucket */
    assert_int_equal(svc_throttle_take(t, a, 1.0), 0);
    assert_true(svc_throttle_take(t, b, 1.0) >= 1);
    svc_throttle_free(t);
}

static void test_addr_key(void **state)
{
    (void)state;
    char k[96];
    svc_throttle_addr_key("203.0.113.7", k, sizeof(k));
    assert_string_equal(k, "203.0.113.7");
    svc_throttle_addr_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k, sizeof(k));
    assert_string_equal(k, "2001:db8:1:2::/64");
    char k2[96];
    svc_throttle_addr_key("2001:db8:1:2::1", k2, sizeof(k2));
    assert_string_equal(k, k2); /* one /64, one bucket */
    svc_throttle_addr_key("::ffff:198.51.100.9", k, sizeof(k));
    assert_string_equal(k, "198.51.100.9");
    svc_throttle_addr_key("?", k, sizeof(k));
    assert_string_equal(k, "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_wait),
        cmocka_unit_test(test_give_back),
        cmocka_unit_test(test_full_table_keeps_attacked_keys),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_addr_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
