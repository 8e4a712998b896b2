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
from test_ui_security import _request

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
    p.select_option("#xaxis", "relative")  # the runs' _runtime is fetched first (a step axis does without)
    p.wait_for_function(f"() => {loss}.layout.xaxis.title.text === 'relative time (s)'")
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


MANY_RUNS = """
import runhive as wandb

for k in range(30):
    run = wandb.init(project="crowd", name=f"r{k:02d}", reinit="create_new")
    for i in range(2000):
        run.log({"loss": (1 + k / 10) / (1 + i / 100) + (100.0 if (k == 3 and i == 1002) else 0.0)})
    run.finish()
print("DONE")
"""

NAMED = "() => document.querySelector('.chart[data-key=\"loss\"]').data.filter(t => t.name)"


def test_charts_show_the_first_runs_the_user_can_show_more_and_spikes_stay(
    rh: RhEnv, page: Page, tmp_path: Path
) -> None:
    """W&B's "runs shown": charts draw the first 10 selected runs in the table's order, the table marks them, a
    control (kept per project) shows more; the more runs share a chart, the fewer points a run (?points=), the
    spike inside a downsampled bucket kept (a band with few runs, the line through min/max with many)."""
    rh.run(MANY_RUNS, timeout=240)
    base, _ = start_ui(rh)
    # The API: ?points= bounds a run's points (at least 50, at most the configured 1,000), min/max kept.
    few = api_json(base, "/api/metrics?project=crowd&key=loss&points=300")["loss"]
    assert len(few) == 30 and all(len(s["step"]) <= 300 for s in few.values())
    assert max(max(s["max"]) for s in few.values()) > 100  # the spike, in its bucket's max
    assert all(
        len(s["step"]) <= 50
        for s in api_json(base, "/api/metrics?project=crowd&key=loss&points=3")["loss"].values()
    )
    assert all(
        len(s["step"]) == 1000
        for s in api_json(base, "/api/metrics?project=crowd&key=loss&points=99999")["loss"].values()
    )
    assert _request(base, "/api/metrics?project=crowd&key=loss&points=many")[0] == 400

    p = page.page
    metric_requests: list[str] = []
    p.on("request", lambda r: metric_requests.append(r.url) if "/api/metrics?" in r.url else None)
    p.goto(base + "/#/p/crowd")
    p.wait_for_selector("body[data-ready='#/p/crowd']")
    first_ten = [f"r{k:02d}" for k in range(10)]
    assert sorted(t["name"] for t in p.evaluate(NAMED)) == first_ten  # oldest first: the table's order
    assert p.input_value("#runs-shown") == "10"
    assert p.inner_text("#charted-info") == "10 of 30 selected runs (the table's first)"
    assert p.locator("tr.run-row.charted").count() == 10 and p.locator("tr.run-row .swatch.off").count() == 10
    # Only the charted runs were fetched, at the full budget (no ?points=).
    assert len(metric_requests) == 1 and "points=" not in metric_requests[0]
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(metric_requests[0]).query)["runs"][0].count(",") == 9
    # Ten runs: a band a run; r03's spike at step 1002 is inside a bucket (its last is step 1003): in the band.
    loss = "document.querySelector('.chart[data-key=\"loss\"]')"
    r03 = p.evaluate(
        f"() => {{ const d = {loss}.data, i = d.findIndex(t => t.name === 'r03');"
        " return [Math.max(...d[i].y), Math.max(...d[i + 2].y), d[i + 2].fill, d[i].x.length]; }"
    )
    assert r03[0] < 100 < r03[1] and r03[2] == "tonexty" and r03[3] == 1000
    screenshot(page, tmp_path, "runs-shown-ten")

    # All 30: the 20 runs not held are fetched at 300 points a run; one line a run through min and max, no bands.
    p.select_option("#runs-shown", "0")
    p.wait_for_function(f"() => ({NAMED})().length === 30")
    assert (
        p.inner_text("#charted-info") == "all 30 selected runs; no legend past 20 runs: the table's swatches"
    )
    assert not p.evaluate(f"() => {loss}.layout.showlegend")  # 30 names: the table is the legend
    assert len(metric_requests) == 2 and "points=300" in metric_requests[1]
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(metric_requests[1]).query)["runs"][0].count(",") == 19
    traces = p.evaluate(
        f"() => {loss}.data.map(t => [t.name || null, t.fill || null, t.x.length, Math.max(...t.y)])"
    )
    assert len(traces) == 30 and not any(fill for _, fill, _, _ in traces)
    assert next(top for name, _, _, top in traces if name == "r03") > 100  # the spike, a stroke of the line
    assert all(
        n <= 2 * 300 for name, _, n, _ in traces if name not in first_ten
    )  # held runs keep their points
    assert p.locator("tr.run-row .swatch.off").count() == 0
    screenshot(page, tmp_path, "runs-shown-all")

    # The choice is kept for the project; the first N follow the table's order (newest first here).
    p.reload()
    p.wait_for_selector("body[data-ready='#/p/crowd']")
    assert p.input_value("#runs-shown") == "0" and len(p.evaluate(NAMED)) == 30
    p.select_option("#runs-shown", "5")
    p.wait_for_function(f"() => ({NAMED})().length === 5")
    p.click("th[data-col=created_at]")
    p.wait_for_function(f"() => ({NAMED})().map(t => t.name).sort().join() === 'r25,r26,r27,r28,r29'")
    assert p.inner_text("#charted-info") == "5 of 30 selected runs (the table's first)"
    # Deselecting a charted run charts the next one.
    p.uncheck("tr.run-row:has-text('r29') input.run-select")
    p.wait_for_function(f"() => ({NAMED})().map(t => t.name).sort().join() === 'r24,r25,r26,r27,r28'")
    screenshot(page, tmp_path, "runs-shown-newest-five")
    assert not page.errors, page.errors
