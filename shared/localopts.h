/* SPDX-License-Identifier: MIT */
/* The options of local mode (`tbdev serve`, `tbdev-server local`): one table, and the logdirs
 * they name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "opts.h"

/* `tbdev serve` checks these and execs `tbdev-server local` with the same arguments, which
 * checks them again: one table keeps both --help texts, and the README, the same. */
struct tb_local_options {
    const char *logdir;      /* borrowed from argv */
    const char *logdir_spec; /* "name1:dir1,name2:dir2" (a name may be left out: "dir") */
    const char *host;
    long long port;
    const char *db;
    long long poll_interval; /* seconds between looks at the logdir once it is read */
    bool quiet;
};

extern const struct tb_opt tb_local_options[];
extern const size_t tb_local_options_n;

/* `tbdev serve --help` (and `tbdev-server local --help`): what it does, the options, the exit
 * statuses. */
void tb_local_usage(FILE *f);

/* Fills the defaults: host 127.0.0.1, port 6006, a look every second. */
void tb_local_options_defaults(struct tb_local_options *o);

/* One logdir to read, and the name its runs go under ("" for none). */
struct tb_local_logdir {
    char *name;
    char *path; /* absolute and normalised (no ".", "..", "//" or trailing '/'), not resolved:
                 * the logdir may not exist yet */
};

/*
 * Checks the options and lists the logdirs they name, paths made absolute against cwd.
 * Exactly one of logdir and logdir_spec; in a spec, entries are separated by ',', a name is
 * what comes before the first ':' (1-200 bytes of text without '/'), names are distinct, and
 * an entry without ':' has no name. On success *ret (caller frees with tb_local_logdirs_free)
 * and *ret_n; otherwise -EINVAL (or -ENOMEM) with a message for the user in err.
 */
int tb_local_logdirs(const struct tb_local_options *o, const char *cwd,
                     struct tb_local_logdir **ret, size_t *ret_n, char *err, size_t err_len);

/* NULL-safe. */
void tb_local_logdirs_free(struct tb_local_logdir *l, size_t n);

/* path made absolute against cwd (when relative) and normalised lexically into out.
 * Returns 0, or -E2BIG when out is too small, -EINVAL for an empty path. */
int tb_local_abs_path(const char *cwd, const char *path, char *out, size_t out_len);

/* A run's name in local mode: the logdir's name joined to the run's ("name" for run ".",
 * "name/run"), or the run's name alone when the logdir has no name. Caller frees. */
char *tb_local_run_name(const char *logdir_name, const char *run);

/* Whether host names this machine's loopback only (127.0.0.0/8, ::1, "localhost"). */
bool tb_local_is_loopback(const char *host);
