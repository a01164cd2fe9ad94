/* SPDX-License-Identifier: MIT */
/* Unit tests for logdir: run discovery, ordering, odd entries and symlinks in temporary trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logdir.h"
#include "tblimits.h"

/* ---- fixture: a temporary logdir ---- */

struct fx {
    char root[64];
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        chmod(p, 0755);
    return remove(p);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    strcpy(f->root, "/tmp/tbdev-logdir-XXXXXX");
    if (!mkdtemp(f->root)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- building trees ---- */

static const char *at(struct fx *f, const char *rel)
{
    static char buf[2][4096];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof(buf[which]), "%s/%s", f->root, rel);
    return buf[which];
}

/* mkdir -p for rel below the root. */
static void mkdirs(struct fx *f, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", f->root, rel);
    for (char *p = path + strlen(f->root) + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    }
    assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

/* Creates the file rel (and its directories) holding `size` bytes. */
static void touch(struct fx *f, const char *rel, size_t size)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", rel);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        mkdirs(f, dir);
    }
    int fd = open(at(f, rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    for (size_t i = 0; i < size; i++)
        assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
}

static void link_to(struct fx *f, const char *target, const char *rel)
{
    assert_int_equal(symlink(target, at(f, rel)), 0);
}

static struct tb_logdir *scan(struct fx *f)
{
    struct tb_logdir *ld = NULL;
    assert_int_equal(tb_logdir_scan(f->root, &ld), 0);
    assert_non_null(ld);
    assert_string_equal(ld->root, f->root);
    return ld;
}

/* Asserts the run names, in order. */
static void expect_runs(const struct tb_logdir *ld, const char *const *names, size_t n)
{
    for (size_t i = 0; i < ld->n_runs && i < n; i++)
        assert_string_equal(ld->runs[i].name, names[i]);
    assert_int_equal(ld->n_runs, n);
}

static const struct tb_logdir_run *run_named(const struct tb_logdir *ld, const char *name)
{
    for (size_t i = 0; i < ld->n_runs; i++)
        if (!strcmp(ld->runs[i].name, name))
            return &ld->runs[i];
    fail_msg("no run named '%s'", name);
    return NULL;
}

static const struct tb_logdir_problem *problem_at(const struct tb_logdir *ld, const char *path)
{
    for (size_t i = 0; i < ld->n_problems; i++)
        if (!strcmp(ld->problems[i].path, path))
            return &ld->problems[i];
    fail_msg("no problem reported for '%s' (%zu problems)", path, ld->n_problems);
    return NULL;
}

/* ---- tests ---- */

static void test_nested_runs_in_byte_order(void **state)
{
    struct fx *f = *state;
    touch(f, "events.out.tfevents.2.host", 3);
    touch(f, "events.out.tfevents.10.host", 2);
    touch(f, "events.out.tfevents.1.host", 1);
    touch(f, "notes.txt", 5);
    touch(f, "b/events.out.tfevents.1.x", 0); /* an empty file still makes a run */
    touch(f, "a/events.out.tfevents.1.x", 4);
    touch(f, "a/sub/readme.md", 1);
    touch(f, "a/sub/deeper/events.out.tfevents.1.x", 4);
    touch(f, "a-b/events.out.tfevents.1.x", 4);
    touch(f, "A/events.out.tfevents.1.x", 4);
    touch(f, "projector/projector_config.pbtxt", 10);
    mkdirs(f, "empty/dir");

    struct tb_logdir *ld = scan(f);
    static const char *const want[] = {".", "A", "a", "a-b", "a/sub/deeper", "b"};
    expect_runs(ld, want, 6);
    assert_int_equal(ld->n_problems, 0);

    const struct tb_logdir_run *dot = run_named(ld, ".");
    assert_int_equal(dot->n_files, 3);
    static const char *const files[] = {"events.out.tfevents.1.host", "events.out.tfevents.10.host",
                                        "events.out.tfevents.2.host"};
    static const uint64_t sizes[] = {1, 2, 3};
    for (size_t i = 0; i < 3; i++) {
        const struct tb_logdir_file *file = &dot->files[i];
        assert_string_equal(file->name, files[i]);
        assert_string_equal(file->path, at(f, files[i]));
        /* name points into path */
        assert_ptr_equal(file->name, file->path + strlen(file->path) - strlen(files[i]));
        assert_int_equal(file->size, sizes[i]);
        struct stat st;
        assert_int_equal(stat(file->path, &st), 0);
        assert_int_equal(file->dev, st.st_dev);
        assert_int_equal(file->ino, st.st_ino);
    }
    const struct tb_logdir_run *deep = run_named(ld, "a/sub/deeper");
    assert_int_equal(deep->n_files, 1);
    assert_string_equal(deep->files[0].path, at(f, "a/sub/deeper/events.out.tfevents.1.x"));
    assert_int_equal(run_named(ld, "b")->files[0].size, 0);
    tb_logdir_free(ld);
}

static void test_event_name_variants(void **state)
{
    struct fx *f = *state;
    touch(f, "r/events.out.tfevents.1.h.v2", 1);
    touch(f, "r/events.out.tfevents.1.h.profile-empty", 1);
    touch(f, "r/foo.tfevents.bar", 1);
    touch(f, "r/tfevents", 1);
    touch(f, "r/events.out.tfevent.1", 1);  /* not one: "tfevent" */
    touch(f, "r/EVENTS.OUT.TFEVENTS.1", 1); /* not one: case matters */
    touch(f, "other/checkpoint", 1);
    struct tb_logdir *ld = scan(f);
    static const char *const want[] = {"r"};
    expect_runs(ld, want, 1);
    static const char *const files[] = {"events.out.tfevents.1.h.profile-empty",
                                        "events.out.tfevents.1.h.v2", "foo.tfevents.bar",
                                        "tfevents"};
    assert_int_equal(ld->runs[0].n_files, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(ld->runs[0].files[i].name, files[i]);
    assert_int_equal(ld->n_problems, 0);
    tb_logdir_free(ld);

    assert_true(tb_logdir_is_event_name("events.out.tfevents.1700000000.host.123.0.v2"));
    assert_true(tb_logdir_is_event_name("x.tfevents"));
    assert_false(tb_logdir_is_event_name("events.out"));
    assert_false(tb_logdir_is_event_name(""));
    assert_false(tb_logdir_is_event_name("TFEVENTS"));
}

/* A directory named like an event file is reported, not read, and still walked. */
static void test_directory_named_like_event_file(void **state)
{
    struct fx *f = *state;
    touch(f, "run/events.out.tfevents.1.real", 2);
    touch(f, "run/events.out.tfevents.2.dir/events.out.tfevents.3.inner", 2);
    struct tb_logdir *ld = scan(f);
    static const char *const want[] = {"run", "run/events.out.tfevents.2.dir"};
    expect_runs(ld, want, 2);
    assert_int_equal(ld->runs[0].n_files, 1);
    assert_string_equal(ld->runs[0].files[0].name, "events.out.tfevents.1.real");
    assert_int_equal(ld->runs[1].n_files, 1);
    assert_int_equal(ld->n_problems, 1);
    const struct tb_logdir_problem *p = problem_at(ld, at(f, "run/events.out.tfevents.2.dir"));
    assert_int_equal(p->problem.kind, TB_PROBLEM_NOT_A_FILE);
    assert_true(p->problem.message[0] != '\0');
    tb_logdir_free(ld);
}

/* A FIFO named like an event file: reported and skipped, and the scan does not block on it. */
static void test_fifo_named_like_event_file(void **state)
{
    struct fx *f = *state;
    touch(f, "run/events.out.tfevents.1.real", 2);
    assert_int_equal(mkfifo(at(f, "run/events.out.tfevents.2.fifo"), 0644), 0);
    struct tb_logdir *ld = scan(f);
    static const char *const want[] = {"run"};
    expect_runs(ld, want, 1);
    assert_int_equal(ld->runs[0].n_files, 1);
    assert_string_equal(ld->runs[0].files[0].name, "events.out.tfevents.1.real");
    assert_int_equal(ld->n_problems, 1);
    const struct tb_logdir_problem *p = problem_at(ld, at(f, "run/events.out.tfevents.2.fifo"));
    assert_int_equal(p->problem.kind, TB_PROBLEM_NOT_A_FILE);
    tb_logdir_free(ld);

    /* A run whose only event name is a FIFO is no run. */
    assert_int_equal(unlink(at(f, "run/events.out.tfevents.1.real")), 0);
    ld = scan(f);
    assert_int_equal(ld->n_runs, 0);
    assert_int_equal(ld->n_problems, 1);
    tb_logdir_free(ld);
}

static void test_dangling_symlink(void **state)
{
    struct fx *f = *state;
    touch(f, "run/events.out.tfevents.1.real", 2);
    link_to(f, "missing-target", "run/events.out.tfevents.2.dangling");
    link_to(f, "also-missing", "run/not-an-event-name"); /* skipped quietly */
    struct tb_logdir *ld = scan(f);
    static const char *const want[] = {"run"};
    expect_runs(ld, want, 1);
    assert_int_equal(ld->runs[0].n_files, 1);
    assert_int_equal(ld->n_problems, 1);
    const struct tb_logdir_problem *p = problem_at(ld, at(f, "run/events.out.tfevents.2.dangling"));
    assert_true(p->problem.kind != TB_PROBLEM_NONE);
    assert_true(p->problem.message[0] != '\0');
    tb_logdir_free(ld);
}

static void test_symlink_loops(void **state)
{
    struct fx *f = *state;
    touch(f, "d/events.out.tfevents.1.x", 1);
    link_to(f, "..", "d/up");  /* back to the logdir */
    link_to(f, ".", "d/self"); /* to itself */
    link_to(f, ".", "top");    /* the logdir to itself */
    struct tb_logdir *ld = scan(f);
    static const char *const want[] = {"d"};
    expect_runs(ld, want, 1);
    assert_int_equal(ld->n_problems, 3);
    assert_int_equal(problem_at(ld, at(f, "d/up"))->problem.kind, TB_PROBLEM_LOOP);
    assert_int_equal(problem_at(ld, at(f, "d/self"))->problem.kind, TB_PROBLEM_LOOP);
    assert_int_equal(problem_at(ld, at(f, "top"))->problem.kind, TB_PROBLEM_LOOP);
    tb_logdir_free(ld);
}

/* Two directories linking to each other: each is walked once from each side, then cut. */
static void test_mutual_symlinks_terminate(void **state)
{
    struct fx *f = *state;
    touch(f, "a/events.out.tfevents.1.x", 1);
    touch(f, "b/events.out.tfevents.1.x", 1);
    link_to(f, "../b", "a/to_b");
    link_to(f, "../a", "b/to_a");
    struct tb_logdir *ld = scan(f);
    static const char *const want[] = {"a", "a/to_b", "b", "b/to_a"};
    expect_runs(ld, want, 4);
    assert_int_equal(ld->n_problems, 2);
    assert_int_equal(problem_at(ld, at(f, "a/to_b/to_a"))->problem.kind, TB_PROBLEM_LOOP);
    assert_int_equal(problem_at(ld, at(f, "b/to_a/to_b"))->problem.kind, TB_PROBLEM_LOOP);
    tb_logdir_free(ld);
}

static void test_symlink_to_sibling_followed(void **state)
{
    struct fx *f = *state;
    touch(f, "real/events.out.tfevents.1.x", 7);
    link_to(f, "real", "alias");
    struct tb_logdir *ld = scan(f);
    static const char *const want[] = {"alias", "real"};
    expect_runs(ld, want, 2);
    assert_int_equal(ld->n_problems, 0);
    assert_int_equal(ld->runs[0].n_files, 1);
    assert_string_equal(ld->runs[0].files[0].path, at(f, "alias/events.out.tfevents.1.x"));
    assert_int_equal(ld->runs[0].files[0].size, 7);
    /* the same file seen twice: same identity */
    assert_int_equal(ld->runs[0].files[0].ino, ld->runs[1].files[0].ino);
    tb_logdir_free(ld);
}

static void test_unreadable_directory(void **state)
{
    struct fx *f = *state;
    touch(f, "locked/events.out.tfevents.1.x", 1);
    touch(f, "open/events.out.tfevents.1.x", 1);
    assert_int_equal(chmod(at(f, "locked"), 0), 0);
    if (access(at(f, "locked"), R_OK | X_OK) == 0) {
        chmod(at(f, "locked"), 0755);
        skip(); /* root reads it anyway */
    }
    struct tb_logdir *ld = scan(f);
    chmod(at(f, "locked"), 0755);
    static const char *const want[] = {"open"};
    expect_runs(ld, want, 1);
    assert_int_equal(ld->n_problems, 1);
    const struct tb_logdir_problem *p = problem_at(ld, at(f, "locked"));
    assert_int_equal(p->problem.kind, TB_PROBLEM_IO);
    tb_logdir_free(ld);
}

static void test_root_errors(void **state)
{
    struct fx *f = *state;
    struct tb_logdir *ld = (struct tb_logdir *)(uintptr_t)1;
    assert_int_equal(tb_logdir_scan(at(f, "missing"), &ld), -ENOENT);
    assert_ptr_equal(ld, (struct tb_logdir *)(uintptr_t)1);
    touch(f, "plain", 1);
    assert_int_equal(tb_logdir_scan(at(f, "plain"), &ld), -ENOTDIR);
    assert_ptr_equal(ld, (struct tb_logdir *)(uintptr_t)1);
    tb_logdir_free(NULL);
}

static void test_empty_logdir(void **state)
{
    struct fx *f = *state;
    struct tb_logdir *ld = scan(f);
    assert_int_equal(ld->n_runs, 0);
    assert_int_equal(ld->n_problems, 0);
    tb_logdir_free(ld);
}

/* Directories deeper than TB_LOGDIR_DEPTH_MAX are reported, not walked. */
static void test_depth_limit(void **state)
{
    struct fx *f = *state;
    char rel[1024] = "";
    for (int i = 1; i <= TB_LOGDIR_DEPTH_MAX + 1; i++) {
        strcat(rel, i > 1 ? "/d" : "d");
        if (i == TB_LOGDIR_DEPTH_MAX || i == TB_LOGDIR_DEPTH_MAX + 1) {
            char file[1100];
            snprintf(file, sizeof(file), "%s/events.out.tfevents.%d", rel, i);
            touch(f, file, 1);
        }
    }
    struct tb_logdir *ld = scan(f);
    assert_int_equal(ld->n_runs, 1);
    assert_int_equal(ld->n_problems, 1);
    assert_int_equal(ld->problems[0].problem.kind, TB_PROBLEM_LIMIT);
    /* the run found is the one at the limit */
    assert_int_equal(strlen(ld->runs[0].name), 2 * TB_LOGDIR_DEPTH_MAX - 1);
    tb_logdir_free(ld);
}

/*
 * Symlinks that form a DAG: l0/{x,y} -> l1, l1/{x,y} -> l2, ... Every path is loop-free, so
 * the ancestor check lets the walk take all 2^k of them.
 * BUG (logdir.c, walk_dir): nothing bounds the total work. With k = 24 (25 directories,
 * 48 symlinks) the scan would visit ~2^25 directories; at k = 16 it already takes ~2 s and
 * lists 31071 "more runs than the limit" problems (the problems array has no cap). The scan
 * runs in a child process here so the test fails after 5 s instead of hanging.
 */
static void test_symlink_dag_bounded(void **state)
{
    struct fx *f = *state;
    enum { K = 24 };
    char rel[64], target[64];
    for (int i = 0; i <= K; i++) {
        snprintf(rel, sizeof(rel), "l%d", i);
        mkdirs(f, rel);
    }
    for (int i = 0; i < K; i++) {
        snprintf(target, sizeof(target), "../l%d", i + 1);
        snprintf(rel, sizeof(rel), "l%d/x", i);
        link_to(f, target, rel);
        snprintf(rel, sizeof(rel), "l%d/y", i);
        link_to(f, target, rel);
    }
    snprintf(rel, sizeof(rel), "l%d/events.out.tfevents.1", K);
    touch(f, rel, 1);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tb_logdir *ld = NULL;
        int rc = tb_logdir_scan(f->root, &ld);
        _exit(rc == 0 ? 0 : 2);
    }
    int status = 0;
    bool done = false;
    for (int i = 0; i < 500 && !done; i++) { /* 5 s */
        pid_t w = waitpid(pid, &status, WNOHANG);
        assert_true(w >= 0);
        done = w == pid;
        if (!done)
            usleep(10000);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("BUG: scanning %d directories joined by %d symlinks did not finish in 5 s", K + 1,
                 2 * K);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_nested_runs_in_byte_order),
        T(test_event_name_variants),
        T(test_directory_named_like_event_file),
        T(test_fifo_named_like_event_file),
        T(test_dangling_symlink),
        T(test_symlink_loops),
        T(test_mutual_symlinks_terminate),
        T(test_symlink_to_sibling_followed),
        T(test_unreadable_directory),
        T(test_root_errors),
        T(test_empty_logdir),
        T(test_depth_limit),
        T(test_symlink_dag_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
