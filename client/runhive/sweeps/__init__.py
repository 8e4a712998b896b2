"""Sweeps from the user's side (W&B's `wandb.sweep`, `wandb.agent`, `wandb.controller`): create one in the node's
daemon, or on the team server when one is configured (either decides every run with `runhive_service.sweeps`), and
run its jobs in this process or in children."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._agent import agent
    from ._controller import controller
    from ._sweep import sweep

__all__ = ["agent", "controller", "sweep"]

_LAZY = {"agent": "._agent", "controller": "._controller", "sweep": "._sweep"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
