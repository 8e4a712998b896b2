"""The run page (issue 15, run page): an overview from the run's record and metadata (notes, tags, group, job
type, state with exit code, runtime, host, git commit and remote (without credentials), command, Python), config,
summary, charts and system metrics (a single sample drawn as a marker); failed and crashed look different."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from conftest import RhEnv, wait_for
from test_ui_common import Page, api_json, browser, page, screenshot, start_ui

__all__ = ["browser", "page"]

LOGGER = """
import time
import runhive as wandb

run = wandb.init(project="rp", name="overview", notes="the baseline", tags=["base", "v2"], group="exp-1",
                 job_type="train", config={"lr": 0.01, "layers": 4})
api = wandb.Api()
deadline = time.monotonic() + 60
i = 0
while not api.run(f"rp/{run.id}").history(stream="system", pandas=False):  # until the daemon sampled the run once
    run.log({"loss": 1 / (i + 1)})
    i += 1
    time.sleep(0.02)  # a training step
    assert time.monotonic() < deadline, "no system sample within 60 s"
run.finish()
bad = wandb.init(project="rp", name="bad", reinit="create_new")
bad.log({"loss": 1.0})
bad.finish(exit_code=2)
print("IDS", run.id, bad.id)
"""

CRASH = """
import os
import runhive as wandb

run = wandb.init(project="rp", name="crash")
run.log({"loss": 1.0})
print("ID", run.id, flush=True)
os._exit(0)  # no finish(): the daemon marks the run crashed
"""


def _overview(p: Any) -> dict[str, str]:
    return dict(
        p.evaluate(
            """() => [...document.querySelectorAll('#overview tr')]
                 .map(tr => [tr.dataset.field, tr.cells[0].nextElementSibling.textContent])"""
        )
    )


def test_run_page_overview_states_and_system_metrics(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=rh.work, check=True)
    (rh.work / "train.py").write_text("print('hi')\n")
    subprocess.run([*git, "add", "train.py"], cwd=rh.work, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], cwd=rh.work, check=True)
    remote = "https://someone:s3cret-token@example.com/team/repo.git"
    subprocess.run([*git, "remote", "add", "origin", remote], cwd=rh.work, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=rh.work, capture_output=True, text=True
    ).stdout.strip()
    rh.environ["RUNHIVE_STATS_SAMPLING_INTERVAL"] = "0.5"  # the daemon this test starts samples every 0.5 s
    run_id, bad_id = rh.run(LOGGER, timeout=120).stdout.split("IDS", 1)[1].split()
    crash_id = rh.run(CRASH, timeout=60).stdout.split("ID", 1)[1].split()[0]
    wait_for(lambda: rh.api().run(f"rp/{crash_id}").state == "crashed", 60, "the crashed run marked crashed")
    entity = rh.api().run(f"rp/{run_id}").entity
    base, _ = start_ui(rh)

    raw = json.dumps(api_json(base, f"/api/run?path={entity}/rp/{run_id}"))
    assert str(rh.root) not in raw and str(rh.work) not in raw  # the overview names no absolute path
    assert "s3cret-token" not in raw  # nor the credentials of a git remote
    p = page.page
    p.goto(f"{base}/#/r/{entity}/rp/{run_id}")
    p.wait_for_selector(f"body[data-ready='#/r/{entity}/rp/{run_id}']")
    o = _overview(p)
    assert o["state"] == "finished" and o["notes"] == "the baseline" and o["tags"] == "basev2"
    assert o["group"] == "exp-1" and o["job type"] == "train" and o["runtime"].endswith("s")
    assert o["host"] == socket.gethostname() and o["python"] == platform.python_version()
    assert o["git commit"] == commit and o["command"].startswith("python -c")
    assert o["git remote"] == "https://example.com/team/repo.git"
    assert json.loads(p.inner_text("#config")) == {"lr": 0.01, "layers": 4}
    assert p.locator('.chart[data-key="loss"]').count() == 1
    screenshot(page, tmp_path, "run-overview")
    # Charts are drawn as they come into view: at the bottom of the page every system chart is.
    p.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    p.wait_for_function("() => [...document.querySelectorAll('.chart.system')].every(d => d.data)")
    system = p.evaluate(
        """() => [...document.querySelectorAll('.chart.system')]
             .map(d => [d.dataset.key, d.data[0].x.length, d.data[0].mode])"""
    )
    assert system and all(n >= 1 and (mode == "lines+markers") == (n == 1) for _, n, mode in system), system
    assert (
        p.locator(".chart.system .scatterlayer .point").count()
        + p.locator(".chart.system path.js-line").count()
        > 0
    )
    screenshot(page, tmp_path, "run-system-metrics")

    colours = {}
    for rid, text in ((bad_id, "failed (exit 2)"), (crash_id, "crashed")):
        p.goto(f"{base}/#/r/{entity}/rp/{rid}")
        p.wait_for_selector(f"body[data-ready='#/r/{entity}/rp/{rid}']")
        assert p.inner_text("#run-state").startswith(text)
        colours[text] = p.evaluate("() => getComputedStyle(document.getElementById('run-state')).color")
        screenshot(page, tmp_path, f"run-{text.split()[0]}")
    assert len(set(colours.values())) == 2, colours  # failed and crashed are told apart
    assert not page.errors, page.errors
