"""Sweep config validation (reference §2.1-2.8): the messages jsonschema gives for W&B's schema, written by hand
so runhive needs no jsonschema, followed by the `sweeps` package's own checks, in the same order."""

from __future__ import annotations

import math
from typing import Any

from ._forms import PARAM_NAME_PATTERN, is_integer, is_number, match_form, name_ok
from ._params import deprecation_message, min_max_message

_METHODS = ["bayes", "random", "grid", "custom"]
_ENGINES = {"wandb": ["grid", "bayes", "random"], "optuna": ["custom"], "ax": ["custom"]}

# Top-level properties in the schema's order, which is the order jsonschema reports them in.
_STRING_PROPS = ("apiVersion", "description", "program", "job", "image_uri", "entity", "project", "name")
_TOP_LEVEL = (
    "apiVersion",
    "kind",
    "controller",
    "description",
    "program",
    "job",
    "image_uri",
    "entity",
    "project",
    "method",
    "command",
    "name",
    "run_cap",
    "metric",
    "metrics",
    "scheduler",
    "early_terminate",
    "parameters",
)
_METRIC_KEYS = ("name", "goal", "target", "impute", "impute_while_running")
_SCHEDULER_KEYS = ("engine", "source", "optimizer", "search_space")
_HYPERBAND_KEYS = ("type", "max_iter", "min_iter", "s", "eta", "strict")

_HEADER = (
    "Malformed sweep config detected! This may cause your sweep to behave in unexpected ways.\n"
    "To avoid this, please fix the sweep config schema violations below:"
)


def _type_msg(value: Any, type_name: str) -> str:
    return f"{value!r} is not of type {type_name!r}"


def _enum_msg(value: Any, options: list[str]) -> str:
    return f"{value!r} is not one of {options!r}"


def _required_msg(key: str) -> str:
    return f"{key!r} is a required property"


def _extras_msg(obj: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    extras = sorted((k for k in obj if k not in allowed), key=str)
    if not extras:
        return []
    verb = "was" if len(extras) == 1 else "were"
    return [f"Additional properties are not allowed ({', '.join(repr(e) for e in extras)} {verb} unexpected)"]


def _string(value: Any) -> list[str]:
    return [] if isinstance(value, str) else [_type_msg(value, "string")]


def _string_enum(value: Any, options: list[str]) -> list[str]:
    out = _string(value)
    if value not in options or not isinstance(value, str):
        out.append(_enum_msg(value, options))
    return out


def _metric(metric: Any) -> list[str]:
    if not isinstance(metric, dict):
        return [_type_msg(metric, "object")]
    out = [] if "name" in metric else [_required_msg("name")]
    out += _extras_msg(metric, _METRIC_KEYS)
    if "name" in metric:
        out += _string(metric["name"])
    if "goal" in metric:
        out += _string_enum(metric["goal"], ["minimize", "maximize"])
    if "target" in metric and not is_number(metric["target"]):
        out.append(_type_msg(metric["target"], "number"))
    if "impute" in metric:
        out += _string_enum(metric["impute"], ["latest", "best", "worst"])
    if "impute_while_running" in metric:
        out += _string_enum(metric["impute_while_running"], ["latest", "best", "worst", "false"])
    return out


def _scheduler(scheduler: Any) -> list[str]:
    if not isinstance(scheduler, dict):
        return [_type_msg(scheduler, "object")]
    out = [] if "engine" in scheduler else [_required_msg("engine")]
    out += _extras_msg(scheduler, _SCHEDULER_KEYS)
    if "engine" in scheduler:
        out += _string_enum(scheduler["engine"], ["optuna", "ax", "wandb"])
    for key in ("source", "optimizer", "search_space"):
        if key in scheduler:
            out += _string(scheduler[key])
    for key in ("optimizer", "search_space"):
        if key in scheduler and "source" not in scheduler:
            out.append(f"'source' is a dependency of {key!r}")
    return out


def _hyperband_ok(et: Any) -> bool:
    if not isinstance(et, dict) or "type" not in et:
        return False
    if not (("max_iter" in et and "s" in et) or "min_iter" in et):
        return False
    if any(k not in _HYPERBAND_KEYS for k in et):
        return False
    if not isinstance(et["type"], str) or et["type"] != "hyperband":
        return False
    if "max_iter" in et and not is_integer(et["max_iter"]):
        return False
    if "min_iter" in et and not (is_integer(et["min_iter"]) and et["min_iter"] >= 1):
        return False
    if "s" in et and not is_number(et["s"]):
        return False
    if "eta" in et and not (is_number(et["eta"]) and et["eta"] > 1):
        return False
    return "strict" not in et or isinstance(et["strict"], bool)


def _parameters(section: Any) -> list[str]:
    if not isinstance(section, dict):
        return [_type_msg(section, "object")]
    out = [f"{k!r} does not match {PARAM_NAME_PATTERN!r}" for k in section if not name_ok(k)]
    out += [
        f"{v!r} is not valid under any of the given schemas"
        for v in section.values()
        if match_form(v) is None
    ]
    if not section:
        out.append(f"{section!r} should be non-empty")
    return out


def _schema_violations(config: dict[str, Any]) -> list[str]:
    out = [] if "method" in config else [_required_msg("method")]
    out += _extras_msg(config, _TOP_LEVEL)
    for key in _TOP_LEVEL:
        if key not in config:
            continue
        value = config[key]
        if key in _STRING_PROPS:
            out += _string(value)
        elif key == "kind":
            out += _string_enum(value, ["sweep"])
        elif key == "controller":
            if not isinstance(value, dict):
                out.append(_type_msg(value, "object"))
            else:
                if "type" in value:
                    out += _string_enum(value["type"], ["local", "cloud"])
                else:
                    out.append(_required_msg("type"))
        elif key == "method":
            if not (isinstance(value, str) and value in _METHODS):
                out.append(_enum_msg(value, _METHODS))
        elif key == "command":
            if not isinstance(value, list):
                out.append(_type_msg(value, "array"))
        elif key == "run_cap":
            if not is_integer(value):
                out.append(_type_msg(value, "integer"))
            elif value <= 0:
                out.append(f"{value!r} is less than or equal to the minimum of 0")
        elif key == "metric":
            out += _metric(value)
        elif key == "metrics":
            if not isinstance(value, list):
                out.append(_type_msg(value, "array"))
            else:
                if len(value) < 2:
                    out.append(f"{value!r} is too short")
                for item in value:
                    out += _metric(item)
        elif key == "scheduler":
            out += _scheduler(value)
        elif key == "early_terminate":
            if not _hyperband_ok(value):
                out.append(f"{value!r} is not valid under any of the given schemas")
        elif key == "parameters":
            out += _parameters(value)
    return out


def _probabilities_message(name: str, spec: dict[str, Any]) -> str | None:
    if "values" not in spec or "probabilities" not in spec:
        return None
    values, probs = spec["values"], spec["probabilities"]
    try:
        if len(values) != len(probs):
            return f"Parameter {name}: values {values} and probabilities {probs} are not the same length"
        total = sum(probs)
    except TypeError:  # not lists of numbers: the schema message already says so
        return None
    # numpy.isclose's default tolerances, which W&B uses here.
    if not (math.isfinite(total) and abs(total - 1.0) <= 1e-8 + 1e-5):
        return f"Parameter {name}: Probabilities {probs} do not sum to 1"
    return None


def _custom_violations(config: dict[str, Any]) -> list[str]:
    out: list[str] = []
    method = config.get("method")
    scheduler = config.get("scheduler")
    has_search_space = isinstance(scheduler, dict) and bool(scheduler.get("search_space"))
    if "parameters" not in config and not has_search_space:
        out.append("`parameters` is required unless `scheduler.search_space` is set.")
    if "metric" in config and "metrics" in config:
        out.append(
            "`metric` and `metrics` cannot both be set: use `metric` for a single objective, "
            "or `metrics` for multi-objective optimization."
        )
    elif "metrics" in config and method is not None and method != "custom":
        out.append(
            f"`metrics` requires `method: custom` (got `method: {method}`): multi-objective optimization is only "
            "supported with a custom scheduler."
        )
    if scheduler is not None:
        controller = config.get("controller")
        if isinstance(controller, dict) and controller.get("type") == "local":
            out.append(
                "`controller: type:local` cannot be used together with `scheduler`: "
                "use `scheduler` instead of `controller`."
            )
        if "early_terminate" in config:
            out.append(
                "`early_terminate` cannot be used together with `scheduler`: early termination must be implemented "
                "by the custom scheduler itself."
            )
        if isinstance(scheduler, dict):
            engine = scheduler.get("engine")
            if not isinstance(engine, str) or engine not in _ENGINES:
                out.append(
                    f"scheduler.engine '{engine}' is not supported. supported engines are: {', '.join(_ENGINES)}"
                )
            elif method not in _ENGINES[engine]:
                supported = ", ".join(f"`method: {m}`" for m in _ENGINES[engine])
                out.append(
                    f"`scheduler.engine: {engine}` does not support `method: {method}`. "
                    f"supported methods are: {supported}"
                )
    parameters = config.get("parameters")
    if isinstance(parameters, dict):
        for name, spec in parameters.items():
            if not isinstance(spec, dict):
                raise ValueError(f"Invalid configuration for hyperparameter '{name}'")
            out += [m for m in (min_max_message(name, spec), _probabilities_message(name, spec)) if m]
            out += _form_violations(name, spec)
    return out


def _form_violations(name: str, spec: dict[str, Any]) -> list[str]:
    """W&B builds the parameter here to spot deprecated forms; building it repeats a min/max failure, so a bad
    min/max appears twice in W&B's list, and it does here too."""
    matched = match_form(spec)
    if matched is None:
        return [f"invalid hyperparameter configuration: {name}"]
    kind, filled = matched
    if kind == "param_dict":
        return []
    msg = min_max_message(name, filled) or deprecation_message(name, kind)
    return [msg] if msg else []


def validate(config: Any) -> list[str]:
    """Every violation of the sweep config, as W&B words them; [] when the config is valid."""
    if not isinstance(config, dict):
        raise ValueError("Sweep config must be parsable as a JSON object.")
    return _schema_violations(config) + _custom_violations(config)


def format_violations(violations: list[str]) -> str:
    lines = [_HEADER] + [f"  Violation {i}. {v}" for i, v in enumerate(violations, start=1)]
    return "\n".join(lines)


def check_client_bounds(config: dict[str, Any]) -> None:
    """The W&B client's check before upload: int/float bounds without a distribution are ambiguous."""
    parameters = config.get("parameters") if isinstance(config, dict) else None
    if not isinstance(parameters, dict):
        return
    for name, spec in parameters.items():
        if not isinstance(spec, dict) or "distribution" in spec or "min" not in spec or "max" not in spec:
            continue
        lo, hi = spec["min"], spec["max"]
        ints = [isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)]
        floats = [isinstance(v, float) for v in (lo, hi)]
        if (ints[0] and floats[1]) or (floats[0] and ints[1]):
            raise ValueError(
                f"Parameter {name} is ambiguous, please specify bounds as both floats (for a float_uniform "
                "distribution) or ints (for an int_uniform distribution)."
            )
