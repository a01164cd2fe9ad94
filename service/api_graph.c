/* SPDX-License-Identifier: MIT */
/* GET .../graph: a run's graph decoded (graphdef.h) and served as JSON, cached (graph_cache.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_read.h"

#include "auth.h"
#include "graph_cache.h"
#include "graphdef.h"

/* What a blob-sequence series of a run is to the Graphs tab. */
enum role {
    NOT_GRAPH = 0,
    ROLE_GRAPH,    /* a GraphDef: __run_graph__ (plugin graphs) */
    ROLE_META,     /* a MetaGraphDef: __meta_graph__ */
    ROLE_OP_GRAPH, /* a RunMetadata whose function graphs are the graph (Keras, TF2) */
    ROLE_STATS,    /* a RunMetadata with step stats (Event.tagged_run_metadata, TF2 profiles) */
    ROLE_KERAS,    /* a Keras model config (JSON): TensorBoard's conceptual graph */
};

static enum role role_of(const struct svc_series_info *s)
{
    if (s->kind != TB_KIND_BLOB_SEQUENCE)
        return NOT_GRAPH;
    if (!strcmp(s->plugin, TB_PLUGIN_GRAPHS))
        return !strcmp(s->tag, TB_TAG_META_GRAPH) ? ROLE_META : ROLE_GRAPH;
    if (!strcmp(s->plugin, "graph_run_metadata_graph"))
        return ROLE_OP_GRAPH;
    if (!strcmp(s->plugin, TB_PLUGIN_TAGGED_RUN_METADATA) ||
        !strcmp(s->plugin, "graph_run_metadata"))
        return ROLE_STATS;
    if (!strcmp(s->plugin, "graph_keras_model"))
        return ROLE_KERAS;
    return NOT_GRAPH;
}

static const char *source_name(enum svc_graph_source s)
{
    return s == SVC_GRAPH_GRAPH_DEF        ? "graph_def"
           : s == SVC_GRAPH_META_GRAPH_DEF ? "meta_graph_def"
                                           : "run_metadata";
}

/* The last row of a blob series: the graph TensorBoard shows (a run written again keeps its
 * latest graph). */
struct last_blob {
    bool found;
    int64_t step;
    double wall_time;
    uint8_t sha[32];
};

static int last_cb(void *ctx, const struct svc_tensor_row *r)
{
    struct last_blob *x = ctx;
    if (r->n_blobs < 1)
        return 0;
    x->found = true;
    x->step = r->step;
    x->wall_time = r->wall_time;
    memcpy(x->sha, r->shas, 32);
    return 0;
}

static struct svc_graph_cache *cache_of(struct svc_app *app)
{
    pthread_mutex_lock(&app->rate_lock);
    if (!app->graph_cache)
        app->graph_cache = svc_graph_cache_new(TB_GRAPH_CACHE_BYTES, TB_GRAPH_CACHE_ENTRIES);
    struct svc_graph_cache *c = app->graph_cache;
    pthread_mutex_unlock(&app->rate_lock);
    return c;
}

/* The blob under sha, or an answered error. */
static bool load_blob(struct svc_call *c, const char *exp_id, const uint8_t sha[32], uint8_t **ret,
                      size_t *ret_len)
{
    int err = c->app->ops->blob_get(c->app->store, exp_id, sha, ret, ret_len);
    if (err < 0) {
        svc_store_error(c, err, "reading the graph");
        return false;
    }
    return true;
}

struct pick {
    const struct svc_series_info *graph; /* the series whose bytes are the graph */
    enum svc_graph_source source;
    const struct svc_series_info *stats; /* a RunMetadata joined for step stats, or NULL */
};

/* Chooses what to draw for run (and tag, if given), as TensorBoard's graphs plugin does: the
 * run graph, else the graph in the meta graph, else an op graph from run metadata; a tag of
 * tagged run metadata draws the run graph with that metadata's step stats. Answers 404 or 422
 * itself and returns false when there is nothing to draw. */
static bool pick_graph(struct svc_call *c, const struct svc_series_set *ss, const char *run,
                       const char *tag, struct pick *p)
{
    const struct svc_series_info *by_role[ROLE_KERAS + 1] = {NULL};
    const struct svc_series_info *tagged = NULL;
    for (size_t i = 0; i < ss->n; i++) {
        const struct svc_series_info *s = &ss->s[i];
        enum role r = role_of(s);
        if (r == NOT_GRAPH || strcmp(s->run, run))
            continue;
        if (!by_role[r] || (r == ROLE_GRAPH && !strcmp(s->tag, TB_TAG_RUN_GRAPH)))
            by_role[r] = s;
        if (tag && !strcmp(s->tag, tag))
            tagged = s;
    }
    const struct svc_series_info *run_graph =
        by_role[ROLE_GRAPH] ? by_role[ROLE_GRAPH] : by_role[ROLE_META];
    enum svc_graph_source run_source =
        by_role[ROLE_GRAPH] ? SVC_GRAPH_GRAPH_DEF : SVC_GRAPH_META_GRAPH_DEF;
    *p = (struct pick){0};
    if (tag && !tagged) {
        svc_error(c, 404, "not_found", "run '%.200s' has no graph tagged '%.200s'", run, tag);
        return false;
    }
    const struct svc_series_info *s = tagged;
    if (!s)
        s = run_graph                ? run_graph
            : by_role[ROLE_OP_GRAPH] ? by_role[ROLE_OP_GRAPH]
                                     : by_role[ROLE_STATS];
    if (!s) {
        svc_error(c, 404, "not_found",
                  "run '%.200s' has no graph (no GraphDef, MetaGraphDef or run metadata)", run);
        return false;
    }
    switch (role_of(s)) {
    case ROLE_GRAPH:
        *p = (struct pick){s, SVC_GRAPH_GRAPH_DEF, NULL};
        break;
    case ROLE_META:
        *p = (struct pick){s, SVC_GRAPH_META_GRAPH_DEF, NULL};
        break;
    case ROLE_OP_GRAPH:
        *p = (struct pick){s, SVC_GRAPH_RUN_METADATA, NULL};
        break;
    case ROLE_STATS:
        /* stats over the run graph; without one, the RunMetadata's own graphs */
        if (tagged && run_graph)
            *p = (struct pick){run_graph, run_source, s};
        else
            *p = (struct pick){s, SVC_GRAPH_RUN_METADATA, tagged ? s : NULL};
        break;
    default:
        svc_error(c, 422, "unsupported_graph",
                  "'%.200s' of run '%.200s' is a Keras model config (TensorBoard's conceptual "
                  "graph), which this server does not draw; download it from .../blobs",
                  s->tag, run);
        return false;
    }
    return true;
}

/* Decodes and writes the graph's members into out (cached by content). Returns 0, or answers
 * the error itself and returns -1. */
static int graph_members(struct svc_call *c, const char *exp_id, const struct pick *p,
                         const struct last_blob *g_blob, const struct last_blob *s_blob,
                         const char *function, struct tb_buf *out)
{
    uint8_t key[32 + 1 + 32 + TB_GRAPH_NAME_MAX + 1];
    size_t kl = 0;
    memcpy(key, g_blob->sha, 32);
    kl += 32;
    key[kl++] = (uint8_t)p->source;
    if (s_blob)
        memcpy(key + kl, s_blob->sha, 32);
    else
        memset(key + kl, 0, 32);
    kl += 32;
    if (function) {
        size_t fl = strlen(function);
        memcpy(key + kl, function, fl);
        kl += fl;
        key[kl++] = 1; /* "" and no function differ */
    }
    struct svc_graph_cache *cache = cache_of(c->app);
    if (cache) {
        int r = svc_graph_cache_get(cache, key, kl, out);
        if (r == 1) {
            svc_res_header(c->res, "X-Tbdev-Graph-Cache", "hit");
            return 0;
        }
    }
    int ret = -1;
    uint8_t *gb = NULL, *sb = NULL;
    size_t gl = 0, sl = 0;
    struct svc_graph g = {0}, fg = {0};
    struct svc_graph_stats st = {0};
    bool have_stats = false;
    if (!load_blob(c, exp_id, g_blob->sha, &gb, &gl))
        goto out;
    int err = svc_graph_decode(&g, p->source, gb, gl);
    if (err == -ENOMEM) {
        svc_error(c, 500, "internal", "out of memory decoding the graph; retry later");
        goto out;
    }
    if (err < 0) {
        svc_error(c, 422, "bad_graph",
                  "the %s of run '%.200s' (tag '%.200s', step %lld) cannot be drawn: %s%s at "
                  "byte %zu of %zu",
                  source_name(p->source), p->graph->run, p->graph->tag, (long long)g_blob->step,
                  err == -E2BIG ? "" : "not valid: in ", g.why ? g.why : "?", g.err_offset, gl);
        goto out;
    }
    const struct svc_graph *shown = &g;
    if (function) {
        err = svc_graph_decode_function(&fg, &g, function);
        if (err == -ENOENT) {
            svc_error(c, 404, "not_found", "the graph's library has no function '%.200s'",
                      function);
            goto out;
        }
        if (err < 0) {
            svc_error(c, err == -ENOMEM ? 500 : 422, err == -ENOMEM ? "internal" : "bad_graph",
                      "function '%.200s' cannot be drawn: %s at byte %zu", function,
                      fg.why ? fg.why : "?", fg.err_offset);
            goto out;
        }
        shown = &fg;
    }
    struct tb_json j;
    tb_json_init(&j, out);
    size_t start = out->len;
    tb_json_obj_open(&j); /* the members are what is between the braces */
    if (s_blob && !function) {
        if (!load_blob(c, exp_id, s_blob->sha, &sb, &sl))
            goto out;
        err = svc_graph_stats_decode(&st, sb, sl);
        if (err == 0) {
            have_stats = true;
        } else {
            char why[300];
            snprintf(why, sizeof(why), "the step stats are not valid: in %s at byte %zu",
                     st.why ? st.why : "?", st.err_offset);
            tb_json_key(&j, "stats_error");
            tb_json_str(&j, why);
        }
    }
    if (function) {
        tb_json_key(&j, "function");
        tb_json_str(&j, function);
    }
    if (svc_graph_json(shown, have_stats ? &st : NULL, &j) < 0) {
        svc_error(c, 500, "internal", "out of memory writing the graph; retry later");
        goto out;
    }
    tb_json_obj_close(&j);
    if (out->err) {
        ret = 0; /* the answer's own error (its size cap): app.c answers it */
        goto out;
    }
    /* drop the braces: the caller puts the members into its answer */
    memmove(out->data + start, out->data + start + 1, out->len - start - 2);
    out->len -= 2;
    out->data[out->len] = 0;
    if (cache)
        svc_graph_cache_put(cache, key, kl, out->data + start, out->len - start);
    svc_res_header(c->res, "X-Tbdev-Graph-Cache", "miss");
    ret = 0;
out:
    svc_graph_done(&fg);
    svc_graph_done(&g);
    svc_graph_stats_done(&st);
    free(gb);
    free(sb);
    return ret;
}

void svc_h_graph(struct svc_call *c)
{
    const char *run = svc_req_query(c->req, "run");
    const char *tag = svc_req_query(c->req, "tag");
    const char *function = svc_req_query(c->req, "function");
    if (!run) {
        svc_error(c, 400, "invalid_argument",
                  "name the run: ?run=NAME (and ?tag=T for one of its graphs)");
        return;
    }
    if (function && strlen(function) > TB_GRAPH_NAME_MAX) {
        svc_error(c, 400, "invalid_argument", "the function name is over %d bytes",
                  TB_GRAPH_NAME_MAX);
        return;
    }
    struct svc_series_set ss;
    if (!svc_read_load(c, &ss))
        return;
    struct tb_buf members;
    tb_buf_init(&members, (size_t)c->app->cfg->answer_bytes);
    struct pick p;
    if (!pick_graph(c, &ss, run, tag, &p))
        goto out;
    struct last_blob gb = {0}, sb = {0};
    int err = c->app->ops->blob_rows(c->app->store, p.graph->id, 0, last_cb, &gb);
    if (!err && p.stats)
        err = c->app->ops->blob_rows(c->app->store, p.stats->id, 0, last_cb, &sb);
    if (err < 0) {
        svc_store_error(c, err, "reading the graph");
        goto out;
    }
    if (!gb.found || (p.stats && !sb.found)) {
        svc_error(c, 404, "not_found", "the graph of run '%.200s' holds no data", run);
        goto out;
    }
    if (graph_members(c, ss.e.id, &p, &gb, p.stats ? &sb : NULL, function, &members) < 0)
        goto out;
    if (members.err) {
        c->res->body.err = members.err; /* past --answer_bytes: answered as too large */
        goto out;
    }
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "run");
    tb_json_str(&j, run);
    tb_json_key(&j, "tag");
    tb_json_str(&j, p.graph->tag);
    tb_json_key(&j, "plugin");
    tb_json_str(&j, p.graph->plugin);
    tb_json_key(&j, "source");
    tb_json_str(&j, source_name(p.source));
    tb_json_key(&j, "step");
    tb_json_int(&j, gb.step);
    tb_json_key(&j, "wall_time");
    tb_json_double(&j, gb.wall_time);
    char hex[65];
    svc_hex32(gb.sha, hex);
    tb_json_key(&j, "sha256");
    tb_json_str(&j, hex);
    if (p.stats) {
        tb_json_key(&j, "stats_tag");
        tb_json_str(&j, p.stats->tag);
        tb_json_key(&j, "stats_step");
        tb_json_int(&j, sb.step);
    }
    tb_buf_addc(&c->res->body, ',');
    tb_buf_add(&c->res->body, members.data, members.len);
    tb_json_key(&j, "limits");
    tb_json_obj_open(&j);
    tb_json_key(&j, "nodes");
    tb_json_uint(&j, TB_GRAPH_NODES_MAX);
    tb_json_key(&j, "attr_bytes");
    tb_json_uint(&j, TB_GRAPH_ATTR_BYTES);
    tb_json_key(&j, "scope_depth");
    tb_json_uint(&j, TB_GRAPH_SCOPE_DEPTH_MAX);
    tb_json_obj_close(&j);
    tb_json_obj_close(&j);
out:
    tb_buf_done(&members);
    svc_read_done(&ss);
}
