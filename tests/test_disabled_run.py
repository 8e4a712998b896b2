"""`mode="disabled"`: code written for W&B runs unchanged; every Run method it calls is a no-op."""

from __future__ import annotations

import pytest

import runhive
from runhive.sdk._disabled import DisabledRun


@pytest.fixture
def drun(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> DisabledRun:
    monkeypatch.chdir(str(tmp_path))
    run = runhive.init(mode="disabled", project="p", reinit="create_new")
    assert isinstance(run, DisabledRun)
    return run


def test_w_and_b_run_methods_are_no_ops(drun: DisabledRun) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(2, 1)
    assert drun.watch(model, log="all", log_freq=10) == []
    drun.unwatch(model)
    drun.alert(title="t", text="x", level="WARN", wait_duration=60)
    drun.log_code(".")
    drun.mark_preempting()
    drun._label(repo="x")
    assert drun.url is None and drun.project_url is None and drun.sweep_url is None
    assert drun.get_url() is None and drun.sweep_id is None
    assert drun._attach_id == drun.id
    assert drun.settings.mode == "disabled"
    art = drun.use_artifact("entity/proj/model:latest", type="model")
    assert art.name == "model" and art.type == "model"
    given = runhive.Artifact("ds", "dataset")
    assert drun.use_artifact(given) is given
    assert drun.log_model("x.pt") is None and drun.use_model("m:v0") == ""
    drun.link_model("x.pt", "registry/model")
    drun.link_artifact(given, "target")
    assert drun.upsert_artifact(given) is given and drun.finish_artifact(given) is given
    drun.log({"a": 1})
    drun.finish()


def test_module_level_calls_in_disabled_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))
    run = runhive.init(mode="disabled", project="p")  # bound as runhive.run
    try:
        assert runhive.run is run
        assert runhive.watch(None) == []
        runhive.unwatch()
        runhive.alert("t", "x")
        runhive.mark_preempting()
    finally:
        run.finish()  # unbinds
