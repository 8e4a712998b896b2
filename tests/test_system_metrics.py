"""System metrics: one sampler in the daemon gives every open run the host's figures and its own processes'
(W&B's key names), read back with `run.history(stream="system")`; finished runs get no more samples."""

from __future__ import annotations

import itertools
import json

from conftest import RhEnv

FAST = {"RUNHIVE_STATS_SAMPLING_INTERVAL": "0.2"}

# Logs until the store holds `n` system samples for each of its runs (a condition with a deadline, not a sleep).
TWO_RUNS = """
import sys, time
import runhive as wandb

project, n = sys.argv[1], int(sys.argv[2])
runs = [wandb.init(project=project, name=f"r{i}", reinit="create_new") for i in range(2)]
ballast = bytearray(64 * 1024 * 1024)  # 64 MiB this process holds: its RSS must show it
api = wandb.Api()
deadline = time.monotonic() + 60
i = 0
while time.monotonic() < deadline:
    for run in runs:
        run.log({"i": i})
    i += 1
    if all(len(api.run(f"{project}/{r.id}").history(stream="system", pandas=False, samples=None)) >= n for r in runs):
        break
    time.sleep(0.05)  # pacing: a training step
else:
    raise SystemExit("no system metrics within 60 s")
for run in runs:
    run.finish()
print("DONE", len(ballast))
"""


def test_every_open_run_gets_host_and_process_metrics(rh: RhEnv) -> None:
    rh.environ.update(FAST)  # the daemon is started by the script below, with this environment
    rh.run(TWO_RUNS, "sys", "3", timeout=120)
    runs = rh.api().runs("sys")
    assert len(runs) == 2
    for run in runs:
        rows = run.history(stream="system", pandas=False, samples=None)
        assert len(rows) >= 3
        row = rows[-1]
        assert 0 < row["system.memory_percent"] <= 100
        assert row["system.proc.memory.rssMB"] > 64  # the ballast
        assert row["system.proc.cpu.threads"] >= 1
        assert "system.cpu.0.cpu_percent" in row and "system.cpu" in row
        assert 0 <= row["system.disk./.usagePercent"] <= 100
        assert row["system.network.sent"] >= 0 and row["system.disk.out"] >= 0
        assert [r["_timestamp"] for r in rows] == sorted(r["_timestamp"] for r in rows)
        assert run.system_metrics == row
        assert run.history(stream="system", keys=["system.cpu"], pandas=False, samples=None)[0].keys() == {
            "system.cpu",
            "_timestamp",
            "_runtime",
        }


def test_finished_runs_get_no_more_samples(rh: RhEnv) -> None:
    rh.environ.update(FAST)
    rh.run(TWO_RUNS, "first", "2", timeout=120)
    before = {
        r.id: len(r.history(stream="system", pandas=False, samples=None)) for r in rh.api().runs("first")
    }
    # A second job waits for 5 samples of its own: the sampler ticked at least 5 times after the first finished.
    rh.run(TWO_RUNS, "second", "5", timeout=120)
    after = {
        r.id: len(r.history(stream="system", pandas=False, samples=None)) for r in rh.api().runs("first")
    }
    assert after == before


# Per-run settings, sent to the daemon with InitRun: each run's own interval, and runs that want no stats.
SETTINGS = """
import json, sys, time
import runhive as wandb

project, until = sys.argv[1], json.loads(sys.argv[2])  # {run name: samples it must reach}
runs = {
    name: wandb.init(project=project, name=name, reinit="create_new", settings=wandb.Settings(**s))
    for name, s in json.loads(sys.argv[3]).items()
}
api = wandb.Api()
deadline = time.monotonic() + 60
counts = {}
while time.monotonic() < deadline:
    for run in runs.values():
        run.log({"x": 1})
    counts = {
        name: len(api.run(f"{project}/{run.id}").history(stream="system", pandas=False, samples=None))
        for name, run in runs.items()
    }
    if all(counts[name] >= n for name, n in until.items()):
        break
    time.sleep(0.05)  # pacing: a training step
else:
    raise SystemExit(f"not enough samples within 60 s: {counts}")
for run in runs.values():
    run.finish()
"""


def test_x_disable_stats_leaves_that_run_out(rh: RhEnv) -> None:
    rh.environ.update(FAST)
    settings = {"quiet": {"x_disable_stats": True}, "loud": {}}
    rh.run(SETTINGS, "dis", json.dumps({"loud": 5}), json.dumps(settings), timeout=120)
    runs = {r.name: r for r in rh.api().runs("dis")}
    assert len(runs["loud"].history(stream="system", pandas=False, samples=None)) >= 5
    assert runs["quiet"].history(stream="system", pandas=False, samples=None) == []
    assert runs["quiet"].system_metrics == {}


def test_each_run_is_sampled_at_its_own_interval(rh: RhEnv) -> None:
    # The daemon's own interval stays 15 s: only the runs' settings make samples come sooner.
    settings = {"fast": {"x_stats_sampling_interval": 0.2}, "slow": {"x_stats_sampling_interval": 1.0}}
    rh.run(SETTINGS, "ivl", json.dumps({"fast": 15, "slow": 2}), json.dumps(settings), timeout=120)
    runs = {r.name: r for r in rh.api().runs("ivl")}
    fast = runs["fast"].history(stream="system", pandas=False, samples=None)
    slow = runs["slow"].history(stream="system", pandas=False, samples=None)
    assert len(fast) >= 15 and len(slow) >= 2
    assert len(slow) <= len(fast) // 3 + 1  # about one in five of fast's
    gaps = [b["_timestamp"] - a["_timestamp"] for a, b in itertools.pairwise(slow)]
    assert gaps and min(gaps) >= 0.8
    fast_gaps = [b["_timestamp"] - a["_timestamp"] for a, b in itertools.pairwise(fast)]
    assert min(fast_gaps) >= 0.15
