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


EXTRAS = """
import runhive as wandb

producer = wandb.init(project="rx", name="producer")
with open(producer.dir + "/files/output.log", "w") as f:  # as console capture writes it: an ordinary run file
    for i in range(3000):
        f.write(f"line {i:05d} " + "x" * 40 + "\\n")
    f.write('<img src=x onerror="document.body.dataset.pwned=1"> the end\\n')
with open("data.txt", "w") as f:
    f.write("some data")
art = wandb.Artifact("dataset", type="dataset")
art.add_file("data.txt")
producer.log_artifact(art)
producer.log({"loss": 1.0})
producer.finish()
consumer = wandb.init(project="rx", name="consumer", reinit="create_new")
consumer.use_artifact("dataset:latest")
consumer.finish()
print("IDS", producer.entity, producer.id, consumer.id)
"""


def test_run_page_console_files_artifacts_and_git_diff(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=rh.work, check=True)
    (rh.work / "train.py").write_text("print('hi')\n")
    subprocess.run([*git, "add", "train.py"], cwd=rh.work, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], cwd=rh.work, check=True)
    (rh.work / "train.py").write_text("print('changed')\n")  # uncommitted: the run keeps a diff.patch
    entity, producer, consumer = rh.run(EXTRAS, timeout=120).stdout.split("IDS", 1)[1].split()
    base, _ = start_ui(rh)

    got = api_json(base, f"/api/run/console?path={entity}/rx/{producer}")
    assert got["present"] and got["start"] > 0 and got["text"].endswith("the end\n")
    assert got["text"].startswith("line ")  # a page begins at a line
    p = page.page
    p.goto(f"{base}/#/r/{entity}/rx/{producer}")
    p.wait_for_selector(f"body[data-ready='#/r/{entity}/rx/{producer}']")
    text = p.inner_text("#console")
    assert text.rstrip().endswith('<img src=x onerror="document.body.dataset.pwned=1"> the end')
    assert "line 00000" not in text and "of 1" in p.inner_text("#console-info")  # the tail of a large log
    while p.locator("#console-earlier").is_visible():
        shown = len(p.inner_text("#console"))
        p.click("#console-earlier")
        p.wait_for_function(f"() => document.getElementById('console').textContent.length > {shown}")
    assert p.inner_text("#console").startswith("line 00000")
    assert p.inner_text("#console").count("\nline ") == 2999  # every line once
    # Files: the log, the diff, the artifact's file is not a run file; links go through the file route.
    names = p.locator("#files .file-row").evaluate_all("rows => rows.map(r => r.dataset.name)")
    assert "output.log" in names and "diff.patch" in names
    # Artifacts: what it logged, and who used it.
    row = p.locator("#logged-artifacts .artifact-row")
    assert row.count() == 1 and row.locator("td").first.inner_text() == "dataset:v0"
    assert row.locator("a.lineage-run").inner_text() == "consumer"
    assert "git diff" in p.inner_text("#diff-box")
    p.click("#diff-box summary")
    assert "+print('changed')" in p.inner_text("#git-diff")
    assert p.evaluate("() => document.body.dataset.pwned") is None
    screenshot(page, tmp_path, "run-console-files-artifacts")
    # The consumer's page names the run that logged what it used, and links to it.
    p.click("#logged-artifacts a.lineage-run")
    p.wait_for_selector(f"body[data-ready='#/r/{entity}/rx/{consumer}']")
    used = p.locator("#used-artifacts .artifact-row")
    assert used.locator("td").first.inner_text() == "dataset:v0"
    assert used.locator("a.lineage-run").inner_text() == "producer"
    assert "No console output" in p.inner_text("#console-box")  # none saved, or an empty output.log
    screenshot(page, tmp_path, "run-artifact-lineage")
    assert not page.errors, page.errors
