"""Runs whose node goes silent, on the team server (real processes: a `runhive server` with a short
`--run-timeout`, a node's daemon sending heartbeats every 0.3 s): a run that trains without logging stays running;
a node frozen (SIGSTOP) has its run marked crashed, and running again once it speaks; a node killed outright after
`run.mark_preempting()` leaves its run preempted (its sweep resumes it), as W&B marks runs without a heartbeat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from _pg import ServerProcess, server_db
from conftest import RhEnv, wait_for
from test_upload_server import admin, client_env, query

__all__ = ["server_db"]  # the fixture, imported from _pg

TIMEOUT = 2.0  # the server's --run-timeout here: seconds

IDLE = """
import os, sys, time, runhive
work = sys.argv[1]
run = runhive.init(project="live", settings=runhive.Settings(finish_timeout=120))
run.log({"loss": 1.0})
if len(sys.argv) > 2:
    run.mark_preempting()
open(os.path.join(work, "id"), "w").write(run.id)
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(work, "go")) and time.monotonic() < deadline:
    time.sleep(0.05)  # training without logging
run.log({"loss": 0.5})
run.finish()
print("DONE", flush=True)
"""


def _run(db: str, run_id: str) -> tuple[str, int, float]:
    rows = query(db, "SELECT state, history_rows, heartbeat_at FROM runs WHERE run_id = :r", r=run_id)
    if not rows:
        return "", 0, 0.0
    state, n, beat = rows[0]
    return str(state), int(n), float(beat or 0.0)


def test_a_silent_node_crashes_its_run_and_a_returning_one_revives_it(rh: RhEnv, server_db: str) -> None:
    db = server_db
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db, "--run-timeout", str(TIMEOUT))
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        rh.environ.update({"RUNHIVE_UPLOAD_HEARTBEAT": "0.3", "RUNHIVE_UPLOAD_BACKOFF_MAX": "0.3"})
        work = rh.root / "a"
        work.mkdir()
        proc = rh.spawn(IDLE, str(work))
        wait_for(lambda: (work / "id").exists(), 60, "the run started")
        run_id = (work / "id").read_text()
        first = wait_for(
            lambda: _run(db, run_id)[1] >= 1 and _run(db, run_id), 60, "the first row on the server"
        )
        # Training for several timeouts without logging: the heartbeats keep the run running.
        wait_for(lambda: _run(db, run_id)[2] > first[2] + 3 * TIMEOUT, 60, "heartbeats for 3 timeouts")
        assert _run(db, run_id)[0] == "running"

        (daemon,) = rh.daemon_pids()
        os.kill(daemon, signal.SIGSTOP)  # the node goes silent
        try:
            wait_for(lambda: _run(db, run_id)[0] == "crashed", 60, "the silent run marked crashed")
        finally:
            os.kill(daemon, signal.SIGCONT)
        wait_for(lambda: _run(db, run_id)[0] == "running", 60, "the run running again once its node speaks")
        (work / "go").touch()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "DONE" in out, err
        assert _run(db, run_id)[:2] == ("finished", 2)

        # A node that dies outright after run.mark_preempting(): its run is preempted, for its sweep to resume.
        work = rh.root / "b"
        work.mkdir()
        proc = rh.spawn(IDLE, str(work), "preempting")
        wait_for(lambda: (work / "id").exists(), 60, "the second run started")
        run_id = (work / "id").read_text()
        wait_for(lambda: _run(db, run_id)[1] >= 1, 60, "its first row on the server")
        for pid in (*rh.daemon_pids(), proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: _run(db, run_id)[0] == "preempted", 60, "the dead node's run marked preempted")
    finally:
        server.stop()


def test_run_timeout_is_checked() -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "runhive.cli._main",
            "server",
            "--db",
            "sqlite:///x.db",
            "--run-timeout",
            "-1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "--run-timeout: '-1' is not a number of seconds >= 0" in res.stderr, (
        res.stderr
    )
