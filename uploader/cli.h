/* SPDX-License-Identifier: MIT */
/* What every tbdev command shares: the common options (one table), the messages it prints
 * (warnings, notes, errors), and small checks and formats. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"

/* Verbosity: 0 quiet (errors and warnings only), 1 the default (progress and results),
 * 2 also every request. TensorBoard.dev's `--verbose 0|1` mean the same as here. */
enum { UP_QUIET = 0, UP_NORMAL = 1, UP_REQUESTS = 2 };

/* The options every command that talks to a server takes. A command's config struct starts
 * with a struct up_common, so that the common table's offsets hold for it. */
struct up_common {
    const char *server;
    const char *cacert;
    long long verbose; /* UP_QUIET .. UP_REQUESTS; set to UP_NORMAL before parsing */
    bool quiet;        /* -q: verbose 0 */
};

extern const struct tb_opt up_common_options[];
extern const size_t up_common_options_n;

/*
 * Parses argv for command `cmd` (e.g. "upload", "auth login") with the common options and the
 * command's own (offsets into the same struct, which starts with a struct up_common). Prints
 * --help (usage_fn) and usage errors itself. Positional arguments are left from *ret_optind
 * when it is not NULL; otherwise they are an error. Returns -1 to go on, or the exit code to
 * return (0 after --help, 2 after a usage error).
 */
int up_cli_parse(const char *cmd, const struct tb_opt *own, size_t n_own, void (*usage_fn)(void),
                 int argc, char **argv, void *cfg, bool with_common, int *ret_optind);

/* Prints the common options' help lines (for a command's --help). */
void up_cli_help_common(void);

/* Messages, as curl's tool_msgs: "tbdev: warning: ...", "tbdev: note: ...", and "tbdev CMD:
 * ..." for errors, on stderr. A progress line on a terminal is cleared first and redrawn by
 * the next progress update. Notes are not printed at UP_QUIET. */
void up_msg_init(const char *cmd, int verbose);
void up_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void up_notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void up_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A progress line (no newline) on a terminal; on a pipe it is not printed. */
void up_progressf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends a progress line drawn before, if any. */
void up_progress_end(void);
bool up_msg_tty(void);

/* Whether id looks like an experiment ID: 22 URL-safe characters (base64url of 128 bits). */
bool up_experiment_id_ok(const char *id);

/* "32.0 KiB", "1.5 MiB": bytes for people. */
void up_human_bytes(char *buf, size_t len, double n);

/* "1 run", "2 runs". */
const char *up_plural(uint64_t n, const char *one, const char *many, char *buf, size_t len);

/* A server URL in one spelling: scheme and host in lower case, no trailing slash, no default
 * port. Returns false (out untouched) if url is not http(s)://HOST[:PORT][/PATH]. */
bool up_url_normalise(const char *url, char *out, size_t len);
