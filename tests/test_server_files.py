"""Run files on a team server (issue 14): the file stores (a directory; S3 through boto3 against moto's server mode,
started here on a free port and stopped by pid), and end to end with real processes: a training process logs media
and `run.save()` files (policies now/live/end) through its node's daemon to a `runhive server` (SQLite, and
PostgreSQL 15), and `Api(overrides={"base_url": URL})` lists them, downloads them byte for byte, and resolves the
media paths in `run.history()`. Identical contents are stored once; a replay sends nothing; another user may
neither read nor write them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _pg import ServerProcess, free_port, server_db
from conftest import RhEnv, wait_for
from runhive_service.server._filestore import DirectoryStore, S3Store, blob_key, open_file_store
from test_upload_server import admin, client_env

__all__ = ["server_db"]  # the fixture, imported from _pg

LOG_FILES = """
import os, sys, runhive
import numpy as np

run = runhive.init(project="media", settings=runhive.Settings(finish_timeout=120))
print("ENTITY", run.entity, "ID", run.id, "DIR", run.dir, flush=True)
os.makedirs("ckpt", exist_ok=True)
with open("ckpt/now.txt", "w") as f:
    f.write("saved now")
run.save("ckpt/now.txt", policy="now")
with open("ckpt/live.txt", "w") as f:
    f.write("first")
run.save("ckpt/live.txt", policy="live")
with open("ckpt/end.txt", "w") as f:
    f.write("saved at the end")
run.save("ckpt/end.txt", policy="end")
with open("ckpt/same.txt", "w") as f:
    f.write("saved now")  # the same bytes as now.txt: one blob on the server
run.save("ckpt/same.txt", policy="now")
pixels = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
for step in range(3):
    run.log({"img": runhive.Image(pixels + step), "loss": 1.0 / (step + 1)})
with open("ckpt/live.txt", "w") as f:
    f.write("latest contents of the live file")
run.finish()
print("DONE", flush=True)
"""

READ = """
import json, os, sys, runhive
url, key, path, out = sys.argv[1:5]
api = runhive.Api(overrides={"base_url": url}, api_key=key)
run = api.run(path)
files = {f.name: f.size for f in run.files()}
rows = [r["img"] for r in run.history(keys=["img"], pandas=False)]
for name in files:
    run.file(name).download(root=out, replace=True)
media = [r["path"] for r in rows]
for p in media:
    run.file(p).download(root=os.path.join(out, "media-check"), replace=True)
print("RESULT", json.dumps({"files": files, "media": media}), flush=True)
"""


def _result(stdout: str) -> Any:
    return json.loads(stdout.split("RESULT ", 1)[1].splitlines()[0])


def _ident(stdout: str) -> tuple[str, str, str]:
    words = stdout.split("ENTITY ", 1)[1].split()
    return words[0], words[2], words[4]


def _request(url: str, key: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _local_files(run_dir: str) -> dict[str, bytes]:
    base = Path(run_dir) / "files"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def _check_run(
    rh: RhEnv, url: str, key: str, files_root: Path | None
) -> tuple[str, str, str, dict[str, bytes]]:
    res = rh.run(LOG_FILES)
    assert "DONE" in res.stdout and "not yet uploaded" not in res.stderr, res.stderr
    entity, run_id, run_dir = _ident(res.stdout)
    local = _local_files(run_dir)
    assert {"ckpt/now.txt", "ckpt/live.txt", "ckpt/end.txt", "ckpt/same.txt"} <= set(local)
    assert sum(1 for n in local if n.startswith("media/images/")) == 3
    out = rh.root / "downloaded"
    read = rh.run(READ, url, key, f"{entity}/media/{run_id}", str(out), check=False)
    assert read.returncode == 0, read.stdout + read.stderr
    got = _result(read.stdout)
    # finish() returned: every file is on the server already, with the latest contents of the live file.
    assert got["files"] == {name: len(data) for name, data in local.items()}
    for name, data in local.items():
        assert (out / name).read_bytes() == data, name
    assert (out / "ckpt/live.txt").read_text() == "latest contents of the live file"
    assert len(got["media"]) == 3 and all(p.startswith("media/images/") for p in got["media"])
    for p in got["media"]:
        assert (out / "media-check" / p).read_bytes() == local[p]
    if files_root is not None:
        blobs = DirectoryStore(files_root).list("sha256/")
        digests = {hashlib.sha256(d).hexdigest() for d in local.values()}
        # Each distinct content once; the live file's earlier contents may be there too when a periodic pass
        # sent them before the file changed (timing-dependent: one extra blob at most).
        assert {blob_key(d) for d in digests} <= set(blobs), "every final content stored"
        assert len(blobs) == len(set(blobs)) and len(blobs) <= len(digests) + 1, blobs
    return entity, run_id, run_dir, local


def test_files_reach_the_server_and_read_back(rh: RhEnv, server_db: str, tmp_path: Path) -> None:
    files_root = tmp_path / "server-files"
    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db, "--files", str(files_root))
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        entity, run_id, _run_dir, local = _check_run(rh, url, key, files_root)
        base = f"{url.rstrip('/')}/api/v1/files/{entity}/media/{run_id}"

        # A replay (a daemon that lost its progress) asks first and sends nothing: the server has every digest.
        listing = [
            {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in local.items()
        ]
        status, body = _request(base, key, "POST", json.dumps({"files": listing}).encode())
        assert (status, json.loads(body)) == (200, {"missing": []})

        # Another user may neither list, read nor write the private project's files.
        bob = admin(server_db, "user", "create", "bob")
        for method, where, data in (
            ("GET", base, None),
            ("GET", f"{base}/ckpt/now.txt", None),
            ("POST", base, json.dumps({"files": listing}).encode()),
        ):
            status, body = _request(where, bob, method, data)
            assert status == 403 and b"permission denied: user 'bob'" in body, (method, where, body)
        # Bytes that do not match the announced digest are refused (a torn upload never becomes a file).
        status, body = _request(f"{base}/x.txt?sha256={'0' * 64}", key, "PUT", b"hello")
        assert status == 400 and b"sha256" in body
        status, body = _request(f"{base}/../escape?sha256={'0' * 64}", key, "PUT", b"")
        assert status in (400, 404)
    finally:
        server.stop()


def test_sqlite_server_keeps_files_beside_its_database(rh: RhEnv, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'db' / 'server.db'}"
    (tmp_path / "db").mkdir()
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        assert any(f"files {tmp_path / 'db' / 'files'}" in line for line in server.lines), server.lines
        rh.environ.update(client_env(rh, url, key))
        _check_run(rh, url, key, tmp_path / "db" / "files")
    finally:
        server.stop()


def test_daemon_restart_resumes_files_without_resending(rh: RhEnv, tmp_path: Path) -> None:
    """The files' progress is durable beside the records' marks: a new daemon on the same data directory resumes
    a run whose files were not all sent, and sends only those."""
    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        _entity, run_id, _run_dir, local = _check_run(rh, url, key, tmp_path / "files")
        uploads = rh.data / "uploads" if (rh.data / "uploads").is_dir() else None
        progress = [p for p in (uploads.glob("*.json") if uploads else []) if run_id in p.read_text()]
        assert progress == [], "a run whose records and files are all on the server leaves no progress file"
        assert len(local) >= 7
    finally:
        server.stop()


# -- the stores on their own -----------------------------------------------------------------------------------


def _exercise(store: Any, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    src.write_bytes(b"x" * 3_000_000)
    assert not store.exists("sha256/ab/abc")
    store.put("sha256/ab/abc", src)
    store.put("sha256/ab/abc", src)  # idempotent
    store.put("other/key.txt", src)
    assert store.exists("sha256/ab/abc")
    assert b"".join(store.get("sha256/ab/abc")) == src.read_bytes()
    assert store.list("sha256/") == ["sha256/ab/abc"]
    assert store.list() == ["other/key.txt", "sha256/ab/abc"]
    store.delete("sha256/ab/abc")
    store.delete("sha256/ab/abc")  # nothing there: no error
    assert not store.exists("sha256/ab/abc")
    with pytest.raises(FileNotFoundError):
        store.get("sha256/ab/abc")
    from runhive_service.server import InvalidArgument

    with pytest.raises(InvalidArgument):
        store.exists("../outside")


def test_directory_store(tmp_path: Path) -> None:
    _exercise(DirectoryStore(tmp_path / "store"), tmp_path)
    assert not list((tmp_path / "store").rglob(".put-*")), "no temporaries left behind"


def test_file_store_choice(tmp_path: Path) -> None:
    sqlite_store = open_file_store(None, f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(sqlite_store, DirectoryStore) and sqlite_store.root == tmp_path / "files"
    assert open_file_store(None, "postgresql://u@localhost/db") is None, (
        "PostgreSQL: no files without --files"
    )
    assert isinstance(open_file_store(str(tmp_path / "d"), "postgresql://u@localhost/db"), DirectoryStore)
    from runhive_service.server import InvalidArgument

    with pytest.raises(InvalidArgument, match="s3://BUCKET"):
        open_file_store("gs://bucket", "postgresql://u@localhost/db")


@pytest.fixture
def moto_s3(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """moto's S3 server on a free port (its own process, stopped by pid); (endpoint, AWS environment)."""
    port = free_port()
    log = open(tmp_path / "moto.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "moto.log").read_text()
        try:
            with urllib.request.urlopen(endpoint, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    try:
        wait_for(up, 60, "moto's S3 server")
        yield endpoint, env
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def _bucket(endpoint: str, env: dict[str, str], name: str) -> Any:
    import boto3

    s3 = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=name)
    return s3


def test_s3_store(
    moto_s3: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, env = moto_s3
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    _bucket(endpoint, env, "team")
    _exercise(S3Store("s3://team/runhive/files", endpoint), tmp_path)
    # boto3's own convention for the endpoint: AWS_ENDPOINT_URL, when no --s3-endpoint-url is given.
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    _bucket(endpoint, env, "whole")
    _exercise(S3Store("s3://whole"), tmp_path)


def test_files_on_s3(rh: RhEnv, moto_s3: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    endpoint, env = moto_s3
    s3 = _bucket(endpoint, env, "runs")
    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the server process inherits them (boto3 reads its credentials there)
    try:
        server = ServerProcess(db, "--files", "s3://runs/team-a", "--s3-endpoint-url", endpoint)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        _entity, _run_id, _dir, local = _check_run(rh, url, key, None)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="runs", Prefix="team-a/").get("Contents") or []]
        digests = {hashlib.sha256(d).hexdigest() for d in local.values()}
        assert sorted(keys) == sorted(f"team-a/{blob_key(d)}" for d in digests)
        assert not (tmp_path / "files").exists(), "with --files s3://..., nothing on the server's disk"
    finally:
        server.stop()
