"""Sweeps on the team server, real processes only: `runhive server` on SQLite and a throwaway PostgreSQL 15, users
made with its CLI, nodes that are real daemons (`RhEnv`, a second one for a second node). With a server
configured, `runhive.sweep()` / `runhive sweep` create the sweep on the server and every agent, on any node and
through any replica, takes its runs from the server's controller: leases in the database, claimed under the
sweep's row lock.

- Seed 004's example, as written, against the server; the sweep and its best run read back through `Api()`.
- A grid swept by two agents on two nodes: every point exactly once.
- Two replicas on one database behind a round-robin proxy, agents alternating between them: no duplicates.
- An agent killed mid-run: its lease expires (the timeout is short here) and its parameters go to the next agent.
- `runhive sweep --pause/--resume/--stop/--cancel` against the server; run_cap and metric.target end the sweep.
- A user without write permission gets the permission-denied error that names the fix.
- Preempted runs (`run.mark_preempting()`, then a non-zero exit or a SIGKILL) are resumed under their ids.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from _pg import ServerProcess, server_db
from conftest import RhEnv, figure, wait_for
from test_server_nodes import RoundRobinProxy, connect, node2
from test_sweeps import FAST, HYPERBAND, PREEMPT_YAML, PREEMPTED, SEED_004, _descendants, _sweep_id
from test_upload_server import admin, query

__all__ = ["node2", "server_db"]  # fixtures, imported

AGENT_CLI = "import sys; from runhive.cli._main import main; sys.exit(main(sys.argv[1:]))"


def _api(url: str, key: str) -> Any:
    import runhive

    return runhive.Api(overrides={"base_url": url}, api_key=key)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _sweep_runs(db: str, sweep_id: str) -> list[tuple[str, dict[str, Any], str, str | None]]:
    rows = query(
        db,
        "SELECT run_id, params, state, agent FROM sweep_runs WHERE sweep_id = :s ORDER BY created_at",
        s=sweep_id,
    )
    return [(r[0], _json(r[1]), r[2], r[3]) for r in rows]


def test_seed_004_runs_against_the_server(rh: RhEnv, server_db: str) -> None:
    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db)
    try:
        url = server.wait_ready()
        connect(url, key, rh)
        res = rh.run(SEED_004, env=FAST, timeout=300)
        sid = _sweep_id(res.stdout)
        assert "Run sweep agent with: runhive agent alice/my-first-sweep/" + sid in res.stderr, res.stderr
        (state,) = query(server_db, "SELECT state FROM sweeps WHERE sweep_id = :s", s=sid)
        assert state[0] == "RUNNING"
        assert len(_sweep_runs(server_db, sid)) == 10
        sweep = _api(url, key).sweep(f"alice/my-first-sweep/{sid}")
        runs = sweep.runs
        assert len(runs) == 10 and all(r.state == "finished" for r in runs)
        for r in runs:
            assert 0.01 <= r.config["x"] <= 0.1 and r.config["y"] in (1, 3, 7)
            assert r.summary["score"] == pytest.approx(r.config["x"] ** 3 + r.config["y"])
        best = sweep.best_run()
        assert best.summary["score"] == min(r.summary["score"] for r in runs)
        # The sweep lives on the server only: the node's store has none.
        import sqlite3

        with sqlite3.connect(rh.store) as db:
            assert db.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == 0
    finally:
        assert server.stop() == 0


# -- one grid, two nodes ----------------------------------------------------------------------------------------

GRID_AGENT = """
import os, sys, time
import runhive as wandb

sweep, work, me, other = sys.argv[1:5]

def train():
    run = wandb.init()
    open(os.path.join(work, me), "a").write(run.id + "\\n")
    # Both agents take part: the first run of each waits (bounded) until the other agent has one too.
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(work, other)) and time.monotonic() < deadline:
        time.sleep(0.05)
    run.log({"loss": run.config.a * 10 + run.config.b})

wandb.agent(sweep, function=train)
print("AGENT DONE", flush=True)
"""

GRID = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"a": {"values": [1, 2, 3, 4]}, "b": {"values": [10, 20, 30]}},
}


def _create(rh: RhEnv, config: dict[str, Any], project: str) -> str:
    res = rh.run(
        "import json, sys, runhive\n"
        f"print('SWEEP', runhive.sweep(json.loads(sys.argv[1]), project={project!r}))",
        json.dumps(config),
        env=FAST,
    )
    return _sweep_id(res.stdout)


def _grid_on_two_nodes(rh: RhEnv, node2: RhEnv, db: str, url: str, key: str, work: Path) -> list[Any]:
    """Create the grid on node 1, run one agent on each node at once; every point once. The sweep's runs."""
    connect(url, key, rh, node2)
    sid = _create(rh, GRID, "grid")
    procs = [
        rh.spawn(GRID_AGENT, f"alice/grid/{sid}", str(work), "a", "b", env=FAST),
        node2.spawn(GRID_AGENT, f"alice/grid/{sid}", str(work), "b", "a", env=FAST),
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "AGENT DONE" in out, err
    handed = _sweep_runs(db, sid)
    points = [(p["a"]["value"], p["b"]["value"]) for _, p, _, _ in handed]
    assert sorted(points) == [(a, b) for a in (1, 2, 3, 4) for b in (10, 20, 30)], "every grid point once"
    per_node = [set((work / n).read_text().split()) for n in ("a", "b")]
    assert per_node[0] and per_node[1] and not per_node[0] & per_node[1], "both nodes ran runs, none twice"
    assert per_node[0] | per_node[1] == {r for r, _, _, _ in handed}
    sweep = _api(url, key).sweep(f"alice/grid/{sid}")
    assert sweep.state == "FINISHED"
    runs = sweep.runs
    assert len(runs) == 12 and all(r.state == "finished" for r in runs)
    assert sorted((r.config["a"], r.config["b"]) for r in runs) == sorted(points)
    assert sweep.best_run().config == {"a": 1, "b": 10} or sweep.best_run().config["a"] == 1
    return runs


def test_a_grid_on_two_nodes_runs_every_point_once(
    rh: RhEnv, node2: RhEnv, server_db: str, tmp_path: Path
) -> None:
    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db)
    try:
        url = server.wait_ready()
        _grid_on_two_nodes(rh, node2, server_db, url, key, tmp_path)
    finally:
        assert server.stop() == 0


def test_two_replicas_serve_one_sweep_without_duplicates(
    rh: RhEnv, node2: RhEnv, server_db: str, tmp_path: Path
) -> None:
    key = admin(server_db, "user", "create", "alice")
    replicas = [ServerProcess(server_db), ServerProcess(server_db)]
    proxy: RoundRobinProxy | None = None
    try:
        ports = [int(r.wait_ready().rstrip("/").rsplit(":", 1)[1]) for r in replicas]
        proxy = RoundRobinProxy([("127.0.0.1", p) for p in ports])
        url = f"http://127.0.0.1:{proxy.port}"
        _grid_on_two_nodes(rh, node2, server_db, url, key, tmp_path)
        # Every sweep call is a connection of its own: the agents' calls alternated between the replicas.
        assert min(proxy.counts[0], proxy.counts[1]) >= 10, dict(proxy.counts)
        figure(
            f"one sweep through two replicas ({server_db.split(':', 1)[0]})",
            f"connections per replica {proxy.counts[0]} / {proxy.counts[1]}; 2 agents on 2 nodes, 12 grid points "
            "each handed out exactly once",
        )
    finally:
        if proxy is not None:
            proxy.close()
        for r in replicas:
            r.stop()


# -- many agents, two controllers, one database (in-process) ---------------------------------------------------------


def test_concurrent_agents_on_two_controllers_never_share_parameters(server_db: str) -> None:
    """Eight agents asking at once through two controllers (two replicas' worth), on one database: each of the
    grid's 48 points is handed out exactly once; the sweep row lock serialises the decisions."""
    import threading

    from runhive.protocol.v1 import service_pb2 as pb
    from runhive_service.server import ServerStore, migrate, open_engine
    from runhive_service.server._sweeps_store import ServerSweeps
    from runhive_service.sweeps import SweepController

    engines = [open_engine(server_db, pool_size=8), open_engine(server_db, pool_size=8)]
    try:
        migrate(engines[0])
        stores = [ServerStore(e) for e in engines]
        user, _ = stores[0].create_user("alice")
        controllers = [SweepController(ServerSweeps(st)) for st in stores]
        config = {
            "method": "grid",
            "parameters": {"a": {"values": list(range(8))}, "b": {"values": [0, 1, 2, 3, 4, 5]}},
        }
        made = controllers[0].create(
            pb.CreateSweepRequest(entity="", project="race", config_json=json.dumps(config).encode()),
            caller=user,
        )
        assert made.entity == "alice" and not made.violations
        got: list[tuple[int, int]] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def agent(i: int) -> None:
            controller = controllers[i % 2]
            agent_id = ""
            try:
                while True:
                    req = pb.SweepAgentRequest(
                        sweep=f"race/{made.id}", agent_id=agent_id, host=f"h{i}", want_run=True
                    )
                    reply = controller.agent(req, caller=user)
                    agent_id = reply.agent_id
                    runs = [c for c in reply.commands if c.type == "run"]
                    if any(c.type == "exit" for c in reply.commands):
                        return
                    for c in runs:
                        params = json.loads(c.args_json)
                        with lock:
                            got.append((params["a"]["value"], params["b"]["value"]))
                        done = pb.SweepAgentRequest(
                            sweep=f"race/{made.id}", agent_id=agent_id, ended=[c.run_id], ended_codes=[0]
                        )
                        controller.agent(done, caller=user)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=agent, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert sorted(got) == [(a, b) for a in range(8) for b in range(6)], "every point exactly once"
        state = controllers[1].control(
            pb.SweepControlRequest(sweep=f"alice/race/{made.id}", action="get"), caller=user
        )
        assert state.state == "FINISHED"
    finally:
        for e in engines:
            e.dispose()


# -- an agent killed mid-run ---------------------------------------------------------------------------------------

STUCK_AGENT = """
import os, sys, time
import runhive as wandb

sweep, work = sys.argv[1:3]

def train():
    run = wandb.init()
    run.log({"loss": 1.0})
    open(os.path.join(work, "stuck"), "w").write(run.id)
    while True:  # killed here
        time.sleep(0.1)

wandb.agent(sweep, function=train)
"""

FINISHING_AGENT = """
import sys
import runhive as wandb

def train():
    run = wandb.init()
    run.log({"loss": float(run.config.q)})

wandb.agent(sys.argv[1], function=train)
print("AGENT DONE", flush=True)
"""


def _agent_seen(db: str, sweep_id: str) -> float:
    (doc,) = query(db, "SELECT controller FROM sweeps WHERE sweep_id = :s", s=sweep_id)
    agents = (_json(doc[0]) or {}).get("agents") or {}
    return max((a["last_seen"] for a in agents.values()), default=0.0)


def test_a_killed_agents_run_is_handed_out_again(
    rh: RhEnv, node2: RhEnv, server_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = server_db
    key = admin(db, "user", "create", "alice")
    timeout = 3.0
    monkeypatch.setenv("RUNHIVE_SWEEP_AGENT_TIMEOUT", str(timeout))  # W&B's 300 s, shortened for the test
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        connect(url, key, rh, node2)
        config = {"method": "grid", "parameters": {"q": {"values": [0, 1, 2]}}}
        sid = _create(rh, config, "lease")
        stuck = rh.spawn(STUCK_AGENT, f"alice/lease/{sid}", str(tmp_path), env=FAST)
        wait_for(lambda: (tmp_path / "stuck").exists() or stuck.poll() is not None, 120, "the first run")
        lost_id = (tmp_path / "stuck").read_text()
        os.kill(stuck.pid, signal.SIGKILL)  # the agent and its run die together (a function agent)
        stuck.communicate(timeout=30)
        # The node's daemon marks the run crashed and uploads that; the lease ends a timeout after the last call.
        wait_for(lambda: run_state(db, lost_id) == "crashed", 60, "the killed run crashed on the server")
        seen = _agent_seen(db, sid)
        wait_for(lambda: time.time() > seen + timeout + 0.5, timeout + 10, "the lease to expire")
        res = node2.run(FINISHING_AGENT, f"alice/lease/{sid}", env=FAST, timeout=180)
        assert "AGENT DONE" in res.stdout
        handed = _sweep_runs(db, sid)
        states = {r: st for r, _, st, _ in handed}
        assert states[lost_id] == "lost"
        lost_q = next(p["q"]["value"] for r, p, _, _ in handed if r == lost_id)
        again = [(r, p["q"]["value"]) for r, p, st, _ in handed if st != "lost"]
        assert sorted(q for _, q in again) == [0, 1, 2], "each point once among the live runs"
        sweep = _api(url, key).sweep(f"alice/lease/{sid}")
        runs = {r.id: r for r in sweep.runs}
        assert runs[lost_id].state == "crashed", (
            "the killed run stays in the sweep, crashed (as W&B marks it)"
        )
        rerun = next(r for r, q in again if q == lost_q)
        assert rerun != lost_id and runs[rerun].state == "finished" and runs[rerun].config["q"] == lost_q
        assert sweep.state == "FINISHED"
    finally:
        assert server.stop() == 0


def run_state(db: str, run_id: str) -> str | None:
    got = query(db, "SELECT state FROM runs WHERE run_id = :r", r=run_id)
    return str(got[0][0]) if got else None


# -- states from the CLI, run_cap, target, hyperband ----------------------------------------------------------------


def test_sweep_states_from_the_cli_run_cap_and_target(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        connect(url, key, rh)
        cfg = rh.work / "sweep.json"
        cfg.write_text(
            json.dumps({"method": "random", "run_cap": 3, "parameters": {"x": {"min": 0.0, "max": 1.0}}})
        )
        made = rh.cli("sweep", "-p", "caps", str(cfg))
        sid = _sweep_id(made.stdout)
        assert f"Run sweep agent with: runhive agent alice/caps/{sid}" in made.stdout
        assert query(db, "SELECT state FROM sweeps WHERE sweep_id = :s", s=sid)[0][0] == "PENDING"
        res = rh.run(
            f"import runhive as wandb; wandb.agent('caps/{sid}', function=lambda: wandb.init().log({{'v': 1}}))",
            env=FAST,
        )
        assert res.returncode == 0
        path = f"alice/caps/{sid}"
        assert _api(url, key).sweep(path).state == "FINISHED" and len(_api(url, key).sweep(path).runs) == 3
        bad = rh.cli("sweep", "--pause", path, check=False)
        assert bad.returncode == 2 and "Cannot pause finished sweep." in bad.stderr, bad.stderr
        assert "RUNNING" in rh.cli("sweep", "--resume", path).stdout
        assert "PAUSED" in rh.cli("sweep", "--pause", path).stdout
        assert query(db, "SELECT state FROM sweeps WHERE sweep_id = :s", s=sid)[0][0] == "PAUSED"
        status = rh.run(
            f"import runhive as wandb; c = wandb.controller('{path}'); print('DONE', c.done()); c.print_status()"
        )
        assert "DONE True" in status.stdout and "Runs: 3 (Finished: 3) | PAUSED" in status.stdout, (
            status.stdout
        )
        assert "RUNNING" in rh.cli("sweep", "--resume", path).stdout
        assert "FINISHED" in rh.cli("sweep", "--stop", path).stdout
        assert "RUNNING" in rh.cli("sweep", "--resume", path).stdout
        assert "CANCELED" in rh.cli("sweep", "--cancel", "-p", "caps", sid).stdout  # a bare id and -p
        bad = rh.cli("sweep", "--stop", path, check=False)
        assert bad.returncode == 2 and "Sweep already canceled." in bad.stderr, bad.stderr
        assert query(db, "SELECT state FROM sweeps WHERE sweep_id = :s", s=sid)[0][0] == "CANCELED"
        # A cancelled sweep sends its agents away at once.
        res = rh.run(f"import runhive as wandb; wandb.agent('{path}', function=lambda: 1 / 0); print('LEFT')")
        assert "LEFT" in res.stdout and len(_api(url, key).sweep(path).runs) == 3
        # metric.target: the sweep ends once a run reaches it, with the values the server has.
        target = {
            "method": "grid",
            "metric": {"name": "loss", "goal": "minimize", "target": 0.5},
            "parameters": {"q": {"values": [3, 0, 1, 2, 4]}},
        }
        tid = _create(rh, target, "target")
        rh.run(FINISHING_AGENT, f"target/{tid}", env=FAST, timeout=180)
        sweep = _api(url, key).sweep(f"alice/target/{tid}")
        assert sweep.state == "FINISHED" and sorted(r.config["q"] for r in sweep.runs) == [0, 3]
    finally:
        assert server.stop() == 0


def test_hyperband_stops_runs_with_the_servers_metrics(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        connect(url, key, rh)
        res = rh.run(HYPERBAND, env=FAST, timeout=240)
        sweep = _api(url, key).sweep(f"alice/hb/{_sweep_id(res.stdout)}")
        assert sweep.state == "FINISHED"
        rows = {r.config["q"]: r.history_rows for r in sweep.runs}
        assert rows[0] == 60, rows  # the best run is never stopped
        assert rows[1] < 60 and rows[2] < 60, rows
        assert res.stderr.count("the sweep controller asked") == 2, res.stderr
    finally:
        assert server.stop() == 0


# -- permissions ---------------------------------------------------------------------------------------------------

CREATE_AS = """
import sys, runhive
try:
    sid = runhive.sweep({"method": "random", "parameters": {"x": {"values": [1, 2]}}}, entity="alice", project="p")
except Exception as exc:
    print(type(exc).__name__, "|", exc, flush=True)
else:
    print("SWEEP", sid, flush=True)
"""

AGENT_AS = """
import sys, runhive
try:
    runhive.agent(sys.argv[1], function=lambda: None, count=1)
except Exception as exc:
    print(type(exc).__name__, "|", exc, flush=True)
else:
    print("no error", flush=True)
"""


def test_no_write_permission_is_refused_with_the_fix(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    alice = admin(db, "user", "create", "alice")
    bob = admin(db, "user", "create", "bob")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        connect(url, bob, rh)
        res = rh.run(CREATE_AS)
        assert res.stdout.startswith(
            "UsageError | permission denied: user 'bob' may not write to 'alice/p' (private: a new project is "
            "private); ask its owner 'alice' to set the project to Open"
        ), res.stdout
        connect(url, alice, rh)
        sid = _sweep_id(rh.run(CREATE_AS).stdout)
        connect(url, bob, rh)
        for code in (CREATE_AS, AGENT_AS):
            res = rh.run(code, f"alice/p/{sid}")
            assert (
                "UsageError | permission denied: user 'bob' may not write to 'alice/p' (private); ask its owner "
                "'alice' to set the project to Open" in res.stdout
            ), res.stdout
        bad = rh.cli("sweep", "--stop", f"alice/p/{sid}", check=False)
        assert (
            bad.returncode == 2 and "permission denied: user 'bob' may not write to 'alice/p'" in bad.stderr
        )
        assert query(db, "SELECT state FROM sweeps WHERE sweep_id = :s", s=sid)[0][0] == "PENDING"
        # Without a key: the not-logged-in error, naming the login command.
        rh.environ.pop("RUNHIVE_API_KEY")
        res = rh.run(CREATE_AS)
        assert " | not logged in: run `runhive login --host" in res.stdout, res.stdout
    finally:
        assert server.stop() == 0


def test_preempted_runs_are_resumed_through_the_server(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        connect(url, key, rh)
        (rh.work / "train.py").write_text(PREEMPTED)
        (rh.work / "sweep.yaml").write_text(PREEMPT_YAML)
        sid = _sweep_id(rh.cli("sweep", "sweep.yaml", "-p", "pre").stdout)
        agent = rh.spawn(AGENT_CLI, "agent", f"alice/pre/{sid}", env=FAST)
        try:
            _out, err = agent.communicate(timeout=240)
        finally:
            for child in _descendants([agent.pid]):
                child.kill()
        assert agent.returncode == 0 and err.count("Agent Resuming Run") == 2, err
        sweep = _api(url, key).sweep(f"alice/pre/{sid}")
        assert sweep.state == "FINISHED" and len(_sweep_runs(db, sid)) == 2
        for r in sweep.runs:
            assert r.state == "finished", (r.config["how"], r.state)
            assert [row["loss"] for row in r.history(pandas=False, samples=None)] == [1.0, 0.5]
    finally:
        assert server.stop() == 0
