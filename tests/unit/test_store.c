/* SPDX-License-Identifier: MIT */
/* Unit tests for store.c on its own: write_batch's exactly-once policy (store.h's contract)
 * over an in-memory backend that keeps a committed state and a transaction's copy of it, so
 * that what a batch commits, or leaves untouched, is seen directly: replays, gaps, a replaced
 * file, run and tag limits, the quota, chunking, seq order around a restart, runs locked in
 * name order, blobs written before the transaction, and a failure of every primitive call in
 * turn leaving nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "store.h"
#include "tblimits.h"

#define MAXN 64

struct state {
    struct {
        char name[32];
        int64_t id;
        uint64_t charged;
    } runs[MAXN];
    size_t n_runs;
    struct {
        int64_t run;
        char name[32];
        uint64_t cursor;
        uint32_t fp_len, fp;
    } files[MAXN];
    size_t n_files;
    struct {
        int64_t run, id;
        char tag[32];
        uint64_t points;
        int64_t min_step, max_step;
    } series[MAXN];
    size_t n_series;
    struct {
        int64_t series, seq, first_step;
        size_t n;
    } rows[4 * MAXN]; /* chunks, tensors and blob points, in the order stored */
    char row_kind[4 * MAXN];
    size_t n_rows;
    struct {
        int64_t run, seq, step;
    } restarts[MAXN];
    size_t n_restarts;
    uint8_t owned[MAXN][32];
    size_t n_owned;
    uint64_t user_used;
    uint64_t exp_scalars, exp_tensors, exp_blobs, exp_bytes, exp_bumps;
    int64_t next_id, next_seq;
};

/* The fake backend (store.c never looks inside a struct svc_store). */
struct svc_store {
    struct state done, tx;
    bool in_tx;
    int calls, fail_at; /* the fail_at-th primitive call (1-based) fails with -EIO */
    char lock_order[256];
    int puts;       /* object-store writes */
    bool collected; /* blob_ref says the object store collected the blob (REWRITE) */
};

static bool hit(struct svc_store *s)
{
    return ++s->calls == s->fail_at;
}

static int f_begin(struct svc_store *s, const char *exp)
{
    (void)exp;
    assert_false(s->in_tx);
    if (hit(s))
        return -EIO;
    s->tx = s->done;
    s->in_tx = true;
    return 0;
}

static int f_end(struct svc_store *s, int err)
{
    assert_true(s->in_tx);
    s->in_tx = false;
    if (!err && hit(s))
        err = -EIO; /* the commit fails */
    if (!err)
        s->done = s->tx;
    return err;
}

static int f_seq_block(struct svc_store *s, int64_t *first)
{
    if (hit(s))
        return -EIO;
    *first = s->tx.next_seq;
    s->tx.next_seq += SVC_SEQ_BLOCK;
    return 0;
}

static int find_run(struct state *t, const char *name)
{
    for (size_t i = 0; i < t->n_runs; i++)
        if (!strcmp(t->runs[i].name, name))
            return (int)i;
    return -1;
}

static int f_run_lock(struct svc_store *s, const char *exp, const char *name, int64_t *id)
{
    (void)exp;
    assert_true(s->in_tx);
    if (hit(s))
        return -EIO;
    size_t n = strlen(s->lock_order);
    snprintf(s->lock_order + n, sizeof(s->lock_order) - n, "%s%s", n ? "," : "", name);
    int i = find_run(&s->tx, name);
    if (i < 0)
        return -ENOENT;
    *id = s->tx.runs[i].id;
    return 0;
}

static int f_run_count(struct svc_store *s, const char *exp, uint64_t *n)
{
    (void)exp;
    if (hit(s))
        return -EIO;
    *n = s->tx.n_runs;
    return 0;
}

static int f_run_add(struct svc_store *s, const char *exp, const char *name, int64_t *id)
{
    (void)exp;
    if (hit(s))
        return -EIO;
    assert_true(s->tx.n_runs < MAXN);
    snprintf(s->tx.runs[s->tx.n_runs].name, 32, "%s", name);
    *id = s->tx.runs[s->tx.n_runs++].id = ++s->tx.next_id;
    return 0;
}

static int f_file_lock(struct svc_store *s, int64_t run, const char *name, uint64_t *cursor,
                       uint32_t *fp_len, uint32_t *fp)
{
    if (hit(s))
        return -EIO;
    for (size_t i = 0; i < s->tx.n_files; i++)
        if (s->tx.files[i].run == run && !strcmp(s->tx.files[i].name, name)) {
            *cursor = s->tx.files[i].cursor;
            *fp_len = s->tx.files[i].fp_len;
            *fp = s->tx.files[i].fp;
            return 1;
        }
    return 0;
}

static int f_file_set(struct svc_store *s, int64_t run, const char *name, uint64_t cursor,
                      uint32_t fp_len, uint32_t fp)
{
    if (hit(s))
        return -EIO;
    for (size_t i = 0; i < s->tx.n_files; i++)
        if (s->tx.files[i].run == run && !strcmp(s->tx.files[i].name, name)) {
            s->tx.files[i].cursor = cursor;
            if (!s->tx.files[i].fp_len) {
                s->tx.files[i].fp_len = fp_len;
                s->tx.files[i].fp = fp;
            }
            return 0;
        }
    assert_true(s->tx.n_files < MAXN);
    s->tx.files[s->tx.n_files].run = run;
    snprintf(s->tx.files[s->tx.n_files].name, 32, "%s", name);
    s->tx.files[s->tx.n_files].cursor = cursor;
    s->tx.files[s->tx.n_files].fp_len = fp_len;
    s->tx.files[s->tx.n_files++].fp = fp;
    return 0;
}

static int f_series_get(struct svc_store *s, int64_t run, const char *tag, int64_t *id)
{
    if (hit(s))
        return -EIO;
    for (size_t i = 0; i < s->tx.n_series; i++)
        if (s->tx.series[i].run == run && !strcmp(s->tx.series[i].tag, tag)) {
            *id = s->tx.series[i].id;
            return 1;
        }
    return 0;
}

static int f_tag_count(struct svc_store *s, int64_t run, uint64_t *n)
{
    if (hit(s))
        return -EIO;
    *n = 0;
    for (size_t i = 0; i < s->tx.n_series; i++)
        *n += s->tx.series[i].run == run;
    return 0;
}

static int f_series_add(struct svc_store *s, int64_t run, const struct svc_series_def *d,
                        int64_t *id)
{
    if (hit(s))
        return -EIO;
    assert_true(s->tx.n_series < MAXN);
    s->tx.series[s->tx.n_series].run = run;
    snprintf(s->tx.series[s->tx.n_series].tag, 32, "%s", d->tag);
    *id = s->tx.series[s->tx.n_series++].id = ++s->tx.next_id;
    return 0;
}

static void add_row(struct svc_store *s, char kind, int64_t series, int64_t seq, int64_t step,
                    size_t n)
{
    assert_true(s->tx.n_rows < 4 * MAXN);
    s->tx.row_kind[s->tx.n_rows] = kind;
    s->tx.rows[s->tx.n_rows].series = series;
    s->tx.rows[s->tx.n_rows].seq = seq;
    s->tx.rows[s->tx.n_rows].first_step = step;
    s->tx.rows[s->tx.n_rows++].n = n;
}

static int f_chunks_add(struct svc_store *s, const struct svc_chunk_row *rows, size_t n)
{
    if (hit(s))
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        struct svc_scalar_point first;
        svc_scalar_point_get(rows[i].points, &first);
        assert_int_equal(rows[i].summary->n, rows[i].n);
        add_row(s, 'c', rows[i].series_id, rows[i].seq, first.step, rows[i].n);
    }
    return 0;
}

static int f_tensor_add(struct svc_store *s, int64_t series, int64_t seq, const struct svc_item *it)
{
    if (hit(s))
        return -EIO;
    add_row(s, 't', series, seq, it->step, 1);
    return 0;
}

static int f_blob_point_add(struct svc_store *s, int64_t series, int64_t seq,
                            const struct svc_item *it)
{
    if (hit(s))
        return -EIO;
    add_row(s, 'b', series, seq, it->step, it->x->n_blobs);
    return 0;
}

static int f_blob_ref(struct svc_store *s, const char *exp, const uint8_t sha[32],
                      const uint8_t *data, size_t size)
{
    (void)exp, (void)data, (void)size;
    if (hit(s))
        return -EIO;
    int flags = s->collected ? SVC_BLOB_REWRITE : 0;
    for (size_t i = 0; i < s->tx.n_owned; i++)
        if (!memcmp(s->tx.owned[i], sha, 32))
            return flags;
    memcpy(s->tx.owned[s->tx.n_owned++], sha, 32);
    return flags | SVC_BLOB_NEW_OWNER;
}

static int f_restart_add(struct svc_store *s, int64_t run, int64_t seq, int64_t step)
{
    if (hit(s))
        return -EIO;
    for (size_t i = 0; i < s->tx.n_restarts; i++)
        if (s->tx.restarts[i].run == run && s->tx.restarts[i].step == step)
            return 0;
    s->tx.restarts[s->tx.n_restarts].run = run;
    s->tx.restarts[s->tx.n_restarts].seq = seq;
    s->tx.restarts[s->tx.n_restarts++].step = step;
    return 1;
}

static int f_series_bump(struct svc_store *s, int64_t id, uint64_t points, int64_t min_step,
                         int64_t max_step)
{
    if (hit(s))
        return -EIO;
    for (size_t i = 0; i < s->tx.n_series; i++)
        if (s->tx.series[i].id == id) {
            if (!s->tx.series[i].points || min_step < s->tx.series[i].min_step)
                s->tx.series[i].min_step = min_step;
            if (!s->tx.series[i].points || max_step > s->tx.series[i].max_step)
                s->tx.series[i].max_step = max_step;
            s->tx.series[i].points += points;
            return 0;
        }
    fail_msg("series_bump of an unknown series %lld", (long long)id);
    return -EIO;
}

static int f_run_charge(struct svc_store *s, int64_t run, uint64_t bytes)
{
    if (hit(s))
        return -EIO;
    for (size_t i = 0; i < s->tx.n_runs; i++)
        if (s->tx.runs[i].id == run) {
            s->tx.runs[i].charged += bytes;
            return 0;
        }
    fail_msg("run_charge of an unknown run %lld", (long long)run);
    return -EIO;
}

static int f_user_charge(struct svc_store *s, int64_t user, uint64_t bytes, uint64_t quota)
{
    (void)user;
    if (hit(s))
        return -EIO;
    if (quota && s->tx.user_used + bytes > quota)
        return -EDQUOT;
    s->tx.user_used += bytes;
    return 0;
}

static int f_experiment_bump(struct svc_store *s, const char *exp, double now, uint64_t scalars,
                             uint64_t tensors, uint64_t blobs, uint64_t bytes)
{
    (void)exp, (void)now;
    if (hit(s))
        return -EIO;
    s->tx.exp_scalars += scalars;
    s->tx.exp_tensors += tensors;
    s->tx.exp_blobs += blobs;
    s->tx.exp_bytes += bytes;
    s->tx.exp_bumps++;
    return 0;
}

static const struct svc_wb_ops fake = {
    .begin = f_begin,
    .end = f_end,
    .seq_block = f_seq_block,
    .run_lock = f_run_lock,
    .run_count = f_run_count,
    .run_add = f_run_add,
    .file_lock = f_file_lock,
    .file_set = f_file_set,
    .series_get = f_series_get,
    .tag_count = f_tag_count,
    .series_add = f_series_add,
    .chunks_add = f_chunks_add,
    .tensor_add = f_tensor_add,
    .blob_point_add = f_blob_point_add,
    .blob_ref = f_blob_ref,
    .restart_add = f_restart_add,
    .series_bump = f_series_bump,
    .run_charge = f_run_charge,
    .user_charge = f_user_charge,
    .experiment_bump = f_experiment_bump,
};

/* --- batches --- */

#define EXP "aaaaaaaaaaaaaaaaaaaaaa"

struct fx {
    struct svc_store s;
    const char *runs[4];
    struct svc_series_def series[4];
    struct svc_item items[3000];
    struct svc_item_data data[4];
    struct tb_bytes blob_bytes[4];
    uint8_t shas[4][32];
    struct svc_group groups[4];
    struct svc_batch b;
};

static struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->s.done.next_seq = 1;
    return f;
}

static void add_series(struct fx *f, uint32_t run, const char *tag)
{
    struct svc_series_def *d = &f->series[f->b.n_series++];
    d->run = run;
    d->tag = tag;
    d->plugin = "scalars";
    d->display_name = "";
    d->description = "";
    d->kind = TB_KIND_SCALAR;
}

/* Resets the batch to runs and series, no groups. */
static void batch(struct fx *f, size_t n_runs, const char *const *runs)
{
    memset(&f->b, 0, sizeof(f->b));
    memset(f->groups, 0, sizeof(f->groups));
    for (size_t i = 0; i < n_runs; i++)
        f->runs[i] = runs[i];
    f->b.runs = f->runs;
    f->b.n_runs = n_runs;
    f->b.series = f->series;
    f->b.items = f->items;
    f->b.groups = f->groups;
}

/* A group of n scalars of series i (steps from step0) in file "f" of run r at [off, off+len). */
static struct svc_group *group(struct fx *f, uint32_t r, uint32_t series, size_t n, int64_t step0,
                               uint64_t off, uint64_t len)
{
    struct svc_group *g = &f->groups[f->b.n_groups++];
    g->run = r;
    g->file = "events.out.tfevents.1";
    g->offset = off;
    g->end_offset = off + len;
    g->first_item = f->b.n_items;
    for (size_t k = 0; k < n; k++) {
        struct svc_item *it = &f->items[f->b.n_items++];
        it->type = SVC_ITEM_SCALAR;
        it->series = series;
        it->step = step0 + (int64_t)k;
        it->wall_time = 1e9 + (double)k;
        it->value = (double)k / 7;
    }
    g->n_items = n;
    g->values = n;
    return g;
}

static int write(struct fx *f, uint64_t quota)
{
    return svc_store_write_batch(&fake, &f->s, NULL, EXP, 1, quota, &f->b);
}

/* The stored summary of a chunk of n points (store.h): the chunk's unit, and one per group
 * of SVC_SUMMARY_GROUP_POINTS when it has more points than one group. */
static uint64_t summary_bytes(size_t n)
{
    size_t groups = n > SVC_SUMMARY_GROUP_POINTS
                        ? (n + SVC_SUMMARY_GROUP_POINTS - 1) / SVC_SUMMARY_GROUP_POINTS
                        : 0;
    return (1 + groups) * SVC_SUMMARY_UNIT_BYTES;
}

/* --- tests --- */

static void test_chunks_cursor_and_charge(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"train"};
    batch(f, 1, runs);
    add_series(f, 0, "loss");
    group(f, 0, 0, 2000, 0, 0, 100);
    group(f, 0, 0, 500, 2000, 100, 40);
    assert_int_equal(write(f, 0), 0);
    const struct state *d = &f->s.done;
    /* 2,500 points of one series: chunks of 1,024, 1,024 and 452, in arrival order */
    assert_int_equal(d->n_rows, 3);
    assert_int_equal(d->rows[0].n, SVC_SCALAR_CHUNK_POINTS);
    assert_int_equal(d->rows[1].n, SVC_SCALAR_CHUNK_POINTS);
    assert_int_equal(d->rows[2].n, 2500 - 2 * SVC_SCALAR_CHUNK_POINTS);
    assert_int_equal(d->rows[1].first_step, SVC_SCALAR_CHUNK_POINTS);
    assert_true(d->rows[0].seq < d->rows[1].seq && d->rows[1].seq < d->rows[2].seq);
    assert_int_equal(d->n_files, 1);
    assert_int_equal(d->files[0].cursor, 140);
    assert_int_equal(f->groups[1].cursor, 140);
    assert_int_equal(d->series[0].points, 2500);
    assert_int_equal(d->series[0].min_step, 0);
    assert_int_equal(d->series[0].max_step, 2499);
    /* what the quota is charged: every row, as store.h says */
    uint64_t want = TB_QUOTA_ROW_BYTES + strlen("train") + TB_QUOTA_ROW_BYTES + strlen("loss") +
                    strlen("scalars") + TB_QUOTA_ROW_BYTES + strlen("events.out.tfevents.1") +
                    3 * TB_QUOTA_ROW_BYTES + 2 * summary_bytes(SVC_SCALAR_CHUNK_POINTS) +
                    summary_bytes(2500 - 2 * SVC_SCALAR_CHUNK_POINTS) +
                    2500 * SVC_SCALAR_POINT_BYTES;
    assert_int_equal(f->b.bytes, want);
    assert_int_equal(d->user_used, want);
    assert_int_equal(d->runs[0].charged, want);
    assert_int_equal(d->exp_scalars, 2500);
    assert_int_equal(d->exp_bumps, 1);
    free(f);
}

static void test_replay_stores_nothing(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"train"};
    batch(f, 1, runs);
    add_series(f, 0, "loss");
    group(f, 0, 0, 10, 0, 0, 100);
    assert_int_equal(write(f, 0), 0);
    struct state before = f->s.done;
    /* the same group again (a resend after a lost answer) */
    batch(f, 1, runs);
    f->b.n_series = 1;
    group(f, 0, 0, 10, 0, 0, 100);
    assert_int_equal(write(f, 0), 0);
    assert_true(f->groups[0].replay);
    assert_int_equal(f->groups[0].cursor, 100);
    assert_int_equal(f->b.bytes, 0);
    assert_memory_equal(&f->s.done, &before, sizeof(before));
    /* a replay beside a new group: only the new one is stored */
    batch(f, 1, runs);
    f->b.n_series = 1;
    group(f, 0, 0, 10, 0, 0, 100);
    group(f, 0, 0, 5, 10, 100, 50);
    assert_int_equal(write(f, 0), 0);
    assert_true(f->groups[0].replay);
    assert_false(f->groups[1].replay);
    assert_int_equal(f->s.done.series[0].points, 15);
    assert_int_equal(f->s.done.files[0].cursor, 150);
    free(f);
}

static void test_gap_is_stale_and_atomic(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"a", "b"};
    batch(f, 2, runs);
    add_series(f, 0, "x");
    add_series(f, 1, "y");
    group(f, 0, 0, 3, 0, 0, 30);
    group(f, 1, 1, 3, 0, 10, 30); /* a new file starting past 0: a gap */
    assert_int_equal(write(f, 0), -ESTALE);
    assert_int_equal(f->b.gap_group, 1);
    assert_int_equal(f->s.done.n_runs, 0); /* the first group is not stored either */
    assert_int_equal(f->s.done.n_rows, 0);
    assert_int_equal(f->s.done.user_used, 0);
    assert_int_equal(f->series[0].id, 0); /* ids of a failed batch are not kept */
    free(f);
}

static void test_replaced_file_is_refused_alone(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"a"};
    batch(f, 1, runs);
    add_series(f, 0, "x");
    struct svc_group *g = group(f, 0, 0, 3, 0, 0, 30);
    g->fingerprint_len = 256;
    g->fingerprint = 0x1234;
    assert_int_equal(write(f, 0), 0);
    batch(f, 1, runs);
    f->b.n_series = 1;
    g = group(f, 0, 0, 3, 3, 30, 30);
    g->fingerprint_len = 256;
    g->fingerprint = 0x9999; /* another file under the same name */
    struct svc_group *h = group(f, 0, 0, 2, 3, 0, 30);
    h->file = "events.out.tfevents.2";
    assert_int_equal(write(f, 0), 0);
    assert_string_equal(f->groups[0].refused, "file_changed");
    assert_null(f->groups[1].refused);
    assert_int_equal(f->s.done.files[0].cursor, 30); /* never appended from the old cursor */
    assert_int_equal(f->s.done.series[0].points, 5);
    free(f);
}

static void test_limits(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"r1", "r2"};
    batch(f, 2, runs);
    add_series(f, 0, "x");
    add_series(f, 1, "x");
    group(f, 0, 0, 1, 0, 0, 10);
    group(f, 1, 1, 1, 0, 0, 10);
    f->b.max_runs = 1;
    assert_int_equal(write(f, 0), -EMLINK);
    assert_non_null(strstr(f->b.limit_msg, "run 'r2'"));
    assert_non_null(strstr(f->b.limit_msg, "more than 1 runs"));
    assert_int_equal(f->s.done.n_runs, 0);

    batch(f, 1, runs);
    f->b.n_series = 0;
    add_series(f, 0, "t1");
    add_series(f, 0, "t2");
    add_series(f, 0, "t3");
    group(f, 0, 0, 1, 0, 0, 10);
    f->items[f->b.n_items++] = (struct svc_item){.type = SVC_ITEM_SCALAR, .series = 1, .step = 1};
    f->items[f->b.n_items++] = (struct svc_item){.type = SVC_ITEM_SCALAR, .series = 2, .step = 2};
    f->groups[0].n_items = 3;
    f->b.max_tags = 2;
    assert_int_equal(write(f, 0), -EMLINK);
    assert_non_null(strstr(f->b.limit_msg, "tag 't3' run 'r1'"));
    assert_int_equal(f->s.done.n_series, 0);
    f->b.max_tags = 3;
    assert_int_equal(write(f, 0), 0);
    assert_int_equal(f->s.done.n_series, 3);
    free(f);
}

static void test_quota(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"a"};
    batch(f, 1, runs);
    add_series(f, 0, "x");
    group(f, 0, 0, 100, 0, 0, 10);
    assert_int_equal(write(f, 1000), -EDQUOT); /* 100 points are 2,400 bytes */
    assert_int_equal(f->s.done.n_rows, 0);
    assert_int_equal(f->s.done.user_used, 0);
    assert_int_equal(write(f, 100000), 0);
    uint64_t used = f->s.done.user_used;
    assert_true(used > 2400 && used < 100000);
    /* the next batch passes the quota by one byte */
    batch(f, 1, runs);
    f->b.n_series = 1;
    group(f, 0, 0, 1, 100, 10, 10);
    uint64_t next = TB_QUOTA_ROW_BYTES + summary_bytes(1) + SVC_SCALAR_POINT_BYTES;
    assert_int_equal(write(f, used + next - 1), -EDQUOT);
    assert_int_equal(write(f, used + next), 0);
    assert_int_equal(f->s.done.user_used, used + next);
    free(f);
}

static void test_runs_locked_in_name_order(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"zeta", "alpha", "mid"};
    batch(f, 3, runs);
    add_series(f, 0, "x");
    add_series(f, 1, "x");
    add_series(f, 2, "x");
    group(f, 0, 0, 1, 0, 0, 10);
    group(f, 1, 1, 1, 0, 0, 10);
    group(f, 2, 2, 1, 0, 0, 10);
    assert_int_equal(write(f, 0), 0);
    assert_string_equal(f->s.lock_order, "alpha,mid,zeta");
    free(f);
}

static void test_restart_orders_seqs(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"a"};
    batch(f, 1, runs);
    add_series(f, 0, "x");
    add_series(f, 0, "img");
    struct svc_group *g = group(f, 0, 0, 5, 0, 0, 10);
    /* a tensor, a restart at step 2, then more scalars: what came before the restart sorts
     * before it, what came after sorts after it */
    f->data[0] = (struct svc_item_data){.shape = "[]"};
    f->items[f->b.n_items++] =
        (struct svc_item){.type = SVC_ITEM_TENSOR, .series = 1, .step = 4, .x = &f->data[0]};
    f->items[f->b.n_items++] = (struct svc_item){.type = SVC_ITEM_RESTART, .run = 0, .step = 2};
    for (int k = 0; k < 3; k++)
        f->items[f->b.n_items++] =
            (struct svc_item){.type = SVC_ITEM_SCALAR, .series = 0, .step = 2 + k};
    g->n_items = f->b.n_items;
    assert_int_equal(write(f, 0), 0);
    const struct state *d = &f->s.done;
    assert_int_equal(d->n_restarts, 1);
    int64_t rs = d->restarts[0].seq;
    int before = 0, after = 0;
    for (size_t i = 0; i < d->n_rows; i++) {
        if (d->row_kind[i] == 'c' && d->rows[i].first_step == 0)
            before += d->rows[i].seq < rs;
        if (d->row_kind[i] == 'c' && d->rows[i].first_step == 2)
            after += d->rows[i].seq > rs;
        if (d->row_kind[i] == 't')
            before += d->rows[i].seq < rs;
    }
    assert_int_equal(before, 2);
    assert_int_equal(after, 1);
    int x = !strcmp(d->series[0].tag, "x") ? 0 : 1;
    assert_string_equal(d->series[x].tag, "x");
    assert_int_equal(d->series[x].points, 8);
    assert_int_equal(d->series[x].min_step, 0);
    assert_int_equal(d->series[x].max_step, 4);
    free(f);
}

/* An object store that counts writes and can fail them. */
static int puts_fail;
static int b_put(struct svc_blob_store *b, const uint8_t sha[32], const uint8_t *data, size_t len)
{
    (void)sha, (void)data, (void)len;
    struct svc_store *s = (struct svc_store *)b;
    assert_false(s->in_tx && !s->collected); /* written before the transaction */
    s->puts++;
    return puts_fail ? -EBUSY : 0;
}
static const struct svc_blob_ops blob_ops = {.name = "fake", .put = b_put};

static void test_blobs_before_transaction(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"a"};
    batch(f, 1, runs);
    add_series(f, 0, "img");
    struct svc_group *g = group(f, 0, 0, 0, 0, 0, 10);
    f->blob_bytes[0] = (struct tb_bytes){.data = (const uint8_t *)"PNG...", .len = 6};
    memset(f->shas[0], 7, 32);
    f->data[0] =
        (struct svc_item_data){.meta = "{}", .n_blobs = 1, .blobs = f->blob_bytes, .shas = f->shas};
    f->items[f->b.n_items++] =
        (struct svc_item){.type = SVC_ITEM_BLOBS, .series = 0, .step = 1, .x = &f->data[0]};
    g->n_items = 1;
    struct svc_blobs bs = {.ops = &blob_ops, .store = (struct svc_blob_store *)&f->s};
    /* the object store down: nothing begins */
    puts_fail = 1;
    assert_int_equal(svc_store_write_batch(&fake, &f->s, &bs, EXP, 1, 0, &f->b), -EBUSY);
    assert_int_equal(f->s.calls, 0);
    puts_fail = 0;
    assert_int_equal(svc_store_write_batch(&fake, &f->s, &bs, EXP, 1, 0, &f->b), 0);
    assert_int_equal(f->s.puts, 2);
    assert_int_equal(f->s.done.n_owned, 1);
    assert_int_equal(f->s.done.exp_blobs, 1);
    /* charged: the point's row and the blob the experiment did not own */
    assert_true(f->b.bytes >= 2 * TB_QUOTA_ROW_BYTES + 6 + 32);
    /* collected between the write and the transaction: written again inside it */
    batch(f, 1, runs);
    f->b.n_series = 1;
    g = group(f, 0, 0, 0, 0, 10, 10);
    f->items[f->b.n_items++] =
        (struct svc_item){.type = SVC_ITEM_BLOBS, .series = 0, .step = 2, .x = &f->data[0]};
    g->n_items = 1;
    f->s.collected = true;
    f->s.puts = 0;
    assert_int_equal(svc_store_write_batch(&fake, &f->s, &bs, EXP, 1, 0, &f->b), 0);
    assert_int_equal(f->s.puts, 2);
    free(f);
}

/* Every primitive call of a batch failing in turn: write_batch returns the error, the
 * committed state is what it was, and the batch's series ids are cleared. */
static void test_every_failure_leaves_nothing(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    const char *runs[] = {"b", "a"};
    batch(f, 2, runs);
    add_series(f, 0, "x");
    add_series(f, 1, "y");
    add_series(f, 1, "t");
    group(f, 0, 0, 1500, 0, 0, 10);
    struct svc_group *g = group(f, 1, 1, 3, 0, 0, 10);
    f->data[0] = (struct svc_item_data){.shape = "[2]"};
    f->items[f->b.n_items++] =
        (struct svc_item){.type = SVC_ITEM_TENSOR, .series = 2, .step = 9, .x = &f->data[0]};
    f->items[f->b.n_items++] = (struct svc_item){.type = SVC_ITEM_RESTART, .run = 1, .step = 1};
    g->n_items += 2;
    struct state empty = f->s.done;
    assert_int_equal(write(f, 0), 0);
    int calls = f->s.calls;
    struct state full = f->s.done;
    assert_true(calls > 15);
    for (int n = 1; n <= calls; n++) {
        f->s.done = empty;
        f->s.calls = 0;
        f->s.fail_at = n;
        f->s.lock_order[0] = 0;
        int err = write(f, 0);
        assert_int_equal(err, -EIO);
        assert_false(f->s.in_tx);
        assert_memory_equal(&f->s.done, &empty, sizeof(empty));
        for (size_t i = 0; i < f->b.n_series; i++)
            assert_int_equal(f->series[i].id, 0);
    }
    /* and the resend after a failure stores it whole */
    f->s.fail_at = 0;
    f->s.calls = 0;
    assert_int_equal(write(f, 0), 0);
    assert_int_equal(f->s.done.n_rows, full.n_rows);
    assert_int_equal(f->s.done.user_used, full.user_used);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunks_cursor_and_charge),
        cmocka_unit_test(test_replay_stores_nothing),
        cmocka_unit_test(test_gap_is_stale_and_atomic),
        cmocka_unit_test(test_replaced_file_is_refused_alone),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_runs_locked_in_name_order),
        cmocka_unit_test(test_restart_orders_seqs),
        cmocka_unit_test(test_blobs_before_transaction),
        cmocka_unit_test(test_every_failure_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
