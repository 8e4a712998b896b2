"""Sweeps where the runs are stored: the controller that decides every run (`_controller`) over a backend
(`_backend`: the daemon's store `_store`, or the team server's database in `runhive_service.server`), and the pure
search and stopping rules (`rules`: grid, random, bayes, hyperband)."""

from ._backend import (
    ASSIGNED,
    LOST,
    NEVER_STARTED,
    PRIOR,
    QUEUED,
    STOPPED,
    AgentRow,
    HandedOut,
    StoredRun,
    SweepBackend,
    SweepRow,
    SweepTx,
    chunks,
)
from ._controller import AGENT_TIMEOUT_ENV, SweepController, agent_timeout
from ._store import SweepStore

__all__ = [
    "AGENT_TIMEOUT_ENV",
    "ASSIGNED",
    "LOST",
    "NEVER_STARTED",
    "PRIOR",
    "QUEUED",
    "STOPPED",
    "AgentRow",
    "HandedOut",
    "StoredRun",
    "SweepBackend",
    "SweepController",
    "SweepRow",
    "SweepStore",
    "SweepTx",
    "agent_timeout",
    "chunks",
]
