#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: exactly-once uploads when the uploader or the server is killed.

Usage:  test_upload_faults.py TBDEV_EXE TBDEV_SERVER_EXE

A synthetic logdir is written here: 20 runs x 20,000 scalar points (10,000 events of two
tags each; TBDEV_FAULT_RUNS / TBDEV_FAULT_STEPS) plus a few incompressible 20-30 KB images
(they must fit part (b)'s request limit).
The expected points are known from the writer, independently of the C code.

(a) Uploader crashes. `tbdev upload --one_shot` is killed with SIGKILL at random moments
    (uniform in [0, d], with d shrinking while uploads finish before the kill), at least
    TBDEV_FAULT_ROUNDS times (default 20) while it is still running; every restart resumes
    with `--experiment_id ID --one_shot` (the server has --request_bytes 256 KiB, so an
    upload is many requests). Whenever an upload finishes before its kill,
    more data is appended (to the existing files, and new files in some runs) so that the
    next kills again land mid-upload. At the end a clean resume must exit 0, a second
    one must send 0 values, and `tbdev export` must equal everything written, point for
    point (no loss, no duplicates), and the read API's point totals must match.

(b) Server crashes. One `tbdev upload --one_shot` keeps running while tbdev-server is
    killed with SIGKILL at least TBDEV_FAULT_ROUNDS times and restarted on the same
    database and port. Each kill comes a random 0-60 ms after the uploader reported
    progress to the restarted server, so it lands between requests, inside one, or in a
    TLS handshake. The server runs with a small --request_bytes so that the upload takes
    hundreds of requests. The uploader must retry (with backoff) through every crash and
    exit 0 on its own. If it gives up instead, that check fails, and it is resumed with
    --experiment_id so that the data checks still run: the export must equal the logdir
    exactly, and `tbdev-server check` must say "integrity_check: ok" after a final SIGKILL.

(c) A server with a small --request_bytes (60000; the server accepts 4096 and up): the
    uploader must keep its requests under the limit the handshake states, and the upload
    must complete with exact data.

(d) SIGINT (Ctrl-C) at random moments after the uploader printed the link, a quarter of
    TBDEV_FAULT_ROUNDS times: every run must exit 0 within 15 s; a final resume completes
    and the export equals the logdir.

Environment: TBDEV_FAULT_ROUNDS (default 20), TBDEV_FAULT_SEED (random by default; printed),
TBDEV_FAULT_RUNS (20), TBDEV_FAULT_STEPS (10000 events per run, 2 points each),
TBDEV_KEEP_TMP=1 keeps the temporary folder (logs of every process are there).

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0 or 1 (77 when openssl is missing).
"""

import collections
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402

SENT_RE = re.compile(r"\((\d+) values so far\)")


# ---------------------------------------------------------------------------
# The synthetic logdir, with its expected points.


def _f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Logdir:
    """Writes scalar events fast (a fixed wire layout) and keeps the expected multiset."""

    TAGS = (b"loss", b"metrics/accuracy")

    def __init__(self, root, runs, seed):
        self.root = root
        self.runs = ["run%02d" % i for i in range(runs)]
        self.expected = collections.defaultdict(collections.Counter)  # (run, tag) -> points
        self.next_step = collections.Counter()
        self.files = {}  # run -> current file path
        self.rng = random.Random(seed)
        self.wall = 1_700_000_000.0
        self.generation = 0
        self.bytes = 0
        prefixes = []
        for t in self.TAGS:
            prefixes.append(b"\x0a" + L.varint(len(t)) + t + b"\x15")
        self.value_len = [len(p) + 4 for p in prefixes]
        self.prefixes = prefixes

    def _scalar_record(self, step, wall, values):
        summary = b"".join(b"\x0a" + L.varint(n) + p + struct.pack("<f", v)
                           for p, n, v in zip(self.prefixes, self.value_len, values))
        ev = (b"\x09" + struct.pack("<d", wall) + (b"\x10" + L.varint(step) if step else b"") +
              b"\x2a" + L.varint(len(summary)) + summary)
        return L.frame(ev)

    def _new_file(self, run):
        self.generation_files = getattr(self, "generation_files", 0) + 1
        d = os.path.join(self.root, run)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "events.out.tfevents.%d.faulthost.%d" % (
            1000 + self.generation, self.generation_files))
        with open(path, "wb") as f:
            f.write(L.file_version_record(self.wall))
        self.files[run] = path
        return path

    def add(self, steps_per_run, images=0, new_file_every=0):
        """Appends steps_per_run events (2 points each) to every run; new_file_every: start
        a new file in every n-th run first; images: that many runs also get a large image."""
        self.generation += 1
        total = 0
        for i, run in enumerate(self.runs):
            if run not in self.files or (new_file_every and i % new_file_every == 0):
                self._new_file(run)
            parts = []
            s0 = self.next_step[run]
            for s in range(s0, s0 + steps_per_run):
                self.wall += 0.001
                v = (_f32(1.0 / (1 + s) + i), _f32(((s * 2654435761) % 10007) / 10007.0))
                if s % 997 == 13:
                    v = (float("nan"), v[1])
                parts.append(self._scalar_record(s, self.wall, v))
                for t, x in zip(self.TAGS, v):
                    self.expected[(run, t.decode())][("scalar", s, L.canon(x))] += 1
            self.next_step[run] = s0 + steps_per_run
            if i < images:
                blob = b"\x89PNG\r\n\x1a\n" + self.rng.randbytes(
                    self.rng.randint(20_000, 30_000))
                self.wall += 0.001
                step = s0 + steps_per_run // 2
                ev = L.event_pb(self.wall, step, summary_values=[L.value_pb(
                    "images/sample", image=L.image_pb(64, 48, 3, blob))])
                parts.append(L.frame(ev))
                self.expected[(run, "images/sample")][
                    ("image", step, ("tf1", 48, 64, (blob,)))] += 1
            data = b"".join(parts)
            with open(self.files[run], "ab") as f:
                f.write(data)
            self.bytes += len(data)
            total += steps_per_run * 2
        return total

    def n_points(self):
        return sum(sum(c.values()) for c in self.expected.values())

    def file_count(self):
        n = 0
        for _, _, files in os.walk(self.root):
            n += sum(1 for f in files if "tfevents" in f)
        return n


def compare_export(rep, label, client, exp_id, logdir, tmpdir, api=None):
    outdir = os.path.join(tmpdir, "export-" + re.sub(r"\W+", "_", label))
    rc, out, err = client.run(["export", "--experiment_id", exp_id, "--outdir", outdir],
                              timeout=600)
    if not rep.check(label + ": export exits 0",
                     None if rc == 0 else "exit %s: %s" % (rc, err[-600:])):
        return
    try:
        got = L.multisets(L.decode_logdir(outdir, verify="sample"))
    except (L.DecodeError, OSError) as e:
        rep.check(label + ": export decodes", str(e))
        return
    want = {k: c for k, c in logdir.expected.items() if c}
    diffs = L.compare_multisets(want, got)
    n_want = logdir.n_points()
    n_got = sum(sum(c.values()) for c in got.values())
    rep.check("%s: export equals the logdir (%d points, %d series)" % (
        label, n_want, len(want)),
        "export has %d points; %d series differ: %s" % (n_got, len(diffs), L.short(diffs, 5))
        if diffs else None)
    if api is not None:
        try:
            runs = api.runs(exp_id)
            total = sum(r.get("points", 0) for r in runs)
            rep.check("%s: read API point total" % label,
                      None if total == n_want else "runs API says %d points, want %d" % (
                          total, n_want))
        except Exception as e:  # noqa: BLE001
            rep.check("%s: read API point total" % label, repr(e))


def sent_values(path):
    """The last '(N values so far)' of an uploader's stderr, and how many such lines."""
    text = L.tail_text(path, 1 << 30)
    ms = SENT_RE.findall(text)
    return (int(ms[-1]) if ms else 0), len(ms)


# ---------------------------------------------------------------------------
# (a) kill -9 the uploader.


def part_a(rep, ctx, rounds, rng):
    label = "(a) uploader SIGKILL"
    client, logdir = ctx.client, ctx.logdir
    exp_id = None
    kills = 0
    kills_before_id = 0
    kills_mid = 0  # after at least one batch was acknowledged in that round
    completions = 0
    bad_exit = []
    dmax = 0.35
    attempt = 0
    max_attempts = rounds * 6
    t_start = time.monotonic()
    while kills < rounds and attempt < max_attempts:
        attempt += 1
        out_p = os.path.join(ctx.tmp, "a-upload-%03d.out" % attempt)
        err_p = os.path.join(ctx.tmp, "a-upload-%03d.err" % attempt)
        args = ["upload", "--logdir", logdir.root, "--one_shot"]
        args += ["--experiment_id", exp_id] if exp_id else ["--name", "faults a"]
        delay = rng.uniform(0.0, dmax)
        t_round = time.monotonic()
        p = client.popen(args, out_p, err_p)
        try:
            rc = p.wait(delay)
        except subprocess.TimeoutExpired:
            rc = None
        if rc is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
            _, nsent = sent_values(err_p)
            if nsent:
                kills_mid += 1
        if not exp_id:
            exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 20))
            if rc is None and not exp_id:
                kills_before_id += 1
        if rc is not None:
            if rc != 0:
                bad_exit.append("attempt %d exit %s: %s" % (attempt, rc,
                                                            L.tail_text(err_p, 400)))
                continue
            completions += 1
            # next kills: uniform over how long an upload took here
            dmax = max(0.02, min(dmax, time.monotonic() - t_round))
            if kills < rounds:
                # finished before the kill: give the next rounds something to interrupt
                logdir.add(steps_per_run=2000, images=1 if completions % 3 == 0 else 0,
                           new_file_every=4 if completions % 2 else 0)
    rep.note("%s: %d kills in %d attempts (%d before the experiment ID was printed, %d after "
             "acknowledged batches), %d uploads finished first, %.1f s; logdir now %d points "
             "in %d files, %.1f MB" % (
                 label, kills, attempt, kills_before_id, kills_mid, completions,
                 time.monotonic() - t_start, logdir.n_points(), logdir.file_count(),
                 logdir.bytes / 1e6))
    rep.check("%s: at least %d kills mid-upload" % (label, rounds),
              None if kills >= rounds else "only %d kills in %d attempts" % (kills, attempt))
    rep.check("%s: interrupted uploads never fail" % label,
              L.short(bad_exit, 3) if bad_exit else None)
    if not exp_id:
        rep.check("%s: experiment ID" % label, "never printed")
        return
    # finish cleanly
    rc, out, err = client.run(["upload", "--logdir", logdir.root, "--one_shot",
                               "--experiment_id", exp_id], timeout=600)
    rep.check("%s: final resume exits 0" % label,
              None if rc == 0 else "exit %s: %s" % (rc, err[-600:]))
    # a second resume finds nothing left to send
    rc, out, err = client.run(["upload", "--logdir", logdir.root, "--one_shot",
                               "--experiment_id", exp_id], timeout=600)
    m = re.search(r"(\d+) runs, (\d+) files, (\d+) values", err)
    rep.check("%s: resuming a complete upload sends nothing" % label,
              None if rc == 0 and m and int(m.group(3)) == 0 else
              "exit %s; summary %r; stderr %s" % (rc, m.group(0) if m else None, err[-400:]))
    compare_export(rep, label, client, exp_id, logdir, ctx.tmp, ctx.api)


# ---------------------------------------------------------------------------
# (b) kill -9 the server.


def part_b(rep, ctx, rounds, rng):
    label = "(b) server SIGKILL"
    tmp = os.path.join(ctx.tmp, "b")
    os.makedirs(tmp)
    db = os.path.join(tmp, "tbdev.db")
    token = L.add_user(ctx.server_exe, db)
    server = L.Server(ctx.server_exe, tmp, db, ctx.cert, ctx.key,
                      ["--request_bytes", str(ctx.b_request_bytes)])
    url = server.start()
    port = server.port
    client = L.Client(ctx.tbdev, os.path.join(tmp, "home"), url=url, token=token,
                      cacert=ctx.cert)
    api = L.Api(url, token, ctx.cert)
    procs = []  # (popen, out path, err path)
    exp_id = None

    def start_uploader():
        n = len(procs) + 1
        out_p = os.path.join(tmp, "upload-%d.out" % n)
        err_p = os.path.join(tmp, "upload-%d.err" % n)
        args = ["upload", "--logdir", ctx.logdir.root, "--one_shot"]
        args += ["--experiment_id", exp_id] if exp_id else ["--name", "faults b"]
        procs.append((client.popen(args, out_p, err_p), out_p, err_p))

    start_uploader()
    kills = 0
    restart_fail = None
    stalled = None
    gave_up = []       # uploader exits != 0 while the server was being killed
    finished_early = 0
    t_start = time.monotonic()
    try:
        while kills < rounds:
            up, out_p, err_p = procs[-1]
            if not exp_id:
                exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 20))
            if up.poll() is not None:
                if up.returncode != 0:
                    gave_up.append("after kill %d: exit %s: %s" % (
                        kills, up.returncode,
                        " | ".join(l for l in L.tail_text(err_p, 3000).splitlines()
                                   if "sent new records" not in l)[-500:]))
                else:
                    finished_early += 1
                    ctx.logdir.add(steps_per_run=2000)
                if len(procs) > rounds * 3:
                    break
                start_uploader()  # resume and go on killing the server
                continue
            # wait for this uploader to report progress since the last (re)start
            nbase = sent_values(err_p)[1]
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and up.poll() is None:
                if sent_values(err_p)[1] > nbase:
                    break
                time.sleep(0.005)
            else:
                if up.poll() is None:
                    stalled = "no progress within 90 s after restart %d; uploader stderr: %s" % (
                        kills, L.tail_text(err_p, 600))
                    break
            if up.poll() is not None:
                continue
            time.sleep(rng.uniform(0.0, 0.06))
            server.kill()
            kills += 1
            try:
                server.start(port=port, attempts=50)
            except RuntimeError as e:
                restart_fail = "restart %d on port %d: %s" % (kills, port, e)
                break
        rep.note("%s: %d kills in %.1f s; %d uploader processes (%d finished before the "
                 "kills were done and got more data)" % (
                     label, kills, time.monotonic() - t_start, len(procs), finished_early))
        rep.check("%s: server restarts on the same port" % label, restart_fail)
        rep.check("%s: uploader makes progress after every restart" % label, stalled)
        rep.check("%s: %d kills done" % (label, rounds),
                  None if kills >= rounds else "only %d" % kills)
        if restart_fail or stalled:
            return
        # let the last uploader finish; if it gives up, resume (for the data checks)
        final_rc = None
        for _ in range(5):
            up, out_p, err_p = procs[-1]
            try:
                final_rc = up.wait(300)
            except subprocess.TimeoutExpired:
                final_rc = "still running 300 s after the last kill"
                break
            if not exp_id:
                exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 20))
            if final_rc == 0 or not exp_id:
                break
            gave_up.append("after the last kill: exit %s: %s" % (
                final_rc, " | ".join(l for l in L.tail_text(err_p, 3000).splitlines()
                                     if "sent new records" not in l)[-500:]))
            start_uploader()
        retries = sum(len(re.findall(r"retrying in", L.tail_text(e, 1 << 24)))
                      for _, _, e in procs)
        rep.note("%s: uploaders logged %d retries in all" % (label, retries))
        rep.check("%s: the uploader retries through server crashes instead of giving up "
                  "(one process, exit 0)" % label,
                  "%d uploader exits with failure while the server restarted: %s" % (
                      len(gave_up), L.short(gave_up, 3)) if gave_up else
                  None if final_rc == 0 else "final uploader: %s" % final_rc)
        if not rep.check("%s: experiment ID printed" % label, None if exp_id else
                         "stdout: %s" % L.tail_text(procs[0][1], 300)):
            return
        if len(procs) == 1:
            err = L.tail_text(procs[0][2], 1 << 20)
            m = re.search(r"(\d+) runs, (\d+) files, (\d+) values", err)
            rep.check("%s: uploader's summary counts every value once" % label,
                      None if m and int(m.group(3)) == ctx.logdir.n_points() else
                      "summary %r, want %d values" % (m.group(0) if m else None,
                                                      ctx.logdir.n_points()))
        compare_export(rep, label, client, exp_id, ctx.logdir, tmp, api)
        server.kill()
        rc, out, err = L.server_check(ctx.server_exe, db)
        rep.check("%s: tbdev-server check after a final SIGKILL" % label,
                  None if rc == 0 and "integrity_check: ok" in out else
                  "exit %s: %s %s" % (rc, out[-300:], err[-300:]))
    finally:
        for up, _, _ in procs:
            if up.poll() is None:
                up.kill()
                up.wait()
        server.kill()


# ---------------------------------------------------------------------------
# (c) a small request limit.


def part_c(rep, ctx):
    label = "(c) --request_bytes 60000"
    tmp = os.path.join(ctx.tmp, "c")
    os.makedirs(tmp)
    db = os.path.join(tmp, "tbdev.db")
    token = L.add_user(ctx.server_exe, db)
    server = L.Server(ctx.server_exe, tmp, db, ctx.cert, ctx.key,
                      ["--request_bytes", "60000"])
    try:
        url = server.start()
        client = L.Client(ctx.tbdev, os.path.join(tmp, "home"), url=url, token=token,
                          cacert=ctx.cert)
        small = Logdir(os.path.join(tmp, "logdir"), 2, 7)
        small.add(3000)
        rc, out, err = client.run(["upload", "--logdir", small.root, "--one_shot", "--name",
                                   "small limit"], timeout=300)
        exp_id = L.experiment_id_of(out)
        if rep.check("%s: upload of %.0f KB exits 0" % (label, small.bytes / 1e3),
                     None if rc == 0 and exp_id else
                     "exit %s; stderr: %s" % (rc, err[-500:])):
            compare_export(rep, label, client, exp_id, small, tmp)
    finally:
        server.kill()


def part_d(rep, ctx, rounds, rng):
    """SIGINT at random moments once the upload has started: exit 0, then resume."""
    label = "(d) uploader SIGINT"
    tmp = os.path.join(ctx.tmp, "d")
    os.makedirs(tmp)
    db = os.path.join(tmp, "tbdev.db")
    token = L.add_user(ctx.server_exe, db)
    server = L.Server(ctx.server_exe, tmp, db, ctx.cert, ctx.key,
                      ["--request_bytes", str(128 << 10)])
    try:
        url = server.start()
        client = L.Client(ctx.tbdev, os.path.join(tmp, "home"), url=url, token=token,
                          cacert=ctx.cert)
        logdir = Logdir(os.path.join(tmp, "logdir"), 4, 11)
        logdir.add(10000)
        exp_id = None
        bad = []
        interrupted = 0
        i = 0
        while interrupted < rounds and i < rounds * 5:
            i += 1
            out_p = os.path.join(tmp, "upload-%d.out" % i)
            err_p = os.path.join(tmp, "upload-%d.err" % i)
            args = ["upload", "--logdir", logdir.root, "--one_shot"]
            args += ["--experiment_id", exp_id] if exp_id else ["--name", "faults d"]
            p = client.popen(args, out_p, err_p)
            # the handler is installed before the link is printed
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and p.poll() is None:
                if "View your experiment" in L.tail_text(out_p, 1 << 16):
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.05))
            sigint = p.poll() is None
            if sigint:
                p.send_signal(signal.SIGINT)
                interrupted += 1
            try:
                rc = p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rc = "still running 15 s after SIGINT"
            if not exp_id:
                exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 16))
            err = L.tail_text(err_p, 1 << 20)
            if rc != 0:
                bad.append("round %d: exit %s: %s" % (i, rc, err[-300:]))
            elif sigint and not re.search(r"\d+ runs, \d+ files, \d+ values", err):
                bad.append("round %d: exit 0 but no summary: %s" % (i, err[-300:]))
            if not sigint:
                logdir.add(3000)  # it finished first: more data for the next round
        rep.check("%s: %d interrupted uploads exit 0" % (label, interrupted),
                  L.short(bad, 3) if bad else None)
        if not exp_id:
            rep.check(label + ": experiment ID", "never printed")
            return
        rc, out, err = client.run(["upload", "--logdir", logdir.root, "--one_shot",
                                   "--experiment_id", exp_id], timeout=300)
        if rep.check(label + ": final resume exits 0", None if rc == 0 else
                     "exit %s: %s" % (rc, err[-400:])):
            compare_export(rep, label, client, exp_id, logdir, tmp)
    finally:
        server.kill()


class Ctx:
    pass


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE\n" % argv[0])
        return 2
    tbdev, server_exe = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    rounds = int(os.environ.get("TBDEV_FAULT_ROUNDS", "20"))
    nruns = int(os.environ.get("TBDEV_FAULT_RUNS", "20"))
    steps = int(os.environ.get("TBDEV_FAULT_STEPS", "10000"))
    seed = os.environ.get("TBDEV_FAULT_SEED")
    seed = int(seed) if seed else random.SystemRandom().randrange(1 << 31)
    rng = random.Random(seed)
    rep = L.Reporter()
    if not L.check_exes(rep, tbdev, server_exe):
        return rep.finish()
    rep.note("TBDEV_FAULT_SEED=%d TBDEV_FAULT_ROUNDS=%d" % (seed, rounds))
    ctx = Ctx()
    ctx.tbdev, ctx.server_exe = tbdev, server_exe
    ctx.tmp = L.make_tempdir("tbdev-faults-")
    ctx.b_request_bytes = 100_000
    server = None
    t0 = time.monotonic()
    try:
        ctx.cert, ctx.key = L.make_cert(ctx.tmp)
        db = os.path.join(ctx.tmp, "tbdev.db")
        token = L.add_user(server_exe, db)
        server = L.Server(server_exe, ctx.tmp, db, ctx.cert, ctx.key,
                          ["--request_bytes", str(256 << 10)])
        url = server.start()
        ctx.client = L.Client(tbdev, os.path.join(ctx.tmp, "home"), url=url, token=token,
                              cacert=ctx.cert)
        ctx.api = L.Api(url, token, ctx.cert)
        ctx.logdir = Logdir(os.path.join(ctx.tmp, "logdir"), nruns, seed)
        ctx.logdir.add(steps, images=4)
        rep.note("logdir: %d runs, %d points, %.1f MB, written in %.1f s" % (
            nruns, ctx.logdir.n_points(), ctx.logdir.bytes / 1e6, time.monotonic() - t0))

        part_a(rep, ctx, rounds, rng)
        server.kill()
        rc, out, err = L.server_check(server_exe, db)
        rep.check("(a) tbdev-server check", None if rc == 0 and "integrity_check: ok" in out
                  else "exit %s: %s %s" % (rc, out[-300:], err[-300:]))
        server = None

        part_b(rep, ctx, rounds, rng)
        part_c(rep, ctx)
        part_d(rep, ctx, max(3, rounds // 4), rng)
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("test harness", "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        if server is not None:
            server.kill()
        rep.note("total %.1f s" % (time.monotonic() - t0))
        L.finish_tmp(rep, ctx.tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
