#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: stored data is as hostile as a request body (issue 12, BAD-INPUTS 45-48).

Usage:  test_stored_data.py PATH/TO/tbdev-server

Anything a write stored may be read back by anyone with the link, on every later request. Each
attack below is made through the real upload path, or written straight into the server's
SQLite file (or PostgreSQL database) as an older server (or a hand) would have stored it; then
every read route is asked, signed out. The server must stay up and answer, memory must stay
bounded (VmHWM from /proc/PID/status), and the legitimate data stored alongside must come back
whole.

  1. nesting: hparams session_start_info values of 40 and 5,000 nested ListValues and
     100,000 nested Struct values (1.4 MB), uploaded and stored directly; a custom-scalars
     layout that is not one; blob metadata that is not JSON.
  2. expansion: a 70-byte record whose tensor asks TensorFlow's fill rule for 4 MB; the
     quota charges what is stored; tensor and histogram answers are paged (followed to the
     end, equal to what was uploaded) and 4 concurrent reads of big tensors stay small.
  3. run deletion: a deleted run's images and audio are no longer served, and its quota is
     given back (a blob another run still shows stays).
  4. many small things: 100,000 empty groups with long file names cost quota; listing an
     experiment of 10,000 series with 12 KB of plugin content each does not load it.
  5. a PATCH that fails half-way changes nothing; CSV fields starting with a tab or CR are
     guarded; an answer past --answer_bytes is a 413 error, never a truncated 200.

Output: "ok - NAME" / "not ok - NAME: WHY". Exit 0 if all pass, 1 otherwise, 77 to skip.
"""

import json
import os
import random
import sqlite3
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402

E = "/api/v1/experiments"
PAGE = 4 << 20  # TB_READ_PAGE_BYTES
FILL_MAX = 1 << 20  # TB_TENSOR_FILL_MAX


def without_quarantine():
    """Under AddressSanitizer freed memory waits in a quarantine (256 MB by default) before it
    is reused, so a process's peak RSS measures how much it allocated over time, not how much
    it held at once. Servers whose memory is measured start with none (the environment is read
    when a server starts)."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    if "quarantine_size_mb" not in opts:
        os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=0"


class AnonPeak:
    """Samples a process's anonymous memory (RssAnon: its heap and stacks) every 5 ms; peak is
    the largest sample, in kB. VmHWM would count the database file's pages too, which SQLite
    maps into memory (PRAGMA mmap_size) and the kernel may drop at any time."""

    def __init__(self, pid):
        self.pid, self.peak, self.start = pid, 0, proc_kb(pid, "RssAnon")
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            v = proc_kb(self.pid, "RssAnon") or 0
            self.peak = max(self.peak, v)
            time.sleep(0.005)

    def stop(self):
        self._stop = True
        self._t.join()
        return self.peak - self.start


def proc_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


# ---------------------------------------------------------------------------
# Nested messages, written outside in from lengths computed inside out (building them by
# concatenation would copy megabytes 100,000 times).

def nest(layers, core):
    """layers, outermost first: (head, field): the message is head + field{inner}."""
    lens = [len(core)]
    for head, field in reversed(layers):
        inner = lens[-1]
        lens.append(len(head) + len(L.pkey(field, 2)) + len(L.varint(inner)) + inner)
    lens.reverse()  # lens[i]: the content of layer i (lens[-1] is the core)
    out = bytearray()
    for i, (head, field) in enumerate(layers):
        out += head + L.pkey(field, 2) + L.varint(lens[i + 1])
    out += core
    assert len(out) == lens[0]
    return bytes(out)


NUMBER = L.f_double(2, 1.5)  # hparams Value{number_value: 1.5}


def list_layers(levels):
    # Value{list_value = 6: ListValue{values = 1: Value{...}}}
    return [(b"", 6), (b"", 1)] * levels


def struct_layers(levels):
    # Value{struct_value = 5: Struct{fields = 1: entry{key = "", value = 2: Value{...}}}}
    return [(b"", 5), (b"", 1), (L.f_str(1, ""), 2)] * levels


def session_content(value_layers, key="lr"):
    """HParamsPluginData{session_start_info = 3{hparams = 1{key, value = 2: Value}}}"""
    return nest([(b"", 3), (b"", 1), (L.f_str(1, key), 2)] + value_layers, NUMBER)


def hp_event(tag, content, step=0):
    return L.ev_hparams(tag, content, step)


# ---------------------------------------------------------------------------
# Writing into the database directly, as an older server would have stored it.

class DB:
    def __init__(self, path):
        self.con = sqlite3.connect(path, timeout=30, isolation_level=None)

    def close(self):
        self.con.close()

    def begin(self):
        self.con.execute("BEGIN")

    def commit(self):
        self.con.execute("COMMIT")

    def run_id(self, exp, run):
        row = self.con.execute("SELECT id FROM runs WHERE experiment_id = ? AND name = ?",
                               (exp, run)).fetchone()
        if row:
            return row[0]
        return self.con.execute("INSERT INTO runs(experiment_id, name) VALUES(?, ?)",
                                (exp, run)).lastrowid

    def series(self, exp, run, tag, plugin, content=b"", kind=2, dtype=7, description=""):
        """A series row with its plugin content (in series_content since schema 3)."""
        rid = self.run_id(exp, run)
        cols = [r[1] for r in self.con.execute("PRAGMA table_info(series)")]
        if "plugin_content" in cols:  # an older schema
            return self.con.execute(
                "INSERT INTO series(run_id, tag, plugin, plugin_content, display_name, "
                " description, data_class, kind, source, dtype)"
                " VALUES(?, ?, ?, ?, '', ?, 2, ?, 5, ?)",
                (rid, tag, plugin, content, description, kind, dtype)).lastrowid
        sid = self.con.execute(
            "INSERT INTO series(run_id, tag, plugin, display_name, description, data_class,"
            " kind, source, dtype) VALUES(?, ?, ?, '', ?, 2, ?, 5, ?)",
            (rid, tag, plugin, description, kind, dtype)).lastrowid
        if content:
            self.con.execute("INSERT INTO series_content(series_id, content) VALUES(?, ?)",
                             (sid, content))
        return sid

    def seq(self):
        v = self.con.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
        self.con.execute("UPDATE counters SET value = ? WHERE name = 'seq'", (v + 1,))
        return v

    def bump(self, sid, step):
        self.con.execute("UPDATE series SET points = points + 1, min_step = min(coalesce(min_step,"
                         " ?1), ?1), max_step = max(coalesce(max_step, ?1), ?1) WHERE id = ?2",
                         (step, sid))

    def tensor(self, sid, step, dtype, shape, data, value_pb=b""):
        self.con.execute("INSERT INTO tensors(series_id, seq, step, wall_time, dtype, shape, data,"
                         " value_pb) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                         (sid, self.seq(), step, L.WALL0 + step, dtype, shape, data, value_pb))
        self.bump(sid, step)

    def blob_point(self, sid, step, meta, shas, value_pb=b""):
        self.con.execute("INSERT INTO blob_points(series_id, seq, step, wall_time, meta, shas,"
                         " value_pb) VALUES(?, ?, ?, ?, ?, ?, ?)",
                         (sid, self.seq(), step, L.WALL0 + step, meta, shas, value_pb))
        self.bump(sid, step)

    def scalars(self, sid, points):
        data = b"".join(struct.pack("<qdd", s, L.WALL0 + s, v) for s, v in points)
        first, last = data[:24], data[-24:]
        vals = sorted(points, key=lambda p: p[1])
        mn = struct.pack("<qdd", vals[0][0], L.WALL0 + vals[0][0], vals[0][1])
        mx = struct.pack("<qdd", vals[-1][0], L.WALL0 + vals[-1][0], vals[-1][1])
        steps = [s for s, _ in points]
        self.con.execute("INSERT INTO scalar_chunks(series_id, seq, n, min_step, max_step, sorted,"
                         " summary, data) VALUES(?, ?, ?, ?, ?, 1, ?, ?)",
                         (sid, self.seq(), len(points), min(steps), max(steps),
                          first + mn + mx + last, data))
        self.con.execute("UPDATE series SET points = points + ?, min_step = ?, max_step = ?"
                         " WHERE id = ?", (len(points), min(steps), max(steps), sid))


def pg_lit(v):
    """A PostgreSQL literal for v (bytes as bytea, a long run of one byte compactly)."""
    if v is None:
        return "NULL"
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v)
        if len(v) > 64 and v == v[:1] * len(v):
            return "decode(repeat('%s', %d), 'hex')" % (v[:1].hex(), len(v))
        return "'\\x%s'::bytea" % v.hex()
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


class PgDB(DB):
    """DB on PostgreSQL: the same rows, written by one psql script at close() (ids chosen here,
    the id sequences moved past them; seqs from the server's own sequence). close() also
    charges them to their runs, experiments and users, as PostgreSQL's `tbdev-server check`
    compares those counters with the rows (SQLite's checks the file only)."""

    def __init__(self, url):
        self.url = url
        self.sql = []
        self.runs = {(e, n): int(i) for i, e, n in
                     L.db_query(url, "SELECT id, experiment_id, name FROM runs")}
        self.next_run = int(L.db_query(url, "SELECT coalesce(max(id), 0) FROM runs")[0][0]) + 1
        self.next_series = int(L.db_query(url, "SELECT coalesce(max(id), 0) FROM series")[0][0]) + 1
        self.series_run = {}  # series id -> (experiment, run id)

    def ins(self, table, cols, vals):
        self.sql.append("INSERT INTO %s(%s) VALUES(%s);" % (table, ", ".join(cols),
                                                            ", ".join(map(pg_lit, vals))))

    def run_id(self, exp, run):
        if (exp, run) not in self.runs:
            self.runs[(exp, run)] = self.next_run
            self.ins("runs", ("id", "experiment_id", "name"), (self.next_run, exp, run))
            self.next_run += 1
        return self.runs[(exp, run)]

    def series(self, exp, run, tag, plugin, content=b"", kind=2, dtype=7, description=""):
        rid = self.run_id(exp, run)
        sid = self.next_series
        self.next_series += 1
        self.series_run[sid] = (exp, rid)
        self.ins("series", ("id", "run_id", "tag", "plugin", "display_name", "description",
                            "data_class", "kind", "source", "dtype"),
                 (sid, rid, tag, plugin, "", description, 2, kind, 5, dtype))
        if content:
            self.ins("series_content", ("series_id", "content"), (sid, content))
        return sid

    def bump(self, sid, step):
        self.sql.append("UPDATE series SET points = points + 1, min_step = least(min_step, %d),"
                        " max_step = greatest(max_step, %d) WHERE id = %d;" % (step, step, sid))

    def tensor(self, sid, step, dtype, shape, data, value_pb=b""):
        self.sql.append("INSERT INTO tensors(series_id, seq, step, wall_time, dtype, shape, data,"
                        " value_pb) VALUES(%d, nextval('seqs'), %d, %r, %d, %s, %s, %s);"
                        % (sid, step, L.WALL0 + step, dtype, pg_lit(shape), pg_lit(data),
                           pg_lit(value_pb)))
        self.bump(sid, step)

    def blob_point(self, sid, step, meta, shas, value_pb=b""):
        self.sql.append("INSERT INTO blob_points(series_id, seq, step, wall_time, meta, shas,"
                        " value_pb) VALUES(%d, nextval('seqs'), %d, %r, %s, %s, %s);"
                        % (sid, step, L.WALL0 + step, pg_lit(meta), pg_lit(shas),
                           pg_lit(value_pb)))
        self.bump(sid, step)

    def scalars(self, sid, points):
        data = b"".join(struct.pack("<qdd", s, L.WALL0 + s, v) for s, v in points)
        first, last = data[:24], data[-24:]
        vals = sorted(points, key=lambda p: p[1])
        mn = struct.pack("<qdd", vals[0][0], L.WALL0 + vals[0][0], vals[0][1])
        mx = struct.pack("<qdd", vals[-1][0], L.WALL0 + vals[-1][0], vals[-1][1])
        steps = [s for s, _ in points]
        self.sql.append("INSERT INTO scalar_chunks(series_id, seq, n, min_step, max_step, sorted,"
                        " summary, data) VALUES(%d, nextval('seqs'), %d, %d, %d, 1, %s, %s);"
                        % (sid, len(points), min(steps), max(steps),
                           pg_lit(first + mn + mx + last), pg_lit(data)))
        self.sql.append("UPDATE series SET points = points + %d, min_step = %d, max_step = %d"
                        " WHERE id = %d;" % (len(points), min(steps), max(steps), sid))
        self.sql.append("UPDATE experiments SET n_scalars = n_scalars + %d WHERE id = %s;"
                        % (len(points), pg_lit(self.series_run[sid][0])))

    def begin(self):
        pass

    def commit(self):
        pass

    def close(self):
        self.sql.append("SELECT setval('runs_id_seq', %d); SELECT setval('series_id_seq', %d);"
                        % (self.next_run, self.next_series))
        touched = sorted({rid for _, rid in self.series_run.values()})
        if touched:
            import scale_lib
            self.sql.append(
                "CREATE TEMP TABLE d AS SELECT r.id, r.experiment_id, %s - r.bytes AS delta"
                " FROM runs r WHERE r.id IN (%s);"
                "UPDATE runs SET bytes = bytes + d.delta FROM d WHERE runs.id = d.id;"
                "UPDATE experiments SET bytes = experiments.bytes + x.delta FROM (SELECT"
                " experiment_id, sum(delta) AS delta FROM d GROUP BY 1) x"
                " WHERE experiments.id = x.experiment_id;"
                "UPDATE users SET used_bytes = users.used_bytes + x.delta FROM (SELECT"
                " e.owner_id, sum(d.delta) AS delta FROM d JOIN experiments e"
                " ON e.id = d.experiment_id GROUP BY 1) x WHERE users.id = x.owner_id;"
                "DROP TABLE d;" % (scale_lib.PG_RUN_BYTES.format(r=L.STORED_ROW_BYTES),
                                   ", ".join(map(str, touched))))
        p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-1", "-d",
                            self.url, "-f", "-"], input="\n".join(self.sql).encode(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600,
                           env=L.clean_env())
        if p.returncode != 0:
            raise L.ServerError("psql: " + p.stderr.decode("utf-8", "replace")[-500:])
        self.sql = []


def open_db(db):
    """DB on the server's SQLite file, or PgDB on its PostgreSQL database."""
    return PgDB(db) if db.startswith("postgresql://") else DB(db)


def strings_data(strs):
    return b"".join(struct.pack("<I", len(s)) + s for s in strs)


# ---------------------------------------------------------------------------
# Every read route, signed out.

def read_everything(rep, srv, exp, label, max_pages=3, expect_tags=None):
    """GETs every read route of exp (every tag of every run, blobs, exports), signed out.
    Returns a list of what was wrong (empty when every answer was well-formed and not 5xx)."""
    bad = []
    base = E + "/" + exp

    def get(path, want_json=True):
        try:
            r = srv.get(path, timeout=120)
        except Exception as e:  # noqa: BLE001
            bad.append("%s: %s: %s" % (path[:120], type(e).__name__, e))
            return None
        if r.status >= 500 or r.status not in (200, 400, 404, 413):
            bad.append("%s: %s" % (path[:120], r.short(150)))
            return None
        if want_json and r.content_type.startswith("application/json"):
            try:
                return r.json()
            except ValueError as e:
                bad.append("%s: %d but not JSON (%s)" % (path[:120], r.status, e))
                return None
        return r

    get(base)
    runs = get(base + "/runs") or {}
    tags = (get(base + "/tags") or {}).get("tags", [])
    if expect_tags is not None and len(tags) < expect_tags:
        bad.append("/tags lists %d series, want at least %d" % (len(tags), expect_tags))
    for t in tags:
        q = "?tag=%s&run=%s" % (L.quote(t["tag"]), L.quote(t["run"]))
        if t["kind"] == "scalar":
            get(base + "/scalars" + q)
            get(base + "/scalars" + q + "&format=csv", want_json=False)
            continue
        routes = ["blobs"] if t["kind"] == "blob_sequence" else \
            ["tensors", "histograms", "text", "pr_curves"]
        for route in routes:
            path = base + "/" + route + q + "&points=all"
            for _ in range(max_pages):
                j = get(path)
                if not isinstance(j, dict):
                    break
                if route == "blobs":
                    for s in j.get("series", []):
                        for p in s.get("points", []):
                            for b in p.get("blobs", [])[:3]:
                                get(b["url"], want_json=False)
                tok = j.get("next_page_token")
                if not tok:
                    break
                path = base + "/" + route + q + "&points=all&page_token=" + L.quote(tok)
    get(base + "/hparams")
    get(base + "/custom_scalars")
    for r in runs.get("runs", []):
        get(base + "/export?run=" + L.quote(r["name"]), want_json=False)
    e = get(base) or {}
    if e.get("owner"):
        get("/api/v1/users/%s/experiments" % L.quote(e["owner"]))
    if not srv.alive():
        bad.append("the server died (exit %s): %s" % (srv.proc.returncode if srv.proc else "?",
                                                      srv.log_tail(6)))
        # started again, so that the rest of the test still says what else is wrong
        srv.kill9()
        srv.start()
    rep.check(not bad, "%s: every read route answers, signed out" % label, " | ".join(bad[:6]))
    return bad


def problems_of(resp):
    out = []
    for g in resp.get("results", []):
        out += g.get("problems", [])
    return out


def body(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, name="data"))
    srv.start()
    alice = srv.add_user("alice")
    bob = srv.add_user("bob")

    # ---------------------------------------------------------------------------------
    # The legitimate data: two hparams sessions, a layout, text, a tensor, scalars, images.
    exp = srv.create_experiment(alice, "kept", "", L.PUBLIC)
    good = L.EventFile()
    good.add(hp_event("_hparams_/experiment", L.hp_experiment([("lr", (0.0, 1.0))],
                                                               [("", "loss")])))
    good.add(hp_event("_hparams_/session_start_info", L.hp_session_start({"lr": 0.1})))
    for i in range(5):
        good.add(L.ev_scalar_tf1("loss", i, 1.0 - i / 10))
    good.add(L.ev_custom_scalars(L.custom_scalars_layout([("cat", [("chart", ["loss"])])])))
    good.add(L.ev_text_tf2("note", 0, "*kept*"))
    png = L.make_png()
    good.add(L.ev_image_tf1("img", 0, png, 2, 2))
    srv.upload_file(alice, exp, "good", "events.out.tfevents.good", good)
    good2 = L.EventFile()
    good2.add(hp_event("_hparams_/session_start_info", L.hp_session_start({"lr": 0.2})))
    good2.add(L.ev_scalar_tf1("loss", 0, 0.5))
    srv.upload_file(alice, exp, "good2", "events.out.tfevents.good2", good2)

    def intact(label):
        why = []
        try:
            h = srv.get_json(E + "/" + exp + "/hparams")
            sessions = {s["run"]: s["hparams"] for s in h.get("sessions", [])}
            if sessions.get("good") != {"lr": 0.1} or sessions.get("good2") != {"lr": 0.2}:
                why.append("hparams sessions %r" % (sessions,))
            if [x["name"] for x in h.get("hparam_infos", [])] != ["lr"]:
                why.append("hparam_infos %r" % h.get("hparam_infos"))
            cs = srv.get_json(E + "/" + exp + "/custom_scalars")
            if [c["title"] for c in cs.get("categories", [])] != ["cat"]:
                why.append("custom_scalars %r" % cs)
            pts = srv.scalars(exp, "loss", "good")["series"][0]["points"]
            if [p[1] for p in pts] != list(range(5)):
                why.append("scalars %r" % pts)
            t = srv.get_json(E + "/" + exp + "/text?tag=note&run=good")
            if "<em>kept</em>" not in t["series"][0]["points"][0]["html"]:
                why.append("text %r" % t)
            r = srv.get(E + "/" + exp + "/blob/" + L.sha256_hex(png))
            if r.status != 200 or r.body != png:
                why.append("image: " + r.short(80))
        except Exception as e:  # noqa: BLE001
            why.append("%s: %s; log: %s" % (type(e).__name__, e, srv.log_tail(6)))
        if not srv.alive():  # started again: the rest of the test still says what is wrong
            srv.kill9()
            srv.start()
        return rep.check(not why, "after %s: the legitimate data reads back whole" % label,
                         "; ".join(why))

    intact("the upload")
    read_everything(rep, srv, exp, "the legitimate experiment", expect_tags=8)

    # ---------------------------------------------------------------------------------
    # 1. Nesting, through the upload path: refused at ingest with a problem, the rest kept.
    for label, layers in (("40 nested ListValues", list_layers(40)),
                          ("5,000 nested ListValues", list_layers(5000)),
                          ("100,000 nested Struct values", struct_layers(100000))):
        content = session_content(layers)
        ef = L.EventFile()
        ef.add(L.event_pb(L.WALL0, 0, summary=L.summary_pb([
            L.value_pb("_hparams_/session_start_info", L.metadata_pb("hparams", content),
                       tensor=L.tensor_pb(L.DT_STRING, (), string_val=[b""])),
            L.value_pb("alongside", simple=7.0)])))
        run = "evil %s" % label.split()[0]
        r = srv.write(alice, exp, [(run, "events.out.tfevents.x", 0, bytes(ef.data))])
        res = r.pb("WriteEventsResponse") if r.status == 200 else {}
        probs = problems_of(res)
        g = (res.get("results") or [{}])[0]
        rep.check(r.status == 200 and g.get("dropped") == 1 and g.get("values") == 1 and
                  any("nests messages more than 32 levels" in p for p in probs),
                  "upload of hparams with %s (%d bytes): that value refused with a problem, the "
                  "scalar beside it stored" % (label, len(content)),
                  "%s %r" % (r.short(200), res))
        pts = srv.scalars(exp, "alongside", run)["series"]
        rep.eq([p[2] for p in pts[0]["points"]] if pts else None, [7.0],
               "%s: the scalar in the same record reads back" % label)
        read_everything(rep, srv, exp, "after uploading %s" % label)
        intact("uploading " + label)

    # A custom-scalars layout that is not a Layout: refused at ingest.
    ef = L.EventFile()
    ef.add(L.ev_custom_scalars(b"\x12\x7f\x00"))
    r = srv.write(alice, exp, [("evil layout", "events.out.tfevents.x", 0, bytes(ef.data))])
    probs = problems_of(r.pb("WriteEventsResponse")) if r.status == 200 else []
    rep.check(any("custom-scalars layout cannot be read" in p for p in probs),
              "a custom-scalars layout that does not decode: refused at ingest with a problem",
              r.short(300))

    # The same shapes stored directly, as an older server would have (it checked nothing).
    db = open_db(srv.db)
    hwm0 = proc_kb(srv.proc.pid, "VmHWM")
    for label, content in (("5,000 nested ListValues", session_content(list_layers(5000))),
                           ("100,000 nested Structs", session_content(struct_layers(100000))),
                           ("40 nested ListValues", session_content(list_layers(40))),
                           ("bytes that are not protobuf", b"\x1a\xff\xff\xff\xff\x0f")):
        sid = db.series(exp, "stored " + label, "_hparams_/session_start_info", "hparams",
                        content)
        db.tensor(sid, 0, L.DT_STRING, "[]", strings_data([b""]))
    deep_md = ("> " * 20000 + "x\n") * 5 + "[" * 50000 + "*" * 50000
    sid = db.series(exp, "stored junk", "layout", "custom_scalars")
    db.tensor(sid, 0, L.DT_STRING, "[]", strings_data([b"\x12\x05\x0a\x03ab"]))
    sid = db.series(exp, "stored junk", "md", "text")
    db.tensor(sid, 0, L.DT_STRING, "[]", strings_data([deep_md.encode()]))
    sid = db.series(exp, "stored junk", "img", "images", kind=3, dtype=0)
    db.blob_point(sid, 0, '{"width": [[[[', bytes(32), value_pb=session_content(list_layers(3000)))
    db.blob_point(sid, 1, "not json at all", b"")
    sid = db.series(exp, "stored junk", "tensor", "custom", dtype=1)
    db.tensor(sid, 0, 1, "[3]", b"\0\0\x80\x3f" * 2 + b"\0")  # not a whole number of floats
    db.tensor(sid, 1, 7, "[2]", b"\xff\xff\xff\xff")  # a string longer than the row
    db.close()
    t0 = time.monotonic()
    read_everything(rep, srv, exp, "after storing hostile data directly")
    dt = time.monotonic() - t0
    h = srv.get_json(E + "/" + exp + "/hparams")
    runs = sorted(s["run"] for s in h["sessions"])
    rep.eq(runs, ["good", "good2"], "GET hparams: the stored hostile sessions are left out, the "
           "legitimate ones kept")
    r = srv.get(E + "/" + exp + "/blobs?tag=img&run=stored%20junk")
    metas = [p["meta"] for s in r.json()["series"] for p in s["points"]] if r.status == 200 \
        else None
    rep.eq(metas, [{}, {}], "blob metadata stored as broken JSON is answered as {}")
    hwm1 = proc_kb(srv.proc.pid, "VmHWM")
    rep.note("reading every route over the stored hostile data: %.1f s, VmHWM %d -> %d MB"
             % (dt, hwm0 >> 10, hwm1 >> 10))
    rep.check(hwm1 - hwm0 < 200 << 10, "memory stays bounded reading stored hostile data "
              "(VmHWM grew %d MB)" % ((hwm1 - hwm0) >> 10), "")
    intact("storing hostile data directly")

    # ---------------------------------------------------------------------------------
    # 2. Expansion: a 70-byte record asking for 4 MB is refused, the value beside it kept.
    ex = srv.create_experiment(alice, "expansion", "", L.PUBLIC)
    t = L.tensor_pb(L.DT_FLOAT, (1000000,), float_val=[1.5])
    rec = L.event_pb(L.WALL0, 1, summary=L.summary_pb([
        L.value_pb("fill", L.metadata_pb("custom"), tensor=t), L.value_pb("s", simple=2.0)]))
    rep.note("the fill record is %d bytes" % len(rec))
    ef = L.EventFile(file_version=False)
    for i in range(10):
        ef.add(rec)
    r = srv.write(alice, ex, [("r", "events.out.tfevents.f", 0, bytes(ef.data))])
    res = r.pb("WriteEventsResponse") if r.status == 200 else {}
    probs = problems_of(res)
    g = (res.get("results") or [{}])[0]
    rep.check(r.status == 200 and g.get("dropped") == 10 and g.get("values") == 10 and probs and
              "filling its shape of 1000000 elements" in probs[0] and "past the limits" in probs[0],
              "ten 70-byte records asking TensorFlow's fill rule for 4 MB each: each tensor "
              "refused with a problem saying so, the scalars beside them kept", repr(res)[:600])
    u = srv.experiment_json(ex, token=alice)["usage"]
    rep.check(u["bytes"] < 20000 and u["tensors"] == 0 and u["scalars"] == 10,
              "the refused expansions stored nothing (usage %d bytes)" % u["bytes"], repr(u))
    # A fill within the limits is kept, and charged what it expanded to.
    t = L.tensor_pb(L.DT_FLOAT, (200,), float_val=[0.25])
    ef = L.EventFile(file_version=False)
    ef.add(L.event_pb(L.WALL0, 2, summary=L.summary_pb([
        L.value_pb("small fill", L.metadata_pb("custom"), tensor=t)])))
    srv.write_ok(alice, ex, [("r", "events.out.tfevents.g", 0, bytes(ef.data))])
    j = srv.get_json(E + "/" + ex + "/tensors?tag=small%20fill")
    rep.eq(j["series"][0]["points"][0]["values"], [0.25] * 200,
           "a fill within the limits (800 bytes from one value) is kept")
    # The quota charges what is stored: a 100 kB tensor is stored twice (its values, and the
    # original value for export), and charged that, with every row.
    content = random.Random(1).randbytes(100000)
    ef = L.EventFile(file_version=False)
    ef.add(L.event_pb(L.WALL0, 3, summary=L.summary_pb([
        L.value_pb("raw", L.metadata_pb("custom"),
                   tensor=L.tensor_pb(4, (100000,), content=content))])))  # DT_UINT8
    before = srv.experiment_json(ex, token=alice)["usage"]["bytes"]
    srv.write_ok(alice, ex, [("r", "events.out.tfevents.h", 0, bytes(ef.data))])
    after = srv.experiment_json(ex, token=alice)["usage"]["bytes"]
    rep.check(after - before >= 200000, "a 100 kB tensor (record %d bytes) is charged what is "
              "stored: %d bytes" % (len(ef.data), after - before), "")
    rep.eq(after, srv.stored_bytes(ex), "the experiment's usage equals a recount of what the "
           "database holds for it")
    me = srv.get_json("/api/v1/me", token=alice)
    total = sum(x["usage"]["bytes"] for x in srv.get_json(E, token=alice)["experiments"])
    rep.eq(me.get("used_bytes"), total, "the user's used_bytes is the sum of the experiments'")

    # Paging: three rows of 1M random floats, and a histogram of 200,000 buckets.
    rnd = random.Random(7)
    rows = []
    for step in range(3):
        vals = struct.unpack("<1000000f", rnd.randbytes(4000000))
        vals = [v if v == v and abs(v) != float("inf") else 0.0 for v in vals]  # no NaN/inf
        rows.append(vals)
        ef = L.EventFile(file_version=False)
        ef.add(L.event_pb(L.WALL0 + step, step, summary=L.summary_pb([
            L.value_pb("big", L.metadata_pb("custom"),
                       tensor=L.tensor_pb(L.DT_FLOAT, (1000000,),
                                          content=struct.pack("<1000000f", *vals)))])))
        off = srv.cursors(alice, ex).get(("big", "events.out.tfevents.b"), 0)
        srv.write_ok(alice, ex, [("big", "events.out.tfevents.b", off, bytes(ef.data))])
    nb = 400000
    edges = [float(i) for i in range(1, nb + 1)]
    counts = [float(i % 7) for i in range(nb)]
    ef = L.EventFile(file_version=False)
    ef.add(L.ev_histo_tf1("h", 0, edges, counts))
    srv.write_ok(alice, ex, [("big", "events.out.tfevents.hist", 0, bytes(ef.data))])

    def first_difference(got, want):
        """Where two lists of rows of numbers first differ, as text."""
        for r, (g, w) in enumerate(zip(got, want)):
            for i, (a, b) in enumerate(zip(g, w)):
                if a != float(b):
                    return "row %d element %d: %r, not %r" % (r, i, a, float(b))
        return "none"

    def follow(path, limit=None):
        """All pages of a paged answer: (series points merged by row, page sizes)."""
        sizes, points = [], []
        url = path
        for _ in range(10000):
            r = srv.get(url, timeout=300)
            if r.status != 200:
                raise L.ServerError("GET %s: %s" % (url[:200], r.short()))
            sizes.append(len(r.body))
            j = r.json()
            for s in j["series"]:
                for p in s["points"]:
                    if p.get("offset"):
                        key = "values" if "values" in p else "buckets"
                        points[-1][key] += p[key]
                    else:
                        points.append(p)
            tok = j.get("next_page_token")
            if not tok:
                return points, sizes
            url = path + "&page_token=" + L.quote(tok)
        raise L.ServerError("more than 10000 pages")

    t0 = time.monotonic()
    pts, sizes = follow(E + "/" + ex + "/tensors?tag=big&run=big&points=all")
    rep.note("3 x 1M floats: %d pages in %.1f s, largest %d bytes"
             % (len(sizes), time.monotonic() - t0, max(sizes)))
    rep.check(len(sizes) >= 6 and max(sizes) <= PAGE,
              "tensor answers are paged: %d pages, each at most 4 MiB" % len(sizes),
              "page sizes %r" % sizes[:10])
    got = [p["values"] for p in pts]
    rep.check(len(got) == 3 and all(g == [float(v) for v in w] for g, w in zip(got, rows)),
              "the pages, joined, hold every value of the three rows exactly",
              "%d rows, lengths %r; first difference %s"
              % (len(got), [len(g) for g in got], first_difference(got, rows)))
    pts, sizes = follow(E + "/" + ex + "/histograms?tag=h&run=big&points=all")
    buckets = pts[0]["buckets"] if pts else []
    want = [[edges[0] - 1.0 if i == 0 else edges[i - 1], edges[i], counts[i]] for i in range(nb)]
    rep.check(len(sizes) >= 2 and max(sizes) <= PAGE and buckets == want,
              "a histogram of 400,000 buckets: %d pages of at most 4 MiB, joined exactly"
              % len(sizes), "sizes %r, %d buckets" % (sizes, len(buckets)))
    # small pages: every cut position, joined, equals the whole
    whole, _ = follow(E + "/" + ex + "/tensors?tag=small%20fill&run=r&points=all")
    small, sizes = follow(E + "/" + ex + "/tensors?tag=small%20fill&run=r&points=all"
                          "&page_bytes=4096")
    rep.check(small == whole, "page_bytes=4096: pages joined equal the whole answer (%d pages)"
              % len(sizes), "")
    r = srv.get(E + "/" + ex + "/tensors?tag=big&page_token=1.2.3")
    rep.status(r, 400, "a malformed page_token: 400")
    r = srv.get(E + "/" + ex + "/tensors?tag=big&page_token=999999.0.0.0")
    rep.status(r, 400, "a page_token of another series: 400")
    srv.stop()

    # 4 concurrent reads of the big tensors, on a fresh process: memory stays small.
    without_quarantine()
    srv.start()
    hwm0 = proc_kb(srv.proc.pid, "VmHWM")
    anon = AnonPeak(srv.proc.pid)
    errs = []

    def reader():
        try:
            p, _ = follow(E + "/" + ex + "/tensors?tag=big&run=big&points=all")
            if len(p) != 3:
                errs.append("%d rows" % len(p))
        except Exception as e:  # noqa: BLE001
            errs.append(repr(e))
    th = [threading.Thread(target=reader) for _ in range(4)]
    t0 = time.monotonic()
    for x in th:
        x.start()
    for x in th:
        x.join(600)
    grew = anon.stop()
    hwm1 = proc_kb(srv.proc.pid, "VmHWM")
    rep.note("4 concurrent paged reads of 3 x 1M floats: %.1f s, RssAnon peak +%d MB, VmHWM "
             "%d -> %d MB (with the database's mapped pages)"
             % (time.monotonic() - t0, grew >> 10, hwm0 >> 10, hwm1 >> 10))
    rep.check(not errs and grew < 150 << 10,
              "4 concurrent reads of big tensors: anonymous memory grew %d MB at most (< 150)"
              % (grew >> 10), "; ".join(errs))

    # ---------------------------------------------------------------------------------
    # 3. Deleting a run: its blobs are no longer served and its quota comes back.
    de = srv.create_experiment(alice, "deletion", "", L.PUBLIC)
    img_a, img_b, shared = L.make_png(3, 3, (1, 2, 3)), L.make_png(4, 4), L.make_png(5, 5)
    wav = L.make_wav()
    fa = L.EventFile()
    fa.add(L.ev_image_tf1("img", 0, img_a, 3, 3))
    fa.add(L.ev_image_tf1("img", 1, shared, 5, 5))
    fa.add(L.ev_audio_tf1("snd", 0, wav))
    fb = L.EventFile()
    fb.add(L.ev_image_tf1("img", 0, img_b, 4, 4))
    fb.add(L.ev_image_tf1("img", 1, shared, 5, 5))
    srv.upload_file(alice, de, "A", "events.out.tfevents.a", fa)
    srv.upload_file(alice, de, "B", "events.out.tfevents.b", fb)
    used0 = srv.get_json("/api/v1/me", token=alice)["used_bytes"]
    exp0 = srv.experiment_json(de)["usage"]["bytes"]
    for b in (img_a, wav, shared, img_b):
        rep.status(srv.get(E + "/" + de + "/blob/" + L.sha256_hex(b)), 200,
                   "before the deletion: blob %s… served" % L.sha256_hex(b)[:8])
    r = srv.request("DELETE", E + "/" + de + "/runs?run=A", token=alice)
    rep.status(r, 204, "DELETE .../runs?run=A: 204")
    for b, name in ((img_a, "its image"), (wav, "its audio")):
        r = srv.get(E + "/" + de + "/blob/" + L.sha256_hex(b))
        rep.status(r, 404, "after deleting run A, %s is no longer served to anyone with the "
                   "link" % name)
    rep.status(srv.get(E + "/" + de + "/blob/" + L.sha256_hex(shared)), 200,
               "an image run B also shows is still served")
    rep.status(srv.get(E + "/" + de + "/blob/" + L.sha256_hex(img_b)), 200,
               "run B's own image is still served")
    exp1 = srv.experiment_json(de)["usage"]["bytes"]
    used1 = srv.get_json("/api/v1/me", token=alice)["used_bytes"]
    freed = used0 - used1
    rep.check(freed > len(img_a) + len(wav) and freed == exp0 - exp1,
              "deleting run A gave back its quota: %d bytes (its image and audio are %d)"
              % (freed, len(img_a) + len(wav)), "used %d -> %d, experiment %d -> %d"
              % (used0, used1, exp0, exp1))
    rep.eq(exp1, srv.stored_bytes(de), "after the deletion, usage equals a recount of what is "
           "stored")
    # The same image in another experiment is not affected by this one's deletion.
    other = srv.create_experiment(alice, "other", "", L.PUBLIC)
    fo = L.EventFile()
    fo.add(L.ev_image_tf1("img", 0, img_b, 4, 4))
    srv.upload_file(alice, other, "O", "events.out.tfevents.o", fo)
    srv.request("DELETE", E + "/" + de + "/runs?run=B", token=alice)
    rep.status(srv.get(E + "/" + de + "/blob/" + L.sha256_hex(img_b)), 404,
               "after deleting run B too: its image is not served from that experiment")
    rep.status(srv.get(E + "/" + other + "/blob/" + L.sha256_hex(img_b)), 200,
               "the same image uploaded to another experiment is still served there")
    rep.eq(srv.experiment_json(de)["usage"]["bytes"], 0,
           "an experiment whose runs are all deleted uses 0 bytes")
    rc, out, err = srv.check()
    rep.check(rc == 0 and "integrity_check: ok" in out, "tbdev-server check: ok", out + err)

    # ---------------------------------------------------------------------------------
    # 5a. A PATCH that fails half-way changes nothing.
    pe = srv.create_experiment(alice, "private one", "", L.PRIVATE)
    r = srv.patch(alice, pe, name="renamed", update_mask=["name"],
                  share_with=["bob", "nosuchuser"])
    rep.status(r, 400, "PATCH sharing with bob and an unknown user: 400")
    rep.eq(srv.experiment_json(pe, token=alice)["name"], "private one",
           "the failed PATCH did not rename the experiment")
    rep.status(srv.get(E + "/" + pe, token=bob), 404,
               "the failed PATCH did not share the experiment with bob (the user before the "
               "unknown one)")
    r = srv.patch(alice, pe, name="renamed", update_mask=["name"], share_with=["bob"])
    rep.status(r, 200, "the same PATCH without the unknown user: 200")
    rep.status(srv.get(E + "/" + pe, token=bob), 200, "... and bob now sees it")

    # 5b. CSV fields starting with a tab or a carriage return are guarded.
    ce = srv.create_experiment(alice, "csv", "", L.PUBLIC)
    db = open_db(srv.db)
    for tag in ("\t=1+2", "\r=1+2", "=cmd", "-2+3", "plain"):
        sid = db.series(ce, "-run", tag, "scalars", kind=1, dtype=1)
        db.scalars(sid, [(0, 1.0), (1, 2.0)])
    db.close()
    bad_csv = []
    for tag in ("\t=1+2", "\r=1+2", "=cmd", "-2+3"):
        r = srv.get(E + "/" + ce + "/scalars?format=csv&tag=" + L.quote(tag))
        lines = r.body.decode("utf-8", "replace").split("\r\n")[1:]
        for ln in lines:
            if ln and not (ln.startswith("\"'-run\",\"'") and ln.count("\"'") == 2):
                bad_csv.append(repr(ln))
    rep.check(not bad_csv, "CSV: a run or tag starting with -, =, tab or CR gets a quote mark "
              "first", "; ".join(bad_csv[:4]))
    r = srv.get(E + "/" + ce + "/scalars?format=csv&tag=plain")
    rep.check(r.body.decode().split("\r\n")[1].startswith("\"'-run\",\"plain\","),
              "CSV: a plain tag is written as it is", r.short())
    srv.stop()

    # ---------------------------------------------------------------------------------
    # 4. Many small things, on a server with a quota.
    q = rep.watch(L.Server(exe, tmp, name="quota", args=["--quota_bytes", "400000"]))
    q.start()
    qa = q.add_user("alice")
    qb = q.add_user("bob")
    qe = q.create_experiment(qa, "empty groups")
    names = ["events.out.tfevents.%s.%06d" % ("x" * 200, i) for i in range(100000)]
    refused_at = None
    sent = 0
    for k in range(0, 100000, 250):
        r = q.write(qa, qe, [("r", n, 0, b"") for n in names[k:k + 250]])
        if r.status == 507:
            refused_at = k
            break
        if r.status != 200:
            rep.fail("empty groups: a request answered", r.short())
            break
        sent = k + 250
    used = q.get_json("/api/v1/me", token=qa)["used_bytes"]
    rows = len(q.cursors(qa, qe))
    rep.check(refused_at is not None and 0 < used <= 400000 and rows == sent and rows < 2000,
              "100,000 empty groups with 220-byte file names: charged (%d bytes for %d file rows) "
              "and refused with 507 at the quota" % (used, rows),
              "refused at %r, used %d, %d cursors" % (refused_at, used, rows))
    qbe = q.create_experiment(qb, "bob's")
    fb = L.EventFile()
    fb.add(L.ev_scalar_tf1("x", 0, 1.0))
    r = q.write(qb, qbe, [("r", "events.out.tfevents.b", 0, bytes(fb.data))])
    rep.status(r, 200, "another user's upload is not affected")
    q.stop()

    # Listing loads no plugin content: 10 runs x 1,000 tags x 12 KB of it (120 MB) stored.
    without_quarantine()
    ls = rep.watch(L.Server(exe, tmp, name="listing"))
    ls.start()
    la = ls.add_user("alice")
    le = ls.create_experiment(la, "many tags", "", L.PUBLIC)
    fh = L.EventFile()
    fh.add(hp_event("_hparams_/session_start_info", L.hp_session_start({"lr": 0.5})))
    ls.upload_file(la, le, "run0", "events.out.tfevents.h", fh)
    db = open_db(ls.db)
    db.begin()
    blob = bytes(12 << 10)
    for r in range(10):
        for i in range(1000):
            db.series(le, "run%d" % r, "t%04d" % i, "custom", blob, dtype=1)
    db.commit()
    db.close()
    ls.stop()
    ls.start()
    hwm0 = proc_kb(ls.proc.pid, "VmHWM")
    anon = AnonPeak(ls.proc.pid)
    t0 = time.monotonic()
    for route in ("runs", "tags", "hparams", "scalars?tag=t0001", "custom_scalars"):
        r = ls.get(E + "/" + le + "/" + route, timeout=120)
        rep.status(r, 200, "10,000 series with 12 KB of plugin content each: GET %s" % route)
    h = ls.get_json(E + "/" + le + "/hparams")
    rep.eq([s["hparams"] for s in h["sessions"]], [{"lr": 0.5}],
           "... and hparams still reads its own series' content")
    grew = anon.stop()
    hwm1 = proc_kb(ls.proc.pid, "VmHWM")
    rep.note("5 reads over 10,000 series x 12 KB of content: %.1f s, RssAnon peak +%d MB, "
             "VmHWM %d -> %d MB" % (time.monotonic() - t0, grew >> 10, hwm0 >> 10, hwm1 >> 10))
    rep.check(grew < 40 << 10 and hwm1 - hwm0 < 60 << 10,
              "reads do not load every series' plugin content (anonymous memory +%d MB, peak "
              "RSS +%d MB, for 120 MB stored)" % (grew >> 10, (hwm1 - hwm0) >> 10), "")
    ls.stop()

    # ---------------------------------------------------------------------------------
    # Migration 3 on a database an older server wrote: taken back to schema 2 (plugin content
    # in the series table, no runs.bytes, usage counted in record bytes), then opened.
    if srv.db.startswith("postgresql://"):
        rep.note("skip (SQLite only): migration 3 rebuilds a SQLite schema-2 file; PostgreSQL's "
                 "schema began at SQLite's version 4")
    else:
        srv.start()
        usage_new = {e["id"]: e["usage"]["bytes"]
                     for e in srv.get_json(E, token=alice)["experiments"]}
        srv.stop()
        con = sqlite3.connect(srv.db, isolation_level=None)
        # Migration 4 (sessions and device codes, issue 12's other half) came after 3: undone first.
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version >= 4:
            con.executescript("""
                BEGIN;
                ALTER TABLE tokens DROP COLUMN expires;
                ALTER TABLE device_codes DROP COLUMN created;
                ALTER TABLE device_codes DROP COLUMN client_ip;
                ALTER TABLE device_codes DROP COLUMN client_version;
                ALTER TABLE device_codes DROP COLUMN client_host;
                CREATE TABLE sessions_v1(hash BLOB PRIMARY KEY,
                  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                  expires REAL NOT NULL) WITHOUT ROWID;
                INSERT INTO sessions_v1 SELECT hash, user_id, expires FROM sessions;
                DROP TABLE sessions;
                ALTER TABLE sessions_v1 RENAME TO sessions;
                COMMIT;""")
        con.executescript("""
            BEGIN;
            ALTER TABLE series ADD COLUMN plugin_content BLOB NOT NULL DEFAULT x'';
            UPDATE series SET plugin_content = coalesce(
                (SELECT content FROM series_content c WHERE c.series_id = series.id), x'');
            DROP TABLE series_content;
            ALTER TABLE runs DROP COLUMN bytes;
            UPDATE experiments SET bytes = 1000;
            UPDATE users SET used_bytes = 7;
            PRAGMA user_version = 2;
            COMMIT;""")
        con.close()
        srv.start()
        rep.check("schema version 2 -> %d" % max(version, 3) in srv.log_text(),
                  "the server migrates a schema-2 database to %d" % max(version, 3),
                  srv.log_tail(4))
        got = {e["id"]: e["usage"]["bytes"] for e in srv.get_json(E, token=alice)["experiments"]}
        rep.eq(got, srv.stored_bytes(), "after migration 3, every experiment's usage is a recount "
               "of what it stores")
        uploaded = (ex, de, other, pe)  # the others hold rows written into the file directly
        rep.eq([got[k] for k in uploaded], [usage_new[k] for k in uploaded],
               "... which is what the server had charged as it stored it, where it stored it all")
        me = srv.get_json("/api/v1/me", token=alice)
        rep.eq(me.get("used_bytes"), sum(got.values()), "... and the user's used_bytes their sum")
        intact("migration 3")
        srv.stop()

    # ---------------------------------------------------------------------------------
    # 5c. An answer past --answer_bytes is a 413 error, for every handler, never a
    # truncated 200.
    sm = rep.watch(L.Server(exe, tmp, name="small", args=["--answer_bytes", "8192"]))
    sm.start()
    sa = sm.add_user("alice")
    se = sm.create_experiment(sa, "big answers", "", L.PUBLIC)
    ef = L.EventFile()
    for i in range(60):
        ef.add(L.ev_scalar_tf2("tag%02d" % i, i, 1.0, description="d" * 200))
    ef.add(hp_event("_hparams_/session_start_info",
                    L.hp_session_start({"k%03d" % i: "v" * 50 for i in range(200)})))
    ef.add(L.ev_text_tf2("text", 0, "x" * 20000))
    for i in range(500):
        ef.add(L.ev_scalar_tf1("many", i, i * 0.5))
    srv_ok = sm.write(sa, se, [("r", "events.out.tfevents.s", 0, bytes(ef.data))])
    rep.status(srv_ok, 200, "upload to the server with --answer_bytes 8192")
    bad = []
    for route in ("tags", "hparams", "text?tag=text", "export?run=r",
                  "scalars?tag=many&format=csv&points=all"):
        r = sm.get(E + "/" + se + "/" + route)
        try:
            j = r.json()
        except ValueError:
            j = None
        if r.status != 413 or not j or j.get("error", {}).get("code") != "too_large" or \
                r.header("Content-Disposition"):
            bad.append("%s: %s" % (route, r.short(120)))
    rep.check(not bad, "answers over --answer_bytes (tags, hparams, text, export, CSV): a 413 "
              "too_large JSON error, not a truncated 200", " | ".join(bad))
    r = sm.get(E + "/" + se + "/runs")
    rep.status(r, 200, "a small answer on the same server: 200")
    rep.server_healthy(sm, "the --answer_bytes server is alive and clean")
    sm.stop()


if __name__ == "__main__":
    L.run_main("tbdev-server: stored data read back", body)
