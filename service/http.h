/* SPDX-License-Identifier: MIT */
/* The HTTP(S) server: the only file that includes microhttpd.h. Requests in, responses out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct svc_request {
    const char *method;    /* "GET", "POST", ... */
    const char *path;      /* percent-decoded by libmicrohttpd, without the query */
    const char *client_ip; /* for logs and limits */
    const uint8_t *body;   /* decompressed; NUL-terminated; NULL when empty */
    size_t body_len;
    bool tls;   /* the request came over HTTPS */
    void *conn; /* opaque: the connection, for the accessors below */
};

/* A request header or query parameter (the first one), or NULL. Borrowed for the request. */
const char *svc_req_header(const struct svc_request *r, const char *name);
const char *svc_req_query(const struct svc_request *r, const char *key);
/* Calls cb for every value of a repeated query parameter; returns how many there were. */
int svc_req_query_each(const struct svc_request *r, const char *key,
                       void (*cb)(void *ctx, const char *value), void *ctx);
/* The value of cookie `name`, copied into out (NUL-terminated); false if absent or too long. */
bool svc_req_cookie(const struct svc_request *r, const char *name, char *out, size_t out_len);

#define SVC_RES_HEADERS_MAX 8

struct svc_response {
    int status;                 /* 0 means 404 */
    const char *content_type;   /* static string */
    struct tb_buf body;         /* the body, unless static_body is set */
    const uint8_t *static_body; /* a body that outlives the response (embedded assets) */
    size_t static_len;
    const char *cache_control; /* NULL: "no-store" */
    size_t n_headers;
    char headers[SVC_RES_HEADERS_MAX][2][256]; /* extra headers: Retry-After, Set-Cookie, ... */
};

/* Adds a response header; silently ignored past SVC_RES_HEADERS_MAX. */
void svc_res_header(struct svc_response *r, const char *name, const char *value);

/* The application: fills res for req. Runs on the server's pool threads, concurrently. */
typedef void (*svc_http_handler)(void *ctx, const struct svc_request *req,
                                 struct svc_response *res);

struct svc_http_config {
    const char *host;         /* address to listen on: "127.0.0.1", "0.0.0.0", "::" */
    uint16_t port;            /* 0 picks a free port (tests) */
    const char *tls_cert_pem; /* PEM text; both NULL for plain HTTP */
    const char *tls_key_pem;
    unsigned threads; /* pool size */
    /* Threads that run the handler for requests other than GET and HEAD, while their
     * connection is suspended; 0: the connection's own thread runs them. */
    unsigned write_threads;
    unsigned conn_timeout_s;  /* idle connections are closed after this */
    unsigned body_deadline_s; /* a request body must arrive within this, else 408 */
    /* A request's line and headers must arrive within this of the connection opening or the
     * previous answer, else the connection is closed; 0: no such deadline. */
    unsigned header_deadline_s;
    unsigned conns_per_ip;
    unsigned conn_limit;
    size_t header_bytes;              /* memory for one connection's request headers */
    size_t body_max;                  /* as sent (compressed or not); over it: 413 */
    size_t body_decoded_max;          /* after decompression; over it: 413 */
    const char *const *allowed_hosts; /* NULL-terminated; Host headers accepted (no port) */
    svc_http_handler handler;
    void *handler_ctx;
    bool log_requests;
};

struct svc_http;

/* Starts listening and serving. *ret is owned by the caller: svc_http_stop frees it.
 * Errors: -EADDRINUSE, -EACCES, -EINVAL (bad TLS material), -EIO. */
int svc_http_start(const struct svc_http_config *cfg, struct svc_http **ret);

/* The bound port. */
uint16_t svc_http_port(const struct svc_http *h);

/* Waits up to grace_s for the requests in flight to finish (serving new ones meanwhile), then
 * stops. */
void svc_http_stop(struct svc_http *h, unsigned grace_s);
