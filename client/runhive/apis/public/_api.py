"""`runhive.Api()`: the read API over the local store (W&B's public `wandb.Api` shape)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runhive.errors import UsageError
from runhive.sdk._settings import Settings
from runhive.sdk._setup import base_settings
from runhive_service.store._schema import connect

if TYPE_CHECKING:
    from ._sweeps import Sweep

_RUN_COLUMNS = (
    "pk, id, entity, project, name, notes, tags, grp, job_type, state, exit_code, config, summary, metadata, "
    "run_dir, created_at, updated_at, last_step, history_rows"
)


class Api:
    """Read runs from the local store. `Api(overrides={"data_dir": ...})` reads another store."""

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        api_key: str | None = None,
    ) -> None:
        settings: Settings = base_settings()
        if overrides:
            settings = settings.merged(
                {k: v for k, v in overrides.items() if k in ("data_dir", "entity", "project")}
            )
        self.settings = settings
        self._path = settings.store_path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not Path(self._path).exists():
                return None
            self._db = connect(self._path, readonly=True)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        db = self._conn()
        if db is None:
            return []
        return db.execute(sql, tuple(args)).fetchall()

    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
    ) -> list[ApiRun]:
        """Runs of a project (`"project"` or `"entity/project"`), oldest first unless `order` says otherwise."""
        entity, project = _split_project(path or self.settings.project or "Uncategorized")
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE project=?"
        args: list[Any] = [project]
        if entity:
            sql += " AND entity=?"
            args.append(entity)
        desc = order.startswith("-")
        sql += " ORDER BY created_at " + ("DESC" if desc else "ASC") + ", pk " + ("DESC" if desc else "ASC")
        runs = [ApiRun(self, row) for row in self._query(sql, args)]
        if filters:
            runs = [r for r in runs if _match(r._filter_doc(), filters)]
        return runs

    def run(self, path: str) -> ApiRun:
        """One run by `"entity/project/id"`, `"project/id"` or `"id"`."""
        sql, args = path_query(f"SELECT {_RUN_COLUMNS} FROM runs", path, "runs", "Api.run", "run_id")
        rows = self._query(sql, args)
        if not rows:
            raise UsageError(f"Could not find run {path!r} in {self._path}.")
        return ApiRun(self, rows[0])

    def metrics(
        self, key: str, runs: Sequence[ApiRun], buckets: int = 1000
    ) -> dict[str, dict[str, list[Any]]]:
        """One metric of many runs, downsampled to at most `buckets` points each: {run id: series}."""
        from runhive_service.store._chunkread import read_chunks, snapshot

        db = self._conn()
        if db is None or not runs:
            return {}
        by_pk = {r._pk: r for r in runs}
        with snapshot(db):
            chunks = read_chunks(db, key, list(by_pk), buckets)
        return {by_pk[pk].id: _series(c, buckets) for pk, c in chunks.items()}

    def sweep(self, path: str) -> Sweep:
        """One sweep by `"entity/project/sweep_id"`, `"project/sweep_id"` or `"sweep_id"`."""
        from ._sweeps import find_sweep

        return find_sweep(self, path)

    def projects(self, entity: str | None = None) -> list[str]:
        sql = "SELECT DISTINCT project FROM runs"
        args: list[Any] = []
        if entity:
            sql += " WHERE entity=?"
            args.append(entity)
        return [r[0] for r in self._query(sql + " ORDER BY project", args)]


def path_query(select: str, path: str, kind: str, what: str, id_name: str) -> tuple[str, list[Any]]:
    """`select` narrowed to one `"entity/project/id"`, `"project/id"` or `"id"` (`kind`, as in W&B's URLs, is
    skipped: "entity/project/runs/id")."""
    parts = [p for p in path.split("/") if p and p != kind]
    if not parts or len(parts) > 3:
        raise UsageError(
            f"{what}({path!r}): pass 'entity/project/{id_name}', 'project/{id_name}' or '{id_name}'."
        )
    sql = select + " WHERE id=?"
    args: list[Any] = [parts[-1]]
    if len(parts) >= 2:
        sql += " AND project=?"
        args.append(parts[-2])
    if len(parts) == 3:
        sql += " AND entity=?"
        args.append(parts[0])
    return sql, args


def _split_project(path: str) -> tuple[str | None, str]:
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise UsageError(f"Api.runs({path!r}): pass 'project' or 'entity/project'.")


class ApiRun:
    """A stored run as the read API sees it."""

    def __init__(self, api: Api, row: Sequence[Any]) -> None:
        (
            self._pk,
            self.id,
            self.entity,
            self.project,
            self.name,
            self.notes,
            tags,
            self.group,
            self.job_type,
            self.state,
            self.exit_code,
            config,
            summary,
            metadata,
            self.dir,
            self.created_at,
            self.updated_at,
            self.last_step,
            self.history_rows,
        ) = row
        self._api = api
        self.tags = json.loads(tags)
        self.config: dict[str, Any] = json.loads(config)
        self.summary: dict[str, Any] = json.loads(summary)
        self.metadata: dict[str, Any] = json.loads(metadata)

    @property
    def display_name(self) -> str:
        return str(self.name)

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def summary_metrics(self) -> dict[str, Any]:
        return self.summary

    def __repr__(self) -> str:
        return f"<ApiRun {self.entity}/{self.project}/{self.id} ({self.state})>"

    def _filter_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.id,
            "display_name": self.name,
            "state": self.state,
            "tags": self.tags,
            "group": self.group,
            "job_type": self.job_type,
            "config": self.config,
            "summary_metrics": self.summary,
            "created_at": self.created_at,
            "notes": self.notes,
        }

    def scan_history(
        self,
        keys: Sequence[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row, in order, streamed block by block."""
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
            blocks = self._api._query(
                sql + " ORDER BY first_idx LIMIT ?", [self._pk, last, *args, blocks_per_page]
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

    def history(
        self,
        samples: int | None = None,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = False,
        stream: str = "default",
    ) -> Any:
        """The run's rows (all, or `samples` evenly spaced ones) as a list of dicts, or a DataFrame with
        `pandas=True`."""
        if isinstance(samples, (list, tuple)) and keys is None:  # history(["loss"]) as keys, W&B-style
            samples, keys = None, samples
        rows = None
        if stream in ("system", "events"):
            rows = self._system_rows(keys)
        elif stream != "default":
            raise UsageError(
                f"history(stream={stream!r}): use 'default' (logged rows) or 'system' (system metrics)."
            )
        elif samples and keys:
            rows = self._sampled_from_chunks(list(keys), samples)
        if rows is None:
            rows = list(self.scan_history(keys=keys))
        if samples is not None and len(rows) > samples > 0:
            stride = len(rows) / samples
            rows = [rows[int(i * stride)] for i in range(samples)]
        if pandas:
            import pandas as pd

            return pd.DataFrame(rows)
        return rows

    def _system_rows(self, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The run's system-metric samples, oldest first, keys prefixed `system.` as in W&B's events stream."""
        try:
            found = self._api._query(
                "SELECT ts, runtime, data FROM system_metrics WHERE run_pk=? ORDER BY ts", [self._pk]
            )
        except sqlite3.OperationalError:  # a store written before system metrics existed
            return []
        rows = []
        for ts, runtime, data in found:
            row: dict[str, Any] = {f"system.{k}": v for k, v in json.loads(data).items()}
            if keys:
                row = {k: row[k] for k in keys if k in row}
                if not row:
                    continue
            row["_timestamp"], row["_runtime"] = ts, runtime
            rows.append(row)
        return rows

    @property
    def system_metrics(self) -> dict[str, Any]:
        """The latest system-metric sample, `system.`-prefixed keys ({} when there is none)."""
        rows = self._system_rows()
        return rows[-1] if rows else {}

    def _sampled_from_chunks(self, keys: list[str], samples: int) -> list[dict[str, Any]] | None:
        """history(keys=..., samples=N) of numeric metrics, read from metric chunks instead of every row
        (values come back as floats). None when a key is not a stored numeric metric."""
        from array import array

        from runhive_service.store._chunkread import read_chunks, snapshot

        db = self._api._conn()
        if db is None:
            return None
        with snapshot(db):
            per_key = [read_chunks(db, key, [self._pk]).get(self._pk) for key in keys]
        if any(not chunks for chunks in per_key):
            return None
        if len(keys) == 1:  # one metric: concatenate its chunks and pick every Nth point, no joins
            all_steps, all_vals = array("q"), array("d")
            for c in per_key[0] or ():
                all_steps.frombytes(c[5])
                all_vals.frombytes(c[6])
            n = len(all_steps)
            picks = range(n) if n <= samples else (int(i * n / samples) for i in range(samples))
            return [{"_step": all_steps[i], keys[0]: all_vals[i]} for i in picks]
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
        return [{"_step": st, **{k: c[st] for k, c in zip(keys, columns, strict=False)}} for st in common]

    def metric(self, key: str, buckets: int = 1000) -> dict[str, list[Any]]:
        """One metric for charts: every point when there are at most `buckets`, else min/max/last per bucket
        of whole chunks (so reading never decodes more than it returns)."""
        return self._api.metrics(key, [self], buckets).get(self.id, _empty_series())


def _empty_series() -> dict[str, list[Any]]:
    return {"step": [], "min": [], "max": [], "last": []}


def _series(chunks: list[tuple[Any, ...]], buckets: int) -> dict[str, list[Any]]:
    """chunks: (first_step, n, min, max, last, steps_blob, vals_blob), in chunk order."""
    from array import array

    out = _empty_series()
    total = sum(c[1] for c in chunks)
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


def _get(doc: Any, dotted: str) -> Any:
    cur = doc
    for part in dotted.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, Mapping) and "value" in cur and isinstance(cur["value"], Mapping):
            cur = cur["value"].get(part)
        else:
            return _MISSING
    return cur


_MISSING = object()


def _match(doc: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(_match(doc, c) for c in cond):
                return False
            continue
        if key == "$or":
            if not any(_match(doc, c) for c in cond):
                return False
            continue
        value = _get(doc, key)
        if not _cond(value, cond):
            return False
    return True


def _cond(value: Any, cond: Any) -> bool:
    if not isinstance(cond, Mapping) or not any(str(k).startswith("$") for k in cond):
        if isinstance(value, list) and not isinstance(cond, list):
            return cond in value
        return bool(value == cond)
    for op, arg in cond.items():
        present = value is not _MISSING
        ok: bool
        if op == "$exists":
            ok = present == bool(arg)
        elif not present:
            ok = op in ("$ne", "$nin")
        elif op == "$eq":
            ok = value == arg
        elif op == "$ne":
            ok = value != arg
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            try:
                ok = {"$gt": value > arg, "$gte": value >= arg, "$lt": value < arg, "$lte": value <= arg}[op]
            except TypeError:
                ok = False
        elif op == "$in":
            ok = any(v in arg for v in value) if isinstance(value, list) else value in arg
        elif op == "$nin":
            ok = not (any(v in arg for v in value) if isinstance(value, list) else value in arg)
        elif op == "$regex":
            ok = isinstance(value, str) and re.search(arg, value) is not None
        else:
            raise UsageError(
                f"Unsupported filter operator {op!r}; use $eq $ne $gt $gte $lt $lte $in $nin "
                "$regex $exists $and $or."
            )
        if not ok:
            return False
    return True
