# SPDX-License-Identifier: MIT
"""Helpers for the `tbdev upload` / `tbdev export` integration tests (Python 3 stdlib only).

Used by test_roundtrip.py, test_live_tail.py and test_upload_faults.py. Nothing here is
shared with the C code; the TFRecord and protobuf wire-format code (shared with
server_lib.py and the other tests) is in wire.py, and re-exported here:

  * a writer: TFRecord framing with the masked CRC32C (pure Python), a protobuf encoder and
    builders for tensorflow.Event / Summary / Value / SummaryMetadata / TensorProto /
    HistogramProto / Image / Audio, following TensorFlow's .proto field numbers;
  * an independent reader: TFRecord framing (every CRC checked, or a sample of them for big
    files) and a protobuf wire parser, that turns a logdir into a normalised multiset of
    points per (run, tag), following TensorBoard's data_compat rules:
      - scalars: (step, value), from TF1 simple_value (float32) or a rank-0 numeric tensor of
        the scalars plugin / DATA_CLASS_SCALAR; NaN is a token equal to itself;
      - histograms: the (left, right, count) buckets; TF1 histo -> lefts [min] +
        bucket_limit[:-1], rights bucket_limit[:-1] + [max]; TF2 [k,3] tensors as they are;
      - images / audio: the exact blob bytes (TF1 encoded_*_string; TF2 images [w,h,blobs..],
        audio [k,2] column 0 with column 1 as labels);
      - text: the string_val bytes with the shape; hparams: the plugin_data content (and the
        tensor, if any); other tensors: (plugin, dtype, shape, tensor_content or values);
      - graph_def / meta_graph_def / tagged_run_metadata: their bytes;
  * a tbdev-server process wrapper (start on 127.0.0.1:0 or a fixed port, SIGKILL, restart),
    a throwaway certificate from the `openssl` CLI, `user add`, an HTTPS JSON client for the
    read API, and runners for the `tbdev` commands with a private XDG_CONFIG_HOME;
  * a TAP-like reporter: "ok - NAME" / "not ok - NAME: WHY", exit 0, 1, or 77 (skip).
"""

import collections
import json
import os
import re
import shutil
import signal
import ssl
import stat
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from server_lib import (  # noqa: F401  (the backend switch: TBDEV_TEST_BACKEND=postgres)
    db_query, is_new_db, on_postgres, pg_serve_args, test_db)
from wire import (  # noqa: F401  (re-exported: L.frame, L.fields, L.DecodeError...)
    DecodeError, crc32c, f_bytes, f_double, f_float, f_varint, fields, frame, key,
    masked_crc32c, read_varint, varint)

SKIP = 77

# ---------------------------------------------------------------------------
# Reporting.


class Reporter:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.failures = []

    def check(self, name, why=None):
        """why: None/"" for success, else the reason (a string)."""
        self.n += 1
        if why:
            self.failed += 1
            self.failures.append(name)
            why = str(why).replace("\n", " | ")
            print("not ok - %s: %s" % (name, why))
        else:
            print("ok - %s" % name)
        sys.stdout.flush()
        return not why

    def note(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line)
        sys.stdout.flush()

    def finish(self):
        print("1..%d" % self.n)
        if self.failed:
            print("# %d of %d checks failed: %s" % (self.failed, self.n,
                                                    ", ".join(self.failures[:20])))
        sys.stdout.flush()
        return 1 if self.failed else 0


def short(items, limit=8):
    items = list(items)
    s = "; ".join(str(x) for x in items[:limit])
    if len(items) > limit:
        s += "; ... (%d more)" % (len(items) - limit)
    return s


def tail_text(path, n=1500):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return data[-n:].decode("utf-8", "replace").strip()


def real_data_dir():
    """$TBDEV_REAL_DATA, else <repo>/../shared/testdata/real."""
    env = os.environ.get("TBDEV_REAL_DATA")
    if env:
        return os.path.abspath(env)
    here = os.path.dirname(os.path.abspath(__file__))
    repo_root = os.path.dirname(os.path.dirname(here))
    return os.path.normpath(os.path.join(repo_root, "..", "shared", "testdata", "real"))


# ---------------------------------------------------------------------------
# Event builders (the CRC32C, TFRecord framing and protobuf encoder are in wire.py).

DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_STRING, DT_INT64, DT_BOOL, DT_HALF = (
    1, 2, 3, 4, 7, 9, 10, 19)
DATA_CLASS_SCALAR, DATA_CLASS_TENSOR, DATA_CLASS_BLOB_SEQUENCE = 1, 2, 3


def metadata_pb(plugin=None, content=None, display_name=None, description=None,
                data_class=None):
    out = b""
    if plugin is not None:
        pd = f_bytes(1, plugin)
        if content:
            pd += f_bytes(2, content)
        out += f_bytes(1, pd)
    if display_name is not None:
        out += f_bytes(2, display_name)
    if description is not None:
        out += f_bytes(3, description)
    if data_class is not None:
        out += f_varint(4, data_class)
    return out


def shape_pb(dims):
    return b"".join(f_bytes(2, f_varint(1, d)) for d in dims)


def tensor_pb(dtype, dims=(), content=None, float_val=None, double_val=None, int_val=None,
              int64_val=None, string_val=None, packed=True):
    out = f_varint(1, dtype) + f_bytes(2, shape_pb(dims))
    if content is not None:
        out += f_bytes(4, content)
    if float_val is not None:
        if packed:
            out += f_bytes(5, b"".join(struct.pack("<f", v) for v in float_val))
        else:
            out += b"".join(f_float(5, v) for v in float_val)
    if double_val is not None:
        out += f_bytes(6, b"".join(struct.pack("<d", v) for v in double_val))
    if int_val is not None:
        out += f_bytes(7, b"".join(varint(v) for v in int_val))
    if string_val is not None:
        out += b"".join(f_bytes(8, s) for s in string_val)
    if int64_val is not None:
        out += f_bytes(10, b"".join(varint(v) for v in int64_val))
    return out


def histo_pb(mn, mx, num, total, sum_sq, bucket_limit, bucket):
    return (f_double(1, mn) + f_double(2, mx) + f_double(3, num) + f_double(4, total) +
            f_double(5, sum_sq) +
            f_bytes(6, b"".join(struct.pack("<d", v) for v in bucket_limit)) +
            f_bytes(7, b"".join(struct.pack("<d", v) for v in bucket)))


def image_pb(height, width, colorspace, encoded):
    return f_varint(1, height) + f_varint(2, width) + f_varint(3, colorspace) + \
        f_bytes(4, encoded)


def audio_pb(sample_rate, channels, frames, encoded, content_type="audio/wav"):
    return (f_float(1, sample_rate) + f_varint(2, channels) + f_varint(3, frames) +
            f_bytes(4, encoded) + f_bytes(5, content_type))


def value_pb(tag, metadata=None, simple=None, histo=None, image=None, audio=None,
             tensor=None):
    out = f_bytes(1, tag)
    if metadata is not None:
        out += f_bytes(9, metadata)
    if simple is not None:
        out += f_float(2, simple)
    if image is not None:
        out += f_bytes(4, image)
    if histo is not None:
        out += f_bytes(5, histo)
    if audio is not None:
        out += f_bytes(6, audio)
    if tensor is not None:
        out += f_bytes(8, tensor)
    return out


def event_pb(wall, step=0, file_version=None, graph_def=None, summary_values=None,
             session_status=None, tagged_run_metadata=None, meta_graph_def=None):
    out = f_double(1, wall)
    if step:
        out += f_varint(2, step)
    if file_version is not None:
        out += f_bytes(3, file_version)
    if graph_def is not None:
        out += f_bytes(4, graph_def)
    if summary_values is not None:
        out += f_bytes(5, b"".join(f_bytes(1, v) for v in summary_values))
    if session_status is not None:
        out += f_bytes(7, f_varint(1, session_status))
    if tagged_run_metadata is not None:
        tag, data = tagged_run_metadata
        out += f_bytes(8, f_bytes(1, tag) + f_bytes(2, data))
    if meta_graph_def is not None:
        out += f_bytes(9, meta_graph_def)
    return out


def file_version_record(wall):
    return frame(event_pb(wall, file_version="brain.Event:2"))


def scalar_event(wall, step, values):
    """values: [(tag, float)] as TF1 simple_values in one event."""
    return event_pb(wall, step, summary_values=[value_pb(t, simple=v) for t, v in values])


# ---------------------------------------------------------------------------
# Protobuf wire parsing (DecodeError, fields, read_varint: in wire.py).


def _int64(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def _int32(u):
    u &= 0xFFFFFFFF
    return u - (1 << 32) if u >= (1 << 31) else u


def canon(x):
    """A float that compares equal to itself: NaN becomes the token 'NaN'."""
    if isinstance(x, float) and x != x:
        return "NaN"
    return x


# ---------------------------------------------------------------------------
# Reading TFRecords.


def read_records(path, verify="all", sample_every=97):
    """[(offset, body bytes)] of a complete event file. Raises DecodeError on any framing
    or CRC problem (with the offset). verify: "all", "sample" (every sample_every-th record
    and the first/last ones) or "none" (length CRCs only)."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    pos = 0
    n = len(data)
    idx = 0
    unpack_q = struct.Struct("<Q").unpack_from
    unpack_i = struct.Struct("<I").unpack_from
    while pos < n:
        if n - pos < 12:
            raise DecodeError("%s: offset %d: truncated record header (%d bytes)" %
                              (path, pos, n - pos))
        (length,) = unpack_q(data, pos)
        (len_crc,) = unpack_i(data, pos + 8)
        if masked_crc32c(data[pos:pos + 8]) != len_crc:
            raise DecodeError("%s: offset %d: length CRC mismatch" % (path, pos))
        if n - pos - 12 < length + 4:
            raise DecodeError("%s: offset %d: truncated record (length %d)" %
                              (path, pos, length))
        body = data[pos + 12:pos + 12 + length]
        if verify == "all" or (verify == "sample" and
                               (idx % sample_every == 0 or pos + 16 + length == n)):
            (data_crc,) = unpack_i(data, pos + 12 + length)
            if masked_crc32c(body) != data_crc:
                raise DecodeError("%s: offset %d: data CRC mismatch" % (path, pos))
        out.append((pos, body))
        pos += 16 + length
        idx += 1
    return out


# ---------------------------------------------------------------------------
# Event decoding and normalisation.

NUMERIC_DTYPES = {1, 2, 3, 4, 5, 6, 9, 10, 14, 17, 19, 22, 23}
_CONTENT_FMT = {1: "f", 2: "d", 3: "i", 4: "B", 5: "h", 6: "b", 9: "q", 10: "?", 17: "H",
                19: "e", 22: "I", 23: "Q"}
DTYPE_NAMES = {1: "float", 2: "double", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
               7: "string", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16",
               19: "half", 22: "uint32", 23: "uint64"}


def _merge_msg(parts):
    return b"".join(bytes(p) for p in parts)


def parse_metadata(buf):
    """SummaryMetadata -> dict(plugin, content, display_name, description, data_class);
    plugin is None when plugin_data is absent."""
    md = {"plugin": None, "content": b"", "display_name": "", "description": "",
          "data_class": 0}
    pd = []
    for fn, wt, v in fields(buf):
        if fn == 1 and wt == 2:
            pd.append(v)
        elif fn == 2 and wt == 2:
            md["display_name"] = bytes(v).decode("utf-8", "replace")
        elif fn == 3 and wt == 2:
            md["description"] = bytes(v).decode("utf-8", "replace")
        elif fn == 4 and wt == 0:
            md["data_class"] = v
    if pd:
        md["plugin"] = ""
        for fn, wt, v in fields(_merge_msg(pd)):
            if fn == 1 and wt == 2:
                md["plugin"] = bytes(v).decode("utf-8", "replace")
            elif fn == 2 and wt == 2:
                md["content"] = bytes(v)
    return md


def _packed(wt, v, fmt, size):
    if wt == 2:
        if len(v) % size:
            raise DecodeError("packed field of %d bytes is not a multiple of %d" %
                              (len(v), size))
        return list(struct.unpack("<%d%s" % (len(v) // size, fmt), v))
    return [struct.unpack("<" + fmt, v)[0]]


def _packed_varints(wt, v):
    if wt == 0:
        return [v]
    out = []
    i = 0
    while i < len(v):
        x, i = read_varint(v, i)
        out.append(x)
    return out


def parse_tensor(buf):
    """TensorProto -> dict(dtype, shape (tuple, or None for unknown rank), content,
    vals {field: [values]}, strings [bytes])."""
    t = {"dtype": 0, "shape": (), "content": b"", "vals": {}, "strings": []}
    shape_parts = []
    vals = t["vals"]
    for fn, wt, v in fields(buf):
        if fn == 1 and wt == 0:
            t["dtype"] = v
        elif fn == 2 and wt == 2:
            shape_parts.append(v)
        elif fn == 4 and wt == 2:
            t["content"] = bytes(v)
        elif fn == 5:
            vals.setdefault(5, []).extend(_packed(wt, v, "f", 4))
        elif fn == 6:
            vals.setdefault(6, []).extend(_packed(wt, v, "d", 8))
        elif fn == 8 and wt == 2:
            t["strings"].append(bytes(v))
        elif fn == 9:
            vals.setdefault(9, []).extend(_packed(wt, v, "f", 4))
        elif fn == 12:
            vals.setdefault(12, []).extend(_packed(wt, v, "d", 8))
        elif fn in (7, 13, 16):  # int_val, half_val, uint32_val (int32 / uint32 varints)
            vals.setdefault(fn, []).extend(_packed_varints(wt, v))
        elif fn in (10, 17):  # int64_val, uint64_val
            vals.setdefault(fn, []).extend(_packed_varints(wt, v))
        elif fn == 11:  # bool_val
            vals.setdefault(11, []).extend(_packed_varints(wt, v))
    dims = []
    unknown = False
    for fn, wt, v in fields(_merge_msg(shape_parts)):
        if fn == 2 and wt == 2:
            size = 0
            for f2, w2, v2 in fields(v):
                if f2 == 1 and w2 == 0:
                    size = _int64(v2)
            dims.append(size)
        elif fn == 3 and wt == 0 and v:
            unknown = True
    t["shape"] = None if unknown else tuple(dims)
    return t


def _half_bits(bits):
    return struct.unpack("<e", struct.pack("<H", bits & 0xFFFF))[0]


def _bf16_bits(bits):
    return struct.unpack("<f", struct.pack("<I", (bits & 0xFFFF) << 16))[0]


def tensor_values(t):
    """A numeric tensor's elements as Python numbers (NaN canonical), or None."""
    dt = t["dtype"]
    if dt not in NUMERIC_DTYPES:
        return None
    c = t["content"]
    if c:
        if dt == 14:
            n = len(c) // 2
            return [canon(_bf16_bits(b)) for b in struct.unpack("<%dH" % n, c[:2 * n])]
        fmt = _CONTENT_FMT[dt]
        size = struct.calcsize(fmt)
        n = len(c) // size
        return [canon(x) for x in struct.unpack("<%d%s" % (n, fmt), c[:n * size])]
    v = t["vals"]
    if dt == 1:
        raw = v.get(5, [])
    elif dt == 2:
        raw = v.get(6, [])
    elif dt in (3, 4, 5, 6, 17):
        raw = [_int32(x) for x in v.get(7, [])]
    elif dt == 9:
        raw = [_int64(x) for x in v.get(10, [])]
    elif dt == 10:
        raw = [bool(x) for x in v.get(11, [])]
    elif dt == 19:
        raw = [_half_bits(x) for x in v.get(13, [])]
    elif dt == 14:
        raw = [_bf16_bits(x) for x in v.get(13, [])]
    elif dt == 22:
        raw = [x & 0xFFFFFFFF for x in v.get(16, [])]
    elif dt == 23:
        raw = list(v.get(17, []))
    else:
        raw = []
    return [canon(x) for x in raw]


def tensor_payload(t):
    """(dtype, shape, payload) where payload is the raw tensor_content, the strings, or the
    typed values (NaN canonical), exactly as stored in the proto."""
    if t["content"]:
        payload = ("content", t["content"])
    elif t["strings"]:
        payload = ("strings", tuple(t["strings"]))
    else:
        payload = ("vals", tuple(sorted(
            (k, tuple(canon(float(x)) if isinstance(x, float) else x for x in vs))
            for k, vs in t["vals"].items())))
    return (t["dtype"], t["shape"], payload)


def histo_buckets(buf):
    """TF1 HistogramProto -> ((left, right, count), ...) per TensorBoard's data_compat."""
    mn = mx = 0.0
    limits, counts = [], []
    for fn, wt, v in fields(buf):
        if fn == 1 and wt == 1:
            mn = struct.unpack("<d", v)[0]
        elif fn == 2 and wt == 1:
            mx = struct.unpack("<d", v)[0]
        elif fn == 6:
            limits.extend(_packed(wt, v, "d", 8))
        elif fn == 7:
            counts.extend(_packed(wt, v, "d", 8))
    k = min(len(limits), len(counts))
    limits, counts = limits[:k], counts[:k]
    if k == 0:
        return ()
    lefts = [mn] + limits[:-1]
    rights = limits[:-1] + [mx]
    return tuple((canon(l), canon(r), canon(c)) for l, r, c in zip(lefts, rights, counts))


def _scalar_of_tensor(t):
    vals = tensor_values(t)
    if not vals:
        return None
    x = vals[0]
    if isinstance(x, bool):
        x = int(x)
    return x


def normalise_value(buf):
    """One Summary.Value -> (tag, category, payload). Categories: scalar, histogram, image,
    audio, text, hparams, tensor, metadata_only, old_histogram, unknown."""
    tag = ""
    kind = None
    kparts = []
    mparts = []
    for fn, wt, v in fields(buf):
        if fn == 1 and wt == 2:
            tag = bytes(v).decode("utf-8", "replace")
        elif fn == 9 and wt == 2:
            mparts.append(v)
        elif fn in (2, 3, 4, 5, 6, 8):
            if fn != kind:  # oneof: the last member wins
                kind = fn
                kparts = []
            kparts.append(v)
    md = parse_metadata(_merge_msg(mparts)) if mparts else None
    plugin = md["plugin"] if md and md["plugin"] else ""
    data_class = md["data_class"] if md else 0
    if kind == 2:
        return tag, "scalar", canon(float(struct.unpack("<f", kparts[-1])[0]))
    if kind == 5:
        return tag, "histogram", histo_buckets(_merge_msg(kparts))
    if kind == 4:
        h = w = 0
        blob = b""
        for fn, wt, v in fields(_merge_msg(kparts)):
            if fn == 1 and wt == 0:
                h = v
            elif fn == 2 and wt == 0:
                w = v
            elif fn == 4 and wt == 2:
                blob = bytes(v)
        return tag, "image", ("tf1", w, h, (blob,))
    if kind == 6:
        blob = b""
        for fn, wt, v in fields(_merge_msg(kparts)):
            if fn == 4 and wt == 2:
                blob = bytes(v)
        return tag, "audio", ("tf1", (blob,), ())
    if kind == 3:
        return tag, "old_histogram", bytes(kparts[-1])
    if kind == 8:
        t = parse_tensor(_merge_msg(kparts))
        dt, shape = t["dtype"], t["shape"]
        if (shape == () and dt in NUMERIC_DTYPES and
                (plugin == "scalars" or data_class == DATA_CLASS_SCALAR)):
            x = _scalar_of_tensor(t)
            if x is not None:
                return tag, "scalar", canon(float(x)) if isinstance(x, float) else x
        if plugin == "histograms" and dt in NUMERIC_DTYPES and shape is not None and \
                len(shape) == 2 and shape[1] == 3:
            vals = tensor_values(t)
            return tag, "histogram", tuple(tuple(vals[i:i + 3])
                                           for i in range(0, len(vals) - 2, 3))
        if plugin == "images" and dt == DT_STRING and shape is not None and len(shape) == 1:
            s = t["strings"]
            return tag, "image", ("tf2", s[0] if s else b"", s[1] if len(s) > 1 else b"",
                                  tuple(s[2:]))
        if plugin == "audio" and dt == DT_STRING and shape is not None and \
                len(shape) == 2 and shape[1] == 2:
            s = t["strings"]
            return tag, "audio", ("tf2", tuple(s[0::2]), tuple(s[1::2]))
        if plugin == "text" and dt == DT_STRING:
            return tag, "text", (shape, tuple(t["strings"]))
        if plugin == "hparams":
            return tag, "hparams", (md["content"], tensor_payload(t))
        return tag, "tensor", (plugin,) + tensor_payload(t)
    if kind is None:
        if plugin == "hparams":
            return tag, "hparams", (md["content"], None)
        return tag, "metadata_only", (plugin, md["content"] if md else b"")
    return tag, "unknown", None


GRAPH_TAG = "<graph_def>"
META_GRAPH_TAG = "<meta_graph_def>"


class RunData:
    """Everything decoded from one run: points[(tag)] -> list of (category, step, wall,
    payload); session log statuses; counts of records."""

    def __init__(self):
        self.points = collections.defaultdict(list)
        self.session_logs = collections.Counter()  # (status, step) -> count
        self.records = 0
        self.other_events = collections.Counter()


def decode_event_into(body, rd):
    wall = 0.0
    step = 0
    what = None
    parts = []
    for fn, wt, v in fields(body):
        if fn == 1 and wt == 1:
            wall = struct.unpack("<d", v)[0]
        elif fn == 2 and wt == 0:
            step = _int64(v)
        elif 3 <= fn <= 9 and wt == 2:
            if fn != what:
                what = fn
                parts = []
            parts.append(v)
    rd.records += 1
    if what == 5:
        for fn, wt, v in fields(_merge_msg(parts)):
            if fn == 1 and wt == 2:
                tag, cat, payload = normalise_value(v)
                rd.points[tag].append((cat, step, wall, payload))
    elif what == 4:
        rd.points[GRAPH_TAG].append(("graph_def", step, wall, _merge_msg(parts)))
    elif what == 9:
        rd.points[META_GRAPH_TAG].append(("meta_graph_def", step, wall, _merge_msg(parts)))
    elif what == 8:
        tag, data = "", b""
        for fn, wt, v in fields(_merge_msg(parts)):
            if fn == 1 and wt == 2:
                tag = bytes(v).decode("utf-8", "replace")
            elif fn == 2 and wt == 2:
                data = bytes(v)
        rd.points[tag].append(("run_metadata", step, wall, data))
    elif what == 7:
        status = 0
        for fn, wt, v in fields(_merge_msg(parts)):
            if fn == 1 and wt == 0:
                status = v
        rd.session_logs[(status, step)] += 1
    elif what == 3:
        rd.other_events["file_version"] += 1
    elif what == 6:
        rd.other_events["log_message"] += 1
    else:
        rd.other_events["empty"] += 1


def _is_regular(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def discover_runs(logdir):
    """{run name: [event file paths in name order]}: TensorBoard's rule (a directory that
    directly holds a regular file whose name contains 'tfevents'; '.' for the logdir)."""
    runs = {}
    for dirpath, dirnames, filenames in os.walk(logdir):
        dirnames.sort()
        event_files = sorted(fn for fn in filenames
                             if "tfevents" in fn and _is_regular(os.path.join(dirpath, fn)))
        if not event_files:
            continue
        rel = os.path.relpath(dirpath, logdir)
        name = "." if rel == os.curdir else rel.replace(os.sep, "/")
        runs[name] = [os.path.join(dirpath, fn) for fn in event_files]
    return runs


def decode_logdir(logdir, verify="all"):
    """{run: RunData}. Raises DecodeError (with the path) on a damaged file."""
    out = {}
    for run, files in discover_runs(logdir).items():
        rd = RunData()
        for path in files:
            for off, body in read_records(path, verify):
                try:
                    decode_event_into(body, rd)
                except DecodeError as e:
                    raise DecodeError("%s: offset %d: bad Event: %s" % (path, off, e))
        out[run] = rd
    return out


def multisets(decoded, with_wall=False):
    """{(run, tag): Counter((category, step, payload) or with wall time)}; series without
    points are left out."""
    out = {}
    for run, rd in decoded.items():
        for tag, pts in rd.points.items():
            if not pts:
                continue
            if with_wall:
                c = collections.Counter((cat, step, canon(wall), payload)
                                        for cat, step, wall, payload in pts)
            else:
                c = collections.Counter((cat, step, payload) for cat, step, wall, payload in pts)
            out[(run, tag)] = c
    return out


def _fmt_payload(p, limit=90):
    if isinstance(p, (bytes, bytearray)):
        s = "%d bytes %s" % (len(p), bytes(p[:12]).hex())
    else:
        s = repr(p)
        if len(s) > limit:
            s = s[:limit] + "...(%d chars)" % len(s)
    return s


def _fmt_point(pt):
    return "(%s step %s %s)" % (pt[0], pt[1], ", ".join(_fmt_payload(x) for x in pt[2:]))


def compare_multisets(want, got, max_lines=12):
    """Differences between two {(run, tag): Counter} maps, as readable lines (empty when
    equal): missing series, extra series, and per series the points missing from / extra in
    `got` (with multiplicities), by category."""
    lines = []
    for key in sorted(set(want) | set(got), key=lambda k: (k[0], k[1])):
        w = want.get(key, collections.Counter())
        g = got.get(key, collections.Counter())
        if w == g:
            continue
        run, tag = key
        missing = w - g
        extra = g - w
        nw, ng = sum(w.values()), sum(g.values())
        cats = sorted({p[0] for p in w} | {p[0] for p in g})
        desc = "run %r tag %r [%s]: source %d points, export %d" % (
            run, tag, ",".join(cats), nw, ng)
        if missing:
            ex = sorted(missing.items(), key=lambda kv: repr(kv[0]))[:3]
            desc += "; missing %d (e.g. %s)" % (
                sum(missing.values()),
                "; ".join("%s x%d" % (_fmt_point(p), n) for p, n in ex))
        if extra:
            ex = sorted(extra.items(), key=lambda kv: repr(kv[0]))[:3]
            desc += "; extra %d (e.g. %s)" % (
                sum(extra.values()),
                "; ".join("%s x%d" % (_fmt_point(p), n) for p, n in ex))
        lines.append(desc)
    return lines


def category_counts(ms):
    c = collections.Counter()
    for pts in ms.values():
        for p, n in pts.items():
            c[p[0]] += n
    return c


def scalar_counts(ms):
    """{(run, tag): number of scalar points}."""
    out = {}
    for key, pts in ms.items():
        n = sum(k for p, k in pts.items() if p[0] == "scalar")
        if n:
            out[key] = n
    return out


# ---------------------------------------------------------------------------
# Processes: openssl, tbdev-server, tbdev.


def have_openssl():
    return shutil.which("openssl") is not None


def make_cert(dirpath):
    """A throwaway self-signed P-256 certificate for localhost / 127.0.0.1."""
    cert = os.path.join(dirpath, "cert.pem")
    key_ = os.path.join(dirpath, "key.pem")
    p = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key_, "-out",
         cert], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl failed: %s" % p.stderr.decode("utf-8", "replace")[-500:])
    return cert, key_


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TBDEV_")}
    if extra:
        env.update(extra)
    return env


def add_user(server_exe, db, name="alice"):
    """`tbdev-server user add NAME --db DB` (after `migrate` for a new database, which only
    serve and migrate create): returns the token (stdout's token line)."""
    db = test_db(db)
    if is_new_db(db):
        subprocess.run([server_exe, "migrate", "--db", db], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, env=clean_env(), check=True)
    p = subprocess.run([server_exe, "user", "add", name, "--db", db], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, env=clean_env())
    if p.returncode != 0:
        raise RuntimeError("user add exited %d: %s" % (
            p.returncode, p.stderr.decode("utf-8", "replace")[-500:]))
    out = p.stdout.decode("utf-8", "replace")
    m = re.search(r"\b(tbdev_[A-Za-z0-9_\-]+)", out)
    tok = m.group(1) if m else out.strip().splitlines()[0].strip()
    if not tok:
        raise RuntimeError("user add printed no token: %r" % out)
    return tok


class ChildProcess:
    """alive / kill / stop for a wrapper whose child process (a subprocess.Popen) is
    self.proc, None when there is none. Also used by tests/soak/soak_lib.HttpServer."""

    proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL and reap. Returns the exit status (None without a process)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        rc = self.proc.wait()
        self.proc = None
        return rc

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after timeout. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc


class Server(ChildProcess):
    """A tbdev-server serve process with stdout/stderr in files of workdir."""

    def __init__(self, exe, workdir, db, cert, key_, extra_args=()):
        self.exe, self.workdir, self.db, self.cert, self.key = exe, workdir, test_db(db), cert, key_
        self.extra = list(extra_args)
        self.proc = None
        self.url = None
        self.port = None
        self.starts = 0
        self.out_path = self.err_path = None

    def start(self, port=0, timeout=15.0, attempts=1):
        """Starts and waits for the 'listening on URL' line. With attempts > 1, retries a
        failed start (e.g. the port still in use) after a short pause."""
        last = None
        if port == 0 and on_postgres():  # the port is picked here: it may be taken meanwhile
            attempts = max(attempts, 3)
        for i in range(attempts):
            try:
                return self._start_once(port, timeout)
            except RuntimeError as e:
                last = e
                time.sleep(0.2)
        raise last

    def _start_once(self, port, timeout):
        self.starts += 1
        self.out_path = os.path.join(self.workdir, "server-%d.out" % self.starts)
        self.err_path = os.path.join(self.workdir, "server-%d.err" % self.starts)
        port, pg = pg_serve_args(self.extra, True, port) if self.db.startswith(
            "postgresql://") else (port, [])
        args = [self.exe, "serve", "--db", self.db, "--listen", "127.0.0.1:%d" % port,
                "--tls_cert", self.cert, "--tls_key", self.key, "-q"] + pg + self.extra
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=clean_env())
        deadline = time.monotonic() + timeout
        pat = re.compile(r"tbdev-server listening on (\S+)")
        while time.monotonic() < deadline:
            with open(self.out_path, "rb") as f:
                m = pat.search(f.read().decode("utf-8", "replace"))
            if m:
                self.url = m.group(1).rstrip("/")
                mp = re.search(r":(\d+)$", self.url)
                self.port = int(mp.group(1)) if mp else None
                return self.url
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise RuntimeError("tbdev-server exited %s before listening: %s" % (
                    rc, tail_text(self.err_path, 600)))
            time.sleep(0.01)
        self.kill()
        raise RuntimeError("tbdev-server printed no 'listening on' line within %.0f s" % timeout)


def server_check(server_exe, db):
    p = subprocess.run([server_exe, "check", "--db", test_db(db)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300, env=clean_env())
    _note_sanitizer("tbdev-server check", p.stderr.decode("utf-8", "replace"))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class Client:
    """Runs `tbdev` with a private config dir and, optionally, the server in the env."""

    def __init__(self, exe, home, url=None, token=None, cacert=None, use_env=True):
        self.exe = exe
        self.home = home
        os.makedirs(os.path.join(home, "cfg"), exist_ok=True)
        self.url, self.token, self.cacert = url, token, cacert
        self.use_env = use_env

    def env(self):
        e = clean_env({"XDG_CONFIG_HOME": os.path.join(self.home, "cfg"), "HOME": self.home})
        if self.use_env:
            if self.url:
                e["TBDEV_SERVER"] = self.url
            if self.token:
                e["TBDEV_TOKEN"] = self.token
            if self.cacert:
                e["TBDEV_CACERT"] = self.cacert
        return e

    def run(self, args, timeout=300, stdin=None):
        """(rc, stdout, stderr) as text; rc is 'timeout' when it timed out."""
        try:
            p = subprocess.run([self.exe] + list(args), input=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout, env=self.env())
        except subprocess.TimeoutExpired as e:
            err = (e.stderr or b"").decode("utf-8", "replace")
            _note_sanitizer("tbdev " + " ".join(args[:1]), err)
            return ("timeout", (e.stdout or b"").decode("utf-8", "replace"), err)
        err = p.stderr.decode("utf-8", "replace")
        _note_sanitizer("tbdev " + " ".join(args[:1]), err)
        return (p.returncode, p.stdout.decode("utf-8", "replace"), err)

    def login(self, token):
        return self.run(["auth", "login", "--server", self.url, "--cacert", self.cacert,
                         "--with-token"], stdin=(token + "\n").encode(), timeout=60)

    def popen(self, args, out_path, err_path):
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            return subprocess.Popen([self.exe] + list(args), stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, env=self.env())


EXP_ID_RE = re.compile(r"Experiment ID: ([A-Za-z0-9_\-]+)")


def experiment_id_of(text):
    m = EXP_ID_RE.search(text)
    return m.group(1) if m else None


def export_files(outdir):
    """The export's event files, for a message."""
    found = []
    for dirpath, _, filenames in os.walk(outdir):
        for fn in filenames:
            found.append(os.path.relpath(os.path.join(dirpath, fn), outdir))
    return sorted(found)


class Api:
    """GETs on the JSON read API over HTTPS, trusting only the test certificate."""

    def __init__(self, url, token, cacert):
        self.url = url.rstrip("/")
        self.token = token
        self.ctx = ssl.create_default_context(cafile=cacert)

    def get(self, path, params=None, timeout=30):
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        req = urllib.request.Request(self.url + path + q,
                                     headers={"Authorization": "Bearer " + self.token})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_json(self, path, params=None, timeout=30):
        status, body = self.get(path, params, timeout)
        if status != 200:
            raise RuntimeError("GET %s -> HTTP %s: %s" % (path, status, body[:300]))
        return json.loads(body.decode("utf-8"))

    def scalars(self, exp_id, tag, keep_restarts=False):
        """{run: [(wall, step, value)]} at full resolution (NaN/Inf as the API gives them)."""
        params = {"tag": tag, "points": "all"}
        if keep_restarts:
            params["restarts"] = "keep"
        doc = self.get_json("/api/v1/experiments/%s/scalars" % exp_id, params)
        out = {}
        for s in doc.get("series", []):
            out.setdefault(s["run"], []).extend(tuple(p) for p in s.get("points", []))
        return out

    def runs(self, exp_id):
        return self.get_json("/api/v1/experiments/%s/runs" % exp_id).get("runs", [])


def parse_scalar_csv(path):
    """Counter{(run, tag): rows} of an export --format csv scalars.csv; the server prefixes
    a cell starting with = + - @ with a quote mark, which is taken off again."""
    import csv
    counts = collections.Counter()
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header != ["run", "tag", "step", "wall_time", "value"]:
            raise ValueError("unexpected header %r" % (header,))
        for row in rows:
            if len(row) != 5:
                raise ValueError("row with %d cells: %r" % (len(row), row))
            run, tag = row[0], row[1]
            if run[:2] in ("'=", "'+", "'-", "'@"):
                run = run[1:]
            if tag[:2] in ("'=", "'+", "'-", "'@"):
                tag = tag[1:]
            counts[(run, tag)] += 1
    return counts


SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error: |"
                          r"ThreadSanitizer|MemorySanitizer")
SANITIZER_HITS = []  # (what, excerpt) from captured stderr


def _note_sanitizer(what, text):
    m = SANITIZER_RE.search(text or "")
    if m:
        SANITIZER_HITS.append((what, text[max(0, m.start() - 100):m.start() + 500]))


def sanitizer_reports(tmpdir):
    """Sanitizer reports in captured stderr so far and in every *.err file under tmpdir."""
    hits = list(SANITIZER_HITS)
    for dirpath, _, filenames in os.walk(tmpdir):
        for fn in sorted(filenames):
            if fn.endswith(".err"):
                path = os.path.join(dirpath, fn)
                try:
                    with open(path, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                except OSError:
                    continue
                m = SANITIZER_RE.search(text)
                if m:
                    hits.append((os.path.relpath(path, tmpdir),
                                 text[max(0, m.start() - 100):m.start() + 500]))
    return hits


def check_sanitizers(rep, tmpdir):
    hits = sanitizer_reports(tmpdir)
    rep.check("no sanitizer reports from tbdev / tbdev-server",
              "%d reports; first in %s: %s" % (len(hits), hits[0][0], hits[0][1])
              if hits else None)


def make_tempdir(prefix):
    base = os.environ.get("TMPDIR") or None
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def keep_tmp():
    return bool(os.environ.get("TBDEV_KEEP_TMP"))


def finish_tmp(rep, tmp):
    """The end of a test: a check that tbdev / tbdev-server left no sanitizer report under
    tmp, then tmp is removed (or kept, with a note, under TBDEV_KEEP_TMP)."""
    check_sanitizers(rep, tmp)
    if keep_tmp():
        rep.note("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def check_exes(rep, tbdev, server):
    ok = True
    for p in (tbdev, server):
        if not os.access(p, os.X_OK):
            rep.check("executable %s" % p, "not found or not executable")
            ok = False
    return ok
