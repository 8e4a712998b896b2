"""`runhive sync PATH...`: put offline runs into the store, through the daemon (the store has one writer).

PATH is a run directory, a `runhive/` directory of them, or a run's WAL file (`run-<id>.rhwal`); with no PATH,
`./runhive/` (under `RUNHIVE_DIR` when set). Runs already synced (`.synced` in their directory) and runs that
were written online are skipped unless asked for. Syncing is resumable and idempotent: the daemon continues
from what the store already holds.

W&B's flags: `-p/-e/--id` (another identity), `--include-online`, `--include-synced`, `--no-include-offline`,
`--sync-all`; `--dry-run` and `--clean` (with `--clean-old-hours`, `--clean-force`) are in `_sync_plan`.

To a team server: `--host URL` (the key: `--api-key`, RUNHIVE_API_KEY, or the one `runhive login --host URL`
stored), or without `--host` the server one is logged in to (`runhive login`, RUNHIVE_BASE_URL). The runs go
straight from this process to the server's ingest API (`runhive_service.daemon._upload_sync`), resumable and
idempotent through the server's marks; `--local` syncs into the local store even when logged in.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._sync_plan import clean, dry_run, is_offline

WAL_GLOB = "run-*.rhwal"
_STYLE = {"synced": "green", "skipped": "dim", "partial": "yellow", "failed": "red"}


def _run_dir_order(d: Path) -> str:
    # run-<time>-<id> and offline-run-<time>-<id>: order by start time
    return d.name.removeprefix("offline-")


def find_wals(paths: list[str]) -> tuple[list[Path], list[str]]:
    """The WAL files PATHs name, in start order, without duplicates; and a problem per PATH that names none."""
    found: list[Path] = []
    problems: list[str] = []
    seen: set[Path] = set()

    def add(wal: Path) -> None:
        real = wal.resolve()
        if real not in seen:
            seen.add(real)
            found.append(real)

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            if path.name.endswith(".rhwal"):
                add(path)
            else:
                problems.append(f"{raw}: not a runhive WAL (run-<id>.rhwal)")
            continue
        if not path.is_dir():
            problems.append(f"{raw}: no such file or directory")
            continue
        own = sorted(path.glob(WAL_GLOB))
        if own:
            for wal in own:
                add(wal)
            continue
        base = path
        if (path / "runhive").is_dir() and not any(path.glob(f"*/{WAL_GLOB}")):
            base = path / "runhive"  # the directory that holds ./runhive/
        runs = sorted(
            (d for d in base.iterdir() if d.is_dir() and not d.is_symlink() and any(d.glob(WAL_GLOB))),
            key=_run_dir_order,
        )
        if not runs:
            problems.append(f"{raw}: no runhive runs in it")
        for d in runs:
            for wal in sorted(d.glob(WAL_GLOB)):
                add(wal)
    return found, problems


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cmd_sync(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from runhive.errors import Error
    from runhive.protocol import messages as pb
    from runhive.sdk._setup import base_settings
    from runhive.transport._daemon import Connection, connect
    from runhive.transport._wire import RpcError

    console = Console()
    settings = base_settings()
    default_dir = str(settings.resolved_root_dir / "runhive")
    paths = list(args.paths) or [default_dir]
    if args.sync_all and default_dir not in paths:
        paths.append(default_dir)
    wals, problems = find_wals(paths)
    for p in problems:
        console.print(f"[red]runhive sync:[/red] {escape(p)}")
    if args.clean:
        return clean(console, wals, args.clean_old_hours, args.clean_force) or (1 if problems else 0)
    if args.dry_run:
        dry_run(console, wals, args)
        return 1 if problems else 0
    if not args.include_offline:
        wals = [w for w in wals if not is_offline(w)]
    if args.id and len(wals) > 1:
        console.print("[red]runhive sync:[/red] --id names one run: give exactly one run directory with it")
        return 2
    if not wals:
        return 1 if problems else 0
    try:
        server = _server_target(args, settings)
    except Error as exc:
        console.print(f"[red]runhive sync:[/red] {escape(str(exc))}")
        return 1
    if server is not None:
        return _to_server(console, wals, server, args) or (1 if problems else 0)
    counts = {"synced": 0, "skipped": 0, "partial": 0, "failed": 0}
    conn: Connection | None = None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[records]} records"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        for wal in wals:
            label = _display(wal.parent)
            task = progress.add_task(escape(label), total=None, records=0)
            final: Any = None
            error = ""
            fatal = False
            try:
                if conn is None:
                    conn = connect(
                        settings.resolved_service_dir, start=True, wait=settings.resolved_service_wait
                    )
                req = pb.SyncRequest(
                    session=conn.session,
                    wal_path=str(wal),
                    include_online=args.include_online,
                    include_synced=args.include_synced,
                    entity=args.entity or "",
                    project=args.project or "",
                    run_id=args.id or "",
                )
                for msg in conn.stub.Sync(req):
                    if msg.run_id:
                        progress.update(task, description=escape(msg.run_id))
                    progress.update(
                        task, total=msg.bytes_total or None, completed=msg.bytes_done, records=msg.records
                    )
                    if msg.done:
                        final = msg
            except RpcError as exc:
                error = (
                    f"runhive-service failed: {exc.code().name}: {exc.details()}; run `runhive sync` again"
                )
                if conn is not None:
                    conn.close()
                conn = None
            except Error as exc:  # no daemon to talk to: the other runs would fail the same way
                error, fatal = str(exc), True
            progress.remove_task(task)
            if final is None:
                outcome, run_id, text = (
                    "failed",
                    "",
                    error or "runhive-service ended the sync without an answer",
                )
            else:
                outcome, run_id, text = final.outcome or "failed", final.run_id, final.message
                for dmg in final.damage:
                    progress.console.print(f"  [yellow]WAL damage[/yellow] {escape(dmg)}")
            counts[outcome] = counts.get(outcome, 0) + 1
            name = f" ({final.name})" if final is not None and final.name else ""
            progress.console.print(
                f"[{_STYLE.get(outcome, 'red')}]{outcome:<7}[/] {escape(run_id or label)}{escape(name)}: "
                f"{escape(text)}  [dim]{escape(label)}[/dim]"
            )
            if fatal:
                break
    if conn is not None:
        conn.close()
    console.print(
        f"{len(wals)} run{'' if len(wals) == 1 else 's'}: {counts['synced']} synced, {counts['skipped']} skipped, "
        f"{counts['partial']} partial, {counts['failed']} failed"
    )
    return 1 if counts["failed"] or problems else 0


def _server_target(args: argparse.Namespace, settings: Any) -> tuple[str, str] | None:
    """(URL, key) of the team server to sync to, or None (the local store)."""
    from runhive.sdk._credentials import server_for

    if getattr(args, "local", False):
        return None
    if args.host:
        import os

        # RUNHIVE_API_KEY is the key whatever the host (as WANDB_API_KEY); else the one stored for that host.
        return server_for(args.host, args.api_key or os.environ.get("RUNHIVE_API_KEY", "").strip() or None)
    return server_for(settings.base_url, args.api_key or settings.api_key)


def _to_server(console: Any, wals: list[Path], server: tuple[str, str], args: argparse.Namespace) -> int:
    from rich.markup import escape

    from runhive.errors import Error
    from runhive.sdk._settings import default_entity

    try:
        from runhive_service.daemon._upload_sync import sync_to_server
    except ImportError as exc:
        raise Error(f"runhive sync to a team server needs runhive-service ({exc})") from None
    url, key = server
    counts = {"synced": 0, "skipped": 0, "partial": 0, "failed": 0}
    for wal in wals:
        label = _display(wal.parent)
        try:
            res = sync_to_server(
                wal,
                url,
                key,
                entity=args.entity or "",
                project=args.project or "",
                run_id=args.id or "",
                local_entity=default_entity(),
                include_online=args.include_online,
            )
            outcome, run, text = res.outcome, res.run, res.message
        except OSError as exc:
            outcome, run, text = "failed", "", f"cannot read the run: {exc}"
        counts[outcome] = counts.get(outcome, 0) + 1
        console.print(
            f"[{_STYLE.get(outcome, 'red')}]{outcome:<7}[/] {escape(run or label)}: {escape(text)}  "
            f"[dim]{escape(label)} → {escape(url)}[/dim]"
        )
    console.print(
        f"{len(wals)} run{'' if len(wals) == 1 else 's'} to {url}: {counts['synced']} synced, "
        f"{counts['skipped']} skipped, {counts['partial']} partial, {counts['failed']} failed"
    )
    return 1 if counts["failed"] else 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sync",
        help="put offline runs into the store (resumable, idempotent)",
        description="Replay offline runs' WALs into the store through the daemon. PATH is a run directory, "
        "a runhive/ directory of them, or a run-<id>.rhwal file; default ./runhive/.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="run directory, runhive/ directory or WAL file")
    p.add_argument(
        "--include-online",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also replay runs that were written online",
    )
    p.add_argument(
        "--include-synced",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also check runs already marked synced (.synced)",
    )
    p.add_argument(
        "--include-offline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="sync runs written offline (default; --no-include-offline leaves them)",
    )
    p.add_argument("-p", "--project", help="store the run(s) in this project instead of the recorded one")
    p.add_argument("-e", "--entity", help="store the run(s) under this entity instead of the recorded one")
    p.add_argument("--id", help="store the run under this run id (one run only)")
    p.add_argument("--sync-all", action="store_true", help="also every run under ./runhive/ (the default)")
    p.add_argument("--dry-run", action="store_true", help="list what would be synced; change nothing")
    p.add_argument(
        "--clean",
        action="store_true",
        help="delete the directories of runs already synced (.synced) instead of syncing; asks first",
    )
    p.add_argument(
        "--clean-old-hours",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="with --clean: only runs started more than HOURS ago (default 24, as W&B)",
    )
    p.add_argument("--clean-force", action="store_true", help="with --clean: do not ask")
    p.add_argument("--yes", action="store_true", help="no effect: runhive sync never asks (W&B's flag)")
    p.add_argument(
        "--host",
        metavar="URL",
        help="send the runs to this team server (default: the one `runhive login` or RUNHIVE_BASE_URL names)",
    )
    p.add_argument(
        "--api-key", metavar="KEY", help="the key for the server (default: RUNHIVE_API_KEY or the login's)"
    )
    p.add_argument(
        "--local", action="store_true", help="sync into the local store even when logged in to a server"
    )
    p.set_defaults(fn=cmd_sync)
