/* SPDX-License-Identifier: MIT */
/* Common options, messages and small helpers for tbdev's commands; see cli.h. */
#include "cli.h"

#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcode.h"

#define O(f) offsetof(struct up_common, f)

const struct tb_opt up_common_options[] = {
    {"server", 0, TB_OPT_STRING, O(server), "URL", "TBDEV_SERVER",
     "The tbdev server, e.g. https://tb.example.org (default: the one you logged in to)."},
    {"origin", 0, TB_OPT_STRING, O(server), "URL", NULL,
     "The same as --server (TensorBoard.dev's name for it)."},
    {"cacert", 0, TB_OPT_STRING, O(cacert), "FILE", "TBDEV_CACERT",
     "Trust this PEM CA certificate for the server (self-hosted certificates)."},
    {"verbose", 'v', TB_OPT_LEVEL, O(verbose), "[0|1|2]", "TBDEV_VERBOSE",
     "0: only errors and warnings; 1: progress and results (the default); 2, or -v alone: "
     "also every request."},
    {"quiet", 'q', TB_OPT_FLAG, O(quiet), NULL, NULL, "The same as --verbose 0."},
};
const size_t up_common_options_n = sizeof(up_common_options) / sizeof(up_common_options[0]);

void up_cli_help_common(void)
{
    tb_opts_help_list(stdout, up_common_options, up_common_options_n);
}

int up_cli_parse(const char *cmd, const struct tb_opt *own, size_t n_own, void (*usage_fn)(void),
                 int argc, char **argv, void *cfg, bool with_common, int *ret_optind)
{
    size_t n = n_own + (with_common ? up_common_options_n : 0);
    struct tb_opt *all = calloc(n ? n : 1, sizeof(*all));
    if (!all) {
        fprintf(stderr, "tbdev %s: out of memory\n", cmd);
        return UP_EXIT_FAILURE;
    }
    size_t k = 0;
    if (with_common) {
        memcpy(all, up_common_options, sizeof(up_common_options));
        k = up_common_options_n;
        ((struct up_common *)cfg)->verbose = UP_NORMAL;
    }
    if (n_own)
        memcpy(all + k, own, n_own * sizeof(*own));
    char err[400] = "";
    int optind_ = 0;
    int rc = tb_opts_parse(all, n, argc, argv, cfg, &optind_, err, sizeof(err));
    free(all);
    if (rc == 1) {
        usage_fn();
        return UP_EXIT_OK;
    }
    if (rc == 0 && !ret_optind && optind_ < argc) {
        snprintf(err, sizeof(err), "unexpected argument '%s'", argv[optind_]);
        rc = -1;
    }
    if (rc == 0 && with_common) {
        struct up_common *c = cfg;
        if (c->verbose < 0 || c->verbose > 2) {
            snprintf(err, sizeof(err), "--verbose takes 0, 1 or 2");
            rc = -1;
        }
        if (c->quiet)
            c->verbose = UP_QUIET;
    }
    if (rc < 0) {
        fprintf(stderr, "tbdev %s: %s\nRun 'tbdev %s --help' for usage.\n", cmd, err, cmd);
        return UP_EXIT_USAGE;
    }
    if (ret_optind)
        *ret_optind = optind_;
    if (with_common)
        up_msg_init(cmd, (int)((struct up_common *)cfg)->verbose);
    return -1;
}

/* --- messages --- */

static struct {
    char cmd[64];
    int verbose;
    int tty;   /* -1 until known */
    bool line; /* a progress line is on the terminal */
} msg = {"", UP_NORMAL, -1, false};

void up_msg_init(const char *cmd, int verbose)
{
    snprintf(msg.cmd, sizeof(msg.cmd), "%s", cmd);
    msg.verbose = verbose;
}

bool up_msg_tty(void)
{
    if (msg.tty < 0)
        msg.tty = isatty(STDERR_FILENO);
    return msg.tty;
}

static void clear_line(void)
{
    if (msg.line) {
        fputs("\r\033[K", stderr);
        msg.line = false;
    }
}

static void vsay(const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void vsay(const char *prefix, const char *fmt, va_list ap)
{
    clear_line();
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void up_warnf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("tbdev: warning: ", fmt, ap);
    va_end(ap);
}

void up_notef(const char *fmt, ...)
{
    if (msg.verbose < UP_NORMAL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsay("tbdev: ", fmt, ap);
    va_end(ap);
}

void up_errorf(const char *fmt, ...)
{
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "tbdev %s: ", msg.cmd[0] ? msg.cmd : "");
    va_list ap;
    va_start(ap, fmt);
    vsay(msg.cmd[0] ? prefix : "tbdev: ", fmt, ap);
    va_end(ap);
}

void up_progressf(const char *fmt, ...)
{
    if (msg.verbose < UP_NORMAL || !up_msg_tty())
        return;
    fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    msg.line = true;
}

void up_progress_end(void)
{
    if (msg.line) {
        fputc('\n', stderr);
        msg.line = false;
    }
}

/* --- checks and formats --- */

bool up_experiment_id_ok(const char *id)
{
    size_t n = 0;
    for (; id && id[n]; n++)
        if (!isalnum((unsigned char)id[n]) && id[n] != '-' && id[n] != '_')
            return false;
    return n == 22;
}

void up_human_bytes(char *buf, size_t len, double n)
{
    if (n < 1024)
        snprintf(buf, len, "%.0f B", n);
    else if (n < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", n / 1024);
    else if (n < 1024.0 * 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", n / 1048576);
    else
        snprintf(buf, len, "%.2f GiB", n / 1073741824);
}

const char *up_plural(uint64_t n, const char *one, const char *many, char *buf, size_t len)
{
    snprintf(buf, len, "%llu %s", (unsigned long long)n, n == 1 ? one : many);
    return buf;
}

bool up_url_normalise(const char *url, char *out, size_t len)
{
    bool tls = !strncasecmp(url, "https://", 8);
    if (!tls && strncasecmp(url, "http://", 7))
        return false;
    const char *h = url + (tls ? 8 : 7);
    size_t hl = strcspn(h, "/?#");
    if (hl == 0 || hl >= 256)
        return false;
    char host[256];
    for (size_t i = 0; i < hl; i++)
        host[i] = (char)tolower((unsigned char)h[i]);
    host[hl] = 0;
    /* the default port says nothing */
    size_t l = strlen(host);
    const char *dflt = tls ? ":443" : ":80";
    if (l > strlen(dflt) && !strcmp(host + l - strlen(dflt), dflt) && host[0] != '[')
        host[l - strlen(dflt)] = 0;
    const char *path = h + hl;
    size_t pl = strcspn(path, "?#");
    while (pl && path[pl - 1] == '/')
        pl--;
    int n = snprintf(out, len, "%s://%s%.*s", tls ? "https" : "http", host, (int)pl, path);
    return n > 0 && (size_t)n < len;
}
