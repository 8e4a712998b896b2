"""`init(sync_tensorboard=True)` and `runhive.tensorboard.patch()`: what TensorBoard writers (torch's and
tensorboardX's) write during a run is logged into it, keyed and stepped as W&B's converter does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import RhEnv

pytest.importorskip("tensorboard")
pytest.importorskip("tensorboardX")

TORCH_SCRIPT = """
import numpy as np
import runhive as wandb
from torch.utils.tensorboard import SummaryWriter

run = wandb.init(project="tb", sync_tensorboard=True)
writer = SummaryWriter("logs/exp")
for i in range(3):
    writer.add_scalar("loss", 1.0 / (i + 1), global_step=i * 10)
    writer.add_scalar("acc", i / 4, global_step=i * 10)
    writer.add_scalars("pair", {"a": i, "b": -i}, global_step=i * 10)
writer.add_histogram("weights", np.random.default_rng(0).normal(size=1000), global_step=20)
writer.add_image("img", np.random.default_rng(1).random((3, 8, 6)), global_step=20)
writer.close()
run.finish()
print(run.id)
"""

TBX_SCRIPT = """
import numpy as np
import runhive as wandb
wandb.tensorboard.patch(root_logdir="logs")
from tensorboardX import SummaryWriter

run = wandb.init(project="tbx")
train, val = SummaryWriter("logs/train"), SummaryWriter("logs/val")
for step in (1, 2, 3):
    train.add_scalar("loss", step * 2.0, global_step=step)
    val.add_scalar("loss", step * 3.0, global_step=step)
train.add_histogram("h", np.arange(100.0), global_step=3)
train.add_video("clip", np.random.default_rng(0).random((1, 4, 3, 8, 8)), global_step=3, fps=2)
train.close(); val.close()
run.finish()
wandb.tensorboard.unpatch()
print(run.id)
"""


@pytest.fixture(autouse=True)
def _unpatched() -> Iterator[None]:
    # init(sync_tensorboard=True) in this process (another test's) leaves the writers patched, as W&B does
    from runhive.integration import _tensorboard

    _tensorboard.unpatch()
    yield
    _tensorboard.unpatch()


def _history(rh: RhEnv, project: str, run_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = rh.api().run(f"{project}/{run_id}").history(pandas=False)
    return rows


def test_torch_summary_writer_scalars_histograms_images(rh: RhEnv) -> None:
    res = rh.run(TORCH_SCRIPT)
    assert "not supported" not in res.stderr
    rows = _history(rh, "tb", res.stdout.split()[-1])
    assert [r["global_step"] for r in rows] == [0, 10, 20]  # one row per TensorBoard step, as W&B
    assert [r["_step"] for r in rows] == [0, 1, 2]
    assert [r["loss"] for r in rows] == pytest.approx([1.0, 0.5, 1 / 3])
    assert [r["acc"] for r in rows] == pytest.approx([0.0, 0.25, 0.5])
    # add_scalars writes through child writers under the writer's directory: namespaced as W&B does
    assert [r["pair_a/pair"] for r in rows] == [0, 1, 2]
    assert [r["pair_b/pair"] for r in rows] == [0, -1, -2]
    assert rows[-1]["pair_b/global_step"] == 20
    hist = rows[-1]["weights"]
    assert hist["_type"] == "histogram" and sum(hist["values"]) == 1000
    assert len(hist["bins"]) == len(hist["values"]) + 1 <= 513
    img = rows[-1]["img"]
    assert img["_type"] == "image-file" and (img["width"], img["height"]) == (6, 8)
    run = rh.api().run(f"tb/{res.stdout.split()[-1]}")
    assert run.summary["loss"] == pytest.approx(1 / 3)
    files = list((rh.work / "runhive").glob("run-*/files/exp/*tfevents*"))
    assert files, "the event files are saved with the run"


def test_tensorboardx_with_root_logdir_patch_and_unpatch(rh: RhEnv) -> None:
    res = rh.run(TBX_SCRIPT)
    rows = _history(rh, "tbx", res.stdout.split()[-1])
    assert [r["train/global_step"] for r in rows] == [1, 2, 3]
    assert [r["train/loss"] for r in rows] == [2.0, 4.0, 6.0]
    assert [r["val/loss"] for r in rows] == [3.0, 6.0, 9.0]
    assert [r["global_step"] for r in rows] == [1, 2, 3]
    assert rows[-1]["train/h"]["_type"] == "histogram"
    assert sum(rows[-1]["train/h"]["values"]) == 100
    assert rows[-1]["train/clip"]["_type"] == "video-file"  # tensorboardX's GIF, as W&B logs it


def test_patch_twice_is_an_error_and_unpatch_restores() -> None:
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    import runhive

    orig = EventFileWriter.add_event
    runhive.tensorboard.patch()
    try:
        assert EventFileWriter.add_event is not orig
        with pytest.raises(ValueError, match="already patched"):
            runhive.tensorboard.patch()
    finally:
        runhive.tensorboard.unpatch()
    assert EventFileWriter.add_event is orig


def test_writer_without_a_run_is_untouched(tmp_path: Any) -> None:
    from tensorboardX import SummaryWriter

    import runhive

    runhive.tensorboard.patch()
    try:
        writer = SummaryWriter(str(tmp_path / "logs"))
        writer.add_scalar("x", 1.0, 0)
        writer.close()
    finally:
        runhive.tensorboard.unpatch()
    assert list((tmp_path / "logs").glob("*tfevents*"))
