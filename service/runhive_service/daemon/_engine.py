"""The daemon's run streams and its three worker threads.

- committer: appends each batch to its run's WAL, fsyncs every touched file once per group (group commit),
  then acknowledges; also drops records it already holds, by (run, writer, seq).
- applier: applies committed records to their runs' state and hands them to the sinks (`runhive_service.streams`:
  the local store, later the uploader) in large groups; lets the sinks do deferred work (the store's metric
  index) when it has nothing to apply. The store's one writer is this thread.
- watcher: notices dead client processes (psutil), crashes their runs once everything they sent is
  applied, and stops the daemon after the idle timeout.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runhive.protocol.ids import generate_id
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.errors import ServiceError
from runhive_service.rundir import append_index, index_entries
from runhive_service.rundir._system import Sample, append_samples, samples_path
from runhive_service.rundir._wal import ReadResult, read_frames, wal_name
from runhive_service.streams import (
    CRASHED,
    DAEMON_WRITER,
    RUNNING,
    RunCatalog,
    RunState,
    Sink,
    SystemSample,
    WriterState,
    apply_groups,
    begin_attempt,
    process_alive,
    record_rows,
    run_key,
    settle_state,
    with_identity,
    writer_host_pid,
)

from ._committer import Committer
from ._config import ServiceConfig
from ._names import new_name
from ._sysmon import OpenRun, SystemMonitor, open_runs, writer_stats
from ._validate import Invalid, check_group

logger = logging.getLogger("runhive_service")

# Indexing metrics waits for a pause in the incoming batches (cfg.index_quiet), so a burst is stored at the
# speed of its rows; past INDEX_MAX_LAG_ROWS it runs between batches anyway, so a flood never leaves it
# unboundedly behind.
INDEX_MAX_LAG_ROWS = 200_000
APPLY_QUEUE_GROUPS = 256  # record groups (each up to a client batch) waiting for the store


@dataclass
class Session:
    id: str
    pid: int
    create_time: float
    host: str
    writers: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.time)


class WriterCall:
    """Work for the applier thread that is not a record group (sweep state, system metrics): `fn` runs there,
    between two groups, so the store keeps one writer."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
        finally:
            self.done.set()


def _pid_alive(pid: int, create_time: float = 0.0) -> bool:
    return process_alive(pid, create_time)


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def writer_pid(writer: str) -> int:
    return writer_host_pid(writer)[1]


class Engine:
    """The run streams of one node. `catalog` answers what the node already holds (resume, recovery); `sinks`
    receive every applied group, in order, on the applier thread."""

    def __init__(self, cfg: ServiceConfig, catalog: RunCatalog, sinks: Sequence[Sink]) -> None:
        self.cfg = cfg
        self.catalog = catalog
        self.sinks = list(sinks)
        self.sessions: dict[str, Session] = {}
        self.streams: dict[str, RunState] = {}
        self._lock = threading.RLock()
        self._applied_cv = threading.Condition()
        self.committer = Committer(cfg.fsync, self._committed, lambda: self._apply_q.put(None))
        # Bounded: when the store falls behind, the committer waits, Append calls wait, and clients block in
        # log() at their own bound. Memory stays flat instead of queueing parsed batches without limit.
        self._apply_q: queue.Queue[tuple[RunState, pb.RecordBatch, int, bytes | None] | WriterCall | None] = (
            queue.Queue(maxsize=APPLY_QUEUE_GROUPS)
        )
        self._names: dict[tuple[str, str], set[str]] = {}
        self._stop = threading.Event()
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.records_received = 0
        self.records_applied = 0
        self._pending_apply = 0
        self._pending_bytes = 0  # committed to WALs, not yet applied: bounded by cfg.max_apply_backlog
        self._failing: set[str] = set()  # runs whose WAL or crash record last failed (logged once)
        self._sample_file_failed: set[Path] = set()  # offline runs' samples files that could not be written
        self._threads: list[threading.Thread] = []
        self.on_idle: Any = None
        self.on_stop: list[Callable[[], None]] = []  # what the daemon built around the engine, closed at stop
        self.sysmon = SystemMonitor(self.open_runs, self.system_metrics, cfg.stats_interval)
        # Recently released streams, so a FinishRun that arrives after the applier closed the run still answers.
        self._closed: OrderedDict[str, RunState] = OrderedDict()

    # Lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        for name, target in (("committer", self.committer.run), ("applier", self._apply_loop)):
            t = threading.Thread(target=target, name=f"runhive-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        self.recover()  # after the applier runs: recovery hands WAL tails to its bounded queue
        w = threading.Thread(target=self._watch_loop, name="runhive-watcher", daemon=True)
        w.start()
        self._watcher = w
        self.sysmon.start()

    def stop(self) -> None:
        """Flush everything received to the WAL and the store, then close. Run states are left as they are."""
        self.sysmon.stop()  # first: its last sample goes through the applier, which stops below
        self._stop.set()
        self.committer.stop()
        for t in self._threads:
            t.join(timeout=60)
        with self._lock:
            self.committer.close()
        for close in self.on_stop:
            close()
        for sink in self.sinks:
            sink.close()

    def open_runs(self) -> list[OpenRun]:
        with self._lock:
            return open_runs(self.streams)

    def touch(self) -> None:
        self.last_activity = time.monotonic()

    # Sessions ---------------------------------------------------------------------------------------
    def open_session(self, pid: int, create_time: float, host: str) -> Session:
        sess = Session(id=secrets.token_hex(16), pid=pid, create_time=create_time, host=host)
        with self._lock:
            self.sessions[sess.id] = sess
        self.touch()
        return sess

    def session(self, sid: str) -> Session:
        sess = self.sessions.get(sid)
        if sess is None:
            raise ServiceError(
                "UNAUTHENTICATED", "unknown session: handshake first (the daemon may have restarted)"
            )
        return sess

    # Runs -------------------------------------------------------------------------------------------
    def init_run(self, sess: Session, req: pb.InitRunRequest) -> pb.InitRunResponse:
        info = pb.RunInfo()
        info.CopyFrom(req.info)
        if not req.writer:
            raise ServiceError("INVALID_ARGUMENT", "InitRun needs a writer id")
        if req.resume == "attach":
            with self._lock:
                reply, attached = self._attach(sess, req)
            self._flush_tail(attached)
            self.sysmon.poke()
            return reply
        with self._lock:
            existing_key = run_key(info.entity, info.project, info.id) if info.id else None
            st = self.streams.get(existing_key) if existing_key else None
            row = None
            if st is None and info.id and info.mode != "offline":  # offline never reads the store
                row = self.catalog.find_run(info.entity, info.project, info.id)
            exists = st is not None or row is not None
            if req.resume == "must" and not exists:
                raise ServiceError(
                    "NOT_FOUND",
                    "You provided an invalid value for the `resume` argument. The value 'must' is not a valid "
                    f"option for resuming the run ({info.id}) that has not been initialized. Please check your "
                    "inputs and try again with a valid run ID. If you are trying to start a new run, please omit "
                    "the `resume` argument or use `resume='allow'`.",
                )
            if req.resume == "never" and exists:
                raise ServiceError(
                    "ALREADY_EXISTS",
                    "You provided an invalid value for the `resume` argument. The value 'never' is not a valid "
                    f"option for resuming a run ({info.id}) that already exists. Please check your inputs and "
                    "try again with a valid value for the `resume` argument.",
                )
            if st is None and row is not None:
                st = self._stream_from_row(info, row)
            resumed = st is not None
            if st is None:
                st = self._new_stream(info, req)
            if st.info.mode == "offline" and resumed:
                pass
            if st.state != RUNNING:  # a run that ended, resumed: a new attempt
                begin_attempt(st)
            writer = WriterState(pid=sess.pid, create_time=sess.create_time)
            writer.stats_disabled, writer.stats_interval = writer_stats(req.settings_json)
            st.writers[req.writer] = writer
            sess.writers.add(req.writer)
            self.streams[st.key] = st
            config_update = json.loads(req.config_json or b"{}")
        self._flush_tail(st)
        self.sysmon.poke()  # a run to sample, maybe at its own interval
        group = self._daemon_group(st)
        self._daemon_record(st, group).run.CopyFrom(st.info)
        if config_update:
            self._daemon_record(st, group).config.json = json.dumps(config_update).encode()
        if resumed:
            st.config.update(config_update)
        try:
            self.commit([(st, group)])
        except ServiceError as exc:
            with self._lock:  # nothing of this writer exists: forget it, and the run if it is new
                st.writers.pop(req.writer, None)
                sess.writers.discard(req.writer)
                if not resumed and self.streams.get(st.key) is st:
                    del self.streams[st.key]
                if not resumed:
                    self.committer.release(st.key)
            raise ServiceError(exc.code, f"dir={req.root_dir!r}: {exc}") from None
        reply = pb.InitRunResponse(
            info=st.info,
            state=st.state,
            starting_step=st.last_step + 1,
            resumed=resumed,
            last_seq=0,
        )
        if resumed:
            reply.config_json = json.dumps(st.config).encode()
            reply.summary_json = json.dumps(st.summary).encode()
        return reply

    def _attach(self, sess: Session, req: pb.InitRunRequest) -> tuple[pb.InitRunResponse, RunState]:
        info = req.info
        key = run_key(info.entity, info.project, info.id)
        st = self.streams.get(key)
        if st is None:
            row = self.catalog.find_run(info.entity, info.project, info.id)
            if row is None:
                raise ServiceError("NOT_FOUND", f"run {key} is not known to this daemon; cannot re-attach")
            st = self._stream_from_row(info, row)
            self.streams[key] = st
        w = st.writers.get(req.writer)
        if w is None:
            w = st.writers[req.writer] = WriterState()
        elif w.pid and w.pid != sess.pid and w.open and _pid_alive(w.pid, w.create_time):
            # A writer belongs to its process: another live process may not take it over.
            raise ServiceError(
                "PERMISSION_DENIED", f"writer {req.writer!r} of run {key} belongs to pid {w.pid}"
            )
        w.pid, w.create_time, w.open = sess.pid, sess.create_time, True
        w.stats_disabled, w.stats_interval = writer_stats(req.settings_json)
        sess.writers.add(req.writer)
        reply = pb.InitRunResponse(
            info=st.info, state=st.state, starting_step=st.last_step + 1, resumed=True, last_seq=w.durable_seq
        )
        return reply, st

    def _new_stream(self, info: pb.RunInfo, req: pb.InitRunRequest) -> RunState:
        if not info.id:
            info.id = generate_id()
            while run_key(info.entity, info.project, info.id) in self.streams:
                info.id = generate_id()
        names = self._names.get((info.entity, info.project))
        if names is None:
            names = self.catalog.run_names(info.entity, info.project)
            self._names[(info.entity, info.project)] = names
        if not info.name:
            info.name = new_name(names)
        names.add(info.name)
        if not info.run_dir:
            stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(info.start_time or time.time()))
            prefix = "offline-run" if info.mode == "offline" else "run"
            base = Path(req.root_dir or ".") / "runhive"
            path = base / f"{prefix}-{stamp}-{info.id}"
            n = 1
            while path.exists():
                path = base / f"{prefix}-{stamp}-{info.id}-{n}"
                n += 1
            info.run_dir = str(path)
        try:
            Path(info.run_dir).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # ./runhive/: user-only
            Path(info.run_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
            (Path(info.run_dir) / "files").mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise ServiceError(
                "FAILED_PRECONDITION",
                f"dir={req.root_dir!r}: cannot create the run directory {info.run_dir}: {exc.strerror}",
            ) from None
        st = RunState(key=run_key(info.entity, info.project, info.id), info=info)
        append_index(self.cfg.index_path, info.run_dir, info.id)
        return st

    def _stream_from_row(self, info: pb.RunInfo, stored: RunState) -> RunState:
        """The stream of a run the catalog holds: its stored state under the caller's identity, and the WAL's
        writers and unapplied tail."""
        st = with_identity(stored, info)
        self._scan_wal(st)
        return st

    def _scan_wal(self, st: RunState) -> None:
        """Rebuild writer sequence numbers from the run's WAL and apply what the store is missing."""
        path = Path(st.info.run_dir) / wal_name(st.info.id)
        if not path.exists():
            return
        res = ReadResult()
        tail: list[tuple[RunState, pb.RecordBatch, int, bytes | None]] = []
        for end, group in read_frames(path, 0, res):
            if not group.records:
                continue
            if group.writer == DAEMON_WRITER:
                st.daemon_seq = max(st.daemon_seq, group.records[-1].seq)
            else:
                w = st.writers.setdefault(group.writer, WriterState(pid=writer_pid(group.writer)))
                w.durable_seq = max(w.durable_seq, group.records[-1].seq)
                w.applied_seq = w.durable_seq
                last = group.records[-1]
                if last.WhichOneof("kind") == "exit":
                    w.open = False
                    w.exit_code = last.exit.exit_code
                    w.crashed = last.exit.state == CRASHED
            if end > st.applied_offset:
                tail.append((st, group, end, None))
        for dmg in res.damage:
            logger.warning("WAL damage: %s", dmg)
        size = path.stat().st_size
        torn_tail = bool(res.damage) and res.damage[-1].offset >= res.end_offset and size > res.end_offset
        if torn_tail and not self.committer.holds(st.key):
            # A torn or unreadable last frame (the writer died mid-append): cut it, so what is appended next
            # follows the last whole frame. Its file and offset are in the line above.
            os.truncate(path, res.end_offset)
            logger.warning("cut %d damaged bytes off the end of %s", size - res.end_offset, path)
        if tail and not st.offline:
            # Handed to the applier by _flush_tail once the caller holds no lock: the queue is bounded, and
            # the applier needs the engine lock to drain it.
            st.pending_tail.extend(tail)

    def _flush_tail(self, st: RunState | None) -> None:
        """Give the applier (the store's only writer) the WAL tail _scan_wal found, before any new record."""
        if st is None or not st.pending_tail:
            return
        tail, st.pending_tail = st.pending_tail, []
        self._pending_apply += len(tail)
        for item in tail:
            self._apply_q.put(item)

    @staticmethod
    def _daemon_group(st: RunState) -> pb.RecordBatch:
        return pb.RecordBatch(run_id=st.key, writer=DAEMON_WRITER)

    @staticmethod
    def _daemon_record(st: RunState, group: pb.RecordBatch) -> pb.Record:
        st.daemon_seq += 1
        rec = group.records.add()
        rec.seq = st.daemon_seq
        rec.time = time.time()
        return rec

    # Recovery -----------------------------------------------------------------------------------------
    def recover(self) -> None:
        """Finish the work a previous daemon left: apply WAL tails and settle runs whose writers are gone."""
        seen: set[str] = set()
        for entity, project, rid, run_dir in self.catalog.running_runs():
            info = pb.RunInfo(id=rid, entity=entity, project=project)
            row = self.catalog.find_run(entity, project, rid)
            if row is None or (Path(run_dir) / ".syncing").exists():
                continue  # a half-done `runhive sync` is finished by the next `runhive sync`
            try:
                st = self._stream_from_row(info, row)
            except Exception:
                logger.exception("recovering run %s failed", rid)
                continue
            seen.add(run_dir)
            self.streams[st.key] = st
            self._flush_tail(st)
        # Run directories in the index that never reached the store (daemon died right after init).
        for run_dir, rid in index_entries(self.cfg.index_path):
            if run_dir in seen:
                continue
            path = Path(run_dir) / wal_name(rid)
            if not path.exists():
                continue
            first = next(iter(read_frames(path)), None)
            if first is None or not first[1].records or first[1].records[0].WhichOneof("kind") != "run":
                continue
            info = first[1].records[0].run
            if self.catalog.find_run(info.entity, info.project, info.id) is not None:
                continue
            st = RunState(key=run_key(info.entity, info.project, info.id), info=info)
            self._scan_wal(st)
            self.streams[st.key] = st
            self._flush_tail(st)

    # Appending -------------------------------------------------------------------------------------
    def append(
        self, sess: Session, groups: Any, refused: dict[str, str] | None = None
    ) -> list[tuple[str, str, int]]:
        """Commit a client's groups; returns (run, writer, durable seq) per group. A group whose WAL cannot be
        written (disk full) is acknowledged with the lower seq and named in `refused` (writer -> why)."""
        work: list[tuple[RunState, pb.RecordBatch]] = []
        n = 0
        for group in groups:
            if group.writer not in sess.writers:
                raise ServiceError(
                    "PERMISSION_DENIED",
                    f"writer {group.writer!r} is not registered by this session; call InitRun",
                )
            st = self.streams.get(group.run_id)
            if st is None or group.writer not in st.writers:
                raise ServiceError("NOT_FOUND", f"run {group.run_id!r} has no open writer {group.writer!r}")
            try:
                check_group(group)
            except Invalid as exc:
                raise ServiceError("INVALID_ARGUMENT", f"run {group.run_id!r}: {exc}") from None
            if group.records:
                work.append((st, group))
                n += record_rows(group.records)
        self.records_received += n
        self._wait_for_store()
        errors = self.commit_groups(work)
        if errors and refused is not None:
            for st, g in work:
                if st.key in errors:
                    refused[g.writer] = errors[st.key]
        self.touch()
        return [(st.key, g.writer, st.writers[g.writer].durable_seq) for st, g in work]

    def _wait_for_store(self) -> None:
        # Backpressure: while the store writer is behind by more than max_apply_backlog, callers wait here, so
        # their clients' buffers fill and their log() blocks, rather than this daemon's memory growing.
        if self._pending_bytes <= self.cfg.max_apply_backlog:
            return
        with self._applied_cv:
            while self._pending_bytes > self.cfg.max_apply_backlog and not self._stop.is_set():
                self._applied_cv.wait(0.5)

    def commit(self, groups: list[tuple[RunState, pb.RecordBatch]]) -> None:
        errors = self.commit_groups(groups)
        if errors:
            raise ServiceError("RESOURCE_EXHAUSTED", "; ".join(sorted(set(errors.values()))))

    def commit_groups(self, groups: list[tuple[RunState, pb.RecordBatch]]) -> dict[str, str]:
        """Write `groups` to their WALs (group commit); returns {run key: why} for runs whose WAL failed."""
        return self.committer.commit_groups(groups)

    def _committed(self, st: RunState, group: pb.RecordBatch, end: int, payload: bytes) -> None:
        self._pending_apply += 1
        self._pending_bytes += len(payload)
        self._apply_q.put((st, group, end, payload))

    # Applying -------------------------------------------------------------------------------------
    def _sink_lag(self) -> int:
        return max((sink.lag for sink in self.sinks), default=0)

    def _apply_loop(self) -> None:
        quiet = (
            False  # nothing arrived for cfg.index_quiet: deferred work slice after slice until something does
        )
        while True:
            if self._sink_lag():
                try:
                    first = self._apply_q.get(timeout=0 if quiet else self.cfg.index_quiet)
                except queue.Empty:
                    quiet = True
                    self._idle_work()
                    continue
            else:
                first = self._apply_q.get()
            quiet = False
            items = [first]
            while len(items) < 512:
                try:
                    items.append(self._apply_q.get_nowait())
                except queue.Empty:
                    break
            stop = any(i is None for i in items)
            calls = [i for i in items if isinstance(i, WriterCall)]
            work = [i for i in items if i is not None and not isinstance(i, WriterCall)]
            if work and self.cfg.test_apply_delay:
                # A slow writer in tests commits item by item, so a poll can catch a long apply half-way.
                for w in work:
                    self._apply([w])
            elif work:
                self._apply(work)
            for call in calls:
                call.run()
            if stop:
                return
            if (
                self._sink_lag() > INDEX_MAX_LAG_ROWS
            ):  # busy for long: keep deferred work within a bound behind
                self._idle_work()

    def on_writer(self, fn: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Run `fn()` on the applier thread, between groups, and return its result: the sinks' one writer."""
        call = WriterCall(fn)
        try:
            self._apply_q.put(call, timeout=timeout)
        except queue.Full:
            raise ServiceError("UNAVAILABLE", f"the store is {timeout} s behind; try again") from None
        if not call.done.wait(timeout):
            raise ServiceError("UNAVAILABLE", f"the store did not answer within {timeout} s; try again")
        if call.error is not None:
            raise call.error
        return call.result

    def system_metrics(self, samples: list[SystemSample]) -> None:
        """One round of the monitor's samples: an online run's to the sinks, an offline run's beside its WAL (it
        has no store; `runhive sync` takes them from there)."""
        by_file: dict[Path, list[Sample]] = {}
        for s in samples:
            if s.run.offline:
                wal = Path(s.run.info.run_dir) / wal_name(s.run.info.id)
                by_file.setdefault(samples_path(wal), []).append((s.time, s.runtime, s.data))
        for path, rows in by_file.items():
            try:
                append_samples(path, rows)
            except OSError as exc:  # a full or removed disk: the run's records matter more; said once a run
                if path not in self._sample_file_failed:
                    self._sample_file_failed.add(path)
                    logger.warning("keeping system metrics in %s failed: %s", path, exc)
        online = [s for s in samples if not s.run.offline]
        if online:
            self.sink_samples(online)

    def sink_samples(self, samples: list[SystemSample]) -> None:
        """Hand system-metric samples to every sink, on the applier thread."""

        def write() -> None:
            for sink in self.sinks:
                sink.system_metrics(samples)

        self.on_writer(write)

    def _idle_work(self) -> None:
        for sink in self.sinks:
            try:
                sink.idle()
            except Exception:
                # The rows are stored; readers take them from the history blocks until a later pass succeeds.
                logger.exception("deferred work of %s failed; retrying later", type(sink).__name__)
                self._stop.wait(1.0)

    def _apply(self, work: list[tuple[RunState, pb.RecordBatch, int, bytes | None]]) -> None:
        online = [w for w in work if not w[0].offline]
        if self.cfg.test_apply_delay:
            # RUNHIVE_TEST_APPLY_DELAY: a slow store writer (seconds per applied row), for tests only.
            time.sleep(self.cfg.test_apply_delay * sum(record_rows(g.records) for _, g, _, _ in work))
        try:
            if online:
                applied = apply_groups(online)
                for sink in self.sinks:
                    sink.apply(applied)
        except Exception:
            logger.exception("applying %d batches to the store failed; they stay in the WAL", len(online))
            return
        finally:
            self._pending_apply -= len(work)
            self._pending_bytes -= sum(len(p) for _, _, _, p in work if p is not None)
        with self._applied_cv:
            for st, group, _end, _payload in work:
                recs = group.records
                self.records_applied += record_rows(recs)
                if group.writer == DAEMON_WRITER:
                    continue
                w = st.writers.get(group.writer)
                if w is None:
                    continue
                if recs[-1].seq > w.applied_seq:
                    w.applied_seq = recs[-1].seq
                if st.offline and recs[-1].WhichOneof("kind") == "exit":
                    w.open = False
                    w.exit_code = recs[-1].exit.exit_code
                    settle_state(st)
            self._applied_cv.notify_all()
        for st, _group, _end, _payload in work:
            self._maybe_release(st)

    def _maybe_release(self, st: RunState) -> None:
        # A run with no open writer needs no memory or descriptor; it is reloaded from the store on resume.
        with self._lock:
            if st.state == RUNNING or any(w.open for w in st.writers.values()):
                return
            if any(w.applied_seq < w.durable_seq for w in st.writers.values()):
                return
            if self.streams.get(st.key) is st:
                del self.streams[st.key]
                self._closed[st.key] = st
                while len(self._closed) > 1000:
                    self._closed.popitem(last=False)
            self.committer.release(st.key)

    def wait_applied(
        self, key: str, writer: str, seq: int, timeout: float, alive: Any = None
    ) -> tuple[bool, int]:
        st = self.stream_for(key)
        deadline = None if timeout <= 0 else time.monotonic() + timeout
        with self._applied_cv:
            while True:
                w = st.writers.get(writer) if st is not None else None
                if w is None:
                    return False, 0
                if w.applied_seq >= seq:
                    return True, w.applied_seq
                remaining = 1.0 if deadline is None else deadline - time.monotonic()
                if remaining <= 0 or (alive is not None and not alive()) or self._stop.is_set():
                    return False, w.applied_seq
                self._applied_cv.wait(min(remaining, 1.0))

    def stream_for(self, key: str) -> RunState | None:
        return self.streams.get(key) or self._closed.get(key)

    def forget_run(self, key: str) -> None:
        """Drop a run this daemon holds in memory, before its rows leave the store (`DeleteRun`, on the applier
        thread: none of its groups is half-applied). A run with an open writer, or with records in its WAL not
        yet applied, is refused."""
        with self._lock:
            st = self.streams.get(key)
            if st is not None:
                open_writers = sorted(n for n, w in st.writers.items() if w.open)
                if open_writers or st.state == RUNNING:
                    raise ServiceError(
                        "FAILED_PRECONDITION",
                        f"run {key} is still running (open writers: {', '.join(open_writers) or 'none'}); "
                        "finish it (run.finish()) or wait until its process ends, then delete it",
                    )
                if any(w.applied_seq < w.durable_seq for w in st.writers.values()):
                    raise ServiceError(
                        "UNAVAILABLE", f"run {key} still has records being applied to the store; try again"
                    )
                del self.streams[key]
            self._closed.pop(key, None)
            self.committer.release(key)

    # Watching ------------------------------------------------------------------------------------
    def _watch_loop(self) -> None:
        idle_since: float | None = None
        while not self._stop.wait(self.cfg.watch_interval):
            try:
                self._reap()
            except Exception:
                logger.exception("watcher failed")
            if self._is_idle():
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= self.cfg.idle_timeout and self.on_idle is not None:
                    logger.info("idle for %.0f s; exiting", self.cfg.idle_timeout)
                    self.on_idle()
                    return
            else:
                idle_since = None

    def _reap(self) -> None:
        alive_cache: dict[tuple[int, float], bool] = {}

        def alive(pid: int, ct: float) -> bool:
            k = (pid, ct)
            if k not in alive_cache:
                alive_cache[k] = _pid_alive(pid, ct)
            return alive_cache[k]

        with self._lock:
            for sid, sess in list(self.sessions.items()):
                if not alive(sess.pid, sess.create_time):
                    del self.sessions[sid]
            crashes: list[tuple[RunState, str, WriterState]] = []
            for st in list(self.streams.values()):
                for name, w in st.writers.items():
                    if w.open and not w.crashed and not alive(w.pid, w.create_time):
                        w.crashed = True  # mark once; the exit record below settles the state
                        crashes.append((st, name, w))
        for st, name, w in crashes:
            logger.info("writer %s of run %s died without finish(); marking the run crashed", name, st.key)
            group = pb.RecordBatch(run_id=st.key, writer=name)
            group.records.add(
                seq=w.durable_seq + 1, time=time.time(), exit=pb.ExitRecord(exit_code=1, state=CRASHED)
            )
            try:
                self.commit([(st, group)])
            except ServiceError as exc:
                w.crashed = False  # try again on the next round: the disk may have room by then
                if f"crash {st.key}" not in self._failing:
                    self._failing.add(f"crash {st.key}")
                    logger.warning("could not record the crash of %s yet: %s", st.key, exc)

    def _is_idle(self) -> bool:
        with self._lock:
            if self.sessions:
                return False
            if any(any(w.open for w in st.writers.values()) for st in self.streams.values()):
                return False
        return self._pending_apply == 0 and self.committer.idle and self._sink_lag() == 0

    def status(self) -> dict[str, Any]:
        with self._lock:
            streams = [
                pb.StreamStatus(
                    run_id=st.info.id,
                    project=st.info.project,
                    state=st.state,
                    writers=sum(1 for w in st.writers.values() if w.open),
                    records=st.rows,
                )
                for st in self.streams.values()
            ]
            clients = len(self.sessions)
        return {
            "pid": os.getpid(),
            "uptime": time.time() - self.started,
            "clients": clients,
            "streams": streams,
            "store": str(self.cfg.store_path),
            "records_received": self.records_received,
            "records_applied": self.records_applied,
            "rss_bytes": _rss(),
        }
