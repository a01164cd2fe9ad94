/* SPDX-License-Identifier: MIT */
/* Where tbdev keeps the server and the token: $XDG_CONFIG_HOME/tbdev/credentials (0600). */
#pragma once

#include <stddef.h>

struct up_creds {
    char server[512]; /* base URL, "" if unknown */
    char token[256];  /* "" if not logged in */
    char user[128];
    char cacert[1024]; /* a CA file to trust for this server, or "" */
    char path[1024];   /* the credentials file */
};

/*
 * Loads the saved credentials (a missing file is not an error), then applies TBDEV_SERVER,
 * TBDEV_TOKEN and TBDEV_CACERT. Returns 0, or -EINVAL if the file is unreadable or is open to
 * other users (mode not 0600), with a message in err.
 */
int up_creds_load(struct up_creds *c, char *err, size_t err_len);

/* Writes the credentials file atomically with mode 0600, creating the folder (0700).
 * Returns 0 or -errno. */
int up_creds_save(const struct up_creds *c);

/* Deletes the credentials file. Returns 0 (also when there was none) or -errno. */
int up_creds_remove(const struct up_creds *c);
