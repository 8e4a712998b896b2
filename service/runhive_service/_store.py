"""The embedded SQLite store and the code that applies WAL records to it.

One `Store` has one writer connection, used from one thread: the daemon's applier, or `runhive store
rebuild` / `runhive sync` when no daemon is running. Applying a batch and advancing the run's
`applied_offset` happen in one transaction, so a crash between the WAL and the store replays exactly
what was not applied.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import sqlite3
import threading
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runhive._metrics import Aggregator, MetricDef
from runhive._proto.v1 import service_pb2 as pb
from runhive._rows import decode_rows
from runhive._schema import CHUNK, SCHEMA, SCHEMA_VERSION, connect

logger = logging.getLogger("runhive_service")

RUNNING, FINISHED, FAILED, CRASHED = "running", "finished", "failed", "crashed"

_ADJECTIVES = (
    "amber autumn bold brave bright calm clever cosmic crisp dapper dark dawn desert divine eager easy electric "
    "fancy fearless fine floral fluent fresh gallant gentle glad golden graceful grand happy hardy hearty helpful "
    "honest icy jolly jumping kind leafy lilac lively lucky lunar magic mellow misty morning noble northern olive "
    "polar proud quiet rapid rare restful robust royal rustic scarlet silent silver smooth snowy solar spring "
    "stellar still stoic sunny super swift tender thriving toasty twilight upbeat valiant vivid warm wild winter "
    "wise woven young zesty"
).split()
_NOUNS = (
    "aardvark breeze brook butterfly cake canyon cherry cloud comet cosmos dawn deluge dew disco dream dust eon "
    "feather field fire firefly flower fog forest frost galaxy glade glitter grass hill haze lake leaf meadow "
    "moon morning mountain night oath ocean paper pine planet plasma pond puddle rain resonance river sea "
    "serenity shadow sky smoke snow sound spaceship spark star sun sunset surf thunder tree universe valley "
    "violet voice water wave wildflower wind wood"
).split()


@dataclass
class WriterState:
    pid: int = 0
    create_time: float = 0.0
    durable_seq: int = 0
    applied_seq: int = 0
    open: bool = True
    exit_code: int | None = None
    crashed: bool = False


class OpenChunk:
    """The newest chunk of one metric of one run, kept in memory and rewritten once per transaction."""

    __slots__ = ("chunk", "dirty", "key_pk", "max", "min", "steps", "vals")

    def __init__(self, key_pk: int, chunk: int) -> None:
        self.key_pk = key_pk
        self.chunk = chunk
        self.steps = array("q")
        self.vals = array("d")
        self.min = math.inf
        self.max = -math.inf
        self.dirty = False

    def row(self, run_pk: int) -> tuple[Any, ...]:
        vals = self.vals
        return (
            self.key_pk,
            run_pk,
            self.chunk,
            self.steps[0],
            self.steps[-1],
            len(vals),
            self.min if self.min != math.inf else None,
            self.max if self.max != -math.inf else None,
            vals[-1] if vals[-1] == vals[-1] else None,
            self.steps.tobytes(),
            vals.tobytes(),
        )


@dataclass
class RunState:
    key: str
    info: pb.RunInfo
    pk: int = 0
    state: str = RUNNING
    exit_code: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    last_step: int = -1
    rows: int = 0
    applied_offset: int = 0
    writers: dict[str, WriterState] = field(default_factory=dict)
    daemon_seq: int = 0
    records: int = 0
    dirty: bool = False
    agg: Aggregator = field(default_factory=Aggregator)
    chunks: dict[str, OpenChunk] = field(default_factory=dict)
    pending_tail: list[Any] = field(default_factory=list)  # WAL groups found unapplied, not yet queued

    @property
    def offline(self) -> bool:
        return self.info.mode == "offline"


def run_key(entity: str, project: str, run_id: str) -> str:
    return f"{entity}/{project}/{run_id}"


def state_from_row(info: pb.RunInfo, row: Any) -> RunState:
    """A run's state as the store holds it (`Store.find_run`'s row), with `info`'s identity."""
    (pk, state, exit_code, config, summary, last_step, rows, applied, run_dir, name, notes, tags) = row[:12]
    grp, job_type, created_at, mode = row[12:16]
    full = pb.RunInfo()
    full.CopyFrom(info)
    full.run_dir, full.name, full.notes, full.mode = run_dir, name, notes, mode or "online"
    del full.tags[:]
    full.tags.extend(json.loads(tags))
    full.group, full.job_type, full.start_time = grp, job_type, created_at or info.start_time
    return RunState(
        key=run_key(info.entity, info.project, info.id),
        info=full,
        pk=pk,
        state=state,
        exit_code=exit_code,
        config=json.loads(config),
        summary=json.loads(summary),
        last_step=last_step,
        rows=rows,
        applied_offset=applied,
    )


def _flat_numbers(row: dict[str, Any], prefix: str, out: list[tuple[str, float]]) -> None:
    for k, v in row.items():
        t = type(v)
        if t is float:
            out.append((prefix + k, v))
        elif t is int:
            out.append((prefix + k, float(v) if abs(v) < 1 << 63 else math.nan))
        elif t is dict and "_type" not in v:
            _flat_numbers(v, prefix + k + ".", out)


_SKIP_METRICS = frozenset({"_step", "_timestamp"})


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fresh = not path.exists()
        if fresh:  # created user-only before SQLite opens it: its -wal and -shm files copy this mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db = connect(path)
        # Lookups from request threads use their own connection: the writer's transactions stay its own.
        self._reader = connect(path)
        self._reader_lock = threading.Lock()
        if fresh:
            os.chmod(path, 0o600)
        self.db.executescript(SCHEMA)
        self.db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        self._keys: dict[str, int] = dict(
            (n, pk) for pk, n in self.db.execute("SELECT pk, name FROM metric_keys")
        )

    def close(self) -> None:
        self.db.close()
        self._reader.close()

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._reader_lock:
            return self._reader.execute(sql, args).fetchall()

    # Reads used by the daemon -----------------------------------------------------------------------
    def find_run(self, entity: str, project: str, run_id: str) -> sqlite3.Row | None:
        rows = self._read(
            "SELECT pk, state, exit_code, config, summary, last_step, history_rows, applied_offset, run_dir, name,"
            " notes, tags, grp, job_type, created_at, mode FROM runs WHERE entity=? AND project=? AND id=?",
            (entity, project, run_id),
        )
        return rows[0] if rows else None

    def run_names(self, entity: str, project: str) -> set[str]:
        return {
            r[0] for r in self._read("SELECT name FROM runs WHERE entity=? AND project=?", (entity, project))
        }

    def running_runs(self) -> list[tuple[str, str, str, str, int]]:
        return self._read(
            "SELECT entity, project, id, run_dir, applied_offset FROM runs WHERE state='running'"
        )

    def new_name(self, entity: str, project: str, taken: set[str]) -> str:
        n = len(taken) + 1
        rng = random.Random()
        while True:
            name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{n}"
            if name not in taken:
                return name
            n += 1

    # Writes --------------------------------------------------------------------------------------
    def _key_pk(self, name: str) -> int:
        pk = self._keys.get(name)
        if pk is None:
            # SQLite text is UTF-8: a name with a lone surrogate (JSON allows "\ud800") is kept escaped.
            db_name = name if name.isascii() else name.encode("utf-8", "backslashreplace").decode("utf-8")
            self.db.execute("INSERT OR IGNORE INTO metric_keys (name) VALUES (?)", (db_name,))
            pk = int(self.db.execute("SELECT pk FROM metric_keys WHERE name=?", (db_name,)).fetchone()[0])
            self._keys[name] = pk
        return pk

    def _apply_history(self, st: RunState, h: pb.HistoryRecord, points: list[tuple[int, OpenChunk]]) -> int:
        """One row or a block of rows, as columns: summary from the last row, metrics by column slices."""
        n = h.rows or 1
        keys, vals = list(h.keys), list(h.values)
        ikeys, ivals = list(h.int_keys), list(h.int_values)
        k, ki = len(keys), len(ikeys)
        if n == 1:
            steps = [h.step]
        elif "_step" in ikeys:
            steps = ivals[ikeys.index("_step") :: ki]
        else:
            steps = list(range(h.step, h.step + n))
        st.rows += n
        top = max(steps)
        if top > st.last_step:
            st.last_step = top
        summary = st.summary
        if k:
            summary.update(zip(keys, vals[-k:], strict=False))
        if ki:
            summary.update(zip(ikeys, ivals[-ki:], strict=False))
        columns: list[tuple[str, list[float]]] = []
        if n == 1:
            columns.extend((name, [v]) for name, v in zip(keys, vals, strict=False))
            columns.extend((name, [float(v)]) for name, v in zip(ikeys, ivals, strict=False))
            if h.json:
                rest = json.loads(h.json)
                summary.update(rest)
                nums: list[tuple[str, float]] = []
                _flat_numbers(rest, "", nums)
                columns.extend((name, [v]) for name, v in nums)
        else:
            columns.extend((name, vals[j::k]) for j, name in enumerate(keys))
            columns.extend((name, [float(v) for v in ivals[j::ki]]) for j, name in enumerate(ikeys))
        if st.agg:
            for row in decode_rows(h):
                st.agg.observe(row, summary)
        for name, col in columns:
            if name not in _SKIP_METRICS:
                self._append_points(st, name, steps, col, points)
        return steps[0]

    def _append_points(
        self, st: RunState, name: str, steps: list[int], col: list[float], points: list[tuple[int, OpenChunk]]
    ) -> None:
        oc = st.chunks.get(name)
        if oc is None:
            oc = st.chunks[name] = self._open_chunk(st, name)
        i, n = 0, len(col)
        while i < n:
            room = CHUNK - len(oc.vals)
            if room <= 0:
                oc = st.chunks[name] = OpenChunk(oc.key_pk, oc.chunk + 1)
                room = CHUNK
            part = col[i : i + room]
            oc.vals.extend(part)
            oc.steps.extend(steps[i : i + room])
            clean = [v for v in part if v == v]  # NaN is kept in the chunk but not in its min/max
            if clean:
                lo, hi = min(clean), max(clean)
                if lo < oc.min:
                    oc.min = lo
                if hi > oc.max:
                    oc.max = hi
            if not oc.dirty:
                oc.dirty = True
                points.append((st.pk, oc))
            i += room

    def _open_chunk(self, st: RunState, name: str) -> OpenChunk:
        """Continue the run's last chunk of `name` if it has room (after a restart or a resume)."""
        key_pk = self._key_pk(name)
        row = self.db.execute(
            "SELECT chunk, n, min, max, steps, vals FROM metric_chunks WHERE key_pk=? AND run_pk=?"
            " ORDER BY chunk DESC LIMIT 1",
            (key_pk, st.pk),
        ).fetchone()
        if row is None:
            return OpenChunk(key_pk, 0)
        chunk, n, lo, hi, steps, vals = row
        if n >= CHUNK:
            return OpenChunk(key_pk, chunk + 1)
        oc = OpenChunk(key_pk, chunk)
        oc.steps.frombytes(steps)
        oc.vals.frombytes(vals)
        oc.min = lo if lo is not None else math.inf
        oc.max = hi if hi is not None else -math.inf
        return oc

    def ensure_run(self, st: RunState) -> None:
        if st.pk:
            return
        info = st.info
        row = self.db.execute(
            "SELECT pk FROM runs WHERE entity=? AND project=? AND id=?", (info.entity, info.project, info.id)
        ).fetchone()
        if row is None:
            cur = self.db.execute(
                "INSERT INTO runs (id, entity, project, name, notes, tags, grp, job_type, state, metadata, run_dir,"
                " mode, host, pid, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    info.id,
                    info.entity,
                    info.project,
                    info.name,
                    info.notes,
                    json.dumps(list(info.tags)),
                    info.group,
                    info.job_type,
                    st.state,
                    (info.metadata_json or b"{}").decode(),
                    info.run_dir,
                    info.mode or "online",
                    info.host,
                    info.pid,
                    info.start_time or time.time(),
                    time.time(),
                ),
            )
            st.pk = int(cur.lastrowid or 0)
        else:
            st.pk = int(row[0])

    def apply(self, batches: Iterable[tuple[RunState, pb.RecordBatch, int, bytes | None]]) -> None:
        """Apply groups of records in one transaction; `end` is each group's WAL offset after it and
        `payload` its serialised bytes (kept as the history block; serialised here when None)."""
        hist: list[tuple[int, int, int, int, int, bytes]] = []
        points: list[tuple[int, OpenChunk]] = []
        touched: dict[str, RunState] = {}
        self.db.execute("BEGIN")
        try:
            for st, group, end, payload in batches:
                self.ensure_run(st)
                writer = group.writer
                first_idx = st.rows
                first_step: int | None = None
                for rec in group.records:
                    try:
                        step = self._apply_one(st, rec, writer, points)
                    except Exception:
                        # Last line of defence (the daemon validates what clients send): one record that cannot
                        # be applied must not fail the transaction that carries every other run's records.
                        logger.exception("run %s: record %d cannot be applied; skipped", st.key, rec.seq)
                        continue
                    if step is not None and first_step is None:
                        first_step = step
                if st.rows > first_idx:
                    data = payload if payload is not None else group.SerializeToString()
                    hist.append((st.pk, first_idx, st.rows - first_idx, first_step or 0, st.last_step, data))
                st.applied_offset = max(st.applied_offset, end)
                touched[st.key] = st
            if hist:
                self.db.executemany(
                    "INSERT OR REPLACE INTO history_blocks (run_pk, first_idx, n, first_step, last_step, data)"
                    " VALUES (?,?,?,?,?,?)",
                    hist,
                )
            if points:
                rows = []
                for run_pk, oc in points:
                    rows.append(oc.row(run_pk))
                    oc.dirty = False
                self.db.executemany(
                    "INSERT OR REPLACE INTO metric_chunks (key_pk, run_pk, chunk, first_step, last_step, n, min, max,"
                    " last, steps, vals) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            now = time.time()
            for st in touched.values():
                info = st.info
                self.db.execute(
                    "UPDATE runs SET name=?, notes=?, tags=?, grp=?, job_type=?, metadata=?, state=?, exit_code=?,"
                    " config=?, summary=?, last_step=?, history_rows=?, applied_offset=?, updated_at=? WHERE pk=?",
                    (
                        info.name,
                        info.notes,
                        json.dumps(list(info.tags)),
                        info.group,
                        info.job_type,
                        (info.metadata_json or b"{}").decode(),
                        st.state,
                        st.exit_code,
                        json.dumps(st.config, allow_nan=True),
                        json.dumps(st.summary, allow_nan=True),
                        st.last_step,
                        st.rows,
                        st.applied_offset,
                        now,
                        st.pk,
                    ),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _apply_one(
        self,
        st: RunState,
        rec: pb.Record,
        writer: str,
        points: list[tuple[int, OpenChunk]],
    ) -> int | None:
        """Apply one record; returns its step when it is a history row."""
        kind = rec.WhichOneof("kind")
        if writer != "_daemon" and writer not in st.writers:
            st.writers[writer] = WriterState()
        if kind == "history":
            return self._apply_history(st, rec.history, points)
        elif kind == "config":
            data = json.loads(rec.config.json or b"{}")
            if rec.config.full:
                st.config = data
            else:
                # Top-level keys replace their value, as in run.config on the client (and W&B's config items):
                # a nested dict set again with allow_val_change=True replaces the old one, it is not merged in.
                st.config.update(data)
            for k in rec.config.remove:
                st.config.pop(k, None)
        elif kind == "summary":
            data = json.loads(rec.summary.json or b"{}")
            for k in data:
                st.agg.reset(k)
            st.summary.update(data)
            for k in rec.summary.remove:
                st.summary.pop(k, None)
        elif kind == "update":
            for name in rec.update.fields:
                if name == "tags":
                    del st.info.tags[:]
                    st.info.tags.extend(rec.update.info.tags)
                elif name in ("name", "notes", "group", "job_type", "metadata_json"):
                    setattr(st.info, name, getattr(rec.update.info, name))
                elif name == "metadata":
                    st.info.metadata_json = rec.update.info.metadata_json
        elif kind == "metric":
            m = rec.metric
            st.agg.define(MetricDef(m.name, m.step_metric, tuple(m.summary), m.goal, m.hidden, m.step_sync))
        elif kind == "exit":
            w = st.writers.setdefault(writer, WriterState())
            w.open = False
            w.exit_code = rec.exit.exit_code
            w.crashed = rec.exit.state == CRASHED
            self._settle_state(st)
        elif kind == "run":
            # A resumed run starts running again; metadata stays from the first start.
            if st.state != RUNNING and writer == "_daemon":
                st.state = RUNNING
                st.exit_code = None
        return None

    @staticmethod
    def _settle_state(st: RunState) -> None:
        if any(w.open for w in st.writers.values()):
            return
        ended = [w for w in st.writers.values() if not w.open]
        if not ended:
            return
        if any(w.crashed for w in ended):
            st.state, st.exit_code = CRASHED, None
            return
        codes = [w.exit_code or 0 for w in ended]
        code = next((c for c in codes if c != 0), 0)
        st.state = FINISHED if code == 0 else FAILED
        st.exit_code = code
