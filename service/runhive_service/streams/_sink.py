"""The sink seam: where the engine hands records once they are durable in the WAL and applied to run state.

Promises, for every sink:
- `apply(groups)` returns once what it was given is durable in the sink; it raises when it could not take them
  (the records stay in the WAL, and a replay from the run's `applied_offset` hands them over again, so a sink must
  take a group it already holds without storing it twice).
- It is called from one thread, the engine's applier, in commit order per run; a sink never sees a run's records
  out of order.
- `idle()` does deferred work (an index, an upload) while nothing arrives, and says whether more remains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runhive.protocol.v1 import service_pb2 as pb

from ._state import RunState


@dataclass
class AppliedGroup:
    """One committed group of one writer's records, after it was applied to `run`."""

    run: RunState
    group: pb.RecordBatch
    end: int  # WAL offset after the group: the run's `applied_offset` once a sink holds it
    payload: bytes | None  # the group serialised as in the WAL (None: serialise it when needed)
    first_row: int  # index of the group's first history row in the run
    rows: int  # history rows in the group
    first_step: int
    last_step: int  # the run's last step once the group was applied


@dataclass
class SystemSample:
    """One system-metrics sample of an open run (`runhive_service.daemon._sysmon`)."""

    run: RunState
    time: float
    runtime: float
    data: dict[str, Any]


class Sink(Protocol):
    def apply(self, groups: Sequence[AppliedGroup]) -> None: ...

    def system_metrics(self, samples: Sequence[SystemSample]) -> None: ...

    def idle(self) -> bool:
        """Do a slice of deferred work; True while some remains."""
        ...

    @property
    def lag(self) -> int:
        """Deferred work left, in rows (0: none); the daemon does not exit idle while a sink lags."""
        ...

    def close(self) -> None: ...


class RunCatalog(Protocol):
    """The runs the node already holds: what the engine resumes a run from and recovers after a restart."""

    def find_run(self, entity: str, project: str, run_id: str) -> RunState | None:
        """The run as stored (state, config, summary, rows, applied_offset, identity), or None."""
        ...

    def run_origin(self, entity: str, project: str, run_id: str) -> tuple[float | None, str, int, str] | None:
        """(created_at, host, pid, run_dir) of a held run: where it was first written from."""
        ...

    def run_names(self, entity: str, project: str) -> set[str]: ...

    def running_runs(self) -> list[tuple[str, str, str, str]]:
        """(entity, project, id, run_dir) of every run stored as running."""
        ...

    def applied_offset(self, entity: str, project: str, run_id: str) -> int:
        """The committed WAL offset the catalog holds for a run (0 when unknown)."""
        ...

    def last_sample_time(self, entity: str, project: str, run_id: str) -> float | None:
        """The time of the run's newest system-metrics sample held (None: none), so a sync adds only later ones."""
        ...
