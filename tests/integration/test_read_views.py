#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: the read API's drawing views, against independent implementations.

Usage:  test_read_views.py PATH/TO/tbdev-server

A real server (temporary database, throwaway certificate) gets real event records built
here, then:
- histograms ?bins=N: TensorBoard's rebinning (its frontend's rebuildBins over the series'
  range, after data_compat's migration of TF1 histograms) computed here in Python and
  compared bin by bin; constant, empty and one-step series; ?distribution=1 against
  TensorBoard's compressor.compress_histogram; bad parameters answered 400;
- scalars ?start_step/end_step: every point of a window that fits, downsampling (extremes
  kept) of one that does not, smoothing over every point (TensorBoard's debiased EMA,
  computed here) whatever the window, first_wall_time, layout=columns, precision=logged,
  shortest round-trip numbers, and bad parameters answered 400; a chart drawn from the
  chunks' group summaries against M4 computed here from every point (and older rows without
  group summaries falling back to every point);
- answers compressed with gzip and zstd per Accept-Encoding, with Vary;
- the page's ES modules served as JavaScript under the unchanged CSP.

Output: "ok - NAME" / "not ok - NAME: WHY". Exit 0 if all pass, 1 otherwise, 77 to skip.
"""

import gzip
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402

E = "/api/v1/experiments"


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def fnum(v):
    if isinstance(v, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[v])
    return float(v)


# --- TensorBoard's algorithms, written out here from its sources -------------------------

def data_compat(mn, mx, limits, counts):
    """tensorboard/data_compat.py _migrate_histogram_value: [(left, right, count)]."""
    n = len(counts)
    start = next((i for i in range(n) if counts[i] > 0), n)
    end = next((i for i in reversed(range(n)) if counts[i] > 0), -1)
    if start > end:
        return []
    counts = counts[start:end + 1]
    inner = limits[start:end]
    return list(zip([mn] + inner, inner + [mx], counts))


def rebuild_bins(buckets, left, right, count):
    """tensorboard/webapp/widgets/histogram/histogram_util.ts rebuildBins."""
    dx = (right - left) / count
    out, bi, nxt = [], 0, 0.0
    for i in range(count):
        rl = left + i * dx
        rr = rl + dx
        last = i == count - 1
        y, nxt = nxt, 0.0
        while bi < len(buckets):
            bl, br, c = buckets[bi]
            bdx = br - bl
            if not (bl > rr or br < rl):
                if bdx == 0:
                    if not last and br >= rr:
                        nxt += c
                    else:
                        y += c
                else:
                    y += c * (min(br, rr) - max(bl, rl)) / bdx
            if br > rr:
                break
            bi += 1
        out.append((rl, rr, y))
    return out


def normalized(histograms, count=30):
    """buildNormalizedHistograms: the range over every step, widened when empty."""
    lefts = [b[0][0] for b in histograms if b]
    rights = [b[-1][1] for b in histograms if b]
    if not lefts:
        return [[] for _ in histograms]
    left, right = min(lefts), max(rights)
    if left == right:
        right = right * 1.1 + 1
        left = left / 1.1 - 1
    return [rebuild_bins(b, left, right, count) for b in histograms]


BPS = (0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000)


def compress_histogram(buckets):
    """tensorboard/plugins/distribution/compressor.py compress_histogram."""
    if not buckets:
        return [0.0] * len(BPS)
    minmin, maxmax = buckets[0][0], buckets[-1][1]
    counts = [b[2] for b in buckets]
    total = sum(counts) or 1.0
    weights, acc = [], 0.0
    for c in counts:
        acc += c * BPS[-1] / total
        weights.append(acc)
    out, j = [], 0
    while j < len(BPS):
        i = next((k for k, w in enumerate(weights) if w > BPS[j]), len(weights))
        found = False
        while i < len(weights):
            cum = weights[i]
            prev = weights[i - 1] if i > 0 else 0.0
            if cum == prev:
                i += 1
                continue
            lhs = minmin if (not i or not prev) else max(buckets[i - 1][1], minmin)
            rhs = min(buckets[i][1], maxmax)
            out.append(lhs + (BPS[j] - prev) * (rhs - lhs) / (cum - prev))
            j += 1
            found = True
            break
        if not found:
            break
    out += [maxmax] * (len(BPS) - len(out))
    return out


def ema(values, w):
    """tensorboard/webapp/widgets/line_chart_v2/data_transformer.ts classicSmoothing."""
    if all(v == values[0] for v in values):
        return list(values)
    out, last, n = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * w + (1 - w) * v
        n += 1
        out.append(last / (1 - w ** n if w != 1 else 1))
    return out


# --- data --------------------------------------------------------------------------------

def tf_edges():
    """PyTorch's bins='tensorflow' (TensorFlow's default buckets): 1.1^k from 1e-12."""
    pos = []
    v = 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return [-x for x in reversed(pos)] + [0.0] + pos


def pytorch_histogram(values):
    """torch.utils.tensorboard.summary.make_histogram with bins='tensorflow'."""
    edges = tf_edges()
    counts = [0] * (len(edges) - 1)
    for x in values:
        lo, hi = 0, len(edges) - 1
        while hi - lo > 1:  # edges[lo] <= x < edges[hi]
            mid = (lo + hi) // 2
            if edges[mid] <= x:
                lo = mid
            else:
                hi = mid
        counts[lo] += 1
    nz = [i for i, c in enumerate(counts) if c]
    start, end = nz[0], nz[-1] + 1
    # an empty bucket to the left carries the leftmost limit, as torch writes it
    limits = edges[start:end + 1]
    cnts = ([0] if start == 0 else [counts[start - 1] * 0]) + counts[start:end]
    return min(values), max(values), limits, [float(c) for c in cnts]


def histo_event(tag, step, mn, mx, limits, counts, wall):
    h = L.histo_pb(mn, mx, float(sum(counts)), 0.0, 0.0, limits, counts)
    return L.event_pb(wall, step, summary=L.summary_pb([L.value_pb(tag, histo=h)]))

GROUP, CHUNK = 64, 1024  # service/store.h: SVC_SUMMARY_GROUP_POINTS, SVC_SCALAR_CHUNK_POINTS


def summary_units(requests):
    """The summary units (lo, hi) of points written in requests of these sizes: each request's
    points cut into chunks of CHUNK, a chunk of more than GROUP points into groups of GROUP."""
    units, at = [], 0
    for r in requests:
        for c in range(at, at + r, CHUNK):
            ce = min(c + CHUNK, at + r)
            units += [(c, ce)] if ce - c <= GROUP else [(g, min(g + GROUP, ce)) for g in range(c, ce, GROUP)]
        at += r
    return units


def m4(pts, edges):
    """M4 of pts (rows [wall, step, value]) over buckets [lo, hi): first, minimum, maximum, last
    (the first of equal extremes, NaN ignored), in order, without repeats."""
    out = []
    for lo, hi in edges:
        fin = [i for i in range(lo, hi) if not math.isnan(pts[i][2])]
        imin = min(fin, key=lambda i: (pts[i][2], i)) if fin else lo
        imax = min(fin, key=lambda i: (-pts[i][2], i)) if fin else lo
        out += [pts[i] for i in sorted({lo, imin, imax, hi - 1})]
    return out


def m4_of_units(pts, units, target):
    """svc_downsample_units: buckets of whole units."""
    b = min(target // 4, len(units))
    return m4(pts, [(units[len(units) * k // b][0], units[len(units) * (k + 1) // b - 1][1]) for k in range(b)])


def m4_of_points(pts, target):
    """svc_downsample: buckets by index."""
    n, b = len(pts), target // 4
    return m4(pts, [(n * k // b, n * (k + 1) // b) for k in range(b)])


def same_rows(a, b):
    """Rows equal bit for bit (NaN equal to NaN), the answer's "NaN" text read as NaN."""
    def key(r):
        return [struct.pack("<d", float(v)) for v in r]
    return len(a) == len(b) and all(key(x) == key(y) for x, y in zip(a, b))


def check_summary_charts(rep, srv, tok, exp, run="m4", db=None):
    """A chart answered from the chunks' group summaries equals M4 computed here over the same
    buckets from every point (random values, NaN and ties, requests of odd sizes); a full
    resolution read is every point as written; rows with chunk summaries only (older rows)
    fall back to reading every point (svc_downsample's buckets)."""
    rnd = random.Random(15)
    requests = [5000, 777, 3000, 1, 64, 65, 129, 10000, 2048, 1023, 18000]
    ef, pts, step = L.EventFile(), [], 0
    for _ in range(sum(requests)):
        step += rnd.randint(1, 3)
        v = rnd.choice([float("nan"), 0.5, -0.25, 3.0]) if rnd.random() < 0.1 else rnd.gauss(0, 1)
        wall = L.WALL0 + step * 0.25
        ef.add(L.ev_scalar_tf1("loss", step, v, wall=wall))
        pts.append([wall, step, f32(v)])
    ends = [0]
    for r in requests:
        ends.append(ends[-1] + r)
    b = ef.boundaries()
    base = len(ef.offsets) - len(pts)  # the file's first records hold no points
    for k in range(len(requests)):
        lo, hi = b[base + ends[k] if k else 0], b[base + ends[k + 1]]
        srv.write_ok(tok, exp, [(run, "events.out.tfevents.1.m4", lo, bytes(ef.data[lo:hi]))])
    units = summary_units(requests)

    def chart(q):
        r = srv.get("%s/%s/scalars?tag=loss&run=%s&%s" % (E, exp, run, q))
        return r.json()["series"][0] if r.status == 200 else {"error": r.short()}

    for target in (1000, 600):
        s = chart("points=%d" % target)
        want = m4_of_units(pts, units, target)
        rep.check(s.get("total") == len(pts) and s.get("downsampled") and same_rows(s.get("points", []), want),
                  "points=%d of %d points in %d groups: M4 over whole groups from the summaries, the "
                  "same points as computed from every point" % (target, len(pts), len(units)),
                  "%s points, %d wanted" % (len(s.get("points", [])), len(want)))
    s = chart("points=all")
    rep.check(same_rows(s.get("points", []), pts), "points=all: every point as written, bit for bit")
    if not db:
        return
    # on either backend (substr takes SQLite's blob and PostgreSQL's bytea alike)
    L.db_exec(db, "UPDATE scalar_chunks SET summary = substr(summary, 1, %d) WHERE series_id IN "
                  "(SELECT s.id FROM series s JOIN runs r ON r.id = s.run_id WHERE r.name = '%s')"
              % (4 * 24, run.replace("'", "''")))
    s = chart("points=1000")
    rep.check(same_rows(s.get("points", []), m4_of_points(pts, 1000)),
              "rows without group summaries (written before them): every point read, svc_downsample's M4")


def body(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, name="views"))
    srv.start()
    tok = srv.add_user("alice")
    exp = srv.create_experiment(tok, name="views")
    rng = random.Random(7)

    # ---- histograms: PyTorch-style (TF1 HistogramProto), constant, empty, one step ----
    ef = L.EventFile()
    raw = {}  # step -> (mn, mx, limits, counts) as uploaded
    for k, step in enumerate(range(0, 50, 10)):
        vals = [rng.gauss(0.5 * k, 1.0 + 0.2 * k) for _ in range(2000)]
        raw[step] = pytorch_histogram(vals)
        ef.add(histo_event("w/normal", step, *raw[step], wall=L.WALL0 + step))
    for step in range(3):
        ef.add(histo_event("w/constant", step, 3.0, 3.0, [3.0], [10.0], wall=L.WALL0 + step))
    ef.add(histo_event("w/empty", 0, 0.0, 0.0, [], [], wall=L.WALL0))
    ef.add(histo_event("w/one", 7, -1.0, 2.0, [0.0, 1.0, 2.0], [5.0, 3.0, 2.0],
                       wall=L.WALL0 + 7))
    srv.upload_file(tok, exp, "h", "events.out.tfevents.1.h", ef)

    def hist(tag, q):
        r = srv.get("%s/%s/histograms?tag=%s&run=h&%s" % (E, exp, L.quote(tag), q))
        if r.status != 200:
            rep.fail("histograms %s %s answers 200" % (tag, q), r.short())
            return []
        return r.json()["series"][0]["points"]

    pts = hist("w/normal", "bins=30")
    steps = sorted(raw)
    want = normalized([data_compat(*raw[s]) for s in steps], 30)
    rep.eq([p["step"] for p in pts], steps, "bins=30: one histogram per step")
    worst = 0.0
    ok_shape = True
    for p, w in zip(pts, want):
        got = p["bins"]
        if len(got) != 30:
            ok_shape = False
            continue
        for (gl, gr, gc), (wl, wr, wc) in zip(got, w):
            worst = max(worst, abs(gl - wl), abs(gr - wr), abs(gc - wc) / max(1.0, wc))
    rep.check(ok_shape and worst < 1e-6, "bins=30: TensorBoard's rebinning, bin by bin "
              "(edges over the series' range, counts split by overlap)", "worst difference %g" % worst)
    sums = [sum(b[2] for b in p["bins"]) for p in pts]
    rep.check(all(abs(s - 2000) < 1e-3 for s in sums), "bins=30: every step keeps its 2000 values",
              repr(sums))
    widths = {round(b[1] - b[0], 9) for p in pts for b in p["bins"]}
    rep.check(len(widths) == 1, "bins=30: equal-width bins, the same for every step", repr(widths))
    # the shape: a bell around the mean, not a needle at 0 (counts / bucket width)
    last = pts[-1]["bins"]
    peak = max(range(30), key=lambda i: last[i][2])
    centre = (last[peak][0] + last[peak][1]) / 2
    wide = sum(1 for b in last if b[2] > 0.02 * 2000)
    rep.check(abs(centre - 2.0) < 1.0 and wide >= 8 and last[peak][2] < 0.2 * 2000,
              "bins=30: a normal sample draws as a bell (peak near its mean 2, spread over 8+ bins)",
              "peak bin %d at %.3f holds %.0f; %d bins over 2%%" % (peak, centre, last[peak][2], wide))
    b10 = hist("w/normal", "bins=10")
    rep.check(all(len(p["bins"]) == 10 for p in b10), "bins=10: ten bins")

    c = hist("w/constant", "bins=30")
    lo, hi = 3 / 1.1 - 1, 3 * 1.1 + 1
    rep.check(len(c) == 3 and all(abs(p["bins"][0][0] - lo) < 1e-9 and abs(p["bins"][-1][1] - hi) < 1e-9
                                  for p in c),
              "constant input: the range widened as TensorBoard does ([v/1.1-1, v*1.1+1])",
              json.dumps(c[:1])[:300])
    full = [i for i, b in enumerate(c[0]["bins"]) if b[2] > 0] if c else []
    rep.check(len(full) == 1 and c[0]["bins"][full[0]][2] == 10 and
              c[0]["bins"][full[0]][0] <= 3 < c[0]["bins"][full[0]][1],
              "constant input: all 10 values in the one bin holding 3", repr(full))
    e = hist("w/empty", "bins=30")
    rep.check(len(e) == 1 and e[0]["bins"] == [], "empty histogram: no bins (nothing to draw)",
              json.dumps(e))
    o = hist("w/one", "bins=30")
    wo = normalized([data_compat(-1.0, 2.0, [0.0, 1.0, 2.0], [5.0, 3.0, 2.0])], 30)[0]
    rep.check(len(o) == 1 and len(o[0]["bins"]) == 30 and
              max(abs(g[2] - w[2]) for g, w in zip(o[0]["bins"], wo)) < 1e-6,
              "one-step series: rebinned over its own range", json.dumps(o)[:300])
    raw_answer = hist("w/normal", "")
    rep.check(all("buckets" in p and "bins" not in p for p in raw_answer),
              "without bins=: the stored buckets, as before")

    d = hist("w/normal", "distribution=1")
    worst = 0.0
    for p, s in zip(d, steps):
        wv = compress_histogram(data_compat(*raw[s]))
        gv = [fnum(v) for v in p.get("distribution", [])]
        if len(gv) != 9:
            worst = float("inf")
            break
        worst = max(worst, max(abs(a - b) for a, b in zip(gv, wv)))
    rep.check(len(d) == 5 and worst < 1e-9, "distribution=1: TensorBoard's compressed histogram "
              "at its nine basis points", "worst difference %g" % worst)
    de = hist("w/empty", "distribution=1")
    rep.check(de and de[0].get("distribution") == [0, 0, 0, 0, 0, 0, 0, 0, 0],
              "distribution=1 of an empty histogram: zeros, as TensorBoard", json.dumps(de))
    for q, what in [("bins=0", "bins=0"), ("bins=1001", "bins past the cap"), ("bins=abc", "bins=abc"),
                    ("bins=30&distribution=1", "both views at once"), ("distribution=2", "distribution=2")]:
        r = srv.get("%s/%s/histograms?tag=w/normal&run=h&%s" % (E, exp, q))
        rep.check(r.status == 400 and r.error_code() == "invalid_argument" and r.error().get("message"),
                  "histograms %s: 400 with a message" % what, r.short())

    # ---- scalars ----
    n = 20000
    ef = L.EventFile()
    vals = []
    for s in range(n):
        v = math.sin(s / 300.0) + 0.2 * math.sin(s * 1.7) + (9.0 if s == 12345 else 0.0)
        vals.append(f32(v))
        ef.add(L.ev_scalars_tf1(s, [("loss", v), ("lr", 1e-5 * (1 + s % 3))], wall=L.WALL0 + 100 + s * 0.5))
    srv.upload_file(tok, exp, "a", "events.out.tfevents.1.a", ef, records_per_group=5000)
    ef = L.EventFile()
    dvals = []
    for s in range(0, 300):
        v = 1.0 / (1 + s) + 1e-12 * s
        dvals.append(v)
        ef.add(L.ev_scalar_tf2("loss", s, v, wall=L.WALL0 + 5000 + s, dtype=L.DT_DOUBLE))
    srv.upload_file(tok, exp, "b", "events.out.tfevents.1.b", ef)

    def sc(q, run="a", tag="loss"):
        r = srv.get("%s/%s/scalars?tag=%s&run=%s&%s" % (E, exp, tag, run, q))
        if r.status != 200:
            rep.fail("scalars %s answers 200" % q, r.short())
            return None, r
        return r.json()["series"][0], r

    s, _ = sc("start_step=4000&end_step=4399&points=1000")
    rep.check(s and s["window_points"] == 400 and not s["downsampled"] and
              [p[1] for p in s["points"]] == list(range(4000, 4400)) and
              all(p[2] == vals[p[1]] for p in s["points"]),
              "start_step/end_step: a 400-step window of a 20,000-step series comes whole and exact",
              s and "%d points, downsampled %s" % (len(s["points"]), s["downsampled"]))
    s, _ = sc("")
    rep.check(s and s["downsampled"] and len(s["points"]) <= 1000 and s["total"] == n,
              "no window: downsampled to at most 1000 points", s and str(len(s["points"])))
    rep.check(s and max(p[2] for p in s["points"]) == max(vals),
              "downsampling keeps the maximum (a one-step spike at 12345)")
    s, _ = sc("start_step=10000&end_step=14999&points=500")
    rep.check(s and s["window_points"] == 5000 and s["downsampled"] and len(s["points"]) <= 500 and
              all(10000 <= p[1] <= 14999 for p in s["points"]) and
              any(p[1] == 12345 for p in s["points"]),
              "a window past ?points= is downsampled inside the window, the spike kept")
    rep.check(s and abs(s["first_wall_time"] - (L.WALL0 + 100)) < 1e-6,
              "first_wall_time: the series' first point, also for a window (relative time)")

    # smoothing over every point, whatever the window and the downsampling
    want_sm = ema(vals, 0.6)
    s1, _ = sc("smoothing=0.6&points=all")
    s2, _ = sc("smoothing=0.6&start_step=15000&end_step=15099")
    s3, _ = sc("smoothing=0.6&points=400")
    exact = s1 and all(abs(p[3] - want_sm[p[1]]) <= 1e-12 * max(1, abs(want_sm[p[1]])) for p in s1["points"])
    rep.check(exact, "smoothing=0.6: TensorBoard's debiased EMA over every point")
    rep.check(s2 and all(abs(p[3] - want_sm[p[1]]) <= 1e-12 * max(1, abs(want_sm[p[1]])) for p in s2["points"]),
              "smoothing in a window: the same values as smoothing the whole series")
    rep.check(s3 and all(abs(p[3] - want_sm[p[1]]) <= 1e-12 * max(1, abs(want_sm[p[1]])) for p in s3["points"]),
              "smoothing with downsampling: the smoothed line at the kept points, not smoothed kept points")
    coarse = ema([p[2] for p in s3["points"]], 0.6) if s3 else []
    off = max(abs(c - p[3]) for c, p in zip(coarse, s3["points"])) if s3 else 0
    rep.check(off > 0.05, "(smoothing the downsampled points instead would be off by %.3f)" % off)

    # layout and precision
    cols, _ = sc("layout=columns&start_step=0&end_step=99")
    rows, _ = sc("start_step=0&end_step=99")
    rep.check(cols and rows and cols["step"] == [p[1] for p in rows["points"]] and
              cols["value"] == [p[2] for p in rows["points"]] and
              cols["wall_time"] == [p[0] for p in rows["points"]],
              "layout=columns: the same points, one array per field")
    r = srv.get("%s/%s/scalars?tag=lr&run=a&start_step=0&end_step=2&precision=logged" % (E, exp))
    logged = r.json()["series"][0]["points"] if r.status == 200 else []
    rtext = r.body.decode()
    rep.check([p[2] for p in logged] == [1e-5, 2e-5, 3e-5] and "0.00001]" in rtext,
              "precision=logged: float32 values written as logged (1e-05, not 9.99999974737875e-06)",
              rtext[:300])
    r = srv.get("%s/%s/scalars?tag=loss&run=a&start_step=0&end_step=9&precision=display&layout=columns" % (E, exp))
    disp = r.json()["series"][0] if r.status == 200 else {}
    walls = re.search(r'"wall_time":\[([^\]]*)\]', r.body.decode())
    texts = walls.group(1).split(",") if walls else []
    want_w = [L.WALL0 + 100 + s * 0.5 for s in range(10)]
    rep.check(len(texts) == 10 and all(len((t.split(".") + [""])[1]) <= 3 for t in texts) and
              all(abs(a - b) <= 0.0005 for a, b in zip(disp.get("wall_time", []), want_w)) and
              [f32(v) for v in disp.get("value", [])] == vals[:10],
              "precision=display: wall times to the millisecond, float32 values as logged",
              json.dumps(disp)[:300])
    r = srv.get("%s/%s/scalars?tag=lr&run=a&start_step=0&end_step=2" % (E, exp))
    ex = r.json()["series"][0]["points"]
    rep.check([p[2] for p in ex] == [f32(1e-5), f32(2e-5), f32(3e-5)],
              "default precision: the exact stored doubles")
    # every number in the text has the fewest digits that read back (Python's repr is shortest)
    r = srv.get("%s/%s/scalars?tag=loss&run=b&points=all" % (E, exp))
    longer = []
    for tok_ in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", r.body.decode()):
        if "." not in tok_ and "e" not in tok_.lower():
            continue
        v = float(tok_)
        digits = len(re.sub(r"[^0-9]", "", ("%r" % v).split("e")[0]).lstrip("0").rstrip("0") or "0")
        got = len(re.sub(r"[^0-9]", "", tok_.split("e")[0].split("E")[0]).lstrip("0").rstrip("0") or "0")
        if got > digits:
            longer.append(tok_)
    vals_b = [p[2] for p in r.json()["series"][0]["points"]]
    rep.check(vals_b == dvals and not longer,
              "numbers: the shortest text that reads back as the same double (DT_DOUBLE data)",
              "longer than needed: %r" % longer[:5])

    for q, what in [("start_step=abc", "start_step=abc"), ("start_step=9&end_step=3", "start after end"),
                    ("smoothing=2", "smoothing=2"), ("smoothing=x", "smoothing=x"),
                    ("layout=grid", "layout=grid"), ("precision=some", "precision=some")]:
        r = srv.get("%s/%s/scalars?tag=loss&%s" % (E, exp, q))
        rep.check(r.status == 400 and r.error_code() == "invalid_argument" and r.error().get("message"),
                  "scalars %s: 400 with a message" % what, r.short())

    check_summary_charts(rep, srv, tok, exp, db=srv.db)

    # ---- compression ----
    path = "%s/%s/scalars?tag=loss&run=a&points=all" % (E, exp)
    plain = srv.get(path)
    gz = srv.get(path, headers={"Accept-Encoding": "gzip"})
    rep.check(plain.header("Content-Encoding") is None and "Accept-Encoding" in (plain.header("Vary") or ""),
              "no Accept-Encoding: plain JSON, Vary: Accept-Encoding")
    rep.check(gz.header("Content-Encoding") == "gzip" and gzip.decompress(gz.body) == plain.body and
              len(gz.body) < len(plain.body) / 2,
              "Accept-Encoding gzip: gzip, the same JSON (%d of %d bytes)" % (len(gz.body), len(plain.body)))
    zs = srv.get(path, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    zexe = shutil.which("zstd")
    if zexe:
        p = subprocess.run([zexe, "-d", "-q", "-c"], input=zs.body, stdout=subprocess.PIPE, timeout=60)
        rep.check(zs.header("Content-Encoding") == "zstd" and p.returncode == 0 and p.stdout == plain.body,
                  "Accept-Encoding with zstd (as Chromium sends it): zstd, the same JSON (%d bytes)" % len(zs.body))
    else:
        rep.check(zs.header("Content-Encoding") == "zstd", "Accept-Encoding with zstd: zstd")
    small = srv.get("/api/v1/health", headers={"Accept-Encoding": "gzip"})
    rep.check(small.header("Content-Encoding") is None, "a tiny answer is not compressed")

    # ---- the page's modules ----
    page = srv.get("/experiment/%s/" % exp)
    html = page.body.decode()
    mods = re.findall(r'<script type="module" src="(/static/[^"]+)"', html)
    rep.check(mods == ["/static/app.js"] and "<script>" not in html,
              "the page loads app.js as a module script, no inline script", repr(mods))
    csp = page.header("Content-Security-Policy") or ""
    rep.check("default-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp,
              "the CSP still says default-src 'self', without unsafe-inline", csp)
    for m in ["/static/app.js", "/static/experiment.js", "/static/dash_scalars.js", "/static/uPlot.esm.js"]:
        r = srv.get(m, headers={"Accept-Encoding": "gzip"})
        rep.check(r.status == 200 and r.content_type.startswith("text/javascript") and
                  r.header("X-Content-Type-Options") == "nosniff" and r.header("Content-Encoding") == "gzip",
                  "%s: 200, text/javascript, nosniff, compressed" % m, r.short(80))
    text = srv.get("/static/experiment.js").body.decode()
    imports = set(re.findall(r"from '\./([a-z_A-Z.]+\.js)'|import\('\./([a-z_]+\.js)'\)", text))
    missing = [a or b for a, b in imports if srv.get("/static/" + (a or b)).status != 200]
    rep.check(imports and not missing, "every module experiment.js imports is served", repr(missing))


if __name__ == "__main__":
    L.run_main("read views", body)
