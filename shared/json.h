/* SPDX-License-Identifier: MIT */
/* A streaming JSON writer into a tb_buf: valid UTF-8 out, whatever bytes come in. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Commas are placed for the caller: call tb_json_key before each member of an object, and
 * the value functions for each element of an array. Nesting is at most 32 deep (a programmer
 * error past that, caught by assert). Errors stick in the buffer (b->err): check once at
 * the end.
 *
 * Strings are escaped for any context: ", \ and control characters, and also <, >, & and
 * U+2028/9, so the output can sit inside HTML. Bytes that are not valid UTF-8 become U+FFFD.
 * Non-finite doubles, which JSON lacks, are written as the strings "NaN", "Infinity" and
 * "-Infinity" (the spelling JavaScript's Number() parses).
 */
struct tb_json {
    struct tb_buf *out; /* borrowed */
    int depth;
    bool first[32]; /* no member/element written yet at this depth */
    bool after_key;
};

void tb_json_init(struct tb_json *j, struct tb_buf *out);
void tb_json_obj_open(struct tb_json *j);
void tb_json_obj_close(struct tb_json *j);
void tb_json_arr_open(struct tb_json *j);
void tb_json_arr_close(struct tb_json *j);
void tb_json_key(struct tb_json *j, const char *key);
void tb_json_str(struct tb_json *j, const char *s);
void tb_json_strn(struct tb_json *j, const void *s, size_t len);
void tb_json_int(struct tb_json *j, int64_t v);
void tb_json_uint(struct tb_json *j, uint64_t v);
void tb_json_double(struct tb_json *j, double v);
void tb_json_bool(struct tb_json *j, bool v);
void tb_json_null(struct tb_json *j);
/* Writes `json`, which the caller guarantees is one valid JSON value, as the next value. */
void tb_json_raw(struct tb_json *j, const char *json);

/* True if s is valid UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
bool tb_utf8_valid(const void *s, size_t len);

/* Appends s escaped as a JSON string body (no quotes) to b. */
void tb_json_escape(struct tb_buf *b, const void *s, size_t len);
