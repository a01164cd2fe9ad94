/* SPDX-License-Identifier: MIT */
/* Histogram rebinning and compression for drawing; see rebin.h. */
#include "rebin.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api_read.h"
#include "downsample.h"
#include "numfmt.h"
#include "tblimits.h"

const int svc_dist_bps[SVC_DIST_POINTS] = {0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000};

static int cmp_left(const void *a, const void *b)
{
    const struct svc_bucket *x = a, *y = b;
    if (x->left != y->left)
        return x->left < y->left ? -1 : 1;
    return (x->right > y->right) - (x->right < y->right);
}

long svc_hist_buckets(const struct svc_tensor_row *r, bool tf1, struct svc_bucket **ret)
{
    *ret = NULL;
    size_t es = tb_dtype_size(r->dtype);
    size_t k = es ? r->len / (3 * es) : 0;
    if (r->dtype == DT(STRING) || r->dtype == DT(BOOL))
        k = 0;
    struct svc_bucket *b = malloc((k ? k : 1) * sizeof(*b));
    if (!b)
        return -ENOMEM;
    *ret = b;
    for (size_t i = 0; i < k; i++) {
        double v[3];
        for (int c = 0; c < 3; c++)
            if (!tb_dtype_to_double(r->dtype, r->data + (3 * i + (size_t)c) * es, &v[c]))
                v[c] = NAN;
        b[i] = (struct svc_bucket){v[0], v[1], v[2]};
    }
    if (tf1 && k) {
        /* data_compat: the min and max are the outer edges; empty buckets at the ends go */
        double mn = b[0].left, mx = b[k - 1].right;
        size_t first = 0, last = k;
        while (first < k && !(b[first].count > 0))
            first++;
        while (last > first && !(b[last - 1].count > 0))
            last--;
        if (first == last) {
            k = 0;
        } else {
            memmove(b, b + first, (last - first) * sizeof(*b));
            k = last - first;
            b[0].left = mn;
            b[k - 1].right = mx;
        }
    }
    size_t out = 0;
    for (size_t i = 0; i < k; i++)
        if (isfinite(b[i].left) && isfinite(b[i].right) && isfinite(b[i].count) &&
            b[i].count >= 0 && b[i].right >= b[i].left)
            b[out++] = b[i];
    qsort(b, out, sizeof(*b), cmp_left);
    return (long)out;
}

void svc_rebin(const struct svc_bucket *b, size_t n, double lo, double hi, size_t bins,
               double *ret_counts)
{
    double dx = (hi - lo) / (double)bins;
    memset(ret_counts, 0, bins * sizeof(*ret_counts));
    for (size_t i = 0; i < n; i++) {
        double l = b[i].left, r = b[i].right, c = b[i].count;
        if (c == 0)
            continue;
        /* the bin holding x: bins are [lo + k*dx, lo + k*dx + dx), the last one closed */
        double fl = floor((l - lo) / dx);
        size_t k = fl < 0 ? 0 : fl >= (double)bins ? bins - 1 : (size_t)fl;
        if (k > 0 && r > l)
            k--; /* the division may round up across an edge; the overlap test sorts it out */
        if (r == l) {
            /* a point: TensorBoard counts it where [left, right) holds it */
            while (k + 1 < bins && l >= lo + (double)(k + 1) * dx)
                k++;
            while (k > 0 && l < lo + (double)k * dx)
                k--;
            ret_counts[k] += c;
            continue;
        }
        for (; k < bins; k++) {
            double bl = lo + (double)k * dx, br = bl + dx;
            if (bl >= r)
                break;
            double inter = fmin(r, br) - fmax(l, bl);
            if (inter > 0)
                ret_counts[k] += c * inter / (r - l);
        }
    }
}

void svc_rebin_range_add(const struct svc_bucket *b, size_t n, double *lo, double *hi)
{
    for (size_t i = 0; i < n; i++) {
        if (*lo > *hi) {
            *lo = b[i].left;
            *hi = b[i].right;
            continue;
        }
        if (b[i].left < *lo)
            *lo = b[i].left;
        if (b[i].right > *hi)
            *hi = b[i].right;
    }
}

bool svc_rebin_range_fix(double *lo, double *hi)
{
    if (!(*lo <= *hi))
        return false;
    if (*lo == *hi) {
        double v = *lo;
        *hi = v * 1.1 + 1;
        *lo = v / 1.1 - 1;
    }
    /* a range too narrow to cut into bins (or past the doubles) draws as no data */
    return isfinite(*hi - *lo) && *hi - *lo > 0;
}

void svc_hist_compress(const struct svc_bucket *b, size_t n, double ret[SVC_DIST_POINTS])
{
    if (!n) {
        for (int i = 0; i < SVC_DIST_POINTS; i++)
            ret[i] = 0;
        return;
    }
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += b[i].count;
    if (!total)
        total = 1;
    double minmin = b[0].left, maxmax = b[n - 1].right;
    const double top = svc_dist_bps[SVC_DIST_POINTS - 1];
    int j = 0;
    double cum_prev = 0; /* the cumulative weight before bucket i, as numpy's cumsum has it */
    size_t i = 0;
    double cum = b[0].count * top / total;
    while (j < SVC_DIST_POINTS) {
        double bp = svc_dist_bps[j];
        /* the first bucket whose cumulative weight passes bp (searchsorted, side right) */
        while (i < n && !(cum > bp)) {
            cum_prev = cum;
            if (++i < n)
                cum += b[i].count * top / total;
        }
        if (i >= n)
            break;
        /* cum > bp >= cum_prev here, so the bucket has weight: no division by zero */
        double lhs = (i == 0 || cum_prev == 0) ? minmin : fmax(b[i - 1].right, minmin);
        double rhs = fmin(b[i].right, maxmax);
        ret[j++] = lhs + (bp - cum_prev) * (rhs - lhs) / (cum - cum_prev);
    }
    while (j < SVC_DIST_POINTS)
        ret[j++] = maxmax;
}

static const char *param(struct svc_call *c, const char *name)
{
    return svc_req_query(c->req, name);
}

bool svc_rebin_params_ok(struct svc_call *c)
{
    const char *v = param(c, "bins");
    if (v) {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 1 || n > TB_HIST_BINS_MAX) {
            svc_error(c, 400, "invalid_argument",
                      "bins must be a whole number from 1 to %d (TensorBoard draws 30), not "
                      "'%.40s'",
                      TB_HIST_BINS_MAX, v);
            return false;
        }
    }
    const char *d = param(c, "distribution");
    if (d && strcmp(d, "0") && strcmp(d, "1")) {
        svc_error(c, 400, "invalid_argument", "distribution must be 0 or 1, not '%.40s'", d);
        return false;
    }
    if (v && d && !strcmp(d, "1")) {
        svc_error(c, 400, "invalid_argument",
                  "ask for bins= or for distribution=1, not both in one request");
        return false;
    }
    return true;
}

static void setup(struct svc_rebin *rb, struct svc_call *c, const struct svc_series_info *s)
{
    if (rb->ready)
        return;
    rb->ready = true;
    rb->tf1 = s->source == TB_SRC_HISTO;
    rb->lo = 1;
    rb->hi = 0;
    const char *v = param(c, "bins"), *d = param(c, "distribution");
    if (v) {
        rb->mode = 1;
        rb->bins = (size_t)strtol(v, NULL, 10); /* checked by svc_rebin_params_ok */
        if (rb->bins < 1 || rb->bins > TB_HIST_BINS_MAX)
            rb->mode = 0;
    } else if (d && !strcmp(d, "1")) {
        rb->mode = 2;
    }
}

void svc_rebin_range(struct svc_rebin *rb, struct svc_call *c, const struct svc_series_info *s,
                     const struct svc_tensor_row *r)
{
    setup(rb, c, s);
    if (rb->mode != 1 || rb->failed)
        return;
    struct svc_bucket *b = NULL;
    long n = svc_hist_buckets(r, rb->tf1, &b);
    if (n < 0)
        rb->failed = true;
    else
        svc_rebin_range_add(b, (size_t)n, &rb->lo, &rb->hi);
    free(b);
}

struct range_pass {
    struct svc_rebin *rb;
    struct svc_call *c;
    const struct svc_series_info *s;
    const int64_t *shown;
    size_t n_shown;
};

static int range_cb(void *ctx, const struct svc_tensor_row *r)
{
    struct range_pass *p = ctx;
    if (!svc_row_shown(p->shown, p->n_shown, r->seq))
        return 0; /* hidden by a restart: not part of what is drawn */
    svc_rebin_range(p->rb, p->c, p->s, r);
    return 0;
}

void svc_rebin_prepare(struct svc_rebin *rb, struct svc_call *c, const struct svc_series_info *s,
                       const int64_t *shown, size_t n_shown)
{
    setup(rb, c, s);
    if (rb->mode != 1)
        return;
    struct range_pass p = {rb, c, s, shown, n_shown};
    if (c->app->ops->tensor_rows(c->app->store, s->id, 0, range_cb, &p) < 0)
        rb->mode = 0; /* the stored buckets are still a right answer */
}

static void num(struct tb_json *j, double v)
{
    char t[TB_NUMFMT_MAX];
    if (!isfinite(v)) {
        tb_json_double(j, v);
        return;
    }
    tb_numfmt_double(v, t);
    tb_json_raw(j, t);
}

/* Counts are estimates once split between bins: nine digits say all there is to say. */
static void count(struct tb_json *j, double v)
{
    char t[TB_NUMFMT_MAX];
    if (!isfinite(v) || fabs(v) > 3e38) {
        num(j, v);
        return;
    }
    tb_numfmt_float((float)v, t);
    tb_json_raw(j, t);
}

bool svc_rebin_json(struct svc_rebin *rb, struct svc_call *c, const struct svc_series_info *s,
                    struct tb_json *j, const struct svc_tensor_row *r)
{
    setup(rb, c, s);
    if (rb->mode == 0)
        return false;
    struct svc_bucket *b = NULL;
    double *counts = NULL;
    long n = rb->failed ? -ENOMEM : svc_hist_buckets(r, rb->tf1, &b);
    if (n < 0) {
        free(b);
        return false; /* out of memory: the stored buckets are still a right answer */
    }
    if (rb->mode == 2) {
        double v[SVC_DIST_POINTS];
        svc_hist_compress(b, (size_t)n, v);
        tb_json_key(j, "distribution");
        tb_json_arr_open(j);
        for (int i = 0; i < SVC_DIST_POINTS; i++)
            num(j, v[i]);
        tb_json_arr_close(j);
        free(b);
        return true;
    }
    double lo = rb->lo, hi = rb->hi;
    bool have = svc_rebin_range_fix(&lo, &hi);
    if (have && !(counts = malloc(rb->bins * sizeof(*counts)))) {
        free(b);
        return false;
    }
    if (have)
        svc_rebin(b, (size_t)n, lo, hi, rb->bins, counts);
    tb_json_key(j, "bins");
    tb_json_arr_open(j);
    double dx = have ? (hi - lo) / (double)rb->bins : 0;
    for (size_t k = 0; have && k < rb->bins; k++) {
        double left = lo + (double)k * dx;
        tb_json_arr_open(j);
        num(j, left);
        num(j, left + dx);
        count(j, counts[k]);
        tb_json_arr_close(j);
    }
    tb_json_arr_close(j);
    free(b);
    free(counts);
    return true;
}
