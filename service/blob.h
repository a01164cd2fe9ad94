/* SPDX-License-Identifier: MIT */
/*
 * Blob stores: where the bytes of images, audio and graphs go when they are not kept in the
 * database. One table of operations, one file per kind: blob_s3.c (S3-compatible object
 * storage, the only file of the server that includes curl/curl.h). Blobs are content-addressed:
 * an object's key is the lowercase hex SHA-256 of its bytes, so writing one twice is harmless.
 * Without --blob_store the store keeps blobs in the database (SQLite always does).
 *
 * Errors: -ENOENT no such object; -EACCES the store refused the credentials (403);
 * -EBUSY the store is unavailable or slow (503, a time-out, a refused connection): retry later;
 * -EIO anything else (logged once here); -ENOMEM.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct svc_blob_store;

struct svc_blob_options {
    const char *url;        /* "s3://BUCKET" or "s3://BUCKET/PREFIX" */
    const char *endpoint;   /* "https://s3.example.org" or "http://127.0.0.1:8080" */
    const char *region;     /* NULL: "us-east-1" */
    const char *access_key; /* may contain ':' */
    const char *secret_key; /* never logged */
    long timeout_s;         /* one request's limit; 0: 60 */
};

struct svc_blob_ops {
    const char *name;
    /* Connects and checks the bucket and the credentials (a signed HEAD of the bucket), so that
     * a wrong secret is a clear error at startup: err says what to fix. */
    int (*open)(const struct svc_blob_options *o, struct svc_blob_store **ret, char *err,
                size_t err_len);
    void (*close)(struct svc_blob_store *b);
    int (*put)(struct svc_blob_store *b, const uint8_t sha[32], const uint8_t *data, size_t len);
    /* *ret_data (caller frees with free()) holds at most max_len bytes, else -E2BIG. */
    int (*get)(struct svc_blob_store *b, const uint8_t sha[32], size_t max_len, uint8_t **ret_data,
               size_t *ret_len);
    /* Deleting an object that is not there is not an error. */
    int (*del)(struct svc_blob_store *b, const uint8_t sha[32]);
};

extern const struct svc_blob_ops svc_blob_s3;

/* A blob store and its operations, as the storage backend is given it. */
struct svc_blobs {
    const struct svc_blob_ops *ops;
    struct svc_blob_store *store;
};

/* The operations for a --blob_store URL, or NULL (after which the caller says it is not one
 * this server knows: only s3:// is). */
const struct svc_blob_ops *svc_blob_ops_for(const char *url);

/* The object key of sha: 64 lowercase hex digits and a NUL. */
void svc_blob_key(const uint8_t sha[32], char out[65]);
