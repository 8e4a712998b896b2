"""The parameter forms of the W&B sweep schema, checked by hand (reference §2.3, §2.4).

Each form is a closed set of keys with a type per key, as the JSON schema of the `sweeps` package states them. The
forms are tried in the package's order and the first that fits wins, so the order is behaviour: it is what makes
`{min: 1, max: 10}` an int_uniform and `{min: 1, max: 10.0}` a uniform.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

PARAM_NAME_PATTERN = "^^[A-Za-z_][A-Za-z0-9_.-]*$"  # sic: the schema's pattern, quoted in its messages

_MISSING: Any = object()


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_integer(x: Any) -> bool:
    # JSON schema draft 7 counts 1.0 as an integer; the extra "format: integer" check then demands a Python int.
    return (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, float) and x.is_integer())


@dataclass(frozen=True)
class Prop:
    number: bool = False  # "type": "number"
    integer: bool = False  # "type": "integer" plus "format": "integer" (a Python int)
    float_fmt: bool = False  # "format": "float" (a Python float)
    array: bool = False
    min_items: int = 0
    minimum: float | None = None
    exclusive_minimum: float | None = None
    items_nonneg_numbers: bool = False
    enum: tuple[str, ...] | None = None
    nested: bool = False  # a whole `parameters` section
    default: Any = _MISSING

    def accepts(self, value: Any) -> bool:
        if self.number and not is_number(value):
            return False
        if self.integer and not (is_integer(value) and isinstance(value, int)):
            return False
        if self.float_fmt and not isinstance(value, float):
            return False
        if self.array:
            if not isinstance(value, list) or len(value) < self.min_items:
                return False
            if self.items_nonneg_numbers and not all(is_number(v) and v >= 0 for v in value):
                return False
        if self.minimum is not None and is_number(value) and value < self.minimum:
            return False
        if self.exclusive_minimum is not None and is_number(value) and value <= self.exclusive_minimum:
            return False
        if self.enum is not None and not (isinstance(value, str) and value in self.enum):
            return False
        return not self.nested or parameters_section_ok(value)


@dataclass(frozen=True)
class Form:
    kind: str
    required: tuple[str, ...]
    props: dict[str, Prop]

    def accepts(self, spec: dict[str, Any]) -> bool:
        if any(k not in spec for k in self.required):
            return False
        if any(k not in self.props for k in spec):
            return False
        return all(self.props[k].accepts(v) for k, v in spec.items())

    def filled(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(spec)
        for key, prop in self.props.items():
            if prop.default is not _MISSING and key not in out:
                out[key] = prop.default
        return out


def _dist(name: str, default: bool = False) -> Prop:
    return Prop(enum=(name,), default=name if default else _MISSING)


_NUM = Prop(number=True)
_Q = Prop(number=True, exclusive_minimum=0, default=1.0)
_A_B = Prop(number=True, minimum=0, default=1)
_VALUES = Prop(array=True, min_items=1)
_POSITIVE = Prop(number=True, exclusive_minimum=0.0)


def _mu(default: float) -> Prop:
    return Prop(number=True, default=default)


def _sigma(default: float) -> Prop:
    return Prop(number=True, minimum=0, default=default)


def _uniform_variants() -> list[Form]:
    # The schema's param_uniform is itself an anyOf: an explicit distribution, or at least one float bound.
    flt = Prop(number=True, float_fmt=True)
    dflt = _dist("uniform", default=True)
    return [
        Form(
            "uniform",
            ("min", "max", "distribution"),
            {"min": _NUM, "max": _NUM, "distribution": _dist("uniform")},
        ),
        Form("uniform", ("min", "max"), {"min": flt, "max": flt, "distribution": dflt}),
        Form("uniform", ("min", "max"), {"min": _NUM, "max": flt, "distribution": dflt}),
        Form("uniform", ("min", "max"), {"min": flt, "max": _NUM, "distribution": dflt}),
    ]


def _forms() -> list[list[Form]]:
    """Each entry is one schema alternative (a list, because param_uniform has four variants)."""
    bounds = ("distribution", "max", "min")
    return [
        [Form("q_beta", ("distribution",), {"a": _A_B, "b": _A_B, "q": _Q, "distribution": _dist("q_beta")})],
        [Form("beta", ("distribution",), {"a": _A_B, "b": _A_B, "distribution": _dist("beta")})],
        [Form("categorical", ("values",), {"values": _VALUES, "distribution": _dist("categorical", True)})],
        [
            Form(
                "categorical_w_probabilities",
                ("values", "probabilities"),
                {
                    "values": _VALUES,
                    "probabilities": Prop(array=True, min_items=1, items_nonneg_numbers=True),
                    "distribution": _dist("categorical_w_probabilities", True),
                },
            )
        ],
        [
            Form(
                "int_uniform",
                ("min", "max"),
                {
                    "max": Prop(integer=True),
                    "min": Prop(integer=True),
                    "distribution": _dist("int_uniform", True),
                },
            )
        ],
        _uniform_variants(),
        [
            Form(
                "log_normal",
                ("distribution",),
                {"distribution": _dist("log_normal"), "mu": _mu(0.0), "sigma": _sigma(1.0)},
            )
        ],
        [Form("log_uniform", bounds, {"min": _NUM, "max": _NUM, "distribution": _dist("log_uniform")})],
        [
            Form(
                "inv_log_uniform",
                bounds,
                {"min": _NUM, "max": _NUM, "distribution": _dist("inv_log_uniform")},
            )
        ],
        [
            Form(
                "normal",
                ("distribution",),
                {"distribution": _dist("normal"), "mu": _mu(0.0), "sigma": _sigma(1.0)},
            )
        ],
        [
            Form(
                "q_log_normal",
                ("distribution",),
                {"q": _Q, "mu": _mu(0), "sigma": _sigma(1), "distribution": _dist("q_log_normal")},
            )
        ],
        [
            Form(
                "q_log_uniform",
                bounds,
                {"min": _NUM, "max": _NUM, "q": _Q, "distribution": _dist("q_log_uniform")},
            )
        ],
        [
            Form(
                "q_normal",
                ("distribution",),
                {"q": _Q, "mu": _mu(0), "sigma": _sigma(1), "distribution": _dist("q_normal")},
            )
        ],
        [Form("q_uniform", bounds, {"min": _NUM, "max": _NUM, "q": _Q, "distribution": _dist("q_uniform")})],
        [Form("constant", ("value",), {"value": Prop(), "distribution": _dist("constant", True)})],
        [
            Form(
                "inv_log_uniform_values",
                bounds,
                {"min": _POSITIVE, "max": _NUM, "distribution": _dist("inv_log_uniform_values")},
            )
        ],
        [
            Form(
                "log_uniform_values",
                bounds,
                {"min": _POSITIVE, "max": _NUM, "distribution": _dist("log_uniform_values")},
            )
        ],
        [
            Form(
                "q_log_uniform_values",
                bounds,
                {"min": _POSITIVE, "max": _NUM, "q": _Q, "distribution": _dist("q_log_uniform_values")},
            )
        ],
        [Form("param_dict", ("parameters",), {"parameters": Prop(nested=True)})],
    ]


# Built once: immutable, so sharing it is not module-level mutable state.
FORMS: tuple[tuple[Form, ...], ...] = tuple(tuple(alts) for alts in _forms())


def match_form(spec: Any) -> tuple[str, dict[str, Any]] | None:
    """(kind, spec with defaults filled) for the first form `spec` fits, or None."""
    if not isinstance(spec, dict):
        return None
    for alternatives in FORMS:
        for form in alternatives:
            if form.accepts(spec):
                return form.kind, form.filled(spec)
    return None


def name_ok(name: Any) -> bool:
    return isinstance(name, str) and re.search(PARAM_NAME_PATTERN, name) is not None


def parameters_section_ok(section: Any) -> bool:
    """The schema's `parameters` definition: a non-empty object of well-named, well-formed parameters."""
    if not isinstance(section, dict) or not section:
        return False
    return all(name_ok(k) and match_form(v) is not None for k, v in section.items())
