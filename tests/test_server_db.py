"""The team server's database layer on both backends (SQLite and a real PostgreSQL 15): migrations on a fresh
database, the migrated schema equal to the models, eight processes migrating (and eight servers starting) at once
on one fresh database, a schema from a newer runhive refused, and the column types that differ per backend."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from _pg import ServerProcess, http, server_db, wait_until
from runhive_service.server import SchemaError, head_revision, migrate, open_engine
from runhive_service.server._migrate import check_schema, current_revision
from runhive_service.server._schema import entities, history_chunks, metadata, projects, runs, users

__all__ = ["server_db"]  # the fixture, imported from _pg

TABLES = {
    "alembic_version",
    "api_keys",
    "artifact_aliases",
    "artifact_collections",
    "artifact_files",
    "artifact_runs",
    "artifact_versions",
    "deleted_runs",
    "entities",
    "history_chunks",
    "history_objects",
    "memberships",
    "metric_keys",
    "projects",
    "sessions",
    "run_files",
    "run_keys",
    "runs",
    "stream_marks",
    "sweep_runs",
    "sweeps",
    "system_metrics",
    "users",
}


def _version_rows(url: str) -> list[str]:
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def test_migrations_create_the_schema_on_a_fresh_database(server_db: str) -> None:
    engine = open_engine(server_db)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) is None
            assert set(inspect(conn).get_table_names()) == set()
        assert migrate(engine) == head_revision()
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == TABLES
        assert migrate(engine) == head_revision(), "a second upgrade is a no-op"
        assert check_schema(engine) == head_revision()
        # The project id leads the key of every table of run data (Citus-ready).
        with engine.connect() as conn:
            insp = inspect(conn)
            for table in (
                "runs",
                "metric_keys",
                "run_keys",
                "history_chunks",
                "history_objects",
                "stream_marks",
                "sweeps",
                "sweep_runs",
                "run_files",
                "system_metrics",
                "deleted_runs",
            ):
                assert insp.get_pk_constraint(table)["constrained_columns"][0] == "project_id", table
    finally:
        engine.dispose()
    assert _version_rows(server_db) == [head_revision()]


def test_the_migrated_schema_is_the_models(server_db: str) -> None:
    """What the migrations build equals `_schema` (Alembic's autogenerate finds nothing to do): a model changed
    without a migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = open_engine(server_db)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()
    assert diff == []


MIGRATE_WHEN_TOLD = """
import os, sys, time
from pathlib import Path
from alembic.script import ScriptDirectory
from runhive_service.server import migrate, open_engine
from runhive_service.server._migrate import alembic_config
# Everything slow first (imports, the first connection, reading the migrations), then a start line, so that the
# eight upgrades really overlap: without the lock, 7 of 8 fail here on PostgreSQL (duplicate alembic_version).
ScriptDirectory.from_config(alembic_config())
engine = open_engine(sys.argv[1])
engine.connect().close()
go = Path(sys.argv[2])
(go.parent / f"ready-{os.getpid()}").touch()
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no go")
    time.sleep(0.001)
print(migrate(engine))
"""


def test_eight_processes_migrate_one_fresh_database_at_once(server_db: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(MIGRATE_WHEN_TOLD), server_db, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    try:
        wait_until(lambda: len(list(tmp_path.glob("ready-*"))) == 8, 120, "8 processes at the start line")
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    failures = [(p.returncode, err) for p, (_, err) in zip(procs, results, strict=True) if p.returncode != 0]
    assert not failures, failures
    assert [out.strip() for out, _ in results] == [head_revision()] * 8
    assert _version_rows(server_db) == [head_revision()]


def test_eight_servers_start_at_once_on_a_fresh_database(server_db: str) -> None:
    servers = [ServerProcess(server_db) for _ in range(8)]
    try:
        urls = [s.wait_ready(timeout=120) for s in servers]
        assert len(set(urls)) == 8
        for url in urls:
            status, body, _ = http(url + "healthz")
            assert (status, body) == (200, {"ok": True, "schema": head_revision()})
    finally:
        codes = [s.stop() for s in servers]
    assert codes == [0] * 8, [s.lines for s in servers]
    assert all(s.lines[-1] == "runhive server: stopped" for s in servers), "SIGTERM stops a server gracefully"
    assert _version_rows(server_db) == [head_revision()]


def test_a_schema_this_runhive_does_not_know_is_refused(server_db: str) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "runhive.cli._main",
            "server",
            "--db",
            server_db,
            "--port",
            "0",
            "--no-migrate",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        res.returncode == 2
        and "the database's schema is at revision None and this runhive needs" in res.stderr
    )
    engine = open_engine(server_db)
    try:
        with pytest.raises(SchemaError, match="at revision None and this runhive needs"):
            check_schema(engine)
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaError, match="revision '9999', which this runhive does not know"):
            migrate(engine)
        res = subprocess.run(
            [sys.executable, "-m", "runhive.cli._main", "server", "--db", server_db, "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 2
        assert "a newer runhive migrated it; upgrade runhive on this host" in res.stderr
    finally:
        engine.dispose()


def test_history_arrays_and_json_documents_round_trip(server_db: str) -> None:
    engine = open_engine(server_db)
    try:
        migrate(engine)
        now = time.time()
        values = [0.5, -1.25, math.inf, -math.inf, math.nan, 1e300, 5e-324]
        steps = [0, 1, 2, 10, 11, 2**40, 2**62]
        config = {"lr": 0.1, "layers": [1, 2, {"x": None}], "name": "é ✓"}
        with engine.begin() as conn:
            eid = conn.execute(
                entities.insert().values(name="alice", kind="user", created_at=now).returning(entities.c.id)
            ).scalar_one()
            uid = conn.execute(
                users.insert().values(name="alice", entity_id=eid, created_at=now).returning(users.c.id)
            ).scalar_one()
            pid = conn.execute(
                projects.insert()
                .values(entity_id=eid, name="cifar", created_by=uid, created_at=now)
                .returning(projects.c.id)
            ).scalar_one()
            conn.execute(
                runs.insert().values(
                    project_id=pid,
                    run_id="r1",
                    config=config,
                    summary={"loss": 0.25},
                    created_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                history_chunks.insert().values(
                    project_id=pid,
                    run_id="r1",
                    key_id=1,
                    first_step=0,
                    last_step=2**62,
                    n=len(values),
                    steps=steps,
                    values=values,
                    vmin=-math.inf,
                    vmax=math.inf,
                    vfirst=0.5,
                    vlast=5e-324,
                )
            )
            conn.execute(
                history_chunks.insert().values(
                    project_id=pid,
                    run_id="r1",
                    key_id=2,
                    first_step=0,
                    last_step=2,
                    n=3,
                    steps=None,
                    values=[1, 2, 3],
                )
            )
        with engine.connect() as conn:
            row = conn.execute(select(runs.c.config, runs.c.summary, runs.c.state, runs.c.tags)).one()
            assert (row.config, row.summary, row.state, row.tags) == (config, {"loss": 0.25}, "running", [])
            got = conn.execute(select(history_chunks).order_by(history_chunks.c.key_id)).all()
            assert got[0].steps == steps
            assert (
                got[0].values[:4] == values[:4]
                and math.isnan(got[0].values[4])
                and got[0].values[5:] == values[5:]
            )
            assert (got[1].steps, got[1].values) == (None, [1.0, 2.0, 3.0])
            assert conn.execute(select(func.count()).select_from(projects)).scalar_one() == 1
            # a new project is private
            assert conn.execute(select(projects.c.visibility)).scalar_one() == "private"
    finally:
        engine.dispose()


def test_database_urls_are_checked() -> None:
    from runhive_service.server import InvalidArgument, database_url, shown_url

    assert database_url("postgresql://u@h:5/db").drivername == "postgresql+psycopg"
    assert database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("sqlite:////tmp/x.db").database == "/tmp/x.db"
    assert shown_url(database_url("postgresql://u:s3cret@h:5/db")) == "postgresql://u:***@h:5/db"
    for bad in ("mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "not a url"):
        with pytest.raises(InvalidArgument, match="is not a database runhive server can use"):
            database_url(bad)


def test_the_cluster_helper_waits_on_conditions() -> None:
    assert wait_until(lambda: 3, 1, "three") == 3
    with pytest.raises(AssertionError, match="waiting for never"):
        wait_until(lambda: None, 0.05, "never", interval=0.01)


def test_metric_keys_are_interned_once_per_project_even_by_racing_replicas(server_db: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from runhive_service.server import ServerStore, intern_keys
    from runhive_service.server._schema import metric_keys

    engine = open_engine(server_db, pool_size=8)
    try:
        migrate(engine)
        store = ServerStore(engine)
        alice, _ = store.create_user("alice")
        one = store.ensure_project(alice, "alice", "one").id
        two = store.ensure_project(alice, "alice", "two").id
        with engine.begin() as conn:
            assert intern_keys(conn, one, ["loss", "acc", "loss"]) == {"acc": 1, "loss": 2}
            assert intern_keys(conn, one, ["loss", "lr"]) == {"loss": 2, "lr": 3}
            assert intern_keys(conn, two, ["lr"]) == {"lr": 1}, "ids are per project"
            with pytest.raises(ValueError, match="must be 1 to 4096 characters"):
                intern_keys(conn, two, [""])

        def intern(i: int) -> dict[str, int]:
            # Overlapping windows, each in its own order: before the per-project advisory lock, PostgreSQL aborted
            # some of these as deadlocks (the two unique indexes were locked in different orders).
            keys = [f"k{j}" for j in range(i, i + 20)]
            random.Random(i).shuffle(keys)
            with engine.begin() as conn:
                return intern_keys(conn, two, keys)

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(intern, [*range(0, 80, 5), *range(3, 78, 3)]))
        merged: dict[str, int] = {"lr": 1}
        for got in results:
            for key, key_id in got.items():
                assert merged.setdefault(key, key_id) == key_id, f"{key} got two ids"
        with engine.connect() as conn:
            stored = dict(
                conn.execute(
                    select(metric_keys.c.key, metric_keys.c.key_id).where(metric_keys.c.project_id == two)
                ).all()
            )
        assert stored == merged and len(set(stored.values())) == len(stored) == 1 + 95
    finally:
        engine.dispose()
