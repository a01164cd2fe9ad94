/* SPDX-License-Identifier: MIT */
/* Attempt throttling: a token bucket per key (a client address, an account), in a bounded
 * table. Used for sign-in, device approval and device-code requests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct svc_throttle;

/* A table of at most max_keys buckets, each holding up to `burst` attempts and refilled at
 * `burst` attempts per `per_s` seconds. Returns NULL when out of memory. Caller frees with
 * svc_throttle_free. Thread-safe. */
struct svc_throttle *svc_throttle_new(size_t max_keys, double burst, double per_s);
void svc_throttle_free(struct svc_throttle *t); /* NULL-safe */

/*
 * Takes one attempt from key's bucket at time now (seconds, any monotonic clock). Returns 0
 * if there was one, else the whole seconds (at least 1) until there is. A key not yet in the
 * table starts full; when the table is full, the bucket with the most attempts left (the
 * least suspicious) makes room, so that filling the table with fresh keys cannot reset the
 * bucket of a key under attack. Keys longer than 95 bytes are cut there.
 */
unsigned svc_throttle_take(struct svc_throttle *t, const char *key, double now);

/* Gives back one attempt (after a success), never above the burst. */
void svc_throttle_give(struct svc_throttle *t, const char *key, double now);

/* The key of a client address: itself for IPv4, its /64 for IPv6 (one host holds a whole
 * /64), into out[out_len]. */
void svc_throttle_addr_key(const char *ip, char *out, size_t out_len);
