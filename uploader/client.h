/* SPDX-License-Identifier: MIT */
/* A tbdev API client: the handshake, retries with backoff, and error messages. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "creds.h"
#include "net.h"
#include "tbdev/v1/api.pb-c.h"

struct up_client {
    struct up_net *net;
    char server[512];
    bool verbose;
    const volatile sig_atomic_t *stop; /* set by Ctrl-C: give up waiting between retries */
    Tbdev__V1__ServerInfo *info;       /* after up_client_handshake; owned */
    const char *encoding;              /* "zstd", "gzip" or NULL */
    /* Retries of a transient failure before giving up: 0 for ever (uploads, which must not
     * lose data); commands that people wait for give up after a few (up_client_open: 4). */
    int max_attempts;
    bool retry_refused; /* a refused connection is transient (a server restarting): uploads */
};

/*
 * Connects to the server named by creds (or --server). need_token: fail with a message when
 * there is no token. *ret is owned by the caller: up_client_close.
 * Returns 0, or -EINVAL with a message in err.
 */
int up_client_open(const struct up_creds *creds, const char *server, const char *cacert,
                   bool need_token, bool verbose, struct up_client **ret, char *err,
                   size_t err_len);
void up_client_close(struct up_client *c);

/* GET /api/v1/server-info: limits, plugins, encodings and the verdict. A VERDICT_ERROR or an
 * unreachable server is an error (message in err); a warning is printed. */
int up_client_handshake(struct up_client *c, char *err, size_t err_len);

/*
 * One API call, retried with exponential backoff and jitter while the failure is transient
 * (a connection reset or timed out, a refused connection when retry_refused, 408, 429, 5xx,
 * 507 disk full), honouring Retry-After, until it succeeds, max_attempts is reached, or
 * *stop is set. Failures that cannot fix themselves end at once with a message that says what
 * to do: an unknown host (-EHOSTUNREACH), a refused connection (-ECONNREFUSED), http/https
 * mixed up or a certificate not trusted (-EPROTO), a malformed URL (-EINVAL). Returns 0 with
 * the final reply (any status that is not transient), -EINTR when stopped, -ETIMEDOUT after
 * max_attempts, or one of the above, with a message in err.
 */
int up_client_call(struct up_client *c, const char *method, const char *path, const char *ctype,
                   const void *body, size_t len, bool compress, struct up_reply *ret, char *err,
                   size_t err_len);

/* The server's error as a sentence: "message (code)". Also copies the code if code != NULL. */
void up_reply_error(const struct up_reply *r, char *out, size_t len, char *code, size_t code_len);

/* Packs a protobuf message into a fresh buffer (caller frees with free()). */
void *up_pack(const void *msg, size_t *ret_len);
