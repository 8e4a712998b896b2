"""`runhive.agent()`: take runs from a sweep's controller (in the node's daemon) and run them.

With `function=` (W&B's Python agent) each run is a call of the function, with no arguments, in a thread of this
process, one at a time; the function reads its parameters from `runhive.config` after `runhive.init()`. Without
it, the CLI agent's logic runs the sweep's `program` in child processes (`_agent_cli`).
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._errors import UsageError
from ._settings import Settings
from ._setup import base_settings
from ._sweep import param_path, rpc, write_params
from ._termlog import LazyLogger

logger = LazyLogger(configure=True)

FLAPPING_RUNS, FLAPPING_WINDOW = 3, 60.0


def sweep_path(sweep_id: str, entity: str | None = None, project: str | None = None) -> str:
    if not isinstance(sweep_id, str):
        raise UsageError(f"sweep_id must be a string, got {type(sweep_id).__name__} {sweep_id!r}.")
    parts = sweep_id.split("/")
    if not sweep_id or len(parts) > 3 or not all(parts):
        raise UsageError(
            f"Expected sweep_id in form of sweep, project/sweep, or entity/project/sweep; got {sweep_id!r}."
        )
    if len(parts) == 1 and project:
        parts = [project, *parts]
    if len(parts) == 2 and entity:
        parts = [entity, *parts]
    return "/".join(parts)


class AgentSession:
    """One agent's conversation with the controller: registration, then a call per heartbeat."""

    def __init__(self, settings: Settings, path: str) -> None:
        self.settings = settings
        self.path = path
        self.agent_id = ""
        self.sweep_id = self.entity = self.project = ""
        self.config: dict[str, Any] = {}
        self.state = ""
        self._ended: list[tuple[str, int]] = []

    def ended(self, run_id: str, exit_code: int) -> None:
        self._ended.append((run_id, exit_code))

    def call(self, running: list[str], want_run: bool = False, done: bool = False) -> list[Any]:
        import json

        from . import _pb as pb

        ended, self._ended = self._ended, []
        req = pb.SweepAgentRequest(
            sweep=self.path,
            agent_id=self.agent_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            running=running,
            ended=[r for r, _ in ended],
            ended_codes=[c for _, c in ended],
            want_run=want_run,
            done=done,
        )

        def send(stub: Any, session: str) -> Any:
            req.session = session
            return stub.SweepAgent(req, timeout=60)

        try:
            reply = rpc(self.settings, send)
        except BaseException:
            self._ended = ended + self._ended  # told again on the next call
            raise
        self.agent_id, self.sweep_id = reply.agent_id, reply.sweep_id
        self.entity, self.project, self.state = reply.entity, reply.project, reply.state
        self.config = json.loads(reply.config_json or b"{}")
        return list(reply.commands)

    def next_job(self, heartbeat: float, leaving: Callable[[], bool] = lambda: False) -> Any:
        """The controller's next `run` command, or None when the agent must leave (the sweep is over, or
        `leaving()` says so). While the sweep is paused it waits a heartbeat at a time and asks again."""
        waiting = False
        while not leaving():
            commands = self.call([], want_run=True)
            if any(c.type == "exit" for c in commands):
                return None
            job = next((c for c in commands if c.type == "run"), None)
            if job is not None:
                return job
            if not waiting:
                logger.info("Sweep Agent: Waiting for job.")
                waiting = True
            time.sleep(heartbeat)  # the sweep is paused: ask again at the agents' cadence
        return None

    def run_env(self, run_id: str, params_file: Path) -> dict[str, str]:
        """The environment a run of this sweep starts with: W&B's names, and runhive's (which win in init())."""
        env: dict[str, str] = {}
        for prefix in ("WANDB_", "RUNHIVE_"):
            env[prefix + "SWEEP_ID"] = self.sweep_id
            env[prefix + "RUN_ID"] = run_id
            env[prefix + "SWEEP_PARAM_PATH"] = str(params_file)
            env[prefix + "PROJECT"] = self.project
            env[prefix + "ENTITY"] = self.entity
        return env

    def params_file(self, run_id: str, params: dict[str, Any]) -> Path:
        path = param_path(self.settings.resolved_root_dir.resolve(), self.sweep_id, run_id)
        write_params(path, params)
        return path


class _StopRun(BaseException):
    """Raised in a run's thread when the controller stops it (hyperband) or the sweep is cancelled."""


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _raise_in(thread: threading.Thread) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_StopRun))


def agent(
    sweep_id: str,
    function: Callable[[], Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
    forward_signals: bool = False,
    term_timeout: float | None = None,
) -> None:
    """Run sweep jobs (W&B's `wandb.agent`) until the sweep ends or `count` jobs were taken."""
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise UsageError(f"count must be a positive integer or None, got {count!r}.")
    if function is not None and not callable(function):
        raise UsageError(f"function must be callable, got {type(function).__name__}.")
    settings = base_settings()
    session = AgentSession(settings, sweep_path(sweep_id, entity, project))
    if function is None:
        from ._agent_cli import run_cli_agent

        run_cli_agent(session, count=count, forward_signals=forward_signals, term_timeout=term_timeout)
        return
    _FunctionAgent(session, function, count).run()


class _FunctionAgent:
    def __init__(self, session: AgentSession, function: Callable[[], Any], count: int | None) -> None:
        self.session = session
        self.function = function
        self.count = count
        self.heartbeat = session.settings.resolved_agent_heartbeat
        self.started = time.monotonic()
        self.failures: list[float] = []
        self.jobs = 0

    def run(self) -> None:
        s = self.session
        try:
            s.call([])
            logger.info(
                "Starting sweep agent: agent %s, sweep %s/%s/%s", s.agent_id, s.entity, s.project, s.sweep_id
            )
            while self.count is None or self.jobs < self.count:
                job = s.next_job(self.heartbeat)
                if job is None:
                    break
                self.jobs += 1
                if not self._run_job(job) or self._give_up():
                    break
        except KeyboardInterrupt:
            logger.info("Ctrl + C detected. Stopping sweep.")
        finally:
            try:
                s.call([], done=True)
            except Exception:  # leaving: the controller reaps agents that stop calling
                pass

    def _run_job(self, job: Any) -> bool:
        """Run one job; False when the agent must stop (the sweep was cancelled or it was interrupted)."""
        import json

        from . import _globals

        s = self.session
        run_id = job.run_id
        params = json.loads(job.args_json or b"{}")
        env = s.run_env(run_id, s.params_file(run_id, params))
        error: list[BaseException] = []

        def target() -> None:
            try:
                self.function()
            except BaseException as exc:
                error.append(exc)

        keep_going = True
        with _environ(env):
            for active in list(_globals.active_runs()):  # W&B tears down before each run
                active.finish()
            thread = threading.Thread(target=target, name=f"runhive-sweep-{run_id}", daemon=True)
            thread.start()
            try:
                stopping = False
                while True:
                    thread.join(self.heartbeat)
                    if not thread.is_alive():
                        break
                    for c in s.call([run_id]):
                        if c.type == "exit":
                            keep_going = False
                        if c.type in ("stop", "exit") and not stopping:
                            stopping = True
                            logger.info("Stopping run %s (the sweep controller asked).", run_id)
                            _raise_in(thread)
            except KeyboardInterrupt:
                logger.info("Ctrl + C detected. Stopping sweep.")
                _raise_in(thread)
                thread.join(30)
                keep_going = False
            exc = error[0] if error else None
            failed = exc is not None and not isinstance(exc, (_StopRun, KeyboardInterrupt))
            code = 1 if failed else 0
            for active in list(_globals.active_runs()):
                active.finish(exit_code=code)
        if failed:
            assert exc is not None
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
            logger.error("Run %s errored: %r", run_id, exc)
            self.failures.append(time.monotonic())
        s.ended(run_id, code)
        return keep_going

    def _give_up(self) -> bool:
        if not self.failures:
            return False
        if flapping(sum(1 for t in self.failures if t - self.started <= FLAPPING_WINDOW)):
            logger.error(
                "Detected %d failed runs in the first %d seconds, killing sweep.",
                FLAPPING_RUNS,
                FLAPPING_WINDOW,
            )
            return True
        limit = max_initial_failures()
        if len(self.failures) >= limit and len(self.failures) == self.jobs:
            logger.error("Detected %d failed runs in a row at start, killing sweep.", limit)
            return True
        return False


def flapping(early_failures: int) -> bool:
    """W&B's flapping rule: FLAPPING_RUNS failures within FLAPPING_WINDOW s of the agent's start (unless
    WANDB_AGENT_DISABLE_FLAPPING=true)."""
    off = os.environ.get("WANDB_AGENT_DISABLE_FLAPPING", "").lower() == "true"
    return not off and early_failures >= FLAPPING_RUNS


def max_initial_failures() -> int:
    try:
        return max(1, int(os.environ.get("WANDB_AGENT_MAX_INITIAL_FAILURES", "5")))
    except ValueError:
        return 5
