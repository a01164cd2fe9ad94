/* SPDX-License-Identifier: MIT */
/*
 * The pass-through part of a test SQLite VFS: every method goes to the "unix" VFS, so that a
 * test VFS (fault_inject.c, powerloss_vfs.c) writes only the few methods it changes.
 *
 * A test VFS's file struct starts with a struct shim_file; the real file follows the whole
 * struct in the memory SQLite gives xOpen (szOsFile = the struct's size + the real szOsFile).
 */
#pragma once

#include <sqlite3.h>
#include <stddef.h>

struct shim_file {
    sqlite3_file base;
    sqlite3_io_methods methods; /* pass-through, with the real file's iVersion */
    sqlite3_file *real;
};

/* The wrapped "unix" VFS, once shim_vfs_init succeeded. */
extern sqlite3_vfs *shim_real;

/* Fills *v with pass-through VFS methods around "unix", named name, for files whose struct is
 * file_struct_size bytes. The caller sets v->xOpen (calling shim_open) and, if it wants,
 * v->xDelete, then registers v. Returns SQLITE_OK or SQLITE_ERROR (no "unix" VFS). */
int shim_vfs_init(sqlite3_vfs *v, const char *name, size_t file_struct_size);

/* Opens the real file behind f and fills f->methods with pass-through methods; on success the
 * caller may replace some of them, then sets f->base.pMethods = &f->methods. On failure
 * base.pMethods stays NULL, so SQLite does not call xClose. */
int shim_open(struct shim_file *f, size_t file_struct_size, sqlite3_filename name, int flags,
              int *out_flags);
