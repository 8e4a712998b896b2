"""A run's media and objects for the dashboard's run page (issue 15, item 6): what each media key holds at each
step, the `wandb.plot.*` charts logged (their panel in config `_wandb.visualize`, their table in the summary), and
pages of a logged table.

History values are W&B's references: `{"_type": "image-file", "path": ..., "caption": ...}`, lists of them, W&B's
`images/separated`, `histogram` (`bins`/`values`, or `packedBins`), `audio-file`, `html-file`, `video-file`,
`table-file`, `plotly-file`, `object3D-file` and `molecule-file` (W&B's batched `object3D` and `molecule` too), and
others shown as a file to download. Every file is named by its path inside the run's files (`_files.media_name`),
which the file route serves.

3D objects and molecules are drawn by the page from `structure`'s answer (`/api/run/structure?name=`): the file
read through the reader (never by a path from the request), parsed by `_structures` into points, boxes, vectors,
a mesh or atoms and bonds. A file too large to draw, or of a format drawn only by a 3D engine (glTF, Babylon,
mmCIF, ...), answers `{"kind": "download", "note": ...}`; one that does not parse answers 422 with the reason.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import _structures
from ._common import HEAVY, Refusal, _encoded, _json, _mapping
from ._files import find_file, local_path, media_name, relative_refs

__all__ = ["PROJECT_RUNS", "latest_media", "media_index", "structure", "table_page"]

PROJECT_RUNS = 20  # runs a project's media panels show (the first charted ones)
MAX_STEPS = 256  # steps kept per media key (evenly spread); a slider over more is of no use
TABLE_ROWS = 10_000  # rows a table request may ask for at once (a chart takes its whole table)
TABLE_BYTES = 64 * 1024 * 1024  # tables larger than this are not read by the dashboard
STRUCTURE_BYTES = 32 * 1024 * 1024  # 3D files and molecules larger than this are offered as a download
# A point cloud's JSON is parsed whole: some 300 MB of Python objects at this size.
POINTS_BYTES = 16 * 1024 * 1024

_CATEGORY = {
    "image-file": "image",
    "images/separated": "image",
    "images": "image",
    "histogram": "histogram",
    "audio-file": "audio",
    "audio": "audio",
    "html-file": "html",
    "html": "html",
    "video-file": "video",
    "videos": "video",
    "table-file": "table",
    "partitioned-table": "table",
    "joined-table": "table",
    "plotly-file": "plotly",
    "object3D-file": "object3d",
    "object3D": "object3d",
    "molecule-file": "molecule",
    "molecule": "molecule",
}


def _type_of(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("_type"), str):
        return str(value["_type"])
    if isinstance(value, list) and value and all(isinstance(v, dict) and "_type" in v for v in value):
        kinds = {str(v["_type"]) for v in value}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _item(run: Any, ref: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": media_name(run, ref.get("path")), "caption": _text(ref.get("caption"))}
    for k in ("width", "height", "format", "fps", "nrows", "ncols", "_type"):
        if isinstance(ref.get(k), (int, float, str)):
            out[k.lstrip("_")] = ref[k]
    return out


def _separated(run: Any, value: dict[str, Any], names: str, entries: str) -> list[dict[str, Any]]:
    """W&B's batched forms (`images/separated`, `audio`, `videos`): lists of file names or refs, and captions."""
    captions: list[Any] = value["captions"] if isinstance(value.get("captions"), list) else []
    if isinstance(value.get(entries), list):
        items = [_item(run, v) for v in value[entries] if isinstance(v, dict)]
    else:
        files: list[Any] = value[names] if isinstance(value.get(names), list) else []
        items = [
            _item(run, {"path": f, "width": value.get("width"), "height": value.get("height")}) for f in files
        ]
    for item, cap in zip(items, captions, strict=False):
        item["caption"] = item["caption"] or _text(cap)
    return items


def _histogram(value: dict[str, Any]) -> dict[str, Any] | None:
    values = value.get("values")
    bins = value.get("bins")
    packed = _mapping(value.get("packedBins"))
    if packed and isinstance(packed.get("count"), int):
        lo, size = float(packed.get("min") or 0.0), float(packed.get("size") or 0.0)
        bins = [lo + i * size for i in range(packed["count"] + 1)]
    if not isinstance(values, list) or not isinstance(bins, list) or len(bins) < 2:
        return None
    return {"bins": bins, "values": values}


def _entry(run: Any, kind: str, value: Any) -> Any:
    """One step's value of a media key as the page draws it."""
    cat = _CATEGORY.get(kind, "file")
    if cat == "histogram":
        return _histogram(value) if isinstance(value, dict) else None
    if isinstance(value, list):
        return [_item(run, v) for v in value]
    if kind == "images/separated":
        return _separated(run, value, "filenames", "images")
    if kind in ("audio", "videos"):
        return _separated(run, value, "filenames", kind)
    if kind == "object3D":  # W&B's batch: file names inside media/object3D, and each object's reference
        return _separated(run, value, "filenames", "objects")
    if kind == "molecule":
        return _separated(run, value, "filenames", "molecules")
    item = _item(run, value)
    if cat == "table" and isinstance(value.get("chart"), dict):
        item["chart"] = _chart_of(value["chart"])
    return [item]


class _Series:
    """One media key's values at evenly spread steps: every other one is dropped when MAX_STEPS are exceeded."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.stride = 1
        self.seen = 0
        self.steps: list[Any] = []
        self.values: list[Any] = []

    def add(self, run: Any, step: Any, value: Any) -> None:
        keep = self.seen % self.stride == 0
        self.seen += 1
        if not keep:
            return
        self.steps.append(step)
        self.values.append(_entry(run, self.kind, value))
        if len(self.steps) > MAX_STEPS:
            self.steps, self.values = self.steps[::2], self.values[::2]
            self.stride *= 2


def _chart_of(panel: dict[str, Any]) -> dict[str, Any]:
    """A `wandb.plot.*` panel: its spec id, which columns fill its fields, its strings, and its table's key."""
    cfg = _mapping(panel.get("panel_config")) or panel
    table_key = None
    for query in _mapping(cfg.get("userQuery")).get("queryFields") or []:
        for field in _mapping(query).get("fields") or []:
            for arg in _mapping(field).get("args") or []:
                if _mapping(arg).get("name") == "tableKey":
                    table_key = _mapping(arg).get("value")
    return {
        "spec": _text(cfg.get("panelDefId")),
        "fields": {str(k): v for k, v in _mapping(cfg.get("fieldSettings")).items()},
        "strings": {str(k): _text(v) for k, v in _mapping(cfg.get("stringSettings")).items()},
        "table_key": _text(table_key),
    }


def _charts(run: Any, summary: dict[str, Any]) -> list[dict[str, Any]]:
    wb = _mapping(_mapping(run.config).get("_wandb"))
    wb = _mapping(wb.get("value")) or wb  # W&B's API wraps config values as {"value": ...}
    out = []
    for key, panel in sorted(_mapping(wb.get("visualize")).items()):
        chart = {"key": str(key), **_chart_of(_mapping(panel))}
        table_key = chart["table_key"] or f"{key}_table"
        ref = summary.get(table_key)
        chart["table"] = media_name(run, ref.get("path")) if isinstance(ref, dict) else None
        out.append(chart)
    return out


def media_index(run: Any) -> dict[str, Any]:
    """Every media key of the run with its values at (up to MAX_STEPS) steps, and its `wandb.plot.*` charts."""
    summary = dict(run.summary)
    keys = {k: t for k, v in summary.items() if (t := _type_of(v)) is not None and not k.startswith("_")}
    series: dict[str, _Series] = {}
    if keys:
        for row in run.scan_history():
            step = row.get("_step")
            for key in keys.keys() & row.keys():
                kind = _type_of(row[key])
                if kind is None:
                    continue
                s = series.get(key)
                if s is None:
                    s = series[key] = _Series(kind)
                s.add(run, step, row[key])
        for key, kind in keys.items():  # media only in the summary (run.summary["x"] = wandb.Image(...))
            if key not in series:
                series[key] = _Series(kind)
                series[key].add(run, None, summary[key])
    media = [
        {
            "key": key,
            "type": s.kind,
            "category": _CATEGORY.get(s.kind, "file"),
            "steps": s.steps,
            "values": s.values,
        }
        for key, s in sorted(series.items())
    ]
    return {"media": media, "charts": _charts(run, summary)}


def latest_media(runs: list[Any]) -> list[dict[str, Any]]:
    """The project page's media panels: per run, each media key's last value (its summary, no history read) and
    its `wandb.plot.*` charts."""
    out = []
    for run in runs:
        summary = dict(run.summary)
        media = [
            {"key": k, "type": t, "category": _CATEGORY.get(t, "file"), "value": _entry(run, t, summary[k])}
            for k in sorted(summary)
            if not k.startswith("_") and (t := _type_of(summary[k])) is not None
        ]
        out.append(
            {
                "id": run.id,
                "entity": run.entity,
                "project": run.project,
                "name": run.name,
                "media": media,
                "charts": _charts(run, summary),
            }
        )
    return out


def _read_bytes(file: Any) -> bytes:
    """A run's file read through the reader: from this machine when it keeps it here, else downloaded to a
    temporary directory (a team server), removed after."""
    path = local_path(file)
    if path is not None:
        return path.read_bytes()
    import tempfile
    from pathlib import Path, PurePosixPath

    with tempfile.TemporaryDirectory(prefix="runhive-ui-") as tmp:
        file.download(root=tmp, replace=True).close()
        return Path(tmp, *PurePosixPath(file.name).parts).read_bytes()


def _read_table(run: Any, name: str) -> dict[str, Any]:
    file = find_file(run, name)
    if file.size > TABLE_BYTES:
        raise Refusal(
            400, f"table {name!r} is {file.size} bytes: the dashboard reads tables up to {TABLE_BYTES}"
        )
    text = _read_bytes(file).decode("utf-8")
    try:
        doc = json.loads(text)
    except ValueError:
        raise Refusal(400, f"file {name!r} is not a table (not JSON)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise Refusal(400, f"file {name!r} is not a table (no data rows)")
    return doc


def table_page(run: Any, request: Request) -> Response:
    """Rows ?offset= to ?offset=+?limit= of the run's table file ?name=, media cells with their file names."""
    name = request.query_params.get("name", "")
    try:
        offset = int(request.query_params.get("offset", "0"))
        limit = int(request.query_params.get("limit", "50"))
    except ValueError:
        raise Refusal(400, "offset and limit: pass whole numbers") from None
    if offset < 0 or not 1 <= limit <= TABLE_ROWS:
        raise Refusal(400, f"offset >= 0 and 1 <= limit <= {TABLE_ROWS}, got offset={offset}, limit={limit}")
    doc = _read_table(run, name)
    rows = doc["data"]
    columns: list[Any] = doc["columns"] if isinstance(doc.get("columns"), list) else []
    page = [relative_refs(r, run) for r in rows[offset : offset + limit]]
    return _json({"columns": [str(c) for c in columns], "rows": page, "total": len(rows), "offset": offset})


# Formats the page cannot draw without a 3D engine or a parser the dashboard has not: offered as a download.
_ENGINE_ONLY = {
    "gltf": "glTF scenes are drawn by a 3D engine, which the dashboard has none of offline",
    "glb": "glTF scenes are drawn by a 3D engine, which the dashboard has none of offline",
    "babylon": "Babylon.js scenes are drawn by a 3D engine, which the dashboard has none of offline",
    "cif": "mmCIF molecules are not drawn by the dashboard yet",
    "mmcif": "mmCIF molecules are not drawn by the dashboard yet",
    "mcif": "mmCIF molecules are not drawn by the dashboard yet",
    "gro": "GROMACS .gro molecules are not drawn by the dashboard yet",
    "mmtf": "MMTF molecules (binary) are not drawn by the dashboard yet",
}
_PARSERS = {
    "pts.json": _structures.parse_points,
    "obj": _structures.parse_obj,
    "stl": _structures.parse_stl,
    "pdb": _structures.parse_pdb,
    "pqr": lambda data: _structures.parse_pdb(data, "pqr"),
    "ent": _structures.parse_pdb,
    "sdf": _structures.parse_sdf,
    "sd": _structures.parse_sdf,
    "mol": lambda data: _structures.parse_sdf(data, "mol"),
    "mol2": _structures.parse_mol2,
}


def _format_of(name: str) -> str:
    lower = name.lower()
    return "pts.json" if lower.endswith(".pts.json") else lower.rsplit(".", 1)[-1] if "." in lower else ""


def structure(run: Any, request: Request) -> Response:
    """The 3D object or molecule in the run's file ?name=, parsed for plotly (see the module's docstring)."""
    name = request.query_params.get("name", "")
    file = find_file(run, name)
    fmt = _format_of(file.name)
    parse = _PARSERS.get(fmt)
    if parse is None:
        note = _ENGINE_ONLY.get(fmt, f"files of type {fmt or '(none)'!r} are not drawn by the dashboard")
        return _json({"kind": "download", "format": fmt, "note": note})
    cap = POINTS_BYTES if fmt == "pts.json" else STRUCTURE_BYTES
    if file.size is not None and file.size > cap:
        note = f"{file.size:,} bytes: the dashboard draws these files up to {cap:,} bytes"
        return _json({"kind": "download", "format": fmt, "note": note})
    # Parsing a large file is a heavy read, one of two at a time.
    with HEAVY:
        data = _read_bytes(file)
        try:
            # The parsers give finite numbers only (allow_nan=False would refuse anything else).
            body = json.dumps({**parse(data), "format": fmt}, allow_nan=False).encode()
        except _structures.TooLarge as exc:
            return _json({"kind": "download", "format": fmt, "note": str(exc)})
        except _structures.ParseError as exc:
            raise Refusal(422, f"could not read {fmt} file {file.name!r}: {exc}") from None
        except Exception as exc:  # a parser's gap on hostile input is the file's problem, never a 500
            raise Refusal(422, f"could not read {fmt} file {file.name!r} ({type(exc).__name__})") from None
        del data
        # Compressed here, in the thread pool, not by the GZip middleware on the event loop.
        return _encoded(body, request)
