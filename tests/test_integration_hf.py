"""Hugging Face transformers' own W&B integration (`Trainer(report_to=["wandb"])`, `WandbCallback`), unchanged,
logging into runhive through the `import wandb` alias (`RUNHIVE_AS_WANDB=1`): a tiny BERT built from a config in
code, synthetic data, no hub downloads; what runhive stored is read back through `runhive.Api()`."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from conftest import RhEnv, manifests_of

pytest.importorskip("torch", reason="the integration tests need torch (installed by `make install`)")
pytest.importorskip(
    "transformers", reason="the integration tests need transformers (installed by `make install`)"
)

ENV = {
    "RUNHIVE_AS_WANDB": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "1",
}


def run_script(
    rh: RhEnv, source: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run `source` as the file train.py in the test's work directory, with the alias on."""
    (rh.work / "train.py").write_text(textwrap.dedent(source))
    code = "import runpy; runpy.run_path('train.py', run_name='__main__')"
    return rh.run(code, env={**ENV, **env}, timeout=timeout)


def test_every_wandb_name_transformers_uses_is_answered(rh: RhEnv) -> None:
    """What transformers/integrations/integration_utils.py and trainer.py import and call on `wandb`."""
    res = rh.run(
        """
        import wandb
        import wandb.env
        from wandb.sdk.lib.config_util import ConfigError as WandbConfigError

        import runhive
        from transformers.integrations import WandbCallback, is_wandb_available

        assert is_wandb_available()
        assert WandbConfigError is runhive.ConfigError
        for name in ("run", "init", "config", "summary", "log", "finish", "define_metric", "watch", "termwarn",
                     "Artifact", "log_artifact", "sweep", "agent"):
            getattr(wandb, name)
        wandb.env.set_entity("someone")
        wandb.env.set_project("")
        import os
        assert (os.environ["WANDB_ENTITY"], os.environ["WANDB_PROJECT"]) == ("someone", "uncategorized")
        wandb.termwarn("a warning once", repeat=False)
        wandb.termwarn("a warning once", repeat=False)
        callback = WandbCallback()
        assert callback._wandb is wandb
        run = wandb.init(project="names")
        for name in ("id", "name", "url", "summary", "log_artifact", "_label"):
            getattr(run, name)
        run._label(code="transformers_trainer")
        run.finish()
        print("OK")
        """,
        env=ENV,
    )
    assert res.stdout.split()[-1] == "OK"
    assert res.stderr.count("a warning once") == 1


TRAIN = """
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

torch.manual_seed(0)
config = BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=2)
model = BertForSequenceClassification(config)


class Data(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(0, 32, (n, 8), generator=g)
        self.y = (self.x[:, 0] >= 16).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.y[i]}


# 100 optimizer steps: WandbCallback watches with log_freq=max(100, logging_steps).
args = TrainingArguments(output_dir="out", report_to=["wandb"], run_name="tiny-bert", num_train_epochs=1,
                         per_device_train_batch_size=8, per_device_eval_batch_size=32, logging_steps=20,
                         eval_strategy="epoch", save_strategy="no", use_cpu=True, disable_tqdm=True,
                         learning_rate=1e-3, seed=0)
trainer = Trainer(model=model, args=args, train_dataset=Data(800, 1), eval_dataset=Data(64, 2))
trainer.train()
trainer.evaluate()

import wandb
print("RUN", wandb.run.id)
wandb.finish()
"""


def test_trainer_report_to_wandb(rh: RhEnv) -> None:
    env = {"WANDB_PROJECT": "hf", "WANDB_WATCH": "all", "WANDB_LOG_MODEL": "end"}
    res = run_script(rh, TRAIN, env)
    run_id = res.stdout.split("RUN ", 1)[1].split()[0]
    runs = rh.api().runs("hf")
    assert [r.id for r in runs] == [run_id]
    run = runs[0]
    assert run.state == "finished" and run.name == "tiny-bert"

    rows = run.history(pandas=False, samples=None)
    train = [r for r in rows if "train/loss" in r]
    evals = [r for r in rows if "eval/loss" in r]
    assert [r["train/global_step"] for r in train] == [20, 40, 60, 80, 100]
    assert len(evals) == 2  # the epoch's evaluation and trainer.evaluate()
    assert all(r["train/global_step"] == 100 for r in evals)
    assert train[-1]["train/loss"] < train[0]["train/loss"]

    # TrainingArguments and the model's config, merged (id2label's int keys as W&B stores them: JSON text).
    assert run.config["learning_rate"] == 1e-3 and run.config["hidden_size"] == 16
    assert run.config["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}
    assert run.config["model/num_parameters"] > 0
    for key in ("train_runtime", "train_loss", "total_flos", "eval/loss"):
        assert key in run.summary, key

    # WANDB_WATCH=all: 64-bin histograms of the gradients and the parameters at the 100th pass, under W&B's keys.
    grads = [r for r in rows if "gradients/classifier.weight" in r]
    params = [r for r in rows if "parameters/classifier.weight" in r]
    assert len(grads) == 1 and len(params) >= 1
    hist = grads[0]["gradients/classifier.weight"]
    assert hist["_type"] == "histogram" and len(hist["values"]) == 64 and len(hist["bins"]) == 65
    assert sum(hist["values"]) == 2 * 16  # every element of the 2x16 classifier weight's gradient
    assert "parameters/bert.embeddings.word_embeddings.weight" in params[0]
    assert any(k.startswith("gradients/bert.encoder.layer.0.") for k in grads[0])

    # WANDB_LOG_MODEL=end: the initial model ("base_model") and the final one ("final_model") as versions of one
    # model artifact; the model config's int keys in its metadata are stored as W&B stores them.
    manifests = manifests_of(run, "model-tiny-bert")
    assert [m["type"] for m in manifests] == ["model", "model"]
    assert "base_model" in manifests[0]["aliases"] and "final_model" in manifests[1]["aliases"]
    assert manifests[0]["metadata"]["model_config"]["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}
    assert {"config.json", "model.safetensors"} <= {f["path"] for f in manifests[1]["files"]}
    assert manifests[1]["metadata"]["train_loss"] == pytest.approx(run.summary["train_loss"])


def test_trainer_logs_checkpoints_and_gradients_only(rh: RhEnv) -> None:
    """WANDB_LOG_MODEL=checkpoint: every checkpoint the Trainer saves is a version of the model artifact, with
    W&B's aliases; WANDB_WATCH=gradients: gradient histograms only."""
    source = TRAIN.replace('save_strategy="no"', 'save_strategy="steps", save_steps=50')
    res = run_script(
        rh, source, {"WANDB_PROJECT": "hf-ckpt", "WANDB_WATCH": "gradients", "WANDB_LOG_MODEL": "checkpoint"}
    )
    run_id = res.stdout.split("RUN ", 1)[1].split()[0]
    (run,) = rh.api().runs("hf-ckpt")
    assert run.id == run_id and run.state == "finished"
    rows = run.history(pandas=False, samples=None)
    assert any("gradients/classifier.weight" in r for r in rows)
    assert not any(k.startswith("parameters/") for r in rows for k in r)
    manifests = manifests_of(run, "model-tiny-bert")
    # The initial model, the checkpoints at steps 50 and 100, the final model (WANDB_LOG_MODEL implies "end").
    assert [m["version"] for m in manifests] == ["v0", "v1", "v2", "v3"]
    assert manifests[0]["aliases"] == ["base_model"]
    assert set(manifests[1]["aliases"]) == {"epoch_0.5", "checkpoint_global_step_50"}
    assert set(manifests[2]["aliases"]) == {"epoch_1.0", "checkpoint_global_step_100"}
    assert "final_model" in manifests[3]["aliases"]
    assert {"model.safetensors", "optimizer.pt", "trainer_state.json"} <= {
        f["path"] for f in manifests[1]["files"]
    }
    # Metadata: the summary's numbers when the checkpoint was saved (the last row was logged at step 40).
    assert manifests[1]["metadata"]["train/global_step"] == 40
    assert manifests[2]["metadata"]["train/global_step"] == 100


HP_SEARCH = """
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments


def model_init(trial=None):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=2)
    return BertForSequenceClassification(config)


class Data(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(0, 32, (n, 8), generator=g)
        self.y = (self.x[:, 0] >= 16).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.y[i]}


def hp_space(trial):
    return {"method": "grid", "metric": {}, "parameters": {"learning_rate": {"values": [1e-3, 1e-2]}}}


args = TrainingArguments(output_dir="out", report_to=["wandb"], num_train_epochs=1, per_device_train_batch_size=16,
                         logging_steps=5, eval_strategy="no", save_strategy="no", use_cpu=True, disable_tqdm=True)
trainer = Trainer(model_init=model_init, args=args, train_dataset=Data(160, 1), eval_dataset=Data(32, 2))
best = trainer.hyperparameter_search(backend="wandb", hp_space=hp_space, n_trials=2, direction="minimize",
                                     project="hp")
print("BEST", best.run_id, best.objective, best.hyperparameters["learning_rate"])
"""


def test_hyperparameter_search_with_the_wandb_backend(rh: RhEnv) -> None:
    """`trainer.hyperparameter_search(backend="wandb")`: transformers builds a W&B sweep (`wandb.sweep`) and runs
    its trials with `wandb.agent`; runhive's sweeps answer both, one run per trial."""
    res = run_script(rh, HP_SEARCH, {})
    best_id, objective, best_lr = res.stdout.split("BEST ", 1)[1].split()
    runs = rh.api().runs("hp")
    assert sorted(r.config["learning_rate"] for r in runs) == [1e-3, 1e-2]
    for run in runs:
        assert run.state == "finished" and "eval/loss" in run.summary
        assert run.config["metric"] == "eval/loss"  # set by transformers' objective
    best = min(runs, key=lambda r: r.summary["eval/loss"])
    assert best.id == best_id and float(objective) == pytest.approx(best.summary["eval/loss"])
    assert float(best_lr) == best.config["learning_rate"]
