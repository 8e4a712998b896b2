"""`ServiceConfig`: everything the daemon needs to know, resolved once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runhive import Settings


@dataclass
class ServiceConfig:
    directory: Path
    data_dir: Path
    idle_timeout: float = 600.0
    fsync: bool = True
    max_workers: int = 256
    watch_interval: float = 0.5
    # Backpressure: Append waits while more than this many bytes are committed to WALs but not yet applied
    # to the store, so a slow store slows the clients (whose log() then blocks) instead of growing memory.
    max_apply_backlog: int = 64 * 1024 * 1024
    # The metric index is built once no batch has arrived for this long (RUNHIVE_INDEX_QUIET, seconds), or
    # between batches when it falls too far behind; until then readers take the newest points from the rows.
    index_quiet: float = 0.05
    # Seconds between two samples of system metrics for the open runs (RUNHIVE_STATS_SAMPLING_INTERVAL; W&B's
    # x_stats_sampling_interval, 15 s by default, at least 0.1).
    stats_interval: float = 15.0
    # Test knob (RUNHIVE_TEST_APPLY_DELAY, seconds per applied row): slows the store writer down.
    test_apply_delay: float = 0.0

    @property
    def store_path(self) -> Path:
        return self.data_dir / "runhive.db"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "rundirs.idx"

    @classmethod
    def from_env(cls, directory: str | None = None) -> ServiceConfig:
        s = Settings.from_env()
        return cls(
            directory=Path(directory) if directory else s.resolved_service_dir,
            data_dir=s.resolved_data_dir,
            idle_timeout=float(s.service_idle_timeout if s.service_idle_timeout is not None else 600.0),
            fsync=os.environ.get("RUNHIVE_FSYNC", "1").strip().lower() not in ("0", "false", "no", "off"),
            max_apply_backlog=int(os.environ.get("RUNHIVE_MAX_APPLY_BACKLOG") or 64 * 1024 * 1024),
            index_quiet=float(os.environ.get("RUNHIVE_INDEX_QUIET") or 0.05),
            test_apply_delay=float(os.environ.get("RUNHIVE_TEST_APPLY_DELAY") or 0.0),
            stats_interval=float(os.environ.get("RUNHIVE_STATS_SAMPLING_INTERVAL") or 15.0),
        )
