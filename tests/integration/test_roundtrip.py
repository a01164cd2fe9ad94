#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: `tbdev upload --one_shot` then `tbdev export` gives back every point.

Usage:  test_roundtrip.py TBDEV_EXE TBDEV_SERVER_EXE

For every top-level folder of the real data ($TBDEV_REAL_DATA, else
<repo>/../shared/testdata/real; read-only), and for a synthetic logdir written here (NaN,
+Inf, -Inf, negative and huge steps, float64 values float32 cannot hold, int scalars,
every value kind, several files per run, the root run "."):

  1. `tbdev upload --logdir F --one_shot --name N` over HTTPS to a real tbdev-server
     (throwaway certificate, `tbdev auth login --with-token`) exits 0 and prints the
     experiment ID;
  2. `tbdev export --experiment_id ID --outdir OUT` (events format) exits 0;
  3. the source and the export, decoded by uploader_lib's own reader, hold equal multisets
     of points per (run, tag), checked per kind: scalars (NaN equal to NaN), histograms
     (bucket triples), images and audio (exact blob bytes), text, hparams, other tensors,
     graphs and run metadata; then the same with wall times; SessionLog START steps per run;
  4. `tbdev inspect --logdir OUT --json` reports no errors;
  5. `tbdev export --format csv`: scalars.csv has as many rows per (run, tag) as the source
     has scalar points, and histograms.csv as many rows as the source has buckets.

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0, 1, or 77 when the data is missing.
Set TBDEV_KEEP_TMP=1 to keep the temporary folder.
"""

import collections
import json
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402

CATEGORY_GROUPS = [
    ("scalars", {"scalar"}),
    ("histograms", {"histogram"}),
    ("images", {"image"}),
    ("audio", {"audio"}),
    ("text", {"text"}),
    ("hparams", {"hparams", "metadata_only"}),
    ("graphs", {"graph_def", "meta_graph_def", "run_metadata"}),
    ("other tensors", {"tensor", "old_histogram", "unknown"}),
]


def only(ms, cats):
    out = {}
    for k, c in ms.items():
        sub = collections.Counter({p: n for p, n in c.items() if p[0] in cats})
        if sub:
            out[k] = sub
    return out


# ---------------------------------------------------------------------------
# The synthetic logdir.

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200)) + b"IEND"
PNG2 = b"\x89PNG\r\n\x1a\n" + bytes(range(255, 0, -1)) * 3
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(100))
WAV2 = b"RIFF\x30\x00\x00\x00WAVEfmt " + bytes(range(99, 0, -1))


def write_synthetic(root):
    """Writes the synthetic logdir; returns a note of what it holds."""
    nan, inf = float("nan"), float("inf")
    w = 1_700_000_000.0

    def wall():
        nonlocal w
        w += 0.125
        return w

    def write(path, events):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(L.file_version_record(wall()))
            for ev in events:
                f.write(L.frame(ev))

    sc = L.metadata_pb("scalars", data_class=L.DATA_CLASS_SCALAR)
    evs = []
    # TF1 simple_values: specials, negative, zero and huge steps, duplicates of a step
    specials = [(0, 1.5), (1, nan), (2, inf), (3, -inf), (-5, -2.25), (-(2 ** 40), 7.0),
                (2 ** 40, nan), (4, 3.0e38), (5, 1e-45), (5, 2.0), (6, -0.0), (7, nan)]
    for step, v in specials:
        evs.append(L.event_pb(wall(), step, summary_values=[L.value_pb("special", simple=v)]))
    # several values in one event, a tag with spaces and non-ASCII letters
    for step in range(-3, 20):
        evs.append(L.event_pb(wall(), step, summary_values=[
            L.value_pb("multi/a", simple=step * 0.5),
            L.value_pb("multi/b", simple=-step / 3.0),
            L.value_pb("ünïcode tag/タグ", simple=float(step) ** 2)]))
    # TF2 scalars: float32 (packed float_val and tensor_content), float64, int64, int32
    f64 = [0.1, 1.0 / 3.0, nan, inf, -inf, 1e300, -1e-300, 2.0 ** 60 + 1.0]
    for i, v in enumerate(f64):
        evs.append(L.event_pb(wall(), 100 + i, summary_values=[
            L.value_pb("tensor/f64", sc, tensor=L.tensor_pb(L.DT_DOUBLE, (), double_val=[v]))]))
    for i, v in enumerate([nan, inf, -inf, 0.25, -1e10]):
        t = (L.tensor_pb(L.DT_FLOAT, (), float_val=[v]) if i % 2 else
             L.tensor_pb(L.DT_FLOAT, (), content=struct.pack("<f", v)))
        evs.append(L.event_pb(wall(), -10 + i, summary_values=[
            L.value_pb("tensor/f32", sc, tensor=t)]))
    for i, v in enumerate([-7, 123456789, 0, 2 ** 31 + 5]):
        evs.append(L.event_pb(wall(), i, summary_values=[
            L.value_pb("tensor/i64", sc, tensor=L.tensor_pb(L.DT_INT64, (), int64_val=[v]))]))
    for i, v in enumerate([-3, 42]):
        evs.append(L.event_pb(wall(), i, summary_values=[L.value_pb(
            "tensor/i32", L.metadata_pb("", data_class=L.DATA_CLASS_SCALAR),
            tensor=L.tensor_pb(L.DT_INT32, (), int_val=[v]))]))
    # histograms: TF1 histo and TF2 [k,3] doubles
    for step in range(3):
        evs.append(L.event_pb(wall(), step, summary_values=[L.value_pb(
            "hist/tf1", histo=L.histo_pb(-1.0 - step, 2.5 + step, 10, 3.0, 9.0,
                                        [-0.5, 0.0, 1.0, 1.7976931348623157e308],
                                        [1.0, 2.0, 3.0 + step, 4.0]))]))
        cells = [-1.0, 0.0, 2.0 + step, 0.0, 1.0, 5.0, 1.0, 3.5, float(step)]
        evs.append(L.event_pb(wall(), step, summary_values=[L.value_pb(
            "hist/tf2", L.metadata_pb("histograms"),
            tensor=L.tensor_pb(L.DT_DOUBLE, (3, 3), content=struct.pack("<9d", *cells)))]))
    # images and audio, TF1 and TF2 layouts
    evs.append(L.event_pb(wall(), 1, summary_values=[L.value_pb(
        "img/tf1", image=L.image_pb(4, 3, 3, PNG))]))
    evs.append(L.event_pb(wall(), 2, summary_values=[L.value_pb(
        "img/tf1", image=L.image_pb(4, 3, 3, PNG2))]))
    evs.append(L.event_pb(wall(), 1, summary_values=[L.value_pb(
        "img/tf2", L.metadata_pb("images", data_class=L.DATA_CLASS_BLOB_SEQUENCE),
        tensor=L.tensor_pb(L.DT_STRING, (4,), string_val=[b"3", b"4", PNG, PNG2]))]))
    evs.append(L.event_pb(wall(), 2, summary_values=[L.value_pb(  # an empty batch
        "img/tf2", L.metadata_pb("images", data_class=L.DATA_CLASS_BLOB_SEQUENCE),
        tensor=L.tensor_pb(L.DT_STRING, (2,), string_val=[b"3", b"4"]))]))
    evs.append(L.event_pb(wall(), 1, summary_values=[L.value_pb(
        "audio/tf1", audio=L.audio_pb(8000.0, 1, 50, WAV))]))
    evs.append(L.event_pb(wall(), 3, summary_values=[L.value_pb(
        "audio/tf2", L.metadata_pb("audio", data_class=L.DATA_CLASS_BLOB_SEQUENCE),
        tensor=L.tensor_pb(L.DT_STRING, (2, 2),
                           string_val=[WAV, b"first label", WAV2, b"second"]))]))
    # text, hparams, a generic tensor, graphs, a restart
    evs.append(L.event_pb(wall(), 0, summary_values=[L.value_pb(
        "text/scalar", L.metadata_pb("text"),
        tensor=L.tensor_pb(L.DT_STRING, (), string_val=["**hello** wörld".encode()]))]))
    evs.append(L.event_pb(wall(), 4, summary_values=[L.value_pb(
        "text/table", L.metadata_pb("text"),
        tensor=L.tensor_pb(L.DT_STRING, (2, 2), string_val=[b"a", b"", b"c\x00d", b"e"]))]))
    evs.append(L.event_pb(wall(), 0, summary_values=[L.value_pb(
        "_hparams_/session_start_info",
        # a valid HParamsPluginData (the server checks hparams content): session_start_info
        # {hparams {key: "abc"}}
        L.metadata_pb("hparams", b"\x1a\x07\x0a\x05\x0a\x03abc"))]))
    evs.append(L.event_pb(wall(), 0, summary_values=[L.value_pb(
        "pr/curve", L.metadata_pb("pr_curves", b"\x08\x03"),
        tensor=L.tensor_pb(L.DT_FLOAT, (2, 3), float_val=[1, 2, nan, 4, inf, 6]))]))
    evs.append(L.event_pb(wall(), 0, graph_def=b"\x0a\x04node" + bytes(300)))
    evs.append(L.event_pb(wall(), 0, meta_graph_def=b"\x0a\x02mg" + bytes(range(50))))
    evs.append(L.event_pb(wall(), 7, tagged_run_metadata=("step7", b"\x01\x02rm" * 10)))
    evs.append(L.event_pb(wall(), 8, session_status=1))  # SessionLog START at step 8
    evs.append(L.event_pb(wall(), 8, summary_values=[L.value_pb("special", simple=99.0)]))
    write(os.path.join(root, "synthetic", "a", "events.out.tfevents.1000.host.1.0"), evs)

    # a run with two files, the second with a negative-step restart
    write(os.path.join(root, "synthetic", "b", "events.out.tfevents.1000.host.2.0"),
          [L.scalar_event(wall(), s, [("loss", 1.0 / (s + 1)), ("nan_or_not", nan if s % 3
                                                               else float(s))])
           for s in range(50)])
    write(os.path.join(root, "synthetic", "b", "events.out.tfevents.1001.host.2.1"),
          [L.scalar_event(wall(), s, [("loss", -float(s)), ("nan_or_not", -inf)])
           for s in range(-20, 5)])
    write(os.path.join(root, "with space", "ünï", "events.out.tfevents.1002.host.3"),
          [L.scalar_event(wall(), s, [("loss", s * 0.5)]) for s in range(7)])
    # the root run ".", and a run whose name starts with '-' (CSV escaping)
    write(os.path.join(root, "events.out.tfevents.999.root"),
          [L.scalar_event(wall(), s, [("root/x", s * 1.25)]) for s in range(10)])
    write(os.path.join(root, "-dash", "events.out.tfevents.999.dash"),
          [L.scalar_event(wall(), s, [("=formula", float(s)), ("+plus", -1.0)])
           for s in range(5)])


# ---------------------------------------------------------------------------


class Ctx:
    pass


def roundtrip(ctx, rep, logdir, name, extra_checks=None):
    label = "roundtrip %s" % name
    try:
        src = L.decode_logdir(logdir, verify="all")
    except (L.DecodeError, OSError) as e:
        rep.check(label + " source decodes", str(e))
        return
    ms_src = L.multisets(src)
    counts = L.category_counts(ms_src)
    rep.note("%s: source %d runs, %d series, %s" % (
        name, len(src), len(ms_src), dict(sorted(counts.items()))))

    rc, out, err = ctx.client.run(["upload", "--logdir", logdir, "--one_shot", "--name",
                                   ("rt " + name)[:100]], timeout=600)
    exp_id = L.experiment_id_of(out)
    warnings = [l for l in err.splitlines() if "warning" in l or "skipped" in l]
    if warnings:
        rep.note("%s: upload warnings: %s" % (name, L.short(warnings, 6)))
    if not rep.check(label + " upload exits 0 with an experiment ID",
                     None if rc == 0 and exp_id else
                     "exit %s, id %r; stdout %r; stderr %s" % (rc, exp_id, out[-300:],
                                                                err[-800:])):
        return
    outdir = os.path.join(ctx.tmp, "export-" + name)
    rc, out, err = ctx.client.run(["export", "--experiment_id", exp_id, "--outdir", outdir],
                                  timeout=600)
    if not rep.check(label + " export exits 0",
                     None if rc == 0 else "exit %s; stderr %s" % (rc, err[-800:])):
        return
    try:
        exp = L.decode_logdir(outdir, verify="all")
    except (L.DecodeError, OSError) as e:
        rep.check(label + " export decodes", str(e))
        return
    ms_exp = L.multisets(exp)

    for group, cats in CATEGORY_GROUPS:
        want, got = only(ms_src, cats), only(ms_exp, cats)
        if not want and not got:
            continue
        n = sum(sum(c.values()) for c in want.values())
        diffs = L.compare_multisets(want, got)
        rep.check("%s %s (%d series, %d points)" % (label, group, len(want), n),
                  "%d series differ: %s" % (len(diffs), L.short(diffs, 6)) if diffs else None)
    # anything the source has that no group covers, or vice versa
    seen = set().union(*(c for _, c in CATEGORY_GROUPS))
    stray = {p[0] for c in list(ms_src.values()) + list(ms_exp.values()) for p in c
             if p[0] not in seen}
    if stray:
        rep.check(label + " known kinds", "unexpected categories %s" % sorted(stray))

    diffs = L.compare_multisets(L.multisets(src, with_wall=True), L.multisets(exp, with_wall=True))
    rep.check(label + " wall times",
              "%d series differ with wall times: %s" % (len(diffs), L.short(diffs, 4))
              if diffs else None)

    starts_src = {r: collections.Counter({s: n for (st, s), n in rd.session_logs.items()
                                          if st == 1})
                  for r, rd in src.items()}
    starts_exp = {r: collections.Counter({s: n for (st, s), n in rd.session_logs.items()
                                          if st == 1})
                  for r, rd in exp.items()}
    bad = []
    for r in sorted(set(starts_src) | set(starts_exp)):
        a, b = starts_src.get(r, collections.Counter()), starts_exp.get(r, collections.Counter())
        if r not in exp and not (src[r].points):
            continue  # a run without data is not exported
        if a != b:
            bad.append("run %r: source START steps %s, export %s" % (
                r, sorted(a.elements())[:10], sorted(b.elements())[:10]))
    if any(starts_src.values()) or bad:
        rep.check(label + " SessionLog START steps", L.short(bad, 4) if bad else None)

    want_runs = sorted(r for r, rd in src.items() if any(rd.points.values()))
    got_runs = sorted(r for r, rd in exp.items())
    rep.check(label + " runs (%d with data)" % len(want_runs),
              None if want_runs == got_runs else
              "source runs with data %s, export runs %s" % (
                  L.short(sorted(set(want_runs) - set(got_runs))),
                  L.short(sorted(set(got_runs) - set(want_runs)))))

    rc, out, err = ctx.client.run(["inspect", "--logdir", outdir, "--json"], timeout=300)
    try:
        doc = json.loads(out)
        errors = doc.get("errors")
    except ValueError:
        doc, errors = None, "stdout is not JSON: %r" % out[:200]
    rep.check(label + " tbdev inspect reads the export",
              None if rc == 0 and errors == [] else
              "exit %s, errors %s, stderr %s" % (rc, json.dumps(errors)[:500], err[-300:]))

    csvdir = os.path.join(ctx.tmp, "csv-" + name)
    rc, out, err = ctx.client.run(["export", "--experiment_id", exp_id, "--outdir", csvdir,
                                   "--format", "csv"], timeout=600)
    if rep.check(label + " export --format csv exits 0",
                 None if rc == 0 else "exit %s; stderr %s" % (rc, err[-800:])):
        try:
            got = L.parse_scalar_csv(os.path.join(csvdir, "scalars.csv"))
        except (OSError, ValueError) as e:
            rep.check(label + " scalars.csv", str(e))
            got = None
        if got is not None:
            want = L.scalar_counts(ms_src)
            bad = ["(%r, %r): source %d, csv %d" % (k[0], k[1], want.get(k, 0), got.get(k, 0))
                   for k in sorted(set(want) | set(got)) if want.get(k, 0) != got.get(k, 0)]
            rep.check(label + " scalars.csv rows (%d series, %d rows)" % (
                len(want), sum(want.values())), L.short(bad, 6) if bad else None)
        hist = only(ms_src, {"histogram"})
        if hist:
            want = collections.Counter()
            for k, c in hist.items():
                for p, n in c.items():
                    want[k] += len(p[2]) * n
            try:
                got = count_hist_csv(os.path.join(csvdir, "histograms.csv"))
                bad = ["(%r, %r): source %d buckets, csv %d" % (
                    k[0], k[1], want.get(k, 0), got.get(k, 0))
                    for k in sorted(set(want) | set(got)) if want.get(k, 0) != got.get(k, 0)]
            except (OSError, ValueError) as e:
                bad = [str(e)]
            rep.check(label + " histograms.csv rows (%d series)" % len(want),
                      L.short(bad, 6) if bad else None)
    if extra_checks:
        extra_checks(ctx, rep, exp_id, ms_src, ms_exp)


def count_hist_csv(path):
    import csv
    counts = collections.Counter()
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header != ["run", "tag", "step", "wall_time", "left", "right", "count"]:
            raise ValueError("histograms.csv header %r" % (header,))
        for row in rows:
            counts[(row[0], row[1])] += 1
    return counts


def synthetic_checks(ctx, rep, exp_id, ms_src, ms_exp):
    """Spot checks that do not rely on the multiset comparison alone."""
    pts = ms_exp.get(("synthetic/a", "special"), collections.Counter())
    vals = collections.Counter()
    for p, n in pts.items():
        v = p[2]
        vals["nan" if v == "NaN" else "+inf" if v == math.inf else "-inf" if v == -math.inf
             else "finite"] += n
    steps = {p[1] for p in pts}
    why = []
    if vals["nan"] != 3 or vals["+inf"] != 1 or vals["-inf"] != 1:
        why.append("special values in the export: %s (want 3 NaN, 1 +Inf, 1 -Inf)" %
                   dict(vals))
    for s in (-5, -(2 ** 40), 2 ** 40):
        if s not in steps:
            why.append("step %d missing" % s)
    rep.check("synthetic: NaN, +Inf, -Inf and negative/huge steps survive",
              "; ".join(why) or None)
    f64 = ms_exp.get(("synthetic/a", "tensor/f64"), collections.Counter())
    got = {p[2] for p in f64}
    want = {0.1, 1.0 / 3.0, "NaN", math.inf, -math.inf, 1e300, -1e-300, 2.0 ** 60 + 1.0}
    rep.check("synthetic: float64 scalars keep full precision",
              None if got == want else "export has %s" % sorted(map(repr, got)))
    # the read API agrees too (NaN and infinities in JSON); restarts=keep, since steps here
    # go backwards, which the default view treats as restarts
    try:
        series = ctx.api.scalars(exp_id, "special", keep_restarts=True)
        pts = series.get("synthetic/a", [])
        n = len(pts)
        rep.check("synthetic: read API returns every 'special' point (%d)" % n,
                  None if n == sum(ms_src[("synthetic/a", "special")].values()) else
                  "got %d points: %s" % (n, pts[:20]))
    except Exception as e:  # noqa: BLE001 (report anything)
        rep.check("synthetic: read API returns every 'special' point", repr(e))


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE\n" % argv[0])
        return 2
    tbdev, server_exe = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    data = L.real_data_dir()
    if not os.path.isdir(data):
        print("# SKIP: real data folder %s not found (set TBDEV_REAL_DATA)" % data)
        return L.SKIP
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    rep = L.Reporter()
    if not L.check_exes(rep, tbdev, server_exe):
        return rep.finish()
    rep.note("data: %s" % data)
    rep.check("crc32c known vector",
              None if L.crc32c(b"123456789") == 0xE3069283 else "wrong crc32c")
    ctx = Ctx()
    ctx.tmp = L.make_tempdir("tbdev-roundtrip-")
    server = None
    try:
        cert, key_ = L.make_cert(ctx.tmp)
        db = os.path.join(ctx.tmp, "tbdev.db")
        token = L.add_user(server_exe, db)
        server = L.Server(server_exe, ctx.tmp, db, cert, key_)
        url = server.start()
        rep.check("server started at %s" % url, None if url.startswith("https://127.0.0.1:")
                  else "unexpected URL %s" % url)
        ctx.client = L.Client(tbdev, os.path.join(ctx.tmp, "home"), url=url, cacert=cert,
                              use_env=False)
        rc, out, err = ctx.client.login(token)
        if not rep.check("tbdev auth login --with-token", None if rc == 0 else
                         "exit %s: %s %s" % (rc, out[-300:], err[-300:])):
            return rep.finish()
        ctx.api = L.Api(url, token, cert)

        folders = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))
        rep.check("real data folders present (%d)" % len(folders),
                  None if folders else "none in %s" % data)
        for d in folders:
            roundtrip(ctx, rep, os.path.join(data, d), d)

        syn = os.path.join(ctx.tmp, "synthetic-logdir")
        write_synthetic(syn)
        roundtrip(ctx, rep, syn, "synthetic", synthetic_checks)

        rc = server.stop()
        rep.check("server exits 0 on SIGTERM", None if rc == 0 else
                  "exit %s; stderr %s" % (rc, L.tail_text(server.err_path, 500)))
        rc, out, err = L.server_check(server_exe, db)
        rep.check("tbdev-server check", None if rc == 0 and "integrity_check: ok" in out else
                  "exit %s: %s %s" % (rc, out[-300:], err[-300:]))
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("test harness", "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        if server is not None:
            server.kill()
        L.finish_tmp(rep, ctx.tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
