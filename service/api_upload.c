/* SPDX-License-Identifier: MIT */
/* The upload API's management endpoints: handshake, experiments, cursors, runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "auth.h"
#include "log.h"
#include "json.h"
#include "markdown.h"
#include "tbdev/v1/api.pb-c.h"
#include "tblimits.h"
#include "wirescan.h"

#define SERVER_VERSION "0.1.0"
#define NAME_CHARS 100
#define DESC_CHARS 600

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Counts UTF-8 characters; -1 if s is not valid UTF-8 or holds control characters. */
static long utf8_chars(const char *s, size_t len)
{
    if (!tb_utf8_valid(s, len))
        return -1;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
            return -1;
        n += (c & 0xc0) != 0x80; /* count lead bytes */
    }
    return n;
}

/* Checks a user-given text field. Returns false after answering 400. */
static bool check_text(struct svc_call *c, const char *what, const char *s, size_t len,
                       long max_chars, bool single_line)
{
    long n = utf8_chars(s, len);
    if (n < 0 || (single_line && (memchr(s, '\n', len) || memchr(s, '\r', len)))) {
        svc_error(c, 400, "invalid_argument",
                  "the %s must be UTF-8 text without control characters%s", what,
                  single_line ? " or line breaks" : "");
        return false;
    }
    if (n > max_chars) {
        svc_error(c, 400, "invalid_argument", "the %s is %ld characters; the limit is %ld", what, n,
                  max_chars);
        return false;
    }
    return true;
}

static const char *vis_name(enum svc_visibility v)
{
    return v == SVC_VIS_PUBLIC ? "public" : v == SVC_VIS_PRIVATE ? "private" : "unlisted";
}

static void fill_pb_experiment(struct svc_app *app, const struct svc_experiment *e,
                               Tbdev__V1__Experiment *pe, Tbdev__V1__Usage *pu, char *url,
                               size_t url_len)
{
    svc_experiment_url(app, e->id, url, url_len);
    pe->id = (char *)e->id;
    pe->name = (char *)e->name;
    pe->description = (char *)e->description;
    pe->visibility = (Tbdev__V1__Visibility)e->visibility;
    pe->owner = (char *)e->owner;
    pe->create_time = e->created;
    pe->update_time = e->updated;
    pe->url = url;
    pu->runs = e->usage.runs;
    pu->tags = e->usage.tags;
    pu->scalars = e->usage.scalars;
    pu->tensors = e->usage.tensors;
    pu->blobs = e->usage.blobs;
    pu->bytes = e->usage.bytes;
    pe->usage = pu;
}

/* Writes an experiment as a JSON object (shared with the read API). */
static void json_experiment(struct svc_call *c, struct tb_json *j, const struct svc_experiment *e,
                            bool with_html)
{
    char url[700];
    svc_experiment_url(c->app, e->id, url, sizeof(url));
    tb_json_obj_open(j);
    tb_json_key(j, "id");
    tb_json_str(j, e->id);
    tb_json_key(j, "name");
    tb_json_str(j, e->name);
    tb_json_key(j, "description");
    tb_json_str(j, e->description);
    if (with_html) {
        struct tb_buf html;
        tb_buf_init(&html, 1 << 20);
        svc_markdown_html(e->description, strlen(e->description), &html);
        tb_json_key(j, "description_html");
        tb_json_strn(j, html.data ? (const char *)html.data : "", html.len);
        tb_buf_done(&html);
    }
    tb_json_key(j, "visibility");
    tb_json_str(j, vis_name(e->visibility));
    tb_json_key(j, "owner");
    tb_json_str(j, e->owner);
    tb_json_key(j, "create_time");
    tb_json_double(j, e->created);
    tb_json_key(j, "update_time");
    tb_json_double(j, e->updated);
    tb_json_key(j, "url");
    tb_json_str(j, url);
    tb_json_key(j, "usage");
    tb_json_obj_open(j);
    tb_json_key(j, "runs");
    tb_json_uint(j, e->usage.runs);
    tb_json_key(j, "tags");
    tb_json_uint(j, e->usage.tags);
    tb_json_key(j, "scalars");
    tb_json_uint(j, e->usage.scalars);
    tb_json_key(j, "tensors");
    tb_json_uint(j, e->usage.tensors);
    tb_json_key(j, "blobs");
    tb_json_uint(j, e->usage.blobs);
    tb_json_key(j, "points");
    tb_json_uint(j, e->usage.scalars + e->usage.tensors + e->usage.blobs);
    tb_json_key(j, "bytes");
    tb_json_uint(j, e->usage.bytes);
    tb_json_obj_close(j);
    tb_json_obj_close(j);
}

static void answer_experiment(struct svc_call *c, int status, const struct svc_experiment *e)
{
    if (c->pb) {
        Tbdev__V1__Experiment pe = TBDEV__V1__EXPERIMENT__INIT;
        Tbdev__V1__Usage pu = TBDEV__V1__USAGE__INIT;
        char url[700];
        fill_pb_experiment(c->app, e, &pe, &pu, url, sizeof(url));
        svc_pb_answer(c, status, &pe);
        return;
    }
    struct tb_json j;
    svc_json_begin(c, &j);
    c->res->status = status;
    json_experiment(c, &j, e, true);
}

void svc_h_server_info(struct svc_call *c)
{
    const struct svc_config *cfg = c->app->cfg;
    const char *client = svc_req_query(c->req, "client_version");
    Tbdev__V1__Verdict verdict = TBDEV__V1__VERDICT__VERDICT_OK;
    const char *msg = "";
    if (client && !strncmp(client, "0.0.", 4)) {
        verdict = TBDEV__V1__VERDICT__VERDICT_WARN;
        msg = "this tbdev client is a development build; upgrade it to a release";
    }
    char tmpl[600];
    snprintf(tmpl, sizeof(tmpl), "%s/experiment/{experiment_id}/", cfg->url_base);
    char plugins_buf[1024];
    char *plugins[64];
    size_t n_plugins = 0;
    snprintf(plugins_buf, sizeof(plugins_buf), "%s",
             cfg->allowed_plugins ? cfg->allowed_plugins : "");
    for (char *save = NULL, *t = strtok_r(plugins_buf, ",", &save); t && n_plugins < 64;
         t = strtok_r(NULL, ",", &save))
        plugins[n_plugins++] = t;
    if (c->pb) {
        Tbdev__V1__Limits lim = TBDEV__V1__LIMITS__INIT;
        lim.request_bytes = (uint64_t)cfg->request_bytes;
        lim.record_bytes = (uint64_t)cfg->record_bytes;
        lim.blob_bytes = (uint64_t)cfg->blob_bytes;
        lim.points_per_second = (uint64_t)cfg->points_per_second;
        lim.name_bytes = SVC_EXP_NAME_MAX;
        lim.description_bytes = SVC_EXP_DESC_MAX;
        lim.runs_per_experiment = (uint64_t)cfg->runs_per_experiment;
        lim.tags_per_run = (uint64_t)cfg->tags_per_run;
        lim.series_name_bytes = TB_NAME_MAX;
        static char *enc[] = {"zstd", "gzip"};
        Tbdev__V1__ServerInfo si = TBDEV__V1__SERVER_INFO__INIT;
        si.server_version = SERVER_VERSION;
        si.verdict = verdict;
        si.verdict_message = (char *)msg;
        si.limits = &lim;
        si.n_allowed_plugins = n_plugins;
        si.allowed_plugins = plugins;
        si.experiment_url_template = tmpl;
        si.n_content_encodings = 2;
        si.content_encodings = enc;
        svc_pb_answer(c, 200, &si);
        return;
    }
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "server_version");
    tb_json_str(&j, SERVER_VERSION);
    tb_json_key(&j, "verdict");
    tb_json_str(&j, verdict == TBDEV__V1__VERDICT__VERDICT_OK ? "ok" : "warn");
    tb_json_key(&j, "verdict_message");
    tb_json_str(&j, msg);
    tb_json_key(&j, "limits");
    tb_json_obj_open(&j);
    tb_json_key(&j, "request_bytes");
    tb_json_int(&j, cfg->request_bytes);
    tb_json_key(&j, "record_bytes");
    tb_json_int(&j, cfg->record_bytes);
    tb_json_key(&j, "blob_bytes");
    tb_json_int(&j, cfg->blob_bytes);
    tb_json_key(&j, "points_per_second");
    tb_json_int(&j, cfg->points_per_second);
    tb_json_key(&j, "name_bytes");
    tb_json_int(&j, SVC_EXP_NAME_MAX);
    tb_json_key(&j, "series_name_bytes");
    tb_json_int(&j, TB_NAME_MAX);
    tb_json_key(&j, "runs_per_experiment");
    tb_json_int(&j, cfg->runs_per_experiment);
    tb_json_key(&j, "tags_per_run");
    tb_json_int(&j, cfg->tags_per_run);
    tb_json_obj_close(&j);
    tb_json_key(&j, "allowed_plugins");
    tb_json_arr_open(&j);
    for (size_t i = 0; i < n_plugins; i++)
        tb_json_str(&j, plugins[i]);
    tb_json_arr_close(&j);
    tb_json_key(&j, "experiment_url_template");
    tb_json_str(&j, tmpl);
    tb_json_obj_close(&j);
}

static bool vis_ok(struct svc_call *c, int v, enum svc_visibility *ret)
{
    if (v == 0) {
        *ret = SVC_VIS_UNLISTED;
        return true;
    }
    if (v >= 1 && v <= 3) {
        *ret = (enum svc_visibility)v;
        return true;
    }
    svc_error(c, 400, "invalid_argument", "visibility must be unlisted, public or private");
    return false;
}

void svc_h_experiment_create(struct svc_call *c)
{
    Tbdev__V1__CreateExperimentRequest *r =
        (Tbdev__V1__CreateExperimentRequest *)tb_wirescan_unpack(
            &tbdev__v1__create_experiment_request__descriptor, NULL, c->req->body_len, c->req->body,
            NULL);
    if (!r) {
        svc_error(c, 400, "invalid_argument", "the body is not a CreateExperimentRequest");
        return;
    }
    struct svc_experiment *e = calloc(1, sizeof(*e));
    if (!e) {
        tbdev__v1__create_experiment_request__free_unpacked(r, NULL);
        svc_error(c, 500, "internal", "out of memory");
        return;
    }
    if (!svc_pb_text(c, "name", r->name, e->name, sizeof(e->name)) ||
        !svc_pb_text(c, "description", r->description, e->description, sizeof(e->description)) ||
        !check_text(c, "name", e->name, strlen(e->name), NAME_CHARS, true) ||
        !check_text(c, "description", e->description, strlen(e->description), DESC_CHARS, false) ||
        !vis_ok(c, r->visibility, &e->visibility))
        goto out;
    e->owner_id = c->user.id;
    snprintf(e->owner, sizeof(e->owner), "%s", c->user.name);
    e->created = e->updated = now_s();
    int err;
    do {
        if (svc_experiment_id_new(e->id) < 0) {
            err = -EIO;
            break;
        }
        err = c->app->ops->experiment_create(c->app->store, e);
    } while (err == -EEXIST);
    if (err < 0) {
        svc_store_error(c, err, "creating the experiment");
        goto out;
    }
    svc_log_info("user %s created experiment %s", c->user.name, e->id);
    answer_experiment(c, 201, e);
out:
    free(e);
    tbdev__v1__create_experiment_request__free_unpacked(r, NULL);
}

struct list_ctx {
    struct svc_call *c;
    struct tb_json j;
    Tbdev__V1__Experiment **pb;
    Tbdev__V1__Usage *usage;
    char (*urls)[700];
    struct svc_experiment *copies;
    size_t n, cap;
    bool failed;
};

static int list_one(void *ctx, const struct svc_experiment *e)
{
    struct list_ctx *l = ctx;
    if (!l->c->pb) {
        json_experiment(l->c, &l->j, e, false);
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *a = realloc(l->pb, cap * sizeof(*l->pb));
        if (a)
            l->pb = a;
        void *b = realloc(l->usage, cap * sizeof(*l->usage));
        if (b)
            l->usage = b;
        void *u = realloc(l->urls, cap * sizeof(*l->urls));
        if (u)
            l->urls = u;
        void *d = realloc(l->copies, cap * sizeof(*l->copies));
        if (d)
            l->copies = d;
        if (!a || !b || !u || !d) {
            l->failed = true;
            return 1;
        }
        l->cap = cap;
    }
    l->copies[l->n] = *e;
    l->n++;
    return 0;
}

static void list_answer(struct svc_call *c, int64_t owner, bool public_only)
{
    struct list_ctx l = {.c = c};
    if (!c->pb) {
        svc_json_begin(c, &l.j);
        tb_json_obj_open(&l.j);
        tb_json_key(&l.j, "experiments");
        tb_json_arr_open(&l.j);
    }
    int err = c->app->ops->experiment_list(c->app->store, owner, public_only, list_one, &l);
    if (err < 0 || l.failed) {
        svc_store_error(c, err < 0 ? err : -ENOMEM, "listing experiments");
        goto out;
    }
    if (!c->pb) {
        tb_json_arr_close(&l.j);
        tb_json_obj_close(&l.j);
        goto out;
    }
    Tbdev__V1__Experiment *items = calloc(l.n ? l.n : 1, sizeof(*items));
    if (!items) {
        svc_error(c, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        tbdev__v1__experiment__init(&items[i]);
        tbdev__v1__usage__init(&l.usage[i]);
        fill_pb_experiment(c->app, &l.copies[i], &items[i], &l.usage[i], l.urls[i],
                           sizeof(l.urls[i]));
        l.pb[i] = &items[i];
    }
    Tbdev__V1__ExperimentList list = TBDEV__V1__EXPERIMENT_LIST__INIT;
    list.n_experiments = l.n;
    list.experiments = l.pb;
    svc_pb_answer(c, 200, &list);
    free(items);
out:
    free(l.pb);
    free(l.usage);
    free(l.urls);
    free(l.copies);
}

void svc_h_experiment_list(struct svc_call *c)
{
    if (!c->authed) {
        svc_error(c, 401, "unauthenticated",
                  "listing your experiments needs you signed in: run 'tbdev auth login'");
        return;
    }
    list_answer(c, c->user.id, false);
}

void svc_h_user_experiments(struct svc_call *c)
{
    struct svc_user u;
    int err = c->app->ops->user_get(c->app->store, c->param, &u);
    if (err == -ENOENT || (err == 0 && u.disabled)) {
        svc_error(c, 404, "not_found", "no such user");
        return;
    }
    if (err < 0) {
        svc_store_error(c, err, "user");
        return;
    }
    /* the owner sees everything on their own page; others see public experiments only */
    list_answer(c, u.id, !(c->authed && c->user.id == u.id));
}

void svc_h_experiment_get(struct svc_call *c)
{
    struct svc_experiment e;
    if (!svc_load_experiment(c, false, &e))
        return;
    if (e.visibility != SVC_VIS_PUBLIC)
        svc_res_header(c->res, "X-Robots-Tag", "noindex");
    answer_experiment(c, 200, &e);
}

static bool in_mask(const Tbdev__V1__UpdateExperimentRequest *r, const char *field)
{
    for (size_t i = 0; i < r->n_update_mask; i++)
        if (!strcmp(r->update_mask[i], field))
            return true;
    return false;
}

void svc_h_experiment_update(struct svc_call *c)
{
    struct svc_experiment e;
    if (!svc_load_experiment(c, true, &e))
        return;
    int64_t *ids = NULL;
    Tbdev__V1__UpdateExperimentRequest *r =
        (Tbdev__V1__UpdateExperimentRequest *)tb_wirescan_unpack(
            &tbdev__v1__update_experiment_request__descriptor, NULL, c->req->body_len, c->req->body,
            NULL);
    if (!r) {
        svc_error(c, 400, "invalid_argument", "the body is not an UpdateExperimentRequest");
        return;
    }
    for (size_t i = 0; i < r->n_update_mask; i++)
        if (strcmp(r->update_mask[i], "name") && strcmp(r->update_mask[i], "description") &&
            strcmp(r->update_mask[i], "visibility")) {
            svc_error(c, 400, "invalid_argument",
                      "update_mask may name: name, description, visibility");
            goto out;
        }
    if (in_mask(r, "name") && (!svc_pb_text(c, "name", r->name, e.name, sizeof(e.name)) ||
                               !check_text(c, "name", e.name, strlen(e.name), NAME_CHARS, true)))
        goto out;
    if (in_mask(r, "description") &&
        (!svc_pb_text(c, "description", r->description, e.description, sizeof(e.description)) ||
         !check_text(c, "description", e.description, strlen(e.description), DESC_CHARS, false)))
        goto out;
    if (in_mask(r, "visibility") && !vis_ok(c, r->visibility, &e.visibility))
        goto out;
    /* Every user named is looked up before anything changes; then the fields and the shares
     * change in one transaction, so a request that fails leaves the experiment as it was. */
    size_t n_ids = r->n_share_with + r->n_unshare;
    ids = calloc(n_ids ? n_ids : 1, sizeof(*ids));
    if (!ids) {
        svc_error(c, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_ids; i++) {
        const char *name = i < r->n_share_with ? r->share_with[i] : r->unshare[i - r->n_share_with];
        struct svc_user u;
        int err = c->app->ops->user_get(c->app->store, name, &u);
        if (err == -ENOENT) {
            svc_error(c, 400, "invalid_argument",
                      "no user named '%.64s' to share with; nothing was changed", name);
            goto out;
        }
        if (err < 0) {
            svc_store_error(c, err, "sharing");
            goto out;
        }
        ids[i] = u.id;
    }
    int err = c->app->ops->experiment_update(c->app->store, &e, ids, r->n_share_with,
                                             ids + r->n_share_with, r->n_unshare);
    if (err < 0) {
        svc_store_error(c, err, "updating the experiment");
        goto out;
    }
    c->app->ops->experiment_get(c->app->store, e.id, &e);
    answer_experiment(c, 200, &e);
out:
    free(ids);
    tbdev__v1__update_experiment_request__free_unpacked(r, NULL);
}

void svc_h_experiment_delete(struct svc_call *c)
{
    struct svc_experiment e;
    if (!svc_load_experiment(c, true, &e))
        return;
    int err = c->app->ops->experiment_delete(c->app->store, e.id);
    if (err < 0) {
        svc_store_error(c, err, "deleting the experiment");
        return;
    }
    svc_log_info("user %s deleted experiment %s", c->user.name, e.id);
    c->res->status = 204;
}

struct cursor_ctx {
    struct svc_call *c;
    struct tb_json j;
    Tbdev__V1__Cursor *items;
    Tbdev__V1__Cursor **ptrs;
    char **strs;
    size_t n, cap;
    bool failed;
};

static int cursor_one(void *ctx, const char *run, const char *file, uint64_t offset,
                      uint32_t fp_len, uint32_t fp)
{
    struct cursor_ctx *x = ctx;
    if (!x->c->pb) {
        tb_json_obj_open(&x->j);
        tb_json_key(&x->j, "run");
        tb_json_str(&x->j, run);
        tb_json_key(&x->j, "file");
        tb_json_str(&x->j, file);
        tb_json_key(&x->j, "offset");
        tb_json_uint(&x->j, offset);
        tb_json_key(&x->j, "fingerprint_len");
        tb_json_uint(&x->j, fp_len);
        tb_json_key(&x->j, "fingerprint");
        tb_json_uint(&x->j, fp);
        tb_json_obj_close(&x->j);
        return 0;
    }
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 32;
        void *a = realloc(x->items, cap * sizeof(*x->items));
        if (a)
            x->items = a;
        void *s = realloc(x->strs, 2 * cap * sizeof(*x->strs));
        if (s)
            x->strs = s;
        if (!a || !s) {
            x->failed = true;
            return 1;
        }
        x->cap = cap;
    }
    char *r = strdup(run), *f = strdup(file);
    x->strs[2 * x->n] = r;
    x->strs[2 * x->n + 1] = f;
    tbdev__v1__cursor__init(&x->items[x->n]);
    x->items[x->n].run = r;
    x->items[x->n].file = f;
    x->items[x->n].offset = offset;
    x->items[x->n].fingerprint_len = fp_len;
    x->items[x->n].fingerprint = fp;
    x->n++;
    if (!r || !f) {
        x->failed = true;
        return 1;
    }
    return 0;
}

void svc_h_cursors(struct svc_call *c)
{
    struct svc_experiment e;
    if (!svc_load_experiment(c, true, &e))
        return;
    struct cursor_ctx x = {.c = c};
    if (!c->pb) {
        svc_json_begin(c, &x.j);
        tb_json_obj_open(&x.j);
        tb_json_key(&x.j, "cursors");
        tb_json_arr_open(&x.j);
    }
    int err = c->app->ops->cursors(c->app->store, e.id, cursor_one, &x);
    if (err < 0 || x.failed) {
        svc_store_error(c, err < 0 ? err : -ENOMEM, "reading cursors");
    } else if (!c->pb) {
        tb_json_arr_close(&x.j);
        tb_json_obj_close(&x.j);
    } else {
        x.ptrs = calloc(x.n ? x.n : 1, sizeof(*x.ptrs));
        if (!x.ptrs) {
            svc_error(c, 500, "internal", "out of memory");
        } else {
            for (size_t i = 0; i < x.n; i++)
                x.ptrs[i] = &x.items[i];
            Tbdev__V1__CursorList list = TBDEV__V1__CURSOR_LIST__INIT;
            list.n_cursors = x.n;
            list.cursors = x.ptrs;
            svc_pb_answer(c, 200, &list);
        }
    }
    for (size_t i = 0; i < 2 * x.n; i++)
        free(x.strs[i]);
    free(x.strs);
    free(x.items);
    free(x.ptrs);
}

void svc_h_run_delete(struct svc_call *c)
{
    struct svc_experiment e;
    if (!svc_load_experiment(c, true, &e))
        return;
    const char *run = svc_req_query(c->req, "run");
    if (!run) {
        svc_error(c, 400, "invalid_argument", "name the run to delete: ?run=NAME");
        return;
    }
    int err = c->app->ops->run_delete(c->app->store, e.id, run);
    if (err == -ENOENT) {
        svc_error(c, 404, "not_found", "the experiment has no run named '%.200s'", run);
        return;
    }
    if (err < 0) {
        svc_store_error(c, err, "deleting the run");
        return;
    }
    c->res->status = 204;
}
