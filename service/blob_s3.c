/* SPDX-License-Identifier: MIT */
/* Blobs in S3-compatible object storage, through libcurl: the server's only file that
 * includes curl/curl.h. Requests are signed with SigV4 (CURLOPT_AWS_SIGV4), path-style. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "log.h"

/* SHA-256 of no bytes: the x-amz-content-sha256 of a request without a body. */
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct handle {
    CURL *curl;
    struct handle *next;
};

struct svc_blob_store {
    char *base;   /* endpoint/bucket/prefix, ending with '/' */
    char *bucket; /* endpoint/bucket: what the check at open asks about */
    char *sigv4;
    char *access_key, *secret_key;
    long timeout_s;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards handles */
    struct handle *handles;
};

const struct svc_blob_ops *svc_blob_ops_for(const char *url)
{
    return url && !strncmp(url, "s3://", 5) ? &svc_blob_s3 : NULL;
}

void svc_blob_key(const uint8_t sha[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[sha[i] >> 4];
        out[2 * i + 1] = hex[sha[i] & 15];
    }
    out[64] = 0;
}

/* One easy handle per thread, kept so that its connection is reused. */
static CURL *handle(struct svc_blob_store *b)
{
    struct handle *h = pthread_getspecific(b->key);
    if (h) {
        curl_easy_reset(h->curl);
        return h->curl;
    }
    h = calloc(1, sizeof(*h));
    if (!h || !(h->curl = curl_easy_init())) {
        free(h);
        return NULL;
    }
    pthread_setspecific(b->key, h);
    pthread_mutex_lock(&b->lock);
    h->next = b->handles;
    b->handles = h;
    pthread_mutex_unlock(&b->lock);
    return h->curl;
}

struct sink {
    uint8_t *p;
    size_t len, cap, max;
    bool too_big;
};

static size_t on_data(char *d, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t k = size * n;
    if (s->len + k > s->max) {
        s->too_big = true;
        return 0;
    }
    if (s->len + k > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + k)
            cap *= 2;
        if (cap > s->max + 1)
            cap = s->max + 1;
        uint8_t *np = realloc(s->p, cap);
        if (!np)
            return 0;
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->len, d, k);
    s->len += k;
    return k;
}

static size_t on_discard(char *d, size_t size, size_t n, void *ctx)
{
    (void)d;
    (void)ctx;
    return size * n;
}

/* One signed request: method on base + key (NULL: the bucket itself, whatever the prefix).
 * Returns the HTTP
 * status, or -errno when there was no answer. */
static int request(struct svc_blob_store *b, const char *method, const char *key,
                   const uint8_t *body, size_t body_len, const char *body_sha, struct sink *sink)
{
    CURL *h = handle(b);
    if (!h)
        return -ENOMEM;
    char url[2048];
    if (key)
        snprintf(url, sizeof(url), "%s%s", b->base, key);
    else
        snprintf(url, sizeof(url), "%s", b->bucket);
    char sha_header[100];
    snprintf(sha_header, sizeof(sha_header), "x-amz-content-sha256: %s",
             body_sha ? body_sha : EMPTY_SHA);
    /* no "Expect:" to turn 100-continue off: curl would sign it and not send it (403) */
    struct curl_slist *hdrs = curl_slist_append(NULL, sha_header);
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    if (!hdrs)
        return -ENOMEM;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, b->sigv4);
    /* not CURLOPT_USERPWD: an access key may contain ':' */
    curl_easy_setopt(h, CURLOPT_USERNAME, b->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, b->secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, b->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink ? on_data : on_discard);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK && !(sink && sink->too_big)) {
        svc_log_error("blob store: %s %s: %s", method, key ? "an object" : "the bucket",
                      curl_easy_strerror(rc));
        return -EBUSY;
    }
    return (int)status;
}

/* The errno of an answer's status; logs what is not plain. */
static int err_of(int status, const char *what)
{
    if (status < 0)
        return status;
    if (status >= 200 && status < 300)
        return 0;
    if (status == 404)
        return -ENOENT;
    if (status == 403 || status == 401) {
        svc_log_error("blob store: %s: refused (HTTP %d): check the access key and secret", what,
                      status);
        return -EACCES;
    }
    if (status == 503 || status == 500 || status == 502 || status == 504 || status == 429) {
        svc_log_warn("blob store: %s: HTTP %d; retry later", what, status);
        return -EBUSY;
    }
    svc_log_error("blob store: %s: HTTP %d", what, status);
    return -EIO;
}

static void s3_close(struct svc_blob_store *b)
{
    if (!b)
        return;
    struct handle *h = b->handles;
    while (h) {
        struct handle *next = h->next;
        curl_easy_cleanup(h->curl);
        free(h);
        h = next;
    }
    pthread_key_delete(b->key);
    pthread_mutex_destroy(&b->lock);
    free(b->base);
    free(b->bucket);
    free(b->sigv4);
    free(b->access_key);
    if (b->secret_key)
        memset(b->secret_key, 0, strlen(b->secret_key));
    free(b->secret_key);
    free(b);
}

static void init_curl(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool bucket_name_ok(const char *s, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '.'))
            return false;
    return true;
}

static int s3_open(const struct svc_blob_options *o, struct svc_blob_store **ret, char *err,
                   size_t err_len)
{
    const char *u = o->url;
    if (!u || strncmp(u, "s3://", 5)) {
        snprintf(err, err_len, "--blob_store must be s3://BUCKET or s3://BUCKET/PREFIX");
        return -EINVAL;
    }
    u += 5;
    size_t bn = strcspn(u, "/");
    if (!bucket_name_ok(u, bn)) {
        snprintf(err, err_len,
                 "--blob_store: '%.*s' is not a bucket name (3-63 lowercase letters, digits, "
                 "'-' or '.')",
                 (int)(bn > 64 ? 64 : bn), u);
        return -EINVAL;
    }
    const char *prefix = u[bn] == '/' ? u + bn + 1 : "";
    for (const char *p = prefix; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-_./", *p))) {
            snprintf(err, err_len,
                     "--blob_store: the prefix may hold letters, digits, '-', "
                     "'_', '.' and '/' only");
            return -EINVAL;
        }
    if (!o->endpoint ||
        (strncmp(o->endpoint, "http://", 7) && strncmp(o->endpoint, "https://", 8))) {
        snprintf(err, err_len,
                 "--s3_endpoint must be the object store's URL, e.g. "
                 "https://s3.example.org");
        return -EINVAL;
    }
    if (!o->access_key || !*o->access_key || !o->secret_key || !*o->secret_key) {
        snprintf(err, err_len,
                 "the object store needs credentials: set TBDEV_S3_ACCESS_KEY and "
                 "TBDEV_S3_SECRET_KEY (or --s3_access_key and --s3_secret_key)");
        return -EINVAL;
    }
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    for (const char *p = region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            snprintf(err, err_len, "--s3_region: '%s' is not a region name", region);
            return -EINVAL;
        }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_curl);
    struct svc_blob_store *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    size_t el = strlen(o->endpoint);
    while (el && o->endpoint[el - 1] == '/')
        el--;
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '/')
        pl--;
    size_t blen = el + bn + pl + 8;
    b->base = malloc(blen);
    if (b->base)
        snprintf(b->base, blen, "%.*s/%.*s/%.*s%s", (int)el, o->endpoint, (int)bn, u, (int)pl,
                 prefix, pl ? "/" : "");
    b->bucket = malloc(blen);
    if (b->bucket)
        snprintf(b->bucket, blen, "%.*s/%.*s", (int)el, o->endpoint, (int)bn, u);
    size_t sl = strlen(region) + 16;
    b->sigv4 = malloc(sl);
    if (b->sigv4)
        snprintf(b->sigv4, sl, "aws:amz:%s:s3", region);
    b->access_key = strdup(o->access_key);
    b->secret_key = strdup(o->secret_key);
    b->timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
    if (!b->base || !b->bucket || !b->sigv4 || !b->access_key || !b->secret_key ||
        pthread_key_create(&b->key, NULL) != 0) {
        free(b->base);
        free(b->bucket);
        free(b->sigv4);
        free(b->access_key);
        free(b->secret_key);
        free(b);
        return -ENOMEM;
    }
    pthread_mutex_init(&b->lock, NULL);
    /* A signed HEAD of the bucket: a wrong secret, a missing bucket or an unreachable store is
     * an error now, not at the first image. */
    int status = request(b, "HEAD", NULL, NULL, 0, NULL, NULL);
    int e = 0;
    if (status < 0) {
        e = status;
        snprintf(err, err_len, "cannot reach the object store at %.*s", (int)el, o->endpoint);
    } else if (status == 403 || status == 401) {
        e = -EACCES;
        snprintf(err, err_len,
                 "the object store refused the credentials for bucket '%.*s' (HTTP %d): check "
                 "the access key and the secret key",
                 (int)bn, u, status);
    } else if (status == 404) {
        e = -ENOENT;
        snprintf(err, err_len, "the object store has no bucket '%.*s': create it first", (int)bn,
                 u);
    } else if (status < 200 || status >= 300) {
        e = -EIO;
        snprintf(err, err_len, "the object store answered HTTP %d to a HEAD of bucket '%.*s'",
                 status, (int)bn, u);
    }
    if (e < 0) {
        s3_close(b);
        return e;
    }
    *ret = b;
    return 0;
}

static int s3_put(struct svc_blob_store *b, const uint8_t sha[32], const uint8_t *data, size_t len)
{
    char key[65];
    svc_blob_key(sha, key);
    /* Content-addressed: the key is the SHA-256 the signature needs for the body. */
    return err_of(request(b, "PUT", key, data ? data : (const uint8_t *)"", len, key, NULL),
                  "writing an object");
}

static int s3_get(struct svc_blob_store *b, const uint8_t sha[32], size_t max_len,
                  uint8_t **ret_data, size_t *ret_len)
{
    char key[65];
    svc_blob_key(sha, key);
    struct sink s = {.max = max_len};
    int status = request(b, "GET", key, NULL, 0, NULL, &s);
    int err = s.too_big ? -E2BIG : err_of(status, "reading an object");
    if (err < 0) {
        free(s.p);
        return err;
    }
    if (!s.p && !(s.p = malloc(1)))
        return -ENOMEM;
    *ret_data = s.p;
    *ret_len = s.len;
    return 0;
}

static int s3_del(struct svc_blob_store *b, const uint8_t sha[32])
{
    char key[65];
    svc_blob_key(sha, key);
    int err = err_of(request(b, "DELETE", key, NULL, 0, NULL, NULL), "deleting an object");
    return err == -ENOENT ? 0 : err;
}

const struct svc_blob_ops svc_blob_s3 = {
    .name = "s3",
    .open = s3_open,
    .close = s3_close,
    .put = s3_put,
    .get = s3_get,
    .del = s3_del,
};
