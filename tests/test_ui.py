"""`runhive ui`: the dashboard served over the local store, driven in Debian's headless Chromium by Playwright:
projects, a project's runs table and one chart per metric (every run overlaid, smoothing), a run's page with its
config, summary, charts and system metrics; and the JSON API's answers to bad requests."""

from __future__ import annotations

import json
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import RhEnv, wait_for

LOGGER = """
import math
import runhive as wandb

for k in range(2):
    run = wandb.init(project="dash", name=f"run-{k}", config={"lr": 0.1 * (k + 1)}, reinit="create_new")
    for i in range(2500):  # more points than a chart draws: the reader downsamples to min/max buckets
        run.log({"loss": math.exp(-i / 500) * (k + 1), "acc": 1 - math.exp(-i / 800)})
    run.finish()
print("DONE")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def ui(rh: RhEnv) -> Iterator[str]:
    rh.run(LOGGER, timeout=120)
    port = _free_port()
    rh.spawn(
        "import sys; from runhive.cli._main import main; sys.exit(main(sys.argv[1:]))",
        "ui",
        "--port",
        str(port),
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return _get(base + "/api/projects")[0] == 200
        except OSError:
            return False

    wait_for(up, 30, "runhive ui to answer")
    yield base  # rh's clean-up stops the server by pid


class Page:
    """A Playwright page in Debian's headless Chromium, and the script errors it raised."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))


@pytest.fixture
def browser_page() -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: `make browser` installs it (make test does).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield Page(browser.new_page(viewport={"width": 1300, "height": 900}))
        finally:
            browser.close()


def test_dashboard_shows_projects_runs_charts_and_a_run(ui: str, browser_page: Page) -> None:
    page = browser_page.page
    page.goto(ui + "/")
    page.wait_for_selector("#projects")
    assert page.locator("#projects tbody tr").count() == 1
    page.click("a.project-link")
    page.wait_for_selector("body[data-ready='#/p/dash']")
    assert page.locator("tr.run-row").count() == 2
    charts = page.locator(".chart")
    assert sorted(charts.evaluate_all("els => els.map(e => e.dataset.key)")) == ["acc", "loss"]
    # Every run is a line in each chart, downsampled: 2,500 steps drawn as at most 1,000 points.
    lines = page.evaluate(
        """() => [...document.querySelectorAll('.chart[data-key="loss"]')][0].data
               .filter(t => t.name).map(t => [t.name, t.x.length, t.y[0]])"""
    )
    assert sorted(n for n, _, _ in lines) == ["run-0", "run-1"]
    assert all(0 < count <= 1000 for _, count, _ in lines)
    first = {n: y for n, _, y in lines}
    assert first["run-1"] == pytest.approx(2 * first["run-0"])  # run-1 logged twice run-0's loss
    page.fill("#smoothing", "0.9")  # smoothing redraws the lines
    page.dispatch_event("#smoothing", "input")
    assert not browser_page.errors, browser_page.errors
    page.click("text=run-1")
    page.wait_for_selector("#config")
    assert json.loads(page.inner_text("#config")) == {"lr": 0.2}
    assert json.loads(page.inner_text("#summary"))["loss"] == pytest.approx(2 * 2.718281828 ** (-2499 / 500))
    page.wait_for_selector('.chart[data-key="loss"]')
    assert not browser_page.errors, browser_page.errors


def test_api_answers_bad_requests_clearly(ui: str) -> None:
    assert _get(ui + "/api/runs") == (400, {"error": "pass ?project=NAME"})
    assert _get(ui + "/api/metric?project=dash") == (400, {"error": "pass ?project=NAME&key=METRIC"})
    status, body = _get(ui + "/api/run?path=dash/nosuchrun")
    assert status == 404 and "nosuchrun" in body["error"]  # type: ignore[index]
    status, runs = _get(ui + "/api/runs?project=dash")
    assert status == 200 and len(runs) == 2  # type: ignore[arg-type]
    assert _get(ui + "/api/runs?project=empty") == (200, [])


SWEEP = """
import runhive as wandb

sid = wandb.sweep(
    {"method": "grid", "metric": {"name": "score", "goal": "minimize"},
     "parameters": {"x": {"values": [1, 2, 3]}, "opt": {"values": ["adam", "sgd"]}}},
    project="swp",
)

def main():
    run = wandb.init()
    run.log({"score": run.config.x * (2 if run.config.opt == "sgd" else 1)})

wandb.agent(sid, function=main)
print("SWEEP", sid)
"""


def test_sweep_page_draws_parameters_against_the_metric(rh: RhEnv, ui: str, browser_page: Page) -> None:
    sid = rh.run(SWEEP).stdout.split("SWEEP", 1)[1].strip()
    page = browser_page.page
    page.goto(ui + "/#/p/swp")
    page.wait_for_selector("a.sweep-link")
    page.click("a.sweep-link")
    page.wait_for_selector(f"body[data-ready='#/s/{rh.api().sweep(sid).entity}/swp/{sid}']")
    assert page.locator("tr.sweep-run").count() == 6
    dims = page.evaluate("() => document.getElementById('parcoords').data[0].dimensions.map(d => d.label)")
    assert dims == ["opt", "x", "score"]
    assert page.evaluate("() => document.getElementById('parcoords').data[0].line.color.length") == 6
    assert "6 of 6 runs" in page.inner_text("main")
    assert not browser_page.errors, browser_page.errors
