#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: `tbdev upload` in watch mode follows a logdir while it is written.

Usage:  test_live_tail.py TBDEV_EXE TBDEV_SERVER_EXE

A real tbdev-server runs on 127.0.0.1 over HTTPS. `tbdev upload --logdir D --poll_interval 1`
(no --one_shot) starts on a logdir holding one empty run folder. A writer in this script
then appends scalar events for ~10 s (TBDEV_LIVE_SECONDS): to a first event file of run1,
then to a second file of run1 (started midway, as a restarted writer does), and from then
on also to a new run, run2. Some records are written in two pieces with a pause between:
first only the 12-byte header (then the rest 0.4 s later), or the header and half of the
data (then the rest 1.5 s later, across at least one poll), so the uploader meets
incomplete tails. Meanwhile a poller reads
GET /api/v1/experiments/ID/scalars?tag=T&points=all (restarts=keep) every 0.25 s.

Checks:
  * every point becomes visible, with its exact value, within TBDEV_LIVE_MAX_LATENCY
    seconds (default 5) of the moment its record was complete on disk;
  * no point is ever shown twice, and nothing that was not written is shown;
  * the uploader keeps running while it watches;
  * SIGINT makes it exit 0 within 15 s and print its summary ("N runs, N files, N values")
    with the right counts and the "stopped by request" line;
  * `tbdev export` of the experiment equals the logdir (uploader_lib's decoder).

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0 or 1 (77 when openssl is missing).
"""

import collections
import os
import re
import signal
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Plan:
    """The writes, in time order: (t, file path, bytes, [points completed by this write])."""

    def __init__(self, logdir, seconds):
        self.actions = []
        self.points = {}  # (run, tag, step) -> value (float32-exact)
        tick = 0.1
        wall0 = time.time()
        step = collections.Counter()
        files = [
            # run, file name, start, end (fractions of the total time), tags
            ("run1", "events.out.tfevents.1000.host.1.0", 0.0, 0.4, ("loss", "acc")),
            ("run1", "events.out.tfevents.1001.host.1.1", 0.4, 1.0, ("loss", "acc")),
            ("run2", "events.out.tfevents.1002.host.2.0", 0.5, 1.0, ("loss",)),
        ]
        self.files = [(run, os.path.join(logdir, run, name)) for run, name, _, _, _ in files]
        for fi, (run, name, a, b, tags) in enumerate(files):
            path = os.path.join(logdir, run, name)
            t = a * seconds
            end = b * seconds
            self.actions.append((t, path, L.file_version_record(wall0 + t), []))
            t += tick
            k = 0
            while t < end:
                k += 1
                vals = []
                for tg in tags:
                    s = step[(run, tg)]
                    step[(run, tg)] += 1
                    v = f32(((s * 7919 + fi * 104729) % 1000) / 37.0 - 10.0)
                    vals.append((tg, s, v))
                # one event per step and run holds all its tags; the step is the first tag's
                ev = L.scalar_event(wall0 + t, vals[0][1], [(tg, v) for tg, _, v in vals])
                rec = L.frame(ev)
                pts = [(run, tg, s) for tg, s, _ in vals]
                for tg, s, v in vals:
                    self.points[(run, tg, s)] = v
                if k % 13 == 6:  # header and half the data now, the rest 1.5 s later
                    cut = 12 + (len(rec) - 12) // 2
                    self.actions.append((t, path, rec[:cut], []))
                    t += 1.5
                    self.actions.append((t, path, rec[cut:], pts))
                elif k % 5 == 1:  # only the header now, the rest 0.4 s later
                    self.actions.append((t, path, rec[:12], []))
                    t += 0.4
                    self.actions.append((t, path, rec[12:], pts))
                else:
                    self.actions.append((t, path, rec, pts))
                t += tick
        self.actions.sort(key=lambda a: a[0])
        # per (run, tag) the step increases: the same step never appears twice
        for (run, tg), n in step.items():
            assert n > 0


class Writer(threading.Thread):
    def __init__(self, plan):
        super().__init__(daemon=True)
        self.plan = plan
        self.written = {}  # point -> monotonic time its record was complete
        self.error = None
        self.done = threading.Event()

    def run(self):
        handles = {}
        try:
            t0 = time.monotonic()
            for t, path, data, pts in self.plan.actions:
                delay = t0 + t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                f = handles.get(path)
                if f is None:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    f = handles[path] = open(path, "ab")
                f.write(data)
                f.flush()
                now = time.monotonic()
                for p in pts:
                    self.written[p] = now
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)
        finally:
            for f in handles.values():
                f.close()
            self.done.set()


class Poller(threading.Thread):
    def __init__(self, api, exp_id, tags, period=0.25):
        super().__init__(daemon=True)
        self.api, self.exp_id, self.tags, self.period = api, exp_id, tags, period
        self.first_seen = {}  # (run, tag, step) -> (monotonic time, value)
        self.dups = []        # (run, tag, step, count) seen more than once in one answer
        self.errors = []
        self.polls = 0
        self.stop = threading.Event()

    def poll_once(self):
        for tag in self.tags:
            try:
                series = self.api.scalars(self.exp_id, tag, keep_restarts=True)
            except Exception as e:  # noqa: BLE001
                self.errors.append("%s: %r" % (tag, e))
                continue
            now = time.monotonic()
            for run, pts in series.items():
                c = collections.Counter(int(p[1]) for p in pts)
                for s, n in c.items():
                    if n > 1:
                        self.dups.append((run, tag, s, n))
                for p in pts:
                    k = (run, tag, int(p[1]))
                    if k not in self.first_seen:
                        self.first_seen[k] = (now, p[2])
        self.polls += 1

    def run(self):
        while not self.stop.is_set():
            self.poll_once()
            self.stop.wait(self.period)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE\n" % argv[0])
        return 2
    tbdev, server_exe = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    seconds = float(os.environ.get("TBDEV_LIVE_SECONDS", "10"))
    max_lat = float(os.environ.get("TBDEV_LIVE_MAX_LATENCY", "5"))
    rep = L.Reporter()
    if not L.check_exes(rep, tbdev, server_exe):
        return rep.finish()
    tmp = L.make_tempdir("tbdev-live-")
    server = up = None
    poller = None
    try:
        cert, key_ = L.make_cert(tmp)
        db = os.path.join(tmp, "tbdev.db")
        token = L.add_user(server_exe, db)
        server = L.Server(server_exe, tmp, db, cert, key_)
        url = server.start()
        client = L.Client(tbdev, os.path.join(tmp, "home"), url=url, token=token, cacert=cert)
        api = L.Api(url, token, cert)
        logdir = os.path.join(tmp, "logdir")
        os.makedirs(os.path.join(logdir, "run1"))

        up_out, up_err = os.path.join(tmp, "upload.out"), os.path.join(tmp, "upload.err")
        up = client.popen(["upload", "--logdir", logdir, "--poll_interval", "1", "--name",
                           "live tail"], up_out, up_err)
        exp_id = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and up.poll() is None:
            with open(up_out, "rb") as f:
                exp_id = L.experiment_id_of(f.read().decode("utf-8", "replace"))
            if exp_id:
                break
            time.sleep(0.05)
        if not rep.check("uploader prints the experiment ID", None if exp_id else
                         "exit %s; stdout %r; stderr %s" % (
                             up.poll(), L.tail_text(up_out, 300), L.tail_text(up_err, 600))):
            return rep.finish()

        plan = Plan(logdir, seconds)
        rep.note("writing %d points in %d writes over %.0f s to %d files" % (
            len(plan.points), len(plan.actions), seconds, len(plan.files)))
        writer = Writer(plan)
        poller = Poller(api, exp_id, ("loss", "acc"))
        poller.start()
        writer.start()
        exited_early = None
        while not writer.done.wait(0.2):
            if exited_early is None and up.poll() is not None:
                exited_early = up.returncode
        if exited_early is None and up.poll() is not None:
            exited_early = up.returncode
        rep.check("writer wrote everything", writer.error)
        last_write = max(writer.written.values()) if writer.written else time.monotonic()
        # wait for the last points, at most max_lat after the last write
        while time.monotonic() < last_write + max_lat + 0.5:
            if all(p in poller.first_seen for p in plan.points):
                break
            time.sleep(0.1)
        time.sleep(0.6)  # a few more polls: anything shown twice or late?
        poller.stop.set()
        poller.join(10)
        poller.poll_once()

        rep.check("uploader keeps watching while data is written",
                  None if exited_early is None and up.poll() is None else
                  "it exited with %s; stderr %s" % (up.poll(), L.tail_text(up_err, 800)))
        rep.check("read API answers (%d polls)" % poller.polls,
                  L.short(poller.errors, 4) if poller.errors else None)

        missing = sorted(p for p in plan.points if p not in poller.first_seen)
        rep.check("every point arrives (%d points)" % len(plan.points),
                  "%d never visible: %s" % (len(missing), L.short(missing, 10))
                  if missing else None)
        wrong = []
        phantom = []
        for k, (t, v) in poller.first_seen.items():
            if k not in plan.points:
                phantom.append((k, v))
            elif v != plan.points[k]:
                wrong.append((k, v, plan.points[k]))
        rep.check("values are exact and nothing unwritten is shown",
                  "; ".join(x for x in (
                      "wrong values (point, got, want): " + L.short(wrong, 5) if wrong else "",
                      "points never written: " + L.short(phantom, 5) if phantom else "")
                            if x) or None)
        early = [(k, round(writer.written[k] - poller.first_seen[k][0], 3))
                 for k in poller.first_seen if k in writer.written
                 and poller.first_seen[k][0] < writer.written[k] - 0.05]
        rep.check("no point is visible before its record is complete",
                  "seen early (point, seconds): %s" % L.short(early, 5) if early else None)
        lats = sorted(((poller.first_seen[k][0] - writer.written[k]), k)
                      for k in plan.points if k in poller.first_seen and k in writer.written)
        if lats:
            mean = sum(x for x, _ in lats) / len(lats)
            rep.note("latency: mean %.2f s, median %.2f s, max %.2f s (%s)" % (
                mean, lats[len(lats) // 2][0], lats[-1][0], lats[-1][1]))
            slow = [(k, round(x, 2)) for x, k in lats if x > max_lat]
            rep.check("every point visible within %.1f s of being written" % max_lat,
                      "%d slower: %s" % (len(slow), L.short(slow[::-1], 6)) if slow else None)
        dups = sorted(set(poller.dups))
        rep.check("no point shown twice", "duplicates (run, tag, step, count): %s" %
                  L.short(dups, 8) if dups else None)

        # SIGINT: exit 0 with a summary
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                rc = up.wait(15)
            except Exception:  # noqa: BLE001
                rc = "still running 15 s after SIGINT"
                up.kill()
                up.wait()
        else:
            rc = "exited before SIGINT with %s" % up.returncode
        err = L.tail_text(up_err, 4000)
        rep.check("SIGINT: uploader exits 0", None if rc == 0 else "%s; stderr %s" % (
            rc, err[-800:]))
        m = re.search(r"(\d+) runs, (\d+) files, (\d+) values, .* sent", err)
        why = []
        if not m:
            why.append("no summary line")
        else:
            runs, nfiles, values = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if (runs, nfiles, values) != (2, len(plan.files), len(plan.points)):
                why.append("summary says %d runs, %d files, %d values; want 2, %d, %d" % (
                    runs, nfiles, values, len(plan.files), len(plan.points)))
        if "stopped by request" not in err:
            why.append("no 'stopped by request' line")
        rep.check("SIGINT: summary printed", "; ".join(why) + "; stderr: " + err[-600:]
                  if why else None)

        outdir = os.path.join(tmp, "export")
        rc, out, err = client.run(["export", "--experiment_id", exp_id, "--outdir", outdir])
        if rep.check("export exits 0", None if rc == 0 else "exit %s: %s" % (rc, err[-500:])):
            try:
                diffs = L.compare_multisets(L.multisets(L.decode_logdir(logdir)),
                                            L.multisets(L.decode_logdir(outdir)))
                rep.check("export equals the logdir", "%d series differ: %s" % (
                    len(diffs), L.short(diffs, 4)) if diffs else None)
            except (L.DecodeError, OSError) as e:
                rep.check("export equals the logdir", str(e))
        rc = server.stop()
        rep.check("server exits 0 on SIGTERM", None if rc == 0 else
                  "exit %s; stderr %s" % (rc, L.tail_text(server.err_path, 500)))
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("test harness", "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        if poller is not None:
            poller.stop.set()
        if up is not None and up.poll() is None:
            up.kill()
            up.wait()
        if server is not None:
            server.kill()
        L.finish_tmp(rep, tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
