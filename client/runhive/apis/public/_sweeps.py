"""`Api().sweep(path)`: a stored sweep, its runs and its best run (W&B's public `Sweep` shape)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from runhive.apis.backends import Backend, RunRecord, SweepRecord

RunClass = Callable[[Backend, RunRecord], Any]  # ApiRun, passed in: `_run` imports this module


def _iso(ts: float) -> str:
    from datetime import datetime, timezone

    return (
        datetime.fromtimestamp(float(ts or 0), timezone.utc)
        .replace(tzinfo=None)
        .isoformat(timespec="seconds")
    )


class Sweep:
    def __init__(self, backend: Backend, record: SweepRecord, run_class: RunClass) -> None:
        self._backend = backend
        self._run_class = run_class
        self._record = record
        self.id, self.entity, self.project, self.name = record.id, record.entity, record.project, record.name
        self.state = record.state
        # W&B's ISO-8601 UTC string (as `ApiRun.created_at`); the epoch seconds are `created_ts`.
        self.created_ts: float = record.created_at
        self.created_at: str = _iso(record.created_at)
        self.config: dict[str, Any] = record.config

    def __repr__(self) -> str:
        return f"<Sweep {self.entity}/{self.project}/{self.id} ({self.state})>"

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> None:
        return None  # no web app serves sweeps yet

    @property
    def runs(self) -> list[Any]:
        """The sweep's runs that have started (`ApiRun`s), oldest first."""
        return [self._run_class(self._backend, r) for r in self._backend.sweep_runs(self._record)]

    def best_run(self, order: str | None = None) -> Any:
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
