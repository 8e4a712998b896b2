"""Faults (issue 4): client SIGKILL loss window, WAL damage, signals to the training process and to the
whole job (scancel). Every test runs real processes and prints its figure (`pytest -s` shows it)."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import RhEnv, figure, wait_for

ROW = ", ".join(f'"k{k}": {k}.5' for k in range(9))

# Logs forever; after every log() it appends "<i> <monotonic time>" to a progress file with one write(2),
# which survives the process's SIGKILL (page cache), so the test knows what was logged and when.
LOGGER = f"""
import runhive, sys, time
project, progress, pace = sys.argv[1], sys.argv[2], float(sys.argv[3])
run = runhive.init(project=project)
out = open(progress, "wb", buffering=0)
print(run.id, flush=True)
i = 0
t0 = time.monotonic()
while True:
    run.log({{"i": i, {ROW}}})
    out.write(b"%d %.6f\\n" % (i, time.monotonic()))
    i += 1
    if pace:
        delay = t0 + i * pace - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the workload, as a training step would
"""


def _progress(path: Path) -> list[tuple[int, float]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in data.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((int(parts[0]), float(parts[1])))
    return out


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_client_sigkill_loss_window(rh: RhEnv) -> None:
    """Rows logged >= 50 ms before a SIGKILL of the training process are stored (target: 0 lost)."""
    rh.cli("service", "start")
    results = []
    # (label, seconds per step, rows logged before the kill): a fast training loop (1 kHz) and log() flat out.
    for label, pace, warm in (("1 kHz", 0.001, 400), ("flat out", 0.0, 30_000)):
        for trial in range(3):
            progress = rh.root / f"progress-{pace}-{trial}"
            proc = rh.spawn(LOGGER, "loss", str(progress), str(pace))
            assert proc.stdout is not None
            run_id = proc.stdout.readline().strip()
            assert run_id, proc.stderr.read() if proc.stderr else ""
            wait_for(lambda p=progress, w=warm: _lines(p) >= w, 30, f"{label}: {warm} rows logged")
            t_kill = time.monotonic()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            wait_for(
                lambda r=run_id: rh.api().run(f"loss/{r}").state == "crashed", 5, "the run to be crashed"
            )
            stored = [row["i"] for row in rh.api().run(f"loss/{run_id}").history(pandas=False, samples=None)]
            assert stored == list(range(len(stored))), "stored rows are not a prefix of what was logged"
            logged = _progress(progress)
            lost = [(i, t) for i, t in logged if i >= len(stored)]
            old = [i for i, t in lost if t <= t_kill - 0.050]
            window_ms = (t_kill - min(t for _, t in lost)) * 1e3 if lost else 0.0
            results.append((label, len(logged), len(lost), len(old), window_ms))
            assert not old, f"{label}: {len(old)} rows logged >= 50 ms before the SIGKILL were lost"
    for label in ("1 kHz", "flat out"):
        mine = [r for r in results if r[0] == label]
        figure(
            f"client SIGKILL loss, {label}",
            f"{len(mine)} kills; rows logged {min(r[1] for r in mine)}-{max(r[1] for r in mine)}; lost "
            f"{min(r[2] for r in mine)}-{max(r[2] for r in mine)} rows, all younger than "
            f"{max(r[4] for r in mine):.1f} ms; lost rows logged >= 50 ms before the kill: "
            f"{sum(r[3] for r in mine)}",
        )


# WAL damage -----------------------------------------------------------------------------------------------------

FOUR_PARTS = """
import runhive, sys
run = runhive.init(project="dmg")
print(run.id, run.dir, flush=True)
for part in range(4):
    for i in range(part * 300, part * 300 + 300):
        run.log({"i": i})
    # Each part is acknowledged before the next is logged, so it lands in WAL frames of its own.
    assert run._sender.wait_acked(run._handle, run._last_seq, 30)
    print("acked", part, flush=True)
if sys.argv[1] == "finish":
    run.finish()
else:
    print("ready", flush=True)
    sys.stdin.readline()
"""


def _frames(wal: Path) -> list[tuple[int, int, list[int]]]:
    """(start, end, logged "i" values) of every frame, from the WAL's own reader plus the frame layout."""
    from runhive.protocol.rows import decode_rows
    from runhive_service.rundir._wal import MAGIC, read_wal

    by_end: dict[int, list[int]] = {}
    for end, rec in read_wal(wal):
        steps = by_end.setdefault(end, [])
        if rec.WhichOneof("kind") == "history":
            steps.extend(int(row["i"]) for row in decode_rows(rec.history))
    frames, start = [], len(MAGIC)
    for end in sorted(by_end):
        length = struct.unpack_from("<I", wal.read_bytes(), start)[0]
        assert start + 8 + length == end, "frame layout is [u32 length][u32 crc32][payload]"
        frames.append((start, end, by_end[end]))
        start = end
    return frames


def _damage(wal: Path) -> tuple[tuple[int, int, list[int]], tuple[int, int, list[int]]]:
    """Flip one bit in the middle of a frame holding history rows, and tear the last frame in two."""
    frames = _frames(wal)
    history = [f for f in frames if f[2]]
    middle = history[1]  # an intact frame follows it: the reader skips the damage and goes on
    last = frames[-1]
    assert frames.index(last) > frames.index(middle) + 1
    data = bytearray(wal.read_bytes())
    pos = (middle[0] + 8 + middle[1]) // 2
    data[pos] ^= 0x10
    cut = (last[0] + last[1]) // 2
    wal.write_bytes(bytes(data[:cut]))
    return middle, last


def test_wal_damage_is_reported_by_rebuild(rh: RhEnv) -> None:
    out = rh.run(FOUR_PARTS, "finish").stdout.split()
    run_id, run_dir = out[0], Path(out[1])
    wal = run_dir / f"run-{run_id}.rhwal"
    rh.cli("service", "stop")
    wait_for(lambda: not rh.daemon_pids(), 15, "the daemon to stop")
    middle, last = _damage(wal)
    res = rh.cli("store", "rebuild")
    text = " ".join((res.stdout + res.stderr).split())
    figure("WAL damage, rebuild", " | ".join(line for line in res.stdout.splitlines() if "damage" in line))
    assert f"{wal} at byte {middle[0]}: CRC mismatch" in text, text
    assert f"{wal} at byte {last[0]}: torn" in text, text
    run = rh.api().run(f"dmg/{run_id}")
    steps = [row["i"] for row in run.history(pandas=False, samples=None)]
    # Exactly the damaged frame's rows are missing: the store never holds part of a frame.
    assert steps == [i for i in range(1200) if i not in set(middle[2])]
    assert run.state == "running"  # the torn last frame held the run's end
    from runhive_service.rundir._wal import ReadResult, read_wal

    res2 = ReadResult()
    list(read_wal(wal, 0, res2))
    assert [d.offset for d in res2.damage] == [middle[0], last[0]]


def test_wal_damage_in_unapplied_tail_is_recovered_by_next_daemon(rh: RhEnv) -> None:
    """The daemon dies before its store caught up; the WAL tail is damaged; the next daemon applies every
    intact frame, names the file and offset of each damaged one in its log, and marks the run crashed."""
    # A daemon whose store writer is stalled: everything is durable in the WAL, nothing in the store.
    slow = {"RUNHIVE_TEST_APPLY_DELAY": "30"}
    proc = rh.spawn(FOUR_PARTS, "wait", stdin=subprocess.PIPE, env=slow)
    assert proc.stdout is not None
    run_id, run_dir = proc.stdout.readline().split()
    assert proc.stdout.readline().split() == ["acked", "0"]
    wait_for(lambda: proc.stdout is not None and proc.stdout.readline().strip() == "ready", 30, "4 parts")
    [daemon] = rh.daemon_pids()
    os.kill(daemon, signal.SIGKILL)
    proc.kill()
    proc.wait(10)
    wait_for(lambda: not rh.daemon_pids(), 10, "the daemon to die")
    assert not rh.api().runs("dmg"), "the stalled store writer applied something"
    wal = Path(run_dir) / f"run-{run_id}.rhwal"
    middle, last = _damage(wal)
    rh.cli("service", "start")
    wait_for(
        lambda: rh.api().runs("dmg") and rh.api().run(f"dmg/{run_id}").state == "crashed", 15, "recovery"
    )
    log = (rh.svc / "service.log").read_text()
    lines = [line for line in log.splitlines() if "WAL damage" in line]
    figure("WAL damage, daemon recovery", " | ".join(line.split(": ", 1)[-1] for line in lines))
    assert any(f"{wal} at byte {middle[0]}: CRC mismatch" in line for line in lines), log
    assert any(f"{wal} at byte {last[0]}: torn" in line for line in lines), log
    steps = [row["i"] for row in rh.api().run(f"dmg/{run_id}").history(pandas=False, samples=None)]
    lost = set(middle[2]) | set(last[2])
    assert steps == [i for i in range(1200) if i not in lost]
    # The torn tail was cut off before the crash record was appended: the log reads clean from now on,
    # and a rebuild from it gives the same run.
    from runhive_service.rundir._wal import ReadResult, read_wal

    res = ReadResult()
    list(read_wal(wal, 0, res))
    assert [d.offset for d in res.damage] == [middle[0]]
    rh.cli("service", "stop")
    wait_for(lambda: not rh.daemon_pids(), 15, "the daemon to stop")
    before = rh.api().run(f"dmg/{run_id}").history(pandas=False, samples=None)
    rh.cli("store", "rebuild")
    after = rh.api().run(f"dmg/{run_id}")
    assert after.history(pandas=False, samples=None) == before and after.state == "crashed"


# Signals --------------------------------------------------------------------------------------------------------

SIGNALLED = """
import runhive, signal, sys, time
mode, progress = sys.argv[1], sys.argv[2]
if mode == "user-handler":
    def handler(signum, frame):
        print("user handler", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, handler)
runs = [runhive.init(project="sig", reinit="create_new") for _ in range(2)]
out = open(progress, "wb", buffering=0)
print(" ".join(r.id for r in runs), flush=True)
i = 0
while True:
    for r in runs:
        r.log({"i": i})
    out.write(b"%d\\n" % i)
    i += 1
    time.sleep(0.0005)  # pacing: a training step
"""


@pytest.mark.parametrize(
    ("mode", "sig", "exit_code", "returncode"),
    [
        ("plain", signal.SIGINT, 255, -signal.SIGINT),  # KeyboardInterrupt: 255, as W&B
        ("plain", signal.SIGTERM, 128 + signal.SIGTERM, -signal.SIGTERM),
        ("user-handler", signal.SIGTERM, 3, 3),  # the user's own handler wins
    ],
    ids=["sigint", "sigterm", "sigterm-user-handler"],
)
def test_signal_finishes_runs_with_exit_code(
    rh: RhEnv, mode: str, sig: int, exit_code: int, returncode: int
) -> None:
    progress = rh.root / "progress"
    proc = rh.spawn(SIGNALLED, mode, str(progress))
    assert proc.stdout is not None
    ids = proc.stdout.readline().split()
    wait_for(lambda: _lines(progress) >= 300, 30, "300 steps")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == returncode, err
    if mode == "user-handler":
        assert "user handler" in out
    logged = _lines(progress)
    for rid in ids:
        run = rh.api().run(f"sig/{rid}")
        rows = [r["i"] for r in run.history(pandas=False, samples=None)]
        # Every step logged before the signal is stored (the one in progress may be too).
        assert rows == list(range(len(rows))) and len(rows) >= logged, (len(rows), logged)
        assert (run.state, run.exit_code) == ("failed", exit_code)
    figure(
        f"signal {signal.Signals(sig).name} ({mode})",
        f"process exit status {proc.returncode}; both runs failed with exit code {exit_code}; "
        f"{logged} steps logged, 0 lost",
    )


def test_sigterm_to_job_and_daemon_like_scancel(rh: RhEnv) -> None:
    """SLURM's scancel signals every process of the job: the training process and the daemon get SIGTERM at
    once. No WAL or store is damaged, nothing logged is lost, and the next daemon completes the work."""
    rh.cli("service", "start")
    [daemon] = rh.daemon_pids()
    progress = rh.root / "progress"
    proc = rh.spawn(SIGNALLED, "plain", str(progress), start_new_session=True)
    assert proc.stdout is not None
    ids = proc.stdout.readline().split()
    wait_for(lambda: _lines(progress) >= 500, 30, "500 steps")
    os.killpg(os.getpgid(daemon), signal.SIGTERM)  # the daemon runs in a session of its own
    os.killpg(proc.pid, signal.SIGTERM)
    _out, err = proc.communicate(timeout=90)
    assert proc.returncode == -signal.SIGTERM, err
    logged = _lines(progress)
    rh.cli("service", "start")  # the next job's first init() would do the same

    def settled() -> bool:
        return all(rh.api().run(f"sig/{r}").state != "running" for r in ids)

    wait_for(settled, 15, "the runs to settle")
    from runhive_service.rundir._wal import ReadResult, read_wal

    for rid in ids:
        run = rh.api().run(f"sig/{rid}")
        rows = [r["i"] for r in run.history(pandas=False, samples=None)]
        assert rows == list(range(len(rows))) and len(rows) >= logged
        assert (run.state, run.exit_code) == ("failed", 128 + signal.SIGTERM)
        res = ReadResult()
        list(read_wal(Path(run.dir) / f"run-{rid}.rhwal", 0, res))
        assert not res.damage
    figure(
        "scancel (SIGTERM to the job's and the daemon's process groups)",
        f"{logged} steps logged, 0 lost, 0 WAL damage; runs failed with exit code 143",
    )
