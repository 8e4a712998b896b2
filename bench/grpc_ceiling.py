"""Raw grpcio ceiling for the ingest workload: no parsing, no WAL, no store, the same bytes over a Unix socket.

    python bench/grpc_ceiling.py serve SOCKET READY_FILE
    python bench/grpc_ceiling.py client SOCKET MODE RECORDS BATCH KEYS GO_FILE RESULT_FILE

`serve` registers a generic handler with two methods taking raw bytes: `Stream` (client-streaming, one message
per batch) and `Append` (unary, one call per batch, like runhive's Append). It runs until SIGTERM. `client`
serialises the Batch requests `ingest_flood.build_batches` makes (what the runhive client sends for RECORDS rows
of KEYS floats in blocks of BATCH rows, with placeholder session, run and writer strings of the real lengths),
writes RESULT_FILE.ready, waits for GO_FILE, sends them through grpcio and writes epoch start / end.
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


def client(
    socket_path: str, mode: str, records: int, batch: int, keys: int, go_file: str, result_file: str
) -> int:
    from ingest_flood import (
        PLACEHOLDER_RUN,
        PLACEHOLDER_SESSION,
        PLACEHOLDER_WRITER,
        build_batches,
        wait_for_go,
        write_result,
    )

    batches = build_batches(PLACEHOLDER_SESSION, PLACEHOLDER_RUN, PLACEHOLDER_WRITER, records, batch, keys)
    payloads = [b.SerializeToString() for b in batches]
    channel = grpc.insecure_channel(f"unix:{socket_path}", options=OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=30)
    wait_for_go(result_file, go_file)
    start = time.time()
    if mode == "stream":
        call = channel.stream_unary(f"/{SERVICE}/Stream")
        call(iter(payloads), timeout=600)
    elif mode == "unary":
        call = channel.unary_unary(f"/{SERVICE}/Append")
        for payload in payloads:
            call(payload, timeout=60)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    end = time.time()
    channel.close()
    write_result(
        result_file,
        {
            "ok": True,
            "epoch_start": start,
            "epoch_end": end,
            "records": records,
            "batches": len(payloads),
            "wire_bytes": sum(len(p) for p in payloads),
        },
    )
    return 0


def main(argv: list[str]) -> int:
    if argv[1] == "serve":
        return serve(argv[2], argv[3])
    if argv[1] == "client":
        return client(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), argv[7], argv[8])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
