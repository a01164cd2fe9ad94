/* SPDX-License-Identifier: MIT */
/* Unit tests for uploader/budget: request splitting after 413 too_large. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "budget.h"

/* A server that takes at most `limit` record bytes per request, and records of `rec` bytes:
 * how many requests, refusals and skips does sending `total` records take? */
struct sim {
    size_t requests, refusals, skipped, sent;
};

static struct sim simulate(size_t max, size_t limit, const size_t *recs, size_t n)
{
    struct up_budget b;
    up_budget_init(&b, max);
    struct sim s = {0};
    size_t at = 0;
    while (at < n) {
        size_t bytes = 0, k = 0;
        while (at + k < n && (k == 0 || bytes + recs[at + k] <= b.cur))
            bytes += recs[at + k++];
        s.requests++;
        assert_true(s.requests < 10000);
        if (bytes <= limit) {
            s.sent += k;
            at += k;
            up_budget_taken(&b);
            continue;
        }
        s.refusals++;
        if (up_budget_refused(&b, k, bytes) == UP_SKIP_RECORD) {
            assert_int_equal(k, 1);
            s.skipped++;
            at++;
        }
    }
    return s;
}

static void test_fits(void **state)
{
    (void)state;
    size_t recs[100];
    for (int i = 0; i < 100; i++)
        recs[i] = 100;
    struct sim s = simulate(1000, 1000, recs, 100);
    assert_int_equal(s.refusals, 0);
    assert_int_equal(s.sent, 100);
    assert_int_equal(s.requests, 10);
}

static void test_server_takes_less_than_it_says(void **state)
{
    (void)state;
    static size_t recs[10000];
    for (int i = 0; i < 10000; i++)
        recs[i] = 40;
    /* advertised 8 MB, takes 100 kB: a few refusals, then everything goes */
    struct sim s = simulate(8u << 20, 100000, recs, 10000);
    assert_int_equal(s.sent, 10000);
    assert_int_equal(s.skipped, 0);
    assert_true(s.refusals > 0 && s.refusals < 20);
}

static void test_one_record_too_large_is_skipped(void **state)
{
    (void)state;
    size_t recs[5] = {10, 10, 5000, 10, 10};
    struct sim s = simulate(100000, 1000, recs, 5);
    assert_int_equal(s.skipped, 1);
    assert_int_equal(s.sent, 4);
}

static void test_budget_halves_and_recovers(void **state)
{
    (void)state;
    struct up_budget b;
    up_budget_init(&b, 1024);
    assert_int_equal(up_budget_refused(&b, 10, 1000), UP_SPLIT);
    assert_int_equal(b.cur, 500);
    assert_int_equal(up_budget_refused(&b, 2, 100), UP_SPLIT);
    assert_int_equal(b.cur, 50);
    assert_int_equal(up_budget_refused(&b, 1, 50), UP_SKIP_RECORD);
    up_budget_taken(&b);
    assert_int_equal(b.cur, 100);
    for (int i = 0; i < 10; i++)
        up_budget_taken(&b);
    assert_int_equal(b.cur, 1024);
    up_budget_init(&b, 0);
    assert_int_equal(b.cur, 1);
    assert_int_equal(up_budget_refused(&b, 3, 1), UP_SPLIT);
    assert_int_equal(b.cur, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_server_takes_less_than_it_says),
        cmocka_unit_test(test_one_record_too_large_is_skipped),
        cmocka_unit_test(test_budget_halves_and_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
