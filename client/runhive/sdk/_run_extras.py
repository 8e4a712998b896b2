"""What W&B's `Run` has beyond logging, that integrations and training scripts call: `watch`/`unwatch` (torch
gradient and parameter histograms), `alert` with `AlertLevel`, `log_code`, `mark_preempting`, the dashboard
addresses (`url`, `project_url`, `sweep_url`), `_label` (W&B's telemetry label, a no-op here) and re-attaching a
run from another process (`_attach_id`, `runhive._attach`: Lightning's ddp_spawn). Also the module-level
`require()` and `termlog`/`termwarn`/`termerror`.

`RunExtras` is a mixin of `runhive.sdk._run.Run`; it reads only the run's `_info`, `settings`, `summary` and
`log`, and keeps its own state in attributes it creates on first use.
"""

from __future__ import annotations

import datetime
import enum
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from runhive.errors import UsageError

from ._termlog import LazyLogger

logger = LazyLogger(configure=True)


class AlertLevel(str, enum.Enum):
    """W&B's `wandb.AlertLevel` (`wandb.sdk.wandb_alerts.AlertLevel`)."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


ALERTS_KEY = "_alerts"  # summary key that keeps a run's alerts (title, text, level, wait_duration, time)
MAX_ALERTS = 100


# Terminal ------------------------------------------------------------------------------------------------------
_printed: set[str] = set()


def _term(level: int, string: str, repeat: bool) -> None:
    if not repeat:
        if string in _printed:
            return
        if len(_printed) < 1000:  # as W&B: remembers up to 1000 lines
            _printed.add(string)
    logger.log(level, "%s", string)


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """W&B's `wandb.termlog`: one informational line on stderr (`runhive: ...`); `repeat=False` prints a line
    already printed only once. Hidden by `quiet`/`silent`, as runhive's own lines."""
    _term(20, str(string), repeat)


def termwarn(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """W&B's `wandb.termwarn`: a warning line on stderr."""
    _term(30, str(string), repeat)


def termerror(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """W&B's `wandb.termerror`: an error line on stderr."""
    _term(40, str(string), repeat)


# require --------------------------------------------------------------------------------------------------------
_NO_OPS = ("service", "core", "require")


def require(
    requirement: str | Iterable[str] | None = None, experiment: str | Iterable[str] | None = None
) -> None:
    """W&B's `wandb.require`: the features W&B still knows ("service", "core": its defaults now) are accepted;
    an unknown one raises `UsageError`, as W&B raises its `UnsupportedError`."""
    features = requirement or experiment
    if not features:
        return
    unknown = ""
    for item in (features,) if isinstance(features, str) else tuple(features):
        feature = str(item).split("@", 2)[0].split(":", 2)[0]
        if feature not in _NO_OPS:
            unknown = f"require() unsupported requirement: {feature}"
            termwarn(unknown)
    if unknown:
        raise UsageError(unknown)


# The run's extras ---------------------------------------------------------------------------------------------
def _dashboard(settings: Any) -> str | None:
    """The dashboard's address: where the user told runhive `runhive ui` serves it (W&B's `app_url_override`
    setting, or RUNHIVE_UI_URL / WANDB_APP_URL), else the team server the runs go to (`base_url`: `runhive server`
    serves the dashboard at its root)."""
    base = (
        getattr(settings, "app_url_override", None)
        or os.environ.get("RUNHIVE_UI_URL")
        or os.environ.get("WANDB_APP_URL")
        or getattr(settings, "base_url", None)
    )
    return str(base).rstrip("/") if base else None


def _enc(part: str) -> str:
    return quote(part, safe="")


PREEMPTING_WAIT = 10.0  # seconds mark_preempting() waits for the daemon to hold the mark


class RunExtras:
    """Mixin of `Run` (see the module's docstring)."""

    _info: Any
    settings: Any
    summary: Any
    _send_update: Callable[[list[str]], None]  # Run's: an edit of the run's identity, to the daemon

    # Addresses ------------------------------------------------------------------------------------------------
    @property
    def url(self) -> str | None:
        """The run's page on the dashboard (`runhive ui`), when its address is known (see `_dashboard`); None
        otherwise, and for offline runs."""
        base = self._base_url()
        info = self._info
        return f"{base}/#/r/{_enc(info.entity)}/{_enc(info.project)}/{_enc(info.id)}" if base else None

    @property
    def project_url(self) -> str | None:
        base = self._base_url()
        return f"{base}/#/p/{_enc(self._info.project)}" if base else None

    @property
    def sweep_url(self) -> str | None:
        base = self._base_url()
        info = self._info
        if not base or not info.sweep_id:
            return None
        return f"{base}/#/s/{_enc(info.entity)}/{_enc(info.project)}/{_enc(info.sweep_id)}"

    def _base_url(self) -> str | None:
        if self._info.mode == "offline":
            return None
        return _dashboard(self.settings)

    def get_url(self) -> str | None:
        return self.url

    def get_project_url(self) -> str | None:
        return self.project_url

    def get_sweep_url(self) -> str | None:
        return self.sweep_url

    # Telemetry label (W&B's integrations tag their runs; runhive sends no telemetry) ---------------------------
    def _label(
        self, code: str | None = None, repo: str | None = None, code_version: str | None = None, **kwargs: Any
    ) -> None:
        return None

    # Another process on the same run -------------------------------------------------------------------------
    @property
    def _attach_id(self) -> str:
        """What `runhive._attach()` takes in another process to write to this same run (W&B's `_attach_id`):
        the run's path, entity/project/id. Handing it out makes the run shared (see `_share`)."""
        self._share()
        return self._path()

    def _path(self) -> str:
        info = self._info
        return f"{info.entity}/{info.project}/{info.id}"

    def _share(self) -> None:
        """Several processes may now write this run, each with its own step counter: before a `log()` without
        `step=`, this process catches up with the steps the others logged (the daemon's next step, asked at most
        once a second), so rows logged here after a ddp_spawn child's come after them, as with W&B's one
        counter in its service."""
        if "log" in self.__dict__:
            return
        self.__dict__["log"] = self._log_shared
        from . import _globals

        if getattr(sys.modules.get("runhive"), "run", None) is self:
            _globals.bind(self)  # type: ignore[arg-type]  # runhive.log: the shared log from now on

    def _log_shared(self, data: Any, step: int | None = None, commit: bool | None = None) -> None:
        me: Any = self
        if step is None and not me._pending and not me._finished:
            now = time.monotonic()
            if now >= self.__dict__.get("_next_catch_up", 0.0):
                self.__dict__["_next_catch_up"] = now + 1.0
                self._catch_up()
        type(self).log(me, data, step=step, commit=commit)  # type: ignore[attr-defined]

    def _catch_up(self) -> None:
        me: Any = self
        from runhive.protocol import messages as pb

        req = pb.InitRunRequest()
        req.CopyFrom(me._handle.init_request)
        req.resume = "attach"  # this writer again: the daemon answers with the run's next step

        def call(c: Any) -> Any:
            req.session = c.session
            return c.stub.InitRun(req, timeout=10)

        try:
            reply = me._sender.call(call)
        except Exception as exc:  # the daemon unreachable: go on with this process's own count
            logger.debug("could not read run %s's next step: %s", self._info.id, exc)
            return
        if int(reply.starting_step) > me._step:
            me._step = int(reply.starting_step)

    @classmethod
    def _attach(cls, attach_id: str | None = None, run_id: str | None = None) -> Any:
        """A new writer on a run another process opened (W&B's `wandb._attach`): the daemon hands back the run's
        identity and next step, and this process's records go to the same run. Lightning's ddp_spawn pickles the
        logger with the run's `_attach_id` and calls this in the spawned rank. The attached run becomes this
        process's global run; its `finish()` (at exit at the latest) closes this writer only: the run ends once
        every writer has."""
        from runhive.protocol import messages as pb
        from runhive.protocol.ids import validate_id
        from runhive.transport._sender import WriterHandle, get_sender

        from . import _exit_hooks, _globals
        from ._settings import default_entity
        from ._setup import base_settings

        target = attach_id or run_id
        if not target:
            raise UsageError("runhive._attach() needs attach_id= (a run's `_attach_id`) or run_id=.")
        s = base_settings()
        parts = str(target).split("/")
        if len(parts) == 3:
            entity, project, rid = parts
        elif len(parts) == 1:
            entity, project, rid = s.entity or default_entity(), s.project or "Uncategorized", parts[0]
        else:
            raise UsageError(f"runhive._attach(): {target!r} is neither a run id nor entity/project/id.")
        validate_id(rid)
        for active in _globals.active_runs():
            if (
                active.id == rid
                and isinstance(active, RunExtras)
                and active._path() == f"{entity}/{project}/{rid}"
            ):
                return active
        import socket

        host = socket.gethostname()
        writer = f"{host}-{os.getpid()}-{os.urandom(4).hex()}"
        req = pb.InitRunRequest(
            info=pb.RunInfo(id=rid, entity=entity, project=project, pid=os.getpid(), host=host),
            resume="attach",
            writer=writer,
        )
        sender = get_sender(s)

        def call(c: Any) -> Any:
            req.session = c.session
            return c.stub.InitRun(req, timeout=s.resolved_init_timeout)

        from runhive.transport._wire import RpcError

        try:
            reply = sender.call(call)
        except RpcError as exc:
            raise UsageError(f"runhive._attach({target!r}): {exc.details()}") from None
        req.info.CopyFrom(reply.info)
        handle = WriterHandle(
            run_id=f"{reply.info.entity}/{reply.info.project}/{reply.info.id}",
            writer=writer,
            init_request=req,
            acked=int(reply.last_seq),
        )
        sender.register(handle)
        run: Any = cls(  # type: ignore[call-arg]
            sender=sender,
            handle=handle,
            info=reply.info,
            settings=s,
            starting_step=int(reply.starting_step),
            resumed=True,
        )
        run._share()
        _globals.add_active(run)
        _globals.bind(run)
        _exit_hooks.install()
        return run

    # Artifacts as inputs ------------------------------------------------------------------------------------
    def use_artifact(
        self,
        artifact_or_name: Any,
        type: str | None = None,
        aliases: Any = None,
        use_as: str | None = None,
    ) -> Any:
        """W&B's `run.use_artifact`: an artifact version (`"name:alias"`, `"name:vN"`,
        `"entity/project/name:alias"` or an `Artifact`) as an input of this run, recorded with the run (see
        `runhive.sdk.artifacts._use`); returns the stored version (`download()` copies its files)."""
        from runhive.sdk.artifacts._use import use_artifact

        return use_artifact(self, artifact_or_name, type=type, aliases=aliases, use_as=use_as)

    # Models and links (`runhive.sdk.artifacts._models`) -------------------------------------------------------
    def log_model(self, path: Any, name: str | None = None, aliases: Any = None) -> None:
        """W&B's `run.log_model`: the file or directory at `path` as a `model` artifact (default name
        `run-<id>-<basename>`). Returns None, as W&B."""
        from runhive.sdk.artifacts._models import log_model

        log_model(self, path, name=name, aliases=aliases)

    def use_model(self, name: str) -> str:
        """W&B's `run.use_model`: use the model artifact `name` (`name:alias`, `name:vN`) and download it; returns
        the path of its one file, or of the directory holding its files."""
        from runhive.sdk.artifacts._models import use_model

        return use_model(self, name)

    def link_model(
        self, path: Any, registered_model_name: str, name: str | None = None, aliases: Any = None
    ) -> Any:
        """W&B's `run.link_model`: log `path` as a model artifact version and link it to the registered model
        `<entity>/model-registry/<registered_model_name>`; returns the linked version."""
        from runhive.sdk.artifacts._models import link_model

        return link_model(self, path, registered_model_name, name=name, aliases=aliases)

    def link_artifact(self, artifact: Any, target_path: str, aliases: Any = None) -> Any:
        """W&B's `run.link_artifact`: link `artifact` (logged first when a draft) into the collection
        `target_path` (`[entity/]project/name`, or `wandb-registry-<registry>/<name>`); returns the linked
        version."""
        from runhive.sdk.artifacts._models import link_artifact

        return link_artifact(self, artifact, target_path, aliases)

    # Watching torch models ------------------------------------------------------------------------------------
    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> Any:
        """W&B's `run.watch`: histograms of the gradients (`log="gradients"`), the parameters (`"parameters"`) or
        both (`"all"`) of torch modules, every `log_freq` backward/forward passes, merged into the run's next row
        under `gradients/<name>` and `parameters/<name>`. `log_graph=True`: the module tree as summary `graph_<i>`."""
        if "torch" not in sys.modules:
            try:
                import torch  # noqa: F401
            except ImportError:
                raise UsageError("run.watch() only works with pytorch, couldn't import torch.") from None
        from runhive.integration._torch import Watcher

        watcher = self.__dict__.get("_watcher")
        if watcher is None:
            watcher = self.__dict__["_watcher"] = Watcher(self._log_uncommitted)
        return watcher.watch(models, criterion, log=log, log_freq=log_freq, idx=idx, log_graph=log_graph)

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks `watch()` put on `models` (all of them without an argument)."""
        watcher = self.__dict__.get("_watcher")
        if watcher is not None:
            watcher.unwatch(models, warn=termwarn)
        elif models:
            termwarn(f"{models} model has not been watched")

    def _log_uncommitted(self, row: dict[str, Any]) -> None:
        me: Any = self
        if not me._finished:
            me.log(row, commit=False)

    # Alerts ---------------------------------------------------------------------------------------------------
    def alert(
        self,
        title: str,
        text: str,
        level: str | AlertLevel | None = None,
        wait_duration: int | float | datetime.timedelta | None = None,
    ) -> None:
        """W&B's `run.alert`: printed on the terminal and kept in the run's summary under `_alerts` (runhive sends
        nothing off the machine, so there is no e-mail or Slack message; `wait_duration` is stored)."""
        level = level or AlertLevel.INFO
        level_str = level.value if isinstance(level, AlertLevel) else level
        if level_str not in {lv.value for lv in AlertLevel}:
            raise ValueError("level must be one of 'INFO', 'WARN', or 'ERROR'")
        wait = wait_duration or datetime.timedelta(minutes=1)
        if isinstance(wait, (int, float)):
            wait = datetime.timedelta(seconds=wait)
        elif not callable(getattr(wait, "total_seconds", None)):
            raise TypeError("wait_duration must be an int, float, or datetime.timedelta")
        entry = {
            "title": str(title),
            "text": str(text),
            "level": level_str,
            "wait_duration": int(wait.total_seconds() * 1000),
            "time": time.time(),
        }
        logger.log(
            {"INFO": 20, "WARN": 30, "ERROR": 40}[level_str], "alert (%s): %s: %s", level_str, title, text
        )
        me: Any = self
        if me._finished:
            return
        alerts = list(self.summary.get(ALERTS_KEY) or [])[-(MAX_ALERTS - 1) :]
        alerts.append(entry)
        self.summary[ALERTS_KEY] = alerts

    # Code and preemption --------------------------------------------------------------------------------------
    def log_code(
        self,
        root: str | None = ".",
        name: str | None = None,
        include_fn: Callable[..., bool] | None = None,
        exclude_fn: Callable[..., bool] | None = None,
    ) -> None:
        """W&B's `run.log_code`: copy the code under `root` (the *.py files, or what `include_fn(path, root)`
        selects) into the run's `files/code/`, keeping relative paths. W&B logs them as a `code` artifact; runhive
        keeps them with the run's files (`name` is accepted). Returns None."""
        import shutil

        base = os.path.abspath(root if root is not None else ".")
        dest_root = os.path.join(self._info.run_dir, "files", "code")
        copied = 0
        for dirpath, dirnames, filenames in os.walk(base):
            # Not walked: hidden directories (.git, .venv), run directories (runhive's, W&B's), caches.
            dirnames[:] = [
                d for d in dirnames if not d.startswith(".") and d not in ("runhive", "wandb", "__pycache__")
            ]
            for fname in filenames:
                path = os.path.join(dirpath, fname)
                if not _selected(path, base, include_fn, exclude_fn):
                    continue
                dest = os.path.join(dest_root, os.path.relpath(path, base))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                try:
                    shutil.copy2(path, dest)
                except OSError as exc:
                    logger.warning("log_code: cannot copy %s: %s", path, exc)
                    continue
                copied += 1
        if not copied:
            logger.warning("log_code: no files found in %s to save", base)
        return None

    def mark_preempting(self) -> None:
        """W&B's `run.mark_preempting`: the run is about to be preempted. If it then exits non-zero or dies, it
        is stored as "preempted" (not failed or crashed), and a sweep hands it to an agent again to resume."""
        self.__dict__["_preempting"] = True
        self._send_update(["preempting"])
        # Durable before it returns (what was logged before it too): a preempted process is killed soon after.
        sender, handle = getattr(self, "_sender", None), getattr(self, "_handle", None)
        if sender is not None and handle is not None:
            getattr(self, "_flush_pending", lambda: None)()
            sender.wait_acked(handle, getattr(self, "_last_seq", 0), PREEMPTING_WAIT)
        logger.info("run %s marked as preempting", self._info.id)


def _selected(
    path: str, root: str, include_fn: Callable[..., bool] | None, exclude_fn: Callable[..., bool] | None
) -> bool:
    def call(fn: Callable[..., bool]) -> bool:
        try:
            return bool(fn(path, root))
        except TypeError:
            return bool(fn(path))  # W&B accepts one-argument functions too

    if exclude_fn is not None and call(exclude_fn):
        return False
    if include_fn is not None:
        return call(include_fn)
    return path.endswith(".py")
