/* SPDX-License-Identifier: MIT */
/* `tbdev auth login|logout|status`: the device-code flow, or a token from stdin. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "creds.h"
#include "exitcode.h"
#include "manage.h"
#include "opts.h"

#define PROTOBUF "application/x-protobuf"

struct auth_cfg {
    const char *server;
    const char *cacert;
    bool with_token;
    bool json;
    bool verbose;
};

static const struct tb_opt auth_options[] = {
    {"server", 0, TB_OPT_STRING, offsetof(struct auth_cfg, server), "URL", "TBDEV_SERVER",
     "The tbdev server to log in to, e.g. https://tb.example.org."},
    {"cacert", 0, TB_OPT_STRING, offsetof(struct auth_cfg, cacert), "FILE", "TBDEV_CACERT",
     "Trust this PEM CA certificate for the server; it is remembered with the login."},
    {"with_token", 0, TB_OPT_FLAG, offsetof(struct auth_cfg, with_token), NULL, NULL,
     "login: read an API token from stdin instead of signing in through the browser."},
    {"json", 0, TB_OPT_FLAG, offsetof(struct auth_cfg, json), NULL, NULL, "status: print JSON."},
    {"verbose", 'v', TB_OPT_FLAG, offsetof(struct auth_cfg, verbose), NULL, "TBDEV_VERBOSE",
     "Log every request."},
};
#define N_AUTH (sizeof(auth_options) / sizeof(auth_options[0]))

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: tbdev auth login [--server URL] [--with-token] [--cacert FILE]\n"
               "       tbdev auth status [--json]\n"
               "       tbdev auth logout\n\n"
               "login   Signs in to a tbdev server. It prints a link and a code: open the link,\n"
               "        sign in, and enter the code; tbdev then receives its own API token.\n"
               "        With --with-token, reads a token (from 'tbdev-server user add' or your\n"
               "        admin) from stdin instead. The server and token are saved in\n"
               "        $XDG_CONFIG_HOME/tbdev/credentials (mode 0600).\n"
               "status  Shows the saved server and user, and checks the token works.\n"
               "logout  Forgets the saved token.\n\n"
               "TBDEV_SERVER and TBDEV_TOKEN override the saved values.\n\nOptions:\n");
    tb_opts_help(f, auth_options, N_AUTH);
    fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

/* GET /api/v1/me with the client's token: the user name, or an error. */
static int whoami(struct up_client *cl, char *user, size_t len, char *err, size_t err_len)
{
    struct up_reply r;
    int rc = up_client_call(cl, "GET", "/api/v1/me", NULL, NULL, 0, false, &r, err, err_len);
    if (rc < 0)
        return rc;
    if (r.status != 200) {
        up_reply_error(&r, err, err_len, NULL, 0);
        tb_buf_done(&r.body);
        return -EACCES;
    }
    const char *p = r.body.data ? strstr((const char *)r.body.data, "\"user\":\"") : NULL;
    snprintf(user, len, "%s", "");
    if (p) {
        p += 8;
        size_t n = strcspn(p, "\"");
        snprintf(user, len, "%.*s", (int)(n < len ? n : len - 1), p);
    }
    tb_buf_done(&r.body);
    return 0;
}

static int save(struct up_creds *creds, const char *server, const char *token, const char *user,
                const char *cacert)
{
    snprintf(creds->server, sizeof(creds->server), "%s", server);
    snprintf(creds->token, sizeof(creds->token), "%s", token);
    snprintf(creds->user, sizeof(creds->user), "%s", user);
    if (cacert)
        snprintf(creds->cacert, sizeof(creds->cacert), "%s", cacert);
    int err = up_creds_save(creds);
    if (err < 0) {
        fprintf(stderr, "tbdev auth login: cannot save the credentials: %s\n", strerror(-err));
        return UP_EXIT_FAILURE;
    }
    printf("Logged in to %s as %s.\n", server, user);
    return UP_EXIT_OK;
}

static int login_with_token(struct up_creds *creds, const char *server, const struct auth_cfg *o)
{
    char token[256];
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "Paste the API token, then press Enter: ");
    if (!fgets(token, sizeof(token), stdin)) {
        fprintf(stderr, "tbdev auth login: no token on stdin\n");
        return UP_EXIT_FAILURE;
    }
    token[strcspn(token, "\r\n \t")] = 0;
    if (strncmp(token, "tbdev_", 6)) {
        fprintf(stderr, "tbdev auth login: that is not a tbdev token (they start with 'tbdev_')\n");
        return UP_EXIT_FAILURE;
    }
    struct up_creds probe = *creds;
    snprintf(probe.server, sizeof(probe.server), "%s", server);
    snprintf(probe.token, sizeof(probe.token), "%s", token);
    struct up_client *cl = NULL;
    char err[600], user[128];
    if (up_client_open(&probe, server, o->cacert, true, o->verbose, &cl, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev auth login: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    cl->stop = &stop_flag;
    int rc = whoami(cl, user, sizeof(user), err, sizeof(err));
    up_client_close(cl);
    if (rc < 0) {
        fprintf(stderr, "tbdev auth login: the server does not accept that token: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    return save(creds, server, token, user, o->cacert);
}

static int login_device(struct up_creds *creds, const char *server, const struct auth_cfg *o)
{
    struct up_creds anon = *creds;
    anon.token[0] = 0;
    struct up_client *cl = NULL;
    char err[600];
    if (up_client_open(&anon, server, o->cacert, false, o->verbose, &cl, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev auth login: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    cl->stop = &stop_flag;
    int rc = UP_EXIT_FAILURE;
    struct up_reply r;
    /* Who asks: the approval page shows it to the person approving. */
    char version[64], host[64] = "";
    snprintf(version, sizeof(version), "tbdev %s", TBDEV_VERSION);
    if (gethostname(host, sizeof(host) - 1) < 0)
        host[0] = 0;
    Tbdev__V1__DeviceCodeRequest cr = TBDEV__V1__DEVICE_CODE_REQUEST__INIT;
    cr.client_version = (ProtobufCBinaryData){strlen(version), (uint8_t *)version};
    cr.client_host = (ProtobufCBinaryData){strlen(host), (uint8_t *)host};
    size_t cr_len = 0;
    void *cr_body = up_pack(&cr, &cr_len);
    int called = up_client_call(cl, "POST", "/api/v1/device/code", PROTOBUF, cr_body, cr_len, false,
                                &r, err, sizeof(err));
    free(cr_body);
    if (called < 0) {
        fprintf(stderr, "tbdev auth login: %s\n", err);
        goto out;
    }
    Tbdev__V1__DeviceCode *dc = r.status == 200 && r.protobuf
                                    ? tbdev__v1__device_code__unpack(NULL, r.body.len, r.body.data)
                                    : NULL;
    if (!dc) {
        up_reply_error(&r, err, sizeof(err), NULL, 0);
        fprintf(stderr, "tbdev auth login: cannot start a login: %s\n", err);
        tb_buf_done(&r.body);
        goto out;
    }
    tb_buf_done(&r.body);
    fprintf(stderr,
            "To log in, open this link in a browser, sign in, and enter the code:\n\n"
            "    %s\n\n    code: %s\n\nWaiting (Ctrl-C to cancel)...\n",
            dc->verification_url, dc->user_code);
    Tbdev__V1__DeviceTokenRequest tr = TBDEV__V1__DEVICE_TOKEN_REQUEST__INIT;
    tr.device_code = dc->device_code;
    size_t n;
    void *body = up_pack(&tr, &n);
    double deadline = (double)time(NULL) + dc->expires_in;
    unsigned interval = dc->interval ? dc->interval : 3;
    while (body && !stop_flag && (double)time(NULL) < deadline) {
        for (unsigned i = 0; i < interval * 10 && !stop_flag; i++)
            usleep(100000);
        if (stop_flag)
            break;
        if (up_client_call(cl, "POST", "/api/v1/device/token", PROTOBUF, body, n, false, &r, err,
                           sizeof(err)) < 0) {
            fprintf(stderr, "tbdev auth login: %s\n", err);
            break;
        }
        char code[64];
        if (r.status == 200 && r.protobuf) {
            Tbdev__V1__TokenGrant *g =
                tbdev__v1__token_grant__unpack(NULL, r.body.len, r.body.data);
            tb_buf_done(&r.body);
            if (g) {
                rc = save(creds, server, g->token, g->user, o->cacert);
                tbdev__v1__token_grant__free_unpacked(g, NULL);
            }
            break;
        }
        up_reply_error(&r, err, sizeof(err), code, sizeof(code));
        tb_buf_done(&r.body);
        if (strcmp(code, "authorization_pending")) {
            fprintf(stderr, "tbdev auth login: %s\n", err);
            break;
        }
    }
    if (stop_flag)
        fprintf(stderr, "tbdev auth login: cancelled\n");
    else if ((double)time(NULL) >= deadline)
        fprintf(stderr, "tbdev auth login: the code expired; run 'tbdev auth login' again\n");
    free(body);
    tbdev__v1__device_code__free_unpacked(dc, NULL);
out:
    up_client_close(cl);
    return rc;
}

int up_auth_main(int argc, char **argv)
{
    struct auth_cfg o = {0};
    char err[600] = "";
    int optind_ = 0;
    int rc = tb_opts_parse(auth_options, N_AUTH, argc, argv, &o, &optind_, err, sizeof(err));
    if (rc == 1) {
        usage(stdout);
        return UP_EXIT_OK;
    }
    const char *sub = optind_ < argc ? argv[optind_] : NULL;
    if (rc < 0 || !sub || optind_ + 1 < argc ||
        (strcmp(sub, "login") && strcmp(sub, "logout") && strcmp(sub, "status"))) {
        fprintf(stderr, "tbdev auth: %s\nRun 'tbdev auth --help' for usage.\n",
                rc < 0 ? err : "give login, logout or status");
        return UP_EXIT_USAGE;
    }
    struct up_creds creds;
    if (up_creds_load(&creds, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev auth: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (!strcmp(sub, "logout")) {
        int e = up_creds_remove(&creds);
        if (e < 0) {
            fprintf(stderr, "tbdev auth logout: cannot remove %s: %s\n", creds.path, strerror(-e));
            return UP_EXIT_FAILURE;
        }
        printf("Logged out%s%s.\n", creds.server[0] ? " of " : "", creds.server);
        return UP_EXIT_OK;
    }
    if (!strcmp(sub, "status")) {
        struct up_client *cl = NULL;
        char user[128] = "";
        bool ok = false;
        if (up_client_open(&creds, o.server, o.cacert, true, o.verbose, &cl, err, sizeof(err)) ==
            0) {
            cl->stop = &stop_flag;
            ok = whoami(cl, user, sizeof(user), err, sizeof(err)) == 0;
        }
        up_client_close(cl);
        const char *server = o.server && *o.server ? o.server : creds.server;
        if (o.json)
            printf("{\"server\":\"%s\",\"user\":\"%s\",\"logged_in\":%s}\n", server, ok ? user : "",
                   ok ? "true" : "false");
        else if (ok)
            printf("Logged in to %s as %s (credentials: %s).\n", server, user, creds.path);
        else
            printf("Not logged in%s%s: %s\n", server[0] ? " to " : "", server, err);
        return ok ? UP_EXIT_OK : UP_EXIT_FAILURE;
    }
    const char *server = o.server && *o.server ? o.server : creds.server;
    if (!server[0]) {
        fprintf(stderr, "tbdev auth login: give --server URL (your tbdev server)\n");
        return UP_EXIT_USAGE;
    }
    return o.with_token ? login_with_token(&creds, server, &o) : login_device(&creds, server, &o);
}
