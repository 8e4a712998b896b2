"""W&B's `Api().run(path).delete(delete_artifacts=False)` (issue 13), on both read backends.

Local store: the delete goes through the daemon (`DeleteRun`, on the store's writer): every row of the run leaves
the SQLite store, its run directory (WAL included) goes, and it is gone from `Api().runs()`, `Api().run()` and the
dashboard; other runs stay whole; a running run is refused; `delete_artifacts=True` removes the versions it logged.
Team server (SQLite and PostgreSQL 15): the run and its rows go, for a user who may write to the project only;
the file bytes only it referenced leave the file store (shared ones stay until their last reference goes); a late
upload of the deleted run (records, samples, files, a daemon's resend, init() of its id) is refused with 410
RUN_DELETED and creates nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

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
    for run in runs:  # both: the kept run's rows are counted before the delete too
        wait_for(lambda r=run: _rows(rh.store, _pk(rh.store, r.id))["metric_chunks"] > 0, 60, "metric chunks")
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


# -- the team server: file bytes and late uploads of a deleted run -------------------------------------------------


def _send(
    method: str, url: str, key: str, body: bytes = b"", ctype: str = "application/json"
) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Authorization": f"Bearer {key}", "Content-Type": ctype}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _blob(files: Path, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    return files / "sha256" / sha[:2] / sha


def test_delete_on_the_server_frees_unshared_bytes_and_refuses_late_uploads(
    server_db: str, tmp_path: Path
) -> None:
    """Run r0 holds a file of its own and one that r1 holds too: deleting r0 removes only the bytes no other row
    references; deleting r1 then removes the shared ones. Every later upload to r0 (open, records, samples,
    files) answers 410 RUN_DELETED and creates nothing."""
    import runhive
    from runhive.protocol.v1 import service_pb2 as pb
    from test_upload_server import admin, query

    key = admin(server_db, "user", "create", "alice")
    files = tmp_path / "files"
    server = ServerProcess(server_db, "--files", str(files))
    try:
        url = server.wait_ready().rstrip("/")
        own, shared = b"only r0 has these bytes", b"r0 and r1 share these bytes"
        ended = pb.RecordBatch(writer="w")
        ended.records.add(seq=1, exit=pb.ExitRecord(exit_code=0, state="finished"))
        for rid, contents in (("r0", {"own.txt": own, "shared.txt": shared}), ("r1", {"copy.txt": shared})):
            assert _send("POST", f"{url}/api/v1/streams/alice/p/{rid}", key)[0] == 200
            status, doc = _send(
                "POST", f"{url}/api/v1/streams/alice/p/{rid}/w?prev=0", key, ended.SerializeToString(), "x"
            )
            assert status == 200, doc
            for name, data in contents.items():
                sha = hashlib.sha256(data).hexdigest()
                status, doc = _send("PUT", f"{url}/api/v1/files/alice/p/{rid}/{name}?sha256={sha}", key, data)
                assert status == 200, doc
        assert _blob(files, own).exists() and _blob(files, shared).exists()
        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        assert api.run("alice/p/r0").state == "finished"
        api.run("alice/p/r0").delete()
        assert not _blob(files, own).exists(), "bytes only the deleted run referenced are gone"
        assert _blob(files, shared).exists(), "bytes another run references stay"
        assert (
            api.run("alice/p/r1").file("copy.txt").download(root=str(tmp_path / "dl")).read()
            == shared.decode()
        )

        late = {
            "open": ("POST", f"{url}/api/v1/streams/alice/p/r0", b"", "x"),
            "records": ("POST", f"{url}/api/v1/streams/alice/p/r0/w?prev=1", ended.SerializeToString(), "x"),
            "samples": (
                "POST",
                f"{url}/api/v1/system/alice/p/r0/node1",
                b'{"samples": [[1.0, 1.0, {}]]}',
                "j",
            ),
            "files": (
                "POST",
                f"{url}/api/v1/files/alice/p/r0",
                json.dumps({"files": [{"path": "own.txt", "sha256": "0" * 64, "size": 1}]}).encode(),
                "j",
            ),
            "bytes": (
                "PUT",
                f"{url}/api/v1/files/alice/p/r0/own.txt?sha256={hashlib.sha256(own).hexdigest()}",
                own,
                "x",
            ),
        }
        for what, (method, where, body, ctype) in late.items():
            status, doc = _send(method, where, key, body, "application/json" if ctype == "j" else "x")
            assert (status, doc.get("code")) == (410, "RUN_DELETED"), (what, status, doc)
            assert doc["error"].startswith("run 'alice/p/r0' was deleted on the server at "), doc
            assert "start a new run (another id)" in doc["error"]
        assert query(server_db, "SELECT COUNT(*) FROM runs WHERE run_id = 'r0'")[0][0] == 0, "not recreated"
        assert not _blob(files, own).exists(), "a refused upload stores no bytes"
        api.run("alice/p/r1").delete()
        assert not _blob(files, shared).exists(), "the last reference gone: the shared bytes go too"
    finally:
        assert server.stop() == 0, server.lines


LOG_AND_FINISH = """
import sys, runhive
run = runhive.init(project="p", id=sys.argv[1] or None, resume="allow" if sys.argv[1] else None)
run.log({"loss": 1.0})
run.finish()
print("ID", run.id, flush=True)
"""


def test_the_uploader_treats_a_deleted_run_as_final(rh: RhEnv, tmp_path: Path) -> None:
    """A daemon that resends a run deleted on the server (its progress file lost the acknowledgement) is refused
    once and records the refusal; init() of the deleted id fails with the server's words."""
    import runhive
    from test_upload_server import admin, client_env, query

    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready().rstrip("/")
        rh.environ.update(client_env(rh, url, key))
        run_id = rh.run(LOG_AND_FINISH, "").stdout.split("ID ")[1].split()[0]
        runhive.Api(overrides={"base_url": url}, api_key=key).run(f"alice/p/{run_id}").delete()

        again = rh.run(LOG_AND_FINISH, run_id, check=False)
        assert again.returncode != 0
        assert f"run 'alice/p/{run_id}' was deleted on the server at " in again.stderr, again.stderr

        for pid in rh.daemon_pids():  # this test's daemon, restarted below with a progress file sent from 0
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not rh.daemon_pids(), 10, "the daemon gone")
        run_dir = rh.api().run(f"alice/p/{run_id}").dir
        progress = (
            rh.data / "uploads" / f"{hashlib.sha256(f'alice/p/{run_id}'.encode()).hexdigest()[:32]}.json"
        )
        progress.write_text(
            json.dumps(
                {
                    "url": url,
                    "api_key": key,
                    "entity": "alice",
                    "project": "p",
                    "run_id": run_id,
                    "run_dir": run_dir,
                    "offset": 0,
                    "marks": {},
                    "error": "",
                }
            )
        )
        rh.cli("service", "start")

        def refused() -> str:
            try:
                return str(json.loads(progress.read_text()).get("error") or "")
            except (OSError, ValueError):
                return ""

        error = wait_for(refused, 60, "the refusal recorded in the progress file")
        assert "was deleted on the server" in error and "410" in error, error
        assert query(db, "SELECT COUNT(*) FROM runs WHERE run_id = :r", r=run_id)[0][0] == 0, "not recreated"
    finally:
        assert server.stop() == 0, server.lines


def test_a_blob_referenced_while_its_removal_waits_stays(server_db: str, tmp_path: Path) -> None:
    """The race `lock_blob` closes: an upload that found the blob present holds its lock while it writes the row
    that references it; the removal of a deleted run's blobs, started meanwhile, waits, then sees the reference and
    keeps the bytes. Afterwards, with the last reference gone, the same removal deletes them."""
    import threading

    import sqlalchemy as sa

    from runhive_service.server import ServerStore, migrate, open_engine
    from runhive_service.server._filestore import DirectoryStore, blob_key, lock_blob, release_blobs
    from runhive_service.server._schema import run_files, runs

    data = b"bytes two runs share"
    sha = hashlib.sha256(data).hexdigest()
    (tmp_path / "blob").write_bytes(data)
    files = DirectoryStore(tmp_path / "files")
    files.put(blob_key(sha), tmp_path / "blob")
    engine = open_engine(server_db)
    try:
        migrate(engine)
        store = ServerStore(engine)
        alice, _ = store.create_user("alice")
        project = store.ensure_project(alice, "alice", "p")
        result: list[list[str]] = []
        with engine.begin() as conn:  # the upload: the blob is there, so only the row is written
            lock_blob(conn, sha)
            conn.execute(
                runs.insert().values(
                    project_id=project.id,
                    run_id="r1",
                    created_at=1.0,
                    updated_at=1.0,
                    tags=[],
                    config={},
                    summary={},
                    metadata={},
                )
            )
            conn.execute(
                run_files.insert().values(
                    project_id=project.id,
                    run_id="r1",
                    path="copy.txt",
                    sha256=sha,
                    size=len(data),
                    created_at=1.0,
                )
            )
            remover = threading.Thread(target=lambda: result.append(release_blobs(engine, files, [sha])))
            remover.start()
            if engine.dialect.name == "postgresql":  # it waits on the lock (SQLite: on BEGIN IMMEDIATE)
                with engine.connect() as watch:
                    wait_for(
                        lambda: watch.execute(
                            sa.text(
                                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                            )
                        ).scalar_one(),
                        10,
                        "the removal waiting for the blob's lock",
                    )
        remover.join(30)
        assert result == [[]] and files.exists(blob_key(sha)), "referenced when the removal looked: kept"
        with engine.begin() as conn:
            conn.execute(run_files.delete())
        assert release_blobs(engine, files, [sha]) == [sha] and not files.exists(blob_key(sha))
    finally:
        engine.dispose()
