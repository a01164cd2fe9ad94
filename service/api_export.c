/* SPDX-License-Identifier: MIT */
/* GET /api/v1/experiments/{id}/export?run=R: a run's data as an event file (TFRecords). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "event.h"
#include "log.h"
#include "tfrecord.h"
#include "wirescan.h"

/*
 * Every stored point of the run becomes an event again, in arrival order (the store's seq):
 * scalars in their original form (simple_value, or a rank-0 tensor of the original dtype)
 * with their series' metadata; tensors and blob sequences from the original Summary.Value,
 * with blob bytes put back; graphs as graph events; restarts as SessionLog START. The file
 * starts with a file_version event. tbdev inspect and TensorBoard read the result.
 */

enum { X_SCALAR, X_ROW, X_RESTART };

struct xitem {
    int64_t seq;
    uint32_t sub; /* order within a scalar chunk */
    uint8_t type;
    uint32_t series; /* index into the selected series */
    int64_t step;
    double wall_time;
    double value;
    uint8_t *pb; /* X_ROW: the packed Summary.Value or graph bytes, owned */
    size_t pb_len;
};

struct xctx {
    struct svc_call *c;
    struct xitem *items;
    size_t n, cap;
    uint32_t series;
    const char *exp_id;
    const struct svc_series_info *info;
    bool failed;
    size_t skipped; /* stored points that cannot be exported (a bad value_pb, a missing blob) */
};

static struct xitem *push(struct xctx *x)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 1024;
        void *p = realloc(x->items, cap * sizeof(*x->items));
        if (!p) {
            x->failed = true;
            return NULL;
        }
        x->items = p;
        x->cap = cap;
    }
    struct xitem *it = &x->items[x->n++];
    memset(it, 0, sizeof(*it));
    it->series = x->series;
    return it;
}

static int on_chunk(void *ctx, int64_t seq, const uint8_t *data, size_t n)
{
    struct xctx *x = ctx;
    for (size_t i = 0; i < n; i++) {
        struct xitem *it = push(x);
        if (!it)
            return 1;
        it->type = X_SCALAR;
        it->seq = seq;
        it->sub = (uint32_t)i;
        memcpy(&it->step, data + i * SVC_SCALAR_POINT_BYTES, 8);
        memcpy(&it->wall_time, data + i * SVC_SCALAR_POINT_BYTES + 8, 8);
        memcpy(&it->value, data + i * SVC_SCALAR_POINT_BYTES + 16, 8);
    }
    return 0;
}

/* Puts the blobs back into a blanked Summary.Value (the inverse of ingest's pack_blanked).
 * NULL when out of memory, or with *ret_skip set when the stored row cannot be rebuilt. */
static uint8_t *refill(struct xctx *x, const struct svc_tensor_row *r, size_t *ret_len,
                       bool *ret_skip)
{
    const struct svc_series_info *s = x->info;
    uint8_t **blobs = calloc(r->n_blobs ? r->n_blobs : 1, sizeof(*blobs));
    size_t *lens = calloc(r->n_blobs ? r->n_blobs : 1, sizeof(*lens));
    uint8_t *out = NULL;
    if (!blobs || !lens)
        goto out;
    for (size_t k = 0; k < r->n_blobs; k++) {
        int err = x->c->app->ops->blob_get(x->c->app->store, x->exp_id, r->shas + 32 * k, &blobs[k],
                                           &lens[k]);
        if (err < 0) {
            *ret_skip = err == -ENOENT;
            goto out;
        }
    }
    if (s->source == TB_SRC_GRAPH_DEF || s->source == TB_SRC_META_GRAPH_DEF ||
        s->source == TB_SRC_RUN_METADATA) {
        if (r->n_blobs != 1) {
            *ret_skip = true;
            goto out;
        }
        out = blobs[0];
        *ret_len = lens[0];
        blobs[0] = NULL;
        goto out;
    }
    int err = 0;
    Tensorboard__Summary__Value *v = (Tensorboard__Summary__Value *)tb_wirescan_unpack(
        &tensorboard__summary__value__descriptor, NULL, r->value_pb_len, r->value_pb, &err);
    if (!v) {
        *ret_skip = err != -ENOMEM;
        goto out;
    }
    size_t k = 0;
    /* The stored value had its blob bytes emptied; one stored otherwise (by hand, or by an older
     * server) has its own bytes there, freed before they are replaced. */
    ProtobufCBinaryData *one = NULL;
    if (v->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE)
        one = &v->image->encoded_image_string;
    else if (v->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_AUDIO)
        one = &v->audio->encoded_audio_string;
    else if (v->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_OBSOLETE_OLD_STYLE_HISTOGRAM)
        one = &v->obsolete_old_style_histogram;
    if (one && r->n_blobs == 1) {
        free(one->data);
        *one = (ProtobufCBinaryData){lens[0], blobs[0]};
    } else if (one) {
        one = NULL; /* not ours to give back below */
    }
    if (!one && v->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR &&
        v->tensor->dtype == TENSORBOARD__DATA_TYPE__DT_STRING) {
        Tensorboard__TensorProto *t = v->tensor;
        int rank = t->tensor_shape ? (int)t->tensor_shape->n_dim : 0;
        int64_t dim1 = rank >= 2 ? t->tensor_shape->dim[1]->size : 0;
        for (size_t i = 0; i < t->n_string_val && k < r->n_blobs; i++) {
            if (tb_string_is_blob(s->plugin, rank, dim1, i)) {
                free(t->string_val[i].data); /* the empty placeholder */
                t->string_val[i] = (ProtobufCBinaryData){lens[k], blobs[k]};
                blobs[k++] = NULL;
            }
        }
    }
    *ret_len = protobuf_c_message_get_packed_size(&v->base);
    out = malloc(*ret_len ? *ret_len : 1);
    if (out)
        protobuf_c_message_pack(&v->base, out);
    /* The blob buffers now belong to v (image/audio/histogram cases) or were moved above. */
    if (one)
        blobs[0] = NULL;
    protobuf_c_message_free_unpacked(&v->base, NULL);
out:
    for (size_t i = 0; blobs && i < r->n_blobs; i++)
        free(blobs[i]);
    free(blobs);
    free(lens);
    return out;
}

static int on_row(void *ctx, const struct svc_tensor_row *r)
{
    struct xctx *x = ctx;
    struct xitem *it = push(x);
    if (!it)
        return 1;
    it->type = X_ROW;
    it->seq = r->seq;
    it->step = r->step;
    it->wall_time = r->wall_time;
    if (x->info->kind == TB_KIND_BLOB_SEQUENCE) {
        bool skip = false;
        it->pb = refill(x, r, &it->pb_len, &skip);
        if (skip) {
            x->n--;
            x->skipped++;
            return 0;
        }
    } else {
        it->pb_len = r->value_pb_len;
        it->pb = malloc(r->value_pb_len ? r->value_pb_len : 1);
        if (it->pb && r->value_pb_len)
            memcpy(it->pb, r->value_pb, r->value_pb_len);
    }
    if (!it->pb) {
        x->failed = true;
        return 1;
    }
    return 0;
}

static int cmp_items(const void *a, const void *b)
{
    const struct xitem *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

/* --- event encoding, straight to the wire format --- */

static void put_varint(struct tb_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    tb_buf_add(b, tmp, (size_t)n);
}

static void put_key(struct tb_buf *b, unsigned field, unsigned wire)
{
    put_varint(b, (uint64_t)field << 3 | wire);
}

static void put_bytes(struct tb_buf *b, unsigned field, const void *p, size_t n)
{
    put_key(b, field, 2);
    put_varint(b, n);
    tb_buf_add(b, p, n);
}

static void put_double(struct tb_buf *b, unsigned field, double v)
{
    put_key(b, field, 1);
    tb_buf_add(b, &v, 8);
}

/* Appends one framed event with the given "what" already encoded (its field and bytes). */
static void emit(struct tb_buf *out, double wall, int64_t step, const struct tb_buf *what)
{
    struct tb_buf ev;
    tb_buf_init(&ev, 0);
    put_double(&ev, 1, wall);
    if (step) {
        put_key(&ev, 2, 0);
        put_varint(&ev, (uint64_t)step);
    }
    if (what->len)
        tb_buf_add(&ev, what->data, what->len);
    tb_tfrecord_append(out, ev.data, ev.len);
    tb_buf_done(&ev);
}

static void scalar_value(struct tb_buf *v, const struct svc_series_info *s, double value)
{
    struct tb_buf md, pd;
    tb_buf_init(&md, 0);
    tb_buf_init(&pd, 0);
    put_bytes(v, 1, s->tag, strlen(s->tag));
    put_bytes(&pd, 1, s->plugin, strlen(s->plugin));
    if (s->plugin_content_len)
        put_bytes(&pd, 2, s->plugin_content, s->plugin_content_len);
    put_bytes(&md, 1, pd.data, pd.len);
    if (s->display_name[0])
        put_bytes(&md, 2, s->display_name, strlen(s->display_name));
    if (s->description[0])
        put_bytes(&md, 3, s->description, strlen(s->description));
    if (s->data_class) {
        put_key(&md, 4, 0);
        put_varint(&md, (uint64_t)s->data_class);
    }
    put_bytes(v, 9, md.data, md.len);
    if (s->source == TB_SRC_SIMPLE_VALUE) {
        float f = (float)value;
        put_key(v, 2, 5);
        tb_buf_add(v, &f, 4);
    } else {
        struct tb_buf t;
        tb_buf_init(&t, 0);
        int dtype = s->dtype;
        put_key(&t, 1, 0);
        put_varint(&t, (uint64_t)(dtype == TENSORBOARD__DATA_TYPE__DT_FLOAT ||
                                          dtype == TENSORBOARD__DATA_TYPE__DT_INT32 ||
                                          dtype == TENSORBOARD__DATA_TYPE__DT_INT64
                                      ? dtype
                                      : TENSORBOARD__DATA_TYPE__DT_DOUBLE));
        put_bytes(&t, 2, "", 0); /* tensor_shape {}: rank 0 */
        if (dtype == TENSORBOARD__DATA_TYPE__DT_FLOAT) {
            float f = (float)value;
            put_bytes(&t, 5, &f, 4);
        } else if (dtype == TENSORBOARD__DATA_TYPE__DT_INT32) {
            put_key(&t, 7, 0);
            put_varint(&t, (uint64_t)(int64_t)(int32_t)value);
        } else if (dtype == TENSORBOARD__DATA_TYPE__DT_INT64) {
            put_key(&t, 10, 0);
            put_varint(&t, (uint64_t)(int64_t)value);
        } else {
            put_bytes(&t, 6, &value, 8);
        }
        put_bytes(v, 8, t.data, t.len);
        tb_buf_done(&t);
    }
    tb_buf_done(&md);
    tb_buf_done(&pd);
}

void svc_h_export(struct svc_call *c)
{
    const char *run = svc_req_query(c->req, "run");
    if (!run) {
        svc_error(c, 400, "invalid_argument", "name the run: ?run=NAME (see /runs)");
        return;
    }
    struct svc_experiment e;
    if (!svc_load_experiment(c, false, &e))
        return;
    struct svc_series_info *all = NULL;
    size_t n_all = 0;
    /* The run's series with their plugin content (scalars are written back with it). */
    int err = c->app->ops->series_select(c->app->store, e.id, run, NULL, &all, &n_all);
    if (err < 0) {
        svc_store_error(c, err, "reading the run");
        return;
    }
    struct xctx x = {.c = c, .exp_id = e.id};
    int64_t run_id = 0;
    for (size_t i = 0; i < n_all && !x.failed; i++) {
        if (strcmp(all[i].run, run))
            continue;
        run_id = all[i].run_id;
        x.series = (uint32_t)i;
        x.info = &all[i];
        if (all[i].kind == TB_KIND_SCALAR)
            err = c->app->ops->scalar_chunks(c->app->store, all[i].id, on_chunk, &x);
        else if (all[i].kind == TB_KIND_TENSOR)
            err = c->app->ops->tensor_rows(c->app->store, all[i].id, 0, on_row, &x);
        else
            err = c->app->ops->blob_rows(c->app->store, all[i].id, 0, on_row, &x);
        if (err < 0)
            break;
    }
    struct svc_restart *rs = NULL;
    size_t nr = 0;
    if (!err && run_id)
        err = c->app->ops->restarts(c->app->store, run_id, &rs, &nr);
    for (size_t i = 0; !err && i < nr; i++) {
        struct xitem *it = push(&x);
        if (!it)
            break;
        it->type = X_RESTART;
        it->seq = rs[i].seq;
        it->step = rs[i].step;
    }
    free(rs);
    if (err < 0 || x.failed) {
        svc_store_error(c, err < 0 ? err : -ENOMEM, "exporting the run");
        goto out;
    }
    if (!run_id) {
        svc_error(c, 404, "not_found", "the experiment has no run named '%.200s'", run);
        goto out;
    }
    if (x.skipped)
        svc_log_warn("export of experiment %s run '%.100s': %zu stored points could not be "
                     "rebuilt (a blob missing, or a value that does not decode) and were left out",
                     e.id, run, x.skipped);
    qsort(x.items, x.n, sizeof(*x.items), cmp_items);
    struct tb_buf *out = &c->res->body;
    tb_buf_reset(out);
    struct tb_buf what;
    tb_buf_init(&what, 0);
    double first_wall = x.n ? x.items[0].wall_time : 0;
    put_bytes(&what, 3, "brain.Event:2", 13);
    emit(out, first_wall, 0, &what);
    for (size_t i = 0; i < x.n; i++) {
        const struct xitem *it = &x.items[i];
        const struct svc_series_info *s = &all[it->series];
        tb_buf_reset(&what);
        double wall = it->wall_time;
        if (it->type == X_RESTART) {
            struct tb_buf sl;
            tb_buf_init(&sl, 0);
            put_key(&sl, 1, 0);
            put_varint(&sl, TENSORBOARD__SESSION_LOG__SESSION_STATUS__START);
            put_bytes(&what, 7, sl.data, sl.len);
            tb_buf_done(&sl);
            wall = i + 1 < x.n ? x.items[i + 1].wall_time : first_wall;
        } else if (it->type == X_SCALAR) {
            struct tb_buf v, sum;
            tb_buf_init(&v, 0);
            tb_buf_init(&sum, 0);
            scalar_value(&v, s, it->value);
            put_bytes(&sum, 1, v.data, v.len);
            put_bytes(&what, 5, sum.data, sum.len);
            tb_buf_done(&v);
            tb_buf_done(&sum);
        } else if (s->source == TB_SRC_GRAPH_DEF) {
            put_bytes(&what, 4, it->pb, it->pb_len);
        } else if (s->source == TB_SRC_META_GRAPH_DEF) {
            put_bytes(&what, 9, it->pb, it->pb_len);
        } else if (s->source == TB_SRC_RUN_METADATA) {
            struct tb_buf trm;
            tb_buf_init(&trm, 0);
            put_bytes(&trm, 1, s->tag, strlen(s->tag));
            put_bytes(&trm, 2, it->pb, it->pb_len);
            put_bytes(&what, 8, trm.data, trm.len);
            tb_buf_done(&trm);
        } else {
            struct tb_buf sum;
            tb_buf_init(&sum, 0);
            put_bytes(&sum, 1, it->pb, it->pb_len);
            put_bytes(&what, 5, sum.data, sum.len);
            tb_buf_done(&sum);
        }
        emit(out, isfinite(wall) ? wall : 0, it->step, &what);
    }
    tb_buf_done(&what);
    /* an answer past --answer_bytes is turned into a 413 by svc_app_handle's one check */
    c->res->status = 200;
    c->res->content_type = "application/octet-stream";
    svc_res_header(c->res, "Content-Disposition",
                   "attachment; filename=\"events.out.tfevents.tbdev-export\"");
out:
    for (size_t i = 0; i < x.n; i++)
        free(x.items[i].pb);
    free(x.items);
    svc_series_list_free(all, n_all);
}
