"""The read-backend seam: what `runhive.Api()` asks of a store, and the plain records it gets back.

Promises, for every backend: the same records whichever store answers (the local SQLite store today, a team
server's read API next), so `Api`, `Run`, `Sweep` and the dashboard are written once; paths are already split
(entity may be None: any entity); history rows come back in logged order; a store that does not exist yet reads
as empty, never as an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runhive.errors import Error
from runhive.protocol.series import Series


class NotSupportedError(Error, NotImplementedError):
    """What a backend cannot do (yet): files and artifacts on a team server."""


@dataclass
class RunRecord:
    id: str
    entity: str
    project: str
    name: str
    notes: str
    tags: list[str]
    group: str
    job_type: str
    state: str
    exit_code: int | None
    config: dict[str, Any]
    summary: dict[str, Any]
    metadata: dict[str, Any]
    dir: str
    created_at: float
    updated_at: float
    last_step: int
    history_rows: int
    handle: Any = field(default=None, repr=False, compare=False)  # the backend's own key for the run
    sweep: str = ""  # the id of the sweep the run belongs to ("" for none)


@dataclass
class SweepRecord:
    id: str
    entity: str
    project: str
    name: str
    config: dict[str, Any]
    state: str
    created_at: float
    handle: Any = field(default=None, repr=False, compare=False)


@dataclass
class ProjectRecord:
    entity: str
    name: str
    runs: int
    last_run_at: float | None


@dataclass
class FileRecord:
    """A file a run saved (`run.save`, `log_code`, `upload_file`): its path inside the run's files."""

    name: str
    size: int
    updated_at: float
    handle: Any = field(default=None, repr=False, compare=False)


@dataclass
class ArtifactRecord:
    """One complete version of an artifact: what its manifest says, and which run logged it."""

    entity: str
    project: str
    name: str
    version: str  # "v0", "v1", ...
    type: str
    aliases: list[str]
    tags: list[str]
    description: str | None
    metadata: dict[str, Any]
    files: list[dict[str, Any]]  # {"path", "size", "sha256"}
    run_id: str  # the run that logged it
    created_at: float
    source: str = ""  # a link: the entity/project/name:vN it points at
    handle: Any = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        return sum(int(f.get("size") or 0) for f in self.files)

    @property
    def qualified(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:{self.version}"

    @property
    def run_path(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}"


# A filter condition a backend evaluates itself (`Api().runs()` pages it in the store's query). Built by the public
# layer from W&B's MongoDB-style filter, only over `SCALAR_FIELDS` and only where the store's comparison gives what
# Python's gives; every other part of a filter is applied to the records after they are read. Fields are the filter
# doc's keys ("display_name", "created_at", ...; "name" is the run id); values are already converted (ISO-8601 times
# to epoch seconds).
#   ("and" | "or", [Cond, ...])   ("not", Cond)   ("const", bool)
#   ("cmp", field, op, value)     op: "eq" "ne" "gt" "gte" "lt" "lte"
#   ("in", field, [values])       ("regex", field, pattern)  (Python's re.search)
Cond = tuple[Any, ...]

# The run fields a backend may order and filter by in its own query: the text columns and the two times.
SCALAR_FIELDS = frozenset(
    {"id", "name", "display_name", "state", "group", "job_type", "notes", "created_at", "updated_at"}
)


@dataclass(frozen=True)
class RunsQuery:
    """One `Api().runs()` listing as a backend pages it: the project, the order (a filter doc field and its
    direction; ties in creation order) and the condition (None: every run)."""

    entity: str | None
    project: str
    order: str = "created_at"
    descending: bool = False
    where: Cond | None = None


class Backend(Protocol):
    @property
    def where(self) -> str:
        """Where the backend reads, for messages ("the local store at ...")."""
        ...

    def runs(self, entity: str | None, project: str, newest_first: bool = False) -> list[RunRecord]: ...

    # Paging `Api().runs()`: what the backend's own query can order and filter by (a subset of SCALAR_FIELDS), a page
    # of `limit` runs from `offset`, and the count of the runs that match.
    order_fields: frozenset[str]
    filter_fields: frozenset[str]

    def runs_page(self, query: RunsQuery, offset: int, limit: int) -> list[RunRecord]: ...

    def count_runs(self, query: RunsQuery) -> int: ...

    def find_runs(self, entity: str | None, project: str | None, run_id: str) -> list[RunRecord]: ...

    def sweep_runs(self, sweep: SweepRecord) -> list[RunRecord]: ...

    def projects(self, entity: str | None = None) -> list[ProjectRecord]: ...

    def scan_history(
        self,
        run: RunRecord,
        keys: Sequence[str] | None,
        page_size: int,
        min_step: int | None,
        max_step: int | None,
    ) -> Iterator[dict[str, Any]]: ...

    def sampled_history(self, run: RunRecord, keys: list[str], samples: int) -> list[dict[str, Any]] | None:
        """`samples` rows of numeric `keys` from a downsampling index; None when the backend has none for them."""
        ...

    def system_rows(self, run: RunRecord) -> list[tuple[float, float, dict[str, Any]]]:
        """(timestamp, runtime, sample) per system-metrics sample, oldest first."""
        ...

    def metrics(self, key: str, runs: Sequence[RunRecord], buckets: int) -> dict[str, Series]:
        """One metric of many runs, downsampled to at most `buckets` points each: {run id: series}. A run with
        more points than `buckets` gets about `buckets` points (min, max and last of each bucket), not fewer."""
        ...

    def runs_since(self, entity: str | None, project: str, since: float) -> list[RunRecord]:
        """The runs of a project updated at or after `since` (their `updated_at`), oldest first: what a live view
        polls with the largest `updated_at` it has seen as the cursor."""
        ...

    def sweeps(self, entity: str | None, project: str) -> list[SweepRecord]: ...

    def find_sweeps(self, entity: str | None, project: str | None, sweep_id: str) -> list[SweepRecord]: ...

    # Files and artifacts: W&B's `run.files()`, `Api().artifact()` and their downloads -------------------------
    def run_files(self, run: RunRecord) -> list[FileRecord]: ...

    def download_file(self, run: RunRecord, file: FileRecord, dest: str) -> None:
        """Copy the file's bytes to the path `dest` (its directory exists)."""
        ...

    def upload_file(self, run: RunRecord, local_path: str, name: str) -> FileRecord:
        """Store the local file as the run's file `name`."""
        ...

    def artifact_versions(self, entity: str | None, project: str | None) -> list[ArtifactRecord]:
        """Every complete artifact version of a project's runs (any project when None), oldest first."""
        ...

    def logged_artifacts(self, run: RunRecord) -> list[ArtifactRecord]: ...

    def used_artifacts(self, run: RunRecord) -> list[ArtifactRecord]: ...

    def artifact_users(self, artifact: ArtifactRecord) -> list[RunRecord]:
        """The runs that used `artifact` (`run.use_artifact`)."""
        ...

    def download_artifact_file(self, artifact: ArtifactRecord, path: str, dest: str) -> None:
        """Copy the artifact's file `path` to `dest`, checked against the manifest's sha256."""
        ...

    # Writes: edits of a stored run ----------------------------------------------------------------------------
    def update_run(self, run: RunRecord, changes: dict[str, Any]) -> None:
        """Persist edits of a run: any of `config` (the whole config), `summary` (keys to set), `name`, `notes`,
        `tags`, `group`, `job_type`."""
        ...

    def delete_run(self, run: RunRecord, delete_artifacts: bool = False) -> None:
        """Delete a finished run and all it stored (a running one is refused, an unknown one is a UsageError
        saying "could not find run"); with `delete_artifacts`, the artifact versions it logged too."""
        ...

    def link_artifact(
        self, artifact: ArtifactRecord, entity: str, project: str, name: str, aliases: list[str]
    ) -> ArtifactRecord:
        """Link the version into the collection `entity/project/name` (W&B's `Artifact.link`); the linked version.
        Linking the same version again moves `aliases` to the existing link."""
        ...

    def delete_artifact(self, artifact: ArtifactRecord, delete_aliases: bool = False) -> None:
        """Delete the version and the files no other version holds (W&B's `Artifact.delete()`): refused while it
        has aliases other than "latest", unless `delete_aliases`."""
        ...

    def close(self) -> None: ...
