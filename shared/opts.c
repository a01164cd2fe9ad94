/* SPDX-License-Identifier: MIT */
/* Option tables: see opts.h. */
#include "opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int tb_size_parse(const char *s, long long *ret)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return errno == ERANGE ? -ERANGE : -EINVAL;
    while (*end == ' ')
        end++;
    int shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        break;
    }
    if (shift)
        end++;
    if (shift && (end[0] == 'i' || end[0] == 'I') && (end[1] == 'b' || end[1] == 'B'))
        end += 2;
    else if (end[0] == 'b' || end[0] == 'B')
        end++;
    if (*end)
        return -EINVAL;
    if (shift && v > (INT64_MAX >> shift))
        return -ERANGE;
    *ret = v << shift;
    return 0;
}

static int set(const struct tb_opt *o, void *cfg, const char *arg, const char *from, char *err,
               size_t err_len)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case TB_OPT_FLAG:
        if (arg && (!strcmp(arg, "0") || !strcmp(arg, "false") || !strcmp(arg, "no")))
            *(bool *)field = false;
        else
            *(bool *)field = true;
        return 0;
    case TB_OPT_STRING:
        *(const char **)field = arg;
        return 0;
    case TB_OPT_SIZE:
        if (tb_size_parse(arg, (long long *)field) < 0) {
            snprintf(err, err_len,
                     "%s for --%s must be a size in bytes, such as 1048576, 512M or 10GiB, not "
                     "'%s'",
                     from, o->name, arg);
            return -EINVAL;
        }
        return 0;
    case TB_OPT_LEVEL:
        if (!arg) {
            *(long long *)field = 2;
            return 0;
        }
        __attribute__((fallthrough)); /* a given level is a number */
    case TB_OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(arg, &end, 10);
        if (errno || end == arg || *end) {
            snprintf(err, err_len, "%s for --%s must be a whole number, not '%s'", from, o->name,
                     arg);
            return -EINVAL;
        }
        *(long long *)field = v;
        return 0;
    }
    }
    return -EINVAL;
}

int tb_opts_parse(const struct tb_opt *opts, size_t n, int argc, char **argv, void *cfg,
                  int *ret_optind, char *err, size_t err_len)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (v && *v) {
            int r = set(&opts[i], cfg, v, opts[i].env, err, err_len);
            if (r < 0)
                return r;
        }
    }
    /* Each option under its own name and, if it has underscores, with hyphens too. */
    struct option *lo = calloc(2 * n + 2, sizeof(*lo));
    char **alias = calloc(n, sizeof(*alias));
    char shorts[2 * 64 + 4] = ":h";
    size_t k = 0, s = 2;
    int rc = 0;
    if (!lo || !alias) {
        rc = -ENOMEM;
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int has = opts[i].type == TB_OPT_FLAG    ? no_argument
                  : opts[i].type == TB_OPT_LEVEL ? optional_argument
                                                 : required_argument;
        lo[k++] = (struct option){opts[i].name, has, NULL, 256 + (int)i};
        if (strchr(opts[i].name, '_')) {
            alias[i] = strdup(opts[i].name);
            if (!alias[i]) {
                rc = -ENOMEM;
                goto out;
            }
            for (char *p = alias[i]; *p; p++)
                if (*p == '_')
                    *p = '-';
            lo[k++] = (struct option){alias[i], has, NULL, 256 + (int)i};
        }
        if (opts[i].short_name && s + 2 < sizeof(shorts)) {
            shorts[s++] = opts[i].short_name;
            if (has != no_argument)
                shorts[s++] = ':';
            if (has == optional_argument && s + 1 < sizeof(shorts))
                shorts[s++] = ':';
        }
    }
    lo[k++] = (struct option){"help", no_argument, NULL, 'h'};
    shorts[s] = 0;
    optind = 0; /* 0, not 1: glibc then forgets a half-parsed cluster from an earlier call */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (c == 'h') {
            rc = 1;
            goto out;
        }
        if (c == '?' || c == ':') {
            char shortname[3] = {'-', (char)optopt, 0};
            /* optopt is set for a short option; for a long one, argv[optind - 1] is it */
            const char *bad = optopt > 0 && optopt < 256 ? shortname : argv[optind - 1];
            if (c == ':')
                snprintf(err, err_len, "option %s needs a value", bad);
            else
                snprintf(err, err_len, "unknown option '%s'", bad);
            rc = -EINVAL;
            goto out;
        }
        const struct tb_opt *o = NULL;
        if (c >= 256)
            o = &opts[c - 256];
        else
            for (size_t i = 0; i < n; i++)
                if (opts[i].short_name == c)
                    o = &opts[i];
        if (!o)
            continue;
        char from[80];
        snprintf(from, sizeof(from), "the value");
        const char *arg = optarg;
        /* "--verbose 0": an optional value may also be the next argument, if it is a digit */
        if (o->type == TB_OPT_LEVEL && !arg && optind < argc && argv[optind][0] >= '0' &&
            argv[optind][0] <= '9' && !argv[optind][1])
            arg = argv[optind++];
        rc = set(o, cfg, arg, from, err, err_len);
        if (rc < 0)
            goto out;
    }
    *ret_optind = optind;
out:
    if (alias)
        for (size_t i = 0; i < n; i++)
            free(alias[i]);
    free(alias);
    free(lo);
    return rc;
}

void tb_opts_help(FILE *f, const struct tb_opt *opts, size_t n)
{
    tb_opts_help_list(f, opts, n);
    fprintf(f, "%-32s %s\n", "  -h, --help", "Show this help and exit.");
}

void tb_opts_help_list(FILE *f, const struct tb_opt *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct tb_opt *o = &opts[i];
        char left[96];
        int len;
        if (o->short_name)
            len = snprintf(left, sizeof(left), "  -%c, --%s", o->short_name, o->name);
        else
            len = snprintf(left, sizeof(left), "      --%s", o->name);
        if (o->metavar && len > 0 && (size_t)len < sizeof(left))
            snprintf(left + len, sizeof(left) - (size_t)len, " %s", o->metavar);
        fprintf(f, "%-32s %s", left, o->help);
        if (o->env)
            fprintf(f, " [env %s]", o->env);
        fputc('\n', f);
    }
}
