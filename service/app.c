/* SPDX-License-Identifier: MIT */
/* Routing, authentication, access rules and shared answers. */
#include "app.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "encode.h"
#include "graph_cache.h"
#include "local.h"
#include "log.h"
#include "tblimits.h"
#include "throttle.h"
#include "tbdev/v1/api.pb-c.h"

#define PROTOBUF "application/x-protobuf"

enum {
    R_WRITE = 1,       /* needs a token, a protobuf body (if any) */
    R_JSON = 2,        /* body is JSON (login, device approval) */
    R_AUTH = 4,        /* a sign-in or device endpoint: a body of TB_AUTH_BODY_MAX at most */
    R_EVENTS = 8,      /* a batch of events: a body of --request_bytes */
    R_SLOW = 16,       /* checks a password: runs on the sign-in threads */
    R_LOCAL = 32,      /* also routed in local mode (local.h): the page and the read API */
    R_LOCAL_ONLY = 64, /* routed in local mode only */
};

struct route {
    const char *method;
    const char *pattern; /* '/'-separated; "{id}" and "{sha}" match one segment */
    void (*handler)(struct svc_call *);
    unsigned flags;
    int throttle; /* 0, or the SVC_TH_* bucket a client address takes an attempt from */
};

static const struct route routes[] = {
    {"GET", "/api/v1/health", svc_h_health, R_LOCAL, 0},
    {"GET", "/api/v1/server-info", svc_h_server_info, 0, 0},
    {"GET", "/api/v1/local", svc_h_local, R_LOCAL, 0}, /* {"local": false} on a server */
    {"POST", "/api/v1/experiments", svc_h_experiment_create, R_WRITE, 0},
    {"GET", "/api/v1/experiments", svc_h_experiment_list, 0, 0},
    {"GET", "/api/v1/experiments/{id}", svc_h_experiment_get, R_LOCAL, 0},
    {"PATCH", "/api/v1/experiments/{id}", svc_h_experiment_update, R_WRITE, 0},
    {"DELETE", "/api/v1/experiments/{id}", svc_h_experiment_delete, R_WRITE, 0},
    {"POST", "/api/v1/experiments/{id}/events", svc_h_write_events, R_WRITE | R_EVENTS, 0},
    {"GET", "/api/v1/experiments/{id}/cursors", svc_h_cursors, 0, 0},
    {"DELETE", "/api/v1/experiments/{id}/runs", svc_h_run_delete, R_WRITE, 0},
    {"GET", "/api/v1/experiments/{id}/runs", svc_h_runs, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/tags", svc_h_tags, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/scalars", svc_h_scalars, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/histograms", svc_h_histograms, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/tensors", svc_h_tensors, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/text", svc_h_text, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/blobs", svc_h_blobs, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/blob/{sha}", svc_h_blob, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/hparams", svc_h_hparams, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/pr_curves", svc_h_pr_curves, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/export", svc_h_export, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/custom_scalars", svc_h_custom_scalars, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/graph", svc_h_graph, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/meshes", svc_h_meshes, R_LOCAL, 0},
    {"GET", "/api/v1/experiments/{id}/mesh_data", svc_h_mesh_data, R_LOCAL, 0},
    {"GET", "/api/v1/users/{id}/experiments", svc_h_user_experiments, 0, 0},
    {"POST", "/api/v1/device/code", svc_h_device_code, R_AUTH, SVC_TH_CODE_ADDR},
    {"POST", "/api/v1/device/token", svc_h_device_token, R_AUTH, 0},
    {"POST", "/api/v1/device/pending", svc_h_device_pending, R_JSON | R_AUTH, SVC_TH_DEVICE_ADDR},
    {"POST", "/api/v1/device/approve", svc_h_device_approve, R_JSON | R_AUTH, SVC_TH_DEVICE_ADDR},
    {"POST", "/api/v1/login", svc_h_login, R_JSON | R_AUTH | R_SLOW, SVC_TH_LOGIN_ADDR},
    {"POST", "/api/v1/logout", svc_h_logout, R_JSON | R_AUTH, 0},
    {"GET", "/api/v1/me", svc_h_me, 0, 0},
    {"DELETE", "/api/v1/me/token", svc_h_me_token_revoke, R_WRITE, 0},
    {"GET", "/api/v1/sessions", svc_h_session_list, 0, 0},
    {"DELETE", "/api/v1/sessions/{id}", svc_h_session_revoke, R_AUTH, 0},
    {"GET", "/static/{id}", svc_h_static, R_LOCAL, 0},
    {"GET", "/", svc_h_local_root, R_LOCAL_ONLY, 0},
    {"GET", "/", svc_h_page, 0, 0},
    {"GET", "/favicon.ico", svc_h_no_content, R_LOCAL, 0},
    {"GET", "/device", svc_h_page, 0, 0},
    {"GET", "/experiment/{id}/", svc_h_page, R_LOCAL, 0},
    {"GET", "/user/{id}", svc_h_page, 0, 0},
    {"GET", "/compare", svc_h_page, 0,
     0}, /* ?e=ID,...: compare.js reads each with the viewer's rights */
};

/* What admission found, for the handler: the route and its parameters. */
struct admitted {
    const struct route *route;
    char id[80];
    char param2[80];
};

struct svc_rate {
    int64_t user_id;
    double tokens, last;
    struct svc_rate *next;
};

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Matches path against pattern; fills the parameters. */
static bool match(const char *pattern, const char *path, struct svc_call *c, char *id,
                  size_t id_len)
{
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            size_t n = strcspn(s, "/");
            if (!pe || n == 0)
                return false;
            bool is_sha = !strncmp(p, "{sha}", 5);
            char *dst = is_sha ? c->param2 : id;
            size_t cap = is_sha ? sizeof(c->param2) : id_len;
            if (n >= cap)
                return false;
            memcpy(dst, s, n);
            dst[n] = 0;
            p = pe + 1;
            s += n;
            continue;
        }
        if (*p != *s)
            return false;
        p++, s++;
    }
    return !*p && !*s;
}

void svc_error(struct svc_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct svc_response *res = c->res;
    res->status = status;
    tb_buf_reset(&res->body);
    if (c->pb) {
        Tbdev__V1__Error e = TBDEV__V1__ERROR__INIT;
        e.code = (char *)code;
        e.message = msg;
        svc_pb_answer(c, status, &e);
        return;
    }
    res->content_type = "application/json";
    struct tb_json j;
    tb_json_init(&j, &res->body);
    tb_json_obj_open(&j);
    tb_json_key(&j, "error");
    tb_json_obj_open(&j);
    tb_json_key(&j, "code");
    tb_json_str(&j, code);
    tb_json_key(&j, "message");
    tb_json_str(&j, msg);
    tb_json_obj_close(&j);
    tb_json_obj_close(&j);
    tb_buf_addc(&res->body, '\n');
}

void svc_store_error(struct svc_call *c, int err, const char *what)
{
    switch (err) {
    case -ENOENT:
        svc_error(c, 404, "not_found", "%s: not found", what);
        break;
    case -EEXIST:
        svc_error(c, 409, "exists", "%s: already exists", what);
        break;
    case -EBUSY:
        svc_res_header(c->res, "Retry-After", "1");
        svc_error(c, 503, "busy", "%s: the server is busy; retry in a second", what);
        break;
    case -ENOSPC:
        svc_res_header(c->res, "Retry-After", "15");
        svc_error(c, 507, "disk_full",
                  "%s: the server's disk is full; nothing was stored. Ask the admin to free "
                  "space, then retry",
                  what);
        break;
    case -EDQUOT:
        svc_error(c, 507, "quota",
                  "%s: your storage quota is used up; nothing was stored. Delete experiments "
                  "you no longer need (tbdev delete) or ask the admin for more",
                  what);
        break;
    case -E2BIG:
        svc_error(c, 413, "too_large", "%s: over a size limit", what);
        break;
    default:
        svc_error(c, 500, "internal", "%s: the server failed (see its log); retry later", what);
        break;
    }
}

bool svc_pb_text(struct svc_call *c, const char *field, ProtobufCBinaryData in, char *out,
                 size_t out_len)
{
    const char *why = NULL;
    if (in.len >= out_len)
        why = "is too long";
    else if (in.len && memchr(in.data, 0, in.len))
        why = "holds a NUL byte";
    else if (!tb_utf8_valid(in.data, in.len))
        why = "is not valid UTF-8";
    if (why) {
        svc_error(c, 400, "invalid_argument", "the %s %s", field, why);
        return false;
    }
    if (in.len)
        memcpy(out, in.data, in.len);
    out[in.len] = 0;
    return true;
}

void svc_pb_answer(struct svc_call *c, int status, const void *msg)
{
    const ProtobufCMessage *m = msg;
    size_t n = protobuf_c_message_get_packed_size(m);
    struct svc_response *res = c->res;
    tb_buf_reset(&res->body);
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp) {
        res->status = 500;
        return;
    }
    protobuf_c_message_pack(m, tmp);
    tb_buf_add(&res->body, tmp, n);
    free(tmp);
    res->status = status;
    res->content_type = PROTOBUF;
}

void svc_json_begin(struct svc_call *c, struct tb_json *j)
{
    c->res->status = 200;
    c->res->content_type = "application/json";
    tb_buf_reset(&c->res->body);
    tb_json_init(j, &c->res->body);
}

void svc_experiment_url(const struct svc_app *app, const char *id, char *out, size_t len)
{
    snprintf(out, len, "%s/experiment/%s/", app->cfg->url_base, id);
}

bool svc_need_token(struct svc_call *c)
{
    if (c->by_token)
        return true;
    svc_error(c, 401, "unauthenticated",
              "this needs an API token in an 'Authorization: Bearer' header; run 'tbdev auth "
              "login' (a browser session cannot write)");
    return false;
}

bool svc_load_experiment(struct svc_call *c, bool owner, struct svc_experiment *ret)
{
    const char *id = c->param;
    if (!svc_is_experiment_id(id)) {
        svc_error(c, 404, "not_found", "no experiment with that ID");
        return false;
    }
    int err = c->app->ops->experiment_get(c->app->store, id, ret);
    if (err < 0 && err != -ENOENT) {
        svc_store_error(c, err, "experiment");
        return false;
    }
    bool ok = false;
    if (err == 0) {
        bool is_owner = c->authed && c->user.id == ret->owner_id;
        if (owner)
            ok = is_owner && c->by_token;
        else if (ret->visibility != SVC_VIS_PRIVATE || is_owner)
            ok = true;
        else if (c->authed)
            ok = c->app->ops->share_check(c->app->store, id, c->user.id) == 0;
    }
    if (!ok)
        svc_error(c, 404, "not_found",
                  "no experiment with that ID, or you may not %s it (check the link and that "
                  "you are signed in as the right user)",
                  owner ? "change" : "see");
    return ok;
}

bool svc_rate_take(struct svc_call *c, uint64_t n)
{
    struct svc_app *app = c->app;
    double rate = (double)app->cfg->points_per_second;
    if (rate <= 0 || !c->authed)
        return true;
    pthread_mutex_lock(&app->rate_lock);
    struct svc_rate *r = app->rates;
    while (r && r->user_id != c->user.id)
        r = r->next;
    if (!r && (r = calloc(1, sizeof(*r)))) {
        r->user_id = c->user.id;
        r->tokens = rate * 10;
        r->last = now_mono();
        r->next = app->rates;
        app->rates = r;
    }
    bool ok = true;
    double wait = 0;
    if (r) {
        double t = now_mono();
        r->tokens = fmin(rate * 10, r->tokens + (t - r->last) * rate);
        r->last = t;
        if (r->tokens <= 0) {
            ok = false;
            wait = ceil(-r->tokens / rate + 0.001);
        } else {
            r->tokens -= (double)n; /* may go into debt: a large request still gets through */
        }
    }
    pthread_mutex_unlock(&app->rate_lock);
    if (!ok) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%.0f", wait < 1 ? 1 : wait);
        svc_res_header(c->res, "Retry-After", ra);
        svc_error(c, 429, "rate_limited",
                  "over the write rate of %.0f values/s for your account; retry after %s s", rate,
                  ra);
    }
    return ok;
}

/* The bucket table of kind, made on first use; NULL when out of memory (not throttled). */
static struct svc_throttle *throttle_of(struct svc_app *app, enum svc_throttle_kind kind)
{
    pthread_mutex_lock(&app->rate_lock);
    struct svc_throttle *t = app->throttles[kind];
    if (!t) {
        double n = (double)app->cfg->login_per_minute;
        t = app->throttles[kind] = svc_throttle_new(TB_THROTTLE_KEYS_MAX, n, 60);
    }
    pthread_mutex_unlock(&app->rate_lock);
    return t;
}

static const char *throttle_key(struct svc_call *c, const char *key, char *buf, size_t len)
{
    if (key)
        return key;
    svc_throttle_addr_key(c->req->client_ip ? c->req->client_ip : "?", buf, len);
    return buf;
}

bool svc_throttle_check(struct svc_call *c, enum svc_throttle_kind kind, const char *key)
{
    static const char *const what[SVC_TH__COUNT] = {
        [SVC_TH_LOGIN_ADDR] = "sign-in attempts from your address",
        [SVC_TH_LOGIN_USER] = "sign-in attempts for this account",
        [SVC_TH_DEVICE_ADDR] = "device-login codes entered from your address",
        [SVC_TH_DEVICE_USER] = "device-login codes entered by your account",
        [SVC_TH_CODE_ADDR] = "device logins started from your address",
    };
    struct svc_app *app = c->app;
    if (app->cfg->login_per_minute <= 0 || kind <= 0 || kind >= SVC_TH__COUNT)
        return true;
    struct svc_throttle *t = throttle_of(app, kind);
    if (!t)
        return true;
    char buf[96];
    unsigned wait = svc_throttle_take(t, throttle_key(c, key, buf, sizeof(buf)), now_mono());
    if (!wait)
        return true;
    char ra[16];
    snprintf(ra, sizeof(ra), "%u", wait);
    svc_res_header(c->res, "Retry-After", ra);
    svc_error(c, 429, "rate_limited", "too many %s (%lld a minute); retry in %u s", what[kind],
              app->cfg->login_per_minute, wait);
    return false;
}

void svc_throttle_ok(struct svc_call *c, enum svc_throttle_kind kind, const char *key)
{
    struct svc_app *app = c->app;
    if (app->cfg->login_per_minute <= 0 || kind <= 0 || kind >= SVC_TH__COUNT)
        return;
    struct svc_throttle *t = throttle_of(app, kind);
    char buf[96];
    if (t)
        svc_throttle_give(t, throttle_key(c, key, buf, sizeof(buf)), now_mono());
}

static bool is_type(const char *ct, const char *want)
{
    if (!ct)
        return false;
    size_t n = strlen(want);
    return !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* Sets c->user from the Authorization header or the session cookie. Returns false (after
 * answering 401) for a token that is present but not valid. */
static bool authenticate(struct svc_call *c)
{
    struct svc_app *app = c->app;
    const char *h = svc_req_header(c->req, "Authorization");
    if (h) {
        const char *tok = NULL;
        if (!strncasecmp(h, "Bearer ", 7))
            tok = h + 7;
        while (tok && *tok == ' ')
            tok++;
        if (!tok || strncmp(tok, SVC_TOKEN_PREFIX, strlen(SVC_TOKEN_PREFIX)) || strlen(tok) > 128) {
            svc_error(c, 401, "unauthenticated",
                      "the Authorization header must be 'Bearer tbdev_...'; run 'tbdev auth "
                      "login' to get a token");
            return false;
        }
        uint8_t hash[32];
        svc_hash_secret(tok, hash);
        int err = app->ops->token_lookup(app->store, hash, &c->user, &c->token_id);
        if (err == -ENOENT) {
            svc_error(c, 401, "unauthenticated",
                      "the API token is not valid (revoked, or its user disabled); run 'tbdev "
                      "auth login' for a new one");
            return false;
        }
        if (err < 0) {
            svc_store_error(c, err, "authentication");
            return false;
        }
        c->authed = c->by_token = true;
        return true;
    }
    if (svc_req_cookie(c->req, "tbdev_session", c->session, sizeof(c->session))) {
        uint8_t hash[32];
        svc_hash_secret(c->session, hash);
        if (app->ops->session_lookup(app->store, hash, &c->user, &c->session_id) == 0)
            c->authed = true;
        else
            c->session[0] = 0;
    }
    return true;
}

/* The one check of every handler's answer: a body that could not be built whole (past
 * --answer_bytes, or out of memory; the error sticks in the buffer) never goes out as if it
 * were, with the handler's status and headers. */
static void answer_check(struct svc_call *c)
{
    struct svc_response *res = c->res;
    int err = res->body.err;
    if (!err || res->static_body)
        return;
    res->n_headers = 0; /* a Content-Disposition, an immutable cache... */
    res->cache_control = NULL;
    if (err == -E2BIG)
        svc_error(c, 413, "too_large",
                  "the answer would be over this server's %zu-byte limit (--answer_bytes); ask "
                  "for less: fewer runs or tags, ?points=N, or a paged answer's pages",
                  res->body.cap);
    else
        svc_error(c, 500, "internal", "the server ran out of memory building the answer; retry");
}

/* Finds the route of req, into a; answers 404, 405 or 301 and returns false if none. */
static bool route_request(struct svc_call *c, struct admitted *a)
{
    const struct svc_request *req = c->req;
    struct svc_response *res = c->res;
    bool path_known = false;
    char allow[64] = "";
    bool local = c->app->local != NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        /* Local mode has the page and the read API only: nothing else is even found. */
        if (local ? !(routes[i].flags & (R_LOCAL | R_LOCAL_ONLY))
                  : (routes[i].flags & R_LOCAL_ONLY))
            continue;
        if (!match(routes[i].pattern, req->path, c, a->id, sizeof(a->id)))
            continue;
        path_known = true;
        if (!strcmp(routes[i].method, req->method)) {
            a->route = &routes[i];
            snprintf(a->param2, sizeof(a->param2), "%s", c->param2);
            return true;
        }
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", routes[i].method);
    }
    if (!strncmp(req->path, "/api/", 5)) {
        if (path_known) {
            svc_res_header(res, "Allow", allow);
            svc_error(c, 405, "method_not_allowed", "%s is not allowed here; use %s", req->method,
                      allow);
        } else {
            svc_error(c, 404, "not_found", "no such API endpoint: see the README's API section");
        }
        return false;
    }
    if (!strncmp(req->path, "/experiment/", 12) && !strchr(req->path + 12, '/')) {
        /* /experiment/ID without the slash: send people to the canonical link */
        char loc[200];
        snprintf(loc, sizeof(loc), "%.180s/", req->path);
        svc_res_header(res, "Location", loc);
        res->status = 301;
        return false;
    }
    svc_error(c, 404, "not_found", "not found");
    return false;
}

/* What every request passes before its handler, from its headers alone: a body of the
 * route's type, a valid token if one is given, a token for writes. */
static bool gate(struct svc_call *c, const struct admitted *a)
{
    const char *ctype = svc_req_header(c->req, "Content-Type");
    unsigned flags = a->route->flags;
    if (c->req->has_body || c->req->body_len) {
        if ((flags & R_WRITE) && !is_type(ctype, PROTOBUF)) {
            svc_error(c, 415, "unsupported_media_type",
                      "send the body as application/x-protobuf (tbdev does this for you)");
            return false;
        }
        if ((flags & R_JSON) && !is_type(ctype, "application/json")) {
            svc_error(c, 415, "unsupported_media_type", "send the body as application/json");
            return false;
        }
    }
    if (!authenticate(c))
        return false;
    if ((flags & R_WRITE) && !svc_need_token(c))
        return false;
    return true;
}

static void call_init(struct svc_call *c, struct svc_app *app, const struct svc_request *req,
                      struct svc_response *res)
{
    *c = (struct svc_call){.app = app, .req = req, .res = res};
    const char *accept = svc_req_header(req, "Accept");
    const char *ctype = svc_req_header(req, "Content-Type");
    c->pb = (accept && strstr(accept, PROTOBUF)) || is_type(ctype, PROTOBUF);
}

bool svc_app_admit(void *ctx, const struct svc_request *req, struct svc_response *res,
                   struct svc_admission *ret)
{
    struct svc_app *app = ctx;
    struct svc_call c;
    call_init(&c, app, req, res);
    struct admitted *a = calloc(1, sizeof(*a));
    if (!a) {
        svc_res_header(res, "Retry-After", "1");
        svc_error(&c, 503, "busy", "the server is out of memory; retry in a second");
        return false;
    }
    if (!route_request(&c, a) || !gate(&c, a) ||
        (a->route->throttle && !svc_throttle_check(&c, a->route->throttle, NULL))) {
        free(a);
        return false;
    }
    unsigned flags = a->route->flags;
    size_t cap = (flags & R_EVENTS)  ? (size_t)app->cfg->request_bytes
                 : (flags & R_AUTH)  ? TB_AUTH_BODY_MAX
                 : (flags & R_WRITE) ? TB_SMALL_BODY_MAX
                                     : 0;
    *ret = (struct svc_admission){
        .body_max = cap,
        .decoded_max = (flags & R_WRITE) ? cap : 0,
        .lane = (flags & R_SLOW)                   ? SVC_LANE_SLOW
                : !strcmp(a->route->method, "GET") ? SVC_LANE_POOL
                                                   : SVC_LANE_WRITE,
        .state = a,
    };
    return true;
}

void svc_app_handle(void *ctx, const struct svc_request *req, struct svc_response *res)
{
    struct svc_call c;
    call_init(&c, ctx, req, res);
    struct admitted local = {0};
    const struct admitted *a = req->state;
    if (!a) { /* not admitted through svc_app_admit: route here */
        if (!route_request(&c, &local))
            return;
        a = &local;
    }
    c.param = a->id;
    snprintf(c.param2, sizeof(c.param2), "%s", a->param2);
    /* Again, now with the body: a token revoked since the headers came stops here. */
    if (!gate(&c, a))
        return;
    res->body.cap = (size_t)c.app->cfg->answer_bytes;
    a->route->handler(&c);
    answer_check(&c);
    svc_encode_response(svc_req_header(req, "Accept-Encoding"), res);
}

void svc_app_http_config(struct svc_app *app, struct svc_http_config *ret)
{
    const struct svc_config *cfg = app->cfg;
    *ret = (struct svc_http_config){
        .host = cfg->host,
        .port = cfg->port,
        .threads = (unsigned)cfg->threads,
        .write_threads = (unsigned)cfg->write_threads,
        .slow_threads = (unsigned)cfg->auth_threads,
        .conn_timeout_s = (unsigned)cfg->conn_timeout_s,
        .body_deadline_s = (unsigned)cfg->body_deadline_s,
        .header_deadline_s = (unsigned)cfg->header_deadline_s,
        .conns_per_ip = (unsigned)cfg->conns_per_ip,
        .conn_limit = (unsigned)cfg->conn_limit,
        .header_bytes = 64 * 1024,
        .body_max = (size_t)cfg->request_bytes,
        .body_decoded_max = (size_t)cfg->request_bytes,
        .body_memory = (size_t)cfg->body_memory,
        .allowed_hosts = cfg->allowed_hosts,
        .trusted_proxies = &cfg->trusted_proxies,
        .hsts = cfg->https,
        .secure = cfg->https,
        .handler = svc_app_handle,
        .admit = svc_app_admit,
        .handler_ctx = app,
        .log_requests = !cfg->quiet,
    };
}

void svc_app_done(struct svc_app *app)
{
    struct svc_rate *r = app->rates;
    while (r) {
        struct svc_rate *next = r->next;
        free(r);
        r = next;
    }
    app->rates = NULL;
    for (int i = 0; i < SVC_TH__COUNT; i++) {
        svc_throttle_free(app->throttles[i]);
        app->throttles[i] = NULL;
    }
    svc_graph_cache_free(app->graph_cache);
    app->graph_cache = NULL;
    pthread_mutex_destroy(&app->rate_lock);
    svc_encode_cache_free();
}

void svc_h_no_content(struct svc_call *c)
{
    c->res->status = 204;
}

/* GET /api/v1/health: 200 {"status":"ok"} while the process serves. With ?db=1 the database
 * is asked too (one read of a row that does not exist), for checkers behind a load balancer:
 * 503 {"status":"unavailable","database":"..."} when it does not answer, so an instance cut
 * off from PostgreSQL is taken out of the pool. */
void svc_h_health(struct svc_call *c)
{
    const char *db = svc_req_query(c->req, "db");
    bool check_db = db && strcmp(db, "0") != 0;
    int err = 0;
    if (check_db) {
        struct svc_user u;
        err = c->app->ops->user_get_id(c->app->store, 0, &u);
        if (err == -ENOENT)
            err = 0;
    }
    struct tb_json j;
    svc_json_begin(c, &j);
    if (err) {
        c->res->status = 503;
        svc_res_header(c->res, "Retry-After", "5");
    }
    tb_json_obj_open(&j);
    tb_json_key(&j, "status");
    tb_json_str(&j, err ? "unavailable" : "ok");
    if (check_db) {
        tb_json_key(&j, "database");
        tb_json_str(&j, err ? (err == -EBUSY ? "cannot connect" : strerror(-err)) : "ok");
    }
    tb_json_obj_close(&j);
}
