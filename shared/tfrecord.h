/* SPDX-License-Identifier: MIT */
/* TFRecord reading: framing, both masked CRC32Cs, caps, resynchronisation, live tails. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * A TFRecord is: u64 length (little-endian), u32 masked CRC32C of those 8 bytes, `length`
 * payload bytes, u32 masked CRC32C of the payload.
 *
 * The reader streams: it holds at most one record plus one read chunk in memory. It starts
 * at any byte offset and can be called again after end-of-data to pick up what a writer has
 * appended since ("live tail").
 *
 * What it does with bad input, so that no good record is ever lost silently:
 *   - a payload CRC mismatch: the record is skipped (its header is trusted, its CRC being
 *     good) and reported as TB_PROBLEM_DATA_CRC;
 *   - a header CRC mismatch: the reader scans forward for the next record whose header and
 *     payload CRCs both check out, and reports TB_PROBLEM_LENGTH_CRC with the bytes skipped;
 *     if no good record follows yet, it waits there (see tb_tfrecord_tail) and looks again
 *     once the file grows or those bytes change;
 *   - a length over the cap: refused before any allocation, reported as TB_PROBLEM_TOO_LARGE,
 *     then skipped (if the file holds it whole) or scanned past;
 *   - zero bytes where a header should be (a hole a network filesystem left): if good records
 *     follow, reported as TB_PROBLEM_ZERO_FILLED and skipped; if only zeros follow, it is
 *     treated as data not yet written, and the reader waits at the start of the zeros;
 *   - the file ends inside a record: not an error; the reader waits at the record's start.
 */

struct tb_tfrecord_reader;

struct tb_record {
    const uint8_t *data;  /* payload; borrowed until the next call on the reader */
    size_t len;           /* payload bytes */
    const uint8_t *frame; /* the whole framed record (header, payload, footer); borrowed */
    size_t frame_len;     /* len + 16 */
    uint64_t offset;      /* file offset of the record's header */
};

/* Opens path for reading from byte `offset`. max_record 0 means TB_RECORD_MAX.
 * On success *ret is owned by the caller, who frees it with tb_tfrecord_close.
 * Errors: -ENOENT, -EACCES, -EISDIR (not a regular file), -ENOMEM, -EIO. */
int tb_tfrecord_open(const char *path, uint64_t offset, size_t max_record,
                     struct tb_tfrecord_reader **ret);

/* As tb_tfrecord_open, over `len` bytes of memory that must outlive the reader.
 * `offset` is the file offset of data[0] (so that reported offsets are file offsets). */
int tb_tfrecord_open_mem(const void *data, size_t len, uint64_t offset, size_t max_record,
                         struct tb_tfrecord_reader **ret);

/* NULL-safe. Closes the file the reader opened. */
void tb_tfrecord_close(struct tb_tfrecord_reader *r);

/*
 * Reads the next record.
 * Returns 1 and fills *ret_rec when a record was read.
 * Returns 0 when no complete record is available now: the end of the file, or a tail that
 * is not written yet (see tb_tfrecord_tail). Calling again later picks up appended data.
 * Returns -EBADMSG (corruption) or -E2BIG (over the cap) with *ret_problem filled when
 * bytes were skipped; the reader has already moved past them, so call again to continue.
 * Returns -EIO or -ENOMEM with *ret_problem filled when reading failed; the position is
 * unchanged and a later call retries.
 * ret_problem may be NULL.
 */
int tb_tfrecord_next(struct tb_tfrecord_reader *r, struct tb_record *ret_rec,
                     struct tb_problem *ret_problem);

/* The file offset just past the last record returned or skipped: where to resume. */
uint64_t tb_tfrecord_offset(const struct tb_tfrecord_reader *r);

/* What lies after tb_tfrecord_offset() when tb_tfrecord_next last returned 0:
 * TB_PROBLEM_NONE (clean end), TB_PROBLEM_TRUNCATED (an incomplete record),
 * TB_PROBLEM_ZERO_FILLED (zero bytes to the end), TB_PROBLEM_LENGTH_CRC (corrupt bytes with
 * no good record after them yet), or TB_PROBLEM_TOO_LARGE (a header claiming more than the
 * cap, with no good record after it yet). *ret_bytes, if not NULL, gets how many bytes. */
enum tb_problem_kind tb_tfrecord_tail(const struct tb_tfrecord_reader *r, uint64_t *ret_bytes);

/* Frames one record into out, which must have len + 16 bytes. Used by the writer and tests. */
void tb_tfrecord_frame(const void *data, size_t len, uint8_t *out);

struct tb_buf;

/* Appends one framed record to a buffer. Returns 0, or the buffer's error (-E2BIG, -ENOMEM). */
int tb_tfrecord_append(struct tb_buf *out, const void *data, size_t len);
