#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: tbdev-server's authorisation, walked over the whole route table.

Usage:  test_server_authz.py PATH/TO/tbdev-server

For every route in service/app.c, for each caller (no token, another user's token, the
owner's token, the owner's revoked token) and each visibility (public, unlisted, private),
checks exactly what passes:
  - writes need the owner's token (no token: 401; anyone else: 404, never 403);
  - reads of public and unlisted experiments work for anyone; private ones only for the
    owner and the users it is shared with; no access gives 404, the same answer as for an
    experiment that does not exist;
  - an invalid or revoked token gives 401, on every route.
Also: revocation takes effect within 1 s; sharing a private experiment with a user makes it
readable (not writable) by that user, and unsharing undoes it; a browser session reads but
never writes; the device login flow; disabled users.

Output: "ok - NAME" / "not ok - NAME: WHY". Exit 0 if all pass, 1 otherwise, 77 to skip.
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402

E = "/api/v1/experiments"
MISSING_ID = "AAAAAAAAAAAAAAAAAAAAAA"  # well-formed, never issued (22 chars of zero bits)
VIS = [("public", L.PUBLIC), ("unlisted", L.UNLISTED), ("private", L.PRIVATE)]
CALLERS = ["none", "other", "revoked", "owner"]  # the owner last: its writes change state

# route -> how it is checked. "exp" routes take an experiment id.
#   read: anyone for public/unlisted, owner (and shared users) for private
#   owner_read: the owner's token only (cursors)
#   write: the owner's token only
EXP_ROUTES = [
    ("GET", "/api/v1/experiments/{id}", "read", ""),
    ("GET", "/api/v1/experiments/{id}/runs", "read", ""),
    ("GET", "/api/v1/experiments/{id}/tags", "read", ""),
    ("GET", "/api/v1/experiments/{id}/scalars", "read", "?tag=loss"),
    ("GET", "/api/v1/experiments/{id}/histograms", "read", "?tag=h"),
    ("GET", "/api/v1/experiments/{id}/tensors", "read", "?tag=pr"),
    ("GET", "/api/v1/experiments/{id}/text", "read", "?tag=t"),
    ("GET", "/api/v1/experiments/{id}/blobs", "read", "?tag=img"),
    ("GET", "/api/v1/experiments/{id}/blob/{sha}", "read", ""),
    ("GET", "/api/v1/experiments/{id}/hparams", "read", ""),
    ("GET", "/api/v1/experiments/{id}/pr_curves", "read", "?tag=pr"),
    ("GET", "/api/v1/experiments/{id}/export", "read", "?run=train"),
    ("GET", "/api/v1/experiments/{id}/custom_scalars", "read", ""),
    ("GET", "/api/v1/experiments/{id}/graph", "read", "?run=train"),
    ("GET", "/api/v1/experiments/{id}/meshes", "read", ""),
    ("GET", "/api/v1/experiments/{id}/mesh_data", "read", "?run=train&tag=m_VERTEX&step=0"),
    ("GET", "/api/v1/experiments/{id}/cursors", "owner_read", ""),
    ("PATCH", "/api/v1/experiments/{id}", "write", ""),
    ("POST", "/api/v1/experiments/{id}/events", "write", ""),
    ("DELETE", "/api/v1/experiments/{id}/runs", "write", "?run=deleteme"),
    ("DELETE", "/api/v1/experiments/{id}", "write", ""),  # last: it deletes
]
OTHER_ROUTES = [
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/server-info"),
    ("GET", "/api/v1/local"),  # local mode's progress (tests/integration/test_local)
    ("POST", "/api/v1/experiments"),
    ("GET", "/api/v1/experiments"),
    ("GET", "/api/v1/users/{id}/experiments"),
    ("POST", "/api/v1/device/code"),
    ("POST", "/api/v1/device/token"),
    ("POST", "/api/v1/device/pending"),
    ("POST", "/api/v1/device/approve"),
    ("POST", "/api/v1/login"),
    ("POST", "/api/v1/logout"),
    ("GET", "/api/v1/me"),
    ("DELETE", "/api/v1/me/token"),  # revokes the caller's own token: tests/integration/test_cli
    ("GET", "/api/v1/sessions"),
    ("DELETE", "/api/v1/sessions/{id}"),
    # the viewer's pages: one static shell for everyone; the data comes from the API
    ("GET", "/"),
    ("GET", "/favicon.ico"),
    ("GET", "/device"),
    ("GET", "/experiment/{id}/"),
    ("GET", "/user/{id}"),
    ("GET", "/compare"),  # ?e=ID,...: the page reads each experiment with the viewer's rights
    ("GET", "/static/{id}"),
]


def route_table():
    """The (method, pattern) pairs of service/app.c, if the source is next to this test."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "service", "app.c")
    try:
        with open(path) as f:
            src = f.read()
    except OSError:
        return None
    m = re.search(r"static const struct route routes\[\] = \{(.*?)\n\};", src, re.S)
    if not m:
        return None
    return re.findall(r'\{"([A-Z]+)",\s*"([^"]+)"', m.group(1))


def body(rep, exe, tmp):
    global EXP_ROUTES
    srv = rep.watch(L.Server(exe, tmp, name="authz"))
    srv.start()
    alice_pw = "correct horse battery"
    tok = {
        "owner": srv.add_user("alice", password=alice_pw),
        "other": srv.add_user("bob"),
    }
    carol = srv.add_user("carol")
    revoked = srv.token_create("alice")
    srv.revoke(srv.token_id(revoked))
    tok["revoked"] = revoked
    tok["none"] = None
    alice = tok["owner"]

    # --- the route table ---------------------------------------------------------------
    known = {(m, p) for m, p, _, _ in EXP_ROUTES} | set(OTHER_ROUTES)
    table = route_table()
    if table is None:
        rep.note("service/app.c not found next to the tests: route-table coverage not checked")
    else:
        missing = sorted(set(table) - known)
        rep.check(not missing, "every route of service/app.c is walked by this test",
                  "routes not covered: %r" % missing)
        gone = sorted(known - set(table))
        rep.check(not gone, "every route this test walks is in service/app.c",
                  "no longer in the table: %r" % gone)
    r = srv.get("/api/v1/local")
    rep.check(r.status == 200 and r.json() == {"local": False},
              "GET /api/v1/local (local mode's progress) says only local: false on a server",
              "%d %s" % (r.status, r.short(200)))

    # --- experiments with data, one per visibility ---------------------------------------
    exps = {}
    shas = {}
    for vname, v in VIS:
        eid = srv.create_experiment(alice, "authz " + vname, "desc", v)
        png = L.make_png(1 + len(vname), 1, (len(vname), 1, 2))  # distinct per experiment
        ef = L.EventFile()
        for i in range(5):
            ef.add(L.ev_scalar_tf1("loss", i, float(i)))
        ef.add(L.ev_histo_tf1("h", 0, [0.0, 1.0], [1.0, 2.0]))
        ef.add(L.ev_text_tf2("t", 0, "hello *" + vname + "*"))
        ef.add(L.ev_image_tf1("img", 0, png, 1, 1 + len(vname)))
        ef.add(L.ev_pr_curve("pr", 0, [[1.0, 2.0]] * 6))
        # a mesh of one vertex whose x is distinct per experiment (MeshPluginData: name, VERTEX)
        mesh_md = L.metadata_pb("mesh", content=L.f_bytes(2, b"m") + L.f_varint(3, 1),
                                data_class=L.DC_TENSOR)
        ef.add(L.event_pb(L.WALL0, 0, summary=L.summary_pb([L.value_pb(
            "m_VERTEX", metadata=mesh_md,
            tensor=L.tensor_pb(L.DT_FLOAT, (1, 1, 3), float_val=[len(vname), 0, 0]))])))
        ef.add(L.ev_hparams("_hparams_/session_start_info", L.hp_session_start({"lr": 0.1})))
        ef.add(L.ev_custom_scalars(L.custom_scalars_layout([("c", [("t", ["loss"])])])))
        # Event.graph_def: a GraphDef of one NodeDef named after the experiment
        node = L.f_bytes(1, ("n_" + vname).encode()) + L.f_bytes(2, b"Const")
        ef.add(L.f_double(1, L.WALL0) + L.f_bytes(4, L.f_bytes(1, node)))
        srv.upload_file(alice, eid, "train", "events.out.tfevents.1", ef)
        dm = L.EventFile()
        dm.add(L.ev_scalar_tf1("x", 0, 1.0))
        srv.upload_file(alice, eid, "deleteme", "events.out.tfevents.2", dm)
        exps[vname] = eid
        shas[vname] = L.sha256_hex(png)

    # Routes this binary does not have (an older build than the source): noted, not walked.
    have = []
    for route in EXP_ROUTES:
        if route[0] == "GET":
            path = route[1].replace("{id}", exps["public"]).replace("{sha}", shas["public"])
            r = srv.get(path + route[3], token=alice)
            if r.status == 404 and "no such API endpoint" in r.body.decode("utf-8", "replace"):
                rep.note("this tbdev-server has no route %s %s: not walked" % route[:2])
                continue
        have.append(route)
    EXP_ROUTES = have

    def exp_request(method, pattern, query, eid, sha, caller, extra_headers=None, token=None):
        path = pattern.replace("{id}", eid).replace("{sha}", sha) + query
        t = tok[caller] if token is None else token
        if method == "GET":
            return srv.request("GET", path, token=t, headers=extra_headers)
        if method == "PATCH":
            return srv.pb_call("PATCH", path, L.update_experiment_req(
                name="renamed by " + caller, update_mask=["name"]), t, headers=extra_headers)
        if method == "POST":  # events
            ef = L.EventFile()
            ef.add(L.ev_scalar_tf1("w", 0, 1.0))
            return srv.write(t, eid, [("w", "f-" + caller, 0, bytes(ef.data))],
                             headers=extra_headers)
        return srv.request("DELETE", path, token=t, headers=extra_headers)

    def expected(kind, caller, vname):
        if caller == "revoked":
            return {401}
        if caller == "owner":
            return {200, 204}
        if kind == "read":
            return {200} if vname != "private" else {404}
        if kind == "owner_read":
            return {404} if caller == "other" else {401, 404}
        # write
        return {401} if caller == "none" else {404}

    def content_ok(route, r, vname):
        """A 200 read must carry the experiment's data, not an empty answer."""
        p = route[1]
        try:
            if p.endswith("{sha}"):
                return r.content_type == "image/png"
            if p.endswith("/export"):
                b = r.body
                return (r.content_type == "application/octet-stream" and len(b) > 16
                        and L.struct.unpack("<I", b[8:12])[0] == L.masked_crc32c(b[:8]))
            if p.endswith("/mesh_data"):
                return (r.content_type == "application/octet-stream" and
                        L.struct.unpack("<3f", r.body) == (len(vname), 0, 0))
            j = r.json()
            if p.endswith("/meshes"):
                return [(m["run"], m["name"]) for m in j.get("meshes", [])] == [("train", "m")]
            if p.endswith("{id}"):
                return j.get("id") == exps[vname]
            if p.endswith("/runs"):
                return "train" in [x["name"] for x in j.get("runs", [])]
            if p.endswith("/tags"):
                return len(j.get("tags", [])) >= 6
            if p.endswith("/hparams"):
                return len(j.get("sessions", [])) == 1
            if p.endswith("/cursors"):
                return len(j.get("cursors", [])) >= 1
            if p.endswith("/graph"):
                return [n["name"] for n in j.get("nodes", [])] == ["n_" + vname]
            if p.endswith("/custom_scalars"):
                return len(j.get("categories", [])) == 1
            return len(j.get("series", [])) == 1 and len(j["series"][0].get("points", [])) >= 1
        except ValueError:
            # /blobs answers are checked for valid JSON in test_server_api; here only access
            return p.endswith("/blobs") and exps[vname].encode() in r.body

    missing_cache = {}

    def missing_answer(method, pattern, query, caller):
        key = (method, pattern, caller)
        if key not in missing_cache:
            missing_cache[key] = exp_request(method, pattern, query, MISSING_ID, "0" * 64,
                                             caller)
        return missing_cache[key]

    def walk(routes, callers=CALLERS, label=""):
        for vname, _ in VIS:
            for route in routes:
                method, pattern, kind, query = route
                for caller in callers:
                    name = "%s %s%s as %s, %s%s" % (method, pattern, query, caller, vname, label)
                    r = exp_request(method, pattern, query, exps[vname], shas[vname], caller)
                    want = expected(kind, caller, vname)
                    if not rep.status(r, want, name):
                        continue
                    if r.status == 200 and kind != "write":
                        rep.check(content_ok(route, r, vname), name + ": carries the data",
                                  r.short(200))
                    if r.status == 404:
                        m = missing_answer(method, pattern, query, caller)
                        rep.check(m.status == 404 and m.body == r.body,
                                  name + ": the same 404 as a missing experiment",
                                  "not yours: %s | missing: %s" % (r.short(160),
                                                                   m.short(160)))
                    if r.status == 401:
                        rep.eq(r.error_code(), "unauthenticated", name + ": 401 code")

    walk([x for x in EXP_ROUTES if not (x[0] == "DELETE" and x[1].endswith("{id}"))])

    # Nothing the others tried was stored or deleted.
    for vname, _ in VIS:
        eid = exps[vname]
        cur = srv.cursors(alice, eid)
        rep.eq(sorted(cur), sorted([("train", "events.out.tfevents.1"), ("w", "f-owner")]),
               "%s: only the owner's write is stored (cursors)" % vname)
        j = srv.get_json(E + "/" + eid, token=alice)
        rep.eq(j.get("name"), "renamed by owner", "%s: only the owner's PATCH applies" % vname)
        runs = [x["name"] for x in srv.get_json(E + "/" + eid + "/runs", token=alice)["runs"]]
        rep.eq(sorted(runs), ["train", "w"],
               "%s: only the owner's DELETE runs applies; run train intact" % vname)
        n = len(srv.scalars(eid, "loss", "train", token=alice)["series"][0]["points"])
        rep.eq(n, 5, "%s: the data is intact after the walk" % vname)

    # --- blobs are per experiment ------------------------------------------------------
    for caller in ("none", "other", "owner"):
        r = srv.get(E + "/" + exps["public"] + "/blob/" + shas["private"], token=tok[caller])
        rep.status(r, 404, "a private experiment's blob through a public experiment's path "
                   "as %s: 404" % caller)

    # --- sharing -----------------------------------------------------------------------
    priv = exps["private"]
    tok["shared"] = carol
    read_routes = [x for x in EXP_ROUTES if x[2] == "read"]
    for route in read_routes:
        r = exp_request(route[0], route[1], route[3], priv, shas["private"], "shared")
        rep.status(r, 404, "%s %s as carol before sharing: 404" % (route[0], route[1]))
    r = srv.patch(tok["other"], priv, share_with=["carol"])
    rep.status(r, 404, "PATCH share_with by another user: 404")
    r = srv.patch(alice, priv, share_with=["carol"])
    rep.status(r, 200, "PATCH share_with carol by the owner: 200")
    for route in read_routes:
        r = exp_request(route[0], route[1], route[3], priv, shas["private"], "shared")
        if rep.status(r, 200, "%s %s as carol after sharing: 200" % (route[0], route[1])):
            rep.check(content_ok(route, r, "private"), "%s %s as carol: carries the data"
                      % (route[0], route[1]), r.short(200))
    rep.status(srv.get(E + "/" + priv, token=tok["other"]), 404,
               "sharing with carol does not open it to bob")
    rep.status(srv.get(E + "/" + priv), 404, "sharing with carol does not open it to anyone")
    for route in [x for x in EXP_ROUTES if x[2] != "read"]:
        r = exp_request(route[0], route[1], route[3], priv, shas["private"], "shared")
        rep.status(r, 404, "%s %s%s as carol (shared, not owner): 404"
                   % (route[0], route[1], route[3]))
    rep.status(srv.get(E + "/" + priv), 404, "the experiment still exists for its owner only")
    rep.status(srv.get(E + "/" + priv, token=alice), 200, "the owner still reads it")
    ids = [x["id"] for x in srv.get_json(E, token=carol).get("experiments", [])]
    rep.eq(ids, [], "a shared experiment is not in carol's own list")
    r = srv.patch(alice, priv, unshare=["carol"])
    rep.status(r, 200, "PATCH unshare carol: 200")
    r = srv.get(E + "/" + priv + "/scalars?tag=loss", token=carol)
    rep.status(r, 404, "after unsharing: carol gets 404")

    # --- routes that take no experiment ------------------------------------------------
    r = srv.get("/")
    pages = r.status == 200
    shell = r.body
    if not pages:
        rep.note("this tbdev-server serves no web pages (GET / is %d): pages not walked"
                 % r.status)
    r = srv.get(E + "/" + MISSING_ID, token=alice)
    rep.status(r, 404, "GET a missing experiment as the owner of others: 404")
    for caller in CALLERS:
        t = tok[caller]
        rv = caller == "revoked"
        r = srv.get("/api/v1/health", token=t)
        rep.status(r, 401 if rv else 200, "GET health as %s" % caller)
        r = srv.get("/api/v1/server-info", token=t, accept=L.PROTOBUF)
        rep.status(r, 401 if rv else 200, "GET server-info as %s" % caller)
        r = srv.pb_call("POST", E, L.create_experiment_req("by " + caller), t)
        rep.status(r, {"none": 401, "revoked": 401}.get(caller, 201),
                   "POST experiments as %s" % caller)
        if r.status == 201:
            rep.eq(r.pb("Experiment")["owner"], {"owner": "alice", "other": "bob"}[caller],
                   "POST experiments as %s: owned by the caller" % caller)
        r = srv.get(E, token=t)
        want = {"none": 401, "revoked": 401}.get(caller, 200)
        if rep.status(r, want, "GET experiments as %s" % caller) and r.status == 200:
            owners = {x["owner"] for x in r.json()["experiments"]}
            rep.eq(owners, {{"owner": "alice", "other": "bob"}[caller]},
                   "GET experiments as %s: only the caller's own" % caller)
        r = srv.get("/api/v1/users/alice/experiments", token=t)
        if rep.status(r, 401 if rv else 200, "GET users/alice/experiments as %s" % caller) \
                and r.status == 200:
            got = {x["id"] for x in r.json()["experiments"]}
            has = {v: exps[v] in got for v, _ in VIS}
            want = {"public": True, "unlisted": caller == "owner",
                    "private": caller == "owner"}
            rep.eq(has, want, "GET users/alice/experiments as %s: what is listed" % caller)
        r = srv.request("POST", "/api/v1/device/code", token=t, accept=L.PROTOBUF)
        rep.status(r, 401 if rv else 200, "POST device/code as %s" % caller)
        r = srv.pb_call("POST", "/api/v1/device/token", L.device_token_req("x" * 40), t)
        rep.status(r, 401 if rv else 400, "POST device/token (unknown code) as %s" % caller)
        if r.status == 400:
            rep.eq(r.error_code(), "expired_token",
                   "POST device/token (unknown code) as %s: expired_token" % caller)
        r = srv.request("POST", "/api/v1/device/approve", body=b'{"user_code":"ABCD-EFGH"}',
                        token=t, content_type="application/json")
        rep.status(r, 401, "POST device/approve with a token (not a session) as %s" % caller)
        r = srv.request("POST", "/api/v1/device/pending", body=b'{"user_code":"ABCD-EFGH"}',
                        token=t, content_type="application/json")
        rep.status(r, 401, "POST device/pending with a token (not a session) as %s" % caller)
        r = srv.get("/api/v1/sessions", token=t)
        if rep.status(r, 401 if rv or caller == "none" else 200,
                      "GET sessions as %s" % caller) and r.status == 200:
            rep.eq([x for x in r.json()["sessions"] if x.get("current")], [],
                   "GET sessions as %s: none is the caller's current one (a token)" % caller)
        r = srv.request("DELETE", "/api/v1/sessions/1", token=t)
        rep.status(r, 401 if rv or caller == "none" else 404,
                   "DELETE sessions/1 (no such session of theirs) as %s" % caller)
        r = srv.request("POST", "/api/v1/login",
                        body=json.dumps({"user": "alice", "password": "wrong password"}).encode(),
                        token=t, content_type="application/json")
        rep.status(r, 401, "POST login with a wrong password as %s" % caller)
        r = srv.request("POST", "/api/v1/logout", token=t, content_type="application/json",
                        body=b"{}")
        rep.status(r, 401, "POST logout without a session as %s" % caller)
        r = srv.get("/api/v1/me", token=t)
        if caller == "none":
            rep.check(r.status == 401 or (r.status == 200 and r.json().get("user") is None),
                      "GET me as none: 401, or 200 with user null", r.short())
        elif rep.status(r, 401 if rv else 200, "GET me as %s" % caller) and r.status == 200:
            rep.eq(r.json().get("user"), {"owner": "alice", "other": "bob"}[caller],
                   "GET me as %s: the right user" % caller)
        # pages
        if not pages:
            continue
        every = ",".join([MISSING_ID] + [exps[v] for v, _ in VIS])
        for path in ("/", "/device", "/user/alice", "/user/nobody",
                     "/experiment/%s/" % MISSING_ID, "/compare", "/compare?e=" + every) + tuple(
                         "/experiment/%s/" % exps[v] for v, _ in VIS):
            r = srv.get(path, token=t)
            label = path.replace(exps["private"], "{private}").replace(
                exps["public"], "{public}").replace(exps["unlisted"], "{unlisted}")
            if rep.status(r, 401 if rv else 200, "GET %s as %s" % (label, caller)) \
                    and r.status == 200:
                rep.check(r.body == shell, "GET %s as %s: the same shell as / (nothing about "
                          "the experiment or user in it)" % (label, caller), r.short(80))
                if path.startswith("/compare"):
                    # the same headers as an experiment's page: its CSP, noindex, no caching
                    ref = srv.get("/experiment/%s/" % MISSING_ID, token=t)
                    rep.check("default-src 'self'" in (r.header("Content-Security-Policy") or "")
                              and r.header("X-Robots-Tag") == "noindex",
                              "GET %s as %s: the page's CSP and noindex" % (label, caller),
                              r.short(80))
                    for h in ("Content-Security-Policy", "X-Robots-Tag", "Cache-Control",
                              "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"):
                        rep.eq(r.header(h), ref.header(h),
                               "GET %s as %s: %s as on an experiment's page" % (label, caller, h))
        rep.status(srv.get("/favicon.ico", token=t), {401} if rv else {200, 204},
                   "GET /favicon.ico as %s" % caller)
        rep.status(srv.get("/static/app.js", token=t), 401 if rv else 200,
                   "GET /static/app.js as %s" % caller)
        rep.status(srv.get("/static/index.html", token=t), 401 if rv else 404,
                   "GET /static/index.html as %s: 404 (only through a page route)" % caller)
    rep.status(srv.get("/api/v1/users/nobody/experiments"), 404,
               "GET users/nobody/experiments: 404")

    # malformed and unknown tokens: 401 everywhere, also on public reads
    for label, hval in (("an unknown tbdev_ token", "Bearer tbdev_" + "A" * 32),
                        ("a token without the prefix", "Bearer abcdef"),
                        ("Basic credentials", "Basic YWxpY2U6cGFzc3dvcmQ="),
                        ("an empty Bearer", "Bearer "),
                        ("an over-long token", "Bearer tbdev_" + "A" * 500)):
        r = srv.get(E + "/" + exps["public"], headers={"Authorization": hval})
        rep.status(r, 401, "GET a public experiment with %s: 401" % label)
        r = srv.write(None, exps["public"], [("x", "y", 0, b"")],
                      headers={"Authorization": hval})
        rep.status(r, 401, "POST events with %s: 401" % label)

    # --- revocation within 1 s ---------------------------------------------------------
    t2 = srv.token_create("alice")
    r = srv.get(E + "/" + priv, token=t2)
    rep.status(r, 200, "a fresh token reads the private experiment")
    tid = srv.token_id(t2)
    srv.revoke(tid)
    t0 = time.monotonic()
    first = srv.get(E + "/" + priv, token=t2)
    latency = None
    while time.monotonic() - t0 < 1.0:
        r = srv.get(E + "/" + priv, token=t2)
        if r.status == 401:
            latency = time.monotonic() - t0
            break
    rep.check(first.status == 401 and latency is not None and latency < 1.0,
              "revocation takes effect within 1 s",
              "first request after revoke: %d; 401 after %s s" % (first.status, latency))
    ef = L.EventFile()
    ef.add(L.ev_scalar_tf1("late", 0, 1.0))
    r = srv.write(t2, priv, [("late", "f", 0, bytes(ef.data))])
    rep.status(r, 401, "a revoked token cannot write")
    listed = [x for x in srv.token_list("alice") if x["id"] == tid]
    rep.check(listed and listed[0]["revoked"], "token list shows the token revoked", repr(listed))
    rep.check(all(t2 not in json.dumps(x) for x in srv.token_list()),
              "token list never shows a secret", "")

    # a token revoked while the server holds a keep-alive connection
    t3 = srv.token_create("alice")
    conn = srv.connection()
    try:
        conn.request("GET", E + "/" + priv, headers={"Authorization": "Bearer " + t3})
        a = conn.getresponse()
        a.read()
        srv.revoke(srv.token_id(t3))
        conn.request("GET", E + "/" + priv, headers={"Authorization": "Bearer " + t3})
        b = conn.getresponse()
        b.read()
        rep.check(a.status == 200 and b.status == 401,
                  "revocation applies to the next request on the same connection",
                  "%d then %d" % (a.status, b.status))
    finally:
        conn.close()

    # --- disabled users ----------------------------------------------------------------
    rc, out, err = srv.admin("user", "disable", "bob")
    rep.eq(rc, 0, "user disable bob", err)
    rep.status(srv.get("/api/v1/me", token=tok["other"]), 401, "a disabled user's token: 401")
    rep.status(srv.get("/api/v1/users/bob/experiments"), 404,
               "a disabled user's page: 404")
    srv.admin("user", "enable", "bob")
    rep.status(srv.get("/api/v1/me", token=tok["other"]), 200, "enabled again: 200")

    # --- a browser session reads, never writes -----------------------------------------
    r = srv.request("POST", "/api/v1/login",
                    body=json.dumps({"user": "alice", "password": alice_pw}).encode(),
                    content_type="application/json")
    if rep.status(r, 200, "POST login with the right password: 200"):
        cookie_hdr = r.header("Set-Cookie") or ""
        m = re.match(r"tbdev_session=([^;]+)", cookie_hdr)
        rep.check(m and "HttpOnly" in cookie_hdr and "Secure" in cookie_hdr
                  and "SameSite" in cookie_hdr,
                  "login sets an HttpOnly, Secure, SameSite session cookie", cookie_hdr)
        csrf = r.json().get("csrf_token", "")
        cookie = "tbdev_session=" + (m.group(1) if m else "")
        hdr = {"Cookie": cookie, "X-CSRF-Token": csrf}
        rep.status(srv.get(E + "/" + priv, headers=hdr), 200,
                   "session: reads the owner's private experiment")
        r = srv.get("/api/v1/me", headers={"Cookie": cookie})
        rep.check(r.status == 200 and r.json().get("user") == "alice"
                  and r.json().get("csrf_token") == csrf, "session: GET me", r.short())
        for method, pattern, kind, query in EXP_ROUTES:
            if kind != "write":
                continue
            r = exp_request(method, pattern, query, priv, shas["private"], "none",
                            extra_headers=hdr)
            rep.status(r, 401, "session cookie + CSRF header: %s %s%s is refused (401)"
                       % (method, pattern, query))
        r = srv.pb_call("POST", E, L.create_experiment_req("csrf"), None, headers=hdr)
        rep.status(r, 401, "session cookie: POST experiments is refused (401)")
        r = srv.get(E + "/" + priv + "/cursors", headers=hdr)
        rep.status(r, {401, 404}, "session cookie: cursors need a token")
        rep.status(srv.get(E + "/" + priv), 404, "the private experiment is still private")
        rep.eq(srv.experiment_json(priv, token=alice).get("name"), "renamed by owner",
               "session writes changed nothing")

        # the device login flow: code, approval in the browser, token
        r = srv.request("POST", "/api/v1/device/code", accept=L.PROTOBUF)
        dc = r.pb("DeviceCode") if r.status == 200 else {}
        rep.check(dc.get("device_code") and re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}",
                                                          dc.get("user_code", "")),
                  "device/code: a device code and a user code", repr(dc))
        r = srv.pb_call("POST", "/api/v1/device/token", L.device_token_req(dc.get("device_code",
                                                                                  "")), None)
        rep.eq((r.status, r.error_code()), (400, "authorization_pending"),
               "device/token before approval: authorization_pending")
        body_j = json.dumps({"user_code": dc.get("user_code", "")}).encode()
        r = srv.request("POST", "/api/v1/device/approve", body=body_j,
                        content_type="application/json", cookie=cookie)
        rep.status(r, 403, "device/approve with the session but no CSRF header: 403 (csrf)")
        r = srv.request("POST", "/api/v1/device/approve", body=body_j,
                        content_type="application/json", headers=hdr)
        rep.status(r, 200, "device/approve with the session and CSRF header: 200")
        r = srv.pb_call("POST", "/api/v1/device/token", L.device_token_req(dc.get("device_code",
                                                                                  "")), None)
        grant = r.pb("TokenGrant") if r.status == 200 else {}
        rep.check(grant.get("user") == "alice" and grant.get("token", "").startswith("tbdev_"),
                  "device/token after approval: a token for alice", r.short())
        if grant.get("token"):
            rep.status(srv.get(E + "/" + priv, token=grant["token"]), 200,
                       "the device token reads the private experiment")
        r = srv.pb_call("POST", "/api/v1/device/token", L.device_token_req(dc.get("device_code",
                                                                                  "")), None)
        rep.status(r, 400, "device/token a second time: 400 (the code is used up)")

        # sessions: listed for their owner, revocable by their owner only
        r = srv.get("/api/v1/sessions", headers={"Cookie": cookie})
        mine = [x for x in r.json().get("sessions", []) if x.get("current")] \
            if r.status == 200 else []
        rep.check(len(mine) == 1 and mine[0].get("client_ip") == "127.0.0.1",
                  "GET sessions with the cookie: the current session, from 127.0.0.1",
                  r.short())
        sid = mine[0]["id"] if mine else 0
        rep.status(srv.request("DELETE", "/api/v1/sessions/%d" % sid, token=tok["other"]), 404,
                   "bob cannot end alice's session (404)")
        rep.status(srv.request("DELETE", "/api/v1/sessions/%d" % sid,
                               headers={"Cookie": cookie}), 403,
                   "DELETE sessions/ID with the cookie but no CSRF header: 403")
        rep.status(srv.get(E + "/" + priv, headers=hdr), 200,
                   "... and the session still reads")
        r = srv.request("POST", "/api/v1/logout", body=b"{}", content_type="application/json",
                        headers=hdr)
        rep.status(r, 204, "POST logout with the session and CSRF header: 204")
        rep.status(srv.get(E + "/" + priv, headers={"Cookie": cookie}), 404,
                   "after logout the cookie reads nothing private")
        r = srv.get("/api/v1/me", headers={"Cookie": cookie})
        rep.check(r.status == 401 or (r.status == 200 and r.json().get("user") is None),
                  "after logout: GET me knows no user", r.short())
    r = srv.request("POST", "/api/v1/login",
                    body=json.dumps({"user": "nobody", "password": "whatever1"}).encode(),
                    content_type="application/json")
    rep.status(r, 401, "POST login as an unknown user: 401 (same as a wrong password)")

    # --- finally: DELETE experiment for every caller ----------------------------------
    walk([x for x in EXP_ROUTES if x[0] == "DELETE" and x[1].endswith("{id}")])
    for vname, _ in VIS:
        rep.status(srv.get(E + "/" + exps[vname], token=alice), 404,
                   "%s: deleted by the owner's DELETE" % vname)
    rep.server_healthy(srv, "server alive and clean after the authorisation walk")


if __name__ == "__main__":
    L.run_main("tbdev-server authorisation", body)
