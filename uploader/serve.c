/* SPDX-License-Identifier: MIT */
/* `tbdev serve`: check the options, find tbdev-server, and exec its local mode. */
#include "serve.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exitcode.h"
#include "localopts.h"

#define SERVER_NAME "tbdev-server"

static void usage(void)
{
    tb_local_usage(stdout);
}

/* dir/tbdev-server into out if it is there and executable. */
static bool try_dir(const char *dir, size_t dir_len, char *out, size_t len)
{
    int n = snprintf(out, len, "%.*s/%s", (int)dir_len, dir, SERVER_NAME);
    return n > 0 && (size_t)n < len && access(out, X_OK) == 0;
}

/* Where tbdev-server is: beside this tbdev (the installed pair), else on PATH. Returns false,
 * with where it looked in `looked`, when it is in neither. */
static bool find_server(char *out, size_t len, char *looked, size_t looked_len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    const char *beside = "?";
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            if (try_dir(self, strlen(self), out, len))
                return true;
            beside = self;
        }
    }
    const char *path = getenv("PATH");
    for (const char *p = path ? path : ""; *p;) {
        size_t k = strcspn(p, ":");
        if (k && try_dir(p, k, out, len))
            return true;
        p += k + (p[k] == ':');
    }
    snprintf(looked, looked_len, "beside tbdev (%s/%s) and on PATH (%s)", beside, SERVER_NAME,
             path && *path ? path : "empty");
    return false;
}

int up_serve_main(int argc, char **argv)
{
    struct tb_local_options o;
    tb_local_options_defaults(&o);
    int rc = up_cli_parse("serve", tb_local_options, tb_local_options_n, usage, argc, argv, &o,
                          false, NULL);
    if (rc >= 0)
        return rc;
    char cwd[PATH_MAX], err[PATH_MAX + 200];
    if (!getcwd(cwd, sizeof(cwd))) {
        fprintf(stderr, "tbdev serve: cannot tell the current folder: %s\n", strerror(errno));
        return UP_EXIT_FAILURE;
    }
    struct tb_local_logdir *dirs = NULL;
    size_t n_dirs = 0;
    if (tb_local_logdirs(&o, cwd, &dirs, &n_dirs, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev serve: %s\nRun 'tbdev serve --help' for usage.\n", err);
        return UP_EXIT_USAGE;
    }
    tb_local_logdirs_free(dirs, n_dirs);
    char server[PATH_MAX], looked[PATH_MAX * 2];
    if (!find_server(server, sizeof(server), looked, sizeof(looked))) {
        fprintf(stderr,
                "tbdev serve: cannot find %s, which shows the page: looked %s. Install it "
                "beside tbdev ('meson install' installs both), or put it on PATH\n",
                SERVER_NAME, looked);
        return UP_EXIT_FAILURE;
    }
    char **args = calloc((size_t)argc + 2, sizeof(*args));
    if (!args) {
        fprintf(stderr, "tbdev serve: out of memory\n");
        return UP_EXIT_FAILURE;
    }
    args[0] = server;
    args[1] = "local";
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    fflush(NULL);
    execv(server, args);
    fprintf(stderr, "tbdev serve: cannot run %s: %s\n", server, strerror(errno));
    free(args);
    return UP_EXIT_FAILURE;
}
