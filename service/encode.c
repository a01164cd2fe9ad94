/* SPDX-License-Identifier: MIT */
/* Answer compression with zlib (gzip) and libzstd; see encode.h. */
#include "encode.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>
#include <zstd.h>

#include "tblimits.h"

#define GZIP_LEVEL 5 /* zlib's speed and size sweet spot for JSON of numbers */
#define ZSTD_LEVEL 3 /* zstd's default */

/* The q-value of one Accept-Encoding element "name;q=0.5" (1 without a q). */
static double qvalue(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            break;
        p = semi + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char tmp[16];
            size_t n = (size_t)(end - p - 2);
            if (n >= sizeof(tmp))
                n = sizeof(tmp) - 1;
            memcpy(tmp, p + 2, n);
            tmp[n] = 0;
            char *e = NULL;
            double q = strtod(tmp, &e);
            return e == tmp || q < 0 ? 0 : q > 1 ? 1 : q;
        }
    }
    return 1;
}

enum svc_encoding svc_encoding_pick(const char *ae)
{
    if (!ae)
        return SVC_ENC_IDENTITY;
    double q_gzip = -1, q_zstd = -1, q_star = -1;
    const char *p = ae;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        size_t n = 0;
        while (p + n < end && p[n] != ';' && p[n] != ' ' && p[n] != '\t')
            n++;
        double q = qvalue(p, end);
        if (n == 4 && !strncasecmp(p, "gzip", 4))
            q_gzip = q;
        else if (n == 6 && !strncasecmp(p, "x-gzip", 6))
            q_gzip = q_gzip < 0 ? q : q_gzip;
        else if (n == 4 && !strncasecmp(p, "zstd", 4))
            q_zstd = q;
        else if (n == 1 && *p == '*')
            q_star = q;
        p = *end ? end + 1 : end;
    }
    if (q_zstd < 0)
        q_zstd = q_star;
    if (q_gzip < 0)
        q_gzip = q_star;
    if (q_zstd > 0 && q_zstd >= q_gzip)
        return SVC_ENC_ZSTD;
    if (q_gzip > 0)
        return SVC_ENC_GZIP;
    if (q_zstd > 0)
        return SVC_ENC_ZSTD;
    return SVC_ENC_IDENTITY;
}

const char *svc_encoding_name(enum svc_encoding e)
{
    switch (e) {
    case SVC_ENC_GZIP:
        return "gzip";
    case SVC_ENC_ZSTD:
        return "zstd";
    default:
        return NULL;
    }
}

static int gzip_all(const uint8_t *in, size_t len, uint8_t **ret_out, size_t *ret_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    size_t cap = deflateBound(&z, (uLong)len);
    uint8_t *out = malloc(cap ? cap : 1);
    if (!out) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    int err = 0;
    z.next_in = (Bytef *)in;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    size_t left = len;
    int rc;
    do { /* avail_in is 32 bits: feed it in pieces */
        uInt piece = left > (1u << 30) ? (1u << 30) : (uInt)left;
        z.avail_in = piece;
        left -= piece;
        rc = deflate(&z, left ? Z_NO_FLUSH : Z_FINISH);
    } while (left && rc == Z_OK);
    if (rc != Z_STREAM_END)
        err = -EIO;
    if (!err) {
        *ret_out = out;
        *ret_len = z.total_out;
    } else {
        free(out);
    }
    deflateEnd(&z);
    return err;
}

static int zstd_all(const uint8_t *in, size_t len, uint8_t **ret_out, size_t *ret_len)
{
    size_t cap = ZSTD_compressBound(len);
    uint8_t *out = malloc(cap ? cap : 1);
    if (!out)
        return -ENOMEM;
    size_t n = ZSTD_compress(out, cap, in, len, ZSTD_LEVEL);
    if (ZSTD_isError(n)) {
        free(out);
        return -EIO;
    }
    *ret_out = out;
    *ret_len = n;
    return 0;
}

int svc_encode(enum svc_encoding e, const uint8_t *in, size_t len, uint8_t **ret_out,
               size_t *ret_len)
{
    if (e == SVC_ENC_GZIP)
        return gzip_all(in, len, ret_out, ret_len);
    if (e == SVC_ENC_ZSTD)
        return zstd_all(in, len, ret_out, ret_len);
    return -EINVAL;
}

static bool compressible(const char *ct)
{
    if (!ct)
        return false;
    static const char *const types[] = {"application/json", "text/", "application/javascript",
                                        "image/svg+xml", "application/x-ndjson"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strncasecmp(ct, types[i], strlen(types[i])))
            return true;
    return false;
}

/* Compressed embedded assets, by the address of their bytes. */
struct cached {
    const uint8_t *src;
    enum svc_encoding enc;
    uint8_t *data; /* NULL: compressing did not pay; send src */
    size_t len;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached cache[TB_ENCODE_CACHE_ENTRIES];
static size_t cache_n;

/* The compressed form of a static body (or NULL with *found set when it does not pay). */
static const uint8_t *static_encoded(const uint8_t *src, size_t len, enum svc_encoding e,
                                     size_t *ret_len)
{
    const uint8_t *hit = NULL;
    bool found = false;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < cache_n; i++)
        if (cache[i].src == src && cache[i].enc == e) {
            found = true;
            hit = cache[i].data;
            *ret_len = cache[i].len;
            break;
        }
    pthread_mutex_unlock(&cache_lock);
    if (found)
        return hit;
    /* Compress outside the lock; two threads racing here both compress, one result is kept. */
    uint8_t *out = NULL;
    size_t n = 0;
    if (svc_encode(e, src, len, &out, &n) < 0)
        return NULL;
    if (n >= len) {
        free(out);
        out = NULL;
    }
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < cache_n; i++)
        if (cache[i].src == src && cache[i].enc == e) { /* lost the race */
            free(out);
            out = cache[i].data;
            n = cache[i].len;
            found = true;
            break;
        }
    if (!found && cache_n < TB_ENCODE_CACHE_ENTRIES) {
        cache[cache_n++] = (struct cached){src, e, out, n};
        found = true;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!found) {
        free(out); /* the cache is full: this answer goes out uncompressed */
        return NULL;
    }
    *ret_len = n;
    return out;
}

void svc_encode_response(const char *accept_encoding, struct svc_response *res)
{
    if (!compressible(res->content_type))
        return;
    svc_res_header(res, "Vary", "Accept-Encoding");
    size_t len = res->static_body ? res->static_len : res->body.len;
    if (len < SVC_ENCODE_MIN)
        return;
    enum svc_encoding e = svc_encoding_pick(accept_encoding);
    if (e == SVC_ENC_IDENTITY)
        return;
    if (res->static_body) {
        size_t n = 0;
        const uint8_t *z = static_encoded(res->static_body, len, e, &n);
        if (!z)
            return;
        res->static_body = z;
        res->static_len = n;
    } else {
        uint8_t *z = NULL;
        size_t n = 0;
        if (svc_encode(e, res->body.data, len, &z, &n) < 0)
            return;
        if (n >= len) {
            free(z);
            return;
        }
        /* smaller than what the buffer holds: it fits, NUL and all */
        memcpy(res->body.data, z, n);
        res->body.len = n;
        res->body.data[n] = 0;
        free(z);
    }
    svc_res_header(res, "Content-Encoding", svc_encoding_name(e));
}

void svc_encode_cache_free(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < cache_n; i++)
        free(cache[i].data);
    cache_n = 0;
    pthread_mutex_unlock(&cache_lock);
}
