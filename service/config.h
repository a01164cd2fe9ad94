/* SPDX-License-Identifier: MIT */
/* tbdev-server's configuration: defaults, then TBDEV_* environment variables, then flags. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "opts.h"

struct svc_config {
    const char *db;         /* SQLite database file, or a postgresql:// URL */
    const char *blob_store; /* s3://BUCKET[/PREFIX]: blobs in object storage (PostgreSQL only) */
    const char *s3_endpoint, *s3_region, *s3_access_key, *s3_secret_key;
    long long blob_grace_s; /* an unreferenced blob's object is deleted after this */
    const char *listen;     /* HOST:PORT */
    const char *tls_cert;   /* PEM files; both or neither */
    const char *tls_key;
    const char *public_url;           /* how users reach the server, e.g. https://tb.example.org */
    const char *trusted_proxies_list; /* --trusted_proxies: addresses and networks */
    long long threads;
    long long write_threads;
    long long conn_timeout_s;
    long long body_deadline_s;
    long long header_deadline_s;
    long long conns_per_ip;
    long long conn_limit;
    long long request_bytes;     /* decompressed request body cap */
    long long record_bytes;      /* TFRecord payload cap */
    long long blob_bytes;        /* one image, audio clip or graph */
    long long answer_bytes;      /* one answer's body (JSON, CSV, an export) */
    long long body_memory;       /* request bodies held at once, all connections */
    long long auth_threads;      /* threads that check passwords */
    long long login_per_minute;  /* sign-in and device attempts per address and account */
    long long device_token_days; /* device-login tokens expire after this; 0: never */
    long long points_per_second; /* per user, sustained; 0: no limit */
    long long quota_bytes;       /* per user, default; 0: none */
    long long max_db_bytes;      /* the database file's cap; 0: the disk is the cap */
    long long runs_per_experiment;
    long long tags_per_run;
    const char *allowed_plugins; /* comma-separated; empty: all */
    bool quiet;                  /* no per-request log lines */
    /* derived by svc_config_validate: */
    char host[256];
    uint16_t port;
    char url_base[512]; /* public_url without a trailing slash */
    bool https;         /* url_base is https://: cookies are Secure, HSTS is sent */
    const char *allowed_hosts[8];
    char allowed_host_buf[4][256];
    struct svc_proxies trusted_proxies; /* parsed trusted_proxies_list */
};

extern const struct tb_opt svc_serve_options[];
extern const size_t svc_serve_options_n;

/* Fills the defaults. */
void svc_config_defaults(struct svc_config *c);

/* Checks the config and derives the fields after `quiet`. Returns 0, or -EINVAL with a
 * message for the user in err. */
int svc_config_validate(struct svc_config *c, char *err, size_t err_len);
