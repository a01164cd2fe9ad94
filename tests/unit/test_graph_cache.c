/* SPDX-License-Identifier: MIT */
/* Unit tests for graph_cache: values copied in and out, replaced, evicted least recently used
 * first by count and by bytes, too-big values refused, and many threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "graph_cache.h"

static int get(struct svc_graph_cache *c, const char *key, char *out, size_t cap)
{
    struct tb_buf b;
    tb_buf_init(&b, 1u << 20);
    int r = svc_graph_cache_get(c, key, strlen(key), &b);
    if (r == 1) {
        assert_true(b.len < cap);
        memcpy(out, b.data, b.len);
        out[b.len] = 0;
    }
    tb_buf_done(&b);
    return r;
}

static void test_put_get_replace(void **state)
{
    (void)state;
    struct svc_graph_cache *c = svc_graph_cache_new(1 << 20, 8);
    assert_non_null(c);
    char v[64];
    assert_int_equal(get(c, "k", v, sizeof(v)), 0);
    char val[] = "hello";
    assert_int_equal(svc_graph_cache_put(c, "k", 1, val, 5), 1);
    val[0] = 'j'; /* copied in: changing the caller's bytes changes nothing */
    assert_int_equal(get(c, "k", v, sizeof(v)), 1);
    assert_string_equal(v, "hello");
    assert_int_equal(svc_graph_cache_put(c, "k", 1, "bye", 3), 1);
    assert_int_equal(get(c, "k", v, sizeof(v)), 1);
    assert_string_equal(v, "bye");
    size_t n, bytes;
    svc_graph_cache_usage(c, &n, &bytes);
    assert_int_equal(n, 1);
    assert_true(bytes >= 4);
    /* keys are bytes: "k" and "k\0" differ */
    assert_int_equal(svc_graph_cache_put(c, "k\0", 2, "z", 1), 1);
    svc_graph_cache_usage(c, &n, &bytes);
    assert_int_equal(n, 2);
    svc_graph_cache_free(c);
    svc_graph_cache_free(NULL);
}

static void test_lru_by_count(void **state)
{
    (void)state;
    struct svc_graph_cache *c = svc_graph_cache_new(1 << 20, 3);
    char v[64];
    svc_graph_cache_put(c, "a", 1, "1", 1);
    svc_graph_cache_put(c, "b", 1, "2", 1);
    svc_graph_cache_put(c, "c", 1, "3", 1);
    assert_int_equal(get(c, "a", v, sizeof(v)), 1); /* a used: b is now the oldest */
    svc_graph_cache_put(c, "d", 1, "4", 1);
    assert_int_equal(get(c, "b", v, sizeof(v)), 0);
    assert_int_equal(get(c, "a", v, sizeof(v)), 1);
    assert_int_equal(get(c, "c", v, sizeof(v)), 1);
    assert_int_equal(get(c, "d", v, sizeof(v)), 1);
    size_t n, bytes;
    svc_graph_cache_usage(c, &n, &bytes);
    assert_int_equal(n, 3);
    svc_graph_cache_free(c);
}

static void test_lru_by_bytes(void **state)
{
    (void)state;
    size_t max = 4000;
    struct svc_graph_cache *c = svc_graph_cache_new(max, 100);
    char big[900];
    memset(big, 'x', sizeof(big));
    char key[8];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%02d", i);
        assert_int_equal(svc_graph_cache_put(c, key, strlen(key), big, sizeof(big)), 1);
        size_t n, bytes;
        svc_graph_cache_usage(c, &n, &bytes);
        assert_true(bytes <= max);
    }
    char v[1000];
    assert_int_equal(get(c, "k19", v, sizeof(v)), 1); /* the newest kept */
    assert_int_equal(get(c, "k00", v, sizeof(v)), 0); /* the oldest gone */
    /* over a quarter of the budget: not kept, nothing evicted for it */
    size_t n0, b0;
    svc_graph_cache_usage(c, &n0, &b0);
    char *huge = calloc(1, max / 4 + 1);
    assert_int_equal(svc_graph_cache_put(c, "h", 1, huge, max / 4 + 1), 0);
    size_t n1, b1;
    svc_graph_cache_usage(c, &n1, &b1);
    assert_int_equal(n0, n1);
    assert_int_equal(b0, b1);
    free(huge);
    svc_graph_cache_free(c);
}

static struct svc_graph_cache *shared;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    char key[16], val[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "t%d-%d", id, i % 50);
        snprintf(val, sizeof(val), "v%d-%d", id, i % 50);
        svc_graph_cache_put(shared, key, strlen(key), val, strlen(val));
        struct tb_buf b;
        tb_buf_init(&b, 1024);
        if (svc_graph_cache_get(shared, key, strlen(key), &b) == 1)
            assert_memory_equal(b.data, val, strlen(val));
        tb_buf_done(&b);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    shared = svc_graph_cache_new(64 << 10, 64);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    size_t n, bytes;
    svc_graph_cache_usage(shared, &n, &bytes);
    assert_true(n <= 64 && bytes <= (64 << 10));
    svc_graph_cache_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_lru_by_count),
        cmocka_unit_test(test_lru_by_bytes),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
