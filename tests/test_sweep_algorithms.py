"""The pure sweep algorithms (W&B sweeps behaviour, reference §2-4): no daemon, no I/O."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from runhive_service.sweeps.rules import (
    SweepConfigError,
    SweepRun,
    check_client_bounds,
    expected_run_count,
    format_violations,
    metric_value,
    next_run,
    stop_runs,
    validate,
)

DELIM = ".wbnest[599c28ca25da]."


def _cfg(method: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"method": method, "parameters": parameters, **extra}


def _values(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v["value"] for k, v in config.items()}


def _run_grid(config: dict[str, Any], state: str = "finished") -> list[tuple[Any, ...]]:
    runs: list[SweepRun] = []
    while (params := next_run(config, runs)) is not None:
        runs.append(SweepRun(name=f"r{len(runs)}", state=state, config=params))
        assert len(runs) < 1000
    return [tuple(_values(r.config).values()) for r in runs]


# --- validation and type inference (§2) ---------------------------------------------------------------------


def test_valid_config_has_no_violations() -> None:
    config = _cfg(
        "bayes",
        {"lr": {"min": 0.001, "max": 0.1}, "layers": {"values": [1, 2]}, "opt": {"value": "adam"}},
        metric={"name": "loss", "goal": "minimize"},
        early_terminate={"type": "hyperband", "min_iter": 3},
        run_cap=10,
        program="train.py",
    )
    assert validate(config) == []


def test_min_max_type_inference() -> None:
    assert validate(_cfg("random", {"a": {"min": 0, "max": 1, "distribution": "uniform"}})) == []
    assert validate(_cfg("random", {"a": {"min": 1, "max": 10}})) == []
    # int bounds infer int_uniform: only integers come out, both ends included
    rng = random.Random(1)
    seen = {
        next_run(_cfg("random", {"a": {"min": 0, "max": 1}}), [], rng=rng)["a"]["value"] for _ in range(200)
    }  # type: ignore[index]
    assert seen == {0, 1}
    # one float bound infers uniform
    for lo, hi in ((1.0, 10.0), (1, 10.0), (1.0, 10)):
        config = _cfg("random", {"a": {"min": lo, "max": hi}})
        assert validate(config) == []
        values = [next_run(config, [], rng=rng)["a"]["value"] for _ in range(100)]  # type: ignore[index]
        assert all(isinstance(v, float) and 1 <= v < 10 for v in values)
        assert any(not v.is_integer() for v in values)


def test_int_uniform_with_float_bounds_gives_two_violations() -> None:
    spec = {"min": 1.0, "max": 10.0, "distribution": "int_uniform"}
    violations = validate(_cfg("random", {"a": spec}))
    assert violations == [
        f"{spec!r} is not valid under any of the given schemas",
        "invalid hyperparameter configuration: a",
    ]


def test_bool_is_not_an_int() -> None:
    assert validate(_cfg("random", {"a": {"min": False, "max": True}})) != []


def test_violation_messages() -> None:
    assert validate({"method": "grid", "parameters": {"a": {"value": 1}}, "x": 1}) == [
        "Additional properties are not allowed ('x' was unexpected)"
    ]
    assert validate({"parameters": {"a": {"value": 1}}}) == ["'method' is a required property"]
    assert validate(_cfg("grid", {"a": {"value": 1}}, metric={"name": "l", "goal": "minimise"})) == [
        "'minimise' is not one of ['minimize', 'maximize']"
    ]
    assert validate(_cfg("grid", {"a": {"value": 1}}, run_cap=0)) == [
        "0 is less than or equal to the minimum of 0"
    ]
    assert validate(_cfg("random", {})) == ["{} should be non-empty"]
    assert validate({"method": "random"}) == [
        "`parameters` is required unless `scheduler.search_space` is set."
    ]
    assert validate(_cfg("rand", {"a": {"value": 1}})) == [
        "'rand' is not one of ['bayes', 'random', 'grid', 'custom']"
    ]
    assert validate(_cfg("grid", {"1a": {"value": 1}})) == [
        "'1a' does not match '^^[A-Za-z_][A-Za-z0-9_.-]*$'"
    ]
    assert validate(_cfg("grid", {"a": {"value": 1}}, metric={"goal": "maximize", "x": 1})) == [
        "'name' is a required property",
        "Additional properties are not allowed ('x' was unexpected)",
    ]


def test_min_not_less_than_max() -> None:
    # W&B reports it twice: once from its min/max check, once when it builds the parameter.
    msg = "a: min 10 is not less than max 1"
    assert validate(_cfg("random", {"a": {"min": 10, "max": 1}})) == [msg, msg]
    with pytest.raises(SweepConfigError, match=msg):
        next_run(_cfg("random", {"a": {"min": 10, "max": 1}}), [])


def test_probability_messages() -> None:
    short = _cfg("random", {"a": {"values": [1, 2, 3], "probabilities": [0.5, 0.5]}})
    assert "Parameter a: values [1, 2, 3] and probabilities [0.5, 0.5] are not the same length" in validate(
        short
    )
    bad_sum = _cfg("random", {"a": {"values": [1, 2], "probabilities": [0.5, 0.6]}})
    assert validate(bad_sum) == ["Parameter a: Probabilities [0.5, 0.6] do not sum to 1"]
    assert validate(_cfg("random", {"a": {"values": [1, 2, 3], "probabilities": [0.1, 0.2, 0.7]}})) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("log_uniform", "log_uniform_values"),
        ("q_log_uniform", "q_log_uniform_values"),
        ("inv_log_uniform", "inv_log_uniform_values"),
    ],
)
def test_deprecated_exponent_forms(old: str, new: str) -> None:
    assert validate(_cfg("random", {"lr": {"min": -5, "max": -1, "distribution": old}})) == [
        f"lr uses {old}, where min/max specify base-e exponents. Use {new} to specify limit values."
    ]


def test_non_dict_config_and_parameter() -> None:
    with pytest.raises(ValueError, match=r"Sweep config must be parsable as a JSON object\."):
        validate("method: grid")
    with pytest.raises(ValueError, match="Invalid configuration for hyperparameter 'a'"):
        validate(_cfg("grid", {"a": 5}))


def test_scheduler_and_metrics_checks() -> None:
    both = _cfg("custom", {"a": {"value": 1}}, metric={"name": "x"}, metrics=[{"name": "x"}, {"name": "y"}])
    assert validate(both) == [
        "`metric` and `metrics` cannot both be set: use `metric` for a single objective, "
        "or `metrics` for multi-objective optimization."
    ]
    sched = _cfg(
        "grid",
        {"a": {"value": 1}},
        scheduler={"engine": "wandb"},
        early_terminate={"type": "hyperband", "min_iter": 1},
    )
    assert validate(sched) == [
        "`early_terminate` cannot be used together with `scheduler`: early termination must be implemented "
        "by the custom scheduler itself."
    ]


def test_categorical_with_probabilities_needs_no_distribution() -> None:
    spec = {"values": [1, 2], "probabilities": [0.5, 0.5], "distribution": "categorical"}
    assert f"{spec!r} is not valid under any of the given schemas" in validate(_cfg("random", {"a": spec}))


def test_format_violations() -> None:
    assert format_violations(["a", "b"]) == (
        "Malformed sweep config detected! This may cause your sweep to behave in unexpected ways.\n"
        "To avoid this, please fix the sweep config schema violations below:\n"
        "  Violation 1. a\n"
        "  Violation 2. b"
    )


def test_client_bounds() -> None:
    check_client_bounds(_cfg("random", {"a": {"min": 1, "max": 2}, "b": {"min": 1.0, "max": 2.0}}))
    check_client_bounds(_cfg("random", {"a": {"min": 1, "max": 2.0, "distribution": "uniform"}}))
    with pytest.raises(ValueError, match=r"^Parameter a is ambiguous, please specify bounds as both floats"):
        check_client_bounds(_cfg("random", {"a": {"min": 1, "max": 2.5}}))


def test_minimal_algorithm_checks() -> None:
    with pytest.raises(SweepConfigError, match="Sweep config must contain method section"):
        next_run({"parameters": {"a": {"value": 1}}}, [])
    with pytest.raises(
        SweepConfigError, match="Parameters section of sweep config must be a dict of at least"
    ):
        next_run(_cfg("grid", {}), [])
    with pytest.raises(SweepConfigError, match=r'Invalid search type custom, must be one of \["grid"'):
        next_run(_cfg("custom", {"a": {"value": 1}}), [])
    with pytest.raises(SweepConfigError, match='Bayesian search requires "metric" section'):
        next_run(_cfg("bayes", {"a": {"min": 0.0, "max": 1.0}}), [])
    with pytest.raises(SweepConfigError, match=r"Need at least one searchable parameter for bayes search\."):
        next_run(_cfg("bayes", {"a": {"value": 1}}, metric={"name": "loss"}), [])


# --- grid (§4.1) ----------------------------------------------------------------------------------------------


def test_grid_order_and_exhaustion() -> None:
    config = _cfg("grid", {"v2": {"values": [4, 5]}, "v1": {"values": [1, 2, 3]}, "c": {"value": "x"}})
    combos = _run_grid(config)
    # keys come out in sorted order: c, v1, v2; the last name varies fastest
    assert combos == [("x", 1, 4), ("x", 1, 5), ("x", 2, 4), ("x", 2, 5), ("x", 3, 4), ("x", 3, 5)]
    assert expected_run_count(config) == 6
    runs = [
        SweepRun(name=str(i), state="finished", config={"v1": {"value": v1}, "v2": {"value": v2}})
        for i, (_, v1, v2) in enumerate(combos)
    ]
    assert next_run(config, runs) is None


def test_grid_dedup() -> None:
    config = _cfg("grid", {"n": {"values": [3e6, 3000000, 1, 1, 2]}})
    assert expected_run_count(config) == 3
    assert [c[0] for c in _run_grid(config)] == [3000000, 1, 2]
    # a run whose stored config has the int form counts for the float entry
    done = [SweepRun(name="a", state="finished", config={"n": {"value": 3000000}})]
    assert next_run(config, done) == {"n": {"value": 1}}


def test_grid_existing_failed_run_marks_combination_done() -> None:
    config = _cfg("grid", {"a": {"values": [1, 2]}})
    failed = [SweepRun(name="x", state="failed", config={"a": {"value": 1}})]
    assert next_run(config, failed) == {"a": {"value": 2}}
    crashed = [*failed, SweepRun(name="y", state="crashed", config={"a": {"value": 2}})]
    assert next_run(config, crashed) is None


def test_grid_dict_values_reduced_to_known_keys() -> None:
    config = _cfg("grid", {"opt": {"values": [{"name": "adam"}, {"name": "sgd"}]}})
    run = SweepRun(name="x", state="finished", config={"opt": {"value": {"name": "adam", "_extra": 1}}})
    assert next_run(config, [run]) == {"opt": {"value": {"name": "sgd"}}}


def test_grid_expands_int_uniform_and_q_uniform() -> None:
    assert [c[0] for c in _run_grid(_cfg("grid", {"a": {"min": 2, "max": 5}}))] == [2, 3, 4, 5]
    q = _cfg("grid", {"a": {"min": 0, "max": 1, "q": 0.25, "distribution": "q_uniform"}})
    assert [c[0] for c in _run_grid(q)] == [0.0, 0.25, 0.5, 0.75]
    qi = _cfg("grid", {"a": {"min": 0, "max": 10, "q": 5, "distribution": "q_uniform"}})
    assert _run_grid(qi) == [(0,), (5,)]
    assert expected_run_count(_cfg("grid", {"a": {"min": 1, "max": 3}, "b": {"values": [1, 2]}})) == 6
    assert expected_run_count(_cfg("random", {"a": {"min": 1, "max": 3}})) is None


@pytest.mark.parametrize(
    "spec",
    [{"min": 0.0, "max": 1.0}, {"distribution": "normal"}, {"values": [1, 2], "probabilities": [0.5, 0.5]}],
)
def test_grid_disallowed_type(spec: dict[str, Any]) -> None:
    with pytest.raises(
        SweepConfigError, match=r"^Parameter a is a disallowed type with grid search\. Grid search"
    ):
        next_run(_cfg("grid", {"a": spec}), [])


def test_nested_parameters() -> None:
    config = _cfg(
        "grid",
        {
            "optimizer": {
                "parameters": {
                    "lr": {"values": [0.1, 0.01]},
                    "nadam": {"parameters": {"beta": {"value": 0.9}}},
                }
            },
            "epochs": {"value": 3},
        },
    )
    assert validate(config) == []
    first = next_run(config, [])
    assert first == {"epochs": {"value": 3}, "optimizer": {"value": {"lr": 0.1, "nadam": {"beta": 0.9}}}}
    second = next_run(config, [SweepRun(name="a", state="finished", config=first)])
    assert second == {"epochs": {"value": 3}, "optimizer": {"value": {"lr": 0.01, "nadam": {"beta": 0.9}}}}
    done = [SweepRun(name=n, state="finished", config=c) for n, c in (("a", first), ("b", second))]
    assert next_run(config, done) is None
    # random and bayes re-nest the same way
    rand = next_run({**config, "method": "random"}, [], rng=random.Random(0))
    assert rand is not None and set(rand["optimizer"]["value"]) == {"lr", "nadam"}


def test_nested_conflict_message() -> None:
    config = _cfg("random", {"a": {"value": 1}, f"a{DELIM}b": {"value": 2}})
    with pytest.raises(SweepConfigError, match=r"^While nesting, found key a which conflics with key a$"):
        next_run(config, [])


def test_malformed_nested_parameter() -> None:
    bad = {"parameters": {"lr": {"min": 1, "max": 2, "bogus": 1}}}
    assert validate(_cfg("grid", {"opt": bad}))[-1] == "invalid hyperparameter configuration: opt"
    with pytest.raises(SweepConfigError, match="invalid hyperparameter configuration: opt"):
        next_run(_cfg("grid", {"opt": bad}), [])


# --- random (§4.2, §2.3) --------------------------------------------------------------------------------------


def _draws(spec: dict[str, Any], n: int = 400, seed: int = 7) -> list[Any]:
    config = _cfg("random", {"p": spec})
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        params = next_run(config, [], rng=rng)
        assert params is not None
        out.append(params["p"]["value"])
    return out


def test_random_is_reproducible_with_a_seeded_rng() -> None:
    assert _draws({"min": 0.0, "max": 1.0}, 20, seed=3) == _draws({"min": 0.0, "max": 1.0}, 20, seed=3)


def test_random_categorical_and_constant() -> None:
    assert set(map(repr, _draws({"values": ["a", [1], {"k": 1}]}))) == {"'a'", "[1]", "{'k': 1}"}
    assert set(_draws({"value": 5})) == {5}
    weighted = _draws({"values": ["x", "y"], "probabilities": [0.9, 0.1]}, 1000)
    assert 820 < weighted.count("x") < 960


def test_random_int_uniform_inclusive() -> None:
    values = _draws({"min": -2, "max": 2})
    assert all(isinstance(v, int) for v in values) and set(values) == {-2, -1, 0, 1, 2}


def test_random_uniform_and_q_uniform() -> None:
    assert all(2.0 <= v < 3.0 for v in _draws({"min": 2.0, "max": 3.0}))
    q = _draws({"min": 0, "max": 10, "q": 2, "distribution": "q_uniform"})
    assert all(isinstance(v, int) and v % 2 == 0 and 0 <= v <= 10 for v in q)
    qf = _draws({"min": 0, "max": 1, "q": 0.25, "distribution": "q_uniform"})
    assert all(isinstance(v, float) and (v / 0.25).is_integer() and 0 <= v <= 1 for v in qf)


def test_random_log_forms() -> None:
    lv = _draws({"min": 1e-4, "max": 1e-1, "distribution": "log_uniform_values"})
    assert all(1e-4 <= v <= 1e-1 for v in lv)
    assert sum(v < 1e-2 for v in lv) > len(lv) / 2  # log-uniform: two of three decades below 1e-2
    old = _draws({"min": -2, "max": 0, "distribution": "log_uniform"})
    assert all(math.exp(-2) <= v <= 1 for v in old)
    inv = _draws({"min": 1e-3, "max": 1.0, "distribution": "inv_log_uniform_values"})
    assert all(1e-3 <= v <= 1.0 + 1e-12 for v in inv)
    inv_old = _draws({"min": 0, "max": 2, "distribution": "inv_log_uniform"})
    assert all(math.exp(-2) <= v <= 1 for v in inv_old)
    qlv = _draws({"min": 1, "max": 1000, "q": 10, "distribution": "q_log_uniform_values"})
    assert all(isinstance(v, int) and v % 10 == 0 and 0 <= v <= 1000 for v in qlv)
    ql = _draws({"min": 0, "max": 3, "distribution": "q_log_uniform"})
    assert all(float(v).is_integer() and 1 <= v <= math.exp(3) + 0.5 for v in ql)


def test_random_normal_forms() -> None:
    values = _draws({"distribution": "normal", "mu": 10, "sigma": 2}, 2000)
    mean = sum(values) / len(values)
    assert 9.7 < mean < 10.3
    assert sum(abs(v - 10) < 2 for v in values) / len(values) == pytest.approx(0.68, abs=0.05)
    qn = _draws({"distribution": "q_normal", "q": 0.5})
    assert all((v / 0.5).is_integer() for v in qn)
    ln = _draws({"distribution": "log_normal", "mu": 0, "sigma": 1})
    assert all(v > 0 for v in ln)
    qln = _draws({"distribution": "q_log_normal", "q": 1})
    assert all(isinstance(v, int) and v >= 0 for v in qln)


def test_random_beta_forms() -> None:
    values = _draws({"distribution": "beta", "a": 2, "b": 5})
    assert all(0 <= v <= 1 for v in values)
    assert 0.25 < sum(values) / len(values) < 0.33  # mean a/(a+b) = 0.286
    qb = _draws({"distribution": "q_beta", "q": 0.1})
    assert all(0 <= v <= 1 and round(v / 0.1, 9).is_integer() for v in qb)


# --- bayes (§4.3) ---------------------------------------------------------------------------------------------


def _quadratic(x: float) -> float:
    return (x - 0.3) ** 2


def _bayes_config(goal: str = "minimize") -> dict[str, Any]:
    return _cfg(
        "bayes",
        {"x": {"min": 0.0, "max": 1.0}, "tag": {"value": "t"}},
        metric={"name": "loss", "goal": goal},
    )


def _finished(i: int, x: float, loss: float) -> SweepRun:
    return SweepRun(
        name=f"r{i}",
        state="finished",
        config={"x": {"value": x}, "tag": {"value": "t"}},
        summary_metrics={"loss": loss},
    )


def test_bayes_random_until_two_points() -> None:
    config = _bayes_config()
    rng = random.Random(5)
    first = next_run(config, [], rng=rng)
    assert first is not None and first["tag"] == {"value": "t"} and 0 <= first["x"]["value"] <= 1
    # one finished run and any number of pending ones still means random
    runs = [_finished(0, 0.5, 0.04), SweepRun(name="p", state="pending", config=first)]
    assert next_run(config, runs, rng=random.Random(1)) == next_run(
        _cfg("bayes", config["parameters"], metric=config["metric"]), [], rng=random.Random(1)
    )


def _observe(goal: str, seed: int, n: int = 10) -> list[SweepRun]:
    rng = random.Random(seed)
    sign = -1.0 if goal == "maximize" else 1.0
    return [_finished(i, x, sign * _quadratic(x)) for i, x in enumerate(rng.random() for _ in range(n))]


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_bayes_moves_toward_the_optimum(goal: str) -> None:
    config = _bayes_config(goal)
    distances = []
    for seed in range(8):
        runs = _observe(goal, seed)
        params = next_run(config, runs, rng=random.Random(100 + seed))
        assert params is not None and params["tag"] == {"value": "t"}
        x = params["x"]["value"]
        assert 0.0 <= x <= 1.0
        distances.append(abs(x - 0.3))
    # a uniform random point is on average 0.29 from 0.3; expected improvement may still explore a boundary once
    assert sum(distances) / len(distances) < 0.12
    assert sorted(distances)[len(distances) // 2] < 0.06


def test_bayes_pending_runs_and_failures() -> None:
    config = _bayes_config()
    runs = _observe("minimize", 11, 6)
    runs.append(SweepRun(name="run", state="running", config={"x": {"value": 0.31}}, history=[{"loss": 0.5}]))
    runs.append(SweepRun(name="f", state="failed", config={"x": {"value": 0.9}}))
    runs.append(
        SweepRun(name="nan", state="finished", config={"x": {"value": 0.8}}, summary_metrics={"loss": "NaN"})
    )
    params = next_run(config, runs, rng=random.Random(3))
    assert params is not None and 0.0 <= params["x"]["value"] <= 1.0


def test_bayes_int_and_categorical_parameters() -> None:
    config = _cfg(
        "bayes",
        {"n": {"min": 1, "max": 8}, "act": {"values": ["relu", "tanh", "gelu"]}},
        metric={"name": "acc", "goal": "maximize"},
    )
    rng = random.Random(9)
    runs: list[SweepRun] = []
    for i in range(6):
        params = next_run(config, runs, rng=rng)
        assert params is not None
        n, act = params["n"]["value"], params["act"]["value"]
        assert isinstance(n, int) and 1 <= n <= 8 and act in ("relu", "tanh", "gelu")
        acc = -abs(n - 4) + (1 if act == "gelu" else 0)
        runs.append(SweepRun(name=str(i), state="finished", config=params, history=[{"acc": acc}]))
    with pytest.raises(SweepConfigError, match="is not a permitted value of the categorical hyperparameter"):
        bad = SweepRun(name="b", state="finished", config={"n": {"value": 2}, "act": {"value": "elu"}})
        next_run(config, [*runs, bad], rng=rng)


# --- hyperband (§4.4) -----------------------------------------------------------------------------------------


def hyperband_bands(et: dict[str, Any]) -> list[int]:
    """The bands, read back from the "Bands: b = threshold, ..." line stop_runs reports."""
    lines: list[str] = []
    stop_runs({"method": "grid", "metric": {"name": "loss"}, "early_terminate": et}, [], lines=lines)
    return [int(part.split(" = ")[0]) for part in lines[0].removeprefix("Bands: ").split(", ")]


@pytest.mark.parametrize(
    ("et", "bands"),
    [
        ({"max_iter": 27, "s": 2, "eta": 3}, [3, 9]),
        ({"max_iter": 81, "s": 3, "eta": 3}, [3, 9, 27]),
        ({"max_iter": 18, "s": 2, "eta": 3}, [2, 6]),
        ({"max_iter": 27, "s": 2}, [3, 9]),
    ],
)
def test_hyperband_bands(et: dict[str, Any], bands: list[int]) -> None:
    assert hyperband_bands({"type": "hyperband", **et}) == bands


def test_hyperband_min_iter_bands() -> None:
    bands = hyperband_bands({"type": "hyperband", "min_iter": 3, "eta": 3})
    assert bands[:4] == [3, 9, 27, 81] and len(bands) == 100
    assert hyperband_bands({"type": "hyperband", "min_iter": 2, "eta": 2})[:3] == [2, 4, 8]


def test_hyperband_band_errors() -> None:
    with pytest.raises(
        SweepConfigError, match=r"^Bands must be an array of length at least 1\. Try increasing s"
    ):
        hyperband_bands({"type": "hyperband", "max_iter": 2, "s": 1, "eta": 3})
    with pytest.raises(SweepConfigError, match='either "max_iter" or "min_iter" must be specified'):
        hyperband_bands({"type": "hyperband", "eta": 3})


def _hb(et: dict[str, Any], goal: str = "minimize") -> dict[str, Any]:
    return _cfg(
        "grid",
        {"a": {"values": [1, 2]}},
        metric={"name": "loss", "goal": goal},
        early_terminate={"type": "hyperband", **et},
    )


def _hrun(name: str, losses: list[float], state: str = "running", **kw: Any) -> SweepRun:
    return SweepRun(
        name=name, state=state, history=[{"loss": v, "_step": 10 * i} for i, v in enumerate(losses)], **kw
    )


def test_hyperband_thresholds_strict() -> None:
    config = _hb({"min_iter": 2, "eta": 2})  # bands 2, 4, 8, ...
    runs = [
        _hrun("done", [5, 1], state="finished"),
        _hrun("bad", [5, 9]),
        _hrun("good", [5, 2]),
        _hrun("short", [5]),
    ]
    # band 2: values at index 1 are [1, 9, 2] sorted [1, 2, 9]; threshold = element int(3/2) = 2
    assert stop_runs(config, runs) == ["bad"]
    lines: list[str] = []
    stop_runs(config, runs, lines=lines)
    assert lines[0].startswith("Bands: 2 = 2.0, 4 = inf")
    assert any(line.startswith("Run: bad Step: 2") and line.endswith("STOP") for line in lines)


def test_hyperband_strict_vs_non_strict() -> None:
    # "late" was best early on (index 0 is not a band) but is worse than the threshold at band 2
    runs = [_hrun("a", [9, 1]), _hrun("b", [9, 2]), _hrun("late", [0.5, 3])]
    assert stop_runs(_hb({"min_iter": 2, "eta": 2}), runs) == ["late"]
    assert stop_runs(_hb({"min_iter": 2, "eta": 2, "strict": False}), runs) == []


def test_hyperband_judges_largest_band_reached() -> None:
    config = _hb({"min_iter": 1, "eta": 2})  # bands 1, 2, 4
    runs = [
        _hrun("a", [1, 1, 1, 1]),
        _hrun("b", [2, 2, 2, 2]),
        _hrun("c", [3, 3, 3, 0.5, 0.1]),  # bad at bands 1 and 2, best at band 4
    ]
    # band 4: index 3 values [0.5, 1, 2] -> threshold element 1 = 1; b (2) > 1 stops, c and a survive
    assert stop_runs(config, runs) == ["b"]


def test_hyperband_single_run_never_stopped() -> None:
    config = _hb({"max_iter": 18, "s": 2, "eta": 3})
    assert stop_runs(config, [_hrun("only", [10 - i for i in range(10)])]) == []
    assert stop_runs(config, [_hrun("only", [10 + i for i in range(10)])]) == []


def test_hyperband_maximize_and_filters() -> None:
    config = _hb({"min_iter": 2, "eta": 2}, goal="maximize")
    runs = [
        _hrun("lo", [0, float("nan"), 0.1]),  # NaN is dropped: index 1 is 0.1
        _hrun("hi", [0, 0.9]),
        _hrun("mid", [0, 0.5]),
        _hrun("stopped", [0, 0.0], stopped=True),  # judged worst, but already stopped
        _hrun("over", [0, 0.95], state="finished"),  # not judged, yet counts for the threshold
    ]
    # band 2, negated: [-0.95, -0.9, -0.5, -0.1, 0.0] -> threshold element int(5/2) = -0.5
    assert stop_runs(config, runs) == ["lo"]
    assert stop_runs(_cfg("grid", {"a": {"value": 1}}, metric={"name": "loss"}), runs) == []


def test_hyperband_config_errors() -> None:
    with pytest.raises(SweepConfigError, match='early terminate requires "metric" section'):
        stop_runs({"method": "grid", "early_terminate": {"type": "hyperband", "min_iter": 1}}, [])
    with pytest.raises(
        SweepConfigError, match=r'Invalid early stopping type x, must be one of \["hyperband"\]'
    ):
        stop_runs(_hb({"min_iter": 1}) | {"early_terminate": {"type": "x"}}, [])
    # unknown early_terminate keys are dropped silently
    assert stop_runs(_hb({"min_iter": 1, "extra_key": 1234}), []) == []


# --- metric value (§3) ----------------------------------------------------------------------------------------


def test_metric_value_best_over_history_and_summary() -> None:
    run = SweepRun(
        name="r",
        state="finished",
        history=[
            {"loss": 3.0},
            {"acc": 1},
            {"loss": float("nan")},
            {"loss": 1.5},
            {"loss": "NaN"},
            {"loss": True},
        ],
        summary_metrics={"loss": 2.0},
    )
    assert metric_value({"metric": {"name": "loss"}}, run) == 1.5
    assert metric_value({"metric": {"name": "loss", "goal": "maximize"}}, run) == 3.0
    run.summary_metrics = {"loss": 0.5}
    assert metric_value({"metric": {"name": "loss", "goal": "minimize"}}, run) == 0.5
    assert metric_value({"metric": {"name": "acc", "goal": "maximize"}}, run) == 1.0
    assert metric_value({"metric": {"name": "missing"}}, run) is None
    inf_only = SweepRun(name="i", state="finished", summary_metrics={"loss": float("inf")})
    assert metric_value({"metric": {"name": "loss"}}, inf_only) is None
    assert metric_value({"method": "grid"}, run) is None
