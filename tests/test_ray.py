"""Ray Tune's own W&B integration (`ray.air.integrations.wandb`), unchanged, logging into runhive: with
`RUNHIVE_AS_WANDB=1` every process on the node (the Tune driver, the per-trial logging actors, the trainables)
imports runhive as `wandb` and talks to the one daemon. Seed 003's examples run as written."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator

import psutil
import pytest

from conftest import RhEnv

pytest.importorskip("ray", reason="the Ray Tune tests need the `ray` extra (installed by `make test`)")

# Seed 003, first example, as written (its placeholders included).
SEED_003_CALLBACK = """
from ray import tune, train
from ray.air.integrations.wandb import WandbLoggerCallback


def train_fc(config):
    for i in range(10):
        train.report({"mean_accuracy": (i + config["alpha"]) / 10})


tuner = tune.Tuner(
    train_fc,
    param_space={
        "alpha": tune.grid_search([0.1, 0.2, 0.3]),
        "beta": tune.uniform(0.5, 1.0),
    },
    run_config=train.RunConfig(
        callbacks=[
            WandbLoggerCallback(
                project="<your-project>", api_key="<your-api-key>", log_config=True
            )
        ]
    ),
)

results = tuner.fit()
"""


@pytest.fixture
def ray_env(rh: RhEnv) -> Iterator[dict[str, str]]:
    """Environment for a script that starts its own Ray: a private temp dir (short, for Ray's Unix sockets),
    no usage stats, Tune's V1 API (seed 003's `train.RunConfig(callbacks=...)` and `train.report` in a Tune
    function need it on Ray 2.60). Every Ray process left under that dir is killed afterwards, by pid."""
    tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    env = {
        "RUNHIVE_AS_WANDB": "1",
        "RAY_TMPDIR": tmp,
        "RAY_TRAIN_V2_ENABLED": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AIR_NEW_OUTPUT": "0",
        "HOME": tmp,  # Tune writes its results under ~/ray_results
    }
    try:
        yield env
    finally:
        for p in psutil.process_iter(["cmdline"]):
            try:
                if any(tmp in part for part in p.info["cmdline"] or []):
                    os.kill(p.pid, signal.SIGKILL)
            except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def test_seed_003_logger_callback_runs_as_written(rh: RhEnv, ray_env: dict[str, str]) -> None:
    rh.run(SEED_003_CALLBACK, env=ray_env, timeout=240)
    runs = rh.api().runs("<your-project>")
    assert len(runs) == 3
    by_alpha = {r.config["alpha"]: r for r in runs}
    assert sorted(by_alpha) == [0.1, 0.2, 0.3]
    for alpha, run in by_alpha.items():
        assert run.state == "finished", run
        rows = run.history(pandas=False, samples=None)
        assert [r["mean_accuracy"] for r in rows] == [(i + alpha) / 10 for i in range(10)]
        assert [r["_step"] for r in rows] == list(range(1, 11))  # step = Tune's training_iteration
        assert 0.5 <= run.config["beta"] <= 1.0
        assert (
            run.config["trial_id"] == run.id
        )  # Ray's AUTO_CONFIG_KEYS go to config, the trial id is the run id
        assert run.group  # Ray's default group: the experiment directory
    assert len(rh.daemon_pids()) == 1  # driver and every logging actor shared one daemon


SETUP_WANDB = """
from ray import tune
from ray.air.integrations.wandb import setup_wandb


def train_fn(config):
    run = setup_wandb(config, project="setup-proj")
    for i in range(5):
        loss = config["a"] + config["b"] + i
        run.log({"loss": loss})
        tune.report({"loss": loss})
    run.finish()


tuner = tune.Tuner(
    train_fn,
    param_space={"a": tune.grid_search([1, 2]), "b": tune.choice([4, 5, 6])},
)
results = tuner.fit()
best = results.get_best_result(metric="loss", mode="min")
print("BEST", best.metrics["loss"])
"""


def test_setup_wandb_in_a_trainable_logs_through_runhive(rh: RhEnv, ray_env: dict[str, str]) -> None:
    res = rh.run(SETUP_WANDB, env=ray_env, timeout=240)
    runs = rh.api().runs("setup-proj")
    # Tune's view and runhive's agree on the best trial (b is drawn at random, so either a can win).
    assert f"BEST {min(r.summary['loss'] for r in runs)}" in res.stdout
    assert sorted(r.config["a"] for r in runs) == [1, 2]
    for run in runs:
        assert run.state == "finished"
        losses = [row["loss"] for row in run.history(pandas=False, samples=None)]
        base = run.config["a"] + run.config["b"]
        assert losses == [base + i for i in range(5)]


def test_without_the_switch_wandb_is_not_runhive(rh: RhEnv) -> None:
    res = rh.run(
        """
        import importlib.util
        spec = importlib.util.find_spec("wandb")
        print("WANDB", None if spec is None else type(spec.loader).__module__)
        """
    )
    assert "runhive" not in res.stdout.split("WANDB", 1)[1]
