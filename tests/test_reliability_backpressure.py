"""Backpressure (issue 4): when the store writer is slow, the daemon stops acknowledging once its backlog passes
RUNHIVE_MAX_APPLY_BACKLOG, the client's buffer stays within RUNHIVE_MAX_BUFFERED_RECORDS, and log() blocks
instead of dropping: every row arrives. The store writer is slowed with the daemon's test knob
RUNHIVE_TEST_APPLY_DELAY (seconds per applied row)."""

from __future__ import annotations

import json
import threading
import time

from conftest import RhEnv, figure

CLIENT = """
import json, runhive, sys, threading, time
n = int(sys.argv[1])
run = runhive.init(project="bp")
dq = run._sender._dq
peak = [0]
stop = threading.Event()

def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], len(dq))
        time.sleep(0.0005)

t = threading.Thread(target=sample, daemon=True)
t.start()
slowest = 0.0
t0 = time.perf_counter()
for i in range(n):
    a = time.perf_counter()
    run.log({"i": i})
    slowest = max(slowest, time.perf_counter() - a)
loop = time.perf_counter() - t0
run.finish()
stop.set()
print(json.dumps({"peak": peak[0], "slowest": slowest, "loop": loop, "refused": run._handle.refused,
                  "report": run._finish_report}))
"""


def test_slow_store_blocks_log_instead_of_dropping(rh: RhEnv) -> None:
    from runhive.protocol.v1 import service_pb2 as pb
    from runhive.transport._daemon import connect

    bound, n = 2_000, 20_000
    rh.environ.update({"RUNHIVE_TEST_APPLY_DELAY": "0.0001", "RUNHIVE_MAX_APPLY_BACKLOG": "16384"})
    rh.cli("service", "start")
    conn = connect(rh.svc, start=False)
    backlog = [0]
    stop = threading.Event()

    def watch() -> None:  # the daemon's own count of rows received but not yet in the store
        while not stop.is_set():
            st = conn.stub.Status(pb.StatusRequest(session=conn.session), timeout=10)
            backlog[0] = max(backlog[0], st.records_received - st.records_applied)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        res = rh.run(CLIENT, str(n), env={"RUNHIVE_MAX_BUFFERED_RECORDS": str(bound)}, timeout=120)
    finally:
        stop.set()
        watcher.join()
        conn.close()
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["peak"] <= bound + 1, out  # the client's buffer stays within its bound ...
    assert out["slowest"] > 0.05, out  # ... because log() blocked (the store takes ~2 s for the rows)
    assert out["refused"] == 0 and out["report"] == "", out  # ... and nothing was dropped
    assert "Traceback" not in res.stderr and "not persisted" not in res.stderr
    [run] = rh.api().runs("bp")
    assert [r["i"] for r in run.history(pandas=False, samples=None)] == list(
        range(n)
    ) and run.state == "finished"
    assert backlog[0] < n, backlog  # the daemon did not take everything in ahead of its store
    figure(
        "backpressure (store writer slowed to ~10k rows/s)",
        f"{n} rows; client buffer peak {out['peak']} (bound {bound}); longest log() call "
        f"{out['slowest'] * 1e3:.0f} ms; daemon backlog peak {backlog[0]} rows (RUNHIVE_MAX_APPLY_BACKLOG=16 KiB); "
        f"loop {out['loop']:.1f} s; 0 dropped, all {n} rows stored",
    )
