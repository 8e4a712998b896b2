"""Grid search (reference §4.1): fixed order, de-duplication by value hash, every existing run marks its
combination as done."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

from ._params import Param, flatten, renest, run_value
from ._runs import SweepConfigError, SweepRun

_GRID_KINDS = ("categorical", "constant", "int_uniform", "q_uniform")

_MISSING: Any = object()


def _canonical(value: Any) -> Any:
    # A YAML "3e6" becomes a float in the sweep config but an int in the stored run config (wandb/sweeps #109).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def value_hash(value: Any) -> str:
    dumped = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.md5(dumped.encode("utf-8")).hexdigest()


def _arange(lo: Any, hi: Any, q: Any) -> list[Any]:
    """numpy.arange(lo, hi, q): max excluded, ints only when every argument is an int."""
    count = max(math.ceil((hi - lo) / q), 0)
    as_int = all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi, q))
    return [lo + i * q if as_int else float(lo + i * q) for i in range(count)]


@dataclass(frozen=True)
class _Axis:
    name: str
    hashes: tuple[str, ...]  # unique, in listed order
    by_hash: dict[str, Any]
    dict_keys: frozenset[str] | None  # keys of dict values, to compare run values on those alone


def _axis(param: Param) -> _Axis:
    if param.kind == "int_uniform":
        values: list[Any] = list(range(param.spec["min"], param.spec["max"] + 1))
    elif param.kind == "q_uniform":
        values = _arange(param.spec["min"], param.spec["max"], param.spec["q"])
    else:
        values = list(param.spec["values"])
    by_hash: dict[str, Any] = {}
    order: list[str] = []
    for v in values:
        h = value_hash(v)
        if h not in by_hash:
            order.append(h)
        by_hash[h] = v  # a later equal-hash entry's value wins, as in W&B
    dict_values = [v for v in values if isinstance(v, dict)]
    keys = frozenset(str(k) for d in dict_values for k in d) if dict_values else None
    return _Axis(param.name, tuple(order), by_hash, keys)


def _grid(config: dict[str, Any]) -> tuple[list[Param], list[_Axis]]:
    params = flatten(config["parameters"])
    for p in params:
        if p.kind not in _GRID_KINDS:
            raise SweepConfigError(
                f"Parameter {p.name} is a disallowed type with grid search. Grid search requires all parameters "
                "to be categorical, constant, int_uniform, or q_uniform. Specification of probabilities for "
                "categorical parameters is disallowed in grid search"
            )
    return params, [_axis(p) for p in params if p.kind != "constant"]


def _run_key(run: SweepRun, axes: list[_Axis]) -> tuple[str, ...]:
    hashes = []
    for axis in axes:
        value = run_value(run.config, axis.name, _MISSING)
        if value is _MISSING:
            continue  # a run lacking a parameter yields a short tuple that matches no combination, as in W&B
        if axis.dict_keys is not None and isinstance(value, dict):
            # The run's config may carry keys the grid never set (wandb/sweeps #121).
            value = {k: v for k, v in value.items() if str(k) in axis.dict_keys}
        hashes.append(value_hash(value))
    return tuple(hashes)


def grid_next(config: dict[str, Any], runs: list[SweepRun]) -> dict[str, dict[str, Any]] | None:
    params, axes = _grid(config)
    seen = {_run_key(run, axes) for run in runs}
    # Last parameter varies fastest: itertools.product's order over the sorted names.
    for combo in itertools.product(*(axis.hashes for axis in axes)):
        if combo in seen:
            continue
        chosen = {axis.name: axis.by_hash[h] for axis, h in zip(axes, combo, strict=True)}
        flat = {p.name: (p.spec["value"] if p.kind == "constant" else chosen[p.name]) for p in params}
        return renest(flat)
    return None


def grid_size(config: dict[str, Any]) -> int:
    _, axes = _grid(config)
    return math.prod(len(axis.hashes) for axis in axes)
