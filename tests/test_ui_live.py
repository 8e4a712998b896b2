"""The dashboard is live (issue 15, item 1): while a run logs, its chart gains points, its state and the runs table
change, without reloading the page; each poll fetches only what changed (the runs updated since the cursor)."""

from __future__ import annotations

from pathlib import Path

from conftest import RhEnv, wait_for
from test_ui_common import Page, browser, page, screenshot, start_ui

__all__ = ["browser", "page"]

LOGGER = """
import pathlib, time
import runhive as wandb

done = wandb.init(project="live", name="finished-run", reinit="create_new")
for i in range(10):
    done.log({"loss": 1.0 / (i + 1)})
done.finish()
run = wandb.init(project="live", name="live-run", reinit="create_new")
run.log({"loss": 2.0, "setup": 5})  # logged once: its chart has nothing to redraw later
for i in range(1, 20):
    run.log({"loss": 2.0 / (i + 1)})
print("READY", run.id, flush=True)
go, stop = pathlib.Path("go"), pathlib.Path("stop")
while not go.exists():  # the test says when to go on logging
    time.sleep(0.02)
i = 20
while not stop.exists():  # a training loop: a step every 20 ms until the test has seen enough
    run.log({"loss": 2.0 / (i + 1), "acc": i / 1000})
    i += 1
    time.sleep(0.02)
run.finish()
print("DONE", i, flush=True)
"""

POINTS = """(name) => { const div = document.querySelector('.chart[data-key="loss"]');
  if (!div || !div.data) return 0;
  const t = div.data.find(t => t.name === name); return t ? t.x.length : 0; }"""


def test_a_running_runs_chart_state_and_row_update_without_reload(
    rh: RhEnv, page: Page, tmp_path: Path
) -> None:
    logger = rh.spawn(LOGGER)
    assert logger.stdout is not None
    line = logger.stdout.readline()
    assert line.startswith("READY"), (line, logger.stderr.read() if logger.poll() is not None else "")
    run_id = line.split()[1]
    wait_for(lambda: rh.api().run(f"live/{run_id}").last_step >= 19, 30, "the first 20 steps in the store")
    base, _ = start_ui(rh)
    p = page.page
    requests: list[str] = []
    p.on("request", lambda r: requests.append(r.url))
    p.goto(base + "/#/p/live")
    p.wait_for_selector("body[data-ready='#/p/live']")
    p.wait_for_function(f"() => ({POINTS})('live-run') === 20")
    assert p.evaluate("() => document.querySelectorAll('.chart').length") == 2  # acc is not logged yet
    p.evaluate(
        """() => { window.redrawn = {};
                   for (const div of document.querySelectorAll('.chart'))
                     div.on('plotly_afterplot', () => { window.redrawn[div.dataset.key] = true; }); }"""
    )
    assert "running" in p.inner_text(f"tr.run-row[data-id='{run_id}'] td.state")
    screenshot(page, tmp_path, "live-before")
    navigations = p.evaluate("() => performance.getEntriesByType('navigation').length")
    loaded = len(requests)

    (rh.work / "go").touch()
    p.wait_for_function(f"() => ({POINTS})('live-run') >= 60", timeout=30_000)  # new points, no reload
    p.wait_for_selector('.chart[data-key="acc"]', timeout=30_000)  # a new metric gets its chart
    steps_cell = f"tr.run-row[data-id='{run_id}'] td[data-col=steps]"
    assert int(p.inner_text(steps_cell)) >= 60  # the table's steps column follows
    screenshot(page, tmp_path, "live-during")
    (rh.work / "stop").touch()
    assert logger.wait(60) == 0
    p.wait_for_function(
        f"""() => document.querySelector("tr.run-row[data-id='{run_id}'] td.state").textContent === 'finished'""",
        timeout=30_000,
    )
    final = rh.api().run(f"live/{run_id}").last_step + 1
    p.wait_for_function(f"() => ({POINTS})('live-run') === {final}", timeout=30_000)
    assert p.evaluate("() => performance.getEntriesByType('navigation').length") == navigations
    assert p.evaluate("() => window.redrawn") == {"loss": True}  # what did not change was not redrawn
    screenshot(page, tmp_path, "live-after")

    # Polls ask for changes since a cursor, and fetch metrics of the live run only, never the finished one.
    later = requests[loaded:]
    assert any("/api/changes?" in u and "since=0" not in u for u in later), later
    fetched = [u for u in later if "/api/metrics?" in u]
    # Every run's points only for the chart that appeared (acc): the rest is the live run's.
    assert fetched and all(f"runs={run_id}" in u or u.endswith("&key=acc") for u in fetched), fetched
    assert not any(u.endswith("/") or "/vendor/" in u for u in later)  # nothing reloaded
    assert not page.errors, page.errors
