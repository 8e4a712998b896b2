"""Fork and multiprocessing (issue 4): `os.fork()` after `init()` (DataLoader workers) and multiprocessing
children under fork, spawn and forkserver. A child can start and log its own run, the parent is unaffected,
nothing deadlocks, and a run inherited through fork is not the child's: what the child logs to it is dropped
with one warning (docs/RELIABILITY.md)."""

from __future__ import annotations

import json
import time

import pytest

from conftest import RhEnv, figure

FORKS = """
import os, sys, threading, time, traceback
import runhive

parent = runhive.init(project="fork", name="parent")
stop = threading.Event()

def background():  # a logging thread keeps the sender busy while the main thread forks
    i = 0
    while not stop.is_set():
        parent.log({"bg": i})
        i += 1
        time.sleep(0.0002)

t = threading.Thread(target=background)
t.start()
children = []
for k in range(6):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            assert runhive.run is None, "the parent's run is not the child's"
            parent.log({"bg": -1})  # the inherited run: dropped, warned once
            parent.log({"bg": -2})
            parent.config.update({"from_child": k})
            child = runhive.init(project="fork", name=f"child-{k}")
            for i in range(300):
                child.log({"c": i})
            child.finish()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    children.append(pid)
codes = []
deadline = time.monotonic() + 60
for pid in children:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            codes.append(os.waitstatus_to_exitcode(status))
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise SystemExit(f"child {pid} deadlocked")
        time.sleep(0.01)
stop.set()
t.join()
parent.log({"after": 1})
parent.finish()
print(json.dumps({"codes": codes, "parent": parent.id}), flush=True)
"""


def test_fork_after_init(rh: RhEnv) -> None:
    t0 = time.monotonic()
    res = rh.run("import json\n" + FORKS, timeout=120)
    wall = time.monotonic() - t0
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["codes"] == [0] * 6, res.stderr
    runs = {r.name: r for r in rh.api().runs("fork")}
    assert set(runs) == {"parent"} | {f"child-{k}" for k in range(6)}
    parent = runs["parent"]
    rows = parent.history(pandas=False, samples=None)
    bg = [r["bg"] for r in rows if "bg" in r]
    assert bg == list(range(len(bg))) and len(bg) > 0  # nothing of the children's, nothing lost
    assert rows[-1].get("after") == 1 and parent.state == "finished"
    assert "from_child" not in parent.config
    for k in range(6):
        child = runs[f"child-{k}"]
        assert child.state == "finished" and [
            r["c"] for r in child.history(pandas=False, samples=None)
        ] == list(range(300))
    warnings = [line for line in res.stderr.splitlines() if "which forked this one" in line]
    assert len(warnings) == 6, res.stderr  # one per child, for the inherited run
    assert "Traceback" not in res.stderr
    figure(
        "os.fork() after init()",
        f"6 forks while a thread logs; 6 children logged their own runs (300 rows each), parent kept {len(bg)} "
        f"rows in order; 1 warning per child for the inherited run; {wall:.1f} s, no deadlock",
    )


WORKER = """
import runhive


def work(k: int, finish: bool) -> int:
    run = runhive.init(project="mp", name=f"child-{k}")
    for i in range(200):
        run.log({"c": i})
    if finish:
        run.finish()
    # else: the child's exit finishes it (multiprocessing children skip atexit; runhive registers a finaliser)
    return k


def fail(k: int) -> None:
    run = runhive.init(project="mp", name=f"fail-{k}")
    run.log({"c": 0})
    raise RuntimeError("boom")
"""

MP = """
import json, multiprocessing as mp, sys, time
import runhive
import mpworker

if __name__ == "__main__":
    method = sys.argv[1]
    ctx = mp.get_context(method)
    parent = runhive.init(project="mp", name="parent")
    for i in range(100):
        parent.log({"p": i})
    procs = [ctx.Process(target=mpworker.work, args=(k, k % 2 == 0)) for k in range(4)]
    procs.append(ctx.Process(target=mpworker.fail, args=(9,)))
    for p in procs:
        p.start()
    for i in range(100, 200):
        parent.log({"p": i})
    for p in procs:
        p.join(60)
        assert not p.is_alive(), f"{p.name} hung"
    pool = ctx.Pool(2)  # close() + join(): `with Pool()` would terminate() the workers with SIGTERM
    assert sorted(pool.starmap(mpworker.work, [(10, True), (11, False)])) == [10, 11]
    pool.close()
    pool.join()
    parent.finish()
    print(json.dumps([p.exitcode for p in procs]), flush=True)
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_children_log_their_own_runs(rh: RhEnv, method: str) -> None:
    (rh.work / "mpworker.py").write_text(WORKER)
    t0 = time.monotonic()
    res = rh.run(MP, method, timeout=120)
    wall = time.monotonic() - t0
    assert json.loads(res.stdout.strip().splitlines()[-1]) == [0, 0, 0, 0, 1]
    runs = {r.name: r for r in rh.api().runs("mp")}
    assert [r["p"] for r in runs["parent"].history(pandas=False, samples=None)] == list(range(200))
    assert runs["parent"].state == "finished"
    for k in (0, 1, 2, 3, 10, 11):
        child = runs[f"child-{k}"]
        assert [r["c"] for r in child.history(pandas=False, samples=None)] == list(range(200)), k
        assert child.state == "finished", (k, child.state)
    assert (runs["fail-9"].state, runs["fail-9"].exit_code) == ("failed", 1)
    figure(
        f"multiprocessing ({method})",
        f"parent 200 rows; 4 Process + 2 Pool children, 200 rows each, finished (with or without finish()); "
        f"a child that raised: failed, exit code 1; {wall:.1f} s",
    )
