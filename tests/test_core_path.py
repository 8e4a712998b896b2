"""The core path: init / log / finish through one shared daemon into the local store (issue 2)."""

from __future__ import annotations

import json

import pytest

from conftest import RhEnv, wait_for

EXAMPLE = """
import runhive as wandb
import sys
n = int(sys.argv[1])
run = wandb.init(project="demo", config={"lr": 0.1})
for i in range(n):
    run.log({"loss": 1 / (i + 1)})
run.finish()
print(run.id)
"""


@pytest.mark.parametrize("n", [1000, 10000])
def test_example_rows_present_and_in_order(rh: RhEnv, n: int) -> None:
    run_id = rh.run(EXAMPLE, str(n)).stdout.strip()
    runs = rh.api().runs("demo")
    assert [r.id for r in runs] == [run_id]
    run = runs[0]
    assert run.state == "finished"
    assert run.config == {"lr": 0.1}
    rows = run.history(pandas=False, samples=None)
    assert len(rows) == n
    assert [r["_step"] for r in rows] == list(range(n))
    assert [r["loss"] for r in rows] == [1 / (i + 1) for i in range(n)]
    assert run.summary["loss"] == 1 / n
    assert all("_runtime" in r and "_timestamp" in r for r in rows[:10])


def test_in_process_api_module_surface(rh: RhEnv) -> None:
    import runhive

    with pytest.raises(runhive.Error, match=r"You must call runhive.init\(\) before runhive.log\(\)"):
        runhive.log({"a": 1})
    run = runhive.init(
        project="surface", config={"a": 1, "nested": {"b": 2}}, tags=["x"], notes="n", group="g"
    )
    assert runhive.run is run
    assert runhive.config["a"] == 1 and runhive.config.a == 1
    runhive.log({"m": 1.5})
    runhive.summary["best"] = 7
    run.config.update({"c": 3})
    runhive.finish()
    assert runhive.run is None
    stored = rh.api().run(f"surface/{run.id}")
    assert stored.state == "finished"
    assert stored.config == {"a": 1, "nested": {"b": 2}, "c": 3}
    assert stored.summary["best"] == 7 and stored.summary["m"] == 1.5
    assert stored.tags == ["x"] and stored.notes == "n" and stored.group == "g"


def test_context_manager_and_exit_codes(rh: RhEnv) -> None:
    import runhive

    with runhive.init(project="ctx") as run:
        run.log({"x": 1})
    with pytest.raises(ValueError):
        with runhive.init(project="ctx") as failing:
            raise ValueError("boom")
    states = {r.id: r.state for r in rh.api().runs("ctx")}
    assert states == {run.id: "finished", failing.id: "failed"}


def test_bad_log_input_raises_and_run_keeps_working(rh: RhEnv) -> None:
    import runhive

    run = runhive.init(project="bad")
    with pytest.raises(TypeError, match="must be passed a dictionary"):
        run.log([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be strings"):
        run.log({1: 2.0})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="cannot store a value of type"):
        run.log({"obj": object()})
    run.log({"ok": 1})
    run.finish()
    rows = rh.api().run(f"bad/{run.id}").history(pandas=False, samples=None)
    assert [r["ok"] for r in rows] == [1]


def test_value_conversion(rh: RhEnv) -> None:
    import numpy as np

    import runhive

    run = runhive.init(project="values")
    run.log(
        {
            "i": 3,
            "f": 0.5,
            "b": True,
            "s": "text",
            "none": None,
            "nan": float("nan"),
            "inf": float("inf"),
            "np_scalar": np.float32(2.5),
            "small": np.arange(4),
            "big": np.arange(100),
            "nested": {"a": 1, "b": {"c": 2.0}},
        }
    )
    run.finish()
    api_run = rh.api().run(f"values/{run.id}")
    row = api_run.history(pandas=False, samples=None)[0]
    assert (
        row["i"] == 3 and row["f"] == 0.5 and row["b"] is True and row["s"] == "text" and row["none"] is None
    )
    assert row["nan"] != row["nan"] and row["inf"] == float("inf")
    assert row["np_scalar"] == 2.5
    assert row["small"] == [0, 1, 2, 3]
    assert row["big"]["_type"] == "histogram"
    assert row["nested"] == {"a": 1, "b": {"c": 2.0}}
    assert api_run.metric("nested.b.c")["max"] == [2.0]


def test_step_and_commit_rules(rh: RhEnv, caplog: pytest.LogCaptureFixture) -> None:
    import runhive

    run = runhive.init(project="steps")
    run.log({"a": 1})  # step 0
    run.log({"b": 2}, commit=False)
    run.log({"c": 3})  # step 1 with b and c
    run.log({"d": 4}, step=5)  # pending at 5
    run.log({"e": 5}, step=5)  # merged into 5
    run.log({"f": 6}, step=3)  # dropped with a warning
    run.log({"g": 7})  # written into 5 with d, e
    run.finish()
    rows = rh.api().run(f"steps/{run.id}").history(pandas=False, samples=None)
    assert [(r["_step"], sorted(k for k in r if not k.startswith("_"))) for r in rows] == [
        (0, ["a"]),
        (1, ["b", "c"]),
        (5, ["d", "e", "g"]),
    ]
    assert "Tried to log to step 3 that is less than the current step 5" in caplog.text


def test_cli_runs_and_service_status(rh: RhEnv) -> None:
    run_id = rh.run(EXAMPLE, "50").stdout.strip()
    out = rh.cli("runs", "demo").stdout
    assert run_id in out and "finished" in out and "50" in out
    status = json.loads(rh.cli("service", "status", "--json").stdout)
    assert int(status["pid"]) in rh.daemon_pids()
    assert status["socket"].endswith("service.sock")
    text = rh.cli("service", "status").stdout
    for word in ("pid", "socket", "uptime", "clients", "open streams"):
        assert word in text
    rh.cli("service", "stop")
    wait_for(lambda: not rh.daemon_pids(), 15, "the daemon to stop")
    assert "not running" in rh.cli("service", "status", check=False).stdout


def test_service_start_then_clients_share_it(rh: RhEnv) -> None:
    rh.cli("service", "start")
    [pid] = rh.daemon_pids()
    rh.run(EXAMPLE, "10")
    rh.run(EXAMPLE, "10")
    assert rh.daemon_pids() == [pid]
    assert len(rh.api().runs("demo")) == 2


def test_idle_daemon_exits(rh: RhEnv) -> None:
    rh.run(EXAMPLE, "10", env={"RUNHIVE_SERVICE_IDLE_TIMEOUT": "1"})
    wait_for(lambda: not rh.daemon_pids(), 20, "the idle daemon to exit")
    assert rh.api().runs("demo")[0].state == "finished"


def test_protocol_mismatch_is_a_clear_error(rh: RhEnv) -> None:
    import grpc

    from runhive.protocol.v1 import service_pb2 as pb
    from runhive.protocol.v1 import service_pb2_grpc as pb_grpc
    from runhive.transport._daemon import DaemonAddress

    rh.cli("service", "start")
    addr = DaemonAddress(rh.svc)
    with grpc.insecure_channel(addr.target) as ch:
        stub = pb_grpc.RunhiveStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            stub.Handshake(pb.HandshakeRequest(protocol_version=99, pid=1, token=addr.read_token() or ""))
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "protocol" in (info.value.details() or "")
        with pytest.raises(grpc.RpcError) as info:
            stub.Handshake(pb.HandshakeRequest(protocol_version=1, pid=1, token="wrong"))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_sigterm_flushes_and_next_daemon_resumes(rh: RhEnv) -> None:
    import signal

    code = """
    import runhive, sys
    run = runhive.init(project="term")
    for i in range(2000):
        run.log({"x": i})
    run._sender.wait_acked(run._handle, run._last_seq, 30)
    print(run.id, flush=True)
    sys.stdin.readline()
    run.finish()
    """
    proc = rh.spawn(code, stdin=__import__("subprocess").PIPE)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    [pid] = rh.daemon_pids()
    __import__("os").kill(pid, signal.SIGTERM)
    wait_for(lambda: not rh.daemon_pids(), 15, "the daemon to stop on SIGTERM")
    assert rh.api().run(f"term/{run_id}").state == "running"  # shutdown never rewrites run states
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(60)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    run = rh.api().run(f"term/{run_id}")
    assert run.state == "finished"
    assert len(run.history(pandas=False, samples=None)) == 2000


@pytest.mark.parametrize(
    ("tail", "code", "state", "exit_code"),
    [
        ("", 0, "finished", 0),
        ("import sys; sys.exit(3)", 3, "failed", 3),
        ("raise RuntimeError('boom')", 1, "failed", 1),
        ("raise KeyboardInterrupt", -2, "failed", 255),  # Python re-raises SIGINT on exit
    ],
)
def test_atexit_finishes_open_runs_with_the_exit_code(
    rh: RhEnv, tail: str, code: int, state: str, exit_code: int
) -> None:
    head = (
        "import runhive\nrun = runhive.init(project='exit')\nrun.log({'x': 1})\nprint(run.id, flush=True)\n"
    )
    script = head + tail + "\n"
    res = rh.run(script, check=False)
    assert res.returncode == code
    run = rh.api().run(f"exit/{res.stdout.split()[0]}")
    assert (run.state, run.exit_code) == (state, exit_code)
    assert len(run.history(pandas=False, samples=None)) == 1


def test_grpc_health_check_serves(rh: RhEnv) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from runhive.transport._daemon import DaemonAddress

    rh.cli("service", "start")
    with grpc.insecure_channel(DaemonAddress(rh.svc).target) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_history_keys_samples_and_pandas(rh: RhEnv) -> None:
    import runhive

    run = runhive.init(project="hist")
    for i in range(100):
        run.log({"a": float(i), "b": i} if i % 2 else {"a": float(i)})
    run.finish()
    api_run = rh.api().run(f"hist/{run.id}")
    assert len(api_run.history(keys=["b"], pandas=False, samples=None)) == 50
    assert all(set(r) == {"_step", "b"} for r in api_run.history(keys=["b"], pandas=False, samples=None))
    assert len(api_run.history(samples=10, pandas=False)) == 10
    sampled = api_run.history(keys=["a"], samples=10, pandas=False)  # read from metric chunks, not every row
    assert [r["_step"] for r in sampled] == list(range(0, 100, 10))
    assert [r["a"] for r in sampled] == [float(i) for i in range(0, 100, 10)]
    both = api_run.history(keys=["a", "b"], samples=5, pandas=False)
    assert len(both) == 5 and all(r["b"] == r["a"] for r in both)
    df = api_run.history(pandas=True)
    assert list(df["a"]) == [float(i) for i in range(100)]
    assert [r["a"] for r in api_run.scan_history(min_step=10, max_step=20)] == [
        float(i) for i in range(10, 20)
    ]
