"""The dashboard's speed targets (issue 15, item 9), measured in Debian's headless Chromium (Playwright), warm:

- a project of 100 runs x 100k steps: the project page ready (runs table, the charts near the screen drawn)
  in <= 1 s; measured as the page opens (its charts draw the first 10 selected runs, W&B's default) and with
  "Charts show" at "all selected" (all 100 runs in each chart, in fewer points a run);
- a project of 5 runs x 200 metrics: ready in <= 2 s;
- 8 concurrent heavy requests (one metric of the 100 runs, downsampled) slow a light one (/api/projects) by < 10x.

"Ready" is the page's own signal, `body[data-ready]`, set once the route has drawn what it draws before the user
scrolls. Warm: the page was loaded once before (plotly and the page's files cached, the store in the page cache);
each measured load starts from about:blank so the whole page runs again.

    .venv/bin/python bench/ui_speed.py [--runs 100] [--steps 100000] [--reps 5] [--out bench/RESULTS.md]

The store is built through `run.log()` in two processes (runhive has no bulk-load path), in a temporary
directory removed at the end (--keep to keep it), or in --store DIR, kept and used again by the next call with
the same --store (the build takes minutes; the measurements do not depend on it).
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

BUILD = """
import sys
import runhive as wandb

project = sys.argv[1]
first, count, steps, metrics = (int(a) for a in sys.argv[2:6])
for i in range(first, first + count):
    run = wandb.init(project=project, name=f"r{i:03d}", config={"i": i, "lr": 0.001 * (i + 1)}, reinit="create_new")
    if metrics == 1:
        for step in range(steps):  # each run its own curve and noise: runs differ, as real ones do
            run.log({"loss": (1.0 + 0.01 * i) / (1.0 + step) + ((step * (i + 3)) % 97) * 1e-4}, step=step)
    else:
        keys = [f"m{j:03d}" for j in range(metrics)]
        for step in range(steps):
            run.log({k: step * (j + 1) * 1e-3 + i for j, k in enumerate(keys)}, step=step)
    run.finish()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        res = conn.getresponse()
        res.read()
        took = time.perf_counter() - t0
        if res.status != 200:
            raise RuntimeError(f"GET {path}: {res.status}")
        return took
    finally:
        conn.close()


def build(env: dict[str, str], project: str, runs: int, steps: int, metrics: int, procs: int) -> float:
    t0 = time.perf_counter()
    per = (runs + procs - 1) // procs
    children = []
    for first in range(0, runs, per):
        args = [project, str(first), str(min(per, runs - first)), str(steps), str(metrics)]
        children.append(subprocess.Popen([PY, "-c", textwrap.dedent(BUILD), *args], env=env))
    for c in children:
        if c.wait() != 0:
            raise RuntimeError(f"building {project} failed ({c.returncode})")
    return time.perf_counter() - t0


def page_ready(page: Any, url: str, reps: int, shown: str | None = None) -> list[float]:
    """Warm loads of `url` until the page says it is ready; `shown`: the project's "Charts show" choice (the
    number of runs, "0" for all selected) stored for the page as a user's choice is, None for the default."""
    fragment = url.split("/#", 1)[1]
    ready = f"body[data-ready='#{fragment}']"
    page.goto(url.split("#", 1)[0])
    key = f"runhive.shown.{fragment.rsplit('/', 1)[-1]}"
    if shown is None:
        page.evaluate("(k) => localStorage.removeItem(k)", key)
    else:
        page.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, shown])
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector(ready, timeout=120_000)  # the cold load: caches filled
    out = []
    for _ in range(reps):
        page.goto("about:blank")
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(ready, timeout=120_000)
        out.append(time.perf_counter() - t0)
    return out


def contention(port: int, project: str, reps: int) -> tuple[list[float], list[float]]:
    light = "/api/projects"
    heavy = f"/api/metrics?project={project}&key=loss"
    alone = [_get(port, light) for _ in range(reps)]
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            _get(port, heavy)

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # let all eight be in flight
    loaded = [_get(port, light) for _ in range(reps)]
    stop.set()
    for t in threads:
        t.join(120)
    return alone, loaded


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--wide-runs", type=int, default=5)
    ap.add_argument("--wide-metrics", type=int, default=200)
    ap.add_argument("--wide-steps", type=int, default=1_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    ap.add_argument("--no-out", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--store", help="build the stores here once and use them again (kept)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        print("Debian's chromium is not installed: `make browser` installs it", file=sys.stderr)
        return 2
    work = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="rh-uibench-"))
    work.mkdir(parents=True, exist_ok=True)
    built = work / "built.txt"  # the build's shape and times: a store is used again only for the same shape
    shape = f"{args.runs} {args.steps} {args.wide_runs} {args.wide_metrics} {args.wide_steps}"
    svc = Path(tempfile.mkdtemp(prefix="rh-", dir="/tmp"))  # a short path: Unix socket names are limited
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNHIVE_"))}
    env.update(
        {"RUNHIVE_SERVICE_DIR": str(svc), "RUNHIVE_DATA_DIR": str(work / "data"), "PYTHONUNBUFFERED": "1"}
    )
    ui = None
    try:
        if built.exists() and built.read_text().split(":")[0] == shape:
            big_s, wide_s = (float(t) for t in built.read_text().split(":")[1].split())
            print(f"using the stores in {work}", flush=True)
        else:
            if args.store and (work / "data").exists():
                raise RuntimeError(f"{work} holds stores of another shape: pass an empty --store")
            print(f"building {args.runs} runs x {args.steps:,} steps ...", flush=True)
            big_s = build(env, "big", args.runs, args.steps, 1, 2)
            print(f"  {big_s:.0f} s; {args.wide_runs} runs x {args.wide_metrics} metrics ...", flush=True)
            wide_s = build(env, "wide", args.wide_runs, args.wide_steps, args.wide_metrics, 1)
            built.write_text(f"{shape}:{big_s} {wide_s}")
        port = _free_port()
        main_code = "import sys; from runhive.cli._main import main; sys.exit(main(sys.argv[1:]))"
        ui = subprocess.Popen(
            [PY, "-c", main_code, "ui", "--port", str(port)], env=env, cwd=work, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(port, "/")
                break
            except OSError:
                if time.monotonic() > deadline or ui.poll() is not None:
                    raise RuntimeError("runhive ui did not come up") from None
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            big = page_ready(page, f"{base}/#/p/big", args.reps)
            big_all = page_ready(page, f"{base}/#/p/big", args.reps, shown="0")
            wide = page_ready(page, f"{base}/#/p/wide", args.reps)
            drawn = page.evaluate("() => [...document.querySelectorAll('.chart')].filter(d => d.data).length")
            browser.close()
        alone, loaded = contention(port, "big", max(10, args.reps * 4))
    finally:
        if ui is not None:
            ui.send_signal(signal.SIGTERM)
            ui.wait(30)
        subprocess.run(
            [PY, "-m", "runhive.cli._main", "service", "stop"], env=env, capture_output=True, timeout=60
        )
        if not args.keep and not args.store:
            shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(svc, ignore_errors=True)

    med = statistics.median
    slow = med(loaded) / med(alone)

    def cell(xs: list[float]) -> str:
        return f"{med(xs):.3f} s ({min(xs):.3f}-{max(xs):.3f})"

    load = os.getloadavg()
    lines = [
        f"## Dashboard speed (issue 15, item 9), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"`{' '.join([Path(PY).name, *sys.argv])}` on {platform.node()} ({os.cpu_count()} CPUs, "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}), Debian's headless Chromium via Playwright, warm "
        f"(each of {args.reps} loads from about:blank after one untimed load); `runhive ui` over a store built "
        f"through `run.log()` ({big_s:.0f} s for the big project, {wide_s:.0f} s for the wide one).",
        "",
        "| target | measured (median, min-max) | status |",
        "|---|---|---|",
        f"| project of {args.runs} runs x {args.steps:,} steps ready ≤ 1 s (charts of the first 10 runs, the "
        f"default) | {cell(big)} | {'met' if med(big) <= 1 else '**not met**'} |",
        f'| the same, "Charts show: all selected" ({args.runs} runs in each chart) ≤ 1 s | {cell(big_all)} | '
        f"{'met' if med(big_all) <= 1 else '**not met**'} |",
        f"| project of {args.wide_runs} runs x {args.wide_metrics} metrics ready ≤ 2 s "
        f"({drawn} charts drawn at ready, the rest as they scroll into view) | {cell(wide)} | "
        f"{'met' if med(wide) <= 2 else '**not met**'} |",
        f"| 8 concurrent heavy requests (`/api/metrics`, one metric of the {args.runs} runs) slow a light one "
        f"(`/api/projects`) by < 10x | alone {med(alone) * 1e3:.1f} ms, under load {med(loaded) * 1e3:.1f} ms: "
        f"{slow:.1f}x | {'met' if slow < 10 else '**not met**'} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_out:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
