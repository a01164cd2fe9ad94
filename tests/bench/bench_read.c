/* SPDX-License-Identifier: MIT */
/* Benchmark: reading and decoding TF2 scalar events, against framing+CRC and bare protobuf-c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "crc32c.h"
#include "event.h"
#include "tfrecord.h"
#include "writer.h"

/*
 * Usage: bench_read [--events N] [--runs R] [--file PATH]
 * Writes N TF2 scalar events (tf.summary.scalar's layout) with tbdev's writer, unless PATH
 * already holds them, then times R times each pass over the file (in the page cache):
 *   frame+crc  tb_tfrecord_next only: both masked CRC32Cs checked
 *   pb-bare    tb_tfrecord_next + tensorboard__event__unpack into an arena (no normalisation)
 *   full       tb_tfrecord_next + tb_event_decode (what tbdev inspect and the uploader do)
 *   crc-only   tb_crc32c over the whole file, to give the CRC's share of a full pass
 * and prints medians, with the ratios the foundation issue asks for.
 */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum pass { FRAME, PB_BARE, FULL };

static long long run_pass(const char *path, enum pass which, double *ret_secs)
{
    struct tb_tfrecord_reader *r = NULL;
    if (tb_tfrecord_open(path, 0, 0, &r) < 0) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    struct tb_arena arena;
    tb_arena_init(&arena, 0);
    long long n = 0, values = 0;
    double t0 = now();
    struct tb_record rec;
    struct tb_problem p;
    int rc;
    while ((rc = tb_tfrecord_next(r, &rec, &p)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "problem: %s\n", p.message);
            exit(1);
        }
        n++;
        if (which == PB_BARE) {
            tb_arena_reset(&arena);
            Tensorboard__Event *e = tensorboard__event__unpack(&arena.pb, rec.len, rec.data);
            if (!e)
                exit(1);
            values += e->what_case == TENSORBOARD__EVENT__WHAT_SUMMARY;
        } else if (which == FULL) {
            tb_arena_reset(&arena);
            struct tb_event ev;
            if (tb_event_decode(rec.data, rec.len, &arena, &ev, &p) < 0)
                exit(1);
            values += (long long)ev.n_values;
        }
    }
    *ret_secs = now() - t0;
    tb_arena_done(&arena);
    tb_tfrecord_close(r);
    if (which != FRAME && values == 0)
        exit(1); /* keep the work observable */
    return n;
}

int main(int argc, char **argv)
{
    long long events = 10000000;
    int runs = 5;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            events = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--file") && i + 1 < argc)
            path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--events N] [--runs R] [--file PATH]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 101)
        runs = 5;
    char tmp[256];
    if (!path) {
        const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(tmp, sizeof(tmp), "%s/tbdev-bench-%lld.tfevents", dir, events);
        path = tmp;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "writing %lld TF2 scalar events to %s ...\n", events, path);
        struct tb_writer *w = NULL;
        if (tb_writer_open(path, 1.7e9, &w) < 0) {
            fprintf(stderr, "cannot create %s\n", path);
            return 1;
        }
        double t0 = now();
        for (long long i = 0; i < events; i++)
            if (tb_writer_scalar(w, 1.7e9 + (double)i * 0.01, i, (i & 1) ? "loss" : "accuracy",
                                 (float)i * 0.5f) < 0) {
                fprintf(stderr, "write failed\n");
                return 1;
            }
        if (tb_writer_close(w) < 0)
            return 1;
        fprintf(stderr, "written in %.1f s\n", now() - t0);
        if (stat(path, &st) != 0)
            return 1;
    }
    double mb = (double)st.st_size / 1e6;

    /* Warm the page cache and measure the CRC alone over the same bytes. */
    int fd = open(path, O_RDONLY);
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return 1;
    double *t_frame = calloc((size_t)runs, sizeof(double));
    double *t_bare = calloc((size_t)runs, sizeof(double));
    double *t_full = calloc((size_t)runs, sizeof(double));
    double *t_crc = calloc((size_t)runs, sizeof(double));
    volatile uint32_t sink = 0;
    long long n = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        sink ^= tb_crc32c(0, map, (size_t)st.st_size);
        t_crc[i] = now() - t0;
        n = run_pass(path, FRAME, &t_frame[i]);
        run_pass(path, PB_BARE, &t_bare[i]);
        run_pass(path, FULL, &t_full[i]);
    }
    munmap(map, (size_t)st.st_size);
    close(fd);
    double frame = median(t_frame, runs), bare = median(t_bare, runs);
    double full = median(t_full, runs), crc = median(t_crc, runs);
    printf("file: %s, %lld records, %.0f MB; medians of %d runs\n", path, n, mb, runs);
    printf("frame+crc : %8.1f M records/s  %7.0f MB/s\n", n / frame / 1e6, mb / frame);
    printf("pb-bare   : %8.1f M events/s   %7.0f MB/s\n", n / bare / 1e6, mb / bare);
    printf("full      : %8.1f M events/s   %7.0f MB/s\n", n / full / 1e6, mb / full);
    printf("ratio full / frame+crc   : %.3f\n", frame / full);
    printf("ratio full / pb-bare     : %.3f  (goal >= 0.5)\n", bare / full);
    printf("crc share of a full pass : %.1f%%  (goal <= 10%%)\n", 100 * crc / full);
    int ok = n / full >= 2.8e6 && bare / full >= 0.5 && crc / full <= 0.10;
    printf("bench_read: %s (goal: >= 2.8M events/s, >= 0.5 of pb-bare, crc <= 10%%)\n",
           ok ? "PASS" : "BELOW GOAL");
    free(t_frame);
    free(t_bare);
    free(t_full);
    free(t_crc);
    (void)sink;
    return 0;
}
