"""History rows on the wire and in the store: numbers as columns, everything else as one JSON object.

Floats go to keys/values, 64-bit ints to int_keys/int_values, the rest (str, bool, None, lists, nested
dicts, histograms) to `json`. Consecutive rows with the same numeric keys and nothing else travel as one
block record (`rows` > 1, row-major columns), so neither the sender nor the daemon touches JSON, and the
daemon stores a block with column slices.
"""

from __future__ import annotations

import json
import math
from typing import Any

from . import messages as pb

_IMIN, _IMAX = -(1 << 63), (1 << 63) - 1


def _json_default(obj: Any) -> Any:
    return str(obj)


def split_row(
    row: dict[str, Any],
) -> tuple[list[str], list[float], list[str], list[int], dict[str, Any] | None]:
    fk: list[str] = []
    fv: list[float] = []
    ik: list[str] = []
    iv: list[int] = []
    rest: dict[str, Any] | None = None
    for k, v in row.items():
        t = type(v)
        if t is float:
            fk.append(k)
            fv.append(v)
        elif t is int and _IMIN <= v <= _IMAX:
            ik.append(k)
            iv.append(v)
        else:
            if rest is None:
                rest = {}
            rest[k] = v
    return fk, fv, ik, iv, rest


class BlockBuilder:
    """Accumulates consecutive rows of one writer that share their numeric keys."""

    __slots__ = ("fk", "fv", "ik", "iv", "n", "rec", "step")

    def __init__(
        self, rec: pb.Record, fk: list[str], fv: list[float], ik: list[str], iv: list[int], step: int
    ):
        self.rec = rec
        self.fk, self.fv, self.ik, self.iv = fk, fv, ik, iv
        self.n = 1
        self.step = step

    def accepts(self, fk: list[str], ik: list[str]) -> bool:
        return fk == self.fk and ik == self.ik

    def add(self, fv: list[float], iv: list[int]) -> None:
        self.fv.extend(fv)
        self.iv.extend(iv)
        self.n += 1

    def close(self) -> None:
        h = self.rec.history
        h.step = self.step
        h.keys.extend(self.fk)
        h.values.extend(self.fv)
        h.int_keys.extend(self.ik)
        h.int_values.extend(self.iv)
        if self.n > 1:
            h.rows = self.n


def encode_row(h: pb.HistoryRecord, row: dict[str, Any]) -> None:
    fk, fv, ik, iv, rest = split_row(row)
    h.step = row.get("_step", 0)
    h.keys.extend(fk)
    h.values.extend(fv)
    h.int_keys.extend(ik)
    h.int_values.extend(iv)
    if rest is not None:
        h.json = encode_json(rest)


def encode_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=True, default=_json_default).encode()


def decode_rows(h: pb.HistoryRecord) -> list[dict[str, Any]]:
    n = h.rows or 1
    if n == 1:
        row: dict[str, Any] = dict(zip(h.keys, h.values, strict=False))
        if h.int_keys:
            row.update(zip(h.int_keys, h.int_values, strict=False))
        if h.json:
            row.update(json.loads(h.json))
        return [row]
    keys, ikeys = list(h.keys), list(h.int_keys)
    vals, ivals = list(h.values), list(h.int_values)
    k, ki = len(keys), len(ikeys)
    rows = []
    for i in range(n):
        row = dict(zip(keys, vals[i * k : (i + 1) * k], strict=False))
        if ki:
            row.update(zip(ikeys, ivals[i * ki : (i + 1) * ki], strict=False))
        rows.append(row)
    return rows


def decode_row(h: pb.HistoryRecord) -> dict[str, Any]:
    """The row of a one-row record (the last row of a block)."""
    return decode_rows(h)[-1]


# Step and timestamp are the axes of every row, not metrics of their own.
NOT_METRICS = frozenset({"_step", "_timestamp"})


def history_steps(h: pb.HistoryRecord) -> list[int]:
    """The step of each row of a record (a block of rows carries them as its `_step` column)."""
    n = h.rows or 1
    if n == 1:
        return [h.step]
    ikeys = list(h.int_keys)
    if "_step" in ikeys:
        return list(h.int_values[ikeys.index("_step") :: len(ikeys)])
    return list(range(h.step, h.step + n))


def history_columns(h: pb.HistoryRecord) -> list[tuple[str, list[float]]]:
    """The numeric metrics of a record as (name, one value per row) columns, sliced without building rows;
    numbers nested in a JSON row's dicts are named with dots (`{"a": {"b": 1}}` is `a.b`)."""
    keys, ikeys = list(h.keys), list(h.int_keys)
    columns: list[tuple[str, list[float]]] = []
    if (h.rows or 1) == 1:
        columns.extend((name, [v]) for name, v in zip(keys, h.values, strict=False))
        columns.extend((name, [float(v)]) for name, v in zip(ikeys, h.int_values, strict=False))
        if h.json:
            nums: list[tuple[str, float]] = []
            _flat_numbers(json.loads(h.json), "", nums)
            columns.extend((name, [v]) for name, v in nums)
    else:
        vals, ivals = list(h.values), list(h.int_values)
        k, ki = len(keys), len(ikeys)
        columns.extend((name, vals[j::k]) for j, name in enumerate(keys))
        columns.extend((name, [float(v) for v in ivals[j::ki]]) for j, name in enumerate(ikeys))
    return [(name, col) for name, col in columns if name not in NOT_METRICS]


def _flat_numbers(row: dict[str, Any], prefix: str, out: list[tuple[str, float]]) -> None:
    for k, v in row.items():
        t = type(v)
        if t is float:
            out.append((prefix + k, v))
        elif t is int:
            out.append((prefix + k, float(v) if abs(v) < 1 << 63 else math.nan))
        elif t is dict and "_type" not in v:
            _flat_numbers(v, prefix + k + ".", out)
