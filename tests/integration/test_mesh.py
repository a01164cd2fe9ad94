#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: the Mesh tab's routes, GET .../meshes and GET .../mesh_data.

Usage:  test_mesh.py PATH/TO/tbdev-server

A real tbdev-server over HTTPS and its SQLite file. Uploaded through the real write path:
  - a mesh as TensorBoard's own summary writes it (faces DT_INT32, colours DT_UINT8 in
    tensor_content) and as PyTorch does (everything DT_FLOAT): mesh_data answers each part as
    float32 with the same numbers, X-Values-Total and X-Shape;
  - 3,000 steps of one mesh: the index lists at most 1,000, evenly spaced, the last kept;
  - a job restart (SessionLog.START at step 2): the rows it hides are not answered.
Written straight into the database, as an older server (or a hand) could have stored them:
  - plugin content that is not a MeshPluginData, and one whose part is not 1..3: left out of
    the index, counted in "skipped";
  - a json_config of 100 KB, one nested 20 levels, one that is a list: null with a reason;
  - a mesh tensor of strings (422), one of 7 bytes of float (one value), a shape that is not
    a shape (X-Shape "?").
The server stays up and clean, signed out.

Output: "ok - NAME" / "not ok - NAME: WHY". Exit 0 if all pass, 1 otherwise, 77 to skip.
"""

import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402
from test_stored_data import open_db  # noqa: E402

E = "/api/v1/experiments"
DT_UINT8 = 4


def mesh_content(name, part, config=None, shape=(), components=14):
    out = L.f_bytes(2, name.encode()) + L.f_varint(3, part)
    if config is not None:
        out += L.f_bytes(5, config.encode())
    if shape:
        out += L.f_bytes(6, b"".join(L.varint(d) for d in shape))
    return out + L.f_varint(7, components)


def mesh_value(tag, name, part, tensor, config=None, shape=()):
    md = L.metadata_pb(plugin="mesh", content=mesh_content(name, part, config, shape),
                       data_class=2)
    return L.value_pb(tag, metadata=md, tensor=tensor)


def event(step, values):
    return L.event_pb(L.WALL0 + step, step, summary=L.summary_pb(values))


def floats(body):
    return list(struct.unpack("<%df" % (len(body) // 4), body))


def body(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, name="mesh"))
    srv.start()
    alice = srv.add_user("alice")
    exp = srv.create_experiment(alice, "meshes", "", L.PUBLIC)
    base = E + "/" + exp

    verts = [1, 1, 1, -1, -1, 1, -1, 1, -1, 1, -1, -1]
    faces = [0, 2, 3, 0, 3, 1, 0, 1, 2, 1, 3, 2]
    colors = [255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 200, 0]
    ef = L.EventFile()
    ef.add(event(0, [
        mesh_value("tb_VERTEX", "tb", 1, L.tensor_pb(L.DT_FLOAT, (1, 4, 3), float_val=verts),
                   '{"camera": {"fov": 40}}', (1, 4, 3)),
        mesh_value("tb_FACE", "tb", 2, L.tensor_pb(L.DT_INT32, (1, 4, 3),
                                                   content=struct.pack("<12i", *faces))),
        mesh_value("tb_COLOR", "tb", 3, L.tensor_pb(DT_UINT8, (1, 4, 3), content=bytes(colors))),
    ]))
    for s in range(3000):
        ef.add(event(s, [mesh_value("many_VERTEX", "many", 1,
                                    L.tensor_pb(L.DT_FLOAT, (1, 1, 3), float_val=[s, 0, 0]))]))
    srv.upload_file(alice, exp, "good", "events.out.tfevents.good", ef)
    # a restart: steps 0..4, then the job starts again at step 2 and writes 2..3 anew
    rf = L.EventFile()
    for s in range(5):
        rf.add(event(s, [mesh_value("r_VERTEX", "r", 1,
                                    L.tensor_pb(L.DT_FLOAT, (1, 1, 3), float_val=[s, 0, 0]))]))
    rf.add(L.ev_session_log(2))
    for s in (2, 3):
        rf.add(event(s, [mesh_value("r_VERTEX", "r", 1,
                                    L.tensor_pb(L.DT_FLOAT, (1, 1, 3), float_val=[s + 100, 0, 0]))]))
    srv.upload_file(alice, exp, "restart", "events.out.tfevents.r", rf)

    # hostile rows, written into the database directly
    db = open_db(srv.db)
    bad = "bad"
    sid = db.series(exp, bad, "garbage_VERTEX", "mesh", b"\xff\xff\xff", dtype=1)
    db.tensor(sid, 0, 1, "[1,4,3]", struct.pack("<12f", *verts))
    sid = db.series(exp, bad, "part9", "mesh", mesh_content("p9", 9), dtype=1)
    db.tensor(sid, 0, 1, "[1,4,3]", struct.pack("<12f", *verts))
    big = json.dumps({"camera": {"fov": 30}, "pad": "x" * 100000})
    deep = "[" * 20 + "]" * 20
    for name, cfg in (("big", big), ("deep", '{"a": %s}' % deep), ("list", "[1, 2]")):
        sid = db.series(exp, bad, name + "_VERTEX", "mesh", mesh_content(name, 1, cfg), dtype=1)
        db.tensor(sid, 0, 1, "[1,4,3]", struct.pack("<12f", *verts))
    sid = db.series(exp, bad, "str_VERTEX", "mesh", mesh_content("str", 1), dtype=L.DT_STRING)
    db.tensor(sid, 0, L.DT_STRING, "[1]", struct.pack("<I", 3) + b"abc")
    sid = db.series(exp, bad, "odd_VERTEX", "mesh", mesh_content("odd", 1), dtype=1)
    db.tensor(sid, 0, 1, "[1,\u202e4,3]", b"\x00\x00\x80\x3f\x01\x02\x03")
    db.close()

    idx = srv.get_json(base + "/meshes")
    meshes = {(m["run"], m["name"]): m for m in idx.get("meshes", [])}
    tb = meshes.get(("good", "tb"), {})
    rep.check(tb.get("parts", {}).get("vertex", {}).get("tag") == "tb_VERTEX" and
              tb["parts"].get("face", {}).get("tag") == "tb_FACE" and
              tb["parts"].get("color", {}).get("tag") == "tb_COLOR" and
              tb["parts"]["vertex"].get("shape") == [1, 4, 3] and tb.get("config") ==
              {"camera": {"fov": 40}} and tb.get("steps") == [0],
              "meshes: a mesh's three tags grouped by name, with its shape, config and steps",
              json.dumps(tb)[:300])
    many = meshes.get(("good", "many"), {})
    st = many.get("steps", [])
    rep.check(many.get("total_steps") == 3000 and 900 <= len(st) <= 1001 and st[-1] == 2999 and
              st == sorted(st), "meshes: 3,000 steps listed as at most 1,000, the last kept",
              "total %r, %d listed, last %r" % (many.get("total_steps"), len(st), st[-1:]))
    r = meshes.get(("restart", "r"), {})
    rep.eq(r.get("steps"), [0, 1, 2, 3], "meshes: the steps a restart shows")
    rep.eq(idx.get("skipped"), 2, "meshes: content that is not a mesh part is skipped")
    rep.check(("bad", "p9") not in meshes and not any(k[1] == "" for k in meshes),
              "meshes: neither undecodable content nor part 9 is listed", repr(list(meshes)))
    for name, why in (("big", "longer than 64 KiB"), ("deep", "not a JSON object"),
                      ("list", "not a JSON object")):
        m = meshes.get((bad, name), {})
        rep.check(m.get("config") is None and why in m.get("config_error", ""),
                  "meshes: json_config %s is null with a reason" % name, json.dumps(m)[:200])

    def md(run, tag, step, extra=""):
        return srv.get("%s/mesh_data?run=%s&tag=%s&step=%s%s" % (base, run, tag, step, extra))

    v = md("good", "tb_VERTEX", 0)
    f = md("good", "tb_FACE", 0)
    c = md("good", "tb_COLOR", 0)
    rep.check(v.status == 200 and floats(v.body) == verts and v.header("X-Values-Total") == "12"
              and v.header("X-Shape") == "[1,4,3]" and
              v.header("Content-Type") == "application/octet-stream",
              "mesh_data: float vertices as float32, with count and shape", v.short(200))
    rep.check(f.status == 200 and floats(f.body) == faces,
              "mesh_data: DT_INT32 faces (TensorBoard's writer) as the same numbers", f.short(200))
    rep.check(c.status == 200 and floats(c.body) == colors,
              "mesh_data: DT_UINT8 colours as the same numbers", c.short(200))
    m5 = md("good", "tb_FACE", 0, "&max=5")
    rep.check(m5.status == 200 and floats(m5.body) == faces[:5] and
              m5.header("X-Values-Total") == "12", "mesh_data: max=5 answers the first 5",
              m5.short(100))
    last = md("good", "many_VERTEX", 2999)
    rep.check(last.status == 200 and floats(last.body) == [2999, 0, 0],
              "mesh_data: the row at the step asked", last.short(100))
    r3 = md("restart", "r_VERTEX", 3)
    r4 = md("restart", "r_VERTEX", 4)
    rep.check(r3.status == 200 and floats(r3.body) == [103, 0, 0] and r4.status == 404,
              "mesh_data: after a restart, the new row at a step, none where it hid the old",
              "%s | %s" % (r3.short(80), r4.short(80)))
    s = md(bad, "str_VERTEX", 0)
    rep.status(s, 422, "mesh_data: a tensor of strings is 422")
    o = md(bad, "odd_VERTEX", 0)
    rep.check(o.status == 200 and floats(o.body) == [1.0] and o.header("X-Values-Total") == "1"
              and o.header("X-Shape") == "?",
              "mesh_data: 7 bytes of float are one value; a shape that is not one is '?'",
              o.short(100))
    for q, want, name in (("run=good&tag=tb_VERTEX", 400, "no step"),
                          ("tag=tb_VERTEX&step=0", 400, "no run"),
                          ("run=good&tag=tb_VERTEX&step=0x", 400, "a step that is no number"),
                          ("run=good&step=0", 400, "no tag"),
                          ("run=good&tag=tb_VERTEX&step=7", 404, "a step without a row"),
                          ("run=nope&tag=tb_VERTEX&step=0", 404, "another run")):
        rep.status(srv.get(base + "/mesh_data?" + q), want, "mesh_data: %s is %d" % (name, want))
    t = srv.get_json(base + "/tensors?tag=many_VERTEX&run=good&step=1500")
    pts = t["series"][0]["points"]
    rep.check(len(pts) == 1 and pts[0]["step"] == 1500 and pts[0]["values"] == [1500, 0, 0],
              "tensors?step=: the row at that step only", json.dumps(pts)[:200])
    rep.server_healthy(srv, "the server is alive and clean")
    srv.stop()


if __name__ == "__main__":
    L.run_main("tbdev-server: the Mesh tab's routes", body)
