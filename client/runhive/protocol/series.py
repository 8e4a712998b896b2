"""A metric series as every store returns it for charts, and the rule that tells an int metric back from the
floats a downsampling index holds. Shared by the local store's read backend and the team server's read API, so both
draw the same chart and give back the same values."""

from __future__ import annotations

from typing import Any

Series = dict[str, list[Any]]  # {"step": [...], "min": [...], "max": [...], "last": [...]}

EXACT = float(1 << 53)  # floats are exact integers below this


def empty_series() -> Series:
    return {"step": [], "min": [], "max": [], "last": []}


def logged_as_int(summary: dict[str, Any], key: str) -> bool:
    """The run's last logged value of `key` (its summary's, also for a nested `a.b` key, or an aggregate's
    last/first/min/max) is an int."""
    value: Any = summary.get(key) if key in summary else _nested(summary, key)
    return type(value) is int or (
        isinstance(value, dict) and any(type(value.get(op)) is int for op in ("last", "first", "min", "max"))
    )


def _nested(summary: dict[str, Any], key: str) -> Any:
    cur: Any = summary
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur
