/* SPDX-License-Identifier: MIT */
/* Growable buffer with a cap; see buf.h. */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tblimits.h"

void tb_buf_init(struct tb_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = b->alloc = 0;
    b->cap = cap ? cap : TB_BUF_MAX;
    b->err = 0;
}

void tb_buf_done(struct tb_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
    b->err = 0;
}

void tb_buf_reset(struct tb_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data)
        b->data[0] = 0;
}

static int grow(struct tb_buf *b, size_t more)
{
    if (b->err)
        return b->err;
    if (more > b->cap - b->len || more >= SIZE_MAX - b->len) {
        b->err = -E2BIG;
        return b->err;
    }
    size_t need = b->len + more + 1;
    if (need <= b->alloc)
        return 0;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (b->cap < SIZE_MAX && n > b->cap + 1)
        n = b->cap + 1;
    uint8_t *p = realloc(b->data, n);
    if (!p) {
        b->err = -ENOMEM;
        return b->err;
    }
    b->data = p;
    b->alloc = n;
    return 0;
}

int tb_buf_add(struct tb_buf *b, const void *data, size_t len)
{
    int err = grow(b, len);
    if (err)
        return err;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return 0;
}

int tb_buf_addc(struct tb_buf *b, char c)
{
    if (!b->err && b->len + 1 < b->alloc && b->len < b->cap) {
        b->data[b->len++] = (uint8_t)c;
        b->data[b->len] = 0;
        return 0;
    }
    return tb_buf_add(b, &c, 1);
}

int tb_buf_adds(struct tb_buf *b, const char *s)
{
    return tb_buf_add(b, s, strlen(s));
}

int tb_buf_vaddf(struct tb_buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        if (!b->err)
            b->err = -EINVAL;
        return b->err;
    }
    if ((size_t)n < sizeof(small))
        return tb_buf_add(b, small, (size_t)n);
    int err = grow(b, (size_t)n);
    if (err)
        return err;
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int tb_buf_addf(struct tb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int err = tb_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return err;
}
