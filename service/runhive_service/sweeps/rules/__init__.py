"""The sweep search and early-termination algorithms, pure functions with no I/O (reference §2-4).

The controller that owns sweep state (run_cap, target, states, agents) calls these; nothing here keeps state
between calls: every decision is recomputed from the config and the runs handed in.
"""

from __future__ import annotations

import random
from typing import Any

from ._bayes import bayes_next
from ._grid import grid_next, grid_size
from ._hyperband import hyperband_stop
from ._random import random_next
from ._runs import SweepConfigError, SweepRun, metric_value
from ._schema import check_client_bounds, format_violations, validate

__all__ = [
    "SweepConfigError",
    "SweepRun",
    "check_client_bounds",
    "expected_run_count",
    "format_violations",
    "metric_value",
    "next_run",
    "stop_runs",
    "validate",
]

_METHODS_MSG = '["grid", "random", "bayes"]'


def _check_search_config(config: Any) -> str:
    """W&B's minimal checks for algorithms called without validation; returns the method."""
    if not isinstance(config, dict):
        raise SweepConfigError("Sweep config must be parsable as a JSON object.")
    if "method" not in config:
        raise SweepConfigError("Sweep config must contain method section")
    if "parameters" not in config:
        raise SweepConfigError("Sweep config must contain parameters section")
    parameters = config["parameters"]
    if not (isinstance(parameters, dict) and len(parameters) > 0):
        raise SweepConfigError("Parameters section of sweep config must be a dict of at least length 1")
    method = config["method"]
    if method not in ("grid", "random", "bayes"):
        raise SweepConfigError(f"Invalid search type {method}, must be one of {_METHODS_MSG}")
    return str(method)


def next_run(
    config: dict[str, Any], runs: list[SweepRun], *, rng: random.Random | None = None
) -> dict[str, dict[str, Any]] | None:
    """The next run's parameters as `{param: {"value": v}}`, or None when a grid has nothing left."""
    method = _check_search_config(config)
    rng = rng if rng is not None else random.Random()
    if method == "grid":
        return grid_next(config, runs)
    if method == "random":
        return random_next(config, rng)
    return bayes_next(config, runs, rng)


def stop_runs(config: dict[str, Any], runs: list[SweepRun], *, lines: list[str] | None = None) -> list[str]:
    """Names of the running runs hyperband says to stop; [] without `early_terminate`.

    `lines`, when given, receives W&B's early_terminate_info lines ("Bands: ...", "Run: ... STOP").
    """
    if not isinstance(config, dict) or not config.get("early_terminate"):
        return []
    return hyperband_stop(config, runs, lines)


def expected_run_count(config: dict[str, Any]) -> int | None:
    """Grid: the number of distinct combinations; None for searches that never end by themselves."""
    method = _check_search_config(config)
    return grid_size(config) if method == "grid" else None
