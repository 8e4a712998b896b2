"""The chart helpers drawn from a table (W&B's `wandb.plot.line`, `scatter`, `bar`, `histogram`, `line_series`,
`confusion_matrix`): each returns a `CustomChart` with W&B's spec id and field mapping."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

from runhive.sdk.data_types._table import Table

from ._custom_chart import CustomChart, plot_table


def line(
    table: Table, x: str, y: str, stroke: str | None = None, title: str = "", split_table: bool = False
) -> CustomChart:
    """A line chart of `table`'s columns `x` and `y` (`stroke`: a column splitting it into lines)."""
    return plot_table(
        data_table=table,
        vega_spec_name="wandb/line/v0",
        fields={"x": x, "y": y, "stroke": stroke},
        string_fields={"title": title},
        split_table=split_table,
    )


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> CustomChart:
    """A scatter plot of `table`'s columns `x` and `y`."""
    return plot_table(
        data_table=table,
        vega_spec_name="wandb/scatter/v0",
        fields={"x": x, "y": y},
        string_fields={"title": title},
        split_table=split_table,
    )


def bar(table: Table, label: str, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    """A bar chart: one bar per row, `label` and `value` columns."""
    return plot_table(
        data_table=table,
        vega_spec_name="wandb/bar/v0",
        fields={"label": label, "value": value},
        string_fields={"title": title},
        split_table=split_table,
    )


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    """A histogram of `table`'s column `value`."""
    return plot_table(
        data_table=table,
        vega_spec_name="wandb/histogram/v0",
        fields={"value": value},
        string_fields={"title": title},
        split_table=split_table,
    )


def line_series(
    xs: Iterable[Iterable[Any]] | Iterable[Any],
    ys: Iterable[Iterable[Any]],
    keys: Iterable[str] | None = None,
    title: str = "",
    xname: str = "x",
    split_table: bool = False,
) -> CustomChart:
    """Several lines on one chart: `ys` a list of series, `xs` one x series shared by all or one per series."""
    xs_list = list(xs)
    ys_list = [list(y) for y in ys]
    if not xs_list or not isinstance(xs_list[0], Iterable) or isinstance(xs_list[0], (str, bytes)):
        xs_list = [xs_list] * len(ys_list)
    if len(xs_list) != len(ys_list):
        raise ValueError(f"Number of x-series ({len(xs_list)}) must match y-series ({len(ys_list)}).")
    key_list = [f"line_{i}" for i in range(len(ys_list))] if keys is None else list(keys)
    if len(key_list) != len(ys_list):
        raise ValueError(f"Number of keys ({len(key_list)}) must match y-series ({len(ys_list)}).")
    data = [
        [x, key_list[i], y]
        for i, (xx, yy) in enumerate(zip(xs_list, ys_list, strict=False))
        for x, y in zip(xx, yy, strict=False)
    ]
    return plot_table(
        data_table=Table(data=data, columns=["step", "lineKey", "lineVal"]),
        vega_spec_name="wandb/lineseries/v0",
        fields={"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"},
        string_fields={"title": title, "xname": xname},
        split_table=split_table,
    )


def _argmax_rows(probs: Any) -> list[Any]:
    np = sys.modules.get("numpy")
    if np is not None:
        return np.argmax(np.asarray(probs), axis=1).tolist()  # type: ignore[no-any-return]
    return [max(range(len(row)), key=lambda j: row[j]) for row in probs]


def confusion_matrix(
    probs: Sequence[Sequence[float]] | None = None,
    y_true: Sequence[Any] | None = None,
    preds: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion Matrix Curve",
    split_table: bool = False,
) -> CustomChart:
    """A confusion matrix from true labels and predicted labels (or per-class probabilities, `probs`). With
    `class_names`, labels are class indices 0..n-1; without, the labels seen are sorted and named Class_1...."""
    if probs is not None and preds is not None:
        raise ValueError("Only one of `probs` or `preds` should be provided, not both.")
    if y_true is None or (probs is None and preds is None):
        raise ValueError("confusion_matrix needs y_true and one of `probs` or `preds`.")
    pred_list = _argmax_rows(probs) if probs is not None else list(preds)  # type: ignore[arg-type]
    true_list = list(y_true)
    pred_list = [p.item() if hasattr(p, "item") else p for p in pred_list]
    true_list = [t.item() if hasattr(t, "item") else t for t in true_list]
    if len(pred_list) != len(true_list):
        raise ValueError("The number of predictions and true labels must be equal.")
    if class_names is not None:
        n_classes = len(class_names)
        class_idx: Iterable[Any] = range(n_classes)
        if len(set(pred_list)) > n_classes:
            raise ValueError("The number of unique predicted classes exceeds the number of class names.")
        if len(set(true_list)) > n_classes:
            raise ValueError("The number of unique true labels exceeds the number of class names.")
        names = list(class_names)
    else:
        class_idx = set(pred_list) | set(true_list)
        n_classes = len(class_idx)
        names = [f"Class_{i + 1}" for i in range(n_classes)]
    mapping = {v: i for i, v in enumerate(sorted(class_idx))}
    counts = [[0.0] * n_classes for _ in range(n_classes)]
    for t, p in zip(true_list, pred_list, strict=True):
        try:
            counts[mapping[t]][mapping[p]] += 1
        except KeyError as e:
            raise ValueError(
                f"confusion_matrix: label {e.args[0]!r} is not a class index 0..{n_classes - 1} of class_names."
            ) from None
    data = [[names[i], names[j], counts[i][j]] for i in range(n_classes) for j in range(n_classes)]
    return plot_table(
        data_table=Table(columns=["Actual", "Predicted", "nPredictions"], data=data),
        vega_spec_name="wandb/confusion_matrix/v1",
        fields={"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
        string_fields={"title": title},
        split_table=split_table,
    )
