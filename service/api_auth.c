/* SPDX-License-Identifier: MIT */
/* Signing in: the device-code flow for the CLI, password sessions for the browser, and the
 * signed-in user's sessions. */
#include <errno.h>
#include <inttypes.h>
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

/* Copies what a client says about itself into out[out_len]: printable ASCII and UTF-8 only
 * (anything else becomes '?'), cut at a character boundary. It is shown to people. */
static void client_text(const uint8_t *in, size_t len, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && in[i];) {
        size_t n = 1;
        if (in[i] >= 0x80) {
            n = in[i] >= 0xf0 ? 4 : in[i] >= 0xe0 ? 3 : in[i] >= 0xc0 ? 2 : 1;
            if (i + n > len || !tb_utf8_valid(in + i, n))
                n = 0;
        } else if (in[i] < 0x20 || in[i] == 0x7f) {
            n = 0;
        }
        if (o + (n ? n : 1) >= out_len)
            break;
        if (n) {
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = 0;
}

/* Accepts lower case and a missing dash: "bcdf ghjk" -> "BCDF-GHJK". */
static void normalise_code(const char *code, char norm[10])
{
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
}

static void utc(double t, char *out, size_t len)
{
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, len, "%Y-%m-%d %H:%M UTC", &tm);
}

void svc_h_device_code(struct svc_call *c)
{
    char device[SVC_SECRET_LEN + 1], user_code[10], url[600];
    uint8_t hash[32];
    struct svc_device_info info = {.created = now_s()};
    snprintf(info.client_ip, sizeof(info.client_ip), "%s", c->req->client_ip);
    const struct svc_request *r = c->req;
    if (r->body_len && r->body[0] != '{') {
        Tbdev__V1__DeviceCodeRequest *dr =
            tbdev__v1__device_code_request__unpack(NULL, r->body_len, r->body);
        if (!dr) {
            svc_error(c, 400, "invalid_argument", "the body is not a DeviceCodeRequest");
            return;
        }
        client_text(dr->client_version.data, dr->client_version.len, info.client_version,
                    sizeof(info.client_version));
        client_text(dr->client_host.data, dr->client_host.len, info.client_host,
                    sizeof(info.client_host));
        tbdev__v1__device_code_request__free_unpacked(dr, NULL);
    } else if (r->body_len) {
        char v[256] = "", hn[256] = "";
        json_field(r, "client_version", v, sizeof(v));
        json_field(r, "client_host", hn, sizeof(hn));
        client_text((const uint8_t *)v, strlen(v), info.client_version,
                    sizeof(info.client_version));
        client_text((const uint8_t *)hn, strlen(hn), info.client_host, sizeof(info.client_host));
    }
    if (!info.client_version[0]) { /* an older client: what its User-Agent says */
        const char *ua = svc_req_header(r, "User-Agent");
        if (ua)
            client_text((const uint8_t *)ua, strlen(ua), info.client_version,
                        sizeof(info.client_version));
    }
    int err = svc_secret_new(device);
    if (!err)
        err = svc_user_code_new(user_code);
    if (err < 0) {
        svc_error(c, 500, "internal", "no randomness available");
        return;
    }
    svc_hash_secret(device, hash);
    err = c->app->ops->device_add(c->app->store, hash, user_code, now_s() + DEVICE_TTL_S, &info);
    if (err < 0) {
        svc_store_error(c, err, "device login");
        return;
    }
    /* The page asks for the code: a link that carried it would let anyone who started a
     * login send it to a victim to approve in one click. */
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

/* Issues a new token for user, answering with a TokenGrant; expires 0: never. */
static void grant(struct svc_call *c, const struct svc_user *u, const char *name, double expires)
{
    char token[SVC_TOKEN_LEN + 1], prefix[SVC_TOKEN_SHOWN + 1];
    uint8_t hash[32];
    if (svc_token_new(token) < 0) {
        svc_error(c, 500, "internal", "no randomness available");
        return;
    }
    svc_hash_secret(token, hash);
    snprintf(prefix, sizeof(prefix), "%.*s", SVC_TOKEN_SHOWN, token);
    int err =
        c->app->ops->token_add_expiring(c->app->store, u->id, hash, name, prefix, expires, NULL);
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
    struct svc_device_info info = {0};
    int r = c->app->ops->device_take(c->app->store, hash, now_s(), &u, &info);
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
    char label[256], when[32];
    utc(info.created, when, sizeof(when));
    snprintf(label, sizeof(label), "device login from %s%s%s%s at %s",
             info.client_host[0] ? info.client_host : info.client_ip,
             info.client_host[0] ? " (" : "", info.client_host[0] ? info.client_ip : "",
             info.client_host[0] ? ")" : "", when);
    long long days = c->app->cfg->device_token_days;
    grant(c, &u, label, days > 0 ? now_s() + (double)days * 86400 : 0);
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

/* The start of device/pending and device/approve: a signed-in browser with its CSRF token,
 * an attempt left for the account, and a code in the body, normalised into norm. */
static bool device_request(struct svc_call *c, char norm[10], char user_key[32])
{
    if (!csrf_ok(c))
        return false;
    snprintf(user_key, 32, "%" PRId64, c->user.id);
    if (!svc_throttle_check(c, SVC_TH_DEVICE_USER, user_key))
        return false;
    char code[32];
    if (!json_field(c->req, "user_code", code, sizeof(code))) {
        svc_error(c, 400, "invalid_argument", "send the code the CLI shows: {\"user_code\": ...}");
        return false;
    }
    normalise_code(code, norm);
    return true;
}

static void no_pending(struct svc_call *c)
{
    svc_error(c, 404, "not_found",
              "no pending login with that code (mistyped, or expired?); check the code the "
              "terminal shows, or run 'tbdev auth login' again");
}

void svc_h_device_pending(struct svc_call *c)
{
    char norm[10], user_key[32];
    if (!device_request(c, norm, user_key))
        return;
    struct svc_device_info info;
    int err = c->app->ops->device_pending(c->app->store, norm, &info);
    if (err == -ENOENT) {
        no_pending(c);
        return;
    }
    if (err < 0) {
        svc_store_error(c, err, "looking up the login");
        return;
    }
    svc_throttle_ok(c, SVC_TH_DEVICE_ADDR, NULL);
    svc_throttle_ok(c, SVC_TH_DEVICE_USER, user_key);
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "user_code");
    tb_json_str(&j, norm);
    tb_json_key(&j, "client_ip");
    tb_json_str(&j, info.client_ip);
    tb_json_key(&j, "client_version");
    tb_json_str(&j, info.client_version);
    tb_json_key(&j, "client_host");
    tb_json_str(&j, info.client_host);
    tb_json_key(&j, "requested");
    tb_json_double(&j, info.created);
    tb_json_key(&j, "your_ip");
    tb_json_str(&j, c->req->client_ip);
    tb_json_obj_close(&j);
}

void svc_h_device_approve(struct svc_call *c)
{
    char norm[10], user_key[32];
    if (!device_request(c, norm, user_key))
        return;
    int err = c->app->ops->device_approve(c->app->store, norm, c->user.id);
    if (err == -ENOENT) {
        no_pending(c);
        return;
    }
    if (err < 0) {
        svc_store_error(c, err, "approving the login");
        return;
    }
    svc_throttle_ok(c, SVC_TH_DEVICE_ADDR, NULL);
    svc_throttle_ok(c, SVC_TH_DEVICE_USER, user_key);
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
    /* Per account too: guesses spread over many addresses still meet a limit. Unknown names
     * have buckets as well, so that a 429 says nothing about which accounts exist. */
    if (!svc_throttle_check(c, SVC_TH_LOGIN_USER, user)) {
        memset(pw, 0, sizeof(pw));
        return;
    }
    struct svc_user u;
    int err = c->app->ops->user_get(c->app->store, user, &u);
    if (err < 0 && err != -ENOENT) {
        memset(pw, 0, sizeof(pw));
        svc_store_error(c, err, "signing in");
        return;
    }
    /* One scrypt of the same cost whatever the account: unknown, without a password,
     * disabled or real. */
    bool real = err == 0 && u.password_hash[0];
    bool match = svc_password_check(pw, real ? u.password_hash : svc_password_dummy());
    memset(pw, 0, sizeof(pw));
    if (!match || !real || u.disabled) {
        svc_error(c, 401, "unauthenticated", "wrong user name or password");
        return;
    }
    svc_throttle_ok(c, SVC_TH_LOGIN_ADDR, NULL);
    svc_throttle_ok(c, SVC_TH_LOGIN_USER, user);
    char secret[SVC_SECRET_LEN + 1];
    uint8_t hash[32];
    if (svc_secret_new(secret) < 0) {
        svc_error(c, 500, "internal", "no randomness available");
        return;
    }
    svc_hash_secret(secret, hash);
    struct svc_session_info info = {0};
    snprintf(info.client_ip, sizeof(info.client_ip), "%s", c->req->client_ip);
    const char *ua = svc_req_header(c->req, "User-Agent");
    if (ua)
        client_text((const uint8_t *)ua, strlen(ua), info.user_agent, sizeof(info.user_agent));
    err = c->app->ops->session_add(c->app->store, hash, u.id, now_s() + SESSION_TTL_S, &info);
    if (err < 0) {
        svc_store_error(c, err, "signing in");
        return;
    }
    char cookie[256];
    snprintf(cookie, sizeof(cookie),
             "tbdev_session=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s", secret,
             SESSION_TTL_S, c->req->secure ? "; Secure" : "");
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
                   c->req->secure ? "tbdev_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; "
                                    "Secure"
                                  : "tbdev_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
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

struct session_list {
    struct tb_json *j;
    int64_t current;
};

static int session_json(void *ctx, const struct svc_session_info *s)
{
    struct session_list *l = ctx;
    struct tb_json *j = l->j;
    tb_json_obj_open(j);
    tb_json_key(j, "id");
    tb_json_int(j, s->id);
    tb_json_key(j, "created");
    tb_json_double(j, s->created);
    tb_json_key(j, "expires");
    tb_json_double(j, s->expires);
    tb_json_key(j, "client_ip");
    tb_json_str(j, s->client_ip);
    tb_json_key(j, "user_agent");
    tb_json_str(j, s->user_agent);
    tb_json_key(j, "current");
    tb_json_bool(j, s->id == l->current);
    tb_json_obj_close(j);
    return 0;
}

void svc_h_session_list(struct svc_call *c)
{
    if (!c->authed) {
        svc_error(c, 401, "unauthenticated", "sign in first");
        return;
    }
    struct tb_json j;
    svc_json_begin(c, &j);
    tb_json_obj_open(&j);
    tb_json_key(&j, "sessions");
    tb_json_arr_open(&j);
    struct session_list l = {&j, c->session[0] ? c->session_id : 0};
    int err = c->app->ops->session_list(c->app->store, c->user.name, session_json, &l);
    if (err < 0) {
        svc_store_error(c, err, "listing sessions");
        return;
    }
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
}

void svc_h_session_revoke(struct svc_call *c)
{
    /* A browser proves it is the page (CSRF token); a token may do it from a script. */
    if (!c->by_token && !csrf_ok(c))
        return;
    char *end = NULL;
    long long id = strtoll(c->param, &end, 10);
    if (!end || *end || id <= 0) {
        svc_error(c, 404, "not_found", "no session with that id");
        return;
    }
    int err = c->app->ops->session_revoke(c->app->store, id, c->user.id);
    if (err == -ENOENT) {
        svc_error(c, 404, "not_found", "no session of yours with that id");
        return;
    }
    if (err < 0) {
        svc_store_error(c, err, "ending the session");
        return;
    }
    svc_log_info("user %s ended session %lld", c->user.name, id);
    c->res->status = 204;
}

/* DELETE /api/v1/me/token: revokes the token that authenticates this request (`tbdev auth
 * logout`), so that forgetting a login also ends it on the server. */
void svc_h_me_token_revoke(struct svc_call *c)
{
    if (!c->by_token || !c->token_id) {
        svc_error(c, 401, "unauthenticated", "send the token to revoke in an Authorization header");
        return;
    }
    int err = c->app->ops->token_revoke(c->app->store, c->token_id);
    if (err < 0 && err != -ENOENT) {
        svc_store_error(c, err, "revoking the token");
        return;
    }
    svc_log_info("user %s revoked their token %lld", c->user.name, (long long)c->token_id);
    c->res->status = 204;
}
