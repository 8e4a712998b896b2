"""Grouping and comparing on the dashboard (issue 15, items 3 and 8): the charts grouped by group, job type or a
config key, one line per group (the mean of its runs) with a min/max band; two runs or more compared, their
config differences and charts side by side in the project page's colours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import RhEnv
from test_ui_common import Page, browser, page, screenshot, start_ui

__all__ = ["browser", "page"]

LOGGER = """
import runhive as wandb

for k in range(6):
    grp = "A" if k < 3 else "B"
    run = wandb.init(project="grp", name=f"r{k}", group=grp, job_type="train",
                     config={"opt": "adam" if k % 2 else "sgd", "lr": 0.1, "seed": k}, reinit="create_new")
    for i in range(100):
        run.log({"loss": (10 if grp == "A" else 20) + k % 3 + i / 100})
    run.finish()
print("DONE")
"""


def _lines(p: Any) -> dict[str, list[float]]:
    return dict(
        p.evaluate(
            """() => document.querySelector('.chart[data-key="loss"]').data
                 .filter(t => t.name && t.x[0] !== null).map(t => [t.name, t.y])"""
        )
    )


def test_grouped_charts_and_the_compare_page(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    rh.run(LOGGER, timeout=120)
    base, _ = start_ui(rh)
    p = page.page
    p.goto(base + "/#/p/grp")
    p.wait_for_selector("body[data-ready='#/p/grp']")
    assert len(_lines(p)) == 6
    # By group: two lines, each its runs' mean, with a min/max band.
    p.select_option("#group-by", "group")
    lines = _lines(p)
    assert sorted(lines) == ["A (3 runs)", "B (3 runs)"]
    assert lines["A (3 runs)"][0] == pytest.approx(11) and lines["B (3 runs)"][-1] == pytest.approx(21.99)
    bands = p.evaluate(
        """() => document.querySelector('.chart[data-key="loss"]').data
             .filter(t => t.fill === 'tonexty').map(t => t.y[0])"""
    )
    assert sorted(bands) == [12, 22]  # each group's max at step 0
    screenshot(page, tmp_path, "grouped-by-group")
    # By a config key.
    p.select_option("#group-by", "c:opt")
    assert sorted(_lines(p)) == ["adam (3 runs)", "sgd (3 runs)"]
    p.select_option("#group-by", "")
    assert len(_lines(p)) == 6

    # Compare two runs: the config rows that differ, the charts with those two runs in their colours.
    colours = dict(
        p.evaluate(
            """() => document.querySelector('.chart[data-key="loss"]').data
                 .filter(t => t.name).map(t => [t.name, t.line.color])"""
        )
    )
    p.uncheck("#select-all")
    p.check("tr.run-row:has-text('r1') input.run-select")
    p.check("tr.run-row:has-text('r3') input.run-select")
    p.click("#compare")
    p.wait_for_selector("body[data-ready^='#/c/']")
    diff = p.evaluate(
        """() => [...document.querySelectorAll('#config-diff tbody tr')]
             .filter(tr => getComputedStyle(tr).display !== 'none').map(tr => tr.dataset.key)"""
    )
    assert diff == ["seed"]  # opt is adam for both, lr the same
    p.uncheck("#only-differences")
    shown = p.evaluate(
        """() => [...document.querySelectorAll('#config-diff tbody tr')]
             .filter(tr => getComputedStyle(tr).display !== 'none').map(tr => tr.dataset.key)"""
    )
    assert shown == ["lr", "opt", "seed"]
    traces = dict(
        p.evaluate(
            """() => document.querySelector('.chart[data-key="loss"]').data
                 .filter(t => t.name).map(t => [t.name, t.line.color])"""
        )
    )
    assert traces == {"r1": colours["r1"], "r3": colours["r3"]}
    screenshot(page, tmp_path, "compare")
    assert not page.errors, page.errors


MANY = """
import runhive as wandb

ids = []
for k in range(30):
    run = wandb.init(project="many", name=f"m{k}", reinit="create_new")
    for i in range(5):
        run.log({"loss": k + i})
    ids.append(run.id)
    run.finish()
print("IDS", run.entity, ",".join(ids))
"""


def test_compare_many_runs_spends_fewer_points_a_run(rh: RhEnv, page: Page) -> None:
    """As on the project page, runs compared share a chart's budget: 30 runs get 300 points each, not 1,000."""
    entity, ids = rh.run(MANY, timeout=180).stdout.split("IDS ", 1)[1].split()
    base, _ = start_ui(rh)
    p = page.page
    asked: list[str] = []
    p.on("request", lambda r: asked.append(r.url) if "/api/metrics?" in r.url else None)
    p.goto(f"{base}/#/c/{entity}/many/{ids}")
    p.wait_for_selector("body[data-ready^='#/c/']")
    p.locator('.chart[data-key="loss"]').wait_for()
    assert len(asked) == 1 and "&points=300&" in asked[0], asked
    assert (
        len(
            p.evaluate("""() => document.querySelector('.chart[data-key="loss"]').data.filter(t => t.name)""")
        )
        == 30
    )
    assert not page.errors, page.errors
