/* SPDX-License-Identifier: MIT */
/* The application: routes, authentication, access rules, and the helpers handlers share. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "config.h"
#include "http.h"
#include "json.h"
#include <protobuf-c/protobuf-c.h>
#include "store.h"

/* Buckets of attempts (throttle.h), per client address or per account. */
enum svc_throttle_kind {
    SVC_TH_LOGIN_ADDR = 1, /* sign-in attempts from an address */
    SVC_TH_LOGIN_USER,     /* ... for an account */
    SVC_TH_DEVICE_ADDR,    /* device-code lookups and approvals from an address */
    SVC_TH_DEVICE_USER,    /* ... by a signed-in account */
    SVC_TH_CODE_ADDR,      /* device codes asked for from an address */
    SVC_TH__COUNT
};

struct svc_app {
    const struct svc_config *cfg;
    const struct svc_store_ops *ops;
    struct svc_store *store;
    pthread_mutex_t rate_lock; /* guards rates, and making throttles and the graph cache */
    struct svc_rate *rates;    /* per-user token buckets, a small list */
    struct svc_throttle *throttles[SVC_TH__COUNT]; /* made on first use */
    struct svc_graph_cache *graph_cache;           /* made on first use (api_graph.c) */
    struct svc_local *local; /* local mode (local.h): only its routes; NULL otherwise */
};

/* One request being handled: what every handler gets. */
struct svc_call {
    struct svc_app *app;
    const struct svc_request *req;
    struct svc_response *res;
    bool pb;       /* answer in protobuf (the client asked for it) */
    bool authed;   /* a user is known, by token or by session cookie */
    bool by_token; /* ... and by an Authorization header: may write */
    struct svc_user user;
    char session[64];   /* the session secret, when authed by cookie */
    int64_t session_id; /* ... and its id */
    int64_t token_id;   /* the token's id, when authed by token */
    const char *param;  /* the {id} of the route, if any */
    char param2[80];    /* a second path parameter (a blob's hex hash) */
};

/* Frees what the app allocated while serving (rate buckets, throttles, the graph cache). */
void svc_app_done(struct svc_app *app);

/* The HTTP settings for serving app as its configuration says (app->cfg, validated), without
 * TLS material: the caller adds tls_cert_pem / tls_key_pem, or changes what it must. */
void svc_app_http_config(struct svc_app *app, struct svc_http_config *ret);

/* The HTTP handler given to svc_http_start; ctx is the struct svc_app. */
void svc_app_handle(void *ctx, const struct svc_request *req, struct svc_response *res);

/* The admit callback given to svc_http_start (before the body): routes, checks the body's
 * type and the token, throttles sign-in and device endpoints per address, and sets the
 * route's body cap and lane. */
bool svc_app_admit(void *ctx, const struct svc_request *req, struct svc_response *res,
                   struct svc_admission *ret);

/* Takes an attempt of kind for key (NULL: the client's address) when --login_per_minute is
 * set; false after answering 429 with Retry-After when there is none left. */
bool svc_throttle_check(struct svc_call *c, enum svc_throttle_kind kind, const char *key);
/* Gives the attempt back: it succeeded. */
void svc_throttle_ok(struct svc_call *c, enum svc_throttle_kind kind, const char *key);

/* Answers with an error: status, a stable code, and a message a person can act on.
 * In protobuf (tbdev.v1.Error) or JSON, as the client asked. */
void svc_error(struct svc_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers a store error: 404, 409, 503 with Retry-After, 507, or 500. */
void svc_store_error(struct svc_call *c, int err, const char *what);

/* Requires a user authenticated by an Authorization header (writes). Answers 401 if not. */
bool svc_need_token(struct svc_call *c);

/* Loads the experiment c->param if the caller may read it (or, with owner, write it).
 * Answers 404 (the same for missing and not yours) and returns false otherwise. */
bool svc_load_experiment(struct svc_call *c, bool owner, struct svc_experiment *ret);

/* Starts a JSON answer: status 200, content type, and a writer over the body. */
void svc_json_begin(struct svc_call *c, struct tb_json *j);

/* A text field of a request (declared bytes in api.proto) as a NUL-terminated string in out.
 * Returns false, after answering 400 naming the field, if it holds a NUL, is not UTF-8, or is
 * longer than out_len - 1 bytes. */
bool svc_pb_text(struct svc_call *c, const char *field, ProtobufCBinaryData in, char *out,
                 size_t out_len);

/* Answers a packed protobuf message (ProtobufCMessage). */
void svc_pb_answer(struct svc_call *c, int status, const void *msg);

/* The experiment's shareable link, into out. */
void svc_experiment_url(const struct svc_app *app, const char *id, char *out, size_t len);

/* Rate limit: takes n units from the user's bucket; false (and a 429 with Retry-After
 * answered) when the bucket is empty. */
bool svc_rate_take(struct svc_call *c, uint64_t n);

/* Handlers (api_upload.c, ingest.c, api_read.c, api_auth.c). */
void svc_h_server_info(struct svc_call *c);
void svc_h_experiment_create(struct svc_call *c);
void svc_h_experiment_list(struct svc_call *c);
void svc_h_experiment_get(struct svc_call *c);
void svc_h_experiment_update(struct svc_call *c);
void svc_h_experiment_delete(struct svc_call *c);
void svc_h_user_experiments(struct svc_call *c);
void svc_h_cursors(struct svc_call *c);
void svc_h_run_delete(struct svc_call *c);
void svc_h_write_events(struct svc_call *c);
void svc_h_runs(struct svc_call *c);
void svc_h_tags(struct svc_call *c);
void svc_h_scalars(struct svc_call *c);
void svc_h_histograms(struct svc_call *c);
void svc_h_tensors(struct svc_call *c);
void svc_h_text(struct svc_call *c);
void svc_h_blobs(struct svc_call *c);
void svc_h_blob(struct svc_call *c);
void svc_h_hparams(struct svc_call *c);
void svc_h_pr_curves(struct svc_call *c);
void svc_h_meshes(struct svc_call *c);
void svc_h_mesh_data(struct svc_call *c);
void svc_h_export(struct svc_call *c);
void svc_h_custom_scalars(struct svc_call *c);
void svc_h_graph(struct svc_call *c);
void svc_h_device_code(struct svc_call *c);
void svc_h_device_token(struct svc_call *c);
void svc_h_device_pending(struct svc_call *c);
void svc_h_device_approve(struct svc_call *c);
void svc_h_session_list(struct svc_call *c);
void svc_h_session_revoke(struct svc_call *c);
void svc_h_login(struct svc_call *c);
void svc_h_logout(struct svc_call *c);
void svc_h_me(struct svc_call *c);
void svc_h_me_token_revoke(struct svc_call *c);
void svc_h_health(struct svc_call *c);
void svc_h_no_content(struct svc_call *c);
void svc_h_static(struct svc_call *c);
void svc_h_page(struct svc_call *c);
