"""The W&B `Run` methods the integrations and training scripts call beyond logging (`runhive.sdk._run_extras`):
`watch`/`unwatch` on torch modules, `alert` with `AlertLevel`, `log_code`, `mark_preempting`, `url`, `_label`,
`require`, and `_attach`: another process writing to the same run."""

from __future__ import annotations

import os
from typing import Any

import pytest

from conftest import RhEnv, wait_for

torch = pytest.importorskip("torch", reason="watch() needs torch (installed by `make install`)")


def w_and_b_histogram(t: Any) -> tuple[list[float], list[float]]:
    """W&B's `log_tensor_stats` for a dense float tensor, written out here independently."""
    flat = t.detach().reshape(-1).float()
    lo, hi = flat.min().item(), flat.max().item()
    if lo == hi:
        return [float(flat.numel())], [lo, hi]
    return flat.histc(bins=64, min=lo, max=hi).tolist(), torch.linspace(lo, hi, 65).tolist()


def test_watch_logs_gradient_and_parameter_histograms(rh: RhEnv) -> None:
    import runhive

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    other = torch.nn.Linear(2, 1)
    x = torch.randn(5, 3)
    run = runhive.init(project="watch")
    assert runhive.watch(model, log="all", log_freq=2) == []
    run.watch(other, log="gradients", log_freq=1)  # the second model watched in this process: prefix graph_1
    expected: dict[int, dict[str, Any]] = {}
    for i in range(4):
        model.zero_grad()
        out = other(model(x))
        out.sum().backward()
        if i % 2 == 1:
            expected[i] = {
                "gradients/weight": w_and_b_histogram(model.weight.grad),
                "gradients/bias": w_and_b_histogram(model.bias.grad),
                "parameters/weight": w_and_b_histogram(model.weight),
            }
        run.log({"i": i})
    runhive.unwatch(model)
    out = other(model(x))
    out.sum().backward()
    run.log({"i": 4})
    run.unwatch()
    other(model(x)).sum().backward()
    run.log({"i": 5})
    with pytest.raises(ValueError, match="log must be one of"):
        run.watch(model, log="weights")
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        run.watch(object())
    run.finish()

    rows = rh.api().run(f"watch/{run.id}").history(pandas=False, samples=None)
    assert [r["i"] for r in rows] == list(range(6))
    for i, row in enumerate(rows):
        keys = {k for k in row if k.startswith(("gradients/", "parameters/"))}
        if i in (1, 3):
            assert keys == {
                "gradients/weight",
                "gradients/bias",
                "parameters/weight",
                "parameters/bias",
                "gradients/graph_1weight",
                "gradients/graph_1bias",
            }
            for key, (values, bins) in expected[i].items():
                assert row[key]["_type"] == "histogram"
                assert row[key]["values"] == pytest.approx(values) and row[key]["bins"] == pytest.approx(bins)
        elif i in (0, 2, 4):
            assert keys == {
                "gradients/graph_1weight",
                "gradients/graph_1bias",
            }  # log_freq=1; model unwatched at 4
        else:
            assert keys == set()  # run.unwatch(): every hook removed
    assert not hasattr(model, "_wandb_hook_names")


def test_alert_log_code_preempting_url_label_require(rh: RhEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    import runhive

    (rh.work / "train.py").write_text("print(1)\n")
    (rh.work / "pkg").mkdir()
    (rh.work / "pkg" / "model.py").write_text("X = 1\n")
    (rh.work / "notes.txt").write_text("not code\n")
    (rh.work / ".venv").mkdir()
    (rh.work / ".venv" / "site.py").write_text("hidden\n")
    monkeypatch.setenv("RUNHIVE_UI_URL", "http://127.0.0.1:8420/")
    run = runhive.init(project="extras", entity="me")
    assert run.url == f"http://127.0.0.1:8420/#/r/me/extras/{run.id}"
    assert run.project_url == "http://127.0.0.1:8420/#/p/extras" and run.sweep_url is None
    run._label(code="transformers_trainer", repo="x")
    runhive.alert("loss spiked", "loss is 10", level=runhive.AlertLevel.WARN, wait_duration=5)
    run.alert("done", "finished training", level="ERROR")
    with pytest.raises(ValueError, match="level must be one of"):
        run.alert("t", "x", level="DEBUG")
    with pytest.raises(TypeError, match="wait_duration"):
        run.alert("t", "x", wait_duration="soon")  # type: ignore[arg-type]
    assert run.log_code() is None
    run.mark_preempting()
    runhive.require("service")
    with pytest.raises(runhive.UsageError, match="unsupported requirement: nothing"):
        runhive.require("nothing")
    run.finish()

    stored = rh.api().run(f"me/extras/{run.id}")
    alerts = stored.summary["_alerts"]
    assert [(a["title"], a["level"], a["wait_duration"]) for a in alerts] == [
        ("loss spiked", "WARN", 5000),
        ("done", "ERROR", 60000),
    ]
    code = os.path.join(stored.dir, "files", "code")
    found = sorted(os.path.relpath(os.path.join(d, f), code) for d, _, fs in os.walk(code) for f in fs)
    assert found == ["pkg/model.py", "train.py"]
    monkeypatch.delenv("RUNHIVE_UI_URL")
    assert runhive.init(project="extras").url is None  # no dashboard address known
    runhive.finish()


ATTACH_PARENT = """
import subprocess, sys
import runhive

run = runhive.init(project="attach", name="parent", config={"a": 1})
child = subprocess.run([sys.executable, "-c", sys.argv[1], run._attach_id], capture_output=True, text=True)
assert child.returncode == 0, child.stderr
print("CHILD", child.stdout.strip())
print("RUN", run.id, flush=True)
sys.stdin.readline()  # the test looks at the run while this writer is still open
runhive.log({"after": 1})  # after the child's rows: this process catches up with the run's steps
run.finish()
"""

ATTACH_CHILD = """
import sys
import runhive

run = runhive._attach(sys.argv[1])
assert runhive.run is run and run.name == "parent"
for i in range(3):
    run.log({"loss": 1.0 / (i + 1)})
run.config.update({"b": 2})
run.summary["best"] = 1.0
print(run.id, run.step)
"""


def test_attach_from_another_process_writes_to_the_same_run(rh: RhEnv) -> None:
    import subprocess

    proc = rh.spawn(ATTACH_PARENT, ATTACH_CHILD, stdin=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    lines = [proc.stdout.readline(), proc.stdout.readline()]
    assert lines[0].startswith("CHILD") and lines[1].startswith("RUN"), (lines, proc.stderr)
    run_id = lines[1].split()[1]
    assert lines[0].split()[1:] == [run_id, "3"]

    # The child's writer has closed; the parent's is open: the run is still running, with the child's rows.
    api_run = wait_for(lambda: (r := rh.api().run(f"attach/{run_id}")).history_rows == 3 and r, what="rows")
    assert api_run.state == "running"
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=60) == 0

    runs = rh.api().runs("attach")
    assert [r.id for r in runs] == [run_id]
    run = runs[0]
    assert run.state == "finished"
    rows = run.history(pandas=False, samples=None)
    assert [(r["_step"], r.get("loss"), r.get("after")) for r in rows] == [
        (0, 1.0, None),
        (1, 0.5, None),
        (2, 1.0 / 3, None),
        (3, None, 1),
    ]
    assert run.config == {"a": 1, "b": 2} and run.summary["best"] == 1.0


def test_attach_to_an_unknown_run_is_refused(rh: RhEnv) -> None:
    import runhive

    with pytest.raises(runhive.UsageError, match="cannot re-attach"):
        runhive._attach("me/nowhere/zzzzzzzz")
    with pytest.raises(runhive.UsageError, match="needs attach_id"):
        runhive._attach()


def test_the_wandb_distribution_exists_only_while_the_alias_is_on(rh: RhEnv) -> None:
    code = """
        import importlib.metadata, os, sys
        from runhive.integration import install

        install()  # the finder, as the .pth installs it; it answers only while RUNHIVE_AS_WANDB is on
        for value in ("0", "1"):
            os.environ["RUNHIVE_AS_WANDB"] = value
            try:
                print(importlib.metadata.version("wandb"), importlib.metadata.metadata("wandb")["Name"])
            except importlib.metadata.PackageNotFoundError:
                print("none")
        names = [d.metadata["Name"] for d in importlib.metadata.distributions()]
        print(names.count("wandb"))
        """
    out = rh.run(code, env={"RUNHIVE_AS_WANDB": "0"}).stdout.splitlines()
    assert (
        out[:2] == ["none", "0.31.0 wandb"] and int(out[2]) >= 1
    )  # (a real wandb, if installed, is listed too)
