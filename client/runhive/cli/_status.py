"""`runhive status [--json]`: the settings that decide where runs go (W&B's `wandb status`), each with its source:
mode, project, entity, run directories, data directory and store, daemon directory and whether a daemon is up, the
team server when logged in (never its key), and the settings files read."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def _from_files(key: str) -> tuple[str | None, str | None]:
    """(value, file) of `key` in the settings files, the workspace one winning."""
    import configparser

    from runhive.sdk._settings import settings_paths

    for path in reversed(settings_paths()):
        if not os.path.isfile(path):
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_option("default", key):
            return parser.get("default", key), path
    return None, None


def _source(env_names: tuple[str, ...], key: str | None) -> str:
    """Where a setting comes from: an environment variable, a settings file (for the keys files may set), or the
    default."""
    for name in env_names:
        if os.environ.get(name):
            return name
    return (_from_files(key)[1] if key else None) or "default"


def collect() -> dict[str, Any]:
    """The status as one JSON-ready dict."""
    from runhive.errors import Error
    from runhive.sdk._settings import default_entity, settings_paths
    from runhive.sdk._setup import base_settings
    from runhive.transport._daemon import connect

    from ._login import resolve

    s = base_settings()
    daemon: dict[str, Any] = {"running": False}
    try:
        conn = connect(s.resolved_service_dir, start=False)
    except Error as exc:
        daemon["detail"] = str(exc)
    else:
        daemon = {"running": True, "pid": conn.daemon_pid, "socket": str(conn.address.socket_path)}
        conn.close()
    creds = resolve()
    return {
        "mode": {"value": s.resolved_mode, "source": _source(("RUNHIVE_MODE", "WANDB_MODE"), "mode")},
        "project": {
            "value": s.project or "Uncategorized",
            "source": _source(("RUNHIVE_PROJECT", "WANDB_PROJECT"), "project"),
        },
        "entity": {
            "value": s.entity or default_entity(),
            "source": _source(("RUNHIVE_ENTITY", "WANDB_ENTITY"), "entity")
            if s.entity
            else "default (your user name)",
        },
        "run_dirs": {
            "value": str(s.resolved_root_dir / "runhive"),
            "source": _source(("RUNHIVE_DIR",), "root_dir"),
        },
        "data_dir": {"value": str(s.resolved_data_dir), "source": _source(("RUNHIVE_DATA_DIR",), None)},
        "store": {"value": str(s.store_path), "exists": s.store_path.exists()},
        "service_dir": {
            "value": str(s.resolved_service_dir),
            "source": _source(("RUNHIVE_SERVICE_DIR",), None),
        },
        "daemon": daemon,
        "server": {
            "host": creds.host,
            "host_source": creds.host_source,
            "logged_in": creds.logged_in,
            "api_key": f"set (from {creds.key_source})" if creds.key else "not set",
        },
        "settings_files": [{"path": p, "exists": os.path.isfile(p)} for p in settings_paths()],
    }


def cmd_status(args: argparse.Namespace) -> int:
    if not args.settings:
        return 0
    st = collect()
    if args.json:
        print(json.dumps(st, indent=2, sort_keys=True))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="runhive status")
    for col in ("setting", "value", "from"):
        table.add_column(col, overflow="fold")
    for name in ("mode", "project", "entity", "run_dirs", "data_dir", "service_dir"):
        table.add_row(name.replace("_", " "), escape(st[name]["value"]), escape(st[name]["source"]))
    store = st["store"]
    table.add_row("store", escape(store["value"]), "" if store["exists"] else "not created yet")
    d = st["daemon"]
    table.add_row("daemon", f"running (pid {d['pid']})" if d["running"] else "not running", "")
    srv = st["server"]
    if srv["host"]:
        state = "logged in" if srv["logged_in"] else "no API key: `runhive login --host URL KEY`"
        table.add_row("team server", escape(srv["host"]), escape(f"{srv['host_source']}; {state}"))
        table.add_row("api key", escape(srv["api_key"]), "")
    else:
        table.add_row("team server", "none (runs are local)", "`runhive login --host URL` to set one")
    for f in st["settings_files"]:
        table.add_row("settings file", escape(f["path"]), "read" if f["exists"] else "absent")
    Console().print(table)
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "status", help="show the settings in effect: mode, project, directories, daemon, server"
    )
    p.add_argument("--json", action="store_true", help="as JSON")
    p.add_argument(
        "--settings",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show the settings (W&B's flag)",
    )
    p.set_defaults(fn=cmd_status)
