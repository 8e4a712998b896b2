"""Benchmark worker: one action of one tool in a fresh process, run by that tool's virtualenv python.

    <venv>/bin/python bench/workloads.py TOOL ACTION PARAMS_JSON RESULT_PATH

Writes one JSON object to RESULT_PATH (fsynced, so it survives the SIGKILL of the `kill` workload):
{"ok": true, "version": ..., "metrics": {...}, ...} or {"ok": false, "error": ...}. Library output goes to
stdout/stderr, which bench/run.py keeps in the workload's directory.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import psutil
from benchlib import procs
from benchlib.adapters import Adapter, RunhiveAdapter, make_adapter
from benchlib.stats import latency_summary

Result = dict[str, Any]
_T0 = time.perf_counter()


def make_row(step: int, keys: int) -> dict[str, float]:
    base = 1.0 / (1.0 + step)
    row = {"loss": base + random.random() * 1e-3}
    for k in range(1, keys):
        row[f"m{k}"] = base * k + random.random()
    return row


def write_result(path: str, result: Result) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load(adapter: Adapter) -> tuple[str, float]:
    t0 = time.perf_counter()
    version = adapter.load()
    return version, time.perf_counter() - t0


def action_start(adapter: Adapter, params: dict[str, Any]) -> Result:
    """Cold or warm start: import, init one run, finish (bench/run.py times the whole process)."""
    version, import_s = load(adapter)
    t0 = time.perf_counter()
    run = adapter.init(params["project"], params.get("name", "start"), multi=False)
    init_s = time.perf_counter() - t0
    if params.get("log_one"):
        adapter.log(run, make_row(0, 10), 0)
    t1 = time.perf_counter()
    adapter.finish(run)
    finish_s = time.perf_counter() - t1
    metrics = {"import_s": import_s, "init_s": init_s, "finish_s": finish_s}
    metrics["in_process_s"] = time.perf_counter() - _T0
    return {"version": version, "metrics": metrics}


def _pace(t_start: float, step: int, pace_s: float) -> None:
    target = t_start + (step + 1) * pace_s
    while True:
        left = target - time.perf_counter()
        if left <= 0:
            return
        time.sleep(left if left > 0.002 else 0)


def action_log(adapter: Adapter, params: dict[str, Any], result_path: str) -> Result:
    """One run, `steps` x log() of `keys` floats; optional pacing, CPU accounting, SIGKILL after the loop."""
    steps, keys = int(params["steps"]), int(params.get("keys", 10))
    pace_s = float(params.get("pace_ms", 0.0)) / 1e3
    measure_cpu = bool(params.get("cpu", False))
    version, import_s = load(adapter)
    t0 = time.perf_counter()
    run = adapter.init(params["project"], params.get("name", "r0"), multi=False)
    init_s = time.perf_counter() - t0

    kill = bool(params.get("kill"))
    if kill:
        # Everything the orchestrator needs is written before the loop: after it comes the SIGKILL, at once.
        tree = procs.process_tree()
        descendants = [p.pid for p in tree if p.pid != os.getpid()]
        pre: Result = {"ok": True, "version": version, "metrics": {"import_s": import_s, "init_s": init_s}}
        write_result(result_path, {**pre, "descendants": descendants})

    cpu_before: dict[procs.ProcKey, float] = {}
    cpu_daemon_before: dict[procs.ProcKey, float] = {}
    if measure_cpu:
        daemons = adapter.daemons()
        cpu_before = procs.cpu_snapshot(procs.process_tree(extra=daemons))
        cpu_daemon_before = procs.cpu_snapshot(daemons)
    lat = [0] * steps
    perf_ns = time.perf_counter_ns
    epoch_loop_start = time.time()
    t_loop = time.perf_counter()
    for step in range(steps):
        row = make_row(step, keys)
        a = perf_ns()
        adapter.log(run, row, step)
        lat[step] = perf_ns() - a
        if pace_s:
            _pace(t_loop, step, pace_s)
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
    loop_s = time.perf_counter() - t_loop
    metrics: dict[str, float] = {"import_s": import_s, "init_s": init_s, "loop_s": loop_s}
    metrics.update(latency_summary(lat))

    t_fin = time.perf_counter()
    adapter.finish(run)
    metrics["finish_s"] = time.perf_counter() - t_fin
    metrics["epoch_loop_start"] = epoch_loop_start
    metrics["epoch_finish_end"] = time.time()
    if measure_cpu:
        daemons = adapter.daemons()
        cpu_after = procs.cpu_snapshot(procs.process_tree(extra=daemons))
        metrics["cpu_us_per_step"] = procs.cpu_delta(cpu_before, cpu_after) / steps * 1e6
        if daemons or cpu_daemon_before:
            daemon_after = procs.cpu_snapshot(daemons)
            metrics["cpu_daemon_us_per_step"] = procs.cpu_delta(cpu_daemon_before, daemon_after) / steps * 1e6
    return {"version": version, "metrics": metrics}


def action_multi(adapter: Adapter, params: dict[str, Any]) -> Result:
    """`runs` concurrent runs in one process, `steps` each round-robin, then finish all."""
    n_runs, steps, keys = int(params["runs"]), int(params["steps"]), int(params.get("keys", 10))
    if not adapter.multi_supported:
        return {
            "ok": False,
            "unsupported": True,
            "error": f"{adapter.name}: no concurrent runs in one process",
        }
    version, import_s = load(adapter)
    t0 = time.perf_counter()
    runs = [adapter.init(params["project"], f"r{i}", multi=True) for i in range(n_runs)]
    init_s = time.perf_counter() - t0
    lat = [0] * (n_runs * steps)
    perf_ns = time.perf_counter_ns
    t1 = time.perf_counter()
    i = 0
    for step in range(steps):
        for run in runs:
            row = make_row(step, keys)
            a = perf_ns()
            adapter.log(run, row, step)
            lat[i] = perf_ns() - a
            i += 1
    loop_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    adapter.finish_all(runs)
    finish_s = time.perf_counter() - t2
    metrics = {
        "import_s": import_s,
        "init_all_s": init_s,
        "loop_s": loop_s,
        "finish_all_s": finish_s,
        "wall_s": time.perf_counter() - t0,
    }
    metrics.update(latency_summary(lat))
    return {"version": version, "metrics": metrics, "note": adapter.multi_note}


def action_read(adapter: Adapter, params: dict[str, Any]) -> Result:
    """Rows per run as the tool's own reader sees them."""
    version, _ = load(adapter)
    t0 = time.perf_counter()
    rows = adapter.read_rows(params["project"])
    result: Result = {"version": version, "rows": rows, "metrics": {"read_s": time.perf_counter() - t0}}
    if isinstance(adapter, RunhiveAdapter):
        result["states"] = adapter.read_states(params["project"])
    return result


def action_read_build(adapter: Adapter, params: dict[str, Any]) -> Result:
    """Read workload data: runs [first, first + count) x `steps` rows of one metric, through log()."""
    version, _ = load(adapter)
    first, count, steps = int(params["first"]), int(params["count"]), int(params["steps"])
    t0 = time.perf_counter()
    for i in range(first, first + count):
        run = adapter.init(params["project"], f"r{i:04d}", multi=True)
        for step in range(steps):
            adapter.log(run, {"loss": 1.0 / (1.0 + step) + random.random() * 1e-3}, step)
        adapter.finish(run)
    return {"version": version, "metrics": {"build_s": time.perf_counter() - t0, "rows": count * steps}}


def action_read_query(adapter: Adapter, params: dict[str, Any]) -> Result:
    """runhive read workload: one metric of every run, downsampled to `samples` points per run."""
    if not isinstance(adapter, RunhiveAdapter):
        return {"ok": False, "unsupported": True, "error": "read workload is runhive-only"}
    version, import_s = load(adapter)
    samples = int(params["samples"])
    t0 = time.perf_counter()
    api = adapter.api()
    runs = adapter.api_runs(params["project"], api)
    list_s = time.perf_counter() - t0
    per_run: list[float] = []
    points: list[int] = []
    for run in runs:
        a = time.perf_counter()
        rows = adapter.sampled_history(run, "loss", samples)
        per_run.append(time.perf_counter() - a)
        points.append(len(rows))
    total_s = time.perf_counter() - t0
    metric_s = float("nan")
    if runs and callable(getattr(runs[0], "metric", None)):
        t1 = time.perf_counter()
        for run in runs:
            run.metric("loss", buckets=samples)
        metric_s = time.perf_counter() - t1
    batch_s = float("nan")
    if runs and callable(getattr(api, "metrics", None)):  # one metric of many runs in one call
        t2 = time.perf_counter()
        api.metrics("loss", runs, buckets=samples)
        batch_s = time.perf_counter() - t2
    per_run.sort()
    metrics = {
        "import_s": import_s,
        "list_runs_s": list_s,
        "read_s": total_s,
        "metric_read_s": metric_s,
        "metrics_batch_s": batch_s,
        "runs": float(len(runs)),
        "per_run_p50_ms": per_run[len(per_run) // 2] * 1e3 if per_run else float("nan"),
        "per_run_max_ms": per_run[-1] * 1e3 if per_run else float("nan"),
        "points_min": float(min(points)) if points else 0.0,
        "points_max": float(max(points)) if points else 0.0,
    }
    return {"version": version, "metrics": metrics}


def main(argv: list[str]) -> int:
    tool, action, params_json, result_path = argv[1:5]
    params: dict[str, Any] = json.loads(params_json)
    random.seed(params.get("seed", 0))
    adapter = make_adapter(tool)
    actions: dict[str, Callable[[], Result]] = {
        "start": lambda: action_start(adapter, params),
        "log": lambda: action_log(adapter, params, result_path),
        "multi": lambda: action_multi(adapter, params),
        "read": lambda: action_read(adapter, params),
        "read_build": lambda: action_read_build(adapter, params),
        "read_query": lambda: action_read_query(adapter, params),
    }
    try:
        result = actions[action]()
        result.setdefault("ok", True)
    except BaseException as exc:  # report everything, including SystemExit from a library
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    result["pid"] = os.getpid()
    result["rss_end_mb"] = psutil.Process().memory_info().rss / 2**20
    write_result(result_path, result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
