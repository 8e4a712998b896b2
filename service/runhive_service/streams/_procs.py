"""Is the process that wrote a run still there? Shared by the engine's watcher and `runhive sync`."""

from __future__ import annotations


def process_alive(pid: int, create_time: float = 0.0, started_before: float = 0.0) -> bool:
    """`pid` is alive, not a zombie, and not a newer process reusing the pid: its start time matches
    `create_time` when known, else it started no later than `started_before` (when given)."""
    if pid <= 0:
        return False
    import psutil  # here, not at the top: the daemon's start-up (on every cold init()) does without it

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        ct = proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    if create_time:
        return abs(ct - create_time) <= 1.0
    return not started_before or ct <= started_before + 1.0


def writer_host_pid(writer: str) -> tuple[str, int]:
    """A writer id is `<host>-<pid>-<random>`."""
    parts = writer.rsplit("-", 2)
    try:
        return parts[0], int(parts[1])
    except (IndexError, ValueError):
        return "", 0
