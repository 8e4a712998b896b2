"""The run page's other answers (issue 15, items 5 and 6): its files, one file's bytes, its console output, its
media, a page of one of its tables, a 3D object or molecule parsed for drawing, and the artifacts it logged and
used with their lineage (the runs that used what it logged, the run that logged what it used). Read through the
public reader (`ApiRun`, `StoredArtifact`), never the store's layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._common import _json
from ._files import console, file_response, files_listing
from ._media import media_index, structure, table_page

__all__ = ["run_endpoints"]

Lookup = Callable[
    [Request], tuple[Any, Any]
]  # the reader and the run ?path= names (closing the reader is ours)


def _run_ref(r: Any) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"entity": r.entity, "project": r.project, "id": r.id, "name": r.name, "state": r.state}


def _artifact(a: Any) -> dict[str, Any]:
    return {
        "name": a.name,
        "qualified": a.qualified_name,
        "type": a.type,
        "version": a.version,
        "aliases": list(a.aliases),
        "size": getattr(a, "size", None),
        "created_at": a.created_at,
        "description": a.description,
    }


def artifacts(run: Any) -> dict[str, Any]:
    logged = [{**_artifact(a), "used_by": [_run_ref(u) for u in a.used_by()]} for a in run.logged_artifacts()]
    used = [{**_artifact(a), "logged_by": _run_ref(a.logged_by())} for a in run.used_artifacts()]
    return {"logged": logged, "used": used}


def run_endpoints(lookup: Lookup) -> dict[str, Callable[[Request], Response]]:
    """The endpoints by their path under /api/run/, each reading the run ?path= names."""

    def with_run(fn: Callable[[Any, Request], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            a, run = lookup(request)
            with a:
                return fn(run, request)

        return endpoint

    def file(run: Any, request: Request) -> Response:
        return file_response(
            run, request.query_params.get("name", ""), request.query_params.get("download") == "1"
        )

    return {
        "files": with_run(lambda run, _: _json(files_listing(run))),
        "file": with_run(file),
        "console": with_run(console),
        "media": with_run(lambda run, _: _json(media_index(run))),
        "table": with_run(table_page),
        "structure": with_run(structure),
        "artifacts": with_run(lambda run, _: _json(artifacts(run))),
    }
