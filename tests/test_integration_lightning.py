"""Lightning's own `WandbLogger` (lightning/pytorch/loggers/wandb.py), unchanged, logging into runhive through the
`import wandb` alias (`RUNHIVE_AS_WANDB=1`): metrics, hyper-parameters, checkpoints as model artifacts, tables,
`watch`, and `strategy="ddp_spawn"` on 2 CPU processes giving one run. A tiny model built in code, synthetic data;
what runhive stored is read back through `runhive.Api()`."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import RhEnv, manifests_of

pytest.importorskip("torch", reason="the integration tests need torch (installed by `make install`)")
pytest.importorskip("lightning", reason="the integration tests need lightning (installed by `make install`)")

ENV = {"RUNHIVE_AS_WANDB": "1", "OMP_NUM_THREADS": "1"}


def run_script(
    rh: RhEnv, source: str, *args: str, timeout: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `source` as the file train.py in the test's work directory (ddp_spawn's children import it), with the
    alias on."""
    (rh.work / "train.py").write_text(textwrap.dedent(source))
    # sys.argv[0] is the file: strategy="ddp" starts the other ranks as `python train.py`.
    code = "import runpy, sys; sys.argv[0] = 'train.py'; runpy.run_path('train.py', run_name='__main__')"
    return rh.run(code, *args, env={**ENV, **(env or {})}, timeout=timeout)


def test_every_wandb_name_lightning_uses_is_answered(rh: RhEnv) -> None:
    """What WandbLogger imports and calls: the package check (`RequirementCache("wandb>=0.12.10")` reads the
    distribution's metadata), `wandb.sdk.lib.RunDisabled`, `wandb.wandb_run.Run`, `wandb.require`, `_attach`, the
    media types, and the run's methods."""
    res = rh.run(
        """
        import importlib.metadata

        import wandb
        from wandb import Artifact
        from wandb.sdk.lib import RunDisabled
        from wandb.wandb_run import Run

        import runhive
        from lightning.pytorch.loggers import WandbLogger
        from lightning.pytorch.loggers.wandb import _WANDB_AVAILABLE

        assert bool(_WANDB_AVAILABLE), str(_WANDB_AVAILABLE)
        assert importlib.metadata.version("wandb") == wandb.__version__
        assert Run is runhive.Run and Artifact is runhive.Artifact
        from runhive.sdk._disabled import DisabledRun

        assert RunDisabled is DisabledRun
        wandb.require("service")
        for name in ("_attach", "init", "run", "Table", "Image", "Audio", "Video", "Api", "Artifact"):
            getattr(wandb, name)
        logger = WandbLogger(project="names", name="n")
        run = logger.experiment
        assert isinstance(run, Run) and run is wandb.run
        for name in ("id", "name", "_attach_id", "define_metric", "watch", "unwatch", "config", "log",
                     "log_artifact"):
            getattr(run, name)
        assert wandb._attach(run._attach_id) is run  # in the process that owns it: the same object
        wandb.finish()
        print("OK")
        """,
        env=ENV,
    )
    assert res.stdout.split()[-1] == "OK"


MODULE = """
import sys

import torch
from torch.utils.data import DataLoader, TensorDataset
import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger


class Tiny(pl.LightningModule):
    def __init__(self, hidden=8, lr=0.05):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, i):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, i):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


QUIET = dict(accelerator="cpu", enable_progress_bar=False, enable_model_summary=False)
"""

ONE_PROCESS = (
    MODULE
    + """
if __name__ == "__main__":
    torch.manual_seed(0)
    model = Tiny()
    logger = WandbLogger(project="pl", name="tiny", log_model=True)
    logger.watch(model, log="all", log_freq=2)
    trainer = pl.Trainer(max_epochs=2, devices=1, logger=logger, log_every_n_steps=2,
                         callbacks=[ModelCheckpoint(monitor="val_loss", save_top_k=1)], **QUIET)
    trainer.fit(model, data(64, 1), data(32, 2))
    logger.log_table("samples", columns=["x", "y"], data=[[1, 2.0], [3, 4.0]])
    logger.log_text("texts", columns=["text"], data=[["hello"], ["world"]])
    logger.log_image("images", [torch.zeros(3, 4, 4), torch.ones(3, 4, 4)], caption=["zeros", "ones"])
    print("RUN", logger.experiment.id)
"""
)


def test_wandb_logger(rh: RhEnv) -> None:
    res = run_script(rh, ONE_PROCESS)
    run_id = res.stdout.split("RUN ", 1)[1].split()[0]
    runs = rh.api().runs("pl")
    assert [r.id for r in runs] == [run_id]
    run = runs[0]
    assert run.state == "finished" and run.name == "tiny"
    assert run.config == {"hidden": 8, "lr": 0.05}  # save_hyperparameters() -> log_hyperparams

    rows = run.history(pandas=False, samples=None)
    train = [r for r in rows if "train_loss" in r]
    val = [r for r in rows if "val_loss" in r]
    # 8 batches an epoch, logged every 2 steps, with Lightning's x-axis; one validation row per epoch.
    assert [r["trainer/global_step"] for r in train] == [1, 3, 5, 7, 9, 11, 13, 15]
    assert [(r["epoch"], r["trainer/global_step"]) for r in val] == [(0, 7), (1, 15)]
    assert run.summary["val_loss"] == val[-1]["val_loss"]

    # logger.watch(log="all", log_freq=2): gradient and parameter histograms of every parameter, every 2nd pass.
    grads = [r for r in rows if "gradients/net.0.weight" in r]
    params = [r for r in rows if "parameters/net.0.weight" in r]
    assert len(grads) == 8 and params
    for key in ("gradients/net.0.bias", "gradients/net.2.weight", "parameters/net.2.bias"):
        assert any(key in r for r in rows), key
    hist = grads[0]["gradients/net.0.weight"]
    assert hist["_type"] == "histogram" and len(hist["values"]) == 64 and sum(hist["values"]) == 8 * 4

    # log_table / log_text: tables in history and summary, their data in the run's files.
    for key, expected in (("samples", [[1, 2.0], [3, 4.0]]), ("texts", [["hello"], ["world"]])):
        cell = run.summary[key]
        assert cell["_type"] == "table-file" and cell["nrows"] == 2
        assert any(key in r for r in rows)
        assert json.loads(Path(cell["path"]).read_text())["data"] == expected

    # log_image: a list of images in one row.
    images = [r["images"] for r in rows if "images" in r]
    assert len(images) == 1 and len(images[0]) == 2

    # log_model=True: the best checkpoint, at the end, as the run's model artifact with W&B's aliases.
    (manifest,) = manifests_of(run, f"model-{run.id}")
    assert manifest["type"] == "model" and set(manifest["aliases"]) >= {"latest", "best"}
    assert [f["path"] for f in manifest["files"]] == ["model.ckpt"]
    assert manifest["metadata"]["score"] == pytest.approx(val[-1]["val_loss"])
    assert manifest["metadata"]["ModelCheckpoint"]["monitor"] == "val_loss"


DDP = (
    MODULE
    + """
if __name__ == "__main__":
    torch.manual_seed(0)
    model = Tiny()
    logger = WandbLogger(project="pl-ddp", name="ddp")
    trainer = pl.Trainer(max_epochs=2, devices=2, strategy=sys.argv[1], logger=logger, log_every_n_steps=1,
                         enable_checkpointing=False, **QUIET)
    trainer.fit(model, data(64, 1), data(32, 2))
    if trainer.global_rank == 0:  # with ddp, rank 1 runs this file too
        print("RUN", logger.experiment.id)
"""
)


@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp"])
def test_ddp_on_two_cpu_processes_is_one_run(rh: RhEnv, strategy: str) -> None:
    """ddp_spawn: Lightning pickles the logger into the spawned ranks: `__getstate__` calls
    `wandb.require("service")`, makes the run in the main process and passes its `_attach_id`; rank 0 calls
    `wandb._attach(attach_id)` and logs as another writer of the same run. One run holds everything; it finishes
    when the main process does. ddp: the main process is rank 0 and logs; rank 1 (`python train.py` again) makes
    no run."""
    res = run_script(rh, DDP, strategy)
    run_id = res.stdout.split("RUN ", 1)[1].split()[0]
    runs = rh.api().runs("pl-ddp")
    assert [r.id for r in runs] == [run_id]
    run = runs[0]
    assert run.state == "finished" and run.name == "ddp"
    assert run.config == {"hidden": 8, "lr": 0.05}
    rows = run.history(pandas=False, samples=None)
    # 64 samples, batch 8, 2 ranks: 4 steps an epoch, every step logged by rank 0; a validation row per epoch.
    assert [r["trainer/global_step"] for r in rows if "train_loss" in r] == list(range(8))
    assert [r["epoch"] for r in rows if "val_loss" in r] == [0, 1]
    assert [r["_step"] for r in rows] == list(range(len(rows)))
    assert len(rh.daemon_pids()) == 1


LOG_MODEL_ALL = (
    MODULE
    + """
if __name__ == "__main__":
    torch.manual_seed(0)
    logger = WandbLogger(project="pl-all", log_model="all")
    trainer = pl.Trainer(max_epochs=2, devices=1, logger=logger, log_every_n_steps=4,
                         callbacks=[ModelCheckpoint(monitor="val_loss", save_top_k=-1)], **QUIET)
    trainer.fit(Tiny(), data(64, 1), data(32, 2))
"""
)


def test_log_model_all_logs_every_checkpoint(rh: RhEnv) -> None:
    """log_model="all": each checkpoint as it is saved, a version of `model-<run id>`; "latest" and "best" move to
    the newest and the best one (the validation loss falls here, so both end on the second)."""
    run_script(rh, LOG_MODEL_ALL)
    (run,) = rh.api().runs("pl-all")
    val = [r["val_loss"] for r in run.history(pandas=False, samples=None) if "val_loss" in r]
    assert len(val) == 2 and val[1] < val[0]
    manifests = manifests_of(run, f"model-{run.id}")
    assert [m["metadata"]["original_filename"] for m in manifests] == [
        "epoch=0-step=8.ckpt",
        "epoch=1-step=16.ckpt",
    ]
    assert [m["metadata"]["score"] for m in manifests] == pytest.approx(val)
    assert manifests[0]["aliases"] == [] and set(manifests[1]["aliases"]) == {"latest", "best"}
