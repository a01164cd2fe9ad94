/* SPDX-License-Identifier: MIT */
/* `tbdev upload`: read event files from their committed cursors and send raw records. */
#include "upload.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "client.h"
#include "creds.h"
#include "event.h"
#include "exitcode.h"
#include "logdir.h"
#include "map.h"
#include "opts.h"
#include "tfrecord.h"

#define PROTOBUF "application/x-protobuf"
#define BATCH_BYTES (8u << 20) /* raw record bytes per request, unless one record is larger */

struct cfg {
    const char *logdir;
    const char *name;
    const char *description;
    const char *visibility;
    const char *experiment_id;
    bool one_shot;
    bool dry_run;
    const char *plugins;
    bool verbose;
    const char *server;
    const char *cacert;
    long long poll_interval;
};

static const struct tb_opt options[] = {
    {"logdir", 0, TB_OPT_STRING, offsetof(struct cfg, logdir), "DIR", NULL,
     "The logdir to upload: every directory below it with event files is a run."},
    {"name", 0, TB_OPT_STRING, offsetof(struct cfg, name), "NAME", NULL,
     "Title of a new experiment (at most 100 characters)."},
    {"description", 0, TB_OPT_STRING, offsetof(struct cfg, description), "TEXT", NULL,
     "Markdown description of a new experiment (at most 600 characters)."},
    {"visibility", 0, TB_OPT_STRING, offsetof(struct cfg, visibility), "V", NULL,
     "unlisted (default: anyone with the link), public (also listed on your page), or "
     "private (you and users you share with)."},
    {"experiment_id", 0, TB_OPT_STRING, offsetof(struct cfg, experiment_id), "ID", NULL,
     "Append to, or resume, this experiment instead of creating one."},
    {"one_shot", 0, TB_OPT_FLAG, offsetof(struct cfg, one_shot), NULL, NULL,
     "Upload what is there and exit, instead of watching for new data."},
    {"dry_run", 0, TB_OPT_FLAG, offsetof(struct cfg, dry_run), NULL, NULL,
     "Print what would be uploaded; needs no server and no login."},
    {"plugins", 0, TB_OPT_STRING, offsetof(struct cfg, plugins), "LIST", NULL,
     "Only upload these plugins' data, e.g. scalars,histograms (graphs for graph events)."},
    {"verbose", 'v', TB_OPT_FLAG, offsetof(struct cfg, verbose), NULL, "TBDEV_VERBOSE",
     "Log every request."},
    {"server", 0, TB_OPT_STRING, offsetof(struct cfg, server), "URL", "TBDEV_SERVER",
     "The tbdev server (default: the one you logged in to)."},
    {"cacert", 0, TB_OPT_STRING, offsetof(struct cfg, cacert), "FILE", "TBDEV_CACERT",
     "Trust this PEM CA certificate for the server (self-hosted certificates)."},
    {"poll_interval", 0, TB_OPT_INT, offsetof(struct cfg, poll_interval), "SECONDS",
     "TBDEV_POLL_INTERVAL", "How often to look for new data when watching (default: 5)."},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tbdev upload --logdir DIR [OPTIONS]\n\n"
            "Uploads a TensorBoard logdir to a tbdev server and prints the experiment's link at "
            "once.\nBy default it keeps watching the logdir for new runs, files and events "
            "(Ctrl-C\nfinishes the request in flight and exits). Every record is sent exactly "
            "once:\nafter a crash, run again with --experiment_id to continue where the server's "
            "data\nends. Nothing in the logdir is ever written.\n\nOptions:\n");
    tb_opts_help(f, options, N_OPTIONS);
    fprintf(f, "\nExit status: 0 done (also after Ctrl-C), 1 failure (the message says what to "
               "do),\n2 usage error.\n");
}

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    if (stop_flag) /* a second Ctrl-C: leave now */
        _exit(130);
    stop_flag = 1;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct file_state {
    char *run;
    const char *name; /* inside path */
    char *path;
    uint64_t offset; /* committed on the server */
    uint64_t dev, ino;
    bool dead; /* replaced or truncated: no longer read */
    bool warned_tail;
    uint64_t idle_size; /* the size at which reading found nothing to send; skip until it changes */
};

struct up {
    struct cfg cfg;
    struct up_client *cl;
    char exp_id[64];
    struct tb_map files;   /* "run\x1ffile" -> struct file_state */
    struct tb_map cursors; /* from the server: "run\x1ffile" -> offset + 1 */
    struct tb_map meta;    /* run -> struct tb_meta_cache, for --plugins on later values */
    const char *filter;    /* plugins to keep, or NULL for all */
    size_t max_record;
    size_t request_bytes;
    struct tb_arena arena;
    bool tty;
    double started, last_progress;
    uint64_t values, records, dropped, requests, files_done;
    uint64_t runs_seen;
    char last_line_len;
};

static char *key_of(const char *run, const char *file)
{
    size_t n = strlen(run) + strlen(file) + 2;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s\x1f%s", run, file);
    return k;
}

static bool in_list(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; p && *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && !strncmp(p, item, n))
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

/* With --plugins: does this record hold anything we keep? Decoding problems keep it (the
 * server reports them), as do file_version and session_log events. */
static bool keep_record(struct up *u, const char *run, const struct tb_record *rec)
{
    if (!u->filter)
        return true;
    struct tb_event ev;
    tb_arena_reset(&u->arena);
    if (tb_event_decode(rec->data, rec->len, &u->arena, &ev, NULL) < 0)
        return true;
    /* A value without metadata has its tag's first metadata, as in TensorBoard. */
    struct tb_meta_cache *mc = tb_map_get(&u->meta, run);
    if (!mc && (mc = calloc(1, sizeof(*mc)))) {
        tb_meta_cache_init(mc);
        if (tb_map_put(&u->meta, run, mc) < 0) {
            tb_meta_cache_done(mc);
            free(mc);
            mc = NULL;
        }
    }
    if (mc && tb_meta_cache_apply(mc, &ev, &u->arena, NULL) < 0)
        return true;
    switch (ev.kind) {
    case TB_EVENT_SUMMARY:
        for (size_t i = 0; i < ev.n_values; i++)
            if (in_list(u->filter, ev.values[i].plugin_name))
                return true;
        return false;
    case TB_EVENT_GRAPH_DEF:
    case TB_EVENT_META_GRAPH_DEF:
    case TB_EVENT_TAGGED_RUN_METADATA:
        return in_list(u->filter, "graphs");
    default:
        return true;
    }
}

static void human_bytes(char *buf, size_t len, double n)
{
    if (n < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", n / 1024);
    else if (n < 1024.0 * 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", n / 1048576);
    else
        snprintf(buf, len, "%.2f GiB", n / 1073741824);
}

static void progress(struct up *u, bool final)
{
    double t = now_mono();
    if (!final && (!u->tty || t - u->last_progress < 0.2))
        return;
    u->last_progress = t;
    double secs = t - u->started;
    char sent[32];
    human_bytes(sent, sizeof(sent), u->cl ? (double)up_net_bytes_sent(u->cl->net) : 0);
    char line[256];
    snprintf(line, sizeof(line), "%llu runs, %llu files, %llu values, %s sent, %.0f values/s",
             (unsigned long long)u->runs_seen, (unsigned long long)u->files.len,
             (unsigned long long)u->values, sent, secs > 0 ? u->values / secs : 0.0);
    if (u->tty)
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else if (final)
        fprintf(stderr, "tbdev: %s\n", line);
}

/* Warns about a file whose tail is damaged, once. */
static void tail_warning(struct up *u, struct file_state *f, struct tb_tfrecord_reader *r)
{
    uint64_t bytes = 0;
    enum tb_problem_kind tail = tb_tfrecord_tail(r, &bytes);
    if (tail == TB_PROBLEM_NONE || tail == TB_PROBLEM_TRUNCATED || f->warned_tail)
        return;
    f->warned_tail = true;
    if (u->tty)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr,
            "tbdev: warning: %s: %s at offset %llu (%llu bytes); waiting for good "
            "records after it\n",
            f->path,
            tail == TB_PROBLEM_ZERO_FILLED ? "zero bytes where records should be"
            : tail == TB_PROBLEM_TOO_LARGE ? "a record over the size limit"
                                           : "corrupt bytes",
            (unsigned long long)tb_tfrecord_offset(r), (unsigned long long)bytes);
}

/* Reads one file's records from its offset into a group, while the request (all of records)
 * stays within budget bytes; returns the bytes added.
 * Sets *ret_end to the offset the group covers. */
static size_t read_group(struct up *u, struct file_state *f, struct tb_buf *records, size_t budget,
                         uint64_t *ret_end, bool *ret_full)
{
    *ret_end = f->offset;
    *ret_full = false;
    struct tb_tfrecord_reader *r = NULL;
    int err = tb_tfrecord_open(f->path, f->offset, u->max_record, &r);
    if (err < 0) {
        if (err != -ENOENT)
            fprintf(stderr, "tbdev: warning: cannot read %s: %s\n", f->path, strerror(-err));
        return 0;
    }
    size_t added = 0;
    for (;;) {
        struct tb_record rec;
        struct tb_problem p;
        int n = tb_tfrecord_next(r, &rec, &p);
        if (n == 0)
            break;
        if (n < 0) {
            if (p.kind == TB_PROBLEM_IO)
                break;
            u->dropped++;
            if (u->tty)
                fprintf(stderr, "\r\033[K");
            fprintf(stderr, "tbdev: warning: %s: %s\n", f->path, p.message);
            *ret_end = tb_tfrecord_offset(r);
            continue;
        }
        if (rec.frame_len > u->request_bytes) {
            /* Too large for any request this server takes: skip it, say so, go on. */
            u->dropped++;
            if (u->tty)
                fprintf(stderr, "\r\033[K");
            fprintf(stderr,
                    "tbdev: warning: %s: the record at offset %llu (%zu bytes) is larger "
                    "than the server's request limit; skipped\n",
                    f->path, (unsigned long long)rec.offset, rec.frame_len);
            *ret_end = tb_tfrecord_offset(r);
            continue;
        }
        /* budget counts the whole request: a record may pass it only when it is the first */
        if (records->len && records->len + rec.frame_len > budget) {
            *ret_full = true; /* the request is full: the rest waits for the next one */
            break;
        }
        if (keep_record(u, f->run, &rec)) {
            tb_buf_add(records, rec.frame, rec.frame_len);
            added += rec.frame_len;
        }
        u->records++;
        *ret_end = tb_tfrecord_offset(r);
        if (records->err || records->len >= budget)
            break;
    }
    tail_warning(u, f, r);
    tb_tfrecord_close(r);
    return added;
}

static int cursor_cb_store(struct up *u, const char *run, const char *file, uint64_t off)
{
    char *k = key_of(run, file);
    if (!k)
        return -ENOMEM;
    int err = tb_map_put(&u->cursors, k, (void *)(uintptr_t)(off + 1));
    free(k);
    return err;
}

/* GET cursors: where the server's data for each file ends. */
static int fetch_cursors(struct up *u, char *err, size_t len)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/cursors", u->exp_id);
    struct up_reply r;
    int rc = up_client_call(u->cl, "GET", path, NULL, NULL, 0, false, &r, err, len);
    if (rc < 0)
        return rc;
    if (r.status != 200 || !r.protobuf) {
        up_reply_error(&r, err, len, NULL, 0);
        tb_buf_done(&r.body);
        return -EPROTO;
    }
    Tbdev__V1__CursorList *cl = tbdev__v1__cursor_list__unpack(NULL, r.body.len, r.body.data);
    tb_buf_done(&r.body);
    if (!cl) {
        snprintf(err, len, "the server's cursor list is unreadable");
        return -EPROTO;
    }
    for (size_t i = 0; i < cl->n_cursors; i++) {
        cursor_cb_store(u, cl->cursors[i]->run, cl->cursors[i]->file, cl->cursors[i]->offset);
        char *k = key_of(cl->cursors[i]->run, cl->cursors[i]->file);
        struct file_state *f = k ? tb_map_get(&u->files, k) : NULL;
        if (f)
            f->offset = cl->cursors[i]->offset;
        free(k);
    }
    tbdev__v1__cursor_list__free_unpacked(cl, NULL);
    return 0;
}

/* Brings the file table up to date with a logdir scan. */
static int refresh(struct up *u, struct tb_logdir *ld)
{
    u->runs_seen = ld->n_runs;
    for (size_t i = 0; i < ld->n_runs; i++) {
        const struct tb_logdir_run *run = &ld->runs[i];
        for (size_t j = 0; j < run->n_files; j++) {
            const struct tb_logdir_file *lf = &run->files[j];
            char *k = key_of(run->name, lf->name);
            if (!k)
                return -ENOMEM;
            struct file_state *f = tb_map_get(&u->files, k);
            if (!f) {
                f = calloc(1, sizeof(*f));
                if (!f || !(f->run = strdup(run->name)) || !(f->path = strdup(lf->path))) {
                    free(k);
                    if (f)
                        free(f->run);
                    free(f);
                    return -ENOMEM;
                }
                f->name = f->path + strlen(f->path) - strlen(lf->name);
                f->dev = lf->dev;
                f->ino = lf->ino;
                uintptr_t c = (uintptr_t)tb_map_get(&u->cursors, k);
                f->offset = c ? c - 1 : 0;
                if (tb_map_put(&u->files, k, f) < 0) {
                    free(k);
                    return -ENOMEM;
                }
            } else if (!f->dead &&
                       (lf->ino != f->ino || lf->dev != f->dev || lf->size < f->offset)) {
                f->dead = true;
                if (u->tty)
                    fprintf(stderr, "\r\033[K");
                fprintf(stderr,
                        "tbdev: warning: %s was %s after %llu bytes of it were uploaded; "
                        "it is no longer read, so nothing is duplicated. Write new data "
                        "to a new file.\n",
                        f->path, lf->ino != f->ino ? "replaced" : "truncated",
                        (unsigned long long)f->offset);
            }
            free(k);
        }
    }
    return 0;
}

struct pending {
    struct file_state *file;
    size_t at, len; /* the group's records in the batch buffer */
    uint64_t end;
};

static int cmp_files(const void *a, const void *b)
{
    const struct file_state *x = *(struct file_state *const *)a,
                            *y = *(struct file_state *const *)b;
    int c = strcmp(x->run, y->run);
    return c ? c : strcmp(x->name, y->name);
}

/* Sends one request with as many groups as fit. Returns the groups sent (0 when no file has
 * anything new), or a negative errno with a message in err. */
static int send_batch(struct up *u, struct tb_buf *buf, char *err, size_t err_len)
{
    size_t nf = u->files.len, n = 0;
    struct file_state **order = calloc(nf ? nf : 1, sizeof(*order));
    struct pending *pend = calloc(nf ? nf : 1, sizeof(*pend));
    if (!order || !pend) {
        free(order);
        free(pend);
        return -ENOMEM;
    }
    for (size_t i = 0; i < u->files.cap; i++)
        if (u->files.slots[i].key)
            order[n++] = u->files.slots[i].value;
    qsort(order, n, sizeof(*order), cmp_files);
    tb_buf_reset(buf);
    size_t budget = u->request_bytes < BATCH_BYTES ? u->request_bytes : BATCH_BYTES;
    size_t ng = 0;
    for (size_t i = 0; i < n && buf->len < budget; i++) {
        struct file_state *f = order[i];
        struct stat st;
        if (f->dead || stat(f->path, &st) != 0 || (uint64_t)st.st_size <= f->offset ||
            (uint64_t)st.st_size == f->idle_size)
            continue;
        size_t at = buf->len;
        uint64_t end;
        bool full;
        size_t added = read_group(u, f, buf, budget, &end, &full);
        if (added == 0 && end == f->offset) {
            if (full)
                break; /* no room left in this request: this file goes first in the next */
            f->idle_size = (uint64_t)st.st_size; /* an incomplete or damaged tail: wait */
            continue;
        }
        f->idle_size = 0;
        pend[ng++] = (struct pending){f, at, added, end};
    }
    int rc = 0;
    if (ng == 0)
        goto out;
    Tbdev__V1__RecordGroup *groups = calloc(ng, sizeof(*groups));
    Tbdev__V1__RecordGroup **ptrs = calloc(ng, sizeof(*ptrs));
    if (!groups || !ptrs) {
        free(groups);
        free(ptrs);
        rc = -ENOMEM;
        goto out;
    }
    for (size_t g = 0; g < ng; g++) {
        tbdev__v1__record_group__init(&groups[g]);
        groups[g].run =
            (ProtobufCBinaryData){strlen(pend[g].file->run), (uint8_t *)pend[g].file->run};
        groups[g].file =
            (ProtobufCBinaryData){strlen(pend[g].file->name), (uint8_t *)pend[g].file->name};
        groups[g].offset = pend[g].file->offset;
        groups[g].records = (ProtobufCBinaryData){pend[g].len, buf->data + pend[g].at};
        groups[g].end_offset = pend[g].end;
        ptrs[g] = &groups[g];
    }
    Tbdev__V1__WriteEventsRequest req = TBDEV__V1__WRITE_EVENTS_REQUEST__INIT;
    req.n_groups = ng;
    req.groups = ptrs;
    size_t body_len = 0;
    void *body = up_pack(&req, &body_len);
    free(groups);
    free(ptrs);
    if (!body) {
        rc = -ENOMEM;
        goto out;
    }
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/events", u->exp_id);
    struct up_reply r;
    rc = up_client_call(u->cl, "POST", path, PROTOBUF, body, body_len, true, &r, err, err_len);
    free(body);
    if (rc < 0)
        goto out;
    u->requests++;
    if (r.status == 409) {
        /* A gap: our idea of a cursor is behind or ahead of the server's. Ask again. */
        tb_buf_done(&r.body);
        rc = fetch_cursors(u, err, err_len);
        if (rc == 0)
            rc = (int)ng;
        goto out;
    }
    if (r.status != 200 || !r.protobuf) {
        up_reply_error(&r, err, err_len, NULL, 0);
        tb_buf_done(&r.body);
        rc = -EPROTO;
        goto out;
    }
    Tbdev__V1__WriteEventsResponse *res =
        tbdev__v1__write_events_response__unpack(NULL, r.body.len, r.body.data);
    tb_buf_done(&r.body);
    if (!res || res->n_results != ng) {
        if (res)
            tbdev__v1__write_events_response__free_unpacked(res, NULL);
        snprintf(err, err_len, "the server's answer does not match the request");
        rc = -EPROTO;
        goto out;
    }
    for (size_t g = 0; g < ng; g++) {
        const Tbdev__V1__GroupResult *gr = res->results[g];
        pend[g].file->offset = gr->cursor;
        u->values += gr->values;
        u->dropped += gr->dropped;
        for (size_t k = 0; k < gr->n_problems; k++) {
            if (u->tty)
                fprintf(stderr, "\r\033[K");
            fprintf(stderr, "tbdev: warning: %s/%s: %s\n", gr->run, gr->file, gr->problems[k]);
        }
    }
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    if (u->cfg.verbose || !u->tty)
        fprintf(stderr, "tbdev: sent new records of %zu file%s (%llu values so far)\n", ng,
                ng == 1 ? "" : "s", (unsigned long long)u->values);
    rc = (int)ng;
out:
    free(order);
    free(pend);
    return rc;
}

static int create_experiment(struct up *u, char *err, size_t len)
{
    Tbdev__V1__CreateExperimentRequest req = TBDEV__V1__CREATE_EXPERIMENT_REQUEST__INIT;
    const char *name = u->cfg.name ? u->cfg.name : "";
    const char *desc = u->cfg.description ? u->cfg.description : "";
    req.name = (ProtobufCBinaryData){strlen(name), (uint8_t *)name};
    req.description = (ProtobufCBinaryData){strlen(desc), (uint8_t *)desc};
    const char *v = u->cfg.visibility;
    req.visibility = !v || !strcmp(v, "unlisted") ? TBDEV__V1__VISIBILITY__UNLISTED
                     : !strcmp(v, "public")       ? TBDEV__V1__VISIBILITY__PUBLIC
                                                  : TBDEV__V1__VISIBILITY__PRIVATE;
    size_t n;
    void *body = up_pack(&req, &n);
    if (!body)
        return -ENOMEM;
    struct up_reply r;
    int rc = up_client_call(u->cl, "POST", "/api/v1/experiments", PROTOBUF, body, n, false, &r, err,
                            len);
    free(body);
    if (rc < 0)
        return rc;
    if (r.status != 201 || !r.protobuf) {
        up_reply_error(&r, err, len, NULL, 0);
        tb_buf_done(&r.body);
        return -EPROTO;
    }
    Tbdev__V1__Experiment *e = tbdev__v1__experiment__unpack(NULL, r.body.len, r.body.data);
    tb_buf_done(&r.body);
    if (!e) {
        snprintf(err, len, "the server's answer is unreadable");
        return -EPROTO;
    }
    snprintf(u->exp_id, sizeof(u->exp_id), "%s", e->id);
    printf("Upload started. View your experiment at:\n%s\n", e->url);
    printf("Experiment ID: %s (to resume: tbdev upload --logdir %s --experiment_id %s)\n", e->id,
           u->cfg.logdir, e->id);
    fflush(stdout);
    tbdev__v1__experiment__free_unpacked(e, NULL);
    return 0;
}

static int dry_run(struct up *u)
{
    struct tb_logdir *ld = NULL;
    int err = tb_logdir_scan(u->cfg.logdir, &ld);
    if (err < 0) {
        fprintf(stderr, "tbdev upload: cannot read logdir '%s': %s\n", u->cfg.logdir,
                strerror(-err));
        return UP_EXIT_FAILURE;
    }
    refresh(u, ld);
    uint64_t total = 0, recs = 0, kept = 0;
    printf("Dry run: nothing is sent. Would upload from %s:\n", u->cfg.logdir);
    for (size_t i = 0; i < ld->n_runs; i++) {
        uint64_t bytes = 0, r0 = u->records;
        for (size_t j = 0; j < ld->runs[i].n_files; j++) {
            char *k = key_of(ld->runs[i].name, ld->runs[i].files[j].name);
            struct file_state *f = k ? tb_map_get(&u->files, k) : NULL;
            free(k);
            if (!f)
                continue;
            struct tb_buf buf;
            tb_buf_init(&buf, 0);
            for (;;) {
                uint64_t end;
                tb_buf_reset(&buf);
                bool full;
                size_t added = read_group(u, f, &buf, BATCH_BYTES, &end, &full);
                bytes += added;
                if (end == f->offset)
                    break;
                f->offset = end; /* only in memory: nothing is sent */
            }
            tb_buf_done(&buf);
        }
        kept += bytes;
        printf("  run %-40s %zu file%s, %llu records, %llu bytes of records\n", ld->runs[i].name,
               ld->runs[i].n_files, ld->runs[i].n_files == 1 ? "" : "s",
               (unsigned long long)(u->records - r0), (unsigned long long)bytes);
        total += ld->runs[i].n_files;
        recs += u->records - r0;
    }
    printf("Total: %zu runs, %llu files, %llu records, %llu bytes%s\n", ld->n_runs,
           (unsigned long long)total, (unsigned long long)recs, (unsigned long long)kept,
           u->filter ? " (after the --plugins filter)" : "");
    tb_logdir_free(ld);
    return UP_EXIT_OK;
}

static void free_files(struct up *u)
{
    for (size_t i = 0; i < u->files.cap; i++) {
        struct file_state *f = u->files.slots[i].key ? u->files.slots[i].value : NULL;
        if (f) {
            free(f->run);
            free(f->path);
            free(f);
        }
    }
    tb_map_done(&u->files);
    tb_map_done(&u->cursors);
    for (size_t i = 0; i < u->meta.cap; i++)
        if (u->meta.slots[i].key) {
            tb_meta_cache_done(u->meta.slots[i].value);
            free(u->meta.slots[i].value);
        }
    tb_map_done(&u->meta);
}

int up_upload_main(int argc, char **argv)
{
    struct up u = {0};
    u.cfg.poll_interval = 5;
    char err[600] = "";
    int optind_ = 0;
    int rc = tb_opts_parse(options, N_OPTIONS, argc, argv, &u.cfg, &optind_, err, sizeof(err));
    if (rc == 1) {
        usage(stdout);
        return UP_EXIT_OK;
    }
    const char *v = u.cfg.visibility;
    if (rc == 0 && v && strcmp(v, "unlisted") && strcmp(v, "public") && strcmp(v, "private"))
        snprintf(err, sizeof(err), "--visibility must be unlisted, public or private"), rc = -1;
    if (rc == 0 && !u.cfg.logdir)
        snprintf(err, sizeof(err),
                 "missing --logdir DIR (the folder your training writes "
                 "event files to)"),
            rc = -1;
    if (rc == 0 && optind_ < argc)
        snprintf(err, sizeof(err), "unexpected argument '%s'", argv[optind_]), rc = -1;
    if (rc == 0 && u.cfg.poll_interval < 1)
        snprintf(err, sizeof(err), "--poll_interval must be at least 1 second"), rc = -1;
    if (rc < 0) {
        fprintf(stderr, "tbdev upload: %s\nRun 'tbdev upload --help' for usage.\n", err);
        return UP_EXIT_USAGE;
    }
    tb_map_init(&u.files);
    tb_map_init(&u.cursors);
    tb_map_init(&u.meta);
    tb_arena_init(&u.arena, 0);
    u.tty = isatty(STDERR_FILENO);
    u.filter = u.cfg.plugins && *u.cfg.plugins ? u.cfg.plugins : NULL;
    u.max_record = 0;
    struct stat st;
    if (stat(u.cfg.logdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "tbdev upload: '%s' is not a directory: give the folder your training "
                "writes event files to\n",
                u.cfg.logdir);
        rc = UP_EXIT_FAILURE;
        goto out;
    }
    if (u.cfg.dry_run) {
        rc = dry_run(&u);
        goto out;
    }
    struct up_creds creds;
    if (up_creds_load(&creds, err, sizeof(err)) < 0 ||
        up_client_open(&creds, u.cfg.server, u.cfg.cacert, true, u.cfg.verbose, &u.cl, err,
                       sizeof(err)) < 0) {
        fprintf(stderr, "tbdev upload: %s\n", err);
        rc = UP_EXIT_FAILURE;
        goto out;
    }
    u.cl->stop = &stop_flag;
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (up_client_handshake(u.cl, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev upload: %s\n", err);
        rc = stop_flag ? UP_EXIT_OK : UP_EXIT_FAILURE;
        goto out;
    }
    const Tbdev__V1__Limits *lim = u.cl->info->limits;
    u.max_record = lim->record_bytes ? (size_t)lim->record_bytes : 0;
    /* Leave room for the request's own framing: about 1% and a little more. */
    u.request_bytes = lim->request_bytes
                          ? (size_t)(lim->request_bytes - lim->request_bytes / 64 - 512)
                          : BATCH_BYTES;
    if (!u.filter && u.cl->info->n_allowed_plugins) {
        /* The server only takes these: do not send the rest. */
        static char list[2048];
        size_t o = 0;
        for (size_t i = 0; i < u.cl->info->n_allowed_plugins && o < sizeof(list) - 1; i++)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? "," : "",
                                  u.cl->info->allowed_plugins[i]);
        u.filter = list;
    }
    if (u.cfg.experiment_id) {
        snprintf(u.exp_id, sizeof(u.exp_id), "%s", u.cfg.experiment_id);
        if (fetch_cursors(&u, err, sizeof(err)) < 0) {
            fprintf(stderr, "tbdev upload: cannot resume experiment %s: %s\n", u.exp_id, err);
            rc = stop_flag ? UP_EXIT_OK : UP_EXIT_FAILURE;
            goto out;
        }
        char url[700];
        const char *tmpl = u.cl->info->experiment_url_template;
        const char *at = strstr(tmpl, "{experiment_id}");
        if (at)
            snprintf(url, sizeof(url), "%.*s%s%s", (int)(at - tmpl), tmpl, u.exp_id,
                     at + strlen("{experiment_id}"));
        else
            snprintf(url, sizeof(url), "%s", tmpl);
        printf("Resuming. View your experiment at:\n%s\n", url);
        fflush(stdout);
    } else if (create_experiment(&u, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev upload: cannot create the experiment: %s\n", err);
        rc = stop_flag ? UP_EXIT_OK : UP_EXIT_FAILURE;
        goto out;
    }
    u.started = now_mono();
    struct tb_buf batch;
    tb_buf_init(&batch, 0);
    rc = UP_EXIT_OK;
    bool announced_wait = false;
    while (!stop_flag) {
        struct tb_logdir *ld = NULL;
        int e = tb_logdir_scan(u.cfg.logdir, &ld);
        if (e < 0) {
            fprintf(stderr, "tbdev upload: cannot read logdir '%s': %s\n", u.cfg.logdir,
                    strerror(-e));
            rc = UP_EXIT_FAILURE;
            break;
        }
        e = refresh(&u, ld);
        tb_logdir_free(ld);
        if (e < 0) {
            rc = UP_EXIT_FAILURE;
            break;
        }
        int sent = 0, total = 0;
        while (!stop_flag && (sent = send_batch(&u, &batch, err, sizeof(err))) > 0) {
            total += sent;
            progress(&u, false);
        }
        if (sent < 0) {
            if (sent == -EINTR)
                break;
            if (u.tty)
                fprintf(stderr, "\r\033[K");
            fprintf(stderr, "tbdev upload: stopped: %s\n", err);
            rc = UP_EXIT_FAILURE;
            break;
        }
        if (u.cfg.one_shot)
            break;
        if (total)
            announced_wait = false;
        if (!announced_wait && !u.tty) {
            fprintf(stderr, "tbdev: up to date; watching %s for new data (Ctrl-C to stop)\n",
                    u.cfg.logdir);
            announced_wait = true;
        }
        progress(&u, false);
        for (long long s = 0; s < u.cfg.poll_interval * 10 && !stop_flag; s++)
            usleep(100000);
    }
    tb_buf_done(&batch);
    progress(&u, true);
    if (stop_flag)
        fprintf(stderr,
                "tbdev: stopped by request; everything sent is stored. Resume with: tbdev "
                "upload --logdir %s --experiment_id %s\n",
                u.cfg.logdir, u.exp_id);
    if (u.dropped)
        fprintf(stderr, "tbdev: %llu records or values were skipped (see the warnings above)\n",
                (unsigned long long)u.dropped);
out:
    up_client_close(u.cl);
    free_files(&u);
    tb_arena_done(&u.arena);
    return rc;
}
