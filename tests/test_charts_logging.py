"""`run.log` with what W&B's `log` converts: `runhive.plot` charts (the table under `<key>_table`, the panel in
config at `_wandb.visualize.<key>`), pandas DataFrames (a `Table`), plotly figures (a `Plotly`) and matplotlib
figures (a `Plotly`, or an `Image` when plotly cannot take them), through a real daemon."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import RhEnv

CHARTS = """
import runhive as wandb

run = wandb.init(project="charts")
table = wandb.Table(data=[[x, x * x] for x in range(5)], columns=["x", "y"])
run.log({"my_line": wandb.plot.line(table, "x", "y", title="squares"), "acc": 0.5})
run.log({"eval": {"points": wandb.plot.scatter(table, "x", "y")}, "plain": 1.0})
run.log({"loss": 0.25})
run.finish()
print(run.id)
"""


def test_charts_are_logged_as_their_table_with_the_panel_in_config(rh: RhEnv) -> None:
    run_id = rh.run(CHARTS).stdout.split()[-1]
    run = rh.api().run(f"charts/{run_id}")
    rows = run.history(pandas=False)
    assert len(rows) == 3
    assert rows[0]["acc"] == 0.5 and "my_line" not in rows[0]
    assert rows[0]["my_line_table"]["_type"] == "table-file"
    assert rows[1]["eval.points_table"]["_type"] == "table-file"  # nested charts keep their full key
    assert rows[1]["plain"] == 1.0 and rows[2]["loss"] == 0.25
    visualize = run.config["_wandb"]["visualize"]
    assert set(visualize) == {"my_line", "eval.points"}
    panel = visualize["my_line"]
    assert panel["panel_type"] == "Vega2"
    assert panel["panel_config"]["panelDefId"] == "wandb/line/v0"
    assert panel["panel_config"]["fieldSettings"] == {"x": "x", "y": "y", "stroke": None}  # as W&B
    assert panel["panel_config"]["stringSettings"]["title"] == "squares"
    query = panel["panel_config"]["userQuery"]["queryFields"][0]["fields"][-1]
    assert query["args"][0]["value"] == "my_line_table"
    assert visualize["eval.points"]["panel_config"]["panelDefId"] == "wandb/scatter/v0"


FRAMES_AND_FIGURES = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import runhive as wandb

run = wandb.init(project="figs")
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [3, 1, 2])
img_fig, img_ax = plt.subplots()
img_ax.imshow(np.zeros((4, 4)))
run.log({
    "frame": pd.DataFrame({"a": [1, 2], "b": ["u", "v"]}),
    "bars": go.Figure(data=[go.Bar(y=[1, 2])]),
    "with_image": img_fig,
})
run.log({"line": fig})
run.finish()
print(run.id)
"""


def test_dataframes_and_figures_become_w_and_b_media(rh: RhEnv) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("plotly")
    run_id = rh.run(FRAMES_AND_FIGURES).stdout.split()[-1]
    rows = rh.api().run(f"figs/{run_id}").history(pandas=False)
    frame = rows[0]["frame"]
    assert frame["_type"] == "table-file" and frame["ncols"] == 2 and frame["nrows"] == 2
    assert rows[0]["bars"]["_type"] == "plotly-file"
    assert rows[0]["with_image"]["_type"] == "image-file"  # W&B: a figure holding images stays an image
    assert rows[1]["line"]["_type"] in ("plotly-file", "image-file")  # plotly's mpl_to_plotly, else PNG


def test_values_module_imports_none_of_pandas_plotly_matplotlib() -> None:
    code = (
        "import sys, runhive\n"
        "from runhive.sdk._values import convert, is_chart\n"
        "convert({'a': [1, 2], 'b': {'c': 1.5}}); is_chart({'x': 1})\n"
        "print([m for m in ('pandas', 'plotly', 'matplotlib', 'runhive.plot') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []
