"""The daemon dies, the data does not: SIGKILL mid-logging and restart recovery (issue 4, faults)."""

from __future__ import annotations

import os
import signal
import time

from conftest import RhEnv, wait_for

LOGGER = """
import runhive, sys, time
runs = [runhive.init(project="dk", reinit="create_new", name=f"{sys.argv[1]}-{k}") for k in range(2)]
print("started", flush=True)
for i in range(5000):
    for run in runs:
        run.log({"i": i})
    if i % 100 == 0:
        time.sleep(0.01)  # pacing, so the daemon is killed while every client is still logging
for run in runs:
    run.finish()
print("done", flush=True)
"""


def test_daemon_sigkill_three_times_loses_nothing(rh: RhEnv) -> None:
    def stored_rows() -> int:
        return sum(r.history_rows for r in rh.api().runs("dk"))

    procs = [rh.spawn(LOGGER, str(p)) for p in range(4)]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
    kills = []
    for _ in range(3):
        [pid] = wait_for(rh.daemon_pids, 10, "a daemon")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        kills.append(pid)
        # Clients notice, start or reach a new daemon within 2 s.
        new = wait_for(lambda p=pid: [d for d in rh.daemon_pids() if d != p], 10, "a new daemon")
        assert time.monotonic() - t0 < 2.0, f"new daemon took {time.monotonic() - t0:.2f} s"
        assert new[0] not in kills
        assert all(p.poll() is None for p in procs), "a client ended before the daemon was killed three times"
        # The clients reach the new daemon and it stores their rows before the next kill.
        before = stored_rows()
        wait_for(lambda b=before: stored_rows() > b, 10, "the new daemon to store rows")
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert "done" in out
        # A daemon killed while clients re-attach to its successor is a transport failure, retried: nothing
        # may be counted as refused.
        assert "not persisted" not in err, err
    runs = rh.api().runs("dk")
    assert len(runs) == 8
    for r in runs:
        rows = r.history(pandas=False, samples=None)
        assert [row["i"] for row in rows] == list(range(5000)), f"{r.name}: {len(rows)} rows"
        assert r.state == "finished"


def test_restart_recovery_marks_dead_writers_crashed(rh: RhEnv) -> None:
    code = """
    import runhive, os, signal
    run = runhive.init(project="rec")
    for i in range(1000):
        run.log({"i": i})
    assert run._sender.wait_acked(run._handle, run._last_seq, 30)
    print(run.id, flush=True)
    import time
    time.sleep(600)
    """
    proc = rh.spawn(code)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    [pid] = rh.daemon_pids()
    os.kill(pid, signal.SIGKILL)  # the daemon dies first ...
    wait_for(lambda: not rh.daemon_pids(), 10, "the daemon to die")
    proc.kill()  # ... then the client, so no daemon saw it go
    proc.wait(10)
    assert rh.api().run(f"rec/{run_id}").state == "running"
    rh.cli("service", "start")  # a new daemon recovers: the WAL is applied and the writer is gone
    wait_for(lambda: rh.api().run(f"rec/{run_id}").state == "crashed", 10, "recovery to mark the run crashed")
    assert len(rh.api().run(f"rec/{run_id}").history(pandas=False, samples=None)) == 1000
