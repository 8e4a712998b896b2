"""`Api().sweep(path)`: a stored sweep, its runs and its best run (W&B's public `Sweep` shape)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runhive.errors import UsageError

if TYPE_CHECKING:
    from ._api import Api, ApiRun


class Sweep:
    def __init__(self, api: Api, row: Sequence[Any]) -> None:
        self._api = api
        self._pk, self.id, self.entity, self.project, self.name, config, self.state, self.created_at = row
        self.config: dict[str, Any] = json.loads(config)

    def __repr__(self) -> str:
        return f"<Sweep {self.entity}/{self.project}/{self.id} ({self.state})>"

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> None:
        return None  # no web app serves sweeps yet

    @property
    def runs(self) -> list[ApiRun]:
        """The sweep's runs that have started, oldest first."""
        from ._api import _RUN_COLUMNS, ApiRun

        rows = self._api._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE entity=? AND project=? AND sweep=? ORDER BY created_at, pk",
            [self.entity, self.project, self.id],
        )
        return [ApiRun(self._api, r) for r in rows]

    def best_run(self, order: str | None = None) -> ApiRun | None:
        """The run with the best `summary_metrics` value of the sweep's metric (or of `order`: "+key" lowest
        first, "-key" highest first)."""
        if order is None:
            metric = self.config.get("metric") or {}
            name = metric.get("name") if isinstance(metric, dict) else None
            if not name:
                return None
            order = ("-" if metric.get("goal") == "maximize" else "+") + str(name)
        key = order.lstrip("+-")
        if key.startswith("summary_metrics."):
            key = key[len("summary_metrics.") :]
        scored = []
        for run in self.runs:
            v = run.summary.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                scored.append((v, run))
        if not scored:
            return None
        pick = max if order.startswith("-") else min
        return pick(scored, key=lambda p: p[0])[1]

    @property
    def expected_run_count(self) -> int | None:
        """The number of runs a grid sweep makes; None for random and bayes, which run until stopped."""
        try:
            from runhive_service.sweeps.rules import expected_run_count
        except ImportError:
            return None
        try:
            return expected_run_count(self.config)
        except Exception:  # a malformed config: the count is unknown, not an error for a reader
            return None


def find_sweep(api: Api, path: str) -> Sweep:
    import sqlite3

    from ._api import path_query

    sql, args = path_query(
        "SELECT pk, id, entity, project, name, config, state, created_at FROM sweeps",
        path,
        "sweeps",
        "Api.sweep",
        "sweep_id",
    )

    try:
        rows = api._query(sql, args)
    except sqlite3.OperationalError:  # a store written before sweeps existed
        rows = []
    if not rows:
        raise UsageError(f"Could not find sweep {path!r} in {api._path}.")
    if len(rows) > 1:
        raise UsageError(f"Sweep id {path!r} is in several projects: pass 'entity/project/sweep_id'.")
    return Sweep(api, rows[0])
