"""The pipe protocol between the parent and a sandbox worker: length-prefixed JSON plus raw blobs.

Stdlib only (the worker imports it inside the sandbox). Every JSON header is read with `loads`, which
refuses nesting deeper than `MAX_DEPTH` before parsing, so no message (a forged one included) can
make the reader, or whatever walks the data afterwards, run out of stack.
"""

from __future__ import annotations

import json
import os
import re
import struct

_HDR = struct.Struct("<I")
MAX_DEPTH = 256  # the codec stops at 64 levels of data (at most 3 JSON levels each) plus the envelope
_ESCAPES = re.compile(rb"\\.")
_STRINGS = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def depth_exceeds(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text `data` nests arrays/objects deeper than `limit` (iterative, C speed)."""
    s = _STRINGS.sub(b"", _ESCAPES.sub(b"", data)).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not s:
            return False
        shorter = s.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(s):
            return False  # not balanced: json.loads will say so
        s = shorter
    return bool(s)


def loads(data: bytes):
    """json.loads, refusing texts nested deeper than `MAX_DEPTH` (ValueError)."""
    if depth_exceeds(data):
        raise ValueError(f"message nested deeper than {MAX_DEPTH} levels")
    return json.loads(data)


def read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        b = os.read(fd, min(left, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_msg(fd: int) -> tuple[dict, list[bytes]]:
    """One message: u32 header length, JSON header, then ``header["blob_sizes"]`` raw blobs."""
    (n,) = _HDR.unpack(read_exact(fd, _HDR.size))
    header = loads(read_exact(fd, n))
    blobs = [read_exact(fd, size) for size in header.get("blob_sizes", ())]
    return header, blobs


def pack_msg(header: dict, blobs: list[bytes] = ()) -> bytes:
    header = dict(header, blob_sizes=[len(b) for b in blobs])
    body = json.dumps(header).encode()
    return b"".join([_HDR.pack(len(body)), body, *blobs])
