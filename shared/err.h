/* SPDX-License-Identifier: MIT */
/* The error convention: 0 or a count on success, -errno on failure, and one problem record. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Functions return 0 (or a count) on success and -errno on failure, from this vocabulary:
 *   EINVAL bad input, EBADMSG corrupt record or CRC, E2BIG over a limit, ENOENT, EEXIST,
 *   ENOMEM, EIO, EPROTO bad peer reply.
 * Where a caller needs more than the errno (which file, which offset, what was wrong),
 * the callee fills a struct tb_problem that the caller owns.
 */

enum tb_problem_kind {
    TB_PROBLEM_NONE = 0,
    TB_PROBLEM_LENGTH_CRC,  /* header's length CRC does not match */
    TB_PROBLEM_DATA_CRC,    /* payload CRC does not match; the record was skipped */
    TB_PROBLEM_TOO_LARGE,   /* length over TB_RECORD_MAX with a valid length CRC */
    TB_PROBLEM_ZERO_FILLED, /* a run of zero bytes where a record should start */
    TB_PROBLEM_TRUNCATED,   /* the file ends inside a record: not written yet */
    TB_PROBLEM_BAD_PROTO,   /* the payload is not a valid Event */
    TB_PROBLEM_BAD_EVENT,   /* a valid Event with an unusable field (NaN wall_time, ...) */
    TB_PROBLEM_BAD_VALUE,   /* one summary value was unusable; the rest were kept */
    TB_PROBLEM_IO,          /* a read or open failed */
    TB_PROBLEM_NOT_A_FILE,  /* a directory or device named like an event file */
    TB_PROBLEM_LOOP,        /* a symlink loop was cut */
    TB_PROBLEM_LIMIT,       /* too many runs, files or levels */
};

struct tb_problem {
    enum tb_problem_kind kind;
    uint64_t offset;   /* byte offset in the file where it starts */
    uint64_t length;   /* bytes affected (skipped), 0 when unknown */
    char message[240]; /* a sentence a person can act on */
};

/* Stable lower-case name of a problem kind, e.g. "length_crc". Never NULL. */
const char *tb_problem_kind_name(enum tb_problem_kind kind);

/* Fills *p. A NULL p is allowed and ignored. Returns -err so callers can `return
 * tb_problem_set(...)`. */
int tb_problem_set(struct tb_problem *p, enum tb_problem_kind kind, uint64_t offset,
                   uint64_t length, int err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
