"""`runhive sync` in the daemon: replay one run's WAL into the store, through the applier.

The applier thread stays the store's only writer: a sync reads the WAL in its own thread and hands the records to
the applier in chunks, like the tail `Engine._scan_wal` enqueues, each with the WAL offset after it, so the run's
`applied_offset` advances in the same transaction as its rows. That makes a sync

- resumable: an interrupted sync (CLI or daemon killed) continues from the stored `applied_offset`;
- idempotent: a second sync finds nothing past `applied_offset` and says so.

While a sync is in progress the run directory holds a `.syncing` marker, so a restarted daemon's recovery leaves the
half-synced run to the next `runhive sync` instead of settling it itself; `.synced` replaces it when the run is in
the store with a settled state. A WAL whose writers never wrote an exit record, and whose processes are gone, is
closed with exit code 1 (state failed), as W&B's sync does. The synthesised exit is applied, never written into
the WAL: the run directory stays as the run left it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runhive.protocol.metrics import MetricDef
from runhive.protocol.rows import decode_rows
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.rundir._system import read_samples, samples_path
from runhive_service.rundir._wal import ReadResult, read_frames
from runhive_service.streams import (
    RUNNING,
    RunState,
    SystemSample,
    WriterState,
    process_alive,
    record_rows,
    run_key,
    with_identity,
    writer_host_pid,
)

if TYPE_CHECKING:
    import grpc

    from ._engine import Engine

logger = logging.getLogger("runhive_service")

SYNCED_MARKER = ".synced"
SYNCING_MARKER = ".syncing"
SYNC_WRITER = "_sync"  # closes a run whose WAL names no writer (its process died right after init)
DAEMON_WRITER = "_daemon"
IN_FLIGHT = 4  # chunks handed to the applier and not yet applied
SAMPLES_BATCH = 1000  # system-metric samples handed to the store at once
STALL_TIMEOUT = 120.0  # seconds without the applier taking a chunk before the sync gives up


def chunk_rows() -> int:
    """History rows between the sync's progress marks (RUNHIVE_SYNC_CHUNK, a test knob)."""
    try:
        return max(1, int(os.environ.get("RUNHIVE_SYNC_CHUNK", "20000")))
    except ValueError:
        return 20000


def is_syncing(run_dir: str | Path) -> bool:
    """True while a sync of this run directory is unfinished (recovery leaves such runs to `runhive sync`)."""
    return (Path(run_dir) / SYNCING_MARKER).exists()


class _Abort(Exception):
    pass


class _Registry:
    """Runs being synced by this daemon: one sync per run at a time."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._keys: set[str] = set()

    def acquire(self, key: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cv:
            while key in self._keys:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(remaining)
            self._keys.add(key)
            return True

    def release(self, key: str) -> None:
        with self._cv:
            self._keys.discard(key)
            self._cv.notify_all()

    def __contains__(self, key: str) -> bool:
        with self._cv:
            return key in self._keys


SYNCING = _Registry()


def _process_alive(pid: int, started_before: float, create_time: float = 0.0) -> bool:
    return process_alive(pid, create_time, started_before)


_writer_host_pid = writer_host_pid


class SyncJob:
    def __init__(
        self,
        engine: Engine,
        req: pb.SyncRequest,
        report: Callable[[pb.SyncProgress], None],
        cancelled: Callable[[], bool],
    ) -> None:
        self.engine = engine
        self.req = req
        self.report = report
        self.cancelled = cancelled
        self.path = Path(req.wal_path)
        self.run_dir = self.path.parent
        self.st: RunState | None = None
        self.applied = 0
        self.total = 0
        self.damage: list[str] = []
        self.key = ""

    # Messages ---------------------------------------------------------------------------------------
    def _progress(self, done: bool = False, outcome: str = "", message: str = "") -> pb.SyncProgress:
        st = self.st
        msg = pb.SyncProgress(
            run_id=self.key,
            run_dir=str(self.run_dir),
            bytes_total=self.total,
            bytes_done=min(st.applied_offset, self.total) if st is not None else 0,
            records=self.applied,
            done=done,
            outcome=outcome,
            message=message,
            damage=self.damage,
        )
        if st is not None:
            msg.name = st.info.name
            msg.rows = st.rows
            msg.state = st.state
        return msg

    def _finish(self, outcome: str, message: str) -> pb.SyncProgress:
        return self._progress(done=True, outcome=outcome, message=message)

    def run(self) -> None:
        try:
            final = self._run()
        except _Abort as exc:
            final = self._finish("failed", str(exc))
        except Exception as exc:
            logger.exception("sync of %s failed", self.path)
            final = self._finish("failed", f"{type(exc).__name__}: {exc}")
        self.report(final)

    # The sync ---------------------------------------------------------------------------------------
    def _run(self) -> pb.SyncProgress:
        req, path = self.req, self.path
        if not path.is_absolute() or not path.name.endswith(".rhwal"):
            return self._finish("failed", f"{path} is not a runhive WAL (run-<id>.rhwal)")
        if not path.is_file():
            return self._finish("failed", f"{path}: no such file")
        first = next(iter(read_frames(path)), None)
        if first is None or not first[1].records or first[1].records[0].WhichOneof("kind") != "run":
            return self._finish("failed", f"{path} does not start with a run record: not a run's WAL")
        wal_info = first[1].records[0].run
        info = pb.RunInfo()
        info.CopyFrom(wal_info)
        wal_key = run_key(info.entity, info.project, info.id)
        self.key = wal_key
        if info.mode != "offline" and not req.include_online:
            return self._finish(
                "skipped", "written online: already in the store (--include-online replays it)"
            )
        if (self.run_dir / SYNCED_MARKER).exists() and not req.include_synced:
            return self._finish("skipped", "already synced (--include-synced checks it again)")
        if req.entity:
            info.entity = req.entity
        if req.project:
            info.project = req.project
        if req.run_id:
            from runhive.errors import UsageError
            from runhive.protocol.ids import validate_id

            try:
                validate_id(req.run_id)
            except UsageError as exc:
                return self._finish("failed", f"--id {req.run_id!r}: {exc}")
            info.id = req.run_id
        self.key = run_key(info.entity, info.project, info.id)
        if not SYNCING.acquire(self.key, timeout=60.0):
            return self._finish("failed", "another `runhive sync` of this run is still running")
        try:
            return self._locked(info, wal_key)
        finally:
            SYNCING.release(self.key)

    def _locked(self, info: pb.RunInfo, wal_key: str) -> pb.SyncProgress:
        engine = self.engine
        live = engine.streams.get(self.key)
        if live is not None and not live.offline:
            return self._finish(
                "skipped", "the run is open in runhive-service (being written online); sync it after it ends"
            )
        self._wait_for_watcher(wal_key)
        origin = engine.catalog.run_origin(info.entity, info.project, info.id)
        stored = engine.catalog.find_run(info.entity, info.project, info.id) if origin else None
        self.total = self.path.stat().st_size
        if origin is not None and stored is not None:
            created_at, host, pid, stored_dir = origin
            same_origin = (
                created_at is not None
                and abs(float(created_at) - info.start_time) < 1e-3
                and host == info.host
                and int(pid or 0) == info.pid
            )
            if not same_origin:
                return self._finish(
                    "failed",
                    f"run {self.key} already exists in the store (from {stored_dir or 'another run directory'}); "
                    f"sync this one under another id: runhive sync --id NEW_ID {self.run_dir}",
                )
            st = self._stored_state(info, stored)
            if st.applied_offset > self.total:
                return self._finish(
                    "failed",
                    f"the store holds {st.applied_offset} bytes of this run but {self.path} has {self.total}: "
                    "the WAL was truncated or replaced",
                )
        else:
            info.mode = "online"
            info.run_dir = str(self.run_dir)
            st = RunState(key=self.key, info=info)
        self.st = st
        start = st.applied_offset
        self.report(self._progress())
        self._mark(SYNCING_MARKER, {"pid": os.getpid(), "store": str(engine.cfg.store_path)})

        res = ReadResult()
        size = chunk_rows()
        since_mark = 0  # history rows handed to the applier since the last chunk mark
        marks: list[int] = []  # WAL offsets at chunk boundaries, not yet applied
        last_end = start
        prev_end: int = start if not start else 0  # the end of the frame before the first one to apply
        first_seen: dict[str, float] = {}  # writer -> time of its first record
        last_seq: dict[str, int] = {}
        exited: set[str] = set()
        interrupted = ""
        scratch: dict[str, Any] = {}
        for end, group in read_frames(self.path, 0, res):
            recs = group.records
            if not recs:
                if end <= start:
                    prev_end = end
                continue
            writer = group.writer
            if writer != DAEMON_WRITER:
                first_seen.setdefault(writer, recs[0].time)
                last_seq[writer] = max(last_seq.get(writer, 0), recs[-1].seq)
                if recs[-1].WhichOneof("kind") == "exit":
                    exited.add(writer)
            if end <= start:
                self._replay_applied(st, group, scratch)
                prev_end = end
                continue
            if prev_end != start:
                raise _Abort(
                    f"the store holds this run up to byte {start} of its WAL, which is not a record boundary of "
                    f"{self.path}: this WAL is not the one that was synced"
                )
            self._enqueue(group, end)
            self.applied += len(recs)
            last_end = prev_end = start = end
            since_mark += record_rows(recs)
            if since_mark >= size:
                since_mark = 0
                marks.append(end)
                self._drain(marks, IN_FLIGHT)
                interrupted = self._interrupted()
                if interrupted:
                    break
        marks.append(last_end)
        self._drain(marks, 0)
        self.damage = [str(d) for d in res.damage]
        if interrupted:
            raise _Abort(interrupted)
        wal_end = max(res.end_offset, start)

        open_writers = {w: t for w, t in first_seen.items() if w not in exited}
        if not first_seen and st.state == RUNNING:
            open_writers[SYNC_WRITER] = info.start_time
        running = [w for w, t in open_writers.items() if self._writer_alive(w, t, info, wal_key)]
        closing = bool(open_writers and not running and st.state == RUNNING)
        if closing:
            closed: dict[str, int] = {}
            for writer in open_writers:
                seq = closed[writer] = last_seq.get(writer, 0) + 1
                g = pb.RecordBatch(run_id=st.key, writer=writer)
                g.records.add(seq=seq, time=time.time(), exit=pb.ExitRecord(exit_code=1, state="failed"))
                self._enqueue(g, wal_end)
            # The exits do not move applied_offset: wait for the applier to have seen them by their seq.
            self._wait(lambda: all(self._applied_seq(st, w) >= q for w, q in closed.items()))
        elif wal_end > st.applied_offset:  # empty frames at the end
            self._enqueue(pb.RecordBatch(run_id=st.key, writer=DAEMON_WRITER), wal_end)
        self._drain([wal_end], 0)
        self._check_persisted(st)
        self._store_samples(st)

        if running:
            pids = ", ".join(str(_writer_host_pid(w)[1] or info.pid) for w in running)
            return self._finish(
                "partial",
                f"{self.applied} records synced; the run is still being written (pid {pids}): sync again when it ends",
            )
        if st.state == RUNNING:
            return self._finish("partial", f"{self.applied} records synced; the run has not ended")
        self._mark(
            SYNCED_MARKER,
            {"run": st.key, "store": str(engine.cfg.store_path), "state": st.state, "time": time.time()},
        )
        self._unmark(SYNCING_MARKER)
        if not self.applied and not closing:
            return self._finish("skipped", "already in the store: nothing new")
        what = f"{self.applied} records, {st.rows} history rows, state {st.state}"
        if closing:
            what += " (no exit record: closed with exit code 1)"
        return self._finish("synced", what)

    # Helpers ----------------------------------------------------------------------------------------
    def _store_samples(self, st: RunState) -> None:
        """The system-metric samples the daemon kept beside the WAL while the run was offline: those after the
        newest the store holds (a second sync adds none, a sync of a run still going adds the new ones)."""
        info = st.info
        last = self.engine.catalog.last_sample_time(info.entity, info.project, info.id)
        batch: list[SystemSample] = []
        for ts, runtime, data in read_samples(samples_path(self.path)):
            if last is None or ts > last:
                batch.append(SystemSample(st, ts, runtime, data))
                if len(batch) >= SAMPLES_BATCH:
                    self.engine.sink_samples(batch)
                    batch = []
        if batch:
            self.engine.sink_samples(batch)

    def _stored_state(self, info: pb.RunInfo, stored: RunState) -> RunState:
        """The stored run under this sync's identity (`info`, with the store's name, tags, dir, ...)."""
        st = with_identity(stored, info)
        st.key = self.key
        return st

    @staticmethod
    def _replay_applied(st: RunState, group: pb.RecordBatch, scratch: dict[str, Any]) -> None:
        """Rebuild what the store's row does not hold for records already applied: writers and aggregates."""
        if group.writer != DAEMON_WRITER:
            w = st.writers.setdefault(group.writer, WriterState())
            last = group.records[-1]
            if last.WhichOneof("kind") == "exit":
                w.open = False
                w.exit_code = last.exit.exit_code
                w.crashed = last.exit.state == "crashed"
        for rec in group.records:
            kind = rec.WhichOneof("kind")
            if kind == "metric":
                m = rec.metric
                st.agg.define(
                    MetricDef(m.name, m.step_metric, tuple(m.summary), m.goal, m.hidden, m.step_sync)
                )
            elif kind == "history" and st.agg:
                for row in decode_rows(rec.history):
                    st.agg.observe(row, scratch)
            elif kind == "summary" and st.agg:
                for k in json.loads(rec.summary.json or b"{}"):
                    st.agg.reset(k)

    def _enqueue(self, group: pb.RecordBatch, end: int) -> None:
        assert self.st is not None
        engine = self.engine
        engine._pending_apply += 1
        while True:  # the apply queue is bounded: wait for room, unless the daemon is stopping
            try:
                engine._apply_q.put((self.st, group, end, None), timeout=0.5)
                return
            except queue.Full:
                if engine._stop.is_set():
                    engine._pending_apply -= 1
                    raise _Abort("runhive-service is stopping; run `runhive sync` again to finish") from None

    def _drain(self, inflight: list[int], keep: int) -> None:
        """Wait until at most `keep` chunks are waiting for the applier, reporting progress."""
        st = self.st
        assert st is not None
        while len(inflight) > keep:
            target = inflight[0]
            self._wait(lambda: self._stored_offset() >= target)  # noqa: B023 (called before the loop moves on)
            inflight.pop(0)
            self.report(self._progress())

    def _wait(self, done: Callable[[], bool]) -> None:
        engine = self.engine
        deadline = time.monotonic() + STALL_TIMEOUT
        with engine._applied_cv:
            while not done():
                if engine._stop.is_set():
                    raise _Abort("runhive-service is stopping; run `runhive sync` again to finish")
                if time.monotonic() > deadline:
                    raise _Abort(
                        f"the store took no records for {STALL_TIMEOUT:.0f} s (see the daemon's service.log); "
                        "run `runhive sync` again to continue"
                    )
                engine._applied_cv.wait(0.5)

    @staticmethod
    def _applied_seq(st: RunState, writer: str) -> int:
        w = st.writers.get(writer)
        return w.applied_seq if w is not None else 0

    def _interrupted(self) -> str:
        if self.cancelled():
            return "interrupted: the sync command went away; run `runhive sync` again to continue"
        if self.engine._stop.is_set():
            return "runhive-service is stopping; run `runhive sync` again to finish"
        return ""

    def _stored_offset(self) -> int:
        # The committed offset: the applier advances st.applied_offset before its transaction commits.
        st = self.st
        assert st is not None
        return self.engine.catalog.applied_offset(st.info.entity, st.info.project, st.info.id)

    def _check_persisted(self, st: RunState) -> None:
        if self._stored_offset() != st.applied_offset:
            raise _Abort(
                "the store did not keep the records (see the daemon's service.log); run `runhive sync` again"
            )

    def _wait_for_watcher(self, wal_key: str) -> None:
        """If this daemon serves the offline run and saw its process die, let the watcher record the crash first."""
        engine = self.engine
        deadline = time.monotonic() + max(10.0, 20 * engine.cfg.watch_interval)
        while time.monotonic() < deadline:
            live = engine.streams.get(wal_key)
            if live is None or not live.offline:
                return
            pending = [
                w
                for w in list(live.writers.values())
                if w.open and (w.crashed or not _process_alive(w.pid, 0.0, w.create_time))
            ]
            if not pending:
                return
            with engine._applied_cv:
                engine._applied_cv.wait(0.2)

    def _writer_alive(self, writer: str, first_time: float, info: pb.RunInfo, wal_key: str) -> bool:
        live = self.engine.streams.get(wal_key)
        if live is not None and live.offline:
            w = live.writers.get(writer)
            if w is not None:
                return w.open and not w.crashed and _process_alive(w.pid, first_time, w.create_time)
        if writer == SYNC_WRITER:
            host, pid = info.host, info.pid
        else:
            host, pid = _writer_host_pid(writer)
        if host and host != socket.gethostname():
            return False  # written on another machine: its process cannot be asked; W&B closes such runs
        return _process_alive(pid, first_time or info.start_time)

    def _mark(self, name: str, data: dict[str, Any]) -> None:
        try:
            (self.run_dir / name).write_text(json.dumps(data) + "\n")
        except OSError as exc:
            logger.warning("could not write %s in %s: %s", name, self.run_dir, exc)

    def _unmark(self, name: str) -> None:
        try:
            (self.run_dir / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("could not remove %s in %s: %s", name, self.run_dir, exc)


def serve_sync(
    engine: Engine, req: pb.SyncRequest, context: grpc.ServicerContext
) -> Iterator[pb.SyncProgress]:
    """The Sync RPC's response stream: the job runs in its own thread and stops at the next chunk when the
    caller goes away; every chunk it handed to the applier is applied either way."""
    q: queue.Queue[pb.SyncProgress] = queue.Queue()
    cancelled = threading.Event()
    context.add_callback(cancelled.set)
    job = SyncJob(engine, req, q.put, cancelled.is_set)
    threading.Thread(target=job.run, name="runhive-sync", daemon=True).start()
    for _ in itertools.count():
        msg = q.get()
        # Coalesce: a slow reader gets the newest progress, never a backlog.
        while not msg.done:
            try:
                msg = q.get_nowait()
            except queue.Empty:
                break
        engine.touch()
        yield msg
        if msg.done:
            return
