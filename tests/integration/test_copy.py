#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: `tbdev-server copy` moves a SQLite installation to PostgreSQL + Swift.

Usage:  test_copy.py TBDEV_EXE TBDEV_SERVER_EXE SCALAR_FORMS_EXE

A SQLite server with two users (alice with a password and two tokens, bob with a quota), every
folder of the real data ($TBDEV_REAL_DATA, images included) uploaded by alice, one experiment
private and shared with bob, and a web session of alice's. Then, on a PostgreSQL cluster and
Swift's S3 API of the test's own (scale_lib):

- a wrong S3 secret is a clear error, and nothing is written;
- `copy --from src.db --to postgresql://... --blob_store s3://...` exits 0 and verifies every
  table; the source file is not changed (same SHA-256);
- a server on the copy serves every experiment's export byte for byte as the SQLite server
  did, with the same usage and quota (`user list --json`); alice's tokens, her web session
  and her password still work, bob still reads the shared private experiment; every blob is an
  object named by its SHA-256 with no bytes in the database; a new upload works (sequences
  set past the copied ids and seqs);
- `copy --verify_only` reports a changed chunk byte, a deleted token row and a deleted object
  as differences (exit 1), and passes again once the byte is put back;
- a destination holding other data (a migrated database with a user) is refused;
- a copy of a 1.2M-point installation killed with SIGKILL in the middle of its scalar chunks
  and run again finishes, verifies, and holds each row once.

Exits 0, 1, or 77 (the real data, PostgreSQL or Swift missing).
"""

import hashlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale_lib as S  # noqa: E402
import uploader_lib as L  # noqa: E402

PUBLIC_URL = "https://tbdev.test"
PASSWORD = "alice's long password"


def admin(exe, *args, stdin=None, timeout=600):
    p = subprocess.run([exe] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=L.clean_env())
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def copy_json(exe, *args):
    rc, out, err = admin(exe, "copy", "--json", *args, timeout=1200)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    return rc, doc, out, err


def request(base, cacert, method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    ctx = ssl.create_default_context(cafile=cacert)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def tree_digest(d):
    """{relative path: sha256} of every file below d; an export's event file is named after
    the time of the export, which is left out of the name."""
    out = {}
    for dirpath, _, files in os.walk(d):
        for fn in files:
            p = os.path.join(dirpath, fn)
            with open(p, "rb") as f:
                name = re.sub(r"tfevents\.\d+\.", "tfevents.T.", os.path.relpath(p, d))
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def file_digest(paths):
    """{name: sha256} of the files; one that is not there counts as empty (a reader of a WAL
    database makes an empty -wal file, which holds nothing)."""
    out = {}
    for p in paths:
        body = b""
        if os.path.exists(p):
            with open(p, "rb") as f:
                body = f.read()
        out[os.path.basename(p)] = hashlib.sha256(body).hexdigest()[:16]
    return out


def start_server(exe, tmp, db, cert, key_, extra=()):
    srv = L.Server(exe, tmp, db, cert, key_, extra_args=list(extra) + ["--public_url", PUBLIC_URL])
    port = S.free_port()
    srv.start(port=port, timeout=30, attempts=3)
    srv.port = port
    srv.base = "https://127.0.0.1:%d" % port
    return srv


def client(exe, tmp, name, srv, cert, token):
    c = L.Client(exe, os.path.join(tmp, "home-" + name), url=srv.base, cacert=cert,
                 use_env=False)
    rc, out, err = c.login(token)
    if rc != 0:
        raise RuntimeError("login of %s: %s %s" % (name, rc, err[-300:]))
    return c


def exports(c, ids, outroot):
    """{id: tree digest} of each experiment's events export (and its CSV), or an error text."""
    got = {}
    for i in ids:
        d = os.path.join(outroot, i)
        rc, out, err = c.run(["export", "--experiment_id", i, "--outdir", d], timeout=600)
        rc2, _, err2 = c.run(["export", "--experiment_id", i, "--outdir", d + "-csv",
                              "--format", "csv"], timeout=600)
        got[i] = (tree_digest(d), tree_digest(d + "-csv")) if rc == 0 and rc2 == 0 else \
            "export exit %s %s: %s %s" % (rc, rc2, err[-200:], err2[-200:])
    return got


def users_json(exe, db):
    rc, out, err = admin(exe, "user", "list", "--json", "--db", db)
    return out if rc == 0 else "exit %s: %s" % (rc, err)


def tables(doc):
    return {t["table"]: t for t in (doc or {}).get("tables", [])}


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE SCALAR_FORMS_EXE\n" % argv[0])
        return 2
    tbdev, exe, forms = (os.path.abspath(a) for a in argv[1:])
    data = L.real_data_dir()
    if not os.path.isdir(data):
        print("# SKIP: real data folder %s not found (set TBDEV_REAL_DATA)" % data)
        return L.SKIP
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    try:
        pg, sw = S.PgCluster(), S.SwiftS3()
    except S.Unavailable as e:
        print("# SKIP: %s" % e)
        return L.SKIP
    rep = L.Reporter()
    if not L.check_exes(rep, tbdev, exe):
        return rep.finish()
    tmp = L.make_tempdir("tbdev-copy-")
    servers = []
    try:
        pg.start()
        sw.start()
        cert, key_ = L.make_cert(tmp)
        src = os.path.join(tmp, "src.db")
        tok_a = L.add_user(exe, src, "alice")
        tok_b = L.add_user(exe, src, "bob")
        rc, tok_a2, err = admin(exe, "token", "create", "alice", "--name", "ci", "--db", src)
        tok_a2 = tok_a2.strip().splitlines()[-1] if rc == 0 else ""
        admin(exe, "user", "passwd", "alice", "--db", src, stdin=(PASSWORD + "\n").encode())
        admin(exe, "user", "quota", "bob", "500M", "--db", src)

        # --- the installation to move ---
        s1 = start_server(exe, tmp, src, cert, key_)
        servers.append(s1)
        ca = client(tbdev, tmp, "alice", s1, cert, tok_a)
        cb = client(tbdev, tmp, "bob", s1, cert, tok_b)
        ids = []
        folders = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))
        for d in folders:
            rc, out, err = ca.run(["upload", "--logdir", os.path.join(data, d), "--one_shot",
                                   "--name", d[:100]], timeout=600)
            i = L.experiment_id_of(out)
            if i:
                ids.append(i)
            else:
                rep.check("upload %s" % d, "exit %s: %s" % (rc, err[-300:]))
        rep.check("%d real folders uploaded into the SQLite server" % len(ids),
                  None if ids and len(ids) == len(folders) else "%d of %d" % (len(ids),
                                                                          len(folders)))
        private = ids[0]
        rc, out, err = ca.run(["update-metadata", "--experiment_id", private, "--visibility",
                               "private", "--share_with", "bob"])
        rep.check("a private experiment shared with bob", None if rc == 0 else err[-300:])
        st, hdr, body = request(s1.base, cert, "POST", "/api/v1/login",
                                json.dumps({"user": "alice", "password": PASSWORD}).encode(),
                                {"Content-Type": "application/json"})
        cookie = (hdr.get("Set-Cookie") or "").split(";")[0]
        rep.check("alice signs in on the web (a session)",
                  None if st == 200 and cookie.startswith("tbdev_session=") else "%s %s" % (
                      st, body[:200]))
        want = exports(ca, ids, os.path.join(tmp, "export-sqlite"))
        want_bob = exports(cb, [private], os.path.join(tmp, "export-sqlite-bob"))
        rep.check("bob exports the private experiment shared with him (SQLite)",
                  None if isinstance(want_bob[private], tuple) else want_bob[private])
        rc = s1.stop()
        servers.remove(s1)
        rep.check("the SQLite server stops", None if rc == 0 else "exit %s" % rc)
        users_src = users_json(exe, src)
        src_files = [src, src + "-wal"]  # not -shm: the WAL index, where readers take locks
        src_digest = file_digest(src_files)

        s3 = lambda bucket, secret=sw.secret_key: [  # noqa: E731
            "--blob_store", "s3://" + bucket, "--s3_endpoint", sw.endpoint,
            "--s3_access_key", sw.access_key, "--s3_secret_key", secret]

        # --- a wrong secret ---
        sw.bucket("moved")
        bad = pg.create_database("bad")
        rc, out, err = admin(exe, "copy", "--from", src, "--to", bad,
                             *s3("moved", "not-the-secret"))
        rep.check("a wrong S3 secret: exit 1, saying the credentials were refused",
                  None if rc == 1 and "credentials" in err and "not-the-secret" not in err + out
                  else "exit %s: %s" % (rc, err[-400:]))
        rep.check("... and nothing was written to the destination",
                  None if pg.psql("SELECT to_regclass('users') IS NULL", db="bad")[1].strip()
                  == "t" else "tables were made")

        # --- the copy ---
        moved = pg.create_database("moved")
        rc, doc, out, err = copy_json(exe, "--from", src, "--to", moved, *s3("moved"))
        t = tables(doc)
        rep.check("copy exits 0 and verifies every table",
                  None if rc == 0 and doc and doc["ok"] and doc["verified"] and
                  all(x["match"] for x in t.values()) else
                  "exit %s: %s %s" % (rc, out[-600:], err[-600:]))
        want_tables = {"users", "tokens", "sessions", "experiments", "shares", "runs", "files",
                       "series", "series_content", "scalar_chunks", "tensors", "blob_points",
                       "blobs", "blob_owners"}
        empty = sorted(n for n in want_tables if not t.get(n, {}).get("source_rows"))
        rep.check("the installation has rows in every table that matters", L.short(empty)
                  if empty else None)
        if doc:
            rep.note("copy: %d rows, %.1f MB, %.0f rows/s, %.1f MB/s, verified in %.1f s" % (
                doc["rows_copied"], doc["bytes_copied"] / 1e6, doc["rows_per_s"],
                doc["mb_per_s"], doc["verify_seconds"]))
        rep.check("the source is not changed by the copy",
                  None if file_digest(src_files) == src_digest else "%s, then %s" % (
                      src_digest, file_digest(src_files)))
        rows = pg.psql("SELECT encode(sha, 'hex'), size, data IS NULL FROM blobs",
                       db="moved")[1].split()
        keys = set(sw.keys("moved"))
        wrong = []
        for line in rows:
            sha, size, nodata = line.split("|")
            if nodata != "t":
                wrong.append(sha[:12] + " bytes in the database")
            st, body = sw.object("moved", sha)
            if st != 200 or hashlib.sha256(body).hexdigest() != sha or len(body) != int(size):
                wrong.append(sha[:12] + " object %s" % st)
        rep.check("%d blobs: each an object named by its SHA-256, none in the database"
                  % len(rows), L.short(wrong) if wrong else None if rows else "no blobs")
        rep.check("the bucket holds only those objects",
                  None if keys == {r.split("|")[0] for r in rows} else
                  "%d keys, %d blobs" % (len(keys), len(rows)))
        rc, doc2, out, err = copy_json(exe, "--from", src, "--to", moved, *s3("moved"))
        rep.check("copy run again on a finished copy copies nothing and verifies",
                  None if rc == 0 and doc2 and doc2["rows_copied"] == 0 and doc2["verified"]
                  else "exit %s: %s %s" % (rc, out[-300:], err[-300:]))

        # --- a server on the copy ---
        s2 = start_server(exe, tmp, moved, cert, key_, s3("moved"))
        servers.append(s2)
        try:
            ca2 = client(tbdev, tmp, "alice-pg", s2, cert, tok_a)
            rep.check("alice's first token logs in on the PostgreSQL server", None)
        except RuntimeError as e:
            rep.check("alice's first token logs in on the PostgreSQL server", str(e))
            return rep.finish()
        got = exports(ca2, ids, os.path.join(tmp, "export-pg"))
        diff = [i for i in ids if got.get(i) != want.get(i)]
        rep.check("every experiment's export (events and CSV) is byte-equal on PostgreSQL "
                  "(%d experiments)" % len(ids),
                  None if not diff and all(isinstance(v, tuple) for v in want.values()) else
                  "differ: %s" % L.short(diff))
        st, _, body = request(s2.base, cert, "GET", "/api/v1/me",
                              headers={"Authorization": "Bearer " + tok_a2})
        rep.check("alice's second token works", None if st == 200 else "%s %s" % (st, body[:200]))
        st, _, body = request(s2.base, cert, "GET", "/api/v1/me", headers={"Cookie": cookie})
        rep.check("alice's web session from the SQLite server still works",
                  None if st == 200 and b"alice" in body else "%s %s" % (st, body[:200]))
        st, _, body = request(s2.base, cert, "POST", "/api/v1/login",
                              json.dumps({"user": "alice", "password": PASSWORD}).encode(),
                              {"Content-Type": "application/json"})
        rep.check("alice's password signs in", None if st == 200 else "%s %s" % (st, body[:200]))
        cb2 = client(tbdev, tmp, "bob-pg", s2, cert, tok_b)
        got_bob = exports(cb2, [private], os.path.join(tmp, "export-pg-bob"))
        rep.check("bob still reads the private experiment shared with him, byte-equal",
                  None if got_bob == want_bob else "differs: %s" % str(got_bob)[:300])
        rep.check("usage and quotas are the same (user list --json)",
                  None if users_json(exe, moved) == users_src else "%s / %s" % (
                      users_json(exe, moved)[:300], users_src[:300]))
        rc, out, err = ca2.run(["upload", "--logdir", os.path.join(data, folders[-1]),
                                "--one_shot", "--name", "after the move"], timeout=600)
        new_id = L.experiment_id_of(out)
        rep.check("a new upload works on the copy (ids and seqs past the copied ones)",
                  None if rc == 0 and new_id else "exit %s: %s" % (rc, err[-300:]))
        new = exports(ca2, [new_id], os.path.join(tmp, "export-new")) if new_id else {}
        rep.check("... and exports", None if new_id and isinstance(new[new_id], tuple) else
                  str(new)[:300])
        rc = s2.stop()
        servers.remove(s2)
        rc1, _, err1 = admin(exe, "user", "add", "dave", "--db", moved)
        rc2, _, err2 = admin(exe, "token", "create", "bob", "--db", moved)
        rep.check("a new user and a new token on the copy (their ids past the copied ones)",
                  None if rc1 == 0 and rc2 == 0 else "%s %s: %s %s" % (rc1, rc2, err1, err2))
        rc_c, out, err = L.server_check(exe, moved)
        rep.check("tbdev-server check on the copy",
                  None if rc_c == 0 else "exit %s: %s %s" % (rc_c, out, err[-300:]))

        # --- a destination holding other data ---
        foreign = pg.create_database("other")
        L.add_user(exe, foreign, "carol")
        rc, out, err = admin(exe, "copy", "--from", src, "--to", foreign)
        rep.check("a destination with other data is refused, saying so",
                  None if rc == 1 and "already holds data" in err else
                  "exit %s: %s" % (rc, err[-300:]))
        rep.check("... and left as it was",
                  None if pg.psql("SELECT count(*) FROM users", db="other")[1].strip() == "1"
                  else "users changed")
        rc, out, err = admin(exe, "copy", "--from", src, "--to", moved, *s3("moved"))
        rep.check("a copy's destination that a server has written to since fails verification",
                  None if rc == 1 and "differs" in err else "exit %s: %s" % (rc, err[-300:]))

        # --- a tampered destination ---
        sw.bucket("tamper")
        tdb = pg.create_database("tamper")
        rc, doc, out, err = copy_json(exe, "--from", src, "--to", tdb, *s3("tamper"))
        rep.check("a second copy (to tamper with)", None if rc == 0 else err[-300:])
        one = ("(series_id, seq) = (SELECT series_id, seq FROM scalar_chunks "
               "ORDER BY series_id, seq LIMIT 1)")
        pg.psql("UPDATE scalar_chunks SET data = set_byte(data, 10, (get_byte(data, 10) + 1)"
                " %% 256) WHERE %s" % one, db="tamper")
        rc, doc, out, err = copy_json(exe, "--verify_only", "--from", src, "--to", tdb,
                                      *s3("tamper"))
        t = tables(doc)
        rep.check("one chunk byte changed: verify_only exits 1, scalar_chunks differs, nothing "
                  "else",
                  None if rc == 1 and doc and not t["scalar_chunks"]["match"] and
                  sum(not x["match"] for x in t.values()) == 1 and
                  "scalar_chunks" in err else "exit %s: %s %s" % (rc, out[-400:], err[-300:]))
        pg.psql("UPDATE scalar_chunks SET data = set_byte(data, 10, (get_byte(data, 10) + 255)"
                " %% 256) WHERE %s" % one, db="tamper")
        rc, doc, out, err = copy_json(exe, "--verify_only", "--from", src, "--to", tdb,
                                      *s3("tamper"))
        rep.check("the byte put back: verify_only exits 0", None if rc == 0 else err[-300:])
        pg.psql("DELETE FROM tokens WHERE id = (SELECT max(id) FROM tokens)", db="tamper")
        rc, doc, out, err = copy_json(exe, "--verify_only", "--from", src, "--to", tdb,
                                      *s3("tamper"))
        t = tables(doc)
        rep.check("a token row deleted: tokens differs in its row count",
                  None if rc == 1 and t and t["tokens"]["dest_rows"] ==
                  t["tokens"]["source_rows"] - 1 and "tokens (row counts)" in err else
                  "exit %s: %s" % (rc, err[-300:]))
        sha = pg.psql("SELECT encode(sha, 'hex') FROM blobs ORDER BY sha LIMIT 1",
                      db="tamper")[1].strip()
        sw._swift("DELETE", "/tamper/" + sha)
        rc, doc, out, err = copy_json(exe, "--verify_only", "--from", src, "--to", tdb,
                                      *s3("tamper"))
        t = tables(doc)
        rep.check("an object deleted from the store: blobs differs, one object missing",
                  None if rc == 1 and t and not t["blobs"]["match"] and
                  t["blobs"]["missing_objects"] == 1 else "exit %s: %s" % (rc, err[-300:]))

        # --- killed in the middle, and run again ---
        big = os.path.join(tmp, "big.db")
        logs = os.path.join(tmp, "big-logs")
        p = subprocess.run([forms, logs, "20", "20", "3000", "simple"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=600)
        tok_c = L.add_user(exe, big, "carol")
        s3b = start_server(exe, tmp, big, cert, key_)
        servers.append(s3b)
        cc = client(tbdev, tmp, "carol", s3b, cert, tok_c)
        rc, out, err = cc.run(["upload", "--logdir", logs, "--one_shot"], timeout=900)
        s3b.stop()
        servers.remove(s3b)
        rep.check("a 1.2M-point installation (20 runs x 20 tags x 3000 steps)",
                  None if p.returncode == 0 and rc == 0 else "exit %s %s: %s" % (
                      p.returncode, rc, err[-300:]))
        killed = None
        for attempt in range(3):
            bdb = pg.create_database("big%d" % attempt)
            proc = subprocess.Popen([exe, "copy", "--from", big, "--to", bdb],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=L.clean_env())
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:
                rc_q, out = pg.psql("SELECT rows FROM tbdev_copy WHERE name = 'scalar_chunks'"
                                    " AND NOT done", db="big%d" % attempt, check=False)
                if rc_q == 0 and out.strip():
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
            proc.wait()
            if proc.returncode == -signal.SIGKILL:
                killed = attempt
                break
        chunks_at_kill = pg.psql("SELECT count(*) FROM scalar_chunks",
                                 db="big%d" % killed)[1].strip() if killed is not None else "?"
        rep.check("the copy is killed (SIGKILL) while copying the scalar chunks",
                  None if killed is not None else "it finished before it could be killed")
        if killed is not None:
            rc, out, err = admin(exe, "copy", "--verify_only", "--from", big, "--to",
                                 pg.url("big%d" % killed))
            rep.check("verify_only of the stopped copy: exit 1, saying it did not finish",
                      None if rc == 1 and "stopped before it finished" in err else
                      "exit %s: %s" % (rc, err[-300:]))
            rc, doc, out, err = copy_json(exe, "--from", big, "--to", pg.url("big%d" % killed))
            t = tables(doc)
            rep.check("run again, it continues (%s chunks were there) and verifies" %
                      chunks_at_kill,
                      None if rc == 0 and doc["resumed"] and doc["verified"] and
                      t["scalar_chunks"]["copied"] < t["scalar_chunks"]["source_rows"] else
                      "exit %s: %s %s" % (rc, out[-400:], err[-300:]))
            pts = pg.psql("SELECT sum(n), count(*), count(DISTINCT (series_id, seq)) FROM "
                          "scalar_chunks", db="big%d" % killed)[1].strip()
            rep.check("every point once: %s points in chunks" % pts.split("|")[0],
                      None if pts.split("|")[0] == str(20 * 20 * 3000) and
                      pts.split("|")[1] == pts.split("|")[2] else pts)
            rc, doc_pp, out, err = copy_json(exe, "--from", pg.url("big%d" % killed), "--to",
                                             pg.create_database("big_again"))
            rep.check("PostgreSQL to PostgreSQL: the copy copied again, verified",
                      None if rc == 0 and doc_pp["verified"] and doc_pp["rows_copied"] ==
                      sum(x["source_rows"] for x in t.values()) else
                      "exit %s: %s" % (rc, err[-300:]))
            if doc:
                rep.note("resumed copy: %d rows, %.1f MB, %.0f rows/s, %.1f MB/s" % (
                    doc["rows_copied"], doc["bytes_copied"] / 1e6, doc["rows_per_s"],
                    doc["mb_per_s"]))
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("test harness", "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        for srv in servers:
            srv.kill()
        sw.stop()
        pg.stop()
        L.check_sanitizers(rep, tmp)
        L.finish_tmp(rep, tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
