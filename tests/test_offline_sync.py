"""Issue 3, item 8: offline (alias dryrun) runs reach the store only through `runhive sync`, which is idempotent
and resumable; disabled mode starts nothing and writes nothing. Seed 002's offline example runs as written."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from conftest import RhEnv, wait_for


def _run_dirs(rh: RhEnv) -> list[Path]:
    base = rh.work / "runhive"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.exists() else []


def _one_run_dir(rh: RhEnv, prefix: str = "offline-run-") -> Path:
    dirs = [d for d in _run_dirs(rh) if d.name.startswith(prefix)]
    assert len(dirs) == 1, dirs
    return dirs[0]


def _stored(rh: RhEnv, project: str) -> list:
    if not rh.store.exists():
        return []
    return rh.api().runs(project)


def _store_rows(rh: RhEnv) -> int:
    """History rows in the store for all runs, read without the daemon's help."""
    if not rh.store.exists():
        return 0
    db = sqlite3.connect(f"file:{rh.store}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("SELECT COALESCE(SUM(history_rows), 0) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:  # the daemon has not created the schema yet
        return 0
    finally:
        db.close()


def _wal_history_rows(run_dir: Path) -> int:
    from runhive_service.rundir._wal import read_wal

    (wal,) = run_dir.glob("run-*.rhwal")
    return sum(rec.history.rows or 1 for _end, rec in read_wal(wal) if rec.WhichOneof("kind") == "history")


OFFLINE_RUN = """
import sys
import runhive as wandb
n = int(sys.argv[1])
run = wandb.init(project="off", mode="offline", config={"lr": 0.1, "layers": [1, 2]}, tags=["a"])
for i in range(n):
    run.log({"loss": 1.0 / (i + 1), "i": i, "tag": "x"})
run.summary["best"] = 0.5
run.config.update({"late": True})
print(run.dir)
run.finish()
"""


def test_offline_run_reaches_the_store_only_through_sync(rh: RhEnv) -> None:
    out = rh.run(OFFLINE_RUN, "300").stdout.strip().splitlines()[-1]
    run_dir = Path(out)
    assert run_dir.parent == rh.work / "runhive" and run_dir.name.startswith("offline-run-")
    assert (run_dir / f"run-{run_dir.name.rsplit('-', 1)[1]}.rhwal").exists()
    assert _stored(rh, "off") == []  # offline: nothing in the store

    res = rh.cli("sync", str(run_dir))
    assert "synced" in res.stdout and "300 history rows" in res.stdout, res.stdout
    (run,) = _stored(rh, "off")
    assert run.state == "finished" and run.exit_code == 0
    assert run.history_rows == 300 and run.last_step == 299
    rows = run.history(pandas=False, samples=None)
    assert [r["i"] for r in rows] == list(range(300))
    assert [r["_step"] for r in rows] == list(range(300))
    assert run.config == {"lr": 0.1, "layers": [1, 2], "late": True}
    assert run.summary["best"] == 0.5 and run.summary["i"] == 299 and run.summary["tag"] == "x"
    assert run.tags == ["a"]
    assert run.dir == str(run_dir)
    assert (run_dir / ".synced").exists() and not (run_dir / ".syncing").exists()
    # Synced runs are online runs of the store.
    db = sqlite3.connect(f"file:{rh.store}?mode=ro", uri=True)
    assert db.execute("SELECT mode FROM runs").fetchall() == [("online",)]
    db.close()

    # Idempotent: a second sync skips it; forcing it finds nothing new.
    again = rh.cli("sync", str(run_dir))
    assert "skipped" in again.stdout and "already synced" in again.stdout, again.stdout
    forced = rh.cli("sync", "--include-synced", str(run_dir))
    assert "nothing new" in forced.stdout, forced.stdout
    (run,) = _stored(rh, "off")
    assert (
        run.history_rows == 300
        and len(run.history(pandas=False, samples=None)) == 300
        and run.state == "finished"
    )


def test_sync_a_directory_of_runs_skips_online_ones(rh: RhEnv) -> None:
    rh.run(OFFLINE_RUN, "10")
    rh.run(OFFLINE_RUN, "20")
    rh.run(  # fails: exit code 1 recorded by the exception
        """
        import runhive as wandb
        with wandb.init(project="off", mode="offline", name="broken") as run:
            run.log({"x": 1})
            raise SystemExit(3)
        """,
        check=False,
    )
    rh.run(
        """
        import runhive as wandb
        with wandb.init(project="on") as run:
            run.log({"x": 1})
        """
    )
    assert len(_run_dirs(rh)) == 4
    res = rh.cli("sync", "runhive", check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 synced, 1 skipped" in res.stdout, res.stdout
    assert "written online" in res.stdout
    runs = _stored(rh, "off")
    assert sorted(r.history_rows for r in runs) == [1, 10, 20]
    broken = next(r for r in runs if r.name == "broken")
    assert broken.state == "failed" and broken.exit_code == 1
    assert all(r.state == "finished" for r in runs if r.name != "broken")
    (online,) = _stored(rh, "on")
    assert online.history_rows == 1  # untouched
    # The default PATH is ./runhive: everything is already synced now.
    res = rh.cli("sync")
    assert "0 synced, 4 skipped" in res.stdout, res.stdout


def test_wal_without_exit_record_is_closed_with_exit_code_1(rh: RhEnv) -> None:
    """A WAL whose end was lost with its machine (copied before the run ended): no exit record, so sync closes the
    run with exit code 1 (state failed), as W&B's sync does."""
    from runhive_service.rundir._wal import read_frames

    src = Path(rh.run(OFFLINE_RUN, "50").stdout.strip().splitlines()[-1])
    (wal,) = src.glob("run-*.rhwal")
    cut, kept_rows = 0, 0
    for end, group in read_frames(wal):
        if any(r.WhichOneof("kind") == "exit" for r in group.records):
            break
        cut = end
        kept_rows += sum(r.history.rows or 1 for r in group.records if r.WhichOneof("kind") == "history")
    dst = rh.work / "copied" / src.name
    dst.mkdir(parents=True)
    (dst / wal.name).write_bytes(wal.read_bytes()[:cut])

    res = rh.cli("sync", str(dst))
    assert "closed with exit code 1" in res.stdout, res.stdout
    (run,) = _stored(rh, "off")
    assert run.state == "failed" and run.exit_code == 1 and run.history_rows == kept_rows
    assert (dst / ".synced").exists()
    assert (dst / wal.name).stat().st_size == cut  # the WAL is left as it was
    # The original is the same run with its end: syncing it continues from the stored offset, adds only what the
    # copy lacked, and the real exit code replaces the assumed one.
    res = rh.cli("sync", str(src))
    assert "synced" in res.stdout and "50 history rows, state finished" in res.stdout, res.stdout
    (run,) = _stored(rh, "off")
    assert run.state == "finished" and run.exit_code == 0 and run.history_rows == 50
    assert [r["i"] for r in run.history(pandas=False, samples=None)] == list(range(50))


def test_offline_process_killed_is_crashed_after_sync(rh: RhEnv) -> None:
    proc = rh.spawn(
        """
        import runhive as wandb
        run = wandb.init(project="off", mode="offline")
        i = 0
        while True:
            run.log({"i": i})
            i += 1
        """
    )
    wait_for(lambda: _run_dirs(rh), 30, "the offline run directory")
    run_dir = _one_run_dir(rh)
    wait_for(lambda: _wal_history_rows(run_dir) >= 1000, 30, "1000 rows in the offline WAL")
    proc.kill()
    proc.wait()

    def crash_recorded() -> bool:
        from runhive_service.rundir._wal import read_wal

        (wal,) = run_dir.glob("run-*.rhwal")
        return any(rec.WhichOneof("kind") == "exit" for _e, rec in read_wal(wal))

    wait_for(crash_recorded, 30, "the daemon to record the crash in the offline WAL")
    rows = _wal_history_rows(run_dir)
    rh.cli("sync", str(run_dir))
    (run,) = _stored(rh, "off")
    assert run.state == "crashed" and run.history_rows == rows


def test_sync_of_a_live_offline_run_is_partial_then_completes(rh: RhEnv) -> None:
    proc = rh.spawn(
        """
        import sys
        import runhive as wandb
        run = wandb.init(project="off", mode="offline")
        for i in range(500):
            run.log({"i": i})
        print("logged", flush=True)
        sys.stdin.readline()
        for i in range(500, 700):
            run.log({"i": i})
        run.finish()
        """,
        stdin=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "logged"
    run_dir = _one_run_dir(rh)
    wait_for(lambda: _wal_history_rows(run_dir) == 500, 30, "500 rows in the offline WAL")
    res = rh.cli("sync", str(run_dir))
    assert "partial" in res.stdout and "still being written" in res.stdout, res.stdout
    (run,) = _stored(rh, "off")
    assert run.state == "running" and run.history_rows == 500
    assert not (run_dir / ".synced").exists()

    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.wait(timeout=60) == 0
    res = rh.cli("sync", str(run_dir))
    assert "synced" in res.stdout and "700 history rows" in res.stdout, res.stdout
    (run,) = _stored(rh, "off")
    assert run.state == "finished" and run.history_rows == 700
    assert [r["i"] for r in run.history(pandas=False, samples=None)] == list(range(700))


def _spawn_cli(rh: RhEnv, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "runhive.cli._main", *args],
        cwd=rh.work,
        env={**rh.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rh.procs.append(proc)
    return proc


@pytest.mark.parametrize("victim", ["daemon", "cli"])
def test_interrupted_sync_resumes_with_every_row_once(rh: RhEnv, victim: str) -> None:
    total = 200_000
    rh.run(
        """
        import sys
        import runhive as wandb
        run = wandb.init(project="big", mode="offline")
        for i in range(int(sys.argv[1])):
            run.log({"i": i, "loss": 0.5})
        run.finish()
        """,
        str(total),
        timeout=300,
    )
    run_dir = _one_run_dir(rh)
    # Small chunks, so the sync takes many transactions and can be caught half-way.
    rh.environ["RUNHIVE_SYNC_CHUNK"] = "500"
    # ... and a store writer slow enough (20 µs a row, 4 s in all) that the poll below sees it mid-way.
    rh.environ["RUNHIVE_TEST_APPLY_DELAY"] = "0.00002"
    for pid in rh.daemon_pids():  # the next daemon starts with the environment above
        os.kill(pid, signal.SIGTERM)
        psutil.Process(pid).wait(30)
    cli = _spawn_cli(rh, "sync", str(run_dir))
    wait_for(lambda: _store_rows(rh) > 0, 60, "the sync to store its first rows")
    (daemon,) = rh.daemon_pids()
    if victim == "daemon":
        os.kill(daemon, signal.SIGSTOP)
        done = _store_rows(rh)
        os.kill(daemon, signal.SIGKILL)
        psutil.Process(daemon).wait(30)
    else:
        os.kill(cli.pid, signal.SIGSTOP)
        done = _store_rows(rh)
        cli.kill()
    out, err = cli.communicate(timeout=60)
    assert 0 < done < total, f"the sync was not interrupted half-way ({done} of {total} rows)"
    if victim == "daemon":
        assert cli.returncode == 1 and "failed" in out, out + err
        assert (run_dir / ".syncing").exists() and not (run_dir / ".synced").exists()

    res = rh.cli("sync", str(run_dir), timeout=300)
    assert "synced" in res.stdout, res.stdout
    (run,) = _stored(rh, "big")
    assert run.state == "finished" and run.history_rows == total and run.last_step == total - 1
    steps = [r["_step"] for r in run.scan_history()]
    assert steps == list(range(total))
    assert (run_dir / ".synced").exists() and not (run_dir / ".syncing").exists()
    res = rh.cli("sync", "--include-synced", str(run_dir))
    assert "nothing new" in res.stdout
    assert _stored(rh, "big")[0].history_rows == total


# Seed 002, "ログをオフラインで保存します" (save logs offline), as written with `import wandb` replaced. The
# example's own placeholder YOUR_KEY_HERE is the user's W&B key; runhive never reads WANDB_API_KEY.
SEED_002_OFFLINE = """
import runhive as wandb
import os

os.environ["WANDB_API_KEY"] = YOUR_KEY_HERE
os.environ["WANDB_MODE"] = "dryrun"

config = {
  "dataset": "CIFAR10",
  "machine": "offline cluster",
  "model": "CNN",
  "learning_rate": 0.01,
  "batch_size": 128,
}

wandb.init(project="offline-demo")

for i in range(100):
  wandb.log({"accuracy": i})
"""


def test_seed_002_offline_example_then_sync(rh: RhEnv) -> None:
    rh.run('YOUR_KEY_HERE = "0123456789abcdef0123456789abcdef01234567"\n' + SEED_002_OFFLINE)
    run_dir = _one_run_dir(rh)
    assert _stored(rh, "offline-demo") == []
    # `wandb sync wandb/dryrun-folder-name`
    res = rh.cli("sync", f"runhive/{run_dir.name}")
    assert "synced" in res.stdout, res.stdout
    (run,) = _stored(rh, "offline-demo")
    assert run.state == "finished" and run.history_rows == 100
    assert [r["accuracy"] for r in run.history(pandas=False, samples=None)] == list(range(100))
    assert run.summary["accuracy"] == 99


@pytest.mark.parametrize(
    "how",
    [
        ("arg", {}, 'mode="dryrun"'),
        ("RUNHIVE_MODE", {"RUNHIVE_MODE": "dryrun"}, ""),
        ("WANDB_MODE", {"WANDB_MODE": "offline"}, ""),
    ],
    ids=lambda h: h[0],
)
def test_dryrun_alias_and_mode_environment(rh: RhEnv, how: tuple[str, dict[str, str], str]) -> None:
    _name, env, arg = how
    out = rh.run(
        f"""
        import runhive as wandb
        run = wandb.init(project="dry", {arg})
        run.log({{"x": 1}})
        print(run.offline)
        run.finish()
        """,
        env=env,
    ).stdout
    assert out.strip().splitlines()[-1] == "True"
    run_dir = _one_run_dir(rh)
    assert _stored(rh, "dry") == []
    rh.cli("sync", str(run_dir))
    (run,) = _stored(rh, "dry")
    assert run.state == "finished" and run.history_rows == 1


def test_offline_ignores_resume_with_a_warning(rh: RhEnv) -> None:
    rh.run(
        """
        import runhive as wandb
        with wandb.init(project="res", id="abc12345") as run:
            for i in range(5):
                run.log({"x": i})
        """
    )
    res = rh.run(
        """
        import runhive as wandb
        run = wandb.init(project="res", id="abc12345", resume="must", mode="offline")
        print(run.resumed, run.step)
        run.log({"x": 100})
        run.finish()
        """
    )
    assert "`resume` will be ignored since runhive syncing is set to `offline`" in res.stderr, res.stderr
    assert "run id abc12345" in res.stderr
    assert res.stdout.strip().splitlines()[-1] == "False 0"
    run_dir = _one_run_dir(rh)
    (online,) = _stored(rh, "res")
    assert online.history_rows == 5  # the offline run did not touch it

    # The id belongs to another run in the store: sync refuses, and --id stores it under a new id.
    res = rh.cli("sync", str(run_dir), check=False)
    assert res.returncode == 1 and "already exists in the store" in res.stdout and "--id" in res.stdout
    rh.cli("sync", "--id", "offcopy1", str(run_dir))
    runs = {r.id: r for r in _stored(rh, "res")}
    assert runs["abc12345"].history_rows == 5
    assert runs["offcopy1"].history_rows == 1 and runs["offcopy1"].state == "finished"


def test_sync_reports_bad_paths(rh: RhEnv) -> None:
    res = rh.cli("sync", "nowhere", check=False)
    assert res.returncode == 1 and "no such file or directory" in res.stdout
    (rh.work / "empty").mkdir()
    res = rh.cli("sync", "empty", check=False)
    assert res.returncode == 1 and "no runhive runs" in res.stdout
    assert rh.daemon_pids() == []  # nothing to sync: no daemon started


DISABLED = """
import os, sys, time
import runhive
import runhive as wandb
run = wandb.init(project="nope", config={"a": 1}, {arg})
assert run.disabled and run.id and run.name and run.project == "nope"
run.config.update({"b": 2})
run.config.c = 3
assert run.config["a"] == 1 and run.config.b == 2 and dict(run.config) == {"a": 1, "b": 2, "c": 3}
run.summary["best"] = 1.0
run.summary.update({"x": 2})
assert run.summary["best"] == 1.0
t = time.perf_counter()
for i in range(100_000):
    run.log({"loss": i})
    runhive.log({"acc": i})
elapsed = time.perf_counter() - t
runhive.config.update({"d": 4})
runhive.summary["y"] = 1
run.define_metric("loss", summary="min")
run.save()
assert runhive.run is run
run.finish()
assert runhive.run is None
with wandb.init({arg}) as run2:
    run2.log({"z": 1})
runhive.finish()
print(f"{elapsed:.3f}")
"""


@pytest.mark.parametrize("how", ["arg", "env"])
def test_disabled_mode_starts_nothing_and_writes_nothing(rh: RhEnv, how: str) -> None:
    code = DISABLED.replace("{arg}", 'mode="disabled"' if how == "arg" else "")
    res = rh.run(code, env={"RUNHIVE_MODE": "disabled"} if how == "env" else {})
    elapsed = float(res.stdout.strip().splitlines()[-1])
    assert elapsed < 5.0, f"200,000 disabled log() calls took {elapsed} s"
    assert rh.daemon_pids() == []
    assert not (rh.svc / "service.sock").exists()
    assert not (rh.work / "runhive").exists()
    assert list(rh.work.iterdir()) == []
    assert not rh.data.exists()
