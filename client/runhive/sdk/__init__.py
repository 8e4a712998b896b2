"""Writing runs: `init()`, `Run`, its `config` and `summary`, and `Settings` (W&B's `wandb.sdk`).

Light to import: `Run`, `Config`, `Summary` and `init` load on first use, since the run class pulls in the
transport to the daemon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._settings import Settings
from ._setup import setup, teardown

if TYPE_CHECKING:
    from ._config import Config
    from ._init import init
    from ._run import Run
    from ._summary import Summary

__all__ = ["Config", "Run", "Settings", "Summary", "init", "setup", "teardown"]

_LAZY = {"Config": "._config", "Run": "._run", "Summary": "._summary", "init": "._init"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
