/* SPDX-License-Identifier: MIT */
/* Where tbdev keeps its logins: $XDG_CONFIG_HOME/tbdev/credentials (mode 0600), one entry per
 * server (as gh's hosts.yml), and which server is the default. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct up_creds {
    char server[512]; /* base URL, normalised (cli.h); "" if unknown */
    char token[256];  /* "" if not logged in */
    char user[128];
    char cacert[1024]; /* an absolute path of a CA file to trust for this server, or "" */
    char path[1024];   /* the credentials file */
    /* where the token came from: "TBDEV_TOKEN", "file", or "" when there is none */
    char token_source[16];
};

/*
 * Loads the entry of `server` (NULL or "": TBDEV_SERVER, else the default server) from the
 * credentials file (a missing file is not an error), then applies TBDEV_TOKEN and
 * TBDEV_CACERT. Server URLs are compared normalised (https://Host:443/ is https://host).
 * Returns 0, or -EINVAL if the file is unreadable or open to other users (mode not 0600),
 * with a message in err.
 */
int up_creds_load(struct up_creds *c, const char *server, char *err, size_t err_len);

/* Saves c as its server's entry (replacing an older one) and makes it the default; the file
 * is written atomically with mode 0600, its folder created 0700. Returns 0 or -errno. */
int up_creds_save(const struct up_creds *c);

/* Removes c->server's entry (the default moves to another entry, if any). Returns 1 if there
 * was one, 0 if not, or -errno. */
int up_creds_remove(const struct up_creds *c);

/* Calls cb for every saved entry (tokens included), the default first. Returns the number of
 * entries, or -EINVAL with a message in err. */
int up_creds_each(int (*cb)(void *ctx, const struct up_creds *c, bool is_default), void *ctx,
                  char *err, size_t err_len);
