#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: SQLite contention past the busy timeout becomes 503 + Retry-After.
(TBDEV_TEST_BACKEND=postgres: the same on PostgreSQL, where this process holds LOCK TABLE
experiments IN EXCLUSIVE MODE and the server's lock_timeout is the busy timeout.)

Usage:  test_busy.py TBDEV_EXE TBDEV_SERVER_EXE

"No client ever sees SQLITE_BUSY: when the server must wait too long, it answers 503 with
Retry-After." A real tbdev-server (HTTPS on 127.0.0.1, throwaway certificate, a real SQLite
file) runs with its default 5 s busy timeout, and this process takes SQLite's write lock on
the server's database (Python's sqlite3, BEGIN IMMEDIATE) for longer than that:

(a) a write-events POST (protobuf answer) and a DELETE of a run (JSON answer) answer 503
    after ~5 s (>= 4 s, and before the lock is let go) with an integer Retry-After, error
    code "busy", a message a person can act on, and no SQLite wording ("SQLITE_BUSY",
    "database is locked", "(5)");
(b) reads keep working meanwhile (WAL): GET experiment, runs, scalars answer 200 quickly;
(c) nothing of the refused body is stored (cursor and points unchanged), and the same
    request goes through once the lock is released;
(d) a real `tbdev upload --one_shot` started while the lock is held retries (its stderr
    says so, without SQLite wording) and exits 0 after the release; `tbdev export` equals
    the source point for point (nothing lost, nothing twice);
(e) a lock held for 1 s (under the busy timeout): the write just waits and answers 200.

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0, 1, or 77 (no openssl). TBDEV_KEEP_TMP=1
keeps the temporary folder.
"""

import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import server_lib as S  # noqa: E402
import test_upload_faults as F  # noqa: E402  (Logdir, compare_export)
import uploader_lib as L  # noqa: E402

BUSY_TIMEOUT_S = 5.0   # service/main.c: busy_timeout_ms = 5000
HOLD_S = 7.0           # longer than the busy timeout
LEAKS = (b"SQLITE_BUSY", b"database is locked", b"(5)", b"SQLITE_LOCKED", b"sqlite",
         b"canceling statement", b"lock timeout", b"postgres", b"55P03")


WriteLock = S.WriteLock  # SQLite: BEGIN IMMEDIATE; PostgreSQL: LOCK TABLE experiments


def in_thread(fn):
    """Starts fn in a thread; returns a dict that gets 'value' or 'error' and 'done' (the
    monotonic time it finished), and the thread."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except Exception as e:  # noqa: BLE001
            box["error"] = e
        box["done"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return box, t


def leaks(body):
    low = body.lower()
    return [s.decode() for s in LEAKS if s.lower() in low]


def busy_answer_problems(r, done, released_at):
    """What is wrong with r (finished at monotonic time done) as the answer to a write
    refused because the database is busy (the lock was let go at released_at)."""
    probs = []
    if r.status != 503:
        probs.append("status %d, want 503: %s" % (r.status, r.short(300)))
    ra = r.header("Retry-After")
    if ra is None or not ra.strip().isdigit() or not 1 <= int(ra) <= 60:
        probs.append("Retry-After %r, want integer seconds 1-60" % ra)
    e = r.error()
    if e.get("code") != "busy":
        probs.append("error code %r, want 'busy'" % e.get("code"))
    msg = e.get("message", "")
    if not re.search(r"busy", msg, re.I) or not re.search(r"retry|try again", msg, re.I):
        probs.append("message %r does not say the server is busy and to retry" % msg)
    bad = leaks(r.body)
    if bad:
        probs.append("body leaks SQLite wording %s: %s" % (bad, r.short(300)))
    if r.elapsed < BUSY_TIMEOUT_S - 1.0:
        probs.append("answered after %.2f s, before the busy timeout (%.0f s)" % (
            r.elapsed, BUSY_TIMEOUT_S))
    if r.elapsed > 2 * BUSY_TIMEOUT_S:
        probs.append("answered after %.2f s, much later than the busy timeout" % r.elapsed)
    if done >= released_at:
        probs.append("answered only after the lock was released (%.2f s later)" % (
            done - released_at))
    return probs


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE\n" % argv[0])
        return 2
    tbdev, server_exe = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    rep = L.Reporter()
    if not L.check_exes(rep, tbdev, server_exe):
        return rep.finish()
    tmp = L.make_tempdir("tbdev-busy-")
    srv = None
    t_start = time.monotonic()
    try:
        srv = S.Server(server_exe, tmp, name="busy")
        srv.start()
        tk = srv.add_user("alice")
        eid = srv.create_experiment(tk, "busy")
        base = "/api/v1/experiments/" + eid

        # Data to read while the lock is held, and the next chunk to be refused.
        first = S.EventFile()
        for i in range(100):
            first.add(S.ev_scalar_tf1("loss", i, 1.0 / (1 + i)))
        second = S.EventFile(file_version=False)
        for i in range(100, 150):
            second.add(S.ev_scalar_tf1("loss", i, 1.0 / (1 + i)))
        third = S.EventFile(file_version=False)
        for i in range(150, 160):
            third.add(S.ev_scalar_tf1("loss", i, 1.0 / (1 + i)))
        srv.write_ok(tk, eid, [("train", "f", 0, bytes(first.data))])
        srv.write_ok(tk, eid, [("scratch", "f", 0, bytes(first.data))])
        n_first = len(srv.scalars(eid, "loss", "train", token=tk)["series"][0]["points"])

        # --- (a)-(c): a lock held past the busy timeout --------------------------------
        lock = WriteLock(srv.db).take()
        try:
            locked = S.write_locked(srv.db)
            rep.check("the test holds the write lock on the server's database",
                      None if locked else "a second writer got through")
            w_pb, t_pb = in_thread(lambda: srv.write(
                tk, eid, [("train", "f", len(first), bytes(second.data))], timeout=60))
            # Both at once: writes run on the server's write threads, each waiting out the
            # busy timeout on its own (not 2 x 5 s one after the other), while the connection
            # threads go on serving reads.
            w_js, t_js = in_thread(lambda: srv.request(
                "DELETE", base + "/runs?run=scratch", token=tk, timeout=60))
            time.sleep(0.3)  # the write is waiting in the server now
            for what, path in (("experiment", base), ("runs", base + "/runs"),
                               ("scalars", base + "/scalars?tag=loss&run=train&points=all"),
                               ("cursors", base + "/cursors")):
                r = srv.get(path, token=tk, timeout=30)
                ok = r.status == 200 and r.elapsed < 2.0 and not leaks(r.body)
                if what == "scalars" and ok:
                    ok = len(r.json()["series"][0]["points"]) == n_first
                rep.check("(b) GET %s during the lock: 200 at once (WAL readers are not "
                          "blocked)" % what,
                          None if ok else "%s after %.2f s (lock held %.1f s)" % (
                              r.short(200), r.elapsed, lock.held()))
            while lock.held() < HOLD_S:
                time.sleep(0.05)
        finally:
            released = lock.release()
            t_released = time.monotonic()
        rep.note("lock held %.2f s" % released)
        t_pb.join(60)
        t_js.join(60)
        for label, box in (("POST events, protobuf", w_pb), ("DELETE run, JSON", w_js)):
            if "error" in box or "value" not in box:
                rep.check("(a) %s during the lock: 503 busy" % label,
                          "no answer: %r" % box.get("error", "still waiting"))
                continue
            r = box["value"]
            rep.note("(a) %s answered %d after %.2f s: Retry-After %s, %s: %r" % (
                label, r.status, r.elapsed, r.header("Retry-After"), r.content_type,
                r.error().get("message")))
            probs = busy_answer_problems(r, box["done"], t_released)
            want_type = S.PROTOBUF if "protobuf" in label else "application/json"
            if not r.content_type.startswith(want_type):
                probs.append("Content-Type %r, want %s" % (r.content_type, want_type))
            if r.elapsed > BUSY_TIMEOUT_S + 3:
                probs.append("answered after %.1f s: two writes waited one after the other"
                             % r.elapsed)
            rep.check("(a) %s during the lock: 503 after the %.0f s busy "
                      "timeout, integer Retry-After, code busy, an actionable message, no "
                      "SQLite wording" % (label, BUSY_TIMEOUT_S), "; ".join(probs))

        # (c) nothing of the refused bodies was stored; the same requests go through now
        cur = srv.cursors(tk, eid)
        rep.check("(c) after a 503: nothing stored (cursors unchanged, the run not deleted)",
                  None if cur.get(("train", "f")) == len(first)
                  and cur.get(("scratch", "f")) == len(first) else
                  "cursors %r, want %d" % (cur, len(first)))
        n = len(srv.scalars(eid, "loss", "train", token=tk)["series"][0]["points"])
        rep.check("(c) after a 503: no points stored", None if n == n_first else
                  "%d points, want %d" % (n, n_first))
        r = srv.write(tk, eid, [("train", "f", len(first), bytes(second.data))])
        rep.check("(c) the refused request, sent again after the release: 200",
                  None if r.status == 200 else r.short(300))
        n = len(srv.scalars(eid, "loss", "train", token=tk)["series"][0]["points"])
        rep.check("(c) after the retry: every point once", None if n == 150 else
                  "%d points, want 150" % n)

        # --- (e): a lock shorter than the busy timeout: the write waits, then succeeds ------
        lock = WriteLock(srv.db).take()
        try:
            w, t = in_thread(lambda: srv.write(
                tk, eid, [("train", "f", len(first) + len(second), bytes(third.data))],
                timeout=60))
            while lock.held() < 1.0:
                time.sleep(0.02)
        finally:
            released = lock.release()
        t.join(30)
        r = w.get("value")
        rep.check("(e) a 1 s lock (under the busy timeout): the write waits and answers 200",
                  None if r is not None and r.status == 200 and r.elapsed >= 0.7 else
                  "%s" % ("%s after %.2f s (lock held %.2f s)" % (r.short(300), r.elapsed,
                                                                   released)
                          if r is not None else repr(w.get("error", "no answer"))))
        cur = srv.cursors(tk, eid).get(("train", "f"))
        want = len(first) + len(second) + len(third)
        rep.check("(e) the waited-for write is stored once", None if cur == want else
                  "cursor %r, want %d" % (cur, want))

        # --- (d): a real uploader started while the lock is held ---------------------------
        logdir = F.Logdir(os.path.join(tmp, "logdir"), 2, 1234)
        logdir.add(2000)
        client = L.Client(tbdev, os.path.join(tmp, "home"), url=srv.url.rstrip("/"),
                          token=tk, cacert=srv.cert)
        out_p = os.path.join(tmp, "upload.out")
        err_p = os.path.join(tmp, "upload.err")
        # The experiment exists already, so that the lock meets the uploader's event
        # writes (a retried batch must be stored exactly once).
        exp2 = srv.create_experiment(tk, "busy upload")
        lock = WriteLock(srv.db).take()
        up = None
        try:
            up = client.popen(["upload", "--logdir", logdir.root, "--one_shot",
                               "--experiment_id", exp2], out_p, err_p)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and up.poll() is None:
                if lock.held() >= HOLD_S and "retrying" in L.tail_text(err_p, 1 << 20):
                    break
                time.sleep(0.05)
        finally:
            released = lock.release()
        err = L.tail_text(err_p, 1 << 20)
        retry_lines = [ln for ln in err.splitlines() if "retrying" in ln]
        rep.note("(d) lock held %.2f s; uploader: %s" % (released, L.short(retry_lines, 3)))
        rep.check("(d) the uploader, blocked by the lock, says its event writes are retried",
                  None if any("storing the events" in ln for ln in retry_lines) else
                  "stderr: %s" % err[-600:])
        try:
            rc = up.wait(180)
        except Exception:  # noqa: BLE001
            up.kill()
            up.wait()
            rc = "still running 180 s after the release"
        err = L.tail_text(err_p, 1 << 20)
        rep.check("(d) the uploader exits 0 after the release",
                  None if rc == 0 else "exit %s: %s" % (rc, err[-600:]))
        bad = leaks(err.encode())
        rep.check("(d) the uploader's messages carry no SQLite wording",
                  "%s in: %s" % (bad, L.short(retry_lines, 3)) if bad else None)
        m = re.search(r"(\d+) runs, (\d+) files, (\d+) values", err)
        rep.check("(d) the uploader's summary counts every value once",
                  None if m and int(m.group(3)) == logdir.n_points() else
                  "summary %r, want %d values" % (m.group(0) if m else None,
                                                  logdir.n_points()))
        api = L.Api(srv.url.rstrip("/"), tk, srv.cert)
        F.compare_export(rep, "(d) upload through a busy database", client, exp2, logdir,
                         tmp, api)

        # --- the server afterwards ------------------------------------------------------
        rep.check("the server still answers /api/v1/health", None if srv.health() else
                  "log: " + srv.log_tail(10))
        rc = srv.stop()
        rep.check("the server shuts down cleanly on SIGTERM", None if rc == 0 else
                  "exit %s; log: %s" % (rc, srv.log_tail(10)))
        rc, out, err = srv.check()
        rep.check("tbdev-server check: integrity ok", None if rc == 0 and
                  "integrity_check: ok" in out else "exit %s: %s %s" % (rc, out[-300:],
                                                                        err[-300:]))
        probs = srv.log_problems()
        rep.check("no sanitizer or crash reports in the server's log",
                  " | ".join(probs[:5]) if probs else None)
        leaked = [ln for ln in srv.log_text().splitlines() if "SQLITE_BUSY" in ln]
        rep.note("server log: %d lines; %d mention SQLITE_BUSY (the log may)" % (
            len(srv.log_text().splitlines()), len(leaked)))

        # --- (f) one connection thread: a waiting write does not hold up reads -----------
        # With --threads 1 every connection shares one thread. Writes run on write threads,
        # so while one waits out the busy timeout, reads are still answered at once.
        srv1 = S.Server(server_exe, tmp, args=["--threads", "1"], name="busy1")
        srv1.start()
        try:
            tk1 = srv1.add_user("bob")
            eid1 = srv1.create_experiment(tk1, "busy1")
            lock = WriteLock(srv1.db).take()
            try:
                w, t = in_thread(lambda: srv1.write(
                    tk1, eid1, [("train", "f", 0, bytes(first.data))], timeout=60))
                time.sleep(0.3)
                slow = []
                for i in range(3):
                    r = srv1.get("/api/v1/experiments/" + eid1, token=tk1, timeout=30)
                    if r.status != 200 or r.elapsed > 1.0:
                        slow.append("%d after %.2f s" % (r.status, r.elapsed))
                rep.check("(f) --threads 1: reads during a write's busy wait are answered at "
                          "once", "; ".join(slow) if slow else None)
                t.join(30)
            finally:
                lock.release()
            r = w.get("value")
            rep.check("(f) ... and the write gets its 503 busy",
                      None if r is not None and r.status == 503 else
                      "got %r" % (r.short(200) if r is not None else w.get("error")))
        finally:
            srv1.stop()

        # --- (g) a bounded queue: with one write thread (64 may wait), 80 writes at once ------
        # The first waits in the busy timeout, 64 wait for it, the rest get 503 at once.
        srv2 = S.Server(server_exe, tmp, args=["--write_threads", "1", "--conns_per_ip", "200"],
                        name="busy2")
        srv2.start()
        try:
            tk2 = srv2.add_user("carol")
            eid2 = srv2.create_experiment(tk2, "busy2")
            lock = WriteLock(srv2.db).take()
            try:
                boxes = []
                for i in range(80):
                    boxes.append(in_thread(lambda i=i: srv2.write(
                        tk2, eid2, [("r%d" % i, "f", 0, bytes(first.data))], timeout=120)))
                    time.sleep(0.005)
                time.sleep(1.0)
                quick = [b for b, _ in boxes if "value" in b]
            finally:
                lock.release()
            for _, t in boxes:
                t.join(120)
            statuses = sorted(b["value"].status for b, _ in boxes if "value" in b)
            full = [b["value"] for b in quick if b["value"].status == 503]
            rep.note("(g) %d answered within 1 s of the burst; statuses after the release: %s" % (
                len(quick), {s_: statuses.count(s_) for s_ in set(statuses)}))
            rep.check("(g) 80 writes, one write thread, lock held: over 64 waiting, 503 at once "
                      "with Retry-After and a message",
                      None if len(full) >= 10 and all(
                          r.header("Retry-After") and "too many writes" in
                          (r.error().get("message") or "") for r in full) else
                      "%d quick 503s: %s" % (len(full), full[0].short(200) if full else quick))
            rep.check("(g) every write is answered (200, or 503 to retry), none lost in the queue",
                      None if len(statuses) == 80 and set(statuses) <= {200, 503} else
                      "statuses %r, errors %r" % (statuses, [b.get("error") for b, _ in boxes
                                                             if "error" in b][:3]))
        finally:
            srv2.stop()
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("test harness", "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        if srv is not None and srv.alive():
            srv.kill()
        rep.note("total %.1f s" % (time.monotonic() - t_start))
        L.finish_tmp(rep, tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
