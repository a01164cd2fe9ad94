/* SPDX-License-Identifier: MIT */
/* Unit tests for event: every summary form packed, decoded by both decoding paths, normalised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define DT(x) TENSORBOARD__DATA_TYPE__DT_##x
#define DC(x) TENSORBOARD__DATA_CLASS__DATA_CLASS_##x
#define VCASE(x) TENSORBOARD__SUMMARY__VALUE__VALUE_##x

#define WALL 1700000000.25
#define STEP 42

/* ---- fixture: one arena for tb_event_decode, one for tb_event_decode_pb ---- */

struct fx {
    struct tb_arena arena;
    struct tb_arena arena_pb;
    struct tb_event ev_pb; /* the protobuf-c path's result for the last decode */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    tb_arena_init(&f->arena, 0);
    tb_arena_init(&f->arena_pb, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tb_arena_done(&f->arena);
    tb_arena_done(&f->arena_pb);
    free(f);
    return 0;
}

static void same_bytes(struct tb_bytes a, struct tb_bytes b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.data, b.data, a.len);
}

/* Bit-equal doubles, or both NaN. */
static void same_double(double a, double b)
{
    if (isnan(a) || isnan(b))
        assert_true(isnan(a) && isnan(b));
    else
        assert_memory_equal(&a, &b, sizeof(double));
}

/* The two decoding paths must agree on everything but `pb`. */
static void same_value(const struct tb_value *a, const struct tb_value *b)
{
    assert_string_equal(a->tag, b->tag);
    assert_string_equal(a->plugin_name, b->plugin_name);
    same_bytes(a->plugin_content, b->plugin_content);
    assert_string_equal(a->display_name, b->display_name);
    assert_string_equal(a->description, b->description);
    assert_int_equal(a->data_class, b->data_class);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->source, b->source);
    if (a->kind == TB_KIND_SCALAR)
        same_double(a->scalar, b->scalar);
    assert_int_equal(a->tensor.dtype, b->tensor.dtype);
    assert_int_equal(a->tensor.rank, b->tensor.rank);
    for (int i = 0; i < a->tensor.rank; i++)
        assert_int_equal(a->tensor.dims[i], b->tensor.dims[i]);
    assert_int_equal(a->tensor.n_elements, b->tensor.n_elements);
    same_bytes(a->tensor.content, b->tensor.content);
    assert_int_equal(a->tensor.n_strings, b->tensor.n_strings);
    for (size_t i = 0; i < a->tensor.n_strings; i++)
        same_bytes(a->tensor.strings[i], b->tensor.strings[i]);
    assert_int_equal(a->n_blobs, b->n_blobs);
    for (size_t i = 0; i < a->n_blobs; i++)
        same_bytes(a->blobs[i], b->blobs[i]);
    assert_true((a->labels == NULL) == (b->labels == NULL));
    for (size_t i = 0; a->labels && i < a->n_blobs; i++)
        same_bytes(a->labels[i], b->labels[i]);
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
}

static void same_event(const struct tb_event *a, const struct tb_event *b)
{
    same_double(a->wall_time, b->wall_time);
    assert_int_equal(a->step, b->step);
    assert_int_equal(a->kind, b->kind);
    assert_true((a->file_version == NULL) == (b->file_version == NULL));
    if (a->file_version)
        assert_string_equal(a->file_version, b->file_version);
    assert_int_equal(a->session_status, b->session_status);
    assert_int_equal(a->n_values, b->n_values);
    assert_int_equal(a->n_bad_values, b->n_bad_values);
    for (size_t i = 0; i < a->n_values; i++)
        same_value(&a->values[i], &b->values[i]);
    assert_non_null(b->pb); /* the protobuf-c path always has the message */
}

/*
 * Decodes raw bytes with tb_event_decode, and again with tb_event_decode_pb, and checks the
 * two agree. The input copies are freed before the result is looked at: the header promises
 * nothing points into them (ASan turns a broken promise into a use-after-free report).
 * The previous event decoded through f is invalid afterwards.
 */
static int decode_bytes(struct fx *f, const uint8_t *data, size_t len, struct tb_event *ev,
                        struct tb_problem *p)
{
    tb_arena_reset(&f->arena);
    tb_arena_reset(&f->arena_pb);
    uint8_t *c1 = malloc(len ? len : 1), *c2 = malloc(len ? len : 1);
    assert_non_null(c1);
    assert_non_null(c2);
    if (len) {
        memcpy(c1, data, len);
        memcpy(c2, data, len);
    }
    struct tb_problem p1 = {0}, p2 = {0};
    int rc = tb_event_decode(c1, len, &f->arena, ev, &p1);
    int rc_pb = tb_event_decode_pb(c2, len, &f->arena_pb, &f->ev_pb, &p2);
    memset(c1, 0xee, len ? len : 1);
    memset(c2, 0xee, len ? len : 1);
    free(c1);
    free(c2);
    assert_int_equal(rc, rc_pb);
    assert_int_equal(p1.kind, p2.kind);
    if (rc == 0)
        same_event(ev, &f->ev_pb);
    if (p)
        *p = p1;
    return rc;
}

static int decode(struct fx *f, const Tensorboard__Event *e, struct tb_event *ev,
                  struct tb_problem *p)
{
    size_t n = tensorboard__event__get_packed_size(e);
    uint8_t *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    assert_int_equal(tensorboard__event__pack(e, buf), n);
    int rc = decode_bytes(f, buf, n, ev, p);
    free(buf);
    return rc;
}

/* ---- building values ---- */

/* One Summary.Value with the messages it points to, all on the caller's stack. */
struct val {
    Tensorboard__Summary__Value v;
    Tensorboard__SummaryMetadata md;
    Tensorboard__SummaryMetadata__PluginData pd;
    Tensorboard__TensorProto t;
    Tensorboard__TensorShapeProto shape;
    Tensorboard__TensorShapeProto__Dim dims[4];
    Tensorboard__TensorShapeProto__Dim *dimp[4];
};

/* A value with tag, and metadata if plugin is not NULL or data_class is not 0. */
static void val_init(struct val *x, const char *tag, const char *plugin, int data_class)
{
    memset(x, 0, sizeof(*x));
    x->v = (Tensorboard__Summary__Value)TENSORBOARD__SUMMARY__VALUE__INIT;
    x->v.tag = (char *)tag;
    if (plugin || data_class) {
        x->md = (Tensorboard__SummaryMetadata)TENSORBOARD__SUMMARY_METADATA__INIT;
        x->md.data_class = (Tensorboard__DataClass)data_class;
        if (plugin) {
            x->pd = (Tensorboard__SummaryMetadata__PluginData)
                TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
            x->pd.plugin_name = (char *)plugin;
            x->md.plugin_data = &x->pd;
        }
        x->v.metadata = &x->md;
    }
}

/* Makes the value a tensor of dtype with the given shape (rank 0..4). */
static void val_tensor(struct val *x, int dtype, int rank, const int64_t *dims)
{
    x->t = (Tensorboard__TensorProto)TENSORBOARD__TENSOR_PROTO__INIT;
    x->t.dtype = (Tensorboard__DataType)dtype;
    x->shape = (Tensorboard__TensorShapeProto)TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
    assert_true(rank >= 0 && rank <= 4);
    for (int i = 0; i < rank; i++) {
        x->dims[i] = (Tensorboard__TensorShapeProto__Dim)TENSORBOARD__TENSOR_SHAPE_PROTO__DIM__INIT;
        x->dims[i].size = dims[i];
        x->dimp[i] = &x->dims[i];
    }
    x->shape.n_dim = (size_t)rank;
    x->shape.dim = x->dimp;
    x->t.tensor_shape = &x->shape;
    x->v.value_case = VCASE(TENSOR);
    x->v.tensor = &x->t;
}

static int decode_vals(struct fx *f, struct val **vals, size_t n, struct tb_event *ev,
                       struct tb_problem *p)
{
    Tensorboard__Summary__Value *pv[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        pv[i] = &vals[i]->v;
    Tensorboard__Summary s = TENSORBOARD__SUMMARY__INIT;
    s.n_value = n;
    s.value = pv;
    Tensorboard__Event e = TENSORBOARD__EVENT__INIT;
    e.wall_time = WALL;
    e.step = STEP;
    e.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    e.summary = &s;
    return decode(f, &e, ev, p);
}

/* Decodes one value that must be kept; returns it. */
static const struct tb_value *decode_one(struct fx *f, struct val *x, struct tb_event *ev)
{
    struct tb_problem p = {0};
    assert_int_equal(decode_vals(f, &x, 1, ev, &p), 0);
    assert_int_equal(ev->kind, TB_EVENT_SUMMARY);
    assert_true(ev->wall_time == WALL);
    assert_int_equal(ev->step, STEP);
    assert_int_equal(ev->n_bad_values, 0);
    assert_int_equal(ev->n_values, 1);
    const struct tb_value *v = &ev->values[0];
    assert_string_equal(v->tag, x->v.tag);
    assert_non_null(v->plugin_name);
    assert_non_null(v->display_name);
    assert_non_null(v->description);
    /* only the fast path may leave out the message: for scalars, or with the value's wire
     * bytes kept instead */
    if (v->kind != TB_KIND_SCALAR || ev->pb)
        assert_true(v->pb != NULL || (v->kind == TB_KIND_TENSOR && v->raw.len > 0));
    return v;
}

static void assert_bytes(struct tb_bytes b, const void *want, size_t len)
{
    assert_int_equal(b.len, len);
    if (len)
        assert_memory_equal(b.data, want, len);
}

/* ---- scalars ---- */

static void test_simple_value(void **state)
{
    struct fx *f = *state;
    struct val x;
    val_init(&x, "loss/train", NULL, 0);
    x.v.value_case = VCASE(SIMPLE_VALUE);
    x.v.simple_value = 0.25f;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_SCALAR);
    assert_int_equal(v->source, TB_SRC_SIMPLE_VALUE);
    assert_string_equal(v->plugin_name, "scalars");
    assert_int_equal(v->data_class, DC(SCALAR));
    same_double(v->scalar, 0.25);
    assert_string_equal(v->display_name, "");
    assert_string_equal(v->description, "");
}

static void test_tf2_float_scalar(void **state)
{
    struct fx *f = *state;
    struct val x;
    float fv = 3.5f;
    val_init(&x, "new_style/loss", "scalars", DC(SCALAR));
    x.md.display_name = "Loss";
    x.md.summary_description = "training loss";
    val_tensor(&x, DT(FLOAT), 0, NULL);
    x.t.n_float_val = 1;
    x.t.float_val = &fv;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_SCALAR);
    assert_int_equal(v->source, TB_SRC_TENSOR);
    assert_string_equal(v->plugin_name, "scalars");
    assert_string_equal(v->display_name, "Loss");
    assert_string_equal(v->description, "training loss");
    same_double(v->scalar, 3.5);
    assert_int_equal(v->tensor.dtype, DT(FLOAT));
    assert_int_equal(v->tensor.rank, 0);
    assert_int_equal(v->tensor.n_elements, 1);

    /* The same scalar packed in tensor_content, and without data_class (older writers). */
    val_init(&x, "packed", "scalars", 0);
    val_tensor(&x, DT(FLOAT), 0, NULL);
    float pv = -7.125f;
    x.t.tensor_content = (ProtobufCBinaryData){sizeof(pv), (uint8_t *)&pv};
    v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_SCALAR);
    same_double(v->scalar, -7.125);
    assert_int_equal(v->data_class, DC(SCALAR));
}

static void test_tf2_double_scalar(void **state)
{
    struct fx *f = *state;
    struct val x;
    double dv = 0.1; /* not representable as a float: the double must survive exactly */
    val_init(&x, "new_style/loss_f64", "scalars", DC(SCALAR));
    val_tensor(&x, DT(DOUBLE), 0, NULL);
    x.t.n_double_val = 1;
    x.t.double_val = &dv;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_SCALAR);
    same_double(v->scalar, 0.1);
}

/* data_class SCALAR and no plugin: still a scalar, and non-finite values survive. */
static void test_scalar_data_class_non_finite(void **state)
{
    struct fx *f = *state;
    const float fvals[3] = {NAN, INFINITY, -INFINITY};
    const double dvals[3] = {NAN, INFINITY, -INFINITY};
    struct val xs[6];
    struct val *pv[6];
    char tags[6][8];
    for (int i = 0; i < 6; i++) {
        snprintf(tags[i], sizeof(tags[i]), "s%d", i);
        val_init(&xs[i], tags[i], NULL, DC(SCALAR));
        if (i < 3) {
            val_tensor(&xs[i], DT(FLOAT), 0, NULL);
            xs[i].t.n_float_val = 1;
            xs[i].t.float_val = (float *)&fvals[i];
        } else {
            val_tensor(&xs[i], DT(DOUBLE), 0, NULL);
            xs[i].t.n_double_val = 1;
            xs[i].t.double_val = (double *)&dvals[i - 3];
        }
        pv[i] = &xs[i];
    }
    struct tb_event ev;
    struct tb_problem p = {0};
    assert_int_equal(decode_vals(f, pv, 6, &ev, &p), 0);
    assert_int_equal(ev.n_bad_values, 0);
    assert_int_equal(ev.n_values, 6);
    for (int i = 0; i < 6; i++) {
        const struct tb_value *v = &ev.values[i];
        assert_string_equal(v->tag, tags[i]);
        assert_int_equal(v->kind, TB_KIND_SCALAR);
        assert_int_equal(v->data_class, DC(SCALAR));
        assert_string_equal(v->plugin_name, "");
        same_double(v->scalar, dvals[i % 3]);
        if (i % 3)
            assert_true(isinf(v->scalar) && (v->scalar > 0) == (i % 3 == 1));
    }
}

/* Scalars of the other numeric dtypes become the right double. */
static void test_scalar_other_dtypes(void **state)
{
    struct fx *f = *state;
    struct val x;
    struct tb_event ev;
    const struct tb_value *v;

    int64_t i64 = -(INT64_C(1) << 40);
    val_init(&x, "i64", "scalars", 0);
    val_tensor(&x, DT(INT64), 0, NULL);
    x.t.n_int64_val = 1;
    x.t.int64_val = &i64;
    v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_SCALAR);
    same_double(v->scalar, -1099511627776.0);

    int32_t i8 = -3;
    val_init(&x, "i8", "scalars", 0);
    val_tensor(&x, DT(INT8), 0, NULL);
    x.t.n_int_val = 1;
    x.t.int_val = &i8;
    v = decode_one(f, &x, &ev);
    same_double(v->scalar, -3.0);

    int32_t half = 0xc100; /* IEEE half -2.5 */
    val_init(&x, "half", "scalars", 0);
    val_tensor(&x, DT(HALF), 0, NULL);
    x.t.n_half_val = 1;
    x.t.half_val = &half;
    v = decode_one(f, &x, &ev);
    same_double(v->scalar, -2.5);

    int32_t bf = 0x3fc0; /* bfloat16 1.5 */
    val_init(&x, "bf16", "scalars", 0);
    val_tensor(&x, DT(BFLOAT16), 0, NULL);
    x.t.n_half_val = 1;
    x.t.half_val = &bf;
    v = decode_one(f, &x, &ev);
    same_double(v->scalar, 1.5);
}

/* ---- histograms ---- */

static void test_histo(void **state)
{
    struct fx *f = *state;
    double limits[3] = {0.0, 1.0, 1.7976931348623157e308};
    double counts[3] = {1.0, 2.0, 3.0};
    Tensorboard__HistogramProto h = TENSORBOARD__HISTOGRAM_PROTO__INIT;
    h.min = -1.5;
    h.max = 4.0;
    h.num = 6;
    h.n_bucket_limit = 3;
    h.bucket_limit = limits;
    h.n_bucket = 3;
    h.bucket = counts;
    struct val x;
    val_init(&x, "weights", NULL, 0);
    x.v.value_case = VCASE(HISTO);
    x.v.histo = &h;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_TENSOR);
    assert_int_equal(v->source, TB_SRC_HISTO);
    assert_string_equal(v->plugin_name, "histograms");
    assert_int_equal(v->data_class, DC(TENSOR));
    assert_int_equal(v->tensor.dtype, DT(DOUBLE));
    assert_int_equal(v->tensor.rank, 2);
    assert_int_equal(v->tensor.dims[0], 3);
    assert_int_equal(v->tensor.dims[1], 3);
    assert_int_equal(v->tensor.n_elements, 9);
    /* [left, right, count] rows: lefts [min, limits...], rights [..., max] */
    const double want[9] = {-1.5, 0.0, 1.0, 0.0, 1.0, 2.0, 1.0, 4.0, 3.0};
    assert_bytes(v->tensor.content, want, sizeof(want));
}

/* ---- images and audio ---- */

static const uint8_t PNG1[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 1, 2, 3};
static const uint8_t PNG2[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 9, 8};

static void test_tf1_image(void **state)
{
    struct fx *f = *state;
    Tensorboard__Summary__Image im = TENSORBOARD__SUMMARY__IMAGE__INIT;
    im.width = 640;
    im.height = 480;
    im.colorspace = 3;
    im.encoded_image_string = (ProtobufCBinaryData){sizeof(PNG1), (uint8_t *)PNG1};
    struct val x;
    val_init(&x, "input/image/0", NULL, 0);
    x.v.value_case = VCASE(IMAGE);
    x.v.image = &im;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_BLOB_SEQUENCE);
    assert_int_equal(v->source, TB_SRC_IMAGE);
    assert_string_equal(v->plugin_name, "images");
    assert_int_equal(v->data_class, DC(BLOB_SEQUENCE));
    assert_int_equal(v->width, 640);
    assert_int_equal(v->height, 480);
    assert_int_equal(v->n_blobs, 1);
    assert_bytes(v->blobs[0], PNG1, sizeof(PNG1));
    assert_null(v->labels);
}

static void test_tf1_audio(void **state)
{
    struct fx *f = *state;
    static const uint8_t wav[] = {'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'A', 'V', 'E'};
    Tensorboard__Summary__Audio au = TENSORBOARD__SUMMARY__AUDIO__INIT;
    au.sample_rate = 16000;
    au.num_channels = 1;
    au.length_frames = 2;
    au.encoded_audio_string = (ProtobufCBinaryData){sizeof(wav), (uint8_t *)wav};
    au.content_type = "audio/wav";
    struct val x;
    val_init(&x, "speech", NULL, 0);
    x.v.value_case = VCASE(AUDIO);
    x.v.audio = &au;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_BLOB_SEQUENCE);
    assert_int_equal(v->source, TB_SRC_AUDIO);
    assert_string_equal(v->plugin_name, "audio");
    assert_int_equal(v->n_blobs, 1);
    assert_bytes(v->blobs[0], wav, sizeof(wav));
}

static ProtobufCBinaryData bin(const void *p, size_t n)
{
    return (ProtobufCBinaryData){n, (uint8_t *)p};
}

static ProtobufCBinaryData str(const char *s)
{
    return bin(s, strlen(s));
}

/* TF2 image summaries: a string vector [width, height, png, png, ...]. */
static void test_tf2_images(void **state)
{
    struct fx *f = *state;
    ProtobufCBinaryData s[4] = {str("28"), str("14"), bin(PNG1, sizeof(PNG1)),
                                bin(PNG2, sizeof(PNG2))};
    struct val x;
    val_init(&x, "digits", "images", DC(BLOB_SEQUENCE));
    val_tensor(&x, DT(STRING), 1, (int64_t[]){4});
    x.t.n_string_val = 4;
    x.t.string_val = s;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_BLOB_SEQUENCE);
    assert_int_equal(v->source, TB_SRC_TENSOR);
    assert_int_equal(v->width, 28);
    assert_int_equal(v->height, 14);
    assert_int_equal(v->n_blobs, 2);
    assert_bytes(v->blobs[0], PNG1, sizeof(PNG1));
    assert_bytes(v->blobs[1], PNG2, sizeof(PNG2));
    assert_null(v->labels);
}

/* TF2 audio summaries: an [n, 2] string matrix of (encoded audio, label) rows. */
static void test_tf2_audio(void **state)
{
    struct fx *f = *state;
    ProtobufCBinaryData s[6] = {str("wav-one"), str("label one"), str("wav-two"),
                                str(""),        str("wav-three"), str("**three**")};
    struct val x;
    val_init(&x, "clips", "audio", DC(BLOB_SEQUENCE));
    val_tensor(&x, DT(STRING), 2, (int64_t[]){3, 2});
    x.t.n_string_val = 6;
    x.t.string_val = s;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_BLOB_SEQUENCE);
    assert_int_equal(v->n_blobs, 3);
    assert_non_null(v->labels);
    for (int i = 0; i < 3; i++) {
        assert_bytes(v->blobs[i], s[2 * i].data, s[2 * i].len);
        assert_bytes(v->labels[i], s[2 * i + 1].data, s[2 * i + 1].len);
    }
}

/* ---- tensors ---- */

static void check_text(struct fx *f, int rank, const int64_t *dims, size_t n)
{
    ProtobufCBinaryData s[4] = {str("hello"), str("| a | b |\n|---|---|"), str(""),
                                str("\xc3\xa9t\xc3\xa9")};
    struct val x;
    val_init(&x, "notes", "text", DC(TENSOR));
    val_tensor(&x, DT(STRING), rank, dims);
    x.t.n_string_val = n;
    x.t.string_val = s;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_TENSOR);
    assert_int_equal(v->source, TB_SRC_TENSOR);
    assert_string_equal(v->plugin_name, "text");
    assert_int_equal(v->tensor.dtype, DT(STRING));
    assert_int_equal(v->tensor.rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(v->tensor.dims[i], dims[i]);
    assert_int_equal(v->tensor.n_elements, n);
    assert_int_equal(v->tensor.n_strings, n);
    for (size_t i = 0; i < n; i++)
        assert_bytes(v->tensor.strings[i], s[i].data, s[i].len);
}

static void test_text_ranks(void **state)
{
    check_text(*state, 0, NULL, 1);
    check_text(*state, 1, (int64_t[]){3}, 3);
    check_text(*state, 2, (int64_t[]){2, 2}, 4);
}

static void test_tensor_content_packed(void **state)
{
    struct fx *f = *state;
    const float vals[6] = {0.5f, 1.5f, -2.0f, 3.25f, 1e-3f, 7.0f};
    struct val x;
    val_init(&x, "pr", "pr_curves", 0);
    val_tensor(&x, DT(FLOAT), 2, (int64_t[]){2, 3});
    x.t.tensor_content = bin(vals, sizeof(vals));
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_TENSOR);
    assert_int_equal(v->data_class, DC(TENSOR));
    assert_int_equal(v->tensor.dtype, DT(FLOAT));
    assert_int_equal(v->tensor.rank, 2);
    assert_int_equal(v->tensor.dims[0], 2);
    assert_int_equal(v->tensor.dims[1], 3);
    assert_int_equal(v->tensor.n_elements, 6);
    assert_bytes(v->tensor.content, vals, sizeof(vals));

    const int64_t ivals[3] = {-1, 0, INT64_MAX};
    val_init(&x, "ints", "custom", 0);
    val_tensor(&x, DT(INT64), 1, (int64_t[]){3});
    x.t.tensor_content = bin(ivals, sizeof(ivals));
    v = decode_one(f, &x, &ev);
    assert_int_equal(v->tensor.n_elements, 3);
    assert_bytes(v->tensor.content, ivals, sizeof(ivals));
}

/* TensorFlow fills a shape from the typed field by repeating its last value. */
static void test_typed_values_fill_shape(void **state)
{
    struct fx *f = *state;
    struct val x;
    struct tb_event ev;
    const struct tb_value *v;

    float fv[2] = {1.0f, 2.0f};
    val_init(&x, "filled", "custom", 0);
    val_tensor(&x, DT(FLOAT), 2, (int64_t[]){2, 3});
    x.t.n_float_val = 2;
    x.t.float_val = fv;
    v = decode_one(f, &x, &ev);
    assert_int_equal(v->tensor.n_elements, 6);
    const float want[6] = {1, 2, 2, 2, 2, 2};
    assert_bytes(v->tensor.content, want, sizeof(want));

    /* A whole int8 tensor from one int_val, as tf.fill writes it. */
    int32_t iv = -5;
    val_init(&x, "int8", "custom", 0);
    val_tensor(&x, DT(INT8), 1, (int64_t[]){4});
    x.t.n_int_val = 1;
    x.t.int_val = &iv;
    v = decode_one(f, &x, &ev);
    const int8_t want8[4] = {-5, -5, -5, -5};
    assert_bytes(v->tensor.content, want8, sizeof(want8));

    /* Exactly as many values as the shape: copied as they are. */
    double dv[3] = {0.1, 0.2, 0.3};
    val_init(&x, "double", "custom", 0);
    val_tensor(&x, DT(DOUBLE), 1, (int64_t[]){3});
    x.t.n_double_val = 3;
    x.t.double_val = dv;
    v = decode_one(f, &x, &ev);
    assert_bytes(v->tensor.content, dv, sizeof(dv));

    /* bool */
    protobuf_c_boolean bv[2] = {1, 0};
    val_init(&x, "bool", "custom", 0);
    val_tensor(&x, DT(BOOL), 1, (int64_t[]){3});
    x.t.n_bool_val = 2;
    x.t.bool_val = bv;
    v = decode_one(f, &x, &ev);
    const uint8_t wantb[3] = {1, 0, 0};
    assert_bytes(v->tensor.content, wantb, sizeof(wantb));
}

/* Fill-to-shape is held to TB_TENSOR_FILL_RATIO times the tensor's bytes and to
 * TB_TENSOR_FILL_MAX (issue 12: a 70-byte record asking for [1000000] floats). */
static void test_fill_limits(void **state)
{
    struct fx *f = *state;
    float one = 1.5f;
    struct val big, good;
    val_init(&big, "big", "custom", 0);
    val_tensor(&big, DT(FLOAT), 1, (int64_t[]){1000000});
    big.t.n_float_val = 1;
    big.t.float_val = &one;
    val_init(&good, "good", NULL, 0);
    good.v.value_case = VCASE(SIMPLE_VALUE);
    good.v.simple_value = 9;
    struct val *pv[2] = {&big, &good};
    struct tb_event ev;
    struct tb_problem p = {0};
    assert_int_equal(decode_vals(f, pv, 2, &ev, &p), 0);
    assert_int_equal(ev.n_bad_values, 1);
    assert_int_equal(ev.n_values, 1);
    assert_string_equal(ev.values[0].tag, "good");
    assert_int_equal(p.kind, TB_PROBLEM_BAD_VALUE);
    assert_non_null(strstr(p.message, "'big'"));
    assert_non_null(strstr(p.message, "filling its shape of 1000000 elements"));
    assert_non_null(strstr(p.message, "4000000"));

    /* The same from the record's wire bytes: a summary of about 70 bytes. */
    size_t wire = tensorboard__tensor_proto__get_packed_size(&big.t);
    assert_true(wire < 30);

    /* At the ratio: wire * RATIO bytes of floats are kept, one element more is not. */
    size_t ok_elems = 0;
    for (int64_t n = 1; n < 100000; n++) {
        struct val x;
        val_init(&x, "ratio", "custom", 0);
        val_tensor(&x, DT(FLOAT), 1, (int64_t[]){n});
        x.t.n_float_val = 1;
        x.t.float_val = &one;
        size_t w = tensorboard__tensor_proto__get_packed_size(&x.t);
        if ((size_t)n * 4 / TB_TENSOR_FILL_RATIO > w)
            break;
        ok_elems = (size_t)n;
    }
    assert_true(ok_elems > 100);
    for (int k = 0; k < 2; k++) {
        struct val x;
        int64_t n = (int64_t)ok_elems + k;
        val_init(&x, "ratio", "custom", 0);
        val_tensor(&x, DT(FLOAT), 1, (int64_t[]){n});
        x.t.n_float_val = 1;
        x.t.float_val = &one;
        struct val *one_v[1] = {&x};
        assert_int_equal(decode_vals(f, one_v, 1, &ev, &p), 0);
        assert_int_equal(ev.n_values, k == 0 ? 1 : 0);
        if (k == 0) {
            assert_int_equal(ev.values[0].tensor.n_elements, n);
            for (int64_t i = 0; i < n; i++)
                assert_memory_equal(ev.values[0].tensor.content.data + 4 * i, &one, 4);
        }
    }

    /* The absolute cap: a tensor with many values (so the ratio allows it) may still not fill
     * past TB_TENSOR_FILL_MAX; written out whole, the same size is kept. */
    size_t have = TB_TENSOR_FILL_MAX / 4 / 8;
    float *vals = calloc(have, sizeof(float));
    assert_non_null(vals);
    struct val cap;
    val_init(&cap, "cap", "custom", 0);
    val_tensor(&cap, DT(FLOAT), 1, (int64_t[]){TB_TENSOR_FILL_MAX / 4 + 1});
    cap.t.n_float_val = have;
    cap.t.float_val = vals;
    struct val *cv[1] = {&cap};
    assert_int_equal(decode_vals(f, cv, 1, &ev, &p), 0);
    assert_int_equal(ev.n_values, 0);
    assert_non_null(strstr(p.message, "past the limits"));
    val_tensor(&cap, DT(FLOAT), 1, (int64_t[]){TB_TENSOR_FILL_MAX / 4});
    cap.t.n_float_val = have;
    cap.t.float_val = vals;
    assert_int_equal(decode_vals(f, cv, 1, &ev, &p), 0);
    assert_int_equal(ev.n_values, 1);
    assert_int_equal(ev.values[0].tensor.content.len, TB_TENSOR_FILL_MAX);
    free(vals);
}

static void test_metadata_only_value(void **state)
{
    struct fx *f = *state;
    static const uint8_t content[] = {0x12, 0x04, 't', 'r', 'i', 'a', 0x00, 0xff};
    struct val x;
    val_init(&x, "_hparams_/session_start_info", "hparams", 0);
    x.pd.content = bin(content, sizeof(content));
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_TENSOR);
    assert_int_equal(v->source, TB_SRC_METADATA_ONLY);
    assert_string_equal(v->plugin_name, "hparams");
    assert_bytes(v->plugin_content, content, sizeof(content));
}

static void test_unknown_plugin_kept(void **state)
{
    struct fx *f = *state;
    float fv[3] = {1, 2, 3};
    struct val x;
    val_init(&x, "mine", "my_plugin_v7", 0);
    x.pd.content = str("opaque");
    val_tensor(&x, DT(FLOAT), 1, (int64_t[]){3});
    x.t.n_float_val = 3;
    x.t.float_val = fv;
    struct tb_event ev;
    const struct tb_value *v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_TENSOR);
    assert_string_equal(v->plugin_name, "my_plugin_v7");
    assert_bytes(v->plugin_content, "opaque", 6);
    assert_bytes(v->tensor.content, fv, sizeof(fv));

    /* An unknown plugin with a rank-0 float and no data class is not guessed to be a scalar. */
    float one = 1;
    val_init(&x, "mine0", "my_plugin_v7", 0);
    val_tensor(&x, DT(FLOAT), 0, NULL);
    x.t.n_float_val = 1;
    x.t.float_val = &one;
    v = decode_one(f, &x, &ev);
    assert_int_equal(v->kind, TB_KIND_TENSOR);
}

/* ---- non-summary events ---- */

static void test_graph_events(void **state)
{
    struct fx *f = *state;
    static const uint8_t graph[] = {0x0a, 0x03, 'a', 'd', 'd', 0x12, 0x00, 0xff};
    struct tb_event ev;
    struct tb_problem p = {0};

    Tensorboard__Event e = TENSORBOARD__EVENT__INIT;
    e.wall_time = WALL;
    e.what_case = TENSORBOARD__EVENT__WHAT_GRAPH_DEF;
    e.graph_def = bin(graph, sizeof(graph));
    assert_int_equal(decode(f, &e, &ev, &p), 0);
    assert_int_equal(ev.kind, TB_EVENT_GRAPH_DEF);
    assert_int_equal(ev.n_values, 1);
    assert_string_equal(ev.values[0].tag, TB_TAG_RUN_GRAPH);
    assert_string_equal(ev.values[0].tag, "__run_graph__");
    assert_string_equal(ev.values[0].plugin_name, TB_PLUGIN_GRAPHS);
    assert_int_equal(ev.values[0].kind, TB_KIND_BLOB_SEQUENCE);
    assert_int_equal(ev.values[0].source, TB_SRC_GRAPH_DEF);
    assert_int_equal(ev.values[0].n_blobs, 1);
    assert_bytes(ev.values[0].blobs[0], graph, sizeof(graph));
    assert_null(ev.values[0].pb);

    e.what_case = TENSORBOARD__EVENT__WHAT_META_GRAPH_DEF;
    e.meta_graph_def = bin(graph, 5);
    assert_int_equal(decode(f, &e, &ev, &p), 0);
    assert_int_equal(ev.kind, TB_EVENT_META_GRAPH_DEF);
    assert_int_equal(ev.n_values, 1);
    assert_string_equal(ev.values[0].tag, "__meta_graph__");
    assert_int_equal(ev.values[0].source, TB_SRC_META_GRAPH_DEF);
    assert_bytes(ev.values[0].blobs[0], graph, 5);

    Tensorboard__TaggedRunMetadata rm = TENSORBOARD__TAGGED_RUN_METADATA__INIT;
    rm.tag = "step_100";
    rm.run_metadata = bin(graph + 2, 4);
    e.what_case = TENSORBOARD__EVENT__WHAT_TAGGED_RUN_METADATA;
    e.tagged_run_metadata = &rm;
    e.step = 100;
    assert_int_equal(decode(f, &e, &ev, &p), 0);
    assert_int_equal(ev.kind, TB_EVENT_TAGGED_RUN_METADATA);
    assert_int_equal(ev.step, 100);
    assert_int_equal(ev.n_values, 1);
    assert_string_equal(ev.values[0].tag, "step_100");
    assert_string_equal(ev.values[0].plugin_name, TB_PLUGIN_TAGGED_RUN_METADATA);
    assert_int_equal(ev.values[0].source, TB_SRC_RUN_METADATA);
    assert_int_equal(ev.values[0].n_blobs, 1);
    assert_bytes(ev.values[0].blobs[0], graph + 2, 4);
}

static void test_session_log_file_version_empty(void **state)
{
    struct fx *f = *state;
    struct tb_event ev;
    Tensorboard__Event e = TENSORBOARD__EVENT__INIT;
    e.wall_time = WALL;
    e.step = 7;

    Tensorboard__SessionLog sl = TENSORBOARD__SESSION_LOG__INIT;
    sl.status = TENSORBOARD__SESSION_LOG__SESSION_STATUS__START;
    e.what_case = TENSORBOARD__EVENT__WHAT_SESSION_LOG;
    e.session_log = &sl;
    assert_int_equal(decode(f, &e, &ev, NULL), 0);
    assert_int_equal(ev.kind, TB_EVENT_SESSION_LOG);
    assert_int_equal(ev.session_status, TENSORBOARD__SESSION_LOG__SESSION_STATUS__START);
    assert_int_equal(ev.step, 7);
    assert_int_equal(ev.n_values, 0);

    e.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
    e.file_version = "brain.Event:2";
    assert_int_equal(decode(f, &e, &ev, NULL), 0);
    assert_int_equal(ev.kind, TB_EVENT_FILE_VERSION);
    assert_string_equal(ev.file_version, "brain.Event:2");
    assert_true(ev.wall_time == WALL);

    e.what_case = TENSORBOARD__EVENT__WHAT__NOT_SET;
    assert_int_equal(decode(f, &e, &ev, NULL), 0);
    assert_int_equal(ev.kind, TB_EVENT_EMPTY);
    assert_null(ev.file_version);
    assert_int_equal(ev.n_values, 0);

    /* Zero bytes are a valid, empty Event. */
    assert_int_equal(decode_bytes(f, (const uint8_t *)"", 0, &ev, NULL), 0);
    assert_int_equal(ev.kind, TB_EVENT_EMPTY);
    assert_int_equal(ev.step, 0);
}

/* ---- bad input ---- */

static void test_non_finite_wall_time(void **state)
{
    struct fx *f = *state;
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        Tensorboard__Event e = TENSORBOARD__EVENT__INIT;
        e.wall_time = bad[i];
        e.step = 3;
        e.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
        e.file_version = "brain.Event:2";
        struct tb_event ev;
        memset(&ev, 0x5a, sizeof(ev));
        struct tb_event before = ev;
        struct tb_problem p = {0};
        assert_int_equal(decode(f, &e, &ev, &p), -EINVAL);
        assert_int_equal(p.kind, TB_PROBLEM_BAD_EVENT);
        assert_true(p.message[0] != '\0');
        /* out-parameters are written only on success */
        assert_memory_equal(&ev, &before, sizeof(ev));
    }
}

static void test_garbage_bytes(void **state)
{
    struct fx *f = *state;
    struct tb_event ev;
    struct tb_problem p = {0};
    static const uint8_t junk1[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_bytes(f, junk1, sizeof(junk1), &ev, &p), -EBADMSG);
    assert_int_equal(p.kind, TB_PROBLEM_BAD_PROTO);
    assert_true(p.message[0] != '\0');

    /* a length-delimited field claiming more bytes than there are */
    static const uint8_t junk2[] = {0x1a, 0x7f, 'b', 'r', 'a', 'i', 'n'};
    assert_int_equal(decode_bytes(f, junk2, sizeof(junk2), &ev, NULL), -EBADMSG);

    /* a real event cut short */
    Tensorboard__Event e = TENSORBOARD__EVENT__INIT;
    e.wall_time = WALL;
    e.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
    e.file_version = "brain.Event:2";
    uint8_t buf[64];
    size_t n = tensorboard__event__pack(&e, buf);
    memset(&p, 0, sizeof(p));
    assert_int_equal(decode_bytes(f, buf, n - 3, &ev, &p), -EBADMSG);
    assert_int_equal(p.kind, TB_PROBLEM_BAD_PROTO);
    /* a varint that never ends */
    static const uint8_t junk3[] = {0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                    0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(decode_bytes(f, junk3, sizeof(junk3), &ev, NULL), -EBADMSG);
}

/* One unusable value is dropped; the others in the same event are kept. */
static void test_bad_value_dropped_others_kept(void **state)
{
    struct fx *f = *state;
    float a = 1, c = 3;
    const float two[2] = {7, 8};
    struct val xa, xb, xc;
    val_init(&xa, "a", "scalars", 0);
    val_tensor(&xa, DT(FLOAT), 0, NULL);
    xa.t.n_float_val = 1;
    xa.t.float_val = &a;
    val_init(&xb, "b", "custom", 0);
    val_tensor(&xb, DT(FLOAT), 1, (int64_t[]){3}); /* 3 elements, content holds 2 */
    xb.t.tensor_content = bin(two, sizeof(two));
    val_init(&xc, "c", NULL, 0);
    xc.v.value_case = VCASE(SIMPLE_VALUE);
    xc.v.simple_value = c;
    struct val *pv[3] = {&xa, &xb, &xc};
    struct tb_event ev;
    struct tb_problem p = {0};
    assert_int_equal(decode_vals(f, pv, 3, &ev, &p), 0);
    assert_int_equal(ev.n_values, 2);
    assert_int_equal(ev.n_bad_values, 1);
    assert_string_equal(ev.values[0].tag, "a");
    same_double(ev.values[0].scalar, 1);
    assert_string_equal(ev.values[1].tag, "c");
    same_double(ev.values[1].scalar, 3);
    assert_int_equal(p.kind, TB_PROBLEM_BAD_VALUE);
    assert_non_null(strstr(p.message, "'b'"));
}

/* Each of these values cannot be used; the good one after them survives every time. */
static void test_bad_value_kinds(void **state)
{
    struct fx *f = *state;
    char long_tag[TB_NAME_MAX + 2];
    memset(long_tag, 't', sizeof(long_tag) - 1);
    long_tag[sizeof(long_tag) - 1] = 0;
    char long_plugin[TB_PLUGIN_NAME_MAX + 2];
    memset(long_plugin, 'p', sizeof(long_plugin) - 1);
    long_plugin[sizeof(long_plugin) - 1] = 0;
    const float fv[4] = {1, 2, 3, 4};
    ProtobufCBinaryData s2[2] = {str("x"), str("y")};

    struct val bad[9];
    val_init(&bad[0], long_tag, NULL, 0); /* tag over TB_NAME_MAX */
    bad[0].v.value_case = VCASE(SIMPLE_VALUE);
    val_init(&bad[1], "plugin", long_plugin, 0); /* plugin name over the limit */
    bad[1].v.value_case = VCASE(SIMPLE_VALUE);
    val_init(&bad[2], "strings", "text", 0); /* 3 strings by shape, 2 present */
    val_tensor(&bad[2], DT(STRING), 1, (int64_t[]){3});
    bad[2].t.n_string_val = 2;
    bad[2].t.string_val = s2;
    val_init(&bad[3], "ragged", "custom", 0); /* 6 bytes of float32 */
    val_tensor(&bad[3], DT(FLOAT), 1, (int64_t[]){1});
    bad[3].t.tensor_content = bin(fv, 6);
    val_init(&bad[4], "more", "custom", 0); /* 4 values for 2 elements */
    val_tensor(&bad[4], DT(FLOAT), 1, (int64_t[]){2});
    bad[4].t.n_float_val = 4;
    bad[4].t.float_val = (float *)fv;
    val_init(&bad[5], "none", "custom", 0); /* 2 elements, no values */
    val_tensor(&bad[5], DT(FLOAT), 1, (int64_t[]){2});
    val_init(&bad[6], "huge", "custom", 0); /* one value filling 2^30 x 4 elements */
    val_tensor(&bad[6], DT(FLOAT), 2, (int64_t[]){INT64_C(1) << 30, 4});
    bad[6].t.n_float_val = 1;
    bad[6].t.float_val = (float *)fv;
    val_init(&bad[7], "overflow", "custom", 0); /* element count past 2^64 */
    val_tensor(&bad[7], DT(FLOAT), 3, (int64_t[]){INT64_C(1) << 40, INT64_C(1) << 40, 16});
    bad[7].t.n_float_val = 1;
    bad[7].t.float_val = (float *)fv;
    val_init(&bad[8], "image", "images", 0); /* an image tensor without width and height */
    val_tensor(&bad[8], DT(STRING), 1, (int64_t[]){1});
    bad[8].t.n_string_val = 1;
    bad[8].t.string_val = s2;

    for (int i = 0; i < 9; i++) {
        struct val good;
        val_init(&good, "good", NULL, 0);
        good.v.value_case = VCASE(SIMPLE_VALUE);
        good.v.simple_value = 9;
        struct val *pv[2] = {&bad[i], &good};
        struct tb_event ev;
        struct tb_problem p = {0};
        assert_int_equal(decode_vals(f, pv, 2, &ev, &p), 0);
        if (ev.n_bad_values != 1)
            fail_msg("bad value %d was not dropped", i);
        assert_int_equal(ev.n_values, 1);
        assert_string_equal(ev.values[0].tag, "good");
        assert_int_equal(p.kind, TB_PROBLEM_BAD_VALUE);
    }

    /* Two bad values: both counted, the first described. */
    struct val *pv[3] = {&bad[3], &bad[4], &bad[5]};
    struct tb_event ev;
    struct tb_problem p = {0};
    assert_int_equal(decode_vals(f, pv, 3, &ev, &p), 0);
    assert_int_equal(ev.n_bad_values, 3);
    assert_int_equal(ev.n_values, 0);
    assert_non_null(strstr(p.message, "'ragged'"));
}

/* BUG (event.c, graph_value): a tagged_run_metadata tag becomes a value's tag but is not held
 * to TB_NAME_MAX ("longer tags are an error") the way summary tags are in value_of. */
static void test_run_metadata_long_tag(void **state)
{
    struct fx *f = *state;
    char long_tag[TB_NAME_MAX + 2];
    memset(long_tag, 'r', sizeof(long_tag) - 1);
    long_tag[sizeof(long_tag) - 1] = 0;
    Tensorboard__TaggedRunMetadata rm = TENSORBOARD__TAGGED_RUN_METADATA__INIT;
    rm.tag = long_tag;
    rm.run_metadata = str("rm");
    Tensorboard__Event e = TENSORBOARD__EVENT__INIT;
    e.wall_time = WALL;
    e.what_case = TENSORBOARD__EVENT__WHAT_TAGGED_RUN_METADATA;
    e.tagged_run_metadata = &rm;
    struct tb_event ev;
    struct tb_problem p = {0};
    int rc = decode(f, &e, &ev, &p);
    /* Either the event is refused or the value is dropped; a 1025-byte tag must not pass. */
    if (rc == 0) {
        if (ev.n_values != 0)
            fail_msg("BUG: a %zu-byte run-metadata tag was accepted", strlen(ev.values[0].tag));
        assert_int_equal(ev.n_bad_values, 1);
        assert_int_equal(p.kind, TB_PROBLEM_BAD_VALUE);
    } else {
        assert_true(rc < 0);
    }
}

/* ---- limits ---- */

static void test_small_arena_cap(void **state)
{
    (void)state;
    size_t n = 100000;
    uint8_t *blob = malloc(n);
    assert_non_null(blob);
    memset(blob, 0x42, n);
    Tensorboard__Summary__Image im = TENSORBOARD__SUMMARY__IMAGE__INIT;
    im.encoded_image_string = bin(blob, n);
    struct val x;
    val_init(&x, "big", NULL, 0);
    x.v.value_case = VCASE(IMAGE);
    x.v.image = &im;
    Tensorboard__Summary__Value *pv[1] = {&x.v};
    Tensorboard__Summary s = TENSORBOARD__SUMMARY__INIT;
    s.n_value = 1;
    s.value = pv;
    Tensorboard__Event e = TENSORBOARD__EVENT__INIT;
    e.wall_time = WALL;
    e.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    e.summary = &s;
    size_t len = tensorboard__event__get_packed_size(&e);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    tensorboard__event__pack(&e, buf);

    struct tb_arena a;
    tb_arena_init(&a, 4096);
    struct tb_event ev;
    struct tb_problem p = {0};
    assert_int_equal(tb_event_decode(buf, len, &a, &ev, &p), -E2BIG);
    assert_true(p.kind != TB_PROBLEM_NONE);
    assert_true(p.message[0] != '\0');
    assert_true(a.used <= a.cap);
    tb_arena_reset(&a);
    assert_int_equal(tb_event_decode_pb(buf, len, &a, &ev, &p), -E2BIG);
    assert_true(a.used <= a.cap);
    tb_arena_done(&a);
    /* a big enough arena decodes the same record */
    tb_arena_init(&a, 1 << 20);
    assert_int_equal(tb_event_decode(buf, len, &a, &ev, &p), 0);
    assert_int_equal(ev.n_values, 1);
    assert_bytes(ev.values[0].blobs[0], blob, n);
    tb_arena_done(&a);
    free(buf);
    free(blob);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* 10^6 empty Summary.Value entries in one 2 MB record: decoded or refused, within the cap,
 * and the same way by both decoding paths when the cap is far from what they need. */
static void test_million_empty_values(void **state)
{
    (void)state;
    size_t n_vals = 1000000, body = 2 * n_vals;
    uint8_t *buf = malloc(body + 16);
    assert_non_null(buf);
    size_t k = 0;
    buf[k++] = 0x2a; /* Event.summary, length-delimited */
    k += put_varint(buf + k, body);
    for (size_t i = 0; i < n_vals; i++) {
        buf[k++] = 0x0a; /* Summary.value */
        buf[k++] = 0x00; /* an empty Value */
    }
    struct tb_arena a;
    struct tb_event ev;
    struct tb_problem p = {0};

    /* A tight cap: refused cleanly by both. */
    tb_arena_init(&a, 8 << 20);
    assert_int_equal(tb_event_decode(buf, k, &a, &ev, &p), -E2BIG);
    assert_true(a.used <= a.cap);
    tb_arena_reset(&a);
    assert_int_equal(tb_event_decode_pb(buf, k, &a, &ev, &p), -E2BIG);
    assert_true(a.used <= a.cap);
    tb_arena_done(&a);

    /* The default cap: bounded either way. */
    tb_arena_init(&a, 0);
    int rc = tb_event_decode(buf, k, &a, &ev, &p);
    assert_true(rc == 0 || rc == -E2BIG);
    assert_true(a.used <= a.cap);
    assert_true(a.cap <= TB_DECODE_ARENA_MAX);
    if (rc == 0)
        assert_int_equal(ev.n_values + ev.n_bad_values, n_vals);
    tb_arena_done(&a);

    /* A generous cap: both decode every value. */
    tb_arena_init(&a, (size_t)2 << 30);
    assert_int_equal(tb_event_decode(buf, k, &a, &ev, &p), 0);
    assert_int_equal(ev.n_values, n_vals);
    assert_int_equal(ev.values[n_vals - 1].source, TB_SRC_METADATA_ONLY);
    tb_arena_done(&a);
    free(buf);
}

/*
 * A record the fast path starts on and then leaves to protobuf-c (10000 simple values, then
 * an empty one) must fit any cap that tb_event_decode_pb fits in.
 * BUG (event.c, tb_event_decode / fast_decode): the fast path's allocations (the value array,
 * 10001 x sizeof(struct tb_value), and the tags) stay charged to the caller's arena when it
 * gives up, so tb_event_decode fails with -E2BIG under a cap tb_event_decode_pb fits in, and
 * uses that much more memory whenever it falls back. (With the old 512 MiB default, the
 * 10^6-empty-values record above decoded with tb_event_decode_pb and failed with
 * tb_event_decode.)
 */
static void test_fallback_fits_same_cap(void **state)
{
    (void)state;
    enum { N = 10000 };
    size_t cap = (size_t)N * 16 + 64;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t body = 0;
    uint8_t *p = buf + 8;
    for (int i = 0; i < N; i++) {
        /* Value { tag: "s<i>", simple_value: i } */
        char tag[8];
        int tl = snprintf(tag, sizeof(tag), "s%d", i);
        uint8_t *v = p + body;
        size_t n = 0;
        v[n++] = 0x0a;
        v[n++] = (uint8_t)(2 + tl + 5);
        v[n++] = 0x0a;
        v[n++] = (uint8_t)tl;
        memcpy(v + n, tag, (size_t)tl);
        n += (size_t)tl;
        v[n++] = 0x15;
        float x = (float)i;
        memcpy(v + n, &x, 4);
        n += 4;
        body += n;
    }
    p[body++] = 0x0a; /* one empty Value: not a scalar, so the fast path gives up */
    p[body++] = 0x00;
    uint8_t hdr[8];
    size_t h = 0;
    hdr[h++] = 0x2a;
    h += put_varint(hdr + h, body);
    uint8_t *rec = p - h;
    memcpy(rec, hdr, h);
    size_t len = h + body;

    struct tb_arena a;
    struct tb_event ev;
    struct tb_problem pr = {0};
    tb_arena_init(&a, (size_t)1 << 30);
    assert_int_equal(tb_event_decode_pb(rec, len, &a, &ev, &pr), 0);
    assert_int_equal(ev.n_values, N + 1);
    size_t need = a.used;
    tb_arena_done(&a);

    /* one arena block of slack for the fast path's own bookkeeping */
    tb_arena_init(&a, need + TB_DECODE_ARENA_BLOCK);
    int rc = tb_event_decode(rec, len, &a, &ev, &pr);
    size_t used = a.used;
    tb_arena_done(&a);
    free(buf);
    if (rc != 0)
        fail_msg("BUG: tb_event_decode returned %d under a cap of %zu bytes; "
                 "tb_event_decode_pb needs %zu",
                 rc, need + TB_DECODE_ARENA_BLOCK, need);
    assert_int_equal(ev.n_values, N + 1);
    assert_true(used <= need + TB_DECODE_ARENA_BLOCK);
}

/* ---- the scalar fast path against protobuf-c, on hand-made wire bytes ---- */

struct wire {
    uint8_t b[4096];
    size_t n;
};

static void w_raw(struct wire *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof(w->b));
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void w_varint(struct wire *w, uint64_t v)
{
    uint8_t tmp[10];
    w_raw(w, tmp, put_varint(tmp, v));
}

static void w_key(struct wire *w, unsigned field, unsigned wt)
{
    w_varint(w, (uint64_t)field << 3 | wt);
}

static void w_bytes(struct wire *w, unsigned field, const void *p, size_t n)
{
    w_key(w, field, 2);
    w_varint(w, n);
    w_raw(w, p, n);
}

static void w_msg(struct wire *w, unsigned field, const struct wire *m)
{
    w_bytes(w, field, m->b, m->n);
}

static void w_f32(struct wire *w, unsigned field, float v)
{
    w_key(w, field, 5);
    w_raw(w, &v, 4);
}

static void w_f64(struct wire *w, unsigned field, double v)
{
    w_key(w, field, 1);
    w_raw(w, &v, 8);
}

/* An Event {wall_time, step, summary {value...}} around already-encoded values. */
static void w_event(struct wire *out, int64_t step, const struct wire *const *vals, size_t n)
{
    struct wire sum = {0};
    for (size_t i = 0; i < n; i++)
        w_msg(&sum, 1, vals[i]);
    memset(out, 0, sizeof(*out));
    w_f64(out, 1, WALL);
    w_key(out, 2, 0);
    w_varint(out, (uint64_t)step);
    w_msg(out, 5, &sum);
}

/* Metadata {plugin_data {plugin_name}, data_class}. */
static void w_meta(struct wire *m, const char *plugin, uint64_t data_class)
{
    struct wire pd = {0};
    memset(m, 0, sizeof(*m));
    if (plugin) {
        w_bytes(&pd, 1, plugin, strlen(plugin));
        w_msg(m, 1, &pd);
    }
    if (data_class) {
        w_key(m, 4, 0);
        w_varint(m, data_class);
    }
}

/* Decodes through both paths (decode_bytes compares them) and returns the event. */
static int decode_wire(struct fx *f, const struct wire *w, struct tb_event *ev)
{
    return decode_bytes(f, w->b, w->n, ev, NULL);
}

static void test_fast_path_agrees(void **state)
{
    struct fx *f = *state;
    struct wire v1, v2, v3, t, m, e, shape;
    struct tb_event ev;
    const struct wire *vals[3];

    /* simple_value, negative step (a 10-byte varint), node_name and a second tag */
    memset(&v1, 0, sizeof(v1));
    w_bytes(&v1, 7, "node", 4);
    w_bytes(&v1, 1, "first", 5);
    w_f32(&v1, 2, 1.5f);
    vals[0] = &v1;
    w_event(&e, -3, vals, 1);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_int_equal(ev.step, -3);
    assert_string_equal(ev.values[0].tag, "first");
    w_bytes(&v1, 1, "second", 6); /* proto3: the last one wins */
    w_event(&e, 1, vals, 1);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_string_equal(ev.values[0].tag, "second");

    /* a scalars-plugin float tensor, float_val unpacked (wire type 5) and packed */
    memset(&t, 0, sizeof(t));
    w_key(&t, 1, 0);
    w_varint(&t, DT(FLOAT));
    memset(&shape, 0, sizeof(shape));
    w_msg(&t, 2, &shape);
    w_f32(&t, 5, 2.25f);
    memset(&v2, 0, sizeof(v2));
    w_bytes(&v2, 1, "t", 1);
    w_meta(&m, "scalars", 0);
    w_msg(&v2, 9, &m);
    w_msg(&v2, 8, &t);
    vals[0] = &v1;
    vals[1] = &v2;
    w_event(&e, 2, vals, 2);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_int_equal(ev.n_values, 2);
    same_double(ev.values[1].scalar, 2.25);

    float two[2] = {4.0f, 5.0f};
    memset(&t, 0, sizeof(t));
    w_key(&t, 1, 0);
    w_varint(&t, DT(FLOAT));
    w_bytes(&t, 5, two, 4); /* packed, one element */
    memset(&v3, 0, sizeof(v3));
    w_bytes(&v3, 1, "p", 1);
    w_meta(&m, NULL, DC(SCALAR));
    w_msg(&v3, 9, &m);
    w_msg(&v3, 8, &t);
    vals[0] = &v3;
    w_event(&e, 3, vals, 1);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    same_double(ev.values[0].scalar, 4.0);

    /* two floats for a rank-0 tensor: dropped by both */
    memset(&t, 0, sizeof(t));
    w_key(&t, 1, 0);
    w_varint(&t, DT(FLOAT));
    w_bytes(&t, 5, two, 8);
    memset(&v3, 0, sizeof(v3));
    w_bytes(&v3, 1, "two", 3);
    w_meta(&m, "scalars", 0);
    w_msg(&v3, 9, &m);
    w_msg(&v3, 8, &t);
    vals[0] = &v3;
    vals[1] = &v1;
    w_event(&e, 4, vals, 2);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_int_equal(ev.n_values, 1);
    assert_int_equal(ev.n_bad_values, 1);

    /* tensor_content and float_val both present: tensor_content is used */
    float c = -1.0f;
    memset(&t, 0, sizeof(t));
    w_key(&t, 1, 0);
    w_varint(&t, DT(FLOAT));
    w_bytes(&t, 4, &c, 4);
    w_f32(&t, 5, 9.0f);
    memset(&v3, 0, sizeof(v3));
    w_bytes(&v3, 1, "both", 4);
    w_meta(&m, "scalars", DC(SCALAR));
    w_msg(&v3, 9, &m);
    w_msg(&v3, 8, &t);
    vals[0] = &v3;
    w_event(&e, 5, vals, 1);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    same_double(ev.values[0].scalar, -1.0);

    /* an int32 scalar, an unknown data class, a display name */
    memset(&t, 0, sizeof(t));
    w_key(&t, 1, 0);
    w_varint(&t, DT(INT32));
    w_key(&t, 7, 0);
    w_varint(&t, 17);
    memset(&v3, 0, sizeof(v3));
    w_bytes(&v3, 1, "int", 3);
    w_meta(&m, "scalars", 7);
    w_bytes(&m, 2, "Shown", 5);
    w_msg(&v3, 9, &m);
    w_msg(&v3, 8, &t);
    vals[0] = &v3;
    w_event(&e, 6, vals, 1);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_int_equal(ev.n_values, 1);
    assert_string_equal(ev.values[0].display_name, "Shown");

    /* a tag of exactly TB_NAME_MAX bytes is kept, one more is dropped */
    static char tag[TB_NAME_MAX + 1];
    memset(tag, 'k', sizeof(tag));
    memset(&v3, 0, sizeof(v3));
    w_bytes(&v3, 1, tag, TB_NAME_MAX);
    w_f32(&v3, 2, 1.0f);
    vals[0] = &v3;
    w_event(&e, 7, vals, 1);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_int_equal(ev.n_values, 1);
    memset(&v3, 0, sizeof(v3));
    w_bytes(&v3, 1, tag, TB_NAME_MAX + 1);
    w_f32(&v3, 2, 1.0f);
    w_event(&e, 7, vals, 1);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_int_equal(ev.n_values, 0);
    assert_int_equal(ev.n_bad_values, 1);

    /* an unknown field in the Event, and source_metadata */
    memset(&v3, 0, sizeof(v3));
    w_bytes(&v3, 1, "u", 1);
    w_f32(&v3, 2, 3.0f);
    vals[0] = &v3;
    w_event(&e, 8, vals, 1);
    struct wire sm = {0};
    w_bytes(&sm, 1, "writer", 6);
    w_msg(&e, 10, &sm);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    w_key(&e, 15, 0);
    w_varint(&e, 1);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_int_equal(ev.n_values, 1);

    /* an empty summary */
    w_event(&e, 9, vals, 0);
    assert_int_equal(decode_wire(f, &e, &ev), 0);
    assert_int_equal(ev.kind, TB_EVENT_SUMMARY);
    assert_int_equal(ev.n_values, 0);

    /* a simple value cut short: both refuse the record */
    memset(&v3, 0, sizeof(v3));
    w_bytes(&v3, 1, "cut", 3);
    w_f32(&v3, 2, 3.0f);
    w_event(&e, 10, vals, 1);
    e.n -= 2;
    assert_int_equal(decode_wire(f, &e, &ev), -EBADMSG);
}

/* Deeply nested unknown fields and groups: no recursion blow-up, no crash. */
/* The uploader's cheap look at tags agrees with a decode on the cases that matter. */
static void test_tags_ok(void **state)
{
    (void)state;
    struct wire v, e;
    const struct wire *vals[2];
    memset(&v, 0, sizeof(v));
    w_bytes(&v, 1, "loss", 4);
    w_f32(&v, 2, 1.0f);
    vals[0] = &v;
    w_event(&e, 3, vals, 1);
    assert_int_equal(tb_event_tags_ok(e.b, e.n, TB_NAME_MAX), 1);
    assert_int_equal(tb_event_tags_ok(e.b, e.n, 3), 0); /* over this limit */
    memset(&v, 0, sizeof(v));
    w_bytes(&v, 1, "a\tb", 3);
    w_f32(&v, 2, 1.0f);
    w_event(&e, 3, vals, 1);
    assert_int_equal(tb_event_tags_ok(e.b, e.n, TB_NAME_MAX), 0); /* a control character */
    memset(&v, 0, sizeof(v));
    w_bytes(&v, 1, "\xff\xfe", 2);
    w_event(&e, 3, vals, 1);
    assert_int_equal(tb_event_tags_ok(e.b, e.n, TB_NAME_MAX), 0); /* not UTF-8 */
    memset(&v, 0, sizeof(v));
    w_f32(&v, 2, 1.0f); /* no tag: "" */
    w_event(&e, 3, vals, 1);
    assert_int_equal(tb_event_tags_ok(e.b, e.n, TB_NAME_MAX), 1);
    static const uint8_t graph[] = {0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x22, 0x02, 0x0a, 0x00};
    assert_int_equal(tb_event_tags_ok(graph, sizeof(graph), TB_NAME_MAX), -1); /* graph_def */
    static const uint8_t junk[] = {0x2a, 0x7f};
    assert_int_equal(tb_event_tags_ok(junk, sizeof(junk), TB_NAME_MAX), -1);
}

static void check_form(const struct tb_value *v, bool hist)
{
    assert_string_equal(v->plugin_name, hist ? "histograms" : "scalars");
    if (hist) {
        assert_int_equal(v->kind, TB_KIND_TENSOR);
        assert_int_equal(v->tensor.rank, 2);
        assert_int_equal(v->tensor.dims[0], 30);
        assert_int_equal(v->tensor.dims[1], 3);
        assert_true(v->raw.len > 0);
    } else {
        assert_int_equal(v->kind, TB_KIND_SCALAR);
        assert_true(v->scalar == 1.25); /* in every dtype, half included */
    }
}

/* Every scalar and histogram encoding real writers emit (tests/tools/scalar_forms.c writes them
 * into the fuzz corpus as form-<name>[-first]): each takes the fast path (no `pb`), agrees
 * with protobuf-c's, and when it carries no metadata becomes what its tag's first metadata
 * makes of it, as protobuf-c's values do. */
static void test_every_writer_form(void **state)
{
    struct fx *f = *state;
    const char *dir = getenv("TBDEV_FORMS_DIR");
    if (!dir) {
        skip();
        return;
    }
    static const char *const forms[] = {
        "simple",         "content", "content_nodc",    "float_val", "float_val_every",
        "float_unpacked", "double",  "double_unpacked", "half",      "hist_double",
        "hist_float",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
        for (int first = 0; first < 2; first++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/form-%s%s", dir, forms[i], first ? "-first" : "");
            FILE *in = fopen(path, "rb");
            assert_non_null(in);
            uint8_t buf[4096];
            size_t n = fread(buf, 1, sizeof(buf), in);
            fclose(in);
            struct tb_event ev;
            assert_int_equal(decode_bytes(f, buf, n, &ev, NULL), 0);
            assert_int_equal(ev.n_values, 1);
            struct tb_value *v = &ev.values[0];
            bool hist = !strncmp(forms[i], "hist", 4);
            assert_null(v->pb); /* the fast path read it */
            bool bare = !first && (!strcmp(forms[i], "float_val") || !strcmp(forms[i], "double") ||
                                   !strcmp(forms[i], "half") || !strcmp(forms[i], "hist_float"));
            if (bare) { /* a tensor until its tag's first metadata is known */
                assert_int_equal(v->kind, TB_KIND_TENSOR);
                assert_false(v->has_metadata);
                assert_true(v->raw.len > 0);
                struct tb_meta_cache mc, mc_pb;
                tb_meta_cache_init(&mc);
                tb_meta_cache_init(&mc_pb);
                struct tb_tag_meta m = {hist ? "histograms" : "scalars", NULL, 0, "", "", 0};
                assert_int_equal(tb_meta_cache_put(&mc, v->tag, &m), 0);
                assert_int_equal(tb_meta_cache_put(&mc_pb, v->tag, &m), 0);
                assert_int_equal(tb_meta_cache_apply(&mc, &ev, &f->arena, NULL), 0);
                assert_int_equal(tb_meta_cache_apply(&mc_pb, &f->ev_pb, &f->arena_pb, NULL), 0);
                same_event(&ev, &f->ev_pb);
                /* the value may now point into the cache (event.h): done after the checks */
                check_form(v, hist);
                tb_meta_cache_done(&mc);
                tb_meta_cache_done(&mc_pb);
                continue;
            }
            check_form(v, hist);
        }
}

static void test_deep_unknown_nesting(void **state)
{
    struct fx *f = *state;
    /* Field 15 (unknown to Event), length-delimited, nested `depth` times. Layer 0 is the
     * innermost; content[i] is the length of layer i's content. */
    size_t depth = 100000;
    size_t *content = malloc((depth + 1) * sizeof(*content));
    assert_non_null(content);
    uint8_t vb[10];
    content[0] = 0;
    for (size_t i = 0; i < depth; i++)
        content[i + 1] = 1 + put_varint(vb, content[i]) + content[i];
    size_t len = content[depth];
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    size_t k = 0;
    for (size_t i = depth; i-- > 0;) {
        buf[k++] = 0x7a; /* field 15, wire type 2 */
        k += put_varint(buf + k, content[i]);
    }
    assert_int_equal(k, len);
    struct tb_event ev;
    struct tb_problem p = {0};
    int rc = decode_bytes(f, buf, len, &ev, &p);
    assert_true(rc == 0 || rc == -EBADMSG);
    if (rc == 0)
        assert_int_equal(ev.kind, TB_EVENT_EMPTY);

    /* 200000 start-group tags (wire type 3) inside a summary value. */
    size_t groups = 200000;
    uint8_t *g = malloc(groups + 32);
    assert_non_null(g);
    size_t inner = 1 + put_varint(vb, groups) + groups; /* the Summary's content */
    k = 0;
    g[k++] = 0x2a; /* Event.summary */
    k += put_varint(g + k, inner);
    g[k++] = 0x0a; /* Summary.value */
    k += put_varint(g + k, groups);
    memset(g + k, 0x7b, groups); /* field 15, start group */
    k += groups;
    rc = decode_bytes(f, g, k, &ev, &p);
    assert_true(rc == 0 || rc == -EBADMSG);
    free(g);
    free(buf);
    free(content);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tb_kind_name(TB_KIND_SCALAR), "scalar");
    assert_string_equal(tb_kind_name(TB_KIND_TENSOR), "tensor");
    assert_string_equal(tb_kind_name(TB_KIND_BLOB_SEQUENCE), "blob_sequence");
    assert_string_equal(tb_dtype_name(DT(FLOAT)), "DT_FLOAT");
    assert_string_equal(tb_dtype_name(DT(STRING)), "DT_STRING");
    assert_string_equal(tb_dtype_name(9999), "DT_UNKNOWN");
    assert_int_equal(tb_dtype_size(DT(FLOAT)), 4);
    assert_int_equal(tb_dtype_size(DT(DOUBLE)), 8);
    assert_int_equal(tb_dtype_size(DT(HALF)), 2);
    assert_int_equal(tb_dtype_size(DT(UINT8)), 1);
    assert_int_equal(tb_dtype_size(DT(COMPLEX128)), 16);
    assert_int_equal(tb_dtype_size(DT(STRING)), 0);
    assert_int_equal(tb_dtype_size(DT(RESOURCE)), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_simple_value),
        T(test_tf2_float_scalar),
        T(test_tf2_double_scalar),
        T(test_scalar_data_class_non_finite),
        T(test_scalar_other_dtypes),
        T(test_histo),
        T(test_tf1_image),
        T(test_tf1_audio),
        T(test_tf2_images),
        T(test_tf2_audio),
        T(test_text_ranks),
        T(test_tensor_content_packed),
        T(test_typed_values_fill_shape),
        T(test_fill_limits),
        T(test_metadata_only_value),
        T(test_unknown_plugin_kept),
        T(test_graph_events),
        T(test_session_log_file_version_empty),
        T(test_non_finite_wall_time),
        T(test_garbage_bytes),
        T(test_bad_value_dropped_others_kept),
        T(test_bad_value_kinds),
        T(test_run_metadata_long_tag),
        T(test_small_arena_cap),
        T(test_million_empty_values),
        T(test_fallback_fits_same_cap),
        T(test_fast_path_agrees),
        T(test_every_writer_form),
        T(test_tags_ok),
        T(test_deep_unknown_nesting),
        T(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
