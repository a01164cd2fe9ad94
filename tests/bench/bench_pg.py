#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark: tbdev-server on PostgreSQL and Swift, each figure against a limit measured in the
same run (medians of --runs runs).

Usage:  bench_pg.py PATH/TO/tbdev-server [--runs 3] [--points 1000000] [--read_runs 100]
                    [--read_points 100000] [--blobs 200]

A PostgreSQL 15 cluster (fsync on) and Swift's S3 API of its own (tests/integration/scale_lib),
one tbdev-server (plain HTTP on loopback, build it with --buildtype=release):

  ingest   TF1 scalars (10 tags an event) through POST /events, 50,000 points a request, one
           client, into a fresh experiment per run: points/s. Then the raw limit: the same
           scalar_chunks rows, exported from that run, loaded with psql's \\copy ... (FORMAT
           binary) into an empty table of the same layout (one transaction): points/s, and the
           ratio ingest / raw (the issue's goal >= 0.5).
  read     a chart of 100 runs: GET /scalars?tag=loss&run=... (all 100 runs, points=2000,
           layout=columns, precision=display, as the page asks), the server's own time from its
           request log (goal <= 250 ms), median of 9 requests, per run of the benchmark; and
           the same chart from a SQLite server in the same run, as a reference.
  blobs    images (distinct, 20-60 KB PNGs, 10 a request) written through the server into
           Swift (each object PUT before the transaction): blobs/s and MB/s; against the raw PUT
           rate of the same bytes straight into Swift (its own API, one kept-alive connection).

Prints one line per figure and a RESULT line; exits 0 (1 if a step failed, 77 without
PostgreSQL or Swift).
"""

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import scale_lib as S  # noqa: E402
import server_lib as L  # noqa: E402

E = "/api/v1/experiments"
TAGS = 10


def scalar_file(steps, tags=TAGS, seed=1):
    rnd = random.Random(seed)
    ef = L.EventFile()
    names = ["loss"] + ["m%d" % i for i in range(1, tags)]
    for s in range(steps):
        ef.add(L.ev_scalars_tf1(s, [(t, rnd.random()) for t in names]))
    return ef


def psql_ms(pg, db, script):
    """Runs psql with \\timing on; returns the milliseconds of each timed command."""
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.url(db)],
                       input=("\\timing on\n" + script).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=1800, env=L.clean_env())
    if p.returncode != 0:
        raise RuntimeError("psql: " + p.stderr.decode()[-500:])
    return [float(m) for m in re.findall(r"Time: ([\d.]+) ms", p.stdout.decode())]


def ingest_once(srv, pg, tok, chunks, points, tmp, k):
    eid = srv.create_experiment(tok, "ingest %d" % k)
    t0 = time.monotonic()
    for off, data in chunks:
        srv.write_ok(tok, eid, [("train", "events.out.tfevents.1", off, data)])
    ingest = points / (time.monotonic() - t0)
    # the raw limit: the same chunk rows, binary COPY into an empty table of the same layout
    dump = os.path.join(tmp, "chunks-%d.bin" % k)
    psql_ms(pg, "bench", "\\copy (SELECT c.series_id, c.seq, c.n, c.min_step, c.max_step, "
            "c.sorted, c.summary, c.data FROM scalar_chunks c JOIN series s ON s.id = "
            "c.series_id JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = '%s') TO '%s' "
            "WITH (FORMAT binary)\n" % (eid, dump))
    ms = psql_ms(pg, "bench", "DROP TABLE IF EXISTS raw_chunks;\nCREATE TABLE raw_chunks (LIKE "
                 "scalar_chunks INCLUDING ALL);\n\\copy raw_chunks FROM '%s' WITH (FORMAT "
                 "binary)\n" % dump)
    n = int(pg.psql("SELECT sum(n) FROM raw_chunks", db="bench")[1].strip())
    os.unlink(dump)
    if n != points:
        raise RuntimeError("raw_chunks holds %d points, the ingest %d" % (n, points))
    return ingest, points / (ms[-1] / 1e3)


def read_setup(srv, tok, runs, points):
    eid = srv.create_experiment(tok, "chart of %d runs" % runs)
    ef = L.EventFile()
    for s in range(points):
        ef.add(L.ev_scalar_tf1("loss", s, 1.0 / (1 + s)))
    chunks = ef.chunks(50000)
    t0 = time.monotonic()
    for r in range(runs):
        for off, data in chunks:
            srv.write_ok(tok, eid, [("run%03d" % r, "events.out.tfevents.1", off, data)])
    return eid, runs * points / (time.monotonic() - t0)


def read_once(srv, tok, eid, runs):
    q = "%s/%s/scalars?tag=loss&%s&points=2000&layout=columns&precision=display" % (
        E, eid, "&".join("run=run%03d" % r for r in range(runs)))
    times = []
    for _ in range(9):
        before = os.path.getsize(srv.log_path)
        r = srv.get(q, token=tok, headers={"Accept": "application/json"})
        if r.status != 200:
            raise RuntimeError("chart read: " + r.short())
        time.sleep(0.03)
        with open(srv.log_path, "rb") as f:
            f.seek(before)
            m = re.search(rb"GET /api/v1/experiments/\S+/scalars 200 \d+ bytes ([\d.]+) ms",
                          f.read())
        if not m:
            raise RuntimeError("no request log line for the chart read")
        times.append(float(m.group(1)))
        j = r.json()
        if len(j.get("series", [])) != runs:
            raise RuntimeError("chart read gave %d series" % len(j.get("series", [])))
    return statistics.median(times)


def make_blobs(n, seed):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        w = rnd.randrange(80, 140)
        raw = b"".join(b"\0" + rnd.randbytes(3 * w) for _ in range(w))
        out.append(L.make_png(1, 1)[:8] + _png_body(w, w, raw))
    return out


def _png_body(w, h, raw):
    import struct

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def blobs_once(srv, tok, sw, bucket, k, n):
    import http.client
    blobs = make_blobs(n, 1000 + k)
    size = sum(len(b) for b in blobs)
    eid = srv.create_experiment(tok, "blobs %d" % k)
    ef = L.EventFile()
    for i, b in enumerate(blobs):
        ef.add(L.ev_image_tf1("img", i, b, 100, 100))
    chunks = ef.chunks(10)
    t0 = time.monotonic()
    for off, data in chunks:
        srv.write_ok(tok, eid, [("train", "events.out.tfevents.1", off, data)])
    through = n / (time.monotonic() - t0)
    # the raw PUT: the same bytes (other keys) straight into Swift, one kept-alive connection
    tok_sw, base = sw._swift_token()
    c = http.client.HTTPConnection("127.0.0.1", sw.port, timeout=60)
    t0 = time.monotonic()
    for i, b in enumerate(blobs):
        c.request("PUT", "%s/%s/raw-%d-%d" % (base, bucket, k, i), body=b,
                  headers={"X-Auth-Token": tok_sw, "Content-Length": str(len(b))})
        r = c.getresponse()
        r.read()
        if r.status // 100 != 2:
            raise RuntimeError("raw PUT: %d" % r.status)
    raw = n / (time.monotonic() - t0)
    c.close()
    return through, raw, size / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--points", type=int, default=1000000)
    ap.add_argument("--read_runs", type=int, default=100)
    ap.add_argument("--read_points", type=int, default=100000)
    ap.add_argument("--blobs", type=int, default=200)
    ap.add_argument("--only", choices=("all", "read"), default="all")
    a = ap.parse_args()
    try:
        pg, sw = S.PgCluster(fsync=True), S.SwiftS3()
    except S.Unavailable as e:
        print("# skip: %s" % e)
        return 77
    tmp = L.make_tempdir("tbdev-bench-pg-") if hasattr(L, "make_tempdir") else None
    if tmp is None:
        import tempfile
        tmp = tempfile.mkdtemp(prefix="tbdev-bench-pg-")
    os.chmod(tmp, 0o755)
    srv = None
    try:
        pg.start()
        sw.start()
        bucket = sw.bucket("bench")
        url = pg.create_database("bench")
        srv = S.PgServer(os.path.abspath(a.server), tmp, pg, url, tls=False, name="bench",
                         args=["--blob_store", "s3://" + bucket, "--s3_endpoint", sw.endpoint,
                               "--s3_access_key", sw.access_key, "--s3_secret_key",
                               sw.secret_key, "--request_bytes", "64M", "--body_memory",
                               "512M", "--quota_bytes", "0"])
        tok = srv.add_user("bench")
        srv.start()
        steps = a.points // TAGS
        ef = scalar_file(steps)
        chunks = ef.chunks(50000 // TAGS)
        print("# %d points (%d events of %d tags), %d requests" % (steps * TAGS, steps, TAGS,
                                                                    len(chunks)), flush=True)
        ing, raw = [], []
        for k in range(a.runs if a.only == "all" else 0):
            i, r = ingest_once(srv, pg, tok, chunks, steps * TAGS, tmp, k)
            ing.append(i)
            raw.append(r)
            print("# run %d: ingest %.0f points/s, raw binary COPY %.0f points/s" % (k, i, r),
                  flush=True)
        eid, up = read_setup(srv, tok, a.read_runs, a.read_points)
        print("# chart data: %d runs x %d points stored at %.0f points/s" % (
            a.read_runs, a.read_points, up), flush=True)
        reads = [read_once(srv, tok, eid, a.read_runs) for _ in range(a.runs)]
        # the same chart on SQLite, as a reference: the read path above the store is shared
        lite = L.Server(os.path.abspath(a.server), tmp, tls=False, name="sqlite",
                        args=["--request_bytes", "64M", "--body_memory", "512M"])
        ltok = lite.add_user("bench")
        lite.start()
        leid, _ = read_setup(lite, ltok, a.read_runs, a.read_points)
        lreads = [read_once(lite, ltok, leid, a.read_runs) for _ in range(a.runs)]
        lite.stop()
        mlite = statistics.median(lreads)
        print("chart of %d runs x %d points on SQLite: %.1f ms server time (reference)" % (
            a.read_runs, a.read_points, mlite), flush=True)
        if a.only == "read":
            print("RESULT chart_ms=%.1f sqlite_chart_ms=%.1f" % (statistics.median(reads), mlite))
            srv.stop()
            return 0
        thr, rawput, avg = [], [], 0
        for k in range(a.runs):
            t, r, avg = blobs_once(srv, tok, sw, bucket, k, a.blobs)
            thr.append(t)
            rawput.append(r)
            print("# run %d: blobs through the server %.1f/s, raw PUT %.1f/s (%.0f bytes each)"
                  % (k, t, r, avg), flush=True)
        mi, mr = statistics.median(ing), statistics.median(raw)
        md = statistics.median(reads)
        mt, mp = statistics.median(thr), statistics.median(rawput)
        print("ingest into PostgreSQL      %10.0f points/s (median of %d)" % (mi, a.runs))
        print("raw binary COPY, same chunks %9.0f points/s" % mr)
        print("ratio ingest / raw          %10.2f (goal >= 0.5)" % (mi / mr))
        print("chart of %d runs x %d points: %.1f ms server time (median; goal <= 250 ms)" % (
            a.read_runs, a.read_points, md))
        print("blobs through the server    %10.1f blobs/s (%.1f MB/s)" % (mt, mt * avg / 1e6))
        print("raw PUT into Swift          %10.1f blobs/s (%.1f MB/s)" % (mp, mp * avg / 1e6))
        print("ratio blobs / raw PUT       %10.2f" % (mt / mp))
        print("RESULT ingest_ratio=%.2f ingest_pps=%.0f raw_pps=%.0f chart_ms=%.1f "
              "sqlite_chart_ms=%.1f blob_ratio=%.2f blob_per_s=%.1f raw_put_per_s=%.1f" % (
                  mi / mr, mi, mr, md, mlite, mt / mp, mt, mp))
        rc = srv.stop()
        return 0 if rc == 0 else 1
    finally:
        if srv is not None and srv.proc is not None:
            srv.kill()
        sw.stop()
        pg.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
