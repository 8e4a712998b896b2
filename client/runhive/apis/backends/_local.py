"""The local store as a read backend: the SQLite file the node's daemon writes, opened read-only."""

from __future__ import annotations

import json
import sqlite3
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from runhive.errors import UsageError
from runhive.protocol.series import EXACT, empty_series, logged_as_int
from runhive_service.store import connect, read_chunks, snapshot

from . import _local_files as files
from . import _local_query as query_sql
from ._base import (
    SCALAR_FIELDS,
    ArtifactRecord,
    FileRecord,
    NotSupportedError,
    ProjectRecord,
    RunRecord,
    RunsQuery,
    Series,
    SweepRecord,
)

_RUN_COLUMNS = (
    "pk, id, entity, project, name, notes, tags, grp, job_type, state, exit_code, config, summary, metadata, "
    "run_dir, created_at, updated_at, last_step, history_rows"
)
_SWEEP_COLUMNS = "pk, id, entity, project, name, config, state, created_at"


def _run(row: Sequence[Any]) -> RunRecord:
    (pk, rid, entity, project, name, notes, tags, grp, job_type, state, exit_code, config, summary) = row[:13]
    metadata, run_dir, created_at, updated_at, last_step, history_rows, sweep = row[13:]
    return RunRecord(
        id=rid,
        entity=entity,
        project=project,
        name=name,
        notes=notes,
        tags=json.loads(tags),
        group=grp,
        job_type=job_type,
        state=state,
        exit_code=exit_code,
        config=json.loads(config),
        summary=json.loads(summary),
        metadata=json.loads(metadata),
        dir=run_dir,
        created_at=created_at,
        updated_at=updated_at,
        last_step=last_step,
        history_rows=history_rows,
        handle=pk,
        sweep=sweep or "",
    )


def _sweep(row: Sequence[Any]) -> SweepRecord:
    pk, sid, entity, project, name, config, state, created_at = row
    return SweepRecord(sid, entity, project, name, json.loads(config), state, created_at, handle=pk)


def _narrow(sql: str, args: list[Any], entity: str | None, project: str | None) -> str:
    if project is not None:
        sql += " AND project=?"
        args.append(project)
    if entity is not None:
        sql += " AND entity=?"
        args.append(entity)
    return sql


class LocalBackend:
    order_fields = SCALAR_FIELDS
    filter_fields = SCALAR_FIELDS

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._sweep_column: bool | None = None

    @property
    def where(self) -> str:
        return f"the local store at {self._path}"

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not Path(self._path).exists():
                return None
            self._db = connect(self._path, readonly=True)
            query_sql.register(self._db)
        return self._db

    def _run_columns(self) -> str:
        """The run columns `_run` reads; `sweep` as '' in a store from before runs had it."""
        if self._sweep_column is None:
            db = self._conn()
            names = {r[1] for r in db.execute("PRAGMA table_info(runs)")} if db is not None else set()
            self._sweep_column = "sweep" in names or not names
        return _RUN_COLUMNS + (", sweep" if self._sweep_column else ", '' AS sweep")

    def close(self) -> None:
        self._sweep_column = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def _query(self, sql: str, args: Sequence[Any] = (), missing_ok: bool = False) -> list[Any]:
        db = self._conn()
        if db is None:
            return []
        try:
            return db.execute(sql, tuple(args)).fetchall()
        except sqlite3.OperationalError:
            if missing_ok:  # a store written before that table existed
                return []
            raise

    # Runs ---------------------------------------------------------------------------------------------
    def runs(self, entity: str | None, project: str, newest_first: bool = False) -> list[RunRecord]:
        args: list[Any] = []
        sql = _narrow(f"SELECT {self._run_columns()} FROM runs WHERE 1=1", args, entity, project)
        d = "DESC" if newest_first else "ASC"
        return [_run(r) for r in self._query(f"{sql} ORDER BY created_at {d}, pk {d}", args)]

    def _listing(self, query: RunsQuery, select: str, args: list[Any]) -> str:
        sql = _narrow(f"SELECT {select} FROM runs WHERE 1=1", args, query.entity, query.project)
        if query.where is not None:
            sql += " AND " + query_sql.where_sql(query.where, args)
        return sql

    def runs_page(self, query: RunsQuery, offset: int, limit: int) -> list[RunRecord]:
        args: list[Any] = []
        sql = self._listing(query, self._run_columns(), args)
        sql += f" ORDER BY {query_sql.order_sql(query.order, query.descending)} LIMIT ? OFFSET ?"
        return [_run(r) for r in self._query(sql, [*args, limit, offset])]

    def count_runs(self, query: RunsQuery) -> int:
        args: list[Any] = []
        rows = self._query(self._listing(query, "COUNT(*)", args), args)
        return int(rows[0][0]) if rows else 0

    def find_runs(self, entity: str | None, project: str | None, run_id: str) -> list[RunRecord]:
        args: list[Any] = [run_id]
        sql = _narrow(f"SELECT {self._run_columns()} FROM runs WHERE id=?", args, entity, project)
        return [_run(r) for r in self._query(sql, args)]

    def sweep_runs(self, sweep: SweepRecord) -> list[RunRecord]:
        rows = self._query(
            f"SELECT {self._run_columns()} FROM runs WHERE entity=? AND project=? AND sweep=? ORDER BY created_at, pk",
            [sweep.entity, sweep.project, sweep.id],
        )
        return [_run(r) for r in rows]

    def projects(self, entity: str | None = None) -> list[ProjectRecord]:
        args: list[Any] = []
        sql = "SELECT entity, project, COUNT(*), MAX(created_at) FROM runs"
        if entity is not None:
            sql += " WHERE entity=?"
            args.append(entity)
        rows = self._query(sql + " GROUP BY entity, project ORDER BY MAX(created_at) DESC", args)
        return [ProjectRecord(e, p, n, t) for e, p, n, t in rows]

    # Files and artifacts: in the runs' directories (`_local_files`) -----------------------------------
    def run_files(self, run: RunRecord) -> list[FileRecord]:
        return files.run_files(run)

    def download_file(self, run: RunRecord, file: FileRecord, dest: str) -> None:
        files.download_file(file, dest)

    def upload_file(self, run: RunRecord, local_path: str, name: str) -> FileRecord:
        return files.upload_file(run, local_path, name)

    def artifact_versions(self, entity: str | None, project: str | None) -> list[ArtifactRecord]:
        if project is None:
            args: list[Any] = []
            sql = _narrow(f"SELECT {self._run_columns()} FROM runs WHERE 1=1", args, entity, None)
            runs = [_run(r) for r in self._query(sql + " ORDER BY created_at, pk", args)]
        else:
            runs = self.runs(entity, project)
        return files.artifact_versions(runs, Path(self._path).parent, entity, project)

    def logged_artifacts(self, run: RunRecord) -> list[ArtifactRecord]:
        return files.logged_artifacts(run, Path(self._path).parent)

    def used_artifacts(self, run: RunRecord) -> list[ArtifactRecord]:
        return files.used_artifacts(run, Path(self._path).parent)

    def artifact_users(self, artifact: ArtifactRecord) -> list[RunRecord]:
        rows = self._query(f"SELECT {self._run_columns()} FROM runs ORDER BY created_at, pk")
        return files.artifact_users(map(_run, rows), Path(self._path).parent, artifact)

    def download_artifact_file(self, artifact: ArtifactRecord, path: str, dest: str) -> None:
        files.download_artifact_file(artifact, path, dest)

    # Writes go through the daemon, the store's one writer (`_local_writes`) -----------------------------
    def update_run(self, run: RunRecord, changes: dict[str, Any]) -> None:
        from ._local_writes import update_run

        update_run(run, changes, str(self._path))

    def delete_run(self, run: RunRecord, delete_artifacts: bool = False) -> None:
        from ._local_writes import delete_run

        delete_run(run, str(self._path), delete_artifacts)

    def link_artifact(
        self, artifact: ArtifactRecord, entity: str, project: str, name: str, aliases: list[str]
    ) -> ArtifactRecord:
        # A version of the node's store is linked in the store itself (`Artifact.link`, sdk.artifacts._models),
        # which reads through this backend: it never asks it to link.
        raise NotSupportedError(
            f"link {artifact.qualified}: link versions of the local store with Artifact.link()"
        )

    def delete_artifact(self, artifact: ArtifactRecord, delete_aliases: bool = False) -> None:
        from runhive.protocol import artifact_store as _store

        if not isinstance(artifact.handle, _store.StoredVersion):
            raise UsageError(f"artifact {artifact.qualified} is not in this node's artifact store")
        _store.delete_version(artifact.handle, delete_aliases)

    # History -------------------------------------------------------------------------------------------
    def scan_history(
        self,
        run: RunRecord,
        keys: Sequence[str] | None,
        page_size: int,
        min_step: int | None,
        max_step: int | None,
    ) -> Iterator[dict[str, Any]]:
        from runhive.protocol import messages as pb
        from runhive.protocol.rows import decode_rows

        sql = "SELECT first_idx, data FROM history_blocks WHERE run_pk=? AND first_idx>?"
        args: list[Any] = []
        if min_step is not None:
            sql += " AND last_step>=?"
            args.append(min_step)
        if max_step is not None:
            sql += " AND first_step<?"
            args.append(max_step)
        blocks_per_page = max(1, page_size // 100)
        last = -1
        while True:
            blocks = self._query(
                sql + " ORDER BY first_idx LIMIT ?", [run.handle, last, *args, blocks_per_page]
            )
            if not blocks:
                return
            for first_idx, data in blocks:
                last = first_idx
                for rec in pb.RecordBatch.FromString(data).records:
                    if rec.WhichOneof("kind") != "history":
                        continue
                    for row in decode_rows(rec.history):
                        step = row.get("_step", rec.history.step)
                        if (min_step is not None and step < min_step) or (
                            max_step is not None and step >= max_step
                        ):
                            continue
                        if keys:
                            if not all(k in row for k in keys):
                                continue
                            row = {k: row[k] for k in ("_step", *keys) if k in row}
                        yield row

    def sampled_history(self, run: RunRecord, keys: list[str], samples: int) -> list[dict[str, Any]] | None:
        """From the metric chunks instead of every row; None when a key is not a stored numeric metric. The
        chunks hold floats: values of keys logged as ints come back as ints (see `_restore_ints`)."""
        db = self._conn()
        if db is None:
            return None
        with snapshot(db):
            per_key = [read_chunks(db, key, [run.handle]).get(run.handle) for key in keys]
        if any(not chunks for chunks in per_key):
            return None
        if len(keys) == 1:  # one metric: concatenate its chunks and pick every Nth point, no joins
            all_steps, all_vals = array("q"), array("d")
            for c in per_key[0] or ():
                all_steps.frombytes(c[5])
                all_vals.frombytes(c[6])
            n = len(all_steps)
            picks = range(n) if n <= samples else (int(i * n / samples) for i in range(samples))
            rows: list[dict[str, Any]] = [{"_step": all_steps[i], keys[0]: all_vals[i]} for i in picks]
            return self._restore_ints(run, keys, rows)
        columns: list[dict[int, float]] = []
        for chunks in per_key:
            col: dict[int, float] = {}
            for c in chunks or ():
                steps, vals = array("q"), array("d")
                steps.frombytes(c[5])
                vals.frombytes(c[6])
                col.update(zip(steps, vals, strict=False))
            columns.append(col)
        common = sorted(set(columns[0]).intersection(*columns[1:]))
        if len(common) > samples:
            stride = len(common) / samples
            common = [common[int(i * stride)] for i in range(samples)]
        rows = [{"_step": st, **{k: c[st] for k, c in zip(keys, columns, strict=False)}} for st in common]
        return self._restore_ints(run, keys, rows)

    def _restore_ints(
        self, run: RunRecord, keys: list[str], rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Give back ints where ints were logged. A key none of whose sampled values is integral was logged as
        floats. A key whose last logged value (the summary's) is an int and whose sampled values are all
        integral and exact as floats is an int key: converted. Any other key with an integral value (an
        integral float, or ints and floats mixed) takes its sampled values from the rows holding them."""
        exact: list[str] = []
        for key in keys:
            vals = [r[key] for r in rows]
            if not any(v.is_integer() for v in vals):
                continue
            if logged_as_int(run.summary, key) and all(v.is_integer() and abs(v) < EXACT for v in vals):
                for r in rows:
                    r[key] = int(r[key])
            else:
                exact.append(key)
        if exact:
            self._values_from_rows(run, exact, rows)
        return rows

    def _values_from_rows(self, run: RunRecord, keys: list[str], rows: list[dict[str, Any]]) -> None:
        """Replace the values of `keys` in `rows` by the logged ones, read from only the history blocks that
        hold the steps of rows with an integral value."""
        from runhive.protocol import messages as pb
        from runhive.protocol.rows import decode_rows, history_steps

        # Only integral values can have been logged as ints: read the rows of those alone.
        wanted = sorted({r["_step"] for r in rows if any(r[k].is_integer() for k in keys)})
        blocks = self._query(
            "SELECT first_idx, first_step, last_step FROM history_blocks WHERE run_pk=? ORDER BY first_idx",
            [run.handle],
        )
        wanted_set = set(wanted)
        found: dict[int, dict[str, Any]] = {}
        for first_idx, first_step, last_step in blocks:
            i = bisect_left(wanted, first_step)
            if i == len(wanted) or wanted[i] > last_step:
                continue
            data = self._query(
                "SELECT data FROM history_blocks WHERE run_pk=? AND first_idx=?", [run.handle, first_idx]
            )
            if not data:
                continue
            for rec in pb.RecordBatch.FromString(data[0][0]).records:
                if rec.WhichOneof("kind") != "history":
                    continue
                h = rec.history
                if (h.rows or 1) == 1:
                    if h.step in wanted_set:
                        row = decode_rows(h)[0]
                        step = row.get("_step", h.step)
                        found.setdefault(step, {}).update((k, row[k]) for k in keys if k in row)
                    continue
                # A block of rows with the same numeric keys: pick the wanted rows' cells, decode nothing else.
                fkeys, ikeys = list(h.keys), list(h.int_keys)
                for n, step in enumerate(history_steps(h)):
                    if step not in wanted_set:
                        continue
                    cells = found.setdefault(step, {})
                    for k in keys:
                        if k in ikeys:
                            cells[k] = h.int_values[n * len(ikeys) + ikeys.index(k)]
                        elif k in fkeys:
                            cells[k] = h.values[n * len(fkeys) + fkeys.index(k)]
        for r in rows:
            logged = found.get(r["_step"])
            if logged:
                r.update(logged)

    def system_rows(self, run: RunRecord) -> list[tuple[float, float, dict[str, Any]]]:
        found = self._query(
            "SELECT ts, runtime, data FROM system_metrics WHERE run_pk=? ORDER BY ts",
            [run.handle],
            missing_ok=True,
        )
        return [(ts, runtime, json.loads(data)) for ts, runtime, data in found]

    def metrics(self, key: str, runs: Sequence[RunRecord], buckets: int) -> dict[str, Series]:
        db = self._conn()
        if db is None or not runs:
            return {}
        by_pk = {r.handle: r for r in runs}
        with snapshot(db):
            chunks = read_chunks(db, key, list(by_pk), buckets)
            # Fewer chunks than half the buckets: one point a chunk would leave most of the budget unspent (a
            # 3,000-step run drawn as 24 points), so those runs' points are read and bucketed themselves.
            thin = [pk for pk, c in chunks.items() if c and c[0][5] is None and 2 * len(c) <= buckets]
            if thin:
                chunks.update(read_chunks(db, key, thin, None))
        return {by_pk[pk].id: _series(c, buckets) for pk, c in chunks.items()}

    def runs_since(self, entity: str | None, project: str, since: float) -> list[RunRecord]:
        args: list[Any] = [since]
        sql = _narrow(f"SELECT {self._run_columns()} FROM runs WHERE updated_at>=?", args, entity, project)
        return [_run(r) for r in self._query(sql + " ORDER BY created_at, pk", args)]

    # Sweeps ---------------------------------------------------------------------------------------------
    def sweeps(self, entity: str | None, project: str) -> list[SweepRecord]:
        args: list[Any] = []
        sql = _narrow(f"SELECT {_SWEEP_COLUMNS} FROM sweeps WHERE 1=1", args, entity, project)
        return [_sweep(r) for r in self._query(sql + " ORDER BY created_at", args, missing_ok=True)]

    def find_sweeps(self, entity: str | None, project: str | None, sweep_id: str) -> list[SweepRecord]:
        args: list[Any] = [sweep_id]
        sql = _narrow(f"SELECT {_SWEEP_COLUMNS} FROM sweeps WHERE id=?", args, entity, project)
        return [_sweep(r) for r in self._query(sql, args, missing_ok=True)]


def _series(chunks: list[tuple[Any, ...]], buckets: int) -> Series:
    """chunks: (first_step, n, min, max, last, steps_blob, vals_blob), in chunk order."""
    out = empty_series()
    total = sum(c[1] for c in chunks)
    if total > buckets and chunks and chunks[0][5] is not None:
        return _bucketed(chunks, total, buckets)
    if total <= buckets:
        for c in chunks:
            steps, vals = array("q"), array("d")
            steps.frombytes(c[5])
            vals.frombytes(c[6])
            for st, v in zip(steps, vals, strict=False):
                value = v if v == v else None
                out["step"].append(st)
                out["min"].append(value)
                out["max"].append(value)
                out["last"].append(value)
        return out
    group = -(-len(chunks) // buckets)
    if group == 1:  # one point per chunk: transpose at C speed
        cols = list(zip(*chunks, strict=False))
        return {"step": list(cols[0]), "min": list(cols[2]), "max": list(cols[3]), "last": list(cols[4])}
    for i in range(0, len(chunks), group):
        part = chunks[i : i + group]
        mins = [c[2] for c in part if c[2] is not None]
        maxs = [c[3] for c in part if c[3] is not None]
        out["step"].append(part[0][0])
        out["min"].append(min(mins) if mins else None)
        out["max"].append(max(maxs) if maxs else None)
        out["last"].append(part[-1][4])
    return out


def _bucketed(chunks: list[tuple[Any, ...]], total: int, buckets: int) -> Series:
    """Every point of `chunks` (blobs present) in at most `buckets` buckets of equal size: the first step, the
    min and max (NaN is a point but not a min or max) and the last value of each."""
    steps, vals = array("q"), array("d")
    for c in chunks:
        steps.frombytes(c[5])
        vals.frombytes(c[6])
    size = -(-total // buckets)
    out = empty_series()
    for i in range(0, len(vals), size):
        part = vals[i : i + size]
        lo, hi = min(part), max(part)
        if lo != lo or hi != hi:  # a leading NaN wins min()/max(): leave the NaNs out
            clean = [v for v in part if v == v]
            lo, hi = (min(clean), max(clean)) if clean else (None, None)  # type: ignore[assignment]
        last = part[-1]
        out["step"].append(steps[i])
        out["min"].append(lo)
        out["max"].append(hi)
        out["last"].append(last if last == last else None)
    return out
