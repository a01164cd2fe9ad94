/* SPDX-License-Identifier: MIT */
/* GET .../scalars: downsampled (or whole) scalar series, as JSON or CSV. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_read.h"
#include "numfmt.h"

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

/* The summary units of a series' chunks, in order, while their steps strictly increase. */
struct sums {
    uint8_t *u;
    size_t n, cap;
    uint64_t total;
    int64_t last_step;
    bool unordered, failed;
};

static int sum_cb(void *ctx, int64_t seq, const struct svc_chunk_summary *cs)
{
    (void)seq;
    struct sums *x = ctx;
    if (!cs->sorted || (x->total && cs->min_step <= x->last_step)) {
        x->unordered = true; /* the full path applies TensorBoard's rule */
        return 1;
    }
    x->total += cs->n;
    x->last_step = cs->max_step;
    /* a chunk's groups where stored, else the chunk as one unit */
    size_t k = cs->n_groups ? cs->n_groups : 1;
    const uint8_t *from = cs->points + (cs->n_groups ? SVC_SUMMARY_UNIT_BYTES : 0);
    if (x->n + k > x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 256;
        while (cap < x->n + k)
            cap *= 2;
        void *p = realloc(x->u, cap * SVC_SUMMARY_UNIT_BYTES);
        if (!p) {
            x->failed = true;
            return 1;
        }
        x->u = p;
        x->cap = cap;
    }
    memcpy(x->u + x->n * SVC_SUMMARY_UNIT_BYTES, from, k * SVC_SUMMARY_UNIT_BYTES);
    x->n += k;
    return 0;
}

/*
 * Downsampling from the chunks' summaries, without reading their points: valid when the run
 * has no restarts and every chunk's steps increase and follow the previous chunk's, because
 * then no point is hidden and arrival order is step order. The units are the chunks' groups
 * (SVC_SUMMARY_GROUP_POINTS points each) where stored, else whole chunks; each output bucket
 * is a run of whole units (svc_downsample_units), at least two of them. Returns 1 with x
 * filled and *ret_total set, 0 to read every point instead, or -errno.
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
    size_t buckets = target / 4;
    /* the groups when the chunks alone may be too few units (a chunk holds at most
     * SVC_SCALAR_CHUNK_POINTS points, so there are at least points / that many) */
    bool groups = s->points / SVC_SCALAR_CHUNK_POINTS < (uint64_t)buckets * 4;
    struct sums sm = {0};
    err = c->app->ops->scalar_summaries(c->app->store, s->id, groups, sum_cb, &sm);
    int rc = 0;
    if (err < 0 || sm.failed) {
        rc = err < 0 ? err : -ENOMEM;
        goto out;
    }
    if (sm.unordered || sm.n < buckets * 2)
        goto out;
    memset(x, 0, sizeof(*x));
    x->p = malloc(4 * buckets * sizeof(*x->p));
    if (!x->p) {
        rc = -ENOMEM;
        goto out;
    }
    x->n = svc_downsample_units(sm.u, sm.n, target, x->p);
    *ret_total = sm.total;
    rc = 1;
out:
    free(sm.u);
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

/* A number as text with the fewest digits that read back exactly; float32 data (f32) as the
 * float the writer logged. NULL for the non-finite, which the caller spells. */
static const char *num_text(double v, bool f32, char out[TB_NUMFMT_MAX])
{
    if (!isfinite(v))
        return NULL;
    if (f32 && (double)(float)v == v)
        tb_numfmt_float((float)v, out);
    else
        tb_numfmt_double(v, out);
    return out;
}

/* A smoothed value is computed in double; for float32 data, float precision is all it has. */
static double smoothed_value(double v, bool f32)
{
    return f32 && isfinite(v) && fabs(v) < 3e38 ? (double)(float)v : v;
}

static void csv_double(struct tb_buf *b, double v, bool f32)
{
    char t[TB_NUMFMT_MAX];
    if (isnan(v))
        tb_buf_adds(b, "NaN");
    else if (isinf(v))
        tb_buf_adds(b, v > 0 ? "Infinity" : "-Infinity");
    else
        tb_buf_adds(b, num_text(v, f32, t));
}

static void json_num(struct tb_json *j, double v, bool f32)
{
    char t[TB_NUMFMT_MAX];
    if (!isfinite(v))
        tb_json_double(j, v); /* "NaN", "Infinity", "-Infinity" */
    else
        tb_json_raw(j, num_text(v, f32, t));
}

/* v in decimal into out (room for 21 bytes); returns the length. snprintf costs ten times as
 * much, and an answer holds hundreds of thousands of steps. */
static size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}

static void json_step(struct tb_json *j, int64_t step)
{
    char out[24];
    if (step < 0) {
        out[0] = '-';
        fmt_u64(out + 1, (uint64_t)0 - (uint64_t)step);
    } else {
        fmt_u64(out, (uint64_t)step);
    }
    tb_json_raw(j, out);
}

/* A wall time; with ms, rounded to the millisecond (what a chart or a tooltip can show, and
 * a third of the bytes once compressed: the microseconds are noise to a compressor). */
static void json_wall(struct tb_json *j, double w, bool ms)
{
    if (!ms || !isfinite(w) || fabs(w) >= 9e12) { /* past that, milliseconds overflow */
        json_num(j, w, false);
        return;
    }
    long long t = llround(w * 1000);
    char out[40];
    size_t n = 0;
    if (t < 0)
        out[n++] = '-';
    uint64_t a = (uint64_t)llabs(t);
    n += fmt_u64(out + n, a / 1000);
    unsigned frac = (unsigned)(a % 1000);
    if (frac) {
        out[n++] = '.';
        out[n++] = (char)('0' + frac / 100);
        out[n++] = (char)('0' + frac / 10 % 10);
        out[n++] = (char)('0' + frac % 10);
        while (out[n - 1] == '0')
            n--;
    }
    out[n] = 0;
    tb_json_raw(j, out);
}

/* Values logged as float32 (TF1 simple_value, DT_FLOAT and narrower tensors). */
static bool is_f32(const struct svc_series_info *s)
{
    return s->source == TB_SRC_SIMPLE_VALUE || s->dtype == DT(FLOAT) || s->dtype == DT(HALF) ||
           s->dtype == DT(BFLOAT16);
}

/* The request's settings, checked once. */
struct scalar_query {
    size_t target;      /* points per series; 0: all */
    bool window;        /* start_step / end_step given */
    int64_t start, end; /* inclusive step range */
    bool columns;       /* layout=columns: one array per field instead of point rows */
    bool logged;        /* precision=logged or display: float32 data with float32's digits */
    bool wall_ms;       /* precision=display: wall times to the millisecond */
    bool smooth;        /* smoothing given */
    double weight;      /* TensorBoard's smoothing weight, [0, 1] */
    bool csv;
};

static bool int64_param(struct svc_call *c, const char *name, int64_t def, int64_t *ret)
{
    const char *v = svc_req_query(c->req, name);
    *ret = def;
    if (!v)
        return true;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno) {
        svc_error(c, 400, "invalid_argument", "%s must be a whole number (a step), not '%.40s'",
                  name, v);
        return false;
    }
    *ret = x;
    return true;
}

static bool parse_query(struct svc_call *c, struct scalar_query *q)
{
    memset(q, 0, sizeof(*q));
    q->target = svc_read_points_param(c, POINTS_DEFAULT);
    const char *fmt = svc_req_query(c->req, "format");
    q->csv = fmt && !strcasecmp(fmt, "csv");
    q->window = svc_req_query(c->req, "start_step") || svc_req_query(c->req, "end_step");
    if (!int64_param(c, "start_step", INT64_MIN, &q->start) ||
        !int64_param(c, "end_step", INT64_MAX, &q->end))
        return false;
    if (q->start > q->end) {
        svc_error(c, 400, "invalid_argument", "start_step (%lld) is after end_step (%lld)",
                  (long long)q->start, (long long)q->end);
        return false;
    }
    const char *lay = svc_req_query(c->req, "layout");
    if (lay && strcmp(lay, "rows") && strcmp(lay, "columns")) {
        svc_error(c, 400, "invalid_argument", "layout must be rows or columns, not '%.40s'", lay);
        return false;
    }
    q->columns = lay && !strcmp(lay, "columns");
    const char *prec = svc_req_query(c->req, "precision");
    if (prec && strcmp(prec, "exact") && strcmp(prec, "logged") && strcmp(prec, "display")) {
        svc_error(c, 400, "invalid_argument",
                  "precision must be exact, logged or display, not '%.40s'", prec);
        return false;
    }
    q->logged = prec && (!strcmp(prec, "logged") || !strcmp(prec, "display"));
    q->wall_ms = prec && !strcmp(prec, "display");
    const char *sm = svc_req_query(c->req, "smoothing");
    if (sm) {
        char *end = NULL;
        double w = strtod(sm, &end);
        if (!*sm || *end || !(w >= 0 && w <= 1)) {
            svc_error(c, 400, "invalid_argument",
                      "smoothing must be a number from 0 to 1 (TensorBoard's slider), not "
                      "'%.40s'",
                      sm);
            return false;
        }
        q->smooth = true;
        q->weight = w;
    }
    return true;
}

/* One series of the answer: the points of x chosen by idx (all of x when idx is NULL). */
static void write_series(struct svc_call *c, struct tb_json *j, const struct scalar_query *q,
                         const struct svc_series_info *s, const char *tag, const struct svc_pts *x,
                         const size_t *idx, size_t k, const double *smoothed, size_t total,
                         size_t in_window, double first_wall)
{
    /* exact: the stored double's shortest text; logged: float32 values as the float logged */
    bool f32 = q->logged && is_f32(s);
    struct tb_buf *b = &c->res->body;
    if (q->csv) {
        for (size_t i = 0; i < k; i++) {
            size_t p = idx ? idx[i] : i;
            csv_field(b, s->run);
            tb_buf_addc(b, ',');
            csv_field(b, tag);
            tb_buf_addf(b, ",%lld,", (long long)x->p[p].step);
            csv_double(b, x->p[p].wall_time, false);
            tb_buf_addc(b, ',');
            csv_double(b, x->p[p].value, f32);
            if (smoothed) {
                tb_buf_addc(b, ',');
                csv_double(b, smoothed_value(smoothed[p], f32), f32);
            }
            tb_buf_adds(b, "\r\n");
        }
        return;
    }
    tb_json_obj_open(j);
    tb_json_key(j, "run");
    tb_json_str(j, s->run);
    tb_json_key(j, "total");
    tb_json_uint(j, total);
    if (q->window) {
        tb_json_key(j, "window_points");
        tb_json_uint(j, in_window);
    }
    tb_json_key(j, "downsampled");
    tb_json_bool(j, k < in_window);
    if (isfinite(first_wall)) {
        tb_json_key(j, "first_wall_time"); /* relative time is measured from here */
        json_wall(j, first_wall, q->wall_ms);
    }
    if (q->columns) { /* compresses far better: like numbers sit together */
        static const char *const names[4] = {"wall_time", "step", "value", "smoothed"};
        for (int f = 0; f < (smoothed ? 4 : 3); f++) {
            tb_json_key(j, names[f]);
            tb_json_arr_open(j);
            for (size_t i = 0; i < k; i++) {
                size_t p = idx ? idx[i] : i;
                if (f == 0)
                    json_wall(j, x->p[p].wall_time, q->wall_ms);
                else if (f == 1)
                    json_step(j, x->p[p].step);
                else if (f == 2)
                    json_num(j, x->p[p].value, f32);
                else
                    json_num(j, smoothed_value(smoothed[p], f32), f32);
            }
            tb_json_arr_close(j);
        }
        tb_json_obj_close(j);
        return;
    }
    tb_json_key(j, "points");
    tb_json_arr_open(j);
    for (size_t i = 0; i < k; i++) {
        size_t p = idx ? idx[i] : i;
        tb_json_arr_open(j);
        json_wall(j, x->p[p].wall_time, q->wall_ms);
        json_step(j, x->p[p].step);
        json_num(j, x->p[p].value, f32);
        if (smoothed)
            json_num(j, smoothed_value(smoothed[p], f32), f32);
        tb_json_arr_close(j);
    }
    tb_json_arr_close(j);
    tb_json_obj_close(j);
}

/* Reads, smooths, cuts and downsamples one series, then writes it. Returns 0 or -errno
 * (answered by the caller). */
static int one_series(struct svc_call *c, struct tb_json *j, const struct scalar_query *q,
                      const struct svc_series_info *s, const char *tag)
{
    struct svc_pts x = {0};
    size_t total = 0, *idx = NULL;
    double *sm = NULL;
    int err = 0;
    if (!q->window && !q->smooth) {
        err = read_summarized(c, s, q->target, &x, &total);
        if (err < 0)
            goto out;
        if (err == 1) { /* chosen from the chunks' summaries */
            write_series(c, j, q, s, tag, &x, NULL, x.n, NULL, total, total,
                         x.n ? x.p[0].wall_time : NAN);
            err = 0;
            goto out;
        }
    }
    err = svc_read_scalars(c, s, &x);
    if (err < 0)
        goto out;
    total = x.n;
    if (q->smooth) {
        sm = malloc((x.n ? x.n : 1) * sizeof(*sm));
        if (!sm) {
            err = -ENOMEM;
            goto out;
        }
        svc_smooth(x.p, x.n, q->weight, sm); /* over every point, before the window */
    }
    size_t lo = 0, hi = x.n;
    if (q->window)
        svc_step_window(x.p, x.n, q->start, q->end, &lo, &hi);
    size_t in = hi - lo, cap = q->target && q->target < in ? q->target : in;
    idx = malloc((cap ? cap : 1) * sizeof(*idx));
    if (!idx) {
        err = -ENOMEM;
        goto out;
    }
    size_t k = svc_downsample_idx(x.p + lo, in, q->target, idx);
    for (size_t i = 0; i < k; i++)
        idx[i] += lo;
    write_series(c, j, q, s, tag, &x, idx, k, sm, total, in, x.n ? x.p[0].wall_time : NAN);
out:
    free(x.p);
    free(idx);
    free(sm);
    return err;
}

void svc_h_scalars(struct svc_call *c)
{
    const char *tag = svc_read_need_tag(c);
    if (!tag)
        return;
    struct scalar_query q;
    if (!parse_query(c, &q))
        return;
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
        return;
    struct svc_series_info **sel = NULL;
    size_t n = svc_read_select(c, &ss, tag, TB_KIND_SCALAR, NULL, &sel);
    struct tb_json j;
    svc_json_begin(c, &j);
    if (q.csv) {
        c->res->content_type = "text/csv; charset=utf-8";
        svc_res_header(c->res, "Content-Disposition", "attachment; filename=\"scalars.csv\"");
        tb_buf_adds(&c->res->body, q.smooth ? "run,tag,step,wall_time,value,smoothed\r\n"
                                            : "run,tag,step,wall_time,value\r\n");
    } else {
        tb_json_obj_open(&j);
        tb_json_key(&j, "tag");
        tb_json_str(&j, tag);
        if (q.smooth) {
            tb_json_key(&j, "smoothing");
            tb_json_double(&j, q.weight);
        }
        tb_json_key(&j, "series");
        tb_json_arr_open(&j);
    }
    for (size_t i = 0; i < n; i++) {
        int err = one_series(c, &j, &q, sel[i], tag);
        if (err == -E2BIG) {
            svc_error(c, 413, "too_large",
                      "run '%.100s' tag '%.100s' has more than %llu points; ask for fewer "
                      "with ?points=N",
                      sel[i]->run, tag, FULL_POINTS_MAX);
            goto out;
        }
        if (err < 0) {
            svc_store_error(c, err, "reading scalars");
            goto out;
        }
    }
    if (!q.csv) {
        tb_json_arr_close(&j);
        tb_json_obj_close(&j);
    }
out:
    free(sel);
    svc_read_done(&ss);
}
