# SPDX-License-Identifier: MIT
"""Shared helpers for the tbdev-server integration tests (Python 3 standard library only).

- a real `tbdev-server serve` on 127.0.0.1:0 with a temporary SQLite database and a
  throwaway TLS certificate made with the `openssl` CLI; the URL is read from its
  "listening on URL" line; stopped with SIGTERM (or killed) at the end;
- the admin commands (user add, token create/list/revoke, check) on the same database;
- HTTPS requests with http.client and an ssl context that trusts only that certificate;
- a schema-driven decoder for the tbdev.v1 messages, and encoders for them (the protobuf
  wire format, the masked CRC32C and TFRecord framing are wire.py's, re-exported here);
- encoders for the TensorBoard Event messages the tests upload (scalars, tensors,
  histograms, images, audio, text, PR curves, hparams, SessionLog);
- a TAP-like reporter: "ok - NAME" / "not ok - NAME: WHY"; exit 0, 1, or 77 to skip.

Nothing here is shared with the C code: the encoders follow the .proto files in schema/.
"""

import atexit
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

from wire import (  # noqa: F401  (re-exported: S.frame, S.f_msg, S.DecodeError...)
    DecodeError, crc32c, f_bool, f_bytes, f_double, f_float, f_msg, f_packed_doubles,
    f_packed_floats, f_packed_varints, f_str, f_varint, fields, frame, masked_crc32c, pkey,
    read_varint, varint)

SKIP = 77
PROTOBUF = "application/x-protobuf"
STORED_ROW_BYTES = 64  # TB_QUOTA_ROW_BYTES in shared/tblimits.h

# ---------------------------------------------------------------------------
# Protobuf decoding: schemas for the tbdev.v1 messages, read with wire.fields.


def _scalar(kind, wire, v):
    if kind in ("string",):
        return bytes(v).decode("utf-8", "surrogateescape")
    if kind == "bytes":
        return bytes(v)
    if kind in ("uint64", "uint32", "enum"):
        return v
    if kind in ("int64", "int32"):
        return v - (1 << 64) if v >= 1 << 63 else v
    if kind == "bool":
        return bool(v)
    if kind == "double":
        return struct.unpack("<d", v)[0]
    if kind == "float":
        return struct.unpack("<f", v)[0]
    if kind == "fixed32":
        return struct.unpack("<I", v)[0]
    raise DecodeError("kind " + kind)


_DEFAULTS = {"string": "", "bytes": b"", "uint64": 0, "uint32": 0, "enum": 0, "int64": 0,
             "int32": 0, "bool": False, "double": 0.0, "float": 0.0, "fixed32": 0}


def decode(schema_name, b):
    """Decodes b with SCHEMAS[schema_name] into a dict; unknown fields are ignored."""
    schema = SCHEMAS[schema_name]
    out = {}
    for num, (name, kind, rep) in schema.items():
        if rep:
            out[name] = []
        elif kind.startswith("msg:"):
            out[name] = None
        else:
            out[name] = _DEFAULTS[kind]
    for field, wire, v in fields(bytes(b)):
        if field not in schema:
            continue
        name, kind, rep = schema[field]
        if kind.startswith("msg:"):
            val = decode(kind[4:], v)
            if rep:
                out[name].append(val)
            else:
                out[name] = val
            continue
        if rep and wire == 2 and kind not in ("string", "bytes"):
            # packed
            i = 0
            v = bytes(v)
            while i < len(v):
                if kind in ("double",):
                    out[name].append(struct.unpack("<d", v[i:i + 8])[0])
                    i += 8
                elif kind == "float":
                    out[name].append(struct.unpack("<f", v[i:i + 4])[0])
                    i += 4
                else:
                    x, i = read_varint(v, i)
                    out[name].append(_scalar(kind, 0, x))
            continue
        val = _scalar(kind, wire, v)
        if rep:
            out[name].append(val)
        else:
            out[name] = val
    return out


SCHEMAS = {
    "ServerInfo": {
        1: ("server_version", "string", False), 2: ("verdict", "enum", False),
        3: ("verdict_message", "string", False), 4: ("limits", "msg:Limits", False),
        5: ("allowed_plugins", "string", True), 6: ("experiment_url_template", "string", False),
        7: ("content_encodings", "string", True)},
    "Limits": {
        1: ("request_bytes", "uint64", False), 2: ("record_bytes", "uint64", False),
        3: ("blob_bytes", "uint64", False), 4: ("points_per_second", "uint64", False),
        5: ("name_bytes", "uint64", False), 6: ("description_bytes", "uint64", False),
        7: ("runs_per_experiment", "uint64", False), 8: ("tags_per_run", "uint64", False),
        9: ("series_name_bytes", "uint64", False)},
    "Usage": {
        1: ("runs", "uint64", False), 2: ("tags", "uint64", False),
        3: ("scalars", "uint64", False), 4: ("tensors", "uint64", False),
        5: ("blobs", "uint64", False), 6: ("bytes", "uint64", False)},
    "Experiment": {
        1: ("id", "string", False), 2: ("name", "string", False),
        3: ("description", "string", False), 4: ("visibility", "enum", False),
        5: ("owner", "string", False), 6: ("create_time", "double", False),
        7: ("update_time", "double", False), 8: ("url", "string", False),
        9: ("usage", "msg:Usage", False)},
    "ExperimentList": {1: ("experiments", "msg:Experiment", True)},
    "GroupResult": {
        1: ("run", "string", False), 2: ("file", "string", False),
        3: ("status", "enum", False), 4: ("cursor", "uint64", False),
        5: ("values", "uint64", False), 6: ("dropped", "uint64", False),
        7: ("problems", "string", True), 8: ("refused", "string", False),
        9: ("drops", "msg:Drop", True)},
    "Drop": {1: ("reason", "string", False), 2: ("name", "string", False),
             3: ("values", "uint64", False)},
    "WriteEventsResponse": {1: ("results", "msg:GroupResult", True)},
    "Cursor": {1: ("run", "string", False), 2: ("file", "string", False),
               3: ("offset", "uint64", False), 4: ("fingerprint_len", "uint32", False),
               5: ("fingerprint", "fixed32", False)},
    "CursorList": {1: ("cursors", "msg:Cursor", True)},
    "Error": {1: ("code", "string", False), 2: ("message", "string", False),
              3: ("cursor", "uint64", False), 4: ("run", "string", False),
              5: ("file", "string", False)},
    "DeviceCode": {1: ("device_code", "string", False), 2: ("user_code", "string", False),
                   3: ("verification_url", "string", False), 4: ("interval", "uint32", False),
                   5: ("expires_in", "uint32", False)},
    "TokenGrant": {1: ("token", "string", False), 2: ("user", "string", False)},
}

# tbdev.v1 enums
VIS_UNSPECIFIED, UNLISTED, PUBLIC, PRIVATE = 0, 1, 2, 3
VIS_NAMES = {UNLISTED: "unlisted", PUBLIC: "public", PRIVATE: "private"}
VERDICT_OK, VERDICT_WARN, VERDICT_ERROR = 0, 1, 2
COMMITTED, REPLAY, REFUSED = 0, 1, 2


def create_experiment_req(name=None, description=None, visibility=None):
    out = b""
    if name is not None:
        out += f_str(1, name)
    if description is not None:
        out += f_str(2, description)
    if visibility is not None:
        out += f_varint(3, visibility)
    return out


def update_experiment_req(name=None, description=None, visibility=None, update_mask=(),
                          share_with=(), unshare=()):
    out = b""
    if name is not None:
        out += f_str(1, name)
    if description is not None:
        out += f_str(2, description)
    if visibility is not None:
        out += f_varint(3, visibility)
    for m in update_mask:
        out += f_str(4, m)
    for u in share_with:
        out += f_str(5, u)
    for u in unshare:
        out += f_str(6, u)
    return out


def record_group(run, file, offset, records, end_offset=None):
    out = f_str(1, run) + f_str(2, file) + f_varint(3, offset) + f_bytes(4, records)
    if end_offset:
        out += f_varint(5, end_offset)
    return out


def write_events_req(groups):
    """groups: encoded RecordGroups (bytes) or tuples (run, file, offset, records[, end])."""
    out = b""
    for g in groups:
        if not isinstance(g, (bytes, bytearray)):
            g = record_group(*g)
        out += f_msg(1, g)
    return out


def device_token_req(code):
    return f_str(1, code)


# ---------------------------------------------------------------------------
# TensorBoard messages (schema/tensorboard/*.proto).

DT_FLOAT, DT_DOUBLE, DT_INT32, DT_STRING, DT_INT64 = 1, 2, 3, 7, 9
DC_SCALAR, DC_TENSOR, DC_BLOB_SEQUENCE = 1, 2, 3
SESSION_START, SESSION_STOP, SESSION_CHECKPOINT = 1, 2, 3
WALL0 = 1.7e9


def metadata_pb(plugin=None, content=b"", display_name=None, description=None, data_class=None):
    out = b""
    if plugin is not None:
        pd = f_str(1, plugin)
        if content:
            pd += f_bytes(2, content)
        out += f_msg(1, pd)
    if display_name is not None:
        out += f_str(2, display_name)
    if description is not None:
        out += f_str(3, description)
    if data_class is not None:
        out += f_varint(4, data_class)
    return out


def tensor_pb(dtype, dims=(), float_val=None, double_val=None, string_val=None, content=None,
              int64_val=None):
    shape = b"".join(f_msg(2, f_varint(1, d)) for d in dims)
    out = f_varint(1, dtype) + f_msg(2, shape)
    if content is not None:
        out += f_bytes(4, content)
    if float_val is not None:
        out += f_packed_floats(5, float_val)
    if double_val is not None:
        out += f_packed_doubles(6, double_val)
    if string_val is not None:
        for s in string_val:
            out += f_bytes(8, s)
    if int64_val is not None:
        out += f_packed_varints(10, int64_val)
    return out


def histo_pb(mn, mx, num, total, sum_sq, bucket_limit, bucket):
    return (f_double(1, mn) + f_double(2, mx) + f_double(3, num) + f_double(4, total)
            + f_double(5, sum_sq) + f_packed_doubles(6, bucket_limit)
            + f_packed_doubles(7, bucket))


def value_pb(tag, metadata=None, simple=None, image=None, histo=None, audio=None, tensor=None):
    out = f_str(1, tag)
    if metadata is not None:
        out += f_msg(9, metadata)
    if simple is not None:
        out += f_float(2, simple)
    if image is not None:
        out += f_msg(4, image)
    if histo is not None:
        out += f_msg(5, histo)
    if audio is not None:
        out += f_msg(6, audio)
    if tensor is not None:
        out += f_msg(8, tensor)
    return out


def image_pb(height, width, colorspace, encoded):
    return (f_varint(1, height) + f_varint(2, width) + f_varint(3, colorspace)
            + f_bytes(4, encoded))


def audio_pb(sample_rate, channels, frames, encoded, content_type="audio/wav"):
    return (f_float(1, sample_rate) + f_varint(2, channels) + f_varint(3, frames)
            + f_bytes(4, encoded) + f_str(5, content_type))


def summary_pb(values):
    return b"".join(f_msg(1, v) for v in values)


def event_pb(wall_time, step=0, file_version=None, summary=None, session_log=None):
    out = f_double(1, wall_time)
    if step:
        out += f_varint(2, step)
    if file_version is not None:
        out += f_str(3, file_version)
    if summary is not None:
        out += f_msg(5, summary)
    if session_log is not None:
        out += f_msg(7, session_log)
    return out


def session_log_pb(status, msg=None):
    out = f_varint(1, status)
    if msg is not None:
        out += f_str(3, msg)
    return out


# Convenience: whole events.

def ev_file_version(wall=WALL0):
    return event_pb(wall, 0, file_version="brain.Event:2")


def ev_scalar_tf1(tag, step, value, wall=None):
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, simple=value)]))


def ev_scalars_tf1(step, values, wall=None):
    """One event holding several TF1 scalars: values is a list of (tag, value)."""
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(t, simple=v) for t, v in values]))


def ev_scalar_tf2(tag, step, value, wall=None, dtype=DT_FLOAT, description=None):
    md = metadata_pb("scalars", data_class=DC_SCALAR, description=description)
    if dtype == DT_DOUBLE:
        t = tensor_pb(DT_DOUBLE, (), double_val=[value])
    else:
        t = tensor_pb(DT_FLOAT, (), float_val=[value])
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, metadata=md, tensor=t)]))


def ev_histo_tf1(tag, step, bucket_limit, bucket, wall=None):
    mn = bucket_limit[0] - 1.0
    mx = bucket_limit[-1]
    h = histo_pb(mn, mx, float(sum(bucket)), 0.0, 0.0, bucket_limit, bucket)
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, histo=h)]))


def ev_image_tf1(tag, step, encoded, height, width, wall=None):
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, image=image_pb(height, width, 3,
                                                                     encoded))]))


def ev_image_tf2(tag, step, encodeds, width, height, wall=None):
    md = metadata_pb("images", data_class=DC_BLOB_SEQUENCE)
    t = tensor_pb(DT_STRING, (2 + len(encodeds),),
                  string_val=[str(width).encode(), str(height).encode()] + list(encodeds))
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, metadata=md, tensor=t)]))


def ev_audio_tf1(tag, step, wav, rate=8000, frames=0, wall=None):
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, audio=audio_pb(rate, 1, frames, wav))]))


def ev_text_tf2(tag, step, text, wall=None, dims=(), strings=None):
    md = metadata_pb("text", data_class=DC_TENSOR)
    t = tensor_pb(DT_STRING, dims, string_val=strings if strings is not None else [text])
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, metadata=md, tensor=t)]))


def ev_pr_curve(tag, step, rows, wall=None):
    """rows: 6 lists of T floats (TP, FP, TN, FN, precision, recall)."""
    t_count = len(rows[0])
    content = f_varint(1, 0) + f_varint(2, t_count)  # PrCurvePluginData{version, thresholds}
    md = metadata_pb("pr_curves", content=content, data_class=DC_TENSOR)
    flat = [x for r in rows for x in r]
    t = tensor_pb(DT_FLOAT, (6, t_count), float_val=flat)
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, metadata=md, tensor=t)]))


def custom_scalars_layout(categories):
    """tensorboard.Layout: categories is [(title, [(chart title, [tag regexes])])]."""
    out = f_varint(1, 0)
    for title, charts in categories:
        cat = f_str(1, title)
        for ctitle, tags in charts:
            cat += f_msg(2, f_str(1, ctitle) + f_msg(2, b"".join(f_str(1, t) for t in tags)))
        out += f_msg(2, cat)
    return out


def ev_custom_scalars(layout, step=0, wall=None):
    """The layout summary as TensorBoard's custom_scalars plugin writes it."""
    md = metadata_pb("custom_scalars", data_class=DC_TENSOR)
    t = tensor_pb(DT_STRING, (), string_val=[layout])
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb("custom_scalars__config__", metadata=md,
                                                 tensor=t)]))


def ev_session_log(step, status=SESSION_START, wall=None):
    return event_pb(WALL0 + step if wall is None else wall, step,
                    session_log=session_log_pb(status))


# hparams plugin data (schema/tensorboard/plugin_hparams.proto)

def hp_value(v):
    if isinstance(v, bool):
        return f_bool(4, v)
    if isinstance(v, (int, float)):
        return f_double(2, float(v))
    return f_str(3, v)


def hp_session_start(hparams, group_name="", start_time=WALL0):
    ssi = b""
    for k, v in hparams.items():
        ssi += f_msg(1, f_str(1, k) + f_msg(2, hp_value(v)))
    if group_name:
        ssi += f_str(4, group_name)
    ssi += f_double(5, start_time)
    return f_varint(1, 0) + f_msg(3, ssi)


def hp_session_end(status=1, end_time=WALL0 + 100):
    return f_varint(1, 0) + f_msg(4, f_varint(1, status) + f_double(2, end_time))


def hp_experiment(hparam_infos, metric_tags):
    """hparam_infos: list of (name, (min, max)) intervals; metric_tags: [(group, tag)]."""
    ex = b""
    for name, (lo, hi) in hparam_infos:
        ex += f_msg(4, f_str(1, name) + f_varint(4, 3)
                    + f_msg(6, f_double(1, lo) + f_double(2, hi)))
    for group, tag in metric_tags:
        ex += f_msg(5, f_msg(1, f_str(1, group) + f_str(2, tag)))
    return f_varint(1, 0) + f_msg(2, ex)


def ev_hparams(tag, content, step=0, wall=None):
    md = metadata_pb("hparams", content=content)
    # As TensorBoard's hparams summary_v2 writes it: metadata with an empty string tensor.
    t = tensor_pb(DT_STRING, (), string_val=[b""])
    return event_pb(WALL0 + step if wall is None else wall, step,
                    summary=summary_pb([value_pb(tag, metadata=md, tensor=t)]))


class EventFile:
    """An event file being built: framed records, and where each starts."""

    def __init__(self, file_version=True):
        self.data = bytearray()
        self.offsets = []  # start offset of each record
        if file_version:
            self.add(ev_file_version())

    def add(self, payload, **frame_kw):
        self.offsets.append(len(self.data))
        self.data += frame(payload, **frame_kw)
        return self.offsets[-1]

    def __len__(self):
        return len(self.data)

    def boundaries(self):
        return self.offsets + [len(self.data)]

    def chunks(self, records_per_group):
        """Splits at record boundaries: a list of (offset, bytes)."""
        b = self.boundaries()
        out = []
        for i in range(0, len(self.offsets), records_per_group):
            lo = b[i]
            hi = b[min(i + records_per_group, len(self.offsets))]
            out.append((lo, bytes(self.data[lo:hi])))
        return out


# ---------------------------------------------------------------------------
# Small valid media files.


def make_png(width=2, height=2, rgb=(255, 0, 0)):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def make_wav(samples=None, rate=8000):
    if samples is None:
        samples = [int(8000 * ((i % 20) - 10) / 10) for i in range(400)]
    data = b"".join(struct.pack("<h", s) for s in samples)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + \
        struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def gzip_bytes(b):
    return gzip.compress(b)


def zstd_bytes(b):
    """Compresses with the zstd CLI; None if it is not installed."""
    exe = shutil.which("zstd")
    if not exe:
        return None
    p = subprocess.run([exe, "-q", "-c", "-3"], input=b, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.stdout if p.returncode == 0 else None


# ---------------------------------------------------------------------------
# The server.


class Response:
    def __init__(self, status, headers, body, elapsed, method="", path=""):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self.elapsed = elapsed

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def content_type(self):
        return self.header("Content-Type", "")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def pb(self, schema):
        return decode(schema, self.body)

    def error(self):
        """The error code and message, from protobuf or JSON."""
        try:
            if self.content_type.startswith(PROTOBUF):
                e = decode("Error", self.body)
                return e
            j = self.json()
            return j.get("error", {})
        except Exception:
            return {}

    def error_code(self):
        return self.error().get("code", "")

    def short(self, n=300):
        s = self.body[:n].decode("utf-8", "replace").replace("\n", "\\n")
        return "%d %s %s" % (self.status, self.content_type, s)


class ServerError(Exception):
    pass


_live_servers = []


def _cleanup_all():
    for s in list(_live_servers):
        try:
            s.kill()
        except Exception:
            pass


atexit.register(_cleanup_all)


def make_cert(directory):
    """A throwaway self-signed P-256 certificate for localhost and 127.0.0.1."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    if os.path.exists(cert) and os.path.exists(key):
        return cert, key
    p = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise ServerError("openssl failed: " + p.stderr.decode("utf-8", "replace"))
    return cert, key


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TBDEV_")}
    return env


# ---------------------------------------------------------------------------
# The backend: TBDEV_TEST_BACKEND=postgres (or postgresql) runs every server and admin command
# of a test on PostgreSQL: one cluster per test process (scale_lib.PgCluster, started on first
# use, removed at exit) and a fresh database per server. Unset or "sqlite": SQLite files.


def on_postgres():
    return os.environ.get("TBDEV_TEST_BACKEND", "sqlite") in ("postgres", "postgresql")


def backend_name():
    return "postgresql" if on_postgres() else "sqlite"


def require_backend():
    """Exits 77 (skip) with the reason when the backend asked for cannot run here."""
    if not on_postgres():
        return
    import scale_lib
    try:
        scale_lib.PgCluster.check_installed()
    except scale_lib.Unavailable as e:
        print("# skip: TBDEV_TEST_BACKEND=postgres: %s" % e, flush=True)
        sys.exit(SKIP)


_pg_dbs = {}


def test_db(path):
    """The --db for what a test calls PATH (a SQLite file name): PATH itself, or on PostgreSQL
    the URL of a database made for it on first use (the same one for the same PATH)."""
    if not on_postgres() or str(path).startswith("postgresql://"):
        return path
    if path not in _pg_dbs:
        import scale_lib
        _pg_dbs[path] = scale_lib.fresh_database(os.path.basename(str(path)))
    return _pg_dbs[path]


def is_new_db(db):
    """Whether db has no schema yet (admin commands other than migrate need one)."""
    if str(db).startswith("postgresql://"):
        import scale_lib
        return scale_lib.psql(
            str(db), "SELECT count(*) FROM pg_tables WHERE tablename = 'users'"
        )[1].strip() == "0"
    return not os.path.exists(db)


def db_query(db, sql):
    """The rows of sql on either backend, each a tuple of str (None for NULL): sqlite3 on a
    file, `psql -At` on a PostgreSQL URL. Keep sql to what both dialects read the same."""
    if str(db).startswith("postgresql://"):
        import scale_lib
        out = scale_lib.psql(str(db), sql, sep="\x1f", null="\x1e", rsep="\x1d")[1]
        if out.endswith("\n"):
            out = out[:-1]
        return [tuple(None if v == "\x1e" else v for v in line.split("\x1f"))
                for line in out.split("\x1d") if line]
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return [tuple(None if v is None else str(v) for v in r)
                for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def db_exec(db, sql):
    """Runs sql (statements without results) on either backend, in one transaction."""
    if str(db).startswith("postgresql://"):
        import scale_lib
        scale_lib.psql(str(db), "BEGIN;\n%s;\nCOMMIT;" % sql)
        return
    import sqlite3
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        con.executescript("BEGIN;\n%s;\nCOMMIT;" % sql)
    finally:
        con.close()


class WriteLock:
    """The database's write lock, held by this process from take() to release(): on SQLite
    BEGIN IMMEDIATE; on PostgreSQL an open psql session holding LOCK TABLE experiments IN
    EXCLUSIVE MODE (every write locks its experiment's row first; reads go on)."""

    def __init__(self, db):
        self.db = db
        self.conn = None
        self.t0 = None

    def take(self):
        if str(self.db).startswith("postgresql://"):
            import scale_lib
            self.conn = subprocess.Popen(
                ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.db],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=clean_env())
            self.conn.stdin.write(b"BEGIN; LOCK TABLE experiments IN EXCLUSIVE MODE; "
                                  b"SELECT 'locked';\n")
            self.conn.stdin.flush()
            line = self.conn.stdout.readline()
            if line.strip() != b"locked":
                raise ServerError("could not lock %s: %s" % (self.db, self.conn.stderr.read()))
        else:
            import sqlite3
            self.conn = sqlite3.connect(self.db, timeout=1.0, isolation_level=None)
            for _ in range(50):  # the server's checkpointer may hold it for a moment
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.05)
            else:
                raise ServerError("could not take the write lock on " + self.db)
        self.t0 = time.monotonic()
        return self

    def held(self):
        return time.monotonic() - self.t0

    def release(self):
        if self.conn is not None:
            if isinstance(self.conn, subprocess.Popen):
                self.conn.communicate(b"ROLLBACK;\n", timeout=30)
            else:
                self.conn.execute("ROLLBACK")
                self.conn.close()
            self.conn = None
        return time.monotonic() - self.t0


def write_locked(db):
    """Whether a second writer would have to wait now (WriteLock's probe)."""
    if str(db).startswith("postgresql://"):
        import scale_lib
        rc, _ = scale_lib.psql(
            str(db), "SET lock_timeout = 100; BEGIN; LOCK TABLE experiments IN ROW EXCLUSIVE "
            "MODE; ROLLBACK", check=False)
        return rc != 0
    import sqlite3
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pg_serve_args(args, tls, port=0):
    """On PostgreSQL, serve needs --public_url: the loopback URL the server is reached by, on
    a port picked here (returned, with the --listen and --public_url to add)."""
    if not on_postgres() or "--public_url" in args:
        return port, []
    port = port or free_port()
    return port, ["--listen", "127.0.0.1:%d" % port,
                  "--public_url", "%s://127.0.0.1:%d" % ("https" if tls else "http", port)]


class Server:
    """One tbdev-server on one database; may be started, killed and restarted."""

    def __init__(self, exe, workdir, tls=True, args=(), name="server"):
        self.exe = exe
        self.dir = workdir
        self.tls = tls
        self.args = list(args)
        self.name = name
        self.db = test_db(os.path.join(workdir, name + ".db"))
        self.proc = None
        self.url = None
        self.port = None
        self.starts = 0
        self.log_path = os.path.join(workdir, name + ".log")
        self.out_path = os.path.join(workdir, name + ".out")
        self.cert = self.key = None
        self.ctx = None
        self.exit_codes = []  # exit status of each stopped run (None when killed on purpose)
        if tls:
            self.cert, self.key = make_cert(workdir)
            self.ctx = ssl.create_default_context(cafile=self.cert)

    # --- process control

    def start(self, timeout=30.0):
        picked = self.db.startswith("postgresql://") and "--listen" not in self.args
        for attempt in range(3):  # a port picked here (PostgreSQL) may be taken meanwhile
            try:
                return self._start(timeout, picked)
            except ServerError:
                if not picked or attempt == 2 or "address is in use" not in self.log_tail(3):
                    raise

    def _start(self, timeout, picked):
        self.starts += 1
        cmd = [self.exe, "serve", "--db", self.db, "--listen", "127.0.0.1:0"]
        if picked:
            cmd += pg_serve_args(self.args, self.tls)[1]
        cmd += self.args
        if self.tls:
            cmd += ["--tls_cert", self.cert, "--tls_key", self.key]
        out = open(self.out_path, "wb")
        log = open(self.log_path, "ab")
        log.write(("=== start %d: %s\n" % (self.starts, " ".join(cmd))).encode())
        log.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=log,
                                     env=clean_env(), cwd=self.dir)
        out.close()
        log.close()
        _live_servers.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            m = re.search(r"listening on (\S+)", text)
            if m:
                self.url = m.group(1)
                b = re.search(r"bound to \S+:(\d+)\)", text)  # the port, with --public_url too
                self.port = int(b.group(1)) if b else int(self.url.rsplit(":", 1)[1].split("/")[0])
                return self
            if self.proc.poll() is not None:
                raise ServerError("the server exited with %s before listening; log: %s"
                                  % (self.proc.returncode, self.log_tail(20)))
            time.sleep(0.02)
        self.kill()
        raise ServerError("no 'listening on' line within %.0f s" % timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit status (or None if it had to be killed)."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                rc = None
        self.exit_codes.append(rc)
        self._forget()
        return rc

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._forget()

    kill = kill9

    def _forget(self):
        self.proc = None
        if self in _live_servers:
            _live_servers.remove(self)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=8):
        lines = self.log_text().splitlines()
        return " | ".join(lines[-n:])

    def log_problems(self):
        """Sanitizer reports and crash lines in the server's stderr."""
        bad = []
        for line in self.log_text().splitlines():
            if ("AddressSanitizer" in line or "LeakSanitizer" in line
                    or "runtime error:" in line or "ThreadSanitizer" in line
                    or "Segmentation fault" in line or "SUMMARY:" in line):
                bad.append(line.strip())
        return bad

    # --- admin commands on the same database

    def admin(self, *args, stdin=None, timeout=60):
        p = subprocess.run([self.exe] + list(args) + ["--db", self.db],
                           input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=clean_env(), cwd=self.dir, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")

    def add_user(self, name, password=None):
        if is_new_db(self.db):  # only serve and migrate create a database
            self.admin("migrate")
        args = ["user", "add", name]
        stdin = None
        if password is not None:
            args.append("--password_stdin")
            stdin = (password + "\n").encode()
        rc, out, err = self.admin(*args, stdin=stdin)
        if rc != 0:
            raise ServerError("user add %s: %d %s" % (name, rc, err.strip()))
        return out.strip().splitlines()[-1]

    def token_create(self, user):
        rc, out, err = self.admin("token", "create", user)
        if rc != 0:
            raise ServerError("token create %s: %d %s" % (user, rc, err.strip()))
        return out.strip().splitlines()[-1]

    def token_list(self, user=None):
        args = ["token", "list"] + ([user] if user else []) + ["--json"]
        rc, out, err = self.admin(*args)
        if rc != 0:
            raise ServerError("token list: %d %s" % (rc, err.strip()))
        return json.loads(out)

    def token_id(self, token):
        for t in self.token_list():
            if token.startswith(t["prefix"]) and not t["revoked"]:
                return t["id"]
        raise ServerError("no live token with prefix " + token[:10])

    def revoke(self, token_id):
        rc, out, err = self.admin("token", "revoke", str(token_id))
        if rc != 0:
            raise ServerError("token revoke %s: %d %s" % (token_id, rc, err.strip()))

    def check(self):
        rc, out, err = self.admin("check")
        return rc, out.strip(), err.strip()

    def stored_bytes(self, exp_id=None):
        """What the quota should charge, recounted from the database file itself: for each of
        the experiment's runs TB_QUOTA_ROW_BYTES per stored row plus the row's bytes, and for
        each blob it owns TB_QUOTA_ROW_BYTES plus its size (store_sqlite.c RECOUNT_*, the same
        formula in SQL). With exp_id None, a dict of every experiment's."""
        row = STORED_ROW_BYTES
        if self.db.startswith("postgresql://"):
            import scale_lib
            got = {k: int(v) for k, v in db_query(self.db, scale_lib.PG_STORED.format(r=row))}
            return got if exp_id is None else got.get(exp_id)
        q = """
        SELECT e.id,
          coalesce((SELECT sum({r} + length(CAST(r.name AS BLOB))
            + coalesce((SELECT sum({r} + length(CAST(f.name AS BLOB))) FROM files f
                        WHERE f.run_id = r.id), 0)
            + coalesce((SELECT sum({r} + length(CAST(s.tag AS BLOB)) + length(CAST(s.plugin AS BLOB))
                        + {content}
                        + length(CAST(s.display_name AS BLOB))
                        + length(CAST(s.description AS BLOB))) FROM series s
                        WHERE s.run_id = r.id), 0)
            + coalesce((SELECT sum({r} + length(c.data) + length(c.summary))
                        FROM scalar_chunks c JOIN series s ON s.id = c.series_id
                        WHERE s.run_id = r.id), 0)
            + coalesce((SELECT sum({r} + length(t.data) + length(t.value_pb)
                        + length(CAST(t.shape AS BLOB))) FROM tensors t
                        JOIN series s ON s.id = t.series_id WHERE s.run_id = r.id), 0)
            + coalesce((SELECT sum({r} + length(CAST(b.meta AS BLOB)) + length(b.shas)
                        + length(b.value_pb)) FROM blob_points b
                        JOIN series s ON s.id = b.series_id WHERE s.run_id = r.id), 0)
            + (SELECT count(*) * {r} FROM restarts x WHERE x.run_id = r.id))
            FROM runs r WHERE r.experiment_id = e.id), 0)
          + coalesce((SELECT sum({r} + b.size) FROM blob_owners o JOIN blobs b ON b.sha = o.sha
                      WHERE o.experiment_id = e.id), 0)
        FROM experiments e"""
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30)
        try:
            new = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'series_content'").fetchone()
            content = ("coalesce((SELECT length(sc.content) FROM series_content sc"
                       " WHERE sc.series_id = s.id), 0)" if new else "length(s.plugin_content)")
            got = dict(con.execute(q.format(r=row, content=content)).fetchall())
        finally:
            con.close()
        return got if exp_id is None else got.get(exp_id)

    # --- HTTP

    def connection(self, timeout=30.0):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                               timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token=None, headers=None, content_type=None,
                accept=None, timeout=30.0, encode_chunked=False, cookie=None):
        h = {}
        if token:
            h["Authorization"] = "Bearer " + token
        if content_type:
            h["Content-Type"] = content_type
        if accept:
            h["Accept"] = accept
        if cookie:
            h["Cookie"] = cookie
        if headers:
            h.update(headers)
        conn = self.connection(timeout)
        t0 = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=h, encode_chunked=encode_chunked)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.getheaders(), data, time.monotonic() - t0, method,
                            path)
        finally:
            conn.close()

    # shorthands
    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)

    def get_json(self, path, token=None, **kw):
        r = self.request("GET", path, token=token, **kw)
        if r.status != 200:
            raise ServerError("GET %s: %s" % (path, r.short()))
        return r.json()

    def pb_call(self, method, path, body, token, **kw):
        return self.request(method, path, body=body, token=token, content_type=PROTOBUF,
                            accept=PROTOBUF, **kw)

    def create_experiment(self, token, name="exp", description="", visibility=None):
        r = self.pb_call("POST", "/api/v1/experiments",
                         create_experiment_req(name, description, visibility), token)
        if r.status != 201:
            raise ServerError("create experiment: " + r.short())
        return r.pb("Experiment")["id"]

    def write(self, token, exp_id, groups, **kw):
        return self.pb_call("POST", "/api/v1/experiments/%s/events" % exp_id,
                            write_events_req(groups), token, **kw)

    def write_ok(self, token, exp_id, groups):
        r = self.write(token, exp_id, groups)
        if r.status != 200:
            raise ServerError("write events: " + r.short())
        return r.pb("WriteEventsResponse")

    def upload_file(self, token, exp_id, run, file, ef, records_per_group=1000000):
        for off, chunk in ef.chunks(records_per_group):
            self.write_ok(token, exp_id, [(run, file, off, chunk)])

    def patch(self, token, exp_id, **kw):
        return self.pb_call("PATCH", "/api/v1/experiments/" + exp_id,
                            update_experiment_req(**kw), token)

    def cursors(self, token, exp_id):
        r = self.request("GET", "/api/v1/experiments/%s/cursors" % exp_id, token=token,
                         accept=PROTOBUF)
        if r.status != 200:
            raise ServerError("cursors: " + r.short())
        return {(c["run"], c["file"]): c["offset"] for c in r.pb("CursorList")["cursors"]}

    def scalars(self, exp_id, tag, run=None, token=None, points="all"):
        q = "tag=" + quote(tag) + ("&run=" + quote(run) if run else "")
        if points is not None:
            q += "&points=" + str(points)
        return self.get_json("/api/v1/experiments/%s/scalars?%s" % (exp_id, q), token=token)

    def experiment_json(self, exp_id, token=None):
        return self.get_json("/api/v1/experiments/" + exp_id, token=token)

    def health(self, timeout=10.0):
        try:
            r = self.get("/api/v1/health", timeout=timeout)
            return r.status == 200
        except Exception:
            return False

    def raw_socket(self, tls=None, timeout=10.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if (self.tls if tls is None else tls):
            s = self.ctx.wrap_socket(s, server_hostname="127.0.0.1")
        return s


def quote(s):
    from urllib.parse import quote as q
    return q(s, safe="")


def raw_exchange(sock, data, timeout=10.0, max_bytes=1 << 20, quiet_after_data=None):
    """Sends data, reads until the peer closes or timeout (or, with quiet_after_data, until
    nothing more came for that long after some bytes); returns (bytes, closed, secs)."""
    t0 = time.monotonic()
    sock.settimeout(timeout)
    closed = False
    if data:
        try:
            sock.sendall(data)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            closed = True
    got = b""
    deadline = t0 + timeout
    while not closed and time.monotonic() < deadline and len(got) < max_bytes:
        try:
            wait = deadline - time.monotonic()
            if got and quiet_after_data:
                wait = min(wait, quiet_after_data)
            sock.settimeout(max(0.05, wait))
            b = sock.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            closed = True
            break
        if not b:
            closed = True
            break
        got += b
    return got, closed, time.monotonic() - t0


def parse_status(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------
# Reporting.


class Reporter:
    def __init__(self, title):
        self.title = title
        self.n = 0
        self.failed = []
        self.servers = []
        self.notes = []

    def ok(self, name):
        self.n += 1
        print("ok - " + name, flush=True)

    def fail(self, name, why):
        self.n += 1
        why = str(why).replace("\n", " | ")
        self.failed.append((name, why))
        print("not ok - %s: %s" % (name, why), flush=True)

    def check(self, cond, name, why=""):
        if cond:
            self.ok(name)
        else:
            self.fail(name, why or "check failed")
        return bool(cond)

    def eq(self, got, want, name, extra=""):
        return self.check(got == want, name, "got %r, want %r%s" % (_clip(got), _clip(want),
                                                                    ("; " + extra) if extra
                                                                    else ""))

    def status(self, r, want, name):
        """Checks a response's status (an int or a set of ints)."""
        wants = want if isinstance(want, (set, frozenset, tuple, list)) else (want,)
        return self.check(r.status in wants, name,
                          "status %d, want %s; body: %s" % (r.status, "/".join(map(str, wants)),
                                                            r.short(200)))

    def note(self, text):
        self.notes.append(text)
        print("# " + text, flush=True)

    def watch(self, server):
        self.servers.append(server)
        return server

    def server_healthy(self, server, name):
        """The server is still running, answers, and has logged no sanitizer report."""
        if not server.alive():
            return self.fail(name, "the server is not running (exit %s); log: %s"
                             % (server.proc.returncode if server.proc else "?",
                                server.log_tail(12)))
        if not server.health():
            return self.fail(name, "the server does not answer /api/v1/health; log: "
                             + server.log_tail(12))
        probs = server.log_problems()
        if probs:
            return self.fail(name, "sanitizer/crash lines in the log: " + " | ".join(probs[:5]))
        return self.ok(name)


def _clip(v, n=200):
    s = repr(v)
    return v if len(s) <= n else s[:n] + "..."


def run_main(title, body):
    """Runs body(rep, exe, tmpdir) with the usual argv, skip and cleanup rules."""
    if len(sys.argv) < 2:
        print("usage: %s PATH/TO/tbdev-server" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    exe = os.path.abspath(sys.argv[1])
    if not os.access(exe, os.X_OK):
        print("# skip: %s is not an executable" % exe)
        sys.exit(SKIP)
    if not shutil.which("openssl"):
        print("# skip: the openssl CLI is needed to make a test certificate")
        sys.exit(SKIP)
    rep = Reporter(title)

    def on_signal(signum, frame):  # a test runner's timeout: clean up on the way out
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    tmp = tempfile.mkdtemp(prefix="tbdev-it-")
    keep = os.environ.get("TBDEV_TEST_KEEP") == "1"
    t0 = time.monotonic()
    print("# %s: %s (backend %s)" % (title, exe, backend_name()), flush=True)
    try:
        body(rep, exe, tmp)
    except Exception as e:  # a broken test or a dead server: report, then clean up
        rep.fail("test body finished", "%s: %s; %s" % (type(e).__name__, e,
                                                       traceback.format_exc().replace("\n",
                                                                                      " | ")))
    finally:
        for s in rep.servers:
            try:
                if s.proc is not None and not s.alive():
                    ext = [ln for ln in s.log_text().splitlines()[-50:] if "info got SIG" in ln]
                    rep.fail("%s: still running at the end" % s.name,
                             "it exited by itself with status %s%s; log: %s"
                             % (s.proc.returncode,
                                " after a signal this test did not send (another process "
                                "killed it: %s)" % ext[-1] if ext else "", s.log_tail(12)))
                    s._forget()
                if s.alive():
                    rc = s.stop()
                    rep.check(rc == 0, "%s: clean shutdown on SIGTERM" % s.name,
                              "exit status %s; log: %s" % (rc, s.log_tail(10)))
                probs = s.log_problems()
                rep.check(not probs, "%s: no sanitizer or crash reports in the log" % s.name,
                          " | ".join(probs[:8]))
                if rep.failed:
                    print("# %s log tail: %s" % (s.name, s.log_tail(15)))
            except Exception as e:
                rep.fail("%s: cleanup" % s.name, repr(e))
        _cleanup_all()
        if keep:
            print("# kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("# %d checks, %d failed, %.1f s" % (rep.n, len(rep.failed), time.monotonic() - t0))
    sys.exit(1 if rep.failed else 0)


# ---------------------------------------------------------------------------
# HTML safety: what a rendered description or text summary must never contain.

import html.parser as _hp

_BAD_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
             "math", "style", "base", "form", "meta", "link", "noscript", "template"}
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "poster", "background",
              "srcset", "data", "codebase"}


class _SafetyParser(_hp.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        self._tag(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._tag(tag, attrs)

    def _tag(self, tag, attrs):
        if tag.lower() in _BAD_TAGS:
            self.problems.append("<%s> element" % tag)
        for k, v in attrs:
            k = (k or "").lower()
            v = v or ""
            if k.startswith("on"):
                self.problems.append("%s= attribute on <%s>" % (k, tag))
            if k in _URL_ATTRS:
                scheme = re.sub(r"[\x00-\x20]", "", v).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:text", "data:application",
                                      "data:image/svg")):
                    self.problems.append("%s=%r on <%s>" % (k, v[:40], tag))
            if k == "style" and ("expression" in v.lower() or "javascript:" in v.lower()):
                self.problems.append("style=%r" % v[:40])


def html_problems(text):
    """Lists what makes an HTML fragment unsafe to insert into a page (empty if inert)."""
    p = _SafetyParser()
    p.feed(text)
    p.close()
    low = text.lower()
    if "<script" in low:
        p.problems.append("'<script' in the markup")
    return p.problems


require_backend()  # TBDEV_TEST_BACKEND=postgres without PostgreSQL: skip (77)
