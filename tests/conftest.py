"""Shared fixtures: every test gets its own daemon directory, store and run root, and every process a test
starts (clients and the daemon) is stopped by pid at the end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest


def wait_for(
    cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.02
) -> Any:
    """Poll `cond` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class RhEnv:
    def __init__(self, root: Path) -> None:
        self.root = root
        # Unix socket paths are limited to ~107 bytes: keep the daemon directory short.
        self.svc = Path(tempfile.mkdtemp(prefix="rh-", dir="/tmp"))
        self.data = root / "data"
        self.work = root / "work"
        self.work.mkdir()
        (root / "tmp").mkdir()
        self.procs: list[subprocess.Popen[str]] = []
        self.environ = dict(os.environ)
        self.environ.update(
            {
                "RUNHIVE_SERVICE_DIR": str(self.svc),
                "RUNHIVE_DATA_DIR": str(self.data),
                # A test's `runhive login` writes here, never to the user's ~/.config/runhive (which every
                # later test's init() would then try to upload to).
                "RUNHIVE_CONFIG_DIR": str(root / "config"),
                "RUNHIVE_SERVICE_IDLE_TIMEOUT": "120",
                "PYTHONUNBUFFERED": "1",
                # Temporary files of the processes a test starts stay in its directory, also those a SIGKILL
                # leaves behind (a `runhive sync` killed midway keeps its scratch directory).
                "TMPDIR": str(root / "tmp"),
            }
        )
        for k in list(self.environ):
            if k.startswith("WANDB_"):
                del self.environ[k]

    @property
    def store(self) -> Path:
        return self.data / "runhive.db"

    def spawn(
        self, code: str, *args: str, env: dict[str, str] | None = None, **kw: Any
    ) -> subprocess.Popen[str]:
        e = dict(self.environ)
        e.update(env or {})
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            cwd=self.work,
            env=e,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kw,
        )
        self.procs.append(proc)
        return proc

    def run(
        self, code: str, *args: str, timeout: float = 120, check: bool = True, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        proc = self.spawn(code, *args, **kw)
        out, err = proc.communicate(timeout=timeout)
        res = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise AssertionError(f"script failed ({proc.returncode}):\nstdout:\n{out}\nstderr:\n{err}")
        return res

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [sys.executable, "-m", "runhive.cli._main", *args],
            cwd=self.work,
            env={**self.environ, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"runhive {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
            )
        return res

    def daemon_pids(self) -> list[int]:
        pids = []
        for p in psutil.process_iter(["cmdline"]):
            try:
                cmd = p.info["cmdline"] or []
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if "runhive_service" in cmd and str(self.svc) in cmd:
                pids.append(p.pid)
        return pids

    def api(self) -> Any:
        import runhive

        return runhive.Api(overrides={"data_dir": str(self.data)})

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.communicate(timeout=10)
            except Exception:
                pass
        for pid in self.daemon_pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for pid in self.daemon_pids():
            try:
                psutil.Process(pid).wait(timeout=15)
            except psutil.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        shutil.rmtree(self.svc, ignore_errors=True)


@pytest.fixture
def rh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RhEnv]:
    env = RhEnv(tmp_path)
    for k in list(os.environ):
        if k.startswith("WANDB_") or k.startswith("RUNHIVE_"):
            monkeypatch.delenv(k)
    for k in (
        "RUNHIVE_SERVICE_DIR",
        "RUNHIVE_DATA_DIR",
        "RUNHIVE_CONFIG_DIR",
        "RUNHIVE_SERVICE_IDLE_TIMEOUT",
    ):
        monkeypatch.setenv(k, env.environ[k])
    monkeypatch.chdir(env.work)
    try:
        yield env
    finally:
        import runhive

        runhive.teardown()
        env.cleanup()


# Reliability tests (issue 4) -----------------------------------------------------------------------------------


def figure(name: str, text: str) -> None:
    """Print one measured figure; `pytest -s` shows them and docs/RELIABILITY.md collects them."""
    print(f"\nFIGURE {name}: {text}", flush=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount small tmpfs file systems (root only; skips with the reason otherwise); unmounted at the end."""
    mounted: list[Path] = []

    def mount(size_kib: int, readonly: bool = False) -> Path:
        if os.getuid() != 0:
            pytest.skip("needs root to mount a small tmpfs (mount -t tmpfs)")
        path = tmp_path / f"fs{len(mounted)}"
        path.mkdir()
        opts = f"size={size_kib}k,mode=0700" + (",ro" if readonly else "")
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True
        )
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
        mounted.append(path)
        return path

    try:
        yield mount
    finally:
        for path in reversed(mounted):
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "load: heavy load test (64 processes); still part of `make test`")


def manifests_of(run: Any, name: str) -> list[dict[str, Any]]:
    """The versions of artifact `name` the run logged, read back through runhive.Api(), oldest first."""
    return [
        {
            "type": a.type,
            "aliases": a.aliases,
            "metadata": a.metadata,
            "version": a.version,
            "files": [{"path": e.path} for e in a.files()],
        }
        for a in run.logged_artifacts()
        if a.collection_name == name
    ]
