"""Rebuilding the store from run directories' WALs (`runhive store rebuild`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.rundir._wal import Damage, ReadResult, read_frames, wal_name
from runhive_service.streams import RunState, apply_groups, run_key

from ._store import Store

logger = logging.getLogger("runhive_service")
CHUNK = 200  # WAL frames per store transaction


def replay_run(
    store: Store, wal: Path, include_offline: bool = False
) -> tuple[RunState | None, list[Damage]]:
    """Apply one run's WAL to `store` from the start; returns the run state and any damage found.

    Offline runs are skipped unless `include_offline` (they reach the store only through `runhive sync`)."""
    res = ReadResult()
    st: RunState | None = None
    chunk: list[tuple[RunState, pb.RecordBatch, int, bytes | None]] = []
    for end, group in read_frames(wal, 0, res):
        if st is None:
            if not group.records or group.records[0].WhichOneof("kind") != "run":
                res.damage.append(Damage(str(wal), 0, "first record is not the run record; skipped"))
                return None, res.damage
            info = pb.RunInfo()
            info.CopyFrom(group.records[0].run)
            if info.mode == "offline" and not include_offline:
                return None, res.damage
            st = RunState(key=run_key(info.entity, info.project, info.id), info=info)
        chunk.append((st, group, end, None))
        if len(chunk) >= CHUNK:
            store.apply(apply_groups(chunk))
            chunk = []
    if chunk:
        store.apply(apply_groups(chunk))
    return st, res.damage


def rebuild(store_path: Path, run_dirs: Iterable[tuple[str, str]]) -> tuple[int, list[Damage]]:
    """Delete the store at `store_path` and replay every run directory into a new one."""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(store_path) + suffix)
        if p.exists():
            p.unlink()
    store = Store(store_path)
    n = 0
    damage: list[Damage] = []
    try:
        for run_dir, run_id in run_dirs:
            wal = Path(run_dir) / wal_name(run_id)
            if not wal.exists():
                continue
            st, dmg = replay_run(store, wal, include_offline=(Path(run_dir) / ".synced").exists())
            damage.extend(dmg)
            if st is not None:
                n += 1
        store.index.catch_up()
    finally:
        store.close()
    return n, damage
