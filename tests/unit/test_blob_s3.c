/* SPDX-License-Identifier: MIT */
/* Unit tests for blob_s3.c against an in-process S3 peer (libmicrohttpd on loopback) that
 * checks every request's SigV4 signature itself, from the secret it was given, and the
 * x-amz-content-sha256 of every body, as S3 and Swift's s3api do: a request signed with another
 * secret, or a body whose hash is not the one signed, is refused 403 / 400. Tested: the
 * bucket check at open (right secret, wrong secret, no bucket, an unreachable store), bad
 * options named, put/get/del of content-addressed keys under a prefix, an access key holding
 * ':', a size limit on get, and 503 as "busy". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <microhttpd.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"

#define SECRET "s3cr3t/with+chars"
#define BUCKET "tbdev-blobs"

struct object {
    char path[256];
    uint8_t *data;
    size_t len;
};

struct peer {
    struct MHD_Daemon *d;
    int port;
    const char *secret;
    int force_status; /* answer this to everything when non-zero */
    pthread_mutex_t lock;
    struct object objects[16];
    int requests, refused;
    char last_credential[256];
    char last_content_sha[80];
};

struct body {
    uint8_t *p;
    size_t len;
};

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void sha_hex(const void *d, size_t n, char out[65])
{
    uint8_t h[32];
    SHA256(d, n, h);
    hex(h, 32, out);
}

static void hmac(const uint8_t *key, size_t klen, const char *msg, uint8_t out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const uint8_t *)msg, strlen(msg), out, &n);
}

/* The part of an Authorization header after "NAME=", up to ',' or the end, into out. */
static bool auth_field(const char *auth, const char *name, char *out, size_t len)
{
    const char *p = strstr(auth, name);
    if (!p)
        return false;
    p += strlen(name);
    size_t n = strcspn(p, ",");
    if (n >= len)
        return false;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

/* Checks SigV4 as a server does: rebuilds the canonical request from what arrived. */
static bool signature_ok(struct peer *pr, struct MHD_Connection *c, const char *method,
                         const char *url, char *why, size_t why_len)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *date = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-date");
    const char *psha = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-content-sha256");
    if (!auth || !date || !psha || strncmp(auth, "AWS4-HMAC-SHA256 ", 17)) {
        snprintf(why, why_len, "not SigV4-signed");
        return false;
    }
    char cred[256], signed_h[256], sig[80];
    if (!auth_field(auth, "Credential=", cred, sizeof(cred)) ||
        !auth_field(auth, "SignedHeaders=", signed_h, sizeof(signed_h)) ||
        !auth_field(auth, "Signature=", sig, sizeof(sig))) {
        snprintf(why, why_len, "malformed Authorization");
        return false;
    }
    snprintf(pr->last_credential, sizeof(pr->last_credential), "%s", cred);
    /* Credential=KEY/DATE/REGION/s3/aws4_request: the key may hold ':' (not '/') */
    char *scope = strchr(cred, '/');
    if (!scope) {
        snprintf(why, why_len, "no scope");
        return false;
    }
    scope++;
    char day[16], region[64];
    if (sscanf(scope, "%15[^/]/%63[^/]/s3/aws4_request", day, region) != 2) {
        snprintf(why, why_len, "bad scope %s", scope);
        return false;
    }
    char canon[4096];
    size_t n = (size_t)snprintf(canon, sizeof(canon), "%s\n%s\n\n", method, url);
    char names[256];
    snprintf(names, sizeof(names), "%s", signed_h);
    for (char *save = NULL, *h = strtok_r(names, ";", &save); h; h = strtok_r(NULL, ";", &save)) {
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, h);
        if (!v) {
            snprintf(why, why_len, "signed header %s missing", h);
            return false;
        }
        while (*v == ' ')
            v++;
        n += (size_t)snprintf(canon + n, sizeof(canon) - n, "%s:%s\n", h, v);
    }
    n += (size_t)snprintf(canon + n, sizeof(canon) - n, "\n%s\n%s", signed_h, psha);
    char canon_sha[65];
    sha_hex(canon, strlen(canon), canon_sha);
    char to_sign[512];
    snprintf(to_sign, sizeof(to_sign), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope, canon_sha);
    char k0[128];
    snprintf(k0, sizeof(k0), "AWS4%s", pr->secret);
    uint8_t k[32];
    hmac((const uint8_t *)k0, strlen(k0), day, k);
    hmac(k, 32, region, k);
    hmac(k, 32, "s3", k);
    hmac(k, 32, "aws4_request", k);
    uint8_t s[32];
    hmac(k, 32, to_sign, s);
    char want[65];
    hex(s, 32, want);
    if (strcmp(want, sig)) {
        snprintf(why, why_len, "signature does not match");
        return false;
    }
    return true;
}

static enum MHD_Result answer(struct MHD_Connection *c, int status, const void *d, size_t n)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)d, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static struct object *find(struct peer *pr, const char *path)
{
    for (int i = 0; i < 16; i++)
        if (pr->objects[i].data && !strcmp(pr->objects[i].path, path))
            return &pr->objects[i];
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_len, void **state)
{
    (void)version;
    struct peer *pr = cls;
    struct body *b = *state;
    if (!b) {
        *state = calloc(1, sizeof(struct body));
        return *state ? MHD_YES : MHD_NO;
    }
    if (*data_len) {
        uint8_t *np = realloc(b->p, b->len + *data_len);
        if (!np)
            return MHD_NO;
        memcpy(np + b->len, data, *data_len);
        b->p = np;
        b->len += *data_len;
        *data_len = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&pr->lock);
    pr->requests++;
    enum MHD_Result ret;
    char why[128];
    const char *psha = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-content-sha256");
    char body_sha[65];
    sha_hex(b->p ? (const void *)b->p : "", b->len, body_sha);
    snprintf(pr->last_content_sha, sizeof(pr->last_content_sha), "%s", psha ? psha : "");
    char bucket_path[64];
    snprintf(bucket_path, sizeof(bucket_path), "/%s", BUCKET);
    size_t bl = strlen(bucket_path);
    if (pr->force_status) {
        ret = answer(c, pr->force_status, "", 0);
    } else if (!signature_ok(pr, c, method, url, why, sizeof(why))) {
        pr->refused++;
        ret = answer(c, 403, why, strlen(why));
    } else if (!psha || strcmp(psha, body_sha)) {
        ret = answer(c, 400, "XAmzContentSHA256Mismatch", 25);
    } else if (strncmp(url, bucket_path, bl) || (url[bl] && url[bl] != '/')) {
        ret = answer(c, 404, "NoSuchBucket", 12);
    } else if (!url[bl] || !url[bl + 1]) {
        ret = answer(c, !strcmp(method, "HEAD") ? 200 : 405, "", 0);
    } else if (!strcmp(method, "PUT")) {
        struct object *o = find(pr, url);
        for (int i = 0; !o && i < 16; i++)
            if (!pr->objects[i].data)
                o = &pr->objects[i];
        if (!o) {
            ret = answer(c, 507, "", 0);
        } else {
            free(o->data);
            snprintf(o->path, sizeof(o->path), "%s", url);
            o->data = malloc(b->len ? b->len : 1);
            memcpy(o->data, b->p ? b->p : (uint8_t *)"", b->len);
            o->len = b->len;
            ret = answer(c, 200, "", 0);
        }
    } else if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
        struct object *o = find(pr, url);
        ret = o ? answer(c, 200, o->data, o->len) : answer(c, 404, "NoSuchKey", 9);
    } else if (!strcmp(method, "DELETE")) {
        struct object *o = find(pr, url);
        if (o) {
            free(o->data);
            o->data = NULL;
        }
        ret = answer(c, 204, "", 0);
    } else {
        ret = answer(c, 405, "", 0);
    }
    pthread_mutex_unlock(&pr->lock);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
                    enum MHD_RequestTerminationCode tc)
{
    (void)cls, (void)c, (void)tc;
    struct body *b = *state;
    if (b)
        free(b->p);
    free(b);
    *state = NULL;
}

static int setup(void **state)
{
    struct peer *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return -1;
    pr->secret = SECRET;
    pthread_mutex_init(&pr->lock, NULL);
    pr->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                             on_request, pr, MHD_OPTION_NOTIFY_COMPLETED, on_done, pr,
                             MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    if (!pr->d)
        return -1;
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(pr->d, MHD_DAEMON_INFO_BIND_PORT);
    pr->port = i ? i->port : 0;
    *state = pr;
    return pr->port ? 0 : -1;
}

static int teardown(void **state)
{
    struct peer *pr = *state;
    MHD_stop_daemon(pr->d);
    for (int i = 0; i < 16; i++)
        free(pr->objects[i].data);
    pthread_mutex_destroy(&pr->lock);
    free(pr);
    return 0;
}

struct opts {
    char url[128], endpoint[128];
    struct svc_blob_options o;
};

static void opts(struct opts *x, const struct peer *pr, const char *url, const char *key,
                 const char *secret)
{
    snprintf(x->url, sizeof(x->url), "%s", url);
    snprintf(x->endpoint, sizeof(x->endpoint), "http://127.0.0.1:%d/", pr ? pr->port : 1);
    x->o = (struct svc_blob_options){.url = x->url,
                                     .endpoint = x->endpoint,
                                     .access_key = key,
                                     .secret_key = secret,
                                     .timeout_s = 10};
}

static void test_open_checks_credentials(void **state)
{
    struct peer *pr = *state;
    struct opts x;
    char err[300] = "";
    struct svc_blob_store *b = NULL;
    opts(&x, pr, "s3://" BUCKET, "tbdev", SECRET);
    assert_int_equal(svc_blob_s3.open(&x.o, &b, err, sizeof(err)), 0);
    assert_int_equal(pr->refused, 0); /* the first test of the group */
    assert_non_null(strstr(pr->last_credential, "tbdev/"));
    assert_non_null(strstr(pr->last_credential, "/us-east-1/s3/aws4_request"));
    svc_blob_s3.close(b);

    opts(&x, pr, "s3://" BUCKET, "tbdev", "not the secret");
    b = NULL;
    assert_int_equal(svc_blob_s3.open(&x.o, &b, err, sizeof(err)), -EACCES);
    assert_null(b);
    assert_int_equal(pr->refused, 1);
    assert_non_null(strstr(err, "refused the credentials for bucket 'tbdev-blobs' (HTTP 403)"));
    assert_null(strstr(err, "not the secret"));

    opts(&x, pr, "s3://other-bucket", "tbdev", SECRET);
    assert_int_equal(svc_blob_s3.open(&x.o, &b, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "no bucket 'other-bucket'"));

    /* a region of our own is signed into the scope */
    opts(&x, pr, "s3://" BUCKET, "tbdev", SECRET);
    x.o.region = "eu-west-3";
    assert_int_equal(svc_blob_s3.open(&x.o, &b, err, sizeof(err)), 0);
    assert_non_null(strstr(pr->last_credential, "/eu-west-3/s3/"));
    svc_blob_s3.close(b);
}

static void test_unreachable_store(void **state)
{
    (void)state;
    struct opts x;
    char err[300] = "";
    struct svc_blob_store *b = NULL;
    opts(&x, NULL, "s3://" BUCKET, "tbdev", SECRET); /* port 1: nothing listens */
    assert_int_equal(svc_blob_s3.open(&x.o, &b, err, sizeof(err)), -EBUSY);
    assert_non_null(strstr(err, "cannot reach the object store at http://127.0.0.1:1"));
}

static void test_bad_options_named(void **state)
{
    struct peer *pr = *state;
    static const struct {
        const char *url, *endpoint, *key, *secret, *region, *says;
    } cases[] = {
        {"http://bucket", NULL, "k", "s", NULL, "must be s3://BUCKET"},
        {"s3://AB", NULL, "k", "s", NULL, "'AB' is not a bucket name"},
        {"s3://bucket_x", NULL, "k", "s", NULL, "'bucket_x' is not a bucket name"},
        {"s3://" BUCKET "/a b", NULL, "k", "s", NULL, "the prefix may hold"},
        {"s3://" BUCKET, "ftp://x", "k", "s", NULL, "--s3_endpoint must be"},
        {"s3://" BUCKET, "", "", "s", NULL, "needs credentials"},
        {"s3://" BUCKET, "", "k", "", NULL, "needs credentials"},
        {"s3://" BUCKET, "", "k", "s", "EU West", "'EU West' is not a region name"},
    };
    int before = pr->requests;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct opts x;
        opts(&x, pr, cases[i].url, cases[i].key, cases[i].secret);
        if (cases[i].endpoint && *cases[i].endpoint)
            x.o.endpoint = cases[i].endpoint;
        x.o.region = cases[i].region;
        char err[300] = "";
        struct svc_blob_store *b = NULL;
        assert_int_equal(svc_blob_s3.open(&x.o, &b, err, sizeof(err)), -EINVAL);
        if (!strstr(err, cases[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].says);
    }
    assert_int_equal(pr->requests, before); /* refused before any request */
}

static void test_put_get_del(void **state)
{
    struct peer *pr = *state;
    struct opts x;
    char err[300] = "";
    struct svc_blob_store *b = NULL;
    /* an access key holding ':' (Swift's account:user) and a prefix */
    opts(&x, pr, "s3://" BUCKET "/tb/blobs/", "acct:user", SECRET);
    int refused = pr->refused;
    assert_int_equal(svc_blob_s3.open(&x.o, &b, err, sizeof(err)), 0);
    assert_non_null(strstr(pr->last_credential, "acct:user/"));

    uint8_t data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + 7);
    uint8_t sha[32];
    SHA256(data, sizeof(data), sha);
    assert_int_equal(svc_blob_s3.put(b, sha, data, sizeof(data)), 0);
    char key[65], path[128], body_sha[65];
    svc_blob_key(sha, key);
    sha_hex(data, sizeof(data), body_sha);
    assert_string_equal(pr->last_content_sha, body_sha); /* the signed hash is the body's */
    snprintf(path, sizeof(path), "/%s/tb/blobs/%s", BUCKET, key);
    struct object *o = find(pr, path);
    assert_non_null(o);
    assert_int_equal(o->len, sizeof(data));

    uint8_t *got = NULL;
    size_t n = 0;
    assert_int_equal(svc_blob_s3.get(b, sha, 1 << 20, &got, &n), 0);
    assert_int_equal(n, sizeof(data));
    assert_memory_equal(got, data, n);
    free(got);
    got = NULL;
    assert_int_equal(svc_blob_s3.get(b, sha, 100, &got, &n), -E2BIG);
    free(got);

    /* an empty blob is an object too */
    uint8_t esha[32];
    SHA256((const uint8_t *)"", 0, esha);
    assert_int_equal(svc_blob_s3.put(b, esha, (const uint8_t *)"", 0), 0);
    got = NULL;
    assert_int_equal(svc_blob_s3.get(b, esha, 10, &got, &n), 0);
    assert_int_equal(n, 0);
    free(got);

    assert_int_equal(svc_blob_s3.del(b, sha), 0);
    assert_null(find(pr, path));
    got = NULL;
    assert_int_equal(svc_blob_s3.get(b, sha, 1 << 20, &got, &n), -ENOENT);
    free(got);
    assert_int_equal(svc_blob_s3.del(b, sha), 0); /* deleting what is gone is not an error */
    assert_int_equal(pr->refused, refused);
    svc_blob_s3.close(b);
}

static void test_busy_and_refused_later(void **state)
{
    struct peer *pr = *state;
    struct opts x;
    char err[300] = "";
    struct svc_blob_store *b = NULL;
    opts(&x, pr, "s3://" BUCKET, "tbdev", SECRET);
    assert_int_equal(svc_blob_s3.open(&x.o, &b, err, sizeof(err)), 0);
    uint8_t sha[32];
    SHA256((const uint8_t *)"x", 1, sha);
    pr->force_status = 503;
    assert_int_equal(svc_blob_s3.put(b, sha, (const uint8_t *)"x", 1), -EBUSY);
    uint8_t *got = NULL;
    size_t n;
    assert_int_equal(svc_blob_s3.get(b, sha, 10, &got, &n), -EBUSY);
    free(got);
    pr->force_status = 0;
    /* the secret rotated on the store after start: refused, not retried for ever as busy */
    pr->secret = "rotated";
    assert_int_equal(svc_blob_s3.put(b, sha, (const uint8_t *)"x", 1), -EACCES);
    pr->secret = SECRET;
    assert_int_equal(svc_blob_s3.put(b, sha, (const uint8_t *)"x", 1), 0);
    svc_blob_s3.close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_checks_credentials), cmocka_unit_test(test_unreachable_store),
        cmocka_unit_test(test_bad_options_named),       cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_busy_and_refused_later),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
