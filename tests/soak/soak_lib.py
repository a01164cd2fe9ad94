# SPDX-License-Identifier: MIT
"""Shared helpers for the soak scripts in tests/soak/ (Python 3 stdlib only).

Reuses tests/integration/uploader_lib.py (event writer and independent reader, `tbdev`
runner) and the synthetic Logdir of tests/integration/test_upload_faults.py. Adds a plain-HTTP
tbdev-server wrapper that times each start from spawn to the first answer of
/api/v1/health, a tiny HTTP client, the RESULT line, and the common parts of the scripts'
main() (--rounds under --small, the seed, the temporary folder, a kill-loop main).
"""

import argparse
import http.client as httpc
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import uploader_lib as L  # noqa: E402,F401


def default_exes():
    tbdev = os.environ.get("TBDEV_EXE") or os.path.join(REPO, "build-lead", "uploader", "tbdev")
    server = os.environ.get("TBDEV_SERVER_EXE") or os.path.join(
        REPO, "build-lead", "service", "tbdev-server")
    return tbdev, server


def base_args(description, rounds_default=None):
    """argparse with --tbdev, --server, --seed, --keep and optionally --rounds/--small."""
    tbdev, server = default_exes()
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--tbdev", default=tbdev, help="tbdev client (env TBDEV_EXE)")
    ap.add_argument("--server", default=server, help="tbdev-server (env TBDEV_SERVER_EXE)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    if rounds_default is not None:
        ap.add_argument("--rounds", type=int,
                        default=int(os.environ.get("TBDEV_SOAK_ROUNDS", rounds_default)),
                        help="kills (env TBDEV_SOAK_ROUNDS; default %d)" % rounds_default)
    ap.add_argument("--small", action="store_true",
                    default=bool(os.environ.get("TBDEV_SOAK_SMALL")),
                    help="CI size (env TBDEV_SOAK_SMALL=1)")
    return ap


def rounds_of(a, small_rounds):
    """a.rounds; under --small, small_rounds unless --rounds or TBDEV_SOAK_ROUNDS says."""
    if a.small and "--rounds" not in " ".join(sys.argv) and not os.environ.get(
            "TBDEV_SOAK_ROUNDS"):
        return small_rounds
    return a.rounds


def seed_of(a):
    """--seed, else a random one (the scripts print it)."""
    return a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 31)


def rounds_main(name, doc, run):
    """main() of a kill-loop script: its run(tbdev, server, rounds, seed, small, keep)
    returns (ok, figures) and may leave a list of problems in run.problems; --rounds
    defaults to 200, and to 5 under --small."""
    a = base_args(doc.splitlines()[1], rounds_default=200).parse_args()
    rounds, seed = rounds_of(a, 5), seed_of(a)
    log("%s: %d rounds, seed %d" % (name, rounds, seed))
    ok, figures = run(os.path.abspath(a.tbdev), os.path.abspath(a.server), rounds, seed,
                      a.small, a.keep)
    return finish(ok, figures, getattr(run, "problems", []))


def remove_tmp(tmp, keep):
    """Removes the temporary folder, or logs where it is kept (--keep)."""
    if keep:
        log("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, headers=None, timeout=10.0):
    """(status, headers dict (lower-case names), body bytes); raises OSError on failure."""
    c = httpc.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def server_cmd(server_exe, *args, stdin=None, timeout=120):
    args = list(args)
    for i in range(len(args) - 1):  # TBDEV_TEST_BACKEND=postgres: the database for that file
        if args[i] == "--db":
            args[i + 1] = L.test_db(args[i + 1])
    p = subprocess.run([server_exe] + args, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=L.clean_env())
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_db(server_exe, db):
    """(ok, text) of `tbdev-server check --db DB`."""
    rc, out, err = server_cmd(server_exe, "check", "--db", L.test_db(db), timeout=600)
    ok = rc == 0 and "integrity_check: ok" in out
    return ok, "exit %s: %s %s" % (rc, out.strip()[-300:], err.strip()[-300:])


class HttpServer(L.ChildProcess):
    """`tbdev-server serve` on plain HTTP, 127.0.0.1:PORT (a fixed port across restarts);
    alive / kill / stop are L.ChildProcess's."""

    def __init__(self, exe, workdir, db, extra=(), port=None):
        self.exe, self.workdir, self.db = exe, workdir, L.test_db(db)
        self.extra = list(extra)
        self.port = port or free_port()
        self.proc = None
        self.starts = 0
        self.start_times = []  # seconds from spawn to the first /api/v1/health answer
        self.err_path = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=30.0):
        """Spawns and polls /api/v1/health until it answers 200; returns the seconds taken.
        Retries the spawn if it exits at once (e.g. the port is still in TIME_WAIT)."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        last = ""
        while time.monotonic() < deadline:
            self.starts += 1
            self.err_path = os.path.join(self.workdir, "server-%d.err" % self.starts)
            pg = L.pg_serve_args(self.extra, False, self.port)[1] if self.db.startswith(
                "postgresql://") else []
            args = [self.exe, "serve", "--db", self.db, "--listen",
                    "127.0.0.1:%d" % self.port, "-q"] + pg + self.extra
            with open(self.err_path, "wb") as err, open(os.devnull, "wb") as out:
                self.proc = subprocess.Popen(args, stdout=out, stderr=err,
                                             stdin=subprocess.DEVNULL, env=L.clean_env())
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last = "exited %s: %s" % (self.proc.returncode,
                                              L.tail_text(self.err_path, 400))
                    break
                try:
                    st, _, _ = request(self.port, "GET", "/api/v1/health", timeout=2)
                    if st == 200:
                        dt = time.monotonic() - t0
                        self.start_times.append(dt)
                        return dt
                except OSError:
                    pass
                time.sleep(0.002)
            if self.proc.poll() is None:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("tbdev-server did not answer /api/v1/health within %.0f s: %s" %
                           (timeout, last))

    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, timeout=20):
        return L.ChildProcess.stop(self, timeout)


def proc_status(pid, field):
    """A kB figure from /proc/PID/status (VmHWM, VmRSS, Threads...), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def experiment_points(port, token, exp_id):
    """Sum of the runs API's point counts for an experiment (what the server has stored)."""
    st, _, body = request(port, "GET", "/api/v1/experiments/%s/runs" % exp_id,
                       headers={"Authorization": "Bearer " + token}, timeout=30)
    if st != 200:
        raise RuntimeError("runs API: HTTP %s %s" % (st, body[:200]))
    return sum(r.get("points", 0) for r in json.loads(body).get("runs", []))


SENT_RE = re.compile(r"\((\d+) values so far\)")


def acked_values(err_path):
    """The uploader's last '(N values so far)': values the server acknowledged to it."""
    ms = SENT_RE.findall(L.tail_text(err_path, 1 << 30))
    return (int(ms[-1]) if ms else 0), len(ms)


def compare_points(want, got):
    """(lost, duplicates, extra_unknown, example lines) between {(run, tag): Counter}s."""
    import collections
    lost = dup = unknown = 0
    lines = []
    for k in sorted(set(want) | set(got)):
        w = want.get(k, collections.Counter())
        g = got.get(k, collections.Counter())
        if w == g:
            continue
        m = w - g
        e = g - w
        lost += sum(m.values())
        for p, n in e.items():
            if p in w:
                dup += n
            else:
                unknown += n
        lines.append("%s/%s: missing %d, extra %d" % (k[0], k[1], sum(m.values()),
                                                      sum(e.values())))
    return lost, dup, unknown, lines


def export_points(client, exp_id, outdir):
    """{(run, tag): Counter} of `tbdev export` (events format), via the independent reader."""
    rc, out, err = client.run(["export", "--experiment_id", exp_id, "--outdir", outdir],
                              timeout=900)
    if rc != 0:
        raise RuntimeError("tbdev export exit %s: %s" % (rc, err[-500:]))
    return L.multisets(L.decode_logdir(outdir, verify="sample"))


def finish(ok, figures, problems=()):
    """Prints the RESULT line and returns the exit status."""
    print(result(ok, figures, problems))
    return 0 if ok else 1


def result(ok, figures, problems=()):
    line = "RESULT: %s %s" % ("PASS" if ok else "FAIL", figures)
    if problems:
        line += " | problems: " + "; ".join(str(p).replace("\n", " ")[:400]
                                              for p in list(problems)[:6])
    return line
