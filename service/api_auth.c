/* SPDX-License-Identifier: MIT */
/* Signing in: the device-code flow for the CLI, and password sessions for the browser. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "auth.h"
#include "log.h"
#include "tbdev/v1/api.pb-c.h"
#include "wirescan.h"

#define DEVICE_TTL_S 600
#define DEVICE_POLL_S 3
#define SESSION_TTL_S (30 * 24 * 3600)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads a string member of a small flat JSON object body, unescaping \" and \\ only; enough
 * for {"user": "...", "password": "..."} from our own pages. Returns false if absent. */
static bool json_field(const struct svc_request *r, const char *key, char *out, size_t len)
{
    if (!r->body || !r->body_len)
        return false;
    const char *b = (const char *)r->body;
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = strstr(b, pat);
    if (!p)
        return false;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n')
        p++;
    if (*p != '"')
        return false;
    p++;
    size_t o = 0;
    while (*p && *p != '"') {
        char ch = *p++;
        if (ch == '\\') {
            if (!*p)
                return false;
            ch = *p++;
            if (ch == 'n')
                ch = '\n';
            else if (ch != '"' && ch != '\\' && ch != '/')
                return false; /* \u escapes are not needed by our pages */
        }
        if (o + 1 >= len)
            return false;
        out[o++] = ch;
    }
    if (*p != '"')
        return false;
    out[o] = 0;
    return true;
}

void svc_h_device_code(struct svc_call *c)
{
    char device[SVC_SECRET_LEN + 1], user_code[10], url[600];
    uint8_t hash[32];
    int err = svc_secret_new(device);
    if (!err)
        err = svc_user_code_new(user_code);
    if (err < 0) {
        svc_error(c, 500, "internal", "no randomness available");
        return;
    }
    svc_hash_secret(device, hash);
    err = c->app->ops->device_add(c->app->store, hash, user_code, now_s() + DEVICE_TTL_S);
    if (err < 0) {
        svc_store_error(c, err, "device login");
        return;
    }
    snprintf(url, sizeof(url), "%s/device", c->app->cfg->url_base);
    if (c->pb) {
        Tbdev__V1__DeviceCode dc = TBDEV__V1__DEVICE_CODE__INIT;
        dc.device_code = device;
        dc.user_code = user_code;
        dc.verification_url = url;
        dc.interval = DEVICE_POLL_S;
        dc.expires_in = DEVICE_TTL_S;
        svc_pb_answer(c, 200, &dc);
        return;
    }
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "device_code");
    tb_json_str(&j, device);
    tb_json_key(&j, "user_code");
    tb_json_str(&j, user_code);
    tb_json_key(&j, "verification_url");
    tb_json_str(&j, url);
    tb_json_key(&j, "interval");
    tb_json_int(&j, DEVICE_POLL_S);
    tb_json_key(&j, "expires_in");
    tb_json_int(&j, DEVICE_TTL_S);
    tb_json_obj_close(&j);
}

/* Issues a new token for user, answering with a TokenGrant. */
static void grant(struct svc_call *c, const struct svc_user *u, const char *name)
{
    char token[SVC_TOKEN_LEN + 1], prefix[SVC_TOKEN_SHOWN + 1];
    uint8_t hash[32];
    if (svc_token_new(token) < 0) {
        svc_error(c, 500, "internal", "no randomness available");
        return;
    }
    svc_hash_secret(token, hash);
    snprintf(prefix, sizeof(prefix), "%.*s", SVC_TOKEN_SHOWN, token);
    int err = c->app->ops->token_add(c->app->store, u->id, hash, name, prefix, NULL);
    if (err < 0) {
        svc_store_error(c, err, "issuing a token");
        return;
    }
    svc_log_info("issued token %s... to user %s (%s)", prefix, u->name, name);
    if (c->pb) {
        Tbdev__V1__TokenGrant g = TBDEV__V1__TOKEN_GRANT__INIT;
        g.token = token;
        g.user = (char *)u->name;
        svc_pb_answer(c, 200, &g);
        return;
    }
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "token");
    tb_json_str(&j, token);
    tb_json_key(&j, "user");
    tb_json_str(&j, u->name);
    tb_json_obj_close(&j);
}

void svc_h_device_token(struct svc_call *c)
{
    char device[SVC_SECRET_LEN + 8] = "";
    if (c->pb || (c->req->body && c->req->body[0] != '{')) {
        Tbdev__V1__DeviceTokenRequest *r = (Tbdev__V1__DeviceTokenRequest *)tb_wirescan_unpack(
            &tbdev__v1__device_token_request__descriptor, NULL, c->req->body_len, c->req->body,
            NULL);
        if (r && r->device_code && strlen(r->device_code) < sizeof(device))
            strcpy(device, r->device_code);
        if (r)
            tbdev__v1__device_token_request__free_unpacked(r, NULL);
    } else {
        json_field(c->req, "device_code", device, sizeof(device));
    }
    if (!device[0]) {
        svc_error(c, 400, "invalid_argument", "send the device_code from /api/v1/device/code");
        return;
    }
    uint8_t hash[32];
    svc_hash_secret(device, hash);
    struct svc_user u;
    int r = c->app->ops->device_take(c->app->store, hash, now_s(), &u);
    if (r == 0) {
        svc_error(c, 400, "authorization_pending",
                  "not approved yet: open the link, sign in and enter the code");
        return;
    }
    if (r == -ENOENT) {
        svc_error(c, 400, "expired_token",
                  "this login code is unknown or expired; run 'tbdev auth login' again");
        return;
    }
    if (r < 0) {
        svc_store_error(c, r, "device login");
        return;
    }
    grant(c, &u, "device login");
}

/* Cookie-authorised POSTs must carry the session's CSRF token in a header. */
static bool csrf_ok(struct svc_call *c)
{
    if (!c->authed || c->by_token || !c->session[0]) {
        svc_error(c, 401, "unauthenticated", "sign in first");
        return false;
    }
    char want[SVC_SECRET_LEN + 1];
    svc_csrf_token(c->session, want);
    const char *got = svc_req_header(c->req, "X-CSRF-Token");
    if (!got || strlen(got) != strlen(want) || !svc_equal(got, want, strlen(want))) {
        svc_error(c, 403, "csrf", "missing or wrong X-CSRF-Token header; reload the page");
        return false;
    }
    return true;
}

void svc_h_device_approve(struct svc_call *c)
{
    if (!csrf_ok(c))
        return;
    char code[32];
    if (!json_field(c->req, "user_code", code, sizeof(code))) {
        svc_error(c, 400, "invalid_argument", "send the code the CLI shows: {\"user_code\": ...}");
        return;
    }
    /* Accept lower case and a missing dash. */
    char norm[10] = "";
    size_t o = 0;
    for (const char *p = code; *p && o < 9; p++) {
        char ch = *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
        if (ch == '-' || ch == ' ')
            continue;
        if (o == 4)
            norm[o++] = '-';
        norm[o++] = ch;
    }
    norm[o] = 0;
    int err = c->app->ops->device_approve(c->app->store, norm, c->user.id);
    if (err == -ENOENT) {
        svc_error(c, 404, "not_found",
                  "no pending login with that code (expired?); run 'tbdev "
                  "auth login' again");
        return;
    }
    if (err < 0) {
        svc_store_error(c, err, "approving the login");
        return;
    }
    svc_log_info("user %s approved a device login", c->user.name);
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "approved");
    tb_json_bool(&j, true);
    tb_json_obj_close(&j);
}

void svc_h_login(struct svc_call *c)
{
    char user[SVC_USER_NAME_MAX + 1], pw[256];
    if (!json_field(c->req, "user", user, sizeof(user)) ||
        !json_field(c->req, "password", pw, sizeof(pw))) {
        svc_error(c, 400, "invalid_argument", "send {\"user\": ..., \"password\": ...}");
        return;
    }
    struct svc_user u;
    int err = c->app->ops->user_get(c->app->store, user, &u);
    bool ok =
        err == 0 && !u.disabled && u.password_hash[0] && svc_password_check(pw, u.password_hash);
    if (err == -ENOENT || (err == 0 && !u.password_hash[0]))
        svc_password_check(
            pw,
            "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    memset(pw, 0, sizeof(pw));
    if (err < 0 && err != -ENOENT) {
        svc_store_error(c, err, "signing in");
        return;
    }
    if (!ok || !svc_rate_take(c, 0)) {
        svc_error(c, 401, "unauthenticated", "wrong user name or password");
        return;
    }
    char secret[SVC_SECRET_LEN + 1];
    uint8_t hash[32];
    if (svc_secret_new(secret) < 0) {
        svc_error(c, 500, "internal", "no randomness available");
        return;
    }
    svc_hash_secret(secret, hash);
    err = c->app->ops->session_add(c->app->store, hash, u.id, now_s() + SESSION_TTL_S);
    if (err < 0) {
        svc_store_error(c, err, "signing in");
        return;
    }
    char cookie[256];
    snprintf(cookie, sizeof(cookie),
             "tbdev_session=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s", secret,
             SESSION_TTL_S, c->req->tls ? "; Secure" : "");
    svc_res_header(c->res, "Set-Cookie", cookie);
    char csrf[SVC_SECRET_LEN + 1];
    svc_csrf_token(secret, csrf);
    svc_log_info("user %s signed in", u.name);
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "user");
    tb_json_str(&j, u.name);
    tb_json_key(&j, "csrf_token");
    tb_json_str(&j, csrf);
    tb_json_obj_close(&j);
}

void svc_h_logout(struct svc_call *c)
{
    if (!csrf_ok(c))
        return;
    uint8_t hash[32];
    svc_hash_secret(c->session, hash);
    c->app->ops->session_delete(c->app->store, hash);
    svc_res_header(c->res, "Set-Cookie",
                   "tbdev_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    c->res->status = 204;
}

void svc_h_me(struct svc_call *c)
{
    struct tb_json j;
    if (!c->authed) {
        /* 200, not 401: pages ask this of every visitor, and being anonymous is no error */
        svc_json_begin(c, &j);
        tb_json_obj_open(&j);
        tb_json_key(&j, "user");
        tb_json_null(&j);
        tb_json_obj_close(&j);
        return;
    }
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "user");
    tb_json_str(&j, c->user.name);
    if (c->session[0]) {
        char csrf[SVC_SECRET_LEN + 1];
        svc_csrf_token(c->session, csrf);
        tb_json_key(&j, "csrf_token");
        tb_json_str(&j, csrf);
    }
    tb_json_key(&j, "used_bytes");
    tb_json_uint(&j, c->user.used_bytes);
    tb_json_obj_close(&j);
}
