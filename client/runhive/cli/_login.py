"""`runhive login`: the team server's address and API key, kept in a 0600 file (W&B's `wandb login`).

    runhive login                          # who you are logged in as, and where runs are stored
    runhive login --host URL [KEY]         # store KEY for the team server at URL (prompts on a terminal)
    runhive login --host URL KEY --verify  # ask the server who KEY belongs to before storing it

The credentials file is `credentials` in runhive's config directory (`$RUNHIVE_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/runhive`, else `~/.config/runhive`): an INI file whose `[default]` section names the current
server (`base_url`) and whose one section per server holds its `api_key`. `RUNHIVE_BASE_URL` and `RUNHIVE_API_KEY`
win over it. W&B's own `WANDB_API_KEY` / `WANDB_BASE_URL` and its `.netrc` are never read. A key is never printed.

`login` itself sends nothing unless `--verify` asks (`GET <host>/api/v1/viewer`). Once a server is current, online
runs are uploaded to it by the daemon (`runhive_service.daemon._uploader`); the credentials are read by
`runhive.sdk._credentials`, re-exported here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

from runhive.errors import Error, UsageError
from runhive.sdk._credentials import (  # noqa: F401  (re-exported: other rooms import them from here)
    _DEFAULT,
    Credentials,
    _parser,
    _path,
    normalize_host,
    read_file,
    resolve,
)


def _check_key(key: str) -> str:
    key = key.strip()
    if not key or any(c.isspace() for c in key) or not key.isprintable():
        raise UsageError("the API key is empty or has spaces in it: paste the key `runhive server` printed")
    return key


def write_file(host: str, key: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Make `host` the current server (and store `key` for it when given); the file is 0600, replaced
    atomically. Returns its path."""
    path = _path(environ)
    _, keys = read_file(environ)
    if key is not None:
        keys[host] = key
    parser = _parser()
    parser[_DEFAULT] = {"base_url": host}
    for h, k in sorted(keys.items()):
        parser[h] = {"api_key": k}
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken bits off; never more than the owner
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# runhive team-server credentials (`runhive login`): keep this file private\n")
            parser.write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def verify(host: str, key: str, timeout: float = 10.0) -> dict[str, Any]:
    """Who `key` belongs to on the server at `host` (`GET /api/v1/viewer`); Error when it is refused."""
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        f"{host}/api/v1/viewer", headers={"Authorization": f"Bearer {key}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            doc = json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read().decode("utf-8")).get("error") or exc.reason
        except (ValueError, AttributeError):
            message = exc.reason
        raise Error(f"{host} refused the key (HTTP {exc.code}): {message}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Error(f"cannot reach the team server at {host}: {reason}") from None
    return doc if isinstance(doc, dict) else {}


def _who(doc: Mapping[str, Any]) -> str:
    teams = [t.get("name") if isinstance(t, Mapping) else str(t) for t in doc.get("teams") or []]
    extra = f" (teams: {', '.join(str(t) for t in teams)})" if teams else ""
    return f"user {doc.get('name') or 'unknown'}{extra}"


def login(
    key: str | None = None,
    host: str | None = None,
    relogin: bool = False,
    check: bool = False,
    prompt: bool = False,
    timeout: float = 10.0,
    environ: Mapping[str, str] | None = None,
) -> tuple[bool, list[str]]:
    """What `runhive login` and `runhive.login()` do: (logged in to a server or not, lines to show).

    Without a host (given, in RUNHIVE_BASE_URL or stored) there is nothing to log in to: runs stay local and the
    key, if any, is not stored. With one, the key (given, else RUNHIVE_API_KEY, else stored, else typed at a
    prompt) is stored for it unless it came from the environment; `check` asks the server first."""
    from runhive.sdk._setup import base_settings

    where = f"runs are stored locally in {base_settings().store_path}"
    have = resolve(environ)
    if host:
        host = normalize_host(host)
    target = host or have.host
    if target is None:
        if key:
            return False, [
                f"no team server to log in to: the key was not stored (pass --host URL to store it); {where}"
            ]
        return False, [f"runhive needs no login for local use: {where}"]
    _, stored = read_file(environ)
    env_key = have.key if have.key_source == "RUNHIVE_API_KEY" else None
    source = "given"
    if key is not None:
        key = _check_key(key)
    elif not relogin and env_key:
        key, source = env_key, "RUNHIVE_API_KEY"
    elif not relogin and target in stored:
        key, source = stored[target], "stored"
    elif prompt and sys.stdin.isatty():
        import getpass

        key = _check_key(getpass.getpass(f"API key for {target} (input hidden): "))
    else:
        raise UsageError(
            f"no API key for {target}: pass it (`runhive login --host {target} KEY`) or set RUNHIVE_API_KEY"
        )
    lines: list[str] = []
    if check:
        lines.append(f"verified: the key belongs to {_who(verify(target, key, timeout))} on {target}")
    if source == "given":
        path = write_file(target, key, environ)
        lines.append(f"stored the API key for {target} in {path} (mode 0600)")
    elif host is not None and host != have.host:
        write_file(target, None, environ)
        lines.append(f"current team server: {target} (key {'from RUNHIVE_API_KEY' if env_key else 'stored'})")
    else:
        lines.append(f"logged in to {target} (key from {source if source != 'stored' else _path(environ)})")
    if have.host_source == "RUNHIVE_BASE_URL" and host and have.host != host:
        lines.append(f"note: RUNHIVE_BASE_URL={have.host} wins over the stored server")
    lines.append(f"the uploader to a team server is not built yet: {where}")
    return True, lines


def cmd_login(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    if args.cloud:
        raise UsageError("runhive has no cloud: pass --host URL of your team server (`runhive server`)")
    if args.anonymously:
        print("runhive login: --anonymously has no effect", file=sys.stderr)
    key = args.key[0] if args.key else None
    _, lines = login(key=key, host=args.host, relogin=args.relogin, check=args.verify, prompt=True)
    console = Console()
    for line in lines:
        console.print(escape(line))
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "login",
        help="store a team server's address and API key (or say where runs are stored)",
        description="Store the API key of a team server in a 0600 credentials file in runhive's config "
        "directory. Without a server (--host, RUNHIVE_BASE_URL or one stored before), runs are local and no "
        "login is needed. RUNHIVE_BASE_URL and RUNHIVE_API_KEY win over the file; W&B's are never read.",
    )
    p.add_argument(
        "key", nargs="*", metavar="KEY", help="the API key (prompted for on a terminal if missing)"
    )
    p.add_argument("--host", "--base-url", dest="host", help="the team server's URL (https://...)")
    p.add_argument("--cloud", action="store_true", help="W&B's public cloud: refused (runhive has none)")
    p.add_argument("--relogin", action="store_true", help="ask for a new key even if one is stored")
    p.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="ask the server who the key belongs to before storing it",
    )
    p.add_argument("--anonymously", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(fn=cmd_login)
