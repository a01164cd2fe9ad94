/* SPDX-License-Identifier: MIT */
/* GET .../tensors, histograms, text, pr_curves, blobs and blob/{sha}. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_read.h"

#include "auth.h"
#include "markdown.h"
#include "rebin.h"
#include "sniff.h"

#define TENSOR_POINTS_DEFAULT 200

struct rows {
    struct svc_call *c;
    struct tb_json *j;
    const struct svc_series_info *s;
    int mode; /* 0 generic, 1 histogram, 2 text, 3 pr curve, 4 blobs */
    size_t total, keep_every, seen;
    const char *exp_id;
    struct svc_rebin rebin; /* histograms: ?bins= and ?distribution= (rebin.h) */
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
    struct rows *x = ctx;
    x->total++;
    if (x->mode == 1)
        svc_rebin_range(&x->rebin, x->c, x->s, r);
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
        if (svc_rebin_json(&x->rebin, x->c, x->s, j, r))
            break; /* rebinned, or compressed for distributions */
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
    const char *tag = svc_read_need_tag(c);
    if (!tag)
        return;
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
        return;
    struct svc_series_info **sel = NULL;
    size_t n = svc_read_select(c, &ss, tag, kind, plugin, &sel);
    size_t target = svc_read_points_param(c, def_points);
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
    svc_read_done(&ss);
}

void svc_h_histograms(struct svc_call *c)
{
    if (!svc_rebin_params_ok(c))
        return;
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
