"""System metrics: one sampler per node, in the daemon, for every open run (W&B's `wandb-events` stream).

W&B starts a monitor per run stream, so eight ranks on a node report the host eight times (W&B #11418, #1762).
Here one thread samples the host once per tick (`RUNHIVE_STATS_SAMPLING_INTERVAL`, 15 s by default as in W&B)
and gives every open run the host's figures plus its own processes' (the writers' pids), under W&B's key names.
Samples go to every sink through the engine's applier (the local store keeps them in `system_metrics`);
`run.history(stream="system")` reads them back with the keys prefixed `system.` as W&B's public API shows them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from runhive_service.streams import RunState, SystemSample

logger = logging.getLogger("runhive_service")
MB = 1024 * 1024


class SystemMonitor:
    def __init__(
        self,
        open_runs: Callable[[], list[tuple[RunState, set[int]]]],
        emit: Callable[[list[SystemSample]], None],
        interval: float,
    ) -> None:
        self._open_runs = open_runs
        self._emit = emit
        self.interval = max(0.1, interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: dict[int, psutil.Process] = {}
        # Per run: the host's network and disk counters when the run was first sampled (totals are per run).
        self._baselines: dict[str, tuple[Any, Any]] = {}
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
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:
                if not self._failed:  # once: a broken sensor must not fill the daemon's log every tick
                    self._failed = True
                    logger.exception("sampling system metrics failed; retrying every %.1f s", self.interval)

    def sample(self) -> None:
        runs = self._open_runs()
        live = {st.key for st, _ in runs}
        for key in [k for k in self._baselines if k not in live]:
            del self._baselines[key]
        if not runs:
            return
        host = self._host()
        net, disk = psutil.net_io_counters(), psutil.disk_io_counters()
        now = time.time()
        samples: list[SystemSample] = []
        for st, pids in runs:
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


def open_runs(streams: dict[str, RunState]) -> list[tuple[RunState, set[int]]]:
    """Runs with a writer still open, and their writers' pids (the caller holds the engine's lock)."""
    out: list[tuple[RunState, set[int]]] = []
    for st in streams.values():
        if st.offline:
            continue
        pids = {w.pid for w in st.writers.values() if w.open and not w.crashed and w.pid > 0}
        if pids:
            out.append((st, pids))
    return out
