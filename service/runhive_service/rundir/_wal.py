"""The per-run write-ahead log: a header, then frames of `[u32 length][u32 crc32][RecordBatch bytes]`.

A frame is one group of consecutive records of one writer, exactly as the client sent it (the daemon writes
the bytes it serialised once); the store keeps the same bytes as a history block.

Readers verify every frame. A torn tail (a crash mid-append) ends the log quietly at the last whole frame;
a frame whose CRC fails in the middle is reported with its file and offset and skipped by resynchronising
on the next frame that verifies, so one flipped bit never costs the rest of the run.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runhive.protocol.v1 import service_pb2 as pb

MAGIC = b"RHWAL\x00\x02\n"
_FRAME = struct.Struct("<II")
MAX_FRAME = 64 * 1024 * 1024


def wal_name(run_id: str) -> str:
    return f"run-{run_id}.rhwal"


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


class WalWriter:
    """Appends frames; `sync()` writes and makes them durable. Used from one thread (the daemon's committer).

    Frames appended since the last sync are written by `sync()` in one write; if that write or its fsync fails
    (disk full, I/O error) the file is cut back to where it was, so a refused group never reaches the log
    later and the log stays a sequence of whole frames.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = os.fstat(self._fd).st_size
            if size == 0:
                _write_all(self._fd, MAGIC)
                size = len(MAGIC)
        except OSError:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            raise
        self.durable = size  # bytes in the file
        self.offset = size  # bytes in the file plus frames waiting for sync()
        self._pending: list[bytes] = []

    def append(self, payloads: list[bytes]) -> int:
        buf = b"".join(_FRAME.pack(len(p), zlib.crc32(p)) + p for p in payloads)
        self._pending.append(buf)
        self.offset += len(buf)
        return self.offset

    def sync(self, fsync: bool = True) -> None:
        if not self._pending:
            return
        buf = b"".join(self._pending)
        self._pending = []
        try:
            _write_all(self._fd, buf)
            if fsync:
                os.fsync(self._fd)
        except OSError:
            self.offset = self.durable
            try:
                os.ftruncate(self._fd, self.durable)
            except OSError:
                pass
            raise
        self.durable = self.offset

    def close(self) -> None:
        try:
            self.sync()
        finally:
            os.close(self._fd)


def _write_all(fd: int, buf: bytes) -> None:
    view = memoryview(buf)
    while view:
        n = os.write(fd, view)
        view = view[n:]


@dataclass
class Damage:
    path: str
    offset: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path} at byte {self.offset}: {self.reason}"


@dataclass
class ReadResult:
    damage: list[Damage] = field(default_factory=list)
    end_offset: int = 0


def read_wal(path: Path, start: int = 0, result: ReadResult | None = None) -> Iterator[tuple[int, pb.Record]]:
    """Yield (offset after its frame, record) for every record of every intact frame at or after `start`,
    with run_id and writer filled in from the frame."""
    for end, group in read_frames(path, start, result):
        for rec in group.records:
            rec.run_id = group.run_id
            rec.writer = group.writer
            yield end, rec


def read_frames(
    path: Path, start: int = 0, result: ReadResult | None = None
) -> Iterator[tuple[int, pb.RecordBatch]]:
    """Yield (offset after the frame, group) for every intact frame at or after byte `start`."""
    res = result if result is not None else ReadResult()
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        if data:
            res.damage.append(Damage(str(path), 0, "not a runhive WAL (bad header)"))
        res.end_offset = 0
        return
    pos = max(start, len(MAGIC))
    n = len(data)
    while pos < n:
        if pos + _FRAME.size > n:
            res.damage.append(Damage(str(path), pos, f"torn frame header ({n - pos} bytes at end)"))
            break
        length, crc = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + length
        if length <= MAX_FRAME and end <= n:
            payload = data[pos + _FRAME.size : end]
            if zlib.crc32(payload) == crc:
                rec = pb.RecordBatch()
                try:
                    rec.ParseFromString(payload)
                except Exception:
                    res.damage.append(Damage(str(path), pos, "frame verifies but does not decode"))
                else:
                    res.end_offset = end
                    yield end, rec
                pos = end
                continue
        if end > n and length <= MAX_FRAME and not _next_frame(data, pos + 1):
            res.damage.append(Damage(str(path), pos, f"torn last record ({n - pos} of {end - pos} bytes)"))
            break
        nxt = _next_frame(data, pos + 1)
        if nxt is None:
            res.damage.append(Damage(str(path), pos, "CRC mismatch; no intact frame after it"))
            break
        res.damage.append(Damage(str(path), pos, f"CRC mismatch; skipped {nxt - pos} bytes"))
        pos = nxt
    res.end_offset = max(res.end_offset, len(MAGIC))


def _next_frame(data: bytes, pos: int) -> int | None:
    """The offset of the next frame that verifies, scanning byte by byte (damage is rare)."""
    n = len(data)
    while pos + _FRAME.size <= n:
        length, crc = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + length
        if 0 < length <= MAX_FRAME and end <= n and zlib.crc32(data[pos + _FRAME.size : end]) == crc:
            return pos
        pos += 1
    return None
