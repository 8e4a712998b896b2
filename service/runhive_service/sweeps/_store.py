"""The daemon's sweep backend (`_backend.SweepBackend`): the sweep rows, the runs each controller handed out, and
the metric values its search and early termination read back from the runs' history, in the node's store; the
agents in memory (they live as long as the daemon); every decision under one lock.

Writes go through `write`, which runs them on the daemon's applier thread (the store's one writer); reads use a
connection of their own.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runhive.protocol.rows import decode_rows
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.store._schema import connect

from ._backend import ASSIGNED, AgentRow, HandedOut, StoredRun, SweepRow, chunks

Write = Callable[[Callable[[sqlite3.Connection], Any]], Any]


class _Series:
    """One run's values of one metric, read incrementally from its history blocks."""

    __slots__ = ("last_block", "values")

    def __init__(self) -> None:
        self.last_block = -1
        self.values: list[float] = []


class SweepStore:
    """Both the backend and its transaction: a decision holds `_decide` (one at a time on the node)."""

    local_pids = True
    requeue_lost = False
    not_found_hint = (
        "create it with runhive.sweep() or `runhive sweep CONFIG.yaml` first (on this node, with the same "
        "RUNHIVE_DATA_DIR)"
    )

    def __init__(self, path: Path, write: Write) -> None:
        """`path`: the store's file (read with a connection of our own); `write(fn)`: run `fn(db)` with the
        store's writer connection, on its thread, and return what it returns."""
        self._path = path
        self._write = write
        self._lock = threading.Lock()
        self._decide = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._series: dict[tuple[int, str], _Series] = {}
        self._agents: dict[int, dict[str, AgentRow]] = {}

    @contextmanager
    def transaction(self, caller: Any = None) -> Iterator[SweepStore]:
        with self._decide:
            yield self

    def owner(self, entity: str, project: str, caller: Any = None) -> tuple[str, str]:
        return entity, project

    def lock(self, sw: SweepRow, action: str) -> SweepRow:
        return sw  # the decision already holds the node's one lock

    # Agents: in memory, as long as the daemon lives --------------------------------------------------
    def agents(self, sw: SweepRow) -> list[AgentRow]:
        return list(self._agents.get(sw.pk, {}).values())

    def save_agent(self, sw: SweepRow, agent: AgentRow, timeout: float) -> None:
        self._agents.setdefault(sw.pk, {})[agent.id] = agent

    def drop_agent(self, sw: SweepRow, agent_id: str) -> None:
        self._agents.get(sw.pk, {}).pop(agent_id, None)

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

    def set_state(self, sw: SweepRow, state: str) -> None:
        now = time.time()
        self._write(
            lambda db: db.execute("UPDATE sweeps SET state=?, updated_at=? WHERE pk=?", (state, now, sw.pk))
        )

    # Runs handed out -------------------------------------------------------------------------------
    def hand_out(
        self, sw: SweepRow, run_id: str, agent: str, params: dict[str, Any], state: str = ASSIGNED
    ) -> None:
        now = time.time()
        self._write(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO sweep_runs (sweep_pk, run_id, agent, params, state, created_at)"
                " VALUES (?,?,?,?,?,?)",
                (sw.pk, run_id, agent, json.dumps(params), state, now),
            )
        )

    def mark(
        self, sw: SweepRow, run_id: str, state: str, exit_code: int | None, agent: str | None = None
    ) -> None:
        sets, args = "state=?, exit_code=?", [state, exit_code]
        if agent is not None:
            sets, args = sets + ", agent=?", [*args, agent]
        self._write(
            lambda db: db.execute(
                f"UPDATE sweep_runs SET {sets} WHERE sweep_pk=? AND run_id=?", (*args, sw.pk, run_id)
            )
        )

    def handed_out(self, sw: SweepRow) -> list[HandedOut]:
        rows = self._read(
            "SELECT run_id, agent, params, state, exit_code, created_at FROM sweep_runs WHERE sweep_pk=?"
            " ORDER BY created_at, run_id",
            (sw.pk,),
        )
        return [HandedOut(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5] or 0.0) for r in rows]

    def stored_runs(self, sweep: SweepRow, run_ids: list[str]) -> dict[str, StoredRun]:
        out: dict[str, StoredRun] = {}
        for part in chunks(run_ids):
            marks = ",".join("?" * len(part))
            for r in self._read(
                "SELECT id, pk, state, exit_code, config, summary, history_rows FROM runs"
                f" WHERE entity=? AND project=? AND id IN ({marks})",
                (sweep.entity, sweep.project, *part),
            ):
                out[r[0]] = StoredRun(r[1], r[0], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6])
        return out

    def project_run_ids(self, entity: str, project: str, run_ids: list[str]) -> list[str]:
        """The ids of `run_ids` that name runs of the project (for prior runs)."""
        found: list[str] = []
        for part in chunks(run_ids):
            marks = ",".join("?" * len(part))
            found += [
                r[0]
                for r in self._read(
                    f"SELECT id FROM runs WHERE entity=? AND project=? AND id IN ({marks})",
                    (entity, project, *part),
                )
            ]
        return found

    def metric_values(self, sw: SweepRow, run: StoredRun, key: str) -> list[float]:
        """Every finite value of `key` the run logged, in order (hyperband counts iterations by this index)."""
        series = self._series.setdefault((run.pk, key), _Series())
        blocks = self._read(
            "SELECT first_idx, data FROM history_blocks WHERE run_pk=? AND first_idx>? ORDER BY first_idx",
            (run.pk, series.last_block),
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
