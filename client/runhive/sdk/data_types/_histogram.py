"""`Histogram` (W&B's `wandb.Histogram`): `{"_type": "histogram", "values": [...], "bins": [...]}`."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

from ._base import WBValue


def _flat(values: Any) -> list[float]:
    """Every number in `values`, of any shape (nested lists, N-D arrays, tensors), as floats."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values, torch.Tensor):
        values = values.detach().cpu().float().numpy()
    np = sys.modules.get("numpy")
    if np is not None and not isinstance(values, (str, bytes)):
        try:
            return np.asarray(values, dtype=float).reshape(-1).tolist()  # type: ignore[no-any-return]
        except (TypeError, ValueError):
            pass  # ragged nested lists: walked below
    out: list[float] = []
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            raise TypeError(f"runhive.Histogram: sequence must hold numbers, got {item!r}.")
        if hasattr(item, "__iter__"):
            stack.extend(reversed(list(item)))
        else:
            out.append(float(item))
    return out


def _as_list(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)  # type: ignore[no-any-return]


class Histogram(WBValue):
    """A histogram logged as `{"_type": "histogram", "values": [...], "bins": [...]}` (W&B's `wandb.Histogram`):
    from data of any shape (flattened; NaN and ±Inf left out) in `num_bins` equal bins, or from a precomputed
    `np_histogram=(values, bin_edges)`."""

    MAX_LENGTH: int = 512
    _log_type = "histogram"

    def __init__(
        self,
        sequence: Sequence[Any] | Any = None,
        np_histogram: tuple[Sequence[float], Sequence[float]] | None = None,
        num_bins: int = 64,
    ) -> None:
        if np_histogram is not None:
            if len(np_histogram) != 2:
                raise ValueError(
                    "Expected np_histogram to be a tuple of (values, bin_edges) or sequence to be specified"
                )
            self.histogram: list[Any] = _as_list(np_histogram[0])
            self.bins: list[Any] = _as_list(np_histogram[1])
        elif sequence is not None:
            if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
                raise ValueError(f"runhive.Histogram: num_bins must be a positive int, got {num_bins!r}.")
            data = [x for x in _flat(sequence) if math.isfinite(x)]
            self.histogram, self.bins = _bin(data, num_bins)
        else:
            raise ValueError(
                "Expected np_histogram to be a tuple of (values, bin_edges) or sequence to be specified"
            )
        if len(self.histogram) > self.MAX_LENGTH:
            raise ValueError(f"The maximum length of a histogram is {self.MAX_LENGTH}")
        if len(self.histogram) + 1 != len(self.bins):
            raise ValueError(
                f"len(bins) must be len(histogram) + 1; got {len(self.bins)} bins and {len(self.histogram)} values."
            )

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        return {"_type": self._log_type, "values": self.histogram, "bins": self.bins}

    def __repr__(self) -> str:
        return f"<runhive Histogram {len(self.histogram)} bins>"


def _bin(data: list[float], num_bins: int) -> tuple[list[int], list[float]]:
    """numpy.histogram(data, bins=num_bins): counts (ints) and edges; numpy's own when the caller has it."""
    np = sys.modules.get("numpy")
    if np is not None:
        counts, edges = np.histogram(np.asarray(data, dtype=float), bins=num_bins)
        return counts.tolist(), edges.tolist()
    lo, hi = (min(data), max(data)) if data else (0.0, 1.0)
    if lo == hi:  # numpy's rule for a single value: a unit-wide range around it
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / num_bins
    counts = [0] * num_bins
    for x in data:
        counts[min(int((x - lo) / width), num_bins - 1)] += 1
    return counts, [lo + i * width for i in range(num_bins)] + [hi]
