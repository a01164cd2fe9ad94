/* SPDX-License-Identifier: MIT */
/* Logdir discovery by TensorBoard's rules: which directories are runs, which files are theirs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * The rules (TensorBoard's io_wrapper):
 *   - a run is any directory, at any depth, that directly holds a regular file whose name
 *     contains "tfevents" (so `*.v2`, `*.profile-empty` and tensorboardX's names count);
 *   - the run's name is its path relative to the logdir, '/'-separated, "." for the logdir;
 *   - a run's files are read in byte order of their names; runs are listed the same way.
 * Symlinks to directories are followed, but never into a directory that is already on the
 * path from the logdir (that would loop), and one directory is walked through at most
 * TB_LOGDIR_ALIASES_MAX different paths (symlinks that fan out would otherwise multiply). Other
 * files are skipped quietly. Entries named like event files that are not regular files (a
 * directory, a FIFO, a dangling link), and directories that cannot be read, are reported as
 * problems and skipped; the walk goes on.
 */

struct tb_logdir_file {
    char *path;        /* full path: the logdir joined with the relative path */
    const char *name;  /* basename, inside path */
    uint64_t size;     /* bytes at scan time */
    uint64_t dev, ino; /* identity at scan time, to notice a replaced file */
};

struct tb_logdir_run {
    char *name; /* relative path, "." for the logdir itself */
    size_t n_files;
    struct tb_logdir_file *files;
};

struct tb_logdir_problem {
    char *path; /* full path of what was skipped */
    struct tb_problem problem;
};

struct tb_logdir {
    char *root;
    size_t n_runs;
    struct tb_logdir_run *runs;
    size_t n_problems; /* listed, at most TB_LOGDIR_PROBLEMS_MAX */
    struct tb_logdir_problem *problems;
    size_t problems_total; /* found, listed or not */
};

/*
 * Scans the logdir at `root`. On success *ret is owned by the caller (free with
 * tb_logdir_free) and lists every run, even runs whose only files are empty.
 * Errors: -ENOENT (root missing), -ENOTDIR (root not a directory), -EACCES (root unreadable),
 * -ENOMEM. Problems below the root are not errors: they are listed in (*ret)->problems.
 */
int tb_logdir_scan(const char *root, struct tb_logdir **ret);

/* NULL-safe. */
void tb_logdir_free(struct tb_logdir *ld);

/* True if a file name marks an event file ("tfevents" anywhere in it). */
int tb_logdir_is_event_name(const char *name);
