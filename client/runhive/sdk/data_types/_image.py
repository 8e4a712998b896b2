"""`Image` (W&B's `wandb.Image`): arrays, tensors, PIL images, matplotlib figures and image files, stored as PNG."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from typing import Any

from ._base import BatchableMedia, _describe, _StoredFile, _torch_to_numpy, _warn_once
from ._png import _image_header, encode_png, image_file_size

_MODES = {"L": 1, "RGB": 3, "RGBA": 4}
_IMAGE_FILE_TYPES = ("png", "jpg", "jpeg", "bmp")  # W&B's accepted `file_type`s; runhive always writes PNG


def _rescale_to_uint8(np: Any, arr: Any) -> Any:
    """W&B's rule: data within [0, 1] is multiplied by 255, data within [-1, 1] maps -1..1 to 0..255,
    anything else is clipped to [0, 255]; then truncated to uint8."""
    if arr.size == 0:
        return arr.astype(np.uint8)
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi > 255:
        _warn_once(
            "range",
            "Data passed to `runhive.Image` should consist of values in the range [0, 255]; image data will "
            "be normalized to this range.",
        )
    if 0 <= lo and hi <= 1:
        arr = arr * 255
    elif -1 <= lo and hi <= 1:
        arr = 255 * 0.5 * (arr + 1)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _image_array(np: Any, arr: Any, mode: str | None, normalize: bool, channels_first: bool) -> Any:
    """An H x W x C uint8 array (C of 1, 3 or 4) from what W&B accepts: H x W, H x W x C, C x H x W."""
    original = arr
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"runhive.Image: data_or_path must hold numbers, got an array of dtype {arr.dtype}; convert it "
            "with .astype(numpy.uint8) or .astype(numpy.float32)."
        )
    while arr.ndim > 3 and arr.shape[0] == 1:  # a batch of one, as W&B's squeeze allows
        arr = arr[0]
    if arr.ndim == 3:
        first, last = arr.shape[0], arr.shape[-1]
        if channels_first and first in (1, 3, 4):
            arr = arr.transpose(1, 2, 0)
        elif last in (1, 3, 4):
            pass
        elif first in (1, 3, 4):
            arr = arr.transpose(1, 2, 0)
        else:
            raise ValueError(
                f"runhive.Image: cannot tell the channels of data_or_path, a {_describe(original)}; pass "
                "H x W (grey), H x W x 3 (RGB), H x W x 4 (RGBA) or channel-first 3 x H x W."
            )
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"runhive.Image: data_or_path must be one image of 2 or 3 dimensions, got a {_describe(original)}; "
            "pass H x W, H x W x C or C x H x W (log a list of runhive.Image for a batch)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"runhive.Image: data_or_path is empty, a {_describe(original)}.")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
    if normalize:
        arr = _rescale_to_uint8(np, arr)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    channels = arr.shape[-1]
    if mode is not None:
        if mode not in _MODES:
            raise ValueError(
                f"runhive.Image: mode={mode!r} is not supported; use 'L', 'RGB' or 'RGBA' (or leave it None)."
            )
        if _MODES[mode] != channels:
            raise ValueError(
                f"runhive.Image: mode={mode!r} needs {_MODES[mode]} channel(s) but data_or_path, a "
                f"{_describe(original)}, has {channels}."
            )
    return np.ascontiguousarray(arr)


# Image ---------------------------------------------------------------------------------------------------------


class Image(BatchableMedia):
    """An image logged as a PNG file (W&B's `wandb.Image`)."""

    _log_type = "image-file"
    MAX_ITEMS = 108
    _file: _StoredFile
    format: str
    _width: int | None
    _height: int | None

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Any = None,
        boxes: Mapping[str, Any] | None = None,
        masks: Mapping[str, Any] | None = None,
        file_type: str | None = None,
        normalize: bool = True,
    ) -> None:
        self._caption = caption
        self._grouping = grouping
        self._classes: list[dict[str, Any]] | None = None
        self._boxes: dict[str, Any] | None = None
        self._masks: dict[str, tuple[_StoredFile, dict[str, Any]]] | None = None
        if file_type is not None and str(file_type).lower() not in _IMAGE_FILE_TYPES:
            raise ValueError(
                f"runhive.Image: file_type must be one of {list(_IMAGE_FILE_TYPES)}, got {file_type!r}."
            )
        if file_type is not None and str(file_type).lower() != "png":
            _warn_once(
                "file_type", f"runhive.Image stores images as PNG; file_type={file_type!r} is ignored."
            )

        if isinstance(data_or_path, Image):
            self._file = data_or_path._file
            self.format = data_or_path.format
            self._width, self._height = data_or_path._width, data_or_path._height
            if caption is None:
                self._caption = data_or_path._caption
            if grouping is None:
                self._grouping = data_or_path._grouping
            self._classes = data_or_path._classes
        elif isinstance(data_or_path, (str, os.PathLike)):
            self._init_from_path(os.fspath(data_or_path))
        else:
            self._init_from_data(data_or_path, mode, normalize)
        self._set_annotations(classes, boxes, masks)

    @property
    def path(self) -> str:
        return self._file.path

    @property
    def width(self) -> int | None:
        return self._width

    @property
    def height(self) -> int | None:
        return self._height

    @property
    def caption(self) -> str | None:
        return self._caption

    def _init_from_path(self, path: str) -> None:
        if not os.path.isfile(path):
            what = "is a directory" if os.path.isdir(path) else "does not exist"
            raise ValueError(
                f"runhive.Image: data_or_path={path!r} {what}; pass the path of an image file (PNG, JPEG, GIF, "
                "BMP, WebP) or the pixels as an array."
            )
        found = image_file_size(path)
        if found is None:
            raise ValueError(
                f"runhive.Image: data_or_path={path!r} is not an image file runhive can read; use PNG, JPEG, "
                "GIF, BMP or WebP (or install Pillow for other formats)."
            )
        detected, self._width, self._height = found
        ext = os.path.splitext(path)[1][1:].lower() or detected
        self.format = ext
        self._file = _StoredFile.from_path(path, "images", ext)

    def _init_from_data(self, data: Any, mode: str | None, normalize: bool) -> None:
        self.format = "png"
        png = self._png_from_figure(data)
        if png is not None:
            found = _image_header(png[:32])
            self._width, self._height = (found[1], found[2]) if found else (None, None)
            self._file = _StoredFile.from_bytes(png, "images", "png")
            return
        pil = sys.modules.get("PIL.Image")
        if pil is not None and isinstance(data, pil.Image):
            if data.mode not in _MODES:
                has_alpha = "A" in data.mode or "transparency" in data.info
                target = "RGBA" if has_alpha else ("L" if data.mode in ("1", "I", "I;16", "F") else "RGB")
                data = data.convert(target)
            if mode is not None and mode != data.mode:
                if mode not in _MODES:
                    raise ValueError(
                        f"runhive.Image: mode={mode!r} is not supported; use 'L', 'RGB' or 'RGBA'."
                    )
                data = data.convert(mode)
            self._width, self._height = int(data.size[0]), int(data.size[1])
            png = encode_png(self._width, self._height, _MODES[data.mode], data.tobytes())
            self._file = _StoredFile.from_bytes(png, "images", "png")
            return
        np = sys.modules.get("numpy")
        arr = _torch_to_numpy(data)
        channels_first = arr is not None
        if arr is None and np is not None:
            if isinstance(data, np.ndarray):
                arr = data
            elif hasattr(data, "numpy") and callable(data.numpy):  # TensorFlow eager tensors, as W&B accepts
                arr = np.asarray(data.numpy())
            elif hasattr(data, "__array__"):  # jax and other array libraries
                arr = np.asarray(data)
        if arr is None or np is None:
            raise TypeError(
                f"runhive.Image: data_or_path must be a numpy array, a torch tensor, a PIL image, a matplotlib "
                f"figure or the path of an image file; got {_describe(data)}."
            )
        arr = _image_array(np, arr, mode, normalize, channels_first)
        self._height, self._width = int(arr.shape[0]), int(arr.shape[1])
        png = encode_png(self._width, self._height, int(arr.shape[2]), arr.tobytes())
        self._file = _StoredFile.from_bytes(png, "images", "png")

    @staticmethod
    def _png_from_figure(data: Any) -> bytes | None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None and data is plt:
            data = plt.gcf()
        module = type(data).__module__ or ""
        if module.startswith("matplotlib") and callable(getattr(data, "savefig", None)):
            buf = io.BytesIO()
            data.savefig(buf, format="png")
            return buf.getvalue()
        return None

    def _set_annotations(self, classes: Any, boxes: Any, masks: Any) -> None:
        labels: dict[Any, Any] = {}
        if boxes:
            if not isinstance(boxes, Mapping):
                raise ValueError(
                    'runhive.Image: "boxes" argument must be a dictionary, e.g. {"predictions": '
                    '{"box_data": [...], "class_labels": {...}}}.'
                )
            from runhive.sdk._values import convert

            self._boxes = {}
            for key, item in boxes.items():
                item = item.to_json() if callable(getattr(item, "to_json", None)) else item
                if not isinstance(item, Mapping):
                    raise ValueError(f'runhive.Image: boxes[{key!r}] must be a dictionary with "box_data".')
                self._boxes[str(key)] = convert(dict(item))
                labels.update(item.get("class_labels") or {})
        if masks:
            if not isinstance(masks, Mapping):
                raise ValueError(
                    'runhive.Image: "masks" argument must be a dictionary, e.g. {"predictions": '
                    '{"mask_data": array, "class_labels": {...}}}.'
                )
            self._masks = {}
            for key, item in masks.items():
                self._masks[str(key)] = self._mask(str(key), item)
                labels.update(item.get("class_labels") or {})
        if classes is not None:
            items = getattr(classes, "_class_set", classes)
            try:
                labels.update({c["id"]: c["name"] for c in items})
            except (TypeError, KeyError) as e:
                raise ValueError(
                    f"runhive.Image: classes must be a list of {{'id': ..., 'name': ...}} dicts, got {classes!r}."
                ) from e
        if labels:
            self._classes = [{"id": k, "name": v} for k, v in labels.items()]

    @staticmethod
    def _mask(key: str, item: Any) -> tuple[_StoredFile, dict[str, Any]]:
        if not isinstance(item, Mapping) or ("mask_data" not in item and "path" not in item):
            raise ValueError(
                f'runhive.Image: masks[{key!r}] must be a dictionary with "mask_data" (a 2-D array of class ids) '
                'or "path", and optionally "class_labels".'
            )
        extra = {"class_labels": {str(k): v for k, v in (item.get("class_labels") or {}).items()}}
        if "path" in item:
            return _StoredFile.from_path(os.fspath(item["path"]), "images/mask", "png"), extra
        np = sys.modules.get("numpy")
        data = item["mask_data"]
        arr = _torch_to_numpy(data)
        if arr is None and np is not None and isinstance(data, np.ndarray):
            arr = data
        if arr is None or np is None or arr.ndim != 2 or arr.size == 0:
            raise ValueError(
                f"runhive.Image: masks[{key!r}]['mask_data'] must be a 2-D numpy array of class ids, got "
                f"{_describe(data)}."
            )
        arr = np.ascontiguousarray(np.clip(arr, 0, 255).astype(np.uint8))
        png = encode_png(int(arr.shape[1]), int(arr.shape[0]), 1, arr.tobytes())
        return _StoredFile.from_bytes(png, "images/mask", "png"), extra

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {"_type": self._log_type, **self._file.json()}
        out["format"] = self.format
        if self._width is not None:
            out["width"] = self._width
        if self._height is not None:
            out["height"] = self._height
        if self._caption is not None:
            out["caption"] = self._caption
        if self._grouping is not None:
            out["grouping"] = self._grouping
        if self._classes:
            out["classes"] = self._classes
        if self._boxes:
            out["boxes"] = self._boxes
        if self._masks:
            out["masks"] = {
                k: {"_type": "mask", **f.json(), **extra} for k, (f, extra) in self._masks.items()
            }
        return out

    def __repr__(self) -> str:
        return f"<runhive Image {self._width}x{self._height} {self._file.path}>"
