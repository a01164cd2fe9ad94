/* SPDX-License-Identifier: MIT */
/* Numbers as text with as few digits as read back exactly (JSON and CSV answers). */
#pragma once

#include <stddef.h>

/* Longest text the functions below write, with its NUL. */
#define TB_NUMFMT_MAX 32

/*
 * Writes the finite double v into out (NUL-terminated) with the fewest significant digits
 * (at most 17) that strtod reads back as exactly v, in JSON number syntax: "0.1", "-0",
 * "1795716236.123456", "1e-7", "1.5e+300". Returns the length. Non-finite values are the
 * caller's business (JSON has no spelling for them); given one, this writes "null".
 */
size_t tb_numfmt_double(double v, char out[TB_NUMFMT_MAX]);

/*
 * The same for a float32 value: the fewest digits (at most 9) whose nearest double, rounded
 * to float, is f. A float32 stored as a double (simple_value, DT_FLOAT tensors) prints as
 * what the writer logged ("0.1", not "0.10000000149011612"); a reader that parses it as a
 * double and rounds to float gets the same bits.
 */
size_t tb_numfmt_float(float f, char out[TB_NUMFMT_MAX]);
