/* SPDX-License-Identifier: MIT */
/* A string-keyed hash map (open addressing) that owns copies of its keys. */
#pragma once

#include <stddef.h>

struct tb_map_slot {
    char *key; /* owned; NULL for an empty slot */
    size_t hash;
    void *value; /* borrowed: the map never frees values */
};

struct tb_map {
    struct tb_map_slot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t len;
};

/* Prepares an empty map the caller owns. Allocates nothing. */
void tb_map_init(struct tb_map *m);

/* Frees the keys and the table, not the values. */
void tb_map_done(struct tb_map *m);

/* The value stored under key, or NULL. */
void *tb_map_get(const struct tb_map *m, const char *key);

/* Stores value under key (copying the key), replacing any value there.
 * Returns 0, or -ENOMEM. */
int tb_map_put(struct tb_map *m, const char *key, void *value);

/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->slots[i].key) ... */
