"""Artifacts on the team server: what the daemons' uploaders send (`runhive_service.daemon._upload_files`) and what
`Api().artifact(...)`, `run.logged_artifacts()`, `used_artifacts()`, `used_by()` and `download()` read back
(`runhive.apis.backends._server`). Tables: `_schema_artifacts`.

Write (write permission on the project, as run files; the project is created private when new):
    POST /api/v1/artifacts/objects/{entity}/{project}            {"sha256": [hex, ...]}  → {"missing": [hex]}
    PUT  /api/v1/artifacts/objects/{entity}/{project}/{sha256}   the object's bytes      → {"sha256", "size"}
    POST /api/v1/artifacts/versions/{entity}/{project}           a manifest (below)      → {"artifact", "version",
                                                                                            "created", "aliases"}
    POST /api/v1/artifacts/uses/{entity}/{project}/{run_id}      {"artifact": "E/P/name", "digest": hex}
                                                                 → {"artifact": "E/P/name:vN"}   (read on E/P)
Read (read permission; a request without entity and project covers the projects the caller may read):
    GET /api/v1/artifacts?entity=&project=&name=                 → {"artifacts": [version]}
    GET /api/v1/artifacts/run?entity=&project=&run_id=&kind=logged|used  → {"artifacts": [version]}
    GET /api/v1/artifacts/users?entity=&project=&name=&version=vN        → {"runs": [run]}
    GET /api/v1/artifacts/file?entity=&project=&name=&version=vN&path=   → the bytes (x-runhive-sha256)
Delete (write permission; `_delete`):
    POST /api/v1/artifacts/delete {"entity", "project", "name", "version": "vN", "delete_aliases": bool}
                                                                 → {"deleted": "E/P/name:vN"}

A manifest is {"name", "type", "description", "metadata", "tags", "created_at", "files": [{"path", "size",
"sha256", "ref"?, "etag"?}], "aliases": [...], "logged_by": run id (the run that created it on its node),
"run_id": the run logging it now (recorded as 'logged')}. The server computes the digest itself (the node store's
`manifest_digest`), refuses a manifest naming an object the file store lacks (409 MISSING_OBJECTS: objects go up
first), and, under a lock on the collection's row, finds the version with that digest or adds the next number, then
moves the aliases given to it (last writer wins; "latest" is never stored: it is the highest number). So a replay
creates nothing, and replicas on one database never give one number twice. Objects are content-addressed in the
file store (`_filestore.blob_key`), shared with run files: an object already there is not asked for again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ._errors import InvalidArgument, NotFound, ServerError
from ._files import _files, check_digest, check_path, received
from ._filestore import FileStore, blob_key, lock_blob
from ._ingest import _caller
from ._read import readable, run_doc, scope
from ._schema import entities, projects, runs
from ._schema_artifacts import (
    USES,
    artifact_aliases,
    artifact_collections,
    artifact_files,
    artifact_runs,
    artifact_versions,
)
from ._store import Project, ServerStore, User, insert_ignore

NAME_MAX = 128
MAX_OBJECTS = 1000  # digests per "which do you lack" request
MAX_FILES = 100_000  # files per version


class MissingObjects(ServerError):
    status = 409
    code = "MISSING_OBJECTS"


class NoSuchVersion(NotFound):
    code = "NO_SUCH_VERSION"


def _check_name(value: Any, what: str) -> str:
    text = value if isinstance(value, str) else ""
    if (
        not text
        or len(text) > NAME_MAX
        or text.startswith(".")
        or any(c in text for c in "/\\:")
        or any(ord(c) < 32 for c in text)
    ):
        raise InvalidArgument(
            f"{what} {value!r} is not valid: 1 to {NAME_MAX} characters, no '/', '\\' or ':', no leading '.', "
            "no control characters"
        )
    return text


def _version_number(value: Any) -> int:
    text = str(value or "")
    if not (text.startswith("v") and text[1:].isdigit()):
        raise InvalidArgument(f"version {value!r} is not valid: v0, v1, ...")
    return int(text[1:])


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value a manifest may hold")


async def _body(request: Request) -> dict[str, Any]:
    try:
        # NaN and Infinity: PostgreSQL's JSONB cannot hold them (the node's store refuses them too).
        doc = json.loads(await request.body() or b"{}", parse_constant=_no_constant)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise InvalidArgument(
            "the body must be a JSON object (see the route's description in the server's docs)"
        )
    return doc


def _path_ids(request: Request) -> tuple[str, str]:
    return request.path_params["entity"], request.path_params["project"]


# -- objects --------------------------------------------------------------------------------------------------


async def check_objects(request: Request) -> Response:
    doc = await _body(request)
    return await run_in_threadpool(_check_objects, request, doc)


def _check_objects(request: Request, doc: dict[str, Any]) -> Response:
    store, user = _caller(request)
    files = _files(request)
    wanted = doc.get("sha256")
    if not isinstance(wanted, list) or len(wanted) > MAX_OBJECTS:
        raise InvalidArgument(
            f'the body is {{"sha256": [hex digest, ...]}} with at most {MAX_OBJECTS} digests'
        )
    digests = [check_digest(d) for d in wanted]
    store.ensure_project(user, *_path_ids(request))
    return JSONResponse({"missing": [d for d in dict.fromkeys(digests) if not files.exists(blob_key(d))]})


async def put_object(request: Request) -> Response:
    store, user = await run_in_threadpool(_caller, request)
    files = _files(request)
    sha = check_digest(request.path_params["sha256"])
    # Permission before reading the body: a refused caller sends nothing into the store.
    await run_in_threadpool(store.ensure_project, user, *_path_ids(request))
    async with received(request, sha, "the object's bytes") as (tmp, size):
        key = blob_key(sha)
        if not await run_in_threadpool(files.exists, key):
            await run_in_threadpool(files.put, key, tmp)
    return JSONResponse({"sha256": sha, "size": size})


# -- versions -------------------------------------------------------------------------------------------------


def _check_files(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_FILES:
        raise InvalidArgument(
            f'"files" must be a list of at most {MAX_FILES} entries {{"path", "size", "sha256", "ref"?}}'
        )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for f in value:
        if not isinstance(f, dict):
            raise InvalidArgument(f"file entry {f!r} is not an object with path, size and sha256")
        path = check_path(str(f.get("path") or ""))
        if path in seen:
            raise InvalidArgument(f"file {path!r} is listed twice in the manifest")
        seen.add(path)
        ref = f.get("ref")
        if ref is not None and not isinstance(ref, str):
            raise InvalidArgument(f"file {path!r}: ref {ref!r} must be a URI string")
        sha = f.get("sha256")
        if sha is not None or not ref:
            check_digest(sha)
        try:
            size = int(f.get("size") or 0)
        except (TypeError, ValueError):
            raise InvalidArgument(f"file {path!r}: size {f.get('size')!r} is not an integer") from None
        out.append({**f, "path": path, "size": size, "sha256": sha or None})
    return out


def _collection_lock(conn: Connection, project_id: int, name: str) -> int:
    """The collection's next version number, its row locked until the transaction ends (created when new)."""
    insert_ignore(
        conn,
        artifact_collections,
        {"project_id": project_id, "name": name, "next_version": 0, "created_at": time.time()},
    )
    query = select(artifact_collections.c.next_version).where(
        artifact_collections.c.project_id == project_id, artifact_collections.c.name == name
    )
    if conn.dialect.name == "postgresql":
        query = (
            query.with_for_update()
        )  # SQLite: the transaction's BEGIN IMMEDIATE already serialises writers
    return int(conn.execute(query).scalar_one())


def _run_exists(conn: Connection, project_id: int, run_id: str) -> bool:
    found = conn.execute(
        select(runs.c.run_id).where(runs.c.project_id == project_id, runs.c.run_id == run_id)
    ).first()
    return found is not None


def _move_aliases(conn: Connection, project_id: int, name: str, version: int, aliases: Iterable[str]) -> None:
    now = time.time()
    for alias in aliases:
        key = (
            artifact_aliases.c.project_id == project_id,
            artifact_aliases.c.name == name,
            artifact_aliases.c.alias == alias,
        )
        moved = conn.execute(update(artifact_aliases).where(*key).values(version=version, updated_at=now))
        if not moved.rowcount:
            insert_ignore(
                conn,
                artifact_aliases,
                {
                    "project_id": project_id,
                    "name": name,
                    "alias": alias,
                    "version": version,
                    "updated_at": now,
                },
            )


def _record_run(
    conn: Connection, run_project: int, run_id: str, kind: str, art: tuple[int, str, int]
) -> None:
    values = {"project_id": run_project, "run_id": run_id, "kind": kind, "created_at": time.time()}
    values.update(art_project_id=art[0], name=art[1], version=art[2])
    insert_ignore(conn, artifact_runs, values)


async def add_version(request: Request) -> Response:
    doc = await _body(request)
    try:
        return await run_in_threadpool(_add_version, request, doc)
    except DataError as exc:  # what the database refuses to hold (a NUL in a JSON string on PostgreSQL, ...)
        raise InvalidArgument(f"the manifest cannot be stored: {exc.orig}") from None


def _add_version(request: Request, doc: dict[str, Any]) -> Response:
    from runhive.protocol.artifact_store import manifest_digest

    store, user = _caller(request)
    files_store = _files(request)
    name = _check_name(doc.get("name"), "artifact name")
    type_ = _check_name(doc.get("type") or "unspecified", "artifact type")
    files = _check_files(doc.get("files"))
    aliases = [_check_name(a, "alias") for a in doc.get("aliases") or [] if a != "latest"]
    metadata, tags = doc.get("metadata") or {}, doc.get("tags") or []
    if not isinstance(metadata, dict) or not isinstance(tags, list):
        raise InvalidArgument('"metadata" must be a JSON object and "tags" a list of strings')
    description = doc.get("description")
    run_id, logged_by = str(doc.get("run_id") or ""), str(doc.get("logged_by") or "")
    try:
        created_at = float(doc.get("created_at") or time.time())
    except (TypeError, ValueError):
        raise InvalidArgument(
            f'"created_at" {doc.get("created_at")!r} is not a time in epoch seconds'
        ) from None
    project = store.ensure_project(user, *_path_ids(request))
    digest = manifest_digest(files)
    with store.engine.begin() as conn:
        if run_id and not _run_exists(conn, project.id, run_id):
            raise NotFound(f"run '{project.entity}/{project.name}/{run_id}' does not exist on this server")
        following = _collection_lock(conn, project.id, name)
        found = conn.execute(
            select(artifact_versions.c.version).where(
                artifact_versions.c.project_id == project.id,
                artifact_versions.c.name == name,
                artifact_versions.c.digest == digest,
            )
        ).scalar_one_or_none()
        created = found is None
        if found is None:
            _check_objects_held(conn, files_store, name, files)
            version = following
            creator = next((r for r in (logged_by, run_id) if r and _run_exists(conn, project.id, r)), None)
            conn.execute(
                artifact_versions.insert().values(
                    project_id=project.id,
                    name=name,
                    version=version,
                    type=type_,
                    description=description if isinstance(description, str) else None,
                    metadata=metadata,
                    tags=[str(t) for t in tags],
                    digest=digest,
                    logged_by=creator,
                    created_by=user.id,
                    created_at=created_at,
                )
            )
            if files:
                conn.execute(
                    artifact_files.insert(),
                    [
                        {
                            "project_id": project.id,
                            "name": name,
                            "version": version,
                            "path": f["path"],
                            "sha256": f["sha256"],
                            "size": f["size"],
                            "ref": f.get("ref"),
                            "extra": {
                                k: v for k, v in f.items() if k not in ("path", "size", "sha256", "ref")
                            }
                            or None,
                        }
                        for f in files
                    ],
                )
            conn.execute(
                update(artifact_collections)
                .where(artifact_collections.c.project_id == project.id, artifact_collections.c.name == name)
                .values(next_version=version + 1)
            )
        else:
            version = int(found)
        _move_aliases(conn, project.id, name, version, aliases)
        if run_id:
            _record_run(conn, project.id, run_id, "logged", (project.id, name, version))
        return version_answer(conn, project, name, version, created)


def version_answer(conn: Connection, project: Project, name: str, version: int, created: bool) -> Response:
    """What adding (or linking) a version answers: its name, number, whether it is new, and its aliases now."""
    doc = _docs(conn, {project.id: project}, _version_rows(conn, [(project.id, name, version)]))[0]
    return JSONResponse(
        {
            "artifact": f"{project.entity}/{project.name}/{name}:v{version}",
            "version": f"v{version}",
            "created": created,
            "aliases": doc["aliases"],
        }
    )


def _check_objects_held(conn: Connection, files: FileStore, name: str, entries: list[dict[str, Any]]) -> None:
    """Every object the new version's rows will name is in the file store, checked under the blobs' locks
    (`_filestore.lock_blob`): a run deleted meanwhile cannot take bytes these rows then name. After the collection's
    lock; nothing takes them the other way round."""
    objects = sorted({str(f["sha256"]) for f in entries if f.get("sha256") and not f.get("ref")})
    for sha in objects:
        lock_blob(conn, sha)
    missing = [sha for sha in objects if not files.exists(blob_key(sha))]
    if missing:
        raise MissingObjects(
            f"the file store lacks {len(missing)} object(s) of artifact {name!r} (e.g. {missing[0]}): send the "
            "objects first (POST/PUT /api/v1/artifacts/objects/...), then the manifest"
        )


def _split_artifact(value: Any) -> tuple[str, str, str]:
    parts = str(value or "").split("/")
    if len(parts) != 3 or not all(parts):
        raise InvalidArgument(f'"artifact" {value!r} must name entity/project/name')
    return parts[0], parts[1], _check_name(parts[2], "artifact name")


async def use_version(request: Request) -> Response:
    doc = await _body(request)
    return await run_in_threadpool(_use_version, request, doc)


def _use_version(request: Request, doc: dict[str, Any]) -> Response:
    store, user = _caller(request)
    entity, project_name = _path_ids(request)
    run_id = request.path_params["run_id"]
    art_entity, art_project, name = _split_artifact(doc.get("artifact"))
    digest = check_digest(doc.get("digest"))
    store.require(user, entity, project_name, "write")
    store.require(user, art_entity, art_project, "read")
    run_project, found = store.project(entity, project_name), store.project(art_entity, art_project)
    with store.engine.begin() as conn:
        if run_project is None or not _run_exists(conn, run_project.id, run_id):
            raise NotFound(f"run '{entity}/{project_name}/{run_id}' does not exist on this server")
        version = None
        if found is not None:
            version = conn.execute(
                select(artifact_versions.c.version).where(
                    artifact_versions.c.project_id == found.id,
                    artifact_versions.c.name == name,
                    artifact_versions.c.digest == digest,
                )
            ).scalar_one_or_none()
        if found is None or version is None:
            raise NoSuchVersion(
                f"no version of artifact '{art_entity}/{art_project}/{name}' with digest {digest} on this server: "
                "send the version first (POST /api/v1/artifacts/versions/...)"
            )
        _record_run(conn, run_project.id, run_id, "used", (found.id, name, int(version)))
    return JSONResponse({"artifact": f"{art_entity}/{art_project}/{name}:v{int(version)}"})


# -- reading --------------------------------------------------------------------------------------------------


def _version_rows(conn: Connection, keys: list[tuple[int, str, int]]) -> list[Any]:
    if not keys:
        return []
    where = or_(
        *(
            and_(
                artifact_versions.c.project_id == p,
                artifact_versions.c.name == n,
                artifact_versions.c.version == v,
            )
            for p, n, v in dict.fromkeys(keys)
        )
    )
    return list(conn.execute(select(artifact_versions).where(where)))


def _docs(conn: Connection, by_id: dict[int, Project], rows: list[Any]) -> list[dict[str, Any]]:
    """The versions of `rows` as the client's ArtifactRecord fields, oldest first."""
    collections = sorted({(r.project_id, r.name) for r in rows})
    files: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
    aliases: dict[tuple[int, str, int], list[str]] = {}
    newest: dict[tuple[int, str], int] = {}
    wanted = {(r.project_id, r.name, r.version) for r in rows}
    for pid, name in collections:
        in_coll = (artifact_versions.c.project_id == pid, artifact_versions.c.name == name)
        newest[(pid, name)] = int(
            conn.execute(select(func.max(artifact_versions.c.version)).where(*in_coll)).scalar() or 0
        )
        for f in conn.execute(
            select(artifact_files)
            .where(artifact_files.c.project_id == pid, artifact_files.c.name == name)
            .order_by(artifact_files.c.version, artifact_files.c.path)
        ):
            key = (pid, name, f.version)
            if key in wanted:
                entry: dict[str, Any] = {"path": f.path, "size": int(f.size), "sha256": f.sha256}
                if f.ref:
                    entry["ref"] = f.ref
                entry.update(f.extra or {})
                files.setdefault(key, []).append(entry)
        for a in conn.execute(
            select(artifact_aliases)
            .where(artifact_aliases.c.project_id == pid, artifact_aliases.c.name == name)
            .order_by(artifact_aliases.c.updated_at, artifact_aliases.c.alias)
        ):
            aliases.setdefault((pid, name, a.version), []).append(a.alias)
    sources = _project_paths(conn, {r.source_project_id for r in rows if r.source_project_id is not None})
    out = []
    for r in sorted(rows, key=lambda r: (float(r.created_at), by_id[r.project_id].entity, r.name, r.version)):
        key = (r.project_id, r.name, r.version)
        project = by_id[r.project_id]
        out.append(
            {
                "entity": project.entity,
                "project": project.name,
                "name": r.name,
                "version": f"v{r.version}",
                "type": r.type,
                "aliases": [*aliases.get(key, []), *(["latest"] if newest[key[:2]] == r.version else [])],
                "tags": list(r.tags or []),
                "description": r.description,
                "metadata": dict(r.metadata or {}),
                "files": files.get(key, []),
                "run_id": r.logged_by or "",
                "created_at": float(r.created_at),
                # a link: the version it points at (W&B's source_*), else ""
                "source": (
                    f"{sources.get(r.source_project_id, '?/?')}/{r.source_name}:v{r.source_version}"
                    if r.source_project_id is not None
                    else ""
                ),
            }
        )
    return out


def _project_paths(conn: Connection, ids: set[int]) -> dict[int, str]:
    """entity/project of the projects `ids` (a link's source may live in a project the caller did not list)."""
    if not ids:
        return {}
    query = (
        select(projects.c.id, entities.c.name, projects.c.name)
        .join(entities, entities.c.id == projects.c.entity_id)
        .where(projects.c.id.in_(ids))
    )
    return {int(pid): f"{ent}/{name}" for pid, ent, name in conn.execute(query)}


def _arg(request: Request, name: str, required: bool = False) -> str | None:
    value = request.query_params.get(name) or None
    if value is None and required:
        raise InvalidArgument(f"the parameter {name!r} is missing")
    return value


def list_versions(request: Request) -> Response:
    store, user = _caller(request)
    entity, project, name = _arg(request, "entity"), _arg(request, "project"), _arg(request, "name")
    found = scope(store, user, entity, project)
    by_id = {p.id: p for p in found}
    if not by_id:
        return JSONResponse({"artifacts": []})
    query = select(artifact_versions).where(artifact_versions.c.project_id.in_(list(by_id)))
    if name is not None:
        query = query.where(artifact_versions.c.name == name)
    with store.engine.connect() as conn:
        return JSONResponse({"artifacts": _docs(conn, by_id, list(conn.execute(query)))})


def _run_project(store: ServerStore, user: User, request: Request) -> tuple[Project | None, str]:
    entity, project = _arg(request, "entity", True), _arg(request, "project", True)
    run_id = _arg(request, "run_id", True)
    assert entity is not None and project is not None and run_id is not None
    store.require(user, entity, project, "read")
    return store.project(entity, project), run_id


def run_versions(request: Request) -> Response:
    """The versions a run logged or used, those in projects the caller may read."""
    store, user = _caller(request)
    kind = _arg(request, "kind") or "logged"
    if kind not in USES:
        raise InvalidArgument(f"the parameter 'kind' is {kind!r}: one of {', '.join(USES)}")
    project, run_id = _run_project(store, user, request)
    if project is None:
        return JSONResponse({"artifacts": []})
    with store.engine.connect() as conn:
        keys = [
            (r.art_project_id, r.name, r.version)
            for r in conn.execute(
                select(artifact_runs).where(
                    artifact_runs.c.project_id == project.id,
                    artifact_runs.c.run_id == run_id,
                    artifact_runs.c.kind == kind,
                )
            )
        ]
        by_id = {p.id: p for p in readable(conn, user) if p.id in {k[0] for k in keys}}
        rows = _version_rows(conn, [k for k in keys if k[0] in by_id])
        return JSONResponse({"artifacts": _docs(conn, by_id, rows)})


def _one_version(store: ServerStore, user: User, request: Request) -> tuple[Project, str, int]:
    entity, project_name = _arg(request, "entity", True), _arg(request, "project", True)
    name, version = _arg(request, "name", True), _version_number(_arg(request, "version", True))
    assert entity is not None and project_name is not None and name is not None
    store.require(user, entity, project_name, "read")
    project = store.project(entity, project_name)
    if project is not None:
        with store.engine.connect() as conn:
            if _version_rows(conn, [(project.id, name, version)]):
                return project, name, version
    raise NotFound(f"artifact '{entity}/{project_name}/{name}:v{version}' does not exist on this server")


def version_users(request: Request) -> Response:
    """The runs that used a version, those in projects the caller may read, oldest first."""
    store, user = _caller(request)
    project, name, version = _one_version(store, user, request)
    with store.engine.connect() as conn:
        uses = conn.execute(
            select(artifact_runs.c.project_id, artifact_runs.c.run_id).where(
                artifact_runs.c.art_project_id == project.id,
                artifact_runs.c.name == name,
                artifact_runs.c.version == version,
                artifact_runs.c.kind == "used",
            )
        ).all()
        by_id = {p.id: p for p in readable(conn, user) if p.id in {u.project_id for u in uses}}
        found = [u for u in uses if u.project_id in by_id]
        rows = (
            conn.execute(
                select(runs)
                .where(
                    or_(*(and_(runs.c.project_id == u.project_id, runs.c.run_id == u.run_id) for u in found))
                )
                .order_by(runs.c.created_at, runs.c.run_id)
            ).all()
            if found
            else []
        )
    return JSONResponse({"runs": [run_doc(r, by_id[r.project_id]) for r in rows]})


def get_file(request: Request) -> Response:
    store, user = _caller(request)
    project, name, version = _one_version(store, user, request)
    path = check_path(_arg(request, "path", True) or "")
    files = _files(request)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(artifact_files.c.sha256, artifact_files.c.size, artifact_files.c.ref).where(
                artifact_files.c.project_id == project.id,
                artifact_files.c.name == name,
                artifact_files.c.version == version,
                artifact_files.c.path == path,
            )
        ).first()
    where = f"{project.entity}/{project.name}/{name}:v{version}"
    if row is None:
        raise NotFound(f"artifact {where} has no file {path!r}")
    if row.ref or not row.sha256:
        raise InvalidArgument(
            f"{path!r} of artifact {where} is a reference to {row.ref!r}: fetch it from there"
        )
    try:
        body = files.get(blob_key(row.sha256))
    except FileNotFoundError:
        raise NotFound(
            f"the bytes of {path!r} of artifact {where} (sha256 {row.sha256}) are missing from the file store "
            f"{files.where}"
        ) from None
    headers = {"content-length": str(int(row.size)), "x-runhive-sha256": row.sha256}
    return StreamingResponse(body, media_type="application/octet-stream", headers=headers)


async def delete_version(request: Request) -> Response:
    """W&B's `Artifact.delete(delete_aliases=)` of a version on this server."""
    doc = await _body(request)
    entity, project = doc.get("entity"), doc.get("project")
    if not (isinstance(entity, str) and entity and isinstance(project, str) and project):
        raise InvalidArgument("entity and project must be non-empty strings")
    name, version = _check_name(doc.get("name"), "name"), _version_number(doc.get("version"))
    from ._delete import delete_artifact

    store, user = _caller(request)
    files = getattr(request.app.state, "files", None)
    await run_in_threadpool(
        delete_artifact, store, user, entity, project, name, version, bool(doc.get("delete_aliases")), files
    )
    return JSONResponse({"deleted": f"{entity}/{project}/{name}:v{version}"})


def artifact_routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/artifacts", list_versions, methods=["GET"]),
        Route("/api/v1/artifacts/run", run_versions, methods=["GET"]),
        Route("/api/v1/artifacts/users", version_users, methods=["GET"]),
        Route("/api/v1/artifacts/file", get_file, methods=["GET"]),
        Route("/api/v1/artifacts/delete", delete_version, methods=["POST"]),
        Route("/api/v1/artifacts/objects/{entity}/{project}", check_objects, methods=["POST"]),
        Route("/api/v1/artifacts/objects/{entity}/{project}/{sha256}", put_object, methods=["PUT"]),
        Route("/api/v1/artifacts/versions/{entity}/{project}", add_version, methods=["POST"]),
        Route("/api/v1/artifacts/uses/{entity}/{project}/{run_id}", use_version, methods=["POST"]),
    ]


__all__ = ["artifact_routes"]
