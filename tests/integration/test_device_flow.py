#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: the device login flow against phishing, and web sessions (issue 12,
items 5 and 8).

Usage:  test_device_flow.py PATH/TO/tbdev PATH/TO/tbdev-server

1. The real `tbdev auth login` asks for a code; the link it prints carries no code; the
   signed-in user's lookup of the code (POST /api/v1/device/pending) shows who asked: the
   client's address, the time, "tbdev VERSION" and its host name; approval gives the CLI a
   token whose label says "device login from HOST (ADDRESS) at TIME", which expires after
   --device_token_days and is listed by `tbdev-server token list`; past its expiry it is
   refused.
2. What a client says about itself is stored as text: control characters are replaced, long
   values cut; an HTML payload comes back verbatim in JSON (the page shows it as text).
3. Approve and lookup attempts are throttled per address and per account: 12 wrong codes in
   a row get 404 ten times, then 429 with Retry-After (it was 3,000 attempts a second, all
   404).
4. Sessions: listed for their user (API and `tbdev-server session list`), revoked by the user
   (DELETE /api/v1/sessions/ID) or the admin (`session revoke ID`), and all ended by a
   password change (`user passwd`).
5. Cookies and HSTS behind a TLS proxy: with --public_url https://... on a plain-HTTP
   listener, the session cookie is Secure and Strict-Transport-Security is sent; with an
   http:// public URL neither.

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0, 1, or 77 (no openssl).
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402

PASSWORD = "alice's long password"


def sign_in(srv, user="alice", password=PASSWORD, headers=None):
    r = srv.request("POST", "/api/v1/login", content_type="application/json", headers=headers,
                    body=json.dumps({"user": user, "password": password}).encode())
    if r.status != 200:
        raise L.ServerError("login: " + r.short())
    m = re.match(r"tbdev_session=([^;]+)", r.header("Set-Cookie") or "")
    cookie = "tbdev_session=" + (m.group(1) if m else "")
    return {"Cookie": cookie, "X-CSRF-Token": r.json()["csrf_token"]}, r


def post_json(srv, path, obj, hdr):
    return srv.request("POST", path, content_type="application/json", headers=hdr,
                       body=json.dumps(obj).encode())


def device_cli(rep, srv, tbdev, tmp):
    home = os.path.join(tmp, "cli-home")
    os.makedirs(os.path.join(home, "cfg"), exist_ok=True)
    env = L.clean_env()
    env.update({"HOME": home, "XDG_CONFIG_HOME": os.path.join(home, "cfg")})
    err_path = os.path.join(tmp, "cli.err")
    with open(err_path, "wb") as err:
        p = subprocess.Popen([tbdev, "auth", "login", "--server", srv.url, "--cacert", srv.cert],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                             env=env)
    try:
        code = url = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not code:
            with open(err_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            m = re.search(r"code: ([A-Z]{4}-[A-Z]{4})", text)
            u = re.search(r"(https?://\S+)", text)
            if m and u:
                code, url = m.group(1), u.group(1)
            time.sleep(0.1)
        rep.check(code, "tbdev auth login shows a code", text[-300:] if not code else "")
        if not code:
            return
        rep.check(url.endswith("/device") and code not in url and "code=" not in url,
                  "the link it prints carries no code (the person types it)", url)
        hdr, _ = sign_in(srv)
        r = post_json(srv, "/api/v1/device/pending", {"user_code": code.lower().replace("-", "")},
                      hdr)
        d = r.json() if r.status == 200 else {}
        rep.status(r, 200, "device/pending with the code (lower case, no dash): 200")
        rep.eq(d.get("client_ip"), "127.0.0.1", "device/pending: the asking client's address")
        rep.check(re.fullmatch(r"tbdev \d+\.\d+\.\d+.*", d.get("client_version", "")),
                  "device/pending: the client's version (tbdev VERSION)", repr(d))
        rep.eq(d.get("client_host"), socket.gethostname()[:63],
               "device/pending: the client's host name")
        rep.check(abs(d.get("requested", 0) - time.time()) < 60,
                  "device/pending: when it asked", repr(d))
        r = post_json(srv, "/api/v1/device/approve", {"user_code": code}, hdr)
        rep.status(r, 200, "device/approve: 200")
        try:
            out, _ = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        rep.eq(p.returncode, 0, "tbdev auth login finishes after the approval")
        toks = [t for t in srv.token_list("alice") if t["label"].startswith("device login")]
        rep.check(len(toks) == 1, "token list: one device-login token for alice", repr(toks))
        if not toks:
            return
        t = toks[0]
        want = r"device login from %s \(127\.0\.0\.1\) at \d{4}-\d\d-\d\d \d\d:\d\d UTC" % \
            re.escape(socket.gethostname()[:63])
        rep.check(re.fullmatch(want, t["label"]),
                  "the token's label: device login from HOST (ADDRESS) at TIME", t["label"])
        exp = time.mktime(time.strptime(t["expires"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone \
            if t.get("expires") else None
        rep.check(exp and abs(exp - (time.time() + 3 * 86400)) < 3600,
                  "the token expires after --device_token_days 3", repr(t))
        rc, out_text, _ = srv.admin("token", "list", "alice")
        rep.check(rc == 0 and "device login from" in out_text and "EXPIRES" in out_text and
                  re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +live", out_text),
                  "token list (text) shows the label and the expiry", out_text[-300:])
        # the CLI saved it; it works until its expiry, then not
        creds = open(os.path.join(home, "cfg", "tbdev", "credentials")).read()
        m = re.search(r"(tbdev_[A-Za-z0-9_-]{32})", creds)
        token = m.group(1) if m else ""
        rep.status(srv.get("/api/v1/me", token=token), 200, "the device token works")
        L.db_exec(srv.db, "UPDATE tokens SET expires = %r WHERE id = %d"
                  % (time.time() - 1, int(t["id"])))
        rep.status(srv.get("/api/v1/me", token=token), 401, "past its expiry it is refused")
        st = [x for x in srv.token_list("alice") if x["id"] == t["id"]][0]["state"]
        rep.eq(st, "expired", "token list says it expired")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def device_api(rep, srv):
    # what a client says about itself: stored as text, cut short
    evil = '<img src=x onerror="window.__x=1">'
    r = srv.request("POST", "/api/v1/device/code", accept=L.PROTOBUF,
                    body=L.f_bytes(1, b"tbdev 9.9\x1b[31m\r\nfake") + L.f_bytes(2, evil.encode()
                                                                                 + b"x" * 200),
                    content_type=L.PROTOBUF)
    dc = r.pb("DeviceCode") if r.status == 200 else {}
    rep.status(r, 200, "device/code with a DeviceCodeRequest: 200")
    rep.check(dc.get("verification_url", "").endswith("/device"),
              "verification_url is the bare /device page", repr(dc))
    hdr, _ = sign_in(srv)
    d = post_json(srv, "/api/v1/device/pending", {"user_code": dc.get("user_code", "")},
                  hdr).json()
    rep.eq(d.get("client_version"), "tbdev 9.9?[31m??fake",
           "control characters in the client's version are replaced")
    rep.check(d.get("client_host", "").startswith(evil) and len(d["client_host"]) == 64,
              "an HTML host name comes back verbatim, cut to 64 bytes", repr(d.get("client_host")))
    # an older client with no body: the version from its User-Agent
    r = srv.request("POST", "/api/v1/device/code", accept=L.PROTOBUF,
                    headers={"User-Agent": "tbdev/0.0.9"})
    code = r.pb("DeviceCode")["user_code"]
    d = post_json(srv, "/api/v1/device/pending", {"user_code": code}, hdr).json()
    rep.eq(d.get("client_version"), "tbdev/0.0.9", "no body: the version is the User-Agent")
    # the throttle: wrong codes from a signed-in browser
    sts = []
    ras = []
    for i in range(12):
        r = post_json(srv, "/api/v1/device/approve", {"user_code": "BCDF-%04d" % i}, hdr)
        sts.append(r.status)
        ras.append(r.header("Retry-After"))
    rep.eq(sts, [404] * 10 + [429] * 2,
           "12 wrong codes: 404 for the 10 attempts a minute, then 429 (the lookups above "
           "found their code: a success gives its attempt back)")
    rep.check(all(ra and ra.isdigit() for ra in ras[10:]), "each 429 has a Retry-After",
              repr(ras))
    # and the right code is refused too while throttled: a guesser gets no answer at all
    r = post_json(srv, "/api/v1/device/approve", {"user_code": code}, hdr)
    rep.status(r, 429, "the right code while throttled: 429 too")


def sessions(rep, srv):
    hdr1, _ = sign_in(srv, headers={"User-Agent": "browser one"})
    hdr2, _ = sign_in(srv, headers={"User-Agent": "browser \x1b[2J two"})
    r = srv.get("/api/v1/sessions", headers={"Cookie": hdr1["Cookie"]})
    ss = r.json().get("sessions", []) if r.status == 200 else []
    cur = [s for s in ss if s["current"]]
    rep.check(len(ss) >= 2 and len(cur) == 1 and cur[0]["user_agent"] == "browser one",
              "GET sessions: alice's sessions, the current one marked", r.short(400))
    two = [s for s in ss if s["user_agent"].startswith("browser ?[2J")]
    rep.check(len(two) == 1, "a control character in a User-Agent is replaced", repr(ss))
    # the user ends their other session
    if two:
        r = srv.request("DELETE", "/api/v1/sessions/%d" % two[0]["id"], headers=hdr1)
        rep.status(r, 204, "DELETE sessions/ID (the other browser), with CSRF: 204")
        rep.eq(srv.get("/api/v1/me", headers={"Cookie": hdr2["Cookie"]}).json().get("user"),
               None, "the other browser is signed out")
        rep.eq(srv.get("/api/v1/me", headers={"Cookie": hdr1["Cookie"]}).json().get("user"),
               "alice", "this browser is still signed in")
    # the admin lists and ends sessions
    rc, out, err = srv.admin("session", "list", "alice", "--json")
    lst = json.loads(out) if rc == 0 else []
    rep.check(rc == 0 and lst and all(s["user"] == "alice" for s in lst),
              "tbdev-server session list alice --json", err or out[:300])
    rc, out, err = srv.admin("session", "list")
    rep.check(rc == 0 and "alice" in out and "127.0.0.1" in out and "\x1b" not in out,
              "tbdev-server session list: text, control characters escaped", out[-300:])
    cur_id = cur[0]["id"] if cur else 0
    rc, out, err = srv.admin("session", "revoke", str(cur_id))
    rep.eq(rc, 0, "tbdev-server session revoke ID", err)
    rep.eq(srv.get("/api/v1/me", headers={"Cookie": hdr1["Cookie"]}).json().get("user"), None,
           "the revoked session is signed out")
    rc, out, err = srv.admin("session", "revoke", str(cur_id))
    rep.check(rc == 1 and "no live session" in err, "revoking it again: exit 1, says why", err)
    # a password change ends every session
    hdr3, _ = sign_in(srv)
    hdr4, _ = sign_in(srv)
    rc, out, err = srv.admin("user", "passwd", "alice", stdin=b"a brand new password\n")
    rep.eq(rc, 0, "user passwd alice", err)
    for i, h in enumerate((hdr3, hdr4)):
        rep.eq(srv.get("/api/v1/me", headers={"Cookie": h["Cookie"]}).json().get("user"), None,
               "after the password change, session %d is ended" % (i + 1))
    r = srv.request("POST", "/api/v1/login", content_type="application/json",
                    body=json.dumps({"user": "alice", "password": "a brand new password"}).encode())
    rep.status(r, 200, "the new password signs in")


def proxy_headers(rep, exe, tmp):
    for scheme, want in (("https", True), ("http", False)):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        srv = rep.watch(L.Server(exe, tmp, tls=False, name="proxy-" + scheme, args=[
            "--quiet", "--listen", "127.0.0.1:%d" % port,
            "--public_url", "%s://localhost:%d" % (scheme, port)]))
        srv.start()
        srv.add_user("pat", password=PASSWORD)
        _, r = sign_in(srv, user="pat")
        cookie = r.header("Set-Cookie") or ""
        hsts = srv.get("/api/v1/health").header("Strict-Transport-Security")
        if want:
            rep.check("; Secure" in cookie, "behind a TLS proxy (--public_url https://): the "
                      "session cookie is Secure", cookie)
            rep.check(hsts and "max-age=" in hsts, "... and HSTS is sent", repr(hsts))
        else:
            rep.check("Secure" not in cookie and not hsts,
                      "with an http:// public URL: no Secure, no HSTS", "%r %r" % (cookie, hsts))
        srv.stop()


TBDEV = None


def main(rep, exe, tmp):
    if not TBDEV or not os.access(TBDEV, os.X_OK):
        print("# skip: %s is not an executable" % TBDEV)
        sys.exit(L.SKIP)
    srv = rep.watch(L.Server(exe, tmp, name="device", args=["--device_token_days", "3"]))
    srv.start()
    srv.add_user("alice", password=PASSWORD)
    device_cli(rep, srv, TBDEV, tmp)
    srv.stop()
    srv = rep.watch(L.Server(exe, tmp, name="device2"))
    srv.start()
    srv.add_user("alice", password=PASSWORD)
    device_api(rep, srv)
    sessions(rep, srv)
    rep.server_healthy(srv, "server healthy")
    srv.stop()
    proxy_headers(rep, exe, tmp)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: %s PATH/TO/tbdev PATH/TO/tbdev-server" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    TBDEV = os.path.abspath(sys.argv[1])
    sys.argv = [sys.argv[0], sys.argv[2]]  # run_main takes the server from argv[1]
    L.run_main("device flow and sessions", main)
