"""The sweep controller: the owner of the store runs every sweep's controller, and agents ask it for work. The
daemon runs it over the node's store (`_store.SweepStore`); the team server over its database
(`runhive_service.server._sweeps_store`), so agents on any node share one sweep. Which store, and how a decision
is kept from racing another, is the backend's (`_backend.SweepBackend`); what is decided is this module's.

An agent registers, then calls again whenever it is idle (`want_run`) and every few seconds while its run goes on.
Each reply carries its commands, W&B's vocabulary: `run` (a new run id and its parameters), `resume` (a run
stored as preempted, `run.mark_preempting()` then a non-zero exit or a death: the same id and parameters, before
any new run, while the sweep runs; W&B needs `wandb sweep --resume` for that), `stop` (hyperband says so, or the
sweep was cancelled) and `exit`. Every decision is taken inside one backend transaction (the
daemon's lock; on the server the sweep's row locked in the database), so two agents asking at once never receive
the same parameters (W&B's #597).

The controller ends a sweep (state FINISHED) when the grid is exhausted, `run_cap` runs were handed out, or a run
reached `metric.target`; `runhive sweep --stop/--cancel/--pause/--resume` move it between states. The search and
stopping rules themselves are `rules`' pure functions. An agent that stops calling for `agent_timeout` seconds
(W&B's heartbeat timeout, 300 s; `RUNHIVE_SWEEP_AGENT_TIMEOUT`) is gone: its leases end.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from typing import Any

from runhive.protocol.ids import generate_id
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.errors import ServiceError
from runhive_service.streams import PREEMPTED, process_alive

from ._backend import (
    ASSIGNED,
    LOST,
    NEVER_STARTED,
    PRIOR,
    QUEUED,
    STOPPED,
    AgentRow,
    HandedOut,
    StoredRun,
    SweepBackend,
    SweepRow,
    SweepTx,
)
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
AGENT_LOST_AFTER = 300.0  # seconds without a call: the agent is gone (as W&B's heartbeat timeout)
AGENT_TIMEOUT_ENV = "RUNHIVE_SWEEP_AGENT_TIMEOUT"
STOP_EVAL_EVERY = 1.0  # seconds between two hyperband evaluations of one sweep
_ENDED = frozenset({"finished", "failed", "killed"})  # a lost agent's run in these states keeps its place


def _error(code: str, message: str) -> Exception:
    return ServiceError(code, message)


def agent_timeout() -> float:
    """`RUNHIVE_SWEEP_AGENT_TIMEOUT` (seconds, > 0), else W&B's 300 s."""
    raw = os.environ.get(AGENT_TIMEOUT_ENV, "")
    if not raw:
        return AGENT_LOST_AFTER
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{AGENT_TIMEOUT_ENV}={raw!r} is not a positive number of seconds; unset it for 300")
    return value


class SweepController:
    def __init__(self, store: SweepBackend, agent_lost_after: float | None = None) -> None:
        self.store = store
        self.agent_lost_after = agent_lost_after if agent_lost_after is not None else agent_timeout()
        self._rng = random.Random()
        # A cache, not state: another process deciding for the same sweep evaluates on its own.
        self._stop_cache: dict[tuple[int, str], tuple[float, list[str]]] = {}

    def close(self) -> None:
        self.store.close()

    # Creating ---------------------------------------------------------------------------------------
    def create(self, req: pb.CreateSweepRequest, caller: Any = None) -> pb.CreateSweepResponse:
        try:
            config = json.loads(req.config_json or b"null")
        except ValueError:
            config = None
        if not isinstance(config, dict):
            raise _error("INVALID_ARGUMENT", "Sweep config must be parsable as a JSON object.")
        try:
            check_client_bounds(config)
            violations = validate(config)
        except ValueError as exc:
            raise _error("INVALID_ARGUMENT", str(exc)) from None
        entity, project = self.store.owner(req.entity, req.project, caller)
        if not entity or not project:
            raise _error("INVALID_ARGUMENT", "CreateSweep needs an entity and a project")
        name = config.get("name") if isinstance(config.get("name"), str) else ""
        with self.store.transaction(caller) as tx:
            row = tx.create(generate_id(), entity, project, name or "", config)
            prior = tx.project_run_ids(entity, project, list(dict.fromkeys(req.prior_runs)))
            for run_id in prior:
                tx.hand_out(row, run_id, "", {}, PRIOR)
        missing = sorted(set(req.prior_runs) - set(prior))
        if missing:
            violations.append(f"prior runs not found in {entity}/{project}: {', '.join(missing)}")
        return pb.CreateSweepResponse(
            id=row.id, entity=row.entity, project=row.project, violations=violations
        )

    def _resolve(self, tx: SweepTx, path: str, action: str) -> SweepRow:
        parts = path.split("/")
        if not path or len(parts) > 3 or not all(parts):
            raise _error(
                "INVALID_ARGUMENT",
                f"Expected sweep_id in form of sweep, project/sweep, or entity/project/sweep; got {path!r}",
            )
        sweep_id = parts[-1]
        project = parts[-2] if len(parts) >= 2 else ""
        entity = parts[0] if len(parts) == 3 else ""
        rows = tx.find(sweep_id, entity, project)
        if not rows:
            raise _error(
                "NOT_FOUND", f"Sweep {path!r} was not found in the store: {self.store.not_found_hint}."
            )
        if len(rows) > 1:
            where = ", ".join(f"{r.entity}/{r.project}/{r.id}" for r in rows)
            raise _error(
                "INVALID_ARGUMENT", f"Sweep id {path!r} is ambiguous ({where}): pass entity/project/id."
            )
        return tx.lock(rows[0], action)

    # Control ----------------------------------------------------------------------------------------
    def control(self, req: pb.SweepControlRequest, caller: Any = None) -> pb.SweepControlResponse:
        action = req.action
        with self.store.transaction(caller) as tx:
            sw = self._resolve(tx, req.sweep, "read" if action == "get" else "write")
            if action == "pause":
                if sw.state not in (RUNNING, PAUSED):
                    raise _error("FAILED_PRECONDITION", f"Cannot pause {sw.state.lower()} sweep.")
                self._set_state(tx, sw, PAUSED)
            elif action in ("stop", "cancel"):
                if sw.state not in (RUNNING, PAUSED, PENDING):
                    raise _error("FAILED_PRECONDITION", f"Sweep already {sw.state.lower()}.")
                self._set_state(tx, sw, FINISHED if action == "stop" else CANCELED)
            elif action == "resume":
                self._set_state(tx, sw, RUNNING)
            elif action != "get":
                raise _error(
                    "INVALID_ARGUMENT",
                    f"unknown sweep action {action!r}: use pause, resume, stop, cancel or get",
                )
            return pb.SweepControlResponse(
                sweep_id=sw.id, entity=sw.entity, project=sw.project, state=sw.state
            )

    @staticmethod
    def _set_state(tx: SweepTx, sw: SweepRow, state: str) -> None:
        if sw.state != state:
            tx.set_state(sw, state)
            sw.state = state

    # Agents -----------------------------------------------------------------------------------------
    def agent(self, req: pb.SweepAgentRequest, caller: Any = None) -> pb.SweepAgentResponse:
        with self.store.transaction(caller) as tx:
            sw = self._resolve(tx, req.sweep, "write")
            known = {a.id: a for a in self._reap_agents(tx, sw)}
            agent = known.get(req.agent_id) if req.agent_id else None
            if agent is None:  # a new agent, or one that outlived a daemon restart: (re-)register it
                agent = AgentRow(req.agent_id or generate_id(), req.host, int(req.pid), time.time())
            agent.last_seen = time.time()
            agent.running = list(req.running)
            if req.done:
                tx.drop_agent(sw, agent.id)
            else:
                tx.save_agent(sw, agent, self.agent_lost_after)
                known[agent.id] = agent
            if self.store.requeue_lost:
                self._requeue_orphans(tx, sw, set(known))
            for run_id, code in zip(req.ended, req.ended_codes, strict=False):
                self._ended(tx, sw, run_id, int(code))
            commands = self._commands(tx, sw, agent, req, known)
            if req.done:
                self._release(tx, sw, agent, leaving=True)
            return pb.SweepAgentResponse(
                agent_id=agent.id,
                sweep_id=sw.id,
                entity=sw.entity,
                project=sw.project,
                state=sw.state,
                config_json=json.dumps(sw.config).encode(),
                commands=commands,
            )

    def _commands(
        self,
        tx: SweepTx,
        sw: SweepRow,
        agent: AgentRow,
        req: pb.SweepAgentRequest,
        live: dict[str, AgentRow],
    ) -> list[pb.SweepCommand]:
        if sw.state == CANCELED:
            return [pb.SweepCommand(type="stop", run_id=r) for r in sorted(agent.running)] + [
                pb.SweepCommand(type="exit")
            ]
        out: list[pb.SweepCommand] = []
        if agent.running and sw.config.get("early_terminate"):
            for run_id in self._stops(tx, sw):
                if run_id in agent.running:
                    tx.mark(sw, run_id, STOPPED, None)
                    out.append(pb.SweepCommand(type="stop", run_id=run_id))
        if req.want_run and not req.done:
            cmd = self._next(tx, sw, agent, live)
            if cmd is not None:
                out.append(cmd)
        return out

    def _next(
        self, tx: SweepTx, sw: SweepRow, agent: AgentRow, live: dict[str, AgentRow]
    ) -> pb.SweepCommand | None:
        if sw.state in (FINISHED, CANCELED):
            return pb.SweepCommand(type="exit")
        if sw.state == PAUSED:
            return None
        handed = tx.handed_out(sw)
        preempted = self._preempted(tx, sw, handed, live)
        if preempted is not None:  # W&B's requeue: the same run, resumed where it stopped, before any new one
            tx.mark(sw, preempted.run_id, ASSIGNED, None, agent=agent.id)
            # Held by this agent from now on, not only once its next call says the run is going: until the
            # resumed process reaches init() the run is still stored as preempted.
            agent.running = [*agent.running, preempted.run_id]
            tx.save_agent(sw, agent, self.agent_lost_after)
            return pb.SweepCommand(
                type="resume", run_id=preempted.run_id, args_json=json.dumps(preempted.params).encode()
            )
        queued = next((h for h in handed if h.state == QUEUED), None)
        if queued is not None:  # a lost run's parameters come first: its place in the search is taken
            tx.mark(sw, queued.run_id, ASSIGNED, None, agent=agent.id)
            self._set_state(tx, sw, RUNNING)
            return pb.SweepCommand(
                type="run", run_id=queued.run_id, args_json=json.dumps(queued.params).encode()
            )
        runs, count = self._runs(tx, sw, handed)
        cfg = sw.config
        cap = cfg.get("run_cap")
        if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 and count >= cap:
            if self._settling(tx, sw, handed, live):
                return None
            self._set_state(tx, sw, FINISHED)
            return pb.SweepCommand(type="exit")
        if self._target_reached(cfg, runs):
            self._set_state(tx, sw, FINISHED)
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
            if self._settling(tx, sw, handed, live):
                return None
            self._set_state(tx, sw, FINISHED)
            return pb.SweepCommand(type="exit")
        run_id = generate_id()
        tx.hand_out(sw, run_id, agent.id, params)
        self._set_state(tx, sw, RUNNING)
        return pb.SweepCommand(type="run", run_id=run_id, args_json=json.dumps(params).encode())

    @staticmethod
    def _preempted(
        tx: SweepTx, sw: SweepRow, handed: list[HandedOut], live: dict[str, AgentRow]
    ) -> HandedOut | None:
        """The first run stored as preempted that no live agent holds (its process ended, or its agent is gone)."""
        free = [
            h
            for h in handed
            if h.state == ASSIGNED and not (h.agent in live and h.run_id in live[h.agent].running)
        ]
        if not free:
            return None
        stored = tx.stored_runs(sw, [h.run_id for h in free])
        return next(
            (h for h in free if (r := stored.get(h.run_id)) is not None and r.state == PREEMPTED), None
        )

    @staticmethod
    def _settling(tx: SweepTx, sw: SweepRow, handed: list[HandedOut], live: dict[str, AgentRow]) -> bool:
        """Whether a run whose process a live agent saw end is still stored as running: the store has not heard
        how it ended (a killed process is noticed by the daemon's watcher a moment later). If it turns out
        preempted it is resumed, so the sweep may not end yet: the agent waits a heartbeat and asks again."""
        ended = [
            h.run_id
            for h in handed
            if h.state == ASSIGNED and h.agent in live and h.run_id not in live[h.agent].running
        ]
        stored = tx.stored_runs(sw, ended) if ended else {}
        return any(r.state == "running" for r in stored.values())

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

    def _stops(self, tx: SweepTx, sw: SweepRow) -> list[str]:
        now = time.monotonic()
        key = (sw.pk, sw.id)
        cached = self._stop_cache.get(key)
        if cached is not None and now - cached[0] < STOP_EVAL_EVERY:
            return cached[1]
        runs, _ = self._runs(tx, sw, tx.handed_out(sw))
        try:
            names = stop_runs(sw.config, runs)
        except Exception:  # a malformed early_terminate: runs are never stopped, the search goes on
            names = []
        self._stop_cache[key] = (now, names)
        return names

    def _runs(self, tx: SweepTx, sw: SweepRow, handed: list[HandedOut]) -> tuple[list[SweepRun], int]:
        """The sweep's runs as the search sees them, and how many runs the controller handed out (a lost run's
        parameters count once, in the run they were queued again as)."""
        handed = [h for h in handed if h.state != LOST]
        stored = tx.stored_runs(sw, [h.run_id for h in handed if h.state != QUEUED])
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
            history = [{key: v} for v in tx.metric_values(sw, s, key)] if key else []
            state = s.state
            stopped = h.state == STOPPED
            if stopped and state != "running":
                state = "finished"  # stopped by hyperband: its metric is real, not a failure to impute
            summary = {k: v for k, v in s.summary.items() if not (isinstance(v, float) and math.isnan(v))}
            runs.append(SweepRun(h.run_id, state, params, summary, history, stopped=stopped))
        return runs, sum(1 for h in handed if h.state != PRIOR)

    def _ended(self, tx: SweepTx, sw: SweepRow, run_id: str, code: int) -> None:
        """An agent's run ended; one that never reached init() is marked so, instead of staying 'running'."""
        if not tx.stored_runs(sw, [run_id]):
            for h in tx.handed_out(sw):
                if h.run_id == run_id and h.state == ASSIGNED:
                    tx.mark(sw, run_id, NEVER_STARTED, code)

    def _release(self, tx: SweepTx, sw: SweepRow, agent: AgentRow, leaving: bool = False) -> None:
        """The agent is gone: its runs that never started are marked so. When it left by itself (`leaving`), its
        other runs' leases end too: they are not lost runs to hand out again."""
        handed = [h for h in tx.handed_out(sw) if h.agent == agent.id and h.state == ASSIGNED]
        if not handed:
            return
        stored = tx.stored_runs(sw, [h.run_id for h in handed])
        for h in handed:
            if h.run_id not in stored and h.run_id not in agent.running:
                tx.mark(sw, h.run_id, NEVER_STARTED, None)
            elif leaving and self.store.requeue_lost:
                tx.mark(sw, h.run_id, ASSIGNED, None, agent="")

    def _reap_agents(self, tx: SweepTx, sw: SweepRow) -> list[AgentRow]:
        """The sweep's live agents; the others are dropped and their runs released."""
        now = time.time()
        live: list[AgentRow] = []
        for agent in tx.agents(sw):
            gone = now - agent.last_seen > self.agent_lost_after or (
                self.store.local_pids and agent.pid > 0 and not process_alive(agent.pid, 0.0)
            )
            if not gone:
                live.append(agent)
                continue
            tx.drop_agent(sw, agent.id)
            agent.running = []
            if not self.store.requeue_lost:
                self._release(tx, sw, agent)
        return live

    def _requeue_orphans(self, tx: SweepTx, sw: SweepRow, live: set[str]) -> None:
        """Runs whose agent is gone (its lease ended) and that did not live on: never started, crashed, or silent
        for as long as an agent may be: their parameters are queued for the next idle agent, under a new run id
        (the old run stays in the sweep, as W&B keeps a crashed run). A run that finished, failed or was killed
        keeps its place (W&B does not retry those either); one that still reports in is left to finish."""
        if sw.state == CANCELED:
            return
        now = time.time()
        orphans = [h for h in tx.handed_out(sw) if h.state == ASSIGNED and h.agent and h.agent not in live]
        if not orphans:
            return
        stored = tx.stored_runs(sw, [h.run_id for h in orphans])
        for h in orphans:
            s = stored.get(h.run_id)
            if s is not None and not self._lost(s, now):
                continue
            tx.mark(sw, h.run_id, LOST, None)
            tx.hand_out(sw, generate_id(), "", h.params, QUEUED)

    def _lost(self, run: StoredRun, now: float) -> bool:
        if run.state in _ENDED or run.state == PREEMPTED:  # a preempted run is resumed, under its own id
            return False
        if run.state == "crashed":
            return True
        return run.seen_at is not None and now - run.seen_at > self.agent_lost_after
