"""The artifact store (issue 12, item 4): versions per project, contents stored once by sha256, concurrent
writers, the old per-run layout migrated, deleting a run's artifacts; `file://` and other references; metadata
converted as W&B; log_model/use_model/link_model/link_artifact/Artifact.link. Real daemons (the `rh` fixture)
where a run is involved."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import http.server
import json
import multiprocessing
import os
import threading
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import RhEnv
from runhive.errors import Error
from runhive.protocol.artifact_store import collect_garbage, delete_run_artifacts, object_path, versions
from runhive.sdk.artifacts._artifact import Artifact, ArtifactNotSupportedError, log_artifact


def objects(data: Path) -> list[Path]:
    base = data / "artifacts" / "objects" / "sha256"
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []


def fake_run(data: Path, run_id: str, project: str = "p") -> types.SimpleNamespace:
    return types.SimpleNamespace(
        dir=str(data.parent / "runs" / run_id),
        id=run_id,
        entity="me",
        project=project,
        settings=types.SimpleNamespace(resolved_data_dir=data),
    )


def text_artifact(name: str, text: str, type: str = "dataset") -> Artifact:
    art = Artifact(name, type)
    with art.new_file("data.txt") as f:
        f.write(text)
    return art


# Versions per project, contents once ------------------------------------------------------------------------------


def test_versions_are_numbered_per_project_and_identical_contents_give_the_same_version(rh: RhEnv) -> None:
    import runhive

    a = runhive.init(project="p")
    first = a.log_artifact(text_artifact("data", "one"), aliases=["raw"])
    a.finish()
    b = runhive.init(project="p")
    second = b.log_artifact(text_artifact("data", "two"))
    b.finish()
    c = runhive.init(project="p")
    again = c.log_artifact(text_artifact("data", "one"), aliases=["best"])  # the contents of v0
    c.finish()
    assert (first.version, second.version, again.version) == ("v0", "v1", "v0")
    assert again.aliases == ["raw", "best"]  # "latest" stays with the newest version
    other = runhive.init(project="elsewhere")
    assert other.log_artifact(text_artifact("data", "two")).version == "v0"  # numbered per project
    other.finish()
    assert len(objects(rh.data)) == 2  # "one" and "two", each stored once for four versions

    api = rh.api()
    assert [v.version for v in api.artifacts("dataset", "p/data")] == ["v0", "v1"]
    assert api.artifact("p/data:latest").version == "v1"
    assert api.artifact("p/data:best").version == "v0" and api.artifact("p/data:raw").version == "v0"
    assert api.artifact("p/data:v1").logged_by().id == b.id
    assert api.artifact("p/data:v0").logged_by().id == a.id  # created by a; c logged it again
    assert [x.name for x in api.run(f"p/{c.id}").logged_artifacts()] == ["data:v0"]
    assert [x.name for x in api.run(f"p/{b.id}").logged_artifacts()] == ["data:v1"]
    got = api.artifact("p/data:v0").download(str(rh.work / "v0"))
    assert Path(got, "data.txt").read_text() == "one"
    lines = Path(c.dir, "logged_artifacts.jsonl").read_text().splitlines()
    assert [json.loads(line)["artifact"] for line in lines] == [f"{c.entity}/p/data:v0"]


def _log_many(data: str, worker: int, count: int, same: bool) -> list[str]:
    out = []
    for i in range(count):
        run = fake_run(Path(data), f"w{worker}")
        art = text_artifact("shared", "identical" if same else f"{worker}-{i}")
        out.append(log_artifact(run, art).version or "")
    return out


def test_concurrent_writers_never_take_the_same_version(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_log_many, [(str(data), w, 10, False) for w in range(4)])
    got = sorted(v for r in results for v in r)
    assert got == sorted(f"v{n}" for n in range(40))  # 40 versions, no number given twice
    assert len(objects(data)) == 40
    with ctx.Pool(4) as pool:
        results = pool.starmap(_log_many, [(str(data), w, 3, True) for w in range(4)])
    assert {v for r in results for v in r} == {"v40"}  # identical contents at once: one version
    assert len(versions(data / "artifacts", "me", "p")) == 41


def test_the_old_per_run_layout_is_migrated_on_first_read(rh: RhEnv) -> None:
    import runhive

    def legacy(run: Any, name: str, version: str, text: str, aliases: list[str], at: float) -> Path:
        vdir = Path(run.dir, "artifacts", name, version)
        vdir.mkdir(parents=True)
        (vdir / "f.txt").write_text(text)
        files = [{"path": "f.txt", "size": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}]
        doc = {"name": name, "type": "dataset", "description": None, "metadata": {"k": 1}, "aliases": aliases}
        doc.update({"tags": [], "version": version, "created_at": at, "files": files})
        (vdir / "manifest.json").write_text(json.dumps(doc))
        return vdir

    now = time.time()
    r1 = runhive.init(project="old")
    legacy(r1, "set", "v0", "first", ["best", "latest"], now - 30)
    r1.finish()
    r2 = runhive.init(project="old")
    v0_of_r2 = legacy(r2, "set", "v0", "second", ["latest"], now - 20)  # per run: v0 again
    legacy(r2, "set", "v1", "first", ["latest"], now - 10)  # r1's contents again
    r2.finish()
    user = runhive.init(project="old")
    user.finish()
    line = {"directory": str(v0_of_r2), "run_path": f"{r2.entity}/old/{r2.id}", "artifact": "x", "time": now}
    Path(user.dir, "used_artifacts.jsonl").write_text(json.dumps(line) + "\n")

    api = rh.api()
    got = [(v.version, v.logged_by().id, v.aliases) for v in api.artifacts("dataset", "old/set")]
    assert got == [("v0", r1.id, ["best"]), ("v1", r2.id, ["latest"])]
    assert Path(v0_of_r2, "migrated.json").is_file() and Path(v0_of_r2, "f.txt").is_file()  # left in place
    assert [u.id for u in api.artifact("old/set:v1").used_by()] == [user.id]
    assert sorted(a.name for a in api.run(f"old/{r2.id}").logged_artifacts()) == ["set:v0", "set:v1"]
    assert api.artifact("old/set:v0").metadata == {"k": 1}
    assert Path(api.artifact("old/set:v1").download(str(rh.work / "m")), "f.txt").read_text() == "second"
    assert len(versions(rh.data / "artifacts", r1.entity, "old")) == 2  # a second read migrates nothing


def test_delete_run_artifacts_removes_its_versions_links_and_unshared_objects(tmp_path: Path) -> None:
    from runhive.sdk.artifacts._models import link

    data = tmp_path / "data"
    a, b = fake_run(data, "a"), fake_run(data, "b")
    theirs = log_artifact(b, text_artifact("x", "b's"))
    mine = log_artifact(a, text_artifact("x", "only a's"))
    shared = log_artifact(a, text_artifact("y", "both"))
    log_artifact(b, text_artifact("y2", "both"))  # the same bytes in another artifact of b
    link(mine, "me/model-registry/reg", ["prod"])
    assert (theirs.version, mine.version) == ("v0", "v1") and len(objects(data)) == 3
    gone = delete_run_artifacts(data, "me", "p", "a", grace=0)
    assert gone == ["me/model-registry/reg:v0", "me/p/x:v1", "me/p/y:v0"]
    left = {v.qualified: v.aliases for v in versions(data / "artifacts")}
    assert left == {"me/p/x:v0": ["latest"], "me/p/y2:v0": ["latest"]}
    assert not object_path(data / "artifacts", mine.manifest.entries["data.txt"].sha256).exists()
    assert object_path(data / "artifacts", shared.manifest.entries["data.txt"].sha256).exists()  # y2 uses it
    assert Path(theirs.download(str(tmp_path / "t")), "data.txt").read_text() == "b's"
    assert delete_run_artifacts(data, "me", "p", "a") == [] and collect_garbage(data / "artifacts", 0) == 0
    # A deleted version's number is not given again, and its contents make a new version.
    assert log_artifact(b, text_artifact("x", "only a's")).version == "v2"
    assert log_artifact(b, text_artifact("x", "b's")).version == "v0"


# References -------------------------------------------------------------------------------------------------------


def test_file_references_checksum_download_and_other_schemes(rh: RhEnv, tmp_path: Path) -> None:
    import runhive

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.txt").write_text("beta")
    single = tmp_path / "one.bin"
    single.write_bytes(b"\x00one")
    art = Artifact("refs", "dataset")
    added = art.add_reference(f"file://{src}", name="d")
    assert sorted(e.path for e in added) == ["d/a.txt", "d/sub/b.txt"]
    assert art.add_reference(f"file://{single}")[0].path == "one.bin"
    loose = art.add_reference(f"file://{single}", name="loose.bin", checksum=False)[0]
    assert loose.sha256 == "" and loose.digest == f"file://{single}" and loose.size == 4
    assert art.add_reference("s3://bucket/data/train.csv")[0].path == "train.csv"
    with pytest.raises(ValueError, match="Exceeded 1 objects tracked"):
        Artifact("n", "dataset").add_reference(f"file://{src}", max_objects=1)
    with pytest.raises(ValueError, match="must be a valid file or directory path"):
        art.add_reference(f"file://{tmp_path}/missing")

    run = runhive.init(project="refs")
    run.log_artifact(art)
    run.finish()
    assert objects(rh.data) == []  # references keep no bytes in the store
    stored = rh.api().artifact("refs/refs:latest")
    entry = stored.get_entry("d/a.txt")
    assert entry.ref == f"file://{src}/a.txt" and entry.digest == hashlib.sha256(b"alpha").hexdigest()
    assert stored.get_entry("train.csv").ref == "s3://bucket/data/train.csv"
    with pytest.raises(ArtifactNotSupportedError, match="file:// and http\\(s\\):// references, not s3://"):
        stored.download(str(tmp_path / "all"))
    got = Path(stored.download(str(tmp_path / "dl"), allow_missing_references=True))
    assert (got / "d" / "sub" / "b.txt").read_text() == "beta" and (
        got / "one.bin"
    ).read_bytes() == b"\x00one"
    assert not (got / "train.csv").exists()
    assert Path(stored.get_entry("d/a.txt").download(str(tmp_path / "e"))).read_text() == "alpha"

    (src / "a.txt").write_text("changed")
    single.write_bytes(b"\x00two")
    with pytest.raises(Error, match="does not match its manifest's sha256"):
        stored.get_entry("d/a.txt").download(str(tmp_path / "bad"))
    # without checksum the reference is taken as it is now
    assert Path(stored.get_entry("loose.bin").download(str(tmp_path / "l"))).read_bytes() == b"\x00two"


class _Served(http.server.BaseHTTPRequestHandler):
    """Serves `files` (path -> bytes) with an ETag of their content, as object stores and CDNs do."""

    files: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_http_references_keep_the_etag_and_download(rh: RhEnv, tmp_path: Path) -> None:
    import runhive

    _Served.files = {"/data/x.json": b'{"a": 1}', "/data/y.bin": b"y1"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Served)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        art = Artifact("web", "dataset")
        (x,) = art.add_reference(f"{base}/data/x.json")  # checksum: the ETag and size, read now, as W&B
        assert (x.path, x.size, x.etag) == ("x.json", 8, hashlib.md5(b'{"a": 1}').hexdigest())
        (y,) = art.add_reference(f"{base}/data/y.bin", name="raw/y.bin", checksum=False)
        assert (y.size, y.etag, y.digest) == (0, None, f"{base}/data/y.bin")
        with pytest.raises(Error, match=r"cannot read it .*pass checksum=False"):
            art.add_reference(f"{base}/missing")
        run = runhive.init(project="web")
        run.log_artifact(art)
        run.finish()

        stored = rh.api().artifact("web/web:v0")
        assert stored.get_entry("x.json").ref == f"{base}/data/x.json"
        got = Path(stored.download(str(tmp_path / "dl")))
        assert (got / "x.json").read_bytes() == b'{"a": 1}' and (got / "raw" / "y.bin").read_bytes() == b"y1"
        _Served.files = {"/data/x.json": b'{"a": 2}', "/data/y.bin": b"y2"}
        with pytest.raises(Error, match="digest mismatch for url"):
            stored.get_entry("x.json").download(str(tmp_path / "changed"))
        assert Path(stored.get_entry("raw/y.bin").download(str(tmp_path / "y"))).read_bytes() == b"y2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# Metadata ----------------------------------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Custom:
    def __str__(self) -> str:
        return "custom!"


def test_metadata_is_converted_as_wandb_does(rh: RhEnv) -> None:
    import runhive

    meta = {
        1: "int key",
        "n": {
            2: np.int64(3),
            "arr": np.arange(3),
            "f": np.float32(1.5),
            "nan": float("nan"),
            np.int32(7): "np",
        },
        None: 1,
        2.5: "f",
        False: "f",
        "dt": datetime.datetime(2024, 1, 2),
        "s": {4},
        "t": (1, 2),
        "big": np.zeros(40),
        "enum": Colour.RED,
        "point": Point(1, 2.0),
        "obj": Custom(),
        "one": np.array([[5]]),
    }
    art = Artifact("m", "dataset", metadata=meta)
    expected = {
        "1": "int key",
        "n": {"2": 3, "arr": [0, 1, 2], "f": 1.5, "nan": None, "7": "np"},
        "null": 1,
        "2.5": "f",
        "false": "f",
        "dt": "2024-01-02T00:00:00",
        "s": [4],
        "t": [1, 2],
        "big": str(np.zeros(40)),
        "enum": "RED",
        "point": {"x": 1, "y": 2.0},
        "obj": "custom!",
        "one": 5,
    }
    assert art.metadata == expected
    art.metadata = {3: np.float64(0.25)}
    assert art.metadata == {"3": 0.25}
    art.metadata[4] = {5: np.int8(1)}  # changed in place: converted when logged, as W&B sends it
    with pytest.raises(ValueError, match="not JSON compliant"):
        Artifact("m", "dataset", metadata={"i": float("inf")})
    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None"):
        Artifact("m", "dataset", metadata={"i": {(1, 2): 3}})
    with pytest.raises(TypeError, match="not JSON serializable"):
        Artifact("m", "dataset", metadata={"i": object()})
    with pytest.raises(ValueError, match="more than 100 metadata keys"):
        Artifact("m", "dataset", metadata={str(i): i for i in range(101)})
    with pytest.raises(TypeError, match="Cannot parse"):
        Artifact("m", "dataset", metadata=[1, 2])  # type: ignore[arg-type]
    assert Artifact("m", "dataset", metadata='{"a": 1}').metadata == {"a": 1}  # type: ignore[arg-type]

    run = runhive.init(project="meta")
    with art.new_file("x.txt") as f:
        f.write("x")
    run.log_artifact(art)
    run.finish()
    assert rh.api().artifact("meta/m:v0").metadata == {"3": 0.25, "4": {"5": 1}}


# Models and links --------------------------------------------------------------------------------------------------


def test_log_model_use_model_and_link_model(rh: RhEnv) -> None:
    import runhive

    weights = rh.work / "model.pt"
    weights.write_bytes(b"weights-1")
    ckpt = rh.work / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "weights.bin").write_bytes(b"w")
    run = runhive.init(project="models")
    assert run.log_model(str(weights)) is None
    run.log_model(ckpt, name="net", aliases=["best"])
    data = run.log_artifact(text_artifact("data", "d"))
    path = run.use_model(f"run-{run.id}-model.pt:latest")
    assert Path(path).read_bytes() == b"weights-1" and Path(path).name == "model.pt"
    folder = run.use_model("net:best")
    assert sorted(os.listdir(folder)) == ["config.json", "weights.bin"]
    with pytest.raises(AssertionError, match="only use this method for 'model' artifacts"):
        run.use_model(f"{data.name}:latest")

    linked = run.link_model(weights, "classifier", name="clf", aliases=["staging"])
    assert linked.is_link and linked.name == "classifier:v0" and linked.project == "model-registry"
    assert linked.source_name == "clf:v0" and linked.aliases == ["staging", "latest"]
    again = run.link_model(weights, "classifier", name="clf", aliases=["prod"])  # same contents: same link
    assert again.name == "classifier:v0" and again.aliases == ["staging", "prod", "latest"]
    weights.write_bytes(b"weights-2")
    newer = run.link_model(weights, "classifier", name="clf")
    assert newer.name == "classifier:v1" and newer.source_name == "clf:v1"
    with pytest.raises(AssertionError, match="only the name of the registered model"):
        run.link_model(weights, "team/classifier")
    # W&B's module-level forms act on the global run
    runhive.log_model(ckpt, name="net")  # the same contents: the same version
    assert Path(runhive.use_model("net:v0"), "weights.bin").read_bytes() == b"w"
    assert runhive.link_model(weights, "classifier", name="clf").name == "classifier:v1"
    run.finish()
    with pytest.raises(Error, match=r"call runhive.init\(\) before runhive.log_model"):
        runhive.log_model(ckpt)

    api = rh.api()
    reg = api.artifact(f"{run.entity}/model-registry/classifier:prod")
    assert reg.version == "v0" and reg.type == "model" and reg.is_link
    assert Path(reg.file(str(rh.work / "reg"))).read_bytes() == b"weights-1"
    assert reg.logged_by().id == run.id and reg.source_artifact.qualified_name.endswith("/models/clf:v0")
    assert [a.name for a in api.artifact("models/clf:v0").linked_artifacts] == ["classifier:v0"]
    assert api.artifact("model-registry/classifier:latest").version == "v1"
    used = sorted(a.name for a in api.run(f"models/{run.id}").used_artifacts())
    assert used == ["data:v0", "net:v0", f"run-{run.id}-model.pt:v0"]  # use_model uses, then checks (W&B)


def test_link_artifact_and_artifact_link(rh: RhEnv) -> None:
    import runhive

    run = runhive.init(project="links")
    draft = text_artifact("table", "rows")
    linked = run.link_artifact(draft, "wandb-registry-dataset/tables", aliases=["golden"])
    assert draft.version == "v0"  # logged first
    assert linked.project == "wandb-registry-dataset" and linked.entity == run.entity
    in_project = run.link_artifact(draft, "mine")  # no project: the run's
    assert in_project.qualified_name == f"{run.entity}/links/mine:v0"
    assert sorted(a.name for a in draft.linked_artifacts) == ["mine:v0", "tables:v0"]
    assert Artifact("never", "dataset").linked_artifacts == []
    run.finish()

    api = rh.api()
    got = api.artifact("wandb-registry-dataset/tables:golden")
    assert got.is_link and got.source_qualified_name == f"{run.entity}/links/table:v0"
    assert (got.source_entity, got.source_project, got.source_version) == (run.entity, "links", "v0")
    assert got.source_collection.name == "table" and not api.artifact("links/table:v0").is_link
    other = api.artifact("links/table:v0").link("shelf/tables", aliases=["x"])
    assert other.qualified_name == f"{run.entity}/shelf/tables:v0" and other.aliases == ["x", "latest"]
    via_link = got.link("shelf/tables")  # linking a link links its source
    assert via_link.qualified_name == other.qualified_name
    names = sorted(a.qualified_name for a in api.artifact("links/table:v0").linked_artifacts)
    assert names == [
        f"{run.entity}/links/mine:v0",
        f"{run.entity}/shelf/tables:v0",
        f"{run.entity}/wandb-registry-dataset/tables:v0",
    ]
    assert Path(other.download(str(rh.work / "o")), "data.txt").read_text() == "rows"
    with pytest.raises(ValueError, match="Invalid artifact path"):
        api.artifact("links/table:v0").link("a/b/c/d")
    with pytest.raises(ValueError, match="give no version or alias"):
        api.artifact("links/table:v0").link("shelf/tables:v3")


def test_delete_and_unlink_versions_read_back(rh: RhEnv) -> None:
    import runhive
    from runhive.errors import UsageError

    run = runhive.init(project="del")
    zero = run.log_artifact(text_artifact("d", "zero"), aliases=["keep"])
    run.log_artifact(text_artifact("d", "one"))
    run.link_artifact(zero, "model-registry/reg")
    run.finish()

    api = rh.api()
    v0 = api.artifact("del/d:v0")
    with pytest.raises(Error, match=r"has aliases \(keep\): pass delete_aliases=True"):
        v0.delete()
    with pytest.raises(ValueError, match="is not a linked artifact and cannot be unlinked"):
        v0.unlink()
    api.artifact("model-registry/reg:v0").unlink()
    with pytest.raises(UsageError, match="no artifact named 'reg'"):
        api.artifact("model-registry/reg:v0")
    assert api.artifact("del/d:v0").aliases == ["keep"]  # the source stays
    assert v0.link("model-registry/reg").name == "reg:v1"  # numbers are not given again
    v0.delete(delete_aliases=True)  # and its links with it
    assert [(v.version, v.aliases) for v in api.artifacts("dataset", "del/d")] == [("v1", ["latest"])]
    with pytest.raises(UsageError, match="no artifact named 'reg'"):
        api.artifact("model-registry/reg:latest")
