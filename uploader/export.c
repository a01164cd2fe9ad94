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

#include "cli.h"
#include "client.h"
#include "creds.h"
#include "exitcode.h"
#include "manage.h"
#include "opts.h"

#define SVC_ID_CHARS 22

struct ecfg {
    struct up_common c;        /* first: the common options */
    const char *experiment_id; /* as given (a list); then the one being exported */
    const char *outdir;        /* as given; then the folder of the one being exported */
    const char *format;
};

static const struct tb_opt export_options[] = {
    {"experiment_id", 0, TB_OPT_STRING, offsetof(struct ecfg, experiment_id), "ID[,ID...]", NULL,
     "The experiments to export (default: all of yours)."},
    {"outdir", 0, TB_OPT_STRING, offsetof(struct ecfg, outdir), "DIR", NULL,
     "A new (or empty) folder to write into; its parents are created."},
    {"format", 0, TB_OPT_STRING, offsetof(struct ecfg, format), "F", NULL,
     "events (default: a logdir TensorBoard reads, one folder per run), csv or json (scalars "
     "and histograms as tables)."},
};
#define N_EXPORT (sizeof(export_options) / sizeof(export_options[0]))

static void usage(void)
{
    printf("Usage: tbdev export --outdir DIR [--experiment_id ID[,ID...]] "
           "[--format events|csv|json]\n\n"
           "Downloads experiments you can read: the ones named, or all of yours. One experiment\n"
           "named goes into DIR itself; several, or all, go into DIR/ID each. With events (the default), each\n"
           "folder becomes a logdir: one folder per run, with an event file that TensorBoard and\n"
           "'tbdev inspect' read, holding every point (scalars, histograms, images, audio, text,\n"
           "hparams, graphs). With csv or json, it gets scalars and histograms tables. Each gets\n"
           "a metadata.json: id, name, description, visibility, owner, created, updated (RFC\n"
           "3339), url and usage.\n\nOptions:\n");
    tb_opts_help(stdout, export_options, N_EXPORT);
    up_cli_help_common();
    printf("\nExit status: 0 success, 1 failure (the message says why), 2 usage error.\n");
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

/* A new folder, or an existing empty one; its parents are created. */
static int fresh_dir(const char *dir, char *err, size_t len)
{
    int e = mkdirs(dir);
    if (e < 0) {
        snprintf(err, len, "cannot create %.500s: %s", dir, strerror(-e));
        return e;
    }
    /* an existing empty folder is fine; anything in it is not overwritten */
    if (rmdir(dir) != 0 || mkdir(dir, 0755) != 0) {
        snprintf(err, len, "%.500s exists and is not empty; give a new folder", dir);
        return -EEXIST;
    }
    return 0;
}

static void rfc3339(char *out, size_t len, double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&s, &tm))
        snprintf(out, len, "%.3f", t);
    else
        strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *vis_name(int v)
{
    return v == TBDEV__V1__VISIBILITY__PUBLIC    ? "public"
           : v == TBDEV__V1__VISIBILITY__PRIVATE ? "private"
                                                 : "unlisted";
}

/* DIR/metadata.json: what the experiment is, beside its data (TensorBoard.dev's export). */
static int write_metadata(struct up_client *cl, const char *id, const char *dir, char *err,
                          size_t len)
{
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/experiments/%.64s", id);
    struct tb_buf b;
    if (get(cl, path, &b, err, len) < 0)
        return -EPROTO;
    Tbdev__V1__Experiment *e = tbdev__v1__experiment__unpack(NULL, b.len, b.data);
    tb_buf_done(&b);
    if (!e) {
        snprintf(err, len, "the server's answer to %s is unreadable", path);
        return -EPROTO;
    }
    json_t *m = json_object();
    char t[64];
    json_object_set_new(m, "id", json_string(e->id));
    json_object_set_new(m, "name", json_string(e->name));
    json_object_set_new(m, "description", json_string(e->description));
    json_object_set_new(m, "visibility", json_string(vis_name(e->visibility)));
    json_object_set_new(m, "owner", json_string(e->owner));
    rfc3339(t, sizeof(t), e->create_time);
    json_object_set_new(m, "created", json_string(t));
    rfc3339(t, sizeof(t), e->update_time);
    json_object_set_new(m, "updated", json_string(t));
    json_object_set_new(m, "url", json_string(e->url));
    if (e->usage) {
        json_t *u = json_object();
        json_object_set_new(u, "runs", json_integer((json_int_t)e->usage->runs));
        json_object_set_new(u, "tags", json_integer((json_int_t)e->usage->tags));
        json_object_set_new(u, "scalars", json_integer((json_int_t)e->usage->scalars));
        json_object_set_new(u, "tensors", json_integer((json_int_t)e->usage->tensors));
        json_object_set_new(u, "blobs", json_integer((json_int_t)e->usage->blobs));
        json_object_set_new(u, "bytes", json_integer((json_int_t)e->usage->bytes));
        json_object_set_new(m, "usage", u);
    }
    tbdev__v1__experiment__free_unpacked(e, NULL);
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(m);
    char file[4200];
    snprintf(file, sizeof(file), "%s/metadata.json", dir);
    int rc = text ? write_file(file, text, strlen(text)) : -ENOMEM;
    free(text);
    if (rc < 0)
        snprintf(err, len, "cannot write %.500s: %s", file, strerror(-rc));
    return rc;
}

/* The IDs of all the caller's experiments, comma-separated (caller frees), or NULL. */
static char *all_ids(struct up_client *cl, char *err, size_t len)
{
    struct up_reply r;
    if (up_client_call(cl, "GET", "/api/v1/experiments", NULL, NULL, 0, false, &r, err, len) < 0)
        return NULL;
    Tbdev__V1__ExperimentList *l =
        r.status == 200 && r.protobuf
            ? tbdev__v1__experiment_list__unpack(NULL, r.body.len, r.body.data)
            : NULL;
    if (!l) {
        up_reply_error(&r, err, len, NULL, 0);
        tb_buf_done(&r.body);
        return NULL;
    }
    tb_buf_done(&r.body);
    char *ids = calloc(l->n_experiments ? l->n_experiments : 1, SVC_ID_CHARS + 2);
    for (size_t i = 0; ids && i < l->n_experiments; i++) {
        if (i)
            strcat(ids, ",");
        strncat(ids, l->experiments[i]->id, SVC_ID_CHARS);
    }
    tbdev__v1__experiment_list__free_unpacked(l, NULL);
    if (!ids)
        snprintf(err, len, "out of memory");
    return ids;
}

int up_export_main(int argc, char **argv)
{
    struct ecfg o = {.format = "events"};
    char err[700] = "";
    int rc = up_cli_parse("export", export_options, N_EXPORT, usage, argc, argv, &o, true, NULL);
    if (rc >= 0)
        return rc;
    rc = 0;
    if (!o.outdir)
        snprintf(err, sizeof(err), "give --outdir DIR"), rc = -1;
    if (rc == 0 && strcmp(o.format, "events") && strcmp(o.format, "csv") &&
        strcmp(o.format, "json"))
        snprintf(err, sizeof(err), "--format must be events, csv or json"), rc = -1;
    char *given = o.experiment_id ? strdup(o.experiment_id) : NULL;
    for (char *save = NULL, *id = given ? strtok_r(given, ",", &save) : NULL; rc == 0 && id;
         id = strtok_r(NULL, ",", &save))
        if (!up_experiment_id_ok(id))
            snprintf(err, sizeof(err),
                     "'%.80s' is not an experiment ID (22 letters, digits, '-' and '_', as in "
                     "the link; see 'tbdev list')",
                     id),
                rc = -1;
    free(given);
    if (rc < 0) {
        fprintf(stderr, "tbdev export: %s\nRun 'tbdev export --help' for usage.\n", err);
        return UP_EXIT_USAGE;
    }
    struct up_creds creds;
    struct up_client *cl = NULL;
    if (up_creds_load(&creds, o.c.server, err, sizeof(err)) < 0 ||
        up_client_open(&creds, o.c.server, o.c.cacert, !o.experiment_id, o.c.verbose >= UP_REQUESTS,
                       &cl, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev export: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    char *ids = o.experiment_id ? strdup(o.experiment_id) : all_ids(cl, err, sizeof(err));
    if (!ids) {
        fprintf(stderr, "tbdev export: %s\n", err);
        up_client_close(cl);
        return UP_EXIT_FAILURE;
    }
    if (!*ids) {
        printf("You have no experiments on %s: nothing to export.\n", cl->server);
        free(ids);
        up_client_close(cl);
        return UP_EXIT_OK;
    }
    bool one = o.experiment_id && !strchr(ids, ','); /* one named: into DIR itself */
    const char *root = o.outdir;
    if (!one && mkdirs(root) < 0) {
        fprintf(stderr, "tbdev export: cannot create %s: %s\n", root, strerror(errno));
        free(ids);
        up_client_close(cl);
        return UP_EXIT_FAILURE;
    }
    rc = UP_EXIT_OK;
    size_t done = 0;
    for (char *save = NULL, *id = strtok_r(ids, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        char dir[4096];
        snprintf(dir, sizeof(dir), one ? "%s" : "%s/%s", root, id);
        o.experiment_id = id;
        o.outdir = dir;
        int e = fresh_dir(dir, err, sizeof(err));
        if (e == 0)
            e = !strcmp(o.format, "events")
                    ? export_events(cl, &o, err, sizeof(err))
                    : export_tables(cl, &o, !strcmp(o.format, "csv"), err, sizeof(err));
        if (e == 0)
            e = write_metadata(cl, id, dir, err, sizeof(err));
        if (e < 0) {
            fprintf(stderr, "tbdev export: %s: %s\n", id, err);
            rc = UP_EXIT_FAILURE;
            continue;
        }
        done++;
    }
    if (!one && o.c.verbose >= UP_NORMAL)
        printf("Exported %zu experiment%s into %s\n", done, done == 1 ? "" : "s", root);
    free(ids);
    up_client_close(cl);
    return rc;
}
