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
from collections.abc import Callable

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


def _header(body: bytes) -> dict:
    header = loads(body)
    if not isinstance(header, dict):
        raise ValueError("the message header is not an object")
    return header


def _sizes(header: dict) -> list[int]:
    sizes = header.pop("blob_sizes", [])
    if not isinstance(sizes, list) or not all(type(x) is int and x >= 0 for x in sizes):
        raise ValueError("the message's blob sizes are not counts")
    return sizes


def read_msg(source: int | Callable[[int], bytes]) -> tuple[dict, list[bytes]]:
    """One message: u32 header length, JSON header, then ``header["blob_sizes"]`` raw blobs (the
    returned header no longer holds them). `source`: a file descriptor, or a function that returns
    exactly n bytes (with the caller's deadline). ValueError if the message is malformed."""
    read = source if callable(source) else (lambda n: read_exact(source, n))
    (n,) = _HDR.unpack(read(_HDR.size))
    header = _header(read(n))
    return header, [read(size) for size in _sizes(header)]


def unpack_msg(data: bytes, pos: int = 0) -> tuple[dict, list[bytes], int]:
    """The message at `pos` of a buffer: (header, blobs, the offset just after it). ValueError if it is
    malformed or torn."""
    try:
        (n,) = _HDR.unpack_from(data, pos)
    except struct.error:
        raise ValueError("torn message") from None
    at = pos + _HDR.size + n
    if at > len(data):
        raise ValueError("torn message")
    header = _header(data[pos + _HDR.size : at])
    blobs = []
    for size in _sizes(header):
        if at + size > len(data):
            raise ValueError("torn message")
        blobs.append(data[at : at + size])
        at += size
    return header, blobs, at


def pack_msg(header: dict, blobs: list[bytes] = ()) -> bytes:
    header = dict(header, blob_sizes=[len(b) for b in blobs])
    body = json.dumps(header).encode()
    return b"".join([_HDR.pack(len(body)), body, *blobs])
