"""Deleting runs and artifact versions on the team server (W&B's `Api().run(path).delete()` and
`Artifact.delete()`, through `ServerBackend`).

The run's rows go in one transaction: its `runs` row and the rows of every table that refers to it (history chunks
and objects, per-run key summaries, ingest marks, the file manifest, and whatever table later refers to `runs`), found
from the schema's foreign keys so a new per-run table is not forgotten. `sweep_runs` stays: it is the sweep
controller's record of the parameters it handed out, not the run's data.

The same transaction leaves a tombstone in `deleted_runs`: a daemon still uploading the run (samples, files, a
resend after a restart) is refused with 410 RUN_DELETED by ingest instead of creating the run again.

File bytes in the content-addressed file store are shared by sha256 (another run, an artifact), so they go after the
transaction commits, each only when no row of any table still references it (`_filestore.release_blobs`, under
the blob's lock). After, not inside: the references must be counted once this run's rows are gone, and holding
the delete's transaction open across file-store calls would block every writer on SQLite. A crash between the two
leaves unreferenced bytes behind (a leak), never a row without its bytes.

An artifact version goes the same way: its files, aliases and lineage rows and the version row in one transaction
(under its collection's lock, so an upload numbering a new version waits), then the bytes no row names any more.
Its number is not given again (the collection's counter stays). A version with aliases is refused unless
`delete_aliases`, as in W&B; `run.delete(delete_artifacts=True)` deletes the versions the run created (their
`logged_by`), aliases and all, in the run's transaction.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Table, delete, or_, select

from ._errors import InvalidArgument, NotFound
from ._filestore import FileStore, release_blobs
from ._schema import metadata, runs
from ._schema_artifacts import (
    artifact_aliases,
    artifact_collections,
    artifact_files,
    artifact_runs,
    artifact_versions,
)
from ._schema_system import deleted_runs
from ._store import ServerStore, User


def _run_tables() -> list[Table]:
    """The tables whose rows belong to one run: those with a foreign key to `runs`, children first."""
    found = [
        t
        for t in metadata.sorted_tables
        if t is not runs and any(fk.column.table is runs for fk in t.foreign_keys)
    ]
    return list(reversed(found))


def delete_run(
    store: ServerStore,
    user: User,
    entity: str,
    project: str,
    run_id: str,
    files: FileStore | None = None,
    delete_artifacts: bool = False,
) -> None:
    """Delete `entity/project/run_id` and its rows, and (with `files`, the server's file store) the blobs only it
    referenced; the caller needs write permission on the project. A running run is refused (its writers would
    bring it back), an unknown one is NotFound. With `delete_artifacts`, the artifact versions it created too."""
    store.require(user, entity, project, "write")
    found = store.project(entity, project)
    key = f"{entity}/{project}/{run_id}"
    if found is None:
        raise NotFound(f"run '{key}' does not exist on this server")
    with store.engine.begin() as conn:
        created: list[Any] = []
        if delete_artifacts:
            # Collections first, then the run row: the order an upload of a version takes them (no deadlock).
            created = list(
                conn.execute(
                    select(artifact_versions.c.name, artifact_versions.c.version).where(
                        artifact_versions.c.project_id == found.id, artifact_versions.c.logged_by == run_id
                    )
                ).all()
            )
            for name in sorted({n for n, _v in created}):
                _lock_collection(conn, found.id, name)
        state = _state(conn, found.id, run_id)
        if state is None:
            raise NotFound(f"run '{key}' does not exist on this server")
        if state == "running":
            raise InvalidArgument(
                f"run '{key}' is still running: finish it (run.finish()) or wait until it ends, then delete it"
            )
        digests = _remove_versions(conn, found.id, [(n, int(v)) for n, v in created])
        for table in _run_tables():
            where = (table.c.project_id == found.id, table.c.run_id == run_id)
            if "sha256" in table.c:
                digests.update(conn.execute(select(table.c.sha256).where(*where).distinct()).scalars())
            conn.execute(delete(table).where(*where))
        conn.execute(delete(runs).where(runs.c.project_id == found.id, runs.c.run_id == run_id))
        conn.execute(
            deleted_runs.insert().values(
                project_id=found.id, run_id=run_id, deleted_at=time.time(), deleted_by=user.id
            )
        )
    if files is not None and digests:
        release_blobs(store.engine, files, digests)


def delete_artifact(
    store: ServerStore,
    user: User,
    entity: str,
    project: str,
    name: str,
    version: int,
    delete_aliases: bool = False,
    files: FileStore | None = None,
) -> None:
    """Delete the version `entity/project/name:v<version>` (write permission on the project): refused while it has
    aliases unless `delete_aliases`; NotFound when there is no such version."""
    store.require(user, entity, project, "write")
    found = store.project(entity, project)
    qualified = f"{entity}/{project}/{name}:v{version}"
    if found is None:
        raise NotFound(f"artifact '{qualified}' does not exist on this server")
    with store.engine.begin() as conn:
        _lock_collection(conn, found.id, name)
        held = conn.execute(
            select(artifact_versions.c.version).where(
                *_version_key(artifact_versions, found.id, name, version)
            )
        ).first()
        if held is None:
            raise NotFound(f"artifact '{qualified}' does not exist on this server")
        aliases = sorted(
            conn.execute(
                select(artifact_aliases.c.alias).where(
                    *_version_key(artifact_aliases, found.id, name, version)
                )
            ).scalars()
        )
        if aliases and not delete_aliases:
            raise InvalidArgument(
                f"artifact '{qualified}' has aliases ({', '.join(aliases)}): pass delete_aliases=True to delete it "
                "with them"
            )
        digests = _remove_versions(conn, found.id, [(name, version)])
    if files is not None and digests:
        release_blobs(store.engine, files, digests)


def _version_key(table: Table, project_id: int, name: str, version: int) -> tuple[Any, ...]:
    if table is artifact_runs:
        return (table.c.art_project_id == project_id, table.c.name == name, table.c.version == version)
    return (table.c.project_id == project_id, table.c.name == name, table.c.version == version)


def _lock_collection(conn: Connection, project_id: int, name: str) -> None:
    query = select(artifact_collections.c.next_version).where(
        artifact_collections.c.project_id == project_id, artifact_collections.c.name == name
    )
    if conn.dialect.name == "postgresql":  # SQLite: the transaction's BEGIN IMMEDIATE serialises writers
        query = query.with_for_update()
    conn.execute(query)


def _remove_versions(conn: Connection, project_id: int, keys: list[tuple[str, int]]) -> set[str]:
    """Delete the rows of these versions and of the links to them (files, aliases, lineage, then the version);
    the sha256s they named."""
    digests: set[str] = set()
    links = (
        conn.execute(
            select(
                artifact_versions.c.project_id, artifact_versions.c.name, artifact_versions.c.version
            ).where(
                or_(
                    *(
                        (artifact_versions.c.source_project_id == project_id)
                        & (artifact_versions.c.source_name == name)
                        & (artifact_versions.c.source_version == version)
                        for name, version in keys
                    )
                )
            )
        ).all()
        if keys
        else []
    )
    for link_project, link_name, link_version in links:  # W&B: deleting a source deletes its links
        digests |= _remove_versions(conn, int(link_project), [(str(link_name), int(link_version))])
    for name, version in keys:
        files_of = _version_key(artifact_files, project_id, name, version)
        digests.update(
            d
            for d in conn.execute(select(artifact_files.c.sha256).where(*files_of).distinct()).scalars()
            if d
        )
        for table in (artifact_files, artifact_aliases, artifact_runs, artifact_versions):
            conn.execute(delete(table).where(*_version_key(table, project_id, name, version)))
    return digests


def _state(conn: Connection, project_id: int, run_id: str) -> str | None:
    query = select(runs.c.state).where(runs.c.project_id == project_id, runs.c.run_id == run_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # an ingest of the same run waits for the delete to commit
    row = conn.execute(query).first()
    return None if row is None else str(row[0])


__all__ = ["delete_artifact", "delete_run"]
