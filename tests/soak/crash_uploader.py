#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Soak: kill -9 `tbdev upload` at random moments, N times, resuming it each time.

    python3 tests/soak/crash_uploader.py [--rounds 200] [--small] [--seed S] [--keep]
                                         [--tbdev PATH] [--server PATH]

tbdev-server runs on plain HTTP on 127.0.0.1 with --request_bytes 32 KiB (an upload is many
requests). Each round starts `tbdev upload --one_shot` (with `--experiment_id` after the
first) and SIGKILLs it after a random delay: half the rounds uniformly in [0, d] (d tracks how
long a whole upload takes, so kills also land before the first request), the other half a
random 0-30 ms after its first acknowledged request. When an upload finishes before its kill,
more events are appended (and new files started) so the next kills land mid-upload again.

Checked:
  * acknowledged points are never lost: after every kill the server's stored point count
    (runs API) >= what had been acknowledged to the uploaders;
  * a killed uploader never leaves the server in a bad state: `tbdev-server check --db DB`
    is ok after every kill (the server keeps running; check runs next to it) and after the
    final SIGKILL of the server;
  * uploads that are not killed exit 0;
  * at the end a clean resume exits 0, and `tbdev export` equals the source logdir point for
    point: lost 0, duplicates 0;
  * p50/p99 server (re)start time, spawn to /api/v1/health answering (the server is restarted
    once per 20 rounds with SIGKILL too, so there are a few samples).

Ends with one line `RESULT: PASS ...` or `RESULT: FAIL ...`; exit 0 / 1.
--small (or TBDEV_SOAK_SMALL=1) is the CI size: 5 rounds unless --rounds is given, less data.
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
import test_upload_faults as F  # noqa: E402


def run(tbdev, server_exe, rounds, seed, small=False, keep=False):
    rng = random.Random(seed)
    tmp = L.make_tempdir("tbdev-soak-crash-uploader-")
    problems = []
    run.problems = problems
    t_start = time.monotonic()
    server = None
    kills = kills_after_ack = completions = attempts = 0
    checks = checks_ok = 0
    acked_violations = []
    bad_exit = []
    try:
        db = os.path.join(tmp, "tbdev.db")
        token = L.add_user(server_exe, db)
        server = S.HttpServer(server_exe, tmp, db, ["--request_bytes", str(32 << 10)])
        server.start()
        port = server.port
        client = L.Client(tbdev, os.path.join(tmp, "home"), url=server.url, token=token)
        nruns, steps = (4, 3000) if small else (12, 4000)
        logdir = F.Logdir(os.path.join(tmp, "logdir"), nruns, seed)
        logdir.add(steps)
        exp_id = None
        dmax = 0.4
        while kills < rounds and attempts < rounds * 6:
            attempts += 1
            out_p = os.path.join(tmp, "upload-%04d.out" % attempts)
            err_p = os.path.join(tmp, "upload-%04d.err" % attempts)
            args = ["upload", "--logdir", logdir.root, "--one_shot"]
            args += ["--experiment_id", exp_id] if exp_id else ["--name", "soak uploader crash"]
            base = S.experiment_points(port, token, exp_id) if exp_id else 0
            t_round = time.monotonic()
            p = client.popen(args, out_p, err_p)
            if attempts % 2 == 0:
                # wait for the first acknowledged request, then kill 0-30 ms later
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and p.poll() is None:
                    if S.acked_values(err_p)[1]:
                        break
                    time.sleep(0.002)
                time.sleep(rng.uniform(0.0, 0.03))
            else:
                time.sleep(rng.uniform(0.0, dmax))
            killed = p.poll() is None
            if killed:
                p.send_signal(signal.SIGKILL)
            rc = p.wait()
            acked, nacks = S.acked_values(err_p)
            if not exp_id:
                exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 20))
            if killed:
                kills += 1
                kills_after_ack += 1 if nacks else 0
                if exp_id:
                    stored = S.experiment_points(port, token, exp_id)
                    if stored < base + acked:
                        acked_violations.append("kill %d: server has %d points, %d were "
                                                "acknowledged" % (kills, stored, base + acked))
                checks += 1
                ok, text = S.check_db(server_exe, db)
                checks_ok += ok
                if not ok:
                    problems.append("check after kill %d: %s" % (kills, text))
                if kills % 20 == 0:
                    # also a server crash now and then: restart-time samples, WAL recovery
                    server.kill()
                    server.start()
                    S.log("crash_uploader: %d/%d kills (%d after an ack), %d completions" % (
                        kills, rounds, kills_after_ack, completions))
            elif rc != 0:
                bad_exit.append("attempt %d: exit %s: %s" % (attempts, rc,
                                                             L.tail_text(err_p, 300)))
            else:
                completions += 1
                dmax = max(0.02, min(dmax, time.monotonic() - t_round))
                logdir.add(steps_per_run=1500 if not small else 800,
                           new_file_every=3 if completions % 2 else 0)
        # finish cleanly; a second resume must send nothing
        n_src = logdir.n_points()
        lost = dup = unknown = -1
        if not exp_id:
            problems.append("no experiment ID printed")
        else:
            rc, out, err = client.run(["upload", "--logdir", logdir.root, "--one_shot",
                                       "--experiment_id", exp_id], timeout=900)
            if rc != 0:
                problems.append("final resume exit %s: %s" % (rc, err[-300:]))
            rc, out, err = client.run(["upload", "--logdir", logdir.root, "--one_shot",
                                       "--experiment_id", exp_id], timeout=900)
            import re
            m = re.search(r"(\d+) runs, (\d+) files, (\d+) values", err)
            if rc != 0 or not m or int(m.group(3)) != 0:
                problems.append("a second resume of a complete upload: exit %s, summary %r" % (
                    rc, m.group(0) if m else err[-200:]))
            got = S.export_points(client, exp_id, os.path.join(tmp, "export"))
            want = {k: c for k, c in logdir.expected.items() if c}
            lost, dup, unknown, lines = S.compare_points(want, got)
            if lost or dup or unknown:
                problems.append("export differs from source: %s" % L.short(lines, 4))
            stored = S.experiment_points(port, token, exp_id)
            if stored != n_src:
                problems.append("runs API has %d points, source %d" % (stored, n_src))
        server.kill()
        checks += 1
        ok, text = S.check_db(server_exe, db)
        checks_ok += ok
        if not ok:
            problems.append("check after the final SIGKILL: %s" % text)
        if kills < rounds:
            problems.append("only %d of %d kills done in %d attempts" % (kills, rounds, attempts))
        if acked_violations:
            problems.append("acknowledged points lost: %s" % L.short(acked_violations, 3))
        if bad_exit:
            problems.append("%d uploads not killed exited non-zero: %s" % (
                len(bad_exit), L.short(bad_exit, 2)))
        for what, text in L.sanitizer_reports(tmp):
            problems.append("sanitizer report in %s: %s" % (what, text[:300]))
        st = server.start_times
        figures = ("kills=%d kills_after_ack=%d completions=%d points=%d lost=%d duplicates=%d "
                   "acked_lost_rounds=%d checks=%d/%d_ok server_starts=%d start_p50=%.0fms "
                   "start_p99=%.0fms time=%.0fs seed=%d" % (
                       kills, kills_after_ack, completions, n_src, lost, dup,
                       len(acked_violations), checks_ok, checks, len(st),
                       S.percentile(st, 50) * 1000, S.percentile(st, 99) * 1000,
                       time.monotonic() - t_start, seed))
        return not problems, figures
    except Exception as e:  # noqa: BLE001
        import traceback
        problems.append("harness: %r %s" % (e, traceback.format_exc()[-800:]))
        return False, "kills=%d seed=%d" % (kills, seed)
    finally:
        if server is not None:
            server.kill()
        S.remove_tmp(tmp, keep)


def main():
    return S.rounds_main("crash_uploader", __doc__, run)


if __name__ == "__main__":
    sys.exit(main())
