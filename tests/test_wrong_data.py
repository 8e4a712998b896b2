"""Issue 13's "silently wrong data": each case once returned plausible but wrong data without an error."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import runhive
from conftest import RhEnv

# 1. define_metric twice merges ------------------------------------------------------------------------------


def test_define_metric_twice_merges_summaries(rh: RhEnv) -> None:
    run = runhive.init(project="wd")
    run.define_metric("loss", summary="min")
    run.define_metric("loss", summary="max")
    run.define_metric("val/*", summary="first")
    run.define_metric("val/*", summary="last")
    for v in (3.0, 1.0, 2.0):
        run.log({"loss": v, "val/acc": v})
    assert run.summary["loss"] == {"min": 1.0, "max": 3.0}
    assert run.summary["val/acc"] == {"first": 3.0, "last": 2.0}
    run.finish()
    stored = rh.api().run(f"wd/{run.id}").summary
    assert stored["loss"] == {"min": 1.0, "max": 3.0}
    assert stored["val/acc"] == {"first": 3.0, "last": 2.0}


def test_define_metric_merge_keeps_earlier_fields_and_overwrite_replaces(rh: RhEnv) -> None:
    run = runhive.init(project="wd")
    run.define_metric("epoch")
    run.define_metric("val_loss", step_metric="epoch")
    run.define_metric("val_loss", summary="min")  # keeps step_metric="epoch"
    run.define_metric("acc", summary="min")
    run.define_metric("acc", summary="max", overwrite=True)  # replaces
    run.log({"epoch": 1})
    run.log({"val_loss": 0.5, "acc": 0.5})
    run.log({"val_loss": 0.25, "acc": 0.75})
    assert run.summary["val_loss"] == {"min": 0.25}
    assert run.summary["acc"] == {"max": 0.75}
    run.finish()
    api_run = rh.api().run(f"wd/{run.id}")
    assert api_run.summary["val_loss"] == {"min": 0.25}
    assert api_run.summary["acc"] == {"max": 0.75}
    rows = api_run.history(pandas=False, samples=None)
    assert [r.get("epoch") for r in rows[1:]] == [1, 1]  # the step metric still synced


# 2 and 3. Api().runs(order=, filters=) ----------------------------------------------------------------------

RUNS = [  # display name, config, logged summary, tags, group, job type
    ("bravo", {"lr": 0.1}, {"loss": 0.5, "x": 3}, ["a"], "g1", "train"),
    ("alpha", {"lr": 0.01}, {"loss": 0.2}, ["b"], "g2", "eval"),
    ("charlie", {"lr": 0.001, "opt": {"name": "adam"}}, {"loss": 0.9, "x": 1}, ["a", "b"], "g1", "eval"),
    ("delta", {}, {}, [], None, None),
]


@pytest.fixture
def project(rh: RhEnv) -> dict[str, str]:
    """Four finished runs in project "q", created in RUNS' order; {display name: id}."""
    ids = {}
    for name, config, summary, tags, group, job_type in RUNS:
        run = runhive.init(
            project="q",
            name=name,
            config=config,
            tags=tags,
            group=group,
            job_type=job_type,
            reinit="create_new",
        )
        if summary:
            run.log(summary)
        run.finish()
        ids[name] = run.id
    return ids


def names(rh: RhEnv, **kw: Any) -> list[str]:
    return [r.name for r in rh.api().runs("q", **kw)]


ORDERS = [
    ("+created_at", ["bravo", "alpha", "charlie", "delta"]),
    ("-created_at", ["delta", "charlie", "alpha", "bravo"]),
    ("+summary_metrics.loss", ["alpha", "bravo", "charlie", "delta"]),
    ("-summary_metrics.loss", ["charlie", "bravo", "alpha", "delta"]),
    ("summary_metrics.loss", ["alpha", "bravo", "charlie", "delta"]),
    ("-summary_metrics.x", ["bravo", "charlie", "alpha", "delta"]),
    ("+summary_metrics.x", ["charlie", "bravo", "alpha", "delta"]),
    ("+config.lr", ["charlie", "alpha", "bravo", "delta"]),
    ("-config.lr.value", ["bravo", "alpha", "charlie", "delta"]),
    ("+display_name", ["alpha", "bravo", "charlie", "delta"]),
    ("-display_name", ["delta", "charlie", "bravo", "alpha"]),
]


def test_runs_order_by_field(rh: RhEnv, project: dict[str, str]) -> None:
    got = {order: names(rh, order=order) for order, _ in ORDERS}
    assert got == dict(ORDERS)
    by_id = sorted(project, key=lambda n: project[n])  # W&B's `name` is the run id
    assert names(rh, order="+name") == by_id
    assert names(rh, order="-name") == by_id[::-1]
    with pytest.raises(runhive.UsageError, match="bogus"):
        rh.api().runs("q", order="-bogus.x")


FILTERS = [
    ({"displayName": "alpha"}, ["alpha"]),
    ({"display_name": {"$regex": "^(a|b)"}}, ["bravo", "alpha"]),
    ({"jobType": "eval"}, ["alpha", "charlie"]),
    ({"job_type": "train"}, ["bravo"]),
    ({"config.lr.value": 0.1}, ["bravo"]),
    ({"config.lr.value": {"$lt": 0.05}}, ["alpha", "charlie"]),
    ({"config.lr": {"$lt": 0.05}}, ["alpha", "charlie"]),
    ({"config.opt.value.name": "adam"}, ["charlie"]),
    ({"config.opt.name": "adam"}, ["charlie"]),
    ({"summary_metrics.loss": {"$gt": 0.3}}, ["bravo", "charlie"]),
    ({"state": "finished"}, ["bravo", "alpha", "charlie", "delta"]),
    ({"state": {"$in": ["running", "crashed"]}}, []),
    ({"tags": {"$in": ["b"]}}, ["alpha", "charlie"]),
    ({"tags": "a"}, ["bravo", "charlie"]),
    ({"tags": {"$nin": ["a"]}}, ["alpha", "delta"]),
    ({"group": "g1"}, ["bravo", "charlie"]),
    ({"summary_metrics.x": {"$exists": True}}, ["bravo", "charlie"]),
    ({"summary_metrics.x": {"$exists": False}}, ["alpha", "delta"]),
    ({"config.lr.value": {"$exists": False}}, ["delta"]),
    ({"$nor": [{"group": "g1"}, {"jobType": "eval"}]}, ["delta"]),
    ({"$not": {"group": "g1"}}, ["alpha", "delta"]),
    ({"config.lr": {"$not": {"$gt": 0.005}}}, ["charlie", "delta"]),
    ({"display_name": {"$not": "^[ab]"}}, ["charlie", "delta"]),
    ({"$or": [{"displayName": "alpha"}, {"summary_metrics.x": 1}]}, ["alpha", "charlie"]),
    ({"$and": [{"group": "g1"}, {"tags": "b"}]}, ["charlie"]),
    ({"createdAt": {"$gt": "2000-01-01T00:00:00"}}, ["bravo", "alpha", "charlie", "delta"]),
    ({"createdAt": {"$lt": "2000-01-01T00:00:00Z"}}, []),
]


def test_runs_filters(rh: RhEnv, project: dict[str, str]) -> None:
    got = [(flt, names(rh, filters=flt)) for flt, _ in FILTERS]
    assert got == FILTERS
    # createdAt compares ISO-8601 times (UTC) with the stored creation time
    created = {r.name: r.created_ts for r in rh.api().runs("q")}
    cutoff = (created["alpha"] + created["charlie"]) / 2
    iso = datetime.fromtimestamp(cutoff, timezone.utc).replace(tzinfo=None).isoformat()
    assert names(rh, filters={"createdAt": {"$gt": iso}}) == ["charlie", "delta"]
    assert names(rh, filters={"createdAt": {"$lte": iso}}) == ["bravo", "alpha"]


BAD_FILTERS = [
    ({"config.lr": {"$foo": 1}}, r"\$foo"),
    ({"$xor": [{"group": "g1"}]}, r"\$xor"),
    ({"bogus": 1}, "bogus"),
    ({"summary.loss": {"$gt": 0}}, "summary"),
    ({"$or": [{"state": "finished"}, {"userName": "me"}]}, "userName"),
    ({"createdAt": {"$gt": "yesterday"}}, "yesterday"),
]


def test_runs_filter_that_cannot_be_honoured_raises(rh: RhEnv) -> None:
    runhive.init(project="one").finish()
    for project in ("one", "nothing-here"):  # raises whether or not there is a run to match
        for flt, named in BAD_FILTERS:
            with pytest.raises(runhive.UsageError, match=named):
                rh.api().runs(project, filters=flt)


# 4. history(samples=, keys=) keeps ints ---------------------------------------------------------------------


def test_sampled_history_keeps_int_values(rh: RhEnv) -> None:
    run = runhive.init(project="h")
    big = 2**60 + 1  # not exact as a float
    for i in range(100):
        run.log(
            {
                "epoch": i // 10,
                "loss": 1 / (i + 1),
                "whole": float(i),  # integral floats stay floats
                "big": big + i,
                "mixed": i / 2 if i % 2 else i,  # ints and floats in one series
            }
        )
    run.finish()
    api_run = rh.api().run(f"h/{run.id}")
    rows = {r["_step"]: r for r in api_run.history(pandas=False, samples=None)}

    def exact(sampled: list[dict[str, Any]], keys: list[str]) -> None:
        assert len(sampled) == 10
        for r in sampled:
            for k in keys:
                want = rows[r["_step"]][k]
                assert (r[k], type(r[k])) == (want, type(want)), (k, r)

    one = api_run.history(samples=10, keys=["epoch"], pandas=False)
    assert [r["epoch"] for r in one] == list(range(10))
    exact(one, ["epoch"])
    exact(api_run.history(samples=10, keys=["epoch", "loss"], pandas=False), ["epoch", "loss"])
    exact(api_run.history(samples=10, keys=["whole"], pandas=False), ["whole"])
    exact(api_run.history(samples=10, keys=["loss", "big"], pandas=False), ["loss", "big"])
    exact(api_run.history(samples=10, keys=["mixed"], pandas=False), ["mixed"])
    exact(
        api_run.history(samples=10, keys=["epoch", "mixed", "whole"], pandas=False),
        ["epoch", "mixed", "whole"],
    )

    # Rows with the same numeric keys are stored as blocks: ints read back from inside a block too.
    run = runhive.init(project="h")
    for i in range(99):
        run.log({"c": i, "f": i * 2.0})
    run.log({"c": 99.5, "f": 0.5})  # the last value (the summary's) is a float
    run.finish()
    api_run = rh.api().run(f"h/{run.id}")
    rows = {r["_step"]: r for r in api_run.history(pandas=False, samples=None)}
    exact(api_run.history(samples=10, keys=["c"], pandas=False), ["c"])
    exact(api_run.history(samples=10, keys=["f", "c"], pandas=False), ["f", "c"])
    assert {type(r["c"]) for r in api_run.history(samples=10, keys=["c"], pandas=False)} == {int}


# 5. run.save keeps directories and honours policy ------------------------------------------------------------


def test_save_keeps_paths_relative_to_base_path(rh: RhEnv) -> None:
    run = runhive.init(project="s")
    for e in (1, 2):
        path = rh.work / "ckpt" / f"epoch{e}" / "model.pt"
        path.parent.mkdir(parents=True)
        path.write_text(f"epoch {e}")
    (rh.work / "out").mkdir()
    (rh.work / "out" / "w.bin").write_text("w")
    files = Path(run.dir) / "files"
    assert run.save("ckpt/epoch1/model.pt") == [str(files / "ckpt/epoch1/model.pt")]
    run.save("ckpt/epoch2/model.pt")
    run.save("ckpt/epoch2/*.pt", base_path="ckpt")  # relative to base_path
    run.save(str(rh.work / "out" / "w.bin"))  # an absolute glob: relative to its own directory
    run.save(str(rh.work / "ckpt" / "epoch*" / "*.pt"))  # ... the part before its first wildcard
    with pytest.raises(runhive.UsageError, match="base_path"):
        run.save("ckpt/epoch1/model.pt", base_path="out")
    run.finish()
    saved = {str(p.relative_to(files)): p.read_text() for p in files.rglob("*") if p.is_file()}
    assert saved == {
        "ckpt/epoch1/model.pt": "epoch 1",
        "ckpt/epoch2/model.pt": "epoch 2",
        "epoch1/model.pt": "epoch 1",
        "epoch2/model.pt": "epoch 2",
        "w.bin": "w",
    }


def test_save_policy_now_end_live(rh: RhEnv) -> None:
    run = runhive.init(project="s")
    names = ("now.txt", "end.txt", "live.txt")
    for name in names:
        (rh.work / name).write_text("v1")
    run.save("now.txt", policy="now")
    run.save("end.txt", policy="end")
    run.save("live.txt")  # "live", the default
    run.save("late*.txt", policy="end")  # matches nothing yet
    files = Path(run.dir) / "files"
    assert (files / "now.txt").read_text() == "v1"
    assert not (files / "end.txt").exists()
    assert (files / "live.txt").read_text() == "v1"
    for name in names:
        (rh.work / name).write_text("v2")
    (rh.work / "late1.txt").write_text("late")
    run.finish()
    assert (files / "now.txt").read_text() == "v1"  # copied at the call only
    assert (files / "end.txt").read_text() == "v2"  # copied at finish()
    assert (files / "live.txt").read_text() == "v2"  # the latest contents
    assert (files / "late1.txt").read_text() == "late"
    again = runhive.init(project="s")
    with pytest.raises(runhive.UsageError, match="policy"):
        again.save("x", policy="sometimes")
    again.finish()
