/* SPDX-License-Identifier: MIT */
/* Following a logdir: files, cursors, stored names, changed files; see follow.h. */
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "tblimits.h"
#include "tfrecord.h"

#define RUN_READ ((void *)1)
#define RUN_REFUSED ((void *)2)
#define NAMES_TRIED 1000 /* NAME#2 .. NAME#999 */

static char *key_of(const char *run, const char *file)
{
    size_t n = strlen(run) + strlen(file) + 2;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s\x1f%s", run, file);
    return k;
}

void tb_follow_init(struct tb_follow *fl, size_t max_record)
{
    memset(fl, 0, sizeof(*fl));
    tb_map_init(&fl->files);
    tb_map_init(&fl->cursors);
    tb_map_init(&fl->runs);
    fl->max_record = max_record;
}

void tb_follow_done(struct tb_follow *fl)
{
    for (size_t i = 0; i < fl->files.cap; i++) {
        struct tb_follow_file *f = fl->files.slots[i].key ? fl->files.slots[i].value : NULL;
        if (f) {
            free(f->run);
            free(f->path);
            free(f->name);
            free(f);
        }
    }
    tb_map_done(&fl->files);
    for (size_t i = 0; i < fl->cursors.cap; i++)
        if (fl->cursors.slots[i].key)
            free(fl->cursors.slots[i].value);
    tb_map_done(&fl->cursors);
    tb_map_done(&fl->runs);
}

int tb_follow_cursor_set(struct tb_follow *fl, const char *run, const char *name,
                         struct tb_follow_cursor c)
{
    char *k = key_of(run, name);
    if (!k)
        return -ENOMEM;
    struct tb_follow_cursor *old = tb_map_get(&fl->cursors, k);
    if (old) {
        *old = c;
        free(k);
        return 0;
    }
    struct tb_follow_cursor *nc = malloc(sizeof(*nc));
    int err = nc ? tb_map_put(&fl->cursors, k, nc) : -ENOMEM;
    if (nc && err == 0)
        *nc = c;
    else
        free(nc);
    free(k);
    return err;
}

const struct tb_follow_cursor *tb_follow_cursor_get(const struct tb_follow *fl, const char *run,
                                                    const char *name)
{
    char *k = key_of(run, name);
    const struct tb_follow_cursor *c = k ? tb_map_get(&fl->cursors, k) : NULL;
    free(k);
    return c;
}

void tb_follow_sync(struct tb_follow *fl)
{
    for (size_t i = 0; i < fl->files.cap; i++) {
        struct tb_follow_file *f = fl->files.slots[i].key ? fl->files.slots[i].value : NULL;
        if (!f || f->dead || !f->name)
            continue;
        const struct tb_follow_cursor *c = tb_follow_cursor_get(fl, f->run, f->name);
        f->offset = f->read_offset = c ? c->offset : 0;
    }
}

bool tb_follow_fingerprint(const char *path, uint32_t len, uint32_t *ret)
{
    uint8_t buf[TB_FINGERPRINT_BYTES];
    if (len == 0 || len > sizeof(buf))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got < len)
        return false;
    *ret = tb_crc32c(0, buf, len);
    return true;
}

/* The fingerprint spans TB_FINGERPRINT_MIN bytes of whole records when the file has that many
 * (a file_version record alone holds the writer's start time), TB_FINGERPRINT_BYTES at most:
 * few enough that a file cut short after them is still known as itself. Until a whole record
 * is there, the file has no fingerprint yet. */
void tb_follow_take_fingerprint(const struct tb_follow *fl, struct tb_follow_file *f)
{
    if (f->fp_len)
        return;
    struct tb_tfrecord_reader *r = NULL;
    if (tb_tfrecord_open(f->path, 0, fl->max_record, &r) < 0)
        return;
    uint64_t end = 0;
    struct tb_record rec;
    while (end < TB_FINGERPRINT_MIN && tb_tfrecord_next(r, &rec, NULL) == 1 &&
           tb_tfrecord_offset(r) <= TB_FINGERPRINT_BYTES)
        end = tb_tfrecord_offset(r);
    tb_tfrecord_close(r);
    if (end && tb_follow_fingerprint(f->path, (uint32_t)end, &f->fp))
        f->fp_len = (uint32_t)end;
}

/* Whether the store's data under this cursor came from the file at path. A cursor without a
 * fingerprint (written by an older server) is taken as the same file. */
static bool same_file(const char *path, const struct tb_follow_cursor *c)
{
    uint32_t fp;
    return !c->fp_len || (tb_follow_fingerprint(path, c->fp_len, &fp) && fp == c->fp);
}

static void tell(struct tb_follow *fl, enum tb_follow_event ev, const struct tb_follow_file *f,
                 uint64_t a, uint64_t b)
{
    if (fl->event)
        fl->event(fl->ctx, ev, f, a, b);
}

/* Where a file goes in the store: under its own name if the store has nothing there, or has
 * this file's data; otherwise under "name#2", "name#3"... (the first that is free or holds
 * this file). Sets name, offset and the fingerprint the cursor has. */
static int place(struct tb_follow *fl, struct tb_follow_file *f)
{
    char name[300];
    for (unsigned k = 1; k < NAMES_TRIED; k++) {
        if (k == 1)
            snprintf(name, sizeof(name), "%s", f->base);
        else
            snprintf(name, sizeof(name), "%.250s#%u", f->base, k);
        const struct tb_follow_cursor *c = tb_follow_cursor_get(fl, f->run, name);
        if (c && !same_file(f->path, c))
            continue;
        char *dup = strdup(name);
        if (!dup)
            return -ENOMEM;
        free(f->name);
        f->name = dup;
        f->offset = f->read_offset = c ? c->offset : 0;
        f->fp_len = c ? c->fp_len : 0;
        f->fp = c ? c->fp : 0;
        f->idle_size = 0;
        f->skip_at = TB_FOLLOW_NO_SKIP;
        if (k > 1)
            tell(fl, TB_FOLLOW_RENAMED, f, 0, 0);
        return 0;
    }
    return -EEXIST;
}

static struct tb_follow_file *new_file(struct tb_follow *fl, const struct tb_logdir_run *run,
                                       const struct tb_logdir_file *lf, const char *key)
{
    struct tb_follow_file *f = calloc(1, sizeof(*f));
    if (!f || !(f->run = strdup(run->name)) || !(f->path = strdup(lf->path))) {
        if (f)
            free(f->run);
        free(f);
        return NULL;
    }
    f->base = f->path + strlen(f->path) - strlen(lf->name);
    f->dev = lf->dev;
    f->ino = lf->ino;
    f->skip_at = TB_FOLLOW_NO_SKIP;
    if (tb_map_put(&fl->files, key, f) < 0) {
        free(f->run);
        free(f->path);
        free(f);
        return NULL;
    }
    return f;
}

/* A file seen again with another inode, or smaller than what is committed of it. */
static void changed_file(struct tb_follow *fl, struct tb_follow_file *f,
                         const struct tb_logdir_file *lf)
{
    uint32_t fp;
    bool same = f->fp_len && tb_follow_fingerprint(f->path, f->fp_len, &fp) && fp == f->fp;
    f->dev = lf->dev;
    f->ino = lf->ino;
    if (same && lf->size >= f->offset)
        return; /* the same bytes under a new inode (rsync, a copy): go on from the cursor */
    if (same) {
        f->dead = true;
        tell(fl, TB_FOLLOW_TRUNCATED, f, lf->size, f->offset);
        return;
    }
    /* Another file now has this name: store it as a new file of the run. */
    tb_follow_cursor_set(fl, f->run, f->name,
                         (struct tb_follow_cursor){f->offset, f->fp_len, f->fp});
    if (place(fl, f) < 0)
        f->dead = true;
}

int tb_follow_refresh(struct tb_follow *fl, const struct tb_logdir *ld)
{
    for (size_t i = 0; i < ld->n_runs; i++) {
        const struct tb_logdir_run *run = &ld->runs[i];
        void *state = tb_map_get(&fl->runs, run->name);
        if (!state) {
            state = !fl->new_run || fl->new_run(fl->ctx, run) ? RUN_READ : RUN_REFUSED;
            if (tb_map_put(&fl->runs, run->name, state) < 0)
                return -ENOMEM;
        }
        for (size_t j = 0; j < run->n_files; j++) {
            const struct tb_logdir_file *lf = &run->files[j];
            char *k = key_of(run->name, lf->name);
            if (!k)
                return -ENOMEM;
            struct tb_follow_file *f = tb_map_get(&fl->files, k);
            if (!f) {
                f = new_file(fl, run, lf, k);
                if (!f) {
                    free(k);
                    return -ENOMEM;
                }
                if (state == RUN_REFUSED) {
                    f->dead = true;
                } else if (place(fl, f) < 0) {
                    f->dead = true;
                } else if (f->offset && lf->size < f->offset) {
                    f->dead = true;
                    tell(fl, TB_FOLLOW_SHRUNK, f, lf->size, f->offset);
                }
            } else if (!f->dead &&
                       (lf->ino != f->ino || lf->dev != f->dev || lf->size < f->offset)) {
                changed_file(fl, f, lf);
            }
            f->size = lf->size;
            free(k);
        }
    }
    return 0;
}

bool tb_follow_ready(const struct tb_follow_file *f, uint64_t *ret_size)
{
    struct stat st;
    if (f->dead || stat(f->path, &st) != 0)
        return false;
    uint64_t size = (uint64_t)st.st_size;
    if (ret_size)
        *ret_size = size;
    return size > f->read_offset && size != f->idle_size;
}

void tb_follow_idle(struct tb_follow_file *f, uint64_t size)
{
    f->idle_size = size;
}

int tb_follow_committed(struct tb_follow *fl, struct tb_follow_file *f, uint64_t cursor,
                        uint64_t end)
{
    f->offset = cursor;
    if (cursor != end)
        f->read_offset = cursor; /* what was read ahead is read again */
    return tb_follow_cursor_set(fl, f->run, f->name,
                                (struct tb_follow_cursor){cursor, f->fp_len, f->fp});
}

void tb_follow_name_taken(struct tb_follow *fl, struct tb_follow_file *f, uint64_t cursor)
{
    if (f->dead)
        return;
    /* A fingerprint longer than any file's marks the name as taken by a file we do not have. */
    tb_follow_cursor_set(fl, f->run, f->name, (struct tb_follow_cursor){cursor, UINT32_MAX, 0});
    if (place(fl, f) < 0)
        f->dead = true;
}

void tb_follow_rewind(struct tb_follow *fl)
{
    for (size_t i = 0; i < fl->files.cap; i++) {
        struct tb_follow_file *f = fl->files.slots[i].key ? fl->files.slots[i].value : NULL;
        if (f)
            f->read_offset = f->offset;
    }
}

void tb_follow_totals(const struct tb_follow *fl, uint64_t *ret_done, uint64_t *ret_all)
{
    uint64_t done = 0, all = 0;
    for (size_t i = 0; i < fl->files.cap; i++) {
        const struct tb_follow_file *f = fl->files.slots[i].key ? fl->files.slots[i].value : NULL;
        if (!f || f->dead)
            continue;
        done += f->offset;
        all += f->size > f->offset ? f->size : f->offset;
    }
    *ret_done = done;
    *ret_all = all;
}

static int cmp_files(const void *a, const void *b)
{
    const struct tb_follow_file *x = *(struct tb_follow_file *const *)a,
                                *y = *(struct tb_follow_file *const *)b;
    int c = strcmp(x->run, y->run);
    return c ? c : strcmp(x->base, y->base);
}

int tb_follow_sorted(const struct tb_follow *fl, struct tb_follow_file ***ret, size_t *ret_n)
{
    size_t n = 0;
    struct tb_follow_file **order = calloc(fl->files.len ? fl->files.len : 1, sizeof(*order));
    if (!order)
        return -ENOMEM;
    for (size_t i = 0; i < fl->files.cap; i++)
        if (fl->files.slots[i].key)
            order[n++] = fl->files.slots[i].value;
    qsort(order, n, sizeof(*order), cmp_files);
    *ret = order;
    *ret_n = n;
    return 0;
}
