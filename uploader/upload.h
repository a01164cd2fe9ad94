/* SPDX-License-Identifier: MIT */
/* `tbdev upload`: stream a logdir to a tbdev server, exactly once, resumable. */
#pragma once

/* Runs the command; argv[0] is "upload". Returns the process exit code. */
int up_upload_main(int argc, char **argv);
