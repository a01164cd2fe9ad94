#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Soak: the database's file system fills up (real ENOSPC) during uploads, N times.

    python3 tests/soak/disk_full.py [--rounds 5] [--size_mb 256] [--runs 12] [--steps 30000]
                                    [--small] [--seed S] [--keep] [--tbdev PATH] [--server PATH]

The database lives on a tmpfs of --size_mb. Each round ("cycle") appends runs x steps x 2
scalar points (+ images) to a logdir and uploads them (cycle 1 creates the experiment, later
ones resume it) to one tbdev-server process over HTTPS. Once the uploader has been
acknowledged a random 10-60 % of the cycle's values, a ballast file fills the file system to
0 bytes free; the checks of tests/integration/test_disk_full.py part 2 run (507 disk_full
with a clear message and Retry-After, no 500, the server stays up and serves reads, the
uploader waits, `tbdev-server check` ok); then the ballast is deleted, as an admin would, and
the same uploader must finish, the export must equal the logdir point for point, and the
check must say ok. The server is never restarted between cycles. Last, the -shm scenario of
the test (shm_part): the full disk refuses the growth of the -shm wal-index first
(SQLITE_IOERR_SHMSIZE), which must also be a 507, not a 500.

As root the tmpfs is mounted directly (and always unmounted); otherwise the script re-runs
itself under `unshare -rm` (user + mount namespace). If neither can mount a tmpfs, it ends
with `RESULT: SKIP reason` and exit 77.

Figures: DB+WAL bytes at each cycle's first 507, seconds from freeing the space to the
upload's end (bounded below by the server's Retry-After: 60 for a full disk), database size.
Ends with one line `RESULT: PASS ...` or `RESULT: FAIL ...`; exit 0 / 1.
--small (or TBDEV_SOAK_SMALL=1): 2 cycles of less data on a 64 MB tmpfs.
"""

import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_lib as S  # noqa: E402
from soak_lib import L  # noqa: E402
import test_disk_full as D  # noqa: E402  (tests/integration, on the path through soak_lib)

IN_NS = "TBDEV_SOAK_DISKFULL_IN_NS"


class Rep:
    """The Reporter interface of uploader_lib (check / note), logging to stderr."""

    def __init__(self):
        self.n = 0
        self.failures = []

    def check(self, name, why=None):
        self.n += 1
        if why:
            self.failures.append("%s: %s" % (name, str(why).replace("\n", " | ")[:400]))
            S.log("not ok - %s: %s" % (name, str(why).replace("\n", " | ")[:1000]))
        else:
            S.log("ok - %s" % name)
        return not why

    def note(self, text):
        S.log("# " + str(text))


def mb(x):
    return "%.1f" % (x / 1e6)


def main():
    ap = S.base_args(__doc__.splitlines()[1], rounds_default=5)
    ap.add_argument("--size_mb", type=int, default=None, help="tmpfs size (default 256)")
    ap.add_argument("--runs", type=int, default=None, help="runs in the logdir (default 12)")
    ap.add_argument("--steps", type=int, default=None,
                    help="events per run and cycle, 2 points each (default 30000)")
    a = ap.parse_args()
    rounds = S.rounds_of(a, 2)
    size_mb = a.size_mb or (64 if a.small else 256)
    runs = a.runs or (8 if a.small else 12)
    steps = a.steps or (8000 if a.small else 30000)
    seed = S.seed_of(a)
    tbdev, server_exe = os.path.abspath(a.tbdev), os.path.abspath(a.server)
    signal.signal(signal.SIGTERM, D._term_to_exit)  # so that the tmpfs is unmounted
    if not L.have_openssl():
        print("RESULT: SKIP the openssl command is not available")
        return L.SKIP
    if not os.environ.get(IN_NS):
        method, why = D.mount_method()
        if method is None:
            print("RESULT: SKIP cannot mount a tmpfs: %s" % why)
            return L.SKIP
        if method == "unshare":
            S.log("disk_full: not root; re-running inside unshare -rm")
            env = dict(os.environ, **{IN_NS: "1"})
            argv = [sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
            if a.seed is None:
                argv += ["--seed", str(seed)]
            child = subprocess.Popen(["unshare", "-rm"] + argv, env=env)
            try:
                return child.wait()
            finally:
                if child.poll() is None:  # stopped: let the child unmount on its way out
                    child.send_signal(signal.SIGTERM)
                    try:
                        child.wait(60)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
    rng = random.Random(seed)
    fill_at = [round(rng.uniform(0.1, 0.6), 2) for _ in range(rounds)]
    S.log("disk_full: %d cycles on a %d MB tmpfs, %d runs x %d steps x 2 points per cycle, "
          "fill at %s of each cycle, seed %d" % (rounds, size_mb, runs, steps, fill_at, seed))
    rep = Rep()
    t0 = time.monotonic()
    figs = D.tmpfs_part(rep, tbdev, server_exe, size_mb=size_mb, runs=runs, steps=steps,
                        images=runs, cycles=rounds, seed=seed, fill_at=fill_at, keep=a.keep,
                        say=S.log)
    shm = D.shm_part(rep, tbdev, server_exe, keep=a.keep, say=S.log)
    done = [f for f in figs if "recover_secs" in f]
    if len(done) < rounds:
        rep.failures.append("only %d of %d cycles ran to the freeing of space" % (
            len(done), rounds))
    rec = [f["recover_secs"] for f in done]
    figures = ("cycles=%d/%d size=%dMB points=%d checks=%d failed=%d "
               "dbwal_at_first_507_MB=[%s] recover_s=[%s] recover_max=%.1fs "
               "db_end=%sMB wal_end=%sMB probes=[%s] shm_boundary_statuses=%s "
               "time=%.0fs seed=%d" % (
                   len(done), rounds, size_mb, figs[-1].get("points", 0) if figs else 0,
                   rep.n, len(rep.failures),
                   ",".join(mb(f.get("db", 0) + f.get("wal", 0)) for f in done),
                   ",".join("%.1f" % x for x in rec), max(rec) if rec else float("nan"),
                   mb(done[-1].get("db_end", 0)) if done else "?",
                   mb(done[-1].get("wal_end", 0)) if done else "?",
                   ",".join(str(f.get("probe")) for f in done),
                   ",".join(str(x) for x in shm.get("statuses", [])) or "none",
                   time.monotonic() - t0, seed))
    return S.finish(not rep.failures, figures, rep.failures)


if __name__ == "__main__":
    sys.exit(main())
