"""Media value types (runhive.Image, runhive.Video) and artifacts (runhive.Artifact, run.log_artifact)."""

from __future__ import annotations

import json
import logging
import os
import pickle
import struct
import sys
import types
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import RhEnv
from runhive.errors import Error
from runhive.sdk._values import convert
from runhive.sdk.artifacts._artifact import (
    Artifact,
    ArtifactFinalizedError,
    ArtifactNotSupportedError,
    log_artifact,
)
from runhive.sdk.data_types import Image, Video, WBValue
from runhive.sdk.data_types._png import encode_png, image_file_size

# PNG decoding, independent of the encoder -----------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, int, np.ndarray]:
    """(width, height, colour type, H x W x C pixels) of an 8-bit, filter-0 PNG; checks every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, tag
        chunks.append((tag, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, comp, flt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, comp, flt, interlace) == (8, 0, 0, 0)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))
    stride = width * channels
    assert len(raw) == height * (stride + 1)
    rows = []
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        assert line[0] == 0  # filter type 0
        rows.append(np.frombuffer(line[1:], dtype=np.uint8))
    return width, height, colour, np.stack(rows).reshape(height, width, channels)


def png_of(img: Image) -> tuple[int, int, int, np.ndarray]:
    return decode_png(Path(img.to_json()["path"]).read_bytes())


RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("data", "colour", "expected"),
    [
        pytest.param(
            (a := RNG.integers(0, 256, (5, 7), dtype=np.uint8)), 0, a[..., None], id="grayscale-HxW"
        ),
        pytest.param((b := RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8)), 2, b, id="rgb-HxWx3"),
        pytest.param((c := RNG.integers(0, 256, (3, 5, 4), dtype=np.uint8)), 6, c, id="rgba-HxWx4"),
        pytest.param(
            (d := RNG.integers(0, 256, (3, 6, 9), dtype=np.uint8)),
            2,
            d.transpose(1, 2, 0),
            id="channel-first-3xHxW",
        ),
        pytest.param(
            (e := RNG.integers(0, 256, (1, 6, 9), dtype=np.uint8)),
            0,
            e[0][..., None],
            id="channel-first-1xHxW",
        ),
        pytest.param((f := RNG.integers(0, 256, (6, 9, 1), dtype=np.uint8)), 0, f, id="channel-last-HxWx1"),
        pytest.param(
            (g := RNG.random((4, 5, 3))),
            2,
            (g * 255).astype(np.uint8),
            id="float-0..1-scaled",
        ),
        pytest.param(
            (h := RNG.random((4, 5)) * 2 - 1),
            0,
            (255 * 0.5 * (h + 1)).astype(np.uint8)[..., None],
            id="float-minus1..1-mapped",
        ),
        pytest.param(
            np.array([[-300.0, 12.7], [100.0, 999.0]]),
            0,
            np.array([[0, 12], [100, 255]], dtype=np.uint8)[..., None],
            id="float-out-of-range-clipped",
        ),
        pytest.param(
            np.array([[True, False]]), 0, np.array([[255, 0]], dtype=np.uint8)[..., None], id="bool-mask"
        ),
    ],
)
def test_png_encoding_round_trips(data: np.ndarray, colour: int, expected: np.ndarray) -> None:
    img = Image(data)
    width, height, got_colour, pixels = png_of(img)
    assert (height, width) == expected.shape[:2]
    assert got_colour == colour
    np.testing.assert_array_equal(pixels, expected)
    j = img.to_json()
    assert (j["width"], j["height"], j["format"]) == (width, height, "png")


def test_normalize_false_and_modes() -> None:
    small = np.array([[0.0, 1.0], [0.5, 1.0]])
    _, _, _, px = png_of(Image(small, normalize=False))
    assert px[..., 0].tolist() == [[0, 1], [0, 1]]  # kept as values, not scaled
    rgb = RNG.integers(0, 256, (2, 3, 3), dtype=np.uint8)
    assert png_of(Image(rgb, mode="RGB"))[2] == 2
    with pytest.raises(ValueError, match=r"mode='RGBA' needs 4 channel"):
        Image(rgb, mode="RGBA")
    with pytest.raises(ValueError, match=r"mode='P' is not supported"):
        Image(rgb, mode="P")


def test_encode_png_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="expected 12 bytes"):
        encode_png(2, 2, 3, b"\x00" * 11)
    with pytest.raises(ValueError, match="positive"):
        encode_png(0, 2, 1, b"")


def test_image_json_caption_dedup_and_list_conversion() -> None:
    a = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    one, two = Image(a, caption="first"), Image(a.copy())
    j1, j2 = one.to_json(), two.to_json()
    assert isinstance(one, WBValue)
    assert j1["_type"] == "image-file" and j1["caption"] == "first" and "caption" not in j2
    assert j1["path"] == j2["path"] and j1["sha256"] == j2["sha256"]  # identical images: one file
    assert os.path.isabs(j1["path"]) and os.path.getsize(j1["path"]) == j1["size"]
    assert Path(j1["path"]).name.startswith(j1["sha256"][:32])
    other = Image(a[::-1].copy())
    assert other.to_json()["path"] != j1["path"]
    assert convert({"samples": [one, other]}) == {"samples": [j1, other.to_json()]}
    copy = Image(one, caption="again")  # W&B's Image(Image) copy
    assert copy.to_json()["path"] == j1["path"] and copy.to_json()["caption"] == "again"


def test_image_from_path_copies_the_file(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    src = tmp_path / "pic.png"
    src.write_bytes(encode_png(4, 3, 3, pixels.tobytes()))
    img = Image(str(src), caption="from disk")
    j = img.to_json()
    assert j["path"] != str(src) and Path(j["path"]).read_bytes() == src.read_bytes()
    assert (j["width"], j["height"], j["format"]) == (4, 3, "png")
    np.testing.assert_array_equal(decode_png(Path(j["path"]).read_bytes())[3], pixels)
    jpeg = tmp_path / "x.jpg"  # SOI, APP0, SOF0 for 17 x 9, EOI: enough for the header reader
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 9, 17, 1) + b"\x01\x11\x00"
    jpeg.write_bytes(b"\xff\xd8" + app0 + sof0 + b"\xff\xd9")
    assert image_file_size(str(jpeg)) == ("jpeg", 17, 9)
    assert Image(jpeg).to_json()["format"] == "jpg"


def test_bad_image_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"shape \(2, 8, 8, 3\).*list of runhive.Image"):
        Image(np.zeros((2, 8, 8, 3), dtype=np.uint8))
    missing = str(tmp_path / "nope.png")
    with pytest.raises(ValueError, match=r"data_or_path=.*nope.png' does not exist.*path of an image file"):
        Image(missing)
    with pytest.raises(TypeError, match=r"data_or_path must be a numpy array.*got dict \{'a': 1\}"):
        Image({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"cannot tell the channels.*shape \(5, 5, 5\)"):
        Image(np.zeros((5, 5, 5)))
    with pytest.raises(TypeError, match="dtype <U1"):
        Image(np.array([["a"]]))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an image file runhive can read"):
        Image(str(text))
    with pytest.raises(ValueError, match="file_type must be one of"):
        Image(np.zeros((2, 2)), file_type="tiff")
    with pytest.raises(ValueError, match='"boxes" argument must be a dictionary'):
        Image(np.zeros((2, 2)), boxes=[1])  # type: ignore[arg-type]


def test_masks_boxes_classes_in_json() -> None:
    mask = np.array([[0, 1], [2, 1]], dtype=np.int64)
    boxes = {"pred": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.2, "minY": 0.3, "maxY": 0.4}}]}}
    img = Image(
        np.zeros((2, 2, 3)),
        masks={"truth": {"mask_data": mask, "class_labels": {1: "cat", 2: "dog"}}},
        boxes=boxes,
        grouping=3,
    )
    j = img.to_json()
    assert j["grouping"] == 3 and j["boxes"] == boxes
    m = j["masks"]["truth"]
    assert m["_type"] == "mask" and m["class_labels"] == {"1": "cat", "2": "dog"}
    np.testing.assert_array_equal(decode_png(Path(m["path"]).read_bytes())[3][..., 0], mask)
    assert {"id": 1, "name": "cat"} in j["classes"]


def test_torch_tensor_is_channel_first(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tensor:  # just what runhive touches: detach().cpu().numpy() and dtype
        def __init__(self, a: np.ndarray) -> None:
            self.a, self.dtype = a, "torch.float32"

        def detach(self) -> Tensor:
            return self

        def cpu(self) -> Tensor:
            return self

        def numpy(self) -> np.ndarray:
            return self.a

    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(Tensor=Tensor))
    chw = RNG.random((3, 4, 5))
    _, _, colour, px = png_of(Image(Tensor(chw)))
    assert colour == 2
    np.testing.assert_array_equal(px, (chw.transpose(1, 2, 0) * 255).astype(np.uint8))


def test_pickled_media_rewrite_their_file(tmp_path: Path) -> None:
    # Ray Tune builds media in one process and logs them in another: the bytes travel with the object.
    img = Image(RNG.integers(0, 256, (4, 4), dtype=np.uint8))
    data = pickle.dumps(img)
    os.unlink(img.to_json()["path"])
    back = pickle.loads(data)
    j = back.to_json()
    assert j == img.to_json() and os.path.isfile(j["path"])


def test_video_array_and_path(tmp_path: Path) -> None:
    frames = RNG.integers(0, 256, (2, 3, 3, 6, 8), dtype=np.uint8)  # N x T x C x H x W
    vid = Video(frames, caption="rollout", fps=10)
    j = vid.to_json()
    assert j["_type"] == "video-file" and j["format"] == "npy" and j["path"].endswith(".npy")
    assert (j["width"], j["height"], j["fps"], j["caption"]) == (8, 6, 10, "rollout")
    assert os.path.getsize(j["path"]) == j["size"]
    np.testing.assert_array_equal(np.load(j["path"]), frames)
    assert Video(frames.copy()).to_json()["path"] == j["path"]
    four = Video(RNG.random((3, 1, 2, 2)) * 300)  # T x C x H x W, floats: converted to uint8 like W&B
    loaded = np.load(four.to_json()["path"])
    assert loaded.dtype == np.uint8 and loaded.shape == (3, 1, 2, 2)
    gif = tmp_path / "clip.gif"
    gif.write_bytes(b"GIF89a" + struct.pack("<HH", 13, 7) + b"\x00" * 20)
    g = Video(str(gif)).to_json()
    assert (g["format"], g["width"], g["height"]) == ("gif", 13, 7) and g["path"].endswith(".gif")
    assert Path(g["path"]).read_bytes() == gif.read_bytes()


def test_bad_video_inputs() -> None:
    with pytest.raises(ValueError, match=r"4 dimensions.*or 5.*shape \(4, 4, 3\)"):
        Video(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="does not exist"):
        Video("/nonexistent/clip.mp4")
    with pytest.raises(TypeError, match="got dict"):
        Video({"frames": 1})
    with pytest.raises(ValueError, match="format must be one of"):
        Video(np.zeros((1, 1, 2, 2), dtype=np.uint8), format="avi")


# Logging media to a real run ------------------------------------------------------------------------------------


def test_logged_media_land_in_history_and_run_dir(rh: RhEnv) -> None:
    import runhive

    run = runhive.init(project="media")
    a = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    b = RNG.integers(0, 256, (6, 5), dtype=np.uint8)
    frames = RNG.integers(0, 256, (1, 4, 3, 2, 2), dtype=np.uint8)
    run.log({"img": Image(a, caption="a"), "same": Image(a.copy())})
    run.log({"samples": [Image(a), Image(b)], "video": Video(frames), "loss": 0.5})
    run_dir = run.dir
    run.finish()
    rows = rh.api().run(f"media/{run.id}").history(pandas=False, samples=None)
    assert len(rows) == 2
    img, same = rows[0]["img"], rows[0]["same"]
    assert img["_type"] == "image-file" and img["caption"] == "a" and (img["width"], img["height"]) == (5, 6)
    assert img["path"] == same["path"]  # identical images share one file
    media = os.path.join(run_dir, "files", "media", "images")
    assert os.path.dirname(img["path"]) == media and os.path.isfile(img["path"])
    assert len(os.listdir(media)) == 2
    samples = rows[1]["samples"]
    assert [s["_type"] for s in samples] == ["image-file", "image-file"] and samples[0]["path"] == img["path"]
    np.testing.assert_array_equal(decode_png(Path(samples[1]["path"]).read_bytes())[3][..., 0], b)
    video = rows[1]["video"]
    assert video["path"].startswith(os.path.join(run_dir, "files", "media", "videos"))
    np.testing.assert_array_equal(np.load(video["path"]), frames)
    assert rh.api().run(f"media/{run.id}").summary["img"]["path"] == img["path"]


# Artifacts ------------------------------------------------------------------------------------------------------


def fake_run(tmp_path: Path, run_id: str = "r1") -> types.SimpleNamespace:
    """What log_artifact reads of a run: its directory, identity and data directory."""
    return types.SimpleNamespace(
        dir=str(tmp_path / run_id),
        id=run_id,
        entity="me",
        project="p",
        settings=types.SimpleNamespace(resolved_data_dir=tmp_path / "data"),
    )


def version_doc(tmp_path: Path, name: str, version: str) -> dict[str, Any]:
    path = tmp_path / "data" / "artifacts" / "projects" / "me" / "p" / name / "versions" / f"{version}.json"
    return json.loads(path.read_text())


def test_artifact_versions_files_and_manifest(tmp_path: Path) -> None:
    import hashlib

    from runhive.protocol.artifact_store import object_path

    run = fake_run(tmp_path)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(b"\x00\x01\x02")
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"w" * 1000)

    art = Artifact("my-model_1.0", type="model", description="d", metadata={"lr": np.float32(0.5)})
    assert art.version is None and art.name == "my-model_1.0"
    art.add_file(str(weights))
    art.add_file(weights, name="ckpt/last.pt")
    art.add_dir(str(src), name="data")
    with art.new_file("notes/readme.md") as f:
        f.write("hello")
    weights.write_bytes(b"changed")  # mutable policy: the artifact kept the content it was given
    assert set(art.manifest.entries) == {
        "weights.pt",
        "ckpt/last.pt",
        "data/a.txt",
        "data/sub/b.bin",
        "notes/readme.md",
    }
    assert log_artifact(run, art, aliases=["best"]) is art
    assert art.version == "v0" and art.aliases == ["best", "latest"]
    assert art.qualified_name == "me/p/my-model_1.0:v0"
    root = tmp_path / "data" / "artifacts"
    w_sha = hashlib.sha256(b"w" * 1000).hexdigest()
    assert object_path(root, w_sha).read_bytes() == b"w" * 1000  # stored once for both paths
    m = version_doc(tmp_path, "my-model_1.0", "v0")
    assert {k: m[k] for k in ("name", "type", "description", "metadata", "version", "run")} == {
        "name": "my-model_1.0",
        "type": "model",
        "description": "d",
        "metadata": {"lr": 0.5},
        "version": "v0",
        "run": "me/p/r1",
    }
    by_path = {e["path"]: e for e in m["files"]}
    assert by_path["weights.pt"] == {"path": "weights.pt", "size": 1000, "sha256": w_sha}
    assert by_path["ckpt/last.pt"]["sha256"] == w_sha and by_path["data/a.txt"]["size"] == 5
    got = Path(art.download(str(tmp_path / "dl")))
    assert (got / "data" / "sub" / "b.bin").read_bytes() == b"\x00\x01\x02"
    assert (got / "notes" / "readme.md").read_text() == "hello"

    again = Artifact("my-model_1.0", "model")
    with again.new_file("w.bin", mode="wb") as f:
        f.write(b"v1")
    log_artifact(run, again)
    assert again.version == "v1" and again.aliases == ["latest"]
    aliases = json.loads((root / "projects" / "me" / "p" / "my-model_1.0" / "aliases.json").read_text())
    assert aliases == {"best": "v0"}  # "latest" is the newest version, not stored
    lines = (Path(run.dir) / "logged_artifacts.jsonl").read_text().splitlines()
    assert [json.loads(x)["artifact"] for x in lines] == ["me/p/my-model_1.0:v0", "me/p/my-model_1.0:v1"]

    with pytest.raises(ArtifactFinalizedError, match="already logged"):
        art.add_file(str(src / "a.txt"))
    with pytest.raises(Error, match="already logged"):
        log_artifact(run, art)


def test_artifact_bad_names_and_refusals(tmp_path: Path) -> None:
    for bad in ("a/b", "has space", "", "x:latest", "x" * 129):
        with pytest.raises(ValueError, match="Artifact name"):
            Artifact(bad, "dataset")
    with pytest.raises(ValueError, match="reserved"):
        Artifact("ok", "job")
    with pytest.raises(ValueError, match="type must be a non-empty str"):
        Artifact("ok", "")
    art = Artifact("ok", "dataset")
    assert issubclass(ArtifactNotSupportedError, Error) and issubclass(
        ArtifactNotSupportedError, NotImplementedError
    )
    with pytest.raises(ValueError, match="References must be URIs"):
        art.add_reference(str(tmp_path))
    with pytest.raises(ValueError, match="Path is not a file"):
        art.add_file(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="Path is not a directory"):
        art.add_dir(str(tmp_path / "missing"))
    f = tmp_path / "f.txt"
    f.write_text("one")
    with pytest.raises(ValueError, match="relative path inside the artifact"):
        art.add_file(str(f), name="../escape.txt")
    art.add_file(str(f), name="manifest.json")  # any name: manifests are kept apart from the files
    art.add_file(str(f), name="f.txt")
    art.add_file(str(f), name="f.txt")  # same content again: fine
    f.write_text("two")
    with pytest.raises(ValueError, match="Cannot add the same path twice"):
        art.add_file(str(f), name="f.txt")
    art.add_file(str(f), name="f.txt", overwrite=True)
    with pytest.raises(RuntimeError), art.new_file("broken.txt") as fh:
        fh.write("partial")
        raise RuntimeError("boom")
    assert "broken.txt" not in art.manifest.entries
    with pytest.raises(ValueError, match="already exists"), art.new_file("f.txt", mode="x"):
        pass
    with pytest.raises(ValueError, match="must not contain"):
        log_artifact(fake_run(tmp_path), art, aliases=["a/b"])


def test_run_log_artifact_path_form_finish_and_disabled(rh: RhEnv, caplog: pytest.LogCaptureFixture) -> None:
    import runhive

    model = rh.work / "model.pt"
    model.write_bytes(b"weights")
    data = rh.work / "data"
    data.mkdir()
    (data / "x.csv").write_text("1,2\n")
    run = runhive.init(project="arts")
    one = run.log_artifact(str(model), type="model")
    assert (one.name, one.type, one.version) == (f"run-{run.id}-model.pt", "model", "v0")
    two = run.log_artifact(data, name="dataset", type="dataset", aliases="raw")
    assert two.version == "v0" and two.aliases == ["raw", "latest"]
    three = run.log_artifact(str(model))  # W&B's default type
    assert three.type == "unspecified" and three.version == "v0"  # identical contents: the existing version
    got = rh.api().artifact("arts/dataset:v0").download(str(rh.work / "got"))
    assert Path(got, "x.csv").read_text() == "1,2\n"
    with pytest.raises(ValueError, match="must be an existing file or directory"):
        run.log_artifact(str(rh.work / "missing"), type="model")
    with pytest.raises(ValueError, match=r"instance of runhive\.Artifact"):
        run.log_artifact(42)
    run.finish()
    late = Artifact("late", "model")
    with caplog.at_level(logging.WARNING, logger="runhive"):
        assert run.log_artifact(late) is late
    assert late.version is None and "log_artifact() after finish() is ignored" in caplog.text
    assert not (rh.data / "artifacts" / "projects" / run.entity / "arts" / "late").exists()

    from runhive.sdk._disabled import DisabledRun

    off = Artifact("off", "model")
    assert DisabledRun("p", None, {}, None).log_artifact(off, aliases=["x"]) is off and off.version is None


def test_script_logs_media_and_artifact_in_fresh_process(rh: RhEnv) -> None:
    out = rh.run(
        """
        import runhive as wandb
        import numpy as np
        from runhive.sdk.data_types import Image
        from runhive.sdk.artifacts._artifact import Artifact
        run = wandb.init(project="script")
        run.log({"pic": Image(np.full((4, 4, 3), 0.5), caption="grey")})
        art = Artifact("results", type="eval")
        with art.new_file("scores.json") as f:
            f.write('{"acc": 0.9}')
        run.log_artifact(art)
        run.finish()
        print(run.id, run.dir, art.version)
        """
    ).stdout.split()
    run_id, run_dir, version = out
    assert version == "v0"
    row = rh.api().run(f"script/{run_id}").history(pandas=False, samples=None)[0]
    assert row["pic"]["caption"] == "grey" and row["pic"]["path"].startswith(run_dir)
    assert (decode_png(Path(row["pic"]["path"]).read_bytes())[3] == 127).all()
    got = rh.api().artifact("script/results:v0").download(str(rh.work / "got"))
    assert json.loads(Path(got, "scores.json").read_text()) == {"acc": 0.9}


def test_media_in_config_is_refused(rh: RhEnv) -> None:
    res = rh.run(
        """
        import numpy as np
        import runhive as wandb
        run = wandb.init(project="mediacfg")
        try:
            run.config.update({"img": wandb.Image(np.zeros((2, 2), dtype=np.uint8))})
        except TypeError as exc:
            print("REFUSED", exc)
        run.finish()
        """
    )
    assert "REFUSED WBValue objects cannot be added to the run config" in res.stdout
