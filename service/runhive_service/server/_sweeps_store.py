"""The sweep controller's backend on the team server (`runhive_service.sweeps.SweepBackend`): sweeps, their
handed-out runs (leases) and their agents in the database, so any number of server processes on one database serve
one sweep together and nothing lives in one process only.

Each decision is one database transaction that first locks the sweep's row (`SELECT ... FOR UPDATE` on
PostgreSQL; on SQLite every write transaction starts with `BEGIN IMMEDIATE`, which serialises writers): two agents
asking at once, through the same replica or two, are answered one after the other, and the second sees the first's
lease. Nothing inside a decision opens a second connection (on SQLite it would wait for the first's lock).

A lease is a `sweep_runs` row in state `assigned` with its agent and `lease_expires_at`; each call of the agent
extends it by the agent timeout. The agents and their last calls are the sweep row's `controller` document. The
search reads the runs' state, config and summary from `runs` and a metric's values from `history_chunks`, as the
daemons' uploaders stored them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, insert, select, update

from runhive_service.sweeps import (
    ASSIGNED,
    STOPPED,
    AgentRow,
    HandedOut,
    StoredRun,
    SweepRow,
    agent_timeout,
    chunks,
)

from . import _schema_sweeps  # noqa: F401  (its index joins the MetaData the schema check compares)
from ._errors import Unauthenticated
from ._schema import entities, history_chunks, metric_keys, projects, runs, sweep_runs, sweeps
from ._store import NOT_LOGGED_IN, ServerStore, User

NOT_FOUND_HINT = (
    "create it on this server with runhive.sweep() or `runhive sweep CONFIG.yaml` while RUNHIVE_BASE_URL names it "
    "(a sweep made without a server lives in its node's own store)"
)


class ServerSweeps:
    """The backend: one per server process, shared by its requests; the caller of each decision is its `User`."""

    local_pids = False  # agents run on other machines: their pids mean nothing here
    requeue_lost = True
    not_found_hint = NOT_FOUND_HINT

    def __init__(self, store: ServerStore) -> None:
        self.store = store
        self.lease = agent_timeout()

    def owner(self, entity: str, project: str, caller: Any = None) -> tuple[str, str]:
        user = _user(caller)
        entity = entity or user.name  # as init(): the default entity is the key's user
        if project:
            self.store.ensure_project(user, entity, project)  # write permission; a new project is private
        return entity, project

    @contextmanager
    def transaction(self, caller: Any = None) -> Iterator[ServerSweepTx]:
        user = _user(caller)
        with self.store.engine.begin() as conn:
            yield ServerSweepTx(conn, self.store, user, self.lease)

    def close(self) -> None:
        pass  # the engine is the server's


def _user(caller: Any) -> User:
    if not isinstance(caller, User):
        raise Unauthenticated(NOT_LOGGED_IN)
    return caller


class ServerSweepTx:
    def __init__(self, conn: Connection, store: ServerStore, user: User, lease: float) -> None:
        self.conn = conn
        self.store = store
        self.user = user
        self.lease = lease
        self._docs: dict[tuple[int, str], dict[str, Any]] = {}  # each locked sweep's `controller` document

    # Sweeps -----------------------------------------------------------------------------------------------------
    def _project_id(self, entity: str, project: str) -> int | None:
        return self.conn.execute(
            select(projects.c.id)
            .join(entities, entities.c.id == projects.c.entity_id)
            .where(entities.c.name == entity, projects.c.name == project)
        ).scalar_one_or_none()

    def create(self, sweep_id: str, entity: str, project: str, name: str, config: dict[str, Any]) -> SweepRow:
        pid = self._project_id(entity, project)
        assert pid is not None, "owner() made the project"
        now = time.time()
        self.conn.execute(
            insert(sweeps).values(
                project_id=pid,
                sweep_id=sweep_id,
                name=name,
                config=config,
                state="PENDING",
                controller={},
                created_by=self.user.id,
                created_at=now,
                updated_at=now,
            )
        )
        return SweepRow(pid, sweep_id, entity, project, name, config, "PENDING", now)

    def find(self, sweep_id: str, entity: str = "", project: str = "") -> list[SweepRow]:
        query = (
            select(sweeps, entities.c.name.label("entity_name"), projects.c.name.label("project_name"))
            .join(projects, projects.c.id == sweeps.c.project_id)
            .join(entities, entities.c.id == projects.c.entity_id)
            .where(sweeps.c.sweep_id == sweep_id)
        )
        if entity:
            query = query.where(entities.c.name == entity)
        if project:
            query = query.where(projects.c.name == project)
        found = [_sweep_row(r) for r in self.conn.execute(query)]
        if len(found) > 1:  # a bare id: only the sweeps the caller may see are candidates
            found = [sw for sw in found if self._may(sw, "read")]
        return found

    def _may(self, sw: SweepRow, action: str) -> bool:
        try:
            self._require(sw, action)
        except Exception:  # PermissionDenied or NotFound: not one of the caller's sweeps
            return False
        return True

    def _require(self, sw: SweepRow, action: str) -> None:
        store = self.store
        store._require(self.conn, self.user, store._entity(self.conn, sw.entity), sw.project, action)

    def lock(self, sw: SweepRow, action: str) -> SweepRow:
        self._require(sw, action)
        row = self.conn.execute(
            select(sweeps)
            .where(sweeps.c.project_id == sw.pk, sweeps.c.sweep_id == sw.id)
            .with_for_update()  # PostgreSQL: decisions on one sweep queue here, on every replica
        ).one()
        self._docs[(sw.pk, sw.id)] = dict(row.controller or {})
        return SweepRow(
            sw.pk, sw.id, sw.entity, sw.project, row.name, dict(row.config or {}), row.state, sw.created_at
        )

    def set_state(self, sw: SweepRow, state: str) -> None:
        self.conn.execute(
            update(sweeps)
            .where(sweeps.c.project_id == sw.pk, sweeps.c.sweep_id == sw.id)
            .values(state=state, updated_at=time.time())
        )

    # Runs handed out (leases) ----------------------------------------------------------------------------------
    def hand_out(
        self, sw: SweepRow, run_id: str, agent: str, params: dict[str, Any], state: str = ASSIGNED
    ) -> None:
        now = time.time()
        self.conn.execute(
            insert(sweep_runs).values(
                project_id=sw.pk,
                sweep_id=sw.id,
                run_id=run_id,
                params=params,
                state=state,
                agent=agent or None,
                lease_expires_at=now + self.lease if agent else None,
                created_at=now,
                updated_at=now,
            )
        )

    def mark(
        self, sw: SweepRow, run_id: str, state: str, exit_code: int | None, agent: str | None = None
    ) -> None:
        now = time.time()
        values: dict[str, Any] = {"state": state, "updated_at": now}
        if agent is not None:  # "" ends the lease: the run has no agent any more
            values.update(agent=agent or None, lease_expires_at=now + self.lease if agent else None)
        self.conn.execute(
            update(sweep_runs)
            .where(
                sweep_runs.c.project_id == sw.pk,
                sweep_runs.c.sweep_id == sw.id,
                sweep_runs.c.run_id == run_id,
            )
            .values(**values)
        )

    def handed_out(self, sw: SweepRow) -> list[HandedOut]:
        rows = self.conn.execute(
            select(sweep_runs)
            .where(sweep_runs.c.project_id == sw.pk, sweep_runs.c.sweep_id == sw.id)
            .order_by(sweep_runs.c.created_at, sweep_runs.c.run_id)
        )
        return [
            HandedOut(r.run_id, r.agent or "", dict(r.params or {}), r.state, None, r.created_at)
            for r in rows
        ]

    def stored_runs(self, sw: SweepRow, run_ids: list[str]) -> dict[str, StoredRun]:
        out: dict[str, StoredRun] = {}
        for part in chunks(run_ids):
            for r in self.conn.execute(
                select(
                    runs.c.run_id,
                    runs.c.state,
                    runs.c.exit_code,
                    runs.c.config,
                    runs.c.summary,
                    runs.c.history_rows,
                    runs.c.heartbeat_at,
                    runs.c.updated_at,
                ).where(runs.c.project_id == sw.pk, runs.c.run_id.in_(part))
            ):
                out[r.run_id] = StoredRun(
                    0,
                    r.run_id,
                    r.state,
                    r.exit_code,
                    dict(r.config or {}),
                    dict(r.summary or {}),
                    int(r.history_rows),
                    r.heartbeat_at if r.heartbeat_at is not None else r.updated_at,
                )
        return out

    def project_run_ids(self, entity: str, project: str, run_ids: list[str]) -> list[str]:
        pid = self._project_id(entity, project)
        if pid is None:
            return []
        found: list[str] = []
        for part in chunks(run_ids):
            found += self.conn.execute(
                select(runs.c.run_id).where(runs.c.project_id == pid, runs.c.run_id.in_(part))
            ).scalars()
        return found

    def metric_values(self, sw: SweepRow, run: StoredRun, key: str) -> list[float]:
        key_id = self.conn.execute(
            select(metric_keys.c.key_id).where(metric_keys.c.project_id == sw.pk, metric_keys.c.key == key)
        ).scalar_one_or_none()
        if key_id is None:
            return []
        rows = self.conn.execute(
            select(history_chunks.c["values"])
            .where(
                history_chunks.c.project_id == sw.pk,
                history_chunks.c.run_id == run.id,
                history_chunks.c.key_id == key_id,
            )
            .order_by(history_chunks.c.first_step, history_chunks.c.seg)
        )
        return [float(v) for (values,) in rows for v in values if v is not None and math.isfinite(v)]

    # Agents: the sweep row's `controller` document, written under the row's lock --------------------------------
    def _doc(self, sw: SweepRow) -> dict[str, Any]:
        doc = self._docs.get((sw.pk, sw.id))
        if doc is None:
            raise RuntimeError("lock() the sweep before reading its agents")
        return doc

    def _save_doc(self, sw: SweepRow, doc: dict[str, Any]) -> None:
        self.conn.execute(
            update(sweeps)
            .where(sweeps.c.project_id == sw.pk, sweeps.c.sweep_id == sw.id)
            .values(controller=doc)
        )

    def agents(self, sw: SweepRow) -> list[AgentRow]:
        return [
            AgentRow(
                agent_id,
                str(a.get("host", "")),
                int(a.get("pid", 0)),
                float(a["last_seen"]),
                list(a["running"]),
            )
            for agent_id, a in (self._doc(sw).get("agents") or {}).items()
        ]

    def save_agent(self, sw: SweepRow, agent: AgentRow, timeout: float) -> None:
        doc = self._doc(sw)
        doc.setdefault("agents", {})[agent.id] = {
            "host": agent.host,
            "pid": agent.pid,
            "last_seen": agent.last_seen,
            "running": agent.running,
            "user": self.user.name,
        }
        self._save_doc(sw, doc)
        self.conn.execute(  # the agent's leases last one more timeout
            update(sweep_runs)
            .where(
                sweep_runs.c.project_id == sw.pk,
                sweep_runs.c.sweep_id == sw.id,
                sweep_runs.c.agent == agent.id,
                sweep_runs.c.state.in_((ASSIGNED, STOPPED)),
            )
            .values(lease_expires_at=agent.last_seen + timeout)
        )

    def drop_agent(self, sw: SweepRow, agent_id: str) -> None:
        doc = self._doc(sw)
        if (doc.get("agents") or {}).pop(agent_id, None) is not None:
            self._save_doc(sw, doc)


def _sweep_row(r: Any) -> SweepRow:
    return SweepRow(
        r.project_id,
        r.sweep_id,
        r.entity_name,
        r.project_name,
        r.name,
        dict(r.config or {}),
        r.state,
        r.created_at,
    )
