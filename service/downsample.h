/* SPDX-License-Identifier: MIT */
/* Scalar series for charts: TensorBoard's restart rule, then downsampling that keeps extremes. */
#pragma once

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

/*
 * Downsamples pts (sorted by step) to at most `target` points, keeping the shape: the points
 * are cut into target/4 buckets by index, and from each bucket the first, last, minimum and
 * maximum points are kept, in step order. NaN values are kept where they fall. Returns the
 * new count (pts compacted in place). target < 4 or n <= target leaves pts alone.
 */
size_t svc_downsample(struct svc_point *pts, size_t n, size_t target);

/* Sorts points by step, keeping arrival order among equal steps. */
void svc_sort_by_step(struct svc_point *pts, size_t n);
