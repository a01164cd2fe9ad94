/* SPDX-License-Identifier: MIT */
/* GET .../scalars: downsampled (or whole) scalar series, as JSON or CSV. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_read.h"

#define POINTS_DEFAULT 1000
#define FULL_POINTS_MAX 20000000ull /* rows one request may return at full resolution */

static int chunk_cb(void *ctx, int64_t seq, const uint8_t *data, size_t n)
{
    struct svc_pts *x = ctx;
    if (x->n + n > FULL_POINTS_MAX) {
        x->over = true;
        return 1;
    }
    if (x->n + n > x->cap) {
        size_t cap = x->cap ? x->cap : 1024;
        while (cap < x->n + n)
            cap *= 2;
        void *np = realloc(x->p, cap * sizeof(*x->p));
        if (!np) {
            x->over = true;
            return 1;
        }
        x->p = np;
        x->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        struct svc_point *pt = &x->p[x->n++];
        memcpy(&pt->step, data + i * SVC_SCALAR_POINT_BYTES, 8);
        memcpy(&pt->wall_time, data + i * SVC_SCALAR_POINT_BYTES + 8, 8);
        memcpy(&pt->value, data + i * SVC_SCALAR_POINT_BYTES + 16, 8);
        pt->seq = seq;
    }
    return 0;
}

/* Reads a scalar series for display: restarts applied (unless ?restarts=keep), sorted. */
int svc_read_scalars(struct svc_call *c, const struct svc_series_info *s, struct svc_pts *x)
{
    memset(x, 0, sizeof(*x));
    int err = c->app->ops->scalar_chunks(c->app->store, s->id, chunk_cb, x);
    if (err < 0)
        return err;
    if (x->over)
        return -E2BIG;
    const char *rs = svc_req_query(c->req, "restarts");
    if (!rs || strcmp(rs, "keep")) {
        struct svc_restart *r = NULL;
        size_t nr = 0;
        err = c->app->ops->restarts(c->app->store, s->run_id, &r, &nr);
        if (err < 0)
            return err;
        x->n = svc_purge_restarts(x->p, x->n, r, nr);
        free(r);
    }
    svc_sort_by_step(x->p, x->n);
    return 0;
}

struct sums {
    struct svc_chunk_summary *c;
    size_t n, cap;
    bool failed;
};

static int sum_cb(void *ctx, int64_t seq, const struct svc_chunk_summary *cs)
{
    (void)seq;
    struct sums *x = ctx;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 256;
        void *p = realloc(x->c, cap * sizeof(*x->c));
        if (!p) {
            x->failed = true;
            return 1;
        }
        x->c = p;
        x->cap = cap;
    }
    x->c[x->n++] = *cs;
    return 0;
}

static void point_at(const uint8_t *p, struct svc_point *out)
{
    memcpy(&out->step, p, 8);
    memcpy(&out->wall_time, p + 8, 8);
    memcpy(&out->value, p + 16, 8);
    out->seq = 0;
}

/*
 * Downsampling from the chunks' summaries, without reading their points: valid when the run
 * has no restarts and every chunk's steps increase and follow the previous chunk's, because
 * then no point is hidden and arrival order is step order. Each output bucket is a run of
 * whole chunks, and keeps their first, minimum, maximum and last points, as svc_downsample
 * would. Returns 1 with x filled and *ret_total set, 0 to read every point instead, or -errno.
 */
static int read_summarized(struct svc_call *c, const struct svc_series_info *s, size_t target,
                           struct svc_pts *x, size_t *ret_total)
{
    if (!target || s->points <= (uint64_t)target * 16)
        return 0; /* small enough to read whole */
    struct svc_restart *r = NULL;
    size_t nr = 0;
    int err = c->app->ops->restarts(c->app->store, s->run_id, &r, &nr);
    free(r);
    if (err < 0)
        return err;
    if (nr)
        return 0;
    struct sums sm = {0};
    err = c->app->ops->scalar_summaries(c->app->store, s->id, sum_cb, &sm);
    size_t buckets = target / 4;
    int rc = 0;
    if (err < 0 || sm.failed) {
        rc = err < 0 ? err : -ENOMEM;
        goto out;
    }
    if (sm.n < buckets * 2)
        goto out;
    size_t total = 0;
    for (size_t i = 0; i < sm.n; i++) {
        if (!sm.c[i].sorted || (i && sm.c[i].min_step <= sm.c[i - 1].max_step))
            goto out; /* out of order somewhere: the full path applies TensorBoard's rule */
        total += sm.c[i].n;
    }
    memset(x, 0, sizeof(*x));
    x->p = malloc(4 * buckets * sizeof(*x->p));
    if (!x->p) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t b = 0; b < buckets; b++) {
        size_t lo = sm.n * b / buckets, hi = sm.n * (b + 1) / buckets;
        struct svc_point first, last, mn, mx;
        point_at(sm.c[lo].points, &first);
        point_at(sm.c[hi - 1].points + 3 * SVC_SCALAR_POINT_BYTES, &last);
        point_at(sm.c[lo].points + SVC_SCALAR_POINT_BYTES, &mn);
        point_at(sm.c[lo].points + 2 * SVC_SCALAR_POINT_BYTES, &mx);
        for (size_t k = lo + 1; k < hi; k++) {
            struct svc_point a, z;
            point_at(sm.c[k].points + SVC_SCALAR_POINT_BYTES, &a);
            point_at(sm.c[k].points + 2 * SVC_SCALAR_POINT_BYTES, &z);
            if (!isnan(a.value) && (isnan(mn.value) || a.value < mn.value))
                mn = a;
            if (!isnan(z.value) && (isnan(mx.value) || z.value > mx.value))
                mx = z;
        }
        struct svc_point keep[4] = {first, mn, mx, last};
        for (int i = 0; i < 4; i++) /* step order, which is arrival order here */
            for (int k = i + 1; k < 4; k++)
                if (keep[k].step < keep[i].step) {
                    struct svc_point t = keep[i];
                    keep[i] = keep[k];
                    keep[k] = t;
                }
        for (int i = 0; i < 4; i++)
            if (i == 0 || keep[i].step != keep[i - 1].step)
                x->p[x->n++] = keep[i];
    }
    *ret_total = total;
    rc = 1;
out:
    free(sm.c);
    return rc;
}

static void csv_field(struct tb_buf *b, const char *s)
{
    /* RFC 4180 quoting; a field a spreadsheet would read as a formula (a leading =, +, -, @,
     * tab or carriage return: OWASP's list) gets a quote mark first */
    tb_buf_addc(b, '"');
    if (*s && strchr("=+-@\t\r", *s))
        tb_buf_addc(b, '\'');
    for (; *s; s++) {
        if (*s == '"')
            tb_buf_addc(b, '"');
        tb_buf_addc(b, *s);
    }
    tb_buf_addc(b, '"');
}

static void csv_double(struct tb_buf *b, double v)
{
    if (isnan(v))
        tb_buf_adds(b, "NaN");
    else if (isinf(v))
        tb_buf_adds(b, v > 0 ? "Infinity" : "-Infinity");
    else
        tb_buf_addf(b, "%.17g", v);
}

void svc_h_scalars(struct svc_call *c)
{
    const char *tag = svc_read_need_tag(c);
    if (!tag)
        return;
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
        return;
    struct svc_series_info **sel = NULL;
    size_t n = svc_read_select(c, &ss, tag, TB_KIND_SCALAR, NULL, &sel);
    size_t target = svc_read_points_param(c, POINTS_DEFAULT);
    const char *fmt = svc_req_query(c->req, "format");
    bool csv = fmt && !strcasecmp(fmt, "csv");
    struct tb_json j;
    svc_json_begin(c, &j);
    if (csv) {
        c->res->content_type = "text/csv; charset=utf-8";
        svc_res_header(c->res, "Content-Disposition", "attachment; filename=\"scalars.csv\"");
        tb_buf_adds(&c->res->body, "run,tag,step,wall_time,value\r\n");
    } else {
        tb_json_obj_open(&j);
        tb_json_key(&j, "tag");
        tb_json_str(&j, tag);
        tb_json_key(&j, "series");
        tb_json_arr_open(&j);
    }
    for (size_t i = 0; i < n; i++) {
        struct svc_pts x;
        size_t total = 0;
        int err = read_summarized(c, sel[i], target, &x, &total);
        bool summarized = err == 1;
        if (err == 0)
            err = svc_read_scalars(c, sel[i], &x);
        if (err < 0) {
            free(x.p);
            if (err == -E2BIG)
                svc_error(c, 413, "too_large",
                          "run '%.100s' tag '%.100s' has more than %llu points; ask for fewer "
                          "with ?points=N",
                          sel[i]->run, tag, FULL_POINTS_MAX);
            else
                svc_store_error(c, err, "reading scalars");
            goto out;
        }
        if (!summarized)
            total = x.n;
        size_t shown = target && !summarized ? svc_downsample(x.p, x.n, target) : x.n;
        if (csv) {
            for (size_t k = 0; k < shown; k++) {
                csv_field(&c->res->body, sel[i]->run);
                tb_buf_addc(&c->res->body, ',');
                csv_field(&c->res->body, tag);
                tb_buf_addf(&c->res->body, ",%lld,", (long long)x.p[k].step);
                csv_double(&c->res->body, x.p[k].wall_time);
                tb_buf_addc(&c->res->body, ',');
                csv_double(&c->res->body, x.p[k].value);
                tb_buf_adds(&c->res->body, "\r\n");
            }
        } else {
            tb_json_obj_open(&j);
            tb_json_key(&j, "run");
            tb_json_str(&j, sel[i]->run);
            tb_json_key(&j, "total");
            tb_json_uint(&j, total);
            tb_json_key(&j, "downsampled");
            tb_json_bool(&j, shown < total);
            tb_json_key(&j, "points");
            tb_json_arr_open(&j);
            for (size_t k = 0; k < shown; k++) {
                tb_json_arr_open(&j);
                tb_json_double(&j, x.p[k].wall_time);
                tb_json_int(&j, x.p[k].step);
                tb_json_double(&j, x.p[k].value);
                tb_json_arr_close(&j);
            }
            tb_json_arr_close(&j);
            tb_json_obj_close(&j);
        }
        free(x.p);
    }
    if (!csv) {
        tb_json_arr_close(&j);
        tb_json_obj_close(&j);
    }
out:
    free(sel);
    svc_read_done(&ss);
}
