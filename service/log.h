/* SPDX-License-Identifier: MIT */
/* Server logging: one line per event on stderr, with a UTC timestamp and a level. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Logs never carry a token or a password: callers pass names and ids only. Whatever the
 * message holds (a request path, a header), control characters, backslashes and bytes that
 * are not UTF-8 are written as \xNN (a backslash as \\), so that a client cannot forge log
 * lines or send escape sequences to the terminal of whoever reads the log. */
void svc_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void svc_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void svc_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Silences info lines (tests and admin commands). */
void svc_log_set_quiet(bool quiet);

/* Copies the NUL-terminated in to out[out_len] escaped as above, cut short (at a whole
 * escape) if out is too small. Returns the length written. */
size_t svc_log_escape(const char *in, char *out, size_t out_len);
