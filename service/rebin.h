/* SPDX-License-Identifier: MIT */
/* Histograms for drawing, as TensorBoard's frontend and distributions plugin make them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "json.h"
#include "store.h"

struct svc_call;

/* One bucket of a stored histogram: [left, right) holding count values. */
struct svc_bucket {
    double left, right, count;
};

/*
 * The buckets of a stored histogram row (a [k, 3] tensor of left, right, count), as
 * TensorBoard reads them. tf1: the row came from a TF1 HistogramProto (series source
 * TB_SRC_HISTO), whose first left edge is its min and last right edge its max; then, as
 * TensorBoard's data_compat does, empty buckets at both ends are dropped and the remaining
 * first and last buckets reach to the min and max. Buckets with an edge or count that is
 * not finite, a negative count, or a right edge left of the left one are dropped (they cannot
 * be drawn). *ret is allocated (caller frees with free(), also when 0 is returned); returns
 * the number of buckets, or -ENOMEM.
 */
long svc_hist_buckets(const struct svc_tensor_row *r, bool tf1, struct svc_bucket **ret);

/*
 * TensorBoard's rebinning: the counts of b (n buckets, in order) spread over `bins` bins of
 * equal width over [lo, hi], each bucket's count split in proportion to its overlap with
 * each bin; a zero-width bucket counts in the bin holding it (bins are [left, right), the last
 * one closed). ret_counts has room for `bins` doubles (the caller's). lo < hi, bins >= 1.
 */
void svc_rebin(const struct svc_bucket *b, size_t n, double lo, double hi, size_t bins,
               double *ret_counts);

/*
 * The range TensorBoard rebins a series over: [*lo, *hi] widened to hold b's buckets
 * (*lo > *hi means empty so far). svc_rebin_range_fix turns an empty-width range [v, v] into
 * [v / 1.1 - 1, v * 1.1 + 1] as TensorBoard does; returns false for a range still empty
 * (a series without buckets).
 */
void svc_rebin_range_add(const struct svc_bucket *b, size_t n, double *lo, double *hi);
bool svc_rebin_range_fix(double *lo, double *hi);

/* TensorBoard's basis points for distributions, in 1/100ths of a percent: the normal
 * distribution's CDF at -inf, -1.5, -1, -0.5, 0, 0.5, 1, 1.5 and +inf standard deviations. */
#define SVC_DIST_POINTS 9
extern const int svc_dist_bps[SVC_DIST_POINTS];

/*
 * TensorBoard's compressed histogram (its distributions plugin): the values at the basis
 * points, interpolated linearly inside the bucket where the cumulative count reaches each;
 * the first basis point is the first bucket's left edge and the last the last bucket's
 * right edge. No buckets: all 0.
 */
void svc_hist_compress(const struct svc_bucket *b, size_t n, double ret[SVC_DIST_POINTS]);

/* The histograms endpoint's drawing modes, per series (zero-initialised before use). */
struct svc_rebin {
    bool ready;    /* mode and tf1 read from the request and the series */
    int mode;      /* 0: the stored buckets; 1: ?bins=N; 2: ?distribution=1 */
    size_t bins;   /* N */
    bool tf1;      /* TF1 rows: data_compat's migration */
    double lo, hi; /* the series' range so far (lo > hi: none) */
    bool failed;   /* out of memory: later rows are written without bins */
};

/* Checks ?bins= and ?distribution=; false after answering 400 naming what was wrong. */
bool svc_rebin_params_ok(struct svc_call *c);

/* First pass over a series' rows: the range to rebin over (only with ?bins=). */
void svc_rebin_range(struct svc_rebin *rb, struct svc_call *c, const struct svc_series_info *s,
                     const struct svc_tensor_row *r);

/* Reads the request's settings for series s into rb (zeroed) and, with ?bins=, runs that
 * first pass over the rows of s (before the caller's own pass over the rows, not inside it):
 * every row, or when shown is not NULL only the rows whose seqs its sorted n_shown entries
 * list (those the restart rule shows). A store error leaves rb writing the stored buckets. */
void svc_rebin_prepare(struct svc_rebin *rb, struct svc_call *c, const struct svc_series_info *s,
                       const int64_t *shown, size_t n_shown);

/*
 * Second pass: writes the row's "bins" ([[left, right, count], ...], N of them over the
 * series' range, or [] for a series without buckets) or "distribution" (the values at
 * svc_dist_bps) member into the open object j, and returns true; false when neither was
 * asked for (the caller writes the stored buckets).
 */
bool svc_rebin_json(struct svc_rebin *rb, struct svc_call *c, const struct svc_series_info *s,
                    struct tb_json *j, const struct svc_tensor_row *r);
