"""Many processes, one daemon: concurrency, start-up races, crashes, isolation, rebuild (issue 2)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import RhEnv, wait_for

TWO_RUNS = """
import runhive, sys
runs = [runhive.init(project="mp", reinit="create_new", name=f"{sys.argv[1]}-{k}") for k in range(2)]
for i in range(2000):
    for run in runs:
        run.log({"loss": 1.0 / (i + 1), "i": i})
for run in runs:
    run.finish()
"""


def test_eight_processes_two_runs_each_one_daemon(rh: RhEnv) -> None:
    rh.cli("service", "start")
    [pid] = rh.daemon_pids()
    procs = [rh.spawn(TWO_RUNS, str(p)) for p in range(8)]
    pids_seen = set()
    for proc in procs:
        _out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        pids_seen.update(rh.daemon_pids())
    assert pids_seen == {pid}
    runs = rh.api().runs("mp")
    assert len(runs) == 16
    assert {r.state for r in runs} == {"finished"}
    total = 0
    for r in runs:
        rows = r.history(pandas=False, samples=None)
        assert [row["i"] for row in rows] == list(range(2000))
        total += len(rows)
    assert total == 32_000


def test_sixty_four_processes_start_exactly_one_daemon(rh: RhEnv) -> None:
    code = """
    import runhive
    run = runhive.init(project="race")
    run.log({"x": 1})
    run.finish()
    """
    assert not rh.daemon_pids()
    procs = [rh.spawn(code) for _ in range(64)]
    daemons = set()
    for proc in procs:
        _out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        daemons.update(rh.daemon_pids())
    assert len(daemons) == 1
    runs = rh.api().runs("race")
    assert len(runs) == 64 and {r.state for r in runs} == {"finished"}
    assert len({r.name for r in runs}) == 64  # generated names are unique in the project


def test_sigkill_client_marks_run_crashed_and_keeps_acked_rows(rh: RhEnv) -> None:
    code = """
    import runhive, itertools
    run = runhive.init(project="kill")
    for i in range(3000):
        run.log({"i": i})
    assert run._sender.wait_acked(run._handle, run._last_seq, 30)
    print(run.id, 3000, flush=True)
    for i in itertools.count(3000):
        run.log({"i": i})
    """
    proc = rh.spawn(code)
    assert proc.stdout is not None
    run_id, acked = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    import time

    t0 = time.monotonic()
    wait_for(lambda: rh.api().run(f"kill/{run_id}").state == "crashed", 5, "the run to be marked crashed")
    assert time.monotonic() - t0 < 5
    rows = rh.api().run(f"kill/{run_id}").history(pandas=False, samples=None)
    steps = [r["i"] for r in rows]
    assert len(rows) >= int(acked)
    assert steps == list(range(len(rows)))  # a prefix, in order, no holes


def test_other_user_cannot_connect(rh: RhEnv) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to create a second user (useradd); the 0700 directory check is tested below")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    user = "rhtestother"
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", user], check=True)
    rh.cli("service", "start")
    pw = pwd.getpwnam(user)
    # A forked child that becomes the other user tries the socket and the token file; it only makes syscalls.
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(str(rh.svc / "service.sock"))
            except PermissionError:
                try:
                    open(rh.svc / "token").read()
                except PermissionError:
                    code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "another user could reach the socket or the token"
    # The token file is unreadable to them as well.
    assert (rh.svc.stat().st_mode & 0o777) == 0o700
    assert ((rh.svc / "token").stat().st_mode & 0o777) == 0o600


def test_socket_dir_permissions_are_private(rh: RhEnv) -> None:
    rh.cli("service", "start")
    assert (rh.svc.stat().st_mode & 0o777) == 0o700
    assert rh.svc.stat().st_uid == os.getuid()


def test_rebuild_store_from_wals_gives_same_runs(rh: RhEnv) -> None:
    code = """
    import runhive, sys
    for k in range(3):
        with runhive.init(project="rb", config={"k": k, "nested": {"a": k}}) as run:
            for i in range(500):
                run.log({"loss": 1.0 / (i + 1 + k), "acc": i / 500})
            run.summary["best"] = k
    """
    rh.run(code)

    def snapshot() -> dict[str, object]:
        out = {}
        for r in rh.api().runs("rb"):
            out[r.id] = {
                "name": r.name,
                "state": r.state,
                "config": r.config,
                "summary": r.summary,
                "rows": r.history(pandas=False, samples=None),
                "loss": r.metric("loss"),
            }
        return out

    before = snapshot()
    assert len(before) == 3
    rh.cli("service", "stop")
    wait_for(lambda: not rh.daemon_pids(), 15, "the daemon to stop")
    for suffix in ("", "-wal", "-shm"):
        p = rh.store.with_name(rh.store.name + suffix)
        if p.exists():
            p.unlink()
    assert not rh.store.exists()
    out = rh.cli("store", "rebuild").stdout
    assert "3 run directories" in out
    after = snapshot()
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_rebuild_refuses_while_daemon_runs(rh: RhEnv) -> None:
    rh.cli("service", "start")
    res = rh.cli("store", "rebuild", check=False)
    assert res.returncode != 0 and "stop the daemon first" in res.stdout
