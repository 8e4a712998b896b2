"""Runs whose node went silent: W&B marks a run without a heartbeat for about five minutes crashed; so does the team
server, so a node that died (power, preemption, network) does not leave its runs "running" on the shared dashboard
and in sweeps for ever.

- Each node's daemon tells the server every `HEARTBEAT_EVERY` seconds that an open run it uploads is alive, when no
  upload of the run did so meanwhile (`POST /api/v1/heartbeat/{entity}/{project}/{run_id}`; every ingest request
  refreshes `runs.heartbeat_at` too), so a run that trains for an hour without logging stays running.
- Every server process checks now and then (`reap_silent_runs`, a thread of `Server.run`) for runs still running
  whose heartbeat is older than `--run-timeout` (default 300 s) and marks them crashed, or preempted when the run
  called `run.mark_preempting()` (its sweep then resumes it elsewhere). The update repeats its condition, so
  replicas doing the same at once change each run once.
- A run marked so by the server still has open writers in its ingest state (a crash its daemon saw closes them):
  when its node speaks again (a heartbeat, more records), it is running again, as in W&B.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine, func, select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from runhive_service.streams import CRASHED, PREEMPTED, RUNNING

from ._errors import NotFound
from ._ingest import _caller, _ids, timed_out
from ._schema import runs

logger = logging.getLogger("runhive_service.server")

RUN_TIMEOUT = 300.0  # seconds without a word from a running run's node before it is crashed (W&B: ~5 minutes)
HEARTBEAT_EVERY = 30.0  # seconds between a node's heartbeats of an open run (a tenth of the timeout)


def _last_word() -> Any:
    return func.coalesce(runs.c.heartbeat_at, runs.c.updated_at)


def _preempting(metadata: Any) -> bool:
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return False
    return isinstance(metadata, dict) and metadata.get("preempting") is True


def reap_silent_runs(engine: Engine, timeout: float, now: float | None = None) -> int:
    """Mark the running runs not heard of for `timeout` seconds crashed (preempted when they said they would be);
    returns how many."""
    cutoff = (time.time() if now is None else now) - timeout
    silent = (runs.c.state == RUNNING, _last_word() < cutoff)
    with engine.connect() as conn:  # read first: most passes find nothing and take no write lock
        found = conn.execute(select(runs.c.project_id, runs.c.run_id, runs.c.metadata).where(*silent)).all()
    if not found:
        return 0
    changed = 0
    with engine.begin() as conn:
        for project_id, run_id, metadata in found:
            state = PREEMPTED if _preempting(metadata) else CRASHED
            done = conn.execute(
                update(runs)
                .where(runs.c.project_id == project_id, runs.c.run_id == run_id, *silent)
                .values(state=state, exit_code=None)
            )
            changed += done.rowcount or 0
    if changed:
        logger.warning("%d run(s) not heard of for %.0f s marked crashed or preempted", changed, timeout)
    return changed


class Reaper:
    """`reap_silent_runs` every `min(timeout / 4, 30 s)`, in a thread of the server process."""

    def __init__(self, engine: Engine, timeout: float) -> None:
        self.engine, self.timeout = engine, timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runhive-run-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        every = max(0.1, min(self.timeout / 4, 30.0))
        while not self._stop.wait(every):
            try:
                reap_silent_runs(self.engine, self.timeout)
            except Exception:  # the database away for a moment: the next pass tries again
                logger.exception("checking for silent runs failed; retrying in %.0f s", every)


async def heartbeat(request: Request) -> Response:
    return await run_in_threadpool(_heartbeat, request)


def _heartbeat(request: Request) -> Response:
    store, user = _caller(request)
    entity, project_name, run_id = _ids(request)
    project = store.ensure_project(user, entity, project_name)  # write permission, as for records
    with store.engine.begin() as conn:
        query = select(runs.c.state, runs.c.ingest).where(
            runs.c.project_id == project.id, runs.c.run_id == run_id
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"run '{entity}/{project_name}/{run_id}' does not exist on this server")
        state, ingest = row
        if isinstance(ingest, str):
            ingest = json.loads(ingest)
        values: dict[str, Any] = {"heartbeat_at": time.time()}
        if timed_out(state, ingest):  # its node was silent for a while, and is back
            values["state"] = state = RUNNING
        conn.execute(
            update(runs).where(runs.c.project_id == project.id, runs.c.run_id == run_id).values(**values)
        )
    return JSONResponse({"state": state})


def liveness_routes() -> list[BaseRoute]:
    return [Route("/api/v1/heartbeat/{entity}/{project}/{run_id}", heartbeat, methods=["POST"])]


__all__ = ["HEARTBEAT_EVERY", "RUN_TIMEOUT", "Reaper", "liveness_routes", "reap_silent_runs"]
