"""`RunState` and `WriterState`: what the daemon holds of an open run and of each process writing to it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runhive.protocol.metrics import Aggregator
from runhive.protocol.v1 import service_pb2 as pb

RUNNING, FINISHED, FAILED, CRASHED = "running", "finished", "failed", "crashed"
# W&B's state of a run that called `run.mark_preempting()` and then exited non-zero or died: a sweep resumes it.
PREEMPTED = "preempted"


@dataclass
class WriterState:
    pid: int = 0
    create_time: float = 0.0
    durable_seq: int = 0
    applied_seq: int = 0
    open: bool = True
    exit_code: int | None = None
    crashed: bool = False
    # The writer's x_disable_stats / x_stats_sampling_interval (InitRunRequest.settings_json; daemon._sysmon).
    stats_disabled: bool = False
    stats_interval: float | None = None


@dataclass
class RunState:
    key: str
    info: pb.RunInfo
    state: str = RUNNING
    exit_code: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    last_step: int = -1
    rows: int = 0
    # The WAL offset the local store has applied up to: where a replay of the WAL resumes.
    applied_offset: int = 0
    writers: dict[str, WriterState] = field(default_factory=dict)
    daemon_seq: int = 0
    records: int = 0
    dirty: bool = False
    agg: Aggregator = field(default_factory=Aggregator)
    pending_tail: list[Any] = field(default_factory=list)  # WAL groups found unapplied, not yet queued

    @property
    def offline(self) -> bool:
        return self.info.mode == "offline"


def record_rows(records: Iterable[pb.Record]) -> int:
    """History rows in `records`: a columnar history record carries many; every other record counts as one."""
    return sum((r.history.rows or 1) if r.HasField("history") else 1 for r in records)


def run_key(entity: str, project: str, run_id: str) -> str:
    return f"{entity}/{project}/{run_id}"


def with_identity(stored: RunState, info: pb.RunInfo) -> RunState:
    """A stored run taken up under the caller's identity `info`, keeping what the store decided for it: its
    directory, name, notes, mode, tags, group, job type and start time."""
    full = pb.RunInfo()
    full.CopyFrom(info)
    kept = stored.info
    full.run_dir, full.name, full.notes, full.mode = kept.run_dir, kept.name, kept.notes, kept.mode
    del full.tags[:]
    full.tags.extend(kept.tags)
    full.group, full.job_type, full.start_time = kept.group, kept.job_type, kept.start_time or info.start_time
    stored.info = full
    return stored
