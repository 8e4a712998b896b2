"""What console capture (output.log) costs a loop that prints every step: µs per step with console="off" and with
console="wrap" (what "auto" does), alternating, each in its own process with its own daemon directory.

    .venv/bin/python bench/console_prints.py [--steps 100000] [--reps 3] [--log]

stdout goes to /dev/null (the terminal's own cost is not what is measured); `--log` adds a `run.log()` per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import json, sys, time
import runhive

mode, steps, with_log = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
run = runhive.init(project="bench-console", settings=runhive.Settings(console=mode))
t0 = time.perf_counter()
for i in range(steps):
    if with_log:
        run.log({"loss": 1.0 / (i + 1)})
    print(f"step {i} loss {1.0 / (i + 1):.4f}")
t1 = time.perf_counter()
run.finish()
t2 = time.perf_counter()
sys.stderr.write(json.dumps({"loop_s": t1 - t0, "finish_s": t2 - t1}) + "\\n")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--log", action="store_true", help="also run.log() every step")
    args = ap.parse_args()
    results: dict[str, list[float]] = {"off": [], "wrap": []}
    finish: dict[str, list[float]] = {"off": [], "wrap": []}
    with tempfile.TemporaryDirectory(prefix="rhb-", dir="/tmp") as tmp:
        env = dict(os.environ)
        env.update(
            {
                "RUNHIVE_SERVICE_DIR": os.path.join(tmp, "svc"),
                "RUNHIVE_DATA_DIR": os.path.join(tmp, "data"),
                "RUNHIVE_DIR": tmp,
                "RUNHIVE_CONFIG_DIR": os.path.join(tmp, "config"),  # no login of the machine: local only
            }
        )
        for _ in range(args.reps):
            for mode in ("off", "wrap"):
                with open(os.devnull, "w") as null:
                    res = subprocess.run(
                        [sys.executable, "-c", CHILD, mode, str(args.steps), "1" if args.log else "0"],
                        stdout=null,
                        stderr=subprocess.PIPE,
                        text=True,
                        env=env,
                        check=False,
                        cwd=tmp,
                    )
                if res.returncode != 0:
                    raise SystemExit(f"console={mode} child failed:\n{res.stderr}")
                figures = json.loads(res.stderr.strip().splitlines()[-1])
                results[mode].append(figures["loop_s"] / args.steps * 1e6)
                finish[mode].append(figures["finish_s"])
        subprocess.run([sys.executable, "-m", "runhive.cli._main", "service", "stop"], env=env, check=False)
    for mode in ("off", "wrap"):
        us = results[mode]
        print(
            f"console={mode}: {statistics.median(us):.2f} µs/step (min {min(us):.2f}, max {max(us):.2f}); "
            f"finish() {statistics.median(finish[mode]) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
