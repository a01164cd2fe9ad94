#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Load soak: many live uploaders and many viewers against one tbdev-server.

    python3 tests/soak/load.py [--seconds 600] [--uploaders 50] [--viewers 200] [--small]
                               [--steps_per_sec 40] [--think_ms 50] [--users 5]
                               [--max_wal_mb 512] [--seed S] [--keep]
                               [--tbdev PATH] [--server PATH]

tbdev-server runs on plain HTTP on 127.0.0.1 (defaults, except --conns_per_ip, raised to
2 * uploaders + 16 when that is above the default 64, because every uploader connects from
127.0.0.1). Then, for --seconds:

  * uploaders: N `tbdev upload --logdir DIR_i --poll_interval 1` processes, each its own
    experiment, spread over --users users. Next to each, a Python writer thread appends TF2
    scalar events (one value per event, plugin "scalars", rank-0 DT_FLOAT tensor; 5 tags) to
    DIR_i/train/events.out.tfevents...v2 at --steps_per_sec steps per second (5 points/step),
    in small batches every 0.2 s;
  * viewers: M threads, each with one keep-alive http.client connection (bound to its own
    127.1.x.y source address, at most 8 per address, so the per-address limit is not what is
    measured), looping over GET /api/v1/experiments/ID, .../tags and
    .../scalars?tag=T&points=1000 for random experiments, with a random think time of
    0..2*--think_ms between iterations (0 for a closed loop). Every request's latency is kept.
    A 200 is success; a 503 with Retry-After is counted (and reported) but tolerated; a 500,
    any body mentioning SQLITE_BUSY / "database is locked", a 503 without Retry-After, any
    other status, and a transport error are errors;
  * every 5 s: the WAL size (DB-wal), the server's VmRSS, and the users' summed
    usage.scalars (GET /api/v1/experiments as each user) - the ingest rate is the growth of
    that sum over the measured window.

At the end the viewers and writers stop, every uploader gets SIGINT (each must exit 0),
`tbdev-server check --db DB` must print integrity_check: ok, the server gets SIGTERM (must exit
0), and one line is printed:

    RESULT: PASS|FAIL viewer_p50=..ms viewer_p99=..ms requests=.. errors=.. ingest=..points/s
            peak_wal=..MB peak_rss=..MB

FAIL if a 500 or SQLITE_BUSY reached a client (viewer, or an uploader's log), any other viewer
error, an uploader not exiting 0, integrity failing, or a peak WAL above --max_wal_mb.
--small (or TBDEV_SOAK_SMALL=1): 5 uploaders, 20 viewers, 30 s unless given explicitly.
Exit status 0 on PASS, 1 on FAIL.
"""

import http.client as httpc
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_lib as S  # noqa: E402
from soak_lib import L  # noqa: E402

TAGS = ["loss/train", "accuracy/train", "learning_rate", "grad_norm", "throughput"]
RUN = "train"
SAMPLE_EVERY = 5.0
BAD_MARKERS = (b"SQLITE_BUSY", b"database is locked", b"SQLITE_LOCKED")


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(want, soft)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------
# Event writer: TF2 scalar events appended at a steady rate.


class Writer(threading.Thread):
    def __init__(self, logdir, steps_per_sec, seed, stop):
        super().__init__(daemon=True)
        self.dir = os.path.join(logdir, RUN)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "events.out.tfevents.%d.loadhost.%d.v2" % (
            int(time.time()), seed))
        self.rate = float(steps_per_sec)
        self.rng = random.Random(seed)
        self.stop = stop
        self.steps = 0
        self.points = 0
        self.error = None
        meta = L.metadata_pb(plugin=b"scalars", data_class=L.DATA_CLASS_SCALAR)
        # value = tag, metadata, tensor{dtype, shape [], float_val packed [v]}: the float is
        # the last 4 bytes, so everything before it is a constant per tag.
        self.prefix = []
        for t in TAGS:
            tensor_head = L.f_varint(1, L.DT_FLOAT) + L.f_bytes(2, b"") + L.key(5, 2) + \
                L.varint(4)
            value_head = L.f_bytes(1, t.encode()) + L.f_bytes(9, meta) + L.key(8, 2) + \
                L.varint(len(tensor_head) + 4)
            self.prefix.append((value_head, tensor_head))
        with open(self.path, "wb") as f:
            f.write(L.file_version_record(time.time()))

    def _record(self, wall, step, i, v):
        value_head, tensor_head = self.prefix[i]
        value = value_head + tensor_head + struct.pack("<f", v)
        summ = L.f_bytes(1, value)
        ev = L.f_double(1, wall) + L.f_varint(2, step) + L.f_bytes(5, summ)
        return L.frame(ev)

    def run(self):
        try:
            t0 = time.monotonic()
            with open(self.path, "ab") as f:
                while not self.stop.is_set():
                    due = int((time.monotonic() - t0) * self.rate)
                    if due > self.steps:
                        now = time.time()
                        out = []
                        for s in range(self.steps + 1, due + 1):
                            base = math.exp(-s / 20000.0)
                            vals = (base + self.rng.random() * 0.05, 1.0 - base * 0.9,
                                    1e-3 * base, 1.0 + self.rng.random(), 500.0 + s % 7)
                            for i, v in enumerate(vals):
                                out.append(self._record(now, s, i, v))
                        f.write(b"".join(out))
                        f.flush()
                        self.points += (due - self.steps) * len(TAGS)
                        self.steps = due
                    self.stop.wait(0.2)
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)


# ---------------------------------------------------------------------------
# Viewers.


class Viewer(threading.Thread):
    def __init__(self, idx, port, exps, think_ms, seed, stop, src):
        super().__init__(daemon=True)
        self.idx, self.port, self.exps = idx, port, exps
        self.think = think_ms / 1000.0
        self.rng = random.Random(seed)
        self.stop = stop
        self.src = src
        self.conn = None
        self.used = 0
        self.lat = {"exp": [], "tags": [], "scalars": []}
        self.status = {}
        self.ok503 = 0
        self.errors = []  # (kind, detail)
        self.fatal = 0  # 500 / SQLITE_BUSY
        self.reconnects = 0

    def _connect(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = httpc.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                         source_address=(self.src, 0))
        self.used = 0

    def _get(self, kind, path):
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            reused = self.used > 0
            t0 = time.monotonic()
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
            except (httpc.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.conn.close()
                self.conn = None
                if reused and attempt == 0:
                    # a keep-alive connection the server had closed: one retry, fresh
                    self.reconnects += 1
                    continue
                self.errors.append(("transport", "%s %s" % (path, repr(e))))
                return None, None
            except (OSError, httpc.HTTPException) as e:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                self.errors.append(("transport", "%s %s" % (path, repr(e))))
                return None, None
            dt = time.monotonic() - t0
            self.used += 1
            if r.getheader("connection", "").lower() == "close" or r.will_close:
                self.conn.close()
                self.conn = None
            st = r.status
            self.status[st] = self.status.get(st, 0) + 1
            self.lat[kind].append(dt)
            bad = any(m in body for m in BAD_MARKERS)
            if st == 200 and not bad:
                return st, body
            if st == 503 and r.getheader("Retry-After") and not bad:
                self.ok503 += 1
                return st, None
            if st >= 500 or bad:
                self.fatal += 1
            self.errors.append(("http %d" % st, "%s -> %s" % (path, body[:300])))
            return st, None
        return None, None

    def run(self):
        try:
            while not self.stop.is_set():
                exp = self.rng.choice(self.exps)
                base = "/api/v1/experiments/%s" % exp
                self._get("exp", base)
                if self.stop.is_set():
                    break
                st, body = self._get("tags", base + "/tags")
                tag = self.rng.choice(TAGS)
                if st == 200 and body:
                    try:
                        names = set()
                        _collect_tags(json.loads(body), names)
                        names &= set(TAGS)
                        if names:
                            tag = self.rng.choice(sorted(names))
                    except ValueError:
                        pass
                if self.stop.is_set():
                    break
                self._get("scalars", base + "/scalars?tag=%s&points=1000" %
                          urllib.parse.quote(tag, safe=""))
                if self.think > 0:
                    self.stop.wait(self.rng.uniform(0, 2 * self.think))
        except Exception as e:  # noqa: BLE001
            self.errors.append(("viewer crash", repr(e)))
        finally:
            if self.conn is not None:
                self.conn.close()


def _collect_tags(obj, out):
    """Any string value under a key 'tag' or 'name' (the tags answer's exact shape aside)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("tag", "name") and isinstance(v, str):
                out.add(v)
            else:
                _collect_tags(v, out)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, str):
                out.add(v)
            else:
                _collect_tags(v, out)


# ---------------------------------------------------------------------------


def list_experiments(port, token):
    st, _, body = S.request(port, "GET", "/api/v1/experiments",
                            headers={"Authorization": "Bearer " + token}, timeout=30)
    if st != 200:
        raise RuntimeError("GET /api/v1/experiments: HTTP %s %s" % (st, body[:200]))
    return json.loads(body).get("experiments", [])


def usage_scalars(port, tokens):
    total = 0
    n = 0
    for tok in tokens:
        for e in list_experiments(port, tok):
            total += int(e.get("usage", {}).get("scalars", 0))
            n += 1
    return total, n


def mb(nbytes):
    return nbytes / (1024.0 * 1024.0)


def run(a):
    rng = random.Random(a.seed)
    nofile = raise_nofile(a.viewers + 4 * a.uploaders + 256)
    tmp = L.make_tempdir("tbdev-soak-load-")
    S.log("load: %d uploaders x %d steps/s x %d tags, %d viewers (think %d ms), %d s, "
          "seed %d, RLIMIT_NOFILE %d, in %s" % (a.uploaders, a.steps_per_sec, len(TAGS),
                                                a.viewers, a.think_ms, a.seconds, a.seed,
                                                nofile, tmp))
    problems = []
    server = None
    procs = []  # (Popen, err_path)
    stop_writers = threading.Event()
    stop_viewers = threading.Event()
    writers, viewers = [], []
    samples = []  # (t, wal_bytes, rss_kb, scalars)
    figures = {}
    ok = False
    try:
        db = os.path.join(tmp, "tbdev.db")
        nusers = max(1, min(a.users, a.uploaders))
        tokens = [L.add_user(a.server, db, "load%d" % u) for u in range(nusers)]
        extra = []
        cpi = 2 * a.uploaders + 16
        if cpi > 64:
            extra += ["--conns_per_ip", str(cpi)]
        server = S.HttpServer(a.server, tmp, db, extra)
        server.start()
        port = server.port
        S.log("load: server pid %d on %s %s" % (server.pid(), server.url, " ".join(extra)))

        # uploaders and their writers
        for i in range(a.uploaders):
            logdir = os.path.join(tmp, "logs", "up%03d" % i)
            w = Writer(logdir, a.steps_per_sec, a.seed * 1000 + i, stop_writers)
            writers.append(w)
            client = L.Client(a.tbdev, os.path.join(tmp, "home", "up%03d" % i),
                              url=server.url, token=tokens[i % nusers])
            out_p = os.path.join(tmp, "upload-%03d.out" % i)
            err_p = os.path.join(tmp, "upload-%03d.err" % i)
            p = client.popen(["upload", "--logdir", logdir, "--poll_interval", "1",
                              "--name", "load %d" % i], out_p, err_p)
            procs.append((p, err_p))
        for w in writers:
            w.start()

        # wait for every experiment to exist
        deadline = time.monotonic() + 120
        exps = []
        while time.monotonic() < deadline:
            exps = [e["id"] for tok in tokens for e in list_experiments(port, tok)]
            dead = [i for i, (p, _) in enumerate(procs) if p.poll() is not None]
            if dead:
                i = dead[0]
                raise RuntimeError("uploader %d exited %s early: %s" % (
                    i, procs[i][0].returncode, L.tail_text(procs[i][1], 400)))
            if len(exps) >= a.uploaders:
                break
            time.sleep(0.2)
        if len(exps) < a.uploaders:
            raise RuntimeError("only %d of %d experiments appeared" % (len(exps), a.uploaders))
        S.log("load: %d experiments exist; starting %d viewers" % (len(exps), a.viewers))

        for v in range(a.viewers):
            src = "127.1.%d.%d" % (v // 8 // 250, v // 8 % 250 + 1)
            viewers.append(Viewer(v, port, exps, a.think_ms, rng.randrange(1 << 30),
                                  stop_viewers, src))
        for v in viewers:
            v.start()

        wal_path = db + "-wal"
        t_begin = time.monotonic()
        t_end = t_begin + a.seconds
        next_sample = t_begin
        last_log = t_begin
        while True:
            now = time.monotonic()
            if now >= next_sample:
                try:
                    wal = os.path.getsize(wal_path)
                except OSError:
                    wal = 0
                rss = S.proc_status(server.pid(), "VmRSS") or 0
                try:
                    sc, _ = usage_scalars(port, tokens)
                except (OSError, RuntimeError, ValueError) as e:
                    problems.append("usage sample: %r" % e)
                    sc = None
                samples.append((now, wal, rss, sc))
                next_sample += SAMPLE_EVERY
                if now - last_log >= 60 or len(samples) == 1:
                    last_log = now
                    nreq = sum(len(x) for v in viewers for x in v.lat.values())
                    nerr = sum(len(v.errors) for v in viewers)
                    S.log("load: t=%4.0fs wal=%.1fMB rss=%.1fMB stored=%s requests=%d "
                          "errors=%d" % (now - t_begin, mb(wal), rss / 1024.0, sc, nreq, nerr))
                if not server.alive():
                    problems.append("server died: exit %s: %s" % (
                        server.proc.returncode, L.tail_text(server.err_path, 400)))
                    break
            if now >= t_end:
                break
            time.sleep(min(0.5, max(0.0, min(next_sample, t_end) - now)))
        t_stop = time.monotonic()

        stop_viewers.set()
        for v in viewers:
            v.join(90)
        hung = [v.idx for v in viewers if v.is_alive()]
        if hung:
            problems.append("%d viewer threads did not finish" % len(hung))
        stop_writers.set()
        for w in writers:
            w.join(30)
            if w.error:
                problems.append("writer %s: %s" % (w.path, w.error))

        # ingest over the measured window: first to last usage sample
        valid = [s for s in samples if s[3] is not None]
        ingest = 0.0
        if len(valid) >= 2 and valid[-1][0] > valid[0][0]:
            ingest = (valid[-1][3] - valid[0][3]) / (valid[-1][0] - valid[0][0])
        peak_wal = max((s[1] for s in samples), default=0)
        peak_rss = max((s[2] for s in samples), default=0)
        written = sum(w.points for w in writers)
        try:
            stored_before_stop, _ = usage_scalars(port, tokens)
        except (OSError, RuntimeError, ValueError) as e:
            stored_before_stop = None
            problems.append("usage after run: %r" % e)

        # stop uploaders: SIGINT, all must exit 0
        for p, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        t_int = time.monotonic()
        bad_exit = []
        for i, (p, err_p) in enumerate(procs):
            try:
                rc = p.wait(max(1.0, 60 - (time.monotonic() - t_int)))
            except Exception:  # noqa: BLE001 - TimeoutExpired
                p.send_signal(signal.SIGKILL)
                p.wait()
                rc = "timeout (killed)"
            if rc != 0:
                bad_exit.append("uploader %d exit %s: %s" % (i, rc, L.tail_text(err_p, 300)))
        sigint_secs = time.monotonic() - t_int
        procs_done = procs
        procs = []
        if bad_exit:
            problems.append("%d uploaders did not exit 0 on SIGINT: %s" % (
                len(bad_exit), bad_exit[0]))
        # what reached the uploaders
        up_fatal = []
        for i, (_, err_p) in enumerate(procs_done):
            text = L.tail_text(err_p, 1 << 30)
            for m in ("SQLITE_BUSY", "database is locked", " 500", "HTTP 500"):
                if m in text:
                    idx = text.find(m)
                    up_fatal.append("uploader %d log: ...%s..." % (
                        i, text[max(0, idx - 150):idx + 100].replace("\n", " | ")))
                    break
        if up_fatal:
            problems.append("%d uploader logs mention 500/SQLITE_BUSY: %s" % (
                len(up_fatal), up_fatal[0]))
        try:
            stored_final, nexp = usage_scalars(port, tokens)
        except (OSError, RuntimeError, ValueError) as e:
            stored_final, nexp = None, 0
            problems.append("usage after SIGINT: %r" % e)

        # integrity, with the server still running, then a clean stop
        t_chk = time.monotonic()
        integ_ok, integ_text = S.check_db(a.server, db)
        chk_secs = time.monotonic() - t_chk
        if not integ_ok:
            problems.append("integrity: " + integ_text)
        try:
            final_wal = os.path.getsize(wal_path)
        except OSError:
            final_wal = 0
        pgdb = L.test_db(db)
        db_size = int(L.db_query(pgdb, "SELECT pg_database_size(current_database())")[0][0]) \
            if pgdb.startswith("postgresql://") else os.path.getsize(db)
        srv_rc = server.stop(30)
        if srv_rc != 0:
            problems.append("server exit %s on SIGTERM: %s" % (srv_rc,
                                                               L.tail_text(server.err_path, 300)))
        srv_err = L.tail_text(server.err_path, 1 << 30)
        for m in ("SQLITE_BUSY", "database is locked", "AddressSanitizer", "runtime error"):
            if m in srv_err:
                idx = srv_err.find(m)
                problems.append("server log mentions %s: ...%s" % (
                    m, srv_err[max(0, idx - 200):idx + 200].replace("\n", " | ")))

        # viewer figures
        lat = [x for v in viewers for k in v.lat.values() for x in k]
        per = {k: [x for v in viewers for x in v.lat[k]] for k in ("exp", "tags", "scalars")}
        nreq = len(lat) + sum(1 for v in viewers for e in v.errors if e[0] == "transport")
        errs = [e for v in viewers for e in v.errors]
        fatal = sum(v.fatal for v in viewers)
        n503 = sum(v.ok503 for v in viewers)
        status = {}
        for v in viewers:
            for st, n in v.status.items():
                status[st] = status.get(st, 0) + n
        reconnects = sum(v.reconnects for v in viewers)
        if fatal:
            problems.append("%d viewer answers were a 500 or mentioned SQLITE_BUSY" % fatal)
        if errs:
            kinds = {}
            for k, _ in errs:
                kinds[k] = kinds.get(k, 0) + 1
            problems.append("viewer errors %s; first: %s %s" % (
                kinds, errs[0][0], errs[0][1][:300]))
        if peak_wal > a.max_wal_mb * 1024 * 1024:
            problems.append("peak WAL %.1f MB > %d MB" % (mb(peak_wal), a.max_wal_mb))
        window = t_stop - t_begin
        ms = lambda xs, p: S.percentile(xs, p) * 1000.0  # noqa: E731
        wal_series = " ".join("%.0f" % mb(s[1]) for s in samples[:: max(1, len(samples) // 12)])
        rss_series = " ".join("%.0f" % (s[2] / 1024.0)
                              for s in samples[:: max(1, len(samples) // 12)])
        S.log("load: window %.1f s; viewer requests %d (%.0f req/s), statuses %s, 503 with "
              "Retry-After %d, keep-alive reconnects %d" % (
                  window, nreq, nreq / max(window, 1e-9), dict(sorted(status.items())), n503,
                  reconnects))
        for k in ("exp", "tags", "scalars"):
            if per[k]:
                S.log("load:   %-7s n=%d p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms" % (
                    k, len(per[k]), ms(per[k], 50), ms(per[k], 90), ms(per[k], 99),
                    max(per[k]) * 1000.0))
        S.log("load: ingest %.0f points/s (server usage.scalars over %.0f s); written %d "
              "points (%.0f/s); stored at end of run %s, after SIGINT %s over %d experiments"
              % (ingest, (valid[-1][0] - valid[0][0]) if len(valid) >= 2 else 0, written,
                 written / max(window, 1e-9), stored_before_stop, stored_final, nexp))
        S.log("load: WAL MB samples: %s; final %.1f MB; DB %.1f MB" % (
            wal_series, mb(final_wal), mb(db_size)))
        S.log("load: RSS MB samples: %s" % rss_series)
        S.log("load: uploaders SIGINT -> all exited in %.1f s (%d not 0); check %.1f s: %s" % (
            sigint_secs, len(bad_exit), chk_secs, "ok" if integ_ok else integ_text))
        figures = ("viewer_p50=%.1fms viewer_p99=%.1fms requests=%d errors=%d ingest=%.0f"
                   "points/s peak_wal=%.1fMB peak_rss=%.1fMB 503s=%d" % (
                       ms(lat, 50), ms(lat, 99), nreq, len(errs), ingest, mb(peak_wal),
                       peak_rss / 1024.0, n503))
        ok = not problems
    except Exception as e:  # noqa: BLE001
        problems.append("harness: %r" % e)
        figures = figures or "viewer_p50=nan viewer_p99=nan requests=0 errors=0 ingest=0" \
            "points/s peak_wal=0MB peak_rss=0MB"
    finally:
        stop_viewers.set()
        stop_writers.set()
        for p, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        if server is not None and server.proc is not None:
            server.kill()
        if a.keep or L.keep_tmp() or not ok:
            S.log("load: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(S.result(ok, figures, problems), flush=True)
    return 0 if ok else 1


def run_small(tbdev, server_exe, seed, keep=False):
    """The --small run (5 uploaders, 20 viewers, 30 s; main()'s other defaults) for
    tests/integration/test_reliability.py: returns (ok, figures) and sets run.problems, like
    the other soak scripts' run(). run() prints its RESULT line; it is taken here instead."""
    import argparse
    import contextlib
    import io
    a = argparse.Namespace(tbdev=tbdev, server=server_exe, seed=seed, keep=keep, small=True,
                           seconds=30, uploaders=5, viewers=20, users=5, steps_per_sec=40,
                           think_ms=50, max_wal_mb=512)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = run(a)
    line = next((ln for ln in out.getvalue().splitlines() if ln.startswith("RESULT: ")), "")
    figures, _, probs = line[len("RESULT: PASS "):].partition(" | problems: ")
    run.problems = [probs] if probs else ([] if rc == 0 else ["no RESULT line: %r" % line])
    return rc == 0 and line.startswith("RESULT: PASS"), figures + " seed=%d" % seed


def main():
    ap = S.base_args(__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=None, help="duration (default 600)")
    ap.add_argument("--uploaders", type=int, default=None, help="default 50")
    ap.add_argument("--viewers", type=int, default=None, help="default 200")
    ap.add_argument("--users", type=int, default=5, help="users the uploaders are spread over")
    ap.add_argument("--steps_per_sec", type=float, default=40,
                    help="steps per second per writer, 5 points each (default 40)")
    ap.add_argument("--think_ms", type=float, default=50,
                    help="mean viewer pause between iterations (0: closed loop)")
    ap.add_argument("--max_wal_mb", type=int, default=512)
    a = ap.parse_args()
    if a.seconds is None:
        a.seconds = 30 if a.small else 600
    if a.uploaders is None:
        a.uploaders = 5 if a.small else 50
    if a.viewers is None:
        a.viewers = 20 if a.small else 200
    if a.seed is None:
        a.seed = random.randrange(1 << 30)
    for exe in (a.tbdev, a.server):
        if not os.access(exe, os.X_OK):
            print(S.result(False, "", ["not executable: " + exe]))
            return 1

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
