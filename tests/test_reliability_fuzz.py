"""Bad input (issue 4): hypothesis feeds >= 100,000 generated payloads to `log()`, `config.update()` and
`summary.update()` of one run (nested dicts, unicode, surrogate and empty keys, huge ints, NaN and infinities,
numpy scalars and arrays, arbitrary objects, cycles). Only documented exceptions reach the caller (TypeError,
ValueError, runhive.Error), the daemon stays up, and every accepted value reads back equal (NaN-aware)."""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import math
import os
import random
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import RhEnv, figure

OPS_PER_EXAMPLE = 10
MUTANTS = 9  # each drawn payload is also fed in 9 mutated forms (hypothesis-seeded, cheap to make)
PAYLOADS_PER_EXAMPLE = OPS_PER_EXAMPLE * (1 + MUTANTS)
EXAMPLES = int(os.environ.get("RUNHIVE_FUZZ_EXAMPLES", "1000"))  # x 100 = 100,000 payloads
SYSTEM = ("_step", "_runtime", "_timestamp")
BIG = 10**4000


class Color(enum.Enum):
    RED = 1


class HasToJson:
    def to_json(self) -> dict[str, Any]:
        return {"kind": "custom", "n": 3}


class Opaque:
    pass


class Reject(Exception):
    """The oracle says runhive must refuse this value with TypeError or ValueError."""


def _cycle() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["self"] = d
    return d


def _deep(n: int) -> dict[str, Any]:
    d: dict[str, Any] = {"leaf": 1}
    for _ in range(n):
        d = {"d": d}
    return d


def _power_of_ten(n: int) -> int:
    return 10**n


keys = st.one_of(
    st.text(max_size=6),
    st.sampled_from(
        ["", "_step", "_runtime", "_timestamp", "a.b", "ключ", "\ud800", "\x00", "x" * 300, "--lr"]
    ),
)
ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, -(2**63), 2**63, -(2**63) - 1]),
    st.sampled_from([3999, 4000, 4001, 5000]).map(_power_of_ten),  # around the 4,000-digit limit
    st.sampled_from([4000, 6000]).map(lambda n: -_power_of_ten(n)),
)
floats = st.floats(allow_nan=True, allow_infinity=True)
numpy_scalars = st.one_of(
    st.floats(width=32, allow_nan=True).map(np.float32),
    st.floats(allow_nan=True).map(np.float64),
    st.floats(width=16, allow_nan=True).map(np.float16),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(np.int64),
    st.integers(min_value=0, max_value=255).map(np.uint8),
    st.booleans().map(np.bool_),
)
arrays = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40).map(np.array),
    st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=40).map(np.array),
)
objects = st.sampled_from(
    [
        Opaque(),
        object(),
        1 + 2j,
        decimal.Decimal("1.5"),
        fractions.Fraction(1, 3),
        bytearray(b"x"),
        range(3),
        Color.RED,
        HasToJson(),
        b"bytes \xff",
        datetime.datetime(2024, 1, 2, 3, 4, 5),
        datetime.date(2024, 1, 2),
        np.complex128(1 + 1j),
        np.array(["a", "b"] * 20),
        np.array([object()] * 2, dtype=object),
    ]
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, st.text(max_size=10), numpy_scalars)
values = st.recursive(
    st.one_of(scalars, arrays, objects),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
        st.dictionaries(st.one_of(st.integers(), st.booleans()), inner, min_size=1, max_size=2),
    ),
    max_leaves=8,
)
specials = st.sampled_from([_cycle(), _deep(150), _deep(20)])
payload = st.one_of(
    st.dictionaries(keys, values, max_size=5),
    st.dictionaries(keys, specials, min_size=1, max_size=1),
    st.dictionaries(st.integers(), values, min_size=1, max_size=2),  # non-str keys
    st.sampled_from([[1, 2], "row", None, 3]),  # not a dict at all
)
ops = st.lists(
    st.tuples(st.sampled_from("LLLLLLLCS"), payload), min_size=OPS_PER_EXAMPLE, max_size=OPS_PER_EXAMPLE
)

# Leaves a mutant may get: the edges of every type runhive documents, and some it must refuse.
LEAVES: list[Any] = [
    0.0,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    5e-324,
    0,
    -1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    10**3999,
    None,
    True,
    False,
    "",
    "ü",
    "\ud800",
    "\x00",
    "x" * 1000,
    np.float32(1.5),
    np.int64(-7),
    np.bool_(True),
    np.float16(math.nan),
    np.arange(3),
    np.arange(50.0),
    [],
    {},
    [1, [2, [3]]],
    {"k": {"j": 1}},
    (1, 2),
    b"\xff",
    Color.RED,
    HasToJson(),
    Opaque(),
    1j,
    _power_of_ten(4001),
    _deep(30),
]
KEYS = ["", "a", "ä", "\ud800", "a.b", "_step", "_timestamp", "--x", "k" * 200]


def mutate(v: Any, rnd: Any, depth: int = 0) -> Any:
    """A cheap structural variant of `v`: leaves swapped for edge values, keys renamed, containers nested."""
    if isinstance(v, dict) and depth < 4:
        out = {}
        for k, x in v.items():
            if isinstance(k, str) and rnd.random() < 0.2:
                k = rnd.choice(KEYS) + k
            out[k] = mutate(x, rnd, depth + 1)
        if rnd.random() < 0.3:
            out[rnd.choice(KEYS)] = rnd.choice(LEAVES)
        return out
    if isinstance(v, list) and depth < 4:
        return [mutate(x, rnd, depth + 1) for x in v]
    if rnd.random() < 0.5:
        return rnd.choice(LEAVES)
    return v


# The oracle: what runhive must store for a value, written from its documented rules (README: numbers, strings,
# bools, None, lists, dicts with str keys, numpy scalars and arrays, > 32 elements a histogram, to_json(),
# bytes, dates, enums), independently of runhive's code.
def expect(v: Any, depth: int = 0) -> Any:
    if depth > 100:
        raise Reject("too deep")
    t = type(v)
    if v is None or t in (bool, float, str):
        return v
    if t is int:
        if abs(v) > BIG:
            raise Reject("too many digits")
        return v
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise Reject("key")
            out[k] = expect(x, depth + 1)
        return out
    if isinstance(v, (list, tuple)):
        return [expect(x, depth + 1) for x in v]
    if isinstance(v, (bytes,)):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, np.generic):
        if isinstance(v, np.complexfloating):
            raise Reject("complex")
        return expect(v.item(), depth)
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "OUS" and v.size > 32:
            raise Reject("histogram of non-numbers")
        if v.size == 1:
            return expect(v.reshape(-1)[0].item(), depth)
        if v.size <= 32:
            return expect(v.tolist(), depth)
        flat = np.asarray(v, dtype=float).reshape(-1)
        finite = flat[np.isfinite(flat)]
        if finite.size == 0:
            return {"_type": "histogram", "values": [], "bins": []}
        hv, hb = np.histogram(finite, bins=64)
        return {"_type": "histogram", "values": hv.tolist(), "bins": hb.tolist()}
    if isinstance(v, HasToJson):
        return v.to_json()
    raise Reject(type(v).__name__)


def same(a: Any, b: Any) -> bool:
    """Deep equality where NaN equals NaN and types must match."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b  # an int stays an int, a float a float, a bool a bool


def json_key(k: Any) -> str:
    """A dict key as JSON writes it: W&B's config accepts any key and the store keeps JSON."""
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    return str(k)


def expect_config(v: Any, depth: int = 0) -> Any:
    """Config values: `expect`, but nested dicts may have any JSON-able keys, and NaN in a dict becomes None."""
    if isinstance(v, dict) and not isinstance(v, np.ndarray):
        if depth > 100:
            raise Reject("too deep")
        out = {}
        for k, x in v.items():
            if not isinstance(k, (str, int, bool)) and k is not None:
                raise Reject("key")
            y = expect_config(x, depth + 1)
            out[json_key(k)] = None if isinstance(y, float) and math.isnan(y) else y
        return out
    return expect(v, depth)


def test_hypothesis_payloads(rh: RhEnv) -> None:
    import runhive

    run = runhive.init(project="fuzz")
    daemon = rh.daemon_pids()
    logged: list[dict[str, Any]] = []
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    counts = {"payloads": 0, "accepted": 0, "refused": 0}

    def one(kind: str, p: Any) -> None:
        counts["payloads"] += 1
        try:
            if kind != "L" and p is None:
                exp: dict[str, Any] | None = {}  # config.update(None) and summary.update(None) change nothing
            elif not isinstance(p, Mapping) or not all(isinstance(k, str) for k in p):
                raise Reject("not a dict with str keys")
            elif kind == "C":
                exp = expect_config(p)
            else:
                exp = {k: expect(v) for k, v in p.items()}
        except Reject:
            exp = None
        try:
            if kind == "L":
                run.log(p)
            elif kind == "C":
                run.config.update(p, allow_val_change=True)
            else:
                run.summary.update(p)
        except (TypeError, ValueError, runhive.Error) as exc:
            counts["refused"] += 1
            assert exp is None, f"refused a value the rules accept: {p!r}: {exc!r}"
            return
        assert exp is not None, f"accepted a value the rules refuse: {p!r}"
        counts["accepted"] += 1
        if kind == "L":
            logged.append(exp)
            summary.update({k: v for k, v in exp.items() if k not in SYSTEM})
        elif kind == "C":
            config.update({k.strip("-"): v for k, v in exp.items()})
        else:
            summary.update(exp)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(ops, st.randoms(use_true_random=False))
    def feed(batch: list[tuple[str, Any]], hrnd: Any) -> None:
        rnd = random.Random(hrnd.getrandbits(64))  # seeded by hypothesis; far cheaper per call
        for kind, p in batch:
            one(kind, p)
            for _ in range(MUTANTS):
                one(kind, mutate(p, rnd))

    t0 = time.monotonic()
    feed()
    run.finish()
    elapsed = time.monotonic() - t0
    assert counts["payloads"] >= EXAMPLES * PAYLOADS_PER_EXAMPLE  # 100,000 by default
    assert rh.daemon_pids() == daemon, "the daemon restarted"
    stored = rh.api().run(f"fuzz/{run.id}")
    assert stored.state == "finished"
    rows = stored.history(pandas=False, samples=None)
    missing = sorted(set(range(len(logged))) - {r["_step"] for r in rows})[:5]
    assert len(rows) == len(logged), (missing, (rh.svc / "service.log").read_text()[-3000:])
    for i, (row, exp) in enumerate(zip(rows, logged, strict=True)):
        user = {k: v for k, v in row.items() if k not in SYSTEM or (k in exp and k != "_step")}
        want = {k: v for k, v in exp.items() if k != "_step"}
        assert same(user, want), f"row {i}: stored {user!r}, logged {want!r}"
    bad = [
        (k, stored.config.get(k), config.get(k))
        for k in set(stored.config) | set(config)
        if not same(stored.config.get(k), config.get(k))
    ]
    assert not bad, bad[:3]
    got = {k: v for k, v in stored.summary.items() if k not in SYSTEM}
    want_summary = {k: v for k, v in summary.items() if k not in SYSTEM}
    assert same(got, want_summary)
    figure(
        "hypothesis payloads",
        f"{counts['payloads']} payloads ({counts['accepted']} accepted and read back equal, {counts['refused']} "
        f"refused with TypeError/ValueError/runhive.Error, 0 other exceptions) in {elapsed:.0f} s; daemon up",
    )
