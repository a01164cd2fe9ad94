/* SPDX-License-Identifier: MIT */
/* tbdev-server's options table and validation. */
#include "config.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define O(field) offsetof(struct svc_config, field)

const struct tb_opt svc_serve_options[] = {
    {"db", 0, TB_OPT_STRING, O(db), "PATH|URL", "TBDEV_DB",
     "SQLite database file, created if missing (default: tbdev.db); or a PostgreSQL database, "
     "postgresql://USER@HOST/DBNAME (libpq's URL or its PG* variables, e.g. PGPASSFILE), "
     "shared by several servers."},
    {"blob_store", 0, TB_OPT_STRING, O(blob_store), "s3://BUCKET[/PREFIX]", "TBDEV_BLOB_STORE",
     "Keep images, audio and graphs in S3-compatible object storage instead of the database "
     "(PostgreSQL only; default: in the database)."},
    {"s3_endpoint", 0, TB_OPT_STRING, O(s3_endpoint), "URL", "TBDEV_S3_ENDPOINT",
     "The object store's URL, e.g. https://s3.eu-west-1.amazonaws.com (path-style requests)."},
    {"s3_region", 0, TB_OPT_STRING, O(s3_region), "REGION", "TBDEV_S3_REGION",
     "The region requests are signed for (default: us-east-1)."},
    {"s3_access_key", 0, TB_OPT_STRING, O(s3_access_key), "KEY", "TBDEV_S3_ACCESS_KEY",
     "The object store's access key (better set in the environment)."},
    {"s3_secret_key", 0, TB_OPT_STRING, O(s3_secret_key), "SECRET", "TBDEV_S3_SECRET_KEY",
     "The object store's secret key; never logged (set it in the environment, not on the "
     "command line, where other users of the machine can read it)."},
    {"blob_grace", 0, TB_OPT_INT, O(blob_grace_s), "SECONDS", "TBDEV_BLOB_GRACE",
     "Delete an object once no experiment has referred to it for this long, so that an upload "
     "that wrote it just before can still claim it (default: 3600)."},
    {"listen", 0, TB_OPT_STRING, O(listen), "HOST:PORT", "TBDEV_LISTEN",
     "Address to listen on (default: 127.0.0.1:8080; use 0.0.0.0:443 or [::]:443 for all)."},
    {"tls_cert", 0, TB_OPT_STRING, O(tls_cert), "FILE", "TBDEV_TLS_CERT",
     "PEM certificate chain: serve HTTPS natively."},
    {"tls_key", 0, TB_OPT_STRING, O(tls_key), "FILE", "TBDEV_TLS_KEY", "PEM private key."},
    {"public_url", 0, TB_OPT_STRING, O(public_url), "URL", "TBDEV_PUBLIC_URL",
     "How users reach the server (links, allowed Host headers), e.g. https://tb.example.org."},
    {"trusted_proxies", 0, TB_OPT_STRING, O(trusted_proxies_list), "LIST", "TBDEV_TRUSTED_PROXIES",
     "Addresses and networks of load balancers (e.g. 10.0.0.5,192.168.0.0/16) whose "
     "X-Forwarded-For gives the client's address for limits and logs (default: none)."},
    {"threads", 0, TB_OPT_INT, O(threads), "N", "TBDEV_THREADS",
     "Threads that serve connections and reads (default: 4)."},
    {"write_threads", 0, TB_OPT_INT, O(write_threads), "N", "TBDEV_WRITE_THREADS",
     "Threads that run writes (uploads, sign-in, changes), so that a write waiting for the "
     "database never holds up the reads of other connections; 0 runs them on the connection's "
     "own thread (default: 4)."},
    {"conn_timeout", 0, TB_OPT_INT, O(conn_timeout_s), "SECONDS", "TBDEV_CONN_TIMEOUT",
     "Close idle connections after this (default: 30)."},
    {"body_deadline", 0, TB_OPT_INT, O(body_deadline_s), "SECONDS", "TBDEV_BODY_DEADLINE",
     "A request body must arrive within this, else 408 (default: 120)."},
    {"header_deadline", 0, TB_OPT_INT, O(header_deadline_s), "SECONDS", "TBDEV_HEADER_DEADLINE",
     "A request's line and headers must arrive within this of the connection opening or the "
     "previous answer, else the connection is closed (slow-header attacks); this also ends "
     "idle keep-alive connections (default: 30)."},
    {"conns_per_ip", 0, TB_OPT_INT, O(conns_per_ip), "N", "TBDEV_CONNS_PER_IP",
     "Connections one client address may hold (default: 64)."},
    {"max_connections", 0, TB_OPT_INT, O(conn_limit), "N", "TBDEV_MAX_CONNECTIONS",
     "Connections in all (default: 8000)."},
    {"request_bytes", 0, TB_OPT_SIZE, O(request_bytes), "SIZE", "TBDEV_REQUEST_BYTES",
     "Largest request body after decompression (default: 32 MiB)."},
    {"body_memory", 0, TB_OPT_SIZE, O(body_memory), "SIZE", "TBDEV_BODY_MEMORY",
     "Request bodies held in memory at once, over all connections (received, waiting or "
     "decompressed); past it new bodies get 503 with Retry-After (default: 256 MiB)."},
    {"auth_threads", 0, TB_OPT_INT, O(auth_threads), "N", "TBDEV_AUTH_THREADS",
     "Threads that check passwords (scrypt), apart from the write threads so that a flood of "
     "sign-ins never holds up uploads (default: 2)."},
    {"login_per_minute", 0, TB_OPT_INT, O(login_per_minute), "N", "TBDEV_LOGIN_PER_MINUTE",
     "Sign-in attempts, device approvals and device-login codes per minute for each client "
     "address and each account, in bursts of as many; past it 429 with Retry-After; 0 for "
     "none (default: 10)."},
    {"device_token_days", 0, TB_OPT_INT, O(device_token_days), "DAYS", "TBDEV_DEVICE_TOKEN_DAYS",
     "Tokens from 'tbdev auth login' expire after this many days; 0 for never (default: 90)."},
    {"record_bytes", 0, TB_OPT_SIZE, O(record_bytes), "SIZE", "TBDEV_RECORD_BYTES",
     "Largest event record accepted (default: 16 MiB)."},
    {"blob_bytes", 0, TB_OPT_SIZE, O(blob_bytes), "SIZE", "TBDEV_BLOB_BYTES",
     "Largest image, audio clip or graph (default: 16 MiB)."},
    {"answer_bytes", 0, TB_OPT_SIZE, O(answer_bytes), "SIZE", "TBDEV_ANSWER_BYTES",
     "Largest answer body (JSON, CSV or an export); past it the read gets 413 and should ask "
     "for less (default: 256 MiB)."},
    {"points_per_second", 0, TB_OPT_INT, O(points_per_second), "N", "TBDEV_POINTS_PER_SECOND",
     "Sustained write rate per user, in summary values; 0 for none (default: 0)."},
    {"quota_bytes", 0, TB_OPT_SIZE, O(quota_bytes), "SIZE", "TBDEV_QUOTA_BYTES",
     "Storage per user unless set per user; 0 for none (default: 0)."},
    {"max_db_bytes", 0, TB_OPT_SIZE, O(max_db_bytes), "SIZE", "TBDEV_MAX_DB_BYTES",
     "Cap the database file; past it uploads get 507 as on a full disk (default: 0, none)."},
    {"max_runs", 0, TB_OPT_INT, O(runs_per_experiment), "N", "TBDEV_MAX_RUNS",
     "Runs per experiment (default: 10000)."},
    {"max_tags", 0, TB_OPT_INT, O(tags_per_run), "N", "TBDEV_MAX_TAGS",
     "Tags per run (default: 10000)."},
    {"allowed_plugins", 0, TB_OPT_STRING, O(allowed_plugins), "LIST", "TBDEV_ALLOWED_PLUGINS",
     "Comma-separated plugins to accept; empty for all (default)."},
    {"quiet", 'q', TB_OPT_FLAG, O(quiet), NULL, "TBDEV_QUIET", "No per-request log lines."},
};
const size_t svc_serve_options_n = sizeof(svc_serve_options) / sizeof(svc_serve_options[0]);

void svc_config_defaults(struct svc_config *c)
{
    memset(c, 0, sizeof(*c));
    c->db = "tbdev.db";
    c->s3_region = "us-east-1";
    c->blob_grace_s = 3600;
    c->listen = "127.0.0.1:8080";
    c->threads = 4;
    c->write_threads = 4;
    c->conn_timeout_s = 30;
    c->body_deadline_s = 120;
    c->header_deadline_s = 30;
    c->conns_per_ip = 64;
    c->conn_limit = 8000;
    c->request_bytes = 32ll << 20;
    c->body_memory = 256ll << 20;
    c->auth_threads = 2;
    c->login_per_minute = 10;
    c->device_token_days = 90;
    c->record_bytes = 16ll << 20;
    c->blob_bytes = 16ll << 20;
    c->answer_bytes = 256ll << 20;
    c->runs_per_experiment = 10000;
    c->tags_per_run = 10000;
    c->allowed_plugins = "";
}

static int fail(char *err, size_t len, const char *msg)
{
    snprintf(err, len, "%s", msg);
    return -EINVAL;
}

int svc_config_validate(struct svc_config *c, char *err, size_t err_len)
{
    const char *l = c->listen;
    const char *colon = strrchr(l, ':');
    if (!colon || colon == l)
        return fail(err, err_len, "--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
    size_t hl = (size_t)(colon - l);
    if (l[0] == '[' && hl >= 2 && l[hl - 1] == ']') {
        l++;
        hl -= 2;
    }
    if (hl >= sizeof(c->host))
        return fail(err, err_len, "--listen host is too long");
    memcpy(c->host, l, hl);
    c->host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return fail(err, err_len, "--listen port must be 0-65535");
    c->port = (uint16_t)port;
    if (!c->tls_cert != !c->tls_key)
        return fail(err, err_len, "give both --tls_cert and --tls_key, or neither");
    if (c->threads < 1 || c->threads > 256)
        return fail(err, err_len, "--threads must be 1-256");
    if (c->write_threads < 0 || c->write_threads > 256)
        return fail(err, err_len, "--write_threads must be 0-256");
    if (c->conn_timeout_s < 1 || c->body_deadline_s < 1 || c->header_deadline_s < 1)
        return fail(err, err_len, "timeouts must be at least 1 second");
    if (c->request_bytes < 4096 || c->record_bytes < 1024 || c->blob_bytes < 1024 ||
        c->answer_bytes < 4096)
        return fail(err, err_len, "size limits are too small");
    if (c->conns_per_ip < 1 || c->conn_limit < 1)
        return fail(err, err_len, "connection limits must be positive");
    if (c->body_memory <= c->request_bytes)
        return fail(err, err_len, "--body_memory must be larger than --request_bytes");
    if (c->auth_threads < 1 || c->auth_threads > 64)
        return fail(err, err_len, "--auth_threads must be 1-64");
    if (c->login_per_minute < 0 || c->login_per_minute > 1000000)
        return fail(err, err_len, "--login_per_minute must be 0-1000000");
    if (svc_store_is_url(c->db) && !(c->public_url && *c->public_url))
        return fail(err, err_len,
                    "a PostgreSQL --db is shared by several servers behind a load balancer: "
                    "give each the same --public_url https://HOST (the name users reach them "
                    "by), so that links and allowed Host headers agree");
    if (c->blob_store && *c->blob_store && !svc_store_is_url(c->db))
        return fail(err, err_len,
                    "--blob_store needs a PostgreSQL --db (postgresql://...): a SQLite "
                    "database keeps its blobs in the file");
    if (c->blob_store && *c->blob_store && (!c->s3_endpoint || !*c->s3_endpoint))
        return fail(err, err_len, "--blob_store needs --s3_endpoint (the object store's URL)");
    if (c->blob_grace_s < 0 || c->blob_grace_s > 365ll * 86400)
        return fail(err, err_len, "--blob_grace must be 0-31536000 seconds");
    if (c->device_token_days < 0 || c->device_token_days > 36500)
        return fail(err, err_len, "--device_token_days must be 0-36500");

    int perr = svc_proxies_parse(c->trusted_proxies_list, &c->trusted_proxies, err, err_len);
    if (perr < 0)
        return perr;
    /* Host headers we answer: the public URL's host, and the loopback names. */
    size_t n = 0;
    if (c->public_url && *c->public_url) {
        const char *u = c->public_url;
        const char *p = strstr(u, "://");
        if (!p || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
            return fail(err, err_len, "--public_url must start with http:// or https://");
        p += 3;
        size_t len = strcspn(p, "/:?#");
        if (p[0] == '[')
            len = strcspn(p, "]") + 1;
        if (!len || len >= sizeof(c->allowed_host_buf[0]))
            return fail(err, err_len, "--public_url has no host");
        memcpy(c->allowed_host_buf[0], p, len);
        c->allowed_host_buf[0][len] = 0;
        c->allowed_hosts[n++] = c->allowed_host_buf[0];
        snprintf(c->url_base, sizeof(c->url_base), "%s", u);
        size_t ul = strlen(c->url_base);
        while (ul && c->url_base[ul - 1] == '/')
            c->url_base[--ul] = 0;
    } else {
        snprintf(c->url_base, sizeof(c->url_base), "%s://%s%s%s:%u", c->tls_cert ? "https" : "http",
                 strchr(c->host, ':') ? "[" : "",
                 !strcmp(c->host, "0.0.0.0") || !strcmp(c->host, "::") ? "localhost" : c->host,
                 strchr(c->host, ':') ? "]" : "", c->port);
    }
    c->https = !strncmp(c->url_base, "https://", 8);
    c->allowed_hosts[n++] = "localhost";
    c->allowed_hosts[n++] = "127.0.0.1";
    c->allowed_hosts[n++] = "[::1]";
    if (strcmp(c->host, "0.0.0.0") && strcmp(c->host, "::")) {
        snprintf(c->allowed_host_buf[1], sizeof(c->allowed_host_buf[1]),
                 strchr(c->host, ':') ? "[%s]" : "%s", c->host);
        c->allowed_hosts[n++] = c->allowed_host_buf[1];
    }
    c->allowed_hosts[n] = NULL;
    return 0;
}
