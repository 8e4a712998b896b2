"""`runhive sync` to a team server (issue 14), real processes: runs logged offline (history, media, `run.save()`
files) go to a `runhive server` with `runhive sync PATH --host URL` or with a `runhive login`; syncing twice stores
them once; a sync SIGKILLed midway and run again stores every row exactly once; a run whose process died without
an exit record is stored closed, once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from _pg import ServerProcess, server_db
from conftest import RhEnv, wait_for
from test_server_nodes import RoundRobinProxy
from test_upload_server import admin, query, server_rows

__all__ = ["server_db"]  # the fixture, imported from _pg

# The sync below sends about 560 kB (20,000 rows, 20 images, a file, in 20 kB spans).
UPLOAD_BUDGET = 150_000

OFFLINE = """
import os, sys, runhive
import numpy as np

n = int(sys.argv[1])
run = runhive.init(project="offline-proj", mode="offline", config={"lr": 0.1})
print("ID", run.id, "DIR", run.dir, flush=True)
with open("notes.txt", "w") as f:
    f.write("notes of the run")
run.save("notes.txt", policy="now")
for i in range(n):
    row = {"loss": 1.0 / (i + 1)}
    if i % 1000 == 0:
        row["img"] = runhive.Image(np.full((8, 8, 3), i % 255, dtype=np.uint8))
    run.log(row)
if len(sys.argv) > 2:
    os.kill(os.getpid(), 9)  # dies without an exit record
run.finish()
"""


def _offline(rh: RhEnv, n: int, crash: bool = False) -> tuple[str, Path]:
    res = rh.run(OFFLINE, str(n), *(["crash"] if crash else []), check=not crash)
    words = res.stdout.split("ID ", 1)[1].split()
    run_dir = Path(words[2])
    return words[0], run_dir.parent if run_dir.name == "files" else run_dir


def _sync(rh: RhEnv, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runhive.cli._main", "sync", *args],
        cwd=rh.work,
        env={**rh.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _run_row(db: str, run_id: str) -> tuple[str, int, str]:
    rows = query(db, "SELECT state, history_rows, config FROM runs WHERE run_id = :r", r=run_id)
    assert len(rows) == 1, rows
    state, n, config = rows[0]
    return state, int(n), json.dumps(config if isinstance(config, dict) else json.loads(config))


def test_sync_sends_offline_runs_once(rh: RhEnv, server_db: str) -> None:
    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db, "--files", str(rh.root / "server-files"))
    try:
        url = server.wait_ready()
        n = 2500
        run_id, run_dir = _offline(rh, n)
        assert run_dir.name.startswith("offline-run-")
        res = _sync(rh, str(run_dir), "--host", url, env={"RUNHIVE_API_KEY": key})
        assert res.returncode == 0 and "synced" in res.stdout, res.stdout + res.stderr
        assert f"alice/offline-proj/{run_id}" in res.stdout, (
            "an offline run's default entity becomes the key's user"
        )
        state, rows, config = _run_row(server_db, run_id)
        assert (state, rows) == ("finished", n) and '"lr": 0.1' in config
        assert [s for s, _ in server_rows(server_db, run_id)] == list(range(n))
        files = {r[0] for r in query(server_db, "SELECT path FROM run_files WHERE run_id = :r", r=run_id)}
        assert "notes.txt" in files and sum(1 for f in files if f.startswith("media/images/")) == 3

        # Twice, now with a login instead of --host: stored once.
        rh.cli("login", "--host", url, key)
        again = _sync(rh, str(run_dir))
        assert again.returncode == 0 and "synced" in again.stdout, again.stdout + again.stderr
        assert _run_row(server_db, run_id)[:2] == ("finished", n)
        assert [s for s, _ in server_rows(server_db, run_id)] == list(range(n))
        count = query(server_db, "SELECT COUNT(*) FROM run_files WHERE run_id = :r", r=run_id)[0][0]
        assert count == len(files)
        # --local still syncs into the node's own store.
        local = _sync(rh, str(run_dir), "--local")
        assert local.returncode == 0 and "synced" in local.stdout, local.stdout + local.stderr
    finally:
        server.stop()


def test_sync_killed_midway_resumes_and_stores_once(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    proxy: RoundRobinProxy | None = None
    try:
        url = server.wait_ready()
        n = 20000
        run_id, run_dir = _offline(rh, n)
        # The network stops after a fixed number of bytes (well under the run's), so the sync is midway when it
        # is killed however fast the machine is; a race between "some rows arrived" and the kill is not.
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        proxy = RoundRobinProxy([("127.0.0.1", port)], upload_budget=UPLOAD_BUDGET)
        env = {**rh.environ, "RUNHIVE_API_KEY": key, "RUNHIVE_UPLOAD_SPAN_BYTES": "20000"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runhive.cli._main",
                "sync",
                str(run_dir),
                "--host",
                f"http://127.0.0.1:{proxy.port}",
            ],
            cwd=rh.work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def some_rows() -> bool:
                rows = query(db, "SELECT history_rows FROM runs WHERE run_id = :r", r=run_id)
                return proxy is not None and proxy.stalled.is_set() and bool(rows) and 0 < int(rows[0][0])

            wait_for(some_rows, 120, "the first rows on the server, then the network stopping")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        stored = int(query(db, "SELECT history_rows FROM runs WHERE run_id = :r", r=run_id)[0][0])
        assert 0 < stored < n, "killed midway"
        res = _sync(rh, str(run_dir), "--host", url, env={"RUNHIVE_API_KEY": key})
        assert res.returncode == 0 and "synced" in res.stdout, res.stdout + res.stderr
        assert _run_row(db, run_id)[:2] == ("finished", n)
        assert [s for s, _ in server_rows(db, run_id)] == list(range(n)), "every row exactly once"
    finally:
        if proxy is not None:
            proxy.close()
        server.stop()


def test_sync_closes_a_crashed_offline_run_once(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        run_id, run_dir = _offline(rh, 50, crash=True)
        from runhive_service.rundir._wal import read_frames

        def settled() -> (
            bool
        ):  # the daemon's watcher notices the dead writer and writes its exit into the WAL
            wal = next(run_dir.glob("run-*.rhwal"))
            return any(g.records[-1].WhichOneof("kind") == "exit" for _e, g in read_frames(wal) if g.records)

        wait_for(settled, 60, "the daemon to settle the crashed run")
        seen = []
        for _ in range(2):
            res = _sync(rh, str(run_dir), "--host", url, env={"RUNHIVE_API_KEY": key})
            assert res.returncode == 0 and "synced" in res.stdout, res.stdout + res.stderr
            seen.append(_run_row(db, run_id)[:2])
        # What reached the WAL before the SIGKILL (the client's buffer died with it), stored once; the run is closed
        # (the daemon's watcher wrote the dead writer's exit; a WAL without one is closed by the sync as failed).
        assert seen[0] == seen[1] and seen[0][0] in ("crashed", "failed")
        assert [s for s, _ in server_rows(db, run_id)] == list(range(seen[0][1]))
        # A WAL that ends before any writer's exit (the daemon died too), under another id: closed as failed, once.
        import shutil

        copy = rh.root / "copy" / run_dir.name
        shutil.copytree(run_dir, copy)
        wal = next(copy.glob("run-*.rhwal"))
        first_end = next(iter(read_frames(wal)))[0]
        with open(wal, "r+b") as f:
            f.truncate(first_end)
        for _ in range(2):
            res = _sync(rh, str(copy), "--host", url, "--id", "copied1", env={"RUNHIVE_API_KEY": key})
            assert res.returncode == 0 and "closed with exit code 1" in res.stdout, res.stdout + res.stderr
            assert _run_row(db, "copied1")[:2] == ("failed", 0)
        # Without a key for the server: refused at once, naming the fix.
        res = _sync(rh, str(run_dir), "--host", "http://127.0.0.1:9", env={"RUNHIVE_API_KEY": ""})
        assert res.returncode == 1 and "runhive login --host" in res.stdout, res.stdout + res.stderr
    finally:
        server.stop()
