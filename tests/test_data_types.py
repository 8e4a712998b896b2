"""W&B's other data types: runhive.Table, runhive.plot's charts, Audio, Html, Plotly, Object3D, Molecule and
Histogram of any shape; each writes W&B's file and logs W&B's reference."""

from __future__ import annotations

import datetime
import io
import json
import os
import pickle
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import runhive
from conftest import RhEnv
from runhive.errors import Error
from runhive.plot import CustomChart, serialize_custom_charts
from runhive.plot._curves import _precision_recall, _roc
from runhive.sdk._values import convert
from runhive.sdk.data_types import (
    Audio,
    BatchableMedia,
    Histogram,
    Html,
    Image,
    Media,
    Molecule,
    Object3D,
    Plotly,
    Table,
    WBValue,
    box3d,
)

RNG = np.random.default_rng(11)


def read(ref: dict[str, Any]) -> Any:
    return json.loads(Path(ref["path"]).read_text())


def assert_stored(ref: dict[str, Any], kind: str, ext: str) -> None:
    """A content-addressed media file: `<media>/<kind>/<sha256[:32]>.<ext>`, its size and hash in the reference."""
    import hashlib

    path = Path(ref["path"])
    assert path.parent.name == kind and path.name == f"{ref['sha256'][:32]}.{ext}"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == ref["sha256"] and len(data) == ref["size"]


# Table ----------------------------------------------------------------------------------------------------------


def test_table_construction_forms_and_accessors() -> None:
    t = Table(columns=["a", "b"], data=[[1, "x"], [2.5, "y"]])
    t.add_data(3, "z")
    assert (t.columns, t.data, t.ncols, t.nrows) == (["a", "b"], [[1, "x"], [2.5, "y"], [3, "z"]], 2, 3)
    assert Table(columns=["a"])  # truthy when empty, as W&B's (no __len__)
    t.add_column("c", [True, False, True])
    assert t.get_column("c") == [True, False, True]
    np.testing.assert_array_equal(t.get_column("a", convert_to="numpy"), np.array([1, 2.5, 3]))
    assert [int(i) for i in t.get_index()] == [0, 1, 2] and t.get_index()[1].get_row() == {
        "a": 2.5,
        "b": "y",
        "c": False,
    }
    assert [(int(i), row) for i, row in t.iterrows()][2] == (2, [3, "z", True])
    pd.testing.assert_frame_equal(
        t.get_dataframe(), pd.DataFrame({"a": [1, 2.5, 3], "b": ["x", "y", "z"], "c": [True, False, True]})
    )
    assert Table().columns == ["Input", "Output", "Expected"]  # W&B's default
    assert Table(columns=["p", "q"], rows=[[1, 2]]).data == [[1, 2]]  # W&B's legacy rows=
    arr = Table(columns=["x", "y"], data=np.arange(6).reshape(3, 2))
    assert arr.get_column("y") == [1, 3, 5]
    frame = pd.DataFrame({"k": ["a", "b"], "v": [0.5, 1.5]})
    for t2 in (Table(dataframe=frame), Table(data=frame)):
        assert t2.columns == ["k", "v"] and t2.get_column("v") == [0.5, 1.5]
    first = Table(columns=[])
    first.add_column("only", [1, 2])
    assert first.data == [[1], [2]]


def test_table_type_checks_as_wandb() -> None:
    with pytest.raises(ValueError, match=r"expects 2 columns: \['a', 'b'\], found 3"):
        Table(columns=["a", "b"], data=[[1, 2, 3]])
    with pytest.raises(TypeError, match=r"incompatible types.*column 'a' holds number"):
        Table(columns=["a"], data=[[1], ["x"]])
    t = Table(
        columns=["a"], data=[[None], [1], [np.float32(2.5)], [None]]
    )  # optional by default; numpy numbers
    assert t.nrows == 4
    assert Table(columns=["a"], data=[[1], ["x"]], allow_mixed_types=True).nrows == 2
    with pytest.raises(TypeError, match="not optional"):
        Table(columns=["a"], data=[[None]], optional=False)
    with pytest.raises(TypeError, match="holds str"):
        Table(columns=["a", "b"], data=[[1, 2]], dtype=[int, str])
    Table(columns=["img"], data=[[Image(np.zeros((2, 2), dtype=np.uint8))], [None]], dtype=Image)
    with pytest.raises(TypeError):
        Table(columns=["m"], data=[[Image(np.zeros((2, 2), dtype=np.uint8))], [Html("<p/>")]])
    t = Table(columns=["a"], data=[[1], [2]])
    with pytest.raises(ValueError, match="Expected length 2, found 3"):
        t.add_column("b", [1, 2, 3])
    with pytest.raises(TypeError):
        t.add_column("b", [1, "x"])
    assert t.columns == ["a"]  # a refused column leaves the table as it was
    with pytest.raises(ValueError, match="new str column"):
        t.add_column("a", [1])
    with pytest.raises(TypeError, match="holds str"):
        t.cast("a", str)
    t.cast("a", float)
    with pytest.raises(TypeError, match="columns must be a list"):
        Table(columns="ab")  # type: ignore[arg-type]


def test_table_file_is_wandbs_format_with_media_cells_as_references() -> None:
    img = Image(RNG.integers(0, 256, (3, 4, 3), dtype=np.uint8), caption="c")
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    t = Table(
        columns=["id", "img", "vec", "meta", "when"],
        data=[
            [np.int64(1), img, np.arange(3), {"k": np.float64(0.5)}, when],
            [2, None, [1, 2], {"k": 1.0}, None],
        ],
    )
    ref = t.to_json()
    assert set(ref) == {"_type", "path", "sha256", "size", "ncols", "nrows", "log_mode"}
    assert (ref["_type"], ref["ncols"], ref["nrows"], ref["log_mode"]) == ("table-file", 5, 2, "IMMUTABLE")
    assert_stored(ref, "table", "table.json")
    body = read(ref)
    assert body == {
        "columns": ["id", "img", "vec", "meta", "when"],
        "data": [
            [1, img.to_json(), [0, 1, 2], {"k": 0.5}, int(when.timestamp() * 1000)],
            [2, None, [1, 2], {"k": 1.0}, None],
        ],
    }
    again = Table(columns=t.columns, data=t.data, log_mode="MUTABLE").to_json()
    assert again["path"] == ref["path"]  # same content, one file
    assert convert(t) == ref and isinstance(t, Media) and isinstance(img, BatchableMedia)
    back = Table.from_json(ref)
    assert back.columns == t.columns and back.data == body["data"]
    assert Table.from_json({"columns": ["a"], "data": [[1]]}).data == [[1]]  # W&B's inline artifact form


def test_files_are_the_bytes_wandb_writes(tmp_path: Path) -> None:
    # sha256 prefixes of the files wandb 0.31 wrote for the same values (its media file names carry them).
    assert Table(columns=["x", "y"], data=[[1, 2]]).to_json()["sha256"].startswith("ba67c0fa8c56c78584d1")
    assert Object3D(np.zeros((3, 3))).to_json()["sha256"].startswith("8c96519f179b2a3e15b8")
    assert Html("<p>x</p>").to_json()["sha256"].startswith("d49218577c156ac9acc2")
    pdb = tmp_path / "m.pdb"
    pdb.write_text("END\n")
    assert Molecule(pdb).to_json()["sha256"].startswith("8d109c0c834724e126df")


def test_table_log_modes(caplog: pytest.LogCaptureFixture) -> None:
    immutable = Table(columns=["a"], data=[[1]])
    first = immutable.to_json()
    immutable.add_data(2)  # W&B: a logged IMMUTABLE table keeps its first file, with a warning
    assert immutable.to_json() == first and read(first)["data"] == [[1]]
    mutable = Table(columns=["a"], data=[[1]], log_mode="MUTABLE")
    m1 = mutable.to_json()
    mutable.add_data(2)
    m2 = mutable.to_json()
    assert m1["path"] != m2["path"] and read(m2)["data"] == [[1], [2]] and m2["nrows"] == 2
    inc = Table(columns=["a"], data=[[1], [2]], log_mode="INCREMENTAL")
    i0 = inc.to_json()
    inc.add_data(3)
    i1 = inc.to_json()
    assert (i0["_type"], i0["increment_num"], i0["previous_increments_paths"]) == (
        "incremental-table-file",
        0,
        [],
    )
    assert (i1["increment_num"], i1["previous_increments_paths"], i1["nrows"]) == (1, [i0["path"]], 1)
    assert read(i1)["data"] == [[3]] and Table.from_json(i1).data == [[1], [2], [3]]
    with pytest.raises(Error, match="not supported for tables with log_mode='INCREMENTAL'"):
        inc.add_column("b", [1, 2, 3])
    with pytest.raises(ValueError, match="Invalid log_mode"):
        Table(log_mode="SOMETIMES")


def test_table_pickles_with_its_media(tmp_path: Path) -> None:
    img = Image(RNG.integers(0, 256, (2, 2), dtype=np.uint8))
    t = Table(columns=["i", "img"], data=[[1, img]])
    data = pickle.dumps(t)
    os.unlink(img.to_json()["path"])
    back = pickle.loads(data)
    assert back.columns == t.columns and os.path.isfile(back.data[0][1].to_json()["path"])
    ref = back.to_json()
    assert read(ref)["data"][0][1] == img.to_json()
    os.unlink(ref["path"])  # logged, then unpickled where its file is not: written again
    assert os.path.isfile(pickle.loads(pickle.dumps(back)).to_json()["path"])


# Charts -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "spec", "fields", "strings"),
    [
        (
            lambda t: runhive.plot.line(t, "x", "y", stroke="k", title="L"),
            "wandb/line/v0",
            {"x": "x", "y": "y", "stroke": "k"},
            {"title": "L"},
        ),
        (
            lambda t: runhive.plot.scatter(t, "x", "y"),
            "wandb/scatter/v0",
            {"x": "x", "y": "y"},
            {"title": ""},
        ),
        (
            lambda t: runhive.plot.bar(t, "k", "y", title="B"),
            "wandb/bar/v0",
            {"label": "k", "value": "y"},
            {"title": "B"},
        ),
        (lambda t: runhive.plot.histogram(t, "y"), "wandb/histogram/v0", {"value": "y"}, {"title": ""}),
    ],
)
def test_table_charts_carry_wandbs_spec(
    make: Any, spec: str, fields: dict[str, Any], strings: dict[str, Any]
) -> None:
    t = Table(columns=["x", "y", "k"], data=[[i, i * i, "a" if i % 2 else "b"] for i in range(5)])
    chart = make(t)
    assert isinstance(chart, CustomChart) and chart.table is t
    assert (chart.spec.spec_name, chart.spec.fields, chart.spec.string_fields) == (spec, fields, strings)
    ref = chart.to_json()
    assert ref["_type"] == "table-file" and read(ref)["data"] == t.data
    assert ref["chart"] == {
        "panel_type": "Vega2",
        "panelDefId": spec,
        "fieldSettings": fields,
        "stringSettings": strings,
    }
    with pytest.raises(Error, match=r"Expected `data_table` to be `wandb\.Table` type, instead got list"):
        make([[1, 2]])


def test_serialize_custom_charts_is_wandbs_rewrite() -> None:
    t = Table(columns=["x", "y"], data=[[1, 2]])
    data = {
        "c": runhive.plot.line(t, "x", "y"),
        "n": {"s": runhive.plot.scatter(t, "x", "y", split_table=True)},
        "v": 1,
    }
    row, config = serialize_custom_charts(data)
    assert set(data) == {"c", "n", "v"} and "s" in data["n"]  # the caller's row is left as it is
    assert (
        row["c_table"] is t and row["Custom Chart Tables/n.s_table"] is t and row["v"] == 1 and row["n"] == {}
    )
    (key1, panel1), (key2, _) = config
    assert key1 == ("_wandb", "visualize", "c") and key2 == ("_wandb", "visualize", "n.s")
    assert panel1["panel_type"] == "Vega2"
    pc = panel1["panel_config"]
    assert pc["panelDefId"] == "wandb/line/v0" and pc["fieldSettings"] == {"x": "x", "y": "y", "stroke": None}
    assert pc["transform"] == {"name": "tableWithLeafColNames"}
    query = pc["userQuery"]["queryFields"][0]["fields"][3]
    assert query["name"] == "summaryTable" and query["args"] == [{"name": "tableKey", "value": "c_table"}]
    viz_row, viz_config = serialize_custom_charts({"v": runhive.plot.visualize("wandb/x/v1", t)})
    assert viz_row["v"] is t
    assert viz_config == [
        (
            ("_wandb", "viz", "v"),
            {"id": "wandb/x/v1", "historyFieldSettings": {"x-axis": "_step", "key": "v"}},
        )
    ]


def test_line_series_and_confusion_matrix_tables() -> None:
    chart = runhive.plot.line_series(
        xs=[0, 1, 2], ys=[[10, 20, 30], [0.5, 0.6, 0.7]], keys=["a", "b"], xname="epoch"
    )
    assert chart.table.columns == ["step", "lineKey", "lineVal"]
    assert chart.table.data[:4] == [[0, "a", 10], [1, "a", 20], [2, "a", 30], [0, "b", 0.5]]
    assert chart.spec.spec_name == "wandb/lineseries/v0"
    assert chart.spec.string_fields == {"title": "", "xname": "epoch"}
    per_series = runhive.plot.line_series(xs=[[0, 1], [5]], ys=[[1, 2], [3]])
    assert per_series.table.data == [[0, "line_0", 1], [1, "line_0", 2], [5, "line_1", 3]]
    with pytest.raises(ValueError, match="Number of keys"):
        runhive.plot.line_series([0], [[1]], keys=["a", "b"])

    cm = runhive.plot.confusion_matrix(
        y_true=[0, 1, 1, 2], preds=[0, 1, 0, 2], class_names=["cat", "dog", "fox"]
    )
    assert cm.spec.spec_name == "wandb/confusion_matrix/v1" and cm.table.columns == [
        "Actual",
        "Predicted",
        "nPredictions",
    ]
    counts = {(a, p): n for a, p, n in cm.table.data}
    assert (
        len(counts) == 9
        and counts[("dog", "cat")] == 1.0
        and counts[("dog", "dog")] == 1.0
        and counts[("fox", "fox")] == 1
    )
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    by_probs = runhive.plot.confusion_matrix(probs=probs, y_true=[0, 1, 1])  # no names: Class_1, Class_2
    assert by_probs.table.data[0][:2] == ["Class_1", "Class_1"]
    with pytest.raises(ValueError, match="Only one of"):
        runhive.plot.confusion_matrix(probs=probs, preds=[0, 1, 0], y_true=[0, 1, 1])


def test_pr_and_roc_curves_match_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    y = RNG.integers(0, 3, 200)
    scores = np.round(RNG.random((200, 3)), 2)  # ties, as real scores have
    for cls in range(3):
        precision, recall = _precision_recall(np, y, scores[:, cls], cls)
        p2, r2, _ = metrics.precision_recall_curve(y, scores[:, cls], pos_label=cls)
        np.testing.assert_allclose(precision, p2)
        np.testing.assert_allclose(recall, r2)
        fpr, tpr = _roc(np, y, scores[:, cls], cls)
        f2, t2, _ = metrics.roc_curve(y, scores[:, cls], pos_label=cls)
        np.testing.assert_allclose(fpr, f2)
        np.testing.assert_allclose(tpr, t2)

    roc = runhive.plot.roc_curve(y, scores, labels=["a", "b", "c"], classes_to_plot=[0, 2])
    assert roc.table.columns == ["class", "fpr", "tpr"] and {r[0] for r in roc.table.data} == {"a", "c"}
    assert roc.spec.spec_name == "wandb/area-under-curve/v0" and roc.spec.fields == {
        "x": "fpr",
        "y": "tpr",
        "class": "class",
    }
    assert roc.spec.string_fields["x-axis-title"] == "False positive rate"
    f2, t2, _ = metrics.roc_curve(y, scores[:, 0], pos_label=0)
    assert [r[1:] for r in roc.table.data if r[0] == "a"] == [
        [round(a, 3), round(b, 3)] for a, b in zip(f2, t2, strict=True)
    ]

    pr = runhive.plot.pr_curve(y, scores, interp_size=11)
    assert pr.table.columns == ["class", "precision", "recall"] and len(pr.table.data) == 33
    assert pr.spec.fields == {"x": "recall", "y": "precision", "class": "class"}
    ones = [r for r in pr.table.data if r[0] == 1]
    assert [r[2] for r in ones] == [round(x, 3) for x in np.linspace(0, 1, 11)[::-1]]
    precisions = [r[1] for r in ones]
    assert precisions == sorted(precisions)  # W&B's step: precision never falls as recall goes down
    with pytest.raises(ValueError, match="samples x classes"):
        runhive.plot.roc_curve([0, 1], [0.2, 0.8])


# Audio, Html, Plotly, Object3D, Molecule -------------------------------------------------------------------------


def wav(ref: dict[str, Any]) -> tuple[int, int, np.ndarray]:
    with wave.open(ref["path"], "rb") as w:
        assert w.getsampwidth() == 2
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getframerate(), w.getnchannels(), frames.reshape(-1, w.getnchannels())


def test_audio_arrays_become_16_bit_wav_and_files_are_copied(tmp_path: Path) -> None:
    t = np.linspace(0, 1, 800, endpoint=False)
    mono = 0.5 * np.sin(2 * np.pi * 5 * t)
    a = Audio(mono, sample_rate=800, caption="tone")
    ref = a.to_json()
    assert ref == {
        "caption": "tone",
        "_type": "audio-file",
        "path": a.path,
        "sha256": ref["sha256"],
        "size": ref["size"],
    }
    assert_stored(ref, "audio", "wav")
    rate, channels, frames = wav(ref)
    assert (rate, channels, a.duration, a.sample_rate) == (800, 1, 1.0, 800)
    np.testing.assert_array_equal(frames[:, 0], np.round(mono * 32767).astype(np.int16))
    stereo = RNG.integers(-32768, 32767, (50, 2)).astype(np.int16)
    _, channels, frames = wav(Audio(stereo, sample_rate=16000).to_json())
    assert channels == 2 and np.array_equal(frames, stereo)
    _, _, loud = wav(Audio(np.array([2.0, -3.0, np.nan]), sample_rate=8000).to_json())
    assert loud[:, 0].tolist() == [32767, -32767, 0]  # clipped to [-1, 1], NaN silent
    src = tmp_path / "clip.wav"
    src.write_bytes(Path(a.path).read_bytes())
    copied = Audio(str(src))
    assert Path(copied.path).read_bytes() == src.read_bytes() and copied.path != str(src)
    assert (copied.sample_rate, copied.duration) == (800, 1.0) and "caption" not in copied.to_json()
    mp3 = tmp_path / "song.mp3"
    mp3.write_bytes(b"ID3 not really")
    assert_stored(Audio(mp3).to_json(), "audio", "mp3")
    _, _, listed = wav(Audio([0.0, 0.5, -0.5], sample_rate=8000).to_json())
    assert listed[:, 0].tolist() == [0, 16384, -16384]
    with pytest.raises(ValueError, match='"sample_rate" is required'):
        Audio(mono)
    with pytest.raises(ValueError, match="does not exist"):
        Audio(str(tmp_path / "none.wav"))
    with pytest.raises(ValueError, match="samples x channels"):
        Audio(np.zeros((2, 2, 2)), sample_rate=10)


def test_html_from_string_file_and_io(tmp_path: Path) -> None:
    h = Html("<html><body>hi</body></html>")
    ref = h.to_json()
    assert set(ref) == {"_type", "path", "sha256", "size"} and ref["_type"] == "html-file"
    assert_stored(ref, "html", "html")
    assert Path(h.path).read_text() == (
        '<html><head><base target="_blank"><link rel="stylesheet" type="text/css" '
        'href="https://app.wandb.ai/normalize.css" /></head><body>hi</body></html>'
    )
    page = tmp_path / "page.html"
    page.write_text("<p>raw</p>")
    assert Path(Html(str(page), inject=False).path).read_text() == "<p>raw</p>"
    assert (
        Path(Html(page).path).read_text().endswith("<p>raw</p>")
        and "<base" in Path(Html(page).path).read_text()
    )
    assert Path(Html(io.StringIO("<b>io</b>"), inject=False).path).read_text() == "<b>io</b>"
    assert Path(Html(str(page), inject=False, data_is_not_path=True).path).read_text() == str(page)
    with pytest.raises(ValueError, match="data must be a string"):
        Html(42)


def test_plotly_figure_stored_as_its_json() -> None:
    go = pytest.importorskip("plotly.graph_objects")
    fig = go.Figure(go.Scatter(x=np.arange(3), y=np.array([1.5, 2.5, 0.5]), name="s"))
    p = Plotly(fig)
    ref = p.to_json()
    assert set(ref) == {"_type", "path", "sha256", "size"} and ref["_type"] == "plotly-file"
    assert_stored(ref, "plotly", "plotly.json")
    body = read(ref)
    assert (
        body["data"][0]["x"] == [0, 1, 2]
        and body["data"][0]["y"] == [1.5, 2.5, 0.5]
        and body["data"][0]["name"] == "s"
    )
    assert "layout" in body and Plotly.make_plot_media(fig).to_json()["path"] == ref["path"]
    heat = read(Plotly(go.Figure(go.Heatmap(z=np.arange(6.0).reshape(2, 3)))).to_json())
    assert heat["data"][0]["z"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]  # plotly 6's typed arrays as lists
    with pytest.raises(ValueError, match="must be plotly figures"):
        Plotly({"data": []})


def test_object3d_point_clouds_scenes_and_files(tmp_path: Path) -> None:
    for width in (3, 4, 6):
        pts = RNG.random((5, width))
        ref = Object3D(pts, caption="c").to_json()
        assert ref["_type"] == "object3D-file" and ref["caption"] == "c"
        assert_stored(ref, "object3D", "pts.json")
        assert read(ref) == pts.tolist()
    with pytest.raises(ValueError, match="nx3"):
        Object3D(np.zeros((4, 5)))
    pts_file = tmp_path / "cloud.pts.json"
    pts_file.write_text("[[1, 2, 3]]")
    assert_stored(Object3D(pts_file).to_json(), "object3D", "pts.json")
    mesh = tmp_path / "cube.obj"
    mesh.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    ref = Object3D(str(mesh)).to_json()
    assert_stored(ref, "object3D", "obj")
    assert Path(ref["path"]).read_text() == mesh.read_text()
    with open(mesh) as f:  # an open file: its path, as W&B
        assert Object3D(f).to_json()["path"] == ref["path"]
    io_ref = Object3D(io.StringIO("solid x\nendsolid x\n"), file_type="stl").to_json()
    assert_stored(io_ref, "object3D", "stl")
    with pytest.raises(ValueError, match="file type keyword"):
        Object3D(io.StringIO("x"))
    with pytest.raises(ValueError, match="not compatible with Object3D"):
        Object3D(str(tmp_path / "a.txt"))
    box = box3d(
        center=(0, 0, 0), size=(2, 2, 2), orientation=(1, 0, 0, 0), color=(1, 0, 0), label="b", score=0.5
    )
    assert sorted(map(tuple, box["corners"]))[0] == (-1.0, -1.0, -1.0) and box["label"] == "b"
    scene = Object3D.from_point_cloud(points=RNG.random((3, 3)).tolist(), boxes=[box])
    body = read(scene.to_json())
    assert body["type"] == "lidar/beta" and len(body["points"]) == 3 and body["boxes"][0]["score"] == 0.5
    assert body["vectors"] == []
    assert Object3D.from_numpy(np.ones((2, 3))).to_json()["_type"] == "object3D-file"


def test_molecule_files_and_rdkit_message(tmp_path: Path) -> None:
    pdb = tmp_path / "water.pdb"
    pdb.write_text("HETATM    1  O   HOH A   1       0.000   0.000   0.000  1.00  0.00           O\nEND\n")
    ref = Molecule(str(pdb), caption="water").to_json()
    assert ref["_type"] == "molecule-file" and ref["caption"] == "water"
    assert_stored(ref, "molecule", "pdb")
    assert Path(ref["path"]).read_text() == pdb.read_text()
    assert Molecule(io.StringIO(pdb.read_text()), file_type="pdb").to_json()["path"] == ref["path"]
    with pytest.raises(ValueError, match="Molecule only supports files of the type"):
        Molecule(str(tmp_path / "x.xyz"))
    with pytest.raises(ValueError, match="file_type"):
        Molecule(io.StringIO("x"))
    if "rdkit" not in sys.modules:
        try:
            import rdkit  # noqa: F401
        except ImportError:
            with pytest.raises(ImportError, match="needs the rdkit package"):
                Molecule.from_smiles("CCO")
            with pytest.raises(ImportError, match="needs the rdkit package"):
                Molecule.from_rdkit("x.mol")


# Histogram --------------------------------------------------------------------------------------------------------


def test_histogram_of_any_shape_and_wandbs_json() -> None:
    data = RNG.normal(size=(4, 5, 6))
    h = Histogram(data)
    counts, edges = np.histogram(data.reshape(-1), bins=64)
    assert h.to_json() == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert isinstance(h, WBValue) and all(type(v) is int for v in h.histogram)
    assert Histogram(data[0], num_bins=8).to_json()["values"] == np.histogram(data[0], bins=8)[0].tolist()
    assert Histogram([[1, 2], [3]], num_bins=2).to_json() == {
        "_type": "histogram",
        "values": [1, 2],
        "bins": [1.0, 2.0, 3.0],
    }
    assert sum(Histogram([1.0, np.nan, np.inf, 2.0]).histogram) == 2  # NaN and ±Inf left out
    counts3, edges3 = np.histogram([1, 2, 2, 3], bins=3)
    given = Histogram(np_histogram=(counts3, edges3))
    assert given.to_json() == {"_type": "histogram", "values": [1, 2, 1], "bins": edges3.tolist()}
    assert Histogram(np_histogram=([1, 2], [0, 1, 2])).to_json()["values"] == [1, 2]
    with pytest.raises(ValueError, match="len\\(bins\\) must be len\\(histogram\\) \\+ 1"):
        Histogram(np_histogram=([1, 2], [0, 1]))
    with pytest.raises(ValueError, match="maximum length of a histogram is 512"):
        Histogram(data, num_bins=513)
    with pytest.raises(ValueError, match="Expected np_histogram"):
        Histogram()


# Exports ----------------------------------------------------------------------------------------------------------


def test_exports_are_lazy_and_the_wandb_paths_resolve(rh: RhEnv) -> None:
    for name in ("Table", "Audio", "Html", "Plotly", "Object3D", "Molecule"):
        assert getattr(runhive, name) is getattr(runhive.sdk.data_types, name)
    assert runhive.plot.line is not None and runhive.Histogram is Histogram
    code = (  # the media modules and runhive.plot load on first use only (the preload thread off: no race)
        "import sys, runhive\n"
        "loaded = [m for m in sys.modules if m.startswith(('runhive.plot', 'runhive.sdk.data_types._'))]\n"
        "print(sorted(m for m in loaded if not m.endswith(('._base', '._histogram'))))\n"
    )
    env = {**rh.environ, "RUNHIVE_PRELOAD": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
    res = rh.run(
        """
        import wandb, runhive
        from wandb.sdk.data_types.table import Table
        from wandb.sdk.data_types.audio import Audio
        from wandb.sdk.data_types.html import Html
        from wandb.sdk.data_types.plotly import Plotly
        from wandb.sdk.data_types.object_3d import Object3D, box3d
        from wandb.sdk.data_types.molecule import Molecule
        from wandb.sdk.data_types.base_types.media import Media, BatchableMedia
        from wandb.data_types import Table as T2, Histogram, WBValue
        from wandb.plot import CustomChart, line, plot_table
        import wandb.plot
        assert Table is runhive.Table is T2 and Audio is runhive.Audio and Html is runhive.Html
        assert Plotly is runhive.Plotly and Object3D is runhive.Object3D and Molecule is runhive.Molecule
        assert issubclass(Table, Media) and issubclass(Audio, BatchableMedia) and issubclass(Histogram, WBValue)
        assert isinstance(wandb.plot.line(wandb.Table(columns=["x", "y"]), "x", "y"), CustomChart)
        print("OK")
        """,
        env={"RUNHIVE_AS_WANDB": "1"},
    )
    assert res.stdout.strip().endswith("OK")


# Logged to a real run ---------------------------------------------------------------------------------------------


def test_logged_table_and_media_read_back_through_the_api(rh: RhEnv, tmp_path: Path) -> None:
    go = pytest.importorskip("plotly.graph_objects")
    pdb = tmp_path / "m.pdb"
    pdb.write_text("END\n")
    run = runhive.init(project="types")
    img = Image(RNG.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    table = Table(columns=["step", "img", "score"], data=[[0, img, 0.5], [1, None, 0.25]])
    run.log(
        {
            "table": table,
            "audio": Audio(np.zeros(100), sample_rate=1000),
            "html": Html("<p>x</p>"),
            "plotly": Plotly(go.Figure(go.Bar(x=["a"], y=[1]))),
            "points": Object3D(RNG.random((10, 3))),
            "molecule": Molecule(str(pdb)),
            "hist": Histogram(RNG.normal(size=(8, 8))),
            "chart": runhive.plot.scatter(table, "step", "score", title="S"),
        }
    )
    run_dir = run.dir
    run.finish()
    stored = rh.api().run(f"types/{run.id}")
    row = stored.history(pandas=False, samples=None)[0]
    # A chart is stored as W&B stores it: its table under `<key>_table`, the panel in config.
    kinds = {
        k: row[k if k != "chart" else "chart_table"]["_type"]
        for k in ("table", "audio", "html", "plotly", "points", "molecule", "hist", "chart")
    }
    assert kinds == {
        "table": "table-file",
        "audio": "audio-file",
        "html": "html-file",
        "plotly": "plotly-file",
        "points": "object3D-file",
        "molecule": "molecule-file",
        "hist": "histogram",
        "chart": "table-file",
    }
    media = os.path.join(run_dir, "files", "media")
    for key, kind in [("table", "table"), ("audio", "audio"), ("html", "html"), ("plotly", "plotly")]:
        assert os.path.dirname(row[key]["path"]) == os.path.join(media, kind) and os.path.isfile(
            row[key]["path"]
        )
    for key, kind in [("points", "object3D"), ("molecule", "molecule")]:
        assert os.path.dirname(row[key]["path"]) == os.path.join(media, kind)
    ref = row["table"]
    assert (ref["ncols"], ref["nrows"]) == (3, 2)
    back = Table.from_json(ref)
    assert back.columns == table.columns and back.data == [[0, img.to_json(), 0.5], [1, None, 0.25]]
    assert os.path.isfile(back.data[0][1]["path"])
    assert row["chart_table"]["path"] == ref["path"]  # the chart's table is the same content: one file
    panel = stored.config["_wandb"]["visualize"]["chart"]["panel_config"]
    assert panel["panelDefId"] == "wandb/scatter/v0"
    assert panel["fieldSettings"] == {"x": "step", "y": "score"}
    assert panel["stringSettings"] == {"title": "S"}
    assert rh.api().run(f"types/{run.id}").summary["table"]["path"] == ref["path"]
