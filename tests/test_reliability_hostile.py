"""Hostile peers on the daemon's socket (issue 4): garbage bytes, wrong messages, oversized messages, unknown run
ids, malformed records and records for another client's run. Each gets an error status (or a closed
connection, for bytes that are not HTTP/2); the daemon and a client logging meanwhile carry on unaffected."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import grpc

from conftest import RhEnv, figure

VICTIM = """
import runhive, sys, time
run = runhive.init(project="victim")
print(run.id, run._handle.run_id, run._handle.writer, flush=True)
for i in range(int(sys.argv[1])):
    run.log({"i": i})
    if i % 50 == 0:
        time.sleep(0.005)  # pacing: it logs all through the attack
run.finish()
print("done", flush=True)
"""


def _status(fn: Callable[[], Any]) -> str:
    try:
        fn()
    except grpc.RpcError as exc:
        return exc.code().name  # type: ignore[no-any-return]
    return "OK"


def _closed_by_daemon(path: str, payload: bytes) -> bool:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    try:
        s.sendall(payload)
        while True:
            if not s.recv(65536):
                return True  # the daemon hung up on it
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    finally:
        s.close()


def test_hostile_peers_get_errors_and_nobody_else_notices(rh: RhEnv) -> None:
    from runhive.protocol.v1 import service_pb2 as pb
    from runhive.protocol.v1 import service_pb2_grpc as pb_grpc
    from runhive.transport._daemon import MAX_MESSAGE_BYTES, DaemonAddress

    rh.cli("service", "start")
    [daemon] = rh.daemon_pids()
    n = 20_000
    victim = rh.spawn(VICTIM, str(n))
    assert victim.stdout is not None
    vid, vkey, vwriter = victim.stdout.readline().split()
    addr = DaemonAddress(rh.svc)
    token = addr.read_token() or ""
    results: dict[str, str] = {}

    # Bytes that are not HTTP/2 at all, and an HTTP/2 preface followed by garbage frames.
    results["garbage bytes"] = (
        "closed" if _closed_by_daemon(str(addr.socket_path), os.urandom(4096)) else "open"
    )
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    results["HTTP/2 preface + garbage"] = (
        "closed" if _closed_by_daemon(str(addr.socket_path), preface + os.urandom(4096)) else "open"
    )

    big = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(addr.target, options=big) as ch:
        stub = pb_grpc.RunhiveStub(ch)

        def raw(method: str, body: bytes) -> Any:
            call = ch.unary_unary(
                f"/runhive.v1.Runhive/{method}", request_serializer=None, response_deserializer=None
            )
            return call(body, timeout=30)

        hello = pb.HandshakeRequest(protocol_version=1, pid=os.getpid(), token=token).SerializeToString()
        results["Append <- random bytes"] = _status(lambda: raw("Append", os.urandom(512)))
        results["Append <- a HandshakeRequest"] = _status(lambda: raw("Append", hello))
        results["InitRun <- a Batch"] = _status(
            lambda: raw("InitRun", pb.Batch(session="x").SerializeToString())
        )
        results["unknown method"] = _status(lambda: raw("DropEverything", b""))
        results[f"Append of {MAX_MESSAGE_BYTES // 2**20 + 1} MiB"] = _status(
            lambda: raw("Append", b"\0" * (MAX_MESSAGE_BYTES + 2**20))
        )
        results["Handshake, wrong token"] = _status(
            lambda: stub.Handshake(pb.HandshakeRequest(protocol_version=1, pid=1, token="0" * 64), timeout=10)
        )
        results["Handshake, protocol 99"] = _status(
            lambda: stub.Handshake(pb.HandshakeRequest(protocol_version=99, pid=1, token=token), timeout=10)
        )
        results["Handshake, pid 0"] = _status(
            lambda: stub.Handshake(pb.HandshakeRequest(protocol_version=1, pid=0, token=token), timeout=10)
        )
        results["Append, made-up session"] = _status(
            lambda: stub.Append(pb.Batch(session="f" * 32), timeout=10)
        )
        # A real session from here on: the same user, a buggy or hostile process.
        session = stub.Handshake(
            pb.HandshakeRequest(protocol_version=1, pid=os.getpid(), token=token), timeout=10
        ).session
        mine = stub.InitRun(
            pb.InitRunRequest(
                session=session,
                info=pb.RunInfo(entity="root", project="hostile", pid=os.getpid()),
                root_dir=str(rh.work),
                writer="hostile-writer",
            ),
            timeout=30,
        )
        mykey = f"{mine.info.entity}/{mine.info.project}/{mine.info.id}"

        def append(run_id: str, writer: str, *records: pb.Record) -> Any:
            batch = pb.Batch(session=session)
            batch.groups.add(run_id=run_id, writer=writer, records=list(records))
            return stub.Append(batch, timeout=30)

        def hist(seq: int, **kw: Any) -> pb.Record:
            return pb.Record(seq=seq, history=pb.HistoryRecord(**kw))

        results["records for another client's run"] = _status(
            lambda: append(vkey, vwriter, hist(10**6, step=1))
        )
        results["re-attach to another client's writer"] = _status(
            lambda: stub.InitRun(
                pb.InitRunRequest(
                    session=session,
                    info=pb.RunInfo(id=vid, entity=vkey.split("/")[0], project="victim"),
                    writer=vwriter,
                    resume="attach",
                ),
                timeout=30,
            )
        )
        results["unknown run id"] = _status(lambda: append("no/such/run", "hostile-writer", hist(1, step=0)))
        results["unregistered writer"] = _status(lambda: append(mykey, "other-writer", hist(1, step=0)))
        results["history that is not JSON"] = _status(
            lambda: append(mykey, "hostile-writer", hist(1, json=b"\xff{"))
        )
        results["history JSON that is a list"] = _status(
            lambda: append(mykey, "hostile-writer", hist(1, json=b"[1]"))
        )
        results["columns that do not match keys"] = _status(
            lambda: append(mykey, "hostile-writer", hist(1, keys=["a", "b"], values=[1.0]))
        )
        results["sequence numbers going back"] = _status(
            lambda: append(mykey, "hostile-writer", hist(5, step=0), hist(4, step=1))
        )
        results["a run record from a client"] = _status(
            lambda: append(mykey, "hostile-writer", pb.Record(seq=1, run=pb.RunInfo(id="x")))
        )
        results["FinishRun, unknown run"] = _status(
            lambda: stub.FinishRun(
                pb.FinishRunRequest(session=session, run_id="no/such/run", writer="w"), timeout=10
            )
        )
        results["Flush, unknown writer"] = _status(
            lambda: stub.Flush(pb.FlushRequest(session=session, run_id=mykey, writer="nobody"), timeout=10)
        )
        results["InitRun, unknown resume"] = _status(
            lambda: stub.InitRun(
                pb.InitRunRequest(session=session, info=pb.RunInfo(), writer="w2", resume="sideways"),
                timeout=10,
            )
        )
        results["attach to an unknown run"] = _status(
            lambda: stub.InitRun(
                pb.InitRunRequest(session=session, info=pb.RunInfo(id="nope"), writer="w3", resume="attach"),
                timeout=10,
            )
        )
        # After all that, this session's own well-formed records are still taken.
        ok = append(mykey, "hostile-writer", hist(1, step=0, keys=["a"], values=[1.0]))
        assert ok.acks[0].seq == 1

    expected_closed = {"garbage bytes", "HTTP/2 preface + garbage"}
    for case, code in results.items():
        if case in expected_closed:
            assert code == "closed", (case, code)
        else:
            assert code not in ("OK", "UNKNOWN"), (case, code)
    assert results["records for another client's run"] == "PERMISSION_DENIED"
    assert results["re-attach to another client's writer"] == "PERMISSION_DENIED"
    assert results["unknown run id"] == "NOT_FOUND"
    assert results[f"Append of {MAX_MESSAGE_BYTES // 2**20 + 1} MiB"] == "RESOURCE_EXHAUSTED"
    assert results["history that is not JSON"] == "INVALID_ARGUMENT"

    out, err = victim.communicate(timeout=120)
    assert victim.returncode == 0 and "done" in out, err
    assert rh.daemon_pids() == [daemon], "the daemon restarted"
    run = rh.api().run(f"victim/{vid}")
    assert run.state == "finished" and [r["i"] for r in run.history(pandas=False, samples=None)] == list(
        range(n)
    )
    status = json.loads(rh.cli("service", "status", "--json").stdout)
    assert int(status["pid"]) == daemon
    figure(
        "hostile peers",
        "; ".join(f"{case}: {code}" for case, code in results.items())
        + f"; meanwhile a client logged {n} of {n} rows, finished; daemon pid unchanged",
    )


BIG_ROW = """
import runhive, json
run = runhive.init(project="big")
run.log({"i": 0})
run.log({"i": 1, "blob": "x" * (70 * 1024 * 1024)})  # over gRPC's 64 MiB message limit
for i in range(2, 100):
    run.log({"i": i})
run.finish()
print(json.dumps({"report": run._finish_report, "refused": run._handle.refused}))
"""


def test_oversized_row_is_refused_and_reported(rh: RhEnv) -> None:
    t0 = time.monotonic()
    res = rh.run(BIG_ROW, timeout=120)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["refused"] == 1 and "1 records were not persisted" in out["report"]
    assert "MiB limit" in out["report"]
    [run] = rh.api().runs("big")
    assert [r["i"] for r in run.history(pandas=False, samples=None)] == [i for i in range(100) if i != 1]
    assert run.state == "finished"
    assert sum("could not be persisted" in line for line in res.stderr.splitlines()) == 1
    figure(
        "message size limit",
        f"a 70 MiB row: refused by the client (gRPC messages are limited to 64 MiB), reported by finish(): "
        f"{out['report']!r}; "
        f"the other 99 rows stored; {time.monotonic() - t0:.1f} s",
    )
