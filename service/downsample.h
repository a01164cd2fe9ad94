/* SPDX-License-Identifier: MIT */
/* Scalar series for charts: TensorBoard's restart rule, then downsampling that keeps extremes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct svc_point {
    int64_t step;
    double wall_time;
    double value;
    int64_t seq; /* the stored chunk's arrival order */
};

/*
 * TensorBoard's display rule for restarts: walking points in arrival order, a point at step s
 * that goes backwards (s below an earlier point's step), or a restart at step s (a
 * SessionLog.START, given in `restarts` by arrival sequence), hides every earlier point at a
 * step >= s. Storage keeps them all; this only decides what a chart shows. Compacts pts in
 * place and returns the new count.
 */
size_t svc_purge_restarts(struct svc_point *pts, size_t n, const struct svc_restart *restarts,
                          size_t n_restarts);

/* Whether the row of arrival sequence seq is shown, given the sorted seqs of the rows the
 * restart rule shows (shown[0..n_shown)), or NULL when every row is shown. */
bool svc_row_shown(const int64_t *shown, size_t n_shown, int64_t seq);

/*
 * Downsamples pts (sorted by step) to at most `target` points, keeping the shape: the points
 * are cut into target/4 buckets by index, and from each bucket the first, last, minimum and
 * maximum points are kept, in step order (M4: four points per bucket draw the same line as
 * all of them when a bucket is a pixel column). NaN values are kept where they fall. Returns
 * the new count (pts compacted in place). target < 4 or n <= target leaves pts alone.
 */
size_t svc_downsample(struct svc_point *pts, size_t n, size_t target);

/*
 * The same choice as svc_downsample, as indices: writes the kept indices of pts into
 * ret_idx (room for min(n, target) entries, the caller's) in increasing order and returns
 * how many. With target < 4 or n <= target every index is kept.
 */
size_t svc_downsample_idx(const struct svc_point *pts, size_t n, size_t target, size_t *ret_idx);

/*
 * TensorBoard's smoothing: the debiased exponential moving average of pts' values in order,
 * out[i] = EMA_i / (1 - weight^k) after k finite values, with EMA_i = weight * EMA_{i-1} +
 * (1 - weight) * value_i. A NaN or infinite value is copied and does not move the average;
 * a constant series is copied as it is (TensorBoard does the same); weight is clamped to
 * [0, 1] (not finite: 0). out has room for n doubles (the caller's).
 */
void svc_smooth(const struct svc_point *pts, size_t n, double weight, double *out);

/* The points of pts (sorted by step) with start <= step <= end: [*ret_lo, *ret_hi). */
void svc_step_window(const struct svc_point *pts, size_t n, int64_t start, int64_t end,
                     size_t *ret_lo, size_t *ret_hi);

/* Sorts points by step, keeping arrival order among equal steps. */
void svc_sort_by_step(struct svc_point *pts, size_t n);

/*
 * svc_downsample's choice made from summaries instead of points (struct svc_chunk_summary's
 * units: n_units of them, SVC_SUMMARY_UNIT_BYTES each, each the first, minimum, maximum and
 * last point of a run of points), for points whose steps strictly increase across all units:
 * the units are cut into min(target/4, n_units) buckets by index, each a run of whole units,
 * and from each bucket its first, minimum, maximum and last points are kept, in step order
 * (one of equal steps). The same M4 guarantee as svc_downsample, with bucket edges on unit
 * edges. Writes at most 4 * (target/4) points into out (the caller's); returns how many.
 */
size_t svc_downsample_units(const uint8_t *units, size_t n_units, size_t target,
                            struct svc_point *out);
