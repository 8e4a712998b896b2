"""`runhive artifact ls | get | put` (W&B's `wandb artifact`), over the artifacts runhive stores today.

`log_artifact` keeps an artifact's files in the artifact store under the data directory (objects by sha256,
versions numbered per project; `runhive.protocol.artifact_store`). The read path is `runhive.Api()`'s
(`runhive.apis.public._artifacts`, through the read backend), so `NAME:vN` names one version of a project and an
alias such as `latest` the version that carries it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from runhive.apis.backends._base import ArtifactRecord
from runhive.apis.public._api import Api
from runhive.apis.public._artifacts import StoredArtifact, pick, split_artifact_path
from runhive.errors import UsageError


def versions(project: str | None) -> list[ArtifactRecord]:
    """Every complete artifact version logged by the runs of `project` ("project" or "entity/project")."""
    entity, _, name = (project or "").rpartition("/")
    with Api() as api:
        return api._backend.artifact_versions(entity or None, name or api.settings.project or "Uncategorized")


def find(project: str, name: str, alias: str) -> ArtifactRecord:
    """The version `name:alias` names in `project`; UsageError when there is none or several."""
    return pick([v for v in versions(project) if v.name == name], name, alias, project)


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
    latest: dict[str, ArtifactRecord] = {}
    counts: dict[str, int] = {}
    for v in sorted(all_versions, key=lambda v: v.created_at):
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
        updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v.created_at))
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


def download(art: StoredArtifact, root: Path, progress: Any = None) -> int:
    """Copy the version's files under `root`, each checked against the manifest's sha256; the number copied."""
    task = progress.add_task(art.qualified_name, total=art.size) if progress is not None else None
    n = 0
    for entry in art.files():
        entry.download(str(root))  # type: ignore[attr-defined]
        n += 1
        if progress is not None:
            progress.advance(task, entry.size)
    return n


def cmd_get(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Api() as api:
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
            n = download(StoredArtifact(api._backend, v), root, p)
    console.print(f"Artifact downloaded to {escape(str(root.resolve()))} ({n} file{'' if n == 1 else 's'})")
    return 0


def cmd_put(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from runhive.sdk._init import init
    from runhive.sdk.artifacts import Artifact

    if "://" in args.path:
        raise UsageError(
            "runhive artifact put takes a local file or directory; to log a reference (file://, s3://), use "
            "Artifact.add_reference() in Python"
        )
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
