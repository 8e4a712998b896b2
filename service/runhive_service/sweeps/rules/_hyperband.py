"""Hyperband early termination (reference §4.4): which running runs fall outside the top 1/eta at a band."""

from __future__ import annotations

import math
from typing import Any

from ._forms import is_number
from ._runs import SweepConfigError, SweepRun, metric_goal, metric_history

_KEYS = ("type", "max_iter", "min_iter", "s", "eta", "strict")


def hyperband_bands(early_terminate: dict[str, Any]) -> list[int]:
    """The iteration counts at which runs are judged, ascending."""
    # Unknown keys are dropped silently, as W&B does for compatibility.
    et = {k: v for k, v in early_terminate.items() if k in _KEYS}
    eta = et.get("eta", 3)
    if not is_number(eta) or eta <= 0:
        raise SweepConfigError("r must be a float between 0 and 1")
    bands: list[int] = []
    if "max_iter" in et and "s" in et:
        band = float(et["max_iter"])
        for _ in range(int(et["s"])):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        bands.sort()
    elif "min_iter" in et:
        band = float(et["min_iter"])
        for _ in range(100):
            if int(band) >= 1:  # a band below one value would index before the first logged value
                bands.append(int(band))
            band *= eta
    else:
        raise SweepConfigError(
            'invalid config for hyperband stopping: either "max_iter" or "min_iter" must be specified'
        )
    if not bands:
        raise SweepConfigError(
            "Bands must be an array of length at least 1. Try increasing s, decreasing eta, or increasing min_iter."
        )
    return bands


def hyperband_stop(config: dict[str, Any], runs: list[SweepRun], lines: list[str] | None = None) -> list[str]:
    et = config["early_terminate"]
    if not isinstance(et, dict) or "type" not in et:
        raise SweepConfigError('early terminate must be a dict with a "type" section')
    if not isinstance(config.get("metric"), dict):
        raise SweepConfigError('early terminate requires "metric" section')
    if et["type"] != "hyperband":
        raise SweepConfigError(f'Invalid early stopping type {et["type"]}, must be one of ["hyperband"]')
    bands = hyperband_bands(et)
    eta = et.get("eta", 3)
    r = 1.0 / eta
    if r > 1:
        raise SweepConfigError("r must be a float between 0 and 1")
    strict = et.get("strict", True) is not False
    name = config["metric"].get("name")
    sign = -1.0 if metric_goal(config) == "maximize" else 1.0  # compare as a minimisation

    histories = {id(run): [sign * v for v in metric_history(run, name)] for run in runs}
    thresholds: list[float] = []
    for band in bands:
        # Every run counts, whatever its state, including the one being judged.
        at_band = sorted(h[band - 1] for h in histories.values() if len(h) >= band)
        thresholds.append(at_band[int(r * len(at_band))] if at_band else math.inf)
    if lines is not None:
        lines.append("Bands: " + ", ".join(f"{b} = {t}" for b, t in zip(bands, thresholds, strict=True)))

    stop: list[str] = []
    for run in runs:
        if run.state != "running" or run.stopped:
            continue
        history = histories[id(run)]
        reached = [(b, t) for b, t in zip(bands, thresholds, strict=True) if b <= len(history)]
        if not reached:
            if lines is not None:
                lines.append(f"Run: {run.name} Step: {len(history)}")
            continue
        band, threshold = reached[-1]
        value = history[band - 1] if strict else min(history)
        verdict = value > threshold
        if verdict:
            stop.append(run.name)
        if lines is not None:
            lines.append(
                f"Run: {run.name} Step: {len(history)} (Band: {band} Metric: {sign * value} "
                f"Threshold: {sign * threshold}){' STOP' if verdict else ''}"
            )
    return stop
