/* SPDX-License-Identifier: MIT */
/* Writes an example logdir with tbdev's own writer: scalars, histograms, images, audio, text. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "buf.h"
#include "writer.h"

/*
 * Usage: tbdev-example-logs DIR [--steps N]
 * Creates DIR/train and DIR/eval (and DIR itself) like a small training job would, with:
 *   train: loss, accuracy, learning_rate (TF2 scalars), loss_tf1 (TF1 simple_value),
 *          weights (TF1 histogram), samples (TF1 PNG images), tone (TF1 WAV audio),
 *          notes (TF2 markdown text);
 *   eval:  loss, accuracy (TF2 scalars).
 * Existing files in DIR are left alone; new event files get new names, so running it again
 * adds a second set of files (TensorBoard reads both).
 */

#define DT_STRING 7

static void put_be32(struct tb_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    tb_buf_add(b, p, 4);
}

static void png_chunk(struct tb_buf *b, const char *type, const uint8_t *data, size_t len)
{
    put_be32(b, (uint32_t)len);
    size_t at = b->len;
    tb_buf_add(b, type, 4);
    if (len)
        tb_buf_add(b, data, len);
    uLong crc = crc32(0, b->data + at, (uInt)(len + 4));
    put_be32(b, (uint32_t)crc);
}

/* An 8-bit RGB PNG of a w x h gradient that moves with the step. */
static int make_png(struct tb_buf *out, int w, int h, int step)
{
    size_t raw_len = (size_t)h * (1 + 3 * (size_t)w);
    uint8_t *raw = malloc(raw_len);
    uLongf z_len = compressBound((uLong)raw_len);
    uint8_t *z = malloc(z_len);
    if (!raw || !z) {
        free(raw);
        free(z);
        return -ENOMEM;
    }
    for (int y = 0; y < h; y++) {
        uint8_t *row = raw + (size_t)y * (1 + 3 * (size_t)w);
        row[0] = 0; /* filter: none */
        for (int x = 0; x < w; x++) {
            row[1 + 3 * x] = (uint8_t)(x * 255 / w);
            row[2 + 3 * x] = (uint8_t)(y * 255 / h);
            row[3 + 3 * x] = (uint8_t)(step * 40);
        }
    }
    int rc = compress(z, &z_len, raw, (uLong)raw_len) == Z_OK ? 0 : -EIO;
    if (rc == 0) {
        static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        uint8_t ihdr[13] = {0};
        ihdr[0] = (uint8_t)(w >> 24), ihdr[1] = (uint8_t)(w >> 16);
        ihdr[2] = (uint8_t)(w >> 8), ihdr[3] = (uint8_t)w;
        ihdr[4] = (uint8_t)(h >> 24), ihdr[5] = (uint8_t)(h >> 16);
        ihdr[6] = (uint8_t)(h >> 8), ihdr[7] = (uint8_t)h;
        ihdr[8] = 8; /* bit depth */
        ihdr[9] = 2; /* colour type: RGB */
        tb_buf_add(out, sig, sizeof(sig));
        png_chunk(out, "IHDR", ihdr, sizeof(ihdr));
        png_chunk(out, "IDAT", z, z_len);
        png_chunk(out, "IEND", NULL, 0);
        rc = out->err;
    }
    free(raw);
    free(z);
    return rc;
}

static void put_le(struct tb_buf *b, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        tb_buf_addc(b, (char)(v >> (8 * i)));
}

/* A mono 16-bit PCM WAV: a tone whose pitch rises with the step. */
static int make_wav(struct tb_buf *out, int rate, double secs, double hz)
{
    uint32_t n = (uint32_t)(rate * secs);
    tb_buf_adds(out, "RIFF");
    put_le(out, 36 + 2 * n, 4);
    tb_buf_adds(out, "WAVEfmt ");
    put_le(out, 16, 4);
    put_le(out, 1, 2); /* PCM */
    put_le(out, 1, 2); /* mono */
    put_le(out, (uint32_t)rate, 4);
    put_le(out, (uint32_t)rate * 2, 4);
    put_le(out, 2, 2);
    put_le(out, 16, 2);
    tb_buf_adds(out, "data");
    put_le(out, 2 * n, 4);
    for (uint32_t i = 0; i < n; i++) {
        double s = 0.3 * sin(2 * M_PI * hz * i / rate);
        put_le(out, (uint32_t)(uint16_t)(int16_t)(s * 32767), 2);
    }
    return out->err;
}

static int write_summary(struct tb_writer *w, double t, int64_t step,
                         Tensorboard__Summary__Value *v)
{
    Tensorboard__Summary__Value *vals[1] = {v};
    Tensorboard__Summary sum = TENSORBOARD__SUMMARY__INIT;
    sum.n_value = 1;
    sum.value = vals;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = t;
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return tb_writer_event(w, &ev);
}

static int write_histogram(struct tb_writer *w, double t, int64_t step, const char *tag,
                           double center)
{
    enum { K = 30 };
    double limits[K], counts[K];
    double lo = center - 3, width = 6.0 / K;
    double num = 0, sum = 0, sumsq = 0;
    for (int i = 0; i < K; i++) {
        double mid = lo + (i + 0.5) * width;
        limits[i] = lo + (i + 1) * width;
        counts[i] = floor(1000 * exp(-0.5 * (mid - center) * (mid - center)) / 2.5);
        num += counts[i];
        sum += counts[i] * mid;
        sumsq += counts[i] * mid * mid;
    }
    Tensorboard__HistogramProto h = TENSORBOARD__HISTOGRAM_PROTO__INIT;
    h.min = lo;
    h.max = lo + 6;
    h.num = num;
    h.sum = sum;
    h.sum_squares = sumsq;
    h.n_bucket_limit = K;
    h.bucket_limit = limits;
    h.n_bucket = K;
    h.bucket = counts;
    Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_HISTO;
    v.histo = &h;
    return write_summary(w, t, step, &v);
}

static int write_image(struct tb_writer *w, double t, int64_t step, const char *tag)
{
    struct tb_buf png;
    tb_buf_init(&png, 1 << 20);
    int rc = make_png(&png, 64, 48, (int)step);
    if (rc == 0) {
        Tensorboard__Summary__Image im = TENSORBOARD__SUMMARY__IMAGE__INIT;
        im.width = 64;
        im.height = 48;
        im.colorspace = 3;
        im.encoded_image_string = (ProtobufCBinaryData){png.len, png.data};
        Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
        v.tag = (char *)tag;
        v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE;
        v.image = &im;
        rc = write_summary(w, t, step, &v);
    }
    tb_buf_done(&png);
    return rc;
}

static int write_audio(struct tb_writer *w, double t, int64_t step, const char *tag)
{
    struct tb_buf wav;
    tb_buf_init(&wav, 1 << 20);
    int rate = 8000;
    int rc = make_wav(&wav, rate, 0.5, 220.0 * (1 + (double)step / 10));
    if (rc == 0) {
        Tensorboard__Summary__Audio au = TENSORBOARD__SUMMARY__AUDIO__INIT;
        au.sample_rate = (float)rate;
        au.num_channels = 1;
        au.length_frames = rate / 2;
        au.content_type = "audio/wav";
        au.encoded_audio_string = (ProtobufCBinaryData){wav.len, wav.data};
        Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
        v.tag = (char *)tag;
        v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_AUDIO;
        v.audio = &au;
        rc = write_summary(w, t, step, &v);
    }
    tb_buf_done(&wav);
    return rc;
}

static int write_text(struct tb_writer *w, double t, int64_t step, const char *tag,
                      const char *markdown)
{
    Tensorboard__SummaryMetadata__PluginData pd = TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = "text";
    Tensorboard__SummaryMetadata md = TENSORBOARD__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    md.data_class = TENSORBOARD__DATA_CLASS__DATA_CLASS_TENSOR;
    Tensorboard__TensorShapeProto shape = TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
    ProtobufCBinaryData s = {strlen(markdown), (uint8_t *)markdown};
    Tensorboard__TensorProto tp = TENSORBOARD__TENSOR_PROTO__INIT;
    tp.dtype = DT_STRING;
    tp.tensor_shape = &shape;
    tp.n_string_val = 1;
    tp.string_val = &s;
    Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.metadata = &md;
    v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
    v.tensor = &tp;
    return write_summary(w, t, step, &v);
}

static int open_run(const char *dir, const char *run, double t0, unsigned n, struct tb_writer **w)
{
    char path[4096], name[512];
    snprintf(path, sizeof(path), "%s/%s", dir, run);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -errno;
    if (tb_writer_file_name(name, sizeof(name), t0, n) < 0)
        return -E2BIG;
    snprintf(path, sizeof(path), "%s/%s/%s", dir, run, name);
    return tb_writer_open(path, t0, w);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s DIR [--steps N]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int steps = argc > 3 && !strcmp(argv[2], "--steps") ? atoi(argv[3]) : 200;
    if (steps < 1)
        steps = 200;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    double t0 = 1.7e9;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        t0 = (double)ts.tv_sec;
    static unsigned seq;
    struct tb_writer *train = NULL, *eval = NULL;
    int rc = open_run(dir, "train", t0, seq++, &train);
    if (rc == 0)
        rc = open_run(dir, "eval", t0, seq++, &eval);
    for (int s = 0; rc == 0 && s < steps; s++) {
        double t = t0 + s * 0.5;
        double loss = 2.0 * exp(-s / (steps / 4.0)) + 0.05 * sin(s / 3.0);
        double acc = 1 - 0.9 * exp(-s / (steps / 5.0));
        rc = tb_writer_scalar(train, t, s, "loss", (float)loss);
        rc = rc ? rc : tb_writer_scalar(train, t, s, "accuracy", (float)acc);
        rc = rc ? rc : tb_writer_scalar(train, t, s, "learning_rate", (float)(1e-3 * pow(0.99, s)));
        rc = rc ? rc : tb_writer_simple_value(train, t, s, "loss_tf1", (float)loss);
        if (!rc && s % 10 == 0) {
            rc = tb_writer_scalar(eval, t, s, "loss", (float)(loss * 1.1 + 0.02));
            rc = rc ? rc : tb_writer_scalar(eval, t, s, "accuracy", (float)(acc * 0.97));
            rc = rc ? rc : write_histogram(train, t, s, "weights", (double)s / steps * 2);
        }
        if (!rc && s % (steps / 4 > 0 ? steps / 4 : 1) == 0) {
            char md[256];
            snprintf(md, sizeof(md),
                     "**Step %d**: loss is *%.3f*.\n\n| metric | value |\n|---|---|\n"
                     "| accuracy | %.3f |",
                     s, loss, acc);
            rc = write_image(train, t, s, "samples");
            rc = rc ? rc : write_audio(train, t, s, "tone");
            rc = rc ? rc : write_text(train, t, s, "notes", md);
        }
    }
    int rc2 = tb_writer_close(train);
    int rc3 = tb_writer_close(eval);
    rc = rc ? rc : rc2 ? rc2 : rc3;
    if (rc < 0) {
        fprintf(stderr, "writing example logs in %s failed: %s\n", dir, strerror(-rc));
        return 1;
    }
    printf("%s\n", dir);
    return 0;
}
