"""`runhive.init()`: resolve settings, apply reinit, open a run stream in the daemon, return a `Run`."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from runhive.errors import CommError, UsageError
from runhive.protocol.ids import validate_id
from runhive.transport._wire import RpcError, StatusCode

from . import _globals
from ._config import _as_mapping
from ._names import validate_name
from ._settings import Settings, default_entity, normalize_mode
from ._setup import base_settings
from ._termlog import LazyLogger, apply_settings

if TYPE_CHECKING:
    from ._run import Run

logger = LazyLogger(configure=True)
_warned_flags: set[str] = set()

REINIT_CHOICES = ("default", "return_previous", "finish_previous", "create_new")
RESUME_CHOICES = ("allow", "must", "never", "auto")


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        return shell.get_ipython() is not None  # type: ignore[attr-defined,no-any-return]
    except Exception:
        return False


def _normalize_reinit(value: Any) -> str | bool:
    if value is None:
        return "default"
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in REINIT_CHOICES:
        return value
    raise UsageError(
        f"Invalid reinit={value!r}: choose one of 'default', 'return_previous', 'finish_previous', 'create_new' "
        "(or the deprecated True / False)."
    )


def _normalize_resume(value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return "auto"
    if isinstance(value, str) and value in RESUME_CHOICES:
        return value
    raise UsageError(
        f"Invalid resume={value!r}: choose one of 'allow', 'must', 'never', 'auto', True or False."
    )


def _effective_reinit(reinit: str | bool) -> str:
    if reinit is True:
        return "finish_previous"
    if reinit is False:
        return "return_previous"
    if reinit == "default":
        # The product's documents (seeds 000/001): finish_previous in scripts, return_previous in notebooks.
        return "return_previous" if _in_notebook() else "finish_previous"
    return str(reinit)


def init(
    project: str | None = None,
    entity: str | None = None,
    config: Any = None,
    name: str | None = None,
    id: str | None = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    reinit: str | bool | None = None,
    resume: str | bool | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
    save_code: bool | None = None,
    anonymous: str | None = None,
    force: bool | None = None,
    allow_val_change: bool | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    sync_tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    magic: Any = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    tensorboard: bool | None = None,
) -> Run:
    """Start a run (W&B's `wandb.init`): returns a `Run` whose data goes to the node's runhive-service."""
    if settings is not None and not isinstance(settings, (Settings, Mapping)):
        raise UsageError(f"settings= must be a runhive.Settings or a dict, got {type(settings).__name__}.")
    s = base_settings().merged(settings)
    apply_settings(s)  # quiet, silent, show_info/warnings/errors: which of runhive's terminal lines show
    sweep = _sweep_context()
    if sweep is not None:
        # As W&B: under an agent the run's id, project and entity are the sweep's; the agent set them.
        for what, given in (("project", project), ("entity", entity), ("run_id", id)):
            if given is not None:
                logger.warning("Ignoring %s '%s' when running a sweep.", what, given)
        project = entity = id = None
    explicit = {
        "project": project,
        "entity": entity,
        "run_name": name,
        "run_id": id,
        "run_notes": notes,
        "run_group": group,
        "run_job_type": job_type,
        "run_tags": tuple(tags) if tags is not None else None,
        "root_dir": os.fspath(dir) if dir is not None else None,
        "mode": mode,
        "reinit": reinit,
        "resume": resume,
        "save_code": save_code,
        "anonymous": anonymous,
        "force": force,
    }
    s = s.merged({k: v for k, v in explicit.items() if v is not None})
    mode_value = normalize_mode(s.mode or "online")
    reinit_value = _normalize_reinit(s.reinit)
    resume_value = _normalize_resume(s.resume)
    if s.run_id is not None:
        validate_id(s.run_id)
    if s.project is not None:
        validate_name("project", s.project)
    if s.entity is not None:
        validate_name("entity", s.entity)
    cfg = dict(_as_mapping(config))
    if config_include_keys and config_exclude_keys:
        raise UsageError("Pass config_include_keys or config_exclude_keys, not both.")
    if config_include_keys:
        cfg = {k: v for k, v in cfg.items() if k in set(config_include_keys)}
    if config_exclude_keys:
        cfg = {k: v for k, v in cfg.items() if k not in set(config_exclude_keys)}
    if sweep is not None:
        from runhive.sdk._sweep_run import merge_params

        cfg = merge_params(cfg, sweep.params)
    if magic and "magic" not in _warned_flags:
        _warned_flags.add("magic")
        logger.warning("init(magic=...) is accepted and has no effect (W&B's automatic instrumentation).")
    if sync_tensorboard or tensorboard or getattr(s, "sync_tensorboard", None):
        from runhive.integration import _tensorboard

        if not _tensorboard.is_patched():  # W&B: patch() again is an error, init() again is not
            _tensorboard.patch(save=True)
    if monitor_gym:
        from runhive.integration import _gym

        _gym.monitor()
    if isinstance(reinit_value, bool):
        logger.warning(
            "Using a boolean value for 'reinit' is deprecated. Use 'return_previous' or 'finish_previous' instead."
        )

    effective = _effective_reinit(reinit_value)
    if s.run_id is not None and effective == "create_new":
        for active in _globals.active_runs():
            if active.id == s.run_id:
                raise UsageError(
                    f"run ID {s.run_id} is in use: finish that run first, or pass another id= to runhive.init()."
                )
    previous = _globals.most_recent_active()
    if previous is not None and effective != "create_new":
        if resume_value == "must" and effective == "return_previous":
            raise UsageError(
                "Cannot resume a run while another run is active. You must either finish it using run.finish(), "
                "or use reinit='create_new' when calling runhive.init()."
            )
        if effective == "return_previous":
            logger.info(
                "runhive.init() called while a run is active and reinit is set to %r, so returning the previous run.",
                effective if reinit_value == "default" else reinit_value,
            )
            return cast("Run", previous)
        logger.info(
            "Finishing previous runs because reinit is set to %r.",
            effective if reinit_value == "default" else reinit_value,
        )
        for run in reversed(_globals.active_runs()):
            run.finish()

    if mode_value == "disabled":
        from ._disabled import DisabledRun

        drun = DisabledRun(project=s.project or "Uncategorized", name=s.run_name, config=cfg, run_id=s.run_id)
        if effective != "create_new":
            _globals.bind(drun)  # type: ignore[arg-type]
        return drun  # type: ignore[return-value]

    if mode_value == "offline" and resume_value:
        # As W&B: an offline run never reads the store, so there is nothing to resume from.
        from runhive.protocol.ids import generate_id

        s.run_id = s.run_id or generate_id()
        logger.warning(
            "`resume` will be ignored since runhive syncing is set to `offline`. Starting a new run with run id %s.",
            s.run_id,
        )
        resume_value = ""
    return _start_run(s, mode_value, resume_value, cfg, effective, allow_val_change, sweep)


def _sweep_context() -> Any:
    if not (os.environ.get("RUNHIVE_SWEEP_ID") or os.environ.get("WANDB_SWEEP_ID")):
        return None  # the usual case: no import on init()'s path
    from runhive.sdk._sweep_run import current

    return current()


def _start_run(
    s: Settings,
    mode: str,
    resume: str,
    cfg: dict[str, Any],
    reinit: str,
    allow_val_change: bool | None,
    sweep: Any = None,
) -> Run:
    from runhive.protocol import messages as pb
    from runhive.transport._sender import WriterHandle, _encode_json, get_sender

    from ._config import _clean_key, _clean_value

    root = s.resolved_root_dir.expanduser().resolve()
    if not root.exists():
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"dir={str(root)!r} does not exist and cannot be created: {exc}") from None
    if not os.access(root, os.W_OK):
        raise UsageError(f"dir={str(root)!r} is not writable; pass dir= a directory you can write to.")
    if resume == "auto":
        # With an explicit id, "auto" (resume=True) resumes that run if it exists, as W&B's "allow" does.
        if s.run_id is None:
            resume_id = _read_resume_file(root)
            if resume_id:
                s.run_id = resume_id
        resume = "allow"
    clean_cfg = {_clean_key(k): _clean_value(v) for k, v in cfg.items()}
    # A team server (Settings.base_url / RUNHIVE_BASE_URL / `runhive login`): the daemon uploads the run there and
    # checks, before answering InitRun, that this key may write to the project. No key: fail here, at once.
    server = None
    if mode == "online":
        from ._credentials import LoginMissing, server_for

        force = s.extra.get("force")
        try:
            server = server_for(s.base_url, s.api_key, s.extra.get("anonymous"), force)
        except LoginMissing as exc:
            if force is not False:
                raise UsageError(str(exc)) from None  # the public error type, not the private subclass
            # W&B's init(force=False): without a login the script goes on, offline; `runhive sync` sends it later.
            logger.warning(
                "%s; this run is kept offline (`runhive sync` sends it once you are logged in).", exc
            )
            mode = "offline"
    if server is not None and s.base_url != server[0]:
        s = s.merged(
            {"base_url": server[0]}
        )  # run.settings.base_url names the server it logs to, as W&B's does
    host = socket.gethostname()
    info = pb.RunInfo(
        id=s.run_id or "",
        entity=s.entity or ("" if server else default_entity()),  # with a server: the key's user (daemon)
        project=s.project or "Uncategorized",
        name=s.run_name or "",
        notes=s.run_notes or "",
        tags=list(s.run_tags or ()),
        group=s.run_group or "",
        job_type=s.run_job_type or "",
        start_time=time.time(),
        pid=os.getpid(),
        host=host,
        metadata_json=json.dumps(_metadata(s.program)).encode(),
        mode=mode,
        sweep_id=sweep.sweep_id if sweep is not None else "",
    )
    writer = f"{host}-{os.getpid()}-{os.urandom(4).hex()}"
    # init_timeout bounds init()'s whole wait for the daemon: starting one (a new sender) and InitRun.
    init_timeout = s.resolved_init_timeout
    deadline = time.monotonic() + init_timeout
    bounded = (
        {"service_wait": min(s.resolved_service_wait, init_timeout)} if s.init_timeout is not None else None
    )
    sender = get_sender(s.merged(bounded) if bounded else s)
    req = pb.InitRunRequest(
        info=info,
        root_dir=str(root),
        resume=resume,
        writer=writer,
        config_json=_encode_json(clean_cfg),
        server_url=server[0] if server else "",
        api_key=server[1] if server else "",
        settings_json=_daemon_settings(s),
    )
    try:
        reply = sender.call(
            lambda c: c.stub.InitRun(
                _with_session(req, c.session), timeout=max(0.001, deadline - time.monotonic())
            )
        )
    except RpcError as exc:
        if exc.code() == StatusCode.DEADLINE_EXCEEDED:
            raise CommError(
                f"Run initialization has timed out after {init_timeout:g} sec. Please try increasing the timeout "
                "with the `init_timeout` setting: `runhive.init(settings=runhive.Settings(init_timeout=120))`."
            ) from None
        if exc.code() in (
            StatusCode.INVALID_ARGUMENT,
            StatusCode.ALREADY_EXISTS,
            StatusCode.NOT_FOUND,
            StatusCode.FAILED_PRECONDITION,
            StatusCode.RESOURCE_EXHAUSTED,  # the run directory cannot be written (disk full): names dir=
        ):
            raise UsageError(exc.details()) from None
        if exc.code() in (StatusCode.UNAUTHENTICATED, StatusCode.PERMISSION_DENIED):
            raise CommError(exc.details()) from None  # the team server's refusal, in its own words
        raise CommError(f"runhive-service refused init: {exc.code().name}: {exc.details()}") from None
    # Imported only now: while InitRun was in flight, `import runhive`'s background thread went on loading these.
    from . import _exit_hooks
    from ._run import Run

    req.info.CopyFrom(reply.info)
    handle = WriterHandle(
        run_id=f"{reply.info.entity}/{reply.info.project}/{reply.info.id}",
        writer=writer,
        init_request=req,
        acked=int(reply.last_seq),
    )
    sender.register(handle)
    restored_cfg = json.loads(reply.config_json) if reply.config_json else clean_cfg
    restored_summary = json.loads(reply.summary_json) if reply.summary_json else {}
    run = Run(
        resume_file=_resume_file(root),
        sender=sender,
        handle=handle,
        info=reply.info,
        settings=s,
        starting_step=int(reply.starting_step),
        config=restored_cfg,
        summary=restored_summary,
        resumed=bool(reply.resumed),
    )
    if allow_val_change:
        object.__setattr__(run.config, "_allow_val_change_default", True)
    if sweep is not None:
        for k in sweep.params:  # owned by the sweep: later changes are ignored with W&B's warning
            run.config._locked[k] = "sweep"
    _write_resume_file(root, run.id)
    from . import _console

    # W&B's console setting: stdout/stderr also go to the run's files/output.log until finish().
    run._console = _console.start(run.dir, s.console, s.extra.get("x_label"))
    from ._environment import capture_in_background

    run._env_thread = capture_in_background(
        run,
        save_code=bool(s.save_code) and not s.disable_code,
        disable_git=bool(s.disable_git),
        code_dir=os.path.abspath(s.code_dir) if s.code_dir else None,
        program=s.program,
    )
    _globals.add_active(run)
    if reinit != "create_new":
        _globals.bind(run)
    _exit_hooks.install()
    return run


def _daemon_settings(s: Settings) -> bytes:
    """The settings the daemon honours for this writer (its system-metrics sampler), as InitRun carries them."""
    out: dict[str, Any] = {}
    if s.x_stats_sampling_interval is not None:
        out["x_stats_sampling_interval"] = s.x_stats_sampling_interval
    if s.x_disable_stats is not None:
        out["x_disable_stats"] = s.x_disable_stats
    return json.dumps(out).encode() if out else b""


def _with_session(req: Any, session: str) -> Any:
    req.session = session
    return req


def _metadata(program: str | None = None) -> dict[str, Any]:
    return {
        "program": program or (sys.argv[0] if sys.argv else ""),
        "args": sys.argv[1:],
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "host": socket.gethostname(),
        "cwd": os.getcwd(),
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _resume_file(root: Any) -> Any:
    return root / "runhive" / "runhive-resume.json"


def _read_resume_file(root: Any) -> str | None:
    try:
        data = json.loads(_resume_file(root).read_text())
        rid = data.get("run_id")
        return rid if isinstance(rid, str) and rid else None
    except (OSError, ValueError, AttributeError):
        return None  # a missing or corrupt resume file is ignored, as in W&B


def _write_resume_file(root: Any, run_id: str) -> None:
    try:
        path = _resume_file(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"run_id": run_id}))
    except OSError:
        pass
