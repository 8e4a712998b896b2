"""`Api().runs()` as W&B's lazy `Runs`, and `Api().project()`/`projects()` as W&B's `Project`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from ._run import ApiRun
    from ._sweeps import Sweep


class Runs(Sequence["ApiRun"]):
    """The runs of a project that match `filters`, in `order` (W&B's `Runs`): nothing is read until they are
    used (`len`, iteration, `runs[i]`, `runs[a:b]`), then all at once; `per_page` is kept for W&B's code."""

    def __init__(
        self,
        load: Callable[[], list[ApiRun]],
        entity: str | None,
        project: str,
        filters: Mapping[str, Any] | None,
        order: str,
        per_page: int,
    ) -> None:
        self._load = load
        self._objects: list[ApiRun] | None = None
        self.entity, self.project, self.order, self.per_page = entity, project, order, per_page
        self.filters: dict[str, Any] = dict(filters or {})

    @property
    def objects(self) -> list[ApiRun]:
        if self._objects is None:
            self._objects = self._load()
        return self._objects

    def __len__(self) -> int:
        return len(self.objects)

    @property
    def length(self) -> int:
        return len(self)

    def __iter__(self) -> Iterator[ApiRun]:
        return iter(self.objects)

    @overload
    def __getitem__(self, index: int) -> ApiRun: ...

    @overload
    def __getitem__(self, index: slice) -> list[ApiRun]: ...

    def __getitem__(self, index: int | slice) -> ApiRun | list[ApiRun]:
        return self.objects[index]

    def __bool__(self) -> bool:
        return bool(self.objects)

    def __eq__(self, other: object) -> bool:
        """Equal to a list (or Runs) of the same runs, as when `runs()` returned a list."""
        if isinstance(other, (list, Runs)):
            return list(self.objects) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = f"{self.entity}/{self.project}" if self.entity else self.project
        return f"<Runs {where}>"

    @property
    def more(self) -> bool:
        return False  # every matching run is read at once

    def histories(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: str = "default",
        stream: str = "default",
    ) -> Any:
        """Sampled history of every run (W&B's `Runs.histories`): a list of dicts with a `run_id` key, or with
        `format="pandas"` one DataFrame (a `run_id` column, columns sorted)."""
        if format not in ("default", "pandas"):
            raise ValueError(f"Invalid format: {format}. Must be one of 'default', 'pandas'")
        per_run = []
        for run in self:
            rows = run.history(samples=samples, keys=keys, x_axis=x_axis, pandas=False, stream=stream)
            if rows:
                per_run.append((run.id, rows))
        if format == "default":
            out: list[dict[str, Any]] = []
            for rid, rows in per_run:
                for row in rows:
                    row["run_id"] = rid
                out.extend(rows)
            return out
        import pandas as pd

        if not per_run:
            return pd.DataFrame()
        frames = []
        for rid, rows in per_run:
            df = pd.DataFrame.from_records(rows)
            df["run_id"] = rid
            frames.append(df)
        combined = pd.concat(frames).reset_index(drop=True)
        return combined[sorted(combined.columns)]


class Project:
    """W&B's public `Project`: `name`, `entity`, `path`, `url`, its `runs()` and `sweeps()`."""

    def __init__(self, api: Any, entity: str, name: str, attrs: Mapping[str, Any] | None = None) -> None:
        self._api = api
        self.entity, self.name = entity, name
        self._attrs = dict(attrs or {})

    def __repr__(self) -> str:
        return f"<Project {self.entity}/{self.name}>"

    def __eq__(self, other: object) -> bool:
        """Equal to the same project, and to its name (`"cifar" in api.projects()`, as when they were names)."""
        if isinstance(other, str):
            return other == self.name
        if isinstance(other, Project):
            return (self.entity, self.name) == (other.entity, other.name)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def path(self) -> list[str]:
        return [self.entity, self.name]

    @property
    def id(self) -> str:
        return f"{self.entity}/{self.name}"

    @property
    def url(self) -> str | None:
        from runhive.sdk._run_extras import _dashboard, _enc

        base = _dashboard(self._api.settings)
        return f"{base}/#/p/{_enc(self.name)}" if base else None

    @property
    def run_count(self) -> int:
        return int(self._attrs.get("runs") or 0)

    def runs(
        self, filters: Mapping[str, Any] | None = None, order: str = "+created_at", per_page: int = 50
    ) -> Runs:
        return self._api.runs(f"{self.entity}/{self.name}", filters=filters, order=order, per_page=per_page)  # type: ignore[no-any-return]

    def sweeps(self, per_page: int = 50) -> list[Sweep]:
        return self._api.sweeps(f"{self.entity}/{self.name}")  # type: ignore[no-any-return]

    def artifacts_types(self, per_page: int = 50) -> list[Any]:
        return self._api.artifact_types(f"{self.entity}/{self.name}")  # type: ignore[no-any-return]
