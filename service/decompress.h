/* SPDX-License-Identifier: MIT */
/* Request-body decompression (gzip, deflate, zstd) with a cap on the decompressed size. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Decompresses `len` bytes encoded as `encoding` ("gzip", "deflate", "zstd"; "identity" is
 * a copy). On success *ret_out (caller frees with free(), NUL-terminated) holds *ret_len
 * bytes. Errors: -ENOTSUP unknown encoding, -E2BIG the output would pass `cap` (decoding
 * stops there: a bomb costs at most cap bytes of memory), -EBADMSG corrupt input, -ENOMEM.
 */
int svc_decompress(const char *encoding, const uint8_t *in, size_t len, size_t cap,
                   uint8_t **ret_out, size_t *ret_len);
