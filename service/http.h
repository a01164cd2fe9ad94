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
    const uint8_t *body;   /* decompressed; NUL-terminated; NULL when empty (always NULL when
                            * the request is admitted: its body has not been read yet) */
    size_t body_len;
    bool has_body; /* a body was announced (Content-Length over 0, or chunked) */
    bool tls;      /* the request came over HTTPS */
    bool secure;   /* ... or through a TLS proxy: the public URL is https:// */
    void *state;   /* what the admit callback kept for the handler; NULL without one */
    void *conn;    /* opaque: the connection, for the accessors below */
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

/* The application: fills res for req. Runs on the server's threads, concurrently. */
typedef void (*svc_http_handler)(void *ctx, const struct svc_request *req,
                                 struct svc_response *res);

/* Where a request's handler runs. */
enum svc_lane {
    SVC_LANE_POOL,  /* the connection's own thread: quick work (reads) */
    SVC_LANE_WRITE, /* a write thread: may wait seconds for the database's write lock */
    SVC_LANE_SLOW,  /* a CPU-bound thread (password hashing), so that a flood of sign-ins
                     * never holds a write thread */
};

/* What the application decided from a request's line and headers, before its body. */
struct svc_admission {
    size_t body_max;    /* the largest body accepted, as sent; 0: none (413 if announced) */
    size_t decoded_max; /* after decompression; 0: a Content-Encoding is refused (415) */
    enum svc_lane lane;
    void *state; /* handed to the handler as req->state; takes ownership: freed with free()
                  * when the request ends, answered or not */
};

/*
 * Called once per request, as soon as its line and headers are in and before any byte of
 * its body is read, on the connection's thread. Returns true to go on, with *ret filled;
 * false after filling res (an error): the answer goes out at once, the body is never read
 * and the connection is closed. req->body is NULL.
 */
typedef bool (*svc_http_admit)(void *ctx, const struct svc_request *req, struct svc_response *res,
                               struct svc_admission *ret);

/* Called once the server is bound, with the port, before any request is served. */
typedef void (*svc_http_listening)(void *ctx, uint16_t port);

struct svc_http_config {
    const char *host;         /* address to listen on: "127.0.0.1", "0.0.0.0", "::" */
    uint16_t port;            /* 0 picks a free port (tests) */
    const char *tls_cert_pem; /* PEM text; both NULL for plain HTTP */
    const char *tls_key_pem;
    unsigned threads; /* pool size */
    /* Threads that run the handler of SVC_LANE_WRITE requests (without an admit callback:
     * requests other than GET and HEAD), while their connection is suspended; 0: the
     * connection's own thread runs them. */
    unsigned write_threads;
    unsigned slow_threads;    /* the same for SVC_LANE_SLOW; 0: the write threads run them */
    unsigned conn_timeout_s;  /* idle connections are closed after this */
    unsigned body_deadline_s; /* a request body must arrive within this, else 408 */
    /* A request's line and headers must arrive within this of the connection opening or the
     * previous answer, else the connection is closed; 0: no such deadline. */
    unsigned header_deadline_s;
    unsigned conns_per_ip;
    unsigned conn_limit;
    size_t header_bytes; /* memory for one connection's request headers */
    /* Without an admit callback, every request's body caps: */
    size_t body_max;         /* as sent (compressed or not); over it: 413 */
    size_t body_decoded_max; /* after decompression; over it: 413 */
    /* Bytes of request bodies held at once, over all connections: received, waiting for a
     * thread, and decompressed (a body counts its declared length, or body_max when
     * chunked, from its headers on; a decompression counts its decoded_max). A body that
     * would pass it is answered 503 with Retry-After from its headers alone. 0: no cap. */
    size_t body_memory;
    const char *const *allowed_hosts; /* NULL-terminated; Host headers accepted (no port) */
    /* Peers whose X-Forwarded-For names the client (borrowed; NULL or empty: none). */
    const struct svc_proxies *trusted_proxies;
    bool hsts;   /* send Strict-Transport-Security (native TLS or proxy) */
    bool secure; /* set svc_request.secure on every request */
    svc_http_handler handler;
    svc_http_admit admit;         /* NULL: every request is admitted with the caps above */
    void *handler_ctx;            /* for handler and admit */
    svc_http_listening listening; /* NULL: none */
    void *listening_ctx;
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
