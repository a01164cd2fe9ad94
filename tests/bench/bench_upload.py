#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark: end-to-end `tbdev upload` over HTTPS in each scalar encoding real writers emit,
against a raw multi-row SQLite insert of the same rows measured in the same run.

Usage: bench_upload.py TBDEV TBDEV_SERVER SCALAR_FORMS BENCH_INGEST BENCH_READ
                       [--points N] [--runs R] [--forms a,b,...]

For each form (default simple, content, float_val, double; see tests/tools/scalar_forms.c),
a logdir of N points (default 10M: 10 runs x 10 tags x N/100 steps) is written once; then R
times (default 3): a fresh tbdev-server on 127.0.0.1 with a throwaway certificate and a new
SQLite file, `tbdev upload --one_shot` of the logdir timed from start to exit, its peak
resident memory (getrusage of the child), and `bench_ingest --raw_only` (the same number of
rows inserted 50 per statement, sorted, one transaction, synchronous=FULL: the limit).
Also `tbdev inspect` of one run's file against `bench_read --file` of the same file (its
full decode). Prints medians, ratios, and RESULT lines:
  upload FORM: P points/s, ratio to raw insert X (goal >= 0.7), uploader RSS M MB (<= 64)
  inspect FORM: E events/s, ratio to bench_read full decode Y (goal >= 0.5)
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import uploader_lib as L  # noqa: E402


def run_rss(args, env=None):
    """(seconds, peak RSS in MB from wait4, exit code, stdout, stderr) of one child."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    return secs, ru.ru_maxrss / 1024.0, rc, out.decode("utf-8", "replace"), err.decode(
        "utf-8", "replace")


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("tbdev")
    ap.add_argument("server")
    ap.add_argument("forms_exe")
    ap.add_argument("bench_ingest")
    ap.add_argument("bench_read")
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--forms", default="simple,content,float_val,double")
    a = ap.parse_args(argv[1:])
    steps = a.points // 100
    tmp = tempfile.mkdtemp(prefix="tbdev-bench-upload-")
    results = []
    try:
        cert, key_ = L.make_cert(tmp)
        for form in a.forms.split(","):
            logdir = os.path.join(tmp, "logs-" + form)
            subprocess.run([a.forms_exe, logdir, "10", "10", str(steps), form], check=True)
            size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(logdir)
                       for f in fs)
            print("# %s: %d points, %.0f MB of event files" % (form, steps * 100, size / 1e6),
                  flush=True)
            rates, raws, rss = [], [], []
            for r in range(a.runs):
                work = os.path.join(tmp, "run-%s-%d" % (form, r))
                os.makedirs(work)
                db = os.path.join(work, "tbdev.db")
                token = L.add_user(a.server, db)
                server = L.Server(a.server, work, db, cert, key_)
                url = server.start()
                env = L.clean_env({"XDG_CONFIG_HOME": os.path.join(work, "cfg"),
                                   "TBDEV_SERVER": url, "TBDEV_TOKEN": token,
                                   "TBDEV_CACERT": cert})
                secs, mb, rc, out, err = run_rss([a.tbdev, "upload", "--logdir", logdir,
                                                  "--one_shot"], env=env)
                server.stop()
                m = re.findall(r"(\d+) values, ", err)
                if rc != 0 or not m or int(m[-1]) != steps * 100:
                    print("# %s run %d FAILED: exit %s: %s" % (form, r, rc, err[-500:]))
                    return 1
                raw_out = subprocess.run([a.bench_ingest, "--raw_only", "100", str(steps)],
                                         stdout=subprocess.PIPE, check=True).stdout.decode()
                raw = float(re.search(r"raw insert (\d+)", raw_out).group(1))
                rates.append(steps * 100 / secs)
                raws.append(raw)
                rss.append(mb)
                print("# %s run %d: upload %.2fM points/s (%.1f s), raw insert %.2fM rows/s, "
                      "ratio %.2f, uploader RSS %.0f MB" % (
                          form, r + 1, rates[-1] / 1e6, secs, raw / 1e6, rates[-1] / raw, mb),
                      flush=True)
                shutil.rmtree(work, ignore_errors=True)
            ratios = [x / y for x, y in zip(rates, raws)]
            # inspect against bench_read's full decode, on the same file
            f0 = os.path.join(logdir, "run_0")
            f0 = os.path.join(f0, os.listdir(f0)[0])
            br = subprocess.run([a.bench_read, "--file", f0, "--runs", str(a.runs)],
                                stdout=subprocess.PIPE, check=True).stdout.decode()
            full = float(re.search(r"full\s*:\s*([\d.]+) M events/s", br).group(1)) * 1e6
            ins = []
            for r in range(a.runs):
                secs, mb, rc, out, err = run_rss([a.tbdev, "inspect", "--logdir",
                                                  os.path.dirname(f0)])
                ins.append((steps * 10 + 1) / secs)
            results.append((form, statistics.median(rates), statistics.median(raws),
                            statistics.median(ratios), max(rss), statistics.median(ins), full))
            shutil.rmtree(logdir, ignore_errors=True)
        print("\nmedians of %d runs, %d points per upload (10 runs x 10 tags)" % (a.runs,
                                                                               steps * 100))
        worst = min(r[3] for r in results)
        for form, rate, raw, ratio, mb, ins, full in results:
            print("RESULT: upload %s: %.2fM points/s, raw insert %.2fM rows/s, ratio %.2f "
                  "(goal >= 0.7), uploader RSS %.0f MB (goal <= 64)" % (
                      form, rate / 1e6, raw / 1e6, ratio, mb))
            print("RESULT: inspect %s: %.2fM events/s, bench_read full %.2fM events/s, ratio "
                  "%.2f (goal >= 0.5)" % (form, ins / 1e6, full / 1e6, ins / full))
        print("RESULT: worst upload ratio %.2f across %d forms" % (worst, len(results)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
