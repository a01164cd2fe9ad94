/* SPDX-License-Identifier: MIT */
/* tbdev-server: `serve`, and the admin commands that work on the same database. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "json.h"
#include "local.h"
#include "log.h"
#include "opts.h"
#include "store.h"

#define EXIT_USAGE 2

static const struct svc_store_ops *ops = &svc_store_sqlite;

static void usage(FILE *f)
{
    fprintf(f,
            "tbdev-server: host TensorBoard experiments that `tbdev upload` sends.\n\n"
            "Usage: tbdev-server COMMAND [OPTIONS]\n\n"
            "Commands:\n"
            "  serve                         Run the server (see 'tbdev-server serve --help').\n"
            "  local --logdir DIR            Show one logdir on this machine, with no accounts\n"
            "                                (what 'tbdev serve' runs; see 'local --help').\n"
            "  migrate                       Create or upgrade the database schema, then exit.\n"
            "  user add NAME [--admin] [--password-stdin]\n"
            "                                Add a user and print a new API token once.\n"
            "  user list [--json]            List users.\n"
            "  user disable NAME | user enable NAME\n"
            "                                A disabled user's tokens and sessions stop working.\n"
            "  user passwd NAME              Set a web sign-in password, read from stdin;\n"
            "                                ends the user's web sessions.\n"
            "  token create NAME [--name LABEL]\n"
            "                                Print a new API token for user NAME.\n"
            "  token list [NAME] [--json]    List tokens (never the secrets).\n"
            "  token revoke ID               Revoke a token at once.\n"
            "  session list [NAME] [--json]  List live web sessions (never the secrets).\n"
            "  session revoke ID             End a web session at once.\n"
            "  backup --to FILE              Copy the database while the server runs.\n"
            "  check                         Run SQLite's integrity check.\n\n"
            "Every command takes --db PATH (or TBDEV_DB); the default is ./tbdev.db.\n"
            "Exit status: 0 success, 1 failure (the message says why), 2 usage error.\n");
}

/* --- serve --- */

struct checkpointer {
    struct svc_store *store;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

static void *checkpoint_loop(void *arg)
{
    struct checkpointer *cp = arg;
    pthread_mutex_lock(&cp->lock);
    while (!cp->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 30;
        pthread_cond_timedwait(&cp->cond, &cp->lock, &until);
        if (cp->stop)
            break;
        pthread_mutex_unlock(&cp->lock);
        /* Keeps the WAL bounded under steady writes; a busy database just waits for next time. */
        ops->checkpoint(cp->store);
        pthread_mutex_lock(&cp->lock);
    }
    pthread_mutex_unlock(&cp->lock);
    return NULL;
}

static char *read_file(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf || n == 0) {
        free(buf);
        snprintf(err, err_len, "%s is empty or unreadable", path);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static int open_store(const char *db, uint64_t max_bytes, struct svc_store **ret)
{
    struct svc_store_options o = {.busy_timeout_ms = 5000, .max_bytes = max_bytes};
    int err = ops->open(db, &o, ret);
    if (err < 0) {
        fprintf(stderr, "tbdev-server: cannot open the database %s: %s\n", db,
                err == -EINVAL ? "it is on a network filesystem" : strerror(-err));
        return err;
    }
    int from = 0, to = 0;
    err = ops->migrate(*ret, &from, &to);
    if (err < 0) {
        fprintf(stderr, "tbdev-server: cannot bring the database schema up to date (%s)\n",
                err == -EPROTO ? "it is newer than this server" : strerror(-err));
        ops->close(*ret);
        return err;
    }
    if (from != to)
        svc_log_info("database %s: schema version %d -> %d", db, from, to);
    return 0;
}

/* The link base with the bound port (--listen :0), before any request is served: handlers
 * read cfg.url_base from other threads. */
static void on_listening(void *ctx, uint16_t port)
{
    struct svc_config *cfg = ctx;
    if (cfg->public_url && *cfg->public_url)
        return;
    snprintf(cfg->url_base, sizeof(cfg->url_base), "%s://%s%s%s:%u",
             cfg->tls_cert ? "https" : "http", strchr(cfg->host, ':') ? "[" : "",
             !strcmp(cfg->host, "0.0.0.0") || !strcmp(cfg->host, "::") ? "localhost" : cfg->host,
             strchr(cfg->host, ':') ? "]" : "", port);
}

static int cmd_serve(int argc, char **argv)
{
    struct svc_config cfg;
    svc_config_defaults(&cfg);
    char err[256] = "";
    int optind_ = 0;
    int rc = tb_opts_parse(svc_serve_options, svc_serve_options_n, argc, argv, &cfg, &optind_, err,
                           sizeof(err));
    if (rc == 1) {
        printf("Usage: tbdev-server serve [OPTIONS]\n\nRuns the server. Options, and the "
               "environment variables that also set them:\n");
        tb_opts_help(stdout, svc_serve_options, svc_serve_options_n);
        return 0;
    }
    if (rc < 0 || optind_ < argc || svc_config_validate(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev-server serve: %s\nRun 'tbdev-server serve --help' for usage.\n",
                err[0] ? err : "unexpected argument");
        return EXIT_USAGE;
    }
    svc_log_set_quiet(false);
    char *cert = NULL, *key = NULL;
    if (cfg.tls_cert) {
        cert = read_file(cfg.tls_cert, err, sizeof(err));
        key = cert ? read_file(cfg.tls_key, err, sizeof(err)) : NULL;
        if (!cert || !key) {
            fprintf(stderr, "tbdev-server: %s\n", err);
            free(cert);
            free(key);
            return 1;
        }
    }
    /* Signals are taken by sigwait below, never by the server's threads. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct svc_store *store = NULL;
    if (open_store(cfg.db, (uint64_t)cfg.max_db_bytes, &store) < 0) {
        free(cert);
        free(key);
        return 1;
    }
    struct svc_app app = {.cfg = &cfg, .ops = ops, .store = store};
    pthread_mutex_init(&app.rate_lock, NULL);
    struct svc_http_config hc;
    svc_app_http_config(&app, &hc);
    hc.tls_cert_pem = cert;
    hc.tls_key_pem = key;
    hc.listening = on_listening;
    hc.listening_ctx = &cfg;
    struct svc_http *http = NULL;
    rc = svc_http_start(&hc, &http);
    if (rc < 0) {
        fprintf(stderr, "tbdev-server: cannot listen on %s: %s\n", cfg.listen,
                rc == -EADDRINUSE ? "the address is in use (another server running?)"
                : rc == -EINVAL   ? "bad address or TLS certificate/key"
                                  : strerror(-rc));
        ops->close(store);
        free(cert);
        free(key);
        return 1;
    }
    uint16_t port = svc_http_port(http);
    struct checkpointer cp = {.store = store};
    pthread_mutex_init(&cp.lock, NULL);
    pthread_cond_init(&cp.cond, NULL);
    pthread_t cpt;
    bool cp_running = pthread_create(&cpt, NULL, checkpoint_loop, &cp) == 0;
    printf("tbdev-server listening on %s (database %s)\n", cfg.url_base, cfg.db);
    fflush(stdout);
    svc_log_info("listening on %s:%u%s", cfg.host, port, cert ? " with TLS" : "");

    int sig = 0;
    sigwait(&sigs, &sig);
    svc_log_info("got %s: finishing requests in flight, then stopping",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    svc_http_stop(http, 10);
    if (cp_running) {
        pthread_mutex_lock(&cp.lock);
        cp.stop = true;
        pthread_cond_signal(&cp.cond);
        pthread_mutex_unlock(&cp.lock);
        pthread_join(cpt, NULL);
    }
    ops->checkpoint(store);
    ops->close(store);
    free(cert);
    free(key);
    svc_app_done(&app);
    svc_log_info("stopped");
    return 0;
}

/* --- admin commands --- */

struct admin {
    const char *db;
    bool json, admin, password_stdin;
    const char *name;
    const char *to;
};

static const struct tb_opt admin_options[] = {
    {"db", 0, TB_OPT_STRING, offsetof(struct admin, db), "PATH", "TBDEV_DB",
     "SQLite database file (default: tbdev.db)."},
    {"json", 0, TB_OPT_FLAG, offsetof(struct admin, json), NULL, NULL, "Print JSON."},
    {"admin", 0, TB_OPT_FLAG, offsetof(struct admin, admin), NULL, NULL,
     "user add: make the user an admin."},
    {"password_stdin", 0, TB_OPT_FLAG, offsetof(struct admin, password_stdin), NULL, NULL,
     "user add: read a web sign-in password from stdin."},
    {"name", 0, TB_OPT_STRING, offsetof(struct admin, name), "LABEL", NULL,
     "token create: a label to tell tokens apart."},
    {"to", 0, TB_OPT_STRING, offsetof(struct admin, to), "FILE", NULL, "backup: where to write."},
};

static int read_password(char *out, size_t len)
{
    if (!fgets(out, (int)len, stdin)) {
        fprintf(stderr, "tbdev-server: no password on stdin\n");
        return -EINVAL;
    }
    out[strcspn(out, "\r\n")] = 0;
    if (strlen(out) < 8) {
        fprintf(stderr, "tbdev-server: the password must have at least 8 characters\n");
        return -EINVAL;
    }
    return 0;
}

static int print_token(struct svc_store *store, const struct svc_user *u, const char *label)
{
    char token[SVC_TOKEN_LEN + 1], prefix[SVC_TOKEN_SHOWN + 1];
    uint8_t hash[32];
    if (svc_token_new(token) < 0)
        return 1;
    svc_hash_secret(token, hash);
    snprintf(prefix, sizeof(prefix), "%.*s", SVC_TOKEN_SHOWN, token);
    int64_t id = 0;
    int err = ops->token_add(store, u->id, hash, label ? label : "", prefix, &id);
    if (err < 0) {
        fprintf(stderr, "tbdev-server: cannot store the token: %s\n", strerror(-err));
        return 1;
    }
    printf("%s\n", token);
    fprintf(stderr,
            "Token %lld for user %s. It is shown once: keep it secret.\n"
            "Use it with: tbdev auth login --with-token < token.txt\n",
            (long long)id, u->name);
    return 0;
}

static bool valid_user_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 1 || len > SVC_USER_NAME_MAX)
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

static int print_user(void *ctx, const struct svc_user *u)
{
    struct admin *a = ctx;
    if (a->json)
        printf("%s{\"name\":\"%s\",\"id\":%lld,\"disabled\":%s,\"admin\":%s,\"used_bytes\":%llu}",
               u->id && a->name ? "," : "", u->name, (long long)u->id,
               u->disabled ? "true" : "false", u->is_admin ? "true" : "false",
               (unsigned long long)u->used_bytes);
    else
        printf("%-24s %-8s %-6s %12llu bytes\n", u->name, u->disabled ? "disabled" : "active",
               u->is_admin ? "admin" : "", (unsigned long long)u->used_bytes);
    a->name = "x"; /* a comma before the next JSON object */
    return 0;
}

static void iso_time(double t, char *out, size_t len)
{
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A JSON string of s (which may hold anything a client sent: labels, user agents). */
static void json_str(const char *s)
{
    struct tb_buf b;
    tb_buf_init(&b, 0);
    tb_json_escape(&b, s, strlen(s));
    printf("\"%s\"", b.len ? (const char *)b.data : "");
    tb_buf_done(&b);
}

/* s for a terminal: control characters escaped. */
static const char *shown(const char *s, char *buf, size_t len)
{
    svc_log_escape(s, buf, len);
    return buf;
}

static int print_tok(void *ctx, const struct svc_token_info *t)
{
    struct admin *a = ctx;
    char created[32], expires[32] = "never", buf[4 * SVC_LABEL_MAX + 1];
    iso_time(t->created, created, sizeof(created));
    if (t->expires > 0)
        iso_time(t->expires, expires, sizeof(expires));
    bool expired = t->expires > 0 && t->expires <= (double)time(NULL);
    const char *state = t->revoked ? "revoked" : expired ? "expired" : "live";
    if (a->json) {
        printf("%s{\"id\":%lld,\"user\":\"%s\",\"prefix\":\"%s\",\"created\":\"%s\","
               "\"revoked\":%s,\"expires\":",
               a->name ? "," : "", (long long)t->id, t->user, t->prefix, created,
               t->revoked ? "true" : "false");
        if (t->expires > 0)
            printf("\"%s\"", expires);
        else
            printf("null");
        printf(",\"state\":\"%s\",\"label\":", state);
        json_str(t->name);
        printf("}");
    } else {
        printf("%-6lld %-20s %s...  %s  expires %-20s %-7s %s\n", (long long)t->id, t->user,
               t->prefix, created, expires, state, shown(t->name, buf, sizeof(buf)));
    }
    a->name = "x";
    return 0;
}

static int print_session(void *ctx, const struct svc_session_info *t)
{
    struct admin *a = ctx;
    char created[32], expires[32], buf[4 * SVC_LABEL_MAX + 1];
    iso_time(t->created, created, sizeof(created));
    iso_time(t->expires, expires, sizeof(expires));
    if (a->json) {
        printf("%s{\"id\":%lld,\"user\":\"%s\",\"created\":\"%s\",\"expires\":\"%s\","
               "\"client_ip\":\"%s\",\"user_agent\":",
               a->name ? "," : "", (long long)t->id, t->user, created, expires, t->client_ip);
        json_str(t->user_agent);
        printf("}");
    } else {
        printf("%-6lld %-20s %s  expires %s  from %-15s %s\n", (long long)t->id, t->user, created,
               expires, t->client_ip, shown(t->user_agent, buf, sizeof(buf)));
    }
    a->name = "x";
    return 0;
}

static int cmd_admin(int argc, char **argv)
{
    /* argv: COMMAND [SUB] [ARGS] [OPTIONS] */
    struct admin a = {.db = "tbdev.db"};
    char err[256] = "";
    int optind_ = 0;
    const char *cmd = argv[0];
    int rc = tb_opts_parse(admin_options, sizeof(admin_options) / sizeof(admin_options[0]), argc,
                           argv, &a, &optind_, err, sizeof(err));
    if (rc == 1) {
        usage(stdout);
        printf("\nOptions:\n");
        tb_opts_help(stdout, admin_options, sizeof(admin_options) / sizeof(admin_options[0]));
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "tbdev-server %s: %s\n", cmd, err);
        return EXIT_USAGE;
    }
    const char *sub = optind_ < argc ? argv[optind_] : NULL;
    const char *arg = optind_ + 1 < argc ? argv[optind_ + 1] : NULL;
    svc_log_set_quiet(true);
    struct svc_store *store = NULL;
    if (open_store(a.db, 0, &store) < 0)
        return 1;
    int ret = 0;
    struct svc_user u;
    if (!strcmp(cmd, "migrate")) {
        printf("database %s is up to date\n", a.db);
    } else if (!strcmp(cmd, "check")) {
        char msg[256] = "";
        rc = ops->integrity_check(store, msg, sizeof(msg));
        printf("integrity_check: %s\n", msg);
        ret = rc < 0;
    } else if (!strcmp(cmd, "backup")) {
        if (!a.to) {
            fprintf(stderr, "tbdev-server backup: give --to FILE\n");
            ret = EXIT_USAGE;
        } else if (access(a.to, F_OK) == 0) {
            fprintf(stderr, "tbdev-server backup: %s exists; give a new file name\n", a.to);
            ret = 1;
        } else if ((rc = ops->backup(store, a.to)) < 0) {
            fprintf(stderr, "tbdev-server backup: failed: %s\n", strerror(-rc));
            ret = 1;
        } else {
            printf("backed up %s to %s\n", a.db, a.to);
        }
    } else if (!strcmp(cmd, "user") && sub && !strcmp(sub, "add") && arg) {
        char hash[256] = "", pw[256];
        if (!valid_user_name(arg)) {
            fprintf(stderr,
                    "tbdev-server: a user name is 1-%d letters, digits, '_', '-' or "
                    "'.'\n",
                    SVC_USER_NAME_MAX);
            ret = EXIT_USAGE;
        } else if (a.password_stdin && (read_password(pw, sizeof(pw)) < 0 ||
                                        svc_password_hash(pw, hash, sizeof(hash)) < 0)) {
            ret = 1;
        } else if ((rc = ops->user_add(store, arg, hash, a.admin, NULL)) < 0) {
            fprintf(stderr, "tbdev-server: cannot add user %s: %s\n", arg,
                    rc == -EEXIST ? "that name is taken" : strerror(-rc));
            ret = 1;
        } else if (ops->user_get(store, arg, &u) == 0) {
            ret = print_token(store, &u, "created with the user");
        }
        memset(pw, 0, sizeof(pw));
    } else if (!strcmp(cmd, "user") && sub && !strcmp(sub, "list")) {
        if (a.json)
            printf("[");
        a.name = NULL;
        rc = ops->user_list(store, print_user, &a);
        if (a.json)
            printf("]\n");
        ret = rc < 0;
    } else if (!strcmp(cmd, "user") && sub && (!strcmp(sub, "disable") || !strcmp(sub, "enable")) &&
               arg) {
        rc = ops->user_set_disabled(store, arg, !strcmp(sub, "disable"));
        if (rc < 0)
            fprintf(stderr, "tbdev-server: no user %s\n", arg);
        else
            printf("user %s %sd\n", arg, sub);
        ret = rc < 0;
    } else if (!strcmp(cmd, "user") && sub && !strcmp(sub, "passwd") && arg) {
        char hash[256], pw[256];
        if (read_password(pw, sizeof(pw)) < 0 || svc_password_hash(pw, hash, sizeof(hash)) < 0)
            ret = 1;
        else if ((rc = ops->user_set_password(store, arg, hash)) < 0) {
            fprintf(stderr, "tbdev-server: no user %s\n", arg);
            ret = 1;
        } else
            printf("password set for %s; their web sessions are ended\n", arg);
        memset(pw, 0, sizeof(pw));
    } else if (!strcmp(cmd, "token") && sub && !strcmp(sub, "create") && arg) {
        if ((rc = ops->user_get(store, arg, &u)) < 0) {
            fprintf(stderr, "tbdev-server: no user %s\n", arg);
            ret = 1;
        } else {
            ret = print_token(store, &u, a.name);
        }
    } else if (!strcmp(cmd, "token") && sub && !strcmp(sub, "list")) {
        if (a.json)
            printf("[");
        a.name = NULL;
        rc = ops->token_list(store, arg, print_tok, &a);
        if (a.json)
            printf("]\n");
        ret = rc < 0;
    } else if (!strcmp(cmd, "token") && sub && !strcmp(sub, "revoke") && arg) {
        rc = ops->token_revoke(store, strtoll(arg, NULL, 10));
        if (rc < 0)
            fprintf(stderr, "tbdev-server: no live token with id %s ('token list' shows ids)\n",
                    arg);
        else
            printf("token %s revoked\n", arg);
        ret = rc < 0;
    } else if (!strcmp(cmd, "session") && sub && !strcmp(sub, "list")) {
        if (a.json)
            printf("[");
        a.name = NULL;
        rc = ops->session_list(store, arg, print_session, &a);
        if (a.json)
            printf("]\n");
        ret = rc < 0;
    } else if (!strcmp(cmd, "session") && sub && !strcmp(sub, "revoke") && arg) {
        char *end = NULL;
        long long id = strtoll(arg, &end, 10);
        rc = *end || id <= 0 ? -ENOENT : ops->session_revoke(store, id, 0);
        if (rc < 0)
            fprintf(stderr,
                    "tbdev-server: no live session with id %s ('session list' shows "
                    "ids)\n",
                    arg);
        else
            printf("session %s ended\n", arg);
        ret = rc < 0;
    } else {
        fprintf(stderr, "tbdev-server: unknown or incomplete command. Run 'tbdev-server "
                        "--help'.\n");
        ret = EXIT_USAGE;
    }
    ops->close(store);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("tbdev-server %s\n", TBDEV_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "local"))
        return svc_local_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "migrate") || !strcmp(cmd, "check") || !strcmp(cmd, "backup") ||
        !strcmp(cmd, "user") || !strcmp(cmd, "token") || !strcmp(cmd, "session"))
        return cmd_admin(argc - 1, argv + 1);
    fprintf(stderr, "tbdev-server: unknown command '%s'. Run 'tbdev-server --help'.\n", cmd);
    return EXIT_USAGE;
}
