/* SPDX-License-Identifier: MIT */
/* GET .../hparams (sessions, hparams and metrics) and .../custom_scalars (layouts). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_read.h"

#include "plugin_check.h"

/* A Value as JSON. Values were held to TB_PB_DEPTH_MAX message levels when decoded
 * (plugin_check.h), so the recursion is bounded; the depth check is a second guard. */
static void json_hvalue(struct tb_json *j, const Tensorboard__Hparams__Value *v, int depth)
{
    if (!v || depth > TB_PB_DEPTH_MAX) {
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
            json_hvalue(j, v->list_value->values[i], depth + 1);
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

/* Whether a sorts before b in the store's (run, tag) order. */
static bool series_before(const struct svc_series_info *a, const struct svc_series_info *b)
{
    int r = strcmp(a->run, b->run);
    return r < 0 || (r == 0 && strcmp(a->tag, b->tag) < 0);
}

static bool last_scalar(struct svc_call *c, const struct svc_series_info *s, struct svc_point *ret)
{
    struct svc_pts x;
    if (svc_read_scalars(c, s, &x) < 0 || x.n == 0) {
        free(x.p);
        return false;
    }
    *ret = x.p[x.n - 1];
    free(x.p);
    return true;
}

void svc_h_hparams(struct svc_call *c)
{
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
        return;
    /* Each hparams series' plugin data, decoded once: NULL for other series. */
    Tensorboard__Hparams__HParamsPluginData **pd = calloc(ss.n ? ss.n : 1, sizeof(*pd));
    if (!pd) {
        svc_read_done(&ss);
        svc_error(c, 500, "internal", "out of memory");
        return;
    }
    /* The listing leaves plugin content out: load the hparams series' content only, and decode
     * it through the same checks as at ingest, so that content stored by an older server that
     * fails them (nested too deep, not protobuf) is left out of the answer. Both lists are in
     * (run, tag) order. */
    struct svc_series_info *hp = NULL;
    size_t n_hp = 0;
    int err = c->app->ops->series_select(c->app->store, ss.e.id, NULL, "hparams", &hp, &n_hp);
    if (err < 0) {
        free(pd);
        svc_read_done(&ss);
        svc_store_error(c, err, "reading the hparams");
        return;
    }
    for (size_t i = 0, k = 0; i < ss.n && k < n_hp; i++) {
        while (k < n_hp && series_before(&hp[k], &ss.s[i]))
            k++;
        if (k < n_hp && hp[k].id == ss.s[i].id)
            pd[i] = svc_plugin_hparams(hp[k].plugin_content, hp[k].plugin_content_len, NULL);
    }
    svc_series_list_free(hp, n_hp);
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
                    json_hvalue(&j, h->domain_discrete->values[v], 0);
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
            json_hvalue(&j, si->hparams[k]->value, 0);
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
    svc_read_done(&ss);
}

/* --- custom scalars: the layout, decoded from its string tensor --- */

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
            if (ch->content_case == TENSORBOARD__CHART__CONTENT_MARGIN) {
                /* the exact tags of each line and its band, for drawing the band */
                tb_json_key(j, "margin");
                tb_json_arr_open(j);
                for (size_t t = 0; t < ch->margin->n_series; t++) {
                    const Tensorboard__MarginChartContent__Series *ms = ch->margin->series[t];
                    tb_json_obj_open(j);
                    tb_json_key(j, "value");
                    tb_json_str(j, ms->value ? ms->value : "");
                    tb_json_key(j, "lower");
                    tb_json_str(j, ms->lower ? ms->lower : "");
                    tb_json_key(j, "upper");
                    tb_json_str(j, ms->upper ? ms->upper : "");
                    tb_json_obj_close(j);
                }
                tb_json_arr_close(j);
            }
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
    Tensorboard__Layout *l = svc_plugin_layout(r->data + 4, n, NULL);
    if (!l)
        return 0;
    json_layout(x->j, l);
    x->n++;
    tensorboard__layout__free_unpacked(l, NULL);
    return 0;
}

void svc_h_custom_scalars(struct svc_call *c)
{
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
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
        int err = c->app->ops->tensor_rows(c->app->store, ss.s[i].id, 0, layout_row, &x);
        if (err < 0) {
            svc_store_error(c, err, "reading the layout");
            svc_read_done(&ss);
            return;
        }
    }
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
    svc_read_done(&ss);
}
