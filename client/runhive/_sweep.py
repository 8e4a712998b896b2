"""`runhive.sweep()`, and what a run started by a sweep agent reads at `init()`.

The daemon owns sweeps: it validates the configuration, stores the sweep and runs its controller. An agent hands
a run its parameters as W&B does, through the environment (`WANDB_SWEEP_ID`, `WANDB_RUN_ID`) and a parameter
file (`WANDB_SWEEP_PARAM_PATH`: `wandb_version: 1` then `{name: {value: v}}`); `init()` locks those keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._errors import CommError, UsageError
from ._settings import Settings
from ._setup import base_settings
from ._termlog import LazyLogger
from ._wire import RpcError, StatusCode

logger = LazyLogger(configure=True)

# RUNHIVE_* first, then the W&B names an agent sets for its runs.
SWEEP_ID_ENV = ("RUNHIVE_SWEEP_ID", "WANDB_SWEEP_ID")
PARAM_PATH_ENV = ("RUNHIVE_SWEEP_PARAM_PATH", "WANDB_SWEEP_PARAM_PATH")


def _env(names: Sequence[str]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def rpc(settings: Settings, call: Callable[[Any, str], Any]) -> Any:
    """One call to the node's daemon (started if needed); `call(stub, session)`. Refusals become UsageError."""
    from ._sender import get_sender

    try:
        return get_sender(settings).call(lambda c: call(c.stub, c.session))
    except RpcError as exc:
        if exc.code() in (StatusCode.INVALID_ARGUMENT, StatusCode.NOT_FOUND, StatusCode.FAILED_PRECONDITION):
            raise UsageError(exc.details()) from None
        raise CommError(f"runhive-service: {exc.code().name}: {exc.details()}") from None


def sweep(
    sweep: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    entity: str | None = None,
    project: str | None = None,
    prior_runs: Sequence[str] | None = None,
) -> str:
    """Create a sweep (W&B's `wandb.sweep`): validates and stores it in the node's daemon, returns its id.

    A configuration that breaks the schema is stored anyway, with its violations printed, as W&B does; a
    parameter with one int and one float bound raises ValueError before anything is stored."""
    config = sweep() if callable(sweep) else sweep
    reply = create(config, entity, project, prior_runs)
    logger.info("Create sweep with ID: %s", reply.id)
    logger.info("Run sweep agent with: runhive agent %s/%s/%s", reply.entity, reply.project, reply.id)
    return str(reply.id)


def create(
    config: Any, entity: str | None, project: str | None, prior_runs: Sequence[str] | None = None
) -> Any:
    """Store a sweep in the daemon; prints the schema violations, if any. Returns the CreateSweep reply."""
    from . import _pb as pb

    if not isinstance(config, Mapping):
        raise ValueError("Sweep config must be parsable as a JSON object.")
    try:
        payload = json.dumps(dict(config)).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Sweep config must be parsable as a JSON object: {exc}") from None
    s = base_settings()
    ent = entity or s.entity or _str(config.get("entity")) or _default_entity()
    proj = project or s.project or _str(config.get("project")) or "Uncategorized"
    req = pb.CreateSweepRequest(
        entity=ent, project=proj, config_json=payload, prior_runs=list(prior_runs or ())
    )
    try:
        reply = rpc(s, lambda stub, session: stub.CreateSweep(_with(req, session), timeout=60))
    except UsageError as exc:  # the daemon refuses a sweep only for a config it cannot read at all
        raise ValueError(str(exc)) from None
    if reply.violations:
        lines = [
            "Malformed sweep config detected! This may cause your sweep to behave in unexpected ways.",
            "To avoid this, please fix the sweep config schema violations below:",
        ]
        lines += [f"  Violation {i}. {v}" for i, v in enumerate(reply.violations, 1)]
        logger.warning("\n".join(lines))
    return reply


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _with(req: Any, session: str) -> Any:
    req.session = session
    return req


def _default_entity() -> str:
    from ._init import _default_entity as default

    return default()


# The run's side ----------------------------------------------------------------------------------------
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
