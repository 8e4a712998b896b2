"""The committer: appends each group of records to its run's WAL, fsyncs every file touched in a round once
(group commit), then hands the groups on; drops what it already holds, by (run, writer, seq)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.rundir._wal import WalWriter, wal_name
from runhive_service.streams import DAEMON_WRITER, RunState

logger = logging.getLogger("runhive_service")


@dataclass
class _CommitItem:
    groups: list[tuple[RunState, pb.RecordBatch]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    errors: dict[str, str] = field(default_factory=dict)  # run key -> why its groups were not written


class Committer:
    """`hand_on(run, group, end offset, payload)` receives each durable group, in commit order; `on_exit()` runs
    once the last round after `stop()` is committed."""

    def __init__(
        self,
        fsync: bool,
        hand_on: Callable[[RunState, pb.RecordBatch, int, bytes], None],
        on_exit: Callable[[], None],
    ) -> None:
        self._fsync = fsync
        self._hand_on = hand_on
        self._on_exit = on_exit
        self._wals: dict[str, WalWriter] = {}
        self._q: queue.Queue[_CommitItem | None] = queue.Queue()
        self._syncer = ThreadPoolExecutor(max_workers=8, thread_name_prefix="runhive-fsync")
        self._failing: set[str] = set()  # runs whose WAL last failed (logged once)

    def commit_groups(self, groups: list[tuple[RunState, pb.RecordBatch]]) -> dict[str, str]:
        """Write `groups` to their WALs (group commit); returns {run key: why} for runs whose WAL failed."""
        item = _CommitItem(groups)
        self._q.put(item)
        item.done.wait()
        return item.errors

    def stop(self) -> None:
        self._q.put(None)

    def close(self) -> None:
        """After the committer thread ended: close every WAL (the caller holds the engine's lock)."""
        self._syncer.shutdown(wait=True)
        for wal in self._wals.values():
            wal.close()
        self._wals.clear()

    def release(self, key: str) -> None:
        """Close a run's WAL (the caller holds the engine's lock); the next group opens it again."""
        wal = self._wals.pop(key, None)
        if wal is not None:
            wal.close()

    def holds(self, key: str) -> bool:
        return key in self._wals

    @property
    def idle(self) -> bool:
        return self._q.empty()

    def _wal(self, st: RunState) -> WalWriter:
        wal = self._wals.get(st.key)
        if wal is None:
            wal = WalWriter(Path(st.info.run_dir) / wal_name(st.info.id))
            self._wals[st.key] = wal
        return wal

    def run(self) -> None:
        """The committer thread: group commit until `stop()`."""
        while True:
            first = self._q.get()
            items = [first]
            while True:
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            stop = any(i is None for i in items)
            work = [i for i in items if i is not None]
            self._commit(work)
            if stop:
                self._on_exit()
                return

    def _commit(self, items: list[_CommitItem]) -> None:
        touched: dict[str, WalWriter] = {}
        out: list[tuple[RunState, pb.RecordBatch, int, bytes, int]] = []
        accepted: dict[tuple[str, str], int] = {}  # highest seq written in this round, per (run, writer)
        for item in items:
            for st, group in item.groups:
                try:
                    recs = group.records
                    top = 0
                    if group.writer != DAEMON_WRITER:
                        wkey = (st.key, group.writer)
                        top = accepted.get(wkey, st.writers[group.writer].durable_seq)
                        if recs[-1].seq <= top:
                            continue  # a resend of what we already hold
                        if recs[0].seq <= top:
                            fresh = [r for r in recs if r.seq > top]
                            group = pb.RecordBatch(run_id=group.run_id, writer=group.writer, records=fresh)
                        accepted[wkey] = group.records[-1].seq
                    payload = group.SerializeToString()
                    wal = self._wal(st)
                    end = wal.append([payload])
                    touched[st.key] = wal
                    out.append((st, group, end, payload, group.records[-1].seq))
                except Exception as exc:  # cannot open the WAL (unwritable dir): refuse this run's group
                    item.errors[st.key] = self._wal_failed(st, exc)
        failed: dict[str, str] = {}
        runs = {o[0].key: o[0] for o in out}

        def sync(wal: WalWriter) -> BaseException | None:
            try:
                wal.sync(self._fsync)  # on failure the WAL is cut back to its last whole frame
                return None
            except Exception as exc:  # disk full, I/O error: refuse this round's groups of this run
                return exc

        # fsync releases the GIL: the files of one round are synced together, so the file system can fold
        # them into one journal commit instead of paying one commit per run.
        wals = list(touched.items())
        results = (
            list(self._syncer.map(sync, [w for _, w in wals]))
            if len(wals) > 1
            else [sync(w) for _, w in wals]
        )
        for (key, _wal), error in zip(wals, results, strict=True):
            if error is not None:
                failed[key] = self._wal_failed(runs[key], error)
        if failed:
            for item in items:
                for st, _ in item.groups:
                    if st.key in failed:
                        item.errors[st.key] = failed[st.key]
            out = [o for o in out if o[0].key not in failed]
        for st, group, end, payload, last_seq in out:
            if group.writer != DAEMON_WRITER:
                w = st.writers[group.writer]
                if last_seq > w.durable_seq:
                    w.durable_seq = last_seq
            self._hand_on(st, group, end, payload)
        for item in items:
            item.done.set()

    def _wal_failed(self, st: RunState, exc: BaseException) -> str:
        why = f"cannot write {Path(st.info.run_dir) / wal_name(st.info.id)}: {getattr(exc, 'strerror', None) or exc}"
        if st.key not in self._failing:  # once per run, not once per batch
            self._failing.add(st.key)
            logger.warning(
                "run %s: %s; records that cannot be written are refused (logged once)", st.key, why
            )
        return why
