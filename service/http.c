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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "decompress.h"
#include "log.h"
#include "netaddr.h"

/* One connection, for the header deadline: from libmicrohttpd's "started" to "closed". */
struct conn_track {
    struct conn_track *prev, *next; /* guarded by svc_http.lock */
    int fd;
    atomic_llong since_ms;  /* opened, or the previous answer finished */
    atomic_bool in_request; /* its headers are complete: the handler has the request */
    bool cut;               /* shut down by the sweeper */
    unsigned strikes;       /* sweeps in a row that found it late with nothing unread */
};

/* A set of threads that run handlers while their connections are suspended. */
struct lane {
    struct job *queue, *tail; /* guarded by svc_http.lock */
    size_t queued;
    pthread_cond_t work;
    pthread_t *threads;
    unsigned n; /* set before the daemon starts, fixed after */
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
    struct lane lanes[2];     /* SVC_LANE_WRITE, SVC_LANE_SLOW */
    bool lanes_stop;          /* guarded by lock */
    atomic_size_t body_bytes; /* of cfg.body_memory, held now */
};

/* Writes waiting for a lane's thread, at most, per thread: past it a request is answered
 * 503 at once, instead of holding its connection while the database is slow. */
enum { QUEUE_PER_THREAD = 64 };

/* A request handed to a lane: its connection is suspended meanwhile. */
struct job {
    struct job *next;
    struct MHD_Connection *c;
    struct svc_request req; /* method, path and headers stay in the suspended connection */
    struct svc_response res;
    struct req_state *st; /* its body (as sent) */
    const char *enc;      /* Content-Encoding, in the connection's memory */
    uint8_t *decoded;     /* the decompressed body, owned */
    bool done;            /* res is ready: set before the connection is resumed */
};

/* A request body as it arrives: allocated once at its declared length (a chunked one grows
 * by doubling up to its cap), so that what it holds is what the body-memory budget counts. */
struct body {
    uint8_t *data; /* NUL-terminated when len > 0; owned */
    size_t len, alloc;
    size_t declared; /* Content-Length, or 0 when chunked */
    size_t max;      /* the route's cap */
};

/* Appends; -E2BIG past the cap, -ENOMEM. */
static int body_add(struct body *b, const char *data, size_t n)
{
    if (n > b->max - b->len)
        return -E2BIG;
    if (b->len + n + 1 > b->alloc) {
        size_t want = b->declared ? b->declared + 1 : b->alloc ? b->alloc * 2 : 64 << 10;
        while (want < b->len + n + 1)
            want *= 2;
        if (want > b->max + 1)
            want = b->max + 1;
        uint8_t *p = realloc(b->data, want);
        if (!p)
            return -ENOMEM;
        b->data = p;
        b->alloc = want;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

static void body_done(struct body *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

/* Per-request state: allocated on the first call, freed in the completion callback. */
struct req_state {
    struct job *job; /* handed to a lane, or done there */
    struct body body;
    struct svc_admission adm; /* adm.state is owned here */
    size_t reserved;          /* bytes of svc_http.body_bytes this request holds */
    bool has_body;
    bool too_large;
    bool responded; /* a response was queued before the body was read */
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
 *
 * The deadline measures the client, not the server: a connection with bytes unread in its
 * socket is waiting for its thread (busy with another connection's request), so it is left
 * alone, and it is cut only when two sweeps in a row (a second apart) find it late with
 * nothing unread, which also spares a request read in the moment between the two checks.
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
                now - atomic_load(&t->since_ms) <= limit_ms) {
                t->strikes = 0;
                continue;
            }
            int unread = 0;
            if (ioctl(t->fd, FIONREAD, &unread) == 0 && unread > 0) {
                t->strikes = 0;
                continue;
            }
            if (++t->strikes < 2)
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
    case 503:
        return "busy";
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
    /* The one inline script allowed is index.html's import map, by its hash (sha256 of its
     * exact text; tests/browser/mesh.test.js checks the two agree). */
    MHD_add_response_header(
        r, "Content-Security-Policy",
        "default-src 'self'; script-src 'self' "
        "'sha256-lJ/9Yff2721BNERENjMzQ1mCGO2/JMs28z3XCTLWDzM='; style-src 'self'; "
        "img-src 'self' blob:; media-src 'self' blob:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    if (h->cfg.hsts)
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

/* The last X-Forwarded-For header: the one our proxy wrote, should the client send its own. */
static enum MHD_Result last_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    if (!strcasecmp(key, "X-Forwarded-For"))
        *(const char **)cls = value;
    return MHD_YES;
}

static void peer_ip(struct MHD_Connection *c, char *out, size_t len);

/* The client's address: the peer's, or X-Forwarded-For's when the peer is a trusted proxy. */
static void client_ip(const struct svc_http *h, struct MHD_Connection *c, char *out, size_t len)
{
    peer_ip(c, out, len);
    const struct svc_proxies *tp = h->cfg.trusted_proxies;
    if (!tp || !tp->n)
        return;
    const char *xff = NULL;
    MHD_get_connection_values(c, MHD_HEADER_KIND, last_xff, &xff);
    if (!xff)
        return;
    char peer[64];
    snprintf(peer, sizeof(peer), "%s", out);
    svc_proxies_client(tp, peer, xff, out, len);
}

static void peer_ip(struct MHD_Connection *c, char *out, size_t len)
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

/* A header name is an RFC 9110 token: anything else (a space before the colon) is refused. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* What the request's headers say about its framing, gathered by scan_header. */
struct header_scan {
    const char *lo, *hi; /* the request's line and headers, as libmicrohttpd keeps them */
    const char *cl;      /* the first Content-Length */
    bool cl_differs;     /* another Content-Length differs from it */
    const char *te;      /* the (last) Transfer-Encoding */
    unsigned te_count, hosts;
    bool bad_name, folded;
};

/*
 * libmicrohttpd 0.9.75 accepts, in its strict mode, two things request smuggling is made of:
 * a space before a header's colon ("Transfer-Encoding : chunked" becomes a header named
 * "Transfer-Encoding ", so the body is framed by Content-Length while a proxy may have read
 * it as chunked), and obs-fold continuation lines (a line starting with a space is glued to
 * the previous header). The first shows as a name that is not a token. The second leaves no
 * trace in the header list, but libmicrohttpd keeps the request's bytes where they arrived
 * (line ends turned into NULs) and the values point into them: the line after a value's
 * line starting with a space or a tab is a fold. Only values inside that block are looked
 * at, so a libmicrohttpd that kept headers elsewhere would make this check blind, not wrong.
 */
static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct header_scan *s = cls;
    if (!key)
        return MHD_YES;
    if (!is_token(key))
        s->bad_name = true;
    if (!strcasecmp(key, "Host"))
        s->hosts++;
    if (!strcasecmp(key, "Content-Length")) {
        if (!s->cl)
            s->cl = value ? value : "";
        else if (strcmp(s->cl, value ? value : ""))
            s->cl_differs = true;
    }
    if (!strcasecmp(key, "Transfer-Encoding")) {
        s->te = value ? value : "";
        s->te_count++;
    }
    if (value && s->lo && value >= s->lo && value < s->hi) {
        const char *e = value + strlen(value);
        for (int i = 0; i < 2 && e < s->hi && !*e; i++)
            e++; /* the NULs that were CR LF, or a bare LF */
        if (e < s->hi && (*e == ' ' || *e == '\t'))
            s->folded = true;
    }
    return MHD_YES;
}

/* The reason to refuse the request's framing with 400, or NULL if it is sound. */
static const char *framing_problem(struct MHD_Connection *c, const char *method)
{
    struct header_scan s = {0};
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && method) {
        s.lo = method;
        s.hi = method + ci->header_size;
    }
    MHD_get_connection_values(c, MHD_HEADER_KIND, scan_header, &s);
    if (s.bad_name)
        return "a header name holds a space or another character names may not have";
    if (s.folded)
        return "a header is continued on the next line (obsolete line folding)";
    if (s.hosts > 1)
        return "more than one Host header";
    if (s.cl_differs)
        return "conflicting Content-Length headers";
    if (s.cl && s.te)
        return "both Content-Length and Transfer-Encoding";
    if (s.te && (s.te_count > 1 || strcasecmp(s.te, "chunked")))
        return "a Transfer-Encoding other than 'chunked'";
    return NULL;
}

/* Takes n bytes of the body-memory budget; false (nothing taken) if that would pass it. */
static bool reserve(struct svc_http *h, size_t n)
{
    size_t cap = h->cfg.body_memory;
    size_t cur = atomic_load(&h->body_bytes);
    do {
        if (cap && (n > cap || cur > cap - n))
            return false;
    } while (!atomic_compare_exchange_weak(&h->body_bytes, &cur, cur + n));
    return true;
}

static void release(struct svc_http *h, size_t n)
{
    atomic_fetch_sub(&h->body_bytes, n);
}

static void busy_error(struct svc_response *res)
{
    svc_res_header(res, "Retry-After", "1");
    plain_error(res, 503,
                "the server is holding as many request bodies as it may; retry in a second");
}

/* Decodes the body as its Content-Encoding says, then runs the handler; *decoded is the
 * decompressed body, for the caller to free after the answer is sent. */
static void run_handler(struct svc_http *h, struct svc_request *req, struct req_state *st,
                        const char *enc, struct svc_response *res, uint8_t **decoded)
{
    size_t decoded_max = st->adm.decoded_max;
    if (enc && st->body.len && strcasecmp(enc, "identity")) {
        /* The decompressed body counts against the body memory too: its cap, up front. */
        if (!reserve(h, decoded_max + 1)) {
            busy_error(res);
            return;
        }
        st->reserved += decoded_max + 1;
        size_t n = 0;
        int err = svc_decompress(enc, st->body.data, st->body.len, decoded_max, decoded, &n);
        if (err == -ENOTSUP) {
            plain_error(res, 415, "unsupported Content-Encoding; use zstd, gzip or none");
        } else if (err == -E2BIG) {
            char msg[160];
            snprintf(msg, sizeof(msg), "the decompressed body is over the %zu-byte limit",
                     decoded_max);
            plain_error(res, 413, msg);
        } else if (err < 0) {
            plain_error(res, 400, "the body is not valid for its Content-Encoding");
        } else {
            req->body = *decoded;
            req->body_len = n;
            h->cfg.handler(h->cfg.handler_ctx, req, res);
        }
    } else if (st->body.len > st->adm.body_max) {
        plain_error(res, 413, "the request body is over the limit");
    } else {
        req->body = st->body.len ? st->body.data : NULL;
        req->body_len = st->body.len;
        h->cfg.handler(h->cfg.handler_ctx, req, res);
    }
}

/*
 * Writes and sign-ins run on lanes of their own threads. A write can wait up to the store's
 * busy timeout for the database's write lock (then 503), and sign-in spends tens of
 * milliseconds in scrypt: on the connection's own thread that would hold up every other
 * connection of that thread, reads included, and sign-ins on the write threads would let a
 * flood of them hold up uploads. So the connection is suspended, the request queued on its
 * lane, and one of the lane's threads decodes the body, runs the handler and resumes the
 * connection; libmicrohttpd then calls on_request again, which sends the answer. Returns
 * false (the caller runs the handler itself) for SVC_LANE_POOL, for a lane without threads,
 * or when out of memory. A full queue answers 503 in *res and returns false with *busy set.
 */
static bool hand_over(struct svc_http *h, struct MHD_Connection *c, struct req_state *st,
                      const struct svc_request *req, const char *enc, struct svc_response *res,
                      bool *busy)
{
    *busy = false;
    struct lane *l = NULL;
    if (st->adm.lane == SVC_LANE_SLOW && h->lanes[1].n)
        l = &h->lanes[1];
    else if (st->adm.lane != SVC_LANE_POOL && h->lanes[0].n)
        l = &h->lanes[0];
    if (!l)
        return false;
    pthread_mutex_lock(&h->lock);
    bool full = l->queued >= QUEUE_PER_THREAD * (size_t)l->n;
    bool stopping = h->lanes_stop;
    pthread_mutex_unlock(&h->lock);
    if (stopping)
        return false; /* shutting down: the connection's thread runs it */
    if (full) {
        svc_res_header(res, "Retry-After", "1");
        plain_error(res, 503,
                    l == &h->lanes[1]
                        ? "the server has too many sign-ins waiting; retry in a second"
                        : "the server has too many writes waiting; retry in a second");
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
    st->job = j;
    MHD_suspend_connection(c);
    pthread_mutex_lock(&h->lock);
    if (h->lanes_stop) {
        /* The lanes stopped meanwhile: nothing would resume this connection, and the daemon
         * may not stop with it suspended. Run it here; resuming from the handler is allowed. */
        pthread_mutex_unlock(&h->lock);
        run_handler(h, &j->req, st, enc, &j->res, &j->decoded);
        j->done = true;
        MHD_resume_connection(c);
        return true;
    }
    if (l->tail)
        l->tail->next = j;
    else
        l->queue = j;
    l->tail = j;
    l->queued++;
    pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&h->lock);
    return true;
}

struct lane_arg {
    struct svc_http *h;
    struct lane *l;
};

static void *lane_thread(void *arg)
{
    struct lane_arg a = *(struct lane_arg *)arg;
    free(arg);
    struct svc_http *h = a.h;
    struct lane *l = a.l;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!l->queue && !h->lanes_stop)
            pthread_cond_wait(&l->work, &h->lock);
        struct job *j = l->queue;
        if (!j)
            break; /* stopping, and nothing left to run */
        l->queue = j->next;
        if (!l->queue)
            l->tail = NULL;
        l->queued--;
        pthread_mutex_unlock(&h->lock);
        run_handler(h, &j->req, j->st, j->enc, &j->res, &j->decoded);
        j->done = true;
        MHD_resume_connection(j->c); /* after this, the job is on_request's */
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* Starts n threads on lane l; returns how many started. */
static unsigned start_lane(struct svc_http *h, struct lane *l, unsigned n)
{
    l->threads = n ? calloc(n, sizeof(*l->threads)) : NULL;
    while (l->threads && l->n < n) {
        struct lane_arg *a = malloc(sizeof(*a));
        if (!a)
            break;
        *a = (struct lane_arg){h, l};
        if (pthread_create(&l->threads[l->n], NULL, lane_thread, a) != 0) {
            free(a);
            break;
        }
        l->n++;
    }
    return l->n;
}

static void stop_lanes(struct svc_http *h)
{
    pthread_mutex_lock(&h->lock);
    h->lanes_stop = true;
    for (int i = 0; i < 2; i++)
        pthread_cond_broadcast(&h->lanes[i].work);
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < 2; i++)
        for (unsigned k = 0; k < h->lanes[i].n; k++)
            pthread_join(h->lanes[i].threads[k], NULL);
}

/* Answers at once, before the body is read: the rest of a body is never read, and
 * libmicrohttpd closes the connection after the answer. */
static enum MHD_Result refuse(struct svc_http *h, struct MHD_Connection *c,
                              const struct svc_request *req, struct req_state *st,
                              struct svc_response *res)
{
    st->responded = true;
    if (st->has_body)
        svc_res_header(res, "Connection", "close");
    enum MHD_Result ok = send_response(h, c, req, res, st);
    tb_buf_done(&res->body);
    return ok;
}

/* The first call: the line and headers are in, no byte of the body is read yet. */
static enum MHD_Result on_headers(struct svc_http *h, struct MHD_Connection *c,
                                  struct svc_request *req, struct req_state *st)
{
    struct svc_response res = {0};
    tb_buf_init(&res.body, 0);
    /* Framing two parsers could read two ways is refused (request smuggling). */
    const char *why = framing_problem(c, req->method);
    if (why) {
        plain_error(&res, 400, why);
        st->has_body = true; /* whatever follows is not to be read as a request */
        return refuse(h, c, req, st, &res);
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    st->has_body = req->has_body = declared > 0 || te;
    if (!host_allowed(h, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"))) {
        plain_error(&res, 421,
                    "this server does not answer for that Host; use the address "
                    "in its --public-url");
        return refuse(h, c, req, st, &res);
    }
    struct svc_admission adm = {
        .body_max = h->cfg.body_max,
        .decoded_max = h->cfg.body_decoded_max,
        .lane = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD") ? SVC_LANE_POOL
                                                                            : SVC_LANE_WRITE,
    };
    if (h->cfg.admit && !h->cfg.admit(h->cfg.handler_ctx, req, &res, &adm))
        return refuse(h, c, req, st, &res);
    st->adm = adm; /* st owns adm.state from here */
    req->state = adm.state;
    const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    if (st->has_body && enc && strcasecmp(enc, "identity") && !adm.decoded_max) {
        plain_error(&res, 415, "this request's body may not be compressed");
        return refuse(h, c, req, st, &res);
    }
    if (st->has_body && (declared > adm.body_max || (!adm.body_max && te))) {
        char msg[160];
        if (adm.body_max)
            snprintf(msg, sizeof(msg), "the request body is over the %zu-byte limit", adm.body_max);
        else
            snprintf(msg, sizeof(msg), "this request takes no body");
        plain_error(&res, 413, msg);
        return refuse(h, c, req, st, &res);
    }
    if (st->has_body) {
        size_t n = (cl ? (size_t)declared : adm.body_max) + 1;
        if (!reserve(h, n)) {
            busy_error(&res);
            return refuse(h, c, req, st, &res);
        }
        st->reserved = n;
    }
    st->body.max = adm.body_max;
    st->body.declared = cl ? (size_t)declared : 0;
    tb_buf_done(&res.body);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct svc_http *h = cls;
    struct req_state *st = *con_cls;
    struct svc_request req = {.method = method,
                              .path = url,
                              .conn = c,
                              .tls = h->cfg.tls_cert_pem != NULL,
                              .secure = h->cfg.secure || h->cfg.tls_cert_pem != NULL};
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->started = mono();
        atomic_fetch_add(&h->in_flight, 1);
        struct conn_track *t = track_of(c);
        if (t)
            atomic_store(&t->in_request, true);
        client_ip(h, c, st->ip, sizeof(st->ip));
        *con_cls = st;
        req.client_ip = st->ip;
        return on_headers(h, c, &req, st);
    }
    req.client_ip = st->ip;
    req.has_body = st->has_body;
    req.state = st->adm.state;
    struct svc_response res = {0};
    if (st->job) {
        /* Called again after a lane's thread resumed the connection: its answer is ready. */
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
        if (!st->too_large && body_add(&st->body, upload_data, *upload_size) < 0) {
            st->too_large = true; /* a chunked body past the cap: the rest is discarded */
            body_done(&st->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }

    /* The whole request is here. */
    tb_buf_init(&res.body, 0);
    uint8_t *decoded = NULL;
    const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    bool busy = false;
    if (st->too_large) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the request body is over the %zu-byte limit", st->adm.body_max);
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
    if (st->reserved)
        release(h, st->reserved);
    free(st->adm.state);
    body_done(&st->body);
    free(st);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

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

/* Stops the lanes (once) and frees h; the daemon is stopped or was never started. */
static void free_http(struct svc_http *h)
{
    if (!h->lanes_stop)
        stop_lanes(h);
    for (int i = 0; i < 2; i++) {
        free(h->lanes[i].threads);
        pthread_cond_destroy(&h->lanes[i].work);
    }
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->wake);
    free(h);
}

/* A listening TCP socket on cfg's address (numeric, or a host name such as localhost, which
 * takes its first IPv4 address, else its first), and its port. Errors: -EINVAL (an address
 * that does not resolve), -EADDRINUSE, -EACCES, -EIO. */
static int open_listener(const struct svc_http_config *cfg, int *ret_fd, uint16_t *ret_port,
                         bool *ret_v6)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", cfg->port);
    if (getaddrinfo(cfg->host, port, &hints, &ai) != 0 || !ai) {
        hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
        struct addrinfo *all = NULL;
        if (getaddrinfo(cfg->host, port, &hints, &all) != 0 || !all) {
            svc_log_error("cannot listen on '%s': it does not resolve; give an address such "
                          "as 127.0.0.1, 0.0.0.0 or ::, or a host name of this machine",
                          cfg->host);
            return -EINVAL;
        }
        /* one socket: the first IPv4 address (localhost's 127.0.0.1), else the first, which is
         * resolved again as a number so that one list is freed once */
        struct addrinfo *pick = all;
        for (struct addrinfo *p = all; p; p = p->ai_next)
            if (p->ai_family == AF_INET) {
                pick = p;
                break;
            }
        char numeric[INET6_ADDRSTRLEN + 1];
        int bad = getnameinfo(pick->ai_addr, pick->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
                              NI_NUMERICHOST);
        freeaddrinfo(all);
        hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
        if (bad || getaddrinfo(numeric, port, &hints, &ai) != 0 || !ai) {
            svc_log_error("cannot listen on '%s'", cfg->host);
            return -EINVAL;
        }
    }
    int err = 0;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        err = -errno;
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        err = -errno;
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        err = -errno;
        goto out;
    }
    *ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *ret_v6 = ai->ai_family == AF_INET6;
    *ret_fd = fd;
    fd = -1;
out:
    if (err < 0)
        svc_log_error("cannot listen on %s:%u: %s", cfg->host, cfg->port, strerror(-err));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return err == -EADDRINUSE || err == -EACCES || err == 0 ? err : -EIO;
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
    for (int i = 0; i < 2; i++)
        pthread_cond_init(&h->lanes[i].work, NULL);
    /* The lanes' threads exist before the first request can be handed to them. */
    if (start_lane(h, &h->lanes[0], cfg->write_threads) < cfg->write_threads)
        svc_log_warn("http: %u of %u write threads started", h->lanes[0].n, cfg->write_threads);
    if (start_lane(h, &h->lanes[1], cfg->slow_threads) < cfg->slow_threads)
        svc_log_warn("http: %u of %u sign-in threads started", h->lanes[1].n, cfg->slow_threads);
    int fd = -1;
    bool v6 = false;
    int err = open_listener(cfg, &fd, &h->port, &v6);
    if (err < 0) {
        free_http(h);
        return err;
    }
    /* Whoever needs the port (links with it) learns it before any thread serves. */
    if (cfg->listening)
        cfg->listening(cfg->listening_ctx, h->port);
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (h->lanes[0].n || h->lanes[1].n)
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls_cert_pem)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[20];
    int n = 0;
    /* The logger first: libmicrohttpd uses its own for anything said before it is set. */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
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
    if (cfg->tls_cert_pem) {
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key_pem};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    errno = 0;
    h->d = MHD_start_daemon(flags, h->port, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    if (!h->d) {
        int e = errno;
        svc_log_error("cannot start the HTTP server on %s:%u: %s", cfg->host, h->port,
                      e ? strerror(e) : "bad TLS certificate or key?");
        close(fd); /* libmicrohttpd closes it only once started */
        free_http(h);
        return cfg->tls_cert_pem ? -EINVAL : -EIO;
    }
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
    /* Queued requests are run (each resumes its connection) before the daemon stops: it may
     * not stop with a connection still suspended. */
    stop_lanes(h);
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
