"""What the dashboard's modules share: refusals (4xx JSON), JSON answers without NaN, request parameters, and
scrubbing file-system paths out of messages."""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "HEAVY",
    "Endpoint",
    "Refusal",
    "_clean",
    "_encoded",
    "_finite",
    "_json",
    "_mapping",
    "_numeric",
    "path_param",
    "project_param",
    "scrub",
]

Endpoint = Callable[[Request], Response]

# Heavy reads (many series of many runs, a 3D structure parsed) two at a time: the others wait here, off the GIL,
# so a light request (a run list, a page's own files) competes with two threads, not with every heavy request.
HEAVY = threading.BoundedSemaphore(2)


def _encoded(body: bytes, request: Request) -> Response:
    """A JSON body, gzip-compressed (level 4) when the client accepts it."""
    if len(body) >= 1024 and "gzip" in request.headers.get("accept-encoding", ""):
        headers = {"content-encoding": "gzip", "vary": "Accept-Encoding"}
        return Response(gzip.compress(body, 4), media_type="application/json", headers=headers)
    return Response(body, media_type="application/json")


class Refusal(Exception):
    """An answer other than 200: a bad request (400) or something not found (404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _finite(v: Any) -> Any:
    # JSON has no NaN or Infinity: a chart shows a gap there.
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return _finite(obj)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(_clean(data)), status_code=status, media_type="application/json")


def _numeric(summary: Any) -> dict[str, float]:
    if not isinstance(summary, dict):
        return {}
    return {
        k: v
        for k, v in summary.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("_")
    }


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[^\s'\"/]+/)*[^\s'\"/]+")


def scrub(message: str, *paths: Path) -> str:
    """`message` without file-system paths: the store's directories by name, then anything absolute-looking."""
    for path in paths:
        for form in {str(path), str(path.resolve())}:
            message = message.replace(form, "the store")
    return _ABSOLUTE_PATH.sub("<path>", message)


def project_param(request: Request) -> str:
    """?project= as "project" or "entity/project" (400 otherwise)."""
    project = request.query_params.get("project")
    if not project:
        raise Refusal(400, "pass ?project=NAME")
    parts = project.split("/")
    if len(parts) > 2 or not all(parts):
        raise Refusal(400, f"project {project!r}: pass 'project' or 'entity/project'")
    return project


def path_param(request: Request, kind: str, hint: str) -> str:
    """?path= as "entity/project/id", "project/id" or "id" (400 otherwise)."""
    path = request.query_params.get("path")
    if not path:
        raise Refusal(400, f"pass ?path={hint}")
    parts = [p for p in path.split("/") if p and p != kind]
    if not 1 <= len(parts) <= 3:
        raise Refusal(400, f"path {path!r}: pass ?path={hint}")
    return path
