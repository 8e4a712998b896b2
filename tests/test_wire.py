"""The client's own gRPC transport (`runhive.transport._wire`) and message loader (`runhive.protocol.messages`).

Against the real daemon where it can show the behaviour; the flow-control test needs replies bigger than any
the daemon sends, so a scripted HTTP/2 peer on a Unix socket plays the server there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import RhEnv
from runhive.protocol import messages as pb
from runhive.transport import _hpack
from runhive.transport._daemon import DaemonAddress, handshake
from runhive.transport._wire import Channel as WireChannel
from runhive.transport._wire import RpcError, StatusCode


def test_messages_are_the_generated_classes_without_protobufs_python_layer() -> None:
    code = (
        "import sys\n"
        "import runhive.protocol.messages as pb\n"
        "fast = pb.FAST and 'google.protobuf.descriptor_pool' not in sys.modules\n"
        "from runhive.protocol.v1 import service_pb2 as gen\n"
        "names = {k for k in vars(gen) if not k.startswith('_')}\n"
        "def same_(a, b): return a is b or a == b or getattr(a, 'DESCRIPTOR', 1) is getattr(b, 'DESCRIPTOR', 2)\n"
        "same = all(same_(getattr(pb, k), getattr(gen, k)) for k in names)\n"
        "b = pb.Batch(session='s'); b.groups.add(run_id='r')\n"
        "print(fast, same, gen.Batch.FromString(b.SerializeToString()) == b)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True"], "the fast loader was not taken or gave other classes"


def test_a_client_process_loads_neither_grpcio_nor_h2(rh: RhEnv) -> None:
    code = """
        import sys, runhive
        run = runhive.init(project="p")
        run.log({"a": 1.0})
        run.finish()
        heavy = ("grpc", "h2", "google.protobuf.descriptor_pool", "google.protobuf.text_format")
        print(sorted(m for m in heavy if m in sys.modules))
    """
    assert rh.run(code).stdout.strip().splitlines()[-1] == "[]"


def test_a_request_larger_than_every_window_and_frame(rh: RhEnv) -> None:
    # 3 MB of config in InitRun: far past HTTP/2's 64 KiB initial windows and 16 KiB frames.
    code = """
        import runhive
        run = runhive.init(project="p", config={"blob": "x" * 3_000_000})
        print(run.id)
        run.finish()
    """
    run_id = rh.run(code).stdout.strip().splitlines()[-1]
    assert len(rh.api().run(f"p/{run_id}").config["blob"]) == 3_000_000


def test_error_details_arrive_whole_with_non_ascii_and_percent(rh: RhEnv) -> None:
    rh.run("import runhive; runhive.init(project='p').finish()")  # starts the daemon
    conn = handshake(DaemonAddress(rh.svc))
    try:
        batch = pb.Batch(session=conn.session)
        batch.groups.add(run_id="e/p/x", writer="wrïter 100% ✓").records.add(seq=1)
        with pytest.raises(RpcError) as info:
            conn.stub.Append(batch, timeout=10)
        assert info.value.code() is StatusCode.PERMISSION_DENIED
        assert "'wrïter 100% ✓'" in info.value.details()
        # The connection is still good for the next call.
        assert conn.stub.Status(pb.StatusRequest(session=conn.session), timeout=10).pid == conn.daemon_pid
    finally:
        conn.close()


def _read_frame(sock: socket.socket, buf: bytearray) -> tuple[int, int, int, bytes]:
    while True:
        if len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) >= 9 + n:
                ftype, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big")
                payload = bytes(buf[9 : 9 + n])
                del buf[: 9 + n]
                return ftype, flags, sid, payload
        data = sock.recv(1 << 16)
        if not data:
            raise ConnectionError("client closed")
        buf += data


def _frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((ftype, flags)) + sid.to_bytes(4, "big") + payload


def test_a_reply_larger_than_the_receive_window_is_acknowledged(tmp_path: Path) -> None:
    """The client must hand back window as it reads, or a reply past 16 MiB stalls forever."""
    path = str(tmp_path / "peer.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    reply = b"r" * (40 * 1024 * 1024)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            sock, _ = listener.accept()
            sock.settimeout(30)
            buf = bytearray()
            assert sock.recv(24, socket.MSG_WAITALL) == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
            sock.sendall(_frame(0x4, 0, 0))  # our (empty) SETTINGS
            conn_window = stream_window = 65535
            sid = 0
            while True:  # until the request's END_STREAM
                ftype, flags, fsid, payload = _read_frame(sock, buf)
                if ftype == 0x4 and not flags & 1:
                    for i in range(0, len(payload), 6):
                        if int.from_bytes(payload[i : i + 2], "big") == 0x4:
                            stream_window = int.from_bytes(payload[i + 2 : i + 6], "big")
                elif ftype == 0x8 and fsid == 0:
                    conn_window += int.from_bytes(payload, "big")
                elif ftype == 0x1:
                    sid = fsid
                if ftype in (0x0, 0x1) and flags & 1:
                    break
            enc = hpack.Encoder()
            sock.sendall(
                _frame(0x1, 0x4, sid, enc.encode([(":status", "200"), ("content-type", "application/grpc")]))
            )
            body = memoryview(b"\x00" + len(reply).to_bytes(4, "big") + reply)
            while body:
                while min(conn_window, stream_window) <= 0:
                    ftype, flags, fsid, payload = _read_frame(sock, buf)
                    if ftype == 0x8:
                        inc = int.from_bytes(payload, "big")
                        if fsid == 0:
                            conn_window += inc
                        elif fsid == sid:
                            stream_window += inc
                n = min(16384, conn_window, stream_window, len(body))
                sock.sendall(_frame(0x0, 0, sid, bytes(body[:n])))
                body = body[n:]
                conn_window -= n
                stream_window -= n
            sock.sendall(_frame(0x1, 0x5, sid, enc.encode([("grpc-status", "0")])))
            sock.close()
        except BaseException as exc:
            errors.append(exc)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    channel = WireChannel(f"unix:{path}")
    try:
        items = list(channel.call("/runhive.v1.Runhive/Status", b"", timeout=60))
    finally:
        channel.close()
        listener.close()
    server.join(30)
    assert not errors, errors
    assert items[0] == reply and items[-1] == []


def test_messages_are_whole_when_the_generated_module_is_imported_meanwhile() -> None:
    # `import runhive` loads `_pb` on a background thread; a script (or the daemon) importing the generated module
    # at the same moment must not leave `_pb` with a half-imported module's names.
    code = (
        "import runhive\n"
        "import runhive.protocol.v1.service_pb2 as gen\n"
        "import runhive.protocol.messages as pb\n"
        "print(pb.PROTOCOL_VERSION_CURRENT == gen.PROTOCOL_VERSION_CURRENT and pb.Batch is gen.Batch)\n"
    )
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "True"


_NAMES = st.one_of(
    st.sampled_from(
        [":status", "content-type", "grpc-status", "grpc-message", "te", "cookie", "x-refused-bin"]
    ),
    st.text("abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=40),
)
_VALUES = st.one_of(st.sampled_from(["200", "0", "application/grpc", ""]), st.text(max_size=300))


@settings(max_examples=300, deadline=None)
@given(
    blocks=st.lists(st.lists(st.tuples(_NAMES, _VALUES, st.booleans()), max_size=10), min_size=1, max_size=8),
    huffman=st.booleans(),
    table_sizes=st.lists(st.sampled_from([None, 0, 60, 200, 4096]), min_size=8, max_size=8),
)
def test_hpack_decoder_agrees_with_the_hpack_library(
    blocks: list[list[tuple[str, str, bool]]], huffman: bool, table_sizes: list[int | None]
) -> None:
    """Block after block on one connection (a shared dynamic table), with table size updates, never-indexed
    fields and Huffman coding on or off: what `hpack.Encoder` writes, `_hpack.Decoder` reads back."""
    encoder, decoder = hpack.Encoder(), _hpack.Decoder()
    for block, size in zip(blocks, table_sizes, strict=False):
        if size is not None:
            encoder.header_table_size = size
        fields = [hpack.NeverIndexedHeaderTuple(n, v) if never else (n, v) for n, v, never in block]
        assert decoder.decode(encoder.encode(fields, huffman=huffman)) == [(n, v) for n, v, _ in block]


def test_hpack_decoder_refuses_what_is_not_hpack() -> None:
    for bad in (b"\x80", b"\xff\xff\xff\xff\xff\xff\xff", b"\x40\x05ab", b"\x3f\xff\x7f", b"\xbf"):
        with pytest.raises(_hpack.HPACKError):
            _hpack.Decoder().decode(bad)


def test_messages_fall_back_to_the_generated_module_on_another_backend() -> None:
    code = (
        "import runhive.protocol.messages as pb\n"
        "b = pb.Batch(session='x')\n"
        "print(pb.FAST, pb.Batch.FromString(b.SerializeToString()).session, pb.PROTOCOL_VERSION_CURRENT > 0)\n"
    )
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "x", "True"]
