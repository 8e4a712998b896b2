"""`RUNHIVE_AS_WANDB=1`: `import wandb` answered by runhive in every process (for libraries that import wandb
themselves, such as Ray Tune's integration), with the module paths integrations import names from."""

from __future__ import annotations

from conftest import RhEnv

ALIAS = {"RUNHIVE_AS_WANDB": "1"}


def test_import_wandb_is_runhive_and_follows_the_current_run(rh: RhEnv) -> None:
    res = rh.run(
        """
        import wandb
        import runhive
        from wandb.sdk.data_types.base_types.wb_value import WBValue
        from wandb.sdk.data_types.image import Image
        from wandb.sdk.data_types.video import Video
        from wandb.sdk.lib.disabled import RunDisabled
        from wandb.util import json_dumps_safer
        from wandb.wandb_run import Run

        assert Run is runhive.Run and Image is runhive.Image and issubclass(Image, WBValue)
        assert issubclass(Video, WBValue) and RunDisabled is not None
        wandb.ensure_configured()
        assert wandb.api.api_key
        assert wandb.run is None
        run = wandb.init(project="alias", config={"a": 1})
        assert wandb.run is run and isinstance(run, Run)
        wandb.config.update({"b": 2}, allow_val_change=True)
        wandb.log({"x": 1.5}, step=3)
        wandb.finish()
        assert wandb.run is None
        import numpy as np
        print(json_dumps_safer({"n": np.float32(0.5), "s": {1, 2}}))
        try:
            json_dumps_safer({"o": object()})
        except TypeError as exc:
            print("REFUSED", exc)
        disabled = wandb.init(mode="disabled")
        disabled.log({"anything": object()})
        print("DISABLED", type(disabled).__name__)
        """,
        env=ALIAS,
    )
    assert '{"n": 0.5, "s": [1, 2]}' in res.stdout
    assert "REFUSED Object of type object is not JSON serializable" in res.stdout
    (run,) = rh.api().runs("alias")
    assert run.config == {"a": 1, "b": 2}
    assert [(r["_step"], r["x"]) for r in run.history(pandas=False, samples=None)] == [(3, 1.5)]
    assert "DISABLED DisabledRun" in res.stdout


def test_tensorboard_and_gym_module_paths_resolve(rh: RhEnv) -> None:
    res = rh.run(
        """
        import runhive
        import wandb.gym
        import wandb.integration.tensorboard
        import wandb.tensorboard
        from wandb.tensorboard import patch, unpatch

        assert patch is runhive.tensorboard.patch and unpatch is runhive.tensorboard.unpatch
        assert wandb.integration.tensorboard.patch is patch and callable(wandb.gym.monitor)
        print("PATHS OK")
        """,
        env=ALIAS,
    )
    assert "PATHS OK" in res.stdout
