/* SPDX-License-Identifier: MIT */
/* The HTTP(S) server on libmicrohttpd; the only file that includes microhttpd.h. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "decompress.h"
#include "log.h"

/* One connection, for the header deadline: from libmicrohttpd's "started" to "closed". */
struct conn_track {
    struct conn_track *prev, *next; /* guarded by svc_http.lock */
    int fd;
    atomic_llong since_ms;  /* opened, or the previous answer finished */
    atomic_bool in_request; /* its headers are complete: the handler has the request */
    bool cut;               /* shut down by the sweeper */
};

struct svc_http {
    struct MHD_Daemon *d;
    struct svc_http_config cfg;
    uint16_t port;
    /* The header deadline: every connection, and a thread that cuts the slow ones. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct conn_track *conns;
    bool stopping;
    atomic_uint in_flight; /* requests between their first call and their completion */
    bool sweeping;         /* the sweeper thread runs */
    pthread_t sweeper;
    /* Write threads: a queue of jobs, guarded by lock, signalled by work. */
    struct job *queue, *queue_tail;
    size_t queued, queued_bytes; /* jobs waiting for a write thread, and their bodies */
    pthread_cond_t work;
    pthread_t *writers;
    unsigned n_writers; /* set before the daemon starts, fixed after */
    bool writers_stop;
};

/* Writes waiting for a write thread, at most (per write thread, and in bytes of bodies): past
 * either limit a write is answered 503 at once, instead of holding its connection and its
 * body while the database is slow. */
enum { QUEUE_PER_WRITER = 64 };
#define QUEUE_BYTES_MAX ((size_t)256 << 20)

/* A request handed to a write thread: its connection is suspended meanwhile. */
struct job {
    struct job *next;
    struct MHD_Connection *c;
    struct svc_request req; /* method, path and headers stay in the suspended connection */
    struct svc_response res;
    struct req_state *st; /* its body (as sent) */
    const char *enc;      /* Content-Encoding, in the connection's memory */
    uint8_t *decoded;     /* the decompressed body, owned */
    size_t bytes;         /* the body as sent: counted in svc_http.queued_bytes */
    bool done;            /* res is ready: set before the connection is resumed */
};

/* Per-request state: allocated on the first call, freed in the completion callback. */
struct req_state {
    struct job *job; /* handed to a write thread, or done there */
    struct tb_buf body;
    bool too_large;
    bool responded; /* a response was queued before the body was read (413/408) */
    double started;
    char ip[64];
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long mono_ms(void)
{
    return (long long)(mono() * 1000);
}

static struct conn_track *track_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct svc_http *h = cls;
    struct conn_track *t = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        t = ci ? calloc(1, sizeof(*t)) : NULL;
        if (!t)
            return; /* not tracked: only the idle timeout applies to it */
        t->fd = ci->connect_fd;
        atomic_store(&t->since_ms, mono_ms());
        pthread_mutex_lock(&h->lock);
        t->next = h->conns;
        if (h->conns)
            h->conns->prev = t;
        h->conns = t;
        pthread_mutex_unlock(&h->lock);
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && t) {
        pthread_mutex_lock(&h->lock);
        if (t->prev)
            t->prev->next = t->next;
        else
            h->conns = t->next;
        if (t->next)
            t->next->prev = t->prev;
        pthread_mutex_unlock(&h->lock);
        free(t);
        *socket_context = NULL;
    }
}

/*
 * The header deadline. libmicrohttpd's timeout is an idle timeout: a client that sends one
 * header byte every few seconds keeps its connection, and its slot, for ever. Once a second
 * this thread shuts down (shutdown(2), not close: the descriptor stays libmicrohttpd's) every
 * connection whose request has not reached the handler within header_deadline_s of the
 * connection opening or of its previous answer. libmicrohttpd then sees the end of the stream
 * and closes it.
 */
static void *sweep(void *arg)
{
    struct svc_http *h = arg;
    long long limit_ms = (long long)h->cfg.header_deadline_s * 1000;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&h->wake, &h->lock, &until);
        if (h->stopping)
            break;
        long long now = mono_ms();
        unsigned cut = 0;
        for (struct conn_track *t = h->conns; t; t = t->next) {
            if (t->cut || atomic_load(&t->in_request) ||
                now - atomic_load(&t->since_ms) <= limit_ms)
                continue;
            shutdown(t->fd, SHUT_RDWR);
            t->cut = true;
            cut++;
        }
        if (cut) {
            pthread_mutex_unlock(&h->lock);
            svc_log_warn("http: closed %u connection%s whose request line and headers took over "
                         "%u s (--header_deadline)",
                         cut, cut == 1 ? "" : "s", h->cfg.header_deadline_s);
            pthread_mutex_lock(&h->lock);
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

const char *svc_req_header(const struct svc_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *svc_req_query(const struct svc_request *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct each_ctx {
    const char *key;
    void (*cb)(void *, const char *);
    void *ctx;
    int n;
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct each_ctx *e = cls;
    if (key && !strcmp(key, e->key)) {
        e->n++;
        e->cb(e->ctx, value ? value : "");
    }
    return MHD_YES;
}

int svc_req_query_each(const struct svc_request *r, const char *key,
                       void (*cb)(void *, const char *), void *ctx)
{
    struct each_ctx e = {key, cb, ctx, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, &e);
    return e.n;
}

bool svc_req_cookie(const struct svc_request *r, const char *name, char *out, size_t out_len)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
    if (!v || strlen(v) >= out_len)
        return false;
    strcpy(out, v);
    return true;
}

void svc_res_header(struct svc_response *r, const char *name, const char *value)
{
    if (r->n_headers >= SVC_RES_HEADERS_MAX)
        return;
    snprintf(r->headers[r->n_headers][0], sizeof(r->headers[0][0]), "%s", name);
    snprintf(r->headers[r->n_headers][1], sizeof(r->headers[0][1]), "%s", value);
    r->n_headers++;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static const char *reason(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 404:
        return "not_found";
    case 408:
        return "request_timeout";
    case 413:
        return "too_large";
    case 415:
        return "unsupported_media_type";
    case 421:
        return "misdirected_request";
    default:
        return "error";
    }
}

/* Errors raised here, before the application sees the request, are JSON. */
static void plain_error(struct svc_response *res, int status, const char *msg)
{
    res->status = status;
    res->content_type = "application/json";
    tb_buf_reset(&res->body);
    tb_buf_addf(&res->body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", reason(status),
                msg);
}

static enum MHD_Result send_response(struct svc_http *h, struct MHD_Connection *c,
                                     const struct svc_request *req, struct svc_response *res,
                                     struct req_state *st)
{
    int status = res->status ? res->status : 404;
    const void *body = res->static_body ? (const void *)res->static_body : res->body.data;
    size_t len = res->static_body ? res->static_len : res->body.len;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)(body ? body : ""),
        res->static_body ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (res->content_type)
        MHD_add_response_header(r, "Content-Type", res->content_type);
    MHD_add_response_header(r, "Cache-Control",
                            res->cache_control ? res->cache_control : "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' blob:; media-src 'self' blob:; object-src 'none'; "
                            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    if (h->cfg.tls_cert_pem)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    for (size_t i = 0; i < res->n_headers; i++)
        MHD_add_response_header(r, res->headers[i][0], res->headers[i][1]);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    if (h->cfg.log_requests)
        svc_log_info("%s %s %d %zu bytes %.1f ms %s", req->method, req->path, status, len,
                     (mono() - st->started) * 1e3, st->ip);
    return ok;
}

static bool host_allowed(const struct svc_http *h, const char *host)
{
    if (!h->cfg.allowed_hosts || !h->cfg.allowed_hosts[0])
        return true;
    if (!host)
        return false;
    char name[256];
    snprintf(name, sizeof(name), "%s", host);
    /* strip the port: "[::1]:8080", "host:8080" */
    char *colon = name[0] == '[' ? strchr(name, ']') : strchr(name, ':');
    if (colon && name[0] == '[')
        colon[1] = 0;
    else if (colon)
        *colon = 0;
    for (const char *const *a = h->cfg.allowed_hosts; *a; a++)
        if (!strcasecmp(name, *a))
            return true;
    return false;
}

static void client_ip(struct MHD_Connection *c, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, len, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)len);
}

/* Percent-decoding for paths and query values, like libmicrohttpd's own, except that %00 is left
 * as it is: a NUL would cut the C string short, and a path that means one thing to the router
 * and another to the handler is how traversal bugs start. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    const char **cl = cls; /* [0]: first Content-Length, [1]: "x" if another differs, [2]: TE */
    if (key && !strcasecmp(key, "Content-Length")) {
        if (!cl[0])
            cl[0] = value ? value : "";
        else if (strcmp(cl[0], value ? value : ""))
            cl[1] = "x";
    }
    if (key && !strcasecmp(key, "Transfer-Encoding"))
        cl[2] = "x";
    return MHD_YES;
}

/* Decodes the body as its Content-Encoding says, then runs the handler; *decoded is the
 * decompressed body, for the caller to free after the answer is sent. */
static void run_handler(struct svc_http *h, struct svc_request *req, const struct req_state *st,
                        const char *enc, struct svc_response *res, uint8_t **decoded)
{
    if (enc && st->body.len && strcasecmp(enc, "identity")) {
        size_t n = 0;
        int err =
            svc_decompress(enc, st->body.data, st->body.len, h->cfg.body_decoded_max, decoded, &n);
        if (err == -ENOTSUP) {
            plain_error(res, 415, "unsupported Content-Encoding; use zstd, gzip or none");
        } else if (err == -E2BIG) {
            char msg[160];
            snprintf(msg, sizeof(msg), "the decompressed body is over the %zu-byte limit",
                     h->cfg.body_decoded_max);
            plain_error(res, 413, msg);
        } else if (err < 0) {
            plain_error(res, 400, "the body is not valid for its Content-Encoding");
        } else {
            req->body = *decoded;
            req->body_len = n;
            h->cfg.handler(h->cfg.handler_ctx, req, res);
        }
    } else if (st->body.len > h->cfg.body_decoded_max) {
        plain_error(res, 413, "the request body is over the limit");
    } else {
        req->body = st->body.len ? st->body.data : NULL;
        req->body_len = st->body.len;
        h->cfg.handler(h->cfg.handler_ctx, req, res);
    }
}

/*
 * Writes run on write threads. A write can wait up to the store's busy timeout for the
 * database's write lock (then 503), and sign-in spends tens of milliseconds in scrypt: on the
 * connection's own thread that would hold up every other connection of that thread, reads
 * included. So the connection is suspended, the request queued, and a write thread decodes
 * the body, runs the handler and resumes the connection; libmicrohttpd then calls on_request
 * again, which sends the answer. Returns false (the caller runs the handler itself) for GET
 * and HEAD, without write threads, or when out of memory. A full queue answers 503 in *res
 * and returns false with *busy set.
 */
static bool hand_over(struct svc_http *h, struct MHD_Connection *c, struct req_state *st,
                      const struct svc_request *req, const char *enc, struct svc_response *res,
                      bool *busy)
{
    *busy = false;
    if (!h->n_writers || !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
        return false;
    pthread_mutex_lock(&h->lock);
    bool full = h->queued >= QUEUE_PER_WRITER * (size_t)h->n_writers ||
                h->queued_bytes + st->body.len > QUEUE_BYTES_MAX;
    bool stopping = h->writers_stop;
    pthread_mutex_unlock(&h->lock);
    if (stopping)
        return false; /* shutting down: the connection's thread runs it */
    if (full) {
        svc_res_header(res, "Retry-After", "1");
        plain_error(res, 503, "the server has too many writes waiting; retry in a second");
        *busy = true;
        return false;
    }
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return false;
    j->c = c;
    j->req = *req;
    j->res = *res; /* its body buffer, still empty */
    j->st = st;
    j->enc = enc;
    j->bytes = st->body.len;
    st->job = j;
    MHD_suspend_connection(c);
    pthread_mutex_lock(&h->lock);
    if (h->writers_stop) {
        /* The writers stopped meanwhile: nothing would resume this connection, and the daemon
         * may not stop with it suspended. Run it here; resuming from the handler is allowed. */
        pthread_mutex_unlock(&h->lock);
        run_handler(h, &j->req, st, enc, &j->res, &j->decoded);
        j->done = true;
        MHD_resume_connection(c);
        return true;
    }
    if (h->queue_tail)
        h->queue_tail->next = j;
    else
        h->queue = j;
    h->queue_tail = j;
    h->queued++;
    h->queued_bytes += j->bytes;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->lock);
    return true;
}

static void *write_thread(void *arg)
{
    struct svc_http *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->queue && !h->writers_stop)
            pthread_cond_wait(&h->work, &h->lock);
        struct job *j = h->queue;
        if (!j)
            break; /* stopping, and nothing left to run */
        h->queue = j->next;
        if (!h->queue)
            h->queue_tail = NULL;
        h->queued--;
        h->queued_bytes -= j->bytes;
        pthread_mutex_unlock(&h->lock);
        run_handler(h, &j->req, j->st, j->enc, &j->res, &j->decoded);
        j->done = true;
        MHD_resume_connection(j->c); /* after this, the job is on_request's */
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static void stop_writers(struct svc_http *h)
{
    pthread_mutex_lock(&h->lock);
    h->writers_stop = true;
    pthread_cond_broadcast(&h->work);
    pthread_mutex_unlock(&h->lock);
    for (unsigned i = 0; i < h->n_writers; i++)
        pthread_join(h->writers[i], NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct svc_http *h = cls;
    struct req_state *st = *con_cls;
    struct svc_request req = {
        .method = method, .path = url, .conn = c, .tls = h->cfg.tls_cert_pem != NULL};
    struct svc_response res = {0};
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        tb_buf_init(&st->body, h->cfg.body_max);
        st->started = mono();
        atomic_fetch_add(&h->in_flight, 1);
        struct conn_track *t = track_of(c);
        if (t)
            atomic_store(&t->in_request, true);
        client_ip(c, st->ip, sizeof(st->ip));
        *con_cls = st;
        req.client_ip = st->ip;
        /* Framing two parsers could read two ways is refused (request smuggling). */
        const char *framing[3] = {NULL, NULL, NULL};
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, framing);
        if (framing[1] || (framing[0] && framing[2])) {
            tb_buf_init(&res.body, 0);
            plain_error(&res, 400,
                        framing[1] ? "conflicting Content-Length headers"
                                   : "both Content-Length and Transfer-Encoding");
            st->responded = true;
            svc_res_header(&res, "Connection", "close");
            enum MHD_Result ok = send_response(h, c, &req, &res, st);
            tb_buf_done(&res.body);
            return ok;
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->cfg.body_max) {
            char msg[160];
            snprintf(msg, sizeof(msg), "the request body is over the %zu-byte limit",
                     h->cfg.body_max);
            tb_buf_init(&res.body, 0);
            plain_error(&res, 413, msg);
            st->responded = true;
            enum MHD_Result ok = send_response(h, c, &req, &res, st);
            tb_buf_done(&res.body);
            return ok;
        }
        return MHD_YES;
    }
    req.client_ip = st->ip;
    if (st->job) {
        /* Called again after a write thread resumed the connection: its answer is ready. */
        struct job *j = st->job;
        if (!j->done)
            return MHD_YES; /* not expected: a suspended connection is not called */
        st->job = NULL;
        enum MHD_Result ok = send_response(h, c, &j->req, &j->res, st);
        tb_buf_done(&j->res.body);
        free(j->decoded);
        free(j);
        return ok;
    }
    if (st->responded) {
        *upload_size = 0; /* discard the rest of a refused body */
        return MHD_YES;
    }
    if (*upload_size) {
        if (mono() - st->started > h->cfg.body_deadline_s) {
            tb_buf_init(&res.body, 0);
            plain_error(&res, 408,
                        "the request body did not arrive in time; send it faster "
                        "or in smaller requests");
            st->responded = true;
            *upload_size = 0;
            enum MHD_Result ok = send_response(h, c, &req, &res, st);
            tb_buf_done(&res.body);
            return ok;
        }
        if (tb_buf_add(&st->body, upload_data, *upload_size) < 0)
            st->too_large = true;
        *upload_size = 0;
        return MHD_YES;
    }

    /* The whole request is here. */
    tb_buf_init(&res.body, 0);
    uint8_t *decoded = NULL;
    const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    bool busy = false;
    if (!host_allowed(h, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"))) {
        plain_error(&res, 421,
                    "this server does not answer for that Host; use the address "
                    "in its --public-url");
    } else if (st->too_large) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the request body is over the %zu-byte limit", h->cfg.body_max);
        plain_error(&res, 413, msg);
    } else if (hand_over(h, c, st, &req, enc, &res, &busy)) {
        return MHD_YES;
    } else if (!busy) {
        run_handler(h, &req, st, enc, &res, &decoded);
    }
    enum MHD_Result ok = send_response(h, c, &req, &res, st);
    free(decoded);
    tb_buf_done(&res.body);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct svc_http *h = cls;
    struct conn_track *t = track_of(c);
    if (t) {
        atomic_store(&t->since_ms, mono_ms());
        atomic_store(&t->in_request, false);
    }
    struct req_state *st = *con_cls;
    if (!st)
        return;
    atomic_fetch_sub(&h->in_flight, 1);
    if (st->job) { /* resumed, but the client went away before the answer was sent */
        tb_buf_done(&st->job->res.body);
        free(st->job->decoded);
        free(st->job);
    }
    tb_buf_done(&st->body);
    free(st);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    svc_log_warn("http: %s", line);
}

/* Stops the write threads (once) and frees h; the daemon is stopped or was never started. */
static void free_http(struct svc_http *h)
{
    if (!h->writers_stop)
        stop_writers(h);
    free(h->writers);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->wake);
    pthread_cond_destroy(&h->work);
    free(h);
}

int svc_http_start(const struct svc_http_config *cfg, struct svc_http **ret)
{
    struct svc_http *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->cfg = *cfg;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the sweeper's waits */
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&h->work, NULL);
    /* The write threads exist before the first request can be handed to them. */
    if (cfg->write_threads) {
        h->writers = calloc(cfg->write_threads, sizeof(*h->writers));
        while (h->writers && h->n_writers < cfg->write_threads &&
               pthread_create(&h->writers[h->n_writers], NULL, write_thread, h) == 0)
            h->n_writers++;
        if (h->n_writers < cfg->write_threads)
            svc_log_warn("http: %u of %u write threads started", h->n_writers, cfg->write_threads);
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", cfg->port);
    if (getaddrinfo(cfg->host, port, &hints, &ai) != 0 || !ai) {
        svc_log_error("cannot listen on '%s': give a numeric address such as 127.0.0.1, "
                      "0.0.0.0 or ::",
                      cfg->host);
        free_http(h);
        return -EINVAL;
    }
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (h->n_writers)
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls_cert_pem)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[20];
    int n = 0;
    /* The logger first: libmicrohttpd uses its own for anything said before it is set. */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->threads ? cfg->threads : 4, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout_s, NULL};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->conns_per_ip, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, cfg->conn_limit, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                        (intptr_t)cfg->header_bytes, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
    if (cfg->header_deadline_s)
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL};
    if (cfg->tls_cert_pem) {
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key_pem};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->d = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        int e = errno;
        svc_log_error("cannot start the HTTP server on %s:%u: %s", cfg->host, cfg->port,
                      e ? strerror(e) : "bad TLS certificate or key?");
        free_http(h);
        return e == EADDRINUSE     ? -EADDRINUSE
               : e == EACCES       ? -EACCES
               : cfg->tls_cert_pem ? -EINVAL
                                   : -EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : cfg->port;
    if (cfg->header_deadline_s) {
        h->sweeping = pthread_create(&h->sweeper, NULL, sweep, h) == 0;
        if (!h->sweeping)
            svc_log_warn("http: no thread for --header_deadline: only the idle timeout applies");
    }
    *ret = h;
    return 0;
}

uint16_t svc_http_port(const struct svc_http *h)
{
    return h->port;
}

void svc_http_stop(struct svc_http *h, unsigned grace_s)
{
    if (!h)
        return;
    /* Requests in flight may finish. No MHD_quiesce_daemon: in libmicrohttpd 0.9.75 it races
     * with a pool thread taking the listening socket out of its own epoll set, and the loser
     * aborts the process ("Failed to remove listen FD from epoll set", found by
     * tests/faults/fault_ingest). New requests meanwhile are served too; grace_s bounds it. */
    double until = mono() + grace_s;
    while (mono() < until && atomic_load(&h->in_flight) > 0)
        usleep(20000);
    /* Queued writes are run (each resumes its connection) before the daemon stops: it may not
     * stop with a connection still suspended. */
    stop_writers(h);
    if (h->sweeping) {
        pthread_mutex_lock(&h->lock);
        h->stopping = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->sweeper, NULL);
    }
    MHD_stop_daemon(h->d); /* every connection's "closed" notification frees its track */
    free_http(h);
}
