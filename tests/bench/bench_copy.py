#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark: `tbdev-server copy` of a SQLite installation into PostgreSQL, against a limit
measured in the same run (medians of --runs runs).

Usage:  bench_copy.py TBDEV_SERVER_EXE TBDEV_EXE SCALAR_FORMS_EXE [--runs 3] [--steps 3000]

An installation of 20 runs x 20 tags x --steps scalar points (tbdev-scalar-forms, uploaded with
tbdev into a SQLite server), then, on a PostgreSQL 15 cluster of its own with fsync on
(tests/integration/scale_lib), --runs copies, each into a new database (`copy --json`, which
verifies every table afterwards): rows/s, MB/s and points/s of the copy, and the verification's
time. The limit: the scalar_chunks rows of the copy (nearly all of its bytes), dumped with
psql's \\copy ... (FORMAT binary) and loaded the same way into an empty table of that layout,
in one transaction: MB/s, and the ratio copy / raw load.

Prints one line per figure and a RESULT line; exits 0 (1 if a step failed, 77 without
PostgreSQL).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import scale_lib as S  # noqa: E402
import uploader_lib as L  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("tbdev")
    ap.add_argument("forms")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000)
    a = ap.parse_args()
    try:
        pg = S.PgCluster(fsync=True)
    except S.Unavailable as e:
        print("# SKIP: %s" % e)
        return 77
    tmp = tempfile.mkdtemp(prefix="tbdev-bench-copy-")
    try:
        logs = os.path.join(tmp, "logs")
        subprocess.run([a.forms, logs, "20", "20", str(a.steps), "simple"], check=True,
                       stdout=subprocess.DEVNULL)
        db = os.path.join(tmp, "src.db")
        tok = L.add_user(a.server, db, "bench")
        cert, key_ = L.make_cert(tmp)
        srv = L.Server(a.server, tmp, db, cert, key_)
        srv.start(timeout=30)
        c = L.Client(a.tbdev, os.path.join(tmp, "home"), url=srv.url, cacert=cert, use_env=False)
        c.login(tok)
        rc, out, err = c.run(["upload", "--logdir", logs, "--one_shot"], timeout=1800)
        srv.stop()
        if rc != 0:
            print("upload failed: %s" % err[-500:])
            return 1
        points = 20 * 20 * a.steps
        pg.start()
        runs = []
        for i in range(a.runs):
            url = pg.create_database("copy%d" % i)
            t0 = time.monotonic()
            p = subprocess.run([a.server, "copy", "--json", "--from", db, "--to", url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=L.clean_env(), timeout=3600)
            wall = time.monotonic() - t0
            doc = json.loads(p.stdout.decode())
            if p.returncode != 0 or not doc["verified"]:
                print("copy %d failed: %s" % (i, p.stderr.decode()[-500:]))
                return 1
            runs.append(doc)
            print("run %d: %d rows, %.1f MB in %.2f s (%.0f rows/s, %.1f MB/s, %.2fM points/s);"
                  " verified in %.2f s; %.2f s in all" % (
                      i, doc["rows_copied"], doc["bytes_copied"] / 1e6, doc["copy_seconds"],
                      doc["rows_per_s"], doc["mb_per_s"], points / doc["copy_seconds"] / 1e6,
                      doc["verify_seconds"], wall))
            sys.stdout.flush()
        dump = os.path.join(tmp, "chunks.bin")
        pg.psql("CREATE TABLE raw (LIKE scalar_chunks INCLUDING ALL)", db="copy0")
        subprocess.run(["psql", "-X", "-q", "-d", pg.url("copy0"), "-c",
                        "\\copy scalar_chunks TO '%s' (FORMAT binary)" % dump], check=True,
                       env=L.clean_env())
        size = os.path.getsize(dump)
        raws = []
        for i in range(a.runs):
            pg.psql("TRUNCATE raw", db="copy0")
            t0 = time.monotonic()
            subprocess.run(["psql", "-X", "-q", "-d", pg.url("copy0"), "-c",
                            "\\copy raw FROM '%s' (FORMAT binary)" % dump], check=True,
                           env=L.clean_env())
            raws.append(size / 1e6 / (time.monotonic() - t0))
        med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
        mbs, raw = med("mb_per_s"), statistics.median(raws)
        secs = med("copy_seconds")
        print("copy (median of %d): %.0f rows/s, %.1f MB/s, %.2fM points/s; verify %.2f s" % (
            a.runs, med("rows_per_s"), mbs, points / secs / 1e6, med("verify_seconds")))
        print("raw binary COPY of the chunk rows (%.1f MB): %.1f MB/s; ratio %.2f" % (
            size / 1e6, raw, mbs / raw))
        print("RESULT: points=%d rows=%d copy_rows_per_s=%.0f copy_mb_per_s=%.1f "
              "copy_points_per_s=%.0f verify_s=%.2f raw_mb_per_s=%.1f ratio=%.2f" % (
                  points, runs[0]["rows_copied"], med("rows_per_s"), mbs, points / secs,
                  med("verify_seconds"), raw, mbs / raw))
        return 0
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
