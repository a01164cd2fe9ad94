/* SPDX-License-Identifier: MIT */
/* `tbdev list`, `delete`, `update-metadata`, `export` and `auth`. */
#pragma once

#include <stddef.h>

#include "client.h"

int up_list_main(int argc, char **argv);
int up_delete_main(int argc, char **argv);
int up_update_main(int argc, char **argv);
int up_export_main(int argc, char **argv);
int up_auth_main(int argc, char **argv);

/* PATCHes experiment id: each of name, description and visibility ("unlisted", "public",
 * "private") that is not NULL, and the comma-separated user names in share / unshare (NULL
 * for none; both are cut in place). Returns 0, or -errno with a message in err. */
int up_experiment_update(struct up_client *cl, const char *id, const char *name,
                         const char *description, const char *visibility, char *share,
                         char *unshare, char *err, size_t err_len);
