/* SPDX-License-Identifier: MIT */
/* `tbdev list`, `delete`, `update-metadata`, `export` and `auth`. */
#pragma once

int up_list_main(int argc, char **argv);
int up_delete_main(int argc, char **argv);
int up_update_main(int argc, char **argv);
int up_export_main(int argc, char **argv);
int up_auth_main(int argc, char **argv);
