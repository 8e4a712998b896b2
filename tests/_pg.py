"""A throwaway PostgreSQL 15 for the team server's tests, from Debian's binaries (`make postgres` installs them).

`PgCluster.start()` runs `initdb` and `pg_ctl` in a temporary directory as an unprivileged system user (PostgreSQL
refuses to run as root; when the tests run as root, the user `runhive-pg` is created if absent and the binaries run
through `runuser -u`). The cluster listens on 127.0.0.1 on a free port and on a Unix socket in its directory, trusts
local connections, and trades durability for speed (fsync off). `stop()` stops it by the postmaster's pid.

With `RUNHIVE_TEST_DATABASE_URL` set (a PostgreSQL URL whose user may create databases), no cluster is started and
the tests' databases are made there instead.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_for as wait_until

PG_BIN = Path(os.environ.get("RUNHIVE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "runhive-pg"
SUPERUSER = "runhive"
URL_ENV = "RUNHIVE_TEST_DATABASE_URL"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> str | None:
    """None when a cluster can be had here; otherwise why not."""
    if os.environ.get(URL_ENV):
        return None
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL at {PG_BIN} (run `make postgres`, or set {URL_ENV})"
    if os.getuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser: cannot start PostgreSQL as an unprivileged user"
    return None


def _ensure_user() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid


class PgCluster:
    """One PostgreSQL server: a temporary cluster of our own, or the one `RUNHIVE_TEST_DATABASE_URL` names."""

    def __init__(self) -> None:
        self.external = os.environ.get(URL_ENV)
        self.dir: Path | None = None
        self.port = 0
        self.pid: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        if os.getuid() == 0:
            return ["runuser", "-u", PG_USER, "--", *args]
        return list(args)

    def start(self) -> PgCluster:
        if self.external:
            return self
        if os.getuid() == 0:
            uid, gid = _ensure_user()
        else:
            uid, gid = os.getuid(), os.getgid()
        self.dir = Path(tempfile.mkdtemp(prefix="rh-pg-", dir="/tmp"))
        os.chown(self.dir, uid, gid)
        data = self.dir / "data"
        subprocess.run(
            self._cmd(
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        self.port = free_port()
        self._launch()
        return self

    def _launch(self) -> None:
        assert self.dir is not None
        data, log = self.dir / "data", self.dir / "server.log"
        options = " ".join(
            (
                f"-p {self.port}",
                f"-k {self.dir}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                "-c shared_buffers=32MB",
            )
        )
        res = subprocess.run(
            self._cmd(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ),
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            text = log.read_text() if log.exists() else ""
            self.stop()
            raise RuntimeError(f"pg_ctl start failed ({res.returncode}): {res.stdout}{res.stderr}\n{text}")
        pidfile = data / "postmaster.pid"
        self.pid = int(pidfile.read_text().split()[0])

    def _halt(self, sig: int) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
        else:

            def gone() -> bool:
                try:
                    os.kill(self.pid or 0, 0)
                except ProcessLookupError:
                    return True
                return False

            try:
                wait_until(gone, 30, f"PostgreSQL {self.pid} to stop")
            except AssertionError:
                os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def restart(self, sig: int = signal.SIGINT) -> None:
        """Stop the postmaster (SIGINT: fast shutdown, every connection cut; SIGQUIT: immediate, as a crash) and
        start it again on the same data directory and port, as an operator's restart or a failover does."""
        if self.external:
            raise RuntimeError(f"cannot restart the external PostgreSQL named by {URL_ENV}")
        self._halt(sig)
        self._launch()

    def stop(self) -> None:
        """Fast shutdown by the postmaster's pid (SIGINT), waited for with a deadline; then the directory goes."""
        self._halt(signal.SIGINT)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # -- databases ------------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        if self.external:
            from sqlalchemy.engine import make_url

            return make_url(self.external).set(database=database).render_as_string(hide_password=False)
        return f"postgresql://{SUPERUSER}@/{database}?host={self.dir}&port={self.port}"

    def _admin(self, sql: str) -> None:
        import psycopg

        base = self.url("postgres")
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self) -> str:
        """A new empty database; its `--db` URL."""
        name = f"rh_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- pytest fixtures: a test module imports `server_db` from here ---------------------------------------------

_SHARED: PgCluster | None = None


def shared_cluster() -> PgCluster:
    """One cluster for the whole test session, started on first use and stopped by pid when Python exits."""
    global _SHARED
    if _SHARED is None:
        reason = available()
        if reason is not None:
            if os.environ.get("CI"):
                raise RuntimeError(reason)
            pytest.skip(reason)
        _SHARED = PgCluster().start()
        atexit.register(_SHARED.stop)
    return _SHARED


@pytest.fixture(params=["sqlite", "postgresql"])
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The `--db` URL of a fresh, empty database: SQLite in the test's directory, or a new database in the
    session's PostgreSQL 15 (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    cluster = shared_cluster()
    url = cluster.create_database()
    try:
        yield url
    finally:
        cluster.drop_database(url)


# -- `runhive server` processes ----------------------------------------------------------------------------------


class ServerProcess:
    """A real `runhive server --db URL --port 0` (or an admin command's CLI): started as a child process, its
    output collected by a thread, ready once it prints its URL, stopped by pid."""

    def __init__(self, db: str, *extra: str) -> None:
        import sys
        import threading

        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runhive.cli._main", "server", "--db", db, "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 60) -> str:
        def ready() -> str | None:
            for line in self.lines:
                if line.startswith("runhive server: http://"):
                    return line.split()[2]
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError(
                    f"runhive server exited {self.proc.returncode}:\n" + "\n".join(self.lines)
                )
            return None

        self.url = wait_until(ready, timeout, "runhive server to print its URL")
        return self.url

    def stop(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        return self.proc.returncode


def http(
    url: str, key: str | None = None, header: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """GET `url` (with `Authorization: Bearer key`, or the raw `header`): (status, JSON body, headers)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    if header is not None:
        request.add_header("Authorization", header)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)
