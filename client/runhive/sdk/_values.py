"""Turning what users log into JSON-friendly values, in the caller's thread (a snapshot at log time).

The fast path (plain int/float/str/bool/None) never reaches this module's slow helpers.
numpy and torch are handled when already imported by the user; they are never imported here.
"""

from __future__ import annotations

import datetime
import enum
import json
import sys
from collections.abc import Mapping
from typing import Any

PLAIN = frozenset({int, float, str, bool, type(None)})
HIST_BINS = 64
MAX_LIST = 32


# JSON carries what runhive stores; Python refuses int <-> str conversions over 4,300 digits, so larger ints
# are refused here, in the caller's thread, rather than failing later where nobody can see it.
MAX_INT = 10**4000
MIN_INT = -MAX_INT
MAX_DEPTH = 100  # nested dicts and lists; deeper (or circular) values are refused


def check_int(value: int) -> int:
    if value > MAX_INT or value < MIN_INT:
        raise ValueError("runhive cannot store an int of over 4,000 digits; log it as a float or a str.")
    return value


def convert(value: Any, json_keys: bool = False) -> Any:
    """A JSON-friendly copy of `value` (W&B's history conversion rules). TypeError or ValueError for what
    cannot be stored: other types, non-str keys, ints over 4,000 digits, nesting deeper than MAX_DEPTH
    (circular values included). `json_keys=True` (artifact metadata, as W&B's json.dumps does): int, float,
    bool and None keys become their JSON text ({0: "a"} -> {"0": "a"}) instead of being refused."""
    return _convert(value, 0, json_keys)


def _json_key(k: Any) -> str:
    if isinstance(k, bool) or k is None:
        return {True: "true", False: "false", None: "null"}[k]
    if isinstance(k, (int, float)):
        return json.dumps(k)
    raise TypeError(f"Keys must be str, int, float, bool or None, not {type(k).__name__}.")


def _convert(value: Any, depth: int, json_keys: bool = False) -> Any:
    t = type(value)
    if t is int:
        return check_int(value)
    if t in PLAIN:
        return value
    if depth >= MAX_DEPTH:
        raise ValueError(
            f"runhive cannot store values nested more than {MAX_DEPTH} levels deep (or circular)."
        )
    depth += 1
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                if not json_keys:
                    raise TypeError(
                        f"Key values passed to `runhive.log` must be strings; got {type(k).__name__} {k!r}."
                    )
                k = _json_key(k)
            out[k] = _convert(v, depth, json_keys)
        return out
    if isinstance(value, (list, tuple)):
        return [_convert(v, depth, json_keys) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_convert(v, depth, json_keys) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    for base in (bool, int, float, str):  # subclasses of the plain types
        if isinstance(value, base):
            return _convert(base(value), depth, json_keys)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.generic):
            return _convert(value.item(), depth, json_keys)
        if isinstance(value, np.ndarray):
            return _convert_array(np, value)
    media = _as_media(value)
    if media is not None:
        return _convert(media.to_json(), depth, json_keys)
    if hasattr(value, "to_json") and callable(value.to_json):
        return _convert(value.to_json(), depth, json_keys)
    raise TypeError(
        f"runhive.log cannot store a value of type {t.__module__}.{t.__qualname__}; log numbers, strings, "
        "bools, lists, dicts, numpy arrays or tensors."
    )


def _data_type(module: str, name: str) -> Any:
    # runhive.sdk.data_types imports this module (for table cells), so its classes are looked up when needed.
    import importlib

    return getattr(importlib.import_module(f"runhive.sdk.data_types.{module}"), name)


def _as_media(value: Any) -> Any:
    """W&B's conversions of what `log` takes besides its own types: a pandas DataFrame becomes a `Table`, a plotly
    figure a `Plotly`, a matplotlib figure a `Plotly` (an `Image` when it holds images, when plotly is missing or
    cannot convert it). None for anything else. Nothing is imported that the user has not imported."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        return _data_type("_table", "Table")(dataframe=value)
    module = type(value).__module__ or ""
    if module.startswith("plotly.") and callable(getattr(value, "to_plotly_json", None)):
        return _data_type("_plotly", "Plotly")(value)
    plt = sys.modules.get("matplotlib.pyplot")
    if (module.startswith("matplotlib.") and callable(getattr(value, "savefig", None))) or (
        plt is not None and value is plt
    ):
        try:
            return _data_type("_plotly", "Plotly").make_plot_media(value)
        except (ImportError, ValueError):
            return _data_type("_image", "Image")(value)
    return None


def is_chart(value: Any) -> bool:
    """Whether `value` is (or is a dict holding) a `runhive.plot` chart, which `Run.log` rewrites as W&B does."""
    charts = sys.modules.get("runhive.plot._custom_chart")
    if charts is None:  # no chart can exist before runhive.plot is imported
        return False
    return _holds(value, (charts.CustomChart, charts.Visualize), 0)


def _holds(value: Any, types: tuple[type, ...], depth: int) -> bool:
    if isinstance(value, types):
        return True
    if isinstance(value, Mapping) and depth < MAX_DEPTH:
        return any(_holds(v, types, depth + 1) for v in value.values())
    return False


def chart_row(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[tuple[str, ...], Any]]]:
    """The row of a `log` call that holds charts, as W&B's `_serialize_custom_charts` rewrites it (each chart's table
    under `<key>_table`), converted, and the config entries to set (`_wandb.visualize.<key>`: the chart's panel)."""
    charts = sys.modules["runhive.plot._custom_chart"]
    for k in data:
        if not isinstance(k, str):
            raise TypeError("Key values passed to `runhive.log` must be strings.")
    row, config = charts.serialize_custom_charts(data)
    return {k: convert(v) for k, v in row.items()}, config


def _convert_array(np: Any, arr: Any) -> Any:
    if arr.size == 1:
        return convert(arr.reshape(-1)[0].item())
    if arr.size <= MAX_LIST:
        return convert(arr.tolist())
    return histogram(np, arr)


def histogram(np: Any, arr: Any) -> dict[str, Any]:
    flat = np.asarray(arr, dtype=float).reshape(-1)
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return {"_type": "histogram", "values": [], "bins": []}
    values, bins = np.histogram(finite, bins=HIST_BINS)
    return {"_type": "histogram", "values": values.tolist(), "bins": bins.tolist()}


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dot-separated names, as the W&B UI shows them."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v.get("_type") is None:
            out.update(flatten(v, name + "."))
        else:
            out[name] = v
    return out
