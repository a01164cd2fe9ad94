/* SPDX-License-Identifier: MIT */
/* A bump allocator for decoding: many small allocations, freed all at once, with a cap. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

struct tb_arena_block;

struct tb_arena {
    struct tb_arena_block *head; /* newest block first; the last one is kept on reset */
    size_t used;                 /* bytes handed out since the last reset */
    size_t cap;                  /* tb_arena_alloc fails past this */
    bool over;                   /* an allocation failed since the last reset */
    bool no_memory;              /* ... and one of them because malloc failed, not the cap */
    ProtobufCAllocator pb;       /* hands this arena to protobuf-c's unpack */
};

/* Prepares an arena the caller owns. cap 0 means TB_DECODE_ARENA_MAX. Allocates nothing. */
void tb_arena_init(struct tb_arena *a, size_t cap);

/* Frees every block. The arena may be initialised again afterwards. */
void tb_arena_done(struct tb_arena *a);

/* Returns n bytes aligned to 16, valid until the next reset or done, or NULL when the cap
 * would be passed or malloc fails (and sets a->over; a->no_memory too when malloc failed). */
void *tb_arena_alloc(struct tb_arena *a, size_t n);

/* A point to go back to: everything allocated after it can be forgotten at once. */
struct tb_arena_mark {
    struct tb_arena_block *head;
    size_t off, used;
};

void tb_arena_mark(const struct tb_arena *a, struct tb_arena_mark *ret);

/* Frees what was allocated since the mark (which must come from this arena since its last
 * reset) and clears the `over` flag. */
void tb_arena_rewind(struct tb_arena *a, const struct tb_arena_mark *m);

/* Forgets every allocation but keeps one block for reuse. */
void tb_arena_reset(struct tb_arena *a);
