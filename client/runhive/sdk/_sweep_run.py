"""What a run started by a sweep agent reads at `init()`, and the parameter file an agent writes for it.

An agent hands a run its parameters as W&B does, through the environment (`WANDB_SWEEP_ID`, `WANDB_RUN_ID`) and a
parameter file (`WANDB_SWEEP_PARAM_PATH`: `wandb_version: 1` then `{name: {value: v}}`); `init()` locks those keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runhive.errors import UsageError

# RUNHIVE_* first, then the W&B names an agent sets for its runs.
SWEEP_ID_ENV = ("RUNHIVE_SWEEP_ID", "WANDB_SWEEP_ID")
PARAM_PATH_ENV = ("RUNHIVE_SWEEP_PARAM_PATH", "WANDB_SWEEP_PARAM_PATH")


def _env(names: Sequence[str]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def param_path(root: Path, sweep_id: str, run_id: str) -> Path:
    return root / "runhive" / f"sweep-{sweep_id}" / f"config-{run_id}.yaml"


def write_params(path: Path, params: Mapping[str, Any]) -> None:
    """W&B's parameter file: `wandb_version: 1` then `{name: {value: v}}`. Written as JSON lines that YAML
    reads too, so neither side needs PyYAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["wandb_version: 1"] + [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in params.items()]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def read_params(path: str) -> dict[str, Any]:
    """The parameter values in an agent's parameter file, `{name: value}`."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(
            f"the sweep parameter file {path!r} (WANDB_SWEEP_PARAM_PATH) cannot be read: {exc}"
        ) from None
    data: dict[str, Any] = {}
    try:
        for line in text.splitlines():
            if not line.strip() or line.startswith("wandb_version"):
                continue
            # Our own files are one JSON key and value a line; anything else (a W&B agent's YAML) needs PyYAML.
            key, _, value = line.partition(": ")
            data[json.loads(key)] = json.loads(value)
    except ValueError:
        data = _read_yaml(path, text)
    return {
        k: (v.get("value") if isinstance(v, dict) else v) for k, v in data.items() if k != "wandb_version"
    }


def _read_yaml(path: str, text: str) -> dict[str, Any]:
    try:
        import yaml
    except ImportError:
        raise UsageError(
            f"the sweep parameter file {path!r} is YAML: pip install 'runhive[sweeps]'"
        ) from None
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise UsageError(f"the sweep parameter file {path!r} does not hold a mapping")
    return data


class SweepContext:
    """What `init()` takes from the agent that started this process (or thread)."""

    def __init__(self, sweep_id: str, params: dict[str, Any]) -> None:
        self.sweep_id = sweep_id
        self.params = params


def current() -> SweepContext | None:
    sweep_id = _env(SWEEP_ID_ENV)
    if not sweep_id:
        return None
    path = _env(PARAM_PATH_ENV)
    return SweepContext(sweep_id, read_params(path) if path else {})


def merge_params(config: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Sweep values over `init(config=...)`: nested dicts merge recursively, as W&B does."""
    out = dict(config)
    for k, v in params.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_params(out[k], v)
        else:
            out[k] = v
    return out
