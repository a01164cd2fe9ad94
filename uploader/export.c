/* SPDX-License-Identifier: MIT */
/* `tbdev export`: an experiment back to event files (or CSV / JSON tables). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "creds.h"
#include "exitcode.h"
#include "manage.h"
#include "opts.h"

struct ecfg {
    const char *server;
    const char *cacert;
    bool verbose;
    const char *experiment_id;
    const char *outdir;
    const char *format;
};

static const struct tb_opt export_options[] = {
    {"experiment_id", 0, TB_OPT_STRING, offsetof(struct ecfg, experiment_id), "ID", NULL,
     "The experiment to export."},
    {"outdir", 0, TB_OPT_STRING, offsetof(struct ecfg, outdir), "DIR", NULL,
     "A new (or empty) folder to write into."},
    {"format", 0, TB_OPT_STRING, offsetof(struct ecfg, format), "F", NULL,
     "events (default: a logdir TensorBoard reads, one folder per run), csv or json (scalars "
     "and histograms as tables)."},
    {"server", 0, TB_OPT_STRING, offsetof(struct ecfg, server), "URL", "TBDEV_SERVER",
     "The tbdev server (default: the one you logged in to)."},
    {"cacert", 0, TB_OPT_STRING, offsetof(struct ecfg, cacert), "FILE", "TBDEV_CACERT",
     "Trust this PEM CA certificate for the server."},
    {"verbose", 'v', TB_OPT_FLAG, offsetof(struct ecfg, verbose), NULL, "TBDEV_VERBOSE",
     "Log every request."},
};
#define N_EXPORT (sizeof(export_options) / sizeof(export_options[0]))

static void usage(FILE *f)
{
    fprintf(f, "Usage: tbdev export --experiment_id ID --outdir DIR [--format events|csv|json]\n\n"
               "Downloads an experiment you can read. With events (the default), DIR becomes a\n"
               "logdir: one folder per run, with an event file that TensorBoard and 'tbdev\n"
               "inspect' read, holding every point (scalars, histograms, images, audio, text,\n"
               "hparams, graphs). With csv or json, DIR gets scalars and histograms tables.\n\n"
               "Options:\n");
    tb_opts_help(f, export_options, N_EXPORT);
    fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

/* GET path; on success the body is in *ret (caller frees with tb_buf_done). */
static int get(struct up_client *cl, const char *path, struct tb_buf *ret, char *err, size_t len)
{
    struct up_reply r;
    int rc = up_client_call(cl, "GET", path, NULL, NULL, 0, false, &r, err, len);
    if (rc < 0)
        return rc;
    if (r.status != 200) {
        up_reply_error(&r, err, len, NULL, 0);
        tb_buf_done(&r.body);
        return -EPROTO;
    }
    *ret = r.body;
    return 0;
}

static json_t *get_json(struct up_client *cl, const char *path, char *err, size_t len)
{
    struct tb_buf b;
    if (get(cl, path, &b, err, len) < 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb((const char *)b.data, b.len, 0, &je);
    tb_buf_done(&b);
    if (!j)
        snprintf(err, len, "the server's answer to %.300s is not JSON (%.160s)", path, je.text);
    return j;
}

/* GET a paged read answer (histograms, tensors: the server stops a page at about 4 MiB and
 * gives a next_page_token), following the tokens and merging the pages into the first: a
 * series continued on a later page gets its points appended, and a point cut between pages
 * (its later part has "offset") gets its buckets or values appended. */
static json_t *get_all_pages(struct up_client *cl, const char *path, char *err, size_t len)
{
    json_t *all = get_json(cl, path, err, len);
    for (int pages = 1; all; pages++) {
        const char *tok = json_string_value(json_object_get(all, "next_page_token"));
        if (!tok)
            return all;
        if (pages > 1000000) {
            snprintf(err, len, "the server's answer to %.300s has too many pages", path);
            break;
        }
        char *esc = up_net_escape(tok);
        if (!esc)
            break;
        size_t n = strlen(path) + strlen(esc) + 16;
        char *q = malloc(n);
        if (q)
            snprintf(q, n, "%s&page_token=%s", path, esc);
        free(esc);
        json_t *page = q ? get_json(cl, q, err, len) : NULL;
        free(q);
        if (!page)
            break;
        json_t *acc = json_object_get(all, "series"), *s;
        size_t i;
        json_array_foreach(json_object_get(page, "series"), i, s)
        {
            json_t *last =
                json_array_size(acc) ? json_array_get(acc, json_array_size(acc) - 1) : NULL;
            const char *run = json_string_value(json_object_get(s, "run"));
            const char *lrun = last ? json_string_value(json_object_get(last, "run")) : NULL;
            if (!last || !run || !lrun || strcmp(run, lrun)) {
                json_array_append(acc, s);
                continue;
            }
            json_t *pts = json_object_get(last, "points"), *p;
            size_t k;
            json_array_foreach(json_object_get(s, "points"), k, p)
            {
                json_t *prev =
                    json_array_size(pts) ? json_array_get(pts, json_array_size(pts) - 1) : NULL;
                if (prev && json_integer_value(json_object_get(p, "offset")) > 0) {
                    static const char *const parts[] = {"buckets", "values"};
                    for (int m = 0; m < 2; m++)
                        if (json_is_array(json_object_get(p, parts[m])))
                            json_array_extend(json_object_get(prev, parts[m]),
                                              json_object_get(p, parts[m]));
                    if (json_object_get(p, "partial"))
                        json_object_set(prev, "partial", json_true());
                    else
                        json_object_del(prev, "partial");
                } else {
                    json_array_append(pts, p);
                }
            }
        }
        json_t *next = json_object_get(page, "next_page_token");
        if (next)
            json_object_set(all, "next_page_token", next);
        else
            json_object_del(all, "next_page_token");
        json_decref(page);
    }
    json_decref(all);
    return NULL;
}

/* A CSV field: RFC 4180 quoting, and a quote mark before what a spreadsheet would read as a
 * formula (a leading =, +, -, @, tab or carriage return), as the server's scalars CSV does. */
static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    if (*s && strchr("=+-@\t\r", *s))
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A run name as a relative path: no absolute paths, no "." or ".." components, no empty
 * components, no control characters. The server's data is not trusted with our file system. */
static bool safe_run_path(const char *run)
{
    if (!strcmp(run, "."))
        return true;
    if (!*run || run[0] == '/' || strlen(run) > 1024)
        return false;
    for (const char *p = run; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '\\')
            return false;
    const char *c = run;
    while (*c) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += n;
        if (*c == '/')
            c++;
    }
    return true;
}

static int mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd) < 0 ? -errno : 0;
}

static int export_events(struct up_client *cl, const struct ecfg *o, char *err, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/experiments/%.64s/runs", o->experiment_id);
    json_t *runs = get_json(cl, path, err, len);
    if (!runs)
        return -EPROTO;
    json_t *arr = json_object_get(runs, "runs");
    size_t i;
    json_t *run;
    int rc = 0;
    char stamp[64];
    snprintf(stamp, sizeof(stamp), "%lld", (long long)time(NULL));
    json_array_foreach(arr, i, run)
    {
        const char *name = json_string_value(json_object_get(run, "name"));
        if (!name)
            continue;
        if (!safe_run_path(name)) {
            fprintf(stderr,
                    "tbdev export: warning: run '%s' has a name that is not a safe "
                    "relative path; skipped\n",
                    name);
            continue;
        }
        char *esc = up_net_escape(name);
        if (!esc) {
            rc = -ENOMEM;
            break;
        }
        char q[2048];
        snprintf(q, sizeof(q), "/api/v1/experiments/%.64s/export?run=%s", o->experiment_id, esc);
        free(esc);
        struct tb_buf data;
        if ((rc = get(cl, q, &data, err, len)) < 0)
            break;
        char dir[4096], file[4200];
        snprintf(dir, sizeof(dir), "%s/%s", o->outdir, name);
        rc = mkdirs(dir);
        snprintf(file, sizeof(file), "%s/events.out.tfevents.%s.tbdev-export", dir, stamp);
        if (!rc)
            rc = write_file(file, data.data, data.len);
        tb_buf_done(&data);
        if (rc < 0) {
            snprintf(err, len, "cannot write %.500s: %s", file, strerror(-rc));
            break;
        }
        printf("wrote %s\n", file);
    }
    json_decref(runs);
    return rc;
}

/* Scalars and histograms as tables: scalars.csv / histograms.csv, or .json. */
static int export_tables(struct up_client *cl, const struct ecfg *o, bool csv, char *err,
                         size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/experiments/%.64s/tags", o->experiment_id);
    json_t *tags = get_json(cl, path, err, len);
    if (!tags)
        return -EPROTO;
    char fn[4200];
    snprintf(fn, sizeof(fn), "%s/scalars.%s", o->outdir, csv ? "csv" : "json");
    FILE *sf = fopen(fn, "wx");
    snprintf(fn, sizeof(fn), "%s/histograms.%s", o->outdir, csv ? "csv" : "json");
    FILE *hf = fopen(fn, "wx");
    int rc = 0;
    if (!sf || !hf) {
        snprintf(err, len, "cannot create files in %s: %s", o->outdir, strerror(errno));
        rc = -EIO;
        goto out;
    }
    if (csv) {
        fprintf(sf, "run,tag,step,wall_time,value\r\n");
        fprintf(hf, "run,tag,step,wall_time,left,right,count\r\n");
    } else {
        fprintf(sf, "{\"tags\":[");
        fprintf(hf, "{\"tags\":[");
    }
    /* each (kind, tag) once: the API returns every run for a tag */
    json_t *seen = json_object();
    json_t *arr = json_object_get(tags, "tags"), *t;
    size_t i;
    int n_s = 0, n_h = 0;
    json_array_foreach(arr, i, t)
    {
        const char *tag = json_string_value(json_object_get(t, "tag"));
        const char *kind = json_string_value(json_object_get(t, "kind"));
        const char *plugin = json_string_value(json_object_get(t, "plugin"));
        if (!tag || !kind || !plugin)
            continue;
        bool scalar = !strcmp(kind, "scalar");
        bool histo = !strcmp(plugin, "histograms");
        if (!scalar && !histo)
            continue;
        char key[2100];
        snprintf(key, sizeof(key), "%d:%s", scalar, tag);
        if (json_object_get(seen, key))
            continue;
        json_object_set_new(seen, key, json_true());
        char *esc = up_net_escape(tag);
        if (!esc) {
            rc = -ENOMEM;
            break;
        }
        char q[2400];
        snprintf(q, sizeof(q), "/api/v1/experiments/%.64s/%s?tag=%s&points=all&restarts=keep%s",
                 o->experiment_id, scalar ? "scalars" : "histograms", esc,
                 scalar && csv ? "&format=csv" : "");
        free(esc);
        FILE *f = scalar ? sf : hf;
        if (!scalar) {
            /* histograms are paged: every page, merged */
            json_t *h = get_all_pages(cl, q, err, len);
            if (!h) {
                rc = -EPROTO;
                break;
            }
            if (!csv) {
                fprintf(f, "%s", n_h++ ? "," : "");
                json_dumpf(h, f, JSON_COMPACT);
            } else {
                json_t *series = json_object_get(h, "series"), *s;
                size_t k;
                json_array_foreach(series, k, s)
                {
                    const char *run = json_string_value(json_object_get(s, "run"));
                    json_t *pts = json_object_get(s, "points"), *p;
                    size_t m;
                    json_array_foreach(pts, m, p)
                    {
                        json_t *b = json_object_get(p, "buckets"), *bk;
                        size_t q2;
                        json_array_foreach(b, q2, bk)
                        {
                            csv_field(f, run ? run : "");
                            fputc(',', f);
                            csv_field(f, tag);
                            fprintf(f, ",%lld,%.17g,%.17g,%.17g,%.17g\r\n",
                                    (long long)json_integer_value(json_object_get(p, "step")),
                                    json_number_value(json_object_get(p, "wall_time")),
                                    json_number_value(json_array_get(bk, 0)),
                                    json_number_value(json_array_get(bk, 1)),
                                    json_number_value(json_array_get(bk, 2)));
                        }
                    }
                }
            }
            json_decref(h);
            continue;
        }
        struct tb_buf body;
        if ((rc = get(cl, q, &body, err, len)) < 0)
            break;
        if (scalar && csv) {
            const char *b = (const char *)body.data;
            const char *nl = b ? strstr(b, "\r\n") : NULL; /* skip the header line */
            if (nl)
                fputs(nl + 2, f);
        } else {
            fprintf(f, "%s", n_s++ ? "," : "");
            fwrite(body.data, 1, body.len, f);
        }
        tb_buf_done(&body);
    }
    json_decref(seen);
    if (!csv) {
        fprintf(sf, "]}\n");
        fprintf(hf, "]}\n");
    }
out:
    if ((sf && fclose(sf) != 0) || (hf && fclose(hf) != 0)) {
        snprintf(err, len, "writing the tables failed");
        rc = -EIO;
    }
    json_decref(tags);
    if (rc == 0)
        printf("wrote %s/scalars.%s and %s/histograms.%s\n", o->outdir, csv ? "csv" : "json",
               o->outdir, csv ? "csv" : "json");
    return rc;
}

int up_export_main(int argc, char **argv)
{
    struct ecfg o = {.format = "events"};
    char err[700] = "";
    int optind_ = 0;
    int rc = tb_opts_parse(export_options, N_EXPORT, argc, argv, &o, &optind_, err, sizeof(err));
    if (rc == 1) {
        usage(stdout);
        return UP_EXIT_OK;
    }
    if (rc == 0 && (!o.experiment_id || !o.outdir))
        snprintf(err, sizeof(err), "give --experiment_id ID and --outdir DIR"), rc = -1;
    if (rc == 0 && strcmp(o.format, "events") && strcmp(o.format, "csv") &&
        strcmp(o.format, "json"))
        snprintf(err, sizeof(err), "--format must be events, csv or json"), rc = -1;
    if (rc == 0 && optind_ < argc)
        snprintf(err, sizeof(err), "unexpected argument '%s'", argv[optind_]), rc = -1;
    if (rc < 0) {
        fprintf(stderr, "tbdev export: %s\nRun 'tbdev export --help' for usage.\n", err);
        return UP_EXIT_USAGE;
    }
    if (mkdir(o.outdir, 0755) < 0) {
        /* an existing empty folder is fine; anything in it is not overwritten */
        int e = errno;
        bool empty = false;
        if (e == EEXIST) {
            char probe[4200];
            snprintf(probe, sizeof(probe), "%s/.", o.outdir);
            empty = rmdir(o.outdir) == 0 && mkdir(o.outdir, 0755) == 0;
        }
        if (!empty) {
            fprintf(stderr, "tbdev export: %s %s; give a new folder\n", o.outdir,
                    e == EEXIST ? "exists and is not empty" : strerror(e));
            return UP_EXIT_FAILURE;
        }
    }
    struct up_creds creds;
    struct up_client *cl = NULL;
    if (up_creds_load(&creds, err, sizeof(err)) < 0 ||
        up_client_open(&creds, o.server, o.cacert, false, o.verbose, &cl, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev export: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    rc = !strcmp(o.format, "events")
             ? export_events(cl, &o, err, sizeof(err))
             : export_tables(cl, &o, !strcmp(o.format, "csv"), err, sizeof(err));
    up_client_close(cl);
    if (rc < 0) {
        fprintf(stderr, "tbdev export: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    return UP_EXIT_OK;
}
