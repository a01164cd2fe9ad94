/* SPDX-License-Identifier: MIT */
/* Restart purging and min/max downsampling; see downsample.h. */
#include "downsample.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int cmp_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

bool svc_row_shown(const int64_t *shown, size_t n_shown, int64_t seq)
{
    return !shown || bsearch(&seq, shown, n_shown, sizeof(*shown), cmp_seq);
}

size_t svc_purge_restarts(struct svc_point *pts, size_t n, const struct svc_restart *rs,
                          size_t n_rs)
{
    size_t out = 0, r = 0;
    int64_t max_step = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t cut = INT64_MAX;
        while (r < n_rs && rs[r].seq < pts[i].seq) {
            if (rs[r].step < cut)
                cut = rs[r].step;
            r++;
        }
        if (out && pts[i].step < max_step && pts[i].step < cut)
            cut = pts[i].step;
        if (cut != INT64_MAX && out) {
            /* Hide what came before at steps >= cut. */
            size_t k = 0;
            max_step = INT64_MIN;
            for (size_t j = 0; j < out; j++)
                if (pts[j].step < cut) {
                    pts[k++] = pts[j];
                    if (pts[j].step > max_step)
                        max_step = pts[j].step;
                }
            out = k;
        }
        pts[out++] = pts[i];
        if (pts[i].step > max_step)
            max_step = pts[i].step;
    }
    return out;
}

static int cmp_step(const void *a, const void *b)
{
    const struct svc_point *x = a, *y = b;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void svc_sort_by_step(struct svc_point *pts, size_t n)
{
    /* Usually sorted already: check before paying for a sort. */
    for (size_t i = 1; i < n; i++)
        if (pts[i].step < pts[i - 1].step) {
            /* seq ties: make arrival order explicit so qsort's instability does not matter */
            for (size_t k = 0; k < n; k++)
                pts[k].seq = (int64_t)k;
            qsort(pts, n, sizeof(*pts), cmp_step);
            return;
        }
}

size_t svc_downsample_idx(const struct svc_point *pts, size_t n, size_t target, size_t *ret_idx)
{
    if (target < 4 || n <= target) {
        for (size_t i = 0; i < n; i++)
            ret_idx[i] = i;
        return n;
    }
    size_t buckets = target / 4;
    size_t out = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t lo = n * b / buckets, hi = n * (b + 1) / buckets;
        if (lo >= hi)
            continue;
        size_t imin = lo, imax = lo;
        for (size_t i = lo; i < hi; i++) {
            double v = pts[i].value;
            if (isnan(v))
                continue;
            if (isnan(pts[imin].value) || v < pts[imin].value)
                imin = i;
            if (isnan(pts[imax].value) || v > pts[imax].value)
                imax = i;
        }
        size_t keep[4] = {lo, imin, imax, hi - 1};
        /* in index order, without repeats */
        for (int x = 0; x < 4; x++)
            for (int y = x + 1; y < 4; y++)
                if (keep[y] < keep[x]) {
                    size_t t = keep[x];
                    keep[x] = keep[y];
                    keep[y] = t;
                }
        for (int x = 0; x < 4; x++)
            if (!out || keep[x] != ret_idx[out - 1])
                ret_idx[out++] = keep[x];
    }
    return out;
}

size_t svc_downsample(struct svc_point *pts, size_t n, size_t target)
{
    if (target < 4 || n <= target)
        return n;
    /* at most 4 per bucket: target/4 * 4 <= target entries */
    size_t *idx = malloc(target * sizeof(*idx));
    if (!idx)
        return n; /* no memory: the whole series, which is still a right answer */
    size_t k = svc_downsample_idx(pts, n, target, idx);
    for (size_t i = 0; i < k; i++)
        pts[i] = pts[idx[i]]; /* idx[i] >= i: increasing, without repeats */
    free(idx);
    return k;
}

void svc_smooth(const struct svc_point *pts, size_t n, double weight, double *out)
{
    if (!isfinite(weight) || weight < 0)
        weight = 0;
    if (weight > 1)
        weight = 1;
    bool constant = true;
    for (size_t i = 1; i < n && constant; i++)
        constant = pts[i].value == pts[0].value; /* NaN compares unequal, as in TensorBoard */
    double last = 0;
    uint64_t k = 0;
    bool settled = weight == 1; /* 1 - weight^k is 1 from here on */
    for (size_t i = 0; i < n; i++) {
        double v = pts[i].value;
        if (constant || !isfinite(v)) {
            out[i] = v;
            continue;
        }
        last = last * weight + (1 - weight) * v;
        k++;
        double debias = 1;
        if (!settled) {
            double wk = pow(weight, (double)k);
            debias = 1 - wk;
            settled = wk < 0x1p-54; /* below half an ulp of 1: later terms round to 1 */
        }
        out[i] = last / debias;
    }
}

void svc_step_window(const struct svc_point *pts, size_t n, int64_t start, int64_t end,
                     size_t *ret_lo, size_t *ret_hi)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first with step >= start */
        size_t mid = lo + (hi - lo) / 2;
        if (pts[mid].step < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t a = lo;
    hi = n;
    while (lo < hi) { /* first with step > end */
        size_t mid = lo + (hi - lo) / 2;
        if (pts[mid].step <= end)
            lo = mid + 1;
        else
            hi = mid;
    }
    *ret_lo = a;
    *ret_hi = start > end ? a : lo;
}

/* The first, minimum, maximum and last of p[lo, hi) (minimum and maximum ignoring NaN; the
 * first point when all are NaN), as a summary unit into out. */
static void pick_unit(const uint8_t *p, size_t lo, size_t hi, uint8_t *out)
{
    size_t imin = lo, imax = lo;
    double vmin = NAN, vmax = NAN;
    for (size_t i = lo; i < hi; i++) {
        double v;
        memcpy(&v, p + i * SVC_SCALAR_POINT_BYTES + 16, 8);
        if (!isnan(v) && (isnan(vmin) || v < vmin)) {
            vmin = v;
            imin = i;
        }
        if (!isnan(v) && (isnan(vmax) || v > vmax)) {
            vmax = v;
            imax = i;
        }
    }
    size_t pick[4] = {lo, imin, imax, hi - 1};
    for (int k = 0; k < 4; k++)
        memcpy(out + k * SVC_SCALAR_POINT_BYTES, p + pick[k] * SVC_SCALAR_POINT_BYTES,
               SVC_SCALAR_POINT_BYTES);
}

void svc_chunk_summarize(const uint8_t *p, size_t n, struct svc_chunk_summary *s)
{
    int64_t prev = 0;
    s->n = n;
    s->sorted = true;
    for (size_t i = 0; i < n; i++) {
        int64_t step;
        memcpy(&step, p + i * SVC_SCALAR_POINT_BYTES, 8);
        if (i == 0 || step < s->min_step)
            s->min_step = step;
        if (i == 0 || step > s->max_step)
            s->max_step = step;
        if (i && step <= prev)
            s->sorted = false;
        prev = step;
    }
    pick_unit(p, 0, n, s->points);
    s->n_groups = 0;
    if (n <= SVC_SUMMARY_GROUP_POINTS || n > SVC_SCALAR_CHUNK_POINTS)
        return; /* one group would repeat the chunk's unit */
    for (size_t lo = 0; lo < n; lo += SVC_SUMMARY_GROUP_POINTS) {
        size_t hi = n - lo < SVC_SUMMARY_GROUP_POINTS ? n : lo + SVC_SUMMARY_GROUP_POINTS;
        pick_unit(p, lo, hi, s->points + ++s->n_groups * SVC_SUMMARY_UNIT_BYTES);
    }
}

bool svc_chunk_summary_load(struct svc_chunk_summary *s, const uint8_t *d, size_t len)
{
    size_t groups = s->n > SVC_SUMMARY_GROUP_POINTS && s->n <= SVC_SCALAR_CHUNK_POINTS
                        ? (s->n + SVC_SUMMARY_GROUP_POINTS - 1) / SVC_SUMMARY_GROUP_POINTS
                        : 0;
    if (!d || (len != SVC_SUMMARY_UNIT_BYTES && len != (1 + groups) * SVC_SUMMARY_UNIT_BYTES))
        return false;
    s->n_groups = len / SVC_SUMMARY_UNIT_BYTES - 1;
    memcpy(s->points, d, len);
    return true;
}

/* Unit k's point j (0 first, 1 minimum, 2 maximum, 3 last). */
static void unit_point(const uint8_t *units, size_t k, int j, struct svc_point *out)
{
    struct svc_scalar_point pt;
    svc_scalar_point_get(units + k * SVC_SUMMARY_UNIT_BYTES + j * SVC_SCALAR_POINT_BYTES, &pt);
    out->step = pt.step;
    out->wall_time = pt.wall_time;
    out->value = pt.value;
    out->seq = 0;
}

size_t svc_downsample_units(const uint8_t *units, size_t n_units, size_t target,
                            struct svc_point *out)
{
    size_t buckets = target / 4, n = 0;
    if (!n_units)
        return 0;
    if (buckets > n_units)
        buckets = n_units;
    for (size_t b = 0; b < buckets; b++) {
        size_t lo = n_units * b / buckets, hi = n_units * (b + 1) / buckets;
        struct svc_point keep[4];
        unit_point(units, lo, 0, &keep[0]);
        unit_point(units, lo, 1, &keep[1]);
        unit_point(units, lo, 2, &keep[2]);
        unit_point(units, hi - 1, 3, &keep[3]);
        for (size_t k = lo + 1; k < hi; k++) {
            struct svc_point a, z;
            unit_point(units, k, 1, &a);
            unit_point(units, k, 2, &z);
            if (!isnan(a.value) && (isnan(keep[1].value) || a.value < keep[1].value))
                keep[1] = a;
            if (!isnan(z.value) && (isnan(keep[2].value) || z.value > keep[2].value))
                keep[2] = z;
        }
        for (int i = 0; i < 4; i++) /* step order, which is arrival order here */
            for (int k = i + 1; k < 4; k++)
                if (keep[k].step < keep[i].step) {
                    struct svc_point t = keep[i];
                    keep[i] = keep[k];
                    keep[k] = t;
                }
        for (int i = 0; i < 4; i++)
            if (i == 0 || keep[i].step != keep[i - 1].step)
                out[n++] = keep[i];
    }
    return n;
}
