"""`run.summary`: the last value of every key unless set explicitly."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._itemview import ItemView
from ._values import convert


class Summary(ItemView):
    _what = "runhive.summary"

    def __init__(self, send: Callable[[dict[str, Any], list[str]], None] | None = None) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_send", send)

    def _observe(self, row: Mapping[str, Any]) -> None:
        self._items.update(row)

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._items[key]
        if self._send is not None:
            self._send({}, [key])

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, d: Mapping[str, Any] | None = None) -> None:
        if d is None:
            return
        if not isinstance(d, Mapping):  # 0, "" and [] too: only None means "nothing"
            raise TypeError(f"summary.update takes a dict, got {type(d).__name__}.")
        if not d:
            return
        data = {}
        for k, v in d.items():
            if not isinstance(k, str):
                raise TypeError(f"Summary keys must be strings; got {type(k).__name__} {k!r}.")
            data[k] = convert(v)
        self._items.update(data)
        if self._send is not None:
            self._send(data, [])
