/* SPDX-License-Identifier: MIT */
/* The credentials file; see creds.h. */
#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define MAX_ENTRIES 64

/*
 * The file:
 *     # tbdev credentials: keep this file private (mode 0600)
 *     default=https://tb.example.org
 *     [https://tb.example.org]
 *     token=tbdev_...
 *     user=alice
 *     cacert=/etc/ssl/lab-ca.pem
 * Files written by older tbdev versions (server=, token=... without sections) are read as one
 * entry, which is the default.
 */

struct file {
    struct up_creds e[MAX_ENTRIES];
    size_t n;
    char dflt[512];
};

static int config_dir(char *out, size_t len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(out, len, "%s/tbdev", xdg);
    else if (home && *home)
        n = snprintf(out, len, "%s/.config/tbdev", home);
    else
        return -ENOENT;
    return n < 0 || (size_t)n >= len ? -E2BIG : 0;
}

/* Copies v, cut to len - 1 bytes (the fields are larger than any sane value). */
static void set(char *dst, size_t len, const char *v)
{
    size_t n = strlen(v);
    if (n >= len)
        n = len - 1;
    memmove(dst, v, n);
    dst[n] = 0;
}

static void norm(char *dst, size_t len, const char *url)
{
    if (!up_url_normalise(url, dst, len))
        set(dst, len, url);
}

static struct up_creds *find(struct file *f, const char *server)
{
    char n[512];
    norm(n, sizeof(n), server);
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].server, n))
            return &f->e[i];
    return NULL;
}

static int read_file(const char *path, struct file *f, char *err, size_t err_len)
{
    memset(f, 0, sizeof(*f));
    FILE *in = fopen(path, "r");
    if (!in)
        return errno == ENOENT ? 0 : -errno;
    struct stat st;
    if (fstat(fileno(in), &st) == 0 && (st.st_mode & 077)) {
        fclose(in);
        snprintf(err, err_len,
                 "%s can be read by other users; run 'chmod 600 %s' (it holds your tokens)", path,
                 path);
        return -EINVAL;
    }
    char line[2048];
    struct up_creds *cur = NULL;
    while (fgets(line, sizeof(line), in)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#' || !line[0])
            continue;
        if (line[0] == '[') {
            char *end = strchr(line, ']');
            if (!end || f->n == MAX_ENTRIES) {
                cur = NULL;
                continue;
            }
            *end = 0;
            cur = &f->e[f->n++];
            memset(cur, 0, sizeof(*cur));
            norm(cur->server, sizeof(cur->server), line + 1);
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        if (!strcmp(k, "default")) {
            norm(f->dflt, sizeof(f->dflt), v);
            continue;
        }
        if (!cur) { /* the old one-server format */
            if (f->n == MAX_ENTRIES)
                continue;
            cur = &f->e[f->n++];
            memset(cur, 0, sizeof(*cur));
        }
        if (!strcmp(k, "server")) {
            norm(cur->server, sizeof(cur->server), v);
            if (!f->dflt[0])
                set(f->dflt, sizeof(f->dflt), cur->server);
        } else if (!strcmp(k, "token")) {
            set(cur->token, sizeof(cur->token), v);
        } else if (!strcmp(k, "user")) {
            set(cur->user, sizeof(cur->user), v);
        } else if (!strcmp(k, "cacert")) {
            set(cur->cacert, sizeof(cur->cacert), v);
        }
    }
    fclose(in);
    if (!f->dflt[0] && f->n)
        set(f->dflt, sizeof(f->dflt), f->e[0].server);
    return 0;
}

static int file_path(char *out, size_t len)
{
    char dir[900];
    int err = config_dir(dir, sizeof(dir));
    if (err < 0)
        return err;
    snprintf(out, len, "%s/credentials", dir);
    return 0;
}

int up_creds_load(struct up_creds *c, const char *server, char *err, size_t err_len)
{
    memset(c, 0, sizeof(*c));
    struct file *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    if (file_path(c->path, sizeof(c->path)) == 0) {
        rc = read_file(c->path, f, err, err_len);
        if (rc == -EINVAL)
            goto out;
        rc = 0;
    }
    const char *want = server && *server ? server : getenv("TBDEV_SERVER");
    if (!want || !*want)
        want = f->dflt;
    const struct up_creds *e = want[0] ? find(f, want) : NULL;
    if (e) {
        char path[sizeof(c->path)];
        memcpy(path, c->path, sizeof(path));
        *c = *e;
        memcpy(c->path, path, sizeof(path));
        if (c->token[0])
            set(c->token_source, sizeof(c->token_source), "file");
    } else if (want[0]) {
        norm(c->server, sizeof(c->server), want);
    }
    const char *v;
    if ((v = getenv("TBDEV_TOKEN")) && *v) {
        set(c->token, sizeof(c->token), v);
        set(c->token_source, sizeof(c->token_source), "TBDEV_TOKEN");
    }
    if ((v = getenv("TBDEV_CACERT")) && *v)
        set(c->cacert, sizeof(c->cacert), v);
out:
    free(f);
    return rc;
}

static int write_file(const struct file *f)
{
    char dir[900], tmp[1100], path[1100];
    int err = config_dir(dir, sizeof(dir));
    if (err < 0)
        return err;
    /* mkdir -p with 0700 for the last level */
    char partial[900];
    snprintf(partial, sizeof(partial), "%s", dir);
    for (char *p = partial + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(partial, 0755);
            *p = '/';
        }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    snprintf(tmp, sizeof(tmp), "%s/.credentials.%ld", dir, (long)getpid());
    snprintf(path, sizeof(path), "%s/credentials", dir);
    if (f->n == 0) {
        if (unlink(path) < 0 && errno != ENOENT)
            return -errno;
        return 0;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *out = fdopen(fd, "w");
    if (!out) {
        close(fd);
        unlink(tmp);
        return -ENOMEM;
    }
    fprintf(out, "# tbdev credentials: keep this file private (mode 0600)\n");
    fprintf(out, "default=%s\n", f->dflt);
    for (size_t i = 0; i < f->n; i++) {
        const struct up_creds *e = &f->e[i];
        fprintf(out, "[%s]\ntoken=%s\nuser=%s\n", e->server, e->token, e->user);
        if (e->cacert[0])
            fprintf(out, "cacert=%s\n", e->cacert);
    }
    int bad = fflush(out) != 0 || fsync(fileno(out)) != 0;
    bad |= fclose(out) != 0;
    if (bad || rename(tmp, path) < 0) {
        int e = errno ? errno : EIO;
        unlink(tmp);
        return -e;
    }
    return 0;
}

int up_creds_save(const struct up_creds *c)
{
    char path[1100], err[300];
    struct file *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    int rc = file_path(path, sizeof(path));
    if (rc == 0)
        rc = read_file(path, f, err, sizeof(err));
    if (rc < 0 && rc != -EINVAL) {
        free(f);
        return rc;
    }
    struct up_creds *e = find(f, c->server);
    if (!e && f->n < MAX_ENTRIES)
        e = &f->e[f->n++];
    if (!e) {
        free(f);
        return -E2BIG;
    }
    *e = *c;
    norm(e->server, sizeof(e->server), c->server);
    set(f->dflt, sizeof(f->dflt), e->server);
    rc = write_file(f);
    free(f);
    return rc;
}

int up_creds_remove(const struct up_creds *c)
{
    char path[1100], err[300];
    struct file *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    int rc = file_path(path, sizeof(path));
    if (rc == 0)
        rc = read_file(path, f, err, sizeof(err));
    struct up_creds *e = rc == 0 ? find(f, c->server) : NULL;
    if (!e) {
        free(f);
        return rc < 0 ? rc : 0;
    }
    *e = f->e[--f->n];
    if (!find(f, f->dflt))
        set(f->dflt, sizeof(f->dflt), f->n ? f->e[0].server : "");
    rc = write_file(f);
    free(f);
    return rc < 0 ? rc : 1;
}

int up_creds_each(int (*cb)(void *ctx, const struct up_creds *c, bool is_default), void *ctx,
                  char *err, size_t err_len)
{
    char path[1100];
    struct file *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    int rc = file_path(path, sizeof(path));
    if (rc == 0)
        rc = read_file(path, f, err, err_len);
    if (rc < 0) {
        free(f);
        return rc == -ENOENT ? 0 : rc;
    }
    struct up_creds *d = find(f, f->dflt);
    if (d)
        cb(ctx, d, true);
    for (size_t i = 0; i < f->n; i++)
        if (&f->e[i] != d)
            cb(ctx, &f->e[i], false);
    rc = (int)f->n;
    free(f);
    return rc;
}
