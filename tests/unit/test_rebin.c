/* SPDX-License-Identifier: MIT */
/* Unit tests for rebin: TensorBoard's rebinning, data_compat's TF1 migration, compression. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api_read.h"
#include "rebin.h"

/* A stored row of k [left, right, count] doubles. */
static struct svc_tensor_row row(const double *cells, size_t k)
{
    struct svc_tensor_row r = {0};
    r.dtype = DT(DOUBLE);
    r.data = (const uint8_t *)cells;
    r.len = k * 3 * sizeof(double);
    return r;
}

/* TensorBoard's rebuildBins (webapp/widgets/histogram/histogram_util.ts), transcribed. */
static void reference_rebin(const struct svc_bucket *b, size_t n, double left, double right,
                            size_t count, double *out)
{
    double dx = (right - left) / (double)count;
    size_t bi = 0;
    double next = 0;
    for (size_t i = 0; i < count; i++) {
        double rl = left + (double)i * dx, rr = rl + dx;
        bool last = i == count - 1;
        double y = next;
        next = 0;
        while (bi < n) {
            double bl = b[bi].left, br = b[bi].right, bdx = br - bl;
            double curr = 0, nx = 0;
            if (!(bl > rr || br < rl)) {
                if (bdx == 0) {
                    if (!last && br >= rr)
                        nx = b[bi].count;
                    else
                        curr = b[bi].count;
                } else {
                    curr = b[bi].count * (fmin(br, rr) - fmax(bl, rl)) / bdx;
                }
            }
            y += curr;
            next += nx;
            if (br > rr)
                break;
            bi++;
        }
        out[i] = y;
    }
}

/* PyTorch's bins='tensorflow': exponential edges 1.1^k from 1e-12, both signs, as
 * torch.utils.tensorboard.summary writes them (an empty first bucket, then the counts). */
static size_t tf_buckets(struct svc_bucket *out, double mean, double sd, int samples)
{
    static double edges[2000];
    size_t ne = 0;
    double v = 1e-12;
    double tmp[1000];
    size_t nt = 0;
    while (v < 1e20) {
        tmp[nt++] = v;
        v *= 1.1;
    }
    for (size_t i = nt; i-- > 0;)
        edges[ne++] = -tmp[i];
    edges[ne++] = 0;
    for (size_t i = 0; i < nt; i++)
        edges[ne++] = tmp[i];
    /* counts of a normal sample: deterministic pseudo-random Box-Muller */
    uint64_t s = 12345;
    size_t *cnt = calloc(ne, sizeof(size_t));
    for (int k = 0; k < samples; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
        double x = mean + sd * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        size_t lo = 0, hi = ne;
        while (lo < hi) { /* first edge >= x */
            size_t mid = (lo + hi) / 2;
            if (edges[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        cnt[lo]++;
    }
    size_t n = 0;
    for (size_t i = 1; i < ne; i++)
        if (cnt[i])
            out[n++] = (struct svc_bucket){edges[i - 1], edges[i], (double)cnt[i]};
    free(cnt);
    return n;
}

static void test_rebin_matches_tensorboard(void **state)
{
    (void)state;
    struct svc_bucket *b = malloc(2000 * sizeof(*b));
    size_t n = tf_buckets(b, 0, 1, 10000);
    double lo = 1, hi = 0;
    svc_rebin_range_add(b, n, &lo, &hi);
    assert_true(svc_rebin_range_fix(&lo, &hi));
    double got[30], want[30];
    svc_rebin(b, n, lo, hi, 30, got);
    reference_rebin(b, n, lo, hi, 30, want);
    double sum = 0;
    for (int i = 0; i < 30; i++) {
        assert_true(fabs(got[i] - want[i]) < 1e-9 * 10000);
        sum += got[i];
    }
    assert_true(fabs(sum - 10000) < 1e-6);
    /* the bell shape: the middle bins hold the most, not a needle at 0 */
    int peak = 0;
    for (int i = 0; i < 30; i++)
        if (got[i] > got[peak])
            peak = i;
    double mid = lo + (peak + 0.5) * (hi - lo) / 30;
    assert_true(fabs(mid) < 0.6);
    assert_true(got[peak] < 0.2 * 10000);
    int wide = 0;
    for (int i = 0; i < 30; i++)
        wide += got[i] > 0.02 * 10000;
    assert_true(wide >= 8);
    free(b);
}

static void test_zero_width_buckets(void **state)
{
    (void)state;
    /* points at the edges: [left, right) bins, the last one closed */
    struct svc_bucket b[3] = {{0, 0, 2}, {1, 1, 3}, {3, 3, 4}};
    double got[3], want[3];
    svc_rebin(b, 3, 0, 3, 3, got);
    reference_rebin(b, 3, 0, 3, 3, want);
    for (int i = 0; i < 3; i++)
        assert_true(got[i] == want[i]);
    assert_true(got[0] == 2 && got[1] == 3 && got[2] == 4);
}

static void test_constant_and_empty(void **state)
{
    (void)state;
    /* constant input: TensorBoard widens [v, v] to [v / 1.1 - 1, v * 1.1 + 1] */
    double lo = 3, hi = 3;
    assert_true(svc_rebin_range_fix(&lo, &hi));
    assert_true(fabs(lo - (3 / 1.1 - 1)) < 1e-12 && fabs(hi - 4.3) < 1e-12);
    struct svc_bucket b = {3, 3, 10};
    double got[30];
    svc_rebin(&b, 1, lo, hi, 30, got);
    double sum = 0;
    for (int i = 0; i < 30; i++)
        sum += got[i];
    assert_true(sum == 10);
    /* no buckets at all: no range */
    lo = 1, hi = 0;
    svc_rebin_range_add(NULL, 0, &lo, &hi);
    assert_false(svc_rebin_range_fix(&lo, &hi));
    double nan_lo = NAN, nan_hi = NAN;
    assert_false(svc_rebin_range_fix(&nan_lo, &nan_hi));
}

/* data_compat: TF1 histograms keep min and max as the outer edges; empty ends are dropped. */
static void test_tf1_migration(void **state)
{
    (void)state;
    /* as ingest stores PyTorch's histogram: [min, limit0, 0], [limit0, limit1, c1], ... */
    const double cells[] = {-3.1, -3.2, 0, -3.2, -1, 5, -1, 1, 10, 1, 2.5, 5, 2.5, 2.4, 0};
    struct svc_tensor_row r = row(cells, 5);
    struct svc_bucket *b = NULL;
    long n = svc_hist_buckets(&r, true, &b);
    assert_int_equal(n, 3);
    assert_true(b[0].left == -3.1 && b[0].right == -1 && b[0].count == 5);
    assert_true(b[2].left == 1 && b[2].right == 2.4 && b[2].count == 5);
    free(b);
    /* not TF1: taken as stored, the backwards first bucket dropped */
    n = svc_hist_buckets(&r, false, &b);
    assert_int_equal(n, 3); /* [-3.2,-1], [-1,1], [1,2.5]; [2.5,2.4] and [-3.1,-3.2] go */
    free(b);
    /* all empty: nothing */
    const double empty[] = {0, 0, 0, 0, 0, 0};
    r = row(empty, 2);
    n = svc_hist_buckets(&r, true, &b);
    assert_int_equal(n, 0);
    free(b);
    /* junk: NaN, infinite edges, negative counts, a string tensor */
    const double junk[] = {NAN, 1, 1, 0, INFINITY, 1, 0, 1, -5, 0, 1, 2};
    r = row(junk, 4);
    n = svc_hist_buckets(&r, false, &b);
    assert_int_equal(n, 1);
    assert_true(b[0].count == 2);
    free(b);
    r.dtype = DT(STRING);
    n = svc_hist_buckets(&r, false, &b);
    assert_int_equal(n, 0);
    free(b);
}

/* TensorBoard's compressor.compress_histogram on a known histogram. */
static void test_compress(void **state)
{
    (void)state;
    /* four equal buckets over [0, 4]: the basis points interpolate linearly */
    struct svc_bucket b[4] = {{0, 1, 25}, {1, 2, 25}, {2, 3, 25}, {3, 4, 25}};
    double v[SVC_DIST_POINTS];
    svc_hist_compress(b, 4, v);
    for (int i = 0; i < SVC_DIST_POINTS; i++)
        assert_true(fabs(v[i] - 4.0 * svc_dist_bps[i] / 10000) < 1e-12);
    /* all in one bucket */
    struct svc_bucket one = {-2, 6, 7};
    svc_hist_compress(&one, 1, v);
    assert_true(v[0] == -2 && v[4] == 2 && v[8] == 6);
    /* empty leading bucket: the first basis point is still the first left edge */
    struct svc_bucket lead[2] = {{-10, 0, 0}, {0, 10, 10}};
    svc_hist_compress(lead, 2, v);
    assert_true(v[0] == -10 && fabs(v[4] - 0) < 1e-12 && v[8] == 10);
    /* nothing: zeros */
    svc_hist_compress(NULL, 0, v);
    for (int i = 0; i < SVC_DIST_POINTS; i++)
        assert_true(v[i] == 0);
    /* no weight at all: every basis point is the right edge (numpy's searchsorted runs off) */
    struct svc_bucket zero[2] = {{1, 2, 0}, {2, 3, 0}};
    svc_hist_compress(zero, 2, v);
    for (int i = 0; i < SVC_DIST_POINTS; i++)
        assert_true(v[i] == 3);
    /* increasing, between the outer edges */
    struct svc_bucket *nb = malloc(2000 * sizeof(*nb));
    size_t n = tf_buckets(nb, 1, 2, 5000);
    svc_hist_compress(nb, n, v);
    for (int i = 1; i < SVC_DIST_POINTS; i++)
        assert_true(v[i] >= v[i - 1]);
    assert_true(fabs(v[4] - 1) < 0.2 && fabs((v[6] - v[2]) - 4) < 0.6);
    free(nb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebin_matches_tensorboard),
        cmocka_unit_test(test_zero_width_buckets),
        cmocka_unit_test(test_constant_and_empty),
        cmocka_unit_test(test_tf1_migration),
        cmocka_unit_test(test_compress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
