"""The dashboard's charts (issue 15, item 4 of the brief's list: charts): a 3,000-step run spends the 1,000-point
budget and keeps its spike (min/max per bucket, the backend splitting chunks when they are few); one request
carries many metrics, without min/max columns when nothing is downsampled; one colour per run in every panel,
one shared legend that hides a run everywhere, x-axis choice, log scale, labelled axes, W&B's smoothing with the
raw line faint behind, metric search and sections per key prefix."""

from __future__ import annotations

import itertools
import urllib.parse
from pathlib import Path
from typing import Any

from conftest import RhEnv
from test_ui_common import Page, api_json, browser, page, screenshot, start_ui

__all__ = ["browser", "page"]

LOGGER = """
import math
import runhive as wandb

for k in range(3):
    run = wandb.init(project="charts", name=f"run-{k}", config={"lr": 10.0 ** -(k + 1)}, reinit="create_new")
    for i in range(3000):
        row = {"train/loss": (k + 1) * math.exp(-i / 600) + (100.0 if (k == 0 and i == 1501) else 0.0),
               "epoch": i // 300}
        if i % 100 == 0:
            row["eval/acc"] = 1 - math.exp(-i / 900) / (k + 1)
        run.log(row)
    run.finish()
print("DONE")
"""


def _charts(p: Any, expr: str) -> Any:
    return p.evaluate(f"() => [...document.querySelectorAll('.chart')].map(div => {expr})")


def test_charts_spend_the_budget_share_colours_and_legend_and_offer_the_controls(
    rh: RhEnv, page: Page, tmp_path: Path
) -> None:
    rh.run(LOGGER, timeout=180)

    # The reader: 3,000 points in 24 chunks come back as 1,000 buckets, the spike kept as a bucket's max.
    run0 = next(r for r in rh.api().runs("charts") if r.name == "run-0")
    series = run0.metric("train/loss")
    assert len(series["step"]) == 1000
    assert (
        max(series["max"]) == series["max"][500] > 100 and series["last"][500] < 2
    )  # in max, not in the line
    assert series["step"][:3] == [0, 3, 6]

    base, _ = start_ui(rh)
    # One request, many metrics; the sparse metric comes without duplicated columns.
    q = urllib.parse.urlencode([("project", "charts"), ("key", "train/loss"), ("key", "eval/acc")])
    got = api_json(base, f"/api/metrics?{q}")
    assert sorted(got) == ["eval/acc", "train/loss"]
    assert len(got["train/loss"]) == 3 and all(len(s["step"]) == 1000 for s in got["train/loss"].values())
    assert all(sorted(s) == ["last", "step"] and len(s["step"]) == 30 for s in got["eval/acc"].values())
    assert sorted(api_json(base, "/api/metrics?project=charts&keys=train/loss,eval/acc")) == [
        "eval/acc",
        "train/loss",
    ]

    p = page.page
    p.goto(base + "/#/p/charts")
    p.wait_for_selector("body[data-ready='#/p/charts']")
    # Sections per prefix, sorted; one chart per key.
    sections = p.evaluate(
        "() => [...document.querySelectorAll('details.section')].map(d => d.dataset.prefix)"
    )
    assert sections == ["charts", "eval", "train"]  # keys without a prefix under "charts"
    assert _charts(p, "div.dataset.key") == ["epoch", "eval/acc", "train/loss"]
    # One colour per run, the same in every chart; a single legend listing every run.
    colours = _charts(p, "Object.fromEntries(div.data.filter(t => t.name).map(t => [t.name, t.line.color]))")
    assert colours[0] == colours[1] == colours[2] and len(set(colours[0].values())) == 3
    assert _charts(p, "div.layout.showlegend") == [True, False, False]
    assert sorted(
        p.evaluate("() => [...document.querySelectorAll('.chart .legendtext')].map(e => e.textContent)")
    ) == [
        "run-0",
        "run-1",
        "run-2",
    ]
    # The palette stays distinct for 100 runs: neighbours' hues far apart, no colour twice.
    palette = p.evaluate("() => [...Array(100).keys()].map(i => colour(i))")
    assert len(set(palette)) == 100
    hues = [float(c[4:].split(",")[0]) for c in palette]
    assert min(min(abs(a - b), 360 - abs(a - b)) for a, b in itertools.pairwise(hues)) > 90
    # Labelled axes; the downsampled run drawn with 1,000 points and its min/max band in its colour.
    assert _charts(p, "[div.layout.xaxis.title.text, div.layout.yaxis.title.text]") == [
        ["step", "epoch"],
        ["step", "eval/acc"],
        ["step", "train/loss"],
    ]
    loss = "document.querySelector('.chart[data-key=\"train/loss\"]')"
    band = p.evaluate(
        f"() => {loss}.data.filter(t => t.fill === 'tonexty').map(t => [t.x.length, Math.max(...t.y)])"
    )
    assert len(band) == 3 and all(n == 1000 for n, _ in band) and max(m for _, m in band) > 100
    screenshot(page, tmp_path, "charts-project")

    # The shared legend hides a run in every chart.
    p.click(".chart .legendtext >> text=run-1", force=True)  # plotly's toggle rect lies over the text
    p.wait_for_function(
        """() => [...document.querySelectorAll('.chart')].every(div =>
             div.data.filter(t => t.legendgroup && t.name === 'run-1').every(t => t.visible === 'legendonly'))"""
    )
    # Smoothing: W&B's EMA on the line, the raw line faint behind it.
    p.fill("#smoothing", "0.8")
    p.dispatch_event("#smoothing", "input")
    raw = p.evaluate(f"() => {loss}.data.filter(t => t.opacity === 0.25).length")
    assert raw == 3
    smoothed, plain = p.evaluate(
        f"""() => {{ const d = {loss}.data; const i = d.findIndex(t => t.name === 'run-2');
                    return [d[i].y[10], d[i + 1].y[10]]; }}"""
    )
    assert smoothed != plain and abs(smoothed - plain) < 1
    # x axis: relative and wall time; log scale.
    p.select_option("#xaxis", "relative")
    assert p.evaluate(f"() => {loss}.layout.xaxis.title.text") == "relative time (s)"
    runtime = run0.summary["_runtime"]
    xs = p.evaluate(f"() => {loss}.data.find(t => t.name === 'run-0').x")
    assert 0 <= xs[0] < xs[-1] <= runtime + 1e-6 and xs == sorted(xs)  # seconds since the run started
    p.select_option("#xaxis", "wall")
    assert p.evaluate(f"() => {loss}.layout.xaxis.type") == "date"
    wall = p.evaluate(
        f"() => {loss}.data.find(t => t.name === 'run-0').x.map(d => new Date(d).getTime() / 1000)"
    )
    assert run0.created_ts - 1 < wall[0] < wall[-1] < run0.created_ts + runtime + 1
    p.check("#logscale")
    assert _charts(p, "div.layout.yaxis.type") == ["log", "log", "log"]
    screenshot(page, tmp_path, "charts-smoothed-log-walltime")
    # Any metric as the x axis (epoch here, as a define_metric step metric would be).
    p.select_option("#xaxis", "m:epoch")
    p.wait_for_function(f"() => {loss}.layout.xaxis.title.text === 'epoch'")
    xs = p.evaluate(f"() => {loss}.data.find(t => t.name === 'run-0').x")
    assert xs[0] == 0 and xs[-1] == 9 and xs == sorted(xs)
    p.uncheck("#logscale")
    p.fill("#smoothing", "0")
    p.dispatch_event("#smoothing", "input")
    screenshot(page, tmp_path, "charts-by-epoch")
    # Metric search and collapsible sections.
    p.fill("#metric-search", "eval")
    p.dispatch_event("#metric-search", "input")
    assert _charts(p, "div.hidden") == [True, False, True]
    assert p.evaluate("() => document.querySelector('details[data-prefix=\"train\"]').hidden")
    p.fill("#metric-search", "")
    p.dispatch_event("#metric-search", "input")
    p.click("details[data-prefix='eval'] > summary")
    assert not p.evaluate("() => document.querySelector('details[data-prefix=\"eval\"]').open")
    screenshot(page, tmp_path, "charts-eval-collapsed")
    assert not page.errors, page.errors
