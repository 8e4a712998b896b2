"""A sweep's parameters against its metric, for the sweep page: each parameter's axis kind (log for log-distributed
parameters, categorical for `values`), and W&B's parameter-importance panel: the importance of each parameter
in a random forest of the metric on the parameters (scikit-learn's impurity-based feature importances) and its
linear correlation with the metric.

scikit-learn is optional (the `sweeps` extra): without it, importance is None and only correlation is given.
"""

from __future__ import annotations

import json
import math
from typing import Any

MIN_RUNS = 3  # fewer runs say nothing about importance


def kind(spec: Any) -> str:
    """ "log", "categorical" or "linear": how a parameter's axis is drawn, from its sweep config entry."""
    if not isinstance(spec, dict):
        return "linear"
    if "values" in spec or "value" in spec:
        return "categorical"
    dist = spec.get("distribution")
    if isinstance(dist, str) and "log" in dist:
        return "log"
    return "linear"


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _encode(values: list[Any], how: str) -> list[float] | None:
    """A parameter's values as numbers: categories by their order of first appearance; None if it cannot be."""
    if how != "categorical" and all(_number(v) is not None for v in values):
        nums = [float(v) for v in values]
        if how == "log" and all(v > 0 for v in nums):
            return [math.log10(v) for v in nums]
        return nums
    cats: dict[str, int] = {}
    return [float(cats.setdefault(json.dumps(v, sort_keys=True, default=str), len(cats))) for v in values]


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def importance(
    params: list[str], kinds: dict[str, str], rows: list[dict[str, Any]], metric: list[Any]
) -> list[dict[str, Any]]:
    """[{param, importance, correlation}] most important first, over the runs with a finite metric; [] with
    fewer than MIN_RUNS of them. Correlation is Pearson's, on log10 values for log parameters (categories with
    more than two values have none)."""
    keep = [i for i, m in enumerate(metric) if _number(m) is not None]
    if len(keep) < MIN_RUNS or not params:
        return []
    ys = [float(metric[i]) for i in keep]
    columns: dict[str, list[float]] = {}
    for p in params:
        encoded = _encode([rows[i].get(p) for i in keep], kinds.get(p, "linear"))
        if encoded is not None:
            columns[p] = encoded
    names = list(columns)
    if not names:
        return []
    weights: list[float | None] = [None] * len(names)
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError:
        pass
    else:
        x = [[columns[p][j] for p in names] for j in range(len(ys))]
        forest = RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=1)
        forest.fit(x, ys)
        weights = [float(w) for w in forest.feature_importances_]
    out: list[dict[str, Any]] = []
    for p, w in zip(names, weights, strict=True):
        col = columns[p]
        categories = len(set(col))
        corr = _pearson(col, ys) if kinds.get(p) != "categorical" or categories <= 2 else None
        out.append({"param": p, "importance": w, "correlation": corr})
    out.sort(key=lambda e: (-(e["importance"] or 0.0), -abs(e["correlation"] or 0.0), e["param"]))
    return out
