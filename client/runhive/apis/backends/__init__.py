"""Read backends: where `runhive.Api()` reads from. The local store (`LocalBackend`) and a team server's read API
(`ServerBackend`). `backend_for(settings)` picks the one the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import Backend, ProjectRecord, RunRecord, Series, SweepRecord

if TYPE_CHECKING:
    from runhive.sdk import Settings

__all__ = ["Backend", "ProjectRecord", "RunRecord", "Series", "SweepRecord", "backend_for"]


def backend_for(settings: Settings, timeout: float | None = None, discover: bool = True) -> Backend:
    """A team server when one is named: `settings.base_url` (with `settings.api_key`, else the key stored for that
    server by `runhive login`), else, with `discover`, `RUNHIVE_BASE_URL` + `RUNHIVE_API_KEY` or the login
    credentials file. Otherwise the local store at `settings.store_path`."""
    host, key = settings.base_url, settings.api_key
    if host or discover:
        from runhive.sdk._credentials import normalize_host, resolve

        creds = resolve()
        if host:
            host = normalize_host(host)
            if not key and creds.host == host:
                key = creds.key
        elif creds.host:
            host, key = creds.host, key or creds.key
    if host:
        from ._server import ServerBackend

        return ServerBackend(host, key, timeout)
    from ._local import LocalBackend

    return LocalBackend(settings.store_path)
