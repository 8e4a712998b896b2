"""Parameters: flattening nested sections, sampling through inverse CDFs, the CDFs bayes encodes with, and
re-nesting a sample into the `{param: {"value": v}}` form a run receives (reference §2.3, §2.6)."""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from ._forms import match_form
from ._runs import SweepConfigError

NESTING_DELIMITER = ".wbnest[599c28ca25da]."

_DEPRECATED = {
    "log_uniform": "log_uniform_values",
    "q_log_uniform": "q_log_uniform_values",
    "inv_log_uniform": "inv_log_uniform_values",
}


def deprecation_message(name: str, kind: str) -> str | None:
    replacement = _DEPRECATED.get(kind)
    if replacement is None:
        return None
    return f"{name} uses {kind}, where min/max specify base-e exponents. Use {replacement} to specify limit values."


def min_max_message(name: str, spec: dict[str, Any]) -> str | None:
    if "min" in spec and "max" in spec:
        try:
            bad = spec["min"] >= spec["max"]
        except TypeError:  # the schema check reports incomparable bounds; nothing to add here
            return None
        if bad:
            return f"{name}: min {spec['min']} is not less than max {spec['max']}"
    return None


@dataclass(frozen=True)
class Param:
    name: str  # flattened with NESTING_DELIMITER
    kind: str
    spec: dict[str, Any]  # defaults filled

    @property
    def searchable(self) -> bool:
        return self.kind != "constant"


def make_param(name: str, spec: Any) -> Param:
    matched = match_form(spec)
    if matched is None:
        raise SweepConfigError(f"invalid hyperparameter configuration: {name}")
    kind, filled = matched
    msg = min_max_message(name, filled)
    if msg is not None:
        raise SweepConfigError(msg)
    return Param(name, kind, filled)


def flatten(parameters: dict[str, Any]) -> list[Param]:
    """Leaf parameters sorted by flattened name; nested sections become `outer<delimiter>inner` names."""
    leaves: list[Param] = []

    def walk(section: dict[str, Any], prefix: str) -> None:
        for key, spec in section.items():
            if not isinstance(key, str):
                raise SweepConfigError(f"Sweep config keys must be strings, found {key} of type {type(key)}")
            if not isinstance(spec, dict):
                raise SweepConfigError(f"Invalid configuration for hyperparameter '{prefix}{key}'")
            param = make_param(f"{prefix}{key}", spec)
            if param.kind == "param_dict":
                walk(spec["parameters"], f"{prefix}{key}{NESTING_DELIMITER}")
            else:
                leaves.append(param)

    walk(parameters, "")
    return sorted(leaves, key=lambda p: p.name)


def renest(flat: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Nest flattened names back and wrap only the first level in {"value": ...}, as W&B hands them to runs."""
    out: dict[str, Any] = copy.deepcopy(flat)
    for key in sorted(out):
        if NESTING_DELIMITER not in key:
            continue
        parts = key.split(NESTING_DELIMITER)
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            if part in node:
                node = node[part]
                if not isinstance(node, dict):
                    other = NESTING_DELIMITER.join(parts[: i + 1])
                    # "conflics" is W&B's spelling; callers and users may match on the message.
                    raise SweepConfigError(f"While nesting, found key {part} which conflics with key {other}")
            else:
                node[part] = {}
                node = node[part]
        node[parts[-1]] = out.pop(key)
    return {k: {"value": v} for k, v in out.items()}


def run_value(config: dict[str, Any], name: str, missing: Any) -> Any:
    """A flattened parameter's value in a run config of the `{param: {"value": ...}}` form."""
    parts = name.split(NESTING_DELIMITER)
    node: Any = config
    for key in [parts[0], "value", *parts[1:]]:
        if not isinstance(node, dict) or key not in node:
            return missing
        node = node[key]
    return node


def uniform01(rng: random.Random) -> float:
    # Inverse CDFs of unbounded distributions are infinite at 0; random() can return exactly 0.0.
    while True:
        u = rng.random()
        if u > 0.0:
            return u


def _discrete_index(u: float, n: int) -> int:
    """scipy's randint.ppf on [0, n): the smallest k whose CDF (k+1)/n reaches u."""
    k = math.ceil(u * n) - 1
    if k >= 1 and k / n >= u:  # float rounding in u*n
        k -= 1
    return min(max(k, 0), n - 1)


def _quantise(x: float, q: Any) -> Any:
    # round() rounds half to even, like numpy's round used by W&B.
    r = round(x / q) * q
    return int(r) if isinstance(q, int) and not isinstance(q, bool) else float(r)


def _normal(mu: float, sigma: float, u: float) -> float:
    if sigma <= 0:
        return float(mu)
    return NormalDist(mu, sigma).inv_cdf(u)


def _beta_ppf(u: float, a: float, b: float) -> float:
    from scipy.stats import beta  # lazily: scipy comes with the runhive[sweeps] extra

    return float(beta.ppf(u, a, b))


def _beta_cdf(x: float, a: float, b: float) -> float:
    from scipy.stats import beta

    return float(beta.cdf(x, a, b))


def ppf(param: Param, u: float) -> Any:
    """The value at quantile `u` of the parameter's distribution."""
    s = param.spec
    kind = param.kind
    if kind == "constant":
        return s["value"]
    if kind == "categorical":
        return s["values"][_discrete_index(u, len(s["values"]))]
    if kind == "categorical_w_probabilities":
        total = 0.0
        for value, p in zip(s["values"], s["probabilities"], strict=False):
            total += p
            if u < total:
                return value
        return s["values"][0]  # W&B's argmin over an all-True mask lands on the first value
    if kind == "int_uniform":
        return int(s["min"] + _discrete_index(u, s["max"] - s["min"] + 1))
    lo: Any = s.get("min")
    hi: Any = s.get("max")
    if kind in ("uniform", "q_uniform"):
        x = lo + u * (hi - lo)
        return float(x) if kind == "uniform" else _quantise(x, s["q"])
    if kind in ("log_uniform", "q_log_uniform"):
        x = math.exp(lo + u * (hi - lo))
        return x if kind == "log_uniform" else _quantise(x, s["q"])
    if kind in ("log_uniform_values", "q_log_uniform_values"):
        x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        return x if kind == "log_uniform_values" else _quantise(x, s["q"])
    if kind == "inv_log_uniform":
        return math.exp(-(lo + (1 - u) * (hi - lo)))
    if kind == "inv_log_uniform_values":
        a, b = -math.log(hi), -math.log(lo)
        return math.exp(-(a + (1 - u) * (b - a)))
    if kind in ("normal", "q_normal"):
        x = _normal(s["mu"], s["sigma"], u)
        return x if kind == "normal" else _quantise(x, s["q"])
    if kind in ("log_normal", "q_log_normal"):
        x = math.exp(_normal(s["mu"], s["sigma"], u))
        return x if kind == "log_normal" else _quantise(x, s["q"])
    if kind in ("beta", "q_beta"):
        x = _beta_ppf(u, s["a"], s["b"])
        return x if kind == "beta" else _quantise(x, s["q"])
    raise SweepConfigError("Unsupported hyperparameter distribution type")


def _clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def cdf(param: Param, x: float) -> float:
    """P(X <= x); categorical parameters take the value's index, not the value."""
    s = param.spec
    kind = param.kind
    if kind == "constant":
        return 0.0
    if kind == "categorical":
        n = len(s["values"])
        return _clip01((math.floor(x) + 1) / n)
    if kind == "categorical_w_probabilities":
        idx = min(max(int(x), 0), len(s["probabilities"]) - 1)
        return _clip01(sum(s["probabilities"][: idx + 1]))
    if kind == "int_uniform":
        return _clip01((math.floor(x) - s["min"] + 1) / (s["max"] - s["min"] + 1))
    lo: Any = s.get("min")
    hi: Any = s.get("max")
    if kind in ("uniform", "q_uniform"):
        return _clip01((x - lo) / (hi - lo))
    if kind in ("log_uniform", "q_log_uniform"):
        return _clip01((_log(x) - lo) / (hi - lo))
    if kind in ("log_uniform_values", "q_log_uniform_values"):
        return _clip01((_log(x) - math.log(lo)) / (math.log(hi) - math.log(lo)))
    if kind == "inv_log_uniform":
        return 1.0 - _clip01((-_log(x) - lo) / (hi - lo))
    if kind == "inv_log_uniform_values":
        return 1.0 - _clip01((-_log(x) + math.log(hi)) / abs(math.log(hi) - math.log(lo)))
    if kind in ("normal", "q_normal"):
        if s["sigma"] <= 0:
            return 1.0 if x >= s["mu"] else 0.0
        return NormalDist(s["mu"], s["sigma"]).cdf(x)
    if kind in ("log_normal", "q_log_normal"):
        if x <= 0:
            return 0.0
        if s["sigma"] <= 0:
            return 1.0 if math.log(x) >= s["mu"] else 0.0
        return NormalDist(s["mu"], s["sigma"]).cdf(math.log(x))
    if kind in ("beta", "q_beta"):
        return _beta_cdf(x, s["a"], s["b"])
    raise SweepConfigError("Unsupported hyperparameter distribution type")


def sample(param: Param, rng: random.Random) -> Any:
    return ppf(param, uniform01(rng))
