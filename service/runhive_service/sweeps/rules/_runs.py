"""The run model the sweep algorithms see, and a run's metric value (reference §3)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

TERMINAL_STATES = frozenset({"finished", "crashed", "failed", "killed"})
RUN_STATES = TERMINAL_STATES | {"pending", "running", "preempted", "preempting"}


class SweepConfigError(ValueError):
    """A config the requested algorithm cannot use; the message is the one W&B's `sweeps` package gives."""


@dataclass
class SweepRun:
    name: str
    state: str
    config: dict[str, Any] = field(default_factory=dict)
    summary_metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False
    should_stop: bool = False


def is_number(x: Any) -> bool:
    """A finite real number; bools and strings such as "NaN" (as logged by some clients) do not count."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return False
    try:
        return math.isfinite(x)
    except (TypeError, ValueError, OverflowError):
        return False


def metric_history(run: SweepRun, name: str) -> list[float]:
    """The finite values of `name` in logged order; the position in this list is hyperband's "iteration"."""
    return [float(row[name]) for row in run.history if name in row and is_number(row[name])]


def metric_goal(config: dict[str, Any]) -> str:
    metric = config.get("metric")
    goal = metric.get("goal") if isinstance(metric, dict) else None
    # An invalid goal falls back to the schema default, as the unvalidated W&B path does.
    return goal if goal in ("minimize", "maximize") else "minimize"


def metric_extremum(run: SweepRun, name: str, kind: str) -> float | None:
    """min ("minimize") or max ("maximize") of every finite value of `name` in history and summary."""
    values = metric_history(run, name)
    summary: Any = run.summary_metrics.get(name) if isinstance(run.summary_metrics, dict) else None
    if is_number(summary):
        values.append(float(summary))
    if not values:
        return None
    return max(values) if kind == "maximize" else min(values)


def metric_value(config: dict[str, Any], run: SweepRun) -> float | None:
    """The run's best finite value of `metric.name` (min or max by goal), not its last one."""
    metric = config.get("metric") if isinstance(config, dict) else None
    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
        return None
    return metric_extremum(run, metric["name"], metric_goal(config))
