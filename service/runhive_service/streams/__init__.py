"""Run streams: a run's state as its records build it, and the seam where the daemon hands applied records on.

A stream is (run, writer). The engine commits records to the run's WAL, applies them to the run's `RunState` here
(`apply_groups`: step, rows, summary aggregates, config, state), and hands the result to every `Sink`. A sink
knows where records go (the local SQLite store; the uploader to a team server); the engine knows nothing of that.
"""

from ._apply import (
    DAEMON_WRITER,
    apply_groups,
    apply_record,
    begin_attempt,
    is_daemon_writer,
    settle_state,
)
from ._procs import process_alive, writer_host_pid
from ._sink import AppliedGroup, RunCatalog, Sink, SystemSample
from ._state import (
    CRASHED,
    FAILED,
    FINISHED,
    PREEMPTED,
    RUNNING,
    RunState,
    WriterState,
    record_rows,
    run_key,
    with_identity,
)

__all__ = [
    "CRASHED",
    "DAEMON_WRITER",
    "FAILED",
    "FINISHED",
    "PREEMPTED",
    "RUNNING",
    "AppliedGroup",
    "RunCatalog",
    "RunState",
    "Sink",
    "SystemSample",
    "WriterState",
    "apply_groups",
    "apply_record",
    "begin_attempt",
    "is_daemon_writer",
    "process_alive",
    "record_rows",
    "run_key",
    "settle_state",
    "with_identity",
    "writer_host_pid",
]
