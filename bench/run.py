"""Comparative benchmark: runhive against wandb (offline), trackio (local), MLflow (SQLite, sync and async).

    .venv/bin/python bench/run.py [--tools runhive,wandb,...] [--workloads log,kill,...] [--reps N] [--quick]
                                  [--size log_steps=5000 ...] [--out bench/RESULTS.md] [--json results.json]

Every measurement is a fresh process of the tool's own virtualenv running bench/workloads.py. Tools are
interleaved and their order rotated every rep; one workload runs at a time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import psutil
from benchlib import procs
from benchlib.envs import BENCH_DIR, TOOLS, Tool, ensure_venv, tool_env
from benchlib.report import Measurement, Metric, WorkloadInfo, render_workload
from benchlib.stats import median

WORKLOADS_PY = BENCH_DIR / "workloads.py"
CEILING_PY = BENCH_DIR / "grpc_ceiling.py"
FLOOD_PY = BENCH_DIR / "ingest_flood.py"
DEFAULT_TOOLS = ["runhive", "wandb", "trackio", "mlflow-sync", "mlflow-async"]
RUNHIVE_ONLY = {"ingest", "read"}
DEFAULT_RECORD_BYTES = 98  # wire bytes per row of a block of 10-float rows (+ _step, _runtime, _timestamp)


@dataclass
class Sizes:
    keys: int = 10
    log_steps: int = 10_000
    multi_runs: int = 20
    multi_steps: int = 1_000
    procs: int = 8
    procs_steps: int = 2_000
    ingest_clients: int = 4
    ingest_steps: int = 25_000
    ingest_batch: int = 0  # 0: the runhive client's batch_max_records
    ceiling_steps: int = 250_000  # records per client for the wire-level flood and the raw grpcio ceiling
    kill_steps: int = 2_000
    kill_pace_ms: float = 1.5
    read_runs: int = 100
    read_steps: int = 100_000
    read_samples: int = 1_000
    read_build_budget_s: float = 900.0
    timeout_s: float = 1_800.0


QUICK_SIZES: dict[str, Any] = {
    "log_steps": 2_000,
    "multi_steps": 200,
    "procs_steps": 500,
    "ingest_clients": 2,
    "ingest_steps": 5_000,
    "ceiling_steps": 100_000,
    "kill_steps": 1_000,
    "read_runs": 5,
    "read_steps": 10_000,
    "read_build_budget_s": 300.0,
    "timeout_s": 900.0,
}


START_LOAD = ", ".join(f"{x:.1f}" for x in os.getloadavg())


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------------------------
# Workers


@dataclass
class WorkerResult:
    ok: bool
    data: dict[str, Any]
    error: str | None
    wall_s: float
    returncode: int
    warning: str | None = None  # a traceback the worker printed (a library's background thread failing)

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.data.get("metrics", {}))


@dataclass
class Worker:
    popen: subprocess.Popen[bytes]
    result_path: Path
    output_path: Path
    started: float
    expect_kill: bool = False

    def wait(self, timeout: float) -> WorkerResult:
        timed_out = False
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            rc = self.popen.wait()
        finally:
            procs.PROTECTED_PIDS.discard(self.popen.pid)
        wall = time.perf_counter() - self.started
        data: dict[str, Any] = {}
        if self.result_path.exists():
            with contextlib.suppress(ValueError):
                data = json.loads(self.result_path.read_text())
        ok = bool(data.get("ok")) and not timed_out
        if ok and rc != 0 and not (self.expect_kill and rc == -signal.SIGKILL):
            ok = False
            data.setdefault("error", f"exit code {rc}")
        error = None
        if not ok:
            if timed_out:
                error = f"timed out after {timeout:.0f} s"
            elif data.get("error"):
                error = short_error(str(data["error"]))
            else:
                error = f"exit code {rc}, no result; output tail: {self._tail()}"
        return WorkerResult(ok, data, error, wall, rc, self._traceback())

    def _traceback(self) -> str | None:
        """The exception line of the last traceback in the worker's output, if any."""
        try:
            text = self.output_path.read_text(errors="replace")
        except OSError:
            return None
        start = text.rfind("Traceback (most recent call last)")
        if start < 0:
            return None
        lines = [ln for ln in text[start:].splitlines()[1:] if ln and not ln.startswith((" ", "\t"))]
        return short_error(lines[0] if lines else "traceback")

    def _tail(self, limit: int = 300) -> str:
        try:
            text = self.output_path.read_text(errors="replace")
        except OSError:
            return ""
        return " ".join(text[-limit:].split())


class Invocation:
    """One tool in one workload rep: its own directory, store and (for runhive) daemon socket directory."""

    def __init__(self, ctx: Context, tool: Tool, workload: str, rep: int | str) -> None:
        self.ctx, self.tool = ctx, tool
        self.dir = ctx.root / workload / tool.name / f"rep{rep}"
        self.dir.mkdir(parents=True, exist_ok=True)
        # Short, private path: Unix socket paths are limited to 107 bytes.
        self.service_dir = tempfile.mkdtemp(prefix="rhb-")
        os.chmod(self.service_dir, 0o700)
        self.env = tool_env(tool, self.dir, self.service_dir)
        self.seq = 0
        self.notes: list[str] = []

    # -- workers
    def spawn(self, action: str, params: dict[str, Any], tag: str | None = None) -> Worker:
        self.seq += 1
        tag = tag or f"{self.seq:02d}-{action}"
        result_path = self.dir / f"{tag}.json"
        output_path = self.dir / f"{tag}.out"
        result_path.unlink(missing_ok=True)
        cmd = [
            str(self.tool.python),
            str(WORKLOADS_PY),
            self.tool.name,
            action,
            json.dumps(params),
            str(result_path),
        ]
        with open(output_path, "wb") as out, procs.SPAWN_LOCK:
            started = time.perf_counter()
            popen = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.dir,
                start_new_session=True,
            )
            procs.PROTECTED_PIDS.add(popen.pid)
        return Worker(popen, result_path, output_path, started, expect_kill=bool(params.get("kill")))

    def run(self, action: str, params: dict[str, Any], tag: str | None = None) -> WorkerResult:
        return self.spawn(action, params, tag).wait(self.ctx.sizes.timeout_s)

    def read(self, project: str) -> tuple[dict[str, int] | None, WorkerResult]:
        result = self.run("read", {"project": project})
        rows = result.data.get("rows") if result.ok else None
        return (dict(rows) if rows is not None else None), result

    # -- processes
    def daemons(self) -> list[psutil.Process]:
        if self.tool.family != "runhive":
            return []
        return procs.find_runhive_daemons(self.service_dir)

    def stop_daemon(self) -> None:
        daemons = self.daemons()
        if not daemons:
            return
        cli = self.tool.venv / "bin" / "runhive"
        if cli.exists():
            with contextlib.suppress(OSError):
                run_protected([str(cli), "service", "stop"], env=self.env, cwd=self.dir, timeout=30)
        alive = procs.wait_gone(daemons, 10.0)
        if alive:
            self.notes.append("daemon did not stop on `runhive service stop`; killed")
            procs.terminate(alive)

    def close(self) -> None:
        self.stop_daemon()
        me = psutil.Process()
        leftovers = [p for p in me.children(recursive=True) if p.pid not in procs.PROTECTED_PIDS]
        alive = procs.wait_gone(leftovers, 10.0)
        if alive:
            names = sorted({_proc_name(p) for p in alive})
            self.notes.append(f"left running after the workload, terminated: {', '.join(names)}")
            procs.terminate(alive)
        shutil.rmtree(self.service_dir, ignore_errors=True)
        if not self.ctx.keep_data:
            shutil.rmtree(self.dir / "data", ignore_errors=True)


def short_error(text: str, limit: int = 240) -> str:
    """First line-ish of an error: SQL statements and long reprs cut."""
    text = " ".join(text.split("[SQL:")[0].split())
    text = re.sub(r"'[0-9a-f]{12}'", "'<rev>'", text)  # alembic revision ids, so equal failures group
    return text if len(text) <= limit else text[: limit - 1] + "..."


def run_protected(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> int | None:
    """subprocess.run() that the zombie reaper leaves alone; output discarded; None on timeout (killed)."""
    with procs.SPAWN_LOCK:
        popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.PROTECTED_PIDS.add(popen.pid)
    try:
        return popen.wait(timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()
        return None
    finally:
        procs.PROTECTED_PIDS.discard(popen.pid)


def _proc_name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return str(proc.pid)


@dataclass
class Context:
    root: Path
    sizes: Sizes
    keep_data: bool
    ingest_batch: int
    record_bytes: int
    shared: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def invocation(self, tool: Tool, workload: str, rep: int | str) -> Iterator[Invocation]:
        inv = Invocation(self, tool, workload, rep)
        try:
            yield inv
        finally:
            inv.close()


# ------------------------------------------------------------------------------------------------------------
# Workloads. Each returns Measurements without workload / rep / order (filled in by the main loop).


def measurement(tool: str, result: WorkerResult | None = None, **metrics: float) -> Measurement:
    m = Measurement(workload="", tool=tool, rep=0, order=0, ok=True)
    if result is not None:
        m.ok, m.error = result.ok, result.error
        m.version = result.data.get("version")
        if result.warning and result.ok:
            m.notes.append(f"worker printed a traceback: {result.warning}")
        m.metrics.update({k: float(v) for k, v in result.metrics.items() if not k.startswith("epoch_")})
    m.metrics.update(metrics)
    return m


def check_rows(
    inv: Invocation, m: Measurement, project: str, expected: dict[str, int]
) -> dict[str, int] | None:
    """Read the stored data back with the tool's own reader; set rows_lost over the expected runs."""
    rows, result = inv.read(project)
    if rows is None:
        m.notes.append(f"read-back failed: {result.error}")
        return None
    stored = sum(min(rows.get(name, 0), n) for name, n in expected.items())
    m.metrics["rows_lost"] = float(sum(expected.values()) - stored)
    missing = [name for name in expected if name not in rows]
    if missing and len(missing) < len(expected):
        m.notes.append(f"runs missing on read-back: {len(missing)} of {len(expected)}")
    states = result.data.get("states") or {}
    odd = sorted({s for name, s in states.items() if name in expected and s != "finished"})
    if odd:
        m.notes.append(f"run states after finish(): {', '.join(odd)}")
    return rows


def wl_start(ctx: Context, inv: Invocation, warm: bool) -> list[Measurement]:
    project = "warm" if warm else "cold"
    if warm:
        prep = inv.run("start", {"project": project, "name": "prep", "log_one": True})
        if not prep.ok:
            return [measurement(inv.tool.name, prep)]
    # runhive's daemon is looked for from here, before and after: scanning processes inside the measured
    # one would add its cost to runhive's figures only.
    runhive = inv.tool.family == "runhive"
    before = [p.pid for p in inv.daemons()] if runhive else []
    result = inv.run("start", {"project": project, "name": "start"})
    after = [p.pid for p in inv.daemons()] if runhive else []
    m = measurement(inv.tool.name, result, proc_wall_s=result.wall_s)
    if result.ok and runhive:
        if warm and not before:
            m.notes.append(
                "no daemon was running before the warm init (daemon exited after the first process)"
            )
        if not warm and before:
            m.notes.append("a daemon was already running before the cold init")
        if not after:
            m.notes.append("no daemon found after init (not detected by socket dir)")
    return [m]


def wl_log(ctx: Context, inv: Invocation) -> list[Measurement]:
    s = ctx.sizes
    result = inv.run(
        "log", {"project": "log", "name": "r0", "steps": s.log_steps, "keys": s.keys, "cpu": True}
    )
    m = measurement(inv.tool.name, result)
    if result.ok:
        check_rows(inv, m, "log", {"r0": s.log_steps})
    return [m]


def wl_multi(ctx: Context, inv: Invocation) -> list[Measurement]:
    s = ctx.sizes
    params = {"project": "multi", "runs": s.multi_runs, "steps": s.multi_steps, "keys": s.keys}
    result = inv.run("multi", params)
    m = measurement(inv.tool.name, result)
    if result.ok:
        check_rows(inv, m, "multi", {f"r{i}": s.multi_steps for i in range(s.multi_runs)})
    return [m]


class RssSampler(threading.Thread):
    """Samples RSS of all our descendants plus the runhive daemon every `interval` seconds."""

    def __init__(self, inv: Invocation, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.inv, self.interval = inv, interval
        self.stop_event = threading.Event()
        self.peak_total = 0
        self.peaks: dict[procs.ProcKey, int] = {}
        self.samples = 0

    def run(self) -> None:
        me = psutil.Process()
        daemons: list[psutil.Process] = []
        last_scan = 0.0
        while not self.stop_event.is_set():
            if self.inv.tool.family == "runhive" and time.monotonic() - last_scan > 0.5:
                daemons, last_scan = self.inv.daemons(), time.monotonic()
            tree = [p for p in procs.process_tree(me, daemons) if p.pid != me.pid]
            snap = procs.rss_snapshot(tree)
            self.peak_total = max(self.peak_total, sum(snap.values()))
            for key, rss in snap.items():
                self.peaks[key] = max(self.peaks.get(key, 0), rss)
            self.samples += 1
            self.stop_event.wait(self.interval)

    def finish(self) -> None:
        self.stop_event.set()
        self.join()


def wl_procs(ctx: Context, inv: Invocation, fresh: bool) -> list[Measurement]:
    s = ctx.sizes
    if not fresh:
        prep = inv.run("start", {"project": "procs", "name": "prep", "log_one": True})
        if not prep.ok:
            return [measurement(inv.tool.name, prep)]
        inv.stop_daemon()  # the store exists, the daemon (if any) starts cold with the burst
    sampler = RssSampler(inv)
    sampler.start()
    t0 = time.perf_counter()
    params = {"project": "procs", "steps": s.procs_steps, "keys": s.keys}
    workers = [inv.spawn("log", {**params, "name": f"p{i}"}, tag=f"proc{i}") for i in range(s.procs)]
    results = [w.wait(s.timeout_s) for w in workers]
    wall = time.perf_counter() - t0
    sampler.finish()
    good = [r for r in results if r.ok]
    m = measurement(
        inv.tool.name,
        None,
        wall_s=wall,
        errors=float(len(results) - len(good)),
        peak_rss_total_mb=sampler.peak_total / 2**20,
        rss_sum_of_peaks_mb=sum(sampler.peaks.values()) / 2**20,
    )
    m.version = next((r.data.get("version") for r in results if r.data.get("version")), None)
    if good:
        m.metrics["log_mean_us"] = median([r.metrics["log_mean_us"] for r in good])
        m.metrics["log_p99_us"] = max(r.metrics["log_p99_us"] for r in good)
    warnings = sorted({r.warning for r in results if r.ok and r.warning})
    m.notes.extend(f"a worker printed a traceback: {w}" for w in warnings)
    errors = sorted({r.error or "" for r in results if not r.ok})
    m.notes.extend(
        f"{sum(1 for r in results if r.error == e)} of {len(results)} processes failed: {e}" for e in errors
    )
    check_rows(inv, m, "procs", {f"p{i}": s.procs_steps for i in range(s.procs)})
    return [m]


def wl_ingest(ctx: Context, inv: Invocation) -> list[Measurement]:
    """e): the log()-driven flood, the wire-level flood (pre-built Append requests) on a fresh daemon, and the
    raw grpcio ceiling with the same bytes; each rep's rows get their share of that rep's ceilings."""
    out = [ingest_log(ctx, inv)]
    # The wire row runs in an invocation of its own, whose clean-up would take this daemon for a leftover.
    inv.stop_daemon()
    rep = inv.dir.name.removeprefix("rep")
    with ctx.invocation(inv.tool, "ingest", f"{rep}-wire") as wire_inv:
        wire = ingest_wire(ctx, wire_inv)
    wire.notes.extend(wire_inv.notes)
    out.append(wire)
    ceilings = grpc_ceiling(ctx, inv)
    out.extend(ceilings)
    for mode in ("stream", "unary"):
        ceiling = next((c for c in ceilings if c.tool == f"grpc-raw {mode}" and c.ok), None)
        if ceiling is None:
            continue
        for m in (out[0], wire):
            if m.ok and "records_per_s" in m.metrics:
                m.metrics[f"pct_{mode}"] = 100 * m.metrics["records_per_s"] / ceiling.metrics["records_per_s"]
    return out


def ingest_log(ctx: Context, inv: Invocation) -> Measurement:
    s = ctx.sizes
    params = {"project": "ingest", "steps": s.ingest_steps, "keys": s.keys}
    workers = [
        inv.spawn("log", {**params, "name": f"c{i}"}, tag=f"client{i}") for i in range(s.ingest_clients)
    ]
    results = [w.wait(s.timeout_s) for w in workers]
    good = [r for r in results if r.ok]
    if len(good) < len(results):
        return measurement(inv.tool.name, next(r for r in results if not r.ok))
    start = min(r.data["metrics"]["epoch_loop_start"] for r in good)
    end = max(r.data["metrics"]["epoch_finish_end"] for r in good)
    m = measurement(inv.tool.name, None, window_s=end - start)
    m.version = good[0].data.get("version")
    m.metrics["log_p50_us"] = median([r.metrics["log_p50_us"] for r in good])
    m.notes.extend(sorted({f"a client printed a traceback: {r.warning}" for r in good if r.warning}))
    rows = check_rows(inv, m, "ingest", {f"c{i}": s.ingest_steps for i in range(s.ingest_clients)})
    durable = sum(rows.values()) if rows else 0
    m.metrics["records_per_s"] = durable / (end - start)
    return m


def _spawn_clients(
    inv: Invocation, argv: Callable[[int, Path], list[str]], tag: str
) -> tuple[list[tuple[subprocess.Popen[bytes], Path]], Path]:
    """ingest_clients processes of the runhive venv's python, each told its result file; they start sending
    together once GO exists (ingest_flood.wait_for_go)."""
    python = str(TOOLS["runhive"].python)
    go = inv.dir / f"{tag}.go"
    go.unlink(missing_ok=True)
    clients = []
    for i in range(inv.ctx.sizes.ingest_clients):
        result = inv.dir / f"{tag}-{i}.json"
        result.unlink(missing_ok=True)
        with open(inv.dir / f"{tag}-{i}.out", "wb") as out, procs.SPAWN_LOCK:
            popen = subprocess.Popen(
                [python, *argv(i, go), str(result)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=inv.env,
                cwd=inv.dir,
            )
            procs.PROTECTED_PIDS.add(popen.pid)
        clients.append((popen, result))
    return clients, go


def _release_and_wait(
    clients: list[tuple[subprocess.Popen[bytes], Path]], go: Path, timeout: float, on_go: Callable[[], None]
) -> list[int | None]:
    """Wait until every client is ready (or one died), create GO, wait for them all; exit codes (None: killed
    after the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(Path(f"{r}.ready").exists() for _, r in clients) or any(
            p.poll() is not None for p, _ in clients
        ):
            break
        time.sleep(0.01)
    on_go()
    go.write_text("go")
    rcs: list[int | None] = []
    for popen, _ in clients:
        try:
            rcs.append(popen.wait(max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
            rcs.append(None)
        procs.PROTECTED_PIDS.discard(popen.pid)
    return rcs


def _window(
    label: str, clients: list[tuple[subprocess.Popen[bytes], Path]], rcs: list[int | None]
) -> Measurement:
    """records/s over the window from the first client's first send to the last client's end."""
    data = [json.loads(f.read_text()) if f.exists() else {} for _, f in clients]
    if any(rcs) or not all(d.get("ok") for d in data):
        why = next((d["error"] for d in data if d.get("error")), None)
        return Measurement("", label, 0, 0, False, error=why or f"client exit codes {rcs}")
    start = min(d["epoch_start"] for d in data)
    end = max(d["epoch_end"] for d in data)
    total = sum(d["records"] for d in data)
    m = measurement(label, None, records_per_s=total / (end - start), window_s=end - start)
    m.metrics["bytes_per_record"] = sum(d["wire_bytes"] for d in data) / total
    m.version = data[0].get("version")
    return m


def ingest_wire(ctx: Context, inv: Invocation) -> Measurement:
    """runhive-wire: ingest_flood.py clients send pre-built Append requests to a fresh daemon; rows durable in
    the store are read back; the daemon's CPU over the window is reported per row."""
    s = ctx.sizes
    label = f"{inv.tool.name}-wire"
    clients, go = _spawn_clients(
        inv,
        lambda i, go: [
            str(FLOOD_PY),
            inv.service_dir,
            "ingest-wire",
            f"w{i}",
            str(s.ceiling_steps),
            str(ctx.ingest_batch),
            str(s.keys),
            str(go),
        ],
        "wire",
    )
    daemon: list[psutil.Process] = []
    cpu: list[float] = []

    def on_go() -> None:
        daemon.extend(inv.daemons())
        cpu.append(sum(procs.cpu_snapshot(daemon).values()))

    rcs = _release_and_wait(clients, go, s.timeout_s, on_go)
    cpu_after = sum(procs.cpu_snapshot(daemon).values())
    m = _window(label, clients, rcs)
    if not m.ok:
        return m
    total = s.ceiling_steps * s.ingest_clients
    if daemon:
        m.metrics["daemon_cpu_us_per_record"] = (cpu_after - cpu[0]) / total * 1e6
    rows = check_rows(inv, m, "ingest-wire", {f"w{i}": s.ceiling_steps for i in range(s.ingest_clients)})
    durable = sum(rows.values()) if rows else 0
    m.metrics["records_per_s"] = durable / m.metrics["window_s"]
    return m


def grpc_ceiling(ctx: Context, inv: Invocation) -> list[Measurement]:
    """Raw grpcio over a Unix socket: the same serialized Batch requests, client count and record count as
    the wire-level flood, client-streaming and unary."""
    s = ctx.sizes
    sock = os.path.join(inv.service_dir, "ceiling.sock")
    ready = inv.dir / "ceiling.ready"
    python = str(TOOLS["runhive"].python)
    with open(inv.dir / "ceiling-server.out", "wb") as out, procs.SPAWN_LOCK:
        server = subprocess.Popen(
            [python, str(CEILING_PY), "serve", sock, str(ready)], stdout=out, stderr=subprocess.STDOUT
        )
        procs.PROTECTED_PIDS.add(server.pid)
    out_list: list[Measurement] = []
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.05)
        for mode in ("stream", "unary"):
            label = f"grpc-raw {mode}"
            if not ready.exists():
                out_list.append(Measurement("", label, 0, 0, False, error="ceiling server did not start"))
                continue
            clients, go = _spawn_clients(
                inv,
                lambda i, go, mode=mode: [  # type: ignore[misc]
                    str(CEILING_PY),
                    "client",
                    sock,
                    mode,
                    str(s.ceiling_steps),
                    str(ctx.ingest_batch),
                    str(s.keys),
                    str(go),
                ],
                f"ceiling-{mode}",
            )
            rcs = _release_and_wait(clients, go, s.timeout_s, lambda: None)
            m = _window(label, clients, rcs)
            m.version = grpc_version()
            out_list.append(m)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        procs.PROTECTED_PIDS.discard(server.pid)
    return out_list


def grpc_version() -> str:
    try:
        import grpc  # the orchestrator normally runs in the runhive venv, which has grpcio
    except ImportError:
        return "grpcio ?"
    return f"grpcio {grpc.__version__}"


def wl_kill(ctx: Context, inv: Invocation, paced: bool) -> list[Measurement]:
    s = ctx.sizes
    params: dict[str, Any] = {
        "project": "kill",
        "name": "r0",
        "steps": s.kill_steps,
        "keys": s.keys,
        "kill": True,
    }
    if paced:
        params["pace_ms"] = s.kill_pace_ms
    result = inv.run("log", params)
    m = measurement(inv.tool.name, result)
    if not result.ok:
        return [m]
    # Helpers of the killed process (wandb-core) notice the death and flush on their own: let them finish.
    daemons = {p.pid for p in inv.daemons()}
    helpers = []
    for pid in result.data.get("descendants", []):
        with contextlib.suppress(psutil.Error):
            if pid not in daemons:
                helpers.append(psutil.Process(pid))
    procs.wait_gone(helpers, 30.0)
    rows: dict[str, int] | None = None
    read: WorkerResult | None = None
    last: int | None = None
    attempts = 8 if inv.tool.family == "runhive" else 1  # the daemon may still be applying what it received
    for attempt in range(attempts):
        rows, read = inv.read("kill")
        if rows is None:
            m.notes.append(f"read-back failed: {read.error}")
            break
        total = rows.get("r0", 0)
        settled = read.data.get("states", {}).get("r0", "") != "running"
        if settled and (total >= s.kill_steps or total == last):
            break
        last = total
        if attempt < attempts - 1:
            time.sleep(1.0)
    if read is not None and read.data.get("states"):
        m.notes.append(f"run state after SIGKILL: {read.data['states'].get('r0', '?')}")
    if rows is not None:
        kept = rows.get("r0", 0)
        m.metrics["rows_kept"] = float(kept)
        m.metrics["rows_lost"] = float(s.kill_steps - kept)
    return [m]


def read_setup(ctx: Context) -> None:
    """Build the read workload's store once: runs x steps of one metric through the public API."""
    s = ctx.sizes
    inv = Invocation(ctx, TOOLS["runhive"], "read", "data")
    ctx.shared["read_inv"] = inv
    per_chunk = max(1, math.ceil(s.read_runs / 10))
    first, built, build_s = 0, 0, 0.0
    log(f"read: building {s.read_runs} runs x {s.read_steps:,} steps (budget {s.read_build_budget_s:.0f} s)")
    while first < s.read_runs:
        # Two builders at a time: the machine has two cores and the daemon needs one of them too.
        chunks = []
        for _ in range(2):
            if first >= s.read_runs:
                break
            count = min(per_chunk, s.read_runs - first)
            chunks.append((first, count))
            first += count
        t0 = time.perf_counter()
        workers = [
            inv.spawn("read_build", {"project": "read", "first": a, "count": n, "steps": s.read_steps})
            for a, n in chunks
        ]
        results = [w.wait(s.timeout_s) for w in workers]
        build_s += time.perf_counter() - t0
        bad = [r for r in results if not r.ok]
        if bad:
            ctx.shared["read_error"] = f"building the store failed: {bad[0].error}"
            return
        built += sum(n for _, n in chunks)
        projected = build_s / built * s.read_runs
        if projected > s.read_build_budget_s and built < s.read_runs:
            ctx.shared["read_error"] = (
                f"skipped: building {s.read_runs} runs x {s.read_steps:,} steps through log() would take "
                f"~{projected:.0f} s (budget {s.read_build_budget_s:.0f} s; runhive offers no bulk-load "
                "path); lower read_runs / read_steps with --size"
            )
            return
    ctx.shared["read_build_s"] = build_s
    log(f"read: store built in {build_s:.1f} s")
    # The daemon indexes metric chunks after the rows land; reads are correct before that, but this workload
    # measures the settled store, so wait for the index (the time it takes is reported with the build).
    t0 = time.perf_counter()
    store = Path(inv.env["RUNHIVE_DATA_DIR"]) / "runhive.db"
    deadline = time.monotonic() + s.read_build_budget_s
    while time.monotonic() < deadline and _index_lag(store):
        time.sleep(0.2)
    ctx.shared["read_index_s"] = time.perf_counter() - t0
    log(f"read: metric index settled {ctx.shared['read_index_s']:.1f} s after the build")


def _index_lag(store: Path) -> int:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("SELECT COUNT(*) FROM runs WHERE indexed_rows < history_rows").fetchone()[0])
    finally:
        db.close()


def wl_read(ctx: Context, inv_unused: Invocation | None) -> list[Measurement]:
    s = ctx.sizes
    if "read_error" in ctx.shared:
        return [Measurement("", "runhive", 0, 0, False, error=str(ctx.shared["read_error"]))]
    inv: Invocation = ctx.shared["read_inv"]
    result = inv.run("read_query", {"project": "read", "samples": s.read_samples})
    m = measurement("runhive", result)
    if result.ok:
        if m.metrics.get("runs", 0) != s.read_runs:
            m.notes.append(
                f"Api().runs() returned {m.metrics.get('runs', 0):.0f} runs, expected {s.read_runs}"
            )
        if m.metrics.get("points_max", 0) > s.read_samples:
            m.notes.append(f"history(samples={s.read_samples}) returned more points than asked")
        m.metrics["build_s"] = float(ctx.shared.get("read_build_s", math.nan))
        m.metrics["index_settle_s"] = float(ctx.shared.get("read_index_s", math.nan))
    return [m]


def read_teardown(ctx: Context) -> None:
    inv = ctx.shared.pop("read_inv", None)
    if inv is not None:
        inv.close()


# ------------------------------------------------------------------------------------------------------------
# Registry of workloads


@dataclass(frozen=True)
class Workload:
    info: WorkloadInfo
    run: Callable[[Context, Invocation], list[Measurement]]
    runhive_only: bool = False
    setup: Callable[[Context], None] | None = None
    teardown: Callable[[Context], None] | None = None
    shared_invocation: bool = False


def workloads(s: Sizes, batch: int, record_bytes: int) -> dict[str, Workload]:
    rows_lost = Metric("rows_lost", "rows lost", integer=True, ratio=False)
    lat = (Metric("log_p50_us", "log() p50 µs"), Metric("log_p99_us", "p99 µs"))
    start_metrics = (
        Metric("proc_wall_s", "process wall s"),
        Metric("import_s", "import s"),
        Metric("init_s", "init() s"),
        Metric("finish_s", "finish() s"),
    )
    procs_metrics = (
        Metric("wall_s", "wall s"),
        Metric("errors", "failed procs", integer=True, ratio=False),
        Metric("peak_rss_total_mb", "peak Σ RSS MiB"),
        Metric("rss_sum_of_peaks_mb", "Σ per-process peak RSS MiB"),
        Metric("log_mean_us", "log() mean µs (median proc)"),
        Metric("log_p99_us", "log() p99 µs (worst proc)"),
        rows_lost,
    )
    procs_title = (
        f"d) {s.procs} processes started together, 1 run x {s.procs_steps:,} steps of {s.keys} floats each"
    )
    procs_note = (
        "Wall from the first spawn to the last exit (imports included). RSS sampled every 100 ms over every "
        "process of the tree plus the runhive daemon: peak of the sum, and the sum of each process's peak."
    )
    kill_metrics = (Metric("rows_kept", "rows kept", better="higher", integer=True, ratio=False), rows_lost)
    kill_note = (
        "The logging process SIGKILLs itself right after its last log() (nothing else runs in between; "
        "latencies are in b). Helpers it started (wandb-core) are left to exit on their own, then each "
        "tool's reader counts the rows. The page cache survives a SIGKILL: this is not a power-cut test."
    )
    table = [
        Workload(
            WorkloadInfo(
                "cold",
                "a) Cold start: fresh process, import, init() one run, finish(), exit (no daemon running)",
                start_metrics,
                "Process wall is spawn to exit as seen by the orchestrator, including interpreter start and "
                "exit hooks.",
            ),
            lambda ctx, inv: wl_start(ctx, inv, warm=False),
        ),
        Workload(
            WorkloadInfo(
                "warm",
                "a) Warm start: a second process on the same store (runhive's daemon already up)",
                (
                    Metric("init_s", "init() s"),
                    Metric("proc_wall_s", "process wall s"),
                    Metric("import_s", "import s"),
                ),
                "A first process (not measured) creates the store and, for runhive, starts the daemon.",
            ),
            lambda ctx, inv: wl_start(ctx, inv, warm=True),
        ),
        Workload(
            WorkloadInfo(
                "log",
                f"b) One run, {s.log_steps:,} x log() of {s.keys} floats",
                (
                    *lat,
                    Metric("log_p999_us", "p99.9 µs"),
                    Metric("log_mean_us", "mean µs"),
                    Metric("cpu_us_per_step", "CPU µs/step (tree + daemon)"),
                    Metric("finish_s", "finish() s"),
                    rows_lost,
                ),
                "Latency is perf_counter_ns around each log() call. CPU is user+system time of the process, "
                "its children (wandb-core) and runhive's daemon, from after init() to after finish(), per "
                "step.",
            ),
            wl_log,
        ),
        Workload(
            WorkloadInfo(
                "multi",
                f"c) {s.multi_runs} concurrent runs in one process, {s.multi_steps:,} steps each "
                "round-robin, then finish all",
                (
                    Metric("wall_s", "wall s"),
                    Metric("init_all_s", "init all s"),
                    Metric("loop_s", "loop s"),
                    Metric("finish_all_s", "finish all s"),
                    *lat,
                    rows_lost,
                ),
                "runhive and wandb use reinit='create_new'; trackio returns independent Run objects from "
                "init(); MLflow uses MlflowClient.create_run / log_batch / set_terminated (the fluent API "
                "nests runs).",
            ),
            wl_multi,
        ),
        Workload(
            WorkloadInfo("procs", procs_title + " (store pre-created)", procs_metrics, procs_note),
            lambda ctx, inv: wl_procs(ctx, inv, fresh=False),
        ),
        Workload(
            WorkloadInfo("procs_fresh", procs_title + " (fresh store)", procs_metrics, procs_note),
            lambda ctx, inv: wl_procs(ctx, inv, fresh=True),
        ),
        Workload(
            WorkloadInfo(
                "ingest",
                f"e) Daemon ingest: {s.ingest_clients} client processes flooding",
                (
                    Metric("records_per_s", "records/s", better="higher", ratio=False),
                    Metric("pct_stream", "% of grpc-raw stream", better="higher", ratio=False),
                    Metric("pct_unary", "% of grpc-raw unary", better="higher", ratio=False),
                    Metric("window_s", "window s", ratio=False),
                    Metric("daemon_cpu_us_per_record", "daemon CPU µs/record", ratio=False),
                    Metric("bytes_per_record", "wire B/record", better="", ratio=False),
                    Metric("log_p50_us", "log() p50 µs", ratio=False),
                    rows_lost,
                ),
                "Four rows per rep, in this order. **runhive**: the whole client stack: "
                f"{s.ingest_clients} processes x {s.ingest_steps:,} `run.log()` of {s.keys} floats, rows durable "
                "in the store (read back) over the window from the first client's loop start to the last "
                "`finish()`; this row carries the 100k records/s target. **runhive-wire**: the transport and "
                f"the daemon only (`bench/ingest_flood.py`): {s.ingest_clients} processes, one run each, send "
                f"{s.ceiling_steps:,} rows each as the client's sender encodes them (blocks of {batch:,} rows, "
                f"{record_bytes} B/row on the wire), pre-built before the window, through runhive's client "
                "transport, one `Append` at a time, each acked once fsynced in the WAL; the window ends when "
                "`FinishRun` says every row is in the store (read back). `log()` and the client's column "
                "encoding are not in it; the daemon's deferred metric index may still be behind at the end. "
                "Fresh daemon and store. **grpc-raw stream / unary**: a generic grpcio handler on a Unix "
                "socket that counts and drops the same serialized requests, same clients and rows; stream: one "
                "client-streaming call per client; unary: one call per batch, like Append. All clients of a "
                "row start together (a start barrier). % columns: records/s over the ceiling of the same rep.",
            ),
            wl_ingest,
            runhive_only=True,
        ),
        Workload(
            WorkloadInfo(
                "kill",
                f"f) SIGKILL right after the loop: {s.kill_steps:,} steps, unpaced",
                kill_metrics,
                kill_note,
            ),
            lambda ctx, inv: wl_kill(ctx, inv, paced=False),
        ),
        Workload(
            WorkloadInfo(
                "kill_paced",
                f"f) SIGKILL right after the loop: {s.kill_steps:,} steps paced at {s.kill_pace_ms} ms/step",
                kill_metrics,
                kill_note,
            ),
            lambda ctx, inv: wl_kill(ctx, inv, paced=True),
        ),
        Workload(
            WorkloadInfo(
                "read",
                f"g) Read path: {s.read_runs} runs x {s.read_steps:,} steps, one metric downsampled to "
                f"{s.read_samples:,} points per run",
                (
                    Metric("read_s", "history() all runs s"),
                    Metric("metric_read_s", "run.metric() all runs s"),
                    Metric("metrics_batch_s", "Api.metrics() one call s"),
                    Metric("list_runs_s", "Api().runs() s"),
                    Metric("per_run_p50_ms", "per run p50 ms"),
                    Metric("per_run_max_ms", "per run max ms"),
                    Metric("points_max", "points per run", better="", integer=True, ratio=False),
                    Metric("build_s", "store build s (once)", better="", ratio=False),
                    Metric("index_settle_s", "index settled s after build", better="", ratio=False),
                ),
                "`runhive.Api().runs(project)` then `run.history(keys=['loss'], samples=N)` for every run, "
                "in a fresh process with the daemon up; per-run figures are for history(). Also timed: "
                "runhive's `run.metric('loss', buckets=N)` per run and `Api().metrics('loss', runs, buckets=N)` "
                "in one call (min/max/last buckets for charts), where they exist. "
                "The store is built once through log().",
            ),
            wl_read,
            runhive_only=True,
            setup=read_setup,
            teardown=read_teardown,
            shared_invocation=True,
        ),
    ]
    return {w.info.name: w for w in table}


# ------------------------------------------------------------------------------------------------------------
# Main


def runhive_batch_and_record_size() -> tuple[int, int]:
    """The runhive client's batch_max_records and the wire bytes per row of a full block of 10-float rows
    (as `ingest_flood.build_batches` encodes it, which is the client sender's encoding)."""
    batch, size = 2_000, DEFAULT_RECORD_BYTES
    with contextlib.suppress(Exception):
        from runhive.sdk._settings import Settings

        batch = int(Settings().resolved_batch_max)
    with contextlib.suppress(Exception):
        from ingest_flood import PLACEHOLDER_RUN, PLACEHOLDER_SESSION, PLACEHOLDER_WRITER, build_batches

        first = build_batches(PLACEHOLDER_SESSION, PLACEHOLDER_RUN, PLACEHOLDER_WRITER, batch, batch, 10)[0]
        size = round(first.ByteSize() / batch)
    return batch, size


def command_line() -> str:
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(Path.cwd())
    return shlex.join([str(exe), *sys.argv])


def machine_info() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = psutil.virtual_memory().total / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def enter_network_namespace(enabled: bool) -> str:
    """Re-exec in a private network namespace (loopback only) so nothing can reach the network."""
    if os.environ.get("BENCH_IN_NETNS") == "1":
        up = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True)
        return "private network namespace, loopback only" + ("" if up.returncode == 0 else " (lo down)")
    unshare = shutil.which("unshare")
    if not enabled or unshare is None or os.geteuid() != 0:
        return "host network (isolation by offline settings only)"
    if subprocess.run([unshare, "--net", "true"], capture_output=True).returncode != 0:
        return "host network (unshare --net refused; isolation by offline settings only)"
    env = dict(os.environ, BENCH_IN_NETNS="1", BENCH_COMMAND=command_line())
    sys.stdout.flush()
    os.execve(unshare, [unshare, "--net", "--", sys.executable, *sys.argv], env)
    raise AssertionError("unreachable")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tools", default=",".join(DEFAULT_TOOLS), help="comma-separated subset of %(default)s"
    )
    parser.add_argument("--workloads", default="all", help="comma-separated subset, or 'all'")
    parser.add_argument(
        "--reps", type=int, default=None, help="repetitions per tool and workload (default 5)"
    )
    parser.add_argument("--quick", action="store_true", help="1 rep and smaller sizes")
    parser.add_argument("--size", action="append", default=[], metavar="NAME=VALUE", help="override a size")
    parser.add_argument("--out", default=str(BENCH_DIR / "RESULTS.md"), help="markdown file to append to")
    parser.add_argument("--no-out", action="store_true", help="print the report only")
    parser.add_argument("--json", default=None, help="write raw results as JSON here")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep each workload's store under bench/.work"
    )
    parser.add_argument(
        "--no-netns", action="store_true", help="do not run inside a private network namespace"
    )
    parser.add_argument("--list", action="store_true", help="list workloads and sizes, then exit")
    parser.add_argument("--render", metavar="JSON", help="render the report of an earlier --json file again")
    return parser.parse_args(argv)


def build_sizes(args: argparse.Namespace) -> Sizes:
    sizes = Sizes(**(QUICK_SIZES if args.quick else {}))
    types = {f.name: type(getattr(sizes, f.name)) for f in fields(Sizes)}
    for item in args.size:
        name, _, value = item.partition("=")
        if name not in types:
            raise SystemExit(f"unknown size {name!r}; known: {', '.join(types)}")
        setattr(sizes, name, types[name](float(value)) if types[name] is int else types[name](value))
    return sizes


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.render:
        return render_saved(args.render, args)
    sizes = build_sizes(args)
    reps = args.reps if args.reps is not None else (1 if args.quick else 5)
    batch, record_bytes = runhive_batch_and_record_size()
    batch = sizes.ingest_batch or batch
    table = workloads(sizes, batch, record_bytes)
    if args.list:
        for name, w in table.items():
            print(f"{name:12} {w.info.title}")
        print("sizes:", ", ".join(f"{k}={v}" for k, v in asdict(sizes).items()))
        return 0
    tools = [t for t in args.tools.split(",") if t]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise SystemExit(f"unknown tools {unknown}; known: {', '.join(TOOLS)}")
    selected = list(table) if args.workloads == "all" else [w for w in args.workloads.split(",") if w]
    missing = [w for w in selected if w not in table]
    if missing:
        raise SystemExit(f"unknown workloads {missing}; known: {', '.join(table)}")

    cmd = os.environ.get("BENCH_COMMAND") or command_line()
    if os.environ.get("BENCH_IN_NETNS") != "1":
        for name in dict.fromkeys(tools):
            ensure_venv(TOOLS[name])
    network = enter_network_namespace(not args.no_netns)
    if procs.become_subreaper():
        procs.Reaper().start()

    started = datetime.datetime.now(datetime.timezone.utc)
    root = BENCH_DIR / ".work" / started.strftime("%Y%m%d-%H%M%S")
    ctx = Context(
        root=root, sizes=sizes, keep_data=args.keep_data, ingest_batch=batch, record_bytes=record_bytes
    )
    log(f"{cmd}\n  network: {network}\n  work dir: {root}")
    log(f"tools: {tools}; workloads: {selected}; reps: {reps}")

    results: list[Measurement] = []
    for wname in selected:
        workload = table[wname]
        wtools = [t for t in tools if t == "runhive"] if workload.runhive_only else tools
        if not wtools:
            log(f"{wname}: skipped (runhive-only workload, runhive not selected)")
            continue
        if workload.setup:
            workload.setup(ctx)
        try:
            for rep in range(reps):
                shift = rep % len(wtools)
                order = wtools[shift:] + wtools[:shift]
                for position, tool_name in enumerate(order):
                    t0 = time.perf_counter()
                    try:
                        if workload.shared_invocation:
                            found = workload.run(ctx, None)  # type: ignore[arg-type]
                        else:
                            with ctx.invocation(TOOLS[tool_name], wname, rep) as inv:
                                found = workload.run(ctx, inv)
                            for m in found:
                                m.notes.extend(inv.notes)
                    except Exception as exc:  # a broken adapter must not take the suite down
                        found = [
                            Measurement("", tool_name, 0, 0, False, error=f"{type(exc).__name__}: {exc}")
                        ]
                    for m in found:
                        m.workload, m.rep, m.order = wname, rep, position
                        results.append(m)
                        took = time.perf_counter() - t0
                        log(f"{wname} rep {rep + 1}/{reps} {m.tool}: {summarize(m)} ({took:.1f} s)")
        finally:
            if workload.teardown:
                workload.teardown(ctx)

    finished = datetime.datetime.now(datetime.timezone.utc)
    meta: dict[str, Any] = {
        "command": cmd,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "network": network,
        "machine": machine_info(),
        "load_start": START_LOAD,
        "load_end": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "sizes": asdict(sizes),
        "reps": reps,
        "tools": tools,
        "workloads": selected,
        "ingest_batch": batch,
        "record_bytes": record_bytes,
    }
    if args.json:
        Path(args.json).write_text(json.dumps({**meta, "results": [m.to_json() for m in results]}, indent=1))
        log(f"raw results in {args.json}")
    emit(render_report(meta, results), args)
    return 0


def emit(report: str, args: argparse.Namespace) -> None:
    print("\n" + report)
    if args.no_out:
        return
    out = Path(args.out)
    if not out.exists():
        out.write_text(
            "# runhive benchmark results\n\nEach section is appended by `bench/run.py`; newest last.\n"
        )
    with out.open("a") as fh:
        fh.write("\n" + report)
    log(f"appended to {out}")


def render_saved(path: str, args: argparse.Namespace) -> int:
    """Render the report of an earlier `--json` file again (same figures, current table layout)."""
    payload = json.loads(Path(path).read_text())
    results = [Measurement(**r) for r in payload.pop("results")]
    payload.setdefault("tools", list(dict.fromkeys(m.tool for m in results)))
    payload.setdefault("workloads", list(dict.fromkeys(m.workload for m in results)))
    emit(render_report(payload, results), args)
    return 0


def summarize(m: Measurement) -> str:
    if not m.ok:
        return f"ERROR {m.error}"
    keys = [
        k for k in ("log_p50_us", "log_p99_us", "init_s", "wall_s", "records_per_s", "rows_kept", "read_s")
    ]
    shown = [f"{k}={m.metrics[k]:.4g}" for k in keys if k in m.metrics]
    if "rows_lost" in m.metrics:
        shown.append(f"rows_lost={m.metrics['rows_lost']:.0f}")
    return "ok " + " ".join(shown)


def render_report(meta: dict[str, Any], results: list[Measurement]) -> str:
    sizes = Sizes(**meta["sizes"])
    default_batch, default_bytes = runhive_batch_and_record_size()
    batch = meta.get("ingest_batch") or sizes.ingest_batch or default_batch
    table = workloads(sizes, batch, meta.get("record_bytes") or default_bytes)
    started = datetime.datetime.fromisoformat(meta["started"])
    finished = datetime.datetime.fromisoformat(meta["finished"])
    minutes = (finished - started).total_seconds() / 60
    lines = [
        f"## {started.strftime('%Y-%m-%d %H:%M')} UTC",
        "",
        f"Command: `{meta['command']}` (ran {minutes:.0f} min)",
        "",
        f"- Machine: {meta['machine']}; {meta['network']}. Load average (1, 5, 15 min) at the start: "
        f"{meta.get('load_start', '?')}; at the end: {meta.get('load_end', '?')}.",
        f"- Reps: {meta['reps']}; tools interleaved, order rotated each rep; one workload at a time; every "
        "measurement a fresh process. Cells: median (min\u2013max) over the reps that succeeded; "
        "↓ lower is better, ↑ higher.",
        "- Sizes: " + ", ".join(f"{k}={v}" for k, v in asdict(sizes).items()),
        "- wandb offline (WANDB_MODE=offline); trackio local SQLite; MLflow SQLite tracking URI, sync and "
        "MLFLOW_ENABLE_ASYNC_LOGGING=true; telemetry off everywhere.",
        "",
    ]
    for wname in meta["workloads"]:
        found = [m for m in results if m.workload == wname]
        if found and wname in table:
            lines.append(render_workload(table[wname].info, found, meta["tools"]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
