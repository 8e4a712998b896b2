"""Checks on what a client appends, before anything reaches a WAL: a malformed or hostile batch is refused with
INVALID_ARGUMENT for that caller alone and never becomes a record the store writer (shared by every run) or a
replay has to survive."""

from __future__ import annotations

import json
from typing import Any

_CLIENT_KINDS = frozenset({"config", "history", "summary", "update", "exit", "metric"})


class Invalid(ValueError):
    pass


def _json_object(raw: bytes, what: str, seq: int) -> None:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"record {seq}: {what} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise Invalid(f"record {seq}: {what} must be a JSON object, got {type(obj).__name__}")


def check_group(group: Any) -> None:
    """Raise `Invalid` unless `group` (a RecordBatch from a client) is well formed."""
    last = 0
    for rec in group.records:
        seq = rec.seq
        if seq <= last:
            raise Invalid(f"sequence numbers must start at 1 and increase; got {seq} after {last}")
        last = seq
        kind = rec.WhichOneof("kind")
        if kind not in _CLIENT_KINDS:
            raise Invalid(f"record {seq}: kind {kind!r} cannot be sent by a client")
        if kind == "history":
            h = rec.history
            n = h.rows or 1
            if len(h.values) != len(h.keys) * n or len(h.int_values) != len(h.int_keys) * n:
                raise Invalid(f"record {seq}: history columns do not match their keys ({n} rows)")
            if h.json:
                if n > 1:
                    raise Invalid(f"record {seq}: a block of {n} rows cannot carry a JSON part")
                _json_object(h.json, "the history row", seq)
        elif kind == "config" and rec.config.json:
            _json_object(rec.config.json, "the config", seq)
        elif kind == "summary" and rec.summary.json:
            _json_object(rec.summary.json, "the summary", seq)
