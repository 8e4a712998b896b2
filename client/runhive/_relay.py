"""Talking to the daemon from a process forked after gRPC was in use (DataLoader workers, multiprocessing
"fork" children).

gRPC's core does not survive `fork()`: its threads stay in the parent while its locks and polling state are
copied, so a channel made in the child can hang forever (grpc/grpc fork_support.md; W&B #12079). Such a child
reaches the daemon through a relay instead: a fresh process (fork + exec, so it starts with a clean gRPC) that
owns the channel and forwards each unary call's bytes over a socket pair. `RelayStub` has the methods of
`RunhiveStub` that runhive's client uses, errors arrive as `grpc.RpcError`s with the daemon's status, and the
relay exits when the child closes its end (or dies).

Frames both ways are `[u32 length][body]`. A call is `[u16 method length][method][f64 timeout, < 0 for none]
[request bytes]`; its answer is `[i32 status][u32 details length][details][u16 metadata count]([u16 key length]
[key][u32 value length][value])*[response bytes]`.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from typing import Any

import grpc

from ._proto.v1 import service_pb2 as pb

SERVICE = "/runhive.v1.Runhive/"
_LEN = struct.Struct("<I")
_CODES = {c.value[0]: c for c in grpc.StatusCode}
# The reply type of each method the client calls.
_REPLIES: dict[str, Any] = {
    "Handshake": pb.HandshakeResponse,
    "InitRun": pb.InitRunResponse,
    "Append": pb.Ack,
    "Flush": pb.FlushResponse,
    "FinishRun": pb.FinishRunResponse,
    "Status": pb.StatusResponse,
    "Shutdown": pb.ShutdownResponse,
}

_grpc_before_fork = False  # set in a child whose parent had imported gRPC


def grpc_unsafe() -> bool:
    """True in a process forked from one that had gRPC loaded: it must not make channels of its own."""
    return _grpc_before_fork


def _after_fork_in_child() -> None:
    global _grpc_before_fork
    _grpc_before_fork = True  # this module imports grpc: the parent had it


os.register_at_fork(after_in_child=_after_fork_in_child)


class RelayError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("the relay closed its socket")
        buf += chunk
    return bytes(buf)


def _read_frame(sock: socket.socket) -> bytes:
    (n,) = _LEN.unpack(_read_exact(sock, _LEN.size))
    return _read_exact(sock, n)


def _send_frame(sock: socket.socket, body: bytes) -> None:
    sock.sendall(_LEN.pack(len(body)) + body)


class _Call:
    """The part of a gRPC call object the client uses after `with_call`."""

    def __init__(self, metadata: list[tuple[str, bytes]]) -> None:
        self._metadata = metadata

    def trailing_metadata(self) -> list[tuple[str, bytes]]:
        return self._metadata


class _Method:
    def __init__(self, relay: RelayStub, name: str) -> None:
        self._relay, self._name = relay, name

    def __call__(self, request: Any, timeout: float | None = None) -> Any:
        return self.with_call(request, timeout)[0]

    def with_call(self, request: Any, timeout: float | None = None) -> tuple[Any, _Call]:
        return self._relay.call(self._name, request, timeout)


class RelayStub:
    def __init__(self, sock: socket.socket, proc: subprocess.Popen[bytes]) -> None:
        self._sock, self._proc = sock, proc
        self._lock = threading.Lock()  # one call at a time on the socket
        for name in _REPLIES:
            setattr(self, name, _Method(self, name))

    def call(self, method: str, request: Any, timeout: float | None) -> tuple[Any, _Call]:
        name = method.encode()
        body = struct.pack("<H", len(name)) + name + struct.pack("<d", -1.0 if timeout is None else timeout)
        body += request.SerializeToString()
        with self._lock:
            try:
                _send_frame(self._sock, body)
                answer = _read_frame(self._sock)
            except (OSError, EOFError) as exc:
                raise RelayError(grpc.StatusCode.UNAVAILABLE, f"runhive relay: {exc}") from None
        status, dlen = struct.unpack_from("<iI", answer, 0)
        pos = 8
        details = answer[pos : pos + dlen].decode("utf-8", "replace")
        pos += dlen
        (count,) = struct.unpack_from("<H", answer, pos)
        pos += 2
        metadata = []
        for _ in range(count):
            (klen,) = struct.unpack_from("<H", answer, pos)
            key = answer[pos + 2 : pos + 2 + klen].decode()
            pos += 2 + klen
            (vlen,) = struct.unpack_from("<I", answer, pos)
            metadata.append((key, answer[pos + 4 : pos + 4 + vlen]))
            pos += 4 + vlen
        if status != 0:
            raise RelayError(_CODES.get(status, grpc.StatusCode.UNKNOWN), details)
        reply = _REPLIES[method]()
        reply.ParseFromString(answer[pos:])
        return reply, _Call(metadata)

    def close(self) -> None:
        try:
            self._sock.close()
        finally:
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()


def start_relay(target: str) -> RelayStub:
    """Start a relay process for the daemon at `target` (fork + exec: a clean gRPC) and return its stub."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runhive._relay", target, str(theirs.fileno())],
            stdin=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),),
            close_fds=True,
        )
    finally:
        theirs.close()
    return RelayStub(mine, proc)


def main(argv: list[str]) -> int:
    """The relay process: forwards calls from its socket to the daemon until the socket closes."""
    from ._transport import CHANNEL_OPTIONS

    target, fd = argv[0], int(argv[1])
    sock = socket.socket(fileno=fd)
    channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
    methods: dict[str, Any] = {}
    try:
        while True:
            try:
                body = _read_frame(sock)
            except (EOFError, OSError):
                return 0
            (mlen,) = struct.unpack_from("<H", body, 0)
            method = body[2 : 2 + mlen].decode()
            (timeout,) = struct.unpack_from("<d", body, 2 + mlen)
            request = body[2 + mlen + 8 :]
            fn = methods.get(method)
            if fn is None:
                fn = methods[method] = channel.unary_unary(  # bytes in, bytes out
                    SERVICE + method, request_serializer=None, response_deserializer=None
                )
            status, details, metadata, reply = 0, "", [], b""
            try:
                reply, call = fn.with_call(request, timeout=None if timeout < 0 else timeout)
                metadata = [
                    (k, v if isinstance(v, bytes) else str(v).encode())
                    for k, v in call.trailing_metadata() or ()
                ]
            except grpc.RpcError as exc:
                status = exc.code().value[0]  # type: ignore[attr-defined]
                details = exc.details() or ""  # type: ignore[attr-defined]
            d = details.encode()
            out = struct.pack("<iI", status, len(d)) + d + struct.pack("<H", len(metadata))
            for k, v in metadata:
                kb = k.encode()
                out += struct.pack("<H", len(kb)) + kb + struct.pack("<I", len(v)) + v
            try:
                _send_frame(sock, out + reply)
            except OSError:
                return 0
    finally:
        channel.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
