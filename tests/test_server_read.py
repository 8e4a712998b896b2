"""The team server's read API and `ServerBackend` (issue 14), on SQLite and a real PostgreSQL 15: runs logged to the
local store are copied into the server's tables straight through SQLAlchemy (runs, interned keys, history chunks of
100 points with min/max/last, non-numeric values, a sweep); then `runhive.Api(overrides={"base_url": ...},
api_key=...)` against a real `runhive server` process gives back what the local store gives: run records, history
rows (all, pages, key subsets, step ranges, samples), metric series, projects and the sweep. Another user's private
project is refused with a message naming the user, the project and the fix; a wrong or missing key says so."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from _pg import ServerProcess, server_db
from conftest import RhEnv
from runhive_service.server import ServerStore, intern_keys, migrate, open_engine

__all__ = ["server_db"]  # the fixture, imported from _pg

CHUNK = 100

LOG = """
import math
import runhive

for n, lr in enumerate((0.1, 0.01)):
    run = runhive.init(entity="alice", project="cifar", config={"lr": lr, "arch": {"depth": 3 + n}}, name=f"r{n}",
                       tags=["t", str(n)], group="g", job_type="train", notes="note")
    for i in range(250 + 50 * n):
        row = {"loss": 1.0 / (i + 1) + lr, "epoch": i // 10}
        if i % 7 == 0:
            row["acc"] = i / 1000
        if i == 5:
            row["loss"] = math.nan
        if i % 50 == 0:
            row["phase"] = f"p{i // 50}"
        run.log(row)
    run.finish()

sweep_id = runhive.sweep({"method": "grid", "metric": {"name": "score", "goal": "maximize"},
                          "parameters": {"x": {"values": [1, 2]}}}, entity="alice", project="cifar")

def train():
    run = runhive.init()
    for i in range(20):
        run.log({"score": run.config.x * i})

runhive.agent(sweep_id, function=train, count=2)
print("SWEEP", sweep_id)
"""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _copy_to_server(db: str, api: Any) -> tuple[str, str]:
    """Users alice and bob; alice's project 'cifar' holding the local store's runs and sweep. Their keys."""
    import sqlalchemy as sa

    from runhive_service.server._schema import history_chunks, history_objects, runs, sweeps

    engine = open_engine(db)
    try:
        migrate(engine)
        store = ServerStore(engine)
        alice, alice_key = store.create_user("alice")
        _, bob_key = store.create_user("bob")
        project = store.ensure_project(alice, "alice", "cifar")
        swept = {r.id: s for s in api.sweeps("alice/cifar") for r in s.runs}
        with engine.begin() as conn:
            for s in api.sweeps("alice/cifar"):
                rec = s._record
                conn.execute(
                    sweeps.insert().values(
                        project_id=project.id,
                        sweep_id=rec.id,
                        name=rec.name,
                        config=rec.config,
                        state=rec.state,
                        created_by=alice.id,
                        created_at=rec.created_at,
                        updated_at=rec.created_at,
                    )
                )
            for run in api.runs("alice/cifar"):
                r = run._record
                conn.execute(
                    runs.insert().values(
                        project_id=project.id,
                        run_id=r.id,
                        name=r.name,
                        notes=r.notes,
                        tags=r.tags,
                        group=r.group,
                        job_type=r.job_type,
                        state=r.state,
                        exit_code=r.exit_code,
                        config=r.config,
                        summary=r.summary,
                        metadata=r.metadata,
                        sweep_id=swept[r.id].id if r.id in swept else None,
                        created_by=alice.id,
                        created_at=r.created_at,
                        updated_at=r.updated_at,
                        last_step=r.last_step,
                        history_rows=r.history_rows,
                    )
                )
                numbers: dict[str, list[tuple[int, float]]] = {}
                objects: list[tuple[str, int, Any]] = []
                for row in run.scan_history():
                    step = row["_step"]
                    for k, v in row.items():
                        if k == "_step":
                            continue
                        if _is_number(v):
                            numbers.setdefault(k, []).append((step, float(v)))
                        else:
                            objects.append((k, step, v))
                ids = intern_keys(conn, project.id, [*numbers, *(k for k, _, _ in objects)])
                for key, points in numbers.items():
                    for i in range(0, len(points), CHUNK):
                        part = points[i : i + CHUNK]
                        steps = [p[0] for p in part]
                        values = [p[1] for p in part]
                        dense = steps == list(range(steps[0], steps[0] + len(steps)))
                        clean = [v for v in values if not math.isnan(v)]
                        conn.execute(
                            history_chunks.insert().values(
                                project_id=project.id,
                                run_id=r.id,
                                key_id=ids[key],
                                seg=0,
                                first_step=steps[0],
                                last_step=steps[-1],
                                n=len(part),
                                steps=None if dense else steps,
                                values=values,
                                vmin=min(clean) if clean else None,
                                vmax=max(clean) if clean else None,
                                vfirst=values[0],
                                vlast=values[-1],
                            )
                        )
                for key, step, value in objects:
                    conn.execute(
                        history_objects.insert().values(
                            project_id=project.id, run_id=r.id, key_id=ids[key], step=step, value=value
                        )
                    )
            assert conn.execute(sa.select(sa.func.count()).select_from(history_chunks)).scalar_one() > 6
    finally:
        engine.dispose()
    return alice_key.key, bob_key.key


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def _record(run: Any) -> Any:
    """The run's record as compared: `dir` is where the run was logged on its node, which a server does not hold."""
    return dataclasses.replace(run._record, dir="")


@pytest.fixture
def served(rh: RhEnv, server_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str, str]]:
    """(server URL, alice's key, bob's key, sweep id) over the runs `LOG` stored locally. No login file but the
    test's own (the process's `RUNHIVE_CONFIG_DIR`)."""
    monkeypatch.setenv("RUNHIVE_CONFIG_DIR", str(rh.root / "config"))
    res = rh.run(LOG, env={"RUNHIVE_AGENT_HEARTBEAT": "0.2"}, timeout=240)
    sweep_id = next(ln.split()[1] for ln in res.stdout.splitlines() if ln.startswith("SWEEP "))
    import runhive

    with runhive.Api() as local:
        alice_key, bob_key = _copy_to_server(server_db, local)
    server = ServerProcess(server_db)
    try:
        yield server.wait_ready(), alice_key, bob_key, sweep_id
    finally:
        code = server.stop()
    assert code == 0, server.lines


def test_the_server_gives_back_what_the_local_store_gives(served: tuple[str, str, str, str]) -> None:
    import runhive

    url, alice_key, _, sweep_id = served
    local = runhive.Api()
    remote = runhive.Api(overrides={"base_url": url}, api_key=alice_key)
    assert "team server" in remote._backend.where and "local store" in local._backend.where

    lruns, rruns = local.runs("alice/cifar"), remote.runs("alice/cifar")
    assert len(lruns) == 4
    assert [_record(r) for r in rruns] == [_record(r) for r in lruns]
    assert [r.id for r in remote.runs("cifar")] == [r.id for r in lruns]  # entity left open
    assert [r.id for r in remote.runs("alice/cifar", order="-created_at")] == [r.id for r in reversed(lruns)]
    assert [r.id for r in remote.runs("alice/cifar", filters={"config.lr": 0.01})] == [lruns[1].id]
    assert [r.id for r in remote.runs_since("alice/cifar", lruns[2].updated_at)] == [
        r.id for r in local.runs_since("alice/cifar", lruns[2].updated_at)
    ]
    assert _record(remote.run(f"alice/cifar/{lruns[0].id}")) == _record(lruns[0])
    assert _record(remote.run(lruns[1].id)) == _record(lruns[1])
    with pytest.raises(runhive.UsageError, match="Could not find run 'alice/cifar/nope' in the team server"):
        remote.run("alice/cifar/nope")

    for lr, rr in zip(lruns, rruns, strict=True):
        every = lr.history(samples=None, pandas=False)
        assert len(every) == lr._record.history_rows
        assert _same(rr.history(samples=None, pandas=False), every)
        assert _same(list(rr.scan_history(page_size=7)), every)  # many small pages, in order
        assert _same(list(rr.scan_history(keys=["acc"], page_size=5)), list(lr.scan_history(keys=["acc"])))
        assert _same(
            list(rr.scan_history(keys=["phase"])), list(lr.scan_history(keys=["phase"]))
        )  # non-numeric values
        assert _same(
            list(rr.scan_history(min_step=40, max_step=123, page_size=9)),
            list(lr.scan_history(min_step=40, max_step=123)),
        )
        for keys in (["loss"], ["loss", "epoch"], ["acc", "epoch"]):
            assert _same(
                rr.history(samples=50, keys=keys, pandas=False),
                lr.history(samples=50, keys=keys, pandas=False),
            )
        assert _same(rr.history(samples=50, pandas=False), lr.history(samples=50, pandas=False))
    for rr in rruns[:2]:
        sample = rr.history(samples=None, keys=["epoch"], pandas=False)
        assert sample and all(type(row["epoch"]) is int for row in sample)  # logged as ints, read as ints
    for buckets in (1000, 60, 7):
        for key in ("loss", "acc", "score"):
            assert _same(remote.metrics(key, rruns, buckets), local.metrics(key, lruns, buckets)), (
                key,
                buckets,
            )
    assert _same(rruns[0].metric("loss", 1000), lruns[0].metric("loss", 1000))
    assert remote.metrics("never-logged", rruns) == {}

    assert remote.project_summaries() == local.project_summaries()
    assert remote.projects("alice") == local.projects("alice") == ["cifar"]

    lsweep, rsweep = local.sweep(f"alice/cifar/{sweep_id}"), remote.sweep(f"alice/cifar/{sweep_id}")
    assert dataclasses.replace(rsweep._record, handle=None) == dataclasses.replace(
        lsweep._record, handle=None
    )
    assert remote.sweep(sweep_id)._record.id == sweep_id
    assert [r.id for r in rsweep.runs] == [r.id for r in lsweep.runs] and len(lsweep.runs) == 2
    best = rsweep.best_run()
    assert best is not None and best.id == getattr(lsweep.best_run(), "id", None) and best.config["x"] == 2
    assert [s._record.id for s in remote.sweeps("alice/cifar")] == [sweep_id]
    assert list(remote.runs("alice/nothing-yet")) == []  # a project not created yet reads as empty
    assert rruns[0].history(stream="system", pandas=False) == []  # the server keeps no system metrics yet


def test_other_users_private_project_and_bad_keys_are_refused(
    served: tuple[str, str, str, str], server_db: str
) -> None:
    import runhive

    url, alice_key, bob_key, _ = served
    bob = runhive.Api(overrides={"base_url": url}, api_key=bob_key)
    with pytest.raises(runhive.UsageError) as refused:
        list(bob.runs("alice/cifar"))  # list(): Api.runs may read lazily, as W&B's Runs do
    message = str(refused.value)
    assert "permission denied" in message and "user 'bob'" in message and "'alice/cifar'" in message
    assert (
        "(private)" in message and "set the project to Team or Open" in message and url.rstrip("/") in message
    )
    with pytest.raises(runhive.UsageError, match="user 'bob' may not read 'alice/cifar'"):
        bob.run("alice/cifar/anything")
    assert (
        list(bob.runs("cifar")) == [] and bob.project_summaries() == []
    )  # what bob may not read is not listed
    with pytest.raises(runhive.UsageError, match="entity 'carol' does not exist"):
        list(bob.runs("carol/cifar"))

    with pytest.raises(runhive.UsageError, match="invalid API key: the server does not know it"):
        list(runhive.Api(overrides={"base_url": url}, api_key=alice_key[:-3] + "xyz").runs("alice/cifar"))
    with pytest.raises(runhive.UsageError, match="not logged in"):
        list(runhive.Api(overrides={"base_url": url}).runs("alice/cifar"))

    # Alice opens the project to the team: bob reads the same runs.
    engine = open_engine(server_db)
    try:
        store = ServerStore(engine)
        store.set_visibility(store.user("alice"), "alice", "cifar", "team")
    finally:
        engine.dispose()
    alice = runhive.Api(overrides={"base_url": url}, api_key=alice_key)
    assert [_record(r) for r in bob.runs("alice/cifar")] == [_record(r) for r in alice.runs("alice/cifar")]
    assert [p.name for p in bob.project_summaries()] == ["cifar"]


def test_the_server_is_found_from_the_environment_and_the_login_file(
    served: tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import runhive
    from runhive.cli._login import write_file

    url, alice_key, _, _ = served
    local_ids = [r.id for r in runhive.Api().runs("alice/cifar")]
    monkeypatch.setenv("RUNHIVE_BASE_URL", url)
    monkeypatch.setenv("RUNHIVE_API_KEY", alice_key)
    api = runhive.Api()
    assert "team server" in api._backend.where and [r.id for r in api.runs("alice/cifar")] == local_ids
    # An explicit local store is read as such, not the configured server (the dashboard's `runhive ui`).
    assert "local store" in runhive.Api(overrides={"data_dir": os.environ["RUNHIVE_DATA_DIR"]})._backend.where

    monkeypatch.delenv("RUNHIVE_BASE_URL")
    monkeypatch.delenv("RUNHIVE_API_KEY")
    assert "local store" in runhive.Api()._backend.where
    write_file(url.rstrip("/"), alice_key)  # what `runhive login --host URL KEY` stores
    api = runhive.Api()
    assert "team server" in api._backend.where and [r.id for r in api.runs("alice/cifar")] == local_ids
    api = runhive.Api(overrides={"base_url": url})  # the key stored for that server is used
    assert [r.id for r in api.runs("alice/cifar")] == local_ids


def test_reading_a_server_imports_neither_sqlalchemy_nor_the_server(
    served: tuple[str, str, str, str],
) -> None:
    url, alice_key, _, _ = served
    code = (
        "import sys, runhive\n"
        "api = runhive.Api(overrides={'base_url': sys.argv[1]}, api_key=sys.argv[2])\n"
        "runs = api.runs('alice/cifar')\n"
        "assert len(runs) == 4 and runs[0].history(samples=None, pandas=False)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'starlette', 'psycopg')]\n"
        "bad += [m for m in sys.modules if m.startswith('runhive_service.server')]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, url, alice_key], capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, res.stderr
