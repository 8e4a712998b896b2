"""`define_metric`: metric definitions and the summary aggregates they ask for.

The same code runs in the client (so `run.summary` reads what the store will hold) and in the daemon (which
computes the stored summary); it only does work for keys that have a definition.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any

from runhive.errors import UsageError

SUMMARY_OPS = ("min", "max", "mean", "first", "last", "best", "none", "copy")
GOALS = ("minimize", "maximize")


# Plain classes, not dataclasses: each @dataclass costs ~0.5 ms at import, and this module is on init()'s path.
class MetricDef:
    __slots__ = ("goal", "hidden", "name", "step_metric", "step_sync", "summary")

    def __init__(
        self,
        name: str,
        step_metric: str = "",
        summary: tuple[str, ...] = (),
        goal: str = "",
        hidden: bool = False,
        step_sync: bool = False,
    ) -> None:
        self.name, self.step_metric, self.summary = name, step_metric, summary
        self.goal, self.hidden, self.step_sync = goal, hidden, step_sync

    _FIELDS = ("name", "step_metric", "summary", "goal", "hidden", "step_sync")  # in __init__'s order

    def _key(self) -> tuple[Any, ...]:
        return (self.name, self.step_metric, self.summary, self.goal, self.hidden, self.step_sync)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetricDef) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            "MetricDef("
            + ", ".join(f"{k}={v!r}" for k, v in zip(self._FIELDS, self._key(), strict=True))
            + ")"
        )

    @property
    def is_glob(self) -> bool:
        return any(c in self.name for c in "*?[")


def parse_summary(summary: Any) -> tuple[str, ...]:
    if summary is None:
        return ()
    if not isinstance(summary, str):
        raise UsageError(
            f"define_metric(summary=...) takes a comma-separated string, got {type(summary).__name__}."
        )
    ops = tuple(op.strip() for op in summary.split(",") if op.strip())
    for op in ops:
        if op not in SUMMARY_OPS:
            raise UsageError(
                f"define_metric(summary={summary!r}): unknown summary {op!r}; use a comma-separated list of "
                f"{', '.join(SUMMARY_OPS)}."
            )
    return ops


def make_def(
    name: Any,
    step_metric: Any = None,
    step_sync: Any = None,
    hidden: Any = None,
    summary: Any = None,
    goal: Any = None,
) -> MetricDef:
    if not isinstance(name, str) or not name:
        raise UsageError(
            f"define_metric() needs a metric name (a str, or a glob such as 'val/*'), got {name!r}."
        )
    if step_metric is not None and not isinstance(step_metric, str):
        raise UsageError(f"define_metric(step_metric=...) must be a metric name (str), got {step_metric!r}.")
    if goal is not None and goal not in GOALS:
        raise UsageError(f"define_metric(goal={goal!r}): use 'minimize' or 'maximize'.")
    return MetricDef(
        name=name,
        step_metric=step_metric or "",
        summary=parse_summary(summary),
        goal=goal or "",
        hidden=bool(hidden),
        step_sync=bool(step_sync if step_sync is not None else bool(step_metric)),
    )


def merge(old: MetricDef, new: MetricDef) -> MetricDef:
    """W&B's rule for a second `define_metric` of the same name (without `overwrite=True`): the definitions
    merge. Summaries are the union, fields the new call sets replace, the others are kept."""
    summary = old.summary + tuple(op for op in new.summary if op not in old.summary)
    return MetricDef(
        name=new.name,
        step_metric=new.step_metric or old.step_metric,
        summary=summary,
        goal=new.goal or old.goal,
        hidden=old.hidden or new.hidden,
        step_sync=old.step_sync or new.step_sync,
    )


class _Agg:
    __slots__ = ("first", "last", "max", "min", "n", "total")

    def __init__(self, first: Any = None) -> None:
        self.n = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.first: Any = first
        self.last: Any = None


class Aggregator:
    __slots__ = ("_aggs", "_last_step_values", "_resolved", "exact", "globs")

    def __init__(self) -> None:
        self.exact: dict[str, MetricDef] = {}
        self.globs: list[MetricDef] = []
        self._resolved: dict[str, MetricDef | None] = {}
        self._aggs: dict[str, _Agg] = {}
        self._last_step_values: dict[str, Any] = {}

    def define(self, d: MetricDef) -> None:
        if d.is_glob:
            self.globs = [g for g in self.globs if g.name != d.name] + [d]
        else:
            self.exact[d.name] = d
        self._resolved.clear()

    def merged(self, d: MetricDef) -> MetricDef:
        """`d` merged into the existing definition of the same name (exact or glob), if there is one."""
        if d.is_glob:
            old = next((g for g in self.globs if g.name == d.name), None)
        else:
            old = self.exact.get(d.name)
        return d if old is None else merge(old, d)

    def lookup(self, key: str) -> MetricDef | None:
        if key in self._resolved:
            return self._resolved[key]
        d = self.exact.get(key)
        if d is None:
            d = next((g for g in self.globs if fnmatch.fnmatchcase(key, g.name)), None)
        self._resolved[key] = d
        return d

    def __bool__(self) -> bool:
        return bool(self.exact or self.globs)

    def reset(self, key: str) -> None:
        self._aggs.pop(key, None)

    def step_sync(self, row: dict[str, Any]) -> None:
        """Fill in the last value of each key's step metric on rows that lack it."""
        for key in list(row):
            d = self.lookup(key)
            if d is not None and d.step_metric and d.step_sync and d.step_metric not in row:
                if d.step_metric in self._last_step_values:
                    row[d.step_metric] = self._last_step_values[d.step_metric]
        for key, value in row.items():
            self._last_step_values[key] = value

    def observe(self, row: dict[str, Any], summary: dict[str, Any]) -> None:
        """Update `summary` (which already holds the row's last values) with the defined aggregates."""
        for key, value in row.items():
            d = self.lookup(key)
            if d is None or not d.summary:
                continue
            if "none" in d.summary:
                summary.pop(key, None)
                continue
            agg = self._aggs.get(key)
            if agg is None:
                agg = self._aggs[key] = _Agg(first=value)
            agg.last = value
            numeric = (
                isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
            )
            if numeric:
                agg.n += 1
                agg.total += value
                agg.min = min(agg.min, value)
                agg.max = max(agg.max, value)
            out: dict[str, Any] = {}
            for op in d.summary:
                if op in ("last", "copy"):
                    out["last"] = value
                elif op == "first":
                    out["first"] = agg.first
                elif not agg.n:
                    continue
                elif op == "min":
                    out["min"] = agg.min
                elif op == "max":
                    out["max"] = agg.max
                elif op == "mean":
                    out["mean"] = agg.total / agg.n
                elif op == "best":
                    out["best"] = agg.max if d.goal == "maximize" else agg.min
            summary[key] = out

    def to_state(self) -> dict[str, Any]:
        """Everything this aggregator holds as a JSON document (non-finite floats tagged, so strict JSON such as
        PostgreSQL's JSONB takes it and `from_state` gives back the same numbers): the team server keeps it with
        the run between requests."""
        return _tag(
            {
                "defs": [
                    [getattr(d, f) for f in MetricDef._FIELDS] for d in [*self.exact.values(), *self.globs]
                ],
                "aggs": {k: [a.n, a.total, a.min, a.max, a.first, a.last] for k, a in self._aggs.items()},
                "last_step_values": self._last_step_values,
            }
        )

    @classmethod
    def from_state(cls, doc: dict[str, Any]) -> Aggregator:
        doc = _untag(doc)
        agg = cls()
        for name, step_metric, summary, goal, hidden, step_sync in doc.get("defs") or ():
            agg.define(MetricDef(name, step_metric, tuple(summary), goal, bool(hidden), bool(step_sync)))
        for key, (n, total, lo, hi, first, last) in (doc.get("aggs") or {}).items():
            a = agg._aggs[key] = _Agg(first=first)
            a.n, a.total, a.min, a.max, a.last = int(n), float(total), float(lo), float(hi), last
        agg._last_step_values = dict(doc.get("last_step_values") or {})
        return agg

    def to_list(self) -> list[dict[str, Any]]:
        return [d.__dict__ for d in [*self.exact.values(), *self.globs]]


_FLOAT_TAG = "__float__"  # {"__float__": "nan" | "inf" | "-inf"}: a number strict JSON cannot hold


def _tag(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {_FLOAT_TAG: repr(value)}
    if isinstance(value, dict):
        return {str(k): _tag(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag(v) for v in value]
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _FLOAT_TAG in value:
            return float(value[_FLOAT_TAG])
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value
