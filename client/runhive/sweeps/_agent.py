"""`runhive.agent()`: take runs from a sweep's controller (in the node's daemon, or on the team server) and run them.

With `function=` (W&B's Python agent) each run is a call of the function, with no arguments, in a thread of this
process, one at a time; the function reads its parameters from `runhive.config` after `runhive.init()`. Without
it, the CLI agent's logic runs the sweep's `program` in child processes (`_agent_cli`).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from runhive.errors import UsageError
from runhive.sdk._setup import base_settings
from runhive.sdk._termlog import LazyLogger

from ._session import FLAPPING_RUNS, FLAPPING_WINDOW, AgentSession, flapping, max_initial_failures, sweep_path

logger = LazyLogger(configure=True)


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

        from runhive.sdk import _globals

        s = self.session
        run_id = job.run_id
        params = json.loads(job.args_json or b"{}")
        env = s.run_env(run_id, s.params_file(run_id, params), job.type == "resume")
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
