"""Artifact links on the team server: W&B's `run.link_artifact`, `run.link_model` (`<entity>/model-registry/<name>`),
`Artifact.link` and registries (`<entity>/wandb-registry-<registry>/<name>`), as the node's store keeps them
(`runhive.sdk.artifacts._models`): a link is a version of the target collection that names its source version and
carries its files (rows naming the same sha256 objects; no bytes are copied).

    POST /api/v1/artifacts/links/{entity}/{project}
         {"name": collection, "aliases": [...], "source": {"entity", "project", "name", "version": "vN" | "digest"}}
         → {"artifact": "E/P/name:vN", "version": "vN", "created": bool, "aliases": [...]}

Read permission on the source's project, write permission on the target's (created private when new, as for
logged versions). Under the target collection's lock: a version of it that already links that source, or holds
the same contents, is the link (its aliases moved); otherwise the next number. Linking a link links its source.
A daemon's uploader sends the links its runs made after their sources (`daemon._upload_files`); `ServerBackend`
sends those made through `Api()`. Deleting a source deletes its links (`_delete`); deleting a link only unlinks.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, or_, select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._artifacts import (
    NoSuchVersion,
    _body,
    _check_name,
    _check_objects_held,
    _collection_lock,
    _move_aliases,
    _path_ids,
    _version_number,
    _version_rows,
    version_answer,
)
from ._errors import InvalidArgument, NotFound
from ._files import _files
from ._ingest import _caller
from ._schema_artifacts import artifact_collections, artifact_files, artifact_versions


async def link_version(request: Request) -> Response:
    doc = await _body(request)
    return await run_in_threadpool(_link, request, doc)


def _source_spec(value: Any) -> tuple[str, str, str, int | None, str | None]:
    if not isinstance(value, dict):
        raise InvalidArgument(
            '"source" must be {"entity", "project", "name", and "version": "vN" or "digest"}'
        )
    entity, project = value.get("entity"), value.get("project")
    if not (isinstance(entity, str) and entity and isinstance(project, str) and project):
        raise InvalidArgument('"source" needs its "entity" and "project"')
    name = _check_name(value.get("name"), "source artifact name")
    if value.get("version") is not None:
        return entity, project, name, _version_number(value.get("version")), None
    digest = value.get("digest")
    if not isinstance(digest, str) or len(digest) != 64:
        raise InvalidArgument('"source" needs a "version" ("vN") or the "digest" of its manifest')
    return entity, project, name, None, digest


def _link(request: Request, doc: dict[str, Any]) -> Response:
    store, user = _caller(request)
    files_store = _files(request)
    name = _check_name(doc.get("name"), "collection name")
    raw_aliases = doc.get("aliases") or []
    if not isinstance(raw_aliases, list):
        raise InvalidArgument('"aliases" must be a list of strings')
    aliases = [_check_name(a, "alias") for a in raw_aliases if a != "latest"]
    src_entity, src_project_name, src_name, src_version, src_digest = _source_spec(doc.get("source"))
    store.require(user, src_entity, src_project_name, "read")
    src_project = store.project(src_entity, src_project_name)
    what = f"{src_entity}/{src_project_name}/{src_name}:" + (
        f"v{src_version}" if src_digest is None else "<digest>"
    )
    if src_project is None:
        raise NoSuchVersion(f"artifact '{what}' does not exist on this server")
    target = store.ensure_project(user, *_path_ids(request))
    with store.engine.begin() as conn:
        source = _find_source(conn, src_project.id, src_name, src_version, src_digest)
        if source is None:
            raise NoSuchVersion(f"artifact '{what}' does not exist on this server")
        following = _collection_lock(conn, target.id, name)
        existing = conn.execute(
            select(artifact_versions.c.version).where(
                artifact_versions.c.project_id == target.id,
                artifact_versions.c.name == name,
                or_(
                    artifact_versions.c.digest == source.digest,
                    (artifact_versions.c.source_project_id == source.project_id)
                    & (artifact_versions.c.source_name == source.name)
                    & (artifact_versions.c.source_version == source.version),
                ),
            )
        ).first()
        created = existing is None
        version = following if existing is None else int(existing[0])
        if existing is None:
            files = [
                {
                    "project_id": target.id,
                    "name": name,
                    "version": version,
                    "path": f.path,
                    "sha256": f.sha256,
                    "size": f.size,
                    "ref": f.ref,
                    "extra": f.extra,
                }
                for f in conn.execute(
                    select(artifact_files).where(
                        artifact_files.c.project_id == source.project_id,
                        artifact_files.c.name == source.name,
                        artifact_files.c.version == source.version,
                    )
                )
            ]
            _check_objects_held(
                conn, files_store, name, [{"sha256": f["sha256"], "ref": f["ref"]} for f in files]
            )
            conn.execute(
                artifact_versions.insert().values(
                    project_id=target.id,
                    name=name,
                    version=version,
                    type=source.type,
                    description=source.description,
                    metadata=source.metadata,
                    tags=source.tags,
                    digest=source.digest,
                    logged_by=None,
                    created_by=user.id,
                    created_at=time.time(),
                    source_project_id=source.project_id,
                    source_name=source.name,
                    source_version=source.version,
                )
            )
            if files:
                conn.execute(artifact_files.insert(), files)
            conn.execute(
                update(artifact_collections)
                .where(artifact_collections.c.project_id == target.id, artifact_collections.c.name == name)
                .values(next_version=version + 1)
            )
        _move_aliases(conn, target.id, name, version, aliases)
        return version_answer(conn, target, name, version, created)


def _find_source(
    conn: Connection, project_id: int, name: str, version: int | None, digest: str | None
) -> Any | None:
    """The version to link: by number or by digest; a link's own source when it is one (W&B links the source)."""
    where = [artifact_versions.c.project_id == project_id, artifact_versions.c.name == name]
    where.append(
        artifact_versions.c.version == version if digest is None else artifact_versions.c.digest == digest
    )
    row = conn.execute(select(artifact_versions).where(*where)).first()
    if row is not None and row.source_project_id is not None:
        rows = _version_rows(conn, [(row.source_project_id, row.source_name, row.source_version)])
        if not rows:
            raise NotFound("the link's source version is gone")
        row = rows[0]
    return row


def link_routes() -> list[BaseRoute]:
    return [Route("/api/v1/artifacts/links/{entity}/{project}", link_version, methods=["POST"])]


__all__ = ["link_routes"]
