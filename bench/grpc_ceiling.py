"""Raw grpcio ceiling for the ingest workload: no protobuf, no store, batches of bytes over a Unix socket.

    python bench/grpc_ceiling.py serve SOCKET READY_FILE
    python bench/grpc_ceiling.py client SOCKET MODE RECORDS BATCH RECORD_BYTES RESULT_FILE

`serve` registers a generic handler with two methods taking raw bytes: `Stream` (client-streaming, one message
per batch) and `Append` (unary, one call per batch, like runhive's Append). It runs until SIGTERM. `client`
sends RECORDS records in batches of BATCH records of RECORD_BYTES bytes each and writes epoch start / end.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc

SERVICE = "benchceiling.Sink"
OPTIONS = [("grpc.max_receive_message_length", 256 * 2**20), ("grpc.max_send_message_length", 256 * 2**20)]


def serve(socket_path: str, ready_file: str) -> int:
    lock = threading.Lock()
    totals = {"messages": 0, "bytes": 0}

    def add(n_bytes: int) -> None:
        with lock:
            totals["messages"] += 1
            totals["bytes"] += n_bytes

    def stream(request_iterator: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        count = 0
        for message in request_iterator:
            add(len(message))
            count += 1
        return count.to_bytes(8, "little")

    def append(request: bytes, context: grpc.ServicerContext) -> bytes:
        add(len(request))
        return b"\x01"

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Stream": grpc.stream_unary_rpc_method_handler(stream),
            "Append": grpc.unary_unary_rpc_method_handler(append),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"unix:{socket_path}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(ready_file, "w") as fh:
        fh.write(str(os.getpid()))
    stop.wait()
    server.stop(grace=1.0).wait()
    print(json.dumps(totals), flush=True)
    return 0


def client(socket_path: str, mode: str, records: int, batch: int, record_bytes: int, result_file: str) -> int:
    payload = os.urandom(batch * record_bytes)
    n_batches, tail = divmod(records, batch)
    sizes = [batch] * n_batches + ([tail] if tail else [])
    channel = grpc.insecure_channel(f"unix:{socket_path}", options=OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=30)
    start = time.time()
    if mode == "stream":
        call = channel.stream_unary(f"/{SERVICE}/Stream")
        call((payload if n == batch else payload[: n * record_bytes] for n in sizes), timeout=600)
    elif mode == "unary":
        call = channel.unary_unary(f"/{SERVICE}/Append")
        for n in sizes:
            call(payload if n == batch else payload[: n * record_bytes], timeout=60)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    end = time.time()
    channel.close()
    with open(result_file, "w") as fh:
        json.dump({"ok": True, "epoch_start": start, "epoch_end": end, "records": records}, fh)
    return 0


def main(argv: list[str]) -> int:
    if argv[1] == "serve":
        return serve(argv[2], argv[3])
    if argv[1] == "client":
        return client(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), argv[7])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
