"""The node's index of run directories (`rundirs.idx` in the data directory): one `run_dir<TAB>run_id` line per
run the daemon created, so recovery and `runhive store rebuild` find WALs that never reached the store."""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger("runhive_service")


def append_index(index: Path, run_dir: str, run_id: str) -> None:
    try:
        fd = os.open(index, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with open(fd, "a") as f:
            f.write(f"{run_dir}\t{run_id}\n")
    except OSError:
        logger.exception("could not append to %s", index)


def index_entries(index: Path) -> list[tuple[str, str]]:
    """(run_dir, run_id) per indexed run directory, first line of each directory only."""
    try:
        lines = index.read_text().splitlines()
    except FileNotFoundError:
        return []
    out, seen = [], set()
    for line in lines:
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] not in seen:
            seen.add(parts[0])
            out.append((parts[0], parts[1]))
    return out
