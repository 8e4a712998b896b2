"""Artifact metadata made JSON as W&B makes it (`wandb.util.json_friendly_val`, then `json.dumps`).

What W&B does, and so runhive: int, float, bool and None keys become their JSON text (`{0: "a"}` -> `{"0": "a"}`),
numpy keys and values become Python ones, arrays of up to 32 elements lists (larger ones their `str()`), NaN None,
sets and tuples lists, dates ISO text, enums their name, dataclasses dicts, callables their qualified name, other
objects of a non-builtin class their `str()`; infinity, tuple keys and builtin objects JSON cannot hold are
refused; at most 100 top-level keys.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import sys
from collections.abc import Mapping
from typing import Any

MAX_KEYS = 100  # W&B's MAX_ARTIFACT_METADATA_KEYS
_MAX_DEPTH = 100
_SMALL_ARRAY = 32


def validate_metadata(metadata: Any) -> dict[str, Any]:
    """`metadata` (a dict, a JSON text or None) as the JSON-friendly dict W&B stores."""
    if metadata is None or (isinstance(metadata, str) and not metadata):
        return {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError as exc:
            raise ValueError(f"Artifact metadata: {metadata[:80]!r} is not a JSON object ({exc}).") from None
    if not isinstance(metadata, Mapping):
        raise TypeError(f"Cannot parse {type(metadata)} as artifact metadata: pass a dict.")
    friendly = _friendly(metadata, 0)
    try:
        text = json.dumps(friendly, allow_nan=False)
    except ValueError as exc:
        raise ValueError(
            f"Artifact metadata: {exc} (infinity cannot be stored; use None or a str)."
        ) from None
    except TypeError as exc:
        raise TypeError(f"Artifact metadata: {exc}.") from None
    out = json.loads(text)
    if len(out) > MAX_KEYS:
        raise ValueError(f"Artifact must not have more than {MAX_KEYS!r} metadata keys.")
    return dict(out)


def _key(k: Any) -> Any:
    np = sys.modules.get("numpy")
    if np is not None and isinstance(k, np.generic):
        return k.item()
    return k


def _friendly(val: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError(f"Artifact metadata is nested more than {_MAX_DEPTH} levels deep (or circular).")
    depth += 1
    if isinstance(val, Mapping):
        return {_key(k): _friendly(v, depth) for k, v in val.items()}
    if isinstance(val, slice):
        return {"slice_start": val.start, "slice_step": val.step, "slice_stop": val.stop}
    if type(val) in (str, int, bool) or val is None:
        return val
    if isinstance(val, float):
        return None if math.isnan(val) else float(val)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(val, torch.Tensor):
        val = val.detach().cpu()
        val = val.numpy() if val.dim() else val.item()
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(val, np.ndarray):
            if val.size == 1:
                return _friendly(val.reshape(-1)[0], depth)
            if val.size <= _SMALL_ARRAY:
                return _friendly(val.tolist(), depth)
            return str(val)  # as W&B: a large array is kept as its text
        if isinstance(val, np.generic):
            return _friendly(val.item(), depth)
    if isinstance(val, (list, tuple, set, frozenset)):
        return [_friendly(v, depth) for v in val]
    if isinstance(val, bytes):
        return val.decode("utf-8", errors="replace")
    if isinstance(val, (datetime.datetime, datetime.date)):
        return val.isoformat()
    if isinstance(val, enum.Enum):
        return val.name
    for base in (str, int):  # subclasses of the plain types
        if isinstance(val, base):
            return base(val)
    if dataclasses.is_dataclass(val) and not isinstance(val, type):
        return _friendly(dataclasses.asdict(val), depth)
    if callable(val):
        module, name = getattr(val, "__module__", None), getattr(val, "__qualname__", None)
        return f"{module}.{name}" if module and name else str(val)
    if type(val).__module__ not in ("builtins", "__builtin__"):
        return str(val)
    return val  # a builtin object JSON cannot hold: json.dumps refuses it, naming its type
