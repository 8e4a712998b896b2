"""The client's gRPC transport: gRPC's wire protocol (HTTP/2, length-prefixed protobuf, status in trailers)
spoken over the daemon's Unix socket with `h2`, instead of grpcio.

Why not grpcio in user processes: importing it costs ~27 MiB of RSS and ~60 ms (its core pulls in asyncio),
in every training rank; and a process forked after grpcio was used must not touch it again. This transport
is plain sockets: each thread that calls gets its own connection (calls from one thread are sequential, so
no stream multiplexing is needed), and a forked child opens its own. The daemon still serves with grpcio.
See docs/DESIGN-NOTES.md.
"""

from __future__ import annotations

import base64
import enum
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from ._proto.v1 import service_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["Runhive"]
_WINDOW = 16 * 1024 * 1024  # receive window: a big reply needs no round trip per 64 KiB


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


class _Conn:
    """One HTTP/2 connection, used by one thread at a time."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        except BaseException:
            self.sock.close()
            raise
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.h2.initiate_connection()
        self.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _WINDOW})
        self.h2.increment_flow_control_window(_WINDOW)
        self.buf = bytearray()
        self.goaway = False  # the daemon is going away: finish what it answers, then reconnect
        self.flush()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                if not self.goaway:  # a daemon going away may close first; what it answered still counts
                    raise

    def events(self) -> list[h2.events.Event]:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionResetError("the daemon closed the connection")
        buf = self.buf
        buf += data
        events: list[h2.events.Event] = []
        # Frame by frame: a server shutting down sends GOAWAY and then a PING, which h2 rejects once it has
        # seen the GOAWAY; fed whole, that error would swallow the reply that came just before it.
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = 9 + int.from_bytes(buf[:3], "big")
            frame = bytes(buf[:n])
            del buf[:n]
            if self.goaway:
                continue
            try:
                got = self.h2.receive_data(frame)
            except h2.exceptions.ProtocolError:
                if not self.goaway:
                    raise
                continue
            events.extend(got)
            if any(isinstance(e, h2.events.ConnectionTerminated) for e in got):
                self.goaway = True
        self.flush()  # settings and ping acknowledgements
        return events

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


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
        except (OSError, h2.exceptions.H2Error) as exc:
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
        h = conn.h2
        sid = h.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", method),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
        if timeout is not None:
            headers.append(("grpc-timeout", f"{max(1, int(timeout * 1000))}m"))
        h.send_headers(sid, headers)
        body = memoryview(b"\x00" + len(request).to_bytes(4, "big") + request)
        while body:
            room = min(h.local_flow_control_window(sid), h.max_outbound_frame_size, len(body))
            if room <= 0:  # wait for the daemon to open its window
                conn.flush()
                self._check_deadline(deadline, method)
                for ev in conn.events():
                    self._early_end(ev, sid)
                continue
            h.send_data(sid, body[:room].tobytes())
            body = body[room:]
            # Frame by frame to the socket: each send releases the GIL, so a training thread waiting in log()
            # never waits for the whole message's framing (a full 5 ms switch interval).
            conn.flush()
        h.end_stream(sid)
        conn.flush()
        buf = bytearray()
        status: dict[str, str] = {}
        trailers: list[tuple[str, Any]] = []
        while True:
            self._check_deadline(deadline, method)
            for ev in conn.events():
                if getattr(ev, "stream_id", sid) != sid:
                    continue
                if isinstance(ev, h2.events.DataReceived):
                    buf += ev.data
                    h.acknowledge_received_data(ev.flow_controlled_length, sid)
                    while len(buf) >= 5 and len(buf) >= 5 + int.from_bytes(buf[1:5], "big"):
                        n = int.from_bytes(buf[1:5], "big")
                        msg = bytes(buf[5 : 5 + n])
                        del buf[: 5 + n]
                        yield msg
                elif isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    for k, v in ev.headers:
                        key, value = str(k), str(v)
                        if key in ("grpc-status", "grpc-message"):
                            status[key] = value
                        elif not key.startswith(":") and key not in ("content-type", "grpc-encoding"):
                            trailers.append((key, _b64(value) if key.endswith("-bin") else value))
                elif isinstance(ev, h2.events.StreamEnded):
                    if conn.goaway:
                        self._drop(conn)
                    else:
                        conn.flush()
                    code = _code(status.get("grpc-status"))
                    if code is not StatusCode.OK:
                        details = urllib.parse.unquote(status.get("grpc-message", ""))
                        raise RpcError(code, details or code.name, trailers)
                    yield trailers
                    return
                elif isinstance(ev, h2.events.StreamReset):
                    raise RpcError(StatusCode.UNAVAILABLE, f"{method}: the daemon reset the stream")
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self._drop(conn)
                    raise RpcError(StatusCode.UNAVAILABLE, f"{method}: the daemon closed the connection")
            conn.flush()

    @staticmethod
    def _early_end(ev: h2.events.Event, sid: int) -> None:
        if isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
            raise ConnectionResetError("the daemon ended the call while it was being sent")

    @staticmethod
    def _check_deadline(deadline: float | None, method: str) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(method)


def _b64(value: str) -> bytes:
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
