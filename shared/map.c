/* SPDX-License-Identifier: MIT */
/* String-keyed hash map; see map.h. */
#include "map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Eight bytes at a time, each word mixed by a multiply and a shift (as in murmur3's
 * finaliser): tags and run names are hashed on every value read, so this is on the hot path.
 * Keys come from files and requests; the table's probing stays correct under collisions. */
static size_t hash(const char *s)
{
    size_t n = strlen(s);
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)(uint8_t)s[i] << (8 * i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return (size_t)(h ^ (h >> 29));
}

void tb_map_init(struct tb_map *m)
{
    m->slots = NULL;
    m->cap = m->len = 0;
}

void tb_map_done(struct tb_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    tb_map_init(m);
}

static struct tb_map_slot *find(const struct tb_map *m, const char *key, size_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct tb_map_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && !strcmp(s->key, key)))
            return s;
    }
}

void *tb_map_get(const struct tb_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    struct tb_map_slot *s = find(m, key, hash(key));
    return s->key ? s->value : NULL;
}

static int grow(struct tb_map *m)
{
    size_t cap = m->cap ? 2 * m->cap : 16;
    struct tb_map_slot *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = calloc(cap, sizeof(*m->slots));
    if (!m->slots) {
        m->slots = old;
        return -ENOMEM;
    }
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            *find(m, old[i].key, old[i].hash) = old[i];
    free(old);
    return 0;
}

int tb_map_put(struct tb_map *m, const char *key, void *value)
{
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) < 0)
        return -ENOMEM;
    size_t h = hash(key);
    struct tb_map_slot *s = find(m, key, h);
    if (!s->key) {
        s->key = strdup(key);
        if (!s->key)
            return -ENOMEM;
        s->hash = h;
        m->len++;
    }
    s->value = value;
    return 0;
}
