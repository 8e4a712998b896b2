"""System metrics of offline runs: the daemon samples an offline run as an online one and keeps the samples beside
its WAL (`run-<id>.rhsys`); `runhive sync` stores them in the node's store or sends them to a team server with
the run, each once however often it is synced (as W&B's `wandb sync` does with an offline run's `.wandb` file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _pg import ServerProcess
from conftest import RhEnv, wait_for
from runhive_service.rundir._system import append_samples, read_samples, samples_path
from test_upload_server import admin, query

# Logs until told to stop (a file), so the test decides how many samples the run takes. argv: the work directory.
TRAIN = """
import os, sys, time, runhive
work = sys.argv[1]
run = runhive.init(project="offsys", mode="offline")
open(os.path.join(work, "id"), "w").write(run.id + " " + run.dir)
deadline = time.monotonic() + 120
i = 0
while not os.path.exists(os.path.join(work, "stop")) and time.monotonic() < deadline:
    run.log({"loss": 1.0 / (i + 1)})
    i += 1
    time.sleep(0.02)  # pacing: a training step
run.finish()
print("DONE", flush=True)
"""


def _offline_run(rh: RhEnv, work: Path, samples: int = 6) -> tuple[str, Path]:
    """An offline run that took at least `samples` system samples: (its id, its run directory)."""
    rh.environ["RUNHIVE_STATS_SAMPLING_INTERVAL"] = "0.1"
    work.mkdir()
    proc = rh.spawn(TRAIN, str(work))
    wait_for(lambda: (work / "id").exists() and " " in (work / "id").read_text(), 60, "the run started")
    run_id, run_dir = (work / "id").read_text().split(" ", 1)
    rd = Path(run_dir)
    rd = rd.parent if rd.name == "files" else rd
    wal = rd / f"run-{run_id}.rhwal"
    wait_for(lambda: len(list(read_samples(samples_path(wal)))) >= samples, 60, "samples of the offline run")
    (work / "stop").touch()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "DONE" in out, err
    return run_id, rd


def test_offline_samples_sync_into_the_store_once(rh: RhEnv) -> None:
    run_id, run_dir = _offline_run(rh, rh.root / "w")
    taken = list(read_samples(samples_path(run_dir / f"run-{run_id}.rhwal")))
    assert "memory_percent" in taken[-1][2] and "proc.memory.rssMB" in taken[-1][2]  # read back as system.*
    for _ in range(2):  # twice: stored once
        res = rh.cli("sync", str(run_dir))
        assert "synced" in res.stdout or "nothing new" in res.stdout, res.stdout + res.stderr
        (run,) = rh.api().runs("offsys")
        stored = run.history(stream="system", pandas=False, samples=None)
        assert len(stored) == len(taken), (len(stored), len(taken))
        assert [r["_timestamp"] for r in stored] == [ts for ts, _rt, _d in taken]
        assert stored[-1]["system.memory_percent"] == taken[-1][2]["memory_percent"]
    assert run.system_metrics and "system.memory_percent" in run.system_metrics


def test_offline_samples_sync_to_a_server_once(rh: RhEnv, tmp_path: Path) -> None:
    import runhive

    run_id, run_dir = _offline_run(rh, rh.root / "w")
    taken = list(read_samples(samples_path(run_dir / f"run-{run_id}.rhwal")))
    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        for _ in range(2):
            res = subprocess.run(
                [sys.executable, "-m", "runhive.cli._main", "sync", str(run_dir), "--host", url],
                cwd=rh.work,
                env={**rh.environ, "RUNHIVE_API_KEY": key, "COLUMNS": "200"},
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert res.returncode == 0 and "synced" in res.stdout, res.stdout + res.stderr
            count = query(db, "SELECT COUNT(*) FROM system_metrics WHERE run_id = :r", r=run_id)[0][0]
            assert count == len(taken)
        remote = runhive.Api(overrides={"base_url": url}, api_key=key).run(f"alice/offsys/{run_id}")
        rows = remote.history(stream="system", pandas=False, samples=None)
        assert [r["_timestamp"] for r in rows] == [ts for ts, _rt, _d in taken]
    finally:
        server.stop()


def test_a_torn_last_sample_is_skipped_and_spoils_no_later_one(tmp_path: Path) -> None:
    path = samples_path(tmp_path / "run-x.rhwal")
    assert path.name == "run-x.rhsys" and list(read_samples(path)) == []
    append_samples(path, [(1.0, 0.5, {"system.cpu": 1.0})])
    with open(path, "a") as f:
        f.write('[2.0,1.5,{"system.c')  # the daemon died mid-write
    append_samples(path, [(3.0, 2.5, {"system.cpu": 3.0})])
    assert list(read_samples(path)) == [(1.0, 0.5, {"system.cpu": 1.0}), (3.0, 2.5, {"system.cpu": 3.0})]
