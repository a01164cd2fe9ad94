/* SPDX-License-Identifier: MIT */
/* Secrets: API tokens, session cookies, passwords, experiment IDs and device codes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SVC_TOKEN_PREFIX "tbdev_"
#define SVC_TOKEN_LEN 38   /* "tbdev_" + 32 base64url characters (192 random bits) */
#define SVC_TOKEN_SHOWN 10 /* characters of a token kept in clear, to tell tokens apart */
#define SVC_SECRET_LEN 43  /* session and device secrets: 256 random bits, base64url */

/* Fills out with n cryptographically random bytes (OpenSSL). Returns 0 or -EIO. */
int svc_random(void *out, size_t n);

/* A new API token, NUL-terminated, in out[SVC_TOKEN_LEN + 1]. */
int svc_token_new(char out[SVC_TOKEN_LEN + 1]);

/* A new 256-bit secret for sessions and device codes, in out[SVC_SECRET_LEN + 1]. */
int svc_secret_new(char out[SVC_SECRET_LEN + 1]);

/* A new experiment ID: 22 base64url characters from 128 random bits. */
int svc_experiment_id_new(char out[23]);

/* A user code for the device flow: "XXXX-XXXX" from an alphabet without look-alikes. */
int svc_user_code_new(char out[10]);

/* SHA-256 of a string: what the database keeps instead of a token or session secret. */
void svc_hash_secret(const char *secret, uint8_t out[32]);

/* SHA-256 of bytes. */
void svc_sha256(const void *data, size_t len, uint8_t out[32]);

/* SHA-256 of bytes given in parts: _new (NULL when out of memory), _add any number of times,
 * _end writes the digest and frees ctx (NULL-safe: out is left alone). */
struct svc_sha256_ctx;
struct svc_sha256_ctx *svc_sha256_new(void);
void svc_sha256_add(struct svc_sha256_ctx *ctx, const void *data, size_t len);
void svc_sha256_end(struct svc_sha256_ctx *ctx, uint8_t out[32]);

/* Hex of 32 bytes into out[65]. */
void svc_hex32(const uint8_t in[32], char out[65]);

/* Parses 64 hex digits; false if s is anything else. */
bool svc_unhex32(const char *s, uint8_t out[32]);

/* True if s looks like an experiment ID (22 base64url characters) - checked before lookups. */
bool svc_is_experiment_id(const char *s);

/* Hashes a password with scrypt (N from TBDEV_SCRYPT_N, default 2^15, r=8, p=1) into
 * out ("scrypt$N$r$p$salt$hash"). Returns 0, -EINVAL (too short: under 8 characters), -EIO. */
int svc_password_hash(const char *password, char *out, size_t out_len);

/* Checks a password against a stored hash in constant time. */
bool svc_password_check(const char *password, const char *stored);

/* A hash no password matches, with the parameters svc_password_hash uses now: checking a
 * password against it costs what checking a real one does, so that a sign-in as an unknown
 * user, a user without a password or a disabled user takes as long as a wrong password
 * (no answer tells which accounts exist). Static storage; thread-safe. */
const char *svc_password_dummy(void);

/* Constant-time comparison of n bytes. */
bool svc_equal(const void *a, const void *b, size_t n);

/* The CSRF token that goes with a session secret: a cookie-authorised POST must carry it in
 * the X-CSRF-Token header, which a cross-site form or script cannot set. out[SVC_SECRET_LEN+1]. */
void svc_csrf_token(const char *session_secret, char *out);
