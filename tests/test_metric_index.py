"""The metric index runs behind the store's writes: reads are complete while it lags, it catches up after a
daemon restart from where it stopped, and stores from before it was deferred keep working."""

from __future__ import annotations

import os
import signal
import sqlite3
from typing import Any

from conftest import RhEnv, wait_for
from runhive_service.store._schema import SCHEMA_VERSION

LOGGER = """
import sys
import runhive
run = runhive.init(project="idx", id=sys.argv[1])
for i in range(int(sys.argv[2])):
    row = {"loss": 1.0 / (i + 1), "acc": float(i), "nested": {"deep": float(-i)}}
    if i % 7 == 0:
        row["nan"] = float("nan")
    run.log(row)
run.finish()
"""


def index_state(rh: RhEnv) -> tuple[int, int, int]:
    """(rows applied, rows indexed, points in metric chunks) over the whole store."""
    db = sqlite3.connect(f"file:{rh.store}?mode=ro", uri=True)
    try:
        rows, done = db.execute("SELECT SUM(history_rows), SUM(indexed_rows) FROM runs").fetchone()
        points = db.execute("SELECT COALESCE(SUM(n), 0) FROM metric_chunks").fetchone()[0]
        return rows or 0, done or 0, points
    finally:
        db.close()


def reads(rh: RhEnv, run_id: str) -> dict[str, Any]:
    api = rh.api()
    run = api.run(f"idx/{run_id}")
    return {
        "loss": run.metric("loss", buckets=100_000),
        "loss_buckets": run.metric("loss", buckets=10),
        "nested": run.metric("nested.deep", buckets=100_000),
        "nan": run.metric("nan", buckets=100_000),
        "many": api.metrics("acc", [run], buckets=50),
        "sampled": run.history(keys=["loss"], samples=25, pandas=False),
        "sampled2": run.history(keys=["loss", "acc"], samples=25, pandas=False),
    }


def check_values(r: dict[str, Any], n: int) -> None:
    loss = r["loss"]
    assert loss["step"] == list(range(n))
    assert loss["last"] == [1.0 / (i + 1) for i in range(n)]
    assert r["nested"]["min"] == [float(-i) for i in range(n)]
    assert r["nan"]["step"] == list(range(0, n, 7)) and r["nan"]["last"] == [None] * len(range(0, n, 7))
    assert len(r["loss_buckets"]["step"]) <= 10 and r["loss_buckets"]["max"][0] == 1.0
    assert len(r["sampled"]) == 25 and r["sampled"][0] == {"_step": 0, "loss": 1.0}
    assert len(r["sampled2"]) == 25 and r["sampled2"][-1]["acc"] == float(r["sampled2"][-1]["_step"])


def test_reads_are_complete_while_the_index_lags_and_equal_once_it_caught_up(rh: RhEnv) -> None:
    n = 3000
    # The index waits for an hour of quiet: everything below is read from the history blocks.
    rh.run(LOGGER, "lagging", str(n), env={"RUNHIVE_INDEX_QUIET": "3600"})
    assert index_state(rh) == (n, 0, 0)
    lagging = reads(rh, "lagging")
    check_values(lagging, n)

    [pid] = rh.daemon_pids()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not rh.daemon_pids(), 10, "the daemon to die")
    rh.cli("service", "start")  # default quiet period: the new daemon indexes what the old one left
    # 5 metrics per row, one (nan) every 7th row.
    points = n * 4 + len(range(0, n, 7))
    wait_for(lambda: index_state(rh) == (n, n, points), 30, "the new daemon to index every row")
    assert reads(rh, "lagging") == lagging


def test_index_resumes_where_it_stopped_and_keeps_up_with_new_rows(rh: RhEnv) -> None:
    rh.run(LOGGER, "first", "1000")
    wait_for(lambda: index_state(rh)[1] == 1000, 30, "the index to catch up")
    # The same run resumed: its newest (partial) chunks continue, and a second run interleaves.
    rh.run(LOGGER.replace("id=sys.argv[1])", 'id=sys.argv[1], resume="allow")'), "first", "500")
    rh.run(LOGGER, "second", "700")
    wait_for(lambda: index_state(rh)[:2] == (2200, 2200), 30, "the index to catch up")
    api = rh.api()
    first = api.run("idx/first").metric("loss", buckets=100_000)
    assert first["step"] == list(range(1500))
    assert first["last"] == [1.0 / (i + 1) for i in range(1000)] + [1.0 / (i + 1) for i in range(500)]
    check_values(reads(rh, "second"), 700)


def test_store_from_before_the_deferred_index_is_migrated(rh: RhEnv) -> None:
    rh.run(LOGGER, "old", "400")
    wait_for(lambda: index_state(rh)[1] == 400, 30, "the index to catch up")
    rh.cli("service", "stop")
    wait_for(lambda: not rh.daemon_pids(), 10, "the daemon to stop")
    db = sqlite3.connect(rh.store)
    db.execute("ALTER TABLE runs DROP COLUMN indexed_rows")  # what a version-3 store looks like
    db.execute("DROP INDEX runs_by_sweep")
    db.execute("ALTER TABLE runs DROP COLUMN sweep")
    db.execute("DROP TABLE sweeps")
    db.execute("DROP TABLE sweep_runs")
    db.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    db.commit()
    db.close()
    check_values(reads(rh, "old"), 400)  # readers cope without the column: chunks covered every row
    rh.cli("service", "start")
    wait_for(lambda: rh.daemon_pids(), 10, "the daemon")
    assert index_state(rh)[:2] == (400, 400)
    db = sqlite3.connect(f"file:{rh.store}?mode=ro", uri=True)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    assert "sweep" in {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    assert db.execute("SELECT COUNT(*) FROM sweeps").fetchone() == (0,)
    db.close()
    check_values(reads(rh, "old"), 400)


def test_rebuild_builds_the_index(rh: RhEnv) -> None:
    rh.run(LOGGER, "rebuilt", "600", env={"RUNHIVE_INDEX_QUIET": "3600"})
    before = reads(rh, "rebuilt")
    rh.cli("service", "stop")
    wait_for(lambda: not rh.daemon_pids(), 10, "the daemon to stop")
    rh.cli("store", "rebuild")
    assert index_state(rh) == (600, 600, 600 * 4 + len(range(0, 600, 7)))
    assert reads(rh, "rebuilt") == before
