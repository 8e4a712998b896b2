"""The module-level names (`runhive.run`, `runhive.log`, ...) and their binding to the global run.

Before `init()` they are stubs that raise `runhive.Error` with W&B's message; `init()` (except
`reinit="create_new"`) binds them to the new run; finishing that run unbinds them.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Protocol

from runhive.errors import Error


class Run(Protocol):
    """What this module needs of a run (`runhive.sdk._run.Run`); a protocol, so the run class can import this
    module without a circle."""

    _pid: int

    @property
    def id(self) -> str: ...

    @property
    def log(self) -> Any: ...

    @property
    def config(self) -> Any: ...

    @property
    def summary(self) -> Any: ...

    @property
    def save(self) -> Any: ...

    @property
    def define_metric(self) -> Any: ...

    @property
    def log_artifact(self) -> Any: ...

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None: ...


_BOUND = ("log", "config", "summary", "save", "define_metric")

_lock = threading.RLock()
_active: list[Run] = []  # runs opened by this process and not finished, oldest first


def _message(what: str) -> str:
    return f"You must call runhive.init() before {what}"


class PreInitCallable:
    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise Error(_message(f"{self._name}()"))

    def __repr__(self) -> str:
        return f"<runhive pre-init stub {self._name}>"


class PreInitObject:
    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        raise Error(_message(f"{self._name}.{key}"))

    def __setattr__(self, key: str, value: Any) -> None:
        raise Error(_message(f"{self._name}.{key}"))

    def __getitem__(self, key: Any) -> Any:
        raise Error(_message(f"{self._name}[{key!r}]"))

    def __setitem__(self, key: Any, value: Any) -> None:
        raise Error(_message(f"{self._name}[{key!r}]"))

    def __contains__(self, key: Any) -> bool:
        raise Error(_message(f"{self._name}[{key!r}]"))

    def __iter__(self) -> Any:
        raise Error(_message(f"{self._name}"))

    def __len__(self) -> int:
        raise Error(_message(f"{self._name}"))

    def __repr__(self) -> str:
        return f"<runhive pre-init stub {self._name}>"


def stubs() -> dict[str, Any]:
    return {
        "run": None,
        "log": PreInitCallable("runhive.log"),
        "save": PreInitCallable("runhive.save"),
        "define_metric": PreInitCallable("runhive.define_metric"),
        "config": PreInitObject("runhive.config"),
        "summary": PreInitObject("runhive.summary"),
    }


def _module() -> Any:
    return sys.modules["runhive"]


def bind(run: Run) -> None:
    mod = _module()
    mod.run = run
    mod.log = run.log
    mod.config = run.config
    mod.summary = run.summary
    mod.save = run.save
    mod.define_metric = run.define_metric


def unbind() -> None:
    mod = _module()
    for name, value in stubs().items():
        setattr(mod, name, value)


def add_active(run: Run) -> None:
    with _lock:
        _active.append(run)


def active_runs() -> list[Run]:
    with _lock:
        return [r for r in _active if r._pid == os.getpid()]


def most_recent_active() -> Run | None:
    runs = active_runs()
    return runs[-1] if runs else None


def on_finish(run: Run) -> None:
    with _lock:
        if run in _active:
            _active.remove(run)
    if getattr(_module(), "run", None) is run:
        unbind()


def _after_fork_in_child() -> None:
    # Runs opened by the parent belong to the parent: the child neither finishes nor returns them.
    global _lock
    _lock = threading.RLock()
    _active.clear()
    if "runhive" in sys.modules:
        unbind()


os.register_at_fork(after_in_child=_after_fork_in_child)
