/* SPDX-License-Identifier: MIT */
/* `tbdev serve`: show a logdir in the browser, with tbdev-server's local mode. */
#pragma once

/* Runs the command; argv[0] is "serve". Checks the options, then execs `tbdev-server local`
 * with them (found beside tbdev, or on PATH): the two binaries meet only by exec. Returns the
 * exit code when it cannot. */
int up_serve_main(int argc, char **argv);
