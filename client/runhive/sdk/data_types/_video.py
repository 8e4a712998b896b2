"""`Video` (W&B's `wandb.Video`): arrays stored as `.npy` (no encoder dependency), video files copied as they are."""

from __future__ import annotations

import io
import os
import sys
from typing import Any

from ._base import BatchableMedia, _describe, _StoredFile, _torch_to_numpy, _warn_once
from ._png import _image_header

# Video ---------------------------------------------------------------------------------------------------------


class Video(BatchableMedia):
    """A video logged as a file (W&B's `wandb.Video`). Arrays (T x C x H x W, or W&B's N x T x C x H x W) are
    stored as `.npy` (no encoder dependency); video files are copied as they are."""

    _log_type = "video-file"
    EXTS = ("gif", "mp4", "webm", "ogg")
    _file: _StoredFile
    format: str

    def __init__(
        self,
        data_or_path: Any,
        caption: str | None = None,
        fps: int | None = 4,
        format: str | None = None,
    ) -> None:
        self._caption = caption
        self._fps = 4 if fps is None else fps
        self._width: int | None = None
        self._height: int | None = None
        if format is not None and str(format).lower() not in (*self.EXTS, "npy"):
            raise ValueError(f"runhive.Video: format must be one of {[*self.EXTS, 'npy']}, got {format!r}.")
        if isinstance(data_or_path, (str, os.PathLike)):
            self._init_from_path(os.fspath(data_or_path))
        else:
            self._init_from_data(data_or_path, format)

    @property
    def path(self) -> str:
        return self._file.path

    def _init_from_path(self, path: str) -> None:
        if not os.path.isfile(path):
            what = "is a directory" if os.path.isdir(path) else "does not exist"
            raise ValueError(
                f"runhive.Video: data_or_path={path!r} {what}; pass the path of a video file "
                f"({', '.join(self.EXTS)}) or the frames as a numpy array."
            )
        ext = os.path.splitext(path)[1][1:].lower()
        if ext not in (*self.EXTS, "npy"):
            raise ValueError(
                f"runhive.Video accepts {', '.join(self.EXTS)} files (or .npy arrays); got {path!r}."
            )
        if ext == "gif":
            with open(path, "rb") as f:
                found = _image_header(f.read(32))
            if found is not None:
                self._width, self._height = found[1], found[2]
        self.format = ext
        self._file = _StoredFile.from_path(path, "videos", ext)

    def _init_from_data(self, data: Any, format: str | None) -> None:
        np = sys.modules.get("numpy")
        arr = _torch_to_numpy(data)
        if arr is None and np is not None:
            if isinstance(data, np.ndarray):
                arr = data
            elif hasattr(data, "numpy") and callable(data.numpy):
                arr = np.asarray(data.numpy())
        if arr is None or np is None:
            raise TypeError(
                f"runhive.Video: data_or_path must be a numpy array (T x C x H x W or N x T x C x H x W), a torch "
                f"tensor or the path of a video file; got {_describe(data)}."
            )
        if arr.ndim not in (4, 5):
            raise ValueError(
                f"runhive.Video: data_or_path must have 4 dimensions (time, channels, height, width) or 5 (batch, "
                f"time, channels, height, width); got a {_describe(arr)}."
            )
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"runhive.Video: data_or_path must hold numbers, got an array of dtype {arr.dtype}."
            )
        if arr.dtype != np.uint8:
            _warn_once("video-uint8", "Converting video data to uint8")
            if arr.dtype.kind == "f":
                arr = np.nan_to_num(arr, nan=0.0)
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        if format is not None and str(format).lower() != "npy":
            _warn_once("video-format", f"runhive.Video stores arrays as .npy; format={format!r} is ignored.")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        self.format = "npy"
        self._height, self._width = int(arr.shape[-2]), int(arr.shape[-1])
        self._file = _StoredFile.from_bytes(buf.getvalue(), "videos", "npy")

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {"_type": self._log_type, **self._file.json(), "format": self.format}
        if self._width is not None:
            out["width"] = self._width
        if self._height is not None:
            out["height"] = self._height
        if self.format == "npy":
            out["fps"] = self._fps
        if self._caption is not None:
            out["caption"] = self._caption
        return out

    def __repr__(self) -> str:
        return f"<runhive Video {self.format} {self._file.path}>"
