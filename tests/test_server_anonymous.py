"""W&B's `init(anonymous=...)` and `init(force=...)` against a team server that allows anonymous users
(`runhive server --allow-anonymous`) and one that does not (the default). Real server, real daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _pg import ServerProcess
from conftest import RhEnv
from test_upload_server import admin, client_env, query

INIT = """
import json, sys, runhive
kwargs = json.loads(sys.argv[1])
try:
    run = runhive.init(project="shared-result", **kwargs)
except Exception as exc:
    print("ERROR", type(exc).__name__, "|", exc, flush=True)
else:
    run.log({"acc": 0.9})
    run.finish()
    print("RUN", json.dumps({"entity": run.entity, "id": run.id}), flush=True)
"""


def init(rh: RhEnv, url: str, key: str | None, **kwargs: object) -> tuple[str, dict[str, str] | str]:
    env = client_env(rh, url, key)
    if key is None:
        env["RUNHIVE_API_KEY"] = ""
    res = rh.run(INIT, json.dumps(kwargs), env=env, timeout=120)
    out = res.stdout.strip().splitlines()[-1]
    if out.startswith("RUN "):
        return "run", json.loads(out[4:])
    return "error", out.split("|", 1)[1].strip() + "\n" + res.stderr


def test_a_server_without_anonymous_users(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    alice = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready().rstrip("/")
        kind, got = init(rh, url, None, anonymous="must")
        assert (
            kind == "error"
            and "does not allow anonymous runs" in str(got)
            and "--allow-anonymous" in str(got)
        )
        kind, got = init(rh, url, None, anonymous="allow")
        assert kind == "error" and "does not allow anonymous runs" in str(got)
        kind, got = init(rh, url, None)  # anonymous="never", force unset: the "not logged in"
        assert kind == "error" and str(got).startswith(f"not logged in: run `runhive login --host {url}`")
        kind, got = init(rh, url, None, force=True)
        assert kind == "error" and str(got).startswith("not logged in")
        kind, got = init(rh, url, alice, anonymous="allow")  # logged in: the user's own account
        assert kind == "run" and isinstance(got, dict) and got["entity"] == "alice"
        kind, got = init(rh, url, None, anonymous="sometimes")
        assert kind == "error" and "anonymous='sometimes': choose one of 'allow', 'must' or 'never'" in str(
            got
        )

        # force=False: W&B's "proceed without a login, offline"; the run is stored on the node, not the server.
        kind, got = init(rh, url, None, force=False)
        assert kind == "run" and isinstance(got, dict), got
        offline = list(rh.work.glob(f"runhive/offline-run-*-{got['id']}"))
        assert offline, "kept as an offline run on the node, for `runhive sync` later"
        assert not query(db, "SELECT run_id FROM runs WHERE run_id = :r", r=got["id"])
    finally:
        server.stop()


def test_anonymous_users_on_a_server_that_allows_them(rh: RhEnv, tmp_path: Path) -> None:
    import runhive

    db = f"sqlite:///{tmp_path / 'server.db'}"
    alice = admin(db, "user", "create", "alice")
    bob = admin(db, "user", "create", "bob")
    server = ServerProcess(db, "--allow-anonymous")
    try:
        url = server.wait_ready().rstrip("/")
        kind, first = init(rh, url, None, anonymous="allow")
        assert kind == "run" and isinstance(first, dict), first
        assert first["entity"].startswith("anony-mouse-"), first
        kind, second = init(rh, url, None, anonymous="must")
        assert kind == "run" and isinstance(second, dict) and second["entity"] == first["entity"], (
            "this machine keeps its anonymous user"
        )
        kind, third = init(rh, url, alice, anonymous="must")  # even logged in: the anonymous account
        assert kind == "run" and isinstance(third, dict) and third["entity"] == first["entity"]
        stored = Path(rh.root / "config" / "anonymous")
        assert stored.stat().st_mode & 0o777 == 0o600 and url in json.loads(stored.read_text())
        anon_key = json.loads(stored.read_text())[url]
        creds = rh.root / "config" / "credentials"
        assert not creds.exists() or anon_key not in creds.read_text(), (
            "the anonymous key never becomes the login"
        )

        # Anonymous results are shared: any logged-in user reads them (the project is open).
        path = f"{first['entity']}/shared-result"
        runs = runhive.Api(overrides={"base_url": url}, api_key=bob).runs(path)
        assert {r.id for r in runs} == {first["id"], second["id"], third["id"]}
        assert all(r.state == "finished" for r in runs)
        (visibility,) = query(db, "SELECT visibility FROM projects WHERE name = 'shared-result'")[0]
        assert visibility == "open"

        # The name prefix is reserved.
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "runhive.cli._main",
                "server",
                "user",
                "create",
                "anony-mouse-1",
                "--db",
                db,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode != 0 and "anony-mouse-" in res.stderr, res.stdout + res.stderr
    finally:
        server.stop()
