#!/usr/bin/env python3
"""Integration test: `tbdev inspect --json` against real third-party event files.

Usage:  inspect_real.py TBDEV_EXE
        inspect_real.py --decoder-only      (only the MANIFEST self-check)

Data:   $TBDEV_REAL_DATA, else <repo root>/../shared/testdata/real (read-only;
        nothing is ever written there).

The test carries its own decoder (with wire.py, the tests' shared TFRecord and
protobuf code), written from the format descriptions and sharing no code with
the C reader, so that the two can be compared:

  * TFRecord framing: u64le length, u32le masked crc32c(length), data,
    u32le masked crc32c(data). crc32c (Castagnoli, reflected 0x82F63B78) is a
    table-driven pure-Python loop. Every CRC of every record is verified: the
    event files total ~16 MB and this takes a few seconds.
  * a minimal protobuf wire-format parser and just enough of tensorflow.Event,
    Summary, Summary.Value, SummaryMetadata and TensorProto.

Checks, one line each, TAP style ("ok - NAME" / "not ok - NAME: WHY"):

  1. decoder self-check against MANIFEST.md (shipped with the data): for every
     event-file row, the record count, the per-kind event counts, the per-kind
     summary-value counts (and their total), the distinct tag count, the step
     range and the byte size must agree with this decoder; every file on disk
     must be listed and every listed file must exist.
  2. for every top-level folder of the data, `tbdev inspect --logdir F --json`
     must exit 0, print JSON with an empty "errors" list, the same set of runs
     as TensorBoard's discovery rule gives, and per run the same set of tags
     with equal count, min_step, max_step, plugin and kind.

Exit status: 0 all ok, 1 any failure, 77 data folder missing (meson: SKIP).
Python 3 standard library only.
"""

import collections
import json
import os
import re
import struct
import subprocess
import sys

from uploader_lib import Reporter, discover_runs, real_data_dir, short
from wire import DecodeError, crc32c, fields, masked_crc32c

# ---------------------------------------------------------------------------
# Protobuf wire format (the CRC32C and the field reader are in wire.py).


def _int64(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def _text(v):
    b = bytes(v)
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("utf-8", "replace")


def _expect(fn, wt, want):
    if wt != want:
        raise DecodeError("field %d: wire type %d, expected %d" % (fn, wt, want))


# ---------------------------------------------------------------------------
# tensorflow.Event and friends (only what the test needs).

DTYPE_NAMES = {
    1: "FLOAT", 2: "DOUBLE", 3: "INT32", 4: "UINT8", 5: "INT16", 6: "INT8",
    7: "STRING", 8: "COMPLEX64", 9: "INT64", 10: "BOOL", 11: "QINT8",
    12: "QUINT8", 13: "QINT32", 14: "BFLOAT16", 15: "QINT16", 16: "QUINT16",
    17: "UINT16", 18: "COMPLEX128", 19: "HALF", 20: "RESOURCE", 21: "VARIANT",
    22: "UINT32", 23: "UINT64",
}
NUMERIC_DTYPES = {1, 2, 3, 4, 5, 6, 9, 10, 14, 17, 19, 22, 23}
BLOB_PLUGINS = {"images", "audio", "graph_run_metadata",
                "graph_run_metadata_graph", "graph_keras_model"}
DATA_CLASS_SCALAR = 1
DATA_CLASS_BLOB_SEQUENCE = 3

EVENT_KINDS = {3: "file_version", 4: "graph_def", 5: "summary",
               6: "log_message", 7: "session_log", 8: "tagged_run_metadata",
               9: "meta_graph_def"}
VALUE_KINDS = {2: "simple_value", 3: "obsolete_old_style_histogram",
               4: "image", 5: "histo", 6: "audio", 8: "tensor"}


def parse_metadata(buf):
    """SummaryMetadata -> (has_plugin_data, plugin_name, data_class)."""
    has_pd = False
    pd = bytearray()
    data_class = 0
    for fn, wt, v in fields(buf):
        if fn == 1:
            _expect(fn, wt, 2)
            has_pd = True
            pd += v            # repeated occurrences of a message merge
        elif fn == 4:
            _expect(fn, wt, 0)
            data_class = v
    name = ""
    if has_pd:
        for fn, wt, v in fields(pd):
            if fn == 1:
                _expect(fn, wt, 2)
                name = _text(v)
    return has_pd, name, data_class


def parse_tensor(buf):
    """TensorProto -> (dtype, rank); rank is None for unknown_rank."""
    dtype = 0
    shape = bytearray()
    for fn, wt, v in fields(buf):
        if fn == 1:
            _expect(fn, wt, 0)
            dtype = v
        elif fn == 2:
            _expect(fn, wt, 2)
            shape += v
    rank = 0
    for fn, wt, v in fields(shape):
        if fn == 2:
            rank += 1
        elif fn == 3 and wt == 0 and v:
            return dtype, None
    return dtype, rank


def classify(value_kind, plugin_set, plugin_name, data_class, dtype, rank):
    """The classification contract shared with the C implementation."""
    plugin = plugin_name if plugin_set and plugin_name else None
    if value_kind == "simple_value":
        return plugin or "scalars", "scalar"
    if value_kind == "histo":
        return plugin or "histograms", "tensor"
    if value_kind == "image":
        return plugin or "images", "blob_sequence"
    if value_kind == "audio":
        return plugin or "audio", "blob_sequence"
    if value_kind == "tensor":
        plugin = plugin or ""
        if (rank == 0 and dtype in NUMERIC_DTYPES
                and (plugin == "scalars" or data_class == DATA_CLASS_SCALAR)):
            return plugin, "scalar"
        if plugin in BLOB_PLUGINS or data_class == DATA_CLASS_BLOB_SEQUENCE:
            return plugin, "blob_sequence"
        return plugin, "tensor"
    # no value at all (hparams session info etc.) or a field the contract
    # does not name
    return plugin or "", "tensor"


SummaryValue = collections.namedtuple(
    "SummaryValue", "tag step wall_time label plugin kind")


def parse_value(buf, step, wall_time):
    tag = ""
    vkind = None
    vbuf = bytearray()
    meta = bytearray()
    has_meta = False
    for fn, wt, v in fields(buf):
        if fn == 1:
            _expect(fn, wt, 2)
            tag = _text(v)
        elif fn in VALUE_KINDS:
            _expect(fn, wt, 5 if fn == 2 else 2)
            kind = VALUE_KINDS[fn]
            if kind != vkind:          # oneof: the last member set wins
                vkind = kind
                vbuf = bytearray()
            vbuf += v
        elif fn == 9:
            _expect(fn, wt, 2)
            has_meta = True
            meta += v
    plugin_set, plugin_name, data_class = (
        parse_metadata(meta) if has_meta else (False, "", 0))
    dtype = rank = None
    if vkind == "tensor":
        dtype, rank = parse_tensor(vbuf)
        label = "tensor(%s,rank%s)" % (DTYPE_NAMES.get(dtype, str(dtype)),
                                       "?" if rank is None else rank)
    else:
        label = vkind or "no-value"
    if plugin_set:
        label += "/" + plugin_name
    plugin, kind = classify(vkind, plugin_set, plugin_name, data_class,
                            dtype, rank)
    return SummaryValue(tag, step, wall_time, label, plugin, kind)


FileInfo = collections.namedtuple(
    "FileInfo", "path size records events labels values graph_values error")

# The counting rule (README, "Counting"): a graph event is a value of its tag, as TensorBoard
# names them, a blob sequence of the graphs plugins.
GRAPH_TAGS = {"graph_def": ("__run_graph__", "graphs"),
              "meta_graph_def": ("__meta_graph__", "graphs")}


def read_event_file(path):
    """Decode one event file completely. Never raises on bad data: the first
    framing/CRC/protobuf problem is returned in .error and reading stops."""
    with open(path, "rb") as f:
        data = f.read()
    records = 0
    events = collections.Counter()
    labels = collections.Counter()
    values = []
    graph_values = []
    error = None
    pos = 0
    n = len(data)
    while pos < n:
        if n - pos < 12:
            error = "offset %d: truncated record header" % pos
            break
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (len_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked_crc32c(header) != len_crc:
            error = "offset %d: length CRC mismatch" % pos
            break
        if n - pos - 12 < length + 4:
            error = "offset %d: truncated record (length %d)" % (pos, length)
            break
        body = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack(
            "<I", data[pos + 12 + length:pos + 16 + length])
        if masked_crc32c(body) != data_crc:
            error = "offset %d: data CRC mismatch" % pos
            break
        try:
            _decode_event(body, events, labels, values, graph_values)
        except DecodeError as e:
            error = "offset %d: bad Event: %s" % (pos, e)
            break
        records += 1
        pos += 16 + length
    return FileInfo(path, n, records, events, labels, values, graph_values, error)


def _decode_event(body, events, labels, values, graph_values):
    wall_time = 0.0
    step = 0
    what = None
    summary = bytearray()
    for fn, wt, v in fields(body):
        if fn == 1:
            _expect(fn, wt, 1)
            (wall_time,) = struct.unpack("<d", v)
        elif fn == 2:
            _expect(fn, wt, 0)
            step = _int64(v)
        elif fn in EVENT_KINDS:
            _expect(fn, wt, 2)
            if EVENT_KINDS[fn] != what:
                what = EVENT_KINDS[fn]
                summary = bytearray()
            if fn == 5 or fn == 8:
                summary += v
    if what is None:
        events["empty"] += 1
    elif what != "summary":
        events[what] += 1
        if what in GRAPH_TAGS:
            tag, plugin = GRAPH_TAGS[what]
            graph_values.append(SummaryValue(tag, step, wall_time, what, plugin, "blob_sequence"))
        elif what == "tagged_run_metadata":
            tag = ""
            for gfn, gwt, gv in fields(summary):
                if gfn == 1 and gwt == 2:
                    tag = bytes(gv).decode("utf-8", "replace")
            graph_values.append(SummaryValue(tag, step, wall_time, what,
                                             "graph_tagged_run_metadata", "blob_sequence"))
        return
    for fn, wt, v in fields(summary):
        if fn == 1:
            _expect(fn, wt, 2)
            sv = parse_value(v, step, wall_time)
            labels[sv.label] += 1
            values.append(sv)


# ---------------------------------------------------------------------------
# Logdir discovery: TensorBoard's rule, uploader_lib.discover_runs.

_FILE_CACHE = {}


def decoded(path):
    path = os.path.realpath(path)
    if path not in _FILE_CACHE:
        _FILE_CACHE[path] = read_event_file(path)
    return _FILE_CACHE[path]


def expected_run(files):
    """Aggregate the run's values per tag.

    Returns ({tag: dict}, notes). plugin and kind of a tag are those of its
    first value in read order (files in name order, records in file order);
    a tag whose values disagree is listed in notes."""
    tags = {}
    notes = []
    for path in files:
        info = decoded(path)
        # graph events have tags of their own: their order among the summary values is moot
        for sv in info.values + info.graph_values:
            t = tags.get(sv.tag)
            if t is None:
                tags[sv.tag] = t = {
                    "plugin": sv.plugin, "kind": sv.kind, "count": 0,
                    "min_step": sv.step, "max_step": sv.step,
                    "first_step": sv.step, "first_wall_time": sv.wall_time,
                    "classes": collections.Counter()}
            t["count"] += 1
            t["min_step"] = min(t["min_step"], sv.step)
            t["max_step"] = max(t["max_step"], sv.step)
            t["last_step"] = sv.step
            t["last_wall_time"] = sv.wall_time
            t["classes"][(sv.plugin, sv.kind)] += 1
    for tag, t in sorted(tags.items()):
        if len(t["classes"]) > 1:
            notes.append("tag %r classified differently across values: %s" % (
                tag, dict(t["classes"])))
    return tags, notes


# ---------------------------------------------------------------------------
# Part 1: the decoder against MANIFEST.md.

_ROW_RE = re.compile(r"^\|\s*`([^`]+)`\s*\|")
_SECTION_RE = re.compile(r"^##\s+`([^`]+)`\s*$")
_COUNT_RE = re.compile(r"^(.*)\u00d7(\d+)$")


def _counts(cell):
    """'file_version×1, graph_def×2' -> Counter; '-' -> empty."""
    out = collections.Counter()
    cell = cell.strip()
    if cell in ("", "-"):
        return out
    for part in re.split(r",\s+", cell):
        m = _COUNT_RE.match(part.strip())
        if not m:
            raise ValueError("cannot parse %r" % part)
        out[m.group(1)] += int(m.group(2))
    return out


def parse_manifest(path):
    """[(folder, relpath, {column: cell})] for every table row."""
    rows = []
    folder = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = _SECTION_RE.match(line)
            if m:
                folder = m.group(1).strip("/")
                continue
            m = _ROW_RE.match(line)
            if not m or folder is None:
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 8:
                raise ValueError("short row: %s" % line)
            # a notes cell containing '|' would split further: re-join it
            cells = cells[:7] + ["|".join(cells[7:])]
            keys = ("file", "bytes", "records", "events", "values", "tags",
                    "steps", "notes")
            rows.append((folder, m.group(1), dict(zip(keys, cells))))
    return rows


def check_manifest(data_dir, rep):
    manifest = os.path.join(data_dir, "MANIFEST.md")
    if not os.path.isfile(manifest):
        rep.note("no MANIFEST.md in %s: decoder self-check skipped" % data_dir)
        return
    try:
        rows = parse_manifest(manifest)
    except (OSError, ValueError) as e:
        rep.check("manifest parse", str(e))
        return
    rep.check("manifest parse (%d rows)" % len(rows),
              None if rows else "no table rows found")

    listed = set()
    for folder, rel, cols in rows:
        name = "manifest %s/%s" % (folder, rel)
        path = os.path.join(data_dir, folder, rel)
        listed.add(os.path.normpath(path))
        if not os.path.isfile(path):
            rep.check(name, "listed but missing on disk")
            continue
        problems = []
        size = os.path.getsize(path)
        if cols["bytes"] != str(size):
            problems.append("bytes %s on disk, manifest %s" % (size,
                                                               cols["bytes"]))
        if cols["records"] == "-":
            if problems:
                rep.check(name, "; ".join(problems))
            continue
        info = decoded(path)
        if info.error:
            problems.append("decoder error: " + info.error)
        if str(info.records) != cols["records"]:
            problems.append("records %d, manifest %s" % (info.records,
                                                         cols["records"]))
        try:
            want_events = _counts(cols["events"])
            want_labels = _counts(cols["values"])
        except ValueError as e:
            rep.check(name, "manifest row: %s" % e)
            continue
        got_events = collections.Counter(info.events)
        # the manifest's events column counts every non-summary Event kind
        if got_events != want_events:
            problems.append("events %s, manifest %s" % (
                dict(got_events), dict(want_events)))
        nvalues = len(info.values)
        if nvalues != sum(want_labels.values()):
            problems.append("summary values %d, manifest %d" % (
                nvalues, sum(want_labels.values())))
        if info.labels != want_labels:
            problems.append("value kinds %s, manifest %s" % (
                dict(info.labels), dict(want_labels)))
        ntags = len({sv.tag for sv in info.values})
        if str(ntags) != cols["tags"]:
            problems.append("tags %d, manifest %s" % (ntags, cols["tags"]))
        if info.values:
            steps = [sv.step for sv in info.values]
            got_steps = "%d..%d" % (min(steps), max(steps))
        else:
            got_steps = "-"
        if got_steps != cols["steps"]:
            problems.append("steps %s, manifest %s" % (got_steps,
                                                       cols["steps"]))
        rep.check(name + " (%d records)" % info.records,
                  "; ".join(problems) or None)

    unlisted = []
    for dirpath, dirnames, filenames in os.walk(data_dir):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.normpath(os.path.join(dirpath, fn))
            if os.path.dirname(p) == os.path.normpath(data_dir):
                continue  # MANIFEST.md and other top-level files
            if p not in listed:
                unlisted.append(os.path.relpath(p, data_dir))
    rep.check("manifest lists every file on disk",
              ("not listed: " + short(unlisted)) if unlisted else None)


# ---------------------------------------------------------------------------
# Part 2: tbdev inspect --json against the decoder.


def check_folder(tbdev, folder, name, rep):
    runs = discover_runs(folder)
    label = "inspect %s" % name
    try:
        proc = subprocess.run(
            [tbdev, "inspect", "--logdir", folder, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    except subprocess.TimeoutExpired:
        rep.check(label + " runs", "timed out after 120 s")
        return
    except OSError as e:
        rep.check(label + " runs", "cannot run %s: %s" % (tbdev, e))
        return
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    rep.check(label + " exit status",
              None if proc.returncode == 0 else
              "exit %d; stderr: %s" % (proc.returncode, stderr[-500:]))
    try:
        doc = json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        rep.check(label + " json", "stdout is not JSON (%s): %r" % (
            e, proc.stdout[:200]))
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
        rep.check(label + " json", "no top-level \"runs\" list")
        return

    errors = doc.get("errors")
    rep.check(label + " errors empty",
              None if errors == [] else "errors = %s" % json.dumps(errors)[:600])

    got_runs = {}
    dup_runs = []
    for r in doc["runs"]:
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            rep.check(label + " runs", "malformed run entry %r" % (r,))
            return
        if r["name"] in got_runs:
            dup_runs.append(r["name"])
        got_runs[r["name"]] = r
    missing = sorted(set(runs) - set(got_runs))
    extra = sorted(set(got_runs) - set(runs))
    why = []
    if missing:
        why.append("missing runs: " + short(missing))
    if extra:
        why.append("unexpected runs: " + short(extra))
    if dup_runs:
        why.append("duplicate runs: " + short(dup_runs))
    rep.check(label + " runs (%d)" % len(runs), "; ".join(why) or None)

    for run in sorted(runs):
        if run not in got_runs:
            continue
        want, notes = expected_run(runs[run])
        for n in notes:
            rep.note("%s run %s: %s" % (name, run, n))
        got = {}
        dup_tags = []
        bad = []
        for t in got_runs[run].get("tags") or []:
            if not isinstance(t, dict) or not isinstance(t.get("tag"), str):
                bad.append("malformed tag entry %r" % (t,))
                continue
            if t["tag"] in got:
                dup_tags.append(t["tag"])
            got[t["tag"]] = t
        if dup_tags:
            bad.append("duplicate tags: " + short(map(repr, dup_tags)))
        for tag in sorted(set(want) - set(got)):
            bad.append("missing tag %r" % tag)
        for tag in sorted(set(got) - set(want)):
            bad.append("unexpected tag %r" % tag)
        extra_diffs = []
        for tag in sorted(set(want) & set(got)):
            w, g = want[tag], got[tag]
            for key in ("count", "min_step", "max_step", "plugin", "kind"):
                if g.get(key) != w[key]:
                    bad.append("tag %r %s: got %r, want %r" % (
                        tag, key, g.get(key), w[key]))
            # informational only: not part of the pass/fail contract
            for key in ("first_step", "last_step"):
                if key in g and g[key] != w[key]:
                    extra_diffs.append("tag %r %s: got %r, want %r" % (
                        tag, key, g[key], w[key]))
            for key in ("first_wall_time", "last_wall_time"):
                if key in g and isinstance(g[key], (int, float)) and \
                        abs(g[key] - w[key]) > 1e-6 * max(1.0, abs(w[key])):
                    extra_diffs.append("tag %r %s: got %r, want %r" % (
                        tag, key, g[key], w[key]))
        if extra_diffs:
            rep.note("%s run %s (informational): %s" % (
                name, run, short(extra_diffs)))
        rep.check("%s run %s (%d tags)" % (label, run, len(want)),
                  short(bad, 12) if bad else None)


# ---------------------------------------------------------------------------


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s TBDEV_EXE | --decoder-only\n" % argv[0])
        return 2
    decoder_only = argv[1] == "--decoder-only"
    root = real_data_dir()
    if not os.path.isdir(root):
        print("# SKIP: real data folder %s not found" % root)
        return 77
    rep = Reporter()
    rep.note("data: %s" % root)

    rep.check("crc32c known vector",
              None if crc32c(b"123456789") == 0xE3069283 else
              "crc32c('123456789') = %08x" % crc32c(b"123456789"))

    check_manifest(root, rep)

    if not decoder_only:
        tbdev = os.path.abspath(argv[1])
        if not os.access(tbdev, os.X_OK):
            rep.check("tbdev executable", "%s is not executable" % tbdev)
            return rep.finish()
        folders = sorted(d for d in os.listdir(root)
                         if os.path.isdir(os.path.join(root, d)))
        rep.check("data folders present", None if folders else "none found")
        for d in folders:
            check_folder(tbdev, os.path.join(root, d), d, rep)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
