/* SPDX-License-Identifier: MIT */
/* The PostgreSQL storage backend: the only file that includes libpq-fe.h. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "store.h"
#include "tblimits.h"

/*
 * Several servers may share one database, so nothing here relies on a single writer: writes
 * run under READ COMMITTED with row locks (store.h, write_batch's contract): the experiment
 * row FOR NO KEY UPDATE first, then runs in name order, then the file's cursor row FOR
 * UPDATE; quota and counters are conditional or additive updates; seqs come from a sequence
 * (a counter row caps PostgreSQL at a few hundred writes a second). Every lock is taken in that
 * order, so writers queue rather than deadlock; a lock held past the busy timeout, a deadlock
 * or a serialization failure gives -EBUSY (503 with Retry-After; a resend is a replay).
 *
 * One connection per thread, opened on first use; statements are prepared once per
 * connection, with binary parameters and results (float8 keeps NaN payloads and -0.0 bit for
 * bit; values stay inside the chunk bytes anyway, where SQL never compares them).
 */

#define SCHEMA_VERSION 3
#define MIGRATE_LOCK 1952605302 /* pg_advisory_xact_lock key of migrations ("tbdv") */
#define UPKEEP_LOCK 1952605301  /* ... of the upkeep job */
#define SERIES_CACHE_MAX 4096   /* a write reads a run's series ids at once up to this many */

#define STR_(x) #x
#define STR(x) STR_(x)
#define ROW STR(TB_QUOTA_ROW_BYTES)

/* What the quota charges a run, in SQL (store_sqlite.c RECOUNT_RUNS, the same formula). */
#define RUN_BYTES_SQL(r)                                                                           \
    "(" ROW " + octet_length(" r ".name)"                                                          \
    " + coalesce((SELECT sum(" ROW " + octet_length(f.name)) FROM files f"                         \
    "   WHERE f.run_id = " r ".id), 0)"                                                            \
    " + coalesce((SELECT sum(" ROW " + octet_length(s.tag) + octet_length(s.plugin)"               \
    "   + coalesce((SELECT octet_length(sc.content) FROM series_content sc"                        \
    "   WHERE sc.series_id = s.id), 0) + octet_length(s.display_name)"                             \
    "   + octet_length(s.description)) FROM series s WHERE s.run_id = " r ".id), 0)"               \
    " + coalesce((SELECT sum(" ROW " + octet_length(c.data) + octet_length(c.summary))"            \
    "   FROM scalar_chunks c JOIN series s ON s.id = c.series_id WHERE s.run_id = " r ".id), 0)"   \
    " + coalesce((SELECT sum(" ROW " + octet_length(t.data) + octet_length(t.value_pb)"            \
    "   + octet_length(t.shape)) FROM tensors t JOIN series s ON s.id = t.series_id"               \
    "   WHERE s.run_id = " r ".id), 0)"                                                            \
    " + coalesce((SELECT sum(" ROW " + octet_length(b.meta) + octet_length(b.shas)"                \
    "   + octet_length(b.value_pb)) FROM blob_points b JOIN series s ON s.id = b.series_id"        \
    "   WHERE s.run_id = " r ".id), 0)"                                                            \
    " + (SELECT count(*) * " ROW " FROM restarts x WHERE x.run_id = " r ".id))::int8"

/* Each migration in parts (C99 caps a string literal's length), run in order. */
static const char *const migrations[SCHEMA_VERSION][4] = {
    /* 1: the schema of SQLite's version 4, with a sequence for seqs and blobs that may live in
     * an object store (data NULL; orphaned: unreferenced since; gone: its object deleted) */
    {"CREATE TABLE users("
     "  id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, password_hash text NOT NULL"
     "  DEFAULT '', is_admin int8 NOT NULL DEFAULT 0, disabled int8 NOT NULL DEFAULT 0,"
     "  created float8 NOT NULL, quota_bytes int8 NOT NULL DEFAULT 0,"
     "  used_bytes int8 NOT NULL DEFAULT 0);"
     "CREATE TABLE tokens("
     "  id bigserial PRIMARY KEY, user_id int8 NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     "  hash bytea NOT NULL UNIQUE, name text NOT NULL DEFAULT '', prefix text NOT NULL,"
     "  created float8 NOT NULL, last_used float8, revoked float8, expires float8);"
     "CREATE TABLE sessions("
     "  id bigserial PRIMARY KEY, hash bytea NOT NULL UNIQUE,"
     "  user_id int8 NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     "  created float8 NOT NULL, expires float8 NOT NULL, client_ip text NOT NULL DEFAULT '',"
     "  user_agent text NOT NULL DEFAULT '');"
     "CREATE INDEX sessions_by_user ON sessions(user_id);"
     "CREATE TABLE device_codes("
     "  device_hash bytea PRIMARY KEY, user_code text NOT NULL UNIQUE, expires float8 NOT NULL,"
     "  user_id int8 REFERENCES users(id) ON DELETE CASCADE, created float8 NOT NULL DEFAULT 0,"
     "  client_ip text NOT NULL DEFAULT '', client_version text NOT NULL DEFAULT '',"
     "  client_host text NOT NULL DEFAULT '');"
     "CREATE TABLE experiments("
     "  id text PRIMARY KEY, owner_id int8 NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     "  name text NOT NULL, description text NOT NULL, visibility int8 NOT NULL,"
     "  created float8 NOT NULL, updated float8 NOT NULL,"
     "  n_scalars int8 NOT NULL DEFAULT 0, n_tensors int8 NOT NULL DEFAULT 0,"
     "  n_blobs int8 NOT NULL DEFAULT 0, bytes int8 NOT NULL DEFAULT 0);"
     "CREATE INDEX experiments_by_owner ON experiments(owner_id, updated);"
     "CREATE TABLE shares("
     "  experiment_id text NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
     "  user_id int8 NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     "  PRIMARY KEY(experiment_id, user_id));",
     "CREATE TABLE runs("
     "  id bigserial PRIMARY KEY,"
     "  experiment_id text NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
     "  name text NOT NULL, bytes int8 NOT NULL DEFAULT 0, UNIQUE(experiment_id, name));"
     "CREATE TABLE files("
     "  run_id int8 NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name text NOT NULL,"
     "  cursor int8 NOT NULL, fp_len int8 NOT NULL DEFAULT 0, fp int8 NOT NULL DEFAULT 0,"
     "  PRIMARY KEY(run_id, name));"
     "CREATE TABLE series("
     "  id bigserial PRIMARY KEY, run_id int8 NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
     "  tag text NOT NULL, plugin text NOT NULL,"
     "  display_name text NOT NULL, description text NOT NULL, data_class int8 NOT NULL,"
     "  kind int8 NOT NULL, source int8 NOT NULL, dtype int8 NOT NULL,"
     "  points int8 NOT NULL DEFAULT 0, min_step int8, max_step int8, UNIQUE(run_id, tag));"
     "CREATE TABLE series_content("
     "  series_id int8 PRIMARY KEY REFERENCES series(id) ON DELETE CASCADE,"
     "  content bytea NOT NULL);",
     "CREATE TABLE scalar_chunks("
     "  series_id int8 NOT NULL REFERENCES series(id) ON DELETE CASCADE,"
     "  seq int8 NOT NULL, n int8 NOT NULL, min_step int8 NOT NULL,"
     "  max_step int8 NOT NULL, sorted int8 NOT NULL, summary bytea NOT NULL,"
     "  data bytea NOT NULL, PRIMARY KEY(series_id, seq));"
     "CREATE TABLE tensors("
     "  series_id int8 NOT NULL REFERENCES series(id) ON DELETE CASCADE,"
     "  seq int8 NOT NULL, step int8 NOT NULL, wall_time float8 NOT NULL,"
     "  dtype int8 NOT NULL, shape text NOT NULL, data bytea NOT NULL, value_pb bytea NOT NULL,"
     "  PRIMARY KEY(series_id, seq));"
     "CREATE TABLE blob_points("
     "  series_id int8 NOT NULL REFERENCES series(id) ON DELETE CASCADE,"
     "  seq int8 NOT NULL, step int8 NOT NULL, wall_time float8 NOT NULL,"
     "  meta text NOT NULL, shas bytea NOT NULL, value_pb bytea NOT NULL,"
     "  PRIMARY KEY(series_id, seq));"
     "CREATE TABLE blobs(sha bytea PRIMARY KEY, size int8 NOT NULL, data bytea,"
     "  orphaned float8, gone bool NOT NULL DEFAULT false);"
     "CREATE INDEX blobs_orphaned ON blobs(orphaned) WHERE orphaned IS NOT NULL;"
     "CREATE TABLE blob_owners("
     "  experiment_id text NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
     "  sha bytea NOT NULL, PRIMARY KEY(experiment_id, sha));"
     "CREATE INDEX blob_owners_by_sha ON blob_owners(sha);"
     "CREATE TABLE restarts("
     "  run_id int8 NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
     "  seq int8 NOT NULL, step int8 NOT NULL, PRIMARY KEY(run_id, seq));"
     "CREATE SEQUENCE seqs INCREMENT BY " STR(SVC_SEQ_BLOCK) " START WITH 1;",
     NULL},
    /* 2: new scalar chunks compressed with lz4, not pglz: measured on 100 runs x 100k points
     * (bench_pg), ingest 2x faster and a 100-run chart 16% faster, 21% more disk; a server
     * built without lz4 keeps them uncompressed instead */
    {"DO $$ BEGIN"
     "  ALTER TABLE scalar_chunks ALTER COLUMN data SET COMPRESSION lz4;"
     " EXCEPTION WHEN OTHERS THEN"
     "  ALTER TABLE scalar_chunks ALTER COLUMN data SET STORAGE EXTERNAL;"
     " END $$;",
     NULL},
    /* 3: no table changes; a chunk's summary may hold its 64-point groups' after its own
     * (store.h), which a server of version 2 would misread: it refuses this schema */
    {"COMMENT ON COLUMN scalar_chunks.summary IS 'the chunk''s first, minimum, maximum and"
     " last points, then those of each of its 64-point groups (store.h)';",
     NULL},
};

/* Each statement with the types of its parameters: i int8, d float8, t text, b bytea. */
enum stmt_id {
    Q_USER_ADD,
    Q_USER_GET,
    Q_USER_GET_ID,
    Q_USER_LIST,
    Q_USER_DISABLE,
    Q_USER_PASSWORD,
    Q_USER_QUOTA,
    Q_TOKEN_ADD,
    Q_TOKEN_LOOKUP,
    Q_TOKEN_REVOKE,
    Q_TOKEN_LIST,
    Q_SESSION_ADD,
    Q_SESSION_LOOKUP,
    Q_SESSION_DELETE,
    Q_SESSION_LIST,
    Q_SESSION_REVOKE,
    Q_SESSION_END_USER,
    Q_SESSION_PURGE,
    Q_DEVICE_PENDING,
    Q_DEVICE_ADD,
    Q_DEVICE_APPROVE,
    Q_DEVICE_GET,
    Q_DEVICE_DELETE,
    Q_DEVICE_PURGE,
    Q_EXP_CREATE,
    Q_EXP_GET,
    Q_EXP_UPDATE,
    Q_EXP_DELETE,
    Q_EXP_LIST,
    Q_EXP_LOCK,
    Q_EXP_BUMP,
    Q_SHARE_ADD,
    Q_SHARE_DEL,
    Q_SHARE_CHECK,
    Q_RUN_LOCK,
    Q_RUN_ADD,
    Q_RUN_COUNT,
    Q_FILE_LOCK,
    Q_FILE_SET,
    Q_SERIES_GET,
    Q_SERIES_OF_RUN,
    Q_SERIES_ADD,
    Q_CONTENT_ADD,
    Q_TAG_COUNT,
    Q_SERIES_BUMP,
    Q_CHUNK_ADD,
    Q_TENSOR_ADD,
    Q_BLOBPT_ADD,
    Q_BLOB_PREPARE,
    Q_BLOB_CLAIM,
    Q_BLOB_KEEP_DATA,
    Q_BLOB_ADD,
    Q_BLOB_OWN,
    Q_RESTART_ADD,
    Q_SEQ_NEXT,
    Q_RUN_BYTES,
    Q_USER_CHARGE,
    Q_USER_USED,
    Q_CURSORS,
    Q_RUN_FIND,
    Q_RUN_DELETE_ID,
    Q_RUN_SHAS,
    Q_EXP_SHAS,
    Q_EXP_OWNED,
    Q_BLOB_LOCK,
    Q_BLOB_OWNED,
    Q_BLOB_DROP,
    Q_BLOB_ORPHAN,
    Q_OWNER_DEL,
    Q_EXP_RELEASE,
    Q_EXP_RECOUNT,
    Q_SERIES_LIST,
    Q_SERIES_SELECT,
    Q_SERIES_FIND,
    Q_RESTARTS,
    Q_CHUNKS,
    Q_SUMMARIES,
    Q_TENSOR_STEPS,
    Q_BLOB_STEPS,
    Q_TENSORS,
    Q_BLOBPTS,
    Q_BLOB_GET,
    Q_GC_PICK,
    Q_BLOB_GONE,
    Q_BLOB_KEEP,
    Q_CHECK,
    Q_COPY_MARK,
    Q_COPY_MARKS,
    Q__COUNT
};

#define USER_COLS                                                                                  \
    "u.id, u.name, u.disabled, u.is_admin, u.created, u.quota_bytes, u.used_bytes, "               \
    "u.password_hash"
#define EXP_COLS                                                                                   \
    "e.id, e.owner_id, u.name, e.name, e.description, e.visibility, e.created, e.updated,"         \
    " e.n_scalars, e.n_tensors, e.n_blobs, e.bytes,"                                               \
    " (SELECT count(*) FROM runs r WHERE r.experiment_id = e.id),"                                 \
    " (SELECT count(*) FROM series s JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = e.id)"
#define SERIES_COLS_WITH(content)                                                                  \
    "s.id, s.run_id, r.name, s.tag, s.plugin, s.display_name, s.description, " content ","         \
    " s.data_class, s.kind, s.source, s.dtype, s.points, coalesce(s.min_step, 0),"                 \
    " coalesce(s.max_step, 0)"
#define SERIES_FULL                                                                                \
    SERIES_COLS_WITH("coalesce(sc.content, ''::bytea)")                                            \
    " FROM series s JOIN runs r ON r.id = s.run_id"                                                \
    " LEFT JOIN series_content sc ON sc.series_id = s.id"
#define SERIES_LEAN SERIES_COLS_WITH("''::bytea") " FROM series s JOIN runs r ON r.id = s.run_id"

static const struct {
    const char *sql, *types;
} sql[Q__COUNT] = {
    [Q_USER_ADD] = {"INSERT INTO users(name, password_hash, is_admin, created)"
                    " VALUES($1, $2, $3, $4) RETURNING id",
                    "ttid"},
    [Q_USER_GET] = {"SELECT " USER_COLS " FROM users u WHERE u.name = $1", "t"},
    [Q_USER_GET_ID] = {"SELECT " USER_COLS " FROM users u WHERE u.id = $1", "i"},
    [Q_USER_LIST] = {"SELECT " USER_COLS " FROM users u ORDER BY u.name", ""},
    [Q_USER_DISABLE] = {"UPDATE users SET disabled = $2 WHERE name = $1", "ti"},
    [Q_USER_PASSWORD] = {"UPDATE users SET password_hash = $2 WHERE name = $1", "tt"},
    [Q_USER_QUOTA] = {"UPDATE users SET quota_bytes = $2 WHERE name = $1", "ti"},
    [Q_TOKEN_ADD] = {"INSERT INTO tokens(user_id, hash, name, prefix, created, expires)"
                     " VALUES($1, $2, $3, $4, $5, $6) RETURNING id",
                     "ibttdd"},
    [Q_TOKEN_LOOKUP] = {"SELECT t.id, " USER_COLS " FROM tokens t JOIN users u ON u.id ="
                        " t.user_id WHERE t.hash = $1 AND t.revoked IS NULL AND u.disabled = 0"
                        " AND (t.expires IS NULL OR t.expires > $2)",
                        "bd"},
    [Q_TOKEN_REVOKE] = {"UPDATE tokens SET revoked = $2 WHERE id = $1 AND revoked IS NULL", "id"},
    [Q_TOKEN_LIST] = {"SELECT t.id, t.user_id, u.name, t.name, t.prefix, t.created,"
                      " coalesce(t.last_used, 0), coalesce(t.revoked, 0), coalesce(t.expires, 0)"
                      " FROM tokens t JOIN users u ON u.id = t.user_id"
                      " WHERE $1::text IS NULL OR u.name = $1 ORDER BY t.id",
                      "t"},
    [Q_SESSION_ADD] = {"INSERT INTO sessions(hash, user_id, created, expires, client_ip,"
                       " user_agent) VALUES($1, $2, $3, $4, $5, $6)",
                       "biddtt"},
    [Q_SESSION_LOOKUP] = {"SELECT s.id, " USER_COLS " FROM sessions s JOIN users u"
                          " ON u.id = s.user_id"
                          " WHERE s.hash = $1 AND s.expires > $2 AND u.disabled = 0",
                          "bd"},
    [Q_SESSION_DELETE] = {"DELETE FROM sessions WHERE hash = $1", "b"},
    [Q_SESSION_LIST] = {"SELECT s.id, s.user_id, u.name, s.created, s.expires, s.client_ip,"
                        " s.user_agent FROM sessions s JOIN users u ON u.id = s.user_id"
                        " WHERE ($1::text IS NULL OR u.name = $1) AND s.expires > $2"
                        " ORDER BY s.created DESC, s.id DESC",
                        "td"},
    [Q_SESSION_REVOKE] = {"DELETE FROM sessions WHERE id = $1 AND ($2 = 0 OR user_id = $2)", "ii"},
    [Q_SESSION_END_USER] = {"DELETE FROM sessions WHERE user_id = (SELECT id FROM users"
                            " WHERE name = $1)",
                            "t"},
    [Q_SESSION_PURGE] = {"DELETE FROM sessions WHERE expires < $1", "d"},
    [Q_DEVICE_PENDING] = {"SELECT created, client_ip, client_version, client_host"
                          " FROM device_codes WHERE user_code = $1 AND expires > $2"
                          " AND user_id IS NULL",
                          "td"},
    [Q_DEVICE_ADD] = {"INSERT INTO device_codes(device_hash, user_code, expires, created,"
                      " client_ip, client_version, client_host) VALUES($1, $2, $3, $4, $5, $6,"
                      " $7)",
                      "btddttt"},
    [Q_DEVICE_APPROVE] = {"UPDATE device_codes SET user_id = $2 WHERE user_code = $1"
                          " AND expires > $3 AND user_id IS NULL",
                          "tid"},
    [Q_DEVICE_GET] = {"SELECT coalesce(user_id, 0), user_id IS NOT NULL, expires, created,"
                      " client_ip, client_version, client_host FROM device_codes"
                      " WHERE device_hash = $1",
                      "b"},
    [Q_DEVICE_DELETE] = {"DELETE FROM device_codes WHERE device_hash = $1", "b"},
    [Q_DEVICE_PURGE] = {"DELETE FROM device_codes WHERE expires < $1", "d"},
    [Q_EXP_CREATE] = {"INSERT INTO experiments(id, owner_id, name, description, visibility,"
                      " created, updated) VALUES($1, $2, $3, $4, $5, $6, $6)",
                      "tittid"},
    [Q_EXP_GET] = {"SELECT " EXP_COLS " FROM experiments e JOIN users u ON u.id = e.owner_id"
                   " WHERE e.id = $1",
                   "t"},
    [Q_EXP_UPDATE] = {"UPDATE experiments SET name = $2, description = $3, visibility = $4,"
                      " updated = $5 WHERE id = $1",
                      "tttid"},
    [Q_EXP_DELETE] = {"DELETE FROM experiments WHERE id = $1", "t"},
    [Q_EXP_LIST] = {"SELECT " EXP_COLS " FROM experiments e JOIN users u ON u.id = e.owner_id"
                    " WHERE e.owner_id = $1 AND ($2 = 0 OR e.visibility = 2)"
                    " ORDER BY e.updated DESC",
                    "ii"},
    /* the first lock of every write to an experiment */
    [Q_EXP_LOCK] = {"SELECT owner_id, bytes FROM experiments WHERE id = $1 FOR NO KEY UPDATE", "t"},
    [Q_EXP_BUMP] = {"UPDATE experiments SET updated = $2, n_scalars = n_scalars + $3,"
                    " n_tensors = n_tensors + $4, n_blobs = n_blobs + $5, bytes = bytes + $6"
                    " WHERE id = $1",
                    "tdiiii"},
    [Q_SHARE_ADD] = {"INSERT INTO shares(experiment_id, user_id) VALUES($1, $2)"
                     " ON CONFLICT DO NOTHING",
                     "ti"},
    [Q_SHARE_DEL] = {"DELETE FROM shares WHERE experiment_id = $1 AND user_id = $2", "ti"},
    [Q_SHARE_CHECK] = {"SELECT 1::int8 FROM shares WHERE experiment_id = $1 AND user_id = $2",
                       "ti"},
    [Q_RUN_LOCK] = {"SELECT id FROM runs WHERE experiment_id = $1 AND name = $2 FOR UPDATE", "tt"},
    [Q_RUN_ADD] = {"INSERT INTO runs(experiment_id, name) VALUES($1, $2) RETURNING id", "tt"},
    [Q_RUN_COUNT] = {"SELECT count(*) FROM runs WHERE experiment_id = $1", "t"},
    [Q_FILE_LOCK] = {"SELECT cursor, fp_len, fp FROM files WHERE run_id = $1 AND name = $2"
                     " FOR UPDATE",
                     "it"},
    [Q_FILE_SET] = {"INSERT INTO files(run_id, name, cursor, fp_len, fp) VALUES($1, $2, $3, $4,"
                    " $5) ON CONFLICT(run_id, name) DO UPDATE SET cursor = excluded.cursor,"
                    " fp = CASE WHEN files.fp_len = 0 THEN excluded.fp ELSE files.fp END,"
                    " fp_len = CASE WHEN files.fp_len = 0 THEN excluded.fp_len"
                    " ELSE files.fp_len END",
                    "itiii"},
    [Q_SERIES_GET] = {"SELECT id FROM series WHERE run_id = $1 AND tag = $2", "it"},
    [Q_SERIES_OF_RUN] = {"SELECT tag, id FROM series WHERE run_id = $1 LIMIT " STR(
                             SERIES_CACHE_MAX) " + 1",
                         "i"},
    [Q_SERIES_ADD] = {"INSERT INTO series(run_id, tag, plugin, display_name, description,"
                      " data_class, kind, source, dtype) VALUES($1, $2, $3, $4, $5, $6, $7, $8,"
                      " $9) RETURNING id",
                      "ittttiiii"},
    [Q_CONTENT_ADD] = {"INSERT INTO series_content(series_id, content) VALUES($1, $2)", "ib"},
    [Q_TAG_COUNT] = {"SELECT count(*) FROM series WHERE run_id = $1", "i"},
    [Q_SERIES_BUMP] = {"UPDATE series SET points = points + $2,"
                       " min_step = least(coalesce(min_step, $3), $3),"
                       " max_step = greatest(coalesce(max_step, $4), $4) WHERE id = $1",
                       "iiii"},
    [Q_CHUNK_ADD] = {"INSERT INTO scalar_chunks(series_id, seq, n, min_step, max_step, sorted,"
                     " summary, data) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
                     "iiiiiibb"},
    [Q_TENSOR_ADD] = {"INSERT INTO tensors(series_id, seq, step, wall_time, dtype, shape, data,"
                      " value_pb) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
                      "iiiditbb"},
    [Q_BLOBPT_ADD] = {"INSERT INTO blob_points(series_id, seq, step, wall_time, meta, shas,"
                      " value_pb) VALUES($1, $2, $3, $4, $5, $6, $7)",
                      "iiidtbb"},
    /* before an object is written: a row the collector will find (orphaned now) unless the
     * blob is there already; a row only when the object must be written */
    [Q_BLOB_PREPARE] = {"INSERT INTO blobs(sha, size, data, orphaned) VALUES($1, $2, NULL, $3)"
                        " ON CONFLICT(sha) DO UPDATE SET gone = false, orphaned = $3"
                        " WHERE blobs.gone RETURNING 1::int8",
                        "bid"},
    /* a batch's claim on a blob: waits for the collector's lock on its row, then says whether
     * the collector deleted its object (gone); then keeps it. Two statements: a lock in a CTE
     * of the INSERT would run after the INSERT changed the row, and see nothing. */
    [Q_BLOB_CLAIM] = {"SELECT gone FROM blobs WHERE sha = $1 FOR UPDATE", "b"},
    [Q_BLOB_KEEP_DATA] = {"UPDATE blobs SET orphaned = NULL, gone = false WHERE sha = $1", "b"},
    [Q_BLOB_ADD] = {"INSERT INTO blobs(sha, size, data) VALUES($1, $2, $3)"
                    " ON CONFLICT(sha) DO UPDATE SET orphaned = NULL, gone = false,"
                    " data = coalesce(blobs.data, excluded.data)",
                    "bib"},
    [Q_BLOB_OWN] = {"INSERT INTO blob_owners(experiment_id, sha) VALUES($1, $2)"
                    " ON CONFLICT DO NOTHING",
                    "tb"},
    [Q_RESTART_ADD] = {"INSERT INTO restarts(run_id, seq, step) VALUES($1, $2, $3)"
                       " ON CONFLICT DO NOTHING",
                       "iii"},
    [Q_SEQ_NEXT] = {"SELECT nextval('seqs')", ""},
    [Q_RUN_BYTES] = {"UPDATE runs SET bytes = bytes + $2 WHERE id = $1", "ii"},
    [Q_USER_CHARGE] = {"UPDATE users SET used_bytes = used_bytes + $2 WHERE id = $1"
                       " AND ($3 = 0 OR used_bytes + $2 <= $3)",
                       "iii"},
    [Q_USER_USED] = {"UPDATE users SET used_bytes = greatest(0, used_bytes + $2) WHERE id = $1",
                     "ii"},
    [Q_CURSORS] = {"SELECT r.name, f.name, f.cursor, f.fp_len, f.fp FROM files f"
                   " JOIN runs r ON r.id = f.run_id"
                   " WHERE r.experiment_id = $1 ORDER BY r.name, f.name",
                   "t"},
    [Q_RUN_FIND] = {"SELECT id, bytes FROM runs WHERE experiment_id = $1 AND name = $2"
                    " FOR UPDATE",
                    "tt"},
    [Q_RUN_DELETE_ID] = {"DELETE FROM runs WHERE id = $1", "i"},
    [Q_RUN_SHAS] = {"SELECT b.shas FROM blob_points b JOIN series s ON s.id = b.series_id"
                    " WHERE s.run_id = $1",
                    "i"},
    [Q_EXP_SHAS] = {"SELECT b.shas FROM blob_points b JOIN series s ON s.id = b.series_id"
                    " JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = $1",
                    "t"},
    [Q_EXP_OWNED] = {"SELECT sha FROM blob_owners WHERE experiment_id = $1", "t"},
    [Q_BLOB_LOCK] = {"SELECT size FROM blobs WHERE sha = $1 FOR UPDATE", "b"},
    [Q_BLOB_OWNED] = {"SELECT 1::int8 FROM blob_owners WHERE sha = $1 LIMIT 1", "b"},
    [Q_BLOB_DROP] = {"DELETE FROM blobs WHERE sha = $1", "b"},
    [Q_BLOB_ORPHAN] = {"UPDATE blobs SET orphaned = $2 WHERE sha = $1", "bd"},
    [Q_OWNER_DEL] = {"DELETE FROM blob_owners WHERE experiment_id = $1 AND sha = $2", "tb"},
    [Q_EXP_RELEASE] = {"UPDATE experiments SET bytes = greatest(0, bytes - $2) WHERE id = $1",
                       "ti"},
    [Q_EXP_RECOUNT] = {"UPDATE experiments SET"
                       " n_scalars = coalesce((SELECT sum(c.n) FROM scalar_chunks c JOIN series s"
                       "  ON s.id = c.series_id JOIN runs r ON r.id = s.run_id"
                       "  WHERE r.experiment_id = $1), 0),"
                       " n_tensors = (SELECT count(*) FROM tensors t JOIN series s"
                       "  ON s.id = t.series_id JOIN runs r ON r.id = s.run_id"
                       "  WHERE r.experiment_id = $1),"
                       " n_blobs = (SELECT count(*) FROM blob_points b JOIN series s"
                       "  ON s.id = b.series_id JOIN runs r ON r.id = s.run_id"
                       "  WHERE r.experiment_id = $1),"
                       " updated = $2 WHERE id = $1",
                       "td"},
    [Q_SERIES_LIST] = {"SELECT " SERIES_LEAN " WHERE r.experiment_id = $1 ORDER BY r.name, s.tag",
                       "t"},
    [Q_SERIES_SELECT] = {"SELECT " SERIES_FULL " WHERE r.experiment_id = $1"
                         " AND ($2::text IS NULL OR r.name = $2)"
                         " AND ($3::text IS NULL OR s.plugin = $3) ORDER BY r.name, s.tag",
                         "ttt"},
    [Q_SERIES_FIND] = {"SELECT " SERIES_FULL
                       " WHERE r.experiment_id = $1 AND r.name = $2 AND s.tag = $3",
                       "ttt"},
    [Q_RESTARTS] = {"SELECT seq, step FROM restarts WHERE run_id = $1 ORDER BY seq", "i"},
    [Q_CHUNKS] = {"SELECT seq, n, data FROM scalar_chunks WHERE series_id = $1 ORDER BY seq", "i"},
    [Q_SUMMARIES] = {"SELECT seq, n, min_step, max_step, sorted, substring(summary from 1 for"
                     " $2::int4) FROM scalar_chunks WHERE series_id = $1 ORDER BY seq",
                     "ii"},
    [Q_TENSOR_STEPS] = {"SELECT seq, step FROM tensors WHERE series_id = $1 ORDER BY seq", "i"},
    [Q_BLOB_STEPS] = {"SELECT seq, step FROM blob_points WHERE series_id = $1 ORDER BY seq", "i"},
    [Q_TENSORS] = {"SELECT seq, step, wall_time, dtype, shape, data, value_pb FROM tensors"
                   " WHERE series_id = $1 AND seq >= $2 ORDER BY seq",
                   "ii"},
    [Q_BLOBPTS] = {"SELECT seq, step, wall_time, meta, shas, value_pb FROM blob_points"
                   " WHERE series_id = $1 AND seq >= $2 ORDER BY seq",
                   "ii"},
    [Q_BLOB_GET] = {"SELECT b.data, b.size, b.data IS NULL FROM blobs b JOIN blob_owners o"
                    " ON o.sha = b.sha WHERE o.experiment_id = $1 AND o.sha = $2",
                    "tb"},
    /* the collector: blobs unreferenced for the grace period, locked (others skip them) */
    [Q_GC_PICK] = {"SELECT sha FROM blobs WHERE orphaned IS NOT NULL AND orphaned < $1"
                   " AND NOT gone ORDER BY orphaned LIMIT 200 FOR UPDATE SKIP LOCKED",
                   "d"},
    [Q_BLOB_GONE] = {"UPDATE blobs SET gone = true, orphaned = NULL WHERE sha = $1", "b"},
    [Q_BLOB_KEEP] = {"UPDATE blobs SET orphaned = NULL WHERE sha = $1", "b"},
    /* what integrity_check compares: each count is of rows that disagree */
    [Q_CHECK] =
        {"SELECT"
         " (SELECT count(*) FROM users u WHERE u.used_bytes <> coalesce((SELECT"
         "   sum(e.bytes) FROM experiments e WHERE e.owner_id = u.id), 0)),"
         " (SELECT count(*) FROM runs r WHERE r.bytes <> " RUN_BYTES_SQL(
             "r") "),"
                  " (SELECT count(*) FROM experiments e WHERE e.bytes <> coalesce((SELECT"
                  "   sum(r.bytes) FROM runs r WHERE r.experiment_id = e.id), 0)"
                  "   + coalesce((SELECT sum(" ROW " + b.size) FROM blob_owners o JOIN blobs b"
                  "   ON b.sha = o.sha WHERE o.experiment_id = e.id), 0)),"
                  " (SELECT count(*) FROM experiments e WHERE e.n_scalars <> coalesce((SELECT"
                  "   sum(c.n) FROM scalar_chunks c JOIN series s ON s.id = c.series_id JOIN runs"
                  "   r ON r.id = s.run_id WHERE r.experiment_id = e.id), 0)),"
                  " (SELECT count(*) FROM series s WHERE s.kind = 1 AND s.points <> coalesce("
                  "   (SELECT sum(c.n) FROM scalar_chunks c WHERE c.series_id = s.id), 0)),"
                  " (SELECT count(*) FROM blob_owners o JOIN blobs b ON b.sha = o.sha"
                  "   WHERE b.gone)",
         ""},
    /* a copy's progress (copy.c), kept in the destination with the rows it counts */
    [Q_COPY_MARK] = {"INSERT INTO tbdev_copy(name, key, rows, done) VALUES($1, $2, $3, $4 <> 0)"
                     " ON CONFLICT(name) DO UPDATE SET key = excluded.key, rows = excluded.rows,"
                     " done = excluded.done",
                     "tbii"},
    [Q_COPY_MARKS] = {"SELECT name, key, rows, done::int4::int8 FROM tbdev_copy ORDER BY name", ""},
};

/* A statement sent in pipeline mode whose answer is read later (pipe_sync). */
struct piped {
    int id;       /* enum stmt_id, or -1 for a statement of text alone */
    bool prepare; /* the statement's PQsendPrepare, not its execution */
    const char *text;
};
#define PIPE_MAX 64

/* A write's series ids by (run, tag), read once per locked run instead of once per tag: a
 * run's series change only under its row lock, which the write holds until its end. */
#define SERIES_CACHE_RUNS 8

struct conn {
    PGconn *pg;
    bool prepared[Q__COUNT];
    bool in_tx;
    struct piped piped[PIPE_MAX]; /* sent in pipeline mode, answers not read yet */
    int n_piped;
    struct tb_map series; /* "run id\x1ftag" -> series id, this transaction's */
    struct {
        int64_t run;
        bool whole; /* all its series are in the map (else: too many, looked up one by one) */
    } runs_read[SERIES_CACHE_RUNS];
    int n_runs_read;
    struct conn *next;
};

struct svc_store {
    char *url;
    struct svc_store_options opt;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards conns */
    struct conn *conns;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The one place SQLSTATEs become errnos. */
static int err_of(struct conn *c, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg)
        msg = PQerrorMessage(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK || !state) {
        svc_log_error("postgresql: %s: the connection failed: %s", what, msg);
        return -EBUSY; /* reset on the thread's next call */
    }
    if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
        !strcmp(state, "57014") || !strncmp(state, "57P", 3) || !strncmp(state, "08", 2)) {
        svc_log_warn("postgresql: %s: %s (SQLSTATE %s): answering 503", what, msg, state);
        return -EBUSY;
    }
    if (!strcmp(state, "53100")) {
        svc_log_error("postgresql: %s: the disk is full", what);
        return -ENOSPC;
    }
    if (!strcmp(state, "53200"))
        return -ENOMEM;
    if (!strcmp(state, "23505"))
        return -EEXIST;
    if (!strcmp(state, "23503"))
        return -ENOENT; /* a row it refers to was deleted meanwhile */
    if (!strcmp(state, "54000"))
        return -E2BIG;
    svc_log_error("postgresql: %s: %s (SQLSTATE %s)", what, msg, state);
    return -EIO;
}

/* --- parameters: binary int8, float8 and bytea, text as text --- */

#define MAX_PARAMS 12

struct pp {
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS], fmt[MAX_PARAMS];
    uint64_t word[MAX_PARAMS];
    int n;
};

static void p_i64(struct pp *p, int64_t x)
{
    p->word[p->n] = htobe64((uint64_t)x);
    p->v[p->n] = (const char *)&p->word[p->n];
    p->len[p->n] = 8;
    p->fmt[p->n++] = 1;
}

static void p_f64(struct pp *p, double x)
{
    uint64_t w;
    memcpy(&w, &x, 8);
    p->word[p->n] = htobe64(w);
    p->v[p->n] = (const char *)&p->word[p->n];
    p->len[p->n] = 8;
    p->fmt[p->n++] = 1;
}

/* NULL when x is 0: SQL NULL (an unset time). */
static void p_f64_or_null(struct pp *p, double x)
{
    if (x > 0) {
        p_f64(p, x);
        return;
    }
    p->v[p->n] = NULL;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 1;
}

static void p_text(struct pp *p, const char *s)
{
    p->v[p->n] = s; /* NULL: SQL NULL */
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

static void p_bytes(struct pp *p, const void *d, size_t len)
{
    p->v[p->n] = d ? (const char *)d : "";
    p->len[p->n] = (int)len;
    p->fmt[p->n++] = 1;
}

/* --- results, binary --- */

static int64_t col_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    uint64_t x = 0;
    for (int i = 0; i < len && i < 8; i++)
        x = (x << 8) | v[i];
    if (len == 4)
        return (int32_t)x;
    if (len == 2)
        return (int16_t)x;
    return (int64_t)x;
}

static double col_f64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    uint64_t w;
    memcpy(&w, PQgetvalue(r, row, col), 8);
    w = be64toh(w);
    double d;
    memcpy(&d, &w, 8);
    return d;
}

static const char *col_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

static void copy_text(char *dst, size_t size, const PGresult *r, int row, int col)
{
    snprintf(dst, size, "%s", col_text(r, row, col));
}

static const uint8_t *col_bytes(const PGresult *r, int row, int col, size_t *len)
{
    *len = (size_t)PQgetlength(r, row, col);
    return (const uint8_t *)PQgetvalue(r, row, col);
}

/* --- connections --- */

static void series_cache_clear(struct conn *c)
{
    tb_map_done(&c->series);
    tb_map_init(&c->series);
    c->n_runs_read = 0;
}

static void conn_close_pg(struct conn *c)
{
    PQfinish(c->pg);
    c->pg = NULL;
    memset(c->prepared, 0, sizeof(c->prepared));
    c->in_tx = false;
    c->n_piped = 0;
    series_cache_clear(c);
}

static int conn_open_pg(struct svc_store *s, struct conn *c)
{
    c->pg = PQconnectdb(s->url);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        /* libpq's message names the host and the problem, never the password */
        svc_log_error("postgresql: cannot connect: %s",
                      c->pg ? PQerrorMessage(c->pg) : "out of memory");
        conn_close_pg(c);
        return -EBUSY;
    }
    char set[160];
    snprintf(set, sizeof(set),
             "SET lock_timeout = %d; SET application_name = 'tbdev-server';"
             " SET client_min_messages = warning",
             s->opt.busy_timeout_ms > 0 ? s->opt.busy_timeout_ms : 5000);
    PGresult *r = PQexec(c->pg, set);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        svc_log_error("postgresql: cannot set up the connection: %s", PQerrorMessage(c->pg));
        conn_close_pg(c);
        return -EIO;
    }
    return 0;
}

static void conn_release(void *p)
{
    (void)p; /* connections are closed by close(), which knows them all */
}

static struct conn *conn_get(struct svc_store *s)
{
    struct conn *c = pthread_getspecific(s->key);
    if (c && c->pg && PQstatus(c->pg) != CONNECTION_OK)
        conn_close_pg(c); /* lost (a restart of the database): connect again */
    if (c && !c->pg && conn_open_pg(s, c) < 0)
        return NULL;
    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (conn_open_pg(s, c) < 0) {
        free(c);
        return NULL;
    }
    pthread_setspecific(s->key, c);
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    return c;
}

#define CONN(s)                                                                                    \
    struct conn *c = conn_get(s);                                                                  \
    if (!c)                                                                                        \
        return -EBUSY;

static Oid oid_of(char t)
{
    switch (t) {
    case 'i':
        return 20; /* int8 */
    case 'd':
        return 701; /* float8 */
    case 't':
        return 25; /* text */
    default:
        return 17; /* bytea */
    }
}

/*
 * Pipelining (libpq's pipeline mode, libpq 14 and later): a write's statements whose answers
 * store.c does not wait for (a row count it ignores: the cursor, counters and charges it sets)
 * are sent at once with ex_piped, and their answers read with the next statement that is
 * waited for, in the same round trip (pipe_sync), so that a batch costs a few round trips
 * rather than one per statement. They run in the same transaction in the order sent; the
 * first error among them is the error of the statement waited for, so the transaction is
 * rolled back as before (write_batch's contract is unchanged). COPY and plain statements
 * (exec_sql) read the pipelined answers first (pipe_flush).
 */
static int pipe_flush(struct conn *c);
static int pipe_sync(struct conn *c, int id, const char *text, const struct pp *p, PGresult **ret);

static void stmt_name(enum stmt_id id, char name[16])
{
    snprintf(name, 16, "q%d", (int)id);
}

/*
 * Runs statement id with p's parameters. Returns the rows it returned or changed (and the
 * result in *ret, which the caller clears, when ret is not NULL) or -errno.
 */
static int ex(struct conn *c, enum stmt_id id, const struct pp *p, PGresult **ret)
{
    if (c->n_piped)
        return pipe_sync(c, (int)id, NULL, p, ret);
    char name[16];
    snprintf(name, sizeof(name), "q%d", (int)id);
    if (!c->prepared[id]) {
        Oid types[MAX_PARAMS];
        int n = (int)strlen(sql[id].types);
        for (int i = 0; i < n; i++)
            types[i] = oid_of(sql[id].types[i]);
        PGresult *r = PQprepare(c->pg, name, sql[id].sql, n, types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            int err = err_of(c, r, "preparing a statement");
            PQclear(r);
            return err;
        }
        PQclear(r);
        c->prepared[id] = true;
    }
    PGresult *r = PQexecPrepared(c->pg, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                                 p ? p->fmt : NULL, 1);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        int err = err_of(c, r, sql[id].sql);
        PQclear(r);
        return err;
    }
    int n = st == PGRES_TUPLES_OK ? PQntuples(r) : atoi(PQcmdTuples(r));
    if (ret)
        *ret = r;
    else
        PQclear(r);
    return n;
}

/* Runs statements with no parameters (transaction control, migrations). */
static int exec_sql(struct conn *c, const char *q)
{
    int e = pipe_flush(c);
    if (e < 0)
        return e;
    PGresult *r = PQexec(c->pg, q);
    ExecStatusType st = PQresultStatus(r);
    int err = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : err_of(c, r, q);
    PQclear(r);
    return err;
}

#ifdef LIBPQ_HAS_PIPELINING
static int pipe_push(struct conn *c, int id, bool prepare, const char *text)
{
    c->piped[c->n_piped++] = (struct piped){.id = id, .prepare = prepare, .text = text};
    return 0;
}

/* Sends statement id (or text, without parameters, when id < 0) in pipeline mode. */
static int pipe_send(struct conn *c, int id, const char *text, const struct pp *p)
{
    if (!c->n_piped && PQenterPipelineMode(c->pg) != 1)
        return err_of(c, NULL, "entering pipeline mode");
    if (id < 0) {
        if (PQsendQueryParams(c->pg, text, 0, NULL, NULL, NULL, NULL, 1) != 1)
            return err_of(c, NULL, text);
        return pipe_push(c, id, false, text);
    }
    char name[16];
    stmt_name((enum stmt_id)id, name);
    if (!c->prepared[id]) {
        Oid types[MAX_PARAMS];
        int n = (int)strlen(sql[id].types);
        for (int i = 0; i < n; i++)
            types[i] = oid_of(sql[id].types[i]);
        if (PQsendPrepare(c->pg, name, sql[id].sql, n, types) != 1)
            return err_of(c, NULL, "preparing a statement");
        c->prepared[id] = true; /* unset again if its answer is an error */
        pipe_push(c, id, true, sql[id].sql);
    }
    if (PQsendQueryPrepared(c->pg, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                            p ? p->fmt : NULL, 1) != 1)
        return err_of(c, NULL, sql[id].sql);
    return pipe_push(c, id, false, sql[id].sql);
}

/*
 * Sends a sync and reads every pipelined answer, then leaves pipeline mode. The last
 * statement's result goes to *ret when ret is not NULL (and *ret_n its rows). Returns 0 or
 * the first error; a connection that breaks on the way is closed (-EBUSY).
 */
static int pipe_read(struct conn *c, PGresult **ret, int *ret_n)
{
    int err = 0, n = c->n_piped;
    if (ret)
        *ret = NULL;
    if (PQpipelineSync(c->pg) != 1) {
        err = err_of(c, NULL, "pipeline sync");
        conn_close_pg(c);
        return err;
    }
    for (int i = 0; i < n; i++) {
        const struct piped *q = &c->piped[i];
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (!err)
                err = err_of(c, NULL, q->text);
            conn_close_pg(c);
            return err;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            if (i == n - 1 && ret_n)
                *ret_n = st == PGRES_TUPLES_OK ? PQntuples(r) : atoi(PQcmdTuples(r));
            if (i == n - 1 && ret) {
                *ret = r;
                r = NULL;
            }
        } else {
            if (q->prepare && q->id >= 0)
                c->prepared[q->id] = false;
            if (st != PGRES_PIPELINE_ABORTED && !err)
                err = err_of(c, r, q->text);
            else if (!err)
                err = -EIO; /* aborted by an error not seen: not expected */
        }
        PQclear(r);
        while ((r = PQgetResult(c->pg))) /* the NULL that ends each statement's answers */
            PQclear(r);
    }
    PGresult *r = PQgetResult(c->pg);
    bool synced = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    c->n_piped = 0;
    if (!synced || PQexitPipelineMode(c->pg) != 1) {
        if (!err)
            err = err_of(c, NULL, "leaving pipeline mode");
        conn_close_pg(c);
    }
    if (err && ret && *ret) {
        PQclear(*ret);
        *ret = NULL;
    }
    return err;
}

static int ex_piped(struct conn *c, enum stmt_id id, const struct pp *p)
{
    if (c->n_piped + 2 > PIPE_MAX) {
        int err = pipe_flush(c);
        if (err < 0)
            return err;
    }
    int err = pipe_send(c, (int)id, NULL, p);
    if (err < 0) {
        conn_close_pg(c); /* only a broken connection refuses to send */
        return err;
    }
    return 0;
}

static int pipe_flush(struct conn *c)
{
    return c->n_piped ? pipe_read(c, NULL, NULL) : 0;
}

/* Sends statement id (or text) after the pipelined ones and reads every answer: ex's result. */
static int pipe_sync(struct conn *c, int id, const char *text, const struct pp *p, PGresult **ret)
{
    int err = pipe_send(c, id, text, p);
    if (err < 0) {
        conn_close_pg(c);
        return err;
    }
    int n = 0;
    err = pipe_read(c, ret, &n);
    return err < 0 ? err : n;
}
#else
static int ex_piped(struct conn *c, enum stmt_id id, const struct pp *p)
{
    int n = ex(c, id, p, NULL);
    return n < 0 ? n : 0;
}

static int pipe_flush(struct conn *c)
{
    (void)c;
    return 0;
}

static int pipe_sync(struct conn *c, int id, const char *text, const struct pp *p, PGresult **ret)
{
    (void)c, (void)id, (void)text, (void)p, (void)ret;
    return -EIO; /* never called: nothing is pipelined */
}
#endif

static int begin(struct conn *c)
{
    if (c->in_tx)
        exec_sql(c, "ROLLBACK"); /* a transaction some path left open */
    c->in_tx = false;
    series_cache_clear(c);
#ifdef LIBPQ_HAS_PIPELINING
    /* sent with the transaction's first statement (its answer read with that one's) */
    int err = pipe_flush(c);
    if (!err && (err = pipe_send(c, -1, "BEGIN", NULL)) < 0)
        conn_close_pg(c);
#else
    int err = exec_sql(c, "BEGIN");
#endif
    if (!err)
        c->in_tx = true;
    return err;
}

static int end(struct conn *c, int err)
{
    series_cache_clear(c);
    if (!c->in_tx)
        return err;
    c->in_tx = false;
    if (err < 0) {
        pipe_flush(c); /* its error, if any, is err's cause or comes after it */
        if (c->pg && exec_sql(c, "ROLLBACK") < 0)
            conn_close_pg(c); /* never leave a transaction open on the thread's connection */
        return err;
    }
    /* the pipelined statements' answers and the commit's in one round trip */
    int e = c->n_piped ? pipe_sync(c, -1, "COMMIT", NULL, NULL) : exec_sql(c, "COMMIT");
    if (e > 0)
        e = 0;
    if (e < 0 && c->pg && PQtransactionStatus(c->pg) == PQTRANS_INERROR &&
        exec_sql(c, "ROLLBACK") < 0)
        conn_close_pg(c);
    if (e < 0 && (!c->pg || PQtransactionStatus(c->pg) != PQTRANS_IDLE))
        conn_close_pg(c);
    return e;
}

/* --- open, close, migrate --- */

static int pg_open(const char *url, const struct svc_store_options *opt, struct svc_store **ret)
{
    struct svc_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->url = strdup(url);
    if (opt)
        s->opt = *opt;
    if (!s->url || pthread_key_create(&s->key, conn_release) != 0) {
        free(s->url);
        free(s);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    if (!conn_get(s)) {
        pthread_key_delete(s->key);
        pthread_mutex_destroy(&s->lock);
        free(s->url);
        free(s);
        return -ECONNREFUSED;
    }
    *ret = s;
    return 0;
}

static void pg_close(struct svc_store *s)
{
    if (!s)
        return;
    struct conn *c = s->conns;
    while (c) {
        struct conn *next = c->next;
        conn_close_pg(c);
        free(c);
        c = next;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    free(s->url);
    free(s);
}

/* Numbered migrations, applied in one transaction under an advisory lock: servers that start
 * together wait for each other, and the second finds the schema up to date. */
static int pg_migrate(struct svc_store *s, int *ret_from, int *ret_to)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    err = exec_sql(
        c, "SELECT pg_advisory_xact_lock(" STR(
               MIGRATE_LOCK) ");"
                             " CREATE TABLE IF NOT EXISTS tbdev_schema(version int8 NOT NULL)");
    int version = 0;
    if (!err) {
        PGresult *r =
            PQexecParams(c->pg, "SELECT version FROM tbdev_schema", 0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            err = err_of(c, r, "schema version");
        else if (PQntuples(r) > 0)
            version = (int)col_i64(r, 0, 0);
        else
            err = exec_sql(c, "INSERT INTO tbdev_schema VALUES(0)");
        PQclear(r);
    }
    if (!err && version > SCHEMA_VERSION) {
        svc_log_error("the database is at schema version %d, newer than this server's %d; "
                      "upgrade tbdev-server",
                      version, SCHEMA_VERSION);
        return end(c, -EPROTO);
    }
    if (ret_from)
        *ret_from = version;
    for (int v = version; v < SCHEMA_VERSION && !err; v++) {
        for (int k = 0; k < 4 && migrations[v][k] && !err; k++)
            err = exec_sql(c, migrations[v][k]);
        if (!err) {
            char q[64];
            snprintf(q, sizeof(q), "UPDATE tbdev_schema SET version = %d", v + 1);
            err = exec_sql(c, q);
        }
    }
    if (ret_to)
        *ret_to = SCHEMA_VERSION;
    return end(c, err);
}

static int pg_backup(struct svc_store *s, const char *to)
{
    (void)s;
    (void)to;
    return -ENOTSUP;
}

static int pg_integrity(struct svc_store *s, char *msg, size_t len)
{
    CONN(s);
    PGresult *r = NULL;
    int n = ex(c, Q_CHECK, NULL, &r);
    if (n < 0) {
        snprintf(msg, len, "cannot run the check: %s", strerror(-n));
        return n;
    }
    static const char *const what[] = {
        "users whose used bytes differ from their experiments'",
        "runs whose bytes differ from their rows'",
        "experiments whose bytes differ from their runs' and blobs'",
        "experiments whose scalar count differs from their chunks'",
        "scalar series whose point count differs from their chunks'",
        "blobs owned by an experiment whose object was collected",
    };
    msg[0] = 0;
    for (int i = 0; i < 6; i++) {
        int64_t bad = col_i64(r, 0, i);
        if (bad) {
            size_t at = strlen(msg);
            snprintf(msg + at, len - at, "%s%lld %s", at ? "; " : "", (long long)bad, what[i]);
        }
    }
    PQclear(r);
    if (!msg[0]) {
        snprintf(msg, len, "ok");
        return 0;
    }
    return -EIO;
}

/* --- users, tokens, sessions, device codes --- */

static void read_user(const PGresult *r, int row, int col, struct svc_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = col_i64(r, row, col);
    copy_text(u->name, sizeof(u->name), r, row, col + 1);
    u->disabled = col_i64(r, row, col + 2) != 0;
    u->is_admin = col_i64(r, row, col + 3) != 0;
    u->created = col_f64(r, row, col + 4);
    u->quota_bytes = (uint64_t)col_i64(r, row, col + 5);
    u->used_bytes = (uint64_t)col_i64(r, row, col + 6);
    copy_text(u->password_hash, sizeof(u->password_hash), r, row, col + 7);
}

static int pg_user_add(struct svc_store *s, const char *name, const char *hash, bool admin,
                       int64_t *ret_id)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, name);
    p_text(&p, hash ? hash : "");
    p_i64(&p, admin);
    p_f64(&p, now_s());
    PGresult *r = NULL;
    int n = ex(c, Q_USER_ADD, &p, &r);
    if (n < 0)
        return n;
    if (ret_id)
        *ret_id = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int user_query(struct svc_store *s, enum stmt_id id, const char *name, int64_t uid,
                      struct svc_user *ret)
{
    /* a name that is not UTF-8 names nobody (PostgreSQL refuses it as a parameter: a 500) */
    if (name && !tb_utf8_valid(name, strlen(name)))
        return -ENOENT;
    CONN(s);
    struct pp p = {0};
    if (name)
        p_text(&p, name);
    else
        p_i64(&p, uid);
    PGresult *r = NULL;
    int n = ex(c, id, &p, &r);
    if (n < 0)
        return n;
    if (n > 0)
        read_user(r, 0, 0, ret);
    PQclear(r);
    return n > 0 ? 0 : -ENOENT;
}

static int pg_user_get(struct svc_store *s, const char *name, struct svc_user *ret)
{
    return user_query(s, Q_USER_GET, name, 0, ret);
}

static int pg_user_get_id(struct svc_store *s, int64_t id, struct svc_user *ret)
{
    return user_query(s, Q_USER_GET_ID, NULL, id, ret);
}

static int pg_user_list(struct svc_store *s, int (*cb)(void *, const struct svc_user *), void *ctx)
{
    CONN(s);
    PGresult *r = NULL;
    int n = ex(c, Q_USER_LIST, NULL, &r);
    if (n < 0)
        return n;
    int i;
    for (i = 0; i < n; i++) {
        struct svc_user u;
        read_user(r, i, 0, &u);
        if (cb(ctx, &u)) {
            i++;
            break;
        }
    }
    PQclear(r);
    return i;
}

/* One statement of a text key and an int or text value; -ENOENT if it changed no row. */
static int update_by_name(struct svc_store *s, enum stmt_id id, const char *name, int64_t int_val,
                          const char *text_val)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, name);
    if (text_val)
        p_text(&p, text_val);
    else
        p_i64(&p, int_val);
    int n = ex(c, id, &p, NULL);
    return n < 0 ? n : n == 0 ? -ENOENT : 0;
}

static int pg_user_set_quota(struct svc_store *s, const char *name, uint64_t quota)
{
    return update_by_name(s, Q_USER_QUOTA, name, (int64_t)quota, NULL);
}

static int pg_user_set_disabled(struct svc_store *s, const char *name, bool disabled)
{
    return update_by_name(s, Q_USER_DISABLE, name, disabled, NULL);
}

static int pg_user_set_password(struct svc_store *s, const char *name, const char *hash)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    err = update_by_name(s, Q_USER_PASSWORD, name, 0, hash);
    if (!err) {
        struct pp p = {0};
        p_text(&p, name);
        int n = ex(c, Q_SESSION_END_USER, &p, NULL);
        err = n < 0 ? n : 0;
    }
    return end(c, err);
}

static int token_add(struct svc_store *s, int64_t uid, const uint8_t hash[32], const char *name,
                     const char *prefix, double expires, int64_t *ret_id)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, uid);
    p_bytes(&p, hash, 32);
    p_text(&p, name ? name : "");
    p_text(&p, prefix);
    p_f64(&p, now_s());
    p_f64_or_null(&p, expires);
    PGresult *r = NULL;
    int n = ex(c, Q_TOKEN_ADD, &p, &r);
    if (n < 0)
        return n;
    if (ret_id)
        *ret_id = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_token_add(struct svc_store *s, int64_t uid, const uint8_t hash[32], const char *name,
                        const char *prefix, int64_t *ret_id)
{
    return token_add(s, uid, hash, name, prefix, 0, ret_id);
}

static int pg_token_add_expiring(struct svc_store *s, int64_t uid, const uint8_t hash[32],
                                 const char *name, const char *prefix, double expires,
                                 int64_t *ret_id)
{
    return token_add(s, uid, hash, name, prefix, expires, ret_id);
}

/* A lookup by a 32-byte hash and the time: 0 with the row's id and user, or -ENOENT. */
static int hash_lookup(struct svc_store *s, enum stmt_id id, const uint8_t hash[32],
                       struct svc_user *ret, int64_t *ret_id)
{
    CONN(s);
    struct pp p = {0};
    p_bytes(&p, hash, 32);
    p_f64(&p, now_s());
    PGresult *r = NULL;
    int n = ex(c, id, &p, &r);
    if (n < 0)
        return n;
    if (n > 0) {
        if (ret_id)
            *ret_id = col_i64(r, 0, 0);
        read_user(r, 0, 1, ret);
    }
    PQclear(r);
    return n > 0 ? 0 : -ENOENT;
}

static int pg_token_lookup(struct svc_store *s, const uint8_t hash[32], struct svc_user *ret,
                           int64_t *ret_token)
{
    return hash_lookup(s, Q_TOKEN_LOOKUP, hash, ret, ret_token);
}

static int pg_token_revoke(struct svc_store *s, int64_t id)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, id);
    p_f64(&p, now_s());
    int n = ex(c, Q_TOKEN_REVOKE, &p, NULL);
    return n < 0 ? n : n == 0 ? -ENOENT : 0;
}

static int pg_token_list(struct svc_store *s, const char *user,
                         int (*cb)(void *, const struct svc_token_info *), void *ctx)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, user);
    PGresult *r = NULL;
    int n = ex(c, Q_TOKEN_LIST, &p, &r);
    if (n < 0)
        return n;
    int i;
    for (i = 0; i < n; i++) {
        struct svc_token_info t = {0};
        t.id = col_i64(r, i, 0);
        t.user_id = col_i64(r, i, 1);
        copy_text(t.user, sizeof(t.user), r, i, 2);
        copy_text(t.name, sizeof(t.name), r, i, 3);
        copy_text(t.prefix, sizeof(t.prefix), r, i, 4);
        t.created = col_f64(r, i, 5);
        t.last_used = col_f64(r, i, 6);
        t.revoked = col_f64(r, i, 7);
        t.expires = col_f64(r, i, 8);
        if (cb(ctx, &t)) {
            i++;
            break;
        }
    }
    PQclear(r);
    return i;
}

static int pg_session_add(struct svc_store *s, const uint8_t hash[32], int64_t uid, double exp,
                          const struct svc_session_info *info)
{
    CONN(s);
    struct pp p = {0};
    p_bytes(&p, hash, 32);
    p_i64(&p, uid);
    p_f64(&p, now_s());
    p_f64(&p, exp);
    p_text(&p, info ? info->client_ip : "");
    p_text(&p, info ? info->user_agent : "");
    int n = ex(c, Q_SESSION_ADD, &p, NULL);
    return n < 0 ? n : 0;
}

static int pg_session_lookup(struct svc_store *s, const uint8_t hash[32], struct svc_user *ret,
                             int64_t *ret_id)
{
    return hash_lookup(s, Q_SESSION_LOOKUP, hash, ret, ret_id);
}

static int pg_session_delete(struct svc_store *s, const uint8_t hash[32])
{
    CONN(s);
    struct pp p = {0};
    p_bytes(&p, hash, 32);
    int n = ex(c, Q_SESSION_DELETE, &p, NULL);
    return n < 0 ? n : 0;
}

static int pg_session_list(struct svc_store *s, const char *user,
                           int (*cb)(void *, const struct svc_session_info *), void *ctx)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, user);
    p_f64(&p, now_s());
    PGresult *r = NULL;
    int n = ex(c, Q_SESSION_LIST, &p, &r);
    if (n < 0)
        return n;
    int i;
    for (i = 0; i < n; i++) {
        struct svc_session_info t = {0};
        t.id = col_i64(r, i, 0);
        t.user_id = col_i64(r, i, 1);
        copy_text(t.user, sizeof(t.user), r, i, 2);
        t.created = col_f64(r, i, 3);
        t.expires = col_f64(r, i, 4);
        copy_text(t.client_ip, sizeof(t.client_ip), r, i, 5);
        copy_text(t.user_agent, sizeof(t.user_agent), r, i, 6);
        if (cb(ctx, &t)) {
            i++;
            break;
        }
    }
    PQclear(r);
    return i;
}

static int pg_session_revoke(struct svc_store *s, int64_t id, int64_t uid)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, id);
    p_i64(&p, uid);
    int n = ex(c, Q_SESSION_REVOKE, &p, NULL);
    return n < 0 ? n : n == 0 ? -ENOENT : 0;
}

static void read_device(const PGresult *r, int col, struct svc_device_info *d)
{
    memset(d, 0, sizeof(*d));
    d->created = col_f64(r, 0, col);
    copy_text(d->client_ip, sizeof(d->client_ip), r, 0, col + 1);
    copy_text(d->client_version, sizeof(d->client_version), r, 0, col + 2);
    copy_text(d->client_host, sizeof(d->client_host), r, 0, col + 3);
}

static int pg_device_add(struct svc_store *s, const uint8_t hash[32], const char *code, double exp,
                         const struct svc_device_info *info)
{
    CONN(s);
    struct pp p = {0};
    p_bytes(&p, hash, 32);
    p_text(&p, code);
    p_f64(&p, exp);
    p_f64(&p, info ? info->created : now_s());
    p_text(&p, info ? info->client_ip : "");
    p_text(&p, info ? info->client_version : "");
    p_text(&p, info ? info->client_host : "");
    int n = ex(c, Q_DEVICE_ADD, &p, NULL);
    return n < 0 ? n : 0;
}

static int pg_device_pending(struct svc_store *s, const char *code, struct svc_device_info *ret)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, code);
    p_f64(&p, now_s());
    PGresult *r = NULL;
    int n = ex(c, Q_DEVICE_PENDING, &p, &r);
    if (n < 0)
        return n;
    if (n > 0)
        read_device(r, 0, ret);
    PQclear(r);
    return n > 0 ? 0 : -ENOENT;
}

static int pg_device_approve(struct svc_store *s, const char *code, int64_t uid)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, code);
    p_i64(&p, uid);
    p_f64(&p, now_s());
    int n = ex(c, Q_DEVICE_APPROVE, &p, NULL);
    return n < 0 ? n : n == 0 ? -ENOENT : 0;
}

static int pg_device_take(struct svc_store *s, const uint8_t hash[32], double now,
                          struct svc_user *ret, struct svc_device_info *ret_info)
{
    CONN(s);
    struct pp p = {0};
    p_bytes(&p, hash, 32);
    PGresult *r = NULL;
    int n = ex(c, Q_DEVICE_GET, &p, &r);
    if (n <= 0) {
        PQclear(r); /* no row is a result too */
        return n < 0 ? n : -ENOENT;
    }
    int64_t uid = col_i64(r, 0, 0);
    bool approved = col_i64(r, 0, 1) != 0;
    double expires = col_f64(r, 0, 2);
    struct svc_device_info info;
    read_device(r, 3, &info);
    PQclear(r);
    if (expires <= now)
        return -ENOENT;
    if (!approved)
        return 0;
    /* Only the poll whose DELETE removed the row takes the code (another server may poll). */
    n = ex(c, Q_DEVICE_DELETE, &p, NULL);
    if (n <= 0)
        return n < 0 ? n : -ENOENT;
    int err = pg_user_get_id(s, uid, ret);
    if (err < 0)
        return err;
    if (ret_info)
        *ret_info = info;
    return 1;
}

/* --- experiments --- */

static void read_experiment(const PGresult *r, int row, struct svc_experiment *e)
{
    memset(e, 0, sizeof(*e));
    copy_text(e->id, sizeof(e->id), r, row, 0);
    e->owner_id = col_i64(r, row, 1);
    copy_text(e->owner, sizeof(e->owner), r, row, 2);
    copy_text(e->name, sizeof(e->name), r, row, 3);
    copy_text(e->description, sizeof(e->description), r, row, 4);
    e->visibility = (enum svc_visibility)col_i64(r, row, 5);
    e->created = col_f64(r, row, 6);
    e->updated = col_f64(r, row, 7);
    e->usage.scalars = (uint64_t)col_i64(r, row, 8);
    e->usage.tensors = (uint64_t)col_i64(r, row, 9);
    e->usage.blobs = (uint64_t)col_i64(r, row, 10);
    e->usage.bytes = (uint64_t)col_i64(r, row, 11);
    e->usage.runs = (uint64_t)col_i64(r, row, 12);
    e->usage.tags = (uint64_t)col_i64(r, row, 13);
}

static int pg_exp_create(struct svc_store *s, const struct svc_experiment *e)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, e->id);
    p_i64(&p, e->owner_id);
    p_text(&p, e->name);
    p_text(&p, e->description);
    p_i64(&p, e->visibility);
    p_f64(&p, e->created);
    int n = ex(c, Q_EXP_CREATE, &p, NULL);
    return n < 0 ? n : 0;
}

static int pg_exp_get(struct svc_store *s, const char *id, struct svc_experiment *ret)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, id);
    PGresult *r = NULL;
    int n = ex(c, Q_EXP_GET, &p, &r);
    if (n < 0)
        return n;
    if (n > 0)
        read_experiment(r, 0, ret);
    PQclear(r);
    return n > 0 ? 0 : -ENOENT;
}

static int share_one(struct conn *c, bool shared, const char *exp, int64_t uid)
{
    struct pp p = {0};
    p_text(&p, exp);
    p_i64(&p, uid);
    int n = ex(c, shared ? Q_SHARE_ADD : Q_SHARE_DEL, &p, NULL);
    return n < 0 ? n : 0;
}

static int pg_exp_update(struct svc_store *s, const struct svc_experiment *e, const int64_t *share,
                         size_t n_share, const int64_t *unshare, size_t n_unshare)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    struct pp p = {0};
    p_text(&p, e->id);
    p_text(&p, e->name);
    p_text(&p, e->description);
    p_i64(&p, e->visibility);
    p_f64(&p, now_s());
    int n = ex(c, Q_EXP_UPDATE, &p, NULL);
    err = n < 0 ? n : n == 0 ? -ENOENT : 0;
    for (size_t i = 0; i < n_share && !err; i++)
        err = share_one(c, true, e->id, share[i]);
    for (size_t i = 0; i < n_unshare && !err; i++)
        err = share_one(c, false, e->id, unshare[i]);
    return end(c, err);
}

static int cmp_sha(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Appends the hashes in column 0 of each row of r (a bytea of 32-byte hashes) to *list. */
static int collect_shas(const PGresult *r, int n, uint8_t (**list)[32], size_t *len, size_t *cap)
{
    for (int i = 0; i < n; i++) {
        size_t bytes;
        const uint8_t *d = col_bytes(r, i, 0, &bytes);
        size_t k = bytes / 32;
        if (*len + k > *cap) {
            size_t nc = *cap ? *cap : 64;
            while (nc < *len + k)
                nc *= 2;
            void *np = realloc(*list, nc * 32);
            if (!np)
                return -ENOMEM;
            *list = np;
            *cap = nc;
        }
        if (k)
            memcpy((*list)[*len], d, 32 * k);
        *len += k;
    }
    return 0;
}

/* Lets go of a blob no experiment owns any more (its row locked first, then its owners counted
 * again, so that a batch that claimed it meanwhile keeps it): in the database, its row goes;
 * with an object store, the row is marked orphaned, and the collector deletes the object after
 * the grace period (a batch may have written it for itself just now). Returns its size. */
static int release_blob(struct svc_store *s, struct conn *c, const uint8_t sha[32],
                        uint64_t *ret_size)
{
    struct pp p = {0};
    p_bytes(&p, sha, 32);
    PGresult *r = NULL;
    int n = ex(c, Q_BLOB_LOCK, &p, &r);
    if (n < 0)
        return n;
    *ret_size = n > 0 ? (uint64_t)col_i64(r, 0, 0) : 0;
    PQclear(r);
    if (n == 0)
        return 0;
    if ((n = ex(c, Q_BLOB_OWNED, &p, NULL)) != 0)
        return n < 0 ? n : 0;
    if (!s->opt.blobs) {
        n = ex(c, Q_BLOB_DROP, &p, NULL);
        return n < 0 ? n : 0;
    }
    p_f64(&p, now_s());
    n = ex(c, Q_BLOB_ORPHAN, &p, NULL);
    return n < 0 ? n : 0;
}

static int pg_exp_delete(struct svc_store *s, const char *id)
{
    CONN(s);
    uint8_t(*owned)[32] = NULL;
    size_t n_owned = 0, cap = 0;
    int err = begin(c);
    if (err < 0)
        return err;
    struct pp p = {0};
    p_text(&p, id);
    PGresult *r = NULL;
    int n = ex(c, Q_EXP_LOCK, &p, &r); /* waits for a write in flight */
    if (n <= 0) {
        err = n < 0 ? n : -ENOENT;
        goto out;
    }
    int64_t owner = col_i64(r, 0, 0);
    int64_t bytes = col_i64(r, 0, 1);
    PQclear(r);
    r = NULL;
    if ((n = ex(c, Q_EXP_OWNED, &p, &r)) < 0) {
        err = n;
        goto out;
    }
    for (int i = 0; i < n && !err; i++) {
        if (n_owned == cap) {
            cap = cap ? 2 * cap : 64;
            void *np = realloc(owned, cap * 32);
            if (!np) {
                err = -ENOMEM;
                break;
            }
            owned = np;
        }
        size_t len;
        const uint8_t *d = col_bytes(r, i, 0, &len);
        if (len == 32)
            memcpy(owned[n_owned++], d, 32);
    }
    PQclear(r);
    r = NULL;
    struct pp u = {0};
    p_i64(&u, owner);
    p_i64(&u, -bytes);
    if (!err && (n = ex(c, Q_USER_USED, &u, NULL)) < 0)
        err = n;
    if (!err && (n = ex(c, Q_EXP_DELETE, &p, NULL)) < 0)
        err = n;
    for (size_t i = 0; i < n_owned && !err; i++) {
        uint64_t size;
        err = release_blob(s, c, owned[i], &size);
    }
out:
    PQclear(r);
    free(owned);
    return end(c, err);
}

static int pg_exp_list(struct svc_store *s, int64_t owner, bool public_only,
                       int (*cb)(void *, const struct svc_experiment *), void *ctx)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, owner);
    p_i64(&p, public_only);
    PGresult *r = NULL;
    int n = ex(c, Q_EXP_LIST, &p, &r);
    if (n < 0)
        return n;
    struct svc_experiment *e = malloc(sizeof(*e));
    if (!e) {
        PQclear(r);
        return -ENOMEM;
    }
    int i;
    for (i = 0; i < n; i++) {
        read_experiment(r, i, e);
        if (cb(ctx, e)) {
            i++;
            break;
        }
    }
    free(e);
    PQclear(r);
    return i;
}

static int pg_share_set(struct svc_store *s, const char *exp, int64_t uid, bool shared)
{
    CONN(s);
    return share_one(c, shared, exp, uid);
}

static int pg_share_check(struct svc_store *s, const char *exp, int64_t uid)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    p_i64(&p, uid);
    int n = ex(c, Q_SHARE_CHECK, &p, NULL);
    return n < 0 ? n : n > 0 ? 0 : -ENOENT;
}

/* --- write_batch: store.c's policy over these primitives --- */

static int pg_wb_begin(struct svc_store *s, const char *exp)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    struct pp p = {0};
    p_text(&p, exp);
    int n = ex(c, Q_EXP_LOCK, &p, NULL);
    if (n <= 0)
        return end(c, n < 0 ? n : -ENOENT);
    return 0;
}

static int pg_wb_end(struct svc_store *s, int err)
{
    CONN(s);
    return end(c, err);
}

/* A one-row query of one int8 column: 1 and *ret with a row, 0 without, or -errno. */
static int one_i64(struct conn *c, enum stmt_id id, const struct pp *p, int64_t *ret)
{
    PGresult *r = NULL;
    int n = ex(c, id, p, &r);
    if (n < 0)
        return n;
    if (n > 0 && ret)
        *ret = col_i64(r, 0, 0);
    PQclear(r);
    return n > 0 ? 1 : 0;
}

static int pg_wb_seq_block(struct svc_store *s, int64_t *ret)
{
    CONN(s);
    int r = one_i64(c, Q_SEQ_NEXT, NULL, ret);
    return r < 0 ? r : r ? 0 : -EIO;
}

static int pg_wb_run_lock(struct svc_store *s, const char *exp, const char *name, int64_t *ret)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    p_text(&p, name);
    int r = one_i64(c, Q_RUN_LOCK, &p, ret);
    return r < 0 ? r : r ? 0 : -ENOENT;
}

static int pg_wb_run_count(struct svc_store *s, const char *exp, uint64_t *ret)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    int64_t n = 0;
    int r = one_i64(c, Q_RUN_COUNT, &p, &n);
    *ret = (uint64_t)n;
    return r < 0 ? r : 0;
}

static int pg_wb_run_add(struct svc_store *s, const char *exp, const char *name, int64_t *ret)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    p_text(&p, name);
    int r = one_i64(c, Q_RUN_ADD, &p, ret);
    return r < 0 ? r : r ? 0 : -EIO;
}

static int pg_wb_file_lock(struct svc_store *s, int64_t rid, const char *name, uint64_t *cursor,
                           uint32_t *fp_len, uint32_t *fp)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, rid);
    p_text(&p, name);
    PGresult *r = NULL;
    int n = ex(c, Q_FILE_LOCK, &p, &r);
    if (n < 0)
        return n;
    if (n > 0) {
        *cursor = (uint64_t)col_i64(r, 0, 0);
        *fp_len = (uint32_t)col_i64(r, 0, 1);
        *fp = (uint32_t)col_i64(r, 0, 2);
    }
    PQclear(r);
    return n > 0 ? 1 : 0;
}

static int pg_wb_file_set(struct svc_store *s, int64_t rid, const char *name, uint64_t cursor,
                          uint32_t fp_len, uint32_t fp)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, rid);
    p_text(&p, name);
    p_i64(&p, (int64_t)cursor);
    p_i64(&p, fp_len);
    p_i64(&p, fp);
    return ex_piped(c, Q_FILE_SET, &p);
}

/* The cache's key of (run, tag) into key (room for size bytes), or NULL if it does not fit. */
static const char *series_cache_key(char *key, size_t size, int64_t rid, const char *tag)
{
    int n = snprintf(key, size, "%lld\x1f%s", (long long)rid, tag);
    return n > 0 && (size_t)n < size ? key : NULL;
}

/* Reads run rid's series into the cache (a write holds its lock): 1 if they are all there,
 * 0 if the run has too many (or the cache is full), -errno. */
static int series_cache_load(struct conn *c, int64_t rid)
{
    for (int i = 0; i < c->n_runs_read; i++)
        if (c->runs_read[i].run == rid)
            return c->runs_read[i].whole;
    if (c->n_runs_read == SERIES_CACHE_RUNS)
        return 0;
    struct pp p = {0};
    p_i64(&p, rid);
    PGresult *r = NULL;
    int n = ex(c, Q_SERIES_OF_RUN, &p, &r);
    if (n < 0)
        return n;
    bool whole = n <= SERIES_CACHE_MAX;
    char buf[TB_NAME_MAX + 32];
    for (int i = 0; whole && i < n; i++) {
        const char *key = series_cache_key(buf, sizeof(buf), rid, col_text(r, i, 0));
        if (!key || tb_map_put(&c->series, key, (void *)(intptr_t)col_i64(r, i, 1)) < 0)
            whole = false;
    }
    PQclear(r);
    c->runs_read[c->n_runs_read].run = rid;
    c->runs_read[c->n_runs_read++].whole = whole;
    return whole;
}

static int pg_wb_series_get(struct svc_store *s, int64_t rid, const char *tag, int64_t *ret)
{
    CONN(s);
    char buf[TB_NAME_MAX + 32];
    const char *key = series_cache_key(buf, sizeof(buf), rid, tag);
    int whole = c->in_tx && key ? series_cache_load(c, rid) : 0;
    if (whole < 0)
        return whole;
    if (whole) {
        intptr_t id = (intptr_t)tb_map_get(&c->series, key);
        if (id && ret)
            *ret = (int64_t)id;
        return id ? 1 : 0;
    }
    struct pp p = {0};
    p_i64(&p, rid);
    p_text(&p, tag);
    return one_i64(c, Q_SERIES_GET, &p, ret);
}

static int pg_wb_tag_count(struct svc_store *s, int64_t rid, uint64_t *ret)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, rid);
    int64_t n = 0;
    int r = one_i64(c, Q_TAG_COUNT, &p, &n);
    *ret = (uint64_t)n;
    return r < 0 ? r : 0;
}

static int pg_wb_series_add(struct svc_store *s, int64_t rid, const struct svc_series_def *d,
                            int64_t *ret)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, rid);
    p_text(&p, d->tag);
    p_text(&p, d->plugin);
    p_text(&p, d->display_name);
    p_text(&p, d->description);
    p_i64(&p, d->data_class);
    p_i64(&p, d->kind);
    p_i64(&p, d->source);
    p_i64(&p, d->dtype);
    int64_t id = 0;
    int r = one_i64(c, Q_SERIES_ADD, &p, &id);
    if (r <= 0)
        return r < 0 ? r : -EIO;
    char buf[TB_NAME_MAX + 32];
    const char *key = series_cache_key(buf, sizeof(buf), rid, d->tag);
    for (int i = 0; i < c->n_runs_read; i++)
        if (c->runs_read[i].run == rid && c->runs_read[i].whole &&
            (!key || tb_map_put(&c->series, key, (void *)(intptr_t)id) < 0))
            c->runs_read[i].whole = false; /* looked up one by one from here */
    if (d->plugin_content.len) {
        struct pp q = {0};
        p_i64(&q, id);
        p_bytes(&q, d->plugin_content.data, d->plugin_content.len);
        int n = ex(c, Q_CONTENT_ADD, &q, NULL);
        if (n < 0)
            return n;
    }
    *ret = id;
    return 0;
}

/* Binary COPY's framing (PostgreSQL's "COPY ... FORMAT binary"): a signature, then tuples of
 * big-endian field lengths and values, then -1. */
struct copybuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void cb_add(struct copybuf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void cb_i16(struct copybuf *b, int16_t v)
{
    uint16_t x = htons((uint16_t)v);
    cb_add(b, &x, 2);
}

static void cb_i32(struct copybuf *b, int32_t v)
{
    uint32_t x = htonl((uint32_t)v);
    cb_add(b, &x, 4);
}

static void cb_int8(struct copybuf *b, int64_t v)
{
    uint64_t x = htobe64((uint64_t)v);
    cb_i32(b, 8);
    cb_add(b, &x, 8);
}

static void cb_bytea(struct copybuf *b, const void *d, size_t n)
{
    cb_i32(b, (int32_t)n);
    cb_add(b, d, n);
}

/* Ends a binary COPY whose data went in with err so far (non-zero: it is cancelled), reads
 * its results, and returns the first error; what names the statement in messages. */
static int copy_end(struct conn *c, int err, const char *what)
{
    if (PQputCopyEnd(c->pg, err ? "tbdev-server stopped the copy" : NULL) != 1 && !err)
        err = err_of(c, NULL, "COPY end");
    PGresult *r;
    while ((r = PQgetResult(c->pg))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !err)
            err = err_of(c, r, what);
        PQclear(r);
    }
    return err;
}

static int copy_chunks(struct conn *c, const struct svc_chunk_row *rows, size_t n)
{
    int perr = pipe_flush(c); /* COPY is not allowed in pipeline mode */
    if (perr < 0)
        return perr;
    PGresult *r = PQexec(c->pg, "COPY scalar_chunks(series_id, seq, n, min_step, max_step,"
                                " sorted, summary, data) FROM STDIN (FORMAT binary)");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        int err = err_of(c, r, "COPY scalar_chunks");
        PQclear(r);
        return err;
    }
    PQclear(r);
    struct copybuf b = {0};
    static const uint8_t sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    cb_add(&b, sig, sizeof(sig));
    cb_i32(&b, 0); /* flags */
    cb_i32(&b, 0); /* header extension */
    int err = 0;
    for (size_t i = 0; i < n && !err; i++) {
        const struct svc_chunk_row *x = &rows[i];
        cb_i16(&b, 8);
        cb_int8(&b, x->series_id);
        cb_int8(&b, x->seq);
        cb_int8(&b, (int64_t)x->n);
        cb_int8(&b, x->summary->min_step);
        cb_int8(&b, x->summary->max_step);
        cb_int8(&b, x->summary->sorted);
        cb_bytea(&b, x->summary->points, svc_chunk_summary_len(x->summary));
        cb_bytea(&b, x->points, x->n * SVC_SCALAR_POINT_BYTES);
        if (b.len >= 1 << 20 || i + 1 == n) {
            if (i + 1 == n)
                cb_i16(&b, -1);
            if (b.oom)
                err = -ENOMEM;
            else if (PQputCopyData(c->pg, (const char *)b.p, (int)b.len) != 1)
                err = err_of(c, NULL, "COPY data");
            b.len = 0;
        }
    }
    free(b.p);
    return copy_end(c, err, "COPY scalar_chunks");
}

static int pg_wb_chunks_add(struct svc_store *s, const struct svc_chunk_row *rows, size_t n)
{
    CONN(s);
    if (n > 2)
        return copy_chunks(c, rows, n);
    for (size_t i = 0; i < n; i++) {
        const struct svc_chunk_row *x = &rows[i];
        struct pp p = {0};
        p_i64(&p, x->series_id);
        p_i64(&p, x->seq);
        p_i64(&p, (int64_t)x->n);
        p_i64(&p, x->summary->min_step);
        p_i64(&p, x->summary->max_step);
        p_i64(&p, x->summary->sorted);
        p_bytes(&p, x->summary->points, svc_chunk_summary_len(x->summary));
        p_bytes(&p, x->points, x->n * SVC_SCALAR_POINT_BYTES);
        int r = ex(c, Q_CHUNK_ADD, &p, NULL);
        if (r < 0)
            return r;
    }
    return 0;
}

static int pg_wb_tensor_add(struct svc_store *s, int64_t sid, int64_t seq,
                            const struct svc_item *it)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, sid);
    p_i64(&p, seq);
    p_i64(&p, it->step);
    p_f64(&p, it->wall_time);
    p_i64(&p, it->x->dtype);
    p_text(&p, it->x->shape ? it->x->shape : "?");
    p_bytes(&p, it->x->data.data, it->x->data.len);
    p_bytes(&p, it->x->value_pb.data, it->x->value_pb.len);
    return ex_piped(c, Q_TENSOR_ADD, &p);
}

static int pg_wb_blob_point_add(struct svc_store *s, int64_t sid, int64_t seq,
                                const struct svc_item *it)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, sid);
    p_i64(&p, seq);
    p_i64(&p, it->step);
    p_f64(&p, it->wall_time);
    p_text(&p, it->x->meta ? it->x->meta : "{}");
    p_bytes(&p, it->x->shas, 32 * it->x->n_blobs);
    p_bytes(&p, it->x->value_pb.data, it->x->value_pb.len);
    return ex_piped(c, Q_BLOBPT_ADD, &p);
}

static int pg_wb_blob_prepare(struct svc_store *s, const uint8_t sha[32], size_t size)
{
    CONN(s);
    struct pp p = {0};
    p_bytes(&p, sha, 32);
    p_i64(&p, (int64_t)size);
    p_f64(&p, now_s());
    int n = ex(c, Q_BLOB_PREPARE, &p, NULL);
    return n < 0 ? n : n == 0 ? 1 : 0;
}

static int pg_wb_blob_ref(struct svc_store *s, const char *exp, const uint8_t sha[32],
                          const uint8_t *data, size_t size)
{
    CONN(s);
    struct pp p = {0};
    p_bytes(&p, sha, 32);
    p_i64(&p, (int64_t)size);
    p_bytes(&p, data, size);
    if (!data)
        p.v[p.n - 1] = NULL; /* SQL NULL: the bytes are in the object store */
    PGresult *r = NULL;
    struct pp k = {0};
    p_bytes(&k, sha, 32);
    int n = ex(c, Q_BLOB_CLAIM, &k, &r);
    if (n < 0)
        return n;
    bool was_gone;
    if (n > 0) {
        was_gone = PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0];
        PQclear(r);
        n = ex(c, Q_BLOB_KEEP_DATA, &k, NULL);
    } else {
        PQclear(r);
        /* No row yet: with an object store, blob_prepare made one before the transaction,
         * so this is a blob in the database; were it not, write the object again to be safe. */
        was_gone = !data;
        n = ex(c, Q_BLOB_ADD, &p, NULL);
    }
    if (n < 0)
        return n;
    struct pp q = {0};
    p_text(&q, exp);
    p_bytes(&q, sha, 32);
    if ((n = ex(c, Q_BLOB_OWN, &q, NULL)) < 0)
        return n;
    return (n > 0 ? SVC_BLOB_NEW_OWNER : 0) | (was_gone ? SVC_BLOB_REWRITE : 0);
}

static int pg_wb_restart_add(struct svc_store *s, int64_t rid, int64_t seq, int64_t step)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, rid);
    p_i64(&p, seq);
    p_i64(&p, step);
    int n = ex(c, Q_RESTART_ADD, &p, NULL);
    return n < 0 ? n : n > 0 ? 1 : 0;
}

static int pg_wb_series_bump(struct svc_store *s, int64_t sid, uint64_t points, int64_t mn,
                             int64_t mx)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, sid);
    p_i64(&p, (int64_t)points);
    p_i64(&p, mn);
    p_i64(&p, mx);
    return ex_piped(c, Q_SERIES_BUMP, &p);
}

static int pg_wb_run_charge(struct svc_store *s, int64_t rid, uint64_t bytes)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, rid);
    p_i64(&p, (int64_t)bytes);
    return ex_piped(c, Q_RUN_BYTES, &p);
}

static int pg_wb_user_charge(struct svc_store *s, int64_t uid, uint64_t bytes, uint64_t quota)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, uid);
    p_i64(&p, (int64_t)bytes);
    p_i64(&p, (int64_t)quota);
    int n = ex(c, Q_USER_CHARGE, &p, NULL);
    return n < 0 ? n : n > 0 ? 0 : -EDQUOT;
}

static int pg_wb_experiment_bump(struct svc_store *s, const char *exp, double now, uint64_t scalars,
                                 uint64_t tensors, uint64_t blobs, uint64_t bytes)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    p_f64(&p, now);
    p_i64(&p, (int64_t)scalars);
    p_i64(&p, (int64_t)tensors);
    p_i64(&p, (int64_t)blobs);
    p_i64(&p, (int64_t)bytes);
    return ex_piped(c, Q_EXP_BUMP, &p);
}

static const struct svc_wb_ops pg_wb = {
    .begin = pg_wb_begin,
    .end = pg_wb_end,
    .seq_block = pg_wb_seq_block,
    .run_lock = pg_wb_run_lock,
    .run_count = pg_wb_run_count,
    .run_add = pg_wb_run_add,
    .file_lock = pg_wb_file_lock,
    .file_set = pg_wb_file_set,
    .series_get = pg_wb_series_get,
    .tag_count = pg_wb_tag_count,
    .series_add = pg_wb_series_add,
    .chunks_add = pg_wb_chunks_add,
    .tensor_add = pg_wb_tensor_add,
    .blob_point_add = pg_wb_blob_point_add,
    .blob_prepare = pg_wb_blob_prepare,
    .blob_ref = pg_wb_blob_ref,
    .restart_add = pg_wb_restart_add,
    .series_bump = pg_wb_series_bump,
    .run_charge = pg_wb_run_charge,
    .user_charge = pg_wb_user_charge,
    .experiment_bump = pg_wb_experiment_bump,
};

static int pg_write_batch(struct svc_store *s, const char *exp, int64_t owner, uint64_t quota,
                          struct svc_batch *b)
{
    return svc_store_write_batch(&pg_wb, s, s->opt.blobs, exp, owner, quota, b);
}

static int pg_cursors(struct svc_store *s, const char *exp,
                      int (*cb)(void *, const char *, const char *, uint64_t, uint32_t, uint32_t),
                      void *ctx)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    PGresult *r = NULL;
    int n = ex(c, Q_CURSORS, &p, &r);
    if (n < 0)
        return n;
    int i;
    for (i = 0; i < n; i++)
        if (cb(ctx, col_text(r, i, 0), col_text(r, i, 1), (uint64_t)col_i64(r, i, 2),
               (uint32_t)col_i64(r, i, 3), (uint32_t)col_i64(r, i, 4))) {
            i++;
            break;
        }
    PQclear(r);
    return i;
}

/* store_sqlite.c's run_delete, with the experiment locked first (as writes lock it). */
static int pg_run_delete(struct svc_store *s, const char *exp, const char *runname)
{
    CONN(s);
    uint8_t(*gone)[32] = NULL, (*kept)[32] = NULL;
    size_t n_gone = 0, cap_gone = 0, n_kept = 0, cap_kept = 0;
    PGresult *r = NULL;
    int err = begin(c);
    if (err < 0)
        return err;
    struct pp pe = {0};
    p_text(&pe, exp);
    int n = ex(c, Q_EXP_LOCK, &pe, &r);
    if (n <= 0) {
        err = n < 0 ? n : -ENOENT;
        goto out;
    }
    int64_t owner = col_i64(r, 0, 0);
    PQclear(r);
    r = NULL;
    struct pp p = {0};
    p_text(&p, exp);
    p_text(&p, runname);
    if ((n = ex(c, Q_RUN_FIND, &p, &r)) <= 0) {
        err = n < 0 ? n : -ENOENT;
        goto out;
    }
    int64_t rid = col_i64(r, 0, 0);
    uint64_t release = (uint64_t)col_i64(r, 0, 1);
    PQclear(r);
    r = NULL;
    struct pp pr = {0};
    p_i64(&pr, rid);
    if ((n = ex(c, Q_RUN_SHAS, &pr, &r)) < 0 ||
        (err = collect_shas(r, n, &gone, &n_gone, &cap_gone)) < 0) {
        err = n < 0 ? n : err;
        goto out;
    }
    PQclear(r);
    r = NULL;
    if ((n = ex(c, Q_RUN_DELETE_ID, &pr, NULL)) < 0) {
        err = n;
        goto out;
    }
    if (n_gone) {
        if ((n = ex(c, Q_EXP_SHAS, &pe, &r)) < 0 ||
            (err = collect_shas(r, n, &kept, &n_kept, &cap_kept)) < 0) {
            err = n < 0 ? n : err;
            goto out;
        }
        PQclear(r);
        r = NULL;
        qsort(gone, n_gone, 32, cmp_sha);
        if (n_kept)
            qsort(kept, n_kept, 32, cmp_sha);
    }
    for (size_t i = 0; i < n_gone && !err; i++) {
        if ((i && !memcmp(gone[i], gone[i - 1], 32)) ||
            (n_kept && bsearch(gone[i], kept, n_kept, 32, cmp_sha)))
            continue;
        struct pp po = {0};
        p_text(&po, exp);
        p_bytes(&po, gone[i], 32);
        if ((n = ex(c, Q_OWNER_DEL, &po, NULL)) < 0) {
            err = n;
            break;
        }
        uint64_t size = 0;
        if ((err = release_blob(s, c, gone[i], &size)) < 0)
            break;
        if (n > 0)
            release += TB_QUOTA_ROW_BYTES + size;
    }
    if (!err) {
        struct pp x = {0};
        p_text(&x, exp);
        p_i64(&x, (int64_t)release);
        n = ex(c, Q_EXP_RELEASE, &x, NULL);
        err = n < 0 ? n : 0;
    }
    if (!err) {
        struct pp x = {0};
        p_i64(&x, owner);
        p_i64(&x, -(int64_t)release);
        n = ex(c, Q_USER_USED, &x, NULL);
        err = n < 0 ? n : 0;
    }
    if (!err) {
        struct pp x = {0};
        p_text(&x, exp);
        p_f64(&x, now_s());
        n = ex(c, Q_EXP_RECOUNT, &x, NULL);
        err = n < 0 ? n : 0;
    }
out:
    PQclear(r);
    free(gone);
    free(kept);
    return end(c, err);
}

/* --- reads --- */

static char *dup_col(const PGresult *r, int row, int col)
{
    return strdup(col_text(r, row, col));
}

static int read_series_rows(struct conn *c, enum stmt_id id, const struct pp *p,
                            struct svc_series_info **ret, size_t *ret_n)
{
    PGresult *r = NULL;
    int n = ex(c, id, p, &r);
    if (n < 0)
        return n;
    struct svc_series_info *list = calloc(n ? (size_t)n : 1, sizeof(*list));
    int err = list ? 0 : -ENOMEM;
    for (int i = 0; i < n && !err; i++) {
        struct svc_series_info *si = &list[i];
        si->id = col_i64(r, i, 0);
        si->run_id = col_i64(r, i, 1);
        si->run = dup_col(r, i, 2);
        si->tag = dup_col(r, i, 3);
        si->plugin = dup_col(r, i, 4);
        si->display_name = dup_col(r, i, 5);
        si->description = dup_col(r, i, 6);
        size_t len;
        const uint8_t *d = col_bytes(r, i, 7, &len);
        si->plugin_content_len = len;
        si->plugin_content = malloc(len + 1);
        if (si->plugin_content && len)
            memcpy(si->plugin_content, d, len);
        si->data_class = (int)col_i64(r, i, 8);
        si->kind = (enum tb_kind)col_i64(r, i, 9);
        si->source = (int)col_i64(r, i, 10);
        si->dtype = (int)col_i64(r, i, 11);
        si->points = (uint64_t)col_i64(r, i, 12);
        si->min_step = col_i64(r, i, 13);
        si->max_step = col_i64(r, i, 14);
        if (!si->run || !si->tag || !si->plugin || !si->display_name || !si->description ||
            !si->plugin_content)
            err = -ENOMEM;
    }
    PQclear(r);
    if (err < 0) {
        svc_series_list_free(list, list ? (size_t)n : 0);
        return err;
    }
    *ret = list;
    *ret_n = (size_t)n;
    return 0;
}

static int pg_series_list(struct svc_store *s, const char *exp, struct svc_series_info **ret,
                          size_t *ret_n)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    return read_series_rows(c, Q_SERIES_LIST, &p, ret, ret_n);
}

static int pg_series_select(struct svc_store *s, const char *exp, const char *run,
                            const char *plugin, struct svc_series_info **ret, size_t *ret_n)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    p_text(&p, run);
    p_text(&p, plugin);
    return read_series_rows(c, Q_SERIES_SELECT, &p, ret, ret_n);
}

static int pg_series_find(struct svc_store *s, const char *exp, const char *run, const char *tag,
                          struct svc_series_info **ret)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    p_text(&p, run);
    p_text(&p, tag);
    size_t n = 0;
    int err = read_series_rows(c, Q_SERIES_FIND, &p, ret, &n);
    if (err < 0)
        return err;
    if (n == 0) {
        svc_series_list_free(*ret, 0);
        return -ENOENT;
    }
    return 0;
}

static int pg_restarts(struct svc_store *s, int64_t run, struct svc_restart **ret, size_t *ret_n)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, run);
    PGresult *r = NULL;
    int n = ex(c, Q_RESTARTS, &p, &r);
    if (n < 0)
        return n;
    struct svc_restart *list = malloc((n ? (size_t)n : 1) * sizeof(*list));
    if (!list) {
        PQclear(r);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        list[i].seq = col_i64(r, i, 0);
        list[i].step = col_i64(r, i, 1);
    }
    PQclear(r);
    *ret = list;
    *ret_n = (size_t)n;
    return 0;
}

/* Runs statement id and calls row(ctx, r, i) for each row in order until it returns non-zero.
 * The whole result is read first (a million points are 24 MB), so that a callback may run
 * other statements on the same connection, as the export does while it reads blob rows. */
static int each_row(struct conn *c, enum stmt_id id, const struct pp *p,
                    int (*row)(void *ctx, const PGresult *r, int i), void *ctx)
{
    PGresult *r = NULL;
    int n = ex(c, id, p, &r);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++)
        if (row(ctx, r, i))
            break;
    PQclear(r);
    return 0;
}

struct chunk_ctx {
    int64_t sid;
    svc_scalar_chunk_cb cb;
    svc_summary_cb scb;
    void *ctx;
};

static int chunk_row(void *ctx, const PGresult *r, int i)
{
    struct chunk_ctx *x = ctx;
    size_t n = (size_t)col_i64(r, i, 1), len;
    const uint8_t *data = col_bytes(r, i, 2, &len);
    if (len != n * SVC_SCALAR_POINT_BYTES) {
        svc_log_error("postgresql: scalar chunk of series %lld is %zu bytes for %zu points",
                      (long long)x->sid, len, n);
        return 0;
    }
    return x->cb(x->ctx, col_i64(r, i, 0), data, n);
}

static int pg_scalar_chunks(struct svc_store *s, int64_t sid, svc_scalar_chunk_cb cb, void *ctx)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, sid);
    struct chunk_ctx x = {.sid = sid, .cb = cb, .ctx = ctx};
    return each_row(c, Q_CHUNKS, &p, chunk_row, &x);
}

static int summary_row(void *ctx, const PGresult *r, int i)
{
    struct chunk_ctx *x = ctx;
    struct svc_chunk_summary sum;
    sum.n = (size_t)col_i64(r, i, 1);
    sum.min_step = col_i64(r, i, 2);
    sum.max_step = col_i64(r, i, 3);
    sum.sorted = col_i64(r, i, 4) != 0;
    size_t len;
    const uint8_t *d = col_bytes(r, i, 5, &len);
    if (!svc_chunk_summary_load(&sum, d, len)) {
        svc_log_error("postgresql: the summary of a scalar chunk of series %lld is %zu bytes"
                      " for %zu points",
                      (long long)x->sid, len, sum.n);
        return 0;
    }
    return x->scb(x->ctx, col_i64(r, i, 0), &sum);
}

static int pg_scalar_summaries(struct svc_store *s, int64_t sid, bool groups, svc_summary_cb cb,
                               void *ctx)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, sid);
    p_i64(&p, (int64_t)(groups ? sizeof(((struct svc_chunk_summary *)0)->points)
                               : SVC_SUMMARY_UNIT_BYTES));
    struct chunk_ctx x = {.sid = sid, .scb = cb, .ctx = ctx};
    return each_row(c, Q_SUMMARIES, &p, summary_row, &x);
}

struct rows_ctx {
    bool tensors;
    svc_tensor_row_cb cb;
    int (*steps)(void *, int64_t, int64_t);
    void *ctx;
};

static int tensor_row(void *ctx, const PGresult *r, int i)
{
    struct rows_ctx *x = ctx;
    if (x->steps)
        return x->steps(x->ctx, col_i64(r, i, 0), col_i64(r, i, 1));
    struct svc_tensor_row t = {0};
    t.seq = col_i64(r, i, 0);
    t.step = col_i64(r, i, 1);
    t.wall_time = col_f64(r, i, 2);
    if (x->tensors) {
        t.dtype = (int)col_i64(r, i, 3);
        t.shape = col_text(r, i, 4);
        t.data = col_bytes(r, i, 5, &t.len);
        t.value_pb = col_bytes(r, i, 6, &t.value_pb_len);
    } else {
        size_t len;
        t.meta = col_text(r, i, 3);
        t.shas = col_bytes(r, i, 4, &len);
        t.n_blobs = len / 32;
        t.value_pb = col_bytes(r, i, 5, &t.value_pb_len);
    }
    return x->cb(x->ctx, &t);
}

static int rows(struct svc_store *s, enum stmt_id id, int64_t sid, int64_t from_seq,
                struct rows_ctx *x)
{
    CONN(s);
    struct pp p = {0};
    p_i64(&p, sid);
    if (id == Q_TENSORS || id == Q_BLOBPTS)
        p_i64(&p, from_seq);
    return each_row(c, id, &p, tensor_row, x);
}

static int pg_row_steps(struct svc_store *s, int64_t sid, bool blobs,
                        int (*cb)(void *, int64_t, int64_t), void *ctx)
{
    struct rows_ctx x = {.steps = cb, .ctx = ctx};
    return rows(s, blobs ? Q_BLOB_STEPS : Q_TENSOR_STEPS, sid, 0, &x);
}

static int pg_tensor_rows(struct svc_store *s, int64_t sid, int64_t from_seq, svc_tensor_row_cb cb,
                          void *ctx)
{
    struct rows_ctx x = {.tensors = true, .cb = cb, .ctx = ctx};
    return rows(s, Q_TENSORS, sid, from_seq, &x);
}

static int pg_blob_rows(struct svc_store *s, int64_t sid, int64_t from_seq, svc_tensor_row_cb cb,
                        void *ctx)
{
    struct rows_ctx x = {.cb = cb, .ctx = ctx};
    return rows(s, Q_BLOBPTS, sid, from_seq, &x);
}

static int pg_blob_get(struct svc_store *s, const char *exp, const uint8_t sha[32], uint8_t **ret,
                       size_t *ret_len)
{
    CONN(s);
    struct pp p = {0};
    p_text(&p, exp);
    p_bytes(&p, sha, 32);
    PGresult *r = NULL;
    int n = ex(c, Q_BLOB_GET, &p, &r);
    if (n <= 0) {
        PQclear(r); /* no row is a result too */
        return n < 0 ? n : -ENOENT;
    }
    bool external = PQgetlength(r, 0, 2) == 1 && PQgetvalue(r, 0, 2)[0];
    uint64_t size = (uint64_t)col_i64(r, 0, 1);
    if (external) {
        PQclear(r);
        if (!s->opt.blobs) {
            svc_log_error("postgresql: a blob is in an object store, but this server has no "
                          "--blob_store");
            return -EIO;
        }
        int err = s->opt.blobs->ops->get(s->opt.blobs->store, sha, (size_t)size, ret, ret_len);
        if (err == -ENOENT) {
            svc_log_error("blob store: an object the database refers to is missing");
            return -EIO;
        }
        return err;
    }
    size_t len;
    const uint8_t *d = col_bytes(r, 0, 0, &len);
    uint8_t *data = malloc(len ? len : 1);
    if (data && len)
        memcpy(data, d, len);
    PQclear(r);
    if (!data)
        return -ENOMEM;
    *ret = data;
    *ret_len = len;
    return 0;
}

/* --- upkeep: expired rows, and the blob collector --- */

/* Deletes the objects of blobs unreferenced for the grace period, a batch of them in one
 * transaction under an advisory lock (one server at a time), each row locked while its object
 * is deleted so that a batch claiming it waits, then finds it gone and writes it again. */
static int collect_blobs(struct svc_store *s, struct conn *c)
{
    int err = begin(c);
    if (err < 0)
        return err;
    if ((err = pipe_flush(c)) < 0)
        return end(c, err);
    PGresult *r = PQexecParams(c->pg, "SELECT pg_try_advisory_xact_lock(" STR(UPKEEP_LOCK) ")", 0,
                               NULL, NULL, NULL, NULL, 1);
    bool mine = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0];
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        err = err_of(c, r, "upkeep lock");
    PQclear(r);
    if (err || !mine) {
        end(c, -EAGAIN); /* another server collects now, or the lock failed: next time */
        return err;
    }
    struct pp p = {0};
    p_f64(&p, now_s() - s->opt.blob_grace_s);
    r = NULL;
    int n = ex(c, Q_GC_PICK, &p, &r);
    if (n < 0)
        return end(c, n);
    int done = 0;
    for (int i = 0; i < n && !err; i++) {
        size_t len;
        const uint8_t *sha = col_bytes(r, i, 0, &len);
        if (len != 32)
            continue;
        struct pp q = {0};
        p_bytes(&q, sha, 32);
        int owned = ex(c, Q_BLOB_OWNED, &q, NULL); /* claimed meanwhile? */
        if (owned < 0) {
            err = owned;
            break;
        }
        if (owned) {
            owned = ex(c, Q_BLOB_KEEP, &q, NULL);
            err = owned < 0 ? owned : 0;
            continue;
        }
        err = s->opt.blobs->ops->del(s->opt.blobs->store, sha);
        if (!err) {
            int m = ex(c, Q_BLOB_GONE, &q, NULL);
            err = m < 0 ? m : 0;
            done++;
        }
    }
    PQclear(r);
    err = end(c, err);
    if (!err && done)
        svc_log_info("blob store: deleted %d unreferenced objects", done);
    return err;
}

static int pg_checkpoint(struct svc_store *s)
{
    CONN(s);
    struct pp p = {0};
    p_f64(&p, now_s());
    int n = ex(c, Q_SESSION_PURGE, &p, NULL);
    if (n >= 0)
        n = ex(c, Q_DEVICE_PURGE, &p, NULL);
    if (n < 0)
        return n;
    return s->opt.blobs ? collect_blobs(s, c) : 0;
}

/* --- moving an installation: rows as stored (copy.c) --- */

#define COPY_MARKS_TABLE                                                                           \
    "CREATE TABLE IF NOT EXISTS tbdev_copy(name text PRIMARY KEY, key bytea NOT NULL,"             \
    " rows int8 NOT NULL, done bool NOT NULL)"

static int pg_rows_snapshot(struct svc_store *s, bool on)
{
    CONN(s);
    if (!on) {
        if (c->in_tx && exec_sql(c, "ROLLBACK") < 0)
            conn_close_pg(c);
        c->in_tx = false;
        return 0;
    }
    if (c->in_tx)
        exec_sql(c, "ROLLBACK");
    int err = exec_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (err < 0)
        return err;
    c->in_tx = true;
    PGresult *r = PQexec(c->pg, "SELECT version FROM tbdev_schema");
    int version =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    if (version != SCHEMA_VERSION) {
        svc_log_error("the PostgreSQL database is at schema version %d, this tbdev-server's is "
                      "%d: run 'tbdev-server migrate' on it first",
                      version, SCHEMA_VERSION);
        pg_rows_snapshot(s, false);
        return -EPROTO;
    }
    return 0;
}

/* A literal for a key value in SQL (COPY takes no parameters); NULL when out of memory. */
static char *key_literal(struct conn *c, char type, const struct svc_copy_value *v)
{
    if (type == 'i') {
        char *out = malloc(24);
        if (out)
            snprintf(out, 24, "%lld", (long long)v->i);
        return out;
    }
    if (type == 't') {
        char *lit = PQescapeLiteral(c->pg, v->p ? (const char *)v->p : "", v->len);
        char *out = lit ? strdup(lit) : NULL;
        PQfreemem(lit);
        return out;
    }
    char *out = malloc(2 * v->len + 16);
    if (!out)
        return NULL;
    size_t at = (size_t)sprintf(out, "'\\x");
    for (size_t i = 0; i < v->len; i++)
        at += (size_t)sprintf(out + at, "%02x", v->p[i]);
    strcpy(out + at, "'::bytea");
    return out;
}

/* The SELECT of t's rows after `after` in bytewise key order (caller frees), or NULL. */
static char *rows_query(struct conn *c, const struct svc_copy_table *t,
                        const struct svc_copy_value *after)
{
    struct copybuf q = {0};
    cb_add(&q, "SELECT ", 7);
    for (unsigned i = 0; i < t->n_cols; i++) {
        if (i)
            cb_add(&q, ", ", 2);
        cb_add(&q, t->cols[i], strlen(t->cols[i]));
    }
    cb_add(&q, " FROM ", 6);
    cb_add(&q, t->name, strlen(t->name));
    char key[300] = "";
    for (unsigned i = 0; i < t->n_key; i++)
        snprintf(key + strlen(key), sizeof(key) - strlen(key), "%s%s%s", i ? ", " : "", t->cols[i],
                 t->types[i] == 't' ? " COLLATE \"C\"" : "");
    if (after) {
        cb_add(&q, " WHERE (", 8);
        cb_add(&q, key, strlen(key));
        cb_add(&q, ") > (", 5);
        for (unsigned i = 0; i < t->n_key; i++) {
            char *lit = key_literal(c, t->types[i], &after[i]);
            if (!lit)
                q.oom = true;
            if (i)
                cb_add(&q, ", ", 2);
            if (lit)
                cb_add(&q, lit, strlen(lit));
            free(lit);
        }
        cb_add(&q, ")", 1);
    }
    cb_add(&q, " ORDER BY ", 10);
    cb_add(&q, key, strlen(key));
    cb_add(&q, "", 1);
    if (q.oom) {
        free(q.p);
        return NULL;
    }
    return (char *)q.p;
}

static uint64_t be_u(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x = (x << 8) | p[i];
    return x;
}

/* The tuples of one CopyData message of a binary COPY TO (the first also holds the header),
 * each to cb. Every length is checked against the message: a short one is -EPROTO. */
static int copy_tuples(const struct svc_copy_table *t, const uint8_t *p, size_t len, bool first,
                       struct svc_copy_value *row, svc_copy_row_cb cb, void *ctx, bool *ret_end)
{
    static const uint8_t sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    size_t at = 0;
    if (first) {
        if (len < 19 || memcmp(p, sig, 11) != 0)
            return -EPROTO;
        uint64_t ext = be_u(p + 15, 4);
        if (ext > len - 19)
            return -EPROTO;
        at = 19 + (size_t)ext;
    }
    while (at < len) {
        if (len - at < 2)
            return -EPROTO;
        int16_t nf = (int16_t)be_u(p + at, 2);
        at += 2;
        if (nf == -1) {
            *ret_end = true;
            return 0;
        }
        if (nf != (int16_t)t->n_cols)
            return -EPROTO;
        for (unsigned i = 0; i < t->n_cols; i++) {
            struct svc_copy_value *v = &row[i];
            memset(v, 0, sizeof(*v));
            if (len - at < 4)
                return -EPROTO;
            int32_t fl = (int32_t)be_u(p + at, 4);
            at += 4;
            if (fl == -1) {
                v->null = true;
                continue;
            }
            if (fl < 0 || (size_t)fl > len - at)
                return -EPROTO;
            char ty = (char)(t->types[i] | 0x20);
            if ((ty == 'i' || ty == 'd') && fl != 8)
                return -EPROTO;
            if (ty == 'i') {
                v->i = (int64_t)be_u(p + at, 8);
            } else if (ty == 'd') {
                uint64_t w = be_u(p + at, 8);
                memcpy(&v->d, &w, 8);
            } else {
                v->p = p + at;
                v->len = (size_t)fl;
            }
            at += (size_t)fl;
        }
        int r = cb(ctx, row);
        if (r)
            return r;
    }
    return 0;
}

static int pg_rows_read(struct svc_store *s, const struct svc_copy_table *t,
                        const struct svc_copy_value *after, svc_copy_row_cb cb, void *ctx)
{
    CONN(s);
    char *sel = rows_query(c, t, after);
    if (!sel)
        return -ENOMEM;
    size_t qlen = strlen(sel) + 64;
    char *q = malloc(qlen);
    if (!q) {
        free(sel);
        return -ENOMEM;
    }
    snprintf(q, qlen, "COPY (%s) TO STDOUT (FORMAT binary)", sel);
    free(sel);
    PGresult *r = PQexec(c->pg, q);
    int err = 0;
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        err = err_of(c, r, q);
        PQclear(r);
        free(q);
        return err;
    }
    PQclear(r);
    struct svc_copy_value row[SVC_COPY_COLS_MAX];
    bool first = true, end = false, stopped = false;
    int ret = 0;
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(c->pg, &buf, 0);
        if (n < 0) {
            if (n == -2)
                err = err_of(c, NULL, "COPY TO");
            break;
        }
        if (!stopped && !err) {
            int rc =
                end ? 0
                    : copy_tuples(t, (const uint8_t *)buf, (size_t)n, first, row, cb, ctx, &end);
            if (rc == -EPROTO) {
                svc_log_error("postgresql: a malformed row in the copy of %s", t->name);
                err = rc;
            } else if (rc) {
                ret = rc; /* stopped by cb: the rest is read and dropped */
                stopped = true;
            }
        }
        first = false;
        PQfreemem(buf);
    }
    while ((r = PQgetResult(c->pg))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !err)
            err = err_of(c, r, q);
        PQclear(r);
    }
    free(q);
    return err ? err : ret;
}

static int pg_rows_count(struct svc_store *s, const struct svc_copy_table *t, uint64_t *ret_n)
{
    CONN(s);
    char q[128];
    snprintf(q, sizeof(q), "SELECT count(*) FROM %s", t->name);
    PGresult *r = PQexecParams(c->pg, q, 0, NULL, NULL, NULL, NULL, 1);
    int err = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? 0 : err_of(c, r, q);
    if (!err)
        *ret_n = (uint64_t)col_i64(r, 0, 0);
    PQclear(r);
    return err;
}

static int copy_rows_in(struct conn *c, const struct svc_copy_table *t,
                        const struct svc_copy_value *rows, size_t n)
{
    char q[700];
    size_t at = (size_t)snprintf(q, sizeof(q), "COPY %s(", t->name);
    for (unsigned i = 0; i < t->n_cols && at < sizeof(q); i++)
        at += (size_t)snprintf(q + at, sizeof(q) - at, "%s%s", i ? ", " : "", t->cols[i]);
    snprintf(q + at, sizeof(q) - (at < sizeof(q) ? at : sizeof(q)), ") FROM STDIN (FORMAT binary)");
    PGresult *r = PQexec(c->pg, q);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        int err = err_of(c, r, q);
        PQclear(r);
        return err;
    }
    PQclear(r);
    struct copybuf b = {0};
    static const uint8_t sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    cb_add(&b, sig, sizeof(sig));
    cb_i32(&b, 0);
    cb_i32(&b, 0);
    int err = 0;
    for (size_t k = 0; k < n && !err; k++) {
        const struct svc_copy_value *row = rows + k * t->n_cols;
        cb_i16(&b, (int16_t)t->n_cols);
        for (unsigned i = 0; i < t->n_cols; i++) {
            const struct svc_copy_value *v = &row[i];
            char ty = (char)(t->types[i] | 0x20);
            if (v->null) {
                cb_i32(&b, -1);
            } else if (ty == 'i') {
                cb_int8(&b, v->i);
            } else if (ty == 'd') {
                uint64_t w;
                memcpy(&w, &v->d, 8);
                cb_int8(&b, (int64_t)w);
            } else if (v->len > INT32_MAX) {
                err = -E2BIG;
            } else {
                cb_bytea(&b, v->p, v->len);
            }
        }
        if (k + 1 == n)
            cb_i16(&b, -1);
        if (b.oom)
            err = -ENOMEM;
        else if (!err && (b.len >= 1 << 20 || k + 1 == n)) {
            if (PQputCopyData(c->pg, (const char *)b.p, (int)b.len) != 1)
                err = err_of(c, NULL, "COPY data");
            b.len = 0;
        }
    }
    free(b.p);
    return copy_end(c, err, q);
}

static int pg_rows_write(struct svc_store *s, const struct svc_copy_table *t,
                         const struct svc_copy_value *rows, size_t n,
                         const struct svc_copy_mark *mark)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    err = exec_sql(c, COPY_MARKS_TABLE);
    if (!err && n)
        err = copy_rows_in(c, t, rows, n);
    if (!err && mark) {
        struct pp p = {0};
        p_text(&p, mark->table);
        p_bytes(&p, mark->key, mark->key_len);
        p_i64(&p, (int64_t)mark->rows);
        p_i64(&p, mark->done);
        int r = ex(c, Q_COPY_MARK, &p, NULL);
        err = r < 0 ? r : 0;
    }
    return end(c, err);
}

static int pg_copy_marks(struct svc_store *s, int (*cb)(void *, const struct svc_copy_mark *),
                         void *ctx)
{
    CONN(s);
    PGresult *r = PQexec(c->pg, "SELECT to_regclass('tbdev_copy') IS NOT NULL");
    int err = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                  ? (strcmp(PQgetvalue(r, 0, 0), "t") ? -ENOENT : 0)
                  : err_of(c, r, "copy marks");
    PQclear(r);
    if (err < 0)
        return err;
    int n = ex(c, Q_COPY_MARKS, NULL, &r);
    if (n < 0)
        return n;
    for (int i = 0; i < n && !err; i++) {
        struct svc_copy_mark m = {.table = col_text(r, i, 0),
                                  .rows = (uint64_t)col_i64(r, i, 2),
                                  .done = col_i64(r, i, 3) != 0};
        m.key = col_bytes(r, i, 1, &m.key_len);
        err = cb(ctx, &m);
    }
    PQclear(r);
    return err;
}

static int pg_copy_finish(struct svc_store *s)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    static const char *const serial[] = {"users", "tokens", "sessions", "runs", "series"};
    for (size_t i = 0; i < sizeof(serial) / sizeof(serial[0]) && !err; i++) {
        char q[300];
        /* forward only: a sequence a server has drawn from already stays where it is */
        snprintf(q, sizeof(q),
                 "SELECT setval(pg_get_serial_sequence('%s', 'id'), greatest(coalesce((SELECT"
                 " max(id) FROM %s), 0) + 1, nextval(pg_get_serial_sequence('%s', 'id'))), false)",
                 serial[i], serial[i], serial[i]);
        err = exec_sql(c, q);
    }
    if (!err)
        err = exec_sql(c, "SELECT setval('seqs', greatest(greatest("
                          " (SELECT coalesce(max(seq), 0) FROM scalar_chunks),"
                          " (SELECT coalesce(max(seq), 0) FROM tensors),"
                          " (SELECT coalesce(max(seq), 0) FROM blob_points),"
                          " (SELECT coalesce(max(seq), 0) FROM restarts)) + 1,"
                          " nextval('seqs')), false)");
    if (!err) {
        /* a blob no experiment owns (SQLite would have deleted it): the collector's */
        char q[200];
        snprintf(q, sizeof(q),
                 "UPDATE blobs SET orphaned = %.3f WHERE orphaned IS NULL AND NOT EXISTS"
                 " (SELECT 1 FROM blob_owners o WHERE o.sha = blobs.sha)",
                 now_s());
        err = exec_sql(c, q);
    }
    return end(c, err);
}

const struct svc_store_ops svc_store_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .checkpoint = pg_checkpoint,
    .backup = pg_backup,
    .integrity_check = pg_integrity,
    .user_add = pg_user_add,
    .user_get = pg_user_get,
    .user_get_id = pg_user_get_id,
    .user_list = pg_user_list,
    .user_set_disabled = pg_user_set_disabled,
    .user_set_password = pg_user_set_password,
    .user_set_quota = pg_user_set_quota,
    .token_add = pg_token_add,
    .token_lookup = pg_token_lookup,
    .token_revoke = pg_token_revoke,
    .token_list = pg_token_list,
    .token_add_expiring = pg_token_add_expiring,
    .session_add = pg_session_add,
    .session_lookup = pg_session_lookup,
    .session_delete = pg_session_delete,
    .session_list = pg_session_list,
    .session_revoke = pg_session_revoke,
    .device_add = pg_device_add,
    .device_pending = pg_device_pending,
    .device_approve = pg_device_approve,
    .device_take = pg_device_take,
    .experiment_create = pg_exp_create,
    .experiment_get = pg_exp_get,
    .experiment_update = pg_exp_update,
    .experiment_delete = pg_exp_delete,
    .experiment_list = pg_exp_list,
    .share_set = pg_share_set,
    .share_check = pg_share_check,
    .write_batch = pg_write_batch,
    .cursors = pg_cursors,
    .run_delete = pg_run_delete,
    .series_list = pg_series_list,
    .series_select = pg_series_select,
    .restarts = pg_restarts,
    .series_find = pg_series_find,
    .scalar_chunks = pg_scalar_chunks,
    .scalar_summaries = pg_scalar_summaries,
    .row_steps = pg_row_steps,
    .tensor_rows = pg_tensor_rows,
    .blob_rows = pg_blob_rows,
    .blob_get = pg_blob_get,
    .rows_snapshot = pg_rows_snapshot,
    .rows_read = pg_rows_read,
    .rows_count = pg_rows_count,
    .rows_write = pg_rows_write,
    .copy_marks = pg_copy_marks,
    .copy_finish = pg_copy_finish,
};
