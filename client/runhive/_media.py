"""W&B's media value types: `WBValue`, `Image`, `Video`.

A media object writes its file when it is constructed (as W&B does), so `run.log()` does no I/O: into
`<run.dir>/files/media/<kind>/` when a run is active in this process, else into a per-process temporary directory.
Files are named by the sha256 of their content, so identical media are stored once. `to_json()` returns the
reference the history row keeps (`{"_type": "image-file", "path": ..., "sha256": ..., ...}`).

No dependency: PNG is encoded here (zlib + struct), video arrays are stored as `.npy`. numpy, torch, PIL and
matplotlib are used only when the caller already imported them (`sys.modules`); none is imported here.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import struct
import sys
import tempfile
import threading
import zlib
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("runhive")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)
_MODES = {"L": 1, "RGB": 3, "RGBA": 4}
_IMAGE_FILE_TYPES = ("png", "jpg", "jpeg", "bmp")  # W&B's accepted `file_type`s; runhive always writes PNG
_HASH_CHARS = 32


class WBValue:
    """Base class of every media type (W&B's `wandb.sdk.data_types.base_types.wb_value.WBValue`)."""

    _log_type: str = ""

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__}.to_json")

    def __repr__(self) -> str:
        return f"<runhive {type(self).__name__}>"


# Where media files go ------------------------------------------------------------------------------------------

_tmp_lock = threading.Lock()
_tmp_dir: tuple[int, str] | None = None  # (pid, path): a forked child makes its own


def _process_tmp_dir() -> str:
    global _tmp_dir
    with _tmp_lock:
        if _tmp_dir is None or _tmp_dir[0] != os.getpid() or not os.path.isdir(_tmp_dir[1]):
            # Not removed at exit: a history row may already point here (media made before init, or sent to
            # another process, as Ray Tune does).
            _tmp_dir = (os.getpid(), tempfile.mkdtemp(prefix="runhive-media-"))
        return _tmp_dir[1]


def media_dir(kind: str) -> str:
    """`<run.dir>/files/media/<kind>` for the most recent active run in this process, else a temp directory."""
    from . import _globals

    run = _globals.most_recent_active()
    base = getattr(run, "dir", "") if run is not None else ""
    if base:
        return os.path.join(base, "files", "media", kind)
    return os.path.join(_process_tmp_dir(), kind)


def sha256_file(path: str) -> tuple[str, int]:
    """The file's sha256 (hex) and size, read in 1 MiB pieces."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class _StoredFile:
    """One content-addressed media file. Pickling carries the bytes, so a media object sent to another process
    (Ray Tune's logging actor) lands in that process's run directory."""

    def __init__(self, path: str, sha256: str, size: int, kind: str, ext: str) -> None:
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.kind = kind
        self.ext = ext

    @classmethod
    def from_bytes(cls, data: bytes, kind: str, ext: str) -> _StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        directory = media_dir(kind)
        path = os.path.join(directory, f"{digest[:_HASH_CHARS]}.{ext}")
        if not (os.path.isfile(path) and os.path.getsize(path) == len(data)):
            os.makedirs(directory, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return cls(os.path.abspath(path), digest, len(data), kind, ext)

    @classmethod
    def from_path(cls, src: str, kind: str, ext: str) -> _StoredFile:
        digest, size = sha256_file(src)
        directory = media_dir(kind)
        path = os.path.join(directory, f"{digest[:_HASH_CHARS]}.{ext}")
        if not (os.path.isfile(path) and os.path.getsize(path) == size):
            os.makedirs(directory, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, path)
        return cls(os.path.abspath(path), digest, size, kind, ext)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        try:
            with open(self.path, "rb") as f:
                state["data"] = f.read()
        except OSError:
            state["data"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        data = state.pop("data", None)
        self.__dict__.update(state)
        if data is not None and hashlib.sha256(data).hexdigest() == self.sha256:
            self.path = _StoredFile.from_bytes(data, self.kind, self.ext).path

    def json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


# PNG -----------------------------------------------------------------------------------------------------------


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(width: int, height: int, channels: int, pixels: bytes, level: int = 6) -> bytes:
    """An 8-bit PNG from row-major pixel bytes (`channels` of 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), every
    scanline with filter type 0."""
    if channels not in _PNG_COLOUR:
        raise ValueError(f"encode_png: channels must be 1, 2, 3 or 4, got {channels}.")
    if width <= 0 or height <= 0 or width >= 1 << 31 or height >= 1 << 31:
        raise ValueError(f"encode_png: width and height must be positive, got {width}x{height}.")
    stride = width * channels
    if len(pixels) != stride * height:
        raise ValueError(f"encode_png: expected {stride * height} bytes for {width}x{height}x{channels}.")
    view = memoryview(pixels)
    raw = b"".join(b"\x00" + view[y * stride : (y + 1) * stride] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR[channels], 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, level))
        + _chunk(b"IEND", b"")
    )


def _image_header(head: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) from the first bytes of a PNG, GIF, BMP or WebP file."""
    if head.startswith(_PNG_SIGNATURE) and len(head) >= 24:
        w, h = struct.unpack(">II", head[16:24])
        return "png", w, h
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        w, h = struct.unpack("<HH", head[6:10])
        return "gif", w, h
    if head.startswith(b"BM") and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return "bmp", abs(w), abs(h)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        kind = head[12:16]
        if kind == b"VP8X":
            w = int.from_bytes(head[24:27], "little") + 1
            h = int.from_bytes(head[27:30], "little") + 1
            return "webp", w, h
        if kind == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return "webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", head[26:30])
            return "webp", w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_size(f: Any) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        byte = f.read(1)
        while byte and byte != b"\xff":
            byte = f.read(1)
        while byte == b"\xff":
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:
            return None
        seg = f.read(2)
        if len(seg) < 2:
            return None
        length = struct.unpack(">H", seg)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            data = f.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return w, h
        f.seek(length - 2, 1)


def image_file_size(path: str) -> tuple[str, int, int] | None:
    """(format, width, height) of an image file, read from its header; None when runhive cannot tell."""
    with open(path, "rb") as f:
        head = f.read(32)
        found = _image_header(head)
        if found is not None:
            return found
        if head.startswith(b"\xff\xd8"):
            size = _jpeg_size(f)
            return ("jpeg", *size) if size else None
    try:  # other formats: PIL, when installed
        from PIL import Image as PILImage
    except ImportError:
        return None
    try:
        with PILImage.open(path) as im:
            return str(im.format or "").lower(), int(im.size[0]), int(im.size[1])
    except Exception:
        return None


# Arrays --------------------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    t = type(value)
    name = t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    if shape is not None:
        return f"{name} of shape {tuple(shape)}"
    text = repr(value)
    return f"{name} {text[:60] + '...' if len(text) > 60 else text}"


def _torch_to_numpy(value: Any) -> Any:
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        return None
    value = value.detach().cpu()
    if str(value.dtype) == "torch.bfloat16":
        value = value.float()
    return value.numpy()


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


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


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


class Image(WBValue):
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
            from ._values import convert

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


# Video ---------------------------------------------------------------------------------------------------------


class Video(WBValue):
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


__all__ = ["Image", "Video", "WBValue", "encode_png"]
