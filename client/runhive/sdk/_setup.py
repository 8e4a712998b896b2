"""`runhive.setup()` / `runhive.teardown()`: the per-process settings singleton."""

from __future__ import annotations

import os
import threading
from typing import Any

from ._settings import Settings, settings_from_env

_lock = threading.Lock()
_setup_settings: Settings | None = None
_setup_pid: int | None = None


def setup(settings: Settings | None = None) -> Any:
    """Set process-wide settings and connect to (starting if needed) the node's runhive-service."""
    global _setup_settings, _setup_pid
    if settings is not None and not isinstance(settings, Settings):
        from runhive.errors import UsageError

        raise UsageError(f"setup(settings=...) takes a runhive.Settings, got {type(settings).__name__}.")
    with _lock:
        if _setup_pid != os.getpid():
            _setup_settings, _setup_pid = None, os.getpid()
        base = _setup_settings or Settings()
        _setup_settings = base.merged(settings)
    resolved = base_settings()
    if resolved.resolved_mode != "disabled":
        from runhive.transport._sender import get_sender

        get_sender(resolved).connection()
    return resolved


def setup_settings() -> Settings | None:
    return _setup_settings if _setup_pid == os.getpid() else None


def base_settings() -> Settings:
    """Defaults < environment < setup(); init() layers its own on top."""
    return settings_from_env().merged(setup_settings())


def teardown(exit_code: int | None = None) -> None:
    """Finish every run this process opened and wait for them."""
    global _setup_settings
    from . import _globals

    for run in reversed(_globals.active_runs()):
        try:
            run.finish(exit_code=exit_code)
        except Exception:  # at exit, one run's failure must not keep the others from finishing
            import logging

            logging.getLogger("runhive").exception("finishing run %s at exit failed", run.id)
    with _lock:
        _setup_settings = None
