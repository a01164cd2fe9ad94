/* SPDX-License-Identifier: MIT */
/* Secrets with OpenSSL: random bytes, SHA-256, scrypt, constant-time comparison. */
#include "auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int svc_random(void *out, size_t n)
{
    return RAND_bytes(out, (int)n) == 1 ? 0 : -EIO;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Base64url without padding of n bytes into out (4*ceil(n/3) + 1 bytes at most). */
static size_t b64(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64url[v & 63];
    }
    out[o] = 0;
    return o;
}

int svc_token_new(char out[SVC_TOKEN_LEN + 1])
{
    uint8_t r[24];
    if (svc_random(r, sizeof(r)) < 0)
        return -EIO;
    memcpy(out, SVC_TOKEN_PREFIX, strlen(SVC_TOKEN_PREFIX));
    b64(r, sizeof(r), out + strlen(SVC_TOKEN_PREFIX));
    OPENSSL_cleanse(r, sizeof(r));
    return 0;
}

int svc_secret_new(char out[SVC_SECRET_LEN + 1])
{
    uint8_t r[32];
    if (svc_random(r, sizeof(r)) < 0)
        return -EIO;
    b64(r, sizeof(r), out);
    OPENSSL_cleanse(r, sizeof(r));
    return 0;
}

int svc_experiment_id_new(char out[23])
{
    uint8_t r[16];
    if (svc_random(r, sizeof(r)) < 0)
        return -EIO;
    b64(r, sizeof(r), out);
    return 0;
}

int svc_user_code_new(char out[10])
{
    static const char alphabet[] =
        "BCDFGHJKLMNPQRSTVWXZ"; /* 20 letters, no vowels or look-alikes */
    uint8_t r[8];
    if (svc_random(r, sizeof(r)) < 0)
        return -EIO;
    int o = 0;
    for (int i = 0; i < 8; i++) {
        if (i == 4)
            out[o++] = '-';
        out[o++] = alphabet[r[i] % 20]; /* 256 % 20 != 0: a slight bias, harmless here */
    }
    out[o] = 0;
    return 0;
}

void svc_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

struct svc_sha256_ctx *svc_sha256_new(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return (struct svc_sha256_ctx *)c;
}

void svc_sha256_add(struct svc_sha256_ctx *ctx, const void *data, size_t len)
{
    if (ctx && len)
        EVP_DigestUpdate((EVP_MD_CTX *)ctx, data, len);
}

void svc_sha256_end(struct svc_sha256_ctx *ctx, uint8_t out[32])
{
    if (!ctx)
        return;
    unsigned int n = 32;
    EVP_DigestFinal_ex((EVP_MD_CTX *)ctx, out, &n);
    EVP_MD_CTX_free((EVP_MD_CTX *)ctx);
}

void svc_hash_secret(const char *secret, uint8_t out[32])
{
    svc_sha256(secret, strlen(secret), out);
}

void svc_hex32(const uint8_t in[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[64] = 0;
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool svc_unhex32(const char *s, uint8_t out[32])
{
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool svc_is_experiment_id(const char *s)
{
    if (!s || strlen(s) != 22)
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr(b64url, *p))
            return false;
    return true;
}

bool svc_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

static uint64_t scrypt_n(void)
{
    const char *e = getenv("TBDEV_SCRYPT_N");
    uint64_t n = e ? strtoull(e, NULL, 10) : 0;
    if (n < 1024 || (n & (n - 1)))
        n = 1u << 15;
    return n;
}

static int derive(const char *pw, const uint8_t *salt, size_t salt_len, uint64_t n, uint64_t r,
                  uint64_t p, uint8_t *out, size_t out_len)
{
    uint64_t maxmem = 128 * r * n + 1024 * 1024 * 64;
    return EVP_PBE_scrypt(pw, strlen(pw), salt, salt_len, n, r, p, maxmem, out, out_len) == 1
               ? 0
               : -EIO;
}

int svc_password_hash(const char *password, char *out, size_t out_len)
{
    if (!password || strlen(password) < 8)
        return -EINVAL;
    uint8_t salt[16], key[32];
    if (svc_random(salt, sizeof(salt)) < 0)
        return -EIO;
    uint64_t n = scrypt_n();
    if (derive(password, salt, sizeof(salt), n, 8, 1, key, sizeof(key)) < 0)
        return -EIO;
    char s64[32], k64[48];
    b64(salt, sizeof(salt), s64);
    b64(key, sizeof(key), k64);
    OPENSSL_cleanse(key, sizeof(key));
    int len = snprintf(out, out_len, "scrypt$%llu$8$1$%s$%s", (unsigned long long)n, s64, k64);
    return len < 0 || (size_t)len >= out_len ? -E2BIG : 0;
}

/* Decodes base64url without padding; returns the length, or -1. */
static int unb64(const char *in, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = in; *p; p++) {
        const char *at = strchr(b64url, *p);
        if (!at)
            return -1;
        acc = (acc << 6) | (uint32_t)(at - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (int)o;
}

bool svc_password_check(const char *password, const char *stored)
{
    unsigned long long n, r, p;
    char salt64[64], key64[64];
    if (!password || !stored ||
        sscanf(stored, "scrypt$%llu$%llu$%llu$%63[^$]$%63s", &n, &r, &p, salt64, key64) != 5)
        return false;
    if (n < 1024 || n > (1u << 20) || r < 1 || r > 32 || p < 1 || p > 16)
        return false;
    uint8_t salt[48], want[48], got[48];
    int sl = unb64(salt64, salt, sizeof(salt)), kl = unb64(key64, want, sizeof(want));
    if (sl <= 0 || kl != 32)
        return false;
    if (derive(password, salt, (size_t)sl, n, r, p, got, 32) < 0)
        return false;
    bool ok = svc_equal(got, want, 32);
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

static char dummy[160];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    uint8_t salt[16], key[32];
    char s64[32], k64[48];
    /* Random, so that no password matches it; without randomness, a fixed one (no scrypt
     * output is all zeros in practice, and it is never a stored hash). */
    if (svc_random(salt, sizeof(salt)) < 0 || svc_random(key, sizeof(key)) < 0) {
        memset(salt, 0, sizeof(salt));
        memset(key, 0, sizeof(key));
    }
    b64(salt, sizeof(salt), s64);
    b64(key, sizeof(key), k64);
    snprintf(dummy, sizeof(dummy), "scrypt$%llu$8$1$%s$%s", (unsigned long long)scrypt_n(), s64,
             k64);
}

const char *svc_password_dummy(void)
{
    pthread_once(&dummy_once, make_dummy);
    return dummy;
}

void svc_csrf_token(const char *session_secret, char *out)
{
    uint8_t h[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 32;
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, "tbdev-csrf:", 11) == 1 &&
        EVP_DigestUpdate(ctx, session_secret, strlen(session_secret)) == 1 &&
        EVP_DigestFinal_ex(ctx, h, &n) == 1)
        b64(h, sizeof(h), out);
    else
        out[0] = 0;
    EVP_MD_CTX_free(ctx);
}
