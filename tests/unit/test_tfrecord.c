/* SPDX-License-Identifier: MIT */
/* Unit tests for tfrecord: framing, resume, live tails, corruption and caps, memory sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "tblimits.h"
#include "tfrecord.h"
#include "writer.h"

/* ---- fixture: a temporary directory with one file path in it ---- */

struct fx {
    char dir[64];
    char path[128];
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
    strcpy(f->dir, "/tmp/tbdev-tfrecord-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/events.out.tfevents.1.test", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- building file images ---- */

/* A file image being assembled in memory, with the offset of each record put in it. */
struct img {
    uint8_t *b;
    size_t n, cap;
    size_t n_recs;
    uint64_t off[64];
    size_t len[64];
};

static void img_raw(struct img *im, const void *p, size_t n)
{
    if (im->n + n > im->cap) {
        size_t cap = im->cap ? im->cap : 4096;
        while (cap < im->n + n)
            cap *= 2;
        im->b = realloc(im->b, cap);
        assert_non_null(im->b);
        im->cap = cap;
    }
    if (n)
        memcpy(im->b + im->n, p, n);
    im->n += n;
}

static void img_fill(struct img *im, uint8_t byte, size_t n)
{
    uint8_t *tmp = malloc(n ? n : 1);
    assert_non_null(tmp);
    memset(tmp, byte, n);
    img_raw(im, tmp, n);
    free(tmp);
}

/* Payload i: a deterministic pattern of len bytes that differs between records. */
static uint8_t *payload(size_t i, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t k = 0; k < len; k++)
        p[k] = (uint8_t)(i * 31 + k * 7 + 1);
    return p;
}

/* Appends a framed record of len bytes with payload pattern i. */
static void img_rec(struct img *im, size_t i, size_t len)
{
    uint8_t *p = payload(i, len);
    uint8_t *fr = malloc(len + 16);
    assert_non_null(fr);
    tb_tfrecord_frame(p, len, fr);
    assert_true(im->n_recs < 64);
    im->off[im->n_recs] = im->n;
    im->len[im->n_recs] = len;
    im->n_recs++;
    img_raw(im, fr, len + 16);
    free(fr);
    free(p);
}

static void img_free(struct img *im)
{
    free(im->b);
    memset(im, 0, sizeof(*im));
}

static void write_at(const char *path, uint64_t at, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, n, (off_t)at), (ssize_t)n);
    close(fd);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    if (n)
        assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void append_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* Asserts that rec is record k of im (payload pattern k). */
static void check_rec(const struct img *im, size_t k, const struct tb_record *rec)
{
    uint8_t *want = payload(k, im->len[k]);
    assert_int_equal(rec->offset, im->off[k]);
    assert_int_equal(rec->len, im->len[k]);
    assert_memory_equal(rec->data, want, im->len[k] ? im->len[k] : 0);
    assert_int_equal(rec->frame_len, im->len[k] + 16);
    assert_ptr_equal(rec->data, rec->frame + 12);
    assert_memory_equal(rec->frame, im->b + im->off[k], rec->frame_len);
    free(want);
}

/* The outcome of reading a source to its current end. */
struct run {
    size_t n_recs;
    size_t rec_id[64]; /* index into the image, found by offset */
    size_t n_problems;
    int rc[8];
    struct tb_problem problems[8];
};

static void read_to_end(struct tb_tfrecord_reader *r, const struct img *im, struct run *out)
{
    memset(out, 0, sizeof(*out));
    for (int guard = 0; guard < 1000; guard++) {
        struct tb_record rec;
        struct tb_problem p = {0};
        int rc = tb_tfrecord_next(r, &rec, &p);
        if (rc == 0)
            return;
        if (rc < 0) {
            assert_true(out->n_problems < 8);
            out->rc[out->n_problems] = rc;
            out->problems[out->n_problems++] = p;
            continue;
        }
        assert_int_equal(rc, 1);
        size_t k = 0;
        while (k < im->n_recs && im->off[k] != rec.offset)
            k++;
        assert_true(k < im->n_recs); /* a record at an offset we wrote one at */
        check_rec(im, k, &rec);
        out->rec_id[out->n_recs++] = k;
    }
    fail_msg("reader did not reach the end");
}

/* ---- tests ---- */

static void test_read_all_records(void **state)
{
    struct fx *f = *state;
    static const size_t lens[] = {0, 1, 11, 12, 13, 100, 4095, 300000, 7, 0, 65536, 3};
    const size_t n = sizeof(lens) / sizeof(lens[0]);
    struct img im = {0};
    for (size_t i = 0; i < n; i++)
        img_rec(&im, i, lens[i]);

    /* Written through the writer's raw mode; the bytes must equal tb_tfrecord_frame's. */
    struct tb_writer *w = NULL;
    assert_int_equal(tb_writer_open_raw(f->path, &w), 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = payload(i, lens[i]);
        assert_int_equal(tb_writer_record(w, p, lens[i]), 0);
        free(p);
    }
    assert_int_equal(tb_writer_close(w), 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, im.n);

    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct run got;
    read_to_end(r, &im, &got);
    assert_int_equal(got.n_problems, 0);
    assert_int_equal(got.n_recs, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got.rec_id[i], i);
    assert_int_equal(tb_tfrecord_offset(r), im.n);
    uint64_t bytes = 99;
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_NONE);
    assert_int_equal(bytes, 0);
    /* At the end it stays at the end. */
    struct tb_record rec;
    assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 0);
    assert_int_equal(tb_tfrecord_offset(r), im.n);
    tb_tfrecord_close(r);
    img_free(&im);
}

static void test_offset_tracks_each_record(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    for (size_t i = 0; i < 6; i++)
        img_rec(&im, i, 10 * i + 5);
    write_file(f->path, im.b, im.n);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    assert_int_equal(tb_tfrecord_offset(r), 0);
    for (size_t i = 0; i < 6; i++) {
        struct tb_record rec;
        assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 1);
        check_rec(&im, i, &rec);
        assert_int_equal(tb_tfrecord_offset(r), im.off[i] + im.len[i] + 16);
    }
    tb_tfrecord_close(r);
    img_free(&im);
}

static void test_resume_from_offset(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    for (size_t i = 0; i < 8; i++)
        img_rec(&im, i, 50 + i);
    write_file(f->path, im.b, im.n);
    for (size_t k = 0; k <= 8; k++) {
        uint64_t at = k < 8 ? im.off[k] : im.n;
        struct tb_tfrecord_reader *r = NULL;
        assert_int_equal(tb_tfrecord_open(f->path, at, 0, &r), 0);
        assert_int_equal(tb_tfrecord_offset(r), at);
        struct run got;
        read_to_end(r, &im, &got);
        assert_int_equal(got.n_problems, 0);
        assert_int_equal(got.n_recs, 8 - k);
        for (size_t i = 0; i < got.n_recs; i++)
            assert_int_equal(got.rec_id[i], k + i);
        assert_int_equal(tb_tfrecord_offset(r), im.n);
        tb_tfrecord_close(r);
    }
    img_free(&im);
}

/* A writer caught mid-record: header only, then part of the payload, then the rest. */
static void test_live_tail_partial_record(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    img_rec(&im, 0, 40);
    img_rec(&im, 1, 300000); /* bigger than one read chunk */
    img_rec(&im, 2, 9);
    uint64_t off1 = im.off[1], off2 = im.off[2];

    write_file(f->path, im.b, off1 + 12); /* record 0 and record 1's header */
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct tb_record rec;
    struct tb_problem p = {0};
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 1);
    check_rec(&im, 0, &rec);
    uint64_t bytes = 0;
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 0);
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_TRUNCATED);
    assert_int_equal(bytes, 12);
    assert_int_equal(tb_tfrecord_offset(r), off1);

    append_file(f->path, im.b + off1 + 12, 150000); /* half the payload */
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 0);
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_TRUNCATED);
    assert_int_equal(bytes, 12 + 150000);
    assert_int_equal(tb_tfrecord_offset(r), off1);

    /* All but the last footer byte. */
    append_file(f->path, im.b + off1 + 12 + 150000, off2 - off1 - 12 - 150000 - 1);
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 0);
    assert_int_equal(tb_tfrecord_tail(r, NULL), TB_PROBLEM_TRUNCATED);
    assert_int_equal(tb_tfrecord_offset(r), off1);

    append_file(f->path, im.b + off2 - 1, im.n - off2 + 1);
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 1);
    check_rec(&im, 1, &rec);
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 1);
    check_rec(&im, 2, &rec);
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 0);
    assert_int_equal(tb_tfrecord_tail(r, NULL), TB_PROBLEM_NONE);
    assert_int_equal(tb_tfrecord_offset(r), im.n);
    tb_tfrecord_close(r);
    img_free(&im);
}

/* A record arriving one byte at a time, the header split across many reads. */
static void test_live_tail_byte_by_byte(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    img_rec(&im, 0, 20);
    img_rec(&im, 1, 300); /* length bytes 2c 01 ...: never an all-zero prefix */
    write_file(f->path, im.b, im.off[1]);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct tb_record rec;
    assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 1);
    check_rec(&im, 0, &rec);
    assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 0);
    assert_int_equal(tb_tfrecord_tail(r, NULL), TB_PROBLEM_NONE);
    for (size_t at = im.off[1]; at < im.n - 1; at++) {
        append_file(f->path, im.b + at, 1);
        struct tb_problem p = {0};
        assert_int_equal(tb_tfrecord_next(r, &rec, &p), 0);
        uint64_t bytes = 0;
        assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_TRUNCATED);
        assert_int_equal(bytes, at + 1 - im.off[1]);
        assert_int_equal(tb_tfrecord_offset(r), im.off[1]);
    }
    append_file(f->path, im.b + im.n - 1, 1);
    assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 1);
    check_rec(&im, 1, &rec);
    tb_tfrecord_close(r);
    img_free(&im);
}

/* Flips one bit at `pos` bytes into record 2 of 6, reads the file, and checks that exactly
 * the other five records come back and one problem of `kind` is reported at record 2. */
static void corrupt_one(struct fx *f, size_t pos_in_rec2, enum tb_problem_kind kind)
{
    struct img im = {0};
    for (size_t i = 0; i < 6; i++)
        img_rec(&im, i, 64 + 17 * i);
    size_t at = im.off[2] + pos_in_rec2;
    assert_true(at < im.off[3]);
    im.b[at] ^= 0x10;
    write_file(f->path, im.b, im.n);

    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct run got;
    read_to_end(r, &im, &got);
    assert_int_equal(got.n_recs, 5);
    static const size_t want[] = {0, 1, 3, 4, 5};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(got.rec_id[i], want[i]);
    assert_int_equal(got.n_problems, 1);
    assert_int_equal(got.rc[0], -EBADMSG);
    assert_int_equal(got.problems[0].kind, kind);
    assert_int_equal(got.problems[0].offset, im.off[2]);
    assert_int_equal(got.problems[0].length, im.off[3] - im.off[2]);
    assert_true(got.problems[0].message[0] != '\0');
    assert_int_equal(tb_tfrecord_offset(r), im.n);
    assert_int_equal(tb_tfrecord_tail(r, NULL), TB_PROBLEM_NONE);
    tb_tfrecord_close(r);
    img_free(&im);
}

static void test_corrupt_length(void **state)
{
    corrupt_one(*state, 0, TB_PROBLEM_LENGTH_CRC);
}

static void test_corrupt_length_high_byte(void **state)
{
    /* a length that, unchecked, would claim 2^60 bytes */
    corrupt_one(*state, 7, TB_PROBLEM_LENGTH_CRC);
}

static void test_corrupt_length_crc(void **state)
{
    corrupt_one(*state, 9, TB_PROBLEM_LENGTH_CRC);
}

static void test_corrupt_data(void **state)
{
    corrupt_one(*state, 12 + 3, TB_PROBLEM_DATA_CRC);
}

static void test_corrupt_data_crc(void **state)
{
    corrupt_one(*state, 12 + 64 + 2 * 17 + 1, TB_PROBLEM_DATA_CRC);
}

/* A header with a valid CRC claiming 2^40 bytes: refused, no allocation, the rest read. */
static void test_too_large_length(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    img_rec(&im, 0, 30);
    uint64_t bad_at = im.n;
    uint8_t h[12];
    uint64_t huge = (uint64_t)1 << 40;
    memcpy(h, &huge, 8);
    uint32_t c = tb_crc32c_masked(h, 8);
    memcpy(h + 8, &c, 4);
    img_raw(&im, h, sizeof(h));
    img_fill(&im, 0x5a, 100); /* the start of its claimed payload */
    img_rec(&im, 1, 40);
    img_rec(&im, 2, 50);
    write_file(f->path, im.b, im.n);

    /* Under ASan a 1 TiB malloc aborts, and without it the reader would report -ENOMEM. */
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct run got;
    read_to_end(r, &im, &got);
    assert_int_equal(got.n_recs, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(got.rec_id[i], i);
    assert_int_equal(got.n_problems, 1);
    assert_int_equal(got.rc[0], -E2BIG);
    assert_int_equal(got.problems[0].kind, TB_PROBLEM_TOO_LARGE);
    assert_int_equal(got.problems[0].offset, bad_at);
    assert_int_equal(got.problems[0].length, im.off[1] - bad_at);
    assert_int_equal(tb_tfrecord_offset(r), im.n);
    tb_tfrecord_close(r);
    img_free(&im);
}

/* max_record caps what is read: a record over it is skipped whole, one at the cap is read. */
static void test_max_record_cap(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    img_rec(&im, 0, 10);
    img_rec(&im, 1, 1001);
    img_rec(&im, 2, 1000);
    img_rec(&im, 3, 5000);
    img_rec(&im, 4, 10);
    write_file(f->path, im.b, im.n);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 1000, &r), 0);
    struct run got;
    read_to_end(r, &im, &got);
    assert_int_equal(got.n_recs, 3);
    assert_int_equal(got.rec_id[0], 0);
    assert_int_equal(got.rec_id[1], 2);
    assert_int_equal(got.rec_id[2], 4);
    assert_int_equal(got.n_problems, 2);
    assert_int_equal(got.rc[0], -E2BIG);
    assert_int_equal(got.problems[0].kind, TB_PROBLEM_TOO_LARGE);
    assert_int_equal(got.problems[0].offset, im.off[1]);
    assert_int_equal(got.problems[0].length, 1001 + 16);
    assert_int_equal(got.rc[1], -E2BIG);
    assert_int_equal(got.problems[1].kind, TB_PROBLEM_TOO_LARGE);
    assert_int_equal(got.problems[1].offset, im.off[3]);
    assert_int_equal(got.problems[1].length, 5000 + 16);
    tb_tfrecord_close(r);
    img_free(&im);
}

static void test_zero_block_between_records(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    img_rec(&im, 0, 30);
    img_rec(&im, 1, 31);
    uint64_t hole = im.n;
    img_fill(&im, 0, 4096);
    img_rec(&im, 2, 32);
    img_rec(&im, 3, 33);
    write_file(f->path, im.b, im.n);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct run got;
    read_to_end(r, &im, &got);
    assert_int_equal(got.n_recs, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(got.rec_id[i], i);
    assert_int_equal(got.n_problems, 1);
    assert_int_equal(got.rc[0], -EBADMSG);
    assert_int_equal(got.problems[0].kind, TB_PROBLEM_ZERO_FILLED);
    assert_int_equal(got.problems[0].offset, hole);
    assert_int_equal(got.problems[0].length, 4096);
    tb_tfrecord_close(r);
    img_free(&im);
}

/* Zeros to the end of the file: not yet written, so 0 and a ZERO_FILLED tail, no error. */
static struct tb_tfrecord_reader *open_at_zero_tail(struct fx *f, struct img *im, size_t zeros)
{
    img_rec(im, 0, 30);
    img_rec(im, 1, 31);
    write_file(f->path, im->b, im->n);
    uint8_t *z = calloc(1, zeros);
    assert_non_null(z);
    append_file(f->path, z, zeros);
    free(z);

    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct run got;
    read_to_end(r, im, &got);
    assert_int_equal(got.n_recs, 2);
    assert_int_equal(got.n_problems, 0);
    assert_int_equal(tb_tfrecord_offset(r), im->n);
    uint64_t bytes = 0;
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_ZERO_FILLED);
    assert_int_equal(bytes, zeros);
    /* Asking again changes nothing. */
    struct tb_record rec;
    struct tb_problem p = {0};
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 0);
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_ZERO_FILLED);
    assert_int_equal(bytes, zeros);
    assert_int_equal(tb_tfrecord_offset(r), im->n);
    return r;
}

static void test_zero_tail_waits(void **state)
{
    struct img im = {0};
    tb_tfrecord_close(open_at_zero_tail(*state, &im, 4096));
    img_free(&im);
    struct img im2 = {0};
    tb_tfrecord_close(open_at_zero_tail(*state, &im2, 5)); /* shorter than a header */
    img_free(&im2);

    /* Zeros then other bytes are not a hole being filled: the tail is corrupt. */
    struct fx *f = *state;
    struct img im3 = {0};
    img_rec(&im3, 0, 30);
    uint64_t at = im3.n;
    img_fill(&im3, 0, 100);
    img_fill(&im3, 0xab, 20);
    write_file(f->path, im3.b, im3.n);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct run got;
    read_to_end(r, &im3, &got);
    assert_int_equal(got.n_recs, 1);
    assert_int_equal(tb_tfrecord_offset(r), at);
    uint64_t bytes = 0;
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_LENGTH_CRC);
    assert_int_equal(bytes, 120);
    tb_tfrecord_close(r);
    img_free(&im3);
}

/* The hole is filled in place: the records appear while the file keeps its size. */
static void test_zero_tail_overwritten_in_place(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    struct tb_tfrecord_reader *r = open_at_zero_tail(f, &im, 4096);
    uint64_t hole = im.n;
    img_rec(&im, 2, 4096 - 16); /* exactly fills the hole */
    write_at(f->path, hole, im.b + hole, 4096);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, im.n);

    /* BUG (tfrecord.c, tb_tfrecord_next): once stuck on a zero tail, the reader only looks
     * again when the file grows past its old size, so a hole filled in place is never read
     * while the file keeps its size. */
    struct run got;
    read_to_end(r, &im, &got);
    enum tb_problem_kind tail = tb_tfrecord_tail(r, NULL);
    uint64_t end = tb_tfrecord_offset(r);
    tb_tfrecord_close(r);
    img_free(&im);
    assert_int_equal(got.n_problems, 0);
    if (got.n_recs != 1)
        fail_msg("BUG: the record written over the zero tail was not read (size unchanged)");
    assert_int_equal(got.rec_id[0], 2);
    assert_int_equal(tail, TB_PROBLEM_NONE);
    assert_int_equal(end, hole + 4096);
}

static void test_zero_tail_overwritten_then_grows(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    struct tb_tfrecord_reader *r = open_at_zero_tail(f, &im, 4096);
    uint64_t hole = im.n;
    img_rec(&im, 2, 4096 - 16);
    img_rec(&im, 3, 77);
    write_at(f->path, hole, im.b + hole, im.n - hole);
    struct run got;
    read_to_end(r, &im, &got);
    assert_int_equal(got.n_problems, 0);
    assert_int_equal(got.n_recs, 2);
    assert_int_equal(got.rec_id[0], 2);
    assert_int_equal(got.rec_id[1], 3);
    assert_int_equal(tb_tfrecord_offset(r), im.n);
    tb_tfrecord_close(r);
    img_free(&im);
}

/* Counts the problems next() reports while reading to the current end. */
static size_t drain(struct tb_tfrecord_reader *r, const struct img *im, struct run *got)
{
    read_to_end(r, im, got);
    return got->n_problems;
}

/*
 * Garbage at the end, more garbage, then good records: all records arrive, the reader holds
 * its position meanwhile, and the corrupt stretch is reported once, when it is skipped.
 * BUG (tfrecord.c, stuck): while nothing good follows the garbage, next() returns -EBADMSG
 * with a LENGTH_CRC problem although it skipped nothing and did not move, which the header
 * reserves for "bytes were skipped; the reader has already moved past them" (for this case
 * it promises 0 and tb_tfrecord_tail() == TB_PROBLEM_LENGTH_CRC). It does so again each time
 * the file grows, so one corrupt stretch is reported three times here.
 */
static void test_garbage_tail_then_append(void **state)
{
    struct fx *f = *state;
    struct img im = {0};
    img_rec(&im, 0, 30);
    uint64_t bad_at = im.n;
    img_fill(&im, 0xab, 50);
    write_file(f->path, im.b, im.n);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct run got;
    size_t reports = drain(r, &im, &got);
    assert_int_equal(got.n_recs, 1);
    assert_int_equal(tb_tfrecord_offset(r), bad_at);
    uint64_t bytes = 0;
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_LENGTH_CRC);
    assert_int_equal(bytes, 50);

    /* more garbage: still waiting at the same place */
    size_t old = im.n;
    img_fill(&im, 0xcd, 30);
    append_file(f->path, im.b + old, im.n - old);
    reports += drain(r, &im, &got);
    assert_int_equal(got.n_recs, 0);
    assert_int_equal(tb_tfrecord_offset(r), bad_at);
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_LENGTH_CRC);
    assert_int_equal(bytes, 80);

    /* good records after it: both arrive, and the skip is reported */
    old = im.n;
    img_rec(&im, 1, 40);
    img_rec(&im, 2, 41);
    append_file(f->path, im.b + old, im.n - old);
    reports += drain(r, &im, &got);
    assert_int_equal(got.n_recs, 2);
    assert_int_equal(got.rec_id[0], 1);
    assert_int_equal(got.rec_id[1], 2);
    assert_true(got.n_problems >= 1);
    struct tb_problem *last = &got.problems[got.n_problems - 1];
    assert_int_equal(last->kind, TB_PROBLEM_LENGTH_CRC);
    assert_int_equal(last->offset, bad_at);
    assert_int_equal(last->length, 80);
    assert_int_equal(tb_tfrecord_offset(r), im.n);
    tb_tfrecord_close(r);
    img_free(&im);
    if (reports != 1)
        fail_msg("BUG: one corrupt stretch was reported %zu times", reports);
}

static void test_empty_file(void **state)
{
    struct fx *f = *state;
    write_file(f->path, NULL, 0);
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), 0);
    struct tb_record rec;
    struct tb_problem p = {0};
    assert_int_equal(tb_tfrecord_next(r, &rec, &p), 0);
    uint64_t bytes = 1;
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_NONE);
    assert_int_equal(bytes, 0);
    assert_int_equal(tb_tfrecord_offset(r), 0);
    tb_tfrecord_close(r);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open(f->dir, 0, 0, &r), -EISDIR);
    assert_null(r);
    assert_int_equal(tb_tfrecord_open(f->path, 0, 0, &r), -ENOENT); /* not created yet */
    assert_null(r);
    tb_tfrecord_close(NULL);
}

/* A memory source that starts at file offset off1 reports file offsets. */
static void test_memory_source_offsets(void **state)
{
    (void)state;
    struct img im = {0};
    for (size_t i = 0; i < 5; i++)
        img_rec(&im, i, 20 + i);
    im.b[im.off[3] + 12] ^= 1; /* record 3's payload */
    uint64_t base = im.off[1];
    struct tb_tfrecord_reader *r = NULL;
    assert_int_equal(tb_tfrecord_open_mem(im.b + base, im.n - base, base, 0, &r), 0);
    assert_int_equal(tb_tfrecord_offset(r), base);
    struct run got;
    read_to_end(r, &im, &got); /* matches records by their file offsets */
    assert_int_equal(got.n_recs, 3);
    assert_int_equal(got.rec_id[0], 1);
    assert_int_equal(got.rec_id[1], 2);
    assert_int_equal(got.rec_id[2], 4);
    assert_int_equal(got.n_problems, 1);
    assert_int_equal(got.problems[0].kind, TB_PROBLEM_DATA_CRC);
    assert_int_equal(got.problems[0].offset, im.off[3]);
    assert_int_equal(tb_tfrecord_offset(r), im.n);
    tb_tfrecord_close(r);

    /* A truncated memory source: the tail is reported and the offset is a file offset. */
    assert_int_equal(tb_tfrecord_open_mem(im.b + base, im.off[2] - base + 5, base, 0, &r), 0);
    struct tb_record rec;
    assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 1);
    assert_int_equal(rec.offset, im.off[1]);
    assert_int_equal(tb_tfrecord_next(r, &rec, NULL), 0);
    uint64_t bytes = 0;
    assert_int_equal(tb_tfrecord_tail(r, &bytes), TB_PROBLEM_TRUNCATED);
    assert_int_equal(bytes, 5);
    assert_int_equal(tb_tfrecord_offset(r), im.off[2]);
    tb_tfrecord_close(r);
    img_free(&im);
}

static void test_frame_layout(void **state)
{
    (void)state;
    uint8_t out[5 + 16];
    tb_tfrecord_frame("hello", 5, out);
    uint64_t len;
    memcpy(&len, out, 8);
    assert_int_equal(len, 5);
    uint32_t c;
    memcpy(&c, out + 8, 4);
    assert_int_equal(c, tb_crc32c_masked(out, 8));
    assert_memory_equal(out + 12, "hello", 5);
    memcpy(&c, out + 17, 4);
    assert_int_equal(c, tb_crc32c_masked("hello", 5));
    /* An empty record: 8 zero bytes of length, then the CRCs. */
    uint8_t e[16];
    tb_tfrecord_frame(NULL, 0, e);
    memcpy(&c, e + 12, 4);
    assert_int_equal(c, 0xa282ead8u);
}

/* A real file from TensorBoard's writer: as many records as the manifest lists, no problem. */
static void test_real_file(void **state)
{
    (void)state;
    const char *root = getenv("TBDEV_REAL_DATA");
    if (!root)
        skip();
    char path[4096];
    snprintf(path, sizeof(path),
             "%s/pytorch-1.13/scalars/run_a/events.out.tfevents.1795716236.vm.12732.0", root);
    struct tb_tfrecord_reader *r = NULL;
    int rc = tb_tfrecord_open(path, 0, 0, &r);
    if (rc == -ENOENT)
        skip();
    assert_int_equal(rc, 0);
    size_t n = 0;
    struct tb_record rec;
    struct tb_problem p = {0};
    while ((rc = tb_tfrecord_next(r, &rec, &p)) == 1)
        n++;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5101);
    assert_int_equal(tb_tfrecord_offset(r), 262323);
    assert_int_equal(tb_tfrecord_tail(r, NULL), TB_PROBLEM_NONE);
    tb_tfrecord_close(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_read_all_records),
        T(test_offset_tracks_each_record),
        T(test_resume_from_offset),
        T(test_live_tail_partial_record),
        T(test_live_tail_byte_by_byte),
        T(test_corrupt_length),
        T(test_corrupt_length_high_byte),
        T(test_corrupt_length_crc),
        T(test_corrupt_data),
        T(test_corrupt_data_crc),
        T(test_too_large_length),
        T(test_max_record_cap),
        T(test_zero_block_between_records),
        T(test_zero_tail_waits),
        T(test_zero_tail_overwritten_in_place),
        T(test_zero_tail_overwritten_then_grows),
        T(test_garbage_tail_then_append),
        T(test_empty_file),
        T(test_open_errors),
        T(test_memory_source_offsets),
        T(test_frame_layout),
        T(test_real_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
