"""Value types W&B scripts log: `runhive.Histogram` (media types arrive with their own issue)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


class Histogram:
    """A histogram logged as `{"_type": "histogram", "values": [...], "bins": [...]}`."""

    def __init__(
        self,
        sequence: Sequence[float] | None = None,
        np_histogram: tuple[Sequence[float], Sequence[float]] | None = None,
        num_bins: int = 64,
    ) -> None:
        if np_histogram is not None:
            values, bins = np_histogram
            self.histogram = [float(v) for v in values]
            self.bins = [float(b) for b in bins]
        elif sequence is not None:
            np = sys.modules.get("numpy")
            data = [float(x) for x in sequence]
            if np is not None:
                v, b = np.histogram(data, bins=num_bins)
                self.histogram, self.bins = [float(x) for x in v], [float(x) for x in b]
            else:
                lo, hi = (min(data), max(data)) if data else (0.0, 1.0)
                width = (hi - lo) / num_bins or 1.0
                counts = [0.0] * num_bins
                for x in data:
                    counts[min(int((x - lo) / width), num_bins - 1)] += 1
                self.histogram = counts
                self.bins = [lo + i * width for i in range(num_bins + 1)]
        else:
            raise ValueError("Histogram needs a sequence or np_histogram=(values, bin_edges).")
        if len(self.bins) != len(self.histogram) + 1:
            raise ValueError(
                f"Histogram: np_histogram needs len(bins) == len(values) + 1, got {len(self.bins)} and "
                f"{len(self.histogram)}."
            )

    def to_json(self) -> dict[str, Any]:
        return {"_type": "histogram", "values": self.histogram, "bins": self.bins}
