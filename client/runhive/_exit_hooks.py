"""Records the process's exit code (sys.exit, uncaught exceptions, Ctrl-C) and finishes open runs at exit."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from types import TracebackType
from typing import Any

_installed_pid: int | None = None
_exit_code: int | None = None
_lock = threading.Lock()


def exit_code() -> int:
    return 0 if _exit_code is None else _exit_code


def install() -> None:
    global _installed_pid
    with _lock:
        if _installed_pid == os.getpid():
            return
        _installed_pid = os.getpid()
        original_exit = sys.exit
        original_hook = sys.excepthook

        def _exit(code: Any = None) -> None:
            global _exit_code
            if code is None:
                _exit_code = 0
            elif isinstance(code, int):
                _exit_code = code
            else:
                _exit_code = 1
            original_exit(code)

        def _hook(tp: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
            global _exit_code
            _exit_code = 255 if issubclass(tp, KeyboardInterrupt) else 1
            original_hook(tp, value, tb)

        sys.exit = _exit  # type: ignore[assignment]
        sys.excepthook = _hook
        atexit.register(_at_exit, os.getpid())


def _at_exit(pid: int) -> None:
    if pid != os.getpid():  # a forked child inherits atexit handlers: never finish the parent's runs
        return
    from ._setup import teardown

    teardown(exit_code=exit_code())
