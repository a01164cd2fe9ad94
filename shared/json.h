/* SPDX-License-Identifier: MIT */
/* A streaming JSON writer into a tb_buf: valid UTF-8 out, whatever bytes come in. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tblimits.h"

/*
 * Commas are placed for the caller: call tb_json_key before each member of an object, and
 * the value functions for each element of an array. Errors stick in the buffer (b->err): check
 * once at the end. Nesting deeper than TB_JSON_DEPTH_MAX arrays and objects is such an error
 * (-E2BIG), never an overflow: the writer keeps counting opens and closes, so the caller's
 * code runs on unchanged and finds the error at its one check.
 *
 * Strings are escaped for any context: ", \ and control characters, and also <, >, & and
 * U+2028/9, so the output can sit inside HTML. Bytes that are not valid UTF-8 become U+FFFD.
 * Non-finite doubles, which JSON lacks, are written as the strings "NaN", "Infinity" and
 * "-Infinity" (the spelling JavaScript's Number() parses).
 */
struct tb_json {
    struct tb_buf *out; /* borrowed */
    int depth;
    int over;                          /* opens past TB_JSON_DEPTH_MAX not yet closed */
    bool first[TB_JSON_DEPTH_MAX + 1]; /* no member/element written yet at this depth */
    bool after_key;
};

void tb_json_init(struct tb_json *j, struct tb_buf *out);
void tb_json_obj_open(struct tb_json *j);
void tb_json_obj_close(struct tb_json *j);
void tb_json_arr_open(struct tb_json *j);
void tb_json_arr_close(struct tb_json *j);
void tb_json_key(struct tb_json *j, const char *key);
/* A key of len bytes (which may hold NULs, escaped as \u0000). */
void tb_json_keyn(struct tb_json *j, const void *key, size_t len);
void tb_json_str(struct tb_json *j, const char *s);
void tb_json_strn(struct tb_json *j, const void *s, size_t len);
void tb_json_int(struct tb_json *j, int64_t v);
void tb_json_uint(struct tb_json *j, uint64_t v);
void tb_json_double(struct tb_json *j, double v);
void tb_json_bool(struct tb_json *j, bool v);
void tb_json_null(struct tb_json *j);
/* Writes `json`, which the caller guarantees is one valid JSON value, as the next value (check
 * text read back from storage with tb_json_valid first). */
void tb_json_raw(struct tb_json *j, const char *json);

/* True if s[0..len) is exactly one JSON value (RFC 8259, strict: no trailing commas, no NaN,
 * strings valid UTF-8 without raw control characters) nesting at most max_depth arrays and
 * objects. Iterative: its stack is a bitmap, so max_depth is at most 64. */
bool tb_json_valid(const void *s, size_t len, int max_depth);

/* True if s is valid UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
bool tb_utf8_valid(const void *s, size_t len);

/* Appends s escaped as a JSON string body (no quotes) to b. */
void tb_json_escape(struct tb_buf *b, const void *s, size_t len);
