"""`init(sync_tensorboard=True)` and `runhive.tensorboard.patch()` (W&B's `wandb.tensorboard`).

W&B patches the TensorBoard writers' `EventFileWriter` and its daemon tails the event files it finds. runhive
patches the same class's `add_event`, which the writers call in the caller's thread for every event, so each
event is also logged into the current run as it is written, as W&B's converter logs it: scalars under their tag,
histograms as `Histogram`, images as `Image` under the tag with `/` made `_`, the event's step as `global_step`
(and `<namespace>/global_step`), one row per step (values of the same step are merged; a row is committed when
the step moves on, or at `finish()`). Writers of both `torch.utils.tensorboard` (tensorboard's own
`EventFileWriter`) and tensorboardX are patched, before or after they are imported, whenever they were created.

Namespaces: a writer whose log directory is under `root_logdir` (or under the first log directory seen, as
`add_scalars`' child writers are) logs its tags as `<relative dir>/<tag>`. With `save=True` the event files are
copied into the run's `files/` at `finish()`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import io
import os
import re
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from runhive.errors import Error
from runhive.sdk._termlog import LazyLogger

logger = LazyLogger(configure=True)

# The modules whose `EventFileWriter` class the writers use.
TENSORBOARD_WRITER_MODULE = "tensorboard.summary.writer.event_file_writer"  # torch.utils.tensorboard's writer
TENSORBOARD_X_MODULE = "tensorboardX.event_file_writer"
_WATCHED = (TENSORBOARD_WRITER_MODULE, TENSORBOARD_X_MODULE)

_lock = threading.RLock()
_patched: list[tuple[type, Any]] = []  # (EventFileWriter class, its original add_event)
_options: dict[str, Any] = {"save": True, "root_logdir": ""}
_finder: _ImportHook | None = None
_warned: set[str] = set()


def patch(
    save: bool = True,
    tensorboard_x: bool | None = None,
    pytorch: bool | None = None,
    root_logdir: str = "",
) -> None:
    """Log what TensorBoard writers write into the current run (W&B's `wandb.tensorboard.patch`)."""
    global _finder
    with _lock:
        if _patched or _finder is not None:
            raise ValueError(
                "Tensorboard already patched. Call `runhive.tensorboard.unpatch()` first; remove "
                "`sync_tensorboard=True` from `runhive.init`; or only call `runhive.tensorboard.patch` once."
            )
        import importlib.util

        names = [m for m in _WATCHED if importlib.util.find_spec(m.partition(".")[0]) is not None]
        if not names:
            raise Error(
                "sync_tensorboard needs TensorBoard: install tensorboard (torch.utils.tensorboard's writer) or "
                "tensorboardX (`pip install tensorboard tensorboardX`)."
            )
        _options.update(save=save, root_logdir=os.fspath(root_logdir) if root_logdir else "")
        _state.clear()
        for name in names:
            module = sys.modules.get(name)
            if module is not None:
                _patch_module(module)
            elif name == TENSORBOARD_WRITER_MODULE:
                _patch_module(importlib.import_module(name))  # light (~0.2 s) and torch's writer imports it
            else:  # tensorboardX imports torch (seconds): patched when the user imports it
                if _finder is None:
                    _finder = _ImportHook()
                    sys.meta_path.insert(0, _finder)


def unpatch() -> None:
    """Undo `patch()`: writers stop logging into runs."""
    global _finder
    with _lock:
        for cls, orig in _patched:
            cls.add_event = orig  # type: ignore[attr-defined]
        _patched.clear()
        if _finder is not None:
            try:
                sys.meta_path.remove(_finder)
            except ValueError:
                pass
            _finder = None
        _state.clear()


def is_patched() -> bool:
    return bool(_patched) or _finder is not None


def _patch_module(module: ModuleType) -> None:
    cls = getattr(module, "EventFileWriter", None)
    if cls is None or any(c is cls for c, _ in _patched):
        return
    orig = cls.add_event

    def add_event(self: Any, event: Any) -> Any:
        result = orig(self, event)
        try:
            _on_event(self, event)
        except Exception as exc:  # never break the user's TensorBoard logging
            _warn_once("error", "could not log a TensorBoard event into the run: %s", exc)
        return result

    add_event.__wrapped__ = orig  # type: ignore[attr-defined]
    cls.add_event = add_event
    _patched.append((cls, orig))


class _ImportHook(importlib.abc.MetaPathFinder):
    """Patches tensorboardX's writer when the user imports it (importing it ourselves would import torch)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname != TENSORBOARD_X_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        with _lock:
            if _finder is not None:
                _patch_module(module)


# Converting events (W&B's `tf_summary_to_dict`) ----------------------------------------------------------------


def _namespaced(tag: str, namespace: str) -> str:
    return f"{namespace}/{tag}" if namespace else tag


def _image_key(tag: str, namespace: str) -> str:
    return _namespaced(re.sub(r"[/\\]", "_", tag), namespace)


def _tensor_array(tensor: Any) -> Any:
    import numpy as np

    try:
        from tensorboard.util import tensor_util

        arr = tensor_util.make_ndarray(tensor)
        return None if arr.dtype == object else arr
    except ImportError:
        pass
    shape = [d.size for d in tensor.tensor_shape.dim]
    for field in ("float_val", "double_val", "int_val", "int64_val"):
        vals = list(getattr(tensor, field, ()))
        if vals:
            arr = np.asarray(vals, dtype=float)
            return arr.reshape(shape) if shape and arr.size == int(np.prod(shape)) else arr
    if tensor.tensor_content:
        dtype = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}.get(int(tensor.dtype))
        if dtype is not None:
            return np.frombuffer(tensor.tensor_content, dtype=dtype).reshape(shape or -1)
    return None


def _images(blobs: list[bytes], tag: str, namespace: str, values: dict[str, Any]) -> None:
    from runhive.sdk.data_types._image import Image
    from runhive.sdk.data_types._video import Video

    media: list[Any] = []
    for blob in blobs:
        if blob.startswith(b"GIF"):  # tensorboardX's videos: Video copies the file into the run's media
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "video.gif")
                with open(path, "wb") as f:
                    f.write(blob)
                media.append(Video(path, format="gif"))
            continue
        try:
            from PIL import Image as PILImage
        except ImportError:
            _warn_once("pil", "install pillow to log TensorBoard images (`pip install pillow`).")
            return
        media.append(Image(PILImage.open(io.BytesIO(blob))))
    if not media:
        return
    head, _, idx = tag.rpartition("/")
    if head and idx.isdigit():
        key = _image_key(head, namespace)
        prev = values.get(key)
        values[key] = ([prev] if prev is not None and not isinstance(prev, list) else prev or []) + media
    else:
        values[_image_key(tag, namespace)] = media[0] if len(media) == 1 else media


def _histogram(counts: list[float], bins: list[float], key: str, values: dict[str, Any]) -> None:
    from runhive.sdk.data_types._histogram import Histogram

    limit = Histogram.MAX_LENGTH
    if len(counts) > limit:  # W&B drops these (its TODO: "re-bin"); runhive merges neighbouring buckets
        group = -(-len(counts) // limit)
        counts = [sum(counts[i : i + group]) for i in range(0, len(counts), group)]
        bins = [*bins[: len(bins) - 1 : group], bins[-1]]
    try:
        values[key] = Histogram(np_histogram=(counts, bins))
    except ValueError as exc:
        _warn_once(f"histo:{key}", "not logging TensorBoard histogram %r: %s", key, exc)


def summary_to_dict(summary: Any, namespace: str = "") -> dict[str, Any]:
    """The values of one TensorBoard `Summary`, keyed as W&B keys them."""
    values: dict[str, Any] = {}
    for value in summary.value:
        kind = value.WhichOneof("value")
        key = _namespaced(value.tag, namespace)
        if kind == "simple_value":
            values[key] = float(value.simple_value)
        elif kind == "tensor":
            plugin = value.metadata.plugin_data.plugin_name
            if plugin in ("scalars", ""):
                arr = _tensor_array(value.tensor)
                if arr is not None:
                    values[key] = arr.item() if arr.size == 1 else arr
            elif plugin == "images":
                _images(list(value.tensor.string_val[2:]), value.tag, namespace, values)
            elif plugin == "histograms":
                arr = _tensor_array(value.tensor)
                if arr is None or arr.ndim != 2 or arr.shape[0] == 0:
                    continue
                if arr.shape[0] > 1:
                    bins = [float(arr[0][0])] + [float(v[1]) for v in arr]
                    counts = [float(v[2]) for v in arr]
                else:
                    counts, bins = [float(arr[0][2])], [float(arr[0][0]), float(arr[0][1])]
                _histogram(counts, bins, key, values)
        elif kind == "image":
            _images([value.image.encoded_image_string], value.tag, namespace, values)
        elif kind == "histo":
            limits = list(value.histo.bucket_limit)
            if len(limits) >= 3:
                first = limits[0] + limits[0] - limits[1]
                last = limits[-2] + limits[-2] - limits[-3]
                _histogram(list(value.histo.bucket), [first, *limits[:-1], last], key, values)
            else:
                _warn_once(f"histo2:{key}", "not logging %r: a histogram with only 2 bins.", key)
    return values


# Routing events into the run (W&B's `_log`: one row per step, rolled up across namespaces) ------------------

_state: dict[
    str, Any
] = {}  # per run: {"steps": {namespace: step}, "global": step, "roots": [...], "saved": set}


def _current_run() -> Any:
    from runhive.sdk import _globals

    run = getattr(sys.modules.get("runhive"), "run", None)
    if run is None or getattr(run, "_finished", False):
        run = _globals.most_recent_active()
    return run


def _namespace(logdir: str, state: dict[str, Any]) -> tuple[str, str]:
    """(namespace, root directory) for a writer's log directory."""
    logdir = os.path.abspath(logdir)
    root = _options["root_logdir"]
    if root:
        root = os.path.abspath(root)
        if os.path.commonpath([root, logdir]) == root:
            rel = os.path.relpath(logdir, root)
            return ("" if rel == "." else rel.replace(os.sep, "/")), root
        _warn_once(
            f"outside:{logdir}",
            "found log directory outside of given root_logdir, dropping given root_logdir for event "
            "file in %s",
            logdir,
        )
        return "", logdir
    roots: list[str] = state["roots"]
    for known in roots:
        if os.path.commonpath([known, logdir]) == known:
            rel = os.path.relpath(logdir, known)
            return ("" if rel == "." else rel.replace(os.sep, "/")), known
    roots.append(logdir)
    if len(roots) == 1:
        return "", logdir
    _warn_once(
        "several",
        'when using several event log directories, please call `runhive.tensorboard.patch(root_logdir="...")` '
        "before `runhive.init`",
    )
    common = os.path.commonpath(roots)
    return os.path.relpath(logdir, common).replace(os.sep, "/"), common


def _on_event(writer: Any, event: Any) -> None:
    if not event.HasField("summary") or not event.summary.value:
        return
    run = _current_run()
    if run is None or getattr(run, "disabled", False):
        return
    with _lock:
        state = _state.get(run.id)
        if state is None:
            state = _state[run.id] = {"steps": {}, "global": 0, "roots": [], "saved": set(), "dirs": {}}
        logdir = str(writer.get_logdir())
        ns_root = state["dirs"].get(logdir)
        if ns_root is None:
            ns_root = state["dirs"][logdir] = _namespace(logdir, state)
            if _options["save"]:
                _save_event_files(run, logdir, ns_root[1], state)
        namespace = ns_root[0]
        values = summary_to_dict(event.summary, namespace)
        if not values:
            return
        step = int(event.step)
        values[_namespaced("global_step", namespace)] = step
        values["_timestamp"] = float(event.wall_time)
        last = state["steps"].get(namespace, 0)
        commit = last < step and step != state["global"]
        if step > state["global"]:
            state["global"] = step
        if namespace:
            values["global_step"] = state["global"]
        state["steps"][namespace] = step
        if commit:
            run.log({}, commit=True)  # the previous step's row is complete
        run.log(values, commit=False)


def _save_event_files(run: Any, logdir: str, root: str, state: dict[str, Any]) -> None:
    if logdir in state["saved"] or not hasattr(run, "_copy_saved"):
        return
    state["saved"].add(logdir)
    base = os.path.dirname(os.path.abspath(root)) or os.sep
    try:
        run.save(os.path.join(os.path.abspath(logdir), "*tfevents*"), base_path=base, policy="end")
    except Exception as exc:
        _warn_once("save", "could not save the TensorBoard event files of %s: %s", logdir, exc)


def _warn_once(key: str, msg: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(msg, *args)
