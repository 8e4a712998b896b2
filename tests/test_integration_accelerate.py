"""Accelerate's own W&B tracker (`Accelerator(log_with="wandb")`, accelerate/tracking.py `WandBTracker`),
unchanged, logging into runhive through the `import wandb` alias (`RUNHIVE_AS_WANDB=1`): a tiny model built in
code, synthetic data; what runhive stored is read back through `runhive.Api()`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import RhEnv

pytest.importorskip("torch", reason="the integration tests need torch (installed by `make install`)")
pytest.importorskip(
    "accelerate", reason="the integration tests need accelerate (installed by `make install`)"
)

ENV = {"RUNHIVE_AS_WANDB": "1", "OMP_NUM_THREADS": "1"}


def test_every_wandb_name_accelerate_uses_is_answered(rh: RhEnv) -> None:
    """Accelerate finds trackers by package metadata (`importlib.metadata.metadata("wandb")`): without the alias's
    `wandb` distribution, `log_with="wandb"` silently logs nothing."""
    res = rh.run(
        """
        import wandb
        from accelerate import PartialState
        from accelerate.tracking import WandBTracker, filter_trackers
        from accelerate.utils import is_wandb_available

        PartialState(cpu=True)
        assert is_wandb_available()
        assert [str(t) for t in filter_trackers(["wandb"])] == ["wandb"]
        for name in ("init", "config", "Image", "Table"):
            getattr(wandb, name)
        tracker = WandBTracker("names")
        tracker.start()
        assert tracker.tracker is wandb.run
        for name in ("log", "finish"):
            getattr(tracker.tracker, name)
        tracker.finish()
        print("OK")
        """,
        env=ENV,
    )
    assert res.stdout.split()[-1] == "OK"


TRAIN = """
import numpy as np
import torch
from accelerate import Accelerator

torch.manual_seed(0)
accelerator = Accelerator(log_with="wandb", cpu=True)
config = {"lr": 0.1, "epochs": 3, "hidden": 4}
accelerator.init_trackers("acc", config=config, init_kwargs={"wandb": {"name": "tiny", "tags": ["accelerate"]}})

model = torch.nn.Sequential(torch.nn.Linear(3, config["hidden"]), torch.nn.Tanh(), torch.nn.Linear(config["hidden"], 1))
optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
g = torch.Generator().manual_seed(1)
x = torch.randn(64, 3, generator=g)
data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16)
model, optimizer, data = accelerator.prepare(model, optimizer, data)

step = 0
for epoch in range(config["epochs"]):
    for xb, yb in data:
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        accelerator.log({"loss": loss.item(), "epoch": epoch}, step=step)
        step += 1
tracker = accelerator.get_tracker("wandb", unwrap=True)
tracker.log({"eval/loss": 0.5})
accelerator.get_tracker("wandb").log_table("preds", columns=["x", "pred"], data=[[0.0, 0.1], [1.0, 0.9]], step=step)
accelerator.get_tracker("wandb").log_images({"inputs": [np.zeros((4, 4, 3), dtype=np.uint8)]}, step=step)
print("RUN", tracker.id)
accelerator.end_training()
"""


def test_accelerator_log_with_wandb(rh: RhEnv) -> None:
    res = rh.run(TRAIN, env=ENV)
    run_id = res.stdout.split("RUN ", 1)[1].split()[0]
    runs = rh.api().runs("acc")  # init_trackers' project name is the W&B project
    assert [r.id for r in runs] == [run_id]
    run = runs[0]
    assert run.state == "finished" and run.name == "tiny" and list(run.tags) == ["accelerate"]
    assert run.config == {"lr": 0.1, "epochs": 3, "hidden": 4}
    rows = run.history(pandas=False, samples=None)
    losses = [r for r in rows if "loss" in r]
    assert [r["_step"] for r in losses] == list(range(12))  # accelerator.log(step=): the run's steps
    assert [r["epoch"] for r in losses] == [0] * 4 + [1] * 4 + [2] * 4
    assert losses[-1]["loss"] < losses[0]["loss"]
    assert run.summary["eval/loss"] == 0.5
    last = rows[-1]
    assert last["_step"] == 12 and last["preds"]["_type"] == "table-file"
    assert json.loads(Path(last["preds"]["path"]).read_text())["data"] == [[0.0, 0.1], [1.0, 0.9]]
    assert "inputs" in last
