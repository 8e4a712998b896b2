"""Chart helpers (W&B's `wandb.plot`): each returns a table and the chart drawn from it, logged like any value."""

from __future__ import annotations

from ._charts import bar, confusion_matrix, histogram, line, line_series, scatter
from ._curves import pr_curve, roc_curve
from ._custom_chart import (
    CustomChart,
    CustomChartSpec,
    Visualize,
    VisualizeSpec,
    plot_table,
    serialize_custom_charts,
    visualize,
)

__all__ = [
    "CustomChart",
    "CustomChartSpec",
    "Visualize",
    "VisualizeSpec",
    "bar",
    "confusion_matrix",
    "histogram",
    "line",
    "line_series",
    "plot_table",
    "pr_curve",
    "roc_curve",
    "scatter",
    "serialize_custom_charts",
    "visualize",
]
