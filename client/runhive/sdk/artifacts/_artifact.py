"""`runhive.Artifact` (W&B's `wandb.Artifact`): versioned sets of files logged with a run.

`log_artifact(run, artifact)` copies the files into `<run.dir>/artifacts/<name>/v<N>/` (N counts up per name within
that run directory) and writes `manifest.json` beside them last: a version directory without `manifest.json` is an
incomplete one. The newest version carries the alias "latest"; an alias given to a new version is taken off the
older versions' manifests, as W&B moves aliases.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from runhive.errors import Error, UsageError
from runhive.sdk.data_types._base import sha256_file

NAME_RE = re.compile(r"^[a-zA-Z0-9_\-.]+$")
MAX_NAME = 128
MANIFEST = "manifest.json"
_VERSION_RE = re.compile(r"^v(\d+)$")
builtin_type = type  # `type` is a parameter name below, as in W&B


class ArtifactNotSupportedError(Error, NotImplementedError):
    """An Artifact feature runhive does not support yet (references to external storage)."""


class ArtifactFinalizedError(Error):
    """The artifact was logged already; it cannot change any more."""


@dataclass
class ManifestEntry:
    """One file of an artifact: its path inside the artifact, size, sha256 and where its bytes are now."""

    path: str
    size: int
    sha256: str
    local_path: str

    @property
    def digest(self) -> str:
        return self.sha256


class Manifest:
    """The files of an artifact, by path inside the artifact (`manifest.entries`)."""

    def __init__(self) -> None:
        self.entries: dict[str, ManifestEntry] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def get_entry_by_path(self, path: str) -> ManifestEntry | None:
        return self.entries.get(path)

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"path": e.path, "size": e.size, "sha256": e.sha256}
            for e in sorted(self.entries.values(), key=lambda e: e.path)
        ]


def _copy_hashing(src: str, dest: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(1 << 20):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    shutil.copystat(src, dest)
    return h.hexdigest(), size


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
    path = "/".join(parts)
    if path == MANIFEST:
        raise ValueError(
            f"Artifact.{what}: {MANIFEST!r} at the top of an artifact is reserved for runhive's manifest; "
            "give the file another name or put it in a subdirectory (name='meta/manifest.json')."
        )
    return path


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
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"Artifact metadata must be a dict, got {builtin_type(metadata).__name__}.")
        self._name = name
        self.type = type
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.version: str | None = None
        self.aliases: list[str] = []
        self.tags: list[str] = []
        self.state = "PENDING"
        self.manifest = Manifest()
        self._final = False
        self._staging: str | None = None
        self._logged_dir: str | None = None
        self._run_path = ""  # entity/project/id of the run that logged it

    # Identity ---------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def source_name(self) -> str:
        """`name:vN` once logged, else the name."""
        return f"{self._name}:{self.version}" if self.version else self._name

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for e in sorted(self.manifest.entries.values(), key=lambda e: e.path):
            h.update(f"{e.path}\0{e.sha256}\n".encode())
        return h.hexdigest()

    @property
    def size(self) -> int:
        return sum(e.size for e in self.manifest.entries.values())

    @property
    def file_count(self) -> int:
        return len(self.manifest.entries)

    @property
    def logged_dir(self) -> str | None:
        """`<run.dir>/artifacts/<name>/vN` once logged."""
        return self._logged_dir

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
    ) -> Any:
        raise ArtifactNotSupportedError(
            f"Artifact.add_reference({str(uri)!r}): runhive does not support artifact references (s3://, gs://, "
            "http://, file://) yet; download the files and use add_file() or add_dir() instead."
        )

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
        sha256; returns the directory."""
        if self.version is None:
            raise UsageError(f"Artifact.download: artifact {self._name!r} is not logged yet; log it first.")
        base = (
            os.fspath(root) if root is not None else os.path.join("artifacts", f"{self._name}:{self.version}")
        )
        for e in self.files():
            if path_prefix and not e.path.startswith(path_prefix):
                continue
            dest = os.path.join(base, *e.path.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            sha256, _ = _copy_hashing(e.local_path, dest)
            if sha256 != e.sha256:
                raise Error(
                    f"artifact {self.source_name}: {e.path} does not match its sha256 (changed on disk?)"
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


def _write_json(path: str, doc: Mapping[str, Any]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def _new_version_dir(base: str) -> tuple[int, str]:
    os.makedirs(base, exist_ok=True)
    taken = [int(m.group(1)) for d in os.listdir(base) if (m := _VERSION_RE.match(d))]
    n = max(taken) + 1 if taken else 0
    while True:
        path = os.path.join(base, f"v{n}")
        try:
            os.mkdir(path)  # atomic: two writers of one run never get the same version
            return n, path
        except FileExistsError:
            n += 1


def _copy_entry(entry: ManifestEntry, dest: str, staged: bool) -> None:
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if staged:
        try:
            os.link(entry.local_path, dest)  # the staging copy is private to the artifact
            return
        except OSError:
            pass
    shutil.copyfile(entry.local_path, dest)


def _move_aliases(base: str, keep: str, aliases: list[str]) -> None:
    for d in os.listdir(base):
        if d == keep or not _VERSION_RE.match(d):
            continue
        path = os.path.join(base, d, MANIFEST)
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        old = doc.get("aliases") or []
        new = [a for a in old if a not in aliases]
        if new != old:
            doc["aliases"] = new
            _write_json(path, doc)


def log_artifact(run: Any, artifact: Artifact, aliases: Any = None, tags: Any = None) -> Artifact:
    """Store `artifact` as the next version of its name in `run`'s directory; returns it with `version` set."""
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
    from runhive.sdk._values import convert

    # JSON-friendly (numpy values, nested dicts; int keys as JSON text, as W&B), refused here if not
    metadata = convert(artifact.metadata, json_keys=True)
    base = os.path.join(run_dir, "artifacts", artifact.name)
    artifact.finalize()
    n, dest = _new_version_dir(base)
    staging = artifact._staging
    entries = sorted(artifact.manifest.entries.values(), key=lambda e: e.path)
    try:
        files = []
        for e in entries:
            target = os.path.join(dest, *e.path.split("/"))
            is_staged = staging is not None and e.local_path.startswith(staging + os.sep)
            _copy_entry(e, target, is_staged)
            files.append({"path": e.path, "size": e.size, "sha256": e.sha256})
        doc = {
            "name": artifact.name,
            "type": artifact.type,
            "description": artifact.description,
            "metadata": metadata,
            "aliases": resolved,
            "tags": tag_list,
            "version": f"v{n}",
            "created_at": time.time(),
            "files": files,
        }
        _write_json(os.path.join(dest, MANIFEST), doc)  # last: it marks the version complete
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        artifact._final = False
        raise
    _move_aliases(base, f"v{n}", resolved)
    artifact.version = f"v{n}"
    artifact.aliases = resolved
    artifact.tags = tag_list
    artifact.state = "COMMITTED"
    artifact._logged_dir = dest
    artifact._run_path = "/".join(str(getattr(run, k, "")) for k in ("entity", "project", "id"))
    for e in entries:
        e.local_path = os.path.join(dest, *e.path.split("/"))
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
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
