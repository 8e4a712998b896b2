"""Schema migrations (Alembic, configured in code: no alembic.ini), run when a server or an admin command opens
the database.

Several servers may start at once on a fresh database, so the upgrade runs under a lock that every process of
every host agrees on: a PostgreSQL session advisory lock, or on SQLite an exclusive `flock` on a file beside the
database. The first holder upgrades; the others wait, then find the schema at head and do nothing.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, func, select

from ._errors import SchemaError

log = logging.getLogger("runhive.server")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_lock's key for schema upgrades: "runhive" in ASCII, as one bigint.
ADVISORY_LOCK_KEY = int.from_bytes(b"runhive", "big")


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for runhive's migrations; `connection` is the one env.py migrates on."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _check_known(conn: Connection, script: ScriptDirectory) -> None:
    rev = current_revision(conn)
    if rev is None:
        return
    try:
        script.get_revision(rev)
    except CommandError:
        raise SchemaError(
            f"the database's schema is at revision {rev!r}, which this runhive does not know (its newest is "
            f"{script.get_current_head()!r}): a newer runhive migrated it; upgrade runhive on this host"
        ) from None


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    assert database, "database_url() refuses in-memory SQLite"
    return Path(database).expanduser().resolve()


def migrate(engine: Engine) -> str:
    """Upgrade the database to this runhive's newest schema (creating it on a fresh database); returns the
    revision. Safe to call from any number of processes at once."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.execute(select(func.pg_try_advisory_lock(ADVISORY_LOCK_KEY))).scalar_one():
                log.info("waiting for another process's schema migration (PostgreSQL advisory lock)")
                conn.execute(select(func.pg_advisory_lock(ADVISORY_LOCK_KEY)))
            conn.commit()
            try:
                return _upgrade(conn)
            finally:
                conn.rollback()
                conn.execute(select(func.pg_advisory_unlock(ADVISORY_LOCK_KEY)))
                conn.commit()
    path = _sqlite_path(engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path.with_name(path.name + ".migrate-lock")):
        raw = engine.raw_connection()
        try:
            # Persistent for the file; it cannot change inside a transaction, hence the raw connection.
            raw.cursor().execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()
        with engine.connect() as conn:
            return _upgrade(conn)


def _upgrade(conn: Connection) -> str:
    cfg = alembic_config(conn)
    script = ScriptDirectory.from_config(cfg)
    _check_known(conn, script)
    command.upgrade(cfg, "head")
    conn.commit()
    rev = current_revision(conn)
    conn.rollback()
    assert rev is not None
    return rev


def check_schema(engine: Engine) -> str:
    """The database's revision, when it is this runhive's newest; a SchemaError saying what to run otherwise."""
    head = head_revision()
    with engine.connect() as conn:
        rev = current_revision(conn)
    if rev != head:
        raise SchemaError(
            f"the database's schema is at revision {rev!r} and this runhive needs {head!r}: start `runhive server` "
            "without --no-migrate (or run `runhive server db upgrade --db URL`) to migrate it"
        )
    return rev


def revision(engine: Engine, message: str, rev_id: str) -> None:
    """Write a new revision from the difference between `engine`'s database (at head) and `_schema`: a tool for
    developers (review what autogenerate wrote before committing it)."""
    with engine.connect() as conn:
        cfg = alembic_config(conn)
        cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
