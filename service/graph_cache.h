/* SPDX-License-Identifier: MIT */
/* A bounded, thread-safe cache of decoded graphs (their JSON), least recently used out first. */
#pragma once

#include <stddef.h>

#include "buf.h"

/*
 * Keys are opaque bytes (api_graph.c makes them from the graph blob's SHA-256, its kind, the
 * step-stats blob's SHA-256 and a function name: content, never who asked, so the handler checks
 * access before it asks the cache). Values are copied in and out, so nothing is shared between
 * threads. The cache holds at most max_entries values and max_bytes of keys and values; a value
 * bigger than a quarter of max_bytes is not kept.
 */
struct svc_graph_cache;

/* A new empty cache; NULL when out of memory. Free with svc_graph_cache_free. */
struct svc_graph_cache *svc_graph_cache_new(size_t max_bytes, size_t max_entries);

/* Frees the cache and what it holds. NULL-safe. */
void svc_graph_cache_free(struct svc_graph_cache *c);

/* Appends the value under key to out and returns 1; 0 if there is none; the buffer's error if
 * the append failed. */
int svc_graph_cache_get(struct svc_graph_cache *c, const void *key, size_t key_len,
                        struct tb_buf *out);

/* Stores a copy of value under key (replacing one there), dropping the least recently used
 * values until it fits. Returns 1 if stored, 0 if too big to keep, -ENOMEM. */
int svc_graph_cache_put(struct svc_graph_cache *c, const void *key, size_t key_len,
                        const void *value, size_t len);

/* Values held and their bytes (keys included), for tests. */
void svc_graph_cache_usage(struct svc_graph_cache *c, size_t *ret_entries, size_t *ret_bytes);
