"""The local backend's files and artifacts: what runs keep in their directories, not in the store.

A run's files are under `<run.dir>/files/` (`run.save`, `log_code`, `upload_file`). An artifact version is
`<run.dir>/artifacts/<name>/v<N>/` with `manifest.json` written last (name, type, aliases, files with sha256;
`runhive.sdk.artifacts`): a version directory without one is incomplete and not listed. The artifacts a run used
(`run.use_artifact`) are lines of `<run.dir>/used_artifacts.jsonl`, each naming the version's directory and the
run that logged it. A run whose directory is gone (deleted, or on another machine) has no files or artifacts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runhive.errors import Error, UsageError

from ._base import ArtifactRecord, FileRecord, RunRecord

MANIFEST = "manifest.json"
USED = "used_artifacts.jsonl"
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
def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def version_at(vdir: Path, entity: str, project: str, run_id: str) -> ArtifactRecord | None:
    """The complete version in `vdir`; None while it has no manifest (being written, or failed)."""
    manifest = vdir / MANIFEST
    doc = _read_manifest(manifest)
    if doc is None:
        return None
    created = doc.get("created_at")
    if not isinstance(created, (int, float)):
        try:  # a manifest written before it said: its mtime (aliases moving later touch it too)
            created = manifest.stat().st_mtime
        except OSError:
            return None
    return ArtifactRecord(
        entity=entity,
        project=project,
        name=str(doc.get("name") or vdir.parent.name),
        version=str(doc.get("version") or vdir.name),
        type=str(doc.get("type") or ""),
        aliases=[str(a) for a in doc.get("aliases") or []],
        tags=[str(t) for t in doc.get("tags") or []],
        description=doc.get("description"),
        metadata=dict(doc.get("metadata") or {}),
        files=[f for f in doc.get("files") or [] if isinstance(f, dict)],
        run_id=run_id,
        created_at=float(created),
        handle=vdir,
    )


def logged_artifacts(run: RunRecord) -> list[ArtifactRecord]:
    if not run.dir:
        return []
    base = Path(run.dir) / "artifacts"
    if not base.is_dir():
        return []
    out = []
    for name_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        vdirs = sorted(
            (p for p in name_dir.iterdir() if _VERSION.match(p.name)), key=lambda p: int(p.name[1:])
        )
        for vdir in vdirs:
            rec = version_at(vdir, run.entity, run.project, run.id)
            if rec is not None:
                out.append(rec)
    return out


def artifact_versions(runs: Iterable[RunRecord]) -> list[ArtifactRecord]:
    out = [v for run in runs for v in logged_artifacts(run)]
    return sorted(out, key=lambda v: (v.created_at, int(v.version[1:]) if _VERSION.match(v.version) else 0))


def used_entries(run: RunRecord) -> list[dict[str, Any]]:
    if not run.dir:
        return []
    try:
        with open(Path(run.dir) / USED, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(doc, dict) and doc.get("directory"):
            out.append(doc)
    return out


def used_artifacts(run: RunRecord) -> list[ArtifactRecord]:
    out: list[ArtifactRecord] = []
    seen: set[str] = set()
    for doc in used_entries(run):
        vdir = Path(str(doc["directory"]))
        if str(vdir) in seen:
            continue
        seen.add(str(vdir))
        entity, project, run_id = [*str(doc.get("run_path") or "//").split("/"), "", "", ""][:3]
        rec = version_at(vdir, entity, project, run_id)
        if rec is not None:
            out.append(rec)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_file(artifact: ArtifactRecord, path: str) -> tuple[Path, int, str | None]:
    """(where the file's bytes are, its size, its sha256) for the artifact's file `path`."""
    for f in artifact.files:
        if f.get("path") == path:
            parts = safe_relative(path, f"artifact {artifact.qualified}")
            return Path(artifact.handle).joinpath(*parts), int(f.get("size") or 0), f.get("sha256")
    raise KeyError(f"artifact {artifact.qualified} has no file {path!r}")


def download_artifact_file(artifact: ArtifactRecord, path: str, dest: str) -> None:
    src, _, sha = artifact_file(artifact, path)
    if not src.is_file():
        raise Error(f"artifact {artifact.qualified}: {path} is missing from {artifact.handle}")
    shutil.copyfile(src, dest)
    if sha and _sha256(Path(dest)) != sha:
        raise Error(
            f"artifact {artifact.qualified}: {path} does not match its manifest's sha256 (changed on disk?)"
        )
