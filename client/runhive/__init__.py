"""runhive: an experiment tracker that speaks the W&B Python API. `import runhive as wandb`.

Importing this package is cheap: the transport, protobuf and the read API load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import CommError, ConfigError, Error, UsageError
from .sdk import Settings, _globals, setup, teardown
from .sdk.data_types import Histogram

if TYPE_CHECKING:
    from . import plot
    from .apis.public import Api
    from .sdk import Run
    from .sdk.artifacts import Artifact
    from .sdk.data_types import Audio, Html, Image, Molecule, Object3D, Plotly, Table, Video, box3d

__all__ = [
    "Api",
    "Artifact",
    "Audio",
    "CommError",
    "ConfigError",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "Molecule",
    "Object3D",
    "Plotly",
    "Run",
    "Settings",
    "Table",
    "UsageError",
    "Video",
    "__version__",
    "agent",
    "alert",
    "box3d",
    "config",
    "controller",
    "define_metric",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "plot",
    "restore",
    "run",
    "save",
    "setup",
    "summary",
    "sweep",
    "teardown",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]

# Bound to the global run by init(); pre-init stubs until then.
run: Run | None = None
log: Any
config: Any
summary: Any
save: Any
define_metric: Any
globals().update(_globals.stubs())


def _preload() -> None:
    # init() needs the transport, protobuf's C module and the client (~12 ms of imports). Loading them on a
    # background thread while the script goes on with its own imports keeps both `import runhive` and `init()` fast.
    import os
    import sys
    import threading

    if os.environ.get("RUNHIVE_PRELOAD", "1") in ("0", "false"):
        return
    if "runhive_service" in sys.modules:  # the daemon, importing our shared modules: it never calls init()
        return

    from ._loading import lock

    def work() -> None:
        with lock:  # a fork() meanwhile waits: a child must not inherit a half-done import
            try:
                import getpass  # noqa: F401
                import importlib

                # In this order: init() needs _init first, and the Run class only once its InitRun has gone out.
                for name in ("sdk._init", "sdk._run", "sdk._exit_hooks", "sdk._environment"):
                    importlib.import_module(f"{__name__}.{name}")
            except Exception:  # init() will raise the real error where the caller sees it
                pass

    threading.Thread(target=work, name="runhive-preload", daemon=True).start()


_preload()


def init(*args: Any, **kwargs: Any) -> Run:
    """Start a run; see `runhive.sdk._init.init` for the arguments (those of `wandb.init`)."""
    from runhive.sdk._init import init as _init

    return _init(*args, **kwargs)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the global run, if any."""
    current = globals().get("run")
    if current is not None:
        current.finish(exit_code=exit_code, quiet=quiet)


def login(
    key: str | None = None,
    relogin: bool | None = None,
    host: str | None = None,
    force: bool | None = None,
    timeout: int | None = None,
    verify: bool = False,
    referrer: str | None = None,
    prompt: bool = False,
    anonymous: Any = None,
) -> bool:
    """W&B's `wandb.login`: store a team server's `host` and `key` (the `runhive login` credentials file, 0600).
    Without a server (`host`, `RUNHIVE_BASE_URL` or one stored) runs are local: says so, stores nothing and
    returns True, so W&B scripts that call `login(key=...)` run unchanged. `verify=True` asks the server who the
    key belongs to first (W&B verifies by default; runhive makes no network call unless asked). `force`,
    `referrer` and `anonymous` are accepted and ignored."""
    from runhive.cli._login import login as _login
    from runhive.sdk._termlog import logger

    _, lines = _login(
        key=key,
        host=host,
        relogin=bool(relogin),
        check=verify,
        prompt=prompt,
        timeout=float(timeout) if timeout else 10.0,
    )
    for line in lines:
        logger().info("%s", line)
    return True


def sweep(sweep: Any, entity: str | None = None, project: str | None = None, prior_runs: Any = None) -> str:
    """Create a sweep and return its id (W&B's `wandb.sweep`); see `runhive.sweeps._sweep.sweep`."""
    from runhive.sweeps._sweep import sweep as _sweep

    return _sweep(sweep, entity=entity, project=project, prior_runs=prior_runs)


def controller(sweep_id_or_config: Any = None, entity: str | None = None, project: str | None = None) -> Any:
    """W&B's local-controller API (`wandb.controller`); see `runhive.sweeps._controller`."""
    from runhive.sweeps._controller import controller as _controller

    return _controller(sweep_id_or_config, entity=entity, project=project)


def agent(
    sweep_id: str,
    function: Any = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
    forward_signals: bool = False,
    term_timeout: float | None = None,
) -> None:
    """Run a sweep's jobs (W&B's `wandb.agent`); see `runhive.sweeps._agent.agent`."""
    from runhive.sweeps._agent import agent as _agent

    _agent(sweep_id, function, entity, project, count, forward_signals, term_timeout)


def log_artifact(
    artifact_or_path: Any, name: str | None = None, type: str | None = None, aliases: Any = None
) -> Any:
    """Log an artifact to the global run (W&B's `wandb.log_artifact`)."""
    current = globals().get("run")
    if current is None:
        raise Error("You must call runhive.init() before runhive.log_artifact()")
    return current.log_artifact(artifact_or_path, name=name, type=type, aliases=aliases)


def use_artifact(
    artifact_or_name: Any, type: str | None = None, aliases: Any = None, use_as: str | None = None
) -> Any:
    """Use an artifact version as an input of the global run (W&B's `wandb.use_artifact`); see
    `Run.use_artifact`."""
    current = globals().get("run")
    if current is None:
        raise Error("You must call runhive.init() before runhive.use_artifact()")
    return current.use_artifact(artifact_or_name, type=type, aliases=aliases, use_as=use_as)


def log_model(path: Any, name: str | None = None, aliases: Any = None) -> None:
    """Log a file or directory as a `model` artifact of the global run (W&B's `wandb.log_model`); see
    `Run.log_model`."""
    _current("log_model").log_model(path, name=name, aliases=aliases)


def use_model(name: str) -> Any:
    """Use and download a model artifact in the global run (W&B's `wandb.use_model`); see `Run.use_model`."""
    return _current("use_model").use_model(name)


def link_model(path: Any, registered_model_name: str, name: str | None = None, aliases: Any = None) -> Any:
    """Log a model artifact and link it to a registered model, in the global run (W&B's `wandb.link_model`);
    see `Run.link_model`."""
    return _current("link_model").link_model(path, registered_model_name, name=name, aliases=aliases)


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> Any:
    """W&B's `wandb.restore`: a file a run saved, copied to `root` (the active run's files directory, else the
    current directory) and returned open for reading; None when the run has no such file."""
    from .apis.public._restore import restore as _restore

    return _restore(name, run_path=run_path, replace=replace, root=root)


def _current(what: str) -> Any:
    current = globals().get("run")
    if current is None:
        raise Error(f"You must call runhive.init() before runhive.{what}()")
    return current


def watch(
    models: Any = None,
    criterion: Any = None,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> Any:
    """W&B's `wandb.watch`: gradient and/or parameter histograms of torch modules in the global run; see
    `Run.watch`."""
    current = _current("watch")
    if not hasattr(current, "watch"):  # mode="disabled"
        return []
    return current.watch(models, criterion, log=log, log_freq=log_freq, idx=idx, log_graph=log_graph)


def unwatch(models: Any = None) -> None:
    """Remove the hooks `watch()` put on `models` (all of them without an argument)."""
    current = _current("unwatch")
    if hasattr(current, "unwatch"):
        current.unwatch(models)


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """W&B's `wandb.alert`: see `Run.alert` (printed, and kept in the run's summary). Without a run, printed."""
    current = globals().get("run")
    if current is not None and hasattr(current, "alert"):
        current.alert(title, text, level=level, wait_duration=wait_duration)
        return
    from runhive.sdk._termlog import logger

    logger().warning("alert: %s: %s", title, text)


def mark_preempting() -> None:
    """W&B's `wandb.mark_preempting`: see `Run.mark_preempting`."""
    current = _current("mark_preempting")
    if hasattr(current, "mark_preempting"):
        current.mark_preempting()


def _attach(attach_id: str | None = None, run_id: str | None = None, *, run: Any = None) -> Any:
    """W&B's `wandb._attach`: in another process, write to the run whose `_attach_id` (or id) is given, as one more
    writer of the same run (Lightning's ddp_spawn hands its spawned rank the run this way)."""
    if run is not None:
        return run
    from .sdk._run import Run

    return Run._attach(attach_id, run_id)


# Loaded on first use, so `import runhive` stays light.
_LAZY = {
    "Api": ".apis.public",
    "Run": ".sdk",
    "Image": ".sdk.data_types",
    "Video": ".sdk.data_types",
    "Table": ".sdk.data_types",
    "Audio": ".sdk.data_types",
    "Html": ".sdk.data_types",
    "Plotly": ".sdk.data_types",
    "Object3D": ".sdk.data_types",
    "Molecule": ".sdk.data_types",
    "box3d": ".sdk.data_types",
    "Artifact": ".sdk.artifacts",
    # W&B's module-level names outside its __all__
    "AlertLevel": ".sdk._run_extras",
    "require": ".sdk._run_extras",
    "termlog": ".sdk._run_extras",
    "termwarn": ".sdk._run_extras",
    "termerror": ".sdk._run_extras",
}
_SUBMODULES = {"plot", "tensorboard"}  # `runhive.plot.line(...)` without importing runhive.plot first


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'runhive' has no attribute {name!r}")
