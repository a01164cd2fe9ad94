#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: self-hosting with the files in deploy/.

Usage:  test_deploy.py TBDEV_EXE TBDEV_SERVER_EXE [unit] [metadata] [quickstart] [backup]

With no check names, all three run. Python 3 standard library only.

1. unit: deploy/tbdev-server.service
   - the hardening directives are there (NoNewPrivileges=yes, ProtectSystem=strict,
     StateDirectory=tbdev, a User= that is not root, PrivateTmp=yes), the database on
     ExecStart lies in the StateDirectory (ProtectSystem=strict leaves nothing else writable),
     and every TBDEV_* variable in tbdev-server.env.example is one `serve --help` knows;
   - `systemd-analyze verify` on a copy with the binary path substituted prints nothing and
     exits 0 (skipped when systemd-analyze is missing);
   - its ExecStart, with the binary replaced by TBDEV_SERVER_EXE and /var/lib/tbdev by a
     temporary state folder, run with TBDEV_LISTEN=127.0.0.1:0 and TBDEV_QUIET=1 (the unit
     reads /etc/tbdev/tbdev-server.env; here the environment stands in for it) and the unit's
     UMask: prints 'listening on URL', answers GET /api/v1/health, takes an upload by the
     real client (`tbdev-server user add`, `tbdev auth login --with-token`,
     `tbdev upload --one_shot`), and on SIGTERM exits 0 within 10 s leaving no WAL behind.
2. quickstart: `bash deploy/quickstart` in a clean environment (TBDEV_DATA a new folder,
   TBDEV_PORT a free port, HOME an empty folder, cwd a temporary folder) prints 'View your
   experiment at:' and a link; the link serves the viewer (200 text/html), and the API shows
   the experiment with >= 2 runs, > 0 points, and scalars, histograms, images, audio and text
   tags. A second run reuses the server and prints a new link. The server is then stopped.
3. backup: a server on A.db; a synthetic logdir (10 runs x 20k TF2 scalar events, plus
   images) written here with its own TFRecord encoder; `tbdev upload --one_shot` in the
   background; while it runs, `deploy/tbdev-backup --db A.db --to DIR --keep 3`
   (TBDEV_SERVER_BIN set; needs the zstd CLI, else skipped). Then the backup is restored
   (`zstd -d` into B.db), a second server runs on B.db, the upload is resumed against it with
   --experiment_id, and `tbdev export` from B equals the source: every (run, tag, step,
   value), and every image, exactly once. `tbdev-server check --db B.db` says
   integrity_check: ok, and --keep 3 leaves the three newest backups.

Prints "ok - NAME" / "not ok - NAME: WHY" (and "ok - NAME # SKIP why"); exits 0, 1, or 77
when every check was skipped. Set TBDEV_KEEP_TMP=1 to keep the temporary folders.
"""

import atexit
import collections
import glob
import http.client
import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

import server_lib as SL  # noqa: E402  (the backend switch: TBDEV_TEST_BACKEND=postgres)
from wire import DecodeError, f_bytes, f_double, f_varint, fields, frame, masked_crc32c, read_varint

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(TOP, "deploy")

# ---------------------------------------------------------------------------
# Reporting.


class Reporter:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, name, note=None):
        self.passed += 1
        print("ok - %s%s" % (name, (" (%s)" % note) if note else ""), flush=True)

    def fail(self, name, why):
        self.failed += 1
        why = " ".join(str(why).split())
        print("not ok - %s: %s" % (name, why), flush=True)

    def skip(self, name, why):
        self.skipped += 1
        print("ok - %s # SKIP %s" % (name, why), flush=True)

    def check(self, name, cond, why):
        if cond:
            self.ok(name)
        else:
            self.fail(name, why() if callable(why) else why)
        return bool(cond)

    def note(self, text):
        print("# " + text, flush=True)

    def finish(self):
        print("# %d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped),
              flush=True)
        if self.failed:
            return 1
        if self.passed == 0 and self.skipped:
            return SKIP
        return 0


R = Reporter()

# ---------------------------------------------------------------------------
# Processes: everything started here is stopped at exit.

_procs = []
_pids = []
_tmpdirs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(10)
            except Exception:
                pass
    for pid in _pids:
        stop_pid(pid, 5)
    if not os.environ.get("TBDEV_KEEP_TMP"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
    else:
        for d in _tmpdirs:
            print("# kept " + d, flush=True)


atexit.register(_cleanup)


def mktemp(prefix):
    d = tempfile.mkdtemp(prefix="tbdev-deploy-" + prefix + "-")
    _tmpdirs.append(d)
    return d


def base_env(extra=None):
    """A clean environment: no TBDEV_* or XDG_* from outside."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
           "LANG": "C.UTF-8", "TZ": "UTC"}
    for k in ("TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    if extra:
        env.update(extra)
    return env


def tail(path, n=800):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return "(%s)" % e
    return data[-n:].decode("utf-8", "replace")


def pid_alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        state = st[st.rfind(")") + 2:].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def stop_pid(pid, timeout=10):
    """SIGTERM, then SIGKILL; True when it went away within timeout after SIGTERM."""
    if not pid_alive(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    return False


def popen(args, out_path, err_path, env, cwd=None, umask=None):
    def pre():
        if umask is not None:
            os.umask(umask)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                             cwd=cwd, preexec_fn=pre if umask is not None else None)
    _procs.append(p)
    return p


def run(args, env, timeout=300, stdin=None, cwd=None):
    """(rc, out, err) as text; rc is 'timeout' on a timeout."""
    try:
        p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        return ("timeout", (e.stdout or b"").decode("utf-8", "replace"),
                (e.stderr or b"").decode("utf-8", "replace"))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


LISTEN_RE = re.compile(r"listening on (https?://\S+)")


def wait_listening(proc, out_path, err_path, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(out_path, "rb") as f:
            m = LISTEN_RE.search(f.read().decode("utf-8", "replace"))
        if m:
            return m.group(1).rstrip("/")
        if proc.poll() is not None:
            raise RuntimeError("the server exited %s before listening: %s" % (
                proc.returncode, tail(err_path)))
        time.sleep(0.02)
    raise RuntimeError("no 'listening on URL' line on stdout within %d s; stderr: %s" % (
        timeout, tail(err_path)))


def sigterm_wait(proc, timeout):
    """SIGTERM; (exit status or None when it did not exit in time, seconds taken)."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, time.monotonic() - t0
    return rc, time.monotonic() - t0


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, token=None, timeout=30):
    """(status, content-type, body bytes) of a plain-HTTP GET."""
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http":
        raise ValueError("only http:// URLs here: %s" % url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    headers = {"Authorization": "Bearer " + token} if token else {}
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


def get_json(url, token=None):
    status, ctype, body = http_get(url, token)
    if status != 200:
        raise RuntimeError("GET %s -> HTTP %d: %r" % (url, status, body[:300]))
    if not ctype.startswith("application/json"):
        raise RuntimeError("GET %s -> Content-Type %r" % (url, ctype))
    return json.loads(body.decode("utf-8"))


def user_add(server_exe, db, name, env):
    if SL.is_new_db(db):  # only serve and migrate create a database
        run([server_exe, "migrate", "--db", db], env, timeout=60)
    rc, out, err = run([server_exe, "user", "add", name, "--db", db], env, timeout=60)
    if rc != 0:
        raise RuntimeError("tbdev-server user add exited %s: %s" % (rc, err.strip()[-400:]))
    m = re.search(r"\b(tbdev_[A-Za-z0-9_\-]+)", out)
    tok = m.group(1) if m else (out.strip().splitlines() or [""])[0].strip()
    if not tok:
        raise RuntimeError("tbdev-server user add printed no token: %r" % out)
    return tok


EXP_ID_RE = re.compile(r"Experiment ID: ([A-Za-z0-9_\-]+)")

# ---------------------------------------------------------------------------
# TFRecords and the few protobuf messages written and read here (schema/tensorboard/; the
# CRC32C, the TFRecord framing and the protobuf wire format are in wire.py).

DT_FLOAT, DT_DOUBLE, DT_INT32, DT_STRING, DT_INT64 = 1, 2, 3, 7, 9


def metadata_pb(plugin, data_class=None):
    out = f_bytes(1, f_bytes(1, plugin))
    if data_class is not None:
        out += f_varint(4, data_class)
    return out


def event_pb(wall, step, values=None, file_version=None):
    out = f_double(1, wall)
    if step:
        out += f_varint(2, step)
    if file_version is not None:
        out += f_bytes(3, file_version)
    if values is not None:
        out += f_bytes(5, b"".join(f_bytes(1, v) for v in values))
    return out


def scalar_value_pb(tag, value, with_metadata):
    """A TF2 scalar: a rank-0 DT_FLOAT tensor of the scalars plugin (float_val packed)."""
    tensor = f_varint(1, DT_FLOAT) + f_bytes(2, b"") + f_bytes(5, struct.pack("<f", value))
    out = f_bytes(1, tag)
    if with_metadata:
        out += f_bytes(9, metadata_pb("scalars", 1))
    return out + f_bytes(8, tensor)


def image_value_pb(tag, w, h, blobs):
    """A TF2 image summary: a [2 + k] DT_STRING tensor (width, height, encoded images...)."""
    strs = [str(w).encode(), str(h).encode()] + list(blobs)
    tensor = f_varint(1, DT_STRING) + f_bytes(2, f_bytes(2, f_varint(1, len(strs))))
    tensor += b"".join(f_bytes(8, s) for s in strs)
    return (f_bytes(1, tag) + f_bytes(9, metadata_pb("images", 3)) + f_bytes(8, tensor))


def read_records(path):
    """The payloads of a TFRecord file; both CRCs are checked."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    i = 0
    while i < len(data):
        if i + 12 > len(data):
            raise DecodeError("%s: truncated header at %d" % (path, i))
        (n,) = struct.unpack_from("<Q", data, i)
        (hc,) = struct.unpack_from("<I", data, i + 8)
        if hc != masked_crc32c(data[i:i + 8]):
            raise DecodeError("%s: length CRC at %d" % (path, i))
        if i + 12 + n + 4 > len(data):
            raise DecodeError("%s: truncated record at %d" % (path, i))
        payload = data[i + 12:i + 12 + n]
        (dc,) = struct.unpack_from("<I", data, i + 12 + n)
        if dc != masked_crc32c(payload):
            raise DecodeError("%s: data CRC at %d" % (path, i))
        out.append(payload)
        i += 16 + n
    return out


def _tensor_payload(t):
    """(dtype, values): floats for numeric dtypes, a tuple of bytes for strings."""
    dtype = 0
    content = None
    floats, doubles, ints, strs = [], [], [], []
    for f, w, v in fields(t):
        if f == 1:
            dtype = v
        elif f == 4:
            content = bytes(v)
        elif f == 5:
            if w == 2:
                floats += [x[0] for x in struct.iter_unpack("<f", v)]
            else:
                floats.append(struct.unpack("<f", v)[0])
        elif f == 6:
            if w == 2:
                doubles += [x[0] for x in struct.iter_unpack("<d", v)]
            else:
                doubles.append(struct.unpack("<d", v)[0])
        elif f in (7, 10):
            if w == 2:
                j = 0
                while j < len(v):
                    x, j = read_varint(v, j)
                    ints.append(x - (1 << 64) if x >= 1 << 63 else x)
            else:
                ints.append(v - (1 << 64) if v >= 1 << 63 else v)
        elif f == 8:
            strs.append(bytes(v))
    if dtype == DT_STRING:
        return dtype, tuple(strs)
    if content is not None:
        fmt = {DT_FLOAT: "<f", DT_DOUBLE: "<d", DT_INT32: "<i", DT_INT64: "<q"}.get(dtype)
        if fmt:
            return dtype, tuple(x[0] for x in struct.iter_unpack(fmt, content))
        return dtype, (content,)
    return dtype, tuple(floats or doubles or ints)


def decode_event_file(path, run, points, walls):
    """Adds (run, tag, step, kind, value) to the Counter points, and the wall times to the
    Counter walls ((run, tag, step) -> wall)."""
    for rec in read_records(path):
        wall, step, summary = 0.0, 0, None
        for f, w, v in fields(rec):
            if f == 1:
                wall = struct.unpack("<d", v)[0]
            elif f == 2:
                step = v - (1 << 64) if v >= 1 << 63 else v
            elif f == 5:
                summary = v
        if summary is None:
            continue
        for f, w, val in fields(summary):
            if f != 1:
                continue
            tag, simple, tensor = "", None, None
            for g, w2, x in fields(val):
                if g == 1:
                    tag = bytes(x).decode("utf-8", "replace")
                elif g == 2:
                    simple = struct.unpack("<f", x)[0]
                elif g == 8:
                    tensor = x
            if simple is not None:
                key = (run, tag, step, "scalar", simple)
            elif tensor is not None:
                dtype, vals = _tensor_payload(tensor)
                if dtype == DT_STRING:
                    key = (run, tag, step, "strings", vals)
                elif len(vals) == 1:
                    key = (run, tag, step, "scalar", float(vals[0]))
                else:
                    key = (run, tag, step, "tensor", vals)
            else:
                key = (run, tag, step, "other", bytes(val))
            points[key] += 1
            walls[(run, tag, step)] = wall


def decode_logdir(root):
    """Counter of points, and wall times, of every event file below root (run = folder)."""
    points, walls = collections.Counter(), {}
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if "tfevents" not in name:
                continue
            run = os.path.relpath(dirpath, root)
            decode_event_file(os.path.join(dirpath, name), run, points, walls)
    return points, walls


def fmt_diff(want, got, limit=6):
    missing = want - got
    extra = got - want
    lines = []
    if missing:
        lines.append("%d missing, e.g. %s" % (sum(missing.values()), _few(missing, limit)))
    if extra:
        lines.append("%d extra or duplicated, e.g. %s" % (sum(extra.values()),
                                                         _few(extra, limit)))
    return "; ".join(lines)


def _few(counter, limit):
    items = sorted(counter.items(), key=lambda kv: repr(kv[0]))[:limit]
    out = []
    for k, n in items:
        k = tuple((x[:2] + ("...",) if isinstance(x, tuple) and len(x) > 2 else x) for x in k)
        out.append("%r x%d" % (k, n))
    return ", ".join(out)


# ---------------------------------------------------------------------------
# Check 1: the systemd unit.


def parse_unit(path):
    """{section: [(key, value)]}, with continuation lines joined."""
    sections = collections.OrderedDict()
    cur = None
    pending = ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if pending:
                line = pending + line.lstrip()
                pending = ""
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            if s.endswith("\\"):
                pending = s[:-1] + " "
                continue
            if s.startswith("[") and s.endswith("]"):
                cur = s[1:-1]
                sections.setdefault(cur, [])
                continue
            if "=" in s and cur is not None:
                k, v = s.split("=", 1)
                sections[cur].append((k.strip(), v.strip()))
    return sections


def unit_values(sections, section, key):
    return [v for k, v in sections.get(section, []) if k == key]


def write_tiny_logdir(root):
    """Two runs of a few TF2 scalars; returns the number of values."""
    n = 0
    for ri, run in enumerate(("train", "eval")):
        d = os.path.join(root, run)
        os.makedirs(d)
        recs = [frame(event_pb(1.7e9, 0, file_version="brain.Event:2"))]
        for step in range(25):
            recs.append(frame(event_pb(1.7e9 + step, step,
                                       [scalar_value_pb("loss", 1.0 / (step + 1 + ri), True)])))
            n += 1
        with open(os.path.join(d, "events.out.tfevents.1700000000.host.1.%d.v2" % ri),
                  "wb") as f:
            f.write(b"".join(recs))
    return n


def check_unit(tbdev, server):
    unit_path = os.path.join(DEPLOY, "tbdev-server.service")
    try:
        sections = parse_unit(unit_path)
    except OSError as e:
        R.fail("unit: read deploy/tbdev-server.service", e)
        return
    svc = dict(sections.get("Service", []))

    # Hardening directives.
    want = [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
            ("StateDirectory", "tbdev"), ("PrivateTmp", "yes")]
    problems = []
    for k, v in want:
        got = unit_values(sections, "Service", k)
        if v not in got:
            problems.append("%s=%s missing (found %r)" % (k, v, got))
    users = unit_values(sections, "Service", "User")
    if not users or not users[-1] or users[-1] in ("root", "0"):
        problems.append("no User= (or User=root): %r" % users)
    R.check("unit: hardening directives (NoNewPrivileges, ProtectSystem=strict, "
            "StateDirectory=tbdev, User=, PrivateTmp)", not problems, lambda: "; ".join(problems))

    execs = unit_values(sections, "Service", "ExecStart")
    if len(execs) != 1:
        R.fail("unit: one ExecStart", "found %r" % execs)
        return
    exec_line = execs[0].lstrip("-@+!:")
    argv = shlex.split(exec_line)
    state_dirs = unit_values(sections, "Service", "StateDirectory")
    state_root = "/var/lib/" + (state_dirs[-1] if state_dirs else "tbdev")
    db_args = [argv[i + 1] for i in range(len(argv) - 1) if argv[i] == "--db"]
    db_args += [a.split("=", 1)[1] for a in argv if a.startswith("--db=")]
    exec_ok = R.check(
        "unit: ExecStart runs `tbdev-server serve` with --db in the StateDirectory",
        len(argv) >= 2 and os.path.basename(argv[0]) == "tbdev-server" and argv[1] == "serve"
        and db_args and all(d.startswith(state_root + "/") for d in db_args),
        lambda: "ExecStart=%s (state directory %s): with ProtectSystem=strict only the state "
                "directory is writable" % (exec_line, state_root))

    # The env example names only variables `serve` knows.
    try:
        rc, out, err = run([server, "serve", "--help"], base_env(), timeout=30)
        known = set(re.findall(r"\benv (TBDEV_[A-Z_]+)", out))
        with open(os.path.join(DEPLOY, "tbdev-server.env.example"), encoding="utf-8") as f:
            named = set(re.findall(r"^#?\s*(TBDEV_[A-Z_]+)=", f.read(), re.M))
        unknown = sorted(named - known)
        R.check("unit: every TBDEV_* in tbdev-server.env.example is a `serve` setting",
                rc == 0 and named and not unknown,
                lambda: "serve --help exited %s; unknown: %s" % (rc, unknown))
    except OSError as e:
        R.fail("unit: every TBDEV_* in tbdev-server.env.example is a `serve` setting", e)

    work = mktemp("unit")
    # systemd-analyze verify on a copy with the binary substituted.
    sa = shutil.which("systemd-analyze")
    if not sa:
        R.skip("unit: systemd-analyze verify", "systemd-analyze not found")
    else:
        # The server unit, and the backup service and timer beside it, with the installed
        # paths replaced by the binaries under test.
        copy_dir = os.path.join(work, "unit")
        os.makedirs(copy_dir)
        subst = {argv[0]: os.path.abspath(server),
                 "/usr/local/bin/tbdev-backup": os.path.join(DEPLOY, "tbdev-backup")}
        copies = []
        for fn in ("tbdev-server.service", "tbdev-backup.service", "tbdev-backup.timer"):
            with open(os.path.join(DEPLOY, fn), encoding="utf-8") as f:
                text = f.read()
            for k, v in subst.items():
                text = text.replace(k, v)
            copies.append(os.path.join(copy_dir, fn))
            with open(copies[-1], "w", encoding="utf-8") as f:
                f.write(text)
        for label, files in (("tbdev-server.service", copies[:1]),
                             ("tbdev-backup.service and .timer", copies[1:])):
            rc, out, err = run([sa, "verify"] + files, base_env(), timeout=120)
            R.check("unit: systemd-analyze verify %s prints nothing and exits 0" % label,
                    rc == 0 and not out.strip() and not err.strip(),
                    lambda: "exit %s, output: %s" % (rc, (out + err).strip()[-800:]))

    # Run ExecStart (only when its database is in the state folder, which is replaced by a
    # temporary one: nothing outside the temporary folders is written).
    if not exec_ok:
        R.fail("unit: ExecStart runs", "not run: its --db is not in the StateDirectory")
        return
    state = os.path.join(work, "state")
    os.makedirs(state, mode=0o700)
    cmd = [os.path.abspath(server)] + [a.replace(state_root, state) for a in argv[1:]]
    db = db_args[-1].replace(state_root, state)
    umask = int(svc.get("UMask", "0022"), 8)
    env = base_env({"TBDEV_LISTEN": "127.0.0.1:0", "TBDEV_QUIET": "1", "HOME": work})
    out_p, err_p = os.path.join(work, "server.out"), os.path.join(work, "server.err")
    name = "unit: ExecStart starts and prints 'listening on URL'"
    try:
        proc = popen(cmd, out_p, err_p, env, cwd=work, umask=umask)
        url = wait_listening(proc, out_p, err_p)
        R.ok(name, url)
    except Exception as e:
        R.fail(name, "%s (command: %s)" % (e, " ".join(cmd)))
        return
    try:
        with open(err_p, "rb") as f:
            warns = [l for l in f.read().decode("utf-8", "replace").splitlines()
                     if re.search(r"\b(warn|warning|error)\b", l)]
        R.check("unit: the server starts without warnings in its log (the journal)",
                not warns, lambda: "stderr: %s" % " | ".join(warns[:3]))
        status, ctype, body = http_get(url + "/api/v1/health")
        R.check("unit: GET /api/v1/health", status == 200,
                lambda: "HTTP %d: %r" % (status, body[:200]))
    except Exception as e:
        R.fail("unit: GET /api/v1/health", e)

    name = "unit: the real client uploads to it"
    try:
        token = user_add(server, db, "u", base_env())
        cfg = os.path.join(work, "cfg")
        cenv = base_env({"XDG_CONFIG_HOME": cfg, "HOME": work})
        tokfile = os.path.join(work, "token")
        with open(tokfile, "w") as f:
            f.write(token + "\n")
        with open(tokfile, "rb") as f:
            rc, out, err = run([tbdev, "auth", "login", "--server", url, "--with-token"], cenv,
                               timeout=60, stdin=f.read())
        if rc != 0:
            raise RuntimeError("auth login exited %s: %s" % (rc, (out + err).strip()[-400:]))
        logdir = os.path.join(work, "logs")
        nvalues = write_tiny_logdir(logdir)
        rc, out, err = run([tbdev, "upload", "--logdir", logdir, "--one_shot"], cenv,
                           timeout=120)
        exp = EXP_ID_RE.search(out + err)
        if rc != 0 or not exp:
            raise RuntimeError("upload exited %s: %s" % (rc, (out + err).strip()[-400:]))
        doc = get_json("%s/api/v1/experiments/%s" % (url, exp.group(1)), token)
        pts = doc.get("usage", {}).get("points")
        R.check(name, pts == nvalues,
                lambda: "the experiment holds %r points, %d were uploaded" % (pts, nvalues))
    except Exception as e:
        R.fail(name, e)

    rc, secs = sigterm_wait(proc, 10)
    R.check("unit: SIGTERM: exits 0 within 10 s", rc == 0,
            lambda: "did not exit within 10 s" if rc is None else
            "exit status %s after %.1f s; stderr: %s" % (rc, secs, tail(err_p, 400)))
    wal = db + "-wal"
    wal_size = os.path.getsize(wal) if os.path.exists(wal) else None
    R.check("unit: SIGTERM: the WAL is checkpointed", wal_size is None or wal_size == 0,
            lambda: "%s is left with %d bytes" % (wal, wal_size))
    rc, out, err = run([server, "check", "--db", db], base_env(), timeout=120)
    R.check("unit: the database passes `tbdev-server check` after the stop",
            rc == 0 and out.strip() == "integrity_check: ok",
            lambda: "exit %s: %s" % (rc, (out + err).strip()[-300:]))


# ---------------------------------------------------------------------------
# Check 1b: values whose metadata was stripped after each tag's first event.


def check_metadata(tbdev, server):
    """TF1's FileWriter (tf.compat.v1.summary.FileWriter.add_summary) keeps a value's
    SummaryMetadata only on the first event of each tag; TensorBoard takes a tag's plugin from
    its first metadata. A logdir written that way must upload whole."""
    name = "metadata: TF2 scalars with metadata on the first event only all upload and export"
    work = mktemp("metadata")
    db = SL.test_db(os.path.join(work, "m.db"))
    logdir = os.path.join(work, "logs")
    d = os.path.join(logdir, "train")
    os.makedirs(d)
    want, recs = collections.Counter(), [frame(event_pb(1.7e9, 0,
                                                        file_version="brain.Event:2"))]
    for step in range(30):
        v = scalar_of(0, step * 100)
        recs.append(frame(event_pb(1.7e9 + step, step,
                                   [scalar_value_pb("loss", v, step == 0)])))
        want[("train", "loss", step, "scalar", v)] += 1
    with open(os.path.join(d, "events.out.tfevents.1700000000.host.1.0.v2"), "wb") as f:
        f.write(b"".join(recs))
    senv = base_env({"HOME": work})
    out_p, err_p = os.path.join(work, "server.out"), os.path.join(work, "server.err")
    proc = None
    try:
        proc = popen([server, "serve", "--db", db, "--listen", "127.0.0.1:0", "-q"]
                     + SL.pg_serve_args([], False)[1], out_p, err_p, senv)
        url = wait_listening(proc, out_p, err_p)
        token = user_add(server, db, "u", senv)
        cenv = base_env({"XDG_CONFIG_HOME": os.path.join(work, "cfg"), "HOME": work,
                         "TBDEV_SERVER": url, "TBDEV_TOKEN": token})
        rc, out, err = run([tbdev, "upload", "--logdir", logdir, "--one_shot"], cenv,
                           timeout=120)
        exp = EXP_ID_RE.search(out + err)
        if rc != 0 or not exp:
            raise RuntimeError("upload exited %s: %s" % (rc, (out + err).strip()[-400:]))
        pts = usage_of(url, exp.group(1), token).get("points")
        outdir = os.path.join(work, "export")
        rc2, out2, err2 = run([tbdev, "export", "--experiment_id", exp.group(1), "--outdir",
                               outdir], cenv, timeout=120)
        got = decode_logdir(outdir)[0] if rc2 == 0 else collections.Counter()
        warn = [l for l in err.splitlines() if "warning" in l]
        R.check(name, pts == len(want) and got == want,
                lambda: "the server kept %s of %d points (export exit %s: %s); the upload "
                        "warned %d times, e.g. %r" % (pts, len(want), rc2, fmt_diff(want, got),
                                                      len(warn), warn[:1]))
    except Exception as e:
        R.fail(name, e)
    finally:
        if proc is not None:
            sigterm_wait(proc, 10)


# ---------------------------------------------------------------------------
# Check 2: the quick start.

LINK_RE = re.compile(r"View your experiment at:\s*\n\s*(\S+)")


def run_quickstart(work, data, port, log_name, timeout):
    home = os.path.join(work, "home")
    cwd = os.path.join(work, "cwd")
    os.makedirs(home, exist_ok=True)
    os.makedirs(cwd, exist_ok=True)
    env = base_env({"HOME": home, "TBDEV_DATA": data, "TBDEV_PORT": str(port),
                    "USER": os.environ.get("USER", "root")})
    out_p = os.path.join(work, log_name + ".out")
    err_p = os.path.join(work, log_name + ".err")
    p = popen(["bash", os.path.join(DEPLOY, "quickstart")], out_p, err_p, env, cwd=cwd)
    t0 = time.monotonic()
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = "timeout"
    with open(out_p, "rb") as f:
        out = f.read().decode("utf-8", "replace")
    with open(err_p, "rb") as f:
        err = f.read().decode("utf-8", "replace")
    return rc, out, err, time.monotonic() - t0


def check_experiment_link(label, link, token):
    """Checks the viewer page and the API for the experiment behind link."""
    name = "quickstart%s: the link serves the viewer (200 text/html)" % label
    try:
        status, ctype, body = http_get(link)
        R.check(name, status == 200 and ctype.startswith("text/html"),
                lambda: "GET %s -> HTTP %d, Content-Type %r" % (link, status, ctype))
    except Exception as e:
        R.fail(name, "GET %s: %s" % (link, e))
    m = re.match(r"(https?://[^/]+)/experiment/([A-Za-z0-9_\-]+)/?$", link)
    if not m:
        R.fail("quickstart%s: the link names an experiment" % label,
               "%r is not <server>/experiment/<id>/" % link)
        return None
    base, exp_id = m.group(1), m.group(2)
    name = "quickstart%s: the experiment has >= 2 runs and > 0 points" % label
    try:
        doc = get_json("%s/api/v1/experiments/%s" % (base, exp_id), token)
        usage = doc.get("usage", {})
        R.check(name, usage.get("runs", 0) >= 2 and usage.get("points", 0) > 0,
                lambda: "usage %r" % usage)
    except Exception as e:
        R.fail(name, e)
    name = "quickstart%s: tags of every kind (scalars, histograms, images, audio, text)" % label
    try:
        doc = get_json("%s/api/v1/experiments/%s/tags" % (base, exp_id), token)
        plugins = {t.get("plugin") for t in doc.get("tags", [])}
        missing = {"scalars", "histograms", "images", "audio", "text"} - plugins
        R.check(name, not missing, lambda: "missing %s; found %s" % (sorted(missing),
                                                                     sorted(plugins)))
    except Exception as e:
        R.fail(name, e)
    return exp_id


def check_quickstart(tbdev, server):
    work = mktemp("quickstart")
    data = os.path.join(work, "data")
    port = free_port()
    timeout = float(os.environ.get("TBDEV_QUICKSTART_TIMEOUT", "900"))
    rc, out, err, secs = run_quickstart(work, data, port, "run1", timeout)
    pid_file = os.path.join(data, "server.pid")
    server_pid = None
    try:
        m = LINK_RE.search(out + "\n" + err)
        ok = R.check("quickstart: first run exits 0 and prints 'View your experiment at:' and a "
                     "link", rc == 0 and m,
                     lambda: "exit %s after %.0f s; stdout: %s; stderr: %s%s" % (
                         rc, secs, out.strip()[-600:], err.strip()[-900:],
                         "" if (out + err).strip() else
                         " (it printed nothing: the build's output goes to /dev/null; "
                         "`ninja -C build-release` shows why)"))
        try:
            with open(pid_file) as f:
                server_pid = int(f.read().strip())
            _pids.append(server_pid)
        except (OSError, ValueError):
            server_pid = None
        if not ok:
            return
        R.note("quick start took %.0f s; link %s" % (secs, m.group(1)))
        try:
            with open(os.path.join(data, "token")) as f:
                token = f.read().strip()
        except OSError:
            token = None
        first = check_experiment_link("", m.group(1), token)
        R.check("quickstart: the link uses the chosen port",
                m.group(1).startswith("http://127.0.0.1:%d/" % port),
                lambda: "link %s, TBDEV_PORT=%d" % (m.group(1), port))

        rc, out, err, secs = run_quickstart(work, data, port, "run2", timeout)
        m2 = LINK_RE.search(out + "\n" + err)
        ok = R.check("quickstart: a second run exits 0 and prints a link",
                     rc == 0 and m2, lambda: "exit %s; stdout: %s; stderr: %s" % (
                         rc, out.strip()[-600:], err.strip()[-900:]))
        try:
            with open(pid_file) as f:
                pid2 = int(f.read().strip())
        except (OSError, ValueError):
            pid2 = None
        if pid2 and pid2 != server_pid:
            _pids.append(pid2)
        R.check("quickstart: the second run reuses the running server",
                "already running" in out and pid2 == server_pid and pid_alive(server_pid),
                lambda: "server.pid %s -> %s; stdout: %s" % (server_pid, pid2,
                                                             out.strip()[:300]))
        if ok:
            second = check_experiment_link(" (second run)", m2.group(1), token)
            R.check("quickstart: the second run uploads a new experiment",
                    second and second != first,
                    lambda: "first %s, second %s" % (first, second))
        cwd = os.path.join(work, "cwd")
        R.check("quickstart: writes nothing into the current folder (TBDEV_DATA is used)",
                not os.listdir(cwd), lambda: "it holds %s" % sorted(os.listdir(cwd)))
    finally:
        if server_pid is not None:
            gone = stop_pid(server_pid, 10)
            R.check("quickstart: the server (pid in server.pid) stops on SIGTERM", gone,
                    "pid %d still running 10 s after SIGTERM (killed)" % server_pid)


# ---------------------------------------------------------------------------
# Check 3: backup and restore while an upload runs.

RUNS = int(os.environ.get("TBDEV_DEPLOY_RUNS", "10"))
EVENTS = int(os.environ.get("TBDEV_DEPLOY_EVENTS", "20000"))
IMAGE_EVERY = 1000
IMAGE_BYTES = 24 * 1024


def scalar_of(run, step):
    """A float32-exact value."""
    v = math.sin(step * 0.001 + run) * (1.0 + run) + step * 1e-5
    return struct.unpack("<f", struct.pack("<f", v))[0]


def image_of(run, step):
    seed = (run * 1000003 + step * 7919) & 0xFFFFFFFF
    body = bytearray()
    x = seed or 1
    while len(body) < IMAGE_BYTES:
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        body += struct.pack("<I", x)
    return b"\x89PNG\r\n\x1a\n" + bytes(body[:IMAGE_BYTES]) + b"IEND\xaeB`\x82"


def write_big_logdir(root):
    """RUNS runs of EVENTS TF2 scalar events (with their metadata on every event, as tbdev's
    own writer does), with an image every IMAGE_EVERY steps. Returns the expected points and
    wall times."""
    want, walls = collections.Counter(), {}
    for r in range(RUNS):
        run = "run_%02d" % r
        d = os.path.join(root, run)
        os.makedirs(d)
        recs = [frame(event_pb(1.7e9, 0, file_version="brain.Event:2"))]
        for step in range(EVENTS):
            wall = 1.7e9 + r + step * 0.01
            v = scalar_of(r, step)
            recs.append(frame(event_pb(wall, step, [scalar_value_pb("loss", v, True)])))
            want[(run, "loss", step, "scalar", v)] += 1
            walls[(run, "loss", step)] = wall
            if step % IMAGE_EVERY == 0:
                img = image_of(r, step)
                recs.append(frame(event_pb(wall, step, [image_value_pb("samples", 8, 6,
                                                                       [img])])))
                want[(run, "samples", step, "strings", (b"8", b"6", img))] += 1
                walls[(run, "samples", step)] = wall
        with open(os.path.join(d, "events.out.tfevents.1700000000.host.%d.0.v2" % (100 + r)),
                  "wb") as f:
            f.write(b"".join(recs))
    return want, walls


def usage_of(url, exp_id, token):
    return get_json("%s/api/v1/experiments/%s" % (url, exp_id), token).get("usage", {})


def check_backup(tbdev, server):
    zstd = shutil.which("zstd")
    if not zstd:
        R.skip("backup: backup and restore while an upload runs",
               "the zstd CLI is missing (deploy/tbdev-backup needs it)")
        return
    work = mktemp("backup")
    a_db = os.path.join(work, "A.db")
    b_db = os.path.join(work, "B.db")
    bdir = os.path.join(work, "backups")
    logdir = os.path.join(work, "logs")
    t0 = time.monotonic()
    want, want_walls = write_big_logdir(logdir)
    R.note("wrote %d runs x %d scalar events + %d images in %.1f s (%.1f MB)" % (
        RUNS, EVENTS, RUNS * ((EVENTS + IMAGE_EVERY - 1) // IMAGE_EVERY),
        time.monotonic() - t0,
        sum(os.path.getsize(os.path.join(dp, n)) for dp, _, ns in os.walk(logdir)
            for n in ns) / 1e6))
    total = sum(want.values())

    senv = base_env({"HOME": work})
    a_out, a_err = os.path.join(work, "A.out"), os.path.join(work, "A.err")
    try:
        a = popen([server, "serve", "--db", a_db, "--listen", "127.0.0.1:0", "-q"],
                  a_out, a_err, senv)
        url_a = wait_listening(a, a_out, a_err)
        token = user_add(server, a_db, "u", senv)
    except Exception as e:
        R.fail("backup: server A starts", e)
        return
    cfg = os.path.join(work, "cfg")
    cenv = base_env({"XDG_CONFIG_HOME": cfg, "HOME": work})
    rc, out, err = run([tbdev, "auth", "login", "--server", url_a, "--with-token"], cenv,
                       timeout=60, stdin=(token + "\n").encode())
    if not R.check("backup: auth login to server A", rc == 0,
                   lambda: "exit %s: %s" % (rc, (out + err).strip()[-300:])):
        return

    up_out, up_err = os.path.join(work, "upload.out"), os.path.join(work, "upload.err")
    up = popen([tbdev, "upload", "--logdir", logdir, "--one_shot", "--name", "backup test"],
               up_out, up_err, cenv)
    exp_id = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and exp_id is None:
        with open(up_out, "rb") as f:
            m = EXP_ID_RE.search(f.read().decode("utf-8", "replace"))
        if m:
            exp_id = m.group(1)
        elif up.poll() is not None:
            break
        else:
            time.sleep(0.01)
    if not R.check("backup: the upload starts and prints the experiment ID", exp_id,
                   lambda: "upload exit %s: %s %s" % (up.poll(), tail(up_out, 300),
                                                      tail(up_err, 300))):
        return
    # Let some data arrive first, so that the backup lands in the middle of the upload.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and up.poll() is None:
        try:
            if usage_of(url_a, exp_id, token).get("points", 0) >= total // 10:
                break
        except Exception:
            pass
        time.sleep(0.02)

    benv = base_env({"TBDEV_SERVER_BIN": os.path.abspath(server), "HOME": work})
    backup_cmd = ["bash", os.path.join(DEPLOY, "tbdev-backup"), "--db", a_db, "--to", bdir,
                  "--keep", "3"]
    running_before = up.poll() is None
    pts_before = None
    try:
        pts_before = usage_of(url_a, exp_id, token).get("points")
    except Exception:
        pass
    tb = time.monotonic()
    rc, out, err = run(backup_cmd, benv, timeout=600)
    b_secs = time.monotonic() - tb
    running_after = up.poll() is None
    made = sorted(glob.glob(os.path.join(bdir, "tbdev-*.db.zst")))
    ok = R.check("backup: deploy/tbdev-backup exits 0 and writes DIR/tbdev-*.db.zst",
                 rc == 0 and len(made) == 1 and ("wrote " + made[0]) in out,
                 lambda: "exit %s; files %s; stdout %r; stderr %r" % (
                     rc, os.listdir(bdir) if os.path.isdir(bdir) else None, out[-300:],
                     err[-500:]))
    R.note("backup took %.2f s; the upload was %s when it started and %s when it ended "
           "(%s of %d points on A when it started)" % (
               b_secs, "running" if running_before else "done",
               "running" if running_after else "done", pts_before, total))
    R.check("backup: taken while the upload runs", running_before,
            "the upload had finished before the backup started; make the logdir larger")
    if not ok:
        return
    saved = os.path.join(work, "saved-backup.db.zst")
    shutil.copy2(made[0], saved)

    try:
        up_rc = up.wait(600)
    except subprocess.TimeoutExpired:
        up.kill()
        up_rc = "timeout"
    if not R.check("backup: the upload to A finishes (exit 0)", up_rc == 0,
                   lambda: "exit %s: %s" % (up_rc, tail(up_err, 500))):
        return
    try:
        ua = usage_of(url_a, exp_id, token)
        R.check("backup: server A holds every point", ua.get("points") == total,
                lambda: "A has %r points, the logdir %d" % (ua.get("points"), total))
    except Exception as e:
        R.fail("backup: server A holds every point", e)

    # --keep 3: more backups, one a second apart (the names carry a timestamp in seconds).
    names = set(made)
    for _ in range(3):
        time.sleep(1.1)
        rc, out, err = run(backup_cmd, benv, timeout=600)
        if rc != 0:
            break
        names |= set(glob.glob(os.path.join(bdir, "tbdev-*.db.zst")))
    left = sorted(glob.glob(os.path.join(bdir, "tbdev-*.db.zst")))
    R.check("backup: --keep 3 keeps the three newest of 4 backups",
            rc == 0 and len(names) == 4 and left == sorted(names)[-3:],
            lambda: "last exit %s (%s); made %d: %s; left %s" % (
                rc, err.strip()[-300:], len(names), sorted(os.path.basename(n) for n in names),
                [os.path.basename(n) for n in left]))
    leftovers = [n for n in os.listdir(bdir) if not re.match(r"tbdev-.*\.db\.zst$", n)]
    R.check("backup: no temporary files left in the backup folder", not leftovers,
            lambda: "left: %s" % leftovers)
    rc, secs = sigterm_wait(a, 15)
    R.check("backup: server A stops on SIGTERM (exit 0)", rc == 0,
            lambda: "exit %s after %.1f s: %s" % (rc, secs, tail(a_err, 300)))

    # Restore the backup taken during the upload.
    rc, out, err = run([zstd, "-q", "-d", saved, "-o", b_db], base_env(), timeout=300)
    if not R.check("backup: zstd -d restores the backup", rc == 0 and os.path.exists(b_db),
                   lambda: "exit %s: %s" % (rc, err.strip()[-300:])):
        return
    b_out, b_err = os.path.join(work, "B.out"), os.path.join(work, "B.err")
    try:
        b = popen([server, "serve", "--db", b_db, "--listen", "127.0.0.1:0", "-q"],
                  b_out, b_err, senv)
        url_b = wait_listening(b, b_out, b_err)
        R.ok("backup: server B starts on the restored database")
    except Exception as e:
        R.fail("backup: server B starts on the restored database", e)
        return
    try:
        ub = usage_of(url_b, exp_id, token)
        pb = ub.get("points", 0)
        R.note("the backup holds %d of %d points" % (pb, total))
        R.check("backup: the token works on B and the backup caught the upload midway "
                "(0 < points < all)", 0 < pb < total,
                lambda: "the restored experiment has %d of %d points" % (pb, total))
    except Exception as e:
        R.fail("backup: the token works on B (user table restored)", e)

    # Resume against B. The client keeps the token it saved for A to itself when --server
    # names another server, so the token comes from TBDEV_TOKEN, as `tbdev auth --help` says.
    renv = dict(cenv, TBDEV_TOKEN=token)
    rc, out, err = run([tbdev, "upload", "--logdir", logdir, "--experiment_id", exp_id,
                        "--one_shot", "--server", url_b], renv, timeout=900)
    if not R.check("backup: the upload resumes against B (exit 0)", rc == 0,
                   lambda: "exit %s: %s" % (rc, (out + err).strip()[-600:])):
        return
    try:
        ub = usage_of(url_b, exp_id, token)
        R.check("backup: B holds every point after the resume", ub.get("points") == total,
                lambda: "B has %r points, the logdir %d" % (ub.get("points"), total))
    except Exception as e:
        R.fail("backup: B holds every point after the resume", e)

    outdir = os.path.join(work, "export")
    rc, out, err = run([tbdev, "export", "--experiment_id", exp_id, "--outdir", outdir,
                        "--server", url_b], renv, timeout=900)
    if R.check("backup: tbdev export from B (exit 0)", rc == 0,
               lambda: "exit %s: %s" % (rc, (out + err).strip()[-600:])):
        try:
            got, got_walls = decode_logdir(outdir)
            dups = {k: n for k, n in got.items() if n > 1}
            R.check("backup: the export equals the source: every (run, tag, step, value) "
                    "once", got == want and not dups,
                    lambda: "%s (source %d points, export %d)" % (
                        fmt_diff(want, got), total, sum(got.values())))
            bad = [(k, want_walls[k], got_walls.get(k)) for k in want_walls
                   if got_walls.get(k) != want_walls[k]]
            R.check("backup: the export keeps the wall times", not bad,
                    lambda: "%d differ, e.g. %s" % (len(bad), bad[:3]))
        except Exception as e:
            R.fail("backup: the export equals the source", "%s: %s" % (type(e).__name__, e))

    rc, secs = sigterm_wait(b, 15)
    R.check("backup: server B stops on SIGTERM (exit 0)", rc == 0,
            lambda: "exit %s after %.1f s: %s" % (rc, secs, tail(b_err, 300)))
    rc, out, err = run([server, "check", "--db", b_db], senv, timeout=300)
    R.check("backup: tbdev-server check --db B.db prints integrity_check: ok",
            rc == 0 and out.strip() == "integrity_check: ok",
            lambda: "exit %s: %r %r" % (rc, out.strip()[-300:], err.strip()[-300:]))


# ---------------------------------------------------------------------------

# What deploy/ sets up is one host with a SQLite file (PostgreSQL: the README's 'Scaling out').
SQLITE_ONLY = {
    "unit": "the unit keeps its SQLite file in the StateDirectory",
    "quickstart": "deploy/quickstart runs a server on a SQLite file",
    "backup": "deploy/tbdev-backup copies a SQLite file (PostgreSQL: pg_dump)"}
CHECKS = [("unit", check_unit), ("metadata", check_metadata), ("quickstart", check_quickstart),
          ("backup", check_backup)]


def main():
    if len(sys.argv) < 3:
        print("usage: test_deploy.py TBDEV_EXE TBDEV_SERVER_EXE [unit] [metadata] "
              "[quickstart] [backup]", file=sys.stderr)
        return 2
    tbdev, server = sys.argv[1], sys.argv[2]
    only = set(sys.argv[3:])
    unknown = only - {n for n, _ in CHECKS}
    if unknown:
        print("unknown checks: %s" % sorted(unknown), file=sys.stderr)
        return 2
    for exe in (tbdev, server):
        if not os.access(exe, os.X_OK):
            R.fail("executable %s" % exe, "not found or not executable")
            return R.finish()
    for name, fn in CHECKS:
        if only and name not in only:
            continue
        if SL.on_postgres() and name in SQLITE_ONLY:
            R.skip(name, "SQLite only: " + SQLITE_ONLY[name])
            continue
        try:
            fn(tbdev, server)
        except Exception as e:
            R.fail("%s: unexpected error" % name, "%s: %s\n%s" % (
                type(e).__name__, e, traceback.format_exc()))
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
