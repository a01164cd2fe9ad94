/* SPDX-License-Identifier: MIT */
/*
 * Injected failures for tests: the Nth allocation, storage read, storage write or fsync made
 * by the server code fails, once or from then on ("persistent").
 *
 * What is counted, and can fail:
 *   FI_ALLOC  malloc/calloc/realloc/strdup called from our own code (the test executable is
 *             linked with -Wl,--wrap=malloc,... so those calls come here), and every
 *             allocation SQLite makes (SQLITE_CONFIG_MALLOC);
 *   FI_READ   xRead of any SQLite file (database, WAL, journal), through a VFS that wraps
 *             "unix" and is the default; xFetch hands out no memory maps, so that database
 *             reads come through xRead too;
 *   FI_WRITE  xWrite and xTruncate;
 *   FI_SYNC   xSync.
 * Allocations inside other libraries (libmicrohttpd, protobuf-c, zstd) are not counted.
 * A thread that calls fi_exempt_thread(true) (the test's own client) is never counted.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fi_kind { FI_ALLOC, FI_READ, FI_WRITE, FI_SYNC, FI_NKINDS };

/* Must run before anything else touches SQLite. Returns 0, or -1 with a message on stderr. */
int fi_install(void);

/* "alloc", "read", "write", "sync" -> FI_*, or -1. */
int fi_kind_parse(const char *name);
const char *fi_kind_name(int kind);

/* Starts counting (every kind); the nth operation of `kind` fails, and with persistent every
 * later one of that kind too. nth 0 counts only. Resets the counters and the injected sites. */
void fi_arm(int kind, uint64_t nth, bool persistent);
void fi_disarm(void);

/* Operations of each kind counted since fi_arm. */
uint64_t fi_count(int kind);
/* Failures injected since fi_arm. */
uint64_t fi_injected(void);
/* The distinct injection points hit since fi_arm: a hash of the caller's stack (5 frames above
 * the failing call), so that the same line reached from two places counts twice. Up to max
 * are copied to out; returns how many there are. */
size_t fi_sites(uint64_t *out, size_t max);

void fi_exempt_thread(bool exempt);
