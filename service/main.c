/* SPDX-License-Identifier: MIT */
/* tbdev-server: `serve`, and the admin commands that work on the same database. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "blob.h"
#include "config.h"
#include "copy.h"
#include "http.h"
#include "json.h"
#include "local.h"
#include "log.h"
#include "opts.h"
#include "store.h"

#define EXIT_USAGE 2

/* The backend --db chose (open_store). */
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
            "  user quota NAME SIZE          Set a user's storage quota (500M, 10G, 0 for none,\n"
            "                                or 'default').\n"
            "  token create NAME [--name LABEL]\n"
            "                                Print a new API token for user NAME.\n"
            "  token list [NAME] [--json]    List tokens (never the secrets).\n"
            "  token revoke ID               Revoke a token at once.\n"
            "  session list [NAME] [--json]  List live web sessions (never the secrets).\n"
            "  session revoke ID             End a web session at once.\n"
            "  backup --to FILE              Copy the database while the server runs.\n"
            "  check                         Run SQLite's integrity check (on PostgreSQL,\n"
            "                                check that the counters agree with the rows).\n"
            "  upkeep                        Purge expired sessions and collect unreferenced\n"
            "                                blobs now (serve does it every 30 s).\n"
            "  copy --from DB --to postgresql://...\n"
            "                                Copy a whole installation into a new PostgreSQL\n"
            "                                database (blobs into --blob_store), resumable,\n"
            "                                then verify it table by table.\n\n"
            "Every command takes --db PATH or --db postgresql://... (or TBDEV_DB); the default\n"
            "is ./tbdev.db. Only serve, migrate and user add create a SQLite database that\n"
            "does not exist yet.\n"
            "Run 'tbdev-server COMMAND [SUBCOMMAND] --help' for a command's options.\n"
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

/* Opens the object store of --blob_store (ret NULL without one). */
static int open_blobs(const char *url, const char *endpoint, const char *region,
                      const char *access_key, const char *secret_key, struct svc_blobs *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!url || !*url)
        return 0;
    const struct svc_blob_ops *bo = svc_blob_ops_for(url);
    if (!bo) {
        fprintf(stderr, "tbdev-server: --blob_store must be s3://BUCKET[/PREFIX]\n");
        return -EINVAL;
    }
    struct svc_blob_options o = {.url = url,
                                 .endpoint = endpoint,
                                 .region = region,
                                 .access_key = access_key,
                                 .secret_key = secret_key};
    char err[300] = "";
    int rc = bo->open(&o, &ret->store, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "tbdev-server: cannot use the blob store %s: %s\n", url,
                err[0] ? err : strerror(-rc));
        return rc;
    }
    ret->ops = bo;
    return 0;
}

static int open_store(const char *db, uint64_t max_bytes, const struct svc_blobs *blobs,
                      double grace_s, struct svc_store **ret)
{
    char shown[512];
    svc_store_shown(db, shown, sizeof(shown));
    ops = svc_store_for(db);
    if (!ops) {
        fprintf(stderr, "tbdev-server: this server was built without PostgreSQL (libpq); "
                        "rebuild it with libpq-dev installed, or give a SQLite file as --db\n");
        return -ENOTSUP;
    }
    struct svc_store_options o = {.busy_timeout_ms = 5000,
                                  .max_bytes = max_bytes,
                                  .blobs = blobs && blobs->ops ? blobs : NULL,
                                  .blob_grace_s = grace_s};
    int err = ops->open(db, &o, ret);
    if (err < 0) {
        fprintf(stderr, "tbdev-server: cannot open the database %s: %s\n", shown,
                err == -EINVAL         ? "it is on a network filesystem"
                : err == -ECONNREFUSED ? "cannot connect (the log says why)"
                                       : strerror(-err));
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
        svc_log_info("database %s: schema version %d -> %d", shown, from, to);
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
               "environment variables that also set them (sizes take K, M, G or T, e.g. "
               "10G):\n");
        tb_opts_help(stdout, svc_serve_options, svc_serve_options_n);
        printf("\nExit status: 0 after SIGINT or SIGTERM, 1 failure (the message says why), 2 "
               "usage error.\n");
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

    struct svc_blobs blobs;
    struct svc_store *store = NULL;
    if (open_blobs(cfg.blob_store, cfg.s3_endpoint, cfg.s3_region, cfg.s3_access_key,
                   cfg.s3_secret_key, &blobs) < 0 ||
        open_store(cfg.db, (uint64_t)cfg.max_db_bytes, &blobs, (double)cfg.blob_grace_s, &store) <
            0) {
        if (blobs.ops)
            blobs.ops->close(blobs.store);
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
        if (blobs.ops)
            blobs.ops->close(blobs.store);
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
    char db_shown[512];
    svc_store_shown(cfg.db, db_shown, sizeof(db_shown));
    /* the bound address too: behind --public_url, the link says nothing of the port */
    printf("tbdev-server listening on %s (database %s%s%s; bound to %s%s%s:%u)\n", cfg.url_base,
           db_shown, blobs.ops ? ", blobs in " : "", blobs.ops ? cfg.blob_store : "",
           strchr(cfg.host, ':') ? "[" : "", cfg.host, strchr(cfg.host, ':') ? "]" : "", port);
    fflush(stdout);
    if ((!strcmp(cfg.host, "0.0.0.0") || !strcmp(cfg.host, "::")) &&
        !(cfg.public_url && *cfg.public_url))
        svc_log_warn("listening on every address, but links say %s, which other machines "
                     "cannot use, and their requests for another host name get 421: give "
                     "--public_url https://HOST (the name people use)",
                     cfg.url_base);
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
    if (blobs.ops)
        blobs.ops->close(blobs.store);
    free(cert);
    free(key);
    svc_app_done(&app);
    svc_log_info("stopped");
    return 0;
}

/* --- admin commands --- */

struct admin {
    const char *db;
    const char *blob_store, *s3_endpoint, *s3_region, *s3_access_key, *s3_secret_key;
    long long grace;
    bool json, admin, password_stdin;
    const char *name;
    const char *to;
    const char *from;
    bool verify_only;
};

enum {
    A_DB = 1,
    A_JSON = 2,
    A_ADMIN = 4,
    A_PASSWORD = 8,
    A_NAME = 16,
    A_TO = 32,
    A_BLOBS = 64,
    A_GRACE = 128,
    A_COPY = 256,
};

/* Every admin option, with the bit that says which commands take it. */
static const struct {
    unsigned bit;
    struct tb_opt opt;
} admin_options[] = {
    {A_DB,
     {"db", 0, TB_OPT_STRING, offsetof(struct admin, db), "PATH|URL", "TBDEV_DB",
      "The SQLite database file (default: tbdev.db), or postgresql://..."}},
    {A_BLOBS,
     {"blob_store", 0, TB_OPT_STRING, offsetof(struct admin, blob_store), "s3://BUCKET",
      "TBDEV_BLOB_STORE", "The object store the servers keep blobs in, as serve's."}},
    {A_BLOBS,
     {"s3_endpoint", 0, TB_OPT_STRING, offsetof(struct admin, s3_endpoint), "URL",
      "TBDEV_S3_ENDPOINT", "As serve's."}},
    {A_BLOBS,
     {"s3_region", 0, TB_OPT_STRING, offsetof(struct admin, s3_region), "REGION", "TBDEV_S3_REGION",
      "As serve's."}},
    {A_BLOBS,
     {"s3_access_key", 0, TB_OPT_STRING, offsetof(struct admin, s3_access_key), "KEY",
      "TBDEV_S3_ACCESS_KEY", "As serve's."}},
    {A_BLOBS,
     {"s3_secret_key", 0, TB_OPT_STRING, offsetof(struct admin, s3_secret_key), "SECRET",
      "TBDEV_S3_SECRET_KEY", "As serve's."}},
    {A_GRACE,
     {"blob_grace", 0, TB_OPT_INT, offsetof(struct admin, grace), "SECONDS", "TBDEV_BLOB_GRACE",
      "Collect blobs unreferenced for this long (default: 3600)."}},
    {A_JSON, {"json", 0, TB_OPT_FLAG, offsetof(struct admin, json), NULL, NULL, "Print JSON."}},
    {A_ADMIN,
     {"admin", 0, TB_OPT_FLAG, offsetof(struct admin, admin), NULL, NULL,
      "Make the user an admin."}},
    {A_PASSWORD,
     {"password_stdin", 0, TB_OPT_FLAG, offsetof(struct admin, password_stdin), NULL, NULL,
      "Also set a web sign-in password, read from stdin (needed to approve 'tbdev auth login' "
      "in the browser)."}},
    {A_NAME,
     {"name", 0, TB_OPT_STRING, offsetof(struct admin, name), "LABEL", NULL,
      "A label to tell tokens apart."}},
    {A_TO,
     {"to", 0, TB_OPT_STRING, offsetof(struct admin, to), "FILE", NULL,
      "Where to write the copy (a new file; written with mode 0600)."}},
    {A_COPY,
     {"from", 0, TB_OPT_STRING, offsetof(struct admin, from), "PATH|URL", NULL,
      "The installation to copy: its SQLite file (opened read-only), or postgresql://..."}},
    {A_COPY,
     {"to", 0, TB_OPT_STRING, offsetof(struct admin, to), "URL", NULL,
      "The PostgreSQL database to copy into: new and empty (or migrated), or one a copy from "
      "the same --from was stopped in, which it then continues."}},
    {A_COPY,
     {"verify_only", 0, TB_OPT_FLAG, offsetof(struct admin, verify_only), NULL, NULL,
      "Copy nothing: compare every table of --from and --to (row counts and SHA-256 of their "
      "contents, blobs read back from the object store)."}},
};
#define N_ADMIN_OPTIONS (sizeof(admin_options) / sizeof(admin_options[0]))

static const char *quota_text(uint64_t q)
{
    static __thread char buf[32];
    if (!q)
        return "the default";
    snprintf(buf, sizeof(buf), "%llu bytes", (unsigned long long)q);
    return buf;
}

/* Reads a password from stdin; on a terminal without echoing it. */
static int read_password(char *out, size_t len)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
        fprintf(stderr, "Password (at least 8 characters; not shown): ");
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
    if (!ok) {
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
    const char *url = getenv("TBDEV_PUBLIC_URL");
    fprintf(stderr,
            "Token %lld for user %s. It is shown once: keep it secret.\n"
            "Use it with: tbdev auth login --server %s --with_token < token.txt\n",
            (long long)id, u->name, url && *url ? url : "https://YOUR-SERVER");
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
        printf("%s{\"name\":\"%s\",\"id\":%lld,\"disabled\":%s,\"admin\":%s,\"used_bytes\":%llu,"
               "\"quota_bytes\":%llu}",
               u->id && a->name ? "," : "", u->name, (long long)u->id,
               u->disabled ? "true" : "false", u->is_admin ? "true" : "false",
               (unsigned long long)u->used_bytes, (unsigned long long)u->quota_bytes);
    else
        printf("%-24s %-8s %-6s %12llu bytes used, quota %s\n", u->name,
               u->disabled ? "disabled" : "active", u->is_admin ? "admin" : "",
               (unsigned long long)u->used_bytes, quota_text(u->quota_bytes));
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
    char created[32], expires[32] = "never", used[32] = "never", buf[4 * SVC_LABEL_MAX + 1];
    iso_time(t->created, created, sizeof(created));
    if (t->last_used > 0)
        iso_time(t->last_used, used, sizeof(used));
    if (t->expires > 0)
        iso_time(t->expires, expires, sizeof(expires));
    bool expired = t->expires > 0 && t->expires <= (double)time(NULL);
    const char *state = t->revoked ? "revoked" : expired ? "expired" : "live";
    if (a->json) {
        printf("%s{\"id\":%lld,\"user\":\"%s\",\"prefix\":\"%s\",\"created\":\"%s\","
               "\"last_used\":",
               a->name ? "," : "", (long long)t->id, t->user, t->prefix, created);
        if (t->last_used > 0)
            printf("\"%s\"", used);
        else
            printf("null");
        printf(",\"revoked\":%s,\"expires\":", t->revoked ? "true" : "false");
        if (t->expires > 0)
            printf("\"%s\"", expires);
        else
            printf("null");
        printf(",\"state\":\"%s\",\"label\":", state);
        json_str(t->name);
        printf("}");
    } else {
        printf("%-6lld %-20s %s...  %-20s  %-20s  %-20s %-7s %s\n", (long long)t->id, t->user,
               t->prefix, created, used, expires, state, shown(t->name, buf, sizeof(buf)));
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

static int a_migrate(struct admin *a, struct svc_store *st, char **args)
{
    (void)st;
    (void)args;
    char shown[512];
    svc_store_shown(a->db, shown, sizeof(shown));
    printf("database %s is up to date\n", shown);
    return 0;
}

static int a_upkeep(struct admin *a, struct svc_store *st, char **args)
{
    (void)args;
    int rc = ops->checkpoint(st);
    if (rc < 0) {
        fprintf(stderr, "tbdev-server upkeep: failed: %s\n", strerror(-rc));
        return 1;
    }
    printf("upkeep done on %s\n", svc_store_is_url(a->db) ? "the PostgreSQL database" : a->db);
    return 0;
}

static int a_check(struct admin *a, struct svc_store *st, char **args)
{
    (void)a;
    (void)args;
    char msg[256] = "";
    int rc = ops->integrity_check(st, msg, sizeof(msg));
    printf("integrity_check: %s\n", msg);
    return rc < 0;
}

static int a_backup(struct admin *a, struct svc_store *st, char **args)
{
    (void)args;
    if (!a->to) {
        fprintf(stderr, "tbdev-server backup: give --to FILE\n");
        return EXIT_USAGE;
    }
    if (access(a->to, F_OK) == 0) {
        fprintf(stderr, "tbdev-server backup: %s exists; give a new file name\n", a->to);
        return 1;
    }
    mode_t old = umask(077); /* the copy holds every token hash and experiment */
    int rc = ops->backup(st, a->to);
    umask(old);
    if (rc == -ENOTSUP) {
        fprintf(stderr, "tbdev-server backup: a PostgreSQL database is backed up with pg_dump "
                        "(or pg_basebackup for the whole cluster), and an object store with "
                        "its own tools; see the README's 'Scaling out'\n");
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "tbdev-server backup: failed: %s\n", strerror(-rc));
        return 1;
    }
    chmod(a->to, 0600);
    printf("backed up %s to %s\n", a->db, a->to);
    return 0;
}

static int a_user_add(struct admin *a, struct svc_store *st, char **args)
{
    const char *name = args[0];
    char hash[256] = "", pw[256] = "";
    int ret = 0, rc;
    struct svc_user u;
    if (!valid_user_name(name)) {
        fprintf(stderr, "tbdev-server: a user name is 1-%d letters, digits, '_', '-' or '.'\n",
                SVC_USER_NAME_MAX);
        ret = EXIT_USAGE;
    } else if (a->password_stdin && (read_password(pw, sizeof(pw)) < 0 ||
                                     svc_password_hash(pw, hash, sizeof(hash)) < 0)) {
        ret = 1;
    } else if ((rc = ops->user_add(st, name, hash, a->admin, NULL)) < 0) {
        fprintf(stderr, "tbdev-server: cannot add user %s: %s\n", name,
                rc == -EEXIST ? "that name is taken" : strerror(-rc));
        ret = 1;
    } else if (ops->user_get(st, name, &u) == 0) {
        ret = print_token(st, &u, "created with the user");
        if (!a->password_stdin)
            fprintf(stderr,
                    "The user has no web password: to sign in to the page (and approve 'tbdev "
                    "auth login' there), set one with: tbdev-server user passwd %s\n",
                    name);
    }
    memset(pw, 0, sizeof(pw));
    return ret;
}

static int a_user_list(struct admin *a, struct svc_store *st, char **args)
{
    (void)args;
    if (a->json)
        printf("[");
    a->name = NULL;
    int rc = ops->user_list(st, print_user, a);
    if (a->json)
        printf("]\n");
    return rc < 0;
}

static int a_user_able(struct admin *a, struct svc_store *st, char **args, bool disable)
{
    (void)a;
    int rc = ops->user_set_disabled(st, args[0], disable);
    if (rc < 0)
        fprintf(stderr, "tbdev-server: no user %s ('user list' shows them)\n", args[0]);
    else
        printf("user %s %s\n", args[0], disable ? "disabled" : "enabled");
    return rc < 0;
}

static int a_user_disable(struct admin *a, struct svc_store *st, char **args)
{
    return a_user_able(a, st, args, true);
}

static int a_user_enable(struct admin *a, struct svc_store *st, char **args)
{
    return a_user_able(a, st, args, false);
}

static int a_user_passwd(struct admin *a, struct svc_store *st, char **args)
{
    (void)a;
    char hash[256], pw[256];
    int ret = 0;
    if (read_password(pw, sizeof(pw)) < 0 || svc_password_hash(pw, hash, sizeof(hash)) < 0)
        ret = 1;
    else if (ops->user_set_password(st, args[0], hash) < 0) {
        fprintf(stderr, "tbdev-server: no user %s ('user list' shows them)\n", args[0]);
        ret = 1;
    } else
        printf("password set for %s; their web sessions are ended\n", args[0]);
    memset(pw, 0, sizeof(pw));
    return ret;
}

static int a_user_quota(struct admin *a, struct svc_store *st, char **args)
{
    (void)a;
    long long q = 0;
    if (strcmp(args[1], "default") && tb_size_parse(args[1], &q) < 0) {
        fprintf(stderr,
                "tbdev-server user quota: '%s' is not a size: give bytes such as 500M or 10G, "
                "or 'default' for the server's --quota_bytes\n",
                args[1]);
        return EXIT_USAGE;
    }
    int rc = ops->user_set_quota(st, args[0], (uint64_t)q);
    if (rc < 0) {
        fprintf(stderr, "tbdev-server: no user %s ('user list' shows them)\n", args[0]);
        return 1;
    }
    printf("quota of %s: %s\n", args[0], quota_text((uint64_t)q));
    return 0;
}

static int a_token_create(struct admin *a, struct svc_store *st, char **args)
{
    struct svc_user u;
    if (ops->user_get(st, args[0], &u) < 0) {
        fprintf(stderr, "tbdev-server: no user %s ('user list' shows them)\n", args[0]);
        return 1;
    }
    return print_token(st, &u, a->name);
}

static int a_token_list(struct admin *a, struct svc_store *st, char **args)
{
    struct svc_user u;
    if (args[0] && ops->user_get(st, args[0], &u) < 0) {
        fprintf(stderr, "tbdev-server: no user %s ('user list' shows them)\n", args[0]);
        return 1;
    }
    if (a->json)
        printf("[");
    else
        printf("%-6s %-20s %-9s  %-20s  %-20s  %-20s %-7s %s\n", "ID", "USER", "PREFIX", "CREATED",
               "LAST USED", "EXPIRES", "STATE", "LABEL");
    a->name = NULL;
    int rc = ops->token_list(st, args[0], print_tok, a);
    if (a->json)
        printf("]\n");
    return rc < 0;
}

static int a_token_revoke(struct admin *a, struct svc_store *st, char **args)
{
    (void)a;
    char *end = NULL;
    long long id = strtoll(args[0], &end, 10);
    int rc = *end || id <= 0 ? -ENOENT : ops->token_revoke(st, id);
    if (rc < 0)
        fprintf(stderr, "tbdev-server: no live token with id %s ('token list' shows ids)\n",
                args[0]);
    else
        printf("token %s revoked\n", args[0]);
    return rc < 0;
}

static int a_session_list(struct admin *a, struct svc_store *st, char **args)
{
    if (a->json)
        printf("[");
    a->name = NULL;
    int rc = ops->session_list(st, args[0], print_session, a);
    if (a->json)
        printf("]\n");
    return rc < 0;
}

static int a_session_revoke(struct admin *a, struct svc_store *st, char **args)
{
    (void)a;
    char *end = NULL;
    long long id = strtoll(args[0], &end, 10);
    int rc = *end || id <= 0 ? -ENOENT : ops->session_revoke(st, id, 0);
    if (rc < 0)
        fprintf(stderr, "tbdev-server: no live session with id %s ('session list' shows ids)\n",
                args[0]);
    else
        printf("session %s ended\n", args[0]);
    return rc < 0;
}

static int a_copy(struct admin *a, struct svc_store *unused, char **args)
{
    (void)unused;
    (void)args;
    if (!a->from || !a->to) {
        fprintf(stderr, "tbdev-server copy: give --from DB and --to postgresql://...\n"
                        "Run 'tbdev-server copy --help' for usage.\n");
        return EXIT_USAGE;
    }
    char from_shown[PATH_MAX + 512], to_shown[512];
    svc_store_shown(a->from, from_shown, sizeof(from_shown));
    /* the source's name is kept in the destination, to tell a copy to go on from another */
    char *real = svc_store_is_url(a->from) ? NULL : realpath(a->from, NULL);
    if (real)
        snprintf(from_shown, sizeof(from_shown), "%s", real);
    free(real);
    svc_store_shown(a->to, to_shown, sizeof(to_shown));
    if (!svc_store_is_url(a->to)) {
        fprintf(stderr, "tbdev-server copy: --to must be a PostgreSQL database "
                        "(postgresql://USER@HOST/DB), not a file: to copy a SQLite installation "
                        "to another file, use 'tbdev-server backup'\n");
        return EXIT_USAGE;
    }
    if (!strcmp(a->from, a->to)) {
        fprintf(stderr, "tbdev-server copy: --from and --to are the same database\n");
        return EXIT_USAGE;
    }
    const struct svc_store_ops *from_ops = svc_store_for(a->from);
    const struct svc_store_ops *to_ops = svc_store_for(a->to);
    if (!from_ops || !to_ops) {
        fprintf(stderr, "tbdev-server copy: this server was built without PostgreSQL (libpq); "
                        "rebuild it with libpq-dev installed\n");
        return 1;
    }
    if (!svc_store_is_url(a->from) && access(a->from, R_OK) != 0) {
        fprintf(stderr, "tbdev-server copy: cannot read %s: %s\n", a->from, strerror(errno));
        return 1;
    }
    struct svc_store_options ro = {.busy_timeout_ms = 5000, .read_only = true};
    struct svc_store *from = NULL, *to = NULL;
    struct svc_blobs blobs;
    int err = from_ops->open(a->from, &ro, &from);
    if (err < 0) {
        fprintf(stderr, "tbdev-server copy: cannot open the source %s: %s\n", from_shown,
                err == -ECONNREFUSED ? "cannot connect (the log says why)" : strerror(-err));
        return 1;
    }
    if (open_blobs(a->blob_store, a->s3_endpoint, a->s3_region, a->s3_access_key, a->s3_secret_key,
                   &blobs) < 0) {
        from_ops->close(from);
        return 1;
    }
    int rc = 1;
    if (open_store(a->to, 0, &blobs, (double)a->grace, &to) < 0)
        goto out;
    struct svc_copy_options o = {.from_ops = from_ops,
                                 .to_ops = to_ops,
                                 .from = from,
                                 .to = to,
                                 .from_name = from_shown,
                                 .blobs = blobs.ops ? &blobs : NULL,
                                 .verify_only = a->verify_only,
                                 .progress = isatty(STDERR_FILENO) && !a->json,
                                 .log = isatty(STDERR_FILENO) && !a->json ? NULL : stderr};
    struct svc_copy_result *r = calloc(1, sizeof(*r));
    if (!r)
        goto out;
    err = svc_copy_run(&o, r);
    svc_copy_report(stdout, r, a->json, err, from_shown, to_shown);
    if (err < 0)
        fprintf(stderr, "tbdev-server copy: %s\n", r->error);
    rc = err < 0 ? 1 : 0;
    free(r);
out:
    if (to)
        to_ops->close(to);
    from_ops->close(from);
    if (blobs.ops)
        blobs.ops->close(blobs.store);
    return rc;
}

/* The admin commands: what each takes, does, and which options apply. */
static const struct admin_cmd {
    const char *cmd, *sub;
    const char *args; /* for the synopsis; the required positional arguments' names */
    int n_args, n_optional;
    unsigned opts;
    bool creates; /* may create the database (the others refuse one that does not exist) */
    const char *about;
    int (*run)(struct admin *a, struct svc_store *st, char **args);
} admin_cmds[] = {
    {"migrate", NULL, "", 0, 0, A_DB, true,
     "Create the database, or bring its schema up to date, then exit.", a_migrate},
    {"check", NULL, "", 0, 0, A_DB, false,
     "Run SQLite's integrity check; on PostgreSQL, check that usage counters agree with the "
     "rows.",
     a_check},
    {"upkeep", NULL, "", 0, 0, A_DB | A_BLOBS | A_GRACE, false,
     "Purge expired sessions and device codes, and delete the objects of blobs unreferenced for "
     "--blob_grace (serve does this every 30 s).",
     a_upkeep},
    {"backup", NULL, "--to FILE", 0, 0, A_DB | A_TO, false,
     "Copy the database while the server runs (an online SQLite backup).", a_backup},
    {"copy", NULL, "--from DB --to postgresql://...", 0, 0, A_COPY | A_BLOBS | A_JSON, false,
     "Copy a whole installation (every user, token, session, experiment, point and blob, with "
     "its ids) into a new PostgreSQL database, and blobs into --blob_store when given; stop the "
     "server first, or copy from a 'backup' file. Each batch is committed with its progress, so "
     "a copy that was stopped goes on from there when run again with the same options. Then "
     "every table is verified on both sides (rows and SHA-256 of their contents): any "
     "difference is a failure.",
     a_copy},
    /* the first user's step on a new install may also make the database */
    {"user", "add", "NAME", 1, 0, A_DB | A_ADMIN | A_PASSWORD, true,
     "Add a user and print a new API token once.", a_user_add},
    {"user", "list", "", 0, 0, A_DB | A_JSON, false, "List users, their usage and quota.",
     a_user_list},
    {"user", "disable", "NAME", 1, 0, A_DB, false,
     "Disable a user: their tokens and sessions stop working at once.", a_user_disable},
    {"user", "enable", "NAME", 1, 0, A_DB, false, "Enable a disabled user again.", a_user_enable},
    {"user", "passwd", "NAME", 1, 0, A_DB, false,
     "Set a user's web sign-in password (read from stdin, not shown); ends their web "
     "sessions.",
     a_user_passwd},
    {"user", "quota", "NAME SIZE", 2, 0, A_DB, false,
     "Set a user's storage quota: a size such as 500M or 10G, 0 for none, or 'default' for "
     "the server's --quota_bytes.",
     a_user_quota},
    {"token", "create", "NAME", 1, 0, A_DB | A_NAME, false, "Print a new API token for a user.",
     a_token_create},
    {"token", "list", "[NAME]", 0, 1, A_DB | A_JSON, false,
     "List tokens (never the secrets): id, user, prefix, created, last used, expiry, state, "
     "label.",
     a_token_list},
    {"token", "revoke", "ID", 1, 0, A_DB, false, "Revoke a token at once.", a_token_revoke},
    {"session", "list", "[NAME]", 0, 1, A_DB | A_JSON, false,
     "List live web sessions (never the secrets).", a_session_list},
    {"session", "revoke", "ID", 1, 0, A_DB, false, "End a web session at once.", a_session_revoke},
};
#define N_ADMIN_CMDS (sizeof(admin_cmds) / sizeof(admin_cmds[0]))

static size_t cmd_options(const struct admin_cmd *c, struct tb_opt *out)
{
    size_t n = 0;
    for (size_t i = 0; i < N_ADMIN_OPTIONS; i++)
        if (c->opts & admin_options[i].bit)
            out[n++] = admin_options[i].opt;
    return n;
}

static void cmd_help(const struct admin_cmd *c)
{
    struct tb_opt opts[N_ADMIN_OPTIONS];
    size_t n = cmd_options(c, opts);
    printf("Usage: tbdev-server %s%s%s %s [OPTIONS]\n\n%s\n\nOptions:\n", c->cmd, c->sub ? " " : "",
           c->sub ? c->sub : "", c->args, c->about);
    tb_opts_help(stdout, opts, n);
    printf("\nExit status: 0 success, 1 failure (the message says why), 2 usage error.\n");
}

static int cmd_admin(int argc, char **argv)
{
    /* argv: COMMAND [SUB] [ARGS] [OPTIONS] */
    const char *cmd = argv[0];
    const char *sub = NULL;
    for (int i = 1; i < argc && !sub; i++)
        if (argv[i][0] != '-')
            sub = argv[i];
    const struct admin_cmd *c = NULL;
    for (size_t i = 0; i < N_ADMIN_CMDS && !c; i++)
        if (!strcmp(admin_cmds[i].cmd, cmd) &&
            (!admin_cmds[i].sub || (sub && !strcmp(admin_cmds[i].sub, sub))))
            c = &admin_cmds[i];
    if (!c) {
        bool help = argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        FILE *f = help ? stdout : stderr;
        if (!help)
            fprintf(f, "tbdev-server %s: give one of:", cmd);
        else
            fprintf(f, "Usage: tbdev-server %s SUBCOMMAND ...\n\nSubcommands:\n", cmd);
        for (size_t i = 0; i < N_ADMIN_CMDS; i++)
            if (!strcmp(admin_cmds[i].cmd, cmd))
                fprintf(f, help ? "  %s %s %s\n      %s\n" : " '%s %s %s'", cmd, admin_cmds[i].sub,
                        admin_cmds[i].args, admin_cmds[i].about);
        fprintf(f,
                help ? "\nRun 'tbdev-server %s SUBCOMMAND --help' for its options.\n"
                       "Exit status: 0 success, 1 failure, 2 usage error.\n"
                     : ".\nRun 'tbdev-server %s --help' for usage.\n",
                cmd);
        return help ? 0 : EXIT_USAGE;
    }
    struct admin a = {.db = "tbdev.db", .s3_region = "us-east-1", .grace = 3600};
    struct tb_opt opts[N_ADMIN_OPTIONS];
    size_t n_opts = cmd_options(c, opts);
    char err[256] = "";
    int optind_ = 0;
    char label[64];
    snprintf(label, sizeof(label), "%s%s%s", c->cmd, c->sub ? " " : "", c->sub ? c->sub : "");
    int rc = tb_opts_parse(opts, n_opts, argc - (c->sub ? 1 : 0), argv + (c->sub ? 1 : 0), &a,
                           &optind_, err, sizeof(err));
    if (rc == 1) {
        cmd_help(c);
        return 0;
    }
    char **args = argv + (c->sub ? 1 : 0) + optind_;
    int n_args = argc - (c->sub ? 1 : 0) - optind_;
    if (rc == 0 && (n_args < c->n_args || n_args > c->n_args + c->n_optional)) {
        snprintf(err, sizeof(err), n_args < c->n_args ? "give %s" : "unexpected argument '%s'",
                 n_args < c->n_args ? c->args : args[c->n_args + c->n_optional]);
        rc = -1;
    }
    if (rc < 0) {
        fprintf(stderr, "tbdev-server %s: %s\nRun 'tbdev-server %s --help' for usage.\n", label,
                err, label);
        return EXIT_USAGE;
    }
    char *argbuf[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < n_args && i < 3; i++)
        argbuf[i] = args[i];
    if (c->opts & A_COPY) { /* two databases, which it opens itself */
        svc_log_set_quiet(true);
        return c->run(&a, NULL, argbuf);
    }
    if (!c->creates && !svc_store_is_url(a.db) && access(a.db, F_OK) != 0) {
        fprintf(stderr,
                "tbdev-server %s: there is no database at %s: give --db PATH (or TBDEV_DB), or "
                "create one with 'tbdev-server migrate --db %s'\n",
                label, a.db, a.db);
        return 1;
    }
    svc_log_set_quiet(true);
    struct svc_blobs blobs;
    struct svc_store *store = NULL;
    if (open_blobs(a.blob_store, a.s3_endpoint, a.s3_region, a.s3_access_key, a.s3_secret_key,
                   &blobs) < 0)
        return 1;
    if (open_store(a.db, 0, &blobs, (double)a.grace, &store) < 0) {
        if (blobs.ops)
            blobs.ops->close(blobs.store);
        return 1;
    }
    int ret = c->run(&a, store, argbuf);
    ops->close(store);
    if (blobs.ops)
        blobs.ops->close(blobs.store);
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
        !strcmp(cmd, "upkeep") || !strcmp(cmd, "copy") || !strcmp(cmd, "user") ||
        !strcmp(cmd, "token") || !strcmp(cmd, "session"))
        return cmd_admin(argc - 1, argv + 1);
    fprintf(stderr, "tbdev-server: unknown command '%s'. Run 'tbdev-server --help'.\n", cmd);
    return EXIT_USAGE;
}
