#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: sign-in throttling and password checks that cost the same for everyone
(issue 12, item 4).

Usage:  test_login_throttle.py PATH/TO/tbdev-server

1. 40 wrong passwords in a row from one address: the first --login_per_minute (10) are
   answered 401, the rest 429 with a Retry-After (before any password check); the account
   itself is throttled too, from other addresses; another account is not; a right password
   after a few wrong ones gives the attempts back.
2. Starvation: 300 connections of bad sign-ins from three addresses (127.0.0.2-4) while a
   token-authenticated upload runs: every write of the upload is answered 200 (none 503),
   once with the throttle off (--login_per_minute 0: every sign-in reaches scrypt, on the
   sign-in threads, never on the write threads) and once with the default throttle.
3. Constant cost: the median time of a sign-in as an unknown user, a user without a password
   and a disabled user is within a factor of 2 of a real user's wrong password (it was 28x:
   5 ms against 140 ms).

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0, 1, or 77 (no openssl).
"""

import json
import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402


def login_raw(port, user, password, source="127.0.0.1", timeout=30):
    """One sign-in over plain HTTP from `source`; returns (status, Retry-After, seconds)."""
    body = json.dumps({"user": user, "password": password}).encode()
    req = (b"POST /api/v1/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
           b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0))
    try:
        got, closed, secs = L.raw_exchange(s, req, timeout=timeout)
    finally:
        s.close()
    ra = None
    for line in got.split(b"\r\n"):
        if line.lower().startswith(b"retry-after:"):
            ra = line.split(b":", 1)[1].strip().decode()
    return L.parse_status(got), ra, time.monotonic() - t0


def throttle(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, tls=False, name="throttle", args=["--quiet"]))
    srv.start()
    srv.add_user("alice", password="alice's right password")
    srv.add_user("bob", password="bob's right password")
    got = [login_raw(srv.port, "alice", "wrong %d" % i) for i in range(40)]
    sts = [g[0] for g in got]
    rep.eq(sts[:10], [401] * 10, "the first 10 wrong passwords from one address: 401")
    rep.eq(sts[10:], [429] * 30, "the next 30: 429")
    ras = [g[1] for g in got[10:]]
    rep.check(all(ra and ra.isdigit() and 1 <= int(ra) <= 60 for ra in ras),
              "each 429 has a Retry-After of 1-60 s", repr(ras[:5]))
    slow = max(g[2] for g in got[10:])
    rep.check(slow < 0.5, "a 429 costs no password check (slowest %.3f s)" % slow)
    # the JSON error says what happened (at once: the bucket refills one attempt in 6 s, and
    # the sign-ins below take longer than that on a busy machine)
    r = srv.request("POST", "/api/v1/login", content_type="application/json",
                    body=json.dumps({"user": "alice", "password": "x" * 9}).encode())
    rep.check(r.status == 429 and r.error_code() == "rate_limited"
              and "retry" in r.error().get("message", ""),
              "429 body: code rate_limited and a message saying when to retry", r.short())
    # the account is throttled from anywhere: alice's bucket is empty
    st = login_raw(srv.port, "alice", "wrong again", source="127.0.0.5")[0]
    rep.eq(st, 429, "alice's account from another address: 429 (per-account throttle)")
    # another account from another address is not
    st = login_raw(srv.port, "bob", "bob's right password", source="127.0.0.6")[0]
    rep.eq(st, 200, "bob from another address: 200")
    # a right password after some wrong ones gives the attempts back
    for i in range(8):
        login_raw(srv.port, "bob", "wrong %d" % i, source="127.0.0.7")
    sts = [login_raw(srv.port, "bob", "bob's right password", source="127.0.0.7")[0]
           for _ in range(5)]
    rep.eq(sts, [200] * 5, "8 wrong then 5 right sign-ins from one address: the right ones "
           "are 200 (a success gives its attempt back)")

    rep.server_healthy(srv, "throttle server healthy")
    srv.stop()


class Upload(threading.Thread):
    def __init__(self, srv, token, exp, n):
        super().__init__(daemon=True)
        self.srv, self.token, self.exp, self.n = srv, token, exp, n
        self.statuses = []
        self.chunks = []
        self.error = None

    def run(self):
        try:
            ef = L.EventFile()
            for step in range(self.n * 5):
                ef.add(L.ev_scalar_tf1("loss", step, step * 0.25))
            self.chunks = ef.chunks(5)
            for off, data in self.chunks:
                r = self.srv.write(self.token, self.exp, [("run", "events.out", off, data)],
                                   timeout=60)
                self.statuses.append(r.status)
                time.sleep(0.02)
        except Exception as e:  # noqa: BLE001
            self.error = e


def flood(rep, exe, tmp, per_minute):
    name = "flood%d" % per_minute
    srv = rep.watch(L.Server(exe, tmp, tls=False, name=name, args=[
        "--quiet", "--conns_per_ip", "400", "--login_per_minute", str(per_minute)]))
    srv.start()
    tok = srv.add_user("uploader")
    srv.add_user("victim", password="the victim's password")
    exp = srv.create_experiment(tok, "during a sign-in flood")
    stop = threading.Event()
    counts = {}
    lock = threading.Lock()

    def attacker(i):
        src = "127.0.0.%d" % (2 + i % 3)
        while not stop.is_set():
            try:
                st = login_raw(srv.port, "victim", "guess %d" % i, source=src, timeout=60)[0]
            except OSError:
                st = "error"
            with lock:
                counts[st] = counts.get(st, 0) + 1

    ths = [threading.Thread(target=attacker, args=(i,), daemon=True) for i in range(300)]
    for t in ths:
        t.start()
    time.sleep(2.0)  # the flood is on
    up = Upload(srv, tok, exp, 40)
    up.start()
    up.join(300)
    stop.set()
    for t in ths:
        t.join(90)
    label = "throttle off" if per_minute == 0 else "default throttle"
    rep.note("%s: sign-in answers during the upload: %r" % (label, counts))
    rep.check(sum(v for k, v in counts.items() if k in (401, 429, 503)) >= 300,
              "%s: the flood ran (at least 300 sign-ins answered)" % label, repr(counts))
    rep.check(up.error is None and len(up.statuses) == len(up.chunks)
              and all(s == 200 for s in up.statuses),
              "%s: 300 connections of bad sign-ins: all %d writes of an upload are 200"
              % (label, len(up.chunks)),
              "error %r, statuses %r" % (up.error, up.statuses))
    series = srv.scalars(exp, "loss", run="run", token=tok).get("series") or [{}]
    rep.eq(len(series[0].get("points", [])), 200,
           "%s: all 200 points of the upload are stored" % label)
    rep.server_healthy(srv, "%s: server healthy after the flood" % label)
    srv.stop()


def constant_cost(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, tls=False, name="timing", args=[
        "--quiet", "--login_per_minute", "100000"]))
    srv.start()
    srv.add_user("real", password="the real password")
    srv.add_user("nopass")
    srv.add_user("off", password="a disabled user's password")
    rc, out, err = srv.admin("user", "disable", "off")
    rep.eq(rc, 0, "user disable off", err)
    kinds = [("a real user, wrong password", "real"), ("an unknown user", "nobody-here"),
             ("a user without a password", "nopass"), ("a disabled user", "off")]
    times = {k: [] for k, _ in kinds}
    login_raw(srv.port, "real", "warm up")
    for i in range(9):
        for k, user in kinds:
            st, ra, secs = login_raw(srv.port, user, "wrong password %d" % i)
            if st == 401:
                times[k].append(secs)
    med = {k: statistics.median(v) if v else None for k, v in times.items()}
    rep.note("median sign-in times: " + ", ".join("%s %.1f ms" % (k, (v or 0) * 1e3)
                                                 for k, v in med.items()))
    base = med[kinds[0][0]]
    for k, _ in kinds[1:]:
        m = med[k]
        rep.check(base and m and 0.5 <= m / base <= 2.0,
                  "%s costs what a wrong password does (median %.1f ms vs %.1f ms)"
                  % (k, (m or 0) * 1e3, (base or 0) * 1e3),
                  "%d answers" % len(times[k]))
    srv.stop()


def main(rep, exe, tmp):
    try:
        s = socket.create_connection(("127.0.0.1", 9), source_address=("127.0.0.2", 0),
                                     timeout=1)
        s.close()
    except ConnectionRefusedError:
        pass
    except OSError as e:
        print("# skip: cannot use 127.0.0.2 as a source address (%s)" % e)
        sys.exit(L.SKIP)
    throttle(rep, exe, tmp)
    flood(rep, exe, tmp, 0)
    flood(rep, exe, tmp, 10)
    constant_cost(rep, exe, tmp)


if __name__ == "__main__":
    L.run_main("sign-in throttling", main)
