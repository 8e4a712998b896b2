"""The process's one sender thread: batches records of all its runs and ships them to the daemon.

`log()` only appends to a bounded deque; everything costly (JSON encoding, protobuf, I/O) happens here.
A batch is kept until the daemon acknowledges it as durable, so a daemon that dies loses nothing this
process still holds: the sender reconnects (starting a new daemon if needed), re-attaches its open runs
and resends; the daemon drops what it already has by (run, writer, seq).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from ._errors import CommError
from ._proto.v1 import service_pb2 as pb
from ._rows import BlockBuilder, encode_row, split_row
from ._settings import Settings
from ._transport import Connection, connect

logger = logging.getLogger("runhive")

# Record kinds on the in-process queue.
HISTORY, CONFIG, SUMMARY, UPDATE, EXIT, METRIC = range(6)


@dataclass
class WriterHandle:
    """What the sender needs to (re)attach one run's writer to a daemon."""

    run_id: str
    writer: str
    init_request: pb.InitRunRequest
    open: bool = True
    acked: int = 0
    sent: int = 0
    errors: list[str] = field(default_factory=list)


def _encode_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=True, default=_json_default).encode()


def _json_default(obj: Any) -> Any:
    return str(obj)


def _encode_other(rec: pb.Record, kind: int, payload: Any) -> None:
    if kind == CONFIG:
        data, full, remove = payload
        rec.config.json = _encode_json(data)
        rec.config.full = full
        rec.config.remove.extend(remove)
    elif kind == SUMMARY:
        data, remove = payload
        rec.summary.json = _encode_json(data)
        rec.summary.remove.extend(remove)
    elif kind == UPDATE:
        info, names = payload
        rec.update.info.CopyFrom(info)
        rec.update.fields.extend(names)
    elif kind == EXIT:
        rec.exit.exit_code = payload
    elif kind == METRIC:
        d = payload
        m = rec.metric
        m.name, m.step_metric, m.goal = d.name, d.step_metric, d.goal
        m.hidden, m.step_sync = d.hidden, d.step_sync
        m.summary.extend(d.summary)


class TransportRetry(Exception):
    """The daemon could not be reached for this batch; retry after reconnecting."""


class Sender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._dq: deque[tuple[int, WriterHandle, int, Any]] = deque()
        self._wake = threading.Event()
        self._space = threading.Condition()
        self._acked_cv = threading.Condition()
        self._max = settings.resolved_max_buffered
        self._batch_max = settings.resolved_batch_max
        self._window = settings.resolved_batch_window
        self._conn: Connection | None = None
        self._conn_lock = threading.RLock()
        self._writers: dict[str, WriterHandle] = {}
        self._stop = False
        self._warned = False
        self._in_flight = 0
        self._thread = threading.Thread(target=self._loop, name="runhive-sender", daemon=True)
        self._thread.start()

    # Connection -----------------------------------------------------------------------------------
    def connection(self) -> Connection:
        with self._conn_lock:
            if self._conn is None:
                self._conn = connect(
                    self.settings.resolved_service_dir,
                    wait=self.settings.resolved_service_wait,
                    env=self._daemon_env(),
                )
            return self._conn

    def _daemon_env(self) -> dict[str, Any]:
        env: dict[str, Any] = {"RUNHIVE_DATA_DIR": str(self.settings.resolved_data_dir)}
        if self.settings.service_idle_timeout is not None:
            env["RUNHIVE_SERVICE_IDLE_TIMEOUT"] = str(self.settings.service_idle_timeout)
        return env

    def _reconnect(self, failed: Connection | None) -> Connection:
        with self._conn_lock:
            if self._conn is not None and self._conn is not failed:
                return self._conn
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            conn = self.connection()
            for handle in list(self._writers.values()):
                if handle.open:
                    self._attach(conn, handle)
            return conn

    def _attach(self, conn: Connection, handle: WriterHandle) -> None:
        req = pb.InitRunRequest()
        req.CopyFrom(handle.init_request)
        req.session = conn.session
        req.resume = "attach"
        reply = conn.stub.InitRun(req, timeout=30)
        with self._acked_cv:
            handle.acked = max(handle.acked, int(reply.last_seq))
            self._acked_cv.notify_all()

    def register(self, handle: WriterHandle) -> None:
        self._writers[handle.writer] = handle

    def unregister(self, handle: WriterHandle) -> None:
        handle.open = False
        self._writers.pop(handle.writer, None)

    # Hot path ---------------------------------------------------------------------------------------
    def put(self, kind: int, handle: WriterHandle, seq: int, payload: Any) -> None:
        dq = self._dq
        dq.append((kind, handle, seq, payload))
        if not self._wake.is_set():
            self._wake.set()
        if len(dq) > self._max:
            self._wait_for_space()

    def _wait_for_space(self) -> None:
        # Backpressure: block the caller rather than drop; the sender drains and notifies.
        with self._space:
            while len(self._dq) > self._max and not self._stop:
                self._space.wait(0.5)

    # Sender thread ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        dq = self._dq
        while not self._stop or dq:
            if not dq:
                self._wake.wait(1.0)
                self._wake.clear()
                if not dq:
                    continue
                if self._window and len(dq) < self._batch_max:
                    time.sleep(self._window)  # gather a batch: a short, fixed batching window
            items = []
            n = 0
            while dq and n < self._batch_max:
                items.append(dq.popleft())
                n += 1
            self._in_flight = n
            with self._space:
                self._space.notify_all()
            try:
                self._send(items)
            except Exception as exc:  # never let the sender die: report at finish
                logger.exception("runhive sender failed")
                with self._acked_cv:
                    for _, handle, _, _ in items:
                        handle.errors.append(repr(exc))
                    self._acked_cv.notify_all()
            finally:
                self._in_flight = 0

    def _build(self, items: list[tuple[int, WriterHandle, int, Any]]) -> pb.Batch:
        """Encode queued records into one Batch of per-writer groups; runs of rows that share their numeric
        keys become block records."""
        batch = pb.Batch()
        groups: dict[str, pb.RecordBatch] = {}
        blocks: dict[str, BlockBuilder] = {}
        for n, (kind, handle, seq, payload) in enumerate(items, 1):
            if not n % 64:
                time.sleep(0)  # hand the GIL to the training thread: log() never waits for a whole batch
            writer = handle.writer
            grp = groups.get(writer)
            if grp is None:
                grp = groups[writer] = batch.groups.add()
                grp.run_id = handle.run_id
                grp.writer = writer
            if kind == HISTORY:
                fk, fv, ik, iv, rest = split_row(payload)
                blk = blocks.get(writer)
                if rest is None and blk is not None and blk.accepts(fk, ik):
                    blk.add(fv, iv)
                    blk.rec.seq = seq
                    blk.rec.time = payload["_timestamp"]
                    continue
                if blk is not None:
                    blk.close()
                    del blocks[writer]
                rec = grp.records.add()
                rec.seq = seq
                rec.time = payload.get("_timestamp", 0.0)
                if rest is None:
                    blocks[writer] = BlockBuilder(rec, fk, fv, ik, iv, payload.get("_step", 0))
                else:
                    encode_row(rec.history, payload)
            else:
                blk = blocks.pop(writer, None)
                if blk is not None:
                    blk.close()
                rec = grp.records.add()
                rec.seq = seq
                rec.time = time.time()
                _encode_other(rec, kind, payload)
        for blk in blocks.values():
            blk.close()
        return batch

    def _send(self, items: list[tuple[int, WriterHandle, int, Any]]) -> None:
        batch = self._build(items)
        retrying = Retrying(
            retry=retry_if_exception_type(TransportRetry),
            wait=wait_exponential_jitter(multiplier=0.02, max=1.0, jitter=0.05),
            stop=stop_after_delay(24 * 3600),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self._send_once(batch)

    def _unacked(self, batch: pb.Batch) -> pb.Batch:
        """The part of `batch` the daemon does not hold yet (after a re-attach it may hold more than we knew)."""
        if all(g.records[0].seq > self._writers_acked(g.writer) for g in batch.groups):
            return batch
        todo = pb.Batch()
        for g in batch.groups:
            acked = self._writers_acked(g.writer)
            fresh = [r for r in g.records if r.seq > acked]
            if fresh:
                todo.groups.add(run_id=g.run_id, writer=g.writer, records=fresh)
        return todo

    def _send_once(self, batch: pb.Batch) -> None:
        conn = self._conn
        try:
            if conn is None:
                conn = self._reconnect(None)
            todo = self._unacked(batch)
            if not todo.groups:
                return
            todo.session = conn.session
            reply = conn.stub.Append(todo, timeout=60)
        except grpc.RpcError as exc:
            code = exc.code()
            if code in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.UNAUTHENTICATED,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.CANCELLED,
            ):
                self._warn_once(f"lost the runhive daemon ({code.name}); reconnecting and resending")
                try:
                    self._reconnect(conn)
                except CommError as cexc:
                    self._warn_once(str(cexc))
                raise TransportRetry() from exc
            raise
        except CommError as exc:
            self._warn_once(str(exc))
            raise TransportRetry() from exc
        with self._acked_cv:
            for ack in reply.acks:
                handle = self._writers.get(ack.writer)
                if handle is not None and ack.seq > handle.acked:
                    handle.acked = int(ack.seq)
            self._acked_cv.notify_all()

    def _writers_acked(self, writer: str) -> int:
        handle = self._writers.get(writer)
        return handle.acked if handle is not None else 0

    def _warn_once(self, msg: str) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("%s", msg)

    # Barriers -------------------------------------------------------------------------------------
    def wait_acked(self, handle: WriterHandle, seq: int, timeout: float | None) -> bool:
        deadline = None if not timeout else time.monotonic() + timeout
        with self._acked_cv:
            while handle.acked < seq:
                if not self._thread.is_alive() or handle.errors:
                    return False
                remaining = 1.0 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._acked_cv.wait(min(remaining, 1.0))
        return True

    def call(self, fn: Callable[[Connection], Any]) -> Any:
        """Run one unary call against the daemon, reconnecting once if it went away."""
        conn = self.connection()
        try:
            return fn(conn)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED):
                return fn(self._reconnect(conn))
            raise

    def pending(self) -> int:
        return len(self._dq) + self._in_flight

    def close(self, timeout: float = 5.0) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout)
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_senders: dict[str, Sender] = {}
_senders_lock = threading.Lock()
_senders_pid = os.getpid()


def get_sender(settings: Settings) -> Sender:
    """The process's sender for the daemon serving `settings`' service directory (in practice one)."""
    global _senders_pid
    key = str(settings.resolved_service_dir)
    sender = _senders.get(key)
    if sender is not None and _senders_pid == os.getpid():
        return sender
    with _senders_lock:
        if _senders_pid != os.getpid():
            _senders.clear()
            _senders_pid = os.getpid()
        sender = _senders.get(key)
        if sender is None:
            sender = _senders[key] = Sender(settings)
        return sender


def _after_fork_in_child() -> None:
    # The parent's threads and channels do not exist here; the child builds its own on first use.
    global _senders_lock, _senders_pid
    _senders.clear()
    _senders_lock = threading.Lock()
    _senders_pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)
