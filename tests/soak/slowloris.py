#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Soak: slowloris. Thousands of connections trickle a partial request while a client works.

    python3 tests/soak/slowloris.py [--conns 5000] [--seconds 60] [--small] [--keep]
                                    [--tbdev P] [--server P]

tbdev-server runs on plain HTTP with --conns_per_ip 6000 --max_connections 8000
--conn_timeout 10. RLIMIT_NOFILE is raised (soft to hard) for this script and the server; if
the hard limit is too low for the connections asked for, the count is scaled down and that is
reported. The attacker opens CONNS connections, each sends a partial request
("GET /api/v1/health HTTP/1.1\\r\\nHost: ...\\r\\n") and then one more header byte every 2-5 s;
connections the server closes are reopened, to keep the pressure up. Meanwhile a legitimate
client loops for SECONDS: GET /api/v1/health, then a small POST
/api/v1/experiments/{id}/events (one scalar record in a new file), each on a new connection
with a 5 s timeout.

Reported: the share of legitimate requests that succeed (goal >= 99.9%), their p50/p99
latency, the server's peak RSS (VmHWM from /proc/PID/status) before and after the attack
(goal: bounded; the figure is reported in MB, and more than 512 MB fails), attacker
connections open at the end and how many the server closed.
--small (or TBDEV_SOAK_SMALL=1): 500 connections, 15 s (for CI).

Ends with `RESULT: PASS ...` or `RESULT: FAIL ...`; exit 0 / 1.
"""

import os
import random
import resource
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_lib as S  # noqa: E402
from soak_lib import L  # noqa: E402

RSS_LIMIT_MB = 512


class Attacker(threading.Thread):
    def __init__(self, port, n, rng):
        super().__init__(daemon=True)
        self.port, self.n, self.rng = port, n, rng
        self.stop = threading.Event()
        self.sel = selectors.DefaultSelector()
        self.socks = {}  # sock -> next trickle time
        self.opened = self.closed_by_server = self.connect_fail = self.bytes = 0
        self.ready = threading.Event()

    def _open(self):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            s.close()
            self.connect_fail += 1
            return
        s.setblocking(False)
        self.socks[s] = time.monotonic() + self.rng.uniform(2, 5)
        self.sel.register(s, selectors.EVENT_READ)
        self.opened += 1

    def _drop(self, s):
        try:
            self.sel.unregister(s)
        except (KeyError, ValueError):
            pass
        self.socks.pop(s, None)
        s.close()

    def run(self):
        while len(self.socks) < self.n and not self.stop.is_set():
            self._open()
            if self.connect_fail > self.n:
                break
        self.ready.set()
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # the server closed it (or answered): reopen one
                    self.closed_by_server += 1
                    self._drop(s)
            now = time.monotonic()
            for s, due in list(self.socks.items()):
                if due <= now:
                    try:
                        s.send(b"X")  # one byte of a header name, never finished
                        self.bytes += 1
                        self.socks[s] = now + self.rng.uniform(2, 5)
                    except OSError:
                        self.closed_by_server += 1
                        self._drop(s)
            while len(self.socks) < self.n and not self.stop.is_set():
                before = self.connect_fail
                self._open()
                if self.connect_fail > before:
                    break
        for s in list(self.socks):
            self._drop(s)


def events_body(run_name, file_name, step):
    rec = L.frame(L.scalar_event(1_700_000_000.0 + step, step, [("loss", 1.0 / (1 + step))]))
    group = (L.f_bytes(1, run_name) + L.f_bytes(2, file_name) + L.f_varint(3, 0) +
             L.f_bytes(4, rec))
    return L.f_bytes(1, group)


def run(server_exe, conns, seconds, seed, keep=False):
    rng = random.Random(seed)
    problems = []
    run.problems = problems
    tmp = L.make_tempdir("tbdev-soak-slowloris-")
    server = None
    att = None
    figs = {}
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = conns + 200
        want = hard if hard != resource.RLIM_INFINITY else max(need, soft)
        if want < need:
            scaled = max(100, want - 200)
            figs["scaled_down_from"] = conns
            S.log("slowloris: RLIMIT_NOFILE hard limit %d < %d: %d connections instead" % (
                hard, need, scaled))
            conns = scaled
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        figs["nofile"] = "%d/%d" % resource.getrlimit(resource.RLIMIT_NOFILE)
        db = os.path.join(tmp, "tbdev.db")
        token = L.add_user(server_exe, db)
        server = S.HttpServer(server_exe, tmp, db, [
            "--conns_per_ip", "6000", "--max_connections", "8000", "--conn_timeout", "10"])
        server.start()
        port = server.port
        pid = server.pid()
        auth = {"Authorization": "Bearer " + token}
        st, _, body = S.request(port, "POST", "/api/v1/experiments", L.f_bytes(1, b"slowloris"),
                                dict(auth, **{"Content-Type": "application/x-protobuf"}))
        if st != 201:
            raise RuntimeError("create experiment: HTTP %s %s" % (st, body[:200]))
        exp_id = next(bytes(v).decode() for fn, wt, v in L.fields(body) if fn == 1)
        hwm_before = S.proc_status(pid, "VmHWM") or 0
        att = Attacker(port, conns, rng)
        t_open = time.monotonic()
        att.start()
        att.ready.wait(300)
        figs["open_time"] = "%.1fs" % (time.monotonic() - t_open)
        figs["attack_conns"] = len(att.socks)
        if len(att.socks) < conns * 0.95:
            problems.append("only %d of %d attacker connections could be opened (%d connect "
                            "failures)" % (len(att.socks), conns, att.connect_fail))
        ok = fail = 0
        lat = []
        fails = []
        step = 0
        t_end = time.monotonic() + seconds
        rss_peak_seen = 0
        while time.monotonic() < t_end:
            for kind in ("health", "post"):
                t0 = time.monotonic()
                try:
                    if kind == "health":
                        st, _, b = S.request(port, "GET", "/api/v1/health", timeout=5)
                        good = st == 200
                    else:
                        step += 1
                        st, _, b = S.request(
                            port, "POST", "/api/v1/experiments/%s/events" % exp_id,
                            events_body("legit", "events.out.tfevents.%d" % step, step),
                            dict(auth, **{"Content-Type": "application/x-protobuf"}), timeout=5)
                        good = st == 200
                    if not good:
                        fails.append("%s HTTP %s %s" % (kind, st, b[:100]))
                except OSError as e:
                    good = False
                    fails.append("%s %r" % (kind, e))
                dt = time.monotonic() - t0
                if good:
                    ok += 1
                    lat.append(dt)
                else:
                    fail += 1
            rss = S.proc_status(pid, "VmRSS") or 0
            rss_peak_seen = max(rss_peak_seen, rss)
            time.sleep(0.01)
        open_at_end = len(att.socks)
        att.stop.set()
        att.join(60)
        alive = server.alive()
        hwm = S.proc_status(pid, "VmHWM") or 0
        total = ok + fail
        share = 100.0 * ok / total if total else 0.0
        figs.update({
            "legit_ok": "%d/%d" % (ok, total), "success": "%.3f%%" % share,
            "legit_p50": "%.1fms" % (S.percentile(lat, 50) * 1000),
            "legit_p99": "%.1fms" % (S.percentile(lat, 99) * 1000),
            "peak_rss": "%.1fMB" % (hwm / 1024.0),
            "rss_before_attack": "%.1fMB" % (hwm_before / 1024.0),
            "attack_open_at_end": open_at_end, "closed_by_server": att.closed_by_server,
            "attack_bytes": att.bytes, "seconds": seconds,
        })
        if share < 99.9:
            problems.append("legitimate success %.3f%% < 99.9%%; e.g. %s" % (
                share, L.short(fails, 3)))
        if not alive:
            problems.append("the server died during the attack: %s" %
                            L.tail_text(server.err_path, 300))
        if hwm / 1024.0 > RSS_LIMIT_MB:
            problems.append("peak RSS %.0f MB > %d MB" % (hwm / 1024.0, RSS_LIMIT_MB))
        # after the attack the server must answer at once
        st, _, _ = S.request(port, "GET", "/api/v1/health", timeout=5)
        if st != 200:
            problems.append("health after the attack: HTTP %s" % st)
        return not problems, " ".join("%s=%s" % kv for kv in figs.items()) + " seed=%d" % seed
    except Exception as e:  # noqa: BLE001
        import traceback
        problems.append("harness: %r %s" % (e, traceback.format_exc()[-800:]))
        return False, " ".join("%s=%s" % kv for kv in figs.items())
    finally:
        if att is not None:
            att.stop.set()
            att.join(30)
        if server is not None:
            server.kill()
        S.remove_tmp(tmp, keep)


def main():
    ap = S.base_args(__doc__.splitlines()[1])
    ap.add_argument("--conns", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    a = ap.parse_args()
    conns = a.conns or (500 if a.small else 5000)
    seconds = a.seconds or (15 if a.small else 60)
    seed = S.seed_of(a)
    S.log("slowloris: %d connections, %.0f s, seed %d" % (conns, seconds, seed))
    ok, figures = run(os.path.abspath(a.server), conns, seconds, seed, a.keep)
    return S.finish(ok, figures, getattr(run, "problems", []))


if __name__ == "__main__":
    sys.exit(main())
