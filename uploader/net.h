/* SPDX-License-Identifier: MIT */
/* HTTP(S) for tbdev: the only file that includes curl/curl.h. One connection, reused. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct up_net;

struct up_reply {
    long status;        /* HTTP status; 0 when the exchange did not complete */
    struct tb_buf body; /* owned: free with tb_buf_done */
    double retry_after; /* seconds from Retry-After, or 0 */
    bool protobuf;      /* the body is application/x-protobuf */
};

/*
 * Prepares a client for base_url ("https://host:port"); token may be NULL (anonymous),
 * cacert a PEM file to trust instead of the system's (self-hosted servers with their own CA).
 * *ret is owned by the caller: up_net_close. Errors: -ENOMEM, -EINVAL (bad URL).
 */
int up_net_open(const char *base_url, const char *token, const char *cacert, bool verbose,
                struct up_net **ret);
void up_net_close(struct up_net *n);

/*
 * Sends one request to base_url + path. body may be NULL. With encoding ("zstd" or "gzip")
 * the body is sent compressed. Accepts protobuf or JSON back.
 * Returns 0 when an HTTP answer came back (whatever its status: see ret->status), or a
 * negative errno for a transport failure, with a message for the user in err:
 * -ECONNREFUSED, -ETIMEDOUT, -EPROTO (TLS or protocol), -EIO (other). Transport failures
 * are worth retrying; the caller decides.
 */
int up_net_call(struct up_net *n, const char *method, const char *path, const char *content_type,
                const void *body, size_t len, const char *encoding, struct up_reply *ret, char *err,
                size_t err_len);

/* Bytes sent on the wire so far (after compression). */
unsigned long long up_net_bytes_sent(const struct up_net *n);

/* Percent-encodes s for a URL's query. Caller frees with free(); NULL when out of memory. */
char *up_net_escape(const char *s);

/* Compresses with zstd (level 3) or gzip into out. Returns 0 or -errno. */
int up_compress(const char *encoding, const void *in, size_t len, struct tb_buf *out);
