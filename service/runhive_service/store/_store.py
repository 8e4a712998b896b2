"""The embedded SQLite store: the local store's sink (what the engine hands it) and its catalog of runs.

One `Store` has one writer connection, used from one thread: the daemon's applier, or `runhive store
rebuild` / `runhive sync` when no daemon is running. Applying a batch and advancing the run's
`applied_offset` happen in one transaction, so a crash between the WAL and the store replays exactly
what was not applied.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.streams import AppliedGroup, RunState, SystemSample, run_key

from ._index import Indexer
from ._schema import SCHEMA, connect, migrate

logger = logging.getLogger("runhive_service")

T = TypeVar("T")

_RUN_COLUMNS = (
    "pk, state, exit_code, config, summary, last_step, history_rows, applied_offset, run_dir, name,"
    " notes, tags, grp, job_type, created_at, mode, host, pid"
)


def state_from_row(info: pb.RunInfo, row: Any) -> RunState:
    """A run's state as the store holds it (a `_RUN_COLUMNS` row), with `info`'s identity."""
    (_pk, state, exit_code, config, summary, last_step, rows, applied, run_dir, name, notes, tags) = row[:12]
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
        state=state,
        exit_code=exit_code,
        config=json.loads(config),
        summary=json.loads(summary),
        last_step=last_step,
        rows=rows,
        applied_offset=applied,
    )


class Store:
    """The local store: a `Sink` for applied records and system metrics, and the node's `RunCatalog`."""

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
        self._pks: dict[str, int] = {}  # run key -> the runs row's pk, once the run is stored

    def close(self) -> None:
        self.db.close()
        self._reader.close()

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._reader_lock:
            return self._reader.execute(sql, args).fetchall()

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` with the writer's connection; call it on the writer's thread only (the daemon's applier)."""
        return fn(self.db)

    # The catalog ----------------------------------------------------------------------------------------
    def find_run(self, entity: str, project: str, run_id: str) -> RunState | None:
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE entity=? AND project=? AND id=?",
            (entity, project, run_id),
        )
        if not rows:
            return None
        return state_from_row(pb.RunInfo(id=run_id, entity=entity, project=project), rows[0])

    def run_origin(self, entity: str, project: str, run_id: str) -> tuple[float | None, str, int, str] | None:
        """(created_at, host, pid, run_dir) of a stored run: where it was first written from."""
        rows = self._read(
            "SELECT created_at, host, pid, run_dir FROM runs WHERE entity=? AND project=? AND id=?",
            (entity, project, run_id),
        )
        if not rows:
            return None
        created_at, host, pid, run_dir = rows[0]
        return created_at, host or "", int(pid or 0), run_dir or ""

    def run_names(self, entity: str, project: str) -> set[str]:
        return {
            r[0] for r in self._read("SELECT name FROM runs WHERE entity=? AND project=?", (entity, project))
        }

    def running_runs(self) -> list[tuple[str, str, str, str]]:
        return [
            (r[0], r[1], r[2], r[3])
            for r in self._read("SELECT entity, project, id, run_dir FROM runs WHERE state='running'")
        ]

    def applied_offset(self, entity: str, project: str, run_id: str) -> int:
        rows = self._read(
            "SELECT applied_offset FROM runs WHERE entity=? AND project=? AND id=?", (entity, project, run_id)
        )
        return int(rows[0][0]) if rows else 0

    def delete_run(self, entity: str, project: str, run_id: str) -> str | None:
        """Delete every row of a run (its runs row, history blocks, metric chunks and system metrics) in one
        transaction, on the writer's thread; returns its run directory, None when the store has no such run. The
        caller removes the directory (the WAL in it would otherwise bring the run back)."""
        row = self.db.execute(
            "SELECT pk, run_dir FROM runs WHERE entity=? AND project=? AND id=?", (entity, project, run_id)
        ).fetchone()
        if row is None:
            return None
        pk, run_dir = int(row[0]), str(row[1] or "")
        self.db.execute("BEGIN")
        try:
            for table in ("history_blocks", "metric_chunks", "system_metrics"):
                self.db.execute(f"DELETE FROM {table} WHERE run_pk=?", (pk,))
            # sweep_runs stays: it is the sweep controller's record of the parameters it handed out (a grid
            # sweep would otherwise hand this run's out again); the run itself is gone from the sweep's runs.
            self.db.execute("DELETE FROM runs WHERE pk=?", (pk,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._pks.pop(run_key(entity, project, run_id), None)
        self.index.forget(pk)
        return run_dir

    # The sink --------------------------------------------------------------------------------------------
    def _ensure_run(self, st: RunState) -> int:
        pk = self._pks.get(st.key)
        if pk:
            return pk
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
            pk = int(cur.lastrowid or 0)
        else:
            pk = int(row[0])
        self._pks[st.key] = pk
        return pk

    def apply(self, groups: Sequence[AppliedGroup]) -> None:
        """Store applied groups in one transaction: each group's rows as a history block (its WAL payload), and
        each touched run's row with its state and `applied_offset`."""
        hist: list[tuple[int, int, int, int, int, bytes]] = []
        touched: dict[str, tuple[RunState, int]] = {}
        self.db.execute("BEGIN")
        try:
            for g in groups:
                st = g.run
                pk = self._ensure_run(st)
                if g.rows:
                    data = g.payload if g.payload is not None else g.group.SerializeToString()
                    hist.append((pk, g.first_row, g.rows, g.first_step, g.last_step, data))
                st.applied_offset = max(st.applied_offset, g.end)
                touched[st.key] = (st, pk)
            if hist:
                self.db.executemany(
                    "INSERT OR REPLACE INTO history_blocks (run_pk, first_idx, n, first_step, last_step, data)"
                    " VALUES (?,?,?,?,?,?)",
                    hist,
                )
            now = time.time()
            for st, pk in touched.values():
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
                        pk,
                    ),
                )
                self.index.note(pk, st.rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def system_metrics(self, samples: Sequence[SystemSample]) -> None:
        rows = [
            (pk, s.time, s.runtime, json.dumps(s.data))
            for s in samples
            if (pk := self._sample_pk(s.run))  # not stored yet: its first batch is still being applied
        ]
        if rows:
            self.db.executemany(
                "INSERT INTO system_metrics (run_pk, ts, runtime, data) VALUES (?,?,?,?)", rows
            )

    def _sample_pk(self, st: RunState) -> int | None:
        pk = self._pks.get(st.key)
        if (
            pk is None
        ):  # stored by an earlier daemon (a synced offline run's samples): found once, then cached
            info = st.info
            row = self.db.execute(
                "SELECT pk FROM runs WHERE entity=? AND project=? AND id=?",
                (info.entity, info.project, info.id),
            ).fetchone()
            if row is not None:
                pk = self._pks[st.key] = int(row[0])
        return pk

    def last_sample_time(self, entity: str, project: str, run_id: str) -> float | None:
        rows = self._read(
            "SELECT MAX(ts) FROM system_metrics WHERE run_pk=(SELECT pk FROM runs WHERE entity=? AND project=? "
            "AND id=?)",
            (entity, project, run_id),
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def idle(self) -> bool:
        """Build a slice of the metric index."""
        self.index.run()
        return self.index.lag > 0

    @property
    def lag(self) -> int:
        return self.index.lag
