#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: several tbdev-server processes on one PostgreSQL database, blobs in Swift.

Usage:  test_scale_out.py PATH/TO/tbdev-server [SEED]

The test starts its own PostgreSQL 15 cluster and its own Swift with s3api on loopback
(scale_lib.py), and two servers on one database; clients alternate between the servers, as a
load balancer would send them. It checks what a direct port of SQLite's write transaction gets
wrong under READ COMMITTED (two servers sending the same group both store it):
  - the same group sent to both servers at the same instant, round after round, over several
    files of a run at once: each committed exactly once (1 COMMITTED, the other REPLAY), every
    point stored once, the series' counts and the experiment's usage exact;
  - the quota under concurrent writers through both servers: never passed, and the user's used
    bytes equal the recount of what is stored; the runs-per-experiment and tags-per-run limits
    hold under concurrent writers too;
  - kill -9 of one server in the middle of a stream of batches; the client resumes on the other
    server from its cursors, and every point is there once;
  - blobs in Swift: an image written through one server is read back byte for byte through the
    other (and is an object in the bucket under its SHA-256); a wrong S3 secret stops the server
    at startup with a clear error; a run deleted and its blob collected (upkeep, grace 0) while
    a batch references the blob again: the blob is not lost;
  - a chart answered from the chunks' group summaries equals M4 computed from every point;
  - `tbdev-server check` finds the counters equal to the rows.

Output: "ok - NAME" / "not ok - NAME: WHY". Exit 0 if all pass, 1 otherwise, 77 to skip (no
PostgreSQL or Swift on this machine; the reason is printed).
"""

import hashlib
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402
import scale_lib as S  # noqa: E402
import test_read_views as V  # noqa: E402

E = "/api/v1/experiments"


def scalar_file(tags, steps, value_fn):
    ef = L.EventFile()
    for s in steps:
        ef.add(L.ev_scalars_tf1(s, [(t, value_fn(t, s)) for t in tags]))
    return ef


def statuses(r):
    if r.status != 200:
        return r.status
    return [x["status"] for x in r.pb("WriteEventsResponse")["results"]]


def points(srv, token, eid, tag, run):
    j = srv.get_json("%s/%s/scalars?tag=%s&run=%s&points=all&restarts=keep"
                     % (E, eid, L.quote(tag), L.quote(run)), token=token)
    ser = j.get("series", [])
    return [(p[1], p[2]) for p in ser[0]["points"]] if ser else []


def usage(srv, token, eid):
    for x in srv.get_json(E, token=token).get("experiments", []):
        if x["id"] == eid:
            return x["usage"]
    return {}


def used_bytes(srv, user):
    rc, out, err = srv.admin("user", "list", "--json")
    import json
    for u in json.loads(out):
        if u["name"] == user:
            return u["used_bytes"]
    return None


def body(rep, exe, tmp):
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(1 << 30)
    rep.note("seed %d" % seed)
    rnd = random.Random(seed)
    try:
        pg = S.PgCluster()
    except S.Unavailable as e:
        print("# skip: %s" % e)
        sys.exit(L.SKIP)
    t0 = time.monotonic()
    pg.start()
    rep.note("PostgreSQL up in %.1f s" % (time.monotonic() - t0))
    url = pg.create_database("shared")
    limits = ["--max_runs", "6", "--max_tags", "5", "--write_threads", "4"]
    a = rep.watch(S.PgServer(exe, tmp, pg, url, name="a", args=limits))
    b = rep.watch(S.PgServer(exe, tmp, pg, url, name="b", args=limits))
    alice = a.add_user("alice")
    # several servers share the database: each must be told the one name users reach them by
    lone = S.PgServer(exe, tmp, pg, url, name="no_public_url", public_url=None)
    try:
        lone.start(timeout=30)
        lone.stop()
        rep.fail("without --public_url a server on PostgreSQL refuses to start", "it started")
    except L.ServerError as e:
        log = lone.log_text()
        rep.check("exited with 2" in str(e) and "--public_url https://HOST" in log and
                  "load balancer" in log,
                  "without --public_url a server on PostgreSQL refuses to start (usage error "
                  "naming --public_url)", "%s; log %s" % (e, log[-400:]))
    a.start()
    b.start()
    servers = [a, b]

    # --------------------------------------------------------------------------------------
    # The same group to both servers at the same instant, for several files of one run at once.
    eid = a.create_experiment(alice, "race")
    n_files, steps = 4, 240
    files = {"events.out.tfevents.%d" % i: scalar_file(["loss", "acc"], range(steps),
                                                        lambda t, s, i=i: s * 10.0 + i)
             for i in range(n_files)}
    outcomes = {f: [] for f in files}
    errors = []
    lock = threading.Lock()

    def race_file(fname):
        ef = files[fname]
        for off, chunk in ef.chunks(rnd.choice([5, 8, 13])):
            got = []
            barrier = threading.Barrier(2)

            def send(srv):
                try:
                    barrier.wait(10)
                    got.append(statuses(srv.write(alice, eid, [("train", fname, off, chunk)])))
                except Exception as e:  # noqa: BLE001
                    got.append(repr(e))

            ts = [threading.Thread(target=send, args=(s,)) for s in servers]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            with lock:
                outcomes[fname].append(sorted(map(str, got)))
                if sorted(map(str, got)) != sorted([str([L.COMMITTED]), str([L.REPLAY])]):
                    errors.append((fname, off, got))

    threads = [threading.Thread(target=race_file, args=(f,)) for f in files]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    n_groups = sum(len(v) for v in outcomes.values())
    rep.note("%d groups, each sent to both servers at once, in %.1f s" % (n_groups,
                                                                        time.monotonic() - t0))
    rep.check(not errors and n_groups > 4 * 15,
              "the same group through two servers at once: 1 COMMITTED and 1 REPLAY, every time "
              "(%d groups over %d files at once)" % (n_groups, n_files), repr(errors[:5]))
    want = sorted((s, s * 10.0 + i) for i in range(n_files) for s in range(steps))
    for tag in ("loss", "acc"):
        got = sorted(points(b, alice, eid, tag, "train"))
        rep.eq(got, want, "%s: every point of the %d files once, read through the other server"
               % (tag, n_files), "got %d points, want %d" % (len(got), len(want)))
    u = usage(a, alice, eid)
    rep.eq(u.get("scalars"), 2 * n_files * steps, "usage.scalars counts each point once")
    rep.eq(u.get("bytes"), a.stored_bytes(eid), "usage.bytes equals the recount of the rows")
    tags = {t["tag"]: t["points"] for t in b.get_json(E + "/" + eid + "/tags",
                                                       token=alice).get("tags", [])}
    rep.eq(tags, {"loss": n_files * steps, "acc": n_files * steps},
           "the series' point counts are exact")

    # --------------------------------------------------------------------------------------
    # Quota under concurrent writers through both servers.
    bob = a.add_user("bob")
    quota = 60000
    rc, out, err = a.admin("user", "quota", "bob", str(quota))
    rep.check(rc == 0, "user quota bob %d" % quota, err)
    qexps = [servers[i % 2].create_experiment(bob, "q%d" % i) for i in range(6)]
    q_results = []

    def fill(i):
        srv = servers[i % 2]
        ef = scalar_file(["v%d" % k for k in range(4)], range(2000), lambda t, s: float(s))
        for off, chunk in ef.chunks(40):
            r = srv.write(bob, qexps[i], [("r", "events.out.tfevents.1", off, chunk)])
            q_results.append(r.status)
            if r.status != 200:
                break

    threads = [threading.Thread(target=fill, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    used = used_bytes(a, "bob")
    recount = sum(a.stored_bytes(e) or 0 for e in qexps)
    rep.check(507 in q_results and 200 in q_results,
              "the quota stops concurrent writers with 507", repr(sorted(set(q_results))))
    rep.check(used is not None and used <= quota,
              "concurrent writers through two servers never pass the quota",
              "used %s of %d" % (used, quota))
    rep.eq(used, recount, "the user's used bytes equal the recount of what is stored")

    # Run and tag limits under concurrent writers.
    lim = a.create_experiment(alice, "limits")
    run_status = {}

    def new_run(i):
        ef = scalar_file(["x"], range(3), lambda t, s: 1.0)
        r = servers[i % 2].write(alice, lim, [("run%02d" % i, "f", 0, ef.chunks(100)[0][1])])
        run_status[i] = r.status

    threads = [threading.Thread(target=new_run, args=(i,)) for i in range(14)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    runs = a.get_json(E + "/" + lim + "/runs", token=alice).get("runs", [])
    rep.eq((len(runs), sorted(run_status.values()).count(200),
            sorted(run_status.values()).count(413)), (6, 6, 8),
           "14 new runs at once through two servers, limit 6: 6 stored, 8 refused with 413")

    stored = sorted(i for i, st in run_status.items() if st == 200)
    target = "run%02d" % (stored[0] if stored else 0)
    tag_status = {}

    def new_tag(i):
        ef = scalar_file(["tag%02d" % i], range(3), lambda t, s: 1.0)
        r = servers[i % 2].write(alice, lim, [(target, "t%02d" % i, 0, ef.chunks(100)[0][1])])
        tag_status[i] = r.status

    threads = [threading.Thread(target=new_tag, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    n_tags = sum(1 for t in b.get_json(E + "/" + lim + "/tags", token=alice).get("tags", [])
                 if t["run"] == target)
    rep.eq((n_tags, list(tag_status.values()).count(200), list(tag_status.values()).count(413)),
           (5, 4, 8), "12 new tags at once in one run (which has 1) through two servers, limit "
           "5: 4 more stored, 8 refused with 413")

    # --------------------------------------------------------------------------------------
    # kill -9 of one server mid-stream; the client resumes on the other from the cursors.
    kid = a.create_experiment(alice, "kill")
    big = scalar_file(["loss"], range(30000), lambda t, s: s / 7.0)
    groups = big.chunks(1500)
    acked = []
    stop = threading.Event()

    def stream():
        for off, chunk in groups:
            if stop.is_set():
                return
            try:
                r = a.write(alice, kid, [("train", "big", off, chunk)])
                if r.status == 200:
                    acked.append(off)
            except Exception:  # noqa: BLE001 (the server died under it)
                return

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.3 + rnd.random() * 0.5)
    a.kill9()
    stop.set()
    t.join(60)
    rep.note("server a killed after %d of %d groups were acknowledged" % (len(acked), len(groups)))
    cur = b.cursors(alice, kid).get(("train", "big"), 0)
    rep.check(not acked or cur >= acked[-1], "the other server's cursor covers every acknowledged "
              "group", "cursor %d, last acknowledged group at %s" % (cur, acked[-1:]))
    bounds = [o for o, _ in groups]
    rep.check(cur == 0 or cur in bounds + [len(big)], "the cursor is at a group's boundary",
              "cursor %d" % cur)
    for off, chunk in groups:
        if off >= cur:
            b.write_ok(alice, kid, [("train", "big", off, chunk)])
    got = points(b, alice, kid, "loss", "train")
    rep.eq([p[0] for p in got], list(range(30000)),
           "after kill -9 and resuming on the other server: steps 0..29999 once each")
    rep.eq(usage(b, alice, kid).get("scalars"), 30000, "usage.scalars exact after the kill")
    a.start()  # the killed server comes back on the same database

    # charts from the chunks' group summaries on PostgreSQL: M4 over whole 64-point groups,
    # the same points as computed from every point (test_read_views does it on SQLite)
    V.check_summary_charts(rep, a, alice, a.create_experiment(alice, "summaries"))

    rc, out, err = b.check()
    rep.check(rc == 0 and "ok" in out, "tbdev-server check: the counters agree with the rows",
              out + err)
    # migration 2: chunk points lz4-compressed (pglz cost a chart read 16%, an ingest half), or
    # stored uncompressed where PostgreSQL lacks lz4; every stored chunk either way
    got = a.sql("SELECT a.attcompression::text || a.attstorage::text, (SELECT string_agg("
                "DISTINCT "
                "coalesce(pg_column_compression(data), 'none'), ',' ORDER BY "
                "coalesce(pg_column_compression(data), 'none')) FROM scalar_chunks) FROM "
                "pg_attribute a WHERE a.attrelid = 'scalar_chunks'::regclass AND a.attname = "
                "'data'").strip()
    rep.check(got in ("lx|lz4", "le|none", "lx|lz4,none"), "scalar chunks are stored with lz4 "
              "(or uncompressed), not pglz", got)

    # --------------------------------------------------------------------------------------
    # The purge job: expired sessions and device codes go, live ones stay (serve runs it every
    # 30 s on one of the servers; upkeep runs the same job at once).
    now = time.time()
    a.sql("INSERT INTO sessions(hash, user_id, created, expires) SELECT decode(repeat(h, 32), "
          "'hex'), u.id, 0, e FROM users u, (VALUES ('01', 1.0), ('02', %f)) v(h, e) "
          "WHERE u.name = 'alice'" % (now + 3600))
    a.sql("INSERT INTO device_codes(device_hash, user_code, expires) VALUES "
          "(decode(repeat('03', 32), 'hex'), 'EXPD-0001', 1), "
          "(decode(repeat('04', 32), 'hex'), 'LIVE-0001', %f)" % (now + 600))
    rc, out, err = b.admin("upkeep")
    left = a.sql("SELECT (SELECT string_agg(encode(substr(hash, 1, 1), 'hex'), ',' ORDER BY hash)"
                 " FROM sessions WHERE hash IN (decode(repeat('01', 32), 'hex'), "
                 "decode(repeat('02', 32), 'hex'))), (SELECT string_agg(user_code, ',') FROM "
                 "device_codes WHERE user_code LIKE '%-0001')").strip()
    rep.check(rc == 0 and left == "02|LIVE-0001", "upkeep purges the expired session and device "
              "code and keeps the live ones", "exit %d %s; left %r" % (rc, err[-200:], left))

    # --------------------------------------------------------------------------------------
    # Blobs in Swift.
    try:
        sw = S.SwiftS3()
    except S.Unavailable as e:
        rep.note("Swift checks skipped: %s" % e)
        return
    t0 = time.monotonic()
    sw.start()
    bucket = sw.bucket("tbdev-blobs")
    rep.note("Swift up in %.1f s" % (time.monotonic() - t0))
    s3 = ["--blob_store", "s3://" + bucket, "--s3_endpoint", sw.endpoint,
          "--s3_access_key", sw.access_key]
    url2 = pg.create_database("blobs")
    bad = S.PgServer(exe, tmp, pg, url2, name="wrong_secret",
                     args=s3 + ["--s3_secret_key", "not-the-secret"])
    bad.admin("migrate")
    try:
        bad.start(timeout=30)
        bad.stop()
        rep.fail("a wrong S3 secret stops the server at startup", "it started")
    except L.ServerError:
        log = "\n".join(ln for ln in bad.log_text().splitlines() if not ln.startswith("==="))
        rep.check("refused the credentials" in log and "403" in log and
                  "not-the-secret" not in log,
                  "a wrong S3 secret stops the server at startup with a clear error (and the "
                  "secret is not in it)", log[-400:])
    good = s3 + ["--s3_secret_key", sw.secret_key]
    c = rep.watch(S.PgServer(exe, tmp, pg, url2, name="c", args=good))
    d = rep.watch(S.PgServer(exe, tmp, pg, url2, name="d", args=good))
    carol = c.add_user("carol")
    c.start()
    d.start()
    bid = c.create_experiment(carol, "images")
    pngs = [L.make_png(3 + i, 2, (i * 40, 255 - i * 40, 7)) for i in range(5)]
    ef = L.EventFile()
    for i, p in enumerate(pngs):
        ef.add(L.ev_image_tf1("img", i, p, 2, 3 + i))
    c.upload_file(carol, bid, "run1", "events.out.tfevents.1", ef)
    ok = True
    for p in pngs:
        h = hashlib.sha256(p).hexdigest()
        r = d.get("%s/%s/blob/%s" % (E, bid, h), token=carol)
        st, obj = sw.object(bucket, h)
        ok = ok and r.status == 200 and r.body == p and st == 200 and obj == p
        ok = ok and r.header("Content-Type", "").startswith("image/png")
    rep.check(ok, "images written through one server are objects in the bucket under their "
              "SHA-256, read back byte for byte (as image/png) through the other")
    in_db = c.sql("SELECT count(*) FROM blobs WHERE data IS NOT NULL").strip()
    rep.eq(in_db, "0", "no blob bytes in the database")

    # A run deleted, its blob collected, and the same blob sent again: not lost.
    h0 = hashlib.sha256(pngs[0]).hexdigest()
    ef1 = L.EventFile()
    ef1.add(L.ev_image_tf1("img", 0, pngs[0], 2, 3))
    r = d.request("DELETE", "%s/%s/runs?run=run1" % (E, bid), token=carol)
    rep.status(r, 204, "delete the run holding the images")
    st, _ = sw.object(bucket, h0)
    rep.eq(st, 200, "an unreferenced blob's object stays for the grace period")
    rc, out, err = c.admin("upkeep", *(s3 + ["--s3_secret_key", sw.secret_key,
                                             "--blob_grace", "0"]))
    st, _ = sw.object(bucket, h0)
    rep.check(rc == 0 and st == 404, "upkeep with grace 0 deletes the unreferenced objects",
              "rc %d, object %d; %s" % (rc, st, err))
    c.upload_file(carol, bid, "run2", "events.out.tfevents.1", ef1)
    r = d.get("%s/%s/blob/%s" % (E, bid, h0), token=carol)
    st, obj = sw.object(bucket, h0)
    rep.check(r.status == 200 and r.body == pngs[0] and obj == pngs[0],
              "a blob sent again after its object was collected is written again and served",
              "%d %d" % (r.status, st))
    # the same under a race: the collector running while batches claim the blob again
    lost = []
    for i in range(6):
        d.request("DELETE", "%s/%s/runs?run=run%d" % (E, bid, i + 2), token=carol)
        done = threading.Event()

        def collect():
            while not done.is_set():
                c.admin("upkeep", *(s3 + ["--s3_secret_key", sw.secret_key, "--blob_grace",
                                          "0"]))

        t = threading.Thread(target=collect)
        t.start()
        time.sleep(rnd.random() * 0.3)
        (c if i % 2 else d).upload_file(carol, bid, "run%d" % (i + 3), "events.out.tfevents.1",
                                        ef1)
        done.set()
        t.join(60)
        r = c.get("%s/%s/blob/%s" % (E, bid, h0), token=carol)
        if r.status != 200 or r.body != pngs[0]:
            lost.append((i, r.status))
    rep.check(not lost, "a blob claimed by a batch while the collector runs is never lost "
              "(6 rounds)", repr(lost))
    rc, out, err = c.check()
    rep.check(rc == 0 and "ok" in out, "check after the blob rounds: ok", out + err)
    sw.stop()


if __name__ == "__main__":
    L.run_main("tbdev-server scale-out (PostgreSQL, Swift)", body)
