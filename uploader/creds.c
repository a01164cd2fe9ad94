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

static void set(char *dst, size_t len, const char *v)
{
    snprintf(dst, len, "%s", v);
}

int up_creds_load(struct up_creds *c, char *err, size_t err_len)
{
    memset(c, 0, sizeof(*c));
    char dir[900];
    if (config_dir(dir, sizeof(dir)) == 0)
        snprintf(c->path, sizeof(c->path), "%s/credentials", dir);
    FILE *f = c->path[0] ? fopen(c->path, "r") : NULL;
    if (f) {
        struct stat st;
        if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
            fclose(f);
            snprintf(err, err_len,
                     "%s can be read by other users; run 'chmod 600 %s' (it holds your token)",
                     c->path, c->path);
            return -EINVAL;
        }
        char line[2048];
        while (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\r\n")] = 0;
            char *eq = strchr(line, '=');
            if (!eq || line[0] == '#')
                continue;
            *eq = 0;
            const char *k = line, *v = eq + 1;
            if (!strcmp(k, "server"))
                set(c->server, sizeof(c->server), v);
            else if (!strcmp(k, "token"))
                set(c->token, sizeof(c->token), v);
            else if (!strcmp(k, "user"))
                set(c->user, sizeof(c->user), v);
            else if (!strcmp(k, "cacert"))
                set(c->cacert, sizeof(c->cacert), v);
        }
        fclose(f);
    }
    const char *e;
    if ((e = getenv("TBDEV_SERVER")) && *e)
        set(c->server, sizeof(c->server), e);
    if ((e = getenv("TBDEV_TOKEN")) && *e)
        set(c->token, sizeof(c->token), e);
    if ((e = getenv("TBDEV_CACERT")) && *e)
        set(c->cacert, sizeof(c->cacert), e);
    return 0;
}

int up_creds_save(const struct up_creds *c)
{
    char dir[900], tmp[1100];
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
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -ENOMEM;
    }
    fprintf(f, "# tbdev credentials: keep this file private (mode 0600)\n");
    fprintf(f, "server=%s\ntoken=%s\nuser=%s\n", c->server, c->token, c->user);
    if (c->cacert[0])
        fprintf(f, "cacert=%s\n", c->cacert);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    char path[1100];
    snprintf(path, sizeof(path), "%s/credentials", dir);
    if (bad || rename(tmp, path) < 0) {
        int e = errno ? errno : EIO;
        unlink(tmp);
        return -e;
    }
    return 0;
}

int up_creds_remove(const struct up_creds *c)
{
    if (!c->path[0])
        return 0;
    if (unlink(c->path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}
