/* SPDX-License-Identifier: MIT */
/* POST /api/v1/experiments/{id}/events: raw records in, one transaction, exactly once. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"

#include "app.h"
#include "auth.h"
#include "json.h"
#include "log.h"
#include "plugin_check.h"
#include "tfrecord.h"
#include "wirescan.h"

/* A request costs about what it stores, whatever the encoding: see ingest.h. */

#define PROBLEMS_PER_GROUP SVC_INGEST_PROBLEMS_PER_GROUP
#define DROPS_PER_GROUP SVC_INGEST_DROPS_PER_GROUP

/* Fails the request: how to answer it, for the caller. Returns -1. */
static int fail(struct svc_ingest *bb, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct svc_ingest *bb, int status, const char *code, const char *fmt, ...)
{
    bb->status = status;
    bb->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bb->message, sizeof(bb->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* The cache of first metadata for a run, primed from the store for tags whose values arrive
 * without metadata (TensorFlow writes it on a tag's first value only, maybe in an earlier
 * request). */
static struct tb_meta_cache *meta_for(struct svc_ingest *bb, const char *run,
                                      const struct tb_event *ev)
{
    struct tb_meta_cache *mc = tb_map_get(&bb->meta, run);
    if (!mc) {
        mc = calloc(1, sizeof(*mc));
        if (!mc)
            return NULL;
        tb_meta_cache_init(mc);
        if (tb_map_put(&bb->meta, run, mc) < 0) {
            tb_meta_cache_done(mc);
            free(mc);
            return NULL;
        }
    }
    for (size_t i = 0; i < ev->n_values; i++) {
        const struct tb_value *v = &ev->values[i];
        if (!tb_value_takes_meta(v) || tb_meta_cache_get(mc, v->tag))
            continue;
        size_t n = strlen(run) + strlen(v->tag) + 2;
        char *key = malloc(n);
        if (!key)
            return NULL;
        snprintf(key, n, "%s\x1f%s", run, v->tag);
        bool asked = tb_map_get(&bb->looked_up, key) != NULL;
        if (!asked)
            tb_map_put(&bb->looked_up, key, (void *)1);
        free(key);
        if (asked)
            continue;
        struct svc_series_info *si = NULL;
        if (bb->app->ops->series_find(bb->app->store, bb->exp_id, run, v->tag, &si) == 0) {
            if (si->plugin[0] || si->data_class) {
                struct tb_tag_meta m = {
                    si->plugin,       si->plugin_content, si->plugin_content_len,
                    si->display_name, si->description,    si->data_class};
                tb_meta_cache_put(mc, v->tag, &m);
            }
            svc_series_list_free(si, 1);
        }
    }
    return mc;
}

/* Grows an array of the batch, counting it against the request's cap. */
static void *grow(struct svc_ingest *bb, void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    size_t nc = *cap ? 2 * *cap : 64, add = (nc - *cap) * size;
    if (bb->arena.used + bb->extra + add > bb->cap) {
        bb->over = true;
        return NULL;
    }
    void *np = realloc(p, nc * size);
    if (np) {
        bb->extra += add;
        *cap = nc;
    }
    return np;
}

static char *arena_strdup(struct tb_arena *a, const char *s, size_t n)
{
    char *d = tb_arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* Keeps bytes of the record being decoded (in scratch) for the batch. */
static struct tb_bytes keep(struct svc_ingest *bb, struct tb_bytes b)
{
    if (!b.len)
        return (struct tb_bytes){NULL, 0};
    uint8_t *p = tb_arena_alloc(&bb->arena, b.len);
    if (p)
        memcpy(p, b.data, b.len);
    return (struct tb_bytes){p, p ? b.len : 0};
}

static const char *keep_str(struct svc_ingest *bb, const char *s)
{
    return arena_strdup(&bb->arena, s, strlen(s));
}

/* A name as a drop reports it: at most 200 bytes, cut on a character boundary. */
static const char *drop_name(struct svc_ingest *bb, const char *s)
{
    size_t n = strlen(s);
    if (n > 200) {
        n = 200;
        while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return arena_strdup(&bb->arena, s, n);
}

/* Drops a value (or a record) of group g: counted by reason and name, and described (the first
 * PROBLEMS_PER_GROUP of each group). */
static void drop(struct svc_ingest *bb, size_t g, const char *reason, const char *name,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void drop(struct svc_ingest *bb, size_t g, const char *reason, const char *name,
                 const char *fmt, ...)
{
    bb->b.groups[g].dropped++;
    struct svc_ingest_drop *d = bb->drops + g * DROPS_PER_GROUP;
    size_t k = 0, n = bb->n_drops[g];
    while (k < n && (strcmp(d[k].reason, reason) || strncmp(d[k].name, name, 200)))
        k++;
    if (k == n && n == DROPS_PER_GROUP) { /* lump the rest together */
        k = n - 1;
        d[k].name = "";
    } else if (k == n) {
        const char *nm = drop_name(bb, name);
        if (nm) {
            d[k] = (struct svc_ingest_drop){reason, nm, 0};
            bb->n_drops[g]++;
        }
    }
    if (k < bb->n_drops[g])
        d[k].values++;
    if (bb->n_problems[g] >= PROBLEMS_PER_GROUP)
        return;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *s = arena_strdup(&bb->arena, msg, strlen(msg));
    if (s)
        bb->problems[g * PROBLEMS_PER_GROUP + bb->n_problems[g]++] = s;
}

/* Text a name may be: valid UTF-8 without control characters. */
static bool is_text(const char *s, size_t n)
{
    if (!tb_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* A run name: a relative path as the logdir scan makes it, or ".". Names are data: they are
 * never used as paths, but they must be text. Returns NULL or why not. */
static const char *bad_run(ProtobufCBinaryData s)
{
    if (s.len == 0)
        return "the run name is empty (\".\" is the logdir itself)";
    if (s.len > TB_NAME_MAX)
        return "the run name is longer than the server's limit";
    if (memchr(s.data, 0, s.len) || !is_text((const char *)s.data, s.len))
        return "the run name is not UTF-8 text without control characters";
    return NULL;
}

/* A file name: a basename, no separators, no "." or "..". Returns NULL or why not. */
static const char *bad_file(ProtobufCBinaryData s)
{
    const char *p = (const char *)s.data;
    if (s.len == 0 || s.len > 255 || (s.len == 1 && p[0] == '.') ||
        (s.len == 2 && p[0] == '.' && p[1] == '.') || memchr(p, '/', s.len) ||
        memchr(p, '\\', s.len) || memchr(p, 0, s.len) || !is_text(p, s.len))
        return "the file must be an event file's name (1-255 bytes of UTF-8), without any path";
    return NULL;
}

static bool plugin_allowed(const char *list, const char *plugin)
{
    if (!list || !*list)
        return true;
    size_t n = strlen(plugin);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && !strncmp(p, plugin, n))
            return true;
        p += k;
        if (*p == ',')
            p++;
    }
    return false;
}

static int run_index(struct svc_ingest *bb, const char *name, uint32_t *ret)
{
    uintptr_t v = (uintptr_t)tb_map_get(&bb->runs, name);
    if (v) {
        *ret = (uint32_t)(v - 1);
        return 0;
    }
    const char **r = grow(bb, bb->b.runs, &bb->cap_runs, bb->b.n_runs, sizeof(*r));
    if (!r)
        return -ENOMEM;
    bb->b.runs = r;
    r[bb->b.n_runs] = name;
    *ret = (uint32_t)bb->b.n_runs++;
    return tb_map_put(&bb->runs, name, (void *)(uintptr_t)(*ret + 1));
}

/* The batch's series for (run, tag), made from the first value seen. -EEXIST if the tag was
 * seen with another kind. */
/* The batch's key of (run, tag): the run index in decimal, 0x1f, the tag (this runs for every
 * value: no printf, no malloc for ordinary tags). */
static char *series_key(char *stack, size_t size, uint32_t run, const char *tag, size_t tl)
{
    char digits[12];
    size_t nd = 0;
    do
        digits[nd++] = (char)('0' + run % 10);
    while ((run /= 10));
    char *key = nd + tl + 2 <= size ? stack : malloc(nd + tl + 2);
    if (!key)
        return NULL;
    for (size_t i = 0; i < nd; i++)
        key[i] = digits[nd - 1 - i];
    key[nd] = 0x1f;
    memcpy(key + nd + 1, tag, tl + 1);
    return key;
}

/* Looks up the batch's series for (run, tag): 1 with *ret set, 0 if the batch has none yet,
 * -EEXIST if it has one of another kind, -ENOMEM. */
static int series_find(struct svc_ingest *bb, uint32_t run, const struct tb_value *v, uint32_t *ret)
{
    char stack[256];
    size_t tl = strlen(v->tag);
    char *key = series_key(stack, sizeof(stack), run, v->tag, tl);
    if (!key)
        return -ENOMEM;
    uintptr_t x = (uintptr_t)tb_map_get(&bb->series, key);
    if (key != stack)
        free(key);
    if (!x)
        return 0;
    *ret = (uint32_t)(x - 1);
    return bb->b.series[*ret].kind != v->kind ? -EEXIST : 1;
}

static int series_index(struct svc_ingest *bb, uint32_t run, const struct tb_value *v,
                        uint32_t *ret)
{
    char stack[256];
    size_t tl = strlen(v->tag);
    char *key = series_key(stack, sizeof(stack), run, v->tag, tl);
    if (!key)
        return -ENOMEM;
    int err = 0;
    struct svc_series_def *s = grow(bb, bb->b.series, &bb->cap_series, bb->b.n_series, sizeof(*s));
    if (!s) {
        err = -ENOMEM;
        goto out;
    }
    bb->b.series = s;
    struct svc_series_def *d = &s[bb->b.n_series];
    memset(d, 0, sizeof(*d));
    d->run = run;
    d->tag = keep_str(bb, v->tag);
    d->plugin = keep_str(bb, v->plugin_name);
    d->display_name = keep_str(bb, v->display_name);
    d->description = keep_str(bb, v->description);
    d->plugin_content = keep(bb, v->plugin_content);
    if (!d->tag || !d->plugin || !d->display_name || !d->description ||
        (v->plugin_content.len && !d->plugin_content.data)) {
        err = -ENOMEM;
        goto out;
    }
    d->data_class = v->data_class;
    d->kind = v->kind;
    d->source = v->source;
    d->dtype = v->tensor.dtype;
    *ret = (uint32_t)bb->b.n_series++;
    err = tb_map_put(&bb->series, key, (void *)(uintptr_t)(*ret + 1));
out:
    if (key != stack)
        free(key);
    return err;
}

static struct svc_item *new_item(struct svc_ingest *bb)
{
    struct svc_item *it = grow(bb, bb->b.items, &bb->cap_items, bb->b.n_items, sizeof(*it));
    if (!it)
        return NULL;
    bb->b.items = it;
    it = &it[bb->b.n_items++];
    memset(it, 0, sizeof(*it));
    return it;
}

static const char *shape_text(struct tb_arena *a, const struct tb_tensor *t)
{
    if (t->rank < 0)
        return "?";
    char buf[16 * 22 + 4];
    size_t n = 0;
    buf[n++] = '[';
    for (int i = 0; i < t->rank; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%lld", i ? "," : "",
                              (long long)t->dims[i]);
    buf[n++] = ']';
    return arena_strdup(a, buf, n);
}

/* DT_STRING content as stored: each string as a u32 little-endian length and its bytes. */
static struct tb_bytes strings_data(struct tb_arena *a, const struct tb_tensor *t)
{
    size_t total = 0;
    for (size_t i = 0; i < t->n_strings; i++)
        total += 4 + t->strings[i].len;
    uint8_t *p = total ? tb_arena_alloc(a, total) : NULL;
    if (!p)
        return (struct tb_bytes){NULL, 0};
    size_t o = 0;
    for (size_t i = 0; i < t->n_strings; i++) {
        uint32_t n = (uint32_t)t->strings[i].len;
        memcpy(p + o, &n, 4);
        if (n)
            memcpy(p + o + 4, t->strings[i].data, n);
        o += 4 + n;
    }
    return (struct tb_bytes){p, total};
}

/* The value as stored for export: its message packed again, or the fast path's wire bytes. */
static struct tb_bytes pack_value(struct tb_arena *a, const struct tb_value *v)
{
    const Tensorboard__Summary__Value *pv = v->pb;
    if (!pv) {
        uint8_t *p = v->raw.len ? tb_arena_alloc(a, v->raw.len) : NULL;
        if (p)
            memcpy(p, v->raw.data, v->raw.len);
        return (struct tb_bytes){p, p ? v->raw.len : 0};
    }
    size_t n = protobuf_c_message_get_packed_size(&pv->base);
    uint8_t *p = tb_arena_alloc(a, n ? n : 1);
    if (!p)
        return (struct tb_bytes){NULL, 0};
    protobuf_c_message_pack(&pv->base, p);
    return (struct tb_bytes){p, n};
}

/* The original value with its blob bytes emptied: blobs are stored once, by hash. */
static struct tb_bytes pack_blanked(struct tb_arena *a, const struct tb_value *v)
{
    Tensorboard__Summary__Value *pv = (Tensorboard__Summary__Value *)v->pb;
    if (!pv)
        return pack_value(a, v); /* a numeric tensor: it has no blob bytes */
    if (pv->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE)
        pv->image->encoded_image_string = (ProtobufCBinaryData){0, NULL};
    else if (pv->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_AUDIO)
        pv->audio->encoded_audio_string = (ProtobufCBinaryData){0, NULL};
    else if (pv->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_OBSOLETE_OLD_STYLE_HISTOGRAM)
        pv->obsolete_old_style_histogram = (ProtobufCBinaryData){0, NULL};
    else if (pv->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR &&
             pv->tensor->dtype == TENSORBOARD__DATA_TYPE__DT_STRING) {
        Tensorboard__TensorProto *t = pv->tensor;
        for (size_t i = 0; i < t->n_string_val; i++)
            if (tb_string_is_blob(v->plugin_name, v->tensor.rank, v->tensor.dims[1], i))
                t->string_val[i] = (ProtobufCBinaryData){0, NULL};
    }
    return pack_value(a, v);
}

static const char *blob_meta(struct tb_arena *a, const struct tb_value *v)
{
    struct tb_buf out;
    tb_buf_init(&out, 1 << 20);
    struct tb_json j;
    tb_json_init(&j, &out);
    tb_json_obj_open(&j);
    if (v->width || v->height) {
        tb_json_key(&j, "width");
        tb_json_int(&j, v->width);
        tb_json_key(&j, "height");
        tb_json_int(&j, v->height);
    }
    if (v->labels) {
        tb_json_key(&j, "labels");
        tb_json_arr_open(&j);
        for (size_t i = 0; i < v->n_blobs; i++)
            tb_json_strn(&j, v->labels[i].data, v->labels[i].len);
        tb_json_arr_close(&j);
    }
    if (v->pb && v->pb->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_AUDIO) {
        tb_json_key(&j, "sample_rate");
        tb_json_double(&j, v->pb->audio->sample_rate);
        tb_json_key(&j, "content_type");
        tb_json_str(&j, v->pb->audio->content_type ? v->pb->audio->content_type : "");
    }
    tb_json_obj_close(&j);
    /* NULL (out of memory) fails the request: "{}" would store the blobs without their size,
     * labels or sample rate. */
    const char *s = out.err ? NULL : arena_strdup(a, (const char *)out.data, out.len);
    tb_buf_done(&out);
    return s;
}

/* Adds one decoded value to the batch, copying what it keeps out of the record's scratch.
 * Returns 0, or -ENOMEM (the request fails: 500, or 413 when it is the cap). Values the
 * server does not store are dropped and counted. */
static int add_value(struct svc_ingest *bb, size_t g, uint32_t run, const struct tb_event *ev,
                     const struct tb_value *v, uint64_t offset)
{
    const struct svc_config *cfg = bb->app->cfg;
    if (!plugin_allowed(bb->plugins, v->plugin_name) && v->plugin_name[0]) {
        drop(bb, g, "plugin", v->plugin_name,
             "record at offset %llu: plugin '%.40s' is not accepted by this server",
             (unsigned long long)offset, v->plugin_name);
        return 0;
    }
    uint32_t si;
    int err = series_find(bb, run, v, &si);
    if (err == -ENOMEM)
        return err;
    size_t tl = err ? 0 : strlen(v->tag); /* a tag the batch has is already checked */
    if (!err && (tl > TB_NAME_MAX || !is_text(v->tag, tl))) {
        drop(bb, g, "name", v->tag, "record at offset %llu: tag '%.64s%s' is %s; value dropped",
             (unsigned long long)offset, v->tag, tl > 64 ? "..." : "",
             tl > TB_NAME_MAX ? "over the server's name limit"
                              : "not text without control "
                                "characters");
        return 0;
    }
    /* Plugin data the read side decodes is checked here, once (issue 12: service/plugin_check.h;
     * the read side checks again). */
    char why[200];
    int refused = svc_plugin_check(v, why, sizeof(why));
    if (refused < 0) {
        if (refused != -EINVAL)
            return refused;
        drop(bb, g, "bad_value", v->tag, "record at offset %llu: value '%.64s' dropped: %s",
             (unsigned long long)offset, v->tag, why);
        return 0;
    }
    if (err == 0)
        err = series_index(bb, run, v, &si);
    if (err == -EEXIST) {
        drop(bb, g, "kind", v->tag,
             "record at offset %llu: tag '%.64s' changes kind; value dropped",
             (unsigned long long)offset, v->tag);
        return 0;
    }
    if (err < 0)
        return err;
    struct svc_item *it = new_item(bb);
    if (!it)
        return -ENOMEM;
    it->series = si;
    it->run = run;
    it->step = ev->step;
    it->wall_time = ev->wall_time;
    switch (v->kind) {
    case TB_KIND_SCALAR:
        it->type = SVC_ITEM_SCALAR;
        it->value = v->scalar;
        break;
    case TB_KIND_TENSOR: {
        bool str = v->tensor.dtype == TENSORBOARD__DATA_TYPE__DT_STRING;
        size_t len = v->tensor.content.len;
        if (str)
            for (size_t k = 0; k < v->tensor.n_strings; k++)
                len += 4 + v->tensor.strings[k].len;
        if (len > (size_t)cfg->blob_bytes) {
            bb->b.n_items--;
            drop(bb, g, "too_large", v->tag,
                 "record at offset %llu: tensor '%.64s' is %zu bytes, over the %lld-byte "
                 "limit; skipped",
                 (unsigned long long)offset, v->tag, len, cfg->blob_bytes);
            return 0;
        }
        struct svc_item_data *x = tb_arena_alloc(&bb->arena, sizeof(*x));
        if (!x)
            return -ENOMEM;
        memset(x, 0, sizeof(*x));
        it->type = SVC_ITEM_TENSOR;
        it->x = x;
        x->dtype = v->tensor.dtype;
        x->shape = shape_text(&bb->arena, &v->tensor);
        x->data = str ? strings_data(&bb->arena, &v->tensor) : keep(bb, v->tensor.content);
        x->value_pb = pack_value(&bb->arena, v);
        break;
    }
    case TB_KIND_BLOB_SEQUENCE: {
        for (size_t k = 0; k < v->n_blobs; k++)
            if (v->blobs[k].len > (size_t)cfg->blob_bytes) {
                bb->b.n_items--;
                drop(bb, g, "too_large", v->tag,
                     "record at offset %llu: a blob of '%.64s' is %zu bytes, over the "
                     "%lld-byte limit; skipped",
                     (unsigned long long)offset, v->tag, v->blobs[k].len, cfg->blob_bytes);
                return 0;
            }
        struct svc_item_data *x = tb_arena_alloc(&bb->arena, sizeof(*x));
        if (!x)
            return -ENOMEM;
        memset(x, 0, sizeof(*x));
        it->type = SVC_ITEM_BLOBS;
        it->x = x;
        x->n_blobs = v->n_blobs;
        struct tb_bytes *blobs =
            v->n_blobs ? tb_arena_alloc(&bb->arena, v->n_blobs * sizeof(*blobs)) : NULL;
        x->shas = v->n_blobs ? tb_arena_alloc(&bb->arena, 32 * v->n_blobs) : NULL;
        if (v->n_blobs && (!blobs || !x->shas))
            return -ENOMEM;
        for (size_t k = 0; k < v->n_blobs; k++) {
            blobs[k] = keep(bb, v->blobs[k]);
            svc_sha256(v->blobs[k].data ? (const void *)v->blobs[k].data : "", v->blobs[k].len,
                       x->shas[k]);
        }
        x->blobs = blobs;
        x->meta = blob_meta(&bb->arena, v);
        x->value_pb = pack_blanked(&bb->arena, v);
        if (!x->meta)
            return -ENOMEM;
        break;
    }
    }
    /* A shape, strings or packed value the arena could not hold: fail the request rather than
     * store the item without it (the resend would be a replay, and the part lost). */
    if (bb->arena.over)
        return -ENOMEM;
    bb->b.groups[g].values++;
    return 0;
}

/* Decodes one group's records into the batch. Returns 0, or fails the request (400 for records
 * that are not whole, 413 past the request's memory cap, 500) and returns -1. */
static int add_group(struct svc_ingest *bb, size_t g, const Tbdev__V1__RecordGroup *rg,
                     uint32_t run, const char *run_name, const char *file_name)
{
    const struct svc_config *cfg = bb->app->cfg;
    struct tb_tfrecord_reader *r = NULL;
    int err = tb_tfrecord_open_mem(rg->records.data, rg->records.len, rg->offset,
                                   (size_t)cfg->record_bytes, &r);
    if (err < 0)
        return fail(bb, 500, "internal", "out of memory");
    struct svc_group *grp = &bb->b.groups[g];
    grp->first_item = bb->b.n_items;
    for (;;) {
        struct tb_record rec;
        struct tb_problem p;
        int n = tb_tfrecord_next(r, &rec, &p);
        if (n == 0)
            break;
        if (n < 0) {
            if (p.kind == TB_PROBLEM_TOO_LARGE)
                fail(bb, 413, "too_large",
                     "run '%.100s' file '%.100s': a record at offset %llu is over the "
                     "%lld-byte record limit; skip it and send the rest",
                     run_name, file_name, (unsigned long long)p.offset, cfg->record_bytes);
            else
                fail(bb, 400, "bad_record",
                     "run '%.100s' file '%.100s': %s. Nothing was stored; send the group "
                     "again",
                     run_name, file_name, p.message);
            tb_tfrecord_close(r);
            return -1;
        }
        tb_arena_reset(&bb->scratch);
        struct tb_event ev;
        err = tb_event_decode(rec.data, rec.len, &bb->scratch, &ev, &p);
        /* A decode that ran out of memory drops values: never store what is left of it. */
        if (err < 0 || bb->scratch.over) {
            if (bb->scratch.no_memory)
                goto nomem;
            if (bb->scratch.over)
                drop(bb, g, "bad_record", "",
                     "record at offset %llu (%zu bytes) decodes to more than the server's "
                     "%zu MiB for one record; skipped",
                     (unsigned long long)rec.offset, rec.len, bb->scratch.cap >> 20);
            else
                drop(bb, g, "bad_record", "", "record at offset %llu: %s",
                     (unsigned long long)rec.offset, p.message);
            continue;
        }
        struct tb_meta_cache *mc = meta_for(bb, run_name, &ev);
        if (!mc || tb_meta_cache_apply(mc, &ev, &bb->scratch, &p) < 0)
            goto nomem;
        if (ev.n_bad_values)
            drop(bb, g, "bad_value", "", "record at offset %llu: %s",
                 (unsigned long long)rec.offset, p.message);
        if (ev.kind == TB_EVENT_SESSION_LOG &&
            ev.session_status == TENSORBOARD__SESSION_LOG__SESSION_STATUS__START) {
            struct svc_item *it = new_item(bb);
            if (!it)
                goto nomem;
            it->type = SVC_ITEM_RESTART;
            it->run = run;
            it->step = ev.step;
            it->wall_time = ev.wall_time;
        }
        for (size_t i = 0; i < ev.n_values; i++)
            if (add_value(bb, g, run, &ev, &ev.values[i], rec.offset) < 0)
                goto nomem;
        if (bb->arena.used + bb->extra > bb->cap)
            goto too_large;
    }
    enum tb_problem_kind tail = tb_tfrecord_tail(r, NULL);
    uint64_t end = tb_tfrecord_offset(r);
    tb_tfrecord_close(r);
    if (tail == TB_PROBLEM_TOO_LARGE) {
        return fail(bb, 413, "too_large",
                    "run '%.100s' file '%.100s': the record at offset %llu claims more than the "
                    "%lld-byte record limit; skip it and send the rest",
                    run_name, file_name, (unsigned long long)end, cfg->record_bytes);
    }
    if (tail == TB_PROBLEM_LENGTH_CRC || tail == TB_PROBLEM_ZERO_FILLED) {
        return fail(bb, 400, "bad_record",
                    "run '%.100s' file '%.100s': bytes at offset %llu are not a valid record; "
                    "send only records that pass their CRCs",
                    run_name, file_name, (unsigned long long)end);
    }
    if (tail != TB_PROBLEM_NONE) {
        return fail(bb, 400, "bad_record",
                    "run '%.100s' file '%.100s': the group ends inside a record at offset %llu; "
                    "send whole records only",
                    run_name, file_name, (unsigned long long)end);
    }
    grp->n_items = bb->b.n_items - grp->first_item;
    return 0;
nomem:
    if (bb->over || (bb->arena.over && !bb->arena.no_memory))
        goto too_large; /* the request's cap, not malloc */
    tb_tfrecord_close(r);
    return fail(bb, 500, "internal", "out of memory");
too_large:
    tb_tfrecord_close(r);
    return fail(bb, 413, "too_large",
                "the request decodes to more than the %zu MiB the server allows for a %zu-byte "
                "body; send fewer records per request",
                bb->cap >> 20, bb->bytes);
}

/* The answer's drops for group g. */
static Tbdev__V1__Drop **pb_drops(struct svc_ingest *bb, size_t g, Tbdev__V1__Drop *d)
{
    Tbdev__V1__Drop **p = calloc(DROPS_PER_GROUP, sizeof(*p));
    for (size_t k = 0; p && k < bb->n_drops[g]; k++) {
        const struct svc_ingest_drop *x = &bb->drops[g * DROPS_PER_GROUP + k];
        tbdev__v1__drop__init(&d[k]);
        d[k].reason = (char *)x->reason;
        d[k].name = (char *)x->name;
        d[k].values = x->values;
        p[k] = &d[k];
    }
    return p;
}

static void answer(struct svc_call *c, struct svc_ingest *bb)
{
    struct svc_batch *b = &bb->b;
    if (c->pb) {
        size_t ng = b->n_groups ? b->n_groups : 1;
        Tbdev__V1__GroupResult *res = calloc(ng, sizeof(*res));
        Tbdev__V1__GroupResult **ptrs = calloc(ng, sizeof(*ptrs));
        Tbdev__V1__Drop *drops = calloc(ng * DROPS_PER_GROUP, sizeof(*drops));
        Tbdev__V1__Drop ***dptrs = calloc(ng, sizeof(*dptrs));
        bool ok = res && ptrs && drops && dptrs;
        for (size_t g = 0; ok && g < b->n_groups; g++) {
            const struct svc_group *gr = &b->groups[g];
            tbdev__v1__group_result__init(&res[g]);
            res[g].run = (char *)b->runs[gr->run];
            res[g].file = (char *)gr->file;
            res[g].status = gr->refused  ? TBDEV__V1__GROUP_STATUS__REFUSED
                            : gr->replay ? TBDEV__V1__GROUP_STATUS__REPLAY
                                         : TBDEV__V1__GROUP_STATUS__COMMITTED;
            res[g].refused = (char *)(gr->refused ? gr->refused : "");
            res[g].cursor = gr->cursor;
            /* A replay reports what its first, unacknowledged commit stored, so that a client
             * whose answer was lost still counts each value once. */
            res[g].values = gr->refused ? 0 : gr->values;
            res[g].dropped = gr->dropped;
            res[g].n_problems = bb->n_problems[g];
            res[g].problems = bb->problems + g * PROBLEMS_PER_GROUP;
            dptrs[g] = pb_drops(bb, g, drops + g * DROPS_PER_GROUP);
            ok = dptrs[g] != NULL;
            res[g].n_drops = bb->n_drops[g];
            res[g].drops = dptrs[g];
            ptrs[g] = &res[g];
        }
        if (ok) {
            Tbdev__V1__WriteEventsResponse r = TBDEV__V1__WRITE_EVENTS_RESPONSE__INIT;
            r.n_results = b->n_groups;
            r.results = ptrs;
            svc_pb_answer(c, 200, &r);
        } else {
            svc_error(c, 500, "internal", "out of memory");
        }
        for (size_t g = 0; dptrs && g < b->n_groups; g++)
            free(dptrs[g]);
        free(dptrs);
        free(drops);
        free(res);
        free(ptrs);
        return;
    }
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "results");
    tb_json_arr_open(&j);
    for (size_t g = 0; g < b->n_groups; g++) {
        const struct svc_group *gr = &b->groups[g];
        tb_json_obj_open(&j);
        tb_json_key(&j, "run");
        tb_json_str(&j, b->runs[gr->run]);
        tb_json_key(&j, "file");
        tb_json_str(&j, gr->file);
        tb_json_key(&j, "status");
        tb_json_str(&j, gr->refused ? "refused" : gr->replay ? "replay" : "committed");
        if (gr->refused) {
            tb_json_key(&j, "refused");
            tb_json_str(&j, gr->refused);
        }
        tb_json_key(&j, "cursor");
        tb_json_uint(&j, gr->cursor);
        tb_json_key(&j, "values");
        tb_json_uint(&j, gr->refused ? 0 : gr->values);
        tb_json_key(&j, "dropped");
        tb_json_uint(&j, gr->dropped);
        tb_json_key(&j, "problems");
        tb_json_arr_open(&j);
        for (size_t k = 0; k < bb->n_problems[g]; k++)
            tb_json_str(&j, bb->problems[g * PROBLEMS_PER_GROUP + k]);
        tb_json_arr_close(&j);
        tb_json_key(&j, "drops");
        tb_json_arr_open(&j);
        for (size_t k = 0; k < bb->n_drops[g]; k++) {
            const struct svc_ingest_drop *x = &bb->drops[g * DROPS_PER_GROUP + k];
            tb_json_obj_open(&j);
            tb_json_key(&j, "reason");
            tb_json_str(&j, x->reason);
            tb_json_key(&j, "name");
            tb_json_str(&j, x->name);
            tb_json_key(&j, "values");
            tb_json_uint(&j, x->values);
            tb_json_obj_close(&j);
        }
        tb_json_arr_close(&j);
        tb_json_obj_close(&j);
    }
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
}

/* A group refused before decoding (a bad run or file name): reported, the others go on. */
static void refuse(struct svc_ingest *bb, size_t g, const char *why, const char *what,
                   ProtobufCBinaryData name)
{
    struct svc_group *gr = &bb->b.groups[g];
    gr->refused = "name";
    bb->b.groups[g].dropped++;
    char msg[300];
    size_t n = name.len > 64 ? 64 : name.len;
    char shown[65];
    for (size_t i = 0; i < n; i++) /* a name that may not be text, shown safely */
        shown[i] = name.data[i] >= 0x20 && name.data[i] < 0x7f ? (char)name.data[i] : '?';
    shown[n] = 0;
    snprintf(msg, sizeof(msg), "%s: %s '%s%s' (%zu bytes); nothing of it was stored", why, what,
             shown, name.len > 64 ? "..." : "", name.len);
    char *s = arena_strdup(&bb->arena, msg, strlen(msg));
    if (s && bb->n_problems[g] < PROBLEMS_PER_GROUP)
        bb->problems[g * PROBLEMS_PER_GROUP + bb->n_problems[g]++] = s;
}

/* The memory a request of `bytes` bytes may take while it is decoded (tblimits.h). */
static size_t decode_cap(const struct svc_config *cfg, size_t bytes)
{
    return bytes * TB_INGEST_EXPANSION + (size_t)cfg->record_bytes * 2 + (4u << 20);
}

void svc_ingest_init(struct svc_ingest *in, struct svc_app *app, const char *exp_id, size_t bytes)
{
    const struct svc_config *cfg = app->cfg;
    memset(in, 0, sizeof(*in));
    in->app = app;
    in->exp_id = exp_id;
    in->bytes = bytes;
    in->cap = decode_cap(cfg, bytes);
    in->plugins = cfg->allowed_plugins;
    tb_arena_init(&in->arena, in->cap);
    tb_arena_init(&in->scratch,
                  (size_t)cfg->record_bytes * TB_INGEST_RECORD_EXPANSION + (1u << 20));
    tb_map_init(&in->runs);
    tb_map_init(&in->series);
    tb_map_init(&in->meta);
    tb_map_init(&in->looked_up);
}

int svc_ingest_decode(struct svc_ingest *in, Tbdev__V1__RecordGroup *const *groups, size_t ng)
{
    in->b.groups = calloc(ng ? ng : 1, sizeof(*in->b.groups));
    in->problems = calloc((ng ? ng : 1) * PROBLEMS_PER_GROUP, sizeof(*in->problems));
    in->n_problems = calloc(ng ? ng : 1, sizeof(*in->n_problems));
    in->drops = calloc((ng ? ng : 1) * DROPS_PER_GROUP, sizeof(*in->drops));
    in->n_drops = calloc(ng ? ng : 1, sizeof(*in->n_drops));
    if (!in->b.groups || !in->problems || !in->n_problems || !in->drops || !in->n_drops)
        return fail(in, 500, "internal", "out of memory");
    in->b.n_groups = ng;
    /* About one point per 40 bytes of records (a scalar event): reserved at once, so that the
     * items array does not grow by copying itself a dozen times. */
    size_t guess = in->bytes / 40 + 16;
    if (guess * sizeof(*in->b.items) < in->cap / 4 &&
        (in->b.items = malloc(guess * sizeof(*in->b.items)))) {
        in->cap_items = guess;
        in->extra += guess * sizeof(*in->b.items);
    }
    for (size_t g = 0; g < ng; g++) {
        const Tbdev__V1__RecordGroup *rg = groups[g];
        uint64_t end = rg->offset + rg->records.len;
        if (end < rg->offset || (rg->end_offset && rg->end_offset < end))
            return fail(in, 400, "invalid_argument",
                        "group %zu: end_offset is before the end of its records", g);
        const char *why_run = bad_run(rg->run), *why_file = bad_file(rg->file);
        /* A refused group still needs a run and a file to be named in the answer. */
        char *run = arena_strdup(&in->arena, why_run ? "?" : (const char *)rg->run.data,
                                 why_run ? 1 : rg->run.len);
        char *file = arena_strdup(&in->arena, why_file ? "?" : (const char *)rg->file.data,
                                  why_file ? 1 : rg->file.len);
        uint32_t ri;
        if (!run || !file || run_index(in, run, &ri) < 0)
            return fail(in, 500, "internal", "out of memory");
        struct svc_group *gr = &in->b.groups[g];
        gr->run = ri;
        gr->file = file;
        gr->offset = rg->offset;
        gr->end_offset = rg->end_offset ? rg->end_offset : end;
        gr->bytes = rg->records.len;
        gr->fingerprint_len = rg->fingerprint_len;
        gr->fingerprint = rg->fingerprint;
        gr->first_item = in->b.n_items;
        if (why_run || why_file) {
            refuse(in, g, why_run ? why_run : why_file, why_run ? "run" : "file",
                   why_run ? rg->run : rg->file);
            continue;
        }
        if (add_group(in, g, rg, ri, run, file) < 0)
            return -1;
    }
    return 0;
}

uint64_t svc_ingest_values(const struct svc_ingest *in)
{
    uint64_t values = 0;
    for (size_t g = 0; g < in->b.n_groups; g++)
        values += in->b.groups[g].values;
    return values;
}

int svc_ingest_write(struct svc_ingest *in, int64_t owner_id, uint64_t quota)
{
    const struct svc_config *cfg = in->app->cfg;
    in->b.max_runs = (uint64_t)cfg->runs_per_experiment;
    in->b.max_tags = (uint64_t)cfg->tags_per_run;
    int err = in->app->ops->write_batch(in->app->store, in->exp_id, owner_id, quota, &in->b);
    if (err == -EMLINK) {
        fail(in, 413, "too_many",
             "%s; nothing was stored. Split the logdir into several experiments, or ask the "
             "admin to raise --max_runs / --max_tags",
             in->b.limit_msg);
        return err;
    }
    if (err == -ESTALE) {
        const struct svc_group *gr = &in->b.groups[in->b.gap_group];
        fail(in, 409, "gap",
             "run '%.100s' file '%.100s': the group starts at offset %llu but the server has "
             "the file up to %llu; nothing was stored. Ask for the cursors and send from there",
             in->b.runs[gr->run], gr->file, (unsigned long long)gr->offset,
             (unsigned long long)gr->cursor);
        return err;
    }
    if (err < 0)
        return err;
    for (size_t g = 0; g < in->b.n_groups; g++) {
        struct svc_group *gr = &in->b.groups[g];
        if (gr->refused && !strcmp(gr->refused, "file_changed") &&
            in->n_problems[g] < PROBLEMS_PER_GROUP) {
            char msg[300];
            snprintf(msg, sizeof(msg),
                     "a different file named '%.100s' is already stored for this run (its first "
                     "bytes differ); nothing of this one was stored: send it under another "
                     "name",
                     gr->file);
            char *m = arena_strdup(&in->arena, msg, strlen(msg));
            if (m)
                in->problems[g * PROBLEMS_PER_GROUP + in->n_problems[g]++] = m;
        }
    }
    return 0;
}

void svc_ingest_done(struct svc_ingest *in)
{
    tb_map_done(&in->runs);
    tb_map_done(&in->series);
    for (size_t i = 0; i < in->meta.cap; i++)
        if (in->meta.slots[i].key) {
            tb_meta_cache_done(in->meta.slots[i].value);
            free(in->meta.slots[i].value);
        }
    tb_map_done(&in->meta);
    tb_map_done(&in->looked_up);
    free(in->b.groups);
    free(in->b.runs);
    free(in->b.series);
    free(in->b.items);
    free(in->problems);
    free(in->n_problems);
    free(in->drops);
    free(in->n_drops);
    tb_arena_done(&in->arena);
    tb_arena_done(&in->scratch);
    memset(in, 0, sizeof(*in));
}

void svc_h_write_events(struct svc_call *c)
{
    struct svc_experiment e;
    if (!svc_load_experiment(c, true, &e))
        return;
    const struct svc_config *cfg = c->app->cfg;
    struct svc_ingest in;
    svc_ingest_init(&in, c->app, e.id, c->req->body_len);
    Tbdev__V1__WriteEventsRequest *r = (Tbdev__V1__WriteEventsRequest *)tb_wirescan_unpack(
        &tbdev__v1__write_events_request__descriptor, &in.arena.pb, c->req->body_len, c->req->body,
        NULL); /* nesting bounded before protobuf-c recurses (shared/wirescan.h) */
    if (!r) {
        svc_error(c, 400, "invalid_argument",
                  "the body is not a WriteEventsRequest protobuf; is this client compatible "
                  "with the server? (see GET /api/v1/server-info)");
        goto out;
    }
    if (svc_ingest_decode(&in, r->groups, r->n_groups) < 0) {
        svc_error(c, in.status, in.code, "%s", in.message);
        goto out;
    }
    if (!svc_rate_take(c, svc_ingest_values(&in)))
        goto out;
    const struct svc_user *u = &c->user;
    uint64_t quota = u->quota_bytes ? u->quota_bytes : (uint64_t)cfg->quota_bytes;
    int err = svc_ingest_write(&in, e.owner_id, quota);
    if (err == -ESTALE && c->pb) {
        const struct svc_group *gr = &in.b.groups[in.b.gap_group];
        Tbdev__V1__Error pe = TBDEV__V1__ERROR__INIT;
        pe.code = "gap";
        pe.message = in.message;
        pe.cursor = gr->cursor;
        pe.run = (char *)in.b.runs[gr->run];
        pe.file = (char *)gr->file;
        svc_pb_answer(c, 409, &pe);
    } else if (err == -ESTALE || err == -EMLINK) {
        svc_error(c, in.status, in.code, "%s", in.message);
    } else if (err < 0) {
        svc_store_error(c, err, "storing the events");
    } else {
        answer(c, &in);
    }
out:
    if (r)
        tbdev__v1__write_events_request__free_unpacked(r, &in.arena.pb);
    svc_ingest_done(&in);
}
