#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: hostile HTTP clients against a real tbdev-server (issue 12, items 3, 7, 8).

Usage:  test_hostile_http.py PATH/TO/tbdev-server

1. Request smuggling: a space or tab before a header's colon ("Transfer-Encoding : chunked"),
   an obs-fold continuation line, and a second Host header get one 400 and the connection
   closed; the smuggled request behind them is never answered. Ordinary requests (bare LF
   line ends, trailing spaces, cookies, many headers) are still served.
2. The header deadline measures the client: with one pool thread busy for ~5 s on a write
   (the database's write lock held by this test, --write_threads 0), a request sent in full
   on an open connection is answered once the thread is free, not dropped at the deadline;
   a client trickling its headers is still cut.
3. Control characters in a request path are escaped in the server's log.
4. Unauthenticated memory: 30 connections each sending 31 MiB minus one byte of a 31 MiB
   body (no token, then a bad token) are answered 401 before their bodies are read: the
   server's peak RSS (VmHWM in /proc/PID/status) grows by less than 64 MiB (it grew by
   ~900 MiB before); uploads of a legitimate user running alongside all succeed.
5. Per-route body caps: login, device and logout bodies over 4 KiB, any body on a GET, and a
   compressed body on a route that is not a write get 413/415 from the headers alone.
6. The global body-memory cap: with --body_memory 64 MiB, 12 authenticated connections each
   holding 31 MiB minus one byte: those past the cap get 503 with Retry-After at once, peak
   RSS stays within the cap plus a margin, and a legitimate uploader retrying after 503 gets
   every point stored.

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0, 1, or 77 (no openssl).
"""

import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402

SMUGGLED = b"GET /api/v1/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
MIB = 1 << 20


def under_tsan(exe):
    """ThreadSanitizer keeps shadow memory for every byte written (several times its size):
    peak-RSS bounds are checked in the other builds only."""
    try:
        with open(exe, "rb") as f:
            return b"__tsan_init" in f.read()
    except OSError:
        return False


def rss_kb(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def raw(server, data, timeout=6.0, quiet=0.7):
    s = server.raw_socket(timeout=timeout)
    try:
        return L.raw_exchange(s, data, timeout=timeout, quiet_after_data=quiet)
    finally:
        s.close()


def statuses(got):
    """Every status line in what came back (answers follow each other without a gap)."""
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", got)]


def smuggling(rep, plain):
    body = b"0\r\n\r\n"
    cl = b"Content-Length: %d\r\n" % len(body)
    head = b"POST /api/v1/device/code HTTP/1.1\r\nHost: localhost\r\n"
    cases = [
        ("a space before the colon of Transfer-Encoding",
         head + cl + b"Transfer-Encoding : chunked\r\n\r\n" + body + SMUGGLED),
        ("a tab before the colon of Transfer-Encoding",
         head + cl + b"Transfer-Encoding\t: chunked\r\n\r\n" + body + SMUGGLED),
        ("a space before the colon of Content-Length",
         head + b"Content-Length : 5\r\nTransfer-Encoding: chunked\r\n\r\n" + body + SMUGGLED),
        ("Transfer-Encoding hidden in an obs-fold line",
         head + cl + b"X-Pad: a\r\n Transfer-Encoding: chunked\r\n\r\n" + body + SMUGGLED),
        ("Transfer-Encoding's value on an obs-fold line",
         head + cl + b"Transfer-Encoding:\r\n chunked\r\n\r\n" + body + SMUGGLED),
        ("an obs-fold line starting with a tab",
         head + cl + b"X-Pad: a\r\n\tb\r\n\r\n" + body + SMUGGLED),
        ("an obs-fold line of token characters only",
         b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n c\r\n\r\n" + SMUGGLED),
        ("an obs-fold line with bare LF line ends",
         b"GET /api/v1/health HTTP/1.1\nHost: localhost\nX-A: b\n c\n\n" + SMUGGLED),
        ("two Host headers",
         b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"
         + SMUGGLED),
        ("two Host headers, the same name twice",
         b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n"
         + SMUGGLED),
        ("a space before the colon of Host",
         b"GET /api/v1/health HTTP/1.1\r\nHost : localhost\r\n\r\n" + SMUGGLED),
        ("Transfer-Encoding: gzip, chunked",
         head + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + body + SMUGGLED),
        ("two Transfer-Encoding headers",
         head + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
         + body + SMUGGLED),
    ]
    for label, data in cases:
        got, closed, secs = raw(plain, data)
        st = statuses(got)
        # For "Host :" libmicrohttpd answers itself (an HTML 400 for a request without a Host;
        # its header block comes out twice): still no answer to the smuggled request, which
        # would be a 404 not_found.
        one = st[:1] == [400] and all(x == 400 for x in st)
        rep.check(one and closed and b"not_found" not in got,
                  "%s: one 400, the connection closed, the smuggled request unanswered" % label,
                  "statuses %r, closed %s, first bytes %r" % (st, closed, got[:120]))
    # the same server still serves ordinary requests, including the shapes near the above
    fine = [
        ("bare LF line ends",
         b"GET /api/v1/health HTTP/1.1\nHost: localhost\nX-A: b\n\n", [200]),
        ("trailing spaces after a value",
         b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-A: b   \r\nX-B: c\t\r\n\r\n",
         [200]),
        ("an empty header value, then another header",
         b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Empty:\r\nX-B: c\r\n\r\n",
         [200]),
        ("a cookie and forty headers",
         b"GET /api/v1/me HTTP/1.1\r\nHost: localhost\r\nCookie: a=b; tbdev_session=x\r\n"
         + b"".join(b"X-H%d: v %d\r\n" % (i, i) for i in range(40)) + b"\r\n", [200]),
        ("two requests on one connection",
         b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
         b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
         [200, 200]),
        ("a chunked body",
         b"POST /api/v1/device/code HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: "
         b"chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", [200]),
    ]
    for label, data, want in fine:
        got, closed, secs = raw(plain, data, quiet=1.0)
        rep.eq(statuses(got), want, "still served: %s" % label, repr(got[:200]))


def busy_thread(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, tls=True, name="onethread", args=[
        "--threads", "1", "--write_threads", "0", "--header_deadline", "2",
        "--conn_timeout", "30", "--quiet"]))
    srv.start()
    tok = srv.add_user("bob")
    # Open (and finish the TLS handshake of) the waiting connection first, while the one
    # thread is free: then it is the thread's, and waits for it.
    waiting = srv.raw_socket(timeout=20)
    lock = L.WriteLock(srv.db).take()
    t0 = time.monotonic()
    write_result = {}

    def write():
        try:
            write_result["r"] = srv.pb_call("POST", "/api/v1/experiments",
                                            L.create_experiment_req("busy"), tok, timeout=30)
        except Exception as e:  # noqa: BLE001
            write_result["e"] = e

    th = threading.Thread(target=write)
    th.start()
    time.sleep(0.5)  # the write holds the thread now, waiting for the lock
    waiting.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    got, closed, secs = L.raw_exchange(waiting, b"", timeout=15)
    waited = time.monotonic() - t0
    lock.release()
    th.join(30)
    waiting.close()
    rep.check(L.parse_status(got) == 200,
              "a request sent in full while the only thread is busy for ~5 s is answered "
              "(--header_deadline 2 measures the client)",
              "got %r after %.1f s" % (got[:80], waited))
    r = write_result.get("r")
    rep.check(r is not None and r.status in (201, 503),
              "the write that held the thread was answered (201, or 503 after the busy "
              "timeout)", repr(write_result))
    # and a trickling client is still cut, by the same server
    s = srv.raw_socket(timeout=10)
    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    t0 = time.monotonic()
    cut = None
    for _ in range(12):
        try:
            s.sendall(b"X")
            s.settimeout(1.0)
            if not s.recv(100):
                cut = time.monotonic() - t0
                break
        except socket.timeout:
            continue
        except OSError:
            cut = time.monotonic() - t0
            break
    s.close()
    rep.check(cut is not None and 1.5 <= cut < 6,
              "a client trickling header bytes is still cut soon after the deadline",
              "cut after %r s" % cut)
    rep.server_healthy(srv, "one-thread server still healthy")
    srv.stop()


def log_escaping(rep, plain):
    for path, raw_bytes in ((b"/api/v1/x%0d%0afake-line%07%1b[31m", b"\r\nfake-line\x07\x1b["),
                            (b"/a%c3%28%ff", b"\xc3(\xff")):
        raw(plain, b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    time.sleep(0.3)
    with open(plain.log_path, "rb") as f:
        log = f.read()
    rep.check(b"\r\nfake-line" not in log and b"\x1b[" not in log and b"\x07" not in log,
              "control characters of a request path are not written raw to the log",
              repr(log[-600:]))
    rep.check(b"/api/v1/x\\x0d\\x0afake-line\\x07\\x1b[31m" in log,
              "... they are written as \\xNN escapes", repr(log[-600:]))
    rep.check(b"/a\\xc3(\\xff" in log, "bytes that are not UTF-8 are escaped too",
              repr(log[-400:]))


def early_status(server, headers, total, results, idx, hold=4.0):
    """Sends the headers of a `total`-byte body and whatever of it the server takes before
    answering; records (status, bytes sent, Retry-After, first bytes)."""
    s = None
    sent = 0
    got = b""
    try:
        s = server.raw_socket(tls=False, timeout=30)
        s.sendall(headers + b"Content-Length: %d\r\n\r\n" % total)
        chunk = b"\0" * (256 << 10)
        s.setblocking(False)
        end = time.monotonic() + 60
        while sent < total - 1 and time.monotonic() < end:
            try:
                b = s.recv(4096)
                if not b:
                    break
                got += b
                if b"\r\n\r\n" in got:
                    break
            except BlockingIOError:
                pass
            try:
                sent += s.send(chunk[:min(len(chunk), total - 1 - sent)])
            except BlockingIOError:
                time.sleep(0.005)
            except OSError:
                break  # the server answered and closed: its answer is still to be read
        s.setblocking(True)
        end = time.monotonic() + hold
        while b"\r\n\r\n" not in got and time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            try:
                b = s.recv(4096)
            except (socket.timeout, OSError):
                break
            if not b:
                break
            got += b
    except OSError:
        pass
    finally:
        if s is not None:
            s.close()
    ra = None
    for line in got.split(b"\r\n"):
        if line.lower().startswith(b"retry-after:"):
            ra = line.split(b":", 1)[1].strip()
    results[idx] = (L.parse_status(got), sent, ra, got[:200])


class Uploader(threading.Thread):
    """A legitimate user writing small groups of scalars, retrying after 503 as tbdev does;
    records every status it got."""

    def __init__(self, server, token, exp, n_groups, run="legit"):
        super().__init__(daemon=True)
        self.server, self.token, self.exp, self.n = server, token, exp, n_groups
        self.run_name = run
        self.statuses = []
        self.error = None
        self.ef = L.EventFile()
        for step in range(n_groups * 10):
            self.ef.add(L.ev_scalar_tf1("loss", step, step * 0.5))

    def run(self):
        try:
            chunks = self.ef.chunks(max(1, (len(self.ef.offsets) + self.n - 1) // self.n))
            for off, data in chunks:
                for _ in range(60):
                    r = self.server.write(self.token, self.exp,
                                          [(self.run_name, "events.out", off, data)])
                    self.statuses.append(r.status)
                    if r.status == 200:
                        break
                    if r.status != 503:
                        raise RuntimeError("write: " + r.short())
                    time.sleep(float(r.header("Retry-After", "1")) / 4)
                time.sleep(0.05)
        except Exception as e:  # noqa: BLE001
            self.error = e

    def points(self):
        series = self.server.scalars(self.exp, "loss", run=self.run_name,
                                     token=self.token).get("series") or [{}]
        return len(series[0].get("points", []))


def unauthenticated_memory(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, tls=False, name="memory", args=[
        "--conns_per_ip", "200", "--quiet"]))
    srv.start()
    tok = srv.add_user("carol")
    exp = srv.create_experiment(tok, "legit")
    pid = srv.proc.pid
    time.sleep(0.5)
    base = rss_kb(pid, "VmHWM")
    total = 31 * MIB
    for label, auth in (("no token", b""),
                        ("a bad token", b"Authorization: Bearer tbdev_" + b"x" * 32 + b"\r\n")):
        up = Uploader(srv, tok, exp, 20, run="legit-" + label.replace(" ", "-"))
        up.start()
        results = [None] * 30
        head = (b"POST /api/v1/experiments/%s/events HTTP/1.1\r\nHost: localhost\r\n"
                % exp.encode() + auth + b"Content-Type: application/x-protobuf\r\n")
        ths = [threading.Thread(target=early_status, args=(srv, head, total, results, i))
               for i in range(30)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(120)
        up.join(120)
        peak = rss_kb(pid, "VmHWM")
        grew = (peak - base) / 1024.0 if peak and base else None
        rep.note("%s: peak RSS %s -> %s KiB (+%.0f MiB)" % (label, base, peak, grew or -1))
        sts = [r[0] if r else None for r in results]
        rep.check(all(s == 401 for s in sts),
                  "30 bodies of 31 MiB with %s: each answered 401 before its body" % label,
                  "statuses %r" % sts)
        sent = [r[1] for r in results if r]
        rep.check(sent and max(sent) < 16 * MIB,
                  "... and the server stopped reading each body early (at most %.1f MiB of "
                  "31 taken)" % (max(sent) / MIB if sent else -1), "sent %r" % sent[:5])
        if under_tsan(exe):
            rep.note("ThreadSanitizer build: peak RSS not checked")
        else:
            rep.check(grew is not None and grew < 64,
                      "30 x 31 MiB with %s: peak RSS grew by %.0f MiB (< 64 MiB)"
                      % (label, grew or -1), "peak %s KiB, base %s KiB" % (peak, base))
        rep.check(up.error is None and all(s == 200 for s in up.statuses) and up.points() == 200,
                  "a legitimate upload alongside (%s): every write 200, all 200 points stored"
                  % label, "error %r, statuses %r" % (up.error, sorted(set(up.statuses))))
    rep.server_healthy(srv, "memory server healthy after the floods")

    # 5. per-route caps, from the headers alone
    results = {}
    cases = [
        ("login", b"POST /api/v1/login HTTP/1.1\r\nHost: localhost\r\n"
         b"Content-Type: application/json\r\n", 64 * 1024, 413),
        ("device code", b"POST /api/v1/device/code HTTP/1.1\r\nHost: localhost\r\n",
         64 * 1024, 413),
        ("device token", b"POST /api/v1/device/token HTTP/1.1\r\nHost: localhost\r\n"
         b"Content-Type: application/x-protobuf\r\n", 64 * 1024, 413),
        ("a GET with a body", b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n", 100, 413),
        ("an unknown route", b"POST /api/v1/nothing HTTP/1.1\r\nHost: localhost\r\n",
         8 * MIB, 404),
        ("a compressed login", b"POST /api/v1/login HTTP/1.1\r\nHost: localhost\r\n"
         b"Content-Type: application/json\r\nContent-Encoding: gzip\r\n", 100, 415),
        ("a compressed body with no token", b"POST /api/v1/experiments/%s/events HTTP/1.1\r\n"
         b"Host: localhost\r\nContent-Encoding: zstd\r\nContent-Type: application/x-protobuf"
         b"\r\n" % exp.encode(), 8 * MIB, 401),
    ]
    for i, (label, head, n, want) in enumerate(cases):
        early_status(srv, head, n, results, i, hold=3)
        st, sent, ra, first = results[i]
        rep.check(st == want and sent < n, "%s of %d bytes: %d before the body" % (label, n, want),
                  "got %r after sending %d bytes: %r" % (st, sent, first))
    login = b'{"user": "carol", "password": "wrong password", "pad": "' + b"p" * 3000 + b'"}'
    r = srv.request("POST", "/api/v1/login", body=login, content_type="application/json")
    rep.status(r, 401, "a 3 KB login body (under the cap) is read and answered 401")
    srv.stop()


def global_cap(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, tls=False, name="cap", args=[
        "--conns_per_ip", "200", "--body_memory", str(64 * MIB), "--body_deadline", "30",
        "--quiet"]))
    srv.start()
    tok = srv.add_user("dave")
    exp = srv.create_experiment(tok, "cap")
    pid = srv.proc.pid
    time.sleep(0.5)
    base = rss_kb(pid, "VmHWM")
    total = 31 * MIB
    head = (b"POST /api/v1/experiments/%s/events HTTP/1.1\r\nHost: localhost\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/x-protobuf\r\n"
            % (exp.encode(), tok.encode()))
    results = [None] * 12
    ths = []
    for i in range(12):
        t = threading.Thread(target=early_status, args=(srv, head, total, results, i, 8.0))
        t.start()
        ths.append(t)
        time.sleep(0.05)
    time.sleep(2.0)
    up = Uploader(srv, tok, exp, 10)
    up.start()
    for t in ths:
        t.join(120)
    up.join(120)
    peak = rss_kb(pid, "VmHWM")
    grew = (peak - base) / 1024.0 if peak and base else None
    rep.note("12 x 31 MiB held, --body_memory 64 MiB: peak RSS %s -> %s KiB (+%.0f MiB)"
             % (base, peak, grew or -1))
    refused = [r for r in results if r and r[0] == 503]
    rep.check(len(refused) >= 10,
              "12 authenticated 31 MiB bodies with --body_memory 64 MiB: at least 10 get 503",
              "results %r" % [(r[0], r[1]) if r else None for r in results])
    rep.check(all(r[2] and r[1] < 16 * MIB for r in refused),
              "... each 503 with Retry-After, before its body", repr(refused[:2]))
    if under_tsan(exe):
        rep.note("ThreadSanitizer build: peak RSS not checked")
    else:
        rep.check(grew is not None and grew < 64 + 64,
                  "peak RSS grew by %.0f MiB (< the 64 MiB cap + 64 MiB)" % (grew or -1),
                  "peak %s KiB, base %s KiB" % (peak, base))
    rep.check(up.error is None and up.points() == 100,
              "a legitimate uploader retrying after 503 stores all 100 points",
              "error %r, statuses %r" % (up.error, up.statuses))
    rep.server_healthy(srv, "cap server healthy")
    srv.stop()


def main(rep, exe, tmp):
    plain = rep.watch(L.Server(exe, tmp, tls=False, name="plain"))
    plain.start()
    smuggling(rep, plain)
    log_escaping(rep, plain)
    rep.server_healthy(plain, "plain server healthy after the framing attacks")
    plain.stop()
    busy_thread(rep, exe, tmp)
    unauthenticated_memory(rep, exe, tmp)
    global_cap(rep, exe, tmp)


if __name__ == "__main__":
    L.run_main("hostile HTTP clients", main)
