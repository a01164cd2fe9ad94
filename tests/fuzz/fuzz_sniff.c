/* SPDX-License-Identifier: MIT */
/* Fuzz target: svc_sniff, the content type of a stored blob from its magic bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_sniff: check failed: %s: ", #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t be32(const uint8_t *p)
{
    return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

static bool has(const uint8_t *d, size_t n, size_t at, const char *magic, size_t len)
{
    return n >= at + len && !memcmp(d + at, magic, len);
}

/* The input is copied into an exact-size buffer, so that a read past its end is seen. Checks:
 * the answer is NULL or one of the documented types (compared by content, not pointer), the
 * magic bytes of that type are there, svc_sniff_is_image agrees, and no PNG or GIF whose
 * header claims more than SVC_IMAGE_PIXELS_MAX pixels (or, for PNG, zero) is an image. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *d = malloc(size ? size : 1);
    if (!d)
        return 0;
    memcpy(d, data, size);
    const char *t = svc_sniff(d, size);
    static const char *const types[] = {"image/png", "image/jpeg", "image/gif",  "image/webp",
                                        "audio/wav", "audio/ogg",  "audio/flac", "audio/mpeg"};
    size_t k = 0;
    if (t) {
        while (k < 8 && strcmp(t, types[k]))
            k++;
        CHECK(k < 8, "unknown type %s", t);
    }
    CHECK(svc_sniff_is_image(t) == (t && k < 4), "svc_sniff_is_image(%s)", t ? t : "NULL");
    CHECK(!svc_sniff_is_image(NULL), "svc_sniff_is_image(NULL)");
    if (t) {
        switch (k) {
        case 0:
            CHECK(has(d, size, 0, "\x89PNG\r\n\x1a\n", 8) && has(d, size, 12, "IHDR", 4),
                  "image/png without a PNG header");
            break;
        case 1:
            CHECK(has(d, size, 0, "\xff\xd8\xff", 3), "image/jpeg without its magic");
            break;
        case 2:
            CHECK(size >= 10 && (has(d, size, 0, "GIF87a", 6) || has(d, size, 0, "GIF89a", 6)),
                  "image/gif without its magic");
            CHECK((uint64_t)(d[6] | d[7] << 8) * (uint64_t)(d[8] | d[9] << 8) <=
                      SVC_IMAGE_PIXELS_MAX,
                  "image/gif over the pixel cap");
            break;
        case 3:
            CHECK(has(d, size, 0, "RIFF", 4) && has(d, size, 8, "WEBP", 4), "image/webp");
            break;
        case 4:
            CHECK(has(d, size, 0, "RIFF", 4) && has(d, size, 8, "WAVE", 4), "audio/wav");
            break;
        case 5:
            CHECK(has(d, size, 0, "OggS", 4), "audio/ogg");
            break;
        case 6:
            CHECK(has(d, size, 0, "fLaC", 4), "audio/flac");
            break;
        case 7:
            CHECK(has(d, size, 0, "ID3", 3) || (size >= 2 && d[0] == 0xff && (d[1] & 0xe0) == 0xe0),
                  "audio/mpeg");
            break;
        }
    }
    /* A PNG header: image/png only when 0 < width * height <= the cap. A PNG signature is
     * never anything but a PNG, so any other answer is NULL. */
    if (has(d, size, 0, "\x89PNG\r\n\x1a\n", 8)) {
        CHECK(!t || k == 0, "a PNG signature sniffed as %s", t);
        if (size >= 24 && has(d, size, 12, "IHDR", 4)) {
            uint64_t w = be32(d + 16), h = be32(d + 20);
            bool ok = w > 0 && h > 0 && w * h <= SVC_IMAGE_PIXELS_MAX;
            CHECK(ok == (t != NULL), "PNG %llux%llu sniffed as %s", (unsigned long long)w,
                  (unsigned long long)h, t ? t : "NULL");
        }
    }
    free(d);
    return 0;
}
