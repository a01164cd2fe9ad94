/* SPDX-License-Identifier: MIT */
/* Answer compression: gzip or zstd, as the client's Accept-Encoding allows, after the handler. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* Answers shorter than this go out as they are: compressing them saves less than it costs. */
#define SVC_ENCODE_MIN 1024

enum svc_encoding {
    SVC_ENC_IDENTITY = 0,
    SVC_ENC_GZIP,
    SVC_ENC_ZSTD,
};

/*
 * The encoding to answer in for an Accept-Encoding value (NULL: none given): zstd if the
 * client takes it, else gzip, else identity. A coding with q=0 is refused, "*" stands for
 * any coding not named, and names are case-insensitive (RFC 9110, 12.5.3).
 */
enum svc_encoding svc_encoding_pick(const char *accept_encoding);

/* The Content-Encoding name of e ("gzip", "zstd"), or NULL for identity. */
const char *svc_encoding_name(enum svc_encoding e);

/*
 * Compresses len bytes of in with e (not identity). *ret_out (caller frees with free()) holds
 * *ret_len bytes on success. Errors: -ENOMEM, -EIO (the library failed), -EINVAL (identity).
 */
int svc_encode(enum svc_encoding e, const uint8_t *in, size_t len, uint8_t **ret_out,
               size_t *ret_len);

/*
 * Compresses the answer res in place when it is worth it: a text-like content type (JSON,
 * CSV, text, JavaScript, CSS, SVG), at least SVC_ENCODE_MIN bytes, a coding the client
 * accepts, and a result that is smaller. Then sets Content-Encoding; "Vary: Accept-Encoding"
 * is set on every answer of those types. Static bodies (embedded assets) are compressed once
 * and kept until svc_encode_cache_free; dynamic bodies are replaced. On any failure the
 * answer goes out as it was.
 */
void svc_encode_response(const char *accept_encoding, struct svc_response *res);

/* Frees the compressed static bodies kept by svc_encode_response (at shutdown, after the
 * server has stopped answering). */
void svc_encode_cache_free(void);
