"""What every logged media object shares: `WBValue`, where its file goes, and content-addressed storage.

A media object writes its file when it is constructed (as W&B does), so `run.log()` does no I/O: into
`<run.dir>/files/media/<kind>/` when a run is active in this process, else into a per-process temporary directory.
Files are named by the sha256 of their content, so identical media are stored once. `to_json()` returns the
reference the history row keeps (`{"_type": "image-file", "path": ..., "sha256": ..., ...}`).

numpy, torch, PIL and matplotlib are used only when the caller already imported them (`sys.modules`); none is
imported here.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from runhive.sdk._termlog import LazyLogger

# logging, hashlib, shutil and tempfile load on first use: `import runhive` imports this module (Histogram is a
# WBValue) and stays light.
logger = LazyLogger("runhive")

_HASH_CHARS = 32


class WBValue:
    """Base class of every media type (W&B's `wandb.sdk.data_types.base_types.wb_value.WBValue`)."""

    _log_type: str = ""

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__}.to_json")

    def __repr__(self) -> str:
        return f"<runhive {type(self).__name__}>"


class Media(WBValue):
    """A WBValue kept in a file (W&B's `wandb.sdk.data_types.base_types.media.Media`)."""


class BatchableMedia(Media):
    """Media W&B logs in batches (images, audio, HTML, 3D objects, molecules)."""


# Where media files go ------------------------------------------------------------------------------------------

_tmp_lock = threading.Lock()
_tmp_dir: tuple[int, str] | None = None  # (pid, path): a forked child makes its own


def _process_tmp_dir() -> str:
    global _tmp_dir
    with _tmp_lock:
        if _tmp_dir is None or _tmp_dir[0] != os.getpid() or not os.path.isdir(_tmp_dir[1]):
            # Not removed at exit: a history row may already point here (media made before init, or sent to
            # another process, as Ray Tune does).
            import tempfile

            _tmp_dir = (os.getpid(), tempfile.mkdtemp(prefix="runhive-media-"))
        return _tmp_dir[1]


def media_dir(kind: str) -> str:
    """`<run.dir>/files/media/<kind>` for the most recent active run in this process, else a temp directory."""
    from runhive.sdk import _globals

    run = _globals.most_recent_active()
    base = getattr(run, "dir", "") if run is not None else ""
    if base:
        return os.path.join(base, "files", "media", kind)
    return os.path.join(_process_tmp_dir(), kind)


def sha256_file(path: str) -> tuple[str, int]:
    """The file's sha256 (hex) and size, read in 1 MiB pieces."""
    import hashlib

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
        import hashlib

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
            import shutil

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
        import hashlib

        data = state.pop("data", None)
        self.__dict__.update(state)
        if data is not None and hashlib.sha256(data).hexdigest() == self.sha256:
            self.path = _StoredFile.from_bytes(data, self.kind, self.ext).path

    def json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


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


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)
