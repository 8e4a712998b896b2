"""Load (issue 4): 64 processes x 4 runs x 2,000 steps at once, on a node with no daemon yet. One daemon,
zero errors, zero rows lost; the figure is the wall time and the daemon's peak RSS (sampled with psutil).
Marked `load`: it runs in `make test` (about a minute on 2 cores); `-m "not load"` skips it."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from conftest import RhEnv, figure

PROCS, RUNS, STEPS = 64, 4, 2_000

WORKER = """
import runhive, sys
runs = [runhive.init(project="load", reinit="create_new", name=f"{sys.argv[1]}-{k}") for k in range(RUNS)]
for i in range(STEPS):
    for run in runs:
        run.log({"loss": 1.0 / (i + 1), "i": i})
for run in runs:
    run.finish()
""".replace("RUNS", str(RUNS)).replace("STEPS", str(STEPS))


@pytest.mark.load
def test_64_processes_4_runs_2000_steps(rh: RhEnv) -> None:
    seen: set[int] = set()
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        procs: dict[int, psutil.Process] = {}
        while not stop.is_set():
            for pid in rh.daemon_pids():
                seen.add(pid)
                try:
                    proc = procs.setdefault(pid, psutil.Process(pid))
                    peak[0] = max(peak[0], proc.memory_info().rss)
                except psutil.NoSuchProcess:
                    pass
            stop.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.monotonic()
    try:
        workers = [rh.spawn(WORKER, str(p)) for p in range(PROCS)]
        errors = []
        for proc in workers:
            _out, err = proc.communicate(timeout=600)
            if proc.returncode != 0 or err.strip():
                errors.append((proc.returncode, err[-2000:]))
        wall = time.monotonic() - t0
    finally:
        stop.set()
        sampler.join()
    assert not errors, errors[:3]
    assert len(seen) == 1, f"{len(seen)} daemons"
    runs = rh.api().runs("load")
    assert len(runs) == PROCS * RUNS
    total = 0
    for run in runs:
        assert run.state == "finished", (run.name, run.state)
        steps = [r["i"] for r in run.history(pandas=False, samples=None)]
        assert steps == list(range(STEPS)), (run.name, len(steps))
        total += len(steps)
    assert total == PROCS * RUNS * STEPS
    figure(
        "load: 64 processes x 4 runs x 2,000 steps",
        f"{total:,} rows in {wall:.1f} s wall ({total / wall:,.0f} rows/s), 1 daemon, peak daemon RSS "
        f"{peak[0] / 2**20:.0f} MiB, 0 errors, 0 rows lost, {len(runs)} runs finished",
    )
