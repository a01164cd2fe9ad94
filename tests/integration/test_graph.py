#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of GET /api/v1/experiments/{id}/graph on a real tbdev-server over HTTPS.

Real graphs (issue 14: tensorboardX's and PyTorch's add_graph, TF1's GraphDef and
MetaGraphDef, TFX's 2,502-node graph, the 7,660-node Keras graph, PyTorch's graph_def with
tagged_run_metadata) are uploaded as their event files; for each run, the graph the server
answers is compared with an independent decode written here from the protobuf wire format
(wire.fields): every node's name, op, device and inputs (exactly as written: "^x", "x:1"), the
edge count and the inputs that name no node. The blob it chose is identified by its SHA-256.

Bad GraphDefs (a cycle, dangling inputs, 10^6 nodes, 2,000-deep scopes, a name over the limit,
1,000-deep nested function attributes, bytes that are not a GraphDef, an empty graph) answer a
clear error or a bounded graph; the server stays up with no sanitizer report. The cache
answers the same bytes on a second request (X-Tbdev-Graph-Cache: hit).

Usage: test_graph.py PATH/TO/tbdev-server. Exits 0, 1, or 77 (skip: no real data).
"""

import hashlib
import os
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402
import uploader_lib as U  # noqa: E402
from wire import fields, f_bytes, f_double, f_varint  # noqa: E402

# (folder of the real data, sub-folder holding graph runs)
REAL = [
    "tensorboardx-2.6.2.2/graph",
    "pytorch-1.13/graph",
    "repo-tensorflow-tensorboard",
    "repo-tensorflow-tfx",
    "repo-yuanjun0416-tensorboard_use",
    "repo-Dipeshtamboli-tensorboard-logs",
]
EV_GRAPH_DEF, EV_TAGGED_RUN_METADATA, EV_META_GRAPH_DEF = 4, 8, 9


def graph_nodes(graph_def):
    """[(name, op, device, [inputs])] of a GraphDef, from the wire format."""
    out = []
    for fn, wt, v in fields(bytes(graph_def)):
        if fn != 1 or wt != 2:
            continue
        name = op = device = ""
        inputs = []
        for f2, w2, v2 in fields(bytes(v)):
            if w2 != 2:
                continue
            if f2 == 1:
                name = bytes(v2).decode("utf-8", "replace")
            elif f2 == 2:
                op = bytes(v2).decode("utf-8", "replace")
            elif f2 == 3:
                inputs.append(bytes(v2).decode("utf-8", "replace"))
            elif f2 == 4:
                device = bytes(v2).decode("utf-8", "replace")
        out.append((name, op, device, inputs))
    return out


def meta_graph(meta):
    for fn, wt, v in fields(bytes(meta)):
        if fn == 2 and wt == 2:
            return bytes(v)
    return b""


def stats_names(run_metadata):
    """Node names of a RunMetadata's step_stats (StepStats.dev_stats.node_stats.node_name)."""
    names = set()
    for fn, wt, v in fields(bytes(run_metadata)):
        if fn != 1 or wt != 2:
            continue
        for f2, w2, dev in fields(bytes(v)):
            if f2 != 1 or w2 != 2:
                continue
            for f3, w3, ns in fields(bytes(dev)):
                if f3 == 2 and w3 == 2:
                    for f4, w4, nm in fields(bytes(ns)):
                        if f4 == 1 and w4 == 2:
                            names.add(bytes(nm).decode("utf-8", "replace"))
    return names


def input_name(s):
    s = s[1:] if s.startswith("^") else s
    head, sep, port = s.rpartition(":")
    return head if sep and port.isdigit() else s


def scan_run(files):
    """{kind: {sha: bytes}} of a run's graphs, and its tagged run metadata {tag: bytes}."""
    kinds = {"graph_def": {}, "meta_graph_def": {}}
    tagged = {}
    for path in files:
        for _, body in U.read_records(path, verify="none"):
            for fn, wt, v in fields(body):
                if wt != 2:
                    continue
                if fn == EV_GRAPH_DEF:
                    b = bytes(v)
                    kinds["graph_def"][hashlib.sha256(b).hexdigest()] = b
                elif fn == EV_META_GRAPH_DEF:
                    b = bytes(v)
                    kinds["meta_graph_def"][hashlib.sha256(b).hexdigest()] = b
                elif fn == EV_TAGGED_RUN_METADATA:
                    tag, rm = "", b""
                    for f2, w2, v2 in fields(bytes(v)):
                        if f2 == 1 and w2 == 2:
                            tag = bytes(v2).decode()
                        elif f2 == 2 and w2 == 2:
                            rm = bytes(v2)
                    tagged[tag] = rm
    return kinds, tagged


def upload_dir(srv, tok, eid, run, files):
    for path in files:
        ef = L.EventFile(file_version=False)
        for _, body in U.read_records(path, verify="none"):
            ef.add(bytes(body))
        srv.upload_file(tok, eid, run, os.path.basename(path), ef, records_per_group=20)


def graph_event(graph_def, step=0):
    return f_double(1, L.WALL0 + step) + (f_varint(2, step) if step else b"") + \
        f_bytes(EV_GRAPH_DEF, graph_def)


def node_pb(name, op="Const", inputs=(), attrs=()):
    b = f_bytes(1, name.encode()) + f_bytes(2, op.encode())
    for i in inputs:
        b += f_bytes(3, i.encode())
    for k, v in attrs:
        b += f_bytes(5, f_bytes(1, k.encode()) + f_bytes(2, v))
    return b


def graph_pb(nodes):
    return b"".join(f_bytes(1, n) for n in nodes)


def nested_func_attr(depth):
    """An AttrValue holding a func whose attribute holds a func ... depth levels deep."""
    v = f_varint(3, 7)  # AttrValue.i
    for k in range(depth):
        nal = f_bytes(1, b"f%d" % k) + f_bytes(2, f_bytes(1, b"a") + f_bytes(2, v))
        v = f_bytes(10, nal)  # AttrValue.func = NameAttrList
    return v


def body(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, name="graph"))
    srv.start()
    tok = srv.add_user("alice")
    eid = srv.create_experiment(tok, "graphs", "", L.PUBLIC)
    real = U.real_data_dir()
    base = "/api/v1/experiments/%s/graph?run=" % eid

    def graph(run, tag=None, extra=""):
        return srv.get(base + quote(run, safe="") + ("&tag=" + quote(tag, safe="") if tag else "")
                       + extra, token=tok)

    # --- real graphs against an independent decode ----------------------------------------
    runs = {}
    if not os.path.isdir(real):
        rep.note("skip: no real data in %s" % real)
    else:
        for sub in REAL:
            root = os.path.join(real, sub)
            if not os.path.isdir(root):
                rep.note("real folder %s missing: not checked" % sub)
                continue
            for rel, files in sorted(U.discover_runs(root).items()):
                kinds, tagged = scan_run(files)
                if not kinds["graph_def"] and not kinds["meta_graph_def"]:
                    continue
                run = sub.split("/")[0] + ("/" + rel if rel not in ("", ".") else "")
                upload_dir(srv, tok, eid, run, files)
                runs[run] = (kinds, tagged)
        rep.check(len(runs) >= 8, "real graph runs found and uploaded (%d)" % len(runs))
    biggest = 0
    for run, (kinds, tagged) in sorted(runs.items()):
        tries = [(None, "graph_def" if kinds["graph_def"] else "meta_graph_def")]
        if kinds["meta_graph_def"]:
            tries.append(("__meta_graph__", "meta_graph_def"))
        for tag in tagged:
            tries.append((tag, "graph_def"))
        for tag, kind in tries:
            label = "%s%s" % (run, " tag " + tag if tag else "")
            r = graph(run, tag)
            if not rep.status(r, 200, "%s: GET .../graph answers 200" % label):
                continue
            j = r.json()
            blob = kinds[kind].get(j.get("sha256"))
            if not rep.check(blob is not None, "%s: the graph served is one of the run's %s"
                             % (label, kind), "sha %s" % j.get("sha256")):
                continue
            gd = meta_graph(blob) if kind == "meta_graph_def" else blob
            want = graph_nodes(gd)
            got = [(n["name"], n["op"], n.get("device", ""), n["inputs"]) for n in j["nodes"]]
            names = {w[0] for w in want}
            edges = sum(len(w[3]) for w in want)
            dangling = sum(1 for w in want for i in w[3] if input_name(i) not in names)
            biggest = max(biggest, len(want))
            rep.check(len(got) == len(want) and j["nodes_total"] == len(want),
                      "%s: %d nodes, as the independent decode" % (label, len(want)),
                      "served %d (total %s)" % (len(got), j.get("nodes_total")))
            rep.check(j["edges"] == edges, "%s: %d edges (inputs), as the independent decode"
                      % (label, edges), "served %s" % j.get("edges"))
            rep.check(got == want, "%s: every node's name, op, device and inputs as written"
                      % label, next(("%r != %r" % (g, w) for g, w in zip(got, want) if g != w),
                                    "lengths differ"))
            rep.check(j["dangling_inputs"] == dangling and not j["truncated"],
                      "%s: %d inputs naming no node, not truncated" % (label, dangling),
                      "served %s, truncated %s" % (j.get("dangling_inputs"), j.get("truncated")))
            if tag in tagged:
                matched = len(stats_names(tagged[tag]) & names)
                rep.check("stats" in j and j["stats"]["nodes"] == matched,
                          "%s: step stats of %d graph nodes joined" % (label, matched),
                          "served %s" % j.get("stats"))
    if runs:
        rep.check(biggest == 7660, "the biggest real graph checked has 7,660 nodes (%d)" % biggest)
        big = [r for r, (k, _) in runs.items() if r.startswith("repo-yuanjun0416")]
        if big:
            r1 = graph(big[0])
            r2 = graph(big[0])
            rep.check(r2.status == 200 and r2.body == r1.body
                      and r2.header("X-Tbdev-Graph-Cache") == "hit",
                      "the 7,660-node graph: a second request is answered from the cache, the "
                      "same bytes (%d)" % len(r1.body), "cache %s" % r2.header("X-Tbdev-Graph-Cache"))

    # --- bad graphs ---------------------------------------------------------------------------
    cases = []
    cases.append(("cycle", graph_pb([node_pb("a", "Add", ["b"]), node_pb("b", "Add", ["a:0"])])))
    cases.append(("dangling", graph_pb([node_pb("x", "Identity", ["missing", "^gone", "x:3"])])))
    cases.append(("million", b"\x0a\x00" * 1000000))  # 10^6 empty NodeDefs
    deep = "/".join(["s"] * 2000) + "/op"  # 2,000 scopes, 4,002 bytes: under the name limit
    cases.append(("deep_scopes", graph_pb([node_pb(deep), node_pb("top", "Identity", [deep])])))
    cases.append(("long_name", graph_pb([node_pb("n" * 5000)])))
    cases.append(("nested_attrs", graph_pb([node_pb("f", "PartitionedCall",
                                                    attrs=[("f", nested_func_attr(1000))])])))
    cases.append(("not_protobuf", b"\x0a\xff\xff\xff\xff\x0f garbage"))
    cases.append(("wrong_wire_type", b"\x0b\x0c"))
    cases.append(("empty", b""))
    for name, gd in cases:
        ef = L.EventFile()
        ef.add(graph_event(gd))
        srv.upload_file(tok, eid, "bad/" + name, "events.out.tfevents.1.bad", ef)
    answers = {name: graph("bad/" + name) for name, _ in cases}

    def js(name):
        try:
            return answers[name].json()
        except ValueError:
            return {}
    c = js("cycle")
    rep.check(answers["cycle"].status == 200 and len(c.get("nodes", [])) == 2 and c["edges"] == 2,
              "a cycle (a <- b <- a) is served as it is: 2 nodes, 2 edges", answers["cycle"].short())
    d = js("dangling")
    rep.check(answers["dangling"].status == 200 and d.get("dangling_inputs") == 2
              and d["nodes"][0]["inputs"] == ["missing", "^gone", "x:3"],
              "dangling inputs are kept as written and counted (2 name no node)",
              answers["dangling"].short())
    m = js("million")
    rep.check(answers["million"].status == 200 and m.get("truncated") is True
              and m.get("nodes_total") == 1000000 and len(m["nodes"]) == m["limits"]["nodes"],
              "10^6 nodes: a bounded graph (the first %s), truncated, nodes_total 1000000"
              % m.get("limits", {}).get("nodes"), answers["million"].short())
    ds = js("deep_scopes")
    rep.check(answers["deep_scopes"].status == 200 and len(ds.get("nodes", [])) == 2
              and ds["nodes"][0]["name"] == deep and ds["dangling_inputs"] == 0,
              "2,000-deep scopes: served whole (the page nests at most %s)"
              % ds.get("limits", {}).get("scope_depth"), answers["deep_scopes"].short())
    for name, why in [("long_name", "a 5,000-byte name"), ("not_protobuf", "a length past the end"),
                      ("wrong_wire_type", "a group wire type")]:
        r = answers[name]
        rep.check(r.status == 422 and r.error_code() == "bad_graph" and "byte" in r.error().get("message", ""),
                  "%s: 422 bad_graph saying what and at which byte" % why,
                  "%d %s" % (r.status, r.short()))
    rep.note("not a GraphDef: %s" % answers["not_protobuf"].error().get("message"))
    na = js("nested_attrs")
    rep.check(answers["nested_attrs"].status == 200 and len(na.get("nodes", [])) == 1,
              "function attributes nested 1,000 deep: written to a bounded depth, 200",
              answers["nested_attrs"].short())
    e = js("empty")
    rep.check(answers["empty"].status == 200 and e.get("nodes") == [],
              "an empty GraphDef: no nodes", answers["empty"].short())

    # --- arguments --------------------------------------------------------------------------
    r = srv.get("/api/v1/experiments/%s/graph" % eid, token=tok)
    rep.check(r.status == 400 and "run" in r.error().get("message", ""), "no ?run=: 400 naming the parameter",
              r.short())
    r = graph("no/such/run")
    rep.check(r.status == 404, "a run without a graph: 404", r.short())
    if runs:
        r = graph(sorted(runs)[0], "no-such-tag")
        rep.check(r.status == 404 and "no-such-tag" in r.error().get("message", ""), "an unknown tag: 404",
                  r.short())
    rep.server_healthy(srv, "server alive and clean after the bad graphs")


if __name__ == "__main__":
    L.run_main("tbdev-server graphs", body)
