"""The sweep page (issue 15, sweeps): parallel coordinates with a log axis for a log-distributed parameter and
categorical axes for `values`; parameter importance (a random forest of the metric on the parameters, and
correlation) whose top parameter is the one the metric depends on; the metric over time with the best run
marked; the sweep's config; live while the sweep goes on; stop / pause / resume buttons that ask the node's sweep
controller (as `runhive sweep --pause` does), refusing cross-site requests."""

from __future__ import annotations

import http.client
import json
import math
import urllib.parse
from pathlib import Path
from typing import Any

from conftest import RhEnv
from test_ui_common import Page, api_json, browser, page, screenshot, start_ui
from test_ui_security import _request

__all__ = ["browser", "page"]

SWEEP = """
import runhive as wandb

sid = wandb.sweep(
    {"method": "random", "metric": {"name": "score", "goal": "minimize"},
     "parameters": {"lr": {"distribution": "log_uniform_values", "min": 0.0001, "max": 0.1},
                    "batch_size": {"values": [16, 32, 64]},
                    "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5}}},
    project="swp",
)

def main():
    run = wandb.init()
    run.log({"score": 10 * run.config.dropout})  # the metric depends on dropout alone

wandb.agent(sid, function=main, count=16)
print("SWEEP", sid)
"""


def test_sweep_page_shows_axes_importance_best_run_and_config(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    sid = rh.run(SWEEP, timeout=180).stdout.split("SWEEP", 1)[1].strip()
    entity = rh.api().sweep(sid).entity
    base, _ = start_ui(rh)

    sw = api_json(base, f"/api/sweep?path={entity}/swp/{sid}")
    assert sw["kinds"] == {"batch_size": "categorical", "dropout": "linear", "lr": "log"}
    ranked = sw["importance"]
    assert ranked[0]["param"] == "dropout", ranked
    assert ranked[0]["importance"] > 0.8 and ranked[0]["correlation"] > 0.99
    scores = {r["id"]: r["metric"] for r in sw["runs"]}
    assert sw["best"] == min(scores, key=lambda k: scores[k])

    p = page.page
    p.goto(f"{base}/#/s/{entity}/swp/{sid}")
    p.wait_for_selector(f"body[data-ready='#/s/{entity}/swp/{sid}']")
    dims = p.evaluate("() => document.getElementById('parcoords').data[0].dimensions")
    by = {d["label"]: d for d in dims}
    assert list(by) == ["batch_size", "dropout", "lr", "score"]
    # lr on a log axis: log10 values, ticks at decades labelled with the real values.
    lrs = [r["params"]["lr"] for r in sw["runs"]]
    assert sorted(by["lr"]["values"]) == sorted(math.log10(v) for v in lrs)
    assert by["lr"]["ticktext"][0] == "0.0001" and by["lr"]["ticktext"][-1] == "0.1"
    # batch_size is categorical: one tick a value taken, in order.
    assert by["batch_size"]["ticktext"] == sorted(
        {str(r["params"]["batch_size"]) for r in sw["runs"]}, key=int
    )
    assert "tickvals" not in by["dropout"]
    # Importance: the table ranks dropout first.
    assert p.evaluate("() => [...document.querySelectorAll('tr.importance-row')].map(r => r.dataset.param)")[
        0
    ] == ("dropout")
    # Metric over time: every run a marker, the best one a star.
    traces = p.evaluate(
        "() => document.getElementById('metric-scatter').data.map(t => [t.name, t.y.length, t.marker.symbol])"
    )
    assert traces[0][:2] == ["runs", 16] and traces[1] == ["best", 1, "star"]
    best_y = p.evaluate("() => document.getElementById('metric-scatter').data[1].y[0]")
    assert best_y == min(scores.values())
    assert p.locator("tr.sweep-run.best").count() == 1
    assert "Best run" in p.inner_text("#best-run")
    # The sweep's config as stored.
    assert (
        json.loads(p.inner_text("#sweep-config"))["parameters"]["lr"]["distribution"] == "log_uniform_values"
    )
    screenshot(page, tmp_path, "sweep")
    assert not page.errors, page.errors


GRID = """
import sys
import runhive as wandb

if sys.argv[1] == "create":
    sid = wandb.sweep({"method": "grid", "metric": {"name": "score", "goal": "maximize"},
                       "parameters": {"x": {"values": [1, 2, 3, 4, 5]}}}, project="grid")
    print("SWEEP", sid)
else:
    def main():
        run = wandb.init()
        run.log({"score": run.config.x})

    wandb.agent(sys.argv[2], function=main, count=int(sys.argv[1]))
"""


def test_sweep_page_follows_new_runs_without_reload(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    sid = rh.run(GRID, "create").stdout.split("SWEEP", 1)[1].strip()
    rh.run(GRID, "1", sid, timeout=120)
    entity = rh.api().sweep(sid).entity
    base, _ = start_ui(rh)
    p = page.page
    p.goto(f"{base}/#/s/{entity}/grid/{sid}")
    p.wait_for_selector(f"body[data-ready='#/s/{entity}/grid/{sid}']")
    assert p.locator("tr.sweep-run").count() == 1
    rh.run(GRID, "2", sid, timeout=120)  # two more runs while the page is open
    p.wait_for_function("() => document.querySelectorAll('tr.sweep-run').length === 3", timeout=30_000)
    assert "3 of 5 runs" in p.inner_text("main")
    assert p.evaluate("() => document.getElementById('metric-scatter').data[1].y") == [3]  # the best so far
    screenshot(page, tmp_path, "sweep-live")
    assert not page.errors, page.errors


def _post(base: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.request("POST", "/api/sweep/control?" + urllib.parse.urlencode(query), headers=headers)
        res = conn.getresponse()
        return res.status, json.loads(res.read() or b"{}")
    finally:
        conn.close()


def test_sweep_page_pauses_resumes_and_stops_through_the_controller(
    rh: RhEnv, page: Page, tmp_path: Path
) -> None:
    sid = rh.run(GRID, "create").stdout.split("SWEEP", 1)[1].strip()
    entity = rh.api().sweep(sid).entity
    base, _ = start_ui(rh)
    path = f"{entity}/grid/{sid}"
    body = {"path": path, "action": "pause"}
    port = urllib.parse.urlsplit(base).port
    good = {
        "X-Runhive-Action": "1",
        "Origin": base,
        "Host": f"127.0.0.1:{port}",
    }
    # Cross-site requests are refused (CSRF): no custom header (an HTML form's POST), another Origin, a cross-site
    # fetch, no Origin; GET is not a way in either.
    for bad in (
        {k: v for k, v in good.items() if k != "X-Runhive-Action"},
        {**good, "Origin": "http://attacker.example"},
        {**good, "Sec-Fetch-Site": "cross-site"},
        {k: v for k, v in good.items() if k != "Origin"},
    ):
        status, answer = _post(base, body, bad)
        assert status == 403, (bad, status, answer)
    assert _request(base, "/api/sweep/control")[0] in (404, 405)
    assert rh.api().sweep(path).state == "PENDING"  # nothing changed
    status, answer = _post(base, {"path": path, "action": "explode"}, good)
    assert status == 400 and "pause" in answer["error"]

    p = page.page
    p.goto(f"{base}/#/s/{path}")
    p.wait_for_selector(f"body[data-ready='#/s/{path}']")
    assert p.inner_text("#sweep-state") == "PENDING"
    assert p.locator("button.sweep-action").all_inner_texts() == ["Stop", "Cancel"]
    # The state changed elsewhere (`runhive sweep --resume`) shows without a reload.
    rh.cli("sweep", "--resume", path)
    p.wait_for_function(
        "() => document.getElementById('sweep-state').textContent === 'RUNNING'", timeout=30_000
    )
    p.click("button.sweep-pause")
    p.wait_for_function(
        "() => document.getElementById('sweep-state').textContent === 'PAUSED'", timeout=30_000
    )
    assert rh.api().sweep(path).state == "PAUSED"
    assert p.locator("button.sweep-action").all_inner_texts() == ["Resume", "Stop", "Cancel"]
    screenshot(page, tmp_path, "sweep-paused")
    p.click("button.sweep-resume")
    p.wait_for_function(
        "() => document.getElementById('sweep-state').textContent === 'RUNNING'", timeout=30_000
    )
    p.click("button.sweep-stop")
    p.wait_for_function(
        "() => document.getElementById('sweep-state').textContent === 'FINISHED'", timeout=30_000
    )
    assert rh.api().sweep(path).state == "FINISHED"
    assert p.locator("button.sweep-action").count() == 0
    # The controller's refusal reaches the caller: a finished sweep cannot be paused.
    status, answer = _post(base, body, good)
    assert status == 409 and "finished" in answer["error"].lower(), answer
    assert not page.errors, page.errors
