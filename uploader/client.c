/* SPDX-License-Identifier: MIT */
/* The API client: handshake, retries, errors. */
#include "client.h"

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
    if (token && server && *server && creds->server[0] && strcmp(server, creds->server) &&
        !getenv("TBDEV_TOKEN"))
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

int up_client_call(struct up_client *c, const char *method, const char *path, const char *ctype,
                   const void *body, size_t len, bool compress, struct up_reply *ret, char *err,
                   size_t err_len)
{
    double backoff = BACKOFF_FIRST;
    for (int attempt = 1;; attempt++) {
        int rc = up_net_call(c->net, method, path, ctype, body, len, compress ? c->encoding : NULL,
                             ret, err, err_len);
        if (rc == -EPROTO) {
            char detail[256];
            snprintf(detail, sizeof(detail), "%s", err);
            snprintf(err, err_len,
                     "TLS with %s failed: %s. If the server uses its own CA, give "
                     "it with --cacert FILE",
                     c->server, detail);
            return rc;
        }
        if (rc == 0 && !transient_status(ret))
            return 0;
        double wait = fmin(BACKOFF_MAX, backoff * (0.5 + rand01())); /* jitter: 0.5x-1.5x */
        char why[300];
        if (rc < 0)
            snprintf(why, sizeof(why), "cannot reach %.120s (%.160s)", c->server, err);
        else {
            up_reply_error(ret, why, sizeof(why), NULL, 0);
            if (ret->retry_after > wait)
                wait = ret->retry_after;
        }
        if (rc == 0)
            tb_buf_done(&ret->body);
        fprintf(stderr, "tbdev: %s; retrying in %.1f s (attempt %d)\n", why, wait, attempt);
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
