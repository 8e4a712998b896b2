"""`runhive.sweep()`: create a sweep in the node's daemon, or on the team server when one is configured (what a
run started by an agent reads at `init()` is `runhive.sdk._sweep_run`).

The owner of the store owns sweeps: it validates the configuration, stores the sweep and runs its controller. With
a team server (`RUNHIVE_BASE_URL` + `RUNHIVE_API_KEY`, `runhive login --host`, or `Settings(base_url=...)`) that is
the server, so agents on any machine share the sweep; otherwise the node's daemon. `rpc()` is the one place that
chooses: the callers make the same calls with the same messages either way (`_http` for the server). An agent hands
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


def sweep_server(settings: Settings) -> tuple[str, str] | None:
    """(URL, API key) of the team server that owns sweeps, or None: the node's daemon does. A server without a key
    is the UsageError init() gives ("not logged in: run `runhive login --host ...`")."""
    if settings.resolved_mode in ("offline", "disabled"):
        return None
    from runhive.sdk._credentials import server_for

    return server_for(settings.base_url, settings.api_key)


def rpc(settings: Settings, call: Callable[[Any, str], Any]) -> Any:
    """One sweep call, `call(stub, session)`, to the team server when one is configured (`sweep_server`), else
    to the node's daemon (started if needed). Refusals become UsageError (with the status name as `code`)."""
    server = sweep_server(settings)
    if server is not None:
        from ._http import ServerStub

        return call(ServerStub(*server), "")
    from runhive.transport._sender import get_sender

    from ._http import refused

    try:
        return get_sender(settings).call(lambda c: call(c.stub, c.session))
    except RpcError as exc:
        if exc.code() in (StatusCode.INVALID_ARGUMENT, StatusCode.NOT_FOUND, StatusCode.FAILED_PRECONDITION):
            raise refused(exc.code().name, exc.details()) from None
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
    on_server = sweep_server(s) is not None
    # On a server the default entity is the key's user (the server knows it), as for init().
    ent = entity or s.entity or _str(config.get("entity")) or ("" if on_server else default_entity())
    proj = project or s.project or _str(config.get("project")) or "Uncategorized"
    req = pb.CreateSweepRequest(
        entity=ent, project=proj, config_json=payload, prior_runs=list(prior_runs or ())
    )
    try:
        reply = rpc(s, lambda stub, session: stub.CreateSweep(_with(req, session), timeout=60))
    except UsageError as exc:  # a config the controller cannot read at all is the caller's ValueError
        if getattr(exc, "code", "") == "INVALID_ARGUMENT":
            raise ValueError(str(exc)) from None
        raise
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
