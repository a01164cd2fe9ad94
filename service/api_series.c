/* SPDX-License-Identifier: MIT */
/* The read API's common part, and its runs and tags endpoints. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_read.h"

#include "markdown.h"

bool svc_read_load(struct svc_call *c, struct svc_series_set *ss)
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

void svc_read_done(struct svc_series_set *ss)
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
size_t svc_read_select(struct svc_call *c, struct svc_series_set *ss, const char *tag,
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

const char *svc_read_need_tag(struct svc_call *c)
{
    const char *tag = svc_req_query(c->req, "tag");
    if (!tag)
        svc_error(c, 400, "invalid_argument",
                  "name the tag: ?tag=NAME (and ?run=NAME, repeatable)");
    return tag;
}

/* ?points=N, "all" or 0 for full resolution. */
size_t svc_read_points_param(struct svc_call *c, size_t def)
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
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
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
    svc_read_done(&ss);
}

void svc_h_tags(struct svc_call *c)
{
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
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
    svc_read_done(&ss);
}
