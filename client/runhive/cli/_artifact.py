"""`runhive artifact ls | get | put` (W&B's `wandb artifact`), over the artifacts runhive stores today.

There is no artifact table in the store yet: `log_artifact` copies an artifact's files into the logging run's
directory, `<run.dir>/artifacts/<name>/v<N>/`, with a `manifest.json` written last (name, type, aliases, files with
sha256). This module is the smallest honest read path over that: it lists a project's runs through `runhive.Api()`
and reads the manifests under each run's `dir`. Two consequences until artifacts get a table of their own:
versions are numbered per run directory, so `NAME:v0` can name a version in several runs (then `get` refuses and
lists them; an alias such as `latest` picks the most recently logged version that carries it); and a run whose
directory is gone (deleted, or on another machine) has no artifacts to show.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runhive.errors import Error, UsageError

MANIFEST = "manifest.json"
_VERSION = re.compile(r"^v\d+$")


@dataclass
class StoredVersion:
    """One logged version of an artifact, as its manifest describes it."""

    name: str
    version: str
    type: str
    aliases: list[str]
    directory: Path
    run_path: str  # entity/project/run_id of the run that logged it
    logged_at: (
        float  # the manifest's mtime: when the version was completed (aliases moving later touch it too)
    )
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(int(f.get("size") or 0) for f in self.files)

    @property
    def qualified(self) -> str:
        entity, project, _ = self.run_path.split("/")
        return f"{entity}/{project}/{self.name}:{self.version}"


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def versions(project: str | None) -> list[StoredVersion]:
    """Every complete artifact version logged by the runs of `project` ("project" or "entity/project")."""
    from runhive.apis.public._api import Api

    api = Api()
    try:
        runs = api.runs(project)
    finally:
        api.close()
    out: list[StoredVersion] = []
    for run in runs:
        if not run.dir:
            continue
        base = Path(run.dir) / "artifacts"
        if not base.is_dir():
            continue
        for name_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            for vdir in sorted(
                (p for p in name_dir.iterdir() if _VERSION.match(p.name)), key=lambda p: int(p.name[1:])
            ):
                manifest = vdir / MANIFEST
                doc = _read_manifest(manifest)
                if doc is None:  # no manifest yet: a version still being written, or one that failed
                    continue
                out.append(
                    StoredVersion(
                        name=str(doc.get("name") or name_dir.name),
                        version=str(doc.get("version") or vdir.name),
                        type=str(doc.get("type") or ""),
                        aliases=[str(a) for a in doc.get("aliases") or []],
                        directory=vdir,
                        run_path=f"{run.entity}/{run.project}/{run.id}",
                        logged_at=manifest.stat().st_mtime,
                        description=doc.get("description"),
                        metadata=dict(doc.get("metadata") or {}),
                        files=[f for f in doc.get("files") or [] if isinstance(f, dict)],
                    )
                )
    return out


def split_artifact_path(path: str, project: str | None, entity: str | None) -> tuple[str, str, str]:
    """`[entity/][project/]name[:version_or_alias]` as ("entity/project" or "project", name, alias)."""
    spec, _, alias = path.partition(":")
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


def find(project: str, name: str, alias: str) -> StoredVersion:
    """The version `name:alias` names in `project`; UsageError when there is none or several."""
    candidates = [v for v in versions(project) if v.name == name]
    if not candidates:
        raise UsageError(f"no artifact named {name!r} in project {project!r}")
    if _VERSION.match(alias):
        found = [v for v in candidates if v.version == alias]
        if len(found) > 1:
            runs = ", ".join(v.run_path for v in found)
            raise UsageError(
                f"{name}:{alias} is in several runs ({runs}): runhive numbers versions per run directory; "
                "name it by an alias instead (e.g. latest)"
            )
    else:
        found = sorted((v for v in candidates if alias in v.aliases), key=lambda v: v.logged_at)[-1:]
    if not found:
        have = sorted({v.version for v in candidates} | {a for v in candidates for a in v.aliases})
        raise UsageError(
            f"artifact {name!r} in {project!r} has no version or alias {alias!r} (it has {', '.join(have)})"
        )
    return found[0]


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def cmd_ls(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    all_versions = [v for v in versions(args.path) if not args.type or v.type == args.type]
    latest: dict[str, StoredVersion] = {}
    counts: dict[str, int] = {}
    for v in sorted(all_versions, key=lambda v: v.logged_at):
        latest[v.name] = v
        counts[v.name] = counts.get(v.name, 0) + 1
    console = Console()
    if not latest:
        console.print(
            f"no artifacts in project {args.path!r}" + (f" of type {args.type!r}" if args.type else "")
        )
        return 0
    table = Table(title=f"artifacts in {args.path}")
    for col in ("type", "updated", "size", "name", "aliases", "versions", "run"):
        table.add_column(col, overflow="fold")
    for name in sorted(latest):
        v = latest[name]
        updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v.logged_at))
        table.add_row(
            escape(v.type),
            updated,
            _human(v.size),
            escape(f"{v.name}:{v.version}"),
            escape(", ".join(v.aliases)),
            str(counts[name]),
            escape(v.run_path),
        )
    console.print(table)
    return 0


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(v: StoredVersion) -> Iterator[tuple[str, Path, int, str | None]]:
    for f in v.files:
        rel = str(f.get("path") or "")
        parts = rel.split("/")
        if not rel or rel.startswith("/") or ".." in parts:
            raise Error(f"artifact {v.qualified}: its manifest names an unsafe path {rel!r}")
        yield rel, v.directory.joinpath(*parts), int(f.get("size") or 0), f.get("sha256")


def download(v: StoredVersion, root: Path, progress: Any = None) -> int:
    """Copy the version's files under `root`, each checked against the manifest's sha256; the number copied."""
    n = 0
    task = progress.add_task(v.qualified, total=v.size) if progress is not None else None
    for rel, src, size, sha in _files(v):
        dest = root.joinpath(*rel.split("/"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not src.is_file():
            raise Error(f"artifact {v.qualified}: {rel} is missing from {v.directory}")
        shutil.copyfile(src, dest)
        if sha and _sha256(dest) != sha:
            raise Error(
                f"artifact {v.qualified}: {rel} does not match its manifest's sha256 (changed on disk?)"
            )
        n += 1
        if progress is not None:
            progress.advance(task, size)
    return n


def cmd_get(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    project, name, alias = split_artifact_path(args.path, None, None)
    v = find(project, name, alias)
    if args.type and v.type != args.type:
        raise UsageError(f"artifact {v.qualified} is of type {v.type!r}, not {args.type!r}")
    root = Path(args.root) if args.root else Path("artifacts") / f"{v.name}:{v.version}"
    console = Console()
    console.print(
        f"Downloading {escape(v.type)} artifact {escape(v.qualified)} (logged by run {escape(v.run_path)})"
    )
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=console, transient=True
    ) as p:
        n = download(v, root, p)
    console.print(f"Artifact downloaded to {escape(str(root.resolve()))} ({n} file{'' if n == 1 else 's'})")
    return 0


def cmd_put(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from runhive.sdk._init import init
    from runhive.sdk.artifacts import Artifact

    if "://" in args.path:
        raise UsageError("runhive artifacts hold files, not references: download the data and put the files")
    local = os.path.normpath(args.path)
    if not os.path.exists(local):
        raise UsageError(f"{args.path}: no such file or directory")
    spec = args.name or os.path.basename(os.path.abspath(local))
    project_path, name, _ = split_artifact_path(spec, args.project, args.entity)
    entity, _, project = project_path.rpartition("/")
    art = Artifact(name, args.type, description=args.description)
    if os.path.isdir(local):
        art.add_dir(local)
    else:
        art.add_file(local)
    run = init(
        project=project,
        entity=entity or None,
        job_type="cli_put",
        config={"path": os.path.abspath(local)},
        id=args.id,
        resume="allow" if args.id or args.resume else None,
        mode="online",
        reinit="finish_previous",
    )
    try:
        run.log_artifact(art, aliases=args.alias or None)
    finally:
        run.finish()
    console = Console()
    console.print(
        f"Artifact {escape(art.name)}:{art.version} ({art.type}, {len(art.manifest)} files) stored with run "
        f"{escape(run.entity)}/{escape(run.project)}/{run.id}; get it with: "
        f"runhive artifact get {escape(run.entity)}/{escape(run.project)}/{escape(art.name)}:latest"
    )
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("artifact", help="list, get and put artifacts (ls, get, put)")
    asub = p.add_subparsers(dest="artifact_command", required=True)
    q = asub.add_parser("ls", help="the latest version of each artifact of a project")
    q.add_argument("path", metavar="PATH", help="project or entity/project")
    q.add_argument("-t", "--type", help="only artifacts of this type")
    q.set_defaults(fn=cmd_ls)
    q = asub.add_parser("get", help="copy an artifact's files to a directory")
    q.add_argument(
        "path", metavar="PATH", help="[entity/]project/name[:version|alias] (default alias: latest)"
    )
    q.add_argument("--root", help="directory to put the files in (default ./artifacts/NAME:VERSION)")
    q.add_argument("--type", help="fail unless the artifact is of this type")
    q.set_defaults(fn=cmd_get)
    q = asub.add_parser(
        "put", help="store a file or directory as a new version of an artifact (in a new run)"
    )
    q.add_argument("path", metavar="PATH", help="a file or directory")
    q.add_argument("-n", "--name", help="[entity/][project/]name (default: the path's base name)")
    q.add_argument("-t", "--type", default="dataset", help="the artifact's type (default dataset)")
    q.add_argument("-d", "--description", help="a description of the artifact")
    q.add_argument(
        "-a", "--alias", action="append", default=[], help="an alias (repeatable; latest is added)"
    )
    q.add_argument("-p", "--project", help="the project, when --name does not give one")
    q.add_argument("-e", "--entity", help="the entity, when --name does not give one")
    q.add_argument("--id", help="log it with this run id (resumed if it exists)")
    q.add_argument("--resume", action="store_true", help="resume the run --id names")
    q.set_defaults(fn=cmd_put)
