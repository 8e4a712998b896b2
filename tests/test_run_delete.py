"""W&B's `Api().run(path).delete(delete_artifacts=False)` (issue 13), on both read backends.

Local store: the delete goes through the daemon (`DeleteRun`, on the store's writer): every row of the run leaves
the SQLite store, its run directory (WAL included) goes, and it is gone from `Api().runs()`, `Api().run()` and the
dashboard; other runs stay whole; a running run is refused; `delete_artifacts=True` removes the versions it logged.
Team server (SQLite and PostgreSQL 15): the run and its rows go, for a user who may write to the project only.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from _pg import ServerProcess, server_db
from conftest import RhEnv, wait_for

__all__ = ["server_db"]  # the fixture, imported from _pg


def _rows(store: Path, pk: int) -> dict[str, int]:
    with sqlite3.connect(store) as db:
        counts = {
            table: db.execute(f"SELECT COUNT(*) FROM {table} WHERE run_pk=?", (pk,)).fetchone()[0]
            for table in ("history_blocks", "metric_chunks", "system_metrics")
        }
        counts["runs"] = db.execute("SELECT COUNT(*) FROM runs WHERE pk=?", (pk,)).fetchone()[0]
    return counts


def _pk(store: Path, run_id: str) -> int:
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT pk FROM runs WHERE id=?", (run_id,)).fetchone()[0])


def test_delete_removes_every_row_and_the_run_directory(rh: RhEnv, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    import runhive
    from runhive.errors import UsageError
    from runhive_service.dashboard import UiConfig, create_app

    (tmp_path / "notes.txt").write_text("hello")
    runs = []
    for n in range(2):
        run = runhive.init(project="del", name=f"r{n}", reinit="create_new")
        for i in range(300):
            run.log({"loss": 1 / (i + 1), "epoch": i // 10, "phase": f"p{i // 100}"})
        run.save(str(tmp_path / "notes.txt"), base_path=str(tmp_path))
        art = runhive.Artifact(f"data{n}", "dataset")
        art.add_file(str(tmp_path / "notes.txt"))
        run.log_artifact(art)
        run.finish()
        runs.append(run)
    gone, kept = runs
    api = rh.api()
    # Indexed (metric chunks written) before the delete, so the test sees them go.
    wait_for(lambda: _rows(rh.store, _pk(rh.store, gone.id))["metric_chunks"] > 0, 30, "metric chunks")
    pk_gone, pk_kept = _pk(rh.store, gone.id), _pk(rh.store, kept.id)
    before_kept = _rows(rh.store, pk_kept)
    assert all(before_kept[t] > 0 for t in ("runs", "history_blocks", "metric_chunks"))
    run_dir = Path(api.run(f"del/{gone.id}").dir)
    assert run_dir.is_dir() and any(run_dir.glob("*.rhwal"))

    stale = api.run(f"del/{gone.id}")
    stale.delete()  # W&B's default: delete_artifacts=False

    assert _rows(rh.store, pk_gone) == {
        "history_blocks": 0,
        "metric_chunks": 0,
        "system_metrics": 0,
        "runs": 0,
    }
    assert _rows(rh.store, pk_kept) == before_kept  # the other run is whole
    assert not run_dir.exists()
    api = rh.api()
    assert [r.id for r in api.runs("del")] == [kept.id]
    with pytest.raises(UsageError, match=r"(?i)could not find run"):
        api.run(f"del/{gone.id}")
    with pytest.raises(UsageError, match=r"(?i)could not find run"):
        api.run(gone.id)
    # The artifact it logged stays (delete_artifacts=False), as in W&B.
    assert api.artifact("del/data0:latest").type == "dataset"
    assert "notes.txt" in [f.name for f in api.run(f"del/{kept.id}").files()]
    assert len(list(api.run(f"del/{kept.id}").scan_history())) == 300
    # The dashboard lists only the run left.
    with TestClient(create_app(UiConfig(data_dir=rh.data)), base_url="http://127.0.0.1") as client:
        listed = client.get("/api/runs", params={"project": "del"}).json()
    assert [r["id"] for r in listed] == [kept.id]
    # Deleting it again: it is not there any more.
    with pytest.raises(UsageError, match="could not find run"):
        stale.delete()
    # A new run may take the deleted run's id: it starts empty.
    again = runhive.init(project="del", id=gone.id, reinit="create_new")
    again.log({"loss": 0.5})
    again.finish()
    back = rh.api().run(f"del/{gone.id}")
    assert back.lastHistoryStep == 0 and back.summary["loss"] == 0.5 and back.history_rows == 1


def test_delete_artifacts_removes_the_versions_the_run_logged(rh: RhEnv, tmp_path: Path) -> None:
    import runhive
    from runhive.errors import UsageError

    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    made = []
    for n, name in enumerate(("a.txt", "b.txt")):
        run = runhive.init(project="arts", reinit="create_new")
        art = runhive.Artifact(f"ds{n}", "dataset")
        art.add_file(str(tmp_path / name))
        run.log_artifact(art)
        run.finish()
        made.append(run)
    api = rh.api()
    assert api.artifact("arts/ds0:latest").name.startswith("ds0")
    api.run(f"arts/{made[0].id}").delete(delete_artifacts=True)
    api = rh.api()
    with pytest.raises(UsageError):
        api.artifact("arts/ds0:latest")
    assert api.artifact("arts/ds1:latest").name.startswith("ds1")  # another run's artifact stays
    assert [r.id for r in api.runs("arts")] == [made[1].id]


def test_a_running_run_is_refused(rh: RhEnv) -> None:
    import runhive
    from runhive.errors import UsageError

    run = runhive.init(project="busy")
    run.log({"x": 1})
    api = rh.api()
    wait_for(lambda: len(api.runs("busy")) == 1, 30, "the run in the store")
    with pytest.raises(UsageError, match="still running"):
        api.run(f"busy/{run.id}").delete()
    assert rh.api().run(f"busy/{run.id}").state == "running"
    run.log({"x": 2})
    run.finish()
    rh.api().run(f"busy/{run.id}").delete()
    assert len(rh.api().runs("busy")) == 0


# -- the team server ----------------------------------------------------------------------------------------------


def _seed(db: str) -> tuple[str, str]:
    """alice's project 'cifar' (team-visible: bob may read it, not write) with runs r0 and r1, each with history
    chunks, objects, key summaries and ingest marks; alice's and bob's keys."""
    from runhive_service.server import ServerStore, intern_keys, migrate, open_engine
    from runhive_service.server._schema import (
        history_chunks,
        history_objects,
        projects,
        run_keys,
        runs,
        stream_marks,
    )

    engine = open_engine(db)
    try:
        migrate(engine)
        store = ServerStore(engine)
        alice, alice_key = store.create_user("alice")
        _, bob_key = store.create_user("bob")
        project = store.ensure_project(alice, "alice", "cifar")
        with engine.begin() as conn:
            conn.execute(projects.update().where(projects.c.id == project.id).values(visibility="team"))
            ids = intern_keys(conn, project.id, ["loss", "phase"])
            for n, rid in enumerate(("r0", "r1")):
                conn.execute(
                    runs.insert().values(
                        project_id=project.id,
                        run_id=rid,
                        name=f"run-{n}",
                        state="finished" if rid == "r0" else "running",
                        config={"lr": 0.1},
                        summary={"loss": 0.5},
                        metadata={},
                        tags=[],
                        created_by=alice.id,
                        created_at=1000.0 + n,
                        updated_at=1000.0 + n,
                        last_step=2,
                        history_rows=3,
                    )
                )
                conn.execute(
                    history_chunks.insert().values(
                        project_id=project.id,
                        run_id=rid,
                        key_id=ids["loss"],
                        seg=0,
                        first_step=0,
                        last_step=2,
                        n=3,
                        steps=None,
                        values=[1.0, 0.7, 0.5],
                        vmin=0.5,
                        vmax=1.0,
                        vfirst=1.0,
                        vlast=0.5,
                    )
                )
                conn.execute(
                    history_objects.insert().values(
                        project_id=project.id, run_id=rid, key_id=ids["phase"], step=0, value="warm"
                    )
                )
                conn.execute(
                    run_keys.insert().values(project_id=project.id, run_id=rid, key_id=ids["loss"], n=3)
                )
                conn.execute(
                    stream_marks.insert().values(
                        project_id=project.id, run_id=rid, writer="w", seg=0, seq=3, updated_at=1000.0
                    )
                )
    finally:
        engine.dispose()
    return alice_key.key, bob_key.key


def _count(db: str, run_id: str) -> dict[str, int]:
    import sqlalchemy as sa

    from runhive_service.server import open_engine
    from runhive_service.server._schema import history_chunks, history_objects, run_keys, runs, stream_marks

    engine = open_engine(db)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(
                    sa.select(sa.func.count()).select_from(t).where(t.c.run_id == run_id)
                ).scalar_one()
                for t in (runs, history_chunks, history_objects, run_keys, stream_marks)
            }
    finally:
        engine.dispose()


def test_delete_on_the_team_server(rh: RhEnv, server_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import runhive
    from runhive.errors import UsageError

    monkeypatch.setenv("RUNHIVE_CONFIG_DIR", str(rh.root / "config"))
    alice_key, bob_key = _seed(server_db)
    server = ServerProcess(server_db)
    try:
        url = server.wait_ready()
        alice = runhive.Api(overrides={"base_url": url}, api_key=alice_key)
        bob = runhive.Api(overrides={"base_url": url}, api_key=bob_key)
        assert [r.id for r in bob.runs("alice/cifar")] == ["r0", "r1"]  # bob may read
        with pytest.raises(UsageError, match="bob"):
            bob.run("alice/cifar/r0").delete()
        assert all(n == 1 for n in _count(server_db, "r0").values())
        with pytest.raises(UsageError, match="still running"):
            alice.run("alice/cifar/r1").delete()
        alice.run("alice/cifar/r0").delete()
        assert _count(server_db, "r0") == dict.fromkeys(_count(server_db, "r0"), 0)
        assert all(n == 1 for n in _count(server_db, "r1").values())  # the other run is whole
        assert [r.id for r in alice.runs("alice/cifar")] == ["r1"]
        with pytest.raises(UsageError, match=r"(?i)could not find run"):
            alice.run("alice/cifar/r0")
        assert [r["loss"] for r in alice.run("alice/cifar/r1").scan_history()] == [1.0, 0.7, 0.5]
    finally:
        code = server.stop()
    assert code == 0, server.lines
