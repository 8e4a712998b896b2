"""Deleting a run on the team server (W&B's `Api().run(path).delete()` through `ServerBackend`).

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
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Table, delete, select

from ._errors import InvalidArgument, NotFound
from ._filestore import FileStore, release_blobs
from ._schema import metadata, runs
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
    store: ServerStore, user: User, entity: str, project: str, run_id: str, files: FileStore | None = None
) -> None:
    """Delete `entity/project/run_id` and its rows, and (with `files`, the server's file store) the blobs only it
    referenced; the caller needs write permission on the project. A running run is refused (its writers would
    bring it back), an unknown one is NotFound."""
    store.require(user, entity, project, "write")
    found = store.project(entity, project)
    key = f"{entity}/{project}/{run_id}"
    if found is None:
        raise NotFound(f"run '{key}' does not exist on this server")
    with store.engine.begin() as conn:
        state = _state(conn, found.id, run_id)
        if state is None:
            raise NotFound(f"run '{key}' does not exist on this server")
        if state == "running":
            raise InvalidArgument(
                f"run '{key}' is still running: finish it (run.finish()) or wait until it ends, then delete it"
            )
        digests: set[str] = set()
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


def _state(conn: Connection, project_id: int, run_id: str) -> str | None:
    query = select(runs.c.state).where(runs.c.project_id == project_id, runs.c.run_id == run_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # an ingest of the same run waits for the delete to commit
    row = conn.execute(query).first()
    return None if row is None else str(row[0])


__all__ = ["delete_run"]
