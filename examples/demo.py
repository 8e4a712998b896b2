"""The main demo: `make run`. A few runs, a small sweep and some media into the embedded local store, read back,
then the dashboard (`runhive ui`) over them, with one run still logging while you look.

At a terminal the dashboard stays up until Ctrl-C; without one (CI, a pipe) the demo prints the address and exits.
"""

from __future__ import annotations

import math
import random
import socket
import subprocess
import sys
import time
import urllib.request

import runhive as wandb

PROJECT = "demo"


def train(lr: float, steps: int = 300, seed: int = 0) -> None:
    rng = random.Random(seed)
    run = wandb.init(project=PROJECT, config={"lr": lr, "batch_size": 32, "optimizer": "sgd"}, tags=["demo"])
    for i in range(steps):
        loss = math.exp(-lr * i / 20) + rng.random() * 0.02
        run.log({"loss": loss, "acc": 1 - loss / 2, "epoch": i // 100})
    run.finish()


def media_run() -> None:
    run = wandb.init(project=PROJECT, name="media", config={"kind": "media"}, job_type="eval")
    try:
        import numpy as np
    except ImportError:  # the media need numpy; the rest of the demo does not
        run.finish()
        return
    for step in range(3):
        x = np.linspace(0, 1, 64)
        pixels = (np.outer(x, x[::-1]) * 255 * (step + 1) / 3).astype(np.uint8)
        run.log(
            {
                "sample": wandb.Image(pixels, caption=f"step {step}"),
                "weights": wandb.Histogram(np.random.default_rng(step).normal(size=1000)),
            },
            step=step,
        )
    run.finish()


def sweep() -> str:
    def job() -> None:
        with wandb.init() as run:
            for i in range(50):
                run.log({"score": (run.config.x - 0.3) ** 2 + run.config.y / 10 + 0.01 * math.sin(i)})

    sweep_id = wandb.sweep(
        {
            "method": "grid",
            "metric": {"name": "score", "goal": "minimize"},
            "parameters": {"x": {"values": [0.1, 0.3, 0.5]}, "y": {"values": [1, 2]}},
        },
        project=PROJECT,
    )
    wandb.agent(sweep_id, function=job, project=PROJECT)
    return sweep_id


def free_port(preferred: int = 8420) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def start_dashboard(port: int) -> subprocess.Popen[bytes] | None:
    """`runhive ui` in a child process, once it answers; None when the `ui` extra is not installed."""
    try:
        import starlette  # noqa: F401
    except ImportError:
        print("the dashboard needs the ui extra: pip install 'runhive[ui]'")
        return None
    proc = subprocess.Popen([sys.executable, "-m", "runhive.cli", "ui", "--port", str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/projects", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                return None
            time.sleep(0.1)  # polling a server that is starting: nothing to wait on but its socket
    proc.terminate()
    return None


def main() -> None:
    for seed, lr in enumerate((0.05, 0.1, 0.3)):
        train(lr, seed=seed)
    media_run()
    sweep_id = sweep()

    api = wandb.Api()
    runs = api.runs(PROJECT)
    best = api.sweep(f"{PROJECT}/{sweep_id}").best_run()
    first = runs[0]
    print(
        f"{len(runs)} runs in project {PROJECT!r}; run {first.id} ({first.name}) is {first.state}: "
        f"{len(first.history(pandas=False, samples=None))} rows, summary loss={first.summary['loss']:.4f}"
    )
    if best is not None:
        print(f"sweep {sweep_id}: best run {best.name} with x={best.config['x']}, y={best.config['y']}")

    port = free_port()
    dashboard = start_dashboard(port)
    if dashboard is not None:
        print(f"dashboard: http://127.0.0.1:{port}/   (project {PROJECT!r})")
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    live = wandb.init(project=PROJECT, name="live", config={"lr": 0.2, "note": "still logging"})
    try:
        if interactive and dashboard is not None:
            print("one run keeps logging for a minute; Ctrl-C stops the dashboard")
        steps = 600 if interactive else 20
        for i in range(steps):
            live.log({"loss": math.exp(-i / 150) + random.random() * 0.02, "acc": 1 - math.exp(-i / 150)})
            if interactive:
                time.sleep(0.1)  # pacing the demo's live run so a person sees it grow, not synchronisation
        live.finish()
        if interactive and dashboard is not None:
            dashboard.wait()
    except KeyboardInterrupt:
        live.finish()
    finally:
        if dashboard is not None and dashboard.poll() is None:
            dashboard.terminate()
            dashboard.wait(timeout=10)
    print("try: runhive runs demo   and   runhive service status")


if __name__ == "__main__":
    main()
