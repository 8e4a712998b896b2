"""The process's one sender thread: batches records of all its runs and ships them to the daemon.

`log()` only appends to a bounded deque; everything costly (JSON encoding, protobuf, I/O) happens here.
A batch is kept until the daemon acknowledges it as durable, so a daemon that dies loses nothing this
process still holds: the sender reconnects (starting a new daemon if needed), re-attaches its open runs
and resends; the daemon drops what it already has by (run, writer, seq).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from runhive.errors import CommError
from runhive.protocol import messages as pb
from runhive.protocol.limits import MAX_MESSAGE_BYTES, REFUSED_MD
from runhive.protocol.rows import BlockBuilder, encode_json, encode_row, split_row

from ._daemon import Connection, connect
from ._wire import RpcError, StatusCode


class _Logger:
    """The "runhive" logger, imported on first use (importing logging costs a warm `init()` ~2 ms; the SDK
    configures the logger's handler)."""

    def __getattr__(self, attr: str) -> Any:
        import logging

        return getattr(logging.getLogger("runhive"), attr)


logger = _Logger()


class Settings(Protocol):
    """What the sender reads of `runhive.Settings` (structural, so the transport does not import the SDK)."""

    @property
    def resolved_max_buffered(self) -> int: ...
    @property
    def resolved_batch_max(self) -> int: ...
    @property
    def resolved_batch_window(self) -> float: ...
    @property
    def resolved_service_dir(self) -> Path: ...
    @property
    def resolved_service_wait(self) -> float: ...
    @property
    def resolved_data_dir(self) -> Path: ...
    @property
    def service_idle_timeout(self) -> float | None: ...


# Record kinds on the in-process queue.
HISTORY, CONFIG, SUMMARY, UPDATE, EXIT, METRIC = range(6)

# Loss window: while the daemon keeps up, log() blocks once the unsent backlog would take the sender more than
# LAG_TARGET seconds to ship, so a SIGKILL of the process loses only rows younger than about 2 x LAG_TARGET
# (docs/RELIABILITY.md). While the daemon is unreachable the hard bound, max_buffered_records, applies instead.
LAG_TARGET = 0.01
MIN_LIMIT = 256
# Batches are split below this size; one record above MAX_RECORD_BYTES can never be sent and is refused.
MAX_BATCH_BYTES = 16 * 1024 * 1024
MAX_RECORD_BYTES = MAX_MESSAGE_BYTES - 1024 * 1024


class WriterHandle:
    """What the sender needs to (re)attach one run's writer to a daemon. (A plain class: a dataclass costs
    ~0.5 ms at import, on init()'s path.)"""

    def __init__(self, run_id: str, writer: str, init_request: pb.InitRunRequest, acked: int = 0) -> None:
        self.run_id, self.writer, self.init_request = run_id, writer, init_request
        self.open = True
        self.acked = acked
        self.sent = 0
        self.errors: list[str] = []
        # Records the daemon could not persist (disk full, oversized, refused): counted, warned once, reported
        # by finish(). Never dropped silently.
        self.refused = 0
        self.refused_top = 0
        self.refusal = ""


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


def _as_json(item: tuple[int, WriterHandle, int, Any]) -> pb.Batch:
    """A history row as one JSON object, for rows whose columns protobuf cannot encode."""
    kind, handle, seq, row = item
    if kind != HISTORY:
        raise ValueError("only history rows have a JSON form")
    batch = pb.Batch()
    rec = batch.groups.add(run_id=handle.run_id, writer=handle.writer).records.add()
    rec.seq = seq
    rec.time = _record_time(row)
    rec.history.step = row.get("_step", 0)
    rec.history.json = encode_json(row)
    return batch


def _record_time(row: dict[str, Any]) -> float:
    # A user may log "_timestamp" themselves, as anything: it stays in the row; the record time needs a number.
    ts = row.get("_timestamp")
    if type(ts) is float:
        return ts
    try:
        return float(ts)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return time.time()


# Codes that mean "the daemon was not reached" (or restarted): the batch is resent, never counted as refused.
_TRANSPORT_CODES = (
    StatusCode.UNAVAILABLE,
    StatusCode.UNAUTHENTICATED,
    StatusCode.DEADLINE_EXCEEDED,
    StatusCode.CANCELLED,
)


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
        self._pid = os.getpid()
        self._limit = min(self._max, 1000)  # soft bound on the backlog while the daemon keeps up (LAG_TARGET)
        self._forked_warned: set[str] = set()
        self._last_refusal = ""
        self._urgent = False  # set by barriers (finish): send what is queued without the batching window
        self._thread = threading.Thread(target=self._loop, name="runhive-sender", daemon=True)
        self._thread.start()

    # Connection -----------------------------------------------------------------------------------
    def connection(self) -> Connection:
        """The connection, made (and every open writer attached to it) when there is none. Published only once
        every writer is attached: an Append on a half-attached session would be refused."""
        with self._conn_lock:
            if self._conn is None:
                conn = connect(
                    self.settings.resolved_service_dir,
                    wait=self.settings.resolved_service_wait,
                    env=self._daemon_env(),
                )
                try:
                    for handle in list(self._writers.values()):
                        if handle.open:
                            self._attach(conn, handle)
                except BaseException:
                    conn.close()
                    raise
                self._conn = conn
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
            return self.connection()

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
        if len(dq) > self._limit:
            self._wait_for_space()

    def _wait_for_space(self) -> None:
        # Backpressure: block the caller rather than drop; the sender drains and notifies.
        with self._space:
            while len(self._dq) > self._limit and not self._stop:
                self._space.wait(0.5)

    def _put_forked(self, kind: int, handle: WriterHandle, seq: int, payload: Any) -> None:
        # Installed in a forked child on the parent's sender: its thread and channel stayed in the parent.
        if handle.writer not in self._forked_warned:
            self._forked_warned.add(handle.writer)
            logger.warning(
                "run %s belongs to process %d, which forked this one (pid %d); its log(), config and "
                "summary updates made here are dropped. Call runhive.init() in the child to log from it.",
                handle.run_id,
                self._pid,
                os.getpid(),
            )

    def _adapt(self, n: int, seconds: float) -> None:
        # Size the backlog log() may build to what this sender ships in LAG_TARGET, measured on full batches.
        if n >= MIN_LIMIT and seconds > 0:
            # Never above the hard bound, max_buffered_records.
            limit = min(self._max, max(MIN_LIMIT, int(n / seconds * LAG_TARGET)))
            if limit > self._limit:
                with self._space:
                    self._limit = limit
                    self._space.notify_all()
            else:
                self._limit = limit

    def _unbound(self) -> None:
        # The daemon is away: buffer up to max_buffered_records so training goes on while it comes back.
        if self._limit != self._max:
            with self._space:
                self._limit = self._max
                self._space.notify_all()

    # Sender thread ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        dq = self._dq
        while not self._stop or dq:
            if not dq:
                self._wake.wait(1.0)
                self._wake.clear()
                if not dq:
                    continue
                if self._window and len(dq) < self._batch_max and not self._urgent:
                    time.sleep(self._window)  # gather a batch: a short, fixed batching window
            self._urgent = False
            items = []
            n = 0
            while dq and n < self._batch_max:
                items.append(dq.popleft())
                n += 1
            self._in_flight = n
            t0 = time.monotonic()
            with self._space:
                self._space.notify_all()
            try:
                self._send(items)
                self._adapt(n, time.monotonic() - t0)
            except Exception as exc:  # never let the sender die: count, warn once, report at finish
                logger.debug("runhive sender failed", exc_info=True)
                self._refuse(items, f"{type(exc).__name__}: {exc}")
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
                    blk.rec.time = _record_time(payload)
                    continue
                if blk is not None:
                    blk.close()
                    del blocks[writer]
                rec = grp.records.add()
                rec.seq = seq
                rec.time = _record_time(payload)
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

    def _send_retrying(self, part: pb.Batch, handles: dict[str, WriterHandle]) -> None:
        """The daemon is away: keep trying (reconnecting, restarting it) with backoff, for as long as it takes."""
        # tenacity only here, off the first-call path: importing it costs every init() ~7 ms.
        from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

        retrying = Retrying(
            retry=retry_if_exception_type(TransportRetry),
            wait=wait_exponential_jitter(multiplier=0.02, max=1.0, jitter=0.05),
            stop=stop_after_delay(24 * 3600),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self._send_once(part, handles)

    def _send(self, items: list[tuple[int, WriterHandle, int, Any]]) -> None:
        refused: set[tuple[str, int]] = set()  # (writer, seq) already counted as not persisted
        try:
            batch = self._build(items)
        except Exception:
            # One record that cannot be encoded must not cost the others: encode them one by one; a row whose
            # columns cannot be encoded (a key protobuf refuses, like a lone surrogate) travels as JSON; what
            # cannot be encoded at all is refused and reported.
            batch = pb.Batch()
            groups: dict[str, pb.RecordBatch] = {}
            good = []
            for item in items:
                try:
                    one = self._build([item])
                except Exception as exc:
                    try:
                        one = _as_json(item)
                    except Exception:
                        self._refuse([item], f"cannot encode a record: {type(exc).__name__}: {exc}")
                        refused.add((item[1].writer, item[2]))
                        continue
                for g in one.groups:
                    grp = groups.get(g.writer)
                    if grp is None:
                        grp = groups[g.writer] = batch.groups.add(run_id=g.run_id, writer=g.writer)
                    grp.records.extend(g.records)
                good.append(item)
            items = good
        handles = {h.writer: h for _, h, _, _ in items}
        low: dict[str, int] = {}
        for part in self._split(batch, handles, items, refused):
            tops = {g.writer: g.records[-1].seq for g in part.groups}
            try:
                try:
                    self._send_once(part, handles)
                except TransportRetry:
                    self._send_retrying(part, handles)
                # The daemon acknowledges the highest durable seq of each writer: what is above was not written.
                why = self._last_refusal or "not acknowledged by runhive-service"
            except RpcError as exc:  # the daemon answered this batch with an error status
                why = f"runhive-service refused them: {exc.code().name}: {exc.details()}"
            lost = [
                it
                for it in items
                if low.get(it[1].writer, 0) < it[2] <= tops.get(it[1].writer, -1)
                and it[2] > it[1].acked
                and (it[1].writer, it[2]) not in refused
            ]
            if lost:
                self._refuse(lost, why)
            low.update(tops)

    def _split(
        self,
        batch: pb.Batch,
        handles: dict[str, WriterHandle],
        items: list[tuple[int, WriterHandle, int, Any]],
        refused: set[tuple[str, int]],
    ) -> list[pb.Batch]:
        """`batch` in parts below MAX_BATCH_BYTES (gRPC's limit is MAX_MESSAGE_BYTES); a record too large to
        send is refused."""
        if batch.ByteSize() <= MAX_BATCH_BYTES:
            return [batch]
        parts: list[pb.Batch] = []
        cur, size = pb.Batch(), 0
        for g in batch.groups:
            grp = None
            for rec in g.records:
                n = rec.ByteSize() + 16
                if n > MAX_RECORD_BYTES:
                    mine = [it for it in items if it[1].writer == g.writer and it[2] == rec.seq]
                    self._refuse(
                        mine,
                        f"a record of {n / 2**20:.0f} MiB is over the {MAX_RECORD_BYTES / 2**20:.0f} MiB limit",
                    )
                    refused.update((g.writer, it[2]) for it in mine)
                    continue
                if size and size + n > MAX_BATCH_BYTES:
                    parts.append(cur)
                    cur, size, grp = pb.Batch(), 0, None
                if grp is None:
                    grp = cur.groups.add(run_id=g.run_id, writer=g.writer)
                grp.records.append(rec)
                size += n
        if cur.groups:
            parts.append(cur)
        return parts

    def _refuse(self, items: list[tuple[int, WriterHandle, int, Any]], why: str) -> None:
        by_handle: dict[str, tuple[WriterHandle, int, int]] = {}
        for _, h, seq, _ in items:
            _, n, top = by_handle.get(h.writer, (h, 0, 0))
            by_handle[h.writer] = (h, n + 1, max(top, seq))
        with self._acked_cv:
            for h, n, top in by_handle.values():
                first = not h.refused
                h.refused += n
                h.refused_top = max(h.refused_top, top)
                if first:
                    h.refusal = why
                    h.errors.append(why)
                    logger.warning(
                        "run %s: records could not be persisted (%s). Logging goes on; finish() reports "
                        "how many were lost.",
                        h.run_id,
                        why,
                    )
            self._acked_cv.notify_all()

    def loss_report(self, handle: WriterHandle) -> str:
        """What of `handle`'s records was not persisted, for finish(); empty when nothing was lost."""
        if not handle.refused:
            return ""
        return f"{handle.refused} records were not persisted ({handle.refusal})"

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

    def _send_once(self, batch: pb.Batch, handles: dict[str, WriterHandle]) -> None:
        conn = self._conn
        try:
            if conn is None:
                conn = self._reconnect(None)
            todo = self._unacked(batch)
            if not todo.groups:
                return
            todo.session = conn.session
            reply, call = conn.stub.Append.with_call(todo, timeout=60)
        except RpcError as exc:
            code = exc.code()
            if code in _TRANSPORT_CODES:
                self._warn_once(f"lost the runhive daemon ({code.name}); reconnecting and resending")
                self._unbound()
                try:
                    self._reconnect(conn)
                except CommError as cexc:
                    self._warn_once(str(cexc))
                except RpcError as rexc:
                    # The daemon went away again while the writers were re-attached (killed twice in a row):
                    # that is the same transport failure, retried; anything else is the daemon's answer.
                    if rexc.code() not in _TRANSPORT_CODES:
                        raise
                raise TransportRetry() from exc
            raise
        except CommError as exc:
            self._warn_once(str(exc))
            self._unbound()
            raise TransportRetry() from exc
        self._last_refusal = ""
        for key, value in call.trailing_metadata() or ():
            if key == REFUSED_MD:
                why = json.loads(value)
                self._last_refusal = "; ".join(sorted(set(why.values())))
        with self._acked_cv:
            for ack in reply.acks:
                handle = handles.get(ack.writer) or self._writers.get(ack.writer)
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
        self._urgent = True
        self._wake.set()
        deadline = None if not timeout else time.monotonic() + timeout
        with self._acked_cv:
            while handle.acked < seq:
                if not self._thread.is_alive() or handle.refused_top >= seq:
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
        except RpcError as exc:
            if exc.code() in (StatusCode.UNAVAILABLE, StatusCode.UNAUTHENTICATED):
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
    # The parent's threads and channels do not exist here; the child builds its own on first use. Runs the
    # child inherited keep pointing at the parent's sender: what they are given is dropped with a warning.
    global _senders_lock, _senders_pid
    for sender in _senders.values():
        sender.put = sender._put_forked  # type: ignore[method-assign]
    _senders.clear()
    _senders_lock = threading.Lock()
    _senders_pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)
