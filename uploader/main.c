/* SPDX-License-Identifier: MIT */
/* tbdev: the command-line client. Dispatches to one function per command. */
#include <stdio.h>
#include <string.h>

#include "exitcode.h"
#include "inspect.h"
#include "manage.h"
#include "serve.h"
#include "upload.h"

#ifndef TBDEV_VERSION
#define TBDEV_VERSION "0.0.0"
#endif

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"upload", up_upload_main, "Upload a logdir and print the experiment's link; keeps watching."},
    {"serve", up_serve_main,
     "Show a logdir in the browser on this machine, as tensorboard --logdir does."},
    {"list", up_list_main, "List your experiments, with their usage."},
    {"delete", up_delete_main, "Delete experiments."},
    {"update-metadata", up_update_main, "Change an experiment's name, description or visibility."},
    {"export", up_export_main, "Download an experiment as event files, CSV or JSON."},
    {"auth", up_auth_main, "Log in (login), out (logout), or check (status)."},
    {"inspect", up_inspect_main,
     "Report what a logdir holds (runs, tags, steps) and any problem in its event files."},
};

static void usage(FILE *f)
{
    fprintf(f,
            "tbdev %s: share TensorBoard logs through a tbdev server.\n\n"
            "Usage: tbdev COMMAND [OPTIONS]\n\nCommands:\n",
            TBDEV_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nRun 'tbdev COMMAND --help' for a command's options.\n"
            "\nExit status: %d success, %d failure (the message says why), %d usage error.\n",
            UP_EXIT_OK, UP_EXIT_FAILURE, UP_EXIT_USAGE);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return UP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char *args[] = {argv[2], "--help", NULL};
                    return commands[i].main(2, args);
                }
        }
        usage(stdout);
        return UP_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("tbdev %s\n", TBDEV_VERSION);
        return UP_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "tbdev: unknown command '%s'. Run 'tbdev --help' for the list.\n", cmd);
    return UP_EXIT_USAGE;
}
