"""`run.config`: attribute and item access, `update`, `setdefaults`, changes guarded like W&B's."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

from runhive.errors import ConfigError

from ._itemview import ItemView
from ._termlog import LazyLogger
from ._values import MAX_DEPTH, convert

logger = LazyLogger("runhive")


def _clean_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"Config keys must be strings; got {type(key).__name__} {key!r}.")
    return key.strip("-")


def _clean_value(value: Any, depth: int = 0) -> Any:
    if depth >= MAX_DEPTH:  # a circular or absurdly deep config: a clear ValueError, not a RecursionError
        raise ValueError(f"runhive cannot store config values nested more than {MAX_DEPTH} levels deep.")
    if "runhive.sdk.data_types._base" in sys.modules and getattr(type(value), "_log_type", None) is not None:
        from runhive.sdk.data_types._base import WBValue

        if isinstance(value, WBValue):  # as W&B: media belong in history, not in config
            raise TypeError("WBValue objects cannot be added to the run config")
    if isinstance(value, dict):
        value = {k: _clean_value(v, depth + 1) for k, v in value.items()}
    else:
        value = convert(value)
    if isinstance(value, float) and math.isnan(value):
        return None  # as W&B: NaN in config becomes None
    return value


class Config(ItemView):
    """The run's configuration. Sends every change to the daemon as a config record."""

    _what = "runhive.config"

    def __init__(self, send: Callable[[dict[str, Any]], None] | None = None) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_locked", {})
        object.__setattr__(self, "_send", send)
        object.__setattr__(self, "_allow_val_change_default", False)

    def __setitem__(self, key: str, value: Any) -> None:
        self._update({key: value}, allow_val_change=self._allow_val_change_default)

    def __delitem__(self, key: str) -> None:
        del self._items[key]

    def __setattr__(self, key: str, value: Any) -> None:
        self.__setitem__(key, value)

    # Updates ----------------------------------------------------------------------------------------
    def update(self, d: Any = None, allow_val_change: bool | None = None) -> None:
        data = _as_mapping(d)
        self._update(data, allow_val_change=bool(allow_val_change))

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        data = {k: v for k, v in _as_mapping(d).items() if _clean_key(k) not in self._items}
        self._update(data, allow_val_change=False)

    def update_locked(self, d: Mapping[str, Any], user: str) -> None:
        """Merge keys owned by `user` (a sweep, say); later user updates to them are ignored with a warning."""
        data = {_clean_key(k): _clean_value(v) for k, v in d.items()}
        for k in data:
            self._locked[k] = user
        self._items.update(data)
        self._emit(data)

    def _update(self, data: Mapping[str, Any], allow_val_change: bool) -> None:
        clean: dict[str, Any] = {}
        for k, v in data.items():
            key = _clean_key(k)
            if key in self._locked:
                logger.warning(
                    "Config item '%s' was locked by '%s' (ignored update).", key, self._locked[key]
                )
                continue
            value = _clean_value(v)
            if not allow_val_change and key in self._items and self._items[key] != value:
                raise ConfigError(
                    f'Attempted to change value of key "{key}" from {self._items[key]} to {value}\n'
                    "If you really want to do this, pass allow_val_change=True to config.update()"
                )
            clean[key] = value
        if clean:
            self._items.update(clean)
            self._emit(clean)

    def _emit(self, data: dict[str, Any]) -> None:
        if self._send is not None:
            self._send(data)


def _as_mapping(d: Any) -> Mapping[str, Any]:
    if d is None:
        return {}
    if isinstance(d, Mapping):
        return d
    if hasattr(d, "__dict__") and type(d).__name__ == "Namespace":  # argparse.Namespace
        return vars(d)
    if isinstance(d, str):
        from ._config_files import load_config_file

        return load_config_file(d)
    raise TypeError(
        f"config must be a dict, an argparse.Namespace or a path to a YAML/JSON file; got {type(d).__name__}."
    )
