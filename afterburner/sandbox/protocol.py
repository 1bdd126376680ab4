"""The pipe protocol between the parent and a sandbox worker: length-prefixed JSON plus raw blobs.

Stdlib only (the worker imports it inside the sandbox).
"""

from __future__ import annotations

import json
import os
import struct

_HDR = struct.Struct("<I")


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
    header = json.loads(read_exact(fd, n))
    blobs = [read_exact(fd, size) for size in header.get("blob_sizes", ())]
    return header, blobs


def pack_msg(header: dict, blobs: list[bytes] = ()) -> bytes:
    header = dict(header, blob_sizes=[len(b) for b in blobs])
    body = json.dumps(header).encode()
    return b"".join([_HDR.pack(len(body)), body, *blobs])


# ---------------------------------------------------------------- the child (runs candidate code)
