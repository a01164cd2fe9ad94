#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: uploads never fail on real logs, in every writer's encoding, at any size,
with any name (issue 11).

Usage:  test_upload_shapes.py TBDEV_EXE TBDEV_SERVER_EXE SCALAR_FORMS_EXE

A real tbdev-server runs on 127.0.0.1 over HTTPS with a real SQLite file; the real `tbdev`
uploads logdirs that tests/tools/scalar_forms writes byte for byte as each writer does.
Checks:
  * a 1M-point logdir in each scalar form (simple_value, tensor_content, packed float_val
    with metadata on the first event only, double_val; and at 200k points: half_val,
    unpacked float_val and double_val, tensor_content without data_class, float_val with
    metadata on every event) uploads completely: exit 0, every point stored (runs' point
    counts), values exact at full resolution on a step window; histogram tensors likewise;
  * a run whose name is over the limit is skipped with a warning that names it and counts its
    values; every other run uploads and the upload exits 0; a tag of 1,000 bytes (over the
    old 400-byte check) uploads, one over the limit is skipped with a warning;
  * `--dry_run` needs no server or login and its totals equal `tbdev inspect`'s, on the
    shared real event files and on a synthetic logdir; `--plugins` left-outs are reported;
  * a different file under a name already uploaded (a re-run into the same folder) is
    uploaded whole as a new file of the run, and said so; a file truncated below what was
    uploaded is reported and not read again;
  * `--experiment_id` with `--visibility private` and `--name` changes the experiment;
  * the counting rule: inspect, upload and list agree on values and tags for pytorch-1.13
    (graph events included);
  * an unknown --plugins name is a usage error listing the known ones; a plugin the server
    refuses is reported per plugin, in the progress and in the final summary;
  * a request the server still refuses as too large is split, and everything arrives.

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0 or 1 (77 when openssl is missing).
"""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402
import wire as W  # noqa: E402

BIG = int(os.environ.get("TBDEV_SHAPES_POINTS", "1000000"))


def forms(exe, d, runs, tags, steps, form):
    subprocess.run([exe, d, str(runs), str(tags), str(steps), form], check=True, timeout=600)


class Ctx:
    def __init__(self, rep, tbdev, server_exe, forms_exe, tmp):
        self.rep, self.tbdev, self.server_exe, self.forms_exe, self.tmp = (
            rep, tbdev, server_exe, forms_exe, tmp)
        self.n = 0

    def start(self, extra=()):
        self.n += 1
        work = os.path.join(self.tmp, "srv%d" % self.n)
        os.makedirs(work)
        cert, key_ = L.make_cert(work)
        db = os.path.join(work, "tbdev.db")
        token = L.add_user(self.server_exe, db)
        server = L.Server(self.server_exe, work, db, cert, key_, extra_args=extra)
        url = server.start()
        client = L.Client(self.tbdev, os.path.join(work, "home"), url=url, token=token,
                          cacert=cert)
        api = L.Api(url, token, cert)
        return server, client, api, work

    def logdir(self, name):
        d = os.path.join(self.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        return d


def points_by_run(api, exp):
    return {r["name"]: r["points"] for r in api.runs(exp)}


def upload(client, logdir, *more, timeout=1200):
    return client.run(["upload", "--logdir", logdir, "--one_shot"] + list(more), timeout=timeout)


def check_form(c, client, api, form, steps, tags=5):
    rep = c.rep
    d = c.logdir("logs-" + form)
    forms(c.forms_exe, d, 1, tags, steps, form)
    rc, out, err = upload(client, d, "--name", form)
    exp = L.experiment_id_of(out)
    ok = rep.check("%s: %d points upload, exit 0" % (form, steps * tags),
                   None if rc == 0 and exp else "exit %s: %s" % (rc, err[-600:]))
    if not ok:
        return
    got = points_by_run(api, exp)
    rep.check("%s: every point stored" % form,
              None if got == {"run_0": steps * tags} else "runs %r" % got)
    # Values at full resolution in a window of the last steps, exact in the form's dtype.
    hist = form.startswith("hist")
    if hist:
        doc = api.get_json("/api/v1/experiments/%s/histograms" % exp,
                           {"tag": "metrics/tag_1", "points": "all"})
        series = doc["series"][0]
        rep.check("%s: every histogram readable" % form,
                  None if series["total"] == steps else "total %r" % series["total"])
        return
    s = api.scalars(exp, "metrics/tag_1")["run_0"]
    rep.check("%s: the tag's series is whole" % form,
              None if len(s) == steps else "%d points" % len(s))
    bad = []
    for wall, step, value in s[-200:]:
        want = 1 + step / 1000.0
        tol = 2e-3 * abs(want) if form == "half" else 1e-6 * abs(want)
        if abs(value - want) > tol:
            bad.append((step, value, want))
    rep.check("%s: values exact" % form, None if not bad else "e.g. %r" % bad[:3])
    m = re.search(r"(\d+) values, ", err)
    rep.check("%s: the summary counts every value" % form,
              None if m and int(m.group(1)) == steps * tags else "stderr: %s" % err[-300:])


def nested_long(base, total):
    """A run folder whose relative path is over `total` bytes, in components of 200."""
    parts, n = [], 0
    while n <= total:
        parts.append("n" * 200)
        n += 201
    return os.path.join(base, *parts)


def write_events(path, payloads):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(L.file_version_record(1700000000.0))
        for p in payloads:
            f.write(W.frame(p))


def scalar(tag, step, value, wall=1700000000.0):
    return L.scalar_event(wall + step, step, [(tag, value)])


def check_names(c, client, api):
    rep = c.rep
    d = c.logdir("logs-names")
    for r in ("ok_a", "ok_b"):
        write_events(os.path.join(d, r, "events.out.tfevents.1.h"),
                     [scalar("loss", s, float(s)) for s in range(100)])
    long_run = nested_long(d, 1024)
    write_events(os.path.join(long_run, "events.out.tfevents.1.h"),
                 [scalar("loss", s, float(s)) for s in range(37)])
    tag1000, tag1100 = "t" * 1000, "u" * 1100
    write_events(os.path.join(d, "ok_c", "events.out.tfevents.1.h"),
                 [L.scalar_event(1700000000.0 + s, s, [(tag1000, 1.0), ("fine", 2.0)])
                  for s in range(10)] +
                 [L.scalar_event(1700000100.0 + s, s, [(tag1100, 3.0)]) for s in range(5)])
    rc, out, err = upload(client, d)
    exp = L.experiment_id_of(out)
    rep.check("a run name over the limit: the upload exits 0", None if rc == 0 and exp else
              "exit %s: %s" % (rc, err[-800:]))
    if not exp:
        return
    got = points_by_run(api, exp)
    rep.check("every other run uploads",
              None if got == {"ok_a": 100, "ok_b": 100, "ok_c": 20} else "runs %r" % got)
    rep.check("the warning names the long run and counts its 37 values",
              None if re.search(r"run 'n{60}\.\.\.' \(\d+ bytes\).*its 37 values are skipped",
                                err) else "stderr: %s" % err[-800:])
    tags = api.get_json("/api/v1/experiments/%s/tags" % exp)["tags"]
    rep.check("a 1,000-byte tag uploads",
              None if any(t["tag"] == tag1000 for t in tags) else "tags %r" % [
                  t["tag"][:20] for t in tags])
    rep.check("a tag over the limit is skipped with a warning",
              None if "u" * 60 in err and not any(t["tag"] == tag1100 for t in tags) else
              "stderr: %s" % err[-600:])


def inspect_totals(client, d):
    rc, out, err = client.run(["inspect", "--logdir", d, "--json"], timeout=600)
    if rc != 0:
        return None
    return json.loads(out)["totals"]


def check_dry_run(c, client_nologin):
    rep = c.rep
    real = L.real_data_dir()
    dirs = [("synthetic", None)]
    if real:
        dirs += [(name, os.path.join(real, name)) for name in sorted(os.listdir(real))
                 if os.path.isdir(os.path.join(real, name))]
    else:
        rep.note("SKIP real-data dry runs: ../shared/testdata/real is missing")
    for name, d in dirs:
        if d is None:
            d = c.logdir("logs-dry")
            forms(c.forms_exe, d, 3, 4, 500, "float_val")
            forms(c.forms_exe, os.path.join(d, "h"), 1, 2, 50, "hist_double")
        want = inspect_totals(client_nologin, d)
        rc, out, err = client_nologin.run(["upload", "--logdir", d, "--dry_run", "--json"],
                                          timeout=600)
        if not rep.check("dry run of %s: exit 0 without a server or login" % name,
                         None if rc == 0 else "exit %s: %s" % (rc, err[-400:])):
            continue
        got = json.loads(out)["totals"]
        diff = {k: (want.get(k), got.get(k)) for k in ("runs", "files", "tags", "values",
                                                       "records", "bytes")
                if want is None or want.get(k) != got.get(k)}
        rep.check("dry run of %s: totals equal tbdev inspect's" % name,
                  None if not diff else "inspect vs dry run: %r" % diff)
    d = os.path.join(c.tmp, "logs-dry")
    rc, out, err = client_nologin.run(["upload", "--logdir", d, "--dry_run", "--json",
                                       "--plugins", "scalars"], timeout=600)
    doc = json.loads(out) if rc == 0 else {}
    left = doc.get("totals", {}).get("left_out_by_plugin", {})
    rep.check("dry run reports what --plugins leaves out",
              None if left == {"histograms": 100} else "exit %s, left out %r" % (rc, left))
    rc, out, err = client_nologin.run(["upload", "--logdir", d, "--dry_run"], timeout=600)
    rep.check("dry run's table says per run what would be sent",
              None if rc == 0 and re.search(r"run run_0 .* 2001 records, \d+ bytes, 4 tags, "
                                            r"2000 values", out) and "by plugin: scalars 2000"
              in out else "exit %s: %s" % (rc, out[-600:]))


def check_replaced(c, client, api):
    rep = c.rep
    d = c.logdir("logs-replaced")
    path = os.path.join(d, "run", "events.out.tfevents.1.fixed")
    write_events(path, [scalar("loss", s, 1.0) for s in range(50)])
    rc, out, err = upload(client, d)
    exp = L.experiment_id_of(out)
    if not rep.check("first upload of the file", None if rc == 0 and exp else err[-400:]):
        return
    # A re-run writes a new file under the same name: other wall times, more points.
    os.remove(path)
    write_events(path, [scalar("loss", s, 2.0, wall=1800000000.0) for s in range(80)])
    rc, out, err = upload(client, d, "--experiment_id", exp)
    got = points_by_run(api, exp)
    rep.check("a different file under the same name is uploaded whole as a new file",
              None if rc == 0 and got == {"run": 130} else "exit %s, runs %r: %s" % (
                  rc, got, err[-600:]))
    rep.check("and the uploader says so",
              None if "uploading it as 'events.out.tfevents.1.fixed#2'" in err else err[-600:])
    cur = api.get_json("/api/v1/experiments/%s/cursors" % exp)["cursors"]
    rep.check("the server keeps both files with their fingerprints",
              None if sorted(x["file"] for x in cur) == ["events.out.tfevents.1.fixed",
                                                           "events.out.tfevents.1.fixed#2"]
              and all(x["fingerprint_len"] > 0 for x in cur) else "cursors %r" % cur)
    rc, out, err = upload(client, d, "--experiment_id", exp)
    got = points_by_run(api, exp)
    rep.check("resuming again sends nothing twice",
              None if rc == 0 and got == {"run": 130} else "exit %s, runs %r" % (rc, got))
    # Truncated below what was uploaded: reported, not read again from the middle.
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])
    rc, out, err = upload(client, d, "--experiment_id", exp)
    got = points_by_run(api, exp)
    rep.check("a truncated file is reported and not read again",
              None if rc == 0 and got == {"run": 130} and "truncated" in err else
              "exit %s, runs %r: %s" % (rc, got, err[-500:]))


def check_metadata(c, client, api, anon):
    rep = c.rep
    d = c.logdir("logs-meta")
    write_events(os.path.join(d, "r", "events.out.tfevents.1.h"),
                 [scalar("loss", s, 1.0) for s in range(3)])
    rc, out, err = upload(client, d, "--name", "before")
    exp = L.experiment_id_of(out)
    if not rep.check("upload for metadata", None if exp else err[-300:]):
        return
    rc, out, err = upload(client, d, "--experiment_id", exp, "--visibility", "private",
                          "--name", "after", "--description", "now *private*")
    e = api.get_json("/api/v1/experiments/%s" % exp)
    rep.check("--experiment_id with --name/--description/--visibility applies them",
              None if rc == 0 and e["name"] == "after" and e["visibility"] == "private" and
              e["description"] == "now *private*" else "exit %s, %r" % (rc, e))
    status, _ = anon.get("/api/v1/experiments/%s" % exp)
    rep.check("the experiment is now private (404 signed out)",
              None if status == 404 else "HTTP %s" % status)


def check_counting(c, client, api):
    rep = c.rep
    real = L.real_data_dir()
    if not real:
        rep.note("SKIP counting rule: ../shared/testdata/real is missing")
        return
    d = os.path.join(real, "pytorch-1.13")
    want = inspect_totals(client, d)
    rc, out, err = upload(client, d)
    exp = L.experiment_id_of(out)
    m = re.search(r"(\d+) values, ", err)
    rc2, lout, lerr = client.run(["list", "--json"])
    listed = [e for e in json.loads(lout)["experiments"] if e["id"] == exp] if rc2 == 0 else []
    lv = (listed[0]["scalars"] + listed[0]["tensors"] + listed[0]["blobs"]) if listed else None
    lt = listed[0]["tags"] if listed else None
    rep.check("one counting rule: inspect, upload and list agree (values, tags)",
              None if want and m and int(m.group(1)) == want["values"] == lv and
              want["tags"] == lt else "inspect %s/%s, upload %s, list %s/%s" % (
                  want and want["values"], want and want["tags"], m and m.group(1), lv, lt))


def check_plugins(c, client):
    rep = c.rep
    d = c.logdir("logs-plugins")
    forms(c.forms_exe, d, 1, 1, 10, "simple")
    rc, out, err = client.run(["upload", "--logdir", d, "--plugins", "scalars,imagez"])
    rep.check("an unknown --plugins name is a usage error that lists the known ones",
              None if rc == 2 and "imagez" in err and "histograms" in err else
              "exit %s: %s" % (rc, err[-300:]))


def check_refused_plugin(c):
    rep = c.rep
    server, client, api, work = c.start(["--allowed_plugins", "scalars,images"])
    try:
        d = c.logdir("logs-refused")
        forms(c.forms_exe, d, 1, 1, 30, "simple")
        forms(c.forms_exe, os.path.join(d, "h"), 1, 1, 20, "hist_double")
        # By default the uploader leaves out what the server does not accept, and says so;
        # asked for it anyway, it sends it, and the server's refusal is reported the same way.
        for more in ([], ["--plugins", "scalars,histograms"]):
            rc, out, err = upload(client, d, *more)
            exp = L.experiment_id_of(out)
            got = points_by_run(api, exp) if exp else {}
            rep.check("data the server refuses is reported per plugin, never silently dropped"
                      " (%s)" % (" ".join(more) or "default"),
                      None if rc == 0 and got == {"run_0": 30} and
                      "does not accept plugin 'histograms'" in err and
                      re.search(r"plugin\s+histograms\s+20", err) else
                      "exit %s runs %r: %s" % (rc, got, err[-600:]))
    finally:
        server.stop()


def check_restarts(c, client, api):
    """A job restarted from step 5 writes steps 5-9 again: TensorBoard hides the first run's
    values at those steps for every kind, not only scalars; storage keeps them all."""
    rep = c.rep
    d = c.logdir("logs-restart")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import server_lib as S

    def events(first, last, gen):
        out = []
        for st in range(first, last):
            png = S.make_png(2, 2, (gen * 100, st * 20, 0))
            out.append(L.event_pb(1700000000.0 + gen * 1000 + st, st, summary_values=[
                L.value_pb("img", image=L.image_pb(2, 2, 3, png)),
                # the first job's rows that the restart hides span 40-100: the rebinning's
                # range must not include them
                L.value_pb("h", histo=L.histo_pb(40, 100, 1, 1, 1, [50.0, 100.0], [gen, st])
                           if gen == 1 and st >= 5 else
                           L.histo_pb(0, 1, 1, 1, 1, [0.5, 1.0], [gen, st])),
                L.value_pb("loss", simple=float(gen * 100 + st))]))
        return out
    write_events(os.path.join(d, "run", "events.out.tfevents.1.h"),
                 events(0, 10, 1) + events(5, 10, 2))
    rc, out, err = upload(client, d)
    exp = L.experiment_id_of(out)
    if not rep.check("restarted run uploads", None if rc == 0 and exp else err[-300:]):
        return
    E = "/api/v1/experiments/%s/" % exp

    def steps(path, tag, keep=False):
        q = {"tag": tag, "points": "all"}
        if keep:
            q["restarts"] = "keep"
        doc = api.get_json(E + path, q)
        return [(p["step"], p["wall_time"] >= 1700002000) for p in doc["series"][0]["points"]]
    want = [(st, st >= 5) for st in range(10)]
    for path, tag in (("blobs", "img"), ("histograms", "h"), ("tensors", "h")):
        got = steps(path, tag)
        rep.check("restart rule for %s: steps 5-9 only from the restarted job" % path,
                  None if got == want else "got %r" % got)
        kept = steps(path, tag, keep=True)
        rep.check("restarts=keep shows every stored %s row" % path,
                  None if len(kept) == 15 else "got %d rows" % len(kept))
    doc = api.get_json(E + "histograms", {"tag": "h", "points": "all", "bins": "30"})
    right = max(b[1] for p in doc["series"][0]["points"] for b in p["bins"])
    rep.check("the rebinned histograms' range is that of the rows shown: right edge %g" % right,
              None if right <= 1.0 else "bins reach %g, from rows a restart hides" % right)
    got = [p[1] for p in api.scalars(exp, "loss")["run"]]
    rep.check("and scalars likewise", None if got == list(range(5)) + list(range(5, 10)) else
              repr(got))


def check_split(c):
    """Records of many empty values keep far more than their bytes: the server refuses the
    request as too large for its decoding cap, and the uploader splits it until it fits."""
    rep = c.rep
    server, client, api, work = c.start(["--record_bytes", "1024"])
    try:
        d = c.logdir("logs-split")
        values = [W.f_bytes(1, W.f_bytes(1, b"e%d" % (i % 7))) for i in range(150)]
        payloads = [W.f_double(1, 1700000000.0 + s) + W.f_varint(2, s) +
                    W.f_bytes(5, b"".join(values)) for s in range(3000)]
        write_events(os.path.join(d, "r", "events.out.tfevents.1.h"), payloads)
        rc, out, err = upload(client, d, "--verbose")
        exp = L.experiment_id_of(out)
        got = points_by_run(api, exp) if exp else {}
        rep.check("a request refused as too large is split and everything arrives",
                  None if rc == 0 and got == {"r": 3000 * 150} and "refused" in err else
                  "exit %s runs %r: %s" % (rc, got, err[-500:]))
    finally:
        server.stop()


class Anon:
    """GETs signed out."""

    def __init__(self, url, cacert):
        import ssl
        self.url, self.ctx = url.rstrip("/"), ssl.create_default_context(cafile=cacert)

    def get(self, path):
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen(self.url + path, context=self.ctx, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE SCALAR_FORMS_EXE\n" % argv[0])
        return 2
    tbdev, server_exe, forms_exe = (os.path.abspath(a) for a in argv[1:])
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    rep = L.Reporter()
    if not L.check_exes(rep, tbdev, server_exe):
        return rep.finish()
    tmp = L.make_tempdir("tbdev-shapes-")
    c = Ctx(rep, tbdev, server_exe, forms_exe, tmp)
    server = None
    try:
        server, client, api, work = c.start()
        anon = Anon(server.url, os.path.join(work, "cert.pem"))
        nologin = L.Client(tbdev, os.path.join(tmp, "nologin"))
        check_plugins(c, client)
        check_dry_run(c, nologin)
        check_names(c, client, api)
        check_replaced(c, client, api)
        check_metadata(c, client, api, anon)
        check_counting(c, client, api)
        check_restarts(c, client, api)
        for form in ("simple", "content", "float_val", "double"):
            check_form(c, client, api, form, BIG // 5)
        for form in ("half", "float_unpacked", "double_unpacked", "content_nodc",
                     "float_val_every"):
            check_form(c, client, api, form, BIG // 25)
        for form in ("hist_double", "hist_float"):
            check_form(c, client, api, form, BIG // 250, tags=2)
        server.stop()
        server = None
        check_refused_plugin(c)
        check_split(c)
    finally:
        if server:
            server.stop()
        L.finish_tmp(rep, tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
