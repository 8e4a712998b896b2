"""The project page's runs table (issue 15, runs table): config and summary columns, tags, group, job type, notes,
runtime and state (failed with its exit code); sorting by any column (newest first a click away), text search,
state filter, the filter language of Api().runs, paging, selecting the runs the charts show, and choosing and
ordering the config and summary columns (kept per project across reloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import RhEnv
from test_ui_common import Page, browser, page, screenshot, start_ui

__all__ = ["browser", "page"]

LOGGER = """
import runhive as wandb

for k in range(25):
    run = wandb.init(project="tbl", name=f"r{k:02d}", config={"lr": k / 10, "bs": 16 * (1 + k % 2)},
                     group=f"g{k % 3}", job_type="train" if k % 2 else "eval", tags=[f"t{k % 4}"],
                     notes=f"note {k}", reinit="create_new")
    for i in range(3):
        run.log({"acc": (k * 7 % 25) / 25 + i / 1000})
    run.finish(exit_code=1 if k == 5 else 0)
print("DONE")
"""


def _names(p: Any) -> list[str]:
    return list(
        p.evaluate(
            "() => [...document.querySelectorAll('tr.run-row td[data-col=name] a')].map(a => a.textContent)"
        )
    )


def _charted(p: Any) -> list[str]:
    return sorted(
        p.evaluate(
            """() => document.querySelector('.chart[data-key="acc"]').data
                 .filter(t => t.name && t.visible !== false && t.x[0] !== null).map(t => t.name)"""
        )
    )


def test_runs_table_sorts_searches_filters_pages_and_selects(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    rh.run(LOGGER, timeout=180)
    base, _ = start_ui(rh)
    p = page.page
    p.goto(base + "/#/p/tbl")
    p.wait_for_selector("body[data-ready='#/p/tbl']")
    # Columns: the run's fields, then config (lr, bs) and summary (acc) columns.
    heads = p.evaluate("() => [...document.querySelectorAll('#runs th[data-col]')].map(t => t.dataset.col)")
    fields = ["name", "state", "created_at", "runtime", "steps", "group", "job_type", "tags", "notes"]
    assert heads == [*fields, "c:bs", "c:lr", "s:acc"]
    row = "tr.run-row[data-id]"
    assert p.locator(row).count() == 20 and p.inner_text("#page-info") == "1-20 of 25 runs"
    first = {
        c: p.inner_text(f"{row} >> nth=0 >> td[data-col={c}]") for c in ("group", "job_type", "tags", "notes")
    }
    assert first == {"group": "g0", "job_type": "eval", "tags": "t0", "notes": "note 0"}
    assert p.inner_text(f"{row} >> nth=0 >> td[data-col=runtime]").endswith("s")
    failed = p.locator("tr.run-row", has_text="r05").locator("td.state")
    assert failed.inner_text() == "failed (exit 1)" and "state-failed" in (
        failed.get_attribute("class") or ""
    )
    screenshot(page, tmp_path, "table-first-page")
    p.click("#next-page")
    assert _names(p) == [f"r{k}" for k in range(20, 25)] and p.inner_text("#page-info") == "21-25 of 25 runs"
    # Newest first: one click on "created".
    p.click("th[data-col=created_at]")
    assert _names(p)[:3] == ["r24", "r23", "r22"]
    # Sort by a summary column, both ways.
    p.click("th[data-col='s:acc']")
    accs = p.evaluate(
        "() => [...document.querySelectorAll('td[data-col=\"s:acc\"]')].map(td => Number(td.textContent))"
    )
    assert accs == sorted(accs)
    p.click("th[data-col='s:acc']")
    accs = p.evaluate(
        "() => [...document.querySelectorAll('td[data-col=\"s:acc\"]')].map(td => Number(td.textContent))"
    )
    assert accs == sorted(accs, reverse=True)
    # Text search (name, group, tags, notes, ...) and the state filter.
    p.fill("#run-search", "note 1")
    assert sorted(_names(p)) == ["r01", *[f"r{k}" for k in range(10, 20)]]
    p.fill("#run-search", "")
    p.select_option("#state-filter", "failed")
    assert _names(p) == ["r05"]
    p.select_option("#state-filter", "")
    # The filter language of Api().runs, answered by the server; a bad filter says why.
    p.fill("#run-filter", '{"$and": [{"config.lr": {"$gte": 1.5}}, {"group": "g1"}]}')
    p.dispatch_event("#run-filter", "change")
    p.wait_for_function("() => document.getElementById('page-info').textContent === '1-3 of 3 runs'")
    assert sorted(_names(p)) == sorted(f"r{k:02d}" for k in range(15, 25) if k % 3 == 1)
    # The charts follow the table's filter (once the runs beyond the first ten charted have been fetched).
    p.wait_for_function(
        """() => document.querySelector('.chart[data-key="acc"]').data
             .filter(t => t.name && t.x[0] !== null).length === 3"""
    )
    assert _charted(p) == sorted(_names(p))
    p.fill("#run-filter", '{"config.lr": {"$nope": 1}}')
    p.dispatch_event("#run-filter", "change")
    p.wait_for_function("() => document.getElementById('filter-error').textContent !== ''")
    p.fill("#run-filter", "")
    p.dispatch_event("#run-filter", "change")
    p.wait_for_function("() => document.getElementById('page-info').textContent === '1-20 of 25 runs'")
    # Selection: none, then two runs: the charts show exactly those.
    p.uncheck("#select-all")
    assert _charted(p) == []
    p.check("tr.run-row:has-text('r03') input.run-select")
    p.check("tr.run-row:has-text('r07') input.run-select")
    assert _charted(p) == ["r03", "r07"]
    screenshot(page, tmp_path, "table-selected")
    # Columns: hide one, move one; the choice outlives a reload.
    p.click("#column-chooser > summary")
    p.uncheck(".column-item[data-col='c:bs'] input")
    p.click(".column-item[data-col='s:acc'] button.up")
    heads = p.evaluate("() => [...document.querySelectorAll('#runs th[data-col]')].map(t => t.dataset.col)")
    assert heads == [*fields, "s:acc", "c:lr"]
    p.reload()
    p.wait_for_selector("body[data-ready='#/p/tbl']")
    heads = p.evaluate("() => [...document.querySelectorAll('#runs th[data-col]')].map(t => t.dataset.col)")
    assert heads == [*fields, "s:acc", "c:lr"]
    screenshot(page, tmp_path, "table-columns")
    assert not page.errors, page.errors
