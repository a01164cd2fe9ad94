/* SPDX-License-Identifier: MIT */
/*
 * Moving an installation (`tbdev-server copy`): every table of one database copied into
 * another, rows as they are stored (ids, seqs, chunk bytes), resumable, then verified.
 *
 * The copy reads the source through its backend's rows_read (store.h) in one read snapshot,
 * table by table in the order of svc_copy_tables (each table after those it refers to), in
 * key order, and writes the destination through rows_write in batches of at most
 * TB_COPY_BATCH_ROWS rows or TB_COPY_BATCH_BYTES bytes: each batch in one transaction with a
 * mark (the last key copied), so that a copy killed at any point and run again continues
 * after the last committed batch, never writing a row twice. The source is opened read-only
 * and never written. The destination is PostgreSQL (the only backend with rows_write): it
 * must be a freshly migrated database, or one a copy from the same source was written to;
 * one holding other data is refused. With an object store, each blob's bytes go there (named
 * by their SHA-256, as blob_s3.c does), are read back and checked before its row is written
 * (without bytes); without one, into the database.
 *
 * Verification: per table, the rows on each side and a SHA-256 over their canonical encoding
 * (svc_copy_row_digest) in key order; a blob's bytes count as their own SHA-256, read from the
 * database or the object store. Any difference fails the copy.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "auth.h"
#include "blob.h"
#include "store.h"

/* Every table of the schema (both backends' migrations), in copy order. */
extern const struct svc_copy_table svc_copy_tables[];
extern const size_t svc_copy_n_tables;

/*
 * The canonical encoding of a value: a tag byte ('N' for NULL, else the column's type letter
 * in lower case) and then: int8 and float8 as 8 bytes little-endian (a float8's bits as they
 * are), text and bytes as an 8-byte little-endian length and the bytes. A row is its values'
 * encodings in column order. Writes at most svc_copy_value_size bytes to out (NULL: none) and
 * returns how many it takes.
 */
size_t svc_copy_value_encode(char type, const struct svc_copy_value *v, uint8_t *out);

/* Adds row (t->n_cols values) in its canonical encoding to a digest. */
void svc_copy_row_digest(struct svc_sha256_ctx *ctx, const struct svc_copy_table *t,
                         const struct svc_copy_value *row);

/* The key of row (its first t->n_key values) encoded as above, into *ret (caller frees with
 * free()). -ENOMEM. */
int svc_copy_key_encode(const struct svc_copy_table *t, const struct svc_copy_value *row,
                        uint8_t **ret, size_t *ret_len);

/* Decodes a key that svc_copy_key_encode made (read back from a destination, so untrusted)
 * into ret[t->n_key], whose text and bytes point into p. -EBADMSG if it is not exactly t's
 * key: a wrong tag, a NULL, a length past the end, or bytes left over. */
int svc_copy_key_decode(const struct svc_copy_table *t, const uint8_t *p, size_t len,
                        struct svc_copy_value *ret);

struct svc_copy_options {
    const struct svc_store_ops *from_ops, *to_ops;
    struct svc_store *from, *to;
    const char *from_name;         /* the source as shown (a URL's password masked) */
    const struct svc_blobs *blobs; /* the destination's object store, or NULL */
    bool verify_only;              /* compare only */
    bool progress;                 /* a line on stderr that updates (a terminal) */
    FILE *log;                     /* a line per table as it is done (NULL: none) */
};

/* What one table gave, and the whole run's figures. */
struct svc_copy_table_result {
    const char *table;
    uint64_t copied;                  /* rows written by this run */
    uint64_t src_rows, dst_rows;      /* at verification */
    uint8_t src_sha[32], dst_sha[32]; /* at verification */
    uint64_t missing_objects;         /* blobs whose object could not be read back */
};

struct svc_copy_result {
    struct svc_copy_table_result tables[32];
    size_t n_tables;
    uint64_t rows, bytes; /* copied by this run */
    double copy_s, verify_s;
    bool resumed;     /* a copy started before was continued */
    bool verified;    /* verification ran and every table matched */
    bool unfinished;  /* --verify_only of a copy that was stopped and not run again */
    char error[1024]; /* what went wrong, when svc_copy_run fails */
};

/* Copies (unless verify_only) and verifies. Returns 0 when the copy is complete and every
 * table matches; -EEXIST when the destination holds data of another origin, -ENOTSUP when it
 * cannot be written, -EBADMSG on a verification mismatch, or the error (-errno) that stopped
 * it; r->error then says what and where. */
int svc_copy_run(const struct svc_copy_options *o, struct svc_copy_result *r);

/* The verification table (or, with json, one JSON object) of r. */
void svc_copy_report(FILE *f, const struct svc_copy_result *r, bool json, int rc, const char *from,
                     const char *to);
