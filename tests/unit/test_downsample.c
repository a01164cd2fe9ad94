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

/* Points in the chunk layout: steps rising by 1..3 from step0, random values, some NaN. */
static uint8_t *chunk_points(size_t n, int64_t step0, unsigned seed, bool nans)
{
    uint8_t *p = malloc(n * SVC_SCALAR_POINT_BYTES + 1);
    assert_non_null(p);
    srand(seed);
    int64_t step = step0;
    for (size_t i = 0; i < n; i++) {
        double v = (double)rand() / RAND_MAX - 0.5;
        if (nans && rand() % 7 == 0)
            v = NAN;
        if (rand() % 50 == 0)
            v = (double)(rand() % 3); /* ties: the first of equal extremes is kept */
        struct svc_scalar_point pt = {.step = step, .wall_time = 1e9 + (double)i, .value = v};
        svc_scalar_point_put(p + i * SVC_SCALAR_POINT_BYTES, &pt);
        step += 1 + rand() % 3;
    }
    return p;
}

static double value_at(const uint8_t *p, size_t i)
{
    struct svc_scalar_point pt;
    svc_scalar_point_get(p + i * SVC_SCALAR_POINT_BYTES, &pt);
    return pt.value;
}

/* The unit of p[lo, hi) by brute force: first, minimum, maximum (the first of equal ones,
 * NaN ignored, the first point when all are NaN), last. */
static void brute_unit(const uint8_t *p, size_t lo, size_t hi, size_t pick[4])
{
    size_t imin = lo, imax = lo;
    bool any = false;
    for (size_t i = lo; i < hi; i++) {
        double v = value_at(p, i);
        if (isnan(v))
            continue;
        if (!any || v < value_at(p, imin))
            imin = i;
        if (!any || v > value_at(p, imax))
            imax = i;
        any = true;
    }
    pick[0] = lo;
    pick[1] = imin;
    pick[2] = imax;
    pick[3] = hi - 1;
}

static void test_chunk_summary_groups(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 63, 64, 65, 100, 128, 129, 1000, 1023, 1024};
    for (size_t t = 0; t < sizeof(sizes) / sizeof(*sizes); t++) {
        size_t n = sizes[t];
        uint8_t *p = chunk_points(n, -5, (unsigned)t + 1, t % 2);
        struct svc_chunk_summary s;
        memset(&s, 0xa5, sizeof(s));
        svc_chunk_summarize(p, n, &s);
        assert_int_equal(s.n, n);
        assert_true(s.sorted);
        size_t groups = n > SVC_SUMMARY_GROUP_POINTS ? (n + 63) / 64 : 0;
        assert_int_equal(s.n_groups, groups);
        assert_int_equal(svc_chunk_summary_len(&s), (1 + groups) * SVC_SUMMARY_UNIT_BYTES);
        for (size_t g = 0; g <= groups; g++) {
            size_t lo = g ? (g - 1) * 64 : 0, hi = g ? (g * 64 < n ? g * 64 : n) : n, pick[4];
            brute_unit(p, lo, hi, pick);
            for (int k = 0; k < 4; k++)
                assert_memory_equal(s.points + g * SVC_SUMMARY_UNIT_BYTES +
                                        (size_t)k * SVC_SCALAR_POINT_BYTES,
                                    p + pick[k] * SVC_SCALAR_POINT_BYTES, SVC_SCALAR_POINT_BYTES);
        }
        /* stored and read back: the whole, or the chunk's unit alone (older rows) */
        struct svc_chunk_summary r = {.n = n};
        assert_true(svc_chunk_summary_load(&r, s.points, svc_chunk_summary_len(&s)));
        assert_int_equal(r.n_groups, groups);
        assert_memory_equal(r.points, s.points, svc_chunk_summary_len(&s));
        assert_true(svc_chunk_summary_load(&r, s.points, SVC_SUMMARY_UNIT_BYTES));
        assert_int_equal(r.n_groups, 0);
        /* any other length is refused and leaves r alone */
        r.n_groups = 77;
        assert_false(svc_chunk_summary_load(&r, s.points, SVC_SUMMARY_UNIT_BYTES - 1));
        assert_false(svc_chunk_summary_load(&r, NULL, SVC_SUMMARY_UNIT_BYTES));
        assert_false(svc_chunk_summary_load(&r, s.points, 0));
        assert_false(svc_chunk_summary_load(&r, s.points, (2 + groups) * SVC_SUMMARY_UNIT_BYTES));
        if (groups > 1)
            assert_false(svc_chunk_summary_load(&r, s.points, groups * SVC_SUMMARY_UNIT_BYTES));
        assert_int_equal(r.n_groups, 77);
        free(p);
    }
    /* steps that do not strictly increase */
    uint8_t *p = chunk_points(300, 0, 9, false);
    struct svc_scalar_point pt;
    svc_scalar_point_get(p + 200 * SVC_SCALAR_POINT_BYTES, &pt);
    pt.step = 0;
    svc_scalar_point_put(p + 200 * SVC_SCALAR_POINT_BYTES, &pt);
    struct svc_chunk_summary s;
    svc_chunk_summarize(p, 300, &s);
    assert_false(s.sorted);
    assert_int_equal(s.min_step, 0);
    free(p);
}

/* svc_downsample_units over the groups of chunks equals M4 computed from the points with the
 * same buckets (each a run of whole groups): first, minimum, maximum, last of each. */
static void test_downsample_units_is_m4(void **state)
{
    (void)state;
    static const size_t sizes[] = {5000, 100000, 777};
    static const size_t targets[] = {2000, 400, 7, 4, 100000};
    for (size_t t = 0; t < 3; t++) {
        size_t n = sizes[t];
        uint8_t *p = chunk_points(n, 3, 40 + (unsigned)t, t != 1);
        /* chunks of 1024 points but the last, cut into groups as the store does */
        size_t cap = n / 64 + 32, nu = 0, *ulo = malloc(cap * sizeof(size_t));
        uint8_t *units = malloc(cap * SVC_SUMMARY_UNIT_BYTES);
        assert_non_null(ulo);
        assert_non_null(units);
        for (size_t at = 0; at < n; at += 1024) {
            size_t k = n - at < 1024 ? n - at : 1024;
            struct svc_chunk_summary s;
            svc_chunk_summarize(p + at * SVC_SCALAR_POINT_BYTES, k, &s);
            size_t g = s.n_groups ? s.n_groups : 1;
            memcpy(units + nu * SVC_SUMMARY_UNIT_BYTES,
                   s.points + (s.n_groups ? SVC_SUMMARY_UNIT_BYTES : 0),
                   g * SVC_SUMMARY_UNIT_BYTES);
            for (size_t j = 0; j < g; j++)
                ulo[nu + j] = at + j * 64;
            nu += g;
        }
        ulo[nu] = n;
        for (size_t ti = 0; ti < sizeof(targets) / sizeof(*targets); ti++) {
            size_t target = targets[ti], buckets = target / 4 < nu ? target / 4 : nu;
            struct svc_point *got = malloc((target + 4) * sizeof(*got));
            assert_non_null(got);
            size_t k = svc_downsample_units(units, nu, target, got), m = 0;
            assert_true(k <= 4 * (target / 4));
            for (size_t b = 0; b < buckets; b++) {
                size_t lo = ulo[nu * b / buckets], hi = ulo[nu * (b + 1) / buckets], pick[4];
                brute_unit(p, lo, hi, pick);
                /* in index order (= step order), without repeats */
                for (int x = 0; x < 4; x++)
                    for (int y = x + 1; y < 4; y++)
                        if (pick[y] < pick[x]) {
                            size_t tmp = pick[x];
                            pick[x] = pick[y];
                            pick[y] = tmp;
                        }
                for (int x = 0; x < 4; x++) {
                    if (x && pick[x] == pick[x - 1])
                        continue;
                    struct svc_scalar_point pt;
                    svc_scalar_point_get(p + pick[x] * SVC_SCALAR_POINT_BYTES, &pt);
                    assert_true(m < k);
                    assert_int_equal(got[m].step, pt.step);
                    assert_memory_equal(&got[m].value, &pt.value, 8);
                    assert_memory_equal(&got[m].wall_time, &pt.wall_time, 8);
                    m++;
                }
            }
            assert_int_equal(m, k);
            free(got);
        }
        assert_int_equal(svc_downsample_units(units, 0, 2000, NULL), 0);
        free(units);
        free(ulo);
        free(p);
    }
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
        cmocka_unit_test(test_chunk_summary_groups),
        cmocka_unit_test(test_downsample_units_is_m4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
