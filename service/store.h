/* SPDX-License-Identifier: MIT */
/*
 * Storage: one table of operations (struct svc_store_ops), one file per backend: store_sqlite.c
 * (the embedded default) and store_pg.c (PostgreSQL, for several servers on one database).
 * The protocol policy of a write (replay and gap, quota, run and tag limits, chunking) is not
 * in a backend: store.c runs it over the primitives of struct svc_wb_ops, which each backend
 * provides (transactions, row locks and rows), so that both backends keep the same contract.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "event.h"

struct svc_blobs;

/*
 * Every operation returns 0 (or a count) on success and -errno on failure:
 *   -ENOENT  no such row (or not visible to the caller)
 *   -EEXIST  a unique name is taken
 *   -EBUSY   the database stayed locked past the busy timeout, or PostgreSQL gave up on a
 *            transaction (serialization failure, deadlock, lock timeout, lost connection):
 *            answer 503 with Retry-After; nothing of the transaction was kept
 *   -ENOSPC  the disk is full: answer 507
 *   -EDQUOT  the user's quota would be passed: answer 507
 *   -ESTALE  a write-events group starts past the file's cursor (a gap): answer 409
 *   -EMLINK  a batch would pass the runs-per-experiment or tags-per-run limit: answer 413
 *   -EIO     anything else the database reported (logged once by the backend)
 * Strings returned in structs are copied into the struct's fixed buffers or, where the struct
 * says so, allocated and freed with the struct's _done function.
 */

#define SVC_USER_NAME_MAX 64
#define SVC_EXP_ID_LEN 22
#define SVC_EXP_NAME_MAX 400    /* bytes: 100 characters of up to 4 bytes */
#define SVC_EXP_DESC_MAX 2400   /* bytes: 600 characters of up to 4 bytes */
#define SVC_LABEL_MAX 200       /* a token's label, a session's User-Agent */
#define SVC_DEVICE_FIELD_MAX 64 /* a device-login client's version and host name */

enum svc_visibility { SVC_VIS_UNLISTED = 1, SVC_VIS_PUBLIC = 2, SVC_VIS_PRIVATE = 3 };

struct svc_user {
    int64_t id;
    char name[SVC_USER_NAME_MAX + 1];
    bool disabled;
    bool is_admin;
    double created;
    uint64_t quota_bytes; /* 0: the server default */
    uint64_t used_bytes;
    char password_hash[256]; /* "" when the user has no password */
};

struct svc_token_info {
    int64_t id;
    int64_t user_id;
    char user[SVC_USER_NAME_MAX + 1];
    char name[SVC_LABEL_MAX + 1];
    char prefix[16]; /* the first characters of the token, to tell tokens apart */
    double created, last_used, revoked; /* revoked 0 when live */
    double expires;                     /* 0: never */
};

/* A browser session (the secret itself is never stored: its SHA-256 is). */
struct svc_session_info {
    int64_t id;
    int64_t user_id;
    char user[SVC_USER_NAME_MAX + 1];
    double created, expires;
    char client_ip[64];                 /* where it signed in from */
    char user_agent[SVC_LABEL_MAX + 1]; /* the browser's User-Agent then, cut short */
};

/* Who asked for a device-login code: shown on the approval page, and in the label of the
 * token it becomes. Every field comes from the client; none is trusted. */
struct svc_device_info {
    double created;
    char client_ip[64];
    char client_version[SVC_DEVICE_FIELD_MAX + 1]; /* "tbdev 0.1.0" */
    char client_host[SVC_DEVICE_FIELD_MAX + 1];    /* the machine's name, as it says */
};

struct svc_usage {
    uint64_t runs, tags, scalars, tensors, blobs, bytes;
};

struct svc_experiment {
    char id[SVC_EXP_ID_LEN + 1];
    int64_t owner_id;
    char owner[SVC_USER_NAME_MAX + 1];
    char name[SVC_EXP_NAME_MAX + 1];
    char description[SVC_EXP_DESC_MAX + 1];
    enum svc_visibility visibility;
    double created, updated;
    struct svc_usage usage; /* filled by experiment_get and experiment_list */
};

/* --- ingest batches, built by ingest.c and written by write_batch in one transaction --- */

enum svc_item_type { SVC_ITEM_SCALAR = 1, SVC_ITEM_TENSOR, SVC_ITEM_BLOBS, SVC_ITEM_RESTART };

struct svc_series_def {
    uint32_t run; /* index into the batch's runs */
    const char *tag, *plugin, *display_name, *description;
    struct tb_bytes plugin_content;
    int data_class;
    enum tb_kind kind;
    int source; /* enum tb_source of the first value */
    int dtype;  /* of the first value's tensor, 0 if none */
    int64_t id; /* set by the store */
};

/* What a tensor or blob-sequence item holds besides its point (in the batch's memory). */
struct svc_item_data {
    int dtype;                /* TENSOR */
    const char *shape;        /* TENSOR: "[2,3]", "[]" or "?" */
    struct tb_bytes data;     /* TENSOR: packed content, or the strings (see ingest.c) */
    struct tb_bytes value_pb; /* TENSOR, BLOBS: the original Summary.Value, blobs blanked */
    const char *meta;         /* BLOBS: JSON object (width, height, labels...) */
    size_t n_blobs;           /* BLOBS */
    const struct tb_bytes *blobs;
    uint8_t (*shas)[32]; /* BLOBS: SHA-256 of each blob, filled by ingest */
};

/* One point of a batch: 48 bytes, since a request may hold a million scalars. */
struct svc_item {
    enum svc_item_type type;
    uint32_t series; /* index into the batch's series (unused for RESTART) */
    uint32_t run;    /* RESTART: index into the batch's runs */
    int64_t step;
    double wall_time;
    double value;            /* SCALAR */
    struct svc_item_data *x; /* TENSOR, BLOBS */
};

struct svc_group {
    uint32_t run;
    const char *file;
    uint64_t offset, end_offset;
    size_t first_item, n_items; /* this group's items in batch->items */
    uint64_t values, dropped;
    uint64_t bytes; /* record bytes the group arrived in (the quota charges what is stored) */
    uint32_t fingerprint_len; /* the file's fingerprint as the client took it; 0: none */
    uint32_t fingerprint;
    /* set by ingest before write_batch, or by write_batch: the group is not stored, the
     * others are ("name", "file_changed"; NULL otherwise) */
    const char *refused;
    /* set by write_batch: */
    bool replay;
    uint64_t cursor;
};

struct svc_batch {
    const char **runs;
    size_t n_runs;
    struct svc_series_def *series;
    size_t n_series;
    struct svc_item *items;
    size_t n_items;
    struct svc_group *groups;
    size_t n_groups;
    uint64_t bytes;      /* set by write_batch: what it charged the quota (see write_batch) */
    size_t gap_group;    /* set with -ESTALE: the group that starts past its cursor */
    uint64_t max_runs;   /* runs an experiment may have; 0: no limit */
    uint64_t max_tags;   /* tags a run may have; 0: no limit */
    char limit_msg[200]; /* set with -EMLINK: which limit, where */
};

/* --- reads --- */

struct svc_series_info {
    int64_t id;
    int64_t run_id;
    char *run; /* allocated; freed by svc_series_list_free */
    char *tag;
    char *plugin;
    char *display_name;
    char *description;
    uint8_t *plugin_content; /* empty (length 0) from series_list: see series_select */
    size_t plugin_content_len;
    int data_class;
    enum tb_kind kind;
    int source;
    int dtype;
    uint64_t points;
    int64_t min_step, max_step;
};

struct svc_restart {
    int64_t seq; /* points with a lower seq came before the restart */
    int64_t step;
};

/* Called for each stored row of a series, in arrival order. Return non-zero to stop. */
typedef int (*svc_scalar_chunk_cb)(void *ctx, int64_t seq, const uint8_t *data, size_t n_points);
struct svc_tensor_row {
    int64_t seq, step;
    double wall_time;
    int dtype;
    const char *shape;
    const uint8_t *data;
    size_t len;
    const uint8_t *value_pb;
    size_t value_pb_len;
    const char *meta;    /* blob rows */
    const uint8_t *shas; /* blob rows: n_blobs * 32 bytes */
    size_t n_blobs;
};
typedef int (*svc_tensor_row_cb)(void *ctx, const struct svc_tensor_row *row);

/* Scalar chunk layout: n_points records of (int64 step, double wall_time, double value),
 * little-endian, 24 bytes each. NaN and infinities are kept bit for bit. */
#define SVC_SCALAR_POINT_BYTES 24
#define SVC_SCALAR_CHUNK_POINTS 1024

/* The one pair of accessors of that layout (every reader and writer of chunks uses them). */
struct svc_scalar_point {
    int64_t step;
    double wall_time, value;
};
static inline void svc_scalar_point_put(uint8_t *p, const struct svc_scalar_point *pt)
{
    uint64_t w[3];
    memcpy(&w[0], &pt->step, 8);
    memcpy(&w[1], &pt->wall_time, 8);
    memcpy(&w[2], &pt->value, 8);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 8; k++)
            p[8 * i + k] = (uint8_t)(w[i] >> (8 * k));
}
static inline void svc_scalar_point_get(const uint8_t *p, struct svc_scalar_point *ret)
{
    uint64_t w[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 8; k++)
            w[i] |= (uint64_t)p[8 * i + k] << (8 * k);
    memcpy(&ret->step, &w[0], 8);
    memcpy(&ret->wall_time, &w[1], 8);
    memcpy(&ret->value, &w[2], 8);
}

/* What a reader needs to downsample a chunk without its points: the first, minimum, maximum
 * and last points (in that order, 24 bytes each as above; minimum and maximum by value,
 * ignoring NaN: a unit of SVC_SUMMARY_UNIT_BYTES), the step range, and whether steps strictly
 * increase inside the chunk. A chunk of more than SVC_SUMMARY_GROUP_POINTS points also has
 * one such unit per group of SVC_SUMMARY_GROUP_POINTS points (the last group may be shorter),
 * so that a chart with fewer pixels than points / SVC_SUMMARY_GROUP_POINTS is drawn from
 * summaries. Stored as one byte string: the chunk's unit, then its groups' (rows written
 * before the groups existed have the chunk's unit only). */
#define SVC_SUMMARY_UNIT_BYTES (4 * SVC_SCALAR_POINT_BYTES)
#define SVC_SUMMARY_GROUP_POINTS 64
#define SVC_SUMMARY_GROUPS_MAX (SVC_SCALAR_CHUNK_POINTS / SVC_SUMMARY_GROUP_POINTS)
struct svc_chunk_summary {
    size_t n;
    int64_t min_step, max_step;
    bool sorted;
    size_t n_groups; /* units after the chunk's in points: 0 or ceil(n / GROUP_POINTS) */
    uint8_t points[(1 + SVC_SUMMARY_GROUPS_MAX) * SVC_SUMMARY_UNIT_BYTES];
};
typedef int (*svc_summary_cb)(void *ctx, int64_t seq, const struct svc_chunk_summary *s);

/* Fills s for 1 <= n <= SVC_SCALAR_CHUNK_POINTS points in the chunk layout, with its groups
 * when n > SVC_SUMMARY_GROUP_POINTS. */
void svc_chunk_summarize(const uint8_t *points, size_t n, struct svc_chunk_summary *s);

/* The stored length of s's units (its bytes in points). */
static inline size_t svc_chunk_summary_len(const struct svc_chunk_summary *s)
{
    return (1 + s->n_groups) * SVC_SUMMARY_UNIT_BYTES;
}

/* Reads a stored summary's bytes (len of them) into s, s->n set already: false when the
 * length is neither the chunk's unit alone nor it and its groups' (then s is unchanged). */
bool svc_chunk_summary_load(struct svc_chunk_summary *s, const uint8_t *d, size_t len);

struct svc_store;

struct svc_store_options {
    int busy_timeout_ms; /* wait this long for the write lock, then -EBUSY */
    uint64_t default_quota_bytes;
    uint64_t
        max_bytes; /* the database may not grow past this (SQLITE_FULL, as a full disk); 0: none */
    bool read_only;
    /* Where blob bytes go (borrowed until close): NULL keeps them in the database. Only the
     * PostgreSQL backend takes an object store (SQLite installs keep blobs in the file). */
    const struct svc_blobs *blobs;
    /* An unreferenced blob's object is deleted by checkpoint() once it has been unreferenced
     * this long (seconds), so that a batch that wrote it just before can still claim it. */
    double blob_grace_s;
    bool lean_memory; /* keep resident memory low (local mode): no memory-mapped reads, a
                       * smaller page cache per connection */
};

/*
 * write_batch's contract (exactly-once), which every backend keeps because store.c implements
 * it for all of them over struct svc_wb_ops:
 *
 *  1. One transaction. Either every group that is not a replay, a gap or refused is stored
 *     with its file's new cursor, its rows, its series' counters and its quota charge, or
 *     nothing of the batch is (any error).
 *  2. For each group, against its file's committed cursor, read under a lock that holds
 *     until commit (SQLite: BEGIN IMMEDIATE; PostgreSQL: the experiment row and the file's
 *     cursor row FOR UPDATE, runs locked in name order), so that two servers or threads
 *     given the same group at once store it once:
 *       offset <  cursor: a replay; nothing stored, g->replay set, g->cursor the cursor;
 *       offset == cursor: stored; the cursor becomes end_offset;
 *       offset >  cursor: a gap; -ESTALE, b->gap_group says which, nothing stored.
 *     A file whose first group gave a fingerprint is refused ("file_changed") when a later
 *     group gives another of the same length.
 *  3. Limits: a new run past b->max_runs, or a new series past b->max_tags in its run, is
 *     -EMLINK with b->limit_msg, nothing stored; counted under the same locks.
 *  4. Quota: the charge (below) is added to the owner's used bytes by one conditional update
 *     that fails with -EDQUOT, nothing stored, when it would pass quota_bytes (0: none).
 *  5. Scalars are kept in chunks of at most SVC_SCALAR_CHUNK_POINTS points in arrival
 *     order, with their summaries; rows get increasing seqs (a restart's seq sorts after the
 *     rows of its run read before it).
 *  6. Blobs are content-addressed: with an object store, each is written there before the
 *     transaction (idempotent), and again inside it if the store had collected it since.
 *
 * Writes a batch in one transaction. The quota (quota_bytes, 0: none) is charged what the
 * batch stored: for each new row TB_QUOTA_ROW_BYTES plus its bytes (a run's name, a file's
 * name, a series' tag, names and plugin content, a scalar chunk's points and summary, a
 * tensor's data, value and shape, a blob point's meta, hashes and value), charged to its run,
 * and for each blob the experiment did not own yet TB_QUOTA_ROW_BYTES plus its size,
 * charged to the experiment. b->bytes is set to the charge. -ENOENT if the experiment is gone.
 */

/* One scalar chunk to store (chunks_add): the points are borrowed for the call. */
struct svc_chunk_row {
    int64_t series_id, seq;
    size_t n; /* points, 1..SVC_SCALAR_CHUNK_POINTS */
    const struct svc_chunk_summary *summary;
    const uint8_t *points; /* n * SVC_SCALAR_POINT_BYTES */
};

/* What svc_wb_ops.blob_ref says about a blob. */
#define SVC_BLOB_NEW_OWNER 1 /* the experiment did not own it: charge it */
#define SVC_BLOB_REWRITE 2   /* the object store had collected it: write it again now */

/*
 * The primitives of a write: each backend's, run by store.c inside one transaction on the
 * calling thread's connection (begin ... end). Each returns 0 (or what it says) or -errno;
 * after an error the caller only calls end(). Strings and bytes are borrowed for the call.
 */
struct svc_wb_ops {
    /* Starts the transaction and locks the experiment against other writers until end
     * (SQLite's write lock; PostgreSQL: its row FOR UPDATE). -ENOENT if it does not exist. */
    int (*begin)(struct svc_store *s, const char *exp_id);
    /* Commits when err is 0, else rolls back; returns err, or the commit's error. */
    int (*end)(struct svc_store *s, int err);
    /* Reserves SVC_SEQ_BLOCK consecutive seqs, larger than every seq committed or reserved
     * before, for rows of this transaction: *ret_first is the first. */
    int (*seq_block)(struct svc_store *s, int64_t *ret_first);
    /* The run (exp_id, name), locked until end: 0 and *ret_id, or -ENOENT. */
    int (*run_lock)(struct svc_store *s, const char *exp_id, const char *name, int64_t *ret_id);
    int (*run_count)(struct svc_store *s, const char *exp_id, uint64_t *ret_n);
    int (*run_add)(struct svc_store *s, const char *exp_id, const char *name, int64_t *ret_id);
    /* The file's cursor row, locked until end: 1 and its fields, or 0 if the file is new. */
    int (*file_lock)(struct svc_store *s, int64_t run_id, const char *name, uint64_t *ret_cursor,
                     uint32_t *ret_fp_len, uint32_t *ret_fp);
    /* Sets the cursor (making the row); a fingerprint is kept from the first group giving one. */
    int (*file_set)(struct svc_store *s, int64_t run_id, const char *name, uint64_t cursor,
                    uint32_t fp_len, uint32_t fp);
    /* 1 and *ret_id if the run has the tag, 0 if not. */
    int (*series_get)(struct svc_store *s, int64_t run_id, const char *tag, int64_t *ret_id);
    int (*tag_count)(struct svc_store *s, int64_t run_id, uint64_t *ret_n);
    /* A new series with d's metadata and plugin content (d->id is not read). */
    int (*series_add)(struct svc_store *s, int64_t run_id, const struct svc_series_def *d,
                      int64_t *ret_id);
    /* Stores n chunks (PostgreSQL: one binary COPY). */
    int (*chunks_add)(struct svc_store *s, const struct svc_chunk_row *rows, size_t n);
    /* A tensor row, or a blob-sequence row (its meta, hashes and value), from it. */
    int (*tensor_add)(struct svc_store *s, int64_t series_id, int64_t seq,
                      const struct svc_item *it);
    int (*blob_point_add)(struct svc_store *s, int64_t series_id, int64_t seq,
                          const struct svc_item *it);
    /* With an object store, before its object is written for a batch (outside the batch's
     * transaction, committed at once): makes sure the collector finds the object if the
     * batch never commits. Returns 1 if the object is there already (no need to write it),
     * 0 if it must be written. NULL in a backend that keeps blobs in the database only. */
    int (*blob_prepare)(struct svc_store *s, const uint8_t sha[32], size_t size);
    /* Makes the experiment own the blob sha of size bytes, and keeps the blob: its bytes in
     * the database when data is not NULL (no object store), else its row only. Returns the
     * SVC_BLOB_* flags that apply (0 when neither). */
    int (*blob_ref)(struct svc_store *s, const char *exp_id, const uint8_t sha[32],
                    const uint8_t *data, size_t size);
    /* 1 if the restart row was added, 0 if the run had it. */
    int (*restart_add)(struct svc_store *s, int64_t run_id, int64_t seq, int64_t step);
    /* Adds points to a series' count and widens its step range. */
    int (*series_bump)(struct svc_store *s, int64_t series_id, uint64_t points, int64_t min_step,
                       int64_t max_step);
    /* Adds bytes to what the run is charged. */
    int (*run_charge)(struct svc_store *s, int64_t run_id, uint64_t bytes);
    /* Adds bytes to the user's used bytes, unless that would pass quota (0: none): then
     * -EDQUOT and nothing changes. One conditional update: exact under concurrent writers. */
    int (*user_charge)(struct svc_store *s, int64_t user_id, uint64_t bytes, uint64_t quota);
    /* Adds to the experiment's counters and sets its update time. */
    int (*experiment_bump)(struct svc_store *s, const char *exp_id, double now, uint64_t scalars,
                           uint64_t tensors, uint64_t blobs, uint64_t bytes);
};

#define SVC_SEQ_BLOCK 1024

/* write_batch for a backend: the contract above, over its primitives p. blobs (NULL: in the
 * database) is where blob bytes go. */
int svc_store_write_batch(const struct svc_wb_ops *p, struct svc_store *s,
                          const struct svc_blobs *blobs, const char *exp_id, int64_t owner_id,
                          uint64_t quota_bytes, struct svc_batch *b);

/* The backend for a --db value: PostgreSQL for postgresql:// or postgres:// URLs, SQLite for
 * anything else (a path). NULL if that backend was not built in. */
const struct svc_store_ops *svc_store_for(const char *db);

/* Whether db names a PostgreSQL database (a URL) rather than a SQLite file. */
bool svc_store_is_url(const char *db);

/* db as it may be shown or logged: a URL's password (user:PASSWORD@, password=...) masked. */
void svc_store_shown(const char *db, char *out, size_t out_len);

/* --- moving an installation (copy.c): rows as stored, table by table --- */

/* A table as the copy sees it: its columns in both backends' schema (store_sqlite.c and
 * store_pg.c migrations), the first n_key of them its primary key. */
#define SVC_COPY_COLS_MAX 14
struct svc_copy_table {
    const char *name;
    const char *cols[SVC_COPY_COLS_MAX];
    const char *types; /* per column: i int8, d float8, t text, b bytes; upper case may be NULL */
    unsigned n_cols, n_key;
};

/* One value of a row: borrowed (p) until the callback returns, or owned by copy.c. */
struct svc_copy_value {
    bool null;
    int64_t i;
    double d;
    const uint8_t *p; /* text (not NUL-terminated) and bytes */
    size_t len;
};

/* Called with each row (t->n_cols values); non-zero stops the read and is returned. */
typedef int (*svc_copy_row_cb)(void *ctx, const struct svc_copy_value *row);

/* How far a copy into this database went, per table (kept in the destination). */
struct svc_copy_mark {
    const char *table;  /* "" for the copy itself: key holds the source's name */
    const uint8_t *key; /* the last row's key, encoded by svc_copy_key_encode (copy.h) */
    size_t key_len;
    uint64_t rows;
    bool done;
};

struct svc_store_ops {
    const char *name;
    /* db: a SQLite file's path, or a PostgreSQL URL (svc_store_for). */
    int (*open)(const char *db, const struct svc_store_options *opt, struct svc_store **ret);
    void (*close)(struct svc_store *s);
    /* Brings the schema up to date; *ret_from / *ret_to are the versions. */
    int (*migrate)(struct svc_store *s, int *ret_from, int *ret_to);
    /* Periodic upkeep, called every 30 s by serve and once by the upkeep command: both purge
     * expired sessions and device codes; SQLite then checkpoints its WAL; PostgreSQL deletes
     * the objects of blobs unreferenced for opt->blob_grace_s, one server at a time (an
     * advisory lock). */
    int (*checkpoint)(struct svc_store *s);
    /* An online copy into a new SQLite file; -ENOTSUP on PostgreSQL (pg_dump does that). */
    int (*backup)(struct svc_store *s, const char *to_path);
    /* SQLite's integrity_check; on PostgreSQL, that the schema is there and the counters
     * agree with the rows. ret_msg says "ok" or what is wrong. */
    int (*integrity_check)(struct svc_store *s, char *ret_msg, size_t msg_len);

    int (*user_add)(struct svc_store *s, const char *name, const char *password_hash, bool is_admin,
                    int64_t *ret_id);
    int (*user_get)(struct svc_store *s, const char *name, struct svc_user *ret);
    int (*user_get_id)(struct svc_store *s, int64_t id, struct svc_user *ret);
    int (*user_list)(struct svc_store *s, int (*cb)(void *, const struct svc_user *), void *ctx);
    int (*user_set_disabled)(struct svc_store *s, const char *name, bool disabled);
    /* Sets the password and ends every session of the user, in one transaction. */
    int (*user_set_password)(struct svc_store *s, const char *name, const char *password_hash);
    /* quota_bytes 0: the server's default. -ENOENT if there is no such user. */
    int (*user_set_quota)(struct svc_store *s, const char *name, uint64_t quota_bytes);

    int (*token_add)(struct svc_store *s, int64_t user_id, const uint8_t hash[32], const char *name,
                     const char *prefix, int64_t *ret_id);
    /* The live token with this hash, and its user (not disabled). -ENOENT otherwise. */
    int (*token_lookup)(struct svc_store *s, const uint8_t hash[32], struct svc_user *ret_user,
                        int64_t *ret_token_id);
    int (*token_revoke)(struct svc_store *s, int64_t token_id);
    int (*token_list)(struct svc_store *s, const char *user,
                      int (*cb)(void *, const struct svc_token_info *), void *ctx);
    /* token_add for a token that token_lookup refuses from `expires` on (0: never). */
    int (*token_add_expiring)(struct svc_store *s, int64_t user_id, const uint8_t hash[32],
                              const char *name, const char *prefix, double expires,
                              int64_t *ret_id);

    /* A session that ends at `expires`; info's id, user and created are ignored. */
    int (*session_add)(struct svc_store *s, const uint8_t hash[32], int64_t user_id, double expires,
                       const struct svc_session_info *info);
    /* The live session with this hash and its user (not disabled), and its id (ret_id may
     * be NULL); -ENOENT otherwise. */
    int (*session_lookup)(struct svc_store *s, const uint8_t hash[32], struct svc_user *ret,
                          int64_t *ret_id);
    int (*session_delete)(struct svc_store *s, const uint8_t hash[32]);
    /* Live sessions of user name (NULL: everyone's), newest first. */
    int (*session_list)(struct svc_store *s, const char *user,
                        int (*cb)(void *, const struct svc_session_info *), void *ctx);
    /* Ends session id, if it is user_id's (user_id 0: anyone's); -ENOENT otherwise. */
    int (*session_revoke)(struct svc_store *s, int64_t id, int64_t user_id);

    int (*device_add)(struct svc_store *s, const uint8_t device_hash[32], const char *user_code,
                      double expires, const struct svc_device_info *info);
    /* Who asked for the pending (not yet approved, not expired) code; -ENOENT otherwise. */
    int (*device_pending)(struct svc_store *s, const char *user_code, struct svc_device_info *ret);
    /* Approves the pending code for user_id; -ENOENT if unknown or expired. */
    int (*device_approve)(struct svc_store *s, const char *user_code, int64_t user_id);
    /* Returns 1 and the approving user (and who asked, if ret_info) if approved (and forgets
     * the code), 0 if pending, -ENOENT if unknown or expired. */
    int (*device_take)(struct svc_store *s, const uint8_t device_hash[32], double now,
                       struct svc_user *ret, struct svc_device_info *ret_info);

    int (*experiment_create)(struct svc_store *s, const struct svc_experiment *e);
    int (*experiment_get)(struct svc_store *s, const char *id, struct svc_experiment *ret);
    /* Sets name, description and visibility, and shares with / unshares from the given user
     * IDs, in one transaction: all of it or nothing. */
    int (*experiment_update)(struct svc_store *s, const struct svc_experiment *e,
                             const int64_t *share, size_t n_share, const int64_t *unshare,
                             size_t n_unshare);
    int (*experiment_delete)(struct svc_store *s, const char *id);
    /* Experiments of owner_id (all of them, or only public ones). */
    int (*experiment_list)(struct svc_store *s, int64_t owner_id, bool public_only,
                           int (*cb)(void *, const struct svc_experiment *), void *ctx);
    int (*share_set)(struct svc_store *s, const char *exp_id, int64_t user_id, bool shared);
    int (*share_check)(struct svc_store *s, const char *exp_id, int64_t user_id);

    /* Writes a batch: the contract above (svc_store_write_batch). */
    int (*write_batch)(struct svc_store *s, const char *exp_id, int64_t owner_id,
                       uint64_t quota_bytes, struct svc_batch *b);
    /* Every file's cursor, with the fingerprint its first group gave (len 0 if none). */
    int (*cursors)(struct svc_store *s, const char *exp_id,
                   int (*cb)(void *, const char *run, const char *file, uint64_t offset,
                             uint32_t fingerprint_len, uint32_t fingerprint),
                   void *ctx);
    /* Deletes a run and everything stored under it, in one transaction, and gives back what it
     * was charged: its own rows, and each blob only it referenced in the experiment (which the
     * experiment then no longer owns, so blob_get no longer serves it from there; a blob no
     * experiment owns is deleted). -ENOENT if the experiment has no such run. */
    int (*run_delete)(struct svc_store *s, const char *exp_id, const char *run);

    /* Series of an experiment, sorted by run then tag, without their plugin content (a read
     * needs it for a few series only: series_select). Free with svc_series_list_free. */
    int (*series_list)(struct svc_store *s, const char *exp_id, struct svc_series_info **ret,
                       size_t *ret_n);
    /* Series of an experiment with their plugin content, of one run and/or one plugin (NULL:
     * any), sorted by run then tag. Free with svc_series_list_free. */
    int (*series_select)(struct svc_store *s, const char *exp_id, const char *run,
                         const char *plugin, struct svc_series_info **ret, size_t *ret_n);
    int (*restarts)(struct svc_store *s, int64_t run_id, struct svc_restart **ret, size_t *ret_n);
    /* One series of (experiment, run, tag): its metadata, for values written without any.
     * *ret (caller frees with svc_series_list_free(*ret, 1)) or -ENOENT. */
    int (*series_find)(struct svc_store *s, const char *exp_id, const char *run, const char *tag,
                       struct svc_series_info **ret);
    int (*scalar_chunks)(struct svc_store *s, int64_t series_id, svc_scalar_chunk_cb cb, void *ctx);
    /* Each chunk's summary in seq order; with groups, the groups' units too where stored
     * (without, n_groups is 0: a tenth of the bytes, for series of many chunks). */
    int (*scalar_summaries)(struct svc_store *s, int64_t series_id, bool groups, svc_summary_cb cb,
                            void *ctx);
    /* A series' rows with seq >= from_seq, in seq order (0: from the first). */
    /* Each row's (seq, step) of a tensor (blobs false) or blob series, in arrival order: what
     * the restart rule needs, without the rows' data. */
    int (*row_steps)(struct svc_store *s, int64_t series_id, bool blobs,
                     int (*cb)(void *ctx, int64_t seq, int64_t step), void *ctx);
    int (*tensor_rows)(struct svc_store *s, int64_t series_id, int64_t from_seq,
                       svc_tensor_row_cb cb, void *ctx);
    int (*blob_rows)(struct svc_store *s, int64_t series_id, int64_t from_seq, svc_tensor_row_cb cb,
                     void *ctx);
    /* A blob's bytes, if exp_id references it. *ret_data is freed by the caller with free(). */
    int (*blob_get)(struct svc_store *s, const char *exp_id, const uint8_t sha[32],
                    uint8_t **ret_data, size_t *ret_len);
    /* --- moving an installation (copy.c); NULL where the backend cannot (see copy.h) --- */
    /* Starts (begin true) or ends a read snapshot on the calling thread's connection, so that
     * every rows_read until the end sees one state; checks the schema is this server's:
     * -EPROTO (logged) if not. */
    int (*rows_snapshot)(struct svc_store *s, bool begin);
    /* t's rows whose key is above after's (t->n_key values; NULL: every row), in key order
     * (text and bytes compared bytewise), each given to cb; returns cb's non-zero or 0. */
    int (*rows_read)(struct svc_store *s, const struct svc_copy_table *t,
                     const struct svc_copy_value *after, svc_copy_row_cb cb, void *ctx);
    int (*rows_count)(struct svc_store *s, const struct svc_copy_table *t, uint64_t *ret_n);
    /* Appends n rows (n * t->n_cols values) to t and records mark, in one transaction: a copy
     * stopped at any point is resumed from the marks without a row twice. */
    int (*rows_write)(struct svc_store *s, const struct svc_copy_table *t,
                      const struct svc_copy_value *rows, size_t n,
                      const struct svc_copy_mark *mark);
    /* Every mark, to cb (borrowed for the call); -ENOENT if no copy was ever started here. */
    int (*copy_marks)(struct svc_store *s, int (*cb)(void *ctx, const struct svc_copy_mark *m),
                      void *ctx);
    /* After the last row: sequences (ids, seqs) set past the largest copied, and blobs no
     * experiment owns handed to the collector. */
    int (*copy_finish)(struct svc_store *s);
};

extern const struct svc_store_ops svc_store_sqlite;
extern const struct svc_store_ops svc_store_pg; /* when built with libpq */

void svc_series_list_free(struct svc_series_info *list, size_t n);
