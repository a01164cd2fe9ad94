/* SPDX-License-Identifier: MIT */
/* What the read handlers (api_series.c, api_scalars.c, api_tensors.c, api_hparams.c) share:
 * loading an experiment's series, choosing some of them, and the common query parameters. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "app.h"
#include "downsample.h"

#define DT(x) TENSORBOARD__DATA_TYPE__DT_##x

/* The experiment's series. */
struct svc_series_set {
    struct svc_experiment e;
    struct svc_series_info *s;
    size_t n;
};

/* Loads the experiment c->param, if the caller may read it, and its series into *ss. Answers
 * the error itself and returns false on failure (nothing to free then). */
bool svc_read_load(struct svc_call *c, struct svc_series_set *ss);

/* Frees what svc_read_load filled. */
void svc_read_done(struct svc_series_set *ss);

/* The series of `tag` (any tag if NULL) in the requested runs (?run=, repeatable; all runs if
 * none) with the given kind (0: any) and plugin (NULL: any). *ret is an array of borrowed
 * pointers into ss, freed by the caller with free(); returns its length. */
size_t svc_read_select(struct svc_call *c, struct svc_series_set *ss, const char *tag,
                       enum tb_kind kind, const char *plugin, struct svc_series_info ***ret);

/* The ?tag= parameter, or NULL after answering 400. */
const char *svc_read_need_tag(struct svc_call *c);

/* ?points=N, or def; "all" or 0 give 0 (full resolution). */
size_t svc_read_points_param(struct svc_call *c, size_t def);

/* A scalar series' points for display. */
struct svc_pts {
    struct svc_point *p;
    size_t n, cap;
    bool over;
};

/* Reads a scalar series whole: restarts applied (unless ?restarts=keep), sorted by step.
 * x->p is freed by the caller with free(), also on failure. Returns 0, -E2BIG past the
 * full-resolution cap, or a store error. */
int svc_read_scalars(struct svc_call *c, const struct svc_series_info *s, struct svc_pts *x);

/* The (seq, step) of every row of a tensor or blob series (blobs: the blob rows) in arrival
 * order, without those TensorBoard's restart rule hides when purge is set (downsample.h).
 * x->p is freed by the caller, also on failure; *ret_total (may be NULL) is the count before
 * the purge. Returns 0 or a store error. */
int svc_read_row_steps(struct svc_call *c, const struct svc_series_info *s, bool blobs, bool purge,
                       struct svc_pts *x, size_t *ret_total);
