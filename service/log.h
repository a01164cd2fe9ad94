/* SPDX-License-Identifier: MIT */
/* Server logging: one line per event on stderr, with a UTC timestamp and a level. */
#pragma once

#include <stdbool.h>

/* Logs never carry a token or a password: callers pass names and ids only. */
void svc_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void svc_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void svc_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Silences info lines (tests and admin commands). */
void svc_log_set_quiet(bool quiet);
