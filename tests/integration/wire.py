# SPDX-License-Identifier: MIT
"""The TFRecord and protobuf wire-format code shared by the Python tests (stdlib only).

One copy, imported by uploader_lib.py, server_lib.py, inspect_real.py, bad_inputs.py and
test_deploy.py (and, through uploader_lib, by the soak scripts). It shares no code with the
C implementation: it is written from the format descriptions, so that the tests stay an
independent check of the C reader and writer.

  * CRC32C (Castagnoli, reflected polynomial 0x82F63B78): a table-driven pure-Python loop.
    Long runs of zero bytes are folded in by a GF(2) operator power (as zlib's
    crc32_combine does), so that a 40 MB all-zero tensor costs next to nothing.
    masked_crc32c is TFRecord's mask: rotate right by 15 bits, plus 0xA282EAD8.
  * TFRecord framing: u64le length, u32le masked crc32c(length), data,
    u32le masked crc32c(data).
  * protobuf encoding: varint, pkey (alias key), f_varint, f_bool, f_double, f_float,
    f_bytes (aliases f_str, f_msg) and packed repeated fields.
  * protobuf decoding: read_varint and fields(), which raise DecodeError on malformed
    input (truncation, a varint longer than 10 bytes, field number 0, wire types 3/4/6/7).
"""

import re
import struct

# ---------------------------------------------------------------------------
# CRC32C (Castagnoli), pure Python.

_CRC_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _CRC_POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc_bytes(crc, data):
    """Feeds data to the raw CRC register (pre-conditioned with 0xFFFFFFFF, not yet
    inverted) and returns the new register: crc32c(d) == crc_bytes(0xFFFFFFFF, d) ^ 0xFFFFFFFF."""
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


# Feeding zero bytes is a linear map on the 32-bit register; it is kept as the images of
# the 32 basis vectors, and raised to the n-th power by squaring.

def _op_apply(op, v):
    r = 0
    i = 0
    while v:
        if v & 1:
            r ^= op[i]
        v >>= 1
        i += 1
    return r


def _op_compose(a, b):
    """a after b."""
    return [_op_apply(a, col) for col in b]


_ZERO_BYTE_OP = [crc_bytes(1 << i, b"\0") for i in range(32)]


def crc_zeros(crc, n):
    """crc_bytes(crc, b"\\0" * n), in O(log n) steps."""
    op = _ZERO_BYTE_OP
    while n:
        if n & 1:
            crc = _op_apply(op, crc)
        n >>= 1
        if n:
            op = _op_compose(op, op)
    return crc


ZERO_RUN = 1 << 16  # zero runs at least this long take the crc_zeros path
_ZERO_BLOCK = b"\0" * ZERO_RUN
_NONZERO = re.compile(rb"[^\x00]")


def crc32c(data):
    """CRC32C of any bytes-like object (bytes, bytearray, memoryview)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    n = len(data)
    if n < ZERO_RUN:
        return crc_bytes(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    crc = 0xFFFFFFFF
    pos = 0
    while pos < n:
        z = data.find(_ZERO_BLOCK, pos)
        if z < 0:
            crc = crc_bytes(crc, data[pos:])
            break
        crc = crc_bytes(crc, data[pos:z])
        m = _NONZERO.search(data, z + ZERO_RUN)
        end = m.start() if m else n
        crc = crc_zeros(crc, end - z)
        pos = end
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # RFC 3720 B.4


def masked_crc32c(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def crc_selftest():
    """The RFC 3720 B.4 test vectors, and the zero-run path against the plain loop (a
    fraction of a second: run by the tests that make large zero-filled records)."""
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"\0" * 32) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    for blob in (b"ab" + b"\0" * (3 * ZERO_RUN + 17) + b"cd", b"\0" * (ZERO_RUN + 1),
                 b"x" + b"\0" * ZERO_RUN):
        plain = crc_bytes(0xFFFFFFFF, blob) ^ 0xFFFFFFFF
        assert crc32c(blob) == plain
        assert crc32c(bytearray(blob)) == plain and crc32c(memoryview(blob)) == plain


# ---------------------------------------------------------------------------
# TFRecord framing.

_HEADER_CACHE = {}


def frame_header(length):
    """The 12 bytes before a record's data: u64le length, masked crc32c of those 8 bytes."""
    h = _HEADER_CACHE.get(length)
    if h is None:
        hb = struct.pack("<Q", length)
        h = hb + struct.pack("<I", masked_crc32c(hb))
        if len(_HEADER_CACHE) < 65536:
            _HEADER_CACHE[length] = h
    return h


def frame(payload, bad_length_crc=False, bad_data_crc=False):
    """One TFRecord (bytes) around payload (any bytes-like object); bad_length_crc /
    bad_data_crc flip the low bit of that CRC."""
    if not isinstance(payload, bytes):
        payload = bytes(payload)
    h = frame_header(len(payload))
    if bad_length_crc:
        h = h[:8] + struct.pack("<I", struct.unpack("<I", h[8:])[0] ^ 1)
    dc = masked_crc32c(payload) ^ (1 if bad_data_crc else 0)
    return h + payload + struct.pack("<I", dc)


# ---------------------------------------------------------------------------
# Protobuf encoding.


def varint(n):
    """Base-128 varint of n; negative numbers as their 64-bit two's complement (10 bytes)."""
    n = int(n) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pkey(field, wire):
    return varint((field << 3) | wire)


key = pkey


def f_varint(field, v):
    return pkey(field, 0) + varint(v)


def f_bool(field, v):
    return f_varint(field, 1 if v else 0)


def f_double(field, v):
    return pkey(field, 1) + struct.pack("<d", v)


def f_float(field, v):
    return pkey(field, 5) + struct.pack("<f", v)


def f_bytes(field, b):
    """A length-delimited field: b is bytes-like, or a str (encoded as UTF-8)."""
    if isinstance(b, str):
        b = b.encode("utf-8")
    elif not isinstance(b, bytes):
        b = bytes(b)
    return pkey(field, 2) + varint(len(b)) + b


f_str = f_bytes
f_msg = f_bytes


def f_packed_floats(field, values):
    return f_bytes(field, b"".join(struct.pack("<f", v) for v in values))


def f_packed_doubles(field, values):
    return f_bytes(field, b"".join(struct.pack("<d", v) for v in values))


def f_packed_varints(field, values):
    return f_bytes(field, b"".join(varint(v) for v in values))


# ---------------------------------------------------------------------------
# Protobuf decoding.


class DecodeError(Exception):
    pass


def read_varint(buf, i):
    """(value, next index) of the varint at buf[i]; the value is reduced to 64 bits."""
    result = 0
    shift = 0
    n = len(buf)
    while True:
        if i >= n:
            raise DecodeError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, i
        shift += 7
        if shift >= 70:
            raise DecodeError("varint too long")


def fields(buf):
    """[(field, wire, value)] of a whole message: value is an int for varints, else a
    slice of buf (of its type: bytes for bytes, memoryview for a memoryview...). Raises
    DecodeError before returning anything if any part of buf is malformed."""
    out = []
    i = 0
    n = len(buf)
    while i < n:
        k, i = read_varint(buf, i)
        fn, wt = k >> 3, k & 7
        if fn == 0:
            raise DecodeError("field number 0")
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            ln, i = read_varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise DecodeError("unsupported wire type %d" % wt)
        if i > n:
            raise DecodeError("field %d overruns its message" % fn)
        out.append((fn, wt, v))
    return out
