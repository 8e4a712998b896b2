"""`ItemView`: the read side that `run.config` and `run.summary` share (item and attribute access over a dict)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class ItemView:
    """Reads of `self._items`; subclasses decide what a write does (`__setitem__`, `__setattr__`)."""

    _what = "items"  # named in AttributeError messages

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") or key == "_items":
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"{self._what} has no key {key!r}") from None

    def __repr__(self) -> str:
        return repr(self._items)

    def keys(self) -> Any:
        return self._items.keys()

    def values(self) -> Any:
        return self._items.values()

    def items(self) -> Any:
        return self._items.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._items)

    _items: dict[str, Any]
