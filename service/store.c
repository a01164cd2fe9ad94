/* SPDX-License-Identifier: MIT */
/* Backend-neutral storage: write_batch's exactly-once policy over a backend's primitives
 * (store.h, struct svc_wb_ops), and the choice of a backend from --db. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "log.h"
#include "store.h"
#include "tblimits.h"

bool svc_store_is_url(const char *db)
{
    return db && (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11));
}

void svc_store_shown(const char *db, char *out, size_t len)
{
    if (!len)
        return;
    db = db ? db : "";
    snprintf(out, len, "%s", db);
    if (!svc_store_is_url(db))
        return;
    const char *auth = strstr(db, "://") + 3;
    const char *at = strchr(auth, '@'), *colon = strchr(auth, ':');
    const char *slash = strchr(auth, '/');
    if (at && colon && colon < at && (!slash || at < slash))
        snprintf(out, len, "%.*s:***%s", (int)(colon - db), db, at);
    char *pw = strstr(out, "password=");
    if (pw) {
        pw += 9;
        size_t n = strcspn(pw, "&");
        char rest[1024];
        snprintf(rest, sizeof(rest), "%s", pw + n);
        snprintf(pw, len - (size_t)(pw - out), "***%s", rest);
    }
}

const struct svc_store_ops *svc_store_for(const char *db)
{
    if (svc_store_is_url(db)) {
#ifdef TBDEV_HAVE_LIBPQ
        return &svc_store_pg;
#else
        return NULL;
#endif
    }
    return &svc_store_sqlite;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A chunk waiting for chunks_add: its points stay in the series' buffer (which may move as it
 * grows, hence an offset), its seq is taken when it is cut, so that it sorts before a restart
 * that comes after it. */
struct pending_chunk {
    uint32_t series;
    size_t at, n;
    int64_t seq;
    struct svc_chunk_summary summary;
};

struct wb {
    const struct svc_wb_ops *p;
    struct svc_store *s;
    const struct svc_blobs *blobs;
    const char *exp;
    struct svc_batch *b;
    int64_t *run_ids;     /* 0 until locked or made */
    uint64_t *run_bytes;  /* what the batch charges each run (row by row) */
    uint64_t blob_bytes;  /* what it charges the experiment for blobs it did not own yet */
    int64_t seq, seq_end; /* the seqs reserved and not used yet: [seq, seq_end) */
    uint64_t n_scalars, n_tensors, n_blobs;
    /* per-series scalar buffers, cut into chunks */
    uint8_t **sbuf;
    size_t *sbuf_n, *sbuf_cap, *sbuf_cut; /* points, capacity, points already cut */
    int64_t *smin, *smax;
    uint64_t *spoints;
    struct pending_chunk *chunks;
    size_t n_chunks, cap_chunks;
};

static int next_seq(struct wb *w, int64_t *ret)
{
    if (w->seq == w->seq_end) {
        int64_t first;
        int err = w->p->seq_block(w->s, &first);
        if (err < 0)
            return err;
        w->seq = first;
        w->seq_end = first + SVC_SEQ_BLOCK;
    }
    *ret = w->seq++;
    return 0;
}

static int cmp_run_name(const void *a, const void *b, void *ctx)
{
    const char *const *runs = ctx;
    return strcmp(runs[*(const uint32_t *)a], runs[*(const uint32_t *)b]);
}

/* Locks or makes run r, checking the runs-per-experiment limit for a new one. */
static int take_run(struct wb *w, uint32_t r)
{
    if (w->run_ids[r])
        return 0;
    int err = w->p->run_lock(w->s, w->exp, w->b->runs[r], &w->run_ids[r]);
    if (err != -ENOENT)
        return err;
    if (w->b->max_runs) {
        uint64_t runs = 0;
        if ((err = w->p->run_count(w->s, w->exp, &runs)) < 0)
            return err;
        if (runs >= w->b->max_runs) {
            snprintf(w->b->limit_msg, sizeof(w->b->limit_msg),
                     "with run '%.80s' the experiment would have more than %llu runs, the "
                     "limit",
                     w->b->runs[r], (unsigned long long)runs);
            return -EMLINK;
        }
    }
    if ((err = w->p->run_add(w->s, w->exp, w->b->runs[r], &w->run_ids[r])) < 0)
        return err;
    w->run_bytes[r] += TB_QUOTA_ROW_BYTES + strlen(w->b->runs[r]);
    return 0;
}

/* The runs of the groups to store, locked (or made) in name order: every writer takes them in
 * the same order, so two never wait for each other's (PostgreSQL would call that a deadlock). */
static int take_runs(struct wb *w)
{
    struct svc_batch *b = w->b;
    uint32_t *order = calloc(b->n_runs ? b->n_runs : 1, sizeof(*order));
    bool *used = calloc(b->n_runs ? b->n_runs : 1, sizeof(*used));
    int err = 0;
    if (!order || !used) {
        err = -ENOMEM;
        goto out;
    }
    for (size_t g = 0; g < b->n_groups; g++)
        if (!b->groups[g].refused && b->groups[g].run < b->n_runs)
            used[b->groups[g].run] = true;
    size_t n = 0;
    for (uint32_t r = 0; r < b->n_runs; r++)
        if (used[r])
            order[n++] = r;
    qsort_r(order, n, sizeof(*order), cmp_run_name, (void *)b->runs);
    for (size_t i = 0; i < n && !err; i++)
        err = take_run(w, order[i]);
out:
    free(order);
    free(used);
    return err;
}

static int series_id(struct wb *w, uint32_t i, int64_t *ret)
{
    struct svc_series_def *d = &w->b->series[i];
    if (d->id) {
        *ret = d->id;
        return 0;
    }
    int err = take_run(w, d->run);
    if (err < 0)
        return err;
    int64_t rid = w->run_ids[d->run];
    int r = w->p->series_get(w->s, rid, d->tag, &d->id);
    if (r < 0)
        return r;
    if (r == 0) {
        if (w->b->max_tags) {
            uint64_t tags = 0;
            if ((err = w->p->tag_count(w->s, rid, &tags)) < 0)
                return err;
            if (tags >= w->b->max_tags) {
                snprintf(w->b->limit_msg, sizeof(w->b->limit_msg),
                         "with tag '%.60s' run '%.60s' would have more than %llu tags, the limit",
                         d->tag, w->b->runs[d->run], (unsigned long long)tags);
                return -EMLINK;
            }
        }
        if ((err = w->p->series_add(w->s, rid, d, &d->id)) < 0)
            return err;
        w->run_bytes[d->run] += TB_QUOTA_ROW_BYTES + strlen(d->tag) + strlen(d->plugin) +
                                d->plugin_content.len + strlen(d->display_name) +
                                strlen(d->description);
    }
    *ret = d->id;
    return 0;
}

/* Cuts series i's points not cut yet into chunks (their seqs taken now). */
static int cut_series(struct wb *w, uint32_t i)
{
    size_t n = w->sbuf_n[i];
    if (w->sbuf_cut[i] == n)
        return 0;
    int64_t sid;
    int err = series_id(w, i, &sid);
    if (err < 0)
        return err;
    for (size_t at = w->sbuf_cut[i]; at < n; at += SVC_SCALAR_CHUNK_POINTS) {
        size_t k = n - at < SVC_SCALAR_CHUNK_POINTS ? n - at : SVC_SCALAR_CHUNK_POINTS;
        if (w->n_chunks == w->cap_chunks) {
            size_t cap = w->cap_chunks ? 2 * w->cap_chunks : 64;
            void *nc = realloc(w->chunks, cap * sizeof(*w->chunks));
            if (!nc)
                return -ENOMEM;
            w->chunks = nc;
            w->cap_chunks = cap;
        }
        struct pending_chunk *c = &w->chunks[w->n_chunks];
        c->series = i;
        c->at = at;
        c->n = k;
        if ((err = next_seq(w, &c->seq)) < 0)
            return err;
        svc_chunk_summarize(w->sbuf[i] + at * SVC_SCALAR_POINT_BYTES, k, &c->summary);
        w->n_chunks++;
        w->run_bytes[w->b->series[i].run] +=
            TB_QUOTA_ROW_BYTES + k * SVC_SCALAR_POINT_BYTES + svc_chunk_summary_len(&c->summary);
    }
    w->sbuf_cut[i] = n;
    return 0;
}

/* Stores every chunk cut, in one call. */
static int store_chunks(struct wb *w)
{
    if (!w->n_chunks)
        return 0;
    struct svc_chunk_row *rows = calloc(w->n_chunks, sizeof(*rows));
    if (!rows)
        return -ENOMEM;
    for (size_t i = 0; i < w->n_chunks; i++) {
        const struct pending_chunk *c = &w->chunks[i];
        rows[i].series_id = w->b->series[c->series].id;
        rows[i].seq = c->seq;
        rows[i].n = c->n;
        rows[i].summary = &c->summary;
        rows[i].points = w->sbuf[c->series] + c->at * SVC_SCALAR_POINT_BYTES;
    }
    int err = w->p->chunks_add(w->s, rows, w->n_chunks);
    free(rows);
    return err;
}

static int cut_run(struct wb *w, uint32_t run)
{
    for (uint32_t i = 0; i < w->b->n_series; i++)
        if (w->b->series[i].run == run) {
            int err = cut_series(w, i);
            if (err < 0)
                return err;
        }
    return 0;
}

static int add_scalar(struct wb *w, const struct svc_item *it)
{
    uint32_t i = it->series;
    if (w->sbuf_n[i] == w->sbuf_cap[i]) {
        size_t cap = w->sbuf_cap[i] ? 2 * w->sbuf_cap[i] : 64;
        uint8_t *p = realloc(w->sbuf[i], cap * SVC_SCALAR_POINT_BYTES);
        if (!p)
            return -ENOMEM;
        w->sbuf[i] = p;
        w->sbuf_cap[i] = cap;
    }
    struct svc_scalar_point pt = {.step = it->step, .wall_time = it->wall_time, .value = it->value};
    svc_scalar_point_put(w->sbuf[i] + w->sbuf_n[i]++ * SVC_SCALAR_POINT_BYTES, &pt);
    w->n_scalars++;
    return 0;
}

static void note_step(struct wb *w, const struct svc_item *it)
{
    uint32_t i = it->series;
    if (!w->spoints[i]++) {
        w->smin[i] = w->smax[i] = it->step;
        return;
    }
    if (it->step < w->smin[i])
        w->smin[i] = it->step;
    if (it->step > w->smax[i])
        w->smax[i] = it->step;
}

static int add_tensor(struct wb *w, const struct svc_item *it)
{
    int64_t sid, seq;
    int err = series_id(w, it->series, &sid);
    if (err < 0 || (err = next_seq(w, &seq)) < 0)
        return err;
    w->n_tensors++;
    w->run_bytes[w->b->series[it->series].run] += TB_QUOTA_ROW_BYTES + it->x->data.len +
                                                  it->x->value_pb.len +
                                                  strlen(it->x->shape ? it->x->shape : "?");
    return w->p->tensor_add(w->s, sid, seq, it);
}

/* Writes a blob to the object store (with one). */
static int put_blob(const struct svc_blobs *bs, const uint8_t sha[32], const struct tb_bytes *d)
{
    int err = bs->ops->put(bs->store, sha, d->data ? d->data : (const uint8_t *)"", d->len);
    if (err < 0)
        svc_log_error("blob store: cannot write a blob of %zu bytes (%s)", d->len, strerror(-err));
    return err == -EACCES || err == -ENOENT ? -EIO : err;
}

static int add_blobs(struct wb *w, const struct svc_item *it)
{
    int64_t sid, seq;
    int err = series_id(w, it->series, &sid);
    if (err < 0)
        return err;
    for (size_t k = 0; k < it->x->n_blobs; k++) {
        const struct tb_bytes *d = &it->x->blobs[k];
        int flags =
            w->p->blob_ref(w->s, w->exp, it->x->shas[k],
                           w->blobs ? NULL : (d->data ? d->data : (const uint8_t *)""), d->len);
        if (flags < 0)
            return flags;
        if (flags & SVC_BLOB_NEW_OWNER)
            w->blob_bytes += TB_QUOTA_ROW_BYTES + d->len;
        /* Collected since it was written before the transaction: write it again, now that
         * this transaction holds its row (the collector skips a blob that is referenced). */
        if ((flags & SVC_BLOB_REWRITE) && w->blobs &&
            (err = put_blob(w->blobs, it->x->shas[k], d)) < 0)
            return err;
    }
    if ((err = next_seq(w, &seq)) < 0)
        return err;
    w->n_blobs++;
    w->run_bytes[w->b->series[it->series].run] += TB_QUOTA_ROW_BYTES +
                                                  strlen(it->x->meta ? it->x->meta : "{}") +
                                                  32 * it->x->n_blobs + it->x->value_pb.len;
    return w->p->blob_point_add(w->s, sid, seq, it);
}

static int add_restart(struct wb *w, const struct svc_item *it)
{
    /* Points of this run read before the restart must sort before it: cut them first. */
    int err = cut_run(w, it->run);
    if (err < 0 || (err = take_run(w, it->run)) < 0)
        return err;
    int64_t seq;
    if ((err = next_seq(w, &seq)) < 0)
        return err;
    int added = w->p->restart_add(w->s, w->run_ids[it->run], seq, it->step);
    if (added < 0)
        return added;
    if (added)
        w->run_bytes[it->run] += TB_QUOTA_ROW_BYTES;
    return 0;
}

static int write_group(struct wb *w, struct svc_group *g)
{
    if (g->refused)
        return 0; /* refused by ingest (a bad name): the other groups go on */
    int err = take_run(w, g->run);
    if (err < 0)
        return err;
    int64_t rid = w->run_ids[g->run];
    uint64_t cursor = 0;
    uint32_t fp_len = 0, fp = 0;
    int r = w->p->file_lock(w->s, rid, g->file, &cursor, &fp_len, &fp);
    if (r < 0)
        return r;
    bool new_file = r == 0;
    g->cursor = cursor;
    if (fp_len && g->fingerprint_len == fp_len && g->fingerprint != fp) {
        /* Another file under the same run and name: never append it from the old cursor. */
        g->refused = "file_changed";
        return 0;
    }
    if (g->offset < cursor) {
        /* Sent before and committed: acknowledge it, store nothing. */
        g->replay = true;
        return 0;
    }
    if (g->offset > cursor) {
        w->b->gap_group = (size_t)(g - w->b->groups);
        return -ESTALE;
    }
    for (size_t k = 0; k < g->n_items; k++) {
        const struct svc_item *it = &w->b->items[g->first_item + k];
        if (it->type != SVC_ITEM_RESTART)
            note_step(w, it);
        switch (it->type) {
        case SVC_ITEM_SCALAR:
            err = add_scalar(w, it);
            break;
        case SVC_ITEM_TENSOR:
            err = add_tensor(w, it);
            break;
        case SVC_ITEM_BLOBS:
            err = add_blobs(w, it);
            break;
        case SVC_ITEM_RESTART:
            err = add_restart(w, it);
            break;
        }
        if (err < 0)
            return err;
    }
    if ((err = w->p->file_set(w->s, rid, g->file, g->end_offset, g->fingerprint_len,
                              g->fingerprint)) < 0)
        return err;
    /* A file row costs the quota even when its group holds nothing (issue 12: 100,000 empty
     * groups with long names were free). */
    if (new_file)
        w->run_bytes[g->run] += TB_QUOTA_ROW_BYTES + strlen(g->file);
    g->cursor = g->end_offset;
    return 0;
}

/* Writes the blobs of the groups that may be stored to the object store, before the
 * transaction: the rows that refer to them are committed only once the bytes are safe. A blob
 * written for a batch that then fails (a replay, a gap, the quota) is unreferenced, and the
 * collector deletes it after the grace period. */
static int put_blobs_first(struct wb *w)
{
    const struct svc_batch *b = w->b;
    for (size_t g = 0; g < b->n_groups; g++) {
        const struct svc_group *gr = &b->groups[g];
        if (gr->refused)
            continue;
        for (size_t k = 0; k < gr->n_items; k++) {
            const struct svc_item *it = &b->items[gr->first_item + k];
            if (it->type != SVC_ITEM_BLOBS)
                continue;
            for (size_t j = 0; j < it->x->n_blobs; j++) {
                int there = w->p->blob_prepare
                                ? w->p->blob_prepare(w->s, it->x->shas[j], it->x->blobs[j].len)
                                : 0;
                if (there < 0)
                    return there;
                int err = there ? 0 : put_blob(w->blobs, it->x->shas[j], &it->x->blobs[j]);
                if (err < 0)
                    return err;
            }
        }
    }
    return 0;
}

static int write_all(struct wb *w, int64_t owner, uint64_t quota)
{
    struct svc_batch *b = w->b;
    int err = take_runs(w);
    bool stored = false;
    for (size_t g = 0; !err && g < b->n_groups; g++) {
        err = write_group(w, &b->groups[g]);
        if (!err && !b->groups[g].replay && !b->groups[g].refused)
            stored = true;
    }
    for (size_t i = 0; !err && i < b->n_series; i++)
        err = cut_series(w, (uint32_t)i);
    if (!err)
        err = store_chunks(w);
    for (size_t i = 0; !err && i < b->n_series; i++) {
        if (!w->spoints[i])
            continue;
        int64_t sid;
        if ((err = series_id(w, (uint32_t)i, &sid)) < 0)
            break;
        err = w->p->series_bump(w->s, sid, w->spoints[i], w->smin[i], w->smax[i]);
    }
    /* The quota charges what was stored, row by row (replays store nothing, so cost nothing). */
    b->bytes = w->blob_bytes;
    for (size_t r = 0; !err && r < b->n_runs; r++) {
        if (!w->run_bytes[r])
            continue;
        b->bytes += w->run_bytes[r];
        err = w->p->run_charge(w->s, w->run_ids[r], w->run_bytes[r]);
    }
    /* The user's row is the last taken: a conditional update, exact when other servers
     * charge the same user at the same time. */
    if (!err && b->bytes)
        err = w->p->user_charge(w->s, owner, b->bytes, quota);
    if (!err && stored)
        err = w->p->experiment_bump(w->s, w->exp, now_s(), w->n_scalars, w->n_tensors, w->n_blobs,
                                    b->bytes);
    return err;
}

int svc_store_write_batch(const struct svc_wb_ops *p, struct svc_store *s,
                          const struct svc_blobs *blobs, const char *exp, int64_t owner,
                          uint64_t quota, struct svc_batch *b)
{
    struct wb w = {.p = p, .s = s, .blobs = blobs && blobs->ops ? blobs : NULL, .exp = exp, .b = b};
    size_t ns = b->n_series ? b->n_series : 1;
    size_t nr = b->n_runs ? b->n_runs : 1;
    w.run_ids = calloc(nr, sizeof(*w.run_ids));
    w.run_bytes = calloc(nr, sizeof(*w.run_bytes));
    w.sbuf = calloc(ns, sizeof(*w.sbuf));
    w.sbuf_n = calloc(ns, sizeof(*w.sbuf_n));
    w.sbuf_cap = calloc(ns, sizeof(*w.sbuf_cap));
    w.sbuf_cut = calloc(ns, sizeof(*w.sbuf_cut));
    w.smin = calloc(ns, sizeof(*w.smin));
    w.smax = calloc(ns, sizeof(*w.smax));
    w.spoints = calloc(ns, sizeof(*w.spoints));
    int err = 0;
    if (!w.run_ids || !w.run_bytes || !w.sbuf || !w.sbuf_n || !w.sbuf_cap || !w.sbuf_cut ||
        !w.smin || !w.smax || !w.spoints) {
        err = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < b->n_series; i++)
        b->series[i].id = 0;
    b->bytes = 0;
    if (w.blobs && (err = put_blobs_first(&w)) < 0)
        goto out;
    if ((err = p->begin(s, exp)) < 0)
        goto out;
    err = p->end(s, write_all(&w, owner, quota));
out:
    if (err < 0)
        for (size_t i = 0; i < b->n_series; i++)
            b->series[i].id = 0;
    for (size_t i = 0; w.sbuf && i < ns; i++)
        free(w.sbuf[i]);
    free(w.sbuf);
    free(w.sbuf_n);
    free(w.sbuf_cap);
    free(w.sbuf_cut);
    free(w.smin);
    free(w.smax);
    free(w.spoints);
    free(w.chunks);
    free(w.run_ids);
    free(w.run_bytes);
    return err;
}
