/* SPDX-License-Identifier: MIT */
/* Writes the fuzzers' seed corpus: small events of every summary form, framed and not. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "tensorboard/event.pb-c.h"
#include "tfrecord.h"

/*
 * Usage: fuzz_make_seeds CORPUS_DIR (or `ninja -C BUILD fuzz-seeds`)
 * Writes CORPUS_DIR/event/<name> (one Event payload each, for fuzz_event) and
 * CORPUS_DIR/tfrecord/<name> (event files, for fuzz_tfrecord, fuzz_tfrecord_tail and
 * fuzz_event_file). Every seed is made here; none is copied from a real run.
 */

#define MAX_FILE (64u << 10)
#define N_PAYLOADS 64

struct payload {
    const char *name;
    uint8_t *data;
    size_t len;
};

static struct payload payloads[N_PAYLOADS];
static size_t n_payloads;
static const char *corpus;
static int failed;

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", corpus, dir);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        perror(path);
        failed = 1;
        return;
    }
    snprintf(path, sizeof(path), "%s/%s/%s", corpus, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        failed = 1;
    }
}

/* Packs ev, keeps it for the framed files, and writes it as an event seed. */
static const struct payload *add_event(const char *name, const Tensorboard__Event *ev)
{
    if (n_payloads == N_PAYLOADS)
        abort();
    struct payload *p = &payloads[n_payloads++];
    p->name = name;
    p->len = tensorboard__event__get_packed_size(ev);
    p->data = malloc(p->len ? p->len : 1);
    if (!p->data)
        abort();
    tensorboard__event__pack(ev, p->data);
    write_file("event", name, p->data, p->len);
    return p;
}

static const struct payload *find(const char *name)
{
    for (size_t i = 0; i < n_payloads; i++)
        if (!strcmp(payloads[i].name, name))
            return &payloads[i];
    abort();
}

/* An event file being built. */
struct file {
    uint8_t data[MAX_FILE];
    size_t len;
};

static void put(struct file *f, const void *data, size_t len)
{
    if (len > MAX_FILE - f->len)
        abort();
    memcpy(f->data + f->len, data, len);
    f->len += len;
}

static void frame(struct file *f, const char *name)
{
    const struct payload *p = find(name);
    if (p->len + 16 > MAX_FILE - f->len)
        abort();
    tb_tfrecord_frame(p->data, p->len, f->data + f->len);
    f->len += p->len + 16;
}

/* A header with a valid length CRC for any length, and no payload. */
static void header(struct file *f, uint64_t len)
{
    uint8_t h[12];
    memcpy(h, &len, 8);
    uint32_t c = tb_crc32c_masked(h, 8);
    memcpy(h + 8, &c, 4);
    put(f, h, sizeof(h));
}

static void zeros(struct file *f, size_t n)
{
    static const uint8_t z[4096];
    put(f, z, n);
}

/* Building blocks for events. Everything here lives until the program exits. */

static Tensorboard__Summary__Value *value(const char *tag, const char *plugin, int data_class)
{
    Tensorboard__Summary__Value *v = calloc(1, sizeof(*v));
    if (!v)
        abort();
    tensorboard__summary__value__init(v);
    v->tag = (char *)tag;
    if (plugin || data_class) {
        Tensorboard__SummaryMetadata *md = calloc(1, sizeof(*md));
        if (!md)
            abort();
        tensorboard__summary_metadata__init(md);
        md->data_class = data_class;
        if (plugin) {
            md->plugin_data = calloc(1, sizeof(*md->plugin_data));
            if (!md->plugin_data)
                abort();
            tensorboard__summary_metadata__plugin_data__init(md->plugin_data);
            md->plugin_data->plugin_name = (char *)plugin;
        }
        v->metadata = md;
    }
    return v;
}

static Tensorboard__TensorProto *tensor(int dtype, size_t rank, const int64_t *dims)
{
    Tensorboard__TensorProto *t = calloc(1, sizeof(*t));
    Tensorboard__TensorShapeProto *s = calloc(1, sizeof(*s));
    if (!t || !s)
        abort();
    tensorboard__tensor_proto__init(t);
    tensorboard__tensor_shape_proto__init(s);
    t->dtype = dtype;
    t->tensor_shape = s;
    s->n_dim = rank;
    s->dim = calloc(rank ? rank : 1, sizeof(*s->dim));
    if (!s->dim)
        abort();
    for (size_t i = 0; i < rank; i++) {
        s->dim[i] = calloc(1, sizeof(**s->dim));
        if (!s->dim[i])
            abort();
        tensorboard__tensor_shape_proto__dim__init(s->dim[i]);
        s->dim[i]->size = dims[i];
    }
    return t;
}

static void tensor_value(Tensorboard__Summary__Value *v, Tensorboard__TensorProto *t)
{
    v->value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
    v->tensor = t;
}

static ProtobufCBinaryData bin(const void *data, size_t len)
{
    return (ProtobufCBinaryData){len, (uint8_t *)data};
}

static void summary_event(const char *name, int64_t step, Tensorboard__Summary__Value **values,
                          size_t n)
{
    Tensorboard__Summary s = TENSORBOARD__SUMMARY__INIT;
    s.n_value = n;
    s.value = values;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = 1700000000.25 + (double)step;
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &s;
    add_event(name, &ev);
}

#define DT(x) TENSORBOARD__DATA_TYPE__DT_##x
#define DC(x) TENSORBOARD__DATA_CLASS__DATA_CLASS_##x
#define ONE(name, step, v)                                                                         \
    do {                                                                                           \
        Tensorboard__Summary__Value *one_[1] = {v};                                                \
        summary_event(name, step, one_, 1);                                                        \
    } while (0)

/* A 1x1 PNG's first bytes and a WAV header: enough to look like media. */
static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0,    0,
                              13,   'I', 'H', 'D', 'R',  0,    0,    0,    1,    0,    0,
                              0,    1,   8,   6,   0,    0,    0,    0x1f, 0x15, 0xc4, 0x89};
static const uint8_t wav[] = {'R', 'I', 'F',  'F',  36,  0,   0,    0,    'W', 'A', 'V',
                              'E', 'f', 'm',  't',  ' ', 16,  0,    0,    0,   1,   0,
                              1,   0,   0x40, 0x1f, 0,   0,   0x80, 0x3e, 0,   0,   2,
                              0,   16,  0,    'd',  'a', 't', 'a',  0,    0,   0,   0};

static void make_events(void)
{
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = 1700000000.0;
    ev.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
    ev.file_version = "brain.Event:2";
    add_event("file_version", &ev);

    /* TF1 and PyTorch scalars: simple_value, no metadata. */
    Tensorboard__Summary__Value *sv[2] = {value("loss", NULL, 0), value("acc", NULL, 0)};
    sv[0]->value_case = sv[1]->value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
    sv[0]->simple_value = 0.5f;
    sv[1]->simple_value = NAN;
    summary_event("simple_value", 1, sv, 2);

    /* TF2 scalars: a rank-0 tensor with the scalars plugin; and one from tensor_content. */
    Tensorboard__Summary__Value *v = value("tf2/loss", "scalars", DC(SCALAR));
    Tensorboard__TensorProto *t = tensor(DT(FLOAT), 0, NULL);
    static float f15 = 1.5f;
    t->n_float_val = 1;
    t->float_val = &f15;
    tensor_value(v, t);
    ONE("tf2_scalar", 2, v);

    v = value("tf2/lr", NULL, DC(SCALAR));
    t = tensor(DT(DOUBLE), 0, NULL);
    static const double d = 0.001;
    t->tensor_content = bin(&d, sizeof(d));
    tensor_value(v, t);
    ONE("tf2_scalar_content", 3, v);

    /* TF1 histogram. */
    Tensorboard__HistogramProto h = TENSORBOARD__HISTOGRAM_PROTO__INIT;
    static double limits[] = {0.0, 1.0, 2.0}, counts[] = {1, 2, 3};
    h.min = -1;
    h.max = 2;
    h.num = 6;
    h.sum = 5;
    h.sum_squares = 9;
    h.n_bucket_limit = 3;
    h.bucket_limit = limits;
    h.n_bucket = 3;
    h.bucket = counts;
    v = value("weights", NULL, 0);
    v->value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_HISTO;
    v->histo = &h;
    ONE("histo", 4, v);

    /* TF2 histogram: a [2,3] DT_DOUBLE tensor. */
    static const double cells[6] = {0, 1, 4, 1, 2, 5};
    v = value("tf2/weights", "histograms", 0);
    t = tensor(DT(DOUBLE), 2, (const int64_t[]){2, 3});
    t->tensor_content = bin(cells, sizeof(cells));
    tensor_value(v, t);
    ONE("tf2_histogram", 5, v);

    /* TF1 image and audio. */
    Tensorboard__Summary__Image im = TENSORBOARD__SUMMARY__IMAGE__INIT;
    im.width = 1;
    im.height = 1;
    im.colorspace = 4;
    im.encoded_image_string = bin(png, sizeof(png));
    v = value("image/0", NULL, 0);
    v->value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE;
    v->image = &im;
    ONE("image", 6, v);

    Tensorboard__Summary__Audio au = TENSORBOARD__SUMMARY__AUDIO__INIT;
    au.sample_rate = 8000;
    au.num_channels = 1;
    au.length_frames = 0;
    au.encoded_audio_string = bin(wav, sizeof(wav));
    au.content_type = "audio/wav";
    v = value("audio/0", NULL, 0);
    v->value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_AUDIO;
    v->audio = &au;
    ONE("audio", 7, v);

    /* TF2 image: a [2 + n] string tensor, width and height first. */
    static ProtobufCBinaryData img_strings[3] = {{1, (uint8_t *)"1"}, {1, (uint8_t *)"1"}};
    img_strings[2] = bin(png, sizeof(png));
    v = value("tf2/image", "images", DC(BLOB_SEQUENCE));
    t = tensor(DT(STRING), 1, (const int64_t[]){3});
    t->n_string_val = 3;
    t->string_val = img_strings;
    tensor_value(v, t);
    ONE("tf2_image", 8, v);

    /* TF2 audio: a [k, 2] string tensor of (clip, label). */
    static ProtobufCBinaryData au_strings[2] = {{0}, {5, (uint8_t *)"label"}};
    au_strings[0] = bin(wav, sizeof(wav));
    v = value("tf2/audio", "audio", 0);
    t = tensor(DT(STRING), 2, (const int64_t[]){1, 2});
    t->n_string_val = 2;
    t->string_val = au_strings;
    tensor_value(v, t);
    ONE("tf2_audio", 9, v);

    /* Text: a string tensor with the text plugin. */
    static ProtobufCBinaryData text[2] = {{5, (uint8_t *)"hello"}, {9, (uint8_t *)"**world**"}};
    v = value("notes", "text", 0);
    t = tensor(DT(STRING), 1, (const int64_t[]){2});
    t->n_string_val = 2;
    t->string_val = text;
    tensor_value(v, t);
    ONE("text", 10, v);

    /* hparams: metadata only, the content is the plugin's own protobuf. */
    v = value("_hparams_/session_start_info", "hparams", 0);
    static const uint8_t hp[] = {0x08, 0x00, 0x1a, 0x07, 0x0a, 0x02, 'l', 'r', 0x12, 0x01, '1'};
    v->metadata->plugin_data->content = bin(hp, sizeof(hp));
    v->metadata->display_name = "hparams";
    v->metadata->summary_description = "session start";
    ONE("hparams", 0, v);

    /* Graph events. */
    static const uint8_t graph[] = {0x0a, 0x0c, 0x0a, 0x01, 'x', 0x12, 0x07,
                                    'P',  'l',  'a',  'c',  'e', 'h',  'o'};
    ev = (Tensorboard__Event)TENSORBOARD__EVENT__INIT;
    ev.wall_time = 1700000001.0;
    ev.what_case = TENSORBOARD__EVENT__WHAT_GRAPH_DEF;
    ev.graph_def = bin(graph, sizeof(graph));
    add_event("graph_def", &ev);
    ev.what_case = TENSORBOARD__EVENT__WHAT_META_GRAPH_DEF;
    ev.meta_graph_def = bin(graph, sizeof(graph));
    add_event("meta_graph_def", &ev);
    Tensorboard__TaggedRunMetadata rm = TENSORBOARD__TAGGED_RUN_METADATA__INIT;
    rm.tag = "step1";
    rm.run_metadata = bin(graph, sizeof(graph));
    ev.what_case = TENSORBOARD__EVENT__WHAT_TAGGED_RUN_METADATA;
    ev.tagged_run_metadata = &rm;
    add_event("run_metadata", &ev);

    /* Session log and log message. */
    Tensorboard__SessionLog sl = TENSORBOARD__SESSION_LOG__INIT;
    sl.status = TENSORBOARD__SESSION_LOG__SESSION_STATUS__START;
    sl.msg = "restart";
    ev.what_case = TENSORBOARD__EVENT__WHAT_SESSION_LOG;
    ev.session_log = &sl;
    ev.step = 80;
    add_event("session_log", &ev);
    Tensorboard__LogMessage lm = TENSORBOARD__LOG_MESSAGE__INIT;
    lm.level = TENSORBOARD__LOG_MESSAGE__LEVEL__WARN;
    lm.message = "careful";
    ev.what_case = TENSORBOARD__EVENT__WHAT_LOG_MESSAGE;
    ev.log_message = &lm;
    add_event("log_message", &ev);

    /* An obsolete old-style histogram: kept as a blob. */
    v = value("old", NULL, 0);
    v->value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_OBSOLETE_OLD_STYLE_HISTOGRAM;
    v->obsolete_old_style_histogram = bin("old bytes", 9);
    ONE("old_histogram", 11, v);

    /* Typed fields of every width, and TensorFlow's "repeat the last value" fill. */
    Tensorboard__Summary__Value *tv[12];
    static int32_t i7 = 7, h1 = 0x3c00, bf = 0x3f80;
    static int64_t i64 = -5;
    static float cf[2] = {1, -1};
    static protobuf_c_boolean bools[2] = {1, 0};
    static uint32_t u32 = 4000000000u;
    static uint64_t u64 = 18000000000000000000u;
    static double dc[2] = {0.5, 0.25};
    tv[0] = value("int32_fill", NULL, 0);
    t = tensor(DT(INT32), 1, (const int64_t[]){4});
    t->n_int_val = 1;
    t->int_val = &i7;
    tensor_value(tv[0], t);
    tv[1] = value("half", "scalars", 0);
    t = tensor(DT(HALF), 0, NULL);
    t->n_half_val = 1;
    t->half_val = &h1;
    tensor_value(tv[1], t);
    tv[2] = value("bfloat16", "scalars", 0);
    t = tensor(DT(BFLOAT16), 0, NULL);
    t->n_half_val = 1;
    t->half_val = &bf;
    tensor_value(tv[2], t);
    tv[3] = value("complex64", NULL, 0);
    t = tensor(DT(COMPLEX64), 1, (const int64_t[]){1});
    t->n_scomplex_val = 2;
    t->scomplex_val = cf;
    tensor_value(tv[3], t);
    tv[4] = value("bool", NULL, 0);
    t = tensor(DT(BOOL), 1, (const int64_t[]){2});
    t->n_bool_val = 2;
    t->bool_val = bools;
    tensor_value(tv[4], t);
    tv[5] = value("int64", "scalars", 0);
    t = tensor(DT(INT64), 0, NULL);
    t->n_int64_val = 1;
    t->int64_val = &i64;
    tensor_value(tv[5], t);
    tv[6] = value("uint8", NULL, 0);
    t = tensor(DT(UINT8), 2, (const int64_t[]){1, 3});
    t->n_int_val = 1;
    t->int_val = &i7;
    tensor_value(tv[6], t);
    tv[7] = value("uint32", NULL, DC(SCALAR));
    t = tensor(DT(UINT32), 0, NULL);
    t->n_uint32_val = 1;
    t->uint32_val = &u32;
    tensor_value(tv[7], t);
    tv[8] = value("uint64", NULL, DC(SCALAR));
    t = tensor(DT(UINT64), 0, NULL);
    t->n_uint64_val = 1;
    t->uint64_val = &u64;
    tensor_value(tv[8], t);
    tv[9] = value("complex128", NULL, 0);
    t = tensor(DT(COMPLEX128), 0, NULL);
    t->n_dcomplex_val = 2;
    t->dcomplex_val = dc;
    tensor_value(tv[9], t);
    tv[10] = value("int16", "scalars", 0);
    t = tensor(DT(INT16), 0, NULL);
    t->n_int_val = 1;
    t->int_val = &i7;
    tensor_value(tv[10], t);
    tv[11] = value("int8", NULL, DC(SCALAR));
    t = tensor(DT(INT8), 0, NULL);
    t->n_int_val = 1;
    t->int_val = &i7;
    tensor_value(tv[11], t);
    summary_event("typed", 12, tv, 12);

    /* Shapes: unknown rank, an unknown dimension, deeper than the rank cap, resources. */
    Tensorboard__Summary__Value *sh[4];
    static float fv[3] = {1, 2, 3};
    sh[0] = value("unknown_rank", NULL, 0);
    t = tensor(DT(FLOAT), 0, NULL);
    t->tensor_shape->unknown_rank = 1;
    t->n_float_val = 3;
    t->float_val = fv;
    tensor_value(sh[0], t);
    sh[1] = value("unknown_dim", NULL, 0);
    t = tensor(DT(FLOAT), 2, (const int64_t[]){-1, 3});
    t->n_float_val = 3;
    t->float_val = fv;
    tensor_value(sh[1], t);
    int64_t deep[17];
    for (size_t i = 0; i < 17; i++)
        deep[i] = 1;
    sh[2] = value("deep", NULL, 0);
    t = tensor(DT(FLOAT), 17, deep);
    t->n_float_val = 1;
    t->float_val = fv;
    tensor_value(sh[2], t);
    sh[3] = value("resource", NULL, 0);
    tensor_value(sh[3], tensor(DT(RESOURCE), 1, (const int64_t[]){2}));
    summary_event("shapes", 13, sh, 4);

    /* Values the decoder must drop, one each, next to a good one. */
    static char long_tag[1100], long_plugin[200];
    memset(long_tag, 't', sizeof(long_tag) - 1);
    memset(long_plugin, 'p', sizeof(long_plugin) - 1);
    static const uint8_t five[5] = {1, 2, 3, 4, 5};
    Tensorboard__Summary__Value *bad[9];
    bad[0] = value(long_tag, NULL, 0);
    bad[0]->value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
    bad[1] = value("long_plugin", long_plugin, 0);
    bad[2] = value("content_not_whole", NULL, 0);
    t = tensor(DT(FLOAT), 0, NULL);
    t->tensor_content = bin(five, 5);
    tensor_value(bad[2], t);
    bad[3] = value("strings_vs_shape", "text", 0);
    t = tensor(DT(STRING), 1, (const int64_t[]){3});
    t->n_string_val = 2;
    t->string_val = text;
    tensor_value(bad[3], t);
    bad[4] = value("image_no_dims", "images", 0);
    t = tensor(DT(STRING), 1, (const int64_t[]){1});
    t->n_string_val = 1;
    t->string_val = text;
    tensor_value(bad[4], t);
    bad[5] = value("shape_overflow", NULL, 0);
    t = tensor(DT(FLOAT), 3, (const int64_t[]){1ll << 40, 1ll << 40, 1ll << 40});
    t->n_float_val = 1;
    t->float_val = fv;
    tensor_value(bad[5], t);
    bad[6] = value("past_cap", NULL, 0);
    t = tensor(DT(DOUBLE), 1, (const int64_t[]){1ll << 30});
    t->n_double_val = 2;
    t->double_val = dc;
    tensor_value(bad[6], t);
    bad[7] = value("too_many_values", NULL, 0);
    t = tensor(DT(FLOAT), 1, (const int64_t[]){2});
    t->n_float_val = 3;
    t->float_val = fv;
    tensor_value(bad[7], t);
    bad[8] = value("good", NULL, 0);
    bad[8]->value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
    bad[8]->simple_value = 1;
    summary_event("bad_values", 14, bad, 9);

    /* Events the decoder must refuse. */
    ev = (Tensorboard__Event)TENSORBOARD__EVENT__INIT;
    ev.wall_time = NAN;
    ev.step = 15;
    ev.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
    ev.file_version = "brain.Event:1";
    add_event("nan_wall_time", &ev);
    const struct payload *p = find("tf2_histogram");
    write_file("event", "truncated", p->data, p->len / 2);
    static const uint8_t bad_varint[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    write_file("event", "bad_varint", bad_varint, sizeof(bad_varint));
    Tensorboard__Event empty = TENSORBOARD__EVENT__INIT;
    add_event("empty", &empty); /* a valid Event: zero bytes */
}

static void make_files(void)
{
    static struct file f;
    const char *all[] = {"file_version", "simple_value", "tf2_scalar", "histo",    "image",
                         "audio",        "text",         "hparams",    "graph_def"};

    f.len = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
        frame(&f, all[i]);
    write_file("tfrecord", "good", f.data, f.len);

    /* A payload CRC flipped, then a good record. */
    f.len = 0;
    frame(&f, "simple_value");
    f.data[f.len - 1] ^= 0x01;
    frame(&f, "tf2_scalar");
    write_file("tfrecord", "data_crc", f.data, f.len);

    /* A length CRC flipped, then a good record to resynchronise on. */
    f.len = 0;
    frame(&f, "simple_value");
    f.data[8] ^= 0x80;
    frame(&f, "tf2_scalar");
    write_file("tfrecord", "length_crc", f.data, f.len);

    /* The file ends inside a record (a writer mid-flush). */
    f.len = 0;
    frame(&f, "file_version");
    frame(&f, "histo");
    write_file("tfrecord", "truncated", f.data, f.len - 20);

    /* A hole of zeros between records, and zeros to the end. */
    f.len = 0;
    frame(&f, "file_version");
    zeros(&f, 32);
    frame(&f, "image");
    write_file("tfrecord", "zero_hole", f.data, f.len);
    f.len = 0;
    frame(&f, "file_version");
    zeros(&f, 64);
    write_file("tfrecord", "zero_tail", f.data, f.len);

    /* A length of 2^40 with a valid length CRC: in the middle, and at the end. */
    f.len = 0;
    frame(&f, "file_version");
    header(&f, (uint64_t)1 << 40);
    put(&f, "\0\0\0\0", 4);
    frame(&f, "tf2_scalar");
    write_file("tfrecord", "len_2_40", f.data, f.len);
    f.len = 0;
    frame(&f, "file_version");
    header(&f, (uint64_t)1 << 40);
    write_file("tfrecord", "len_2_40_end", f.data, f.len);

    /* Zero-length records (a valid empty Event), garbage before a record. */
    f.len = 0;
    for (int i = 0; i < 3; i++)
        frame(&f, "empty");
    write_file("tfrecord", "empty_records", f.data, f.len);
    f.len = 0;
    put(&f, "garbage before the first record", 31);
    frame(&f, "file_version");
    frame(&f, "tf2_image");
    write_file("tfrecord", "garbage_prefix", f.data, f.len);

    /* Graph events and the other event kinds, and values that are dropped. */
    f.len = 0;
    frame(&f, "meta_graph_def");
    frame(&f, "run_metadata");
    frame(&f, "session_log");
    frame(&f, "log_message");
    frame(&f, "tf2_audio");
    frame(&f, "tf2_histogram");
    write_file("tfrecord", "kinds", f.data, f.len);
    f.len = 0;
    frame(&f, "typed");
    frame(&f, "shapes");
    frame(&f, "bad_values");
    frame(&f, "nan_wall_time");
    write_file("tfrecord", "values", f.data, f.len);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 1;
    }
    corpus = argv[1];
    if (mkdir(corpus, 0755) < 0 && errno != EEXIST) {
        perror(corpus);
        return 1;
    }
    make_events();
    make_files();
    return failed;
}
