"""`Api().runs()` as W&B's lazy `Runs`, and `Api().project()`/`projects()` as W&B's `Project`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from ._run import ApiRun
    from ._sweeps import Sweep


# (offset, limit) -> at most `limit` runs from `offset`, in order.
Fetch = Callable[[int, int], list["ApiRun"]]


class Runs(Sequence["ApiRun"]):
    """The runs of a project that match `filters`, in `order` (W&B's `Runs`): read a page of `per_page` runs at a
    time, when they are used. `len()` asks the backend for a count; iteration reads page after page; `runs[i]`
    reads the page that holds run i. When part of the filter is applied after reading (`keep`), pages are read in
    order, the runs that pass kept, and `len()` reads them all."""

    def __init__(
        self,
        fetch: Fetch,
        entity: str | None,
        project: str,
        filters: Mapping[str, Any] | None,
        order: str,
        per_page: int,
        count: Callable[[], int] | None = None,
        keep: Callable[[ApiRun], bool] | None = None,
    ) -> None:
        self._fetch, self._count, self._keep = fetch, count, keep
        self.entity, self.project, self.order = entity, project, order
        self.per_page = max(1, int(per_page))
        self.filters: dict[str, Any] = dict(filters or {})
        self._pages: dict[int, list[ApiRun]] = {}  # page number -> its runs (without `keep`)
        self._length: int | None = None
        self._kept: list[ApiRun] = []  # with `keep`: the runs that passed, of the pages read so far
        self._read = 0  # with `keep`: runs read (passed or not)
        self._done = False

    # -- reading ---------------------------------------------------------------------------------------------------
    def _page(self, n: int) -> list[ApiRun]:
        page = self._pages.get(n)
        if page is None:
            page = self._pages[n] = self._fetch(n * self.per_page, self.per_page)
            if len(page) < self.per_page:  # the last page: the length is known without a count
                self._length = n * self.per_page + len(page)
        return page

    def _fill(self, upto: int | None) -> None:
        """With `keep`: read pages until run `upto` passed (None: to the end)."""
        assert self._keep is not None
        while not self._done and (upto is None or len(self._kept) <= upto):
            rows = self._fetch(self._read, self.per_page)
            self._read += len(rows)
            self._kept.extend(r for r in rows if self._keep(r))
            if len(rows) < self.per_page:
                self._done = True

    @property
    def objects(self) -> list[ApiRun]:
        """Every run, read to the end."""
        return list(self)

    def __len__(self) -> int:
        if self._keep is not None:
            self._fill(None)
            return len(self._kept)
        if self._length is None:
            if self._count is not None:
                self._length = self._count()
            else:
                n = 0
                while len(self._page(n)) == self.per_page:
                    n += 1
        assert self._length is not None
        return self._length

    @property
    def length(self) -> int:
        return len(self)

    def __iter__(self) -> Iterator[ApiRun]:
        if self._keep is not None:
            i = 0
            while True:
                if i < len(self._kept):
                    yield self._kept[i]
                    i += 1
                elif self._done:
                    return
                else:
                    self._fill(len(self._kept))
        n = 0
        while self._length is None or n * self.per_page < self._length:
            page = self._page(n)
            yield from page
            if len(page) < self.per_page:
                return
            n += 1

    @overload
    def __getitem__(self, index: int) -> ApiRun: ...

    @overload
    def __getitem__(self, index: slice) -> list[ApiRun]: ...

    def __getitem__(self, index: int | slice) -> ApiRun | list[ApiRun]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = int(index)
        if i < 0:
            i += len(self)
        if i < 0:
            raise IndexError("Runs index out of range")
        if self._keep is not None:
            self._fill(i)
            if i >= len(self._kept):
                raise IndexError("Runs index out of range")
            return self._kept[i]
        page = self._page(i // self.per_page)
        if i % self.per_page >= len(page):
            raise IndexError("Runs index out of range")
        return page[i % self.per_page]

    def __bool__(self) -> bool:
        if self._keep is not None:
            self._fill(0)
            return bool(self._kept)
        return bool(self._page(0))

    def __eq__(self, other: object) -> bool:
        """Equal to a list (or Runs) of the same runs, as when `runs()` returned a list."""
        if isinstance(other, (list, Runs)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = f"{self.entity}/{self.project}" if self.entity else self.project
        return f"<Runs {where}>"

    @property
    def more(self) -> bool:
        """Whether runs are left to read."""
        if self._keep is not None:
            return not self._done
        return self._length is None or len(self._pages) * self.per_page < self._length

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
