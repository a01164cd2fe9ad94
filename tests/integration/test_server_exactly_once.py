#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: tbdev-server stores every uploaded record exactly once.

Usage:  test_server_exactly_once.py PATH/TO/tbdev-server [SEED]
        (TBDEV_TEST_BACKEND=postgresql runs it on a PostgreSQL cluster of its own)

  - the same write request twice: the second is a REPLAY and changes nothing; the same
    group from 8 threads at once is committed once;
  - out of order: a group past the cursor is refused with 409 "gap" and Error.cursor says
    where the server is; then in order it goes in;
  - gaps on a new file and inside a file, a request mixing a good group and a gap (nothing
    of it is stored), a request mixing a replay and a new group, a group that overlaps the
    cursor, end_offset (records left out);
  - kill -9 of the server in the middle of a stream of requests from two clients, several
    times, restarting it on the same database; the clients resume from the cursors (and
    resend one group they already had acknowledged); at the end every point is there once:
    counted with /scalars?points=all, steps checked one by one, usage compared with a clean
    upload of the same files, and `tbdev-server check` says integrity_check: ok.

Output: "ok - NAME" / "not ok - NAME: WHY". Exit 0 if all pass, 1 otherwise, 77 to skip.
"""

import http.client
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402
import scale_lib  # noqa: E402

E = "/api/v1/experiments"


def scalar_file(tags, steps, value_fn):
    ef = L.EventFile()
    for s in steps:
        ef.add(L.ev_scalars_tf1(s, [(t, value_fn(t, s)) for t in tags]))
    return ef


def series_points(srv, token, eid, tag, run):
    """All stored points of (run, tag), restarts kept: [(step, value)]."""
    j = srv.get_json("%s/%s/scalars?tag=%s&run=%s&points=all&restarts=keep"
                     % (E, eid, L.quote(tag), L.quote(run)), token=token)
    ser = j.get("series", [])
    if not ser:
        return []
    return [(p[1], p[2]) for p in ser[0]["points"]]


def usage(srv, token, eid):
    for x in srv.get_json(E, token=token).get("experiments", []):
        if x["id"] == eid:
            return x["usage"]
    return None


def tag_points(srv, token, eid):
    j = srv.get_json(E + "/" + eid + "/tags", token=token)
    return {(t["run"], t["tag"]): t["points"] for t in j.get("tags", [])}


def body(rep, exe, tmp):
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(1 << 30)
    rep.note("seed %d (pass it as the second argument to repeat this run)" % seed)
    rnd = random.Random(seed)
    be = scale_lib.backend()  # TBDEV_TEST_BACKEND=postgresql: the same checks on PostgreSQL
    rep.note("backend: %s" % be.kind)
    srv = rep.watch(be.server(exe, tmp, name="once"))
    srv.start()
    alice = srv.add_user("alice")

    # ------------------------------------------------------------------------------------
    # The same request twice; the same group from 8 threads.
    eid = srv.create_experiment(alice, "replays")
    f1 = scalar_file(["loss"], range(30), lambda t, s: float(s))
    g = f1.chunks(10)  # [file_version + steps 0..8], [9..18], [19..28], [29]
    bounds = [o for o, _ in g] + [len(f1)]
    run, fname = "train", "events.out.tfevents.1"

    def send(groups, experiment=None):
        return srv.write(alice, experiment or eid, groups)

    r = send([(run, fname, g[0][0], g[0][1])])
    res = r.pb("WriteEventsResponse")["results"] if r.status == 200 else []
    rep.check(r.status == 200 and len(res) == 1 and res[0]["status"] == L.COMMITTED
              and res[0]["cursor"] == bounds[1] and res[0]["values"] == 9,
              "first send: COMMITTED, cursor at the group's end, 9 values", r.short()
              + repr(res))
    r = send([(run, fname, g[0][0], g[0][1])])
    res = r.pb("WriteEventsResponse")["results"] if r.status == 200 else []
    rep.check(r.status == 200 and len(res) == 1 and res[0]["status"] == L.REPLAY
              and res[0]["cursor"] == bounds[1] and res[0]["values"] == 9,
              "the same request again: REPLAY, same cursor, and the 9 values the first send "
              "stored (so a client whose answer was lost counts them once)",
              r.short() + repr(res))
    pts = series_points(srv, alice, eid, "loss", run)
    rep.eq([p[0] for p in pts], list(range(9)), "after the replay: 9 points, no duplicates")
    rep.eq(tag_points(srv, alice, eid).get((run, "loss")), 9,
           "after the replay: the series' point count is unchanged")
    rep.eq((usage(srv, alice, eid) or {}).get("scalars"), 9,
           "after the replay: usage.scalars unchanged")

    # the next group from 8 threads at once: committed exactly once
    outcomes = []
    lock = threading.Lock()

    def racer():
        try:
            rr = send([(run, fname, g[1][0], g[1][1])])
            st = [x["status"] for x in rr.pb("WriteEventsResponse")["results"]] \
                if rr.status == 200 else rr.status
        except Exception as e:  # noqa: BLE001
            st = repr(e)
        with lock:
            outcomes.append(st)

    threads = [threading.Thread(target=racer, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    committed = sum(1 for o in outcomes if o == [L.COMMITTED])
    replays = sum(1 for o in outcomes if o == [L.REPLAY])
    rep.check(committed == 1 and replays == 7,
              "the same group from 8 threads at once: 1 COMMITTED, 7 REPLAY", repr(outcomes))
    pts = series_points(srv, alice, eid, "loss", run)
    rep.eq([p[0] for p in pts], list(range(19)), "after the race: steps 0..18 once each")

    # ------------------------------------------------------------------------------------
    # Out of order: the fourth group before the third.
    r = send([(run, fname, g[3][0], g[3][1])])
    err = r.pb("Error") if r.content_type.startswith(L.PROTOBUF) else {}
    rep.status(r, 409, "a group past the cursor: 409")
    rep.eq((err.get("code"), err.get("cursor"), err.get("run"), err.get("file")),
           ("gap", bounds[2], run, fname), "409 gap: Error.code, cursor, run and file")
    rep.check(str(bounds[2]) in err.get("message", ""), "409 gap: the message says the offset",
              err.get("message", ""))
    rep.eq(len(series_points(srv, alice, eid, "loss", run)), 19, "after the 409: nothing stored")
    rep.eq(srv.cursors(alice, eid).get((run, fname)), bounds[2],
           "after the 409: the cursor did not move")
    r = send([(run, fname, g[2][0], g[2][1])])
    rep.status(r, 200, "then the third group: 200")
    r = send([(run, fname, g[3][0], g[3][1])])
    res = r.pb("WriteEventsResponse")["results"] if r.status == 200 else []
    rep.check(r.status == 200 and res and res[0]["status"] == L.COMMITTED
              and res[0]["cursor"] == len(f1), "then the fourth: COMMITTED, cursor at the end",
              r.short() + repr(res))
    pts = series_points(srv, alice, eid, "loss", run)
    rep.eq([p[0] for p in pts], list(range(30)), "in order after the gap: steps 0..29 once each")
    rep.check(all(v == float(s) for s, v in pts), "in order after the gap: values exact",
              repr(pts[:5]))

    # ------------------------------------------------------------------------------------
    # Gaps.
    f2 = scalar_file(["acc"], range(20), lambda t, s: s / 4.0)
    g2 = f2.chunks(6)  # 4 groups
    r = send([(run, "events.out.tfevents.2", 100, g2[0][1])])
    err = r.pb("Error") if r.content_type.startswith(L.PROTOBUF) else {}
    rep.check(r.status == 409 and err.get("code") == "gap" and err.get("cursor") == 0,
              "a new file starting at offset 100: 409 gap with cursor 0", r.short())
    r = send([(run, fname, len(f1) + 5, g2[1][1])])
    err = r.pb("Error") if r.content_type.startswith(L.PROTOBUF) else {}
    rep.check(r.status == 409 and err.get("cursor") == len(f1),
              "a group 5 bytes past the end of a file: 409 with the file's cursor", r.short())
    r = send([(run, "events.out.tfevents.2", 0, g2[0][1]),
              ("other", "events.out.tfevents.3", 64, g2[1][1])])
    rep.status(r, 409, "a request with a good group and a gap: 409")
    cur = srv.cursors(alice, eid)
    rep.check((run, "events.out.tfevents.2") not in cur and ("other", "events.out.tfevents.3")
              not in cur, "a request with a gap: its good group is not stored either", repr(cur))
    rep.eq(series_points(srv, alice, eid, "acc", run), [],
           "a request with a gap: no points of its good group")
    j = srv.get_json(E + "/" + eid + "/runs", token=alice)
    rep.eq([x["name"] for x in j.get("runs", [])], [run],
           "a request with a gap: no run created for it")

    # two groups of one file in one request, in order
    r = send([(run, "events.out.tfevents.2", g2[0][0], g2[0][1]),
              (run, "events.out.tfevents.2", g2[1][0], g2[1][1])])
    res = r.pb("WriteEventsResponse")["results"] if r.status == 200 else []
    rep.check(r.status == 200 and [x["status"] for x in res] == [L.COMMITTED, L.COMMITTED]
              and res[1]["cursor"] == g2[2][0],
              "two consecutive groups of one file in one request: both COMMITTED",
              r.short() + repr(res))
    # in the wrong order within one request: the first is a gap, nothing is stored
    r = send([(run, "events.out.tfevents.2", g2[3][0], g2[3][1]),
              (run, "events.out.tfevents.2", g2[2][0], g2[2][1])])
    rep.status(r, 409, "two groups of one file in the wrong order in one request: 409")
    rep.eq(srv.cursors(alice, eid).get((run, "events.out.tfevents.2")), g2[2][0],
           "... and the cursor did not move")
    # a replay and a new group in one request
    r = send([(run, fname, g[1][0], g[1][1]),
              (run, "events.out.tfevents.2", g2[2][0], g2[2][1]),
              (run, "events.out.tfevents.2", g2[3][0], g2[3][1])])
    res = r.pb("WriteEventsResponse")["results"] if r.status == 200 else []
    rep.check(r.status == 200 and [x["status"] for x in res] == [L.REPLAY, L.COMMITTED,
                                                                  L.COMMITTED]
              and res[0]["cursor"] == len(f1) and res[2]["cursor"] == len(f2),
              "a replay and new groups in one request: REPLAY, COMMITTED, COMMITTED",
              r.short() + repr(res))
    pts = series_points(srv, alice, eid, "acc", run)
    rep.eq([p[0] for p in pts], list(range(20)), "file 2: steps 0..19 once each")
    rep.eq(len(series_points(srv, alice, eid, "loss", run)), 30, "file 1: still 30 points")

    # a group that starts below the cursor and ends past it
    f4 = scalar_file(["ov"], range(30), lambda t, s: float(-s))
    g4 = f4.chunks(10)
    b4 = [o for o, _ in g4] + [len(f4)]
    send([(run, "events.out.tfevents.4", 0, g4[0][1])])
    r = send([(run, "events.out.tfevents.4", 0, bytes(f4.data[:b4[2]]))])
    res = r.pb("WriteEventsResponse")["results"] if r.status == 200 else []
    rep.check(r.status in (200, 400, 409) and (r.status != 200 or (
        res and res[0]["cursor"] == b4[1])),
        "a group overlapping the cursor: not acknowledged past the committed offset",
        "%s %r (committed offset %d, group end %d)" % (r.short(), res, b4[1], b4[2]))
    for i in range(1, len(g4)):
        send([(run, "events.out.tfevents.4", g4[i][0], g4[i][1])])
    pts = series_points(srv, alice, eid, "ov", run)
    rep.eq([p[0] for p in pts], list(range(30)),
           "after an overlapping group, resending from the cursor: steps 0..29 once each")

    # usage after all that equals a clean upload of the same files
    ctl = srv.create_experiment(alice, "control")
    for fn, ef in (("events.out.tfevents.1", f1), ("events.out.tfevents.2", f2),
                   ("events.out.tfevents.4", f4)):
        srv.upload_file(alice, ctl, run, fn, ef)
    u, uc = usage(srv, alice, eid), usage(srv, alice, ctl)
    # bytes are what is stored, which depends on how the points were split into requests
    # (scalar chunks): each is compared with a recount of the database instead
    rep.eq(dict(u, bytes=0), dict(uc, bytes=0),
           "usage after replays, gaps and overlaps equals a clean upload's")
    rep.eq((u["bytes"], uc["bytes"]), (srv.stored_bytes(eid), srv.stored_bytes(ctl)),
           "usage.bytes after replays, gaps and overlaps is what is stored",
           "replayed bytes must not be counted (nor charged to the quota)")
    rep.eq(tag_points(srv, alice, eid), tag_points(srv, alice, ctl),
           "per-series point counts equal a clean upload's")

    # end_offset: records left out, the cursor still counts the original file
    ex = srv.create_experiment(alice, "end_offset")
    f5 = scalar_file(["k"], range(10), lambda t, s: 1.0)
    b5 = f5.boundaries()
    kept = bytes(f5.data[b5[0]:b5[3]])  # records 0..2 sent, 3..5 left out
    r = srv.write(alice, ex, [L.record_group(run, "f5", 0, kept, b5[6])])
    res = r.pb("WriteEventsResponse")["results"] if r.status == 200 else []
    rep.check(r.status == 200 and res and res[0]["cursor"] == b5[6],
              "end_offset: the cursor is end_offset", r.short() + repr(res))
    r = srv.write(alice, ex, [(run, "f5", b5[6], bytes(f5.data[b5[6]:]))])
    rep.status(r, 200, "end_offset: the next group starts at end_offset")
    pts = series_points(srv, alice, ex, "k", run)
    rep.eq([p[0] for p in pts], [0, 1] + list(range(5, 10)),
           "end_offset: the records sent are stored, once")
    r = srv.write(alice, ex, [L.record_group(run, "f6", 0, kept, 5)])
    rep.status(r, 400, "end_offset before the end of the records: 400")

    # ------------------------------------------------------------------------------------
    # kill -9 in the middle of two streams of requests, several times.
    steps = 1200
    per_group = 20
    files = []  # (run, file name, EventFile, tags)
    for ri, rn in enumerate(("r0", "r1")):
        for fi, fn in enumerate(("events.out.tfevents.A", "events.out.tfevents.B")):
            tags = ["a%d%d" % (ri, fi), "b%d%d" % (ri, fi)]
            ef = scalar_file(tags, range(steps),
                             lambda t, s, k=ri * 2 + fi: s * 10.0 + k + (0.5 if t[0] == "b"
                                                                         else 0.0))
            files.append((rn, fn, ef, tags))
    chunks = {(rn, fn): ef.chunks(per_group) for rn, fn, ef, _ in files}
    file_len = {(rn, fn): len(ef) for rn, fn, ef, _ in files}
    n_groups = len(next(iter(chunks.values())))
    chaos = srv.create_experiment(alice, "chaos")
    problems = []
    plock = threading.Lock()

    def problem(msg):
        with plock:
            problems.append(msg)

    def stream(run_name, resend_one, stats):
        mine = [(rn, fn) for rn, fn, _, _ in files if rn == run_name]
        try:
            cur = srv.cursors(alice, chaos)
        except Exception as e:  # noqa: BLE001 - the server was killed: this round is over
            stats["error"] = repr(e)
            return
        nxt = {}
        for key in mine:
            b = [o for o, _ in chunks[key]] + [file_len[key]]
            c = cur.get(key, 0)
            if c not in b:
                problem("round start: cursor %d of %s is not at a group boundary" % (c, key))
                return
            i = b.index(c)
            nxt[key] = max(0, i - 1) if (resend_one and i > 0) else i
            stats.setdefault("resent", 0)
            stats["resent"] += 1 if (resend_one and i > 0) else 0
        while any(nxt[k] < n_groups for k in mine):
            groups = []
            keys = []
            for k in mine:
                if nxt[k] < n_groups:
                    off, data = chunks[k][nxt[k]]
                    groups.append((k[0], k[1], off, data))
                    keys.append(k)
            try:
                r = srv.write(alice, chaos, groups, timeout=30)
            except (OSError, http.client.HTTPException) as e:
                stats["error"] = repr(e)
                return
            if r.status != 200:
                problem("%s: %s" % (run_name, r.short()))
                return
            res = r.pb("WriteEventsResponse")["results"]
            for k, x in zip(keys, res):
                off, data = chunks[k][nxt[k]]
                if x["status"] not in (L.COMMITTED, L.REPLAY) or x["cursor"] < off + len(data):
                    problem("%s: group at %d: %r" % (k, off, x))
                if x["status"] == L.REPLAY:
                    stats["replays"] = stats.get("replays", 0) + 1
                nxt[k] += 1
            stats["requests"] = stats.get("requests", 0) + 1

    # calibrate: how long does a request take here?
    cal = srv.create_experiment(alice, "calibration")
    t0 = time.monotonic()  # after the experiment is made: a request's time, not a create's
    for i in range(5):
        off, data = chunks[("r0", "events.out.tfevents.A")][i]
        srv.write_ok(alice, cal, [("r0", "events.out.tfevents.A", off, data),
                                  ("r0", "events.out.tfevents.B", off, data)])
    per_req = (time.monotonic() - t0) / 5
    rep.note("a 2-group request takes %.1f ms here" % (per_req * 1e3))

    kills = 5
    partial_kills = 0
    total_groups = n_groups * len(files)
    for rnd_i in range(kills + 1):
        if rnd_i > 0:
            srv.start()
        cur_before = srv.cursors(alice, chaos)
        done_before = sum(
            [o for o, _ in chunks[k]].index(c) if c < file_len[k] else n_groups
            for k, c in cur_before.items() if c in [o for o, _ in chunks[k]] + [file_len[k]])
        stats = [{}, {}]
        th = [threading.Thread(target=stream, args=("r%d" % i, rnd_i > 0, stats[i]),
                               daemon=True) for i in range(2)]
        for t in th:
            t.start()
        if rnd_i < kills:
            remaining = max(1, (total_groups - done_before) / 4)  # requests per thread
            delay = rnd.uniform(0.15, 0.85) * remaining * per_req
            time.sleep(delay)
            srv.kill9()
        for t in th:
            t.join(120)
        if any(t.is_alive() for t in th):
            problem("round %d: a client thread hung" % rnd_i)
        if rnd_i < kills:
            rc, out, err = srv.check()
            rep.check(rc == 0 and "integrity_check: ok" in out,
                      "after kill -9 number %d: tbdev-server check says ok" % (rnd_i + 1),
                      out + err)
            srv.start()
            cur = srv.cursors(alice, chaos)
            done = 0
            for k, c in cur.items():
                b = [o for o, _ in chunks[k]] + [file_len[k]]
                if c not in b:
                    problem("after kill %d: cursor %d of %s is not at a group boundary"
                            % (rnd_i + 1, c, k))
                else:
                    done += b.index(c)
            if 0 < done < total_groups:
                partial_kills += 1
            rep.note("kill -9 number %d after %.2f s: %d of %d groups committed; requests %s"
                     % (rnd_i + 1, delay, done, total_groups,
                        [s.get("requests", 0) for s in stats]))
            srv.stop()
        else:
            rep.note("final round: requests %s, replays %s"
                     % ([s.get("requests", 0) for s in stats],
                        [s.get("replays", 0) for s in stats]))
    rep.check(not problems, "kill -9 rounds: every answer COMMITTED or REPLAY, cursors at "
              "group boundaries", " | ".join(problems[:5]))
    rep.check(partial_kills >= 2, "kill -9 landed in the middle of the upload at least twice",
              "only %d of %d kills left the upload partly done (too fast a machine?)"
              % (partial_kills, kills))

    cur = srv.cursors(alice, chaos)
    rep.eq(cur, {(rn, fn): len(ef) for rn, fn, ef, _ in files},
           "after the kills: every file's cursor is at its end")
    bad = []
    for rn, fn, ef, tags in files:
        k = int(tags[0][1]) * 2 + int(tags[0][2])
        for t in tags:
            pts = series_points(srv, alice, chaos, t, rn)
            want = [(s, s * 10.0 + k + (0.5 if t[0] == "b" else 0.0)) for s in range(steps)]
            if pts != want:
                steps_got = [p[0] for p in pts]
                bad.append("%s/%s: %d points, %d distinct steps, first difference at %r"
                           % (rn, t, len(pts), len(set(steps_got)),
                              next(((a, b) for a, b in zip(pts, want) if a != b), None)))
    rep.check(not bad, "after the kills: every point once, with its value (points=all)",
              " | ".join(bad[:4]))
    ctl2 = srv.create_experiment(alice, "chaos control")
    for rn, fn, ef, _ in files:
        srv.upload_file(alice, ctl2, rn, fn, ef)
    rep.eq(tag_points(srv, alice, chaos), tag_points(srv, alice, ctl2),
           "after the kills: per-series point counts equal a clean upload's")
    uk, uk2 = usage(srv, alice, chaos), usage(srv, alice, ctl2)
    rep.eq(dict(uk, bytes=0), dict(uk2, bytes=0), "after the kills: usage equals a clean upload's")
    rep.eq((uk["bytes"], uk2["bytes"]), (srv.stored_bytes(chaos), srv.stored_bytes(ctl2)),
           "after the kills: usage.bytes is what is stored")
    me = srv.get_json("/api/v1/me", token=alice)
    total = sum(x["usage"]["bytes"] for x in srv.get_json(E, token=alice)["experiments"])
    rep.eq(me.get("used_bytes"), total, "the user's used_bytes is the sum of the experiments'")
    rc, out, err = srv.check()
    rep.check(rc == 0 and "integrity_check: ok" in out, "tbdev-server check: integrity_check: ok",
              out + err)
    rep.server_healthy(srv, "server alive and clean at the end")


if __name__ == "__main__":
    L.run_main("tbdev-server exactly once", body)
