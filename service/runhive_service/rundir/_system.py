"""The system-metric samples of an offline run, kept beside its WAL as `run-<id>.rhsys`.

An online run's samples go straight to the node's store (and from there to a team server); an offline run has no
store, so the daemon appends them here and `runhive sync` stores or uploads them with the run, as W&B keeps them
in an offline run's `.wandb` file. One JSON line per sample, `[ts, runtime, {key: value}]`: the server's upload
shape, so a sync sends the lines as they are. A crash can leave a torn last line; readers skip it and the next
append starts on a fresh line, so it never swallows a whole sample.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

SUFFIX = ".rhsys"

Sample = tuple[float, float, dict[str, Any]]  # (ts, runtime, data)


def samples_path(wal: Path) -> Path:
    """The samples file of the run whose WAL is `wal` (`run-<id>.rhwal` -> `run-<id>.rhsys`)."""
    return wal.with_suffix(SUFFIX)


def append_samples(path: Path, samples: Iterable[Sample]) -> None:
    text = "".join(json.dumps([ts, rt, data], separators=(",", ":")) + "\n" for ts, rt, data in samples)
    if not text:
        return
    with open(path, "a+b") as f:
        if f.tell() > 0:
            f.seek(-1, 2)
            if f.read(1) != b"\n":  # a torn line of a crashed write: end it, so it spoils no new sample
                text = "\n" + text
        f.write(text.encode("utf-8"))


def read_samples(path: Path) -> Iterator[Sample]:
    """The whole samples of `path`, in the order they were taken (none when the run took none)."""
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            try:
                ts, rt, data = json.loads(line)
            except ValueError:
                continue  # torn by a crash
            if isinstance(ts, (int, float)) and isinstance(rt, (int, float)) and isinstance(data, dict):
                if math.isfinite(ts) and math.isfinite(rt):
                    yield float(ts), float(rt), data


__all__ = ["SUFFIX", "Sample", "append_samples", "read_samples", "samples_path"]
