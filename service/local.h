/* SPDX-License-Identifier: MIT */
/* Local mode (`tbdev-server local`, which `tbdev serve` execs): a logdir read into a cached
 * SQLite file while its experiment page is served on loopback, with no accounts. */
#pragma once

#include <stddef.h>

#include "buf.h"
#include "localopts.h"

struct svc_call;

/*
 * What local mode is:
 *   - one experiment, kept in a SQLite file in the XDG cache folder ($XDG_CACHE_HOME/tbdev, or
 *     ~/.cache/tbdev) named after the logdir's absolute path (or --db FILE), so that a restart
 *     goes on from the stored cursors instead of reading everything again; a lock file beside
 *     it keeps a second `tbdev serve` of the same logdir out;
 *   - its runs are the logdir's (with --logdir_spec NAME:DIR,..., each logdir's runs under its
 *     name, as TensorBoard names them);
 *   - a thread follows the logdirs as `tbdev upload` does (shared/follow.h) and stores what it
 *     reads through ingest.h, in batches, while the page is served; GET /api/v1/local says how
 *     far it is;
 *   - only the page and the read API (GETs) are routed: no sign-in, no write API, no device
 *     login, nothing from other sites; it listens on 127.0.0.1 unless --host says otherwise
 *     (with a warning); / goes to the experiment page.
 * The options are shared/localopts.h's.
 */

/* The cache file of logdirs l[0..n) (n >= 1): DIR/NAME-HASH.db, DIR being xdg_cache/tbdev when
 * xdg_cache is an absolute path, else home/.cache/tbdev (made, mode 0700, if missing); NAME is
 * the logdir's last part, for people ("logdirs" for several), HASH 64 bits of the SHA-256 of
 * every name and absolute path: one file per logdir. Into out; returns 0, or -errno with a
 * message for the user in err (no cache folder: -ENOENT; a path too long: -E2BIG). */
int svc_local_cache_path(const struct tb_local_logdir *l, size_t n, const char *xdg_cache,
                         const char *home, char *out, size_t len, char *err, size_t err_len);

/* Appends "tbdev upload --logdir PATH" to b, PATH quoted for a POSIX shell when it holds
 * anything but letters, digits and /._-+,:@ (the command the page's Share button shows). */
void svc_local_upload_command(struct tb_buf *b, const char *path);

/* Runs `tbdev-server local`; argv[0] is "local". Returns the exit status (0 after Ctrl-C). */
int svc_local_main(int argc, char **argv);

/* GET /api/v1/local: the logdirs, the experiment, and how far reading them is; on a server
 * (app->local NULL) only {"local": false}, so that the page can ask without a 404. */
void svc_h_local(struct svc_call *c);

/* GET / in local mode: a redirect to the experiment page. */
void svc_h_local_root(struct svc_call *c);
