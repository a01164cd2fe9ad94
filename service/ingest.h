/* SPDX-License-Identifier: MIT */
/* Ingest: groups of raw records of event files in, one transaction, exactly once by cursors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "arena.h"
#include "map.h"
#include "store.h"
#include "tbdev/v1/api.pb-c.h"

/*
 * Both ways data comes in go through here: POST .../events (svc_h_write_events, a thin
 * wrapper that unpacks the request, checks the caller's rate and answers), and the local mode
 * (local.c), which reads the logdir itself and hands over the records it read. The steps:
 *
 *     svc_ingest_init(&in, app, exp_id, bytes);   bytes: the request's size, for the caps
 *     svc_ingest_decode(&in, groups, n);          decodes every group into in.b
 *     svc_ingest_write(&in, owner_id, quota);     one transaction: in.b.groups[g] then says
 *                                                 what became of group g (committed, replay,
 *                                                 refused) and its cursor
 *     svc_ingest_done(&in);
 *
 * Memory (tblimits.h, "Ingest"): each record is decoded into `scratch`, reset for the next
 * one; what the batch keeps (names, tensor content, blobs, packed values) is copied into
 * `arena`, and the batch's arrays are counted against the same cap, which follows from
 * `bytes`. A request that unpacks its protobuf into in.arena.pb is counted there too.
 */

#define SVC_INGEST_PROBLEMS_PER_GROUP 20
#define SVC_INGEST_DROPS_PER_GROUP 32

/* Values of a group that were not stored, by reason ("plugin", "name", "kind", "too_large",
 * "bad_record", "bad_value") and tag or plugin name (in the arena). */
struct svc_ingest_drop {
    const char *reason, *name;
    uint64_t values;
};

struct svc_ingest {
    struct svc_app *app;
    const char *exp_id;      /* borrowed until svc_ingest_done */
    size_t bytes;            /* the request's size, which sets the caps */
    struct tb_arena arena;   /* what the batch keeps; capped by the request's size */
    struct tb_arena scratch; /* one record's decoding */
    size_t cap;              /* arena + extra: past this, 413 */
    size_t extra;            /* the batch's arrays (items, series, runs), malloc'd */
    struct svc_batch b;      /* the decoded groups; after svc_ingest_write, their outcome */
    /* per group g: problems[g * SVC_INGEST_PROBLEMS_PER_GROUP ...], n_problems[g] of them
     * (sentences for the client), and drops[g * SVC_INGEST_DROPS_PER_GROUP ...] likewise */
    char **problems;
    size_t *n_problems;
    struct svc_ingest_drop *drops;
    size_t *n_drops;
    /* set when svc_ingest_decode or svc_ingest_write fails: how to answer */
    int status;       /* 400, 409, 413 or 500 */
    const char *code; /* "bad_record", "too_large", "gap", "too_many"... */
    char message[512];
    /* internal to ingest.c: */
    size_t cap_runs, cap_series, cap_items;
    struct tb_map runs, series; /* name -> index + 1 */
    const char *plugins;        /* the allow-list, or "" */
    struct tb_map meta;         /* run name -> struct tb_meta_cache: a tag's first metadata */
    struct tb_map looked_up;    /* "run\x1ftag" already asked of the store */
    bool over;                  /* the kept part passed `cap` */
};

/* Prepares in for a request of `bytes` bytes of experiment exp_id (both borrowed). Allocates
 * nothing yet; svc_ingest_done must follow. */
void svc_ingest_init(struct svc_ingest *in, struct svc_app *app, const char *exp_id, size_t bytes);

/*
 * Decodes the groups (borrowed until svc_ingest_done; each group's run, file, offset, records,
 * end_offset and fingerprint as api.proto says) into in->b. A group with a bad run or file
 * name is refused on its own (in->b.groups[g].refused, a problem saying why); values the
 * server does not store are dropped and counted. Returns 0, or -1 with in->status, code and
 * message set: records that are not whole or fail their CRC (400), a record over the limit or
 * more decoded data than the request's size allows (413), out of memory (500).
 */
int svc_ingest_decode(struct svc_ingest *in, Tbdev__V1__RecordGroup *const *groups, size_t n);

/* The values the decoded groups would store. */
uint64_t svc_ingest_values(const struct svc_ingest *in);

/*
 * Writes the decoded batch in one transaction (the store's write_batch) for owner_id, within
 * quota bytes (0: none), and the runs and tags limits of the app's config (0: none). Returns 0,
 * or -errno: -ESTALE (a gap: in->b.gap_group starts past its cursor; status 409, code "gap"),
 * -EMLINK (a limit: 413 "too_many"), or a store error for svc_store_error (nothing stored).
 */
int svc_ingest_write(struct svc_ingest *in, int64_t owner_id, uint64_t quota);

/* Frees what in holds. Safe after a failed step, and after init alone. */
void svc_ingest_done(struct svc_ingest *in);
