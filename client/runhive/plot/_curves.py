"""`pr_curve` and `roc_curve` (W&B's `wandb.plot.pr_curve` / `roc_curve`), one curve per class, computed with
numpy as scikit-learn's `precision_recall_curve` and `roc_curve` do (scikit-learn and pandas are not needed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from runhive.sdk.data_types._table import Table

from ._custom_chart import CustomChart, plot_table


def _binary_clf_curve(np: Any, y_true: Any, y_score: Any, pos_label: Any) -> tuple[Any, Any, Any]:
    """False and true positives at each distinct score, highest first (scikit-learn's `_binary_clf_curve`)."""
    positive = y_true == pos_label
    order = np.argsort(y_score, kind="mergesort")[::-1]
    score = y_score[order]
    positive = positive[order]
    distinct = np.where(np.diff(score))[0]
    idx = np.r_[distinct, positive.size - 1]
    tps = np.cumsum(positive, dtype=np.float64)[idx]
    fps = 1 + idx - tps
    return fps, tps, score[idx]


def _precision_recall(np: Any, y_true: Any, y_score: Any, pos_label: Any) -> tuple[Any, Any]:
    fps, tps, _ = _binary_clf_curve(np, y_true, y_score, pos_label)
    ps = tps + fps
    precision = np.divide(tps, ps, out=np.zeros_like(tps), where=ps != 0)
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    return np.hstack((precision[::-1], 1)), np.hstack((recall[::-1], 0))


def _roc(np: Any, y_true: Any, y_score: Any, pos_label: Any) -> tuple[Any, Any]:
    fps, tps, _ = _binary_clf_curve(np, y_true, y_score, pos_label)
    if len(fps) > 2:  # drop_intermediate: keep the corners only
        keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr


def _inputs(y_true: Any, y_probas: Any) -> tuple[Any, Any, Any]:
    import numpy as np

    if y_true is None or y_probas is None:
        raise ValueError(
            "y_true and y_probas are required (y_probas: one column of probabilities per class)."
        )
    y_true, y_probas = np.asarray(y_true), np.asarray(y_probas, dtype=np.float64)
    if y_probas.ndim != 2 or y_probas.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"y_probas must be samples x classes, one row per label; got shape {y_probas.shape} for "
            f"{y_true.shape[0]} labels."
        )
    return np, y_true, y_probas


def _class_label(np: Any, classes: Any, i: int, labels: Sequence[str] | None) -> Any:
    if labels is not None and (isinstance(classes[i], int) or isinstance(classes[0], np.integer)):
        return labels[classes[i]]
    return classes[i]


def _table(np: Any, names: list[str], curves: dict[Any, tuple[Any, Any]], sort: list[str]) -> Table:
    """W&B's DataFrame of the curves, rounded to 3 decimals; above `Table.MAX_ROWS` rows, a sample of each class
    in proportion (seeded), sorted as W&B sorts it."""
    classes = [k for k, (a, _) in curves.items() for _ in range(len(a))]
    first = np.round(np.hstack([a for a, _ in curves.values()]), 3).tolist()
    second = np.round(np.hstack([b for _, b in curves.values()]), 3).tolist()
    rows = [[c, a, b] for c, a, b in zip(classes, first, second, strict=True)]
    if len(rows) > Table.MAX_ROWS:
        from runhive.sdk._termlog import logger

        logger().warning("runhive uses only %d data points to create the plots.", Table.MAX_ROWS)
        rng = np.random.RandomState(42)
        picked: list[list[Any]] = []
        for k in curves:
            members = [r for r in rows if r[0] == k]
            share = round(Table.MAX_ROWS * len(members) / len(rows))
            picked.extend(members[i] for i in sorted(rng.choice(len(members), share, replace=False)))
        at = {n: i for i, n in enumerate(names)}
        rows = sorted(picked, key=lambda r: tuple(r[at[s]] for s in sort))
    return Table(columns=names, data=rows)


def pr_curve(
    y_true: Iterable[Any] | None = None,
    y_probas: Iterable[Any] | None = None,
    labels: list[str] | None = None,
    classes_to_plot: list[Any] | None = None,
    interp_size: int = 21,
    title: str = "Precision-Recall Curve",
    split_table: bool = False,
) -> CustomChart:
    """Precision against recall, one curve per class, at `interp_size` recall points (W&B's interpolation)."""
    np, truth, probas = _inputs(y_true, y_probas)
    classes = np.unique(truth)
    wanted = classes if classes_to_plot is None else classes_to_plot
    interp_recall = np.linspace(0, 1, interp_size)[::-1]
    curves: dict[Any, tuple[Any, Any]] = {}
    for i in np.where(np.isin(classes, wanted))[0]:
        precision, recall = _precision_recall(np, truth, probas[:, i], classes[i])
        precision = np.maximum.accumulate(precision)[::-1]  # W&B's step: precision never falls as recall does
        recall = recall[::-1]
        indices = np.minimum(np.searchsorted(recall, interp_recall, side="left"), len(precision) - 1)
        label = _class_label(np, classes, i, labels)
        curves[label.item() if hasattr(label, "item") else label] = (precision[indices], interp_recall)
    return plot_table(
        data_table=_table(np, ["class", "precision", "recall"], curves, ["precision", "recall", "class"]),
        vega_spec_name="wandb/area-under-curve/v0",
        fields={"x": "recall", "y": "precision", "class": "class"},
        string_fields={"title": title, "x-axis-title": "Recall", "y-axis-title": "Precision"},
        split_table=split_table,
    )


def roc_curve(
    y_true: Sequence[Any],
    y_probas: Sequence[Sequence[float]] | None = None,
    labels: list[str] | None = None,
    classes_to_plot: list[Any] | None = None,
    title: str = "ROC Curve",
    split_table: bool = False,
) -> CustomChart:
    """True positive rate against false positive rate, one curve per class (one-vs-rest)."""
    np, truth, probas = _inputs(y_true, y_probas)
    classes = np.unique(truth)
    wanted = classes if classes_to_plot is None else classes_to_plot
    curves: dict[Any, tuple[Any, Any]] = {}
    for i in np.where(np.isin(classes, wanted))[0]:
        label = _class_label(np, classes, i, labels)
        curves[label.item() if hasattr(label, "item") else label] = _roc(
            np, truth, probas[..., i], classes[i]
        )
    return plot_table(
        data_table=_table(np, ["class", "fpr", "tpr"], curves, ["fpr", "tpr", "class"]),
        vega_spec_name="wandb/area-under-curve/v0",
        fields={"x": "fpr", "y": "tpr", "class": "class"},
        string_fields={
            "title": title,
            "x-axis-title": "False positive rate",
            "y-axis-title": "True positive rate",
        },
        split_table=split_table,
    )
