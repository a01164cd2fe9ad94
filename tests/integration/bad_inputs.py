#!/usr/bin/env python3
"""Integration test: `tbdev inspect --json` against crafted bad logdirs.

Usage:  bad_inputs.py TBDEV_EXE [CASE_NUMBER ...]

Every case builds a logdir in a fresh temporary directory, runs the real binary
as `TBDEV_EXE inspect --logdir DIR --json`, and checks the report:

  (a) the exit status (0 whenever the logdir can be read at all);
  (b) the "errors" list is exactly the expected one: kind, file path and byte
      offset (and the skipped length where it is known), computed here from the
      bytes this script wrote;
  (c) nothing else is lost: the good records before and after the damage are
      counted per tag, per file and per run, and the other files and runs are
      complete;
  (d) every message is non-empty, and the message of every problem that sits at
      a position in a file mentions that byte offset;
  plus, where the case is about resources, the child's peak RSS (from wait4,
  in a small helper that forks it) and its run time.

Cases 1-20 are the ones listed in the issue; 21-29 cover the other items of
shared/BAD-INPUTS.md that `inspect` can observe (1, 2, 6, 8, 9, 11, 13, 14, 15), and
the directory-depth limit.

The test's TFRecord writer and protobuf encoder (wire.py, shared with the other
Python tests) share no code with the C reader: crc32c (Castagnoli, reflected
0x82F63B78) is a table-driven pure-Python loop, with long runs of zero bytes
folded in by a GF(2) operator power (as zlib's crc32_combine does) so that a
40 MB all-zero tensor is cheap.

Output is TAP-like: "ok - NAME" or "not ok - NAME: WHY" per case.
Exit status: 0 if all cases pass, 1 otherwise.
Python 3 standard library only.
"""

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from wire import (crc_selftest, f_bytes, f_double, f_float, f_varint, frame, frame_header, pkey,
                  varint)

# ---------------------------------------------------------------------------
# A minimal protobuf encoder: just enough of tensorflow.Event (the wire format, the
# CRC32C and the TFRecord framing are in wire.py).

DT_FLOAT = 1


def tensor_pb(dtype, dims, floats=None, packed_floats=None):
    """TensorProto: dtype=1, tensor_shape=2 {dim=2 {size=1}}, float_val=5 (packed)."""
    shape = b"".join(f_bytes(2, f_varint(1, d)) for d in dims)
    out = f_varint(1, dtype) + f_bytes(2, shape)
    if packed_floats is None and floats is not None:
        packed_floats = b"".join(struct.pack("<f", x) for x in floats)
    if packed_floats is not None:
        out += f_bytes(5, packed_floats)
    return out


def value_pb(tag, simple=None, plugin=None, tensor=None):
    """Summary.Value: tag=1, simple_value=2, tensor=8,
    metadata=9 {plugin_data=1 {plugin_name=1}}."""
    out = f_bytes(1, tag)
    if plugin is not None:
        out += f_bytes(9, f_bytes(1, f_bytes(1, plugin)))
    if simple is not None:
        out += f_float(2, simple)
    if tensor is not None:
        out += f_bytes(8, tensor)
    return out


def summary_pb(values):
    return b"".join(f_bytes(1, v) for v in values)


def event_pb(wall_time=None, step=0, file_version=None, summary=None, extra=b""):
    """Event: wall_time=1 (double), step=2 (varint), file_version=3, summary=5."""
    out = b""
    if wall_time is not None:
        out += f_double(1, wall_time)
    if step:
        out += f_varint(2, step)
    out += extra
    if file_version is not None:
        out += f_bytes(3, file_version)
    if summary is not None:
        out += f_bytes(5, summary)
    return out


WALL0 = 1.7e9


def scalar_event(tag, step, value=None, extra=b""):
    v = float(step) * 0.5 if value is None else value
    return event_pb(WALL0 + step, step, summary=summary_pb([value_pb(tag, simple=v)]),
                    extra=extra)


# ---------------------------------------------------------------------------
# Event-file builder that remembers offsets.

class EventFile:
    def __init__(self, file_version=True):
        self.data = bytearray()
        self.records = 0  # records whose framing is whole and valid
        if file_version:
            self.record(event_pb(WALL0, 0, file_version="brain.Event:2"))

    @property
    def size(self):
        return len(self.data)

    def raw(self, b):
        at = len(self.data)
        self.data += b
        return at

    def record(self, payload):
        self.records += 1
        return self.raw(frame(payload))

    def scalars(self, tag, steps):
        for s in steps:
            self.record(scalar_event(tag, s))

    def write(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(self.data)
        return path


def flip(b, index, bit=0):
    b = bytearray(b)
    b[index] ^= 1 << bit
    return bytes(b)


# ---------------------------------------------------------------------------
# Running the binary.

class Result:
    pass


# The child is started through this small helper, which forks (not vforks) it and reaps it
# with wait4. Measuring from here would be wrong: Linux carries the peak RSS of the
# process that forks or vforks into the exec'd child's ru_maxrss, and this script holds
# tens of MB of test data. The helper is a fresh interpreter of ~10 MB.
_HELPER = r"""
import json, os, sys, time
timeout, result, exe = float(sys.argv[1]), sys.argv[2], sys.argv[3]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execv(exe, [exe] + sys.argv[4:])
    finally:
        os._exit(127)
timed_out = False
while True:
    got, st, ru = os.wait4(pid, os.WNOHANG)
    if got == pid:
        break
    if time.monotonic() - t0 > timeout:
        os.kill(pid, 9)
        got, st, ru = os.wait4(pid, 0)
        timed_out = True
        break
    time.sleep(0.005)
with open(result, "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(st), "maxrss_kb": ru.ru_maxrss,
               "seconds": time.monotonic() - t0, "timed_out": timed_out}, f)
"""


def run_tbdev(exe, args, timeout=120.0):
    """Runs exe with args; returns a Result with rc, out, err, seconds, maxrss_mb, json."""
    res = Result()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile(suffix=".json") as fr:
        subprocess.run([sys.executable, "-c", _HELPER, str(timeout), fr.name, exe] + args,
                       stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, timeout=timeout + 60,
                       check=True)
        with open(fr.name) as f:
            r = json.load(f)
        res.rc = r["rc"]
        res.maxrss_mb = r["maxrss_kb"] / 1024.0  # Linux: KiB
        res.seconds = r["seconds"]
        res.timed_out = r["timed_out"]
        fo.seek(0)
        fe.seek(0)
        res.raw_out = fo.read()
        res.out = res.raw_out.decode("utf-8", "replace")
        res.err = fe.read().decode("utf-8", "replace")
    res.json = None
    res.json_error = None
    if res.out.strip():
        try:
            res.json = json.loads(res.out)
        except ValueError as e:
            res.json_error = str(e)
    return res


def inspect(exe, logdir, timeout=120.0):
    return run_tbdev(exe, ["inspect", "--logdir", logdir, "--json"], timeout)


# ---------------------------------------------------------------------------
# Checks.

# Problems that sit at a byte position inside a file: the message must say where.
POSITIONAL = {"length_crc", "data_crc", "too_large", "zero_filled", "truncated",
              "bad_proto", "bad_event", "bad_value"}


class Case:
    def __init__(self, name):
        self.name = name
        self.fails = []
        self.notes = []

    def check(self, cond, what):
        if not cond:
            self.fails.append(what)
        return bool(cond)

    def note(self, s):
        self.notes.append(s)


def _short(s, n=300):
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[:n] + "..."


def check_ran(c, res, max_seconds=None, max_rss_mb=None, rc=0):
    """(a): exit status, JSON parsed, time and memory bounds. Returns False if there is no
    report to look at."""
    if res.timed_out:
        c.check(False, "timed out after %.1f s (killed)" % res.seconds)
        return False
    c.check(res.rc == rc, "exit status %d, want %d; stderr: %s" % (res.rc, rc, _short(res.err)))
    if max_seconds is not None:
        c.check(res.seconds < max_seconds, "took %.1f s, want < %g s" % (res.seconds, max_seconds))
    if max_rss_mb is not None:
        c.check(res.maxrss_mb < max_rss_mb,
                "peak RSS %.0f MB, want < %g MB" % (res.maxrss_mb, max_rss_mb))
    if res.json is None:
        c.check(False, "no JSON on stdout (%s); stdout: %s; stderr: %s"
                % (res.json_error or "empty", _short(res.out), _short(res.err)))
        return False
    return True


def find_run(rep, name):
    for r in rep.get("runs", []):
        if r.get("name") == name:
            return r
    return None


def find_tag(run, tag):
    for t in run.get("tags", []):
        if t.get("tag") == tag:
            return t
    return None


def find_file(run, path):
    for f in run.get("files", []):
        if f.get("path") == path:
            return f
    return None


def check_errors(c, rep, expected, optional=()):
    """(b) and (d). expected: list of (kind, path, offset, length or None). Every expected
    problem must be there, and nothing else except entries matched by `optional`
    (a list of (kind-set, path, offset))."""
    errs = rep.get("errors")
    if not c.check(isinstance(errs, list), "no 'errors' list"):
        return
    totals = rep.get("totals", {})
    c.check(totals.get("errors") == len(errs),
            "totals.errors = %r but %d errors are listed" % (totals.get("errors"), len(errs)))
    left = list(errs)
    for kind, path, offset, length in expected:
        hit = None
        for e in left:
            if e.get("kind") == kind and e.get("file") == path and e.get("offset") == offset:
                hit = e
                break
        if hit is None:
            c.check(False, "missing error kind=%s file=%s offset=%d; got %s"
                    % (kind, os.path.basename(path), offset, _describe_errors(errs)))
            continue
        left.remove(hit)
        if length is not None:
            c.check(hit.get("length") == length,
                    "error %s@%d: length %r, want %d" % (kind, offset, hit.get("length"), length))
    for kinds, path, offset in optional:
        for e in left:
            if e.get("kind") in kinds and e.get("file") == path and e.get("offset") == offset:
                left.remove(e)
                break
    for e in left:
        c.check(False, "unexpected error %s" % _describe_errors([e]))
    for e in errs:
        msg = e.get("message")
        if not c.check(isinstance(msg, str) and msg.strip(),
                       "error %s@%s has an empty message" % (e.get("kind"), e.get("offset"))):
            continue
        if e.get("kind") in POSITIONAL:
            c.check(str(e.get("offset")) in msg,
                    "message of %s@%s does not mention the offset: %r"
                    % (e.get("kind"), e.get("offset"), msg))


def _describe_errors(errs):
    return "[" + ", ".join("%s %s@%s len=%s %r"
                           % (e.get("kind"), os.path.basename(str(e.get("file"))),
                              e.get("offset"), e.get("length"), _short(str(e.get("message")), 120))
                           for e in errs) + "]"


def check_tag(c, run, tag, count, min_step=None, max_step=None, kind=None, plugin=None):
    if run is None:
        return
    t = find_tag(run, tag)
    if not c.check(t is not None, "run %s: tag %r missing (tags: %s)"
                   % (run.get("name"), tag, [x.get("tag") for x in run.get("tags", [])])):
        return
    c.check(t.get("count") == count, "run %s tag %r: count %r, want %d"
            % (run.get("name"), tag, t.get("count"), count))
    if min_step is not None:
        c.check(t.get("min_step") == min_step, "run %s tag %r: min_step %r, want %d"
                % (run.get("name"), tag, t.get("min_step"), min_step))
    if max_step is not None:
        c.check(t.get("max_step") == max_step, "run %s tag %r: max_step %r, want %d"
                % (run.get("name"), tag, t.get("max_step"), max_step))
    if kind is not None:
        c.check(t.get("kind") == kind, "run %s tag %r: kind %r, want %r"
                % (run.get("name"), tag, t.get("kind"), kind))
    if plugin is not None:
        c.check(t.get("plugin") == plugin, "run %s tag %r: plugin %r, want %r"
                % (run.get("name"), tag, t.get("plugin"), plugin))


def check_no_tag(c, run, tag):
    if run is not None:
        c.check(find_tag(run, tag) is None, "run %s: tag %r should not be counted"
                % (run.get("name"), tag))


def check_file(c, run, path, records, end_offset, size=None):
    if run is None:
        return
    f = find_file(run, path)
    if not c.check(f is not None, "run %s: file %s not listed (files: %s)"
                   % (run.get("name"), os.path.basename(path),
                      [os.path.basename(x.get("path", "")) for x in run.get("files", [])])):
        return
    c.check(f.get("records") == records, "file %s: records %r, want %d"
            % (os.path.basename(path), f.get("records"), records))
    c.check(f.get("end_offset") == end_offset, "file %s: end_offset %r, want %d"
            % (os.path.basename(path), f.get("end_offset"), end_offset))
    if size is not None:
        c.check(f.get("bytes") == size, "file %s: bytes %r, want %d"
                % (os.path.basename(path), f.get("bytes"), size))


def get_run(c, rep, name, n_files=None):
    r = find_run(rep, name)
    c.check(r is not None, "run %r missing (runs: %s)"
            % (name, [x.get("name") for x in rep.get("runs", [])]))
    if r is not None and n_files is not None:
        c.check(len(r.get("files", [])) == n_files, "run %s: %d files listed, want %d"
                % (name, len(r.get("files", [])), n_files))
    return r


def check_runs(c, rep, names):
    got = sorted(r.get("name") for r in rep.get("runs", []))
    c.check(got == sorted(names), "runs %s, want %s" % (got, sorted(names)))
    c.check(rep.get("totals", {}).get("runs") == len(names),
            "totals.runs %r, want %d" % (rep.get("totals", {}).get("runs"), len(names)))


# ---------------------------------------------------------------------------
# Fixtures shared by most cases.

A_NAME = "events.out.tfevents.100.host"   # the damaged file
B_NAME = "events.out.tfevents.200.host"   # a good second file in the same run


class Layout:
    """logdir/run/{A,B} and logdir/other/events...: A is built by the case."""

    def __init__(self, root):
        self.logdir = os.path.join(root, "logdir")
        self.run_dir = os.path.join(self.logdir, "run")
        self.a_path = os.path.join(self.run_dir, A_NAME)
        self.b_path = os.path.join(self.run_dir, B_NAME)
        self.other_path = os.path.join(self.logdir, "other", "events.out.tfevents.300.host")
        os.makedirs(self.run_dir)
        b = EventFile()
        b.scalars("aux", range(7))
        self.b = b
        b.write(self.b_path)
        o = EventFile()
        o.scalars("acc", range(5))
        self.o = o
        o.write(self.other_path)

    def check_others(self, c, rep, run):
        """(c): the good second file and the other run are complete."""
        check_file(c, run, self.b_path, self.b.records, self.b.size, self.b.size)
        check_tag(c, run, "aux", 7, 0, 6, "scalar", "scalars")
        other = get_run(c, rep, "other", 1)
        check_file(c, other, self.other_path, self.o.records, self.o.size, self.o.size)
        check_tag(c, other, "acc", 5, 0, 4, "scalar", "scalars")
        check_runs(c, rep, ["other", "run"])


def victim_event():
    return scalar_event("victim", 50)


# ---------------------------------------------------------------------------
# Cases 1-4: CRC damage.

def _crc_case(c, exe, root, damages):
    """damages: list of (kind, function(frame_bytes) -> bytes). Each damaged record is a
    'victim' record between good ones; returns after checking."""
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    expected = []
    step = 10
    for kind, damage in damages:
        fr = frame(victim_event())
        at = a.raw(damage(fr))
        expected.append((kind, L.a_path, at, len(fr)))
        a.scalars("loss", range(step, step + 10))
        step += 10
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, expected)
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", step, 0, step - 1, "scalar", "scalars")
    check_no_tag(c, run, "victim")
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


def case_01(c, exe, root):
    # The low bit of the length (off by one) and a high bit (a length of ~2^47).
    _crc_case(c, exe, root, [("length_crc", lambda f: flip(f, 0, 0)),
                             ("length_crc", lambda f: flip(f, 5, 7))])


def case_02(c, exe, root):
    _crc_case(c, exe, root, [("length_crc", lambda f: flip(f, 9, 3))])


def case_03(c, exe, root):
    # A bit in the simple_value float (the protobuf still parses) and one in the tag.
    _crc_case(c, exe, root, [("data_crc", lambda f: flip(f, len(f) - 5, 2)),
                             ("data_crc", lambda f: flip(f, 12 + 20, 0))])


def case_04(c, exe, root):
    _crc_case(c, exe, root, [("data_crc", lambda f: flip(f, len(f) - 2, 6))])


# ---------------------------------------------------------------------------
# Case 5: a valid header claiming 2^40 bytes (and one claiming 2^64-1).

def case_05(c, exe, root):
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    at1 = a.raw(frame_header(1 << 40))
    a.scalars("loss", range(10, 20))
    at2 = a.raw(frame_header((1 << 64) - 1))
    a.scalars("loss", range(20, 30))
    # Just over the 64 MiB cap, and held whole by the file: skipped without being read.
    big = (64 << 20) + 1
    at3 = a.record(bytes(big))
    a.records -= 1  # skipped, not a record read
    a.scalars("loss", range(30, 40))
    a.write(L.a_path)
    # A third file that ends with such a header: nothing follows it.
    tail_path = os.path.join(L.run_dir, "events.out.tfevents.150.host")
    t = EventFile()
    t.scalars("tail", range(10))
    at4 = t.raw(frame_header(1 << 40))
    t.write(tail_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res, max_seconds=10, max_rss_mb=200):
        return
    c.note("peak RSS %.0f MB" % res.maxrss_mb)
    rep = res.json
    check_errors(c, rep, [("too_large", L.a_path, at1, 12), ("too_large", L.a_path, at2, 12),
                          ("too_large", L.a_path, at3, 12 + big + 4),
                          ("too_large", tail_path, at4, 12)])
    run = get_run(c, rep, "run", 3)
    check_tag(c, run, "loss", 40, 0, 39)
    check_tag(c, run, "tail", 10, 0, 9)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    check_file(c, run, tail_path, t.records, at4, t.size)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Cases 6, 7, 20: truncation.

def _truncated_case(c, exe, root, keep):
    """The file ends after `keep` bytes of an 11th scalar record."""
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    fr = frame(scalar_event("loss", 10))
    at = a.raw(fr[:keep])
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [("truncated", L.a_path, at, keep)])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 10, 0, 9)
    check_file(c, run, L.a_path, a.records, at, a.size)
    L.check_others(c, rep, run)


def case_06(c, exe, root):
    _truncated_case(c, exe, root, 5)


def case_07(c, exe, root):
    _truncated_case(c, exe, root, 12 + 7)


def case_20(c, exe, root):
    _truncated_case(c, exe, root, 12)


# ---------------------------------------------------------------------------
# Cases 8, 9: zero-filled holes.

def case_08(c, exe, root):
    # A 4096-byte hole, exactly one header's worth (12 bytes), and 1 MiB (several read chunks).
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    expected = []
    step = 10
    for n in (4096, 12, 1 << 20):
        at = a.raw(b"\0" * n)
        expected.append(("zero_filled", L.a_path, at, n))
        a.scalars("loss", range(step, step + 10))
        step += 10
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, expected)
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", step, 0, step - 1)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


def case_09(c, exe, root):
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    at = a.raw(b"\0" * 4096)
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [("zero_filled", L.a_path, at, 4096)])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 10, 0, 9)
    check_file(c, run, L.a_path, a.records, at, a.size)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 10: an empty event file next to a good one.

def case_10(c, exe, root):
    L = Layout(root)
    open(L.a_path, "wb").close()
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [])
    run = get_run(c, rep, "run", 2)
    check_file(c, run, L.a_path, 0, 0, 0)
    check_no_tag(c, run, "loss")
    if run is not None:
        c.check(run.get("records") == L.b.records, "run records %r, want %d"
                % (run.get("records"), L.b.records))
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 11: a directory named like an event file.

def case_11(c, exe, root):
    L = Layout(root)
    d = os.path.join(L.run_dir, "events.out.tfevents.123.dir")
    os.mkdir(d)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [("not_a_file", d, 0, None)])
    for e in rep.get("errors", []):
        if e.get("kind") == "not_a_file":
            c.check("events.out.tfevents.123.dir" in e.get("message", ""),
                    "not_a_file message does not name the entry: %r" % e.get("message"))
    run = get_run(c, rep, "run", 1)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 12: an unreadable event file.

def case_12(c, exe, root):
    L = Layout(root)
    variants = []
    expected = []
    locked = os.path.join(L.run_dir, "events.out.tfevents.150.locked")
    a = EventFile()
    a.scalars("loss", range(10))
    a.write(locked)
    os.chmod(locked, 0)
    enforced = True
    try:
        with open(locked, "rb"):
            enforced = False
    except PermissionError:
        pass
    if enforced:
        variants.append("chmod 000")
        expected.append(("io", locked, 0, None))
    else:
        os.chmod(locked, 0o644)
        os.unlink(locked)
        variants.append("dangling symlink (running as %s: chmod 000 does not stop reads)"
                        % ("root" if os.geteuid() == 0 else "uid %d" % os.geteuid()))
    dangling = os.path.join(L.run_dir, "events.out.tfevents.160.broken")
    os.symlink("no-such-target", dangling)
    if enforced:
        variants.append("dangling symlink")
    expected.append(("io", dangling, 0, None))
    c.note("variant: " + " + ".join(variants))
    try:
        res = inspect(exe, L.logdir)
    finally:
        if os.path.lexists(locked):
            os.chmod(locked, 0o644)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, expected)
    run = get_run(c, rep, "run", 2 if enforced else 1)
    if enforced:
        check_file(c, run, locked, 0, 0)
    check_no_tag(c, run, "loss")
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 13: valid framing around bad protobuf.

def case_13(c, exe, root):
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    rnd = random.Random(1234)
    # Random bytes, starting with a key of wire type 7 (none exists) so they cannot parse.
    garbage = bytes([0x0F]) + bytes(rnd.randrange(256) for _ in range(200))
    at1 = a.record(garbage)
    a.scalars("loss", range(10, 20))
    # A wall_time, then a step whose varint never ends.
    trunc = f_double(1, WALL0) + pkey(2, 0) + b"\xff\xff\xff"
    at2 = a.record(trunc)
    a.scalars("loss", range(20, 30))
    # A summary whose length runs past the end of the Event.
    short = f_double(1, WALL0) + pkey(5, 2) + varint(100) + b"\x0a\x02ab"
    at3 = a.record(short)
    a.scalars("loss", range(30, 40))
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [("bad_proto", L.a_path, at1, len(garbage)),
                          ("bad_proto", L.a_path, at2, len(trunc)),
                          ("bad_proto", L.a_path, at3, len(short))])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 40, 0, 39)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 14: 100000-deep nesting of an unknown length-delimited field.

def nested_unknown(field, depth):
    """field { field { ... } } depth times, built outside-in without quadratic copying."""
    prefixes = []
    inner = 0
    k = pkey(field, 2)
    for _ in range(depth):
        p = k + varint(inner)
        prefixes.append(p)
        inner += len(p)
    return b"".join(reversed(prefixes))


def case_14(c, exe, root):
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    payload = f_double(1, WALL0) + f_varint(2, 77) + nested_unknown(15, 100000)
    at = a.record(payload)
    a.scalars("loss", range(10, 20))
    a.write(L.a_path)
    res = inspect(exe, L.logdir, timeout=60)
    if not check_ran(c, res, max_seconds=10):
        return
    rep = res.json
    run = get_run(c, rep, "run", 2)
    bad = [e for e in rep.get("errors", []) if e.get("file") == L.a_path]
    if bad:
        c.note("reported as %s" % ",".join(e.get("kind") for e in bad))
        check_errors(c, rep, [("bad_proto", L.a_path, at, None)])
    else:
        c.note("decoded, unknown field skipped")
        check_errors(c, rep, [])
        if run is not None:
            c.check(run.get("events", {}).get("other") == 1,
                    "the nested event should count as 'other': events %r" % run.get("events"))
    check_tag(c, run, "loss", 20, 0, 19)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 15: huge repeated fields.

def case_15(c, exe, root):
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    # 1,000,000 empty Summary.Value entries (tag ""), in one ~2 MB record.
    many = event_pb(WALL0 + 10, 10, summary=b"\x0a\x00" * 1000000)
    at1 = a.record(many)
    a.scalars("loss", range(10, 20))
    # A rank-1 DT_FLOAT tensor of 10^7 packed zeros: 40 MB, under the 64 MiB cap.
    n = 10 ** 7
    big = event_pb(WALL0 + 20, 20, summary=summary_pb([
        value_pb("big", tensor=tensor_pb(DT_FLOAT, [n], packed_floats=bytes(4 * n)))]))
    assert len(big) < 64 << 20
    at2 = a.record(big)
    del big
    a.scalars("loss", range(20, 30))
    # 10^7 empty Summary.Value entries (BAD-INPUTS 6), a 20 MB record.
    most = event_pb(WALL0 + 30, 30, summary=b"\x0a\x00" * n)
    at3 = a.record(most)
    del most
    a.scalars("loss", range(30, 40))
    a.write(L.a_path)
    res = inspect(exe, L.logdir, timeout=120)
    if not check_ran(c, res, max_seconds=30, max_rss_mb=1024):
        return
    c.note("%.1f s, peak RSS %.0f MB" % (res.seconds, res.maxrss_mb))
    rep = res.json
    run = get_run(c, rep, "run", 2)
    errs = rep.get("errors", [])
    optional = []
    outcome = []
    counted = {"": 0, "big": 0}
    for at, tag, count, what in ((at1, "", 1000000, "1e6 values"), (at2, "big", 1, "1e7 floats"),
                                 (at3, "", n, "1e7 values")):
        hit = [e for e in errs if e.get("file") == L.a_path and e.get("offset") == at]
        if hit and hit[0].get("kind") != "bad_value":
            outcome.append("%s reported as %s" % (what, hit[0].get("kind")))
            optional.append(({"bad_proto", "too_large"}, L.a_path, at))
        else:
            outcome.append("%s counted" % what)
            counted[tag] += count
            if hit:
                optional.append(({"bad_value"}, L.a_path, at))
    c.note("; ".join(outcome))
    check_errors(c, rep, [], optional=optional)
    for tag, count in counted.items():
        if count:
            check_tag(c, run, tag, count, kind="tensor")
        else:
            check_no_tag(c, run, tag)
    check_tag(c, run, "loss", 40, 0, 39)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 16: NaN and infinite wall_time.

def case_16(c, exe, root):
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    at1 = a.record(event_pb(float("nan"), 100, summary=summary_pb([value_pb("loss", simple=1.0)])))
    a.scalars("loss", range(10, 20))
    at2 = a.record(event_pb(float("inf"), 101, summary=summary_pb([value_pb("loss", simple=1.0)])))
    a.scalars("loss", range(20, 30))
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [("bad_event", L.a_path, at1, None), ("bad_event", L.a_path, at2, None)])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 30, 0, 29)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 17: a tag that changes kind.

def case_17(c, exe, root):
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    for s in range(5):
        a.record(scalar_event("mixed", s))
    offsets = []
    for s in range(5, 10):
        ev = event_pb(WALL0 + s, s, summary=summary_pb([
            value_pb("mixed", tensor=tensor_pb(DT_FLOAT, [3], floats=[1.0, 2.0, 3.0]))]))
        offsets.append(a.record(ev))
    a.scalars("loss", range(10, 20))
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [("bad_value", L.a_path, at, None) for at in offsets])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "mixed", 10, 0, 9, "scalar", "scalars")
    check_tag(c, run, "loss", 20, 0, 19)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 18: a symlink loop.

def case_18(c, exe, root):
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    a.write(L.a_path)
    loop = os.path.join(L.run_dir, "loop")
    os.symlink("..", loop)
    me = os.path.join(L.logdir, "other", "self")
    os.symlink(".", me)
    res = inspect(exe, L.logdir, timeout=30)
    if not check_ran(c, res, max_seconds=10):
        return
    rep = res.json
    check_errors(c, rep, [("symlink_loop", loop, 0, None), ("symlink_loop", me, 0, None)])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 10, 0, 9)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


# ---------------------------------------------------------------------------
# Case 19: command-line failures.

def case_19(c, exe, root):
    missing = os.path.join(root, "no-such-logdir")
    res = inspect(exe, missing)
    c.check(res.rc == 1, "missing logdir: exit status %d, want 1" % res.rc)
    c.check(res.err.strip() != "", "missing logdir: nothing on stderr")
    c.check(missing in res.err, "missing logdir: stderr does not name it: %r" % _short(res.err))
    res = run_tbdev(exe, ["inspect", "--json"])
    c.check(res.rc == 2, "no --logdir: exit status %d, want 2" % res.rc)
    c.check(res.err.strip() != "", "no --logdir: nothing on stderr")
    c.check(res.out.strip() == "", "no --logdir: stdout should be empty: %r" % _short(res.out))
    afile = os.path.join(root, "plain-file")
    open(afile, "w").close()
    res = inspect(exe, afile)
    c.check(res.rc == 1, "logdir is a file: exit status %d, want 1" % res.rc)
    c.check(res.err.strip() != "", "logdir is a file: nothing on stderr")


# ---------------------------------------------------------------------------
# Extra cases from shared/BAD-INPUTS.md (items 1, 8, 9, 11, 13, 14).

def padded_scalar(tag, step, total_frame):
    """A scalar record whose frame is exactly total_frame bytes (padding in unknown field 15)."""
    base = scalar_event(tag, step)
    for padlen in range(max(0, total_frame - 16 - len(base) - 6), total_frame):
        pad = f_bytes(15, b"p" * padlen)
        ev = scalar_event(tag, step, extra=pad)
        if len(ev) + 16 == total_frame:
            return ev
        if len(ev) + 16 > total_frame:
            break
    raise ValueError("cannot pad to %d" % total_frame)


def case_21(c, exe, root):
    """BAD-INPUTS 1: record headers and payloads split across read chunks (256 KiB)."""
    L = Layout(root)
    a = EventFile()
    chunk = 256 << 10
    # The next header starts 5 bytes before the first chunk boundary.
    a.record(padded_scalar("loss", 0, chunk - 5 - a.size))
    a.scalars("loss", range(1, 10))
    # A record larger than one chunk, then one whose payload straddles the next boundary.
    a.record(padded_scalar("loss", 10, 300000))
    nxt = (a.size // chunk + 1) * chunk
    a.record(padded_scalar("loss", 11, nxt - a.size + 40))
    a.scalars("loss", range(12, 20))
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 20, 0, 19)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    L.check_others(c, rep, run)


def case_22(c, exe, root):
    """BAD-INPUTS 8: NaN and +-Inf scalar values are kept (and the JSON stays valid)."""
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    for i, v in enumerate([float("nan"), float("inf"), float("-inf")]):
        a.record(scalar_event("weird", i, value=v))
    a.scalars("loss", range(10, 20))
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "weird", 3, 0, 2, "scalar")
    check_tag(c, run, "loss", 20, 0, 19)
    L.check_others(c, rep, run)


def case_23(c, exe, root):
    """BAD-INPUTS 9: a step that goes backwards after a restart: everything counted."""
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(100, 110))
    a.scalars("loss", range(80, 90))
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 20, 80, 109)
    t = find_tag(run, "loss") if run else None
    if t:
        c.check(t.get("first_step") == 100 and t.get("last_step") == 89,
                "first/last step %r/%r, want 100/89" % (t.get("first_step"), t.get("last_step")))
    L.check_others(c, rep, run)


def case_24(c, exe, root):
    """BAD-INPUTS 11: two writers in one run directory: both files read."""
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    a.write(L.a_path)
    second = os.path.join(L.run_dir, "events.out.tfevents.100.host2")
    s = EventFile()
    s.scalars("loss", range(10, 25))
    s.write(second)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [])
    run = get_run(c, rep, "run", 3)
    check_tag(c, run, "loss", 25, 0, 24)
    check_file(c, run, L.a_path, a.records, a.size, a.size)
    check_file(c, run, second, s.records, s.size, s.size)
    if run is not None:
        c.check(run.get("events", {}).get("file_version") == 3,
                "file_version events %r, want 3" % run.get("events", {}).get("file_version"))
    L.check_others(c, rep, run)


def case_25(c, exe, root):
    """BAD-INPUTS 13: unusual names, no file_version record, a header-only file."""
    L = Layout(root)
    files = {}
    f1 = EventFile()
    f1.scalars("loss", range(5))
    files["events.out.tfevents.101.host.v2"] = f1
    f2 = EventFile()  # only the file_version record, as TensorBoard's profile-empty files
    files["events.out.tfevents.102.host.profile-empty"] = f2
    f3 = EventFile(file_version=False)
    f3.scalars("loss", range(5, 10))
    files["103.tfevents.custom"] = f3
    f4 = EventFile(file_version=False)
    f4.scalars("loss", range(10, 12))
    files["tfevents"] = f4
    for name, f in files.items():
        f.write(os.path.join(L.run_dir, name))
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [])
    run = get_run(c, rep, "run", len(files) + 1)
    for name, f in files.items():
        check_file(c, run, os.path.join(L.run_dir, name), f.records, f.size, f.size)
    check_tag(c, run, "loss", 12, 0, 11)
    L.check_others(c, rep, run)


def case_26(c, exe, root):
    """BAD-INPUTS 14: non-event files in the logdir are skipped quietly."""
    L = Layout(root)
    prof = os.path.join(L.run_dir, "plugins", "profile", "2024_01_01_00_00_00")
    os.makedirs(prof)
    rnd = random.Random(7)
    with open(os.path.join(prof, "host.xplane.pb"), "wb") as f:
        f.write(bytes(rnd.randrange(256) for _ in range(5000)))
    open(os.path.join(prof, "host.trace.json.gz"), "wb").close()
    open(os.path.join(prof, "host.memory_profile.json.gz"), "wb").close()
    with open(os.path.join(L.logdir, "projector_config.pbtxt"), "w") as f:
        f.write('embeddings { tensor_name: "x" metadata_path: "metadata.tsv" }\n')
    with open(os.path.join(L.run_dir, "metadata.tsv"), "w") as f:
        f.write("a\tb\n1\t2\n")
    with open(os.path.join(L.run_dir, "sprite.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with open(os.path.join(L.run_dir, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "ckpt-1"\n')
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    rep = res.json
    check_errors(c, rep, [])
    run = get_run(c, rep, "run", 1)
    L.check_others(c, rep, run)


def case_27(c, exe, root):
    """BAD-INPUTS 2: 300 KB of garbage between records (the scan for the next good record
    crosses read chunks), and garbage to the end of the file."""
    L = Layout(root)
    a = EventFile()
    a.scalars("loss", range(10))
    rnd = random.Random(99)
    g1 = bytes(rnd.randrange(1, 256) for _ in range(300000))
    at1 = a.raw(g1)
    a.scalars("loss", range(10, 20))
    g2 = bytes(rnd.randrange(1, 256) for _ in range(1000))
    at2 = a.raw(g2)
    a.write(L.a_path)
    res = inspect(exe, L.logdir)
    if not check_ran(c, res, max_seconds=10):
        return
    rep = res.json
    check_errors(c, rep, [("length_crc", L.a_path, at1, len(g1)),
                          ("length_crc", L.a_path, at2, len(g2))])
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 20, 0, 19)
    check_file(c, run, L.a_path, a.records, at2, a.size)
    L.check_others(c, rep, run)


def case_28(c, exe, root):
    """Directories nested past the 64-level walk limit -> limit; shallower runs kept."""
    L = Layout(root)
    deep = L.logdir
    rel = []
    paths = {}
    for d in range(1, 71):
        deep = os.path.join(deep, "d")
        rel.append("d")
        paths[d] = (deep, "/".join(rel))
    os.makedirs(deep)
    f64 = EventFile()
    f64.scalars("deep", range(3))
    f64.write(os.path.join(paths[64][0], "events.out.tfevents.1.deep"))
    f70 = EventFile()
    f70.scalars("deeper", range(3))
    f70.write(os.path.join(paths[70][0], "events.out.tfevents.1.deeper"))
    a = EventFile()
    a.scalars("loss", range(10))
    a.write(L.a_path)
    res = inspect(exe, L.logdir, timeout=30)
    if not check_ran(c, res, max_seconds=10):
        return
    rep = res.json
    check_errors(c, rep, [("limit", paths[65][0], 0, None)])
    r64 = get_run(c, rep, paths[64][1], 1)
    check_tag(c, r64, "deep", 3, 0, 2)
    c.check(find_run(rep, paths[70][1]) is None, "the run 70 levels down should be skipped")
    run = get_run(c, rep, "run", 2)
    check_tag(c, run, "loss", 10, 0, 9)
    check_file(c, run, L.b_path, L.b.records, L.b.size, L.b.size)
    other = get_run(c, rep, "other", 1)
    check_tag(c, other, "acc", 5, 0, 4)


def case_29(c, exe, root):
    """BAD-INPUTS 15 (names): quotes, backslashes, control bytes, RTL overrides, <script>
    and invalid UTF-8 in run names and tags: the JSON stays valid UTF-8 and nothing is lost."""
    L = Layout(root)
    odd_tag = 't"ag\\\x01\n\u202e<b>'
    names = [b'we"ird\\name\n\x01\x7f', b"<script>alert(1)</script>", "\u202ertl".encode(),
             b"tab\there", b"bad\xff\xfeutf8"]
    for name in names:
        f = EventFile()
        f.scalars(odd_tag, range(3))
        raw_tag = f_bytes(1, b"x\xff\xc0y") + f_float(2, 1.0)  # a tag that is not UTF-8
        f.record(event_pb(WALL0, 9, summary=summary_pb([raw_tag])))
        f.write(os.path.join(os.fsencode(L.logdir), name, b"events.out.tfevents.1.host").decode(
            "utf-8", "surrogateescape"))
    res = inspect(exe, L.logdir)
    if not check_ran(c, res):
        return
    try:
        res.raw_out.decode("utf-8")
    except UnicodeDecodeError as e:
        c.check(False, "stdout is not valid UTF-8: %s" % e)
    rep = res.json
    check_errors(c, rep, [])
    c.check(len(rep.get("runs", [])) == len(names) + 2, "%d runs listed, want %d"
            % (len(rep.get("runs", [])), len(names) + 2))
    for name in names[:-1]:
        r = get_run(c, rep, name.decode(), 1)
        check_tag(c, r, odd_tag, 3, 0, 2)
        if r is not None:
            c.check(len(r.get("tags", [])) == 2, "run %r: %d tags, want 2"
                    % (name, len(r.get("tags", []))))
    run = get_run(c, rep, "run", 1)
    check_tag(c, run, "aux", 7, 0, 6)
    other = get_run(c, rep, "other", 1)
    check_tag(c, other, "acc", 5, 0, 4)


CASES = [
    ("1 flipped bit in the length field -> length_crc, resumes at the next record", case_01),
    ("2 flipped bit in the length CRC -> length_crc", case_02),
    ("3 flipped bit in the payload -> data_crc, one record skipped", case_03),
    ("4 flipped bit in the data CRC -> data_crc", case_04),
    ("5 valid headers claiming 2^40, 2^64-1 and 64 MiB+1 bytes -> too_large, memory flat", case_05),
    ("6 truncated mid-header -> truncated", case_06),
    ("7 truncated mid-payload -> truncated", case_07),
    ("8 zero-filled holes of 4096, 12 and 1 MiB bytes between records -> zero_filled", case_08),
    ("9 zeros to the end of the file -> zero_filled at their start", case_09),
    ("10 empty event file next to a good one", case_10),
    ("11 directory named like an event file -> not_a_file", case_11),
    ("12 unreadable event file -> io", case_12),
    ("13 valid framing around bad protobuf -> bad_proto", case_13),
    ("14 100000-deep nesting of unknown field 15 -> bounded", case_14),
    ("15 1e6 and 1e7 empty values, a 1e7-float tensor -> bounded memory and time", case_15),
    ("16 NaN and Inf wall_time -> bad_event", case_16),
    ("17 a tag that changes kind -> bad_value, counts kept", case_17),
    ("18 symlink loops -> symlink_loop, terminates", case_18),
    ("19 missing logdir -> exit 1; no --logdir -> exit 2", case_19),
    ("20 file cut right after a 12-byte header -> truncated", case_20),
    ("21 headers and payloads split across read chunks (BAD-INPUTS 1)", case_21),
    ("22 NaN and Inf scalar values kept (BAD-INPUTS 8)", case_22),
    ("23 step going backwards (BAD-INPUTS 9)", case_23),
    ("24 two writers in one run (BAD-INPUTS 11)", case_24),
    ("25 unusual event-file names, no file_version, header only (BAD-INPUTS 13)", case_25),
    ("26 non-event files skipped quietly (BAD-INPUTS 14)", case_26),
    ("27 300 KB of garbage between records, and garbage at the end -> length_crc", case_27),
    ("28 directories nested past the depth limit -> limit", case_28),
    ("29 quotes, control bytes, <script> and invalid UTF-8 in names (BAD-INPUTS 15)", case_29),
]


def main(argv):
    if len(argv) < 2:
        print("usage: %s TBDEV_EXE [CASE_NUMBER ...]" % argv[0], file=sys.stderr)
        return 2
    exe = os.path.abspath(argv[1])
    if not os.access(exe, os.X_OK):
        print("not ok - %s is not an executable" % exe)
        return 1
    only = set(argv[2:])
    crc_selftest()
    failed = 0
    ran = 0
    for name, fn in CASES:
        if only and name.split()[0] not in only:
            continue
        ran += 1
        c = Case(name)
        root = tempfile.mkdtemp(prefix="tbdev-bad-inputs-")
        t0 = time.monotonic()
        try:
            fn(c, exe, root)
        except Exception as e:  # a bug in the test, or an unexpected report shape
            c.check(False, "exception in the test: %s: %s" % (type(e).__name__, e))
        finally:
            for dirpath, dirnames, filenames in os.walk(root):
                for n in filenames:
                    p = os.path.join(dirpath, n)
                    if not os.path.islink(p):
                        try:
                            os.chmod(p, 0o644)
                        except OSError:
                            pass
            shutil.rmtree(root, ignore_errors=True)
        notes = (" (%s)" % "; ".join(c.notes)) if c.notes else ""
        if c.fails:
            failed += 1
            print("not ok - %s%s: %s" % (name, notes, " | ".join(c.fails)))
        else:
            print("ok - %s%s [%.1f s]" % (name, notes, time.monotonic() - t0))
        sys.stdout.flush()
    print("# %d of %d cases passed" % (ran - failed, ran))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
