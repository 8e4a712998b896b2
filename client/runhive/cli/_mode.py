"""`runhive offline | online | disabled | enabled` (and W&B's hidden `off` / `on`): the mode later `init()` calls
in this directory take, kept as `mode` in the `[default]` section of the workspace settings file
(`./runhive/settings`), as `wandb offline` keeps it in `./wandb/settings`. `RUNHIVE_MODE` / `WANDB_MODE` and
`init(mode=...)` still win over it.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

_SAY = {
    "offline": "runhive offline: runs started from this directory write only their run directory (WAL); "
    "`runhive sync` puts them in the store. `runhive disabled` turns runhive off completely.",
    "online": "runhive online: runs started from this directory go to the store as they log.",
    "disabled": "runhive disabled: runs started from this directory log nothing (`runhive enabled` undoes it).",
    "enabled": "runhive enabled: runs started from this directory go to the store as they log.",
}


def _parser() -> Any:
    import configparser

    return configparser.ConfigParser(interpolation=None)


def write_mode(mode: str | None) -> str:
    """Set (or, with None, clear) `mode` in the workspace settings file; returns the file's path."""
    import configparser

    from runhive.errors import UsageError
    from runhive.sdk._settings import settings_paths

    path = settings_paths()[1]
    parser = _parser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise UsageError(f"The settings file {path} is not valid INI: {exc}") from None
    if not parser.has_section("default"):
        parser.add_section("default")
    if mode is None:
        parser.remove_option("default", "mode")
    else:
        parser.set("default", "mode", mode)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        parser.write(f)
    os.replace(tmp, path)
    return path


def cmd_mode(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from runhive.sdk._settings import settings_from_files

    console = Console()
    command = args.mode_command
    if command == "online":
        path = write_mode(None)  # as W&B: clear the workspace's mode
        if settings_from_files().resolved_mode != "online":  # a user-wide settings file still says otherwise
            path = write_mode("online")
    else:
        path = write_mode({"offline": "offline", "disabled": "disabled", "enabled": "online"}[command])
    console.print(escape(_SAY[command]) + f" [dim]({escape(path)})[/dim]")
    for var in ("RUNHIVE_MODE", "WANDB_MODE"):
        if os.environ.get(var):
            console.print(
                f"[yellow]note:[/yellow] {var}={escape(os.environ[var])} is set and wins over the file"
            )
            break
    return 0


def add_parsers(sub: Any) -> None:
    for name, aliases in (("offline", ["off"]), ("online", ["on"]), ("disabled", []), ("enabled", [])):
        p = sub.add_parser(
            name, aliases=aliases, help=_SAY[name].split(": ", 1)[1].split(";")[0].split(".")[0]
        )
        if name in ("disabled", "enabled"):
            p.add_argument("--service", action="store_true", help=argparse.SUPPRESS)  # W&B's, no effect
        p.set_defaults(fn=cmd_mode, mode_command=name)
