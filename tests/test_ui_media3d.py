"""3D objects and molecules on the run page (issue 15, item 6): `wandb.Object3D` point clouds (coloured by rgb, with
the step slider), a `lidar/beta` scene's boxes, labels and vectors, an `.obj` mesh, and `wandb.Molecule` from PDB
and SDF text, drawn by plotly in Chromium; a glTF file offered as a download; a broken file shown as "could not
draw". And the parsers behind `/api/run/structure` (`_structures`): PDB, SDF/MOL, Mol2, OBJ, STL, point clouds."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from conftest import RhEnv
from runhive_service.dashboard import _structures as st
from test_ui_common import Page, api_json, browser, page, screenshot, start_ui
from test_ui_security import _request

__all__ = ["browser", "page"]

EVIL = '<img src=x onerror="document.body.dataset.pwned=1">'

# Ethanol (PubChem's 3D conformer): O, C1, C2, then the hydrogens (two on C1, three on C2, one on O).
ETHANOL = [
    ("O", 1.1879, -0.3829, 0.0),
    ("C", 0.0, 0.4181, 0.0),
    ("C", -1.2129, -0.4998, 0.0),
    ("H", 0.0006, 1.0525, 0.8871),
    ("H", 0.0006, 1.0525, -0.8871),
    ("H", -2.1393, 0.0827, 0.0),
    ("H", -1.2209, -1.1399, 0.8847),
    ("H", -1.2209, -1.1399, -0.8847),
    ("H", 1.9652, 0.2045, 0.0),
]
ETHANOL_BONDS = [(0, 1), (1, 2), (1, 3), (1, 4), (2, 5), (2, 6), (2, 7), (0, 8)]


def pdb_text(
    atoms: list[tuple[str, float, float, float]], bonds: list[tuple[int, int]] = (), names: bool = True
) -> str:  # type: ignore[assignment]
    """PDB records in their columns (element in 77-78 unless `names` is False: then only the atom name says it)."""
    lines = []
    for n, (el, x, y, z) in enumerate(atoms, 1):
        name = f" {el}{n:<2}" if len(el) == 1 else f"{el.upper()}{n:<2}"
        element = f"{el.upper():>2}" if names else "  "
        lines.append(
            f"HETATM{n:5d} {name:<4} EOH A   1    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {element}"
        )
    by: dict[int, list[int]] = {}
    for a, b in bonds:
        by.setdefault(a, []).append(b)
        by.setdefault(b, []).append(a)
    for a in sorted(by):
        lines.append("CONECT" + "".join(f"{v + 1:5d}" for v in [a, *by[a]]))
    return "\n".join([*lines, "END", ""])


def sdf_text(atoms: list[tuple[str, float, float, float]], bonds: list[tuple[int, int]]) -> str:
    head = ["ethanol", "  runhive", "", f"{len(atoms):3d}{len(bonds):3d}  0  0  0  0  0  0  0  0999 V2000"]
    body = [
        f"{x:10.4f}{y:10.4f}{z:10.4f} {el:<3} 0  0  0  0  0  0  0  0  0  0  0  0" for el, x, y, z in atoms
    ]
    body += [f"{a + 1:3d}{b + 1:3d}  1  0" for a, b in bonds]
    return "\n".join([*head, *body, "M  END", "$$$$", ""])


CUBE_OBJ = """# a unit cube: 8 vertices, 6 quads (12 triangles)
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 0 0 1
v 1 0 1
v 1 1 1
v 0 1 1
f 1 2 3 4
f 5/1 6/1 7/1 8/1
f 1//1 2//1 6//1 5//1
f 2 3 7 6
f 3 4 8 7
f -8 -4 -1 -5
"""

LOGGER = f"""
import numpy as np
import runhive as wandb

EVIL = {EVIL!r}
run = wandb.init(project="m3d", name="three-d")
rng = np.random.default_rng(0)
for step in range(3):
    n = 50 + 10 * step
    cloud = np.hstack([rng.normal(size=(n, 3)), rng.integers(0, 256, size=(n, 3))])
    # A metric too: the project page then has charts and media panels both
    run.log({{"cloud": wandb.Object3D(cloud, caption=f"cloud {{step}} " + EVIL), "loss": 1.0 / (step + 1)}})
points = np.hstack([rng.uniform(-3, 3, size=(40, 3)), rng.integers(1, 4, size=(40, 1))])
box = wandb.box3d(center=(0, 0, 0), size=(1, 2, 3), orientation=(1, 0, 0, 0), color=(1, 0, 0), label=EVIL, score=0.9)
run.log({{"scene": wandb.Object3D.from_point_cloud(points=points, boxes=[box],
                                                   vectors=[{{"start": [0, 0, 0], "end": [2.5, 0, 1]}}])}})
files = {{"cube.obj": {CUBE_OBJ!r}, "ethanol.pdb": {pdb_text(ETHANOL, ETHANOL_BONDS)!r},
          "ethanol.sdf": {sdf_text(ETHANOL, ETHANOL_BONDS)!r}, "scene.glb": "glTF binary", "broken.pdb": "nothing\\n"}}
for name, text in files.items():
    with open(name, "w") as f:
        f.write(text)
run.log({{"mesh": wandb.Object3D("cube.obj", caption="a cube"),
         "molecule": wandb.Molecule("ethanol.pdb", caption="ethanol " + EVIL),
         "sdf": wandb.Molecule("ethanol.sdf"),
         "gltf": wandb.Object3D("scene.glb"),
         "broken": wandb.Molecule("broken.pdb")}})
shapes = wandb.Table(columns=["name", "cloud", "molecule"],
                     data=[["both", wandb.Object3D(cloud), wandb.Molecule("ethanol.pdb")]])
run.log({{"shapes": shapes}})
run.finish()
print("ID", run.entity, run.id, run.dir)
"""


def test_run_page_draws_objects3d_and_molecules(rh: RhEnv, page: Page, tmp_path: Path) -> None:
    entity, run_id, run_dir = rh.run(LOGGER, timeout=180).stdout.split("ID", 1)[1].split()
    base, _ = start_ui(rh)
    path = f"{entity}/m3d/{run_id}"

    media = api_json(base, f"/api/run/media?path={path}")
    by = {m["key"]: m for m in media["media"]}
    assert by["cloud"]["category"] == "object3d" and by["cloud"]["steps"] == [0, 1, 2]
    assert {by[k]["category"] for k in ("molecule", "sdf", "broken")} == {"molecule"}
    assert {by[k]["category"] for k in ("scene", "mesh", "gltf")} == {"object3d"}

    def structure(key: str, step: int = -1) -> tuple[int, Any]:
        name = by[key]["values"][step][0]["name"]
        status, headers, body = _request(base, f"/api/run/structure?path={path}&name={name}")
        assert headers["content-type"] == "application/json"
        return status, json.loads(body)

    status, cloud = structure("cloud")
    assert status == 200 and cloud["kind"] == "points" and cloud["count"] == 70 and len(cloud["colors"]) == 70
    assert cloud["colors"][0].startswith("rgb(")
    scene = structure("scene")[1]
    assert scene["count"] == 40 and len(scene["boxes"]) == 1 and len(scene["boxes"][0]["edges"]) == 12
    assert scene["boxes"][0]["label"] == EVIL and scene["boxes"][0]["color"] == "rgb(255,0,0)"
    assert structure("mesh")[1]["triangles"] == 12
    mol = structure("molecule")[1]
    assert mol["atoms"] == 9 and [tuple(b) for b in mol["bonds"]] == sorted(ETHANOL_BONDS)
    assert mol["inferred_bonds"] == 0
    assert structure("gltf") == (200, {"kind": "download", "format": "glb", "note": st_note("glb")})
    status, broken = structure("broken")
    assert status == 422 and "could not read pdb file" in broken["error"] and "no atoms" in broken["error"]
    assert run_dir not in json.dumps(broken)
    for bad in ("../../etc/passwd", "/etc/passwd", "nope.pdb"):
        status, headers, _ = _request(base, f"/api/run/structure?path={path}&name={bad}")
        assert status in (400, 404) and headers["content-type"] == "application/json", (bad, status)

    p = page.page
    p.goto(f"{base}/#/r/{path}")
    p.wait_for_selector(f"body[data-ready='#/r/{path}']")
    for key in ("cloud", "scene", "mesh", "molecule", "sdf"):
        panel = p.locator(f'.media-panel[data-key="{key}"]')
        panel.scroll_into_view_if_needed()
        panel.locator(".structure-3d[data-kind]").wait_for()

    def drawn(key: str) -> Any:
        return p.evaluate(
            """(key) => { const d = document.querySelector(`.media-panel[data-key="${key}"] .structure-3d`);
                 return { kind: d.dataset.kind, scene: !!d._fullLayout.scene,
                          traces: d.data.map(t => ({ type: t.type, mode: t.mode || null, name: t.name || null,
                            n: (t.x || []).length, colors: Array.isArray(t.marker && t.marker.color)
                              ? t.marker.color.length : null, text: t.text || null, i: (t.i || []).length })) }; }""",
            key,
        )

    cloud_drawn = drawn("cloud")
    assert cloud_drawn["kind"] == "points" and cloud_drawn["scene"]
    assert cloud_drawn["traces"][0] | {"text": None} == {
        "type": "scatter3d",
        "mode": "markers",
        "name": "points",
        "n": 70,
        "colors": 70,
        "text": None,
        "i": 0,
    }
    # The slider goes back to step 0: 50 points, seen from where the user turned the scene.
    panel = p.locator('.media-panel[data-key="cloud"]')
    assert panel.locator("figcaption").inner_text() == f"cloud 2 {EVIL}"  # text, not markup
    p.evaluate(
        """() => Plotly.relayout(document.querySelector('.media-panel[data-key="cloud"] .structure-3d'),
                                 { "scene.camera": { eye: { x: 2.5, y: 0.1, z: 0.2 } } })"""
    )
    panel.locator("input.step-slider").fill("0")
    assert panel.locator(".step-label").inner_text() == "step 0"
    p.wait_for_function(
        """() => { const d = document.querySelector('.media-panel[data-key="cloud"] .structure-3d');
                   return d && d.data && d.data[0].x.length === 50; }"""
    )
    assert panel.locator("figcaption").inner_text() == f"cloud 0 {EVIL}"
    eye = p.evaluate(
        """() => document.querySelector('.media-panel[data-key="cloud"] .structure-3d').layout.scene.camera.eye"""
    )
    assert eye["x"] == 2.5

    scene_drawn = drawn("scene")["traces"]
    assert scene_drawn[0]["n"] == 40 and scene_drawn[0]["colors"] == 40  # coloured by category
    box = [t for t in scene_drawn if t["mode"] == "lines"]
    assert len(box) == 1 and box[0]["n"] == 36  # 12 edges, 2 points and a gap each
    escaped = EVIL.replace("<", "&lt;").replace(">", "&gt;")
    assert box[0]["name"] == escaped
    assert [t["text"] for t in scene_drawn if t["mode"] == "text"] == [[f"{EVIL} 0.9000"]]  # WebGL glyphs
    assert [t["name"] for t in scene_drawn if t["mode"] == "lines+markers"] == ["vectors"]

    mesh_drawn = drawn("mesh")["traces"]
    assert [(t["type"], t["n"], t["i"]) for t in mesh_drawn] == [("mesh3d", 8, 12)]

    for key in ("molecule", "sdf"):
        mol_drawn = drawn(key)["traces"]
        atoms = {t["name"]: t["n"] for t in mol_drawn if t["mode"] == "markers"}
        assert atoms == {"C": 2, "H": 6, "O": 1}, key
        assert [t["n"] for t in mol_drawn if t["name"] == "bonds"] == [3 * len(ETHANOL_BONDS)], key
    note = p.locator('.media-panel[data-key="molecule"] .structure-note').inner_text()
    assert note == "9 atoms, 8 bonds"

    # In a table: each cell drawn when asked, as the panels draw them.
    cells = p.locator('.media-panel[data-key="shapes"] td.structure-cell')
    cells.first.scroll_into_view_if_needed()
    assert cells.count() == 2 and cells.nth(1).locator("button").inner_text() == "view molecule"
    for n, kind in ((0, "points"), (1, "molecule")):
        cells.nth(n).locator("button").click()
        cells.nth(n).locator(f".structure-3d[data-kind='{kind}']").wait_for()
        assert cells.nth(n).locator("a").get_attribute("href").endswith("&download=1")

    for key in ("gltf", "broken"):
        p.locator(f'.media-panel[data-key="{key}"]').scroll_into_view_if_needed()
    gltf = p.locator('.media-panel[data-key="gltf"] .note')
    assert "glTF" in gltf.inner_text() and gltf.locator("a").get_attribute("href").endswith("&download=1")
    broken_panel = p.locator('.media-panel[data-key="broken"] .error')
    broken_panel.wait_for()
    assert broken_panel.inner_text().startswith("could not draw: could not read pdb file")
    assert p.locator("#media img[src='x']").count() == 0
    assert p.evaluate("() => document.body.dataset.pwned") is None
    screenshot(page, tmp_path, "run-media-3d", "#media")

    # The project page's panels: each run's last point cloud and molecule, drawn the same way.
    p.goto(f"{base}/#/p/m3d")
    p.wait_for_selector("body[data-ready='#/p/m3d']")
    p.locator("#project-media").scroll_into_view_if_needed()
    for key, count in (("cloud", 70), ("molecule", 9)):
        row = p.locator(f'#project-media .media-panel[data-key="{key}"] .media-row')
        row.scroll_into_view_if_needed()
        row.locator(".structure-3d[data-kind]").wait_for()
        assert row.locator(".structure-3d").get_attribute("data-count") == str(count)
    screenshot(page, tmp_path, "project-media-3d", "#project-media")
    assert not page.errors, page.errors


def st_note(fmt: str) -> str:
    from runhive_service.dashboard._media import _ENGINE_ONLY

    return _ENGINE_ONLY[fmt]


# The parsers -----------------------------------------------------------------------------------------------------


def test_pdb_bonds_from_conect_or_distances() -> None:
    with_conect = st.parse_pdb(pdb_text(ETHANOL, ETHANOL_BONDS).encode())
    assert with_conect["elements"] == ["O", "C", "C", "H", "H", "H", "H", "H", "H"]
    assert with_conect["bonds"] == sorted(ETHANOL_BONDS) and with_conect["inferred_bonds"] == 0
    assert with_conect["x"][0] == pytest.approx(1.188) and with_conect["palette"]["O"]["color"] == "#FF0D0D"
    # No CONECT and no element columns: bonds from covalent radii, elements from the atom names.
    inferred = st.parse_pdb(pdb_text(ETHANOL, names=False).encode())
    assert inferred["elements"] == with_conect["elements"]
    assert inferred["bonds"] == sorted(ETHANOL_BONDS) and inferred["inferred_bonds"] == 8
    # CONECT for the ligand only: the other atoms' bonds inferred, none across.
    water = [("O", 10.0, 0.0, 0.0), ("H", 10.957, 0.0, 0.0), ("H", 9.76, 0.927, 0.0)]
    mixed = st.parse_pdb(pdb_text(ETHANOL + water, ETHANOL_BONDS).encode())
    assert mixed["bonds"] == sorted([*ETHANOL_BONDS, (9, 10), (9, 11)]) and mixed["inferred_bonds"] == 2


def test_pdb_first_model_first_altloc_and_two_letter_elements() -> None:
    text = "\n".join(
        [
            "MODEL        1",
            "HETATM    1 FE   HEM A   1       0.000   0.000   0.000  1.00  0.00",
            "ATOM      2  CA AALA A   2       3.000   0.000   0.000  0.50  0.00           C",
            "ATOM      3  CA BALA A   2       3.100   0.000   0.000  0.50  0.00           C",
            "ENDMDL",
            "MODEL        2",
            "ATOM      2  CA  ALA A   2       9.000   0.000   0.000  1.00  0.00           C",
            "ENDMDL",
        ]
    )
    mol = st.parse_pdb(text.encode())
    assert mol["elements"] == ["Fe", "C"] and mol["x"] == [0.0, 3.0] and mol["models"] == 2
    assert mol["names"] == ["FE", "CA"]
    # PQR (pdb2pqr's output): fields separated by spaces, charge and radius after x y z.
    pqr = b"ATOM 1 N ALA 1 1.0 2.0 3.0 -0.3 1.82\nATOM 2 CA ALA 1 2.4 2.0 3.0 0.1 1.9\n"
    got = st.parse_pdb(pqr, "pqr")
    assert (got["elements"], got["x"], got["bonds"], got["format"]) == (
        ["N", "C"],
        [1.0, 2.4],
        [(0, 1)],
        "pqr",
    )


def test_sdf_v2000_v3000_and_mol2() -> None:
    mol = st.parse_sdf(sdf_text(ETHANOL, ETHANOL_BONDS).encode())
    assert (
        mol["atoms"] == 9 and mol["bonds"] == sorted(ETHANOL_BONDS) and mol["elements"][:3] == ["O", "C", "C"]
    )
    v3000 = "\n".join(
        [
            "water",
            "",
            "",
            "  0  0  0     0  0            999 V3000",
            "M  V30 BEGIN CTAB",
            "M  V30 COUNTS 3 2 0 0 0",
            "M  V30 BEGIN ATOM",
            "M  V30 1 O 0 0 0 0",
            "M  V30 2 H 0.957 0 0 0",
            "M  V30 3 H -0.24 0.927 0 0",
            "M  V30 END ATOM",
            "M  V30 BEGIN BOND",
            "M  V30 1 1 1 2",
            "M  V30 2 1 1 3",
            "M  V30 END BOND",
            "M  V30 END CTAB",
            "M  END",
        ]
    )
    water = st.parse_sdf(v3000.encode())
    assert (
        water["elements"] == ["O", "H", "H"] and water["bonds"] == [(0, 1), (0, 2)] and water["y"][2] == 0.927
    )
    mol2 = "\n".join(
        [
            "@<TRIPOS>MOLECULE",
            "water",
            "@<TRIPOS>ATOM",
            "1 O1 0.0 0.0 0.0 O.3 1 HOH 0.0",
            "2 H1 0.957 0.0 0.0 H 1 HOH 0.0",
            "3 H2 -0.24 0.927 0.0 H 1 HOH 0.0",
            "@<TRIPOS>BOND",
            "1 1 2 1",
            "2 1 3 1",
        ]
    )
    assert st.parse_mol2(mol2.encode())["bonds"] == [(0, 1), (0, 2)]
    with pytest.raises(st.ParseError, match="promises 9 atoms"):
        st.parse_sdf(sdf_text(ETHANOL, ETHANOL_BONDS).split("\n  1  2")[0].encode())
    with pytest.raises(st.ParseError, match="no atoms"):
        st.parse_pdb(b"REMARK nothing here\n")
    with pytest.raises(st.ParseError, match="line 1"):
        st.parse_pdb(b"ATOM      1  C   ALA A   1       x.xxx   0.000   0.000\n")


def test_obj_faces_fanned_and_colours() -> None:
    cube = st.parse_obj(CUBE_OBJ.encode())
    assert cube["vertices"] == 8 and cube["triangles"] == 12 and cube["colors"] is None
    assert (cube["i"][-1], cube["j"][-1], cube["k"][-1]) == (0, 7, 3)  # f -8 -4 -1 -5: counted back (0 4 7 3)
    coloured = st.parse_obj(b"v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 0 1 0 0 0 1\nf 1 2 3\n")
    assert coloured["colors"] == ["rgb(255,0,0)", "rgb(0,255,0)", "rgb(0,0,255)"]
    with pytest.raises(st.ParseError, match="line 4: vertex 5 is not defined"):
        st.parse_obj(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 5\n")
    with pytest.raises(st.ParseError, match="no faces"):
        st.parse_obj(b"v 0 0 0\n")


def _binary_stl(triangles: list[list[tuple[float, float, float]]], header: bytes = b"solid binary") -> bytes:
    out = header.ljust(80, b" ") + struct.pack("<I", len(triangles))
    for tri in triangles:
        out += struct.pack("<12fH", 0, 0, 1, *tri[0], *tri[1], *tri[2], 0)
    return out


def test_stl_binary_and_ascii_share_vertices() -> None:
    square = [[(0, 0, 0), (1, 0, 0), (1, 1, 0)], [(0, 0, 0), (1, 1, 0), (0, 1, 0)]]
    binary = st.parse_stl(_binary_stl(square))  # a header starting with "solid" is still binary
    assert binary["vertices"] == 4 and binary["triangles"] == 2 and binary["x"] == [0.0, 1.0, 1.0, 0.0]
    facets = "".join(
        "facet normal 0 0 1\n outer loop\n"
        + "".join(f"  vertex {x} {y} {z}\n" for x, y, z in t)
        + " endloop\nendfacet\n"
        for t in square
    )
    ascii_ = st.parse_stl(f"solid square\n{facets}endsolid square\n".encode())
    assert {k: ascii_[k] for k in ("vertices", "triangles", "i", "j", "k")} == {
        k: binary[k] for k in ("vertices", "triangles", "i", "j", "k")
    }
    with pytest.raises(st.ParseError, match="neither a binary STL"):
        st.parse_stl(b"\x00" * 90)
    with pytest.raises(st.TooLarge, match="triangles"):
        st.parse_stl(
            b" " * 80 + struct.pack("<I", st.MAX_TRIANGLES + 1) + b"\x00" * 50 * (st.MAX_TRIANGLES + 1)
        )


def test_points_clouds_scenes_and_boxes() -> None:
    rgb = st.parse_points(json.dumps([[0, 0, 0, 255, 0, 0], [1, 1, 1, 0, 0, 255]]).encode())
    assert rgb["colors"] == ["rgb(255,0,0)", "rgb(0,0,255)"] and rgb["count"] == 2
    cats = st.parse_points(json.dumps([[0, 0, 0, 1], [1, 1, 1, 2], [2, 2, 2, 1]]).encode())
    assert cats["colors"][0] == cats["colors"][2] != cats["colors"][1] and cats["categories"] == [1, 2]
    assert st.parse_points(b"[[0, 0, 0], [1, 2, 3]]")["colors"] is None
    # W&B's docs write a box's corners in another order than box3d(): both give the 12 edges of the box.
    docs_order = [
        [-1, -1, -1],
        [-1, 1, -1],
        [-1, -1, 1],
        [1, -1, -1],
        [1, 1, -1],
        [-1, 1, 1],
        [1, -1, 1],
        [1, 1, 1],
    ]
    edges = st.box_edges(docs_order)
    assert len(edges) == 12
    assert all(sum(a != b for a, b in zip(docs_order[i], docs_order[j], strict=True)) == 1 for i, j in edges)
    long_box = [
        [x * 1, y * 1, z * 9] for x in (0, 1) for y in (0, 1) for z in (0, 1)
    ]  # face diagonals < edges
    assert st.box_edges(long_box) == [
        (0, 1),
        (0, 2),
        (0, 4),
        (1, 3),
        (1, 5),
        (2, 3),
        (2, 6),
        (3, 7),
        (4, 5),
        (4, 6),
        (5, 7),
        (6, 7),
    ]
    with pytest.raises(st.ParseError, match="do not form a box"):
        st.box_edges([[0, 0, 0]] * 7 + [[1, 1, 1]])
    scene = {
        "type": "lidar/beta",
        "points": [[0, 0, 0]],
        "boxes": [{"corners": docs_order, "label": "car", "color": [0, 255, 0], "score": 0.5}],
        "vectors": [{"start": [0, 0, 0], "end": [1, 0, 0], "color": [0, 0, 1]}, {"end": [0, 1, 0]}],
    }
    got = st.parse_points(json.dumps(scene).encode())
    assert got["boxes"][0]["color"] == "rgb(0,255,0)" and got["boxes"][0]["label"] == "car"
    assert [v["color"] for v in got["vectors"]] == ["rgb(0,0,255)", None] and got["vectors"][1]["start"] == [
        0,
        0,
        0,
    ]
    many = st.parse_points(json.dumps([[i, 0, 0] for i in range(st.MAX_POINTS + 10)]).encode())
    assert many["count"] == st.MAX_POINTS + 10 and many["shown"] <= st.MAX_POINTS and many["x"][1] == 2
    for bad, message in (
        (b"{", "not JSON"),
        (b"[[0, 0]]", "got 2 values"),
        (b'[[0, 0, 0], [0, "a", 0]]', "expected numbers"),
        (b"[[0, 0, 0], [1, 1]]", "point 1"),
        (b'{"points": [], "boxes": [{"corners": [[0, 0, 0]]}]}', "box 0: a box needs 8 corners"),
    ):
        with pytest.raises(st.ParseError, match=message):
            st.parse_points(bad)


def test_parsers_refuse_damaged_files_with_a_reason() -> None:
    """Truncated and corrupted files: a ParseError (or TooLarge) with a reason, never another exception."""
    import random

    square = [[(0, 0, 0), (1, 0, 0), (1, 1, 0)], [(0, 0, 0), (1, 1, 0), (0, 1, 0)]]
    scene = {
        "type": "lidar/beta",
        "points": [[0, 0, 0, 1], [1, 1, 1, 2]],
        "boxes": [
            {"corners": [[x, y, z] for x in (0, 1) for y in (0, 2) for z in (0, 3)], "color": [1, 0, 0]}
        ],
        "vectors": [{"start": [0, 0, 0], "end": [1, 1, 1]}],
    }
    samples = [
        (st.parse_pdb, pdb_text(ETHANOL, ETHANOL_BONDS).encode()),
        (st.parse_sdf, sdf_text(ETHANOL, ETHANOL_BONDS).encode()),
        (st.parse_obj, CUBE_OBJ.encode()),
        (st.parse_stl, _binary_stl(square)),
        (st.parse_points, json.dumps(scene).encode()),
    ]
    rng = random.Random(15)
    noise = b"-.0123456789eE nan inf/\n\x00\xff[]{},:\"'abcxyz"
    for parse, good in samples:
        for _ in range(300):
            data = bytearray(good[: rng.randrange(len(good) + 1)] if rng.random() < 0.3 else good)
            for _ in range(rng.randrange(1, 6)):
                if data:
                    data[rng.randrange(len(data))] = rng.choice(noise)
            try:
                parse(bytes(data))
            except (st.ParseError, st.TooLarge) as e:
                assert str(e)
