"""PNG written without a dependency (zlib + struct), and the size of an image file read from its header."""

from __future__ import annotations

import struct
import zlib
from typing import Any

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


# PNG -----------------------------------------------------------------------------------------------------------


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(width: int, height: int, channels: int, pixels: bytes, level: int = 6) -> bytes:
    """An 8-bit PNG from row-major pixel bytes (`channels` of 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), every
    scanline with filter type 0."""
    if channels not in _PNG_COLOUR:
        raise ValueError(f"encode_png: channels must be 1, 2, 3 or 4, got {channels}.")
    if width <= 0 or height <= 0 or width >= 1 << 31 or height >= 1 << 31:
        raise ValueError(f"encode_png: width and height must be positive, got {width}x{height}.")
    stride = width * channels
    if len(pixels) != stride * height:
        raise ValueError(f"encode_png: expected {stride * height} bytes for {width}x{height}x{channels}.")
    view = memoryview(pixels)
    raw = b"".join(b"\x00" + view[y * stride : (y + 1) * stride] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR[channels], 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, level))
        + _chunk(b"IEND", b"")
    )


def _image_header(head: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) from the first bytes of a PNG, GIF, BMP or WebP file."""
    if head.startswith(_PNG_SIGNATURE) and len(head) >= 24:
        w, h = struct.unpack(">II", head[16:24])
        return "png", w, h
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        w, h = struct.unpack("<HH", head[6:10])
        return "gif", w, h
    if head.startswith(b"BM") and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return "bmp", abs(w), abs(h)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        kind = head[12:16]
        if kind == b"VP8X":
            w = int.from_bytes(head[24:27], "little") + 1
            h = int.from_bytes(head[27:30], "little") + 1
            return "webp", w, h
        if kind == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return "webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", head[26:30])
            return "webp", w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_size(f: Any) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        byte = f.read(1)
        while byte and byte != b"\xff":
            byte = f.read(1)
        while byte == b"\xff":
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:
            return None
        seg = f.read(2)
        if len(seg) < 2:
            return None
        length = struct.unpack(">H", seg)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            data = f.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return w, h
        f.seek(length - 2, 1)


def image_file_size(path: str) -> tuple[str, int, int] | None:
    """(format, width, height) of an image file, read from its header; None when runhive cannot tell."""
    with open(path, "rb") as f:
        head = f.read(32)
        found = _image_header(head)
        if found is not None:
            return found
        if head.startswith(b"\xff\xd8"):
            size = _jpeg_size(f)
            return ("jpeg", *size) if size else None
    try:  # other formats: PIL, when installed
        from PIL import Image as PILImage
    except ImportError:
        return None
    try:
        with PILImage.open(path) as im:
            return str(im.format or "").lower(), int(im.size[0]), int(im.size[1])
    except Exception:
        return None
