"""Random search (reference §4.2): every parameter sampled independently; never ends by itself."""

from __future__ import annotations

import random
from typing import Any

from ._params import flatten, renest, sample


def random_next(config: dict[str, Any], rng: random.Random) -> dict[str, dict[str, Any]]:
    params = flatten(config["parameters"])
    return renest({p.name: sample(p, rng) for p in params})
