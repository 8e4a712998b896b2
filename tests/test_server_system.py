"""System metrics on the team server (issue 14): the daemon's uploader sends the samples its local store keeps
(`runhive_service.daemon._uploader`, cursor in the progress file) to `POST /api/v1/system/...`, and `Api()` reads
them back from the server as from the local store. Real processes: a training script, its daemon and a
`runhive server` on SQLite and on PostgreSQL 15; the server is SIGKILLed and restarted mid-run; the daemon is
SIGKILLed with samples unsent and its successor sends them."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from _pg import ServerProcess, server_db
from conftest import RhEnv, wait_for
from test_upload_server import alice_server, query

__all__ = ["server_db"]  # the fixture, imported from _pg

FAST = {"RUNHIVE_STATS_SAMPLING_INTERVAL": "0.1", "RUNHIVE_UPLOAD_BACKOFF_MAX": "0.3"}

# Logs until told to stop (a file), so the test decides when enough samples were taken on each side of the outage.
# argv: the work directory, finish()'s timeout.
TRAIN = """
import os, sys, time, runhive
work = sys.argv[1]
run = runhive.init(project="sys", settings=runhive.Settings(finish_timeout=float(sys.argv[2])))
open(os.path.join(work, "id"), "w").write(run.id)
deadline = time.monotonic() + 120
i = 0
while not os.path.exists(os.path.join(work, "stop")) and time.monotonic() < deadline:
    run.log({"loss": 1.0 / (i + 1)})
    i += 1
    time.sleep(0.02)  # pacing: a training step
run.finish()
print("DONE", flush=True)
"""


def _local(rh: RhEnv, path: str) -> list[dict[str, Any]]:
    try:
        rows: list[dict[str, Any]] = rh.api().run(path).history(stream="system", pandas=False, samples=None)
    except Exception:  # the run is not in the local store yet
        return []
    return rows


def _on_server(db: str, run_id: str) -> int:
    return int(query(db, "SELECT COUNT(*) FROM system_metrics WHERE run_id = :r", r=run_id)[0][0])


def _all_sent(rh: RhEnv, db: str, path: str) -> list[dict[str, Any]] | None:
    local = _local(rh, path)
    return local if local and _on_server(db, path.rsplit("/", 1)[1]) == len(local) else None


def _outage(rh: RhEnv, db: str, server: ServerProcess, work: Path, finish_timeout: float) -> tuple[Any, str]:
    """A run that logs until `work/stop` exists; once the server holds 3 of its samples the server is SIGKILLed,
    and 5 more samples are taken while it is down: (the training process, the run's path)."""
    work.mkdir()
    proc = rh.spawn(TRAIN, str(work), str(finish_timeout))
    wait_for(lambda: (work / "id").exists(), 60, "the run started")
    run_id = (work / "id").read_text()
    path = f"alice/sys/{run_id}"
    wait_for(lambda: _on_server(db, run_id) >= 3, 60, "samples on the server")
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    down = len(_local(rh, path))
    wait_for(lambda: len(_local(rh, path)) >= down + 5, 60, "samples taken while the server is down")
    return proc, path


def test_samples_reach_the_server_once_across_a_server_restart(rh: RhEnv, server_db: str) -> None:
    import runhive

    server, port, url, key = alice_server(server_db, rh)
    rh.environ.update(FAST)
    try:
        proc, path = _outage(rh, server_db, server, rh.root / "sys", finish_timeout=60)
        run_id = path.rsplit("/", 1)[1]
        server = ServerProcess(server_db, "--port", str(port))
        server.wait_ready()
        up = len(_local(rh, path))
        wait_for(lambda: len(_local(rh, path)) >= up + 3, 60, "samples taken after the restart")
        (rh.root / "sys" / "stop").touch()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "DONE" in out, err
        # finish() does not wait for samples: the daemon keeps sending them after the process exits.
        local = wait_for(lambda: _all_sent(rh, server_db, path), 60, "every sample on the server")
        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        remote = api.run(path).history(stream="system", pandas=False, samples=None)
        assert len(remote) == len(local) >= 11, "nothing lost, nothing twice"
        assert remote == local
        assert {k for r in remote for k in r} == {k for r in local for k in r}
        assert "system.memory_percent" in remote[-1] and "system.proc.memory.rssMB" in remote[-1]
        assert api.run(path).system_metrics == rh.api().run(path).system_metrics
        assert _on_server(server_db, run_id) == len(local)
    finally:
        server.stop()


def test_samples_taken_while_the_server_is_down_survive_a_daemon_restart(rh: RhEnv, tmp_path: Path) -> None:
    """The server is down for the second half of the run and when it ends; the daemon is SIGKILLed too. The next
    daemon resumes from the progress file: the samples of the ended run reach the server, each once."""
    import runhive

    db = f"sqlite:///{tmp_path / 'server.db'}"
    server, port, url, key = alice_server(db, rh)
    rh.environ.update(FAST)
    try:
        proc, path = _outage(rh, db, server, rh.root / "sys", finish_timeout=1)
        run_id = path.rsplit("/", 1)[1]
        (rh.root / "sys" / "stop").touch()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "DONE" in out, err
        for pid in rh.daemon_pids():  # this test's daemon: its successor must take the upload up
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not rh.daemon_pids(), 10, "the daemon gone")
        local = _local(rh, path)
        assert _on_server(db, run_id) < len(local)
        server = ServerProcess(db, "--port", str(port))
        server.wait_ready()
        rh.cli("service", "start")
        wait_for(lambda: _on_server(db, run_id) >= len(local), 60, "the new daemon to send the samples")
        remote = runhive.Api(overrides={"base_url": url}, api_key=key).run(path)
        assert remote.history(stream="system", pandas=False, samples=None) == local
        assert remote.state == "finished"
    finally:
        server.stop()
