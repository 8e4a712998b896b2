"""What runhive tells the user on the terminal: `runhive: <message>` on stderr, silenced by RUNHIVE_SILENT."""

from __future__ import annotations

import logging
import os
import sys

_configured = False


def logger() -> logging.Logger:
    """The "runhive" logger, with a stderr handler for INFO and up unless the user configured it already."""
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
