"""`Object3D` (W&B's `wandb.Object3D`): point clouds stored as `.pts.json`, 3D model files copied."""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ._base import BatchableMedia, _describe, _StoredFile, _torch_to_numpy

_POINTS_SHAPE = (
    "The shape of the numpy array must be one of either [[x y z], ...] nx3, [[x y z c], ...] nx4 where c is a "
    "category with supported range [1, 14], or [[x y z r g b], ...] nx6 where rgb is color"
)


def _extension(path: str) -> str | None:
    for ext in sorted(Object3D.SUPPORTED_TYPES, key=len, reverse=True):  # "pts.json" before "json"-like tails
        if path.lower().endswith("." + ext):
            return ext
    return None


def _tolist(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value


class Object3D(BatchableMedia):
    """A 3D object (W&B's `wandb.Object3D`): a numpy point cloud (N x 3 xyz, N x 4 xyz + category, N x 6 xyz +
    rgb) written as `.pts.json`; a `lidar/beta` scene dict (points, boxes, vectors); or a file (`.obj`, `.gltf`,
    `.glb`, `.babylon`, `.stl`, `.pts.json`, or an io object with `file_type=`) copied as it is."""

    SUPPORTED_TYPES = frozenset({"obj", "gltf", "glb", "babylon", "stl", "pts.json"})
    SUPPORTED_POINT_CLOUD_TYPES = frozenset({"lidar/beta"})
    _log_type = "object3D-file"
    _file: _StoredFile

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self._caption = caption
        file_type = kwargs.pop("file_type", None)
        if kwargs:
            raise TypeError(f"runhive.Object3D got unexpected keyword arguments {sorted(kwargs)}.")
        if hasattr(data_or_path, "name") and isinstance(getattr(data_or_path, "name", None), str):
            if os.path.isfile(data_or_path.name):  # an open file: W&B takes its path
                data_or_path = data_or_path.name
        if hasattr(data_or_path, "read"):
            if file_type is None:
                raise ValueError("Must pass file type keyword argument when using io objects.")
            if file_type not in self.SUPPORTED_TYPES:
                kinds = ", ".join(sorted(self.SUPPORTED_TYPES))
                raise ValueError(f"Object 3D only supports numpy arrays or files of the type: {kinds}")
            if hasattr(data_or_path, "seek"):
                data_or_path.seek(0)
            content = data_or_path.read()
            data = content if isinstance(content, bytes) else str(content).encode("utf-8")
            self._file = _StoredFile.from_bytes(data, "object3D", file_type)
        elif isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            ext = _extension(path)
            if ext is None:
                raise ValueError(
                    f"File '{path}' is not compatible with Object3D: supported types are: "
                    f"{', '.join(sorted(self.SUPPORTED_TYPES))}"
                )
            if not os.path.isfile(path):
                raise ValueError(f"runhive.Object3D: data_or_path={path!r} does not exist.")
            self._file = _StoredFile.from_path(path, "object3D", ext)
        elif isinstance(data_or_path, dict) and "type" in data_or_path:
            if data_or_path["type"] not in self.SUPPORTED_POINT_CLOUD_TYPES:
                raise ValueError("Type not supported, only 'lidar/beta' is currently supported")
            scene = {
                "type": data_or_path["type"],
                "vectors": _tolist(data_or_path.get("vectors", [])),
                "points": _tolist(data_or_path.get("points", [])),
                "boxes": _tolist(data_or_path.get("boxes", [])),
            }
            self._write_points(scene)
        else:
            np = sys.modules.get("numpy")
            arr = _torch_to_numpy(data_or_path)
            if arr is None and np is not None and isinstance(data_or_path, np.ndarray):
                arr = data_or_path
            if arr is None:
                raise ValueError(
                    "runhive.Object3D: data must be a numpy array, dict or a file object; got "
                    f"{_describe(data_or_path)}."
                )
            if arr.ndim != 2 or arr.shape[1] not in (3, 4, 6):
                raise ValueError(f"{_POINTS_SHAPE}; got a {_describe(arr)}.")
            self._write_points(arr.tolist())

    def _write_points(self, payload: Any) -> None:
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)  # as W&B writes it
        self._file = _StoredFile.from_bytes(text.encode("utf-8"), "object3D", "pts.json")

    @classmethod
    def from_file(cls, data_or_path: Any, file_type: str | None = None) -> Object3D:
        return cls(data_or_path, file_type=file_type)

    @classmethod
    def from_numpy(cls, data: Any) -> Object3D:
        np = sys.modules.get("numpy")
        if np is None or not isinstance(data, np.ndarray):
            raise ValueError("`data` must be a numpy array")
        return cls(data)

    @classmethod
    def from_point_cloud(
        cls,
        points: Sequence[Any],
        boxes: Sequence[Any],
        vectors: Sequence[Any] | None = None,
        point_cloud_type: str = "lidar/beta",
    ) -> Object3D:
        if point_cloud_type not in cls.SUPPORTED_POINT_CLOUD_TYPES:
            raise ValueError("Point cloud type not supported")
        return cls(
            {
                "type": point_cloud_type,
                "points": points,
                "boxes": boxes,
                "vectors": vectors if vectors else [],
            }
        )

    @property
    def path(self) -> str:
        return self._file.path

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._caption is not None:
            out["caption"] = self._caption
        out.update({"_type": self._log_type, **self._file.json()})
        return out

    def __repr__(self) -> str:
        return f"<runhive Object3D {self._file.path}>"


def box3d(
    *,
    center: Any,
    size: Any,
    orientation: Any,
    color: Any,
    label: str | None = None,
    score: float | None = None,
) -> dict[str, Any]:
    """A 3D box for `Object3D.from_point_cloud` (W&B's `wandb.box3d`): its eight corners from `center`, `size`
    (x, y, z) and `orientation`, a quaternion (r, x, y, z). Needs numpy."""
    import numpy as np

    c = np.asarray(center, dtype=np.float64)
    s = np.asarray(size, dtype=np.float64)
    q = np.abs(np.asarray(orientation, dtype=np.float64))
    if c.shape != (3,) or s.shape != (3,) or q.shape != (4,):
        raise ValueError("box3d: center and size need 3 values, orientation 4 (a quaternion r, x, y, z).")
    if q.max() == 0:
        raise ValueError("Unexpected zero quaternion.")
    q = q / q.max()
    qr, qi, qj, qk = q / np.linalg.norm(q)
    rot = np.array(
        (
            (1 - 2 * (qj * qj + qk * qk), 2 * (qi * qj + qk * qr), 2 * (qi * qk - qj * qr)),
            (2 * (qi * qj - qk * qr), 1 - 2 * (qi * qi + qk * qk), 2 * (qj * qk + qi * qr)),
            (2 * (qi * qk + qj * qr), 2 * (qj * qk - qi * qr), 1 - 2 * (qi * qi + qj * qj)),
        )
    )
    unit = np.array(list(itertools.product((-1, 1), (-1, 1), (-1, 1))), dtype=np.float64)
    corners = c + (0.5 * s * unit) @ rot
    return {"corners": [list(map(float, p)) for p in corners], "color": color, "label": label, "score": score}
