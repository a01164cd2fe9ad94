/* SPDX-License-Identifier: MIT */
/* The API client: handshake, retries, errors. */
#include "client.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_FIRST 0.5
#define BACKOFF_MAX 60.0

int up_client_open(const struct up_creds *creds, const char *server, const char *cacert,
                   bool need_token, bool verbose, struct up_client **ret, char *err, size_t err_len)
{
    const char *url = server && *server ? server : creds->server;
    if (!url || !*url) {
        snprintf(err, err_len,
                 "no server given: use --server URL, set TBDEV_SERVER, or run "
                 "'tbdev auth login --server URL'");
        return -EINVAL;
    }
    const char *token = creds->token[0] ? creds->token : NULL;
    /* A token saved for another server is not sent to this one. */
    char want[512], have[512];
    if (token && server && *server && creds->server[0] && !getenv("TBDEV_TOKEN") &&
        (!up_url_normalise(server, want, sizeof(want)) ||
         !up_url_normalise(creds->server, have, sizeof(have)) || strcmp(want, have)))
        token = NULL;
    if (need_token && !token) {
        snprintf(err, err_len,
                 "not logged in to %s: run 'tbdev auth login --server %s' (or set "
                 "TBDEV_TOKEN)",
                 url, url);
        return -EINVAL;
    }
    struct up_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    snprintf(c->server, sizeof(c->server), "%s", url);
    c->verbose = verbose;
    c->max_attempts = 4;
    const char *ca = cacert && *cacert ? cacert : creds->cacert[0] ? creds->cacert : NULL;
    int rc = up_net_open(url, token, ca, verbose, &c->net);
    if (rc < 0) {
        snprintf(err, err_len,
                 "%s is not a server URL: it must start with https:// (or http:// "
                 "on a trusted network)",
                 url);
        free(c);
        return -EINVAL;
    }
    *ret = c;
    return 0;
}

void up_client_close(struct up_client *c)
{
    if (!c)
        return;
    up_net_close(c->net);
    if (c->info)
        tbdev__v1__server_info__free_unpacked(c->info, NULL);
    free(c);
}

void *up_pack(const void *msg, size_t *ret_len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *p = malloc(n ? n : 1);
    if (p)
        protobuf_c_message_pack(msg, p);
    *ret_len = n;
    return p;
}

/* Pulls "key":"value" out of a JSON error body; enough for our server's errors. */
static void json_str(const char *body, const char *key, char *out, size_t len)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = body ? strstr(body, pat) : NULL;
    out[0] = 0;
    if (!p)
        return;
    p += strlen(pat);
    size_t o = 0;
    while (*p && *p != '"' && o + 1 < len) {
        if (*p == '\\' && p[1])
            p++;
        out[o++] = *p++;
    }
    out[o] = 0;
}

void up_reply_error(const struct up_reply *r, char *out, size_t len, char *code, size_t code_len)
{
    char msg[512] = "", cd[64] = "";
    if (r->protobuf) {
        Tbdev__V1__Error *e = tbdev__v1__error__unpack(NULL, r->body.len, r->body.data);
        if (e) {
            snprintf(msg, sizeof(msg), "%s", e->message);
            snprintf(cd, sizeof(cd), "%s", e->code);
            tbdev__v1__error__free_unpacked(e, NULL);
        }
    } else if (r->body.len) {
        json_str((const char *)r->body.data, "message", msg, sizeof(msg));
        json_str((const char *)r->body.data, "code", cd, sizeof(cd));
    }
    if (!msg[0])
        snprintf(msg, sizeof(msg), "the server answered HTTP %ld", r->status);
    snprintf(out, len, "%s (HTTP %ld%s%s)", msg, r->status, cd[0] ? ", " : "", cd);
    if (code)
        snprintf(code, code_len, "%s", cd);
}

static bool transient_status(const struct up_reply *r)
{
    if (r->status == 408 || r->status == 429 || r->status == 500 || r->status == 502 ||
        r->status == 503 || r->status == 504)
        return true;
    if (r->status == 507) {
        char msg[8], code[32];
        up_reply_error(r, msg, sizeof(msg), code, sizeof(code));
        return strcmp(code, "quota") != 0; /* a full disk may be freed; a quota will not grow */
    }
    return false;
}

static double rand01(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    return (double)rand_r(&seed) / RAND_MAX;
}

/* Sleeps for secs, waking early if *stop is set. Returns false if stopped. */
static bool nap(const volatile sig_atomic_t *stop, double secs)
{
    while (secs > 0) {
        if (stop && *stop)
            return false;
        double step = secs < 0.1 ? secs : 0.1;
        struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
        nanosleep(&ts, NULL);
        secs -= step;
    }
    return !(stop && *stop);
}

static void fmt_duration(char *out, size_t len, double secs)
{
    if (secs < 60)
        snprintf(out, len, "%.0f s", secs);
    else if (secs < 3600)
        snprintf(out, len, "%.0f min %.0f s", floor(secs / 60), fmod(secs, 60));
    else
        snprintf(out, len, "%.0f h %.0f min", floor(secs / 3600), fmod(secs, 3600) / 60);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What a transport failure that cannot fix itself means for the user. */
static int permanent(struct up_client *c, int rc, char *err, size_t err_len)
{
    char detail[300];
    snprintf(detail, sizeof(detail), "%s", err);
    switch (rc) {
    case -EHOSTUNREACH:
        snprintf(err, err_len, "cannot find the host of %s (%s): check the URL (--server)",
                 c->server, detail);
        break;
    case -ECONNREFUSED:
        snprintf(err, err_len,
                 "%s refused the connection (%s): is the server running, and is the port "
                 "right?",
                 c->server, detail);
        break;
    case -EPROTONOSUPPORT:
        snprintf(err, err_len,
                 "%s does not answer HTTPS (%s): if the server serves plain HTTP, use "
                 "http:// in --server",
                 c->server, detail);
        return -EPROTO;
    case -EINVAL:
        snprintf(err, err_len, "%s is not a URL tbdev can use (%s)", c->server, detail);
        break;
    default: /* -EPROTO: the certificate */
        snprintf(err, err_len,
                 "TLS with %s failed: %s. If the server uses its own CA, give it with "
                 "--cacert FILE",
                 c->server, detail);
        break;
    }
    return rc;
}

int up_client_call(struct up_client *c, const char *method, const char *path, const char *ctype,
                   const void *body, size_t len, bool compress, struct up_reply *ret, char *err,
                   size_t err_len)
{
    double backoff = BACKOFF_FIRST, started = mono();
    for (int attempt = 1;; attempt++) {
        int rc = up_net_call(c->net, method, path, ctype, body, len, compress ? c->encoding : NULL,
                             ret, err, err_len);
        if (rc == -EPROTO || rc == -EPROTONOSUPPORT || rc == -EHOSTUNREACH || rc == -EINVAL ||
            (rc == -ECONNREFUSED && !c->retry_refused))
            return permanent(c, rc, err, err_len);
        if (rc == 0 && !transient_status(ret))
            return 0;
        double wait = fmin(BACKOFF_MAX, backoff * (0.5 + rand01())); /* jitter: 0.5x-1.5x */
        char why[400];
        if (rc < 0)
            snprintf(why, sizeof(why), "cannot reach %.120s (%.160s%s)", c->server, err,
                     rc == -ECONNRESET && !strncmp(c->server, "http://", 7)
                         ? "; if the server uses HTTPS, use https://"
                         : "");
        else {
            up_reply_error(ret, why, sizeof(why), NULL, 0);
            if (ret->retry_after > wait)
                wait = ret->retry_after;
        }
        if (rc == 0)
            tb_buf_done(&ret->body);
        if (c->max_attempts && attempt >= c->max_attempts) {
            snprintf(err, err_len, "%s; gave up after %d attempts", why, attempt);
            return -ETIMEDOUT;
        }
        char waited[64] = "";
        double so_far = mono() - started;
        if (so_far >= 10) {
            char d[40];
            fmt_duration(d, sizeof(d), so_far);
            snprintf(waited, sizeof(waited), ", waiting for %s so far", d);
        }
        fprintf(stderr, "\r\033[Ktbdev: %s; retrying in %.1f s (attempt %d%s)\n", why, wait,
                attempt, waited);
        if (!nap(c->stop, wait)) {
            snprintf(err, err_len, "stopped while waiting to retry");
            return -EINTR;
        }
        backoff = fmin(backoff * 2, BACKOFF_MAX);
    }
}

int up_client_handshake(struct up_client *c, char *err, size_t err_len)
{
    struct up_reply r;
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/server-info?client_version=%s", TBDEV_VERSION);
    int rc = up_client_call(c, "GET", path, NULL, NULL, 0, false, &r, err, err_len);
    if (rc < 0)
        return rc;
    if (r.status == 401) {
        char msg[400];
        up_reply_error(&r, msg, sizeof(msg), NULL, 0);
        snprintf(err, err_len,
                 "%s refused your token (%s): log in again with 'tbdev auth login --server %s'",
                 c->server, msg, c->server);
        tb_buf_done(&r.body);
        return -EACCES;
    }
    if (r.status != 200 || !r.protobuf) {
        char msg[400];
        up_reply_error(&r, msg, sizeof(msg), NULL, 0);
        snprintf(err, err_len, "%s does not look like a tbdev server: %s", c->server, msg);
        tb_buf_done(&r.body);
        return -EPROTO;
    }
    c->info = tbdev__v1__server_info__unpack(NULL, r.body.len, r.body.data);
    tb_buf_done(&r.body);
    if (!c->info || !c->info->limits) {
        snprintf(err, err_len, "%s sent a server-info this client cannot read; upgrade tbdev",
                 c->server);
        return -EPROTO;
    }
    if (c->info->verdict == TBDEV__V1__VERDICT__VERDICT_ERROR) {
        snprintf(err, err_len, "the server refuses this client: %s", c->info->verdict_message);
        return -EPROTO;
    }
    if (c->info->verdict == TBDEV__V1__VERDICT__VERDICT_WARN)
        fprintf(stderr, "tbdev: note from the server: %s\n", c->info->verdict_message);
    c->encoding = NULL;
    for (size_t i = 0; i < c->info->n_content_encodings; i++) {
        if (!strcmp(c->info->content_encodings[i], "zstd")) {
            c->encoding = "zstd";
            break;
        }
        if (!strcmp(c->info->content_encodings[i], "gzip"))
            c->encoding = "gzip";
    }
    return 0;
}
