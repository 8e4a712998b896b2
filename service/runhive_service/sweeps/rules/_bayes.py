"""Bayesian search (reference §4.3): a Gaussian process over parameters mapped to [0,1] by their CDFs, expected
improvement over 1000 random candidates, random until two runs have a usable value.

numpy and scikit-learn are imported inside the functions: grid, random and hyperband must work without them.
"""

from __future__ import annotations

import math
import random
import warnings
from typing import TYPE_CHECKING, Any

from ._params import Param, cdf, flatten, ppf, renest, run_value, uniform01
from ._runs import SweepConfigError, SweepRun, is_number, metric_extremum, metric_goal, metric_history

if TYPE_CHECKING:
    import numpy as np
    from sklearn.gaussian_process import GaussianProcessRegressor

NUGGET = 1e-7
STD_EPSILON = 1e-6
MAX_SAMPLES = 100
CANDIDATES = 1000
_FAILED = ("failed", "crashed", "killed")
_NOT_STARTED = ("pending", "preempting", "preempted")
MISSING_SKLEARN = "bayes search needs scikit-learn: pip install 'runhive[sweeps]'"


def _impute_worst(goal: str, name: str, runs: list[SweepRun]) -> float:
    """The worst of the terminal runs' own worst values; 0.0 when there is none, as in W&B."""
    worst_of_run = "minimize" if goal == "maximize" else "maximize"
    values = [
        v
        for run in runs
        if run.state in ("finished", *_FAILED) and (v := metric_extremum(run, name, worst_of_run)) is not None
    ]
    if not values:
        return 0.0
    return min(values) if goal == "maximize" else max(values)


def _impute(strategy: str, goal: str, name: str, run: SweepRun, worst: float) -> float:
    if strategy == "best":
        best = metric_extremum(run, name, goal)
        return 0.0 if best is None else best
    if strategy == "latest":
        history = metric_history(run, name)
        return history[-1] if history else 0.0
    return worst


def _encode_value(param: Param, value: Any) -> float:
    # W&B leaves falsy values (0, "", False) at 0 before the CDF; categorical ones thus read as index 0.
    if not value:
        return cdf(param, 0)
    if param.kind in ("categorical", "categorical_w_probabilities"):
        for index, option in enumerate(param.spec["values"]):
            if option == value:
                return cdf(param, index)
        raise SweepConfigError(
            f"{value} is not a permitted value of the categorical hyperparameter {param.name} in the current sweep."
        )
    if not is_number(value):
        return cdf(param, 0)
    return cdf(param, float(value))


def _encode(params: list[Param], run: SweepRun) -> list[float]:
    return [_encode_value(p, run_value(run.config, p.name, 0)) for p in params]


def _training_data(
    config: dict[str, Any], params: list[Param], runs: list[SweepRun]
) -> tuple[list[list[float]], list[float], list[list[float]]]:
    metric = config["metric"]
    name = metric.get("name")
    goal = metric_goal(config)
    impute = metric.get("impute") if metric.get("impute") in ("latest", "best", "worst") else "worst"
    while_running = metric.get("impute_while_running")
    worst = _impute_worst(goal, name, runs)

    def value_or_impute(run: SweepRun, strategy: str) -> float:
        best = metric_extremum(run, name, goal)
        if best is not None:
            return best
        return _impute(strategy, goal, name, run, worst)

    xs: list[list[float]] = []
    ys: list[float] = []
    pending: list[list[float]] = []
    for run in runs:
        x = _encode(params, run)
        if run.state == "finished":
            xs.append(x)
            ys.append(value_or_impute(run, impute))
        elif run.state in _FAILED:
            xs.append(x)
            ys.append(_impute(impute, goal, name, run, worst))
        elif run.state == "running":
            if while_running in ("latest", "best", "worst"):
                xs.append(x)
                ys.append(value_or_impute(run, while_running))
            else:
                pending.append(x)
        elif run.state in _NOT_STARTED:
            pending.append(x)
        else:
            raise ValueError("Run is in unknown state")
    ys = [y if math.isfinite(y) else worst for y in ys]
    if goal == "maximize":  # the optimiser minimises
        ys = [-y for y in ys]
    return xs, ys, pending


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[GaussianProcessRegressor, float, float]:
    import numpy as np
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Matern

    gp = GaussianProcessRegressor(kernel=Matern(nu=1.5), n_restarts_optimizer=2, alpha=NUGGET, random_state=2)
    if len(y) == 1:
        mean, std = float(y[0]), 1.0
    else:
        mean, std = float(np.mean(y)), float(np.std(y)) + STD_EPSILON
    with warnings.catch_warnings():
        # ConvergenceWarning and friends would land on the user's terminal via the daemon's stderr.
        warnings.simplefilter("ignore")
        gp.fit(x, (y - mean) / std)
    return gp, mean, std


def _train(
    xs: list[list[float]], ys: list[float], pending: list[list[float]], rng: random.Random
) -> tuple[GaussianProcessRegressor, float, float]:
    import numpy as np

    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if len(y) > MAX_SAMPLES:  # the fit is O(n^3); W&B draws a random subset (with replacement)
        idx = [rng.randrange(len(y)) for _ in range(MAX_SAMPLES)]
        x, y = x[idx], y[idx]
    gp, mean, std = _fit(x, y)
    if pending:
        # Kriging believer: runs in flight count as returning the current model's prediction.
        current = np.asarray(pending[: MAX_SAMPLES - 5], dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fantasy = gp.predict(current) * std + mean
        gp, mean, std = _fit(np.vstack([x, current]), np.concatenate([y, fantasy]))
    return gp, mean, std


def _suggest(
    xs: list[list[float]], ys: list[float], pending: list[list[float]], dims: int, rng: random.Random
) -> list[float]:
    import numpy as np
    from scipy.stats import norm

    gp, mean, std = _train(xs, ys, pending, rng)
    candidates = np.asarray([[uniform01(rng) for _ in range(dims)] for _ in range(CANDIDATES)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y_pred, y_std = gp.predict(candidates, return_std=True)
    best_norm = (min(ys) - mean) / std
    z = -(y_pred - best_norm) / (y_std + STD_EPSILON)
    expected_improvement = -(y_pred - best_norm) * norm.cdf(z) + y_std * norm.pdf(z)
    index = int(np.argmax(expected_improvement))
    # A kernel hyperparameter stuck at its bound means a bad fit; W&B then takes a random candidate.
    kernel = gp.kernel_
    at_bound = np.isclose(kernel.bounds, np.atleast_2d(kernel.theta).T)
    if bool(np.any(at_bound)):
        index = rng.randrange(0, CANDIDATES - 1)
    return [float(v) for v in candidates[index]]


def bayes_next(config: dict[str, Any], runs: list[SweepRun], rng: random.Random) -> dict[str, dict[str, Any]]:
    if not isinstance(config.get("metric"), dict):
        raise SweepConfigError('Bayesian search requires "metric" section')
    params = flatten(config["parameters"])
    searchable = [p for p in params if p.searchable]
    if not searchable:
        raise SweepConfigError("Need at least one searchable parameter for bayes search.")
    xs, ys, pending = _training_data(config, searchable, runs)
    if len(ys) < 2:
        point = [uniform01(rng) for _ in searchable]
    else:
        try:
            import numpy  # noqa: F401
            import sklearn  # noqa: F401
        except ImportError:
            raise SweepConfigError(MISSING_SKLEARN) from None
        point = _suggest(xs, ys, pending, len(searchable), rng)
    chosen = {p.name: ppf(p, u) for p, u in zip(searchable, point, strict=True)}
    flat = {p.name: (p.spec["value"] if p.kind == "constant" else chosen[p.name]) for p in params}
    return renest(flat)
