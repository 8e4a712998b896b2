"""The public read API as W&B's (issue 13): history as a DataFrame, lazy `Runs`, `Project`, edits persisted through the
daemon, run files, artifacts and their lineage, W&B's extra names. A real daemon per test (the `rh` fixture)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from _pg import ServerProcess, server_db
from conftest import RhEnv, wait_for

__all__ = ["server_db"]  # the fixture, imported from _pg


def test_history_is_a_dataframe_of_500_samples_by_default(rh: RhEnv) -> None:
    import runhive

    run = runhive.init(project="hist")
    for i in range(1200):
        run.log({"loss": 1.0 / (i + 1), "epoch": i // 100})
    run.finish()
    api_run = rh.api().run(f"hist/{run.id}")
    df = api_run.history()
    assert isinstance(df, pd.DataFrame) and len(df) == 500  # W&B's samples=500
    assert set(df.columns) >= {"_step", "loss", "epoch"}
    rows = api_run.history(pandas=False)
    assert isinstance(rows, list) and len(rows) == 500 and rows[0]["_step"] == 0
    assert len(api_run.history(samples=None, pandas=False)) == 1200
    keyed = api_run.history(keys=["epoch"], samples=10, pandas=False)
    assert len(keyed) == 10 and all(set(r) == {"_step", "epoch"} and type(r["epoch"]) is int for r in keyed)
    assert len(list(api_run.scan_history())) == 1200  # unchanged: every row


def test_runs_is_lazy_and_has_histories(rh: RhEnv) -> None:
    import runhive

    api = rh.api()
    runs = api.runs("lazy", per_page=7)
    assert type(runs).__name__ == "Runs" and runs.per_page == 7
    made = []
    for k in range(3):  # logged after runs() was called: the object reads when it is used
        r = runhive.init(project="lazy", name=f"r{k}", reinit="create_new")
        for i in range(4):
            r.log({"x": i * (k + 1)})
        r.finish()
        made.append(r.id)
    assert len(runs) == 3
    assert [r.id for r in runs] == made and runs[0].id == made[0] and runs[-1].id == made[-1]
    assert [r.id for r in runs[1:]] == made[1:]
    hist = runs.histories(keys=["x"])
    assert len(hist) == 12 and {h["run_id"] for h in hist} == set(made)
    df = runs.histories(samples=2, format="pandas")
    assert isinstance(df, pd.DataFrame) and len(df) == 6 and list(df.columns) == sorted(df.columns)
    with pytest.raises(ValueError):
        runs.histories(format="polars")
    # Project objects
    entity = made and runs[0].entity
    assert api.default_entity == entity
    projects = api.projects()
    assert [p.name for p in projects] == ["lazy"] and projects[0].entity == entity
    proj = api.project("lazy")
    assert (proj.name, proj.entity, proj.path) == ("lazy", entity, [entity, "lazy"])
    assert [r.id for r in proj.runs()] == made and proj.sweeps() == [] and proj.url is None
    assert "lazy" in api.projects()  # still equal to their names


def test_update_persists_through_the_daemon_and_keeps_the_state(rh: RhEnv) -> None:
    import runhive

    run = runhive.init(project="edit", config={"lr": 0.1, "layers": 2}, name="before", tags=["a"])
    run.log({"acc": 0.5})
    run.finish()
    api_run = rh.api().run(f"edit/{run.id}")
    api_run.config["lr"] = 0.01
    api_run.config["new"] = {"nested": True}
    api_run.summary["best"] = 0.9
    api_run.name, api_run.notes, api_run.tags = "after", "edited", ["a", "b"]
    api_run.group, api_run.job_type = "g", "eval"
    api_run.update()
    back = rh.api().run(f"edit/{run.id}")
    assert back.config == {"lr": 0.01, "layers": 2, "new": {"nested": True}}
    assert back.summary["best"] == 0.9 and back.summary["acc"] == 0.5
    assert (back.name, back.notes, back.tags, back.group, back.job_type) == (
        "after",
        "edited",
        ["a", "b"],
        "g",
        "eval",
    )
    assert back.state == "finished" and back.exit_code == 0
    back.summary.update({"f1": 0.7, "acc": 0.6})  # persisted at once, as W&B's summary.update()
    again = rh.api().run(f"edit/{run.id}")
    assert again.summary["f1"] == 0.7 and again.summary["acc"] == 0.6 and again.state == "finished"
    assert again.summary._json_dict == dict(again.summary) and isinstance(again.summary._json_dict, dict)
    # a failed run stays failed
    failed = runhive.init(project="edit", reinit="create_new")
    failed.finish(exit_code=3)
    f = rh.api().run(f"edit/{failed.id}")
    f.notes = "why it failed"
    f.update()
    f2 = rh.api().run(f"edit/{failed.id}")
    assert (f2.notes, f2.state, f2.exit_code) == ("why it failed", "failed", 3)


def test_update_of_a_running_run_keeps_it_running(rh: RhEnv) -> None:
    import runhive

    run = runhive.init(project="live", config={"a": 1})
    run.log({"x": 1})
    api_run = wait_for(
        lambda: next((r for r in rh.api().runs("live") if r.history_rows == 1), None),
        what="the first row stored",
    )
    assert api_run.state == "running"
    api_run.notes = "edited while running"
    api_run.update()
    mid = rh.api().run(f"live/{run.id}")
    assert (mid.state, mid.notes) == ("running", "edited while running")
    run.log({"x": 2})
    run.finish()
    end = rh.api().run(f"live/{run.id}")
    assert (end.state, end.notes, end.config) == ("finished", "edited while running", {"a": 1})
    assert [r["x"] for r in end.history(pandas=False)] == [1, 2]


def test_update_of_a_crashed_run_keeps_it_crashed(rh: RhEnv) -> None:
    proc = rh.spawn(
        """
        import threading, runhive
        run = runhive.init(project="dead")
        run.log({"x": 1})
        print(run.id, flush=True)
        threading.Event().wait()  # no finish(): the process is killed with the run open
        """
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()

    def stored() -> Any:  # None until the daemon has applied the run's first records
        found = [r for r in rh.api().runs("dead") if r.id == run_id]
        return found[0] if found else None

    wait_for(lambda: (r := stored()) is not None and r.history_rows == 1, what="the row stored")
    proc.kill()
    proc.wait()
    crashed = wait_for(lambda: (r := stored()) is not None and r.state == "crashed" and r, 60, "crashed")
    crashed.notes = "post mortem"
    crashed.update()
    after = rh.api().run(f"dead/{run_id}")
    assert (after.state, after.notes) == ("crashed", "post mortem")


def test_run_files_download_upload_and_restore(rh: RhEnv, tmp_path: Path) -> None:
    import runhive

    src = rh.work / "weights.txt"
    src.write_text("w=1\n")
    run = runhive.init(project="files")
    run.save(str(src), policy="now")
    run.finish()
    api_run = rh.api().run(f"files/{run.id}")
    names = [f.name for f in api_run.files()]
    assert "weights.txt" in names
    f = api_run.file("weights.txt")
    assert f.size == 4
    out = tmp_path / "dl"
    with f.download(root=str(out)) as fh:
        assert fh.read() == "w=1\n"
    with pytest.raises(ValueError, match="already exists"):
        f.download(root=str(out))
    (out / "weights.txt").write_text("changed")
    f.download(root=str(out), replace=True).close()
    assert (out / "weights.txt").read_text() == "w=1\n"
    # upload_file: named by its path relative to root
    (rh.work / "sub").mkdir()
    (rh.work / "sub" / "notes.md").write_text("hello")
    up = api_run.upload_file(str(rh.work / "sub" / "notes.md"), root=str(rh.work))
    assert up.name == "sub/notes.md"
    assert "sub/notes.md" in [x.name for x in rh.api().run(f"files/{run.id}").files()]
    assert [x.name for x in api_run.files(pattern="sub/%")] == ["sub/notes.md"]
    # runhive.restore: into root, returned open; None for a file the run does not have
    got = runhive.restore("sub/notes.md", run_path=f"{run.entity}/files/{run.id}", root=str(tmp_path / "r"))
    assert got is not None and got.read() == "hello"
    got.close()
    assert runhive.restore("nope.txt", run_path=f"files/{run.id}", root=str(tmp_path / "r")) is None


def test_run_extra_names(rh: RhEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    import runhive

    run = runhive.init(project="names")
    run.log({"a": 1})
    run.log({"a": 2})
    run.finish()
    r = rh.api().run(f"names/{run.id}")
    assert r.lastHistoryStep == 1 and r.sweep is None and r.user.username
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r.createdAt or "")
    assert r.url is None
    monkeypatch.setenv("RUNHIVE_UI_URL", "http://127.0.0.1:8090/")
    assert r.url == f"http://127.0.0.1:8090/#/r/{r.entity}/names/{run.id}"
    empty = runhive.init(project="names", reinit="create_new")
    empty.finish()
    assert rh.api().run(f"names/{empty.id}").lastHistoryStep == -1


def test_created_at_is_an_iso_string_as_in_wandb(rh: RhEnv) -> None:
    """W&B's `Run.created_at` is the server's `createdAt`: ISO-8601 UTC to the second, no zone
    ("2024-05-01T10:20:30"); history timestamps stay epoch seconds."""
    from datetime import datetime, timezone

    import runhive

    before = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    run = runhive.init(project="iso")
    run.log({"a": 1})
    run.finish()
    r = rh.api().run(f"iso/{run.id}")
    assert isinstance(r.created_at, str) and r.createdAt == r.created_at
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r.created_at)
    parsed = datetime.fromisoformat(r.created_at)
    assert parsed.tzinfo is None and before <= parsed <= datetime.now(timezone.utc).replace(tzinfo=None)
    assert parsed == datetime.strptime(r.created_at, "%Y-%m-%dT%H:%M:%S")  # W&B's server format
    assert abs(parsed.replace(tzinfo=timezone.utc).timestamp() - r.created_ts) < 1
    assert isinstance(r.history(pandas=False)[0]["_timestamp"], float)  # history times stay epoch seconds
    # order and ISO-date filters still work on the stored time
    later = runhive.init(project="iso", reinit="create_new")
    later.finish()
    api = rh.api()
    assert [x.id for x in api.runs("iso", order="-created_at")] == [later.id, run.id]
    assert [x.id for x in api.runs("iso", filters={"createdAt": {"$gte": r.created_at}})] == [
        run.id,
        later.id,
    ]
    assert [x.id for x in api.runs("iso", filters={"createdAt": {"$lt": r.created_at}})] == []


def test_artifacts_read_back_download_and_lineage(rh: RhEnv, tmp_path: Path) -> None:
    import runhive

    data = rh.work / "data"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    (data / "b.csv").write_text("x\n2\n")
    producer = runhive.init(project="arts", job_type="make")
    art = runhive.Artifact("mnist", "dataset", metadata={"n": 2})
    art.add_dir(str(data))
    producer.log_artifact(art)
    art2 = runhive.Artifact("mnist", "dataset")
    art2.add_file(str(data / "a.csv"))
    producer.log_artifact(art2, aliases=["best"])
    model = runhive.Artifact("net", "model")
    with model.new_file("weights.bin", mode="wb") as fh:
        fh.write(b"\x00\x01")
    producer.log_artifact(model)
    table = runhive.Table(columns=["x", "y"], data=[[1, "a"], [2, "b"]])
    tart = runhive.Artifact("preds", "predictions")
    tart.add(table, "preds")
    producer.log_artifact(tart)
    producer.finish()

    api = rh.api()
    latest = api.artifact("arts/mnist:latest")
    assert latest.name == "mnist:v1" and latest.version == "v1" and set(latest.aliases) == {"best", "latest"}
    assert latest.type == "dataset" and latest.qualified_name == f"{producer.entity}/arts/mnist:v1"
    v0 = api.artifact(f"{producer.entity}/arts/mnist:v0")
    assert v0.metadata == {"n": 2} and sorted(e.path for e in v0.files()) == ["a.csv", "b.csv"]
    root = v0.download(root=str(tmp_path / "v0"))
    assert (Path(root) / "b.csv").read_text() == "x\n2\n"
    assert v0.get_entry("a.csv").size == 4 and v0.get_path("a.csv").path == "a.csv"
    one = api.artifact("arts/net:v0").file(root=str(tmp_path / "net"))
    assert Path(one).read_bytes() == b"\x00\x01"
    got = api.artifact("arts/preds:latest").get("preds")
    assert isinstance(got, runhive.Table) and got.columns == ["x", "y"] and got.data == [[1, "a"], [2, "b"]]
    assert [a.version for a in api.artifacts("dataset", "arts/mnist")] == ["v0", "v1"]
    assert [a.version for a in api.artifact_versions("dataset", "arts/mnist")] == ["v0", "v1"]
    assert sorted(t.type for t in api.artifact_types("arts")) == ["dataset", "model", "predictions"]
    assert [c.name for c in api.artifact_type("dataset", "arts").collections()] == ["mnist"]
    assert [c.name for c in api.artifact_collections("arts", "model")] == ["net"]
    assert len(api.artifact_collection("dataset", "arts/mnist").versions()) == 2
    assert latest.logged_by().id == producer.id
    with pytest.raises(runhive.UsageError, match="no version or alias"):
        api.artifact("arts/mnist:v7")

    # use_artifact by name:alias, name:vN and as an Artifact; the uses are recorded with the consumer
    consumer = runhive.init(project="arts", job_type="train", reinit="create_new")
    used = consumer.use_artifact("mnist:best")
    assert used.version == "v1"
    root2 = used.download(root=str(tmp_path / "used"))
    assert sorted(os.listdir(root2)) == ["a.csv"]
    consumer.use_artifact(model)  # the Artifact object logged above
    assert (
        Path(model.file(root=str(tmp_path / "m"))).read_bytes() == b"\x00\x01"
    )  # a logged Artifact downloads
    consumer.use_artifact(api.artifact("arts/preds:latest"))
    consumer.finish()
    c = api.run(f"arts/{consumer.id}")
    assert sorted(a.name for a in c.used_artifacts()) == ["mnist:v1", "net:v0", "preds:v0"]
    assert [u.id for u in api.artifact("arts/mnist:v1").used_by()] == [consumer.id]
    assert api.artifact("arts/mnist:v0").used_by() == []
    p = api.run(f"arts/{producer.id}")
    assert sorted(a.name for a in p.logged_artifacts()) == ["mnist:v0", "mnist:v1", "net:v0", "preds:v0"]
    assert c.logged_artifacts() == []
    lines = (Path(consumer.dir) / "used_artifacts.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["artifact"] == f"{producer.entity}/arts/mnist:v1"


def test_cli_artifact_commands_read_through_the_api(rh: RhEnv) -> None:
    import runhive

    (rh.work / "f.txt").write_text("hi")
    run = runhive.init(project="cli")
    art = runhive.Artifact("thing", "dataset")
    art.add_file(str(rh.work / "f.txt"))
    run.log_artifact(art)
    run.finish()
    out = rh.cli("artifact", "ls", "cli").stdout
    assert "thing:v0" in out
    rh.cli("artifact", "get", "cli/thing:latest", "--root", "got")
    assert (rh.work / "got" / "f.txt").read_text() == "hi"


class _Counting:
    """Wraps a backend: records each `runs_page` (offset, limit) and `count_runs` call; reading every run at once
    (`runs`) fails the test."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.pages, self.counts = backend, [], 0

    def runs_page(self, query: Any, offset: int, limit: int) -> Any:
        self.pages.append((offset, limit))
        return self.backend.runs_page(query, offset, limit)

    def count_runs(self, query: Any) -> int:
        self.counts += 1
        return int(self.backend.count_runs(query))

    def runs(self, *a: Any, **kw: Any) -> Any:
        raise AssertionError("Runs read every run at once")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


def test_runs_are_read_a_page_at_a_time(rh: RhEnv) -> None:
    import runhive
    from runhive.apis.public._filters import compile_filter, sort_docs

    made = []
    for i in range(120):
        run = runhive.init(
            project="many",
            name=f"r{(i * 37) % 120:03d}",
            config={"lr": i % 7},
            group=f"g{i % 3}",
            reinit="create_new",
        )
        run.finish()
        made.append(run.id)
    api = rh.api()
    counting = _Counting(api._backend)
    api._backend = counting
    runs = api.runs("many", per_page=50)
    assert counting.pages == [] and counting.counts == 0  # nothing read yet
    assert len(runs) == 120 and counting.pages == [] and counting.counts == 1  # a count, no rows
    assert runs[75].id == made[75] and counting.pages == [(50, 50)]  # the page that holds it
    assert runs[-1].id == made[-1] and counting.pages == [(50, 50), (100, 50)]
    it = iter(runs)
    assert next(it).id == made[0] and counting.pages[-1] == (0, 50)  # iteration reads page by page
    assert [r.id for r in it] == made[1:] and len(counting.pages) == 3  # pages read once each
    assert all(limit == 50 for _, limit in counting.pages)
    assert [r.id for r in runs[48:53]] == made[48:53]
    # Paged results are the unpaged ones, in every order and filter (checked against the filter's predicate).
    everything = list(api.runs("many", per_page=1000))
    assert [r.id for r in everything] == made
    cases: list[tuple[dict[str, Any], str, bool]] = [  # (filter, order, all in the store's query)
        ({}, "-created_at", True),
        ({}, "+display_name", True),
        ({}, "-group", True),
        ({"display_name": {"$regex": "^r0[0-4]"}}, "+created_at", True),
        ({"$or": [{"group": "g1"}, {"displayName": {"$in": ["r001", "r002"]}}]}, "-display_name", True),
        ({"$nor": [{"group": "g1"}]}, "+created_at", True),
        ({"group": {"$not": {"$in": ["g0", "g2"]}}}, "+created_at", True),
        ({"createdAt": {"$gte": everything[60].created_at}}, "+created_at", True),
        ({"config.lr": 3}, "+created_at", False),  # applied after reading
        ({"$and": [{"group": "g2"}, {"config.lr": {"$gte": 4}}]}, "-created_at", False),  # half and half
        ({"group": "g0"}, "-config.lr", False),  # nested order: every matching run read, then sorted
    ]
    for flt, order, in_sql in cases:
        want = [r for r in everything if compile_filter(flt)(r._filter_doc())] if flt else list(everything)
        want = sort_docs(want, lambda r: r._filter_doc(), order)
        counting.pages.clear()
        if in_sql:  # len() is a count: no run read
            assert len(api.runs("many", filters=flt or None, order=order, per_page=50)) == len(want)
            assert counting.pages == [], (flt, order)
        paged = api.runs("many", filters=flt or None, order=order, per_page=50)
        got = [r.id for r in paged]
        assert got == [r.id for r in want], (flt, order)
        assert got and all(limit == 50 for _, limit in counting.pages), (flt, order)
        assert len(paged) == len(want)


def test_runs_from_a_team_server_are_read_a_page_at_a_time(
    rh: RhEnv, server_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read API's `limit`/`offset` (and `total`) page `Api().runs()` from a team server as from the store."""
    import runhive
    from runhive_service.server import ServerStore, migrate, open_engine
    from runhive_service.server._schema import runs as runs_table

    monkeypatch.setenv("RUNHIVE_CONFIG_DIR", str(rh.root / "config"))
    engine = open_engine(server_db)
    try:
        migrate(engine)
        store = ServerStore(engine)
        alice, key = store.create_user("alice")
        project = store.ensure_project(alice, "alice", "cifar")
        with engine.begin() as conn:
            for i in range(120):
                conn.execute(
                    runs_table.insert().values(
                        project_id=project.id,
                        run_id=f"id{(i * 37) % 120:03d}",
                        name=f"r{i:03d}",
                        state="finished",
                        config={"lr": i % 7},
                        summary={},
                        metadata={},
                        tags=[],
                        group=f"g{i % 3}",
                        created_by=alice.id,
                        created_at=1000.0 + i,
                        updated_at=1000.0 + i,
                    )
                )
    finally:
        engine.dispose()
    made = [f"id{(i * 37) % 120:03d}" for i in range(120)]
    server = ServerProcess(server_db)
    try:
        api = runhive.Api(overrides={"base_url": server.wait_ready()}, api_key=key.key)
        calls: list[dict[str, Any]] = []
        call = api._backend._call

        def counted(path: str, params: Any = None, body: Any = None) -> Any:
            if path == "runs":
                calls.append(dict(params or {}))
            return call(path, params, body)

        api._backend._call = counted  # type: ignore[method-assign]
        runs = api.runs("alice/cifar", per_page=50)
        assert len(runs) == 120 and [c["limit"] for c in calls] == [0]  # the total, no rows
        assert runs[75].id == made[75] and (calls[-1]["offset"], calls[-1]["limit"]) == (50, 50)
        assert [r.id for r in runs] == made and all(c["limit"] <= 50 for c in calls) and len(calls) == 4
        assert [r.id for r in api.runs("alice/cifar", order="-created_at", per_page=50)] == made[::-1]
        want = [made[i] for i in range(120) if i % 3 == 1 and i % 7 >= 3]
        calls.clear()
        flt = {"$and": [{"group": "g1"}, {"config.lr": {"$gte": 3}}]}
        assert [
            r.id for r in api.runs("alice/cifar", filters=flt, per_page=50)
        ] == want  # applied after reading
        assert len(calls) == 3 and all(c["limit"] == 50 for c in calls)
        by_lr = api.runs("alice/cifar", order="+config.lr", per_page=50)
        assert [r.config["lr"] for r in by_lr] == sorted(i % 7 for i in range(120))
    finally:
        code = server.stop()
    assert code == 0, server.lines
