"""`watch(model, log_graph=True)`: the module tree as W&B's torch graph, in the run's summary as `graph_0`
(a `graph-file` JSON under media/graph/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import RhEnv

pytest.importorskip("torch")

GRAPH = """
import torch
import runhive as wandb

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.body(x))

run = wandb.init(project="graph", settings=wandb.Settings(console="off"))
model = Net()
graphs = run.watch(model, log="all", log_freq=1, log_graph=True)
assert len(graphs) == 1
try:
    run.watch(model, log_graph=True)
except ValueError as exc:
    assert "once per model" in str(exc)
else:
    raise SystemExit("a second watch(log_graph=True) of one model must fail as in W&B")
for _ in range(2):
    model(torch.randn(3, 4)).sum().backward()
    run.log({"loss": 1.0})
run.finish()
"""


def test_log_graph_records_the_module_tree(rh: RhEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    rh.environ["RUNHIVE_CONFIG_DIR"] = str(rh.root / "config")  # no login of the machine: local only
    monkeypatch.setenv("RUNHIVE_CONFIG_DIR", str(rh.root / "config"))
    rh.run(GRAPH)
    run = rh.api().runs("graph")[0]
    ref = run.summary["graph_0"]
    assert ref["_type"] == "graph-file"
    names = [f.name for f in run.files()]
    media = [n for n in names if n.startswith("media/graph/") and n.endswith(".graph.json")]
    assert len(media) == 1
    data = json.loads(Path(run.dir, "files", media[0]).read_text())
    assert data["format"] == "torch" and data["edges"] == []
    nodes = {n["name"]: n for n in data["nodes"]}
    assert set(nodes) == {"body.0", "body.1", "head"}  # containers walked into, names dotted
    assert nodes["body.0"]["class_name"] == "Linear(in_features=4, out_features=8, bias=True)"
    assert nodes["body.0"]["output_shape"] == [[3, 8]]
    assert nodes["body.0"]["parameters"] == [["weight", [8, 4]], ["bias", [8]]]
    assert nodes["body.0"]["num_parameters"] == [32, 8]
    assert nodes["body.1"]["parameters"] == []
    assert nodes["head"]["output_shape"] == [[3, 2]]
    # The histograms of watch() still come, beside the graph.
    row = run.history(pandas=False, samples=None)[-1]
    assert "gradients/head.weight" in row and "parameters/head.weight" in row
