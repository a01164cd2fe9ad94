/* SPDX-License-Identifier: MIT */
/* Magic-byte sniffing of blobs; see sniff.h. */
#include "sniff.h"

#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

const char *svc_sniff(const uint8_t *d, size_t n)
{
    if (n >= 24 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8) && !memcmp(d + 12, "IHDR", 4)) {
        uint64_t w = be32(d + 16), h = be32(d + 20);
        if (w == 0 || h == 0 || w * h > SVC_IMAGE_PIXELS_MAX)
            return NULL;
        return "image/png";
    }
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return "image/jpeg";
    if (n >= 10 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) {
        uint64_t w = le16(d + 6), h = le16(d + 8);
        return w * h > SVC_IMAGE_PIXELS_MAX ? NULL : "image/gif";
    }
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
        return "image/webp";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WAVE", 4))
        return "audio/wav";
    if (n >= 4 && !memcmp(d, "OggS", 4))
        return "audio/ogg";
    if (n >= 4 && !memcmp(d, "fLaC", 4))
        return "audio/flac";
    if (n >= 3 && (!memcmp(d, "ID3", 3) || (d[0] == 0xff && (d[1] & 0xe0) == 0xe0)))
        return "audio/mpeg";
    return NULL;
}

bool svc_sniff_is_image(const char *type)
{
    return type && !strncmp(type, "image/", 6);
}
