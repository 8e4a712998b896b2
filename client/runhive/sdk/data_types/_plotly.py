"""`Plotly` (W&B's `wandb.Plotly`): a plotly figure stored as its JSON (`.plotly.json`)."""

from __future__ import annotations

import datetime
import decimal
import json
import sys
from typing import Any

from ._base import Media, _describe, _StoredFile


def _plain(value: Any) -> Any:
    """The figure's dict with numpy arrays as lists (as W&B's `_numpy_arrays_to_lists`), for `json.dumps`.
    plotly 6 keeps numpy arrays as base64 typed arrays (`{"dtype": "f8", "bdata": ...}`): those become lists too,
    so the file reads with every plotly.js version."""
    if isinstance(value, dict):
        if _is_typed_array(value):
            return _decode_typed_array(value)
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        return _plain(value.tolist())
    return value


def _is_typed_array(value: dict[str, Any]) -> bool:
    return isinstance(value.get("bdata"), str) and isinstance(value.get("dtype"), str) and len(value) <= 3


def _decode_typed_array(value: dict[str, Any]) -> Any:
    import base64

    import numpy as np

    arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    shape = value.get("shape")
    if shape is not None:
        dims = [int(d) for d in shape.split(",")] if isinstance(shape, str) else [int(d) for d in shape]
        arr = arr.reshape(dims)
    return arr.tolist()


def _default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(
        f"runhive.Plotly: cannot store a value of type {type(value).__name__} in the figure's JSON."
    )


def _is_plotly_figure(value: Any) -> bool:
    module = type(value).__module__ or ""
    return module.startswith("plotly.") and callable(getattr(value, "to_plotly_json", None))


def _is_matplotlib(value: Any) -> bool:
    plt = sys.modules.get("matplotlib.pyplot")
    return (plt is not None and value is plt) or (type(value).__module__ or "").startswith("matplotlib")


class Plotly(Media):
    """A plotly figure logged as its JSON (W&B's `wandb.Plotly`). A matplotlib figure is converted with
    plotly's `mpl_to_plotly`, as W&B does (log it as `runhive.Image` when that fails)."""

    _log_type = "plotly-file"
    _file: _StoredFile

    @classmethod
    def make_plot_media(cls, val: Any) -> Any:
        """A `Plotly` from a plotly figure or a matplotlib figure; an `Image` for a matplotlib figure with images."""
        if _is_matplotlib(val) and _has_images(val):
            from ._image import Image

            return Image(val)
        return cls(val)

    def __init__(self, val: Any) -> None:
        self._caption: str | None = None
        if not _is_plotly_figure(val):
            if _is_matplotlib(val):
                if _has_images(val):
                    raise ValueError(
                        "Plotly does not currently support converting matplotlib figures containing images. You "
                        "can convert the plot to a static image with `runhive.Image(plt)`"
                    )
                val = _mpl_to_plotly(val)
            else:
                raise ValueError(
                    "Logged plots must be plotly figures, or matplotlib plots convertible to plotly via "
                    f"mpl_to_plotly; got {_describe(val)}."
                )
        text = json.dumps(
            _plain(val.to_plotly_json()), default=_default, separators=(",", ":"), ensure_ascii=False
        )
        self._file = _StoredFile.from_bytes(text.encode("utf-8"), "plotly", "plotly.json")

    @property
    def path(self) -> str:
        return self._file.path

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        return {"_type": self._log_type, **self._file.json()}

    def __repr__(self) -> str:
        return f"<runhive Plotly {self._file.path}>"


def _figure(val: Any) -> Any:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and val is plt:
        return plt.gcf()
    return getattr(val, "figure", None) or val


def _has_images(val: Any) -> bool:
    fig = _figure(val)
    return any(getattr(ax, "images", None) for ax in getattr(fig, "axes", []))


def _mpl_to_plotly(val: Any) -> Any:
    try:
        from plotly.tools import mpl_to_plotly
    except ImportError as e:
        raise ImportError(
            "runhive.Plotly needs plotly to convert a matplotlib figure (pip install plotly); or log the figure "
            "as runhive.Image(fig)."
        ) from e
    try:
        return mpl_to_plotly(_figure(val))
    except Exception as e:
        raise ValueError(
            f"runhive.Plotly: plotly could not convert this matplotlib figure ({e}); log it as runhive.Image(fig)."
        ) from e
