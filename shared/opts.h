/* SPDX-License-Identifier: MIT */
/* Command-line options from one table: parsing (getopt_long), environment, and --help. */
#pragma once

#include <stddef.h>
#include <stdio.h>

enum tb_opt_type {
    TB_OPT_FLAG,   /* bool; no argument */
    TB_OPT_STRING, /* const char *; borrowed from argv or the environment */
    TB_OPT_INT,    /* long long; decimal */
    TB_OPT_LEVEL,  /* long long; an optional digit (--verbose 0, --verbose=2, -v): 2 without */
    TB_OPT_SIZE,   /* long long; bytes, with K, M, G or T (powers of 1024; "iB" or "B" may follow) */
};

struct tb_opt {
    const char *name; /* long name, e.g. "one_shot"; "one-shot" is accepted too */
    char short_name;  /* 0 for none */
    enum tb_opt_type type;
    size_t offset;       /* offsetof the field in the command's config struct */
    const char *metavar; /* shown in --help, e.g. "DIR" */
    const char *env;     /* environment variable that sets it, or NULL */
    const char *help;    /* one sentence */
};

/*
 * Applies the environment variables named in the table, then parses argv[1..] (argv[0] is
 * the command name) into cfg. Options may come in any order, as --name VALUE,
 * --name=VALUE or -x VALUE. Positional arguments are left in argv[*ret_optind..argc).
 * Returns 0, 1 if --help/-h was given (the caller prints help), or -EINVAL with a message
 * for the user in err.
 */
int tb_opts_parse(const struct tb_opt *opts, size_t n, int argc, char **argv, void *cfg,
                  int *ret_optind, char *err, size_t err_len);

/* Parses a size: "1048576", "10G", "10GiB", "512 MiB", "64k" (K, M, G, T: powers of 1024).
 * Returns 0, or -EINVAL (not a size) or -ERANGE (past 2^63). */
int tb_size_parse(const char *s, long long *ret);

/* Prints the option list, aligned, with each option's environment variable, then -h. */
void tb_opts_help(FILE *f, const struct tb_opt *opts, size_t n);

/* The same without the -h line: for a second part of one command's options. */
void tb_opts_help_list(FILE *f, const struct tb_opt *opts, size_t n);
