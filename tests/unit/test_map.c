/* SPDX-License-Identifier: MIT */
/* Unit tests for map: put, get, replace, key ownership, growth to 100k keys, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

static void test_empty(void **state)
{
    (void)state;
    struct tb_map m;
    tb_map_init(&m);
    assert_int_equal(m.len, 0);
    assert_int_equal(m.cap, 0);
    assert_null(tb_map_get(&m, "anything"));
    assert_null(tb_map_get(&m, ""));
    tb_map_done(&m);
    tb_map_done(&m); /* done twice is harmless: done leaves an empty map */
}

static void test_put_get_replace(void **state)
{
    (void)state;
    struct tb_map m;
    int a = 1, b = 2, c = 3;
    tb_map_init(&m);
    assert_int_equal(tb_map_put(&m, "alpha", &a), 0);
    assert_int_equal(tb_map_put(&m, "beta", &b), 0);
    assert_int_equal(tb_map_put(&m, "", &c), 0);
    assert_int_equal(m.len, 3);
    assert_ptr_equal(tb_map_get(&m, "alpha"), &a);
    assert_ptr_equal(tb_map_get(&m, "beta"), &b);
    assert_ptr_equal(tb_map_get(&m, ""), &c);
    assert_null(tb_map_get(&m, "alph"));
    assert_null(tb_map_get(&m, "alphaa"));
    assert_null(tb_map_get(&m, "Alpha"));

    assert_int_equal(tb_map_put(&m, "alpha", &c), 0);
    assert_int_equal(m.len, 3);
    assert_ptr_equal(tb_map_get(&m, "alpha"), &c);
    assert_ptr_equal(tb_map_get(&m, "beta"), &b);
    tb_map_done(&m);
}

/* The map copies keys: the caller's buffer can change or go away. */
static void test_keys_are_copied(void **state)
{
    (void)state;
    struct tb_map m;
    int v = 7;
    char *key = strdup("run/train");
    assert_non_null(key);
    tb_map_init(&m);
    assert_int_equal(tb_map_put(&m, key, &v), 0);
    key[0] = 'X';
    assert_null(tb_map_get(&m, key));
    assert_ptr_equal(tb_map_get(&m, "run/train"), &v);
    free(key);
    assert_ptr_equal(tb_map_get(&m, "run/train"), &v);
    tb_map_done(&m);
}

/* Values are borrowed: the map never frees them (if it did, the read and free below would be
 * a use-after-free and a double free under ASan). */
static void test_values_are_borrowed(void **state)
{
    (void)state;
    struct tb_map m;
    tb_map_init(&m);
    char *owned = strdup("value");
    assert_non_null(owned);
    assert_int_equal(tb_map_put(&m, "k", owned), 0);
    assert_int_equal(tb_map_put(&m, "null", NULL), 0);
    assert_int_equal(m.len, 2);
    tb_map_done(&m);
    assert_string_equal(owned, "value");
    free(owned);
    assert_int_equal(m.len, 0);
    assert_null(m.slots);
}

static void test_growth_100k(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct tb_map m;
    int *vals = malloc(N * sizeof(*vals));
    assert_non_null(vals);
    tb_map_init(&m);
    char key[32];
    for (int i = 0; i < N; i++) {
        vals[i] = i;
        snprintf(key, sizeof(key), "tag/%d", i);
        assert_int_equal(tb_map_put(&m, key, &vals[i]), 0);
    }
    assert_int_equal(m.len, N);
    assert_true(m.cap >= N);
    assert_int_equal(m.cap & (m.cap - 1), 0); /* a power of two */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "tag/%d", i);
        int *v = tb_map_get(&m, key);
        if (v != &vals[i])
            fail_msg("key %s lost after growth", key);
    }
    for (int i = N; i < N + 1000; i++) {
        snprintf(key, sizeof(key), "tag/%d", i);
        assert_null(tb_map_get(&m, key));
    }
    /* replacing every key keeps the count */
    for (int i = 0; i < N; i += 2) {
        snprintf(key, sizeof(key), "tag/%d", i);
        assert_int_equal(tb_map_put(&m, key, &vals[N - 1 - i]), 0);
    }
    assert_int_equal(m.len, N);
    assert_ptr_equal(tb_map_get(&m, "tag/0"), &vals[N - 1]);
    assert_ptr_equal(tb_map_get(&m, "tag/1"), &vals[1]);

    /* iteration as the header shows it visits each key once */
    size_t seen = 0;
    long long sum = 0;
    for (size_t i = 0; i < m.cap; i++) {
        if (!m.slots[i].key)
            continue;
        seen++;
        int idx;
        assert_int_equal(sscanf(m.slots[i].key, "tag/%d", &idx), 1);
        sum += idx;
    }
    assert_int_equal(seen, N);
    assert_true(sum == (long long)N * (N - 1) / 2);
    tb_map_done(&m);
    assert_int_equal(m.len, 0);
    free(vals);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),           cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_keys_are_copied), cmocka_unit_test(test_values_are_borrowed),
        cmocka_unit_test(test_growth_100k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
