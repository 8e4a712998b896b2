"""What runhive tells the user on the terminal: `runhive: <message>` on stderr, silenced by RUNHIVE_SILENT."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

_configured = False


class LazyLogger:
    """A logger that imports `logging` on first use. Importing logging is ~2 ms, and the modules a warm
    `init()` needs before its InitRun is sent (issue 5: ≤ 20 ms in all) only log when something is wrong."""

    def __init__(self, name: str = "runhive", configure: bool = False) -> None:
        self._name, self._configure = name, configure
        self._logger: logging.Logger | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            import logging

            self._logger = logger() if self._configure else logging.getLogger(self._name)
        return getattr(self._logger, attr)


def logger() -> logging.Logger:
    """The "runhive" logger, with a stderr handler for INFO and up unless the user configured it already."""
    import logging

    global _configured
    log = logging.getLogger("runhive")
    if not _configured:
        _configured = True
        silent = (os.environ.get("RUNHIVE_SILENT") or os.environ.get("WANDB_SILENT") or "").lower() in (
            "1",
            "true",
        )
        if not log.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("runhive: %(message)s"))
            log.addHandler(handler)
        if log.level == logging.NOTSET:
            log.setLevel(logging.WARNING if silent else logging.INFO)
    return log
