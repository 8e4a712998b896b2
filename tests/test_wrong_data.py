"""Issue 13's "silently wrong data": each case once returned plausible but wrong data without an error."""

from __future__ import annotations

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
    rows = api_run.history()
    assert [r.get("epoch") for r in rows[1:]] == [1, 1]  # the step metric still synced
