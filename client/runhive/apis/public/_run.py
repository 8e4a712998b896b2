"""A stored run as the read API shows it (W&B's public `Run`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runhive.apis.backends import Backend, RunRecord
from runhive.errors import UsageError
from runhive.protocol.series import empty_series

if TYPE_CHECKING:
    from ._artifacts import StoredArtifact
    from ._files import File, Files
    from ._sweeps import Sweep


class Summary(dict[str, Any]):
    """A stored run's summary (W&B's `HTTPSummary`): a dict whose `update()`, item assignment and deletion are
    persisted at once (through the daemon); `_json_dict` is the plain dict."""

    def __init__(self, run: ApiRun, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._run = run

    @property
    def _json_dict(self) -> dict[str, Any]:
        return dict(self)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        data = dict(*args, **kwargs)
        super().update(data)
        self._run._persist({"summary": data})

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._run._persist({"summary": {key: value}})

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._run._persist({"summary_remove": [key]})


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
        self.summary: Summary = Summary(self, record.summary)
        self.metadata: dict[str, Any] = record.metadata
        self.dir, self.updated_at = record.dir, record.updated_at
        # W&B's `created_at` is the server's ISO-8601 UTC string; the epoch stays at hand for sorting and charts.
        self.created_ts: float = record.created_at
        self.created_at: str = _iso(record.created_at)
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

    # W&B's other names ------------------------------------------------------------------------------------
    @property
    def createdAt(self) -> str:
        """When the run started, as W&B's ISO-8601 UTC string ("2024-05-01T10:20:30"), as `created_at`; the
        epoch seconds are `created_ts`."""
        return self.created_at

    @property
    def heartbeatAt(self) -> str | None:
        from ._artifacts import iso

        return iso(self.updated_at)

    @property
    def lastHistoryStep(self) -> int:
        """The last step logged (-1 when the run has no history)."""
        return int(self.last_step) if self.history_rows else -1

    @property
    def storage_id(self) -> str:
        return self.id

    @property
    def sweep_name(self) -> str | None:
        return self._record.sweep or None

    @property
    def sweep(self) -> Sweep | None:
        """The sweep the run belongs to, or None."""
        if not self._record.sweep:
            return None
        from ._sweeps import Sweep

        found = self._backend.find_sweeps(self.entity, self.project, self._record.sweep)
        return Sweep(self._backend, found[0], type(self)) if found else None

    @property
    def user(self) -> User:
        return User(self.entity, str(self.metadata.get("username") or self.entity))

    @property
    def username(self) -> str:
        return self.entity

    @property
    def url(self) -> str | None:
        """The run's page on the dashboard, when its address is known (as `Run.url`); None otherwise."""
        from runhive.sdk._run_extras import _dashboard, _enc
        from runhive.sdk._setup import base_settings

        base = _dashboard(base_settings())
        return f"{base}/#/r/{_enc(self.entity)}/{_enc(self.project)}/{_enc(self.id)}" if base else None

    @property
    def json_config(self) -> str:
        import json

        return json.dumps({k: {"value": v} for k, v in self.config.items()})

    # Edits (persisted through the daemon) ---------------------------------------------------------------
    def _persist(self, changes: dict[str, Any]) -> None:
        self._backend.update_run(self._record, changes)

    def update(self) -> None:
        """Persist edits of `config`, `summary`, `name`, `notes`, `tags`, `group` and `job_type` (W&B's
        `run.update()`); the run's state does not change."""
        changes: dict[str, Any] = {"config": dict(self.config)}
        stored = self._record.summary
        summary = dict(self.summary)
        changed = {k: v for k, v in summary.items() if k not in stored or stored[k] != v}
        removed = [k for k in stored if k not in summary]
        if changed:
            changes["summary"] = changed
        if removed:
            changes["summary_remove"] = removed
        for attr in ("name", "notes", "tags", "group", "job_type"):
            value = getattr(self, attr)
            if value != getattr(self._record, attr):
                changes[attr] = list(value) if attr == "tags" else value
        self._persist(changes)
        self._record.config, self._record.summary = dict(self.config), summary
        for attr in ("name", "notes", "group", "job_type"):
            setattr(self._record, attr, getattr(self, attr))
        self._record.tags = list(self.tags)

    def save(self) -> None:
        self.update()

    def delete(self, delete_artifacts: bool = False) -> None:
        """Delete the run and everything it stored (W&B's `Run.delete`): its rows, its run directory, and with
        `delete_artifacts=True` the artifact versions it logged. Through the daemon for the local store (the
        store's one writer), through the read API for a team server (write permission on the project). A run
        still running is refused with a `UsageError`; finish it first."""
        self._backend.delete_run(self._record, delete_artifacts)

    # Files ----------------------------------------------------------------------------------------------
    def files(self, names: list[str] | None = None, pattern: str | None = None, per_page: int = 50) -> Files:
        """The run's saved files (`run.save`, `log_code`, `upload_file`): all, the `names` given, or those
        matching `pattern`."""
        from ._files import File, Files, select

        records = select(self._backend.run_files(self._record), names, pattern)
        return Files([File(self._backend, self._record, r, self) for r in records], per_page)

    def file(self, name: str) -> File:
        found = self.files([name])
        if not found:
            raise ValueError(f"run {self.entity}/{self.project}/{self.id} has no file {name!r}")
        return found[0]

    def upload_file(self, path: str, root: str = ".") -> File:
        """Store a local file with the run's files, named by its path relative to `root` (W&B's rule)."""
        import os

        from ._files import File

        if not os.path.isfile(path):
            raise ValueError(f"upload_file: {path!r} is not a file")
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
        name = os.path.basename(path) if rel.startswith("..") else rel
        record = self._backend.upload_file(self._record, path, name.replace(os.sep, "/"))
        return File(self._backend, self._record, record, self)

    # Artifacts ------------------------------------------------------------------------------------------
    def logged_artifacts(self, per_page: int = 100) -> list[StoredArtifact]:
        from ._artifacts import StoredArtifact

        return [
            StoredArtifact(self._backend, a, type(self)) for a in self._backend.logged_artifacts(self._record)
        ]

    def used_artifacts(self, per_page: int = 100) -> list[StoredArtifact]:
        from ._artifacts import StoredArtifact

        return [
            StoredArtifact(self._backend, a, type(self)) for a in self._backend.used_artifacts(self._record)
        ]

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
            "created_at": self.created_ts,  # epoch: filters turn ISO-8601 arguments into epoch seconds
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


def _iso(ts: float | None) -> str:
    """Epoch seconds as W&B's `createdAt`: ISO-8601 UTC to the second, without a zone ("2024-05-01T10:20:30")."""
    from datetime import datetime, timezone

    return (
        datetime.fromtimestamp(float(ts or 0), timezone.utc)
        .replace(tzinfo=None)
        .isoformat(timespec="seconds")
    )


class User:
    """W&B's public `User`, as far as a local store knows one: the run's entity and user name."""

    def __init__(self, entity: str, username: str) -> None:
        self.entity, self.username, self.name = entity, username, username

    def __repr__(self) -> str:
        return f"<User {self.username}>"


def _register() -> None:
    from . import _artifacts

    _artifacts.RUN_CLASS = ApiRun  # what artifacts `run.use_artifact` returns make of their runs


_register()
