"""Artifacts on a team server (issue 14), end to end with real processes on SQLite and PostgreSQL 15: a training
process logs a dataset artifact (two files) twice with identical contents and once changed, another run uses the
first version; the node's daemon uploads them, and `Api(overrides={"base_url": URL})` reads back versions v0 and v1
with their aliases, downloads them byte for byte, and follows the lineage (`logged_artifacts`, `used_artifacts`,
`used_by`, `logged_by`). Identical objects are stored once in the file store; a replay of a manifest creates no
version; another user without permission is refused."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from _pg import ServerProcess, server_db
from conftest import RhEnv, wait_for
from runhive_service.daemon._upload_files import FilesState, files_url, sync_artifacts
from runhive_service.daemon._uploader import _send
from runhive_service.server._filestore import DirectoryStore, blob_key
from test_upload_server import admin, alice_server, client_env, query

__all__ = ["server_db"]  # the fixture, imported from _pg

B_BYTES = bytes(range(256)) * 40  # b.bin: the same bytes in every version

LOG = """
import os, runhive
run = runhive.init(project="arts", settings=runhive.Settings(finish_timeout=120))
os.makedirs("data", exist_ok=True)

def write(text):
    with open("data/a.txt", "w") as f:
        f.write(text)
    with open("data/b.bin", "wb") as f:
        f.write(bytes(range(256)) * 40)

def log(aliases=None):
    art = runhive.Artifact("dataset", "dataset", description="two files", metadata={"rows": 2})
    art.add_dir("data")
    run.log_artifact(art, aliases=aliases)
    return art.version

write("alpha")
versions = [log(), log()]  # identical contents: one version
write("alpha, changed")
versions.append(log(aliases=["best"]))
print("RUN", run.entity, run.id, run.dir, " ".join(versions), flush=True)
run.finish()
"""

USE = """
import runhive
run = runhive.init(project="arts", settings=runhive.Settings(finish_timeout=120))
art = run.use_artifact("dataset:v0")
print("RUN", run.entity, run.id, art.version, flush=True)
run.finish()
"""


def _ids(stdout: str) -> list[str]:
    return stdout.split("RUN ", 1)[1].splitlines()[0].split()


def _request(url: str, key: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_artifacts_reach_the_server_and_read_back(rh: RhEnv, server_db: str, tmp_path: Path) -> None:
    import runhive
    from runhive.errors import UsageError

    files_root = tmp_path / "server-files"
    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db, "--files", str(files_root))
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        logged = rh.run(LOG)
        assert "not yet uploaded" not in logged.stderr, logged.stderr
        entity, logger_id, run_dir, *local_versions = _ids(logged.stdout)
        assert local_versions == ["v0", "v0", "v1"]
        used = rh.run(USE)
        assert "not yet uploaded" not in used.stderr, used.stderr
        _, user_id, used_version = _ids(used.stdout)
        assert used_version == "v0"

        # finish() returned: the versions, their files and the lineage are on the server.
        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        latest = api.artifact(f"{entity}/arts/dataset:latest")
        assert (latest.version, sorted(latest.aliases)) == ("v1", ["best", "latest"])
        assert api.artifact(f"{entity}/arts/dataset:best").version == "v1"
        v0 = api.artifact(f"{entity}/arts/dataset:v0")
        assert (v0.type, v0.description, v0.metadata, v0.aliases) == ("dataset", "two files", {"rows": 2}, [])
        assert [v.version for v in api.artifacts("dataset", f"{entity}/arts/dataset")] == ["v0", "v1"]
        assert sorted(e.path for e in v0.files()) == ["a.txt", "b.bin"]
        for art, text in ((v0, "alpha"), (latest, "alpha, changed")):
            root = Path(art.download(root=str(tmp_path / art.version)))
            assert (root / "a.txt").read_text() == text
            assert (root / "b.bin").read_bytes() == B_BYTES

        # Lineage: the logging run logged v0 (twice: once) and v1; the other run used v0.
        logger_run = api.run(f"{entity}/arts/{logger_id}")
        user_run = api.run(f"{entity}/arts/{user_id}")
        assert [a.version for a in logger_run.logged_artifacts()] == ["v0", "v1"]
        assert [a.version for a in user_run.used_artifacts()] == ["v0"]
        assert user_run.logged_artifacts() == [] and logger_run.used_artifacts() == []
        assert [r.id for r in v0.used_by()] == [user_id]
        assert latest.used_by() == []
        assert v0.logged_by().id == logger_id and latest.logged_by().id == logger_id

        # Identical objects are stored once: four file rows, three distinct contents, each one blob.
        rows = query(server_db, "SELECT sha256 FROM artifact_files")
        assert len(rows) == 4 and len({r[0] for r in rows}) == 3
        blobs = DirectoryStore(files_root).list("sha256/")
        assert {blob_key(r[0]) for r in rows} <= set(blobs) and len(blobs) == len(set(blobs))
        assert blob_key(hashlib.sha256(B_BYTES).hexdigest()) in blobs

        # A replay (a daemon that lost its progress) asks for nothing and creates no version.
        manifest = {
            "name": "dataset",
            "type": "dataset",
            "files": [{"path": e.path, "size": e.size, "sha256": e.digest} for e in v0.files()],
            "run_id": logger_id,
        }
        base = f"{url.rstrip('/')}/api/v1/artifacts"
        status, doc = _request(f"{base}/objects/{entity}/arts", key, "POST", {"sha256": [r[0] for r in rows]})
        assert (status, doc) == (200, {"missing": []})
        status, doc = _request(f"{base}/versions/{entity}/arts", key, "POST", manifest)
        assert (status, doc["version"], doc["created"]) == (200, "v0", False), doc
        # The uploader's own pass with its progress lost: every line handled again, nothing new stored.
        state = FilesState()
        where = files_url(url.rstrip("/"), entity, "arts", logger_id)
        assert sync_artifacts(state, Path(run_dir), where, key, _send, lambda fn: fn(), lambda: None) == 3
        assert (
            state.to_doc()["artifacts"]["logged"] == (Path(run_dir) / "logged_artifacts.jsonl").stat().st_size
        )
        assert len(query(server_db, "SELECT version FROM artifact_versions")) == 2
        assert len(query(server_db, "SELECT run_id FROM artifact_runs")) == 3  # logged v0, v1; used v0

        # Another user may neither read nor write them.
        bob = admin(server_db, "user", "create", "bob")
        bob_api = runhive.Api(overrides={"base_url": url}, api_key=bob)
        with pytest.raises(UsageError, match="permission denied: user 'bob'"):
            bob_api.artifact(f"{entity}/arts/dataset:latest")
        for method, where, body in (
            ("GET", f"{base}/file?entity={entity}&project=arts&name=dataset&version=v0&path=a.txt", None),
            ("GET", f"{base}/run?entity={entity}&project=arts&run_id={logger_id}", None),
            ("POST", f"{base}/versions/{entity}/arts", manifest),
            ("POST", f"{base}/objects/{entity}/arts", {"sha256": [rows[0][0]]}),
        ):
            status, doc = _request(where, bob, method, body)
            assert status == 403 and "permission denied: user 'bob'" in doc["error"], (method, where, doc)
    finally:
        server.stop()


def test_deleting_versions_and_a_runs_artifacts_on_the_server(
    rh: RhEnv, server_db: str, tmp_path: Path
) -> None:
    """W&B's `Artifact.delete(delete_aliases=)` and `run.delete(delete_artifacts=True)` against a server: rows and
    the bytes no other row names go; a version with aliases only with `delete_aliases`; numbers are not given
    again; a user without write permission is refused."""
    import runhive
    from runhive.errors import UsageError

    files_root = tmp_path / "server-files"
    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db, "--files", str(files_root))
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        entity, logger_id, _run_dir, *_ = _ids(rh.run(LOG).stdout)
        _, user_id, _ = _ids(rh.run(USE).stdout)
        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        changed = blob_key(hashlib.sha256(b"alpha, changed").hexdigest())
        shared = blob_key(hashlib.sha256(B_BYTES).hexdigest())
        assert {changed, shared} <= set(DirectoryStore(files_root).list("sha256/"))

        bob = admin(server_db, "user", "create", "bob")
        delete = {
            "entity": entity,
            "project": "arts",
            "name": "dataset",
            "version": "v1",
            "delete_aliases": True,
        }
        status, doc = _request(f"{url.rstrip('/')}/api/v1/artifacts/delete", bob, "POST", delete)
        assert status == 403 and "permission denied: user 'bob'" in doc["error"], doc

        v1 = api.artifact(f"{entity}/arts/dataset:v1")
        with pytest.raises(UsageError, match=r"has aliases \(best\): pass delete_aliases=True"):
            v1.delete()
        v1.delete(delete_aliases=True)
        with pytest.raises(UsageError, match="has no version or alias 'v1'"):
            api.artifact(f"{entity}/arts/dataset:v1")
        assert api.artifact(f"{entity}/arts/dataset:latest").version == "v0"
        blobs = set(DirectoryStore(files_root).list("sha256/"))
        assert changed not in blobs and shared in blobs, "only the bytes no other version holds go"

        api.run(f"{entity}/arts/{logger_id}").delete(delete_artifacts=True)
        assert query(server_db, "SELECT version FROM artifact_versions") == []
        assert query(server_db, "SELECT sha256 FROM artifact_files") == []
        assert api.run(f"{entity}/arts/{user_id}").used_artifacts() == [], "the lineage went with the version"
        assert shared not in set(DirectoryStore(files_root).list("sha256/"))

        _, again_id, _, *_ = _ids(
            rh.run(LOG).stdout
        )  # the same contents again: numbered after the deleted ones
        assert [v.version for v in api.artifacts("dataset", f"{entity}/arts/dataset")] == ["v2", "v3"]
        api.run(f"{entity}/arts/{again_id}").delete()  # without delete_artifacts: the versions stay, orphaned
        v2 = api.artifact(f"{entity}/arts/dataset:v2")
        assert v2.logged_by() is None, "W&B's answer for a version whose run was deleted"
    finally:
        server.stop()


LINKS = """
import runhive
run = runhive.init(project="arts", settings=runhive.Settings(finish_timeout=120))
with open("model.pt", "wb") as f:
    f.write(b"weights v1")
run.link_model(path="model.pt", registered_model_name="my-model", aliases=["prod"])
with open("d.txt", "w") as f:
    f.write("rows")
art = runhive.Artifact("ds", "dataset")
art.add_file("d.txt")
run.log_artifact(art)
art.link("wandb-registry-datasets/ds-reg")
print("RUN", run.entity, run.id, flush=True)
run.finish()
"""


def test_links_and_registries_on_the_server(rh: RhEnv, server_db: str, tmp_path: Path) -> None:
    """`run.link_model`, `Artifact.link` into a registry, and `Api().artifact(...).link()` / `unlink()` on a team
    server: the links are versions of their collections that name their sources and carry their files; linking
    again finds the link; deleting a source deletes its links."""
    import runhive
    from runhive.errors import UsageError

    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db, "--files", str(tmp_path / "server-files"))
    try:
        url = server.wait_ready()
        rh.environ.update(client_env(rh, url, key))
        res = rh.run(LINKS)
        assert "not yet uploaded" not in res.stderr, res.stderr
        entity, _run_id = _ids(res.stdout)
        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        reg = api.artifact(f"{entity}/model-registry/my-model:prod")
        assert reg.is_link and (reg.version, sorted(reg.aliases)) == ("v0", ["latest", "prod"])
        model = reg.source_artifact
        assert (model.project, model.type, model.is_link) == ("arts", "model", False)
        assert model.name.startswith("run-") and model.name.endswith("-model.pt:v0")
        root = Path(reg.download(root=str(tmp_path / "reg")))
        assert (root / "model.pt").read_bytes() == b"weights v1"
        ds = api.artifact(f"{entity}/wandb-registry-datasets/ds-reg:latest")
        assert ds.is_link and ds.source_artifact.qualified_name == f"{entity}/arts/ds:v0"

        # Through Api(): link a version, link it again (the same link, aliases moved), unlink it.
        source = api.artifact(f"{entity}/arts/ds:v0")
        linked = source.link("model-registry/other", aliases=["x"])
        assert (linked.qualified_name, linked.version, linked.is_link) == (
            f"{entity}/model-registry/other:v0",
            "v0",
            True,
        )
        again = source.link("model-registry/other", aliases=["y"])
        assert again.version == "v0" and sorted(again.aliases) == ["latest", "x", "y"]
        assert api.artifact(f"{entity}/model-registry/other:y").source_artifact.version == "v0"
        api.artifact(f"{entity}/model-registry/other:v0").unlink()
        with pytest.raises(UsageError):
            api.artifact(f"{entity}/model-registry/other:y")
        assert api.artifact(f"{entity}/arts/ds:v0").version == "v0", "unlinking keeps the source"
        with pytest.raises(ValueError, match="not a linked artifact"):
            source.unlink()

        # Deleting a source deletes its links.
        model.delete(delete_aliases=True)
        with pytest.raises(UsageError):
            api.artifact(f"{entity}/model-registry/my-model:prod")
    finally:
        server.stop()


def test_replicas_number_versions_once(server_db: str, tmp_path: Path) -> None:
    """Two servers on one database, 16 manifests at once (8 contents, each sent twice, through both): 8 versions
    v0..v7, each content one version whichever replica answered."""
    from concurrent.futures import ThreadPoolExecutor

    key = admin(server_db, "user", "create", "alice")
    servers = [ServerProcess(server_db, "--files", str(tmp_path / "files")) for _ in range(2)]
    try:
        urls = [s.wait_ready().rstrip("/") for s in servers]
        data = b"shared object"
        sha = hashlib.sha256(data).hexdigest()
        req = urllib.request.Request(
            f"{urls[0]}/api/v1/artifacts/objects/alice/race/{sha}",
            data=data,
            headers={"Authorization": f"Bearer {key}"},
            method="PUT",
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200

        def post(i: int) -> tuple[int, str, bool]:
            manifest = {
                "name": "model",
                "type": "model",
                "files": [{"path": f"w{i % 8}", "size": 13, "sha256": sha}],
            }
            status, doc = _request(
                f"{urls[i % 2]}/api/v1/artifacts/versions/alice/race", key, "POST", manifest
            )
            assert status == 200, doc
            return i % 8, doc["version"], doc["created"]

        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(post, range(16)))
        by_content: dict[int, set[str]] = {}
        for content, version, _created in got:
            by_content.setdefault(content, set()).add(version)
        assert all(len(v) == 1 for v in by_content.values()), by_content
        assert sorted(v for vs in by_content.values() for v in vs) == sorted(f"v{n}" for n in range(8))
        assert sum(created for _c, _v, created in got) == 8

        # Bad manifests are refused with what is wrong; the server stays up.
        base = f"{urls[1]}/api/v1/artifacts/versions/alice/race"
        for body, status, words in (
            ({"name": "a/b", "files": []}, 400, "artifact name 'a/b' is not valid"),
            ({"name": "m", "files": [], "metadata": {"x": float("nan")}}, 400, "JSON object"),
            (
                {"name": "m", "files": [{"path": "../x", "size": 1, "sha256": sha}]},
                400,
                "'../x' is not valid",
            ),
            (
                {"name": "m", "files": [{"path": "x", "size": 1, "sha256": "0" * 64}]},
                409,
                "send the objects first",
            ),
        ):
            got_status, doc = _request(base, key, "POST", body)
            assert (got_status, words in doc["error"]) == (status, True), (body, doc)
        got_status, doc = _request(
            base, key, "POST", {"name": "m", "files": [], "metadata": {"x": "a\u0000b"}}
        )
        assert got_status in (200, 400), doc  # PostgreSQL's JSONB cannot hold a NUL: refused, not a crash
        assert _request(f"{urls[1]}/healthz", key)[0] == 200
    finally:
        for s in servers:
            s.stop()


PENDING = """
import os, sys, time, runhive
work = sys.argv[1]
run = runhive.init(project="arts", settings=runhive.Settings(finish_timeout=1))
open(os.path.join(work, "id"), "w").write(run.id)
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(work, "go")) and time.monotonic() < deadline:
    time.sleep(0.01)
with open("weights.bin", "wb") as f:
    f.write(b"w" * 100000)
art = runhive.Artifact("model", "model")
art.add_file("weights.bin")
run.log_artifact(art, aliases=["prod"])
run.finish()
print("REPORT", run._finish_report, flush=True)
"""


def test_both_sides_restarted_the_artifact_still_arrives(rh: RhEnv, tmp_path: Path) -> None:
    """The server is down when the run logs its artifact and ends; the node's daemon is SIGKILLed too. The next
    daemon resumes the run from its progress file once the server is back, and the version arrives whole."""
    import runhive

    db = f"sqlite:///{tmp_path / 'server.db'}"
    server, port, url, key = alice_server(db, rh)
    work = rh.root / "sync"
    work.mkdir()
    proc = rh.spawn(PENDING, str(work))
    try:
        wait_for(lambda: (work / "id").exists(), 60, "init() done")
        run_id = (work / "id").read_text()
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        (work / "go").touch()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "not yet uploaded" in out, out + err
        for pid in rh.daemon_pids():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not rh.daemon_pids(), 10, "the daemon gone")
        server = ServerProcess(db, "--port", str(port))
        server.wait_ready()
        rh.cli("service", "start")
        wait_for(lambda: query(db, "SELECT version FROM artifact_versions"), 60, "the version on the server")
        art = runhive.Api(overrides={"base_url": url}, api_key=key).artifact("alice/arts/model:prod")
        assert (art.version, sorted(art.aliases)) == ("v0", ["latest", "prod"])
        assert art.logged_by().id == run_id
        assert Path(art.file(root=str(tmp_path / "dl"))).read_bytes() == b"w" * 100000
    finally:
        server.stop()


OFFLINE = """
import runhive
run = runhive.init(project="offline-arts", mode="offline")
with open("table.csv", "w") as f:
    f.write("a,b\\n1,2\\n")
art = runhive.Artifact("table", "dataset")
art.add_file("table.csv")
run.log_artifact(art)
print("RUN", run.entity, run.id, run.dir, flush=True)
run.finish()
"""


def test_runhive_sync_sends_an_offline_runs_artifacts(rh: RhEnv, tmp_path: Path) -> None:
    """`runhive sync --host` of an offline run sends the versions it logged into the run's project on the server
    (the key's user, whatever the node called the entity); twice is once."""
    import runhive

    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db)
    try:
        url = server.wait_ready()
        _entity, run_id, run_dir = _ids(rh.run(OFFLINE).stdout)
        for _ in range(2):
            res = rh.cli("sync", run_dir, "--host", url, "--api-key", key, check=False)
            assert res.returncode == 0 and "synced" in res.stdout, res.stdout + res.stderr
        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        art = api.artifact("alice/offline-arts/table:latest")
        assert art.version == "v0" and art.logged_by().id == run_id
        assert Path(art.file(root=str(tmp_path / "dl"))).read_text() == "a,b\n1,2\n"
        assert len(query(db, "SELECT version FROM artifact_versions")) == 1
    finally:
        server.stop()


# -- use_artifact of a version only the server has (two nodes) -----------------------------------------------------

NODE_B_OWN = """
import runhive
run = runhive.init(entity="alice", project="arts", mode="offline")
with open("own.txt", "w") as f:
    f.write("node B's own dataset")
art = runhive.Artifact("dataset", "dataset")
art.add_file("own.txt")
run.log_artifact(art)
print("RUN", art.version, flush=True)
run.finish()
"""

USE_LATEST = """
import sys, runhive
run = runhive.init(project="arts", settings=runhive.Settings(finish_timeout=120))
art = run.use_artifact("dataset:latest", type="dataset")
root = art.download(root=sys.argv[1])
entry = art.get_entry("a.txt")
print("RUN", run.entity, run.id, run.dir, art.qualified_name, entry.digest, root, flush=True)
run.finish()
"""


@pytest.fixture
def node_b(tmp_path: Path) -> Any:
    """A second node: its own daemon directory, data directory (artifact store) and store."""
    root = tmp_path / "node-b"
    root.mkdir()
    env = RhEnv(root)
    try:
        yield env
    finally:
        env.cleanup()


def test_use_artifact_resolves_on_the_server(
    rh: RhEnv, node_b: RhEnv, server_db: str, tmp_path: Path
) -> None:
    """Node A logs `dataset` v0 and v1; node B, whose own store holds another `dataset` v0 (an offline run's),
    uses `dataset:latest`: the server's v1, downloaded from the server byte for byte; after B's run ends the
    server's lineage has the use, and a replay of B's lines by the uploader adds nothing."""
    import runhive

    key = admin(server_db, "user", "create", "alice")
    server = ServerProcess(server_db, "--files", str(tmp_path / "server-files"))
    try:
        url = server.wait_ready()
        assert _ids(node_b.run(NODE_B_OWN).stdout) == ["v0"]  # before B knows the server: kept on B
        for node in (rh, node_b):
            node.environ.update(client_env(node, url, key))
        assert _ids(rh.run(LOG).stdout)[3:] == ["v0", "v0", "v1"]

        used = node_b.run(USE_LATEST, str(tmp_path / "dl"))
        assert "not yet uploaded" not in used.stderr, used.stderr
        entity, user_id, run_dir, qualified, digest, root = _ids(used.stdout)
        assert (entity, qualified) == ("alice", "alice/arts/dataset:v1")
        assert Path(root, "a.txt").read_text() == "alpha, changed"
        assert Path(root, "b.bin").read_bytes() == B_BYTES
        assert digest == hashlib.sha256(b"alpha, changed").hexdigest()
        # B's line names the server's version; B's own v0 has other contents, so no node version is named.
        (line,) = [json.loads(x) for x in (Path(run_dir) / "used_artifacts.jsonl").read_text().splitlines()]
        assert (line["server"], line["server_artifact"], "artifact" in line) == (
            url.rstrip("/"),
            qualified,
            False,
        )

        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        v1 = api.artifact("alice/arts/dataset:v1")
        assert [r.id for r in v1.used_by()] == [user_id]
        assert api.artifact("alice/arts/dataset:v0").used_by() == []
        assert [a.qualified_name for a in api.run(f"alice/arts/{user_id}").used_artifacts()] == [qualified]
        # Nothing of B's own store went up: the server still has A's two versions.
        assert len(query(server_db, "SELECT version FROM artifact_versions")) == 2

        state = FilesState()
        where = files_url(url.rstrip("/"), entity, "arts", user_id)
        assert sync_artifacts(state, Path(run_dir), where, key, _send, lambda fn: fn(), lambda: None) == 1
        assert len(query(server_db, "SELECT run_id FROM artifact_runs WHERE kind = 'used'")) == 1
    finally:
        server.stop()


USE_NODE_ONLY = """
import runhive
run = runhive.init(project="arts", settings=runhive.Settings(finish_timeout=120))
art = run.use_artifact("dataset:latest")
print("RUN", run.id, art.qualified_name, open(art.file(root="dl")).read().replace(" ", "_"), flush=True)
run.finish()
"""

USE_SERVER_DOWN = """
import os, sys, time, runhive
from runhive.errors import CommError
work = sys.argv[1]
run = runhive.init(project="arts", settings=runhive.Settings(finish_timeout=1))
open(os.path.join(work, "id"), "w").write(run.id)
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(work, "go")) and time.monotonic() < deadline:
    time.sleep(0.01)
try:
    run.use_artifact("missing:latest")
except CommError as exc:
    print("ERROR", exc, flush=True)
art = run.use_artifact("dataset:latest")
print("RUN", art.qualified_name, flush=True)
run.finish()
"""


def test_use_artifact_falls_back_to_the_nodes_store(rh: RhEnv, tmp_path: Path) -> None:
    """A name the server lacks (logged by an offline run of this node) is the node's version, and the uploader
    sends it with the use; with the server down, a version the node has is used with a warning, and one it lacks is
    a CommError naming the server and the artifact."""
    import runhive

    db = f"sqlite:///{tmp_path / 'server.db'}"
    key = admin(db, "user", "create", "alice")
    server = ServerProcess(db, "--files", str(tmp_path / "server-files"))
    try:
        url = server.wait_ready()
        assert _ids(rh.run(NODE_B_OWN).stdout) == ["v0"]
        rh.environ.update(client_env(rh, url, key))
        rh.environ["RUNHIVE_UPLOAD_BACKOFF_MAX"] = "0.3"
        user_id, qualified, text = _ids(rh.run(USE_NODE_ONLY).stdout)
        assert (qualified, text) == ("alice/arts/dataset:v0", "node_B's_own_dataset")
        api = runhive.Api(overrides={"base_url": url}, api_key=key)
        on_server = api.artifact("alice/arts/dataset:latest")
        assert [r.id for r in on_server.used_by()] == [user_id]

        work = tmp_path / "down"
        work.mkdir()
        proc = rh.spawn(USE_SERVER_DOWN, str(work))
        wait_for(lambda: (work / "id").exists(), 60, "init() done")
        server.stop()
        (work / "go").touch()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
        error = out.split("ERROR ", 1)[1].splitlines()[0]
        assert (
            "use_artifact('missing:latest')" in error
            and f"cannot reach the team server at {url.rstrip('/')}" in error
        )
        assert "this node's artifact store has no such version" in error
        assert _ids(out) == ["alice/arts/dataset:v0"]
        assert "using this node's version alice/arts/dataset:v0" in err, err
    finally:
        server.stop()
