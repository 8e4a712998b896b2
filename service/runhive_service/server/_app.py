"""The team server's HTTP app (Starlette). Today: `GET /healthz` and `GET /api/v1/viewer`.

Seams for what comes next, each a list of routes added in `create_app`:
- the read API for `Api()` (`/api/v1/...`: projects, runs, history, sweeps), the second read backend of
  `runhive.apis.backends`;
- the dashboard (`_dashboard`), served for the runs the logged-in user may read (API-key login, then a session
  cookie), at / after every API route.
Ingest from the daemons' uploaders (the second sink of `runhive_service.streams`): `_ingest.py`, over HTTP; run
files (both ways): `_files.py`, their bytes in the file store of `--files` (`_filestore.py`).

Every endpoint that needs a user calls `caller(request)`; every `ServerError` becomes a JSON answer with its status
(`{"error": message, "code": NAME}`), and anything unexpected a JSON 500 without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._anonymous import anonymous_routes
from ._artifact_links import link_routes
from ._artifacts import artifact_routes
from ._dashboard import dashboard_mount, login_routes
from ._errors import ServerError, Unauthenticated
from ._files import files_routes
from ._filestore import FileStore
from ._ingest import routes as ingest_routes
from ._liveness import liveness_routes
from ._migrate import current_revision
from ._read import read_routes
from ._store import ServerStore, User
from ._sweeps import routes as sweeps_routes

log = logging.getLogger("runhive.server")


def bearer_key(request: Request) -> str | None:
    """The API key of an `Authorization: Bearer KEY` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def caller(request: Request) -> User:
    """The user the request's API key belongs to; Unauthenticated (401) otherwise."""
    store: ServerStore = request.app.state.store
    return store.authenticate(bearer_key(request))


def healthz(request: Request) -> Response:
    """Up, and the database answers: the schema revision. 503 when the database does not answer."""
    store: ServerStore = request.app.state.store
    try:
        with store.engine.connect() as conn:
            revision = current_revision(conn)
    except SQLAlchemyError as exc:
        log.warning("healthz: database unavailable: %s", exc)
        return JSONResponse({"ok": False, "error": "database unavailable"}, status_code=503)
    return JSONResponse({"ok": True, "schema": revision})


def viewer(request: Request) -> Response:
    store: ServerStore = request.app.state.store
    return JSONResponse(store.viewer(caller(request)))


def _server_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServerError)
    headers = {"www-authenticate": 'Bearer realm="runhive"'} if isinstance(exc, Unauthenticated) else None
    return JSONResponse({"error": str(exc), "code": exc.code}, status_code=exc.status, headers=headers)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse(
        {"error": str(exc.detail), "code": code}, status_code=exc.status_code, headers=exc.headers
    )


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        {"error": "internal error (see the server's log)", "code": "INTERNAL"}, status_code=500
    )


def _no_endpoint(request: Request) -> Response:
    raise HTTPException(404, f"no such API endpoint: {request.url.path}")


def create_app(
    store: ServerStore,
    extra_routes: list[BaseRoute] | None = None,
    files: FileStore | None = None,
    allow_anonymous: bool = False,
    self_url: Callable[[], str] | None = None,
) -> Starlette:
    """The app over `store`, run files in `files` (`_filestore`; None: the file routes answer 503). Endpoints are
    plain functions: Starlette runs them in its thread pool, where the (blocking) database calls belong.
    `self_url()`: this server's own address; given, the dashboard is served at / behind a login (`_dashboard`)."""
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/api/v1/viewer", viewer, methods=["GET"]),
        *read_routes(),
        *ingest_routes(),
        *sweeps_routes(),
        *files_routes(),
        *anonymous_routes(),
        *artifact_routes(),
        *link_routes(),
        *liveness_routes(),
        *(extra_routes or []),
        Route(
            "/api/v1/{rest:path}", _no_endpoint
        ),  # not the dashboard's login gate: an API client gets a 404
    ]
    if self_url is not None:
        routes += [*login_routes(store), dashboard_mount(store, self_url)]
    handlers: dict[Any, Any] = {
        ServerError: _server_error,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.store = store
    app.state.files = files
    app.state.allow_anonymous = allow_anonymous
    return app
