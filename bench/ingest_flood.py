"""Wire-level daemon ingest for workload e): the runhive client's own Append requests, pre-built, sent flat out.

    python bench/ingest_flood.py SERVICE_DIR PROJECT NAME RECORDS BATCH KEYS GO_FILE RESULT_FILE

Runs with the runhive venv's python. Connects with runhive's client transport (`runhive.transport._daemon.connect`,
which starts the daemon if none answers), creates one run with `InitRun`, then builds every `Batch` the
client's sender would send for RECORDS rows of KEYS floats plus `_step`, `_runtime` and `_timestamp` (one
block record of BATCH rows per Append, as `_sender.Sender._build` encodes them; the exit record is the last
item, as `finish()` queues it). Nothing of that is timed: the client's per-row Python work (`log()`, column
encoding) is left out on purpose, so what remains is the transport and the daemon. It writes
RESULT_FILE.ready, waits for GO_FILE (so all clients start together), sends the batches one `Append` after
another, each waiting for its ack (acked = fsynced in the WAL), then `FinishRun`, which returns once every
record is applied to the store. RESULT_FILE gets the epoch of the first Append and of FinishRun's return.

`build_batches` is also what `grpc_ceiling.py` sends, so the ceiling moves the same bytes.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import time
from pathlib import Path
from typing import Any

from runhive.protocol import messages as pb
from runhive.transport._daemon import connect

# Stand-ins for the ceiling, which has no daemon to ask: same lengths as what InitRun and Handshake give.
PLACEHOLDER_SESSION = "0" * 32  # secrets.token_hex(16)
PLACEHOLDER_RUN = "bench/ingest/abcd1234"
PLACEHOLDER_WRITER = f"{socket.gethostname()}-{os.getpid()}-0123abcd"
START_TIME = 1.7e9


def float_keys(keys: int) -> list[str]:
    """The floats of one row in the order the client's `split_row` finds them: the caller's keys, then the
    `_timestamp` and `_runtime` that `Run._write` adds (`_step` is an int and travels in `int_keys`)."""
    return ["loss", *(f"m{k}" for k in range(1, keys)), "_timestamp", "_runtime"]


def build_batches(
    session: str, run_id: str, writer: str, records: int, batch: int, keys: int, seed: int = 0
) -> list[pb.Batch]:
    """Every Append request of one writer: history rows 0..records-1 (seq 1..records) and the exit record."""
    rng = random.Random(seed)
    names = float_keys(keys)
    items = records + 1  # the exit record is an item of the sender's queue like any row
    out: list[pb.Batch] = []
    for first in range(0, items, batch):
        req = pb.Batch(session=session)
        group = req.groups.add(run_id=run_id, writer=writer)
        last = min(first + batch, items)
        n_rows = min(last, records) - first
        if n_rows > 0:
            rec = group.records.add(seq=last if last <= records else records)
            values: list[float] = []
            for step in range(first, first + n_rows):
                base = 1.0 / (1.0 + step)
                values.append(base + rng.random() * 1e-3)
                values.extend(base * k + rng.random() for k in range(1, keys))
                values.extend((START_TIME + step * 1e-4, step * 1e-4 + 0.25))
            h = rec.history
            h.step = first
            h.keys.extend(names)
            h.values.extend(values)
            h.int_keys.append("_step")
            h.int_values.extend(range(first, first + n_rows))
            if n_rows > 1:
                h.rows = n_rows
            rec.time = values[-2]
        if last > records:
            group.records.add(seq=records + 1, time=START_TIME + records * 1e-4).exit.exit_code = 0
        out.append(req)
    return out


def wait_for_go(result_file: str, go_file: str, timeout: float = 300.0) -> None:
    Path(result_file + ".ready").write_text(str(os.getpid()))
    deadline = time.monotonic() + timeout
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            raise SystemExit(f"no {go_file} within {timeout:.0f} s")
        time.sleep(0.001)  # a start barrier across processes; 1 ms of skew at most


def write_result(path: str, result: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, path)


def flood(
    service_dir: str, project: str, name: str, records: int, batch: int, keys: int, go: str, result: str
) -> int:
    from runhive import __version__

    conn = connect(Path(service_dir))
    host = socket.gethostname()
    writer = f"{host}-{os.getpid()}-{os.urandom(4).hex()}"
    info = pb.RunInfo(
        entity="bench",
        project=project,
        name=name,
        start_time=time.time(),
        pid=os.getpid(),
        host=host,
        metadata_json=b"{}",
        mode="online",
    )
    init = pb.InitRunRequest(
        session=conn.session, info=info, root_dir=os.getcwd(), writer=writer, config_json=b"{}"
    )
    reply = conn.stub.InitRun(init, timeout=90)
    run_id = f"{reply.info.entity}/{reply.info.project}/{reply.info.id}"
    batches = build_batches(conn.session, run_id, writer, records, batch, keys, seed=os.getpid())
    wire_bytes = sum(b.ByteSize() for b in batches)
    last_seq = records + 1
    wait_for_go(result, go)

    cpu0 = time.process_time()
    start = time.time()
    acked = 0
    for req in batches:
        ack = conn.stub.Append(req, timeout=120)
        acked = max((a.seq for a in ack.acks if a.writer == writer), default=acked)
    finish = pb.FinishRunRequest(session=conn.session, run_id=run_id, writer=writer, seq=last_seq, timeout=0)
    done = conn.stub.FinishRun(finish, timeout=600)
    end = time.time()
    cpu = time.process_time() - cpu0
    conn.close()
    ok = acked == last_seq and done.done
    write_result(
        result,
        {
            "ok": ok,
            "error": None if ok else f"acked {acked} of {last_seq}, finish done={done.done} {done.pending}",
            "version": __version__,
            "epoch_start": start,
            "epoch_end": end,
            "records": records,
            "batches": len(batches),
            "wire_bytes": wire_bytes,
            "cpu_s": cpu,
        },
    )
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if len(argv) != 9:
        raise SystemExit(__doc__)
    service_dir, project, name, records, batch, keys, go, result = argv[1:]
    return flood(service_dir, project, name, int(records), int(batch), int(keys), go, result)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
