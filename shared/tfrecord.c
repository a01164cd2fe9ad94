/* SPDX-License-Identifier: MIT */
/* TFRecord reading: see tfrecord.h for the rules on bad input. */
#include "tfrecord.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crc32c.h"
#include "tblimits.h"

struct tb_tfrecord_reader {
    int fd;             /* -1 for a memory source */
    const uint8_t *mem; /* memory source */
    size_t mem_len;
    uint64_t base;          /* file offset of source position 0 (memory sources) */
    uint8_t *buf;           /* source bytes [buf_off, buf_off + end) */
    size_t cap, start, end; /* the unread bytes are buf[start, end) */
    uint64_t buf_off;
    size_t max_record;
    enum tb_problem_kind tail;
    uint64_t tail_bytes;
    uint64_t stuck_at;               /* a scan from here found nothing up to this source size; */
    enum tb_problem_kind stuck_kind; /* so wait until the source grows past it, */
    uint8_t stuck_head[TB_RECORD_HEADER]; /* or the bytes where it waits change */
    size_t stuck_head_len;
};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v; /* little-endian hosts only */
}

static uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Source position of the next unread byte. */
static uint64_t rel(const struct tb_tfrecord_reader *r)
{
    return r->buf_off + r->start;
}

static size_t avail(const struct tb_tfrecord_reader *r)
{
    return r->end - r->start;
}

static uint64_t source_size(const struct tb_tfrecord_reader *r)
{
    if (r->fd < 0)
        return r->mem_len;
    struct stat st;
    return fstat(r->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Forgets the buffer and moves to source position `to`. */
static void seek_to(struct tb_tfrecord_reader *r, uint64_t to)
{
    if (to >= r->buf_off && to <= r->buf_off + r->end) {
        r->start = (size_t)(to - r->buf_off);
        return;
    }
    r->buf_off = to;
    r->start = r->end = 0;
}

/* Makes at least n unread bytes available. Returns 1 if they are, 0 at the end of the data,
 * or -errno if reading failed. The buffer never grows past n or one read chunk. */
static int fill(struct tb_tfrecord_reader *r, size_t n)
{
    if (avail(r) >= n)
        return 1;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, avail(r));
        r->buf_off += r->start;
        r->end -= r->start;
        r->start = 0;
    }
    size_t want = n > TB_READ_CHUNK ? n : TB_READ_CHUNK;
    if (r->cap < want) {
        uint8_t *nb = realloc(r->buf, want);
        if (!nb)
            return -ENOMEM;
        r->buf = nb;
        r->cap = want;
    }
    while (r->end < n) {
        uint64_t at = r->buf_off + r->end;
        size_t room = r->cap - r->end;
        ssize_t got;
        if (r->fd < 0) {
            size_t left = at < r->mem_len ? r->mem_len - (size_t)at : 0;
            got = (ssize_t)(room < left ? room : left);
            if (got)
                memcpy(r->buf + r->end, r->mem + at, (size_t)got);
        } else {
            got = pread(r->fd, r->buf + r->end, room, (off_t)at);
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                return -EIO;
            }
        }
        if (got == 0)
            return 0;
        r->end += (size_t)got;
    }
    return 1;
}

static int reader_new(size_t max_record, struct tb_tfrecord_reader **ret)
{
    struct tb_tfrecord_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->fd = -1;
    r->max_record = max_record ? max_record : TB_RECORD_MAX;
    *ret = r;
    return 0;
}

int tb_tfrecord_open(const char *path, uint64_t offset, size_t max_record,
                     struct tb_tfrecord_reader **ret)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT || errno == EACCES ? -errno : -EIO;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    struct tb_tfrecord_reader *r = NULL;
    int err = reader_new(max_record, &r);
    if (err < 0) {
        close(fd);
        return err;
    }
    r->fd = fd;
    r->buf_off = offset;
    *ret = r;
    return 0;
}

int tb_tfrecord_open_mem(const void *data, size_t len, uint64_t offset, size_t max_record,
                         struct tb_tfrecord_reader **ret)
{
    struct tb_tfrecord_reader *r = NULL;
    int err = reader_new(max_record, &r);
    if (err < 0)
        return err;
    r->mem = data;
    r->mem_len = len;
    r->base = offset;
    *ret = r;
    return 0;
}

void tb_tfrecord_close(struct tb_tfrecord_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r);
}

uint64_t tb_tfrecord_offset(const struct tb_tfrecord_reader *r)
{
    return r->base + rel(r);
}

enum tb_problem_kind tb_tfrecord_tail(const struct tb_tfrecord_reader *r, uint64_t *ret_bytes)
{
    if (ret_bytes)
        *ret_bytes = r->tail_bytes;
    return r->tail;
}

void tb_tfrecord_frame(const void *data, size_t len, uint8_t *out)
{
    uint64_t n = len;
    memcpy(out, &n, 8);
    uint32_t c = tb_crc32c_masked(out, 8);
    memcpy(out + 8, &c, 4);
    if (len)
        memcpy(out + 12, data, len);
    c = tb_crc32c_masked(data, len);
    memcpy(out + 12 + len, &c, 4);
}

int tb_tfrecord_append(struct tb_buf *out, const void *data, size_t len)
{
    uint8_t hdr[TB_RECORD_HEADER];
    uint64_t n = len;
    memcpy(hdr, &n, 8);
    uint32_t crc = tb_crc32c_masked(hdr, 8);
    memcpy(hdr + 8, &crc, 4);
    uint32_t foot = tb_crc32c_masked(data, len);
    tb_buf_add(out, hdr, sizeof(hdr));
    tb_buf_add(out, data, len);
    return tb_buf_add(out, &foot, sizeof(foot));
}

/* Checks the header at the current position; the caller made 12 bytes available. */
static bool header_ok(const struct tb_tfrecord_reader *r, uint64_t *ret_len)
{
    const uint8_t *h = r->buf + r->start;
    if (tb_crc32c_masked(h, 8) != le32(h + 8))
        return false;
    *ret_len = le64(h);
    return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

enum scan { SCAN_FOUND, SCAN_NONE };

/*
 * Moves forward one byte at a time from the current position + 1 to the first position
 * where a header CRC checks out, the length is under the cap, and the payload CRC checks out
 * too (or the payload is not all written yet: the header CRC is then the best evidence).
 * Consumed bytes are dropped, so memory stays at one record. On SCAN_NONE the position is
 * back where the scan began and *ret_nonzero says whether any byte scanned was not zero.
 * Returns -errno if reading failed (position restored).
 */
static int resync(struct tb_tfrecord_reader *r, bool *ret_nonzero)
{
    uint64_t origin = rel(r);
    bool nonzero = r->buf[r->start] != 0;
    int f;
    r->start++;
    for (;;) {
        if (rel(r) - origin > TB_RESYNC_SCAN_MAX)
            return SCAN_FOUND; /* give up on this stretch, but always make progress */
        f = fill(r, TB_RECORD_HEADER);
        if (f < 0)
            goto out;
        if (f == 0)
            break;
        uint64_t len;
        if (header_ok(r, &len) && len <= r->max_record) {
            size_t whole = TB_RECORD_HEADER + (size_t)len + TB_RECORD_FOOTER;
            f = fill(r, whole);
            if (f < 0)
                goto out;
            if (f == 0)
                return SCAN_FOUND;
            const uint8_t *p = r->buf + r->start;
            if (tb_crc32c_masked(p + TB_RECORD_HEADER, (size_t)len) ==
                le32(p + TB_RECORD_HEADER + len))
                return SCAN_FOUND;
        }
        nonzero = nonzero || r->buf[r->start] != 0;
        r->start++;
    }
    nonzero = nonzero || !all_zero(r->buf + r->start, avail(r));
    r->stuck_at = r->buf_off + r->end;
    *ret_nonzero = nonzero;
    f = SCAN_NONE;
out:
    seek_to(r, origin);
    return f;
}

static int io_problem(struct tb_problem *p, uint64_t at, int err)
{
    return tb_problem_set(p, TB_PROBLEM_IO, at, 0, -err, "reading at offset %llu failed: %s",
                          (unsigned long long)at, strerror(-err));
}

/* Nothing good follows the current position yet: wait there, and say why in the tail. A later
 * call looks again once the source grows or the bytes at the position change. */
static int stuck(struct tb_tfrecord_reader *r, enum tb_problem_kind kind)
{
    r->stuck_kind = kind;
    r->tail = kind;
    r->tail_bytes = r->stuck_at - rel(r);
    if (fill(r, TB_RECORD_HEADER) < 0)
        r->end = r->start;
    r->stuck_head_len = avail(r) < TB_RECORD_HEADER ? avail(r) : TB_RECORD_HEADER;
    memcpy(r->stuck_head, r->buf + r->start, r->stuck_head_len);
    return 0;
}

/* Handles a header that failed its CRC, or a hole of zeros, at the current position. */
static int bad_header(struct tb_tfrecord_reader *r, bool zeros, struct tb_problem *p)
{
    uint64_t at = tb_tfrecord_offset(r);
    bool nonzero = false;
    int s = resync(r, &nonzero);
    if (s < 0)
        return io_problem(p, at, s);
    if (s == SCAN_NONE) {
        if (zeros && !nonzero)
            return stuck(r, TB_PROBLEM_ZERO_FILLED);
        return stuck(r, TB_PROBLEM_LENGTH_CRC);
    }
    uint64_t skipped = tb_tfrecord_offset(r) - at;
    if (zeros)
        return tb_problem_set(p, TB_PROBLEM_ZERO_FILLED, at, skipped, EBADMSG,
                              "%llu bytes from offset %llu start with zeros where a record should "
                              "start (a hole a network filesystem can leave); resumed at offset "
                              "%llu",
                              (unsigned long long)skipped, (unsigned long long)at,
                              (unsigned long long)(at + skipped));
    return tb_problem_set(p, TB_PROBLEM_LENGTH_CRC, at, skipped, EBADMSG,
                          "record header at offset %llu fails its length CRC; skipped %llu "
                          "corrupt bytes and resumed at offset %llu",
                          (unsigned long long)at, (unsigned long long)skipped,
                          (unsigned long long)(at + skipped));
}

/* Handles a header with a good CRC and a length over the cap. */
static int too_large(struct tb_tfrecord_reader *r, uint64_t len, struct tb_problem *p)
{
    uint64_t at = tb_tfrecord_offset(r);
    uint64_t here = rel(r);
    if (len <= UINT64_MAX - 64 - here &&
        source_size(r) >= here + TB_RECORD_HEADER + len + TB_RECORD_FOOTER) {
        uint64_t whole = TB_RECORD_HEADER + len + TB_RECORD_FOOTER;
        seek_to(r, here + whole);
        return tb_problem_set(p, TB_PROBLEM_TOO_LARGE, at, whole, E2BIG,
                              "record at offset %llu holds %llu bytes, over the %zu-byte cap; "
                              "skipped it",
                              (unsigned long long)at, (unsigned long long)len, r->max_record);
    }
    bool nonzero;
    int s = resync(r, &nonzero);
    if (s < 0)
        return io_problem(p, at, s);
    if (s == SCAN_NONE)
        return stuck(r, TB_PROBLEM_TOO_LARGE);
    uint64_t skipped = tb_tfrecord_offset(r) - at;
    return tb_problem_set(p, TB_PROBLEM_TOO_LARGE, at, skipped, E2BIG,
                          "record at offset %llu claims %llu bytes, over the %zu-byte cap, and "
                          "the file does not hold them; skipped %llu bytes and resumed at "
                          "offset %llu",
                          (unsigned long long)at, (unsigned long long)len, r->max_record,
                          (unsigned long long)skipped, (unsigned long long)(at + skipped));
}

int tb_tfrecord_next(struct tb_tfrecord_reader *r, struct tb_record *ret_rec, struct tb_problem *p)
{
    if (r->stuck_at) {
        uint64_t size = source_size(r);
        /* Drop buffered bytes: a writer may have rewritten them in place (a hole filled). */
        r->end = r->start;
        int f = fill(r, r->stuck_head_len);
        if (f < 0)
            return io_problem(p, tb_tfrecord_offset(r), f);
        bool same = f == 1 && !memcmp(r->buf + r->start, r->stuck_head, r->stuck_head_len);
        if (size <= r->stuck_at && same) {
            r->tail = r->stuck_kind;
            r->tail_bytes = size > rel(r) ? size - rel(r) : 0;
            return 0;
        }
        r->stuck_at = 0; /* the file grew or changed: look again */
    }
    r->tail = TB_PROBLEM_NONE;
    r->tail_bytes = 0;
    uint64_t at = tb_tfrecord_offset(r);
    int f = fill(r, TB_RECORD_HEADER);
    if (f < 0)
        return io_problem(p, at, f);
    if (f == 0) {
        r->tail_bytes = avail(r);
        if (avail(r))
            r->tail = all_zero(r->buf + r->start, avail(r)) ? TB_PROBLEM_ZERO_FILLED
                                                            : TB_PROBLEM_TRUNCATED;
        r->end = r->start; /* read the tail again next time: a writer may fill a hole in place */
        return 0;
    }
    uint64_t len;
    if (!header_ok(r, &len))
        return bad_header(r, all_zero(r->buf + r->start, TB_RECORD_HEADER), p);
    if (len > r->max_record)
        return too_large(r, len, p);
    size_t whole = TB_RECORD_HEADER + (size_t)len + TB_RECORD_FOOTER;
    f = fill(r, whole);
    if (f < 0)
        return io_problem(p, at, f);
    if (f == 0) {
        r->tail = TB_PROBLEM_TRUNCATED;
        r->tail_bytes = avail(r);
        r->end = r->start; /* as above: never judge a record on bytes read before it was done */
        return 0;
    }
    const uint8_t *frame = r->buf + r->start;
    r->start += whole;
    if (tb_crc32c_masked(frame + TB_RECORD_HEADER, (size_t)len) !=
        le32(frame + TB_RECORD_HEADER + len))
        return tb_problem_set(p, TB_PROBLEM_DATA_CRC, at, whole, EBADMSG,
                              "record at offset %llu (%llu bytes) fails its data CRC; skipped it",
                              (unsigned long long)at, (unsigned long long)len);
    ret_rec->frame = frame;
    ret_rec->frame_len = whole;
    ret_rec->data = frame + TB_RECORD_HEADER;
    ret_rec->len = (size_t)len;
    ret_rec->offset = at;
    return 1;
}
