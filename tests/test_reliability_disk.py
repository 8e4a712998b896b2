"""Disk full and unwritable run directories (issue 4): `init()` fails with a clear error when it cannot write at
all; when space runs out mid-run, `log()` never raises and warns once, `finish()` reports what was not
persisted, nothing already stored is damaged, and other runs carry on. Uses small tmpfs mounts (root)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import RhEnv, figure, wait_for


def _fill(path: Path, leave: int = 0) -> Path:
    """Fill the file system of `path` until `leave` bytes (rounded to pages) are free."""
    filler = path / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while f.write(b"\0" * 4096):
                pass
        except OSError:
            pass
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def test_init_fails_clearly_when_dir_cannot_be_written(rh: RhEnv, tmpfs: object) -> None:
    import runhive

    # A path under a regular file can never be created.
    afile = rh.work / "afile"
    afile.write_text("x")
    with pytest.raises(runhive.UsageError, match=r"dir=.*cannot be created") as info:
        runhive.init(project="disk", dir=str(afile / "sub"))
    messages = [str(info.value)]
    # A read-only file system (root ignores permission bits, not a read-only mount).
    ro = tmpfs(64, readonly=True)  # type: ignore[operator]
    with pytest.raises(runhive.UsageError, match=r"dir=.*not writable") as info:
        runhive.init(project="disk", dir=str(ro))
    assert str(ro) in str(info.value)
    messages.append(str(info.value))
    # A full file system: the daemon cannot write the run's WAL.
    full = tmpfs(64)  # type: ignore[operator]
    _fill(full)
    with pytest.raises(runhive.UsageError, match=r"dir=.*No space left on device") as info:
        runhive.init(project="disk", dir=str(full))
    assert str(full) in str(info.value)
    messages.append(str(info.value))
    # None of them left a run behind, and the daemon serves the next init as usual.
    with runhive.init(project="disk") as run:
        run.log({"x": 1})
    assert [r.id for r in rh.api().runs("disk")] == [run.id]
    figure("init() on an unusable dir=", " | ".join(messages))


MID_RUN = """
import json, runhive, sys
small, normal, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = runhive.init(project="disk", dir=small, reinit="create_new")
b = runhive.init(project="disk", dir=normal, reinit="create_new")
print(a.id, b.id, flush=True)
for i in range(n):
    a.log({"i": i, "pad": "x" * 200})  # ~250 bytes a row: the small file system fills up
    b.log({"i": i})
a.finish()
b.finish()
report = {
    "a": a._finish_report,
    "b": b._finish_report,
    "refused": a._handle.refused,
    "end_refused": a._handle.refused_top >= a._last_seq,
}
print(json.dumps(report), flush=True)
"""


def test_disk_full_mid_run(rh: RhEnv, tmpfs: object) -> None:
    small = tmpfs(1024)  # type: ignore[operator]
    filler = _fill(small, leave=256 * 1024)
    n = 20_000
    res = rh.run(MID_RUN, str(small), str(rh.work), str(n))
    ids, report = res.stdout.splitlines()[0].split(), json.loads(res.stdout.splitlines()[1])
    a_id, b_id = ids
    warnings = [line for line in res.stderr.splitlines() if "could not be persisted" in line]
    assert len(warnings) == 1, res.stderr  # log() warned once and never raised (the script ran to its end)
    assert "No space left on device" in warnings[0]
    assert "Traceback" not in res.stderr
    refused = int(report["refused"])
    assert refused > 0 and f"{refused} records were not persisted" in report["a"]
    assert report["b"] == ""
    a = rh.api().run(f"disk/{a_id}")
    rows = a.history(pandas=False, samples=None)
    # Nothing silently lost: every row is stored or counted as not persisted (the exit record may be either).
    assert len(rows) + refused == n + (1 if report["end_refused"] else 0)
    # What is stored is intact: each row as logged, once, in order.
    steps = [r["i"] for r in rows]
    assert steps == sorted(set(steps)) and all(r["pad"] == "x" * 200 for r in rows)
    from runhive_service.rundir._wal import ReadResult, read_wal

    wal = Path(a.dir) / f"run-{a_id}.rhwal"
    check = ReadResult()
    list(read_wal(wal, 0, check))
    assert not check.damage, check.damage  # refused groups were cut back out of the WAL
    b = rh.api().run(f"disk/{b_id}")
    assert b.state == "finished" and [r["i"] for r in b.history(pandas=False, samples=None)] == list(range(n))
    # Space comes back: the daemon records how run a ended (crashed if its end could not be written).
    filler.unlink()
    expected = "crashed" if report["end_refused"] else "finished"
    wait_for(lambda: rh.api().run(f"disk/{a_id}").state == expected, 10, f"run a to be {expected}")
    log = (rh.svc / "service.log").read_text()
    assert log.count("records that cannot be written are refused (logged once)") == 1, log
    # The WAL and the store agree: a rebuild from the WAL gives the same rows.
    rh.cli("service", "stop")
    wait_for(lambda: not rh.daemon_pids(), 15, "the daemon to stop")
    rh.cli("store", "rebuild")
    assert rh.api().run(f"disk/{a_id}").history(pandas=False, samples=None) == rows
    figure(
        "disk full mid-run",
        f"{n} rows logged; {len(rows)} stored, {refused} records reported not persisted by finish() "
        f"({n + (1 if report['end_refused'] else 0) - len(rows) - refused} unaccounted); 1 warning; "
        f"0 WAL damage; the other run: {n} of {n} rows, finished; run state once space returned: {expected}",
    )
