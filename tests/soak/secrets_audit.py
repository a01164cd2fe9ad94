#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Audit: no secret is stored in clear, IDs and tokens carry enough entropy, revocation is prompt.

    python3 tests/soak/secrets_audit.py [--small] [--seed S] [--keep] [--tbdev P] [--server P]

Creates users and API tokens (`tbdev-server user add`, `token create`), passwords
(`user passwd NAME`, password on stdin), browser sessions (POST /api/v1/login), device codes
(POST /api/v1/device/code; one approved with a session + CSRF header and exchanged for a token
at /api/v1/device/token, others left pending), then dumps the database (`sqlite3 DB .dump`
when the CLI exists, and always every table through Python's sqlite3 module) and also scans
the raw database, -wal and -shm files. For every secret string it searches: the string, its
base64 / base64url / hex forms, and, for base64url secrets, the decoded bytes as hex (how a
BLOB shows in a dump), base64 and raw.

Entropy: tokens must be 'tbdev_' + 32 base64url characters (192 bits), session and device
secrets 43 base64url characters (256 bits); 1000 experiment IDs (--small: 300) must be 22
base64url characters, all distinct, and together use the whole 64-character alphabet.

Revocation: with the server running, `tbdev-server token revoke ID` must make the token answer
401 within 1 s; measured by polling on a kept-alive connection and on fresh connections.

Ends with `RESULT: PASS ...` or `RESULT: FAIL ...`; exit 0 / 1.
"""

import base64
import collections
import http.client
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_lib as S  # noqa: E402
from soak_lib import L  # noqa: E402

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def forms(secret):
    """{form name: bytes} to look for in a dump or a raw file."""
    sb = secret.encode()
    out = {
        "plain": sb,
        "base64": base64.b64encode(sb).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(sb).rstrip(b"="),
        "hex": sb.hex().encode(),
        "HEX": sb.hex().upper().encode(),
    }
    core = secret[len("tbdev_"):] if secret.startswith("tbdev_") else secret
    if B64URL_RE.match(core) and len(core) >= 16:
        try:
            raw = b64url_decode(core)
        except ValueError:
            raw = None
        if raw:
            out["decoded-raw"] = raw
            out["decoded-hex"] = raw.hex().encode()
            out["decoded-HEX"] = raw.hex().upper().encode()
            out["decoded-base64"] = base64.b64encode(raw).rstrip(b"=")
        if core != secret:
            out["core"] = core.encode()
    return out


def dump_texts(db):
    """[(name, bytes)]: the sqlite3 CLI's .dump (if available) and a Python dump of every
    table (text as UTF-8, blobs as raw bytes and as hex), plus the raw files."""
    out = []
    if L.test_db(db).startswith("postgresql://"):
        return pg_dump_texts(L.test_db(db))
    if shutil.which("sqlite3"):
        p = subprocess.run(["sqlite3", db, ".dump"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
        out.append(("sqlite3 .dump", p.stdout))
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    parts = []
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for t in tables:
        for row in con.execute('SELECT * FROM "%s"' % t.replace('"', '""')):
            for v in row:
                if isinstance(v, bytes):
                    parts.append(v)
                    parts.append(v.hex().encode())
                elif v is not None:
                    parts.append(str(v).encode("utf-8", "replace"))
    con.close()
    out.append(("python sqlite3 (%d tables)" % len(tables), b"\n".join(parts)))
    for suffix in ("", "-wal", "-shm"):
        path = db + suffix
        if os.path.exists(path):
            with open(path, "rb") as f:
                out.append(("raw file " + os.path.basename(path), f.read()))
    return out, tables


def pg_dump_texts(url):
    """dump_texts on PostgreSQL (TBDEV_TEST_BACKEND=postgres): pg_dump's text (bytea in hex,
    as "sqlite3 .dump" for the informational counts), every table's rows as psql prints them,
    and the raw files of the database (its folder under the cluster's base/)."""
    import scale_lib
    c = scale_lib.shared_cluster()
    p = subprocess.run([os.path.join(scale_lib.PG_BIN, "pg_dump"), "--data-only", "-d", url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300,
                       env=L.clean_env())
    if p.returncode != 0:
        raise RuntimeError("pg_dump: " + p.stderr.decode("utf-8", "replace")[-300:])
    out = [("sqlite3 .dump", p.stdout)]
    tables = [r[0] for r in L.db_query(url, "SELECT tablename FROM pg_tables "
                                            "WHERE schemaname = 'public'")]
    parts = []
    for t in tables:
        for row in L.db_query(url, 'SELECT * FROM "%s"' % t.replace('"', '""')):
            for v in row:
                if v is None:
                    continue
                parts.append(v.encode("utf-8", "replace"))
                if v.startswith("\\x"):  # bytea: its raw bytes too
                    try:
                        parts.append(bytes.fromhex(v[2:]))
                    except ValueError:
                        pass
    out.append(("psql (%d tables)" % len(tables), b"\n".join(parts)))
    oid = L.db_query(url, "SELECT oid FROM pg_database WHERE datname = current_database()")[0][0]
    c.psql("CHECKPOINT")  # the pages on disk, not only in shared buffers
    base = os.path.join(c.data, "base", oid)
    raw = []
    for name in sorted(os.listdir(base)):
        with open(os.path.join(base, name), "rb") as f:
            raw.append(f.read())
    out.append(("raw files of base/" + oid, b"".join(raw)))
    return out, tables


def token_from(text):
    m = re.search(r"\b(tbdev_[A-Za-z0-9_\-]+)", text)
    return m.group(1) if m else None


def run(tbdev, server_exe, seed, small=False, keep=False):
    rng = random.Random(seed)
    tmp = L.make_tempdir("tbdev-soak-secrets-")
    problems = []
    run.problems = problems
    server = None
    figs = collections.OrderedDict()
    try:
        db = os.path.join(tmp, "tbdev.db")
        secrets = []  # (kind, string)
        tokens = []
        users = ["alice", "bob", "carol"]
        S.server_cmd(server_exe, "migrate", "--db", db)
        for u in users:
            rc, out, err = S.server_cmd(server_exe, "user", "add", u, "--db", db)
            t = token_from(out)
            if rc != 0 or not t:
                raise RuntimeError("user add %s: exit %s %s %s" % (u, rc, out, err))
            tokens.append(t)
        ntok = 40 if small else 100
        for i in range(ntok):
            rc, out, err = S.server_cmd(server_exe, "token", "create", users[i % 3], "--name",
                                        "audit %d" % i, "--db", db)
            t = token_from(out)
            if rc != 0 or not t:
                raise RuntimeError("token create: exit %s %s %s" % (rc, out, err))
            tokens.append(t)
        secrets += [("token", t) for t in tokens]
        passwords = {}
        for u in users:
            pw = "pw-%s-%016x-Zq!" % (u, rng.getrandbits(64))
            rc, out, err = S.server_cmd(server_exe, "user", "passwd", u, "--db", db,
                                        stdin=(pw + "\n").encode())
            if rc != 0:
                raise RuntimeError("user passwd: exit %s %s" % (rc, err))
            passwords[u] = pw
            secrets.append(("password", pw))
        server = S.HttpServer(server_exe, tmp, db)
        server.start()
        port = server.port
        sessions = {}
        csrfs = []
        for i in range(6):
            u = users[i % 3]
            body = json.dumps({"user": u, "password": passwords[u]}).encode()
            st, hd, resp = S.request(port, "POST", "/api/v1/login", body,
                                     {"Content-Type": "application/json"})
            m = re.search(r"tbdev_session=([^;]+)", hd.get("set-cookie", ""))
            if st != 200 or not m:
                raise RuntimeError("login %s: HTTP %s %s" % (u, st, resp[:200]))
            sessions.setdefault(u, []).append(m.group(1))
            secrets.append(("session", m.group(1)))
            csrf = json.loads(resp).get("csrf_token")
            if csrf:
                csrfs.append(csrf)
                secrets.append(("csrf", csrf))
        device_codes, user_codes = [], []
        for i in range(5):
            st, _, resp = S.request(port, "POST", "/api/v1/device/code", b"")
            if st != 200:
                raise RuntimeError("device/code: HTTP %s %s" % (st, resp[:200]))
            d = json.loads(resp)
            device_codes.append(d["device_code"])
            user_codes.append(d["user_code"])
            secrets.append(("device_code", d["device_code"]))
        # approve the first device code as alice, and exchange it for a token
        sess = sessions["alice"][0]
        st, _, resp = S.request(port, "GET", "/api/v1/me", None,
                                {"Cookie": "tbdev_session=" + sess})
        csrf = json.loads(resp).get("csrf_token", "")
        st, _, resp = S.request(port, "POST", "/api/v1/device/approve",
                                json.dumps({"user_code": user_codes[0]}).encode(),
                                {"Content-Type": "application/json", "X-CSRF-Token": csrf,
                                 "Cookie": "tbdev_session=" + sess})
        if st != 200:
            problems.append("device approve: HTTP %s %s" % (st, resp[:200]))
        st, _, resp = S.request(port, "POST", "/api/v1/device/token",
                                json.dumps({"device_code": device_codes[0]}).encode(),
                                {"Content-Type": "application/json"})
        if st == 200:
            dt = json.loads(resp).get("token")
            secrets.append(("device-granted token", dt))
            tokens.append(dt)
        else:
            problems.append("device token: HTTP %s %s" % (st, resp[:200]))
        # use a few tokens and sessions so that any lookup cache or log is exercised
        for t in tokens[:5]:
            S.request(port, "GET", "/api/v1/experiments", None,
                      {"Authorization": "Bearer " + t})
        # --- experiment IDs
        n_ids = 300 if small else 1000
        ids = []
        body = L.f_bytes(1, b"audit")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(n_ids):
            conn.request("POST", "/api/v1/experiments", body=body,
                         headers={"Authorization": "Bearer " + tokens[0],
                                  "Content-Type": "application/x-protobuf"})
            r = conn.getresponse()
            data = r.read()
            if r.status != 201:
                raise RuntimeError("create experiment: HTTP %s %s" % (r.status, data[:200]))
            eid = next((bytes(v).decode() for fn, wt, v in L.fields(data) if fn == 1), None)
            ids.append(eid)
        conn.close()
        bad_ids = [x for x in ids if not x or len(x) != 22 or not B64URL_RE.match(x)]
        if bad_ids:
            problems.append("experiment IDs not 22 base64url chars: %s" % L.short(bad_ids, 3))
        distinct = len(set(ids))
        alphabet = set("".join(ids))
        last_chars = set(x[-1] for x in ids if x)
        first21 = set("".join(x[:21] for x in ids if x))
        if distinct != len(ids):
            problems.append("experiment IDs: %d distinct of %d" % (distinct, len(ids)))
        if len(alphabet) != 64:
            problems.append("experiment IDs use %d of 64 characters (missing %s)" % (
                len(alphabet), "".join(sorted(set(B64URL) - alphabet))))
        # bits: 21 full characters (126) + the last one's share
        import math
        id_bits = 21 * math.log2(max(1, len(first21))) + math.log2(max(1, len(last_chars)))
        figs["exp_ids"] = "%d/%d_distinct" % (distinct, len(ids))
        figs["exp_id_alphabet"] = len(alphabet)
        figs["exp_id_bits"] = "%.0f" % id_bits
        if id_bits < 120:
            problems.append("experiment IDs carry about %.0f bits (< 120)" % id_bits)
        # --- token / secret formats
        tok_re = re.compile(r"^tbdev_[A-Za-z0-9_-]{32}$")
        bad = [t for t in tokens if not tok_re.match(t)]
        if bad:
            problems.append("tokens not 'tbdev_' + 32 base64url: %s" % L.short(bad, 3))
        tok_alpha = set("".join(t[6:] for t in tokens))
        if len(set(tokens)) != len(tokens):
            problems.append("duplicate tokens")
        if len(tok_alpha) < 64 and len(tokens) >= 60:
            problems.append("tokens use only %d of 64 characters" % len(tok_alpha))
        sec_re = re.compile(r"^[A-Za-z0-9_-]{43}$")
        for kind, s in secrets:
            if kind in ("session", "device_code") and not sec_re.match(s):
                problems.append("%s %r is not 43 base64url chars (256 bits)" % (kind, s))
        figs["tokens"] = "%d(alphabet=%d,bits=%d)" % (len(tokens), len(tok_alpha),
                                                      32 * 6 if not bad else 0)
        figs["session_bits"] = 256 if all(sec_re.match(s) for k, s in secrets
                                          if k == "session") else 0
        # --- revocation: a token polled on a kept-alive and on fresh connections
        rc, out, err = S.server_cmd(server_exe, "token", "create", "bob", "--name", "revoke-me",
                                    "--db", db)
        rtok = token_from(out)
        secrets.append(("token", rtok))
        rc, out, err = S.server_cmd(server_exe, "token", "list", "bob", "--json", "--db", db)
        rid = next((t["id"] for t in json.loads(out) if t.get("prefix") == rtok[:10]), None)
        if rid is None:
            raise RuntimeError("revoke-me token not in token list: %s" % out[:300])
        hdr = {"Authorization": "Bearer " + rtok}
        st, _, _ = S.request(port, "GET", "/api/v1/experiments", None, hdr)
        if st != 200:
            problems.append("fresh token answers HTTP %s before revocation" % st)
        results = {}
        stop = threading.Event()

        def poll(kind):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            while not stop.is_set():
                try:
                    if kind == "fresh":
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("GET", "/api/v1/experiments", headers=hdr)
                    r = conn.getresponse()
                    r.read()
                    if r.status == 401:
                        results[kind] = time.monotonic()
                        break
                except OSError:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                time.sleep(0.002)
            conn.close()

        threads = [threading.Thread(target=poll, args=(k,)) for k in ("keepalive", "fresh")]
        for t in threads:
            t.start()
        time.sleep(0.3)
        t_rev = time.monotonic()
        rc, out, err = S.server_cmd(server_exe, "token", "revoke", str(rid), "--db", db)
        t_rev_done = time.monotonic()
        if rc != 0:
            problems.append("token revoke: exit %s %s" % (rc, err[-200:]))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(results) < 2:
            time.sleep(0.01)
        stop.set()
        for t in threads:
            t.join()
        for kind in ("keepalive", "fresh"):
            if kind not in results:
                problems.append("revoked token still accepted after 5 s (%s connection)" % kind)
                figs["revoke_" + kind] = ">5000ms"
            else:
                dt = max(0.0, results[kind] - t_rev_done)
                figs["revoke_" + kind] = "%.0fms" % (dt * 1000)
                if results[kind] - t_rev > 1.0:
                    problems.append("revocation took %.0f ms on a %s connection (> 1 s)" % (
                        (results[kind] - t_rev) * 1000, kind))
        figs["revoke_cli"] = "%.0fms" % ((t_rev_done - t_rev) * 1000)
        # --- the dump: while running (WAL present) and after a clean stop
        hits = []
        searched = 0

        def scan(stage):
            nonlocal searched
            texts, tables = dump_texts(db)
            for kind, s in secrets:
                if not s:
                    continue
                for fname, needle in forms(s).items():
                    for where, blob in texts:
                        searched += 1
                        if needle in blob:
                            hits.append("%s %s...: %s form in %s (%s)" % (
                                kind, s[:10], fname, where, stage))
            return tables

        tables = scan("server running")
        server.stop()
        server = None
        scan("after stop")
        figs["tables"] = len(tables)
        figs["secrets"] = len(secrets)
        figs["searches"] = searched
        figs["plaintext_hits"] = len(hits)
        if hits:
            problems.append("secrets found in the database: %s" % L.short(sorted(set(hits)), 6))
        # informational: what is kept in clear by design
        texts, _ = dump_texts(db)
        dump = dict(texts).get("sqlite3 .dump") or texts[0][1]
        figs["user_codes_in_clear"] = sum(1 for c in user_codes if c.encode() in dump)
        figs["token_prefixes_in_clear"] = sum(1 for t in tokens if t[:10].encode() in dump)
        if not figs["token_prefixes_in_clear"]:
            # positive control: the prefixes 'token list' shows must be visible to the scan
            problems.append("control: no token prefix found in the dump; the scan sees nothing")
        return not problems, " ".join("%s=%s" % kv for kv in figs.items()) + " seed=%d" % seed
    except Exception as e:  # noqa: BLE001
        import traceback
        problems.append("harness: %r %s" % (e, traceback.format_exc()[-800:]))
        return False, " ".join("%s=%s" % kv for kv in figs.items())
    finally:
        if server is not None:
            server.kill()
        S.remove_tmp(tmp, keep)


def main():
    ap = S.base_args(__doc__.splitlines()[1])
    a = ap.parse_args()
    seed = S.seed_of(a)
    ok, figures = run(os.path.abspath(a.tbdev), os.path.abspath(a.server), seed, a.small,
                      a.keep)
    return S.finish(ok, figures, getattr(run, "problems", []))


if __name__ == "__main__":
    sys.exit(main())
