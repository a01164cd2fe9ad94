/* SPDX-License-Identifier: MIT */
/* `tbdev auth login|logout|revoke|status`: the device-code flow, or a token from stdin. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "creds.h"
#include "exitcode.h"
#include "json.h"
#include "manage.h"
#include "opts.h"

#define PROTOBUF "application/x-protobuf"

struct auth_cfg {
    struct up_common c; /* first: the common options */
    bool with_token;
    bool json;
};

static const struct tb_opt auth_options[] = {
    {"with_token", 0, TB_OPT_FLAG, offsetof(struct auth_cfg, with_token), NULL, NULL,
     "login: read an API token from stdin instead of signing in through the browser."},
    {"json", 0, TB_OPT_FLAG, offsetof(struct auth_cfg, json), NULL, NULL, "status: print JSON."},
};
#define N_AUTH (sizeof(auth_options) / sizeof(auth_options[0]))

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(void)
{
    printf("Usage: tbdev auth login [--server URL] [--with-token] [--cacert FILE]\n"
           "       tbdev auth status [--server URL] [--json]\n"
           "       tbdev auth logout [--server URL]\n"
           "       tbdev auth revoke [--server URL]\n\n"
           "login   Signs in to a tbdev server. It prints a link and a code: open the link,\n"
           "        sign in, and enter the code; tbdev then receives its own API token.\n"
           "        With --with-token, reads a token (from 'tbdev-server user add' or your\n"
           "        admin) from stdin instead; on a terminal it is not echoed. Without\n"
           "        --server, logs in again to the server you use (TBDEV_SERVER, or the last\n"
           "        login). Logins are kept per server in $XDG_CONFIG_HOME/tbdev/credentials\n"
           "        (mode 0600); the last one is the default.\n"
           "status  Shows the server, the user and where the token comes from (the\n"
           "        credentials file, or TBDEV_TOKEN), and checks that the token works; then\n"
           "        lists the other servers you are logged in to.\n"
           "logout  Revokes the token on the server and forgets it.\n"
           "revoke  The same as logout (TensorBoard.dev's name).\n\n"
           "TBDEV_SERVER and TBDEV_TOKEN override the saved values.\n\nOptions:\n");
    tb_opts_help(stdout, auth_options, N_AUTH);
    up_cli_help_common();
    printf("\nExit status: 0 success, 1 failure (the message says why), 2 usage error.\n");
}

/* GET /api/v1/me with the client's token: the user name. Returns 0, -EACCES when the server
 * refuses the token (message in err), or a transport error from up_client_call. */
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
    if (!user[0]) {
        snprintf(err, err_len, "the server signed in nobody with that token");
        return -EACCES;
    }
    return 0;
}

static int save(struct up_creds *creds, const char *server, const char *token, const char *user,
                const char *cacert)
{
    char norm[512];
    snprintf(creds->server, sizeof(creds->server), "%s",
             up_url_normalise(server, norm, sizeof(norm)) ? norm : server);
    snprintf(creds->token, sizeof(creds->token), "%s", token);
    snprintf(creds->user, sizeof(creds->user), "%s", user);
    if (cacert)
        snprintf(creds->cacert, sizeof(creds->cacert), "%s", cacert);
    int err = up_creds_save(creds);
    if (err < 0) {
        fprintf(stderr, "tbdev auth login: cannot save the credentials: %s\n", strerror(-err));
        return UP_EXIT_FAILURE;
    }
    printf("Logged in to %s as %s.\n", creds->server, user);
    return UP_EXIT_OK;
}

/* Reads a line from stdin; on a terminal without echoing it (a secret). */
static bool read_secret(char *out, size_t len)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
        tty = false;
    }
    bool ok = fgets(out, (int)len, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (ok)
        out[strcspn(out, "\r\n \t")] = 0;
    return ok;
}

static int login_with_token(struct up_creds *creds, const char *server, const struct auth_cfg *o,
                            const char *cacert)
{
    char token[256];
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "Paste the API token (it is not shown), then press Enter: ");
    if (!read_secret(token, sizeof(token)) || !token[0]) {
        fprintf(stderr, "tbdev auth login: no token on stdin\n");
        return UP_EXIT_FAILURE;
    }
    if (strncmp(token, "tbdev_", 6)) {
        fprintf(stderr, "tbdev auth login: that is not a tbdev token (they start with 'tbdev_')\n");
        return UP_EXIT_FAILURE;
    }
    struct up_creds probe = *creds;
    snprintf(probe.server, sizeof(probe.server), "%s", server);
    snprintf(probe.token, sizeof(probe.token), "%s", token);
    struct up_client *cl = NULL;
    char err[600], user[128];
    if (up_client_open(&probe, server, cacert, true, o->c.verbose >= UP_REQUESTS, &cl, err,
                       sizeof(err)) < 0) {
        fprintf(stderr, "tbdev auth login: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    cl->stop = &stop_flag;
    int rc = whoami(cl, user, sizeof(user), err, sizeof(err));
    up_client_close(cl);
    if (rc == -EACCES) {
        fprintf(stderr, "tbdev auth login: %s does not accept that token: %s\n", server, err);
        return UP_EXIT_FAILURE;
    }
    if (rc < 0) {
        fprintf(stderr, "tbdev auth login: %s\n", err);
        return UP_EXIT_FAILURE;
    }
    return save(creds, server, token, user, cacert);
}

static int login_device(struct up_creds *creds, const char *server, const struct auth_cfg *o,
                        const char *cacert)
{
    struct up_creds anon = *creds;
    anon.token[0] = 0;
    struct up_client *cl = NULL;
    char err[600];
    if (up_client_open(&anon, server, cacert, false, o->c.verbose >= UP_REQUESTS, &cl, err,
                       sizeof(err)) < 0) {
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
                rc = save(creds, server, g->token, g->user, cacert);
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

/* DELETE /api/v1/me/token: the server revokes the token this request carries. Returns 0,
 * or -errno with a message in err. */
static int revoke_remote(struct up_creds *creds, const struct auth_cfg *o, char *err,
                         size_t err_len)
{
    struct up_client *cl = NULL;
    if (up_client_open(creds, creds->server, o->c.cacert, true, o->c.verbose >= UP_REQUESTS, &cl,
                       err, err_len) < 0)
        return -EINVAL;
    cl->stop = &stop_flag;
    struct up_reply r;
    int rc =
        up_client_call(cl, "DELETE", "/api/v1/me/token", NULL, NULL, 0, false, &r, err, err_len);
    if (rc == 0) {
        if (r.status == 401)
            rc = 0; /* already revoked (or its user disabled): nothing to do there */
        else if (r.status != 204 && r.status != 200) {
            up_reply_error(&r, err, err_len, NULL, 0);
            rc = -EPROTO;
        }
        tb_buf_done(&r.body);
    }
    up_client_close(cl);
    return rc;
}

static int logout(struct up_creds *creds, const struct auth_cfg *o, const char *cmd)
{
    if (!creds->server[0] || !creds->token[0]) {
        printf("Not logged in%s%s: nothing to do.\n", creds->server[0] ? " to " : "",
               creds->server);
        return UP_EXIT_OK;
    }
    char err[600];
    int rc = UP_EXIT_OK;
    if (revoke_remote(creds, o, err, sizeof(err)) < 0) {
        fprintf(stderr,
                "tbdev auth %s: could not revoke the token on %s (%s); it still works there "
                "until an admin revokes it (tbdev-server token revoke)\n",
                cmd, creds->server, err);
        rc = UP_EXIT_FAILURE;
    }
    if (!strcmp(creds->token_source, "TBDEV_TOKEN")) {
        printf("Revoked the token from TBDEV_TOKEN on %s; unset TBDEV_TOKEN.\n", creds->server);
        return rc;
    }
    int e = up_creds_remove(creds);
    if (e < 0) {
        fprintf(stderr, "tbdev auth %s: cannot update %s: %s\n", cmd, creds->path, strerror(-e));
        return UP_EXIT_FAILURE;
    }
    printf("Logged out of %s%s.\n", creds->server,
           rc == UP_EXIT_OK ? " (the token is revoked)" : "");
    return rc;
}

struct others {
    const char *current;
    struct tb_json *j; /* NULL: print lines */
    int n;
};

static int list_other(void *ctx, const struct up_creds *c, bool is_default)
{
    struct others *x = ctx;
    if (!strcmp(c->server, x->current))
        return 0;
    if (x->j) {
        tb_json_obj_open(x->j);
        tb_json_key(x->j, "server");
        tb_json_str(x->j, c->server);
        tb_json_key(x->j, "user");
        tb_json_str(x->j, c->user);
        tb_json_key(x->j, "default");
        tb_json_bool(x->j, is_default);
        tb_json_obj_close(x->j);
    } else {
        if (!x->n)
            printf("Also logged in to:\n");
        printf("  %s as %s%s\n", c->server, c->user, is_default ? " (default)" : "");
    }
    x->n++;
    return 0;
}

static int status(struct up_creds *creds, const struct auth_cfg *o)
{
    struct up_client *cl = NULL;
    char user[128] = "", err[600] = "";
    bool ok = false;
    const char *server = creds->server;
    if (!server[0])
        snprintf(err, sizeof(err), "no server: run 'tbdev auth login --server URL'");
    else if (up_client_open(creds, server, o->c.cacert, true, o->c.verbose >= UP_REQUESTS, &cl, err,
                            sizeof(err)) == 0) {
        cl->stop = &stop_flag;
        ok = whoami(cl, user, sizeof(user), err, sizeof(err)) == 0;
    }
    up_client_close(cl);
    char source[1200];
    if (!strcmp(creds->token_source, "TBDEV_TOKEN"))
        snprintf(source, sizeof(source), "the TBDEV_TOKEN environment variable");
    else if (creds->token[0])
        snprintf(source, sizeof(source), "%s", creds->path);
    else
        snprintf(source, sizeof(source), "none");
    if (o->json) {
        struct tb_buf b;
        tb_buf_init(&b, 1 << 20);
        struct tb_json j;
        tb_json_init(&j, &b);
        tb_json_obj_open(&j);
        tb_json_key(&j, "server");
        tb_json_str(&j, server);
        tb_json_key(&j, "user");
        tb_json_str(&j, ok ? user : "");
        tb_json_key(&j, "logged_in");
        tb_json_bool(&j, ok);
        tb_json_key(&j, "token_source");
        tb_json_str(&j, creds->token_source[0] ? creds->token_source : "none");
        tb_json_key(&j, "credentials_file");
        tb_json_str(&j, creds->path);
        if (!ok) {
            tb_json_key(&j, "error");
            tb_json_str(&j, err);
        }
        tb_json_key(&j, "others");
        tb_json_arr_open(&j);
        struct others x = {server, &j, 0};
        up_creds_each(list_other, &x, err, sizeof(err));
        tb_json_arr_close(&j);
        tb_json_obj_close(&j);
        printf("%.*s\n", (int)b.len, b.data ? (const char *)b.data : "{}");
        tb_buf_done(&b);
    } else {
        if (ok)
            printf("Logged in to %s as %s (token from %s).\n", server, user, source);
        else
            printf("Not logged in%s%s: %s\n", server[0] ? " to " : "", server, err);
        struct others x = {server, NULL, 0};
        up_creds_each(list_other, &x, err, sizeof(err));
    }
    return ok ? UP_EXIT_OK : UP_EXIT_FAILURE;
}

int up_auth_main(int argc, char **argv)
{
    struct auth_cfg o = {0};
    char err[600] = "";
    int optind_ = 0;
    int rc = up_cli_parse("auth", auth_options, N_AUTH, usage, argc, argv, &o, true, &optind_);
    if (rc >= 0)
        return rc;
    const char *sub = optind_ < argc ? argv[optind_] : NULL;
    if (!sub || optind_ + 1 < argc ||
        (strcmp(sub, "login") && strcmp(sub, "logout") && strcmp(sub, "status") &&
         strcmp(sub, "revoke"))) {
        fprintf(stderr, "tbdev auth: give login, logout, revoke or status\n"
                        "Run 'tbdev auth --help' for usage.\n");
        return UP_EXIT_USAGE;
    }
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "auth %s", sub);
    up_msg_init(cmd, (int)o.c.verbose);
    struct up_creds creds;
    if (up_creds_load(&creds, o.c.server, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev %s: %s\n", cmd, err);
        return UP_EXIT_FAILURE;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (!strcmp(sub, "logout") || !strcmp(sub, "revoke"))
        return logout(&creds, &o, sub);
    if (!strcmp(sub, "status"))
        return status(&creds, &o);
    const char *server = creds.server;
    if (!server[0]) {
        fprintf(stderr, "tbdev auth login: give --server URL (your tbdev server, e.g. "
                        "https://tb.example.org)\n");
        return UP_EXIT_USAGE;
    }
    /* A CA file is remembered with the login: by its absolute path, so that it is found from
     * any folder. */
    char cacert[PATH_MAX];
    const char *ca = o.c.cacert && *o.c.cacert ? o.c.cacert : creds.cacert[0] ? creds.cacert : NULL;
    if (ca && !realpath(ca, cacert)) {
        fprintf(stderr, "tbdev auth login: cannot read --cacert %s: %s\n", ca, strerror(errno));
        return UP_EXIT_FAILURE;
    }
    return o.with_token ? login_with_token(&creds, server, &o, ca ? cacert : NULL)
                        : login_device(&creds, server, &o, ca ? cacert : NULL);
}
