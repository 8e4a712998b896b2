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

Artifacts go up in the same passes, after the files (`runhive_service.server._artifacts`). The client writes the
node's artifact store itself (`runhive.protocol.artifact_store`, under the data directory, which is the daemon's) and
appends one line per `log_artifact` / `use_artifact` to `<run dir>/logged_artifacts.jsonl` / `used_artifacts.jsonl`;
a pass reads the lines added since the last one (their byte offsets are kept in the progress file beside the
files'), and for each looks the version up in the store and sends

- a logged version: its objects the server lacks (asked by sha256 in one POST, then PUT each), then its manifest
  with the aliases it has now and the run as its logger. The server numbers versions itself and finds identical
  contents (the same digest) as the existing version, so a replay, or the same version logged by two runs, is one
  version; aliases are last-writer-wins, as the node's `aliases.json`.
- a used version: the use, named by collection and digest (the node's numbers may differ from the server's); when
  the server lacks the version (logged by a run that did not upload), the version first, as above.
- a used version the run read from the team server (`run.use_artifact` of a run that logs to one, `runhive.sdk.
  artifacts._use`): the line names it as the server does (`server_artifact`, `digest`) and the node's store may
  not hold it, so only the use goes up; should the server lack it (`runhive sync` to another server), the node's
  version of the same contents that the line names too (`artifact`), if any, goes first.

An artifact the server refuses (no permission on the project of a used artifact, a deleted run, ...) is logged and
skipped: it does not stop the run's other files and artifacts. A line naming a version the store no longer holds
is skipped too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("runhive_service")

FILES_EVERY = 5.0
CHECK_BATCH = 500  # paths per "which do you lack" request
HTTP_TIMEOUT = 300.0  # a PUT of a large file
# What a run's directory lists of its artifacts (`runhive.protocol.artifact_store.LOGGED` / `USED`), by kind.
# In this order: a link's source is logged (and sent) before the link is made.
ARTIFACT_LINES = {
    "logged": "logged_artifacts.jsonl",
    "used": "used_artifacts.jsonl",
    "linked": "linked_artifacts.jsonl",
}


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
    artifacts: dict[str, int] = field(default_factory=dict)  # "logged"/"used" -> bytes of its .jsonl handled

    @property
    def pending(self) -> bool:
        return self.done < self.want

    def ask(self) -> int:
        self.want += 1
        return self.want

    def to_doc(self) -> dict[str, Any]:
        return {
            "sent": {p: list(v) for p, v in self.sent.items()},
            "artifacts": dict(self.artifacts),
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
            for kind, offset in (doc.get("artifacts") or {}).items():
                if kind in ARTIFACT_LINES and isinstance(offset, int):
                    st.artifacts[kind] = offset
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
    """One pass: send what changed under `files_dir` since the server took it, then the artifacts the run logged
    or used since the last pass; the number of files sent. `call(fn)` retries `fn` on transport failures; a refusal
    of the files propagates (the caller records it)."""
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
    sync_artifacts(state, files_dir.parent, base, api_key, send, call, saved)
    return sent


# Artifacts ------------------------------------------------------------------------------------------------------
def _post_json(url: str, auth: dict[str, str], doc: Any, send: Send, call: Call) -> dict[str, Any]:
    body = json.dumps(doc).encode()

    def post() -> dict[str, Any]:
        req = urllib.request.Request(
            url, data=body, headers={**auth, "Content-Type": "application/json"}, method="POST"
        )
        return send(req, HTTP_TIMEOUT)

    result: dict[str, Any] = call(post)
    return result


def _artifacts_root() -> Path:
    """The node's artifact store: under the data directory the client wrote it to, which is this process's own
    (the daemon's, or the `runhive sync` command's: both resolve it from the same environment)."""
    from runhive import Settings
    from runhive.protocol.artifact_store import artifacts_root

    return artifacts_root(Settings.from_env().resolved_data_dir)


def _new_lines(path: Path, offset: int) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
    """The complete lines of `path` after byte `offset`, each with the offset after it; (start, lines). A file
    shorter than `offset` (replaced) is read from its start."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < offset:
                offset = 0
            f.seek(offset)
            data = f.read(size - offset)
    except OSError:
        return offset, []
    out: list[tuple[int, dict[str, Any]]] = []
    pos = offset
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # being written: the next pass reads it whole
        pos += len(line)
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        out.append((pos, doc if isinstance(doc, dict) else {}))
    return offset, out


def _refused(exc: Exception) -> bool:
    """A refusal of one artifact (4xx), as opposed to a server that keeps no files or a transport failure."""
    status = getattr(exc, "status", 0)
    return isinstance(status, int) and 400 <= status < 500 and getattr(exc, "code", "") != "NO_FILE_STORE"


def _send_objects(url: str, root: Path, version: Any, auth: dict[str, str], send: Send, call: Call) -> int:
    """The version's objects the server lacks, to `url` (`.../objects/{entity}/{project}`): ask, then PUT each."""
    from runhive.protocol.artifact_store import object_path

    digests = sorted(
        {str(f["sha256"]) for f in version.doc.get("files") or [] if f.get("sha256") and not f.get("ref")}
    )
    sent = 0
    for i in range(0, len(digests), CHECK_BATCH):
        missing = _post_json(url, auth, {"sha256": digests[i : i + CHECK_BATCH]}, send, call)
        for sha in missing.get("missing") or []:
            src = object_path(root, str(sha))

            def put(src: Path = src, sha: str = str(sha)) -> dict[str, Any]:
                with open(src, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    headers = {
                        **auth,
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(size),
                    }
                    req = urllib.request.Request(
                        f"{url}/{sha}", data=_Limited(f, size), headers=headers, method="PUT"
                    )
                    return send(req, HTTP_TIMEOUT)

            call(put)
            sent += 1
    return sent


def _send_version(
    server: str,
    entity: str,
    project: str,
    root: Path,
    version: Any,
    run_id: str,
    auth: dict[str, str],
    send: Send,
    call: Call,
) -> dict[str, Any]:
    """The version's objects the server lacks, then its manifest into `entity/project`; the server's answer."""
    base = f"{server}/api/v1/artifacts"
    where = f"{_q(entity)}/{_q(project)}"
    _send_objects(f"{base}/objects/{where}", root, version, auth, send, call)
    doc = version.doc
    manifest = {
        "name": version.name,
        "type": doc.get("type") or "unspecified",
        "description": doc.get("description"),
        "metadata": doc.get("metadata") or {},
        "tags": doc.get("tags") or [],
        "created_at": doc.get("created_at"),
        "files": doc.get("files") or [],
        "aliases": [a for a in version.aliases if a != "latest"],
        "logged_by": str(doc.get("run") or "").rpartition("/")[2],
        "run_id": run_id,
    }
    try:
        return _post_json(f"{base}/versions/{where}", auth, manifest, send, call)
    except Exception as exc:
        if getattr(exc, "code", "") != "MISSING_OBJECTS":
            raise
    # An object left the server's store between the question and the manifest (a run deleted there held its
    # last reference): ask again, once.
    _send_objects(f"{base}/objects/{where}", root, version, auth, send, call)
    return _post_json(f"{base}/versions/{where}", auth, manifest, send, call)


def _send_link(
    server: str, entity: str, root: Path, link: Any, source: Any, auth: dict[str, str], send: Send, call: Call
) -> dict[str, Any]:
    """The source version (into its project under the run's entity on the server; nothing new when it is there),
    then the link to it in the link's collection (`server._artifact_links`)."""
    _send_version(server, entity, source.project, root, source, "", auth, send, call)
    doc = {
        "name": link.name,
        "aliases": [a for a in link.aliases if a != "latest"],
        "source": {"entity": entity, "project": source.project, "name": source.name, "digest": source.digest},
    }
    return _post_json(
        f"{server}/api/v1/artifacts/links/{_q(entity)}/{_q(link.project)}", auth, doc, send, call
    )


def _run_of(base: str) -> tuple[str, str, str, str]:
    """(server URL, entity, project, run id) of a run's files URL (`files_url`)."""
    server, _, tail = base.rpartition("/api/v1/files/")
    entity, project, run_id = (urllib.parse.unquote(p) for p in tail.split("/"))
    return server, entity, project, run_id


def sync_artifacts(
    state: FilesState,
    run_dir: Path,
    base: str,
    api_key: str,
    send: Send,
    call: Call,
    saved: Callable[[], None],
) -> int:
    """Send the artifact versions the run logged or used since the last pass (its `.jsonl` lines after the offsets
    in `state`); the number of lines handled. A refusal of one artifact is logged and skipped."""
    from runhive.protocol.artifact_store import lookup

    auth = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    server, entity, project, run_id = _run_of(base)
    root: Path | None = None
    handled = 0
    for kind, filename in ARTIFACT_LINES.items():
        start, lines = _new_lines(run_dir / filename, state.artifacts.get(kind, 0))
        if start != state.artifacts.get(kind, 0):
            state.artifacts[kind] = start
        for end, doc in lines:
            qualified = str(doc.get("artifact") or "")
            root = root or _artifacts_root()
            version = lookup(root, qualified) if qualified else None
            on_server = _server_use(doc) if kind == "used" else None
            named = qualified or str(doc.get("server_artifact") or "")  # for the messages below
            source = lookup(root, str(doc.get("source") or "")) if kind == "linked" else None
            if kind == "linked" and (version is None or source is None):
                logger.warning(
                    "uploader: link %r of run %s is not in %s; not uploaded", qualified, run_id, root
                )
            elif version is None and on_server is None:
                if doc:  # old-layout lines name a directory (migrated by the local read API), not a version
                    logger.warning(
                        "uploader: artifact %r of run %s is not in %s; not uploaded", qualified, run_id, root
                    )
            elif on_server is not None or (version is not None and (kind == "linked" or not version.source)):
                # (a logged line naming a link: its source goes up itself, the link by its "linked" line)
                try:
                    if kind == "linked" and version is not None and source is not None:
                        _send_link(server, entity, root, version, source, auth, send, call)
                    elif kind == "logged" and version is not None:
                        # Logged into the run's project, which is the server's name of it (`runhive sync` may
                        # send the run to another entity than the node's).
                        _send_version(server, entity, project, root, version, run_id, auth, send, call)
                    elif on_server is not None:
                        _send_server_use(
                            server, entity, project, run_id, root, on_server, version, auth, send, call
                        )
                    elif version is not None:
                        _send_use(server, entity, project, run_id, root, version, auth, send, call)
                except OSError as exc:  # the node's store lost an object (deleted meanwhile): nothing to send
                    logger.warning(
                        "uploader: artifact %s of run %s cannot be read: %s; skipped", named, run_id, exc
                    )
                except Exception as exc:
                    if not _refused(exc):
                        raise  # transport (only when stopping) or a server without files: the caller decides
                    logger.warning(
                        "uploader: %s refused artifact %s of run %s: %s; skipped",
                        server,
                        named,
                        run_id,
                        exc,
                    )
            state.artifacts[kind] = end
            handled += 1
            saved()
    return handled


def _send_use(
    server: str,
    entity: str,
    project: str,
    run_id: str,
    root: Path,
    version: Any,
    auth: dict[str, str],
    send: Send,
    call: Call,
) -> None:
    """Record that the run used `version` (found on the server by collection and digest); a version the server
    lacks goes up first, into its own project."""
    url = f"{server}/api/v1/artifacts/uses/{_q(entity)}/{_q(project)}/{_q(run_id)}"
    doc = {"artifact": f"{version.entity}/{version.project}/{version.name}", "digest": version.digest}
    try:
        _post_json(url, auth, doc, send, call)
        return
    except Exception as exc:
        if getattr(exc, "code", "") != "NO_SUCH_VERSION":
            raise
    _send_version(server, version.entity, version.project, root, version, "", auth, send, call)
    _post_json(url, auth, doc, send, call)


def _server_use(doc: dict[str, Any]) -> dict[str, str] | None:
    """The use a line of a version read from the team server names (`runhive.sdk.artifacts._use`): {"artifact":
    "E/P/name", "digest"}; None for a line of a version of the node's store."""
    named, digest = doc.get("server_artifact"), doc.get("digest")
    if not (isinstance(named, str) and named and isinstance(digest, str) and digest):
        return None
    return {"artifact": named.partition(":")[0], "digest": digest}


def _send_server_use(
    server: str,
    entity: str,
    project: str,
    run_id: str,
    root: Path,
    use: dict[str, str],
    version: Any,
    auth: dict[str, str],
    send: Send,
    call: Call,
) -> None:
    """Record that the run used a version it read from the team server: nothing to send but the use. A server
    that lacks it (`runhive sync` to another server, a version deleted there) gets the node's version of the same
    contents when the line names one; otherwise the refusal propagates (logged and skipped by the caller)."""
    url = f"{server}/api/v1/artifacts/uses/{_q(entity)}/{_q(project)}/{_q(run_id)}"
    try:
        _post_json(url, auth, use, send, call)
        return
    except Exception as exc:
        if getattr(exc, "code", "") != "NO_SUCH_VERSION" or version is None or version.source:
            raise
        if version.digest != use["digest"]:
            raise
    _send_use(server, entity, project, run_id, root, version, auth, send, call)


def ask_periodic(state: FilesState, running: bool) -> None:
    """Ask for a pass when one is due (the run is running and the interval passed)."""
    now = time.monotonic()
    if running and not state.pending and now >= state.next_at:
        state.ask()


__all__ = [
    "FilesState",
    "ask_periodic",
    "files_every",
    "files_url",
    "final_done",
    "scan",
    "sync_artifacts",
    "sync_files",
]
