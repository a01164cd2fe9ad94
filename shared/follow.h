/* SPDX-License-Identifier: MIT */
/* Following a logdir as it is written: its files, where each is committed up to, its name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logdir.h"
#include "map.h"

/*
 * Both sides read a logdir the same way: `tbdev upload` sends what it reads to a server, and
 * `tbdev-server local` stores it itself. What they share is here: which files the last scan
 * found, where each one's committed data ends (its cursor, kept by whoever stores the data)
 * and where the next read starts, the name the data is stored under, and the rules for files
 * that change under the reader:
 *   - a file seen again with another inode, or smaller than what is committed of it, is
 *     checked by its fingerprint (a CRC32C of its first whole records, tblimits.h): the same
 *     bytes under a new inode (a copy, rsync) go on from the cursor; the same file cut short
 *     is no longer read, so nothing is duplicated or torn (TB_FOLLOW_TRUNCATED);
 *   - a different file under a name already stored (a job run again into the same folder)
 *     is stored under "NAME#2", "NAME#3"... (TB_FOLLOW_RENAMED);
 *   - a file found smaller than its cursor when first seen is not read (TB_FOLLOW_SHRUNK);
 *   - a tail that is not whole yet is waited for: a file is not read again until its size
 *     changes (tb_follow_idle).
 * Nothing here prints: what a person should hear of comes to the `event` callback.
 */

#define TB_FOLLOW_NO_SKIP UINT64_MAX

struct tb_follow_file {
    char *run;            /* the run's name */
    char *path;           /* full path */
    const char *base;     /* the file's name, inside path */
    char *name;           /* its stored name: base, or base#K when another file has base */
    uint64_t offset;      /* committed: what the store has of the file */
    uint64_t read_offset; /* where the next read starts: past offset while a read is in flight */
    uint64_t dev, ino;
    uint32_t fp_len, fp; /* fingerprint of the first fp_len bytes; fp_len 0: not taken yet */
    bool dead;           /* truncated, or its run refused: no longer read */
    bool warned_tail;    /* the reader's owner said the tail is damaged (once per file) */
    uint64_t idle_size;  /* the size at which a read found nothing new: skipped until it changes */
    uint64_t size;       /* as the last scan saw it */
    uint64_t skip_at;    /* the record at this offset is not to be sent (TB_FOLLOW_NO_SKIP) */
};

/* Where the store's data of (run, stored name) ends, and the fingerprint its first data had
 * (fp_len 0: none, taken as the same file; UINT32_MAX: a file that is not in the logdir). */
struct tb_follow_cursor {
    uint64_t offset;
    uint32_t fp_len, fp;
};

enum tb_follow_event {
    TB_FOLLOW_RENAMED,   /* not the file stored under f->base: stored as f->name from now on */
    TB_FOLLOW_TRUNCATED, /* cut to a bytes after b were committed: no longer read */
    TB_FOLLOW_SHRUNK,    /* found at a bytes, but b were committed before: not read */
};

struct tb_follow {
    struct tb_map files;   /* "run\x1f" base -> struct tb_follow_file */
    struct tb_map cursors; /* "run\x1f" stored name -> struct tb_follow_cursor */
    struct tb_map runs;    /* run -> (void *)1 read, (void *)2 refused by new_run */
    size_t max_record;     /* record cap for reading (0: TB_RECORD_MAX) */
    /* Called once for each run a scan shows for the first time; false: its files are never
     * read (a name the store would refuse). NULL: every run is read. */
    bool (*new_run)(void *ctx, const struct tb_logdir_run *run);
    /* Told of the events above, for a message; may be NULL. */
    void (*event)(void *ctx, enum tb_follow_event ev, const struct tb_follow_file *f, uint64_t a,
                  uint64_t b);
    void *ctx;
};

/* Prepares an empty follower the caller owns (callbacks NULL: set them after). */
void tb_follow_init(struct tb_follow *fl, size_t max_record);

/* Frees every file and cursor. NULL-safe fields. */
void tb_follow_done(struct tb_follow *fl);

/* Records the store's cursor of (run, stored name), replacing any. Returns 0 or -ENOMEM. */
int tb_follow_cursor_set(struct tb_follow *fl, const char *run, const char *name,
                         struct tb_follow_cursor c);

/* The cursor of (run, stored name), or NULL; borrowed until the next cursor_set. */
const struct tb_follow_cursor *tb_follow_cursor_get(const struct tb_follow *fl, const char *run,
                                                    const char *name);

/* Files already known take their cursor's offset (0 without one): after reading the cursors
 * again. */
void tb_follow_sync(struct tb_follow *fl);

/* Brings the files up to date with a scan: new runs (new_run), new files (placed under a free
 * stored name, from its cursor), files replaced or cut short. Returns 0 or -ENOMEM. */
int tb_follow_refresh(struct tb_follow *fl, const struct tb_logdir *ld);

/* Whether f may have records past its read offset: not dead, larger than read_offset, and not
 * at the size where it was last found idle. *ret_size gets its size now (if not NULL). */
bool tb_follow_ready(const struct tb_follow_file *f, uint64_t *ret_size);

/* A read of f found nothing whole to take at this size: wait until the size changes. */
void tb_follow_idle(struct tb_follow_file *f, uint64_t size);

/* Takes f's fingerprint once its first whole records are there (a no-op after that). */
void tb_follow_take_fingerprint(const struct tb_follow *fl, struct tb_follow_file *f);

/* The store committed f up to cursor, for a read that ended at end: what was read past a
 * different cursor is read again. Returns 0 or -ENOMEM. */
int tb_follow_committed(struct tb_follow *fl, struct tb_follow_file *f, uint64_t cursor,
                        uint64_t end);

/* The store holds another file under f->name (up to cursor): f goes under a new name, or dies
 * when none is free. */
void tb_follow_name_taken(struct tb_follow *fl, struct tb_follow_file *f, uint64_t cursor);

/* Forgets what was read past the committed offsets: the next reads start from them. */
void tb_follow_rewind(struct tb_follow *fl);

/* Bytes committed of the files still read, and their sizes (at least what is committed). */
void tb_follow_totals(const struct tb_follow *fl, uint64_t *ret_done, uint64_t *ret_all);

/* The files in (run, file name) order. *ret (caller frees the array, not the files, with
 * free()) and the count, or -ENOMEM. */
int tb_follow_sorted(const struct tb_follow *fl, struct tb_follow_file ***ret, size_t *ret_n);

/* The CRC32C of a file's first len bytes (at most TB_FINGERPRINT_BYTES); false if it has
 * fewer or cannot be read. */
bool tb_follow_fingerprint(const char *path, uint32_t len, uint32_t *ret);
