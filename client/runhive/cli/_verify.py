"""`runhive verify`: check this install end to end (W&B's `wandb verify`, which checks a server), one OK / FAIL /
SKIP line per check, exit 1 when any fails.

Checks: the daemon answers (started if needed); a run in project `runhive-verify` logs rows, config, a saved file
and an artifact and finishes; the read API gives them back as written; an offline run syncs through `runhive sync`;
and, when logged in to a team server (or given `--host`), the server answers `/healthz` and knows the key. The
runs' directories go to a temporary directory removed at the end (their records stay in the store, in
`runhive-verify`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = "runhive-verify"


class Checks:
    def __init__(self, console: Any) -> None:
        self.console = console
        self.failed = 0

    def run(self, name: str, fn: Callable[[], str]) -> bool:
        from rich.markup import escape

        t0 = time.monotonic()
        try:
            detail = fn()
        except Exception as exc:  # a check's failure is reported, and the next check still runs
            self.failed += 1
            self.console.print(f"[red]FAIL[/red] {name:<14} {escape(f'{type(exc).__name__}: {exc}')}")
            return False
        self.console.print(
            f"[green]OK[/green]   {name:<14} {escape(detail)} [dim]({time.monotonic() - t0:.2f} s)[/dim]"
        )
        return True

    def skip(self, name: str, why: str) -> None:
        from rich.markup import escape

        self.console.print(f"[yellow]SKIP[/yellow] {name:<14} {escape(why)}")


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def cmd_verify(args: argparse.Namespace) -> int:
    from rich.console import Console

    from runhive._version import __version__
    from runhive.sdk._setup import base_settings

    console = Console()
    checks = Checks(console)
    settings = base_settings()
    console.print(f"runhive {__version__}, Python {sys.version.split()[0]}, store {settings.store_path}")
    tmp = tempfile.mkdtemp(prefix="runhive-verify-")
    state: dict[str, Any] = {}
    try:
        checks.run("daemon", lambda: _daemon(settings))
        if checks.run("log a run", lambda: _log_run(tmp, state)):
            checks.run("read back", lambda: _read_back(state))
            checks.run("artifact", lambda: _artifact(state))
        checks.run("offline sync", lambda: _offline_sync(tmp))
        _server(checks, args.host)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    if checks.failed:
        console.print(f"[red]{checks.failed} check{'' if checks.failed == 1 else 's'} failed[/red]")
        return 1
    console.print("[green]runhive works[/green]")
    return 0


def _daemon(settings: Any) -> str:
    from runhive.transport._daemon import connect

    conn = connect(settings.resolved_service_dir, start=True, wait=settings.resolved_service_wait)
    try:
        return f"runhive-service pid {conn.daemon_pid} at {conn.address.socket_path}"
    finally:
        conn.close()


ROWS = 20


def _log_run(tmp: str, state: dict[str, Any]) -> str:
    from runhive.sdk._init import init
    from runhive.sdk.artifacts import Artifact

    run = init(
        project=PROJECT,
        dir=tmp,
        mode="online",
        config={"lr": 0.01, "layers": [64, 32], "optimizer": {"name": "adam"}},
        job_type="verify",
        reinit="finish_previous",
        settings={"silent": True},
    )
    for step in range(ROWS):
        run.log({"loss": 1.0 / (step + 1), "epoch": step // 5})
    note = Path(tmp) / "verify.txt"
    note.write_text("runhive verify\n", encoding="utf-8")
    run.save(str(note), base_path=tmp, policy="now")
    art = Artifact("verify-data", "dataset")
    art.add_file(str(note))
    run.log_artifact(art)
    run.finish()
    state.update(entity=run.entity, project=run.project, id=run.id, dir=run.dir)
    return f"{run.entity}/{run.project}/{run.id}: {ROWS} rows, config, a file and an artifact"


def _read_back(state: dict[str, Any]) -> str:
    from runhive.apis.public._api import Api

    api = Api()
    try:
        run = api.run(f"{state['entity']}/{state['project']}/{state['id']}")
        rows = list(run.scan_history(keys=["loss", "epoch"]))
    finally:
        api.close()
    _expect(run.state == "finished", f"state is {run.state!r}, not 'finished'")
    _expect(len(rows) == ROWS, f"{len(rows)} history rows, not {ROWS}")
    _expect(
        rows[-1]["loss"] == 1.0 / ROWS and rows[-1]["epoch"] == (ROWS - 1) // 5, f"last row is {rows[-1]}"
    )
    _expect(isinstance(rows[-1]["epoch"], int), "an int came back as a float")
    _expect(run.config.get("optimizer") == {"name": "adam"}, f"config came back as {run.config}")
    _expect(run.summary.get("loss") == 1.0 / ROWS, f"summary loss is {run.summary.get('loss')}")
    saved = Path(state["dir"]) / "files" / "verify.txt"
    _expect(saved.is_file(), f"the saved file is not at {saved}")
    return f"state finished, {ROWS} rows, config, summary and the saved file as logged"


def _artifact(state: dict[str, Any]) -> str:
    from ._artifact import find

    v = find(f"{state['entity']}/{state['project']}", "verify-data", "latest")
    _expect(v.run_path.endswith("/" + state["id"]), f"latest verify-data is from {v.run_path}")
    _expect([f["path"] for f in v.files] == ["verify.txt"], f"files are {v.files}")
    return f"verify-data:{v.version} found by `runhive artifact` ({len(v.files)} file)"


def _offline_sync(tmp: str) -> str:
    env = dict(os.environ)
    env.pop("RUNHIVE_MODE", None)
    env.pop("WANDB_MODE", None)
    code = (
        "import runhive\n"
        f"r = runhive.init(project={PROJECT!r}, mode='offline', dir={tmp!r}, settings={{'silent': True}})\n"
        "r.log({'x': 1}); r.log({'x': 2}); r.finish(); print(r.id)\n"
    )
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    _expect(made.returncode == 0, f"the offline run failed: {made.stderr.strip()[-300:]}")
    run_id = made.stdout.strip().splitlines()[-1]
    synced = subprocess.run(
        [sys.executable, "-m", "runhive.cli", "sync", str(Path(tmp) / "runhive")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "COLUMNS": "200"},
    )
    _expect(synced.returncode == 0, f"runhive sync failed: {(synced.stdout + synced.stderr).strip()[-300:]}")
    from runhive.apis.public._api import Api

    api = Api()
    try:
        run = api.run(f"{PROJECT}/{run_id}")
        rows = list(run.scan_history(keys=["x"]))
    finally:
        api.close()
    _expect([r["x"] for r in rows] == [1, 2], f"synced rows are {rows}")
    return f"offline run {run_id} synced: 2 rows in the store"


def _server(checks: Checks, host: str | None) -> None:
    from ._login import normalize_host, resolve, verify

    creds = resolve()
    target = normalize_host(host) if host else creds.host
    if not target:
        checks.skip("team server", "not logged in (`runhive login --host URL KEY`): runs are local")
        return

    def health() -> str:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{target}/healthz", timeout=10) as resp:
            doc = json.loads(resp.read().decode("utf-8"))
        _expect(bool(doc.get("ok")), f"/healthz answered {doc}")
        return f"{target} is up (schema {doc.get('schema')})"

    checks.run("team server", health)
    if creds.key and (host is None or target == creds.host):
        key = creds.key
        checks.run("api key", lambda: f"the key belongs to user {verify(target, key).get('name')}")
    else:
        checks.skip("api key", f"no key stored for {target}")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("verify", help="check this install: daemon, a run logged and read back, offline sync")
    p.add_argument("--host", help="also check the team server at this URL (default: the one logged in to)")
    p.set_defaults(fn=cmd_verify)
