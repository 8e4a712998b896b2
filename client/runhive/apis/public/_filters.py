"""W&B's run filters (MongoDB-style: `{"config.lr": {"$gt": 0.01}}`) and `order=` strings, over a run's fields.

The field names are W&B's, in both spellings where W&B has two (`displayName`/`display_name`, `jobType`,
`createdAt`); `config.X.value` (how W&B's server stores config) reads runhive's plain `config.X`. A filter this
cannot honour (an unknown operator or field) raises `UsageError` before any run is read, never an empty list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from runhive.apis.backends._base import Cond
from runhive.errors import UsageError

# Filter/order field -> the key in ApiRun._filter_doc().
FIELDS = {
    "id": "id",
    "name": "name",  # W&B's `name` is the run id; the display name is `displayName`
    "display_name": "display_name",
    "displayName": "display_name",
    "state": "state",
    "tags": "tags",
    "group": "group",
    "job_type": "job_type",
    "jobType": "job_type",
    "created_at": "created_at",
    "createdAt": "created_at",
    "updated_at": "updated_at",
    "updatedAt": "updated_at",
    "heartbeat_at": "updated_at",
    "heartbeatAt": "updated_at",
    "config": "config",
    "summary_metrics": "summary_metrics",
    "summaryMetrics": "summary_metrics",
    "notes": "notes",
}
_TIME_FIELDS = frozenset({"created_at", "updated_at"})
_NESTED = frozenset({"config", "summary_metrics"})
_FIELD_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists", "$not")
_LOGICAL_OPS = ("$and", "$or", "$nor", "$not")

_MISSING: Any = object()

Predicate = Callable[[Mapping[str, Any]], bool]


def _field(dotted: str, what: str) -> tuple[str, list[str]]:
    """A field path as (the doc key, the nested parts); UsageError for a field runs do not have."""
    head, _, rest = str(dotted).partition(".")
    field = FIELDS.get(head)
    if field is None:
        raise UsageError(
            f"{what}: unknown run field {head!r} in {dotted!r}; use one of {', '.join(sorted(FIELDS))} "
            "(config.X and summary_metrics.X for nested keys)."
        )
    parts = rest.split(".") if rest else []
    if parts and field not in _NESTED:
        raise UsageError(f"{what}: {head!r} has no nested keys ({dotted!r}).")
    return field, parts


def _get(doc: Mapping[str, Any], field: str, parts: list[str]) -> Any:
    cur: Any = doc.get(field, _MISSING)
    for i, part in enumerate(parts):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif field == "config" and part == "value" and i > 0:
            continue  # W&B's `config.lr.value`: runhive stores config values plain
        elif isinstance(cur, Mapping) and "value" in cur and isinstance(cur["value"], Mapping):
            cur = cur["value"].get(part, _MISSING)
        else:
            return _MISSING
    return cur


def value_of(doc: Mapping[str, Any], dotted: str, what: str = "filter") -> Any:
    """The value at `dotted` in a run's filter doc, or `MISSING`."""
    field, parts = _field(dotted, what)
    return _get(doc, field, parts)


def is_missing(value: Any) -> bool:
    return value is _MISSING


def _as_time(arg: Any, key: str) -> Any:
    """Times are stored as Unix seconds; W&B filters compare ISO-8601 strings ("2026-01-01T00:00:00", UTC)."""
    if isinstance(arg, list):
        return [_as_time(a, key) for a in arg]
    if isinstance(arg, datetime):
        dt = arg
    elif isinstance(arg, str):
        try:
            dt = datetime.fromisoformat(arg.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"filter on {key!r}: {arg!r} is not an ISO-8601 time such as '2026-01-01T00:00:00'."
            ) from None
    else:
        return arg
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def compile_filter(flt: Mapping[str, Any]) -> Predicate:
    """The filter as a predicate over `ApiRun._filter_doc()`; every field and operator is checked here."""
    if not isinstance(flt, Mapping):
        raise UsageError(f"filters must be a dict (MongoDB-style), got {type(flt).__name__}.")
    preds: list[Predicate] = []
    for key, cond in flt.items():
        key = str(key)
        if key.startswith("$"):
            preds.append(_logical(key, cond))
        else:
            preds.append(_field_pred(key, cond))
    return lambda doc: all(p(doc) for p in preds)


def _logical(op: str, cond: Any) -> Predicate:
    if op == "$not":
        inner = compile_filter(cond)
        return lambda doc: not inner(doc)
    if op not in _LOGICAL_OPS:
        raise UsageError(
            f"Unsupported filter operator {op!r} at the top level; use {' '.join(_LOGICAL_OPS)} or a run field."
        )
    if not isinstance(cond, (list, tuple)):
        raise UsageError(f"filter operator {op!r} takes a list of filters, got {type(cond).__name__}.")
    subs = [compile_filter(c) for c in cond]
    if op == "$and":
        return lambda doc: all(p(doc) for p in subs)
    if op == "$or":
        return lambda doc: any(p(doc) for p in subs)
    return lambda doc: not any(p(doc) for p in subs)  # $nor


def _field_pred(key: str, cond: Any) -> Predicate:
    field, parts = _field(key, "filter")
    test = _compile_cond(key, cond, field in _TIME_FIELDS and not parts)
    return lambda doc: test(_get(doc, field, parts))


def _compile_cond(key: str, cond: Any, is_time: bool) -> Callable[[Any], bool]:
    if not isinstance(cond, Mapping) or not any(str(k).startswith("$") for k in cond):
        want = _as_time(cond, key) if is_time else cond
        return lambda value: _equal(value, want)
    tests: list[Callable[[Any], bool]] = []
    for op, arg in cond.items():
        if op not in _FIELD_OPS:
            raise UsageError(
                f"Unsupported filter operator {op!r} on {key!r}; use {' '.join(_FIELD_OPS)} "
                f"(and {' '.join(_LOGICAL_OPS)} to combine filters)."
            )
        tests.append(_op_test(key, op, arg, is_time))
    return lambda value: all(t(value) for t in tests)


def _op_test(key: str, op: str, arg: Any, is_time: bool) -> Callable[[Any], bool]:
    if op == "$not":
        inner = _compile_cond(key, {"$regex": arg} if isinstance(arg, str) else arg, is_time)
        return lambda value: not inner(value)
    if op in ("$in", "$nin") and not isinstance(arg, (list, tuple, set, frozenset)):
        raise UsageError(f"filter operator {op!r} on {key!r} takes a list, got {arg!r}.")
    if op == "$regex":
        try:
            pattern = re.compile(arg)
        except (re.error, TypeError) as e:
            raise UsageError(f"filter {key!r}: $regex {arg!r} is not a regular expression ({e}).") from None
        return lambda value: isinstance(value, str) and pattern.search(value) is not None
    if is_time and op != "$exists":
        arg = _as_time(arg, key)
    return lambda value: _op(op, value, arg)


def _equal(value: Any, want: Any) -> bool:
    if value is _MISSING:
        return False
    if isinstance(value, list) and not isinstance(want, list):
        return want in value
    return bool(value == want)


def _op(op: str, value: Any, arg: Any) -> bool:
    present = value is not _MISSING
    if op == "$exists":
        return present == bool(arg)
    if not present:
        return op in ("$ne", "$nin")
    if op == "$eq":
        return _equal(value, arg)
    if op == "$ne":
        return not _equal(value, arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        try:
            return bool(
                {"$gt": value > arg, "$gte": value >= arg, "$lt": value < arg, "$lte": value <= arg}[op]
            )
        except TypeError:
            return False
    hit = any(v in arg for v in value) if isinstance(value, list) else value in arg
    return hit if op == "$in" else not hit


# -- pushing a filter down to the backend's query --------------------------------------------------------------------
_CMP = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


def pushdown(flt: Mapping[str, Any], fields: frozenset[str]) -> tuple[Cond | None, dict[str, Any] | None]:
    """Split a filter (already checked by `compile_filter`) into the condition a backend evaluates in its own query
    (over the run fields in `fields`) and the rest, a filter applied to the runs read (None when nothing is left).
    A part goes down only where the store compares as Python does: a text field with strings, a time with numbers
    (ISO-8601 arguments turned into epoch seconds first)."""
    if not fields:  # a backend that filters nothing itself: all of it is applied to the runs read
        return None, (dict(flt) or None)
    conds: list[Cond] = []
    rest: dict[str, Any] = {}
    for key, cond in flt.items():
        key = str(key)
        if key == "$and" and isinstance(cond, (list, tuple)):
            for sub in cond:
                where, left = pushdown(sub, fields)
                if where is not None:
                    conds.append(where)
                if left:
                    rest.setdefault("$and", []).append(left)
            continue
        where = _down(key, cond, fields)
        if where is None:
            rest[key] = cond
        else:
            conds.append(where)
    return (("and", conds) if conds else None), (rest or None)


def _whole(flt: Any, fields: frozenset[str]) -> Cond | None:
    """The filter as one condition, or None when any part of it cannot go down."""
    if not isinstance(flt, Mapping):
        return None
    where, left = pushdown(flt, fields)
    if left:
        return None
    return where if where is not None else ("const", True)


def _down(key: str, cond: Any, fields: frozenset[str]) -> Cond | None:
    if key.startswith("$"):
        if key == "$not":
            inner = _whole(cond, fields)
            return None if inner is None else ("not", inner)
        subs = [_whole(c, fields) for c in cond]
        if any(s is None for s in subs):
            return None
        joined: Cond = ("and" if key == "$and" else "or", subs)
        return ("not", joined) if key == "$nor" else joined
    head, _, rest = key.partition(".")
    field = FIELDS[head]
    if rest or field not in fields:
        return None
    return _down_cond(field, key, cond)


def _fits(field: str, value: Any) -> bool:
    if field in _TIME_FIELDS:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _down_cond(field: str, key: str, cond: Any) -> Cond | None:
    is_time = field in _TIME_FIELDS
    if not isinstance(cond, Mapping) or not any(str(k).startswith("$") for k in cond):
        want = _as_time(cond, key) if is_time else cond
        return ("cmp", field, "eq", want) if _fits(field, want) else None
    parts: list[Cond] = []
    for op, arg in cond.items():
        part: Cond | None
        if op in _CMP:
            value = _as_time(arg, key) if is_time else arg
            part = ("cmp", field, _CMP[op], value) if _fits(field, value) else None
        elif op in ("$in", "$nin"):
            values = [_as_time(a, key) if is_time else a for a in arg]
            part = ("in", field, values) if all(_fits(field, v) for v in values) else None
            if part is not None and op == "$nin":
                part = ("not", part)
        elif op == "$regex":
            part = ("regex", field, arg) if isinstance(arg, str) else None
        elif op == "$exists":
            part = ("const", bool(arg))  # these fields are on every run
        elif op == "$not":
            inner = _down_cond(field, key, {"$regex": arg} if isinstance(arg, str) else arg)
            part = None if inner is None else ("not", inner)
        else:
            part = None
        if part is None:
            return None
        parts.append(part)
    return ("and", parts)


def matches(doc: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    return compile_filter(flt)(doc)


def order_key(order: str) -> tuple[str, bool]:
    """W&B's `order=`: "+field" ascending (the default sign), "-field" descending; (dotted field, descending)."""
    order = (order or "+created_at").strip()
    descending = order.startswith("-")
    dotted = order[1:] if order[:1] in "+-" else order
    if not dotted:
        raise UsageError(f"order={order!r}: name a field, e.g. '-created_at' or '+summary_metrics.loss'.")
    _field(dotted, f"order={order!r}")
    return dotted, descending


def sort_docs(docs: list[Any], get_doc: Callable[[Any], Mapping[str, Any]], order: str) -> list[Any]:
    """Items ordered by a field of their filter doc; items without the field (or with NaN) go last, in their
    original order. Numbers sort before strings, which sort before anything else."""
    dotted, descending = order_key(order)
    present: list[tuple[tuple[int, Any], Any]] = []
    missing: list[Any] = []
    for item in docs:
        value = value_of(get_doc(item), dotted, f"order={order!r}")
        if value is _MISSING or value is None or (isinstance(value, float) and math.isnan(value)):
            missing.append(item)
        elif isinstance(value, (int, float)):  # bools too: True > False
            present.append(((0, value), item))
        elif isinstance(value, str):
            present.append(((1, value), item))
        else:
            present.append(((2, repr(value)), item))
    present.sort(key=lambda kv: kv[0], reverse=descending)
    return [item for _, item in present] + missing
