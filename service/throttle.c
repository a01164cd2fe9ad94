/* SPDX-License-Identifier: MIT */
/* Token buckets in a chained hash table with a fixed number of entries; see throttle.h. */
#include "throttle.h"

#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 96

struct entry {
    char key[KEY_MAX];
    double tokens, last;
    struct entry *next; /* in its hash chain */
};

struct svc_throttle {
    pthread_mutex_t lock;
    double burst, rate; /* attempts, attempts per second */
    size_t cap, n;
    size_t n_heads;
    struct entry **heads;
    struct entry *entries; /* cap of them */
};

struct svc_throttle *svc_throttle_new(size_t max_keys, double burst, double per_s)
{
    struct svc_throttle *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cap = max_keys ? max_keys : 1;
    t->n_heads = t->cap * 2;
    t->burst = burst;
    t->rate = per_s > 0 ? burst / per_s : burst;
    t->heads = calloc(t->n_heads, sizeof(*t->heads));
    t->entries = calloc(t->cap, sizeof(*t->entries));
    if (!t->heads || !t->entries) {
        svc_throttle_free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void svc_throttle_free(struct svc_throttle *t)
{
    if (!t)
        return;
    if (t->heads && t->entries)
        pthread_mutex_destroy(&t->lock);
    free(t->heads);
    free(t->entries);
    free(t);
}

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static void refill(const struct svc_throttle *t, struct entry *e, double now)
{
    if (now > e->last)
        e->tokens = fmin(t->burst, e->tokens + (now - e->last) * t->rate);
    e->last = now;
}

static void unlink_entry(struct svc_throttle *t, struct entry *e)
{
    struct entry **p = &t->heads[hash(e->key) % t->n_heads];
    while (*p && *p != e)
        p = &(*p)->next;
    if (*p)
        *p = e->next;
    t->n--;
}

/* The entry for key, made (full) if missing; never NULL. */
static struct entry *find(struct svc_throttle *t, const char *key, double now)
{
    char k[KEY_MAX];
    snprintf(k, sizeof(k), "%s", key);
    size_t slot = hash(k) % t->n_heads;
    for (struct entry *e = t->heads[slot]; e; e = e->next)
        if (!strcmp(e->key, k))
            return e;
    struct entry *e = NULL;
    if (t->n < t->cap) {
        e = &t->entries[t->n]; /* entries fill in order; an evicted one is reused at once */
    } else {
        /* Full: the bucket with the most attempts left makes room. */
        double best = -1;
        for (size_t i = 0; i < t->cap; i++) {
            refill(t, &t->entries[i], now);
            if (t->entries[i].tokens > best) {
                best = t->entries[i].tokens;
                e = &t->entries[i];
            }
        }
        unlink_entry(t, e);
    }
    memcpy(e->key, k, sizeof(k));
    e->tokens = t->burst;
    e->last = now;
    slot = hash(e->key) % t->n_heads;
    e->next = t->heads[slot];
    t->heads[slot] = e;
    t->n++;
    return e;
}

unsigned svc_throttle_take(struct svc_throttle *t, const char *key, double now)
{
    pthread_mutex_lock(&t->lock);
    struct entry *e = find(t, key, now);
    refill(t, e, now);
    unsigned wait = 0;
    if (e->tokens >= 1) {
        e->tokens -= 1;
    } else {
        double w = ceil((1 - e->tokens) / t->rate);
        wait = w < 1 ? 1 : w > 86400 ? 86400 : (unsigned)w;
    }
    pthread_mutex_unlock(&t->lock);
    return wait;
}

void svc_throttle_give(struct svc_throttle *t, const char *key, double now)
{
    pthread_mutex_lock(&t->lock);
    struct entry *e = find(t, key, now);
    refill(t, e, now);
    e->tokens = fmin(t->burst, e->tokens + 1);
    pthread_mutex_unlock(&t->lock);
}

void svc_throttle_addr_key(const char *ip, char *out, size_t out_len)
{
    struct in6_addr a;
    if (!strchr(ip, ':') || inet_pton(AF_INET6, ip, &a) != 1) {
        snprintf(out, out_len, "%s", ip);
        return;
    }
    /* An IPv4-mapped address is the IPv4 address. */
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(a.s6_addr, mapped, sizeof(mapped))) {
        snprintf(out, out_len, "%u.%u.%u.%u", a.s6_addr[12], a.s6_addr[13], a.s6_addr[14],
                 a.s6_addr[15]);
        return;
    }
    memset(a.s6_addr + 8, 0, 8);
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a, buf, sizeof(buf));
    snprintf(out, out_len, "%s/64", buf);
}
