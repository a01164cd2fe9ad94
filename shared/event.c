/* SPDX-License-Identifier: MIT */
/* Event decoding and normalisation into scalars, tensors and blob sequences. */
#include "event.h"

#include "json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wirescan.h"

typedef Tensorboard__Summary__Value pb_value;
typedef Tensorboard__TensorProto pb_tensor;

#define DT(x) TENSORBOARD__DATA_TYPE__DT_##x
#define DC(x) TENSORBOARD__DATA_CLASS__DATA_CLASS_##x

const char *tb_kind_name(enum tb_kind kind)
{
    switch (kind) {
    case TB_KIND_SCALAR:
        return "scalar";
    case TB_KIND_TENSOR:
        return "tensor";
    case TB_KIND_BLOB_SEQUENCE:
        return "blob_sequence";
    }
    return "unknown";
}

const char *tb_dtype_name(int dtype)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&tensorboard__data_type__descriptor, dtype);
    return v ? v->name : "DT_UNKNOWN";
}

size_t tb_dtype_size(int dtype)
{
    switch (dtype) {
    case DT(UINT8):
    case DT(INT8):
    case DT(BOOL):
    case DT(QINT8):
    case DT(QUINT8):
    case DT(FLOAT8_E5M2):
    case DT(FLOAT8_E4M3FN):
        return 1;
    case DT(INT16):
    case DT(UINT16):
    case DT(QINT16):
    case DT(QUINT16):
    case DT(HALF):
    case DT(BFLOAT16):
        return 2;
    case DT(FLOAT):
    case DT(INT32):
    case DT(QINT32):
    case DT(UINT32):
        return 4;
    case DT(DOUBLE):
    case DT(INT64):
    case DT(UINT64):
    case DT(COMPLEX64):
        return 8;
    case DT(COMPLEX128):
        return 16;
    default:
        return 0;
    }
}

struct ctx {
    struct tb_arena *arena;
    struct tb_event *ev;
    struct tb_problem *problem;
};

/* Drops the value being built: counted, and described if it is the first. */
static void bad_value(struct ctx *c, const char *tag, const char *why)
{
    if (c->ev->n_bad_values++ == 0)
        tb_problem_set(c->problem, TB_PROBLEM_BAD_VALUE, 0, 0, EINVAL,
                       "summary value '%.64s%s' at step %lld dropped: %s", tag,
                       strlen(tag) > 64 ? "..." : "", (long long)c->ev->step, why);
}

static int shape_of(const pb_tensor *t, struct tb_tensor *out)
{
    const Tensorboard__TensorShapeProto *s = t->tensor_shape;
    out->rank = 0;
    out->n_elements = 1;
    if (!s)
        return 0;
    if (s->unknown_rank || s->n_dim > TB_TENSOR_RANK_MAX) {
        out->rank = -1;
        return 0;
    }
    out->rank = (int)s->n_dim;
    for (size_t i = 0; i < s->n_dim; i++) {
        int64_t d = s->dim[i]->size;
        if (d < 0) { /* -1 is "unknown" in TensorFlow's shapes */
            out->rank = -1;
            return 0;
        }
        out->dims[i] = d;
        if (d && out->n_elements > UINT64_MAX / (uint64_t)d)
            return -E2BIG;
        out->n_elements *= (uint64_t)d;
    }
    return 0;
}

/* How many elements the typed repeated field for this dtype holds, and its element width. */
static size_t typed_count(const pb_tensor *t, int dtype)
{
    switch (dtype) {
    case DT(FLOAT):
        return t->n_float_val;
    case DT(DOUBLE):
        return t->n_double_val;
    case DT(INT32):
    case DT(INT16):
    case DT(INT8):
    case DT(UINT8):
    case DT(QINT8):
    case DT(QUINT8):
    case DT(QINT32):
    case DT(QINT16):
    case DT(QUINT16):
    case DT(UINT16):
        return t->n_int_val;
    case DT(INT64):
        return t->n_int64_val;
    case DT(BOOL):
        return t->n_bool_val;
    case DT(HALF):
    case DT(BFLOAT16):
        return t->n_half_val;
    case DT(COMPLEX64):
        return t->n_scomplex_val / 2;
    case DT(COMPLEX128):
        return t->n_dcomplex_val / 2;
    case DT(UINT32):
        return t->n_uint32_val;
    case DT(UINT64):
        return t->n_uint64_val;
    default:
        return 0;
    }
}

/* Writes element i of the typed field into out (tb_dtype_size bytes, little-endian). */
static void typed_put(const pb_tensor *t, int dtype, size_t i, uint8_t *out)
{
    switch (dtype) {
    case DT(FLOAT):
        memcpy(out, &t->float_val[i], 4);
        break;
    case DT(DOUBLE):
        memcpy(out, &t->double_val[i], 8);
        break;
    case DT(INT32):
    case DT(QINT32):
        memcpy(out, &t->int_val[i], 4);
        break;
    case DT(INT16):
    case DT(UINT16):
    case DT(QINT16):
    case DT(QUINT16): {
        uint16_t v = (uint16_t)t->int_val[i];
        memcpy(out, &v, 2);
        break;
    }
    case DT(INT8):
    case DT(UINT8):
    case DT(QINT8):
    case DT(QUINT8):
        out[0] = (uint8_t)t->int_val[i];
        break;
    case DT(INT64):
        memcpy(out, &t->int64_val[i], 8);
        break;
    case DT(BOOL):
        out[0] = t->bool_val[i] ? 1 : 0;
        break;
    case DT(HALF):
    case DT(BFLOAT16): {
        uint16_t v = (uint16_t)t->half_val[i];
        memcpy(out, &v, 2);
        break;
    }
    case DT(COMPLEX64):
        memcpy(out, &t->scomplex_val[2 * i], 8);
        break;
    case DT(COMPLEX128):
        memcpy(out, &t->dcomplex_val[2 * i], 16);
        break;
    case DT(UINT32):
        memcpy(out, &t->uint32_val[i], 4);
        break;
    case DT(UINT64):
        memcpy(out, &t->uint64_val[i], 8);
        break;
    default:
        break;
    }
}

/* Why tensor_of refuses a fill-to-shape past its limits (in the arena, else a fixed text). */
static const char *fill_refused(struct ctx *c, uint64_t elements, size_t have, size_t wire,
                                size_t bytes)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg),
                     "filling its shape of %llu elements from %zu values would expand its %zu "
                     "bytes to %zu, past the limits (%d times the tensor's bytes, and %u bytes)",
                     (unsigned long long)elements, have, wire, bytes, TB_TENSOR_FILL_RATIO,
                     TB_TENSOR_FILL_MAX);
    char *s = n > 0 ? tb_arena_alloc(c->arena, (size_t)n + 1) : NULL;
    if (!s)
        return "filling its shape would expand it past the fill limits";
    memcpy(s, msg, (size_t)n + 1);
    return s;
}

/* Fills out from a TensorProto: shape, and either packed content or the string list.
 * Returns NULL on success, else why the tensor cannot be used. */
static const char *tensor_of(struct ctx *c, const pb_tensor *t, struct tb_tensor *out)
{
    memset(out, 0, sizeof(*out));
    out->dtype = (int)t->dtype;
    if (shape_of(t, out) < 0)
        return "its shape has more elements than can be counted";
    if (t->dtype == DT(STRING)) {
        size_t n = t->n_string_val;
        if (out->rank >= 0 && n != out->n_elements)
            return "its string count does not match its shape";
        out->n_elements = n;
        if (n) {
            struct tb_bytes *s = tb_arena_alloc(c->arena, n * sizeof(*s));
            if (!s)
                return "it needs more memory than the decoding cap";
            for (size_t i = 0; i < n; i++)
                s[i] = (struct tb_bytes){t->string_val[i].data, t->string_val[i].len};
            out->strings = s;
        }
        out->n_strings = n;
        return NULL;
    }
    size_t es = tb_dtype_size((int)t->dtype);
    if (!es) {
        /* Resources, variants and unknown dtypes: kept whole through `pb`, no content. */
        out->n_elements = 0;
        return NULL;
    }
    if (t->tensor_content.len) {
        if (t->tensor_content.len % es)
            return "its tensor_content is not a whole number of elements";
        uint64_t have = t->tensor_content.len / es;
        if (out->rank >= 0 && have != out->n_elements)
            return "its tensor_content does not match its shape";
        out->n_elements = have;
        out->content = (struct tb_bytes){t->tensor_content.data, t->tensor_content.len};
        return NULL;
    }
    size_t have = typed_count(t, (int)t->dtype);
    if (out->rank < 0)
        out->n_elements = have;
    if (out->n_elements == 0)
        return NULL;
    if (have == 0)
        return "its shape has elements but it holds no values";
    if (have > out->n_elements)
        return "it holds more values than its shape";
    if (out->n_elements > TB_RECORD_MAX / es)
        return "its shape expands past the record cap";
    /* TensorFlow repeats the last value to fill the shape (tensor_util.MakeNdarray). A few
     * bytes may ask for megabytes that way: the expansion is held to a ratio of the tensor's
     * own bytes and to an absolute cap, as what is stored is what every reader gets. */
    size_t bytes = (size_t)out->n_elements * es;
    if (have < out->n_elements) {
        size_t wire = protobuf_c_message_get_packed_size(&t->base);
        if (bytes > TB_TENSOR_FILL_MAX || bytes / TB_TENSOR_FILL_RATIO > wire)
            return fill_refused(c, out->n_elements, have, wire, bytes);
    }
    uint8_t *buf = tb_arena_alloc(c->arena, bytes);
    if (!buf)
        return "it needs more memory than the decoding cap";
    for (size_t i = 0; i < out->n_elements; i++)
        typed_put(t, (int)t->dtype, i < have ? i : have - 1, buf + i * es);
    out->content = (struct tb_bytes){buf, bytes};
    return NULL;
}

bool tb_dtype_to_double(int dtype, const uint8_t *p, double *ret)
{
    switch (dtype) {
    case DT(FLOAT): {
        float f;
        memcpy(&f, p, 4);
        *ret = f;
        return true;
    }
    case DT(DOUBLE):
        memcpy(ret, p, 8);
        return true;
    case DT(INT32): {
        int32_t v;
        memcpy(&v, p, 4);
        *ret = v;
        return true;
    }
    case DT(INT64): {
        int64_t v;
        memcpy(&v, p, 8);
        *ret = (double)v;
        return true;
    }
    case DT(UINT32): {
        uint32_t v;
        memcpy(&v, p, 4);
        *ret = v;
        return true;
    }
    case DT(UINT64): {
        uint64_t v;
        memcpy(&v, p, 8);
        *ret = (double)v;
        return true;
    }
    case DT(INT16): {
        int16_t v;
        memcpy(&v, p, 2);
        *ret = v;
        return true;
    }
    case DT(UINT16): {
        uint16_t v;
        memcpy(&v, p, 2);
        *ret = v;
        return true;
    }
    case DT(INT8):
        *ret = (int8_t)p[0];
        return true;
    case DT(UINT8):
    case DT(BOOL):
        *ret = p[0];
        return true;
    case DT(HALF): {
        uint16_t h;
        memcpy(&h, p, 2);
        int e = (h >> 10) & 0x1f, m = h & 0x3ff;
        double v = e == 0    ? ldexp(m, -24)
                   : e == 31 ? (m ? NAN : INFINITY)
                             : ldexp(m + 1024, e - 25);
        *ret = (h & 0x8000) ? -v : v;
        return true;
    }
    case DT(BFLOAT16): {
        uint16_t h;
        memcpy(&h, p, 2);
        uint32_t w = (uint32_t)h << 16;
        float f;
        memcpy(&f, &w, 4);
        *ret = f;
        return true;
    }
    default:
        return false;
    }
}

/* Element 0 of a numeric tensor as a double. */
static bool first_as_double(const struct tb_tensor *t, double *ret)
{
    if (t->n_elements < 1 || !t->content.data)
        return false;
    return tb_dtype_to_double(t->dtype, t->content.data, ret);
}

static bool is_blob_plugin(const char *plugin)
{
    if (plugin[0] != 'i' && plugin[0] != 'a' && plugin[0] != 'g')
        return false; /* most values: "", "scalars", "histograms" */
    return !strcmp(plugin, "images") || !strcmp(plugin, "audio") ||
           !strcmp(plugin, "graph_run_metadata") || !strcmp(plugin, "graph_run_metadata_graph") ||
           !strcmp(plugin, "graph_keras_model");
}

/* Parses a decimal image dimension stored as a string; 0 when it is not one. */
static int parse_dim(struct tb_bytes b)
{
    int v = 0;
    if (b.len == 0 || b.len > 9)
        return 0;
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] < '0' || b.data[i] > '9')
            return 0;
        v = v * 10 + (b.data[i] - '0');
    }
    return v;
}

bool tb_string_is_blob(const char *plugin, int rank, int64_t dim1, size_t i)
{
    if (!strcmp(plugin, "images") && rank == 1)
        return i >= 2;
    if (!strcmp(plugin, "audio") && rank == 2 && dim1 == 2)
        return i % 2 == 0;
    return true;
}

/* Turns a string tensor into a blob list, following each plugin's layout (tb_string_is_blob). */
static const char *blobs_of_tensor(struct ctx *c, struct tb_value *v)
{
    const struct tb_tensor *t = &v->tensor;
    if (t->dtype != DT(STRING))
        return NULL; /* kept as a tensor only; a blob sequence of zero blobs */
    if (!strcmp(v->plugin_name, "images") && t->rank == 1) {
        if (t->n_strings < 2)
            return "an image tensor needs a width and a height first";
        v->width = parse_dim(t->strings[0]);
        v->height = parse_dim(t->strings[1]);
        v->blobs = t->strings + 2;
        v->n_blobs = t->n_strings - 2;
        return NULL;
    }
    if (!strcmp(v->plugin_name, "audio") && t->rank == 2 && t->dims[1] == 2) {
        size_t n = (size_t)t->dims[0];
        struct tb_bytes *b = n ? tb_arena_alloc(c->arena, 2 * n * sizeof(*b)) : NULL;
        if (n && !b)
            return "it needs more memory than the decoding cap";
        for (size_t i = 0; i < n; i++) {
            b[i] = t->strings[2 * i];
            b[n + i] = t->strings[2 * i + 1];
        }
        v->blobs = b;
        v->labels = n ? b + n : NULL;
        v->n_blobs = n;
        return NULL;
    }
    v->blobs = t->strings;
    v->n_blobs = t->n_strings;
    return NULL;
}

/* Decides what a tensor value is from its plugin and data class (v->tensor, plugin_name and
 * data_class set): a scalar, a blob sequence, or a tensor. Both decoding paths and the
 * inheritance of a tag's first metadata use it. Returns NULL, or why the value was dropped. */
static const char *classify_tensor(struct ctx *c, struct tb_value *v)
{
    bool numeric = tb_dtype_size(v->tensor.dtype) != 0 && v->tensor.dtype != DT(COMPLEX64) &&
                   v->tensor.dtype != DT(COMPLEX128);
    if (v->tensor.rank == 0 && numeric &&
        (!strcmp(v->plugin_name, "scalars") || v->data_class == DC(SCALAR))) {
        v->kind = TB_KIND_SCALAR;
        if (!first_as_double(&v->tensor, &v->scalar))
            return "its scalar tensor holds no value";
        if (!v->data_class)
            v->data_class = DC(SCALAR);
        return NULL;
    }
    if (is_blob_plugin(v->plugin_name) || v->data_class == DC(BLOB_SEQUENCE)) {
        v->kind = TB_KIND_BLOB_SEQUENCE;
        if (!v->data_class)
            v->data_class = DC(BLOB_SEQUENCE);
        return blobs_of_tensor(c, v);
    }
    v->kind = TB_KIND_TENSOR;
    if (!v->data_class)
        v->data_class = DC(TENSOR);
    return NULL;
}

static struct tb_bytes *one_blob(struct ctx *c, const uint8_t *data, size_t len)
{
    struct tb_bytes *b = tb_arena_alloc(c->arena, sizeof(*b));
    if (b)
        *b = (struct tb_bytes){data, len};
    return b;
}

/* Normalises one Summary.Value into v. Returns NULL, or why the value was dropped. */
static const char *value_of(struct ctx *c, const pb_value *pv, struct tb_value *v)
{
    const Tensorboard__SummaryMetadata *md = pv->metadata;
    memset(v, 0, sizeof(*v));
    v->pb = pv;
    v->tag = pv->tag ? pv->tag : "";
    if (strlen(v->tag) > TB_NAME_MAX)
        return "its tag is longer than the limit";
    v->plugin_name = "";
    v->display_name = "";
    v->description = "";
    v->has_metadata = md != NULL;
    if (md) {
        if (md->plugin_data) {
            if (md->plugin_data->plugin_name)
                v->plugin_name = md->plugin_data->plugin_name;
            v->plugin_content =
                (struct tb_bytes){md->plugin_data->content.data, md->plugin_data->content.len};
        }
        if (md->display_name)
            v->display_name = md->display_name;
        if (md->summary_description)
            v->description = md->summary_description;
        v->data_class = (int)md->data_class;
    }
    if (strlen(v->plugin_name) > TB_PLUGIN_NAME_MAX)
        return "its plugin name is longer than the limit";
    bool named = v->plugin_name[0] != '\0';

    switch (pv->value_case) {
    case TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE:
        v->source = TB_SRC_SIMPLE_VALUE;
        v->kind = TB_KIND_SCALAR;
        v->scalar = pv->simple_value;
        if (!named)
            v->plugin_name = "scalars";
        if (!v->data_class)
            v->data_class = DC(SCALAR);
        return NULL;

    case TENSORBOARD__SUMMARY__VALUE__VALUE_HISTO: {
        const Tensorboard__HistogramProto *h = pv->histo;
        v->source = TB_SRC_HISTO;
        v->kind = TB_KIND_TENSOR;
        if (!named)
            v->plugin_name = "histograms";
        if (!v->data_class)
            v->data_class = DC(TENSOR);
        size_t k = h->n_bucket < h->n_bucket_limit ? h->n_bucket : h->n_bucket_limit;
        double *cells = k ? tb_arena_alloc(c->arena, k * 3 * sizeof(double)) : NULL;
        if (k && !cells)
            return "it needs more memory than the decoding cap";
        /* TensorBoard's layout: [left, right, count] rows; the first left edge is the min and
         * the last right edge the max (data_compat's migration of legacy histograms). */
        for (size_t i = 0; i < k; i++) {
            cells[3 * i] = i == 0 ? h->min : h->bucket_limit[i - 1];
            cells[3 * i + 1] = i + 1 == k ? h->max : h->bucket_limit[i];
            cells[3 * i + 2] = h->bucket[i];
        }
        v->tensor.dtype = DT(DOUBLE);
        v->tensor.rank = 2;
        v->tensor.dims[0] = (int64_t)k;
        v->tensor.dims[1] = 3;
        v->tensor.n_elements = k * 3;
        v->tensor.content = (struct tb_bytes){(const uint8_t *)cells, k * 3 * sizeof(double)};
        return NULL;
    }

    case TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE: {
        const Tensorboard__Summary__Image *im = pv->image;
        v->source = TB_SRC_IMAGE;
        v->kind = TB_KIND_BLOB_SEQUENCE;
        if (!named)
            v->plugin_name = "images";
        if (!v->data_class)
            v->data_class = DC(BLOB_SEQUENCE);
        v->width = im->width;
        v->height = im->height;
        v->blobs = one_blob(c, im->encoded_image_string.data, im->encoded_image_string.len);
        v->n_blobs = 1;
        return v->blobs ? NULL : "it needs more memory than the decoding cap";
    }

    case TENSORBOARD__SUMMARY__VALUE__VALUE_AUDIO: {
        const Tensorboard__Summary__Audio *au = pv->audio;
        v->source = TB_SRC_AUDIO;
        v->kind = TB_KIND_BLOB_SEQUENCE;
        if (!named)
            v->plugin_name = "audio";
        if (!v->data_class)
            v->data_class = DC(BLOB_SEQUENCE);
        v->blobs = one_blob(c, au->encoded_audio_string.data, au->encoded_audio_string.len);
        v->n_blobs = 1;
        return v->blobs ? NULL : "it needs more memory than the decoding cap";
    }

    case TENSORBOARD__SUMMARY__VALUE__VALUE_OBSOLETE_OLD_STYLE_HISTOGRAM:
        v->source = TB_SRC_OLD_HISTOGRAM;
        v->kind = TB_KIND_BLOB_SEQUENCE;
        v->blobs = one_blob(c, pv->obsolete_old_style_histogram.data,
                            pv->obsolete_old_style_histogram.len);
        v->n_blobs = 1;
        return v->blobs ? NULL : "it needs more memory than the decoding cap";

    case TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR: {
        v->source = TB_SRC_TENSOR;
        const char *why = tensor_of(c, pv->tensor, &v->tensor);
        if (why)
            return why;
        return classify_tensor(c, v);
    }

    case TENSORBOARD__SUMMARY__VALUE__VALUE__NOT_SET:
    default:
        /* hparams and other plugins that carry everything in their metadata */
        v->source = TB_SRC_METADATA_ONLY;
        v->kind = TB_KIND_TENSOR;
        if (!v->data_class)
            v->data_class = DC(TENSOR);
        return NULL;
    }
}

static int graph_value(struct ctx *c, enum tb_source src, const char *tag, const char *plugin,
                       ProtobufCBinaryData bytes)
{
    if (tag && strlen(tag) > TB_NAME_MAX) {
        bad_value(c, tag, "its tag is longer than the limit");
        return 0;
    }
    struct tb_value *v = tb_arena_alloc(c->arena, sizeof(*v));
    if (!v)
        return -E2BIG;
    memset(v, 0, sizeof(*v));
    v->tag = tag ? tag : "";
    v->plugin_name = plugin;
    v->display_name = "";
    v->description = "";
    v->data_class = DC(BLOB_SEQUENCE);
    v->kind = TB_KIND_BLOB_SEQUENCE;
    v->source = src;
    v->blobs = one_blob(c, bytes.data, bytes.len);
    if (!v->blobs)
        return -E2BIG;
    v->n_blobs = 1;
    c->ev->values = v;
    c->ev->n_values = 1;
    return 0;
}

/*
 * The fast path. Most records in a training log are scalar events: one or a few values, each a
 * TF1 simple_value or a rank-0 float/double tensor of the scalars plugin. protobuf-c spends most
 * of its time building messages the normaliser then reads once, so such events are decoded
 * here straight from the wire format. Anything this parser does not expect (another field,
 * a repeated singular field, another value kind, a shape with dimensions, a value the slow
 * path would reject) makes it give up, and the record goes through protobuf-c as before. The
 * two paths produce the same tb_event, except that `pb` is NULL here; the fuzz target
 * fuzz_event_diff checks that they agree.
 */
struct cur {
    const uint8_t *p, *end;
    bool bad; /* sticky: checked once per message */
};

static uint64_t varint(struct cur *c)
{
    if (c->p < c->end && *c->p < 0x80)
        return *c->p++; /* field keys, lengths and small numbers: most varints */
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end) {
            c->bad = true;
            return 0;
        }
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static struct cur sub(struct cur *c, uint64_t len)
{
    struct cur s = {c->p, c->p, c->bad};
    if (c->bad || len > (uint64_t)(c->end - c->p)) {
        c->bad = s.bad = true;
        return s;
    }
    s.end = c->p + len;
    c->p += len;
    return s;
}

static uint64_t fixed(struct cur *c, int n)
{
    uint64_t v = 0;
    if (c->bad || c->end - c->p < n) {
        c->bad = true;
        return 0;
    }
    memcpy(&v, c->p, (size_t)n); /* little-endian hosts only */
    c->p += n;
    return v;
}

/* Reads a field key; returns the field number and sets *wire, or 0 at the end. */
static uint32_t key(struct cur *c, int *wire)
{
    if (c->p >= c->end)
        return 0;
    uint64_t k = varint(c);
    *wire = (int)(k & 7);
    uint64_t f = k >> 3;
    if (c->bad || f == 0 || f > 0x1fffffff) {
        c->bad = true;
        return 0;
    }
    return (uint32_t)f;
}

static const char *arena_str(struct ctx *c, struct cur s)
{
    size_t n = (size_t)(s.end - s.p);
    char *out = tb_arena_alloc(c->arena, n + 1);
    if (!out)
        return NULL;
    memcpy(out, s.p, n);
    out[n] = 0;
    return out;
}

#define ONCE(bit)                                                                                  \
    if (seen & (1u << (bit)))                                                                      \
        return false;                                                                              \
    seen |= 1u << (bit)

static bool fast_metadata(struct ctx *c, struct cur m, struct tb_value *v)
{
    unsigned seen = 0;
    int w;
    uint32_t f;
    while ((f = key(&m, &w))) {
        if (f == 1 && w == 2) {
            ONCE(1);
            struct cur pd = sub(&m, varint(&m));
            unsigned pseen = 0;
            uint32_t g;
            int pw;
            while ((g = key(&pd, &pw))) {
                if (pw != 2 || (g != 1 && g != 2) || (pseen & (1u << g)))
                    return false;
                pseen |= 1u << g;
                struct cur s = sub(&pd, varint(&pd));
                if (g == 1) {
                    if ((size_t)(s.end - s.p) > TB_PLUGIN_NAME_MAX ||
                        memchr(s.p, 0, (size_t)(s.end - s.p)))
                        return false;
                    v->plugin_name = arena_str(c, s);
                } else {
                    size_t n = (size_t)(s.end - s.p);
                    uint8_t *d = n ? tb_arena_alloc(c->arena, n) : NULL;
                    if (n && !d)
                        return false;
                    if (n)
                        memcpy(d, s.p, n);
                    v->plugin_content = (struct tb_bytes){d, n};
                }
                if (pd.bad)
                    return false;
            }
            if (pd.bad || !v->plugin_name)
                return false;
        } else if ((f == 2 || f == 3) && w == 2) {
            ONCE(f);
            const char *str = arena_str(c, sub(&m, varint(&m)));
            if (!str)
                return false;
            if (f == 2)
                v->display_name = str;
            else
                v->description = str;
        } else if (f == 4 && w == 0) {
            ONCE(4);
            uint64_t dc = varint(&m);
            if (dc > 3)
                return false; /* protobuf-c keeps unknown enum values; leave them to it */
            v->data_class = (int)dc;
        } else {
            return false;
        }
        if (m.bad)
            return false;
    }
    return !m.bad;
}

/* A TensorShapeProto with known dimensions and no names: rank and dims into t. */
static bool fast_shape(struct cur s, struct tb_tensor *t)
{
    int w;
    uint32_t f;
    t->rank = 0;
    t->n_elements = 1;
    while ((f = key(&s, &w))) {
        if (f != 2 || w != 2 || t->rank >= TB_TENSOR_RANK_MAX)
            return false; /* unknown_rank, or too deep: the slow path keeps it as unknown */
        struct cur d = sub(&s, varint(&s));
        int64_t size = 0;
        unsigned dseen = 0;
        uint32_t g;
        int dw;
        while ((g = key(&d, &dw))) {
            if (g != 1 || dw != 0 || dseen++)
                return false; /* a dimension's name, or a repeated size */
            size = (int64_t)varint(&d);
        }
        if (d.bad || size < 0)
            return false;
        if (size && t->n_elements > UINT64_MAX / (uint64_t)size)
            return false;
        t->dims[t->rank++] = size;
        t->n_elements *= (uint64_t)size;
        if (s.bad)
            return false;
    }
    return !s.bad;
}

/* The typed field that holds a fast-path dtype's values, and its element width there. */
static uint32_t typed_field(uint64_t dtype)
{
    return dtype == DT(FLOAT) ? 5 : dtype == DT(DOUBLE) ? 6 : 13; /* HALF, BFLOAT16: half_val */
}

/* Counts the values in one occurrence of a typed field (packed or not); false if malformed. */
static bool count_typed(struct cur *t, uint32_t f, int w, size_t *n)
{
    if (f == 13 && w == 0) {
        varint(t);
        (*n)++;
        return !t->bad;
    }
    if (f == 13 && w == 2) {
        struct cur p = sub(t, varint(t));
        while (!p.bad && p.p < p.end) {
            varint(&p);
            (*n)++;
        }
        return !p.bad;
    }
    size_t es = f == 5 ? 4 : 8;
    if ((f == 5 && w == 5) || (f == 6 && w == 1)) {
        fixed(t, (int)es);
        (*n)++;
        return !t->bad;
    }
    if (w != 2)
        return false;
    uint64_t len = varint(t);
    if (len % es)
        return false;
    sub(t, len);
    *n += (size_t)(len / es);
    return !t->bad;
}

/* Copies one occurrence's values into out (es bytes each, little-endian); returns the count. */
static size_t copy_typed(struct cur *t, uint32_t f, int w, uint8_t *out, size_t room)
{
    if (f == 13) {
        if (w == 0) {
            if (!room) {
                t->bad = true;
                return 0;
            }
            uint16_t h = (uint16_t)varint(t);
            memcpy(out, &h, 2);
            return 1;
        }
        struct cur p = sub(t, varint(t));
        size_t n = 0;
        while (!p.bad && p.p < p.end && n < room) {
            uint16_t h = (uint16_t)varint(&p);
            memcpy(out + 2 * n++, &h, 2);
        }
        if (p.p < p.end)
            t->bad = true;
        return n;
    }
    size_t es = f == 5 ? 4 : 8;
    size_t len = w == 2 ? (size_t)varint(t) : es;
    struct cur p = sub(t, len);
    if (p.bad || len / es > room) {
        t->bad = true;
        return 0;
    }
    memcpy(out, p.p, len); /* little-endian hosts only, as fixed() */
    return len / es;
}

/*
 * A numeric TensorProto of float, double, half or bfloat16 whose values fill its shape: from
 * tensor_content, or from the typed field (float_val, double_val, half_val), packed or not,
 * in any number of occurrences. Anything else (other dtypes or fields, a shape filled by
 * repeating the last value, unknown dimensions) goes to protobuf-c. Fills out, which the
 * caller has zeroed (fast_value's memset of the whole value).
 */
static bool fast_tensor(struct ctx *c, struct cur t, struct tb_tensor *out)
{
    unsigned seen = 0;
    int w = 0;
    uint32_t f;
    uint64_t dtype = 0;
    struct cur content = {0};
    size_t n_typed = 0, n_occurrences = 0;
    uint32_t typed = 0;           /* the typed field seen, if any */
    struct cur first_typed = {0}; /* its first occurrence, from its key on */
    const struct cur start = t;
    const uint8_t *key_at = t.p;
    while ((f = key(&t, &w))) {
        if (f == 1 && w == 0) {
            ONCE(1);
            dtype = varint(&t);
        } else if (f == 2 && w == 2) {
            ONCE(2);
            if (!fast_shape(sub(&t, varint(&t)), out))
                return false;
        } else if (f == 3 && w == 0) {
            ONCE(3);
            varint(&t);
        } else if (f == 4 && w == 2) {
            ONCE(4);
            content = sub(&t, varint(&t));
        } else if (f == 5 || f == 6 || f == 13) {
            if (typed && typed != f)
                return false;
            typed = f;
            if (!n_occurrences++) {
                first_typed = t;
                first_typed.p = key_at;
            }
            if (!count_typed(&t, f, w, &n_typed))
                return false;
        } else {
            return false;
        }
        if (t.bad)
            return false;
        key_at = t.p;
    }
    if (t.bad)
        return false;
    if (!(seen & (1u << 2))) { /* no shape: rank 0 */
        out->rank = 0;
        out->n_elements = 1;
    }
    size_t es = dtype == DT(FLOAT)                           ? 4
                : dtype == DT(DOUBLE)                        ? 8
                : dtype == DT(HALF) || dtype == DT(BFLOAT16) ? 2
                                                             : 0;
    size_t clen = (size_t)(content.end - content.p);
    uint64_t n = out->n_elements;
    if (!es || n == 0 || n > TB_RECORD_MAX / es)
        return false;
    if (clen ? (typed || clen != n * es) : (typed != typed_field(dtype) || n_typed != n))
        return false; /* what tensor_of does with the rest is its business */
    size_t bytes = (size_t)n * es;
    uint8_t *buf = tb_arena_alloc(c->arena, bytes);
    if (!buf)
        return false;
    if (clen) {
        memcpy(buf, content.p, bytes);
    } else if (n_occurrences == 1) {
        key(&first_typed, &w);
        if (copy_typed(&first_typed, typed, w, buf, (size_t)n) != n || first_typed.bad)
            return false;
    } else {
        size_t k = 0;
        struct cur again = start;
        while ((f = key(&again, &w))) {
            if (f == typed)
                k += copy_typed(&again, f, w, buf + k * es, (size_t)n - k);
            else if (w == 0)
                varint(&again);
            else
                sub(&again, varint(&again)); /* dtype, shape, version, content: seen above */
        }
        if (k != n || again.bad)
            return false;
    }
    out->dtype = (int)dtype;
    out->content = (struct tb_bytes){buf, bytes};
    return true;
}

static bool fast_value(struct ctx *c, struct cur m, struct tb_value *v)
{
    unsigned seen = 0;
    int w;
    uint32_t f;
    const struct cur whole = m;
    memset(v, 0, sizeof(*v));
    v->tag = "";
    v->plugin_name = "";
    v->display_name = "";
    v->description = "";
    struct cur tensor = {0};
    while ((f = key(&m, &w))) {
        if (f == 1 && w == 2) {
            ONCE(1);
            struct cur s = sub(&m, varint(&m));
            if ((size_t)(s.end - s.p) > TB_NAME_MAX || memchr(s.p, 0, (size_t)(s.end - s.p)))
                return false;
            v->tag = arena_str(c, s);
            if (!v->tag)
                return false;
        } else if (f == 2 && w == 5) {
            ONCE(2);
            uint32_t bits = (uint32_t)fixed(&m, 4);
            float x;
            memcpy(&x, &bits, 4);
            v->scalar = x;
        } else if (f == 7 && w == 2) {
            ONCE(7);
            sub(&m, varint(&m)); /* node_name: not used */
        } else if (f == 8 && w == 2) {
            ONCE(8);
            tensor = sub(&m, varint(&m));
        } else if (f == 9 && w == 2) {
            ONCE(9);
            if (!fast_metadata(c, sub(&m, varint(&m)), v))
                return false;
        } else {
            return false;
        }
        if (m.bad)
            return false;
    }
    if (m.bad)
        return false;
    bool simple = seen & (1u << 2), is_tensor = seen & (1u << 8);
    v->has_metadata = seen & (1u << 9);
    if (simple == is_tensor)
        return false; /* both (a oneof) or neither: leave it to protobuf-c */
    if (simple) {
        v->kind = TB_KIND_SCALAR;
        v->source = TB_SRC_SIMPLE_VALUE;
        if (!v->plugin_name[0])
            v->plugin_name = "scalars";
        if (!v->data_class)
            v->data_class = DC(SCALAR);
        return true;
    }
    v->source = TB_SRC_TENSOR;
    if (!fast_tensor(c, tensor, &v->tensor))
        return false;
    if (!v->has_metadata) {
        v->kind = TB_KIND_TENSOR; /* what classify_tensor makes of it without a plugin */
        v->data_class = DC(TENSOR);
    } else if (classify_tensor(c, v) || v->kind == TB_KIND_BLOB_SEQUENCE) {
        return false;
    }
    if (v->kind == TB_KIND_TENSOR) {
        /* Kept whole for export, as protobuf-c's path keeps `pb`; and a tensor without
         * metadata may still become a scalar when its tag's first metadata is applied. */
        size_t n = (size_t)(whole.end - whole.p);
        uint8_t *raw = tb_arena_alloc(c->arena, n ? n : 1);
        if (!raw)
            return false;
        memcpy(raw, whole.p, n);
        v->raw = (struct tb_bytes){raw, n};
    }
    return true;
}

static bool fast_decode(struct ctx *c, const uint8_t *data, size_t len)
{
    struct cur e = {data, data + len, false};
    struct tb_event *ev = c->ev;
    unsigned seen = 0;
    int w;
    uint32_t f;
    struct cur summary = {0};
    while ((f = key(&e, &w))) {
        if (f == 1 && w == 1) {
            ONCE(1);
            uint64_t bits = fixed(&e, 8);
            memcpy(&ev->wall_time, &bits, 8);
        } else if (f == 2 && w == 0) {
            ONCE(2);
            ev->step = (int64_t)varint(&e);
        } else if (f == 5 && w == 2) {
            ONCE(5);
            summary = sub(&e, varint(&e));
        } else {
            return false;
        }
        if (e.bad)
            return false;
    }
    if (e.bad || !(seen & (1u << 5)) || !isfinite(ev->wall_time))
        return false;
    /* Count the values, then decode each. */
    size_t n = 0;
    struct cur scan = summary;
    while ((f = key(&scan, &w))) {
        if (f != 1 || w != 2)
            return false;
        sub(&scan, varint(&scan));
        if (scan.bad)
            return false;
        n++;
    }
    if (scan.bad)
        return false;
    ev->kind = TB_EVENT_SUMMARY;
    if (!n)
        return true;
    ev->values = tb_arena_alloc(c->arena, n * sizeof(*ev->values));
    if (!ev->values)
        return false;
    for (size_t i = 0; i < n; i++) {
        key(&summary, &w);
        if (!fast_value(c, sub(&summary, varint(&summary)), &ev->values[i]))
            return false;
    }
    ev->n_values = n;
    return true;
}

#undef ONCE

int tb_event_tags_ok(const uint8_t *data, size_t len, size_t max)
{
    struct cur e = {data, data + len, false};
    int w;
    uint32_t f;
    struct cur summary = {0};
    bool have = false;
    while ((f = key(&e, &w))) {
        if (w == 0)
            varint(&e);
        else if (w == 1)
            fixed(&e, 8);
        else if (w == 5)
            fixed(&e, 4);
        else if (w == 2 && f == 5 && !have) {
            summary = sub(&e, varint(&e));
            have = true;
        } else if (w == 2 && f != 5 && (f < 3 || f > 9)) {
            sub(&e, varint(&e)); /* an unknown field */
        } else {
            return -1; /* graph events, session logs, a repeated summary: decode it */
        }
        if (e.bad)
            return -1;
    }
    if (e.bad || !have)
        return -1;
    while ((f = key(&summary, &w))) {
        if (f != 1 || w != 2)
            return -1;
        struct cur v = sub(&summary, varint(&summary));
        unsigned tags = 0;
        while (!v.bad && (f = key(&v, &w))) {
            if (w == 0)
                varint(&v);
            else if (w == 1)
                fixed(&v, 8);
            else if (w == 5)
                fixed(&v, 4);
            else if (w == 2) {
                struct cur s = sub(&v, varint(&v));
                if (f == 1) {
                    size_t n = (size_t)(s.end - s.p);
                    if (tags++ || n > max || !tb_text_ok(s.p, n))
                        return 0;
                }
            } else {
                return -1;
            }
        }
        if (v.bad || tags > 1)
            return v.bad ? -1 : 0;
    }
    return summary.bad ? -1 : 1;
}

bool tb_text_ok(const void *s, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return tb_utf8_valid(s, n);
}

int tb_event_decode(const uint8_t *data, size_t len, struct tb_arena *arena,
                    struct tb_event *ret_ev, struct tb_problem *problem)
{
    struct tb_event fast = {0};
    struct ctx fc = {arena, &fast, problem};
    struct tb_arena_mark mark;
    tb_arena_mark(arena, &mark);
    if (fast_decode(&fc, data, len)) {
        *ret_ev = fast;
        return 0;
    }
    tb_arena_rewind(arena, &mark); /* the slow path gets the whole cap */
    return tb_event_decode_pb(data, len, arena, ret_ev, problem);
}

/* protobuf-c keeps a field numbered 0 (an invalid number) as an unknown field when its key
 * takes two bytes; packing the message again would then write bytes no decoder accepts. */
static bool has_field_zero(const ProtobufCMessage *m, int depth)
{
    if (!m || depth > 16)
        return false;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
            continue; /* another member of the oneof: this pointer is not one */
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items =
                *(ProtobufCMessage *const *const *)(const void *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (has_field_zero(items[k], depth + 1))
                    return true;
        } else if (has_field_zero(*(ProtobufCMessage *const *)(const void *)(base + f->offset),
                                  depth + 1)) {
            return true;
        }
    }
    return false;
}

int tb_event_decode_pb(const uint8_t *data, size_t len, struct tb_arena *arena,
                       struct tb_event *ret_ev, struct tb_problem *problem)
{
    struct tb_event ev = {0};
    struct ctx c = {arena, &ev, problem};
    /* Bound nesting before protobuf-c recurses (shared/wirescan.h: free while the Event schema
     * cannot nest past the limit); the scan refuses exactly what protobuf-c would, so the
     * message for a bad record stays the same. */
    int scan = tb_wirescan_guard(&tensorboard__event__descriptor, data, len, TB_PB_DEPTH_MAX, NULL);
    if (scan == -E2BIG)
        return tb_problem_set(problem, TB_PROBLEM_BAD_PROTO, 0, len, EBADMSG,
                              "the %zu-byte record nests messages more than %d levels deep", len,
                              TB_PB_DEPTH_MAX);
    Tensorboard__Event *e = scan < 0 ? NULL : tensorboard__event__unpack(&arena->pb, len, data);
    if (!e) {
        if (arena->over)
            return tb_problem_set(problem, TB_PROBLEM_BAD_PROTO, 0, len, E2BIG,
                                  "decoding this %zu-byte record would need more than %zu MiB", len,
                                  arena->cap >> 20);
        return tb_problem_set(problem, TB_PROBLEM_BAD_PROTO, 0, len, EBADMSG,
                              "the %zu-byte record passed its CRC but is not a valid Event "
                              "protobuf",
                              len);
    }
    if (has_field_zero(&e->base, 0))
        return tb_problem_set(problem, TB_PROBLEM_BAD_PROTO, 0, len, EBADMSG,
                              "the %zu-byte record passed its CRC but holds a field numbered 0, "
                              "which no Event has",
                              len);
    if (!isfinite(e->wall_time))
        return tb_problem_set(problem, TB_PROBLEM_BAD_EVENT, 0, len, EINVAL,
                              "event at step %lld has a wall_time of %g; dropped it",
                              (long long)e->step, e->wall_time);
    ev.pb = e;
    ev.wall_time = e->wall_time;
    ev.step = e->step;
    int err = 0;
    switch (e->what_case) {
    case TENSORBOARD__EVENT__WHAT_FILE_VERSION:
        ev.kind = TB_EVENT_FILE_VERSION;
        ev.file_version = e->file_version;
        break;
    case TENSORBOARD__EVENT__WHAT_GRAPH_DEF:
        ev.kind = TB_EVENT_GRAPH_DEF;
        err = graph_value(&c, TB_SRC_GRAPH_DEF, TB_TAG_RUN_GRAPH, TB_PLUGIN_GRAPHS, e->graph_def);
        break;
    case TENSORBOARD__EVENT__WHAT_META_GRAPH_DEF:
        ev.kind = TB_EVENT_META_GRAPH_DEF;
        err = graph_value(&c, TB_SRC_META_GRAPH_DEF, TB_TAG_META_GRAPH, TB_PLUGIN_GRAPHS,
                          e->meta_graph_def);
        break;
    case TENSORBOARD__EVENT__WHAT_TAGGED_RUN_METADATA:
        ev.kind = TB_EVENT_TAGGED_RUN_METADATA;
        err = graph_value(&c, TB_SRC_RUN_METADATA, e->tagged_run_metadata->tag,
                          TB_PLUGIN_TAGGED_RUN_METADATA, e->tagged_run_metadata->run_metadata);
        break;
    case TENSORBOARD__EVENT__WHAT_SESSION_LOG:
        ev.kind = TB_EVENT_SESSION_LOG;
        ev.session_status = (int)e->session_log->status;
        break;
    case TENSORBOARD__EVENT__WHAT_LOG_MESSAGE:
        ev.kind = TB_EVENT_LOG_MESSAGE;
        break;
    case TENSORBOARD__EVENT__WHAT_SUMMARY: {
        ev.kind = TB_EVENT_SUMMARY;
        size_t n = e->summary->n_value;
        if (!n)
            break;
        ev.values = tb_arena_alloc(arena, n * sizeof(*ev.values));
        if (!ev.values) {
            err = -E2BIG;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const pb_value *pv = e->summary->value[i];
            const char *why = value_of(&c, pv, &ev.values[ev.n_values]);
            if (why)
                bad_value(&c, pv->tag ? pv->tag : "", why);
            else
                ev.n_values++;
        }
        break;
    }
    default:
        ev.kind = TB_EVENT_EMPTY;
        break;
    }
    if (err < 0)
        return tb_problem_set(problem, TB_PROBLEM_BAD_PROTO, 0, len, E2BIG,
                              "decoding this %zu-byte record would need more than %zu MiB", len,
                              arena->cap >> 20);
    *ret_ev = ev;
    return 0;
}

/* --- first-metadata inheritance --- */

void tb_meta_cache_init(struct tb_meta_cache *c)
{
    tb_map_init(&c->tags);
}

static void meta_free(struct tb_tag_meta *m)
{
    if (!m)
        return;
    free(m->plugin_name);
    free(m->content);
    free(m->display_name);
    free(m->description);
    free(m);
}

void tb_meta_cache_done(struct tb_meta_cache *c)
{
    for (size_t i = 0; i < c->tags.cap; i++)
        if (c->tags.slots[i].key)
            meta_free(c->tags.slots[i].value);
    tb_map_done(&c->tags);
}

const struct tb_tag_meta *tb_meta_cache_get(const struct tb_meta_cache *c, const char *tag)
{
    return tb_map_get(&c->tags, tag);
}

int tb_meta_cache_put(struct tb_meta_cache *c, const char *tag, const struct tb_tag_meta *m)
{
    if (tb_map_get(&c->tags, tag))
        return 0;
    struct tb_tag_meta *copy = calloc(1, sizeof(*copy));
    if (!copy)
        return -ENOMEM;
    copy->plugin_name = strdup(m->plugin_name ? m->plugin_name : "");
    copy->display_name = strdup(m->display_name ? m->display_name : "");
    copy->description = strdup(m->description ? m->description : "");
    copy->content = malloc(m->content_len ? m->content_len : 1);
    copy->content_len = m->content_len;
    copy->data_class = m->data_class;
    if (!copy->plugin_name || !copy->display_name || !copy->description || !copy->content) {
        meta_free(copy);
        return -ENOMEM;
    }
    if (m->content_len)
        memcpy(copy->content, m->content, m->content_len);
    if (tb_map_put(&c->tags, tag, copy) < 0) {
        meta_free(copy);
        return -ENOMEM;
    }
    return 0;
}

void tb_value_meta(const struct tb_value *v, struct tb_tag_meta *ret)
{
    ret->plugin_name = (char *)v->plugin_name;
    ret->content = (uint8_t *)v->plugin_content.data;
    ret->content_len = v->plugin_content.len;
    ret->display_name = (char *)v->display_name;
    ret->description = (char *)v->description;
    ret->data_class = v->data_class;
}

bool tb_value_takes_meta(const struct tb_value *v)
{
    if (v->has_metadata)
        return false;
    if (v->pb)
        return true;
    /* the fast path's values: simple values, and tensors that carried no metadata */
    return v->source == TB_SRC_SIMPLE_VALUE || (v->source == TB_SRC_TENSOR && v->raw.len);
}

static char *arena_copy(struct tb_arena *a, const char *s)
{
    size_t n = strlen(s ? s : "");
    char *d = tb_arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s ? s : "", n);
        d[n] = 0;
    }
    return d;
}

/* tb_value_inherit for a value the fast path read (no `pb`): what value_of would make of the
 * same value with m as its metadata, from the fields already decoded. The names and content
 * are m's own (the cache's copies), not copied: this runs for most values of TensorBoard's
 * own writer and PyTorch's new_style scalars, which carry metadata on a tag's first value. */
static int inherit_fast(struct ctx *c, struct tb_value *v, const struct tb_tag_meta *m)
{
    v->plugin_name = m->plugin_name;
    v->display_name = m->display_name;
    v->description = m->description;
    v->plugin_content = (struct tb_bytes){m->content, m->content_len};
    v->data_class = m->data_class;
    if (v->source == TB_SRC_SIMPLE_VALUE) {
        if (!v->plugin_name[0])
            v->plugin_name = "scalars";
        if (!v->data_class)
            v->data_class = DC(SCALAR);
        return 0;
    }
    const char *why = classify_tensor(c, v);
    if (why) {
        bad_value(c, v->tag, why);
        return -EINVAL;
    }
    return 0;
}

int tb_value_inherit(struct tb_event *ev, size_t i, const struct tb_tag_meta *m,
                     struct tb_arena *arena, struct tb_problem *problem)
{
    struct tb_value *v = &ev->values[i];
    Tensorboard__Summary__Value *pv = (Tensorboard__Summary__Value *)v->pb;
    if (!tb_value_takes_meta(v))
        return 0; /* graph events, and values with their own metadata, keep theirs */
    struct ctx c = {arena, ev, problem};
    if (!pv)
        return inherit_fast(&c, v, m);
    Tensorboard__SummaryMetadata__PluginData pd = TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = m->plugin_name;
    pd.content = (ProtobufCBinaryData){m->content_len, m->content};
    Tensorboard__SummaryMetadata md = TENSORBOARD__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    md.display_name = m->display_name;
    md.summary_description = m->description;
    md.data_class = (Tensorboard__DataClass)m->data_class;
    pv->metadata = &md;
    const char *why = value_of(&c, pv, v);
    pv->metadata = NULL; /* the stored message stays as it was written */
    if (why) {
        bad_value(&c, pv->tag ? pv->tag : "", why);
        return -EINVAL;
    }
    /* Strings now point into md: move them into the arena (content too). */
    struct tb_tag_meta keep = *m;
    char *name = arena_copy(arena, keep.plugin_name);
    char *disp = arena_copy(arena, keep.display_name);
    char *desc = arena_copy(arena, keep.description);
    uint8_t *content = keep.content_len ? tb_arena_alloc(arena, keep.content_len) : NULL;
    if (!name || !disp || !desc || (keep.content_len && !content))
        return -ENOMEM;
    if (content)
        memcpy(content, keep.content, keep.content_len);
    if (v->plugin_name == m->plugin_name)
        v->plugin_name = name;
    if (v->display_name == m->display_name)
        v->display_name = disp;
    if (v->description == m->description)
        v->description = desc;
    v->plugin_content = (struct tb_bytes){content, keep.content_len};
    v->has_metadata = false;
    return 0;
}

int tb_meta_cache_apply(struct tb_meta_cache *c, struct tb_event *ev, struct tb_arena *arena,
                        struct tb_problem *problem)
{
    size_t out = 0;
    for (size_t i = 0; i < ev->n_values; i++) {
        struct tb_value *v = &ev->values[i];
        if (v->has_metadata) {
            struct tb_tag_meta m;
            tb_value_meta(v, &m);
            if (tb_meta_cache_put(c, v->tag, &m) < 0)
                return -ENOMEM;
        } else if (tb_value_takes_meta(v)) {
            const struct tb_tag_meta *m = tb_meta_cache_get(c, v->tag);
            if (m) {
                int err = tb_value_inherit(ev, i, m, arena, problem);
                if (err == -ENOMEM)
                    return err;
                if (err < 0)
                    continue; /* dropped, and counted */
            }
        }
        if (out != i)
            ev->values[out] = ev->values[i];
        out++;
    }
    ev->n_values = out;
    return 0;
}
