"""What runhive tells the user on the terminal: `runhive: <message>` on stderr.

W&B's settings decide which lines show (its `termsetup`): `silent` hides every line, `quiet` the informational
ones, and `show_info` / `show_warnings` / `show_errors` each level. `init()` applies its resolved settings; until
then the settings files, the environment (`RUNHIVE_SILENT`, `WANDB_QUIET`, ...) and `setup()` decide.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    from ._settings import Settings

_configured = False
_applied = False  # init() (or setup) applied settings: the environment is not read again
_show_info = _show_warnings = _show_errors = True


class LazyLogger:
    """A logger that imports `logging` on first use. Importing logging is ~2 ms, and the modules a warm
    `init()` needs before its InitRun is sent (issue 5: ≤ 20 ms in all) only log when something is wrong."""

    def __init__(self, name: str = "runhive", configure: bool = False) -> None:
        self._name, self._configure = name, configure
        self._logger: logging.Logger | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            import logging

            self._logger = logger() if self._configure else _filtered(logging.getLogger(self._name))
        return getattr(self._logger, attr)


def apply_settings(settings: Settings) -> None:
    """Which of runhive's terminal lines show from now on in this process (W&B's settings are process-wide too)."""
    global _applied, _show_info, _show_warnings, _show_errors
    silent = bool(settings.silent)
    _show_info = not silent and not settings.quiet and settings.show_info is not False
    _show_warnings = not silent and settings.show_warnings is not False
    _show_errors = not silent and settings.show_errors is not False
    _applied = True


def _shown(record: logging.LogRecord) -> bool:
    if record.levelno >= 40:  # ERROR, CRITICAL
        return _show_errors
    if record.levelno >= 30:  # WARNING
        return _show_warnings
    return _show_info


def _apply_environment() -> None:
    from runhive.errors import UsageError

    from ._setup import base_settings

    try:
        settings = base_settings()  # the files, the environment and runhive.setup(Settings(...))
    except UsageError:
        # A malformed variable is reported by init(); here only the two switches every version of runhive read.
        from ._settings import Settings

        settings = Settings(silent=os.environ.get("RUNHIVE_SILENT") or os.environ.get("WANDB_SILENT") or None)
    apply_settings(settings)


def _filtered(log: logging.Logger) -> logging.Logger:
    """`log` with the filter that drops the lines W&B's settings hide."""
    if not _applied:
        _apply_environment()
    log.addFilter(_shown)  # once: logging ignores a filter it has already
    return log


def logger() -> logging.Logger:
    """The "runhive" logger, with a stderr handler for INFO and up unless the user configured it already; the
    lines W&B's settings hide are dropped by a filter on the logger."""
    import logging

    global _configured
    log = _filtered(logging.getLogger("runhive"))
    if not _configured:
        _configured = True
        if not log.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("runhive: %(message)s"))
            log.addHandler(handler)
        if log.level == logging.NOTSET:
            log.setLevel(logging.INFO)
    return log
