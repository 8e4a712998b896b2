"""`runhive pull RUN` and `runhive restore RUN` (W&B's `wandb pull` / `wandb restore`), from the local store.

RUN is `entity/project/run_id`, `project/run_id`, `run_id`, or W&B's `project:run_id` / `entity/project:run_id`;
`-p` / `-e` fill in what it leaves out.

- `pull` copies the run's files (what `run.save()`, `save_code` and media put under `<run.dir>/files/`) into the
  current directory, keeping their relative paths; a file already there with the same content is left alone.
- `restore` writes the run's config to `./runhive/config.yaml` in W&B's format (`wandb_version: 1`, each key as
  `{desc, value}`; where `wandb restore` writes `./wandb/config.yaml`), copies the code the run saved
  (`files/code/`) into the current directory, and says which git commit the run recorded and where its
  `diff.patch` is. Unlike W&B it does not check the commit out or apply the patch (nor start a Docker image): it
  prints the commands.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from runhive.errors import Error, UsageError


def run_path(spec: str, project: str | None, entity: str | None) -> str:
    """W&B's run spellings as `Api().run()`'s `entity/project/run_id`."""
    text = spec.strip().strip("/")
    if ":" in text:
        head, _, run_id = text.rpartition(":")
        text = f"{head}/{run_id}"
    parts = [p for p in text.split("/") if p and p != "runs"]
    if not parts or len(parts) > 3:
        raise UsageError(f"run {spec!r}: use entity/project/run_id, project/run_id, project:run_id or run_id")
    if len(parts) == 1 and project:
        parts.insert(0, project)
    if len(parts) == 2 and entity:
        parts.insert(0, entity)
    return "/".join(parts)


def find_run(spec: str, project: str | None, entity: str | None) -> Any:
    from runhive.apis.public._api import Api

    api = Api()
    try:
        return api.run(run_path(spec, project, entity))
    finally:
        api.close()


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files_dir(run: Any) -> Path:
    if not run.dir or not Path(run.dir).is_dir():
        raise Error(
            f"run {'/'.join(run.path)}: its directory {run.dir or '(none recorded)'} is gone, so its files are too "
            "(runhive keeps run files in the run directory)"
        )
    return Path(run.dir) / "files"


def copy_tree(src: Path, dest: Path, console: Any, what: str) -> tuple[int, int]:
    """Copy the files under `src` to `dest` with a progress bar; (copied, already identical)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.is_symlink()) if src.is_dir() else []
    copied = same = 0
    total = sum(p.stat().st_size for p in files)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task(what, total=total)
        for p in files:
            rel = p.relative_to(src)
            target = dest / rel
            size = p.stat().st_size
            if target.is_file() and target.stat().st_size == size and _digest(target) == _digest(p):
                same += 1
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, target)
                copied += 1
            bar.advance(task, size)
    return copied, same


def cmd_pull(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    run = find_run(args.run, args.project, args.entity)
    src = _files_dir(run)
    copied, same = copy_tree(src, Path.cwd(), console, f"pulling {'/'.join(run.path)}")
    if copied + same == 0:
        console.print(f"run {escape('/'.join(run.path))} has no files")
        return 0
    console.print(
        f"pulled {copied} file{'' if copied == 1 else 's'} of run {escape('/'.join(run.path))} into "
        f"{escape(str(Path.cwd()))}" + (f" ({same} already up to date)" if same else "")
    )
    return 0


def config_yaml(config: dict[str, Any]) -> str:
    """The run's config in W&B's config.yaml form (JSON, a subset of YAML, when PyYAML is missing)."""
    doc: dict[str, Any] = {"wandb_version": 1}
    for key, value in config.items():
        doc[key] = {"desc": None, "value": value}
    try:
        import yaml
    except ImportError:
        return json.dumps(doc, indent=2) + "\n"
    return str(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))


def cmd_restore(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    run = find_run(args.run, args.project, args.entity)
    name = "/".join(run.path)
    config_path = Path("runhive") / "config.yaml"
    config_path.parent.mkdir(exist_ok=True)
    config_path.write_text(config_yaml(dict(run.config)), encoding="utf-8")
    console.print(f"Restored config variables to {escape(str(config_path))}")
    files = _files_dir(run) if run.dir and Path(run.dir).is_dir() else None
    if files is not None and (files / "code").is_dir():
        copied, same = copy_tree(files / "code", Path.cwd(), console, f"restoring code of {name}")
        console.print(
            f"Restored {copied} code file{'' if copied == 1 else 's'}"
            + (f" ({same} unchanged)" if same else "")
        )
    elif files is None:
        console.print(
            f"[yellow]run {escape(name)}'s directory is gone: only its config was restored[/yellow]"
        )
    git = run.metadata.get("git") or {}
    if git.get("commit") and not args.no_git:
        console.print(
            f"The run recorded git commit {escape(str(git['commit']))}"
            + (f" of {escape(str(git['remote']))}" if git.get("remote") else "")
        )
        branch = f"-b runhive/{run.id} " if args.branch else ""
        console.print(f"  to check it out: git checkout {branch}{escape(str(git['commit']))}")
        if git.get("diff") and files is not None and (files / str(git["diff"])).is_file():
            console.print(f"  its uncommitted changes: git apply {escape(str(files / str(git['diff'])))}")
    program = str(run.metadata.get("program") or "")
    if program and not program.startswith(("-", "<")):  # not `python -c` nor a notebook
        cmd = " ".join(["python", str(program), *[str(a) for a in run.metadata.get("args") or []]])
        console.print(f"Run `{escape(cmd)}` to reproduce it")
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("pull", help="copy a run's files into the current directory")
    p.add_argument("run", metavar="RUN", help="entity/project/run_id, project/run_id or run_id")
    p.add_argument("-p", "--project", help="the run's project, when RUN does not name it")
    p.add_argument("-e", "--entity", help="the run's entity, when RUN does not name it")
    p.set_defaults(fn=cmd_pull)
    p = sub.add_parser("restore", help="restore a run's config (runhive/config.yaml) and saved code here")
    p.add_argument("run", metavar="RUN", help="entity/project/run_id, project:run_id or run_id")
    p.add_argument("--no-git", action="store_true", help="do not mention the run's git state")
    p.add_argument(
        "--branch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="suggest a runhive/RUN_ID branch for the commit (default) or a detached checkout",
    )
    p.add_argument("-p", "--project", help="the run's project, when RUN does not name it")
    p.add_argument("-e", "--entity", help="the run's entity, when RUN does not name it")
    p.set_defaults(fn=cmd_restore)
