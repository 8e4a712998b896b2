"""W&B run semantics, mirrored from the reference's "W&B tests worth mirroring" (issue 3)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

import runhive
from conftest import RhEnv

# reinit ------------------------------------------------------------------------------------------------


def test_create_new_leaves_global_run_unset(rh: RhEnv) -> None:
    run = runhive.init(project="r", reinit="create_new")
    assert runhive.run is None
    with pytest.raises(runhive.Error, match=r"You must call runhive.init\(\) before runhive.log\(\)"):
        runhive.log({"a": 1})
    run.finish()


def test_create_new_with_active_id_raises_until_finished(rh: RhEnv) -> None:
    run = runhive.init(project="r", id="fixedid1", reinit="create_new")
    with pytest.raises(runhive.UsageError, match=r"run ID \w+ is in use"):
        runhive.init(project="r", id="fixedid1", reinit="create_new")
    run.finish()
    again = runhive.init(project="r", id="fixedid1", reinit="create_new")
    assert again.id == "fixedid1"
    again.finish()


def test_default_sets_then_clears_global_run(rh: RhEnv) -> None:
    run = runhive.init(project="r")
    assert runhive.run is run
    run.finish()
    assert runhive.run is None


@pytest.mark.parametrize("value", [True, "finish_previous", "default"])
def test_finish_previous_finishes_all_runs(rh: RhEnv, value: object) -> None:
    a = runhive.init(project="r", reinit="create_new")
    b = runhive.init(project="r", reinit="create_new")
    c = runhive.init(project="r", reinit=value)  # type: ignore[arg-type]
    assert c is not a and c is not b
    assert a._finished and b._finished and not c._finished
    c.finish()
    states = {r.id: r.state for r in rh.api().runs("r")}
    assert states == {a.id: "finished", b.id: "finished", c.id: "finished"}


@pytest.mark.parametrize("value", [False, "return_previous"])
def test_return_previous_returns_most_recent_unfinished(rh: RhEnv, value: object) -> None:
    a = runhive.init(project="r", reinit="create_new")
    b = runhive.init(project="r", reinit="create_new")
    assert runhive.init(project="r", reinit=value) is b  # type: ignore[arg-type]
    b.finish()
    assert runhive.init(project="r", reinit=value) is a  # type: ignore[arg-type]
    a.finish()


def test_resume_must_while_active_raises_unless_create_new(rh: RhEnv) -> None:
    a = runhive.init(project="r", id="resumeme")
    a.finish()
    b = runhive.init(project="r")
    with pytest.raises(runhive.Error, match="Cannot resume a run while another run is active"):
        runhive.init(project="r", id="resumeme", resume="must", reinit="return_previous")
    c = runhive.init(project="r", id="resumeme", resume="must", reinit="create_new")
    assert c.resumed
    c.finish()
    b.finish()


def test_reinit_precedence_env_setup_settings_argument(rh: RhEnv) -> None:
    code = """
    import runhive
    a = runhive.init(project="p")
    b = runhive.init(project="p")
    print(a is b, a._finished)
    """
    assert rh.run(code, env={"WANDB_REINIT": "return_previous"}).stdout.split() == ["True", "False"]
    assert rh.run(
        code, env={"RUNHIVE_REINIT": "finish_previous", "WANDB_REINIT": "return_previous"}
    ).stdout.split() == [
        "False",
        "True",
    ]
    code_setup = """
    import runhive
    runhive.setup(runhive.Settings(reinit="create_new"))
    a = runhive.init(project="p")
    b = runhive.init(project="p", settings=runhive.Settings(reinit="return_previous"))
    c = runhive.init(project="p", settings=runhive.Settings(reinit="return_previous"), reinit="create_new")
    print(a is b, c is b, runhive.run is None)
    """
    out = rh.run(code_setup, env={"RUNHIVE_REINIT": "finish_previous"}).stdout.split()
    assert out == ["True", "False", "True"]


def test_teardown_finishes_this_process_runs(rh: RhEnv) -> None:
    a = runhive.init(project="td", reinit="create_new")
    b = runhive.init(project="td", reinit="create_new")
    runhive.teardown()
    assert a._finished and b._finished
    assert {r.state for r in rh.api().runs("td")} == {"finished"}


# invalid arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"reinit": "sometimes"}, runhive.UsageError, ["reinit", "create_new", "finish_previous"]),
        ({"id": "bad/id"}, runhive.UsageError, ["Run ID cannot contain the characters"]),
        ({"id": " padded"}, runhive.UsageError, ["Run ID cannot start or end with whitespace"]),
        ({"id": "   "}, runhive.UsageError, ["Run ID cannot contain only whitespace"]),
        ({"id": ""}, runhive.UsageError, ["Run ID cannot be empty"]),
        ({"resume": "maybe"}, runhive.UsageError, ["resume", "allow", "must", "never"]),
        ({"mode": "fast"}, runhive.UsageError, ["mode", "online", "offline", "disabled"]),
        ({"config": 42}, TypeError, ["config", "dict"]),
        ({"settings": 3}, runhive.UsageError, ["settings"]),
    ],
)
def test_invalid_init_arguments_are_clear_and_write_nothing(
    rh: RhEnv, kwargs: dict[str, object], exc: type[Exception], words: list[str]
) -> None:
    with pytest.raises(exc) as info:
        runhive.init(project="bad-args", **kwargs)  # type: ignore[arg-type]
    for w in words:
        assert w in str(info.value)
    assert rh.api().runs("bad-args") == []
    assert not (rh.work / "runhive").exists() or not list((rh.work / "runhive").glob("run-*"))


def test_resume_errors_come_from_the_store(rh: RhEnv) -> None:
    with pytest.raises(
        runhive.UsageError, match="The value 'must' is not a valid option for resuming the run"
    ):
        runhive.init(project="res", id="nosuchrun", resume="must")
    r = runhive.init(project="res", id="exists01")
    r.finish()
    with pytest.raises(
        runhive.UsageError, match="The value 'never' is not a valid option for resuming a run"
    ):
        runhive.init(project="res", id="exists01", resume="never")


# resume --------------------------------------------------------------------------------------------------


def test_resume_continues_steps_config_summary(rh: RhEnv) -> None:
    run = runhive.init(project="res", id="steps015", config={"lr": 0.1})
    for i in range(16):
        run.log({"x": i})
    run.summary["best"] = 3
    run.finish()
    resumed = runhive.init(project="res", id="steps015", resume="allow")
    assert resumed.resumed and resumed.step == 16
    assert resumed.config["lr"] == 0.1 and resumed.summary["best"] == 3
    resumed.log({"x": 16})
    resumed.finish()
    rows = rh.api().run("res/steps015").history(pandas=False, samples=None)
    assert [r["_step"] for r in rows][-2:] == [15, 16]
    stored = rh.api().run("res/steps015")
    assert stored.state == "finished" and stored.config["lr"] == 0.1


def test_resume_allow_and_never_without_a_run_create_one(rh: RhEnv) -> None:
    for mode in ("allow", "never"):
        run = runhive.init(project="res2", id=f"new{mode}", resume=mode)
        assert not run.resumed and run.step == 0
        run.finish()


def test_resume_auto_uses_the_resume_file(rh: RhEnv) -> None:
    crash = """
    import runhive, os
    run = runhive.init(project="auto", resume="auto")
    run.log({"x": 1})
    run._sender.wait_acked(run._handle, run._last_seq, 30)
    print(run.id, flush=True)
    os._exit(3)
    """
    first = rh.run(crash, check=False).stdout.strip()
    resume_file = rh.work / "runhive" / "runhive-resume.json"
    assert json.loads(resume_file.read_text())["run_id"] == first
    again = """
    import runhive
    run = runhive.init(project="auto", resume="auto")
    print(run.id, run.resumed, run.step)
    run.finish()
    """
    rid, resumed, step = rh.run(again).stdout.split()
    assert (rid, resumed, step) == (first, "True", "1")
    assert not resume_file.exists()  # a clean finish ends auto-resume
    resume_file.write_text("{not json")
    rid2 = rh.run(again).stdout.split()[0]
    assert rid2 != first  # a corrupt resume file is ignored


# config -------------------------------------------------------------------------------------------------


def test_config_change_guard_and_helpers(rh: RhEnv, caplog: pytest.LogCaptureFixture) -> None:
    ns = argparse.Namespace(lr=0.1, batch_size=32)
    run = runhive.init(project="cfg", config=ns)
    run.config.update({"--epochs": 3})
    assert run.config["epochs"] == 3
    run.config.lr = 0.1  # the same value again is fine
    with pytest.raises(runhive.ConfigError) as info:
        run.config.lr = 0.2
    assert str(info.value) == (
        'Attempted to change value of key "lr" from 0.1 to 0.2\n'
        "If you really want to do this, pass allow_val_change=True to config.update()"
    )
    run.config.update({"lr": 0.2}, allow_val_change=True)
    run.config.setdefaults({"lr": 9, "new": 1})
    assert run.config.lr == 0.2 and run.config.new == 1
    run.config.update({"nan": float("nan"), "nested": {"a": {"b": 1}}})
    assert run.config["nan"] is None
    run.config.update_locked({"swept": 5}, user="sweep")
    run.config.update({"swept": 6}, allow_val_change=True)
    assert "Config item 'swept' was locked by 'sweep' (ignored update)." in caplog.text
    assert run.config.swept == 5
    run.finish()
    stored = rh.api().run(f"cfg/{run.id}").config
    assert stored == {
        "lr": 0.2,
        "batch_size": 32,
        "epochs": 3,
        "new": 1,
        "nan": None,
        "nested": {"a": {"b": 1}},
        "swept": 5,
    }


def test_config_from_json_file_and_include_exclude(rh: RhEnv, tmp_path: Path) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"a": 1, "b": {"value": 2, "desc": "wrapped"}, "c": 3}))
    run = runhive.init(project="cfgf", config=str(path), config_exclude_keys=["c"])
    assert run.config.as_dict() == {"a": 1, "b": 2}
    run.finish()
    run = runhive.init(project="cfgf", config={"a": 1, "b": 2}, config_include_keys=["a"])
    assert run.config.as_dict() == {"a": 1}
    run.finish()


def test_allow_val_change_argument(rh: RhEnv) -> None:
    run = runhive.init(project="cfg", config={"lr": 1}, allow_val_change=True)
    run.config.lr = 2
    run.finish()
    assert rh.api().run(f"cfg/{run.id}").config["lr"] == 2


# summary and define_metric ----------------------------------------------------------------------------


def test_define_metric_summary_aggregates(rh: RhEnv) -> None:
    run = runhive.init(project="dm")
    run.define_metric("loss", summary="min,max,mean,first,last")
    run.define_metric("val/*", summary="max")
    run.define_metric("hidden_metric", summary="none")
    run.define_metric("acc", goal="maximize", summary="best")
    for v in (3.0, 1.0, 2.0):
        run.log({"loss": v, "val/acc": v * 10, "hidden_metric": v, "acc": v, "plain": v})
    assert run.summary["loss"] == {"min": 1.0, "max": 3.0, "mean": 2.0, "first": 3.0, "last": 2.0}
    run.finish()
    s = rh.api().run(f"dm/{run.id}").summary
    assert s["loss"] == {"min": 1.0, "max": 3.0, "mean": 2.0, "first": 3.0, "last": 2.0}
    assert s["val/acc"] == {"max": 30.0}
    assert "hidden_metric" not in s
    assert s["acc"] == {"best": 3.0}
    assert s["plain"] == 2.0


def test_summary_override_wins_and_resets(rh: RhEnv) -> None:
    run = runhive.init(project="dm")
    run.define_metric("loss", summary="min")
    run.log({"loss": 1.0})
    run.summary["loss"] = 42
    run.summary.update({"extra": "x"})
    run.finish()
    s = rh.api().run(f"dm/{run.id}").summary
    assert s["loss"] == 42 and s["extra"] == "x"


def test_define_metric_step_metric_sync_and_errors(rh: RhEnv) -> None:
    run = runhive.init(project="dm")
    run.define_metric("epoch")
    run.define_metric("val_loss", step_metric="epoch")
    run.log({"epoch": 1})
    run.log({"val_loss": 0.5})  # epoch 1 filled in
    with pytest.raises(runhive.UsageError, match="unknown summary 'median'"):
        run.define_metric("x", summary="median")
    with pytest.raises(runhive.UsageError, match="goal"):
        run.define_metric("x", goal="up")
    run.finish()
    rows = rh.api().run(f"dm/{run.id}").history(pandas=False, samples=None)
    assert rows[1]["val_loss"] == 0.5 and rows[1]["epoch"] == 1


# identity -------------------------------------------------------------------------------------------------


def test_ids_names_and_mutable_identity(rh: RhEnv) -> None:
    run = runhive.init(project="ident", tags=["a"])
    assert len(run.id) == 8 and run.id.isalnum() and run.id.lower() == run.id
    run.tags = ("b", "c")
    run.notes = "changed"
    run.group = "grp"
    run.job_type = "eval"
    run.name = "renamed"
    run.finish()
    stored = rh.api().run(f"ident/{run.id}")
    assert (stored.tags, stored.notes, stored.group, stored.job_type, stored.name) == (
        ["b", "c"],
        "changed",
        "grp",
        "eval",
        "renamed",
    )


# environment -------------------------------------------------------------------------------------------


def test_git_and_code_capture(rh: RhEnv) -> None:
    repo = rh.work
    git = ["git", "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://example.invalid/r.git"], cwd=repo, check=True)
    (repo / "train.py").write_text(
        "import runhive\nrun = runhive.init(project='env', save_code=True)\nrun.log({'a': 1})\nrun.finish()\n"
    )
    subprocess.run([*git, "add", "train.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# local change\n")
    rh.run("import runpy; runpy.run_path('train.py', run_name='__main__')")
    stored = rh.api().runs("env")[0]
    git_meta = stored.metadata["git"]
    assert len(git_meta["commit"]) == 40 and git_meta["remote"] == "https://example.invalid/r.git"
    files = Path(stored.dir) / "files"
    assert "local change" in (files / "diff.patch").read_text()
    assert stored.metadata["python"] and stored.metadata["host"]
    env = {"RUNHIVE_DISABLE_CODE": "true"}
    rh.run("import runpy; runpy.run_path('train.py', run_name='__main__')", env=env)
    second = rh.api().runs("env")[1]
    assert "codePath" not in second.metadata


def test_login_says_where_data_goes(rh: RhEnv) -> None:
    assert runhive.login() is True
    assert str(rh.store) in rh.cli("login").stdout.replace("\n", "")


# module surface ------------------------------------------------------------------------------------------


def test_public_surface_is_pinned() -> None:
    from test_layout import EXPECTED_ALL  # one pinned list, beside the layout's other rules

    assert sorted(runhive.__all__) == sorted(EXPECTED_ALL)
    for name in runhive.__all__:
        assert hasattr(runhive, name) or name == "run", name


def test_import_is_light() -> None:
    code = "import sys, runhive; print('grpc' in sys.modules, 'google.protobuf' in sys.modules)"
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_settings_file_is_below_the_environment(rh: RhEnv) -> None:
    config_dir = rh.root / "config"
    config_dir.mkdir()
    (config_dir / "settings").write_text("[default]\nproject = from-file\nentity = team\n")
    code = "import runhive\nrun = runhive.init()\nprint(run.project, run.entity)\nrun.finish()\n"
    env = {"RUNHIVE_CONFIG_DIR": str(config_dir)}
    assert rh.run(code, env=env).stdout.split() == ["from-file", "team"]
    assert rh.run(code, env={**env, "WANDB_PROJECT": "from-env"}).stdout.split() == ["from-env", "team"]


def test_default_reinit_in_a_notebook_returns_previous(rh: RhEnv) -> None:
    code = """
    import sys, types
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: object()
    sys.modules["IPython"] = ipython
    sys.modules["ipykernel"] = types.ModuleType("ipykernel")
    import runhive
    a = runhive.init(project="nb")
    b = runhive.init(project="nb")
    print(a is b)
    """
    res = rh.run(code)
    assert res.stdout.split() == ["True"]
    assert "reinit is set to 'return_previous', so returning the previous run" in res.stderr


def test_torch_tensors_when_torch_is_loaded_and_never_importing_it(rh: RhEnv) -> None:
    # A stand-in for torch with the Tensor surface runhive uses (detach/cpu/numpy); real torch is not installed
    # in CI, and runhive must never import it itself.
    code = """
    import sys, types
    import numpy as np
    import runhive
    run = runhive.init(project="torch")
    run.log({"x": 1.0})
    assert "torch" not in sys.modules, "runhive imported torch"
    torch = types.ModuleType("torch")
    class Tensor:
        def __init__(self, a): self.a = np.asarray(a)
        def detach(self): return self
        def cpu(self): return self
        def numpy(self): return self.a
    torch.Tensor = Tensor
    sys.modules["torch"] = torch
    run.log({"scalar": Tensor(2.5), "vec": Tensor([1, 2, 3]), "big": Tensor(range(100))})
    run.finish()
    print(run.id)
    """
    run_id = rh.run(code).stdout.strip()
    row = rh.api().run(f"torch/{run_id}").history(pandas=False, samples=None)[1]
    assert row["scalar"] == 2.5 and row["vec"] == [1, 2, 3] and row["big"]["_type"] == "histogram"
