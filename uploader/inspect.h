/* SPDX-License-Identifier: MIT */
/* `tbdev inspect`: what a logdir holds, per run and tag, and every problem in it. */
#pragma once

/* Runs the command; argv[0] is "inspect". Returns the process exit code. */
int up_inspect_main(int argc, char **argv);
