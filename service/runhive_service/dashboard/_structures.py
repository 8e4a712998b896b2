"""3D objects and molecules read for the dashboard's plotly panels (issue 15, item 6): pure parsers from a file's
bytes to what the page draws, no file system and no plotly here.

- Point clouds (`wandb.Object3D`'s `.pts.json`): rows of x y z, x y z category (W&B's range 1-14) or x y z r g b;
  `lidar/beta` scenes add boxes (eight corners, colour, label, score) and vectors (start, end).
- Meshes: Wavefront `.obj` (polygons fanned into triangles, vertex colours when given) and `.stl` (binary or ASCII).
- Molecules: PDB/PQR (ATOM/HETATM, CONECT bonds; bonds inferred from covalent radii for atoms no CONECT names),
  SDF/MOL (V2000 and V3000 atom and bond blocks, the first record) and Mol2 (TRIPOS atoms and bonds).

Every parser raises `ParseError` (a message for the panel, no path in it) on input it cannot read, and caps its
output: a point cloud above MAX_POINTS is thinned evenly; a mesh or molecule above its cap is `TooLarge` (the page
offers the download instead).
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterable, Sequence
from itertools import combinations, pairwise
from typing import Any

__all__ = [
    "MAX_ATOMS",
    "MAX_POINTS",
    "MAX_TRIANGLES",
    "ParseError",
    "TooLarge",
    "box_edges",
    "parse_mol2",
    "parse_obj",
    "parse_pdb",
    "parse_points",
    "parse_sdf",
    "parse_stl",
]

MAX_POINTS = 200_000  # points a cloud shows (thinned evenly above: WebGL draws that many smoothly)
MAX_TRIANGLES = 300_000  # triangles of a mesh plotly's mesh3d still turns smoothly
MAX_ATOMS = 50_000  # atoms of a molecule drawn as markers (a large protein complex is offered as its file)


class ParseError(ValueError):
    """The file is not what its type says: the message says where."""


class TooLarge(ValueError):
    """The file parses but is too large to draw in the page."""


def _num(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ParseError(f"{what}: {text.strip()[:40]!r} is not a number") from None
    if not math.isfinite(v):
        raise ParseError(f"{what}: {text.strip()[:40]!r} is not a finite number")
    return v


def _f(v: float) -> float:
    # Shorter JSON: float32 files (STL, most OBJ) carry no more than 7 significant digits.
    return float(f"{v:.7g}")


# Point clouds ---------------------------------------------------------------------------------------------------

# Categories 1-14 (W&B's range) in distinct colours; other values cycle through them.
CATEGORY_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#e7ba52",
    "#ad494a",
    "#637939",
)


def _rgb(c: Sequence[Any], scale: float) -> str:
    r, g, b = (max(0, min(255, round(float(v) * scale))) for v in c[:3])
    return f"rgb({r},{g},{b})"


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _colour(c: Any) -> str | None:
    """A box's or vector's [r, g, b] (0-255, or 0-1 as `box3d` takes it) as CSS; None if it is not one."""
    if not isinstance(c, (list, tuple)) or len(c) < 3:
        return None
    if not all(_finite_number(v) for v in c[:3]):
        return None
    return _rgb(c, _scale_of(c[:3]))


def _scale_of(values: Iterable[float]) -> float:
    # W&B's colours are 0-255 for points and old boxes, 0-1 for box3d(): a set of colours all within 1 is 0-1.
    return 255.0 if all(0 <= v <= 1 for v in values) else 1.0


def _triple(v: Any, what: str) -> list[float]:
    if not isinstance(v, (list, tuple)) or len(v) < 3:
        raise ParseError(f"{what}: expected [x, y, z], got {json.dumps(v)[:60]}")
    out = []
    for c in v[:3]:
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
            raise ParseError(f"{what}: expected numbers, got {json.dumps(v)[:60]}")
        out.append(float(c))
    return out


def box_edges(corners: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """The twelve edges of a box given as its eight corners in any order (W&B's `box3d` orders them one way, its
    docs' hand-written boxes another): the three edge vectors from corner 0 are the three corners whose sum
    reaches the farthest one and whose pairwise sums reach the other three."""
    p = [tuple(c) for c in corners]
    if len(p) != 8:
        raise ParseError(f"a box needs 8 corners, got {len(p)}")
    v = [tuple(a - b for a, b in zip(q, p[0], strict=True)) for q in p]
    size = max(max(abs(c) for c in d) for d in v) or 1.0
    tol = 1e-4 * size

    def near(a: Sequence[float], b: Sequence[float]) -> bool:
        return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))

    def add(*ds: Sequence[float]) -> tuple[float, ...]:
        return tuple(sum(c) for c in zip(*ds, strict=True))

    far = max(range(1, 8), key=lambda i: sum(c * c for c in v[i]))
    rest = [i for i in range(1, 8) if i != far]
    for trio in combinations(rest, 3):
        a, b, c = (v[i] for i in trio)
        if not near(add(a, b, c), v[far]):
            continue
        others = [i for i in rest if i not in trio]
        bits = {0: 0, trio[0]: 1, trio[1]: 2, trio[2]: 4, far: 7}
        for combo, mask in ((add(a, b), 3), (add(a, c), 5), (add(b, c), 6)):
            match = [i for i in others if near(v[i], combo)]
            if not match:
                break
            bits[match[0]] = mask
        if len(bits) == 8:
            return sorted(
                (i, j) for i, j in combinations(range(8), 2) if bin(bits[i] ^ bits[j]).count("1") == 1
            )
    raise ParseError("a box's eight corners do not form a box")


def _points(rows: Any, what: str) -> dict[str, Any]:
    if not isinstance(rows, list):
        raise ParseError(f"{what}: expected a list of points, got {type(rows).__name__}")
    count = len(rows)
    stride = max(1, math.ceil(count / MAX_POINTS))
    shown = rows[::stride]
    width = len(shown[0]) if shown and isinstance(shown[0], (list, tuple)) else 3
    if width not in (3, 4, 6):
        raise ParseError(f"{what}: each point is x y z, x y z category or x y z r g b; got {width} values")
    xs, ys, zs, extra = [], [], [], []
    for n, row in enumerate(shown):
        if not isinstance(row, (list, tuple)) or len(row) != width:
            raise ParseError(f"{what}: point {n * stride} has not {width} values like the first")
        x, y, z = _triple(row, f"{what}: point {n * stride}")
        xs.append(x)
        ys.append(y)
        zs.append(z)
        if width > 3:
            for c in row[3:]:
                if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
                    raise ParseError(
                        f"{what}: point {n * stride} has a colour or category that is not a number"
                    )
            extra.append(row[3:])
    out: dict[str, Any] = {"count": count, "shown": len(xs), "x": xs, "y": ys, "z": zs, "colors": None}
    if width == 4:
        out["colors"] = [CATEGORY_COLOURS[(int(c[0]) - 1) % len(CATEGORY_COLOURS)] for c in extra]
        out["categories"] = sorted({int(c[0]) for c in extra})
    elif width == 6:
        scale = _scale_of(v for c in extra for v in c)
        out["colors"] = [_rgb(c, scale) for c in extra]
    return out


def _box(box: Any, n: int) -> dict[str, Any]:
    if not isinstance(box, dict):
        raise ParseError(f"box {n}: expected an object with corners")
    corners = [_triple(c, f"box {n} corner") for c in box.get("corners") or []]
    try:
        edges = box_edges(corners)
    except ParseError as e:
        raise ParseError(f"box {n}: {e}") from None
    label, score = box.get("label"), box.get("score")
    return {
        "corners": corners,
        "edges": edges,
        "color": _colour(box.get("color")) or "rgb(0,200,0)",
        "label": None if label is None else str(label),
        "score": score if _finite_number(score) else None,
    }


def parse_points(data: bytes) -> dict[str, Any]:
    """A `.pts.json`: a list of points, or a `lidar/beta` scene {points, boxes, vectors}."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError(f"not JSON ({e})") from None
    if isinstance(doc, list):
        return {"kind": "points", **_points(doc, "points"), "boxes": [], "vectors": []}
    if not isinstance(doc, dict):
        raise ParseError(f"expected a list of points or a scene object, got {type(doc).__name__}")
    boxes = doc.get("boxes") or []
    vectors = doc.get("vectors") or []
    if not isinstance(boxes, list) or not isinstance(vectors, list):
        raise ParseError("a scene's boxes and vectors are lists")
    out: dict[str, Any] = {
        "kind": "points",
        "scene": str(doc.get("type") or ""),
        **_points(doc.get("points") or [], "points"),
    }
    out["boxes"] = [_box(b, n) for n, b in enumerate(boxes)]
    vs = []
    for n, v in enumerate(vectors):
        if not isinstance(v, dict):
            raise ParseError(f"vector {n}: expected an object with start and end")
        start = _triple(v.get("start", [0, 0, 0]), f"vector {n} start")
        end = _triple(v.get("end"), f"vector {n} end")
        vs.append({"start": start, "end": end, "color": _colour(v.get("color"))})
    out["vectors"] = vs
    return out


# Meshes ---------------------------------------------------------------------------------------------------------


def _mesh(
    xyz: list[list[float]], tris: list[tuple[int, int, int]], colors: list[str] | None
) -> dict[str, Any]:
    if not tris:
        raise ParseError("no faces")
    return {
        "kind": "mesh",
        "vertices": len(xyz),
        "triangles": len(tris),
        "x": [_f(p[0]) for p in xyz],
        "y": [_f(p[1]) for p in xyz],
        "z": [_f(p[2]) for p in xyz],
        "i": [t[0] for t in tris],
        "j": [t[1] for t in tris],
        "k": [t[2] for t in tris],
        "colors": colors,
    }


def _too_many(triangles: int) -> TooLarge:
    return TooLarge(f"{triangles:,} triangles: the dashboard draws meshes up to {MAX_TRIANGLES:,}")


def parse_obj(data: bytes) -> dict[str, Any]:
    """A Wavefront `.obj`: `v x y z [r g b]` vertices and `f` polygons (`a`, `a/t`, `a//n`, `a/t/n`, negative
    indices counting back), fanned into triangles. Materials, normals and texture coordinates are not drawn."""
    xyz: list[list[float]] = []
    rgb: list[list[float]] = []
    tris: list[tuple[int, int, int]] = []
    text = data.decode("utf-8", "replace")
    for ln, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            if len(parts) < 4:
                raise ParseError(f"line {ln}: a vertex needs x y z")
            if len(xyz) >= 3 * MAX_TRIANGLES:
                raise TooLarge(
                    f"more than {3 * MAX_TRIANGLES:,} vertices: the dashboard draws meshes up to that"
                )
            xyz.append([_num(p, f"line {ln}") for p in parts[1:4]])
            if len(parts) >= 7:
                rgb.append([_num(p, f"line {ln}") for p in parts[4:7]])
        elif parts[0] == "f":
            if len(parts) < 4:
                raise ParseError(f"line {ln}: a face needs 3 vertices")
            idx = []
            for p in parts[1:]:
                head = p.split("/", 1)[0]
                try:
                    i = int(head)
                except ValueError:
                    raise ParseError(f"line {ln}: {head[:20]!r} is not a vertex number") from None
                i = i - 1 if i > 0 else len(xyz) + i
                if not 0 <= i < len(xyz):
                    raise ParseError(f"line {ln}: vertex {head} is not defined before it")
                idx.append(i)
            for a, b in pairwise(idx[1:]):
                tris.append((idx[0], a, b))
            if len(tris) > MAX_TRIANGLES:
                raise _too_many(len(tris))
    colors = None
    if rgb and len(rgb) == len(xyz):
        scale = _scale_of(v for c in rgb for v in c)
        colors = [_rgb(c, scale) for c in rgb]
    return _mesh(xyz, tris, colors)


class _Vertices:
    """STL's triangles repeat their corners: each distinct corner is kept once."""

    def __init__(self) -> None:
        self.index: dict[tuple[float, float, float], int] = {}
        self.xyz: list[list[float]] = []

    def __call__(self, p: tuple[float, float, float]) -> int:
        i = self.index.get(p)
        if i is None:
            i = self.index[p] = len(self.xyz)
            self.xyz.append(list(p))
        return i


def parse_stl(data: bytes) -> dict[str, Any]:
    """An `.stl`, binary (an 80-byte header, a count, 50 bytes a triangle) or ASCII (`facet ... vertex x y z`)."""
    verts = _Vertices()
    tris: list[tuple[int, int, int]] = []
    if len(data) >= 84:
        (n,) = struct.unpack_from("<I", data, 80)
        if len(data) == 84 + 50 * n:  # binary (its header may well start with "solid", as ASCII does)
            if n > MAX_TRIANGLES:
                raise _too_many(n)
            for rec in struct.iter_unpack("<12fH", data[84:]):
                a, b, c = ((_f(rec[k]), _f(rec[k + 1]), _f(rec[k + 2])) for k in (3, 6, 9))
                if not all(math.isfinite(v) for p in (a, b, c) for v in p):
                    raise ParseError(f"triangle {len(tris)} has a coordinate that is not a finite number")
                tris.append((verts(a), verts(b), verts(c)))
            return _mesh(verts.xyz, tris, None)
    text = data.decode("ascii", "replace")
    if not text.lstrip().startswith("solid"):
        raise ParseError("neither a binary STL (its size does not match its triangle count) nor an ASCII one")
    corners: list[int] = []
    for ln, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if parts and parts[0] == "vertex":
            if len(parts) != 4:
                raise ParseError(f"line {ln}: a vertex needs x y z")
            x, y, z = (_f(_num(p, f"line {ln}")) for p in parts[1:4])
            corners.append(verts((x, y, z)))
        elif parts and parts[0] == "endloop":
            if len(corners) != 3:
                raise ParseError(f"line {ln}: a facet has {len(corners)} vertices, not 3")
            tris.append((corners[0], corners[1], corners[2]))
            corners = []
            if len(tris) > MAX_TRIANGLES:
                raise _too_many(len(tris))
    return _mesh(verts.xyz, tris, None)


# Molecules ------------------------------------------------------------------------------------------------------

# CPK colours (Jmol's) and covalent radii (Å, Cordero et al. 2008) of the elements molecules mostly hold.
_ELEMENTS: dict[str, tuple[str, float]] = {
    "H": ("#FFFFFF", 0.31),
    "He": ("#D9FFFF", 0.28),
    "Li": ("#CC80FF", 1.28),
    "Be": ("#C2FF00", 0.96),
    "B": ("#FFB5B5", 0.84),
    "C": ("#909090", 0.76),
    "N": ("#3050F8", 0.71),
    "O": ("#FF0D0D", 0.66),
    "F": ("#90E050", 0.57),
    "Ne": ("#B3E3F5", 0.58),
    "Na": ("#AB5CF2", 1.66),
    "Mg": ("#8AFF00", 1.41),
    "Al": ("#BFA6A6", 1.21),
    "Si": ("#F0C8A0", 1.11),
    "P": ("#FF8000", 1.07),
    "S": ("#FFFF30", 1.05),
    "Cl": ("#1FF01F", 1.02),
    "Ar": ("#80D1E3", 1.06),
    "K": ("#8F40D4", 2.03),
    "Ca": ("#3DFF00", 1.76),
    "Ti": ("#BFC2C7", 1.60),
    "V": ("#A6A6AB", 1.53),
    "Cr": ("#8A99C7", 1.39),
    "Mn": ("#9C7AC7", 1.39),
    "Fe": ("#E06633", 1.32),
    "Co": ("#F090A0", 1.26),
    "Ni": ("#50D050", 1.24),
    "Cu": ("#C88033", 1.32),
    "Zn": ("#7D80B0", 1.22),
    "Ga": ("#C28F8F", 1.22),
    "Ge": ("#668F8F", 1.20),
    "As": ("#BD80E3", 1.19),
    "Se": ("#FFA100", 1.20),
    "Br": ("#A62929", 1.20),
    "Kr": ("#5CB8D1", 1.16),
    "Rb": ("#702EB0", 2.20),
    "Sr": ("#00FF00", 1.95),
    "Ag": ("#C0C0C0", 1.45),
    "Cd": ("#FFD98F", 1.44),
    "Sn": ("#668080", 1.39),
    "I": ("#940094", 1.39),
    "Xe": ("#429EB0", 1.40),
    "Cs": ("#57178F", 2.44),
    "Ba": ("#00C900", 2.15),
    "Pt": ("#D0D0E0", 1.36),
    "Au": ("#FFD123", 1.36),
    "Hg": ("#B8B8D0", 1.32),
    "Pb": ("#575961", 1.46),
    "U": ("#008FFF", 1.96),
}
_UNKNOWN = ("#FF1493", 1.50)  # Jmol's colour for what it does not know
BOND_TOLERANCE = 0.45  # Å beyond the two covalent radii still drawn as a bond (as Open Babel and 3Dmol allow)


def element_style(symbol: str) -> tuple[str, float]:
    """An element's CPK colour and covalent radius (an unknown one: pink, 1.5 Å)."""
    return _ELEMENTS.get(symbol, _UNKNOWN)


def _element(symbol: str) -> str:
    s = re.sub(r"[^A-Za-z]", "", symbol)
    return s[:1].upper() + s[1:2].lower() if s else "X"


def _element_from_name(name: str) -> str:
    # PDB atom names put a two-letter element in columns 13-14 ("FE  ", "CL1 "), a one-letter one in column 14
    # (" CA " is an alpha carbon); four-letter hydrogen names start in column 13 too ("HG12").
    two = _element(name[:2])
    if name[:1].isalpha() and name[1:2].isalpha() and name[0] not in "Hh" and two in _ELEMENTS:
        return two
    letters = re.sub(r"[^A-Za-z]", "", name)
    return _element(letters[:1]) if letters else "X"


def _infer_bonds(xyz: list[list[float]], elements: list[str], among: Iterable[int]) -> set[tuple[int, int]]:
    """Bonds by distance among atoms `among`: a grid of cells as wide as the longest possible bond, each atom
    compared with the atoms of its own and neighbouring cells."""
    atoms = list(among)
    if not atoms:
        return set()
    radius = {i: element_style(elements[i])[1] for i in atoms}
    cell = 2 * max(radius.values()) + BOND_TOLERANCE
    grid: dict[tuple[int, int, int], list[int]] = {}
    for i in atoms:
        grid.setdefault(tuple(math.floor(c / cell) for c in xyz[i]), []).append(i)  # type: ignore[arg-type]
    bonds = set()
    for (cx, cy, cz), members in grid.items():
        near = [
            j
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            for dz in (-1, 0, 1)
            for j in grid.get((cx + dx, cy + dy, cz + dz), ())
        ]
        for i in members:
            for j in near:
                if j <= i:
                    continue
                d2 = sum((a - b) ** 2 for a, b in zip(xyz[i], xyz[j], strict=True))
                limit = radius[i] + radius[j] + BOND_TOLERANCE
                if 0.16 < d2 <= limit * limit:  # 0.4 Å: two atoms on one spot are not bonded
                    bonds.add((i, j))
    return bonds


def _molecule(
    fmt: str,
    elements: list[str],
    xyz: list[list[float]],
    names: list[str],
    bonds: set[tuple[int, int]],
    inferred: int,
    models: int = 1,
) -> dict[str, Any]:
    if not elements:
        raise ParseError("no atoms")
    palette = {
        e: {"color": element_style(e)[0], "radius": element_style(e)[1]} for e in sorted(set(elements))
    }
    return {
        "kind": "molecule",
        "format": fmt,
        "atoms": len(elements),
        "elements": elements,
        "names": names,
        "x": [p[0] for p in xyz],
        "y": [p[1] for p in xyz],
        "z": [p[2] for p in xyz],
        "bonds": sorted(bonds),
        "inferred_bonds": inferred,
        "palette": palette,
        "models": models,
    }


def _too_many_atoms(n: int) -> TooLarge:
    return TooLarge(f"more than {MAX_ATOMS:,} atoms: the dashboard draws molecules up to {MAX_ATOMS:,}")


def _pair(i: int, j: int) -> tuple[int, int]:
    return (i, j) if i < j else (j, i)


def parse_pdb(data: bytes, fmt: str = "pdb") -> dict[str, Any]:
    """A PDB (or PQR) file's first model: ATOM/HETATM records (the first alternate location of each atom), bonds
    from CONECT records, and bonds by distance among the atoms no CONECT record names (a protein's residues, when
    only its ligands have CONECT records; every atom when there are none)."""
    elements: list[str] = []
    xyz: list[list[float]] = []
    names: list[str] = []
    serials: dict[int, int] = {}
    conect: list[tuple[int, int]] = []
    models = 0
    done = False
    for ln, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        # PDB's record name is columns 1-6; PQR's fields are separated by spaces only.
        record = (line.split()[:1] or [""])[0].upper() if fmt == "pqr" else line[:6].strip().upper()
        if record == "MODEL":
            models += 1
        elif record == "ENDMDL":
            done = True  # further models are the same atoms elsewhere (NMR ensembles, trajectories)
        elif record in ("ATOM", "HETATM") and not done:
            if fmt == "pqr":  # PQR: whitespace-separated, x y z charge radius last
                parts = line.split()
                if len(parts) < 9:
                    raise ParseError(f"line {ln}: an atom record needs its serial, name and x y z")
                x, y, z = (_num(p, f"line {ln}") for p in parts[-5:-2])
                name, serial_text, symbol = parts[2], parts[1], parts[2][:1]  # its names are not in columns
            else:
                if line[16:17] not in (" ", "", "A", "1"):
                    continue  # another alternate location of an atom already read
                if len(line) < 54:
                    raise ParseError(
                        f"line {ln}: an atom record shorter than its coordinates (columns 31-54)"
                    )
                x, y, z = (_num(line[a:b], f"line {ln}") for a, b in ((30, 38), (38, 46), (46, 54)))
                name, serial_text, symbol = line[12:16], line[6:11], line[76:78].strip()
            element = _element(symbol) if symbol else _element_from_name(name)
            try:
                serials[int(serial_text)] = len(elements)
            except ValueError:
                pass  # hybrid-36 serials of very large files: those atoms cannot be named by CONECT
            elements.append(element)
            xyz.append([x, y, z])
            names.append(name.strip())
            if len(elements) > MAX_ATOMS:
                raise _too_many_atoms(len(elements))
        elif record == "CONECT":
            fields = [line[a:b] for a, b in ((6, 11), (11, 16), (16, 21), (21, 26), (26, 31))]
            try:
                nums = [int(f) for f in fields if f.strip()]
            except ValueError:
                nums = [int(t) for t in line[6:].split() if t.lstrip("-").isdigit()]
            conect.extend((nums[0], other) for other in nums[1:])
    bonds: set[tuple[int, int]] = set()
    named: set[int] = set()
    for a, b in conect:
        if a in serials and b in serials and serials[a] != serials[b]:
            bonds.add(_pair(serials[a], serials[b]))
            named.update((serials[a], serials[b]))
    inferred = _infer_bonds(xyz, elements, (i for i in range(len(elements)) if i not in named))
    bonds |= inferred
    return _molecule(fmt, elements, xyz, names, bonds, len(inferred), max(models, 1))


def parse_sdf(data: bytes, fmt: str = "sdf") -> dict[str, Any]:
    """An SDF/MOL file's first record: a V2000 connection table (counts line, atom block, bond block) or a V3000
    one (`M  V30 BEGIN ATOM` ... `M  V30 BEGIN BOND`)."""
    text = data.decode("utf-8", "replace")
    records = [r for r in re.split(r"^\$\$\$\$\s*$", text, flags=re.M) if r.strip()]
    if not records:
        raise ParseError("empty file")
    lines = records[0].splitlines()
    if len(lines) < 4:
        raise ParseError("a MOL record has 3 header lines and a counts line")
    counts = lines[3]
    elements: list[str] = []
    xyz: list[list[float]] = []
    bonds: set[tuple[int, int]] = set()
    if "V3000" in counts:
        section = None
        for ln, line in enumerate(lines[4:], 5):
            if not line.startswith("M  V30"):
                continue
            body = line[6:].split()
            if body[:2] == ["BEGIN", "ATOM"] or body[:2] == ["BEGIN", "BOND"]:
                section = body[1]
            elif body[:1] == ["END"]:
                section = None
            elif section == "ATOM":
                if len(body) < 5:
                    raise ParseError(f"line {ln}: an atom needs its index, type and x y z")
                elements.append(_element(body[1]))
                xyz.append([_num(t, f"line {ln}") for t in body[2:5]])
                if len(elements) > MAX_ATOMS:
                    raise _too_many_atoms(len(elements))
            elif section == "BOND":
                if len(body) < 4:
                    raise ParseError(f"line {ln}: a bond needs its index, type and two atoms")
                a, b = _ints(body[2:4], ln)
                bonds.add(_pair(_atom(a, len(elements), ln), _atom(b, len(elements), ln)))
    else:
        try:
            n_atoms, n_bonds = int(counts[0:3]), int(counts[3:6])
        except ValueError:
            raise ParseError(f"line 4: {counts[:12]!r} is not a counts line (atoms, bonds)") from None
        if n_atoms > MAX_ATOMS:
            raise _too_many_atoms(n_atoms)
        if len(lines) < 4 + n_atoms + n_bonds:
            raise ParseError(
                f"the counts line promises {n_atoms} atoms and {n_bonds} bonds; the file is shorter"
            )
        for ln, line in enumerate(lines[4 : 4 + n_atoms], 5):
            xyz.append([_num(line[a:b], f"line {ln}") for a, b in ((0, 10), (10, 20), (20, 30))])
            elements.append(_element(line[31:34]))
        for ln, line in enumerate(lines[4 + n_atoms : 4 + n_atoms + n_bonds], 5 + n_atoms):
            a, b = _ints([line[0:3], line[3:6]], ln)
            bonds.add(_pair(_atom(a, n_atoms, ln), _atom(b, n_atoms, ln)))
    return _molecule(fmt, elements, xyz, [], bonds, 0, len(records))


def _ints(texts: Sequence[str], ln: int) -> tuple[int, int]:
    try:
        return int(texts[0]), int(texts[1])
    except ValueError:
        raise ParseError(f"line {ln}: a bond's atoms are numbers") from None


def _atom(n: int, count: int, ln: int) -> int:
    if not 1 <= n <= count:
        raise ParseError(f"line {ln}: atom {n} is not among the {count} atoms")
    return n - 1


def parse_mol2(data: bytes) -> dict[str, Any]:
    """A Tripos Mol2 file's first molecule: `@<TRIPOS>ATOM` (id name x y z type ...) and `@<TRIPOS>BOND`."""
    elements: list[str] = []
    xyz: list[list[float]] = []
    names: list[str] = []
    ids: dict[str, int] = {}
    raw: list[tuple[str, str, int]] = []
    section = None
    molecules = 0
    for ln, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if line.startswith("@<TRIPOS>"):
            section = line[9:].strip().upper()
            if section == "MOLECULE":
                molecules += 1
            continue
        parts = line.split()
        if not parts or molecules > 1:
            continue
        if section == "ATOM":
            if len(parts) < 6:
                raise ParseError(f"line {ln}: an atom needs its id, name, x y z and type")
            ids[parts[0]] = len(elements)
            xyz.append([_num(p, f"line {ln}") for p in parts[2:5]])
            elements.append(_element(parts[5].split(".")[0]))
            names.append(parts[1])
            if len(elements) > MAX_ATOMS:
                raise _too_many_atoms(len(elements))
        elif section == "BOND":
            if len(parts) < 3:
                raise ParseError(f"line {ln}: a bond needs its id and two atoms")
            raw.append((parts[1], parts[2], ln))
    bonds = set()
    for a, b, ln in raw:
        if a not in ids or b not in ids:
            raise ParseError(f"line {ln}: a bond names an atom that is not in the ATOM section")
        bonds.add(_pair(ids[a], ids[b]))
    return _molecule("mol2", elements, xyz, names, bonds, 0, max(molecules, 1))
