"""The uploader: the second sink. It sends the committed records of runs whose `InitRun` named a team server
(`server_url` + `api_key`) to that server's ingest API (`runhive_service.server._ingest`).

- The WAL stays the source of truth. `apply()` (on the applier thread, once the local store holds the groups) only
  moves the run's upload target to the groups' WAL end offset: memory does not grow with the backlog, however long
  the server is away. One thread reads each run's WAL from the offset the server acknowledged, up to the target,
  in spans of at most `SPAN_BYTES`, and posts each writer's records as one `RecordBatch`.
- Exactly once: the server keeps a high-water mark per (run, writer) and skips records at or below it, in the same
  transaction that applies the rest; the uploader sends `prev` (its idea of the mark) so a server that holds less
  (restored database) answers GAP, and the uploader reopens the run and rewinds to the start of the WAL.
- Transport failures (connection refused, timeouts, 5xx) are retried with tenacity: exponential backoff with full
  jitter, capped by `RUNHIVE_UPLOAD_BACKOFF_MAX` seconds (default 10), for as long as the daemon runs. A refusal
  (4xx: key revoked, permission withdrawn, a batch the server cannot take) is final for that run: logged, recorded
  in the progress file and reported by `finish()`; never retried forever.
- Progress is durable in `<data dir>/uploads/<hash of the run key>.json` (0600 in the daemon's private 0700 data
  directory: it holds the key, so it never goes into the run directory, which users copy and share): the server,
  the run directory, the WAL offset acknowledged so far and the marks. On start the daemon resumes every run there
  whose WAL is longer than that offset, so a restart of either side loses nothing and repeats nothing; a run
  whose upload is complete has its file removed.
- `init()` is synchronous: `open_run` asks the server (viewer, then open the run's stream) before the daemon
  answers InitRun, so a missing key, an unknown entity or a denied permission fail `init()` at once.
- `finish()` waits (bounded by its timeout) until the run's WAL is acknowledged up to what the store applied,
  and its files are on the server; `lag` keeps the daemon from exiting idle while anything is pending.
- Run files (media, `run.save()`, `output.log`, ...): `_upload_files`, after the records, from the same thread;
  what the server holds of them is kept in the same progress file.
- System metrics: the local store keeps every sample (`system_metrics`, written by the first sink before this one
  hears of it), so the uploader keeps no samples in memory: `system_metrics()` only marks the run, and the upload
  thread reads the store's rows after the run's cursor (the last rowid sent, kept in the progress file) in batches
  of `SYSTEM_BATCH` and posts them to `/api/v1/system/.../{node}`. The server keys a sample by (run, node, ts), so
  a resend after a restart of either side stores nothing twice, and a cursor that lags (progress written before a
  crash) loses nothing. finish() does not wait for samples; the daemon does not exit idle, nor forget a run that
  ended, while some are unsent.
- A run deleted on the server answers 410 `RUN_DELETED`: final, like every refusal (reported by `finish()`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tenacity

from runhive.protocol.ids import generate_id
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.errors import ServiceError
from runhive_service.rundir._wal import MAGIC, read_frames, wal_name
from runhive_service.store._schema import connect
from runhive_service.streams import DAEMON_WRITER, RUNNING, AppliedGroup, RunState, SystemSample

from ._upload_files import FilesState, ask_periodic, files_every, files_url, final_done, sync_files

logger = logging.getLogger("runhive_service")

SPAN_BYTES = 4 * 1024 * 1024
SYSTEM_BATCH = 1000  # system-metrics samples per request
_HEADER = struct.Struct("<II")  # a WAL frame's header (`rundir._wal`): payload length, crc32
HTTP_TIMEOUT = 30.0
HEARTBEAT_EVERY = 30.0  # the server marks a run crashed after --run-timeout (300 s) without news of it
OPEN_TIMEOUT = 15.0  # how long InitRun keeps trying a server it cannot reach before failing init()


class Transient(Exception):
    """The server could not be reached or answered 5xx: retry."""


class Refused(Exception):
    """The server refused (4xx): final. `code` is its error code (`PERMISSION_DENIED`, `GAP`, ...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _post(url: str, key: str, body: bytes | None, timeout: float = HTTP_TIMEOUT) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/x-protobuf"
    req = urllib.request.Request(url, data=body or b"", headers=headers, method="POST")
    return _send(req, timeout)


def _post_json(url: str, key: str, body: bytes, timeout: float = HTTP_TIMEOUT) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    return _send(urllib.request.Request(url, data=body, headers=headers, method="POST"), timeout)


def _get(url: str, key: str, timeout: float = HTTP_TIMEOUT) -> dict[str, Any]:
    req = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {key}", "Accept": "application/json"}
    )
    return _send(req, timeout)


def _send(req: urllib.request.Request, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8") or "{}")  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        try:
            doc = json.loads(exc.read().decode("utf-8"))
        except (ValueError, OSError):
            doc = {}
        message = doc.get("error") or f"HTTP {exc.code} {exc.reason}"
        if doc.get("code") == "NO_FILE_STORE":  # a configuration, not an outage: waiting will not heal it
            raise Refused(exc.code, "NO_FILE_STORE", message) from None
        if exc.code >= 500 or exc.code in (408, 429):
            raise Transient(f"{req.full_url}: {message}") from None
        raise Refused(exc.code, str(doc.get("code") or exc.code), message) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Transient(f"{req.full_url}: {getattr(exc, 'reason', exc)}") from None


def _heartbeat_every() -> float:
    """Seconds between heartbeats of an open run that uploads nothing meanwhile (RUNHIVE_UPLOAD_HEARTBEAT, a test
    knob; the server's default run timeout is ten times the default)."""
    try:
        return max(0.05, float(os.environ.get("RUNHIVE_UPLOAD_HEARTBEAT") or HEARTBEAT_EVERY))
    except ValueError:
        return HEARTBEAT_EVERY


def _span_bytes() -> int:
    """WAL bytes per upload span (RUNHIVE_UPLOAD_SPAN_BYTES, a test knob: small spans make a sync stoppable)."""
    try:
        return max(1, int(os.environ.get("RUNHIVE_UPLOAD_SPAN_BYTES") or SPAN_BYTES))
    except ValueError:
        return SPAN_BYTES


def _node_id(state_dir: Path) -> str:
    """This node's stable name on team servers (random, kept in the uploads directory): the daemon's own stream of
    a run is `_daemon@<node>`, so its marks survive a daemon restart and differ from every other node's."""
    path = state_dir / "node-id"
    try:
        return path.read_text().strip() or _new_node_id(path)
    except FileNotFoundError:
        return _new_node_id(path)


def _new_node_id(path: Path) -> str:
    node = generate_id(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x") as f:
            f.write(node)
    except FileExistsError:  # another daemon of this data dir won the race: use its name
        return path.read_text().strip() or node
    return node


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


@dataclass
class _Upload:
    key: str  # run key entity/project/id
    url: str
    api_key: str
    entity: str
    project: str
    run_id: str
    run_dir: str
    sent: int = 0  # WAL offset acknowledged by the server
    target: int = 0  # WAL offset the local store holds (what to send up to)
    marks: dict[str, int] = field(default_factory=dict)
    daemon_writer: str = DAEMON_WRITER  # this node's name for the daemon's own stream on the server
    opened: bool = False
    error: str = ""  # final refusal
    last_problem: str = ""  # the last transient failure, for finish()'s message
    st: RunState | None = None
    files: FilesState = field(default_factory=FilesState)
    wal_path: str = ""  # `runhive sync --id`: the WAL is named after the run's old id
    sys_rowid: int = 0  # the local store's system_metrics rowid of the last sample the server acknowledged
    sys_due: bool = False  # the store may hold samples of the run after sys_rowid
    beat_at: float = (
        0.0  # time.monotonic() of the server's last news of this run from here (records or a heartbeat)
    )

    @property
    def wal(self) -> Path:
        return Path(self.wal_path) if self.wal_path else Path(self.run_dir) / wal_name(self.run_id)

    @property
    def base(self) -> str:
        return f"{self.url}/api/v1/streams/{_q(self.entity)}/{_q(self.project)}/{_q(self.run_id)}"

    @property
    def records_pending(self) -> bool:
        return not self.error and self.sent < self.target

    @property
    def pending(self) -> bool:
        return self.records_pending or (not self.error and (self.files.pending or self.sys_due))

    @property
    def ended(self) -> bool:
        """The run's exit is applied (or, resumed after a daemon restart, nothing says it still runs)."""
        return self.st is None or self.st.state != RUNNING


class Uploader:
    """The sink that uploads runs to team servers; one per daemon, one upload thread."""

    def __init__(
        self,
        state_dir: Path,
        busy_elsewhere: Callable[[], int] = lambda: 0,
        background: bool = True,
        patience: float | None = None,
        store_path: Path | None = None,
    ) -> None:
        """`state_dir`: where each run's upload progress is kept (the daemon's private data directory).
        `busy_elsewhere()`: the other sinks' lag (the local store's index), so `idle()` never slows them.
        `background=False`: no upload thread; the caller drives `_upload_span`/`_upload_files` (`runhive sync`).
        `patience`: seconds a request is retried before its Transient error is raised (None: while running).
        `store_path`: the node's local store, whose system_metrics rows are uploaded (None: no system metrics)."""
        self._patience = patience
        self._store_path = store_path
        self._store_db: sqlite3.Connection | None = None  # the upload thread's read-only connection
        self._dir = state_dir
        self._busy_elsewhere = busy_elsewhere
        self._applied_since_idle = False
        self._runs: dict[str, _Upload] = {}
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._backoff_max = float(os.environ.get("RUNHIVE_UPLOAD_BACKOFF_MAX") or 10.0)
        self._node = _node_id(state_dir)
        self._thread = threading.Thread(target=self._loop, name="runhive-uploader", daemon=True)
        if background:
            self._thread.start()

    # InitRun ----------------------------------------------------------------------------------------------------
    def open_run(self, req: pb.InitRunRequest) -> None:
        """Before the daemon answers InitRun: the key's user is the default entity; the run's stream must open on
        the server (permission to write, project created). Raises ServiceError with the server's words."""
        url, key, info = req.server_url.rstrip("/"), req.api_key, req.info
        patience = float(os.environ.get("RUNHIVE_SERVER_OPEN_TIMEOUT") or OPEN_TIMEOUT)
        try:
            for attempt in self._retrying(stop_after=patience):
                with attempt:
                    if not info.entity:
                        info.entity = str(_get(f"{url}/api/v1/viewer", key, OPEN_TIMEOUT)["entity"])
                    if not info.id:
                        info.id = generate_id()
                    base = f"{url}/api/v1/streams/{_q(info.entity)}/{_q(info.project)}/{_q(info.id)}"
                    _post(base, key, None, OPEN_TIMEOUT)
        except Refused as exc:
            code = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}.get(
                exc.status, "FAILED_PRECONDITION"
            )
            raise ServiceError(code, f"team server {url}: {exc}") from None
        except Transient as exc:
            raise ServiceError(
                "UNAVAILABLE",
                f"cannot reach the team server {url} ({exc}); check the URL (`runhive login --host URL`) "
                "and that `runhive server` is running",
            ) from None

    def track(self, st: RunState, req: pb.InitRunRequest) -> None:
        """Upload `st` (a run whose InitRun named a server) from now on."""
        info = st.info
        with self._cv:
            up = self._runs.get(st.key)
            if up is None:
                up = _Upload(
                    st.key,
                    req.server_url.rstrip("/"),
                    req.api_key,
                    info.entity,
                    info.project,
                    info.id,
                    info.run_dir,
                    daemon_writer=f"{DAEMON_WRITER}@{self._node}",
                )
                saved = _load(self._file(st.key))
                if saved and saved.get("url") == up.url:
                    up.sent = int(saved.get("offset") or 0)
                    up.marks = {str(k): int(v) for k, v in (saved.get("marks") or {}).items()}
                    if DAEMON_WRITER in up.marks:  # begun by a daemon from before per-node daemon streams
                        up.daemon_writer = DAEMON_WRITER
                    up.files = FilesState.from_doc(saved.get("files"))
                    up.sys_rowid = int(saved.get("system_rowid") or 0)
                self._runs[st.key] = up
            up.api_key, up.error, up.st = req.api_key or up.api_key, "", st
            up.sys_due = self._store_path is not None
            # What the WAL holds already (the run's first records may have been applied before this call);
            # later groups move the target as the store applies them.
            try:
                size = up.wal.stat().st_size
            except OSError:
                size = 0
            up.target = max(up.target, up.sent, size)
            self._cv.notify_all()
        self._save(up)

    # Sink -------------------------------------------------------------------------------------------------------
    def apply(self, groups: Sequence[AppliedGroup]) -> None:
        if not self._runs:
            return
        self._applied_since_idle = True
        moved = False
        with self._cv:
            for g in groups:
                up = self._runs.get(g.run.key)
                if up is not None and g.end > up.target:
                    up.target = g.end
                    moved = True
            if moved:
                self._cv.notify_all()

    def system_metrics(self, samples: Sequence[SystemSample]) -> None:
        # The store (the first sink) committed these rows already; the upload thread reads them from there.
        if not self._runs or self._store_path is None:
            return
        with self._cv:
            marked = False
            for s in samples:
                up = self._runs.get(s.run.key)
                if up is not None and not up.error:
                    up.sys_due = marked = True
            if marked:
                self._cv.notify_all()

    def idle(self) -> bool:
        # The upload thread does the work. The applier calls this in a loop while a sink lags and nothing arrives:
        # when only this sink lags (uploads pending, no group arrived since the last call, the local store has no
        # deferred work), yield for a moment instead of spinning. Never otherwise: applying and the store's index
        # (and local-only runs) must not wait on the uploader.
        if self._runs and self.lag and not self._applied_since_idle and not self._busy_elsewhere():
            self._stop.wait(0.02)
        self._applied_since_idle = False
        return False

    @property
    def lag(self) -> int:
        return sum(1 for up in list(self._runs.values()) if up.pending)

    def close(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._store_db is not None and not self._thread.is_alive():
            self._store_db.close()
            self._store_db = None

    # finish() ---------------------------------------------------------------------------------------------------
    def wait(self, key: str, timeout: float) -> str:
        """Wait until the run is on its server (what the store holds of it); "" then, else what is pending."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cv:
            up = self._runs.get(key)
            if up is None:
                return ""
            goal = up.target
            # A files pass that starts after this call: finish() copied the "end"/"live" files before its exit.
            files_goal = up.files.ask()
            self._cv.notify_all()
            while not up.error and (up.sent < goal or up.files.done < files_goal):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    break
                self._cv.wait(min(remaining, 0.5))
            if up.error:
                return f"the team server {up.url} refused run {key}: {up.error}"
            why = f"; last error: {up.last_problem}" if up.last_problem else ""
            if up.sent < goal:
                return (
                    f"{goal - up.sent} bytes of run {key} not yet uploaded to {up.url}{why}; runhive-service keeps "
                    "uploading after this process exits"
                )
            if up.files.done < files_goal:
                return (
                    f"the files of run {key} are not yet uploaded to {up.url}{why}; runhive-service keeps "
                    "uploading after this process exits"
                )
            if up.files.error:
                return f"the team server {up.url} refused files of run {key}: {up.files.error}"
            return ""

    # The upload thread ------------------------------------------------------------------------------------------
    def _retrying(self, stop_after: float | None = None) -> tenacity.Retrying:
        stop: tenacity.stop.stop_base = tenacity.stop_when_event_set(self._stop)
        if stop_after is not None:
            stop = stop | tenacity.stop_after_delay(stop_after)
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Transient),
            wait=tenacity.wait_random_exponential(multiplier=0.05, max=self._backoff_max),
            stop=stop,
            sleep=self._pause,
            reraise=True,
        )

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)  # a backoff that ends at once when the daemon stops

    def _loop(self) -> None:
        try:
            self._resume_all()
        except Exception:
            logger.exception("uploader: resuming pending uploads failed")
        while not self._stop.is_set():
            with self._cv:
                for up in self._runs.values():
                    if not up.error and not up.records_pending:
                        ask_periodic(up.files, running=not up.ended)
                        if up.ended and not up.files.final:  # the last pass, after the exit record
                            up.files.final = up.files.ask()
                todo = [up for up in self._runs.values() if up.pending]
                due = time.monotonic() - _heartbeat_every()
                beats = [
                    up
                    for up in self._runs.values()
                    if up.opened and not up.error and not up.ended and up.beat_at <= due
                ]
                if not todo and not beats:
                    self._forget_done()
                    self._cv.wait(1.0)
                    continue
            for up in beats:
                if not self._stop.is_set() and up.beat_at <= due:
                    self._heartbeat(up)
            for up in todo:
                if self._stop.is_set():
                    return
                try:
                    if up.records_pending:
                        self._upload_span(up)
                    elif up.files.pending:
                        self._upload_files(up)
                    if up.sys_due and not up.error:
                        self._upload_system(up)
                except Refused as exc:
                    up.error = f"{exc} (HTTP {exc.status})"
                    logger.error("uploader: %s refused run %s: %s; not retried", up.url, up.key, exc)
                    self._save(up)
                except Transient as exc:  # only when stopping
                    up.last_problem = str(exc)
                except Exception as exc:
                    up.error = f"{type(exc).__name__}: {exc}"
                    logger.exception("uploader: run %s failed", up.key)
                with self._cv:
                    self._cv.notify_all()

    def _file(self, key: str) -> Path:
        return self._dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def _forget_done(self) -> None:
        for key, up in list(self._runs.items()):
            files_done = bool(up.files.final) and up.files.done >= up.files.final
            if not up.pending and up.ended and up.sent >= up.target and (files_done or bool(up.error)):
                if not up.error and self._samples_after(up.entity, up.project, up.run_id, up.sys_rowid):
                    up.sys_due = True  # a last round stored after the previous pass: send it first
                    continue
                del self._runs[key]
                if not up.error:  # done: nothing to resume (a later resume of the run starts a new file)
                    self._file(key).unlink(missing_ok=True)

    def _call(self, up: _Upload, fn: Any) -> Any:
        def note(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            up.last_problem = str(exc)
            if state.attempt_number in (1, 5) or state.attempt_number % 50 == 0:
                logger.warning("uploader: %s (attempt %d; retrying)", exc, state.attempt_number)

        retrying = self._retrying(stop_after=self._patience)
        retrying.before_sleep = note
        result = retrying(fn)
        up.last_problem = ""
        return result

    def _open(self, up: _Upload) -> None:
        doc = self._call(up, lambda: _post(up.base, up.api_key, None))
        server_marks = {str(k): int(v) for k, v in (doc.get("marks") or {}).items()}
        if any(server_marks.get(w, 0) < s for w, s in up.marks.items()):
            up.sent = 0  # the server holds less than we thought (a restored database): send the WAL again
        up.marks = server_marks
        up.opened = True
        up.beat_at = time.monotonic()

    def _heartbeat(self, up: _Upload) -> None:
        """Tell the server the open run is alive (`runhive_service.server._liveness`), at most once per
        `_heartbeat_every()`. Never final: a server without the route, or one that refuses, only logs."""
        url = f"{up.url}/api/v1/heartbeat/{_q(up.entity)}/{_q(up.project)}/{_q(up.run_id)}"
        try:
            self._call(up, lambda: _post_json(url, up.api_key, b"{}"))
        except Refused as exc:
            logger.warning("uploader: %s did not take a heartbeat of run %s: %s", up.url, up.key, exc)
        except Transient:  # only when stopping
            return
        up.beat_at = time.monotonic()

    def _upload_span(self, up: _Upload) -> None:
        if not up.opened:
            self._open(up)
        frames = _read_span(up.wal, up.sent, up.target, _span_bytes())
        if not frames:
            up.target = up.sent  # a torn tail: nothing whole to send
            return
        by_writer: dict[str, pb.RecordBatch] = {}
        for _end, group in frames:
            # The daemon's own records go up as this node's stream: another node's daemon writing the same run
            # (shared mode, or the same id=) counts its own sequence numbers.
            writer = up.daemon_writer if group.writer == DAEMON_WRITER else group.writer
            batch = by_writer.get(writer)
            if batch is None:
                batch = by_writer[writer] = pb.RecordBatch(writer=writer)
            mark = up.marks.get(writer, 0)
            batch.records.extend(r for r in group.records if r.seq > mark)
        for writer, batch in by_writer.items():
            if not batch.records:
                continue
            prev = up.marks.get(writer, 0)
            url = f"{up.base}/{_q(writer)}?prev={prev}"
            body = batch.SerializeToString()
            try:
                doc = self._call(up, lambda url=url, body=body: _post(url, up.api_key, body))
            except Refused as exc:
                if exc.code != "GAP":
                    raise
                logger.warning("uploader: %s; reopening run %s and rewinding", exc, up.key)
                up.opened, up.sent = False, 0
                up.marks = {}
                return
            up.marks[writer] = int(doc.get("seq") or 0)
            up.beat_at = time.monotonic()
        with self._cv:
            up.sent = frames[-1][0]
        self._save(up)

    def _upload_files(self, up: _Upload) -> None:
        state = up.files
        gen = state.want
        if not state.disabled and not state.error:
            base = files_url(up.url, up.entity, up.project, up.run_id)
            try:
                n = sync_files(
                    state,
                    Path(up.run_dir) / "files",
                    base,
                    up.api_key,
                    _send,
                    lambda fn: self._call(up, fn),
                    lambda exc: isinstance(exc, Refused) and exc.status == 400 and "sha256" in str(exc),
                    lambda: self._save(up),
                )
                if n:
                    logger.info("uploader: %d files of run %s sent to %s", n, up.key, up.url)
            except Refused as exc:
                if exc.code == "RUN_DELETED":  # the run itself is refused: final for all of it
                    raise
                if exc.code == "NO_FILE_STORE":
                    state.disabled = str(exc)
                    logger.warning(
                        "uploader: %s keeps no files; the files of run %s stay on this node", up.url, up.key
                    )
                else:  # the records are on the server: a refusal of the files is reported, not retried
                    state.error = f"{exc} (HTTP {exc.status})"
                    logger.error("uploader: %s refused files of run %s: %s; not retried", up.url, up.key, exc)
        with self._cv:
            state.done = max(state.done, gen)
            state.next_at = time.monotonic() + files_every()
        self._save(up)

    # System metrics ---------------------------------------------------------------------------------------------
    def _store_query(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        """Rows of the local store (read-only, on the upload thread; the store's writer is the applier)."""
        if self._store_path is None:
            return []
        try:
            if self._store_db is None:
                self._store_db = connect(self._store_path, readonly=True)
            return self._store_db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:  # no store yet, or busy beyond its timeout: the next pass asks again
            logger.warning("uploader: reading system metrics from %s failed: %s", self._store_path, exc)
            return []

    def _samples_after(self, entity: str, project: str, run_id: str, rowid: int) -> bool:
        return bool(
            self._store_query(
                "SELECT 1 FROM system_metrics WHERE run_pk=(SELECT pk FROM runs WHERE entity=? AND project=? "
                "AND id=?) AND rowid>? LIMIT 1",
                (entity, project, run_id, rowid),
            )
        )

    def _upload_system(self, up: _Upload) -> None:
        """Post the next batch of the run's samples after its cursor; sys_due stays set while more remain."""
        with self._cv:
            up.sys_due = False  # cleared before reading: a round stored meanwhile sets it again
        rows = self._store_query(
            "SELECT rowid, ts, runtime, data FROM system_metrics WHERE run_pk=(SELECT pk FROM runs WHERE "
            "entity=? AND project=? AND id=?) AND rowid>? ORDER BY rowid LIMIT ?",
            (up.entity, up.project, up.run_id, up.sys_rowid, SYSTEM_BATCH),
        )
        if not rows:
            return
        # `data` is the JSON text the store wrote: sent as it is, not parsed and written again.
        body = '{"samples":[' + ",".join(
            f"[{json.dumps(ts)},{json.dumps(rt)},{data}]" for _r, ts, rt, data in rows
        )
        url = f"{up.url}/api/v1/system/{_q(up.entity)}/{_q(up.project)}/{_q(up.run_id)}/{_q(self._node)}"
        payload = (body + "]}").encode()
        self._call(up, lambda: _post_json(url, up.api_key, payload))
        with self._cv:
            up.sys_rowid = int(rows[-1][0])
            if len(rows) == SYSTEM_BATCH:
                up.sys_due = True
        self._save(up)

    # Durable progress -------------------------------------------------------------------------------------------
    def _save(self, up: _Upload) -> None:
        doc = {
            "url": up.url,
            "api_key": up.api_key,
            "entity": up.entity,
            "project": up.project,
            "run_id": up.run_id,
            "run_dir": up.run_dir,
            "offset": up.sent,
            "marks": up.marks,
            "error": up.error,
            "files": up.files.to_doc(),
            "system_rowid": up.sys_rowid,
        }
        path = self._file(up.key)
        tmp = path.with_suffix(".tmp")
        try:
            self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f)
            os.replace(tmp, path)
        except OSError as exc:  # progress is an optimisation: the server's marks make a resend harmless
            logger.warning("uploader: cannot write %s: %s", path, exc)

    def _resume_all(self) -> None:
        """Runs of this node whose upload did not reach the end of their WAL (a daemon restart)."""
        for path in sorted(self._dir.glob("*.json")):
            doc = _load(path)
            if not doc or doc.get("error") or not doc.get("url") or not doc.get("run_dir"):
                continue
            run_dir, rid = str(doc["run_dir"]), str(doc["run_id"])
            wal = Path(run_dir) / wal_name(rid)
            try:
                size = wal.stat().st_size
            except OSError:
                continue
            offset = int(doc.get("offset") or 0)
            sys_rowid = int(doc.get("system_rowid") or 0)
            samples = self._samples_after(str(doc["entity"]), str(doc["project"]), rid, sys_rowid)
            if size <= max(offset, len(MAGIC)) and final_done(doc.get("files")) and not samples:
                continue
            key = f"{doc['entity']}/{doc['project']}/{rid}"
            with self._cv:
                if key in self._runs:
                    continue
                up = _Upload(
                    key, doc["url"], doc["api_key"], doc["entity"], doc["project"], rid, run_dir, sent=offset
                )
                up.marks = {str(k): int(v) for k, v in (doc.get("marks") or {}).items()}
                up.daemon_writer = (
                    DAEMON_WRITER if DAEMON_WRITER in up.marks else f"{DAEMON_WRITER}@{self._node}"
                )
                up.target = max(size, offset)
                up.files = FilesState.from_doc(doc.get("files"))
                up.sys_rowid, up.sys_due = sys_rowid, samples
                self._runs[key] = up
            logger.info("uploader: resuming run %s at byte %d of %d", key, offset, size)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _read_span(path: Path, start: int, end: int, limit: int) -> list[tuple[int, pb.RecordBatch]]:
    """Whole frames of the WAL from byte `start` up to `end` (at most about `limit` bytes of them):
    (offset after the frame, group). Damage in the middle is skipped as `read_frames` does."""
    out: list[tuple[int, pb.RecordBatch]] = []
    pos = max(start, len(MAGIC))
    size = 0
    with open(path, "rb") as f:
        while pos < end and size < limit:
            f.seek(pos)
            head = f.read(_HEADER.size)
            if len(head) < _HEADER.size:
                break
            length, crc = _HEADER.unpack(head)
            payload = f.read(length) if pos + _HEADER.size + length <= end else b""
            if len(payload) != length or zlib.crc32(payload) != crc:
                if out:
                    return out
                return [(e, g) for e, g in read_frames(path, pos) if e <= end][:256]  # damage: rare
            group = pb.RecordBatch()
            group.ParseFromString(payload)
            pos += _HEADER.size + length
            size += length
            out.append((pos, group))
    return out
