/* SPDX-License-Identifier: MIT */
/* Unit tests for downsample: TensorBoard's restart rule, M4 downsampling, smoothing, windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "downsample.h"

static struct svc_point *series(size_t n, double (*f)(size_t))
{
    struct svc_point *p = calloc(n, sizeof(*p));
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (struct svc_point){(int64_t)i * 10, 1000.0 + (double)i, f(i), (int64_t)i};
    return p;
}

static double noisy(size_t i)
{
    return sin((double)i / 30) + 0.3 * sin((double)i * 7.7) + (i == 777 ? 5 : 0);
}

static double constant(size_t i)
{
    (void)i;
    return 0.25;
}

/* TensorBoard's classicSmoothing, written out as its TypeScript has it. */
static void reference_smooth(const struct svc_point *p, size_t n, double w, double *out)
{
    bool is_constant = true;
    for (size_t i = 0; i < n; i++)
        if (!(p[i].value == p[0].value))
            is_constant = false;
    double last = n ? 0 : NAN;
    int acc = 0;
    for (size_t i = 0; i < n; i++) {
        double y = p[i].value;
        if (is_constant || !isfinite(y)) {
            out[i] = y;
            continue;
        }
        last = last * w + (1 - w) * y;
        acc++;
        double debias = w == 1 ? 1 : 1 - pow(w, acc);
        out[i] = last / debias;
    }
}

static void test_smooth_matches_tensorboard(void **state)
{
    (void)state;
    const size_t n = 5000;
    struct svc_point *p = series(n, noisy);
    p[10].value = NAN;
    p[11].value = INFINITY;
    double *got = malloc(n * sizeof(double)), *want = malloc(n * sizeof(double));
    const double weights[] = {0, 0.3, 0.6, 0.9, 0.99, 0.999, 1};
    for (size_t k = 0; k < sizeof(weights) / sizeof(weights[0]); k++) {
        svc_smooth(p, n, weights[k], got);
        reference_smooth(p, n, weights[k], want);
        for (size_t i = 0; i < n; i++) {
            if (isnan(want[i])) {
                assert_true(isnan(got[i]));
                continue;
            }
            /* the same operations in the same order: the same doubles */
            if (got[i] != want[i])
                fail_msg("weight %g point %zu: %.17g, TensorBoard %.17g", weights[k], i, got[i],
                         want[i]);
        }
    }
    assert_true(isinf(got[11]));
    free(p);
    p = series(100, constant);
    svc_smooth(p, 100, 0.9, got);
    for (size_t i = 0; i < 100; i++)
        assert_true(got[i] == 0.25); /* a constant series is left as it is */
    free(p);
    free(got);
    free(want);
}

/* The reason smoothing is done on the server: over every point, not over the downsampled
 * ones, which differ. */
static void test_smooth_before_downsample_differs(void **state)
{
    (void)state;
    const size_t n = 20000;
    struct svc_point *p = series(n, noisy);
    double *full = malloc(n * sizeof(double));
    svc_smooth(p, n, 0.6, full);
    size_t *idx = malloc(n * sizeof(size_t));
    size_t k = svc_downsample_idx(p, n, 1000, idx);
    struct svc_point *sub = malloc(k * sizeof(*sub));
    for (size_t i = 0; i < k; i++)
        sub[i] = p[idx[i]];
    double *coarse = malloc(k * sizeof(double));
    svc_smooth(sub, k, 0.6, coarse);
    double worst = 0;
    for (size_t i = 0; i < k; i++)
        worst = fmax(worst, fabs(coarse[i] - full[idx[i]]));
    assert_true(worst > 0.05);
    free(p);
    free(full);
    free(idx);
    free(sub);
    free(coarse);
}

static void test_downsample_keeps_extremes(void **state)
{
    (void)state;
    const size_t n = 100000;
    struct svc_point *p = series(n, noisy);
    double mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        mn = fmin(mn, p[i].value);
        mx = fmax(mx, p[i].value);
    }
    size_t *idx = malloc(1000 * sizeof(size_t));
    size_t k = svc_downsample_idx(p, n, 1000, idx);
    assert_true(k <= 1000 && k > 250);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[k - 1], n - 1);
    double got_mn = INFINITY, got_mx = -INFINITY;
    for (size_t i = 0; i < k; i++) {
        if (i)
            assert_true(idx[i] > idx[i - 1]);
        got_mn = fmin(got_mn, p[idx[i]].value);
        got_mx = fmax(got_mx, p[idx[i]].value);
    }
    assert_true(got_mn == mn && got_mx == mx); /* the spike at 777 survives */
    /* svc_downsample keeps the same points */
    size_t k2 = svc_downsample(p, n, 1000);
    assert_int_equal(k2, k);
    struct svc_point *q = series(n, noisy);
    for (size_t i = 0; i < k; i++)
        assert_true(p[i].step == q[idx[i]].step);
    /* small series are left whole */
    assert_int_equal(svc_downsample_idx(q, 500, 1000, idx), 500);
    size_t *all = malloc(2000 * sizeof(size_t));
    assert_int_equal(svc_downsample_idx(q, 2000, 0, all), 2000); /* target 0: every point */
    assert_int_equal(all[1999], 1999);
    free(all);
    free(p);
    free(q);
    free(idx);
}

static void test_step_window(void **state)
{
    (void)state;
    struct svc_point *p = series(100, noisy); /* steps 0, 10, ..., 990 */
    size_t lo, hi;
    svc_step_window(p, 100, 95, 300, &lo, &hi);
    assert_int_equal(lo, 10);
    assert_int_equal(hi, 31);
    svc_step_window(p, 100, 100, 100, &lo, &hi);
    assert_int_equal(hi - lo, 1);
    assert_int_equal(p[lo].step, 100);
    svc_step_window(p, 100, INT64_MIN, INT64_MAX, &lo, &hi);
    assert_true(lo == 0 && hi == 100);
    svc_step_window(p, 100, 2000, 3000, &lo, &hi);
    assert_int_equal(hi - lo, 0);
    svc_step_window(p, 100, 500, 400, &lo, &hi);
    assert_int_equal(hi - lo, 0);
    svc_step_window(p, 0, 0, 10, &lo, &hi);
    assert_true(lo == 0 && hi == 0);
    free(p);
}

/* TensorBoard hides the points a restarted job overwrote. */
static void test_purge_restarts(void **state)
{
    (void)state;
    /* steps 0..9 in chunk 0, then a restart at 5 (SessionLog.START, seq 1), steps 5..7 */
    struct svc_point p[13];
    for (int i = 0; i < 10; i++)
        p[i] = (struct svc_point){i, i, 1.0, 0};
    for (int i = 0; i < 3; i++)
        p[10 + i] = (struct svc_point){5 + i, 100 + i, 2.0, 2};
    struct svc_restart r = {1, 5};
    size_t n = svc_purge_restarts(p, 13, &r, 1);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_true(p[i].step < 5 ? p[i].value == 1.0 : p[i].value == 2.0);
    /* a step going backwards does the same without a SessionLog */
    struct svc_point q[6] = {{0, 0, 1, 0}, {1, 1, 1, 0}, {2, 2, 1, 0},
                             {3, 3, 1, 0}, {1, 4, 2, 1}, {2, 5, 2, 1}};
    n = svc_purge_restarts(q, 6, NULL, 0);
    assert_int_equal(n, 3);
    assert_true(q[0].step == 0 && q[1].step == 1 && q[1].value == 2 && q[2].step == 2);
}

/* The shown-rows test: NULL shows every row; otherwise only the listed seqs. */
static void test_row_shown(void **state)
{
    (void)state;
    assert_true(svc_row_shown(NULL, 0, 42));
    const int64_t shown[] = {2, 5, 9, 100};
    assert_true(svc_row_shown(shown, 4, 2));
    assert_true(svc_row_shown(shown, 4, 100));
    assert_false(svc_row_shown(shown, 4, 3));
    assert_false(svc_row_shown(shown, 4, 101));
    assert_false(svc_row_shown(shown, 0, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_shown),
        cmocka_unit_test(test_smooth_matches_tensorboard),
        cmocka_unit_test(test_smooth_before_downsample_differs),
        cmocka_unit_test(test_downsample_keeps_extremes),
        cmocka_unit_test(test_step_window),
        cmocka_unit_test(test_purge_restarts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
