"""The run page's media and objects (issue 15, item 6): images with a step slider and captions, histograms over
time as a heatmap, audio, HTML in a sandboxed frame (never in the dashboard's origin), video (a GIF shown, an
`.npy` video as a note), a paged table with image thumbnails, a logged plotly figure, and every `wandb.plot.*`
chart drawn with plotly from its table. The file route serves only the run's own files, with their content type,
`nosniff` and a sandboxing policy; no absolute path reaches a response; hostile captions and cells stay text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import RhEnv
from test_ui_common import Page, api_json, browser, page, screenshot, start_ui
from test_ui_security import _request

__all__ = ["browser", "page"]

EVIL = '<img src=x onerror="document.body.dataset.pwned=1">'

LOGGER = f"""
import numpy as np
import runhive as wandb

EVIL = {EVIL!r}
run = wandb.init(project="med", name="media")
rng = np.random.default_rng(0)
for step in range(4):
    img = np.full((8, 8, 3), step * 60, dtype=np.uint8)
    run.log({{"samples": [wandb.Image(img, caption=f"step {{step}} " + EVIL), wandb.Image(img, caption="second")],
             "weights": wandb.Histogram(rng.normal(step, 1.0, 500)),
             "loss": 1.0 / (step + 1)}})
run.log({{"tone": wandb.Audio(np.sin(np.arange(4000) / 5.0), sample_rate=8000, caption="a tone")}})
run.log({{"page": wandb.Html("<p id='inner'>hello</p><script>parent.document.body.dataset.pwned = 2;</script>")}})
frames = np.zeros((3, 3, 8, 8), dtype=np.uint8)
run.log({{"clip": wandb.Video(frames, fps=2)}})
cells = wandb.Table(columns=["i", "picture", "text"],
                    data=[[i, wandb.Image(np.full((4, 4, 3), 10 * i, dtype=np.uint8)), EVIL if i == 0 else f"row {{i}}"]
                          for i in range(25)])
run.log({{"cells": cells}})
xy = wandb.Table(data=[[i, i * i, "a" if i % 2 else "b"] for i in range(10)], columns=["x", "y", "kind"])
y_true = [0, 1, 1, 0, 1, 0]
probas = [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.2, 0.8], [0.9, 0.1]]
run.log({{
    "line": wandb.plot.line(xy, "x", "y", title="a line"),
    "scatter": wandb.plot.scatter(xy, "x", "y", title="a scatter"),
    "bar": wandb.plot.bar(xy, "kind", "y", title="a bar"),
    "hist": wandb.plot.histogram(xy, "y", title="a histogram"),
    "series": wandb.plot.line_series([0, 1, 2], [[1, 2, 3], [3, 2, 1]], keys=["up", EVIL], title="series"),
    "confusion": wandb.plot.confusion_matrix(y_true=y_true, preds=[0, 1, 0, 0, 1, 1], class_names=["cat", "dog"]),
    "pr": wandb.plot.pr_curve(y_true, probas),
    "roc": wandb.plot.roc_curve(y_true, probas),
}})
import plotly.graph_objects as go
run.log({{"figure": go.Figure(data=[go.Bar(y=[1, 3, 2])])}})
with open(run.dir + "/files/notes.txt", "w") as f:
    f.write("plain notes")
run.finish()
print("ID", run.entity, run.id, run.dir)
"""

OTHER = """
import numpy as np
import runhive as wandb

run = wandb.init(project="med", name="other")
run.log({"samples": [wandb.Image(np.full((8, 8, 3), 200, dtype=np.uint8), caption="other's")], "loss": 0.5})
xy = wandb.Table(data=[[i, 2 * i] for i in range(5)], columns=["x", "y"])
run.log({"line": wandb.plot.line(xy, "x", "y", title="a line")})
run.finish()
"""

SPECS = {
    "line": "wandb/line/v0",
    "scatter": "wandb/scatter/v0",
    "bar": "wandb/bar/v0",
    "hist": "wandb/histogram/v0",
    "series": "wandb/lineseries/v0",
    "confusion": "wandb/confusion_matrix/v1",
    "pr": "wandb/area-under-curve/v0",
    "roc": "wandb/area-under-curve/v0",
}


def _get(base: str, path: str) -> tuple[int, dict[str, str], bytes]:
    return _request(base, path)


def test_run_page_media_objects_and_plot_charts(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    entity, run_id, run_dir = rh.run(LOGGER, timeout=180).stdout.split("ID", 1)[1].split()
    rh.run(OTHER, timeout=120)
    base, _ = start_ui(rh)
    path = f"{entity}/med/{run_id}"

    media = api_json(base, f"/api/run/media?path={path}")
    raw = json.dumps(media) + json.dumps(api_json(base, f"/api/run?path={path}"))
    assert run_dir not in raw and str(rh.root) not in raw  # media are named inside the run's files only
    by = {m["key"]: m for m in media["media"]}
    assert by["samples"]["category"] == "image" and by["samples"]["steps"] == [0, 1, 2, 3]
    assert [i["caption"] for i in by["samples"]["values"][3]] == [f"step 3 {EVIL}", "second"]
    assert by["weights"]["category"] == "histogram" and len(by["weights"]["values"]) == 4
    assert {by[k]["category"] for k in ("tone", "page", "clip", "cells", "figure")} == {
        "audio",
        "html",
        "video",
        "table",
        "plotly",
    }
    charts = {c["key"]: c for c in media["charts"]}
    assert {k: c["spec"] for k, c in charts.items()} == SPECS
    assert all(c["table"] and c["table"].startswith("media/") for c in charts.values())

    # The file route: the run's files only, with their types, nosniff and a sandbox.
    img = by["samples"]["values"][0][0]["name"]
    status, headers, body = _get(base, f"/api/run/file?path={path}&name={img}")
    assert status == 200 and headers["content-type"] == "image/png" and body.startswith(b"\x89PNG")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("sandbox;")
    html = by["page"]["values"][0][0]["name"]
    status, headers, _ = _get(base, f"/api/run/file?path={path}&name={html}")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"].startswith("sandbox allow-scripts;")  # an opaque origin
    status, headers, _ = _get(base, f"/api/run/file?path={path}&name=notes.txt&download=1")
    assert status == 200 and headers["content-disposition"] == 'attachment; filename="notes.txt"'
    for bad in (
        "../../../../etc/passwd",
        "/etc/passwd",
        "media/../../x",
        run_dir + "/files/notes.txt",
        "nope",
    ):
        status, headers, body = _get(base, f"/api/run/file?path={path}&name={bad}")
        assert status in (400, 404) and headers["content-type"] == "application/json", (bad, status)
        assert b"/etc" not in body.replace(b"/etc/passwd", b"") and run_dir.encode() not in body
    (Path(run_dir) / "files" / "escape.txt").symlink_to("/etc/hostname")
    assert _get(base, f"/api/run/file?path={path}&name=escape.txt")[0] == 404  # a symlink out of the files

    table = api_json(base, f"/api/run/table?path={path}&name={by['cells']['values'][0][0]['name']}&limit=20")
    assert table["total"] == 25 and len(table["rows"]) == 20 and table["columns"] == ["i", "picture", "text"]
    assert table["rows"][0][1]["path"].startswith("media/images/")

    p = page.page
    p.goto(f"{base}/#/")
    p.wait_for_selector("body[data-ready='#/']")
    assert p.locator("#projects a.project-link").all_inner_texts() == ["med"]
    assert p.locator("#projects tbody td").nth(2).inner_text() == "2"  # runs
    screenshot(page, tmp_path, "projects")
    p.goto(f"{base}/#/r/{path}")
    p.wait_for_selector(f"body[data-ready='#/r/{path}']")
    p.wait_for_selector('.media-panel[data-key="samples"] img')
    panel = p.locator('.media-panel[data-key="samples"]')
    assert panel.locator("figcaption").first.inner_text() == f"step 3 {EVIL}"  # text, not markup
    panel.scroll_into_view_if_needed()  # images load lazily, as they come into view
    p.wait_for_function(
        """() => [...document.querySelectorAll('.media-panel[data-key="samples"] img')]
             .every(i => i.complete && i.naturalWidth === 8)"""
    )
    # The slider goes back to step 0.
    panel.locator("input.step-slider").fill("0")
    assert panel.locator(".step-label").inner_text() == "step 0"
    assert panel.locator("figcaption").first.inner_text() == f"step 0 {EVIL}"
    # Audio, the HTML frame (sandboxed: its script cannot reach the dashboard), the .npy video's note.
    assert p.locator('.media-panel[data-key="tone"] audio').get_attribute("src")
    frame = p.locator('.media-panel[data-key="page"] iframe')
    assert frame.get_attribute("sandbox") == "allow-scripts"
    p.wait_for_function(
        """() => { const f = document.querySelector('.media-panel[data-key="page"] iframe');
                   return f && f.contentDocument === null; }"""
    )  # another origin: the dashboard cannot read it, nor it the dashboard
    inner = p.frame_locator('.media-panel[data-key="page"] iframe').locator("#inner")
    assert inner.inner_text() == "hello"
    assert "NumPy" in p.locator('.media-panel[data-key="clip"] .note').inner_text()
    # The table: 20 rows a page, thumbnails, the hostile cell as text.
    cells = p.locator('.media-panel[data-key="cells"] table.logged-table')
    assert cells.locator("tbody tr").count() == 20
    assert cells.locator("img.thumb").count() == 20
    assert cells.locator("tbody tr").first.locator("td").nth(2).inner_text() == EVIL
    p.locator('.media-panel[data-key="cells"] button.next').click()
    p.wait_for_function(
        """() => document.querySelectorAll('.media-panel[data-key="cells"] table.logged-table tbody tr').length === 5"""
    )
    # Every chart drawn: scroll through the page so the lazy ones draw.
    for each in p.locator(".custom-chart, .chart.histogram, .plotly-figure").all():
        each.scroll_into_view_if_needed()
    p.wait_for_function(
        """() => [...document.querySelectorAll('.custom-chart, .chart.histogram, .plotly-figure')]
             .every(d => d.data && d.data.length)""",
        timeout=20000,
    )
    drawn: dict[str, Any] = p.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.custom-chart')].map(
             d => [d.dataset.key, d.data.map(t => [t.type, t.name || null, (t.x || []).length])]))"""
    )
    assert drawn["confusion"][0][0] == "heatmap" and drawn["bar"][0][0] == "bar"
    assert drawn["hist"][0][0] == "histogram" and drawn["line"][0] == ["scatter", "y", 10]
    assert len(drawn["pr"]) == 2 and len(drawn["roc"]) == 2  # one curve per class
    assert sorted(n for _, n, _ in drawn["series"]) == sorted(
        ["up", EVIL.replace("<", "&lt;").replace(">", "&gt;")]
    )
    heat = p.evaluate("() => document.querySelector('.media-panel[data-key=\"weights\"] .chart').data[0]")
    assert heat["type"] == "heatmap" and heat["x"] == [0, 1, 2, 3]
    # Nothing hostile became markup, and the frame's script did not reach the page.
    assert p.locator("#media img[src='x']").count() == 0
    assert p.locator("#media .js-plot-link-container a, #media svg a").count() == 0
    assert p.evaluate("() => document.body.dataset.pwned") is None
    screenshot(page, tmp_path, "run-media")
    screenshot(page, tmp_path, "run-media-section", "#media")
    # The files list links through the file route.
    files = p.locator("#files .file-row")
    assert files.count() >= 10
    assert (
        p.locator('#files .file-row[data-name="notes.txt"] a')
        .get_attribute("href")
        .endswith("&name=notes.txt&download=1")
    )

    # The project page's media panels: each key with every charted run's last value; a chart with both runs' tables.
    p.goto(f"{base}/#/p/med")
    p.wait_for_selector("body[data-ready='#/p/med']")
    p.locator("#project-media").scroll_into_view_if_needed()
    p.wait_for_selector('#project-media .media-panel[data-key="samples"] .media-row')
    rows = p.locator('#project-media .media-panel[data-key="samples"] .media-row')
    assert sorted(rows.locator(".media-run a").all_inner_texts()) == ["media", "other"]
    assert "other's" in rows.locator("figcaption").all_inner_texts()
    assert (
        p.locator('#project-media .media-panel[data-key="weights"]').count() == 0
    )  # over time: on the run page
    line = p.locator('#project-media .custom-chart[data-key="line"]')
    line.scroll_into_view_if_needed()
    p.wait_for_function(
        """() => { const d = document.querySelector('#project-media .custom-chart[data-key="line"]');
                   return d && d.data && d.data.length === 2; }"""
    )
    assert sorted(
        p.evaluate(
            """() => document.querySelector('#project-media .custom-chart[data-key="line"]').data.map(t => t.name)"""
        )
    ) == ["media", "other"]
    screenshot(page, tmp_path, "project-media", "#project-media")
    # The frame's script ran, in an opaque origin: reaching for the dashboard threw.
    assert any('origin "null"' in e for e in page.errors), page.errors
    assert not [e for e in page.errors if 'origin "null"' not in e], page.errors


MEDIA_ONLY = """
import numpy as np
import runhive as wandb

run = wandb.init(project="pics", name="pictures only")
for step in range(2):
    run.log({"sample": wandb.Image(np.full((8, 8, 3), 60 * step, dtype=np.uint8), caption=f"step {step}")})
run.finish()
"""


def test_project_media_panels_without_scalar_metrics(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    """A project that logs only media still shows its media panels (they once waited for a metric chart)."""
    rh.run(MEDIA_ONLY, timeout=120)
    base, _ = start_ui(rh)
    p = page.page
    p.goto(f"{base}/#/p/pics")
    p.wait_for_selector("body[data-ready='#/p/pics']")
    p.locator("#project-media").scroll_into_view_if_needed()
    p.wait_for_selector('#project-media .media-panel[data-key="sample"] .media-row', timeout=20_000)
    screenshot(page, tmp_path, "project-media-only")
