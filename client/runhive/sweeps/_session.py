"""An agent's conversation with the sweep's controller (in the node's daemon, or on the team server when one is
configured: `_sweep.rpc` picks), and W&B's failure limits; shared by the function agent (`_agent`) and the CLI
agent (`_agent_cli`)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runhive.errors import UsageError
from runhive.sdk._settings import Settings
from runhive.sdk._sweep_run import param_path, write_params
from runhive.sdk._termlog import LazyLogger

from ._sweep import rpc

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

        from runhive.protocol import messages as pb

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
        """The controller's next `run` (or `resume`) command, or None when the agent must leave (the sweep is over, or
        `leaving()` says so). While the sweep is paused it waits a heartbeat at a time and asks again."""
        waiting = False
        while not leaving():
            commands = self.call([], want_run=True)
            if any(c.type == "exit" for c in commands):
                return None
            job = next((c for c in commands if c.type in ("run", "resume")), None)
            if job is not None:
                return job
            if not waiting:
                logger.info("Sweep Agent: Waiting for job.")
                waiting = True
            time.sleep(heartbeat)  # the sweep is paused: ask again at the agents' cadence
        return None

    def run_env(self, run_id: str, params_file: Path, resume: bool = False) -> dict[str, str]:
        """The environment a run of this sweep starts with: W&B's names, and runhive's (which win in init()).
        A `resume` job (a preempted run handed out again) continues the stored run under its id."""
        env: dict[str, str] = {}
        for prefix in ("WANDB_", "RUNHIVE_"):
            if resume:
                env[prefix + "RESUME"] = "allow"
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
