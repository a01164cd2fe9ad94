/* SPDX-License-Identifier: MIT */
/* Bump allocator with a cap; see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "tblimits.h"

struct tb_arena_block {
    struct tb_arena_block *next;
    size_t size, off;
    _Alignas(16) unsigned char data[];
};

static void *pb_alloc(void *ctx, size_t n)
{
    return tb_arena_alloc(ctx, n);
}

static void pb_free(void *ctx, void *p)
{
    (void)ctx, (void)p; /* freed with the arena */
}

void tb_arena_init(struct tb_arena *a, size_t cap)
{
    a->head = NULL;
    a->used = 0;
    a->cap = cap ? cap : TB_DECODE_ARENA_MAX;
    a->over = a->no_memory = false;
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
}

void tb_arena_done(struct tb_arena *a)
{
    struct tb_arena_block *b = a->head;
    while (b) {
        struct tb_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}

void *tb_arena_alloc(struct tb_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n || need > a->cap - a->used || a->used > a->cap) {
        a->over = true;
        return NULL;
    }
    struct tb_arena_block *b = a->head;
    if (!b || b->size - b->off < need) {
        size_t size = need > TB_DECODE_ARENA_BLOCK ? need : TB_DECODE_ARENA_BLOCK;
        b = malloc(sizeof(*b) + size);
        if (!b) {
            a->over = a->no_memory = true;
            return NULL;
        }
        b->size = size;
        b->off = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->off;
    b->off += need;
    a->used += need;
    return p;
}

void tb_arena_mark(const struct tb_arena *a, struct tb_arena_mark *ret)
{
    ret->head = a->head;
    ret->off = a->head ? a->head->off : 0;
    ret->used = a->used;
}

void tb_arena_rewind(struct tb_arena *a, const struct tb_arena_mark *m)
{
    while (a->head && a->head != m->head) {
        struct tb_arena_block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    if (a->head)
        a->head->off = m->off;
    a->used = m->used;
    a->over = a->no_memory = false;
}

void tb_arena_reset(struct tb_arena *a)
{
    /* Keep one standard-size block, the oldest, and free the rest. */
    struct tb_arena_block *keep = NULL, *b = a->head;
    while (b) {
        struct tb_arena_block *next = b->next;
        if (!keep && !next && b->size == TB_DECODE_ARENA_BLOCK)
            keep = b;
        else
            free(b);
        b = next;
    }
    if (keep) {
        keep->off = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->used = 0;
    a->over = a->no_memory = false;
}
