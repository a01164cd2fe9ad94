/* SPDX-License-Identifier: MIT */
/* Fuzz target: TFRecord framing (tb_tfrecord_next), from memory or from a growing file. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tblimits.h"
#include "tfrecord.h"

/*
 * The input is the content of an event file.
 *
 * fuzz_tfrecord reads it from memory twice, with the default cap and with a 64-byte cap (so
 * that ordinary records take the "too large" paths), at a nonzero file offset.
 *
 * fuzz_tfrecord_tail (built with -DFUZZ_TAIL) writes it to a memfd in chunks whose sizes
 * come from a hash of the input, and reads after every chunk, as the uploader follows a live
 * file. If reading the whole input at once reports no problem and ends cleanly, the chunked
 * read must report none either and return the same records (a header split across two
 * writes is no error).
 *
 * Both check, on every call:
 *   - a record lies inside the input, at the reader's position, is <= the cap, has
 *     frame_len == len + 16, is byte for byte the input there, and frames with valid CRCs;
 *   - record offsets strictly increase;
 *   - a problem starts at the reader's position, and either the reader moved past exactly
 *     problem.length bytes, or it did not move and the next call returns 0 ("waiting"; the
 *     reader may also say so by returning 0 at once);
 *   - after a skip found by scanning, the next call returns a record or waits for its rest;
 *   - on 0, offset + tail bytes == input size, and a zero-filled tail is all zeros;
 *   - the calls end: each one moves, or is the single "stuck" report before the end.
 * So every input byte is accounted for: in a record, in a reported skip, or in the tail.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/*
 * Holes (fuzz_tfrecord_tail): some chunks are first written as zeros and only later get their
 * real bytes, as a network filesystem can show a file that grew before its data arrived. The
 * reader must then lose nothing: a data CRC failure it reports must be one in the final file,
 * and where it waits at the end, a fresh reader must wait too.
 * Holes in headers and in records not yet whole are handled (the reader rereads its tail on
 * every call). Still open: a hole inside a payload whose full length is already visible fails
 * the data CRC and the record is skipped before the hole is filled; waiting for it would stall
 * a file whose last record is really corrupt. So this mode is off by default; build with
 * -DFUZZ_HOLES=1 to explore it (corpus/tfrecord_tail/tfrecord_tail-holes-stale-bytes was the
 * reproducer of the header case, fixed).
 */
#ifndef FUZZ_HOLES
#define FUZZ_HOLES 0
#endif

#define SMALL_CAP 64
#define BASE 4096 /* file offset of data[0] for memory reads: offsets must be file offsets */

struct walk {
    const uint8_t *data;       /* the whole input */
    size_t size;               /* bytes of it the reader can see now */
    uint64_t base;             /* file offset of data[0] */
    size_t max;                /* the reader's record cap */
    uint64_t pos;              /* file offset the reader must be at */
    bool any;                  /* a record was returned */
    uint64_t last;             /* offset of the last record */
    bool need_record;          /* a scan skipped bytes: the next call must find a record */
    enum tb_problem_kind tail; /* what tb_tfrecord_tail said at the last 0 */
    size_t n_problems;
    size_t n_records;
    uint64_t *offsets; /* offsets and lengths of records, when not NULL */
    size_t *lens;
    uint64_t *data_crc; /* offsets of data CRC failures, when not NULL */
    size_t n_data_crc;
};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void check_record(struct walk *w, const struct tb_record *rec, uint64_t now)
{
    CHECK(rec->offset == w->pos);
    CHECK(!w->any || rec->offset > w->last);
    CHECK(rec->len <= w->max);
    CHECK(rec->frame_len == rec->len + 16);
    CHECK(rec->data == rec->frame + TB_RECORD_HEADER);
    CHECK(now == rec->offset + rec->frame_len);
    uint64_t at = rec->offset - w->base;
    CHECK(at <= w->size && rec->frame_len <= w->size - at);
    CHECK(memcmp(rec->frame, w->data + at, rec->frame_len) == 0);
    uint8_t *again = malloc(rec->frame_len);
    CHECK(again);
    tb_tfrecord_frame(rec->data, rec->len, again);
    CHECK(memcmp(again, rec->frame, rec->frame_len) == 0);
    free(again);
    if (w->offsets) {
        w->offsets[w->n_records] = rec->offset;
        w->lens[w->n_records] = rec->len;
    }
    w->n_records++;
    w->any = true;
    w->last = rec->offset;
    w->pos = now;
}

static void check_end(struct tb_tfrecord_reader *r, struct walk *w)
{
    uint64_t tail_bytes = 0;
    enum tb_problem_kind tail = tb_tfrecord_tail(r, &tail_bytes);
    w->tail = tail;
    CHECK(tb_tfrecord_offset(r) == w->pos);
    CHECK(w->pos + tail_bytes == w->base + w->size);
    CHECK((tail == TB_PROBLEM_NONE) == (tail_bytes == 0));
    CHECK(tail == TB_PROBLEM_NONE || tail == TB_PROBLEM_TRUNCATED ||
          tail == TB_PROBLEM_ZERO_FILLED || tail == TB_PROBLEM_LENGTH_CRC ||
          tail == TB_PROBLEM_TOO_LARGE);
    if (tail == TB_PROBLEM_ZERO_FILLED)
        CHECK(all_zero(w->data + (w->pos - w->base), (size_t)tail_bytes));
}

/* Calls tb_tfrecord_next until it returns 0, checking every answer. */
static void drain(struct tb_tfrecord_reader *r, struct walk *w)
{
    size_t steps = 0, limit = w->size - (size_t)(w->pos - w->base) + 3;
    bool stuck = false;
    for (;;) {
        CHECK(++steps <= limit);
        struct tb_record rec;
        struct tb_problem p;
        memset(&p, 0, sizeof(p));
        int rc = tb_tfrecord_next(r, &rec, &p);
        uint64_t now = tb_tfrecord_offset(r);
        if (rc == 0) {
            check_end(r, w);
            if (w->need_record) {
                uint64_t bytes;
                CHECK(tb_tfrecord_tail(r, &bytes) == TB_PROBLEM_TRUNCATED);
            }
            w->need_record = false;
            return;
        }
        CHECK(!stuck); /* a report that the reader waits is followed by 0 */
        if (rc == 1) {
            check_record(w, &rec, now);
            w->need_record = false;
            continue;
        }
        CHECK(!w->need_record);
        CHECK(rc == -EBADMSG || rc == -E2BIG);
        CHECK(p.kind == TB_PROBLEM_LENGTH_CRC || p.kind == TB_PROBLEM_DATA_CRC ||
              p.kind == TB_PROBLEM_TOO_LARGE || p.kind == TB_PROBLEM_ZERO_FILLED);
        CHECK((rc == -E2BIG) == (p.kind == TB_PROBLEM_TOO_LARGE));
        CHECK(memchr(p.message, '\0', sizeof(p.message)) != NULL);
        CHECK(p.offset == w->pos);
        CHECK(now >= w->pos);
        w->n_problems++;
        const uint8_t *at = w->data + (w->pos - w->base);
        size_t left = w->size - (size_t)(w->pos - w->base);
        if (now == w->pos) {
            CHECK(p.kind != TB_PROBLEM_DATA_CRC);
            CHECK(p.length == left);
            stuck = true;
            continue;
        }
        CHECK(p.length == now - w->pos);
        CHECK(p.length <= left);
        if (p.kind == TB_PROBLEM_ZERO_FILLED)
            CHECK(left >= TB_RECORD_HEADER && all_zero(at, TB_RECORD_HEADER));
        if (p.kind == TB_PROBLEM_DATA_CRC)
            CHECK(p.length == le64(at) + 16);
        if (p.kind == TB_PROBLEM_DATA_CRC && w->data_crc)
            w->data_crc[w->n_data_crc++] = w->pos;
        if (p.kind == TB_PROBLEM_TOO_LARGE) {
            uint64_t len = le64(at);
            CHECK(len > w->max);
            w->need_record = len > left || left - len < 16; /* not held whole: scanned */
            if (!w->need_record)
                CHECK(p.length == len + 16);
        } else {
            w->need_record = p.kind != TB_PROBLEM_DATA_CRC;
        }
        w->pos = now;
    }
}

static void read_mem(const uint8_t *data, size_t size, uint64_t base, size_t cap, struct walk *ret)
{
    struct tb_tfrecord_reader *r = NULL;
    struct walk w = {.data = data, .size = size, .base = base, .pos = base};
    w.max = cap ? cap : TB_RECORD_MAX;
    if (ret) {
        w.offsets = calloc(size / 16 + 1, sizeof(*w.offsets));
        w.lens = calloc(size / 16 + 1, sizeof(*w.lens));
        CHECK(w.offsets && w.lens);
    }
    CHECK(tb_tfrecord_open_mem(data, size, base, cap, &r) == 0);
    CHECK(tb_tfrecord_offset(r) == base);
    drain(r, &w);
    /* At the end of memory, asking again changes nothing. */
    drain(r, &w);
    tb_tfrecord_close(r);
    if (ret)
        *ret = w;
}

#ifndef FUZZ_TAIL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_mem(data, size, BASE, 0, NULL);
    read_mem(data, size, 0, SMALL_CAP, NULL);
    return 0;
}

#else

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

static size_t chunk_size(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    switch (*state % 8) {
    case 0:
        return 1;
    case 1:
        return 12; /* exactly a header */
    case 2:
        return 4096;
    default:
        return 1 + (size_t)((*state >> 8) % 40);
    }
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t got = write(fd, p, n);
        CHECK(got > 0);
        p += got;
        n -= (size_t)got;
    }
}

/* The reader's verdict at the end must not depend on its history: a fresh reader over the
 * final bytes from the same offset must find no record there either, and the same tail. */
static void check_fresh(const uint8_t *data, size_t size, size_t cap, const struct walk *w)
{
    struct tb_tfrecord_reader *r = NULL;
    struct tb_record rec;
    struct tb_problem p;
    uint64_t bytes = 0, fresh_bytes = 0;
    CHECK(tb_tfrecord_open_mem(data + w->pos, size - (size_t)w->pos, w->pos, cap, &r) == 0);
    int rc = tb_tfrecord_next(r, &rec, &p);
    if (rc < 0) /* readers that report a corrupt tail before waiting */
        rc = tb_tfrecord_next(r, &rec, &p);
    CHECK(rc == 0);
    CHECK(tb_tfrecord_offset(r) == w->pos);
    CHECK(tb_tfrecord_tail(r, &fresh_bytes) == w->tail);
    bytes = w->base + w->size - w->pos;
    CHECK(fresh_bytes == bytes);
    tb_tfrecord_close(r);
}

/* A reported data CRC failure must be one in the final bytes. */
static bool bad_data_crc(const uint8_t *data, size_t size, uint64_t at)
{
    if (at > size || size - at < 16)
        return false;
    uint64_t len = le64(data + at);
    if (len > size - at - 16)
        return false;
    uint8_t *frame = malloc((size_t)len + 16);
    CHECK(frame);
    tb_tfrecord_frame(data + at + 12, (size_t)len, frame);
    bool bad = memcmp(frame, data + at, (size_t)len + 16) != 0;
    free(frame);
    return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t state = hash(data, size) | 1;
    size_t cap = state & 2 ? SMALL_CAP : 0;
    bool holes = FUZZ_HOLES && (state & 4);
    struct walk whole;
    read_mem(data, size, 0, cap, &whole);

    int fd = memfd_create("fuzz_tfrecord_tail", MFD_CLOEXEC);
    CHECK(fd >= 0);
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct tb_tfrecord_reader *r = NULL;
    CHECK(tb_tfrecord_open(path, 0, cap, &r) == 0);
    uint8_t *cur = calloc(size ? size : 1, 1); /* the file as it is now */
    CHECK(cur);
    struct walk w = {.data = cur, .base = 0, .pos = 0, .max = cap ? cap : TB_RECORD_MAX};
    w.offsets = calloc(size / 16 + 1, sizeof(*w.offsets));
    w.lens = calloc(size / 16 + 1, sizeof(*w.lens));
    w.data_crc = calloc(size / 16 + 1, sizeof(*w.data_crc));
    CHECK(w.offsets && w.lens && w.data_crc);
    size_t hole_at = 0, hole_len = 0;
    bool used_holes = false;
    drain(r, &w);
    while (w.size < size) {
        size_t n = chunk_size(&state);
        if (n > size - w.size)
            n = size - w.size;
        /* A hole: the file grows but reads as zeros until the writer's bytes arrive. */
        bool hole = holes && !hole_len && (state >> 20) % 3 == 0;
        if (!hole)
            memcpy(cur + w.size, data + w.size, n);
        write_all(fd, cur + w.size, n);
        if (hole) {
            hole_at = w.size;
            hole_len = n;
            used_holes = true;
        }
        w.size += n;
        drain(r, &w);
        if (hole_len && !hole) {
            memcpy(cur + hole_at, data + hole_at, hole_len);
            CHECK(pwrite(fd, cur + hole_at, hole_len, (off_t)hole_at) == (ssize_t)hole_len);
            hole_len = 0;
            drain(r, &w);
        }
    }
    if (hole_len) {
        memcpy(cur + hole_at, data + hole_at, hole_len);
        CHECK(pwrite(fd, cur + hole_at, hole_len, (off_t)hole_at) == (ssize_t)hole_len);
    }
    drain(r, &w);
    check_fresh(data, size, cap, &w);
    for (size_t i = 0; i < w.n_data_crc; i++)
        CHECK(bad_data_crc(data, size, w.data_crc[i]));
    /* Clean: no problem, and no tail of corrupt bytes (where a chunked read can meet a header
     * whose payload is not written yet and take it for a record start). */
    if (!used_holes && whole.n_problems == 0 && whole.tail != TB_PROBLEM_LENGTH_CRC &&
        whole.tail != TB_PROBLEM_TOO_LARGE) {
        CHECK(w.n_problems == 0);
        CHECK(w.n_records == whole.n_records);
        for (size_t i = 0; i < w.n_records; i++)
            CHECK(w.offsets[i] == whole.offsets[i] && w.lens[i] == whole.lens[i]);
    }
    tb_tfrecord_close(r);
    close(fd);
    free(cur);
    free(w.offsets);
    free(w.lens);
    free(w.data_crc);
    free(whole.offsets);
    free(whole.lens);
    return 0;
}

#endif
