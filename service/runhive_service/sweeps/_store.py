"""Sweeps in the store: the sweep rows, the runs each controller handed out, and the metric values its search
and early termination read back from the runs' history.

Writes go through `write`, which runs them on the daemon's applier thread (the store's one writer); reads use a
connection of their own.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from runhive.protocol.rows import decode_rows
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.store._schema import connect

T = TypeVar("T")
Write = Callable[[Callable[[sqlite3.Connection], Any]], Any]

# A run the controller handed out and whose process has not called init() yet, or that ended before it did.
ASSIGNED, NEVER_STARTED, PRIOR = "assigned", "never_started", "prior"


@dataclass
class SweepRow:
    pk: int
    id: str
    entity: str
    project: str
    name: str
    config: dict[str, Any]
    state: str
    created_at: float


@dataclass
class HandedOut:
    run_id: str
    agent: str
    params: dict[str, Any]
    state: str  # ASSIGNED, NEVER_STARTED or PRIOR: what the controller knows before the run's own row exists
    exit_code: int | None
    created_at: float


@dataclass
class StoredRun:
    pk: int
    state: str
    exit_code: int | None
    config: dict[str, Any]
    summary: dict[str, Any]
    history_rows: int


class _Series:
    """One run's values of one metric, read incrementally from its history blocks."""

    __slots__ = ("last_block", "values")

    def __init__(self) -> None:
        self.last_block = -1
        self.values: list[float] = []


class SweepStore:
    def __init__(self, path: Path, write: Write) -> None:
        """`path`: the store's file (read with a connection of our own); `write(fn)`: run `fn(db)` with the
        store's writer connection, on its thread, and return what it returns."""
        self._path = path
        self._write = write
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._series: dict[tuple[int, str], _Series] = {}

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            if self._db is None:
                self._db = connect(self._path, readonly=True)
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # Sweeps ---------------------------------------------------------------------------------------
    def create(self, sweep_id: str, entity: str, project: str, name: str, config: dict[str, Any]) -> SweepRow:
        now = time.time()

        def insert(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "INSERT INTO sweeps (id, entity, project, name, config, state, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (sweep_id, entity, project, name, json.dumps(config), "PENDING", now, now),
            )
            return int(cur.lastrowid or 0)

        pk = self._write(insert)
        return SweepRow(pk, sweep_id, entity, project, name, config, "PENDING", now)

    def find(self, sweep_id: str, entity: str = "", project: str = "") -> list[SweepRow]:
        sql = "SELECT pk, id, entity, project, name, config, state, created_at FROM sweeps WHERE id=?"
        args: list[Any] = [sweep_id]
        if project:
            sql += " AND project=?"
            args.append(project)
        if entity:
            sql += " AND entity=?"
            args.append(entity)
        return [
            SweepRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7] or 0.0)
            for r in self._read(sql, tuple(args))
        ]

    def set_state(self, pk: int, state: str) -> None:
        now = time.time()
        self._write(
            lambda db: db.execute("UPDATE sweeps SET state=?, updated_at=? WHERE pk=?", (state, now, pk))
        )

    # Runs handed out -------------------------------------------------------------------------------
    def hand_out(
        self, pk: int, run_id: str, agent: str, params: dict[str, Any], state: str = ASSIGNED
    ) -> None:
        now = time.time()
        self._write(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO sweep_runs (sweep_pk, run_id, agent, params, state, created_at)"
                " VALUES (?,?,?,?,?,?)",
                (pk, run_id, agent, json.dumps(params), state, now),
            )
        )

    def mark(self, pk: int, run_id: str, state: str, exit_code: int | None) -> None:
        self._write(
            lambda db: db.execute(
                "UPDATE sweep_runs SET state=?, exit_code=? WHERE sweep_pk=? AND run_id=?",
                (state, exit_code, pk, run_id),
            )
        )

    def handed_out(self, pk: int) -> list[HandedOut]:
        rows = self._read(
            "SELECT run_id, agent, params, state, exit_code, created_at FROM sweep_runs WHERE sweep_pk=?"
            " ORDER BY created_at, run_id",
            (pk,),
        )
        return [HandedOut(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5] or 0.0) for r in rows]

    def stored_runs(self, sweep: SweepRow, run_ids: list[str]) -> dict[str, StoredRun]:
        out: dict[str, StoredRun] = {}
        for i in range(0, len(run_ids), 500):  # SQLite's variable limit
            part = run_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for r in self._read(
                "SELECT id, pk, state, exit_code, config, summary, history_rows FROM runs"
                f" WHERE entity=? AND project=? AND id IN ({marks})",
                (sweep.entity, sweep.project, *part),
            ):
                out[r[0]] = StoredRun(r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6])
        return out

    def project_run_ids(self, entity: str, project: str, run_ids: list[str]) -> list[str]:
        """The ids of `run_ids` that name runs of the project (for prior runs)."""
        found: list[str] = []
        for i in range(0, len(run_ids), 500):
            part = run_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            found += [
                r[0]
                for r in self._read(
                    f"SELECT id FROM runs WHERE entity=? AND project=? AND id IN ({marks})",
                    (entity, project, *part),
                )
            ]
        return found

    def metric_values(self, run_pk: int, key: str) -> list[float]:
        """Every finite value of `key` the run logged, in order (hyperband counts iterations by this index)."""
        series = self._series.setdefault((run_pk, key), _Series())
        blocks = self._read(
            "SELECT first_idx, data FROM history_blocks WHERE run_pk=? AND first_idx>? ORDER BY first_idx",
            (run_pk, series.last_block),
        )
        for first_idx, data in blocks:
            series.last_block = first_idx
            for rec in pb.RecordBatch.FromString(data).records:
                if rec.WhichOneof("kind") != "history":
                    continue
                h = rec.history
                if key not in h.keys and key not in h.int_keys and not h.json:
                    continue
                for row in decode_rows(h):
                    v = row.get(key)
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                        series.values.append(float(v))
        return series.values
