"""The local backend's files and artifacts: what runs keep in their directories, and the artifact store.

A run's files are under `<run.dir>/files/` (`run.save`, `log_code`, `upload_file`). Artifact versions are in the
artifact store under the data directory (`runhive.protocol.artifact_store`: objects by sha256, versions numbered per
project); a run's directory lists the versions it logged (`logged_artifacts.jsonl`) and used
(`used_artifacts.jsonl`), and each version names the run that created it.

Stores from before the artifact store kept each version in the logging run's directory,
`<run.dir>/artifacts/<name>/v<N>/` with a `manifest.json` (numbered per run). Those are migrated on first read:
imported into the artifact store in the order they were logged (so numbered per project, identical contents
becoming one version), and marked with a `migrated.json` naming the version they became; the old directories are
left in place. Lines of `used_artifacts.jsonl` that name such a directory follow that mark.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runhive.errors import Error, UsageError
from runhive.protocol import artifact_store as store
from runhive.sdk._termlog import LazyLogger

from ._base import ArtifactRecord, FileRecord, RunRecord

logger = LazyLogger()

MANIFEST = "manifest.json"  # of a version directory in the old per-run layout
MIGRATED = "migrated.json"  # beside it, once migrated: {"artifact": "entity/project/name:vN"}
USED = store.USED
_VERSION = re.compile(r"^v\d+$")


def _files_dir(run: RunRecord) -> Path | None:
    return Path(run.dir) / "files" if run.dir else None


def run_files(run: RunRecord) -> list[FileRecord]:
    base = _files_dir(run)
    if base is None or not base.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for fname in sorted(filenames):
            full = Path(dirpath) / fname
            try:
                st = full.stat()
            except OSError:
                continue
            rel = full.relative_to(base).as_posix()
            out.append(FileRecord(name=rel, size=st.st_size, updated_at=st.st_mtime, handle=full))
    return sorted(out, key=lambda f: f.name)


def safe_relative(name: str, what: str) -> list[str]:
    """`name` as the parts of a relative path inside a directory: no leading '/', no '..'."""
    text = str(name).replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or not parts or ".." in parts:
        raise UsageError(f"{what}: {name!r} must be a relative path (no leading '/', no '..').")
    return parts


def download_file(file: FileRecord, dest: str) -> None:
    src = Path(file.handle)
    if not src.is_file():
        raise Error(f"file {file.name!r} is gone from {src.parent}")
    shutil.copyfile(src, dest)


def upload_file(run: RunRecord, local_path: str, name: str) -> FileRecord:
    base = _files_dir(run)
    if base is None or not Path(run.dir).is_dir():
        raise UsageError(
            f"run {run.id}'s directory is gone ({run.dir!r}): there is nowhere to keep the file."
        )
    dest = base.joinpath(*safe_relative(name, "upload_file"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.copyfile(local_path, tmp)
    os.replace(tmp, dest)
    st = dest.stat()
    return FileRecord(
        name=dest.relative_to(base).as_posix(), size=st.st_size, updated_at=st.st_mtime, handle=dest
    )


# Artifacts ---------------------------------------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def record_of(v: store.StoredVersion) -> ArtifactRecord:
    doc = v.doc
    created = doc.get("created_at")
    return ArtifactRecord(
        entity=v.entity,
        project=v.project,
        name=v.name,
        version=v.version,
        type=str(doc.get("type") or ""),
        aliases=list(v.aliases),
        tags=[str(t) for t in doc.get("tags") or []],
        description=doc.get("description"),
        metadata=dict(doc.get("metadata") or {}),
        files=[f for f in doc.get("files") or [] if isinstance(f, dict)],
        run_id=str(doc.get("run") or "").rpartition("/")[2],
        created_at=float(created) if isinstance(created, (int, float)) else 0.0,
        handle=v,
    )


def _migrate_one(root: Path, run_path: str, run_dir: str, vdir: Path, doc: dict[str, Any]) -> str | None:
    """Import one version directory of the old per-run layout; the version it became (`entity/project/name:vN`)."""
    entity, project, _ = [*run_path.split("/"), "", ""][:3]
    try:
        files = []
        for f in doc.get("files") or []:
            parts = safe_relative(str(f.get("path") or ""), f"artifact in {vdir}")
            sha, size = store.put_object(root, vdir.joinpath(*parts), f.get("sha256") or None)
            files.append({"path": "/".join(parts), "size": size, "sha256": sha})
        created = doc.get("created_at")
        if not isinstance(created, (int, float)):
            created = (vdir / MANIFEST).stat().st_mtime
        new = {
            "entity": entity,
            "project": project,
            "name": str(doc.get("name") or vdir.parent.name),
            "type": str(doc.get("type") or "unspecified"),
            "description": doc.get("description"),
            "metadata": dict(doc.get("metadata") or {}),
            "tags": [str(t) for t in doc.get("tags") or []],
            "digest": store.manifest_digest(files),
            "created_at": float(created),
            "run": run_path,
            "files": files,
            "migrated_from": str(vdir),
        }
        aliases = [str(a) for a in doc.get("aliases") or [] if a != "latest"]
        stored, _ = store.commit(root, new, aliases)
    except (OSError, ValueError, Error) as exc:
        logger.warning("artifact version %s could not be moved into the artifact store: %s", vdir, exc)
        return None
    try:
        store.append_line(run_dir, store.LOGGED, {"artifact": stored.qualified, "time": float(created)})
        tmp = vdir / f".{MIGRATED}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"artifact": stored.qualified}) + "\n", encoding="utf-8")
        os.replace(tmp, vdir / MIGRATED)
    except OSError as exc:  # read-only: migrated again next time, which finds the same version (same digest)
        logger.debug("could not mark %s as migrated: %s", vdir, exc)
    return stored.qualified


def _legacy_versions(run: RunRecord) -> list[tuple[float, Path, dict[str, Any]]]:
    if not run.dir:
        return []
    base = Path(run.dir) / "artifacts"
    if not base.is_dir():
        return []
    out = []
    for name_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for vdir in (p for p in name_dir.iterdir() if _VERSION.match(p.name)):
            if (vdir / MIGRATED).exists():
                continue
            doc = _read_json(vdir / MANIFEST)
            if doc is not None:
                created = doc.get("created_at")
                out.append((float(created) if isinstance(created, (int, float)) else 0.0, vdir, doc))
    return out


def migrate(root: Path, runs: Iterable[RunRecord]) -> None:
    """Move the old per-run artifact versions of `runs` into the artifact store, oldest first."""
    pending = [
        (created, f"{run.entity}/{run.project}/{run.id}", run.dir, vdir, doc)
        for run in runs
        for created, vdir, doc in _legacy_versions(run)
    ]
    for _, run_path, run_dir, vdir, doc in sorted(pending, key=lambda p: (p[0], str(p[3]))):
        _migrate_one(root, run_path, run_dir, vdir, doc)


def _migrated(root: Path, doc: dict[str, Any]) -> str | None:
    """The version a `used_artifacts.jsonl` line of the old layout (naming a directory) stands for."""
    vdir = Path(str(doc["directory"]))
    mark = _read_json(vdir / MIGRATED)
    if mark is not None:
        return str(mark.get("artifact") or "") or None
    manifest = _read_json(vdir / MANIFEST)
    if manifest is None:
        return None
    run_dir = str(vdir.parent.parent.parent)
    return _migrate_one(root, str(doc.get("run_path") or "//"), run_dir, vdir, manifest)


def artifact_versions(
    runs: Iterable[RunRecord], data_dir: Path, entity: str | None, project: str | None
) -> list[ArtifactRecord]:
    root = store.artifacts_root(data_dir)
    migrate(root, runs)
    return [record_of(v) for v in store.versions(root, entity, project)]


def _lookup_all(root: Path, names: Iterable[str]) -> list[ArtifactRecord]:
    out: list[ArtifactRecord] = []
    seen: set[str] = set()
    for q in names:
        if q in seen:
            continue
        seen.add(q)
        v = store.lookup(root, q)
        if v is not None:
            out.append(record_of(v))
    return out


def logged_artifacts(run: RunRecord, data_dir: Path) -> list[ArtifactRecord]:
    """The versions `run` created or logged again (identical contents), oldest first."""
    root = store.artifacts_root(data_dir)
    migrate(root, [run])
    run_path = f"{run.entity}/{run.project}/{run.id}"
    created = [
        v.qualified for v in store.versions(root, run.entity, run.project) if v.doc.get("run") == run_path
    ]
    listed = [str(d.get("artifact") or "") for d in store.read_lines(run.dir, store.LOGGED)]
    return sorted(_lookup_all(root, [*created, *listed]), key=lambda r: (r.created_at, r.qualified))


def _used_names(root: Path, run: RunRecord) -> list[str]:
    out = []
    for doc in store.read_lines(run.dir, USED):
        q = _migrated(root, doc) if doc.get("directory") else str(doc.get("artifact") or "")
        if q:
            out.append(q)
    return out


def used_artifacts(run: RunRecord, data_dir: Path) -> list[ArtifactRecord]:
    return _lookup_all(store.artifacts_root(data_dir), _used_names(store.artifacts_root(data_dir), run))


def artifact_users(runs: Iterable[RunRecord], data_dir: Path, artifact: ArtifactRecord) -> list[RunRecord]:
    root = store.artifacts_root(data_dir)
    return [run for run in runs if artifact.qualified in _used_names(root, run)]


def download_artifact_file(artifact: ArtifactRecord, path: str, dest: str) -> None:
    version = artifact.handle
    if not isinstance(version, store.StoredVersion):
        raise Error(f"artifact {artifact.qualified} is not in the local artifact store")
    for f in artifact.files:
        if f.get("path") == path:
            store.fetch(version.root, f, dest, f"artifact {artifact.qualified}")
            return
    raise KeyError(f"artifact {artifact.qualified} has no file {path!r}")
