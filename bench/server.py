"""The team server against MLflow's tracking server, both on one PostgreSQL 15 (issue 14's "Performance").

    .venv/bin/python bench/server.py                      # full sizes (~10 minutes on 2 vCPU)
    .venv/bin/python bench/server.py --quick              # small sizes, a smoke test
    .venv/bin/python bench/server.py --rows 50000 --read-runs 100 --read-steps 100000 --no-out

What is measured, from one run, as ratios:

1. Upload throughput: two nodes (two runhive daemons, each with its own data and socket directory) each log
   `--rows` rows of 10 floats into one run; `finish()` returns once the server has the run, so the wall time from
   the start of the two processes to the end of both is the time for the rows to be durable in PostgreSQL.
   MLflow: two processes log the same rows to `mlflow server --backend-store-uri postgresql+psycopg://...` with
   `MlflowClient.log_batch` (1,000 metrics per call, MLflow's limit: 100 steps x 10 metrics).
2. Reads: `--read-runs` runs x `--read-steps` steps of one metric, logged through one node and uploaded; then
   `Api().runs()` and `history(keys=["loss"], samples=1000)` of every run, through the server and from the node's
   local store (the same runs).

PostgreSQL is a throwaway cluster started here (tests/_pg.py's `PgCluster`: `make postgres` installs Debian's
binaries). MLflow runs from its own virtualenv (bench/.venvs/mlflow-server, mlflow 3.17.2 + psycopg); runhive from
this checkout (the interpreter running this script). Results are appended to bench/RESULTS.md with this command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(BENCH))

from benchlib.envs import VENVS_DIR, Tool, ensure_venv  # noqa: E402

from _pg import PgCluster  # noqa: E402

MLFLOW = Tool("mlflow-server", VENVS_DIR / "mlflow-server", "mlflow-server")

RUNHIVE_LOG = """
import sys, time, runhive
rows, label = int(sys.argv[1]), sys.argv[2]
run = runhive.init(project="bench", name=label, settings=runhive.Settings(finish_timeout=3600))
t0 = time.perf_counter()
for i in range(rows):
    run.log({f"m{k}": i * 0.001 + k for k in range(10)})
logged = time.perf_counter() - t0
run.finish()
print("RESULT", logged, time.perf_counter() - t0, flush=True)
"""

MLFLOW_LOG = """
import sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric
rows, label = int(sys.argv[1]), sys.argv[2]
client = MlflowClient()
exp = client.get_experiment_by_name("bench")
exp_id = exp.experiment_id if exp else client.create_experiment("bench")
run = client.create_run(exp_id, run_name=label)
t0 = time.perf_counter()
now = int(time.time() * 1000)
batch = []
for i in range(rows):
    batch.extend(Metric(f"m{k}", i * 0.001 + k, now, i) for k in range(10))
    if len(batch) >= 1000:
        client.log_batch(run.info.run_id, metrics=batch)
        batch = []
if batch:
    client.log_batch(run.info.run_id, metrics=batch)
client.set_terminated(run.info.run_id)
logged = time.perf_counter() - t0
print("RESULT", logged, logged, flush=True)
"""

READ_LOG = """
import sys, runhive
runs, steps, first = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for r in range(first, first + runs):
    settings = runhive.Settings(finish_timeout=3600)
    run = runhive.init(project="reads", name=f"r{r}", reinit="create_new", settings=settings)
    for i in range(steps):
        run.log({"loss": 1.0 / (i + 1) + r})
    run.finish()
print("DONE", flush=True)
"""

READ = """
import json, sys, time, runhive
api = runhive.Api(**json.loads(sys.argv[1]))
t0 = time.perf_counter()
runs = list(api.runs("{entity}/reads"))
t_runs = time.perf_counter() - t0
t0 = time.perf_counter()
points = 0
for run in runs:
    points += len(run.history(keys=["loss"], samples=1000, pandas=False))
t_hist = time.perf_counter() - t0
print("RESULT", json.dumps({{"runs": len(runs), "points": points, "runs_s": t_runs, "history_s": t_hist}}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:3]} exited {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)  # polling a starting server: nothing to wait on but its port
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class Node:
    """One runhive node: a daemon directory and a data directory of its own."""

    def __init__(self, root: Path, url: str, key: str) -> None:
        self.svc = Path(tempfile.mkdtemp(prefix="rhb-", dir="/tmp"))
        self.data = root / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNHIVE_", "WANDB_"))} | {
            "RUNHIVE_SERVICE_DIR": str(self.svc),
            "RUNHIVE_DATA_DIR": str(self.data),
            "RUNHIVE_BASE_URL": url,
            "RUNHIVE_API_KEY": key,
            "RUNHIVE_CONFIG_DIR": str(root / "config"),
            "PYTHONUNBUFFERED": "1",
        }
        root.mkdir(parents=True, exist_ok=True)
        self.root = root

    def spawn(self, code: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def close(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "runhive.cli._main", "service", "stop"],
            env=self.env,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.svc, ignore_errors=True)


def results(procs: list[subprocess.Popen[str]]) -> list[tuple[float, float]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=7200)
        if p.returncode != 0 or "RESULT" not in stdout:
            raise RuntimeError(f"a logging process failed ({p.returncode}):\n{stdout}\n{stderr[-4000:]}")
        logged, total = stdout.split("RESULT", 1)[1].split()[:2]
        out.append((float(logged), float(total)))
    return out


def runhive_server(cluster: PgCluster, user: str) -> tuple[subprocess.Popen[bytes], str, str]:
    """`runhive server` on a new database of `cluster` with one user: (process, URL, the user's key)."""
    db = cluster.create_database()
    key = admin(db, "user", "create", user)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "runhive.cli._main", "server", "--db", db, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    return server, f"http://127.0.0.1:{port}", key


def bench_runhive_upload(cluster: PgCluster, work: Path, rows: int) -> dict[str, Any]:
    server, url, key = runhive_server(cluster, "bench")
    nodes = [Node(work / f"node{i}", url, key) for i in range(2)]
    try:
        wait_http(f"{url}/healthz", 120, server)
        t0 = time.perf_counter()
        procs = [n.spawn(RUNHIVE_LOG, str(rows), f"node{i}") for i, n in enumerate(nodes)]
        res = results(procs)
        wall = time.perf_counter() - t0
        return {"wall_s": wall, "rows_per_s": 2 * rows / wall, "loop_s": max(r[0] for r in res)}
    finally:
        for n in nodes:
            n.close()
        stop(server)


def bench_mlflow_upload(cluster: PgCluster, work: Path, rows: int) -> dict[str, Any]:
    ensure_venv(MLFLOW)
    db = cluster.create_database().replace("postgresql://", "postgresql+psycopg://", 1)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    server = subprocess.Popen(
        [
            str(MLFLOW.venv / "bin" / "mlflow"),
            "server",
            "--backend-store-uri",
            db,
            "--default-artifact-root",
            str(work / "mlartifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=work,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", 180, server)
        client_env = env | {"MLFLOW_TRACKING_URI": url}
        # One process creates the experiment first: two creating it at once is MLflow's race, not a figure.
        subprocess.run(
            [
                str(MLFLOW.python),
                "-c",
                "from mlflow import MlflowClient; MlflowClient().create_experiment('bench')",
            ],
            env=client_env,
            check=True,
            capture_output=True,
        )
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [str(MLFLOW.python), "-c", textwrap.dedent(MLFLOW_LOG), str(rows), f"node{i}"],
                env=client_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=work,
            )
            for i in range(2)
        ]
        res = results(procs)
        wall = time.perf_counter() - t0
        return {"wall_s": wall, "rows_per_s": 2 * rows / wall, "loop_s": max(r[0] for r in res)}
    finally:
        stop(server)


def bench_reads(cluster: PgCluster, work: Path, runs: int, steps: int) -> dict[str, Any]:
    server, url, key = runhive_server(cluster, "reader")
    node = Node(work / "reads", url, key)
    try:
        wait_http(f"{url}/healthz", 120, server)
        t0 = time.perf_counter()
        writers = 2
        per = [runs // writers + (1 if i < runs % writers else 0) for i in range(writers)]
        firsts = [sum(per[:i]) for i in range(writers)]
        procs = [node.spawn(READ_LOG, str(n), str(steps), str(f)) for n, f in zip(per, firsts, strict=True)]
        for p in procs:
            out, err = p.communicate(timeout=7200)
            if p.returncode != 0:
                raise RuntimeError(f"building the read store failed:\n{out}\n{err[-4000:]}")
        build = time.perf_counter() - t0
        code = READ.format(entity="reader")
        figures = {}
        for where, kwargs in (
            ("local", {"overrides": {"data_dir": str(node.data)}}),
            ("server", {"overrides": {"base_url": url}, "api_key": key}),
        ):
            best: dict[str, Any] | None = None
            for _ in range(2):  # the second pass is warm (page cache, the server's connections)
                res = subprocess.run(
                    [sys.executable, "-c", textwrap.dedent(code), json.dumps(kwargs)],
                    env=node.env,
                    capture_output=True,
                    text=True,
                    timeout=3600,
                )
                if res.returncode != 0:
                    raise RuntimeError(f"reading through {where} failed:\n{res.stderr[-4000:]}")
                best = json.loads(res.stdout.split("RESULT", 1)[1])
            figures[where] = best
        return {"build_s": build, **figures}
    finally:
        node.close()
        stop(server)


def admin(db: str, *args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "runhive.cli._main", "server", *args, "--db", db],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return res.stdout.splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows of 10 floats per node (upload)")
    parser.add_argument("--read-runs", type=int, default=100)
    parser.add_argument("--read-steps", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 rows; 20 runs x 10,000 steps")
    parser.add_argument("--skip", default="", help="comma-separated: upload,mlflow,reads")
    parser.add_argument("--no-out", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.read_runs, args.read_steps = 10_000, 20, 10_000
    skip = set(filter(None, args.skip.split(",")))
    work = Path(tempfile.mkdtemp(prefix="rh-server-bench-"))
    cluster = PgCluster().start()
    report: dict[str, Any] = {}
    try:
        if "upload" not in skip:
            report["runhive"] = bench_runhive_upload(cluster, work, args.rows)
            print("runhive upload", report["runhive"], flush=True)
        if "mlflow" not in skip:
            report["mlflow"] = bench_mlflow_upload(cluster, work, args.rows)
            print("mlflow upload", report["mlflow"], flush=True)
        if "reads" not in skip:
            report["reads"] = bench_reads(cluster, work, args.read_runs, args.read_steps)
            print("reads", report["reads"], flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    text = render(report, args, " ".join(["bench/server.py", *sys.argv[1:]]))
    print(text)
    if not args.no_out:
        with open(BENCH / "RESULTS.md", "a") as f:
            f.write("\n" + text)
    return 0


def render(report: dict[str, Any], args: argparse.Namespace, command: str) -> str:
    load = os.getloadavg()
    lines = [
        f"## Team server vs MLflow's tracking server, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Command: `.venv/bin/python {command}`; {os.cpu_count()} CPUs, load average {load[0]:.1f} at the end;"
        " PostgreSQL 15 (throwaway cluster, fsync off, the same for both); one run of each.",
        "",
    ]
    rh, ml = report.get("runhive"), report.get("mlflow")
    if rh or ml:
        lines += [
            f"### Upload: 2 nodes x {args.rows:,} rows of 10 floats into PostgreSQL",
            "",
            "| tool | wall until durable on the server (s) | rows/s | longest logging loop (s) |",
            "|---|---|---|---|",
        ]
        for name, r in (
            ("runhive server (2 daemons' uploaders)", rh),
            ("MLflow server, log_batch x1000", ml),
        ):
            if r:
                lines.append(f"| {name} | {r['wall_s']:.1f} | {r['rows_per_s']:,.0f} | {r['loop_s']:.1f} |")
        if rh and ml:
            lines += ["", f"runhive ÷ MLflow rows/s: **{rh['rows_per_s'] / ml['rows_per_s']:.1f}x**"]
        lines.append("")
    reads = report.get("reads")
    if reads:
        loc, srv = reads["local"], reads["server"]
        lines += [
            f"### Reads: {args.read_runs} runs x {args.read_steps:,} steps, warm (store built in "
            f"{reads['build_s']:.0f} s through one node)",
            "",
            "| through | `Api().runs()` (s) | `history(samples=1000)` of every run (s) | points |",
            "|---|---|---|---|",
            f"| local store | {loc['runs_s']:.2f} | {loc['history_s']:.2f} | {loc['points']:,} |",
            f"| team server | {srv['runs_s']:.2f} | {srv['history_s']:.2f} | {srv['points']:,} |",
            "",
            f"server ÷ local: runs() {srv['runs_s'] / max(loc['runs_s'], 1e-9):.1f}x, history "
            f"{srv['history_s'] / max(loc['history_s'], 1e-9):.1f}x",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
