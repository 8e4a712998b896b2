"""What a run's records do to its state: rows and steps, the summary (with `define_metric`'s aggregates), config,
identity edits, and the run's state once its writers exit. Pure: no I/O, so every sink sees the same run."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from runhive.protocol.metrics import MetricDef
from runhive.protocol.rows import decode_rows, history_steps
from runhive.protocol.v1 import service_pb2 as pb

from ._sink import AppliedGroup
from ._state import CRASHED, FAILED, FINISHED, PREEMPTED, RUNNING, RunState, WriterState

logger = logging.getLogger("runhive_service")

DAEMON_WRITER = "_daemon"
# Set in the run's metadata by `run.mark_preempting()` (an update record naming this field), cleared when the run
# starts again: kept with the run, so a daemon restarted in between still settles it as preempted.
PREEMPTING = "preempting"


def is_daemon_writer(writer: str) -> bool:
    """The records a daemon writes itself (run starts, config given at init, settled exits). On a team server each
    node's daemon is its own stream, `_daemon@<node>`, so two nodes writing one run do not share sequence
    numbers; none of them is a client writer that must exit before the run settles."""
    return writer == DAEMON_WRITER or writer.startswith(DAEMON_WRITER + "@")


def apply_groups(work: Iterable[tuple[RunState, pb.RecordBatch, int, bytes | None]]) -> list[AppliedGroup]:
    """Apply committed groups `(run, group, WAL end offset, payload)` to their runs, in order."""
    out: list[AppliedGroup] = []
    for st, group, end, payload in work:
        first_row = st.rows
        first_step: int | None = None
        for rec in group.records:
            try:
                step = apply_record(st, rec, group.writer)
            except Exception:
                # Last line of defence (the daemon validates what clients send): one record that cannot be applied
                # must not stop the records after it, nor other runs' records.
                logger.exception("run %s: record %d cannot be applied; skipped", st.key, rec.seq)
                continue
            if step is not None and first_step is None:
                first_step = step
        out.append(
            AppliedGroup(
                st, group, end, payload, first_row, st.rows - first_row, first_step or 0, st.last_step
            )
        )
    return out


def _apply_history(st: RunState, h: pb.HistoryRecord) -> int:
    """One row or a block of rows: counts, steps and the summary from the last row (metric chunks are the local
    store's index's job, later)."""
    steps = history_steps(h)
    st.rows += h.rows or 1
    top = max(steps)
    if top > st.last_step:
        st.last_step = top
    summary = st.summary
    k, ki = len(h.keys), len(h.int_keys)
    if k:
        summary.update(zip(h.keys, h.values[-k:], strict=False))
    if ki:
        summary.update(zip(h.int_keys, h.int_values[-ki:], strict=False))
    if h.json and (h.rows or 1) == 1:
        summary.update(json.loads(h.json))
    if st.agg:
        for row in decode_rows(h):
            st.agg.observe(row, summary)
    return steps[0]


def apply_record(st: RunState, rec: pb.Record, writer: str) -> int | None:
    """Apply one record; returns its step when it is a history row."""
    kind = rec.WhichOneof("kind")
    if not is_daemon_writer(writer) and writer not in st.writers:
        st.writers[writer] = WriterState()
    if kind == "history":
        return _apply_history(st, rec.history)
    elif kind == "config":
        data = json.loads(rec.config.json or b"{}")
        if rec.config.full:
            st.config = data
        else:
            # Top-level keys replace their value, as in run.config on the client (and W&B's config items):
            # a nested dict set again with allow_val_change=True replaces the old one, it is not merged in.
            st.config.update(data)
        for k in rec.config.remove:
            st.config.pop(k, None)
    elif kind == "summary":
        data = json.loads(rec.summary.json or b"{}")
        for k in data:
            st.agg.reset(k)
        st.summary.update(data)
        for k in rec.summary.remove:
            st.summary.pop(k, None)
    elif kind == "update":
        for name in rec.update.fields:
            if name == "tags":
                del st.info.tags[:]
                st.info.tags.extend(rec.update.info.tags)
            elif name in ("name", "notes", "group", "job_type"):
                setattr(st.info, name, getattr(rec.update.info, name))
            elif name in ("metadata", "metadata_json"):
                # The client's metadata (sent once its background probes finish) knows nothing of the flag.
                preempting = _preempting(st)
                st.info.metadata_json = rec.update.info.metadata_json
                if preempting:
                    _set_preempting(st, True)
            elif name == PREEMPTING:
                _set_preempting(st, True)
    elif kind == "metric":
        m = rec.metric
        st.agg.define(MetricDef(m.name, m.step_metric, tuple(m.summary), m.goal, m.hidden, m.step_sync))
    elif kind == "exit":
        w = st.writers.setdefault(writer, WriterState())
        w.open = False
        w.exit_code = rec.exit.exit_code
        w.crashed = rec.exit.state == CRASHED
        settle_state(st)
    elif kind == "run":
        # A resumed run starts running again; metadata stays from the first start.
        if st.state != RUNNING and is_daemon_writer(writer):
            begin_attempt(st)
    return None


def begin_attempt(st: RunState) -> None:
    """An ended run starts again (resumed): running, no exit code, no preempting mark, and the earlier attempt's
    writers forgotten, so how this attempt ends decides its state."""
    st.state = RUNNING
    st.exit_code = None
    _set_preempting(st, False)
    st.writers = {name: w for name, w in st.writers.items() if w.open}


def settle_state(st: RunState) -> None:
    """The run's state once no writer is open: crashed if one crashed, else failed on the first non-zero exit."""
    if any(w.open for w in st.writers.values()):
        return
    ended = [w for w in st.writers.values() if not w.open]
    if not ended:
        return
    preempting = _preempting(st)
    if any(w.crashed for w in ended):
        st.state, st.exit_code = (PREEMPTED if preempting else CRASHED), None
        return
    codes = [w.exit_code or 0 for w in ended]
    code = next((c for c in codes if c != 0), 0)
    st.state = FINISHED if code == 0 else (PREEMPTED if preempting else FAILED)
    st.exit_code = code


def _metadata(st: RunState) -> dict[str, object]:
    try:
        meta = json.loads(st.info.metadata_json or b"{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _preempting(st: RunState) -> bool:
    return bool(st.info.metadata_json) and _metadata(st).get(PREEMPTING) is True


def _set_preempting(st: RunState, on: bool) -> None:
    meta = _metadata(st)
    if bool(meta.get(PREEMPTING)) == on:
        return
    if on:
        meta[PREEMPTING] = True
    else:
        meta.pop(PREEMPTING, None)
    st.info.metadata_json = json.dumps(meta).encode()
