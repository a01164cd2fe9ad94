/* SPDX-License-Identifier: MIT */
/* `tbdev-server copy`: a whole installation into another database, resumable, verified. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "copy.h"
#include "json.h"
#include "tblimits.h"

/* The schema of both backends (store_sqlite.c version 4, store_pg.c version 2): columns
 * either has, in an order each table's references come first. */
/* clang-format off */
const struct svc_copy_table svc_copy_tables[] = {
    {"users",
     {"id", "name", "password_hash", "is_admin", "disabled", "created", "quota_bytes",
      "used_bytes"},
     "ittiidii", 8, 1},
    {"tokens",
     {"id", "user_id", "hash", "name", "prefix", "created", "last_used", "revoked", "expires"},
     "iibttdDDD", 9, 1},
    {"sessions",
     {"id", "hash", "user_id", "created", "expires", "client_ip", "user_agent"},
     "ibiddtt", 7, 1},
    {"device_codes",
     {"device_hash", "user_code", "expires", "user_id", "created", "client_ip", "client_version",
      "client_host"},
     "btdIdttt", 8, 1},
    {"experiments",
     {"id", "owner_id", "name", "description", "visibility", "created", "updated", "n_scalars",
      "n_tensors", "n_blobs", "bytes"},
     "tittiddiiii", 11, 1},
    {"shares", {"experiment_id", "user_id"}, "ti", 2, 2},
    {"runs", {"id", "experiment_id", "name", "bytes"}, "itti", 4, 1},
    {"files", {"run_id", "name", "cursor", "fp_len", "fp"}, "itiii", 5, 2},
    {"series",
     {"id", "run_id", "tag", "plugin", "display_name", "description", "data_class", "kind",
      "source", "dtype", "points", "min_step", "max_step"},
     "iittttiiiiiII", 13, 1},
    {"series_content", {"series_id", "content"}, "ib", 2, 1},
    {"scalar_chunks",
     {"series_id", "seq", "n", "min_step", "max_step", "sorted", "summary", "data"},
     "iiiiiibb", 8, 2},
    {"tensors",
     {"series_id", "seq", "step", "wall_time", "dtype", "shape", "data", "value_pb"},
     "iiiditbb", 8, 2},
    {"blob_points",
     {"series_id", "seq", "step", "wall_time", "meta", "shas", "value_pb"},
     "iiidtbb", 7, 2},
    {"blobs", {"sha", "size", "data"}, "bib", 3, 1},
    {"blob_owners", {"experiment_id", "sha"}, "tb", 2, 2},
    {"restarts", {"run_id", "seq", "step"}, "iii", 3, 2},
};
/* clang-format on */
const size_t svc_copy_n_tables = sizeof(svc_copy_tables) / sizeof(svc_copy_tables[0]);

/* --- the canonical encoding --- */

static void put_le64(uint8_t *p, uint64_t x)
{
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(x >> (8 * k));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int k = 0; k < 8; k++)
        x |= (uint64_t)p[k] << (8 * k);
    return x;
}

size_t svc_copy_value_encode(char type, const struct svc_copy_value *v, uint8_t *out)
{
    char ty = (char)(type | 0x20);
    if (v->null) {
        if (out)
            out[0] = 'N';
        return 1;
    }
    if (ty == 'i' || ty == 'd') {
        if (out) {
            uint64_t w;
            if (ty == 'i')
                w = (uint64_t)v->i;
            else
                memcpy(&w, &v->d, 8);
            out[0] = (uint8_t)ty;
            put_le64(out + 1, w);
        }
        return 9;
    }
    if (out) {
        out[0] = (uint8_t)ty;
        put_le64(out + 1, v->len);
        if (v->len)
            memcpy(out + 9, v->p, v->len);
    }
    return 9 + v->len;
}

void svc_copy_row_digest(struct svc_sha256_ctx *ctx, const struct svc_copy_table *t,
                         const struct svc_copy_value *row)
{
    for (unsigned i = 0; i < t->n_cols; i++) {
        uint8_t head[9];
        struct svc_copy_value v = row[i];
        char ty = (char)(t->types[i] | 0x20);
        if (ty == 't' || ty == 'b') {
            /* the header only, then the bytes as they are: no copy of a large value */
            size_t len = v.len;
            v.len = 0;
            svc_copy_value_encode(t->types[i], &v, head);
            if (!v.null)
                put_le64(head + 1, len);
            svc_sha256_add(ctx, head, v.null ? 1 : 9);
            if (!v.null)
                svc_sha256_add(ctx, row[i].p, len);
            continue;
        }
        svc_sha256_add(ctx, head, svc_copy_value_encode(t->types[i], &v, head));
    }
}

int svc_copy_key_encode(const struct svc_copy_table *t, const struct svc_copy_value *row,
                        uint8_t **ret, size_t *ret_len)
{
    size_t n = 0;
    for (unsigned i = 0; i < t->n_key; i++)
        n += svc_copy_value_encode(t->types[i], &row[i], NULL);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return -ENOMEM;
    size_t at = 0;
    for (unsigned i = 0; i < t->n_key; i++)
        at += svc_copy_value_encode(t->types[i], &row[i], p + at);
    *ret = p;
    *ret_len = n;
    return 0;
}

int svc_copy_key_decode(const struct svc_copy_table *t, const uint8_t *p, size_t len,
                        struct svc_copy_value *ret)
{
    size_t at = 0;
    struct svc_copy_value v[SVC_COPY_COLS_MAX];
    for (unsigned i = 0; i < t->n_key; i++) {
        char ty = (char)(t->types[i] | 0x20);
        memset(&v[i], 0, sizeof(v[i]));
        if (len - at < 9 || p[at] != (uint8_t)ty)
            return -EBADMSG; /* a NULL key, another type, or too short */
        uint64_t w = get_le64(p + at + 1);
        at += 9;
        if (ty == 'i') {
            v[i].i = (int64_t)w;
        } else if (ty == 'd') {
            memcpy(&v[i].d, &w, 8);
        } else {
            if (w > len - at)
                return -EBADMSG;
            v[i].p = p + at;
            v[i].len = (size_t)w;
            at += (size_t)w;
        }
    }
    if (at != len)
        return -EBADMSG;
    memcpy(ret, v, t->n_key * sizeof(*v));
    return 0;
}

/* --- the copy --- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool is_blobs(const struct svc_copy_table *t)
{
    return !strcmp(t->name, "blobs");
}

struct mark_state {
    uint8_t *key[32];
    size_t key_len[32];
    uint64_t rows[32];
    bool done[32];
    bool seen[32];
    char source[PATH_MAX + 512]; /* the source of the copy the destination holds */
    bool started;
};

static int on_mark(void *ctx, const struct svc_copy_mark *m)
{
    struct mark_state *ms = ctx;
    if (!m->table[0]) {
        snprintf(ms->source, sizeof(ms->source), "%.*s", (int)m->key_len, (const char *)m->key);
        ms->started = true;
        return 0;
    }
    for (size_t i = 0; i < svc_copy_n_tables; i++) {
        if (strcmp(svc_copy_tables[i].name, m->table))
            continue;
        ms->key[i] = malloc(m->key_len ? m->key_len : 1);
        if (!ms->key[i])
            return -ENOMEM;
        memcpy(ms->key[i], m->key, m->key_len);
        ms->key_len[i] = m->key_len;
        ms->rows[i] = m->rows;
        ms->done[i] = m->done;
        ms->seen[i] = true;
    }
    return 0;
}

struct copier {
    const struct svc_copy_options *o;
    struct svc_copy_result *r;
    const struct svc_copy_table *t;
    size_t ti;
    /* the batch: rows of values, each row's bytes in one block of its own */
    struct svc_copy_value *vals;
    void **blocks;
    size_t n, cap;   /* rows, and rows blocks has room for */
    size_t cap_vals; /* values vals has room for */
    size_t bytes;
    uint64_t total;      /* rows of this table in the destination, this batch included */
    uint64_t table_rows; /* the source's rows of this table (for the percentage) */
    double started, shown;
    int err;
};

static void batch_clear(struct copier *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->blocks[i]);
    c->n = 0;
    c->bytes = 0;
}

static void show_progress(struct copier *c, bool force)
{
    double now = mono_s();
    if (!c->o->progress || (!force && now - c->shown < 0.2))
        return;
    c->shown = now;
    double dt = now - c->started > 1e-6 ? now - c->started : 1e-6;
    uint64_t done = c->total > c->table_rows ? c->table_rows : c->total;
    fprintf(stderr, "\r\033[Kcopy: %s %llu/%llu rows (%.0f%%), %.0f rows/s, %.1f MB/s", c->t->name,
            (unsigned long long)done, (unsigned long long)c->table_rows,
            c->table_rows ? 100.0 * (double)done / (double)c->table_rows : 100.0,
            (double)c->r->rows / dt, (double)c->r->bytes / 1e6 / dt);
    fflush(stderr);
}

/* Puts a blob's bytes into the object store and reads them back: the row is written (without
 * its bytes) only once the object is known to hold them. */
static int put_object(struct copier *c, struct svc_copy_value *row)
{
    const struct svc_blobs *bs = c->o->blobs;
    char hex[65] = "?";
    if (row[0].len == 32)
        svc_hex32(row[0].p, hex);
    uint8_t got[32];
    svc_sha256(row[2].p ? (const void *)row[2].p : "", row[2].len, got);
    if (row[0].len != 32 || memcmp(got, row[0].p, 32) != 0 || row[1].i != (int64_t)row[2].len) {
        snprintf(c->r->error, sizeof(c->r->error),
                 "blob %s of the source does not hash to its name or size: the source is "
                 "damaged (check it with 'tbdev-server check')",
                 hex);
        return -EBADMSG;
    }
    int err =
        bs->ops->put(bs->store, row[0].p, row[2].p ? row[2].p : (const uint8_t *)"", row[2].len);
    uint8_t *back = NULL;
    size_t back_len = 0;
    if (!err)
        err = bs->ops->get(bs->store, row[0].p, row[2].len, &back, &back_len);
    if (!err) {
        svc_sha256(back ? (const void *)back : "", back_len, got);
        if (back_len != row[2].len || memcmp(got, row[0].p, 32) != 0)
            err = -EIO;
    }
    free(back);
    if (err < 0) {
        snprintf(c->r->error, sizeof(c->r->error),
                 "the object store did not keep blob %s (%zu bytes): %s", hex, row[2].len,
                 err == -EACCES  ? "it refused the credentials"
                 : err == -EIO   ? "what was read back differs, or the store failed"
                 : err == -EBUSY ? "it is unavailable or slow; run the copy again later"
                                 : strerror(-err));
        return err;
    }
    row[2].null = true;
    row[2].p = NULL;
    row[2].len = 0;
    return 0;
}

static int flush(struct copier *c, bool done)
{
    const struct svc_copy_table *t = c->t;
    int err = 0;
    for (size_t i = 0; c->o->blobs && is_blobs(t) && i < c->n && !err; i++)
        if (!c->vals[i * t->n_cols + 2].null)
            err = put_object(c, c->vals + i * t->n_cols);
    uint8_t *key = NULL;
    size_t key_len = 0;
    if (!err && c->n)
        err = svc_copy_key_encode(t, c->vals + (c->n - 1) * t->n_cols, &key, &key_len);
    if (!err) {
        struct svc_copy_mark m = {
            .table = t->name, .key = key, .key_len = key_len, .rows = c->total, .done = done};
        err = c->o->to_ops->rows_write(c->o->to, t, c->vals, c->n, c->n || done ? &m : NULL);
        if (err < 0 && !c->r->error[0])
            snprintf(c->r->error, sizeof(c->r->error),
                     "writing %zu rows of %s into the destination failed (%s); the log above "
                     "says why",
                     c->n, t->name, strerror(-err));
    }
    free(key);
    if (!err) {
        c->r->tables[c->ti].copied += c->n;
        batch_clear(c);
        show_progress(c, false);
    }
    return err;
}

static int on_source_row(void *ctx, const struct svc_copy_value *row)
{
    struct copier *c = ctx;
    const struct svc_copy_table *t = c->t;
    if ((c->n + 1) * t->n_cols > c->cap_vals) { /* tables differ in their columns */
        size_t cap = c->cap_vals ? 2 * c->cap_vals : 256 * SVC_COPY_COLS_MAX;
        while (cap < (c->n + 1) * t->n_cols)
            cap *= 2;
        struct svc_copy_value *nv = realloc(c->vals, cap * sizeof(*nv));
        if (!nv) {
            c->err = -ENOMEM;
            return 1;
        }
        c->vals = nv;
        c->cap_vals = cap;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        void **nb = realloc(c->blocks, cap * sizeof(*nb));
        if (!nb) {
            c->err = -ENOMEM;
            return 1;
        }
        c->blocks = nb;
        c->cap = cap;
    }
    size_t need = 0;
    for (unsigned i = 0; i < t->n_cols; i++)
        if (!row[i].null && ((t->types[i] | 0x20) == 't' || (t->types[i] | 0x20) == 'b'))
            need += row[i].len;
    uint8_t *block = malloc(need ? need : 1);
    if (!block) {
        c->err = -ENOMEM;
        return 1;
    }
    struct svc_copy_value *v = c->vals + c->n * t->n_cols;
    size_t at = 0;
    for (unsigned i = 0; i < t->n_cols; i++) {
        v[i] = row[i];
        char ty = (char)(t->types[i] | 0x20);
        if (!row[i].null && (ty == 't' || ty == 'b')) {
            if (row[i].len)
                memcpy(block + at, row[i].p, row[i].len);
            v[i].p = block + at;
            at += row[i].len;
        } else if (row[i].null && !(t->types[i] >= 'A' && t->types[i] <= 'Z')) {
            if (is_blobs(t))
                snprintf(c->r->error, sizeof(c->r->error),
                         "the source keeps blobs in an object store, which copy does not read: "
                         "copy from a database that holds its blobs");
            else
                snprintf(c->r->error, sizeof(c->r->error),
                         "table %s of the source has a NULL %s, which its schema does not allow",
                         t->name, t->cols[i]);
            free(block);
            c->err = -EBADMSG;
            return 1;
        }
    }
    c->blocks[c->n++] = block;
    c->bytes += need + 8 * t->n_cols;
    c->total++;
    c->r->rows++;
    c->r->bytes += need + 8 * t->n_cols;
    if (c->n >= TB_COPY_BATCH_ROWS || c->bytes >= TB_COPY_BATCH_BYTES) {
        int err = flush(c, false);
        if (err < 0) {
            c->err = err;
            return 1;
        }
    }
    return 0;
}

/* The destination is new, or holds a copy from this source (its marks), else -EEXIST. */
static int check_destination(const struct svc_copy_options *o, struct svc_copy_result *r,
                             struct mark_state *ms)
{
    int err = o->to_ops->copy_marks(o->to, on_mark, ms);
    if (err == -ENOENT) {
        for (size_t i = 0; i < svc_copy_n_tables; i++) {
            uint64_t n = 0;
            err = o->to_ops->rows_count(o->to, &svc_copy_tables[i], &n);
            if (err < 0)
                return err;
            if (n) {
                snprintf(r->error, sizeof(r->error),
                         "the destination already holds data (table %s has rows) that no copy "
                         "wrote: copy into a new, empty database (createdb), never into one a "
                         "server has used",
                         svc_copy_tables[i].name);
                return -EEXIST;
            }
        }
        return 0;
    }
    if (err < 0)
        return err;
    if (ms->started && strcmp(ms->source, o->from_name) != 0) {
        snprintf(
            r->error, sizeof(r->error),
            "the destination holds a copy from %.200s, not from %.200s: give that --from to go "
            "on with it, or copy into a new, empty database",
            ms->source, o->from_name);
        return -EEXIST;
    }
    r->resumed = ms->started;
    return 0;
}

static int copy_all(const struct svc_copy_options *o, struct svc_copy_result *r)
{
    if (!o->to_ops->rows_write || !o->to_ops->copy_marks) {
        snprintf(r->error, sizeof(r->error),
                 "the destination must be a PostgreSQL database (--to postgresql://...)");
        return -ENOTSUP;
    }
    struct mark_state ms = {0};
    int err = check_destination(o, r, &ms);
    if (!err && !ms.started) {
        struct svc_copy_mark m = {
            .table = "", .key = (const uint8_t *)o->from_name, .key_len = strlen(o->from_name)};
        err = o->to_ops->rows_write(o->to, &svc_copy_tables[0], NULL, 0, &m);
    }
    struct copier c = {.o = o, .r = r, .started = mono_s()};
    double t0 = mono_s();
    bool snap = false;
    if (!err)
        err = o->from_ops->rows_snapshot(o->from, true);
    snap = !err;
    for (size_t i = 0; i < svc_copy_n_tables && !err; i++) {
        const struct svc_copy_table *t = &svc_copy_tables[i];
        if (ms.done[i])
            continue;
        struct svc_copy_value after[SVC_COPY_COLS_MAX];
        bool resume = ms.seen[i] && ms.key_len[i] > 0;
        if (resume && svc_copy_key_decode(t, ms.key[i], ms.key_len[i], after) < 0) {
            snprintf(r->error, sizeof(r->error),
                     "the destination's mark of table %s is damaged: copy into a new, empty "
                     "database",
                     t->name);
            err = -EBADMSG;
            break;
        }
        c.t = t;
        c.ti = i;
        c.total = ms.rows[i];
        c.err = 0;
        if ((err = o->from_ops->rows_count(o->from, t, &c.table_rows)) < 0)
            break;
        err = o->from_ops->rows_read(o->from, t, resume ? after : NULL, on_source_row, &c);
        if (c.err)
            err = c.err;
        if (err >= 0)
            err = flush(&c, true);
        if (err < 0)
            break;
        show_progress(&c, true);
        if (o->progress)
            fputc('\n', stderr);
        if (o->log)
            fprintf(o->log, "copy: %s: %llu rows copied%s\n", t->name,
                    (unsigned long long)r->tables[i].copied,
                    ms.seen[i] ? " (continued from a copy stopped before)" : "");
    }
    batch_clear(&c);
    free(c.vals);
    free(c.blocks);
    if (snap)
        o->from_ops->rows_snapshot(o->from, false);
    if (!err && (err = o->to_ops->copy_finish(o->to)) < 0)
        snprintf(r->error, sizeof(r->error), "setting the destination's sequences failed (%s)",
                 strerror(-err));
    r->copy_s = mono_s() - t0;
    for (size_t i = 0; i < 32; i++)
        free(ms.key[i]);
    if (err < 0 && !r->error[0])
        snprintf(r->error, sizeof(r->error), "the copy failed: %s (the log above says where)",
                 err == -EPROTO ? "the schemas differ" : strerror(-err));
    return err;
}

/* --- verification --- */

struct digester {
    const struct svc_copy_options *o;
    const struct svc_copy_table *t;
    struct svc_sha256_ctx *sha;
    uint64_t rows, missing;
    bool dest;
    int err;
    char *error;
    size_t error_len;
};

static int on_digest_row(void *ctx, const struct svc_copy_value *row)
{
    struct digester *d = ctx;
    if (!is_blobs(d->t)) {
        svc_copy_row_digest(d->sha, d->t, row);
        d->rows++;
        return 0;
    }
    /* a blob counts as (sha, size, SHA-256 of its bytes), wherever the bytes are */
    struct svc_copy_value v[3] = {row[0], row[1], {0}};
    uint8_t content[32];
    uint8_t *data = NULL;
    size_t len = 0;
    const uint8_t *bytes = row[2].p;
    len = row[2].len;
    bool have = !row[2].null;
    if (!have && d->dest && d->o->blobs && row[0].len == 32) {
        const struct svc_blobs *bs = d->o->blobs;
        size_t max = row[1].i > 0 && (uint64_t)row[1].i < TB_COPY_BLOB_MAX ? (size_t)row[1].i
                                                                           : TB_COPY_BLOB_MAX;
        int err = bs->ops->get(bs->store, row[0].p, max, &data, &len);
        if (err == -EACCES || err == -EBUSY) {
            snprintf(d->error, d->error_len, "reading blobs back from the object store failed: %s",
                     err == -EACCES ? "it refused the credentials" : "it is unavailable");
            d->err = err;
            return 1;
        }
        have = err == 0;
        bytes = data;
    } else if (!have) {
        snprintf(d->error, d->error_len,
                 "the %s keeps blobs in an object store: give its --blob_store (and --s3_*)",
                 d->dest ? "destination" : "source");
        d->err = -EINVAL;
        return 1;
    }
    if (have) {
        svc_sha256(bytes ? (const void *)bytes : "", len, content);
        v[2].p = content;
        v[2].len = 32;
    } else {
        v[2].null = true; /* no object: differs from every source row */
        d->missing++;
    }
    free(data);
    svc_copy_row_digest(d->sha, d->t, v);
    d->rows++;
    return 0;
}

static int digest_table(const struct svc_copy_options *o, bool dest, const struct svc_copy_table *t,
                        uint64_t *ret_rows, uint8_t sha[32], uint64_t *ret_missing, char *error,
                        size_t error_len)
{
    struct digester d = {.o = o, .t = t, .dest = dest, .error = error, .error_len = error_len};
    d.sha = svc_sha256_new();
    if (!d.sha)
        return -ENOMEM;
    const struct svc_store_ops *ops = dest ? o->to_ops : o->from_ops;
    int err = ops->rows_read(dest ? o->to : o->from, t, NULL, on_digest_row, &d);
    if (d.err)
        err = d.err;
    svc_sha256_end(d.sha, sha);
    *ret_rows = d.rows;
    if (ret_missing)
        *ret_missing = d.missing;
    return err < 0 ? err : 0;
}

static int verify(const struct svc_copy_options *o, struct svc_copy_result *r)
{
    double t0 = mono_s();
    int err = o->from_ops->rows_snapshot(o->from, true);
    if (err < 0) {
        snprintf(r->error, sizeof(r->error), "cannot read the source (%s)", strerror(-err));
        return err;
    }
    if ((err = o->to_ops->rows_snapshot(o->to, true)) < 0) {
        o->from_ops->rows_snapshot(o->from, false);
        snprintf(r->error, sizeof(r->error), "cannot read the destination (%s)", strerror(-err));
        return err;
    }
    bool same = true;
    for (size_t i = 0; i < svc_copy_n_tables && !err; i++) {
        struct svc_copy_table_result *tr = &r->tables[i];
        const struct svc_copy_table *t = &svc_copy_tables[i];
        if (o->progress)
            fprintf(stderr, "\r\033[Kverify: %s", t->name);
        err =
            digest_table(o, false, t, &tr->src_rows, tr->src_sha, NULL, r->error, sizeof(r->error));
        if (!err)
            err = digest_table(o, true, t, &tr->dst_rows, tr->dst_sha, &tr->missing_objects,
                               r->error, sizeof(r->error));
        if (!err && (tr->src_rows != tr->dst_rows || memcmp(tr->src_sha, tr->dst_sha, 32)))
            same = false;
    }
    if (o->progress)
        fputs("\r\033[K", stderr);
    o->to_ops->rows_snapshot(o->to, false);
    o->from_ops->rows_snapshot(o->from, false);
    r->verify_s = mono_s() - t0;
    if (err < 0) {
        if (!r->error[0])
            snprintf(r->error, sizeof(r->error), "verification could not read the tables (%s)",
                     strerror(-err));
        return err;
    }
    r->verified = same;
    if (!same) {
        size_t at = (size_t)snprintf(r->error, sizeof(r->error), "%s",
                                     r->unfinished ? "the copy was stopped before it finished "
                                                     "(run it again without --verify_only), so "
                                                     "the destination differs in"
                                                   : "verification failed: the destination "
                                                     "differs in");
        for (size_t i = 0; i < r->n_tables && at < sizeof(r->error); i++) {
            const struct svc_copy_table_result *tr = &r->tables[i];
            if (tr->src_rows == tr->dst_rows && !memcmp(tr->src_sha, tr->dst_sha, 32))
                continue;
            at += (size_t)snprintf(r->error + at, sizeof(r->error) - at, " %s (%s)", tr->table,
                                   tr->src_rows != tr->dst_rows ? "row counts"
                                   : tr->missing_objects        ? "objects missing"
                                                                : "contents");
        }
        return -EBADMSG;
    }
    return 0;
}

int svc_copy_run(const struct svc_copy_options *o, struct svc_copy_result *r)
{
    memset(r, 0, sizeof(*r));
    r->n_tables = svc_copy_n_tables;
    for (size_t i = 0; i < svc_copy_n_tables; i++)
        r->tables[i].table = svc_copy_tables[i].name;
    if (!o->from_ops->rows_read || !o->to_ops->rows_read) {
        snprintf(r->error, sizeof(r->error), "this backend cannot be copied");
        return -ENOTSUP;
    }
    int err = o->verify_only ? 0 : copy_all(o, r);
    if (!err && o->verify_only) {
        struct mark_state ms = {0};
        int m = o->to_ops->copy_marks ? o->to_ops->copy_marks(o->to, on_mark, &ms) : -ENOENT;
        for (size_t i = 0; i < 32; i++)
            free(ms.key[i]);
        if (m == 0 && ms.started && strcmp(ms.source, o->from_name) != 0) {
            snprintf(r->error, sizeof(r->error),
                     "the destination holds a copy from %.200s, not %.200s", ms.source,
                     o->from_name);
            return -EEXIST;
        }
        bool finished = true;
        for (size_t i = 0; i < svc_copy_n_tables; i++)
            finished = finished && ms.done[i];
        if (m == 0 && ms.started && !finished)
            r->unfinished = true;
    }
    if (!err)
        err = verify(o, r);
    return err;
}

/* --- the report --- */

void svc_copy_report(FILE *f, const struct svc_copy_result *r, bool json, int rc, const char *from,
                     const char *to)
{
    double rate = r->copy_s > 0 ? (double)r->rows / r->copy_s : 0;
    double mbs = r->copy_s > 0 ? (double)r->bytes / 1e6 / r->copy_s : 0;
    if (json) {
        struct tb_buf b;
        tb_buf_init(&b, 0);
        struct tb_json j;
        tb_json_init(&j, &b);
        tb_json_obj_open(&j);
        tb_json_key(&j, "ok");
        tb_json_bool(&j, rc == 0);
        tb_json_key(&j, "from");
        tb_json_str(&j, from);
        tb_json_key(&j, "to");
        tb_json_str(&j, to);
        tb_json_key(&j, "resumed");
        tb_json_bool(&j, r->resumed);
        tb_json_key(&j, "rows_copied");
        tb_json_uint(&j, r->rows);
        tb_json_key(&j, "bytes_copied");
        tb_json_uint(&j, r->bytes);
        tb_json_key(&j, "copy_seconds");
        tb_json_double(&j, r->copy_s);
        tb_json_key(&j, "rows_per_s");
        tb_json_double(&j, rate);
        tb_json_key(&j, "mb_per_s");
        tb_json_double(&j, mbs);
        tb_json_key(&j, "verify_seconds");
        tb_json_double(&j, r->verify_s);
        tb_json_key(&j, "verified");
        tb_json_bool(&j, r->verified);
        if (rc != 0) {
            tb_json_key(&j, "error");
            tb_json_str(&j, r->error);
        }
        tb_json_key(&j, "tables");
        tb_json_arr_open(&j);
        for (size_t i = 0; i < r->n_tables; i++) {
            const struct svc_copy_table_result *t = &r->tables[i];
            char a[65], b2[65];
            svc_hex32(t->src_sha, a);
            svc_hex32(t->dst_sha, b2);
            tb_json_obj_open(&j);
            tb_json_key(&j, "table");
            tb_json_str(&j, t->table);
            tb_json_key(&j, "copied");
            tb_json_uint(&j, t->copied);
            tb_json_key(&j, "source_rows");
            tb_json_uint(&j, t->src_rows);
            tb_json_key(&j, "dest_rows");
            tb_json_uint(&j, t->dst_rows);
            tb_json_key(&j, "source_sha256");
            tb_json_str(&j, a);
            tb_json_key(&j, "dest_sha256");
            tb_json_str(&j, b2);
            tb_json_key(&j, "missing_objects");
            tb_json_uint(&j, t->missing_objects);
            tb_json_key(&j, "match");
            tb_json_bool(&j, t->src_rows == t->dst_rows && !memcmp(t->src_sha, t->dst_sha, 32));
            tb_json_obj_close(&j);
        }
        tb_json_arr_close(&j);
        tb_json_obj_close(&j);
        if (!b.err)
            fprintf(f, "%s\n", (const char *)b.data);
        tb_buf_done(&b);
        return;
    }
    if (r->rows || r->copy_s > 0)
        fprintf(f, "copied %llu rows (%.1f MB) in %.1f s: %.0f rows/s, %.1f MB/s%s\n",
                (unsigned long long)r->rows, (double)r->bytes / 1e6, r->copy_s, rate, mbs,
                r->resumed ? " (continuing a copy stopped before)" : "");
    if (r->verify_s > 0 || r->verified) {
        fprintf(f, "%-15s %12s %12s  %-16s  %-16s  %s\n", "table", "source rows", "dest rows",
                "source sha256", "dest sha256", "match");
        for (size_t i = 0; i < r->n_tables; i++) {
            const struct svc_copy_table_result *t = &r->tables[i];
            char a[65], b2[65];
            svc_hex32(t->src_sha, a);
            svc_hex32(t->dst_sha, b2);
            bool ok = t->src_rows == t->dst_rows && !memcmp(t->src_sha, t->dst_sha, 32);
            fprintf(f, "%-15s %12llu %12llu  %.16s  %.16s  %s", t->table,
                    (unsigned long long)t->src_rows, (unsigned long long)t->dst_rows, a, b2,
                    ok ? "ok" : "DIFFERS");
            if (t->missing_objects)
                fprintf(f, " (%llu objects missing)", (unsigned long long)t->missing_objects);
            fputc('\n', f);
        }
    }
    if (rc == 0)
        fprintf(f, "verified: every table of %s matches %s\n", to, from);
}
