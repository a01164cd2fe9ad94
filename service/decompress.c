/* SPDX-License-Identifier: MIT */
/* Request-body decompression: zlib for gzip/deflate, libzstd for zstd. */
#include "decompress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "buf.h"

static int grow_out(struct tb_buf *b, size_t want)
{
    if (b->alloc - b->len >= want + 1)
        return 0;
    size_t room = b->cap - b->len;
    if (room == 0)
        return -E2BIG;
    size_t add = want < room ? want : room;
    size_t n = b->alloc ? b->alloc : 64 * 1024;
    while (n < b->len + add + 1)
        n *= 2;
    if (n > b->cap + 1)
        n = b->cap + 1;
    uint8_t *p = realloc(b->data, n);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->alloc = n;
    return 0;
}

static int inflate_all(const uint8_t *in, size_t len, struct tb_buf *out, int window)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, window) != Z_OK)
        return -ENOMEM;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
    int err = 0, rc;
    do {
        if ((err = grow_out(out, 256 * 1024)) < 0)
            break;
        size_t room = out->alloc - out->len - 1;
        if (room > out->cap - out->len)
            room = out->cap - out->len;
        if (room == 0) {
            err = -E2BIG;
            break;
        }
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)(room > UINT32_MAX ? UINT32_MAX : room);
        rc = inflate(&z, Z_NO_FLUSH);
        out->len = (size_t)(z.next_out - out->data);
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && z.avail_out == 0)) {
            err = rc == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
            break;
        }
        if (z.avail_in == 0 && z.avail_out != 0) {
            err = -EBADMSG; /* truncated stream */
            break;
        }
    } while (1);
    inflateEnd(&z);
    return err;
}

static int zstd_all(const uint8_t *in, size_t len, struct tb_buf *out)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return -ENOMEM;
    /* Bound the window, so a frame cannot ask for more memory than the cap allows. */
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
    ZSTD_inBuffer ib = {in, len, 0};
    int err = 0;
    size_t rc = 1;
    while (ib.pos < ib.size || rc != 0) {
        if ((err = grow_out(out, 256 * 1024)) < 0)
            break;
        size_t room = out->alloc - out->len - 1;
        if (room > out->cap - out->len)
            room = out->cap - out->len;
        if (room == 0) {
            err = -E2BIG;
            break;
        }
        ZSTD_outBuffer ob = {out->data + out->len, room, 0};
        rc = ZSTD_decompressStream(d, &ob, &ib);
        out->len += ob.pos;
        if (ZSTD_isError(rc)) {
            err = -EBADMSG;
            break;
        }
        if (ib.pos == ib.size && rc != 0 && ob.pos < room) {
            err = -EBADMSG; /* the input ended inside a frame */
            break;
        }
    }
    ZSTD_freeDCtx(d);
    return err;
}

int svc_decompress(const char *encoding, const uint8_t *in, size_t len, size_t cap,
                   uint8_t **ret_out, size_t *ret_len)
{
    struct tb_buf out;
    tb_buf_init(&out, cap);
    int err;
    if (!strcasecmp(encoding, "gzip") || !strcasecmp(encoding, "x-gzip"))
        err = inflate_all(in, len, &out, 15 + 16);
    else if (!strcasecmp(encoding, "deflate"))
        err = inflate_all(in, len, &out, 15);
    else if (!strcasecmp(encoding, "zstd"))
        err = zstd_all(in, len, &out);
    else if (!strcasecmp(encoding, "identity"))
        err = tb_buf_add(&out, in, len);
    else
        err = -ENOTSUP;
    if (!err && !out.data)
        err = tb_buf_add(&out, "", 0);
    if (err < 0) {
        tb_buf_done(&out);
        return err;
    }
    out.data[out.len] = 0;
    *ret_out = out.data;
    *ret_len = out.len;
    return 0;
}
