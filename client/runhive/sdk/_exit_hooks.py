"""Records the process's exit code (sys.exit, uncaught exceptions, Ctrl-C, SIGTERM) and finishes open runs at exit.

- Normal exit: an atexit hook finishes the process's runs with the recorded exit code (0, `sys.exit(n)`'s n,
  1 for an uncaught exception, 255 for KeyboardInterrupt, as W&B).
- multiprocessing children end with `os._exit` and skip atexit: a multiprocessing finaliser does the same there.
- SIGTERM (torchrun, SLURM's scancel, `kill`): when the process has no SIGTERM handler of its own, runhive
  installs one that finishes the runs with exit code 128 + 15 = 143 (state `failed`) and then dies of SIGTERM
  as it would have, so parents still see the signal. A handler the user installed, before or after `init()`,
  is never replaced or wrapped. See docs/RELIABILITY.md.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

_installed_pid: int | None = None
_exit_code: int | None = None
_interrupted = False  # the script ended with an uncaught KeyboardInterrupt
_lock = threading.Lock()
# finish() waits at most this long for the daemon when SIGTERM ends the process (unless finish_timeout is set):
# schedulers follow SIGTERM with SIGKILL (SLURM's KillWait defaults to 30 s).
SIGTERM_FINISH_TIMEOUT = 20.0


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
            global _exit_code, _interrupted
            _exit_code = 255 if issubclass(tp, KeyboardInterrupt) else 1
            _interrupted = issubclass(tp, KeyboardInterrupt)
            original_hook(tp, value, tb)

        sys.exit = _exit  # type: ignore[assignment]
        sys.excepthook = _hook
        atexit.register(_at_exit, os.getpid())
        _install_mp_finalizer()
        _install_sigterm()


def _at_exit(pid: int) -> None:
    if pid != os.getpid():  # a forked child inherits atexit handlers: never finish the parent's runs
        return
    from ._setup import teardown

    teardown(exit_code=exit_code())
    if _interrupted:
        _rearm_sigint_exit()


def _rearm_sigint_exit() -> None:
    """An uncaught KeyboardInterrupt makes CPython end the process by SIGINT after the atexit handlers, unless
    code compiled from a string ran meanwhile: `exec(str)`, which dataclasses and namedtuple use, resets that
    flag. Finishing runs may import such modules (or the preload thread may still be importing), so raise the
    interrupt once more through `exec`, which sets the flag again: the shell still sees 130 (-SIGINT)."""
    try:
        exec("raise KeyboardInterrupt")
    except KeyboardInterrupt:
        pass


def _install_mp_finalizer() -> None:
    """In a multiprocessing child (spawn, forkserver or fork), finish its runs when the child's target returns."""
    mp = sys.modules.get("multiprocessing")
    if mp is None or mp.parent_process() is None:
        return
    from multiprocessing import util

    util.Finalize(None, _at_mp_exit, args=(os.getpid(),), exitpriority=0)


def _at_mp_exit(pid: int) -> None:
    global _exit_code
    if pid != os.getpid():
        return
    # Runs in the `finally` of multiprocessing's bootstrap: an exception on its way out is visible here.
    exc = sys.exc_info()[1]
    if isinstance(exc, SystemExit):
        code = exc.code
        _exit_code = code if isinstance(code, int) else (0 if code is None else 1)
    elif isinstance(exc, KeyboardInterrupt):
        _exit_code = 255
    elif exc is not None:
        _exit_code = 1
    _at_exit(pid)


def _install_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # the user's handler, or SIG_IGN: theirs to keep
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _exit_code
    _exit_code = 128 + signum
    signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    try:
        from . import _globals

        for run in _globals.active_runs():
            settings = getattr(run, "settings", None)
            if settings is not None and not settings.finish_timeout:
                settings.finish_timeout = SIGTERM_FINISH_TIMEOUT
        from ._setup import teardown

        teardown(exit_code=_exit_code)
    finally:
        os.kill(os.getpid(), signum)  # die of the signal, as without runhive
