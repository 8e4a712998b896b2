"""A stored run as the read API shows it (W&B's public `Run`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from runhive.apis.backends import Backend, RunRecord
from runhive.apis.backends._local import empty_series
from runhive.errors import UsageError


class ApiRun:
    """A stored run as the read API sees it."""

    def __init__(self, backend: Backend, record: RunRecord) -> None:
        self._backend = backend
        self._record = record
        self.id, self.entity, self.project, self.name = record.id, record.entity, record.project, record.name
        self.notes, self.tags, self.group, self.job_type = (
            record.notes,
            record.tags,
            record.group,
            record.job_type,
        )
        self.state, self.exit_code = record.state, record.exit_code
        self.config: dict[str, Any] = record.config
        self.summary: dict[str, Any] = record.summary
        self.metadata: dict[str, Any] = record.metadata
        self.dir, self.created_at, self.updated_at = record.dir, record.created_at, record.updated_at
        self.last_step, self.history_rows = record.last_step, record.history_rows

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
            "updated_at": self.updated_at,
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
        return self._backend.scan_history(self._record, keys, page_size, min_step, max_step)

    def history(
        self,
        samples: int | None = 500,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> Any:
        """The run's rows, `samples` evenly spaced ones (W&B's default 500; `samples=None`: every row), as a
        pandas DataFrame (W&B's default), or a list of dicts with `pandas=False`. With `keys`, only the rows
        that hold every one of them. Without pandas installed, the list comes back, as W&B does."""
        if isinstance(samples, (list, tuple)) and keys is None:  # history(["loss"]) as keys, W&B-style
            samples, keys = 500, samples
        rows = None
        if stream in ("system", "events"):
            rows = self._system_rows(keys)
        elif stream != "default":
            raise UsageError(
                f"history(stream={stream!r}): use 'default' (logged rows) or 'system' (system metrics)."
            )
        elif samples and keys:
            rows = self._backend.sampled_history(self._record, list(keys), samples)
        if rows is None:
            rows = list(self.scan_history(keys=keys))
        if samples is not None and len(rows) > samples > 0:
            stride = len(rows) / samples
            rows = [rows[int(i * stride)] for i in range(samples)]
        if pandas:
            try:
                import pandas as pd
            except ImportError:
                from runhive.sdk._run_extras import termwarn

                termwarn("Unable to load pandas, call history with pandas=False")
                return rows
            return pd.DataFrame(rows)
        return rows

    def _system_rows(self, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The run's system-metric samples, oldest first, keys prefixed `system.` as in W&B's events stream."""
        rows = []
        for ts, runtime, data in self._backend.system_rows(self._record):
            row: dict[str, Any] = {f"system.{k}": v for k, v in data.items()}
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

    def metric(self, key: str, buckets: int = 1000) -> dict[str, list[Any]]:
        """One metric for charts: every point when there are at most `buckets`, else min/max/last per bucket
        of whole chunks (so reading never decodes more than it returns)."""
        return self._backend.metrics(key, [self._record], buckets).get(self.id, empty_series())
