"""The client's gRPC transport: gRPC's wire protocol (HTTP/2, length-prefixed protobuf, status in trailers)
spoken over the daemon's Unix socket, instead of grpcio.

Why not grpcio in user processes: importing it costs ~27 MiB of RSS and ~60 ms (its core pulls in asyncio),
in every training rank; and a process forked after grpcio was used must not touch it again. Why not `h2`
either: its general state machine costs ~16 ms to import, on init()'s path. A gRPC client that runs one call
at a time per connection needs a small part of HTTP/2: frames, two flow-control windows, SETTINGS, PING and
GOAWAY. That part is written here, and so is HPACK decoding (`_hpack.py`).
Each thread that calls gets its own connection, and a forked child opens its own. The daemon still serves with
grpcio. See docs/DESIGN-NOTES.md.
"""

from __future__ import annotations

import enum
import os
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

from runhive.protocol import messages as pb

from . import _hpack

SERVICE = pb.DESCRIPTOR.services_by_name["Runhive"]
_WINDOW = 16 * 1024 * 1024  # receive window: a big reply needs no round trip per 64 KiB
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 section 6).
DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0x0, 0x1, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9,
)  # fmt: skip
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE = 0x2, 0x4, 0x5


class StatusCode(enum.Enum):
    """gRPC status codes (the same names as `grpc.StatusCode`)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class RpcError(Exception):
    """A call that did not return OK, with the daemon's status (or UNAVAILABLE when it was not reached)."""

    def __init__(self, code: StatusCode, details: str, trailers: list[tuple[str, Any]] | None = None) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code, self._details, self._trailers = code, details, trailers or []

    def code(self) -> StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> list[tuple[str, Any]]:
        return self._trailers


class ProtocolError(Exception):
    """The daemon broke HTTP/2 or gRPC framing (or the connection state allows no more calls)."""


def _frame(ftype: int, flags: int, sid: int, payload: bytes | memoryview = b"") -> bytes:
    return _frame_header(len(payload), ftype, flags, sid) + bytes(payload)


def _frame_header(length: int, ftype: int, flags: int, sid: int) -> bytes:
    return ((length << 8) | ftype).to_bytes(4, "big") + bytes((flags,)) + sid.to_bytes(4, "big")


def _literal(name: str, value: str) -> bytes:
    # HPACK "literal header field without indexing, new name", no Huffman: nothing to keep in step with the
    # daemon's decoder table. Names and values here are short ASCII.
    n, v = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(n)) + n + _hpack_int(len(v)) + v


def _hpack_int(value: int) -> bytes:
    if value < 127:
        return bytes((value,))
    out, value = bytearray((127,)), value - 127
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


class _Stream:
    """What one call has received so far."""

    def __init__(self, sid: int, window: int) -> None:
        self.sid = sid
        self.send_window = window
        self.data = bytearray()
        self.headers: list[tuple[str, str]] = []
        self.ended = False
        self.reset: int | None = None
        self.unacked = 0  # received bytes not yet given back in a WINDOW_UPDATE


class _Conn:
    """One HTTP/2 connection, used by one thread at a time, one call at a time."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        except BaseException:
            self.sock.close()
            raise
        self.decoder = _hpack.Decoder()
        self.buf = bytearray()
        self.next_sid = 1
        self.stream: _Stream | None = None
        self.send_window = 65535  # the daemon's connection window for what we send
        self.peer_initial_window = 65535
        self.peer_max_frame = 16384
        self.recv_unacked = 0
        self.header_block: bytearray | None = None  # a HEADERS frame's block awaiting CONTINUATION
        self.header_flags = 0
        self.goaway = False  # the daemon is going away: finish what it answers, then reconnect
        self.goaway_last_sid = 0
        settings = struct.pack(">HIHI", SETTINGS_ENABLE_PUSH, 0, SETTINGS_INITIAL_WINDOW_SIZE, _WINDOW)
        self.send(
            _PREFACE
            + _frame(SETTINGS, 0, 0, settings)
            + _frame(WINDOW_UPDATE, 0, 0, (_WINDOW - 65535).to_bytes(4, "big"))
        )

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_control(self, data: bytes) -> None:
        """An acknowledgement or window update: if the daemon has closed its end, what it already sent still
        counts; the connection is not used for another call, and a read that needs more fails then."""
        try:
            self.sock.sendall(data)
        except OSError:
            self.goaway = True
            self.goaway_last_sid = max(self.goaway_last_sid, self.next_sid)

    def send_frame(self, header: bytes, payload: memoryview) -> None:
        # One sendmsg for header and payload, without copying the payload; a full socket buffer can take part
        # of it, and the rest must follow before any other frame.
        sent = self.sock.sendmsg([header, payload])
        if sent < len(header) + len(payload):
            self.sock.sendall((header + bytes(payload))[sent:])

    def open_stream(self) -> _Stream:
        if self.goaway:
            raise ProtocolError("the daemon is going away")
        sid = self.next_sid
        self.next_sid += 2
        self.stream = _Stream(sid, self.peer_initial_window)
        return self.stream

    def receive(self) -> None:
        """Read what the socket has and handle every whole frame in it."""
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionResetError("the daemon closed the connection")
        buf = self.buf
        buf += data
        pos, end = 0, len(buf)
        try:
            while end - pos >= 9:
                length = int.from_bytes(buf[pos : pos + 3], "big")
                if end - pos < 9 + length:
                    break
                ftype, flags = buf[pos + 3], buf[pos + 4]
                sid = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
                # A copy, not a view: replies are small, and a view would pin `buf` against the `del` below.
                payload = bytes(buf[pos + 9 : pos + 9 + length])
                pos += 9 + length
                self._handle(ftype, flags, sid, payload)
        finally:
            del buf[:pos]

    def _handle(self, ftype: int, flags: int, sid: int, payload: bytes) -> None:
        st = self.stream
        mine = st is not None and sid == st.sid
        if self.header_block is not None and ftype != CONTINUATION:
            raise ProtocolError(f"frame type {ftype} inside a header block")
        if ftype == DATA:
            data = _unpad(payload, flags)
            self.recv_unacked += len(payload)
            if mine and st is not None:
                st.data += data
                st.unacked += len(payload)
                if flags & END_STREAM:
                    st.ended = True
            self._give_back_window(st if mine else None)
        elif ftype in (HEADERS, CONTINUATION):
            if ftype == HEADERS:
                block = _unpad(payload, flags)
                if flags & PRIORITY:
                    block = block[5:]
                self.header_block, self.header_flags = bytearray(block), flags
            elif self.header_block is None:
                raise ProtocolError("CONTINUATION without HEADERS")
            else:
                self.header_block += payload
            if flags & END_HEADERS:
                block_bytes, hflags = bytes(self.header_block), self.header_flags
                self.header_block = None
                # Every block goes through the decoder, in order: its dynamic table is shared by all streams.
                headers = self.decoder.decode(block_bytes)
                if mine and st is not None:
                    st.headers.extend((str(k), str(v)) for k, v in headers)
                    if hflags & END_STREAM:
                        st.ended = True
        elif ftype == RST_STREAM:
            if mine and st is not None:
                st.reset = int.from_bytes(payload[:4], "big")
        elif ftype == SETTINGS:
            if not flags & ACK:
                for i in range(0, len(payload) - 5, 6):
                    key, value = struct.unpack_from(">HI", payload, i)
                    if key == SETTINGS_INITIAL_WINDOW_SIZE:
                        if st is not None:
                            st.send_window += value - self.peer_initial_window
                        self.peer_initial_window = value
                    elif key == SETTINGS_MAX_FRAME_SIZE:
                        self.peer_max_frame = value
                self.send_control(_frame(SETTINGS, ACK, 0))
        elif ftype == PING:
            if not flags & ACK:
                self.send_control(_frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            self.goaway = True
            self.goaway_last_sid = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        elif ftype == WINDOW_UPDATE:
            inc = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if sid == 0:
                self.send_window += inc
            elif mine and st is not None:
                st.send_window += inc
        elif ftype == PUSH_PROMISE:
            raise ProtocolError("PUSH_PROMISE although push is disabled")
        # Other frame types (PRIORITY, extensions) carry nothing a client needs.

    def _give_back_window(self, st: _Stream | None) -> None:
        # Acknowledge in bulk, once half a window is used: one WINDOW_UPDATE per 8 MiB, not per frame.
        out = b""
        if self.recv_unacked >= _WINDOW // 2:
            out += _frame(WINDOW_UPDATE, 0, 0, self.recv_unacked.to_bytes(4, "big"))
            self.recv_unacked = 0
        if st is not None and st.unacked >= _WINDOW // 2 and not st.ended:
            out += _frame(WINDOW_UPDATE, 0, st.sid, st.unacked.to_bytes(4, "big"))
            st.unacked = 0
        if out:
            self.send_control(out)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _unpad(payload: bytes, flags: int) -> bytes:
    if flags & PADDED:
        pad = payload[0]
        if pad >= len(payload):
            raise ProtocolError("padding longer than the frame")
        return payload[1 : len(payload) - pad]
    return payload


class Channel:
    """A gRPC channel to `unix:<path>`; thread-safe (a connection per calling thread), fork-safe."""

    def __init__(self, target: str) -> None:
        self.path = target[len("unix:") :] if target.startswith("unix:") else target
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[_Conn] = []
        self._pid = os.getpid()
        self._closed = False

    def _conn(self, timeout: float | None) -> _Conn:
        if self._pid != os.getpid():  # forked: the inherited connections are the parent's streams
            self._local = threading.local()
            self._conns = []
            self._pid = os.getpid()
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is not None and conn.goaway:
            self._drop(conn)
            conn = None
        if conn is None:
            if self._closed:
                raise RpcError(StatusCode.CANCELLED, "the channel is closed")
            conn = _Conn(self.path, timeout)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        conn.sock.settimeout(timeout)
        return conn

    def _drop(self, conn: _Conn) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            c.close()

    def call(
        self, method: str, request: bytes, timeout: float | None
    ) -> Iterator[bytes | list[tuple[str, Any]]]:
        """Send one request; yield each reply message, then the trailers (a list). Raises RpcError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            conn = self._conn(timeout)
        except OSError as exc:
            raise RpcError(StatusCode.UNAVAILABLE, f"cannot reach {self.path}: {exc}") from None
        try:
            yield from self._exchange(conn, method, request, timeout, deadline)
        except RpcError:
            raise
        except TimeoutError:
            self._drop(conn)
            raise RpcError(StatusCode.DEADLINE_EXCEEDED, f"{method}: no answer within {timeout} s") from None
        except (OSError, ProtocolError, _hpack.HPACKError) as exc:
            self._drop(conn)
            raise RpcError(
                StatusCode.UNAVAILABLE, f"{method}: connection to {self.path} lost: {exc}"
            ) from None
        except GeneratorExit:  # the caller stopped reading a stream: the connection is mid-stream
            self._drop(conn)
            raise

    def _exchange(
        self, conn: _Conn, method: str, request: bytes, timeout: float | None, deadline: float | None
    ) -> Iterator[bytes | list[tuple[str, Any]]]:
        st = conn.open_stream()
        block = _REQUEST_HEADERS + _literal(":path", method)
        if timeout is not None:
            block += _literal("grpc-timeout", f"{max(1, int(timeout * 1000))}m")
        conn.send(_frame(HEADERS, END_HEADERS, st.sid, block))
        body = memoryview(b"\x00" + len(request).to_bytes(4, "big") + request)
        while body and not st.ended:
            room = min(st.send_window, conn.send_window, conn.peer_max_frame, len(body))
            if room <= 0:  # wait for the daemon to open its window
                self._check_deadline(deadline, method)
                conn.receive()
                self._check_stream(conn, st, method)
                continue
            last = room == len(body)
            # Frame by frame to the socket: each send releases the GIL, so a training thread waiting in log()
            # never waits for the whole message's framing (a full 5 ms switch interval).
            conn.send_frame(_frame_header(room, DATA, END_STREAM if last else 0, st.sid), body[:room])
            body = body[room:]
            st.send_window -= room
            conn.send_window -= room
        if body:  # it answered before reading the whole request (an error, e.g. a message too large)
            conn.goaway = True  # our half of the stream is still open: use a fresh connection next
        while True:
            while len(st.data) >= 5 and len(st.data) >= 5 + int.from_bytes(st.data[1:5], "big"):
                n = int.from_bytes(st.data[1:5], "big")
                msg = bytes(st.data[5 : 5 + n])
                del st.data[: 5 + n]
                yield msg
            if st.ended:
                break
            self._check_deadline(deadline, method)
            conn.receive()
            self._check_stream(conn, st, method)
        conn.stream = None
        if conn.goaway:
            self._drop(conn)
        status: dict[str, str] = {}
        trailers: list[tuple[str, Any]] = []
        for key, value in st.headers:
            if key in ("grpc-status", "grpc-message"):
                status[key] = value
            elif not key.startswith(":") and key not in ("content-type", "grpc-encoding"):
                trailers.append((key, _b64(value) if key.endswith("-bin") else value))
        code = _code(status.get("grpc-status"))
        if code is not StatusCode.OK:
            details = urllib.parse.unquote(status.get("grpc-message", ""))
            raise RpcError(code, details or code.name, trailers)
        yield trailers

    def _check_stream(self, conn: _Conn, st: _Stream, method: str) -> None:
        if st.reset is not None:
            self._drop(conn)
            raise RpcError(StatusCode.UNAVAILABLE, f"{method}: the daemon reset the stream ({st.reset})")
        if conn.goaway and conn.goaway_last_sid < st.sid:
            # The daemon will not process this call: it is safe to send again, to the next daemon.
            self._drop(conn)
            raise RpcError(StatusCode.UNAVAILABLE, f"{method}: the daemon closed the connection")

    @staticmethod
    def _check_deadline(deadline: float | None, method: str) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(method)


_REQUEST_HEADERS = b"".join(
    _literal(k, v)
    for k, v in (
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    )
)


def _b64(value: str) -> bytes:
    import base64

    return base64.b64decode(value + "=" * (-len(value) % 4))


def _code(value: str | None) -> StatusCode:
    if value is None:
        return StatusCode.UNKNOWN
    try:
        return StatusCode(int(value))
    except ValueError:
        return StatusCode.UNKNOWN


class _Call:
    def __init__(self, trailers: list[tuple[str, Any]]) -> None:
        self._trailers = trailers

    def trailing_metadata(self) -> list[tuple[str, Any]]:
        return self._trailers


class _Unary:
    def __init__(self, channel: Channel, path: str, reply: Any) -> None:
        self.channel, self.path, self.reply = channel, path, reply

    def with_call(self, request: Any, timeout: float | None = None) -> tuple[Any, _Call]:
        message: bytes | None = None
        trailers: list[tuple[str, Any]] = []
        for item in self.channel.call(self.path, request.SerializeToString(), timeout):
            if isinstance(item, list):
                trailers = item
            else:
                message = item
        if message is None:
            raise RpcError(StatusCode.INTERNAL, f"{self.path}: the daemon sent no reply message")
        return self.reply.FromString(message), _Call(trailers)

    def __call__(self, request: Any, timeout: float | None = None) -> Any:
        return self.with_call(request, timeout)[0]


class _ServerStream(_Unary):
    def __call__(self, request: Any, timeout: float | None = None) -> Iterator[Any]:
        for item in self.channel.call(self.path, request.SerializeToString(), timeout):
            if not isinstance(item, list):
                yield self.reply.FromString(item)


class Stub:
    """`stub.InitRun(request, timeout=...)`, `stub.Append.with_call(...)`, `for m in stub.Sync(request)`: the
    surface of grpcio's generated RunhiveStub, over `Channel`."""

    def __init__(self, channel: Channel) -> None:
        for m in SERVICE.methods:
            reply = getattr(pb, m.output_type.name)
            path = f"/{SERVICE.full_name}/{m.name}"
            kind = _ServerStream if m.server_streaming else _Unary
            setattr(self, m.name, kind(channel, path, reply))

    def __getattr__(self, name: str) -> Any:  # for type checkers: methods are set in __init__
        raise AttributeError(name)
