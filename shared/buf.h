/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a cap (after curl's dynbuf). */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct tb_buf {
    uint8_t *data; /* NUL-terminated when len > 0; owned */
    size_t len;
    size_t alloc;
    size_t cap; /* appends that would pass this fail with -E2BIG */
    int err;    /* sticky: the first failed append's -errno, 0 if none */
};

/* Prepares an empty buffer the caller owns; cap 0 means TB_BUF_MAX. Allocates nothing. */
void tb_buf_init(struct tb_buf *b, size_t cap);

/* Frees the storage; the buffer is empty and usable again. NULL-safe. */
void tb_buf_done(struct tb_buf *b);

/* Empties the buffer and clears the sticky error, keeping the storage. */
void tb_buf_reset(struct tb_buf *b);

/* Appends; returns 0, or -E2BIG / -ENOMEM (also kept in b->err, after which every append
 * fails with the same error until reset, so a series of appends can be checked once). */
int tb_buf_add(struct tb_buf *b, const void *data, size_t len);
int tb_buf_addc(struct tb_buf *b, char c);
int tb_buf_adds(struct tb_buf *b, const char *s);
int tb_buf_addf(struct tb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tb_buf_vaddf(struct tb_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
