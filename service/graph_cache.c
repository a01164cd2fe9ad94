/* SPDX-License-Identifier: MIT */
/* A bounded, thread-safe cache of decoded graphs (their JSON), least recently used out first. */
#include "graph_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    uint8_t *key; /* owned, with the value after it */
    size_t key_len, len;
    uint64_t used; /* the clock when last used */
};

struct svc_graph_cache {
    pthread_mutex_t lock;
    size_t max_bytes, max_entries;
    struct entry *e; /* max_entries slots; key NULL when free */
    size_t n, bytes;
    uint64_t clock;
};

struct svc_graph_cache *svc_graph_cache_new(size_t max_bytes, size_t max_entries)
{
    struct svc_graph_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->e = calloc(max_entries ? max_entries : 1, sizeof(*c->e));
    if (!c->e) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->max_bytes = max_bytes;
    c->max_entries = max_entries;
    return c;
}

static void drop(struct svc_graph_cache *c, struct entry *e)
{
    c->bytes -= e->key_len + e->len;
    c->n--;
    free(e->key);
    *e = (struct entry){0};
}

void svc_graph_cache_free(struct svc_graph_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->max_entries; i++)
        free(c->e[i].key);
    free(c->e);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static struct entry *find(struct svc_graph_cache *c, const void *key, size_t key_len)
{
    for (size_t i = 0; i < c->max_entries; i++)
        if (c->e[i].key && c->e[i].key_len == key_len && !memcmp(c->e[i].key, key, key_len))
            return &c->e[i];
    return NULL;
}

int svc_graph_cache_get(struct svc_graph_cache *c, const void *key, size_t key_len,
                        struct tb_buf *out)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key, key_len);
    int r = 0;
    if (e) {
        e->used = ++c->clock;
        r = tb_buf_add(out, e->key + e->key_len, e->len);
        r = r < 0 ? r : 1;
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

int svc_graph_cache_put(struct svc_graph_cache *c, const void *key, size_t key_len,
                        const void *value, size_t len)
{
    size_t need = key_len + len;
    if (!c->max_entries || need > c->max_bytes / 4)
        return 0;
    uint8_t *copy = malloc(need ? need : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, key, key_len);
    memcpy(copy + key_len, value, len);
    pthread_mutex_lock(&c->lock);
    struct entry *old = find(c, key, key_len);
    if (old)
        drop(c, old);
    while (c->n && (c->n == c->max_entries || c->bytes + need > c->max_bytes)) {
        struct entry *lru = NULL;
        for (size_t i = 0; i < c->max_entries; i++)
            if (c->e[i].key && (!lru || c->e[i].used < lru->used))
                lru = &c->e[i];
        drop(c, lru);
    }
    struct entry *slot = NULL;
    for (size_t i = 0; i < c->max_entries && !slot; i++)
        if (!c->e[i].key)
            slot = &c->e[i];
    *slot = (struct entry){.key = copy, .key_len = key_len, .len = len, .used = ++c->clock};
    c->n++;
    c->bytes += need;
    pthread_mutex_unlock(&c->lock);
    return 1;
}

void svc_graph_cache_usage(struct svc_graph_cache *c, size_t *ret_entries, size_t *ret_bytes)
{
    pthread_mutex_lock(&c->lock);
    *ret_entries = c->n;
    *ret_bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
}
