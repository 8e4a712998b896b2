"""What the sweep controller decides over: its sweeps, the runs it handed out, the agents it knows, and the runs'
stored state. Two implementations: the daemon's (`_store.SweepStore`: the node's SQLite store, agents in memory,
one lock) and the team server's (`runhive_service.server._sweeps_store`: SQLAlchemy, agents and leases in the
database, the sweep's row locked for each decision).

Every decision of the controller runs inside one `transaction()`: under the daemon's lock, or in one database
transaction that holds the sweep row (`lock`) from the first read of its runs to the last write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

# States of a handed-out run, before (or instead of) the run's own row in the store:
ASSIGNED = "assigned"  # handed to an agent (a lease); the run has not reached the store yet, or is running
NEVER_STARTED = "never_started"  # its process ended before init()
PRIOR = "prior"  # a run of the project that seeds the search (prior_runs=)
STOPPED = "stopped"  # the controller told it to stop (hyperband)
QUEUED = "queued"  # parameters waiting for an agent: a lost run's, handed out again (team server)
LOST = "lost"  # its agent stopped calling and the run did not live on: its parameters were queued again


@dataclass
class SweepRow:
    pk: int  # the daemon's sweep row; the server's project id (with `id`, the sweep's key)
    id: str
    entity: str
    project: str
    name: str
    config: dict[str, Any]
    state: str
    created_at: float


@dataclass
class HandedOut:
    run_id: str
    agent: str
    params: dict[str, Any]
    state: str  # one of the states above
    exit_code: int | None
    created_at: float


@dataclass
class StoredRun:
    pk: int  # the daemon's run row (0 on the server)
    id: str
    state: str
    exit_code: int | None
    config: dict[str, Any]
    summary: dict[str, Any]
    history_rows: int
    seen_at: float | None = None  # the last time the store heard from the run (the server's heartbeat_at)


@dataclass
class AgentRow:
    id: str
    host: str
    pid: int
    last_seen: float  # time.time() of its last call
    running: list[str] = field(default_factory=list)


class SweepTx(Protocol):
    """The store as one decision sees it."""

    def create(
        self, sweep_id: str, entity: str, project: str, name: str, config: dict[str, Any]
    ) -> SweepRow: ...

    def find(self, sweep_id: str, entity: str = "", project: str = "") -> list[SweepRow]: ...

    def lock(self, sw: SweepRow, action: str) -> SweepRow:
        """The sweep as it is now, held until the decision ends; raises if the caller may not `action` it
        ("read": get its state; "write": take runs, change its state)."""
        ...

    def set_state(self, sw: SweepRow, state: str) -> None: ...

    def hand_out(
        self, sw: SweepRow, run_id: str, agent: str, params: dict[str, Any], state: str = ASSIGNED
    ) -> None: ...

    def mark(
        self, sw: SweepRow, run_id: str, state: str, exit_code: int | None, agent: str | None = None
    ) -> None:
        """Set a handed-out run's state (and exit code); `agent`, when given, moves its lease to that agent."""
        ...

    def handed_out(self, sw: SweepRow) -> list[HandedOut]: ...

    def stored_runs(self, sw: SweepRow, run_ids: list[str]) -> dict[str, StoredRun]: ...

    def project_run_ids(self, entity: str, project: str, run_ids: list[str]) -> list[str]: ...

    def metric_values(self, sw: SweepRow, run: StoredRun, key: str) -> list[float]:
        """Every finite value of `key` the run logged, in order (hyperband counts iterations by this index)."""
        ...

    def agents(self, sw: SweepRow) -> list[AgentRow]: ...

    def save_agent(self, sw: SweepRow, agent: AgentRow, timeout: float) -> None:
        """Register or refresh an agent; its runs' leases now last `timeout` more seconds."""
        ...

    def drop_agent(self, sw: SweepRow, agent_id: str) -> None: ...


class SweepBackend(Protocol):
    # Whether agents' pids are this machine's (the daemon reaps an agent whose process is gone at once).
    local_pids: bool
    # Whether the runs of a lost agent are handed out again (the server) or only marked (the daemon).
    requeue_lost: bool
    # Where a sweep that is not found was looked for, and how to make it (the end of a NOT_FOUND message).
    not_found_hint: str

    def transaction(self, caller: Any = None) -> AbstractContextManager[SweepTx]: ...

    def owner(self, entity: str, project: str, caller: Any = None) -> tuple[str, str]:
        """The entity and project a new sweep goes to, after checking the caller may write there."""
        ...

    def close(self) -> None: ...


def chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    """`items` in slices of `size` (SQLite's variable limit)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
