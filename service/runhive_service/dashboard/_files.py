"""A run's files for the dashboard: the list, the bytes of one (media, downloads), its console output, and the names
media references in history point at.

Only files the reader lists for the run (`ApiRun.files()`, exact names) are served, and only if the file found
is inside the run's files (a symlink out of it is refused): no path from a request ever reaches the file system.
Responses name files by their path inside the run's files, never by an absolute path. Every file answer carries
`X-Content-Type-Options: nosniff` (SecurityHeaders) and a Content-Security-Policy with `sandbox`: a document
opened from here (HTML, SVG) runs in an opaque origin, never in the dashboard's. HTML media may run its scripts
there (as W&B's HTML panel does), nothing else may.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ._common import Refusal, _json

__all__ = [
    "console",
    "file_response",
    "files_listing",
    "find_file",
    "local_path",
    "media_name",
    "relative_refs",
]

CONSOLE = "output.log"
CONSOLE_PAGE = 64 * 1024  # bytes of console output a request returns at most

_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json",
}
_TEXT = {
    ".txt",
    ".log",
    ".patch",
    ".diff",
    ".py",
    ".yaml",
    ".yml",
    ".md",
    ".csv",
    ".cfg",
    ".toml",
    ".ini",
    ".sh",
}

# A file opened from the dashboard runs in a sandbox (an opaque origin) with nothing to reach; images, audio and
# video are shown by the dashboard's own elements, whose rendering this policy does not touch.
FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
# HTML media (wandb.Html) in the dashboard's sandboxed <iframe>: its inline scripts and styles run, in an opaque
# origin that can neither read the dashboard nor connect anywhere.
HTML_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; media-src data: blob:; frame-ancestors 'self'"
)


def content_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _TEXT or name.endswith(".table.json"):
        return "application/json" if suffix == ".json" else "text/plain; charset=utf-8"
    return _TYPES.get(suffix, "application/octet-stream")


def files_listing(run: Any) -> list[dict[str, Any]]:
    return [{"name": f.name, "size": f.size, "updated_at": f.updated_at} for f in run.files()]


def local_path(file: Any) -> Path | None:
    """The file on this machine, if the reader keeps it as one inside the run's files; None otherwise."""
    uri = file.path_uri
    if not uri or not os.path.isabs(uri):
        return None
    path = Path(uri)
    parts = PurePosixPath(file.name).parts
    if len(path.parts) <= len(parts) or path.parts[-len(parts) :] != parts:
        return None
    base = Path(*path.parts[: -len(parts)])
    try:
        real, real_base = path.resolve(strict=True), base.resolve(strict=True)
    except OSError:
        return None
    if not real.is_relative_to(real_base) or not real.is_file():
        raise Refusal(404, f"file {file.name!r} is not inside the run's files")
    return real


def find_file(run: Any, name: str) -> Any:
    if not name or name.startswith("/") or "\\" in name or ".." in name.split("/"):
        # Not echoed: an absolute path has no place in an answer.
        raise Refusal(400, "name: pass the file's path inside the run's files, as the files list shows it")
    found = run.files([name])
    if not found:
        raise Refusal(404, f"run {run.id!r} has no file {name!r}")
    return found[0]


def file_response(run: Any, name: str, download: bool) -> Response:
    """The bytes of the run's file `name`, with its content type, sandboxed."""
    file = find_file(run, name)
    ctype = content_type(file.name)
    html = ctype.startswith("text/html")
    headers = {
        "content-security-policy": HTML_CSP if html and not download else FILE_CSP,
        "cache-control": "no-cache",
    }
    if html and not download:
        headers["x-frame-options"] = "SAMEORIGIN"  # the dashboard's iframe shows it
    filename = PurePosixPath(file.name).name
    if download or ctype == "application/octet-stream":
        quoted = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
        headers["content-disposition"] = f'attachment; filename="{quoted}"'
    path = local_path(file)
    if path is not None:
        return FileResponse(path, media_type=ctype, headers=headers)
    # A reader that keeps files elsewhere (a team server): downloaded to a temporary directory, removed after.
    tmp = tempfile.mkdtemp(prefix="runhive-ui-")
    try:
        file.download(root=tmp, replace=True).close()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    local = Path(tmp, *PurePosixPath(file.name).parts)
    task = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    return FileResponse(local, media_type=ctype, headers=headers, background=task)


def console(run: Any, request: Request) -> Response:
    """The run's console output (`output.log`), a page of at most CONSOLE_PAGE bytes: the last one by default,
    or the one ending at ?before= (a byte offset an earlier answer gave as `start`)."""
    found = run.files([CONSOLE])
    if not found:
        return _json({"present": False, "text": "", "start": 0, "end": 0, "size": 0})
    file = found[0]
    try:
        before = int(request.query_params.get("before", file.size))
    except ValueError:
        raise Refusal(400, "before: pass the byte offset an earlier answer gave as start") from None
    path = local_path(file)
    tmp = None
    if path is None:
        tmp = tempfile.mkdtemp(prefix="runhive-ui-")
        file.download(root=tmp, replace=True).close()
        path = Path(tmp, CONSOLE)
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            end = max(0, min(before, size))
            start = max(0, end - CONSOLE_PAGE)
            f.seek(start)
            data = f.read(end - start)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if start > 0:  # begin at a line: the cut line is shown whole by the next page
        cut = data.find(b"\n")
        if 0 <= cut < len(data) - 1:
            start += cut + 1
            data = data[cut + 1 :]
    return _json(
        {"present": True, "text": data.decode("utf-8", "replace"), "start": start, "end": end, "size": size}
    )


def media_name(run: Any, path: Any) -> str | None:
    """The name inside the run's files of the media file a history value points at: W&B stores it relative
    (`media/images/x.png`), runhive as the absolute path it wrote (`<run dir>/files/media/images/x.png`)."""
    if not isinstance(path, str) or not path:
        return None
    text = path.replace("\\", "/")
    if not text.startswith("/"):
        parts = [p for p in text.split("/") if p not in ("", ".")]
        return "/".join(parts) if parts and ".." not in parts else None
    if run.dir:
        try:
            return PurePosixPath(text).relative_to(PurePosixPath(run.dir, "files")).as_posix()
        except ValueError:
            pass
    i = text.rfind("/media/")  # a run directory that moved: its media by their place under media/
    return text[i + 1 :] if i >= 0 else None


def relative_refs(value: Any, run: Any) -> Any:
    """`value` (a summary, a table cell) with every media reference's `path` as its name inside the run's files
    (None when it is not one of them): no absolute path leaves the dashboard."""
    if isinstance(value, dict):
        out = {k: relative_refs(v, run) for k, v in value.items()}
        if "_type" in value and "path" in value:
            out["path"] = media_name(run, value.get("path"))
        return out
    if isinstance(value, list):
        return [relative_refs(v, run) for v in value]
    return value
