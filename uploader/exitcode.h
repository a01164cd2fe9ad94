/* SPDX-License-Identifier: MIT */
/* tbdev's exit codes, documented in `tbdev --help` and the README. */
#pragma once

#define UP_EXIT_OK 0      /* done */
#define UP_EXIT_FAILURE 1 /* the command could not do its job; the message says why */
#define UP_EXIT_USAGE 2   /* bad command line */
