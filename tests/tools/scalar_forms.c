/* SPDX-License-Identifier: MIT */
/* Writes logdirs of scalars and histograms in every encoding real writers emit, at any size. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "writer.h"

/*
 * Usage: tbdev-scalar-forms DIR RUNS TAGS STEPS FORM
 *        tbdev-scalar-forms --seeds DIR     (one payload of each form per file, for fuzzing)
 *
 * Writes DIR/run_R/events.out.tfevents.1700000000.forms.R.v2 for each run: a file_version
 * record, then for each step and tag one event with one value, tag "metrics/tag_T". Scalars
 * hold R*1000 + T + step/1000 (as the form's dtype); histograms hold 30 buckets around it.
 * Each form is written the way the writer named beside it does, byte for byte on the wire:
 *
 *   simple           TF1 Summary.Value.simple_value (PyTorch SummaryWriter, tensorboardX)
 *   content          DT_FLOAT rank-0 tensor in tensor_content, scalars metadata with
 *                    data_class on every event (Keras, tf.summary)
 *   content_nodc     as content, without data_class (TF 2.0-2.2)
 *   float_val        DT_FLOAT, packed float_val, metadata on the first event only
 *                    (tensorboard.summary's own writer)
 *   float_val_every  as float_val, metadata on every event (PyTorch add_scalar new_style=True)
 *   float_unpacked   DT_FLOAT, float_val not packed (proto2-style writers)
 *   double           DT_DOUBLE, packed double_val, metadata on the first event only
 *   double_unpacked  DT_DOUBLE, double_val not packed
 *   half             DT_HALF, packed half_val, metadata on the first event only
 *   hist_double      TF2 histogram: [30,3] DT_DOUBLE tensor_content, metadata every event (Keras)
 *   hist_float       TF2 histogram: [30,3] DT_FLOAT packed float_val, metadata first only
 *
 * The wire format is written by hand here, so that every form is exactly what its writer
 * emits (protobuf-c would pack float_val, and always write what it knows).
 */

#define DT_FLOAT 1
#define DT_DOUBLE 2
#define DT_HALF 19
#define HIST_K 30

struct out {
    uint8_t b[4096];
    size_t n;
};

static void put(struct out *o, const void *p, size_t n)
{
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void varint(struct out *o, uint64_t v)
{
    while (v >= 0x80) {
        o->b[o->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o->b[o->n++] = (uint8_t)v;
}

static void key(struct out *o, unsigned field, unsigned wire)
{
    varint(o, (uint64_t)field << 3 | wire);
}

static void bytes(struct out *o, unsigned field, const void *p, size_t n)
{
    key(o, field, 2);
    varint(o, n);
    put(o, p, n);
}

static void sub(struct out *o, unsigned field, const struct out *s)
{
    bytes(o, field, s->b, s->n);
}

enum form {
    F_SIMPLE,
    F_CONTENT,
    F_CONTENT_NODC,
    F_FLOAT_VAL,
    F_FLOAT_VAL_EVERY,
    F_FLOAT_UNPACKED,
    F_DOUBLE,
    F_DOUBLE_UNPACKED,
    F_HALF,
    F_HIST_DOUBLE,
    F_HIST_FLOAT,
    F__COUNT
};

static const char *const form_names[F__COUNT] = {
    "simple", "content",         "content_nodc", "float_val",   "float_val_every", "float_unpacked",
    "double", "double_unpacked", "half",         "hist_double", "hist_float",
};

/* IEEE half from a float (round to nearest, no subnormal care beyond flushing). */
static uint16_t to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int e = (int)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffff;
    if (e <= 0)
        return (uint16_t)sign;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    uint32_t h = sign | (uint32_t)e << 10 | (m + 0x1000) >> 13;
    return (uint16_t)h;
}

/* SummaryMetadata for a plugin: plugin_data{plugin_name, content}, data_class if dc. */
static void metadata(struct out *v, const char *plugin, int dc)
{
    struct out pd = {0}, md = {0};
    bytes(&pd, 1, plugin, strlen(plugin));
    sub(&md, 1, &pd);
    if (dc) {
        key(&md, 4, 0);
        varint(&md, (uint64_t)dc);
    }
    sub(v, 9, &md);
}

/* One Summary.Value of the form, for value x (histograms: buckets around x). */
static void value(struct out *v, enum form f, const char *tag, double x, bool first)
{
    bytes(v, 1, tag, strlen(tag));
    if (f == F_SIMPLE) {
        float fx = (float)x;
        key(v, 2, 5);
        put(v, &fx, 4);
        return;
    }
    bool hist = f == F_HIST_DOUBLE || f == F_HIST_FLOAT;
    bool every = f == F_CONTENT || f == F_CONTENT_NODC || f == F_FLOAT_VAL_EVERY ||
                 f == F_FLOAT_UNPACKED || f == F_DOUBLE_UNPACKED || f == F_HIST_DOUBLE;
    if (first || every)
        metadata(v, hist ? "histograms" : "scalars", f == F_CONTENT_NODC ? 0 : hist ? 2 : 1);
    struct out t = {0}, shape = {0};
    int dtype = f == F_DOUBLE || f == F_DOUBLE_UNPACKED || f == F_HIST_DOUBLE ? DT_DOUBLE
                : f == F_HALF                                                 ? DT_HALF
                                                                              : DT_FLOAT;
    key(&t, 1, 0);
    varint(&t, (uint64_t)dtype);
    if (hist) {
        struct out d = {0};
        key(&d, 1, 0);
        varint(&d, HIST_K);
        sub(&shape, 2, &d);
        d.n = 0;
        key(&d, 1, 0);
        varint(&d, 3);
        sub(&shape, 2, &d);
    }
    sub(&t, 2, &shape);
    if (hist) {
        double cells[HIST_K * 3];
        for (int k = 0; k < HIST_K; k++) {
            cells[3 * k] = x - 1 + k / (double)HIST_K * 2;
            cells[3 * k + 1] = x - 1 + (k + 1) / (double)HIST_K * 2;
            cells[3 * k + 2] = (double)(k < HIST_K / 2 ? k + 1 : HIST_K - k);
        }
        if (dtype == DT_DOUBLE) {
            bytes(&t, 4, cells, sizeof(cells));
        } else {
            float fc[HIST_K * 3];
            for (int k = 0; k < HIST_K * 3; k++)
                fc[k] = (float)cells[k];
            bytes(&t, 5, fc, sizeof(fc));
        }
    } else if (f == F_CONTENT || f == F_CONTENT_NODC) {
        float fx = (float)x;
        bytes(&t, 4, &fx, 4);
    } else if (f == F_FLOAT_VAL || f == F_FLOAT_VAL_EVERY) {
        float fx = (float)x;
        bytes(&t, 5, &fx, 4);
    } else if (f == F_FLOAT_UNPACKED) {
        float fx = (float)x;
        key(&t, 5, 5);
        put(&t, &fx, 4);
    } else if (f == F_DOUBLE) {
        bytes(&t, 6, &x, 8);
    } else if (f == F_DOUBLE_UNPACKED) {
        key(&t, 6, 1);
        put(&t, &x, 8);
    } else if (f == F_HALF) {
        struct out p = {0};
        varint(&p, to_half((float)x));
        sub(&t, 13, &p);
    }
    sub(v, 8, &t);
}

/* One Event{wall_time, step, summary{value}} payload. */
static void event(struct out *e, enum form f, const char *tag, double wall, long step, double x,
                  bool first)
{
    struct out v = {0}, s = {0};
    value(&v, f, tag, x, first);
    sub(&s, 1, &v);
    e->n = 0;
    key(e, 1, 1);
    put(e, &wall, 8);
    if (step) {
        key(e, 2, 0);
        varint(e, (uint64_t)step);
    }
    sub(e, 5, &s);
}

static int seeds(const char *dir)
{
    mkdir(dir, 0755);
    for (int f = 0; f < F__COUNT; f++)
        for (int first = 0; first < 2; first++) {
            struct out e;
            event(&e, (enum form)f, "metrics/tag_0", 1700000000.5, 7, 1.25, first);
            char path[4096];
            snprintf(path, sizeof(path), "%s/form-%s%s", dir, form_names[f], first ? "-first" : "");
            FILE *o = fopen(path, "wb");
            if (!o || fwrite(e.b, 1, e.n, o) != e.n || fclose(o) != 0) {
                perror(path);
                return 1;
            }
        }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--seeds"))
        return seeds(argv[2]);
    int f = -1;
    if (argc == 6)
        for (int i = 0; i < F__COUNT; i++)
            if (!strcmp(argv[5], form_names[i]))
                f = i;
    long runs = argc == 6 ? atol(argv[2]) : 0, tags = argc == 6 ? atol(argv[3]) : 0;
    long steps = argc == 6 ? atol(argv[4]) : 0;
    if (f < 0 || runs < 1 || tags < 1 || steps < 1) {
        fprintf(stderr, "usage: tbdev-scalar-forms DIR RUNS TAGS STEPS FORM\n       "
                        "tbdev-scalar-forms --seeds DIR\nFORM is one of:");
        for (int i = 0; i < F__COUNT; i++)
            fprintf(stderr, " %s", form_names[i]);
        fprintf(stderr, "\n");
        return 2;
    }
    mkdir(argv[1], 0755);
    for (long r = 0; r < runs; r++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/run_%ld", argv[1], r);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/run_%ld/events.out.tfevents.1700000000.forms.%ld.v2",
                 argv[1], r, r);
        struct tb_writer *w = NULL;
        int err = tb_writer_open(path, 1700000000.0, &w);
        if (err < 0) {
            fprintf(stderr, "tbdev-scalar-forms: %s: %s\n", path, strerror(-err));
            return 1;
        }
        for (long s = 0; s < steps && err >= 0; s++)
            for (long t = 0; t < tags && err >= 0; t++) {
                char tag[32];
                snprintf(tag, sizeof(tag), "metrics/tag_%ld", t);
                struct out e;
                event(&e, (enum form)f, tag, 1700000000.0 + s * 0.01, s,
                      (double)(r * 1000 + t) + s / 1000.0, s == 0);
                err = tb_writer_record(w, e.b, e.n);
            }
        int cerr = tb_writer_close(w);
        if (err < 0 || cerr < 0) {
            fprintf(stderr, "tbdev-scalar-forms: %s: %s\n", path,
                    strerror(-(err < 0 ? err : cerr)));
            return 1;
        }
    }
    return 0;
}
