/* SPDX-License-Identifier: MIT */
/* GET .../meshes: the Mesh tab's index (each mesh's tags, scene settings and steps). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_read.h"

#include "plugin_check.h"

/*
 * A mesh summary (TensorBoard's mesh plugin, PyTorch's and tensorboardX's add_mesh) is up to
 * three tensor series in one run, each with plugin "mesh" and a MeshPluginData naming the mesh
 * and saying which part the series holds: vertices [batch, N, 3], faces [batch, M, 3] (vertex
 * indices) or colours [batch, N, 3] (0..255). TensorBoard groups the series by that name; so
 * does this index. The values themselves are read with GET .../tensors?tag=&run=&step=.
 *
 * Everything here is stored data: a content that does not decode, or a part that is not one
 * of the three, leaves the series out (counted in "skipped"); a json_config that is not one
 * JSON object (of at most MESH_CONFIG_MAX bytes and MESH_CONFIG_DEPTH levels) is answered as
 * null with "config_error"; a shape is passed on as declared (the page does not trust it) up
 * to MESH_SHAPE_MAX dimensions. Steps are those of the vertex series, after the restart rule,
 * at most TB_MESH_STEPS_MAX of them evenly spaced (the last always kept).
 */
#define MESH_CONFIG_MAX (64u << 10)
#define MESH_CONFIG_DEPTH 8
#define MESH_SHAPE_MAX 8

struct part {
    const struct svc_series_info *s;
    Tensorboard__Mesh__MeshPluginData *pd;
};

static int cmp_part(const void *a, const void *b)
{
    const struct part *x = a, *y = b;
    int r = strcmp(x->s->run, y->s->run);
    if (!r)
        r = strcmp(x->pd->name, y->pd->name);
    if (!r)
        r = (int)x->pd->content_type - (int)y->pd->content_type;
    if (!r)
        r = strcmp(x->s->tag, y->s->tag);
    return r;
}

static int cmp_step(const void *a, const void *b)
{
    int64_t x = ((const struct svc_point *)a)->step, y = ((const struct svc_point *)b)->step;
    return x < y ? -1 : x > y;
}

/* The distinct steps of series s that the restart rule shows (all with ?restarts=keep),
 * sorted, into x (x->p freed by the caller, also on failure). */
static int mesh_steps(struct svc_call *c, const struct svc_series_info *s, struct svc_pts *x)
{
    const char *rs = svc_req_query(c->req, "restarts");
    int err = svc_read_row_steps(c, s, false, !rs || strcmp(rs, "keep"), x, NULL);
    if (err < 0)
        return err;
    if (x->n)
        qsort(x->p, x->n, sizeof(*x->p), cmp_step);
    size_t k = 0;
    for (size_t i = 0; i < x->n; i++)
        if (!k || x->p[k - 1].step != x->p[i].step)
            x->p[k++] = x->p[i];
    x->n = k;
    return 0;
}

static void json_shape(struct tb_json *j, const Tensorboard__Mesh__MeshPluginData *pd)
{
    tb_json_arr_open(j);
    for (size_t i = 0; i < pd->n_shape && i < MESH_SHAPE_MAX; i++)
        tb_json_int(j, pd->shape[i]);
    tb_json_arr_close(j);
}

/* One mesh: parts p[0..n) of one (run, name), in content-type order. */
static int json_mesh(struct svc_call *c, struct tb_json *j, const struct part *p, size_t n)
{
    static const char *const names[4] = {NULL, "vertex", "face", "color"};
    const struct part *vertex = NULL;
    const char *config = NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i].pd->content_type == TENSORBOARD__MESH__MESH_PLUGIN_DATA__CONTENT_TYPE__VERTEX &&
            !vertex)
            vertex = &p[i];
        if (!config && p[i].pd->json_config && p[i].pd->json_config[0])
            config = p[i].pd->json_config;
    }
    tb_json_obj_open(j);
    tb_json_key(j, "run");
    tb_json_str(j, p[0].s->run);
    tb_json_key(j, "name");
    tb_json_str(j, p[0].pd->name);
    tb_json_key(j, "components");
    tb_json_uint(j, p[0].pd->components);
    tb_json_key(j, "parts");
    tb_json_obj_open(j);
    for (size_t i = 0; i < n; i++) {
        if (i && p[i].pd->content_type == p[i - 1].pd->content_type)
            continue; /* two series claim one part: the first (by tag) is shown */
        tb_json_key(j, names[p[i].pd->content_type]);
        tb_json_obj_open(j);
        tb_json_key(j, "tag");
        tb_json_str(j, p[i].s->tag);
        tb_json_key(j, "shape");
        json_shape(j, p[i].pd);
        tb_json_key(j, "points");
        tb_json_uint(j, p[i].s->points);
        tb_json_obj_close(j);
    }
    tb_json_obj_close(j);
    tb_json_key(j, "config");
    size_t clen = config ? strlen(config) : 0;
    if (!config || !strcmp(config, "null")) { /* tensorboardX writes "null" for no settings */
        tb_json_null(j);
    } else if (clen <= MESH_CONFIG_MAX && config[0] == '{' &&
               tb_json_valid(config, clen, MESH_CONFIG_DEPTH)) {
        tb_json_raw(j, config);
    } else {
        tb_json_null(j);
        tb_json_key(j, "config_error");
        tb_json_str(j, clen > MESH_CONFIG_MAX
                           ? "json_config is longer than 64 KiB: default settings used"
                           : "json_config is not a JSON object: default settings used");
    }
    struct svc_pts st = {0};
    int err = vertex ? mesh_steps(c, vertex->s, &st) : 0;
    if (err < 0) {
        free(st.p);
        return err;
    }
    tb_json_key(j, "total_steps");
    tb_json_uint(j, st.n);
    tb_json_key(j, "steps");
    tb_json_arr_open(j);
    size_t every =
        st.n > TB_MESH_STEPS_MAX ? (st.n + TB_MESH_STEPS_MAX - 1) / TB_MESH_STEPS_MAX : 1;
    for (size_t i = 0; i < st.n; i++)
        if (i % every == 0 || i + 1 == st.n)
            tb_json_int(j, st.p[i].step);
    tb_json_arr_close(j);
    free(st.p);
    tb_json_obj_close(j);
    return 0;
}

void svc_h_meshes(struct svc_call *c)
{
    struct svc_experiment e;
    if (!svc_load_experiment(c, false, &e))
        return;
    if (e.visibility != SVC_VIS_PUBLIC)
        svc_res_header(c->res, "X-Robots-Tag", "noindex");
    const char *run = svc_req_query(c->req, "run");
    struct svc_series_info *ss = NULL;
    size_t n_ss = 0;
    int err = c->app->ops->series_select(c->app->store, e.id, run, "mesh", &ss, &n_ss);
    if (err < 0) {
        svc_store_error(c, err, "reading the meshes");
        return;
    }
    struct part *parts = calloc(n_ss ? n_ss : 1, sizeof(*parts));
    if (!parts) {
        svc_series_list_free(ss, n_ss);
        svc_error(c, 500, "internal", "out of memory");
        return;
    }
    size_t n = 0, skipped = 0;
    for (size_t i = 0; i < n_ss; i++) {
        if (ss[i].kind != TB_KIND_TENSOR) {
            skipped++;
            continue;
        }
        Tensorboard__Mesh__MeshPluginData *pd =
            svc_plugin_mesh(ss[i].plugin_content, ss[i].plugin_content_len, NULL);
        if (!pd || pd->content_type < TENSORBOARD__MESH__MESH_PLUGIN_DATA__CONTENT_TYPE__VERTEX ||
            pd->content_type > TENSORBOARD__MESH__MESH_PLUGIN_DATA__CONTENT_TYPE__COLOR) {
            if (pd)
                tensorboard__mesh__mesh_plugin_data__free_unpacked(pd, NULL);
            skipped++;
            continue;
        }
        parts[n++] = (struct part){&ss[i], pd};
    }
    if (n)
        qsort(parts, n, sizeof(*parts), cmp_part);
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "meshes");
    tb_json_arr_open(&j);
    for (size_t i = 0; i < n && !err;) {
        size_t k = i + 1;
        while (k < n && !strcmp(parts[k].s->run, parts[i].s->run) &&
               !strcmp(parts[k].pd->name, parts[i].pd->name))
            k++;
        err = json_mesh(c, &j, parts + i, k - i);
        i = k;
    }
    tb_json_arr_close(&j);
    tb_json_key(&j, "skipped");
    tb_json_uint(&j, skipped);
    tb_json_obj_close(&j);
    if (err < 0)
        svc_store_error(c, err, "reading a mesh's steps");
    for (size_t i = 0; i < n; i++)
        tensorboard__mesh__mesh_plugin_data__free_unpacked(parts[i].pd, NULL);
    free(parts);
    svc_series_list_free(ss, n_ss);
}
