"""Console capture (W&B's `console` setting): what a run's process writes to sys.stdout / sys.stderr is stored as
the run's `output.log` file (terminal emulation of `\\r` and cursor moves as W&B's), still printed on the
terminal; "off" stores nothing; a SIGKILL loses nothing already flushed; several runs and processes."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from conftest import RhEnv, wait_for


@pytest.fixture(autouse=True)
def _no_login(rh: RhEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # A `runhive login` of the machine (~/.config/runhive) would send these runs to a team server: local only.
    config = str(rh.root / "config")
    rh.environ["RUNHIVE_CONFIG_DIR"] = config
    monkeypatch.setenv("RUNHIVE_CONFIG_DIR", config)


PRINTS = """
import sys, time
import runhive as wandb

run = wandb.init(project="con", name="p", settings=wandb.Settings(console=sys.argv[1]))
print("hello from stdout")
print("a warning on stderr", file=sys.stderr)
for i in range(0, 101, 20):  # a tqdm-like bar: \\r redraws, one final line
    sys.stderr.write(f"\\rtraining {i:3d}%|{'#' * (i // 10):10s}|")
    sys.stderr.flush()
sys.stderr.write("\\n")
print("no newline yet", end="")
print(" - done")
sys.stdout.write("line one\\nline two\\n")
print("isatty", sys.stdout.isatty(), "fileno", sys.stdout.fileno(), "encoding", sys.stdout.encoding)
run.finish()
print("after finish: not captured")
"""


def _output(rh: RhEnv, project: str, run_id: str | None = None) -> str | None:
    api = rh.api()
    run = api.run(f"{project}/{run_id}") if run_id else api.runs(project)[0]
    names = [f.name for f in run.files()]
    if "output.log" not in names:
        return None
    dest = rh.root / "dl" / run.id
    return Path(run.file("output.log").download(root=str(dest), replace=True).name).read_text()


def test_prints_are_stored_as_output_log_and_still_printed(rh: RhEnv) -> None:
    res = rh.run(PRINTS, "auto")
    assert "hello from stdout" in res.stdout and "after finish" in res.stdout  # the terminal is unchanged
    assert "a warning on stderr" in res.stderr and "training 100%" in res.stderr
    assert "isatty False fileno 1 encoding utf-8" in res.stdout
    text = _output(rh, "con")
    assert text is not None
    lines = text.splitlines()
    assert lines[:6] == [
        "hello from stdout",
        "a warning on stderr",
        "training 100%|##########|",  # the bar's redraws collapsed to its last state, as W&B's emulator
        "no newline yet - done",
        "line one",
        "line two",
    ]
    assert lines[6].startswith("isatty False")
    assert "after finish: not captured" not in text
    assert text.endswith("\n")


@pytest.mark.parametrize("mode", ["wrap", "redirect", "wrap_emu", "wrap_raw"])
def test_every_capturing_mode_captures(rh: RhEnv, mode: str) -> None:
    rh.run(PRINTS, mode)
    text = _output(rh, "con")
    assert text is not None and "hello from stdout" in text and "training 100%" in text


def test_console_off_captures_nothing(rh: RhEnv) -> None:
    res = rh.run(PRINTS, "off")
    assert "hello from stdout" in res.stdout
    assert _output(rh, "con") is None


def test_console_from_the_environment(rh: RhEnv) -> None:
    rh.environ["WANDB_CONSOLE"] = "off"
    rh.run(PRINTS.replace("settings=wandb.Settings(console=sys.argv[1])", ""), "unused")
    assert _output(rh, "con") is None


KILLED = """
import sys, threading
import runhive as wandb

run = wandb.init(project="kill", name="k")
print("RUNDIR", run.dir, flush=True)
for i in range(500):
    print(f"step {i} loss {1 / (i + 1):.4f}")
sys.stderr.write("\\rprogress 7/10")  # a bar in progress when the process dies
print("LAST", flush=True)
threading.Event().wait()  # until SIGKILL
"""


def test_sigkill_keeps_every_line_written_before(rh: RhEnv) -> None:
    proc = rh.spawn(KILLED)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("RUNDIR "), first + (proc.stderr.read() if proc.stderr else "")
    log = Path(first.split(" ", 1)[1].strip()) / "files" / "output.log"
    # The flusher writes in bounded time: the last line is in the file while the process still lives.
    wait_for(lambda: log.is_file() and "LAST\n" in log.read_text(), timeout=20, what="output.log flushed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    lines = log.read_text().splitlines()
    steps = [line for line in lines if line.startswith("step ")]
    assert steps == [f"step {i} loss {1 / (i + 1):.4f}" for i in range(500)]
    assert "progress 7/10" in lines and lines[-1] == "LAST"
    # The run is crashed (its writer died) and output.log is one of its files.
    run = wait_for(
        lambda: next((r for r in rh.api().runs("kill") if r.state == "crashed"), None),
        timeout=30,
        what="the killed run marked crashed",
    )
    assert "output.log" in [f.name for f in run.files()]


CRASH = """
import runhive as wandb
run = wandb.init(project="crash")
print("before the error")
raise RuntimeError("boom")
"""


def test_uncaught_exception_traceback_is_captured(rh: RhEnv) -> None:
    res = rh.run(CRASH, check=False)
    assert res.returncode == 1
    text = _output(rh, "crash")
    assert text is not None
    assert "before the error" in text
    assert "RuntimeError: boom" in text and "Traceback (most recent call last):" in text


TWO_RUNS = """
import runhive as wandb
a = wandb.init(project="two", id="runa")
print("one")
b = wandb.init(project="two", id="runb", reinit="create_new")
print("two")
a.finish()
print("three")
b.finish()
print("four")
c = wandb.init(project="two", id="runc")
print("five")
d = wandb.init(project="two", id="rund")  # finish_previous: c stops capturing
print("six")
"""


def test_runs_active_together_each_get_the_output(rh: RhEnv) -> None:
    rh.run(TWO_RUNS)
    assert _output(rh, "two", "runa") == "one\ntwo\n"
    assert _output(rh, "two", "runb") == "two\nthree\n"
    # runhive's own "Finishing previous runs" line is printed while runc still captures (so are W&B's).
    assert [
        line for line in (_output(rh, "two", "runc") or "").splitlines() if not line.startswith("runhive:")
    ] == ["five"]
    assert _output(rh, "two", "rund") == "six\n"


SHARED = """
import sys
import runhive as wandb
label = sys.argv[1]
run = wandb.init(project="shared", id="one", resume="allow", settings=wandb.Settings(x_label=label, mode="shared"))
for i in range(300):
    print(f"{label} line {i}")
    if i % 50 == 0:
        sys.stdout.write(f"\\r{label} bar {i}")
        sys.stdout.write("\\n")
run.finish()
"""


def test_processes_sharing_a_run_write_whole_labelled_lines(rh: RhEnv) -> None:
    rh.run(SHARED, "first")  # creates the run
    procs = [rh.spawn(SHARED, label) for label in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    text = _output(rh, "shared", "one")
    assert text is not None
    lines = text.splitlines()
    for label in ("first", "a", "b"):
        mine = [line for line in lines if line.startswith(f"[{label}] ")]
        assert [m for m in mine if " line " in m] == [f"[{label}] {label} line {i}" for i in range(300)]
        assert len([m for m in mine if " bar " in m]) == 6
    assert all(line.startswith(("[first] ", "[a] ", "[b] ")) for line in lines)


def test_capsys_and_capfd_keep_working(rh: RhEnv, capsys: pytest.CaptureFixture[str]) -> None:
    import runhive

    stream = sys.stdout
    run = runhive.init(project="capsys", settings=runhive.Settings(console="wrap"))
    try:
        assert "write" in vars(stream)  # wrapped on the instance: the same object, other attributes untouched
        print("seen by capsys")
        print("err seen by capsys", file=sys.stderr)
        out, err = capsys.readouterr()
        assert out == "seen by capsys\n" and err == "err seen by capsys\n"
    finally:
        run.finish()
    assert "write" not in vars(stream)  # restored at finish
    print("after")
    assert capsys.readouterr().out == "after\n"
    text = Path(run.dir, "files", "output.log").read_text()
    assert text == "seen by capsys\nerr seen by capsys\n"


def test_capfd_sees_the_output(rh: RhEnv, capfd: pytest.CaptureFixture[str]) -> None:
    import runhive

    run = runhive.init(project="capfd")
    print("through the fd")
    sys.stdout.flush()
    run.finish()
    assert "through the fd" in capfd.readouterr().out
    assert Path(run.dir, "files", "output.log").read_text() == "through the fd\n"
