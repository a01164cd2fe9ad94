/* SPDX-License-Identifier: MIT */
/* Unit tests for follow: files, cursors, stored names and changed files in temporary logdirs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "follow.h"
#include "tblimits.h"
#include "tfrecord.h"

/* ---- fixture: a temporary logdir and a follower with recording callbacks ---- */

struct seen {
    enum tb_follow_event ev;
    char name[300];
    uint64_t a, b;
};

struct fx {
    char root[64];
    struct tb_follow fl;
    struct seen events[16];
    size_t n_events;
    char refused_run[64]; /* new_run refuses this run */
    int new_runs;         /* times new_run was called */
};

static bool on_new_run(void *ctx, const struct tb_logdir_run *run)
{
    struct fx *f = ctx;
    f->new_runs++;
    return strcmp(run->name, f->refused_run) != 0;
}

static void on_event(void *ctx, enum tb_follow_event ev, const struct tb_follow_file *file,
                     uint64_t a, uint64_t b)
{
    struct fx *f = ctx;
    assert_true(f->n_events < 16);
    struct seen *s = &f->events[f->n_events++];
    s->ev = ev;
    snprintf(s->name, sizeof(s->name), "%s", file->name);
    s->a = a;
    s->b = b;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    strcpy(f->root, "/tmp/tbdev-follow-XXXXXX");
    if (!mkdtemp(f->root)) {
        free(f);
        return -1;
    }
    tb_follow_init(&f->fl, 0);
    f->fl.new_run = on_new_run;
    f->fl.event = on_event;
    f->fl.ctx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tb_follow_done(&f->fl);
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static const char *at(struct fx *f, const char *rel)
{
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof(buf[which]), "%s/%s", f->root, rel);
    return buf[which];
}

/* Appends n framed records of `len` bytes, each filled with seed + its index. */
static uint64_t append(struct fx *f, const char *rel, int n, size_t len, int seed)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", at(f, rel));
    *strrchr(dir, '/') = 0;
    mkdir(dir, 0755);
    FILE *fp = fopen(at(f, rel), "ab");
    assert_non_null(fp);
    uint8_t data[600], out[616];
    assert_true(len <= sizeof(data));
    for (int i = 0; i < n; i++) {
        memset(data, seed + i, len);
        tb_tfrecord_frame(data, len, out);
        assert_int_equal(fwrite(out, 1, len + 16, fp), len + 16);
    }
    fclose(fp);
    struct stat st;
    assert_int_equal(stat(at(f, rel), &st), 0);
    return (uint64_t)st.st_size;
}

static void scan(struct fx *f)
{
    struct tb_logdir *ld = NULL;
    assert_int_equal(tb_logdir_scan(f->root, &ld), 0);
    assert_int_equal(tb_follow_refresh(&f->fl, ld), 0);
    tb_logdir_free(ld);
}

static struct tb_follow_file *file(struct fx *f, const char *run, const char *base)
{
    char key[300];
    snprintf(key, sizeof(key), "%s\x1f%s", run, base);
    return tb_map_get(&f->fl.files, key);
}

/* ---- tests ---- */

/* New files go under their own names from offset 0, in (run, name) order; committing moves
 * the cursor, and a read that ended elsewhere is read again from it. */
static void test_new_files_and_commits(void **state)
{
    struct fx *f = *state;
    uint64_t size_b = append(f, "b/events.out.tfevents.2", 3, 40, 1);
    uint64_t size_a = append(f, "a/events.out.tfevents.1", 2, 40, 7);
    append(f, "a/events.out.tfevents.0", 1, 40, 9);
    scan(f);
    assert_int_equal(f->fl.files.len, 3);
    assert_int_equal(f->new_runs, 2);
    struct tb_follow_file **order = NULL;
    size_t n = 0;
    assert_int_equal(tb_follow_sorted(&f->fl, &order, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(order[0]->run, "a");
    assert_string_equal(order[0]->base, "events.out.tfevents.0");
    assert_string_equal(order[1]->base, "events.out.tfevents.1");
    assert_string_equal(order[2]->run, "b");
    free(order);
    struct tb_follow_file *fa = file(f, "a", "events.out.tfevents.1");
    assert_non_null(fa);
    assert_string_equal(fa->name, "events.out.tfevents.1");
    assert_int_equal(fa->offset, 0);
    assert_int_equal(fa->size, size_a);
    uint64_t size = 0;
    assert_true(tb_follow_ready(fa, &size));
    assert_int_equal(size, size_a);
    uint64_t done, all;
    tb_follow_totals(&f->fl, &done, &all);
    assert_int_equal(done, 0);
    assert_int_equal(all, size_a + size_b + 56);

    fa->read_offset = size_a;
    assert_int_equal(tb_follow_committed(&f->fl, fa, size_a, size_a), 0);
    assert_int_equal(fa->offset, size_a);
    assert_false(tb_follow_ready(fa, NULL));
    const struct tb_follow_cursor *c = tb_follow_cursor_get(&f->fl, "a", "events.out.tfevents.1");
    assert_non_null(c);
    assert_int_equal(c->offset, size_a);
    /* a commit short of what was read: the rest is read again */
    struct tb_follow_file *fb = file(f, "b", "events.out.tfevents.2");
    fb->read_offset = size_b;
    assert_int_equal(tb_follow_committed(&f->fl, fb, 56, size_b), 0);
    assert_int_equal(fb->read_offset, 56);
    fb->read_offset = size_b;
    tb_follow_rewind(&f->fl);
    assert_int_equal(fb->read_offset, 56);
    tb_follow_totals(&f->fl, &done, &all);
    assert_int_equal(done, size_a + 56);
    /* the next scan sees appended records; no run is new */
    uint64_t grown = append(f, "a/events.out.tfevents.1", 1, 40, 3);
    scan(f);
    assert_int_equal(f->new_runs, 2);
    assert_int_equal(fa->size, grown);
    assert_true(tb_follow_ready(fa, NULL));
    assert_int_equal(f->n_events, 0);
}

/* A store's cursors, read before the scan (a restart), decide where each file starts; after
 * reading them again, tb_follow_sync applies them to files already known. */
static void test_resume_from_cursors(void **state)
{
    struct fx *f = *state;
    uint64_t size = append(f, "run/events.x.tfevents.1", 10, 30, 1);
    struct tb_follow_file probe = {.path = (char *)at(f, "run/events.x.tfevents.1")};
    tb_follow_take_fingerprint(&f->fl, &probe);
    assert_true(probe.fp_len >= TB_FINGERPRINT_MIN);
    assert_int_equal(tb_follow_cursor_set(&f->fl, "run", "events.x.tfevents.1",
                                          (struct tb_follow_cursor){138, probe.fp_len, probe.fp}),
                     0);
    scan(f);
    struct tb_follow_file *fr = file(f, "run", "events.x.tfevents.1");
    assert_int_equal(fr->offset, 138);
    assert_int_equal(fr->read_offset, 138);
    assert_int_equal(fr->fp_len, probe.fp_len);
    assert_int_equal(f->n_events, 0);
    assert_int_equal(tb_follow_cursor_set(&f->fl, "run", "events.x.tfevents.1",
                                          (struct tb_follow_cursor){size, probe.fp_len, probe.fp}),
                     0);
    tb_follow_sync(&f->fl);
    assert_int_equal(fr->offset, size);
    assert_false(tb_follow_ready(fr, NULL));
}

/* A different file under a stored name (another fingerprint) goes to NAME#2 from 0, and says
 * so; the same bytes under another inode go on from the cursor, silently. */
static void test_renamed_and_copied(void **state)
{
    struct fx *f = *state;
    append(f, "r/events.tfevents.1", 12, 30, 50);
    scan(f);
    struct tb_follow_file *fr = file(f, "r", "events.tfevents.1");
    tb_follow_take_fingerprint(&f->fl, fr);
    assert_true(fr->fp_len > 0);
    fr->read_offset = 230;
    tb_follow_committed(&f->fl, fr, 230, 230);
    /* a copy of the same bytes replaces the file (a new inode) */
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp %s %s.tmp && mv %s.tmp %s", at(f, "r/events.tfevents.1"),
             at(f, "r/events.tfevents.1"), at(f, "r/events.tfevents.1"),
             at(f, "r/events.tfevents.1"));
    assert_int_equal(system(cmd), 0);
    scan(f);
    assert_false(fr->dead);
    assert_string_equal(fr->name, "events.tfevents.1");
    assert_int_equal(fr->offset, 230);
    assert_int_equal(f->n_events, 0);
    /* another file with that name (a job run again into the folder) */
    unlink(at(f, "r/events.tfevents.1"));
    append(f, "r/events.tfevents.1", 3, 30, 99);
    scan(f);
    assert_false(fr->dead);
    assert_string_equal(fr->name, "events.tfevents.1#2");
    assert_int_equal(fr->offset, 0);
    assert_int_equal(fr->fp_len, 0);
    assert_int_equal(f->n_events, 1);
    assert_int_equal(f->events[0].ev, TB_FOLLOW_RENAMED);
    assert_string_equal(f->events[0].name, "events.tfevents.1#2");
    /* the first file's cursor stays for its name */
    const struct tb_follow_cursor *c = tb_follow_cursor_get(&f->fl, "r", "events.tfevents.1");
    assert_non_null(c);
    assert_int_equal(c->offset, 230);
}

/* The same file cut short after a commit is no longer read; one found smaller than its cursor
 * at the start is not read either. */
static void test_truncated_and_shrunk(void **state)
{
    struct fx *f = *state;
    uint64_t size = append(f, "t/events.tfevents.1", 20, 30, 1);
    scan(f);
    struct tb_follow_file *ft = file(f, "t", "events.tfevents.1");
    tb_follow_take_fingerprint(&f->fl, ft);
    ft->read_offset = size;
    tb_follow_committed(&f->fl, ft, size, size);
    assert_int_equal(truncate(at(f, "t/events.tfevents.1"), 460), 0);
    scan(f);
    assert_true(ft->dead);
    assert_int_equal(f->n_events, 1);
    assert_int_equal(f->events[0].ev, TB_FOLLOW_TRUNCATED);
    assert_int_equal(f->events[0].a, 460);
    assert_int_equal(f->events[0].b, size);
    assert_false(tb_follow_ready(ft, NULL));
    uint64_t done, all;
    tb_follow_totals(&f->fl, &done, &all);
    assert_int_equal(all, 0); /* a dead file counts for nothing */

    /* a restart: the cursor says more than the file holds */
    uint64_t small = append(f, "s/events.tfevents.1", 2, 30, 1);
    tb_follow_cursor_set(&f->fl, "s", "events.tfevents.1", (struct tb_follow_cursor){5000, 0, 0});
    scan(f);
    struct tb_follow_file *fs = file(f, "s", "events.tfevents.1");
    assert_true(fs->dead);
    assert_int_equal(f->n_events, 2);
    assert_int_equal(f->events[1].ev, TB_FOLLOW_SHRUNK);
    assert_int_equal(f->events[1].a, small);
    assert_int_equal(f->events[1].b, 5000);
}

/* new_run is asked once per run; a refused run's files are never read. */
static void test_refused_run(void **state)
{
    struct fx *f = *state;
    snprintf(f->refused_run, sizeof(f->refused_run), "bad");
    append(f, "bad/events.tfevents.1", 1, 30, 1);
    append(f, "good/events.tfevents.1", 1, 30, 1);
    scan(f);
    append(f, "bad/events.tfevents.2", 1, 30, 1);
    scan(f);
    assert_int_equal(f->new_runs, 2);
    assert_true(file(f, "bad", "events.tfevents.1")->dead);
    assert_true(file(f, "bad", "events.tfevents.2")->dead);
    assert_false(file(f, "good", "events.tfevents.1")->dead);
    assert_false(tb_follow_ready(file(f, "bad", "events.tfevents.2"), NULL));
}

/* An idle file (an incomplete tail) is not ready until its size changes. */
static void test_idle_until_it_grows(void **state)
{
    struct fx *f = *state;
    uint64_t size = append(f, "i/events.tfevents.1", 1, 30, 1);
    FILE *fp = fopen(at(f, "i/events.tfevents.1"), "ab");
    fwrite("\x20\0\0\0\0\0", 1, 6, fp); /* half a header */
    fclose(fp);
    scan(f);
    struct tb_follow_file *fi = file(f, "i", "events.tfevents.1");
    fi->read_offset = size;
    tb_follow_committed(&f->fl, fi, size, size);
    uint64_t now = 0;
    assert_true(tb_follow_ready(fi, &now));
    assert_int_equal(now, size + 6);
    tb_follow_idle(fi, now);
    assert_false(tb_follow_ready(fi, NULL));
    fp = fopen(at(f, "i/events.tfevents.1"), "ab");
    fwrite("\0\0", 1, 2, fp);
    fclose(fp);
    assert_true(tb_follow_ready(fi, NULL));
}

/* The store says another file holds the name: this one moves on to the next free name. */
static void test_name_taken(void **state)
{
    struct fx *f = *state;
    append(f, "n/events.tfevents.1", 2, 30, 1);
    tb_follow_cursor_set(&f->fl, "n", "events.tfevents.1#2",
                         (struct tb_follow_cursor){92, UINT32_MAX, 0});
    scan(f);
    struct tb_follow_file *fn = file(f, "n", "events.tfevents.1");
    assert_string_equal(fn->name, "events.tfevents.1");
    tb_follow_name_taken(&f->fl, fn, 46);
    assert_string_equal(fn->name, "events.tfevents.1#3"); /* #2 is another's too */
    assert_int_equal(fn->offset, 0);
    const struct tb_follow_cursor *c = tb_follow_cursor_get(&f->fl, "n", "events.tfevents.1");
    assert_int_equal(c->offset, 46);
    assert_int_equal(c->fp_len, UINT32_MAX);
}

/* The fingerprint waits for a whole record, then spans whole records: at least
 * TB_FINGERPRINT_MIN bytes when there are that many, at most TB_FINGERPRINT_BYTES. */
static void test_fingerprint_span(void **state)
{
    struct fx *f = *state;
    const char *rel = "fp/events.tfevents.1";
    mkdir(at(f, "fp"), 0755);
    FILE *fp = fopen(at(f, rel), "wb");
    fwrite("\x10\0\0\0", 1, 4, fp);
    fclose(fp);
    scan(f);
    struct tb_follow_file *ff = file(f, "fp", "events.tfevents.1");
    tb_follow_take_fingerprint(&f->fl, ff);
    assert_int_equal(ff->fp_len, 0);
    unlink(at(f, rel));
    append(f, rel, 1, 100, 1); /* 116 bytes: less than the minimum, taken whole */
    tb_follow_take_fingerprint(&f->fl, ff);
    assert_int_equal(ff->fp_len, 116);
    uint32_t crc;
    assert_true(tb_follow_fingerprint(ff->path, 116, &crc));
    assert_int_equal(crc, ff->fp);
    ff->fp_len = 0;
    append(f, rel, 3, 100, 2); /* 4 records of 116: the first 3 pass 256 */
    tb_follow_take_fingerprint(&f->fl, ff);
    assert_int_equal(ff->fp_len, 348);
    /* records larger than the span: only the first ones that fit */
    unlink(at(f, "fp/events.tfevents.2"));
    append(f, "fp/events.tfevents.2", 9, 590, 1);
    struct tb_follow_file big = {.path = (char *)at(f, "fp/events.tfevents.2")};
    tb_follow_take_fingerprint(&f->fl, &big);
    assert_int_equal(big.fp_len, 606);
    assert_false(tb_follow_fingerprint(big.path, TB_FINGERPRINT_BYTES + 1, &crc));
    assert_false(tb_follow_fingerprint(at(f, "nope"), 10, &crc));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_files_and_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_from_cursors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renamed_and_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_shrunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_until_it_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint_span, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
