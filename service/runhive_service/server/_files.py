"""Run files on the team server: what the daemons' uploaders send (`runhive_service.daemon._upload_files`) and what
`Api().run(path).files()` / `.file(name).download()` read back (`runhive.apis.backends._server`).

    POST /api/v1/files/{entity}/{project}/{run_id}          body {"files": [{"path", "sha256", "size"}]}
         → {"missing": [path]}: the paths whose bytes the server does not hold; the others are recorded at once
    PUT  /api/v1/files/{entity}/{project}/{run_id}/{path}?sha256=HEX    body: the file's bytes
         → {"path", "sha256", "size"}
    GET  /api/v1/files/{entity}/{project}/{run_id}          → {"files": [{"name", "size", "sha256", "updated_at"}]}
    GET  /api/v1/files/{entity}/{project}/{run_id}/{path}   → the bytes

Writing needs write permission on the project (as ingest does), reading needs read permission. The bytes are
content-addressed in the file store (`_filestore.blob_key(sha256)`): a replay, a second run with the same file,
or a path sent again unchanged stores nothing twice; `run_files` maps (run, path) to its current digest, so a
"live" file sent again with new contents replaces its row. The server hashes what it receives and refuses bytes
that do not match the digest the uploader announced (a torn upload never becomes a file).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Connection, select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ._errors import InvalidArgument, NotFound, ServerError
from ._filestore import FileStore, blob_key, lock_blob, release_blobs
from ._ingest import RunDeleted, _caller, _ensure_run, _ids
from ._schema import run_files
from ._store import Project, ServerStore, User

PATH_MAX = 1024
_HEX = set("0123456789abcdef")


class NoFileStore(ServerError):
    status = 503
    code = "NO_FILE_STORE"


def _files(request: Request) -> FileStore:
    files: FileStore | None = getattr(request.app.state, "files", None)
    if files is None:
        raise NoFileStore(
            "this server keeps no files: start it with --files DIR or --files s3://BUCKET/PREFIX"
        )
    return files


def check_path(path: str) -> str:
    parts = path.split("/")
    if (
        not path
        or len(path) > PATH_MAX
        or path.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 for c in path)
    ):
        raise InvalidArgument(
            f"file path {path!r} is not valid: a relative path inside the run's files (no leading '/', no '.' "
            f"or '..' parts, no control characters, at most {PATH_MAX} characters)"
        )
    return path


def check_digest(sha256: Any) -> str:
    if not isinstance(sha256, str) or len(sha256) != 64 or not set(sha256) <= _HEX:
        raise InvalidArgument(f"sha256 {sha256!r} is not a lowercase hex sha256 digest (64 characters)")
    return sha256


def _record(conn: Connection, project: Project, run_id: str, path: str, sha256: str, size: int) -> None:
    key = (run_files.c.project_id == project.id, run_files.c.run_id == run_id, run_files.c.path == path)
    old = conn.execute(select(run_files.c.sha256).where(*key)).first()
    now = time.time()
    if old is None:
        conn.execute(
            run_files.insert().values(
                project_id=project.id,
                run_id=run_id,
                path=path,
                sha256=sha256,
                size=size,
                created_at=now,
                updated_at=now,
            )
        )
    elif old.sha256 != sha256:
        conn.execute(update(run_files).where(*key).values(sha256=sha256, size=size, updated_at=now))


def _current(conn: Connection, project: Project, run_id: str) -> dict[str, str]:
    rows = conn.execute(
        select(run_files.c.path, run_files.c.sha256).where(
            run_files.c.project_id == project.id, run_files.c.run_id == run_id
        )
    )
    return {r.path: r.sha256 for r in rows}


async def check_files(request: Request) -> Response:
    doc = await request.json()
    return await run_in_threadpool(_check_files, request, doc)


def _check_files(request: Request, doc: Any) -> Response:
    store, user = _caller(request)
    files = _files(request)
    entity, project_name, run_id = _ids(request)
    wanted = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(wanted, list):
        raise InvalidArgument('the body is {"files": [{"path": ..., "sha256": ..., "size": ...}]}')
    items = []
    for f in wanted:
        if not isinstance(f, dict):
            raise InvalidArgument(f"file entry {f!r} is not an object with path, sha256 and size")
        items.append(
            (check_path(str(f.get("path") or "")), check_digest(f.get("sha256")), int(f.get("size") or 0))
        )
    project = store.ensure_project(user, entity, project_name)
    with store.engine.begin() as conn:
        _ensure_run(conn, project, run_id, user)
        have = _current(conn, project, run_id)
    missing = []
    todo = [(path, sha, size) for path, sha, size in items if have.get(path) != sha]
    if todo:
        with store.engine.begin() as conn:
            for sha in sorted({sha for _, sha, _ in todo}):
                lock_blob(conn, sha)  # checked and referenced under the lock a deleted run's blobs go under
            for path, sha, size in todo:
                if files.exists(blob_key(sha)):  # the bytes are here already (another run, an earlier path)
                    _record(conn, project, run_id, path, sha, size)
                else:
                    missing.append(path)
    return JSONResponse({"missing": missing})


@contextlib.asynccontextmanager
async def received(request: Request, sha: str, what: str) -> AsyncIterator[tuple[str, int]]:
    """The request's body in a temporary file, checked against `sha` (InvalidArgument naming `what` otherwise):
    (its path, its size), removed afterwards. Bytes are hashed as they arrive, so a torn upload never becomes a
    blob (run files and artifact objects alike)."""
    fd, tmp = tempfile.mkstemp(prefix="runhive-upload-")
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha:
            raise InvalidArgument(
                f"{what} ({size} bytes) have sha256 {digest.hexdigest()}, not the announced {sha}: the upload was "
                "damaged; send it again"
            )
        yield tmp, size
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


async def put_file(request: Request) -> Response:
    store, user = await run_in_threadpool(_caller, request)
    files = _files(request)
    entity, project_name, run_id = _ids(request)
    path = check_path(request.path_params["path"])
    sha = check_digest(request.query_params.get("sha256"))
    # Permission before reading the body: a refused caller sends nothing into the store.
    project = await run_in_threadpool(store.ensure_project, user, entity, project_name)
    async with received(request, sha, f"the bytes of {path!r}") as (tmp, size):
        await run_in_threadpool(_store_file, store, files, project, run_id, user, path, sha, size, tmp)
    return JSONResponse({"path": path, "sha256": sha, "size": size})


def _store_file(
    store: ServerStore,
    files: FileStore,
    project: Project,
    run_id: str,
    user: User,
    path: str,
    sha: str,
    size: int,
    tmp: str,
) -> None:
    key = blob_key(sha)
    if not files.exists(key):
        files.put(key, tmp)  # the blob first, then the row: a row never names bytes that are not there
    try:
        with store.engine.begin() as conn:
            lock_blob(conn, sha)
            if not files.exists(key):  # a deleted run's last reference took it meanwhile (`release_blobs`)
                files.put(key, tmp)
            _ensure_run(conn, project, run_id, user)
            _record(conn, project, run_id, path, sha, size)
    except RunDeleted:
        release_blobs(store.engine, files, [sha])  # bytes of a refused upload: unless another row holds them
        raise


def _readable(request: Request) -> tuple[ServerStore, Project | None, str]:
    store, user = _caller(request)
    entity, project_name, run_id = _ids(request)
    store.require(user, entity, project_name, "read")
    return store, store.project(entity, project_name), run_id


def list_files(request: Request) -> Response:
    store, project, run_id = _readable(request)
    if project is None:
        return JSONResponse({"files": []})
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(run_files)
            .where(run_files.c.project_id == project.id, run_files.c.run_id == run_id)
            .order_by(run_files.c.path)
        ).all()
    return JSONResponse(
        {
            "files": [
                {
                    "name": r.path,
                    "size": int(r.size),
                    "sha256": r.sha256,
                    "updated_at": float(r.updated_at if r.updated_at is not None else r.created_at),
                }
                for r in rows
            ]
        }
    )


def get_file(request: Request) -> Response:
    store, project, run_id = _readable(request)
    path = check_path(request.path_params["path"])
    files = _files(request)
    row = None
    if project is not None:
        with store.engine.connect() as conn:
            row = conn.execute(
                select(run_files.c.sha256, run_files.c.size).where(
                    run_files.c.project_id == project.id,
                    run_files.c.run_id == run_id,
                    run_files.c.path == path,
                )
            ).first()
    if row is None:
        raise NotFound(f"run {run_id!r} has no file {path!r} on this server: run.files() lists what it has")
    try:
        body = files.get(blob_key(row.sha256))
    except FileNotFoundError:
        raise NotFound(
            f"the bytes of {path!r} (sha256 {row.sha256}) are missing from the file store {files.where}"
        ) from None
    headers = {"content-length": str(int(row.size)), "x-runhive-sha256": row.sha256}
    return StreamingResponse(body, media_type="application/octet-stream", headers=headers)


def delete_run_files(conn: Connection, project_id: int, run_id: str) -> None:
    """The rows of a run's files (before its run row goes); the blobs stay, others may share them."""
    conn.execute(run_files.delete().where(run_files.c.project_id == project_id, run_files.c.run_id == run_id))


def files_routes() -> list[BaseRoute]:
    base = "/api/v1/files/{entity}/{project}/{run_id}"
    return [
        Route(base, list_files, methods=["GET"]),
        Route(base, check_files, methods=["POST"]),
        Route(base + "/{path:path}", get_file, methods=["GET"]),
        Route(base + "/{path:path}", put_file, methods=["PUT"]),
    ]


__all__ = ["delete_run_files", "files_routes"]
