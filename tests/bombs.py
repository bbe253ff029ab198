"""Decompression bombs for the upload tests (issue 13), built without ever holding their pixels:
a valid one-bit greyscale PNG of any size whose rows are all zero, compressed row by row (a
9000×9000 one is about 10 KB; Pillow itself would need a byte a pixel to draw it)."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int, height: int) -> bytes:
    """A complete, valid PNG of width×height black pixels (bit depth 1, colour type 0)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter type 0, then the packed bits
    packer = zlib.compressobj(9)
    parts = [packer.compress(row) for _ in range(height)]
    parts.append(packer.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )
