"""Sweeps end to end: `runhive.sweep()` / `runhive sweep` store a sweep in the real daemon, whose controller hands
runs to agents (`runhive.agent(function=...)` and the `runhive agent` CLI), locks their parameters in config, stops
runs by hyperband, and ends the sweep as W&B's controller does. Seed 004's example runs as written."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import psutil

from conftest import RhEnv, wait_for

FAST = {"RUNHIVE_AGENT_HEARTBEAT": "0.2"}
AGENT_CLI = "import sys; from runhive.cli._main import main; sys.exit(main(sys.argv[1:]))"

# Seed 004 ("Tutorial: Define, initialize, and run a sweep"), as written with `import wandb` replaced.
SEED_004 = """
# W&B Python Library をインポートして W&B にログインします
import runhive as wandb

wandb.login()

# 1: 目的関数/トレーニング関数を定義します
def objective(config):
    score = config.x**3 + config.y
    return score

def main():
    wandb.init(project="my-first-sweep")
    score = objective(wandb.config)
    wandb.log({"score": score})

# 2: 探索空間を定義します
sweep_configuration = {
    "method": "random",
    "metric": {"goal": "minimize", "name": "score"},
    "parameters": {
        "x": {"max": 0.1, "min": 0.01},
        "y": {"values": [1, 3, 7]},
    },
}

# 3: sweepを開始します
sweep_id = wandb.sweep(sweep=sweep_configuration, project="my-first-sweep")

wandb.agent(sweep_id, function=main, count=10)
print("SWEEP", sweep_id)
"""


def _sweep_id(text: str) -> str:
    m = re.search(r"SWEEP (\w+)", text) or re.search(r"sweep with ID: (\w+)", text)
    assert m, text
    return m.group(1)


def test_seed_004_sweep_example_runs_as_written(rh: RhEnv) -> None:
    res = rh.run(SEED_004, timeout=180)
    sweep_id = _sweep_id(res.stdout)
    assert f"Create sweep with ID: {sweep_id}" in res.stderr
    sweep = rh.api().sweep(f"my-first-sweep/{sweep_id}")
    assert sweep.state == "RUNNING"  # random search never ends by itself; the agent's count did
    runs = sweep.runs
    assert len(runs) == 10
    assert len({r.id for r in runs}) == 10
    for r in runs:
        assert r.state == "finished" and r.project == "my-first-sweep"
        x, y = r.config["x"], r.config["y"]
        assert isinstance(x, float) and 0.01 <= x <= 0.1 and y in (1, 3, 7)
        assert r.summary["score"] == x**3 + y
    best = sweep.best_run()
    assert best is not None and best.summary["score"] == min(r.summary["score"] for r in runs)
    assert sweep.expected_run_count is None


TRAIN = """
import argparse
import runhive as wandb

p = argparse.ArgumentParser()
p.add_argument("--a", type=int)
p.add_argument("--b")
args = p.parse_args()
run = wandb.init(project="ignored-by-the-sweep")
assert run.config["a"] == args.a and run.config["b"] == args.b, (dict(run.config), args)
for i in range(5):
    run.log({"loss": args.a + i})
run.finish()
"""

GRID_YAML = """
program: train.py
method: grid
metric:
  name: loss
  goal: minimize
parameters:
  a:
    values: [1, 2, 3]
  b:
    values: [x, y]
"""


def _descendants(pids: list[int]) -> list[psutil.Process]:
    out: list[psutil.Process] = []
    for pid in pids:
        try:
            out += psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    return out


def test_grid_sweep_with_two_cli_agents_runs_every_combination_once(rh: RhEnv) -> None:
    (rh.work / "train.py").write_text(TRAIN)
    (rh.work / "sweep.yaml").write_text(GRID_YAML)
    res = rh.cli("sweep", "sweep.yaml", "-p", "grid")
    sweep_id = _sweep_id(res.stdout)
    assert f"runhive agent {rh.api().sweep(sweep_id).entity}/grid/{sweep_id}" in res.stdout
    agents = [rh.spawn(AGENT_CLI, "agent", f"grid/{sweep_id}", env=FAST) for _ in range(2)]
    try:
        for a in agents:
            _out, err = a.communicate(timeout=240)
            assert a.returncode == 0, err
    finally:
        for child in _descendants([a.pid for a in agents]):
            child.kill()
    sweep = rh.api().sweep(f"grid/{sweep_id}")
    assert sweep.state == "FINISHED"
    assert sweep.expected_run_count == 6
    runs = sweep.runs
    combos = sorted((r.config["a"], r.config["b"]) for r in runs)
    assert combos == [(1, "x"), (1, "y"), (2, "x"), (2, "y"), (3, "x"), (3, "y")]  # none twice, none missing
    assert all(r.state == "finished" and r.project == "grid" for r in runs)
    assert [row["loss"] for row in runs[0].history(pandas=False, samples=None)] == [
        runs[0].config["a"] + i for i in range(5)
    ]
    assert sweep.best_run().config["a"] == 1  # type: ignore[union-attr]


def test_sweep_values_are_locked_and_init_arguments_ignored(rh: RhEnv) -> None:
    res = rh.run(
        """
        import runhive as wandb

        sweep_id = wandb.sweep(
            {"method": "grid", "parameters": {"lr": {"values": [0.5]}, "opt": {"parameters": {"m": {"value": 0.9}}}}},
            project="locks",
        )

        def train():
            run = wandb.init(project="elsewhere", id="myid", config={"lr": 1.0, "opt": {"name": "sgd"}, "bs": 8})
            wandb.config.update({"lr": 99}, allow_val_change=True)
            wandb.config.extra = 1
            print("RUN", run.project, run.id, run.sweep_id, dict(wandb.config))

        wandb.agent(sweep_id, function=train)
        run = wandb.init(project="plain")
        print("AFTER", run.sweep_id)
        run.finish()
        """,
        env=FAST,
    )
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("RUN "))
    assert line.startswith("RUN locks ") and " myid " not in line
    assert "Ignoring project 'elsewhere' when running a sweep." in res.stderr
    assert "Ignoring run_id 'myid' when running a sweep." in res.stderr
    assert "Config item 'lr' was locked by 'sweep' (ignored update)." in res.stderr
    assert "AFTER None" in res.stdout  # after agent() returns, init() makes ordinary runs
    (run,) = rh.api().runs("locks")
    assert run.config == {"lr": 0.5, "opt": {"name": "sgd", "m": 0.9}, "bs": 8, "extra": 1}


HYPERBAND = """
import time
import runhive as wandb

sweep_id = wandb.sweep(
    {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"q": {"values": [0, 1, 2]}},
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
    },
    project="hb",
)

def train():
    run = wandb.init()
    for i in range(60):
        run.log({"loss": run.config.q + 1.0 / (i + 1)})
        time.sleep(0.05)  # pacing: a training step

wandb.agent(sweep_id, function=train)
print("SWEEP", sweep_id)
"""


def test_hyperband_stops_runs_that_fall_behind(rh: RhEnv) -> None:
    res = rh.run(HYPERBAND, env=FAST, timeout=240)
    sweep = rh.api().sweep(f"hb/{_sweep_id(res.stdout)}")
    assert sweep.state == "FINISHED"
    rows = {r.config["q"]: r.history_rows for r in sweep.runs}
    assert rows[0] == 60, rows  # the best run is never stopped
    assert rows[1] < 60 and rows[2] < 60, rows
    assert all(r.state == "finished" for r in sweep.runs)
    assert res.stderr.count("the sweep controller asked") == 2, res.stderr


def test_run_cap_and_sweep_states(rh: RhEnv) -> None:
    res = rh.run(
        """
        import runhive as wandb

        sid = wandb.sweep({"method": "random", "run_cap": 3, "parameters": {"x": {"min": 0.0, "max": 1.0}}},
                          project="caps")
        wandb.agent(sid, function=lambda: wandb.init().log({"v": wandb.config.x}))
        print("SWEEP", sid)
        """,
        env=FAST,
    )
    sid = _sweep_id(res.stdout)
    sweep = rh.api().sweep(sid)
    assert sweep.state == "FINISHED" and len(sweep.runs) == 3
    bad = rh.cli("sweep", "--pause", f"caps/{sid}", check=False)
    assert bad.returncode == 2 and "Cannot pause finished sweep." in bad.stderr
    assert "RUNNING" in rh.cli("sweep", "--resume", f"caps/{sid}").stdout
    assert "PAUSED" in rh.cli("sweep", "--pause", f"caps/{sid}").stdout
    assert "CANCELED" in rh.cli("sweep", "--cancel", f"caps/{sid}").stdout
    bad = rh.cli("sweep", "--stop", f"caps/{sid}", check=False)
    assert bad.returncode == 2 and "Sweep already canceled." in bad.stderr
    # A cancelled sweep sends its agents away at once.
    res = rh.run(
        f"import runhive as wandb; wandb.agent('caps/{sid}', function=lambda: 1 / 0); print('LEFT')", env=FAST
    )
    assert "LEFT" in res.stdout and len(rh.api().sweep(sid).runs) == 3


def test_bad_input_is_refused_where_the_caller_sees_it(rh: RhEnv) -> None:
    res = rh.run(
        """
        import runhive as wandb

        def expect(exc_type, fn, *args, **kw):
            try:
                fn(*args, **kw)
            except exc_type as exc:
                print("REFUSED", type(exc).__name__, exc)
            else:
                raise AssertionError("accepted")

        expect(ValueError, wandb.sweep, {"method": "grid", "parameters": {"x": {"min": 1, "max": 2.5}}})
        expect(ValueError, wandb.sweep, ["not", "a", "dict"])
        expect(wandb.Error, wandb.agent, "a/b/c/d", function=print)
        expect(wandb.Error, wandb.agent, "nosuchsweep", function=print)
        expect(wandb.Error, wandb.agent, "x", function=print, count=0)
        sid = wandb.sweep({"method": "grid", "metric": {"name": "m", "goal": "minimise"},
                           "parameters": {"x": {"values": [1]}}, "bogus": 1}, project="bad")
        print("CREATED", sid)
        """
    )
    out = res.stdout
    assert "REFUSED ValueError Parameter x is ambiguous" in out
    assert "REFUSED ValueError Sweep config must be parsable as a JSON object." in out
    assert "Expected sweep_id in form of sweep, project/sweep, or entity/project/sweep" in out
    assert "REFUSED UsageError Sweep 'nosuchsweep' was not found" in out
    assert "REFUSED UsageError count must be a positive integer" in out
    assert "CREATED" in out  # a malformed config is stored anyway, its violations printed
    assert "Malformed sweep config detected!" in res.stderr
    assert "Violation 1." in res.stderr and "'minimise' is not one of ['minimize', 'maximize']" in res.stderr
    assert "Additional properties are not allowed ('bogus' was unexpected)" in res.stderr
    assert len(rh.daemon_pids()) == 1  # the daemon is still up


def test_runs_that_die_before_init_are_not_left_running(rh: RhEnv) -> None:
    (rh.work / "broken.py").write_text("import sys\nsys.exit(3)\n")
    (rh.work / "sweep.json").write_text(
        json.dumps({"program": "broken.py", "method": "random", "parameters": {"x": {"values": [1, 2]}}})
    )
    sid = _sweep_id(rh.cli("sweep", "sweep.json", "-p", "broken").stdout)
    agent = rh.spawn(AGENT_CLI, "agent", f"broken/{sid}", env=FAST)
    _out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, err
    assert "Detected 3 failed runs in the first 60 seconds, shutting down." in err
    assert rh.api().sweep(sid).runs == []
    db = sqlite3.connect(f"file:{rh.store}?mode=ro", uri=True)
    try:
        states = [r[0] for r in db.execute("SELECT state FROM sweep_runs")]
    finally:
        db.close()
    assert states == ["never_started"] * 3


def test_bayes_sweep_searches_inside_the_bounds(rh: RhEnv) -> None:
    res = rh.run(
        """
        import runhive as wandb

        sid = wandb.sweep({"method": "bayes", "metric": {"name": "y", "goal": "minimize"},
                           "parameters": {"x": {"min": -2.0, "max": 2.0}}}, project="bayes")
        wandb.agent(sid, function=lambda: wandb.init().log({"y": (wandb.config.x - 0.5) ** 2}), count=6)
        print("SWEEP", sid)
        """,
        timeout=240,
    )
    runs = rh.api().sweep(_sweep_id(res.stdout)).runs
    assert len(runs) == 6 and all(-2.0 <= r.config["x"] <= 2.0 for r in runs)
    assert all(r.state == "finished" for r in runs)


def test_cli_agent_expands_command_macros(rh: RhEnv) -> None:
    (rh.work / "echo.py").write_text(
        "import json, sys\nimport runhive as wandb\nrun = wandb.init()\n"
        "run.summary['argv'] = json.dumps(sys.argv[1:])\nrun.finish()\n"
    )
    config = {
        "program": "echo.py",
        "method": "grid",
        "parameters": {"lr": {"values": [0.1]}, "flag": {"values": [True]}},
        "command": ["${env}", "${interpreter}", "${program}", "${args_no_hyphens}", "--tag=${envvar:TAGVAR}"],
    }
    (rh.work / "macro.json").write_text(json.dumps(config))
    sid = _sweep_id(rh.cli("sweep", "macro.json", "-p", "macro").stdout)
    agent = rh.spawn(AGENT_CLI, "agent", f"macro/{sid}", env={**FAST, "TAGVAR": "t1"})
    _out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, err
    (run,) = rh.api().sweep(sid).runs
    assert json.loads(run.summary["argv"]) == ["flag=True", "lr=0.1", "--tag=t1"]
    params = Path(run.dir).parent / f"sweep-{sid}" / f"config-{run.id}.yaml"
    assert params.read_text().startswith("wandb_version: 1\n")


def test_a_sweep_outlives_its_daemon(rh: RhEnv) -> None:
    (rh.work / "train.py").write_text(TRAIN)
    (rh.work / "sweep.yaml").write_text(
        GRID_YAML.replace("values: [x, y]", "values: [x]").replace(", 3]", "]")
    )
    sid = _sweep_id(rh.cli("sweep", "sweep.yaml", "-p", "restart").stdout)
    first = rh.spawn(AGENT_CLI, "agent", "--count", "1", f"restart/{sid}", env=FAST)
    _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    (daemon,) = rh.daemon_pids()
    os.kill(daemon, signal.SIGKILL)
    psutil.Process(daemon).wait(30)
    second = rh.spawn(AGENT_CLI, "agent", f"restart/{sid}", env=FAST)  # starts a new daemon
    _out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    sweep = rh.api().sweep(sid)
    assert sweep.state == "FINISHED"
    assert sorted(r.config["a"] for r in sweep.runs) == [1, 2]  # the second agent took the combination left


LONG_TRAIN = """
import time
import runhive as wandb

run = wandb.init()
print("STARTED", run.id, flush=True)
for i in range(100000):
    run.log({"i": i})
    time.sleep(0.05)  # pacing: a training step that never ends by itself
"""


def test_cli_agent_signals_escalate_wait_then_terminate(rh: RhEnv) -> None:
    (rh.work / "long.py").write_text(LONG_TRAIN)
    (rh.work / "sweep.json").write_text(
        json.dumps({"program": "long.py", "method": "random", "parameters": {"x": {"values": [1]}}})
    )
    sid = _sweep_id(rh.cli("sweep", "sweep.json", "-p", "sig").stdout)
    agent = rh.spawn(AGENT_CLI, "agent", f"sig/{sid}", env=FAST)
    buf = [""]
    assert agent.stdout is not None and agent.stderr is not None
    line = agent.stdout.readline()
    assert line.startswith("STARTED"), line
    (child,) = psutil.Process(agent.pid).children()
    agent.send_signal(signal.SIGINT)
    wait_for(
        lambda: "Waiting for runs to end" in _read_available(agent, buf), 30, "the first Ctrl-C's message"
    )
    assert child.is_running()  # the first Ctrl-C waits for the run
    agent.send_signal(signal.SIGINT)
    child.wait(30)  # the second one terminates it
    _out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, err
    assert "Terminating and syncing runs." in buf[0] + err
    wait_for(lambda: rh.api().sweep(sid).runs[0].state != "running", 30, "the terminated run to be settled")


def test_paused_sweep_keeps_its_agents_waiting_until_resumed(rh: RhEnv) -> None:
    (rh.work / "train.py").write_text(TRAIN)
    config = {
        "program": "train.py",
        "method": "random",
        "run_cap": 2,
        "parameters": {"a": {"values": [1]}, "b": {"values": ["x"]}},
    }
    (rh.work / "sweep.json").write_text(json.dumps(config))
    sid = _sweep_id(rh.cli("sweep", "sweep.json", "-p", "pause").stdout)
    assert "Cannot pause pending sweep." in rh.cli("sweep", "--pause", f"pause/{sid}", check=False).stderr
    first = rh.spawn(AGENT_CLI, "agent", "--count", "1", f"pause/{sid}", env=FAST)
    assert first.communicate(timeout=120) and first.returncode == 0
    assert "PAUSED" in rh.cli("sweep", "--pause", f"pause/{sid}").stdout
    waiting = rh.spawn(AGENT_CLI, "agent", f"pause/{sid}", env=FAST)
    buf = [""]
    wait_for(
        lambda: "Sweep Agent: Waiting for job." in _read_available(waiting, buf), 30, "the agent to wait"
    )
    assert len(rh.api().sweep(sid).runs) == 1
    assert "RUNNING" in rh.cli("sweep", "--resume", f"pause/{sid}").stdout
    _out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    sweep = rh.api().sweep(sid)
    assert len(sweep.runs) == 2 and sweep.state == "FINISHED"  # run_cap reached


def _read_available(proc: subprocess.Popen[str], into: list[str]) -> str:
    """What `proc` has written to stderr so far (non-blocking), accumulated in `into[0]`."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    os.set_blocking(fd, False)
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        chunk = b""
    into[0] += chunk.decode(errors="replace")
    return into[0]


def test_prior_runs_seed_the_grid(rh: RhEnv) -> None:
    res = rh.run(
        """
        import runhive as wandb

        prior = wandb.init(project="prior", config={"x": 2})
        prior.log({"m": 0.5})
        prior.finish()
        config = {"method": "grid", "parameters": {"x": {"values": [1, 2, 3]}}}
        sid = wandb.sweep(config, project="prior", prior_runs=[prior.id, "nosuchrun"])
        wandb.agent(sid, function=lambda: wandb.init().log({"m": wandb.config.x}))
        print("SWEEP", sid)
        """,
        env=FAST,
    )
    assert "prior runs not found in" in res.stderr and "nosuchrun" in res.stderr
    sweep = rh.api().sweep(_sweep_id(res.stdout))
    assert sweep.state == "FINISHED"
    assert sorted(r.config["x"] for r in sweep.runs) == [1, 3]  # x=2 was done by the prior run


FUZZ = """
import json, random, sys
import runhive as wandb
from runhive.sweeps._agent import AgentSession, sweep_path
from runhive.sdk._setup import base_settings

rnd = random.Random(int(sys.argv[1]))
ATOMS = [None, True, 0, 1, -1, 2.5, "x", "", [], {}, [1, 2], {"a": 1}, 1e308, -0.0, "nan"]

def anything(depth=0):
    r = rnd.random()
    if depth < 3 and r < 0.2:
        keys = ["min", "max", "values", "value", "distribution", "q", "mu", "sigma", "a", "b", "parameters", "zz"]
        return {rnd.choice(keys): anything(depth + 1) for _ in range(rnd.randint(0, 4))}
    if depth < 3 and r < 0.3:
        return [anything(depth + 1) for _ in range(rnd.randint(0, 3))]
    return rnd.choice(ATOMS)

outcomes = {"created": 0, "refused": 0, "ran": 0, "no run": 0, "agent refused": 0}
for i in range(int(sys.argv[2])):
    config = {"method": rnd.choice(["grid", "random", "random", "bayes", "custom", 3, None])}
    if rnd.random() < 0.9:
        config["parameters"] = {f"p{k}": anything() for k in range(rnd.randint(0, 2))}
        if rnd.random() < 0.7:  # one usable parameter beside the junk, so some sweeps get as far as a run
            config["parameters"]["ok"] = rnd.choice([{"values": [1, 2, 3]}, {"min": 0.0, "max": 1.0}])
    if rnd.random() < 0.5:
        config["metric"] = {"name": rnd.choice(["m", 1, None]), "goal": rnd.choice(["minimize", "maximize", "up"])}
    if rnd.random() < 0.3:
        config["early_terminate"] = anything()
    if rnd.random() < 0.2:
        config["run_cap"] = anything()
    try:
        sid = wandb.sweep(config, project="fuzz")
    except ValueError:
        outcomes["refused"] += 1
        continue
    outcomes["created"] += 1
    session = AgentSession(base_settings(), sweep_path(sid, project="fuzz"))
    try:
        commands = session.call([], want_run=True)
    except wandb.UsageError:
        outcomes["agent refused"] += 1
        continue
    outcomes["ran" if any(c.type == "run" for c in commands) else "no run"] += 1
    for c in commands:
        if c.type == "run":
            json.loads(c.args_json)
            session.ended(c.run_id, 0)
    session.call([], done=True)
print("OUTCOMES", json.dumps(outcomes))
"""


def test_malformed_sweep_configs_never_hurt_the_daemon(rh: RhEnv) -> None:
    res = rh.run(FUZZ, "7", "300", env={"RUNHIVE_SILENT": "true"}, timeout=240)
    outcomes = json.loads(res.stdout.split("OUTCOMES", 1)[1])
    assert outcomes["created"] > 100 and outcomes["ran"] > 10, outcomes
    (daemon,) = rh.daemon_pids()  # the same daemon served every call
    res = rh.run(SEED_004, timeout=180)  # and still runs a sweep
    assert len(rh.api().sweep(f"my-first-sweep/{_sweep_id(res.stdout)}").runs) == 10
    assert rh.daemon_pids() == [daemon]


def test_local_controller_api_builds_and_watches_a_sweep(rh: RhEnv) -> None:
    res = rh.run(
        """
        import subprocess, sys
        import runhive as wandb

        tuner = wandb.controller()
        tuner.configure_search("grid")
        tuner.configure_metric("m", goal="maximize")
        tuner.configure_parameter("x", values=[1, 2])
        sid = tuner.create()
        code = "import sys, runhive as w; w.agent(sys.argv[1], function=lambda: w.init().log({'m': w.config.x}))"
        agent = subprocess.Popen([sys.executable, "-c", code, sid])
        tuner.run()  # returns once the daemon's controller has finished the grid
        assert agent.wait(60) == 0
        print("STATUS", tuner.status())
        try:
            tuner.configure_search(lambda *a: None)
        except wandb.UsageError as exc:
            print("REFUSED", exc)
        print("DONE", wandb.controller(sid).done())
        """,
        env=FAST,
    )
    assert "REFUSED runhive runs every sweep's controller in runhive-service" in res.stdout
    assert "DONE True" in res.stdout
    status = res.stdout.split("STATUS", 1)[1].splitlines()[0]
    assert "(grid) | Runs: 2 (Finished: 2) | FINISHED" in status, status


PREEMPTED = """
import os, sys
import runhive as wandb

run = wandb.init()
if not run.resumed:  # the first attempt: told it will be preempted, then it goes
    run.log({"loss": 1.0})
    run.mark_preempting()
    if run.config["how"] == "exit":
        sys.exit(3)  # a non-zero exit after mark_preempting(): preempted, not failed
    os.kill(os.getpid(), 9)  # killed outright: preempted, not crashed
run.log({"loss": 0.5})
run.finish()
"""

PREEMPT_YAML = """
program: train.py
method: grid
parameters:
  how:
    values: [exit, kill]
"""


def test_preempted_runs_are_resumed_by_the_sweep(rh: RhEnv) -> None:
    """W&B's preemption: `run.mark_preempting()` then a non-zero exit (or a SIGKILL) stores the run as preempted,
    and the controller hands the same run to an agent again (`resume`) before the sweep ends; the resumed run
    continues its history under its id and finishes. No run is added to the sweep for it."""
    (rh.work / "train.py").write_text(PREEMPTED)
    (rh.work / "sweep.yaml").write_text(PREEMPT_YAML)
    sweep_id = _sweep_id(rh.cli("sweep", "sweep.yaml", "-p", "pre").stdout)
    agent = rh.spawn(AGENT_CLI, "agent", f"pre/{sweep_id}", env=FAST)
    try:
        _out, err = agent.communicate(timeout=240)
    finally:
        for child in _descendants([agent.pid]):
            child.kill()
    assert agent.returncode == 0, err
    assert err.count("Agent Resuming Run") == 2, err
    sweep = rh.api().sweep(f"pre/{sweep_id}")
    assert sweep.state == "FINISHED"
    runs = sweep.runs
    assert sorted(r.config["how"] for r in runs) == ["exit", "kill"], "resumed, not run again under a new id"
    for r in runs:
        assert r.state == "finished", (r.config["how"], r.state)
        assert [row["loss"] for row in r.history(pandas=False, samples=None)] == [1.0, 0.5]
        assert "preempting" not in r.metadata, "the flag is cleared when the run starts again"


def test_a_run_marked_preempting_that_ends_well_is_finished(rh: RhEnv) -> None:
    res = rh.run(
        """
        import sys, runhive
        run = runhive.init(project="pre1")
        run.mark_preempting()
        run.finish()
        run = runhive.init(project="pre1")
        run.mark_preempting()
        print("ID", run.id, flush=True)
        sys.exit(2)
        """,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    states = {r.id: r.state for r in rh.api().runs("pre1")}
    failed_id = res.stdout.split("ID ")[1].split()[0]
    assert states.pop(failed_id) == "preempted"
    assert list(states.values()) == ["finished"]
