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
#define PAGE_BYTES_MIN 4096

/*
 * Answers are paged (issue 12: a few big tensors made hundreds of megabytes of JSON per read).
 * A page holds series after series, row after row, until it has TB_READ_PAGE_BYTES of JSON (or
 * ?page_bytes=N, at least PAGE_BYTES_MIN); then it stops and says where the next page starts in
 * "next_page_token". A row too big for what is left is cut between elements (values, buckets,
 * thresholds, blobs; a text row is never cut): its part in the page says "offset" (its first
 * element's index, when not 0) and "partial": true when it continues on the next page. One
 * element, or one row, always fits, so every page moves on.
 *
 * The token is "SERIES.SEQ.INDEX.ELEM": the series (its store id) and the row (its seq) to
 * resume at, that row's index in the series (for ?points=N's evenly spaced sample) and the
 * element. It is not secret; a forged one can only start a page elsewhere in what the caller may
 * read anyway.
 */
struct page_pos {
    int64_t sid, seq;
    uint64_t index, elem;
};

struct rows {
    struct svc_call *c;
    struct tb_json *j;
    const struct svc_series_info *s;
    int mode;                          /* 0 generic, 1 histogram, 2 text, 3 pr curve, 4 blobs */
    uint64_t total, keep_every, index; /* index: of the next row in the series */
    const char *exp_id;
    size_t page_start, page_bytes; /* where the page's JSON starts in the body, its budget */
    bool wrote;                    /* a row (or part of one) is in the page */
    int64_t resume_seq;            /* the row the page resumes inside, at resume_elem */
    uint64_t resume_elem;
    bool cut; /* the page is full: next holds where the next one starts */
    struct page_pos next;
    /* TensorBoard's restart rule: the seqs shown, sorted, when some rows are hidden (NULL: all
     * are); index and total count shown rows only */
    const int64_t *shown;
    size_t n_shown;
    struct svc_rebin rebin; /* histograms: ?bins= and ?distribution= (rebin.h) */
    bool one_step;          /* ?step=N: only the rows at step N (the Mesh tab's one step) */
    int64_t step;
};

static int step_cb(void *ctx, int64_t seq, int64_t step)
{
    struct svc_pts *x = ctx;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 256;
        void *p = realloc(x->p, cap * sizeof(*x->p));
        if (!p) {
            x->over = true;
            return 1;
        }
        x->p = p;
        x->cap = cap;
    }
    x->p[x->n++] = (struct svc_point){.step = step, .seq = seq};
    return 0;
}

int svc_read_row_steps(struct svc_call *c, const struct svc_series_info *s, bool blobs, bool purge,
                       struct svc_pts *x, size_t *ret_total)
{
    int err = c->app->ops->row_steps(c->app->store, s->id, blobs, step_cb, x);
    if (!err && x->over)
        err = -ENOMEM;
    if (err < 0)
        return err;
    if (ret_total)
        *ret_total = x->n;
    if (!purge)
        return 0;
    struct svc_restart *r = NULL;
    size_t nr = 0;
    if ((err = c->app->ops->restarts(c->app->store, s->run_id, &r, &nr)) < 0)
        return err;
    x->n = svc_purge_restarts(x->p, x->n, r, nr);
    free(r);
    return 0;
}

static int cmp_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * The rows of series s that TensorBoard's restart rule shows (downsample.h: a step that goes
 * back, or a SessionLog.START, hides the earlier rows at that step and above), as it does for
 * scalars, so that images, audio, histograms and text written again by a re-run are shown
 * once. *ret is NULL when every row is shown, else a sorted array of the seqs shown, freed by
 * the caller. Storage keeps every row (?restarts=keep shows them; export writes them).
 */
static int shown_rows(struct svc_call *c, const struct svc_series_info *s, bool blobs,
                      int64_t **ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    const char *rs = svc_req_query(c->req, "restarts");
    if (rs && !strcmp(rs, "keep"))
        return 0;
    struct svc_pts x = {0};
    size_t total = 0;
    int err = svc_read_row_steps(c, s, blobs, true, &x, &total);
    if (err < 0) {
        free(x.p);
        return err;
    }
    size_t kept = x.n;
    if (kept == total) {
        free(x.p);
        return 0;
    }
    int64_t *seqs = malloc((kept ? kept : 1) * sizeof(*seqs));
    if (!seqs) {
        free(x.p);
        return -ENOMEM;
    }
    for (size_t i = 0; i < kept; i++)
        seqs[i] = x.p[i].seq;
    free(x.p);
    qsort(seqs, kept, sizeof(*seqs), cmp_seq);
    *ret = seqs;
    *ret_n = kept;
    return 0;
}

/* Whether the page is full. A little is kept back for what closes the answer (brackets and the
 * next_page_token), so that a page of numbers stays under its budget, and in a buffer of that
 * size. */
static bool full(const struct rows *x)
{
    return x->c->res->body.len - x->page_start + 512 >= x->page_bytes;
}

/* Stops the page before element e of row r (row index i). */
static void cut_at(struct rows *x, const struct svc_tensor_row *r, uint64_t i, uint64_t e)
{
    x->cut = true;
    x->next = (struct page_pos){x->s->id, r->seq, i, e};
}

/* Writes elements [e0, n) of a row, each with put(k), into the open array until the page is
 * full (after at least one element); k is left at the element after the last one written. */
#define ELEMENTS(x, k, e0, n, put)                                                                 \
    do {                                                                                           \
        for ((k) = (e0); (k) < (n);) {                                                             \
            put(k);                                                                                \
            (k)++;                                                                                 \
            if (full(x))                                                                           \
                break;                                                                             \
        }                                                                                          \
    } while (0)

/* How many whole strings a DT_STRING row holds (each a u32 length and its bytes). */
static size_t string_count(const struct svc_tensor_row *r)
{
    size_t n = 0;
    for (size_t o = 0; o + 4 <= r->len; n++) {
        uint32_t l;
        memcpy(&l, r->data + o, 4);
        if (o + 4 + l > r->len)
            break;
        o += 4 + l;
    }
    return n;
}

/* Writes a tensor's values from element e0 as a flat JSON array (numbers or strings); returns
 * the element after the last one written. */
static uint64_t json_values(struct rows *x, const struct svc_tensor_row *r, uint64_t e0,
                            uint64_t *ret_n)
{
    struct tb_json *j = x->j;
    uint64_t k = e0;
    tb_json_arr_open(j);
    if (r->dtype == DT(STRING)) {
        uint64_t n = string_count(r), i = 0;
        *ret_n = n;
        for (size_t o = 0; i < n; i++) {
            uint32_t l;
            memcpy(&l, r->data + o, 4);
            if (i >= e0) {
                tb_json_strn(j, r->data + o + 4, l);
                k = i + 1;
                if (full(x))
                    break;
            }
            o += 4 + l;
        }
    } else {
        size_t es = tb_dtype_size(r->dtype);
        uint64_t n = es ? r->len / es : 0;
        *ret_n = n;
#define PUT_VALUE(k)                                                                               \
    do {                                                                                           \
        double v_;                                                                                 \
        if (tb_dtype_to_double(r->dtype, r->data + (k)*es, &v_))                                   \
            tb_json_double(j, v_);                                                                 \
        else                                                                                       \
            tb_json_null(j);                                                                       \
    } while (0)
        ELEMENTS(x, k, e0, n, PUT_VALUE);
#undef PUT_VALUE
    }
    tb_json_arr_close(j);
    return k;
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

/* Histogram buckets [[left, right, count], ...] from bucket e0; returns the one after the last
 * written. */
static uint64_t json_buckets(struct rows *x, const struct svc_tensor_row *r, uint64_t e0,
                             uint64_t *ret_n)
{
    struct tb_json *j = x->j;
    size_t w = r->dtype == DT(DOUBLE) ? 24 : r->dtype == DT(FLOAT) ? 12 : 0;
    uint64_t n = w ? r->len / w : 0;
    *ret_n = n;
    tb_json_key(j, "buckets");
    tb_json_arr_open(j);
#define PUT_BUCKET(k)                                                                              \
    do {                                                                                           \
        double v_[3];                                                                              \
        if (w == 24) {                                                                             \
            memcpy(v_, r->data + (k)*24, 24);                                                      \
        } else {                                                                                   \
            float f_[3];                                                                           \
            memcpy(f_, r->data + (k)*12, 12);                                                      \
            v_[0] = f_[0], v_[1] = f_[1], v_[2] = f_[2];                                           \
        }                                                                                          \
        tb_json_arr_open(j);                                                                       \
        tb_json_double(j, v_[0]);                                                                  \
        tb_json_double(j, v_[1]);                                                                  \
        tb_json_double(j, v_[2]);                                                                  \
        tb_json_arr_close(j);                                                                      \
    } while (0)
    uint64_t k;
    ELEMENTS(x, k, e0, n, PUT_BUCKET);
#undef PUT_BUCKET
    tb_json_arr_close(j);
    return k;
}

/* A PR curve, [6, T] rows TP, FP, TN, FN, precision, recall, from threshold e0: as many
 * thresholds as the page has room for (about 6 values of at most 25 bytes each), at least one. */
static uint64_t json_pr(struct rows *x, const struct svc_tensor_row *r, uint64_t e0,
                        uint64_t *ret_n)
{
    struct tb_json *j = x->j;
    size_t es = tb_dtype_size(r->dtype);
    uint64_t t = (es ? r->len / es : 0) / 6;
    *ret_n = t;
    size_t used = x->c->res->body.len - x->page_start;
    uint64_t room = used < x->page_bytes ? (x->page_bytes - used) / 150 : 0;
    uint64_t end = e0 + (room ? room : 1);
    if (end > t)
        end = t;
    static const char *const names[6] = {"tp", "fp", "tn", "fn", "precision", "recall"};
    tb_json_key(j, "thresholds");
    tb_json_uint(j, t);
    for (int row = 0; row < 6 && t; row++) {
        tb_json_key(j, names[row]);
        tb_json_arr_open(j);
        for (uint64_t k = e0; k < end; k++) {
            double v;
            if (tb_dtype_to_double(r->dtype, r->data + (row * t + k) * es, &v))
                tb_json_double(j, v);
            else
                tb_json_null(j);
        }
        tb_json_arr_close(j);
    }
    return t ? end : e0;
}

static uint64_t json_blobs(struct rows *x, const struct svc_tensor_row *r, uint64_t e0,
                           uint64_t *ret_n)
{
    struct tb_json *j = x->j;
    *ret_n = r->n_blobs;
    /* meta was written by ingest; text stored by anything else that is not one JSON object is
     * not passed on */
    tb_json_key(j, "meta");
    bool meta_ok = r->meta && r->meta[0] == '{' && tb_json_valid(r->meta, strlen(r->meta), 4);
    tb_json_raw(j, meta_ok ? r->meta : "{}");
    tb_json_key(j, "blobs");
    tb_json_arr_open(j);
#define PUT_BLOB(k)                                                                                \
    do {                                                                                           \
        char hex_[65], url_[200];                                                                  \
        svc_hex32(r->shas + 32 * (k), hex_);                                                       \
        snprintf(url_, sizeof(url_), "/api/v1/experiments/%s/blob/%s", x->exp_id, hex_);           \
        tb_json_obj_open(j);                                                                       \
        tb_json_key(j, "sha256");                                                                  \
        tb_json_str(j, hex_);                                                                      \
        tb_json_key(j, "url");                                                                     \
        tb_json_str(j, url_);                                                                      \
        tb_json_obj_close(j);                                                                      \
    } while (0)
    uint64_t k;
    ELEMENTS(x, k, e0, r->n_blobs, PUT_BLOB);
#undef PUT_BLOB
    tb_json_arr_close(j);
    return k;
}

static int row_cb(void *ctx, const struct svc_tensor_row *r)
{
    struct rows *x = ctx;
    if (!svc_row_shown(x->shown, x->n_shown, r->seq))
        return 0; /* hidden by a restart */
    if (x->one_step && r->step != x->step)
        return 0;
    uint64_t i = x->index++;
    /* evenly spaced sample, always keeping the last */
    if (x->keep_every > 1 && i % x->keep_every != 0 && i + 1 != x->total)
        return 0;
    uint64_t e0 = 0;
    if (r->seq == x->resume_seq) {
        e0 = x->resume_elem;
        x->resume_seq = -1;
    }
    if (x->wrote && full(x)) {
        cut_at(x, r, i, e0);
        return 1;
    }
    struct tb_json *j = x->j;
    tb_json_obj_open(j);
    tb_json_key(j, "step");
    tb_json_int(j, r->step);
    tb_json_key(j, "wall_time");
    tb_json_double(j, r->wall_time);
    uint64_t n = 1, end = 1;
    switch (x->mode) {
    case 1:
        if (svc_rebin_json(&x->rebin, x->c, x->s, j, r))
            break; /* rebinned or compressed: the row is one element */
        end = json_buckets(x, r, e0, &n);
        break;
    case 2: { /* text: one row is one element */
        struct tb_buf html;
        tb_buf_init(&html, 8 << 20);
        if (r->dtype == DT(STRING))
            text_html(&html, r);
        tb_json_key(j, "html");
        tb_json_strn(j, html.data ? (const char *)html.data : "", html.len);
        tb_buf_done(&html);
        e0 = 0;
        break;
    }
    case 3:
        end = json_pr(x, r, e0, &n);
        break;
    case 4:
        end = json_blobs(x, r, e0, &n);
        break;
    default:
        tb_json_key(j, "dtype");
        tb_json_str(j, tb_dtype_name(r->dtype));
        tb_json_key(j, "shape");
        tb_json_str(j, r->shape ? r->shape : "?");
        tb_json_key(j, "values");
        end = json_values(x, r, e0, &n);
        break;
    }
    if (e0) {
        tb_json_key(j, "offset");
        tb_json_uint(j, e0);
    }
    bool partial = end < n;
    if (partial) {
        tb_json_key(j, "partial");
        tb_json_bool(j, true);
    }
    tb_json_obj_close(j);
    x->wrote = true;
    if (partial) {
        cut_at(x, r, i, end);
        return 1;
    }
    return 0;
}

/* Parses "SERIES.SEQ.INDEX.ELEM" (decimal, none negative). */
static bool parse_token(const char *t, struct page_pos *ret)
{
    uint64_t v[4];
    const char *p = t;
    for (int i = 0; i < 4; i++) {
        if (*p < '0' || *p > '9')
            return false;
        char *e;
        errno = 0;
        unsigned long long x = strtoull(p, &e, 10);
        if (errno || x > INT64_MAX || e - p > 19)
            return false;
        v[i] = x;
        p = e;
        if (i < 3 && *p++ != '.')
            return false;
    }
    if (*p)
        return false;
    *ret = (struct page_pos){(int64_t)v[0], (int64_t)v[1], v[2], v[3]};
    return true;
}

static void tensor_answer(struct svc_call *c, int mode, enum tb_kind kind, const char *plugin,
                          size_t def_points)
{
    const char *tag = svc_read_need_tag(c);
    if (!tag)
        return;
    struct page_pos from = {0};
    const char *tok = svc_req_query(c->req, "page_token");
    if (tok && !parse_token(tok, &from)) {
        svc_error(c, 400, "invalid_argument",
                  "page_token is not one this server gave: pass next_page_token as it came");
        return;
    }
    size_t page_bytes = TB_READ_PAGE_BYTES;
    const char *pb = svc_req_query(c->req, "page_bytes");
    if (pb) {
        long long v = strtoll(pb, NULL, 10);
        page_bytes = v < PAGE_BYTES_MIN       ? PAGE_BYTES_MIN
                     : v > TB_READ_PAGE_BYTES ? TB_READ_PAGE_BYTES
                                              : (size_t)v;
    }
    /* ?step=N: the rows at that step only, all of them (?points= is then not applied) */
    const char *step_q = svc_req_query(c->req, "step");
    long long one_step = 0;
    if (step_q) {
        char *e;
        errno = 0;
        one_step = strtoll(step_q, &e, 10);
        if (errno || e == step_q || *e) {
            svc_error(c, 400, "invalid_argument", "step must be an integer");
            return;
        }
    }
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
        return;
    struct svc_series_info **sel = NULL;
    size_t n = svc_read_select(c, &ss, tag, kind, plugin, &sel);
    size_t first = 0;
    if (tok) {
        while (first < n && sel[first]->id != from.sid)
            first++;
        if (first == n) {
            svc_error(c, 400, "invalid_argument",
                      "page_token names a series that is not among the tag and runs asked for "
                      "(ask with the same tag and runs, or start again without it)");
            goto out;
        }
    }
    size_t target = svc_read_points_param(c, def_points);
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "tag");
    tb_json_str(&j, tag);
    tb_json_key(&j, "series");
    tb_json_arr_open(&j);
    struct rows x = {.c = c,
                     .j = &j,
                     .mode = mode,
                     .exp_id = ss.e.id,
                     .page_start = c->res->body.len,
                     .page_bytes = page_bytes,
                     .resume_seq = -1,
                     .one_step = step_q != NULL,
                     .step = one_step};
    for (size_t i = first; i < n && !x.cut; i++) {
        const struct svc_series_info *s = sel[i];
        bool resume = tok && i == first;
        if (x.wrote && full(&x)) {
            x.cut = true;
            x.next = (struct page_pos){s->id, 0, 0, 0};
            break;
        }
        x.s = s;
        int64_t *shown = NULL;
        size_t n_shown = 0;
        int serr = shown_rows(c, s, mode == 4, &shown, &n_shown);
        if (serr < 0) {
            svc_store_error(c, serr, "reading the series");
            goto out;
        }
        x.shown = shown;
        x.n_shown = n_shown;
        if (mode == 1) { /* ?bins=: the series' range, from a pass of its own */
            x.rebin = (struct svc_rebin){0};
            svc_rebin_prepare(&x.rebin, c, s, shown, n_shown);
        }
        x.total = shown ? n_shown : s->points;
        x.keep_every = !step_q && target && x.total > target ? (x.total + target - 1) / target : 1;
        x.index = resume ? from.index : 0;
        x.resume_seq = resume ? from.seq : -1;
        x.resume_elem = resume ? from.elem : 0;
        tb_json_obj_open(&j);
        tb_json_key(&j, "run");
        tb_json_str(&j, s->run);
        tb_json_key(&j, "total");
        tb_json_uint(&j, x.total);
        tb_json_key(&j, "points");
        tb_json_arr_open(&j);
        int64_t from_seq = resume ? from.seq : 0;
        int err = mode == 4 ? c->app->ops->blob_rows(c->app->store, s->id, from_seq, row_cb, &x)
                            : c->app->ops->tensor_rows(c->app->store, s->id, from_seq, row_cb, &x);
        free(shown);
        x.shown = NULL;
        tb_json_arr_close(&j);
        tb_json_obj_close(&j);
        if (err < 0) {
            svc_store_error(c, err, "reading the series");
            goto out;
        }
    }
    tb_json_arr_close(&j);
    if (x.cut) {
        char next[100];
        snprintf(next, sizeof(next), "%lld.%lld.%llu.%llu", (long long)x.next.sid,
                 (long long)x.next.seq, (unsigned long long)x.next.index,
                 (unsigned long long)x.next.elem);
        tb_json_key(&j, "next_page_token");
        tb_json_str(&j, next);
    }
    tb_json_obj_close(&j);
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

/*
 * GET .../mesh_data?run=R&tag=T&step=S[&max=N]: one mesh part's values at one step, as the Mesh
 * tab draws them (TensorBoard's mesh plugin answers an arraybuffer too): the last row shown at
 * that step (restart rule applied), each value as a little-endian float32 (vertex indices are
 * exact up to 2^24, past which they name no vertex the page draws anyway; a value that is not
 * a number is NaN). At most max values (default and cap TB_MESH_VALUES_MAX) are answered;
 * X-Values-Total says how many the row holds, X-Shape its stored shape.
 */
struct mesh_rows {
    const int64_t *shown;
    size_t n_shown;
    int64_t step;
    size_t max;
    struct tb_buf *out;
    uint64_t total;
    char shape[200];
    bool found, bad_dtype;
};

static int mesh_row_cb(void *ctx, const struct svc_tensor_row *r)
{
    struct mesh_rows *x = ctx;
    if (r->step != x->step || !svc_row_shown(x->shown, x->n_shown, r->seq))
        return 0;
    /* a later row at the step replaces an earlier one */
    tb_buf_reset(x->out);
    x->found = true;
    size_t es = r->dtype == DT(STRING) ? 0 : tb_dtype_size(r->dtype);
    x->bad_dtype = es == 0;
    x->total = es ? r->len / es : 0;
    const char *sh = r->shape ? r->shape : "?";
    bool plain = strlen(sh) < sizeof(x->shape) && strspn(sh, "[]0123456789,") == strlen(sh);
    snprintf(x->shape, sizeof(x->shape), "%s", plain ? sh : "?");
    uint64_t n = x->total < x->max ? x->total : x->max;
    for (uint64_t k = 0; k < n; k++) {
        double v;
        float f = tb_dtype_to_double(r->dtype, r->data + k * es, &v) ? (float)v : NAN;
        uint32_t u;
        memcpy(&u, &f, 4);
        uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        if (tb_buf_add(x->out, le, 4) < 0)
            return 1;
    }
    return 0;
}

void svc_h_mesh_data(struct svc_call *c)
{
    const char *tag = svc_read_need_tag(c);
    if (!tag)
        return;
    const char *run = svc_req_query(c->req, "run");
    const char *step_q = svc_req_query(c->req, "step");
    char *e = NULL;
    long long step = 0;
    if (step_q) {
        errno = 0;
        step = strtoll(step_q, &e, 10);
    }
    if (!run || !step_q || errno || e == step_q || *e) {
        svc_error(c, 400, "invalid_argument", "name the run and the step: ?run=NAME&step=N");
        return;
    }
    size_t max = TB_MESH_VALUES_MAX;
    const char *mq = svc_req_query(c->req, "max");
    if (mq) {
        long long v = strtoll(mq, NULL, 10);
        if (v > 0 && (unsigned long long)v < max)
            max = (size_t)v;
    }
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
        return;
    struct svc_series_info **sel = NULL;
    size_t n = svc_read_select(c, &ss, tag, TB_KIND_TENSOR, "mesh", &sel);
    if (!n) {
        svc_error(c, 404, "not_found", "run '%.200s' has no mesh tag '%.200s'", run, tag);
        goto out;
    }
    int64_t *shown = NULL;
    size_t n_shown = 0;
    int err = shown_rows(c, sel[0], false, &shown, &n_shown);
    if (err < 0) {
        svc_store_error(c, err, "reading the mesh");
        goto out;
    }
    tb_buf_reset(&c->res->body);
    struct mesh_rows x = {
        .shown = shown, .n_shown = n_shown, .step = step, .max = max, .out = &c->res->body};
    err = c->app->ops->tensor_rows(c->app->store, sel[0]->id, 0, mesh_row_cb, &x);
    free(shown);
    if (err < 0) {
        svc_store_error(c, err, "reading the mesh");
        goto out;
    }
    if (c->res->body.err) {
        svc_error(c, 413, "too_large", "the mesh's values do not fit in an answer");
        goto out;
    }
    if (!x.found) {
        svc_error(c, 404, "not_found", "mesh tag '%.200s' has no value at step %lld", tag, step);
        goto out;
    }
    if (x.bad_dtype) {
        svc_error(c, 422, "unprocessable", "mesh tag '%.200s' holds strings, not numbers", tag);
        goto out;
    }
    char total[32];
    snprintf(total, sizeof(total), "%llu", (unsigned long long)x.total);
    c->res->status = 200;
    c->res->content_type = "application/octet-stream";
    svc_res_header(c->res, "X-Values-Total", total);
    svc_res_header(c->res, "X-Shape", x.shape);
out:
    free(sel);
    svc_read_done(&ss);
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
