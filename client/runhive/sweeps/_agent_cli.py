"""The CLI agent (`runhive agent SWEEP_ID`, or `runhive.agent()` without a function): each run is the sweep's
`program` (or `command`) in a child process, one at a time.

Children get their own process group with stdin closed; the controller's `stop` sends SIGTERM, a later one after
30 s SIGKILL. Signals to the agent escalate in W&B's three tiers: wait for the run, then terminate it, then
kill it. Children reach the node's daemon themselves: nothing about the agent's connection is inherited.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from runhive.errors import UsageError
from runhive.sdk._termlog import LazyLogger

from ._session import FLAPPING_WINDOW, AgentSession, flapping, max_initial_failures

logger = LazyLogger(configure=True)

DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]


def _arg_value(v: Any) -> str:
    return str(v)


def expand_command(
    template: list[Any], program: str | None, params: dict[str, Any], json_file: Path | None = None
) -> list[str]:
    """The child's argv from the sweep's `command` (W&B's macros; each macro is a whole element)."""
    values = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in params.items()}
    out: list[str] = []
    for raw in template:
        item = str(raw)
        if item == "${env}":
            if sys.platform != "win32":
                out.append("/usr/bin/env")
        elif item == "${interpreter}":
            out.append(
                sys.executable
            )  # W&B writes `python`; the agent's own interpreter is the one installed
        elif item == "${program}":
            if not program:
                raise UsageError("the sweep's command uses ${program}, but its config has no `program`.")
            out.append(program)
        elif item == "${args}":
            out += [f"--{k}={_arg_value(v)}" for k, v in values.items()]
        elif item == "${args_no_equals}":
            for k, v in values.items():
                out += [f"--{k}", _arg_value(v)]
        elif item == "${args_no_hyphens}":
            out += [f"{k}={_arg_value(v)}" for k, v in values.items()]
        elif item == "${args_no_boolean_flags}":
            for k, v in values.items():
                if v is True:
                    out.append(f"--{k}")
                elif v is not False:
                    out.append(f"--{k}={_arg_value(v)}")
        elif item == "${args_json}":
            out.append(json.dumps(values))
        elif item == "${args_json_file}":
            if json_file is not None:
                json_file.write_text(json.dumps(values))
                out.append(str(json_file))
        elif item == "${args_append_hydra}":
            out += [f"+{k}={_arg_value(v)}" for k, v in values.items()]
        elif item == "${args_override_hydra}":
            out += [f"++{k}={_arg_value(v)}" for k, v in values.items()]
        else:
            out.append(_envvars(item))
    return out


def _envvars(item: str) -> str:
    # ${envvar:NAME} is substituted inside any element; an unset variable is left as NAME, as W&B does.
    while "${envvar:" in item:
        start = item.index("${envvar:")
        end = item.find("}", start)
        if end < 0:
            break
        name = item[start + 9 : end]
        item = item[:start] + os.environ.get(name, name) + item[end + 1 :]
    return item


class _Child:
    def __init__(self, run_id: str, proc: subprocess.Popen[bytes]) -> None:
        self.run_id = run_id
        self.proc = proc
        self.stopped_at: float | None = None

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def run_cli_agent(
    session: AgentSession,
    count: int | None = None,
    forward_signals: bool = False,
    term_timeout: float | None = None,
) -> None:
    _CliAgent(session, count, forward_signals, term_timeout).run()


class _CliAgent:
    def __init__(
        self, session: AgentSession, count: int | None, forward_signals: bool, term_timeout: float | None
    ) -> None:
        self.s = session
        self.count = count
        self.forward = forward_signals
        self.term_timeout = float(term_timeout) if term_timeout is not None else 24 * 3600.0
        self.heartbeat = session.settings.resolved_agent_heartbeat
        self.child: _Child | None = None
        self.jobs = 0
        self.failures = 0
        self.finished = 0
        self.early_failures = 0
        self.started = time.monotonic()
        self.tier = 0  # how many shutdown signals the agent has received
        self.terminate_deadline: float | None = None
        self.exiting = False

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = "ctrl-c" if signum == signal.SIGINT else signal.Signals(signum).name
        self.tier += 1
        if self.forward and self.child is not None:
            self.child.signal(signum)
        if self.tier == 1:
            logger.info("%s received. Waiting for runs to end. Send %s again to terminate them.", name, name)
        elif self.tier == 2:
            logger.info("Terminating and syncing runs. Send shutdown signal again to kill.")
            if self.child is not None:
                self.child.signal(signal.SIGTERM)
                self.terminate_deadline = time.monotonic() + self.term_timeout
        else:
            logger.info("Killing runs and quitting.")
            if self.child is not None:
                self.child.signal(signal.SIGKILL)

    def run(self) -> None:
        s = self.s
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
        previous = {}
        try:
            for sig in handled:
                previous[sig] = signal.signal(sig, self._on_signal)
        except ValueError:  # not the main thread: no signal handling, as W&B
            previous = {}
        try:
            s.call([])
            logger.info(
                "Starting sweep agent: agent %s, sweep %s/%s/%s", s.agent_id, s.entity, s.project, s.sweep_id
            )
            self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            try:
                s.call([], done=True)
            except Exception:  # leaving: the controller reaps agents that stop calling
                pass

    def _loop(self) -> None:
        s = self.s
        while True:
            if self.child is not None:
                self._watch_child()
                continue
            if self.tier or self.exiting or (self.count is not None and self.jobs >= self.count):
                return
            job = s.next_job(self.heartbeat, leaving=lambda: bool(self.tier))
            if job is None:
                return
            self.jobs += 1
            self._start(job)

    def _start(self, job: Any) -> None:
        s = self.s
        params = json.loads(job.args_json or b"{}")
        pfile = s.params_file(job.run_id, params)
        template = s.config.get("command") or DEFAULT_COMMAND
        argv = expand_command(list(template), s.config.get("program"), params, pfile.with_suffix(".json"))
        resume = job.type == "resume"
        env = {**os.environ, **s.run_env(job.run_id, pfile, resume)}
        logger.info("Agent %s Run: %s with config:", "Resuming" if resume else "Starting", job.run_id)
        for k, v in params.items():
            logger.info("\t%s: %s", k, v.get("value") if isinstance(v, dict) else v)
        logger.info("About to run command: %s", " ".join(argv))
        try:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            logger.error("Run %s could not start: %s", job.run_id, exc)
            s.ended(job.run_id, 127)
            self._failed()
            return
        self.child = _Child(job.run_id, proc)

    def _watch_child(self) -> None:
        child = self.child
        assert child is not None
        try:
            code = child.proc.wait(self.heartbeat)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            now = time.monotonic()
            if self.terminate_deadline is not None and now > self.terminate_deadline:
                logger.info(
                    "Child runs took longer than %s seconds to end. Attempting to kill them.",
                    self.term_timeout,
                )
                child.signal(signal.SIGKILL)
                self.terminate_deadline = None
            for c in self.s.call([child.run_id]):
                if c.type == "exit":
                    self.exiting = True
                if c.type in ("stop", "exit") and c.run_id in ("", child.run_id):
                    if child.stopped_at is None:
                        logger.info("Stopping run %s (the sweep controller asked).", child.run_id)
                        child.stopped_at = now
                        child.signal(signal.SIGTERM)
                    elif now - child.stopped_at > _kill_delay():
                        child.signal(signal.SIGKILL)
            return
        self.child = None
        self.s.ended(child.run_id, code)
        if code > 0 and child.stopped_at is None:
            logger.error("Run %s exited with code %d", child.run_id, code)
            self._failed()
        else:
            self.finished += 1

    def _failed(self) -> None:
        self.failures += 1
        if time.monotonic() - self.started <= FLAPPING_WINDOW:
            self.early_failures += 1
        if flapping(self.early_failures):
            logger.error("Detected 3 failed runs in the first 60 seconds, shutting down.")
            self.exiting = True
            return
        limit = max_initial_failures()
        if self.failures >= self.finished and self.failures >= limit:
            logger.error("Detected %d failed runs in a row, shutting down.", limit)
            logger.info("To change this value set WANDB_AGENT_MAX_INITIAL_FAILURES=val")
            self.exiting = True


def _kill_delay() -> float:
    try:
        return float(os.environ.get("WANDB_AGENT_KILL_DELAY", "30"))
    except ValueError:
        return 30.0
