"""Finding, starting and talking to the node's `runhive-service`.

The socket lives in a per-user 0700 directory; the first process that finds no daemon takes a file lock,
checks again and spawns one detached, so any number of processes starting at once yield one daemon.
Every connection proves it is the directory's user by presenting the token file the daemon wrote there.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runhive._version import __version__
from runhive.errors import CommError, InsecureSocketError, ProtocolMismatchError
from runhive.protocol import messages as pb
from runhive.protocol.address import (
    LOCK_NAME,
    LOG_NAME,
    SOCKET_NAME,
    TOKEN_NAME,
    ensure_private_dir,
)
from runhive.protocol.limits import MAX_MESSAGE_BYTES as MAX_MESSAGE_BYTES
from runhive.protocol.limits import REFUSED_MD as REFUSED_MD

if TYPE_CHECKING:
    from ._wire import Channel, Stub


PROTOCOL_VERSION = pb.PROTOCOL_VERSION_CURRENT


# Plain classes, not dataclasses: each @dataclass costs ~0.5 ms at import, and this module is on init()'s path.
class DaemonAddress:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def socket_path(self) -> Path:
        return self.directory / SOCKET_NAME

    @property
    def target(self) -> str:
        return f"unix:{self.socket_path}"

    def read_token(self) -> str | None:
        try:
            return (self.directory / TOKEN_NAME).read_text().strip()
        except FileNotFoundError:
            return None


def check_socket_owner(address: DaemonAddress) -> None:
    try:
        st = address.socket_path.stat()
    except FileNotFoundError:
        return
    if st.st_uid != os.getuid():
        raise InsecureSocketError(
            f"The runhive socket {address.socket_path} belongs to uid {st.st_uid}, not to you "
            f"(uid {os.getuid()}); refusing to connect. Remove it or set RUNHIVE_SERVICE_DIR."
        )


class Connection:
    """A handshaken channel to the daemon. Made once per process (and again after fork or a daemon restart)."""

    def __init__(
        self, channel: Channel, stub: Stub, session: str, daemon_pid: int, address: DaemonAddress
    ) -> None:
        self.channel, self.stub, self.session = channel, stub, session
        self.daemon_pid, self.address = daemon_pid, address

    def close(self) -> None:
        try:
            self.channel.close()
        except Exception:
            pass


def _pid_create_time() -> float:
    """This process's start time as psutil reports it (boot time + start ticks), read from /proc: importing
    psutil would add ~8 ms to every init()."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        ticks = int(stat[stat.rindex(b")") + 2 :].split()[19])
        with open("/proc/stat", "rb") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        try:
            import psutil

            return float(psutil.Process().create_time())
        except Exception:
            return 0.0


def handshake(address: DaemonAddress, timeout: float = 5.0) -> Connection:
    check_socket_owner(address)
    token = address.read_token()
    if token is None:
        raise CommError(f"No runhive daemon token in {address.directory}")
    from ._wire import Channel, RpcError, StatusCode, Stub  # here: the daemon imports this module too

    channel = Channel(address.target)
    stub = Stub(channel)
    try:
        reply = stub.Handshake(
            pb.HandshakeRequest(
                protocol_version=PROTOCOL_VERSION,
                pid=os.getpid(),
                host=socket.gethostname(),
                token=token,
                pid_create_time=_pid_create_time(),
                client_version=__version__,
            ),
            timeout=timeout,
        )
    except RpcError as exc:
        channel.close()
        if exc.code() == StatusCode.FAILED_PRECONDITION:
            raise ProtocolMismatchError(
                f"{exc.details()} Stop the old daemon with `runhive service stop` and try again."
            ) from None
        raise CommError(
            f"runhive-service at {address.socket_path} did not answer: {exc.code().name}"
        ) from exc
    return Connection(channel, stub, reply.session, int(reply.daemon_pid), address)


@contextmanager
def _start_lock(directory: Path) -> Iterator[None]:
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def spawn_daemon(directory: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    from runhive._loading import lock

    env = dict(os.environ)
    env.update(extra_env or {})
    log = open(os.open(directory / LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
    # Under the fork lock: the sender thread spawns the daemon while the script may fork (multiprocessing), and
    # a child forked between Popen's fork and exec would hold Popen's error pipe open, so Popen never returns.
    try:
        with lock:
            return subprocess.Popen(
                [sys.executable, "-m", "runhive_service", "--dir", str(directory)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
                env=env,
                cwd="/",
            )
    finally:
        log.close()


def _try_connect(address: DaemonAddress, timeout: float) -> Connection | None:
    if not address.socket_path.exists() or address.read_token() is None:
        return None
    try:
        return handshake(address, timeout=timeout)
    except ProtocolMismatchError:
        raise
    except InsecureSocketError:
        raise
    except CommError:
        return None


def connect(
    directory: Path, *, start: bool = True, wait: float = 30.0, env: dict[str, Any] | None = None
) -> Connection:
    """Reach the daemon serving `directory`, starting it if none answers."""
    ensure_private_dir(directory)
    address = DaemonAddress(directory)
    conn = _try_connect(address, timeout=2.0)
    if conn is not None or not start:
        if conn is None:
            raise CommError(f"No runhive-service is running at {address.socket_path}.")
        return conn
    with _start_lock(directory):
        conn = _try_connect(address, timeout=2.0)
        if conn is not None:
            return conn
        for stale in (SOCKET_NAME, TOKEN_NAME):
            try:
                (directory / stale).unlink()
            except FileNotFoundError:
                pass
        proc = spawn_daemon(directory, env)
        deadline = time.monotonic() + wait
        delay = 0.005
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise CommError(
                    f"runhive-service exited with code {proc.returncode} during start-up; see "
                    f"{directory / LOG_NAME} for why."
                )
            conn = _try_connect(address, timeout=2.0)
            if conn is not None:
                return conn
            time.sleep(delay)  # polling a condition (socket answers) with a deadline, not synchronisation
            delay = min(delay * 2, 0.1)
        raise CommError(
            f"runhive-service did not answer on {address.socket_path} within {wait:.0f} s; see "
            f"{directory / LOG_NAME}. Raise RUNHIVE_SERVICE_WAIT if the machine is slow."
        )
