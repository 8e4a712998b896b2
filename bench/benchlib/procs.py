"""Process-tree accounting with psutil: CPU time, RSS and the runhive daemon."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

DAEMON_MARKERS = ("runhive_service", "runhive-service")
PR_SET_CHILD_SUBREAPER = 36

ProcKey = tuple[int, float]

# Children that a subprocess.Popen still has to wait for: reap_zombies() must leave their exit status alone.
# Hold SPAWN_LOCK from Popen() until the pid is in PROTECTED_PIDS.
PROTECTED_PIDS: set[int] = set()
SPAWN_LOCK = threading.Lock()


def become_subreaper() -> bool:
    """Make orphaned descendants (detached daemons, cores) reparent to us so they stay visible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _proc_matches_service_dir(proc: psutil.Process, service_dir: str) -> bool:
    try:
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    if not any(marker in arg for arg in cmdline for marker in DAEMON_MARKERS):
        return False
    if any(service_dir in arg for arg in cmdline):
        return True
    try:
        env = proc.environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return os.path.realpath(env.get("RUNHIVE_SERVICE_DIR", "")) == os.path.realpath(service_dir)


def find_runhive_daemons(service_dir: str | None) -> list[psutil.Process]:
    """Daemon processes serving `service_dir`: pid files in the directory first, then a cmdline scan."""
    if not service_dir:
        return []
    found: dict[int, psutil.Process] = {}
    directory = Path(service_dir)
    if directory.is_dir():
        for pid_file in directory.glob("*.pid"):
            with contextlib.suppress(OSError, ValueError, psutil.Error):
                pid = int(pid_file.read_text().split()[0])
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE and _proc_matches_service_dir(proc, service_dir):
                    found[pid] = proc
    for proc in psutil.process_iter():
        if proc.pid in found or proc.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and _proc_matches_service_dir(proc, service_dir):
                found[proc.pid] = proc
    return list(found.values())


def process_tree(
    root: psutil.Process | None = None, extra: Iterable[psutil.Process] = ()
) -> list[psutil.Process]:
    """`root` (default: this process), its live descendants and `extra`, without duplicates."""
    root = root or psutil.Process()
    procs: dict[int, psutil.Process] = {root.pid: root}
    with contextlib.suppress(psutil.Error):
        for child in root.children(recursive=True):
            procs.setdefault(child.pid, child)
    for proc in extra:
        procs.setdefault(proc.pid, proc)
    return list(procs.values())


def _key(proc: psutil.Process) -> ProcKey:
    return (proc.pid, proc.create_time())


def cpu_snapshot(procs: Iterable[psutil.Process]) -> dict[ProcKey, float]:
    """User + system CPU seconds of each process (not of its reaped children)."""
    snap: dict[ProcKey, float] = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            snap[_key(proc)] = times.user + times.system
    return snap


def cpu_delta(before: dict[ProcKey, float], after: dict[ProcKey, float]) -> float:
    """CPU seconds spent between two snapshots; processes born in between count from zero."""
    return sum(value - before.get(key, 0.0) for key, value in after.items())


def rss_snapshot(procs: Iterable[psutil.Process]) -> dict[ProcKey, int]:
    snap: dict[ProcKey, int] = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE:
                snap[_key(proc)] = proc.memory_info().rss
    return snap


def wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait for processes to exit (reaping our own children); return those still alive."""
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        reap_zombies()
        still: list[psutil.Process] = []
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    still.append(proc)
        alive = still
        if alive:
            time.sleep(0.05)
    reap_zombies()
    return alive


def terminate(procs: Iterable[psutil.Process], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds, processes we started (by pid)."""
    targets = list(procs)
    for proc in targets:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
    for proc in wait_gone(targets, grace):
        with contextlib.suppress(psutil.Error):
            proc.kill()
    wait_gone(targets, 2.0)


def reap_zombies() -> None:
    """Reap exited orphans that were reparented to us (we are a subreaper); never touches live children.

    Without this a daemon that exits stays a zombie, and whoever waits for its pid to vanish (such as
    `runhive service stop`) waits forever.
    """
    with SPAWN_LOCK, contextlib.suppress(psutil.Error):
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error, ChildProcessError, OSError):
                if child.pid not in PROTECTED_PIDS and child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)


class Reaper(threading.Thread):
    """Background reap_zombies() every `interval` seconds, for a subreaper."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(name="bench-reaper", daemon=True)
        self.interval = interval
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            reap_zombies()
