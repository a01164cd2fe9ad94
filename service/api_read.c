/* SPDX-License-Identifier: MIT */
/* The JSON read API: runs, tags, scalars, histograms, tensors, text, blobs, hparams, PR curves. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "auth.h"
#include "downsample.h"
#include "markdown.h"
#include "sniff.h"
#include "tensorboard/plugin_hparams.pb-c.h"

#define POINTS_DEFAULT 1000
#define FULL_POINTS_MAX 20000000ull /* rows one request may return at full resolution */
#define TENSOR_POINTS_DEFAULT 200
#define DT(x) TENSORBOARD__DATA_TYPE__DT_##x

/* The experiment's series; answers the error itself and returns false on failure. */
struct series_set {
    struct svc_experiment e;
    struct svc_series_info *s;
    size_t n;
};

static bool load(struct svc_call *c, struct series_set *ss)
{
    ss->s = NULL;
    ss->n = 0;
    if (!svc_load_experiment(c, false, &ss->e))
        return false;
    if (ss->e.visibility != SVC_VIS_PUBLIC)
        svc_res_header(c->res, "X-Robots-Tag", "noindex");
    int err = c->app->ops->series_list(c->app->store, ss->e.id, &ss->s, &ss->n);
    if (err < 0) {
        svc_store_error(c, err, "reading the experiment");
        return false;
    }
    return true;
}

static void done(struct series_set *ss)
{
    svc_series_list_free(ss->s, ss->n);
}

struct runs_wanted {
    const char **names;
    size_t n, cap;
};

static void want_run(void *ctx, const char *v)
{
    struct runs_wanted *w = ctx;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 8;
        void *p = realloc(w->names, cap * sizeof(*w->names));
        if (!p)
            return;
        w->names = p;
        w->cap = cap;
    }
    w->names[w->n++] = v;
}

static bool run_wanted(const struct runs_wanted *w, const char *run)
{
    if (!w->n)
        return true;
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->names[i], run))
            return true;
    return false;
}

/* The series of `tag` in the requested runs (all runs if none given) with the given kind. */
static size_t select_series(struct svc_call *c, struct series_set *ss, const char *tag,
                            enum tb_kind kind, const char *plugin, struct svc_series_info ***ret)
{
    struct runs_wanted w = {0};
    svc_req_query_each(c->req, "run", want_run, &w);
    struct svc_series_info **out = calloc(ss->n ? ss->n : 1, sizeof(*out));
    size_t n = 0;
    for (size_t i = 0; out && i < ss->n; i++) {
        struct svc_series_info *s = &ss->s[i];
        if ((tag && strcmp(s->tag, tag)) || (kind && s->kind != kind) ||
            (plugin && strcmp(s->plugin, plugin)) || !run_wanted(&w, s->run))
            continue;
        out[n++] = s;
    }
    free(w.names);
    *ret = out;
    return n;
}

static const char *need_tag(struct svc_call *c)
{
    const char *tag = svc_req_query(c->req, "tag");
    if (!tag)
        svc_error(c, 400, "invalid_argument",
                  "name the tag: ?tag=NAME (and ?run=NAME, repeatable)");
    return tag;
}

/* ?points=N, "all" or 0 for full resolution. */
static size_t points_param(struct svc_call *c, size_t def)
{
    const char *p = svc_req_query(c->req, "points");
    if (!p)
        return def;
    if (!strcmp(p, "all") || !strcmp(p, "0"))
        return 0;
    long v = strtol(p, NULL, 10);
    return v > 0 ? (size_t)v : def;
}

void svc_h_runs(struct svc_call *c)
{
    struct series_set ss;
    if (!load(c, &ss))
        return;
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "runs");
    tb_json_arr_open(&j);
    for (size_t i = 0; i < ss.n;) {
        size_t k = i;
        uint64_t points = 0;
        while (k < ss.n && !strcmp(ss.s[k].run, ss.s[i].run))
            points += ss.s[k++].points;
        tb_json_obj_open(&j);
        tb_json_key(&j, "name");
        tb_json_str(&j, ss.s[i].run);
        tb_json_key(&j, "tags");
        tb_json_uint(&j, k - i);
        tb_json_key(&j, "points");
        tb_json_uint(&j, points);
        tb_json_obj_close(&j);
        i = k;
    }
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
    done(&ss);
}

void svc_h_tags(struct svc_call *c)
{
    struct series_set ss;
    if (!load(c, &ss))
        return;
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "tags");
    tb_json_arr_open(&j);
    for (size_t i = 0; i < ss.n; i++) {
        const struct svc_series_info *s = &ss.s[i];
        tb_json_obj_open(&j);
        tb_json_key(&j, "run");
        tb_json_str(&j, s->run);
        tb_json_key(&j, "tag");
        tb_json_str(&j, s->tag);
        tb_json_key(&j, "plugin");
        tb_json_str(&j, s->plugin);
        tb_json_key(&j, "kind");
        tb_json_str(&j, tb_kind_name(s->kind));
        tb_json_key(&j, "data_class");
        tb_json_int(&j, s->data_class);
        tb_json_key(&j, "display_name");
        tb_json_str(&j, s->display_name);
        tb_json_key(&j, "description");
        tb_json_str(&j, s->description);
        if (s->description[0]) {
            struct tb_buf html;
            tb_buf_init(&html, 1 << 20);
            svc_markdown_html(s->description, strlen(s->description), &html);
            tb_json_key(&j, "description_html");
            tb_json_strn(&j, html.data ? (const char *)html.data : "", html.len);
            tb_buf_done(&html);
        }
        tb_json_key(&j, "points");
        tb_json_uint(&j, s->points);
        tb_json_key(&j, "min_step");
        tb_json_int(&j, s->min_step);
        tb_json_key(&j, "max_step");
        tb_json_int(&j, s->max_step);
        tb_json_obj_close(&j);
    }
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
    done(&ss);
}

/* --- scalars --- */

struct pts {
    struct svc_point *p;
    size_t n, cap;
    bool over;
};

static int chunk_cb(void *ctx, int64_t seq, const uint8_t *data, size_t n)
{
    struct pts *x = ctx;
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
static int read_scalars(struct svc_call *c, const struct svc_series_info *s, struct pts *x)
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
                           struct pts *x, size_t *ret_total)
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
    /* RFC 4180 quoting; a leading =, +, - or @ gets a quote mark so spreadsheets do not run it */
    tb_buf_addc(b, '"');
    if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
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
    const char *tag = need_tag(c);
    if (!tag)
        return;
    struct series_set ss;
    if (!load(c, &ss))
        return;
    struct svc_series_info **sel = NULL;
    size_t n = select_series(c, &ss, tag, TB_KIND_SCALAR, NULL, &sel);
    size_t target = points_param(c, POINTS_DEFAULT);
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
        struct pts x;
        size_t total = 0;
        int err = read_summarized(c, sel[i], target, &x, &total);
        bool summarized = err == 1;
        if (err == 0)
            err = read_scalars(c, sel[i], &x);
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
    if (c->res->body.err)
        svc_error(c, 413, "too_large", "the answer is too large; ask for fewer runs or points");
out:
    free(sel);
    done(&ss);
}

/* --- tensors --- */

struct rows {
    struct svc_call *c;
    struct tb_json *j;
    const struct svc_series_info *s;
    int mode; /* 0 generic, 1 histogram, 2 text, 3 pr curve, 4 blobs */
    size_t total, keep_every, seen;
    const char *exp_id;
};

/* Writes a tensor's values as a flat JSON array (numbers or strings). */
static void json_values(struct tb_json *j, const struct svc_tensor_row *r)
{
    tb_json_arr_open(j);
    if (r->dtype == DT(STRING)) {
        for (size_t o = 0; o + 4 <= r->len;) {
            uint32_t n;
            memcpy(&n, r->data + o, 4);
            if (o + 4 + n > r->len)
                break;
            tb_json_strn(j, r->data + o + 4, n);
            o += 4 + n;
        }
    } else {
        size_t es = tb_dtype_size(r->dtype);
        for (size_t o = 0; es && o + es <= r->len; o += es) {
            double v;
            if (tb_dtype_to_double(r->dtype, r->data + o, &v))
                tb_json_double(j, v);
            else
                tb_json_null(j);
        }
    }
    tb_json_arr_close(j);
}

static int count_cb(void *ctx, const struct svc_tensor_row *r)
{
    (void)r;
    ((struct rows *)ctx)->total++;
    return 0;
}

/* Text: markdown for a scalar string, a table for rank 1 and 2 (as TensorBoard shows them). */
static void text_html(struct tb_buf *out, const struct svc_tensor_row *r)
{
    const char *shape = r->shape ? r->shape : "?";
    int rank = 0;
    long cols = 1;
    if (shape[0] == '[' && shape[1] != ']') {
        rank = 1;
        for (const char *p = shape; *p; p++)
            rank += *p == ',';
        if (rank == 2)
            cols = strtol(strchr(shape, ',') + 1, NULL, 10);
    }
    if (cols < 1)
        cols = 1;
    if (rank > 0)
        tb_buf_adds(out, "<table><tbody>");
    long k = 0;
    for (size_t o = 0; o + 4 <= r->len; k++) {
        uint32_t n;
        memcpy(&n, r->data + o, 4);
        if (o + 4 + n > r->len)
            break;
        if (rank > 0 && k % cols == 0)
            tb_buf_adds(out, "<tr>");
        if (rank > 0)
            tb_buf_adds(out, "<td>");
        svc_markdown_html((const char *)r->data + o + 4, n, out);
        if (rank > 0)
            tb_buf_adds(out, "</td>");
        if (rank > 0 && k % cols == cols - 1)
            tb_buf_adds(out, "</tr>");
        o += 4 + n;
    }
    if (rank > 0)
        tb_buf_adds(out, "</tbody></table>");
}

static int row_cb(void *ctx, const struct svc_tensor_row *r)
{
    struct rows *x = ctx;
    size_t i = x->seen++;
    /* evenly spaced sample, always keeping the last */
    if (x->keep_every > 1 && i % x->keep_every != 0 && x->seen != x->total)
        return 0;
    struct tb_json *j = x->j;
    tb_json_obj_open(j);
    tb_json_key(j, "step");
    tb_json_int(j, r->step);
    tb_json_key(j, "wall_time");
    tb_json_double(j, r->wall_time);
    switch (x->mode) {
    case 1: /* histogram: [[left, right, count], ...] */
        tb_json_key(j, "buckets");
        tb_json_arr_open(j);
        for (size_t o = 0; r->dtype == DT(DOUBLE) && o + 24 <= r->len; o += 24) {
            double v[3];
            memcpy(v, r->data + o, 24);
            tb_json_arr_open(j);
            tb_json_double(j, v[0]);
            tb_json_double(j, v[1]);
            tb_json_double(j, v[2]);
            tb_json_arr_close(j);
        }
        if (r->dtype == DT(FLOAT))
            for (size_t o = 0; o + 12 <= r->len; o += 12) {
                float v[3];
                memcpy(v, r->data + o, 12);
                tb_json_arr_open(j);
                tb_json_double(j, v[0]);
                tb_json_double(j, v[1]);
                tb_json_double(j, v[2]);
                tb_json_arr_close(j);
            }
        tb_json_arr_close(j);
        break;
    case 2: { /* text */
        struct tb_buf html;
        tb_buf_init(&html, 8 << 20);
        if (r->dtype == DT(STRING))
            text_html(&html, r);
        tb_json_key(j, "html");
        tb_json_strn(j, html.data ? (const char *)html.data : "", html.len);
        tb_buf_done(&html);
        break;
    }
    case 3: { /* PR curve: [6, T] rows TP, FP, TN, FN, precision, recall */
        size_t es = tb_dtype_size(r->dtype);
        size_t count = es ? r->len / es : 0;
        size_t t = count / 6;
        static const char *const names[6] = {"tp", "fp", "tn", "fn", "precision", "recall"};
        tb_json_key(j, "thresholds");
        tb_json_uint(j, t);
        for (int row = 0; row < 6 && t; row++) {
            tb_json_key(j, names[row]);
            tb_json_arr_open(j);
            for (size_t k = 0; k < t; k++) {
                double v;
                if (tb_dtype_to_double(r->dtype, r->data + (row * t + k) * es, &v))
                    tb_json_double(j, v);
                else
                    tb_json_null(j);
            }
            tb_json_arr_close(j);
        }
        break;
    }
    case 4: { /* blobs */
        tb_json_key(j, "meta");
        tb_json_raw(j, r->meta && r->meta[0] == '{' ? r->meta : "{}"); /* written by ingest */
        tb_json_key(j, "blobs");
        tb_json_arr_open(j);
        for (size_t k = 0; k < r->n_blobs; k++) {
            char hex[65], url[200];
            svc_hex32(r->shas + 32 * k, hex);
            snprintf(url, sizeof(url), "/api/v1/experiments/%s/blob/%s", x->exp_id, hex);
            tb_json_obj_open(j);
            tb_json_key(j, "sha256");
            tb_json_str(j, hex);
            tb_json_key(j, "url");
            tb_json_str(j, url);
            tb_json_obj_close(j);
        }
        tb_json_arr_close(j);
        break;
    }
    default:
        tb_json_key(j, "dtype");
        tb_json_str(j, tb_dtype_name(r->dtype));
        tb_json_key(j, "shape");
        tb_json_str(j, r->shape ? r->shape : "?");
        tb_json_key(j, "values");
        json_values(j, r);
        break;
    }
    tb_json_obj_close(j);
    return 0;
}

static void tensor_answer(struct svc_call *c, int mode, enum tb_kind kind, const char *plugin,
                          size_t def_points)
{
    const char *tag = need_tag(c);
    if (!tag)
        return;
    struct series_set ss;
    if (!load(c, &ss))
        return;
    struct svc_series_info **sel = NULL;
    size_t n = select_series(c, &ss, tag, kind, plugin, &sel);
    size_t target = points_param(c, def_points);
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "tag");
    tb_json_str(&j, tag);
    tb_json_key(&j, "series");
    tb_json_arr_open(&j);
    for (size_t i = 0; i < n; i++) {
        struct rows x = {.c = c, .j = &j, .s = sel[i], .mode = mode, .exp_id = ss.e.id};
        int (*fetch)(struct svc_store *, int64_t, svc_tensor_row_cb, void *) =
            mode == 4 ? c->app->ops->blob_rows : c->app->ops->tensor_rows;
        int err = fetch(c->app->store, sel[i]->id, count_cb, &x);
        if (!err) {
            x.keep_every = target && x.total > target ? (x.total + target - 1) / target : 1;
            tb_json_obj_open(&j);
            tb_json_key(&j, "run");
            tb_json_str(&j, sel[i]->run);
            tb_json_key(&j, "total");
            tb_json_uint(&j, x.total);
            tb_json_key(&j, "points");
            tb_json_arr_open(&j);
            err = fetch(c->app->store, sel[i]->id, row_cb, &x);
            tb_json_arr_close(&j);
            tb_json_obj_close(&j);
        }
        if (err < 0) {
            svc_store_error(c, err, "reading the series");
            goto out;
        }
    }
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
    if (c->res->body.err)
        svc_error(c, 413, "too_large", "the answer is too large; ask for fewer runs or points");
out:
    free(sel);
    done(&ss);
}

void svc_h_histograms(struct svc_call *c)
{
    tensor_answer(c, 1, TB_KIND_TENSOR, NULL, 100);
}

void svc_h_tensors(struct svc_call *c)
{
    tensor_answer(c, 0, TB_KIND_TENSOR, NULL, TENSOR_POINTS_DEFAULT);
}

void svc_h_text(struct svc_call *c)
{
    tensor_answer(c, 2, TB_KIND_TENSOR, NULL, 100);
}

void svc_h_pr_curves(struct svc_call *c)
{
    tensor_answer(c, 3, TB_KIND_TENSOR, "pr_curves", 100);
}

void svc_h_blobs(struct svc_call *c)
{
    tensor_answer(c, 4, TB_KIND_BLOB_SEQUENCE, NULL, 0);
}

void svc_h_blob(struct svc_call *c)
{
    uint8_t sha[32];
    if (!svc_unhex32(c->param2, sha)) {
        svc_error(c, 404, "not_found", "a blob is named by its SHA-256 in hex");
        return;
    }
    struct svc_experiment e;
    if (!svc_load_experiment(c, false, &e))
        return;
    uint8_t *data = NULL;
    size_t len = 0;
    int err = c->app->ops->blob_get(c->app->store, e.id, sha, &data, &len);
    if (err < 0) {
        svc_store_error(c, err, "blob");
        return;
    }
    const char *type = svc_sniff(data, len);
    c->res->status = 200;
    c->res->content_type = type ? type : "application/octet-stream";
    if (!type || !strncmp(type, "audio/", 6)) {
        /* Unknown bytes are only ever a download; audio gets a name a player can use. */
        char cd[128];
        snprintf(cd, sizeof(cd), "%s; filename=\"%.16s.%s\"", type ? "inline" : "attachment",
                 c->param2, type ? strchr(type, '/') + 1 : "bin");
        svc_res_header(c->res, "Content-Disposition", cd);
    }
    c->res->cache_control = "private, max-age=31536000, immutable";
    tb_buf_add(&c->res->body, data, len);
    free(data);
}

/* --- hparams --- */

static void json_hvalue(struct tb_json *j, const Tensorboard__Hparams__Value *v)
{
    if (!v) {
        tb_json_null(j);
        return;
    }
    switch (v->kind_case) {
    case TENSORBOARD__HPARAMS__VALUE__KIND_NUMBER_VALUE:
        tb_json_double(j, v->number_value);
        break;
    case TENSORBOARD__HPARAMS__VALUE__KIND_STRING_VALUE:
        tb_json_str(j, v->string_value);
        break;
    case TENSORBOARD__HPARAMS__VALUE__KIND_BOOL_VALUE:
        tb_json_bool(j, v->bool_value);
        break;
    case TENSORBOARD__HPARAMS__VALUE__KIND_LIST_VALUE:
        tb_json_arr_open(j);
        for (size_t i = 0; v->list_value && i < v->list_value->n_values; i++)
            json_hvalue(j, v->list_value->values[i]);
        tb_json_arr_close(j);
        break;
    default:
        tb_json_null(j);
        break;
    }
}

static const char *status_name(int s)
{
    switch (s) {
    case TENSORBOARD__HPARAMS__STATUS__STATUS_SUCCESS:
        return "success";
    case TENSORBOARD__HPARAMS__STATUS__STATUS_FAILURE:
        return "failure";
    case TENSORBOARD__HPARAMS__STATUS__STATUS_RUNNING:
        return "running";
    default:
        return "unknown";
    }
}

static bool last_scalar(struct svc_call *c, const struct svc_series_info *s, struct svc_point *ret)
{
    struct pts x;
    if (read_scalars(c, s, &x) < 0 || x.n == 0) {
        free(x.p);
        return false;
    }
    *ret = x.p[x.n - 1];
    free(x.p);
    return true;
}

void svc_h_hparams(struct svc_call *c)
{
    struct series_set ss;
    if (!load(c, &ss))
        return;
    /* Each hparams series' plugin data, decoded once: NULL for other series. */
    Tensorboard__Hparams__HParamsPluginData **pd = calloc(ss.n ? ss.n : 1, sizeof(*pd));
    if (!pd) {
        done(&ss);
        svc_error(c, 500, "internal", "out of memory");
        return;
    }
    for (size_t i = 0; i < ss.n; i++)
        if (!strcmp(ss.s[i].plugin, "hparams"))
            pd[i] = tensorboard__hparams__hparams_plugin_data__unpack(
                NULL, ss.s[i].plugin_content_len, ss.s[i].plugin_content);
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    /* Experiment configs (hparam and metric infos), from any run. */
    tb_json_key(&j, "hparam_infos");
    tb_json_arr_open(&j);
    const char *metric_tags[256];
    const char *metric_groups[256];
    size_t n_metrics = 0;
    for (size_t i = 0; i < ss.n; i++) {
        if (!pd[i] ||
            pd[i]->data_case != TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_EXPERIMENT)
            continue;
        const Tensorboard__Hparams__Experiment *ex = pd[i]->experiment;
        for (size_t k = 0; k < ex->n_hparam_infos; k++) {
            const Tensorboard__Hparams__HParamInfo *h = ex->hparam_infos[k];
            tb_json_obj_open(&j);
            tb_json_key(&j, "name");
            tb_json_str(&j, h->name);
            tb_json_key(&j, "display_name");
            tb_json_str(&j, h->display_name);
            tb_json_key(&j, "type");
            tb_json_int(&j, h->type);
            if (h->domain_case == TENSORBOARD__HPARAMS__HPARAM_INFO__DOMAIN_DOMAIN_INTERVAL) {
                tb_json_key(&j, "interval");
                tb_json_arr_open(&j);
                tb_json_double(&j, h->domain_interval->min_value);
                tb_json_double(&j, h->domain_interval->max_value);
                tb_json_arr_close(&j);
            } else if (h->domain_case ==
                       TENSORBOARD__HPARAMS__HPARAM_INFO__DOMAIN_DOMAIN_DISCRETE) {
                tb_json_key(&j, "values");
                tb_json_arr_open(&j);
                for (size_t v = 0; v < h->domain_discrete->n_values; v++)
                    json_hvalue(&j, h->domain_discrete->values[v]);
                tb_json_arr_close(&j);
            }
            tb_json_obj_close(&j);
        }
        for (size_t k = 0; k < ex->n_metric_infos && n_metrics < 256; k++) {
            const Tensorboard__Hparams__MetricInfo *m = ex->metric_infos[k];
            if (!m->name)
                continue;
            bool dup = false;
            for (size_t q = 0; q < n_metrics; q++)
                dup = dup || (!strcmp(metric_tags[q], m->name->tag) &&
                              !strcmp(metric_groups[q], m->name->group));
            if (!dup) {
                metric_tags[n_metrics] = m->name->tag;
                metric_groups[n_metrics++] = m->name->group;
            }
        }
    }
    tb_json_arr_close(&j);
    tb_json_key(&j, "metric_infos");
    tb_json_arr_open(&j);
    for (size_t q = 0; q < n_metrics; q++) {
        tb_json_obj_open(&j);
        tb_json_key(&j, "tag");
        tb_json_str(&j, metric_tags[q]);
        tb_json_key(&j, "group");
        tb_json_str(&j, metric_groups[q]);
        tb_json_obj_close(&j);
    }
    tb_json_arr_close(&j);
    /* Sessions: runs with a session_start_info. */
    tb_json_key(&j, "sessions");
    tb_json_arr_open(&j);
    for (size_t i = 0; i < ss.n; i++) {
        if (!pd[i] ||
            pd[i]->data_case != TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_SESSION_START_INFO)
            continue;
        const char *run = ss.s[i].run;
        const Tensorboard__Hparams__SessionStartInfo *si = pd[i]->session_start_info;
        tb_json_obj_open(&j);
        tb_json_key(&j, "run");
        tb_json_str(&j, run);
        tb_json_key(&j, "group");
        tb_json_str(&j, si->group_name && si->group_name[0] ? si->group_name : run);
        tb_json_key(&j, "start_time");
        tb_json_double(&j, si->start_time_secs);
        tb_json_key(&j, "hparams");
        tb_json_obj_open(&j);
        for (size_t k = 0; k < si->n_hparams; k++) {
            tb_json_key(&j, si->hparams[k]->key ? si->hparams[k]->key : "");
            json_hvalue(&j, si->hparams[k]->value);
        }
        tb_json_obj_close(&j);
        /* status from this run's session_end_info, if any */
        const char *status = "unknown";
        for (size_t k = 0; k < ss.n; k++)
            if (pd[k] &&
                pd[k]->data_case ==
                    TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_SESSION_END_INFO &&
                !strcmp(ss.s[k].run, run))
                status = status_name(pd[k]->session_end_info->status);
        tb_json_key(&j, "status");
        tb_json_str(&j, status);
        /* metrics: the named ones, else every scalar of the session's runs */
        tb_json_key(&j, "metrics");
        tb_json_obj_open(&j);
        size_t rl = strlen(run);
        for (size_t k = 0; k < ss.n; k++) {
            const struct svc_series_info *s = &ss.s[k];
            if (s->kind != TB_KIND_SCALAR || strncmp(s->run, run, rl) ||
                (s->run[rl] && s->run[rl] != '/'))
                continue;
            const char *group = s->run + rl;
            bool named = n_metrics == 0;
            for (size_t q = 0; q < n_metrics && !named; q++) {
                const char *g = metric_groups[q];
                named = !strcmp(metric_tags[q], s->tag) &&
                        (!strcmp(g, group) || (g[0] && !strcmp(g, group + (group[0] == '/'))));
            }
            struct svc_point last;
            if (!named || !last_scalar(c, s, &last))
                continue;
            char key[600];
            snprintf(key, sizeof(key), "%s%s%s", group[0] ? group + 1 : "", group[0] ? "/" : "",
                     s->tag);
            tb_json_key(&j, key);
            tb_json_obj_open(&j);
            tb_json_key(&j, "value");
            tb_json_double(&j, last.value);
            tb_json_key(&j, "step");
            tb_json_int(&j, last.step);
            tb_json_key(&j, "wall_time");
            tb_json_double(&j, last.wall_time);
            tb_json_obj_close(&j);
        }
        tb_json_obj_close(&j);
        tb_json_obj_close(&j);
    }
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
    for (size_t i = 0; i < ss.n; i++)
        if (pd[i])
            tensorboard__hparams__hparams_plugin_data__free_unpacked(pd[i], NULL);
    free(pd);
    done(&ss);
}

/* --- custom scalars: the layout, decoded from its string tensor --- */

#include "tensorboard/plugin_custom_scalar.pb-c.h"

struct layout_ctx {
    struct tb_json *j;
    int n;
};

static void json_layout(struct tb_json *j, const Tensorboard__Layout *l)
{
    for (size_t i = 0; i < l->n_category; i++) {
        const Tensorboard__Category *cat = l->category[i];
        tb_json_obj_open(j);
        tb_json_key(j, "title");
        tb_json_str(j, cat->title);
        tb_json_key(j, "closed");
        tb_json_bool(j, cat->closed);
        tb_json_key(j, "charts");
        tb_json_arr_open(j);
        for (size_t k = 0; k < cat->n_chart; k++) {
            const Tensorboard__Chart *ch = cat->chart[k];
            tb_json_obj_open(j);
            tb_json_key(j, "title");
            tb_json_str(j, ch->title);
            tb_json_key(j, "tags");
            tb_json_arr_open(j);
            if (ch->content_case == TENSORBOARD__CHART__CONTENT_MULTILINE)
                for (size_t t = 0; t < ch->multiline->n_tag; t++)
                    tb_json_str(j, ch->multiline->tag[t]);
            else if (ch->content_case == TENSORBOARD__CHART__CONTENT_MARGIN)
                for (size_t t = 0; t < ch->margin->n_series; t++) {
                    /* a margin chart: the value tags, drawn as lines here */
                    char re[600];
                    snprintf(re, sizeof(re), "^%s$", ch->margin->series[t]->value);
                    tb_json_str(j, re);
                }
            tb_json_arr_close(j);
            tb_json_obj_close(j);
        }
        tb_json_arr_close(j);
        tb_json_obj_close(j);
    }
}

static int layout_row(void *ctx, const struct svc_tensor_row *r)
{
    struct layout_ctx *x = ctx;
    if (r->dtype != DT(STRING) || r->len < 4)
        return 0;
    uint32_t n;
    memcpy(&n, r->data, 4);
    if (4 + (size_t)n > r->len)
        return 0;
    Tensorboard__Layout *l = tensorboard__layout__unpack(NULL, n, r->data + 4);
    if (!l)
        return 0;
    json_layout(x->j, l);
    x->n++;
    tensorboard__layout__free_unpacked(l, NULL);
    return 0;
}

void svc_h_custom_scalars(struct svc_call *c)
{
    struct series_set ss;
    if (!load(c, &ss))
        return;
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "categories");
    tb_json_arr_open(&j);
    struct layout_ctx x = {.j = &j};
    for (size_t i = 0; i < ss.n; i++) {
        if (strcmp(ss.s[i].plugin, "custom_scalars") || ss.s[i].kind != TB_KIND_TENSOR)
            continue;
        int err = c->app->ops->tensor_rows(c->app->store, ss.s[i].id, layout_row, &x);
        if (err < 0) {
            svc_store_error(c, err, "reading the layout");
            done(&ss);
            return;
        }
    }
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
    done(&ss);
}
