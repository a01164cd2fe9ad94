/* SPDX-License-Identifier: MIT */
/* Unit tests for writer: events written, read back with tfrecord and decoded; file names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "logdir.h"
#include "tblimits.h"
#include "tfrecord.h"
#include "writer.h"

#define DC(x) TENSORBOARD__DATA_CLASS__DATA_CLASS_##x

struct fx {
    char dir[64];
    char path[128];
    struct tb_arena arena;
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/tbdev-writer-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/events.out.tfevents.1.test.v2", f->dir);
    tb_arena_init(&f->arena, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tb_arena_done(&f->arena);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Reads the next record and decodes it into ev (valid until the next call). */
static void next_event(struct fx *f, struct tb_tfrecord_reader *r, struct tb_event *ev)
{
    struct tb_record rec;
    struct tb_problem p = {0};
    int rc = tb_tfrecord_next(r, &rec, &p);
    if (rc != 1)
        fail_msg("expected a record, got %d (%s)", rc, p.message);
    tb_arena_reset(&f->arena);
    assert_int_equal(tb_event_decode(rec.data, rec.len, &f->arena, ev, &p), 0);
}

static void expect_end(struct tb_tfrecord_reader *r)
{
    struct tb_record rec;
    assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 0);
    assert_int_equal(tb_tfrecord_tail(r, NULL), TB_PROBLEM_NONE);
}

static void test_scalar_roundtrip(void **state)
{
    struct fx *f = *state;
    struct tb_writer *w = NULL;
    assert_int_equal(tb_writer_open(f->path, 1700000000.5, &w), 0);
    assert_int_equal(tb_writer_scalar(w, 1700000001.25, 5, "loss/train", 0.1f), 0);
    assert_int_equal(tb_writer_simple_value(w, 1700000002.75, 6, "accuracy", 0.9f), 0);
    assert_int_equal(tb_writer_scalar(w, 1700000003.0, -1, "nan", NAN), 0);
    assert_int_equal(tb_writer_simple_value(w, 1700000004.0, INT64_MAX, "inf", -INFINITY), 0);
    assert_int_equal(tb_writer_close(w), 0);

    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct tb_event ev;

    next_event(f, r, &ev);
    assert_int_equal(ev.kind, TB_EVENT_FILE_VERSION);
    assert_string_equal(ev.file_version, "brain.Event:2");
    assert_true(ev.wall_time == 1700000000.5);
    assert_int_equal(ev.step, 0);

    next_event(f, r, &ev);
    assert_int_equal(ev.kind, TB_EVENT_SUMMARY);
    assert_true(ev.wall_time == 1700000001.25);
    assert_int_equal(ev.step, 5);
    assert_int_equal(ev.n_values, 1);
    const struct tb_value *v = &ev.values[0];
    assert_string_equal(v->tag, "loss/train");
    assert_int_equal(v->kind, TB_KIND_SCALAR);
    assert_int_equal(v->source, TB_SRC_TENSOR); /* TF2 style */
    assert_string_equal(v->plugin_name, "scalars");
    assert_int_equal(v->data_class, DC(SCALAR));
    assert_int_equal(v->tensor.dtype, TENSORBOARD__DATA_TYPE__DT_FLOAT);
    assert_int_equal(v->tensor.rank, 0);
    assert_true(v->scalar == (double)0.1f);

    next_event(f, r, &ev);
    assert_true(ev.wall_time == 1700000002.75);
    assert_int_equal(ev.step, 6);
    v = &ev.values[0];
    assert_string_equal(v->tag, "accuracy");
    assert_int_equal(v->kind, TB_KIND_SCALAR);
    assert_int_equal(v->source, TB_SRC_SIMPLE_VALUE); /* TF1 style */
    assert_true(v->scalar == (double)0.9f);

    next_event(f, r, &ev);
    assert_int_equal(ev.step, -1);
    assert_true(isnan(ev.values[0].scalar));

    next_event(f, r, &ev);
    assert_true(ev.step == INT64_MAX);
    assert_true(isinf(ev.values[0].scalar) && ev.values[0].scalar < 0);

    expect_end(r);
    tb_tfrecord_close(r);
}

/* tb_writer_event writes any Event; the reader sees appended records after each flush. */
static void test_event_and_flush(void **state)
{
    struct fx *f = *state;
    struct tb_writer *w = NULL;
    assert_int_equal(tb_writer_open_raw(f->path, &w), 0);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    expect_end(r); /* raw: no file_version */

    static const uint8_t graph[] = {0x0a, 0x01, 'x'};
    Tensorboard__Event e = TENSORBOARD__EVENT__INIT;
    e.wall_time = 12.5;
    e.step = 3;
    e.what_case = TENSORBOARD__EVENT__WHAT_GRAPH_DEF;
    e.graph_def = (ProtobufCBinaryData){sizeof(graph), (uint8_t *)graph};
    assert_int_equal(tb_writer_event(w, &e), 0);
    assert_int_equal(tb_writer_flush(w, 1), 0);
    struct tb_event ev;
    next_event(f, r, &ev);
    assert_int_equal(ev.kind, TB_EVENT_GRAPH_DEF);
    assert_int_equal(ev.values[0].blobs[0].len, sizeof(graph));
    assert_memory_equal(ev.values[0].blobs[0].data, graph, sizeof(graph));
    expect_end(r);

    for (int i = 0; i < 3; i++)
        assert_int_equal(tb_writer_simple_value(w, 13.0 + i, 4 + i, "x", (float)i), 0);
    assert_int_equal(tb_writer_flush(w, 0), 0);
    for (int i = 0; i < 3; i++) {
        next_event(f, r, &ev);
        assert_int_equal(ev.step, 4 + i);
        assert_true(ev.values[0].scalar == i);
    }
    expect_end(r);
    assert_int_equal(tb_writer_close(w), 0);
    tb_tfrecord_close(r);
}

/* More than the writer buffers at once: every record arrives, in order. */
static void test_many_records(void **state)
{
    struct fx *f = *state;
    struct tb_writer *w = NULL;
    assert_int_equal(tb_writer_open_raw(f->path, &w), 0);
    enum { N = 3000, LEN = 1000 };
    uint8_t buf[LEN];
    for (int i = 0; i < N; i++) {
        memset(buf, i & 0xff, sizeof(buf));
        memcpy(buf, &i, sizeof(i));
        assert_int_equal(tb_writer_record(w, buf, sizeof(buf)), 0);
    }
    assert_int_equal(tb_writer_close(w), 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, (off_t)N * (LEN + 16));
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct tb_record rec;
    for (int i = 0; i < N; i++) {
        assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 1);
        assert_int_equal(rec.len, LEN);
        int got;
        memcpy(&got, rec.data, sizeof(got));
        assert_int_equal(got, i);
        assert_int_equal(rec.data[LEN - 1], i & 0xff);
    }
    expect_end(r);
    tb_tfrecord_close(r);
}

static void test_record_over_cap(void **state)
{
    struct fx *f = *state;
    struct tb_writer *w = NULL;
    assert_int_equal(tb_writer_open_raw(f->path, &w), 0);
    uint8_t *big = malloc((size_t)TB_RECORD_MAX + 1); /* never touched: refused first */
    assert_non_null(big);
    assert_int_equal(tb_writer_record(w, big, (size_t)TB_RECORD_MAX + 1), -E2BIG);
    free(big);
    /* the writer is still usable */
    assert_int_equal(tb_writer_record(w, "ok", 2), 0);
    assert_int_equal(tb_writer_close(w), 0);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct tb_record rec;
    assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 1);
    assert_int_equal(rec.len, 2);
    tb_tfrecord_close(r);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/no/such/dir/events.out.tfevents.1", f->dir);
    struct tb_writer *w = (struct tb_writer *)(uintptr_t)1;
    assert_int_equal(tb_writer_open(path, 1.0, &w), -ENOENT);
    assert_ptr_equal(w, (struct tb_writer *)(uintptr_t)1);
    assert_int_equal(tb_writer_open_raw(f->dir, &w), -EISDIR);
    assert_int_equal(tb_writer_close(NULL), 0);
}

/* An existing file is truncated. */
static void test_open_truncates(void **state)
{
    struct fx *f = *state;
    struct tb_writer *w = NULL;
    assert_int_equal(tb_writer_open_raw(f->path, &w), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tb_writer_record(w, "0123456789", 10), 0);
    assert_int_equal(tb_writer_close(w), 0);
    assert_int_equal(tb_writer_open(f->path, 5.0, &w), 0);
    assert_int_equal(tb_writer_close(w), 0);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct tb_event ev;
    next_event(f, r, &ev);
    assert_int_equal(ev.kind, TB_EVENT_FILE_VERSION);
    expect_end(r);
    tb_tfrecord_close(r);
}

static void test_file_name(void **state)
{
    (void)state;
    char host[256];
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    host[sizeof(host) - 1] = 0;
    for (char *p = host; *p; p++)
        if (*p == '/')
            *p = '_';
    char want[512];
    snprintf(want, sizeof(want), "events.out.tfevents.1700000000.%s.%ld.3.v2", host,
             (long)getpid());
    char name[512];
    assert_int_equal(tb_writer_file_name(name, sizeof(name), 1700000000.99, 3), 0);
    assert_string_equal(name, want);
    assert_true(tb_logdir_is_event_name(name));
    assert_non_null(strstr(name, ".v2"));

    /* too small: an error, never a cut name */
    assert_int_equal(tb_writer_file_name(name, strlen(want), 1700000000.0, 3), -E2BIG);
    assert_int_equal(tb_writer_file_name(name, strlen(want) + 1, 1700000000.0, 3), 0);
    assert_string_equal(name, want);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_scalar_roundtrip), T(test_event_and_flush), T(test_many_records),
        T(test_record_over_cap),  T(test_open_errors),     T(test_open_truncates),
        T(test_file_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
