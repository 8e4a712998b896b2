"""`runhive sync --dry-run` (what a sync would do, without touching anything) and `runhive sync --clean` (delete
the directories of runs already synced, as W&B's `wandb sync --clean` did up to 0.29).

A run is synced when its directory holds the `.synced` marker the daemon writes once the run is in the store with
a settled state. Only such directories are cleaned: a run written online has no marker, and its directory is the only
copy of its WAL and files, so `--clean` never deletes it. What the store holds (history, config, summary) stays;
what only the directory held goes: the WAL (so `runhive store rebuild` can no longer recreate the run), saved
files, media, and the record of which artifacts the run used (the artifact store, under the data directory, keeps
the versions). The listing says so before asking.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path
from typing import Any

SYNCED = ".synced"


def is_offline(wal: Path) -> bool:
    """A run written offline: `init()` names its directory `offline-run-<time>-<id>`."""
    return wal.parent.name.startswith("offline-run-")


def _run_id(wal: Path) -> str:
    return wal.name.removeprefix("run-").removesuffix(".rhwal")


def started_at(run_dir: Path) -> float:
    """When the run started: the `<YYYYMMDD_HHMMSS>` of its directory's name, else the directory's mtime."""
    parts = run_dir.name.removeprefix("offline-").split("-")
    if len(parts) >= 3:
        try:
            return time.mktime(time.strptime(parts[1], "%Y%m%d_%H%M%S"))
        except ValueError:
            pass
    return run_dir.stat().st_mtime


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def plan(wals: list[Path], args: argparse.Namespace) -> list[tuple[Path, str, str, bool, str]]:
    """(WAL, run id, "offline"/"online", synced, what a sync would do) for each WAL, as the daemon decides."""
    out = []
    for wal in wals:
        offline = is_offline(wal)
        synced = (wal.parent / SYNCED).exists()
        if not offline and not args.include_online:
            action = "skip: written online (--include-online replays it)"
        elif synced and not args.include_synced:
            action = "skip: already synced (--include-synced checks it again)"
        elif offline and not args.include_offline:
            action = "skip: offline (--no-include-offline)"
        else:
            target = [
                f"{k} {v}"
                for k, v in (("entity", args.entity), ("project", args.project), ("id", args.id))
                if v
            ]
            action = "sync" + (f" ({', '.join(target)})" if target else "")
        out.append((wal, _run_id(wal), "offline" if offline else "online", synced, action))
    return out


def dry_run(console: Any, wals: list[Path], args: argparse.Namespace) -> None:
    from rich.markup import escape
    from rich.table import Table

    rows = plan(wals, args)
    table = Table(title="runhive sync --dry-run: nothing is changed")
    for col in ("run", "written", "synced", "would", "directory"):
        table.add_column(col, overflow="fold")
    for wal, run_id, kind, synced, action in rows:
        style = "green" if action.startswith("sync") else "dim"
        table.add_row(
            escape(run_id),
            kind,
            "yes" if synced else "no",
            f"[{style}]{escape(action)}[/]",
            escape(_display(wal.parent)),
        )
    console.print(table)
    n = sum(1 for r in rows if r[4].startswith("sync"))
    console.print(
        f"{len(rows)} run{'' if len(rows) == 1 else 's'}: {n} would be synced, {len(rows) - n} skipped"
    )


def _size(path: Path) -> tuple[int, int]:
    """(bytes, files other than the WAL and markers) under `path`."""
    total = kept = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            if not (name.endswith(".rhwal") or name.startswith(".sync")):
                kept += 1
    return total, kept


def clean(console: Any, wals: list[Path], old_hours: float, force: bool) -> int:
    """Delete synced run directories started more than `old_hours` ago, after asking unless `force`."""
    from rich.markup import escape
    from rich.table import Table

    dirs: list[Path] = []
    for wal in wals:
        d = wal.parent
        if d not in dirs and (d / SYNCED).is_file() and not d.is_symlink():
            dirs.append(d)
    since = time.time() - old_hours * 3600
    cwd = Path.cwd().resolve()
    old = [d for d in dirs if started_at(d) <= since and not cwd.is_relative_to(d.resolve())]
    if not old:
        console.print(
            f"no synced runs started more than {old_hours:g} hours ago ({len(dirs)} synced, of {len(wals)} runs)"
        )
        return 0
    table = Table(title=f"synced runs started more than {old_hours:g} hours ago")
    for col in ("directory", "started", "size", "files only here"):
        table.add_column(col, overflow="fold")
    for d in old:
        size, kept = _size(d)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started_at(d)))
        table.add_row(escape(_display(d)), started, f"{size / 2**20:.1f} MiB", str(kept))
    console.print(table)
    console.print(
        "The store keeps their history, config, summary and artifact versions; their WALs (so `runhive store "
        "rebuild` cannot recreate them), saved files, media and records of artifacts used are deleted with the "
        "directories."
    )
    if not force:
        try:
            answer = console.input(
                f"Remove {len(old)} run director{'y' if len(old) == 1 else 'ies'}? \\[y/N] "
            )
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            console.print("nothing removed")
            return 1
    for d in old:
        shutil.rmtree(d)
    console.print(f"removed {len(old)} run director{'y' if len(old) == 1 else 'ies'}")
    return 0
