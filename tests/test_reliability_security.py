"""Local security (issue 4): the socket directory is 0700 and the user's; the client refuses a socket or
directory owned by another user; run directories, WALs and the store are user-only even under umask 0; the
daemon's token and session ids never reach a log line."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import RhEnv, figure, wait_for

PERMISSIVE = """
import os, runhive
os.umask(0)  # the daemon this process starts inherits it too
run = runhive.init(project="sec")
run.log({"x": 1})
run.finish()
print(run.dir, flush=True)
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_user_only_even_under_umask_0(rh: RhEnv) -> None:
    run_dir = Path(rh.run(PERMISSIVE).stdout.strip())
    expected = {
        rh.svc: 0o700,
        rh.svc / "service.sock": 0o600,
        rh.svc / "token": 0o600,
        rh.svc / "service.pid": 0o600,
        rh.svc / "service.log": 0o600,
        rh.svc / "start.lock": 0o600,
        rh.data: 0o700,
        rh.store: 0o600,
        rh.data / "runhive.db-wal": 0o600,
        rh.data / "runhive.db-shm": 0o600,
        rh.data / "rundirs.idx": 0o600,
        rh.data / "store.lock": 0o600,
        run_dir.parent: 0o700,  # ./runhive/
        run_dir: 0o700,
        run_dir / "files": 0o700,
        run_dir / f"run-{run_dir.name.rsplit('-', 1)[-1]}.rhwal": 0o600,
    }
    found = {str(p.relative_to(rh.root) if rh.root in p.parents else p): oct(_mode(p)) for p in expected}
    for path, mode in expected.items():
        assert _mode(path) == mode, (path, oct(_mode(path)))
        assert path.stat().st_uid == os.getuid()
    figure("permissions under umask 0", ", ".join(f"{p} {m}" for p, m in found.items()))


REFUSE = """
import runhive
try:
    runhive.init(project="sec")
except runhive.CommError as exc:
    print(type(exc).__name__, exc)
"""


def test_client_refuses_socket_or_directory_of_another_user(rh: RhEnv) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to give the socket to another user (chown)")
    rh.cli("service", "start")
    sock = rh.svc / "service.sock"
    messages = []
    os.chown(sock, 65534, 65534)  # nobody
    try:
        out = rh.run(REFUSE).stdout.strip()
        assert out.startswith("InsecureSocketError") and "belongs to uid 65534" in out, out
        messages.append(out)
    finally:
        os.chown(sock, 0, 0)
    os.chown(rh.svc, 65534, 65534)
    try:
        out = rh.run(REFUSE).stdout.strip()
        assert out.startswith("InsecureSocketError") and "belongs to uid 65534" in out, out
        messages.append(out)
    finally:
        os.chown(rh.svc, 0, 0)
    assert not rh.api().runs("sec")
    figure("socket of another user", " | ".join(messages))


CHATTY = """
import logging, os, runhive, sys
logging.basicConfig(level=logging.DEBUG)  # everything any logger has to say, on stderr
run = runhive.init(project="sec")
for i in range(500):
    run.log({"x": i})
run.log({"x": -1}, step=3)  # a warning
print(run._sender.connection().session, flush=True)  # stdout is not a log
sys.stdin.readline()  # meanwhile the daemon is stopped: the client warns, starts a new one, resends
for i in range(500):
    run.log({"x": i})
run.finish()
print(run._sender.connection().session, flush=True)
"""

DAEMON = """
import os, sys
os.dup2(os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 2)  # its log: a file, not a pipe
from runhive_service.__main__ import main
sys.exit(main(["--dir", sys.argv[1], "--log-level", "DEBUG"]))
"""


def test_no_secret_reaches_a_log_line(rh: RhEnv) -> None:
    import grpc

    from runhive.protocol.v1 import service_pb2 as pb
    from runhive.protocol.v1 import service_pb2_grpc as pb_grpc
    from runhive.transport._daemon import DaemonAddress

    log_file = rh.root / "daemon-debug.log"
    daemon = rh.spawn(DAEMON, str(rh.svc), str(log_file))  # in the foreground, debug logging
    addr = DaemonAddress(rh.svc)
    tokens = [wait_for(addr.read_token, 30, "the daemon's token")]
    client = rh.spawn(CHATTY, stdin=subprocess.PIPE)
    assert client.stdout is not None and client.stdin is not None
    sessions = [client.stdout.readline().strip()]
    # Failing calls log too: a wrong token, a stale session.
    with grpc.insecure_channel(addr.target) as ch:
        stub = pb_grpc.RunhiveStub(ch)
        for call in (
            lambda: stub.Handshake(
                pb.HandshakeRequest(protocol_version=1, pid=1, token=tokens[0][::-1]), timeout=10
            ),
            lambda: stub.Status(pb.StatusRequest(session=sessions[0][::-1]), timeout=10),
        ):
            with pytest.raises(grpc.RpcError):
                call()
    daemon.terminate()  # our child: stop it and reap it here
    daemon.communicate(timeout=30)
    client.stdin.write("\n")
    client.stdin.flush()
    tokens.append(wait_for(addr.read_token, 30, "the new daemon's token"))  # the client started it
    out, err = client.communicate(timeout=60)
    assert client.returncode == 0, err
    sessions.append(out.strip().splitlines()[-1])
    daemon_log = log_file.read_text()
    secrets = [s for t in tokens + sessions for s in (t, t[::-1])]
    assert len(set(tokens)) == 2 and len(set(sessions)) == 2
    logs = {"daemon log": daemon_log, "client stderr": err}
    svc_log = rh.svc / "service.log"
    if svc_log.exists():
        logs["service.log"] = svc_log.read_text()
    assert "reconnecting" in err  # the client did have something to say
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"a secret reached the {name}"
    figure(
        "secrets in logs",
        f"token and session ids found in 0 of {sum(len(t.splitlines()) for t in logs.values())} log lines "
        f"(daemon at DEBUG, client at DEBUG, a failed handshake, a daemon restart and reconnect included)",
    )
