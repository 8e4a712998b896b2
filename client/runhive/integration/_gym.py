"""`init(monitor_gym=True)` (W&B's `wandb.gym.monitor()`): videos recorded by gymnasium's `RecordVideo` are logged
into the current run as `runhive.Video`.

W&B patches the recorder's `close()`. In gymnasium ≥ 1.0 the video file is written by `RecordVideo.stop_recording()`
(called by `close()`, `reset()` and `step()` whenever a recording ends), so that is what runhive patches: once the
original has written `<video_folder>/<name>.mp4`, the file is logged under W&B's key (`video.<n>` when the path
has one, else `videos`). Older gym/gymnasium (`VideoRecorder.close`) are patched as W&B does.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from runhive.errors import Error

_REQUIRED = "Couldn't import the gymnasium python package, install with `pip install gymnasium`"
_patched: list[tuple[type, str, Any]] = []


def _module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _log_video(path: str) -> None:
    from runhive.sdk.data_types._video import Video

    run = getattr(sys.modules.get("runhive"), "run", None)
    if run is None or not os.path.isfile(path):
        return
    m = re.match(r".+(video\.\d+).+", path)
    key = m.group(1) if m else "videos"
    run.log({key: Video(path)})


def monitor() -> None:
    """Patch gymnasium's (or gym's) video recorder so its videos are logged into the current run."""
    if _patched:
        return
    gym = _module("gymnasium") or _module("gym")
    if gym is None:
        raise Error(_REQUIRED)
    wrappers = _module(f"{gym.__name__}.wrappers")
    recorder = getattr(wrappers, "RecordVideo", None)
    if recorder is not None and hasattr(recorder, "stop_recording"):  # gymnasium >= 1.0
        orig_stop = recorder.stop_recording

        def stop_recording(self: Any) -> Any:
            name = getattr(self, "_video_name", None)
            folder = getattr(self, "video_folder", "")
            result = orig_stop(self)
            if name:
                _log_video(os.path.join(folder, f"{name}.mp4"))
            return result

        recorder.stop_recording = stop_recording
        _patched.append((recorder, "stop_recording", orig_stop))
        return
    vcr = _module(f"{gym.__name__}.wrappers.monitoring.video_recorder")
    old = getattr(vcr, "VideoRecorder", None) or getattr(vcr, "ImageEncoder", None)
    if old is None:
        raise Error(_REQUIRED)
    attr = "path" if hasattr(vcr, "VideoRecorder") else "output_path"
    orig_close = old.close

    def close(self: Any) -> Any:
        result = orig_close(self)
        if getattr(self, "enabled", True):
            _log_video(getattr(self, attr, ""))
        return result

    old.close = close
    _patched.append((old, "close", orig_close))


def unmonitor() -> None:
    """Undo `monitor()`."""
    for cls, name, orig in _patched:
        setattr(cls, name, orig)
    _patched.clear()
