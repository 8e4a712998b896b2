"""The dashboard's new views keep item 10's guarantee (issue 15): with a project whose names are HTML, the
grouped charts, the x-axis and group-by choices, the column chooser, the compare page and the sweep's importance
and metric-over-time panels show every name as typed and render none of its markup."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import RhEnv
from test_ui_common import Page, browser, page, screenshot, start_ui
from test_ui_security import EVIL, PROJECT, SPAN, A, _no_injection

__all__ = ["browser", "page"]


def test_new_views_show_hostile_names_as_text(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    rh.run(EVIL, timeout=180)
    base, _ = start_ui(rh)
    p = page.page
    console: list[str] = []
    p.on("console", lambda m: console.append(m.text))
    p.goto(base + "/")
    p.click("a.project-link")
    p.wait_for_selector("body[data-ready^='#/p/']")
    # The choices list the names as text.
    options = p.evaluate(
        "() => [...document.querySelectorAll('#xaxis option, #group-by option')].map(o => o.text)"
    )
    assert f"metric: {A}" in options and f"config: {SPAN}" in options
    assert SPAN in p.evaluate("() => document.getElementById('column-chooser').textContent")
    # The hostile metric as x, then grouped by the hostile config key: titles and legends as typed.
    p.select_option("#xaxis", f"m:{A}")
    p.wait_for_function(
        """() => [...document.querySelectorAll('.chart')]
             .some(d => d.layout && d.layout.xaxis.title.text.startsWith('&lt;a'))"""
    )
    xtitles = p.evaluate("() => [...document.querySelectorAll('.chart .xtitle')].map(e => e.textContent)")
    assert A in xtitles
    _no_injection(p, "metric as x")
    p.select_option("#group-by", f"c:{SPAN}")
    legends = p.evaluate("() => [...document.querySelectorAll('.chart .legendtext')].map(e => e.textContent)")
    assert any(t.startswith("1 (") for t in legends), legends  # the runs' values of SPAN: 1 and none
    _no_injection(p, "grouped charts")
    screenshot(page, tmp_path, "hostile-grouped")
    # Compare the hostile run with a sweep run.
    p.select_option("#group-by", "")
    p.check("#select-all")
    p.click("#compare")
    p.wait_for_selector("body[data-ready^='#/c/']")
    assert A in p.inner_text("#config-diff") and SPAN in p.inner_text("#config-diff")
    assert A in p.evaluate(
        "() => [...document.querySelectorAll('.chart .legendtext')].map(e => e.textContent)"
    )
    _no_injection(p, "compare page")
    screenshot(page, tmp_path, "hostile-compare")
    # The sweep page's new panels.
    p.go_back()
    p.wait_for_selector("body[data-ready^='#/p/']")
    p.click("a.sweep-link")
    p.wait_for_selector("body[data-ready^='#/s/']")
    cfg = json.loads(p.inner_text("#sweep-config"))
    assert cfg["name"] == SPAN and cfg["metric"]["name"] == A
    titles = p.evaluate(
        "() => [...document.querySelectorAll('#metric-scatter .gtitle')].map(e => e.textContent)"
    )
    assert titles == [f"{A} over time"]
    _no_injection(p, "sweep page")
    assert PROJECT in p.inner_text("#crumbs")
    assert not page.errors, page.errors
    assert not [m for m in console if "Content Security Policy" in m]
