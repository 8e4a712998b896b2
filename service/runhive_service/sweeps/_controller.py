"""The sweep controller: the daemon owns the store, so it runs every sweep's controller, and agents in any process
on the node ask it for work.

An agent registers, then calls again whenever it is idle (`want_run`) and every few seconds while its run goes on.
Each reply carries its commands, W&B's vocabulary: `run` (a new run id and its parameters), `stop` (hyperband
says so, or the sweep was cancelled) and `exit`. Every decision is taken under one lock, so two agents asking
at once never receive the same parameters (W&B's #597).

The controller ends a sweep (state FINISHED) when the grid is exhausted, `run_cap` runs were handed out, or a run
reached `metric.target`; `runhive sweep --stop/--cancel/--pause/--resume` move it between states. The search and
stopping rules themselves are `_sweeps`' pure functions.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from runhive.protocol.ids import generate_id
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.errors import ServiceError
from runhive_service.streams import process_alive

from ._store import ASSIGNED, NEVER_STARTED, PRIOR, SweepRow, SweepStore
from .rules import (
    SweepConfigError,
    SweepRun,
    check_client_bounds,
    metric_value,
    next_run,
    stop_runs,
    validate,
)

PENDING, RUNNING, PAUSED, FINISHED, CANCELED = "PENDING", "RUNNING", "PAUSED", "FINISHED", "CANCELED"
STOPPED = "stopped"  # a handed-out run the controller told to stop
AGENT_LOST_AFTER = 300.0  # seconds without a call: the agent is gone (as W&B's heartbeat timeout)
STOP_EVAL_EVERY = 1.0  # seconds between two hyperband evaluations of one sweep


def _error(code: str, message: str) -> Exception:
    return ServiceError(code, message)


@dataclass
class _Agent:
    id: str
    sweep_pk: int
    host: str
    pid: int
    last_seen: float = field(default_factory=time.monotonic)
    running: set[str] = field(default_factory=set)


class SweepController:
    def __init__(self, store: SweepStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._agents: dict[str, _Agent] = {}
        self._rng = random.Random()
        self._stop_cache: dict[int, tuple[float, list[str]]] = {}

    def close(self) -> None:
        self.store.close()

    # Creating ---------------------------------------------------------------------------------------
    def create(self, req: pb.CreateSweepRequest) -> pb.CreateSweepResponse:
        try:
            config = json.loads(req.config_json or b"null")
        except ValueError:
            config = None
        if not isinstance(config, dict):
            raise _error("INVALID_ARGUMENT", "Sweep config must be parsable as a JSON object.")
        if not req.entity or not req.project:
            raise _error("INVALID_ARGUMENT", "CreateSweep needs an entity and a project")
        try:
            check_client_bounds(config)
            violations = validate(config)
        except ValueError as exc:
            raise _error("INVALID_ARGUMENT", str(exc)) from None
        name = config.get("name") if isinstance(config.get("name"), str) else ""
        with self._lock:
            row = self.store.create(generate_id(), req.entity, req.project, name or "", config)
            prior = self.store.project_run_ids(req.entity, req.project, list(dict.fromkeys(req.prior_runs)))
            for run_id in prior:
                self.store.hand_out(row.pk, run_id, "", {}, PRIOR)
        missing = sorted(set(req.prior_runs) - set(prior))
        if missing:
            violations.append(f"prior runs not found in {req.entity}/{req.project}: {', '.join(missing)}")
        return pb.CreateSweepResponse(
            id=row.id, entity=row.entity, project=row.project, violations=violations
        )

    def _resolve(self, path: str) -> SweepRow:
        parts = path.split("/")
        if not path or len(parts) > 3 or not all(parts):
            raise _error(
                "INVALID_ARGUMENT",
                f"Expected sweep_id in form of sweep, project/sweep, or entity/project/sweep; got {path!r}",
            )
        sweep_id = parts[-1]
        project = parts[-2] if len(parts) >= 2 else ""
        entity = parts[0] if len(parts) == 3 else ""
        rows = self.store.find(sweep_id, entity, project)
        if not rows:
            raise _error(
                "NOT_FOUND",
                f"Sweep {path!r} was not found in the store: create it with runhive.sweep() or `runhive sweep "
                "CONFIG.yaml` first (on this node, with the same RUNHIVE_DATA_DIR).",
            )
        if len(rows) > 1:
            where = ", ".join(f"{r.entity}/{r.project}/{r.id}" for r in rows)
            raise _error(
                "INVALID_ARGUMENT", f"Sweep id {path!r} is ambiguous ({where}): pass entity/project/id."
            )
        return rows[0]

    # Control ----------------------------------------------------------------------------------------
    def control(self, req: pb.SweepControlRequest) -> pb.SweepControlResponse:
        with self._lock:
            sw = self._resolve(req.sweep)
            action = req.action
            if action == "pause":
                if sw.state not in (RUNNING, PAUSED):
                    raise _error("FAILED_PRECONDITION", f"Cannot pause {sw.state.lower()} sweep.")
                self._set_state(sw, PAUSED)
            elif action in ("stop", "cancel"):
                if sw.state not in (RUNNING, PAUSED, PENDING):
                    raise _error("FAILED_PRECONDITION", f"Sweep already {sw.state.lower()}.")
                self._set_state(sw, FINISHED if action == "stop" else CANCELED)
            elif action == "resume":
                self._set_state(sw, RUNNING)
            elif action != "get":
                raise _error(
                    "INVALID_ARGUMENT",
                    f"unknown sweep action {action!r}: use pause, resume, stop, cancel or get",
                )
            return pb.SweepControlResponse(
                sweep_id=sw.id, entity=sw.entity, project=sw.project, state=sw.state
            )

    def _set_state(self, sw: SweepRow, state: str) -> None:
        if sw.state != state:
            self.store.set_state(sw.pk, state)
            sw.state = state

    # Agents -----------------------------------------------------------------------------------------
    def agent(self, req: pb.SweepAgentRequest) -> pb.SweepAgentResponse:
        with self._lock:
            sw = self._resolve(req.sweep)
            self._reap_agents(sw)
            agent = self._agents.get(req.agent_id) if req.agent_id else None
            if agent is None:  # a new agent, or one that outlived a daemon restart: (re-)register it
                agent = _Agent(req.agent_id or generate_id(), sw.pk, req.host, int(req.pid))
                self._agents[agent.id] = agent
            agent.last_seen = time.monotonic()
            agent.running = set(req.running)
            for run_id, code in zip(req.ended, req.ended_codes, strict=False):
                self._ended(sw, run_id, int(code))
            commands = self._commands(sw, agent, req)
            if req.done:
                self._agents.pop(agent.id, None)
                self._release(sw, agent)
            return pb.SweepAgentResponse(
                agent_id=agent.id,
                sweep_id=sw.id,
                entity=sw.entity,
                project=sw.project,
                state=sw.state,
                config_json=json.dumps(sw.config).encode(),
                commands=commands,
            )

    def _commands(self, sw: SweepRow, agent: _Agent, req: pb.SweepAgentRequest) -> list[pb.SweepCommand]:
        if sw.state == CANCELED:
            return [pb.SweepCommand(type="stop", run_id=r) for r in sorted(agent.running)] + [
                pb.SweepCommand(type="exit")
            ]
        out: list[pb.SweepCommand] = []
        if agent.running and sw.config.get("early_terminate"):
            for run_id in self._stops(sw):
                if run_id in agent.running:
                    self.store.mark(sw.pk, run_id, STOPPED, None)
                    out.append(pb.SweepCommand(type="stop", run_id=run_id))
        if req.want_run and not req.done:
            cmd = self._next(sw, agent)
            if cmd is not None:
                out.append(cmd)
        return out

    def _next(self, sw: SweepRow, agent: _Agent) -> pb.SweepCommand | None:
        if sw.state in (FINISHED, CANCELED):
            return pb.SweepCommand(type="exit")
        if sw.state == PAUSED:
            return None
        runs, handed = self._runs(sw)
        cfg = sw.config
        cap = cfg.get("run_cap")
        if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 and handed >= cap:
            self._set_state(sw, FINISHED)
            return pb.SweepCommand(type="exit")
        if self._target_reached(cfg, runs):
            self._set_state(sw, FINISHED)
            return pb.SweepCommand(type="exit")
        try:
            params = next_run(cfg, runs, rng=self._rng)
        except SweepConfigError as exc:
            raise _error("FAILED_PRECONDITION", f"sweep {sw.id} cannot schedule a run: {exc}") from None
        except Exception as exc:  # a config stored with violations that the search cannot use
            raise _error(
                "FAILED_PRECONDITION",
                f"sweep {sw.id} cannot schedule a run from its config ({type(exc).__name__}: {exc}); fix the "
                "violations printed when it was created and create it again",
            ) from None
        if params is None:  # the grid is exhausted
            self._set_state(sw, FINISHED)
            return pb.SweepCommand(type="exit")
        run_id = generate_id()
        self.store.hand_out(sw.pk, run_id, agent.id, params)
        self._set_state(sw, RUNNING)
        return pb.SweepCommand(type="run", run_id=run_id, args_json=json.dumps(params).encode())

    @staticmethod
    def _target_reached(cfg: dict[str, Any], runs: list[SweepRun]) -> bool:
        metric = cfg.get("metric")
        if not isinstance(metric, dict):
            return False
        target = metric.get("target")
        if not isinstance(target, (int, float)) or isinstance(target, bool):
            return False
        maximize = metric.get("goal") == "maximize"
        for run in runs:
            try:
                value = metric_value(cfg, run)
            except Exception:  # a metric section the algorithms cannot read: no target to reach
                return False
            if value is not None and (value >= target if maximize else value <= target):
                return True
        return False

    def _stops(self, sw: SweepRow) -> list[str]:
        now = time.monotonic()
        cached = self._stop_cache.get(sw.pk)
        if cached is not None and now - cached[0] < STOP_EVAL_EVERY:
            return cached[1]
        runs, _ = self._runs(sw)
        try:
            names = stop_runs(sw.config, runs)
        except Exception:  # a malformed early_terminate: runs are never stopped, the search goes on
            names = []
        self._stop_cache[sw.pk] = (now, names)
        return names

    def _runs(self, sw: SweepRow) -> tuple[list[SweepRun], int]:
        """The sweep's runs as the search sees them, and how many runs the controller handed out."""
        handed = self.store.handed_out(sw.pk)
        stored = self.store.stored_runs(sw, [h.run_id for h in handed])
        metric = sw.config.get("metric")
        key = metric.get("name") if isinstance(metric, dict) and isinstance(metric.get("name"), str) else None
        names = list((sw.config.get("parameters") or {}).keys())
        runs: list[SweepRun] = []
        for h in handed:
            s = stored.get(h.run_id)
            if s is None:
                if h.state == PRIOR:
                    continue
                runs.append(SweepRun(h.run_id, "failed" if h.state == NEVER_STARTED else "pending", h.params))
                continue
            params = (
                h.params if h.state != PRIOR else {k: {"value": s.config[k]} for k in names if k in s.config}
            )
            history = [{key: v} for v in self.store.metric_values(s.pk, key)] if key else []
            state = s.state
            stopped = h.state == STOPPED
            if stopped and state != "running":
                state = "finished"  # stopped by hyperband: its metric is real, not a failure to impute
            summary = {k: v for k, v in s.summary.items() if not (isinstance(v, float) and math.isnan(v))}
            runs.append(SweepRun(h.run_id, state, params, summary, history, stopped=stopped))
        return runs, sum(1 for h in handed if h.state != PRIOR)

    def _ended(self, sw: SweepRow, run_id: str, code: int) -> None:
        """An agent's run ended; one that never reached init() is marked so, instead of staying 'running'."""
        if not self.store.stored_runs(sw, [run_id]):
            for h in self.store.handed_out(sw.pk):
                if h.run_id == run_id and h.state == ASSIGNED:
                    self.store.mark(sw.pk, run_id, NEVER_STARTED, code)

    def _release(self, sw: SweepRow, agent: _Agent) -> None:
        handed = [h for h in self.store.handed_out(sw.pk) if h.agent == agent.id and h.state == ASSIGNED]
        if not handed:
            return
        stored = self.store.stored_runs(sw, [h.run_id for h in handed])
        for h in handed:
            if h.run_id not in stored and h.run_id not in agent.running:
                self.store.mark(sw.pk, h.run_id, NEVER_STARTED, None)

    def _reap_agents(self, sw: SweepRow) -> None:
        now = time.monotonic()
        for agent in list(self._agents.values()):
            if agent.sweep_pk != sw.pk:
                continue
            if now - agent.last_seen > AGENT_LOST_AFTER or (
                agent.pid > 0 and not process_alive(agent.pid, 0.0)
            ):
                del self._agents[agent.id]
                agent.running = set()
                self._release(sw, agent)
