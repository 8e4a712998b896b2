"""The embedded SQLite store and the code that applies WAL records to it.

One `Store` has one writer connection, used from one thread: the daemon's applier, or `runhive store
rebuild` / `runhive sync` when no daemon is running. Applying a batch and advancing the run's
`applied_offset` happen in one transaction, so a crash between the WAL and the store replays exactly
what was not applied.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runhive.protocol.metrics import Aggregator, MetricDef
from runhive.protocol.rows import decode_rows, history_steps
from runhive.protocol.v1 import service_pb2 as pb

from ._index import Indexer
from ._schema import SCHEMA, connect, migrate

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
    pending_tail: list[Any] = field(default_factory=list)  # WAL groups found unapplied, not yet queued

    @property
    def offline(self) -> bool:
        return self.info.mode == "offline"


def record_rows(records: Iterable[pb.Record]) -> int:
    """History rows in `records`: a columnar history record carries many; every other record counts as one."""
    return sum((r.history.rows or 1) if r.HasField("history") else 1 for r in records)


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
        migrate(self.db)
        self.index = Indexer(self.db)

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
    def _apply_history(self, st: RunState, h: pb.HistoryRecord) -> int:
        """One row or a block of rows: counts, steps and the summary from the last row (metric chunks are the
        index's job, later)."""
        steps = history_steps(h)
        st.rows += h.rows or 1
        top = max(steps)
        if top > st.last_step:
            st.last_step = top
        summary = st.summary
        k, ki = len(h.keys), len(h.int_keys)
        if k:
            summary.update(zip(h.keys, h.values[-k:], strict=False))
        if ki:
            summary.update(zip(h.int_keys, h.int_values[-ki:], strict=False))
        if h.json and (h.rows or 1) == 1:
            summary.update(json.loads(h.json))
        if st.agg:
            for row in decode_rows(h):
                st.agg.observe(row, summary)
        return steps[0]

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
                " mode, host, pid, created_at, updated_at, sweep) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                    info.sweep_id,
                ),
            )
            st.pk = int(cur.lastrowid or 0)
        else:
            st.pk = int(row[0])

    def apply(self, batches: Iterable[tuple[RunState, pb.RecordBatch, int, bytes | None]]) -> None:
        """Apply groups of records in one transaction; `end` is each group's WAL offset after it and
        `payload` its serialised bytes (kept as the history block; serialised here when None)."""
        hist: list[tuple[int, int, int, int, int, bytes]] = []
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
                        step = self._apply_one(st, rec, writer)
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
                self.index.note(st.pk, st.rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _apply_one(
        self,
        st: RunState,
        rec: pb.Record,
        writer: str,
    ) -> int | None:
        """Apply one record; returns its step when it is a history row."""
        kind = rec.WhichOneof("kind")
        if writer != "_daemon" and writer not in st.writers:
            st.writers[writer] = WriterState()
        if kind == "history":
            return self._apply_history(st, rec.history)
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
