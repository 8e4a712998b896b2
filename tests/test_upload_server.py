"""The uploader end to end, real processes: a `runhive server` (SQLite and a throwaway PostgreSQL 15), users made
with its CLI, a training process logging with `RUNHIVE_BASE_URL`/`RUNHIVE_API_KEY` through its node's daemon.
Every row reaches the server exactly once, also when the server is SIGKILLed and restarted mid-run; `finish()`
returns only once the server has the run; `init()` fails at once on a missing key, an unknown entity, or a
project the key may not write to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from _pg import ServerProcess, free_port, server_db
from conftest import RhEnv, wait_for
from runhive_service.server import open_engine

__all__ = ["server_db"]  # the fixture, imported from _pg


def admin(db: str, *args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "runhive.cli._main", "server", *args, "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout.splitlines()[-1]


def client_env(rh: RhEnv, url: str, key: str | None) -> dict[str, str]:
    env = {"RUNHIVE_BASE_URL": url, "RUNHIVE_CONFIG_DIR": str(rh.root / "config")}
    if key is not None:
        env["RUNHIVE_API_KEY"] = key
    return env


def alice_server(db: str, *nodes: RhEnv) -> tuple[ServerProcess, int, str, str]:
    """A server on a port of its own (a test restarts it at the same address), alice's key, and each node's
    environment pointed at it, uploads retried every 0.3 s at most: (server, port, url, key)."""
    key = admin(db, "user", "create", "alice")
    port = free_port()
    server = ServerProcess(db, "--port", str(port))
    url = server.wait_ready()
    for node in nodes:
        node.environ.update(client_env(node, url, key))
        node.environ["RUNHIVE_UPLOAD_BACKOFF_MAX"] = "0.3"
    return server, port, url, key


def query(db: str, sql: str, **params: Any) -> list[Any]:
    engine = open_engine(db)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def server_rows(db: str, run_id: str) -> list[tuple[int, float]]:
    """(step, value) of every stored point of `loss` of the run, chunk by chunk."""
    engine = open_engine(db)
    try:
        from sqlalchemy import select

        from runhive_service.server._schema import history_chunks, metric_keys

        with engine.connect() as conn:
            rows = conn.execute(
                select(history_chunks.c.first_step, history_chunks.c.steps, history_chunks.c["values"])
                .join(
                    metric_keys,
                    (metric_keys.c.project_id == history_chunks.c.project_id)
                    & (metric_keys.c.key_id == history_chunks.c.key_id),
                )
                .where(history_chunks.c.run_id == run_id, metric_keys.c.key == "loss")
            ).all()
    finally:
        engine.dispose()
    out: list[tuple[int, float]] = []
    for first, steps, values in rows:
        steps = list(steps) if steps is not None else list(range(first, first + len(values)))
        out.extend(zip(steps, values, strict=True))
    return sorted(out)


LOG_RUN = """
import sys, runhive
n = int(sys.argv[1])
run = runhive.init(project="vision", config={"lr": 0.01}, settings=runhive.Settings(finish_timeout=120))
print("ENTITY", run.entity, "ID", run.id, flush=True)
for i in range(n):
    run.log({"loss": 1.0 / (i + 1), "acc": i / n, "note": "x" if i % 100 == 0 else None})
run.summary["best"] = 0.5
run.finish()
print("DONE", flush=True)
"""


def test_every_row_arrives_once_and_finish_waits(rh: RhEnv, server_db: str) -> None:
    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db)
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        n = 3000
        res = rh.run(LOG_RUN, str(n))
        ident = res.stdout.split("ENTITY ")[1].split()
        entity, run_id = ident[0], ident[2]
        assert entity == "alice", "the default entity is the key's user"
        assert "DONE" in res.stdout and "not yet uploaded" not in res.stderr, res.stderr
        # finish() returned: the server has the whole run already, no waiting here.
        row = query(
            server_db,
            "SELECT state, history_rows, last_step, config, summary FROM runs WHERE run_id = :r",
            r=run_id,
        )
        assert len(row) == 1
        state, rows, last_step, config, summary = row[0]
        assert (state, rows, last_step) == ("finished", n, n - 1)
        config = config if isinstance(config, dict) else __import__("json").loads(config)
        summary = summary if isinstance(summary, dict) else __import__("json").loads(summary)
        assert config["lr"] == 0.01 and summary["best"] == 0.5 and summary["loss"] == 1.0 / n
        points = server_rows(server_db, run_id)
        assert [s for s, _ in points] == list(range(n)), "every row exactly once"
        assert all(v == 1.0 / (s + 1) for s, v in points)
        notes = query(server_db, "SELECT COUNT(*) FROM history_objects WHERE run_id = :r", r=run_id)
        assert notes[0][0] == n // 100
        (project,) = query(server_db, "SELECT p.visibility FROM projects p WHERE p.name = 'vision'")
        assert project[0] == "private", "a new project is private"
        # The local store has the run too: the WAL and the store stay the node's source of truth.
        assert rh.api().run(f"alice/vision/{run_id}").state == "finished"
        assert Path(rh.work, "runhive").exists()
    finally:
        assert server.stop() == 0


KILLABLE_RUN = """
import os, sys, time, runhive
work = sys.argv[1]
run = runhive.init(project="p", settings=runhive.Settings(finish_timeout=120))
open(os.path.join(work, "id"), "w").write(run.id)
for i in range(2000):
    run.log({"loss": float(i)})
open(os.path.join(work, "half"), "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(work, "go")) and time.monotonic() < deadline:
    time.sleep(0.01)
for i in range(2000, 4000):
    run.log({"loss": float(i)})
run.finish()
print("DONE", flush=True)
"""


def test_server_killed_and_restarted_mid_run_loses_nothing(rh: RhEnv, server_db: str) -> None:
    server, port, _url, _key = alice_server(server_db, rh)
    work = rh.root / "sync"
    work.mkdir()
    proc = rh.spawn(KILLABLE_RUN, str(work))
    try:
        wait_for(lambda: (work / "half").exists(), 60, "the first half logged")
        run_id = (work / "id").read_text()

        def uploaded() -> int:
            got = query(server_db, "SELECT history_rows FROM runs WHERE run_id = :r", r=run_id)
            return int(got[0][0]) if got else 0

        wait_for(lambda: uploaded() > 0, 60, "some rows on the server")
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        (work / "go").touch()  # the second half is logged while the server is down
        server = ServerProcess(server_db, "--port", str(port))
        server.wait_ready()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "DONE" in out, err
        assert uploaded() == 4000
        points = server_rows(server_db, run_id)
        assert [s for s, _ in points] == list(range(4000)), "nothing lost, nothing twice"
        assert all(v == float(s) for s, v in points)
        assert query(server_db, "SELECT state FROM runs WHERE run_id = :r", r=run_id)[0][0] == "finished"
    finally:
        server.stop()


FAILING_INIT = """
import sys, runhive
try:
    runhive.init(entity=sys.argv[1] or None, project="secret")
except Exception as exc:
    print(type(exc).__name__, "|", exc, flush=True)
else:
    print("no error", flush=True)
"""


def test_init_fails_at_once_when_the_server_refuses(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    alice = admin(db, "user", "create", "alice")
    bob = admin(db, "user", "create", "bob")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, alice))
        rh.run("import runhive; runhive.init(project='secret').finish()")  # alice's private project

        def fails(entity: str, key: str | None) -> str:
            env = client_env(rh, url, key)
            if key is None:
                env["RUNHIVE_API_KEY"] = ""
            out = rh.run(FAILING_INIT, entity, env=env, timeout=60).stdout.strip()
            assert out != "no error"
            return out

        host = url.rstrip("/")
        assert fails("alice", None) == (
            f"UsageError | not logged in: run `runhive login --host {host}` (or set RUNHIVE_API_KEY) to log runs "
            f"to the team server {host}"
        )
        nobody = fails("nobody", alice)
        assert "entity 'nobody' does not exist" in nobody, nobody
        denied = fails("alice", bob)
        assert (
            denied.startswith("CommError | ")
            and (
                "permission denied: user 'bob' may not write to 'alice/secret' (private); ask its owner 'alice' to "
                "set the project to Open"
            )
            in denied
        ), denied
        wrong = fails("alice", "rhk_0123456789ab_not-a-real-key")
        assert "invalid API key" in wrong, wrong
    finally:
        server.stop()


PENDING_RUN = """
import os, sys, time, runhive
work = sys.argv[1]
run = runhive.init(project="p", settings=runhive.Settings(finish_timeout=1))
open(os.path.join(work, "id"), "w").write(run.id)
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(work, "go")) and time.monotonic() < deadline:
    time.sleep(0.01)
for i in range(1000):
    run.log({"loss": float(i)})
run.finish()
print("REPORT", run._finish_report, flush=True)
"""


def test_finish_says_what_is_pending_and_a_new_daemon_finishes_the_upload(rh: RhEnv, tmp_path: Path) -> None:
    """The server is down when the run ends: finish() returns after finish_timeout saying what is pending; the
    daemon is SIGKILLed too; the next daemon resumes from the run's upload.json once the server is back."""
    db = f"sqlite:///{tmp_path / 'server.db'}"
    server, port, url, _key = alice_server(db, rh)
    work = rh.root / "sync"
    work.mkdir()
    proc = rh.spawn(PENDING_RUN, str(work))
    try:
        wait_for(lambda: (work / "id").exists(), 60, "init() done")
        run_id = (work / "id").read_text()
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        (work / "go").touch()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        report = out.split("REPORT ", 1)[1]
        assert f"of run alice/p/{run_id} not yet uploaded to {url.rstrip('/')}" in report, report
        assert "keeps uploading" in report
        for pid in rh.daemon_pids():  # the node's daemon dies too: its successor must take the upload up
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not rh.daemon_pids(), 10, "the daemon gone")
        server = ServerProcess(db, "--port", str(port))
        server.wait_ready()
        rh.cli("service", "start")

        def uploaded() -> bool:
            got = query(db, "SELECT history_rows, state FROM runs WHERE run_id = :r", r=run_id)
            return bool(got) and tuple(got[0]) == (1000, "finished")

        wait_for(uploaded, 60, "the new daemon to upload the run")
        assert [s for s, _ in server_rows(db, run_id)] == list(range(1000))
    finally:
        server.stop()


AGG_RUN = """
import runhive
run = runhive.init(project="agg", settings=runhive.Settings(finish_timeout=120))
print("ID", run.id, flush=True)
run.define_metric("loss", summary="min,max,mean")
run.define_metric("val/*", summary="best", goal="maximize")
run.define_metric("label", summary="min")  # never numeric: its min stays +inf inside the aggregator
for i in range(400):
    run.log({"loss": float("nan") if i == 3 else float(i % 50), "val/acc": i / 400, "label": "x"})
run.finish()
print("DONE", flush=True)
"""


def test_define_metric_summaries_hold_across_upload_requests(rh: RhEnv, server_db: str) -> None:
    """The server applies a run in many requests and keeps `define_metric`'s aggregates with the run between them,
    as a JSON document (non-finite numbers tagged, so PostgreSQL's JSONB takes it), not a pickle."""
    import json

    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db)
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        rh.environ["RUNHIVE_UPLOAD_SPAN_BYTES"] = "1500"  # a few rows a request
        res = rh.run(AGG_RUN)
        assert "DONE" in res.stdout, res.stderr
        run_id = res.stdout.split("ID ")[1].split()[0]
        ((summary, ingest),) = query(
            server_db, "SELECT summary, ingest FROM runs WHERE run_id = :r", r=run_id
        )
        summary = summary if isinstance(summary, dict) else json.loads(summary)
        ingest = ingest if isinstance(ingest, dict) else json.loads(ingest)
        values = [float(i % 50) for i in range(400) if i != 3]
        assert summary["loss"] == {"min": 0.0, "max": 49.0, "mean": sum(values) / len(values)}
        assert summary["val/acc"] == {"best": 399 / 400}
        assert "agg" not in ingest and ingest["aggregator"]["aggs"]["label"][2] == {"__float__": "inf"}
        local = rh.api().run(f"alice/agg/{run_id}").summary
        assert {k: local[k] for k in ("loss", "val/acc")} == {k: summary[k] for k in ("loss", "val/acc")}
    finally:
        server.stop()


def test_aggregator_state_round_trips_as_strict_json() -> None:
    import json
    import math

    from runhive.protocol.metrics import Aggregator, make_def

    agg = Aggregator()
    agg.define(make_def("loss", summary="min,max,mean,first,last"))
    agg.define(make_def("val/*", step_metric="epoch", summary="best", goal="maximize"))
    summary: dict[str, object] = {}
    for row in ({"loss": 2.0, "epoch": 0}, {"loss": math.nan, "val/x": 1.0}, {"loss": math.inf}):
        agg.step_sync(row)
        agg.observe(row, summary)
    doc = json.loads(json.dumps(agg.to_state(), allow_nan=False))  # strict JSON: no NaN/Infinity literals
    back = Aggregator.from_state(doc)
    assert back.exact == agg.exact and back.globs == agg.globs
    more = {"loss": -1.0, "val/x": 3.0}
    s1: dict[str, object] = {}
    s2: dict[str, object] = {}
    for a, s in ((agg, s1), (back, s2)):
        row = dict(more)
        a.step_sync(row)
        a.observe(row, s)
    assert s1 == s2 and s1["loss"] == {
        "min": -1.0,
        "max": math.inf,
        "mean": math.inf,
        "first": 2.0,
        "last": -1.0,
    }
    assert row["epoch"] == 0, "the last step value came back too"
