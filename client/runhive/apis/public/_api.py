"""`runhive.Api()`: the read API (W&B's public `wandb.Api` shape), over a read backend (the local store or a team
server)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runhive.apis.backends import Backend, ProjectRecord, Series, backend_for
from runhive.errors import UsageError
from runhive.sdk._settings import Settings
from runhive.sdk._setup import base_settings

from ._filters import FIELDS, compile_filter, order_key, pushdown, sort_docs
from ._run import ApiRun
from ._runs import Project, Runs

if TYPE_CHECKING:
    from ._artifacts import ArtifactCollection, ArtifactType, StoredArtifact
    from ._sweeps import Sweep


class Api:
    """Read runs from the local store, or from a team server: `Api(overrides={"base_url": URL}, api_key=KEY)`,
    `RUNHIVE_BASE_URL` + `RUNHIVE_API_KEY`, or `runhive login`'s stored server. `Api(overrides={"data_dir": ...})`
    reads that local store (and no server, unless `base_url` is given too)."""

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        api_key: str | None = None,
    ) -> None:
        settings: Settings = base_settings()
        chosen = {
            k: v
            for k, v in (overrides or {}).items()
            if k in ("data_dir", "entity", "project", "base_url", "api_key") and v is not None
        }
        if api_key is not None:
            chosen["api_key"] = api_key
        if chosen:
            settings = settings.merged(chosen)
        self.settings = settings
        discover = "data_dir" not in chosen  # an explicit local store is read, not a logged-in server
        self._backend: Backend = backend_for(settings, timeout=timeout, discover=discover)

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
    ) -> Runs:
        """Runs of a project (`"project"` or `"entity/project"`) as W&B's lazy `Runs`, read `per_page` at a time
        when used, oldest first unless `order` says otherwise: W&B's `"+field"`/`"-field"` with a dotted path
        (`"-summary_metrics.acc"`, `"+config.lr"`, `"-created_at"`, `"+display_name"`); runs without the field
        come last. The backend orders and filters in its own query where it can (the run's own fields); the rest
        of a filter is applied to the runs read, and an order by a config or summary key reads every matching run
        first. A bad filter or order raises here, before any read."""
        from runhive.apis.backends._base import RunsQuery

        entity, project = _split_project(path or self.settings.project or "Uncategorized")
        if filters:
            compile_filter(filters)  # every field and operator checked before any read
        dotted, descending = order_key(order)
        head, _, nested = dotted.partition(".")
        field = FIELDS[head]
        backend = self._backend
        where, residual = pushdown(filters, backend.filter_fields) if filters else (None, None)
        keep_doc = compile_filter(residual) if residual else None

        def keep(run: ApiRun) -> bool:
            return keep_doc is None or keep_doc(run._filter_doc())

        if not nested and field in backend.order_fields:
            query = RunsQuery(entity, project, field, descending, where)

            def fetch(offset: int, limit: int) -> list[ApiRun]:
                return [ApiRun(backend, r) for r in backend.runs_page(query, offset, limit)]

            if keep_doc is None:
                return Runs(
                    fetch, entity, project, filters, order, per_page, lambda: backend.count_runs(query)
                )
            return Runs(fetch, entity, project, filters, order, per_page, keep=keep)

        # Ordered by a nested key: every matching run is read (page by page), then sorted here.
        everything: list[ApiRun] | None = None
        query = RunsQuery(entity, project, "created_at", False, where)

        def sorted_runs() -> list[ApiRun]:
            nonlocal everything
            if everything is None:
                found: list[ApiRun] = []
                size = max(1, per_page)
                while True:
                    page = backend.runs_page(query, len(found), size)
                    found.extend(ApiRun(backend, r) for r in page)
                    if len(page) < size:
                        break
                runs = [r for r in found if keep(r)]
                everything = sort_docs(runs, lambda r: r._filter_doc(), order)
            return everything

        return Runs(
            lambda offset, limit: sorted_runs()[offset : offset + limit],
            entity,
            project,
            filters,
            order,
            per_page,
            lambda: len(sorted_runs()),
        )

    def runs_since(self, path: str, since: float) -> list[ApiRun]:
        """The runs of a project updated at or after `since` (a run's `updated_at`), oldest first: a live view's
        poll, with the largest `updated_at` it has seen as the cursor."""
        entity, project = _split_project(path)
        return [ApiRun(self._backend, r) for r in self._backend.runs_since(entity, project, since)]

    def run(self, path: str) -> ApiRun:
        """One run by `"entity/project/id"`, `"project/id"` or `"id"`."""
        entity, project, run_id = split_path(path, "runs", "Api.run", "run_id")
        found = self._backend.find_runs(entity, project, run_id)
        if not found:
            raise UsageError(f"Could not find run {path!r} in {self._backend.where}.")
        return ApiRun(self._backend, found[0])

    def metrics(self, key: str, runs: Sequence[ApiRun], buckets: int = 1000) -> dict[str, Series]:
        """One metric of many runs, downsampled to at most `buckets` points each: {run id: series}."""
        return self._backend.metrics(key, [r._record for r in runs], buckets)

    def sweep(self, path: str) -> Sweep:
        """One sweep by `"entity/project/sweep_id"`, `"project/sweep_id"` or `"sweep_id"`."""
        from ._sweeps import Sweep

        entity, project, sweep_id = split_path(path, "sweeps", "Api.sweep", "sweep_id")
        found = self._backend.find_sweeps(entity, project, sweep_id)
        if not found:
            raise UsageError(f"Could not find sweep {path!r} in {self._backend.where}.")
        if len(found) > 1:
            raise UsageError(f"Sweep id {path!r} is in several projects: pass 'entity/project/sweep_id'.")
        return Sweep(self._backend, found[0], ApiRun)

    def sweeps(self, project: str) -> list[Sweep]:
        """The sweeps of a project (`"project"` or `"entity/project"`), oldest first."""
        from ._sweeps import Sweep

        entity, name = _split_project(project)
        return [Sweep(self._backend, r, ApiRun) for r in self._backend.sweeps(entity, name)]

    @property
    def default_entity(self) -> str:
        """The entity runs go to when none is given (the settings', else the user's login name)."""
        from runhive.sdk._settings import default_entity

        return str(self.settings.entity or default_entity())

    def projects(self, entity: str | None = None, per_page: int = 200) -> list[Project]:
        """The projects that have runs (of `entity`, or of every entity), most recently used first."""
        return [
            Project(self, p.entity, p.name, {"runs": p.runs, "last_run_at": p.last_run_at})
            for p in self._backend.projects(entity)
        ]

    def project(self, name: str, entity: str | None = None) -> Project:
        """A project by name (`"project"` or `"entity/project"`); the default entity's unless `entity` says."""
        ent, proj = _split_project(name)
        entity = entity or ent or self.default_entity
        found = [p for p in self._backend.projects(entity) if p.name == proj]
        attrs = {"runs": found[0].runs, "last_run_at": found[0].last_run_at} if found else {}
        return Project(self, entity, proj, attrs)

    # Artifacts (`_artifacts`): read from the runs that logged them -------------------------------------------
    def artifact(self, name: str, type: str | None = None) -> StoredArtifact:
        """One artifact version: `"[entity/][project/]name[:version_or_alias]"` (alias default `latest`)."""
        from ._artifacts import StoredArtifact, find

        record = find(self._backend, name, self.settings.project, None)
        if type is not None and record.type != type:
            raise UsageError(f"artifact {record.qualified} is of type {record.type!r}, not {type!r}")
        return StoredArtifact(self._backend, record, ApiRun)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        try:
            self.artifact(name, type)
        except UsageError:
            return False
        return True

    def artifacts(
        self, type_name: str | None = None, name: str | None = None, per_page: int = 50, **kw: Any
    ) -> list[StoredArtifact]:
        """Every version of an artifact (`name`: `"[entity/][project/]name"`) of a type, oldest first."""
        from ._artifacts import split_artifact_path, versions

        if name is None:
            raise UsageError(
                "Api.artifacts(type_name, name): pass the artifact's name ([entity/][project/]name)."
            )
        proj, art, _ = split_artifact_path(name, self.settings.project, None)
        ent, pname = _split_project(proj)
        return versions(self._backend, ApiRun, ent, pname, type_name, art)

    def artifact_versions(self, type_name: str, name: str, per_page: int = 50) -> list[StoredArtifact]:
        """W&B's older name for `artifacts(type_name, name)`."""
        return self.artifacts(type_name, name, per_page)

    def artifact_types(self, project: str | None = None) -> list[ArtifactType]:
        from ._artifacts import ArtifactType

        ent, pname = _split_project(project or self.settings.project or "Uncategorized")
        kinds = sorted({v.type for v in self._backend.artifact_versions(ent, pname)})
        return [ArtifactType(self._backend, ApiRun, ent, pname, k) for k in kinds]

    def artifact_type(self, type_name: str, project: str | None = None) -> ArtifactType:
        found = [t for t in self.artifact_types(project) if t.type == type_name]
        if not found:
            raise UsageError(
                f"no artifacts of type {type_name!r} in project {project or self.settings.project!r}"
            )
        return found[0]

    def artifact_collections(
        self, project_name: str, type_name: str, per_page: int = 50
    ) -> list[ArtifactCollection]:
        return self.artifact_type(type_name, project_name).collections()

    def artifact_collection(self, type_name: str, name: str) -> ArtifactCollection:
        """One artifact name's versions: `name` is `"[entity/][project/]name"`."""
        from ._artifacts import split_artifact_path

        proj, art, _ = split_artifact_path(name, self.settings.project, None)
        return self.artifact_type(type_name, proj).collection(art)

    def project_summaries(self, entity: str | None = None) -> list[ProjectRecord]:
        """Every project with its run count and last run's start, most recent first (the dashboard's list)."""
        return self._backend.projects(entity)


def split_path(path: str, kind: str, what: str, id_name: str) -> tuple[str | None, str | None, str]:
    """`"entity/project/id"`, `"project/id"` or `"id"` as (entity, project, id); `kind`, as in W&B's URLs, is
    skipped: "entity/project/runs/id"."""
    parts = [p for p in path.split("/") if p and p != kind]
    if not parts or len(parts) > 3:
        raise UsageError(
            f"{what}({path!r}): pass 'entity/project/{id_name}', 'project/{id_name}' or '{id_name}'."
        )
    entity = parts[0] if len(parts) == 3 else None
    project = parts[-2] if len(parts) >= 2 else None
    return entity, project, parts[-1]


def _split_project(path: str) -> tuple[str | None, str]:
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise UsageError(f"Api.runs({path!r}): pass 'project' or 'entity/project'.")
