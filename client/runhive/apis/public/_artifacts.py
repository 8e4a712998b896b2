"""Stored artifacts as the read API shows them (W&B's `Api().artifact()`, `artifacts()`, `artifact_type(s)()`,
`artifact_collection(s)()`, `run.logged_artifacts()` / `used_artifacts()`), read through the backend seam.

Versions are numbered per project (the artifact store, `runhive.protocol.artifact_store`); `latest` is the newest
version of a name, other aliases are where they were last given. A linked version (`Artifact.link`, a registry
collection such as `model-registry/<name>`) reads as the version it points at, with `is_link` and
`source_artifact`. `runhive artifact ls/get` read through these same functions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from runhive.apis.backends._base import ArtifactRecord, Backend, RunRecord
from runhive.errors import Error, UsageError
from runhive.protocol import artifact_store as _store
from runhive.sdk._termlog import LazyLogger
from runhive.sdk.artifacts._artifact import Artifact, ManifestEntry

RunClass = Callable[[Backend, RunRecord], Any]  # ApiRun, passed in: `_run` imports this module
RUN_CLASS: RunClass | None = (
    None  # ApiRun, set when `_run` is imported: for artifacts `run.use_artifact` returns
)

_VERSION = re.compile(r"^v\d+$")
logger = LazyLogger()


def iso(ts: float | None) -> str | None:
    """Epoch seconds as W&B's ISO-8601 UTC string ("2024-05-01T10:20:30")."""
    if ts is None:
        return None
    return datetime.fromtimestamp(float(ts), timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def split_artifact_path(path: str, project: str | None, entity: str | None) -> tuple[str, str, str]:
    """`[entity/][project/]name[:version_or_alias]` as ("entity/project" or "project", name, alias)."""
    spec, _, alias = str(path).partition(":")
    parts = [p for p in spec.split("/") if p]
    if not parts or len(parts) > 3:
        raise UsageError(
            f"artifact path {path!r}: use [entity/]project/name[:alias] (e.g. mnist/data:latest)"
        )
    name = parts[-1]
    proj = parts[-2] if len(parts) >= 2 else project
    ent = parts[0] if len(parts) == 3 else entity
    if not proj:
        from runhive.sdk._setup import base_settings

        proj = base_settings().project or "Uncategorized"
    return (f"{ent}/{proj}" if ent else proj), name, alias or "latest"


def _split_project(project: str) -> tuple[str | None, str]:
    entity, _, name = project.rpartition("/")
    return entity or None, name


def pick(candidates: list[ArtifactRecord], name: str, alias: str, project: str) -> ArtifactRecord:
    """The version `name:alias` names among `candidates` (one artifact's versions); UsageError when there is none
    or several."""
    if not candidates:
        raise UsageError(f"no artifact named {name!r} in project {project!r}")
    if _VERSION.match(alias):
        found = [v for v in candidates if v.version == alias]
    else:
        found = sorted((v for v in candidates if alias in v.aliases), key=lambda v: v.created_at)
    if len({v.entity for v in found}) > 1:
        entities = ", ".join(sorted({v.entity for v in found}))
        raise UsageError(
            f"{name}:{alias} is in project {project!r} of several entities ({entities}): name the entity too "
            f"(ENTITY/{project}/{name}:{alias})"
        )
    found = found[-1:]
    if not found:
        have = sorted({v.version for v in candidates} | {a for v in candidates for a in v.aliases})
        raise UsageError(
            f"artifact {name!r} in {project!r} has no version or alias {alias!r} (it has {', '.join(have)})"
        )
    return found[0]


def find(
    backend: Backend, path: str, project: str | None = None, entity: str | None = None
) -> ArtifactRecord:
    """The version an artifact path names (`[entity/][project/]name[:alias]`, default alias latest)."""
    proj, name, alias = split_artifact_path(path, project, entity)
    ent, pname = _split_project(proj)
    candidates = [v for v in backend.artifact_versions(ent, pname) if v.name == name]
    return pick(candidates, name, alias, proj)


class StoredEntry(ManifestEntry):
    """A file of a stored artifact (W&B's `ArtifactManifestEntry`): `path`, `size`, `digest`; `download()`."""

    _artifact: StoredArtifact

    def download(self, root: str | None = None, skip_cache: bool | None = None) -> str:
        """Copy the file under `root` (default: the artifact's download directory) and return its path."""
        base = root if root is not None else self._artifact._default_root()
        dest = os.path.join(base, *self.path.split("/"))
        self._artifact._fetch(self.path, dest)
        return dest


class StoredArtifact(Artifact):
    """A logged artifact version read back (W&B's `wandb.Artifact` as `Api().artifact()` returns it)."""

    def __init__(self, backend: Backend, record: ArtifactRecord, run_class: RunClass | None = None) -> None:
        super().__init__(record.name, record.type or "unspecified", record.description, record.metadata)
        self._backend, self._record, self._run_class = backend, record, run_class
        self.version = record.version
        self.aliases = list(record.aliases)
        self.tags = list(record.tags)
        self.state = "COMMITTED"
        self._final = True
        stored = record.handle if isinstance(record.handle, _store.StoredVersion) else None
        self._stored = stored
        self._logged_dir = str(stored.path) if stored is not None else None
        self._run_path = record.run_path
        for f in record.files:
            path = str(f.get("path") or "")
            sha = str(f.get("sha256") or "")
            ref = str(f["ref"]) if f.get("ref") else None
            if ref:
                local = _store.local_ref_path(ref) if ref.startswith("file:") else ""
            else:
                local = str(_store.object_path(stored.root, sha)) if stored is not None and sha else ""
            entry = StoredEntry(
                path=path, size=int(f.get("size") or 0), sha256=sha, local_path=local, ref=ref
            )
            entry._artifact = self
            self.manifest.entries[path] = entry

    # W&B's names for a stored version --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """`name:vN`, as W&B names a logged version."""
        return f"{self._name}:{self.version}"

    @property
    def collection_name(self) -> str:
        return self._name

    @property
    def entity(self) -> str:
        return self._record.entity

    @property
    def project(self) -> str:
        return self._record.project

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def id(self) -> str:
        return self._record.qualified

    @property
    def created_at(self) -> str | None:
        return iso(self._record.created_at)

    @property
    def updated_at(self) -> str | None:
        return iso(self._record.created_at)

    @property
    def url(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<runhive Artifact {self.qualified_name} type={self.type!r} files={len(self.manifest)}>"

    # Reading its files -----------------------------------------------------------------------------------------
    def _default_root(self) -> str:
        return os.path.join("artifacts", f"{self._name}:{self.version}")

    def _fetch(self, path: str, dest: str) -> None:
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        tmp = f"{dest}.{os.getpid()}.part"
        try:
            self._backend.download_artifact_file(self._record, path, tmp)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        allow_missing_references: bool = False,
        skip_cache: bool | None = None,
        path_prefix: str | None = None,
        multipart: bool | None = None,
    ) -> str:
        """Copy the version's files under `root` (default `./artifacts/NAME:vN`), each checked against the
        manifest's sha256; returns the directory."""
        base = os.fspath(root) if root is not None else self._default_root()
        for path, entry in sorted(self.manifest.entries.items()):
            if path_prefix and not path.startswith(path_prefix):
                continue
            if allow_missing_references and entry.ref and not entry.ref.startswith("file:"):
                continue  # not fetched here (s3://, http://): skipped before making its directory
            try:
                self._fetch(path, os.path.join(base, *path.split("/")))
            except Error:  # ArtifactNotSupportedError too
                if not (allow_missing_references and entry.ref):
                    raise
        return base

    def checkout(self, root: str | None = None) -> str:
        return self.download(root)

    def file(self, root: str | None = None) -> str:
        """The one file of a single-file artifact, downloaded; its path."""
        if len(self.manifest.entries) != 1:
            raise ValueError("This method should only be called on an artifact containing a single file.")
        (entry,) = self.manifest.entries.values()
        return str(entry.download(root))  # type: ignore[attr-defined]

    def files(self, names: list[str] | None = None, per_page: int = 50) -> list[ManifestEntry]:
        """The version's files (all, or those named), each with `download()`."""
        entries = sorted(self.manifest.entries.values(), key=lambda e: e.path)
        return [e for e in entries if not names or e.path in names]

    def get_entry(self, name: str) -> ManifestEntry:
        entry = self.manifest.entries.get(str(name).replace("\\", "/"))
        if entry is None:
            raise KeyError(f"Path not contained in artifact: {name}")
        return entry

    def get_path(self, name: str) -> ManifestEntry:
        return self.get_entry(name)

    def get(self, name: str) -> Any:
        """The media object stored as `name` (`artifact.add(obj, name)`): a `runhive.Table` for a table; the
        stored JSON for other types; None when there is none, as W&B."""
        import json

        prefix = f"{name}."
        path = next(
            (p for p in sorted(self.manifest.entries) if p.startswith(prefix) and p.endswith(".json")), None
        )
        if path is None:
            return None
        local = self.get_entry(path).download()  # type: ignore[attr-defined]
        with open(local, encoding="utf-8") as f:
            doc = json.load(f)
        kind = str(doc.get("_type") or path[len(prefix) : -len(".json")])
        if kind.startswith("table") or kind.endswith("table-file") or ("columns" in doc and "data" in doc):
            from runhive.sdk.data_types import Table

            return Table.from_json(doc, source_artifact=self)
        return doc

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def verify(self, root: str | None = None) -> None:
        self.download(os.path.join(root or self._default_root()))

    # Links -----------------------------------------------------------------------------------------------------
    @property
    def _source(self) -> str:
        """entity/project/name:vN of the version this link points at ("" when it is no link)."""
        return (self._stored.source or "") if self._stored is not None else self._record.source

    @property
    def is_link(self) -> bool:
        """True for a version of a linked collection (`Artifact.link`, `link_model`)."""
        return bool(self._source)

    @property
    def source_artifact(self) -> StoredArtifact:
        """The version a linked version points at (itself when it is no link)."""
        if not self._source:
            return self
        return StoredArtifact(self._backend, find(self._backend, self._source), self._run_class)

    @property
    def source_name(self) -> str:
        return self.source_artifact.name if self.is_link else self.name

    @property
    def source_qualified_name(self) -> str:
        return self.source_artifact.qualified_name if self.is_link else self.qualified_name

    @property
    def source_entity(self) -> str:
        return self.source_artifact.entity

    @property
    def source_project(self) -> str:
        return self.source_artifact.project

    @property
    def source_collection(self) -> ArtifactCollection:
        src = self.source_artifact
        return ArtifactCollection(
            self._backend, self._make_run(), src.entity, src.project, src.collection_name, src.type
        )

    @property
    def source_version(self) -> str:
        return str(self.source_artifact.version)

    # Lineage ---------------------------------------------------------------------------------------------------
    def logged_by(self) -> Any:
        """The run that logged this version (an `ApiRun`; for a linked version, the source's), None when the store
        no longer has it."""
        if self.is_link:
            return self.source_artifact.logged_by()
        rec = self._record
        # On a team server a version first sent as another run's input has no logging run there.
        if not rec.run_id:
            return None
        found = self._backend.find_runs(rec.entity, rec.project, rec.run_id)
        return self._make_run()(self._backend, found[0]) if found else None

    def used_by(self) -> list[Any]:
        """The runs that used this version (`run.use_artifact`), oldest first."""
        make = self._make_run()
        return [make(self._backend, r) for r in self._backend.artifact_users(self._record)]

    def _make_run(self) -> RunClass:
        make = self._run_class or RUN_CLASS
        if make is None:
            raise UsageError(
                "read the artifact with runhive.Api().artifact(...) for the runs that logged or used it"
            )
        return make

    def delete(self, delete_aliases: bool = False) -> None:
        """W&B's `Artifact.delete()`: the version and its files (those no other version holds); a version with
        aliases other than "latest" only with `delete_aliases=True`; the links pointing at it go too. On a linked
        version, only the link is removed (the source stays)."""
        stored = self._stored
        if stored is None:  # a version on a team server
            self._backend.delete_artifact(self._record, delete_aliases)
            return
        if stored.source:
            logger.warning(
                "Deleting a link artifact will only unlink the artifact from the source artifact and not delete the "
                "source artifact and the data of the source artifact."
            )
        _store.delete_version(stored, delete_aliases)

    def unlink(self) -> None:
        """W&B's `Artifact.unlink()`: remove this linked version from its collection (the source stays)."""
        if self._stored is None and self._record.source:  # a link on a team server
            self._backend.delete_artifact(self._record, delete_aliases=True)
            return
        if not self._source:
            raise ValueError(
                f"Artifact {self.qualified_name!r} is not a linked artifact and cannot be unlinked.  To delete it, "
                "use 'delete' instead."
            )
        _store.delete_version(self._require_stored("unlink"))

    def _require_stored(self, what: str) -> _store.StoredVersion:
        if self._stored is None:
            from runhive.apis.backends._base import NotSupportedError

            raise NotSupportedError(f"Artifact.{what}(): {self.name} is not in the local artifact store")
        return self._stored


class ArtifactType:
    """W&B's `ArtifactType`: a type of a project's artifacts, with its collections."""

    def __init__(
        self, backend: Backend, run_class: RunClass, entity: str | None, project: str, type_name: str
    ) -> None:
        self._backend, self._run_class = backend, run_class
        self.entity, self.project, self.type = entity, project, type_name
        self.name = type_name

    def __repr__(self) -> str:
        return f"<ArtifactType {self.type}>"

    def _versions(self) -> list[ArtifactRecord]:
        return [v for v in self._backend.artifact_versions(self.entity, self.project) if v.type == self.type]

    def collections(self, per_page: int = 50) -> list[ArtifactCollection]:
        names = sorted({v.name for v in self._versions()})
        return [
            ArtifactCollection(self._backend, self._run_class, self.entity, self.project, n, self.type)
            for n in names
        ]

    def collection(self, name: str) -> ArtifactCollection:
        if not any(v.name == name for v in self._versions()):
            raise UsageError(f"no {self.type} artifact named {name!r} in project {self.project!r}")
        return ArtifactCollection(self._backend, self._run_class, self.entity, self.project, name, self.type)


class ArtifactCollection:
    """W&B's `ArtifactCollection`: every version of one artifact name in a project."""

    def __init__(
        self,
        backend: Backend,
        run_class: RunClass,
        entity: str | None,
        project: str,
        name: str,
        type_name: str,
    ) -> None:
        self._backend, self._run_class = backend, run_class
        self.entity, self.project, self.name, self.type = entity, project, name, type_name

    def __repr__(self) -> str:
        return f"<ArtifactCollection {self.name} ({self.type})>"

    def artifacts(self, per_page: int = 50) -> list[StoredArtifact]:
        return versions(self._backend, self._run_class, self.entity, self.project, self.type, self.name)

    def versions(self, per_page: int = 50) -> list[StoredArtifact]:
        return self.artifacts(per_page)

    @property
    def aliases(self) -> list[str]:
        return sorted({a for v in self.artifacts() for a in v.aliases})

    def __iter__(self) -> Iterator[StoredArtifact]:
        return iter(self.artifacts())

    def __len__(self) -> int:
        return len(self.artifacts())


def versions(
    backend: Backend,
    run_class: RunClass,
    entity: str | None,
    project: str,
    type_name: str | None,
    name: str | None,
) -> list[StoredArtifact]:
    """The versions of a project's artifacts (of one type and name when given), oldest first."""
    return [
        StoredArtifact(backend, v, run_class)
        for v in backend.artifact_versions(entity, project)
        if (type_name is None or v.type == type_name) and (name is None or v.name == name)
    ]
