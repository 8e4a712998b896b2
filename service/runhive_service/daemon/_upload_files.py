"""The uploader's run files: everything under a run's `files/` directory goes to its team server
(`runhive_service.server._files`), as W&B uploads its run files: media written by Image/Audio/Video/Table/...,
`run.save()` copies (whatever their policy: "now" and "live" copy at the call, "end" and "live" again at
`finish()`, all before the run's exit record), `log_code`, `upload_file`, `output.log` and whatever else the
client puts there.

Nothing tells the daemon that a file is ready: the client writes `files/` itself (the local store reads it by
walking the directory, `runhive.apis.backends._local_files`). So the uploader walks it too:

- after the run's records are on the server (a history row that names a media file goes up before the file),
- every `RUNHIVE_UPLOAD_FILES_EVERY` seconds (default 5) while the run runs, and once more after its exit record
  (which the client sends after copying the "end"/"live" files); `finish()` asks for that last pass and waits for
  it, bounded by its timeout.

A pass hashes (sha256) only files whose size or mtime changed since the server took them, asks the server which
digests it lacks (one POST: the bytes of a file another run or path already sent are not sent again), and PUTs
those. What the server holds, per path (size, mtime, digest), is kept in the run's progress file beside the
records' marks, so a daemon restart resumes without sending anything twice; a "live" file that changes is sent
again under its new digest. A file that changes while it is sent fails the server's digest check and is sent on
the next pass. Transport failures are retried as records are (tenacity); a server that keeps no files (`runhive
server` on PostgreSQL without `--files`) is logged once and skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILES_EVERY = 5.0
CHECK_BATCH = 500  # paths per "which do you lack" request
HTTP_TIMEOUT = 300.0  # a PUT of a large file


def files_every() -> float:
    try:
        return max(0.1, float(os.environ.get("RUNHIVE_UPLOAD_FILES_EVERY") or FILES_EVERY))
    except ValueError:
        return FILES_EVERY


@dataclass
class FilesState:
    """A run's files on its server: what it holds, and the passes asked for and done."""

    sent: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # path -> (size, mtime_ns, sha256)
    want: int = 0  # passes asked for (a generation counter: finish() waits for the one it asked)
    done: int = 0  # the generation of the last pass that completed
    final: int = 0  # the pass asked after the run ended (0: not yet asked)
    next_at: float = 0.0  # monotonic time of the next periodic pass
    error: str = ""  # a final refusal
    disabled: str = ""  # the server keeps no files

    @property
    def pending(self) -> bool:
        return self.done < self.want

    def ask(self) -> int:
        self.want += 1
        return self.want

    def to_doc(self) -> dict[str, Any]:
        return {
            "sent": {p: list(v) for p, v in self.sent.items()},
            "final_done": bool(self.final and not self.pending),
        }

    @classmethod
    def from_doc(cls, doc: Any) -> FilesState:
        st = cls()
        if isinstance(doc, dict):
            for path, v in (doc.get("sent") or {}).items():
                try:
                    st.sent[str(path)] = (int(v[0]), int(v[1]), str(v[2]))
                except (TypeError, ValueError, IndexError):
                    continue
        return st


def final_done(doc: Any) -> bool:
    return isinstance(doc, dict) and bool(doc.get("final_done"))


_TEMPORARY = re.compile(r"\.\d+(\.\d+)?\.tmp$")


def _skip(name: str) -> bool:
    # Files being written by runhive itself, renamed into place when complete: upload_file's ".name.pid.tmp",
    # the media writers' "name.pid.thread.tmp".
    return name.endswith(".tmp") and (name.startswith(".") or bool(_TEMPORARY.search(name)))


def scan(files_dir: Path) -> dict[str, tuple[int, int, Path]]:
    """path (relative, '/'-separated) -> (size, mtime_ns, full path) of every regular file under `files_dir`."""
    out: dict[str, tuple[int, int, Path]] = {}
    if not files_dir.is_dir():
        return out
    for dirpath, dirnames, names in os.walk(files_dir, followlinks=False):
        dirnames.sort()
        for name in names:
            if _skip(name):
                continue
            full = Path(dirpath) / name
            try:
                st = full.stat()
            except OSError:
                continue  # removed meanwhile
            if not full.is_file():
                continue
            out[full.relative_to(files_dir).as_posix()] = (st.st_size, st.st_mtime_ns, full)
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1024 * 1024):
            h.update(block)
    return h.hexdigest()


class Changed(Exception):
    """The file's size is not the one hashed: it is being written."""


class _Limited:
    """At most `size` bytes of `f`: what the Content-Length announced, even if the file grows meanwhile."""

    def __init__(self, f: Any, size: int) -> None:
        self._f, self._left = f, size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        block: bytes = self._f.read(self._left if n < 0 else min(n, self._left))
        self._left -= len(block)
        return block


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


Send = Callable[[urllib.request.Request, float], dict[str, Any]]
Call = Callable[[Callable[[], Any]], Any]


def files_url(url: str, entity: str, project: str, run_id: str) -> str:
    return f"{url}/api/v1/files/{_q(entity)}/{_q(project)}/{_q(run_id)}"


def sync_files(
    state: FilesState,
    files_dir: Path,
    base: str,
    api_key: str,
    send: Send,
    call: Call,
    digest_mismatch: Callable[[Exception], bool],
    saved: Callable[[], None],
) -> int:
    """One pass: send what changed under `files_dir` since the server took it; the number of files sent.
    `call(fn)` retries `fn` on transport failures; a refusal propagates (the caller records it)."""
    import json

    auth = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    here = scan(files_dir)
    changed: list[tuple[str, int, int, Path, str]] = []
    for path, (size, mtime, full) in here.items():
        old = state.sent.get(path)
        if old is not None and old[0] == size and old[1] == mtime:
            continue
        try:
            sha = sha256_of(full)
        except OSError:
            continue  # removed meanwhile: nothing to send
        if old is not None and old[2] == sha:
            state.sent[path] = (size, mtime, sha)  # touched, not changed
            continue
        changed.append((path, size, mtime, full, sha))
    sent = 0
    for i in range(0, len(changed), CHECK_BATCH):
        batch = changed[i : i + CHECK_BATCH]
        body = json.dumps(
            {"files": [{"path": p, "sha256": s, "size": n} for p, n, _m, _f, s in batch]}
        ).encode()

        def check(body: bytes = body) -> dict[str, Any]:
            req = urllib.request.Request(
                base, data=body, headers={**auth, "Content-Type": "application/json"}, method="POST"
            )
            return send(req, HTTP_TIMEOUT)

        missing = set(call(check).get("missing") or [])
        for path, size, mtime, full, sha in batch:
            if path in missing:
                url = f"{base}/{urllib.parse.quote(path, safe='/')}?sha256={sha}"

                def put(url: str = url, full: Path = full, size: int = size) -> dict[str, Any]:
                    with open(full, "rb") as f:
                        if os.fstat(f.fileno()).st_size != size:
                            raise Changed(full)
                        headers = {
                            **auth,
                            "Content-Type": "application/octet-stream",
                            "Content-Length": str(size),
                        }
                        req = urllib.request.Request(
                            url, data=_Limited(f, size), headers=headers, method="PUT"
                        )
                        return send(req, HTTP_TIMEOUT)

                try:
                    call(put)
                except (FileNotFoundError, Changed):
                    continue  # removed or changed since the scan: the next pass sees it as it is then
                except Exception as exc:
                    if digest_mismatch(exc):
                        continue  # it changed while being sent: the next pass sends it again
                    raise
                sent += 1
            state.sent[path] = (size, mtime, sha)
        saved()
    return sent


def ask_periodic(state: FilesState, running: bool) -> None:
    """Ask for a pass when one is due (the run is running and the interval passed)."""
    now = time.monotonic()
    if running and not state.pending and now >= state.next_at:
        state.ask()


__all__ = ["FilesState", "ask_periodic", "files_every", "files_url", "final_done", "scan", "sync_files"]
