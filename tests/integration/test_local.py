#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: `tbdev serve` (the local mode, `tbdev-server local`) end to end.

Usage:  test_local.py TBDEV_EXE TBDEV_SERVER_EXE

The real `tbdev serve` runs (it execs tbdev-server, found on PATH: the build's service/
folder is put first) on 127.0.0.1 with a private XDG_CACHE_HOME; requests go over plain HTTP
to the port it prints. Checks, one line each ("ok - NAME" / "not ok - NAME: WHY"):

  * the command line: --help (both binaries) is complete and exits 0; usage errors exit 2
    and say what to do; a missing tbdev-server is named with where it was looked for;
  * real corpus folders ($TBDEV_REAL_DATA; skipped when missing): one folder with --logdir,
    and all of them at once with --logdir_spec NAME:DIR,... (runs named NAME/run): every
    (run, tag) that `tbdev inspect --json` lists for the same folder is served with the same
    plugin, kind and count, and its data comes back from its endpoint (scalars, tensors,
    blobs, a blob's bytes) with that many points; nothing is served that inspect does not
    list; the values stored equal inspect's total;
  * live: a run, a file and records written while it serves appear within
    TBDEV_LOCAL_MAX_LATENCY seconds (default 6) each, exactly once, with their values; a
    record written in two pieces appears once whole; the experiment's update_time moves;
  * Ctrl-C (SIGINT) stops it with exit 0 and says so, also in the middle of reading a
    40 MB logdir; the next start goes on from the cache: nothing read again (records_read 0,
    bytes_resumed = bytes_total), only new records read after appends, and the stored values
    equal what was written (no loss, no duplicates);
  * a second `tbdev serve` on the same port fails at once, naming the port and --port; one of
    the same logdir fails naming the first one;
  * only the page and GETs of the read API are routed: every write (POST, PATCH, DELETE,
    events, sign-in, device login) and the account pages answer 404 or 405 and change
    nothing; / redirects to the experiment page; the page has a CSP of 'self' and no outside
    URL; it listens on loopback only, and --host 0.0.0.0 prints a warning;
  * a logdir that does not exist yet is waited for (with a message) and read once it appears;
  * the cache goes to $XDG_CACHE_HOME/tbdev, else ~/.cache/tbdev, or --db FILE;
  * no sanitizer report in any process's stderr.

Exits 0 or 1.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402

MAX_LATENCY = float(os.environ.get("TBDEV_LOCAL_MAX_LATENCY", "6"))
PAGE_RE = re.compile(r"TensorBoard-style page at (http://[^\s/]+)/")


class Serve:
    """One `tbdev serve` process, its output in files, and requests to it."""

    count = 0

    def __init__(self, t, args, cache=None, env=None, name=None):
        Serve.count += 1
        self.t = t
        self.args = list(args)
        self.name = name or "serve%d" % Serve.count
        self.out = os.path.join(t.tmp, self.name + ".out")
        self.err = os.path.join(t.tmp, self.name + ".err")
        e = {"XDG_CACHE_HOME": cache or t.cache, "HOME": t.home,
             "PATH": os.path.dirname(t.server) + ":" + os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(env or {})
        self.env = L.clean_env({k: v for k, v in e.items() if v is not None})
        for k, v in (env or {}).items():
            if v is None:
                self.env.pop(k, None)
        self.proc = None
        self.port = None

    def start(self, wait=True, timeout=60):
        self.proc = subprocess.Popen([self.t.tbdev, "serve"] + self.args,
                                     stdin=subprocess.DEVNULL, stdout=open(self.out, "wb"),
                                     stderr=open(self.err, "wb"), env=self.env, cwd=self.t.tmp)
        self.t.live.append(self)
        if not wait:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = PAGE_RE.search(self.stdout())
            if m:
                self.url = m.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s before printing its page: %s"
                                   % (self.name, self.proc.returncode, self.stderr()[-600:]))
            time.sleep(0.05)
        raise RuntimeError("%s printed no page link within %.0f s" % (self.name, timeout))

    def stdout(self):
        return L.tail_text(self.out, 1 << 20)

    def stderr(self):
        return L.tail_text(self.err, 1 << 20)

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGINT, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        if self in self.t.live:
            self.t.live.remove(self)
        return rc

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Host": "localhost:%d" % self.port}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def json(self, path):
        st, _, body = self.request("GET", path, headers={"Accept": "application/json"})
        if st != 200:
            raise RuntimeError("GET %s: %d %s" % (path, st, body[:300]))
        return json.loads(body)

    def local(self):
        return self.json("/api/v1/local")

    def wait_state(self, want="watching", timeout=300):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.local()
            if last["state"] == want:
                return last
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s: %s" % (self.name, self.proc.returncode,
                                                         self.stderr()[-600:]))
            time.sleep(0.1)
        raise RuntimeError("%s not %s within %.0f s: %s" % (self.name, want, timeout, last))

    def exp(self):
        return self.local()["experiment_id"]


class T:
    def __init__(self, rep, tbdev, server, tmp):
        self.rep, self.tbdev, self.server, self.tmp = rep, tbdev, server, tmp
        self.cache = os.path.join(tmp, "cache")
        self.home = os.path.join(tmp, "home")
        os.makedirs(self.home)
        self.live = []

    def check(self, name, why=None):
        return self.rep.check(name, why)


def q(s):
    return urllib.parse.quote(s, safe="")


def write_run(path, events, mode="ab"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        for e in events:
            f.write(e)


def scalar_records(tag, steps, wall0=1.7e9, scale=0.5):
    return [L.frame(L.scalar_event(wall0 + s, s, [(tag, s * scale)])) for s in steps]


def inspect(t, folder):
    p = subprocess.run([t.tbdev, "inspect", "--logdir", folder, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600,
                       env=L.clean_env())
    if p.returncode != 0:
        raise RuntimeError("inspect %s exited %d: %s" % (folder, p.returncode, p.stderr[-300:]))
    return json.loads(p.stdout)


# ---------------------------------------------------------------------------


def check_cli(t):
    p = subprocess.run([t.tbdev, "serve", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, env=L.clean_env())
    out = p.stdout.decode()
    missing = [f for f in ("--logdir", "--logdir_spec", "--port", "--host", "--db",
                           "--poll_interval", "--quiet", "Exit status", "tbdev upload")
               if f not in out]
    t.check("tbdev serve --help exits 0 and names every option",
            None if p.returncode == 0 and not missing else
            "exit %d, missing %s" % (p.returncode, missing))
    p = subprocess.run([t.server, "local", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, env=L.clean_env())
    t.check("tbdev-server local --help exits 0 with the same options",
            None if p.returncode == 0 and p.stdout.decode() == out else
            "exit %d: %s" % (p.returncode, p.stdout[:200]))
    cases = [
        ([], "missing --logdir"),
        (["--logdir", "a", "--logdir_spec", "x:b"], "not both"),
        (["--logdir_spec", "a:x,a:y"], "twice"),
        (["--logdir_spec", "a:x,,b:y"], "empty entry"),
        (["--logdir", "a", "--port", "70000"], "--port"),
        (["--logdir", "a", "--port", "abc"], "--port"),
        (["--logdir", "a", "--no_such_flag"], "--help"),
        (["--logdir", "a", "extra"], "unexpected argument"),
    ]
    for args, want in cases:
        p = subprocess.run([t.tbdev, "serve"] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, env=L.clean_env())
        err = p.stderr.decode()
        t.check("tbdev serve %s: a usage error (exit 2) saying %r" % (" ".join(args), want),
                None if p.returncode == 2 and want in err and "tbdev serve" in err else
                "exit %d: %s" % (p.returncode, err[-300:]))
    # a file given as the logdir
    afile = os.path.join(t.tmp, "not-a-dir")
    open(afile, "w").close()
    s = Serve(t, ["--logdir", afile, "--port", "0"]).start(wait=False)
    rc = s.wait_exit(20)
    t.check("a file given as --logdir: exit 1, saying it is not a directory",
            None if rc == 1 and "is not a directory" in s.stderr() else
            "exit %s: %s" % (rc, s.stderr()[-300:]))
    s.stop()
    # no tbdev-server beside tbdev nor on PATH
    lone = os.path.join(t.tmp, "lone")
    os.makedirs(lone)
    shutil.copy(t.tbdev, os.path.join(lone, "tbdev"))
    p = subprocess.run([os.path.join(lone, "tbdev"), "serve", "--logdir", t.tmp],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                       env=L.clean_env({"PATH": "/nonexistent-bin"}))
    err = p.stderr.decode()
    t.check("without tbdev-server, tbdev serve says where it looked (exit 1)",
            None if p.returncode == 1 and os.path.join(lone, "tbdev-server") in err
            and "/nonexistent-bin" in err else "exit %d: %s" % (p.returncode, err[-400:]))


def expected_tags(t, folder, prefix):
    """{(run, tag): (count, plugin, kind)} and the value total from inspect, runs prefixed."""
    d = inspect(t, folder)
    want = {}
    for r in d["runs"]:
        run = r["name"]
        if prefix:
            run = prefix if run == "." else prefix + "/" + run
        for tg in r["tags"]:
            want[(run, tg["tag"])] = (tg["count"], tg["plugin"], tg["kind"])
    return want, d["totals"]["values"], d


def served_tags(s, exp):
    got = {}
    for tg in s.json("/api/v1/experiments/%s/tags" % exp)["tags"]:
        got[(tg["run"], tg["tag"])] = (tg["points"], tg["plugin"], tg["kind"])
    return got


def check_data(t, s, exp, key, count, kind, label):
    """The tag's data from its endpoint (every page, restarts kept): count rows; a blob's bytes."""
    run, tag = key
    base = "/api/v1/experiments/%s/" % exp
    qs = "tag=%s&run=%s&restarts=keep" % (q(tag), q(run))
    if kind == "scalar":
        url = base + "scalars?" + qs + "&points=all"
    elif kind == "tensor":
        url = base + "tensors?" + qs + "&points=all"
    else:
        url = base + "blobs?" + qs
    rows, totals, token, pages = [], set(), None, 0
    while True:
        d = s.json(url + ("&page_token=" + q(token) if token else ""))
        pages += 1
        for sr in d["series"]:
            if sr["run"] != run:
                return "%s: a series of run %r asked for run %r" % (label, sr["run"], run)
            totals.add(sr["total"])
            # a row cut across pages appears once per page: count its first part only
            rows += [p for p in sr["points"] if not (isinstance(p, dict) and p.get("offset"))]
        token = d.get("next_page_token")
        if not token or pages > 1000:
            break
    if totals != {count} or len(rows) != count:
        return "%s %r/%r: total %s, %d rows in %d pages, want %d" % (
            kind, run, tag, sorted(totals), len(rows), pages, count)
    if kind == "blob_sequence":
        for pt in rows:
            for b in pt.get("blobs", [])[:1]:
                st, _, body = s.request("GET", b["url"])
                if st != 200:
                    return "blob %s of %r/%r: status %d, %d bytes" % (
                        b["sha256"][:12], run, tag, st, len(body))
            break
    return None


def check_folder_served(t, s, folders, label):
    """folders: [(path, prefix)] served by s. Compares every tag with inspect's."""
    want, total = {}, 0
    for path, prefix in folders:
        w, n, _ = expected_tags(t, path, prefix)
        want.update(w)
        total += n
    s.wait_state("watching", 600)
    exp = s.exp()
    got = served_tags(s, exp)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    t.check("%s: every (run, tag) inspect lists is served (%d)" % (label, len(want)),
            L.short(missing) if missing else None)
    t.check("%s: nothing served that inspect does not list" % label,
            L.short(extra) if extra else None)
    diff = ["%r: served %s, inspect %s" % (k, got[k], want[k]) for k in sorted(want)
            if k in got and got[k] != want[k]]
    t.check("%s: each tag's plugin, kind and count equal inspect's" % label,
            L.short(diff) if diff else None)
    bad = []
    for k in sorted(want):
        if k not in got:
            continue
        why = check_data(t, s, exp, k, want[k][0], want[k][2], label)
        if why:
            bad.append(why)
    kinds = sorted(set(v[2] for v in want.values()))
    plugins = sorted(set(v[1] for v in want.values()))
    t.check("%s: every tag's data comes back from its endpoint (%s; plugins %s)"
            % (label, ", ".join(kinds), ", ".join(p or "(none)" for p in plugins)),
            L.short(bad) if bad else None)
    loc = s.local()
    e = s.json("/api/v1/experiments/" + exp)
    t.check("%s: values stored = inspect's total (%d)" % (label, total),
            None if loc["values_stored"] == total and e["usage"]["points"] == total else
            "values_stored %s, usage %s" % (loc["values_stored"], e["usage"]))
    t.check("%s: read without warnings" % label,
            None if loc["warnings"] == 0 else "%d: %s" % (loc["warnings"], loc["last_warning"]))


def check_corpus(t):
    real = L.real_data_dir()
    if not os.path.isdir(real):
        t.rep.note("skip: no real data in %s" % real)
        return
    folders = sorted(d for d in os.listdir(real) if os.path.isdir(os.path.join(real, d)))
    one = "pytorch-1.13" if "pytorch-1.13" in folders else folders[0]
    s = Serve(t, ["--logdir", os.path.join(real, one), "--port", "0"]).start()
    check_folder_served(t, s, [(os.path.join(real, one), "")], "--logdir %s" % one)
    t.check("--logdir %s: Ctrl-C exits 0" % one, None if s.stop() == 0 else s.stderr()[-300:])
    spec = ",".join("%s:%s" % (d, os.path.join(real, d)) for d in folders)
    s = Serve(t, ["--logdir_spec", spec, "--port", "0"]).start()
    check_folder_served(t, s, [(os.path.join(real, d), d) for d in folders],
                        "--logdir_spec of %d folders" % len(folders))
    t.check("--logdir_spec: Ctrl-C exits 0", None if s.stop() == 0 else s.stderr()[-300:])


def wait_points(s, exp, run, tag, n, timeout):
    deadline = time.monotonic() + timeout
    pts = []
    while time.monotonic() < deadline:
        try:
            d = s.json("/api/v1/experiments/%s/scalars?tag=%s&run=%s&points=all&restarts=keep"
                       % (exp, q(tag), q(run)))
            pts = d["series"][0]["points"] if d["series"] else []
        except RuntimeError:
            pts = []
        if len(pts) >= n:
            return pts, time.monotonic()
        time.sleep(0.1)
    return pts, None


def check_live_and_restart(t):
    logdir = os.path.join(t.tmp, "live")
    os.makedirs(logdir)
    s = Serve(t, ["--logdir", logdir, "--port", "0"]).start()
    s.wait_state("watching", 60)
    exp = s.exp()
    f1 = os.path.join(logdir, "run1", "events.out.tfevents.1.host")
    f2 = os.path.join(logdir, "run1", "events.out.tfevents.2.host")
    f3 = os.path.join(logdir, "run2", "events.out.tfevents.3.host")
    before = s.json("/api/v1/experiments/" + exp)["update_time"]
    lat = []
    # a new run, then more records, then a second file in it, then another run
    plan = [(f1, "loss", range(0, 40), True), (f1, "loss", range(40, 60), False),
            (f2, "loss", range(60, 80), True), (f3, "acc", range(0, 30), True)]
    seen = {}
    for path, tag, steps, new in plan:
        run = os.path.basename(os.path.dirname(path))
        recs = ([L.file_version_record(1.7e9)] if new else []) + scalar_records(tag, steps)
        t0 = time.monotonic()
        write_run(path, recs)
        seen[(run, tag)] = seen.get((run, tag), 0) + len(steps)
        pts, t1 = wait_points(s, exp, run, tag, seen[(run, tag)], 30)
        lat.append(t1 - t0 if t1 else None)
    t.check("live: records written while it serves appear within %.0f s (new run, appended "
            "records, new file, another run): %s" % (MAX_LATENCY, ", ".join(
                "%.2f s" % x if x is not None else "never" for x in lat)),
            None if all(x is not None and x <= MAX_LATENCY for x in lat) else "too slow")
    # a record written in two pieces: it appears once whole
    rec = scalar_records("loss", [80])[0]
    write_run(f2, [rec[:20]])
    time.sleep(1.5)
    mid, _ = wait_points(s, exp, "run1", "loss", 81, 0.5)
    write_run(f2, [rec[20:]])
    pts, t1 = wait_points(s, exp, "run1", "loss", 81, 30)
    t.check("live: a record cut in two appears only once it is whole",
            None if len(mid) == 80 and t1 is not None else
            "points %d while cut, %d after" % (len(mid), len(pts)))
    steps = [p[1] for p in pts]
    vals = [p[2] for p in pts]
    t.check("live: every point once, with its value",
            None if steps == list(range(81)) and vals == [x * 0.5 for x in range(81)] else
            "steps %s" % L.short(steps, 12))
    after = s.json("/api/v1/experiments/" + exp)["update_time"]
    t.check("live: the experiment's update_time moves (the page polls it)",
            None if after > before else "%s -> %s" % (before, after))
    loc = s.local()
    t.check("live: no warnings, the partial record included",
            None if loc["warnings"] == 0 else loc["last_warning"])
    total_points = s.json("/api/v1/experiments/" + exp)["usage"]["points"]

    # a second serve on the same port; a second serve of the same logdir
    other = os.path.join(t.tmp, "other")
    os.makedirs(other)
    b = Serve(t, ["--logdir", other, "--port", str(s.port)]).start(wait=False)
    rc = b.wait_exit(20)
    err = b.stderr()
    t.check("a second tbdev serve on port %d fails at once, naming the port and --port" % s.port,
            None if rc == 1 and ("port %d is in use" % s.port) in err and "--port" in err else
            "exit %s: %s" % (rc, err[-400:]))
    b.stop()
    b = Serve(t, ["--logdir", logdir, "--port", "0"]).start(wait=False)
    rc = b.wait_exit(20)
    err = b.stderr()
    t.check("a second tbdev serve of the same logdir fails, naming the first one",
            None if rc == 1 and "another tbdev serve" in err and ("pid %d" % s.proc.pid) in err
            else "exit %s: %s" % (rc, err[-400:]))
    b.stop()

    check_closed(t, s, exp, total_points)

    rc = s.stop(signal.SIGINT)
    t.check("Ctrl-C: exit 0, saying it stopped", None if rc == 0 and "stopped" in s.stderr()
            else "exit %s: %s" % (rc, s.stderr()[-300:]))
    # restart: nothing read again
    s = Serve(t, ["--logdir", logdir, "--port", "0"]).start()
    loc = s.wait_state("watching", 60)
    e = s.json("/api/v1/experiments/" + exp) if s.exp() == exp else None
    t.check("restart: the same experiment, from the cache",
            None if e else "experiment %s, was %s" % (s.exp(), exp))
    t.check("restart: nothing read again (records_read 0, bytes_resumed = bytes_total)",
            None if loc["records_read"] == 0 and loc["bytes_resumed"] == loc["bytes_total"] > 0
            else str(loc))
    t.check("restart: the same points (%d)" % total_points,
            None if e and e["usage"]["points"] == total_points else e and e["usage"])
    t.check("restart: says it goes on from the cache",
            None if "read before" in s.stderr() else s.stderr()[-300:])
    t.check("restart: Ctrl-C exits 0", None if s.stop() == 0 else s.stderr()[-300:])
    # appended while stopped: only that is read
    write_run(f1, scalar_records("loss", range(100, 107)))
    f4 = os.path.join(logdir, "run3", "events.out.tfevents.4.host")
    write_run(f4, [L.file_version_record(1.7e9)] + scalar_records("x", range(5)))
    s = Serve(t, ["--logdir", logdir, "--port", "0"]).start()
    loc = s.wait_state("watching", 60)
    e = s.json("/api/v1/experiments/" + exp)
    t.check("restart after appends: only the 13 new records are read, 12 values stored",
            None if loc["records_read"] == 13 and loc["values_stored"] == 12 else str(loc))
    t.check("restart after appends: points = before + 12",
            None if e["usage"]["points"] == total_points + 12 else e["usage"])
    t.check("restart after appends: Ctrl-C exits 0", None if s.stop() == 0 else s.stderr()[-300:])


def check_closed(t, s, exp, points):
    """Only the page and the read API: writes and account endpoints are not there."""
    ev = b"\x0a" + bytes([3]) + b"run"  # a WriteEventsRequest's start: never decoded here
    tries = [
        ("POST", "/api/v1/experiments", b"\x0a\x01x", {"Content-Type": "application/x-protobuf"}),
        ("PATCH", "/api/v1/experiments/" + exp, b"\x0a\x01x",
         {"Content-Type": "application/x-protobuf"}),
        ("DELETE", "/api/v1/experiments/" + exp, None, None),
        ("POST", "/api/v1/experiments/%s/events" % exp, ev,
         {"Content-Type": "application/x-protobuf", "Authorization": "Bearer tbdev_x"}),
        ("DELETE", "/api/v1/experiments/%s/runs?run=run1" % exp, None, None),
        ("GET", "/api/v1/experiments/%s/cursors" % exp, None, None),
        ("GET", "/api/v1/experiments", None, None),
        ("GET", "/api/v1/server-info", None, None),
        ("POST", "/api/v1/login", b'{"user":"local","password":"x"}',
         {"Content-Type": "application/json"}),
        ("POST", "/api/v1/logout", b"{}", {"Content-Type": "application/json"}),
        ("POST", "/api/v1/device/code", b"", {"Content-Type": "application/x-protobuf"}),
        ("POST", "/api/v1/device/token", b"", {"Content-Type": "application/x-protobuf"}),
        ("POST", "/api/v1/device/pending", b'{"user_code":"x"}',
         {"Content-Type": "application/json"}),
        ("POST", "/api/v1/device/approve", b'{"user_code":"x"}',
         {"Content-Type": "application/json"}),
        ("GET", "/api/v1/me", None, None),
        ("DELETE", "/api/v1/me/token", None, {"Authorization": "Bearer tbdev_x"}),
        ("GET", "/api/v1/sessions", None, None),
        ("DELETE", "/api/v1/sessions/1", None, None),
        ("GET", "/api/v1/users/local/experiments", None, None),
        ("GET", "/device", None, None),
        ("GET", "/user/local", None, None),
        ("PUT", "/api/v1/experiments/" + exp, b"x", None),
    ]
    bad = []
    for method, path, body, headers in tries:
        st, _, data = s.request(method, path, body, headers)
        if st not in (404, 405):
            bad.append("%s %s: %d %s" % (method, path, st, data[:80]))
    t.check("writes, sign-in, device login and account pages are not routed (404/405, %d tried)"
            % len(tries), L.short(bad) if bad else None)
    e = s.json("/api/v1/experiments/" + exp)
    t.check("... and nothing changed", None if e["usage"]["points"] == points else e["usage"])
    st, h, _ = s.request("GET", "/")
    t.check("/ redirects to the experiment page",
            None if st == 302 and h.get("location") == "/experiment/%s/" % exp else
            "%d %s" % (st, h.get("location")))
    st, h, page = s.request("GET", "/experiment/%s/" % exp)
    csp = h.get("content-security-policy", "")
    outside = re.findall(rb"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    t.check("the page: 200, CSP default-src 'self', no outside URL",
            None if st == 200 and "default-src 'self'" in csp and not outside else
            "%d csp=%r outside=%r" % (st, csp, outside[:3]))
    st, _, _ = s.request("GET", "/api/v1/local", headers={"Host": "evil.example:%d" % s.port})
    t.check("another Host header is refused (DNS rebinding)", None if st == 421 else str(st))
    # loopback only: this machine's other address does not answer
    addr = None
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.connect(("10.255.255.255", 1))
        addr = u.getsockname()[0]
        u.close()
    except OSError:
        pass
    if addr and not addr.startswith("127."):
        try:
            c = socket.create_connection((addr, s.port), timeout=3)
            c.close()
            t.check("listens on loopback only", "%s:%d accepted a connection" % (addr, s.port))
        except OSError:
            t.check("listens on loopback only (%s:%d refused)" % (addr, s.port))
    else:
        t.rep.note("no non-loopback address to try")


def check_ctrl_c_mid_read(t):
    logdir = os.path.join(t.tmp, "big")
    recs = [L.frame(L.scalar_event(1.7e9 + s, s, [("a", float(s)), ("b", -float(s))]))
            for s in range(64)]
    block = b"".join(recs)
    per_file = 20 << 20
    n_files = 2
    reps = per_file // len(block)
    for i in range(n_files):
        write_run(os.path.join(logdir, "r%d" % i, "events.out.tfevents.%d.big" % i),
                  [L.file_version_record(1.7e9), block * reps], mode="wb")
    values = n_files * reps * 64 * 2
    s = Serve(t, ["--logdir", logdir, "--port", "0"]).start()
    loc = s.local()
    tags = s.json("/api/v1/experiments/%s/tags" % loc["experiment_id"])["tags"]
    t.check("the link comes once the first batch is stored: a page opened from it has data",
            None if loc["batches"] >= 1 and tags else "%s, %d tags" % (loc, len(tags)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and loc["batches"] < 1 and loc["state"] != "watching":
        time.sleep(0.02)
        loc = s.local()
    mid = loc["state"] != "watching"
    t0 = time.monotonic()
    rc = s.stop(signal.SIGINT, 60)
    secs = time.monotonic() - t0
    t.check("Ctrl-C while reading 40 MB%s: exit 0 in %.1f s" % (
        "" if mid else " (it had finished: too fast to catch)", secs),
        None if rc == 0 and secs < 30 else "exit %s after %.1f s: %s" % (
            rc, secs, s.stderr()[-300:]))
    s = Serve(t, ["--logdir", logdir, "--port", "0"]).start()
    loc = s.wait_state("watching", 600)
    e = s.json("/api/v1/experiments/" + loc["experiment_id"])
    t.check("after Ctrl-C mid-read: the next start goes on from what was stored%s" % (
        " (%d of %d bytes)" % (loc["bytes_resumed"], loc["bytes_total"]) if mid else ""),
        None if not mid or 0 < loc["bytes_resumed"] < loc["bytes_total"] else str(loc))
    t.check("after Ctrl-C mid-read: every value stored once (%d)" % values,
            None if e["usage"]["points"] == values else e["usage"])
    s.stop()


def check_waiting_and_host(t):
    later = os.path.join(t.tmp, "later", "logs")
    s = Serve(t, ["--logdir", later, "--port", "0", "--db",
                  os.path.join(t.tmp, "explicit.db")]).start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "waiting for" not in s.stderr():
        time.sleep(0.1)
    loc = s.local()
    t.check("a missing logdir is waited for, with a message",
            None if loc["state"] == "waiting" and ("waiting for %s to appear" % later)
            in s.stderr() else "%s / %s" % (loc["state"], s.stderr()[-300:]))
    t.check("--db FILE is the cache", None if os.path.exists(os.path.join(t.tmp, "explicit.db"))
            else os.listdir(t.tmp))
    write_run(os.path.join(later, "events.out.tfevents.9.h"),
              [L.file_version_record(1.7e9)] + scalar_records("m", range(10)))
    t0 = time.monotonic()
    pts, t1 = wait_points(s, s.exp(), ".", "m", 10, 30)
    t.check("... and read once it appears (%s)" % ("%.1f s" % (t1 - t0) if t1 else "never"),
            None if t1 is not None and t1 - t0 <= MAX_LATENCY else "%d points" % len(pts))
    s.stop()
    t.check("the cache is in $XDG_CACHE_HOME/tbdev",
            None if any(f.endswith(".db") for f in os.listdir(os.path.join(t.cache, "tbdev")))
            else os.listdir(t.cache))
    cdir = os.path.join(t.cache, "tbdev")
    modes = {f: oct(os.stat(os.path.join(cdir, f)).st_mode & 0o777) for f in os.listdir(cdir)}
    modes["."] = oct(os.stat(cdir).st_mode & 0o777)
    t.check("the cache folder is 0700 and its files 0600 (the logs are the user's own)",
            None if all(m == ("0o700" if f == "." else "0o600") for f, m in modes.items())
            else str(modes))
    # no XDG_CACHE_HOME: ~/.cache/tbdev; and --host 0.0.0.0 warns
    d = os.path.join(t.tmp, "hostdir")
    os.makedirs(d)
    s = Serve(t, ["--logdir", d, "--port", "0", "--host", "0.0.0.0"],
              env={"XDG_CACHE_HOME": None}).start()
    s.wait_state("watching", 30)
    err = s.stderr()
    t.check("--host 0.0.0.0 prints a warning that anyone can read the logs",
            None if "warning: listening on 0.0.0.0" in err and "anyone" in err else err[-300:])
    home_cache = os.path.join(t.home, ".cache", "tbdev")
    t.check("without XDG_CACHE_HOME the cache is in ~/.cache/tbdev",
            None if os.path.isdir(home_cache) and any(
                f.startswith("hostdir-") and f.endswith(".db") for f in os.listdir(home_cache))
            else str(os.listdir(t.home)))
    s.stop()


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE\n" % argv[0])
        return 2
    rep = L.Reporter()
    tbdev, server = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if not L.check_exes(rep, tbdev, server):
        return rep.finish()
    tmp = L.make_tempdir("tbdev-local-")
    t = T(rep, tbdev, server, tmp)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        for step in (check_cli, check_corpus, check_live_and_restart, check_ctrl_c_mid_read,
                     check_waiting_and_host):
            try:
                step(t)
            except Exception as e:  # a broken step is a failure; the others still run
                import traceback
                rep.check("%s finished" % step.__name__, "%s: %s | %s" % (
                    type(e).__name__, e, traceback.format_exc().replace("\n", " | ")[-800:]))
                for s in list(t.live):
                    rep.note("%s stderr: %s" % (s.name, s.stderr()[-500:]))
    finally:
        for s in list(t.live):
            s.stop(signal.SIGKILL)
        L.finish_tmp(rep, tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
