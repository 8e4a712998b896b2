"""W&B's run filters (MongoDB-style: `{"config.lr": {"$gt": 0.01}}`), matched against a run's fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runhive.errors import UsageError


def _get(doc: Any, dotted: str) -> Any:
    cur = doc
    for part in dotted.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, Mapping) and "value" in cur and isinstance(cur["value"], Mapping):
            cur = cur["value"].get(part)
        else:
            return _MISSING
    return cur


_MISSING = object()


def matches(doc: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(doc, c) for c in cond):
                return False
            continue
        if key == "$or":
            if not any(matches(doc, c) for c in cond):
                return False
            continue
        value = _get(doc, key)
        if not _cond(value, cond):
            return False
    return True


def _cond(value: Any, cond: Any) -> bool:
    if not isinstance(cond, Mapping) or not any(str(k).startswith("$") for k in cond):
        if isinstance(value, list) and not isinstance(cond, list):
            return cond in value
        return bool(value == cond)
    for op, arg in cond.items():
        present = value is not _MISSING
        ok: bool
        if op == "$exists":
            ok = present == bool(arg)
        elif not present:
            ok = op in ("$ne", "$nin")
        elif op == "$eq":
            ok = value == arg
        elif op == "$ne":
            ok = value != arg
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            try:
                ok = {"$gt": value > arg, "$gte": value >= arg, "$lt": value < arg, "$lte": value <= arg}[op]
            except TypeError:
                ok = False
        elif op == "$in":
            ok = any(v in arg for v in value) if isinstance(value, list) else value in arg
        elif op == "$nin":
            ok = not (any(v in arg for v in value) if isinstance(value, list) else value in arg)
        elif op == "$regex":
            ok = isinstance(value, str) and re.search(arg, value) is not None
        else:
            raise UsageError(
                f"Unsupported filter operator {op!r}; use $eq $ne $gt $gte $lt $lte $in $nin "
                "$regex $exists $and $or."
            )
        if not ok:
            return False
    return True
