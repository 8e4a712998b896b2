"""Every code example of ../shared/seeds runs as written with `import wandb` → `import runhive as wandb` (issue 3).

The offline example of seed 002 (followed by `runhive sync`) lives in test_offline_sync.py.
"""

from __future__ import annotations

from conftest import RhEnv

SEED_000_NESTED = """
import runhive as wandb

def do_experiment(run):
    for i in range(5):
        run.log({"inner": i})
    return {"result": 5}

wandb.setup(wandb.Settings(reinit="create_new"))

with wandb.init() as experiment_results_run:
    for _ in range(3):
        with wandb.init() as run:
            experiment_results = do_experiment(run)
            experiment_results_run.log(experiment_results)
"""

SEED_001_TRACKING = '''
import runhive as wandb

def train(name: str) -> None:
    """Perform one training iteration in its own W&B run."""
    with wandb.init(
        project="my_project",
        name=name,
        reinit="create_new"
    ) as run:
        run.log({"train_loss": 0.42})

def evaluate_loss_accuracy() -> (float, float):
    return 0.27, 0.91

with wandb.init(
    project="my_project",
    name="tracking_run",
    reinit="create_new"
) as tracking_run:
    train("training_1")
    loss, accuracy = evaluate_loss_accuracy()
    tracking_run.log({"eval_loss": loss, "eval_accuracy": accuracy})

    train("training_2")
    loss, accuracy = evaluate_loss_accuracy()
    tracking_run.log({"eval_loss": loss, "eval_accuracy": accuracy})
'''

SEED_002_LOOP = """
import runhive as wandb
for x in range(10):
    run = wandb.init(project="runs-from-for-loop", reinit=True)
    for y in range (100):
        wandb.log({"metric": x+y})
    run.finish()
"""

SEED_002_CTX = """
import runhive as wandb
for x in range(10):
    run = wandb.init(reinit=True)
    with run:
        for y in range(100):
            run.log({"metric": x+y})
"""

SEED_002_NAME = """
import runhive as wandb

wandb.init()
run_name = wandb.run.name
print(run_name)
"""

SEED_002_RENAME = """
import runhive as wandb
wandb.init()
wandb.run.name = wandb.run.id
wandb.run.save()
"""

REINIT_FORMS = [
    'import runhive as wandb\nwandb.init(reinit="{v}")\n',
    'import runhive as wandb\nwandb.init(settings=wandb.Settings(reinit="{v}"))\n',
    'import runhive as wandb\nwandb.setup(wandb.Settings(reinit="{v}"))\n',
]


def test_seed_000_nested_create_new_runs(rh: RhEnv) -> None:
    rh.run(SEED_000_NESTED)
    runs = rh.api().runs("Uncategorized")
    assert len(runs) == 4 and {r.state for r in runs} == {"finished"}
    parent = [r for r in runs if "result" in r.summary]
    children = [r for r in runs if "inner" in r.summary]
    assert len(parent) == 1 and len(children) == 3
    assert [row["result"] for row in parent[0].history(pandas=False, samples=None)] == [5, 5, 5]
    assert all(
        [row["inner"] for row in c.history(pandas=False, samples=None)] == list(range(5)) for c in children
    )


def test_seed_001_tracking_run_with_sub_runs(rh: RhEnv) -> None:
    rh.run(SEED_001_TRACKING)
    runs = {r.name: r for r in rh.api().runs("my_project")}
    assert set(runs) == {"tracking_run", "training_1", "training_2"}
    assert {r.state for r in runs.values()} == {"finished"}
    assert [row["train_loss"] for row in runs["training_1"].history(pandas=False, samples=None)] == [0.42]
    rows = runs["tracking_run"].history(pandas=False, samples=None)
    assert [(r["eval_loss"], r["eval_accuracy"]) for r in rows] == [(0.27, 0.91), (0.27, 0.91)]


def test_seed_000_reinit_forms_all_accepted(rh: RhEnv) -> None:
    for form in REINIT_FORMS:
        for v in ("create_new", "finish_previous", "return_previous"):
            rh.run(form.format(v=v))
    runs = rh.api().runs("Uncategorized")
    assert len(runs) == 6  # the setup() forms start no run
    assert {r.state for r in runs} == {"finished"}


def test_seed_002_for_loop_with_reinit_true(rh: RhEnv) -> None:
    res = rh.run(SEED_002_LOOP)
    assert "Using a boolean value for 'reinit' is deprecated" in res.stderr
    runs = rh.api().runs("runs-from-for-loop")
    assert len(runs) == 10 and {r.state for r in runs} == {"finished"}
    for x, r in enumerate(runs):
        assert [row["metric"] for row in r.history(pandas=False, samples=None)] == [x + y for y in range(100)]


def test_seed_002_context_manager_variant(rh: RhEnv) -> None:
    rh.run(SEED_002_CTX)
    runs = rh.api().runs("Uncategorized")
    assert len(runs) == 10 and {r.state for r in runs} == {"finished"}
    assert sorted(r.summary["metric"] for r in runs) == [x + 99 for x in range(10)]


def test_seed_002_run_name_and_rename_to_id(rh: RhEnv) -> None:
    name = rh.run(SEED_002_NAME).stdout.strip()
    assert name and name.count("-") == 2 and name.split("-")[-1].isdigit()
    rh.run(SEED_002_RENAME)
    runs = rh.api().runs("Uncategorized")
    renamed = [r for r in runs if r.name == r.id]
    assert len(renamed) == 1 and renamed[0].state == "finished"


# Seed 002's argument table: `sync_tensorboard` copies every TensorBoard log into the run (its example is the
# docs' one-liner, `wandb.init(sync_tensorboard=True)`, with the user's TensorBoard code after it).
SEED_002_TENSORBOARD = """
import runhive as wandb
from torch.utils.tensorboard import SummaryWriter

wandb.init(sync_tensorboard=True)
writer = SummaryWriter()
for step in range(5):
    writer.add_scalar("metric", step * step, step)
writer.close()
wandb.finish()
"""


def test_seed_002_sync_tensorboard(rh: RhEnv) -> None:
    import pytest

    pytest.importorskip("tensorboard")
    res = rh.run(SEED_002_TENSORBOARD)
    assert "not supported" not in res.stderr
    (run,) = rh.api().runs("Uncategorized")
    assert run.state == "finished"
    rows = run.history(pandas=False)
    assert [(r["global_step"], r["metric"]) for r in rows] == [(s, s * s) for s in range(5)]
