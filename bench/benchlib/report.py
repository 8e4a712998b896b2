"""Markdown rendering of benchmark results: median (min to max) over reps, and runhive ÷ peer ratios."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchlib.stats import median

DASH = "\u2013"  # en dash, for ranges and empty cells
TIMES = "\u00d7"


@dataclass
class Measurement:
    workload: str
    tool: str
    rep: int
    order: int
    ok: bool
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: str = "lower"  # lower | higher | "" (informational)
    integer: bool = False
    ratio: bool = True  # include in the runhive ÷ peer table


@dataclass(frozen=True)
class WorkloadInfo:
    name: str
    title: str
    metrics: tuple[Metric, ...]
    notes: str = ""


def fmt(value: float, integer: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if integer:
        return f"{value:,.0f}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    if magnitude == 0:
        return "0"
    return f"{value:.3g}"


def _cell(values: Sequence[float], integer: bool) -> str:
    if not values:
        return DASH
    mid = median(values)
    lo, hi = min(values), max(values)
    if len(values) == 1 or lo == hi:
        return fmt(mid, integer)
    return f"{fmt(mid, integer)} ({fmt(lo, integer)}{DASH}{fmt(hi, integer)})"


def _header(metric: Metric) -> str:
    arrow = {"lower": " ↓", "higher": " ↑"}.get(metric.better, "")
    return f"{metric.label}{arrow}"


def render_workload(info: WorkloadInfo, results: Sequence[Measurement], tools: Sequence[str]) -> str:
    """One table per workload: a row per tool (median, min and max of the good reps), then runhive ÷ peer."""
    rows: list[str] = []
    rows.append(f"### {info.title}\n")
    if info.notes:
        rows.append(f"{info.notes}\n")
    labels = [t for t in tools if any(m.tool == t for m in results)]
    labels += sorted({m.tool for m in results} - set(labels))
    header = ["tool", "ok reps", *(_header(m) for m in info.metrics)]
    rows.append("| " + " | ".join(header) + " |")
    rows.append("|" + "---|" * len(header))
    medians: dict[str, dict[str, float]] = {}
    problems: list[str] = []
    for label in labels:
        runs = [m for m in results if m.tool == label]
        good = [m for m in runs if m.ok]
        version = next((m.version for m in runs if m.version), None)
        name = f"{label} {version}" if version and version != "?" else label
        cells = [name, f"{len(good)}/{len(runs)}"]
        medians[label] = {}
        for metric in info.metrics:
            values = [m.metrics[metric.key] for m in good if metric.key in m.metrics]
            values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
            cells.append(_cell(values, metric.integer))
            if values:
                medians[label][metric.key] = median(values)
        rows.append("| " + " | ".join(cells) + " |")
        # Each distinct error or note once, with the number of reps it occurred in.
        errors = Counter(m.error for m in runs if not m.ok and m.error)
        notes = Counter(n for m in runs for n in set(m.notes))
        for text, n in [*errors.items(), *notes.items()]:
            problems.append(f"{label}: {text} ({n} of {len(runs)} reps)")
    base = medians.get("runhive", {})
    peers = [label for label in labels if label != "runhive" and medians.get(label)]
    ratio_metrics = [m for m in info.metrics if m.ratio]
    if base and peers and ratio_metrics:
        rows.append("")
        ratio_header = ["runhive ÷ peer", *(_header(m) for m in ratio_metrics)]
        rows.append("| " + " | ".join(ratio_header) + " |")
        rows.append("|" + "---|" * len(ratio_header))
        for peer in peers:
            cells = [peer]
            for metric in ratio_metrics:
                a, b = base.get(metric.key), medians[peer].get(metric.key)
                cells.append(f"{a / b:.3g}{TIMES}" if a is not None and b not in (None, 0) else DASH)
            rows.append("| " + " | ".join(cells) + " |")
    if problems:
        rows.append("")
        rows.extend(f"- {_one_line(p)}" for p in problems)
    rows.append("")
    return "\n".join(rows)


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
