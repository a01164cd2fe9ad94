/* SPDX-License-Identifier: MIT */
/* Unit tests for the SQLite store: what the quota is charged, what deleting a run gives back,
 * the lean series listing, all-or-nothing experiment updates, rows read from a seq, and the
 * upkeep job's purge of expired sessions and device codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "tblimits.h"

#define ROW TB_QUOTA_ROW_BYTES

struct fx {
    char dir[64], db[128];
    const struct svc_store_ops *ops;
    struct svc_store *s;
    int64_t uid, other;
    char exp[SVC_EXP_ID_LEN + 1], exp2[SVC_EXP_ID_LEN + 1];
};

static void make_exp(struct fx *f, const char *id, char *out)
{
    struct svc_experiment e = {0};
    snprintf(e.id, sizeof(e.id), "%s", id);
    e.owner_id = f->uid;
    e.visibility = SVC_VIS_PRIVATE;
    snprintf(e.name, sizeof(e.name), "n");
    assert_int_equal(f->ops->experiment_create(f->s, &e), 0);
    snprintf(out, SVC_EXP_ID_LEN + 1, "%s", id);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/tbdev-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
    f->ops = &svc_store_sqlite;
    struct svc_store_options o = {.busy_timeout_ms = 5000};
    if (f->ops->open(f->db, &o, &f->s) < 0 || f->ops->migrate(f->s, NULL, NULL) < 0 ||
        f->ops->user_add(f->s, "alice", "", false, &f->uid) < 0 ||
        f->ops->user_add(f->s, "bob", "", false, &f->other) < 0)
        return -1;
    make_exp(f, "aaaaaaaaaaaaaaaaaaaaaa", f->exp);
    make_exp(f, "bbbbbbbbbbbbbbbbbbbbbb", f->exp2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    f->ops->close(f->s);
    char p[256];
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->db, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- a small batch builder: fixed arrays, enough for these tests ---- */

struct bb {
    struct svc_batch b;
    const char *runs[8];
    struct svc_series_def series[8];
    struct svc_item items[64];
    struct svc_item_data xs[64];
    struct svc_group groups[1100];
    char names[1100][260];
};

static void bb_init(struct bb *x)
{
    memset(x, 0, sizeof(*x));
    x->b.runs = x->runs;
    x->b.series = x->series;
    x->b.items = x->items;
    x->b.groups = x->groups;
}

static uint32_t bb_run(struct bb *x, const char *name)
{
    x->runs[x->b.n_runs] = name;
    return (uint32_t)x->b.n_runs++;
}

static uint32_t bb_series(struct bb *x, uint32_t run, const char *tag, const char *plugin,
                          const char *content, enum tb_kind kind)
{
    struct svc_series_def *d = &x->series[x->b.n_series];
    memset(d, 0, sizeof(*d));
    d->run = run;
    d->tag = tag;
    d->plugin = plugin;
    d->display_name = "";
    d->description = "";
    d->plugin_content = (struct tb_bytes){(const uint8_t *)content, strlen(content)};
    d->kind = kind;
    return (uint32_t)x->b.n_series++;
}

/* A group of the items added since the last group (offset = the file's cursor so far). */
static void bb_group(struct bb *x, uint32_t run, const char *file, uint64_t offset,
                     uint64_t end_offset)
{
    struct svc_group *g = &x->groups[x->b.n_groups];
    size_t first = 0;
    for (size_t i = 0; i < x->b.n_groups; i++)
        first += x->groups[i].n_items;
    memset(g, 0, sizeof(*g));
    g->run = run;
    g->file = file;
    g->offset = offset;
    g->end_offset = end_offset;
    g->first_item = first;
    g->n_items = x->b.n_items - first;
    x->b.n_groups++;
}

static struct svc_item *bb_item(struct bb *x, enum svc_item_type type, uint32_t series,
                                int64_t step)
{
    struct svc_item_data *d = &x->xs[x->b.n_items];
    struct svc_item *it = &x->items[x->b.n_items++];
    memset(it, 0, sizeof(*it));
    memset(d, 0, sizeof(*d));
    it->x = d;
    it->type = type;
    it->series = series;
    it->step = step;
    it->wall_time = 1.0 + (double)step;
    return it;
}

static uint64_t used(struct fx *f)
{
    struct svc_user u;
    assert_int_equal(f->ops->user_get_id(f->s, f->uid, &u), 0);
    return u.used_bytes;
}

static uint64_t exp_bytes(struct fx *f, const char *exp)
{
    struct svc_experiment e;
    assert_int_equal(f->ops->experiment_get(f->s, exp, &e), 0);
    return e.usage.bytes;
}

static uint8_t shas[4][32];
static const struct tb_bytes blob_data[4] = {
    {(const uint8_t *)"image one", 9},
    {(const uint8_t *)"image two!", 10},
    {(const uint8_t *)"image three", 11},
    {(const uint8_t *)"x", 1},
};

static void fill_shas(void)
{
    for (int i = 0; i < 4; i++)
        memset(shas[i], 'a' + i, 32);
}

static int no_cursor(void *ctx, const char *run, const char *file, uint64_t offset, uint32_t fp_len,
                     uint32_t fp)
{
    (void)ctx, (void)run, (void)file, (void)offset, (void)fp_len, (void)fp;
    fail_msg("a cursor was stored");
    return 1;
}

/* ---- tests ---- */

/* Empty groups cost their file rows: 1,000 of them with 200-byte names are no longer free, and
 * past the quota nothing of the batch is stored. */
static void test_rows_are_charged(void **state)
{
    struct fx *f = *state;
    static struct bb x;
    bb_init(&x);
    uint32_t r = bb_run(&x, "run");
    for (int i = 0; i < 1000; i++) {
        snprintf(x.names[i], sizeof(x.names[i]), "%0200d", i);
        bb_group(&x, r, x.names[i], 0, 0);
    }
    uint64_t want = (ROW + 3) + 1000 * (uint64_t)(ROW + 200);
    /* a quota one byte short: refused, nothing stored, nothing charged */
    assert_int_equal(f->ops->write_batch(f->s, f->exp, f->uid, want - 1, &x.b), -EDQUOT);
    assert_int_equal(used(f), 0);
    assert_int_equal(f->ops->cursors(f->s, f->exp, no_cursor, NULL), 0);
    /* exactly the quota: stored, and charged exactly */
    assert_int_equal(f->ops->write_batch(f->s, f->exp, f->uid, want, &x.b), 0);
    assert_int_equal(x.b.bytes, want);
    assert_int_equal(used(f), want);
    assert_int_equal(exp_bytes(f, f->exp), want);
    /* the same groups again: the files exist, nothing more to charge */
    assert_int_equal(f->ops->write_batch(f->s, f->exp, f->uid, want, &x.b), 0);
    assert_int_equal(used(f), want);
}

/* What a batch of each kind of item is charged: exactly the bytes stored plus ROW per row. */
static void test_charge_what_is_stored(void **state)
{
    struct fx *f = *state;
    static struct bb x;
    fill_shas();
    bb_init(&x);
    uint32_t r = bb_run(&x, "r");
    uint32_t sc = bb_series(&x, r, "loss", "scalars", "", TB_KIND_SCALAR);
    uint32_t te = bb_series(&x, r, "t", "custom", "abc", TB_KIND_TENSOR);
    uint32_t im = bb_series(&x, r, "img", "images", "", TB_KIND_BLOB_SEQUENCE);
    for (int i = 0; i < 3; i++)
        bb_item(&x, SVC_ITEM_SCALAR, sc, i)->value = i;
    static uint8_t data[5000];
    struct svc_item *t = bb_item(&x, SVC_ITEM_TENSOR, te, 0);
    t->x->dtype = 1;
    t->x->shape = "[1250]";
    t->x->data = (struct tb_bytes){data, sizeof(data)};
    t->x->value_pb = (struct tb_bytes){(const uint8_t *)"vpb", 3};
    struct svc_item *b = bb_item(&x, SVC_ITEM_BLOBS, im, 0);
    b->x->n_blobs = 2;
    b->x->blobs = blob_data;
    b->x->shas = shas;
    b->x->meta = "{}";
    struct svc_item *rs = bb_item(&x, SVC_ITEM_RESTART, 0, 5);
    rs->run = r;
    bb_group(&x, r, "f", 0, 100);
    assert_int_equal(f->ops->write_batch(f->s, f->exp, f->uid, 0, &x.b), 0);
    uint64_t want = (ROW + 1) /* run */ + (ROW + 1) /* file */ + (ROW + 4 + 7) + (ROW + 1 + 6 + 3) +
                    (ROW + 3 + 6) /* series */ + (ROW + 3 * 24 + 96) /* one scalar chunk */ +
                    (ROW + 5000 + 3 + 6) /* the tensor */ + (ROW + 2 + 64) /* the blob point */ +
                    ROW /* the restart */ + (ROW + 9) + (ROW + 10) /* two blobs owned */;
    assert_int_equal(x.b.bytes, want);
    assert_int_equal(used(f), want);
    assert_int_equal(exp_bytes(f, f->exp), want);
}

/* Deleting a run releases its rows' charge and the blobs only it referenced: those are no longer
 * served from the experiment, and are deleted once no experiment owns them. */
static void test_run_delete_releases_blobs(void **state)
{
    struct fx *f = *state;
    static struct bb x;
    fill_shas();
    /* exp: run A has blobs 0 and 1, run B has blobs 1 and 2; exp2 has blob 0 too */
    bb_init(&x);
    uint32_t ra = bb_run(&x, "A"), rb = bb_run(&x, "B");
    uint32_t sa = bb_series(&x, ra, "img", "images", "", TB_KIND_BLOB_SEQUENCE);
    uint32_t sb = bb_series(&x, rb, "img", "images", "", TB_KIND_BLOB_SEQUENCE);
    struct svc_item *it = bb_item(&x, SVC_ITEM_BLOBS, sa, 0);
    it->x->n_blobs = 2, it->x->blobs = blob_data, it->x->shas = shas, it->x->meta = "{}";
    bb_group(&x, ra, "fa", 0, 10);
    it = bb_item(&x, SVC_ITEM_BLOBS, sb, 0);
    it->x->n_blobs = 2, it->x->blobs = blob_data + 1, it->x->shas = shas + 1, it->x->meta = "{}";
    bb_group(&x, rb, "fb", 0, 10);
    assert_int_equal(f->ops->write_batch(f->s, f->exp, f->uid, 0, &x.b), 0);
    uint64_t total = used(f);
    bb_init(&x);
    uint32_t r2 = bb_run(&x, "C");
    uint32_t s2 = bb_series(&x, r2, "img", "images", "", TB_KIND_BLOB_SEQUENCE);
    it = bb_item(&x, SVC_ITEM_BLOBS, s2, 0);
    it->x->n_blobs = 1, it->x->blobs = blob_data, it->x->shas = shas, it->x->meta = "{}";
    bb_group(&x, r2, "fc", 0, 10);
    assert_int_equal(f->ops->write_batch(f->s, f->exp2, f->uid, 0, &x.b), 0);
    uint64_t exp2 = exp_bytes(f, f->exp2);
    assert_int_equal(used(f), total + exp2);

    uint64_t before = exp_bytes(f, f->exp);
    assert_int_equal(f->ops->run_delete(f->s, f->exp, "A"), 0);
    assert_int_equal(f->ops->run_delete(f->s, f->exp, "A"), -ENOENT);
    uint8_t *d = NULL;
    size_t n = 0;
    /* blob 0: gone from exp (only A had it), still served from exp2 */
    assert_int_equal(f->ops->blob_get(f->s, f->exp, shas[0], &d, &n), -ENOENT);
    assert_int_equal(f->ops->blob_get(f->s, f->exp2, shas[0], &d, &n), 0);
    assert_int_equal(n, 9);
    free(d);
    /* blob 1: B still references it */
    assert_int_equal(f->ops->blob_get(f->s, f->exp, shas[1], &d, &n), 0);
    free(d);
    /* A cost: run, file, series, blob point (2 shas), and blob 0's ownership */
    uint64_t a_cost = (ROW + 1) + (ROW + 2) + (ROW + 3 + 6) + (ROW + 2 + 64) + (ROW + 9);
    assert_int_equal(exp_bytes(f, f->exp), before - a_cost);
    assert_int_equal(used(f), total + exp2 - a_cost);

    assert_int_equal(f->ops->run_delete(f->s, f->exp, "B"), 0);
    assert_int_equal(f->ops->blob_get(f->s, f->exp, shas[1], &d, &n), -ENOENT);
    assert_int_equal(f->ops->blob_get(f->s, f->exp, shas[2], &d, &n), -ENOENT);
    assert_int_equal(exp_bytes(f, f->exp), 0);
    assert_int_equal(used(f), exp2);
    /* exp2's run goes too: blob 0 is owned by no experiment and deleted */
    assert_int_equal(f->ops->run_delete(f->s, f->exp2, "C"), 0);
    assert_int_equal(used(f), 0);
    assert_int_equal(f->ops->blob_get(f->s, f->exp2, shas[0], &d, &n), -ENOENT);
    char msg[64];
    assert_int_equal(f->ops->integrity_check(f->s, msg, sizeof(msg)), 0);
}

static void test_series_listing_is_lean(void **state)
{
    struct fx *f = *state;
    static struct bb x;
    bb_init(&x);
    uint32_t r1 = bb_run(&x, "r1"), r2 = bb_run(&x, "r2");
    uint32_t a = bb_series(&x, r1, "hp", "hparams", "content one", TB_KIND_TENSOR);
    uint32_t b = bb_series(&x, r2, "hp", "hparams", "content two", TB_KIND_TENSOR);
    uint32_t c = bb_series(&x, r2, "t", "text", "text content", TB_KIND_TENSOR);
    uint32_t ser[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        struct svc_item *it = bb_item(&x, SVC_ITEM_TENSOR, ser[i], 0);
        it->x->dtype = 7;
        it->x->shape = "[]";
        bb_group(&x, i ? r2 : r1, i == 2 ? "g" : "f", 0, 1);
    }
    assert_int_equal(f->ops->write_batch(f->s, f->exp, f->uid, 0, &x.b), 0);
    struct svc_series_info *l = NULL;
    size_t n = 0;
    assert_int_equal(f->ops->series_list(f->s, f->exp, &l, &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(l[i].plugin_content_len, 0);
    svc_series_list_free(l, n);
    assert_int_equal(f->ops->series_select(f->s, f->exp, NULL, "hparams", &l, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].run, "r1");
    assert_int_equal(l[0].plugin_content_len, 11);
    assert_memory_equal(l[0].plugin_content, "content one", 11);
    assert_memory_equal(l[1].plugin_content, "content two", 11);
    svc_series_list_free(l, n);
    assert_int_equal(f->ops->series_select(f->s, f->exp, "r2", NULL, &l, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(l[1].tag, "t");
    assert_memory_equal(l[1].plugin_content, "text content", 12);
    svc_series_list_free(l, n);
    assert_int_equal(f->ops->series_select(f->s, f->exp, "nope", NULL, &l, &n), 0);
    assert_int_equal(n, 0);
    svc_series_list_free(l, n);
}

static int count_rows(void *ctx, const struct svc_tensor_row *r)
{
    int64_t *seqs = ctx;
    seqs[++seqs[0]] = r->seq;
    return 0;
}

static void test_rows_from_seq(void **state)
{
    struct fx *f = *state;
    static struct bb x;
    bb_init(&x);
    uint32_t r = bb_run(&x, "r");
    uint32_t t = bb_series(&x, r, "t", "custom", "", TB_KIND_TENSOR);
    for (int i = 0; i < 5; i++) {
        struct svc_item *it = bb_item(&x, SVC_ITEM_TENSOR, t, i);
        it->x->dtype = 1;
        it->x->shape = "[]";
    }
    bb_group(&x, r, "f", 0, 1);
    assert_int_equal(f->ops->write_batch(f->s, f->exp, f->uid, 0, &x.b), 0);
    int64_t all[8] = {0}, some[8] = {0};
    assert_int_equal(f->ops->tensor_rows(f->s, x.series[t].id, 0, count_rows, all), 0);
    assert_int_equal(all[0], 5);
    assert_int_equal(f->ops->tensor_rows(f->s, x.series[t].id, all[3], count_rows, some), 0);
    assert_int_equal(some[0], 3);
    assert_int_equal(some[1], all[3]);
    assert_int_equal(some[3], all[5]);
}

/* An update whose shares cannot all be applied changes nothing: not the name, not the shares
 * that came before the failing one. */
static void test_update_all_or_nothing(void **state)
{
    struct fx *f = *state;
    struct svc_experiment e;
    assert_int_equal(f->ops->experiment_get(f->s, f->exp, &e), 0);
    snprintf(e.name, sizeof(e.name), "renamed");
    int64_t share[2] = {f->other, 999999}; /* the second is no user: a foreign key failure */
    assert_true(f->ops->experiment_update(f->s, &e, share, 2, NULL, 0) < 0);
    assert_int_equal(f->ops->experiment_get(f->s, f->exp, &e), 0);
    assert_string_equal(e.name, "n");
    assert_int_equal(f->ops->share_check(f->s, f->exp, f->other), -ENOENT);
    /* and a good one applies all of it */
    snprintf(e.name, sizeof(e.name), "renamed");
    assert_int_equal(f->ops->experiment_update(f->s, &e, share, 1, NULL, 0), 0);
    assert_int_equal(f->ops->experiment_get(f->s, f->exp, &e), 0);
    assert_string_equal(e.name, "renamed");
    assert_int_equal(f->ops->share_check(f->s, f->exp, f->other), 0);
    assert_int_equal(f->ops->experiment_update(f->s, &e, NULL, 0, share, 1), 0);
    assert_int_equal(f->ops->share_check(f->s, f->exp, f->other), -ENOENT);
}

/* Rows of a table, read from the file itself (lookups refuse expired rows, so they cannot
 * tell a purged row from an expired one). */
static int table_rows(const struct fx *f, const char *table)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void test_upkeep_purges_expired(void **state)
{
    struct fx *f = *state;
    double now = (double)time(NULL);
    uint8_t live[32], dead[32], dlive[32], ddead[32];
    memset(live, 1, 32), memset(dead, 2, 32), memset(dlive, 3, 32), memset(ddead, 4, 32);
    /* the live ones first: an add purges what has expired before it */
    assert_int_equal(f->ops->session_add(f->s, live, f->uid, now + 3600, NULL), 0);
    assert_int_equal(f->ops->session_add(f->s, dead, f->uid, now - 10, NULL), 0);
    assert_int_equal(f->ops->device_add(f->s, dlive, "LIVE-0001", now + 600, NULL), 0);
    assert_int_equal(f->ops->device_add(f->s, ddead, "DEAD-0001", now - 10, NULL), 0);
    assert_int_equal(table_rows(f, "sessions"), 2);
    assert_int_equal(table_rows(f, "device_codes"), 2);
    assert_int_equal(f->ops->checkpoint(f->s), 0);
    assert_int_equal(table_rows(f, "sessions"), 1);
    assert_int_equal(table_rows(f, "device_codes"), 1);
    struct svc_user u;
    assert_int_equal(f->ops->session_lookup(f->s, live, &u, NULL), 0);
    assert_int_equal(u.id, f->uid);
    struct svc_device_info di;
    assert_int_equal(f->ops->device_pending(f->s, "LIVE-0001", &di), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_are_charged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_charge_what_is_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_delete_releases_blobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_listing_is_lean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_from_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upkeep_purges_expired, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
