"""Sweeps where the runs are stored: the controller that decides every run (`_controller`), its tables in the
local store (`_store`), and the pure search and stopping rules (`rules`: grid, random, bayes, hyperband)."""

from ._controller import SweepController
from ._store import SweepStore

__all__ = ["SweepController", "SweepStore"]
