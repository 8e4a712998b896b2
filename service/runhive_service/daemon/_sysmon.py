"""System metrics: one sampler per node, in the daemon, for every open run (W&B's `wandb-events` stream).

W&B starts a monitor per run stream, so eight ranks on a node report the host eight times (W&B #11418, #1762).
Here one thread samples the host once per tick (`RUNHIVE_STATS_SAMPLING_INTERVAL`, 15 s by default as in W&B)
and gives every open run the host's figures plus its own processes' (the writers' pids), under W&B's key names.
Samples go to every sink through the engine's applier (the local store keeps them in `system_metrics`);
`run.history(stream="system")` reads them back with the keys prefixed `system.` as W&B's public API shows them.

Per-run settings (W&B's `x_disable_stats`, `x_stats_sampling_interval`), sent by each writer with InitRun
(`InitRunRequest.settings_json`): a writer with `x_disable_stats` is left out (a run whose every open writer
disabled stats gets no samples), and a run is sampled every `x_stats_sampling_interval` seconds (the smallest its
open writers asked for; the daemon's interval otherwise). The one thread wakes when the next run is due, so runs
keep their own cadences while the host is still read once per tick.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import psutil

from runhive_service.streams import RunState, SystemSample

logger = logging.getLogger("runhive_service")
MB = 1024 * 1024
MIN_INTERVAL = 0.1  # W&B's floor for x_stats_sampling_interval


class OpenRun(NamedTuple):
    """A run to sample: its state, the pids of its writers that want stats, its interval (None: the daemon's)."""

    state: RunState
    pids: set[int]
    interval: float | None


def writer_stats(settings_json: bytes) -> tuple[bool, float | None]:
    """(x_disable_stats, x_stats_sampling_interval) from a writer's InitRun settings; a malformed object is ignored
    (the client validated it: defaults are the safe reading)."""
    if not settings_json:
        return False, None
    try:
        d = json.loads(settings_json)
        interval = d.get("x_stats_sampling_interval")
        seconds = max(MIN_INTERVAL, float(interval)) if interval is not None else None
        return bool(d.get("x_disable_stats", False)), seconds
    except (ValueError, TypeError, AttributeError):
        return False, None


class SystemMonitor:
    def __init__(
        self,
        open_runs: Callable[[], list[OpenRun]],
        emit: Callable[[list[SystemSample]], None],
        interval: float,
    ) -> None:
        self._open_runs = open_runs
        self._emit = emit
        self.interval = max(MIN_INTERVAL, interval)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: dict[int, psutil.Process] = {}
        # Per run: the host's network and disk counters when the run was first sampled (totals are per run).
        self._baselines: dict[str, tuple[Any, Any]] = {}
        self._due: dict[str, float] = {}  # per run: when (monotonic) its next sample is due
        self._failed = False
        self.samples = 0

    def start(self) -> None:
        psutil.cpu_percent(
            percpu=True
        )  # primes the per-CPU counters: the first tick then has a real interval
        self._thread = threading.Thread(target=self._loop, name="runhive-sysmon", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def poke(self) -> None:
        """A run opened (or a writer joined one): schedule it now rather than at the end of the current wait."""
        self._wake.set()

    def _loop(self) -> None:
        wait = self.interval
        while True:
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                wait = self.sample()
            except Exception:
                wait = self.interval
                if not self._failed:  # once: a broken sensor must not fill the daemon's log every tick
                    self._failed = True
                    logger.exception("sampling system metrics failed; retrying every %.1f s", self.interval)

    def sample(self, now: float | None = None) -> float:
        """Sample the runs that are due; returns the seconds until the next one is."""
        runs = self._open_runs()
        mono = time.monotonic() if now is None else now
        live = {r.state.key for r in runs}
        for key in [k for k in self._baselines if k not in live]:
            del self._baselines[key]
        for key in [k for k in self._due if k not in live]:
            del self._due[key]
        due: list[OpenRun] = []
        for r in runs:
            every = r.interval or self.interval
            at = self._due.get(r.state.key)
            if at is None:  # first seen: its first sample comes one interval later, as W&B's first
                self._due[r.state.key] = mono + every
            elif at <= mono + 0.01:
                due.append(r)
                self._due[r.state.key] = at + every if at + every > mono else mono + every
        if due:
            self._sample(due)
        if not self._due:
            return self.interval
        return min(self.interval, max(0.01, min(self._due.values()) - mono))

    def _sample(self, runs: list[OpenRun]) -> None:
        host = self._host()
        net, disk = psutil.net_io_counters(), psutil.disk_io_counters()
        now = time.time()
        samples: list[SystemSample] = []
        for st, pids, _ in runs:
            base_net, base_disk = self._baselines.setdefault(st.key, (net, disk))
            row = dict(host)
            if net is not None and base_net is not None:
                row["network.sent"] = net.bytes_sent - base_net.bytes_sent
                row["network.recv"] = net.bytes_recv - base_net.bytes_recv
            if disk is not None and base_disk is not None:
                row["disk.in"] = (disk.read_bytes - base_disk.read_bytes) / MB
                row["disk.out"] = (disk.write_bytes - base_disk.write_bytes) / MB
            row.update(self._process(pids))
            samples.append(SystemSample(st, now, now - (st.info.start_time or now), row))
        if samples:
            self._emit(samples)
            self.samples += 1

    @staticmethod
    def _host() -> dict[str, float]:
        row: dict[str, float] = {}
        for i, pct in enumerate(psutil.cpu_percent(percpu=True)):
            row[f"cpu.{i}.cpu_percent"] = pct
        mem = psutil.virtual_memory()
        row["memory_percent"] = mem.percent
        row["proc.memory.availableMB"] = mem.available / MB
        try:
            du = psutil.disk_usage("/")
            row["disk./.usagePercent"] = du.percent
            row["disk./.usageGB"] = du.used / 1024**3
        except OSError:
            pass
        return row

    def _process(self, pids: set[int]) -> dict[str, float]:
        """The run's processes (its writers): memory and threads summed, CPU as a share of the whole host."""
        rss = threads = 0
        cpu = mem_pct = 0.0
        seen = False
        for pid in pids:
            proc = self._procs.get(pid)
            try:
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)  # primes it; the next tick measures
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    mem_pct += proc.memory_percent()
                    threads += proc.num_threads()
                    cpu += proc.cpu_percent(None)
                seen = True
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                self._procs.pop(pid, None)
        if not seen:
            return {}
        return {
            "proc.memory.rssMB": rss / MB,
            "proc.memory.percent": mem_pct,
            "proc.cpu.threads": float(threads),
            "cpu": cpu / (psutil.cpu_count() or 1),
        }


def open_runs(streams: dict[str, RunState]) -> list[OpenRun]:
    """Runs with a writer still open that wants stats, those writers' pids and the run's interval (the smallest
    they asked for). The caller holds the engine's lock."""
    out: list[OpenRun] = []
    for st in streams.values():
        pids: set[int] = set()
        interval: float | None = None
        for w in st.writers.values():
            if not w.open or w.crashed or w.pid <= 0 or w.stats_disabled:
                continue
            pids.add(w.pid)
            if w.stats_interval is not None:
                interval = w.stats_interval if interval is None else min(interval, w.stats_interval)
        if pids:
            out.append(OpenRun(st, pids, interval))
    return out
