/* SPDX-License-Identifier: MIT */
/* Content types of stored blobs, from their magic bytes only (never from what a client says). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Returns "image/png", "image/jpeg", "image/gif", "image/webp", "audio/wav", "audio/ogg",
 * "audio/flac", "audio/mpeg", or NULL for anything else (which must be served as an
 * attachment, never inline). A PNG whose header claims more than SVC_IMAGE_PIXELS_MAX pixels
 * is refused (NULL), so that a browser is never asked to decode an image bomb.
 */
const char *svc_sniff(const uint8_t *data, size_t len);

#define SVC_IMAGE_PIXELS_MAX (64ull * 1024 * 1024)

/* True for the types svc_sniff returns that are images. */
bool svc_sniff_is_image(const char *type);
