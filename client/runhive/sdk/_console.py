"""Console capture (W&B's `console` setting): while a run is active, what the process writes to `sys.stdout` and
`sys.stderr` also goes to the run's `files/output.log`, W&B's run file of that name.

How, as W&B's "wrap" (what "auto" means in W&B): the `write` of the process's `sys.stdout` / `sys.stderr` objects
is wrapped. The original write runs first and its result is returned, so the terminal, `isatty()`, `fileno()`,
`encoding`, `flush()` and pytest's capsys/capfd are untouched; the streams are the same objects. W&B's other
values ("wrap_raw", "wrap_emu", "redirect") capture the same way here: "redirect" (file-descriptor capture) is
not implemented, so output written straight to fd 1/2 by C code or child processes is not captured. "off"
captures nothing. Runs opened with `runhive._attach` (another process's run) capture nothing, as in W&B.

What lands in output.log is what a terminal would show, through W&B's small terminal emulator
(core/internal/terminalemulator): `\\r` returns to the line's start and the next characters overwrite it (a
tqdm bar leaves its last state), `\\x1b[A` / `\\x1b[B` move a line up / down (nested tqdm bars), other escape
sequences stay as they are (W&B's console renders colours). The last 32 lines stay editable, as in W&B. Lines are
not marked by stream: W&B's output.log is not either (its "ERROR " marks exist only in its live console feed). A
process with `x_label` prefixes its lines with `[label] `, as W&B's console shows a labelled process's lines.

Durability: a flusher thread writes what changed at most `FLUSH_INTERVAL` after it was written (so a SIGKILL
loses at most that much), and `finish()` (at exit at the latest) writes the rest before the run's exit record.
Several processes may write one run's output.log (shared mode): each write happens under an exclusive `flock`;
a process rewrites its own still-editable lines in place only while they are the file's tail, otherwise it
appends them again. Resuming a run appends to its output.log.

Several runs active at once (`reinit="create_new"`): every active run captures the process's output, as W&B's
callbacks do; with "finish_previous" (the default) the previous run stops capturing when it finishes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["CAPTURING", "OutputLog", "start", "stop"]

logger = logging.getLogger("runhive")

CAPTURING = frozenset({"auto", "wrap", "wrap_raw", "wrap_emu", "redirect"})
FLUSH_INTERVAL = 0.1  # seconds: the most a SIGKILL can lose of what was written
MAX_LINES = 32  # W&B's maxTerminalLines: lines still editable by \r and cursor moves
MAX_LINE_LENGTH = 4096  # W&B's maxTerminalLineLength
OUTPUT_FILE = "output.log"

_CTRL = re.compile(r"[\r\n\x1b]")


class _Model:
    """The run's console lines, numbered from 0; the last MAX_LINES can still change. What changed since the last
    flush is `dirty_from` onwards."""

    __slots__ = ("base", "dirty_from", "lines", "mutable_from", "written")

    def __init__(self) -> None:
        self.base = 0  # number of lines[0]
        self.lines: list[str] = []
        self.written: list[int] = []  # bytes each line took in the file's tail at the last flush
        self.mutable_from = 0
        self.dirty_from: int | None = None

    def next_line(self) -> int:
        num = self.base + len(self.lines)
        self.lines.append("")
        self.written.append(0)
        if num - self.mutable_from >= MAX_LINES:
            self.mutable_from = num - MAX_LINES + 1
        if self.dirty_from is None or num < self.dirty_from:
            self.dirty_from = num
        return num

    def add_lines(self, texts: list[str]) -> int:
        """New lines at the end at once; the number of the first."""
        num = self.base + len(self.lines)
        self.lines.extend(t[:MAX_LINE_LENGTH] for t in texts)
        self.written.extend([0] * len(texts))
        end = num + len(texts)
        if end - self.mutable_from > MAX_LINES:
            self.mutable_from = end - MAX_LINES
        if self.dirty_from is None or num < self.dirty_from:
            self.dirty_from = num
        return num

    def put(self, num: int, x: int, text: str) -> None:
        if num < self.mutable_from or x >= MAX_LINE_LENGTH:
            return  # forgotten (W&B: a write to a line out of its view does nothing) or past the line's end
        i = num - self.base
        line = self.lines[i]
        if x == len(line):
            line += text
        elif x > len(line):
            line = line + " " * (x - len(line)) + text
        else:
            line = line[:x] + text + line[x + len(text) :]
        self.lines[i] = line[:MAX_LINE_LENGTH]
        if self.dirty_from is None or num < self.dirty_from:
            self.dirty_from = num


class _Terminal:
    """One stream's view onto the model: a cursor (x, y) over its last MAX_LINES lines, W&B's emulator."""

    __slots__ = ("esc", "model", "view", "x", "y")

    def __init__(self, model: _Model) -> None:
        self.model = model
        self.view: list[int] = []
        self.y = 0
        self.x = 0
        self.esc = ""

    def write(self, data: str) -> None:
        if not self.esc and "\r" not in data and "\x1b" not in data:
            self._plain(data)  # the common case: lines of text
            return
        pos = 0
        for m in _CTRL.finditer(data):
            if m.start() > pos:
                self._chars(data[pos : m.start()])
            pos = m.end()
            c = m.group()
            if self.esc:
                self._literal_escape()
            if c == "\n":
                self.x = 0
                self._down()
            elif c == "\r":
                self.x = 0
            else:
                self.esc = "\x1b"
        if pos < len(data):
            self._chars(data[pos:])

    def _plain(self, data: str) -> None:
        """Text and newlines only. Below the view's last line (where prints go) the new lines are added at once;
        the result is the same as the character-by-character emulation."""
        parts = data.split("\n")
        if parts[0]:
            self._chars(parts[0])
        n = len(parts) - 1
        if n == 0:
            return
        if self.y + 1 < len(self.view):  # the cursor moved up (nested bars): line by line
            for part in parts[1:]:
                self.x = 0
                self._down()
                if part:
                    self._chars(part)
            return
        # Row y+i holds parts[i]; a row is created only when text reaches it (W&B's emulator), so empty parts
        # after the last text only move the cursor.
        last_text = n
        while last_text > 0 and not parts[last_text]:
            last_text -= 1
        if last_text > 0:
            rows = (
                [""] * (self.y + 1 - len(self.view)) if self.y >= len(self.view) else []
            )  # pending blank rows
            rows.extend(parts[1 : last_text + 1])
            first = self.model.add_lines(rows)
            self.view.extend(range(first, first + len(rows)))
        self.y += n
        if self.y >= MAX_LINES:
            shift = self.y - MAX_LINES + 1
            del self.view[:shift]
            self.y -= shift
        self.x = len(parts[n]) if last_text == n else 0

    def _chars(self, text: str) -> None:
        while self.esc and text:
            c, text = text[0], text[1:]
            if self.esc == "\x1b" and c == "[":
                self.esc = "\x1b["
            elif self.esc == "\x1b[" and c in "AB":
                self.esc = ""
                if c == "A":
                    self.y = max(0, self.y - 1)
                else:
                    self._down()
            else:
                self.esc += c
                self._literal_escape()
        if not text:
            return
        while self.y >= len(self.view):
            self.view.append(self.model.next_line())
        self.model.put(self.view[self.y], self.x, text)
        self.x += len(text)

    def _literal_escape(self) -> None:
        # An escape sequence the emulator does not handle is kept as text, as W&B's does.
        seq, self.esc = self.esc, ""
        self._chars(seq)

    def _down(self) -> None:
        self.y += 1
        if self.y >= MAX_LINES:
            if self.view:
                del self.view[0]
            self.y -= 1


class OutputLog:
    """One run's output.log: the emulated lines of the process's stdout and stderr, written out in bounded
    time. Thread-safe; never raises into the caller's `print()`."""

    def __init__(self, path: str, label: str | None = None) -> None:
        self.path = path
        self._prefix = f"[{label}] " if label else ""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.access(os.path.dirname(path), os.W_OK):
            raise PermissionError(f"{os.path.dirname(path)} is not writable")
        # Opened at the first flush: a run that prints nothing has no output.log (and no empty file is uploaded).
        self._fd: int | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._model = _Model()
        self._terms = {"stdout": _Terminal(self._model), "stderr": _Terminal(self._model)}
        # Where this process's editable lines start in the file, their first number, and the file's end after
        # our last write: while the file still ends there, nobody appended since and we may rewrite in place.
        self._tail_offset = 0
        self._tail_first = 0
        self._tail_end = -1  # not the file's tail yet: a resumed run's old output stays, ours is appended
        self.failed = False

    def write(self, stream: str, data: str) -> None:
        with self._lock:
            self._terms[stream].write(data)

    @property
    def dirty(self) -> bool:
        return self._model.dirty_from is not None

    def flush(self) -> None:
        with self._lock:
            m = self._model
            if m.dirty_from is None or self._closed:
                return
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fd = self._fd
            start = m.dirty_from
            final = max(start, m.mutable_from)  # lines [start, final) can no longer change: one encode
            prefix = self._prefix
            head_lines = m.lines[start - m.base : final - m.base]
            head = (
                (prefix + ("\n" + prefix).join(head_lines) + "\n").encode("utf-8", "replace")
                if head_lines
                else b""
            )
            parts = [(prefix + line + "\n").encode("utf-8", "replace") for line in m.lines[final - m.base :]]
            blob = head + b"".join(parts)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size == self._tail_end and start >= self._tail_first:
                    # Ours is the file's tail: rewrite from the first changed line, in place.
                    offset = self._tail_offset + sum(m.written[self._tail_first - m.base : start - m.base])
                else:
                    # Another process appended meanwhile (or first write): append from the first changed line.
                    offset, self._tail_offset, self._tail_first = size, size, start
                os.pwrite(fd, blob, offset)
                end = offset + len(blob)
                if end < size and size == self._tail_end:
                    os.ftruncate(fd, end)  # the tail got shorter (a line rewritten shorter)
                self._tail_end = end
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            for i, part in enumerate(parts):
                m.written[final - m.base + i] = len(part)
            m.dirty_from = None
            # Lines that can no longer change are final in the file: forget them; our tail starts after them.
            drop = m.mutable_from - m.base
            if drop > 0:
                if self._tail_first < m.mutable_from:
                    if start < m.mutable_from:
                        self._tail_offset = offset + len(head)
                    else:
                        self._tail_offset += sum(m.written[self._tail_first - m.base : drop])
                    self._tail_first = m.mutable_from
                del m.lines[:drop], m.written[:drop]
                m.base = m.mutable_from

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None


# The process's patched streams -----------------------------------------------------------------------------
# A write only appends (stream, data) to `_pending` (deque appends are atomic): the emulation and the file
# happen in the flusher thread, so a print costs the user's thread well under a microsecond more.
_lock = threading.RLock()
_sinks: list[OutputLog] = []
_pending: deque[tuple[str, Any]] = deque()
# (name, stream, our write, the instance's own write we replaced or None): streams may be swapped (capsys), so
# every stream we wrapped is remembered until it is restored.
_patched: list[tuple[str, Any, Callable[..., Any], Callable[..., Any] | None]] = []
_flusher: threading.Thread | None = None


def _wrap(name: str, stream: Any) -> Callable[..., Any]:
    original = stream.write
    pending = _pending

    def write(data: Any, /) -> Any:
        n = original(data)
        if _sinks:
            pending.append((name, data))
        return n

    return write


def _text(data: Any) -> str:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode("utf-8", "replace")
    return data if isinstance(data, str) else ""


def _drain() -> None:
    """Hand what was written since the last call to every capturing run (under `_lock`)."""
    with _lock:
        count = len(_pending)
        if not count:
            return
        popleft = _pending.popleft
        chunks: list[tuple[str, list[str]]] = []
        name = ""
        texts: list[str] = []
        for _ in range(count):
            stream, data = popleft()
            if type(data) is not str:
                data = _text(data)
            if stream is not name:
                texts = []
                name = stream
                chunks.append((name, texts))
            texts.append(data)
        for sink in list(_sinks):
            try:
                for name, texts in chunks:
                    sink.write(name, "".join(texts))
            except Exception:  # never the user's problem; this run's capture stops
                _drop(sink)


def _install() -> None:
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name, None)
        if stream is None or any(p[1] is stream for p in _patched):
            continue
        own = getattr(stream, "__dict__", {}).get("write")  # an instance attribute someone set before us
        ours = _wrap(name, stream)
        try:
            stream.write = ours
        except (AttributeError, TypeError):  # a stream object without a settable write: not captured
            logger.warning(
                "runhive: sys.%s (%s) cannot be wrapped; its output is not captured.",
                name,
                type(stream).__name__,
            )
            continue
        _patched.append((name, stream, ours, own))


def _uninstall() -> None:
    for entry in list(_patched):
        _, stream, ours, own = entry
        if getattr(stream, "__dict__", {}).get("write") is not ours:
            continue  # someone wrapped on top of us: leave ours in place (it passes through without sinks)
        try:
            if own is None:
                del stream.write
            else:
                stream.write = own
        except AttributeError:
            continue
        _patched.remove(entry)


def _flush_loop() -> None:
    global _flusher
    while True:
        time.sleep(FLUSH_INTERVAL)  # a pacing interval, not a synchronisation: what a SIGKILL may lose
        with _lock:
            if not _sinks:  # the last run finished: the next start() starts a new flusher
                if _flusher is threading.current_thread():
                    _flusher = None
                return
        _drain()
        for sink in list(_sinks):
            try:
                sink.flush()
            except Exception as exc:
                _drop(sink)
                logger.warning(
                    "runhive: writing %s failed (%s); console capture for it stops.", sink.path, exc
                )


def _drop(sink: OutputLog) -> None:
    with _lock:
        if sink in _sinks:
            _sinks.remove(sink)
        sink.failed = True


def _after_fork() -> None:
    # The child's prints are not the parent's run's (W&B captures only in the process that called init()).
    global _flusher
    _sinks.clear()
    _pending.clear()
    _flusher = None


os.register_at_fork(after_in_child=_after_fork)


def start(run_dir: str, console: str | None, label: str | None = None) -> OutputLog | None:
    """Capture the process's stdout/stderr into `<run_dir>/files/output.log` for one run; None when `console`
    is "off" or the file cannot be opened (a warning says why; the run goes on)."""
    global _flusher
    if (console or "auto") not in CAPTURING or not run_dir:
        return None
    path = os.path.join(run_dir, "files", OUTPUT_FILE)
    try:
        sink = OutputLog(path, label)
    except OSError as exc:
        logger.warning("runhive: cannot write %s (%s); console output is not captured.", path, exc)
        return None
    with _lock:
        _drain()  # what was written before this run started is not its output
        _install()
        _sinks.append(sink)
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_loop, name="runhive-console", daemon=True)
            _flusher.start()
    return sink


def stop(sink: OutputLog | None) -> None:
    """Stop capturing for one run and write everything it captured; the streams are restored once no run
    captures."""
    if sink is None:
        return
    with _lock:
        _drain()
        if sink in _sinks:
            _sinks.remove(sink)
        if not _sinks:
            _uninstall()
    try:
        sink.close()
    except OSError as exc:
        logger.warning("runhive: writing %s failed: %s", sink.path, exc)
