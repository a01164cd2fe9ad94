/* SPDX-License-Identifier: MIT */
/* The SQLite storage backend: the only file that includes sqlite3.h. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>

#include "log.h"
#include "store.h"
#include "tblimits.h"

/*
 * One connection per thread (libmicrohttpd's pool threads, the checkpointer, admin commands),
 * opened on first use. Writers take the lock with BEGIN IMMEDIATE and wait at most
 * busy_timeout_ms for it. The database runs in WAL mode with synchronous=FULL, so that an
 * acknowledged write survives a power loss. Statements are prepared once per connection.
 */

#define SCHEMA_VERSION 5

#define STR_(x) #x
#define STR(x) STR_(x)
#define ROW STR(TB_QUOTA_ROW_BYTES)

/*
 * What the quota charges, in SQL: a run's own rows (the run, its files, series, scalar chunks,
 * tensor and blob points, restarts), each TB_QUOTA_ROW_BYTES plus its bytes; an experiment's
 * runs plus, for each blob it owns, TB_QUOTA_ROW_BYTES plus the blob's size; a user's
 * experiments. write_batch and run_delete keep runs.bytes, experiments.bytes and
 * users.used_bytes equal to this as they go (charge_* below); migration 3 computes it once for
 * data stored before.
 */
#define RECOUNT_RUNS                                                                               \
    "UPDATE runs SET bytes = " ROW " + length(CAST(name AS BLOB))"                                 \
    " + coalesce((SELECT sum(" ROW " + length(CAST(f.name AS BLOB))) FROM files f"                 \
    "   WHERE f.run_id = runs.id), 0)"                                                             \
    " + coalesce((SELECT sum(" ROW " + length(CAST(s.tag AS BLOB)) + length(CAST(s.plugin AS"      \
    "   BLOB)) + coalesce((SELECT length(sc.content) FROM series_content sc"                       \
    "   WHERE sc.series_id = s.id), 0) + length(CAST(s.display_name AS BLOB))"                     \
    "   + length(CAST(s.description AS BLOB))) FROM series s WHERE s.run_id = runs.id), 0)"        \
    " + coalesce((SELECT sum(" ROW " + length(c.data) + length(c.summary)) FROM scalar_chunks c"   \
    "   JOIN series s ON s.id = c.series_id WHERE s.run_id = runs.id), 0)"                         \
    " + coalesce((SELECT sum(" ROW " + length(t.data) + length(t.value_pb)"                        \
    "   + length(CAST(t.shape AS BLOB))) FROM tensors t JOIN series s ON s.id = t.series_id"       \
    "   WHERE s.run_id = runs.id), 0)"                                                             \
    " + coalesce((SELECT sum(" ROW " + length(CAST(b.meta AS BLOB)) + length(b.shas)"              \
    "   + length(b.value_pb)) FROM blob_points b JOIN series s ON s.id = b.series_id"              \
    "   WHERE s.run_id = runs.id), 0)"                                                             \
    " + (SELECT count(*) * " ROW " FROM restarts r WHERE r.run_id = runs.id);"
#define RECOUNT_EXPERIMENTS                                                                        \
    "UPDATE experiments SET bytes ="                                                               \
    " coalesce((SELECT sum(r.bytes) FROM runs r WHERE r.experiment_id = experiments.id), 0)"       \
    " + coalesce((SELECT sum(" ROW " + b.size) FROM blob_owners o JOIN blobs b ON b.sha = o.sha"   \
    "   WHERE o.experiment_id = experiments.id), 0);"
#define RECOUNT_USERS                                                                              \
    "UPDATE users SET used_bytes ="                                                                \
    " coalesce((SELECT sum(e.bytes) FROM experiments e WHERE e.owner_id = users.id), 0);"

static const char *const migrations[SCHEMA_VERSION] = {
    /* 1: the first schema */
    "CREATE TABLE users("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL DEFAULT '',"
    "  is_admin INTEGER NOT NULL DEFAULT 0, disabled INTEGER NOT NULL DEFAULT 0,"
    "  created REAL NOT NULL, quota_bytes INTEGER NOT NULL DEFAULT 0,"
    "  used_bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE tokens("
    "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  hash BLOB NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '', prefix TEXT NOT NULL,"
    "  created REAL NOT NULL, last_used REAL, revoked REAL);"
    "CREATE TABLE sessions("
    "  hash BLOB PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  expires REAL NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE device_codes("
    "  device_hash BLOB PRIMARY KEY, user_code TEXT NOT NULL UNIQUE, expires REAL NOT NULL,"
    "  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE TABLE experiments("
    "  id TEXT PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, description TEXT NOT NULL, visibility INTEGER NOT NULL,"
    "  created REAL NOT NULL, updated REAL NOT NULL,"
    "  n_scalars INTEGER NOT NULL DEFAULT 0, n_tensors INTEGER NOT NULL DEFAULT 0,"
    "  n_blobs INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX experiments_by_owner ON experiments(owner_id, updated);"
    "CREATE TABLE shares("
    "  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  PRIMARY KEY(experiment_id, user_id)) WITHOUT ROWID;"
    "CREATE TABLE runs("
    "  id INTEGER PRIMARY KEY,"
    "  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, UNIQUE(experiment_id, name));"
    "CREATE TABLE files("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,"
    "  cursor INTEGER NOT NULL, PRIMARY KEY(run_id, name)) WITHOUT ROWID;"
    "CREATE TABLE series("
    "  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  tag TEXT NOT NULL, plugin TEXT NOT NULL, plugin_content BLOB NOT NULL,"
    "  display_name TEXT NOT NULL, description TEXT NOT NULL, data_class INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL, source INTEGER NOT NULL, dtype INTEGER NOT NULL,"
    "  points INTEGER NOT NULL DEFAULT 0, min_step INTEGER, max_step INTEGER,"
    "  UNIQUE(run_id, tag));"
    "CREATE TABLE scalar_chunks("
    "  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, n INTEGER NOT NULL, min_step INTEGER NOT NULL,"
    "  max_step INTEGER NOT NULL, sorted INTEGER NOT NULL, summary BLOB NOT NULL,"
    "  data BLOB NOT NULL, PRIMARY KEY(series_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE tensors("
    "  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, step INTEGER NOT NULL, wall_time REAL NOT NULL,"
    "  dtype INTEGER NOT NULL, shape TEXT NOT NULL, data BLOB NOT NULL, value_pb BLOB NOT NULL,"
    "  PRIMARY KEY(series_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE blob_points("
    "  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, step INTEGER NOT NULL, wall_time REAL NOT NULL,"
    "  meta TEXT NOT NULL, shas BLOB NOT NULL, value_pb BLOB NOT NULL,"
    "  PRIMARY KEY(series_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE blobs(sha BLOB PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE TABLE blob_owners("
    "  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
    "  sha BLOB NOT NULL, PRIMARY KEY(experiment_id, sha)) WITHOUT ROWID;"
    "CREATE INDEX blob_owners_by_sha ON blob_owners(sha);"
    "CREATE TABLE restarts("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, step INTEGER NOT NULL, PRIMARY KEY(run_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO counters VALUES('seq', 1);",
    /* 2: each file's fingerprint (api.proto, RecordGroup), kept from its first group */
    "ALTER TABLE files ADD COLUMN fp_len INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE files ADD COLUMN fp INTEGER NOT NULL DEFAULT 0;",
    /* 3 (issue 12): the quota charges what is stored, row overhead included, and a run knows
     * its part, so that a deleted run gives its bytes back; usage is recounted for data stored
     * before, which was charged its record bytes. A series' plugin content moves to a table of
     * its own, so that listing an experiment's series reads none of it. */
    "ALTER TABLE runs ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE series_content("
    "  series_id INTEGER PRIMARY KEY REFERENCES series(id) ON DELETE CASCADE,"
    "  content BLOB NOT NULL);"
    "INSERT INTO series_content(series_id, content)"
    "  SELECT id, plugin_content FROM series WHERE length(plugin_content) > 0;"
    "ALTER TABLE series DROP COLUMN plugin_content;" RECOUNT_RUNS RECOUNT_EXPERIMENTS RECOUNT_USERS,
    /* 4: who asked for a device code, expiring tokens, and sessions with an id that can be
     * listed and revoked */
    "ALTER TABLE tokens ADD COLUMN expires REAL;"
    "ALTER TABLE device_codes ADD COLUMN created REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE device_codes ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE device_codes ADD COLUMN client_version TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE device_codes ADD COLUMN client_host TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE sessions_v2("
    "  id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created REAL NOT NULL, expires REAL NOT NULL, client_ip TEXT NOT NULL DEFAULT '',"
    "  user_agent TEXT NOT NULL DEFAULT '');"
    "INSERT INTO sessions_v2(hash, user_id, created, expires)"
    "  SELECT hash, user_id, expires - 2592000, expires FROM sessions;"
    "DROP TABLE sessions;"
    "ALTER TABLE sessions_v2 RENAME TO sessions;"
    "CREATE INDEX sessions_by_user ON sessions(user_id);",
    /* 5: no table changes; a chunk's summary may hold its 64-point groups' after its own
     * (store.h), which a server of version 4 would misread: it refuses this schema */
    "SELECT 1;",
};

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
    Q_TOKEN_ADD_EXPIRING,
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
    Q_EXP_COUNTS,
    Q_EXP_BUMP,
    Q_SHARE_ADD,
    Q_SHARE_DEL,
    Q_SHARE_CHECK,
    Q_RUN_GET,
    Q_RUN_ADD,
    Q_FILE_GET,
    Q_FILE_SET,
    Q_SERIES_GET,
    Q_SERIES_ADD,
    Q_SERIES_BUMP,
    Q_CHUNK_ADD,
    Q_TENSOR_ADD,
    Q_BLOBPT_ADD,
    Q_BLOB_ADD,
    Q_BLOB_OWN,
    Q_RESTART_ADD,
    Q_SEQ_GET,
    Q_SEQ_SET,
    Q_USER_USED,
    Q_CURSORS,
    Q_RUN_DELETE,
    Q_SERIES_LIST,
    Q_RESTARTS,
    Q_CHUNKS,
    Q_SUMMARIES,
    Q_TENSORS,
    Q_TENSOR_STEPS,
    Q_BLOB_STEPS,
    Q_BLOBPTS,
    Q_BLOB_GET,
    Q_BLOB_GC,
    Q_EXP_RECOUNT,
    Q_RUN_COUNT,
    Q_SERIES_FIND,
    Q_TAG_COUNT,
    Q_RUN_BYTES,
    Q_RUN_FIND,
    Q_RUN_DELETE_ID,
    Q_RUN_SHAS,
    Q_EXP_SHAS,
    Q_BLOB_SIZE,
    Q_OWNER_DEL,
    Q_BLOB_GC_ONE,
    Q_EXP_RELEASE,
    Q_SERIES_SELECT,
    Q_CONTENT_ADD,
    Q_USER_CHARGE,
    Q__COUNT
};

#define USER_COLS                                                                                  \
    "u.id, u.name, u.disabled, u.is_admin, u.created, u.quota_bytes, u.used_bytes, "               \
    "u.password_hash"
#define EXP_COLS                                                                                   \
    "e.id, e.owner_id, u.name, e.name, e.description, e.visibility, e.created, e.updated,"         \
    " e.n_scalars, e.n_tensors, e.n_blobs, e.bytes,"                                               \
    " (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id),"                                 \
    " (SELECT COUNT(*) FROM series s JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = e.id)"

/* What read_series_rows reads, in its order, and from where; the lean listing leaves the plugin
 * content (in series_content) out, x'' in its place: only a few handlers need it. */
#define SERIES_COLS_WITH(content)                                                                  \
    "s.id, s.run_id, r.name, s.tag, s.plugin, s.display_name, s.description, " content ","         \
    " s.data_class, s.kind, s.source, s.dtype, s.points, coalesce(s.min_step, 0),"                 \
    " coalesce(s.max_step, 0)"
#define SERIES_FULL                                                                                \
    SERIES_COLS_WITH("coalesce(sc.content, x'')")                                                  \
    " FROM series s JOIN runs r ON r.id = s.run_id"                                                \
    " LEFT JOIN series_content sc ON sc.series_id = s.id"
#define SERIES_LEAN SERIES_COLS_WITH("x''") " FROM series s JOIN runs r ON r.id = s.run_id"

static const char *const sql[Q__COUNT] = {
    [Q_RUN_COUNT] = "SELECT count(*) FROM runs WHERE experiment_id = ?1",
    [Q_SERIES_FIND] =
        "SELECT " SERIES_FULL " WHERE r.experiment_id = ?1 AND r.name = ?2 AND s.tag = ?3",
    [Q_TAG_COUNT] = "SELECT count(*) FROM series WHERE run_id = ?1",
    [Q_RUN_BYTES] = "UPDATE runs SET bytes = bytes + ?2 WHERE id = ?1",
    [Q_RUN_FIND] = "SELECT id, bytes FROM runs WHERE experiment_id = ?1 AND name = ?2",
    [Q_RUN_DELETE_ID] = "DELETE FROM runs WHERE id = ?1",
    [Q_RUN_SHAS] = "SELECT b.shas FROM blob_points b JOIN series s ON s.id = b.series_id"
                   " WHERE s.run_id = ?1",
    [Q_EXP_SHAS] = "SELECT b.shas FROM blob_points b JOIN series s ON s.id = b.series_id"
                   " JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = ?1",
    [Q_BLOB_SIZE] = "SELECT size FROM blobs WHERE sha = ?1",
    [Q_OWNER_DEL] = "DELETE FROM blob_owners WHERE experiment_id = ?1 AND sha = ?2",
    [Q_BLOB_GC_ONE] = "DELETE FROM blobs WHERE sha = ?1 AND NOT EXISTS"
                      " (SELECT 1 FROM blob_owners o WHERE o.sha = ?1)",
    [Q_EXP_RELEASE] = "UPDATE experiments SET bytes = max(0, bytes - ?2) WHERE id = ?1",
    [Q_SERIES_SELECT] =
        "SELECT " SERIES_FULL " WHERE r.experiment_id = ?1 AND (?2 IS NULL OR r.name = ?2)"
        " AND (?3 IS NULL OR s.plugin = ?3) ORDER BY r.name, s.tag",
    [Q_USER_ADD] =
        "INSERT INTO users(name, password_hash, is_admin, created) VALUES(?1, ?2, ?3, ?4)",
    [Q_USER_GET] = "SELECT " USER_COLS " FROM users u WHERE u.name = ?1",
    [Q_USER_GET_ID] = "SELECT " USER_COLS " FROM users u WHERE u.id = ?1",
    [Q_USER_LIST] = "SELECT " USER_COLS " FROM users u ORDER BY u.name",
    [Q_USER_DISABLE] = "UPDATE users SET disabled = ?2 WHERE name = ?1",
    [Q_USER_QUOTA] = "UPDATE users SET quota_bytes = ?2 WHERE name = ?1",
    [Q_USER_PASSWORD] = "UPDATE users SET password_hash = ?2 WHERE name = ?1",
    [Q_TOKEN_ADD] =
        "INSERT INTO tokens(user_id, hash, name, prefix, created) VALUES(?1, ?2, ?3, ?4, ?5)",
    [Q_TOKEN_LOOKUP] = "SELECT t.id, " USER_COLS " FROM tokens t JOIN users u ON u.id = t.user_id"
                       " WHERE t.hash = ?1 AND t.revoked IS NULL AND u.disabled = 0"
                       " AND (t.expires IS NULL OR t.expires > ?2)",
    [Q_TOKEN_ADD_EXPIRING] = "INSERT INTO tokens(user_id, hash, name, prefix, created, expires)"
                             " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
    [Q_TOKEN_LIST] = "SELECT t.id, t.user_id, u.name, t.name, t.prefix, t.created, t.last_used,"
                     " t.revoked, t.expires FROM tokens t JOIN users u ON u.id = t.user_id"
                     " WHERE ?1 IS NULL OR u.name = ?1 ORDER BY t.id",
    [Q_SESSION_ADD] = "INSERT INTO sessions(hash, user_id, created, expires, client_ip,"
                      " user_agent) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_SESSION_LOOKUP] = "SELECT s.id, " USER_COLS " FROM sessions s JOIN users u"
                         " ON u.id = s.user_id"
                         " WHERE s.hash = ?1 AND s.expires > ?2 AND u.disabled = 0",
    [Q_SESSION_DELETE] = "DELETE FROM sessions WHERE hash = ?1",
    [Q_SESSION_LIST] = "SELECT s.id, s.user_id, u.name, s.created, s.expires, s.client_ip,"
                       " s.user_agent FROM sessions s JOIN users u ON u.id = s.user_id"
                       " WHERE (?1 IS NULL OR u.name = ?1) AND s.expires > ?2"
                       " ORDER BY s.created DESC, s.id DESC",
    [Q_SESSION_REVOKE] = "DELETE FROM sessions WHERE id = ?1 AND (?2 = 0 OR user_id = ?2)",
    [Q_SESSION_END_USER] = "DELETE FROM sessions WHERE user_id = (SELECT id FROM users"
                           " WHERE name = ?1)",
    [Q_SESSION_PURGE] = "DELETE FROM sessions WHERE expires < ?1",
    [Q_DEVICE_PENDING] = "SELECT created, client_ip, client_version, client_host"
                         " FROM device_codes WHERE user_code = ?1 AND expires > ?2"
                         " AND user_id IS NULL",
    [Q_DEVICE_ADD] = "INSERT INTO device_codes(device_hash, user_code, expires, created,"
                     " client_ip, client_version, client_host) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_DEVICE_APPROVE] = "UPDATE device_codes SET user_id = ?2 WHERE user_code = ?1"
                         " AND expires > ?3 AND user_id IS NULL",
    [Q_DEVICE_GET] = "SELECT user_id, expires, created, client_ip, client_version, client_host"
                     " FROM device_codes WHERE device_hash = ?1",
    [Q_DEVICE_DELETE] = "DELETE FROM device_codes WHERE device_hash = ?1",
    [Q_DEVICE_PURGE] = "DELETE FROM device_codes WHERE expires < ?1",
    [Q_EXP_CREATE] = "INSERT INTO experiments(id, owner_id, name, description, visibility, created,"
                     " updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    [Q_EXP_GET] = "SELECT " EXP_COLS " FROM experiments e JOIN users u ON u.id = e.owner_id"
                  " WHERE e.id = ?1",
    [Q_EXP_UPDATE] = "UPDATE experiments SET name = ?2, description = ?3, visibility = ?4,"
                     " updated = ?5 WHERE id = ?1",
    [Q_EXP_DELETE] = "DELETE FROM experiments WHERE id = ?1",
    [Q_EXP_LIST] = "SELECT " EXP_COLS " FROM experiments e JOIN users u ON u.id = e.owner_id"
                   " WHERE e.owner_id = ?1 AND (?2 = 0 OR e.visibility = 2)"
                   " ORDER BY e.updated DESC",
    [Q_EXP_COUNTS] = "SELECT owner_id FROM experiments WHERE id = ?1",
    [Q_EXP_BUMP] = "UPDATE experiments SET updated = ?2, n_scalars = n_scalars + ?3,"
                   " n_tensors = n_tensors + ?4, n_blobs = n_blobs + ?5, bytes = bytes + ?6"
                   " WHERE id = ?1",
    [Q_SHARE_ADD] = "INSERT OR IGNORE INTO shares(experiment_id, user_id) VALUES(?1, ?2)",
    [Q_SHARE_DEL] = "DELETE FROM shares WHERE experiment_id = ?1 AND user_id = ?2",
    [Q_SHARE_CHECK] = "SELECT 1 FROM shares WHERE experiment_id = ?1 AND user_id = ?2",
    [Q_RUN_GET] = "SELECT id FROM runs WHERE experiment_id = ?1 AND name = ?2",
    [Q_RUN_ADD] = "INSERT INTO runs(experiment_id, name) VALUES(?1, ?2)",
    [Q_FILE_GET] = "SELECT cursor, fp_len, fp FROM files WHERE run_id = ?1 AND name = ?2",
    /* the first fingerprint a file gets is kept */
    [Q_FILE_SET] = "INSERT INTO files(run_id, name, cursor, fp_len, fp) VALUES(?1, ?2, ?3, ?4, ?5)"
                   " ON CONFLICT(run_id, name) DO UPDATE SET cursor = excluded.cursor,"
                   " fp = CASE WHEN fp_len = 0 THEN excluded.fp ELSE fp END,"
                   " fp_len = CASE WHEN fp_len = 0 THEN excluded.fp_len ELSE fp_len END",
    [Q_SERIES_GET] = "SELECT id FROM series WHERE run_id = ?1 AND tag = ?2",
    [Q_SERIES_ADD] = "INSERT INTO series(run_id, tag, plugin, display_name, description,"
                     " data_class, kind, source, dtype) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [Q_CONTENT_ADD] = "INSERT INTO series_content(series_id, content) VALUES(?1, ?2)",
    [Q_SERIES_BUMP] = "UPDATE series SET points = points + ?2,"
                      " min_step = min(coalesce(min_step, ?3), ?3),"
                      " max_step = max(coalesce(max_step, ?4), ?4) WHERE id = ?1",
    [Q_CHUNK_ADD] = "INSERT INTO scalar_chunks(series_id, seq, n, min_step, max_step, sorted,"
                    " summary, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_TENSOR_ADD] = "INSERT INTO tensors(series_id, seq, step, wall_time, dtype, shape, data,"
                     " value_pb) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_BLOBPT_ADD] = "INSERT INTO blob_points(series_id, seq, step, wall_time, meta, shas,"
                     " value_pb) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_BLOB_ADD] = "INSERT INTO blobs(sha, size, data) VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING",
    [Q_BLOB_OWN] = "INSERT OR IGNORE INTO blob_owners(experiment_id, sha) VALUES(?1, ?2)",
    [Q_RESTART_ADD] = "INSERT OR IGNORE INTO restarts(run_id, seq, step) VALUES(?1, ?2, ?3)",
    [Q_SEQ_GET] = "SELECT value FROM counters WHERE name = 'seq'",
    [Q_SEQ_SET] = "UPDATE counters SET value = ?1 WHERE name = 'seq'",
    /* the quota, exact under concurrent writers: one conditional update */
    [Q_USER_CHARGE] = "UPDATE users SET used_bytes = used_bytes + ?2 WHERE id = ?1"
                      " AND (?3 = 0 OR used_bytes + ?2 <= ?3)",
    [Q_USER_USED] = "UPDATE users SET used_bytes = max(0, used_bytes + ?2) WHERE id = ?1",
    [Q_CURSORS] = "SELECT r.name, f.name, f.cursor, f.fp_len, f.fp FROM files f"
                  " JOIN runs r ON r.id = f.run_id"
                  " WHERE r.experiment_id = ?1 ORDER BY r.name, f.name",
    [Q_RUN_DELETE] = "DELETE FROM runs WHERE experiment_id = ?1 AND name = ?2",
    [Q_SERIES_LIST] = "SELECT " SERIES_LEAN " WHERE r.experiment_id = ?1 ORDER BY r.name, s.tag",
    [Q_RESTARTS] = "SELECT seq, step FROM restarts WHERE run_id = ?1 ORDER BY seq",
    [Q_CHUNKS] = "SELECT seq, n, data FROM scalar_chunks WHERE series_id = ?1 ORDER BY seq",
    [Q_SUMMARIES] = "SELECT seq, n, min_step, max_step, sorted, substr(summary, 1, ?2)"
                    " FROM scalar_chunks WHERE series_id = ?1 ORDER BY seq",
    [Q_TENSOR_STEPS] = "SELECT seq, step FROM tensors WHERE series_id = ?1 ORDER BY seq",
    [Q_BLOB_STEPS] = "SELECT seq, step FROM blob_points WHERE series_id = ?1 ORDER BY seq",
    [Q_TENSORS] = "SELECT seq, step, wall_time, dtype, shape, data, value_pb FROM tensors"
                  " WHERE series_id = ?1 AND seq >= ?2 ORDER BY seq",
    [Q_BLOBPTS] = "SELECT seq, step, wall_time, meta, shas, value_pb FROM blob_points"
                  " WHERE series_id = ?1 AND seq >= ?2 ORDER BY seq",
    [Q_BLOB_GET] = "SELECT b.data FROM blobs b JOIN blob_owners o ON o.sha = b.sha"
                   " WHERE o.experiment_id = ?1 AND o.sha = ?2",
    [Q_BLOB_GC] = "DELETE FROM blobs WHERE NOT EXISTS"
                  " (SELECT 1 FROM blob_owners o WHERE o.sha = blobs.sha)",
    [Q_EXP_RECOUNT] =
        "UPDATE experiments SET"
        " n_scalars = coalesce((SELECT sum(c.n) FROM scalar_chunks c JOIN series s ON s.id ="
        "  c.series_id JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = ?1), 0),"
        " n_tensors = (SELECT count(*) FROM tensors t JOIN series s ON s.id = t.series_id"
        "  JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = ?1),"
        " n_blobs = (SELECT count(*) FROM blob_points b JOIN series s ON s.id = b.series_id"
        "  JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = ?1),"
        " updated = ?2 WHERE id = ?1",
};

struct conn {
    sqlite3 *db; /* NULL after a transaction could not be rolled back: reopened on next use */
    sqlite3_stmt *stmt[Q__COUNT];
    struct conn *next;
};

struct svc_store {
    char *path;
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

/* The one place SQLite result codes become errnos. */
static int err_of(sqlite3 *db, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        svc_log_error("sqlite: %s: the disk is full", what);
        return -ENOSPC;
    case SQLITE_IOERR:
        /* A WAL past each 4096 frames grows the -shm file by writing to it; on a full disk
         * that write fails with ENOSPC, and SQLite says SQLITE_IOERR_SHMSIZE (not
         * SQLITE_FULL, and with no errno kept): a full disk too, so 507, not 500. */
        if (rc == SQLITE_IOERR_SHMSIZE) {
            svc_log_error("sqlite: %s: the disk is full (the -shm file cannot grow)", what);
            return -ENOSPC;
        }
        svc_log_error("sqlite: %s: %s (%d)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                      rc);
        return -EIO;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_TOOBIG:
        return -E2BIG;
    case SQLITE_INTERRUPT:
        return -EINTR;
    default:
        svc_log_error("sqlite: %s: %s (%d)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                      rc);
        return -EIO;
    }
}

/* Closes the handle (which ends any transaction and lets go of its locks); c stays. */
static void conn_close_db(struct conn *c)
{
    for (int i = 0; i < Q__COUNT; i++) {
        sqlite3_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
    sqlite3_close_v2(c->db);
    c->db = NULL;
}

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    conn_close_db(c);
    free(c);
}

static int exec(sqlite3 *db, const char *q)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, q, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        svc_log_error("sqlite: %s: %s", q, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return err_of(db, rc, "exec");
}

/* Opens c->db with the connection settings. On failure c->db is NULL. */
static int conn_open_db(struct svc_store *s, struct conn *c)
{
    int flags =
        s->opt.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(s->path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        svc_log_error("sqlite: cannot open %s: %s", s->path,
                      c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_close_db(c);
        return rc == SQLITE_CANTOPEN ? -ENOENT : -EIO;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, s->opt.busy_timeout_ms > 0 ? s->opt.busy_timeout_ms : 5000);
    int err = exec(c->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                          " PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;");
    if (err == 0)
        err = exec(c->db, s->opt.lean_memory
                              ? "PRAGMA cache_size = -8192; PRAGMA mmap_size = 0;"
                              : "PRAGMA cache_size = -16384; PRAGMA mmap_size = 268435456;");
    if (err < 0 && !s->opt.read_only) {
        conn_close_db(c);
        return err;
    }
    if (s->opt.max_bytes) {
        /* A cap on the file: past it, writes fail as on a full disk (507), and reads go on. */
        char pragma[96];
        snprintf(pragma, sizeof(pragma), "PRAGMA max_page_count = %llu",
                 (unsigned long long)(s->opt.max_bytes / 4096 ? s->opt.max_bytes / 4096 : 1));
        exec(c->db, pragma);
    }
    return 0;
}

static int conn_open(struct svc_store *s, struct conn **ret)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int err = conn_open_db(s, c);
    if (err < 0) {
        free(c);
        return err;
    }
    *ret = c;
    return 0;
}

static void conn_release(void *p)
{
    (void)p; /* connections are closed by close(), which knows them all */
}

static struct conn *conn_get(struct svc_store *s)
{
    struct conn *c = pthread_getspecific(s->key);
    if (c && !c->db && conn_open_db(s, c) < 0)
        return NULL; /* closed after a failed rollback, and cannot be opened again yet */
    if (c)
        return c;
    if (conn_open(s, &c) < 0)
        return NULL;
    pthread_setspecific(s->key, c);
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* A reset, cleared statement; NULL (after logging) if it cannot be prepared. */
static sqlite3_stmt *st(struct conn *c, enum stmt_id id)
{
    if (!c->stmt[id]) {
        int rc =
            sqlite3_prepare_v3(c->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            svc_log_error("sqlite: preparing statement %d: %s", (int)id, sqlite3_errmsg(c->db));
            return NULL;
        }
    }
    sqlite3_reset(c->stmt[id]);
    sqlite3_clear_bindings(c->stmt[id]);
    return c->stmt[id];
}

/* Runs a statement that returns no rows; returns 0 or -errno. */
static int run(struct conn *c, sqlite3_stmt *q)
{
    if (!q)
        return -EIO;
    int rc = sqlite3_step(q);
    int err = err_of(c->db, rc, sqlite3_sql(q));
    sqlite3_reset(q);
    return err;
}

static void bind_text(sqlite3_stmt *q, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *q, int col)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static void read_user(sqlite3_stmt *q, int col, struct svc_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(q, col);
    copy_text(u->name, sizeof(u->name), q, col + 1);
    u->disabled = sqlite3_column_int(q, col + 2) != 0;
    u->is_admin = sqlite3_column_int(q, col + 3) != 0;
    u->created = sqlite3_column_double(q, col + 4);
    u->quota_bytes = (uint64_t)sqlite3_column_int64(q, col + 5);
    u->used_bytes = (uint64_t)sqlite3_column_int64(q, col + 6);
    copy_text(u->password_hash, sizeof(u->password_hash), q, col + 7);
}

static void read_experiment(sqlite3_stmt *q, struct svc_experiment *e)
{
    memset(e, 0, sizeof(*e));
    copy_text(e->id, sizeof(e->id), q, 0);
    e->owner_id = sqlite3_column_int64(q, 1);
    copy_text(e->owner, sizeof(e->owner), q, 2);
    copy_text(e->name, sizeof(e->name), q, 3);
    copy_text(e->description, sizeof(e->description), q, 4);
    e->visibility = (enum svc_visibility)sqlite3_column_int(q, 5);
    e->created = sqlite3_column_double(q, 6);
    e->updated = sqlite3_column_double(q, 7);
    e->usage.scalars = (uint64_t)sqlite3_column_int64(q, 8);
    e->usage.tensors = (uint64_t)sqlite3_column_int64(q, 9);
    e->usage.blobs = (uint64_t)sqlite3_column_int64(q, 10);
    e->usage.bytes = (uint64_t)sqlite3_column_int64(q, 11);
    e->usage.runs = (uint64_t)sqlite3_column_int64(q, 12);
    e->usage.tags = (uint64_t)sqlite3_column_int64(q, 13);
}

/* Steps a one-row query; returns 1 with a row, 0 without, or -errno. */
static int one(struct conn *c, sqlite3_stmt *q)
{
    if (!q)
        return -EIO;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        return 1;
    int err = err_of(c->db, rc, sqlite3_sql(q));
    sqlite3_reset(q);
    return err;
}

#define CONN(s)                                                                                    \
    struct conn *c = conn_get(s);                                                                  \
    if (!c)                                                                                        \
        return -EIO;

/* Ends an open transaction without keeping it. ROLLBACK itself can fail (it needs memory to
 * be prepared): then the handle is closed rather than left inside the transaction, where it
 * would fail this thread's later writes ("cannot start a transaction within a transaction")
 * and hold the write lock against every other thread's (found by tests/faults/fault_ingest). */
static void rollback(struct conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    if (!sqlite3_get_autocommit(c->db)) {
        /* Still inside it, holding the write lock that every other thread's writes wait
         * for: close the handle, which lets go of it; the thread's next call reopens. */
        svc_log_error("sqlite: a failed transaction could not be rolled back; closing the "
                      "connection");
        conn_close_db(c);
    }
}

static int begin(struct conn *c)
{
    rollback(c); /* a transaction some path left open */
    if (!c->db)
        return -EIO;
    return exec(c->db, "BEGIN IMMEDIATE");
}

static int end(struct conn *c, int err)
{
    if (err < 0) {
        rollback(c);
        return err;
    }
    int e = exec(c->db, "COMMIT");
    if (e < 0)
        rollback(c);
    return e;
}

static int is_nfs(const char *path)
{
    /* A database on NFS corrupts under SQLite's locking: refuse it (BAD-INPUTS 34). */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    else
        snprintf(dir, sizeof(dir), ".");
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        return 0;
    return sf.f_type == 0x6969 /* NFS_SUPER_MAGIC */ || sf.f_type == (long)0xff534d42 /* CIFS */ ||
           sf.f_type == 0x517b /* SMB */;
}

static int sq_open(const char *path, const struct svc_store_options *opt, struct svc_store **ret)
{
    if (opt && opt->blobs) {
        svc_log_error("a SQLite database keeps its blobs in the file: --blob_store needs a "
                      "PostgreSQL --db");
        return -ENOTSUP;
    }
    if (is_nfs(path)) {
        svc_log_error("the database %s is on a network filesystem (NFS or SMB), where SQLite's "
                      "locks do not hold; put it on a local disk",
                      path);
        return -EINVAL;
    }
    struct svc_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->path = strdup(path);
    if (opt)
        s->opt = *opt;
    if (!s->path || pthread_key_create(&s->key, conn_release) != 0) {
        free(s->path);
        free(s);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    if (!conn_get(s)) {
        pthread_key_delete(s->key);
        pthread_mutex_destroy(&s->lock);
        free(s->path);
        free(s);
        return -EIO;
    }
    *ret = s;
    return 0;
}

static void sq_close(struct svc_store *s)
{
    if (!s)
        return;
    struct conn *c = s->conns;
    while (c) {
        struct conn *next = c->next;
        conn_free(c);
        c = next;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

static int sq_migrate(struct svc_store *s, int *ret_from, int *ret_to)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    sqlite3_stmt *q = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version > SCHEMA_VERSION) {
        svc_log_error("the database is at schema version %d, newer than this server's %d; "
                      "upgrade tbdev-server",
                      version, SCHEMA_VERSION);
        return end(c, -EPROTO);
    }
    if (ret_from)
        *ret_from = version;
    for (int v = version; v < SCHEMA_VERSION && err == 0; v++) {
        err = exec(c->db, migrations[v]);
        if (err == 0) {
            char pragma[64];
            snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
            err = exec(c->db, pragma);
        }
    }
    if (ret_to)
        *ret_to = SCHEMA_VERSION;
    return end(c, err);
}

/* Expired sessions and device codes, which nothing reads again (a lookup refuses them). */
static int purge_expired(struct conn *c)
{
    static const enum stmt_id purges[] = {Q_SESSION_PURGE, Q_DEVICE_PURGE};
    for (size_t i = 0; i < sizeof(purges) / sizeof(purges[0]); i++) {
        sqlite3_stmt *q = st(c, purges[i]);
        if (!q)
            return -EIO;
        sqlite3_bind_double(q, 1, now_s());
        int err = run(c, q);
        if (err < 0)
            return err;
    }
    return 0;
}

static int sq_checkpoint(struct svc_store *s)
{
    CONN(s);
    if (!s->opt.read_only) {
        int err = purge_expired(c);
        if (err < 0 && err != -EBUSY)
            return err;
    }
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    if (rc == SQLITE_BUSY)
        rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    return err_of(c->db, rc, "checkpoint");
}

static int sq_backup(struct svc_store *s, const char *to_path)
{
    CONN(s);
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(to_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        int err = err_of(dst, rc, "backup open");
        sqlite3_close_v2(dst);
        return err ? err : -EIO;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", c->db, "main");
    if (!b) {
        int err = err_of(dst, sqlite3_errcode(dst), "backup init");
        sqlite3_close_v2(dst);
        return err ? err : -EIO;
    }
    /* Copy in steps, so that writers are not held off for the whole copy. */
    do {
        rc = sqlite3_backup_step(b, 1024);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            sqlite3_sleep(20);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    int err = rc == SQLITE_DONE ? 0 : err_of(dst, rc, "backup");
    if (!err)
        err = exec(dst, "PRAGMA journal_mode = DELETE");
    sqlite3_close_v2(dst);
    return err;
}

static int sq_integrity(struct svc_store *s, char *msg, size_t len)
{
    CONN(s);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return err_of(c->db, rc, "integrity_check");
    int ok = 0;
    if (sqlite3_step(q) == SQLITE_ROW) {
        copy_text(msg, len, q, 0);
        ok = !strcmp(msg, "ok");
    }
    sqlite3_finalize(q);
    return ok ? 0 : -EIO;
}

static int sq_user_add(struct svc_store *s, const char *name, const char *hash, bool admin,
                       int64_t *ret_id)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_USER_ADD);
    if (!q)
        return -EIO;
    bind_text(q, 1, name);
    bind_text(q, 2, hash ? hash : "");
    sqlite3_bind_int(q, 3, admin);
    sqlite3_bind_double(q, 4, now_s());
    int err = run(c, q);
    if (!err && ret_id)
        *ret_id = sqlite3_last_insert_rowid(c->db);
    return err;
}

static int user_query(struct svc_store *s, enum stmt_id id, const char *name, int64_t uid,
                      struct svc_user *ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, id);
    if (!q)
        return -EIO;
    if (name)
        bind_text(q, 1, name);
    else
        sqlite3_bind_int64(q, 1, uid);
    int r = one(c, q);
    if (r == 1) {
        read_user(q, 0, ret);
        sqlite3_reset(q);
        return 0;
    }
    return r < 0 ? r : -ENOENT;
}

static int sq_user_get(struct svc_store *s, const char *name, struct svc_user *ret)
{
    return user_query(s, Q_USER_GET, name, 0, ret);
}

static int sq_user_get_id(struct svc_store *s, int64_t id, struct svc_user *ret)
{
    return user_query(s, Q_USER_GET_ID, NULL, id, ret);
}

static int sq_user_list(struct svc_store *s, int (*cb)(void *, const struct svc_user *), void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_USER_LIST);
    if (!q)
        return -EIO;
    int rc, n = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct svc_user u;
        read_user(q, 0, &u);
        n++;
        if (cb(ctx, &u))
            break;
    }
    int err = rc == SQLITE_ROW ? 0 : err_of(c->db, rc, "user list");
    sqlite3_reset(q);
    return err < 0 ? err : n;
}

static int update_by_name(struct svc_store *s, enum stmt_id id, const char *name, int int_val,
                          const char *text_val)
{
    CONN(s);
    sqlite3_stmt *q = st(c, id);
    if (!q)
        return -EIO;
    bind_text(q, 1, name);
    if (text_val)
        bind_text(q, 2, text_val);
    else
        sqlite3_bind_int(q, 2, int_val);
    int err = run(c, q);
    if (!err && sqlite3_changes(c->db) == 0)
        return -ENOENT;
    return err;
}

static int sq_user_set_quota(struct svc_store *s, const char *name, uint64_t quota)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_USER_QUOTA);
    if (!q)
        return -EIO;
    bind_text(q, 1, name);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)quota);
    int err = run(c, q);
    if (!err && sqlite3_changes(c->db) == 0)
        return -ENOENT;
    return err;
}

static int sq_user_set_disabled(struct svc_store *s, const char *name, bool disabled)
{
    return update_by_name(s, Q_USER_DISABLE, name, disabled, NULL);
}

static int sq_user_set_password(struct svc_store *s, const char *name, const char *hash)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    err = update_by_name(s, Q_USER_PASSWORD, name, 0, hash);
    if (!err) {
        sqlite3_stmt *q = st(c, Q_SESSION_END_USER);
        bind_text(q, 1, name);
        err = run(c, q);
    }
    return end(c, err);
}

static int sq_token_add(struct svc_store *s, int64_t user_id, const uint8_t hash[32],
                        const char *name, const char *prefix, int64_t *ret_id)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_TOKEN_ADD);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, user_id);
    sqlite3_bind_blob(q, 2, hash, 32, SQLITE_STATIC);
    bind_text(q, 3, name ? name : "");
    bind_text(q, 4, prefix);
    sqlite3_bind_double(q, 5, now_s());
    int err = run(c, q);
    if (!err && ret_id)
        *ret_id = sqlite3_last_insert_rowid(c->db);
    return err;
}

static int sq_token_lookup(struct svc_store *s, const uint8_t hash[32], struct svc_user *ret,
                           int64_t *ret_token)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_TOKEN_LOOKUP);
    if (!q)
        return -EIO;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_double(q, 2, now_s());
    int r = one(c, q);
    if (r == 1) {
        if (ret_token)
            *ret_token = sqlite3_column_int64(q, 0);
        read_user(q, 1, ret);
        sqlite3_reset(q);
        return 0;
    }
    return r < 0 ? r : -ENOENT;
}

static int sq_token_revoke(struct svc_store *s, int64_t id)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_TOKEN_REVOKE);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_double(q, 2, now_s());
    int err = run(c, q);
    if (!err && sqlite3_changes(c->db) == 0)
        return -ENOENT;
    return err;
}

static int sq_token_list(struct svc_store *s, const char *user,
                         int (*cb)(void *, const struct svc_token_info *), void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_TOKEN_LIST);
    if (!q)
        return -EIO;
    bind_text(q, 1, user);
    int rc, n = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct svc_token_info t = {0};
        t.id = sqlite3_column_int64(q, 0);
        t.user_id = sqlite3_column_int64(q, 1);
        copy_text(t.user, sizeof(t.user), q, 2);
        copy_text(t.name, sizeof(t.name), q, 3);
        copy_text(t.prefix, sizeof(t.prefix), q, 4);
        t.created = sqlite3_column_double(q, 5);
        t.last_used = sqlite3_column_double(q, 6);
        t.revoked = sqlite3_column_double(q, 7);
        t.expires = sqlite3_column_double(q, 8);
        n++;
        if (cb(ctx, &t))
            break;
    }
    int err = rc == SQLITE_ROW ? 0 : err_of(c->db, rc, "token list");
    sqlite3_reset(q);
    return err < 0 ? err : n;
}

static int sq_token_add_expiring(struct svc_store *s, int64_t user_id, const uint8_t hash[32],
                                 const char *name, const char *prefix, double expires,
                                 int64_t *ret_id)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_TOKEN_ADD_EXPIRING);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, user_id);
    sqlite3_bind_blob(q, 2, hash, 32, SQLITE_STATIC);
    bind_text(q, 3, name ? name : "");
    bind_text(q, 4, prefix);
    sqlite3_bind_double(q, 5, now_s());
    if (expires > 0)
        sqlite3_bind_double(q, 6, expires);
    else
        sqlite3_bind_null(q, 6);
    int err = run(c, q);
    if (!err && ret_id)
        *ret_id = sqlite3_last_insert_rowid(c->db);
    return err;
}

static int sq_session_add(struct svc_store *s, const uint8_t hash[32], int64_t uid, double exp,
                          const struct svc_session_info *info)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SESSION_PURGE);
    if (!q)
        return -EIO;
    sqlite3_bind_double(q, 1, now_s());
    run(c, q);
    q = st(c, Q_SESSION_ADD);
    if (!q)
        return -EIO;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, uid);
    sqlite3_bind_double(q, 3, now_s());
    sqlite3_bind_double(q, 4, exp);
    bind_text(q, 5, info ? info->client_ip : "");
    bind_text(q, 6, info ? info->user_agent : "");
    return run(c, q);
}

static int sq_session_lookup(struct svc_store *s, const uint8_t hash[32], struct svc_user *ret,
                             int64_t *ret_id)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SESSION_LOOKUP);
    if (!q)
        return -EIO;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_double(q, 2, now_s());
    int r = one(c, q);
    if (r == 1) {
        if (ret_id)
            *ret_id = sqlite3_column_int64(q, 0);
        read_user(q, 1, ret);
        sqlite3_reset(q);
        return 0;
    }
    return r < 0 ? r : -ENOENT;
}

static int sq_session_delete(struct svc_store *s, const uint8_t hash[32])
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SESSION_DELETE);
    if (!q)
        return -EIO;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    return run(c, q);
}

static int sq_session_list(struct svc_store *s, const char *user,
                           int (*cb)(void *, const struct svc_session_info *), void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SESSION_LIST);
    if (!q)
        return -EIO;
    bind_text(q, 1, user);
    sqlite3_bind_double(q, 2, now_s());
    int rc, n = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct svc_session_info t = {0};
        t.id = sqlite3_column_int64(q, 0);
        t.user_id = sqlite3_column_int64(q, 1);
        copy_text(t.user, sizeof(t.user), q, 2);
        t.created = sqlite3_column_double(q, 3);
        t.expires = sqlite3_column_double(q, 4);
        copy_text(t.client_ip, sizeof(t.client_ip), q, 5);
        copy_text(t.user_agent, sizeof(t.user_agent), q, 6);
        n++;
        if (cb(ctx, &t))
            break;
    }
    int err = rc == SQLITE_ROW ? 0 : err_of(c->db, rc, "session list");
    sqlite3_reset(q);
    return err < 0 ? err : n;
}

static int sq_session_revoke(struct svc_store *s, int64_t id, int64_t user_id)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SESSION_REVOKE);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, user_id);
    int err = run(c, q);
    if (!err && sqlite3_changes(c->db) == 0)
        return -ENOENT;
    return err;
}

static void read_device(sqlite3_stmt *q, int col, struct svc_device_info *d)
{
    memset(d, 0, sizeof(*d));
    d->created = sqlite3_column_double(q, col);
    copy_text(d->client_ip, sizeof(d->client_ip), q, col + 1);
    copy_text(d->client_version, sizeof(d->client_version), q, col + 2);
    copy_text(d->client_host, sizeof(d->client_host), q, col + 3);
}

static int sq_device_add(struct svc_store *s, const uint8_t hash[32], const char *code, double exp,
                         const struct svc_device_info *info)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_DEVICE_PURGE);
    if (!q)
        return -EIO;
    sqlite3_bind_double(q, 1, now_s());
    run(c, q);
    q = st(c, Q_DEVICE_ADD);
    if (!q)
        return -EIO;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    bind_text(q, 2, code);
    sqlite3_bind_double(q, 3, exp);
    sqlite3_bind_double(q, 4, info ? info->created : now_s());
    bind_text(q, 5, info ? info->client_ip : "");
    bind_text(q, 6, info ? info->client_version : "");
    bind_text(q, 7, info ? info->client_host : "");
    return run(c, q);
}

static int sq_device_pending(struct svc_store *s, const char *code, struct svc_device_info *ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_DEVICE_PENDING);
    if (!q)
        return -EIO;
    bind_text(q, 1, code);
    sqlite3_bind_double(q, 2, now_s());
    int r = one(c, q);
    if (r == 1) {
        read_device(q, 0, ret);
        sqlite3_reset(q);
        return 0;
    }
    return r < 0 ? r : -ENOENT;
}

static int sq_device_approve(struct svc_store *s, const char *code, int64_t uid)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_DEVICE_APPROVE);
    if (!q)
        return -EIO;
    bind_text(q, 1, code);
    sqlite3_bind_int64(q, 2, uid);
    sqlite3_bind_double(q, 3, now_s());
    int err = run(c, q);
    if (!err && sqlite3_changes(c->db) == 0)
        return -ENOENT;
    return err;
}

static int sq_device_take(struct svc_store *s, const uint8_t hash[32], double now,
                          struct svc_user *ret, struct svc_device_info *ret_info)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_DEVICE_GET);
    if (!q)
        return -EIO;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    int r = one(c, q);
    if (r <= 0)
        return r < 0 ? r : -ENOENT;
    bool approved = sqlite3_column_type(q, 0) != SQLITE_NULL;
    int64_t uid = sqlite3_column_int64(q, 0);
    double expires = sqlite3_column_double(q, 1);
    struct svc_device_info info;
    read_device(q, 2, &info);
    sqlite3_reset(q);
    if (expires <= now)
        return -ENOENT;
    if (!approved)
        return 0;
    q = st(c, Q_DEVICE_DELETE);
    if (!q)
        return -EIO;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    int err = run(c, q);
    if (err < 0)
        return err;
    if (sqlite3_changes(c->db) == 0)
        return -ENOENT; /* another poll took it first */
    err = sq_user_get_id(s, uid, ret);
    if (err < 0)
        return err;
    if (ret_info)
        *ret_info = info;
    return 1;
}

static int sq_exp_create(struct svc_store *s, const struct svc_experiment *e)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_EXP_CREATE);
    if (!q)
        return -EIO;
    bind_text(q, 1, e->id);
    sqlite3_bind_int64(q, 2, e->owner_id);
    bind_text(q, 3, e->name);
    bind_text(q, 4, e->description);
    sqlite3_bind_int(q, 5, e->visibility);
    sqlite3_bind_double(q, 6, e->created);
    return run(c, q);
}

static int sq_exp_get(struct svc_store *s, const char *id, struct svc_experiment *ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_EXP_GET);
    if (!q)
        return -EIO;
    bind_text(q, 1, id);
    int r = one(c, q);
    if (r == 1) {
        read_experiment(q, ret);
        sqlite3_reset(q);
        return 0;
    }
    return r < 0 ? r : -ENOENT;
}

static int sq_exp_update(struct svc_store *s, const struct svc_experiment *e, const int64_t *share,
                         size_t n_share, const int64_t *unshare, size_t n_unshare)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    sqlite3_stmt *q = st(c, Q_EXP_UPDATE);
    if (!q)
        return end(c, -EIO);
    bind_text(q, 1, e->id);
    bind_text(q, 2, e->name);
    bind_text(q, 3, e->description);
    sqlite3_bind_int(q, 4, e->visibility);
    sqlite3_bind_double(q, 5, now_s());
    err = run(c, q);
    if (!err && sqlite3_changes(c->db) == 0)
        err = -ENOENT;
    for (size_t pass = 0; pass < 2 && !err; pass++) {
        const int64_t *ids = pass ? unshare : share;
        size_t n = pass ? n_unshare : n_share;
        for (size_t i = 0; i < n && !err; i++) {
            q = st(c, pass ? Q_SHARE_DEL : Q_SHARE_ADD);
            if (!q) {
                err = -EIO;
                break;
            }
            bind_text(q, 1, e->id);
            sqlite3_bind_int64(q, 2, ids[i]);
            err = run(c, q);
        }
    }
    return end(c, err);
}

static int sq_exp_delete(struct svc_store *s, const char *id)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    sqlite3_stmt *q = st(c, Q_EXP_COUNTS);
    if (!q)
        return end(c, -EIO);
    bind_text(q, 1, id);
    int r = one(c, q);
    if (r <= 0)
        return end(c, r < 0 ? r : -ENOENT);
    sqlite3_reset(q);
    struct svc_experiment e;
    err = sq_exp_get(s, id, &e);
    if (!err) {
        q = st(c, Q_USER_USED);
        sqlite3_bind_int64(q, 1, e.owner_id);
        sqlite3_bind_int64(q, 2, -(int64_t)e.usage.bytes);
        err = run(c, q);
    }
    if (!err) {
        q = st(c, Q_EXP_DELETE);
        bind_text(q, 1, id);
        err = run(c, q);
    }
    if (!err)
        err = run(c, st(c, Q_BLOB_GC));
    return end(c, err);
}

static int sq_exp_list(struct svc_store *s, int64_t owner, bool public_only,
                       int (*cb)(void *, const struct svc_experiment *), void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_EXP_LIST);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, owner);
    sqlite3_bind_int(q, 2, public_only);
    int rc, n = 0;
    struct svc_experiment *e = malloc(sizeof(*e));
    if (!e)
        return -ENOMEM;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        read_experiment(q, e);
        n++;
        if (cb(ctx, e))
            break;
    }
    free(e);
    int err = rc == SQLITE_ROW ? 0 : err_of(c->db, rc, "experiment list");
    sqlite3_reset(q);
    return err < 0 ? err : n;
}

static int sq_share_set(struct svc_store *s, const char *exp, int64_t uid, bool shared)
{
    CONN(s);
    sqlite3_stmt *q = st(c, shared ? Q_SHARE_ADD : Q_SHARE_DEL);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp);
    sqlite3_bind_int64(q, 2, uid);
    return run(c, q);
}

static int sq_share_check(struct svc_store *s, const char *exp, int64_t uid)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SHARE_CHECK);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp);
    sqlite3_bind_int64(q, 2, uid);
    int r = one(c, q);
    sqlite3_reset(q);
    return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

/* --- write_batch: store.c's policy over these primitives (store.h, struct svc_wb_ops) --- */

static int sq_wb_begin(struct svc_store *s, const char *exp)
{
    CONN(s);
    int err = begin(c);
    if (err < 0)
        return err;
    /* BEGIN IMMEDIATE took the database's write lock: every writer waits for it. */
    sqlite3_stmt *q = st(c, Q_EXP_COUNTS);
    if (!q)
        return end(c, -EIO);
    bind_text(q, 1, exp);
    int r = one(c, q);
    sqlite3_reset(q);
    if (r <= 0)
        return end(c, r < 0 ? r : -ENOENT);
    return 0;
}

static int sq_wb_end(struct svc_store *s, int err)
{
    CONN(s);
    return end(c, err);
}

static int sq_wb_seq_block(struct svc_store *s, int64_t *ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SEQ_GET);
    int r = one(c, q);
    if (r <= 0)
        return r < 0 ? r : -EIO;
    int64_t first = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    q = st(c, Q_SEQ_SET);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, first + SVC_SEQ_BLOCK);
    int err = run(c, q);
    if (!err)
        *ret = first;
    return err;
}

/* A query of one int64 column with a text and/or int64 key; 1 and *ret with a row, 0 without. */
static int one_int(struct conn *c, enum stmt_id id, const char *text, int64_t key, int64_t *ret)
{
    sqlite3_stmt *q = st(c, id);
    if (!q)
        return -EIO;
    int i = 1;
    if (text)
        bind_text(q, i++, text);
    if (key || !text)
        sqlite3_bind_int64(q, i, key);
    int r = one(c, q);
    if (r == 1) {
        *ret = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
    }
    return r;
}

static int sq_wb_run_lock(struct svc_store *s, const char *exp, const char *name, int64_t *ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_RUN_GET);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp);
    bind_text(q, 2, name);
    int r = one(c, q);
    if (r == 1) {
        *ret = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
    }
    return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

static int sq_wb_run_count(struct svc_store *s, const char *exp, uint64_t *ret)
{
    CONN(s);
    int64_t n = 0;
    int r = one_int(c, Q_RUN_COUNT, exp, 0, &n);
    *ret = (uint64_t)n;
    return r < 0 ? r : 0;
}

static int sq_wb_run_add(struct svc_store *s, const char *exp, const char *name, int64_t *ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_RUN_ADD);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp);
    bind_text(q, 2, name);
    int err = run(c, q);
    if (!err)
        *ret = sqlite3_last_insert_rowid(c->db);
    return err;
}

static int sq_wb_file_lock(struct svc_store *s, int64_t rid, const char *name, uint64_t *cursor,
                           uint32_t *fp_len, uint32_t *fp)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_FILE_GET);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, rid);
    bind_text(q, 2, name);
    int r = one(c, q);
    if (r == 1) {
        *cursor = (uint64_t)sqlite3_column_int64(q, 0);
        *fp_len = (uint32_t)sqlite3_column_int64(q, 1);
        *fp = (uint32_t)sqlite3_column_int64(q, 2);
        sqlite3_reset(q);
    }
    return r;
}

static int sq_wb_file_set(struct svc_store *s, int64_t rid, const char *name, uint64_t cursor,
                          uint32_t fp_len, uint32_t fp)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_FILE_SET);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, rid);
    bind_text(q, 2, name);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)cursor);
    sqlite3_bind_int64(q, 4, fp_len);
    sqlite3_bind_int64(q, 5, fp);
    return run(c, q);
}

static int sq_wb_series_get(struct svc_store *s, int64_t rid, const char *tag, int64_t *ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SERIES_GET);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, rid);
    bind_text(q, 2, tag);
    int r = one(c, q);
    if (r == 1) {
        *ret = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
    }
    return r;
}

static int sq_wb_tag_count(struct svc_store *s, int64_t rid, uint64_t *ret)
{
    CONN(s);
    int64_t n = 0;
    int r = one_int(c, Q_TAG_COUNT, NULL, rid, &n);
    *ret = (uint64_t)n;
    return r < 0 ? r : 0;
}

static int sq_wb_series_add(struct svc_store *s, int64_t rid, const struct svc_series_def *d,
                            int64_t *ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SERIES_ADD);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, rid);
    bind_text(q, 2, d->tag);
    bind_text(q, 3, d->plugin);
    bind_text(q, 4, d->display_name);
    bind_text(q, 5, d->description);
    sqlite3_bind_int(q, 6, d->data_class);
    sqlite3_bind_int(q, 7, d->kind);
    sqlite3_bind_int(q, 8, d->source);
    sqlite3_bind_int(q, 9, d->dtype);
    int err = run(c, q);
    if (err < 0)
        return err;
    int64_t id = sqlite3_last_insert_rowid(c->db);
    if (d->plugin_content.len) {
        if (!(q = st(c, Q_CONTENT_ADD)))
            return -EIO;
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_blob(q, 2, d->plugin_content.data, (int)d->plugin_content.len, SQLITE_STATIC);
        if ((err = run(c, q)) < 0)
            return err;
    }
    *ret = id;
    return 0;
}

static int sq_wb_chunks_add(struct svc_store *s, const struct svc_chunk_row *rows, size_t n)
{
    CONN(s);
    for (size_t i = 0; i < n; i++) {
        const struct svc_chunk_row *r = &rows[i];
        sqlite3_stmt *q = st(c, Q_CHUNK_ADD);
        if (!q)
            return -EIO;
        sqlite3_bind_int64(q, 1, r->series_id);
        sqlite3_bind_int64(q, 2, r->seq);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)r->n);
        sqlite3_bind_int64(q, 4, r->summary->min_step);
        sqlite3_bind_int64(q, 5, r->summary->max_step);
        sqlite3_bind_int(q, 6, r->summary->sorted);
        sqlite3_bind_blob(q, 7, r->summary->points, (int)svc_chunk_summary_len(r->summary),
                          SQLITE_STATIC);
        sqlite3_bind_blob(q, 8, r->points, (int)(r->n * SVC_SCALAR_POINT_BYTES), SQLITE_STATIC);
        int err = run(c, q);
        if (err < 0)
            return err;
    }
    return 0;
}

static int sq_wb_tensor_add(struct svc_store *s, int64_t sid, int64_t seq,
                            const struct svc_item *it)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_TENSOR_ADD);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, sid);
    sqlite3_bind_int64(q, 2, seq);
    sqlite3_bind_int64(q, 3, it->step);
    sqlite3_bind_double(q, 4, it->wall_time);
    sqlite3_bind_int(q, 5, it->x->dtype);
    bind_text(q, 6, it->x->shape ? it->x->shape : "?");
    sqlite3_bind_blob(q, 7, it->x->data.data ? (const void *)it->x->data.data : "",
                      (int)it->x->data.len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 8, it->x->value_pb.data ? (const void *)it->x->value_pb.data : "",
                      (int)it->x->value_pb.len, SQLITE_STATIC);
    return run(c, q);
}

static int sq_wb_blob_point_add(struct svc_store *s, int64_t sid, int64_t seq,
                                const struct svc_item *it)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_BLOBPT_ADD);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, sid);
    sqlite3_bind_int64(q, 2, seq);
    sqlite3_bind_int64(q, 3, it->step);
    sqlite3_bind_double(q, 4, it->wall_time);
    bind_text(q, 5, it->x->meta ? it->x->meta : "{}");
    sqlite3_bind_blob(q, 6, it->x->n_blobs ? (const void *)it->x->shas : "",
                      (int)(32 * it->x->n_blobs), SQLITE_STATIC);
    sqlite3_bind_blob(q, 7, it->x->value_pb.data ? (const void *)it->x->value_pb.data : "",
                      (int)it->x->value_pb.len, SQLITE_STATIC);
    return run(c, q);
}

static int sq_wb_blob_ref(struct svc_store *s, const char *exp, const uint8_t sha[32],
                          const uint8_t *data, size_t size)
{
    CONN(s);
    if (!data)
        return -EINVAL; /* SQLite keeps blobs in the file (store.h, svc_store_options.blobs) */
    sqlite3_stmt *q = st(c, Q_BLOB_ADD);
    if (!q)
        return -EIO;
    sqlite3_bind_blob(q, 1, sha, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)size);
    sqlite3_bind_blob(q, 3, data, (int)size, SQLITE_STATIC);
    int err = run(c, q);
    if (err < 0)
        return err;
    if (!(q = st(c, Q_BLOB_OWN)))
        return -EIO;
    bind_text(q, 1, exp);
    sqlite3_bind_blob(q, 2, sha, 32, SQLITE_STATIC);
    if ((err = run(c, q)) < 0)
        return err;
    return sqlite3_changes(c->db) ? SVC_BLOB_NEW_OWNER : 0;
}

static int sq_wb_restart_add(struct svc_store *s, int64_t rid, int64_t seq, int64_t step)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_RESTART_ADD);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, rid);
    sqlite3_bind_int64(q, 2, seq);
    sqlite3_bind_int64(q, 3, step);
    int err = run(c, q);
    return err < 0 ? err : sqlite3_changes(c->db) ? 1 : 0;
}

static int sq_wb_series_bump(struct svc_store *s, int64_t sid, uint64_t points, int64_t mn,
                             int64_t mx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SERIES_BUMP);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, sid);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)points);
    sqlite3_bind_int64(q, 3, mn);
    sqlite3_bind_int64(q, 4, mx);
    return run(c, q);
}

static int sq_wb_run_charge(struct svc_store *s, int64_t rid, uint64_t bytes)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_RUN_BYTES);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, rid);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)bytes);
    return run(c, q);
}

static int sq_wb_user_charge(struct svc_store *s, int64_t uid, uint64_t bytes, uint64_t quota)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_USER_CHARGE);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, uid);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)bytes);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)quota);
    int err = run(c, q);
    return err < 0 ? err : sqlite3_changes(c->db) ? 0 : -EDQUOT;
}

static int sq_wb_experiment_bump(struct svc_store *s, const char *exp, double now, uint64_t scalars,
                                 uint64_t tensors, uint64_t blobs, uint64_t bytes)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_EXP_BUMP);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp);
    sqlite3_bind_double(q, 2, now);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)scalars);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)tensors);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)blobs);
    sqlite3_bind_int64(q, 6, (sqlite3_int64)bytes);
    return run(c, q);
}

static const struct svc_wb_ops sq_wb = {
    .begin = sq_wb_begin,
    .end = sq_wb_end,
    .seq_block = sq_wb_seq_block,
    .run_lock = sq_wb_run_lock,
    .run_count = sq_wb_run_count,
    .run_add = sq_wb_run_add,
    .file_lock = sq_wb_file_lock,
    .file_set = sq_wb_file_set,
    .series_get = sq_wb_series_get,
    .tag_count = sq_wb_tag_count,
    .series_add = sq_wb_series_add,
    .chunks_add = sq_wb_chunks_add,
    .tensor_add = sq_wb_tensor_add,
    .blob_point_add = sq_wb_blob_point_add,
    .blob_ref = sq_wb_blob_ref,
    .restart_add = sq_wb_restart_add,
    .series_bump = sq_wb_series_bump,
    .run_charge = sq_wb_run_charge,
    .user_charge = sq_wb_user_charge,
    .experiment_bump = sq_wb_experiment_bump,
};

static int sq_write_batch(struct svc_store *s, const char *exp, int64_t owner, uint64_t quota,
                          struct svc_batch *b)
{
    return svc_store_write_batch(&sq_wb, s, NULL, exp, owner, quota, b);
}

static int sq_cursors(struct svc_store *s, const char *exp,
                      int (*cb)(void *, const char *, const char *, uint64_t, uint32_t, uint32_t),
                      void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_CURSORS);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp);
    int rc, n = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        n++;
        if (cb(ctx, (const char *)sqlite3_column_text(q, 0),
               (const char *)sqlite3_column_text(q, 1), (uint64_t)sqlite3_column_int64(q, 2),
               (uint32_t)sqlite3_column_int64(q, 3), (uint32_t)sqlite3_column_int64(q, 4)))
            break;
    }
    int err = rc == SQLITE_ROW ? 0 : err_of(c->db, rc, "cursors");
    sqlite3_reset(q);
    return err < 0 ? err : n;
}

static int cmp_sha(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Appends the shas of each row of q (one BLOB column of 32-byte hashes) to *list. */
static int collect_shas(struct conn *c, sqlite3_stmt *q, uint8_t (**list)[32], size_t *n,
                        size_t *cap)
{
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(q, 0);
        size_t k = (size_t)sqlite3_column_bytes(q, 0) / 32;
        if (*n + k > *cap) {
            size_t nc = *cap ? *cap : 64;
            while (nc < *n + k)
                nc *= 2;
            void *np = realloc(*list, nc * 32);
            if (!np) {
                sqlite3_reset(q);
                return -ENOMEM;
            }
            *list = np;
            *cap = nc;
        }
        if (k)
            memcpy((*list)[*n], p, 32 * k);
        *n += k;
    }
    int err = rc == SQLITE_DONE ? 0 : err_of(c->db, rc, "blob hashes");
    sqlite3_reset(q);
    return err;
}

/*
 * Deletes the run (its rows go by ON DELETE CASCADE) and gives back what it cost: its own
 * bytes (runs.bytes) and, for each blob it referenced that no other point of the experiment
 * references, the experiment's ownership of it (so the blob is no longer served from this
 * experiment) and its charge; a blob no experiment owns any more is deleted. One transaction.
 */
static int sq_run_delete(struct svc_store *s, const char *exp, const char *runname)
{
    CONN(s);
    uint8_t(*gone)[32] = NULL, (*kept)[32] = NULL;
    size_t n_gone = 0, cap_gone = 0, n_kept = 0, cap_kept = 0;
    int err = begin(c);
    if (err < 0)
        return err;
    struct svc_experiment e;
    if ((err = sq_exp_get(s, exp, &e)) < 0)
        goto out;
    sqlite3_stmt *q = st(c, Q_RUN_FIND);
    if (!q) {
        err = -EIO;
        goto out;
    }
    bind_text(q, 1, exp);
    bind_text(q, 2, runname);
    int r = one(c, q);
    if (r <= 0) {
        err = r < 0 ? r : -ENOENT;
        goto out;
    }
    int64_t rid = sqlite3_column_int64(q, 0);
    uint64_t release = (uint64_t)sqlite3_column_int64(q, 1);
    sqlite3_reset(q);
    /* The blobs the run references, then the run. */
    if (!(q = st(c, Q_RUN_SHAS))) {
        err = -EIO;
        goto out;
    }
    sqlite3_bind_int64(q, 1, rid);
    if ((err = collect_shas(c, q, &gone, &n_gone, &cap_gone)) < 0)
        goto out;
    if (!(q = st(c, Q_RUN_DELETE_ID))) {
        err = -EIO;
        goto out;
    }
    sqlite3_bind_int64(q, 1, rid);
    if ((err = run(c, q)) < 0)
        goto out;
    if (n_gone) {
        /* What the experiment's other points still reference stays. */
        if (!(q = st(c, Q_EXP_SHAS))) {
            err = -EIO;
            goto out;
        }
        bind_text(q, 1, exp);
        if ((err = collect_shas(c, q, &kept, &n_kept, &cap_kept)) < 0)
            goto out;
        qsort(gone, n_gone, 32, cmp_sha);
        if (n_kept)
            qsort(kept, n_kept, 32, cmp_sha);
    }
    for (size_t i = 0; i < n_gone && !err; i++) {
        if ((i && !memcmp(gone[i], gone[i - 1], 32)) ||
            (n_kept && bsearch(gone[i], kept, n_kept, 32, cmp_sha)))
            continue;
        if (!(q = st(c, Q_BLOB_SIZE))) {
            err = -EIO;
            break;
        }
        sqlite3_bind_blob(q, 1, gone[i], 32, SQLITE_STATIC);
        int found = one(c, q);
        if (found < 0) {
            err = found;
            break;
        }
        uint64_t size = found ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
        sqlite3_reset(q);
        q = st(c, Q_OWNER_DEL);
        bind_text(q, 1, exp);
        sqlite3_bind_blob(q, 2, gone[i], 32, SQLITE_STATIC);
        if ((err = run(c, q)) < 0)
            break;
        if (sqlite3_changes(c->db))
            release += TB_QUOTA_ROW_BYTES + size;
        q = st(c, Q_BLOB_GC_ONE);
        sqlite3_bind_blob(q, 1, gone[i], 32, SQLITE_STATIC);
        err = run(c, q);
    }
    if (!err) {
        q = st(c, Q_EXP_RELEASE);
        bind_text(q, 1, exp);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)release);
        err = run(c, q);
    }
    if (!err) {
        q = st(c, Q_USER_USED);
        sqlite3_bind_int64(q, 1, e.owner_id);
        sqlite3_bind_int64(q, 2, -(sqlite3_int64)release);
        err = run(c, q);
    }
    if (!err) {
        q = st(c, Q_EXP_RECOUNT);
        bind_text(q, 1, exp);
        sqlite3_bind_double(q, 2, now_s());
        err = run(c, q);
    }
out:
    free(gone);
    free(kept);
    return end(c, err);
}

void svc_series_list_free(struct svc_series_info *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++) {
        free(list[i].run);
        free(list[i].tag);
        free(list[i].plugin);
        free(list[i].display_name);
        free(list[i].description);
        free(list[i].plugin_content);
    }
    free(list);
}

static char *dup_col(sqlite3_stmt *q, int col)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    return strdup(t ? (const char *)t : "");
}

static int read_series_rows(struct conn *c, sqlite3_stmt *q, struct svc_series_info **ret,
                            size_t *ret_n);

static int sq_series_list(struct svc_store *s, const char *exp_id, struct svc_series_info **ret,
                          size_t *ret_n)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SERIES_LIST);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp_id);
    return read_series_rows(c, q, ret, ret_n);
}

static int read_series_rows(struct conn *c, sqlite3_stmt *q, struct svc_series_info **ret,
                            size_t *ret_n)
{
    struct svc_series_info *list = NULL;
    size_t n = 0, cap = 0;
    int rc, err = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            void *nl = realloc(list, cap * sizeof(*list));
            if (!nl) {
                err = -ENOMEM;
                break;
            }
            list = nl;
        }
        struct svc_series_info *si = &list[n++];
        memset(si, 0, sizeof(*si));
        si->id = sqlite3_column_int64(q, 0);
        si->run_id = sqlite3_column_int64(q, 1);
        si->run = dup_col(q, 2);
        si->tag = dup_col(q, 3);
        si->plugin = dup_col(q, 4);
        si->display_name = dup_col(q, 5);
        si->description = dup_col(q, 6);
        si->plugin_content_len = (size_t)sqlite3_column_bytes(q, 7);
        si->plugin_content = malloc(si->plugin_content_len + 1);
        if (si->plugin_content && si->plugin_content_len)
            memcpy(si->plugin_content, sqlite3_column_blob(q, 7), si->plugin_content_len);
        si->data_class = sqlite3_column_int(q, 8);
        si->kind = (enum tb_kind)sqlite3_column_int(q, 9);
        si->source = sqlite3_column_int(q, 10);
        si->dtype = sqlite3_column_int(q, 11);
        si->points = (uint64_t)sqlite3_column_int64(q, 12);
        si->min_step = sqlite3_column_int64(q, 13);
        si->max_step = sqlite3_column_int64(q, 14);
        if (!si->run || !si->tag || !si->plugin || !si->display_name || !si->description ||
            !si->plugin_content) {
            err = -ENOMEM;
            break;
        }
    }
    if (!err && rc != SQLITE_DONE)
        err = err_of(c->db, rc, "series list");
    sqlite3_reset(q);
    if (err < 0) {
        svc_series_list_free(list, n);
        return err;
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

static int sq_series_select(struct svc_store *s, const char *exp_id, const char *run,
                            const char *plugin, struct svc_series_info **ret, size_t *ret_n)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SERIES_SELECT);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp_id);
    bind_text(q, 2, run);
    bind_text(q, 3, plugin);
    return read_series_rows(c, q, ret, ret_n);
}

static int sq_series_find(struct svc_store *s, const char *exp, const char *run, const char *tag,
                          struct svc_series_info **ret)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SERIES_FIND);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp);
    bind_text(q, 2, run);
    bind_text(q, 3, tag);
    size_t n = 0;
    int err = read_series_rows(c, q, ret, &n);
    if (err < 0)
        return err;
    if (n == 0) {
        svc_series_list_free(*ret, 0);
        return -ENOENT;
    }
    return 0;
}

static int sq_restarts(struct svc_store *s, int64_t run, struct svc_restart **ret, size_t *ret_n)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_RESTARTS);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, run);
    struct svc_restart *list = NULL;
    size_t n = 0, cap = 0;
    int rc, err = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            void *nl = realloc(list, cap * sizeof(*list));
            if (!nl) {
                err = -ENOMEM;
                break;
            }
            list = nl;
        }
        list[n].seq = sqlite3_column_int64(q, 0);
        list[n].step = sqlite3_column_int64(q, 1);
        n++;
    }
    if (!err && rc != SQLITE_DONE)
        err = err_of(c->db, rc, "restarts");
    sqlite3_reset(q);
    if (err < 0) {
        free(list);
        return err;
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

static int sq_scalar_chunks(struct svc_store *s, int64_t sid, svc_scalar_chunk_cb cb, void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_CHUNKS);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, sid);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_int64(q, 1);
        const uint8_t *data = sqlite3_column_blob(q, 2);
        size_t len = (size_t)sqlite3_column_bytes(q, 2);
        if (len != n * SVC_SCALAR_POINT_BYTES) {
            svc_log_error("sqlite: scalar chunk of series %lld is %zu bytes for %zu points",
                          (long long)sid, len, n);
            continue;
        }
        if (cb(ctx, sqlite3_column_int64(q, 0), data, n))
            break;
    }
    int err = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : err_of(c->db, rc, "scalar chunks");
    sqlite3_reset(q);
    return err;
}

static int sq_scalar_summaries(struct svc_store *s, int64_t sid, bool groups, svc_summary_cb cb,
                               void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_SUMMARIES);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, sid);
    struct svc_chunk_summary sum;
    sqlite3_bind_int64(q, 2, (int64_t)(groups ? sizeof(sum.points) : SVC_SUMMARY_UNIT_BYTES));
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        sum.n = (size_t)sqlite3_column_int64(q, 1);
        sum.min_step = sqlite3_column_int64(q, 2);
        sum.max_step = sqlite3_column_int64(q, 3);
        sum.sorted = sqlite3_column_int(q, 4) != 0;
        const uint8_t *d = sqlite3_column_blob(q, 5);
        size_t len = (size_t)sqlite3_column_bytes(q, 5);
        if (!svc_chunk_summary_load(&sum, d, len)) {
            svc_log_error("sqlite: the summary of a scalar chunk of series %lld is %zu bytes"
                          " for %zu points",
                          (long long)sid, len, sum.n);
            continue;
        }
        if (cb(ctx, sqlite3_column_int64(q, 0), &sum))
            break;
    }
    int err = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : err_of(c->db, rc, "scalar summaries");
    sqlite3_reset(q);
    return err;
}

static int rows(struct svc_store *s, enum stmt_id id, int64_t sid, int64_t from_seq,
                svc_tensor_row_cb cb, void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, id);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, sid);
    sqlite3_bind_int64(q, 2, from_seq);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct svc_tensor_row r = {0};
        r.seq = sqlite3_column_int64(q, 0);
        r.step = sqlite3_column_int64(q, 1);
        r.wall_time = sqlite3_column_double(q, 2);
        if (id == Q_TENSORS) {
            r.dtype = sqlite3_column_int(q, 3);
            r.shape = (const char *)sqlite3_column_text(q, 4);
            r.data = sqlite3_column_blob(q, 5);
            r.len = (size_t)sqlite3_column_bytes(q, 5);
            r.value_pb = sqlite3_column_blob(q, 6);
            r.value_pb_len = (size_t)sqlite3_column_bytes(q, 6);
        } else {
            r.meta = (const char *)sqlite3_column_text(q, 3);
            r.shas = sqlite3_column_blob(q, 4);
            r.n_blobs = (size_t)sqlite3_column_bytes(q, 4) / 32;
            r.value_pb = sqlite3_column_blob(q, 5);
            r.value_pb_len = (size_t)sqlite3_column_bytes(q, 5);
        }
        if (cb(ctx, &r))
            break;
    }
    int err = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : err_of(c->db, rc, "rows");
    sqlite3_reset(q);
    return err;
}

static int sq_row_steps(struct svc_store *s, int64_t sid, bool blobs,
                        int (*cb)(void *, int64_t, int64_t), void *ctx)
{
    CONN(s);
    sqlite3_stmt *q = st(c, blobs ? Q_BLOB_STEPS : Q_TENSOR_STEPS);
    if (!q)
        return -EIO;
    sqlite3_bind_int64(q, 1, sid);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        if (cb(ctx, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1)))
            break;
    int err = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : err_of(c->db, rc, "row steps");
    sqlite3_reset(q);
    return err;
}

static int sq_tensor_rows(struct svc_store *s, int64_t sid, int64_t from_seq, svc_tensor_row_cb cb,
                          void *ctx)
{
    return rows(s, Q_TENSORS, sid, from_seq, cb, ctx);
}

static int sq_blob_rows(struct svc_store *s, int64_t sid, int64_t from_seq, svc_tensor_row_cb cb,
                        void *ctx)
{
    return rows(s, Q_BLOBPTS, sid, from_seq, cb, ctx);
}

static int sq_blob_get(struct svc_store *s, const char *exp, const uint8_t sha[32], uint8_t **ret,
                       size_t *ret_len)
{
    CONN(s);
    sqlite3_stmt *q = st(c, Q_BLOB_GET);
    if (!q)
        return -EIO;
    bind_text(q, 1, exp);
    sqlite3_bind_blob(q, 2, sha, 32, SQLITE_STATIC);
    int r = one(c, q);
    if (r <= 0)
        return r < 0 ? r : -ENOENT;
    size_t len = (size_t)sqlite3_column_bytes(q, 0);
    uint8_t *data = malloc(len ? len : 1);
    if (data && len)
        memcpy(data, sqlite3_column_blob(q, 0), len);
    sqlite3_reset(q);
    if (!data)
        return -ENOMEM;
    *ret = data;
    *ret_len = len;
    return 0;
}

/* --- moving an installation: rows as stored (copy.c) --- */

/* "a, b, c" of t's first n columns, with a prefix and suffix per name. */
static void col_list(char *out, size_t len, const struct svc_copy_table *t, unsigned n,
                     const char *sep)
{
    size_t at = 0;
    out[0] = 0;
    for (unsigned i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(out + at, len - at, "%s%s", i ? sep : "", t->cols[i]);
}

static int sq_rows_snapshot(struct svc_store *s, bool on)
{
    CONN(s);
    if (!on) {
        rollback(c); /* a read: nothing to keep */
        return 0;
    }
    int err = exec(c->db, "BEGIN");
    sqlite3_stmt *q = NULL;
    int version = -1;
    if (!err && sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (!err && version != SCHEMA_VERSION) {
        svc_log_error("the database %s is at schema version %d, this tbdev-server's is %d: run "
                      "'tbdev-server migrate --db %s' first (on a backup if the server is to "
                      "keep running)",
                      s->path, version, SCHEMA_VERSION, s->path);
        rollback(c);
        return -EPROTO;
    }
    return err;
}

static int sq_rows_read(struct svc_store *s, const struct svc_copy_table *t,
                        const struct svc_copy_value *after, svc_copy_row_cb cb, void *ctx)
{
    CONN(s);
    char cols[512], keys[256], marks[64] = "", q_sql[1200];
    col_list(cols, sizeof(cols), t, t->n_cols, ", ");
    col_list(keys, sizeof(keys), t, t->n_key, ", ");
    for (unsigned i = 0; i < t->n_key; i++)
        snprintf(marks + strlen(marks), sizeof(marks) - strlen(marks), "%s?%u", i ? ", " : "",
                 i + 1);
    snprintf(q_sql, sizeof(q_sql), "SELECT %s FROM %s%s%s%s%s%s ORDER BY %s", cols, t->name,
             after ? " WHERE (" : "", after ? keys : "", after ? ") > (" : "", after ? marks : "",
             after ? ")" : "", keys);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(c->db, q_sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return err_of(c->db, rc, q_sql);
    for (unsigned i = 0; after && i < t->n_key; i++) {
        char ty = t->types[i];
        if (ty == 'i')
            sqlite3_bind_int64(q, (int)i + 1, after[i].i);
        else if (ty == 't')
            sqlite3_bind_text(q, (int)i + 1, (const char *)after[i].p, (int)after[i].len,
                              SQLITE_STATIC);
        else
            sqlite3_bind_blob(q, (int)i + 1, after[i].p ? (const void *)after[i].p : "",
                              (int)after[i].len, SQLITE_STATIC);
    }
    struct svc_copy_value row[SVC_COPY_COLS_MAX];
    int ret = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        for (unsigned i = 0; i < t->n_cols; i++) {
            struct svc_copy_value *v = &row[i];
            memset(v, 0, sizeof(*v));
            v->null = sqlite3_column_type(q, (int)i) == SQLITE_NULL;
            if (v->null)
                continue;
            switch (t->types[i] | 0x20) {
            case 'i':
                v->i = sqlite3_column_int64(q, (int)i);
                break;
            case 'd':
                v->d = sqlite3_column_double(q, (int)i);
                break;
            case 't':
                v->p = sqlite3_column_text(q, (int)i);
                v->len = (size_t)sqlite3_column_bytes(q, (int)i);
                break;
            default:
                v->p = sqlite3_column_blob(q, (int)i);
                v->len = (size_t)sqlite3_column_bytes(q, (int)i);
                break;
            }
        }
        if ((ret = cb(ctx, row)) != 0)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = err_of(c->db, rc, q_sql);
    sqlite3_finalize(q);
    return ret;
}

static int sq_rows_count(struct svc_store *s, const struct svc_copy_table *t, uint64_t *ret_n)
{
    CONN(s);
    char q_sql[128];
    snprintf(q_sql, sizeof(q_sql), "SELECT count(*) FROM %s", t->name);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(c->db, q_sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return err_of(c->db, rc, q_sql);
    rc = sqlite3_step(q);
    int err = rc == SQLITE_ROW ? 0 : err_of(c->db, rc, q_sql);
    if (!err)
        *ret_n = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return err;
}

const struct svc_store_ops svc_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .checkpoint = sq_checkpoint,
    .backup = sq_backup,
    .integrity_check = sq_integrity,
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .user_get_id = sq_user_get_id,
    .user_list = sq_user_list,
    .user_set_disabled = sq_user_set_disabled,
    .user_set_password = sq_user_set_password,
    .user_set_quota = sq_user_set_quota,
    .token_add = sq_token_add,
    .token_lookup = sq_token_lookup,
    .token_revoke = sq_token_revoke,
    .token_list = sq_token_list,
    .token_add_expiring = sq_token_add_expiring,
    .session_add = sq_session_add,
    .session_lookup = sq_session_lookup,
    .session_delete = sq_session_delete,
    .session_list = sq_session_list,
    .session_revoke = sq_session_revoke,
    .device_add = sq_device_add,
    .device_pending = sq_device_pending,
    .device_approve = sq_device_approve,
    .device_take = sq_device_take,
    .experiment_create = sq_exp_create,
    .experiment_get = sq_exp_get,
    .experiment_update = sq_exp_update,
    .experiment_delete = sq_exp_delete,
    .experiment_list = sq_exp_list,
    .share_set = sq_share_set,
    .share_check = sq_share_check,
    .write_batch = sq_write_batch,
    .cursors = sq_cursors,
    .run_delete = sq_run_delete,
    .series_list = sq_series_list,
    .series_select = sq_series_select,
    .restarts = sq_restarts,
    .series_find = sq_series_find,
    .scalar_chunks = sq_scalar_chunks,
    .scalar_summaries = sq_scalar_summaries,
    .row_steps = sq_row_steps,
    .tensor_rows = sq_tensor_rows,
    .blob_rows = sq_blob_rows,
    .blob_get = sq_blob_get,
    .rows_snapshot = sq_rows_snapshot,
    .rows_read = sq_rows_read,
    .rows_count = sq_rows_count,
};
