#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Soak: kill -9 tbdev-server at random moments of an upload, N times, restarting it each time.

    python3 tests/soak/crash_server.py [--rounds 200] [--small] [--seed S] [--keep]
                                       [--tbdev PATH] [--server PATH]

Plain HTTP on 127.0.0.1 with a small --request_bytes (32 KiB), so that an upload is hundreds
of requests. One `tbdev upload --one_shot` runs; each kill comes a random 0-60 ms after the
uploader logged an acknowledged request to the restarted server (so kills land between
requests, inside one, or in a commit). When an upload finishes before the kills are done, more
events are appended and a resume (`--experiment_id`) starts.

Checked:
  * acknowledged points are never lost: after every restart, the server's stored point count
    (runs API) >= what the uploaders had been acknowledged before the kill;
  * `tbdev-server check --db DB` says ok after every restart (run while the server serves);
  * the uploader retries through every crash (exits 0; a failure exit is reported);
  * at the end `tbdev export` equals the source logdir point for point: lost 0, duplicates 0;
  * restart time from spawn to /api/v1/health answering: p50 / p99 reported.

Ends with one line `RESULT: PASS ...` or `RESULT: FAIL ...`; exit 0 / 1.
--small (or TBDEV_SOAK_SMALL=1) is the CI size: 5 rounds unless --rounds is given, less data.
"""

import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_lib as S  # noqa: E402
from soak_lib import L  # noqa: E402
import test_upload_faults as F  # noqa: E402  (the synthetic Logdir)


class Variant:
    """What a variant of this kill loop changes; the plain SIGKILL soak uses it as it is
    (tests/soak/power_loss.py overrides it)."""

    name = "crash_server"
    experiment_name = "soak server crash"
    uncounted_kills = 0  # kills the variant may add that do not count as rounds

    def serve_exe(self, server_exe):
        return server_exe

    def wait_to_kill(self, rng, tmp):
        """Waits for the moment to kill; returns False when that kill is not a round."""
        time.sleep(rng.uniform(0.0, 0.06))
        return True

    def after_kill(self, tmp, label, counted):
        """Between a kill and the restart (power_loss.py: the power cut)."""

    def before_final_check(self, server, tmp, port, token, exp_id, n_src, problems,
                           acked_violations):
        """After the final SIGKILL, before the last check."""

    def figures(self):
        return ""

    def problems(self, tmp):
        return []


def stored_points(port, token, exp_id):
    """The server's point count for the experiment; 0 if the experiment itself is gone."""
    try:
        return S.experiment_points(port, token, exp_id)
    except RuntimeError as e:
        if "HTTP 404" in str(e):
            return 0
        raise


def run(tbdev, server_exe, rounds, seed, small=False, keep=False, variant=None):
    v = variant or Variant()
    rng = random.Random(seed)
    tmp = L.make_tempdir("tbdev-soak-%s-" % v.name.replace("_", "-"))
    problems = []
    t_start = time.monotonic()
    server = None
    procs = []
    checks_ok = checks = 0
    acked_violations = []
    gave_up = []
    finished_early = 0
    kills = extra_kills = 0
    try:
        db = os.path.join(tmp, "tbdev.db")
        token = L.add_user(server_exe, db)
        server = S.HttpServer(v.serve_exe(server_exe), tmp, db,
                              ["--request_bytes", str(32 << 10)])
        server.start()
        port = server.port
        client = L.Client(tbdev, os.path.join(tmp, "home"), url=server.url, token=token)
        nruns, steps = (4, 3000) if small else (20, 5000)
        logdir = F.Logdir(os.path.join(tmp, "logdir"), nruns, seed)
        logdir.add(steps)
        exp_id = None
        base = 0  # server's point count when the current uploader started

        def start_uploader():
            n = len(procs) + 1
            out_p = os.path.join(tmp, "upload-%d.out" % n)
            err_p = os.path.join(tmp, "upload-%d.err" % n)
            args = ["upload", "--logdir", logdir.root, "--one_shot"]
            args += ["--experiment_id", exp_id] if exp_id else ["--name", v.experiment_name]
            procs.append((client.popen(args, out_p, err_p), out_p, err_p))

        start_uploader()
        while kills < rounds:
            up, out_p, err_p = procs[-1]
            if not exp_id:
                exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 20))
            if up.poll() is not None:
                if up.returncode != 0:
                    gave_up.append("uploader %d after kill %d: exit %s: %s" % (
                        len(procs), kills + extra_kills, up.returncode,
                        L.tail_text(err_p, 300)))
                else:
                    finished_early += 1
                    logdir.add(steps_per_run=2000 if not small else 1000,
                               new_file_every=3 if finished_early % 2 else 0)
                if len(procs) > (rounds + v.uncounted_kills) * 3 + 10:
                    problems.append("too many uploader restarts (%d)" % len(procs))
                    break
                if exp_id:
                    base = stored_points(port, token, exp_id)
                start_uploader()
                continue
            nbase = S.acked_values(err_p)[1]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and up.poll() is None:
                if S.acked_values(err_p)[1] > nbase:
                    break
                time.sleep(0.003)
            else:
                if up.poll() is None:
                    problems.append("no uploader progress within 120 s after restart %d: %s" %
                                    (kills + extra_kills, L.tail_text(err_p, 300)))
                    break
            if up.poll() is not None:
                continue
            if not exp_id:
                exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 20))
            counted = v.wait_to_kill(rng, tmp)
            server.kill()
            acked = base + S.acked_values(err_p)[0]
            if counted:
                kills += 1
            else:
                extra_kills += 1
            v.after_kill(tmp, "kill %d" % kills if counted else "extra kill %d" % extra_kills,
                         counted)
            try:
                server.start()
            except RuntimeError as e:
                problems.append("restart %d: %s" % (kills + extra_kills, e))
                break
            checks += 1
            ok, text = S.check_db(server_exe, db)
            if ok:
                checks_ok += 1
            else:
                problems.append("check after restart %d: %s" % (kills + extra_kills, text))
            if exp_id:
                stored = stored_points(port, token, exp_id)
                if stored < acked:
                    acked_violations.append("restart %d: server has %d points, %d were "
                                            "acknowledged" % (kills + extra_kills, stored, acked))
            if counted and kills % 20 == 0:
                S.log("%s: %d/%d kills, %d uploaders, restart p50 %.0f ms" % (
                    v.name, kills, rounds, len(procs),
                    S.percentile(server.start_times[1:], 50) * 1000))
        # let the last uploader finish (resume if it gave up)
        for _ in range(5):
            up, out_p, err_p = procs[-1]
            try:
                rc = up.wait(600)
            except subprocess.TimeoutExpired:
                problems.append("last uploader still running 600 s after the last kill")
                break
            if not exp_id:
                exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 20))
            if rc == 0 or not exp_id:
                break
            gave_up.append("last uploader: exit %s: %s" % (rc, L.tail_text(err_p, 300)))
            start_uploader()
        retries = sum(L.tail_text(e, 1 << 30).count("retrying in") for _, _, e in procs)
        lost = dup = unknown = -1
        n_src = logdir.n_points()
        if not exp_id:
            problems.append("no experiment ID printed")
        else:
            try:
                got = S.export_points(client, exp_id, os.path.join(tmp, "export"))
            except RuntimeError as e:  # e.g. the experiment itself was lost
                got = {}
                problems.append("export: %s" % str(e)[:300])
            want = {k: c for k, c in logdir.expected.items() if c}
            lost, dup, unknown, lines = S.compare_points(want, got)
            if lost or dup or unknown:
                problems.append("export differs from source: %s" % L.short(lines, 4))
        server.kill()
        v.before_final_check(server, tmp, port, token, exp_id, n_src, problems,
                             acked_violations)
        checks += 1
        ok, text = S.check_db(server_exe, db)
        checks_ok += ok
        if not ok:
            problems.append("check after the final SIGKILL: %s" % text)
        if kills < rounds:
            problems.append("only %d of %d kills done" % (kills, rounds))
        if acked_violations:
            problems.append("acknowledged points lost: %s" % L.short(acked_violations, 3))
        if gave_up:
            problems.append("uploader gave up %d times instead of retrying: %s" % (
                len(gave_up), L.short(gave_up, 2)))
        for what, text in L.sanitizer_reports(tmp):
            problems.append("sanitizer report in %s: %s" % (what, text[:300]))
        problems += v.problems(tmp)
        st = server.start_times[1:]  # restarts only
        figures = ("kills=%d %spoints=%d lost=%d duplicates=%d acked_lost_rounds=%d "
                   "checks=%d/%d_ok restart_p50=%.0fms restart_p99=%.0fms restart_max=%.0fms "
                   "uploaders=%d uploader_retries=%d uploader_failures=%d time=%.0fs seed=%d" % (
                       kills, v.figures(), n_src, lost, dup, len(acked_violations), checks_ok,
                       checks, S.percentile(st, 50) * 1000, S.percentile(st, 99) * 1000,
                       (max(st) if st else float("nan")) * 1000, len(procs), retries,
                       len(gave_up), time.monotonic() - t_start, seed))
        return not problems, figures
    except Exception as e:  # noqa: BLE001
        import traceback
        problems.append("harness: %r %s" % (e, traceback.format_exc()[-800:]))
        return False, "kills=%d seed=%d problems=%s" % (kills, seed, "; ".join(problems)[:1500])
    finally:
        for up, _, _ in procs:
            if up.poll() is None:
                up.kill()
                up.wait()
        if server is not None:
            server.kill()
        run.problems = problems
        S.remove_tmp(tmp, keep)


def main():
    return S.rounds_main("crash_server", __doc__, run)


if __name__ == "__main__":
    sys.exit(main())
