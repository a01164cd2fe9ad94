/* SPDX-License-Identifier: MIT */
/* `tbdev inspect`: a streaming, better `tensorboard --inspect`. */
#include "inspect.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "exitcode.h"
#include "json.h"
#include "logdir.h"
#include "map.h"
#include "opts.h"
#include "tfrecord.h"

#define ERRORS_KEPT 10000 /* problems listed in full; the rest are only counted */

struct cfg {
    const char *logdir;
    bool json;
};

static const struct tb_opt options[] = {
    {"logdir", 0, TB_OPT_STRING, offsetof(struct cfg, logdir), "DIR", NULL,
     "The logdir to read: every directory below it that holds an event file is a run."},
    {"json", 0, TB_OPT_FLAG, offsetof(struct cfg, json), NULL, NULL,
     "Print one JSON document on stdout instead of tables."},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: tbdev inspect --logdir DIR [--json]\n\n"
               "Reads every event file under DIR, as TensorBoard would, and reports for each run\n"
               "and tag: its kind (scalar, tensor, blob_sequence), plugin, number of values,\n"
               "first and last step, and first and last wall time; then totals, and every\n"
               "problem found (corrupt or truncated records, bad values), with file and offset.\n"
               "Nothing is uploaded and nothing is written.\n\nOptions:\n");
    tb_opts_help(f, options, sizeof(options) / sizeof(options[0]));
    fprintf(f,
            "\nExit status: 0 when the logdir was read, even with problems in it;\n"
            "%d when it cannot be read at all; %d on a usage error.\n",
            UP_EXIT_FAILURE, UP_EXIT_USAGE);
}

struct tag_stats {
    const char *tag; /* the map's copy of the key */
    char *plugin;
    enum tb_kind kind;
    int dtype; /* for tensors, the first value's dtype */
    uint64_t count;
    int64_t min_step, max_step, first_step, last_step;
    double first_wall, last_wall;
};

struct file_stats {
    const char *path;
    uint64_t bytes, records, end_offset;
};

struct run_stats {
    struct tb_map tags;
    uint64_t records, values, bytes;
    uint64_t n_file_version, n_summary, n_graph_def, n_meta_graph_def, n_run_metadata;
    uint64_t n_session_start, n_session_stop, n_session_checkpoint, n_log_message, n_other;
    const char *file_version; /* last one seen; points into versions[] */
    char versions[64];
};

struct problem_entry {
    char *path;
    struct tb_problem p;
};

struct state {
    struct cfg cfg;
    struct tb_arena arena;
    struct problem_entry *problems;
    size_t n_problems, cap_problems;
    uint64_t problems_total;
    uint64_t tot_runs, tot_files, tot_tags, tot_values, tot_records, tot_bytes;
    bool tty;
    double last_progress;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void add_problem(struct state *s, const char *path, const struct tb_problem *p)
{
    s->problems_total++;
    if (s->n_problems >= ERRORS_KEPT)
        return;
    if (s->n_problems == s->cap_problems) {
        size_t cap = s->cap_problems ? 2 * s->cap_problems : 16;
        void *np = realloc(s->problems, cap * sizeof(*s->problems));
        if (!np)
            return;
        s->problems = np;
        s->cap_problems = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return;
    s->problems[s->n_problems++] = (struct problem_entry){copy, *p};
}

/* Says where a decoding problem is: the decoder does not know the record's offset. */
static void at_record(struct tb_problem *p, uint64_t offset)
{
    char msg[sizeof(p->message)];
    snprintf(msg, sizeof(msg), "%s", p->message);
    p->offset = offset;
    snprintf(p->message, sizeof(p->message), "record at offset %llu: %.200s",
             (unsigned long long)offset, msg);
}

static void count_value(struct state *s, struct run_stats *rs, const struct tb_event *ev,
                        const struct tb_value *v, const char *path, uint64_t offset)
{
    struct tag_stats *t = tb_map_get(&rs->tags, v->tag);
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t || tb_map_put(&rs->tags, v->tag, t) < 0) {
            free(t);
            return;
        }
        t->tag = NULL; /* filled when printing from the map's key */
        t->plugin = strdup(v->plugin_name);
        t->kind = v->kind;
        t->dtype = v->tensor.dtype;
        t->min_step = t->max_step = t->first_step = ev->step;
        t->first_wall = ev->wall_time;
    } else if (t->kind != v->kind || strcmp(t->plugin ? t->plugin : "", v->plugin_name)) {
        struct tb_problem p;
        tb_problem_set(&p, TB_PROBLEM_BAD_VALUE, offset, 0, EINVAL,
                       "record at offset %llu: tag '%.64s' was %s/%s and is now %s/%s at step "
                       "%lld; counted with the first",
                       (unsigned long long)offset, v->tag, tb_kind_name(t->kind),
                       t->plugin ? t->plugin : "", tb_kind_name(v->kind), v->plugin_name,
                       (long long)ev->step);
        add_problem(s, path, &p);
    }
    t->count++;
    if (ev->step < t->min_step)
        t->min_step = ev->step;
    if (ev->step > t->max_step)
        t->max_step = ev->step;
    t->last_step = ev->step;
    t->last_wall = ev->wall_time;
    rs->values++;
}

static void read_file(struct state *s, struct run_stats *rs, const struct tb_logdir_file *f,
                      struct file_stats *fs, struct tb_meta_cache *meta)
{
    struct tb_tfrecord_reader *r = NULL;
    struct tb_problem p = {0};
    fs->path = f->path;
    fs->bytes = f->size;
    int err = tb_tfrecord_open(f->path, 0, 0, &r);
    if (err < 0) {
        tb_problem_set(&p, TB_PROBLEM_IO, 0, 0, -err, "cannot open: %s", strerror(-err));
        add_problem(s, f->path, &p);
        return;
    }
    for (;;) {
        struct tb_record rec;
        int n = tb_tfrecord_next(r, &rec, &p);
        if (n == 0)
            break;
        if (n < 0) {
            add_problem(s, f->path, &p);
            if (p.kind == TB_PROBLEM_IO)
                break;
            continue;
        }
        fs->records++;
        rs->records++;
        struct tb_event ev;
        tb_arena_reset(&s->arena);
        err = tb_event_decode(rec.data, rec.len, &s->arena, &ev, &p);
        if (err < 0) {
            at_record(&p, rec.offset);
            add_problem(s, f->path, &p);
            continue;
        }
        tb_meta_cache_apply(meta, &ev, &s->arena, &p); /* a tag's first metadata, as TensorBoard */
        if (ev.n_bad_values) {
            at_record(&p, rec.offset);
            add_problem(s, f->path, &p);
        }
        switch (ev.kind) {
        case TB_EVENT_FILE_VERSION:
            rs->n_file_version++;
            snprintf(rs->versions, sizeof(rs->versions), "%s", ev.file_version);
            rs->file_version = rs->versions;
            break;
        case TB_EVENT_SUMMARY:
            rs->n_summary++;
            for (size_t i = 0; i < ev.n_values; i++)
                count_value(s, rs, &ev, &ev.values[i], f->path, rec.offset);
            break;
        case TB_EVENT_GRAPH_DEF:
        case TB_EVENT_META_GRAPH_DEF:
        case TB_EVENT_TAGGED_RUN_METADATA:
            /* The counting rule (README): a graph event is a value of its tag, as the server
             * stores it and the upload and list count it. */
            if (ev.kind == TB_EVENT_GRAPH_DEF)
                rs->n_graph_def++;
            else if (ev.kind == TB_EVENT_META_GRAPH_DEF)
                rs->n_meta_graph_def++;
            else
                rs->n_run_metadata++;
            for (size_t i = 0; i < ev.n_values; i++)
                count_value(s, rs, &ev, &ev.values[i], f->path, rec.offset);
            break;
        case TB_EVENT_SESSION_LOG:
            if (ev.session_status == TENSORBOARD__SESSION_LOG__SESSION_STATUS__START)
                rs->n_session_start++;
            else if (ev.session_status == TENSORBOARD__SESSION_LOG__SESSION_STATUS__STOP)
                rs->n_session_stop++;
            else
                rs->n_session_checkpoint++;
            break;
        case TB_EVENT_LOG_MESSAGE:
            rs->n_log_message++;
            break;
        default:
            rs->n_other++;
            break;
        }
        if (s->tty && (fs->records & 0xffff) == 0 && now() - s->last_progress > 0.5) {
            s->last_progress = now();
            fprintf(stderr, "\r\033[Kreading %s: %llu of %llu MB", f->name,
                    (unsigned long long)(tb_tfrecord_offset(r) >> 20),
                    (unsigned long long)(f->size >> 20));
        }
    }
    uint64_t tail_bytes = 0;
    enum tb_problem_kind tail = tb_tfrecord_tail(r, &tail_bytes);
    fs->end_offset = tb_tfrecord_offset(r);
    if (tail == TB_PROBLEM_TRUNCATED) {
        tb_problem_set(&p, TB_PROBLEM_TRUNCATED, fs->end_offset, tail_bytes, EBADMSG,
                       "the file ends inside a record: %llu bytes at offset %llu are not a whole "
                       "record (still being written, or cut short)",
                       (unsigned long long)tail_bytes, (unsigned long long)fs->end_offset);
        add_problem(s, f->path, &p);
    } else if (tail == TB_PROBLEM_LENGTH_CRC || tail == TB_PROBLEM_TOO_LARGE) {
        tb_problem_set(&p, tail, fs->end_offset, tail_bytes, EBADMSG,
                       "%s at offset %llu, and no good record follows in the %llu bytes after it "
                       "(%s)",
                       tail == TB_PROBLEM_TOO_LARGE ? "a record claims more bytes than the cap"
                                                    : "a record header fails its length CRC",
                       (unsigned long long)fs->end_offset, (unsigned long long)tail_bytes,
                       tail == TB_PROBLEM_TOO_LARGE ? "a corrupt header, or a record too large "
                                                      "to read"
                                                    : "corrupt bytes at the end of the file");
        add_problem(s, f->path, &p);
    } else if (tail == TB_PROBLEM_ZERO_FILLED) {
        tb_problem_set(&p, TB_PROBLEM_ZERO_FILLED, fs->end_offset, tail_bytes, EBADMSG,
                       "%llu zero bytes from offset %llu to the end of the file where records "
                       "should be (a hole a network filesystem can leave, or data not written "
                       "yet)",
                       (unsigned long long)tail_bytes, (unsigned long long)fs->end_offset);
        add_problem(s, f->path, &p);
    }
    tb_tfrecord_close(r);
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp((*(struct tag_stats *const *)a)->tag, (*(struct tag_stats *const *)b)->tag);
}

static void fmt_time(char *buf, size_t size, double t)
{
    time_t secs = (time_t)t;
    struct tm tm;
    if (t < -1e15 || t > 1e15 || !gmtime_r(&secs, &tm)) {
        snprintf(buf, size, "%.3f", t);
        return;
    }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void human_size(char *buf, size_t size, uint64_t n)
{
    if (n < 1024)
        snprintf(buf, size, "%llu B", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, size, "%.1f KiB", n / 1024.0);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(buf, size, "%.1f MiB", n / 1048576.0);
    else
        snprintf(buf, size, "%.2f GiB", n / 1073741824.0);
}

/* Writes a run as JSON into out, or as a table on stdout. */
static void emit_run(struct state *s, struct tb_json *j, const struct tb_logdir_run *run,
                     struct run_stats *rs, struct file_stats *fs, struct tag_stats **tags,
                     size_t n_tags)
{
    if (s->cfg.json) {
        tb_json_obj_open(j);
        tb_json_key(j, "name");
        tb_json_str(j, run->name);
        tb_json_key(j, "files");
        tb_json_arr_open(j);
        for (size_t i = 0; i < run->n_files; i++) {
            tb_json_obj_open(j);
            tb_json_key(j, "path");
            tb_json_str(j, fs[i].path);
            tb_json_key(j, "bytes");
            tb_json_uint(j, fs[i].bytes);
            tb_json_key(j, "records");
            tb_json_uint(j, fs[i].records);
            tb_json_key(j, "end_offset");
            tb_json_uint(j, fs[i].end_offset);
            tb_json_obj_close(j);
        }
        tb_json_arr_close(j);
        tb_json_key(j, "events");
        tb_json_obj_open(j);
        const struct {
            const char *k;
            uint64_t v;
        } ev[] = {{"file_version", rs->n_file_version},
                  {"summary", rs->n_summary},
                  {"graph_def", rs->n_graph_def},
                  {"meta_graph_def", rs->n_meta_graph_def},
                  {"tagged_run_metadata", rs->n_run_metadata},
                  {"session_log_start", rs->n_session_start},
                  {"session_log_stop", rs->n_session_stop},
                  {"session_log_checkpoint", rs->n_session_checkpoint},
                  {"log_message", rs->n_log_message},
                  {"other", rs->n_other}};
        for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
            tb_json_key(j, ev[i].k);
            tb_json_uint(j, ev[i].v);
        }
        tb_json_obj_close(j);
        tb_json_key(j, "file_version");
        tb_json_str(j, rs->file_version);
        tb_json_key(j, "records");
        tb_json_uint(j, rs->records);
        tb_json_key(j, "values");
        tb_json_uint(j, rs->values);
        tb_json_key(j, "tags");
        tb_json_arr_open(j);
        for (size_t i = 0; i < n_tags; i++) {
            const struct tag_stats *t = tags[i];
            tb_json_obj_open(j);
            tb_json_key(j, "tag");
            tb_json_str(j, t->tag);
            tb_json_key(j, "plugin");
            tb_json_str(j, t->plugin ? t->plugin : "");
            tb_json_key(j, "kind");
            tb_json_str(j, tb_kind_name(t->kind));
            if (t->kind == TB_KIND_TENSOR && t->dtype) {
                tb_json_key(j, "dtype");
                tb_json_str(j, tb_dtype_name(t->dtype));
            }
            tb_json_key(j, "count");
            tb_json_uint(j, t->count);
            tb_json_key(j, "min_step");
            tb_json_int(j, t->min_step);
            tb_json_key(j, "max_step");
            tb_json_int(j, t->max_step);
            tb_json_key(j, "first_step");
            tb_json_int(j, t->first_step);
            tb_json_key(j, "last_step");
            tb_json_int(j, t->last_step);
            tb_json_key(j, "first_wall_time");
            tb_json_double(j, t->first_wall);
            tb_json_key(j, "last_wall_time");
            tb_json_double(j, t->last_wall);
            tb_json_obj_close(j);
        }
        tb_json_arr_close(j);
        tb_json_obj_close(j);
        return;
    }
    char size[32];
    uint64_t bytes = 0;
    for (size_t i = 0; i < run->n_files; i++)
        bytes += fs[i].bytes;
    human_size(size, sizeof(size), bytes);
    printf("Run %s: %zu file%s, %s, %llu records\n", run->name, run->n_files,
           run->n_files == 1 ? "" : "s", size, (unsigned long long)rs->records);
    if (n_tags)
        printf("  %-36s %-13s %-16s %8s %21s  %s\n", "tag", "kind", "plugin", "values", "steps",
               "wall time (UTC)");
    for (size_t i = 0; i < n_tags; i++) {
        const struct tag_stats *t = tags[i];
        char steps[48], w0[32], w1[32];
        snprintf(steps, sizeof(steps), "%lld..%lld", (long long)t->min_step,
                 (long long)t->max_step);
        fmt_time(w0, sizeof(w0), t->first_wall);
        fmt_time(w1, sizeof(w1), t->last_wall);
        printf("  %-36s %-13s %-16s %8llu %21s  %s .. %s\n", t->tag, tb_kind_name(t->kind),
               t->plugin && *t->plugin ? t->plugin : "-", (unsigned long long)t->count, steps, w0,
               w1);
    }
    char other[256] = "";
    size_t o = 0;
#define OTHER(n, label)                                                                            \
    if (n && o < sizeof(other))                                                                    \
        o += (size_t)snprintf(other + o, sizeof(other) - o, "%s%s %llu", o ? ", " : "", label,     \
                              (unsigned long long)(n));
    OTHER(rs->n_graph_def, "graph_def");
    OTHER(rs->n_meta_graph_def, "meta_graph_def");
    OTHER(rs->n_run_metadata, "tagged_run_metadata");
    OTHER(rs->n_session_start, "session_log START");
    OTHER(rs->n_session_stop, "session_log STOP");
    OTHER(rs->n_session_checkpoint, "session_log CHECKPOINT");
    OTHER(rs->n_log_message, "log_message");
#undef OTHER
    if (o)
        printf("  other events: %s\n", other);
    printf("\n");
}

static void do_run(struct state *s, struct tb_json *j, const struct tb_logdir_run *run)
{
    struct run_stats rs = {0};
    tb_map_init(&rs.tags);
    struct file_stats *fs = calloc(run->n_files ? run->n_files : 1, sizeof(*fs));
    if (!fs)
        goto out;
    struct tb_meta_cache meta;
    tb_meta_cache_init(&meta);
    for (size_t i = 0; i < run->n_files; i++) {
        read_file(s, &rs, &run->files[i], &fs[i], &meta);
        rs.bytes += fs[i].bytes;
    }
    tb_meta_cache_done(&meta);
    struct tag_stats **tags = calloc(rs.tags.len ? rs.tags.len : 1, sizeof(*tags));
    size_t n = 0;
    if (!tags)
        goto out;
    for (size_t i = 0; i < rs.tags.cap; i++)
        if (rs.tags.slots[i].key) {
            struct tag_stats *t = rs.tags.slots[i].value;
            t->tag = rs.tags.slots[i].key;
            tags[n++] = t;
        }
    qsort(tags, n, sizeof(*tags), cmp_tag);
    emit_run(s, j, run, &rs, fs, tags, n);
    s->tot_runs++;
    s->tot_files += run->n_files;
    s->tot_tags += n;
    s->tot_values += rs.values;
    s->tot_records += rs.records;
    s->tot_bytes += rs.bytes;
    for (size_t i = 0; i < n; i++) {
        free(tags[i]->plugin);
        free(tags[i]);
    }
    free(tags);
out:
    free(fs);
    tb_map_done(&rs.tags);
}

static void flush_json(struct tb_buf *out)
{
    fwrite(out->data, 1, out->len, stdout);
    tb_buf_reset(out);
}

int up_inspect_main(int argc, char **argv)
{
    struct state s = {0};
    char err[256] = "";
    int optind_ = 0;
    int rc = tb_opts_parse(options, sizeof(options) / sizeof(options[0]), argc, argv, &s.cfg,
                           &optind_, err, sizeof(err));
    if (rc == 1) {
        usage(stdout);
        return UP_EXIT_OK;
    }
    if (rc < 0 || optind_ < argc || !s.cfg.logdir) {
        fprintf(stderr, "tbdev inspect: %s\n",
                rc < 0           ? err
                : optind_ < argc ? "unexpected argument; give the logdir with --logdir DIR"
                                 : "missing --logdir DIR (the folder your training writes to)");
        fprintf(stderr, "Run 'tbdev inspect --help' for usage.\n");
        return UP_EXIT_USAGE;
    }
    struct tb_logdir *ld = NULL;
    rc = tb_logdir_scan(s.cfg.logdir, &ld);
    if (rc < 0) {
        fprintf(stderr, "tbdev inspect: cannot read logdir '%s': %s\n", s.cfg.logdir,
                rc == -ENOENT    ? "no such directory"
                : rc == -ENOTDIR ? "not a directory (give the folder that holds the runs)"
                                 : strerror(-rc));
        return UP_EXIT_FAILURE;
    }
    s.tty = isatty(STDERR_FILENO);
    tb_arena_init(&s.arena, 0);
    for (size_t i = 0; i < ld->n_problems; i++)
        add_problem(&s, ld->problems[i].path, &ld->problems[i].problem);
    s.problems_total += ld->problems_total - ld->n_problems; /* found but not listed */

    struct tb_buf out;
    tb_buf_init(&out, 0);
    struct tb_json j;
    tb_json_init(&j, &out);
    if (s.cfg.json) {
        tb_json_obj_open(&j);
        tb_json_key(&j, "logdir");
        tb_json_str(&j, s.cfg.logdir);
        tb_json_key(&j, "runs");
        tb_json_arr_open(&j);
    } else if (!ld->n_runs) {
        printf("No event files found under %s.\n"
               "A run is a directory that holds a file whose name contains 'tfevents'; check\n"
               "that --logdir points at the folder your training writes to.\n\n",
               s.cfg.logdir);
    }
    for (size_t i = 0; i < ld->n_runs; i++) {
        do_run(&s, &j, &ld->runs[i]);
        if (s.cfg.json)
            flush_json(&out); /* stream run by run */
    }
    if (s.tty)
        fprintf(stderr, "\r\033[K");
    if (s.cfg.json) {
        tb_json_arr_close(&j);
        tb_json_key(&j, "totals");
        tb_json_obj_open(&j);
        tb_json_key(&j, "runs");
        tb_json_uint(&j, s.tot_runs);
        tb_json_key(&j, "files");
        tb_json_uint(&j, s.tot_files);
        tb_json_key(&j, "tags");
        tb_json_uint(&j, s.tot_tags);
        tb_json_key(&j, "values");
        tb_json_uint(&j, s.tot_values);
        tb_json_key(&j, "records");
        tb_json_uint(&j, s.tot_records);
        tb_json_key(&j, "bytes");
        tb_json_uint(&j, s.tot_bytes);
        tb_json_key(&j, "errors");
        tb_json_uint(&j, s.problems_total);
        tb_json_obj_close(&j);
        tb_json_key(&j, "errors");
        tb_json_arr_open(&j);
        for (size_t i = 0; i < s.n_problems; i++) {
            tb_json_obj_open(&j);
            tb_json_key(&j, "file");
            tb_json_str(&j, s.problems[i].path);
            tb_json_key(&j, "offset");
            tb_json_uint(&j, s.problems[i].p.offset);
            tb_json_key(&j, "length");
            tb_json_uint(&j, s.problems[i].p.length);
            tb_json_key(&j, "kind");
            tb_json_str(&j, tb_problem_kind_name(s.problems[i].p.kind));
            tb_json_key(&j, "message");
            tb_json_str(&j, s.problems[i].p.message);
            tb_json_obj_close(&j);
        }
        tb_json_arr_close(&j);
        tb_json_obj_close(&j);
        tb_buf_addc(&out, '\n');
        flush_json(&out);
    } else {
        char size[32];
        human_size(size, sizeof(size), s.tot_bytes);
        printf("Total: %llu runs, %llu tags, %llu values in %llu records, %llu files, %s\n",
               (unsigned long long)s.tot_runs, (unsigned long long)s.tot_tags,
               (unsigned long long)s.tot_values, (unsigned long long)s.tot_records,
               (unsigned long long)s.tot_files, size);
        if (s.problems_total) {
            printf("\n%llu problem%s:\n", (unsigned long long)s.problems_total,
                   s.problems_total == 1 ? "" : "s");
            for (size_t i = 0; i < s.n_problems; i++)
                printf("  %s @%llu [%s] %s\n", s.problems[i].path,
                       (unsigned long long)s.problems[i].p.offset,
                       tb_problem_kind_name(s.problems[i].p.kind), s.problems[i].p.message);
            if (s.problems_total > s.n_problems)
                printf("  ... and %llu more\n",
                       (unsigned long long)(s.problems_total - s.n_problems));
        } else {
            printf("No problems found.\n");
        }
    }
    int out_err = out.err;
    tb_buf_done(&out);
    for (size_t i = 0; i < s.n_problems; i++)
        free(s.problems[i].path);
    free(s.problems);
    tb_arena_done(&s.arena);
    tb_logdir_free(ld);
    if (fflush(stdout) != 0 || out_err) {
        fprintf(stderr, "tbdev inspect: writing the report failed\n");
        return UP_EXIT_FAILURE;
    }
    return UP_EXIT_OK;
}
