"""The team server and API key in effect for this process: `RUNHIVE_BASE_URL` / `RUNHIVE_API_KEY`, else the
credentials file `runhive login` writes (read here; written by `runhive.cli._login`). In the SDK because `init()`
needs them to send runs to a team server; the `runhive login` command re-exports them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runhive.errors import UsageError

_DEFAULT = "default"


@dataclass
class Credentials:
    """The team server this process talks to, its key, and where each came from (for `runhive status`)."""

    host: str | None
    key: str | None
    host_source: str | None
    key_source: str | None

    @property
    def logged_in(self) -> bool:
        return bool(self.host and self.key)


def normalize_host(url: str) -> str:
    """`http(s)://host[:port][/path]` without a trailing slash; UsageError otherwise."""
    text = (url or "").strip()
    if text and "://" not in text:
        text = "https://" + text  # as W&B: a bare host name means https
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--host {url!r}: give the team server's URL, e.g. https://runhive.example.com")
    return text.rstrip("/")


def _path(environ: Mapping[str, str] | None) -> str:
    from ._settings import credentials_path

    return credentials_path(environ)


def _parser() -> Any:
    import configparser

    return configparser.ConfigParser(interpolation=None)


def read_file(environ: Mapping[str, str] | None = None) -> tuple[str | None, dict[str, str]]:
    """(current server, {server: key}) from the credentials file; (None, {}) when there is none."""
    import configparser

    path = _path(environ)
    if not os.path.isfile(path):
        return None, {}
    parser = _parser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise UsageError(f"the credentials file {path} is not valid INI: {exc}") from None
    current = parser.get(_DEFAULT, "base_url", fallback=None) if parser.has_section(_DEFAULT) else None
    keys = {
        s: parser.get(s, "api_key")
        for s in parser.sections()
        if s != _DEFAULT and parser.has_option(s, "api_key")
    }
    return current, keys


def resolve(environ: Mapping[str, str] | None = None) -> Credentials:
    """The server and key in effect: `RUNHIVE_BASE_URL` / `RUNHIVE_API_KEY`, else the credentials file."""
    env = os.environ if environ is None else environ
    current, keys = read_file(environ)
    path = _path(environ)
    host, host_source = (env.get("RUNHIVE_BASE_URL") or "").strip() or None, "RUNHIVE_BASE_URL"
    if host is None:
        host, host_source = current, path
    else:
        host = normalize_host(host)
    key, key_source = (env.get("RUNHIVE_API_KEY") or "").strip() or None, "RUNHIVE_API_KEY"
    if key is None and host is not None and host in keys:
        key, key_source = keys[host], path
    return Credentials(
        host=host,
        key=key,
        host_source=host_source if host else None,
        key_source=key_source if key else None,
    )


ANONYMOUS_MODES = ("allow", "must", "never")


def anonymous_mode(value: Any) -> str:
    """W&B's `anonymous=`: "never" (the default: a key is needed), "allow" (a key if there is one, else an
    anonymous user of the server), "must" (always an anonymous user)."""
    if value is None:
        return "never"
    if not isinstance(value, str) or value not in ANONYMOUS_MODES:
        raise UsageError(f"anonymous={value!r}: choose one of 'allow', 'must' or 'never'.")
    return value


class LoginMissing(UsageError):
    """No key for the team server: what `init(force=False)` turns into an offline run (as W&B documents)."""


def server_for(
    base_url: str | None, api_key: str | None, anonymous: str | None = None, force: bool | None = None
) -> tuple[str, str] | None:
    """(URL, key) of the team server a run goes to, or None (the local store only). The server is
    `Settings.base_url`, else `RUNHIVE_BASE_URL`, else the one `runhive login` made current; the key is
    `Settings.api_key`, else `RUNHIVE_API_KEY`, else the stored key of that server. With `anonymous="must"` (or
    "allow" and no key) the key is this machine's anonymous user's on that server (`_anonymous`). A server without a
    key is a `LoginMissing` UsageError: nothing could be sent, and a run that silently stayed local would surprise
    its owner (`init(force=False)` asks for exactly that, and gets an offline run)."""
    creds = resolve()
    host = normalize_host(base_url) if base_url else creds.host
    if not host:
        return None  # the local store has no accounts: anonymous= means nothing there (W&B: deprecated no-op)
    mode = anonymous_mode(anonymous)
    key = api_key or (creds.key if creds.host == host else read_file()[1].get(host))
    if mode == "must" or (mode == "allow" and not key):
        from ._anonymous import anonymous_key

        return host, anonymous_key(host)
    if not key:
        raise LoginMissing(
            f"not logged in: run `runhive login --host {host}` (or set RUNHIVE_API_KEY) to log runs to the team "
            f"server {host}"
        )
    return host, key.strip()
