"""The team server with several nodes and through its faults (issue 14's "Faults and load"), real processes only:
two nodes are two daemons on this machine, each with its own socket directory, data directory and store, as two
machines would have; the server is `runhive server` on SQLite or a throwaway PostgreSQL 15. Each test prints its
FIGURE line; docs/RELIABILITY.md ("The team server") collects them.

- Two nodes log into ONE run (W&B's shared mode: same `id=`, `mode="shared"`, `x_label`): the server keeps both
  writers' rows.
- The server SIGKILLed three times while two nodes log: every row stored exactly once.
- The server down for 60 s while a node trains: `log()` never waits on it, nothing is lost, the backlog drains.
- PostgreSQL restarted mid-upload: the same.
- Two server replicas on one database behind one address (a round-robin TCP proxy, as any load balancer): uploads
  alternate between them, every row once, reads through either.
- A hostile or wrong-key client hammering the ingest API: only that caller fails; a node's upload is untouched.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from _pg import PgCluster, ServerProcess, available, server_db
from conftest import RhEnv, figure, wait_for
from test_upload_server import admin, alice_server, client_env, query, server_rows

__all__ = ["server_db"]  # the fixture, imported from _pg


@pytest.fixture
def node2(tmp_path: Path) -> Iterator[RhEnv]:
    """A second node: its own daemon directory, data directory and store."""
    root = tmp_path / "node2"
    root.mkdir()
    env = RhEnv(root)
    try:
        yield env
    finally:
        env.cleanup()


def connect(url: str, key: str, *nodes: RhEnv) -> None:
    for node in nodes:
        node.environ.update(client_env(node, url, key))
        node.environ["RUNHIVE_UPLOAD_BACKOFF_MAX"] = "0.3"


def uploaded_rows(db: str, run_id: str) -> int:
    got = query(db, "SELECT history_rows FROM runs WHERE run_id = :r", r=run_id)
    return int(got[0][0]) if got else 0


def run_state(db: str, run_id: str) -> str | None:
    got = query(db, "SELECT state FROM runs WHERE run_id = :r", r=run_id)
    return str(got[0][0]) if got else None


# -- two nodes, one run -------------------------------------------------------------------------------------------

SHARED_NODE = """
import sys, runhive
label, primary, n = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
settings = runhive.Settings(mode="shared", x_primary=primary, x_label=label, finish_timeout=120)
run = runhive.init(project="dist", id="shared-run", config={f"node_{label}": True}, settings=settings)
for i in range(n):
    run.log({f"loss_{label}": float(i)}, step=i)
run.summary[f"done_{label}"] = n
run.finish()
print("DONE", run.entity, run.id, flush=True)
"""


def test_two_nodes_log_one_shared_run(rh: RhEnv, node2: RhEnv, tmp_path: Path) -> None:
    import runhive

    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        connect(url, key, rh, node2)
        n = 800
        procs = [rh.spawn(SHARED_NODE, "a", "1", str(n)), node2.spawn(SHARED_NODE, "b", "0", str(n))]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0 and "DONE alice shared-run" in out, err
        assert len({tuple(p.daemon_pids()) for p in (rh, node2)}) == 2, "two daemons: two nodes"
        remote = runhive.Api(overrides={"base_url": url}, api_key=key).run("alice/dist/shared-run")
        assert remote.state == "finished"
        assert remote.config["node_a"] is True and remote.config["node_b"] is True, remote.config
        assert remote.summary["done_a"] == n and remote.summary["done_b"] == n
        rows_a = [r for r in remote.scan_history(keys=["loss_a"])]
        rows_b = [r for r in remote.scan_history(keys=["loss_b"])]
        assert [r["_step"] for r in rows_a] == list(range(n)) and [r["loss_a"] for r in rows_a] == [
            float(i) for i in range(n)
        ]
        assert [r["_step"] for r in rows_b] == list(range(n)) and [r["loss_b"] for r in rows_b] == [
            float(i) for i in range(n)
        ]
        writers = query(db, "SELECT COUNT(*) FROM runs WHERE run_id = 'shared-run'")[0][0]
        figure(
            "shared run across two nodes",
            f"2 daemons wrote run alice/dist/shared-run ({writers} run row on the server): loss_a {len(rows_a)} "
            f"of {n} points, loss_b {len(rows_b)} of {n}; config and summary of both; finished",
        )
    finally:
        server.stop()


# -- the server SIGKILLed three times while two nodes log ---------------------------------------------------------

PHASED = """
import os, sys, time, runhive
work, label, per_phase, phases = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
run = runhive.init(project="faults", settings=runhive.Settings(finish_timeout=300))
open(os.path.join(work, label + ".id"), "w").write(run.id)
step = 0
for phase in range(phases):
    for _ in range(per_phase):
        run.log({"loss": float(step)})
        step += 1
    if phase < phases - 1:
        open(os.path.join(work, f"{label}.{phase}"), "w").close()
        deadline = time.monotonic() + 180
        while not os.path.exists(os.path.join(work, f"go.{phase}")) and time.monotonic() < deadline:
            time.sleep(0.01)
run.finish()
print("DONE", flush=True)
"""


def test_server_sigkilled_three_times_while_two_nodes_log(
    rh: RhEnv, node2: RhEnv, server_db: str, tmp_path: Path
) -> None:
    server, port, _url, _key = alice_server(server_db, rh, node2)
    work = tmp_path / "phases"
    work.mkdir()
    per_phase, phases = 1500, 4
    procs = [
        rh.spawn(PHASED, str(work), "a", str(per_phase), str(phases)),
        node2.spawn(PHASED, str(work), "b", str(per_phase), str(phases)),
    ]
    outage: list[float] = []
    try:
        wait_for(lambda: (work / "a.id").exists() and (work / "b.id").exists(), 60, "both runs started")
        ids = [(work / "a.id").read_text(), (work / "b.id").read_text()]
        for phase in range(3):
            wait_for(
                lambda phase=phase: all((work / f"{label}.{phase}").exists() for label in "ab"),
                120,
                f"both nodes through phase {phase}",
            )
            # Kill mid-upload: some of this phase's rows are on the server, and (on a busy machine) usually not all.
            wait_for(
                lambda phase=phase: all(uploaded_rows(server_db, r) > phase * per_phase for r in ids),
                120,
                f"phase {phase} reaching the server",
            )
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(10)
            down = time.monotonic()
            (work / f"go.{phase}").touch()  # the next phase is logged while the server is down
            server = ServerProcess(server_db, "--port", str(port))
            server.wait_ready()
            outage.append(time.monotonic() - down)
        started = time.monotonic()
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0 and "DONE" in out, err
        drained = time.monotonic() - started
        total = per_phase * phases
        for run_id in ids:
            points = server_rows(server_db, run_id)
            assert [s for s, _ in points] == list(range(total)), "every row exactly once"
            assert all(v == float(s) for s, v in points)
            assert uploaded_rows(server_db, run_id) == total
            assert run_state(server_db, run_id) == "finished"
        kind = server_db.split(":", 1)[0]
        figure(
            f"server SIGKILL x3, two nodes ({kind})",
            f"2 nodes x {total:,} rows; 3 kills, down {min(outage):.1f}-{max(outage):.1f} s each; "
            f"{2 * total:,} rows stored exactly once; both runs finished {drained:.1f} s after the last restart",
        )
    finally:
        server.stop()


# -- the server down for 60 s --------------------------------------------------------------------------------------

STEADY = """
import json, os, sys, time, runhive
work = sys.argv[1]
run = runhive.init(project="outage", settings=runhive.Settings(finish_timeout=300))
open(os.path.join(work, "id"), "w").write(run.id)
n, worst, marks = 0, 0.0, {}
while not os.path.exists(os.path.join(work, "stop")):
    t = time.perf_counter()
    run.log({"loss": float(n), "acc": n / 1e6})
    worst = max(worst, time.perf_counter() - t)
    n += 1
    for mark in ("down", "up"):
        if mark not in marks and os.path.exists(os.path.join(work, mark)):
            marks[mark] = n
    if n % 200 == 0:
        open(os.path.join(work, "count.tmp"), "w").write(str(n))
        os.replace(os.path.join(work, "count.tmp"), os.path.join(work, "count"))
    time.sleep(0.002)  # a training step's worth of work
t = time.perf_counter()
run.finish()
print("RESULT", json.dumps({"rows": n, "worst_log_s": worst, "finish_s": time.perf_counter() - t, **marks}))
"""

OUTAGE_S = 60.0


def test_server_down_60_s_training_never_waits_and_the_backlog_drains(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    server, port, _url, _key = alice_server(db, rh)
    work = tmp_path / "steady"
    work.mkdir()
    proc = rh.spawn(STEADY, str(work))

    def logged() -> int:
        try:
            return int((work / "count").read_text())
        except (OSError, ValueError):
            return 0

    try:
        wait_for(lambda: (work / "id").exists(), 60, "init() done")
        run_id = (work / "id").read_text()
        wait_for(lambda: uploaded_rows(db, run_id) >= 1000, 60, "the upload under way")
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        (work / "down").touch()
        before = logged()
        back_at = time.monotonic() + OUTAGE_S
        # The outage itself is the stimulus: training goes on for 60 s while nothing answers on the port.
        wait_for(lambda: time.monotonic() >= back_at, OUTAGE_S + 10, "the 60 s outage", interval=0.5)
        during = logged() - before
        assert during > 0, "training went on while the server was down"
        server = ServerProcess(db, "--port", str(port))
        server.wait_ready()
        (work / "up").touch()
        up = time.monotonic()
        wait_for(lambda: uploaded_rows(db, run_id) >= before + during, 120, "the backlog to drain")
        drain = time.monotonic() - up
        (work / "stop").touch()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        result = json.loads(out.split("RESULT ", 1)[1])
        rows = int(result["rows"])
        assert uploaded_rows(db, run_id) == rows and run_state(db, run_id) == "finished"
        assert [s for s, _ in server_rows(db, run_id)] == list(range(rows)), "nothing lost, nothing twice"
        assert result["worst_log_s"] < 1.0, (
            f"log() waited {result['worst_log_s']:.3f} s: it must not wait on a server"
        )
        figure(
            "server down 60 s",
            f"{rows:,} rows logged, {during:,} of them during the {OUTAGE_S:.0f} s outage; longest log() "
            f"{result['worst_log_s'] * 1000:.1f} ms; backlog of {during:,} rows on the server {drain:.1f} s after "
            f"the restart; {rows:,} stored exactly once; finish() {result['finish_s']:.2f} s",
        )
    finally:
        (work / "stop").touch()
        server.stop()


# -- PostgreSQL restarted mid-upload -------------------------------------------------------------------------------


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL of this test's own, since the test restarts it (the session's shared one serves others)."""
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(reason)
        pytest.skip(reason)
    if os.environ.get("RUNHIVE_TEST_DATABASE_URL"):
        pytest.skip("restarts PostgreSQL: needs the tests' own cluster, not RUNHIVE_TEST_DATABASE_URL")
    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_postgres_restarted_mid_upload_loses_nothing(
    rh: RhEnv, node2: RhEnv, own_cluster: PgCluster, tmp_path: Path
) -> None:
    db = own_cluster.create_database()
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    url = server.wait_ready()
    connect(url, key, rh, node2)
    work = tmp_path / "phases"
    work.mkdir()
    per_phase, phases = 2000, 3
    procs = [
        rh.spawn(PHASED, str(work), "a", str(per_phase), str(phases)),
        node2.spawn(PHASED, str(work), "b", str(per_phase), str(phases)),
    ]
    restarts: list[str] = []
    try:
        wait_for(lambda: (work / "a.id").exists() and (work / "b.id").exists(), 60, "both runs started")
        ids = [(work / "a.id").read_text(), (work / "b.id").read_text()]
        for phase, sig in ((0, signal.SIGINT), (1, signal.SIGQUIT)):
            wait_for(
                lambda phase=phase: all((work / f"{label}.{phase}").exists() for label in "ab"),
                120,
                f"both nodes through phase {phase}",
            )
            wait_for(
                lambda phase=phase: all(uploaded_rows(db, r) > phase * per_phase for r in ids),
                120,
                f"phase {phase} reaching the server",
            )
            (work / f"go.{phase}").touch()  # the next phase is uploading while the database goes away
            t = time.monotonic()
            own_cluster.restart(sig)
            restarts.append(f"{signal.Signals(sig).name} {time.monotonic() - t:.1f} s")
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0 and "DONE" in out, err
        total = per_phase * phases
        for run_id in ids:
            assert [s for s, _ in server_rows(db, run_id)] == list(range(total)), "every row exactly once"
            assert run_state(db, run_id) == "finished"
        assert server.proc.poll() is None, "the server outlived its database's restarts"
        figure(
            "PostgreSQL restarted mid-upload",
            f"2 nodes x {total:,} rows; PostgreSQL restarted twice under the upload ({', '.join(restarts)}); "
            f"{2 * total:,} rows stored exactly once; the server process stayed up",
        )
    finally:
        server.stop()


# -- two replicas behind one address -------------------------------------------------------------------------------


class RoundRobinProxy:
    """A TCP load balancer in a thread: each new connection goes to the next backend in turn.

    With `upload_budget`, a network that stops mid-transfer: once that many bytes went from clients to backends,
    nothing more is forwarded (`stalled` is set), so a test can stop an upload at a known point, not a racy one."""

    def __init__(self, backends: list[tuple[str, int]], upload_budget: int | None = None) -> None:
        self.backends = backends
        self.counts: Counter[int] = Counter()
        self.upload_budget = upload_budget
        self.uploaded = 0
        self.stalled = threading.Event()
        self._next = itertools.cycle(range(len(backends)))
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.port = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError("the proxy did not start")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = next(self._next)
        self.counts[index] += 1
        host, port = self.backends[index]
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, upload: bool) -> None:
            try:
                while data := await src.read(65536):
                    if upload and self.upload_budget is not None:
                        if self.uploaded + len(data) > self.upload_budget:
                            self.stalled.set()
                            await asyncio.Event().wait()  # held until the loop stops
                        self.uploaded += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def test_two_replicas_behind_one_address(rh: RhEnv, node2: RhEnv, server_db: str, tmp_path: Path) -> None:
    import runhive

    key = admin(server_db, "user", "create", "alice")
    replicas = [ServerProcess(server_db), ServerProcess(server_db)]
    proxy: RoundRobinProxy | None = None
    try:
        ports = [int(r.wait_ready().rstrip("/").rsplit(":", 1)[1]) for r in replicas]
        proxy = RoundRobinProxy([("127.0.0.1", p) for p in ports])
        url = f"http://127.0.0.1:{proxy.port}"
        connect(url, key, rh, node2)
        work = tmp_path / "phases"
        work.mkdir()
        per_phase = 3000
        procs = [
            rh.spawn(PHASED, str(work), "a", str(per_phase), "1"),
            node2.spawn(PHASED, str(work), "b", str(per_phase), "1"),
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0 and "DONE" in out, err
        ids = [(work / "a.id").read_text(), (work / "b.id").read_text()]
        for run_id in ids:
            assert [s for s, _ in server_rows(server_db, run_id)] == list(range(per_phase)), "every row once"
        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        read = {r.id: r.state for r in api.runs("alice/faults")}
        assert read == {ids[0]: "finished", ids[1]: "finished"}
        assert len(api.run(f"alice/faults/{ids[0]}").history(keys=["loss"], samples=100000)) == per_phase
        assert all(proxy.counts[i] >= 3 for i in range(2)), (
            f"requests did not alternate: {dict(proxy.counts)}"
        )
        kind = server_db.split(":", 1)[0]
        figure(
            f"two replicas behind one address ({kind})",
            f"connections per replica {proxy.counts[0]} / {proxy.counts[1]}; 2 nodes x {per_phase:,} rows "
            "stored exactly once; reads through the same address agree",
        )
    finally:
        if proxy is not None:
            proxy.close()
        for r in replicas:
            r.stop()


# -- a hostile client does not hurt a node's upload ----------------------------------------------------------------

GOOD_RUN = """
import os, sys, runhive
work, n = sys.argv[1], int(sys.argv[2])
run = runhive.init(project="good", settings=runhive.Settings(finish_timeout=120))
open(os.path.join(work, "id"), "w").write(run.id)
for i in range(n):
    run.log({"loss": float(i)})
run.finish()
print("DONE", flush=True)
"""


def _post(url: str, body: bytes, key: str | None, ctype: str = "application/x-protobuf") -> int:
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", ctype)
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_hostile_clients_only_fail_themselves(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    alice = admin(db, "user", "create", "alice")
    mallory = admin(db, "user", "create", "mallory")
    server = ServerProcess(db)
    try:
        url = server.wait_ready().rstrip("/")
        connect(url, alice, rh)
        work = tmp_path / "good"
        work.mkdir()
        n = 5000
        good = rh.spawn(GOOD_RUN, str(work), str(n))
        wait_for(lambda: (work / "id").exists(), 60, "the good run started")
        run_id = (work / "id").read_text()
        statuses: Counter[str] = Counter()
        attacks = {
            "no key": (f"{url}/api/v1/streams/alice/good/{run_id}", b"", None),
            "wrong key": (f"{url}/api/v1/streams/alice/good/{run_id}", b"", "rhk_0000_wrong"),
            "another user's run": (f"{url}/api/v1/streams/alice/good/{run_id}", b"", mallory),
            "garbage batch": (f"{url}/api/v1/streams/mallory/p/x/w?prev=0", os.urandom(4096), mallory),
            "batch into another user's run": (
                f"{url}/api/v1/streams/alice/good/{run_id}/w?prev=0",
                b"",
                mallory,
            ),
            "bad prev": (f"{url}/api/v1/streams/mallory/p/x/w?prev=abc", b"", mallory),
            "bad names": (f"{url}/api/v1/streams/mal%2Flory/p%00/x", b"", mallory),
        }
        rounds = 0
        while rounds < 25 or (good.poll() is None and rounds < 200):
            for what, (target, body, key) in attacks.items():
                code = _post(target, body, key)
                assert 400 <= code < 500, f"{what}: HTTP {code}"
                statuses[f"{what} {code}"] += 1
            rounds += 1
        out, err = good.communicate(timeout=120)
        assert good.returncode == 0 and "DONE" in out, err
        # finish() waits for the upload up to finish_timeout, then says what is pending and the daemon goes on
        # (a loaded CI machine once got past it): the rows must still all arrive, once.
        wait_for(
            lambda: len(server_rows(db, run_id)) >= n, 120, f"the good node's {n} rows on the server ({err})"
        )
        assert [s for s, _ in server_rows(db, run_id)] == list(range(n)), "the good node's rows, all, once"
        assert server.proc.poll() is None
        figure(
            "hostile clients on the server",
            f"{sum(statuses.values())} hostile requests in {rounds} rounds, every one 4xx "
            f"({', '.join(sorted({k for k in statuses}))}); meanwhile a node uploaded {n:,} of {n:,} rows; "
            "server up throughout",
        )
    finally:
        server.stop()
