/* SPDX-License-Identifier: MIT */
/* Local mode's options and logdirs; see localopts.h. */
#include "localopts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define O(f) offsetof(struct tb_local_options, f)
#define NAME_MAX_BYTES 200
#define LOGDIRS_MAX 100

const struct tb_opt tb_local_options[] = {
    {"logdir", 0, TB_OPT_STRING, O(logdir), "DIR", NULL,
     "The logdir to show: every directory below it with event files is a run (waited for if "
     "it does not exist yet)."},
    {"logdir_spec", 0, TB_OPT_STRING, O(logdir_spec), "NAME:DIR,...", NULL,
     "Several logdirs side by side, as TensorBoard's --logdir_spec: each one's runs are shown "
     "under its NAME (NAME/run)."},
    {"port", 0, TB_OPT_INT, O(port), "PORT", NULL, "Port to listen on (default: 6006)."},
    {"host", 0, TB_OPT_STRING, O(host), "HOST", NULL,
     "Address to listen on (default: 127.0.0.1, this machine only); another address lets "
     "anyone who can reach it read the logs."},
    {"db", 0, TB_OPT_STRING, O(db), "FILE", NULL,
     "The SQLite file that keeps what was read (default: one per logdir in "
     "$XDG_CACHE_HOME/tbdev, or ~/.cache/tbdev)."},
    {"poll_interval", 0, TB_OPT_INT, O(poll_interval), "SECONDS", NULL,
     "How often to look for new data once everything is read (default: 1)."},
    {"quiet", 'q', TB_OPT_FLAG, O(quiet), NULL, NULL,
     "Print only the link, warnings and errors (no progress)."},
};
const size_t tb_local_options_n = sizeof(tb_local_options) / sizeof(tb_local_options[0]);

void tb_local_usage(FILE *f)
{
    fprintf(f,
            "Usage: tbdev serve --logdir DIR [OPTIONS]\n"
            "       tbdev serve --logdir_spec NAME:DIR,NAME2:DIR2 [OPTIONS]\n\n"
            "Shows a logdir in the browser, as `tensorboard --logdir DIR` does: every dashboard, "
            "every\nrun, nothing sampled away, no account or server needed. What it reads is "
            "kept in a cache\nfile, so that the next start reads only what is new; the page "
            "works while it reads, and\nfollows the logdir as training writes to it. It "
            "listens on 127.0.0.1 only (this machine),\nwith no sign-in and no write API. "
            "Ctrl-C stops it. To share the same logdir, upload it:\n`tbdev upload --logdir "
            "DIR`.\n\n(tbdev serve runs `tbdev-server local` with the same options.)\n\n"
            "Options:\n");
    tb_opts_help(f, tb_local_options, tb_local_options_n);
    fprintf(f, "\nExit status: 0 stopped by Ctrl-C (or SIGTERM), 1 failure (the message says what "
               "to do),\n2 usage error.\n");
}

void tb_local_options_defaults(struct tb_local_options *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 6006;
    o->poll_interval = 1;
}

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int tb_local_abs_path(const char *cwd, const char *path, char *out, size_t out_len)
{
    if (!path || !*path)
        return -EINVAL;
    size_t need = strlen(path) + (path[0] == '/' ? 0 : strlen(cwd) + 1) + 2;
    char *tmp = malloc(need);
    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, need, "%s%s%s", path[0] == '/' ? "" : cwd, path[0] == '/' ? "" : "/", path);
    /* Segment by segment: "." dropped, ".." takes the last one off, empty ones skipped. */
    size_t n = 0;
    int err = 0;
    for (char *seg = tmp; *seg;) {
        char *end = strchr(seg, '/');
        size_t sl = end ? (size_t)(end - seg) : strlen(seg);
        if (sl == 0 || (sl == 1 && seg[0] == '.')) {
            /* nothing */
        } else if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* the '/' before it */
        } else {
            if (n + 1 + sl + 1 > out_len) {
                err = -E2BIG;
                break;
            }
            out[n++] = '/';
            memcpy(out + n, seg, sl);
            n += sl;
        }
        seg += sl + (end ? 1 : 0);
    }
    free(tmp);
    if (err)
        return err;
    if (n == 0) {
        if (out_len < 2)
            return -E2BIG;
        out[n++] = '/';
    }
    out[n] = 0;
    return 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_BYTES || memchr(s, '/', n) || !tb_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

void tb_local_logdirs_free(struct tb_local_logdir *l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        free(l[i].name);
        free(l[i].path);
    }
    free(l);
}

static int add(struct tb_local_logdir *l, size_t *n, const char *cwd, const char *name,
               size_t name_len, const char *path, size_t path_len, char *err, size_t err_len)
{
    char *p = strndup(path, path_len);
    size_t cap = strlen(cwd) + path_len + 4;
    char *abs = malloc(cap);
    char *nm = strndup(name, name_len);
    int rc = p && abs && nm ? tb_local_abs_path(cwd, p, abs, cap) : -ENOMEM;
    if (rc == -EINVAL)
        fail(err, err_len, "an entry of --logdir_spec has an empty directory");
    else if (rc < 0)
        fail(err, err_len, "out of memory");
    free(p);
    if (rc < 0) {
        free(abs);
        free(nm);
        return rc;
    }
    l[*n].name = nm;
    l[*n].path = abs;
    (*n)++;
    return 0;
}

int tb_local_logdirs(const struct tb_local_options *o, const char *cwd,
                     struct tb_local_logdir **ret, size_t *ret_n, char *err, size_t err_len)
{
    if (o->logdir && o->logdir_spec)
        return fail(err, err_len, "give --logdir or --logdir_spec, not both");
    if (!o->logdir && !o->logdir_spec)
        return fail(err, err_len,
                    "missing --logdir DIR (the folder your training writes event files to)");
    if (o->port < 0 || o->port > 65535)
        return fail(err, err_len, "--port must be 0-65535 (TensorBoard's is 6006)");
    if (!o->host || !*o->host || strlen(o->host) > 200)
        return fail(err, err_len, "--host must be an address, e.g. 127.0.0.1 or 0.0.0.0");
    if (o->poll_interval < 1 || o->poll_interval > 3600)
        return fail(err, err_len, "--poll_interval must be 1-3600 seconds");
    if (o->logdir && !*o->logdir)
        return fail(err, err_len, "--logdir is empty: give the folder your training writes to");
    struct tb_local_logdir *l = calloc(LOGDIRS_MAX, sizeof(*l));
    if (!l)
        return fail(err, err_len, "out of memory");
    size_t n = 0;
    int rc = 0;
    if (o->logdir) {
        rc = add(l, &n, cwd, "", 0, o->logdir, strlen(o->logdir), err, err_len);
    } else {
        for (const char *p = o->logdir_spec; rc == 0;) {
            size_t k = strcspn(p, ",");
            const char *colon = memchr(p, ':', k);
            if (k == 0) {
                rc = fail(err, err_len, "--logdir_spec has an empty entry (two commas?)");
            } else if (n == LOGDIRS_MAX) {
                rc = fail(err, err_len, "--logdir_spec names more than %d logdirs", LOGDIRS_MAX);
            } else if (colon && !name_ok(p, (size_t)(colon - p))) {
                rc = fail(err, err_len,
                          "--logdir_spec: the name '%.*s' must be 1-%d bytes of text without "
                          "'/' (NAME:DIR)",
                          (int)((size_t)(colon - p) > 60 ? 60 : colon - p), p, NAME_MAX_BYTES);
            } else if (colon && (size_t)(colon - p) + 1 == k) {
                rc = fail(err, err_len, "--logdir_spec: the entry '%.*s' has no directory",
                          (int)(k > 60 ? 60 : k), p);
            } else {
                size_t nl = colon ? (size_t)(colon - p) : 0;
                const char *dir = colon ? colon + 1 : p;
                rc = add(l, &n, cwd, p, nl, dir, k - (size_t)(dir - p), err, err_len);
                for (size_t i = 0; rc == 0 && i + 1 < n; i++)
                    if (l[n - 1].name[0] && !strcmp(l[i].name, l[n - 1].name))
                        rc = fail(err, err_len, "--logdir_spec names '%.60s' twice", l[i].name);
                    else if (!l[n - 1].name[0] && !l[i].name[0])
                        rc = fail(err, err_len,
                                  "--logdir_spec: give each logdir but one a name (NAME:DIR), "
                                  "so that their runs can be told apart");
            }
            if (rc || !p[k])
                break;
            p += k + 1;
        }
    }
    if (rc < 0) {
        tb_local_logdirs_free(l, n);
        return rc;
    }
    *ret = l;
    *ret_n = n;
    return 0;
}

char *tb_local_run_name(const char *logdir_name, const char *run)
{
    if (!logdir_name || !*logdir_name)
        return strdup(run);
    if (!strcmp(run, "."))
        return strdup(logdir_name);
    size_t n = strlen(logdir_name) + strlen(run) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", logdir_name, run);
    return s;
}

bool tb_local_is_loopback(const char *host)
{
    if (!strcasecmp(host, "localhost") || !strcmp(host, "::1") || !strcmp(host, "[::1]"))
        return true;
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
           c < 256 && d < 256;
}
