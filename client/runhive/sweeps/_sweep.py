"""`runhive.sweep()`: create a sweep in the node's daemon (what a run started by an agent reads at `init()` is
`runhive.sdk._sweep_run`).

The daemon owns sweeps: it validates the configuration, stores the sweep and runs its controller. An agent hands
a run its parameters as W&B does, through the environment (`WANDB_SWEEP_ID`, `WANDB_RUN_ID`) and a parameter
file (`WANDB_SWEEP_PARAM_PATH`: `wandb_version: 1` then `{name: {value: v}}`); `init()` locks those keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from runhive.errors import CommError, UsageError
from runhive.sdk._settings import Settings, default_entity
from runhive.sdk._setup import base_settings
from runhive.sdk._termlog import LazyLogger
from runhive.transport._wire import RpcError, StatusCode

logger = LazyLogger(configure=True)


def rpc(settings: Settings, call: Callable[[Any, str], Any]) -> Any:
    """One call to the node's daemon (started if needed); `call(stub, session)`. Refusals become UsageError."""
    from runhive.transport._sender import get_sender

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
    from runhive.protocol import messages as pb

    if not isinstance(config, Mapping):
        raise ValueError("Sweep config must be parsable as a JSON object.")
    try:
        payload = json.dumps(dict(config)).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Sweep config must be parsable as a JSON object: {exc}") from None
    s = base_settings()
    ent = entity or s.entity or _str(config.get("entity")) or default_entity()
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


def load_sweep_file(path: str) -> dict[str, Any]:
    """A sweep configuration file: YAML (with PyYAML, the `sweeps` extra), or JSON."""
    try:
        text = Path(path).read_text()
    except (OSError, ValueError) as exc:
        raise UsageError(f"Couldn't open sweep file: {path} ({exc})") from None
    if not text.strip():
        raise UsageError(f"Configuration file is empty: {path}")
    try:
        if path.endswith(".json"):
            data = json.loads(text)
        else:
            try:
                import yaml
            except ImportError:
                raise UsageError(
                    f"{path} is YAML: install PyYAML to read it (pip install 'runhive[sweeps]'), or pass JSON."
                ) from None
            data = yaml.safe_load(text)
    except UsageError:
        raise
    except Exception as exc:  # yaml.YAMLError or json's ValueError: the file's own syntax
        raise UsageError(f"Error in configuration file: {exc}") from None
    if data is None:
        raise UsageError(f"Configuration file is empty: {path}")
    if not isinstance(data, dict):
        raise UsageError(
            f"Error in configuration file: {path} must hold a mapping, not {type(data).__name__}"
        )
    return data
