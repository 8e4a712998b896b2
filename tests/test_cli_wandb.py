"""W&B's CLI commands on runhive (issue 13, "The CLI as W&B's"): login, offline/online/disabled/enabled, status,
sync's flags, artifact ls/get/put, pull, restore and verify. Every command runs as a real `runhive` process
(`python -m runhive.cli`) in the isolated environment of the `rh` fixture, with its own config directory."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import RhEnv

_DROP = (
    "RUNHIVE_BASE_URL",
    "RUNHIVE_API_KEY",
    "RUNHIVE_MODE",
    "RUNHIVE_PROJECT",
    "RUNHIVE_ENTITY",
    "RUNHIVE_DIR",
)


@pytest.fixture
def w(rh: RhEnv, monkeypatch: pytest.MonkeyPatch) -> RhEnv:
    """`rh` with a config directory of its own (settings and credentials files), here and in every child."""
    config = rh.root / "config"
    rh.environ["RUNHIVE_CONFIG_DIR"] = str(config)
    monkeypatch.setenv("RUNHIVE_CONFIG_DIR", str(config))
    for name in _DROP:
        rh.environ.pop(name, None)
    return rh


def cli(
    rh: RhEnv, *args: str, check: bool = True, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`runhive ARGS...` as a user types it, in the test's work directory."""
    res = subprocess.run(
        [sys.executable, "-m", "runhive.cli", *args],
        cwd=rh.work,
        env={**rh.environ, "COLUMNS": "250", **(env or {})},
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=180,
    )
    if check and res.returncode != 0:
        raise AssertionError(
            f"runhive {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
        )
    return res


def status(rh: RhEnv, env: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(cli(rh, "status", "--json", env=env).stdout)
    return doc


# -- login ---------------------------------------------------------------------------------------------------------


def test_login_stores_the_key_in_a_0600_file_and_never_prints_it(w: RhEnv) -> None:
    creds = w.root / "config" / "credentials"
    res = cli(w, "login")
    assert "runs are stored locally in" in res.stdout and str(w.store) in res.stdout
    res = cli(w, "login", "rhk_notstored")  # a W&B script's `wandb login $KEY`: no server, so nothing stored
    assert "not stored" in res.stdout and "--host" in res.stdout and not creds.exists()

    key = "rhk_0123456789ab_SECRET-part-of-the-key"
    res = cli(w, "login", "--host", "http://127.0.0.1:9/", key)
    assert key not in res.stdout + res.stderr
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    text = creds.read_text()
    assert "base_url = http://127.0.0.1:9\n" in text and f"api_key = {key}" in text

    res = cli(w, "login")  # already logged in: says to what, not with which key
    assert "logged in to http://127.0.0.1:9" in res.stdout and key not in res.stdout + res.stderr
    res = cli(w, "login", "--host", "http://127.0.0.1:9")  # a stored key is reused
    assert "logged in to http://127.0.0.1:9" in res.stdout
    res = cli(w, "login", "--host", "http://127.0.0.1:9", "--relogin", check=False)  # no terminal to ask on
    assert res.returncode == 2 and "no API key for http://127.0.0.1:9" in res.stderr
    res = cli(w, "login", "--cloud", check=False)
    assert res.returncode == 2 and "no cloud" in res.stderr

    st = status(w)
    assert st["server"]["host"] == "http://127.0.0.1:9" and st["server"]["logged_in"] is True
    assert st["server"]["api_key"] == f"set (from {creds})"
    table = cli(w, "status").stdout
    assert "http://127.0.0.1:9" in table and key not in table

    # A second server: its key is kept beside the first, and it becomes the current one.
    cli(w, "login", "--host", "https://team.example.com", "rhk_second")
    text = creds.read_text()
    assert "base_url = https://team.example.com" in text and f"api_key = {key}" in text
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    # --verify against a server that does not answer: an error, and nothing replaced.
    res = cli(w, "login", "--host", "http://127.0.0.1:9", "rhk_other", "--verify", check=False)
    assert res.returncode == 2 and "cannot reach the team server at http://127.0.0.1:9" in res.stderr
    assert "rhk_other" not in creds.read_text() and "base_url = https://team.example.com" in creds.read_text()


def test_login_environment_wins_and_wandb_credentials_are_never_read(w: RhEnv) -> None:
    cli(w, "login", "--host", "http://127.0.0.1:9", "rhk_filekey")
    st = status(w, env={"RUNHIVE_BASE_URL": "https://env.example.com/", "RUNHIVE_API_KEY": "rhk_envkey"})
    assert st["server"] == {
        "host": "https://env.example.com",
        "host_source": "RUNHIVE_BASE_URL",
        "logged_in": True,
        "api_key": "set (from RUNHIVE_API_KEY)",
    }
    st = status(w, env={"RUNHIVE_API_KEY": "rhk_envkey"})  # the stored server with the environment's key
    assert (
        st["server"]["host"] == "http://127.0.0.1:9"
        and st["server"]["api_key"] == "set (from RUNHIVE_API_KEY)"
    )

    fresh = {"RUNHIVE_CONFIG_DIR": str(w.root / "other-config")}
    wandb_vars = {"WANDB_API_KEY": "x" * 40, "WANDB_BASE_URL": "https://api.wandb.ai"}
    st = status(w, env={**fresh, **wandb_vars})
    assert st["server"] == {"host": None, "host_source": None, "logged_in": False, "api_key": "not set"}
    res = cli(w, "login", env={**fresh, **wandb_vars})
    assert "runhive needs no login for local use" in res.stdout
    assert not (w.root / "other-config").exists()


def test_login_verify_asks_the_team_server(w: RhEnv) -> None:
    pytest.importorskip("sqlalchemy")
    from _pg import ServerProcess
    from runhive_service.server import ServerStore, migrate, open_engine

    db = f"sqlite:///{w.root / 'server.db'}"
    engine = open_engine(db)
    try:
        migrate(engine)
        _, key = ServerStore(engine).create_user("alice")
    finally:
        engine.dispose()
    server = ServerProcess(db)
    try:
        url = server.wait_ready().rstrip("/")
        res = cli(w, "login", "--host", url, key.key + "x", "--verify", check=False)
        assert res.returncode == 2 and f"{url} refused the key (HTTP 401)" in res.stderr
        assert not (w.root / "config" / "credentials").exists()
        res = cli(w, "login", "--host", url, key.key, "--verify")
        assert f"verified: the key belongs to user alice on {url}" in res.stdout
        assert key.key not in res.stdout + res.stderr
        assert f"api_key = {key.key}" in (w.root / "config" / "credentials").read_text()
        res = cli(w, "verify", check=False)  # verify checks the server it is logged in to
        assert f"OK   team server    {url} is up" in res.stdout
        assert "OK   api key        the key belongs to user alice" in res.stdout
    finally:
        assert server.stop() == 0, server.lines


def test_python_login_keeps_wandb_signature(w: RhEnv) -> None:
    import inspect

    import runhive

    params = list(inspect.signature(runhive.login).parameters)
    assert params[:8] == ["key", "relogin", "host", "force", "timeout", "verify", "referrer", "prompt"]
    creds = w.root / "config" / "credentials"
    assert runhive.login() is True
    assert runhive.login(key="rhk_from_a_wandb_script") is True and not creds.exists()
    assert runhive.login(key="rhk_py", host="http://127.0.0.1:9", relogin=True, force=True) is True
    assert "api_key = rhk_py" in creds.read_text() and stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert runhive.login(host="http://127.0.0.1:9") is True  # the stored key
    with pytest.raises(runhive.UsageError, match=r"no API key for https://other\.example\.com"):
        runhive.login(host="https://other.example.com")
    with pytest.raises(runhive.Error, match="cannot reach the team server"):
        runhive.login(key="rhk_py2", host="http://127.0.0.1:9", verify=True, timeout=5)
    assert "rhk_py2" not in creds.read_text()


# -- offline / online / disabled / enabled, status ----------------------------------------------------------------

_INIT = """
import runhive
run = runhive.init(project="modes")
print(type(run).__name__, run.dir or "-")
run.finish()
"""


def _init_kind(rh: RhEnv, env: dict[str, str] | None = None) -> str:
    out = rh.run(_INIT, env=env).stdout.split()
    if out[0] == "DisabledRun":
        return "disabled"
    return "offline" if Path(out[1]).name.startswith("offline-run-") else "online"


def test_offline_online_disabled_enabled_persist_the_mode(w: RhEnv) -> None:
    settings = w.work / "runhive" / "settings"
    res = cli(w, "offline")
    assert "runhive offline" in res.stdout and "mode = offline" in settings.read_text()
    assert "[default]" in settings.read_text()
    assert _init_kind(w) == "offline"
    assert status(w)["mode"] == {"value": "offline", "source": "runhive/settings"}
    assert _init_kind(w, env={"RUNHIVE_MODE": "online"}) == "online"  # the environment wins over the file
    res = cli(w, "offline", env={"RUNHIVE_MODE": "online"})
    assert "RUNHIVE_MODE=online is set and wins" in res.stdout

    cli(w, "disabled")
    assert "mode = disabled" in settings.read_text() and _init_kind(w) == "disabled"
    cli(w, "enabled")
    assert "mode = online" in settings.read_text() and _init_kind(w) == "online"
    cli(w, "off")  # W&B's hidden spelling
    assert _init_kind(w) == "offline"
    cli(w, "online")  # as `wandb online`: the workspace's mode is cleared
    assert "mode" not in settings.read_text() and _init_kind(w) == "online"
    assert status(w)["mode"] == {"value": "online", "source": "default"}

    # A user-wide settings file that says offline: `online` writes online here so it wins.
    user = w.root / "config" / "settings"
    user.parent.mkdir(exist_ok=True)
    user.write_text("[default]\nmode = offline\nproject = fromfile\n")
    assert _init_kind(w) == "offline"
    cli(w, "online")
    assert "mode = online" in settings.read_text() and _init_kind(w) == "online"
    st = status(w)
    assert st["project"] == {"value": "fromfile", "source": str(user)}
    assert [f["exists"] for f in st["settings_files"]] == [True, True]


def test_status_shows_the_settings_that_matter(w: RhEnv) -> None:
    st = status(w, env={"RUNHIVE_PROJECT": "vision", "RUNHIVE_ENTITY": "lab"})
    assert st["mode"] == {"value": "online", "source": "default"}
    assert st["project"] == {"value": "vision", "source": "RUNHIVE_PROJECT"}
    assert st["entity"] == {"value": "lab", "source": "RUNHIVE_ENTITY"}
    assert st["data_dir"] == {"value": str(w.data), "source": "RUNHIVE_DATA_DIR"}
    assert st["service_dir"] == {"value": str(w.svc), "source": "RUNHIVE_SERVICE_DIR"}
    assert st["run_dirs"]["value"] == str(w.work / "runhive")
    assert st["store"] == {"value": str(w.store), "exists": False}
    assert st["daemon"]["running"] is False
    assert st["server"]["logged_in"] is False

    cli(w, "service", "start")
    st = status(w)
    assert st["daemon"]["running"] is True and st["daemon"]["pid"] in w.daemon_pids()
    table = cli(w, "status").stdout
    for text in ("runhive status", "mode", "online", str(w.data), f"running (pid {st['daemon']['pid']})"):
        assert text in table, text
    assert "none (runs are local)" in table
    assert cli(w, "status", "--no-settings").stdout == ""


# -- sync ----------------------------------------------------------------------------------------------------------

_OFFLINE = """
import sys, runhive
run = runhive.init(project="off", mode="offline", config={"n": int(sys.argv[1])})
for i in range(3):
    run.log({"x": i})
run.finish()
print(run.id)
"""


def _offline_run(rh: RhEnv, n: int) -> str:
    return rh.run(_OFFLINE, str(n)).stdout.split()[-1]


def _stored(rh: RhEnv, path: str) -> list[str]:
    api = rh.api()
    try:
        return [r.id for r in api.runs(path)]
    finally:
        api.close()


def test_sync_flags_as_wandb(w: RhEnv) -> None:
    a, b = _offline_run(w, 1), _offline_run(w, 2)
    online = w.run(_INIT).stdout.split()[1]

    res = cli(w, "sync", "--dry-run")
    assert "nothing is changed" in res.stdout and "3 runs: 2 would be synced, 1 skipped" in res.stdout
    assert a in res.stdout and b in res.stdout and "skip: written online" in res.stdout
    assert not w.store.exists() or _stored(w, "off") == []
    assert not list((w.work / "runhive").glob("*/.synced"))

    res = cli(w, "sync", "--no-include-offline")
    assert "1 run: 0 synced, 1 skipped" in res.stdout
    assert _stored(w, "off") == []

    dirs = {d.name.rsplit("-", 1)[-1]: d for d in (w.work / "runhive").iterdir() if d.is_dir()}
    res = cli(w, "sync", "-p", "moved", "-e", "lab", "--id", "renamed1", str(dirs[a]))
    assert "synced" in res.stdout and _stored(w, "lab/moved") == ["renamed1"]

    res = cli(w, "sync", "--dry-run", "--include-online", "--include-synced", "-p", "elsewhere")
    assert "3 runs: 3 would be synced" in res.stdout and "sync (project elsewhere)" in res.stdout

    res = cli(w, "sync", "--sync-all", str(dirs[b]))
    assert "3 runs: 1 synced, 2 skipped" in res.stdout
    assert _stored(w, "off") == [b]
    res = cli(w, "sync", "--dry-run")
    assert "3 runs: 0 would be synced, 3 skipped" in res.stdout and "already synced" in res.stdout
    assert Path(online).is_dir()


def test_sync_clean_deletes_synced_run_directories_after_asking(w: RhEnv) -> None:
    a, b = _offline_run(w, 1), _offline_run(w, 2)
    online = Path(w.run(_INIT).stdout.split()[1])
    dirs = {d.name.rsplit("-", 1)[-1]: d for d in (w.work / "runhive").iterdir() if d.is_dir()}
    cli(w, "sync", str(dirs[a]))
    assert (dirs[a] / ".synced").is_file()

    res = cli(w, "sync", "--clean")  # W&B's default: only runs older than 24 hours
    assert "no synced runs started more than 24 hours ago (1 synced" in res.stdout and dirs[a].is_dir()
    res = cli(w, "sync", "--clean", "--clean-old-hours", "0", stdin="n\n", check=False)
    assert (
        res.returncode == 1
        and "Remove 1 run directory? [y/N]" in res.stdout
        and "nothing removed" in res.stdout
    )
    assert dirs[a].name in res.stdout and dirs[b].name not in res.stdout and dirs[a].is_dir()
    res = cli(
        w, "sync", "--clean", "--clean-old-hours", "0", check=False
    )  # no answer at all: nothing removed
    assert res.returncode == 1 and dirs[a].is_dir()
    res = cli(w, "sync", "--clean", "--clean-old-hours", "0", stdin="y\n")
    assert "removed 1 run directory" in res.stdout and not dirs[a].exists()
    assert dirs[b].is_dir() and online.is_dir()  # not synced, and written online: never cleaned
    assert _stored(w, "off") == [a]  # the store keeps the run

    cli(w, "sync", str(dirs[b]))
    res = cli(w, "sync", "--clean", "--clean-old-hours", "0", "--clean-force")
    assert "removed 1 run directory" in res.stdout and not dirs[b].exists() and online.is_dir()


# -- artifacts -----------------------------------------------------------------------------------------------------


def test_artifact_put_ls_get(w: RhEnv) -> None:
    data = w.work / "dataset"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("alpha\n")
    (data / "sub" / "b.bin").write_bytes(bytes(range(256)) * 10)
    res = cli(w, "artifact", "put", str(data), "--name", "vision/images", "--type", "dataset", "-a", "best")
    assert "Artifact images:v0 (dataset, 2 files)" in res.stdout
    (data / "a.txt").write_text("alpha, second version\n")
    cli(w, "artifact", "put", str(data), "--name", "images", "-p", "vision", "--type", "dataset")
    model = w.work / "model.pt"
    model.write_bytes(b"weights")
    cli(w, "artifact", "put", str(model), "-t", "model", "-p", "vision", "-d", "a model")

    entity = status(w)["entity"]["value"]
    ls = cli(w, "artifact", "ls", "vision").stdout
    assert "images:v1" in ls and "model.pt:v0" in ls and "dataset" in ls and "model" in ls
    assert cli(w, "artifact", "ls", f"{entity}/vision", "--type", "model").stdout.count(":v0") == 1
    assert "no artifacts in project 'empty'" in cli(w, "artifact", "ls", "empty").stdout

    # `latest` is the version logged last; `best` stayed with the first. Versions are numbered per project.
    out = w.work / "got"
    res = cli(w, "artifact", "get", "vision/images:latest", "--root", str(out))
    assert "Artifact downloaded to" in res.stdout and "(2 files)" in res.stdout
    assert (out / "a.txt").read_text() == "alpha, second version\n"
    assert (out / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 10
    cli(w, "artifact", "get", f"{entity}/vision/images:best", "--root", str(w.work / "best"))
    assert (w.work / "best" / "a.txt").read_text() == "alpha\n"
    cli(w, "artifact", "get", "vision/model.pt", "--type", "model")  # default root: ./artifacts/NAME:VERSION
    assert (w.work / "artifacts" / "model.pt:v0" / "model.pt").read_bytes() == b"weights"

    cli(w, "artifact", "get", "vision/images:v0", "--root", str(w.work / "v0"))
    assert (w.work / "v0" / "a.txt").read_text() == "alpha\n"
    res = cli(w, "artifact", "get", "vision/model.pt", "--type", "dataset", check=False)
    assert res.returncode == 2 and "is of type 'model', not 'dataset'" in res.stderr
    res = cli(w, "artifact", "get", "vision/images:nope", check=False)
    assert res.returncode == 2 and "no version or alias 'nope'" in res.stderr

    # A file changed on disk after it was logged is refused, not handed over.
    api = w.api()
    try:
        runs = [r for r in api.runs("vision") if r.job_type == "cli_put"]
    finally:
        api.close()
    assert len(runs) == 3
    import hashlib

    from runhive.protocol.artifact_store import object_path

    stored = object_path(w.data / "artifacts", hashlib.sha256(b"weights").hexdigest())
    stored.chmod(0o644)
    stored.write_bytes(b"tampered")
    res = cli(w, "artifact", "get", "vision/model.pt", "--root", str(w.work / "t"), check=False)
    assert res.returncode == 2 and "does not match its manifest's sha256" in res.stderr


# -- pull, restore, verify -----------------------------------------------------------------------------------------

_RUN_WITH_FILES = """
import os, runhive
os.makedirs("ckpt/epoch1", exist_ok=True)
open("ckpt/epoch1/model.pt", "w").write("m1")
open("train.py", "w").write("print('train')\\n")
run = runhive.init(project="pulls", config={"lr": 0.1, "layers": [64, 32]}, save_code=True,
                   settings=runhive.Settings(program="train.py"))
run.save("ckpt/epoch1/model.pt", policy="now")
run.log({"loss": 0.5})
run.finish()
print(run.id)
"""


def test_pull_and_restore(w: RhEnv) -> None:
    run_id = w.run(_RUN_WITH_FILES).stdout.split()[-1]
    dest = w.work / "elsewhere"
    dest.mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "runhive.cli", "pull", run_id, "-p", "pulls"],
        cwd=dest,
        env={**w.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert (dest / "ckpt" / "epoch1" / "model.pt").read_text() == "m1"
    assert (dest / "code" / "train.py").read_text() == "print('train')\n"
    assert "pulled 2 files" in res.stdout
    again = subprocess.run(
        [sys.executable, "-m", "runhive.cli", "pull", f"pulls/{run_id}"],
        cwd=dest,
        env={**w.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "pulled 0 files" in again.stdout and "(2 already up to date)" in again.stdout
    res = cli(w, "pull", "pulls/nosuchrun", check=False)
    assert res.returncode == 2 and "Could not find run" in res.stderr

    restore_dir = w.work / "restored"
    restore_dir.mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "runhive.cli", "restore", f"pulls:{run_id}"],
        cwd=restore_dir,
        env={**w.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "Restored config variables to runhive/config.yaml" in res.stdout
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((restore_dir / "runhive" / "config.yaml").read_text())
    assert doc == {
        "wandb_version": 1,
        "lr": {"desc": None, "value": 0.1},
        "layers": {"desc": None, "value": [64, 32]},
    }
    assert (restore_dir / "train.py").read_text() == "print('train')\n"
    assert "Run `python train.py` to reproduce it" in res.stdout


def test_verify_checks_the_install(w: RhEnv) -> None:
    res = cli(w, "verify")
    lines = res.stdout.splitlines()
    for check in ("daemon", "log a run", "read back", "artifact", "offline sync"):
        assert any(line.startswith(f"OK   {check}") for line in lines), (check, res.stdout)
    assert any(line.startswith("SKIP team server") for line in lines)
    assert "FAIL" not in res.stdout and "runhive works" in res.stdout
    api = w.api()
    try:
        assert len(api.runs("runhive-verify")) == 2  # the online run and the synced offline one
    finally:
        api.close()

    # A daemon directory nobody can use: the checks fail, say why, and the exit code says so.
    bad = w.root / "not-a-dir"
    bad.write_text("")
    res = cli(w, "verify", env={"RUNHIVE_SERVICE_DIR": str(bad), "RUNHIVE_SERVICE_WAIT": "5"}, check=False)
    assert res.returncode == 1 and "FAIL daemon" in res.stdout and "checks failed" in res.stdout
