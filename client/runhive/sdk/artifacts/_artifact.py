"""`runhive.Artifact` (W&B's `wandb.Artifact`): versioned sets of files logged with a run.

`log_artifact(run, artifact)` keeps the files in the store's content-addressed objects and the version in its
project's collection (`runhive.protocol.artifact_store`): versions are numbered per project (run A logs `data:v0`,
run B `data:v1`), and logging identical contents again gives back the existing version, as W&B does. The run's
directory records what it logged (`logged_artifacts.jsonl`). The newest version carries the alias "latest"; an
alias given to a version is taken off the one that had it, as W&B moves aliases.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import urllib.parse
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from runhive.errors import Error, UsageError
from runhive.protocol import artifact_store as _store
from runhive.protocol.artifact_store import ArtifactNotSupportedError
from runhive.sdk.data_types._base import sha256_file

from ._metadata import validate_metadata

NAME_RE = re.compile(r"^[a-zA-Z0-9_\-.]+$")
MAX_NAME = 128
DEFAULT_MAX_OBJECTS = 10_000_000  # W&B's limit on the files one add_reference() may track
builtin_type = type  # `type` is a parameter name below, as in W&B


class ArtifactFinalizedError(Error):
    """The artifact was logged already; it cannot change any more."""


@dataclass
class ManifestEntry:
    """One file of an artifact: its path inside the artifact, size, sha256 ("" for a reference added without
    checksum), where its bytes are now, and for a reference (`add_reference`) the URI it refers to."""

    path: str
    size: int
    sha256: str
    local_path: str
    ref: str | None = None
    etag: str | None = None  # an http(s) reference's ETag when it was added (checksum=True)

    @property
    def digest(self) -> str:
        """The sha256 of the content; an http(s) reference's ETag; for a reference without either, its URI (as
        W&B, its path)."""
        return self.sha256 or self.etag or self.ref or ""

    def ref_url(self) -> str | None:
        return self.ref

    def to_json(self) -> dict[str, Any]:
        """The entry as a version's manifest keeps it."""
        doc: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256 or None}
        if self.ref:
            doc["ref"] = self.ref
        if self.etag:
            doc["etag"] = self.etag
        return doc


class Manifest:
    """The files of an artifact, by path inside the artifact (`manifest.entries`)."""

    def __init__(self) -> None:
        self.entries: dict[str, ManifestEntry] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def get_entry_by_path(self, path: str) -> ManifestEntry | None:
        return self.entries.get(path)

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in sorted(self.entries.values(), key=lambda e: e.path)]


def _copy_hashing(src: str, dest: str) -> tuple[str, int]:
    out = _store.copy_hashing(src, dest)
    shutil.copystat(src, dest)
    return out


def _entry_path(name: Any, what: str) -> str:
    """A path inside the artifact: relative, '/'-separated, no '..'."""
    text = os.fspath(name) if isinstance(name, (str, os.PathLike)) else name
    if not isinstance(text, str):
        raise TypeError(f"Artifact.{what}: name must be a str, got {type(name).__name__} {name!r}.")
    text = text.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or not parts or ".." in parts:
        raise ValueError(
            f"Artifact.{what}: name={name!r} must be a relative path inside the artifact (no leading '/', "
            "no '..'), e.g. 'model.pt' or 'weights/model.pt'."
        )
    return "/".join(parts)


class Artifact:
    """A set of files logged as one versioned unit (W&B's `wandb.Artifact`)."""

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        incremental: bool = False,
        use_as: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ValueError(
                "Artifact name may only contain alphanumeric characters, dashes, underscores, and dots. "
                f"Invalid name: {name!r}"
            )
        if len(name) > MAX_NAME:
            raise ValueError(f"Artifact name is longer than {MAX_NAME} characters: {name!r}")
        if not isinstance(type, str) or not type:
            raise ValueError(
                f"Artifact type must be a non-empty str such as 'dataset' or 'model', got {type!r}."
            )
        if type == "job" or type.startswith("wandb-"):
            raise ValueError(
                "Artifact types 'job' and 'wandb-*' are reserved for internal use. Please use a different type."
            )
        self._name = name
        self.type = type
        self.description = description
        self._metadata: dict[str, Any] = validate_metadata(metadata)
        self.version: str | None = None
        self.aliases: list[str] = []
        self.tags: list[str] = []
        self.state = "PENDING"
        self.manifest = Manifest()
        self._final = False
        self._staging: str | None = None
        self._logged_dir: str | None = None
        self._run_path = ""  # entity/project/id of the run that logged it
        self._stored: _store.StoredVersion | None = None  # the version in the store, once logged

    # Identity ---------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def source_name(self) -> str:
        """`name:vN` once logged, else the name."""
        return f"{self._name}:{self.version}" if self.version else self._name

    @property
    def metadata(self) -> dict[str, Any]:
        """User metadata, JSON-friendly as W&B makes it (int keys as text, numpy values as Python; `_metadata`)."""
        return self._metadata

    @metadata.setter
    def metadata(self, metadata: Any) -> None:
        self._metadata = validate_metadata(metadata)

    @property
    def digest(self) -> str:
        return _store.manifest_digest([e.to_json() for e in self.manifest.entries.values()])

    @property
    def size(self) -> int:
        return sum(e.size for e in self.manifest.entries.values())

    @property
    def file_count(self) -> int:
        return len(self.manifest.entries)

    @property
    def logged_dir(self) -> str | None:
        """Where the logged version's manifest is (a version file of the artifact store), None before."""
        return self._logged_dir

    @property
    def qualified_name(self) -> str:
        """`entity/project/name:vN` once logged."""
        v = self._stored
        return v.qualified if v is not None else self.source_name

    @property
    def is_link(self) -> bool:
        return False

    @property
    def linked_artifacts(self) -> list[Any]:
        """The linked versions that point at this logged version (none for a draft)."""
        if self._stored is None:
            return []
        return list(_links().linked_to(self._stored))

    def __repr__(self) -> str:
        return f"<runhive Artifact {self.source_name} type={self.type!r} files={len(self.manifest)}>"

    # Adding files -----------------------------------------------------------------------------------------
    def _check_mutable(self, what: str) -> None:
        if self._final:
            raise ArtifactFinalizedError(
                f"Artifact.{what}: artifact {self.source_name!r} was already logged and can no longer change; "
                "create a new runhive.Artifact with the same name to log a new version."
            )

    def _staging_dir(self) -> str:
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="runhive-artifact-")
            weakref.finalize(self, shutil.rmtree, self._staging, True)
        return self._staging

    def _stage_tmp(self) -> str:
        fd, tmp = tempfile.mkstemp(dir=self._staging_dir(), prefix=".new-")
        os.close(fd)
        return tmp

    def _place(self, tmp: str, path: str, sha256: str, size: int, overwrite: bool) -> ManifestEntry:
        existing = self.manifest.entries.get(path)
        if existing is not None and existing.sha256 != sha256 and not overwrite:
            os.unlink(tmp)
            raise ValueError(
                f"Cannot add the same path twice: {path!r} is already in artifact {self._name!r} with other "
                "content; pass overwrite=True (add_dir: merge=True) to replace it."
            )
        dest = os.path.join(self._staging_dir(), "files", *path.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(tmp, dest)
        entry = ManifestEntry(path=path, size=size, sha256=sha256, local_path=dest)
        self.manifest.entries[path] = entry
        return entry

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        is_tmp: bool | None = False,
        skip_cache: bool | None = False,
        policy: str | None = "mutable",
        overwrite: bool = False,
    ) -> ManifestEntry:
        """Add one file, as `name` (default: its base name). With policy "mutable" (the default) the file is
        copied now, so later changes to it do not reach the artifact; "immutable" reads it when logged."""
        self._check_mutable("add_file")
        src = os.fspath(local_path)
        if not os.path.isfile(src):
            raise ValueError(f"Path is not a file: {src!r}")
        path = _entry_path(name if name is not None else os.path.basename(src), "add_file")
        if policy not in ("mutable", "immutable", None):
            raise ValueError(f"Artifact.add_file: policy must be 'mutable' or 'immutable', got {policy!r}.")
        if policy == "immutable":
            sha256, size = sha256_file(src)
            existing = self.manifest.entries.get(path)
            if existing is not None and existing.sha256 != sha256 and not overwrite:
                raise ValueError(
                    f"Cannot add the same path twice: {path!r} is already in artifact {self._name!r} with other "
                    "content; pass overwrite=True to replace it."
                )
            entry = ManifestEntry(path=path, size=size, sha256=sha256, local_path=os.path.abspath(src))
            self.manifest.entries[path] = entry
            return entry
        tmp = self._stage_tmp()
        try:
            sha256, size = _copy_hashing(src, tmp)
        except BaseException:
            os.unlink(tmp)
            raise
        return self._place(tmp, path, sha256, size, overwrite)

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        skip_cache: bool | None = False,
        policy: str | None = "mutable",
        merge: bool = False,
    ) -> None:
        """Add every file under `local_path` (recursively), under the prefix `name` inside the artifact."""
        self._check_mutable("add_dir")
        root = os.fspath(local_path)
        if not os.path.isdir(root):
            raise ValueError(f"Path is not a directory: {root!r}")
        prefix = _entry_path(name, "add_dir") if name not in (None, "", ".", "/") else ""
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fname in sorted(filenames):
                full = os.path.join(dirpath, fname)
                if not os.path.isfile(full):
                    continue  # broken symlinks, sockets
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                self.add_file(full, f"{prefix}/{rel}" if prefix else rel, policy=policy, overwrite=merge)

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "w", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Write a file straight into the artifact: `with artifact.new_file("notes.txt") as f: f.write(...)`.
        Mode "w" (or "wb") replaces a file of that name; "x" refuses one that exists."""
        self._check_mutable("new_file")
        path = _entry_path(name, "new_file")
        if not any(c in mode for c in "wx") or "r" in mode or "a" in mode:
            raise ValueError(f"Artifact.new_file: mode must be 'w', 'wb', 'x' or 'xb', got {mode!r}.")
        if "x" in mode and path in self.manifest.entries:
            raise ValueError(f"File with name {name!r} already exists in artifact {self._name!r}.")
        tmp = self._stage_tmp()
        open_mode = mode.replace("x", "w")
        try:
            with open(tmp, open_mode, encoding=encoding if "b" not in mode else None) as f:
                yield f
            sha256, size = sha256_file(tmp)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._place(tmp, path, sha256, size, overwrite=True)

    def add_reference(
        self, uri: Any, name: str | None = None, checksum: bool = True, max_objects: int | None = None
    ) -> list[ManifestEntry]:
        """Add a reference instead of the file's bytes (W&B's `add_reference`). `file://` URIs: a file, or every
        file under a directory (at most `max_objects`), named `name/<relative path>`, with its sha256 when
        `checksum` (checked again on download). Other URIs (`s3://`, `gs://`, `http(s)://`) are kept as URIs
        without reading them: `download()` does not fetch them here."""
        self._check_mutable("add_reference")
        uri_str = uri.ref if isinstance(uri, ManifestEntry) and uri.ref else os.fspath(uri)
        if not isinstance(uri_str, str):
            raise TypeError(f"Artifact.add_reference: uri must be a str, got {builtin_type(uri).__name__}.")
        parsed = urllib.parse.urlparse(uri_str)
        if not parsed.scheme:
            raise ValueError("References must be URIs. To reference a local file, use file://")
        if parsed.scheme != "file":
            base = parsed.path.rstrip("/").rsplit("/", 1)[-1] or parsed.netloc
            path = _entry_path(name if name is not None else base, "add_reference")
            size, etag = 0, None
            if checksum and parsed.scheme in ("http", "https"):
                size, etag = _store.http_head(uri_str, "Artifact.add_reference")
            return [self._put_entry(ManifestEntry(path, size, "", "", ref=uri_str, etag=etag), False)]
        local = _store.local_ref_path(uri_str)
        limit = max_objects or DEFAULT_MAX_OBJECTS
        if os.path.isdir(local):
            out: list[ManifestEntry] = []
            for dirpath, dirnames, filenames in os.walk(local):
                dirnames.sort()
                for fname in sorted(filenames):
                    if len(out) >= limit:
                        raise ValueError(
                            f"Exceeded {limit!r} objects tracked, pass max_objects to add_reference"
                        )
                    physical = os.path.join(dirpath, fname)
                    rel = os.path.relpath(physical, local).replace(os.sep, "/")
                    path = _entry_path(f"{name}/{rel}" if name else rel, "add_reference")
                    ref = f"{uri_str.rstrip('/')}/{urllib.parse.quote(rel)}"
                    out.append(self._put_entry(self._ref_entry(path, physical, ref, checksum), False))
            return out
        if os.path.isfile(local):
            path = _entry_path(name if name is not None else os.path.basename(local), "add_reference")
            return [self._put_entry(self._ref_entry(path, local, uri_str, checksum), False)]
        raise ValueError(f"Path {uri_str!r} must be a valid file or directory path")

    @staticmethod
    def _ref_entry(path: str, physical: str, ref: str, checksum: bool) -> ManifestEntry:
        if checksum:
            sha256, size = sha256_file(physical)
        else:
            sha256, size = "", os.path.getsize(physical)
        return ManifestEntry(path, size, sha256, os.path.abspath(physical), ref=ref)

    def _put_entry(self, entry: ManifestEntry, overwrite: bool) -> ManifestEntry:
        existing = self.manifest.entries.get(entry.path)
        if existing is not None and existing.digest != entry.digest and not overwrite:
            raise ValueError(
                f"Cannot add the same path twice: {entry.path!r} is already in artifact {self._name!r} with other "
                "content; pass another name."
            )
        self.manifest.entries[entry.path] = entry
        return entry

    def add(self, obj: Any, name: str, overwrite: bool = False) -> ManifestEntry:
        """Add a media object (runhive.Image, runhive.Video): its file plus `<name>.<type>.json`; a
        runhive.Table as `<name>.table.json` (its columns and rows, as W&B writes it)."""
        self._check_mutable("add")
        from runhive.sdk.data_types import Table

        if isinstance(obj, Table):
            doc = {
                "_type": "table",
                **obj._table_json(obj.data),
                "ncols": len(obj.columns),
                "nrows": len(obj.data),
            }
            path = _entry_path(f"{name}.table.json", "add")
            if path in self.manifest.entries and not overwrite:
                raise ValueError(
                    f"Artifact.add: {path!r} is already in artifact {self._name!r}; pass overwrite=True."
                )
            with self.new_file(path) as f:
                json.dump(doc, f, ensure_ascii=False)
            return self.manifest.entries[path]
        stored = getattr(obj, "_file", None)
        if stored is None or not callable(getattr(obj, "to_json", None)):
            raise ArtifactNotSupportedError(
                f"Artifact.add: runhive can add media objects (runhive.Image, runhive.Video) to an artifact, not "
                f"{builtin_type(obj).__name__}; write other values with new_file()."
            )
        media_path = f"media/{stored.kind}/{os.path.basename(stored.path)}"
        self.add_file(stored.path, media_path, overwrite=True)
        doc = dict(obj.to_json())
        doc["path"] = media_path
        with self.new_file(f"{name}.{doc['_type']}.json") as f:
            json.dump(doc, f)
        return self.manifest.entries[_entry_path(f"{name}.{doc['_type']}.json", "add")]

    def get_entry(self, name: str) -> ManifestEntry:
        entry = self.manifest.entries.get(_entry_path(name, "get_entry"))
        if entry is None:
            raise KeyError(f"artifact {self._name!r} has no file {name!r}")
        return entry

    def get_path(self, name: str) -> ManifestEntry:
        return self.get_entry(name)

    # Reading a logged version back ----------------------------------------------------------------------------
    @property
    def url(self) -> None:
        return None  # no web app URL for an artifact yet

    def files(self, names: list[str] | None = None, per_page: int = 50) -> list[ManifestEntry]:
        """The artifact's files (all, or those named), by path."""
        entries = sorted(self.manifest.entries.values(), key=lambda e: e.path)
        return [e for e in entries if not names or e.path in names]

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        allow_missing_references: bool = False,
        skip_cache: bool | None = None,
        path_prefix: str | None = None,
        multipart: bool | None = None,
    ) -> str:
        """Copy a logged version's files under `root` (default `./artifacts/NAME:vN`), each checked against its
        sha256 (`file://` references copied from where they point); returns the directory."""
        if self.version is None or self._stored is None:
            raise UsageError(f"Artifact.download: artifact {self._name!r} is not logged yet; log it first.")
        base = (
            os.fspath(root) if root is not None else os.path.join("artifacts", f"{self._name}:{self.version}")
        )
        fetch_files(
            self._stored.root,
            [e.to_json() for e in self.files()],
            base,
            self.qualified_name,
            path_prefix,
            allow_missing_references,
        )
        return base

    def checkout(self, root: str | None = None) -> str:
        return self.download(root)

    def file(self, root: str | None = None) -> str:
        """The one file of a single-file artifact, downloaded; its path."""
        if len(self.manifest.entries) != 1:
            raise ValueError("This method should only be called on an artifact containing a single file.")
        base = self.download(root)
        return os.path.join(base, *next(iter(self.manifest.entries)).split("/"))

    # Logging ----------------------------------------------------------------------------------------------
    def finalize(self) -> None:
        self._final = True

    def is_draft(self) -> bool:
        return self.version is None

    def wait(self, timeout: int | None = None) -> Artifact:
        """Logging is synchronous in runhive: the version exists when log_artifact returns."""
        return self

    def save(self, project: str | None = None, settings: Any = None) -> None:
        """Log the artifact to the active run of this process (W&B's `artifact.save()` inside a run)."""
        from runhive.sdk import _globals

        run = _globals.most_recent_active()
        if run is None:
            raise UsageError(
                "Artifact.save() needs an active run in this process: call runhive.init() first, or use "
                "run.log_artifact(artifact)."
            )
        run.log_artifact(self)

    def link(self, target_path: str, aliases: Iterable[str] | None = None) -> Any:
        """Link this version into the collection `target_path` (`[entity/]project/collection`, or a registry's
        `wandb-registry-<registry>/<collection>`), as W&B's `Artifact.link`: logged first when a draft; the
        linked version (`collection:vN`, "latest" plus `aliases`) points at this one. Returns it."""
        return _links().link(self, target_path, aliases)


class Links(Protocol):
    """Linking and reading links back (`_models`): it reads the store through the read API, which subclasses
    `Artifact`, so it registers itself here (`set_links`) instead of this module importing it."""

    def link(self, artifact: Artifact, target_path: str, aliases: Iterable[str] | None) -> Any: ...

    def linked_to(self, source: _store.StoredVersion) -> list[Any]: ...


_LINKS: Links | None = None


def set_links(links: Links) -> None:
    global _LINKS
    _LINKS = links


def _links() -> Links:
    if _LINKS is None:  # the package's __init__ imports `_models`, which registers: never None after import
        raise RuntimeError("runhive.sdk.artifacts._models was not imported")
    return _LINKS


def _resolve_aliases(aliases: Any) -> list[str]:
    if aliases is None:
        items: list[str] = []
    elif isinstance(aliases, str):
        items = [aliases]
    elif isinstance(aliases, Iterable):
        items = list(aliases)
    else:
        raise TypeError(f"aliases must be a str or a list of str, got {builtin_type(aliases).__name__}.")
    out: list[str] = []
    for a in items:
        if not isinstance(a, str) or not a:
            raise ValueError(f"aliases must be non-empty strings, got {a!r}.")
        if "/" in a or ":" in a:
            raise ValueError(f"Aliases must not contain any of the following characters: /, : (got {a!r}).")
        if a not in out:
            out.append(a)
    if "latest" not in out:
        out.append("latest")
    return out


def fetch_files(
    root: Path,
    files: list[dict[str, Any]],
    base: str,
    what: str,
    path_prefix: str | None = None,
    allow_missing_references: bool = False,
) -> None:
    """Copy a version's `files` (manifest entries) under `base`, each through a temporary file."""
    for f in sorted(files, key=lambda f: str(f["path"])):
        path = str(f["path"])
        if path_prefix and not path.startswith(path_prefix):
            continue
        if allow_missing_references and f.get("ref") and not _store.fetchable(str(f["ref"])):
            continue  # not fetched here (s3://, gs://): skipped before making its directory
        dest = os.path.join(base, *path.split("/"))
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        tmp = f"{dest}.{os.getpid()}.part"
        try:
            _store.fetch(root, f, tmp, f"artifact {what}")
            os.replace(tmp, dest)
        except (ArtifactNotSupportedError, Error):
            if not (allow_missing_references and f.get("ref")):
                raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _data_dir(run: Any) -> Path:
    settings = getattr(run, "settings", None)
    if settings is None:
        from runhive.sdk._setup import base_settings

        settings = base_settings()
    return Path(settings.resolved_data_dir)


def _manifest_files(artifact: Artifact, root: Path) -> list[dict[str, Any]]:
    """The artifact's entries as a manifest, each file's bytes put in the store's objects."""
    staging = artifact._staging
    files = []
    for e in sorted(artifact.manifest.entries.values(), key=lambda e: e.path):
        if not e.ref:
            # A staged copy is private: its sha256 is trusted; a file added with policy="immutable" is hashed again.
            staged = staging is not None and e.local_path.startswith(staging + os.sep)
            e.sha256, e.size = _store.put_object(root, e.local_path, e.sha256 if staged else None)
        files.append(e.to_json())
    return files


def log_artifact(run: Any, artifact: Artifact, aliases: Any = None, tags: Any = None) -> Artifact:
    """Store `artifact` as the next version of its name in `run`'s project (or find the version with the same
    contents); returns it with `version` set."""
    if not isinstance(artifact, Artifact):
        raise ValueError(
            "You must pass an instance of runhive.Artifact or a valid file path to log_artifact, got "
            f"{builtin_type(artifact).__name__}."
        )
    if artifact.version is not None:
        raise UsageError(
            f"artifact {artifact.source_name!r} was already logged; create a new runhive.Artifact with the same "
            "name to log a new version."
        )
    resolved = _resolve_aliases(aliases)
    tag_list = [str(t) for t in ([tags] if isinstance(tags, str) else (tags or []))]
    run_dir = getattr(run, "dir", "")
    if not run_dir:
        raise UsageError(f"cannot log artifact {artifact.name!r}: the run has no directory.")
    entity, project, run_id = (str(getattr(run, k, "") or "") for k in ("entity", "project", "id"))
    metadata = validate_metadata(artifact.metadata)  # again: the dict may have changed since it was set
    root = _store.artifacts_root(_data_dir(run))
    artifact.finalize()
    try:
        files = _manifest_files(artifact, root)
        doc = {
            "entity": entity,
            "project": project,
            "name": artifact.name,
            "type": artifact.type,
            "description": artifact.description,
            "metadata": metadata,
            "tags": tag_list,
            "digest": _store.manifest_digest(files),
            "created_at": time.time(),
            "run": f"{entity}/{project}/{run_id}",
            "files": files,
        }
        stored, _ = _store.commit(root, doc, resolved)
    except BaseException:
        artifact._final = False
        raise
    try:
        os.makedirs(run_dir, exist_ok=True)
        _store.append_line(run_dir, _store.LOGGED, {"artifact": stored.qualified, "time": time.time()})
    except OSError as exc:  # the version exists; only run.logged_artifacts() will miss it
        from runhive.sdk._termlog import LazyLogger

        LazyLogger().warning("could not record artifact %s in %s: %s", stored.qualified, run_dir, exc)
    artifact.version = stored.version
    artifact.aliases = list(stored.aliases)
    artifact.tags = list(stored.doc.get("tags") or tag_list)
    artifact.state = "COMMITTED"
    artifact._stored = stored
    artifact._logged_dir = str(stored.path)
    artifact._run_path = str(stored.doc.get("run") or "")
    for e in artifact.manifest.entries.values():
        if not e.ref:
            e.local_path = str(_store.object_path(root, e.sha256))
    if artifact._staging is not None:
        shutil.rmtree(artifact._staging, ignore_errors=True)
        artifact._staging = None
    return artifact


def artifact_from_path(run_id: str, path: Any, name: str | None, type: str | None) -> Artifact:
    """W&B's `run.log_artifact(path)`: name `run-<id>-<basename>`, type "unspecified" unless given."""
    local = os.fspath(path)
    base = os.path.basename(os.path.normpath(local))
    art = Artifact(name or f"run-{run_id}-{base}", type or "unspecified")
    if os.path.isfile(local):
        art.add_file(local)
    elif os.path.isdir(local):
        art.add_dir(local)
    elif "://" in local:
        art.add_reference(local)
    else:
        raise ValueError(f"log_artifact: path {local!r} must be an existing file or directory.")
    return art
