/* SPDX-License-Identifier: MIT */
/* `tbdev upload`: read event files from their committed cursors and send raw records. */
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "budget.h"
#include "buf.h"
#include "cli.h"
#include "client.h"
#include "crc32c.h"
#include "creds.h"
#include "event.h"
#include "exitcode.h"
#include "follow.h"
#include "json.h"
#include "logdir.h"
#include "manage.h"
#include "map.h"
#include "opts.h"
#include "tfrecord.h"

#define PROTOBUF "application/x-protobuf"
#define BATCH_BYTES (8u << 20) /* raw record bytes per request, unless one record is larger */
#define DROPS_LISTED 20        /* kinds of skipped data named in the final summary */

struct cfg {
    struct up_common common; /* first: the common options' offsets hold for this struct */
    const char *logdir;
    const char *name;
    const char *description;
    const char *visibility;
    const char *experiment_id;
    bool one_shot;
    bool dry_run;
    bool json;
    const char *plugins;
    long long poll_interval;
};

static const struct tb_opt options[] = {
    {"logdir", 0, TB_OPT_STRING, offsetof(struct cfg, logdir), "DIR", NULL,
     "The logdir to upload: every directory below it with event files is a run."},
    {"name", 0, TB_OPT_STRING, offsetof(struct cfg, name), "NAME", NULL,
     "Title of the experiment (at most 100 characters); with --experiment_id, changes it."},
    {"description", 0, TB_OPT_STRING, offsetof(struct cfg, description), "TEXT", NULL,
     "Markdown description (at most 600 characters); with --experiment_id, changes it."},
    {"visibility", 0, TB_OPT_STRING, offsetof(struct cfg, visibility), "V", NULL,
     "unlisted (default: anyone with the link), public (also listed on your page), or "
     "private (you and users you share with); with --experiment_id, changes it."},
    {"experiment_id", 0, TB_OPT_STRING, offsetof(struct cfg, experiment_id), "ID", NULL,
     "Append to, or resume, this experiment instead of creating one."},
    {"one_shot", 0, TB_OPT_FLAG, offsetof(struct cfg, one_shot), NULL, NULL,
     "Upload what is there and exit, instead of watching for new data."},
    {"dry_run", 0, TB_OPT_FLAG, offsetof(struct cfg, dry_run), NULL, NULL,
     "Print what would be uploaded, per run, and exit; needs no server and no login."},
    {"json", 0, TB_OPT_FLAG, offsetof(struct cfg, json), NULL, NULL,
     "With --dry_run: print one JSON document on stdout instead of a table."},
    {"plugins", 0, TB_OPT_STRING, offsetof(struct cfg, plugins), "LIST", NULL,
     "Only upload these plugins' data, e.g. scalars,histograms (graphs for graph events)."},
    {"poll_interval", 0, TB_OPT_INT, offsetof(struct cfg, poll_interval), "SECONDS",
     "TBDEV_POLL_INTERVAL", "How often to look for new data when watching (default: 5)."},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* The plugins --plugins may name: TensorBoard's, and "graphs" for graph events. */
static const char *const known_plugins[] = {
    "scalars",
    "histograms",
    "images",
    "audio",
    "text",
    "hparams",
    "pr_curves",
    "custom_scalars",
    "mesh",
    "graphs",
    "graph_run_metadata",
    "graph_run_metadata_graph",
    "graph_keras_model",
};
#define N_KNOWN (sizeof(known_plugins) / sizeof(known_plugins[0]))

static void usage(void)
{
    FILE *f = stdout;
    fprintf(f,
            "Usage: tbdev upload --logdir DIR [OPTIONS]\n\n"
            "Uploads a TensorBoard logdir to a tbdev server and prints the experiment's link at "
            "once.\nBy default it keeps watching the logdir for new runs, files and events "
            "(Ctrl-C\nfinishes the request in flight and exits). Every record is sent exactly "
            "once:\nafter a crash, run again with --experiment_id to continue where the server's "
            "data\nends. Nothing in the logdir is ever written.\n\nOptions:\n");
    tb_opts_help(f, options, N_OPTIONS);
    up_cli_help_common();
    fprintf(f, "\nA value is one summary value (a scalar point, a histogram, an image, a text...) "
               "or one\ngraph event; `tbdev inspect` and `tbdev list` count the same way.\n"
               "Runs and tags whose names are over the server's limit are skipped with a "
               "warning,\nas are records too large for it; everything else is uploaded.\n"
               "\nExit status: 0 done (also after Ctrl-C), 1 failure (the message says what to "
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

struct run_state {
    struct tb_meta_cache meta; /* a tag's first metadata, as TensorBoard applies it */
    bool skipped;              /* its name is over the limit: not uploaded */
};

/* What was read, and what of it is sent or left out (the dry run's table, and the summary). */
struct tally {
    uint64_t records, bytes, values, left_out_records;
    struct tb_map plugins;  /* plugin -> values read (uintptr_t) */
    struct tb_map left_out; /* plugin -> values left out by --plugins */
    struct tb_map tags;     /* tag -> 1: distinct tags */
};

struct up {
    struct cfg cfg;
    struct up_client *cl;
    char exp_id[64];
    struct tb_follow fl; /* the logdir's files, and the server's cursors */
    struct tb_map runs;  /* run -> struct run_state */
    struct tb_map drops; /* "reason\x1fname" -> values the server or we skipped */
    const char *filter;  /* plugins to keep, or NULL for all */
    bool server_filter;  /* ... the server's list: what it leaves out is reported */
    size_t max_record;
    size_t request_bytes;
    size_t name_max; /* the server's limit for run names and tags */
    struct up_budget budget;
    struct tb_arena arena;
    struct tally *tally; /* the dry run's, for the run being read; NULL when uploading */
    bool tty;
    double started, last_progress;
    uint64_t values, records, dropped, requests, skipped_values;
    uint64_t runs_seen;
    double win_t, prev_t; /* the rate's window: values at its start and at the previous one */
    uint64_t win_values, prev_values;
    bool watching; /* everything there is was sent: waiting for more */
    char url[700]; /* the experiment's link */
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

/* Clears the progress line before a message, on a terminal. */
static void say_begin(const struct up *u)
{
    if (u->tty)
        fprintf(stderr, "\r\033[K");
}

static void count_in(struct tb_map *m, const char *key, uint64_t n)
{
    uintptr_t v = (uintptr_t)tb_map_get(m, key);
    tb_map_put(m, key, (void *)(v + n));
}

/* Records n values skipped for (reason, name); warns (why) the first time each one is seen,
 * unless why is NULL (the caller has said it). */
static void skipped(struct up *u, const char *reason, const char *name, uint64_t n, const char *why)
{
    char *k = key_of(reason, name);
    if (!k)
        return;
    bool first = !tb_map_get(&u->drops, k);
    count_in(&u->drops, k, n);
    free(k);
    u->skipped_values += n;
    if (first && why && !u->tally) {
        say_begin(u);
        fprintf(stderr, "tbdev: warning: %s\n", why);
    }
}

static struct run_state *run_state(struct up *u, const char *run)
{
    struct run_state *rs = tb_map_get(&u->runs, run);
    if (!rs && (rs = calloc(1, sizeof(*rs)))) {
        tb_meta_cache_init(&rs->meta);
        if (tb_map_put(&u->runs, run, rs) < 0) {
            tb_meta_cache_done(&rs->meta);
            free(rs);
            rs = NULL;
        }
    }
    return rs;
}

/* Text a run name or tag may be: valid UTF-8 without control characters, within the limit. */
static bool name_ok(const struct up *u, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > u->name_max || !tb_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* A name for messages: at most 60 bytes of it. */
static void shown_name(char *out, size_t len, const char *s)
{
    size_t n = strlen(s);
    snprintf(out, len, "%.60s%s", s, n > 60 ? "..." : "");
}

/*
 * Decides whether a record is sent: it is unless every value in it is left out (by --plugins,
 * or a tag over the name limit). Counts what it holds, by the counting rule (a value is a
 * summary value or a graph event), into u->tally for the dry run. Decoding problems keep the
 * record (the server reports them), as do file_version and session_log events.
 */
static bool keep_record(struct up *u, const char *run, const struct tb_record *rec)
{
    struct tb_event ev;
    tb_arena_reset(&u->arena);
    struct tally *t = u->tally;
    if (t) {
        t->records++;
        t->bytes += rec->frame_len;
    }
    /* Most records: nothing to leave out and nothing to count; their tags are all there is
     * to look at, and a look costs a tenth of a decode. */
    if (!u->filter && !t && tb_event_tags_ok(rec->data, rec->len, u->name_max) == 1)
        return true;
    struct tb_problem p;
    if (tb_event_decode(rec->data, rec->len, &u->arena, &ev, &p) < 0)
        return true;
    struct run_state *rs = run_state(u, run);
    if (rs && tb_meta_cache_apply(&rs->meta, &ev, &u->arena, &p) < 0)
        return true;
    if (ev.n_values == 0)
        return true;
    bool graph = ev.kind == TB_EVENT_GRAPH_DEF || ev.kind == TB_EVENT_META_GRAPH_DEF ||
                 ev.kind == TB_EVENT_TAGGED_RUN_METADATA;
    size_t kept = 0;
    for (size_t i = 0; i < ev.n_values; i++) {
        const struct tb_value *v = &ev.values[i];
        const char *plugin = graph ? TB_PLUGIN_GRAPHS : v->plugin_name;
        if (t) {
            t->values++;
            count_in(&t->plugins, plugin[0] ? plugin : "(none)", 1);
            if (!tb_map_get(&t->tags, v->tag))
                tb_map_put(&t->tags, v->tag, (void *)1);
        }
        if (u->filter && !in_list(u->filter, plugin)) {
            if (t)
                count_in(&t->left_out, plugin[0] ? plugin : "(none)", 1);
            if (u->server_filter) {
                char why[200];
                snprintf(why, sizeof(why),
                         "the server does not accept plugin '%.60s': its values are skipped",
                         plugin);
                skipped(u, "plugin", plugin, 1, why);
            }
            continue;
        }
        if (strlen(v->tag) > u->name_max || !tb_text_ok(v->tag, strlen(v->tag))) {
            char shown[80], why[300];
            shown_name(shown, sizeof(shown), v->tag);
            snprintf(why, sizeof(why),
                     "tag '%s' of run '%.60s' (%zu bytes) is %s: its values are skipped", shown,
                     run, strlen(v->tag),
                     strlen(v->tag) > u->name_max ? "over the server's limit for names"
                                                  : "not text without control characters");
            skipped(u, "name", v->tag, 1, why);
            continue;
        }
        kept++;
    }
    if (!kept && t)
        t->left_out_records++;
    return kept > 0;
}

static void fmt_secs(char *out, size_t len, double s)
{
    if (s < 60)
        snprintf(out, len, "%.0f s", s);
    else if (s < 3600)
        snprintf(out, len, "%d min %02d s", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, len, "%d h %02d min", (int)(s / 3600), (int)(s / 60) % 60);
}

/*
 * The progress line on a terminal: how much of the logdir is up, a rate over the last few
 * seconds and the time left while sending; "watching" when everything is up. With final,
 * the summary line ("N runs, N files, N values, X sent ...") on any output.
 */
static void progress(struct up *u, bool final)
{
    double t = now_mono();
    if (!final && (!u->tty || t - u->last_progress < 0.2))
        return;
    u->last_progress = t;
    /* the rate over a window of about ten seconds, not since the start */
    if (t - u->win_t >= 10 || u->win_t == 0) {
        u->prev_t = u->win_t ? u->win_t : u->started;
        u->prev_values = u->win_values;
        u->win_t = t;
        u->win_values = u->values;
    }
    double span = t - u->prev_t;
    double rate = span > 0.5 ? (double)(u->values - u->prev_values) / span : 0;
    uint64_t done, all;
    tb_follow_totals(&u->fl, &done, &all);
    char sent[32], skip[64] = "";
    up_human_bytes(sent, sizeof(sent), u->cl ? (double)up_net_bytes_sent(u->cl->net) : 0);
    if (u->skipped_values)
        snprintf(skip, sizeof(skip), ", %llu skipped", (unsigned long long)u->skipped_values);
    char runs[32], files[32];
    up_plural(u->runs_seen, "run", "runs", runs, sizeof(runs));
    up_plural(u->fl.files.len, "file", "files", files, sizeof(files));
    if (final) {
        double secs = t - u->started;
        up_progress_end();
        fprintf(stderr, "tbdev: %s, %s, %llu values%s, %s sent in %.1f s (%.0f values/s)\n", runs,
                files, (unsigned long long)u->values, skip, sent, secs,
                secs > 0 ? u->values / secs : 0.0);
        return;
    }
    if (u->watching && done >= all) {
        up_progressf("Up to date: %llu values in %s; watching %s for new data (Ctrl-C to stop)",
                     (unsigned long long)u->values, runs, u->cfg.logdir);
        return;
    }
    char d[32], a[32], eta[48] = "";
    up_human_bytes(d, sizeof(d), (double)done);
    up_human_bytes(a, sizeof(a), (double)all);
    double pct = all ? 100.0 * (double)done / (double)all : 100;
    double bytes_rate = u->values && rate > 0 ? rate * (double)done / (double)u->values : 0;
    if (bytes_rate > 0 && all > done) {
        char left[32];
        fmt_secs(left, sizeof(left), (double)(all - done) / bytes_rate);
        snprintf(eta, sizeof(eta), ", %s left", left);
    }
    up_progressf("%3.0f%% %s of %s, %llu values%s, %.0f values/s%s", pct, d, a,
                 (unsigned long long)u->values, skip, rate, eta);
}

/* Warns about a file whose tail is damaged, once. */
static void tail_warning(struct up *u, struct tb_follow_file *f, struct tb_tfrecord_reader *r)
{
    uint64_t bytes = 0;
    enum tb_problem_kind tail = tb_tfrecord_tail(r, &bytes);
    if (tail == TB_PROBLEM_NONE || tail == TB_PROBLEM_TRUNCATED || f->warned_tail)
        return;
    f->warned_tail = true;
    say_begin(u);
    fprintf(stderr,
            "tbdev: warning: %s: %s at offset %llu (%llu bytes); waiting for good "
            "records after it\n",
            f->path,
            tail == TB_PROBLEM_ZERO_FILLED ? "zero bytes where records should be"
            : tail == TB_PROBLEM_TOO_LARGE ? "a record over the size limit"
                                           : "corrupt bytes",
            (unsigned long long)tb_tfrecord_offset(r), (unsigned long long)bytes);
}

/*
 * Reads one file's records from its offset into a group, while the request (all of records)
 * stays within budget bytes; returns the records added (*ret_bytes their bytes). Sets *ret_end
 * to the offset the group covers, *ret_first to the first added record's offset, and
 * *ret_full when the request has no room for the next record.
 */
static size_t read_group(struct up *u, struct tb_follow_file *f, struct tb_buf *records,
                         size_t budget, uint64_t *ret_end, uint64_t *ret_first, bool *ret_full)
{
    *ret_end = f->read_offset;
    *ret_full = false;
    *ret_first = f->read_offset;
    struct tb_tfrecord_reader *r = NULL;
    int err = tb_tfrecord_open(f->path, f->read_offset, u->max_record, &r);
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
            say_begin(u);
            fprintf(stderr, "tbdev: warning: %s: %s\n", f->path, p.message);
            skipped(u, "corrupt", f->path, 1, NULL);
            *ret_end = tb_tfrecord_offset(r);
            continue;
        }
        if (rec.frame_len > u->request_bytes || rec.offset == f->skip_at) {
            /* Too large for any request this server takes: skip it, say so, go on. */
            char why[600];
            snprintf(why, sizeof(why),
                     "%s: the record at offset %llu (%zu bytes) is larger than the server "
                     "takes%s; skipped",
                     f->path, (unsigned long long)rec.offset, rec.frame_len,
                     rec.offset == f->skip_at ? " (refused alone as too large)" : "");
            u->dropped++;
            char name[40];
            snprintf(name, sizeof(name), "%llu", (unsigned long long)rec.offset);
            char *k = key_of(f->path, name);
            skipped(u, "too_large", k ? k : "", 1, why);
            free(k);
            *ret_end = tb_tfrecord_offset(r);
            continue;
        }
        /* budget counts the whole request: a record may pass it only when it is the first */
        if (records->len && records->len + rec.frame_len > budget) {
            *ret_full = true; /* the request is full: the rest waits for the next one */
            break;
        }
        if (keep_record(u, f->run, &rec)) {
            if (!added)
                *ret_first = rec.offset;
            tb_buf_add(records, rec.frame, rec.frame_len);
            added++;
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

/* The values of the files of a run, for a skipped run's warning. */
static uint64_t count_values(struct up *u, const struct tb_logdir_run *run)
{
    uint64_t n = 0;
    struct tb_meta_cache mc;
    tb_meta_cache_init(&mc);
    for (size_t j = 0; j < run->n_files; j++) {
        struct tb_tfrecord_reader *r = NULL;
        if (tb_tfrecord_open(run->files[j].path, 0, u->max_record, &r) < 0)
            continue;
        struct tb_record rec;
        while (tb_tfrecord_next(r, &rec, NULL) != 0) {
            struct tb_event ev;
            tb_arena_reset(&u->arena);
            if (rec.data && tb_event_decode(rec.data, rec.len, &u->arena, &ev, NULL) == 0 &&
                tb_meta_cache_apply(&mc, &ev, &u->arena, NULL) == 0)
                n += ev.n_values;
        }
        tb_tfrecord_close(r);
    }
    tb_meta_cache_done(&mc);
    return n;
}

/* A run seen for the first time: skipped (with a warning) when its name is not one the server
 * takes. */
static bool new_run(void *ctx, const struct tb_logdir_run *run)
{
    struct up *u = ctx;
    struct run_state *rs = run_state(u, run->name);
    if (!rs || name_ok(u, run->name))
        return true;
    rs->skipped = true;
    char shown[80], why[400];
    shown_name(shown, sizeof(shown), run->name);
    uint64_t n = u->tally ? 0 : count_values(u, run);
    snprintf(why, sizeof(why),
             "run '%s' (%zu bytes) has a name %s: its %llu values are skipped; "
             "rename its folder to upload it",
             shown, strlen(run->name),
             strlen(run->name) > u->name_max ? "over the server's limit" : "that is not text",
             (unsigned long long)n);
    skipped(u, "run_name", run->name, n, why);
    return false;
}

/* What the follower says of files that change under it. */
static void file_event(void *ctx, enum tb_follow_event ev, const struct tb_follow_file *f,
                       uint64_t a, uint64_t b)
{
    struct up *u = ctx;
    say_begin(u);
    if (ev == TB_FOLLOW_RENAMED)
        fprintf(stderr,
                "tbdev: note: %s is not the file uploaded before as '%s' in run '%s' (its "
                "first bytes differ); uploading it as '%s' (TensorBoard reads both)\n",
                f->path, f->base, f->run, f->name);
    else if (ev == TB_FOLLOW_TRUNCATED)
        fprintf(stderr,
                "tbdev: warning: %s was truncated to %llu bytes after %llu bytes of it were "
                "uploaded; it is no longer read, so nothing is duplicated or torn. Write new data "
                "to a new file.\n",
                f->path, (unsigned long long)a, (unsigned long long)b);
    else
        fprintf(stderr,
                "tbdev: warning: %s is %llu bytes, but %llu bytes of it were "
                "uploaded before: it was truncated, and is not read again\n",
                f->path, (unsigned long long)a, (unsigned long long)b);
}

/* Brings the file table up to date with a logdir scan. */
static int refresh(struct up *u, struct tb_logdir *ld)
{
    u->runs_seen = ld->n_runs;
    return tb_follow_refresh(&u->fl, ld);
}

struct pending {
    struct tb_follow_file *file;
    size_t at, len; /* the group's records in the batch buffer */
    uint64_t end, first;
    size_t n_records;
    uint64_t start; /* the group's offset */
};

static int fetch_cursors(struct up *u, char *err, size_t len);

/* What the server said of one group. */
static void group_result(struct up *u, struct pending *pg, const Tbdev__V1__GroupResult *gr)
{
    struct tb_follow_file *f = pg->file;
    for (size_t k = 0; k < gr->n_problems; k++) {
        say_begin(u);
        fprintf(stderr, "tbdev: warning: %s/%s: %s\n", gr->run, gr->file, gr->problems[k]);
    }
    u->dropped += gr->dropped;
    for (size_t k = 0; k < gr->n_drops; k++) {
        const Tbdev__V1__Drop *d = gr->drops[k];
        char why[400];
        if (!strcmp(d->reason, "plugin"))
            snprintf(why, sizeof(why),
                     "the server does not accept plugin '%.60s': its values "
                     "are skipped",
                     d->name);
        else
            snprintf(why, sizeof(why), "the server skipped values (%s%s%.60s)", d->reason,
                     d->name[0] ? ": " : "", d->name);
        skipped(u, d->reason, d->name, d->values, why);
    }
    if (gr->status == TBDEV__V1__GROUP_STATUS__REFUSED) {
        if (!strcmp(gr->refused, "file_changed")) {
            /* The server holds another file under this name (another uploader, or the file was
             * replaced between our scans): this one goes under a new name. */
            tb_follow_name_taken(&u->fl, f, gr->cursor);
        } else {
            f->dead = true; /* its name: the problem above says why */
        }
        return;
    }
    tb_follow_committed(&u->fl, f, gr->cursor, pg->end);
    u->values += gr->values;
}

/*
 * Requests are pipelined: while one is on the wire (on its own thread), the next is read,
 * decoded and compressed from where the first ends, as if it will be committed; when the
 * answer says otherwise (a gap, a refusal, a split), the prepared one is dropped and reading
 * starts again from the server's cursors. So reading and the server's work overlap, and
 * exactly-once still rests on the cursors alone.
 */
struct batch {
    struct pending *pend;
    size_t ng, n_records, bytes;
    void *body;
    size_t body_len;
    /* filled by the request's thread: */
    struct up_reply reply;
    int rc;
    char err[600];
};

static void batch_free(struct batch *b)
{
    if (!b)
        return;
    free(b->pend);
    free(b->body);
    free(b);
}

/* Reads the next request from the files' read offsets. NULL when no file has anything new
 * (or on -ENOMEM, *ret_err). */
static struct batch *prepare(struct up *u, struct tb_buf *buf, int *ret_err)
{
    *ret_err = 0;
    size_t nf = u->fl.files.len, n = 0;
    struct tb_follow_file **order = NULL;
    struct batch *b = calloc(1, sizeof(*b));
    if (b)
        b->pend = calloc(nf ? nf : 1, sizeof(*b->pend));
    if (tb_follow_sorted(&u->fl, &order, &n) < 0 || !b || !b->pend) {
        free(order);
        batch_free(b);
        *ret_err = -ENOMEM;
        return NULL;
    }
    tb_buf_reset(buf);
    size_t budget = u->budget.cur;
    struct pending *pend = b->pend;
    for (size_t i = 0; i < n && buf->len < budget; i++) {
        struct tb_follow_file *f = order[i];
        uint64_t size;
        if (!tb_follow_ready(f, &size))
            continue;
        tb_follow_take_fingerprint(&u->fl, f);
        size_t at = buf->len;
        uint64_t end, first;
        bool full;
        size_t added = read_group(u, f, buf, budget, &end, &first, &full);
        if (added == 0 && end == f->read_offset) {
            if (full)
                break; /* no room left in this request: this file goes first in the next */
            tb_follow_idle(f, size); /* an incomplete or damaged tail: wait */
            continue;
        }
        f->idle_size = 0;
        b->n_records += added;
        pend[b->ng++] = (struct pending){f, at, buf->len - at, end, first, added, f->read_offset};
        f->read_offset = end;
    }
    free(order);
    if (b->ng == 0) {
        batch_free(b);
        return NULL;
    }
    b->bytes = buf->len;
    Tbdev__V1__RecordGroup *groups = calloc(b->ng, sizeof(*groups));
    Tbdev__V1__RecordGroup **ptrs = calloc(b->ng, sizeof(*ptrs));
    if (groups && ptrs) {
        for (size_t g = 0; g < b->ng; g++) {
            struct tb_follow_file *f = pend[g].file;
            tbdev__v1__record_group__init(&groups[g]);
            groups[g].run = (ProtobufCBinaryData){strlen(f->run), (uint8_t *)f->run};
            groups[g].file = (ProtobufCBinaryData){strlen(f->name), (uint8_t *)f->name};
            groups[g].offset = pend[g].start;
            groups[g].records = (ProtobufCBinaryData){pend[g].len, buf->data + pend[g].at};
            groups[g].end_offset = pend[g].end;
            groups[g].fingerprint_len = f->fp_len;
            groups[g].fingerprint = f->fp;
            ptrs[g] = &groups[g];
        }
        Tbdev__V1__WriteEventsRequest req = TBDEV__V1__WRITE_EVENTS_REQUEST__INIT;
        req.n_groups = b->ng;
        req.groups = ptrs;
        b->body = up_pack(&req, &b->body_len);
    }
    free(groups);
    free(ptrs);
    if (!b->body) {
        batch_free(b);
        *ret_err = -ENOMEM;
        return NULL;
    }
    return b;
}

struct sender {
    struct up *u;
    struct batch *b;
    pthread_t thread;
    bool running;
};

static void *send_thread(void *p)
{
    struct sender *s = p;
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/events", s->u->exp_id);
    s->b->rc = up_client_call(s->u->cl, "POST", path, PROTOBUF, s->b->body, s->b->body_len, true,
                              &s->b->reply, s->b->err, sizeof(s->b->err));
    return NULL;
}

static int send_start(struct sender *s, struct up *u, struct batch *b)
{
    s->u = u;
    s->b = b;
    if (pthread_create(&s->thread, NULL, send_thread, s) != 0)
        return -EAGAIN;
    s->running = true;
    return 0;
}

static struct batch *send_wait(struct sender *s)
{
    if (!s->running)
        return NULL;
    pthread_join(s->thread, NULL);
    s->running = false;
    return s->b;
}

/* What the server answered to b. Returns 1 when it went as prepared (the next batch may go),
 * 0 when what was read ahead must be read again (a gap, a split, a refusal), or -errno with
 * a message in err. */
static int complete(struct up *u, struct batch *b, char *err, size_t err_len)
{
    if (b->rc < 0) {
        snprintf(err, err_len, "%s", b->err);
        return b->rc;
    }
    struct up_reply *r = &b->reply;
    u->requests++;
    int rc;
    if (r->status == 409) {
        /* A gap: our idea of a cursor is behind or ahead of the server's. Ask again. */
        rc = fetch_cursors(u, err, err_len);
        goto out;
    }
    char code[64] = "";
    if (r->status == 413) {
        up_reply_error(r, err, err_len, code, sizeof(code));
        if (!strcmp(code, "too_large")) {
            /* More than the server takes at once, whatever it advertised: send less. */
            if (up_budget_refused(&u->budget, b->n_records, b->bytes) == UP_SKIP_RECORD) {
                for (size_t g = 0; g < b->ng; g++)
                    if (b->pend[g].n_records)
                        b->pend[g].file->skip_at = b->pend[g].first;
            } else if (u->cfg.common.verbose >= UP_REQUESTS) {
                fprintf(stderr, "tbdev: the server refused %zu bytes at once; sending %zu\n",
                        b->bytes, u->budget.cur);
            }
            rc = 0;
            goto out;
        }
    }
    if (r->status != 200 || !r->protobuf) {
        if (!code[0])
            up_reply_error(r, err, err_len, NULL, 0);
        rc = -EPROTO;
        goto out;
    }
    Tbdev__V1__WriteEventsResponse *res =
        tbdev__v1__write_events_response__unpack(NULL, r->body.len, r->body.data);
    if (!res || res->n_results != b->ng) {
        if (res)
            tbdev__v1__write_events_response__free_unpacked(res, NULL);
        snprintf(err, err_len, "the server's answer does not match the request");
        rc = -EPROTO;
        goto out;
    }
    up_budget_taken(&u->budget);
    rc = 1;
    for (size_t g = 0; g < b->ng; g++) {
        const Tbdev__V1__GroupResult *gr = res->results[g];
        group_result(u, &b->pend[g], gr);
        if (gr->status == TBDEV__V1__GROUP_STATUS__REFUSED || gr->cursor != b->pend[g].end)
            rc = 0;
    }
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    /* on a pipe (a job's log), a line per request: the terminal has the progress line */
    if (u->cfg.common.verbose >= UP_REQUESTS || (!u->tty && u->cfg.common.verbose >= UP_NORMAL))
        fprintf(stderr, "tbdev: sent new records of %zu file%s (%llu values so far)\n", b->ng,
                b->ng == 1 ? "" : "s", (unsigned long long)u->values);
out:
    tb_buf_done(&r->body);
    return rc;
}

/* Sends everything there is to send now, two requests in the pipe. Returns the requests sent
 * (0 when nothing was new), or -errno with a message in err (-EINTR after Ctrl-C). */
static int send_all(struct up *u, struct tb_buf *buf, char *err, size_t err_len)
{
    struct sender s = {0};
    struct batch *next = NULL;
    int sent = 0, rc = 0;
    for (;;) {
        if (!next && !stop_flag) {
            next = prepare(u, buf, &rc); /* the body is packed: buf is free again after */
            if (rc < 0)
                break;
        }
        if (!s.running) {
            if (!next)
                break;
            if ((rc = send_start(&s, u, next)) < 0)
                break;
            next = NULL;
            continue; /* prepare the one after it while it is on the wire */
        }
        struct batch *done = send_wait(&s);
        rc = complete(u, done, err, err_len);
        batch_free(done);
        if (rc < 0)
            break;
        sent++;
        progress(u, false);
        if (rc == 0) {
            batch_free(next);
            next = NULL;
            tb_follow_rewind(&u->fl);
        }
        rc = 0;
    }
    if (s.running) { /* stopped or failed with one on the wire: see it through */
        struct batch *done = send_wait(&s);
        char ignore[600];
        if (done->rc >= 0 &&
            complete(u, done, rc < 0 ? ignore : err, rc < 0 ? sizeof(ignore) : err_len) < 0 &&
            rc == 0)
            rc = -EPROTO;
        batch_free(done);
    }
    batch_free(next);
    tb_follow_rewind(&u->fl);
    if (rc == 0 && stop_flag)
        rc = sent ? sent : -EINTR;
    return rc < 0 ? rc : sent;
}

/* GET cursors: where the server's data for each file ends, with each file's fingerprint. */
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
        const Tbdev__V1__Cursor *c = cl->cursors[i];
        tb_follow_cursor_set(
            &u->fl, c->run, c->file,
            (struct tb_follow_cursor){c->offset, c->fingerprint_len, c->fingerprint});
    }
    tbdev__v1__cursor_list__free_unpacked(cl, NULL);
    /* Files already known take the server's word for their offset. */
    tb_follow_sync(&u->fl);
    return 0;
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
    snprintf(u->url, sizeof(u->url), "%s", e->url);
    printf("Upload started. View your experiment at:\n%s\n", e->url);
    printf("Experiment ID: %s (to resume: tbdev upload --logdir %s --experiment_id %s)\n", e->id,
           u->cfg.logdir, e->id);
    fflush(stdout);
    tbdev__v1__experiment__free_unpacked(e, NULL);
    return 0;
}

static void tally_init(struct tally *t)
{
    memset(t, 0, sizeof(*t));
    tb_map_init(&t->plugins);
    tb_map_init(&t->left_out);
    tb_map_init(&t->tags);
}

static void tally_done(struct tally *t)
{
    tb_map_done(&t->plugins);
    tb_map_done(&t->left_out);
    tb_map_done(&t->tags);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A counting map's keys, sorted; caller frees the array (not the keys) with free(). */
static const char **sorted_keys(const struct tb_map *m, size_t *ret_n)
{
    const char **k = calloc(m->len ? m->len : 1, sizeof(*k));
    size_t n = 0;
    for (size_t i = 0; k && i < m->cap; i++)
        if (m->slots[i].key)
            k[n++] = m->slots[i].key;
    if (k)
        qsort(k, n, sizeof(*k), cmp_str);
    *ret_n = n;
    return k;
}

static void plugins_text(char *out, size_t len, const struct tb_map *m)
{
    size_t n, o = 0;
    const char **k = sorted_keys(m, &n);
    out[0] = 0;
    for (size_t i = 0; k && i < n && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s %llu", i ? ", " : "", k[i],
                              (unsigned long long)(uintptr_t)tb_map_get(m, k[i]));
    free(k);
}

static void plugins_json(struct tb_json *j, const struct tb_map *m)
{
    size_t n;
    const char **k = sorted_keys(m, &n);
    tb_json_obj_open(j);
    for (size_t i = 0; k && i < n; i++) {
        tb_json_key(j, k[i]);
        tb_json_uint(j, (uintptr_t)tb_map_get(m, k[i]));
    }
    tb_json_obj_close(j);
    free(k);
}

/* --dry_run: reads every run as an upload would and says what it would send; its totals are
 * tbdev inspect's (the same counting rule). Nothing is sent, no server is needed. */
static int dry_run(struct up *u)
{
    struct tb_logdir *ld = NULL;
    int err = tb_logdir_scan(u->cfg.logdir, &ld);
    if (err < 0) {
        fprintf(stderr, "tbdev upload: cannot read logdir '%s': %s\n", u->cfg.logdir,
                strerror(-err));
        return UP_EXIT_FAILURE;
    }
    u->max_record = 0;
    u->request_bytes = SIZE_MAX;
    struct tally total;
    tally_init(&total);
    struct tally skip_probe;
    tally_init(&skip_probe);
    u->tally = &skip_probe; /* refresh: a skipped run's values are counted below */
    refresh(u, ld);
    struct tb_buf out;
    tb_buf_init(&out, 0);
    struct tb_json j;
    tb_json_init(&j, &out);
    if (u->cfg.json) {
        tb_json_obj_open(&j);
        tb_json_key(&j, "logdir");
        tb_json_str(&j, u->cfg.logdir);
        tb_json_key(&j, "runs");
        tb_json_arr_open(&j);
    } else {
        printf("Dry run: nothing is sent. Would upload from %s:\n", u->cfg.logdir);
    }
    uint64_t files = 0, tags = 0, total_file_bytes = 0;
    for (size_t i = 0; i < ld->n_runs; i++) {
        const struct tb_logdir_run *run = &ld->runs[i];
        struct run_state *rs = tb_map_get(&u->runs, run->name);
        struct tally t;
        tally_init(&t);
        u->tally = &t;
        for (size_t k = 0; k < run->n_files; k++) {
            char *key = key_of(run->name, run->files[k].name);
            struct tb_follow_file *f = key ? tb_map_get(&u->fl.files, key) : NULL;
            free(key);
            if (!f)
                continue;
            f->offset = f->read_offset = 0;
            struct tb_buf buf;
            tb_buf_init(&buf, 0);
            for (;;) { /* the whole file, a group at a time, as uploading reads it */
                uint64_t end, first;
                bool full;
                tb_buf_reset(&buf);
                read_group(u, f, &buf, BATCH_BYTES, &end, &first, &full);
                if (end == f->read_offset)
                    break;
                f->offset = f->read_offset = end; /* only in memory: nothing is sent */
            }
            tb_buf_done(&buf);
        }
        bool skip = rs && rs->skipped;
        uint64_t file_bytes = 0;
        for (size_t k = 0; k < run->n_files; k++)
            file_bytes += run->files[k].size;
        total_file_bytes += file_bytes;
        files += run->n_files;
        tags += t.tags.len;
        total.records += t.records;
        total.bytes += t.bytes;
        total.values += t.values;
        total.left_out_records += t.left_out_records;
        for (size_t s = 0; s < t.plugins.cap; s++)
            if (t.plugins.slots[s].key)
                count_in(&total.plugins, t.plugins.slots[s].key,
                         (uintptr_t)t.plugins.slots[s].value);
        for (size_t s = 0; s < t.left_out.cap; s++)
            if (t.left_out.slots[s].key)
                count_in(&total.left_out, t.left_out.slots[s].key,
                         (uintptr_t)t.left_out.slots[s].value);
        if (u->cfg.json) {
            tb_json_obj_open(&j);
            tb_json_key(&j, "name");
            tb_json_str(&j, run->name);
            tb_json_key(&j, "files");
            tb_json_uint(&j, run->n_files);
            tb_json_key(&j, "records");
            tb_json_uint(&j, t.records);
            tb_json_key(&j, "bytes");
            tb_json_uint(&j, file_bytes);
            tb_json_key(&j, "record_bytes");
            tb_json_uint(&j, t.bytes);
            tb_json_key(&j, "tags");
            tb_json_uint(&j, t.tags.len);
            tb_json_key(&j, "values");
            tb_json_uint(&j, t.values);
            tb_json_key(&j, "values_by_plugin");
            plugins_json(&j, &t.plugins);
            tb_json_key(&j, "left_out_by_plugin");
            plugins_json(&j, &t.left_out);
            tb_json_key(&j, "skipped");
            tb_json_bool(&j, skip);
            tb_json_obj_close(&j);
        } else {
            char by[400], left[400];
            plugins_text(by, sizeof(by), &t.plugins);
            plugins_text(left, sizeof(left), &t.left_out);
            printf("  run %-30s %zu file%s, %llu records, %llu bytes, %llu tags, %llu values%s\n",
                   run->name, run->n_files, run->n_files == 1 ? "" : "s",
                   (unsigned long long)t.records, (unsigned long long)file_bytes,
                   (unsigned long long)t.tags.len, (unsigned long long)t.values,
                   skip ? " (skipped: its name is over the limit)" : "");
            if (t.values)
                printf("      by plugin: %s\n", by);
            if (left[0])
                printf("      left out by --plugins: %s\n", left);
        }
        tally_done(&t);
    }
    u->tally = NULL;
    if (u->cfg.json) {
        tb_json_arr_close(&j);
        tb_json_key(&j, "totals");
        tb_json_obj_open(&j);
        tb_json_key(&j, "runs");
        tb_json_uint(&j, ld->n_runs);
        tb_json_key(&j, "files");
        tb_json_uint(&j, files);
        tb_json_key(&j, "tags");
        tb_json_uint(&j, tags);
        tb_json_key(&j, "values");
        tb_json_uint(&j, total.values);
        tb_json_key(&j, "records");
        tb_json_uint(&j, total.records);
        tb_json_key(&j, "bytes");
        tb_json_uint(&j, total_file_bytes);
        tb_json_key(&j, "record_bytes");
        tb_json_uint(&j, total.bytes);
        tb_json_key(&j, "values_by_plugin");
        plugins_json(&j, &total.plugins);
        tb_json_key(&j, "left_out_by_plugin");
        plugins_json(&j, &total.left_out);
        tb_json_key(&j, "left_out_records");
        tb_json_uint(&j, total.left_out_records);
        tb_json_obj_close(&j);
        tb_json_obj_close(&j);
        printf("%.*s\n", (int)out.len, out.data ? (const char *)out.data : "");
    } else {
        char by[600], left[600];
        plugins_text(by, sizeof(by), &total.plugins);
        plugins_text(left, sizeof(left), &total.left_out);
        printf("Total: %zu runs, %llu files, %llu tags, %llu values, %llu records, %llu bytes\n",
               ld->n_runs, (unsigned long long)files, (unsigned long long)tags,
               (unsigned long long)total.values, (unsigned long long)total.records,
               (unsigned long long)total_file_bytes);
        if (total.values)
            printf("  by plugin: %s\n", by);
        if (left[0])
            printf("  left out by --plugins: %s (%llu records not sent)\n", left,
                   (unsigned long long)total.left_out_records);
    }
    tb_buf_done(&out);
    tally_done(&total);
    tally_done(&skip_probe);
    tb_logdir_free(ld);
    return UP_EXIT_OK;
}

static void free_files(struct up *u)
{
    tb_follow_done(&u->fl);
    for (size_t i = 0; i < u->runs.cap; i++)
        if (u->runs.slots[i].key) {
            struct run_state *rs = u->runs.slots[i].value;
            tb_meta_cache_done(&rs->meta);
            free(rs);
        }
    tb_map_done(&u->runs);
    tb_map_done(&u->drops);
}

/* The final word on what was skipped, by reason and name. */
static void skipped_summary(struct up *u)
{
    if (!u->drops.len)
        return;
    size_t n;
    const char **k = sorted_keys(&u->drops, &n);
    fprintf(stderr, "tbdev: %llu values or records were not uploaded:\n",
            (unsigned long long)u->skipped_values);
    for (size_t i = 0; k && i < n && i < DROPS_LISTED; i++) {
        const char *sep = strchr(k[i], '\x1f');
        char shown[80];
        shown_name(shown, sizeof(shown), sep ? sep + 1 : "");
        fprintf(stderr, "  %-10.*s %-60s %llu\n", sep ? (int)(sep - k[i]) : 0, k[i], shown,
                (unsigned long long)(uintptr_t)tb_map_get(&u->drops, k[i]));
    }
    if (n > DROPS_LISTED)
        fprintf(stderr, "  ... and %zu more (see the warnings above)\n", n - DROPS_LISTED);
    free(k);
}

static bool check_plugins(const char *list, char *err, size_t len)
{
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        bool known = k == 0;
        for (size_t i = 0; i < N_KNOWN && !known; i++)
            known = strlen(known_plugins[i]) == k && !strncmp(known_plugins[i], p, k);
        if (!known) {
            size_t o = (size_t)snprintf(
                err, len, "--plugins: unknown plugin '%.*s'; known: ", (int)(k > 60 ? 60 : k), p);
            for (size_t i = 0; i < N_KNOWN && o < len; i++)
                o += (size_t)snprintf(err + o, len - o, "%s%s", i ? ", " : "", known_plugins[i]);
            return false;
        }
        p += k + (p[k] == ',');
    }
    return true;
}

int up_upload_main(int argc, char **argv)
{
    struct up u = {0};
    u.cfg.poll_interval = 5;
    char err[1024] = "";
    int rc = up_cli_parse("upload", options, N_OPTIONS, usage, argc, argv, &u.cfg, true, NULL);
    if (rc >= 0)
        return rc;
    rc = 0;
    const char *v = u.cfg.visibility;
    if (rc == 0 && v && strcmp(v, "unlisted") && strcmp(v, "public") && strcmp(v, "private"))
        snprintf(err, sizeof(err), "--visibility must be unlisted, public or private"), rc = -1;
    if (rc == 0 && !u.cfg.logdir)
        snprintf(err, sizeof(err),
                 "missing --logdir DIR (the folder your training writes "
                 "event files to)"),
            rc = -1;
    if (rc == 0 && u.cfg.poll_interval < 1)
        snprintf(err, sizeof(err), "--poll_interval must be at least 1 second"), rc = -1;
    if (rc == 0 && u.cfg.plugins && !check_plugins(u.cfg.plugins, err, sizeof(err)))
        rc = -1;
    if (rc == 0 && u.cfg.json && !u.cfg.dry_run)
        snprintf(err, sizeof(err), "--json goes with --dry_run"), rc = -1;
    if (rc < 0) {
        fprintf(stderr, "tbdev upload: %s\nRun 'tbdev upload --help' for usage.\n", err);
        return UP_EXIT_USAGE;
    }
    tb_follow_init(&u.fl, 0);
    u.fl.new_run = new_run;
    u.fl.event = file_event;
    u.fl.ctx = &u;
    tb_map_init(&u.runs);
    tb_map_init(&u.drops);
    tb_arena_init(&u.arena, 0);
    u.tty = isatty(STDERR_FILENO);
    u.filter = u.cfg.plugins && *u.cfg.plugins ? u.cfg.plugins : NULL;
    u.max_record = 0;
    u.name_max = TB_NAME_MAX;
    struct stat st;
    bool missing = stat(u.cfg.logdir, &st) != 0;
    if ((!missing && !S_ISDIR(st.st_mode)) || (missing && (u.cfg.one_shot || u.cfg.dry_run))) {
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
    if (up_creds_load(&creds, u.cfg.common.server, err, sizeof(err)) < 0 ||
        up_client_open(&creds, u.cfg.common.server, u.cfg.common.cacert, true,
                       u.cfg.common.verbose >= UP_REQUESTS, &u.cl, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev upload: %s\n", err);
        rc = UP_EXIT_FAILURE;
        goto out;
    }
    u.cl->stop = &stop_flag;
    u.cl->max_attempts = 0;     /* an upload waits out any transient failure: nothing is lost */
    u.cl->retry_refused = true; /* a server restarting refuses connections for a while */
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
    u.fl.max_record = u.max_record;
    /* Older servers checked run names and tags against name_bytes. */
    u.name_max = lim->series_name_bytes ? (size_t)lim->series_name_bytes
                 : lim->name_bytes      ? (size_t)lim->name_bytes
                                        : TB_NAME_MAX;
    /* Leave room for the request's own framing: about 1% and a little more. */
    u.request_bytes = lim->request_bytes
                          ? (size_t)(lim->request_bytes - lim->request_bytes / 64 - 512)
                          : BATCH_BYTES;
    up_budget_init(&u.budget, u.request_bytes < BATCH_BYTES ? u.request_bytes : BATCH_BYTES);
    if (!u.filter && u.cl->info->n_allowed_plugins) {
        /* The server only takes these: do not send the rest. */
        static char list[2048];
        size_t o = 0;
        for (size_t i = 0; i < u.cl->info->n_allowed_plugins && o < sizeof(list) - 1; i++)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? "," : "",
                                  u.cl->info->allowed_plugins[i]);
        u.filter = list;
        u.server_filter = true;
    }
    if (u.cfg.one_shot && !u.cfg.experiment_id) {
        /* Nothing to upload: say so, rather than make an empty experiment to delete. */
        struct tb_logdir *ld = NULL;
        int e = tb_logdir_scan(u.cfg.logdir, &ld);
        size_t runs = e == 0 ? ld->n_runs : 0;
        tb_logdir_free(ld);
        if (e == 0 && runs == 0) {
            fprintf(stderr,
                    "tbdev upload: no event files under %s (TensorBoard reads files whose names "
                    "contain 'tfevents'); nothing was uploaded. Is it the folder your training "
                    "writes to?\n",
                    u.cfg.logdir);
            rc = UP_EXIT_FAILURE;
            goto out;
        }
    }
    if (u.cfg.experiment_id) {
        if (!up_experiment_id_ok(u.cfg.experiment_id)) {
            fprintf(stderr,
                    "tbdev upload: '%.80s' is not an experiment ID (22 letters, digits, '-' and "
                    "'_', as in the link; see 'tbdev list')\n",
                    u.cfg.experiment_id);
            rc = UP_EXIT_USAGE;
            goto out;
        }
        snprintf(u.exp_id, sizeof(u.exp_id), "%s", u.cfg.experiment_id);
        if (fetch_cursors(&u, err, sizeof(err)) < 0) {
            fprintf(stderr, "tbdev upload: cannot resume experiment %s: %s\n", u.exp_id, err);
            rc = stop_flag ? UP_EXIT_OK : UP_EXIT_FAILURE;
            goto out;
        }
        if ((u.cfg.name || u.cfg.description || u.cfg.visibility) &&
            up_experiment_update(u.cl, u.exp_id, u.cfg.name, u.cfg.description, u.cfg.visibility,
                                 NULL, NULL, err, sizeof(err)) < 0) {
            fprintf(stderr, "tbdev upload: cannot change experiment %s: %s\n", u.exp_id, err);
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
        snprintf(u.url, sizeof(u.url), "%s", url);
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
    bool announced_wait = false, announced_missing = false, failed = false;
    while (!stop_flag) {
        if (stat(u.cfg.logdir, &st) != 0) {
            /* Watching a logdir the job has not made yet: wait for it, as TensorBoard.dev. */
            if (!announced_missing)
                up_notef("waiting for %s to appear (Ctrl-C to stop)", u.cfg.logdir);
            announced_missing = true;
            for (long long s = 0; s < u.cfg.poll_interval * 10 && !stop_flag; s++)
                usleep(100000);
            continue;
        }
        struct tb_logdir *ld = NULL;
        int e = tb_logdir_scan(u.cfg.logdir, &ld);
        if (e < 0) {
            up_errorf("cannot read logdir '%s': %s", u.cfg.logdir, strerror(-e));
            rc = UP_EXIT_FAILURE;
            failed = true;
            break;
        }
        e = refresh(&u, ld);
        tb_logdir_free(ld);
        if (e < 0) {
            up_errorf("out of memory");
            rc = UP_EXIT_FAILURE;
            failed = true;
            break;
        }
        u.watching = false;
        int sent = send_all(&u, &batch, err, sizeof(err)), total = sent > 0 ? sent : 0;
        if (sent < 0) {
            if (sent == -EINTR)
                break;
            up_errorf("stopped: %s", err);
            rc = UP_EXIT_FAILURE;
            failed = true;
            break;
        }
        if (u.cfg.one_shot || stop_flag)
            break;
        if (total)
            announced_wait = false;
        u.watching = true;
        if (!announced_wait && !u.tty && u.cfg.common.verbose >= UP_NORMAL) {
            fprintf(stderr, "tbdev: up to date; watching %s for new data (Ctrl-C to stop)\n",
                    u.cfg.logdir);
            announced_wait = true;
        }
        progress(&u, false);
        for (long long s = 0; s < u.cfg.poll_interval * 10 && !stop_flag; s++) {
            usleep(100000);
            if (s % 10 == 9)
                progress(&u, false); /* the window's rate falls back to 0 while idle */
        }
    }
    tb_buf_done(&batch);
    if (u.cfg.common.verbose >= UP_NORMAL || failed)
        progress(&u, true);
    skipped_summary(&u);
    uint64_t done, all;
    tb_follow_totals(&u.fl, &done, &all);
    if (stop_flag || failed || done < all) {
        /* Whatever stopped it, what is stored stays: say how to go on. */
        fprintf(stderr,
                "tbdev: %severything sent is stored. Resume with: tbdev upload --logdir %s "
                "--experiment_id %s\n",
                stop_flag ? "stopped by request; " : "", u.cfg.logdir, u.exp_id);
    } else if (u.cfg.common.verbose >= UP_NORMAL) {
        fprintf(stderr, "tbdev: done. View your experiment at: %s\n", u.url);
    }
out:
    up_client_close(u.cl);
    free_files(&u);
    tb_arena_done(&u.arena);
    return rc;
}
