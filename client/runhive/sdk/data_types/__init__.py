"""The objects runs log besides numbers (W&B's `wandb.sdk.data_types`): each writes its file into the run
directory and logs a JSON reference to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._histogram import Histogram

if TYPE_CHECKING:
    from ._base import WBValue
    from ._image import Image
    from ._video import Video

__all__ = ["Histogram", "Image", "Video", "WBValue"]

# Image pulls in the PNG encoder; loaded on first use so `import runhive` stays light.
_LAZY = {"Image": "._image", "Video": "._video", "WBValue": "._base"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
