"""Small statistics helpers (standard library only)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values, q in [0, 100]."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary(samples_ns: Sequence[int], prefix: str = "log") -> dict[str, float]:
    """p50 / p99 / p99.9 / mean / max of per-call latencies, in microseconds."""
    values = sorted(samples_ns)
    if not values:
        return {}
    return {
        f"{prefix}_p50_us": percentile(values, 50) / 1e3,
        f"{prefix}_p99_us": percentile(values, 99) / 1e3,
        f"{prefix}_p999_us": percentile(values, 99.9) / 1e3,
        f"{prefix}_mean_us": sum(values) / len(values) / 1e3,
        f"{prefix}_max_us": values[-1] / 1e3,
    }


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0
