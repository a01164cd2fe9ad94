/* SPDX-License-Identifier: MIT */
/* Logdir discovery; see logdir.h for the rules. */
#include "logdir.h"

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map.h"
#include "tblimits.h"

struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *up;
};

struct walk {
    struct tb_logdir *ld;
    size_t cap_runs, cap_problems;
    size_t files_seen;
    size_t dirs_seen;
    struct tb_map visits; /* "dev:ino" -> times walked, to bound symlinks that fan out */
    bool stopped;         /* a limit was reached: the walk ends */
    int err;              /* sticky: -ENOMEM stops the walk */
};

int tb_logdir_is_event_name(const char *name)
{
    return strstr(name, "tfevents") != NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_run(const void *a, const void *b)
{
    return strcmp(((const struct tb_logdir_run *)a)->name, ((const struct tb_logdir_run *)b)->name);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    size_t n = la;
    if (la && a[la - 1] != '/')
        s[n++] = '/';
    memcpy(s + n, b, lb + 1);
    return s;
}

static void problem(struct walk *w, const char *path, enum tb_problem_kind kind, int err,
                    const char *what)
{
    struct tb_logdir *ld = w->ld;
    ld->problems_total++;
    if (ld->n_problems >= TB_LOGDIR_PROBLEMS_MAX)
        return;
    if (ld->n_problems == w->cap_problems) {
        size_t cap = w->cap_problems ? 2 * w->cap_problems : 8;
        void *np = realloc(ld->problems, cap * sizeof(*ld->problems));
        if (!np) {
            w->err = -ENOMEM;
            return;
        }
        ld->problems = np;
        w->cap_problems = cap;
    }
    struct tb_logdir_problem *p = &ld->problems[ld->n_problems];
    p->path = strdup(path);
    if (!p->path) {
        w->err = -ENOMEM;
        return;
    }
    tb_problem_set(&p->problem, kind, 0, 0, err, "%s: %s", path, what);
    ld->n_problems++;
}

static void add_run(struct walk *w, const char *rel, const char *dir, char **names, size_t n,
                    int dfd)
{
    struct tb_logdir *ld = w->ld;
    if (ld->n_runs >= TB_LOGDIR_RUNS_MAX) {
        problem(w, dir, TB_PROBLEM_LIMIT, E2BIG, "more runs than the limit; the walk stopped");
        w->stopped = true;
        return;
    }
    if (ld->n_runs == w->cap_runs) {
        size_t cap = w->cap_runs ? 2 * w->cap_runs : 8;
        void *nr = realloc(ld->runs, cap * sizeof(*ld->runs));
        if (!nr) {
            w->err = -ENOMEM;
            return;
        }
        ld->runs = nr;
        w->cap_runs = cap;
    }
    struct tb_logdir_run *run = &ld->runs[ld->n_runs];
    memset(run, 0, sizeof(*run));
    run->name = strdup(rel[0] ? rel : ".");
    run->files = calloc(n, sizeof(*run->files));
    if (!run->name || !run->files) {
        free(run->name);
        free(run->files);
        w->err = -ENOMEM;
        return;
    }
    ld->n_runs++;
    for (size_t i = 0; i < n; i++) {
        struct tb_logdir_file *f = &run->files[run->n_files];
        struct stat st;
        if (fstatat(dfd, names[i], &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue; /* checked by the caller; a race with a writer at most */
        f->path = join(dir, names[i]);
        if (!f->path) {
            w->err = -ENOMEM;
            return;
        }
        f->name = f->path + strlen(f->path) - strlen(names[i]);
        f->size = (uint64_t)st.st_size;
        f->dev = (uint64_t)st.st_dev;
        f->ino = (uint64_t)st.st_ino;
        run->n_files++;
    }
}

static void walk_dir(struct walk *w, int dfd, const char *dir, const char *rel, int depth,
                     const struct ancestor *up)
{
    if (w->stopped || ++w->dirs_seen > TB_LOGDIR_DIRS_MAX) {
        if (!w->stopped)
            problem(w, dir, TB_PROBLEM_LIMIT, E2BIG,
                    "more directories than the limit (symlinks that fan out?); the walk stopped "
                    "here");
        w->stopped = true;
        close(dfd);
        return;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        problem(w, dir, TB_PROBLEM_IO, EIO, "cannot list this directory; skipped it");
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = realloc(names, cap * sizeof(*names));
            if (!nn) {
                w->err = -ENOMEM;
                goto out;
            }
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            w->err = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);

    /* First the event files here (this directory is a run if there is one), then subdirs. */
    char **events = n ? malloc(n * sizeof(*events)) : NULL;
    size_t n_events = 0;
    if (n && !events) {
        w->err = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && !w->err; i++) {
        if (!tb_logdir_is_event_name(names[i]))
            continue;
        struct stat st;
        char *path = join(dir, names[i]);
        if (!path) {
            w->err = -ENOMEM;
            break;
        }
        if (fstatat(dirfd(d), names[i], &st, 0) < 0)
            problem(w, path, TB_PROBLEM_IO, ENOENT,
                    "named like an event file but cannot be opened (a dangling link?); skipped");
        else if (S_ISDIR(st.st_mode))
            problem(w, path, TB_PROBLEM_NOT_A_FILE, EISDIR,
                    "a directory named like an event file; not read as one");
        else if (!S_ISREG(st.st_mode))
            problem(w, path, TB_PROBLEM_NOT_A_FILE, EINVAL,
                    "named like an event file but not a regular file; skipped");
        else if (++w->files_seen > TB_LOGDIR_FILES_MAX)
            problem(w, path, TB_PROBLEM_LIMIT, E2BIG,
                    "more event files than the limit; the rest are skipped");
        else
            events[n_events++] = names[i];
        free(path);
    }
    if (n_events && !w->err)
        add_run(w, rel, dir, events, n_events, dirfd(d));
    free(events);

    for (size_t i = 0; i < n && !w->err && !w->stopped; i++) {
        struct stat st;
        if (fstatat(dirfd(d), names[i], &st, 0) < 0 || !S_ISDIR(st.st_mode))
            continue;
        char *path = join(dir, names[i]);
        char *sub = rel[0] ? join(rel, names[i]) : strdup(names[i]);
        if (!path || !sub) {
            free(path);
            free(sub);
            w->err = -ENOMEM;
            break;
        }
        int loops = 0;
        for (const struct ancestor *a = up; a; a = a->up)
            if (a->dev == st.st_dev && a->ino == st.st_ino)
                loops = 1;
        char id[48];
        snprintf(id, sizeof(id), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        uintptr_t seen = (uintptr_t)tb_map_get(&w->visits, id);
        if (!loops && tb_map_put(&w->visits, id, (void *)(seen + 1)) < 0)
            w->err = -ENOMEM;
        if (loops) {
            problem(w, path, TB_PROBLEM_LOOP, ELOOP,
                    "a symlink back to a directory above it; not followed");
        } else if (seen >= TB_LOGDIR_ALIASES_MAX) {
            problem(w, path, TB_PROBLEM_LIMIT, E2BIG,
                    "this directory was already reached through too many symlinks; skipped");
        } else if (depth + 1 > TB_LOGDIR_DEPTH_MAX) {
            problem(w, path, TB_PROBLEM_LIMIT, E2BIG,
                    "deeper than the directory-depth limit; skipped");
        } else {
            int sfd = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sfd < 0) {
                problem(w, path, TB_PROBLEM_IO, errno == EACCES ? EACCES : EIO,
                        "cannot open this directory; skipped it");
            } else {
                struct ancestor me = {st.st_dev, st.st_ino, up};
                walk_dir(w, sfd, path, sub, depth + 1, &me);
            }
        }
        free(path);
        free(sub);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
}

int tb_logdir_scan(const char *root, struct tb_logdir **ret)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT    ? -ENOENT
               : errno == ENOTDIR ? -ENOTDIR
               : errno == EACCES  ? -EACCES
                                  : -EIO;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -EIO;
    }
    struct tb_logdir *ld = calloc(1, sizeof(*ld));
    if (!ld) {
        close(fd);
        return -ENOMEM;
    }
    ld->root = strdup(root);
    if (!ld->root) {
        close(fd);
        tb_logdir_free(ld);
        return -ENOMEM;
    }
    struct walk w = {.ld = ld};
    tb_map_init(&w.visits);
    struct ancestor top = {st.st_dev, st.st_ino, NULL};
    walk_dir(&w, fd, root, "", 0, &top);
    tb_map_done(&w.visits);
    if (w.err < 0) {
        tb_logdir_free(ld);
        return w.err;
    }
    if (ld->n_runs > 1)
        qsort(ld->runs, ld->n_runs, sizeof(*ld->runs), cmp_run);
    *ret = ld;
    return 0;
}

void tb_logdir_free(struct tb_logdir *ld)
{
    if (!ld)
        return;
    for (size_t i = 0; i < ld->n_runs; i++) {
        for (size_t j = 0; j < ld->runs[i].n_files; j++)
            free(ld->runs[i].files[j].path);
        free(ld->runs[i].files);
        free(ld->runs[i].name);
    }
    for (size_t i = 0; i < ld->n_problems; i++)
        free(ld->problems[i].path);
    free(ld->runs);
    free(ld->problems);
    free(ld->root);
    free(ld);
}
