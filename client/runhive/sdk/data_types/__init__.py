"""The objects runs log besides numbers (W&B's `wandb.sdk.data_types`): each writes its file into the run
directory and logs a JSON reference to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import BatchableMedia, Media, WBValue
from ._histogram import Histogram

if TYPE_CHECKING:
    from ._audio import Audio
    from ._html import Html
    from ._image import Image
    from ._molecule import Molecule
    from ._object3d import Object3D, box3d
    from ._plotly import Plotly
    from ._table import Table
    from ._video import Video

__all__ = [
    "Audio",
    "BatchableMedia",
    "Histogram",
    "Html",
    "Image",
    "Media",
    "Molecule",
    "Object3D",
    "Plotly",
    "Table",
    "Video",
    "WBValue",
    "box3d",
]

# Loaded on first use so `import runhive` stays light (Image pulls in the PNG encoder, Table json).
_LAZY = {
    "Audio": "._audio",
    "Html": "._html",
    "Image": "._image",
    "Molecule": "._molecule",
    "Object3D": "._object3d",
    "Plotly": "._plotly",
    "Table": "._table",
    "Video": "._video",
    "box3d": "._object3d",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
