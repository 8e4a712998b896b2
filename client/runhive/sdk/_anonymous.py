"""W&B's anonymous runs against a team server: `init(anonymous="must")`, or "allow" without a key.

A server started with `--allow-anonymous` hands out anonymous users (`POST /api/v1/anonymous`: a new user named
`anony-mouse-<digits>` and its key, as W&B names them); their projects are open, so anyone logged in to the server
can see the runs, which is what an anonymous run is for: sharing a result without an account. This machine keeps
the key it was given per server in `anonymous` beside the credentials file (0600), so its anonymous runs stay
together under one anonymous user; it never becomes the login (`runhive login` is unchanged).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from runhive.errors import UsageError


def _path() -> str:
    from ._settings import credentials_path

    return os.path.join(os.path.dirname(credentials_path()), "anonymous")


def _read() -> dict[str, str]:
    try:
        with open(_path(), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def _write(keys: dict[str, str]) -> None:
    path = _path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keys, f)
    os.replace(tmp, path)


def anonymous_key(host: str, timeout: float = 10.0) -> str:
    """This machine's anonymous user's key on the server at `host`, asked for the first time it is needed."""
    keys = _read()
    if host in keys:
        return keys[host]
    request = urllib.request.Request(f"{host}/api/v1/anonymous", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            doc = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            message = str(json.loads(exc.read()).get("error") or exc.reason)
        except ValueError:
            message = str(exc.reason)
        if exc.code == 404:
            message = "this server does not know anonymous users (it is older than this runhive)"
        raise UsageError(
            f"anonymous runs on the team server {host}: {message}; log in instead with `runhive login --host {host}`"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(
            f"cannot reach the team server {host} for an anonymous user ({getattr(exc, 'reason', exc)}); check the "
            "URL and that `runhive server` is running"
        ) from None
    key = str(doc["api_key"])
    keys[host] = key
    _write(keys)
    return key
