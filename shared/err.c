/* SPDX-License-Identifier: MIT */
/* Problem records: names and formatting. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

const char *tb_problem_kind_name(enum tb_problem_kind kind)
{
    switch (kind) {
    case TB_PROBLEM_NONE:
        return "none";
    case TB_PROBLEM_LENGTH_CRC:
        return "length_crc";
    case TB_PROBLEM_DATA_CRC:
        return "data_crc";
    case TB_PROBLEM_TOO_LARGE:
        return "too_large";
    case TB_PROBLEM_ZERO_FILLED:
        return "zero_filled";
    case TB_PROBLEM_TRUNCATED:
        return "truncated";
    case TB_PROBLEM_BAD_PROTO:
        return "bad_proto";
    case TB_PROBLEM_BAD_EVENT:
        return "bad_event";
    case TB_PROBLEM_BAD_VALUE:
        return "bad_value";
    case TB_PROBLEM_IO:
        return "io";
    case TB_PROBLEM_NOT_A_FILE:
        return "not_a_file";
    case TB_PROBLEM_LOOP:
        return "symlink_loop";
    case TB_PROBLEM_LIMIT:
        return "limit";
    }
    return "unknown";
}

int tb_problem_set(struct tb_problem *p, enum tb_problem_kind kind, uint64_t offset,
                   uint64_t length, int err, const char *fmt, ...)
{
    if (p) {
        p->kind = kind;
        p->offset = offset;
        p->length = length;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->message, sizeof(p->message), fmt, ap);
        va_end(ap);
    }
    return -err;
}
